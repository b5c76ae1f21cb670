/* The JSON writer (json.h). Strings: quote, backslash and control bytes
 * escaped; valid UTF-8 kept as is; any other byte (invalid or truncated
 * UTF-8, from a hostile label) becomes U+FFFD, so the output always parses. */
#include "json.h"

#include <math.h>
#include <string.h>

void json_init(struct json *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
    j->first[0] = true;
}

/* The length of a valid UTF-8 sequence at s (of at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    if (c >= 0xf5 || len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || /* overlong, surrogates */
        (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))   /* overlong, > U+10FFFF */
        return 0;
    return len;
}

static void put_string(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    for (size_t i = 0; i < n && s[i];) {
        unsigned c = s[i];
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
        } else if (c >= 0x80) {
            size_t len = utf8_len(s + i, strnlen(str + i, n - i));
            if (len) {
                fwrite(s + i, 1, len, f);
                i += len;
                continue;
            }
            fputs("\\ufffd", f);
        } else {
            fputc((int)c, f);
        }
        i++;
    }
    fputc('"', f);
}

/* The comma before a member, and its key. */
static void member(struct json *j, const char *key)
{
    if (!j->first[j->depth])
        fputc(',', j->f);
    j->first[j->depth] = false;
    if (key) {
        put_string(j->f, key, strlen(key));
        fputc(':', j->f);
    }
}

void json_open(struct json *j, const char *key, char bracket)
{
    member(j, key);
    fputc(bracket, j->f);
    if (j->depth + 1 < sizeof(j->first) / sizeof(j->first[0]))
        j->depth++;
    j->first[j->depth] = true;
}

void json_close(struct json *j, char bracket)
{
    fputc(bracket, j->f);
    if (j->depth)
        j->depth--;
}

void json_strn(struct json *j, const char *key, const char *s, size_t n)
{
    member(j, key);
    put_string(j->f, s, n);
}

void json_str(struct json *j, const char *key, const char *s) { json_strn(j, key, s, s ? strlen(s) : 0); }

void json_u64(struct json *j, const char *key, uint64_t v)
{
    member(j, key);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
    member(j, key);
    fprintf(j->f, "%lld", (long long)v);
}

void json_f64(struct json *j, const char *key, double v)
{
    member(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.6g", v);
    else
        fputs("null", j->f);
}

void json_bool(struct json *j, const char *key, bool v)
{
    member(j, key);
    fputs(v ? "true" : "false", j->f);
}

void json_end(struct json *j)
{
    fputc('\n', j->f);
    fflush(j->f);
    json_init(j, j->f);
}

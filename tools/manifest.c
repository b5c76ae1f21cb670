/* Store manifests (manifest.h): read through the safetensors header reader,
 * written with the command's JSON writer. */
#include "manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define KEY_STORE "zipc.store"
#define KEY_VERSION "zipc.version"
#define KEY_XXH3 "xxh3:"

__attribute__((format(printf, 3, 4))) static int bad(char *why, size_t why_len, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return -EBADMSG;
}

/* Exactly 16 hex digits. */
static bool parse_hex64(const char *s, size_t len, uint64_t *out)
{
    if (len != 16)
        return false;
    uint64_t v = 0;
    for (size_t k = 0; k < len; k++) {
        char c = s[k];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (unsigned)((c | 0x20) - 'a' + 10)
                                                               : 16u;
        if (d == 16)
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* A plain decimal integer below 2^64, 1 .. 20 digits, no leading zero. */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
        return false;
    uint64_t v = 0;
    for (size_t k = 0; k < len; k++) {
        if (s[k] < '0' || s[k] > '9')
            return false;
        unsigned d = (unsigned)(s[k] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* One metadata pair: the store's name, its version, or a tensor's checksum. */
static int take_pair(struct zt_manifest *m, const struct zipc__st_meta *kv, bool *seen, char *why, size_t why_len)
{
    const struct zipc__st_file *f = &m->file;
    size_t pre = strlen(KEY_XXH3);
    if (!strcmp(kv->key, KEY_STORE)) {
        m->store = kv->value;
        m->store_len = kv->value_len;
        return 0;
    }
    if (!strcmp(kv->key, KEY_VERSION))
        return parse_u64(kv->value, kv->value_len, &m->version)
                   ? 0
                   : bad(why, why_len, "manifest: \"" KEY_VERSION "\" is not a decimal integer");
    char q[ZIPC__ST_QUOTE_LEN];
    if (kv->key_len <= pre || memcmp(kv->key, KEY_XXH3, pre))
        return bad(why, why_len, "manifest: unknown key %s in __metadata__", zipc__st_quote(q, kv->key, kv->key_len));
    const struct zipc__st_tensor *t = zipc__st_find(f, kv->key + pre, kv->key_len - pre);
    if (!t)
        return bad(why, why_len, "manifest: a checksum for tensor %s, which has no entry",
                   zipc__st_quote(q, kv->key + pre, kv->key_len - pre));
    size_t k = (size_t)(t - f->tensors);
    if (!parse_hex64(kv->value, kv->value_len, &m->xxh3[k]))
        return bad(why, why_len, "manifest: the checksum of tensor %s is not 16 hex digits",
                   zipc__st_quote(q, t->name, t->name_len));
    seen[k] = true; /* once at most: the reader refuses a key twice */
    return 0;
}

int zt_manifest_parse(const uint8_t *json, size_t len, struct zt_manifest *m, char *why, size_t why_len)
{
    memset(m, 0, sizeof(*m));
    int err = zipc__st_parse_header(json, len, &m->file, why, why_len);
    if (err)
        return err;
    size_t n = m->file.ntensors;
    bool *seen = calloc(n ? n : 1, sizeof(*seen));
    m->xxh3 = calloc(n ? n : 1, sizeof(*m->xxh3));
    bool have_version = false;
    if (!seen || !m->xxh3) {
        bad(why, why_len, "out of memory");
        err = -ENOMEM;
    }
    for (size_t k = 0; !err && k < m->file.nmeta; k++) {
        err = take_pair(m, &m->file.meta[k], seen, why, why_len);
        have_version |= !strcmp(m->file.meta[k].key, KEY_VERSION);
    }
    if (!err && !m->store)
        err = bad(why, why_len, "manifest: no \"" KEY_STORE "\" in __metadata__");
    if (!err && !have_version)
        err = bad(why, why_len, "manifest: no \"" KEY_VERSION "\" in __metadata__");
    char q[ZIPC__ST_QUOTE_LEN];
    for (size_t k = 0; !err && k < n; k++)
        if (!seen[k])
            err = bad(why, why_len, "manifest: tensor %s has no checksum (no key \"" KEY_XXH3 "\" + its name)",
                      zipc__st_quote(q, m->file.tensors[k].name, m->file.tensors[k].name_len));
    free(seen);
    if (err)
        zt_manifest_free(m);
    return err;
}

void zt_manifest_free(struct zt_manifest *m)
{
    zipc__st_free(&m->file);
    free(m->xxh3);
    memset(m, 0, sizeof(*m));
}

void zt_manifest_write(FILE *f, const zipc_store *s, const char *name)
{
    struct json j;
    char buf[32];
    int n = zipc_store_count(s);
    json_init(&j, f);
    json_open(&j, NULL, '{');
    json_open(&j, "__metadata__", '{');
    json_str(&j, KEY_STORE, name);
    snprintf(buf, sizeof(buf), "%" PRIu64, zipc_store_version(s));
    json_str(&j, KEY_VERSION, buf);
    struct zipc_store_info t;
    for (int i = 0; i < n && !zipc_store_tensor_at(s, (size_t)i, &t); i++) {
        char *key = malloc(strlen(KEY_XXH3) + t.name_len + 1);
        if (!key)
            continue; /* the check then says the checksum is missing */
        memcpy(key, KEY_XXH3, strlen(KEY_XXH3));
        memcpy(key + strlen(KEY_XXH3), t.name, t.name_len + 1);
        snprintf(buf, sizeof(buf), "%016" PRIx64, t.xxh3);
        json_str(&j, key, buf);
        free(key);
    }
    json_close(&j, '}');
    uint64_t at = 0;
    for (int i = 0; i < n && !zipc_store_tensor_at(s, (size_t)i, &t); i++) {
        json_open(&j, t.name, '{');
        json_str(&j, "dtype", zipc_store_dtype_name(t.dtype));
        json_open(&j, "shape", '[');
        for (uint32_t d = 0; d < t.ndim; d++)
            json_i64(&j, NULL, t.shape[d]);
        json_close(&j, ']');
        json_open(&j, "data_offsets", '[');
        json_u64(&j, NULL, at);
        json_u64(&j, NULL, at += t.size);
        json_close(&j, ']');
        json_close(&j, '}');
    }
    json_close(&j, '}');
    json_end(&j);
}

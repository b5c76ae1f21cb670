/* A strict reader of safetensors files (src/safetensors.h is the API).
 *
 * Why no JSON library. The header is JSON, and Debian has json-c, jansson
 * and cJSON; none is used, for these reasons:
 *   - duplicate keys must be refused at every level: json-c keeps the last
 *     one and cJSON keeps both without a word; only jansson can refuse them;
 *   - libzipc depends on libc alone, and setup.py and the Rust build.rs
 *     compile every src/ file themselves: a library would be one more thing every
 *     wheel, crate and fresh machine must find (headers, pkg-config, linking);
 *   - a DOM of a 100 MiB header costs several times its size in small
 *     allocations, only to be walked once into a table;
 *   - the schema is tiny and fixed (an object of objects of a string and two
 *     integer arrays, plus one object of strings), so reading it directly is
 *     a few hundred lines without recursion. A value that the schema does not
 *     allow is refused at its first byte, so nesting bombs cannot exist, and
 *     numbers are read as exact integers (no double on the way, no "1e3",
 *     "-0", "01" or "2.0" slipping through as a number that happens to fit).
 * The reader is fuzzed in-tree (tests/fuzz/fuzz_safetensors.c).
 *
 * Rules, each refused with -EBADMSG and a message "<rule>: <detail>":
 *   truncated        file shorter than 8 bytes, or N > file length - 8
 *                    (N > ZIPC__ST_MAX_HEADER is -EFBIG, "header too long")
 *   header start     the header's first byte is not '{'
 *   json             anything outside RFC 8259 where the schema is met: a
 *                    missing ',', ':', '}' or ']', an unterminated string, a
 *                    raw control character or an unknown escape in a string,
 *                    a trailing comma, the header ending inside the object
 *   utf-8            a string's bytes are not well-formed UTF-8 (overlong
 *                    forms, surrogates, beyond U+10FFFF, cut sequences), or
 *                    a \u escape is a lone surrogate
 *   trailing bytes   after the object, anything but spaces (0x20)
 *   name             a tensor name or metadata key holding U+0000
 *   duplicate tensor two tensors of one name
 *   duplicate key    a key twice in a tensor entry or in __metadata__, or two
 *                    __metadata__ objects
 *   entry            a tensor's value is not an object
 *   unknown key      a tensor entry key other than dtype, shape, data_offsets
 *   missing key      one of those three is absent
 *   dtype            not a string, or not a dtype name of the format
 *   number           not a plain non-negative decimal integer (a sign, a
 *                    leading zero, a fraction or exponent, beyond 2^64 - 1)
 *   shape            not an array, more than ZIPC__ST_MAX_NDIM dimensions, a
 *                    dimension beyond INT64_MAX
 *   element count    the product of the non-zero dimensions beyond INT64_MAX,
 *                    or its size in bits beyond 2^64 - 1
 *   sub-byte         a packed dtype (F4, F6_*) whose elements do not fill a
 *                    whole number of bytes
 *   data_offsets     not [begin, end], or begin > end
 *   beyond buffer    end > the data buffer's length
 *   size             end - begin differs from the tensor's byte size
 *   overlap / hole   sorted by (begin, end), the ranges must follow each other
 *                    from 0 to the buffer's end: a range starting before the
 *                    previous end overlaps it, one starting after leaves a
 *                    hole, and so do bytes after the last range
 *   metadata         __metadata__ is not an object, or a value not a string
 * -ENOMEM when an allocation fails ("out of memory").
 *
 * Memory: one block of N + 1 bytes holds every decoded string (a decoded
 * string and its terminator never take more bytes than its JSON form and
 * quotes), plus the tensor and metadata tables (grown by doubling) and the
 * name index.
 */
#include "safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zipc/tensor.h" /* enum zipc_dtype_code */

static const struct zipc__st_dtype_info dtypes[ZIPC_STORE_NDTYPES] = {
    [ZIPC_STORE_BOOL] = {"BOOL", 8, ZIPC_DTYPE_BOOL},
    [ZIPC_STORE_U8] = {"U8", 8, ZIPC_DTYPE_UINT},
    [ZIPC_STORE_I8] = {"I8", 8, ZIPC_DTYPE_INT},
    [ZIPC_STORE_U16] = {"U16", 16, ZIPC_DTYPE_UINT},
    [ZIPC_STORE_I16] = {"I16", 16, ZIPC_DTYPE_INT},
    [ZIPC_STORE_U32] = {"U32", 32, ZIPC_DTYPE_UINT},
    [ZIPC_STORE_I32] = {"I32", 32, ZIPC_DTYPE_INT},
    [ZIPC_STORE_U64] = {"U64", 64, ZIPC_DTYPE_UINT},
    [ZIPC_STORE_I64] = {"I64", 64, ZIPC_DTYPE_INT},
    [ZIPC_STORE_F16] = {"F16", 16, ZIPC_DTYPE_FLOAT},
    [ZIPC_STORE_BF16] = {"BF16", 16, ZIPC_DTYPE_BFLOAT},
    [ZIPC_STORE_F32] = {"F32", 32, ZIPC_DTYPE_FLOAT},
    [ZIPC_STORE_F64] = {"F64", 64, ZIPC_DTYPE_FLOAT},
    [ZIPC_STORE_C64] = {"C64", 64, ZIPC_DTYPE_COMPLEX},
    [ZIPC_STORE_F8_E4M3] = {"F8_E4M3", 8, ZIPC__ST_NO_DLCODE},
    [ZIPC_STORE_F8_E5M2] = {"F8_E5M2", 8, ZIPC__ST_NO_DLCODE},
    [ZIPC_STORE_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8, ZIPC__ST_NO_DLCODE},
    [ZIPC_STORE_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8, ZIPC__ST_NO_DLCODE},
    [ZIPC_STORE_F8_E8M0] = {"F8_E8M0", 8, ZIPC__ST_NO_DLCODE},
    [ZIPC_STORE_F6_E2M3] = {"F6_E2M3", 6, ZIPC__ST_NO_DLCODE},
    [ZIPC_STORE_F6_E3M2] = {"F6_E3M2", 6, ZIPC__ST_NO_DLCODE},
    [ZIPC_STORE_F4] = {"F4", 4, ZIPC__ST_NO_DLCODE},
};

const struct zipc__st_dtype_info *zipc__st_dtype_info(enum zipc_store_dtype d)
{
    return (unsigned)d < ZIPC_STORE_NDTYPES ? &dtypes[d] : NULL;
}

/* ---- the reader's state and its messages ------------------------------- */

struct st_str {
    const char *s; /* in the string block, NUL-terminated */
    size_t len;
    bool has_nul;  /* a \u0000 escape: refused in names and keys */
};

struct st_reader {
    const uint8_t *p; /* the header */
    size_t n;         /* its length */
    size_t i;         /* the next byte to read */
    char *strings;    /* n + 1 bytes */
    size_t used;      /* of strings */
    size_t cap_tensors, cap_meta;
    struct zipc__st_file *out;
    bool header_only; /* zipc__st_parse_header: no data buffer, the ranges end where they end */
    char *why;
    size_t why_len;
};

__attribute__((format(printf, 2, 3))) static int fail(struct st_reader *r, const char *fmt, ...)
{
    if (r->why && r->why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->why, r->why_len, fmt, ap);
        va_end(ap);
    }
    return -EBADMSG;
}

/* A name for a message: quoted, printable ASCII only (other bytes as \xNN),
 * cut after QUOTE_MAX bytes of the name. */
#define QUOTE_MAX ZIPC__ST_QUOTE_MAX
#define QUOTE_LEN ZIPC__ST_QUOTE_LEN
const char *zipc__st_quote(char q[ZIPC__ST_QUOTE_LEN], const char *s, size_t len)
{
    size_t o = 0;
    q[o++] = '\'';
    for (size_t k = 0; k < len && k < QUOTE_MAX; k++) {
        unsigned char b = (unsigned char)s[k];
        if (b >= 0x20 && b < 0x7f && b != '\\' && b != '\'')
            q[o++] = (char)b;
        else
            o += (size_t)snprintf(q + o, QUOTE_LEN - o, "\\x%02x", b);
    }
    q[o++] = '\'';
    if (len > QUOTE_MAX) {
        memcpy(q + o, "...", 3);
        o += 3;
    }
    q[o] = '\0';
    return q;
}

#define quote zipc__st_quote

static int peek(const struct st_reader *r) { return r->i < r->n ? r->p[r->i] : -1; }

static void skip_ws(struct st_reader *r)
{
    while (r->i < r->n && (r->p[r->i] == ' ' || r->p[r->i] == '\t' || r->p[r->i] == '\n' ||
                           r->p[r->i] == '\r'))
        r->i++;
}

/* After whitespace, the byte c, consumed; else a "json" failure naming what. */
static int expect(struct st_reader *r, char c, const char *what)
{
    skip_ws(r);
    if (peek(r) == (unsigned char)c) {
        r->i++;
        return 0;
    }
    if (peek(r) < 0)
        return fail(r, "json: the header ends (byte %zu) where %s was expected", r->i, what);
    return fail(r, "json: expected %s at header byte %zu, found 0x%02x", what, r->i, peek(r));
}

/* After whitespace: ',' (consumed, *more = true) or the closing byte
 * (consumed, *more = false). */
static int next_member(struct st_reader *r, char close, bool *more)
{
    skip_ws(r);
    if (peek(r) == ',') {
        r->i++;
        *more = true;
        return 0;
    }
    *more = false;
    return expect(r, close, close == '}' ? "',' or '}'" : "',' or ']'");
}

/* ---- strings ------------------------------------------------------------ */

/* The length of the well-formed UTF-8 sequence at s[0..n) (Unicode's table
 * 3-7: no overlong forms, no surrogates, nothing past U+10FFFF), 0 if none. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t b = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        lo = b == 0xe0 ? 0xa0 : 0x80; /* overlong below U+0800 */
        hi = b == 0xed ? 0x9f : 0xbf; /* U+D800..DFFF */
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        lo = b == 0xf0 ? 0x90 : 0x80; /* overlong below U+10000 */
        hi = b == 0xf4 ? 0x8f : 0xbf; /* beyond U+10FFFF */
    } else {
        return 0; /* a continuation byte, C0/C1 (overlong), F5..FF */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

bool zipc__utf8_valid(const uint8_t *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if ((k = utf8_seq(s + i, n - i)) == 0)
            return false;
    return true;
}

static size_t utf8_put(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | cp >> 18);
    d[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    d[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Four hex digits at r->i (after "\u"), consumed. */
static int hex4(struct st_reader *r, uint32_t *cp)
{
    if (r->n - r->i < 4)
        return fail(r, "json: a \\u escape is cut by the header's end (byte %zu)", r->i);
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t b = r->p[r->i + (size_t)k];
        unsigned d;
        if (b >= '0' && b <= '9')
            d = b - '0';
        else if ((b | 0x20) >= 'a' && (b | 0x20) <= 'f')
            d = (b | 0x20) - 'a' + 10u;
        else
            return fail(r, "json: bad hex digit in a \\u escape at header byte %zu", r->i + (size_t)k);
        v = v << 4 | d;
    }
    r->i += 4;
    *cp = v;
    return 0;
}

/* The escape at r->i (the byte after '\'), decoded to d; *len its bytes. */
static int unescape(struct st_reader *r, char *d, size_t *len, bool *nul)
{
    static const char simple[][2] = {{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', '\b'},
                                     {'f', '\f'}, {'n', '\n'},  {'r', '\r'}, {'t', '\t'}};
    int c = peek(r);
    for (size_t k = 0; k < sizeof simple / sizeof simple[0]; k++) {
        if (c == simple[k][0]) {
            r->i++;
            *d = simple[k][1];
            *len = 1;
            return 0;
        }
    }
    if (c != 'u') {
        if (c < 0)
            return fail(r, "json: the header ends inside a string escape (byte %zu)", r->i);
        return fail(r, "json: unknown escape '\\%c' at header byte %zu", c >= 0x20 && c < 0x7f ? c : '?',
                    r->i);
    }
    size_t at = r->i - 1;
    r->i++;
    uint32_t cp, lo;
    int e = hex4(r, &cp);
    if (e)
        return e;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(r, "utf-8: lone low surrogate \\u%04x at header byte %zu", (unsigned)cp, at);
    if (cp >= 0xd800 && cp <= 0xdbff) { /* must pair with a low surrogate */
        if (r->n - r->i < 2 || r->p[r->i] != '\\' || r->p[r->i + 1] != 'u')
            return fail(r, "utf-8: lone high surrogate \\u%04x at header byte %zu", (unsigned)cp, at);
        r->i += 2;
        if ((e = hex4(r, &lo)))
            return e;
        if (lo < 0xdc00 || lo > 0xdfff)
            return fail(r, "utf-8: high surrogate \\u%04x at header byte %zu not followed by a low one",
                        (unsigned)cp, at);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    *nul |= cp == 0;
    *len = utf8_put(d, cp);
    return 0;
}

/* The string at r->i (after whitespace), decoded into the string block:
 * it takes at most its JSON length minus one there (escapes only shrink,
 * the terminator takes a quote's place), so the block never overflows.
 * keep = false gives the bytes back after the caller looked at them. */
static int read_string(struct st_reader *r, struct st_str *s, const char *what)
{
    skip_ws(r);
    if (peek(r) != '"') {
        if (peek(r) < 0)
            return fail(r, "json: the header ends (byte %zu) where %s was expected", r->i, what);
        return fail(r, "json: expected %s (a string) at header byte %zu, found 0x%02x", what, r->i,
                    peek(r));
    }
    size_t start = r->i++;
    char *d = r->strings + r->used;
    size_t o = 0;
    *s = (struct st_str){0};
    for (;;) {
        if (r->i >= r->n)
            return fail(r, "json: the string at header byte %zu is not terminated", start);
        uint8_t b = r->p[r->i];
        if (b == '"') {
            r->i++;
            break;
        }
        if (b < 0x20)
            return fail(r, "json: raw control character 0x%02x in a string at header byte %zu", b, r->i);
        if (b == '\\') {
            size_t k = 0;
            r->i++;
            int e = unescape(r, d + o, &k, &s->has_nul);
            if (e)
                return e;
            o += k;
            continue;
        }
        size_t k = utf8_seq(r->p + r->i, r->n - r->i);
        if (!k)
            return fail(r, "utf-8: malformed sequence at header byte %zu (byte 0x%02x)", r->i, b);
        memcpy(d + o, r->p + r->i, k);
        o += k;
        r->i += k;
    }
    d[o] = '\0';
    s->s = d;
    s->len = o;
    r->used += o + 1;
    return 0;
}

static bool str_is(const struct st_str *s, const char *lit)
{
    return s->len == strlen(lit) && !memcmp(s->s, lit, s->len);
}

/* ---- numbers ------------------------------------------------------------ */

/* A plain non-negative decimal integer below 2^64 (what names it, for the
 * message: "dimension 2 of the shape of tensor 'w'"). */
static int read_uint(struct st_reader *r, uint64_t *v, const char *what, const char *tname)
{
    skip_ws(r);
    size_t at = r->i;
    int c = peek(r);
    if (c == '-')
        return fail(r, "number: %s of tensor %s is negative (header byte %zu)", what, tname, at);
    if (c < '0' || c > '9')
        return fail(r, "number: expected an integer for %s of tensor %s at header byte %zu", what,
                    tname, at);
    if (c == '0' && r->i + 1 < r->n && r->p[r->i + 1] >= '0' && r->p[r->i + 1] <= '9')
        return fail(r, "number: leading zero in %s of tensor %s (header byte %zu)", what, tname, at);
    uint64_t x = 0;
    while ((c = peek(r)) >= '0' && c <= '9') {
        unsigned d = (unsigned)(c - '0');
        if (x > (UINT64_MAX - d) / 10)
            return fail(r, "number: %s of tensor %s is beyond 2^64-1 (header byte %zu)", what, tname,
                        at);
        x = x * 10 + d;
        r->i++;
    }
    if (c == '.' || c == '+' || c == '-' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
        return fail(r, "number: %s of tensor %s is not a plain integer (header byte %zu)", what, tname,
                    at); /* 1.0, 1e3, 0x10 */
    *v = x;
    return 0;
}

/* ---- a tensor entry ------------------------------------------------------ */

enum { HAVE_DTYPE = 1, HAVE_SHAPE = 2, HAVE_OFFSETS = 4 };

static int read_dtype(struct st_reader *r, struct zipc__st_tensor *t, const char *tname)
{
    skip_ws(r);
    if (peek(r) != '"')
        return fail(r, "dtype: the dtype of tensor %s is not a string (header byte %zu)", tname, r->i);
    size_t mark = r->used;
    struct st_str s;
    int e = read_string(r, &s, "a dtype");
    if (e)
        return e;
    r->used = mark;
    for (unsigned d = 0; d < ZIPC_STORE_NDTYPES; d++) {
        if (str_is(&s, dtypes[d].name)) {
            t->dtype = (enum zipc_store_dtype)d;
            t->bits = dtypes[d].bits;
            return 0;
        }
    }
    char q[QUOTE_LEN];
    return fail(r, "dtype: tensor %s has unknown dtype %s", tname, quote(q, s.s, s.len));
}

static int read_shape(struct st_reader *r, struct zipc__st_tensor *t, const char *tname)
{
    skip_ws(r);
    if (peek(r) != '[')
        return fail(r, "shape: the shape of tensor %s is not an array (header byte %zu)", tname, r->i);
    r->i++;
    skip_ws(r);
    if (peek(r) == ']') {
        r->i++;
        return 0; /* a scalar */
    }
    for (bool more = true; more;) {
        if (t->ndim == ZIPC__ST_MAX_NDIM)
            return fail(r, "shape: tensor %s has more than %d dimensions", tname, ZIPC__ST_MAX_NDIM);
        char what[32];
        snprintf(what, sizeof what, "shape[%u]", t->ndim);
        uint64_t dim;
        int e = read_uint(r, &dim, what, tname);
        if (e)
            return e;
        if (dim > (uint64_t)INT64_MAX)
            return fail(r, "shape: %s of tensor %s is beyond int64", what, tname);
        t->shape[t->ndim++] = (int64_t)dim;
        if ((e = next_member(r, ']', &more)))
            return e;
    }
    return 0;
}

static int read_offsets(struct st_reader *r, uint64_t off[2], const char *tname)
{
    skip_ws(r);
    size_t at = r->i;
    if (peek(r) != '[')
        return fail(r, "data_offsets: those of tensor %s are not an array (header byte %zu)", tname, at);
    r->i++;
    int e = read_uint(r, &off[0], "data_offsets[0]", tname);
    if (e)
        return e;
    skip_ws(r);
    if (peek(r) != ',')
        return fail(r, "data_offsets: those of tensor %s are not [begin, end] (header byte %zu)", tname, at);
    r->i++;
    if ((e = read_uint(r, &off[1], "data_offsets[1]", tname)))
        return e;
    skip_ws(r);
    if (peek(r) != ']')
        return fail(r, "data_offsets: those of tensor %s are not [begin, end] (header byte %zu)", tname, at);
    r->i++;
    return 0;
}

/* The element count and byte size from the shape and the dtype. */
static int size_tensor(struct st_reader *r, struct zipc__st_tensor *t, const char *tname)
{
    uint64_t count = 1;
    bool empty = false;
    for (unsigned k = 0; k < t->ndim; k++) {
        uint64_t dim = (uint64_t)t->shape[k];
        if (!dim) {
            empty = true; /* still check the others: a shape is refused in any order */
            continue;
        }
        if (count > (uint64_t)INT64_MAX / dim)
            return fail(r, "element count: the shape of tensor %s has more than 2^63-1 elements",
                        tname);
        count *= dim;
    }
    if (empty)
        count = 0;
    if (count > UINT64_MAX / t->bits)
        return fail(r, "element count: tensor %s has %" PRIu64 " elements of %s, beyond 2^64-1 bits", tname,
                    count, dtypes[t->dtype].name);
    uint64_t bits = count * t->bits;
    if (bits % 8)
        return fail(r, "sub-byte: tensor %s has %" PRIu64 " elements of %s, not a whole number of bytes",
                    tname, count, dtypes[t->dtype].name);
    t->count = count;
    t->nbytes = bits / 8;
    return 0;
}

/* Check one entry's data range against its size and the buffer. */
static int place_tensor(struct st_reader *r, struct zipc__st_tensor *t, const uint64_t off[2],
                        const char *tname)
{
    const struct zipc__st_file *f = r->out;
    if (off[0] > off[1])
        return fail(r, "data_offsets: tensor %s begins at %" PRIu64 ", after its end %" PRIu64, tname,
                    off[0], off[1]);
    if (!r->header_only && off[1] > f->data_len)
        return fail(r, "beyond buffer: tensor %s ends at %" PRIu64 ", the data buffer has %" PRIu64
                       " bytes", tname, off[1], f->data_len);
    if (off[1] - off[0] != t->nbytes)
        return fail(r, "size: tensor %s has %" PRIu64 " bytes of data, its shape and dtype need %" PRIu64,
                    tname, off[1] - off[0], t->nbytes);
    t->offset = f->data_start + off[0];
    return 0;
}

static int nomem(struct st_reader *r)
{
    if (r->why && r->why_len)
        snprintf(r->why, r->why_len, "out of memory");
    return -ENOMEM;
}

/* Room in *arr (of *cap elements of size bytes) for element n. */
static int grow(struct st_reader *r, void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = c <= SIZE_MAX / size ? realloc(*arr, c * size) : NULL;
    if (!p)
        return nomem(r);
    *arr = p;
    *cap = c;
    return 0;
}

static int read_entry(struct st_reader *r, const struct st_str *name, size_t index)
{
    struct zipc__st_file *f = r->out;
    char tname[QUOTE_LEN];
    quote(tname, name->s, name->len);
    if (name->has_nul)
        return fail(r, "name: tensor name %s holds U+0000", tname);
    skip_ws(r);
    if (peek(r) != '{')
        return fail(r, "entry: the value of tensor %s is not an object (header byte %zu)", tname, r->i);
    r->i++;
    int e = grow(r, (void **)&f->tensors, &r->cap_tensors, f->ntensors, sizeof *f->tensors);
    if (e)
        return e;
    struct zipc__st_tensor *t = &f->tensors[f->ntensors];
    *t = (struct zipc__st_tensor){.name = name->s, .name_len = name->len, .header_index = index};
    uint64_t off[2] = {0, 0};
    unsigned have = 0;
    skip_ws(r);
    bool more = peek(r) != '}';
    if (!more)
        r->i++;
    while (more) {
        size_t mark = r->used;
        struct st_str key;
        if ((e = read_string(r, &key, "a key")) || (e = expect(r, ':', "':'")))
            return e;
        r->used = mark; /* keys are only compared */
        unsigned bit = str_is(&key, "dtype") ? HAVE_DTYPE
                       : str_is(&key, "shape") ? HAVE_SHAPE
                       : str_is(&key, "data_offsets") ? HAVE_OFFSETS
                                                      : 0;
        char q[QUOTE_LEN];
        if (!bit)
            return fail(r, "unknown key: tensor %s has key %s", tname, quote(q, key.s, key.len));
        if (have & bit)
            return fail(r, "duplicate key: tensor %s has key %s twice", tname, quote(q, key.s, key.len));
        have |= bit;
        e = bit == HAVE_DTYPE ? read_dtype(r, t, tname)
            : bit == HAVE_SHAPE ? read_shape(r, t, tname)
                                : read_offsets(r, off, tname);
        if (e || (e = next_member(r, '}', &more)))
            return e;
    }
    static const char *const names[] = {"dtype", "shape", "data_offsets"};
    for (unsigned k = 0; k < 3; k++)
        if (!(have & 1u << k))
            return fail(r, "missing key: tensor %s has no \"%s\"", tname, names[k]);
    if ((e = size_tensor(r, t, tname)) || (e = place_tensor(r, t, off, tname)))
        return e;
    f->ntensors++;
    return 0;
}

/* ---- duplicates ------------------------------------------------------------ */

struct st_ref {
    const char *s;
    size_t len;
    size_t index;
};

static int ref_cmp(const void *a, const void *b)
{
    const struct st_ref *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sort refs by name; the first of two equal names, or NULL. */
static const struct st_ref *sort_find_duplicate(struct st_ref *refs, size_t n)
{
    if (n > 1)
        qsort(refs, n, sizeof *refs, ref_cmp);
    for (size_t k = 1; k < n; k++)
        if (refs[k].len == refs[k - 1].len && !memcmp(refs[k].s, refs[k - 1].s, refs[k].len))
            return &refs[k];
    return NULL;
}

static int read_metadata(struct st_reader *r)
{
    struct zipc__st_file *f = r->out;
    if (f->has_metadata)
        return fail(r, "duplicate key: __metadata__ twice (header byte %zu)", r->i);
    f->has_metadata = true;
    skip_ws(r);
    if (peek(r) != '{')
        return fail(r, "metadata: __metadata__ is not an object (header byte %zu)", r->i);
    r->i++;
    skip_ws(r);
    bool more = peek(r) != '}';
    if (!more)
        r->i++;
    int e;
    char q[QUOTE_LEN];
    while (more) {
        struct st_str key, value;
        if ((e = read_string(r, &key, "a metadata key")) || (e = expect(r, ':', "':'")))
            return e;
        if (key.has_nul)
            return fail(r, "name: metadata key %s holds U+0000", quote(q, key.s, key.len));
        skip_ws(r);
        if (peek(r) != '"')
            return fail(r, "metadata: the value of key %s is not a string (header byte %zu)",
                        quote(q, key.s, key.len), r->i);
        if ((e = read_string(r, &value, "a metadata value")) ||
            (e = grow(r, (void **)&f->meta, &r->cap_meta, f->nmeta, sizeof *f->meta)))
            return e;
        f->meta[f->nmeta++] =
            (struct zipc__st_meta){.key = key.s, .key_len = key.len, .value = value.s, .value_len = value.len};
        if ((e = next_member(r, '}', &more)))
            return e;
    }
    if (f->nmeta < 2)
        return 0;
    struct st_ref *refs = malloc(f->nmeta * sizeof *refs);
    if (!refs)
        return nomem(r);
    for (size_t k = 0; k < f->nmeta; k++)
        refs[k] = (struct st_ref){f->meta[k].key, f->meta[k].key_len, k};
    const struct st_ref *dup = sort_find_duplicate(refs, f->nmeta);
    e = dup ? fail(r, "duplicate key: __metadata__ has key %s twice", quote(q, dup->s, dup->len)) : 0;
    free(refs);
    return e;
}

/* ---- the whole header ------------------------------------------------------ */

static int read_header(struct st_reader *r)
{
    if (peek(r) != '{')
        return r->n ? fail(r, "header start: the header must begin with '{', not 0x%02x", r->p[0])
                    : fail(r, "header start: the header is empty, it must hold at least {}");
    r->i++;
    skip_ws(r);
    bool more = peek(r) != '}';
    if (!more)
        r->i++;
    for (size_t index = 0; more; index++) {
        struct st_str key;
        int e = read_string(r, &key, "a tensor name");
        if (e || (e = expect(r, ':', "':'")))
            return e;
        e = str_is(&key, "__metadata__") ? read_metadata(r) : read_entry(r, &key, index);
        if (e || (e = next_member(r, '}', &more)))
            return e;
    }
    for (; r->i < r->n; r->i++)
        if (r->p[r->i] != ' ')
            return fail(r, "trailing bytes: 0x%02x at header byte %zu after the object (only spaces may pad it)",
                        r->p[r->i], r->i);
    return 0;
}

static int offset_cmp(const void *a, const void *b)
{
    const struct zipc__st_tensor *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes)
        return x->nbytes < y->nbytes ? -1 : 1;
    return x->header_index < y->header_index ? -1 : x->header_index > y->header_index;
}

/* Sort by offset, index by name (refusing duplicate names). */
static int index_tensors(struct st_reader *r)
{
    struct zipc__st_file *f = r->out;
    size_t n = f->ntensors;
    if (!n)
        return 0;
    qsort(f->tensors, n, sizeof *f->tensors, offset_cmp);
    struct st_ref *refs = malloc(n * sizeof *refs);
    f->by_name = malloc(n * sizeof *f->by_name);
    if (!refs || !f->by_name) {
        free(refs);
        return nomem(r);
    }
    for (size_t k = 0; k < n; k++)
        refs[k] = (struct st_ref){f->tensors[k].name, f->tensors[k].name_len, k};
    const struct st_ref *dup = sort_find_duplicate(refs, n);
    char q[QUOTE_LEN];
    int e = dup ? fail(r, "duplicate tensor: two tensors are named %s", quote(q, dup->s, dup->len)) : 0;
    for (size_t k = 0; k < n; k++)
        f->by_name[k] = refs[k].index;
    free(refs);
    return e;
}

/* Sorted by offset, the ranges follow each other from 0 to data_len. */
static int check_tiling(struct st_reader *r)
{
    const struct zipc__st_file *f = r->out;
    uint64_t pos = f->data_start; /* where the next range must begin */
    char q1[QUOTE_LEN], q2[QUOTE_LEN];
    for (size_t k = 0; k < f->ntensors; k++) {
        const struct zipc__st_tensor *t = &f->tensors[k], *prev = k ? t - 1 : NULL;
        uint64_t begin = t->offset - f->data_start;
        if (t->offset < pos)
            return fail(r, "overlap: tensor %s [%" PRIu64 ", %" PRIu64 ") starts inside tensor %s [%" PRIu64
                           ", %" PRIu64 ")",
                        quote(q1, t->name, t->name_len), begin, begin + t->nbytes,
                        quote(q2, prev->name, prev->name_len), prev->offset - f->data_start,
                        prev->offset - f->data_start + prev->nbytes);
        if (t->offset > pos)
            return fail(r, "hole: bytes [%" PRIu64 ", %" PRIu64 ") of the data buffer, before tensor %s, belong to no tensor",
                        pos - f->data_start, begin, quote(q1, t->name, t->name_len));
        pos = t->offset + t->nbytes;
    }
    if (r->header_only)
        r->out->data_len = pos - f->data_start; /* no buffer to match: the tiling defines it */
    if (pos - f->data_start != f->data_len)
        return fail(r, "hole: bytes [%" PRIu64 ", %" PRIu64 ") at the end of the data buffer belong to no tensor",
                    pos - f->data_start, f->data_len);
    return 0;
}

static int read_all(struct st_reader *r);

int zipc__st_parse(const uint8_t *file, size_t len, struct zipc__st_file *out, char *why,
                   size_t why_len)
{
    struct st_reader r = {.out = out, .why = why, .why_len = why_len};
    *out = (struct zipc__st_file){0};
    if (why && why_len)
        why[0] = '\0';
    if (len < 8)
        return fail(&r, "truncated: the file has %zu bytes, fewer than the 8 of the header length", len);
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--)
        n = n << 8 | file[k];
    if (n > ZIPC__ST_MAX_HEADER) {
        if (why && why_len)
            snprintf(why, why_len, "header too long: %" PRIu64 " bytes, more than the %" PRIu64 " allowed",
                     n, ZIPC__ST_MAX_HEADER);
        return -EFBIG;
    }
    if (n > len - 8)
        return fail(&r, "truncated: a header of %" PRIu64 " bytes, but only %zu follow the length", n,
                    len - 8);
    r.p = file + 8;
    r.n = (size_t)n;
    out->header_len = n;
    out->data_start = 8 + n;
    out->data_len = len - 8 - n;
    return read_all(&r);
}

int zipc__st_parse_header(const uint8_t *json, size_t len, struct zipc__st_file *out, char *why, size_t why_len)
{
    struct st_reader r = {.out = out, .why = why, .why_len = why_len, .header_only = true};
    *out = (struct zipc__st_file){0};
    if (why && why_len)
        why[0] = '\0';
    if (len > ZIPC__ST_MAX_HEADER) {
        if (why && why_len)
            snprintf(why, why_len, "header too long: %zu bytes, more than the %" PRIu64 " allowed", len,
                     ZIPC__ST_MAX_HEADER);
        return -EFBIG;
    }
    r.p = json;
    r.n = len;
    out->header_len = len;
    return read_all(&r);
}

/* The header at r->p[0..n) into r->out, whose data_start and data_len are set
 * (data_len is found by the tiling when header_only). */
static int read_all(struct st_reader *r)
{
    struct zipc__st_file *out = r->out;
    out->strings_ = malloc(r->n + 1);
    int e = out->strings_ ? 0 : nomem(r);
    r->strings = out->strings_;
    if (!e)
        e = read_header(r);
    if (!e)
        e = index_tensors(r);
    if (!e)
        e = check_tiling(r);
    if (e)
        zipc__st_free(out);
    return e;
}

const struct zipc__st_tensor *zipc__st_find(const struct zipc__st_file *f, const char *name,
                                            size_t len)
{
    size_t lo = 0, hi = f->ntensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct zipc__st_tensor *t = &f->tensors[f->by_name[mid]];
        struct st_ref a = {t->name, t->name_len, 0}, b = {name, len, 0};
        int c = ref_cmp(&a, &b);
        if (!c)
            return t;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void zipc__st_free(struct zipc__st_file *f)
{
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f->strings_);
    *f = (struct zipc__st_file){0};
}

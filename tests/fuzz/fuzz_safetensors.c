/* fuzz_safetensors: the tensor store's reader of safetensors files
 * (src/safetensors.h), whose input is a file anyone may have written.
 *
 * Input: byte 0  bit 0: 0 = the rest is the file as is;
 *                       1 = the rest is "<header>\0<data>": the file is
 *                       [u64 length of header][header][data], so that
 *                       mutations of the JSON keep a matching length
 *                bits 1-3: the size of the `why` buffer (NULL, 0, 1, 5,
 *                       16, 64, 128, ZIPC__ST_WHY_LEN)
 * Checked: no crash, no read outside the file (the file is a heap copy of
 * exactly its length, so ASan sees any), only the documented results; on
 * failure a terminated message within the buffer, starting with a known
 * rule; on success the table's promises, against independent checks:
 * the ranges tile the data buffer, sizes follow from shape and dtype, names
 * and metadata are well-formed UTF-8 without NUL, names are distinct and
 * each is found by name, and a second parse agrees.
 *
 * Seeds: write_seeds (ZIPC_FUZZ_WRITE_SEEDS) writes each file in both modes;
 * numpy_small.raw is tests/core/data/numpy_small.safetensors (upstream's
 * writer) behind a mode byte, added by hand.
 */
#include "fuzz_common.h"

#include <string.h>

#include "safetensors.h"

#define MAX_INPUT (1u << 20)

static const char *const rules[] = {
    "truncated", "header too long", "header start", "json", "utf-8", "trailing bytes", "name",
    "duplicate tensor", "duplicate key", "entry", "unknown key", "missing key", "dtype", "number",
    "shape", "element count", "sub-byte", "data_offsets", "beyond buffer", "size", "overlap", "hole",
    "metadata", "out of memory",
};

/* Well-formed UTF-8, decoded the long way (an oracle independent of the
 * reader's table-driven check). */
static bool utf8_ok(const char *str, size_t n)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    const uint8_t *s = (const uint8_t *)str;
    for (size_t i = 0; i < n;) {
        uint8_t b = s[i];
        size_t len = b < 0x80 ? 1 : b < 0xc0 ? 0 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf8 ? 4 : 0;
        if (!len || len > n - i)
            return false;
        uint32_t cp = len == 1 ? b : b & (0x7fu >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static bool bytes_less(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c < 0 || (c == 0 && an < bn);
}

static void check_text(const char *s, size_t len, bool nul_allowed)
{
    FZ_CHECK(s[len] == '\0');
    FZ_CHECK(nul_allowed || strlen(s) == len);
    FZ_CHECK(utf8_ok(s, len));
}

static void check_table(const struct zipc__st_file *st, size_t len)
{
    FZ_CHECK(st->header_len <= ZIPC__ST_MAX_HEADER);
    FZ_CHECK(st->data_start == 8 + st->header_len && st->data_start + st->data_len == len);
    uint64_t pos = st->data_start;
    for (size_t k = 0; k < st->ntensors; k++) {
        const struct zipc__st_tensor *t = &st->tensors[k];
        FZ_CHECK(t->offset == pos); /* no hole, no overlap, in order */
        FZ_CHECK(t->nbytes <= len - pos);
        pos += t->nbytes;
        FZ_CHECK((unsigned)t->dtype < ZIPC_STORE_NDTYPES && t->bits == zipc__st_dtype_info(t->dtype)->bits);
        FZ_CHECK(t->ndim <= ZIPC__ST_MAX_NDIM);
        uint64_t count = 1;
        bool zero = false;
        for (unsigned d = 0; d < ZIPC__ST_MAX_NDIM; d++) {
            FZ_CHECK(d < t->ndim ? t->shape[d] >= 0 : t->shape[d] == 0);
            if (d < t->ndim && t->shape[d] == 0)
                zero = true;
            else if (d < t->ndim)
                FZ_CHECK(!__builtin_mul_overflow(count, (uint64_t)t->shape[d], &count));
        }
        FZ_CHECK(count <= INT64_MAX && t->count == (zero ? 0 : count));
        FZ_CHECK((unsigned __int128)t->count * t->bits == (unsigned __int128)t->nbytes * 8);
        FZ_CHECK(t->header_index < st->ntensors + st->has_metadata);
        check_text(t->name, t->name_len, false);
        FZ_CHECK(zipc__st_find(st, t->name, t->name_len) == t);
        if (k)
            FZ_CHECK(t[-1].offset < t->offset || (t[-1].offset == t->offset && t[-1].nbytes == 0));
    }
    FZ_CHECK(pos == len);
    for (size_t k = 0; k < st->ntensors; k++) {
        FZ_CHECK(st->by_name[k] < st->ntensors);
        if (k) { /* strictly increasing: a permutation, names distinct */
            const struct zipc__st_tensor *a = &st->tensors[st->by_name[k - 1]], *b = &st->tensors[st->by_name[k]];
            FZ_CHECK(bytes_less(a->name, a->name_len, b->name, b->name_len));
        }
    }
    FZ_CHECK(st->has_metadata || st->nmeta == 0);
    for (size_t k = 0; k < st->nmeta; k++) {
        check_text(st->meta[k].key, st->meta[k].key_len, false);
        check_text(st->meta[k].value, st->meta[k].value_len, true);
        for (size_t j = 0; j < k && k < 256; j++)
            FZ_CHECK(st->meta[j].key_len != st->meta[k].key_len ||
                     memcmp(st->meta[j].key, st->meta[k].key, st->meta[k].key_len));
    }
}

static void check_why(const char *why, size_t why_len, const uint8_t *canary_end, int r)
{
    FZ_CHECK(r == -EBADMSG || r == -EFBIG || r == -ENOMEM);
    for (const uint8_t *p = (const uint8_t *)why + why_len; p < canary_end; p++)
        FZ_CHECK(*p == 0xa5);
    if (!why_len)
        return;
    size_t n = strnlen(why, why_len);
    FZ_CHECK(n < why_len);
    if (why_len < 24) /* long enough for every rule and its colon */
        return;
    const char *colon = strchr(why, ':');
    FZ_CHECK(colon != NULL || !strcmp(why, "out of memory"));
    size_t rl = colon ? (size_t)(colon - why) : n;
    bool known = false;
    for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++)
        known |= strlen(rules[k]) == rl && !memcmp(rules[k], why, rl);
    FZ_CHECK(known);
    FZ_CHECK((r == -EFBIG) == !strncmp(why, "header too long:", 16));
}

static void run(const uint8_t *data, size_t size)
{
    static const size_t why_lens[8] = {0, 0, 1, 5, 16, 64, 128, ZIPC__ST_WHY_LEN};
    if (size == 0)
        return;
    if (size > MAX_INPUT)
        size = MAX_INPUT;
    uint8_t mode = data[0];
    data++;
    size--;
    uint8_t *file;
    size_t len;
    if (mode & 1) {
        const uint8_t *nul = memchr(data, 0, size);
        size_t hlen = nul ? (size_t)(nul - data) : size, rest = nul ? size - hlen - 1 : 0;
        len = 8 + hlen + rest;
        file = malloc(len);
        FZ_CHECK(file != NULL);
        for (int k = 0; k < 8; k++)
            file[k] = (uint8_t)((uint64_t)hlen >> (8 * k));
        memcpy(file + 8, data, hlen);
        if (rest)
            memcpy(file + 8 + hlen, nul + 1, rest);
    } else {
        len = size;
        file = malloc(len ? len : 1);
        FZ_CHECK(file != NULL);
        if (len)
            memcpy(file, data, len);
    }
    unsigned wsel = mode >> 1 & 7;
    size_t why_len = why_lens[wsel];
    char why_buf[ZIPC__ST_WHY_LEN + 16];
    memset(why_buf, 0xa5, sizeof why_buf);
    char *why = wsel ? why_buf : NULL;
    struct zipc__st_file st;
    int r = zipc__st_parse(file, len, &st, why, why_len);
    if (r == 0) {
        check_table(&st, len);
    } else {
        FZ_CHECK(st.ntensors == 0 && st.tensors == NULL && st.nmeta == 0 && st.strings_ == NULL);
        check_why(why_buf, why ? why_len : 0, (const uint8_t *)why_buf + sizeof why_buf, r);
    }
    struct zipc__st_file again;
    FZ_CHECK(zipc__st_parse(file, len, &again, NULL, 0) == r);
    FZ_CHECK(again.ntensors == st.ntensors && again.nmeta == st.nmeta);
    for (size_t k = 0; k < st.ntensors; k++)
        FZ_CHECK(again.tensors[k].offset == st.tensors[k].offset &&
                 again.tensors[k].header_index == st.tensors[k].header_index);
    zipc__st_free(&again);
    zipc__st_free(&st);
    zipc__st_free(&st);
    free(file);
}

/* ---- seeds ------------------------------------------------------------------ */

/* Mode 1 seeds: the header's text, a NUL, the data. */
static void seed_json(const char *dir, const char *name, const char *json, size_t data_len)
{
    static uint8_t s[4096];
    size_t n = strlen(json);
    FZ_CHECK(n + 2 + data_len <= sizeof s);
    s[0] = 1 | 7 << 1;
    memcpy(s + 1, json, n);
    s[1 + n] = 0;
    for (size_t k = 0; k < data_len; k++)
        s[2 + n + k] = (uint8_t)(k * 7);
    fz_seed_write(dir, name, s, 2 + n + data_len);
    /* The same file in mode 0. */
    static uint8_t f[4096 + 16];
    f[0] = 7 << 1;
    for (int k = 0; k < 8; k++)
        f[1 + k] = (uint8_t)((uint64_t)n >> (8 * k));
    memcpy(f + 9, s + 1, n);
    memcpy(f + 9 + n, s + 2 + n, data_len);
    char raw[128];
    snprintf(raw, sizeof raw, "%s.raw", name);
    fz_seed_write(dir, raw, f, 9 + n + data_len);
}

#define T(dtype, shape, offsets) "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}"

static void write_seeds(const char *dir)
{
    seed_json(dir, "dtypes",
              "{\"d\":" T("BOOL", "[3]", "[40,43]") ",\"a\":" T("F32", "[2,3]", "[0,24]") ",\"b\":" T(
                  "BF16", "[4]", "[24,32]") ",\"c\":" T("I64", "[1,1]", "[32,40]") ",\"e\":" T("F4", "[2]",
                                                                                              "[43,44]") "}",
              44);
    seed_json(dir, "metadata",
              "{\"__metadata__\":{\"format\":\"pt\",\"k\\u00e9y\":\"v\\n\\ud83d\\ude00\"},\n\t\"a\\\"b\":" T(
                  "U8", "[ 2 ]", "[0,2]") ",\"\":" T("F6_E3M2", "[4]", "[2,5]") "}      ",
              5);
    seed_json(dir, "scalar_empty",
              "{\"e\":" T("F32", "[0]", "[0,0]") ",\"s\":" T("F64", "[]", "[0,8]") ",\"z\":" T(
                  "I32", "[3,0,2]", "[8,8]") ",\"m\":" T("U8", "[1,1,1,1,1,1,1,2]", "[8,10]") "}",
              10);
    seed_json(dir, "empty", "{}", 0);
    seed_json(dir, "overlap", "{\"a\":" T("U8", "[8]", "[0,8]") ",\"b\":" T("U8", "[8]", "[4,12]") "}", 12);
    seed_json(dir, "hole", "{\"a\":" T("U8", "[4]", "[0,4]") ",\"b\":" T("U8", "[4]", "[8,12]") "}", 12);
    seed_json(dir, "duplicate", "{\"a\":" T("U8", "[1]", "[0,1]") ",\"a\":" T("U8", "[1]", "[1,2]") "}", 2);
    seed_json(dir, "numbers", "{\"a\":" T("U8", "[1e3,-0,01]", "[0,18446744073709551616]") "}", 2);
    seed_json(dir, "utf8", "{\"a\xed\xa0\x80\\ud800\":" T("U8", "[1]", "[0,1]") "}", 1);
    seed_json(dir, "overflow", "{\"a\":" T("U64", "[4294967296,4294967296]", "[0,1]") "}", 1);
    uint8_t big[9] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    fz_seed_write(dir, "huge_length", big, sizeof big);
}

static void setup(void) {}

FZ_HARNESS(write_seeds, setup, run)

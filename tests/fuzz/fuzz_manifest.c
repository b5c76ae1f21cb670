/* fuzz_manifest: the zipc command's reader of store manifests
 * (tools/manifest.h), whose input is a file anyone may have written: the
 * safetensors header reader in header-only mode (zipc__st_parse_header)
 * plus the manifest's own rules on __metadata__.
 *
 * Input: byte 0 bits 0-2 pick the size of the `why` buffer (NULL, 0, 1, 5,
 * 16, 64, 128, 512); the rest is the manifest, a heap copy of exactly its
 * length (ASan sees any read past it).
 * Checked: no crash or leak, only the documented results; on failure a
 * terminated message within the buffer, its rule a safetensors rule or
 * "manifest"; on success: every tensor has its checksum, the tensors tile
 * [0, data_len) in order with sizes from shape and dtype, every metadata
 * key is "zipc.store", "zipc.version" or "xxh3:" + a tensor's name, and a
 * second read agrees.
 *
 * Seeds: write_seeds (ZIPC_FUZZ_WRITE_SEEDS) writes a valid manifest and
 * near misses of each rule. */
#include "fuzz_common.h"

#include <string.h>

#include "manifest.h"

#define MAX_INPUT (1u << 20)
#define WHY_MAX 512

static const char *const rules[] = {
    "truncated", "header too long", "header start", "json", "utf-8", "trailing bytes", "name",
    "duplicate tensor", "duplicate key", "entry", "unknown key", "missing key", "dtype", "number",
    "shape", "element count", "sub-byte", "data_offsets", "beyond buffer", "size", "overlap", "hole",
    "metadata", "manifest", "out of memory",
};

static void check_manifest(const struct zt_manifest *m)
{
    const struct zipc__st_file *f = &m->file;
    FZ_CHECK(f->data_start == 0 && m->store != NULL && m->xxh3 != NULL);
    uint64_t pos = 0;
    for (size_t k = 0; k < f->ntensors; k++) {
        const struct zipc__st_tensor *t = &f->tensors[k];
        FZ_CHECK(t->offset == pos);
        FZ_CHECK((unsigned __int128)t->count * t->bits == (unsigned __int128)t->nbytes * 8);
        pos += t->nbytes;
        FZ_CHECK(zipc__st_find(f, t->name, t->name_len) == t);
    }
    FZ_CHECK(pos == f->data_len);
    size_t sums = 0;
    for (size_t k = 0; k < f->nmeta; k++) {
        const struct zipc__st_meta *kv = &f->meta[k];
        if (!strcmp(kv->key, "zipc.store") || !strcmp(kv->key, "zipc.version"))
            continue;
        FZ_CHECK(kv->key_len > 5 && !memcmp(kv->key, "xxh3:", 5));
        FZ_CHECK(zipc__st_find(f, kv->key + 5, kv->key_len - 5) != NULL);
        FZ_CHECK(kv->value_len == 16);
        sums++;
    }
    FZ_CHECK(sums == f->ntensors); /* one each: keys are distinct */
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
    if (why_len < 24)
        return;
    const char *colon = strchr(why, ':');
    FZ_CHECK(colon != NULL || !strcmp(why, "out of memory"));
    size_t rl = colon ? (size_t)(colon - why) : n;
    bool known = false;
    for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++)
        known |= strlen(rules[k]) == rl && !memcmp(rules[k], why, rl);
    FZ_CHECK(known);
}

static void run(const uint8_t *data, size_t size)
{
    static const size_t why_lens[8] = {0, 0, 1, 5, 16, 64, 128, WHY_MAX};
    if (size == 0)
        return;
    if (size > MAX_INPUT)
        size = MAX_INPUT;
    unsigned wsel = data[0] & 7;
    size_t len = size - 1;
    uint8_t *json = malloc(len ? len : 1);
    FZ_CHECK(json != NULL);
    memcpy(json, data + 1, len);
    char why_buf[WHY_MAX + 16];
    memset(why_buf, 0xa5, sizeof why_buf);
    struct zt_manifest m;
    int r = zt_manifest_parse(json, len, &m, wsel ? why_buf : NULL, why_lens[wsel]);
    if (r == 0)
        check_manifest(&m);
    else
        check_why(why_buf, wsel ? why_lens[wsel] : 0, (const uint8_t *)why_buf + sizeof why_buf, r);
    struct zt_manifest again;
    FZ_CHECK(zt_manifest_parse(json, len, &again, NULL, 0) == r);
    FZ_CHECK(again.file.ntensors == m.file.ntensors && again.version == m.version);
    for (size_t k = 0; k < m.file.ntensors; k++)
        FZ_CHECK(again.xxh3[k] == m.xxh3[k]);
    zt_manifest_free(&again);
    zt_manifest_free(&m);
    zt_manifest_free(&m);
    free(json);
}

/* ---- seeds ------------------------------------------------------------------ */

static void seed(const char *dir, const char *name, const char *json)
{
    static uint8_t s[4096];
    size_t n = strlen(json);
    FZ_CHECK(n + 1 <= sizeof s);
    s[0] = 7;
    memcpy(s + 1, json, n);
    fz_seed_write(dir, name, s, 1 + n);
}

#define META "{\"__metadata__\":{\"zipc.store\":\"w\",\"zipc.version\":\"3\""
#define T(dtype, shape, offsets) "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}"

static void write_seeds(const char *dir)
{
    seed(dir, "valid",
         META ",\"xxh3:a\":\"0123456789abcdef\",\"xxh3:b.w\":\"FEDCBA9876543210\"},\"a\":" T("F32", "[2,3]", "[0,24]")
              ",\"b.w\":" T("BF16", "[]", "[24,26]") "}");
    seed(dir, "empty", META "}}");
    seed(dir, "no_sum", META "},\"a\":" T("U8", "[2]", "[0,2]") "}");
    seed(dir, "bad_hex", META ",\"xxh3:a\":\"0123456789abcdeg\"},\"a\":" T("U8", "[2]", "[0,2]") "}");
    seed(dir, "orphan_sum", META ",\"xxh3:z\":\"0123456789abcdef\"}}");
    seed(dir, "unknown_key", META ",\"x\":\"y\"}}");
    seed(dir, "no_version", "{\"__metadata__\":{\"zipc.store\":\"w\"}}");
    seed(dir, "bad_version", "{\"__metadata__\":{\"zipc.store\":\"w\",\"zipc.version\":\"18446744073709551616\"}}");
    seed(dir, "hole", META ",\"xxh3:a\":\"0123456789abcdef\"},\"a\":" T("U8", "[2]", "[2,4]") "}");
}

static void setup(void) {}

FZ_HARNESS(write_seeds, setup, run)

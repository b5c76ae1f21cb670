/* The safetensors reader (src/safetensors.h), the tensor store's trust
 * boundary for files:
 *
 *   - valid files come back as a table: every dtype, scalars, empty tensors,
 *     metadata, escapes, padding, any order in the header;
 *   - each rule of the format refuses a file that breaks it, with -EBADMSG
 *     (-EFBIG for a too long header) and a message naming the rule; an
 *     allocation that fails is -ENOMEM (outside sanitizers);
 *   - a file written by the reference writer (safetensors.numpy.save_file)
 *     reads back with its values: the committed tests/core/data copy always,
 *     and a fresh one when a Python with safetensors is at hand. */
#include <limits.h>
#include <sys/resource.h>

#include "testutil.h"

#include "safetensors.h"
#include "zipc/tensor.h"

/* ---- building files ------------------------------------------------------ */

/* [u64 n][header (hlen bytes)][data_len bytes: 0, 1, 2, ...] */
static uint8_t *make_file(const void *header, size_t hlen, uint64_t n, size_t data_len, size_t *len)
{
    *len = 8 + hlen + data_len;
    uint8_t *f = malloc(*len);
    if (!f)
        abort();
    for (int k = 0; k < 8; k++)
        f[k] = (uint8_t)(n >> (8 * k));
    memcpy(f + 8, header, hlen);
    for (size_t k = 0; k < data_len; k++)
        f[8 + hlen + k] = (uint8_t)k;
    return f;
}

static char why[ZIPC__ST_WHY_LEN];

static int parse_json(const char *json, size_t data_len, struct zipc__st_file *st)
{
    size_t len;
    uint8_t *f = make_file(json, strlen(json), strlen(json), data_len, &len);
    int r = zipc__st_parse(f, len, st, why, sizeof why);
    free(f);
    return r;
}

/* The parse fails with want, leaves *st empty, and why starts with "rule:". */
static bool check_refused_(const uint8_t *f, size_t len, int want, const char *rule, const char *file,
                           int line)
{
    struct zipc__st_file st;
    memset(why, 'x', sizeof why);
    int r = zipc__st_parse(f, len, &st, why, sizeof why);
    size_t rl = strlen(rule);
    bool ok = r == want && !strncmp(why, rule, rl) && why[rl] == ':' && !st.ntensors && !st.tensors &&
              !st.strings_ && !st.nmeta;
    tu_check_(ok, file, line, "want %s \"%s: ...\", got %s \"%s\"", tu_errname(want), rule, tu_errname(r),
              why);
    zipc__st_free(&st);
    return ok;
}
#define CHECK_REFUSED_FILE(f, len, want, rule) check_refused_((f), (len), (want), (rule), __FILE__, __LINE__)

static bool refused_json_(const char *json, size_t data_len, const char *rule, const char *file, int line)
{
    size_t len;
    uint8_t *f = make_file(json, strlen(json), strlen(json), data_len, &len);
    bool ok = check_refused_(f, len, -EBADMSG, rule, file, line);
    free(f);
    return ok;
}
/* json is the whole header (N = its length), followed by data_len bytes. */
#define CHECK_REFUSED(json, data_len, rule) refused_json_((json), (data_len), (rule), __FILE__, __LINE__)

static bool shape_is(const struct zipc__st_tensor *t, unsigned ndim, const int64_t *shape)
{
    if (t->ndim != ndim)
        return false;
    for (unsigned k = 0; k < ZIPC__ST_MAX_NDIM; k++)
        if (t->shape[k] != (k < ndim ? shape[k] : 0))
            return false;
    return true;
}

static const struct zipc__st_tensor *find(const struct zipc__st_file *st, const char *name)
{
    return zipc__st_find(st, name, strlen(name));
}

/* ---- valid files ---------------------------------------------------------- */

static void test_valid_dtypes(void)
{
    /* Out of offset order in the header; F4: two elements in one byte. */
    const char *json = "{\"d\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[40,43]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                       "\"c\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[32,40]},"
                       "\"e\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[43,44]}}";
    struct zipc__st_file st;
    if (!CHECK_OK(parse_json(json, 44, &st))) {
        printf("  why: %s\n", why);
        return;
    }
    uint64_t start = 8 + strlen(json);
    CHECK_EQ(st.header_len, strlen(json));
    CHECK_EQ(st.data_start, start);
    CHECK_EQ(st.data_len, 44);
    CHECK(!st.has_metadata && !st.nmeta);
    CHECK_EQ(st.ntensors, 5);
    static const struct {
        const char *name;
        enum zipc_store_dtype dtype;
        unsigned bits, ndim;
        int64_t shape[2];
        uint64_t count, begin, nbytes;
        size_t header_index;
    } want[5] = {
        {"a", ZIPC_STORE_F32, 32, 2, {2, 3}, 6, 0, 24, 1},
        {"b", ZIPC_STORE_BF16, 16, 1, {4}, 4, 24, 8, 2},
        {"c", ZIPC_STORE_I64, 64, 2, {1, 1}, 1, 32, 8, 3},
        {"d", ZIPC_STORE_BOOL, 8, 1, {3}, 3, 40, 3, 0},
        {"e", ZIPC_STORE_F4, 4, 1, {2}, 2, 43, 1, 4},
    };
    for (size_t k = 0; k < 5 && k < st.ntensors; k++) { /* sorted by offset */
        const struct zipc__st_tensor *t = &st.tensors[k];
        CHECK_MSG(!strcmp(t->name, want[k].name) && t->name_len == 1, "tensor %zu is %s", k, t->name);
        CHECK_EQ(t->dtype, want[k].dtype);
        CHECK_EQ(t->bits, want[k].bits);
        CHECK(shape_is(t, want[k].ndim, want[k].shape));
        CHECK_EQ(t->count, want[k].count);
        CHECK_EQ(t->offset, start + want[k].begin);
        CHECK_EQ(t->nbytes, want[k].nbytes);
        CHECK_EQ(t->header_index, want[k].header_index);
        CHECK(find(&st, want[k].name) == t);
    }
    CHECK(!find(&st, "zz") && !find(&st, "") && !zipc__st_find(&st, "ab", 2));
    CHECK(zipc__st_find(&st, "ab", 1) == find(&st, "a"));
    zipc__st_free(&st);
    CHECK(!st.tensors && !st.ntensors);
    zipc__st_free(&st); /* idempotent */
}

/* Every dtype of the table, by its name, with 8 elements (8 * bits / 8 bytes). */
static void test_every_dtype(void)
{
    for (unsigned d = 0; d < ZIPC_STORE_NDTYPES; d++) {
        const struct zipc__st_dtype_info *info = zipc__st_dtype_info((enum zipc_store_dtype)d);
        char json[160];
        snprintf(json, sizeof json, "{\"t\":{\"dtype\":\"%s\",\"shape\":[8],\"data_offsets\":[0,%u]}}",
                 info->name, info->bits);
        struct zipc__st_file st;
        if (CHECK_MSG(parse_json(json, info->bits, &st) == 0, "%s: %s", info->name, why)) {
            CHECK_EQ(st.tensors[0].dtype, d);
            CHECK_EQ(st.tensors[0].nbytes, info->bits);
            zipc__st_free(&st);
        }
    }
    CHECK(!zipc__st_dtype_info(ZIPC_STORE_NDTYPES));
    CHECK_EQ(zipc__st_dtype_info(ZIPC_STORE_F6_E2M3)->bits, 6);
    CHECK_EQ(zipc__st_dtype_info(ZIPC_STORE_BF16)->dl_code, ZIPC_DTYPE_BFLOAT);
    CHECK_EQ(zipc__st_dtype_info(ZIPC_STORE_F8_E4M3)->dl_code, ZIPC__ST_NO_DLCODE);
}

static void test_valid_shapes(void)
{
    /* A scalar, empty tensors (at the start, between, at the end), F6 in 3 bytes. */
    const char *json = "{\"e0\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                       "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
                       "\"e1\":{\"dtype\":\"I32\",\"shape\":[3,0,2],\"data_offsets\":[8,8]},"
                       "\"six\":{\"dtype\":\"F6_E3M2\",\"shape\":[4],\"data_offsets\":[8,11]},"
                       "\"e2\":{\"dtype\":\"U8\",\"shape\":[9223372036854775807,0],\"data_offsets\":[11,11]}}";
    struct zipc__st_file st;
    if (!CHECK_OK(parse_json(json, 11, &st))) {
        printf("  why: %s\n", why);
        return;
    }
    const char *order[] = {"e0", "s", "e1", "six", "e2"};
    for (size_t k = 0; k < 5; k++)
        CHECK_MSG(k < st.ntensors && !strcmp(st.tensors[k].name, order[k]), "tensor %zu: %s", k, order[k]);
    const struct zipc__st_tensor *s = find(&st, "s"), *e2 = find(&st, "e2");
    CHECK(s && s->ndim == 0 && s->count == 1 && s->nbytes == 8 && s->shape[0] == 0);
    CHECK(e2 && e2->count == 0 && e2->nbytes == 0 && e2->shape[0] == INT64_MAX);
    CHECK(find(&st, "six") && find(&st, "six")->nbytes == 3);
    zipc__st_free(&st);

    /* Eight dimensions are the most. */
    CHECK_OK(parse_json("{\"m\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[0,2]}}", 2,
                        &st));
    CHECK(st.ntensors == 1 && st.tensors[0].ndim == 8 && st.tensors[0].shape[7] == 2);
    zipc__st_free(&st);
}

static void test_valid_metadata_and_text(void)
{
    /* Escapes in names, keys and values; JSON whitespace inside, spaces after. */
    const char *json = "{ \"__metadata__\" : { \"format\" : \"pt\", \"k\\u00e9y\":\"v\\n\\\"\\u0000\\/\", "
                       "\"emoji\":\"\\ud83d\\ude00\" },\n\t\"a\\\"b\" :{\"data_offsets\":[0,2],"
                       "\"shape\":[ 2 ],\"dtype\":\"U8\"},\r\n\"\\u0041\\u00e9\":{\"dtype\":\"U8\","
                       "\"shape\":[1],\"data_offsets\":[2,3]}, \"\":{\"dtype\":\"U8\",\"shape\":[],"
                       "\"data_offsets\":[3,4]}}        ";
    struct zipc__st_file st;
    if (!CHECK_OK(parse_json(json, 4, &st))) {
        printf("  why: %s\n", why);
        return;
    }
    CHECK(st.has_metadata);
    CHECK_EQ(st.nmeta, 3);
    if (st.nmeta == 3) {
        CHECK(!strcmp(st.meta[0].key, "format") && !strcmp(st.meta[0].value, "pt"));
        CHECK(st.meta[1].key_len == 4 && !strcmp(st.meta[1].key, "k\xc3\xa9y"));
        CHECK(st.meta[1].value_len == 5 && !memcmp(st.meta[1].value, "v\n\"\0/", 6));
        CHECK(!strcmp(st.meta[2].value, "\xf0\x9f\x98\x80"));
    }
    CHECK_EQ(st.ntensors, 3);
    CHECK(find(&st, "a\"b") && find(&st, "a\"b")->nbytes == 2);
    CHECK(find(&st, "A\xc3\xa9") && find(&st, "A\xc3\xa9")->header_index == 2);
    CHECK(find(&st, "") && find(&st, "")->count == 1);
    zipc__st_free(&st);

    /* Empty metadata; no tensor at all. */
    CHECK_OK(parse_json("{\"__metadata__\":{}}", 0, &st));
    CHECK(st.has_metadata && !st.nmeta && !st.ntensors);
    zipc__st_free(&st);
    CHECK_OK(parse_json("{}", 0, &st));
    CHECK(!st.has_metadata && !st.ntensors && st.data_len == 0);
    CHECK(!find(&st, "a"));
    zipc__st_free(&st);
    CHECK_OK(parse_json("{ }  ", 0, &st));
    zipc__st_free(&st);
}

/* ---- one hostile file per rule ---------------------------------------------- */

#define T(dtype, shape, offsets) "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}"
#define ONE(entry) "{\"t\":" entry "}"

static void test_refuse_lengths(void)
{
    uint8_t small[8] = {2, 0, 0, 0, 0, 0, 0, 0};
    for (size_t len = 0; len < 8; len++)
        CHECK_REFUSED_FILE(len ? small : NULL, len, -EBADMSG, "truncated");
    size_t len;
    uint8_t *f = make_file("{}", 2, 3, 0, &len); /* N one byte beyond the file */
    CHECK_REFUSED_FILE(f, len, -EBADMSG, "truncated");
    free(f);
    f = make_file("{}", 2, ZIPC__ST_MAX_HEADER, 0, &len); /* at the bound, but beyond the file */
    CHECK_REFUSED_FILE(f, len, -EBADMSG, "truncated");
    free(f);
    f = make_file("{}", 2, ZIPC__ST_MAX_HEADER + 1, 0, &len);
    CHECK_REFUSED_FILE(f, len, -EFBIG, "header too long");
    free(f);
    f = make_file("{}", 2, UINT64_MAX, 0, &len);
    CHECK_REFUSED_FILE(f, len, -EFBIG, "header too long");
    free(f);
    f = make_file("{}", 2, UINT64_C(1) << 63, 0, &len);
    CHECK_REFUSED_FILE(f, len, -EFBIG, "header too long");
    free(f);
    /* A header whose length stops inside the JSON. */
    f = make_file("{\"a\":1}", 7, 4, 3, &len);
    CHECK_REFUSED_FILE(f, len, -EBADMSG, "json");
    free(f);

    /* A message is cut to why_len, always terminated; no buffer at all is fine. */
    struct zipc__st_file st;
    char shortwhy[12];
    memset(shortwhy, 'x', sizeof shortwhy);
    CHECK_ERR(zipc__st_parse(small, 5, &st, shortwhy, sizeof shortwhy), -EBADMSG);
    CHECK(!strcmp(shortwhy, "truncated: "));
    CHECK_ERR(zipc__st_parse(small, 5, &st, NULL, 0), -EBADMSG);
    CHECK_ERR(zipc__st_parse(small, 5, &st, shortwhy, 0), -EBADMSG);
}

static void test_refuse_syntax(void)
{
    CHECK_REFUSED("", 0, "header start");
    CHECK_REFUSED(" {}", 0, "header start");
    CHECK_REFUSED("[]", 0, "header start");
    CHECK_REFUSED("{}x", 0, "trailing bytes");
    CHECK_REFUSED("{}\n", 0, "trailing bytes");
    CHECK_REFUSED("{}   \t", 0, "trailing bytes");
    CHECK_REFUSED("{}{}", 0, "trailing bytes");
    CHECK_REFUSED("{", 0, "json");
    CHECK_REFUSED("{\"t\"", 0, "json");
    CHECK_REFUSED("{\"t\" " T("U8", "[1]", "[0,1]") "}", 1, "json");        /* no ':' */
    CHECK_REFUSED("{\"t\":" T("U8", "[1]", "[0,1]") ",}", 1, "json");       /* trailing comma */
    CHECK_REFUSED("{\"t\":" T("U8", "[1]", "[0,1]") " \"u\":{}}", 1, "json"); /* no ',' */
    CHECK_REFUSED("{\"t\":{\"dtype\":\"U8\",}}", 0, "json");
    CHECK_REFUSED("{\"t\":{\"dtype\":\"U8\"", 0, "json");
    CHECK_REFUSED("{'t':{}}", 0, "json");
    CHECK_REFUSED("{t:{}}", 0, "json");
    CHECK_REFUSED("{\"t\x01\":{}}", 0, "json");         /* raw control character */
    CHECK_REFUSED("{\"t\\x\":{}}", 0, "json");          /* unknown escape */
    CHECK_REFUSED("{\"t\\u12g4\":{}}", 0, "json");      /* bad hex */
    CHECK_REFUSED("{\"t\\u12", 0, "json");              /* escape cut by the end */
    CHECK_REFUSED("{\"unterminated", 0, "json");
    CHECK_REFUSED("{\"__metadata__\":{\"a\":\"b\",}}", 0, "json");
    CHECK_REFUSED("{\"t\":" T("U8", "[1,]", "[0,1]") "}", 1, "number");
    CHECK_REFUSED("{\"t\":" T("U8", "[1 1]", "[0,1]") "}", 1, "json");
    /* The header's length excludes a NUL that follows the JSON: a NUL inside is refused. */
    size_t len;
    uint8_t *f = make_file("{}\0", 3, 3, 0, &len);
    CHECK_REFUSED_FILE(f, len, -EBADMSG, "trailing bytes");
    free(f);
}

static void test_refuse_utf8(void)
{
    static const char *bad[] = {
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong '/' */
        "\xf0\x80\x80\xaf", /* overlong, 4 bytes */
        "\xed\xa0\x80",     /* U+D800 */
        "\xed\xbf\xbf",     /* U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80",
        "\xff",
        "\x80",             /* a lone continuation */
        "\xe2\x82",         /* cut */
        "\xc3(",            /* bad continuation */
        "\\ud800",          /* lone high surrogate */
        "\\udc00",          /* lone low surrogate */
        "\\ud800\\u0041",   /* high + not low */
        "\\ud800x",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char json[128];
        snprintf(json, sizeof json, "{\"a%sb\":" T("U8", "[1]", "[0,1]") "}", bad[k]);
        CHECK_MSG(CHECK_REFUSED(json, 1, "utf-8"), "case %zu", k);
        snprintf(json, sizeof json, "{\"__metadata__\":{\"k\":\"%s\"}}", bad[k]);
        CHECK_MSG(CHECK_REFUSED(json, 0, "utf-8"), "metadata case %zu", k);
    }
    /* U+0000 in a name or a metadata key (values may hold it). */
    CHECK_REFUSED("{\"a\\u0000b\":" T("U8", "[1]", "[0,1]") "}", 1, "name");
    CHECK_REFUSED("{\"__metadata__\":{\"\\u0000\":\"v\"}}", 0, "name");
    /* The largest code points are fine. */
    struct zipc__st_file st;
    CHECK_OK(parse_json("{\"\xf4\x8f\xbf\xbf\\udbff\\udfff\xef\xbf\xbf\":" T("U8", "[1]", "[0,1]") "}", 1,
                        &st));
    CHECK(st.ntensors == 1 && st.tensors[0].name_len == 11);
    zipc__st_free(&st);
}

static void test_refuse_keys(void)
{
    CHECK_REFUSED("{\"t\":" T("U8", "[1]", "[0,1]") ",\"t\":" T("U8", "[1]", "[1,2]") "}", 2,
                  "duplicate tensor");
    /* Equal once decoded. */
    CHECK_REFUSED("{\"t\":" T("U8", "[1]", "[0,1]") ",\"\\u0074\":" T("U8", "[1]", "[1,2]") "}", 2,
                  "duplicate tensor");
    CHECK_REFUSED(ONE("{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}"), 1,
                  "duplicate key");
    CHECK_REFUSED(ONE("{\"dtype\":\"U8\",\"shape\":[1],\"shape\":[1],\"data_offsets\":[0,1]}"), 1,
                  "duplicate key");
    CHECK_REFUSED(ONE("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"data_offsets\":[0,1]}"), 1,
                  "duplicate key");
    CHECK_REFUSED("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate key");
    CHECK_REFUSED("{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}}", 0, "duplicate key");
    CHECK_REFUSED(ONE("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":1}"), 1,
                  "unknown key");
    CHECK_REFUSED(ONE("{\"dtype\":\"U8\",\"Shape\":[1],\"data_offsets\":[0,1]}"), 1, "unknown key");
    CHECK_REFUSED(ONE("{\"shape\":[1],\"data_offsets\":[0,1]}"), 1, "missing key");
    CHECK_REFUSED(ONE("{\"dtype\":\"U8\",\"data_offsets\":[0,1]}"), 1, "missing key");
    CHECK_REFUSED(ONE("{\"dtype\":\"U8\",\"shape\":[1]}"), 1, "missing key");
    CHECK_REFUSED(ONE("{}"), 0, "missing key");
    CHECK_REFUSED(ONE("[1]"), 0, "entry");
    CHECK_REFUSED(ONE("\"F32\""), 0, "entry");
    CHECK_REFUSED(ONE("null"), 0, "entry");
    CHECK_REFUSED("{\"__metadata__\":[]}", 0, "metadata");
    CHECK_REFUSED("{\"__metadata__\":null}", 0, "metadata");
    CHECK_REFUSED("{\"__metadata__\":{\"k\":1}}", 0, "metadata");
    CHECK_REFUSED("{\"__metadata__\":{\"k\":{\"a\":\"b\"}}}", 0, "metadata");
    CHECK_REFUSED("{\"__metadata__\":{\"k\":[\"a\"]}}", 0, "metadata");
    CHECK_REFUSED("{\"__metadata__\":{\"k\":null}}", 0, "metadata");
}

static void test_refuse_values(void)
{
    CHECK_REFUSED(ONE(T("F7", "[1]", "[0,1]")), 1, "dtype");
    CHECK_REFUSED(ONE(T("f32", "[1]", "[0,4]")), 4, "dtype");
    CHECK_REFUSED(ONE(T("F32 ", "[1]", "[0,4]")), 4, "dtype");
    CHECK_REFUSED(ONE(T("", "[1]", "[0,4]")), 4, "dtype");
    CHECK_REFUSED(ONE("{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}"), 4, "dtype");
    CHECK_REFUSED(ONE("{\"dtype\":[\"F32\"],\"shape\":[1],\"data_offsets\":[0,4]}"), 4, "dtype");
    /* Numbers: only plain non-negative decimal integers. */
    static const char *numbers[] = {"1e3", "1E3", "-0", "-1", "01", "00", "1.0", "+1", "0x10", "1.",
                                    ".5", "18446744073709551616", "99999999999999999999999", "\"1\"",
                                    "true", "null", "Infinity", "NaN"};
    for (size_t k = 0; k < sizeof numbers / sizeof numbers[0]; k++) {
        char json[160];
        snprintf(json, sizeof json, ONE(T("U8", "[%s]", "[0,1]")), numbers[k]);
        CHECK_MSG(CHECK_REFUSED(json, 1, "number"), "shape %s", numbers[k]);
        snprintf(json, sizeof json, ONE(T("U8", "[1]", "[%s,1]")), numbers[k]);
        CHECK_MSG(CHECK_REFUSED(json, 1, "number"), "begin %s", numbers[k]);
    }
    CHECK_REFUSED(ONE(T("U8", "3", "[0,3]")), 3, "shape");
    CHECK_REFUSED(ONE(T("U8", "{}", "[0,3]")), 3, "shape");
    CHECK_REFUSED(ONE(T("U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]")), 1, "shape");
    CHECK_REFUSED(ONE(T("U8", "[9223372036854775808,0]", "[0,0]")), 0, "shape");
    CHECK_REFUSED(ONE(T("U8", "[18446744073709551615,0]", "[0,0]")), 0, "shape");
    CHECK_REFUSED(ONE(T("U8", "[4294967296,4294967296]", "[0,1]")), 1, "element count");
    CHECK_REFUSED(ONE(T("U8", "[4294967296,0,4294967296]", "[0,0]")), 0, "element count");
    CHECK_REFUSED(ONE(T("U64", "[4611686018427387904]", "[0,1]")), 1, "element count");
    CHECK_REFUSED(ONE(T("F4", "[3]", "[0,1]")), 2, "sub-byte");
    CHECK_REFUSED(ONE(T("F6_E2M3", "[2]", "[0,1]")), 2, "sub-byte");
    CHECK_REFUSED(ONE(T("U8", "[1]", "[1,0]")), 1, "data_offsets");
    CHECK_REFUSED(ONE(T("U8", "[1]", "[0]")), 1, "data_offsets");
    CHECK_REFUSED(ONE(T("U8", "[1]", "[0,1,2]")), 2, "data_offsets");
    CHECK_REFUSED(ONE(T("U8", "[1]", "[]")), 1, "number");
    CHECK_REFUSED(ONE(T("U8", "[1]", "\"0,1\"")), 1, "data_offsets");
    CHECK_REFUSED(ONE(T("U8", "[1]", "{\"0\":1}")), 1, "data_offsets");
    CHECK_REFUSED(ONE(T("U8", "[16]", "[0,16]")), 8, "beyond buffer");
    CHECK_REFUSED(ONE(T("U8", "[1]", "[18446744073709551614,18446744073709551615]")), 8, "beyond buffer");
    CHECK_REFUSED(ONE(T("F32", "[2]", "[0,4]")), 4, "size");
    CHECK_REFUSED(ONE(T("F32", "[1]", "[0,8]")), 8, "size");
    CHECK_REFUSED(ONE(T("U8", "[0]", "[0,1]")), 1, "size");
}

static void test_refuse_layout(void)
{
    CHECK_REFUSED("{\"a\":" T("U8", "[8]", "[0,8]") ",\"b\":" T("U8", "[8]", "[4,12]") "}", 12, "overlap");
    CHECK_REFUSED("{\"a\":" T("U8", "[8]", "[0,8]") ",\"b\":" T("U8", "[8]", "[0,8]") "}", 8, "overlap");
    CHECK_REFUSED("{\"a\":" T("U8", "[8]", "[0,8]") ",\"b\":" T("U8", "[0]", "[4,4]") "}", 8, "overlap");
    CHECK_REFUSED("{\"a\":" T("U8", "[4]", "[0,4]") ",\"b\":" T("U8", "[4]", "[8,12]") "}", 12, "hole");
    CHECK_REFUSED("{\"a\":" T("U8", "[4]", "[4,8]") "}", 8, "hole");         /* before the first */
    CHECK_REFUSED("{\"a\":" T("U8", "[4]", "[0,4]") "}", 8, "hole");         /* after the last */
    CHECK_REFUSED("{}", 1, "hole");                                          /* a buffer, no tensor */
    CHECK_REFUSED("{\"a\":" T("U8", "[0]", "[0,0]") "}", 1, "hole");
    /* Trailing bytes past the last tensor are a hole, even after padding. */
    CHECK_REFUSED("{\"a\":" T("U8", "[4]", "[0,4]") "}  ", 5, "hole");
}

/* A header alone (zipc__st_parse_header, the zipc command's manifests):
 * the ranges still tile from 0, and their end becomes data_len. */
static void test_header_only(void)
{
    struct zipc__st_file st;
    const char *ok = "{\"b\":" T("F32", "[2,3]", "[4,28]") ",\"a\":" T("U8", "[4]", "[0,4]") "}  ";
    if (CHECK_OK(zipc__st_parse_header((const uint8_t *)ok, strlen(ok), &st, why, sizeof why))) {
        CHECK_EQ(st.data_start, 0);
        CHECK_EQ(st.data_len, 28);
        CHECK_EQ(st.ntensors, 2);
        CHECK(find(&st, "a") && find(&st, "a")->offset == 0 && find(&st, "b")->offset == 4);
    }
    zipc__st_free(&st);
    CHECK_OK(zipc__st_parse_header((const uint8_t *)"{}", 2, &st, why, sizeof why));
    CHECK_EQ(st.data_len, 0);
    zipc__st_free(&st);
    static const struct {
        const char *json, *rule;
    } bad[] = {
        {"{\"a\":" T("U8", "[4]", "[4,8]") "}", "hole"}, /* before the first */
        {"{\"a\":" T("U8", "[4]", "[0,4]") ",\"b\":" T("U8", "[4]", "[2,6]") "}", "overlap"},
        {"{\"a\":" T("U8", "[4]", "[0,5]") "}", "size"},
        {"{\"a\":" T("U8", "[4]", "[0,4]") "", "json"},
        {"", "header start"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int r = zipc__st_parse_header((const uint8_t *)bad[k].json, strlen(bad[k].json), &st, why, sizeof why);
        CHECK_MSG(r == -EBADMSG && !strncmp(why, bad[k].rule, strlen(bad[k].rule)), "case %zu: %d %s", k, r, why);
        CHECK(st.ntensors == 0 && st.tensors == NULL);
    }
    /* its length is bounded as a file's header is, without reading past it */
    CHECK_ERR(zipc__st_parse_header((const uint8_t *)"{", (size_t)ZIPC__ST_MAX_HEADER + 1, &st, why, sizeof why), -EFBIG);
}

/* Nesting bombs are refused at their first unexpected byte (no recursion). */
static void test_refuse_depth(void)
{
    enum { DEPTH = 100000 };
    static const struct {
        const char *head, *open, *rule;
    } bombs[] = {
        {"{\"t\":", "[", "entry"},
        {"{\"t\":{\"shape\":", "[", "number"},
        {"{\"t\":{\"data_offsets\":", "[", "number"},
        {"{\"t\":{\"dtype\":", "{\"a\":", "dtype"},
        {"{\"__metadata__\":", "{\"a\":", "metadata"},
        {"{\"__metadata__\":{\"k\":", "[", "metadata"},
        {"{\"t\":{\"extra\":", "[", "unknown key"},
        {"", "{\"a\":", "unknown key"},
    };
    char *json = malloc(8 * DEPTH + 64);
    if (!json)
        abort();
    for (size_t b = 0; b < sizeof bombs / sizeof bombs[0]; b++) {
        size_t o = strlen(bombs[b].head), n = strlen(bombs[b].open);
        memcpy(json, bombs[b].head, o);
        for (int d = 0; d < DEPTH; d++, o += n)
            memcpy(json + o, bombs[b].open, n);
        json[o] = '\0';
        CHECK_MSG(CHECK_REFUSED(json, 0, bombs[b].rule), "bomb %zu", b);
    }
    free(json);
}

/* -ENOMEM: a child whose address space is capped just above what it uses
 * (not under a sanitizer, whose shadow memory needs a free address space). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TU_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TU_SANITIZED 1
#endif
#endif
static void test_refuse_nomem(void)
{
#ifdef TU_SANITIZED
    tu_skip("ENOMEM", "a sanitizer needs a free address space");
#else
    pid_t pid = tu_fork();
    if (pid == 0) {
        enum { HEADER = 64 << 20 };
        char *json = malloc(HEADER + 1);
        if (!json)
            abort();
        memset(json, ' ', HEADER);
        json[0] = '{';
        json[HEADER - 1] = '}';
        json[HEADER] = '\0';
        size_t len;
        uint8_t *f = make_file(json, HEADER, HEADER, 0, &len);
        free(json);
        long pages = 0;
        FILE *fp = fopen("/proc/self/statm", "r");
        if (!fp || fscanf(fp, "%ld", &pages) != 1)
            abort();
        fclose(fp);
        struct rlimit lim;
        lim.rlim_cur = lim.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (16u << 20);
        CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
        struct zipc__st_file st;
        CHECK_ERR(zipc__st_parse(f, len, &st, why, sizeof why), -ENOMEM);
        CHECK_MSG(!strcmp(why, "out of memory"), "why: %s", why);
        CHECK(!st.strings_ && !st.ntensors);
        tu_child_exit();
    }
    CHECK_CHILD(pid, 20000);
#endif
}

/* ---- the reference writer's files --------------------------------------------- */

/* This source's directory (CMake compiles it by its absolute path). */
static const char *source_dir(char *buf, size_t len)
{
    snprintf(buf, len, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(buf, len, ".");
    return buf;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    uint8_t *p = NULL;
    if (!fseek(fp, 0, SEEK_END)) {
        long n = ftell(fp);
        if (n >= 0 && !fseek(fp, 0, SEEK_SET) && (p = malloc((size_t)n + 1)) &&
            fread(p, 1, (size_t)n, fp) != (size_t)n) {
            free(p);
            p = NULL;
        }
        *len = (size_t)n;
    }
    fclose(fp);
    return p;
}

/* The file make_safetensors.py writes, checked tensor by tensor. */
static void check_numpy_file(const char *path)
{
    size_t len = 0;
    uint8_t *f = read_all(path, &len);
    if (!CHECK_MSG(f != NULL, "cannot read %s", path))
        return;
    struct zipc__st_file st;
    if (!CHECK_MSG(zipc__st_parse(f, len, &st, why, sizeof why) == 0, "%s: %s", path, why)) {
        free(f);
        return;
    }
    CHECK_EQ(st.ntensors, 8);
    CHECK(st.has_metadata && st.nmeta == 2);
    for (size_t k = 0; k < st.nmeta; k++)
        CHECK(!strcmp(st.meta[k].key, "format") ? !strcmp(st.meta[k].value, "np")
                                                : !strcmp(st.meta[k].key, "producer") &&
                                                      !strcmp(st.meta[k].value, "zipc tests"));
    const struct zipc__st_tensor *t;
    if (CHECK((t = find(&st, "weight")) && t->dtype == ZIPC_STORE_F32 && shape_is(t, 2, (int64_t[]){3, 4}))) {
        for (int k = 0; k < 12; k++) {
            float v;
            memcpy(&v, f + t->offset + 4 * (size_t)k, 4);
            CHECK_MSG(v == (float)k, "weight[%d] = %g", k, v);
        }
    }
    if (CHECK((t = find(&st, "bias")) && t->dtype == ZIPC_STORE_I64 && shape_is(t, 1, (int64_t[]){3}))) {
        int64_t v[3];
        memcpy(v, f + t->offset, sizeof v);
        CHECK(v[0] == 1 && v[1] == -2 && v[2] == 3);
    }
    if (CHECK((t = find(&st, "half")) && t->dtype == ZIPC_STORE_F16 && t->nbytes == 10)) {
        static const uint16_t want[5] = {0x0000, 0x3c00, 0x4000, 0x4200, 0x4400}; /* 0..4 */
        CHECK(!memcmp(f + t->offset, want, sizeof want));
    }
    if (CHECK((t = find(&st, "flags")) && t->dtype == ZIPC_STORE_BOOL && t->nbytes == 3))
        CHECK(!memcmp(f + t->offset, "\1\0\1", 3));
    if (CHECK((t = find(&st, "scalar")) && t->dtype == ZIPC_STORE_F64 && t->ndim == 0 && t->count == 1)) {
        double v;
        memcpy(&v, f + t->offset, 8);
        CHECK(v == 2.5);
    }
    CHECK((t = find(&st, "empty")) && t->dtype == ZIPC_STORE_U8 && shape_is(t, 2, (int64_t[]){0, 3}) &&
          t->nbytes == 0);
    if (CHECK((t = find(&st, "grid.i16")) && t->dtype == ZIPC_STORE_I16 && shape_is(t, 2, (int64_t[]){2, 2}))) {
        int16_t v[4];
        memcpy(v, f + t->offset, sizeof v);
        CHECK(v[0] == -1 && v[1] == 2 && v[2] == 3 && v[3] == -4);
    }
    if (CHECK((t = find(&st, "caf\xc3\xa9")) && t->nbytes == 1))
        CHECK_EQ(f[t->offset], 7);
    zipc__st_free(&st);
    free(f);
}

/* A Python that can import safetensors.numpy: $ZIPC_TEST_PYTHON, the
 * Python stage's venv, python3. */
static bool find_python(const char *root, char *py, size_t len)
{
    const char *env = getenv("ZIPC_TEST_PYTHON");
    char venv[PATH_MAX + 64];
    snprintf(venv, sizeof venv, "%s/build-py/venv/bin/python", root);
    const char *cands[] = {env, venv, "python3"};
    for (size_t k = 0; k < 3; k++) {
        if (!cands[k] || !*cands[k])
            continue;
        char cmd[PATH_MAX + 128];
        if (strlen(cands[k]) > PATH_MAX)
            continue;
        snprintf(cmd, sizeof cmd, "'%s' -c 'import numpy, safetensors.numpy' >/dev/null 2>&1", cands[k]);
        if (system(cmd) == 0) {
            snprintf(py, len, "%s", cands[k]);
            return true;
        }
    }
    return false;
}

static void test_reference_writer(void)
{
    char dir[PATH_MAX - 64], path[PATH_MAX];
    source_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data/numpy_small.safetensors", dir);
    check_numpy_file(path); /* the committed copy */

    char root[PATH_MAX + 8], py[PATH_MAX + 64];
    snprintf(root, sizeof root, "%s/../..", dir);
    if (!find_python(root, py, sizeof py)) {
        tu_skip("fresh save_file output", "no Python with numpy and safetensors "
                                          "(set ZIPC_TEST_PYTHON, or pip install safetensors into build-py/venv)");
        return;
    }
    char tmp[] = "/tmp/zipc-st-XXXXXX";
    if (!CHECK(mkdtemp(tmp) != NULL))
        return;
    char out[sizeof tmp + 32], cmd[3 * PATH_MAX + 256];
    snprintf(out, sizeof out, "%s/fresh.safetensors", tmp);
    snprintf(cmd, sizeof cmd, "'%s' '%s/data/make_safetensors.py' '%s'", py, dir, out);
    if (CHECK_MSG(system(cmd) == 0, "%s", cmd)) {
        printf("  checking a file written now by %s\n", py);
        check_numpy_file(out);
    }
    unlink(out);
    rmdir(tmp);
}

int main(void)
{
    tu_init("core_safetensors", 120);
    test_valid_dtypes();
    test_every_dtype();
    test_valid_shapes();
    test_valid_metadata_and_text();
    test_refuse_lengths();
    test_refuse_syntax();
    test_refuse_utf8();
    test_refuse_keys();
    test_refuse_values();
    test_refuse_layout();
    test_header_only();
    test_refuse_depth();
    test_refuse_nomem();
    test_reference_writer();
    return tu_finish();
}

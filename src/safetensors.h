/* The safetensors file format, read strictly (internal API of the tensor
 * store, issue 12; src/safetensors.c has the rules, docs/DESIGN.md "The
 * safetensors header" the reasons).
 *
 *   [u64 N, little-endian][N bytes: one JSON object, then spaces][data buffer]
 *
 * The JSON object maps each tensor name to {"dtype": "F32", "shape": [2, 3],
 * "data_offsets": [begin, end]} (offsets into the data buffer) and may hold
 * one "__metadata__" object of string values. zipc__st_parse checks every
 * rule of the format on a file held in memory (untrusted, possibly hostile)
 * and gives back a table its caller may trust: every tensor's bytes lie in
 * the file, and the tensors tile the data buffer exactly.
 *
 * The table does not point into the file: names and metadata are decoded
 * copies (JSON escapes resolved), so the file may be unmapped or rewritten
 * after the call without harm to the table (the offsets then say where the
 * data was).
 */
#ifndef ZIPC_SAFETENSORS_H
#define ZIPC_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zipc/store.h"

/* N above this is -EFBIG (upstream's writers stop at 100,000,000 bytes). */
#define ZIPC__ST_MAX_HEADER (UINT64_C(100) << 20)
/* More dimensions are refused: a zipc tensor header holds 8 (ZIPC_TENSOR_MAX_NDIM). */
#define ZIPC__ST_MAX_NDIM 8
/* A `why` buffer this long holds every message whole; a shorter one gets it
 * cut, but the rule comes first ("overlap: ..."), so 64 bytes still name it. */
#define ZIPC__ST_WHY_LEN 384

/* The dtypes of the format (safetensors' Dtype, 0.8) are the store's public
 * enum zipc_store_dtype (zipc/store.h): one table, in its order; files name
 * dtypes by string only. */

/* dl_code when DLPack (as zipc's enum zipc_dtype_code has it) has no code
 * for the dtype: the float8/6/4 formats. */
#define ZIPC__ST_NO_DLCODE 0xffu

struct zipc__st_dtype_info {
    const char *name; /* as the file spells it: "F32" */
    uint8_t bits;     /* per element: 4, 6, 8, 16, 32 or 64 */
    uint8_t dl_code;  /* enum zipc_dtype_code, or ZIPC__ST_NO_DLCODE */
};

/* The description of dtype d (d < ZIPC_STORE_NDTYPES, else NULL). */
const struct zipc__st_dtype_info *zipc__st_dtype_info(enum zipc_store_dtype d);

struct zipc__st_tensor {
    const char *name;  /* UTF-8, NUL-terminated, no NUL inside; owned by the file table */
    size_t name_len;   /* bytes, without the terminator */
    enum zipc_store_dtype dtype;
    unsigned bits;     /* bits per element (zipc__st_dtype_info(dtype)->bits) */
    unsigned ndim;     /* 0 (a scalar) .. ZIPC__ST_MAX_NDIM */
    int64_t shape[ZIPC__ST_MAX_NDIM]; /* >= 0; entries >= ndim are 0 */
    uint64_t count;    /* elements: the product of shape (1 for a scalar), <= INT64_MAX */
    uint64_t offset;   /* of the data in the file: 8 + N + data_offsets[0] */
    uint64_t nbytes;   /* count * bits / 8 == data_offsets[1] - data_offsets[0] */
    size_t header_index; /* position of the entry in the JSON object, from 0 */
};

struct zipc__st_meta {
    const char *key;   /* UTF-8, NUL-terminated, no NUL inside */
    size_t key_len;
    const char *value; /* UTF-8, NUL-terminated; may hold U+0000: use value_len */
    size_t value_len;
};

struct zipc__st_file {
    uint64_t header_len;  /* N */
    uint64_t data_start;  /* the data buffer's offset in the file: 8 + N */
    uint64_t data_len;    /* file length - data_start; the tensors tile [0, data_len) */
    size_t ntensors;
    struct zipc__st_tensor *tensors; /* sorted by offset (ties, all empty: header order) */
    size_t *by_name;      /* ntensors indexes into tensors, by name (bytewise) */
    bool has_metadata;    /* "__metadata__" was present (maybe empty) */
    size_t nmeta;
    struct zipc__st_meta *meta; /* in header order, keys distinct */
    char *strings_;       /* private: the decoded names, keys and values */
};

/* Parse and check the safetensors file file[0..len). On success returns 0
 * and fills *out (release it with zipc__st_free). On failure *out is left
 * empty (zipc__st_free on it is harmless) and the result is
 *   -EBADMSG  a rule of the format is broken,
 *   -EFBIG    N > ZIPC__ST_MAX_HEADER,
 *   -ENOMEM   an allocation failed,
 * with, if why != NULL and why_len > 0, a NUL-terminated message in why
 * (at most why_len bytes) of the form "<rule>: <detail>", the rule a short
 * stable phrase ("overlap", "duplicate key", "utf-8", ...) and the detail
 * naming the tensor and the header byte where that helps. The file is only
 * read, never past len. */
int zipc__st_parse(const uint8_t *file, size_t len, struct zipc__st_file *out, char *why,
                   size_t why_len);

/* The same rules for a header alone, json[0..len) (no length prefix, no
 * data buffer): the ranges must still tile [0, end of the last) without
 * hole or overlap, and that end becomes data_len (data_start is 0, so a
 * tensor's offset is its data_offsets[0]). For JSON documents shaped like a
 * header, e.g. the zipc command's store manifests. len > ZIPC__ST_MAX_HEADER
 * is -EFBIG; otherwise as zipc__st_parse. */
int zipc__st_parse_header(const uint8_t *json, size_t len, struct zipc__st_file *out, char *why,
                          size_t why_len);

/* The tensor called name[0..len) (bytes, no terminator needed), or NULL. */
const struct zipc__st_tensor *zipc__st_find(const struct zipc__st_file *f, const char *name,
                                            size_t len);

/* A name for a message, as the reader's messages show names: quoted,
 * printable ASCII only (other bytes as \xNN), cut after ZIPC__ST_QUOTE_MAX
 * bytes ("..." then); returns q. */
#define ZIPC__ST_QUOTE_MAX 24
#define ZIPC__ST_QUOTE_LEN (2 + 4 * ZIPC__ST_QUOTE_MAX + 4)
const char *zipc__st_quote(char q[ZIPC__ST_QUOTE_LEN], const char *s, size_t len);

/* Is s[0..n) well-formed UTF-8 (the rules the reader applies to names)? */
bool zipc__utf8_valid(const uint8_t *s, size_t n);

/* Free what zipc__st_parse allocated and empty *f (idempotent). */
void zipc__st_free(struct zipc__st_file *f);

#endif /* ZIPC_SAFETENSORS_H */

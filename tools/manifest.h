/* A store's manifest: what `zipc store manifest NAME` writes and
 * `zipc store verify NAME --manifest FILE` checks a store against.
 *
 * Format: a safetensors header (src/safetensors.h), so that it is read by
 * the store's own strict, fuzzed JSON reader rather than a second parser:
 *
 *   {"__metadata__": {"zipc.store": "NAME", "zipc.version": "3",
 *                     "xxh3:TENSOR": "0123456789abcdef", ...},
 *    "TENSOR": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
 *
 * Each tensor's entry gives its dtype and shape; its byte size is
 * data_offsets[1] - data_offsets[0] (the reader checks it against shape and
 * dtype; the offsets are those of a packed file in name order and mean
 * nothing else). Its XXH3-64 (seed 0, 16 hex digits) is the metadata value
 * of "xxh3:" + its name. The store's name and version are recorded for
 * people; a check compares tensors only.
 *
 * A manifest is untrusted input: every safetensors header rule holds, and
 * on top of them ("manifest: ..." messages): "zipc.store" and
 * "zipc.version" (a decimal integer) present, every tensor has exactly one
 * checksum of 16 hex digits, and every other key is such a checksum of a
 * tensor of the manifest. Fuzzed by tests/fuzz/fuzz_manifest.c. */
#ifndef ZIPC_TOOLS_MANIFEST_H
#define ZIPC_TOOLS_MANIFEST_H

#include <stdint.h>
#include <stdio.h>

#include "safetensors.h"
#include "zipc/store.h"

struct zt_manifest {
    struct zipc__st_file file; /* the tensors (file.tensors, file.ntensors; by name: file.by_name) */
    uint64_t *xxh3;            /* per file.tensors[k] */
    const char *store;         /* "zipc.store", NUL-terminated (may hold NUL: store_len) */
    size_t store_len;
    uint64_t version;          /* "zipc.version" */
};

/* Read the manifest json[0..len). 0, or -EBADMSG / -EFBIG / -ENOMEM with a
 * NUL-terminated reason in why (if why_len > 0). Free with zt_manifest_free
 * (harmless after a failure). */
int zt_manifest_parse(const uint8_t *json, size_t len, struct zt_manifest *m, char *why, size_t why_len);
void zt_manifest_free(struct zt_manifest *m);

/* Write the manifest of store s, published as `name`, to f (one line). */
void zt_manifest_write(FILE *f, const zipc_store *s, const char *name);

#endif

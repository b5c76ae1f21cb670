/* zipc tensor store: named, read-only tensors (model weights) published once
 * into shared memory and mapped by any number of processes, zero-copy.
 *
 * Model
 *   zipc_store_publish copies tensors (from memory, or from a safetensors
 *   file read strictly) into one new segment: a binary table (name, dtype,
 *   shape, strides, offset, size, XXH3-64 checksum), the metadata pairs, and
 *   the data, each tensor re-aligned (64 bytes by default, 4 KiB or 2 MiB
 *   by option). The segment is then sealed against writes (F_SEAL_WRITE):
 *   nobody, the publisher included, can change a published version; every
 *   handle maps it PROT_READ, so a write through a tensor pointer faults
 *   (SIGSEGV) and mprotect(PROT_WRITE) fails.
 *
 *   Holders. The publisher's handle and every opened handle are holders of
 *   their version. Each holder serves the name (a door of its own, see
 *   docs/DESIGN.md §14.2) while its version is the newest; openers get the
 *   memory from any of them, so the publisher may exit or die and the store
 *   lives on while any holder lives. Nothing is left once the last holder
 *   has gone: no file, no name, no memory (the kernel frees the segment with
 *   its last fd and mapping; there is no reference count to leak).
 *
 *   Versions. Publishing a name again creates version + 1 in a new segment;
 *   from the moment it is announced, opens get it. Handles of the old
 *   version keep it unchanged for as long as they live (they stop serving
 *   the name); its memory goes with its last holder.
 *   zipc_store_latest tells a holder whether a newer version exists.
 *
 * Contract
 *   Concurrency: a handle is immutable once returned; its queries
 *     (count, tensor_at, find, metadata, verify, version, latest) may be
 *     called from any number of threads at once. zipc_store_close must not
 *     race with them. Pointers it gave (names, data) are valid until close.
 *     Publish and open may be called from any thread.
 *   Blocking: publish and open do system calls and handshakes bounded by
 *     opts->options.timeout_ns (a concurrent publisher of the same name is
 *     waited for). Publish copies and hashes every byte; verify hashes the
 *     tensors asked for (all of a store of 16 MiB or more: in up to 8
 *     threads, one tensor per thread at a time). The other queries never
 *     block and make no system call.
 *   Allocation: publish, open and close allocate or free; queries do not.
 *   Threads and descriptors: each handle keeps the segment's fd, the name's
 *     board, a door socket and a helper thread (the door) while it serves.
 *   fork: a child inherits the mapping (it stays valid) but not the handle's
 *     door (closed in the child at the fork): it may read through the
 *     inherited handle and close it, which leaves the parent's untouched;
 *     it serves nothing (open a handle of its own for that).
 *   Trust: an opened segment is validated whole before use (header, table,
 *     strings, every tensor's bounds, sizes and order): -EBADMSG, never a
 *     crash. Its seals guarantee the bytes cannot change after that.
 *
 * Errors: -EINVAL (bad argument: dtype, shape, size, duplicate or invalid
 * name, alignment), -ENOENT (no holder serves the name; no such tensor),
 * -EBADMSG (a hostile or corrupt segment; a safetensors file breaking a rule;
 * a checksum mismatch in verify), -EFBIG (larger than max_segment), -ENOMEM,
 * -ETIMEDOUT, -EPROTO, or a system errno.
 */
#ifndef ZIPC_STORE_H
#define ZIPC_STORE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct zipc_store zipc_store;

/* The dtypes of safetensors (stored as u32 in the table). */
enum zipc_store_dtype {
    ZIPC_STORE_BOOL = 0,
    ZIPC_STORE_U8,
    ZIPC_STORE_I8,
    ZIPC_STORE_U16,
    ZIPC_STORE_I16,
    ZIPC_STORE_U32,
    ZIPC_STORE_I32,
    ZIPC_STORE_U64,
    ZIPC_STORE_I64,
    ZIPC_STORE_F16,
    ZIPC_STORE_BF16,
    ZIPC_STORE_F32,
    ZIPC_STORE_F64,
    ZIPC_STORE_C64,
    ZIPC_STORE_F8_E4M3,
    ZIPC_STORE_F8_E5M2,
    ZIPC_STORE_F8_E4M3FNUZ,
    ZIPC_STORE_F8_E5M2FNUZ,
    ZIPC_STORE_F8_E8M0,
    ZIPC_STORE_F6_E2M3, /* 6 bits an element, packed */
    ZIPC_STORE_F6_E3M2,
    ZIPC_STORE_F4,      /* 4 bits an element, packed */
    ZIPC_STORE_NDTYPES
};

/* A tensor to publish: C-contiguous data of exactly size bytes
 * (elements * bits / 8). */
struct zipc_store_tensor {
    const char *name;      /* UTF-8, 1 .. UINT32_MAX bytes, unique in the store */
    uint32_t dtype;        /* enum zipc_store_dtype */
    uint32_t ndim;         /* 0 .. ZIPC_STORE_MAX_NDIM */
    int64_t shape[ZIPC_STORE_MAX_NDIM];
    const void *data;      /* may be NULL when size is 0 */
    uint64_t size;
};

/* A metadata pair (key: UTF-8 C string; value: UTF-8, value_len bytes). */
struct zipc_store_kv {
    const char *key;
    const char *value;
    size_t value_len;
};

enum zipc_store_flags {
    ZIPC_STORE_PREFAULT = 1u << 0, /* open: read-fault every page now (MADV_POPULATE_READ) */
    ZIPC_STORE_VERIFY = 1u << 1,   /* open: verify every checksum before returning */
    /* publish: back the version with 2 MiB pages where the kernel has them:
     * hugetlb pages if enough reserved ones are free (vm.nr_hugepages), else
     * ordinary shared memory asking for transparent huge pages (MADV_HUGEPAGE,
     * honoured when /sys/kernel/mm/transparent_hugepage/shmem_enabled allows);
     * never an error. zipc_store_page_size says what the version got. */
    ZIPC_STORE_HUGE_PAGES = 1u << 2,
};

/* A zeroed struct, or NULL, means all defaults. */
struct zipc_store_options {
    struct zipc_options options; /* timeout_ns, peer uid, label, max_segment (0: 1 TiB) */
    uint64_t align;              /* publish: 0 (64), 64, 4096 or 2 MiB (any power of two between) */
    uint32_t flags;              /* enum zipc_store_flags */
    uint32_t reserved;           /* 0 */
    const struct zipc_store_kv *metadata; /* publish: pairs stored with the tensors */
    size_t nmeta;                /* publish_safetensors: added after the file's own */
    char *error;                 /* publish_safetensors: if not NULL, an -EBADMSG's reason */
    size_t error_len;            /* (the rule the file breaks and where), NUL-terminated */
};

/* What a handle shows of one tensor; pointers into the read-only mapping. */
struct zipc_store_info {
    const char *name;      /* NUL-terminated */
    size_t name_len;
    uint32_t dtype;        /* enum zipc_store_dtype */
    uint32_t bits;         /* per element: 4, 6, 8, 16, 32 or 64 */
    uint32_t ndim;
    uint32_t index;        /* in name order: zipc_store_tensor_at(s, index) */
    int64_t shape[ZIPC_STORE_MAX_NDIM];
    int64_t strides[ZIPC_STORE_MAX_NDIM]; /* in elements */
    const void *data;      /* aligned as the store was published (>= 64 bytes) */
    uint64_t size;
    uint64_t xxh3;         /* the checksum recorded at publish */
};

#define ZIPC_STORE_ALL ((size_t)-1)

/* Publish tensors[0..n) (and opts->metadata) as the newest version of
 * `name` (a name, no '/'); *out is the publisher's handle, a holder like any
 * other. */
int zipc_store_publish(zipc_store **out, const char *name, const struct zipc_store_tensor *tensors,
                       size_t n, const struct zipc_store_options *opts);
/* The same from a safetensors file (every rule checked: -EBADMSG otherwise;
 * the file's __metadata__ kept, then opts->metadata). */
int zipc_store_publish_safetensors(zipc_store **out, const char *name, const char *path,
                                   const struct zipc_store_options *opts);
/* Open the newest version of `name` served by a holder. */
int zipc_store_open(zipc_store **out, const char *name, const struct zipc_store_options *opts);
/* Leave: unmap, stop serving. The version's memory goes with its last holder. */
int zipc_store_close(zipc_store *s);

int zipc_store_count(const zipc_store *s);   /* tensors, or -EINVAL */
int zipc_store_tensor_at(const zipc_store *s, size_t i, struct zipc_store_info *info); /* -ENOENT past the end */
int zipc_store_find(const zipc_store *s, const char *name, struct zipc_store_info *info); /* -ENOENT */
/* Recompute the XXH3 of tensor i (or of every tensor: ZIPC_STORE_ALL, in
 * parallel for a large store) and compare it with the table's: 0, -EBADMSG
 * on a mismatch, -ENOENT. */
int zipc_store_verify(const zipc_store *s, size_t i);
int zipc_store_metadata_count(const zipc_store *s);
int zipc_store_metadata_at(const zipc_store *s, size_t i, struct zipc_store_kv *kv); /* by key order */
int zipc_store_metadata(const zipc_store *s, const char *key, struct zipc_store_kv *kv); /* -ENOENT */
uint64_t zipc_store_version(const zipc_store *s);
/* The newest version published under the handle's name as its board says
 * (>= zipc_store_version): a holder polls it to learn of a new version. */
uint64_t zipc_store_latest(const zipc_store *s);
/* The page size of the version's memory: 2 MiB when it is hugetlb pages
 * (ZIPC_STORE_HUGE_PAGES, honoured), else the base page size. */
size_t zipc_store_page_size(const zipc_store *s);
/* The segment mapped (base, bytes), e.g. for cudaHostRegister. */
const void *zipc_store_base(const zipc_store *s, size_t *size);

/* Bits per element of a dtype, or 0 for an unknown one; its name ("F32"). */
unsigned zipc_store_dtype_bits(uint32_t dtype);
const char *zipc_store_dtype_name(uint32_t dtype);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* ZIPC_STORE_H */

/* Store: named read-only tensors (include/zipc/store.h; the files are
 * listed in src/store.h, the design is docs/DESIGN.md §14).
 *
 * This file: the validation of a version's segment (whatever any holder
 * hands an opener is checked whole before use), the kind's descriptor and
 * bind, the queries, verify, close. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL /* header-only: libzipc keeps no link dependency */
#include <xxhash.h>

#include "safetensors.h"
#include "store.h"

_Static_assert(ZIPC_STORE_MAX_NDIM == ZIPC__ST_MAX_NDIM, "shapes as the reader's");

unsigned zipc_store_dtype_bits(uint32_t dtype)
{
    const struct zipc__st_dtype_info *d = zipc__st_dtype_info((enum zipc_store_dtype)dtype);
    return d ? d->bits : 0;
}

const char *zipc_store_dtype_name(uint32_t dtype)
{
    const struct zipc__st_dtype_info *d = zipc__st_dtype_info((enum zipc_store_dtype)dtype);
    return d ? d->name : NULL;
}

/* ------------------------------------------------------------------------
 * Validation. The segment carries F_SEAL_WRITE (the attach policy requires
 * it), so its bytes cannot change: what is checked here holds for good and
 * the handle points into the mapping afterwards.
 * ------------------------------------------------------------------------ */

/* Is a string [off, off + len] (its NUL included) inside the strings area,
 * NUL-terminated, and well-formed UTF-8 (without NUL when no_nul)? */
static bool string_ok(const char *strings, uint64_t size, uint64_t off, uint64_t len, bool no_nul)
{
    if (off > size || len >= size - off || strings[off + len] != '\0')
        return false;
    if (no_nul && memchr(strings + off, '\0', len))
        return false;
    return zipc__utf8_valid((const uint8_t *)strings + off, len);
}

/* Bytewise order, a prefix first: <0, 0, >0. */
static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

/* The element count of a shape (the product of its non-zero dimensions
 * must fit in int64, in any order: the reader's rule), C-order strides. */
static bool shape_ok(const struct zipc_store_entry *e, uint64_t *count)
{
    uint64_t nonzero = 1, stride = 1;
    bool empty = false;
    for (unsigned i = e->ndim; i-- > 0;) {
        if (e->shape[i] < 0 || e->strides[i] != (int64_t)stride)
            return false;
        if (e->shape[i] == 0)
            empty = true;
        else if (__builtin_mul_overflow(nonzero, (uint64_t)e->shape[i], &nonzero) || nonzero > INT64_MAX)
            return false;
        stride *= (uint64_t)e->shape[i]; /* <= nonzero, or 0 once empty */
    }
    for (unsigned i = e->ndim; i < ZIPC_STORE_MAX_NDIM; i++)
        if (e->shape[i] || e->strides[i])
            return false;
    *count = empty ? 0 : nonzero;
    return true;
}

static int check_entry(const struct zipc_store_ctl *c, const char *strings, const struct zipc_store_entry *e,
                       const struct zipc_store_entry *prev, uint64_t *data_end)
{
    unsigned bits = zipc_store_dtype_bits(e->dtype);
    uint64_t count, nbits;
    if (!bits || e->ndim > ZIPC_STORE_MAX_NDIM || !shape_ok(e, &count) || e->name_len == 0 ||
        !string_ok(strings, c->strings_size, e->name_offset, e->name_len, true))
        return -EBADMSG;
    if (__builtin_mul_overflow(count, bits, &nbits) || nbits % 8 || e->nbytes != nbits / 8)
        return -EBADMSG;
    if (prev && name_cmp(strings + prev->name_offset, prev->name_len, strings + e->name_offset, e->name_len) >= 0)
        return -EBADMSG; /* sorted and unique */
    uint64_t data_limit = c->data_offset + c->data_size; /* checked against the segment */
    if (e->data_offset % c->align || e->data_offset < *data_end || e->data_offset > data_limit ||
        e->nbytes > data_limit - e->data_offset)
        return -EBADMSG; /* in the data area, in table order, no overlap */
    *data_end = e->data_offset + e->nbytes;
    return 0;
}

static int check_meta(const struct zipc_store_ctl *c, const char *strings, const struct zipc_store_meta *m,
                      const struct zipc_store_meta *prev)
{
    if (m->key_len == 0 || !string_ok(strings, c->strings_size, m->key_offset, m->key_len, true) ||
        !string_ok(strings, c->strings_size, m->value_offset, m->value_len, false))
        return -EBADMSG;
    if (prev && name_cmp(strings + prev->key_offset, prev->key_len, strings + m->key_offset, m->key_len) >= 0)
        return -EBADMSG;
    return 0;
}

/* The areas follow each other exactly as the publisher lays them out. */
static int check_ctl(const struct zipc_store_ctl *c, uint64_t size)
{
    const struct zipc_segment_header *h = (const void *)((const uint8_t *)c - ZIPC_STORE_BODY_OFFSET);
    if (h->body_offset != ZIPC_STORE_BODY_OFFSET || h->body_size != sizeof(*c) || size < ZIPC_STORE_TABLE_OFFSET)
        return -EBADMSG;
    if (c->magic != ZIPC_STORE_MAGIC || c->version == 0 || c->ntensors > ZIPC_STORE_MAX_TENSORS ||
        c->nmeta > ZIPC_STORE_MAX_META || c->align < ZIPC_STORE_MIN_ALIGN || c->align > ZIPC_STORE_MAX_ALIGN ||
        (c->align & (c->align - 1)) || c->table_offset != ZIPC_STORE_TABLE_OFFSET)
        return -EBADMSG;
    /* no overflow below: the counts are bounded above */
    uint64_t meta = c->table_offset + (uint64_t)c->ntensors * sizeof(struct zipc_store_entry);
    uint64_t strings = meta + (uint64_t)c->nmeta * sizeof(struct zipc_store_meta);
    if (c->meta_offset != meta || c->strings_offset != strings || strings > size ||
        c->strings_size > size - strings)
        return -EBADMSG;
    uint64_t data = zipc__align_up(strings + c->strings_size, c->align);
    if (c->data_offset != data || data > size || c->data_size > size - data)
        return -EBADMSG;
    return 0;
}

int zipc__store_check(const uint8_t *base, uint64_t size)
{
    if (size < ZIPC_STORE_TABLE_OFFSET)
        return -EBADMSG;
    const struct zipc_store_ctl *c = (const void *)(base + ZIPC_STORE_BODY_OFFSET);
    int err = check_ctl(c, size);
    if (err)
        return err;
    const struct zipc_store_entry *e = (const void *)(base + c->table_offset);
    const struct zipc_store_meta *m = (const void *)(base + c->meta_offset);
    const char *strings = (const char *)base + c->strings_offset;
    uint64_t data_end = c->data_offset;
    for (uint32_t i = 0; i < c->ntensors && !err; i++)
        err = check_entry(c, strings, &e[i], i ? &e[i - 1] : NULL, &data_end);
    for (uint32_t i = 0; i < c->nmeta && !err; i++)
        err = check_meta(c, strings, &m[i], i ? &m[i - 1] : NULL);
    return err;
}

void zipc__store_adopt_version(zipc_store *s, struct zipc__segment *seg)
{
    s->seg = *seg;
    *seg = (struct zipc__segment){.fd = -1};
    s->ctl = (const void *)(s->seg.base + ZIPC_STORE_BODY_OFFSET);
    s->entries = (const void *)(s->seg.base + s->ctl->table_offset);
    s->meta = (const void *)(s->seg.base + s->ctl->meta_offset);
    s->strings = (const char *)s->seg.base + s->ctl->strings_offset;
    s->ntensors = s->ctl->ntensors;
    s->nmeta = s->ctl->nmeta;
    s->version = s->ctl->version;
}

/* ------------------------------------------------------------------------
 * The kind
 * ------------------------------------------------------------------------ */

/* Readers: PROT_READ, F_SEAL_WRITE required (the bytes never change), not
 * pre-faulted (ZIPC_STORE_PREFAULT asks for it after the checks). */
static struct zipc__segment_policy store_policy(uint64_t max_size)
{
    return zipc__segment_policy_ro(max_size, F_SEAL_WRITE, false);
}

static int board_attach(zipc_store *s, int fd)
{
    struct zipc__segment b;
    int err = zipc__segment_attach(&b, zipc__segment_policy_rw(ZIPC_STORE_BOARD_SIZE), fd, ZIPC_KIND_STORE_BOARD);
    if (err)
        return err;
    const struct zipc_segment_header *h = (const void *)b.base;
    if (b.size != ZIPC_STORE_BOARD_SIZE || h->body_offset != ZIPC_STORE_BODY_OFFSET ||
        h->body_size != sizeof(struct zipc_store_board)) {
        b.fd = -1; /* still the caller's */
        zipc__segment_close(&b);
        return -EBADMSG;
    }
    s->board_seg = b;
    s->board = (struct zipc_store_board *)(b.base + ZIPC_STORE_BODY_OFFSET);
    return 0;
}

/* The version first (nothing taken if it is bad), then the board. */
static int store_bind(void *ep, struct zipc__handover *h, const struct zipc__opts *o)
{
    (void)o;
    zipc_store *s = ep;
    int err = zipc__store_check(h->seg.base, h->seg.size);
    if (err)
        return err;
    const struct zipc_store_ctl *c = (const void *)(h->seg.base + ZIPC_STORE_BODY_OFFSET);
    if ((err = zipc__segment_realign(&h->seg, c->align)) || (err = board_attach(s, h->fds[ZIPC__FD_STORE_BOARD])))
        return err;
    h->fds[ZIPC__FD_STORE_BOARD] = -1;
    zipc__store_adopt_version(s, &h->seg);
    return 0;
}

const struct zipc__kind_desc zipc__store_kind = {
    .kind = ZIPC_KIND_TENSOR_STORE,
    .nfds = ZIPC__STORE_NFDS,
    .roles = 1u << ZIPC_ROLE_CONSUMER,
    .segment_fds = 1u << ZIPC__FD_STORE_BOARD,
    .body_offset = ZIPC_STORE_BODY_OFFSET,
    .body_size = sizeof(struct zipc_store_ctl),
    .max_segment = ZIPC__STORE_MAX_SEGMENT,
    .policy = store_policy,
    .init_body = NULL, /* never made by zipc__handover_create: store_publish.c builds versions */
    .bind = store_bind,
};

zipc_store *zipc__store_new(void)
{
    zipc_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->seg.fd = s->board_seg.fd = -1;
    s->lsock = s->stop_fd = -1;
    return s;
}

void zipc__store_free(zipc_store *s)
{
    zipc__store_stop(s);
    zipc__segment_close(&s->seg);
    zipc__segment_close(&s->board_seg);
    free(s);
}

int zipc__store_adopt(zipc_store **out, int fds[ZIPC__STORE_NFDS], const struct zipc__opts *o)
{
    zipc_store *s = zipc__store_new();
    if (!s)
        return -ENOMEM;
    struct zipc__peer none = {.sock = -1};
    struct stat st; /* the size a door would announce: the file's own */
    int err = fstat(fds[ZIPC__FD_SEGMENT], &st) < 0 ? -errno : 0;
    if (!err)
        err = zipc__endpoint_adopt(&zipc__store_kind, s, fds, ZIPC_ROLE_CONSUMER, &none, o, (uint64_t)st.st_size);
    if (err) {
        zipc__store_free(s);
        return err;
    }
    *out = s;
    return 0;
}

int zipc__store_setup(zipc_store *s, const char *name, const struct zipc_store_options *opts)
{
    static const struct zipc_store_options defaults;
    if (!opts)
        opts = &defaults;
    if (!name || strchr(name, '/') || opts->reserved ||
        (opts->flags & ~(uint32_t)(ZIPC_STORE_PREFAULT | ZIPC_STORE_VERIFY | ZIPC_STORE_HUGE_PAGES)))
        return -EINVAL; /* a store is found by name only: its doors are "<name>#k" */
    int err = zipc__opts_resolve(&opts->options, &s->opts);
    if (err)
        return err;
    if (!opts->options.max_segment)
        s->opts.max_segment = ZIPC__STORE_MAX_SEGMENT; /* address space, not memory: not pre-faulted */
    s->flags = opts->flags;
    return zipc__addr_resolve(name, zipc__lookup_uid(&s->opts), &s->addr);
}

/* ------------------------------------------------------------------------
 * Queries
 * ------------------------------------------------------------------------ */

int zipc_store_count(const zipc_store *s) { return s ? (int)s->ntensors : -EINVAL; }
int zipc_store_metadata_count(const zipc_store *s) { return s ? (int)s->nmeta : -EINVAL; }
uint64_t zipc_store_version(const zipc_store *s) { return s ? s->version : 0; }

uint64_t zipc_store_latest(const zipc_store *s)
{
    if (!s)
        return 0;
    /* relaxed: a hint read once; any holder may write the board */
    uint64_t l = zipc__load(&s->board->latest, ZIPC__RELAXED);
    return l > s->version ? l : s->version;
}

size_t zipc_store_page_size(const zipc_store *s)
{
    struct stat st;
    if (!s || fstat(s->seg.fd, &st) < 0)
        return 0;
    return st.st_blksize > 0 ? (size_t)st.st_blksize : ZIPC_PAGE; /* hugetlbfs: its page size */
}

const void *zipc_store_base(const zipc_store *s, size_t *size)
{
    if (!s)
        return NULL;
    if (size)
        *size = (size_t)s->seg.size;
    return s->seg.base;
}

int zipc_store_tensor_at(const zipc_store *s, size_t i, struct zipc_store_info *info)
{
    if (!s || !info)
        return -EINVAL;
    if (i >= s->ntensors)
        return -ENOENT;
    const struct zipc_store_entry *e = &s->entries[i];
    *info = (struct zipc_store_info){.name = s->strings + e->name_offset,
                                     .name_len = e->name_len,
                                     .dtype = e->dtype,
                                     .bits = zipc_store_dtype_bits(e->dtype),
                                     .ndim = e->ndim,
                                     .index = (uint32_t)i,
                                     .data = s->seg.base + e->data_offset,
                                     .size = e->nbytes,
                                     .xxh3 = e->xxh3};
    memcpy(info->shape, e->shape, sizeof(info->shape));
    memcpy(info->strides, e->strides, sizeof(info->strides));
    return 0;
}

int zipc_store_find(const zipc_store *s, const char *name, struct zipc_store_info *info)
{
    if (!s || !name || !info)
        return -EINVAL;
    size_t len = strlen(name), lo = 0, hi = s->ntensors;
    while (lo < hi) { /* the table is sorted by name (checked at bind) */
        size_t mid = lo + (hi - lo) / 2;
        const struct zipc_store_entry *e = &s->entries[mid];
        int c = name_cmp(s->strings + e->name_offset, e->name_len, name, len);
        if (c == 0)
            return zipc_store_tensor_at(s, mid, info);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -ENOENT;
}

int zipc_store_metadata_at(const zipc_store *s, size_t i, struct zipc_store_kv *kv)
{
    if (!s || !kv)
        return -EINVAL;
    if (i >= s->nmeta)
        return -ENOENT;
    const struct zipc_store_meta *m = &s->meta[i];
    *kv = (struct zipc_store_kv){.key = s->strings + m->key_offset, .value = s->strings + m->value_offset,
                                 .value_len = m->value_len};
    return 0;
}

int zipc_store_metadata(const zipc_store *s, const char *key, struct zipc_store_kv *kv)
{
    if (!s || !key || !kv)
        return -EINVAL;
    size_t len = strlen(key), lo = 0, hi = s->nmeta;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct zipc_store_meta *m = &s->meta[mid];
        int c = name_cmp(s->strings + m->key_offset, m->key_len, key, len);
        if (c == 0)
            return zipc_store_metadata_at(s, mid, kv);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -ENOENT;
}

static int verify_one(const zipc_store *s, size_t i)
{
    const struct zipc_store_entry *e = &s->entries[i];
    return XXH3_64bits(s->seg.base + e->data_offset, (size_t)e->nbytes) == e->xxh3 ? 0 : -EBADMSG;
}

/* verify(ALL) of a store this large hashes tensors in parallel, one
 * tensor at a time per thread (XXH3 of one tensor is one sequential pass). */
#define VERIFY_PARALLEL_MIN (UINT64_C(16) << 20)
#define VERIFY_MAX_THREADS 8

struct verify_job {
    const zipc_store *s;
    uint32_t next; /* the next tensor to take (fetch-add) */
    int bad;       /* a mismatch was found */
};

static void *verify_worker(void *arg)
{
    struct verify_job *j = arg;
    for (;;) {
        /* relaxed: a work counter; the result is published by pthread_join */
        uint32_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (i >= j->s->ntensors || __atomic_load_n(&j->bad, __ATOMIC_RELAXED))
            return NULL;
        if (verify_one(j->s, i))
            __atomic_store_n(&j->bad, 1, __ATOMIC_RELAXED);
    }
}

static int verify_all(const zipc_store *s)
{
    uint64_t total = 0;
    for (uint32_t k = 0; k < s->ntensors; k++)
        total += s->entries[k].nbytes; /* each within the segment: no overflow */
    long cpus = total < VERIFY_PARALLEL_MIN ? 1 : sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = cpus < 1 ? 1 : cpus > VERIFY_MAX_THREADS ? VERIFY_MAX_THREADS : (unsigned)cpus;
    if (n > s->ntensors)
        n = s->ntensors ? s->ntensors : 1;
    struct verify_job j = {.s = s};
    pthread_t t[VERIFY_MAX_THREADS];
    unsigned started = 0;
    while (started + 1 < n && pthread_create(&t[started], NULL, verify_worker, &j) == 0)
        started++; /* fewer threads if the system refuses more */
    verify_worker(&j);
    for (unsigned k = 0; k < started; k++)
        pthread_join(t[k], NULL);
    return j.bad ? -EBADMSG : 0;
}

int zipc_store_verify(const zipc_store *s, size_t i)
{
    if (!s)
        return -EINVAL;
    if (i != ZIPC_STORE_ALL)
        return i < s->ntensors ? verify_one(s, i) : -ENOENT;
    return verify_all(s);
}

int zipc_store_close(zipc_store *s)
{
    if (s)
        zipc__store_free(s);
    return 0;
}

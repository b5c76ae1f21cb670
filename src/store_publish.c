/* Store: publishing a version (docs/DESIGN.md §14.2).
 *
 * The arguments are checked, the tensors and metadata sorted, the layout
 * computed; then, holding the name's lock, the newest served version (if
 * any) gives the number and the board; the new segment is filled (each
 * tensor copied and hashed in one pass), sealed with F_SEAL_WRITE, served,
 * and announced on the board. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "safetensors.h"
#include "store.h"

#define COPY_CHUNK (256u << 10) /* copied, then hashed while still in cache */

/* One string of the strings area: bytes, then a NUL. */
struct str {
    const char *p;
    size_t len;
};

struct plan {
    const struct zipc_store_tensor *t;
    size_t n;
    size_t *order;       /* tensors by name */
    struct str *names;   /* per tensor (input order) */
    size_t nmeta;
    struct zipc_store_kv *meta; /* sorted by key */
    uint64_t align, strings_size, data_offset, data_size, size;
    bool huge_pages;
};

static void plan_free(struct plan *p)
{
    free(p->order);
    free(p->names);
    free(p->meta);
}

static int str_cmp(const struct str *a, const struct str *b)
{
    int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Tensor indexes by their names (qsort_r's context: the names). */
static int order_cmp(const void *a, const void *b, void *names)
{
    const struct str *n = names;
    return str_cmp(&n[*(const size_t *)a], &n[*(const size_t *)b]);
}
static int kv_cmp(const void *a, const void *b)
{
    const struct zipc_store_kv *x = a, *y = b;
    struct str sx = {x->key, strlen(x->key)}, sy = {y->key, strlen(y->key)};
    return str_cmp(&sx, &sy);
}

static bool text_ok(const char *s, size_t len) { return zipc__utf8_valid((const uint8_t *)s, len); }

static int check_tensor(const struct zipc_store_tensor *t, struct str *name)
{
    unsigned bits = zipc_store_dtype_bits(t->dtype);
    if (!t->name || !bits || t->ndim > ZIPC_STORE_MAX_NDIM || (t->size && !t->data))
        return -EINVAL;
    name->p = t->name;
    name->len = strlen(t->name);
    if (name->len == 0 || name->len > UINT32_MAX || !text_ok(name->p, name->len))
        return -EINVAL;
    uint64_t nonzero = 1, nbits;
    bool empty = false;
    for (unsigned i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0)
            return -EINVAL;
        if (t->shape[i] == 0)
            empty = true;
        else if (__builtin_mul_overflow(nonzero, (uint64_t)t->shape[i], &nonzero) || nonzero > INT64_MAX)
            return -EINVAL;
    }
    if (__builtin_mul_overflow(empty ? 0 : nonzero, bits, &nbits) || nbits % 8 || t->size != nbits / 8)
        return -EINVAL;
    return 0;
}

static int add_size(uint64_t *sum, uint64_t v) { return __builtin_add_overflow(*sum, v, sum) ? -EFBIG : 0; }

/* Check everything, sort, and lay the version out. */
static int plan_make(struct plan *p, const struct zipc_store_tensor *t, size_t n,
                     const struct zipc_store_options *o)
{
    *p = (struct plan){.t = t, .n = n};
    p->align = o->align ? o->align : ZIPC_STORE_MIN_ALIGN;
    if ((n && !t) || n > ZIPC_STORE_MAX_TENSORS || o->nmeta > ZIPC_STORE_MAX_META || (o->nmeta && !o->metadata) ||
        p->align < ZIPC_STORE_MIN_ALIGN || p->align > ZIPC_STORE_MAX_ALIGN || (p->align & (p->align - 1)))
        return -EINVAL;
    p->order = malloc((n ? n : 1) * sizeof(*p->order));
    p->names = malloc((n ? n : 1) * sizeof(*p->names));
    p->meta = malloc((o->nmeta ? o->nmeta : 1) * sizeof(*p->meta));
    if (!p->order || !p->names || !p->meta)
        return -ENOMEM;
    int err = 0;
    uint64_t strings = 0;
    for (size_t i = 0; i < n && !err; i++) {
        p->order[i] = i;
        if (!(err = check_tensor(&t[i], &p->names[i])))
            err = add_size(&strings, p->names[i].len + 1);
    }
    for (size_t i = 0; i < o->nmeta && !err; i++) {
        const struct zipc_store_kv *kv = &o->metadata[i];
        size_t klen = kv->key ? strlen(kv->key) : 0;
        if (!klen || klen > UINT32_MAX || !text_ok(kv->key, klen) || kv->value_len > UINT32_MAX ||
            (kv->value_len && !kv->value) || !text_ok(kv->value, kv->value_len))
            err = -EINVAL;
        else
            err = add_size(&strings, (uint64_t)klen + kv->value_len + 2);
        p->meta[i] = *kv;
    }
    if (err)
        return err;
    p->nmeta = o->nmeta;
    qsort_r(p->order, n, sizeof(*p->order), order_cmp, p->names);
    qsort(p->meta, p->nmeta, sizeof(*p->meta), kv_cmp);
    for (size_t i = 1; i < n; i++)
        if (str_cmp(&p->names[p->order[i - 1]], &p->names[p->order[i]]) == 0)
            return -EINVAL; /* a duplicate name */
    for (size_t i = 1; i < p->nmeta; i++)
        if (kv_cmp(&p->meta[i - 1], &p->meta[i]) == 0)
            return -EINVAL; /* a duplicate key */
    p->strings_size = strings;
    /* Every step is bounded by max <= ZIPC__STORE_MAX_SEGMENT (2^40): no
     * overflow as long as each addend is checked against it first. The
     * caller's max_segment bounds the publisher as it bounds an opener. */
    const uint64_t cap = o->options.max_segment, max = cap && cap < ZIPC__STORE_MAX_SEGMENT ? cap : ZIPC__STORE_MAX_SEGMENT;
    uint64_t end = ZIPC_STORE_TABLE_OFFSET + (uint64_t)n * sizeof(struct zipc_store_entry) +
                   (uint64_t)p->nmeta * sizeof(struct zipc_store_meta);
    if (strings > max || end + strings > max)
        return -EFBIG;
    p->data_offset = end = zipc__align_up(end + strings, p->align);
    for (size_t k = 0; k < n; k++) {
        uint64_t size = t[p->order[k]].size;
        end = zipc__align_up(end, p->align);
        if (size > max || end + size > max)
            return -EFBIG;
        end += size;
    }
    p->data_size = end - p->data_offset;
    p->huge_pages = o->flags & ZIPC_STORE_HUGE_PAGES;
    /* hugetlb memory comes in whole huge pages (a smaller version asks for none) */
    p->size = zipc__align_up(end, p->huge_pages && end >= ZIPC_HUGE_PAGE ? ZIPC_HUGE_PAGE : ZIPC_PAGE);
    return p->size > max ? -EFBIG : 0;
}

/* Copy n bytes to dst and return their XXH3, hashing each chunk right
 * after copying it (it is still in cache). */
static uint64_t copy_hash(uint8_t *dst, const uint8_t *src, uint64_t n)
{
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    for (uint64_t off = 0; off < n;) {
        size_t c = n - off < COPY_CHUNK ? (size_t)(n - off) : COPY_CHUNK;
        memcpy(dst + off, src + off, c);
        XXH3_64bits_update(&st, dst + off, c);
        off += c;
    }
    return XXH3_64bits_digest(&st);
}

static uint64_t put_string(char *strings, uint64_t *pos, const char *s, size_t len)
{
    uint64_t at = *pos;
    if (len)
        memcpy(strings + at, s, len);
    strings[at + len] = '\0';
    *pos += len + 1;
    return at;
}

/* Fill a new segment (zeroed by the kernel) with the planned version. */
static void fill(uint8_t *base, const struct plan *p, uint64_t version)
{
    struct zipc_store_ctl *c = (void *)(base + ZIPC_STORE_BODY_OFFSET);
    *c = (struct zipc_store_ctl){.magic = ZIPC_STORE_MAGIC, .version = version, .ntensors = (uint32_t)p->n,
                                 .nmeta = (uint32_t)p->nmeta, .align = (uint32_t)p->align,
                                 .table_offset = ZIPC_STORE_TABLE_OFFSET,
                                 .meta_offset = ZIPC_STORE_TABLE_OFFSET + p->n * sizeof(struct zipc_store_entry)};
    c->strings_offset = c->meta_offset + p->nmeta * sizeof(struct zipc_store_meta);
    c->strings_size = p->strings_size;
    c->data_offset = p->data_offset;
    c->data_size = p->data_size;
    struct zipc_store_entry *e = (void *)(base + c->table_offset);
    struct zipc_store_meta *m = (void *)(base + c->meta_offset);
    char *strings = (char *)base + c->strings_offset;
    uint64_t spos = 0, dpos = p->data_offset;
    for (size_t k = 0; k < p->n; k++) {
        const struct zipc_store_tensor *t = &p->t[p->order[k]];
        const struct str *name = &p->names[p->order[k]];
        e[k].name_offset = put_string(strings, &spos, name->p, name->len);
        e[k].name_len = (uint32_t)name->len;
        e[k].dtype = t->dtype;
        e[k].ndim = t->ndim;
        int64_t stride = 1;
        for (unsigned i = t->ndim; i-- > 0;) {
            e[k].shape[i] = t->shape[i];
            e[k].strides[i] = stride;
            stride *= t->shape[i]; /* bounded by the element count (plan_make) */
        }
        dpos = zipc__align_up(dpos, p->align);
        e[k].data_offset = dpos;
        e[k].nbytes = t->size;
        e[k].xxh3 = copy_hash(base + dpos, t->data, t->size);
        dpos += t->size;
    }
    for (size_t i = 0; i < p->nmeta; i++) {
        const struct zipc_store_kv *kv = &p->meta[i];
        m[i].key_len = (uint32_t)strlen(kv->key);
        m[i].key_offset = put_string(strings, &spos, kv->key, m[i].key_len);
        m[i].value_len = (uint32_t)kv->value_len;
        m[i].value_offset = put_string(strings, &spos, kv->value, kv->value_len);
    }
}

/* Build version `version` of the plan into s: create, fill, seal, check. */
static int build(zipc_store *s, const struct plan *p, uint64_t version, const char *label)
{
    struct zipc__segment seg;
    struct zipc__segment_policy create = zipc__segment_policy_ro(0, 0, false); /* seal set left open */
    create.huge_pages = p->huge_pages;
    int err = zipc__segment_create(&seg, create, ZIPC_KIND_TENSOR_STORE, p->size, ZIPC_STORE_BODY_OFFSET,
                                   sizeof(struct zipc_store_ctl), label);
    if (err)
        return err;
    /* Fault the new pages in, in bulk, before writing them: ~8x cheaper than
     * one write fault per page (a kernel without MADV_POPULATE_WRITE, 5.14,
     * just faults them one by one). */
    (void)madvise(seg.base, seg.size, MADV_POPULATE_WRITE);
    fill(seg.base, p, version);
    /* F_SEAL_WRITE: from here nobody writes, us included. Then the same
     * check as any opener's (a bug here must not reach them). */
    if ((err = zipc__segment_seal_writes(&seg, true)) || (err = zipc__segment_realign(&seg, p->align)) ||
        (err = zipc__store_check(seg.base, seg.size))) {
        zipc__segment_close(&seg);
        return err;
    }
    zipc__store_adopt_version(s, &seg);
    return 0;
}

/* Under the name's lock: the next version number and the name's board
 * (the newest served version's, or a new one labelled as the versions are). */
static int next_version(zipc_store *s, int64_t deadline, uint64_t *version, const char *label)
{
    zipc_store *cur = NULL;
    int err = zipc__store_find_newest(s, &cur, deadline);
    if (err == -ENOENT)
        return zipc__store_board_create(s, label) ? -ENOMEM : (*version = 1, 0);
    if (err)
        return err;
    uint64_t latest = zipc__load(&cur->board->latest, ZIPC__ACQUIRE);
    *version = (latest > cur->version ? latest : cur->version) + 1;
    s->board_seg = cur->board_seg; /* the name's board is ours too */
    s->board = cur->board;
    cur->board_seg = (struct zipc__segment){.fd = -1};
    zipc__store_free(cur);
    return 0;
}

int zipc_store_publish(zipc_store **out, const char *name, const struct zipc_store_tensor *tensors, size_t n,
                       const struct zipc_store_options *opts)
{
    static const struct zipc_store_options defaults;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!opts)
        opts = &defaults;
    zipc_store *s = zipc__store_new();
    if (!s)
        return -ENOMEM;
    struct plan p;
    int lock = -1, err = zipc__store_setup(s, name, opts);
    if (!err)
        err = plan_make(&p, tensors, n, opts);
    else
        p = (struct plan){0};
    int64_t deadline = zipc__deadline(s->opts.timeout_ns);
    uint64_t version = 0;
    const char *label = s->opts.label ? s->opts.label : name;
    if (!err && !(err = zipc__store_lock(s, deadline, &lock)) && !(err = next_version(s, deadline, &version, label)))
        err = build(s, &p, version, label);
    if (!err && !(err = zipc__store_serve(s)))
        zipc__store_announce(s); /* new opens get it from now on */
    if (lock >= 0)
        close(lock); /* an abstract name: free at once */
    plan_free(&p);
    if (err) {
        zipc__store_free(s);
        return err;
    }
    *out = s;
    return 0;
}

/* ------------------------------------------------------------------------
 * From a safetensors file: mapped read-only, parsed strictly, copied.
 * ------------------------------------------------------------------------ */

static int map_file(const char *path, const uint8_t **base, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    int err = fstat(fd, &st) < 0 ? -errno : !S_ISREG(st.st_mode) ? -EINVAL : 0;
    *base = NULL;
    *len = err ? 0 : (size_t)st.st_size;
    if (!err && *len) {
        void *m = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            err = -errno;
        else
            *base = m;
        if (!err) /* read once, front to back: read ahead, and map the cached pages in bulk */
            (void)madvise(m, *len, MADV_SEQUENTIAL);
    }
    close(fd);
    return err;
}

int zipc_store_publish_safetensors(zipc_store **out, const char *name, const char *path,
                                   const struct zipc_store_options *opts)
{
    static const struct zipc_store_options defaults;
    if (!out || !path)
        return -EINVAL;
    *out = NULL;
    if (!opts)
        opts = &defaults;
    const uint8_t *file = NULL;
    size_t len = 0;
    int err = map_file(path, &file, &len);
    if (err)
        return err;
    struct zipc__st_file f = {0};
    char why[ZIPC__ST_WHY_LEN];
    struct zipc_store_tensor *t = NULL;
    struct zipc_store_kv *kv = NULL;
    if ((err = zipc__st_parse(file, len, &f, why, sizeof(why)))) {
        if (opts->error && opts->error_len) /* the rule the file breaks */
            snprintf(opts->error, opts->error_len, "%s: %s", path, why);
    } else {
        t = calloc(f.ntensors ? f.ntensors : 1, sizeof(*t));
        kv = calloc(f.nmeta + opts->nmeta + 1, sizeof(*kv));
        err = t && kv ? 0 : -ENOMEM;
    }
    for (size_t i = 0; !err && i < f.ntensors; i++) {
        const struct zipc__st_tensor *x = &f.tensors[i];
        t[i] = (struct zipc_store_tensor){.name = x->name, .dtype = x->dtype, .ndim = x->ndim,
                                          .data = file + x->offset, .size = x->nbytes};
        memcpy(t[i].shape, x->shape, sizeof(t[i].shape));
    }
    if (!err) {
        for (size_t i = 0; i < f.nmeta; i++)
            kv[i] = (struct zipc_store_kv){f.meta[i].key, f.meta[i].value, f.meta[i].value_len};
        if (opts->nmeta)
            memcpy(kv + f.nmeta, opts->metadata, opts->nmeta * sizeof(*kv));
        struct zipc_store_options o = *opts;
        o.metadata = kv;
        o.nmeta = f.nmeta + opts->nmeta;
        err = zipc_store_publish(out, name, t, f.ntensors, &o);
    }
    free(t);
    free(kv);
    zipc__st_free(&f);
    if (file)
        munmap((void *)file, len);
    return err;
}

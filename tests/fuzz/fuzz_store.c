/* fuzz_store: the tensor store's opener (zipc__store_adopt, what a door's
 * welcome goes through), whose segment any holder of the name may have
 * written.
 *
 * Input: the segment's bytes from the store's control block on (offset
 * 128); a valid generic header of kind 4 is put in front (fuzz_segment
 * covers that header), the image is padded to a page multiple (at most
 * 64 KiB) and sealed as a publisher seals it (shrink, grow, write, seal);
 * the board is a valid one.
 * Checked: no crash, no access outside the mapping, only -EBADMSG or 0
 * (or -ENOMEM); on success the handle's promises, against independent
 * checks: every tensor's bytes lie in the mapping at its alignment, its
 * size follows from shape and dtype, strides are C order, names are
 * terminated at their length, strictly increasing and each found by name;
 * metadata pairs are terminated and found by key; verify gives 0 or
 * -EBADMSG; the first and last byte of every tensor can be read. zipc_inspect
 * (zipc ls / stat) fills the store detail exactly when the opener accepts
 * the segment, with the same version and counts.
 *
 * Seeds: write_seeds (ZIPC_FUZZ_WRITE_SEEDS) publishes a few stores (64 B,
 * 4 KiB alignment; empty, scalar, packed, metadata) and writes their
 * segments from offset 128.
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

#define MAX_IMAGE (64u << 10)

static int new_board(void)
{
    uint8_t img[ZIPC_STORE_BOARD_SIZE] = {0};
    struct zipc_segment_header *h = (void *)img;
    *h = (struct zipc_segment_header){.magic = ZIPC_SEGMENT_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                                      .abi_minor = ZIPC_ABI_MINOR, .kind = ZIPC_KIND_STORE_BOARD,
                                      .segment_size = sizeof(img), .header_size = sizeof(*h),
                                      .body_offset = ZIPC_STORE_BODY_OFFSET,
                                      .body_size = sizeof(struct zipc_store_board)};
    return fz_memfd(img, sizeof(img), sizeof(img), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, true);
}

static void check_store(const zipc_store *s)
{
    size_t size;
    const uint8_t *base = zipc_store_base(s, &size);
    const struct zipc_store_ctl *c = (const void *)(base + ZIPC_STORE_BODY_OFFSET);
    int n = zipc_store_count(s);
    FZ_CHECK(n >= 0 && (uint32_t)n == c->ntensors);
    struct zipc_store_info prev = {0};
    for (int i = 0; i < n; i++) {
        struct zipc_store_info info, found;
        FZ_CHECK(zipc_store_tensor_at(s, (size_t)i, &info) == 0);
        const uint8_t *d = info.data;
        FZ_CHECK(d >= base + c->data_offset && info.size <= size && d + info.size <= base + size);
        FZ_CHECK((uintptr_t)d % c->align == 0);
        FZ_CHECK(info.bits == zipc_store_dtype_bits(info.dtype) && info.bits && info.ndim <= ZIPC_STORE_MAX_NDIM);
        unsigned __int128 count = 1;
        int64_t stride = 1;
        for (unsigned k = info.ndim; k-- > 0;) {
            FZ_CHECK(info.shape[k] >= 0 && info.strides[k] == stride);
            count *= (uint64_t)info.shape[k];
            stride *= info.shape[k];
        }
        FZ_CHECK(count * info.bits == (unsigned __int128)info.size * 8);
        FZ_CHECK(info.name_len > 0 && strlen(info.name) == info.name_len);
        if (i) {
            size_t m = prev.name_len < info.name_len ? prev.name_len : info.name_len;
            int cmp = memcmp(prev.name, info.name, m);
            FZ_CHECK(cmp < 0 || (cmp == 0 && prev.name_len < info.name_len));
            FZ_CHECK(d >= (const uint8_t *)prev.data + prev.size); /* no overlap */
        }
        FZ_CHECK(zipc_store_find(s, info.name, &found) == 0 && found.index == (uint32_t)i);
        if (info.size) {
            volatile uint8_t sink = d[0];
            sink = d[info.size - 1];
            (void)sink;
        }
        int v = zipc_store_verify(s, (size_t)i);
        FZ_CHECK(v == 0 || v == -EBADMSG);
        prev = info;
    }
    struct zipc_store_info none;
    FZ_CHECK(zipc_store_tensor_at(s, (size_t)n, &none) == -ENOENT);
    int m = zipc_store_metadata_count(s);
    FZ_CHECK(m >= 0 && (uint32_t)m == c->nmeta);
    for (int i = 0; i < m; i++) {
        struct zipc_store_kv kv, again;
        FZ_CHECK(zipc_store_metadata_at(s, (size_t)i, &kv) == 0);
        FZ_CHECK(kv.value[kv.value_len] == '\0' && strlen(kv.key) > 0);
        FZ_CHECK(zipc_store_metadata(s, kv.key, &again) == 0 && again.value == kv.value);
    }
}

static void run(const uint8_t *data, size_t size)
{
    static uint8_t img[MAX_IMAGE];
    size_t body = size < MAX_IMAGE - ZIPC_STORE_BODY_OFFSET ? size : MAX_IMAGE - ZIPC_STORE_BODY_OFFSET;
    size_t len = zipc__align_up(ZIPC_STORE_BODY_OFFSET + body, ZIPC_PAGE);
    memset(img, 0, len);
    memcpy(img + ZIPC_STORE_BODY_OFFSET, data, body);
    struct zipc_segment_header *h = (void *)img;
    *h = (struct zipc_segment_header){.magic = ZIPC_SEGMENT_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                                      .abi_minor = ZIPC_ABI_MINOR, .kind = ZIPC_KIND_TENSOR_STORE,
                                      .segment_size = len, .header_size = sizeof(*h),
                                      .body_offset = ZIPC_STORE_BODY_OFFSET,
                                      .body_size = sizeof(struct zipc_store_ctl)};
    int fds[ZIPC__STORE_NFDS] = {
        fz_memfd(img, len, len, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL, true), new_board()};
    FZ_CHECK(fds[0] >= 0 && fds[1] >= 0);
    struct zipc__opts o;
    FZ_CHECK(zipc__opts_resolve(NULL, &o) == 0);
    /* zipc ls's look first (it takes no fd): the same check as the opener's */
    struct zipc_segment_info seen, board;
    FZ_CHECK(zipc_inspect_fd(fds[0], &seen) == 0 && zipc_inspect_fd(fds[1], &board) == 0);
    FZ_CHECK(board.detail == ZIPC_INSPECT_STORE_BOARD && board.store_board.latest == 0);
    FZ_CHECK(seen.detail == 0 || seen.detail == ZIPC_INSPECT_STORE);
    zipc_store *s = NULL;
    int r = zipc__store_adopt(&s, fds, &o);
    FZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
    FZ_CHECK(r == -ENOMEM || (r == 0) == (seen.detail == ZIPC_INSPECT_STORE));
    if (r == 0) {
        FZ_CHECK(seen.store.version == zipc_store_version(s) && seen.store.tensors == (uint32_t)zipc_store_count(s));
        FZ_CHECK(seen.store.metadata == (uint32_t)zipc_store_metadata_count(s));
        check_store(s);
        zipc_store_close(s);
    }
    fz_close_all(fds, ZIPC__STORE_NFDS);
}

/* ---- seeds ------------------------------------------------------------------ */

static void seed_store(const char *dir, const char *name, const struct zipc_store_tensor *t, size_t n,
                       uint64_t align, bool meta)
{
    static const struct zipc_store_kv kv[] = {{"format", "pt", 2}, {"empty", "", 0}, {"nul", "a\0b", 3}};
    struct zipc_store_options o = {.align = align, .metadata = meta ? kv : NULL, .nmeta = meta ? 3 : 0};
    zipc_store *s = NULL;
    char store_name[64];
    snprintf(store_name, sizeof(store_name), "fuzz-seed-%d-%s", (int)getpid(), name);
    FZ_CHECK(zipc_store_publish(&s, store_name, t, n, &o) == 0);
    size_t size;
    const uint8_t *base = zipc_store_base(s, &size);
    size_t len = size - ZIPC_STORE_BODY_OFFSET;
    while (len > 0 && base[ZIPC_STORE_BODY_OFFSET + len - 1] == 0)
        len--; /* the page's zero padding comes back from run() */
    fz_seed_write(dir, name, base + ZIPC_STORE_BODY_OFFSET, len);
    zipc_store_close(s);
}

static void write_seeds(const char *dir)
{
    static const uint8_t bytes[64] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    struct zipc_store_tensor t[] = {
        {.name = "a.weight", .dtype = ZIPC_STORE_F32, .ndim = 2, .shape = {2, 3}, .data = bytes, .size = 24},
        {.name = "b", .dtype = ZIPC_STORE_I64, .ndim = 0, .data = bytes, .size = 8},
        {.name = "empty", .dtype = ZIPC_STORE_F16, .ndim = 3, .shape = {2, 0, 3}},
        {.name = "f4", .dtype = ZIPC_STORE_F4, .ndim = 1, .shape = {6}, .data = bytes, .size = 3},
        {.name = "\xce\xbb", .dtype = ZIPC_STORE_U8, .ndim = 1, .shape = {5}, .data = bytes, .size = 5},
    };
    seed_store(dir, "five", t, 5, 0, true);
    seed_store(dir, "one", t, 1, 0, false);
    seed_store(dir, "none", t, 0, 0, true);
    seed_store(dir, "aligned4k", t, 2, 4096, false);
}

static void setup(void) {}

FZ_HARNESS(write_seeds, setup, run)

/* zipc_copy: the same bytes as memcpy for every relative offset of source
 * and destination within a cache line, every size class (memcpy's, the
 * vector loop's, its head and tail), and not a byte outside the range. The
 * vector loop (taken on AMD CPUs only) is checked directly too, on any CPU. */
#include "internal.h"
#include "testutil.h"

#define GUARD 64
#define MAX_SIZE (64 * 1024 + 77)
/* Both buffers: room for the largest copy, its guards and offsets, rounded
 * up to 64 (aligned_alloc wants a multiple of the alignment). */
#define BUF_SIZE ((MAX_SIZE + 2 * GUARD + 64 + 63) & ~(size_t)63)

typedef void copy_fn(void *, const void *, size_t);

static void check_copy(copy_fn *copy, const char *what, uint8_t *dst_buf, const uint8_t *src_buf, size_t dst_off,
                       size_t src_off, size_t n)
{
    memset(dst_buf, 0xee, BUF_SIZE);
    uint8_t *dst = dst_buf + GUARD + dst_off;
    const uint8_t *src = src_buf + src_off;
    copy(dst, src, n);
    CHECK_MSG(memcmp(dst, src, n) == 0, "%s, %zu bytes, dst+%zu src+%zu: the bytes differ", what, n, dst_off, src_off);
    for (size_t i = 0; i < GUARD; i++) {
        CHECK_MSG(dst[-1 - (ptrdiff_t)i] == 0xee, "%s, %zu bytes, dst+%zu src+%zu: byte %zu before written",
                  what, n, dst_off, src_off, i + 1);
        CHECK_MSG(dst[n + i] == 0xee, "%s, %zu bytes, dst+%zu src+%zu: byte %zu after written", what, n, dst_off,
                  src_off, i);
    }
}

static void test_every_offset_and_size(void)
{
    static const size_t sizes[] = {0, 1, 15, 16, 63, 64, 65, 1023, 1024, 1025, 1087, 4096, 4103, 65536, MAX_SIZE};
    uint8_t *src = aligned_alloc(64, BUF_SIZE), *dst = aligned_alloc(64, BUF_SIZE);
    CHECK(src && dst);
    for (size_t i = 0; i < BUF_SIZE; i++)
        src[i] = (uint8_t)(i * 131 + (i >> 8));
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
        for (size_t d = 0; d < 64; d += (sizes[s] > 4096 ? 4 : 1))
            for (size_t so = 0; so < 64; so += 16) {
                check_copy(zipc_copy, "zipc_copy", dst, src, d, so, sizes[s]);
                if (sizes[s] >= ZIPC__COPY_LOOP_MIN)
                    check_copy(zipc__copy_loop, "the vector loop", dst, src, d, so, sizes[s]);
            }
    free(src);
    free(dst);
}

int main(void)
{
    tu_init("test_copy", 60);
    test_every_offset_and_size();
    return tu_finish();
}

/* zipc_copy: memcpy, except where the C library's memcpy is known slow for
 * the way a ring lays out payloads.
 *
 * A frame's payload starts 16 bytes into a cache line. glibc's x86-64
 * memcpy moves copies of ~4 KiB up to about the L2 size with `rep movsb`,
 * which AMD Zen CPUs run at a fraction of its speed when the destination
 * lies 1..31 bytes past the source within a 64-byte line (glibc bug 30994):
 * measured on an AMD EPYC guest (glibc 2.36), a 64 KiB copy from a 64-byte
 * aligned buffer into a payload ran at 4-8 GB/s instead of 36-47. Those
 * copies go through a 16-byte vector loop with aligned stores instead
 * (26-46 GB/s at every offset); everything else is memcpy. */
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>

/* Below ZIPC__COPY_LOOP_MIN memcpy uses vector moves at any alignment. */
static bool copy_needs_loop(const void *dst, const void *src, size_t n)
{
    uint64_t ahead = ((uintptr_t)dst - (uintptr_t)src) & 63;
    return n >= ZIPC__COPY_LOOP_MIN && ahead >= 1 && ahead <= 31;
}

/* Unaligned loads, aligned stores, one line per iteration. */
static void copy_loop(uint8_t *d, const uint8_t *s, size_t n)
{
    size_t head = (64 - ((uintptr_t)d & 63)) & 63;
    memcpy(d, s, head);
    d += head, s += head, n -= head;
    for (; n >= 64; d += 64, s += 64, n -= 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)s), b = _mm_loadu_si128((const __m128i *)(s + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + 32)), e = _mm_loadu_si128((const __m128i *)(s + 48));
        _mm_store_si128((__m128i *)d, a);
        _mm_store_si128((__m128i *)(d + 16), b);
        _mm_store_si128((__m128i *)(d + 32), c);
        _mm_store_si128((__m128i *)(d + 48), e);
    }
    memcpy(d, s, n);
}

void zipc_copy(void *dst, const void *src, size_t n)
{
    if (copy_needs_loop(dst, src, n))
        copy_loop(dst, src, n);
    else
        memcpy(dst, src, n);
}
#else
void zipc_copy(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
}
#endif

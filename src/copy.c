/* zipc_copy: memcpy, except where the C library's memcpy is known slow for
 * the way a ring lays out payloads.
 *
 * A frame's payload starts 16 bytes into a cache line. glibc's x86-64
 * memcpy moves copies of ~4 KiB up to about the L2 size with `rep movsb`,
 * which AMD Zen CPUs run at a fraction of its speed when the destination
 * lies 1..31 bytes past the source within a 64-byte line (glibc bug 30994):
 * measured on an AMD EPYC guest (glibc 2.36), a 64 KiB copy from a 64-byte
 * aligned buffer into a payload ran at 4-8 GB/s instead of 36-47. Those
 * copies go through a vector loop with aligned stores instead (32-byte
 * moves with AVX2, else 16-byte: 26-60 GB/s at every offset) on AMD CPUs
 * only; everything else is memcpy. On an Intel Xeon (model 207) the loop
 * copied 1 MiB ~20% slower than glibc's memcpy (DESIGN §2.6). */
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>

/* Below ZIPC__COPY_LOOP_MIN memcpy uses vector moves at any alignment; the
 * slow offsets are AMD's. libgcc's CPU model (set up before main) answers
 * from memory. */
static bool copy_needs_loop(const void *dst, const void *src, size_t n)
{
    uint64_t ahead = ((uintptr_t)dst - (uintptr_t)src) & 63;
    return n >= ZIPC__COPY_LOOP_MIN && ahead >= 1 && ahead <= 31 && __builtin_cpu_is("amd");
}

/* Unaligned loads, aligned stores: whole 128-byte pairs of lines with AVX2's
 * 32-byte moves, where the CPU has them (64 KiB copies ~5-10% faster than
 * with 16-byte moves on the AMD EPYC guest, 4 KiB ~30%), then single lines
 * with SSE2's. Each returns the bytes it copied. */
__attribute__((target("avx2"))) static size_t copy_pairs_avx2(uint8_t *d, const uint8_t *s, size_t n)
{
    size_t done = 0;
    for (; n - done >= 128; done += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + done));
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + done + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(s + done + 64));
        __m256i e = _mm256_loadu_si256((const __m256i *)(s + done + 96));
        _mm256_store_si256((__m256i *)(d + done), a);
        _mm256_store_si256((__m256i *)(d + done + 32), b);
        _mm256_store_si256((__m256i *)(d + done + 64), c);
        _mm256_store_si256((__m256i *)(d + done + 96), e);
    }
    return done;
}

static size_t copy_lines_sse2(uint8_t *d, const uint8_t *s, size_t n)
{
    size_t done = 0;
    for (; n - done >= 64; done += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(s + done));
        __m128i b = _mm_loadu_si128((const __m128i *)(s + done + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + done + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + done + 48));
        _mm_store_si128((__m128i *)(d + done), a);
        _mm_store_si128((__m128i *)(d + done + 16), b);
        _mm_store_si128((__m128i *)(d + done + 32), c);
        _mm_store_si128((__m128i *)(d + done + 48), e);
    }
    return done;
}

void zipc__copy_loop(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    size_t head = (64 - ((uintptr_t)d & 63)) & 63;
    memcpy(d, s, head);
    d += head, s += head, n -= head;
    size_t done = __builtin_cpu_supports("avx2") ? copy_pairs_avx2(d, s, n) : 0;
    done += copy_lines_sse2(d + done, s + done, n - done);
    memcpy(d + done, s + done, n - done);
}

void zipc_copy(void *dst, const void *src, size_t n)
{
    if (copy_needs_loop(dst, src, n))
        zipc__copy_loop(dst, src, n);
    else
        memcpy(dst, src, n);
}
#else
void zipc__copy_loop(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
}

void zipc_copy(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
}
#endif

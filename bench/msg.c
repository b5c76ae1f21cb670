/* zipc bench: the messages of the topic, queue and rpc rows: a source
 * buffer of distinct pseudo-random words and the checksum of every 8-byte
 * word, so a receiver can tell that each word arrived intact. */
#include <stdlib.h>

#include "transport.h"

/* Four sums of every fourth word: independent additions run side by side
 * (one chain of them costs ~4x as much at 1 MiB: the check would be what a
 * big row measures, and the Rust rows' sum is vectorised). */
uint64_t msg_words_sum(const uint8_t *p, size_t size)
{
    uint64_t s[4] = {0}, w;
    size_t i = 0;
    for (; i + 32 <= size; i += 32)
        for (int k = 0; k < 4; k++) {
            memcpy(&w, p + i + 8 * k, sizeof(w));
            s[k] += w;
        }
    for (; i < size; i += 8) {
        memcpy(&w, p + i, sizeof(w));
        s[0] += w;
    }
    return s[0] + s[1] + s[2] + s[3];
}

int msg_source(const char *what, size_t size, uint64_t seed, uint8_t **src, uint64_t *base)
{
    *src = NULL;
    if (size < 16 || size % 8)
        return bench_fail_plain(-EINVAL, "%s: message size %zu is not a multiple of 8 >= 16", what, size);
    if (!(*src = aligned_alloc(64, (size + 63) & ~(size_t)63)))
        return bench_fail(-ENOMEM, "%s source buffer", what);
    uint64_t x = seed;
    for (size_t i = 0; i < size; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(*src + i, &x, sizeof(x));
    }
    msg_stamp(*src, size, 0);
    *base = msg_words_sum(*src, size);
    return 0;
}

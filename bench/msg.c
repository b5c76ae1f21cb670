/* zipc bench: the messages of the topic, queue and rpc rows: a source
 * buffer of distinct pseudo-random words and the checksum of every 8-byte
 * word, so a receiver can tell that each word arrived intact. */
#include <stdlib.h>

#include "transport.h"

uint64_t msg_words_sum(const uint8_t *p, size_t size)
{
    uint64_t s = 0, w;
    for (size_t i = 0; i < size; i += 8) {
        memcpy(&w, p + i, sizeof(w));
        s += w;
    }
    return s;
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

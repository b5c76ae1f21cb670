/* C side of the ping-pong: sends a 32-byte tick, waits for the C++ side to
 * echo it, checks it, ROUNDTRIPS times; prints round trips/s and the
 * latency percentiles (the first tenth is warm-up, not counted).
 *
 *   ping PREFIX [ROUNDTRIPS]      (default 200000)
 * Channels: PREFIX.a ping -> pong (pong listens), PREFIX.b pong -> ping (ping
 * listens). Both sides open .a first, then .b: no deadlock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zipc.h"

struct tick { /* tests/vectors/tick.bin */
    uint64_t seq;
    int64_t ts_ns;
    double price;
    float qty;
    uint32_t side;
};
_Static_assert(sizeof(struct tick) == 32, "32-byte messages");
#define TICK_TYPE 0x7469636Bu

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int fail(const char *what, int err)
{
    fprintf(stderr, "ping: %s: %s\n", what, zipc_strerror(err));
    return 1;
}

/* One round trip: send tick seq, receive and check the echo. */
static int round_trip(zipc_channel *out, zipc_channel *in, uint64_t seq)
{
    struct tick t = {seq, now_ns(), 100.0 + (double)seq, 1.0f, (uint32_t)(seq & 1)};
    int err = zipc_channel_send(out, &t, sizeof t, TICK_TYPE, ZIPC_FOREVER);
    if (err)
        return fail("send", err);
    struct zipc_msg m;
    if ((err = zipc_channel_view(in, &m, 10 * 1000000000LL)))
        return fail("view", err);
    struct tick echo;
    int ok = m.size == sizeof echo && m.type == TICK_TYPE;
    if (ok) {
        memcpy(&echo, m.data, sizeof echo);
        ok = echo.seq == seq && echo.price == t.price;
    }
    zipc_channel_release(in);
    if (!ok) {
        fprintf(stderr, "ping: round trip %llu: wrong echo\n", (unsigned long long)seq);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ping PREFIX [ROUNDTRIPS]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 200000, warm = n / 10;
    char a[256], b[256];
    snprintf(a, sizeof a, "%s.a", argv[1]);
    snprintf(b, sizeof b, "%s.b", argv[1]);
    struct zipc_options opts = {.timeout_ns = 20 * 1000000000LL};
    zipc_channel *out, *in;
    int err = zipc_channel_connect(&out, a, &opts);
    if (err)
        return fail("connect", err);
    if ((err = zipc_channel_listen(&in, b, 64 * 1024, &opts)))
        return fail("listen", err);
    int64_t *rtt = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    int rc = rtt ? 0 : fail("malloc", -ENOMEM);
    int64_t prev = now_ns(), start = 0;
    for (long i = 0; i < warm + n && !rc; i++) {
        rc = round_trip(out, in, (uint64_t)i);
        int64_t t = now_ns();
        if (i == warm)
            start = prev;
        if (i >= warm)
            rtt[i - warm] = t - prev;
        prev = t;
    }
    if (!rc && n > 0) {
        double s = (double)(prev - start) / 1e9;
        qsort(rtt, (size_t)n, sizeof *rtt, cmp_i64);
        printf("ping (C) <-> pong (C++): %ld round trips of 32 B in %.3f s: %.0f round trips/s, "
               "p50 %lld ns, p99 %lld ns\n", n, s, (double)n / s, (long long)rtt[n / 2],
               (long long)rtt[n * 99 / 100]);
    }
    free(rtt);
    zipc_channel_close(out); /* pong sees PeerGone and stops */
    zipc_channel_close(in);
    return rc;
}

/* zipc bench: one-way streaming, one driver for every transport, and the
 * memcpy reference.
 *
 * The child produces for warm-up + the measured time, filling each message
 * from a source buffer (zipc: zipc_copy into the reserved slot; pipe/socket:
 * write(2) copies it) with its sequence number in its first and last 8
 * bytes, then closes. The parent consumes and verifies every message (zipc:
 * in place in the ring), and measures from the end of its warm-up to the end
 * of the stream: the rate at which messages really arrive. */
#include <stdlib.h>
#include <unistd.h>

#include "transport.h"

/* Ring capacities: the 32 B ring holds thousands of messages and stays in
 * L2; a large message needs capacity >= 2 * (size + 16), and room for a few
 * (4x the message) lets the producer fill one while the consumer reads
 * another. */
static size_t ring_for(size_t size)
{
    if (size <= 4096)
        return 256 * 1024;
    size_t cap = 64 * 1024;
    while (cap < 4 * size)
        cap <<= 1;
    return cap;
}

/* zipc-batch publishes and drains up to 64 messages at once, but never more
 * than half the ring: the producer fills one half while the consumer drains
 * the other. */
static unsigned batch_for(size_t size, size_t cap)
{
    size_t frame = (size + ZIPC_FRAME_HEADER + ZIPC_FRAME_ALIGN - 1) & ~(size_t)(ZIPC_FRAME_ALIGN - 1);
    size_t n = cap / 2 / frame;
    return n < 1 ? 1 : n > BENCH_MAX_BATCH ? BENCH_MAX_BATCH : (unsigned)n;
}

struct stream_ctx {
    int64_t warm_ns, run_ns;
    uint64_t received;          /* parent: all messages, warm-up included */
    uint64_t measured;          /* parent: messages in the measured window */
    double seconds;
};

static int stream_child(struct link *l, const struct bench_opts *o, void *ctx,
                        struct pair_report *rep)
{
    (void)o;
    struct stream_ctx *c = ctx;
    /* 64-byte aligned, as memcpy's reference buffers (and most tensors) are:
     * not left to where malloc happens to put it. */
    uint8_t *src = aligned_alloc(64, (l->size + 63) & ~(size_t)63);
    if (!src)
        return bench_fail(-ENOMEM, "source buffer");
    memset(src, 0xa5, l->size);
    /* The clock is read every >= 256 KiB of messages: its ~25 ns are then
     * lost in the copying, and a 1 MiB stream still stops on time. */
    uint64_t every = l->size >= 256 * 1024 ? 1 : 256 * 1024 / l->size, seq = 0;
    int64_t end = bench_now_ns() + c->warm_ns + c->run_ns;
    int err = 0;
    for (;;) {
        msg_stamp(src, l->size, seq);
        if ((err = l->t->send(l, src)))
            break;
        if (++seq % every == 0 && bench_now_ns() >= end)
            break;
    }
    if (!err && l->t->flush)
        err = l->t->flush(l);
    rep->count = seq;
    free(src);
    return err;
}

static int stream_parent(struct link *l, const struct bench_opts *o, void *ctx,
                         struct pair_report *rep)
{
    (void)o, (void)rep;
    struct stream_ctx *c = ctx;
    int64_t first = 0, t0 = 0;
    uint64_t total = 0, at_t0 = 0;
    for (unsigned calls = 1;; calls++) {
        int n = l->t->take(l);
        if (n == -EPIPE)
            break; /* the producer closed: the end of the stream */
        if (n < 0)
            return n;
        total += (uint64_t)n;
        /* Warm-up is timed from the first message; the clock is read every
         * 16 takes and not at all once the window is open. */
        if (!t0 && (calls == 1 || (calls & 15) == 0)) {
            int64_t now = bench_now_ns();
            if (!first)
                first = now;
            else if (now - first >= c->warm_ns)
                t0 = now, at_t0 = total;
        }
    }
    int64_t end = bench_now_ns();
    c->received = total;
    if (!t0 || end <= t0)
        return bench_fail_plain(-ENODATA, "%s: the stream ended during the warm-up", l->t->name);
    c->measured = total - at_t0;
    c->seconds = (double)(end - t0) / 1e9;
    return 0;
}

int run_stream(const struct transport *t, size_t size, const struct bench_opts *o, double seconds,
               struct part *out)
{
    static unsigned runs;
    struct stream_ctx c = {.warm_ns = (int64_t)(o->warm_s * 1e9), .run_ns = (int64_t)(seconds * 1e9)};
    struct link l = {.t = t, .mode = MODE_STREAM, .size = size, .capacity = ring_for(size), .batch = 1,
                     .yield = !o->pinned};
    if (t == &transport_zipc_batch)
        l.batch = batch_for(size, l.capacity);
    snprintf(l.tag, sizeof(l.tag), "%d-stream%u", (int)getpid(), runs++);
    *out = (struct part){0};
    struct pair_report rep;
    unsigned budget = 30 + 2 * (unsigned)(o->warm_s + seconds);
    int err = pair_run(&l, o, budget, stream_parent, stream_child, &c, &rep, &out->sleeps);
    if (!err && rep.count != c.received)
        err = bench_fail_plain(-EBADMSG, "%s: %llu messages sent, %llu received", t->name,
                         (unsigned long long)rep.count, (unsigned long long)c.received);
    if (!err)
        out->messages = c.measured, out->seconds = c.seconds;
    if (t->sleeps) /* a zipc row */
        out->ring = l.capacity, out->batch = l.batch;
    return err;
}

/* The streaming reference: one process copying between a cache-hot buffer
 * pair, as a producer copies into a reused ring. */
int run_memcpy(size_t size, double seconds, struct part *out)
{
    *out = (struct part){.sleeps = -1};
    uint8_t *src = aligned_alloc(64, size), *dst = aligned_alloc(64, size);
    if (!src || !dst) {
        free(src), free(dst);
        return bench_fail(-ENOMEM, "memcpy buffers");
    }
    memset(src, 0xa5, size);
    memset(dst, 0, size);
    /* Warm-up: a tenth of the run. The clock is read every >= 1 MiB copied. */
    uint64_t every = size >= 1024 * 1024 ? 1 : 1024 * 1024 / size, i = 0, at_t0 = 0;
    int64_t run_ns = (int64_t)(seconds * 1e9), warm_end = bench_now_ns() + run_ns / 10;
    int64_t t0 = 0, now;
    for (;;) {
        memcpy(dst, src, size);
        __asm__ __volatile__("" : : "r"(dst) : "memory"); /* the copy must happen */
        if (++i % every)
            continue;
        now = bench_now_ns();
        if (!t0 && now >= warm_end)
            t0 = now, at_t0 = i;
        else if (t0 && now - t0 >= run_ns)
            break;
    }
    out->messages = i - at_t0;
    out->seconds = (double)(now - t0) / 1e9;
    free(src), free(dst);
    return 0;
}

/* zipc bench: the ping-pong driver, one loop for every transport.
 *
 * The parent sends a 32-byte message carrying the sequence number, waits
 * for the child to echo it back, verifies it and reads the clock once per
 * round trip (the difference of consecutive reads is one round trip, so the
 * timer costs one read, not two). The child echoes from where the message
 * lies (zipc: straight from the ring into the reply's slot). */
#include <unistd.h>

#include "transport.h"

struct rtt_ctx {
    uint64_t warm, iters;
    int64_t *samples;           /* parent: one per measured round trip */
};

static int rtt_parent(struct link *l, const struct bench_opts *o, void *ctx,
                      struct pair_report *rep)
{
    (void)o, (void)rep;
    struct rtt_ctx *c = ctx;
    const struct transport *t = l->t;
    uint8_t msg[BENCH_RTT_SIZE];
    int64_t prev = bench_now_ns();
    for (uint64_t i = 0; i < c->warm + c->iters; i++) {
        const void *reply;
        msg_stamp(msg, sizeof(msg), i);
        int err = t->send(l, msg);
        if (!err)
            err = t->recv(l, &reply);
        if (!err)
            err = link_check(l, reply);
        if (!err && t->release)
            err = t->release(l);
        if (err)
            return err;
        int64_t now = bench_now_ns();
        if (i >= c->warm)
            c->samples[i - c->warm] = now - prev;
        prev = now;
    }
    return 0;
}

static int rtt_child(struct link *l, const struct bench_opts *o, void *ctx, struct pair_report *rep)
{
    (void)o, (void)rep;
    struct rtt_ctx *c = ctx;
    const struct transport *t = l->t;
    for (uint64_t i = 0; i < c->warm + c->iters; i++) {
        const void *m;
        int err = t->recv(l, &m);
        if (!err)
            err = t->send(l, m);
        if (!err && t->release)
            err = t->release(l);
        if (err)
            return err;
    }
    return 0;
}

int run_rtt(const struct transport *t, const struct bench_opts *o, uint64_t iters,
            int64_t *samples, struct part *out)
{
    static unsigned runs;
    struct rtt_ctx c = {.warm = iters / 10, .iters = iters, .samples = samples};
    struct link l = {.t = t, .mode = MODE_RTT, .size = BENCH_RTT_SIZE, .capacity = 64 * 1024,
                     .batch = 1, .yield = !o->pinned};
    snprintf(l.tag, sizeof(l.tag), "%d-rtt%u", (int)getpid(), runs++);
    struct pair_report rep;
    *out = (struct part){.messages = iters};
    int err = pair_run(&l, o, 60, rtt_parent, rtt_child, &c, &rep, &out->sleeps);
    for (uint64_t i = 0; i < iters && !err; i++)
        out->seconds += (double)samples[i] / 1e9;
    if (t->sleeps) /* a zipc row */
        out->ring = l.capacity, out->batch = l.batch;
    return err;
}

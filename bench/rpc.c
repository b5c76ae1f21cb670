/* zipc bench: the rpc rows. One client (the measuring process, CPU A) and
 * one worker (a forked process, CPU B) on one service, the two ends of a
 * link as the channel's rtt rows (link.c):
 *   the client stamps its call number into the first and last 8 bytes of a
 *   source request (pseudo-random words, msg.c), copies it into the frame
 *   it reserves (zipc_rpc_reserve + commit), keeps `inflight` calls in
 *   flight and waits for the oldest (one worker answers in order);
 *   the worker takes each request (zipc_rpc_next), checks its size and
 *   that both stamps agree, sums every 8-byte word of it and writes the
 *   reply in place at req->reply (rpc_reply_make: ~seq in the first and
 *   last word, the sum in the second, seq + i in every other word i),
 *   then zipc_rpc_respond;
 *   the client checks every word of the reply (the sum must be the
 *   request's, base + 2 * seq: the worker read all of it intact) and
 *   releases it.
 * The rtt row: one call in flight, one clock read per call (as rtt.c: the
 * difference of consecutive reads is one round trip), iters / 10 warm-up.
 * The rate rows: calls for o->warm_s + the row's seconds; the calls that
 * complete in the window after the warm-up, over its length.
 * A last call of method RPC_STOP ends the worker. */
#include <stdlib.h>
#include <unistd.h>

#include "transport.h"

#define RPC_MAX_INFLIGHT 64
enum { RPC_WORK = 1, RPC_STOP = 2 }; /* methods */

/* ---- the work, the same in every row (and in bench/peers/src/rpc.rs) -------- */

/* The reply to request `seq` whose words sum to `sum`: every word derived
 * from the request, so a stale or misrouted reply cannot pass. */
static void rpc_reply_make(uint8_t *reply, size_t size, uint64_t seq, uint64_t sum)
{
    size_t n = size / 8;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = i == 0 || i == n - 1 ? ~seq : i == 1 ? sum : seq + i;
        memcpy(reply + 8 * i, &w, sizeof(w));
    }
}

static bool rpc_reply_ok(const uint8_t *reply, size_t size, uint64_t seq, uint64_t sum)
{
    size_t n = size / 8;
    for (size_t i = 0; i < n; i++) {
        uint64_t w, want = i == 0 || i == n - 1 ? ~seq : i == 1 ? sum : seq + i;
        memcpy(&w, reply + 8 * i, sizeof(w));
        if (w != want)
            return false;
    }
    return true;
}

struct rpc_ctx {
    size_t req, reply;          /* bytes: the request, the reply */
    unsigned inflight;
    uint64_t warm, iters;       /* rtt row: calls, one sample each after the warm */
    int64_t *samples;           /* rtt row; NULL: a rate row */
    int64_t warm_ns, run_ns;    /* rate row */
    uint8_t *src;               /* the client's source request */
    uint64_t base;              /* its checksum, both stamps zero */
    uint64_t calls;             /* measured */
    double seconds;
};

/* ---- the link: the service by name, the client in the parent ---------------- */

static int rpc_setup(struct link *l)
{
    snprintf(l->path[0], sizeof(l->path[0]), "zipc-bench-%s", l->tag);
    return 0;
}

static int rpc_open(struct link *l)
{
    struct zipc_rpc_config cfg = {.lane_capacity = l->capacity};
    int err = l->side == SIDE_PARENT ? zipc_rpc_connect(&l->rpc_client, l->path[0], &cfg, NULL)
                                     : zipc_rpc_serve(&l->rpc_worker, l->path[0], &cfg, NULL);
    return err ? bench_fail(err, "%s(%s)", l->side == SIDE_PARENT ? "zipc_rpc_connect" : "zipc_rpc_serve",
                            l->path[0])
               : 0;
}

static int rpc_close(struct link *l)
{
    int err = l->rpc_client ? zipc_rpc_client_close(l->rpc_client) : 0;
    if (l->rpc_worker)
        err = err ? err : zipc_rpc_worker_close(l->rpc_worker);
    l->rpc_client = NULL, l->rpc_worker = NULL;
    return err ? bench_fail(err, "closing the rpc service") : 0;
}

static const struct transport transport_rpc = {.name = "rpc", .setup = rpc_setup, .open = rpc_open,
                                               .close = rpc_close};

/* ---- the client -------------------------------------------------------------- */

static int call_issue(zipc_rpc_client *c, struct rpc_ctx *x, uint64_t seq, uint64_t *id)
{
    void *buf;
    msg_stamp(x->src, x->req, seq);
    int err = zipc_rpc_reserve(c, x->req, x->reply, &buf, BENCH_TIMEOUT_NS);
    if (err)
        return bench_fail(err, "zipc_rpc_reserve(%zu, reply %zu)", x->req, x->reply);
    zipc_copy(buf, x->src, x->req);
    err = zipc_rpc_commit(c, x->req, RPC_WORK, 0, BENCH_TIMEOUT_NS, id);
    return err ? bench_fail(err, "zipc_rpc_commit") : 0;
}

static int call_finish(zipc_rpc_client *c, const struct rpc_ctx *x, uint64_t id, uint64_t seq)
{
    struct zipc_rpc_reply r;
    int err = zipc_rpc_wait(c, id, &r, BENCH_TIMEOUT_NS);
    if (err)
        return bench_fail(err, "zipc_rpc_wait(call %llu)", (unsigned long long)seq);
    if (r.id != id || r.status || r.size != x->reply || !rpc_reply_ok(r.data, x->reply, seq, x->base + 2 * seq))
        err = bench_fail_plain(-EBADMSG, "rpc: the reply to call %llu (status %d, %u bytes) is not its "
                               "request's", (unsigned long long)seq, r.status, r.size);
    int rerr = zipc_rpc_reply_release(c, &r);
    return err ? err : rerr ? bench_fail(rerr, "zipc_rpc_reply_release") : 0;
}

/* The worker's last call: it answers and returns. */
static int call_stop(zipc_rpc_client *c)
{
    uint64_t id, stop = 0;
    struct zipc_rpc_reply r;
    int err = zipc_rpc_call(c, &stop, sizeof(stop), RPC_STOP, 0, 8, BENCH_TIMEOUT_NS, &id);
    if (err)
        return bench_fail(err, "zipc_rpc_call(stop)");
    if ((err = zipc_rpc_wait(c, id, &r, BENCH_TIMEOUT_NS)))
        return bench_fail(err, "zipc_rpc_wait(stop)");
    err = zipc_rpc_reply_release(c, &r);
    return err ? bench_fail(err, "zipc_rpc_reply_release(stop)") : 0;
}

/* Calls in flight up to x->inflight, the oldest awaited; rtt: a sample per
 * call; rate: the window from start + warm-up to the first clock read past
 * its end (read every call from 64 KiB requests, else every 16). */
static int client_side(struct link *l, const struct bench_opts *o, void *ctx, struct pair_report *rep)
{
    (void)o, (void)rep;
    struct rpc_ctx *x = ctx;
    zipc_rpc_client *c = l->rpc_client;
    uint64_t ids[RPC_MAX_INFLIGHT], issued = 0, done = 0, at_t0 = 0;
    uint64_t total = x->samples ? x->warm + x->iters : UINT64_MAX, every = x->req >= 64 * 1024 ? 1 : 16;
    int64_t prev = bench_now_ns(), t0 = prev + x->warm_ns, t1 = INT64_MAX;
    int err = 0;
    while (!err && (done < issued || issued < total)) {
        while (!err && issued < total && issued - done < x->inflight) {
            err = call_issue(c, x, issued, &ids[issued % x->inflight]);
            issued += !err;
        }
        if (err || (err = call_finish(c, x, ids[done % x->inflight], done)))
            break;
        done++;
        if (x->samples) {
            int64_t now = bench_now_ns();
            if (done > x->warm)
                x->samples[done - 1 - x->warm] = now - prev;
            prev = now;
        } else if (done % every == 0 && total == UINT64_MAX) {
            int64_t now = bench_now_ns();
            if (t1 == INT64_MAX && now >= t0) /* the window opens */
                t0 = now, t1 = now + x->run_ns, at_t0 = done;
            else if (now >= t1) { /* closes: the calls in flight finish unmeasured */
                x->calls = done - at_t0;
                x->seconds = (double)(now - t0) / 1e9;
                total = issued;
            }
        }
    }
    if (!err && x->samples) {
        x->calls = x->iters;
        for (uint64_t i = 0; i < x->iters; i++)
            x->seconds += (double)x->samples[i] / 1e9;
    }
    return err ? err : call_stop(c);
}

/* ---- the worker -------------------------------------------------------------- */

static int serve_one(zipc_rpc_worker *w, const struct rpc_ctx *x, const struct zipc_rpc_request *q)
{
    const uint8_t *d = q->data;
    uint64_t seq;
    memcpy(&seq, d, sizeof(seq));
    if (q->size != x->req || q->reply_capacity < x->reply || !msg_ok(d, d + x->req - 8, seq))
        return bench_fail_plain(-EBADMSG, "rpc worker: a request of %u bytes (reply room %u), stamps "
                                "disagree or wrong size", q->size, q->reply_capacity);
    rpc_reply_make(q->reply, x->reply, seq, msg_words_sum(d, x->req));
    int err = zipc_rpc_respond(w, q, x->reply, 0, 0);
    return err ? bench_fail(err, "zipc_rpc_respond") : 0;
}

static int worker_side(struct link *l, const struct bench_opts *o, void *ctx, struct pair_report *rep)
{
    (void)o, (void)rep;
    const struct rpc_ctx *x = ctx;
    zipc_rpc_worker *w = l->rpc_worker;
    for (;;) {
        struct zipc_rpc_request q;
        int err = zipc_rpc_next(w, &q, BENCH_TIMEOUT_NS);
        if (err)
            return bench_fail(err, "zipc_rpc_next");
        if (q.method == RPC_STOP) {
            err = zipc_rpc_respond(w, &q, 0, 0, 0);
            return err ? bench_fail(err, "zipc_rpc_respond(stop)") : 0;
        }
        if ((err = serve_one(w, x, &q)))
            return err;
    }
}

/* ---- the row ------------------------------------------------------------------ */

/* The lane: a power of two holding the calls in flight and one more frame
 * of request + reply + 128 bytes (rpc.h), at least two (the largest frame
 * is half a lane) and 64 KiB (the rtt rings' size). bench/peers sizes the
 * peers' rings the same way (rpc.rs lane_for). */
static size_t lane_for(size_t req, size_t reply, unsigned inflight)
{
    size_t frame = req + reply + 128, need = (inflight < 2 ? 2 : inflight + 1) * frame, cap = 64 * 1024;
    while (cap < need)
        cap <<= 1;
    return cap;
}

int run_rpc(size_t req, size_t reply, unsigned inflight, uint64_t iters, double seconds,
            const struct bench_opts *o, int64_t *samples, struct part *out)
{
    static unsigned runs;
    *out = (struct part){.sleeps = -1};
    if (inflight < 1 || inflight > RPC_MAX_INFLIGHT || reply < 32 || reply % 8)
        return bench_fail_plain(-EINVAL, "rpc: %u calls in flight (1..%d), a reply of %zu bytes "
                                "(a multiple of 8 >= 32)", inflight, RPC_MAX_INFLIGHT, reply);
    struct rpc_ctx x = {.req = req, .reply = reply, .inflight = inflight, .warm = iters / 10, .iters = iters,
                        .samples = iters ? samples : NULL, .warm_ns = (int64_t)(o->warm_s * 1e9),
                        .run_ns = (int64_t)(seconds * 1e9)};
    int err = msg_source("rpc", req, 0x6a09e667f3bcc909u, &x.src, &x.base);
    if (err)
        return err;
    struct link l = {.t = &transport_rpc, .size = req, .capacity = lane_for(req, reply, inflight),
                     .batch = 1, .yield = !o->pinned};
    snprintf(l.tag, sizeof(l.tag), "%d-rpc%u", (int)getpid(), runs++);
    struct pair_report rep;
    long long sleeps;
    err = pair_run(&l, o, 60, client_side, worker_side, &x, &rep, &sleeps);
    free(x.src);
    if (!err && !x.calls)
        err = bench_fail_plain(-ENODATA, "rpc: no call completed in the window");
    out->messages = x.calls;
    out->seconds = x.seconds;
    out->ring = l.capacity;
    out->batch = 1;
    return err;
}

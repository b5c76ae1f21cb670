/* fuzz_rpc: what an rpc member trusts of what others wrote (include/zipc/rpc.h).
 *
 * Per input, a fresh service with one client and one worker in this process;
 * the input is a program of operations: calls (sizes, reply rooms, flags,
 * deadlines), takes, replies (sizes beyond the room too), waits, cancels,
 * releases, and scribbles over what a hostile member can write: a held
 * call's header (magic, sizes, offsets, the worker's reply fields) and the
 * client lane's claim words and claim position. Checked: no crash, hang or
 * out-of-bounds access (ASan); every reply handed to the client lies inside
 * its lane and within the room it reserved; every request handed to the
 * worker lies inside the lane, its reply room too; calls return only
 * documented errors; no fd is left behind. Also the header parser alone on
 * raw bytes. */
#include "fuzz_common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rpc.h"

#define MAX_HELD 8
#define MAX_IDS 16
#define LANE 8192u

static const struct zipc__ring *lane_ring(zipc_rpc_client *c)
{
    zipc_queue *q = zipc__rpc_client_queue(c);
    return &q->lanes[q->slot].ring;
}

static void check_inside(const struct zipc__ring *r, const void *p, size_t n)
{
    const uint8_t *b = p;
    FZ_CHECK(b >= r->base && b + n <= r->base + r->size);
}

static bool documented(int r)
{
    if (getenv("FZ_VERBOSE"))
        fprintf(stderr, "r=%s\n", zipc_err_name(r));
    /* -EBUSY: a reply with bytes while the header (scribbled) says a streamed part is out */
    return r == 0 || r == -EINVAL || r == -EBADMSG || r == -EAGAIN || r == -ETIMEDOUT || r == -EMSGSIZE || r == -EINTR ||
           r == -EALREADY || r == -EBUSY;
}

static void parse_only(struct fz_in *in)
{
    uint8_t raw[256] = {0};
    uint32_t frame = fz_u16(in) % 300;
    fz_take(in, raw, sizeof raw);
    struct zipc_rpc_header h;
    if (zipc__rpc_header_check((const void *)raw, frame < sizeof raw ? frame : sizeof raw, &h) == 0) {
        FZ_CHECK(h.magic == ZIPC_RPC_MAGIC);
        FZ_CHECK((uint64_t)h.reply_offset + h.reply_capacity <= frame);
        FZ_CHECK(ZIPC_RPC_HEADER + (uint64_t)h.request_size <= h.reply_offset);
    }
}

static void run(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    if (fz_u8(&in) & 1) {
        parse_only(&in);
        return;
    }
    char name[64];
    static unsigned n;
    snprintf(name, sizeof name, "fzrpc%d-%u", (int)getpid(), n++);
    struct zipc_options o = {.timeout_ns = 1000000000, .flags = ZIPC_OPT_NO_SPIN};
    struct zipc_rpc_config cfg = {.lane_capacity = LANE};
    zipc_rpc_client *c = NULL;
    zipc_rpc_worker *w = NULL;
    int err;
    while ((err = zipc_rpc_connect(&c, name, &cfg, &o)) == -EINTR) /* libFuzzer's timer signal in a wait */
        ;
    FZ_CHECK(err == 0);
    while ((err = zipc_rpc_serve(&w, name, &cfg, &o)) == -EINTR)
        ;
    FZ_CHECK(err == 0);
    const struct zipc__ring *ring = lane_ring(c);
    struct zipc_rpc_request held[MAX_HELD];
    unsigned nheld = 0, nids = 0;
    uint64_t ids[MAX_IDS];
    for (unsigned steps = 0; steps < 200 && in.n; steps++) {
        uint8_t op = fz_u8(&in) % 10;
        int r;
        if (op == 0) { /* a call */
            uint8_t req[512];
            size_t sz = fz_u16(&in) % 600, room = fz_u16(&in) % 5000;
            unsigned flags = fz_u8(&in) % 3;
            /* the call's deadline: none, 1 ms, or a long one (never for ever: in this one
             * thread a full lane frees only when a later step takes, so the wait would
             * end only by a signal, which libFuzzer's RSS thread may take instead) */
            int64_t t = fz_u8(&in) % 3 == 0 ? 0 : fz_u8(&in) % 2 ? 50000000 : 1000000;
            memset(req, 0xab, sizeof req);
            uint64_t id;
            r = zipc_rpc_call(c, req, sz < sizeof req ? sz : sizeof req, fz_u8(&in), flags, room, t, &id);
            FZ_CHECK(documented(r));
            if (r == 0 && nids < MAX_IDS)
                ids[nids++] = id;
        } else if (op == 1 && nheld < MAX_HELD) { /* a take */
            r = zipc_rpc_next(w, &held[nheld], 0);
            FZ_CHECK(documented(r));
            if (r == 0) { /* in the worker's own mapping of the client's lane */
                const struct zipc__ring *wr = &zipc__rpc_worker_queue(w)->lanes[held[nheld].lane_].ring;
                check_inside(wr, held[nheld].data, held[nheld].size);
                check_inside(wr, held[nheld].reply, held[nheld].reply_capacity);
                nheld++;
            }
        } else if (op == 2 && nheld) { /* a reply */
            unsigned i = fz_u8(&in) % nheld;
            size_t sz = fz_u16(&in) % 6000;
            if (sz <= held[i].reply_capacity)
                memset(held[i].reply, 0x3c, sz);
            r = zipc_rpc_respond(w, &held[i], sz, 1, -(int32_t)(fz_u8(&in) % 3));
            FZ_CHECK(documented(r));
            if (r != -EINVAL)
                held[i] = held[--nheld];
        } else if (op == 3) { /* a wait */
            struct zipc_rpc_reply rep;
            uint64_t id = nids && fz_u8(&in) % 2 ? ids[fz_u8(&in) % nids] : ZIPC_RPC_ANY;
            r = zipc_rpc_wait(c, id, &rep, 0);
            FZ_CHECK(documented(r));
            if (r == 0) {
                if (rep.data)
                    check_inside(ring, rep.data, rep.size);
                r = zipc_rpc_reply_release(c, &rep);
                FZ_CHECK(documented(r));
            }
        } else if (op == 4 && nids) { /* a cancel */
            r = zipc_rpc_cancel(c, ids[fz_u8(&in) % nids]);
            FZ_CHECK(documented(r));
        } else if (op == 5 && nheld) { /* a hostile header */
            struct zipc_rpc_header *h = (void *)((uint8_t *)held[fz_u8(&in) % nheld].data - ZIPC_RPC_HEADER);
            uint32_t *field = (uint32_t *)h + fz_u8(&in) % (sizeof(*h) / 4);
            *field = fz_u32(&in);
        } else if (op == 6) { /* a hostile claim word */
            zipc_queue *q = zipc__rpc_client_queue(c);
            q->lanes[q->slot].log[fz_u16(&in) & q->log_mask] = fz_u64(&in);
        } else if (op == 7) { /* a hostile claim position */
            zipc_queue *q = zipc__rpc_client_queue(c);
            q->lanes[q->slot].ctl->claim = fz_u64(&in);
        } else if (op == 8 && nheld) { /* a forged request handle */
            struct zipc_rpc_request f = held[fz_u8(&in) % nheld];
            f.id ^= fz_u32(&in);
            f.lane_ = fz_u8(&in) % 40;
            f.reply_capacity = 0;
            r = zipc_rpc_respond(w, &f, 0, 0, 0);
            FZ_CHECK(documented(r));
        } else if (op == 9 && nheld) {
            r = zipc_rpc_cancelled(w, &held[fz_u8(&in) % nheld]);
            FZ_CHECK(r == 0 || r == 1);
        }
    }
    /* the tools' view (zipc_inspect_fd), after whatever was scribbled: the
     * scribbles never reach the control block or the member table, so it is
     * an rpc service with its two members, the queued count within a lap */
    struct zipc_segment_info info;
    FZ_CHECK(zipc_inspect_fd(zipc__rpc_client_queue(c)->seg.fd, &info) == 0);
    FZ_CHECK(info.detail == ZIPC_INSPECT_RPC && info.queue.producers == 1 && info.queue.consumers == 1);
    for (unsigned i = 0; i < ZIPC_INSPECT_QUEUE_LANES; i++)
        FZ_CHECK(info.queue.lane[i].queued <= LANE / ZIPC_FRAME_ALIGN);
    zipc_rpc_worker_close(w);
    zipc_rpc_client_close(c);
}

static void write_seeds(const char *dir)
{
    struct fz_seed sd = {0};
    /* call, take, reply, wait; then a cancel, a hostile header, a take */
    fz_seed_put(&sd, 8, 0, 0, 32, 0, 64, 0, 0, 1);
    fz_seed_put(&sd, 1, 1);
    fz_seed_put(&sd, 5, 2, 0, 8, 0, 0);
    fz_seed_put(&sd, 3, 3, 0, 0);
    fz_seed_put(&sd, 8, 0, 0, 16, 0, 32, 0, 1, 0);
    fz_seed_put(&sd, 1, 1);
    fz_seed_put(&sd, 7, 5, 0, 7, 0xff, 0xff, 0, 0);
    fz_seed_put(&sd, 5, 2, 0, 8, 0, 0);
    fz_seed_put(&sd, 3, 3, 0, 0);
    fz_seed_write(dir, "call_reply_hostile", sd.b, sd.n);
    struct fz_seed raw = {0};
    fz_seed_put(&raw, 7, 1, 128, 0, 0x52, 0x50, 0x43, 0x31);
    fz_seed_write(dir, "parse", raw.b, raw.n);
}

static void setup(void) {}

FZ_HARNESS(write_seeds, setup, run)

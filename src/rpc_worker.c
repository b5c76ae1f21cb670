/* Rpc worker: a queue consumer whose views are requests. It hands out only
 * calls still wanted (caller alive, not cancelled, before the deadline),
 * answers a call its previous worker died holding (-ECONNRESET, or runs it
 * again once if idempotent), and ends each call by writing the reply into
 * the frame and turning its claim word REPLIED (docs/DESIGN.md §13). */
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

struct zipc_rpc_worker {
    zipc_queue *q;
};

int zipc__rpc_header_check(const struct zipc_rpc_header *shared, uint32_t frame_size, struct zipc_rpc_header *h)
{
    if (frame_size < sizeof(*h))
        return -EBADMSG;
    memcpy(h, shared, sizeof(*h)); /* read once: the client (or anyone) may write it */
    uint64_t reply_end = (uint64_t)h->reply_offset + h->reply_capacity;
    if (h->magic != ZIPC_RPC_MAGIC || h->request_size > frame_size - ZIPC_RPC_HEADER ||
        h->reply_offset % 64 || h->reply_offset < ZIPC_RPC_HEADER + (uint64_t)h->request_size ||
        reply_end > frame_size)
        return -EBADMSG;
    return 0;
}

int zipc__rpc_open(zipc_queue **q, const char *name, int role, const struct zipc_rpc_config *cfg,
                   const struct zipc_options *opts)
{
    if (cfg && (cfg->reserved[0] || cfg->reserved[1]))
        return -EINVAL;
    struct zipc_queue_config qc = {.lane_capacity = cfg ? cfg->lane_capacity : 0};
    int err = zipc__queue_open(q, name, role, &qc, opts, ZIPC_QUEUE_SEGMENT_RPC);
    if (err == 0 && role == ZIPC_ROLE_CONSUMER)
        (*q)->endless = true; /* clients come and go: a worker never sees an end */
    return err;
}

int zipc_rpc_serve(zipc_rpc_worker **out, const char *name, const struct zipc_rpc_config *cfg,
                   const struct zipc_options *opts)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    zipc_rpc_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    int err = zipc__rpc_open(&w->q, name, ZIPC_ROLE_CONSUMER, cfg, opts);
    if (err) {
        free(w);
        return err;
    }
    *out = w;
    return 0;
}

/* The lane's slot is still held by the client that wrote the call (its
 * lease generation). One load, no system call: a caller that died a moment
 * ago still counts until a helper reaps its slot (its reply is then freed
 * by the lane's next client). */
static bool caller_there(const zipc_queue *q, uint32_t lane, uint32_t gen)
{
    /* acquire: as the member table's readers (liveness.c) */
    uint64_t lease = zipc__load(&q->members.slots[lane].lease, ZIPC__ACQUIRE);
    return (lease & ZIPC_LEASE_BUSY) && (ZIPC_LEASE_GEN(lease) & 0xffff) == gen;
}

/* 0 if the call is still wanted, else the status it ends with. */
static int32_t call_unwanted(const zipc_queue *q, uint32_t lane, uint32_t seq, int64_t deadline)
{
    const struct lane *l = &q->lanes[lane];
    /* relaxed: a hint for the worker; the reply's CAS keeps the bit whatever it read */
    uint64_t w = zipc__load(claim_word(q, l, seq), ZIPC__RELAXED);
    if (w & ZIPC_QCLAIM_CANCEL)
        return -ECANCELED;
    return zipc__deadline_passed(deadline) ? -ETIMEDOUT : 0;
}

/* Answer a call without the application: status only. */
static void answer(zipc_queue *q, const struct zipc_msg *m, const struct zipc_rpc_header *h, int32_t status)
{
    struct zipc_rpc_header *sh = rpc_header(m);
    if (h) {
        zipc__store(&sh->reply_size, 0, ZIPC__RELAXED); /* relaxed: published by the CAS below */
        zipc__store(&sh->status, status, ZIPC__RELAXED);
    }
    zipc__queue_finish(q, zipc_queue_msg_producer(m), (uint32_t)m->seq, zipc_queue_msg_attempt(m), ZIPC_QCLAIM_REPLIED);
}

int zipc_rpc_next(zipc_rpc_worker *w, struct zipc_rpc_request *req, int64_t timeout_ns)
{
    if (!w || !req)
        return -EINVAL;
    int64_t deadline = zipc__deadline(timeout_ns);
    for (bool again = false;; again = true) {
        struct zipc_msg m;
        /* the clock again only after a call was stepped over */
        int64_t left = timeout_ns <= 0 || !again ? timeout_ns : deadline - zipc__now_ns();
        int err = zipc_queue_view(w->q, &m, left < 0 && timeout_ns > 0 ? 0 : left);
        if (err)
            return err;
        uint32_t lane = zipc_queue_msg_producer(&m), seq = (uint32_t)m.seq;
        struct zipc_rpc_header h;
        if (zipc__rpc_header_check(rpc_header(&m), m.size, &h)) {
            answer(w->q, &m, NULL, -EBADMSG); /* not a request: its caller sees no reply it can read */
            continue;
        }
        uint32_t attempt = zipc_queue_msg_attempt(&m);
        int32_t unwanted = caller_there(w->q, lane, h.caller_gen) ? call_unwanted(w->q, lane, seq, h.deadline_ns)
                                                                    : -ECANCELED;
        if (unwanted) {
            answer(w->q, &m, &h, unwanted);
            continue;
        }
        if (attempt > 1 && (!(h.flags & ZIPC_RPC_IDEMPOTENT) || attempt > 2 || h.part_sent)) {
            answer(w->q, &m, &h, -ECONNRESET); /* its worker died holding it */
            continue;
        }
        uint8_t *payload = (uint8_t *)m.data;
        /* The lines the reply writes (its status, its room's first): their
         * transfers overlap with the application's work on the call. */
        zipc__prefetch_write_if(w->q->prefetch_write, &rpc_header(&m)->status);
        if (h.reply_capacity)
            zipc__prefetch_write_if(w->q->prefetch_write, payload + h.reply_offset);
        *req = (struct zipc_rpc_request){.id = rpc_id(h.caller_gen, seq), .data = payload + ZIPC_RPC_HEADER,
                                         .size = h.request_size, .method = h.method, .flags = h.flags,
                                         .attempt = attempt, .deadline_ns = h.deadline_ns,
                                         .reply = payload + h.reply_offset, .reply_capacity = h.reply_capacity,
                                         .lane_ = lane};
        return 0;
    }
}

/* The shared header of a request this worker holds, or NULL (forged). */
static struct zipc_rpc_header *held_header(const zipc_rpc_worker *w, const struct zipc_rpc_request *req)
{
    if (req->lane_ >= QP || !zipc__queue_holds(w->q, req->lane_, rpc_id_seq(req->id), req->attempt))
        return NULL;
    struct zipc_rpc_header *sh = (struct zipc_rpc_header *)((const uint8_t *)req->data - ZIPC_RPC_HEADER);
    const struct zipc__ring *r = &w->q->lanes[req->lane_].ring;
    /* a request we hold points into its lane's ring: anything else is forged */
    if ((const uint8_t *)sh < r->base || (const uint8_t *)sh >= r->base + r->size)
        return NULL;
    return sh;
}

/* 0 if the caller still wants the call, else why not. */
static int32_t call_still_wanted(const zipc_rpc_worker *w, const struct zipc_rpc_request *req)
{
    if (!caller_there(w->q, req->lane_, rpc_id_gen(req->id)))
        return -ECANCELED;
    return call_unwanted(w->q, req->lane_, rpc_id_seq(req->id), req->deadline_ns);
}

/* A part of a streamed reply is out and not released yet. */
static bool part_out(const struct zipc_rpc_header *sh)
{
    /* acquire: the caller's reads of the part are over once it says so (§2.5 #31) */
    return zipc__load(&sh->part_taken, ZIPC__ACQUIRE) != zipc__load(&sh->part_sent, ZIPC__RELAXED);
}

static void write_reply_header(struct zipc_rpc_header *sh, size_t size, uint32_t type, int32_t status)
{
    /* relaxed: published by the claim word's CAS */
    zipc__store(&sh->reply_size, (uint32_t)size, ZIPC__RELAXED);
    zipc__store(&sh->status, status, ZIPC__RELAXED);
    zipc__store(&sh->reply_type, type, ZIPC__RELAXED);
}

int zipc_rpc_respond(zipc_rpc_worker *w, const struct zipc_rpc_request *req, size_t size, uint32_t type,
                   int32_t status)
{
    if (!w || !req || size > req->reply_capacity || status > 0)
        return -EINVAL;
    struct zipc_rpc_header *sh = held_header(w, req);
    if (!sh)
        return -EBADMSG;
    if (size && part_out(sh))
        return -EBUSY; /* the caller may still read the room: only a status may go */
    /* the claim word's line (its caller polls it) comes while the header is written */
    zipc__prefetch_write_if(w->q->prefetch_write, claim_word(w->q, &w->q->lanes[req->lane_], rpc_id_seq(req->id)));
    write_reply_header(sh, size, type, status);
    int err = zipc__queue_finish(w->q, req->lane_, rpc_id_seq(req->id), req->attempt, ZIPC_QCLAIM_REPLIED);
    return err == -EINVAL ? -EBADMSG : err;
}

struct part_wait {
    const zipc_rpc_worker *w;
    const struct zipc_rpc_request *req;
    const struct zipc_rpc_header *sh;
};

static int part_released(void *arg)
{
    const struct part_wait *x = arg;
    if (!part_out(x->sh))
        return 1;
    return call_still_wanted(x->w, x->req) ? -ECANCELED : 0;
}

int zipc_rpc_respond_part(zipc_rpc_worker *w, const struct zipc_rpc_request *req, size_t size, uint32_t type,
                          int64_t timeout_ns)
{
    if (!w || !req || size > req->reply_capacity)
        return -EINVAL;
    struct zipc_rpc_header *sh = held_header(w, req);
    if (!sh)
        return -EBADMSG;
    if (call_still_wanted(w, req))
        return -ECANCELED;
    if (part_out(sh))
        return -EBUSY; /* the last part was not released (its wait timed out) */
    /* relaxed: published by part_sent's release store; the final reply's
     * fields stay apart (a status may end the call before this part is read) */
    zipc__store(&sh->part_size, (uint32_t)size, ZIPC__RELAXED);
    zipc__store(&sh->part_type, type, ZIPC__RELAXED);
    /* release: the part's bytes and header before its number (§2.5 #31) */
    zipc__store(&sh->part_sent, zipc__load(&sh->part_sent, ZIPC__RELAXED) + 1, ZIPC__RELEASE);
    zipc__queue_wake_producer(w->q, req->lane_);
    return zipc_rpc_part_wait(w, req, timeout_ns);
}

int zipc_rpc_part_wait(zipc_rpc_worker *w, const struct zipc_rpc_request *req, int64_t timeout_ns)
{
    if (!w || !req)
        return -EINVAL;
    const struct zipc_rpc_header *sh = held_header(w, req);
    if (!sh)
        return -EBADMSG;
    struct part_wait x = {.w = w, .req = req, .sh = sh};
    return zipc__wait(&w->q->wait, part_released, &x, 0, timeout_ns);
}

int zipc_rpc_cancelled(zipc_rpc_worker *w, const struct zipc_rpc_request *req)
{
    if (!w || !req || req->lane_ >= QP)
        return -EINVAL;
    return call_still_wanted(w, req) != 0;
}

zipc_queue *zipc__rpc_worker_queue(zipc_rpc_worker *w) { return w->q; }

int zipc_rpc_worker_fd(zipc_rpc_worker *w) { return w ? zipc_queue_fd(w->q) : -EINVAL; }
int zipc_rpc_worker_interrupt(zipc_rpc_worker *w) { return w ? zipc_queue_interrupt(w->q) : -EINVAL; }

int zipc_rpc_worker_close(zipc_rpc_worker *w)
{
    if (!w)
        return 0;
    /* calls we hold go back as if we died: another worker answers them */
    while (w->q->nheld) {
        struct held h = w->q->held[w->q->nheld - 1];
        zipc__queue_finish(w->q, h.lane, h.seq, h.attempt, ZIPC_QCLAIM_REDELIVER);
    }
    zipc__queue_wake_consumers(w->q);
    zipc_queue_close(w->q);
    free(w);
    return 0;
}

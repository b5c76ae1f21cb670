/* Rpc client: a queue producer whose frames are calls. A call is its
 * request, followed by room for the reply; the claim word of its frame
 * tells how far it got (free: waiting for a worker, CLAIMED: being served,
 * REPLIED: answered). Waiting looks at the words of the calls in flight;
 * cancelling sets a bit in the word (or takes a word nobody took yet), so a
 * late reply is dropped by the lane's reuse (rpc_reply_dropped) without
 * anyone's help (docs/DESIGN.md §13). */
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

struct call {
    struct zipc_rpc_header *hdr; /* in our lane */
    uint32_t seq;
    uint32_t reply_offset;       /* our own record: the shared header may be rewritten */
    uint32_t reply_capacity;
    uint32_t method;
    int64_t deadline;
    bool delivered;              /* handed out by wait, not released yet */
    bool part_held;              /* what was handed out is a part of a streamed reply */
    uint32_t parts;              /* parts of its reply seen */
    uint32_t part_size, part_type; /* the part handed out, as checked then */
};

struct zipc_rpc_client {
    zipc_queue *q;
    struct call *calls;          /* in flight, unordered */
    uint32_t n, cap, next_any;
    uint8_t *res;                /* the open reservation's frame payload, or NULL */
    uint32_t res_size, res_reply;
};

int zipc_rpc_connect(zipc_rpc_client **out, const char *name, const struct zipc_rpc_config *cfg,
                     const struct zipc_options *opts)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    zipc_rpc_client *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int err = zipc__rpc_open(&c->q, name, ZIPC_ROLE_PRODUCER, cfg, opts);
    if (err) {
        free(c);
        return err;
    }
    *out = c;
    return 0;
}

/* ---- issuing ------------------------------------------------------------------ */

static uint32_t reply_offset(size_t size) { return (uint32_t)zipc__align_up(ZIPC_RPC_HEADER + size, 64); }

int zipc_rpc_reserve(zipc_rpc_client *c, size_t size, size_t reply_capacity, void **buf, int64_t timeout_ns)
{
    if (!c || !buf)
        return -EINVAL;
    if (c->res)
        return -EALREADY;
    uint64_t total = (uint64_t)reply_offset(size) + reply_capacity;
    if (size > UINT32_MAX || reply_capacity > UINT32_MAX || total > zipc_queue_max_message(c->q))
        return -EMSGSIZE;
    void *p;
    int err = zipc_queue_reserve(c->q, (size_t)total, &p, timeout_ns);
    if (err)
        return err;
    c->res = p;
    c->res_size = (uint32_t)size;
    c->res_reply = (uint32_t)reply_capacity;
    *buf = c->res + ZIPC_RPC_HEADER;
    return 0;
}

static int track(zipc_rpc_client *c, struct call call)
{
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 256;
        struct call *a = realloc(c->calls, cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        c->calls = a;
        c->cap = cap;
    }
    c->calls[c->n++] = call;
    return 0;
}

int zipc_rpc_commit(zipc_rpc_client *c, size_t size, uint32_t method, unsigned flags, int64_t timeout_ns,
                    uint64_t *id)
{
    if (!c || !id || (flags & ~(unsigned)ZIPC_RPC_IDEMPOTENT) || timeout_ns < ZIPC_FOREVER)
        return -EINVAL;
    if (!c->res || size > c->res_size)
        return c->res ? -EINVAL : zipc_queue_commit(c->q, 0, 0, 0); /* no reservation: the queue says why */
    if (c->n == c->cap && c->cap >= (1u << 24))
        return -ENOMEM;
    uint32_t off = reply_offset(c->res_size);
    struct zipc_rpc_header *h = (struct zipc_rpc_header *)c->res;
    int64_t deadline = timeout_ns == ZIPC_FOREVER ? INT64_MAX : zipc__now_ns() + timeout_ns;
    *h = (struct zipc_rpc_header){.magic = ZIPC_RPC_MAGIC, .method = method, .flags = flags,
                                  .caller_gen = c->q->gen, .deadline_ns = deadline,
                                  .request_size = (uint32_t)size, .reply_offset = off,
                                  .reply_capacity = c->res_reply};
    struct call call = {.hdr = h, .seq = c->q->tx.seq, .reply_offset = off, .reply_capacity = c->res_reply,
                        .method = method, .deadline = deadline};
    int err = track(c, call);
    if (err)
        return err;
    if ((err = zipc_queue_commit(c->q, off + (size_t)c->res_reply, ZIPC_RPC_MAGIC, 0))) {
        c->n--;
        return err;
    }
    c->res = NULL;
    *id = rpc_id(c->q->gen, call.seq);
    return 0;
}

int zipc_rpc_call(zipc_rpc_client *c, const void *req, size_t size, uint32_t method, unsigned flags,
                  size_t reply_capacity, int64_t timeout_ns, uint64_t *id)
{
    if (!c || (!req && size))
        return -EINVAL;
    void *buf;
    int err = zipc_rpc_reserve(c, size, reply_capacity, &buf, timeout_ns < 0 ? ZIPC_FOREVER : timeout_ns);
    if (err)
        return err;
    if (size)
        zipc__copy(buf, req, size);
    if ((err = zipc_rpc_commit(c, size, method, flags, timeout_ns, id)))
        zipc_rpc_abort(c);
    return err;
}

int zipc_rpc_abort(zipc_rpc_client *c)
{
    if (!c)
        return -EINVAL;
    if (!c->res)
        return -EINVAL; /* nothing reserved */
    c->res = NULL;
    return zipc_queue_abort(c->q);
}

/* ---- completing ------------------------------------------------------------------ */

static uint64_t *word_of(const zipc_rpc_client *c, const struct call *call)
{
    return claim_word(c->q, &c->q->lanes[c->q->slot], call->seq);
}

static int find(const zipc_rpc_client *c, uint64_t id)
{
    if (rpc_id_gen(id) != c->q->gen)
        return -1;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->calls[i].seq == rpc_id_seq(id))
            return (int)i;
    return -1;
}

static void forget(zipc_rpc_client *c, uint32_t i) { c->calls[i] = c->calls[--c->n]; }

/* Take the call back from wherever it is: a worker skips it, a late reply is
 * dropped, an unreleased reply is released. -EBADMSG if its word is not
 * about it any more (a hostile member). */
static int withdraw(zipc_rpc_client *c, const struct call *call)
{
    uint64_t *wp = word_of(c, call), w = zipc__load(wp, ZIPC__ACQUIRE); /* acquire: as a take */
    for (;;) {
        uint64_t to;
        if (claim_free_for(w, call->seq, c->q->log_mask + 1))
            to = ZIPC_QCLAIM(call->seq, ZIPC_QCLAIM_REPLIED, 1, 0xff, 0) | ZIPC_QCLAIM_CANCEL; /* never taken */
        else if (ZIPC_QCLAIM_TAG(w) != call->seq)
            return -EBADMSG;
        else if (ZIPC_QCLAIM_STATE(w) == ZIPC_QCLAIM_REPLIED && !(w & ZIPC_QCLAIM_CANCEL))
            to = w & ~ZIPC_QCLAIM_STATE_MASK; /* answered: released */
        else
            to = w | ZIPC_QCLAIM_CANCEL;
        /* seq_cst: as every claim word change (§2.5 #27) */
        if (to == w || __atomic_compare_exchange_n(wp, &w, to, false, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
            return 0;
    }
}

/* The part call i holds, described again from our record. */
static void describe_part(const zipc_rpc_client *c, const struct call *call, struct zipc_rpc_reply *r)
{
    *r = (struct zipc_rpc_reply){.id = rpc_id(c->q->gen, call->seq), .size = call->part_size,
                                 .type = call->part_type, .method = call->method,
                                 .flags = ZIPC_RPC_REPLY_MORE, .part = call->parts};
    if (call->part_size > call->reply_capacity)
        r->status = -EBADMSG, r->size = 0;
    else
        r->data = (const uint8_t *)call->hdr + call->reply_offset;
}

/* A new part of call i's streamed reply, if one was published: 1 and *r filled. */
static int part_came(zipc_rpc_client *c, struct call *call, struct zipc_rpc_reply *r)
{
    const struct zipc_rpc_header *h = call->hdr;
    /* acquire: the worker's writes of the part (§2.5 #31) */
    if (zipc__load(&h->part_sent, ZIPC__ACQUIRE) != call->parts + 1)
        return 0; /* none new (a counter that jumps is not believed) */
    call->parts++;
    /* relaxed: after part_sent's acquire; read once, checked in describe_part */
    call->part_size = zipc__load(&h->part_size, ZIPC__RELAXED);
    call->part_type = zipc__load(&h->part_type, ZIPC__RELAXED);
    call->part_held = call->delivered = true;
    describe_part(c, call, r);
    return 1;
}

/* The reply (or the next part) of call i, if it came: 1 and *r filled. */
static int replied(zipc_rpc_client *c, uint32_t i, struct zipc_rpc_reply *r)
{
    struct call *call = &c->calls[i];
    if (call->part_held) {
        describe_part(c, call, r);
        return 1;
    }
    uint64_t w = zipc__load(word_of(c, call), ZIPC__ACQUIRE); /* acquire: the worker's reply writes */
    if (ZIPC_QCLAIM_TAG(w) != call->seq || (w & ZIPC_QCLAIM_CANCEL))
        return 0;
    if (part_came(c, call, r)) /* before the final reply: a status may end the call while a part is out */
        return 1;
    if (ZIPC_QCLAIM_STATE(w) != ZIPC_QCLAIM_REPLIED)
        return 0;
    const struct zipc_rpc_header *h = call->hdr;
    /* the reply's first line comes with the header's, not after it */
    __builtin_prefetch((const uint8_t *)h + call->reply_offset, 0, 3);
    /* relaxed: after the word's acquire; read once, then checked */
    uint32_t size = zipc__load(&h->reply_size, ZIPC__RELAXED);
    int32_t status = zipc__load(&h->status, ZIPC__RELAXED);
    *r = (struct zipc_rpc_reply){.id = rpc_id(c->q->gen, call->seq), .size = size,
                                 .type = zipc__load(&h->reply_type, ZIPC__RELAXED), .status = status,
                                 .method = call->method};
    if (size > call->reply_capacity || status > 0)
        *r = (struct zipc_rpc_reply){.id = r->id, .status = -EBADMSG, .method = call->method};
    else
        r->data = (const uint8_t *)h + call->reply_offset;
    call->delivered = true;
    return 1;
}

/* A part released: the worker may write the next one; the call goes on. */
static void release_part(zipc_rpc_client *c, struct call *call)
{
    /* seq_cst: our reads of the part are over (release, §2.5 #31), and the
     * worker's sleep flag is loaded after (Dekker with its arm) */
    zipc__store(&call->hdr->part_taken, call->parts, ZIPC__SEQ_CST);
    call->part_held = call->delivered = false;
    uint32_t holder = ZIPC_QCLAIM_SLOT(zipc__load(word_of(c, call), ZIPC__RELAXED)); /* relaxed: whom to wake */
    if (holder < QC)
        zipc__queue_wake_consumer(c->q, holder);
}

/* Call i's deadline has passed at *now: cancelled, reported once as
 * -ETIMEDOUT. *now is read from the clock at the first call with a deadline
 * (-1 until then): calls without one read no clock. */
static int expired(zipc_rpc_client *c, uint32_t i, struct zipc_rpc_reply *r, int64_t *now)
{
    struct call *call = &c->calls[i];
    if (call->deadline == INT64_MAX || call->delivered)
        return 0;
    if (*now < 0)
        *now = zipc__now_ns();
    if (call->deadline >= *now)
        return 0;
    *r = (struct zipc_rpc_reply){.id = rpc_id(c->q->gen, call->seq), .status = -ETIMEDOUT,
                                 .method = call->method};
    withdraw(c, call);
    forget(c, i);
    return 1;
}

struct wait_ctx {
    zipc_rpc_client *c;
    uint64_t id;
    struct zipc_rpc_reply *r;
};

static int reply_ready(void *arg)
{
    struct wait_ctx *x = arg;
    zipc_rpc_client *c = x->c;
    /* Read at each look (by expired(), for a call with a deadline): a reply
     * that comes after its call's deadline is late, never delivered. */
    int64_t now = -1;
    if (x->id != ZIPC_RPC_ANY) {
        int i = find(c, x->id);
        if (i < 0)
            return -EINVAL;
        return expired(c, (uint32_t)i, x->r, &now) || replied(c, (uint32_t)i, x->r);
    }
    for (uint32_t k = 0; k < c->n; k++) { /* in turn, from after the last one answered */
        uint32_t i = (c->next_any + k) % c->n;
        if (c->calls[i].delivered)
            continue;
        if (expired(c, i, x->r, &now) || replied(c, i, x->r)) { /* past its deadline, a reply is late */
            c->next_any = i + 1;
            return 1;
        }
    }
    return 0;
}

/* The first deadline among the calls waited for. */
static int64_t first_deadline(const zipc_rpc_client *c, uint64_t id)
{
    int64_t d = INT64_MAX;
    for (uint32_t i = 0; i < c->n; i++)
        if (!c->calls[i].delivered && (id == ZIPC_RPC_ANY || c->calls[i].seq == rpc_id_seq(id)) &&
            c->calls[i].deadline < d)
            d = c->calls[i].deadline;
    return d;
}

int zipc_rpc_wait(zipc_rpc_client *c, uint64_t id, struct zipc_rpc_reply *reply, int64_t timeout_ns)
{
    if (!c || !reply)
        return -EINVAL;
    if (id != ZIPC_RPC_ANY) {
        int i = find(c, id);
        if (i < 0)
            return -EINVAL;
        if (c->calls[i].delivered) /* asked again: the same reply */
            return replied(c, (uint32_t)i, reply) ? 0 : -EBADMSG;
    } else if (c->n == 0) {
        return -EAGAIN; /* nothing in flight */
    }
    struct wait_ctx x = {.c = c, .id = id, .r = reply};
    int64_t now = zipc__now_ns(), until = zipc__deadline_from(now, timeout_ns);
    for (;;) {
        int64_t d = first_deadline(c, id), stop = d < until ? d : until;
        int64_t t = timeout_ns == 0 ? 0 : stop == INT64_MAX ? ZIPC_FOREVER : stop > now ? stop - now : 0;
        int err = zipc__wait(&c->q->wait, reply_ready, &x, 0, t);
        if (err != -ETIMEDOUT && err != -EAGAIN)
            return err;
        now = zipc__now_ns();
        if (timeout_ns == 0 || now >= until)
            return err; /* our own timeout; a call's deadline makes reply_ready answer next time */
    }
}

int zipc_rpc_reply_release(zipc_rpc_client *c, const struct zipc_rpc_reply *reply)
{
    if (!c || !reply)
        return -EINVAL;
    int i = find(c, reply->id);
    if (i < 0)
        return reply->data ? -EINVAL : 0; /* a status the service made up (expired): nothing to give back */
    struct call *call = &c->calls[i];
    bool part = reply->flags & ZIPC_RPC_REPLY_MORE;
    if (!call->delivered || part != call->part_held || (part && reply->part != call->parts))
        return -EINVAL; /* released already (an older part given back twice must not free the newer one) */
    if (part) {
        release_part(c, call);
        return 0;
    }
    int err = withdraw(c, call);
    forget(c, (uint32_t)i);
    return err;
}

int zipc_rpc_cancel(zipc_rpc_client *c, uint64_t id)
{
    if (!c)
        return -EINVAL;
    int i = find(c, id);
    if (i < 0)
        return -EINVAL;
    int err = withdraw(c, &c->calls[i]);
    forget(c, (uint32_t)i);
    return err;
}

zipc_queue *zipc__rpc_client_queue(zipc_rpc_client *c) { return c->q; }

unsigned zipc_rpc_in_flight(const zipc_rpc_client *c) { return c ? c->n : 0; }
int zipc_rpc_client_fd(zipc_rpc_client *c) { return c ? zipc_queue_fd(c->q) : -EINVAL; }
int zipc_rpc_client_interrupt(zipc_rpc_client *c) { return c ? zipc_queue_interrupt(c->q) : -EINVAL; }

int zipc_rpc_client_close(zipc_rpc_client *c)
{
    if (!c)
        return 0;
    while (c->n) { /* nobody will wait for them any more */
        withdraw(c, &c->calls[c->n - 1]);
        c->n--;
    }
    zipc_queue_close(c->q);
    free(c->calls);
    free(c);
    return 0;
}

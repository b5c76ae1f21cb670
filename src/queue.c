/* Queue: many producers, many consumers (include/zipc/queue.h; the files
 * are listed in src/queue.h, the design is docs/DESIGN.md §12).
 *
 * One segment that every member maps read-write: a control block, a line
 * per consumer, the member table, and one lane per producer slot (a ring
 * only its producer writes, a claim log its consumers compete through).
 * There is no server: every member binds "<name>#<slot>" and its helper
 * thread hands the segment and the eventfds to whoever joins through it.
 *
 * This file: layout and validation, open (find a member, or create the
 * queue under the "<name>#lock" name), close, accessors. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "queue.h"

#define OPEN_RETRY_NS 1000000LL /* another opener holds the lock name: look again after 1 ms */
#define DOOR_PATIENCE_NS 500000000LL /* a door's handshake: a live helper answers in microseconds */

/* ------------------------------------------------------------------------
 * Layout
 * ------------------------------------------------------------------------ */

struct qlayout {
    uint64_t ring_size, log_size, ring_offset, lane_stride, lane_offset, size;
};

static struct qlayout layout_for(uint64_t ring_size)
{
    struct qlayout l = {.ring_size = ring_size, .log_size = ring_size / ZIPC_FRAME_ALIGN};
    l.ring_offset = zipc__align_up(ZIPC_QUEUE_LOG_OFFSET + l.log_size * sizeof(uint64_t), ZIPC_PAGE);
    l.lane_stride = zipc__align_up(l.ring_offset + ring_size, ZIPC_PAGE);
    l.lane_offset = zipc__align_up(ZIPC_QUEUE_MEMBERS_OFFSET + ZIPC_MEMBER_TABLE_SIZE(ZIPC_QUEUE_SLOTS), ZIPC_PAGE);
    l.size = l.lane_offset + QP * l.lane_stride;
    return l;
}

/* Read-write for every member, never pre-faulted: a lane's pages are
 * touched only when its producer writes them. */
static struct zipc__segment_policy queue_policy(uint64_t max_size)
{
    struct zipc__segment_policy p = zipc__segment_policy_rw(max_size);
    p.prefault = false;
    return p;
}

struct qparams {
    uint64_t ring_size;
    uint32_t flags;
};

/* The claim words start all zero: "never used", free for the first lap
 * (claim_free_for), so creating a queue touches no lane page. */
static void init_body(struct zipc__segment *seg, const void *params)
{
    const struct qparams *p = params;
    struct qlayout l = layout_for(p->ring_size);
    struct zipc_queue_ctl *c = (void *)(seg->base + ZIPC_QUEUE_BODY_OFFSET);
    *c = (struct zipc_queue_ctl){.lane_offset = l.lane_offset, .lane_stride = l.lane_stride,
                                 .ring_size = l.ring_size, .ring_offset = l.ring_offset,
                                 .log_size = (uint32_t)l.log_size, .flags = p->flags,
                                 .max_producers = QP, .max_consumers = QC,
                                 .members_offset = ZIPC_QUEUE_MEMBERS_OFFSET};
    zipc__members_init(seg->base, ZIPC_QUEUE_MEMBERS_OFFSET, ZIPC_QUEUE_SLOTS);
}

static void lane_at(const zipc_queue *q, const struct zipc_queue_ctl *c, uint32_t i, struct lane *out)
{
    uint8_t *lane = q->seg.base + c->lane_offset + (uint64_t)i * c->lane_stride;
    out->ctl = (struct zipc_queue_lane *)lane;
    out->log = (uint64_t *)(lane + ZIPC_QUEUE_LOG_OFFSET);
    zipc__ring_init(&out->ring, lane + c->ring_offset, c->ring_size);
}

/* The control block must be exactly what layout_for makes of its ring
 * size; read once, as any member may write it. Members and inspect. */
int zipc__queue_check_ctl(const struct zipc__segment *seg, struct zipc_queue_ctl *out)
{
    if (seg->size < ZIPC_QUEUE_BODY_OFFSET + sizeof(*out))
        return -EBADMSG; /* the block would be read past the segment's end */
    memcpy(out, seg->base + ZIPC_QUEUE_BODY_OFFSET, sizeof(*out));
    uint64_t rs = out->ring_size;
    if (rs < ZIPC_MIN_CAPACITY || rs > ZIPC_QUEUE_MAX_LANE || (rs & (rs - 1)))
        return -EBADMSG;
    struct qlayout l = layout_for(rs);
    if (out->lane_offset != l.lane_offset || out->lane_stride != l.lane_stride ||
        out->ring_offset != l.ring_offset || out->log_size != l.log_size || out->max_producers != QP ||
        out->max_consumers != QC || out->members_offset != ZIPC_QUEUE_MEMBERS_OFFSET ||
        (out->flags & ~(uint32_t)(ZIPC_QUEUE_AT_MOST_ONCE | ZIPC_QUEUE_SEGMENT_RPC)) || seg->size != l.size)
        return -EBADMSG;
    return 0;
}

/* The kind's bind: a validated segment and our copies of its eventfds. The
 * role comes later (zipc_queue_open claims a slot). */
static int queue_bind(void *ep, struct zipc__handover *h, const struct zipc__opts *o)
{
    (void)o;
    zipc_queue *q = ep;
    struct zipc_queue_ctl c;
    int err = zipc__queue_check_ctl(&h->seg, &c);
    if (err || (err = zipc__members_bind(&q->members, &h->seg, ZIPC_QUEUE_MEMBERS_OFFSET)))
        return err;
    if (q->members.capacity != ZIPC_QUEUE_SLOTS)
        return -EBADMSG;
    q->seg = h->seg;
    h->seg = (struct zipc__segment){.fd = -1};
    q->members.probe_fd = q->seg.fd;
    q->ctl = (struct zipc_queue_ctl *)(q->seg.base + ZIPC_QUEUE_BODY_OFFSET);
    q->consumers = (struct zipc_queue_consumer *)(q->seg.base + ZIPC_QUEUE_CONSUMERS_OFFSET);
    q->log_mask = c.log_size - 1;
    q->flags = c.flags;
    /* from the validated copy: a member rewriting the block later cannot move the lanes */
    for (uint32_t i = 0; i < QP; i++)
        lane_at(q, &c, i, &q->lanes[i]);
    for (unsigned i = 1; i < QUEUE_NFDS; i++) {
        q->fds[i] = h->fds[i];
        h->fds[i] = -1;
    }
    return 0;
}

const struct zipc__kind_desc zipc__queue_kind = {
    .kind = ZIPC_KIND_QUEUE,
    .nfds = QUEUE_NFDS,
    .roles = 1u << ZIPC_ROLE_CONSUMER | 1u << ZIPC_ROLE_PRODUCER,
    .body_offset = ZIPC_QUEUE_BODY_OFFSET,
    .body_size = sizeof(struct zipc_queue_ctl),
    .max_segment = ZIPC_PAGE * 4 + QP * (ZIPC_QUEUE_MAX_LANE + ZIPC_QUEUE_MAX_LANE / 8 + ZIPC_PAGE * 2),
    .policy = queue_policy,
    .init_body = init_body,
    .bind = queue_bind,
};

/* ------------------------------------------------------------------------
 * Wake-ups shared by the roles and the helper
 * ------------------------------------------------------------------------ */

void zipc__queue_wake_consumer(zipc_queue *q, uint32_t c)
{
    /* seq_cst: after the state change that calls for the look (Dekker with arm) */
    if (zipc__load(&q->consumers[c].sleeping, ZIPC__SEQ_CST) && zipc__xchg(&q->consumers[c].sleeping, 0, ZIPC__SEQ_CST))
        qwake_fd(q->fds[consumer_fd(c)]);
}

void zipc__queue_wake_consumers(zipc_queue *q)
{
    for (uint32_t c = 0; c < QC; c++)
        zipc__queue_wake_consumer(q, c);
}

void zipc__queue_wake_producer(zipc_queue *q, uint32_t lane)
{
    uint32_t *flag = &q->lanes[lane].ctl->producer_sleeping;
    /* seq_cst: the load half of the Dekker pair with the producer's arm (§2.5 #28) */
    if (zipc__load(flag, ZIPC__SEQ_CST) && zipc__xchg(flag, 0, ZIPC__SEQ_CST))
        qwake_fd(q->fds[producer_fd(lane)]);
}

/* ------------------------------------------------------------------------
 * Open and close
 * ------------------------------------------------------------------------ */

static void queue_free(zipc_queue *q)
{
    zipc__queue_helper_stop(q);
    if (q->me.lock_fd >= 0)
        zipc__member_release(&q->members, &q->me);
    for (unsigned i = 1; i < QUEUE_NFDS; i++)
        if (q->fds[i] >= 0)
            close(q->fds[i]);
    q->wait.wake_fd = -1; /* one of fds[] */
    zipc__waiter_close(&q->wait);
    zipc__ring_tx_free(&q->tx);
    zipc__segment_close(&q->seg);
    free(q->held);
    free(q);
}

static zipc_queue *queue_new(void)
{
    zipc_queue *q = aligned_alloc(ZIPC_CACHE_LINE, zipc__align_up(sizeof(*q), ZIPC_CACHE_LINE));
    if (!q)
        return NULL;
    memset(q, 0, sizeof(*q));
    q->seg.fd = -1;
    q->me.lock_fd = -1;
    q->lsock = -1;
    q->stop_fd = -1;
    for (unsigned i = 0; i < QUEUE_NFDS; i++)
        q->fds[i] = -1;
    zipc__waiter_init(&q->wait);
    q->tx.sticky_err = ZIPC__RING_UNBOUND;
    q->always_active = ZIPC_STATE_ACTIVE;
    return q;
}

/* Join through any member's door: 0, -ENOENT if no door was bound, or
 * -EAGAIN if none let us in but one was there (a member dying as we came,
 * or one too slow to answer on a loaded machine): the queue exists, and its
 * live members may all be between joining and binding their doors; never a
 * reason to create another. */
static int join_any(zipc_queue *q, int64_t deadline)
{
    int err = -ENOENT;
    for (uint32_t s = 0; s < ZIPC_QUEUE_SLOTS; s++) {
        char suffix[16];
        struct zipc__addr a;
        snprintf(suffix, sizeof(suffix), "#%u", s);
        if (zipc__addr_suffix(&q->addr, suffix, &a))
            return -ENAMETOOLONG;
        /* a door that does not answer within DOOR_PATIENCE_NS (a stuck member): try the next */
        int64_t patience = zipc__now_ns() + DOOR_PATIENCE_NS;
        int r = zipc__endpoint_connect_addr(&zipc__queue_kind, q, &a, &q->opts, 0,
                                            patience < deadline ? patience : deadline);
        if (r == 0)
            return 0;
        if (r == -ENOENT || r == -ECONNREFUSED)
            continue; /* nobody there */
        if (r == -ETIMEDOUT && zipc__now_ns() >= deadline)
            return r;
        if (r == -EPIPE || r == -ECONNRESET || r == -ETIMEDOUT) {
            if (err == -ENOENT)
                err = -EAGAIN; /* a member leaving as we came, or a slow one: look again */
            continue;
        }
        if (r != -EPERM)
            return r; /* -EPROTO, -EBADMSG, -EFBIG...: what the queue is, not who answered */
        err = r;
    }
    return err;
}

/* The segment's label is the name unless the options give one (common.h):
 * tools (zipc ls, zipc stat NAME) find the queue by it. */
static int create_queue(zipc_queue *q, const struct qparams *p, const char *name)
{
    struct zipc__handover h;
    int err = zipc__handover_create(&zipc__queue_kind, &h, layout_for(p->ring_size).size, p,
                                    q->opts.label ? q->opts.label : name);
    if (err)
        return err;
    err = queue_bind(q, &h, &q->opts);
    zipc__handover_close(&h);
    return err;
}

/* Attach to the queue, or create it, holding the lock name: every opener
 * takes it, joiners and creators alike, and keeps it (*lock) until its own
 * door is open. So a scan under the lock is the truth: a member is either
 * behind a bound door or still opening (holding the lock: we wait), and a
 * creator never makes a second queue beside members it could not see. */
static int find_or_create(zipc_queue *q, const struct qparams *p, const char *name, int64_t deadline,
                          int *lock)
{
    struct zipc__addr lock_addr;
    int err = zipc__addr_suffix(&q->addr, "#lock", &lock_addr);
    if (err)
        return err;
    for (;;) {
        if ((err = zipc__addr_bind(&lock_addr, &q->opts, lock)) == 0) {
            if ((err = join_any(q, deadline)) == -ENOENT)
                return create_queue(q, p, name);
            if (err != -EAGAIN)
                return err; /* joined (0), or what the queue is */
            close(*lock); /* a member leaving, or a slow one: look again, letting others go first */
            *lock = -1;
        }
        if (err != -EADDRINUSE && err != -EAGAIN)
            return err;
        if (zipc__now_ns() >= deadline)
            return -ETIMEDOUT;
        if ((err = zipc__sleep_ns(OPEN_RETRY_NS)))
            return err;
    }
}

static int check_config(const struct zipc_queue_config *cfg, struct qparams *p)
{
    struct zipc_queue_config z = {0};
    if (!cfg)
        cfg = &z;
    uint64_t cap = cfg->lane_capacity ? cfg->lane_capacity : ZIPC_QUEUE_DEFAULT_LANE;
    if (cap > ZIPC_QUEUE_MAX_LANE || (cfg->flags & ~(uint32_t)ZIPC_QUEUE_AT_MOST_ONCE) || cfg->reserved)
        return -EINVAL;
    p->ring_size = zipc__ring_capacity((size_t)cap);
    p->flags = cfg->flags;
    return p->ring_size ? 0 : -EINVAL;
}

int zipc__queue_open(zipc_queue **out, const char *name, int role, const struct zipc_queue_config *cfg,
                     const struct zipc_options *opts, uint32_t segment_flags)
{
    if (!out || !name)
        return -EINVAL;
    *out = NULL;
    struct qparams p;
    int err = check_config(cfg, &p);
    if (err)
        return err;
    if ((role != ZIPC_ROLE_PRODUCER && role != ZIPC_ROLE_CONSUMER) || strchr(name, '/'))
        return -EINVAL;
    p.flags |= segment_flags;
    zipc_queue *q = queue_new();
    if (!q)
        return -ENOMEM;
    q->role = role;
    if ((err = zipc__opts_resolve(opts, &q->opts)) ||
        (err = zipc__addr_resolve(name, zipc__lookup_uid(&q->opts), &q->addr))) {
        queue_free(q);
        return err;
    }
    int lock = -1;
    int64_t deadline = zipc__deadline(q->opts.timeout_ns);
    err = find_or_create(q, &p, name, deadline, &lock);
    if (err == 0 && (q->flags & ZIPC_QUEUE_SEGMENT_RPC) != segment_flags)
        err = -EPROTOTYPE; /* a queue's name opened as an rpc service, or the reverse */
    if (err == 0)
        err = role == ZIPC_ROLE_PRODUCER ? zipc__queue_producer_bind(q) : zipc__queue_consumer_bind(q);
    if (err == 0)
        err = zipc__queue_helper_start(q, deadline); /* a member now, and a door to the queue */
    if (lock >= 0)
        close(lock); /* an abstract name: closing frees it */
    if (err) {
        queue_free(q);
        return err;
    }
    *out = q;
    return 0;
}

int zipc_queue_open(zipc_queue **out, const char *name, int role, const struct zipc_queue_config *cfg,
                    const struct zipc_options *opts)
{
    return zipc__queue_open(out, name, role, cfg, opts, 0);
}

static int live_members(const zipc_queue *q, uint32_t first, uint32_t count)
{
    int n = 0;
    for (uint32_t i = first; i < first + count; i++) {
        uint64_t lease;
        n += zipc__member_alive(&q->members, i, &lease) == 1;
    }
    return n;
}

/* May this producer leave without taking messages with it? The queue
 * lives while it has members: another member keeps what is queued. */
static int may_leave(void *arg)
{
    const zipc_queue *q = arg;
    return live_members(q, 0, ZIPC_QUEUE_SLOTS) > 1 || zipc__queue_lanes_empty(q);
}

/* A producer that is the last member waits, its door open, until a member
 * joins (a consumer that was a moment late) or nothing is left to take:
 * leaving at once would drop what it sent, silently. Not an rpc client's
 * queue: its calls end with it. */
int zipc_queue_linger(zipc_queue *q, int64_t timeout_ns)
{
    if (!q)
        return -EINVAL;
    if (q->role != ZIPC_ROLE_PRODUCER || (q->flags & ZIPC_QUEUE_SEGMENT_RPC) ||
        q->tx.sticky_err == ZIPC__RING_UNBOUND)
        return 0;
    if (zipc_queue_flush(q))
        return 0; /* a corrupt lane: nothing to keep */
    return zipc__wait(&q->wait, may_leave, q, 0, timeout_ns);
}

int zipc_queue_close(zipc_queue *q)
{
    if (!q)
        return 0;
    int err = zipc_queue_linger(q, q->opts.timeout_ns);
    zipc__queue_helper_stop(q); /* no admission while we go */
    if (q->role == ZIPC_ROLE_PRODUCER)
        zipc__queue_producer_leave(q);
    else
        zipc__queue_consumer_leave(q);
    queue_free(q);
    return err;
}

/* ------------------------------------------------------------------------
 * Accessors
 * ------------------------------------------------------------------------ */

int zipc_queue_interrupt(zipc_queue *q)
{
    if (!q)
        return -EINVAL;
    zipc__waiter_interrupt(&q->wait);
    return 0;
}

int zipc_queue_fd(zipc_queue *q) { return q ? zipc__waiter_fd(&q->wait) : -EINVAL; }
int zipc_queue_role(const zipc_queue *q) { return q ? q->role : -EINVAL; }
int zipc_queue_slot(const zipc_queue *q) { return q ? (int)q->slot : -EINVAL; }
size_t zipc_queue_capacity(const zipc_queue *q) { return q ? (size_t)q->lanes[0].ring.size : 0; }
size_t zipc_queue_max_message(const zipc_queue *q) { return q ? q->lanes[0].ring.max_message : 0; }
unsigned zipc_queue_flags(const zipc_queue *q) { return q ? q->flags : 0; }


int zipc_queue_producers(const zipc_queue *q) { return q ? live_members(q, 0, QP) : -EINVAL; }
int zipc_queue_consumers(const zipc_queue *q) { return q ? live_members(q, QP, QC) : -EINVAL; }

int zipc_queue_get_stats(const zipc_queue *q, struct zipc_queue_stats *st)
{
    if (!q || !st)
        return -EINVAL;
    *st = (struct zipc_queue_stats){.reclaimed = __atomic_load_n(&q->reclaimed, __ATOMIC_RELAXED)};
    if (q->role == ZIPC_ROLE_PRODUCER) {
        const struct zipc_channel_side *s = &q->lanes[q->slot].ctl->producer;
        /* relaxed: informative counters (§2.5 #2) */
        st->messages = zipc__load(&s->messages, ZIPC__RELAXED) - q->start_messages;
        st->bytes = q->tx.published - q->start_pos;
        st->wakeups = zipc__load(&s->wakeups, ZIPC__RELAXED);
        st->sleeps = zipc__load(&s->sleeps, ZIPC__RELAXED);
    } else {
        const struct zipc_queue_consumer *c = &q->consumers[q->slot];
        st->messages = zipc__load(&c->messages, ZIPC__RELAXED);
        st->bytes = zipc__load(&c->bytes, ZIPC__RELAXED);
        st->redelivered = zipc__load(&c->redelivered, ZIPC__RELAXED);
        st->wakeups = zipc__load(&c->wakeups, ZIPC__RELAXED);
        st->sleeps = zipc__load(&c->sleeps, ZIPC__RELAXED);
    }
    return 0;
}

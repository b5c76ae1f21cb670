/* Queue producer: a ring tx half on its own lane. Its space comes from the
 * claim log: the ring is reused up to the first frame that is not taken
 * and released (lane_refresh). A commit wakes one sleeping consumer. A new
 * producer on a lane takes over where the last one stopped
 * (docs/DESIGN.md §12). */
#include "queue.h"

/* ------------------------------------------------------------------------
 * Space: frames released by the consumers
 * ------------------------------------------------------------------------ */

/* An rpc client's frame whose reply nobody will release: the call was
 * cancelled, or it is a dead earlier client's (another lease generation). */
static bool rpc_reply_unwanted(const zipc_queue *q, const struct zipc_frame *f, uint64_t w)
{
    if (!(q->flags & ZIPC_QUEUE_SEGMENT_RPC) || ZIPC_QCLAIM_STATE(w) != ZIPC_QCLAIM_REPLIED)
        return false;
    if (w & ZIPC_QCLAIM_CANCEL)
        return true;
    /* relaxed: our own frame's header, read after the word's acquire */
    if (zipc__load(&f->size, ZIPC__RELAXED) < sizeof(struct zipc_rpc_header))
        return true; /* not a request we wrote */
    const struct zipc_rpc_header *h = (const void *)((const uint8_t *)f + ZIPC_FRAME_HEADER);
    return zipc__load(&h->caller_gen, ZIPC__RELAXED) != q->gen;
}

/* Such a frame is released here (its word RELEASED, as the next lap's
 * taker expects of a reused frame): true if it was. */
static bool rpc_drop_reply(const zipc_queue *q, struct lane *l, uint32_t seq, const struct zipc_frame *f,
                           uint64_t w)
{
    if (!rpc_reply_unwanted(q, f, w))
        return false;
    /* seq_cst: as every claim word change (§2.5 #27); only we change a REPLIED word of our lane */
    return __atomic_compare_exchange_n(claim_word(q, l, seq), &w, w & ~ZIPC_QCLAIM_STATE_MASK, false,
                                       __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/* Walk from our reuse point over frames taken and released, publish the
 * new reuse point (before the tx may write there), and hand it to the tx
 * as the head. Frames from `claim` on are not taken yet: never passed. */
static int lane_refresh(struct zipc__ring_tx *tx)
{
    zipc_queue *q = queue_of_tx(tx);
    struct lane *l = &q->lanes[q->slot];
    /* acquire: the claim's frames were taken before (their words are then read below) */
    uint32_t claim_seq = (uint32_t)(zipc__load(&l->ctl->claim, ZIPC__ACQUIRE) >> 32);
    uint64_t pos = q->freed_pos, next;
    uint32_t seq = q->freed_seq;
    if ((uint32_t)(claim_seq - seq) > tx->seq - seq)
        return zipc__ring_fail(&tx->sticky_err, -EBADMSG); /* a claim beyond what we published */
    /* Hysteresis: with frames still to take, walk only once the consumers took an
     * eighth of what is out. Walking after every take would read the claim words
     * the consumers are writing, a line transfer per message each way; this way
     * the space comes back in bursts. Consumers can always take what is out, so
     * the claim keeps moving; with everything taken, the walk runs at once. */
    if (claim_seq != tx->seq && (uint32_t)(claim_seq - seq) < (tx->seq - seq) / 8)
        return 0;
    for (uint32_t steps = 0; seq != claim_seq && steps <= 2 * tx->ring.lap_frames; steps++) {
        const struct zipc_frame *f;
        if (zipc__ring_frame_step(&tx->ring, pos, seq, &next, &f) != 1)
            return zipc__ring_fail(&tx->sticky_err, -EBADMSG); /* our published frame, rewritten */
        if (f) {
            /* acquire: the consumer's reads of the frame are over before we reuse it (§2.5 #26) */
            uint64_t w = zipc__load(claim_word(q, l, seq), ZIPC__ACQUIRE);
            if (w == 0 || ZIPC_QCLAIM_TAG(w) != seq ||
                (ZIPC_QCLAIM_STATE(w) != ZIPC_QCLAIM_RELEASED && !rpc_drop_reply(q, l, seq, f, w)))
                break;
            seq++;
        }
        pos = next;
    }
    if (pos != q->freed_pos) {
        /* relaxed: a starting point for redelivery walks (which trust nothing they pass) and
         * for a producer taking the lane over after our death (§2.5 #29) */
        zipc__store(&l->ctl->freed, ZIPC_QPOS(seq, pos & tx->ring.mask), ZIPC__RELAXED);
        q->freed_pos = pos;
        q->freed_seq = seq;
    }
    tx->cached_head = pos;
    return 0;
}

/* ------------------------------------------------------------------------
 * Waking one consumer
 * ------------------------------------------------------------------------ */

/* A commit found a sleeper's bit: wake one consumer that really sleeps.
 * Bits of consumers awake again are cleared on the way. */
static void wake_one_consumer(struct zipc__waiter *w)
{
    zipc_queue *q = queue_of_waiter(w);
    uint32_t *map = &q->ctl->sleepers;
    uint32_t bits = zipc__load(map, ZIPC__SEQ_CST); /* seq_cst: in the Dekker order with arm (§2.5 #24) */
    while (bits) {
        uint32_t c = (uint32_t)__builtin_ctz(bits);
        bits &= bits - 1;
        __atomic_fetch_and(map, ~(1u << c), __ATOMIC_SEQ_CST); /* seq_cst: as the load above */
        if (zipc__xchg(&q->consumers[c].sleeping, 0, ZIPC__SEQ_CST)) {
            qwake_fd(q->fds[consumer_fd(c)]);
            zipc__store(w->my_wakeups, zipc__load(w->my_wakeups, ZIPC__RELAXED) + 1, ZIPC__RELAXED);
            return;
        }
    }
}

/* ------------------------------------------------------------------------
 * Taking a lane
 * ------------------------------------------------------------------------ */

/* Where the lane stands: the reuse point its last producer published, the
 * claim, and the end of what it published (walked from the claim). Every
 * step is validated: the lane may come from a hostile member. */
static int lane_state(const struct lane *l, uint64_t *freed_pos, uint32_t *freed_seq,
                      uint64_t *tail, uint32_t *tail_seq)
{
    const struct zipc__ring *r = &l->ring;
    /* acquire: what the last producer and the consumers wrote before */
    uint64_t freed = zipc__load(&l->ctl->freed, ZIPC__ACQUIRE), claim = zipc__load(&l->ctl->claim, ZIPC__ACQUIRE);
    uint64_t fo = (uint64_t)(uint32_t)freed * ZIPC_FRAME_ALIGN, co = (uint64_t)(uint32_t)claim * ZIPC_FRAME_ALIGN;
    uint32_t seq = (uint32_t)(freed >> 32), claim_seq = (uint32_t)(claim >> 32);
    if (fo >= r->size || co >= r->size || claim_seq - seq > r->lap_frames)
        return -EBADMSG;
    *freed_pos = fo;
    *freed_seq = seq;
    uint64_t pos = fo, next;
    bool claim_seen = false;
    for (uint32_t steps = 0; steps <= 2 * r->lap_frames; steps++) {
        if (seq == claim_seq && (pos & r->mask) == co)
            claim_seen = true; /* after a pad, the claim may be at the message (offset 0) already */
        const struct zipc_frame *f;
        int s = zipc__ring_frame_step(r, pos, seq, &next, &f);
        if (s < 0)
            return s;
        if (s == 0)
            break;
        seq += f != NULL;
        pos = next;
        if (pos - fo > r->size)
            return -EBADMSG;
    }
    if (!claim_seen && !(seq == claim_seq && (pos & r->mask) == co))
        return -EBADMSG; /* the claim is not on one of the lane's frames */
    *tail = pos;
    *tail_seq = seq;
    return 0;
}

static void open_lane(zipc_queue *q)
{
    struct zipc_queue_ctl *c = q->ctl;
    uint32_t hwm = zipc__load(&c->lane_hwm, ZIPC__RELAXED);
    /* release: consumers that read the hwm find the lane's pointers valid (they always are) */
    while (hwm < q->slot + 1 &&
           !__atomic_compare_exchange_n(&c->lane_hwm, &hwm, q->slot + 1, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
    }
    zipc__store(&c->producers_joined, 1, ZIPC__SEQ_CST);
    /* seq_cst: a consumer judging the end of the stream sees us attached before any frame of ours */
    __atomic_fetch_or(&c->lanes_open, 1u << q->slot, __ATOMIC_SEQ_CST);
}

int zipc__queue_producer_bind(zipc_queue *q)
{
    int err = zipc__member_claim_in(&q->members, 0, QP, &q->me);
    if (err)
        return err;
    q->slot = q->me.slot;
    q->gen = ZIPC_LEASE_GEN(q->me.lease) & 0xffff;
    struct lane *l = &q->lanes[q->slot];
    uint64_t tail;
    uint32_t tail_seq;
    if ((err = lane_state(l, &q->freed_pos, &q->freed_seq, &tail, &tail_seq)))
        return err;
    struct zipc__waiter *w = &q->wait;
    w->wake_fd = q->fds[producer_fd(q->slot)];
    w->my_sleeping = &l->ctl->producer_sleeping;
    w->peer_sleeping = &q->ctl->sleepers;
    w->wake_slow = wake_one_consumer;
    w->peer_state = &q->always_active;
    w->my_wakeups = &l->ctl->producer.wakeups;
    w->my_sleeps = &l->ctl->producer.sleeps;
    w->spin_ns = q->opts.spin_ns;
    w->max_sleep_ns = QUEUE_RECHECK_NS;
    if ((err = zipc__ring_tx_bind_at(&q->tx, &l->ring, &l->ctl->producer, w, tail, tail_seq, q->freed_pos)))
        return err;
    q->tx.refresh = lane_refresh;
    q->start_pos = tail;
    q->start_messages = zipc__load(&l->ctl->producer.messages, ZIPC__RELAXED); /* relaxed: a counter */
    struct zipc_channel_side *me = &l->ctl->producer;
    zipc__store(&me->pid, (uint32_t)getpid(), ZIPC__RELAXED); /* informative */
    zipc__store(&me->state, ZIPC_STATE_ACTIVE, ZIPC__RELAXED);
    open_lane(q);
    return 0;
}

void zipc__queue_producer_leave(zipc_queue *q)
{
    if (q->tx.sticky_err == ZIPC__RING_UNBOUND)
        return;
    zipc__ring_tx_stop(&q->tx); /* staged messages are published */
    struct lane *l = &q->lanes[q->slot];
    zipc__store(&l->ctl->producer.state, ZIPC_STATE_CLOSED, ZIPC__RELAXED); /* informative */
    /* seq_cst: after our last publish; consumers judging the end see both in order */
    __atomic_fetch_and(&q->ctl->lanes_open, ~(1u << q->slot), __ATOMIC_SEQ_CST);
    zipc__queue_wake_consumers(q);
}

/* ------------------------------------------------------------------------
 * Calls
 * ------------------------------------------------------------------------ */

int zipc_queue_reserve(zipc_queue *q, size_t size, void **buf, int64_t timeout_ns)
{
    if (!q || !buf)
        return -EINVAL;
    return zipc__ring_tx_reserve(&q->tx, size, buf, timeout_ns);
}

int zipc_queue_commit(zipc_queue *q, size_t size, uint32_t type, unsigned flags)
{
    if (!q || (flags & ~ZIPC_COMMIT_MORE))
        return -EINVAL;
    return zipc__ring_tx_commit(&q->tx, size, type, flags & ZIPC_COMMIT_MORE);
}

int zipc_queue_abort(zipc_queue *q) { return q ? zipc__ring_tx_abort(&q->tx) : -EINVAL; }
int zipc_queue_flush(zipc_queue *q) { return q ? zipc__ring_tx_flush(&q->tx) : -EINVAL; }

int zipc_queue_send(zipc_queue *q, const void *data, size_t size, uint32_t type, int64_t timeout_ns)
{
    if (!q || (!data && size))
        return -EINVAL;
    return zipc__ring_tx_send(&q->tx, data, size, type, timeout_ns);
}

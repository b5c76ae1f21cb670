/* Queue consumer: takes frames lane by lane through the claim log, views
 * them in place, releases them in any order; takes redelivered frames
 * first; judges the end of the stream (docs/DESIGN.md §12).
 *
 * Taking the frame at a lane's claim: its claim word goes from "released
 * one lap ago" to CLAIMED(us) by compare-and-swap, then the claim steps
 * over it (anyone may do that step, so a consumer dying between the two
 * blocks nobody). Nothing read from the segment is trusted: a frame is
 * validated before and after it is ours, and a lane that makes no sense
 * is skipped from then on. */
#include <stdlib.h>
#include <string.h>

#include "queue.h"

#define TAKE_TRIES 64 /* contention on one lane: every failed try means another consumer progressed */

/* ------------------------------------------------------------------------
 * Open views
 * ------------------------------------------------------------------------ */

static int held_push(zipc_queue *q, uint32_t lane, uint32_t seq, uint32_t attempt)
{
    if (q->nheld == q->held_cap) {
        uint32_t cap = q->held_cap ? q->held_cap * 2 : 64;
        struct held *h = realloc(q->held, cap * sizeof(*h));
        if (!h)
            return -ENOMEM;
        q->held = h;
        q->held_cap = cap;
    }
    q->held[q->nheld++] = (struct held){.lane = lane, .seq = seq, .attempt = attempt};
    return 0;
}

/* Most releases give back a recent view: look from the newest. */
static int held_find(const zipc_queue *q, uint32_t lane, uint32_t seq, uint32_t attempt)
{
    for (uint32_t i = q->nheld; i-- > 0;)
        if (q->held[i].lane == lane && q->held[i].seq == seq && q->held[i].attempt == attempt)
            return (int)i;
    return -1;
}

static void held_count(zipc_queue *q, uint32_t n)
{
    /* relaxed: ordered by the claim's seq_cst CAS that follows, or the release's that came before */
    zipc__store(&q->consumers[q->slot].held, n, ZIPC__RELAXED);
}

/* ------------------------------------------------------------------------
 * Taking frames
 * ------------------------------------------------------------------------ */

static uint64_t my_claim(const zipc_queue *q, uint32_t seq, uint32_t attempt)
{
    return ZIPC_QCLAIM(seq, ZIPC_QCLAIM_CLAIMED, attempt, q->slot, q->gen);
}

/* A frame that is ours now: checked again (it cannot move any more), noted
 * as open, described in *msg. -EBADMSG: not the frame its word names. */
static int deliver(zipc_queue *q, uint32_t lane, uint64_t pos, uint32_t seq, uint32_t attempt,
                   struct zipc_msg *msg)
{
    const struct zipc__ring *r = &q->lanes[lane].ring;
    uint64_t next;
    const struct zipc_frame *f;
    if (zipc__ring_frame_step(r, pos, seq, &next, &f) != 1 || !f)
        return -EBADMSG;
    if (held_push(q, lane, seq, attempt))
        return -ENOMEM;
    q->held[q->nheld - 1].frame_bytes = (uint32_t)(next - pos);
    /* relaxed: the frame is ours and was published before our claim (§2.5 #10) */
    *msg = (struct zipc_msg){.data = (const uint8_t *)f + ZIPC_FRAME_HEADER,
                             .size = zipc__load(&f->size, ZIPC__RELAXED),
                             .type = zipc__load(&f->type, ZIPC__RELAXED),
                             .seq = seq,
                             .end_ = (uint64_t)lane | (uint64_t)attempt << 8};
    if (msg->size > r->max_message || (pos & r->mask) + zipc__frame_bytes(msg->size) > r->size) {
        q->nheld--;
        return -EBADMSG;
    }
    return 0;
}

/* Give a claim back as it was (we cannot deliver it): REDELIVER keeps it
 * for others. */
static void unclaim(zipc_queue *q, struct lane *l, uint32_t seq, uint64_t was)
{
    uint64_t mine = zipc__load(claim_word(q, l, seq), ZIPC__RELAXED);
    uint64_t back = (was & ~ZIPC_QCLAIM_STATE_MASK) | (uint64_t)ZIPC_QCLAIM_REDELIVER << 32;
    /* seq_cst: as any claim word change (§2.5 #27) */
    if (__atomic_compare_exchange_n(claim_word(q, l, seq), &mine, back, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        __atomic_fetch_add(&l->ctl->redeliver, 1, __ATOMIC_RELAXED);
}

/* The frame at the lane's claim: 1 taken, 0 none published, -EBADMSG. */
static int take_fresh(zipc_queue *q, uint32_t li, struct zipc_msg *msg)
{
    struct lane *l = &q->lanes[li];
    const struct zipc__ring *r = &l->ring;
    for (int tries = 0; tries < TAKE_TRIES; tries++) {
        /* acquire: the claim's frames are seen as their takers saw them (§2.5 #30) */
        uint64_t c = zipc__load(&l->ctl->claim, ZIPC__ACQUIRE);
        uint32_t seq = (uint32_t)(c >> 32);
        uint64_t pos = (uint64_t)(uint32_t)c * ZIPC_FRAME_ALIGN, next;
        const struct zipc_frame *f;
        int st = pos < r->size ? zipc__ring_frame_step(r, pos, seq, &next, &f) : -EBADMSG;
        if (st == 0)
            return 0;
        if (st < 0) {
            if (zipc__load(&l->ctl->claim, ZIPC__ACQUIRE) != c)
                continue; /* a stale look: the frame was taken and reused meanwhile */
            return -EBADMSG;
        }
        uint64_t stepped = f ? ZIPC_QPOS(seq + 1, next & r->mask) : ZIPC_QPOS(seq, 0);
        uint64_t *wp = claim_word(q, l, seq);
        if (f) {
            /* The word's line comes once, writable, for the load and the CAS
             * (a load alone would fetch it shared, the CAS again); the
             * frame's second line (the payload's rest) meanwhile. */
            zipc__prefetch_write_if(q->prefetch_write, wp);
            if (next - pos > ZIPC_FRAME_ALIGN)
                __builtin_prefetch((const uint8_t *)f + ZIPC_FRAME_ALIGN, 0, 3);
        }
        uint64_t w = f ? zipc__load(wp, ZIPC__ACQUIRE) : 0; /* acquire: the last holder's release */
        if (f && claim_free_for(w, seq, q->log_mask + 1)) {
            held_count(q, q->nheld + 1); /* before the claim: judges of the end see it first */
            /* seq_cst: the claim word's order with releases, cleanups and the end's judges (§2.5 #27) */
            if (!__atomic_compare_exchange_n(wp, &w, my_claim(q, seq, 1), false, __ATOMIC_SEQ_CST,
                                             __ATOMIC_RELAXED)) {
                held_count(q, q->nheld);
                continue;
            }
            /* release: the step publishes our claim word with it; failing means a helper stepped */
            __atomic_compare_exchange_n(&l->ctl->claim, &c, stepped, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
            int err = deliver(q, li, pos, seq, 1, msg);
            if (err) {
                unclaim(q, l, seq, my_claim(q, seq, 1));
                held_count(q, q->nheld);
            }
            return err ? err : 1;
        }
        if (f && !(w != 0 && ZIPC_QCLAIM_TAG(w) == seq)) {
            if (zipc__load(&l->ctl->claim, ZIPC__ACQUIRE) != c)
                continue;
            return -EBADMSG; /* a word neither free for this frame nor naming it */
        }
        /* a pad, or a frame taken and not stepped over yet: step for its taker */
        __atomic_compare_exchange_n(&l->ctl->claim, &c, stepped, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    }
    return 0;
}

/* A frame whose holder died, behind the claim: 1 taken, 0 none. The walk
 * from the reuse point may race with the producer's reuse: it only finds
 * candidates; a frame is ours once its word is, and checked then. */
static int take_redelivered(zipc_queue *q, uint32_t li, struct zipc_msg *msg)
{
    struct lane *l = &q->lanes[li];
    if (!zipc__load(&l->ctl->redeliver, ZIPC__RELAXED)) /* relaxed: a hint */
        return 0;
    const struct zipc__ring *r = &l->ring;
    /* acquire: as take_fresh */
    uint64_t fr = zipc__load(&l->ctl->freed, ZIPC__ACQUIRE), c = zipc__load(&l->ctl->claim, ZIPC__ACQUIRE);
    uint32_t seq = (uint32_t)(fr >> 32), claim_seq = (uint32_t)(c >> 32);
    uint64_t pos = (uint64_t)(uint32_t)fr * ZIPC_FRAME_ALIGN, next;
    if (pos >= r->size || claim_seq - seq > r->lap_frames)
        return 0;
    for (uint32_t steps = 0; seq != claim_seq && steps <= 2 * r->lap_frames; steps++) {
        const struct zipc_frame *f;
        if (zipc__ring_frame_step(r, pos, seq, &next, &f) != 1)
            return 0; /* reused under us: the next call walks again */
        if (f) {
            uint64_t *wp = claim_word(q, l, seq);
            uint64_t w = zipc__load(wp, ZIPC__ACQUIRE); /* acquire: as take_fresh */
            if (ZIPC_QCLAIM_TAG(w) == seq && ZIPC_QCLAIM_STATE(w) == ZIPC_QCLAIM_REDELIVER) {
                uint32_t attempt = ZIPC_QCLAIM_ATTEMPT(w) < ZIPC_QCLAIM_MAX_ATTEMPT ? ZIPC_QCLAIM_ATTEMPT(w) + 1
                                                                       : ZIPC_QCLAIM_MAX_ATTEMPT;
                /* an rpc call cancelled while it waited stays cancelled */
                uint64_t mine = my_claim(q, seq, attempt) | (w & ZIPC_QCLAIM_CANCEL);
                held_count(q, q->nheld + 1);
                /* seq_cst: as take_fresh (§2.5 #27) */
                if (__atomic_compare_exchange_n(wp, &w, mine, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
                    __atomic_fetch_sub(&l->ctl->redeliver, 1, __ATOMIC_RELAXED); /* relaxed: a hint */
                    int err = deliver(q, li, pos, seq, attempt, msg);
                    if (err) { /* our walk was torn: the frame is elsewhere */
                        unclaim(q, l, seq, w);
                        held_count(q, q->nheld);
                        return 0;
                    }
                    struct zipc_queue_consumer *me = &q->consumers[q->slot];
                    zipc__store(&me->redelivered, zipc__load(&me->redelivered, ZIPC__RELAXED) + 1,
                                ZIPC__RELAXED); /* relaxed: a counter (§2.5 #2) */
                    return 1;
                }
                held_count(q, q->nheld);
            }
            seq++;
        }
        pos = next;
    }
    return 0;
}

/* Lanes in turn, from the one after the last served: 1 taken, 0 none. */
static int take_any(zipc_queue *q, struct zipc_msg *msg)
{
    uint32_t hwm = zipc__load(&q->ctl->lane_hwm, ZIPC__ACQUIRE); /* acquire: lanes in use */
    if (hwm > QP)
        hwm = QP;
    for (uint32_t k = 0; k < hwm; k++) {
        uint32_t li = (q->next_lane + k) % hwm;
        if (q->bad_lanes & 1u << li)
            continue;
        int r = take_redelivered(q, li, msg);
        if (r == 0)
            r = take_fresh(q, li, msg);
        if (r < 0 && r != -ENOMEM) {
            q->bad_lanes |= 1u << li; /* corrupt: skipped from now on */
            continue;
        }
        if (r != 0) {
            q->next_lane = li + 1;
            return r;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * End of the stream
 * ------------------------------------------------------------------------ */

static bool others_hold(const zipc_queue *q)
{
    for (uint32_t c = 0; c < QC; c++)
        /* seq_cst: in one order with the takers' claims and the cleaners' redeliveries */
        if (c != q->slot && zipc__load(&q->consumers[c].held, ZIPC__SEQ_CST))
            return true;
    return false;
}

/* How many frames behind the claim wait for redelivery (counting stops at
 * `limit`)? -1: the walk was torn (reuse under us: ask again later). The
 * lane's `redeliver` count is a hint a SIGKILL can leave wrong either way
 * (a cleanup killed between its words and its count; a taker killed
 * between its word and its decrement): the cleanups after a death and the
 * end of the stream count the words themselves and heal the hint. */
static int count_redeliveries(const zipc_queue *q, const struct lane *l, int limit)
{
    /* acquire: as take_fresh */
    uint64_t fr = zipc__load(&l->ctl->freed, ZIPC__ACQUIRE), c = zipc__load(&l->ctl->claim, ZIPC__ACQUIRE);
    uint32_t seq = (uint32_t)(fr >> 32), claim_seq = (uint32_t)(c >> 32);
    uint64_t pos = (uint64_t)(uint32_t)fr * ZIPC_FRAME_ALIGN, next;
    int n = 0;
    if (pos >= l->ring.size || claim_seq - seq > l->ring.lap_frames)
        return -1;
    for (uint32_t steps = 0; seq != claim_seq && n < limit; steps++, pos = next) {
        const struct zipc_frame *f;
        if (steps > 2 * l->ring.lap_frames || zipc__ring_frame_step(&l->ring, pos, seq, &next, &f) != 1)
            return -1;
        if (!f)
            continue;
        uint64_t w = zipc__load(claim_word(q, l, seq), ZIPC__ACQUIRE); /* acquire: as take_fresh */
        if (ZIPC_QCLAIM_TAG(w) == seq && ZIPC_QCLAIM_STATE(w) == ZIPC_QCLAIM_REDELIVER)
            n++;
        seq++;
    }
    return n;
}

#define HEAL_TRIES 8

void zipc__queue_heal_redeliveries(zipc_queue *q)
{
    uint32_t hwm = zipc__load(&q->ctl->lane_hwm, ZIPC__ACQUIRE); /* acquire: lanes in use */
    for (uint32_t li = 0; li < hwm && li < QP; li++) {
        struct lane *l = &q->lanes[li];
        int n = -1;
        for (int t = 0; t < HEAL_TRIES && n < 0; t++)
            n = count_redeliveries(q, l, INT32_MAX);
        uint32_t want = n < 0 ? 1 : (uint32_t)n; /* torn every time: at least one walk */
        uint32_t hint = zipc__load(&l->ctl->redeliver, ZIPC__RELAXED);
        /* relaxed: a hint, only ever raised here (too high costs a walk, too low loses a frame) */
        while (hint < want &&
               !__atomic_compare_exchange_n(&l->ctl->redeliver, &hint, want, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
    }
}

bool zipc__queue_lanes_empty(const zipc_queue *q)
{
    uint32_t hwm = zipc__load(&q->ctl->lane_hwm, ZIPC__ACQUIRE);
    for (uint32_t li = 0; li < hwm && li < QP; li++) {
        const struct lane *l = &q->lanes[li];
        if (q->bad_lanes & 1u << li)
            continue;
        uint64_t c = zipc__load(&l->ctl->claim, ZIPC__SEQ_CST), next; /* seq_cst: see others_hold */
        const struct zipc_frame *f;
        uint64_t pos = (uint64_t)(uint32_t)c * ZIPC_FRAME_ALIGN;
        if (pos < l->ring.size && zipc__ring_frame_step(&l->ring, pos, (uint32_t)(c >> 32), &next, &f) != 0)
            return false; /* a fresh frame, or a bad one (take says which) */
        /* seq_cst: see others_hold */
        uint32_t hint = zipc__load(&l->ctl->redeliver, ZIPC__SEQ_CST);
        int pending = count_redeliveries(q, l, 1);
        /* relaxed CAS: a hint healed (a count changed meanwhile is someone's news: kept) */
        if (pending == 1 && !hint)
            __atomic_compare_exchange_n(&l->ctl->redeliver, &hint, 1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        else if (pending == 0 && hint)
            __atomic_compare_exchange_n(&l->ctl->redeliver, &hint, 0, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        if (pending != 0)
            return false;
    }
    return true;
}

/* The member table is the truth: lanes_open is the cheap first look, and
 * a cleanup racing with a producer taking over the same slot may clear a
 * live producer's bit. */
static bool producer_attached(const zipc_queue *q)
{
    for (uint32_t s = 0; s < QP; s++) {
        uint64_t lease;
        if (zipc__member_alive(&q->members, s, &lease) != 0)
            return true; /* alive, or cannot tell: not the end */
    }
    return false;
}

/* No producer attached (after one was), nothing left to take, nothing
 * held by another consumer that could come back. Holders, lanes, holders:
 * a take is counted before its claim and a cleanup's redelivery before the
 * holder's count is cleared, so either look catches a move in between. */
static bool end_of_stream(const zipc_queue *q)
{
    const struct zipc_queue_ctl *c = q->ctl;
    if (q->endless)
        return false;
    /* seq_cst: after the lane was closed, everything its producer published is seen */
    return zipc__load(&c->producers_joined, ZIPC__SEQ_CST) && !zipc__load(&c->lanes_open, ZIPC__SEQ_CST) &&
           !others_hold(q) && zipc__queue_lanes_empty(q) && !others_hold(q) && !producer_attached(q);
}

struct take_ctx {
    zipc_queue *q;
    struct zipc_msg *msg;
};

static int ready_to_take(void *arg)
{
    struct take_ctx *t = arg;
    int r = take_any(t->q, t->msg);
    if (r != 0)
        return r;
    return end_of_stream(t->q) ? -EPIPE : 0;
}

/* ------------------------------------------------------------------------
 * Releasing
 * ------------------------------------------------------------------------ */

/* Our counters, in our line for tools (single writer: relaxed, §2.5 #2). */
static void count_release(zipc_queue *q, uint32_t frame_bytes)
{
    struct zipc_queue_consumer *me = &q->consumers[q->slot];
    zipc__store(&me->messages, zipc__load(&me->messages, ZIPC__RELAXED) + 1, ZIPC__RELAXED);
    zipc__store(&me->bytes, zipc__load(&me->bytes, ZIPC__RELAXED) + frame_bytes, ZIPC__RELAXED);
}

/* End held view i with `state`, keeping tag, attempt, cancel, holder. */
static int finish_at(zipc_queue *q, uint32_t i, uint32_t state)
{
    struct held h = q->held[i];
    struct lane *l = &q->lanes[h.lane];
    uint64_t *wp = claim_word(q, l, h.seq);
    uint64_t w = zipc__load(wp, ZIPC__RELAXED);
    q->held[i] = q->held[--q->nheld];
    held_count(q, q->nheld);
    /* seq_cst: our reads (and an rpc reply's writes) of the frame are over (release) before the
     * producer reuses it, and the producer's sleep flag is loaded after (Dekker with its arm)
     * (§2.5 #27, #28). A loop: an rpc caller may set the cancel bit meanwhile. */
    do {
        if (ZIPC_QCLAIM_TAG(w) != h.seq || ZIPC_QCLAIM_STATE(w) != ZIPC_QCLAIM_CLAIMED ||
            ZIPC_QCLAIM_SLOT(w) != q->slot || ZIPC_QCLAIM_GEN(w) != q->gen)
            return -EBADMSG; /* our claim was rewritten by another member */
    } while (!__atomic_compare_exchange_n(wp, &w, (w & ~ZIPC_QCLAIM_STATE_MASK) | (uint64_t)state << 32, false,
                                          __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    if (state == ZIPC_QCLAIM_REDELIVER)
        __atomic_fetch_add(&l->ctl->redeliver, 1, __ATOMIC_RELAXED); /* relaxed: a hint */
    if (state == ZIPC_QCLAIM_RELEASED)
        count_release(q, h.frame_bytes);
    zipc__queue_wake_producer(q, h.lane);
    /* the end of the stream may have waited for this frame: a judge asleep looks again */
    if (q->nheld == 0 && !zipc__load(&q->ctl->lanes_open, ZIPC__RELAXED)) /* relaxed: a hint */
        zipc__queue_wake_consumers(q);
    return 0;
}

static int release_at(zipc_queue *q, uint32_t i) { return finish_at(q, i, ZIPC_QCLAIM_RELEASED); }

int zipc__queue_finish(zipc_queue *q, uint32_t lane, uint32_t seq, uint32_t attempt, uint32_t state)
{
    int i = held_find(q, lane, seq, attempt);
    return i < 0 ? -EINVAL : finish_at(q, (uint32_t)i, state);
}

bool zipc__queue_holds(const zipc_queue *q, uint32_t lane, uint32_t seq, uint32_t attempt)
{
    return held_find(q, lane, seq, attempt) >= 0;
}

static int consumer_check(const zipc_queue *q)
{
    if (q->role != ZIPC_ROLE_CONSUMER)
        return -EOPNOTSUPP;
    return q->sticky_err;
}

int zipc_queue_release_view(zipc_queue *q, const struct zipc_msg *msg)
{
    if (!q || !msg)
        return -EINVAL;
    int err = consumer_check(q);
    if (err)
        return err;
    int i = held_find(q, zipc_queue_msg_producer(msg), (uint32_t)msg->seq, zipc_queue_msg_attempt(msg));
    if (i < 0)
        return -EINVAL;
    if (q->recv_kept && q->kept.seq == msg->seq && q->kept.end_ == msg->end_)
        q->recv_kept = false;
    return release_at(q, (uint32_t)i);
}

int zipc_queue_release(zipc_queue *q)
{
    if (!q)
        return -EINVAL;
    int err = consumer_check(q), first = 0;
    if (err)
        return err;
    while (q->nheld)
        if ((err = release_at(q, q->nheld - 1)) && !first)
            first = err;
    q->recv_kept = false;
    return first;
}

/* ------------------------------------------------------------------------
 * Taking calls
 * ------------------------------------------------------------------------ */

int zipc_queue_view(zipc_queue *q, struct zipc_msg *msg, int64_t timeout_ns)
{
    if (!q || !msg)
        return -EINVAL;
    int err = consumer_check(q);
    if (err)
        return err;
    struct take_ctx t = {.q = q, .msg = msg};
    return zipc__wait(&q->wait, ready_to_take, &t, 0, timeout_ns);
}

int zipc_queue_drain(zipc_queue *q, struct zipc_msg *msgs, unsigned max, int64_t timeout_ns)
{
    if (!q || !msgs || max == 0)
        return -EINVAL;
    int err = zipc_queue_view(q, &msgs[0], timeout_ns);
    if (err)
        return err;
    unsigned n = 1;
    while (n < max && take_any(q, &msgs[n]) == 1)
        n++;
    return (int)n;
}

int zipc_queue_recv(zipc_queue *q, void *buf, size_t cap, size_t *size, uint32_t *type, int64_t timeout_ns)
{
    if (!q || (!buf && cap) || !size)
        return -EINVAL;
    struct zipc_msg m;
    int err = consumer_check(q);
    if (err)
        return err;
    if (q->recv_kept) { /* the message that did not fit last time */
        m = q->kept;
    } else if ((err = zipc_queue_view(q, &m, timeout_ns))) {
        return err;
    }
    *size = m.size;
    if (type)
        *type = m.type;
    if (m.size > cap) {
        q->kept = m;
        q->recv_kept = true;
        return -EMSGSIZE;
    }
    if (m.size)
        zipc__copy(buf, m.data, m.size);
    q->recv_kept = false;
    return zipc_queue_release_view(q, &m);
}

/* ------------------------------------------------------------------------
 * Joining and leaving
 * ------------------------------------------------------------------------ */

int zipc__queue_consumer_bind(zipc_queue *q)
{
    int err = zipc__member_claim_in(&q->members, QP, QC, &q->me);
    if (err)
        return err;
    q->slot = q->me.slot - QP;
    q->gen = ZIPC_LEASE_GEN(q->me.lease) & 0xffff;
    q->prefetch_write = zipc__cpu_prefetch_write_ok();
    /* what earlier holders of our slot still hold (they died, and no cleanup ran yet) */
    uint32_t back = zipc__queue_reclaim_claims(q, q->slot, (q->gen - 1) & 0xffff);
    struct zipc_queue_consumer *me = &q->consumers[q->slot];
    zipc__store(&me->held, 0, ZIPC__SEQ_CST); /* seq_cst: after those claims changed */
    zipc__store(&me->sleeping, 0, ZIPC__RELAXED);
    me->messages = me->bytes = me->redelivered = 0; /* our counters start here (single writer) */
    struct zipc__waiter *w = &q->wait;
    w->wake_fd = q->fds[consumer_fd(q->slot)];
    w->my_sleeping = &me->sleeping;
    w->sleep_hint = &q->ctl->sleepers;
    w->sleep_hint_bit = 1u << q->slot;
    w->peer_state = &q->always_active;
    w->my_wakeups = &me->wakeups;
    w->my_sleeps = &me->sleeps;
    w->spin_ns = q->opts.spin_ns;
    w->max_sleep_ns = QUEUE_RECHECK_NS;
    if (back)
        zipc__queue_wake_consumers(q);
    return 0;
}

void zipc__queue_consumer_leave(zipc_queue *q)
{
    if (q->role != ZIPC_ROLE_CONSUMER || !q->wait.my_sleeping)
        return;
    zipc_queue_release(q);
    __atomic_fetch_and(&q->ctl->sleepers, ~(1u << q->slot), __ATOMIC_RELAXED); /* relaxed: a hint */
    zipc__queue_wake_consumers(q); /* the end of the stream may hinge on what we held */
}

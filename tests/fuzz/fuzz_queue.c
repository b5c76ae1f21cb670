/* fuzz_queue: the queue's members against untrusted shared memory.
 *
 * Every queue member maps the whole segment read-write, so everything a
 * member reads there may have been written by a hostile one. Two entries,
 * chosen by byte 0 bit 3:
 *
 *   live:  a real queue in this process, opened by name (zipc_queue_open:
 *          doors, handshakes, helper threads): producers and consumers
 *          come and go, close, or die (their member lock dropped with no
 *          goodbye, then cleaned up after by zipc__queue_reclaim as a
 *          helper would, or by the next member taking the slot).
 *   adopt: the segment a joiner is handed, written here from docs/ABI.md
 *          §12 (the layout formula, the lanes, the claim log, the member
 *          table) and adopted through zipc__endpoint_adopt as
 *          zipc_queue_open's join does, then bound as a producer (taking
 *          over a lane written before: its frames, claim, reuse point and
 *          claim words) or a consumer (taking over a dead consumer's slot,
 *          whose claims it gives back). With byte 0 bit 4 one field of the
 *          layout (or the segment's size) is wrong: adopt must say -EBADMSG.
 *
 * Then ops, one byte each plus arguments: the consumers' calls (view,
 * drain, release_view, release, recv), the producers' (reserve, commit,
 * abort, send, flush), members opening, closing and dying, the cleanup
 * entries (zipc__queue_reclaim, zipc__queue_reclaim_claims), a joiner
 * handed a malformed control block, and hostile writes anywhere: the
 * control block (lanes_open, producers_joined, lane_hwm, sleepers, the
 * layout), consumer lines, lane lines (claim, redeliver, freed, the
 * producer's side and sleep flag), claim words, frame headers, ring bytes
 * and the member table.
 *
 * Always checked: every call returns, and only what queue.h documents for
 * it (-EINTR: libFuzzer's timer signal in a wait; one exception, open's
 * -EADDRINUSE after a hostile write to the member table, see op_open);
 * views and reservations lie inside their lane's ring (16-byte
 * aligned, at most max_message; the bytes are read), attempt 1..63; no fd
 * is leaked. While no hostile write happened ("clean"), against a model:
 * per lane FIFO, every message taken exactly once (fresh with attempt 1,
 * or after its holder died with the attempt one higher, or dropped with
 * ZIPC_QUEUE_AT_MOST_ONCE) with the content committed; -EAGAIN only with
 * nothing to take; -EPIPE exactly at the end of the stream; a producer's
 * reserve succeeds once its lane is all released; release_view of a view
 * not open is -EINVAL; no lane is ever judged corrupt.
 *
 * Input: byte 0 bits 0-1 lane size, 2 AT_MOST_ONCE, 3 adopt, 4 (adopt) a
 *        malformed segment, byte 1 bits 0-1 extra consumers, 2 second
 *        producer; adopt: 12 more bytes for the lane written before (see
 *        prefill); then ops. FZ_TRACE=1 prints the ops. */
#include "fuzz_common.h"
#include "queue.h" /* src/queue.h: the endpoint's internals, to emulate deaths and find its mappings */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAXP 3         /* producers open at once */
#define MAXC 3         /* consumers open at once */
#define REC 256        /* >= frames a lane holds (4096 / 64) + room: records by seq % REC */
#define MAXV 256       /* open views per consumer */
#define MAX_OPENS 10   /* members opened per input (each one a handshake) */
#define WAIT_NS 100000 /* a short blocking wait */
#define DEAD_SLOT 5    /* adopt: the consumer slot of a member that died holding claims */

static const uint64_t ring_sizes[4] = {128, 512, 4096, 4096};

enum op {
    OP_VIEW, OP_VIEW_WAIT, OP_DRAIN, OP_RELEASE_VIEW, OP_RELEASE, OP_RECV,
    OP_RESERVE, OP_COMMIT, OP_ABORT, OP_SEND, OP_SEND_MANY, OP_FLUSH,
    OP_OPEN, OP_CLOSE, OP_DIE, OP_RECLAIM, OP_JOIN_BAD, OP_STATS, OP_INTERRUPT, OP_WRONG_ROLE,
    OP_H_CTL, OP_H_CONSUMER, OP_H_LANE, OP_H_LOG, OP_H_FRAME, OP_H_BYTES, OP_H_MEMBER,
    N_OPS
};

/* ---- the model ----------------------------------------------------------- */

enum mstate { M_NONE, M_FREE, M_HELD, M_REL, M_REDELIVER, M_DROPPED };
#define HOLDER_DEAD 0xfe /* held by a consumer that died (adopt: written so) */

struct mrec {
    uint32_t size, type;
    uint8_t state, holder, attempt; /* holder: consumer slot */
    uint16_t gen;                   /* holder's generation (HOLDER_DEAD) */
    uint8_t dead_slot;
};

struct mlane {
    uint32_t first;      /* the first seq this input knows of */
    uint32_t published;  /* seq of the next message to publish */
    uint32_t committed;  /* ... to commit (staged ones between) */
    uint32_t next_fresh; /* the next seq to take fresh: the claim */
    struct mrec rec[REC];
};

struct mview {
    struct zipc_msg m;
};

struct mcons {
    zipc_queue *q;
    struct mview v[MAXV];
    unsigned nv;
    struct zipc_msg last_released; /* a view given back (releasing it again is -EINVAL) */
    bool has_released;
    bool kept;                     /* recv's message that did not fit, still open */
    bool interrupt_pending;
};

struct mprod {
    zipc_queue *q;
    uint32_t lane;
    bool reserved;
    size_t res_size;
    bool interrupt_pending;
};

struct world {
    bool live, clean;
    char name[64];
    uint64_t ring_size;
    uint32_t max_message, flags, log_size;
    struct mprod P[MAXP];
    struct mcons C[MAXC];
    bool joined;          /* a producer has joined (producers_joined) */
    unsigned opens;
    struct mlane lane[QP];
    /* adopt: the segment the harness wrote, and the eventfds handed with it */
    struct zipc__segment img;
    int efd[ZIPC_QUEUE_SLOTS];
    uint64_t announced;   /* the segment size a joiner is told */
    uint64_t dead_lease;  /* member slot QP + DEAD_SLOT */
};

static struct world W;
static uint8_t scratch[4096];
static unsigned name_counter;

static bool tracing(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("FZ_TRACE") != NULL;
    return on;
}
#define TRACE(...) (tracing() ? (void)fprintf(stderr, __VA_ARGS__) : (void)0)

static uint8_t fill_byte(uint32_t lane, uint32_t seq, uint32_t i)
{
    return (uint8_t)(lane * 29 + seq * 131 + i * 7 + (i >> 8));
}
static void fill(uint8_t *p, size_t n, uint32_t lane, uint32_t seq)
{
    for (size_t i = 0; i < n; i++)
        p[i] = fill_byte(lane, seq, (uint32_t)i);
}
static bool content_ok(const uint8_t *p, size_t n, uint32_t lane, uint32_t seq)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != fill_byte(lane, seq, (uint32_t)i))
            return false;
    return true;
}

static struct mrec *rec(struct world *w, uint32_t lane, uint32_t seq) { return &w->lane[lane].rec[seq % REC]; }
static bool in_lane(const struct mlane *L, uint32_t seq) { return seq - L->first < L->published - L->first; }

/* Anything a consumer could take now? */
static bool takeable(struct world *w)
{
    for (uint32_t l = 0; l < QP; l++) {
        struct mlane *L = &w->lane[l];
        if (L->next_fresh != L->published)
            return true;
        for (uint32_t s = L->first; s != L->published; s++)
            if (rec(w, l, s)->state == M_REDELIVER)
                return true;
    }
    return false;
}

/* Held by a consumer other than c (or by a dead one not cleaned up yet)? */
static bool others_hold(struct world *w, const struct mcons *c)
{
    uint32_t me = c ? (uint32_t)zipc_queue_slot(c->q) : UINT32_MAX;
    for (uint32_t l = 0; l < QP; l++) {
        struct mlane *L = &w->lane[l];
        for (uint32_t s = L->first; s != L->published; s++) {
            struct mrec *r = rec(w, l, s);
            if (r->state == M_HELD && r->holder != me)
                return true;
        }
    }
    return false;
}

static unsigned producers_open(const struct world *w)
{
    unsigned n = 0;
    for (int i = 0; i < MAXP; i++)
        n += w->P[i].q != NULL;
    return n;
}
static unsigned consumers_open(const struct world *w)
{
    unsigned n = 0;
    for (int i = 0; i < MAXC; i++)
        n += w->C[i].q != NULL;
    return n;
}

static bool end_of_stream(struct world *w, const struct mcons *c)
{
    return w->joined && producers_open(w) == 0 && !takeable(w) && !others_hold(w, c);
}

/* A lane whose every message was taken and released: its producer has the whole ring. */
static bool lane_idle(struct world *w, uint32_t l)
{
    struct mlane *L = &w->lane[l];
    if (L->committed != L->published)
        return false;
    for (uint32_t s = L->first; s != L->published; s++)
        if (rec(w, l, s)->state != M_REL && rec(w, l, s)->state != M_DROPPED)
            return false;
    return true;
}

static zipc_queue *any_member(struct world *w)
{
    for (int i = 0; i < MAXP; i++)
        if (w->P[i].q)
            return w->P[i].q;
    for (int i = 0; i < MAXC; i++)
        if (w->C[i].q)
            return w->C[i].q;
    return NULL;
}

/* The segment as this harness writes it: its own mapping (adopt), or a member's. */
static uint8_t *seg_base(struct world *w, uint64_t *size)
{
    if (!w->live) {
        *size = w->img.size;
        return w->img.base;
    }
    zipc_queue *q = any_member(w);
    *size = q ? q->seg.size : 0;
    return q ? q->seg.base : NULL;
}

/* ---- the layout, from docs/ABI.md §12 ----------------------------------- */

struct layout {
    uint64_t log_size, ring_offset, lane_stride, lane_offset, size;
};

static uint64_t up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

static struct layout layout_of(uint64_t ring)
{
    struct layout l = {.log_size = ring / ZIPC_FRAME_ALIGN};
    l.ring_offset = up(ZIPC_QUEUE_LOG_OFFSET + l.log_size * 8, ZIPC_PAGE);
    l.lane_stride = up(l.ring_offset + ring, ZIPC_PAGE);
    l.lane_offset = up(ZIPC_QUEUE_MEMBERS_OFFSET + ZIPC_MEMBER_TABLE_SIZE(ZIPC_QUEUE_SLOTS), ZIPC_PAGE);
    l.size = l.lane_offset + (uint64_t)ZIPC_QUEUE_MAX_PRODUCERS * l.lane_stride;
    return l;
}

static struct zipc_queue_ctl *ctl_at(uint8_t *base) { return (void *)(base + ZIPC_QUEUE_BODY_OFFSET); }
static struct zipc_queue_consumer *cons_at(uint8_t *base, uint32_t c)
{
    return (void *)(base + ZIPC_QUEUE_CONSUMERS_OFFSET + (uint64_t)c * sizeof(struct zipc_queue_consumer));
}
static struct zipc_member_slot *member_at(uint8_t *base, uint32_t s)
{
    return (void *)(base + ZIPC_QUEUE_MEMBERS_OFFSET + sizeof(struct zipc_member_table) +
                    (uint64_t)s * sizeof(struct zipc_member_slot));
}
static uint8_t *lane_base(struct world *w, uint8_t *base, uint32_t l)
{
    struct layout lo = layout_of(w->ring_size);
    return base + lo.lane_offset + (uint64_t)l * lo.lane_stride;
}
static struct zipc_queue_lane *lane_ctl(struct world *w, uint8_t *base, uint32_t l)
{
    return (void *)lane_base(w, base, l);
}
static uint64_t *lane_log(struct world *w, uint8_t *base, uint32_t l)
{
    return (void *)(lane_base(w, base, l) + ZIPC_QUEUE_LOG_OFFSET);
}
static uint8_t *lane_ring(struct world *w, uint8_t *base, uint32_t l)
{
    return lane_base(w, base, l) + layout_of(w->ring_size).ring_offset;
}

/* ---- checks common to every mode ------------------------------------------ */

static bool one_of(int r, const int *ok, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r == ok[i])
            return true;
    return false;
}
#define CHECK_ONE_OF(r, ...)                                                                    \
    do {                                                                                        \
        static const int ok_[] = {__VA_ARGS__};                                                 \
        if (!one_of((r), ok_, sizeof(ok_) / sizeof(ok_[0]))) {                                  \
            fprintf(stderr, "zipc fuzz: %s returned %d (%s)\n", #r, (r), zipc_err_name(r));     \
            fz_fail("an undocumented return", __FILE__, __LINE__);                              \
        }                                                                                       \
    } while (0)

/* A view: inside its lane's ring as this consumer mapped it; its bytes readable. */
static void check_view(const struct mcons *c, const struct zipc_msg *m)
{
    uint32_t lane = zipc_queue_msg_producer(m), att = zipc_queue_msg_attempt(m);
    FZ_CHECK(lane < QP && att >= 1 && att <= 63);
    const struct zipc__ring *r = &c->q->lanes[lane].ring;
    const uint8_t *p = m->data;
    FZ_CHECK(m->size <= r->max_message && m->size <= zipc_queue_max_message(c->q));
    FZ_CHECK(p >= r->base + ZIPC_FRAME_HEADER && p <= r->base + r->size && m->size <= (size_t)(r->base + r->size - p));
    FZ_CHECK((uintptr_t)(p - r->base) % 16 == 0);
    uint8_t sum = 0;
    for (size_t i = 0; i < m->size; i++)
        sum ^= p[i];
    scratch[0] = sum;
}

static void check_reservation(const struct mprod *p, const void *buf, size_t size)
{
    const struct zipc__ring *r = &p->q->lanes[p->lane].ring;
    const uint8_t *b = buf;
    FZ_CHECK(size <= r->max_message);
    FZ_CHECK(b >= r->base + ZIPC_FRAME_HEADER && b <= r->base + r->size && size <= (size_t)(r->base + r->size - b));
    FZ_CHECK((uintptr_t)(b - r->base) % 16 == 0);
}

/* ---- consumers ------------------------------------------------------------ */

static void hostile(struct world *w)
{
    if (w->clean)
        TRACE("  (hostile from here)\n");
    w->clean = false;
}

static void view_push(struct mcons *c, const struct zipc_msg *m)
{
    FZ_CHECK(c->nv < MAXV);
    c->v[c->nv++] = (struct mview){.m = *m};
}

/* A message taken: it was the lane's next, or one whose holder died. */
static void model_take(struct world *w, struct mcons *c, const struct zipc_msg *m)
{
    check_view(c, m);
    view_push(c, m);
    uint32_t lane = zipc_queue_msg_producer(m), att = zipc_queue_msg_attempt(m), seq = (uint32_t)m->seq;
    TRACE("  consumer %d took %u:%u attempt %u size %zu\n", zipc_queue_slot(c->q), lane, seq, att, (size_t)m->size);
    if (!w->clean)
        return;
    struct mlane *L = &w->lane[lane];
    struct mrec *r = rec(w, lane, seq);
    FZ_CHECK(in_lane(L, seq));
    if (att == 1) {
        FZ_CHECK(seq == L->next_fresh && r->state == M_FREE);
        L->next_fresh++;
    } else {
        FZ_CHECK(r->state == M_REDELIVER && att == (r->attempt < 63 ? r->attempt + 1u : 63u));
    }
    r->state = M_HELD;
    r->holder = (uint8_t)zipc_queue_slot(c->q);
    r->attempt = (uint8_t)att;
    r->gen = (uint16_t)c->q->gen;
    FZ_CHECK(m->size == r->size && m->type == r->type && content_ok(m->data, m->size, lane, seq));
}

/* No message: why. */
static void model_none(struct world *w, struct mcons *c, int r)
{
    if (!w->clean)
        return;
    bool eos = end_of_stream(w, c);
    TRACE("  none: %s (takeable %d, eos %d)\n", zipc_err_name(r), takeable(w), eos);
    FZ_CHECK(!takeable(w));
    if (r == -ECANCELED) {
        FZ_CHECK(c->interrupt_pending);
        c->interrupt_pending = false;
        return;
    }
    if (r == -EINTR) /* a signal (libFuzzer's timer) in a blocking wait */
        return;
    FZ_CHECK(r == (eos ? -EPIPE : r == -ETIMEDOUT ? -ETIMEDOUT : -EAGAIN));
}

static void model_released(struct world *w, struct mcons *c, unsigned i)
{
    const struct zipc_msg *m = &c->v[i].m;
    TRACE("  consumer %d released %u:%u\n", zipc_queue_slot(c->q), zipc_queue_msg_producer(m), (uint32_t)m->seq);
    if (w->clean) {
        struct mrec *r = rec(w, zipc_queue_msg_producer(m), (uint32_t)m->seq);
        FZ_CHECK(r->state == M_HELD && r->holder == (uint8_t)zipc_queue_slot(c->q));
        r->state = M_REL;
    }
    c->last_released = *m;
    c->has_released = true;
    c->v[i] = c->v[--c->nv];
}

/* A view is known by its lane, seq and attempt (a hostile member can hand
 * one consumer the same lane and seq twice). */
static int find_view(const struct mcons *c, const struct zipc_msg *m)
{
    for (unsigned i = c->nv; i-- > 0;)
        if (zipc_queue_msg_producer(&c->v[i].m) == zipc_queue_msg_producer(m) && c->v[i].m.seq == m->seq &&
            zipc_queue_msg_attempt(&c->v[i].m) == zipc_queue_msg_attempt(m))
            return (int)i;
    return -1;
}

static void check_lanes_good(struct world *w, const struct mcons *c)
{
    if (w->clean)
        FZ_CHECK(c->q->bad_lanes == 0);
}

static void op_view(struct world *w, struct mcons *c, int64_t timeout)
{
    struct zipc_msg m;
    int r = zipc_queue_view(c->q, &m, timeout);
    CHECK_ONE_OF(r, 0, -EAGAIN, -ETIMEDOUT, -EPIPE, -EBADMSG, -ECANCELED, -EINTR);
    if (r == 0)
        model_take(w, c, &m);
    else
        model_none(w, c, r);
    check_lanes_good(w, c);
}

static void op_drain(struct world *w, struct mcons *c, struct fz_in *in)
{
    struct zipc_msg ms[8];
    unsigned max = 1 + fz_u8(in) % 8;
    int n = zipc_queue_drain(c->q, ms, max, ZIPC_TRY);
    if (n > 0) {
        FZ_CHECK((unsigned)n <= max);
        for (int i = 0; i < n; i++)
            model_take(w, c, &ms[i]);
        if ((unsigned)n < max && w->clean)
            FZ_CHECK(!takeable(w)); /* drain takes what is there */
    } else {
        CHECK_ONE_OF(n, -EAGAIN, -EPIPE, -EBADMSG);
        model_none(w, c, n);
    }
    check_lanes_good(w, c);
}

static void op_release_view(struct world *w, struct mcons *c, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    if (c->nv == 0 || (b & 0x80)) {
        /* not an open view: given back already, or never taken */
        struct zipc_msg m = c->has_released && !(b & 0x40) ? c->last_released
                                                            : (struct zipc_msg){.seq = fz_u32(in), .end_ = fz_u16(in)};
        int open = find_view(c, &m);
        int r = zipc_queue_release_view(c->q, &m);
        CHECK_ONE_OF(r, 0, -EINVAL, -EBADMSG);
        if (open >= 0 && r != -EINVAL) {
            if (c->kept && c->q->kept.seq == m.seq && c->q->kept.end_ == m.end_)
                c->kept = false;
            model_released(w, c, (unsigned)open);
        } else if (w->clean) {
            FZ_CHECK(r == -EINVAL);
        }
        return;
    }
    unsigned i = b % c->nv;
    if (c->kept && c->q->kept.seq == c->v[i].m.seq && c->q->kept.end_ == c->v[i].m.end_)
        c->kept = false;
    int r = zipc_queue_release_view(c->q, &c->v[i].m);
    if (r == -EINVAL && tracing()) {
        TRACE("  held by the endpoint (%u):", c->q->nheld);
        for (uint32_t k = 0; k < c->q->nheld; k++)
            TRACE(" %u:%u", c->q->held[k].lane, c->q->held[k].seq);
        TRACE("; end_ %" PRIx64 "\n", c->v[i].m.end_);
    }
    CHECK_ONE_OF(r, 0, -EBADMSG);
    if (w->clean)
        FZ_CHECK(r == 0);
    model_released(w, c, i);
}

static void op_release(struct world *w, struct mcons *c)
{
    int r = zipc_queue_release(c->q);
    CHECK_ONE_OF(r, 0, -EBADMSG);
    if (w->clean)
        FZ_CHECK(r == 0);
    while (c->nv)
        model_released(w, c, c->nv - 1);
    c->kept = false;
}

/* recv: which message it was is told by the claim words (white box): the
 * one candidate whose word went to RELEASED. */
static void op_recv(struct world *w, struct mcons *c, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    size_t cap = b & 1 ? sizeof(scratch) : b >> 1, size = 0;
    uint32_t type = 0;
    bool had_kept = c->kept;
    int r = zipc_queue_recv(c->q, scratch, cap, &size, &type, b & 0x80 ? WAIT_NS : ZIPC_TRY);
    CHECK_ONE_OF(r, 0, -EMSGSIZE, -EAGAIN, -ETIMEDOUT, -EPIPE, -EBADMSG, -ECANCELED, -EINTR);
    TRACE("  recv (cap %zu%s): %s, size %zu\n", cap, had_kept ? ", kept" : "", zipc_err_name(r), size);
    if (r == 0 || r == -EMSGSIZE)
        FZ_CHECK(size <= c->q->lanes[0].ring.max_message);
    if (r == -EMSGSIZE) {
        FZ_CHECK(size > cap && c->q->recv_kept);
        if (!had_kept)
            model_take(w, c, &c->q->kept);
        c->kept = true;
        return;
    }
    if (r == -EBADMSG && had_kept) { /* its release found the claim word rewritten: given back anyway */
        FZ_CHECK(!w->clean);
        int i = find_view(c, &c->q->kept);
        FZ_CHECK(i >= 0);
        c->kept = false;
        model_released(w, c, (unsigned)i);
        return;
    }
    if (r != 0) {
        model_none(w, c, r);
        return;
    }
    FZ_CHECK(size <= cap);
    if (had_kept) {
        int i = find_view(c, &c->q->kept);
        FZ_CHECK(i >= 0);
        if (w->clean) {
            const struct zipc_msg *m = &c->v[i].m;
            FZ_CHECK(size == m->size && type == m->type &&
                     content_ok(scratch, size, zipc_queue_msg_producer(m), (uint32_t)m->seq));
        }
        c->kept = false;
        model_released(w, c, (unsigned)i);
        return;
    }
    if (!w->clean)
        return;
    /* the candidates: each lane's next fresh, and every redeliverable */
    int found = 0;
    uint32_t fl = 0, fs = 0;
    for (uint32_t l = 0; l < QP; l++) {
        struct mlane *L = &w->lane[l];
        for (uint32_t s = L->first; s != L->published; s++) {
            struct mrec *rc = rec(w, l, s);
            if (!((rc->state == M_FREE && s == L->next_fresh) || rc->state == M_REDELIVER))
                continue;
            uint64_t word = zipc__load(claim_word(c->q, &c->q->lanes[l], s), ZIPC__SEQ_CST);
            if (ZIPC_QCLAIM_TAG(word) == s && ZIPC_QCLAIM_STATE(word) == ZIPC_QCLAIM_RELEASED &&
                ZIPC_QCLAIM_SLOT(word) == (uint32_t)zipc_queue_slot(c->q) && ZIPC_QCLAIM_GEN(word) == c->q->gen) {
                found++;
                fl = l;
                fs = s;
            }
        }
    }
    FZ_CHECK(found == 1);
    struct mrec *rc = rec(w, fl, fs);
    TRACE("  recv took %u:%u\n", fl, fs);
    FZ_CHECK(size == rc->size && type == rc->type && content_ok(scratch, size, fl, fs));
    if (rc->state == M_FREE) {
        w->lane[fl].next_fresh++;
        rc->attempt = 1;
    } else {
        rc->attempt = rc->attempt < 63 ? rc->attempt + 1 : 63;
    }
    rc->state = M_REL;
}

/* ---- producers ------------------------------------------------------------ */

/* What the lane's producer published: staged messages go out with a commit
 * without MORE, a flush, or a reserve that had to look for space. */
static void sync_published(struct world *w, struct mprod *p)
{
    struct mlane *L = &w->lane[p->lane];
    if (w->clean)
        FZ_CHECK(p->q->tx.seq == L->committed && p->q->tx.sticky_err == 0);
    if (p->q->tx.staged == 0)
        L->published = L->committed;
}

static void check_reserve_result(struct world *w, struct mprod *p, size_t size, int r)
{
    CHECK_ONE_OF(r, 0, -EAGAIN, -ETIMEDOUT, -EMSGSIZE, -EALREADY, -EBADMSG, -ECANCELED, -EINTR);
    if (!w->clean)
        return;
    if (p->reserved)
        FZ_CHECK(r == -EALREADY);
    else if (size > w->max_message)
        FZ_CHECK(r == -EMSGSIZE);
    else if (r == -ECANCELED) {
        FZ_CHECK(p->interrupt_pending);
        p->interrupt_pending = false;
    } else if (lane_idle(w, p->lane) && r != -EINTR)
        FZ_CHECK(r == 0);
    else
        FZ_CHECK(r == 0 || r == -EAGAIN || r == -ETIMEDOUT || r == -EINTR);
}

static void op_reserve(struct world *w, struct mprod *p, struct fz_in *in)
{
    size_t size = fz_msg_size(in, w->max_message);
    void *buf = NULL;
    int64_t t = fz_u8(in) & 1 ? WAIT_NS : ZIPC_TRY;
    int r = zipc_queue_reserve(p->q, size, &buf, t);
    check_reserve_result(w, p, size, r);
    if (r == 0) {
        check_reservation(p, buf, size);
        fill(buf, size, p->lane, w->lane[p->lane].committed);
        p->reserved = true;
        p->res_size = size;
    }
    sync_published(w, p);
}

static void committed(struct world *w, struct mprod *p, size_t size, uint32_t type, bool more)
{
    struct mlane *L = &w->lane[p->lane];
    *rec(w, p->lane, L->committed) = (struct mrec){.size = (uint32_t)size, .type = type, .state = M_FREE};
    L->committed++;
    if (!more)
        L->published = L->committed;
}

static void op_commit(struct world *w, struct mprod *p, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    size_t size = p->res_size;
    if (b & 1)
        size = size > (size_t)(b >> 2) ? size - (b >> 2) : 0; /* committed shorter */
    if ((b & 3) == 2)
        size += 1 + (b >> 2); /* longer than reserved: misuse */
    uint32_t type = fz_u8(in);
    bool more = (fz_u8(in) & 1) != 0;
    int r = zipc_queue_commit(p->q, size, type, more ? ZIPC_COMMIT_MORE : 0);
    CHECK_ONE_OF(r, 0, -EINVAL, -EBADMSG);
    if (w->clean)
        FZ_CHECK(r == ((p->reserved && size <= p->res_size) ? 0 : -EINVAL));
    if (r == 0) {
        committed(w, p, size, type, more);
        p->reserved = false;
    }
    sync_published(w, p);
}

static void op_abort(struct world *w, struct mprod *p)
{
    int r = zipc_queue_abort(p->q);
    CHECK_ONE_OF(r, 0, -EINVAL, -EBADMSG);
    if (w->clean)
        FZ_CHECK(r == (p->reserved ? 0 : -EINVAL));
    if (r == 0)
        p->reserved = false;
    sync_published(w, p);
}

static void send_one(struct world *w, struct mprod *p, size_t size, uint32_t type, int64_t t)
{
    static uint8_t data[4096];
    size_t n = size < sizeof(data) ? size : sizeof(data);
    fill(data, n, p->lane, w->lane[p->lane].committed);
    int r = zipc_queue_send(p->q, data, size <= sizeof(data) ? size : 0, type, t);
    check_reserve_result(w, p, size <= sizeof(data) ? size : 0, r);
    if (r == 0)
        committed(w, p, size <= sizeof(data) ? size : 0, type, false);
    sync_published(w, p);
}

static void op_flush(struct world *w, struct mprod *p)
{
    int r = zipc_queue_flush(p->q);
    CHECK_ONE_OF(r, 0, -EBADMSG);
    if (w->clean)
        FZ_CHECK(r == 0);
    sync_published(w, p);
}

/* ---- members coming and going ------------------------------------------------ */

static struct zipc_options member_opts(void)
{
    return (struct zipc_options){.flags = ZIPC_OPT_NO_SPIN, .timeout_ns = 2000000000};
}

/* adopt mode: a member from the harness's segment, as a joiner adopts it. */
static zipc_queue *adopt_member(struct world *w, int role, int *err_out)
{
    zipc_queue *q = aligned_alloc(ZIPC_CACHE_LINE, up(sizeof(*q), ZIPC_CACHE_LINE));
    FZ_CHECK(q != NULL);
    /* as queue_new (src/queue.c) */
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
    q->role = role;
    struct zipc_options o = member_opts();
    FZ_CHECK(zipc__opts_resolve(&o, &q->opts) == 0);
    int fds[QUEUE_NFDS];
    fds[0] = fcntl(w->img.fd, F_DUPFD_CLOEXEC, 0);
    for (unsigned i = 1; i < QUEUE_NFDS; i++)
        fds[i] = fcntl(w->efd[i - 1], F_DUPFD_CLOEXEC, 0);
    struct zipc__peer peer = {.sock = -1, .pid = getpid(), .uid = (uint32_t)geteuid()};
    int err = zipc__endpoint_adopt(&zipc__queue_kind, q, fds, role, &peer, &q->opts, w->announced);
    FZ_CHECK(err <= 0);
    if (err == 0) {
        for (unsigned i = 0; i < QUEUE_NFDS; i++)
            FZ_CHECK(fds[i] == -1);
        err = role == ZIPC_ROLE_PRODUCER ? zipc__queue_producer_bind(q) : zipc__queue_consumer_bind(q);
    }
    fz_close_all(fds, QUEUE_NFDS);
    *err_out = err;
    if (err) {
        zipc_queue_close(q); /* as queue_free after a failed open */
        return NULL;
    }
    return q;
}

static int open_member(struct world *w, int role, zipc_queue **out)
{
    if (!w->live) {
        int err;
        *out = adopt_member(w, role, &err);
        return err;
    }
    struct zipc_queue_config cfg = {.lane_capacity = w->ring_size, .flags = w->flags};
    struct zipc_options o = member_opts();
    if (!w->clean) /* a slot forged free may be a live member's: its door stays bound until this timeout */
        o.timeout_ns = 100000000;
    return zipc_queue_open(out, w->name, role, &cfg, &o);
}

/* A consumer's slot taken over after its holder died: the model's view of
 * what the new member's bind gives back. */
static void model_bind_reclaims(struct world *w, uint32_t slot, uint16_t gen)
{
    for (uint32_t l = 0; l < QP; l++) {
        struct mlane *L = &w->lane[l];
        for (uint32_t s = L->first; s != L->published; s++) {
            struct mrec *r = rec(w, l, s);
            bool held_by = r->state == M_HELD &&
                           (r->holder == slot || (r->holder == HOLDER_DEAD && r->dead_slot == slot)) &&
                           (uint16_t)(gen - r->gen) < 0x8000;
            if (held_by)
                r->state = (w->flags & ZIPC_QUEUE_AT_MOST_ONCE) ? M_DROPPED : M_REDELIVER;
        }
    }
}

static void op_open(struct world *w, struct fz_in *in)
{
    int role = fz_u8(in) & 1 ? ZIPC_ROLE_PRODUCER : ZIPC_ROLE_CONSUMER;
    if (w->opens >= MAX_OPENS)
        return;
    zipc_queue *q = NULL;
    int idx = -1;
    if (role == ZIPC_ROLE_PRODUCER) {
        for (int i = 0; i < MAXP && idx < 0; i++)
            if (!w->P[i].q)
                idx = i;
    } else {
        for (int i = 0; i < MAXC && idx < 0; i++)
            if (!w->C[i].q)
                idx = i;
    }
    if (idx < 0)
        return;
    w->opens++;
    if (w->live && !any_member(w)) { /* the queue went with its last member: this one makes a new one */
        memset(w->lane, 0, sizeof(w->lane));
        w->joined = false;
        w->clean = true;
    }
    int err = open_member(w, role, &q);
    TRACE("  open %s: %s (slot %d)\n", role == ZIPC_ROLE_PRODUCER ? "producer" : "consumer", zipc_err_name(err),
          q ? zipc_queue_slot(q) : -1);
    FZ_CHECK((err == 0) == (q != NULL));
    if (w->clean && err && err != -EINTR)
        fprintf(stderr, "zipc fuzz: open %s: %s\n", role == ZIPC_ROLE_PRODUCER ? "producer" : "consumer",
                zipc_err_name(err));
    if (w->clean) /* -EINTR: libFuzzer's timer signal in the handshake */
        FZ_CHECK(err == 0 || err == -EINTR);
    else /* -EADDRINUSE: a lease rewritten to look free (or dead) gave us a live member's
          * slot, whose door name it holds (queue.h does not list it: see the report);
          * -ETIMEDOUT: its 100 ms ran out among doors hanging up */
        CHECK_ONE_OF(err, 0, -EBADMSG, -ENOSPC, -EADDRINUSE, -EINTR, -ETIMEDOUT);
    if (err)
        return;
    if (role == ZIPC_ROLE_PRODUCER) {
        uint32_t lane = (uint32_t)zipc_queue_slot(q);
        FZ_CHECK(lane < QP);
        w->P[idx] = (struct mprod){.q = q, .lane = lane};
        w->joined = true;
        if (w->clean) /* a lane taken over continues where it stopped */
            FZ_CHECK(q->tx.seq == w->lane[lane].published);
        w->lane[lane].committed = w->lane[lane].published;
    } else {
        FZ_CHECK((uint32_t)zipc_queue_slot(q) < QC);
        w->C[idx] = (struct mcons){.q = q};
        if (w->clean)
            model_bind_reclaims(w, (uint32_t)zipc_queue_slot(q), (uint16_t)(q->gen - 1));
    }
}

static void close_producer(struct world *w, struct mprod *p)
{
    /* the last member with messages queued would linger for a consumer: the
     * interrupt makes that -ECANCELED at once (0 if leaving loses nothing) */
    zipc_queue_interrupt(p->q);
    int r = zipc_queue_close(p->q);
    FZ_CHECK(r == 0 || r == -ECANCELED);
    w->lane[p->lane].published = w->lane[p->lane].committed; /* staged ones go out */
    p->q = NULL;
}

static void close_consumer(struct world *w, struct mcons *c)
{
    while (c->nv)
        model_released(w, c, c->nv - 1);
    FZ_CHECK(zipc_queue_close(c->q) == 0);
    c->q = NULL;
}

static void op_close(struct world *w, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    if (b & 1) {
        struct mprod *p = &w->P[(b >> 1) % MAXP];
        if (p->q)
            close_producer(w, p);
    } else {
        struct mcons *c = &w->C[(b >> 1) % MAXC];
        if (c->q)
            close_consumer(w, c);
    }
}

/* Another member to clean up after the dead. */
static zipc_queue *other_member(struct world *w, zipc_queue *not)
{
    for (int i = 0; i < MAXP; i++)
        if (w->P[i].q && w->P[i].q != not)
            return w->P[i].q;
    for (int i = 0; i < MAXC; i++)
        if (w->C[i].q && w->C[i].q != not)
            return w->C[i].q;
    return NULL;
}

/* Die: the member lock goes with no goodbye (as the kernel drops it for a
 * killed process); what the endpoint holds in this process is freed without
 * touching the segment. Then a helper's cleanup, or (consumer) the next
 * consumer taking the slot. */
static void op_die(struct world *w, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    bool producer = b & 1, reopen = (b & 2) != 0;
    zipc_queue *q = producer ? w->P[(b >> 2) % MAXP].q : w->C[(b >> 2) % MAXC].q;
    zipc_queue *other = q ? other_member(w, q) : NULL;
    if (!q || (!other && !reopen) || (reopen && (producer || w->opens >= MAX_OPENS)))
        return;
    uint32_t slot = q->me.slot;
    uint64_t lease = q->me.lease;
    if (reopen) {
        /* the next consumer takes the lowest slot free or dead: ours only if every lower one is live */
        for (uint32_t s = QP; s < slot; s++) {
            uint64_t l;
            if (zipc__member_alive(&q->members, s, &l) != 1)
                return;
        }
    }
    TRACE("  %s in slot %u dies\n", producer ? "producer" : "consumer", slot);
    close(q->me.lock_fd);
    q->me.lock_fd = -1;
    if (producer) {
        struct mprod *p = &w->P[(b >> 2) % MAXP];
        w->lane[p->lane].committed = w->lane[p->lane].published; /* staged: never published */
        q->tx.sticky_err = ZIPC__RING_UNBOUND;                   /* close: no goodbye */
        FZ_CHECK(zipc_queue_close(q) == 0);
        p->q = NULL;
    } else {
        struct mcons *c = &w->C[(b >> 2) % MAXC];
        q->nheld = 0;
        q->wait.my_sleeping = NULL; /* close: no goodbye */
        FZ_CHECK(zipc_queue_close(q) == 0);
        *c = (struct mcons){0};
    }
    if (reopen) {
        op_open(w, &(struct fz_in){(const uint8_t[]){0}, 1});
        return;
    }
    zipc__queue_reclaim(other, slot, lease);
    uint64_t now;
    /* Dead - unless a hostile lease let another member claim the slot too
     * (read locks share the byte): its holder still lives. */
    int alive = zipc__member_alive(&other->members, slot, &now);
    FZ_CHECK(alive == 0 || (!w->clean && alive == 1));
    if (w->clean)
        FZ_CHECK(!(now & ZIPC_LEASE_BUSY)); /* reaped */
    if (!producer && w->clean)
        model_bind_reclaims(w, slot - QP, (uint16_t)(ZIPC_LEASE_GEN(lease) & 0xffff));
}

/* The cleanup entries: a dead member's (adopt: the one written dead), a
 * live one's (must change nothing), or any consumer's claims (what a
 * confused cleaner would do: hostile). */
static void op_reclaim(struct world *w, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    zipc_queue *q = any_member(w);
    if (!q)
        return;
    switch (b % 3) {
    case 0:
        if (!w->live) {
            TRACE("  reclaim the dead consumer %u\n", DEAD_SLOT);
            zipc__queue_reclaim(q, QP + DEAD_SLOT, w->dead_lease);
            if (w->clean)
                model_bind_reclaims(w, DEAD_SLOT, (uint16_t)(ZIPC_LEASE_GEN(w->dead_lease) & 0xffff));
        }
        break;
    case 1: {
        uint32_t slot = (b >> 2) % ZIPC_QUEUE_SLOTS;
        uint64_t lease;
        int alive = zipc__member_alive(&q->members, slot, &lease);
        if (alive == 1)
            zipc__queue_reclaim(q, slot, lease); /* alive: nothing happens */
        break;
    }
    default:
        hostile(w);
        zipc__queue_reclaim_claims(q, fz_u8(in) % QC, fz_u16(in));
        break;
    }
}

/* A joiner handed a control block that does not match its layout: -EBADMSG
 * (check_ctl), whichever field it is; the block is restored after. */
static void op_join_bad(struct world *w, struct fz_in *in)
{
    uint64_t size;
    uint8_t *base = seg_base(w, &size);
    if (!base || w->opens >= MAX_OPENS || consumers_open(w) == MAXC)
        return;
    struct zipc_queue_ctl *c = ctl_at(base), saved = *c;
    uint8_t b = fz_u8(in);
    uint64_t v = fz_u64(in);
    switch (b % 10) {
    case 0: c->ring_size = v | 1; break;                  /* not a power of two */
    case 1: c->ring_size = w->ring_size * 2; break;       /* another layout */
    case 2: c->ring_size = (uint64_t)1 << (40 + b % 20); break;
    case 3: c->lane_offset += ZIPC_PAGE * (1 + (v & 0xffff)); break;
    case 4: c->lane_stride = v & ~(uint64_t)(ZIPC_PAGE - 1); c->lane_stride += c->lane_stride == saved.lane_stride ? ZIPC_PAGE : 0; break;
    case 5: c->ring_offset ^= ZIPC_PAGE << (b % 8); break;
    case 6: c->log_size = (uint32_t)v == saved.log_size ? (uint32_t)v + 1 : (uint32_t)v; break;
    case 7: c->max_producers = c->max_producers + 1 + (uint32_t)(v & 7); break;
    case 8: c->members_offset = v == saved.members_offset ? v + 64 : v; break;
    default: c->flags |= 2u << (v % 15); break; /* unknown bits 1..15 (16 marks an rpc service) */
    }
    w->opens++;
    zipc_queue *q = NULL;
    int err = open_member(w, ZIPC_ROLE_CONSUMER, &q);
    TRACE("  join with a bad control block (%u): %s\n", b % 10, zipc_err_name(err));
    *c = saved;
    FZ_CHECK(err == -EBADMSG || err == -EINTR || (!w->clean && (err == -ENOSPC || err == -EADDRINUSE)));
    FZ_CHECK(q == NULL);
}

static void op_stats(struct world *w, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    zipc_queue *q = b & 1 ? w->P[(b >> 1) % MAXP].q : w->C[(b >> 1) % MAXC].q;
    if (!q)
        return;
    struct zipc_queue_stats st;
    FZ_CHECK(zipc_queue_get_stats(q, &st) == 0);
    FZ_CHECK(zipc_queue_capacity(q) == w->ring_size && zipc_queue_max_message(q) == w->max_message);
    FZ_CHECK(zipc_queue_flags(q) == w->flags);
    int np = zipc_queue_producers(q), nc = zipc_queue_consumers(q);
    FZ_CHECK(np >= 0 && np <= QP && nc >= 0 && nc <= QC);
    if (w->clean)
        FZ_CHECK((unsigned)np == producers_open(w) && (unsigned)nc == consumers_open(w));
    FZ_CHECK(zipc_queue_fd(q) >= 0);
    /* the tools' view of the same segment: never a crash; while clean, the
     * members this queue's own count sees */
    struct zipc_segment_info info;
    int r = zipc_inspect_fd(q->seg.fd, &info);
    FZ_CHECK(r <= 0);
    if (w->clean)
        FZ_CHECK(r == 0 && info.detail == ZIPC_INSPECT_QUEUE && info.queue.ring_size == w->ring_size &&
                 info.queue.producers == producers_open(w) && info.queue.consumers == consumers_open(w));
}

/* interrupt, then a blocking call: -ECANCELED unless there was something to take. */
static void op_interrupt(struct world *w, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    if (b & 1) {
        struct mcons *c = &w->C[(b >> 1) % MAXC];
        if (!c->q)
            return;
        FZ_CHECK(zipc_queue_interrupt(c->q) == 0);
        c->interrupt_pending = true;
        op_view(w, c, WAIT_NS);
    } else {
        struct mprod *p = &w->P[(b >> 1) % MAXP];
        if (!p->q)
            return;
        FZ_CHECK(zipc_queue_interrupt(p->q) == 0);
        p->interrupt_pending = true;
    }
}

static void op_wrong_role(struct world *w)
{
    void *buf;
    struct zipc_msg m = {0};
    size_t size;
    for (int i = 0; i < MAXC; i++)
        if (w->C[i].q) {
            FZ_CHECK(zipc_queue_reserve(w->C[i].q, 8, &buf, 0) == -EOPNOTSUPP);
            FZ_CHECK(zipc_queue_send(w->C[i].q, "x", 1, 0, 0) == -EOPNOTSUPP);
            FZ_CHECK(zipc_queue_flush(w->C[i].q) == -EOPNOTSUPP);
        }
    for (int i = 0; i < MAXP; i++)
        if (w->P[i].q) {
            FZ_CHECK(zipc_queue_view(w->P[i].q, &m, 0) == -EOPNOTSUPP);
            FZ_CHECK(zipc_queue_recv(w->P[i].q, scratch, 8, &size, NULL, 0) == -EOPNOTSUPP);
            FZ_CHECK(zipc_queue_release(w->P[i].q) == -EOPNOTSUPP);
        }
}

/* ---- hostile writes ------------------------------------------------------------- */

static void wr32(void *p, uint32_t v) { zipc__store((uint32_t *)p, v, ZIPC__SEQ_CST); }
static void wr64(void *p, uint64_t v) { zipc__store((uint64_t *)p, v, ZIPC__SEQ_CST); }

/* A lane to write into: one in use mostly. */
static uint32_t pick_lane(struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    return b & 0x80 ? b % QP : b % MAXP;
}

/* A seq near the lane's claim. */
static uint32_t near_seq(struct world *w, uint32_t l, struct fz_in *in)
{
    return w->lane[l].next_fresh + (uint32_t)(int8_t)fz_u8(in);
}

static void op_h_ctl(struct world *w, struct fz_in *in, uint8_t *base)
{
    struct zipc_queue_ctl *c = ctl_at(base);
    uint8_t b = fz_u8(in);
    uint32_t v = fz_u32(in);
    switch (b % 6) {
    case 0: wr32(&c->lanes_open, v); break;
    case 1: wr32(&c->producers_joined, v); break;
    case 2: wr32(&c->lane_hwm, v); break;
    case 3: wr32(&c->sleepers, v); break;
    case 4: wr64((uint8_t *)c + 8 * ((b >> 3) % 7), (uint64_t)v << (b & 32)); break; /* the layout */
    default: wr32(&c->lane_hwm, QP + v % 4); break;
    }
    hostile(w);
}

static void op_h_consumer(struct world *w, struct fz_in *in, uint8_t *base)
{
    uint8_t b = fz_u8(in);
    struct zipc_queue_consumer *c = cons_at(base, (b >> 2) % QC);
    uint32_t v = fz_u32(in);
    if (b & 1)
        wr32(&c->held, v);
    else
        wr32(&c->sleeping, v);
    if (b & 2)
        wr64(&c->messages, (uint64_t)v * 977);
    hostile(w);
}

static void op_h_lane(struct world *w, struct fz_in *in, uint8_t *base)
{
    uint32_t l = pick_lane(in);
    struct zipc_queue_lane *lc = lane_ctl(w, base, l);
    uint8_t b = fz_u8(in);
    uint32_t seq = near_seq(w, l, in), off = fz_u32(in);
    uint64_t pos = ZIPC_QPOS(seq, (uint64_t)(off & 0x3ffff) * ZIPC_FRAME_ALIGN);
    switch (b % 8) {
    case 0: wr64(&lc->claim, pos); break;
    case 1: wr64(&lc->freed, pos); break;
    case 2: wr64(&lc->claim, (uint64_t)off << 32 | fz_u32(in)); break;
    case 3: wr64(&lc->freed, (uint64_t)off << 32 | fz_u32(in)); break;
    case 4: wr32(&lc->redeliver, off); break;
    case 5: wr32(&lc->producer_sleeping, off); break;
    case 6: wr64(&lc->producer.position, (uint64_t)off * ZIPC_FRAME_ALIGN); break;
    default: wr32(&lc->producer.state, off); break;
    }
    hostile(w);
}

static void op_h_log(struct world *w, struct fz_in *in, uint8_t *base)
{
    uint32_t l = pick_lane(in);
    uint8_t b = fz_u8(in);
    uint32_t seq = near_seq(w, l, in);
    uint64_t *word = &lane_log(w, base, l)[(b & 0x80 ? fz_u32(in) : seq) & (w->log_size - 1)];
    uint32_t state = b & 3, attempt = fz_u8(in) % 64, slot = fz_u8(in), gen = fz_u16(in);
    switch ((b >> 2) % 5) {
    case 0: wr64(word, ZIPC_QCLAIM(seq, state, attempt, slot % QC, gen)); break;
    case 1: wr64(word, ZIPC_QCLAIM(seq - w->log_size, ZIPC_QCLAIM_RELEASED, attempt, slot, gen)); break;
    case 2: wr64(word, ZIPC_QCLAIM(seq, ZIPC_QCLAIM_REDELIVER, attempt, slot, gen)); break;
    case 3: wr64(word, fz_u64(in)); break;
    default: wr64(word, 0); break;
    }
    hostile(w);
}

static void op_h_frame(struct world *w, struct fz_in *in, uint8_t *base)
{
    uint32_t l = pick_lane(in);
    uint8_t b = fz_u8(in);
    uint64_t claim = zipc__load(&lane_ctl(w, base, l)->claim, ZIPC__RELAXED);
    uint64_t off = ((uint64_t)(uint32_t)claim * ZIPC_FRAME_ALIGN + (uint64_t)(b & 0x1f) * ZIPC_FRAME_ALIGN) &
                   (w->ring_size - 1);
    struct zipc_frame *f = (void *)(lane_ring(w, base, l) + off);
    uint32_t seq = (uint32_t)(claim >> 32) + (uint32_t)(int8_t)fz_u8(in) % 8;
    if (b & 0x20)
        wr32(&f->size, b & 0x40 ? fz_u32(in) : fz_msg_size(in, w->max_message));
    switch (fz_u8(in) % 4) {
    case 0: wr64(&f->mark, ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG)); break;
    case 1: wr64(&f->mark, ZIPC_FRAME_MARK(seq, ZIPC_FRAME_PAD)); break;
    case 2: wr64(&f->mark, fz_u64(in)); break;
    default: wr64(&f->mark, ZIPC_FRAME_MARK(seq - w->log_size, ZIPC_FRAME_MSG)); break;
    }
    hostile(w);
}

static void op_h_bytes(struct world *w, struct fz_in *in, uint8_t *base, uint64_t size)
{
    uint8_t b = fz_u8(in);
    uint64_t at = b & 1 ? fz_u32(in) % size
                        : (uint64_t)(lane_ring(w, base, pick_lane(in)) - base) + fz_u16(in) % w->ring_size;
    unsigned n = fz_u8(in) % 17;
    for (unsigned i = 0; i < n && at + i < size; i++)
        __atomic_store_n(base + at + i, fz_u8(in), __ATOMIC_RELAXED);
    hostile(w);
}

static void op_h_member(struct world *w, struct fz_in *in, uint8_t *base)
{
    uint8_t b = fz_u8(in);
    struct zipc_member_slot *s = member_at(base, fz_u8(in) % ZIPC_QUEUE_SLOTS);
    uint64_t v = fz_u64(in);
    switch (b % 4) {
    case 0: wr64(&s->lease, v); break;
    case 1: wr64(&s->lease, ZIPC_LEASE_BUSY | (v & 0x7fffffff00000000u) | (uint32_t)getpid()); break;
    case 2: wr64(&s->pidns, v); break;
    default: { /* the table's header: only joiners read it */
        struct zipc_member_table *t = (void *)(base + ZIPC_QUEUE_MEMBERS_OFFSET);
        wr32(b & 4 ? &t->capacity : &t->slot_size, (uint32_t)v);
        break;
    }
    }
    hostile(w);
}

/* ---- one input ---------------------------------------------------------------------- */

static void run_op(struct world *w, enum op op, struct fz_in *in)
{
    uint8_t who = fz_u8(in);
    struct mcons *c = &w->C[who % MAXC];
    struct mprod *p = &w->P[who % MAXP];
    uint64_t size;
    uint8_t *base = seg_base(w, &size);
    TRACE("op %d (member %u); views", op, who);
    for (int i = 0; tracing() && i < MAXC; i++)
        if (w->C[i].q)
            TRACE(" c%d:%u/%u", zipc_queue_slot(w->C[i].q), w->C[i].q->nheld, w->C[i].nv);
    TRACE("\n");
    switch (op) {
    case OP_VIEW: if (c->q) op_view(w, c, ZIPC_TRY); break;
    case OP_VIEW_WAIT: if (c->q) op_view(w, c, WAIT_NS); break;
    case OP_DRAIN: if (c->q) op_drain(w, c, in); break;
    case OP_RELEASE_VIEW: if (c->q) op_release_view(w, c, in); break;
    case OP_RELEASE: if (c->q) op_release(w, c); break;
    case OP_RECV: if (c->q) op_recv(w, c, in); break;
    case OP_RESERVE: if (p->q) op_reserve(w, p, in); break;
    case OP_COMMIT: if (p->q) op_commit(w, p, in); break;
    case OP_ABORT: if (p->q) op_abort(w, p); break;
    case OP_SEND: if (p->q) send_one(w, p, fz_msg_size(in, w->max_message), fz_u8(in), fz_u8(in) & 1 ? WAIT_NS : 0); break;
    case OP_SEND_MANY:
        if (p->q) {
            unsigned n = fz_u8(in) % 40;
            uint32_t s0 = fz_u8(in);
            for (unsigned i = 0; i < n; i++)
                send_one(w, p, (s0 + i * 24) % (w->max_message + 1), i, ZIPC_TRY);
        }
        break;
    case OP_FLUSH: if (p->q) op_flush(w, p); break;
    case OP_OPEN: op_open(w, in); break;
    case OP_CLOSE: op_close(w, in); break;
    case OP_DIE: op_die(w, in); break;
    case OP_RECLAIM: op_reclaim(w, in); break;
    case OP_JOIN_BAD: op_join_bad(w, in); break;
    case OP_STATS: op_stats(w, in); break;
    case OP_INTERRUPT: op_interrupt(w, in); break;
    case OP_WRONG_ROLE: op_wrong_role(w); break;
    default:
        if (!base)
            break;
        switch (op) {
        case OP_H_CTL: op_h_ctl(w, in, base); break;
        case OP_H_CONSUMER: op_h_consumer(w, in, base); break;
        case OP_H_LANE: op_h_lane(w, in, base); break;
        case OP_H_LOG: op_h_log(w, in, base); break;
        case OP_H_FRAME: op_h_frame(w, in, base); break;
        case OP_H_BYTES: op_h_bytes(w, in, base, size); break;
        default: op_h_member(w, in, base); break;
        }
    }
}

/* ---- adopt: the segment, written from the ABI ------------------------------------------ */

/* A message of lane 0 written as its producer would (a pad at the ring's end). */
static uint64_t write_frame(struct world *w, uint64_t pos, uint32_t seq, uint32_t size, uint32_t type)
{
    uint8_t *ring = lane_ring(w, w->img.base, 0);
    uint64_t mask = w->ring_size - 1, len = up(ZIPC_FRAME_HEADER + size, ZIPC_FRAME_ALIGN), off = pos & mask;
    uint64_t at = pos;
    if (w->ring_size - off < len) {
        struct zipc_frame *pad = (void *)(ring + off);
        pad->size = 0;
        pad->mark = ZIPC_FRAME_MARK(seq, ZIPC_FRAME_PAD);
        at = pos + w->ring_size - off;
    }
    struct zipc_frame *f = (void *)(ring + (at & mask));
    f->size = size;
    f->type = type;
    fill((uint8_t *)f + ZIPC_FRAME_HEADER, size, 0, seq);
    f->mark = ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG);
    ((struct zipc_frame *)(ring + ((at + len) & mask)))->mark = 0; /* the terminator */
    return at + len;
}

/* Lane 0 as a producer that left and consumers that came and went left it:
 * from the reuse point `freed`, frames taken (released, or claimed by a
 * dead consumer: slot DEAD_SLOT, or slot 0 of the generation before the
 * next holder's), then frames not taken yet from the claim on.
 * Input: seq0 (4), start position (2), messages (1), taken (1), holders
 * (2 bits each, 4 bytes). */
static void prefill(struct world *w, struct fz_in *in, uint8_t *base)
{
    struct mlane *L = &w->lane[0];
    uint8_t sb = fz_u8(in);
    uint32_t seq0 = sb & 1 ? UINT32_MAX - sb / 2 % 8 : sb & 2 ? fz_u16(in) : 0;
    uint64_t pos0 = (uint64_t)fz_u16(in) * ZIPC_FRAME_ALIGN + (sb & 4 ? w->ring_size * 7 : 0);
    unsigned k = fz_u8(in) % (w->log_size + 1), t = fz_u8(in);
    uint32_t holders = fz_u32(in);
    struct zipc_queue_lane *lc = lane_ctl(w, base, 0);
    uint64_t *log = lane_log(w, base, 0);
    uint64_t pos = pos0, claim_pos = pos0;
    uint16_t dead_gen = (uint16_t)ZIPC_LEASE_GEN(w->dead_lease);
    uint32_t held_dead = 0, held0 = 0, n = 0;
    t = k ? t % (k + 1) : 0;
    L->first = L->next_fresh = L->published = L->committed = seq0;
    for (unsigned i = 0; i < k; i++) {
        uint32_t seq = seq0 + i, size = (uint32_t)((i * 37 + sb) % (w->max_message + 1));
        uint64_t len = up(ZIPC_FRAME_HEADER + size, ZIPC_FRAME_ALIGN), off = pos & (w->ring_size - 1);
        uint64_t need = (w->ring_size - off < len ? w->ring_size - off : 0) + len + ZIPC_FRAME_ALIGN;
        if (pos + need - pos0 > w->ring_size)
            break; /* the ring is full */
        if (i == t)
            claim_pos = pos;
        pos = write_frame(w, pos, seq, size, i & 3);
        struct mrec *r = rec(w, 0, seq);
        *r = (struct mrec){.size = size, .type = i & 3, .state = M_FREE};
        uint64_t word = ZIPC_QCLAIM(seq - w->log_size, ZIPC_QCLAIM_RELEASED, 1, 0, 0); /* free for seq */
        if (i < t) {
            switch (holders >> (2 * (i % 16)) & 3) {
            case 1: /* held by the consumer that died in slot DEAD_SLOT */
                word = ZIPC_QCLAIM(seq, ZIPC_QCLAIM_CLAIMED, 1 + i % 3, DEAD_SLOT, dead_gen);
                *r = (struct mrec){.size = size, .type = i & 3, .state = M_HELD, .holder = HOLDER_DEAD,
                                   .attempt = 1 + i % 3, .gen = dead_gen, .dead_slot = DEAD_SLOT};
                held_dead++;
                break;
            case 2: /* held by slot 0's last holder (generation 0), dead too */
                word = ZIPC_QCLAIM(seq, ZIPC_QCLAIM_CLAIMED, 1, 0, 0);
                *r = (struct mrec){.size = size, .type = i & 3, .state = M_HELD, .holder = HOLDER_DEAD,
                                   .attempt = 1, .gen = 0, .dead_slot = 0};
                held0++;
                break;
            default:
                word = ZIPC_QCLAIM(seq, ZIPC_QCLAIM_RELEASED, 1, 3, 9);
                r->state = M_REL;
                break;
            }
        }
        log[seq & (w->log_size - 1)] = word;
        n++;
    }
    if (t >= n)
        claim_pos = pos;
    L->next_fresh = seq0 + (t < n ? t : n);
    L->published = L->committed = seq0 + n;
    for (uint32_t s = seq0 + n; s != seq0 + w->log_size; s++) /* the words the next lap's frames use */
        log[s & (w->log_size - 1)] = ZIPC_QCLAIM(s - w->log_size, ZIPC_QCLAIM_RELEASED, 1, 2, 5);
    lc->freed = ZIPC_QPOS(seq0, pos0 & (w->ring_size - 1));
    lc->claim = ZIPC_QPOS(L->next_fresh, claim_pos & (w->ring_size - 1));
    lc->producer.position = pos;
    lc->producer.state = ZIPC_STATE_CLOSED;
    cons_at(base, DEAD_SLOT)->held = held_dead;
    cons_at(base, 0)->held = held0;
    struct zipc_queue_ctl *c = ctl_at(base);
    c->lane_hwm = 1;
    c->producers_joined = n > 0;
    w->joined = n > 0;
    TRACE("lane 0: seq %u..%u, claim %u, freed at %" PRIu64 ", tail %" PRIu64 ", %u held by the dead\n", seq0,
          seq0 + n, L->next_fresh, pos0, pos, held_dead + held0);
}

/* Malformations (byte b % N_BAD says which): adopt must refuse each with -EBADMSG. */
#define N_BAD 15
static void corrupt(struct world *w, uint8_t b, uint64_t v)
{
    struct zipc_queue_ctl *c = ctl_at(w->img.base);
    struct zipc_member_table *t = (void *)(w->img.base + ZIPC_QUEUE_MEMBERS_OFFSET);
    switch (b % N_BAD) {
    case 0: c->ring_size = w->ring_size + 64; break;
    case 1: c->ring_size = 64; break;
    case 2: c->ring_size = ZIPC_QUEUE_MAX_LANE * 2; break;
    case 3: c->lane_offset -= ZIPC_PAGE; break;
    case 4: c->lane_stride += ZIPC_PAGE * (1 + v % 64); break;
    case 5: c->ring_offset = v == c->ring_offset ? v + ZIPC_PAGE : v; break;
    case 6: c->log_size *= 2; break;
    case 7: c->max_consumers = QC - 1; break;
    case 8: c->members_offset = ZIPC_QUEUE_MEMBERS_OFFSET + 64; break;
    case 9: { uint32_t bit = 1u << (1 + v % 31); c->flags = bit == ZIPC_QUEUE_SEGMENT_RPC ? 1u << 17 : bit; break; } /* unknown (bit 16 marks an rpc service) */
    case 10: t->capacity = ZIPC_QUEUE_SLOTS - 1 - (uint32_t)(v % 60); break;
    case 11: t->slot_size = 32; break;
    case 14: w->announced += ZIPC_PAGE; break; /* told another size than it has */
    default: break;                             /* 12, 13: the segment's size (adopt_open) */
    }
}

static bool adopt_open(struct world *w, struct fz_in *in, uint8_t b0, uint8_t b1)
{
    struct layout lo = layout_of(w->ring_size);
    uint8_t bad = fz_u8(in);
    uint64_t v = fz_u64(in), seg_size = lo.size;
    bool malformed = b0 & 0x10;
    if (malformed && bad % N_BAD == 12)
        seg_size = ZIPC_QUEUE_BODY_OFFSET + 8 + v % 376; /* smaller than the control block */
    else if (malformed && bad % N_BAD == 13)
        seg_size = lo.size + ZIPC_PAGE * (v % 2 ? 1 : -1);
    uint64_t body = seg_size - ZIPC_QUEUE_BODY_OFFSET;
    struct zipc__segment_policy pol = zipc__segment_policy_rw(0);
    pol.prefault = false;
    FZ_CHECK(zipc__segment_create(&w->img, pol, ZIPC_KIND_QUEUE, seg_size, ZIPC_QUEUE_BODY_OFFSET,
                                  body < sizeof(struct zipc_queue_ctl) ? body : sizeof(struct zipc_queue_ctl),
                                  "fuzz") == 0);
    w->announced = seg_size;
    for (int i = 0; i < ZIPC_QUEUE_SLOTS; i++)
        FZ_CHECK((w->efd[i] = fz_eventfd()) >= 0);
    uint8_t *base = w->img.base;
    /* the control block as layout_of says (in the mapping's first page even
     * past a small segment's end: a joiner must not read it there) */
    *ctl_at(base) = (struct zipc_queue_ctl){.lane_offset = lo.lane_offset, .lane_stride = lo.lane_stride,
                                            .ring_size = w->ring_size, .ring_offset = lo.ring_offset,
                                            .log_size = (uint32_t)lo.log_size, .flags = w->flags,
                                            .max_producers = QP, .max_consumers = QC,
                                            .members_offset = ZIPC_QUEUE_MEMBERS_OFFSET};
    if (seg_size >= lo.lane_offset) {
        struct zipc_member_table *t = (void *)(base + ZIPC_QUEUE_MEMBERS_OFFSET);
        t->capacity = ZIPC_QUEUE_SLOTS;
        t->slot_size = sizeof(struct zipc_member_slot);
    }
    if (seg_size == lo.size) {
        /* two dead consumers: slot 0 (its last holder, generation 0) and DEAD_SLOT */
        w->dead_lease = ZIPC_LEASE_BUSY | (uint64_t)(1 + (v >> 32) % 0x7ffffffe) << 32 | 999999;
        member_at(base, QP)->lease = ZIPC_LEASE_BUSY | 999998;
        member_at(base, QP + DEAD_SLOT)->lease = w->dead_lease;
        prefill(w, in, base);
    }
    if (malformed) {
        corrupt(w, bad, v);
        int err = 0;
        zipc_queue *q = adopt_member(w, ZIPC_ROLE_CONSUMER, &err);
        TRACE("malformed segment (%u): %s\n", bad % N_BAD, zipc_err_name(err));
        FZ_CHECK(err == -EBADMSG && q == NULL);
        return false;
    }
    /* the members: a consumer (in slot 0: it gives back what slot 0's last holder held) and maybe more */
    int err;
    zipc_queue *q = adopt_member(w, ZIPC_ROLE_CONSUMER, &err);
    FZ_CHECK(err == 0);
    w->C[0] = (struct mcons){.q = q};
    FZ_CHECK(zipc_queue_slot(q) == 0);
    model_bind_reclaims(w, 0, (uint16_t)(q->gen - 1));
    if (b1 & 4)
        op_open(w, &(struct fz_in){(const uint8_t[]){1}, 1});
    return true;
}

static bool live_open(struct world *w, uint8_t b1)
{
    snprintf(w->name, sizeof(w->name), "fzq.%d.%u", (int)getpid(), name_counter++);
    static const uint8_t producer = 1, consumer = 0;
    op_open(w, &(struct fz_in){&producer, 1});
    op_open(w, &(struct fz_in){&consumer, 1});
    for (unsigned i = 0; i < (b1 & 3u); i++)
        op_open(w, &(struct fz_in){&consumer, 1});
    if (b1 & 4)
        op_open(w, &(struct fz_in){&producer, 1});
    return w->P[0].q != NULL;
}

static void world_close(struct world *w)
{
    for (int i = 0; i < MAXP; i++)
        if (w->P[i].q)
            close_producer(w, &w->P[i]);
    for (int i = 0; i < MAXC; i++)
        if (w->C[i].q)
            close_consumer(w, &w->C[i]);
    if (!w->live) {
        zipc__segment_close(&w->img);
        fz_close_all(w->efd, ZIPC_QUEUE_SLOTS);
    }
}

static void run(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    struct world *w = &W;
    uint8_t b0 = fz_u8(&in), b1 = fz_u8(&in);
    memset(w, 0, sizeof(*w));
    w->img.fd = -1;
    for (int i = 0; i < ZIPC_QUEUE_SLOTS; i++)
        w->efd[i] = -1;
    w->clean = true;
    w->live = !(b0 & 8);
    w->ring_size = ring_sizes[b0 & 3];
    w->max_message = (uint32_t)(w->ring_size / 2 - ZIPC_FRAME_HEADER);
    w->log_size = (uint32_t)(w->ring_size / ZIPC_FRAME_ALIGN);
    w->flags = b0 & 4 ? ZIPC_QUEUE_AT_MOST_ONCE : 0;
    bool ok = w->live ? live_open(w, b1) : adopt_open(w, &in, b0, b1);
    for (unsigned n = 0; ok && in.n && n < 512; n++)
        run_op(w, (enum op)(fz_u8(&in) % N_OPS), &in);
    world_close(w);
}

/* ---- seeds -------------------------------------------------------------------------- */

static void write_seeds(const char *dir)
{
    /* live: 1P 1C (ring 512), 2P 3C (4096, at-most-once), 1P 1C (128) */
    struct fz_seed a = {{0x01, 0x00}, 2}, b = {{0x06, 0x06}, 2}, c = {{0x00, 0x01}, 2};
    for (int i = 0; i < 24; i++) {
        fz_seed_put(&a, 6, OP_SEND, 0, i * 4, i, 0, OP_VIEW);
        fz_seed_put(&a, 3, 0, OP_RELEASE_VIEW, 0);
        fz_seed_put(&a, 1, 0);
        fz_seed_put(&a, 5, OP_RESERVE, 0, (i * 8) | 1, 0, OP_COMMIT);
        fz_seed_put(&a, 4, 0, 0, i, i & 1);
        fz_seed_put(&a, 4, OP_RECV, 0, i & 1 ? 1 : 8, OP_FLUSH);
        fz_seed_put(&a, 1, 0);
        fz_seed_put(&b, 5, OP_SEND_MANY, (uint8_t)i, 20, i * 3, OP_DRAIN);
        fz_seed_put(&b, 3, (uint8_t)(i + 1), 8, OP_RELEASE_VIEW);
        fz_seed_put(&b, 2, (uint8_t)(i + 1), i);
        fz_seed_put(&c, 6, OP_SEND_MANY, 0, 3, 1, OP_VIEW_WAIT, 0);
        fz_seed_put(&c, 4, OP_RELEASE, 0, OP_STATS, 0);
    }
    /* deaths: a consumer holding views dies, the other takes them again */
    struct fz_seed d = {{0x02, 0x01}, 2};
    fz_seed_put(&d, 4, OP_SEND_MANY, 0, 10, 5);
    fz_seed_put(&d, 6, OP_DRAIN, 0, 4, OP_DIE, 0, 0);
    fz_seed_put(&d, 6, OP_DRAIN, 1, 8, OP_RELEASE, 1, OP_CLOSE);
    fz_seed_put(&d, 2, 0, 1);
    fz_seed_put(&d, 4, OP_VIEW, 1, OP_VIEW_WAIT, 1);
    /* a consumer dies and the next one takes its slot; a producer dies with staged messages */
    struct fz_seed e = {{0x01, 0x04}, 2};
    fz_seed_put(&e, 4, OP_SEND_MANY, 1, 6, 2);
    fz_seed_put(&e, 6, OP_DRAIN, 0, 3, OP_DIE, 0, 2);
    fz_seed_put(&e, 4, OP_DRAIN, 0, 8, OP_RELEASE);
    fz_seed_put(&e, 8, 0, OP_RESERVE, 0, 9, 0, OP_COMMIT, 0, 0);
    fz_seed_put(&e, 7, 3, 1, OP_DIE, 0, 1, OP_VIEW, 0);
    fz_seed_put(&e, 5, OP_OPEN, 0, 1, OP_SEND_MANY, 0);
    fz_seed_put(&e, 6, 4, 4, OP_DRAIN, 0, 8, OP_JOIN_BAD);
    fz_seed_put(&e, 12, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, OP_INTERRUPT, 0);
    fz_seed_put(&e, 1, 1);
    /* hostile: a claim word, the claim, a frame */
    struct fz_seed f = {{0x01, 0x01}, 2};
    fz_seed_put(&f, 4, OP_SEND_MANY, 0, 12, 7);
    fz_seed_put(&f, 8, OP_H_LOG, 0, 0, 0, 2, 1, 2, 0);
    fz_seed_put(&f, 1, 0);
    fz_seed_put(&f, 3, OP_DRAIN, 0, 8);
    fz_seed_put(&f, 8, OP_H_LANE, 0, 0, 0, 3, 1, 0, 0);
    fz_seed_put(&f, 1, 0);
    fz_seed_put(&f, 8, OP_H_FRAME, 0, 0, 0x21, 1, 0x20, 0, OP_VIEW);
    fz_seed_put(&f, 6, 1, OP_SEND, 0, 8, 1, 0);
    fz_seed_put(&f, 6, OP_H_CTL, 0, 0, 0xff, 0, 0);
    fz_seed_put(&f, 6, 0, OP_RECLAIM, 0, 2, 1, 0);
    /* adopt: lane 0 written before (seq near the wrap, claims of the dead), producer taking it over */
    struct fz_seed g = {{0x0a, 0x04}, 2};
    fz_seed_put(&g, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0); /* no malformation, v */
    fz_seed_put(&g, 10, 0x05, 0x40, 0, 40, 20, 0x99, 0x66, 0x99, 0x66); /* prefill */
    fz_seed_put(&g, 3, OP_RECLAIM, 0, 0);
    for (int i = 0; i < 12; i++) {
        fz_seed_put(&g, 4, OP_DRAIN, 0, 7, OP_RELEASE);
        fz_seed_put(&g, 5, 0, OP_SEND_MANY, 0, 6, i);
    }
    struct fz_seed h = {{0x0a, 0x00}, 2};
    fz_seed_put(&h, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    fz_seed_put(&h, 10, 0x02, 0x10, 0x30, 10, 4, 0x55, 0, 0, 0);
    fz_seed_put(&h, 10, OP_H_LANE, 0, 0, 1, 0, 0, 0, 0, 0, OP_OPEN);
    fz_seed_put(&h, 6, 0, 1, OP_VIEW, 0, OP_SEND, 0);
    fz_seed_put(&h, 3, 8, 0, 0);
    fz_seed_write(dir, "live-1p1c", a.b, a.n);
    fz_seed_write(dir, "live-2p3c-at-most-once", b.b, b.n);
    fz_seed_write(dir, "live-small-lane", c.b, c.n);
    fz_seed_write(dir, "live-consumer-dies", d.b, d.n);
    fz_seed_write(dir, "live-slot-taken-over", e.b, e.n);
    fz_seed_write(dir, "live-hostile", f.b, f.n);
    fz_seed_write(dir, "adopt-takeover", g.b, g.n);
    fz_seed_write(dir, "adopt-hostile-claim", h.b, h.n);
    for (int i = 0; i < N_BAD; i++) { /* every malformation */
        uint8_t bad[] = {0x1a, 0x00, (uint8_t)i, 1, 0, 0, 0, 0, 0, 0, 0};
        char name[32];
        snprintf(name, sizeof(name), "adopt-malformed-%d", i);
        fz_seed_write(dir, name, bad, sizeof(bad));
    }
}

static void setup(void) { prctl(PR_SET_TIMERSLACK, 1UL); }

FZ_HARNESS(write_seeds, setup, run)

/* fuzz_topic: a topic subscriber's trust boundary and data path.
 *
 * The harness plays the publisher: it makes the three segments (data,
 * sealed F_SEAL_FUTURE_WRITE, which it keeps writing through its own
 * mapping; board; cursor page), publishes a prefix, writes the join point
 * (start, start_seq, gap) into the cursor page, and hands everything to the
 * library through zipc__subscriber_adopt, the entry point that
 * zipc_topic_subscribe uses after the handshake. Then ops, one byte each
 * plus arguments: the subscriber's calls (view, drain, release,
 * release_view, release_views, recv, latest, stats, waits), the harness
 * publishing as the ABI says (reclaiming the oldest frames under the
 * seqlock, bounded by the cursor's head while the policy is lossless, pads
 * at the ring's end, sometimes a pad reclaimed alone), the publisher
 * closing, and hostile writes anywhere (ring bytes, frame headers and
 * marks, the oldest pair and its version, the control block, the cursor
 * page, the board).
 *
 * Input: byte 0  bits 0-1 ring size, 2-3 policy (BLOCK, DROP_OLDEST,
 *                MAX_LAG), 4 RESUME_NEWEST, 5 peer pid 0, 6 spin 1 us,
 *                7 a corrupt layout (byte 1 says which field)
 *        byte 1  messages published before the join; byte 2 history asked
 *        then ops.
 *
 * Always checked: adopt returns 0 or a negative errno, owns what it says it
 * owns, leaks no fd; messages and views lie inside the data mapping's ring,
 * 16-byte aligned, at most max_message; -EBADMSG sticks.
 * While no hostile write happened ("clean"), against a model: the join
 * point is the one written (the history gap reported once, exactly); views
 * come in order with the content published; -EAGAIN only when nothing is
 * there; a lossless subscriber is never overtaken; -EOVERFLOW exactly when
 * overtaken, with the exact loss (messages and bytes), and at least one
 * message lost; release says -ESTALE for a view whose message was
 * reclaimed, 0 for one untouched (pinned views always 0); the head written
 * into the cursor is the start of the oldest open view (or the read
 * position); latest() gives exactly the newest message of the type still
 * there; after the publisher closed, everything published, then -EPIPE. */
#include "fuzz_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_RINGS 3
static const uint32_t ring_sizes[N_RINGS] = {256, 1024, 4096};
#define REC 256   /* >= frames in a ring (4096 / 64) * 2 + room: records by seq % REC */
#define MAXV 64   /* open views tracked */
#define WAIT_NS 2000
#define SPIN_NS 1000
#define MAX_SUBS 2
#define MAX_PUBLISH 600 /* per input */

enum op {
    OP_VIEW, OP_DRAIN, OP_RELEASE, OP_RELEASE_VIEW, OP_RELEASE_VIEWS, OP_RECV, OP_LATEST, OP_VIEW_WAIT,
    OP_STATS, OP_PUBLISH, OP_PUBLISH_MANY, OP_RECLAIM_PAD, OP_PUB_CLOSE,
    OP_H_BYTES, OP_H_FRAME, OP_H_OLDEST, OP_H_CTL, OP_H_CURSOR, OP_H_BOARD, OP_H_LINK,
    N_OPS
};

struct rec {          /* one published message */
    uint64_t start;   /* its entry: the pad before it, if any */
    uint64_t pos;     /* its frame */
    uint64_t end;
    uint32_t size, type;
};

struct view {
    struct zipc_msg m;
    uint64_t from;    /* the read position before it was taken */
    bool released, dropped;
};

struct tp {
    /* the harness publisher */
    struct zipc__segment data, board, cursor;
    uint8_t *ring;
    uint64_t ring_size, mask;
    uint32_t max_message, max_subs;
    uint64_t tail, published;   /* position, messages */
    uint64_t oldest_pos, oldest_seq;
    uint64_t version;
    int efd[2];                 /* sub wake, pub wake (the harness's copies) */
    int link;                   /* the publisher's end of the link */
    bool closed;
    unsigned publishes;
    /* the subscriber */
    zipc_subscriber *sub;
    uint32_t policy, flags;
    uint64_t max_lag;
    const uint8_t *map;         /* its mapping of the data */
    uint64_t map_len;
    const uint8_t *sring;       /* its ring */
    bool broken, clean;
    bool untracked;             /* more open views than tracked */
    /* the model */
    uint64_t next;              /* the seq the next view must carry */
    uint64_t rpos;              /* where it reads (an entry's start) */
    uint64_t gap_pending;       /* the join's gap, still to report */
    uint64_t lost;              /* all losses reported */
    struct view views[MAXV];
    unsigned nviews;            /* tracked views (released ones stay until the oldest goes) */
    struct rec rec[REC];
};

static struct tp S;

/* FZ_TRACE=1 in the environment: the ops and the model's state on stderr
 * (for replaying a crash). */
static bool tracing(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("FZ_TRACE") != NULL;
    return on;
}
#define TRACE(...) (tracing() ? (void)fprintf(stderr, __VA_ARGS__) : (void)0)
static uint8_t scratch[4096];

static struct zipc_topic_ctl *ctl(struct tp *s) { return (void *)(s->data.base + ZIPC_TOPIC_BODY_OFFSET); }
static struct zipc_topic_cursor *cur(struct tp *s) { return (void *)(s->cursor.base + ZIPC_TOPIC_BODY_OFFSET); }
static struct zipc_topic_board *brd(struct tp *s) { return (void *)(s->board.base + ZIPC_TOPIC_BODY_OFFSET); }
static struct zipc_frame *frame(struct tp *s, uint64_t pos) { return (void *)(s->ring + (pos & s->mask)); }
static uint64_t frame_len(uint32_t size)
{
    return (ZIPC_FRAME_HEADER + (uint64_t)size + ZIPC_FRAME_ALIGN - 1) & ~(uint64_t)(ZIPC_FRAME_ALIGN - 1);
}
static struct rec *rec(struct tp *s, uint64_t seq) { return &s->rec[seq % REC]; }

static void fill(uint8_t *p, uint32_t n, uint64_t seq)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seq * 131 + i * 7 + (i >> 8));
}

/* The model's state around the reader (FZ_TRACE). */
static void trace_model(const struct tp *s, const char *what)
{
    TRACE("%s: next %" PRIu64 " at %" PRIu64 ", oldest %" PRIu64 " at %" PRIu64 ", tail %" PRIu64
          ", published %" PRIu64 ", policy %u\n", what, s->next, s->rpos, s->oldest_seq, s->oldest_pos, s->tail,
          s->published, s->policy);
    for (uint64_t q = s->next > 3 ? s->next - 3 : 0; tracing() && q < s->published && q < s->next + 8; q++)
        TRACE("  %" PRIu64 ": entry %" PRIu64 ", frame %" PRIu64 "..%" PRIu64 ", size %u\n", q, s->rec[q % REC].start,
              s->rec[q % REC].pos, s->rec[q % REC].end, s->rec[q % REC].size);
}

static bool content_ok(const uint8_t *p, uint32_t n, uint64_t seq)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(seq * 131 + i * 7 + (i >> 8)))
            return false;
    return true;
}

/* ---- the harness publisher --------------------------------------------- */

static void publish_oldest(struct tp *s, uint64_t pos, uint64_t seq)
{
    struct zipc_topic_oldest *o = &ctl(s)->oldest;
    zipc__store(&o->version, ++s->version, ZIPC__RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    zipc__store(&o->position, pos, ZIPC__RELAXED);
    zipc__store(&o->seq, seq, ZIPC__RELAXED);
    zipc__store(&o->version, ++s->version, ZIPC__RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    s->oldest_pos = pos;
    s->oldest_seq = seq;
}

/* Is the subscriber lossless now (the publisher waits for it)? */
static bool lossless(struct tp *s)
{
    if (!s->sub || s->policy == ZIPC_SUB_DROP_OLDEST)
        return false;
    uint64_t head = zipc__load(&cur(s)->side.position, ZIPC__SEQ_CST);
    if ((int64_t)(s->oldest_pos - head) > 0)
        return false; /* overtaken already */
    if (s->policy == ZIPC_SUB_MAX_LAG)
        return s->published - zipc__load(&cur(s)->side.messages, ZIPC__RELAXED) < s->max_lag;
    return true;
}

/* Publish one message as the ABI says; false when a lossless subscriber
 * leaves no room. */
static bool h_publish(struct tp *s, uint32_t size, uint32_t type)
{
    if (size > s->max_message || s->closed || s->publishes >= MAX_PUBLISH)
        return false;
    uint64_t len = frame_len(size), off = s->tail & s->mask;
    uint64_t pad = s->ring_size - off < len ? s->ring_size - off : 0;
    uint64_t need = pad + len + ZIPC_FRAME_ALIGN;
    if (lossless(s)) {
        uint64_t head = zipc__load(&cur(s)->side.position, ZIPC__SEQ_CST);
        if (s->tail + need - head > s->ring_size)
            return false;
    }
    /* reclaim frames until it fits (a pad is a frame: never past a lossless head) */
    uint64_t pos = s->oldest_pos, seq = s->oldest_seq;
    while (s->tail + need - pos > s->ring_size) {
        const struct rec *r = rec(s, seq);
        if (pos == r->start && r->start != r->pos) {
            pos = r->pos;
        } else {
            pos = r->end;
            seq++;
        }
    }
    if (pos != s->oldest_pos)
        publish_oldest(s, pos, seq);
    uint64_t at = s->tail + pad;
    zipc__store(&frame(s, at + len)->mark, 0, ZIPC__RELAXED); /* the terminator */
    struct zipc_frame *f = frame(s, at);
    f->size = size;
    f->type = type;
    fill((uint8_t *)f + ZIPC_FRAME_HEADER, size, s->published);
    if (pad) {
        zipc__store(&f->mark, ZIPC_FRAME_MARK(s->published, ZIPC_FRAME_MSG), ZIPC__RELAXED);
        frame(s, s->tail)->size = 0;
        zipc__store(&frame(s, s->tail)->mark, ZIPC_FRAME_MARK(s->published, ZIPC_FRAME_PAD), ZIPC__SEQ_CST);
    } else {
        zipc__store(&f->mark, ZIPC_FRAME_MARK(s->published, ZIPC_FRAME_MSG), ZIPC__SEQ_CST);
    }
    *rec(s, s->published) = (struct rec){.start = s->tail, .pos = at, .end = at + len, .size = size, .type = type};
    s->tail = at + len;
    s->published++;
    s->publishes++;
    zipc__store(&ctl(s)->publisher.position, s->tail, ZIPC__RELAXED);
    zipc__store(&ctl(s)->publisher.messages, s->published, ZIPC__SEQ_CST);
    if (zipc__xchg(&cur(s)->wait.sleeping, 0, ZIPC__SEQ_CST)) {
        uint64_t one = 1;
        FZ_CHECK(write(s->efd[0], &one, sizeof(one)) == sizeof(one));
    }
    return true;
}

/* The ABI allows the oldest at any frame boundary: a pad alone reclaimed
 * (the message after it intact), if the oldest entry has one. */
static void op_reclaim_pad(struct tp *s)
{
    if (s->oldest_seq >= s->published || lossless(s))
        return;
    struct rec *r = rec(s, s->oldest_seq);
    if (r->start != r->pos && s->oldest_pos == r->start)
        publish_oldest(s, r->pos, s->oldest_seq);
}

static void h_close(struct tp *s)
{
    if (s->closed)
        return;
    s->closed = true;
    zipc__store(&ctl(s)->publisher.state, ZIPC_STATE_CLOSED, ZIPC__RELEASE);
    fz_close(&s->link);
}

/* ---- the model's expectations --------------------------------------------- */

static void check_span(struct tp *s, const struct zipc_msg *m)
{
    const uint8_t *p = m->data;
    FZ_CHECK(m->size <= s->max_message);
    FZ_CHECK((uintptr_t)p % 16 == 0);
    FZ_CHECK(p >= s->sring + ZIPC_FRAME_HEADER && p + m->size <= s->sring + s->ring_size);
}

/* A message the subscriber has not read yet was reclaimed: it lost some.
 * (The oldest may also have moved past a pad alone: nothing lost.) */
static bool lost_some(struct tp *s) { return s->oldest_seq > s->next; }

/* A view returned: in order, intact, where it was published. */
static void took(struct tp *s, const struct zipc_msg *m)
{
    check_span(s, m);
    if (!s->clean)
        return;
    FZ_CHECK(!s->gap_pending);
    FZ_CHECK(m->seq == s->next && s->next < s->published);
    if (lost_some(s)) {
        /* reclaimed already: a lossy view, maybe torn (its header too), whose
         * release must say -ESTALE; the reader goes on from where it thinks
         * the frame ends */
        FZ_CHECK(s->policy != ZIPC_SUB_BLOCK);
        TRACE("took reclaimed %" PRIu64 ": size %u (published %u at %" PRIu64 "), ends at %" PRIu64 "\n", m->seq,
              m->size, rec(s, m->seq)->size, rec(s, m->seq)->pos, m->end_);
        s->next++;
        s->rpos = m->end_;
        return;
    }
    const struct rec *r = rec(s, m->seq);
    if (m->size != r->size || m->type != r->type)
        trace_model(s, "took a message of another size or type");
    FZ_CHECK(m->size == r->size && m->type == r->type);
    FZ_CHECK((const uint8_t *)m->data == s->sring + (r->pos & s->mask) + ZIPC_FRAME_HEADER);
    FZ_CHECK(content_ok(m->data, m->size, m->seq));
    s->next++;
    s->rpos = r->end;
}

/* Forget every view the endpoint holds no more (released, or dropped). */
static void forget_views(struct tp *s)
{
    unsigned k = 0;
    for (unsigned i = 0; i < s->nviews; i++)
        if (!s->views[i].released && !s->views[i].dropped)
            s->views[k++] = s->views[i];
    s->nviews = k;
}

static void take(struct tp *s, const struct zipc_msg *m)
{
    uint64_t from = s->rpos;
    took(s, m);
    if (s->nviews == MAXV)
        forget_views(s);
    if (s->nviews < MAXV)
        s->views[s->nviews++] = (struct view){.m = *m, .from = from};
    else
        s->untracked = true; /* the head is not checked until everything is released */
}

/* What an empty-handed view/drain/recv may say, clean. */
static void no_message(struct tp *s, int r)
{
    if (r == -EBADMSG)
        s->broken = true;
    if (!s->clean)
        return;
    if (r == -EBADMSG)
        trace_model(s, "EBADMSG on a clean ring");
    FZ_CHECK(r != -EBADMSG && r != 0);
    if (s->gap_pending) {
        FZ_CHECK(r == -EOVERFLOW);
        uint64_t msgs = 0, bytes = 0;
        FZ_CHECK(zipc_subscriber_last_loss(s->sub, &msgs, &bytes) == 0 && msgs == s->gap_pending);
        s->lost += msgs;
        s->gap_pending = 0;
        return;
    }
    if (r == -EOVERFLOW) {
        trace_model(s, "EOVERFLOW");
        /* a loss is of messages: never an event that lost none */
        FZ_CHECK(s->policy != ZIPC_SUB_BLOCK && lost_some(s));
        uint64_t msgs = 0, bytes = 0, to_seq = s->oldest_seq, to_pos = s->oldest_pos;
        if ((s->flags & ZIPC_SUB_RESUME_NEWEST) && s->published > s->oldest_seq) {
            to_seq = s->published - 1; /* resume at the newest message */
            uint64_t start = rec(s, to_seq)->start;
            to_pos = (int64_t)(start - s->oldest_pos) > 0 ? start : s->oldest_pos;
        }
        FZ_CHECK(zipc_subscriber_last_loss(s->sub, &msgs, &bytes) == 0);
        TRACE("  loss %" PRIu64 " messages %" PRIu64 " bytes; the model: to %" PRIu64 " at %" PRIu64 "\n", msgs,
              bytes, to_seq, to_pos);
        /* bytes: from the read position, or past a pad the reader stepped over already */
        uint64_t from_msg = s->next < s->published ? rec(s, s->next)->pos : s->rpos;
        FZ_CHECK(msgs == to_seq - s->next && (bytes == to_pos - s->rpos || bytes == to_pos - from_msg));
        s->lost += msgs;
        s->next = to_seq;
        s->rpos = to_pos;
        for (unsigned i = 0; i < s->nviews; i++) /* dropped: their release says -ESTALE */
            s->views[i].dropped = true;
        return;
    }
    FZ_CHECK(!lost_some(s));
    if (r == -EAGAIN || r == -ETIMEDOUT)
        FZ_CHECK(s->next == s->published && !s->closed);
    else if (r == -EPIPE)
        FZ_CHECK(s->next == s->published && s->closed);
    else
        FZ_CHECK(r == -EALREADY || r == -ECANCELED);
}

/* The sticky error: once broken, the data calls keep saying -EBADMSG. */
static int sticky(struct tp *s, int r)
{
    if (s->broken)
        FZ_CHECK(r == -EBADMSG);
    return r;
}

/* The head the subscriber must have written: the oldest open view's
 * start, else its read position. */
static void check_head(struct tp *s)
{
    if (!s->clean || s->broken || s->untracked)
        return;
    uint64_t want = s->rpos, q = s->next;
    for (unsigned i = 0; i < s->nviews; i++)
        if (!s->views[i].released && !s->views[i].dropped) {
            want = s->views[i].from;
            q = s->views[i].m.seq;
            break;
        }
    uint64_t head = zipc__load(&cur(s)->side.position, ZIPC__RELAXED);
    /* or past the pad before the next message: the reader stepped over it */
    bool past_pad = q < s->published && rec(s, q)->start == want && head == rec(s, q)->pos;
    if (!(head == want || past_pad))
        TRACE("head %" PRIu64 ", the model %" PRIu64 "\n", head, want);
    FZ_CHECK(head == want || past_pad);
}

/* What release of view v must say, clean. -1: either 0 or -ESTALE. */
static int want_release(struct tp *s, const struct view *v)
{
    if (v->dropped)
        return -ESTALE;
    const struct rec *r = rec(s, v->m.seq);
    if (s->oldest_seq > v->m.seq)
        return -ESTALE; /* its message was reclaimed */
    if ((int64_t)(s->oldest_pos - r->start) > 0)
        return -1; /* only the pad before it: its bytes are intact */
    return 0;
}

static void compact_views(struct tp *s)
{
    unsigned k = 0;
    while (k < s->nviews && (s->views[k].released || s->views[k].dropped))
        k++;
    memmove(s->views, s->views + k, (s->nviews - k) * sizeof(s->views[0]));
    s->nviews -= k;
}

static void released(struct tp *s, int r, int want)
{
    if (!s->clean)
        return;
    if (want == -1)
        FZ_CHECK(r == 0 || r == -ESTALE);
    else
        FZ_CHECK(r == want);
}

/* ---- the subscriber's calls ------------------------------------------------- */

static void op_view(struct tp *s, int64_t timeout)
{
    struct zipc_msg m;
    int r = sticky(s, zipc_subscriber_view(s->sub, &m, timeout));
    if (r == 0) {
        take(s, &m);
    } else {
        no_message(s, r);
    }
    check_head(s);
}

static void op_drain(struct tp *s, struct fz_in *in)
{
    struct zipc_msg m[8];
    unsigned max = 1 + fz_u8(in) % 8;
    int n = zipc_subscriber_drain(s->sub, m, max, ZIPC_TRY);
    if (n > 0) {
        FZ_CHECK(!s->broken && n <= (int)max);
        for (int i = 0; i < n; i++)
            take(s, &m[i]);
    } else {
        sticky(s, n);
        no_message(s, n);
    }
    check_head(s);
}

static void op_release(struct tp *s)
{
    int want = 0;
    bool any = false;
    for (unsigned i = 0; i < s->nviews; i++) {
        struct view *v = &s->views[i];
        if (v->released || v->dropped) { /* dropped: the endpoint holds them no more */
            v->released = true;
            continue;
        }
        any = true;
        int w = want_release(s, v);
        if (w == -ESTALE || (w == -1 && want == 0))
            want = w;
        v->released = true;
    }
    int r = zipc_subscriber_release(s->sub);
    if (any && !s->untracked)
        released(s, r, want);
    s->untracked = false;
    compact_views(s);
    check_head(s);
}

/* One open view (or a run of them), in any order. */
static void op_release_view(struct tp *s, struct fz_in *in, bool run)
{
    if (!s->nviews)
        return;
    unsigned i = fz_u8(in) % s->nviews, n = run ? 1 + fz_u8(in) % 4 : 1;
    if (i + n > s->nviews)
        n = s->nviews - i;
    bool open = true;
    int want = 0;
    for (unsigned k = i; k < i + n; k++) {
        if (s->views[k].dropped != s->views[i].dropped)
            return; /* a run across an overtake: not one run for the endpoint */
        open = open && !s->views[k].released;
        int w = want_release(s, &s->views[k]);
        if (w == -ESTALE || (w == -1 && want == 0))
            want = w;
    }
    struct zipc_msg batch[4];
    for (unsigned k = 0; k < n; k++)
        batch[k] = s->views[i + k].m;
    int r = run ? zipc_subscriber_release_views(s->sub, batch, n) : zipc_subscriber_release_view(s->sub, batch);
    TRACE("release_view%s from %" PRIu64 " n %u: %d\n", run ? "s" : "", batch[0].seq, n, r);
    if (!open) {
        if (s->clean && !s->views[i].dropped && r != -EINVAL && r != -EBADMSG)
            fprintf(stderr, "release_view%s of seq %" PRIu64 " (n %u) released already: %d\n", run ? "s" : "",
                    s->views[i].m.seq, n, r);
        if (s->clean && !s->views[i].dropped)
            FZ_CHECK(r == -EINVAL || r == -EBADMSG);
    } else {
        released(s, r, want);
        for (unsigned k = i; k < i + n; k++)
            s->views[k].released = true;
    }
    compact_views(s);
    check_head(s);
}

static void op_recv(struct tp *s, struct fz_in *in)
{
    size_t cap = fz_u8(in) & 1 ? sizeof(scratch) : fz_u8(in), size = 0;
    uint32_t type = 0;
    bool views_open = false;
    for (unsigned i = 0; i < s->nviews; i++)
        views_open |= !s->views[i].released && !s->views[i].dropped;
    int r = sticky(s, zipc_subscriber_recv(s->sub, scratch, cap, &size, &type, ZIPC_TRY));
    if (r == 0) {
        FZ_CHECK(size <= cap && size <= s->max_message);
        if (s->clean) {
            FZ_CHECK(!views_open && !s->gap_pending && !lost_some(s) && s->next < s->published);
            const struct rec *rc = rec(s, s->next);
            FZ_CHECK(size == rc->size && type == rc->type && content_ok(scratch, (uint32_t)size, s->next));
            s->next++;
            s->rpos = rc->end;
        }
    } else if (r == -EMSGSIZE) {
        FZ_CHECK(size > cap);
        if (s->clean)
            FZ_CHECK(s->next < s->published && size == rec(s, s->next)->size);
    } else if (r == -EALREADY) {
        if (s->clean)
            FZ_CHECK(views_open);
    } else {
        no_message(s, r);
    }
    check_head(s);
}

static void op_latest(struct tp *s, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    uint32_t type = b & 0x80 ? ZIPC_TYPE_ANY : b & 3;
    size_t size = 0, cap = b & 0x40 ? 8 : sizeof(scratch);
    uint32_t got = 0;
    int r = zipc_subscriber_latest(s->sub, type, scratch, cap, &size, &got);
    if (r == 0)
        FZ_CHECK(size <= cap && size <= s->max_message);
    if (!s->clean || s->broken)
        return;
    uint64_t want = UINT64_MAX;
    for (uint64_t q = s->published; q-- > s->oldest_seq;)
        if (type == ZIPC_TYPE_ANY || rec(s, q)->type == type) {
            want = q;
            break;
        }
    if (want == UINT64_MAX) {
        FZ_CHECK(r == -ENOENT);
        return;
    }
    const struct rec *rc = rec(s, want);
    if (r == -EMSGSIZE) {
        FZ_CHECK(rc->size > cap && size == rc->size);
        return;
    }
    FZ_CHECK(r == 0 && size == rc->size && got == rc->type && content_ok(scratch, (uint32_t)size, want));
}

static void op_stats(struct tp *s)
{
    struct zipc_subscriber_stats st;
    FZ_CHECK(zipc_subscriber_get_stats(s->sub, &st) == 0);
    if (s->clean)
        FZ_CHECK(st.lost_messages == s->lost);
    FZ_CHECK(zipc_subscriber_capacity(s->sub) == s->ring_size);
    FZ_CHECK(zipc_subscriber_max_message(s->sub) == s->max_message);
    FZ_CHECK(zipc_subscriber_fd(s->sub) >= 0);
    /* the tools' view of the same segments (zipc_inspect_fd): never a
     * crash, whatever was written; while clean, what the model says */
    struct zipc_segment_info info;
    int r = zipc_inspect_fd(s->data.fd, &info);
    FZ_CHECK(r <= 0);
    if (s->clean)
        FZ_CHECK(r == 0 && info.detail == ZIPC_INSPECT_TOPIC && info.topic.publisher.messages == s->published &&
                 info.topic.ring_size == s->ring_size && info.topic.listed <= info.topic.subscribers);
    r = zipc_inspect_fd(s->cursor.fd, &info);
    FZ_CHECK(r <= 0);
    if (s->clean)
        FZ_CHECK(r == 0 && info.detail == ZIPC_INSPECT_TOPIC_CURSOR &&
                 info.cursor.side.bytes == zipc__load(&cur(s)->side.position, ZIPC__RELAXED));
    FZ_CHECK(zipc_inspect_fd(s->board.fd, &info) <= 0);
}

/* ---- hostile writes ---------------------------------------------------------- */

static void hostile(struct tp *s) { s->clean = false; }

static void op_h_bytes(struct tp *s, struct fz_in *in)
{
    uint64_t pos = fz_u16(in);
    unsigned len = fz_u8(in) % 17;
    for (unsigned i = 0; i < len; i++)
        s->ring[(pos + i) & s->mask] = fz_u8(in);
    hostile(s);
}

static void op_h_frame(struct tp *s, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    uint64_t pos = (s->rpos + (uint64_t)(b & 0x1f) * ZIPC_FRAME_ALIGN) & s->mask;
    struct zipc_frame *f = frame(s, pos);
    if (b & 0x20)
        f->size = b & 0x40 ? fz_u32(in) : fz_msg_size(in, s->max_message);
    uint64_t seq = s->next + (fz_u8(in) % 8) - 2;
    switch (fz_u8(in) % 4) {
    case 0: zipc__store(&f->mark, ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG), ZIPC__SEQ_CST); break;
    case 1: zipc__store(&f->mark, ZIPC_FRAME_MARK(seq, ZIPC_FRAME_PAD), ZIPC__SEQ_CST); break;
    case 2: zipc__store(&f->mark, fz_u64(in), ZIPC__SEQ_CST); break;
    default: zipc__store(&f->mark, ZIPC_FRAME_MARK(seq - s->ring_size / 64, ZIPC_FRAME_MSG), ZIPC__SEQ_CST); break;
    }
    hostile(s);
}

static void op_h_oldest(struct tp *s, struct fz_in *in)
{
    struct zipc_topic_oldest *o = &ctl(s)->oldest;
    uint8_t b = fz_u8(in);
    switch (b % 5) {
    case 0: zipc__store(&o->position, o->position + (uint64_t)(b >> 3) * ZIPC_FRAME_ALIGN, ZIPC__SEQ_CST); break;
    case 1: zipc__store(&o->position, fz_u64(in), ZIPC__SEQ_CST); break;
    case 2: zipc__store(&o->seq, fz_u64(in), ZIPC__SEQ_CST); break;
    case 3: zipc__store(&o->version, o->version | 1, ZIPC__SEQ_CST); break; /* being written, for ever */
    default: zipc__store(&o->position, o->position + (b >> 3), ZIPC__SEQ_CST); break; /* off the grid */
    }
    hostile(s);
}

static void op_h_ctl(struct tp *s, struct fz_in *in)
{
    size_t off = fz_u16(in) % (sizeof(struct zipc_topic_ctl) - 8);
    fz_take(in, (uint8_t *)ctl(s) + off, 8);
    hostile(s);
}

static void op_h_cursor(struct tp *s, struct fz_in *in)
{
    size_t off = fz_u16(in) % (sizeof(struct zipc_topic_cursor) - 8);
    fz_take(in, (uint8_t *)cur(s) + off, 8);
    hostile(s);
}

static void op_h_board(struct tp *s, struct fz_in *in)
{
    size_t off = fz_u16(in) % (sizeof(struct zipc_topic_board) - 8);
    fz_take(in, (uint8_t *)brd(s) + off, 8);
    uint64_t one = 1;
    FZ_CHECK(write(s->efd[fz_u8(in) & 1], &one, sizeof(one)) == sizeof(one));
}

/* Junk on the link, or the evicting publisher's hang-up. */
static void op_h_link(struct tp *s, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    if (s->link < 0)
        return;
    if (b & 1) {
        if (send(s->link, "junk", 1 + b % 4, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        }
        return;
    }
    zipc__store(&cur(s)->evicted, 1, ZIPC__RELAXED);
    fz_close(&s->link);
    hostile(s);
}

/* ---- one input ------------------------------------------------------------------ */

/* The subscriber's read-only mapping of the data (found by the memfd's inode). */
static void find_data_map(struct tp *s)
{
    struct stat st;
    FZ_CHECK(fstat(s->data.fd, &st) == 0);
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    s->map = NULL;
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi, off, ino;
        char prot[8], dev[16];
        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu", &lo, &hi, prot, &off, dev, &ino) == 6 && ino == st.st_ino &&
            off == 0 && strcmp(prot, "r--s") == 0) {
            s->map = (const uint8_t *)lo;
            s->map_len = hi - lo;
        }
    }
    if (f)
        fclose(f);
    FZ_CHECK(s->map && s->map_len >= s->data.size);
    s->sring = s->map + ctl(s)->ring_offset;
}

static void make_segments(struct tp *s, uint32_t ring_size, uint32_t max_subs)
{
    uint64_t body = sizeof(struct zipc_topic_ctl) + (uint64_t)max_subs * sizeof(struct zipc_topic_slot_info);
    uint64_t off = ZIPC_TOPIC_RING_OFFSET(max_subs);
    FZ_CHECK(zipc__segment_create(&s->data, zipc__segment_policy_ro(0, 0, true), ZIPC_KIND_TOPIC, off + ring_size,
                                  ZIPC_TOPIC_BODY_OFFSET, body, "fuzz") == 0);
    struct zipc_topic_ctl *c = ctl(s);
    c->ring_offset = off;
    c->ring_size = ring_size;
    c->max_message = ring_size / 2 - ZIPC_FRAME_HEADER;
    c->frame_align = ZIPC_FRAME_ALIGN;
    c->max_subscribers = max_subs;
    c->publisher.pid = (uint32_t)getpid();
    c->publisher.state = ZIPC_STATE_ACTIVE;
    FZ_CHECK(zipc__segment_create(&s->board, zipc__segment_policy_rw(0), ZIPC_KIND_TOPIC_BOARD,
                                  ZIPC_TOPIC_PAGE_SEGMENT, ZIPC_TOPIC_BODY_OFFSET, sizeof(struct zipc_topic_board),
                                  "fuzz") == 0);
    FZ_CHECK(zipc__segment_create(&s->cursor, zipc__segment_policy_rw(0), ZIPC_KIND_TOPIC_CURSOR,
                                  ZIPC_TOPIC_PAGE_SEGMENT, ZIPC_TOPIC_BODY_OFFSET, sizeof(struct zipc_topic_cursor),
                                  "fuzz") == 0);
    s->ring = s->data.base + off;
    s->ring_size = ring_size;
    s->mask = ring_size - 1;
    s->max_message = c->max_message;
    s->max_subs = max_subs;
}

/* A layout the subscriber must refuse (-EBADMSG), byte b says which field. */
static void corrupt_layout(struct tp *s, uint8_t b)
{
    struct zipc_topic_ctl *c = ctl(s);
    struct zipc_segment_header *h = (void *)s->data.base;
    switch (b % 8) {
    case 0: c->ring_size *= 2; break;
    case 1: c->ring_size = 100; break;
    case 2: c->ring_offset += ZIPC_PAGE; break;
    case 3: c->max_message += 1; break;
    case 4: c->frame_align = 32; break;
    case 5: c->max_subscribers = 0; break;
    case 6: c->max_subscribers = ZIPC_TOPIC_MAX_SUBSCRIBERS + 1; break;
    default: h->body_size += 64; break;
    }
}

/* The join: where the publisher tells the subscriber to start. */
static void write_join(struct tp *s, uint64_t history)
{
    uint64_t there = s->published - s->oldest_seq, n = history < there ? history : there;
    uint64_t asked = history < s->published ? history : s->published;
    uint64_t seq = s->published - n;
    uint64_t pos = n ? rec(s, seq)->start : s->tail;
    if (n && (int64_t)(s->oldest_pos - pos) > 0)
        pos = s->oldest_pos; /* the pad before it is gone */
    struct zipc_topic_cursor *c = cur(s);
    c->slot = 0;
    c->start = pos;
    c->start_seq = seq;
    c->gap = asked - n;
    c->side.position = pos;
    c->side.messages = seq;
    s->next = seq;
    s->rpos = pos;
    s->gap_pending = asked - n;
}

static bool tp_open(struct tp *s, struct fz_in *in)
{
    uint8_t b = fz_u8(in), layout = fz_u8(in), prefill = fz_u8(in), history = fz_u8(in);
    memset(s, 0, offsetof(struct tp, rec));
    s->link = -1;
    s->clean = true;
    s->policy = (b >> 2 & 3) % 3;
    s->flags = b & 0x10 ? ZIPC_SUB_RESUME_NEWEST : 0;
    s->max_lag = 1 + (prefill & 7);
    make_segments(s, ring_sizes[(b & 3) % N_RINGS], 1 + (layout & 1) % MAX_SUBS);
    for (unsigned i = 0; i < (unsigned)(prefill >> 2); i++)
        h_publish(s, (uint32_t)((i * 37 + prefill) % (s->max_message + 1)), i & 3);
    write_join(s, history % 16 == 15 ? UINT64_MAX : history % 16);
    bool bad_layout = b & 0x80;
    if (bad_layout)
        corrupt_layout(s, layout >> 1);
    FZ_CHECK(zipc__segment_seal_writes(&s->data, false) == 0);
    s->efd[0] = fz_eventfd();
    s->efd[1] = fz_eventfd();
    int sp[2];
    FZ_CHECK(s->efd[0] >= 0 && s->efd[1] >= 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    s->link = sp[1];
    int fds[ZIPC__TOPIC_NFDS] = {fcntl(s->data.fd, F_DUPFD_CLOEXEC, 0), fcntl(s->board.fd, F_DUPFD_CLOEXEC, 0),
                                 fcntl(s->cursor.fd, F_DUPFD_CLOEXEC, 0), fcntl(s->efd[0], F_DUPFD_CLOEXEC, 0),
                                 fcntl(s->efd[1], F_DUPFD_CLOEXEC, 0)};
    struct zipc__opts o;
    fz_opts(&o, b & 0x40 ? SPIN_NS : 0);
    struct zipc__peer peer = {.sock = sp[0], .pid = b & 0x20 ? 0 : getpid(), .uid = (uint32_t)geteuid()};
    struct zipc_subscription req = {.policy = s->policy, .flags = s->flags, .max_lag = s->max_lag};
    int err = zipc__subscriber_adopt(&s->sub, fds, &peer, &o, s->data.size, &req);
    FZ_CHECK(err <= 0 && (err == 0) == (s->sub != NULL));
    if (err == 0)
        FZ_CHECK(fds[0] == -1 && fds[1] == -1 && fds[2] == -1 && fds[3] == -1 && fds[4] == -1 && peer.sock == -1);
    else
        FZ_CHECK(!bad_layout || err == -EBADMSG);
    if (!bad_layout)
        FZ_CHECK(err == 0);
    fz_close_all(fds, ZIPC__TOPIC_NFDS);
    fz_close(&peer.sock);
    struct zipc_segment_info info; /* what a subscriber accepts, inspect shows as a topic */
    FZ_CHECK(zipc_inspect_fd(s->data.fd, &info) <= 0);
    if (err)
        return false;
    FZ_CHECK(zipc_inspect_fd(s->data.fd, &info) == 0 && info.detail == ZIPC_INSPECT_TOPIC);
    find_data_map(s);
    return true;
}

static void tp_close(struct tp *s)
{
    if (s->sub)
        FZ_CHECK(zipc_subscriber_close(s->sub) == 0);
    s->sub = NULL;
    fz_close_all(s->efd, 2);
    fz_close(&s->link);
    zipc__segment_close(&s->data);
    zipc__segment_close(&s->board);
    zipc__segment_close(&s->cursor);
}

static void run_op(struct tp *s, enum op op, struct fz_in *in)
{
    TRACE("op %d: next %" PRIu64 ", oldest %" PRIu64 " at %" PRIu64 ", head %" PRIu64 ", tail %" PRIu64 "; views", op,
          s->next, s->oldest_seq, s->oldest_pos, cur(s)->side.position, s->tail);
    for (unsigned i = 0; tracing() && i < s->nviews; i++) /* r: released, d: dropped by an overtake */
        TRACE(" %" PRIu64 "%s%s", s->views[i].m.seq, s->views[i].released ? "r" : "", s->views[i].dropped ? "d" : "");
    TRACE("\n");
    switch (op) {
    case OP_VIEW: op_view(s, ZIPC_TRY); break;
    case OP_DRAIN: op_drain(s, in); break;
    case OP_RELEASE: op_release(s); break;
    case OP_RELEASE_VIEW: op_release_view(s, in, false); break;
    case OP_RELEASE_VIEWS: op_release_view(s, in, true); break;
    case OP_RECV: op_recv(s, in); break;
    case OP_LATEST: op_latest(s, in); break;
    case OP_VIEW_WAIT: op_view(s, WAIT_NS); break;
    case OP_STATS: op_stats(s); break;
    case OP_PUBLISH: h_publish(s, fz_msg_size(in, s->max_message), fz_u8(in) & 3); break;
    case OP_PUBLISH_MANY: {
        unsigned n = fz_u8(in) % 32;
        uint32_t size = fz_u8(in) % (s->max_message + 1);
        for (unsigned i = 0; i < n; i++)
            h_publish(s, (size + i * 16) % (s->max_message + 1), i & 3);
        break;
    }
    case OP_RECLAIM_PAD: op_reclaim_pad(s); break;
    case OP_PUB_CLOSE: h_close(s); break;
    case OP_H_BYTES: op_h_bytes(s, in); break;
    case OP_H_FRAME: op_h_frame(s, in); break;
    case OP_H_OLDEST: op_h_oldest(s, in); break;
    case OP_H_CTL: op_h_ctl(s, in); break;
    case OP_H_CURSOR: op_h_cursor(s, in); break;
    case OP_H_BOARD: op_h_board(s, in); break;
    default: op_h_link(s, in); break;
    }
}

static void run(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    if (tp_open(&S, &in))
        for (unsigned n = 0; in.n && n < 512; n++)
            run_op(&S, (enum op)(fz_u8(&in) % N_OPS), &in);
    tp_close(&S);
}

/* ---- seeds -------------------------------------------------------------------- */

static void write_seeds(const char *dir)
{
    /* header: config, layout, prefill (>> 2: messages), history */
    struct fz_seed block = {{0x00, 0, 40, 0}, 4}, drop = {{0x05, 0, 200, 3}, 4}, lag = {{0x0a, 1, 7 << 2, 15}, 4},
                newest = {{0x14, 0, 0, 0}, 4};
    for (int i = 0; i < 40; i++) {
        fz_seed_put(&block, 5, OP_PUBLISH, i * 4, i, OP_VIEW, i % 3 ? OP_RELEASE : OP_STATS);
        fz_seed_put(&drop, 4, OP_PUBLISH_MANY, 20, i * 3, OP_VIEW);
        fz_seed_put(&drop, 3, OP_RELEASE_VIEW, 0, OP_RECLAIM_PAD);
        fz_seed_put(&lag, 7, OP_PUBLISH, i * 8, 1, OP_DRAIN, 4, OP_RELEASE_VIEWS, 0);
        fz_seed_put(&lag, 2, 2, OP_LATEST);
        fz_seed_put(&lag, 1, i & 1 ? 0x80 : 1);
        fz_seed_put(&newest, 6, OP_PUBLISH_MANY, 30, i, OP_RECV, 1, OP_VIEW);
    }
    fz_seed_put(&block, 3, OP_PUB_CLOSE, OP_VIEW, OP_VIEW_WAIT);
    fz_seed_write(dir, "block-view-release", block.b, block.n);
    fz_seed_write(dir, "drop-lapped", drop.b, drop.n);
    fz_seed_write(dir, "maxlag-history-drain", lag.b, lag.n);
    fz_seed_write(dir, "drop-resume-newest", newest.b, newest.n);
    const uint8_t bad[] = {0x80, 0x02, 8, 0, OP_VIEW}, hostile_seed[] = {0x01, 0, 60, 2, OP_H_OLDEST, 3, OP_VIEW,
                                                                         OP_H_FRAME, 0x21, 2, 1, OP_VIEW, OP_RECV, 1};
    fz_seed_write(dir, "bad-layout", bad, sizeof(bad));
    fz_seed_write(dir, "hostile-oldest-frame", hostile_seed, sizeof(hostile_seed));
}

static void setup(void) { prctl(PR_SET_TIMERSLACK, 1UL); }

FZ_HARNESS(write_seeds, setup, run)

/* fuzz_receive: a channel's data path on a valid segment, driven op by op.
 *
 * Both endpoints are real (adopted on one memfd), or one of them is played
 * by the harness through its own mapping: a well-behaved producer or
 * consumer that follows the frame protocol of zipc/abi.h, plus hostile
 * writes anywhere in the shared memory (bytes, frame headers and marks,
 * positions, states, wait flags, the control block, the peer link).
 *
 * Input: byte 0  bits 0-1 mode (both real / real consumer + harness producer
 *                / real producer + harness consumer), bits 2-3 ring size,
 *                bit 4 peer pid 0, bit 5 spin 1 us before sleeping
 *        then ops: one byte (op % N_OPS) and its arguments.
 *
 * Always checked: messages and reservations lie inside the ring; after
 * -EBADMSG view/drain/recv/release (consumer) and reserve/send/flush
 * (producer) keep returning it; an endpoint writes only its own control fields (and the
 * producer the ring); counters of fds stay flat.
 * While no hostile write happened ("clean"), the stream is checked end to
 * end against a model: the consumer sees exactly what was committed, in
 * order, never a staged message, misses nothing published, never reports
 * -EBADMSG; the producer never lacks space once everything was released,
 * and a harness consumer finds well-formed frames only.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define N_RINGS 4
static const uint32_t ring_sizes[N_RINGS] = {256, 128, 1024, FZ_MAX_RING};
#define REC 256 /* >= messages in flight: FZ_MAX_RING / ZIPC_FRAME_ALIGN */
#define WAIT_NS 2000 /* the blocking variants: a short sleep in the kernel */
#define SPIN_NS 1000
#define MAX_BURSTS 2 /* per input: a burst costs milliseconds */

enum mode { BOTH, HARNESS_PRODUCER, HARNESS_CONSUMER };

enum op {
    OP_VIEW, OP_DRAIN, OP_RELEASE, OP_RECV, OP_VIEW_WAIT, OP_CONSUMER_FD,
    OP_RESERVE, OP_COMMIT, OP_ABORT, OP_FLUSH, OP_SEND, OP_RESERVE_WAIT,
    OP_STATS, OP_CLOSE, OP_MISUSE, OP_BURST,
    OP_H_PRODUCE, OP_H_CONSUME,
    OP_H_BYTES, OP_H_FRAME, OP_H_POSITION, OP_H_STATE, OP_H_WAIT_FLAG, OP_H_CTL, OP_H_LINK,
    OP_H_KICK,
    N_OPS
};

struct rec {
    uint32_t size, type;
};

struct rx {
    enum mode mode;
    uint8_t *seg; /* the harness's own mapping of the segment */
    uint64_t seg_size, ring_size, mask;
    uint32_t max_message;
    zipc_channel *cons, *prod;
    struct fz_ring cring, pring; /* each endpoint's own mapping */
    bool cons_broken, prod_broken;
    bool cons_closed, prod_closed;
    int efd[2]; /* the harness's copies of the wake eventfds */
    int link;   /* the socket end of the endpoint the harness plays */
    bool clean;
    unsigned bursts;
    /* the stream model */
    uint64_t committed, published, delivered;
    unsigned views;
    bool reserving;
    uint32_t res_size;
    uint64_t h_tail, h_head; /* the harness producer's / consumer's position */
    struct rec rec[REC];     /* last: rx_open resets everything before it */
};

static uint8_t *maps[N_RINGS];
static int memfds[N_RINGS];
static uint8_t shadow[FZ_MAX_SEGMENT];
static uint8_t scratch[FZ_MAX_RING];

/* ---- helpers --------------------------------------------------------- */

static uint8_t pattern(uint64_t seq, size_t i) { return (uint8_t)(seq * 151 + i * 13 + 7); }

static void fill(uint8_t *p, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(seq, i);
}

static uint64_t frame_len(uint64_t size)
{
    return zipc__align_up(ZIPC_FRAME_HEADER + size, ZIPC_FRAME_ALIGN);
}

static struct zipc_channel_ctl *ctl(struct rx *s) { return fz_ctl(s->seg); }

static struct zipc_frame *frame(struct rx *s, uint64_t pos)
{
    return (void *)(s->seg + ZIPC_CHANNEL_RING_OFFSET + (pos & s->mask));
}

static uint64_t load64(const uint64_t *p) { return zipc__load(p, ZIPC__SEQ_CST); }

/* The model's view of one delivered message. */
static void check_delivered(struct rx *s, const void *data, uint32_t size, uint32_t type)
{
    if (!s->clean)
        return;
    FZ_CHECK(s->delivered < s->published); /* never a staged or uncommitted message */
    const struct rec *r = &s->rec[s->delivered % REC];
    FZ_CHECK(size == r->size && type == r->type);
    const uint8_t *p = data;
    for (uint32_t i = 0; i < size; i++)
        FZ_CHECK(p[i] == pattern(s->delivered, i));
}

static void committed(struct rx *s, uint32_t size, uint32_t type, bool publish)
{
    s->rec[s->committed % REC] = (struct rec){size, type};
    s->committed++;
    if (publish)
        s->published = s->committed;
}

/* An endpoint may write its own side, both wait flags, and (producer) the
 * ring: nothing else of the segment. */
static void check_writes(struct rx *s, bool producer)
{
    size_t side = ZIPC_CHANNEL_BODY_OFFSET + (producer ? offsetof(struct zipc_channel_ctl, producer)
                                                       : offsetof(struct zipc_channel_ctl, consumer));
    size_t cw = ZIPC_CHANNEL_BODY_OFFSET + offsetof(struct zipc_channel_ctl, consumer_wait);
    size_t pw = ZIPC_CHANNEL_BODY_OFFSET + offsetof(struct zipc_channel_ctl, producer_wait);
    memcpy(shadow + side, s->seg + side, offsetof(struct zipc_channel_side, pad_));
    memcpy(shadow + cw, s->seg + cw, sizeof(uint32_t));
    memcpy(shadow + pw, s->seg + pw, sizeof(uint32_t));
    if (producer)
        memcpy(shadow + ZIPC_CHANNEL_RING_OFFSET, s->seg + ZIPC_CHANNEL_RING_OFFSET, s->ring_size);
    FZ_CHECK(memcmp(shadow, s->seg, s->seg_size) == 0);
}

static void hostile_done(struct rx *s)
{
    s->clean = false;
    memcpy(shadow, s->seg, s->seg_size);
}

/* After a producer call on a clean stream: what it published, by its own
 * count in the segment. */
static void sync_published(struct rx *s)
{
    check_writes(s, true);
    if (!s->clean)
        return;
    uint64_t n = zipc__load(&ctl(s)->producer.messages, ZIPC__RELAXED);
    FZ_CHECK(n <= s->committed && n >= s->published);
    s->published = n;
}

/* ---- consumer --------------------------------------------------------- */

static void on_view(struct rx *s, const struct zipc_msg *m)
{
    fz_check_span(&s->cring, m->data, m->size);
    check_delivered(s, m->data, m->size, m->type);
    s->delivered++;
    s->views++;
}

/* Judge a consumer call's error on the model. */
static void on_consumer_err(struct rx *s, int r)
{
    if (r == -EBADMSG)
        FZ_CHECK(!s->clean);
    if (r == -EAGAIN && s->clean)
        FZ_CHECK(s->delivered >= s->published); /* nothing published may go missing */
    if (r == -EPIPE && s->clean)
        FZ_CHECK(s->prod_closed && s->delivered == s->committed);
}

static void op_view(struct rx *s, int64_t timeout)
{
    struct zipc_msg m;
    int r = fz_sticky(&s->cons_broken, zipc_channel_view(s->cons, &m, timeout));
    check_writes(s, false);
    if (r == 0)
        on_view(s, &m);
    else
        on_consumer_err(s, r);
}

static void op_drain(struct rx *s, struct fz_in *in)
{
    struct zipc_msg m[8];
    unsigned max = 1 + fz_u8(in) % 8;
    int r = fz_sticky(&s->cons_broken, zipc_channel_drain(s->cons, m, max, ZIPC_TRY));
    check_writes(s, false);
    FZ_CHECK(r <= (int)max);
    for (int k = 0; k < r; k++)
        on_view(s, &m[k]);
    if (r < 0)
        on_consumer_err(s, r);
}

static void op_release(struct rx *s)
{
    int r = fz_sticky(&s->cons_broken, zipc_channel_release(s->cons));
    check_writes(s, false);
    FZ_CHECK(r == 0 || r == -EBADMSG);
    if (r == 0)
        s->views = 0;
}

static void op_recv(struct rx *s, struct fz_in *in)
{
    size_t cap = fz_msg_size(in, s->max_message), size = SIZE_MAX;
    uint32_t type = 0;
    int r = zipc_channel_recv(s->cons, scratch, cap, &size, &type, ZIPC_TRY);
    r = fz_sticky(&s->cons_broken, r);
    check_writes(s, false);
    if (r == 0) {
        FZ_CHECK(size <= cap && size <= s->max_message);
        check_delivered(s, scratch, (uint32_t)size, type);
        s->delivered++;
    } else if (r == -EMSGSIZE) {
        FZ_CHECK(size > cap && size <= s->max_message);
        if (s->clean)
            FZ_CHECK(size == s->rec[s->delivered % REC].size);
    } else if (r == -EALREADY) {
        FZ_CHECK(s->views > 0);
    } else {
        on_consumer_err(s, r);
    }
}

/* ---- producer --------------------------------------------------------- */

/* A clean stream whose every message was consumed and released has room
 * for any message up to max_message. */
static void check_space(struct rx *s, uint32_t size, int r)
{
    if (!s->clean)
        return;
    FZ_CHECK(r != -EBADMSG);
    if (r == -EPIPE)
        FZ_CHECK(s->cons_closed);
    if (size <= s->max_message && !s->reserving && s->delivered == s->committed && s->views == 0)
        FZ_CHECK(r == 0 || (r == -EPIPE && s->cons_closed));
}

static void op_reserve(struct rx *s, struct fz_in *in, int64_t timeout)
{
    uint32_t size = fz_msg_size(in, s->max_message);
    void *buf = NULL;
    int r = fz_sticky(&s->prod_broken, zipc_channel_reserve(s->prod, size, &buf, timeout));
    sync_published(s);
    check_space(s, size, r);
    if (s->reserving && r != -EBADMSG && r != -EPIPE)
        FZ_CHECK(r == -EALREADY);
    if (r != 0)
        return;
    FZ_CHECK(size <= s->max_message);
    fz_check_span(&s->pring, buf, size);
    fill(buf, size, s->committed);
    memcpy(shadow, s->seg, s->seg_size); /* our payload write */
    s->reserving = true;
    s->res_size = size;
}

static void op_commit(struct rx *s, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    uint32_t size = (b & 0x80) ? fz_u16(in) : fz_u8(in) % (s->res_size + 1);
    unsigned flags = (b & 1 ? ZIPC_COMMIT_MORE : 0) | (b & 2 ? 4 : 0);
    uint32_t type = fz_u8(in);
    int r = fz_sticky(&s->prod_broken, zipc_channel_commit(s->prod, size, type, flags));
    bool valid = s->reserving && size <= s->res_size && !(flags & ~ZIPC_COMMIT_MORE);
    FZ_CHECK(valid ? r == 0 : fz_refused(r));
    if (valid) {
        s->reserving = false;
        committed(s, size, type, !(flags & ZIPC_COMMIT_MORE));
    }
    sync_published(s);
    if (s->clean && valid && !(flags & ZIPC_COMMIT_MORE))
        FZ_CHECK(s->published == s->committed);
}

static void op_abort(struct rx *s)
{
    int r = fz_sticky(&s->prod_broken, zipc_channel_abort(s->prod));
    FZ_CHECK(s->reserving ? r == 0 : fz_refused(r));
    s->reserving = false;
    sync_published(s);
}

static void op_flush(struct rx *s)
{
    int r = fz_sticky(&s->prod_broken, zipc_channel_flush(s->prod));
    FZ_CHECK(r == 0 || r == -EBADMSG || r == -EPIPE);
    sync_published(s);
    if (s->clean)
        FZ_CHECK(s->published == s->committed);
}

static void op_send(struct rx *s, struct fz_in *in)
{
    uint32_t size = fz_msg_size(in, s->max_message), type = fz_u8(in);
    fill(scratch, size < sizeof(scratch) ? size : sizeof(scratch), s->committed);
    int r = fz_sticky(&s->prod_broken, zipc_channel_send(s->prod, scratch, size, type, ZIPC_TRY));
    if (r == 0)
        committed(s, size, type, true);
    sync_published(s);
    check_space(s, size, r);
    if (s->reserving && r != -EBADMSG && r != -EPIPE)
        FZ_CHECK(r == -EALREADY);
    if (r == 0 && s->clean)
        FZ_CHECK(s->published == s->committed);
}

/* ---- either endpoint -------------------------------------------------- */

static void op_stats(struct rx *s)
{
    struct zipc_channel_stats st;
    if (s->cons)
        FZ_CHECK(zipc_channel_get_stats(s->cons, &st) == 0);
    if (s->prod)
        FZ_CHECK(zipc_channel_get_stats(s->prod, &st) == 0);
}

static void close_producer(struct rx *s)
{
    FZ_CHECK(zipc_channel_close(s->prod) == 0);
    s->prod = NULL;
    s->prod_closed = true;
    s->reserving = false;
    sync_published(s);
    if (s->clean)
        FZ_CHECK(s->published == s->committed);
}

static void close_consumer(struct rx *s)
{
    FZ_CHECK(zipc_channel_close(s->cons) == 0);
    check_writes(s, false);
    s->cons = NULL;
    s->cons_closed = true;
}

static void op_close(struct rx *s, struct fz_in *in)
{
    bool consumer = fz_u8(in) & 1;
    if (s->prod && (!consumer || !s->cons))
        close_producer(s);
    else if (s->cons)
        close_consumer(s);
}

/* Calls the endpoint's role does not support and bad arguments: errors,
 * and no write to the segment. */
static void op_misuse(struct rx *s, struct fz_in *in)
{
    zipc_channel *ch = (fz_u8(in) & 1) ? s->cons : s->prod;
    if (!ch)
        return;
    struct zipc_msg m;
    struct zipc_channel_stats st;
    void *buf;
    bool producer = ch == s->prod;
    if (producer) {
        FZ_CHECK(zipc_channel_view(ch, &m, ZIPC_TRY) < 0);
        FZ_CHECK(zipc_channel_drain(ch, &m, 1, ZIPC_TRY) < 0);
        FZ_CHECK(zipc_channel_recv(ch, scratch, 1, NULL, NULL, ZIPC_TRY) < 0);
        FZ_CHECK(zipc_channel_release(ch) < 0);
    } else {
        FZ_CHECK(zipc_channel_reserve(ch, 1, &buf, ZIPC_TRY) < 0);
        FZ_CHECK(zipc_channel_send(ch, scratch, 1, 0, ZIPC_TRY) < 0);
        FZ_CHECK(zipc_channel_commit(ch, 0, 0, 0) < 0);
        FZ_CHECK(zipc_channel_abort(ch) < 0);
        FZ_CHECK(zipc_channel_flush(ch) < 0);
    }
    FZ_CHECK(zipc_channel_drain(ch, NULL, 1, ZIPC_TRY) == -EINVAL);
    FZ_CHECK(zipc_channel_drain(ch, &m, 0, ZIPC_TRY) == -EINVAL);
    FZ_CHECK(zipc_channel_recv(ch, NULL, 1, NULL, NULL, ZIPC_TRY) == -EINVAL);
    FZ_CHECK(zipc_channel_send(ch, NULL, 1, 0, ZIPC_TRY) == -EINVAL);
    FZ_CHECK(zipc_channel_reserve(ch, 1, NULL, ZIPC_TRY) == -EINVAL);
    FZ_CHECK(zipc_channel_view(ch, NULL, ZIPC_TRY) < 0);
    FZ_CHECK(zipc_channel_get_stats(ch, NULL) == -EINVAL && zipc_channel_get_stats(NULL, &st) == -EINVAL);
    FZ_CHECK(zipc_channel_view(NULL, &m, ZIPC_TRY) == -EINVAL);
    FZ_CHECK(zipc_channel_reserve(NULL, 1, &buf, ZIPC_TRY) == -EINVAL);
    check_writes(s, producer);
}

/* ---- the harness as a well-behaved peer ------------------------------ */

/* Write one message the way zipc/abi.h says: terminator, header, payload,
 * then the mark (a pad's mark last). False when it does not fit. */
static bool h_produce(struct rx *s, uint32_t size, uint32_t type)
{
    uint64_t len = frame_len(size), off = s->h_tail & s->mask;
    uint64_t pad = s->ring_size - off < len ? s->ring_size - off : 0;
    uint64_t head = load64(&ctl(s)->consumer.position);
    if (size > s->max_message || s->h_tail + pad + len + ZIPC_FRAME_ALIGN - head > s->ring_size)
        return false;
    uint64_t pos = s->h_tail + pad, seq = s->committed;
    zipc__store(&frame(s, pos + len)->mark, 0, ZIPC__RELAXED);
    struct zipc_frame *f = frame(s, pos);
    f->size = size;
    f->type = type;
    fill((uint8_t *)f + ZIPC_FRAME_HEADER, size, seq);
    uint64_t msg = ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG);
    if (pad) {
        zipc__store(&f->mark, msg, ZIPC__RELAXED);
        frame(s, s->h_tail)->size = 0;
        zipc__store(&frame(s, s->h_tail)->mark, ZIPC_FRAME_MARK(seq, ZIPC_FRAME_PAD), ZIPC__SEQ_CST);
    } else {
        zipc__store(&f->mark, msg, ZIPC__SEQ_CST);
    }
    s->h_tail = pos + len;
    zipc__store(&ctl(s)->producer.position, s->h_tail, ZIPC__RELAXED);
    zipc__store(&ctl(s)->producer.messages, s->committed + 1, ZIPC__RELAXED);
    committed(s, size, type, true);
    return true;
}

static void op_h_produce(struct rx *s, struct fz_in *in)
{
    uint32_t size = fz_msg_size(in, s->max_message), type = fz_u8(in);
    if (s->mode != HARNESS_PRODUCER || s->prod_closed)
        return;
    if (h_produce(s, size, type) && zipc__xchg(&ctl(s)->consumer_wait.sleeping, 0, ZIPC__SEQ_CST)) {
        uint64_t one = 1;
        FZ_CHECK(write(s->efd[0], &one, sizeof(one)) == sizeof(one));
    }
    memcpy(shadow, s->seg, s->seg_size);
}

/* A mark at the harness consumer's position, as docs/ABI.md (8.4) reads it:
 * 1 the expected frame, 0 not yet (zero, or a header at most one lap old),
 * -1 anything else. */
static int h_mark_state(struct rx *s, uint64_t mark)
{
    uint32_t expect = (uint32_t)s->delivered, kind = (uint32_t)mark;
    uint32_t age = expect - (uint32_t)(mark >> 32);
    if (mark == ZIPC_FRAME_MARK(expect, ZIPC_FRAME_MSG) || mark == ZIPC_FRAME_MARK(expect, ZIPC_FRAME_PAD))
        return 1;
    if (mark == 0 || ((kind == ZIPC_FRAME_MSG || kind == ZIPC_FRAME_PAD) && age >= 1 &&
                      age <= s->ring_size / ZIPC_FRAME_ALIGN))
        return 0;
    return -1;
}

/* Take the frame at h_head. 1: taken, 0: nothing published, -1: malformed. */
static int h_take(struct rx *s)
{
    uint64_t off = s->h_head & s->mask;
    uint64_t mark = load64(&frame(s, s->h_head)->mark);
    int state = h_mark_state(s, mark);
    if (state <= 0)
        return state;
    if (mark == ZIPC_FRAME_MARK(s->delivered, ZIPC_FRAME_PAD) && off != 0) {
        s->h_head += s->ring_size - off;
        off = 0;
        mark = load64(&frame(s, 0)->mark);
    }
    const struct zipc_frame *f = frame(s, s->h_head);
    uint32_t size = f->size, type = f->type;
    if (mark != ZIPC_FRAME_MARK(s->delivered, ZIPC_FRAME_MSG) || size > s->max_message ||
        off + frame_len(size) > s->ring_size)
        return -1;
    check_delivered(s, (const uint8_t *)f + ZIPC_FRAME_HEADER, size, type);
    s->h_head += frame_len(size);
    s->delivered++;
    return 1;
}

static void op_h_consume(struct rx *s)
{
    if (s->mode != HARNESS_CONSUMER || s->cons_closed)
        return;
    int r = 1;
    for (uint64_t k = 0; k <= s->ring_size / ZIPC_FRAME_ALIGN && r == 1; k++)
        r = h_take(s);
    if (s->clean) /* the producer's frames must be well-formed, and all there */
        FZ_CHECK(r == 0 && s->delivered == s->published);
    zipc__store(&ctl(s)->consumer.messages, s->delivered, ZIPC__RELAXED);
    zipc__store(&ctl(s)->consumer.position, s->h_head, ZIPC__SEQ_CST);
    if (zipc__xchg(&ctl(s)->producer_wait.sleeping, 0, ZIPC__SEQ_CST)) {
        uint64_t one = 1;
        FZ_CHECK(write(s->efd[1], &one, sizeof(one)) == sizeof(one));
    }
    memcpy(shadow, s->seg, s->seg_size);
}

/* Many small messages through, past the producer's liveness check that
 * runs every 1024 commits. */
static void op_burst(struct rx *s, struct fz_in *in)
{
    unsigned n = 64u * (1 + fz_u8(in) % 17);
    uint8_t size = fz_u8(in) & 0xfc; /* fz_msg_size: size >> 2 bytes */
    if (s->bursts++ >= MAX_BURSTS)
        return;
    for (unsigned i = 0; i < n; i++) {
        uint8_t a[2] = {size, (uint8_t)i};
        struct fz_in args = {a, 2};
        if (s->prod)
            op_send(s, &args);
        else
            op_h_produce(s, &args);
        args = (struct fz_in){a, 1};
        if (s->cons)
            op_recv(s, &args);
        else
            op_h_consume(s);
    }
}

/* ---- hostile writes --------------------------------------------------- */

static void op_h_bytes(struct rx *s, struct fz_in *in)
{
    uint64_t pos = fz_u16(in);
    unsigned len = fz_u8(in) % 17;
    for (unsigned i = 0; i < len; i++)
        s->seg[ZIPC_CHANNEL_RING_OFFSET + ((pos + i) & s->mask)] = fz_u8(in);
    hostile_done(s);
}

/* A mark near the consumer's expected seq: ahead, behind, about a lap old. */
static uint64_t h_mark(struct rx *s, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    uint64_t seq = s->delivered + (b >> 3) - 16, lap = s->ring_size / ZIPC_FRAME_ALIGN;
    switch (b & 7) {
    case 0: return ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG);
    case 1: return ZIPC_FRAME_MARK(seq, ZIPC_FRAME_PAD);
    case 2: return ZIPC_FRAME_MARK(fz_u32(in), ZIPC_FRAME_MSG);
    case 3: return ZIPC_FRAME_MARK(seq, fz_u8(in));
    case 4: return 0;
    case 5: return ZIPC_FRAME_MARK(s->delivered - lap - ((b >> 3) & 1), ZIPC_FRAME_MSG + (b >> 4 & 1));
    default: return fz_u64(in);
    }
}

/* A frame header at a frame slot after the consumer's head (or anywhere). */
static void op_h_frame(struct rx *s, struct fz_in *in)
{
    uint8_t where = fz_u8(in);
    uint64_t base = s->mode == HARNESS_PRODUCER ? s->h_tail : load64(&ctl(s)->consumer.position);
    uint64_t pos = base + (uint64_t)(where & 0x3f) * ZIPC_FRAME_ALIGN;
    if (where & 0x80)
        pos = fz_u16(in); /* unaligned on purpose */
    pos &= s->mask & ~(uint64_t)(sizeof(uint64_t) - 1);
    if (pos + ZIPC_FRAME_HEADER > s->ring_size)
        pos = 0;
    struct zipc_frame *f = frame(s, pos);
    f->size = (where & 0x40) ? fz_u32(in) : fz_msg_size(in, s->max_message);
    f->type = fz_u8(in);
    zipc__store(&f->mark, h_mark(s, in), ZIPC__SEQ_CST);
    hostile_done(s);
}

static void op_h_position(struct rx *s, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    uint64_t *p = (b & 1) ? &ctl(s)->consumer.position : &ctl(s)->producer.position;
    uint64_t v = load64(p), k = (uint64_t)(b >> 3) * ZIPC_FRAME_ALIGN;
    switch ((b >> 1) & 3) {
    case 0: v = fz_u64(in); break;
    case 1: v += k; break;
    case 2: v -= k; break;
    default: v += b >> 3; break; /* misaligned */
    }
    zipc__store(p, v, ZIPC__SEQ_CST);
    hostile_done(s);
}

static void op_h_state(struct rx *s, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    struct zipc_channel_side *side = (b & 1) ? &ctl(s)->consumer : &ctl(s)->producer;
    zipc__store(&side->state, (b & 6) == 6 ? fz_u32(in) : (uint32_t)(b >> 1) & 3, ZIPC__SEQ_CST);
    hostile_done(s);
}

static void op_h_wait_flag(struct rx *s, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    uint32_t *p = (b & 1) ? &ctl(s)->consumer_wait.sleeping : &ctl(s)->producer_wait.sleeping;
    zipc__store(p, (b & 2) ? fz_u32(in) : (uint32_t)(b >> 2) & 1, ZIPC__SEQ_CST);
    hostile_done(s);
}

static void op_h_ctl(struct rx *s, struct fz_in *in)
{
    size_t off = fz_u16(in) % (ZIPC_CHANNEL_RING_OFFSET - 8);
    fz_take(in, s->seg + off, 8);
    hostile_done(s);
}

/* The peer link of the endpoint the harness plays: closing it is that
 * peer dying, which is no corruption. */
static void op_h_link(struct rx *s, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    if (s->link < 0)
        return;
    if (b & 1) {
        static const char junk[7] = "garbage";
        if (send(s->link, junk, 1 + b % sizeof(junk), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            /* the endpoint may have closed its end already */
        }
        return;
    }
    fz_close(&s->link);
    if (s->mode == HARNESS_PRODUCER)
        s->prod_closed = true;
    else
        s->cons_closed = true;
}

static void op_h_kick(struct rx *s, struct fz_in *in)
{
    uint64_t one = 1;
    FZ_CHECK(write(s->efd[fz_u8(in) & 1], &one, sizeof(one)) == sizeof(one));
}

/* ---- driver ----------------------------------------------------------- */

static void run_consumer_op(struct rx *s, enum op op, struct fz_in *in)
{
    switch (op) {
    case OP_VIEW: op_view(s, ZIPC_TRY); break;
    case OP_DRAIN: op_drain(s, in); break;
    case OP_RELEASE: op_release(s); break;
    case OP_RECV: op_recv(s, in); break;
    case OP_VIEW_WAIT: op_view(s, WAIT_NS); break;
    default: FZ_CHECK(zipc_channel_fd(s->cons) >= 0); break;
    }
}

static void run_producer_op(struct rx *s, enum op op, struct fz_in *in)
{
    switch (op) {
    case OP_RESERVE: op_reserve(s, in, ZIPC_TRY); break;
    case OP_COMMIT: op_commit(s, in); break;
    case OP_ABORT: op_abort(s); break;
    case OP_FLUSH: op_flush(s); break;
    case OP_SEND: op_send(s, in); break;
    default: op_reserve(s, in, WAIT_NS); break;
    }
}

static void run_op(struct rx *s, enum op op, struct fz_in *in)
{
    if (op <= OP_CONSUMER_FD) {
        if (s->cons)
            run_consumer_op(s, op, in);
    } else if (op <= OP_RESERVE_WAIT) {
        if (s->prod)
            run_producer_op(s, op, in);
    } else {
        switch (op) {
        case OP_STATS: op_stats(s); break;
        case OP_CLOSE: op_close(s, in); break;
        case OP_MISUSE: op_misuse(s, in); break;
        case OP_BURST: op_burst(s, in); break;
        case OP_H_PRODUCE: op_h_produce(s, in); break;
        case OP_H_CONSUME: op_h_consume(s); break;
        case OP_H_BYTES: op_h_bytes(s, in); break;
        case OP_H_FRAME: op_h_frame(s, in); break;
        case OP_H_POSITION: op_h_position(s, in); break;
        case OP_H_STATE: op_h_state(s, in); break;
        case OP_H_WAIT_FLAG: op_h_wait_flag(s, in); break;
        case OP_H_CTL: op_h_ctl(s, in); break;
        case OP_H_LINK: op_h_link(s, in); break;
        default: op_h_kick(s, in); break;
        }
    }
}

static zipc_channel *adopt(struct rx *s, int memfd, int role, int sock, int pid,
                           int64_t spin_ns, struct fz_ring *ring)
{
    int fds[3] = {fcntl(memfd, F_DUPFD_CLOEXEC, 0), fcntl(s->efd[0], F_DUPFD_CLOEXEC, 0),
                  fcntl(s->efd[1], F_DUPFD_CLOEXEC, 0)};
    zipc_channel *ch;
    FZ_CHECK(fz_adopt(&ch, fds, role, sock, pid, s->seg_size, false, spin_ns) == 0);
    *ring = fz_ring_of_last_map(s->ring_size);
    return ch;
}

static void rx_open(struct rx *s, struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    unsigned k = (b >> 2) & 3;
    memset(s, 0, offsetof(struct rx, rec));
    s->mode = (enum mode)((b & 3) % 3);
    s->clean = true;
    s->ring_size = ring_sizes[k];
    s->mask = s->ring_size - 1;
    s->max_message = (uint32_t)(s->ring_size / 2 - ZIPC_FRAME_HEADER);
    s->seg_size = ZIPC_CHANNEL_RING_OFFSET + s->ring_size;
    s->seg = maps[k];
    memset(s->seg, 0, s->seg_size);
    fz_image_build(s->seg, s->seg_size, s->ring_size);
    s->efd[0] = fz_eventfd();
    s->efd[1] = fz_eventfd();
    int sp[2];
    FZ_CHECK(s->efd[0] >= 0 && s->efd[1] >= 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    int pid = (b & 0x10) ? 0 : getpid();
    int64_t spin = (b & 0x20) ? SPIN_NS : 0;
    s->link = s->mode == HARNESS_PRODUCER ? sp[1] : s->mode == HARNESS_CONSUMER ? sp[0] : -1;
    if (s->mode != HARNESS_PRODUCER)
        s->prod = adopt(s, memfds[k], ZIPC_ROLE_PRODUCER, sp[1], pid, spin, &s->pring);
    if (s->mode != HARNESS_CONSUMER)
        s->cons = adopt(s, memfds[k], ZIPC_ROLE_CONSUMER, sp[0], pid, spin, &s->cring);
    memcpy(shadow, s->seg, s->seg_size);
}

static void rx_close(struct rx *s)
{
    if (s->prod)
        close_producer(s);
    if (s->cons)
        close_consumer(s);
    fz_close_all(s->efd, 2);
    fz_close(&s->link);
}

static void run(const uint8_t *data, size_t size)
{
    static struct rx s;
    struct fz_in in = {data, size};
    rx_open(&s, &in);
    for (unsigned n = 0; in.n && n < 512; n++)
        run_op(&s, (enum op)(fz_u8(&in) % N_OPS), &in);
    rx_close(&s);
}

/* ---- seeds ------------------------------------------------------------ */

static void write_seeds(const char *dir)
{
    struct fz_seed both = {{0}, 1}, pingpong = {{0}, 1}, hp = {{HARNESS_PRODUCER | 1 << 2}, 1},
                hc = {{HARNESS_CONSUMER | 2 << 2}, 1}, bad = {{HARNESS_PRODUCER}, 1};
    for (int i = 0; i < 40; i++) {
        fz_seed_put(&both, 3, OP_SEND, i * 4, i); /* sizes (i * 4) >> 2 */
        fz_seed_put(&both, i % 3 ? 1 : 2, i % 3 ? OP_VIEW : OP_RECV, 1);
        fz_seed_put(&pingpong, 7, OP_RESERVE, 1, OP_COMMIT, 0x00, 5, 9, OP_DRAIN);
        fz_seed_put(&pingpong, 2, 3, OP_RELEASE);
        fz_seed_put(&hp, 5, OP_H_PRODUCE, i * 8, 7, OP_VIEW, OP_RELEASE);
        fz_seed_put(&hc, 4, OP_SEND, i * 12, 9, OP_H_CONSUME);
    }
    fz_seed_put(&both, 3, OP_CLOSE, 0, OP_VIEW);
    const uint8_t burst[] = {0x20 /* both, spin */, OP_BURST, 16, 4, OP_MISUSE, 0, OP_MISUSE, 1,
                             OP_BURST, 16, 8},
                  hc_burst[] = {HARNESS_CONSUMER, OP_BURST, 16, 4};
    fz_seed_write(dir, "burst-misuse", burst, sizeof(burst));
    fz_seed_write(dir, "harness-consumer-burst", hc_burst, sizeof(hc_burst));
    /* a message, then a frame marked with a seq one ahead of the next */
    fz_seed_put(&bad, 10, OP_H_PRODUCE, 4, 1, OP_H_FRAME, 0x01, 4, 1, 0x90, OP_VIEW, OP_VIEW);
    fz_seed_write(dir, "both-send-view", both.b, both.n);
    fz_seed_write(dir, "both-reserve-drain", pingpong.b, pingpong.n);
    fz_seed_write(dir, "harness-producer", hp.b, hp.n);
    fz_seed_write(dir, "harness-consumer", hc.b, hc.n);
    fz_seed_write(dir, "bad-mark", bad.b, bad.n);
}

static void setup(void)
{
    prctl(PR_SET_TIMERSLACK, 1UL); /* the short waits stay short */
    for (unsigned k = 0; k < N_RINGS; k++) {
        size_t size = ZIPC_CHANNEL_RING_OFFSET + ring_sizes[k];
        memfds[k] = fz_memfd(shadow, 0, size, FZ_SEALS, true);
        FZ_CHECK(memfds[k] >= 0);
        maps[k] = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfds[k], 0);
        FZ_CHECK(maps[k] != MAP_FAILED);
    }
}

FZ_HARNESS(write_seeds, setup, run)

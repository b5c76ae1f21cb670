/* Channel: one producer, one consumer, variable-size frames in a ring.
 *
 * Positions are free-running byte counts. The producer publishes a frame by
 * writing its header's mark last; the consumer polls the mark at its read
 * position, so a message costs it one cache line, the one holding the
 * frame. The consumer publishes `head` (end of released frames); the
 * producer caches it and reads the shared one only when its cache says full.
 * Nothing read from the segment is trusted: every position and frame header
 * is validated before use, and a violation marks the channel broken with
 * -EBADMSG. See docs/DESIGN.md for why each memory order suffices. */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

struct zipc_channel {
    /* ---- hot: read on every call --------------------------------------- */
    uint8_t *ring;
    uint64_t ring_size;
    uint64_t mask;
    uint32_t max_message;
    int role;
    int broken;               /* 0, or the sticky error (-EBADMSG, -EPIPE) */
    struct zipc_channel_side *mine;
    const struct zipc_channel_side *peer;

    /* ---- producer ------------------------------------------------------ */
    uint64_t tail;            /* end of committed frames (published or staged) */
    uint64_t published;       /* end of what the consumer can reach */
    uint64_t cached_head;     /* last head read from the segment */
    uint64_t res_start;       /* reservation: where its pad (if any) starts */
    uint64_t res_pos;         /* reservation: where its frame starts */
    uint64_t res_end;         /* reservation: where its terminator was written */
    uint32_t res_size;
    bool reserving;
    uint32_t seq;             /* next message's sequence number */
    uint64_t staged;          /* messages committed since the last publish */
    uint64_t pending_at;      /* with staged: the header whose mark publishes them */
    uint64_t pending_mark;
    uint64_t need;            /* bytes the waiting reservation needs */
    uint64_t *fresh;          /* one bit per ZIPC_FRAME_ALIGN slot, see slot_fresh() */
    unsigned commits_to_check; /* commits left before a liveness check */

    /* ---- consumer ------------------------------------------------------ */
    uint64_t head;            /* released */
    uint64_t rpos;            /* viewed up to */
    uint32_t expect_seq;
    uint32_t views;
    uint64_t taken;           /* messages viewed since the start (the next view's seq) */
    uint32_t lap_frames;      /* most frames one lap can hold: ring_size / ZIPC_FRAME_ALIGN */
    /* Views released out of order (release_view) while an older one is still
     * open, at seq & (ledger_cap - 1). view and drain do not grow it, so once
     * views outgrow it two seqs share a slot: an entry counts for its own seq only. */
    struct ledger_entry {
        uint64_t seq;
        uint64_t end;         /* the view's end_; 0: empty */
    } *ledger;
    uint32_t ledger_cap;      /* a power of two > views, or 0 */
    uint32_t ledger_used;     /* entries set */

    /* ---- cold ---------------------------------------------------------- */
    struct zipc__waiter wait;
    struct zipc__segment seg;
    int peer_pid;
};

#define ZIPC__LIVENESS_COMMITS 1024

static uint64_t frame_bytes(uint64_t size) { return zipc__align_up(ZIPC_FRAME_HEADER + size, ZIPC_FRAME_ALIGN); }

static struct zipc_frame *frame_at(const zipc_channel *ch, uint64_t pos)
{
    return (struct zipc_frame *)(ch->ring + (pos & ch->mask));
}

/* ---- terminators ---------------------------------------------------------
 * Before a frame is published, the slot where it ends (where the consumer
 * looks next) must not hold anything that could pass for the next frame.
 * The consumer reads a zero mark, or a header mark at most one lap old, as
 * "not yet". A slot is fresh when its mark is one of those: zero (never
 * written, or a terminator) or the header we wrote there in our latest pass
 * over it. Payload (and pad interiors) make a slot stale. Only a frame
 * ending on a stale slot costs a terminator store; in steady state, with
 * frames of a repeating size, none is written. */
#define ZIPC__SLOT_SHIFT 6
_Static_assert(1u << ZIPC__SLOT_SHIFT == ZIPC_FRAME_ALIGN, "slot = frame alignment");

static bool slot_fresh(const zipc_channel *ch, uint64_t pos)
{
    uint64_t slot = (pos & ch->mask) >> ZIPC__SLOT_SHIFT;
    return ch->fresh[slot >> 6] >> (slot & 63) & 1;
}

static void slot_mark_fresh(zipc_channel *ch, uint64_t pos)
{
    uint64_t slot = (pos & ch->mask) >> ZIPC__SLOT_SHIFT;
    ch->fresh[slot >> 6] |= UINT64_C(1) << (slot & 63);
}

/* Mark slots [from, to) stale; ring offsets, from <= to <= ring_size. */
static void slots_stale(zipc_channel *ch, uint64_t from, uint64_t to)
{
    for (uint64_t s = from >> ZIPC__SLOT_SHIFT, end = to >> ZIPC__SLOT_SHIFT; s < end;) {
        if ((s & 63) == 0 && end - s >= 64) {
            ch->fresh[s >> 6] = 0;
            s += 64;
        } else {
            ch->fresh[s >> 6] &= ~(UINT64_C(1) << (s & 63));
            s++;
        }
    }
}

/* The reservation's payload slots may hold caller bytes from now on. */
static void reservation_stale(zipc_channel *ch)
{
    uint64_t off = ch->res_pos & ch->mask;
    slots_stale(ch, off + ZIPC_FRAME_ALIGN, off + (ch->res_end - ch->res_pos));
}

static void terminate(zipc_channel *ch, uint64_t pos)
{
    if (slot_fresh(ch, pos))
        return;
    zipc__store(&frame_at(ch, pos)->mark, 0, ZIPC__RELAXED); /* published by the frame's release */
    slot_mark_fresh(ch, pos);
}

/* Why a producer call without an open reservation fails: the wrong role,
 * the sticky error, or plain misuse. */
static int no_reservation(const zipc_channel *ch)
{
    if (!ch)
        return -EINVAL;
    if (ch->role != ZIPC_ROLE_PRODUCER)
        return -EOPNOTSUPP;
    return ch->broken ? ch->broken : -EINVAL;
}

static int broken(zipc_channel *ch, int err)
{
    if (err == -EBADMSG)
        ch->broken = err;
    return err;
}

/* ------------------------------------------------------------------------
 * Producer
 * ------------------------------------------------------------------------ */

static void publish(zipc_channel *ch)
{
    /* seq_cst exchange of the first unpublished mark: a release of every
     * frame, mark and terminator written before it, and the store half of
     * the Dekker pair with the consumer's sleep flag. */
    zipc__xchg(&frame_at(ch, ch->pending_at)->mark, ch->pending_mark, ZIPC__SEQ_CST);
    struct zipc_channel_side *me = ch->mine;
    /* relaxed: informative counters, read only by tools and stats */
    zipc__store(&me->messages, zipc__load(&me->messages, ZIPC__RELAXED) + ch->staged, ZIPC__RELAXED);
    zipc__store(&me->position, ch->tail, ZIPC__RELAXED);
    ch->published = ch->tail;
    ch->staged = 0;
    zipc__wake_peer(&ch->wait);
}

/* Read the consumer's head and validate it against what we published. */
static int refresh_head(zipc_channel *ch)
{
    /* seq_cst (a plain load on x86, ldar on arm64): the consumer
     * finished reading the frames before releasing them; seq_cst also puts
     * this load in the Dekker order after our sleep flag store. */
    uint64_t head = zipc__load(&ch->peer->position, ZIPC__SEQ_CST);
    if ((head & (ZIPC_FRAME_ALIGN - 1)) || head - ch->cached_head > ch->published - ch->cached_head)
        return broken(ch, -EBADMSG);
    ch->cached_head = head;
    return 0;
}

static int space_ready(void *ctx)
{
    zipc_channel *ch = ctx;
    int err = refresh_head(ch);
    if (err)
        return err;
    return ch->tail + ch->need - ch->cached_head <= ch->ring_size;
}

static int wait_space(zipc_channel *ch, uint64_t need, int64_t timeout_ns)
{
    if (ch->staged)
        publish(ch); /* staged messages must be visible, or the consumer can never free space */
    if (zipc__peer_gone(&ch->wait, false)) {
        ch->broken = -EPIPE;
        return -EPIPE;
    }
    ch->need = need;
    int err = zipc__wait(&ch->wait, space_ready, ch, timeout_ns);
    if (err == -EPIPE)
        ch->broken = err;
    return err;
}

int zipc_channel_reserve(zipc_channel *ch, size_t size, void **buf, int64_t timeout_ns)
{
    if (ZIPC__UNLIKELY(!ch || !buf || ch->role != ZIPC_ROLE_PRODUCER))
        return ch && buf ? -EOPNOTSUPP : -EINVAL;
    if (ZIPC__UNLIKELY(ch->broken))
        return ch->broken;
    if (ZIPC__UNLIKELY(ch->reserving))
        return -EALREADY;
    if (ZIPC__UNLIKELY(size > ch->max_message))
        return -EMSGSIZE;
    uint64_t frame = frame_bytes(size);
    uint64_t off = ch->tail & ch->mask;
    /* A frame never straddles the end: pad to the end and start at 0. With
     * frame <= ring/2 the pad is <= frame - ALIGN, so pad + frame + the
     * terminator's ALIGN <= ring: once the consumer drains, any message up
     * to max_message fits, whatever the fill position. */
    uint64_t pad = ch->ring_size - off < frame ? ch->ring_size - off : 0;
    uint64_t need = pad + frame + ZIPC_FRAME_ALIGN;
    if (ZIPC__UNLIKELY(ch->tail + need - ch->cached_head > ch->ring_size)) {
        int err = wait_space(ch, need, timeout_ns);
        if (err)
            return err;
    }
    ch->res_start = ch->tail;
    ch->res_pos = ch->tail + pad;
    ch->res_end = ch->res_pos + frame;
    ch->res_size = (uint32_t)size;
    ch->reserving = true;
    /* A terminator, if needed, goes in first, in free space nobody reads
     * yet: taking its cache line now overlaps with the caller's writes. */
    terminate(ch, ch->res_end);
    *buf = ch->ring + (ch->res_pos & ch->mask) + ZIPC_FRAME_HEADER;
    return 0;
}

int zipc_channel_commit(zipc_channel *ch, size_t size, uint32_t type, unsigned flags)
{
    if (ZIPC__UNLIKELY(!ch || !ch->reserving || size > ch->res_size || (flags & ~ZIPC_COMMIT_MORE)))
        return no_reservation(ch);
    uint64_t end = ch->res_pos + frame_bytes(size);
    reservation_stale(ch);
    if (end != ch->res_end)
        terminate(ch, end); /* committed shorter: the frame now ends earlier */
    slot_mark_fresh(ch, ch->res_pos);
    struct zipc_frame *f = frame_at(ch, ch->res_pos);
    f->size = (uint32_t)size;
    f->type = type;
    uint64_t msg_mark = ZIPC_FRAME_MARK(ch->seq, ZIPC_FRAME_MSG);
    uint64_t first_mark = msg_mark;
    if (ch->res_pos != ch->res_start) { /* padded: the pad is the first header */
        struct zipc_frame *p = frame_at(ch, ch->res_start);
        p->size = 0;
        p->type = 0;
        first_mark = ZIPC_FRAME_MARK(ch->seq, ZIPC_FRAME_PAD);
        uint64_t pad_off = ch->res_start & ch->mask;
        slots_stale(ch, pad_off + ZIPC_FRAME_ALIGN, ch->ring_size); /* skipped, left as they were */
        slot_mark_fresh(ch, ch->res_start);
        /* relaxed: unreachable until the pad's mark is published */
        zipc__store(&f->mark, msg_mark, ZIPC__RELAXED);
    }
    if (ch->staged == 0) {
        ch->pending_at = ch->res_start;
        ch->pending_mark = first_mark;
    } else { /* relaxed: unreachable until pending_at's mark is published */
        zipc__store(&frame_at(ch, ch->res_start)->mark, first_mark, ZIPC__RELAXED);
    }
    ch->seq++;
    ch->tail = end;
    ch->reserving = false;
    ch->staged++;
    if (!(flags & ZIPC_COMMIT_MORE))
        publish(ch);
    /* A consumer that died while we never had to wait: notice it within
     * ~1024 commits and ~1 ms instead of only when the ring fills. */
    if (ZIPC__UNLIKELY(--ch->commits_to_check == 0)) {
        ch->commits_to_check = ZIPC__LIVENESS_COMMITS;
        if (zipc__peer_gone(&ch->wait, false))
            ch->broken = -EPIPE;
    }
    return 0;
}

int zipc_channel_abort(zipc_channel *ch)
{
    if (!ch || !ch->reserving)
        return no_reservation(ch);
    /* Only a terminator beyond the tail was written: unreachable. */
    reservation_stale(ch);
    ch->reserving = false;
    return 0;
}

int zipc_channel_flush(zipc_channel *ch)
{
    if (!ch || ch->role != ZIPC_ROLE_PRODUCER)
        return ch ? -EOPNOTSUPP : -EINVAL;
    if (ch->broken)
        return ch->broken; /* never publish into a corrupt ring */
    if (ch->staged)
        publish(ch);
    return 0;
}

int zipc_channel_send(zipc_channel *ch, const void *data, size_t size, uint32_t type,
                      int64_t timeout_ns)
{
    if (!data && size)
        return -EINVAL;
    void *buf;
    int err = zipc_channel_reserve(ch, size, &buf, timeout_ns);
    if (err)
        return err;
    if (size)
        memcpy(buf, data, size);
    return zipc_channel_commit(ch, size, type, 0);
}

/* ------------------------------------------------------------------------
 * Consumer
 * ------------------------------------------------------------------------ */

/* What a mark at the read position says: 1 the expected frame (message or
 * pad), 0 not yet (zero, or a header at most one lap old), else corrupt. */
static int mark_state(zipc_channel *ch, uint64_t mark)
{
    if (mark == ZIPC_FRAME_MARK(ch->expect_seq, ZIPC_FRAME_MSG) ||
        mark == ZIPC_FRAME_MARK(ch->expect_seq, ZIPC_FRAME_PAD))
        return 1;
    uint32_t kind = (uint32_t)mark, age = ch->expect_seq - (uint32_t)(mark >> 32);
    if (mark == 0 || ((kind == ZIPC_FRAME_MSG || kind == ZIPC_FRAME_PAD) && age - 1 < ch->lap_frames))
        return 0;
    return broken(ch, -EBADMSG);
}

static int data_ready(void *ctx)
{
    zipc_channel *ch = ctx;
    /* seq_cst (a plain load on x86, ldar on arm64): the Dekker re-check after our
     * sleep flag store. */
    return mark_state(ch, zipc__load(&frame_at(ch, ch->rpos)->mark, ZIPC__SEQ_CST));
}

/* Take the frame at rpos: 0, -EAGAIN (not published yet) or -EBADMSG.
 * Size and type are read once into locals after the mark: the peer may
 * rewrite them after we checked them. */
static int take_frame(zipc_channel *ch, struct zipc_msg *msg)
{
    uint64_t off = ch->rpos & ch->mask;
    const struct zipc_frame *f = (const void *)(ch->ring + off);
    /* acquire: pairs with the producer's publishing exchange, so the header
     * and payload written before it are visible. */
    uint64_t mark = zipc__load(&f->mark, ZIPC__ACQUIRE);
    int state = mark_state(ch, mark);
    if (state <= 0)
        return state < 0 ? state : -EAGAIN;
    if (mark == ZIPC_FRAME_MARK(ch->expect_seq, ZIPC_FRAME_PAD) && off != 0) {
        /* The message after a pad was marked before the pad was published. */
        ch->rpos += ch->ring_size - off;
        off = 0;
        f = (const void *)ch->ring;
        mark = zipc__load(&f->mark, ZIPC__ACQUIRE);
    }
    if (mark != ZIPC_FRAME_MARK(ch->expect_seq, ZIPC_FRAME_MSG))
        return broken(ch, -EBADMSG);
    uint32_t size = zipc__load(&f->size, ZIPC__RELAXED);
    uint32_t type = zipc__load(&f->type, ZIPC__RELAXED);
    uint64_t frame = frame_bytes(size);
    if (size > ch->max_message || off + frame > ch->ring_size)
        return broken(ch, -EBADMSG);
    msg->data = ch->ring + off + ZIPC_FRAME_HEADER;
    msg->size = size;
    msg->type = type;
    msg->seq = ch->taken++;
    msg->end_ = ch->rpos + frame;
    ch->rpos += frame;
    ch->expect_seq++;
    ch->views++;
    return 0;
}

static int consumer_check(zipc_channel *ch)
{
    if (ZIPC__UNLIKELY(!ch))
        return -EINVAL;
    if (ZIPC__UNLIKELY(ch->role != ZIPC_ROLE_CONSUMER))
        return -EOPNOTSUPP;
    return ch->broken;
}

int zipc_channel_view(zipc_channel *ch, struct zipc_msg *msg, int64_t timeout_ns)
{
    int err = consumer_check(ch);
    if (ZIPC__UNLIKELY(err || !msg))
        return err ? err : -EINVAL;
    err = take_frame(ch, msg);
    if (ZIPC__LIKELY(err != -EAGAIN))
        return err;
    err = zipc__wait(&ch->wait, data_ready, ch, timeout_ns);
    if (err) {
        if (err == -EPIPE)
            ch->broken = err; /* drained and the producer is gone: for good */
        return err;
    }
    return take_frame(ch, msg);
}

int zipc_channel_drain(zipc_channel *ch, struct zipc_msg *msgs, unsigned max, int64_t timeout_ns)
{
    if (!msgs || max == 0)
        return -EINVAL;
    int err = zipc_channel_view(ch, &msgs[0], timeout_ns);
    if (err)
        return err;
    unsigned n = 1;
    while (n < max && take_frame(ch, &msgs[n]) == 0)
        n++;
    return (int)n; /* a corrupt frame after the first shows on the next call */
}

/* Hand [head, end) back to the producer: `count` messages. */
static void release_to(zipc_channel *ch, uint64_t end, uint32_t count)
{
    struct zipc_channel_side *me = ch->mine;
    zipc__store(&me->messages, zipc__load(&me->messages, ZIPC__RELAXED) + count, ZIPC__RELAXED);
    /* seq_cst exchange: a release of our reads of the frames, and the store
     * half of the Dekker pair with the producer's sleep flag. */
    zipc__xchg(&me->position, end, ZIPC__SEQ_CST);
    ch->head = end;
    ch->views -= count;
    zipc__wake_peer(&ch->wait);
}

static int consumer_release_check(const zipc_channel *ch)
{
    if (!ch)
        return -EINVAL;
    if (ch->role != ZIPC_ROLE_CONSUMER)
        return -EOPNOTSUPP;
    return ch->broken == -EBADMSG ? ch->broken : 0;
}

static struct ledger_entry *ledger_slot(const zipc_channel *ch, uint64_t seq)
{
    return &ch->ledger[seq & (ch->ledger_cap - 1)];
}

/* The entry of seq's out-of-order release, or NULL. */
static struct ledger_entry *ledger_find(const zipc_channel *ch, uint64_t seq)
{
    struct ledger_entry *e = ledger_slot(ch, seq);
    return e->end && e->seq == seq ? e : NULL;
}

/* Drop the ledger entries of seqs [from, to): they were just released. */
static void ledger_forget(zipc_channel *ch, uint64_t from, uint64_t to)
{
    for (uint64_t s = from; ch->ledger_used && s < to; s++) {
        struct ledger_entry *e = ledger_find(ch, s);
        if (e) {
            e->end = 0;
            ch->ledger_used--;
        }
    }
}

/* Release [head, end) (`count` views from the oldest), then every view
 * right after it that release_view already gave back out of order. */
static void release_in_order(zipc_channel *ch, uint64_t end, uint64_t count)
{
    uint64_t first = ch->taken - ch->views;
    ledger_forget(ch, first, first + count);
    while (ch->ledger_used && count < ch->views) {
        struct ledger_entry *e = ledger_find(ch, first + count);
        if (!e)
            break;
        end = e->end;
        e->end = 0;
        ch->ledger_used--;
        count++;
    }
    release_to(ch, end, (uint32_t)count);
}

int zipc_channel_release(zipc_channel *ch)
{
    int err = consumer_release_check(ch);
    if (err)
        return err;
    if (ch->rpos != ch->head)
        release_in_order(ch, ch->rpos, ch->views);
    return 0;
}

/* Is `m` one of the open views? (It may come from a caller's stale copy.) */
static bool view_open(const zipc_channel *ch, const struct zipc_msg *m)
{
    uint64_t first_open = ch->taken - ch->views;
    return m->seq >= first_open && m->seq < ch->taken && m->end_ - ch->head <= ch->rpos - ch->head &&
           m->end_ != ch->head && !(m->end_ & (ZIPC_FRAME_ALIGN - 1));
}

/* Room in the ledger for every open view: a power of two > views. */
static int ledger_fit(zipc_channel *ch)
{
    if (ch->ledger_cap > ch->views)
        return 0;
    uint32_t cap = ch->ledger_cap ? ch->ledger_cap : 16;
    while (cap <= ch->views)
        cap *= 2;
    struct ledger_entry *l = calloc(cap, sizeof(*l));
    if (!l)
        return -ENOMEM;
    for (uint32_t i = 0; i < ch->ledger_cap; i++) /* pending seqs span < views < cap: no clash */
        if (ch->ledger[i].end)
            l[ch->ledger[i].seq & (cap - 1)] = ch->ledger[i];
    free(ch->ledger);
    ch->ledger = l;
    ch->ledger_cap = cap;
    return 0;
}

int zipc_channel_release_upto(zipc_channel *ch, const struct zipc_msg *last)
{
    int err = consumer_release_check(ch);
    if (err || !last)
        return err ? err : -EINVAL;
    if (!view_open(ch, last))
        return -EINVAL; /* not an open view (already released, or never viewed) */
    release_in_order(ch, last->end_, last->seq + 1 - (ch->taken - ch->views));
    return 0;
}

int zipc_channel_release_view(zipc_channel *ch, const struct zipc_msg *msg)
{
    int err = consumer_release_check(ch);
    if (err || !msg)
        return err ? err : -EINVAL;
    if (!view_open(ch, msg))
        return -EINVAL;
    if (ZIPC__LIKELY(msg->seq == ch->taken - ch->views)) { /* the oldest: in order */
        release_in_order(ch, msg->end_, 1);
        return 0;
    }
    if ((err = ledger_fit(ch)))
        return err;
    if (ledger_find(ch, msg->seq))
        return -EINVAL; /* released already */
    *ledger_slot(ch, msg->seq) = (struct ledger_entry){.seq = msg->seq, .end = msg->end_};
    ch->ledger_used++;
    return 0;
}

int zipc_channel_recv(zipc_channel *ch, void *buf, size_t cap, size_t *size, uint32_t *type,
                      int64_t timeout_ns)
{
    if (!buf && cap)
        return -EINVAL;
    int err = consumer_check(ch);
    if (err)
        return err;
    if (ch->views)
        return -EALREADY; /* recv releases: it must not release the caller's open views */
    struct zipc_msg m;
    if ((err = zipc_channel_view(ch, &m, timeout_ns)))
        return err;
    if (size)
        *size = m.size;
    if (type)
        *type = m.type;
    if (m.size > cap) {
        /* keep the message: step back so the next call sees it again */
        ch->rpos -= frame_bytes(m.size);
        ch->expect_seq--;
        ch->taken--;
        ch->views--;
        return -EMSGSIZE;
    }
    memcpy(buf, m.data, m.size);
    return zipc_channel_release(ch);
}

/* ------------------------------------------------------------------------
 * Setup and teardown
 * ------------------------------------------------------------------------ */

static int channel_alloc(zipc_channel **out)
{
    zipc_channel *ch = aligned_alloc(64, zipc__align_up(sizeof(*ch), 64));
    if (!ch)
        return -ENOMEM;
    memset(ch, 0, sizeof(*ch));
    zipc__waiter_init(&ch->wait);
    ch->seg.fd = -1;
    ch->commits_to_check = ZIPC__LIVENESS_COMMITS;
    *out = ch;
    return 0;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif

/* The peer process as a pidfd: from the socket itself where the kernel can
 * (no pid-reuse window), else from the pid. -1 if neither works: the socket
 * alone then tells us about the peer. */
static int open_pidfd(int sock, int pid)
{
    int fd = -1;
    socklen_t len = sizeof(fd);
    if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && fd >= 0)
        return fd;
#ifdef SYS_pidfd_open
    if (pid > 0 && (fd = (int)syscall(SYS_pidfd_open, pid, 0)) >= 0)
        return fd;
#endif
    (void)pid;
    return -1;
}

/* Wire the endpoint to its side of an attached segment. Also validates the
 * control block (for the connector it comes from the peer). */
static int channel_bind(zipc_channel *ch, int role, const struct zipc__opts *o,
                        struct zipc__peer *peer, int consumer_efd, int producer_efd)
{
    struct zipc_segment_header *h = (void *)ch->seg.base;
    struct zipc_channel_ctl *ctl = (void *)(ch->seg.base + ZIPC_CHANNEL_BODY_OFFSET);
    uint64_t ring_offset = ctl->ring_offset, ring_size = ctl->ring_size;
    if (h->body_offset != ZIPC_CHANNEL_BODY_OFFSET || h->body_size != sizeof(*ctl) ||
        ring_offset != ZIPC_CHANNEL_RING_OFFSET || ring_size < ZIPC_MIN_CAPACITY ||
        ring_size > ZIPC_MAX_CAPACITY || (ring_size & (ring_size - 1)) ||
        ch->seg.size != ring_offset + ring_size ||
        ctl->max_message != ring_size / 2 - ZIPC_FRAME_HEADER || ctl->frame_align != ZIPC_FRAME_ALIGN)
        return -EBADMSG;
    bool producer = role == ZIPC_ROLE_PRODUCER;
    ch->role = role;
    ch->ring = ch->seg.base + ring_offset;
    ch->ring_size = ring_size;
    ch->mask = ring_size - 1;
    ch->max_message = (uint32_t)(ring_size / 2 - ZIPC_FRAME_HEADER);
    ch->mine = producer ? &ctl->producer : &ctl->consumer;
    ch->peer = producer ? &ctl->consumer : &ctl->producer;
    /* Start from the positions in the segment (both 0 for a new channel). */
    uint64_t tail = zipc__load(&ctl->producer.position, ZIPC__ACQUIRE);
    uint64_t head = zipc__load(&ctl->consumer.position, ZIPC__ACQUIRE);
    if (tail != 0 || head != 0)
        return -EBADMSG;
    ch->tail = ch->published = tail;
    ch->head = ch->rpos = ch->cached_head = head;
    ch->lap_frames = (uint32_t)(ring_size >> ZIPC__SLOT_SHIFT);
    if (producer) { /* a new ring is all zero: every slot starts fresh */
        size_t words = (size_t)((ring_size >> ZIPC__SLOT_SHIFT) + 63) / 64;
        if (!(ch->fresh = malloc(words * sizeof(uint64_t))))
            return -ENOMEM;
        memset(ch->fresh, 0xff, words * sizeof(uint64_t));
    }

    struct zipc__waiter *w = &ch->wait;
    w->sock = peer->sock;
    w->pidfd = open_pidfd(peer->sock, peer->pid);
    w->wake_fd = producer ? producer_efd : consumer_efd;
    w->peer_wake_fd = producer ? consumer_efd : producer_efd;
    w->my_sleeping = producer ? &ctl->producer_wait.sleeping : &ctl->consumer_wait.sleeping;
    w->peer_sleeping = producer ? &ctl->consumer_wait.sleeping : &ctl->producer_wait.sleeping;
    w->peer_state = &ch->peer->state;
    w->my_wakeups = &ch->mine->wakeups;
    w->my_sleeps = &ch->mine->sleeps;
    w->spin_ns = o->spin_ns;
    ch->peer_pid = peer->pid;
    zipc__store(&ch->mine->pid, (uint32_t)getpid(), ZIPC__RELAXED);
    zipc__store(&ch->mine->state, ZIPC_STATE_ACTIVE, ZIPC__RELEASE);
    return 0;
}

static uint64_t round_capacity(size_t capacity)
{
    if (capacity < ZIPC_MIN_CAPACITY || capacity > ZIPC_MAX_CAPACITY)
        return 0;
    uint64_t c = ZIPC_MIN_CAPACITY;
    while (c < capacity)
        c <<= 1;
    return c;
}

static int create_segment(zipc_channel *ch, uint64_t cap, int listener_role, const char *name)
{
    int err = zipc__segment_create(&ch->seg, ZIPC_KIND_CHANNEL, ZIPC_CHANNEL_RING_OFFSET + cap,
                                   ZIPC_CHANNEL_BODY_OFFSET, sizeof(struct zipc_channel_ctl), name);
    if (err)
        return err;
    struct zipc_channel_ctl *ctl = (void *)(ch->seg.base + ZIPC_CHANNEL_BODY_OFFSET);
    ctl->ring_offset = ZIPC_CHANNEL_RING_OFFSET;
    ctl->ring_size = cap;
    ctl->max_message = (uint32_t)(cap / 2 - ZIPC_FRAME_HEADER);
    ctl->frame_align = ZIPC_FRAME_ALIGN;
    ctl->listener_role = (uint32_t)listener_role;
    return 0;
}

static int make_eventfd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

int zipc_channel_listen(zipc_channel **out, const char *path, size_t capacity,
                        const struct zipc_options *opts)
{
    struct zipc__opts o;
    if (!out || !path)
        return -EINVAL;
    *out = NULL;
    int err = zipc__opts_resolve(opts, &o);
    uint64_t cap = round_capacity(capacity);
    if (err || !cap)
        return err ? err : -EINVAL;
    int role = o.role == ZIPC_ROLE_PRODUCER ? ZIPC_ROLE_PRODUCER : ZIPC_ROLE_CONSUMER;
    int64_t deadline = zipc__deadline(o.timeout_ns);
    zipc_channel *ch;
    if ((err = channel_alloc(&ch)))
        return err;
    int lsock = -1, efd[2] = {-1, -1};
    struct zipc__peer peer = {.sock = -1};
    if ((err = create_segment(ch, cap, role, o.label ? o.label : path)))
        goto fail;
    if ((efd[0] = make_eventfd()) < 0 || (efd[1] = make_eventfd()) < 0) {
        err = efd[0] < 0 ? efd[0] : efd[1];
        goto fail;
    }
    if ((err = zipc__listen_socket(path, &o, &lsock)))
        goto fail;
    err = zipc__accept_peer(lsock, ZIPC_KIND_CHANNEL, &o, deadline, &peer);
    /* One peer per channel: the path is free again for the next listener. */
    unlink(path);
    close(lsock);
    if (err)
        goto fail;
    struct zipc_welcome w = {.magic = ZIPC_WELCOME_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                             .abi_minor = ZIPC_ABI_MINOR, .kind = ZIPC_KIND_CHANNEL,
                             .connector_role = role == ZIPC_ROLE_PRODUCER ? ZIPC_ROLE_CONSUMER : ZIPC_ROLE_PRODUCER,
                             .segment_size = ch->seg.size};
    /* Bind before the welcome: once the peer has the segment it may write. */
    if ((err = channel_bind(ch, role, &o, &peer, efd[0], efd[1])))
        goto fail;
    int fds[3] = {ch->seg.fd, efd[0], efd[1]};
    if ((err = zipc__welcome_peer(&peer, &w, fds, 3, deadline)))
        goto fail_bound;
    *out = ch;
    return 0;
fail:
    if (peer.sock >= 0)
        close(peer.sock);
    for (int i = 0; i < 2; i++)
        if (efd[i] >= 0)
            close(efd[i]);
    if (ch->wait.pidfd >= 0)
        close(ch->wait.pidfd);
    zipc__waiter_init(&ch->wait); /* its other fds were just closed */
fail_bound:
    zipc_channel_close(ch);
    return err;
}

int zipc__channel_adopt(zipc_channel **out, int fds[3], int role, struct zipc__peer *peer,
                        const struct zipc__opts *o, uint64_t announced_size)
{
    zipc_channel *ch;
    int err = channel_alloc(&ch);
    if (err)
        return err;
    if (role != ZIPC_ROLE_PRODUCER && role != ZIPC_ROLE_CONSUMER)
        err = -EBADMSG;
    uint64_t abi_max = ZIPC_CHANNEL_RING_OFFSET + ZIPC_MAX_CAPACITY;
    if (!err && announced_size > o->max_segment && announced_size <= abi_max)
        err = -EFBIG; /* consistent, but more than we agreed to map and pre-fault */
    if (!err && (err = zipc__check_eventfd(fds[1])) == 0 && (err = zipc__check_eventfd(fds[2])) == 0)
        err = zipc__segment_attach(&ch->seg, fds[0], ZIPC_KIND_CHANNEL,
                                   o->max_segment < abi_max ? o->max_segment : abi_max);
    if (err) {
        zipc_channel_close(ch);
        return err;
    }
    fds[0] = -1; /* owned by the segment now */
    if (announced_size != ch->seg.size)
        err = -EBADMSG;
    else
        err = channel_bind(ch, role, o, peer, fds[1], fds[2]);
    if (err) {
        if (ch->wait.pidfd >= 0)
            close(ch->wait.pidfd);
        zipc__waiter_init(&ch->wait); /* the caller still owns the other fds */
        zipc_channel_close(ch);
        return err;
    }
    fds[1] = fds[2] = -1;
    peer->sock = -1;
    *out = ch;
    return 0;
}

int zipc_channel_connect(zipc_channel **out, const char *path, const struct zipc_options *opts)
{
    struct zipc__opts o;
    if (!out || !path)
        return -EINVAL;
    *out = NULL;
    int err = zipc__opts_resolve(opts, &o);
    if (err)
        return err;
    int64_t deadline = zipc__deadline(o.timeout_ns);
    struct zipc__peer peer = {.sock = -1};
    int fds[3] = {-1, -1, -1};
    struct zipc_welcome w;
    zipc_channel *ch = NULL;
    if ((err = zipc__connect_peer(path, ZIPC_KIND_CHANNEL, &o, deadline, &peer)))
        return err;
    int sock = peer.sock;
    err = zipc__receive_welcome(&peer, ZIPC_KIND_CHANNEL, &w, fds, 3, deadline);
    if (err == 0) {
        err = zipc__channel_adopt(&ch, fds, (int)w.connector_role, &peer, &o, w.segment_size);
        struct zipc__peer link = {.sock = sock};
        zipc__send_ack(&link, err);
    }
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (peer.sock >= 0)
        close(peer.sock);
    *out = ch;
    return err;
}

int zipc_channel_shutdown(zipc_channel *ch)
{
    if (!ch)
        return -EINVAL;
    if (ch->seg.base && ch->mine && zipc__load(&ch->mine->state, ZIPC__RELAXED) != ZIPC_STATE_CLOSED) {
        if (ch->role == ZIPC_ROLE_PRODUCER) {
            ch->reserving = false;
            if (ch->staged && !ch->broken)
                publish(ch);
        }
        /* release: everything we published happens-before the peer seeing CLOSED. */
        zipc__store(&ch->mine->state, ZIPC_STATE_CLOSED, ZIPC__RELEASE);
        zipc__wake_peer_always(&ch->wait);
    }
    if (!ch->broken)
        ch->broken = -EPIPE;
    return 0;
}

int zipc_channel_close(zipc_channel *ch)
{
    if (!ch)
        return 0;
    zipc_channel_shutdown(ch);
    zipc__waiter_close(&ch->wait);
    zipc__segment_close(&ch->seg);
    free(ch->fresh);
    free(ch->ledger);
    free(ch);
    return 0;
}

/* ------------------------------------------------------------------------
 * Queries
 * ------------------------------------------------------------------------ */

int zipc_channel_role(const zipc_channel *ch) { return ch ? ch->role : -EINVAL; }
size_t zipc_channel_capacity(const zipc_channel *ch) { return ch ? ch->ring_size : 0; }
size_t zipc_channel_max_message(const zipc_channel *ch) { return ch ? ch->max_message : 0; }
int zipc_channel_peer_pid(const zipc_channel *ch) { return ch ? ch->peer_pid : -EINVAL; }

int zipc_channel_interrupt(zipc_channel *ch)
{
    if (!ch)
        return -EINVAL;
    zipc__waiter_interrupt(&ch->wait);
    return 0;
}

int zipc_channel_fd(zipc_channel *ch)
{
    return ch ? zipc__waiter_fd(&ch->wait) : -EINVAL;
}

int zipc_channel_get_stats(const zipc_channel *ch, struct zipc_channel_stats *st)
{
    if (!ch || !st)
        return -EINVAL;
    st->messages = zipc__load(&ch->mine->messages, ZIPC__RELAXED);
    st->bytes = zipc__load(&ch->mine->position, ZIPC__RELAXED);
    st->wakeups = zipc__load(&ch->mine->wakeups, ZIPC__RELAXED);
    st->sleeps = zipc__load(&ch->mine->sleeps, ZIPC__RELAXED);
    return 0;
}

/* Ring halves: the producer (tx) and the consumer (rx) side of one ring of
 * variable-size frames in shared memory (the frame protocol of zipc/abi.h,
 * docs/DESIGN.md §2), for any kind: a channel endpoint is one half, a topic
 * will be one tx and one rx cursor per subscriber, rpc and queues pairs and
 * sets of halves.
 *
 * A half sees only the ring's geometry, its own shared side line (the tx also
 * its peer's, for the released head), the waiter it sleeps and wakes through,
 * and its sticky error. It knows nothing of sockets, handshakes or roles: the
 * kind's glue binds it and forwards the kind's calls to it.
 *
 * Positions are free-running byte counts. The producer publishes a frame by
 * writing its header's mark last; the consumer polls the mark at its read
 * position, so a message costs it one cache line, the one holding the frame.
 * The consumer publishes `head` (end of released frames); the producer caches
 * it and reads the shared one only when its cache says full. Nothing read
 * from the segment is trusted: every position and frame header is validated
 * before use, and a violation fails the half with -EBADMSG.
 *
 * The per-message calls are inline here, so that a kind's public call
 * compiles to one function without LTO, as liburing's hot calls do; slow
 * and rare paths live in ring.c. "§2.5 #n" at an atomic access names its
 * row in docs/DESIGN.md's memory-order table. */
#ifndef ZIPC_RING_H
#define ZIPC_RING_H

#include <stddef.h>
#include <string.h>

#include "internal.h"

/* A per-message call: inlined into the kind's public call even where the
 * compiler's size heuristics would keep a local copy. */
#define ZIPC__RING_INLINE static inline __attribute__((always_inline))

/* Geometry, fixed at bind. Each half keeps a copy in its first line. */
struct zipc__ring {
    uint8_t *base;
    uint64_t size;          /* a power of two, ZIPC_MIN_CAPACITY..ZIPC_MAX_CAPACITY */
    uint64_t mask;          /* size - 1 */
    uint32_t max_message;   /* size / 2 - ZIPC_FRAME_HEADER */
    uint32_t lap_frames;    /* most frames one lap holds: size / ZIPC_FRAME_ALIGN */
};

/* A half's sticky error before it is bound: a kind leaves the half its
 * endpoint does not own unbound, so every call on it is the wrong role. */
#define ZIPC__RING_UNBOUND (-EOPNOTSUPP)

struct zipc__ring_tx {
    /* ---- per message: reserve, commit, publish ------------------------- */
    _Alignas(ZIPC_CACHE_LINE) struct zipc__ring ring;
    int sticky_err;           /* 0, the first lasting error (-EBADMSG, -EPIPE), or ZIPC__RING_UNBOUND */
    uint32_t res_size;        /* reservation: bytes reserved */
    uint64_t tail;            /* end of committed frames (published or staged) */
    uint64_t cached_head;     /* last head read from the segment */
    uint64_t res_start;       /* reservation: where its pad (if any) starts */
    uint64_t res_pos;         /* reservation: where its frame starts */
    uint64_t res_end;         /* reservation: where its terminator was written */
    uint64_t *fresh;          /* one bit per ZIPC_FRAME_ALIGN slot, see zipc__ring_tx_slot_fresh() */
    uint64_t pending_at;      /* with staged: the header whose mark publishes them */
    uint64_t pending_mark;
    uint64_t published;       /* end of what the consumer can reach */
    struct zipc_channel_side *mine;
    struct zipc__waiter *wait;
    uint32_t seq;             /* next message's sequence number */
    uint32_t staged;          /* messages committed since the last publish (<= lap_frames) */
    uint32_t commits_to_check; /* commits left before a liveness check */
    bool reserving;
    bool prefetch_write;      /* zipc__prefetch_write takes ownership here (cpu.h) */
    bool prefetch_ahead;      /* a channel's: small frames ask for a line ahead too (§2.4) */

    /* ---- waiting for space --------------------------------------------- */
    _Alignas(ZIPC_CACHE_LINE) const struct zipc_channel_side *peer;
    uint64_t need;            /* bytes the waiting reservation needs */
    uint32_t warm_skips;      /* large frames left to place without waiting for a warm pad (§2.7) */
    /* Where space comes from when it is not the one peer's head (a topic:
     * the slowest lossless cursor, and the oldest frame to overwrite): sets
     * cached_head; 0 or -EBADMSG. NULL: read peer->position. */
    int (*refresh)(struct zipc__ring_tx *tx);
};
_Static_assert(offsetof(struct zipc__ring_tx, peer) <= 3 * ZIPC_CACHE_LINE,
               "tx: the per-message fields fit in three cache lines");

struct zipc__ring_rx {
    /* ---- per message: view, release ------------------------------------ */
    _Alignas(ZIPC_CACHE_LINE) struct zipc__ring ring;
    int sticky_err;           /* 0, the first lasting error (-EBADMSG, -EPIPE), or ZIPC__RING_UNBOUND */
    uint32_t expect_seq;      /* the seq the mark at rpos must carry */
    uint64_t head;            /* released */
    uint64_t rpos;            /* viewed up to */
    uint64_t taken;           /* messages viewed since the start (the next view's seq) */
    struct zipc_channel_side *mine;
    struct zipc__waiter *wait;
    uint32_t views;           /* open views */
    uint32_t last_frame;      /* bytes of the newest frame taken: the next is likely as big */
    uint32_t quiet_pauses;    /* view's quiet start (zipc__quiet_pauses, DESIGN §3.1) */
    uint32_t ledger_used;     /* ledger entries set */
    /* A topic's oldest intact position (NULL for a channel): the ring may
     * overtake this reader, which then sees -EOVERFLOW instead of -EBADMSG. */
    const uint64_t *oldest;

    /* ---- views released out of order (release_view) -------------------- */
    /* A view released while an older one is still open, at seq & (ledger_cap - 1).
     * view and drain do not grow it, so once views outgrow it two seqs share
     * a slot: an entry counts for its own seq only. */
    _Alignas(ZIPC_CACHE_LINE) struct zipc__ledger_entry {
        uint64_t seq;
        uint64_t end;         /* the view's end_; 0: empty */
    } *ledger;
    uint32_t ledger_cap;      /* a power of two > views, or 0 */
};
_Static_assert(offsetof(struct zipc__ring_rx, ledger) <= 2 * ZIPC_CACHE_LINE,
               "rx: the per-message fields fit in two cache lines");

/* ---- both halves ---------------------------------------------------------- */

void zipc__ring_init(struct zipc__ring *r, uint8_t *base, uint64_t size);
/* A ring size for a requested capacity: rounded up to a power of two; 0 if
 * outside ZIPC_MIN_CAPACITY..ZIPC_MAX_CAPACITY. */
uint64_t zipc__ring_capacity(size_t capacity);

static inline uint64_t zipc__frame_bytes(uint64_t size)
{
    return zipc__align_up(ZIPC_FRAME_HEADER + size, ZIPC_FRAME_ALIGN);
}

static inline struct zipc_frame *zipc__ring_frame(const struct zipc__ring *r, uint64_t pos)
{
    return (struct zipc_frame *)(r->base + (pos & r->mask));
}

/* The half is unusable for good: the ring is corrupt (-EBADMSG) or the peer
 * is gone (-EPIPE). The first such error sticks (every later call returns
 * it); returns err. */
static inline int zipc__ring_fail(int *sticky_err, int err)
{
    if (!*sticky_err)
        *sticky_err = err;
    return err;
}

/* The frame at pos, if it is the published message number seq or the pad
 * before it: 1 and *next past it (*msg: the message's header, NULL for a
 * pad), 0 if not published (the end of what there is), -EBADMSG. Frames
 * are validated as a reader does: the walker may be a consumer (a topic
 * subscriber, a queue member). */
int zipc__ring_frame_step(const struct zipc__ring *r, uint64_t pos, uint64_t seq, uint64_t *next,
                           const struct zipc_frame **msg);

/* ---- producer half -------------------------------------------------------- */

/* Bind to a fresh (all-zero) ring, from position 0. -ENOMEM. */
int zipc__ring_tx_bind(struct zipc__ring_tx *tx, const struct zipc__ring *ring,
                       struct zipc_channel_side *mine, const struct zipc_channel_side *peer,
                       struct zipc__waiter *w);
/* Bind to a ring written before (a queue lane taken over from a producer
 * that left): the next frame goes at `tail` with message number `seq`;
 * [head, tail) is still in use. Every slot counts as stale. -ENOMEM. */
int zipc__ring_tx_bind_at(struct zipc__ring_tx *tx, const struct zipc__ring *ring,
                          struct zipc_channel_side *mine, struct zipc__waiter *w, uint64_t tail, uint32_t seq,
                          uint64_t head);
void zipc__ring_tx_free(struct zipc__ring_tx *tx);
int zipc__ring_tx_abort(struct zipc__ring_tx *tx);
int zipc__ring_tx_flush(struct zipc__ring_tx *tx);
/* Closing: drop the reservation, publish what was staged (unless failed). */
void zipc__ring_tx_stop(struct zipc__ring_tx *tx);

/* Out of line, used by the inline calls below. */
int zipc__ring_tx_wait_space(struct zipc__ring_tx *tx, uint64_t need, int64_t timeout_ns);
void zipc__ring_tx_slots_stale(struct zipc__ring_tx *tx, uint64_t from, uint64_t to);
uint64_t zipc__ring_tx_commit_pad(struct zipc__ring_tx *tx, struct zipc_frame *f, uint64_t msg_mark);
void zipc__ring_tx_check_peer(struct zipc__ring_tx *tx);

/* Make staged messages visible: one exchange, then wake a sleeping peer. */
ZIPC__RING_INLINE void zipc__ring_tx_publish(struct zipc__ring_tx *tx)
{
    /* seq_cst exchange of the first unpublished mark: a release of every
     * frame, mark and terminator written before it, and the store half of
     * the Dekker pair with the consumer's sleep flag (§2.5 #1). */
    zipc__xchg(&zipc__ring_frame(&tx->ring, tx->pending_at)->mark, tx->pending_mark, ZIPC__SEQ_CST);
    struct zipc_channel_side *me = tx->mine;
    /* relaxed: informative counters, read only by tools and stats (§2.5 #2) */
    zipc__store(&me->messages, zipc__load(&me->messages, ZIPC__RELAXED) + tx->staged, ZIPC__RELAXED);
    zipc__store(&me->position, tx->tail, ZIPC__RELAXED);
    tx->published = tx->tail;
    tx->staged = 0;
    zipc__wake_peer(tx->wait);
}

/* Why a call without an open reservation fails: the sticky error (for an
 * unbound half the wrong role), else plain misuse. */
static inline int zipc__ring_tx_misuse(const struct zipc__ring_tx *tx)
{
    return tx->sticky_err ? tx->sticky_err : -EINVAL;
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

static inline bool zipc__ring_tx_slot_fresh(const struct zipc__ring_tx *tx, uint64_t pos)
{
    uint64_t slot = (pos & tx->ring.mask) >> ZIPC__SLOT_SHIFT;
    return tx->fresh[slot >> 6] >> (slot & 63) & 1;
}

static inline void zipc__ring_tx_slot_set_fresh(struct zipc__ring_tx *tx, uint64_t pos)
{
    uint64_t slot = (pos & tx->ring.mask) >> ZIPC__SLOT_SHIFT;
    tx->fresh[slot >> 6] |= UINT64_C(1) << (slot & 63);
}

/* The reservation's payload slots may hold caller bytes from now on (a
 * frame of one slot has none: its header slot stays fresh). */
static inline void zipc__ring_tx_reservation_stale(struct zipc__ring_tx *tx)
{
    uint64_t off = tx->res_pos & tx->ring.mask, frame = tx->res_end - tx->res_pos;
    if (frame > ZIPC_FRAME_ALIGN)
        zipc__ring_tx_slots_stale(tx, off + ZIPC_FRAME_ALIGN, off + frame);
}

/* A frame this large goes back to the ring's offset 0 (a warm pad to the
 * end) when that space is free, or about to be (DESIGN §2.7): the pad's
 * length, or 0. */
#define ZIPC__WARM_FRAME (256u * 1024)
uint64_t zipc__ring_tx_warm_pad(struct zipc__ring_tx *tx, uint64_t off, uint64_t frame, int64_t timeout_ns);

static inline void zipc__ring_tx_terminate_if_stale(struct zipc__ring_tx *tx, uint64_t pos)
{
    if (zipc__ring_tx_slot_fresh(tx, pos))
        return;
    /* relaxed: free space nobody reads yet; the frame's publish releases it (§2.5 #4) */
    zipc__store(&zipc__ring_frame(&tx->ring, pos)->mark, 0, ZIPC__RELAXED);
    zipc__ring_tx_slot_set_fresh(tx, pos);
}

/* Frames this small also ask for the line where the frame after next will
 * start, if it is free space: a stream of small messages then finds each
 * slot owned when it comes to it, and stays ahead of a consumer that polls
 * the next slot (DESIGN §2.4, "a line ahead"). Only a channel's producer
 * does: a topic's readers and a queue's members work on the lines past the
 * newest frame. */
#define ZIPC__AHEAD_FRAME 256u

static inline void zipc__ring_tx_prefetch_ahead(const struct zipc__ring_tx *tx, uint64_t frame)
{
    uint64_t ahead = tx->res_end + frame;
    if (ahead + ZIPC_FRAME_ALIGN - tx->cached_head <= tx->ring.size)
        zipc__prefetch_write(tx->ring.base + (ahead & tx->ring.mask));
}

/* `size` writable bytes in the ring at *buf (16-byte aligned); waits for
 * space up to timeout_ns. -EALREADY, -EMSGSIZE, the sticky error, or the
 * wait's error. */
ZIPC__RING_INLINE int zipc__ring_tx_reserve(struct zipc__ring_tx *tx, size_t size, void **buf,
                                            int64_t timeout_ns)
{
    if (ZIPC__UNLIKELY(tx->sticky_err))
        return tx->sticky_err;
    if (ZIPC__UNLIKELY(tx->reserving))
        return -EALREADY;
    if (ZIPC__UNLIKELY(size > tx->ring.max_message))
        return -EMSGSIZE;
    uint64_t frame = zipc__frame_bytes(size);
    uint64_t off = tx->tail & tx->ring.mask;
    /* A frame never straddles the end: pad to the end and start at 0. With
     * frame <= ring/2 the pad is <= frame - ALIGN, so pad + frame + the
     * terminator's ALIGN <= ring: once the consumer drains, any message up
     * to max_message fits, whatever the fill position. */
    uint64_t pad = tx->ring.size - off < frame ? tx->ring.size - off : 0;
    uint64_t need = pad + frame + ZIPC_FRAME_ALIGN;
    if (ZIPC__UNLIKELY(frame >= ZIPC__WARM_FRAME) && pad == 0) {
        pad = zipc__ring_tx_warm_pad(tx, off, frame, timeout_ns);
        if (tx->sticky_err)
            return tx->sticky_err;
        /* no terminator slot of its own when the warm pad's header is it
         * (pad + frame = the ring, §2.7) */
        need = pad + frame == tx->ring.size ? pad + frame : pad + frame + ZIPC_FRAME_ALIGN;
    }
    if (ZIPC__UNLIKELY(tx->tail + need - tx->cached_head > tx->ring.size)) {
        int err = zipc__ring_tx_wait_space(tx, need, timeout_ns);
        if (err)
            return err;
    }
    /* The first line we write (the frame's or the pad's header) is the one
     * an idle consumer polls: asking for it now overlaps its transfer with
     * the rest of reserve and the caller's writes (a round trip ~10% faster,
     * DESIGN §2.4). Only once the space is ours: never a line still read. */
    zipc__prefetch_write_if(tx->prefetch_write, tx->ring.base + off);
    tx->res_start = tx->tail;
    tx->res_pos = tx->tail + pad;
    tx->res_end = tx->res_pos + frame;
    tx->res_size = (uint32_t)size;
    tx->reserving = true;
    if (tx->prefetch_ahead && frame <= ZIPC__AHEAD_FRAME)
        zipc__ring_tx_prefetch_ahead(tx, frame);
    /* A terminator, if needed, goes in first, in free space nobody reads
     * yet: taking its cache line now overlaps with the caller's writes. */
    zipc__ring_tx_terminate_if_stale(tx, tx->res_end);
    *buf = tx->ring.base + (tx->res_pos & tx->ring.mask) + ZIPC_FRAME_HEADER;
    return 0;
}

/* Commit the reservation as a message of `size` (<= reserved) bytes. With
 * `more` it is staged, published by the next commit without it or a flush.
 * Never blocks. */
ZIPC__RING_INLINE int zipc__ring_tx_commit(struct zipc__ring_tx *tx, size_t size, uint32_t type, bool more)
{
    if (ZIPC__UNLIKELY(!tx->reserving || size > tx->res_size))
        return zipc__ring_tx_misuse(tx);
    uint64_t end = tx->res_pos + zipc__frame_bytes(size);
    zipc__ring_tx_reservation_stale(tx);
    if (end != tx->res_end)
        zipc__ring_tx_terminate_if_stale(tx, end); /* committed shorter: the frame now ends earlier */
    zipc__ring_tx_slot_set_fresh(tx, tx->res_pos);
    struct zipc_frame *f = zipc__ring_frame(&tx->ring, tx->res_pos);
    f->size = (uint32_t)size; /* plain: published by the publish exchange (§2.5 #5) */
    f->type = type;
    uint64_t first_mark = ZIPC_FRAME_MARK(tx->seq, ZIPC_FRAME_MSG);
    if (ZIPC__UNLIKELY(tx->res_pos != tx->res_start)) /* padded: the pad is the first header */
        first_mark = zipc__ring_tx_commit_pad(tx, f, first_mark);
    if (tx->staged == 0) {
        tx->pending_at = tx->res_start;
        tx->pending_mark = first_mark;
    } else { /* relaxed: unreachable until pending_at's mark is published (§2.5 #6) */
        zipc__store(&zipc__ring_frame(&tx->ring, tx->res_start)->mark, first_mark, ZIPC__RELAXED);
    }
    tx->seq++;
    tx->tail = end;
    tx->reserving = false;
    tx->staged++;
    if (!more)
        zipc__ring_tx_publish(tx);
    if (ZIPC__UNLIKELY(--tx->commits_to_check == 0))
        zipc__ring_tx_check_peer(tx);
    return 0;
}

static inline int zipc__ring_tx_send(struct zipc__ring_tx *tx, const void *data, size_t size,
                                     uint32_t type, int64_t timeout_ns)
{
    void *buf;
    int err = zipc__ring_tx_reserve(tx, size, &buf, timeout_ns);
    if (err)
        return err;
    if (size)
        zipc__copy(buf, data, size);
    return zipc__ring_tx_commit(tx, size, type, false);
}

/* ---- consumer half -------------------------------------------------------- */

/* Bind to a fresh ring, from position 0. */
void zipc__ring_rx_bind(struct zipc__ring_rx *rx, const struct zipc__ring *ring,
                        struct zipc_channel_side *mine, struct zipc__waiter *w);
/* Move the read position (and the head: open views are dropped) to `pos`,
 * a frame boundary holding message number `seq`, and publish that head. */
void zipc__ring_rx_seek(struct zipc__ring_rx *rx, uint64_t pos, uint64_t seq);
/* Has the ring overtaken the read position (a topic reader)? Has it
 * overwritten anything from `pos` on (a view starting there)? */
bool zipc__ring_rx_lapped(const struct zipc__ring_rx *rx);
bool zipc__ring_rx_overwritten(const struct zipc__ring_rx *rx, uint64_t pos);
void zipc__ring_rx_free(struct zipc__ring_rx *rx);
/* Take the frame at rpos without waiting: 0, -EAGAIN (not published yet)
 * or -EBADMSG. */
int zipc__ring_rx_take(struct zipc__ring_rx *rx, struct zipc_msg *msg);
/* A frame that is not what its mark said: -EOVERFLOW for a topic reader
 * the ring overtook, else the half fails (-EBADMSG). */
int zipc__ring_rx_corrupt_or_lapped(struct zipc__ring_rx *rx, uint64_t pos);

/* The end of every take: the expected message's mark at `pos` was read
 * with acquire (the read position, or offset 0 after a pad). Size and type
 * are read once into locals after the mark, then checked: the peer may
 * rewrite them. 0, -EOVERFLOW (a topic reader overtaken) or -EBADMSG. */
ZIPC__RING_INLINE int zipc__ring_rx_accept(struct zipc__ring_rx *rx, uint64_t pos, struct zipc_msg *msg)
{
    uint64_t off = pos & rx->ring.mask;
    const struct zipc_frame *f = (const void *)(rx->ring.base + off);
    /* relaxed: after the mark's acquire; read once, then checked (§2.5 #10) */
    uint32_t size = zipc__load(&f->size, ZIPC__RELAXED);
    uint32_t type = zipc__load(&f->type, ZIPC__RELAXED);
    /* A topic reader: the frame may have been reclaimed and partly rewritten
     * after its mark was read (the mark intact, the size torn). */
    if (ZIPC__UNLIKELY(rx->oldest) && zipc__ring_rx_overwritten(rx, pos))
        return -EOVERFLOW;
    uint64_t frame = zipc__frame_bytes(size);
    if (ZIPC__UNLIKELY(size > rx->ring.max_message || off + frame > rx->ring.size))
        return zipc__ring_rx_corrupt_or_lapped(rx, pos);
    msg->data = rx->ring.base + off + ZIPC_FRAME_HEADER;
    msg->size = size;
    msg->type = type;
    msg->seq = rx->taken++;
    msg->end_ = pos + frame;
    rx->rpos = pos + frame;
    rx->last_frame = (uint32_t)frame; /* <= ring / 2 <= 2^31 */
    rx->expect_seq++;
    rx->views++;
    return 0;
}
/* view's slow path: wait for the next frame (-EPIPE sticks), then take it. */
int zipc__ring_rx_wait_take(struct zipc__ring_rx *rx, struct zipc_msg *msg, int64_t timeout_ns);
/* The first message waits (timeout_ns), the rest are taken if published:
 * the count (>= 1) or an error. */
int zipc__ring_rx_drain(struct zipc__ring_rx *rx, struct zipc_msg *msgs, unsigned max, int64_t timeout_ns);
/* Copy the next message out and release it; -EMSGSIZE keeps it (*size set). */
int zipc__ring_rx_recv(struct zipc__ring_rx *rx, void *buf, size_t cap, size_t *size, uint32_t *type,
                       int64_t timeout_ns);
/* Release [head, end), `count` views from the oldest, and every view after
 * them that release_view already gave back out of order. */
void zipc__ring_rx_release_in_order(struct zipc__ring_rx *rx, uint64_t end, uint64_t count);
/* Note a view released while an older one is open, for release_in_order. */
int zipc__ring_rx_release_late(struct zipc__ring_rx *rx, const struct zipc_msg *msg);

/* The first looks of a spin, inline: a message that comes within a few
 * pauses (a round trip's reply) is taken without the general wait's calls
 * in between; its arrival is what the reply waits for (DESIGN §3.1). They
 * start ~36 ns after the take that found nothing (rx->quiet_pauses): a
 * reply cannot come sooner than a round trip, and looking at once made the
 * 32 B round trip slower (DESIGN §3.1, "a quiet start"). */
#define ZIPC__RX_FIRST_LOOKS 16

ZIPC__RING_INLINE int zipc__ring_rx_view(struct zipc__ring_rx *rx, struct zipc_msg *msg, int64_t timeout_ns)
{
    if (ZIPC__UNLIKELY(rx->sticky_err || !msg))
        return rx->sticky_err ? rx->sticky_err : -EINVAL;
    int err = zipc__ring_rx_take(rx, msg);
    if (ZIPC__LIKELY(err != -EAGAIN))
        return err;
    if (timeout_ns != 0 && rx->wait->spin_ns > 0) {
        const uint64_t *mark = &zipc__ring_frame(&rx->ring, rx->rpos)->mark;
        uint64_t want = ZIPC_FRAME_MARK(rx->expect_seq, ZIPC_FRAME_MSG); /* a pad: the wait's case */
        for (uint32_t i = 0; i < rx->quiet_pauses; i++)
            zipc__cpu_relax();
        for (int i = 0; i < ZIPC__RX_FIRST_LOOKS; i++) {
            zipc__cpu_relax();
            /* acquire: pairs with the publishing exchange, as a take's (§2.5 #9) */
            if (zipc__load(mark, ZIPC__ACQUIRE) == want)
                return zipc__ring_rx_accept(rx, rx->rpos, msg);
        }
    }
    return zipc__ring_rx_wait_take(rx, msg, timeout_ns);
}

/* Hand [head, end) back to the producer: `count` messages. */
static inline void zipc__ring_rx_release_to(struct zipc__ring_rx *rx, uint64_t end, uint32_t count)
{
    struct zipc_channel_side *me = rx->mine;
    /* relaxed: single writer, informative (§2.5 #11) */
    zipc__store(&me->messages, zipc__load(&me->messages, ZIPC__RELAXED) + count, ZIPC__RELAXED);
    /* seq_cst exchange: a release of our reads of the frames, and the store
     * half of the Dekker pair with the producer's sleep flag (§2.5 #12). */
    zipc__xchg(&me->position, end, ZIPC__SEQ_CST);
    rx->head = end;
    rx->views -= count;
    zipc__wake_peer(rx->wait);
}

/* Releasing writes head: refused on a corrupt ring and by an unbound half,
 * still allowed after the producer is gone (-EPIPE). */
static inline int zipc__ring_rx_release_check(const struct zipc__ring_rx *rx)
{
    return rx->sticky_err == -EPIPE ? 0 : rx->sticky_err;
}

/* Is `m` one of the open views? (It may come from a caller's stale copy.) */
static inline bool zipc__ring_rx_view_open(const struct zipc__ring_rx *rx, const struct zipc_msg *m)
{
    uint64_t first_open = rx->taken - rx->views;
    return m->seq >= first_open && m->seq < rx->taken && m->end_ - rx->head <= rx->rpos - rx->head &&
           m->end_ != rx->head && !(m->end_ & (ZIPC_FRAME_ALIGN - 1));
}

/* Every open view back to the producer. Never blocks. */
ZIPC__RING_INLINE int zipc__ring_rx_release(struct zipc__ring_rx *rx)
{
    int err = zipc__ring_rx_release_check(rx);
    if (ZIPC__UNLIKELY(err))
        return err;
    if (rx->rpos != rx->head)
        zipc__ring_rx_release_in_order(rx, rx->rpos, rx->views);
    return 0;
}

/* 0 if `m` may be released: an open view of a half that may release. */
static inline int zipc__ring_rx_releasable(const struct zipc__ring_rx *rx, const struct zipc_msg *m)
{
    int err = zipc__ring_rx_release_check(rx);
    if (ZIPC__UNLIKELY(err || !m))
        return err ? err : -EINVAL;
    return zipc__ring_rx_view_open(rx, m) ? 0 : -EINVAL; /* released already, or never viewed */
}

/* The open views up to and including `last`, oldest first. */
static inline int zipc__ring_rx_release_upto(struct zipc__ring_rx *rx, const struct zipc_msg *last)
{
    int err = zipc__ring_rx_releasable(rx, last);
    if (err)
        return err;
    zipc__ring_rx_release_in_order(rx, last->end_, last->seq + 1 - (rx->taken - rx->views));
    return 0;
}

/* One view, in any order; the oldest open one (always, with one open view)
 * is released at once, without ledger work. */
ZIPC__RING_INLINE int zipc__ring_rx_release_view(struct zipc__ring_rx *rx, const struct zipc_msg *msg)
{
    /* The only open view, given back (the common case of view + release):
     * nothing older to wait for and nothing in the ledger. */
    if (ZIPC__LIKELY(msg && rx->views == 1 && msg->seq + 1 == rx->taken && msg->end_ == rx->rpos &&
                     !rx->ledger_used && zipc__ring_rx_release_check(rx) == 0)) {
        zipc__ring_rx_release_to(rx, rx->rpos, 1);
        return 0;
    }
    int err = zipc__ring_rx_releasable(rx, msg);
    if (err)
        return err;
    if (ZIPC__LIKELY(msg->seq == rx->taken - rx->views)) {
        zipc__ring_rx_release_in_order(rx, msg->end_, 1);
        return 0;
    }
    return zipc__ring_rx_release_late(rx, msg);
}

/* A run of views taken together (drain's array: consecutive seqs), in any
 * order relative to other views: one release when the run is the oldest.
 * Every view of the run is checked before any goes back (-EINVAL: not open,
 * not consecutive, or given back already). */
int zipc__ring_rx_release_views(struct zipc__ring_rx *rx, const struct zipc_msg *msgs, unsigned n);

#endif /* ZIPC_RING_H */

/* Ring halves: the slow and rare paths (the per-message calls are inline in
 * ring.h, which also describes the halves). */
#include <stdlib.h>
#include <string.h>

#include "ring.h"

#define ZIPC__LIVENESS_COMMITS 1024

uint64_t zipc__ring_capacity(size_t capacity)
{
    if (capacity < ZIPC_MIN_CAPACITY || capacity > ZIPC_MAX_CAPACITY)
        return 0;
    uint64_t c = ZIPC_MIN_CAPACITY;
    while (c < capacity)
        c <<= 1;
    return c;
}

void zipc__ring_init(struct zipc__ring *r, uint8_t *base, uint64_t size)
{
    r->base = base;
    r->size = size;
    r->mask = size - 1;
    r->max_message = (uint32_t)(size / 2 - ZIPC_FRAME_HEADER);
    r->lap_frames = (uint32_t)(size >> ZIPC__SLOT_SHIFT);
}

int zipc__ring_frame_step(const struct zipc__ring *r, uint64_t pos, uint64_t seq, uint64_t *next,
                           const struct zipc_frame **msg)
{
    uint64_t off = pos & r->mask;
    const struct zipc_frame *f = (const void *)(r->base + off);
    /* acquire: pairs with the publishing exchange, as a take (§2.5 #9) */
    uint64_t mark = zipc__load(&f->mark, ZIPC__ACQUIRE);
    if (mark == ZIPC_FRAME_MARK(seq, ZIPC_FRAME_PAD) && off != 0) {
        *next = pos + r->size - off;
        *msg = NULL;
        return 1;
    }
    if (mark != ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG))
        return 0;
    uint32_t size = zipc__load(&f->size, ZIPC__RELAXED); /* relaxed: after the mark (§2.5 #10) */
    uint64_t frame = zipc__frame_bytes(size);
    if (size > r->max_message || off + frame > r->size)
        return -EBADMSG;
    *next = pos + frame;
    *msg = f;
    return 1;
}

/* After a wait: a peer gone for good fails the half; other errors pass. */
static int waited(int *sticky_err, int err)
{
    return err == -EPIPE ? zipc__ring_fail(sticky_err, err) : err;
}

/* ------------------------------------------------------------------------
 * Producer
 * ------------------------------------------------------------------------ */

int zipc__ring_tx_bind(struct zipc__ring_tx *tx, const struct zipc__ring *ring,
                       struct zipc_channel_side *mine, const struct zipc_channel_side *peer,
                       struct zipc__waiter *w)
{
    size_t words = ((size_t)ring->lap_frames + 63) / 64;
    uint64_t *fresh = malloc(words * sizeof(*fresh));
    if (!fresh)
        return -ENOMEM;
    memset(fresh, 0xff, words * sizeof(*fresh)); /* a new ring is all zero: every slot starts fresh */
    bool owned = zipc__cpu_prefetch_write_ok();
    *tx = (struct zipc__ring_tx){.ring = *ring, .fresh = fresh, .mine = mine, .wait = w,
                                 .commits_to_check = ZIPC__LIVENESS_COMMITS, .peer = peer,
                                 .prefetch_write = owned, .prefetch_ahead = peer && owned};
    return 0;
}

int zipc__ring_tx_bind_at(struct zipc__ring_tx *tx, const struct zipc__ring *ring,
                          struct zipc_channel_side *mine, struct zipc__waiter *w, uint64_t tail, uint32_t seq,
                          uint64_t head)
{
    int err = zipc__ring_tx_bind(tx, ring, mine, NULL, w);
    if (err)
        return err;
    /* a ring written before: no slot is known to be fresh */
    memset(tx->fresh, 0, ((size_t)ring->lap_frames + 63) / 64 * sizeof(*tx->fresh));
    tx->tail = tx->published = tail;
    tx->cached_head = head;
    tx->seq = seq;
    return 0;
}

void zipc__ring_tx_free(struct zipc__ring_tx *tx)
{
    free(tx->fresh);
    tx->fresh = NULL;
}

/* Mark slots [from, to) stale; ring offsets, from <= to <= ring size. */
void zipc__ring_tx_slots_stale(struct zipc__ring_tx *tx, uint64_t from, uint64_t to)
{
    /* A word's worth of slots per step, whole words by memset: a 64 KiB
     * frame is ~17 words, a warm pad over most of a 16 MiB ring ~4000
     * (§2.7: one at a time cost ~10k cycles a pad). */
    uint64_t s = from >> ZIPC__SLOT_SHIFT, end = to >> ZIPC__SLOT_SHIFT;
    while (s < end && (s & 63)) { /* up to a word boundary */
        uint64_t bit = s & 63, n = end - s < 64 - bit ? end - s : 64 - bit;
        tx->fresh[s >> 6] &= ~(((n == 64 ? 0 : UINT64_C(1) << n) - 1) << bit);
        s += n;
    }
    uint64_t words = (end - s) >> 6;
    memset(&tx->fresh[s >> 6], 0, words * sizeof(tx->fresh[0]));
    s += words << 6;
    if (s < end)
        tx->fresh[s >> 6] &= ~((UINT64_C(1) << (end - s)) - 1);
}

/* A padded commit: write the pad header at res_start and the message's mark
 * (f, at offset 0) now; returns the pad's mark, which publishes both. */
uint64_t zipc__ring_tx_commit_pad(struct zipc__ring_tx *tx, struct zipc_frame *f, uint64_t msg_mark)
{
    struct zipc_frame *p = zipc__ring_frame(&tx->ring, tx->res_start);
    p->size = 0; /* plain: published by the pad's mark (§2.5 #5) */
    p->type = 0;
    uint64_t pad_off = tx->res_start & tx->ring.mask;
    zipc__ring_tx_slots_stale(tx, pad_off + ZIPC_FRAME_ALIGN, tx->ring.size); /* skipped, left as they were */
    zipc__ring_tx_slot_set_fresh(tx, tx->res_start);
    /* relaxed: unreachable until the pad's mark is published (§2.5 #6) */
    zipc__store(&f->mark, msg_mark, ZIPC__RELAXED);
    return ZIPC_FRAME_MARK(tx->seq, ZIPC_FRAME_PAD);
}

/* A consumer that died while we never had to wait: noticed within ~1024
 * commits and ~1 ms instead of only when the ring fills. */
void zipc__ring_tx_check_peer(struct zipc__ring_tx *tx)
{
    tx->commits_to_check = ZIPC__LIVENESS_COMMITS;
    if (zipc__peer_gone(tx->wait, false))
        zipc__ring_fail(&tx->sticky_err, -EPIPE);
}

/* Read the consumer's head and validate it against what we published. */
static int refresh_head(struct zipc__ring_tx *tx)
{
    if (tx->refresh)
        return tx->refresh(tx);
    /* seq_cst (a plain load on x86, ldar on arm64): the consumer finished
     * reading the frames before releasing them; seq_cst also puts this load
     * in the Dekker order after our sleep flag store (§2.5 #3). */
    uint64_t head = zipc__load(&tx->peer->position, ZIPC__SEQ_CST);
    if ((head & (ZIPC_FRAME_ALIGN - 1)) || head - tx->cached_head > tx->published - tx->cached_head)
        return zipc__ring_fail(&tx->sticky_err, -EBADMSG);
    tx->cached_head = head;
    return 0;
}

/* §2.7. A stream of large messages the consumer keeps up with would walk
 * the whole ring, each copy landing on lines long gone from the cache;
 * starting again at offset 0 when [0, frame + terminator) is free keeps it
 * on the ring's first frame, still warm. That space is freed by the
 * consumer's release of the message before: a channel waits a moment for
 * it (WARM_LOOKS looks at head); a wait that fails (a consumer behind, or
 * none ahead to release) places the next WARM_SKIPS frames without
 * waiting; a non-blocking reserve, a spin of 0, staged messages (the
 * consumer cannot see them yet) and one CPU for both sides (it cannot run
 * meanwhile) never wait. The other kinds (a topic's refresh reclaims, a
 * queue lane's walks claims) use the head they know. The pad is taken
 * only where the space check passes (reserve's need: pad + frame + ALIGN,
 * or pad + frame = the ring when the pad's header is the terminator slot). */
#define WARM_LOOKS 64
#define WARM_SKIPS 16

/* Does the frame fit at offset 0 behind a pad from `off`? Either [0, frame
 * + its terminator slot) is free in the next lap (the space check's own
 * test), or - a channel, everything released - the frame ends exactly where
 * the pad starts: its terminator slot is then the pad's own header, whose
 * mark (this message's seq) reads "not yet" once the message is taken.
 * Frames of one size keep to the slot at 0 so, not two slots in turn. */
static bool warm_fits(const struct zipc__ring_tx *tx, uint64_t off, uint64_t frame)
{
    uint64_t used = tx->tail - tx->cached_head;
    return used + frame + ZIPC_FRAME_ALIGN <= off || (!tx->refresh && used == 0 && frame == off);
}

uint64_t zipc__ring_tx_warm_pad(struct zipc__ring_tx *tx, uint64_t off, uint64_t frame, int64_t timeout_ns)
{
    if (off < frame)
        return 0; /* at 0 already, or the frame would run into the tail's own lines */
    if (warm_fits(tx, off, frame))
        return tx->ring.size - off;
    if (tx->refresh)
        return 0;
    bool wait = timeout_ns != 0 && tx->warm_skips == 0 && tx->staged == 0 && tx->wait->spin_ns > 0 &&
                !zipc__waiter_one_cpu(tx->wait);
    tx->warm_skips -= tx->warm_skips > 0;
    for (int looks = 0; looks < (wait ? WARM_LOOKS : 1); looks++) {
        if (refresh_head(tx))
            return 0; /* a corrupt head: sticky, reserve returns it */
        if (warm_fits(tx, off, frame))
            return tx->ring.size - off;
        zipc__cpu_relax();
    }
    if (wait)
        tx->warm_skips = WARM_SKIPS;
    return 0;
}

static int space_ready(void *ctx)
{
    struct zipc__ring_tx *tx = ctx;
    int err = refresh_head(tx);
    if (err)
        return err;
    return tx->tail + tx->need - tx->cached_head <= tx->ring.size;
}

/* The ring is full: the consumer is behind and frees a frame per release.
 * Taking each freed frame at once would pull the consumer's head line across
 * for every message (and the consumer's next release pulls it back): wait a
 * moment for a slice of the ring instead, so the line crosses once a slice.
 * Bounded (ZIPC__SLICE_LOOKS looks), and everything committed is already
 * published, so it delays only this reservation, never a message's
 * visibility; space for `need` alone is then waited for as before. */
#define ZIPC__SLICE_SHIFT 4     /* a slice: 1/16 of the ring */
#define ZIPC__SLICE_LOOKS 64
#define ZIPC__SLICE_PAUSES 8    /* pauses between two looks at head */

static void await_slice(struct zipc__ring_tx *tx, uint64_t need, int64_t timeout_ns)
{
    if (timeout_ns == 0)
        return; /* a non-blocking call takes what is free now */
    uint64_t slice = tx->ring.size >> ZIPC__SLICE_SHIFT, want = need + slice;
    if (need >= slice || tx->wait->spin_ns <= 0 || tx->refresh)
        return; /* a frame that large costs far more than a line: take the space at once;
                   many cursors (a topic) are read a slice at a time by refresh itself */
    for (unsigned i = 0; i < ZIPC__SLICE_LOOKS; i++) {
        for (unsigned k = 0; k < ZIPC__SLICE_PAUSES; k++)
            zipc__cpu_relax();
        if (refresh_head(tx) || tx->tail + want - tx->cached_head <= tx->ring.size)
            return; /* an error is seen again by the wait below */
    }
}

int zipc__ring_tx_wait_space(struct zipc__ring_tx *tx, uint64_t need, int64_t timeout_ns)
{
    if (tx->staged)
        zipc__ring_tx_publish(tx); /* staged messages must be visible, or the consumer can never free space */
    if (zipc__peer_gone(tx->wait, false))
        return zipc__ring_fail(&tx->sticky_err, -EPIPE);
    tx->need = need;
    await_slice(tx, need, timeout_ns);
    /* the consumer must read about `need` bytes before they come back */
    return waited(&tx->sticky_err, zipc__wait(tx->wait, space_ready, tx, need, timeout_ns));
}

int zipc__ring_tx_abort(struct zipc__ring_tx *tx)
{
    if (!tx->reserving)
        return zipc__ring_tx_misuse(tx);
    /* Only a terminator beyond the tail was written: unreachable. */
    zipc__ring_tx_reservation_stale(tx);
    tx->reserving = false;
    return 0;
}

int zipc__ring_tx_flush(struct zipc__ring_tx *tx)
{
    if (tx->sticky_err)
        return tx->sticky_err; /* never publish into a corrupt ring */
    if (tx->staged)
        zipc__ring_tx_publish(tx);
    return 0;
}

void zipc__ring_tx_stop(struct zipc__ring_tx *tx)
{
    tx->reserving = false;
    if (tx->staged && !tx->sticky_err)
        zipc__ring_tx_publish(tx);
}

/* ------------------------------------------------------------------------
 * Consumer
 * ------------------------------------------------------------------------ */

void zipc__ring_rx_bind(struct zipc__ring_rx *rx, const struct zipc__ring *ring,
                        struct zipc_channel_side *mine, struct zipc__waiter *w)
{
    *rx = (struct zipc__ring_rx){.ring = *ring, .mine = mine, .wait = w, .quiet_pauses = zipc__quiet_pauses()};
}

void zipc__ring_rx_free(struct zipc__ring_rx *rx)
{
    free(rx->ledger);
    rx->ledger = NULL;
    rx->ledger_cap = rx->ledger_used = 0;
}

void zipc__ring_rx_seek(struct zipc__ring_rx *rx, uint64_t pos, uint64_t seq)
{
    rx->head = rx->rpos = pos;
    rx->expect_seq = (uint32_t)seq;
    rx->taken = seq;
    rx->views = 0;
    if (rx->ledger)
        memset(rx->ledger, 0, rx->ledger_cap * sizeof(*rx->ledger));
    rx->ledger_used = 0;
    /* relaxed: informative, read with the head (§2.5 #11) */
    zipc__store(&rx->mine->messages, seq, ZIPC__RELAXED);
    /* seq_cst: as a release's exchange of the head (§2.5 #12) */
    zipc__xchg(&rx->mine->position, pos, ZIPC__SEQ_CST);
}

bool zipc__ring_rx_overwritten(const struct zipc__ring_rx *rx, uint64_t pos)
{
    /* acquire fence, then the oldest: whatever overwritten byte we read was
     * written after the publisher stored the oldest past it and fenced
     * (§2.5 #23), so that store is visible here. */
    zipc__fence(ZIPC__ACQUIRE);
    uint64_t oldest = zipc__load(rx->oldest, ZIPC__RELAXED);
    return (int64_t)(oldest - pos) > 0;
}

bool zipc__ring_rx_lapped(const struct zipc__ring_rx *rx) { return zipc__ring_rx_overwritten(rx, rx->rpos); }

/* The frame read at `pos` (the read position, or the message after the pad
 * there) is not what it should be: overwritten by the publisher (a topic
 * reader: -EOVERFLOW, not sticky), or corrupt. */
int zipc__ring_rx_corrupt_or_lapped(struct zipc__ring_rx *rx, uint64_t pos)
{
    if (rx->oldest && zipc__ring_rx_overwritten(rx, pos))
        return -EOVERFLOW;
    return zipc__ring_fail(&rx->sticky_err, -EBADMSG);
}

/* What a mark at the read position says: 1 the expected frame (message or
 * pad), 0 not yet (zero, or a header at most one lap old), -EOVERFLOW
 * overtaken (a topic reader), else corrupt. Split in two: the spin loop and
 * every take run the inline half, and on a round trip it sits between a
 * message's arrival and its reply (DESIGN §2.4). */
static int mark_state_slow(struct zipc__ring_rx *rx, uint64_t mark)
{
    if (mark == ZIPC_FRAME_MARK(rx->expect_seq, ZIPC_FRAME_PAD))
        return 1;
    uint32_t kind = (uint32_t)mark, age = rx->expect_seq - (uint32_t)(mark >> 32);
    if (mark == 0 || ((kind == ZIPC_FRAME_MSG || kind == ZIPC_FRAME_PAD) && age - 1 < rx->ring.lap_frames))
        return rx->oldest && zipc__ring_rx_lapped(rx) ? -EOVERFLOW : 0;
    return zipc__ring_rx_corrupt_or_lapped(rx, rx->rpos);
}

static inline int mark_state(struct zipc__ring_rx *rx, uint64_t mark)
{
    if (ZIPC__LIKELY(mark == ZIPC_FRAME_MARK(rx->expect_seq, ZIPC_FRAME_MSG)))
        return 1;
    if (mark == 0 && !rx->oldest) /* not yet, and no writer can overtake us */
        return 0;
    return mark_state_slow(rx, mark);
}

static int data_ready(void *ctx)
{
    struct zipc__ring_rx *rx = ctx;
    /* seq_cst (a plain load on x86, ldar on arm64): the Dekker re-check
     * after our sleep flag store (§2.5 #8). */
    return mark_state(rx, zipc__load(&zipc__ring_frame(&rx->ring, rx->rpos)->mark, ZIPC__SEQ_CST));
}

/* Nothing changes unless a message is taken: a failed take leaves the read
 * position where the next call (or overtaken()) judges it again. */
int zipc__ring_rx_take(struct zipc__ring_rx *rx, struct zipc_msg *msg)
{
    uint64_t pos = rx->rpos, off = pos & rx->ring.mask;
    const struct zipc_frame *f = (const void *)(rx->ring.base + off);
    /* acquire: pairs with the producer's publishing exchange, so the header
     * and payload written before it are visible (§2.5 #9). */
    uint64_t mark = zipc__load(&f->mark, ZIPC__ACQUIRE);
    int state = mark_state(rx, mark);
    if (state <= 0)
        return state < 0 ? state : -EAGAIN;
    if (mark == ZIPC_FRAME_MARK(rx->expect_seq, ZIPC_FRAME_PAD) && off != 0) {
        /* The message after a pad was marked before the pad was published.
         * A topic reader's pad mark may also be an overwritten frame's mark
         * whose kind byte a new lap's payload rewrote: the read position
         * stays on the pad until the message is there, so that a miss is
         * judged where the pad was read (overtaken, not corrupt). Offset 0
         * always holds a header: the message's mark proves the pad. */
        pos += rx->ring.size - off;
        f = (const void *)rx->ring.base;
        mark = zipc__load(&f->mark, ZIPC__ACQUIRE); /* acquire: as above (§2.5 #9) */
    }
    if (mark != ZIPC_FRAME_MARK(rx->expect_seq, ZIPC_FRAME_MSG))
        return zipc__ring_rx_corrupt_or_lapped(rx, rx->rpos);
    return zipc__ring_rx_accept(rx, pos, msg);
}

int zipc__ring_rx_wait_take(struct zipc__ring_rx *rx, struct zipc_msg *msg, int64_t timeout_ns)
{
    /* -EPIPE: drained and the producer is gone, for good */
    /* the producer is likely writing a frame as big as the last one */
    int err = waited(&rx->sticky_err, zipc__wait(rx->wait, data_ready, rx, rx->last_frame, timeout_ns));
    return err ? err : zipc__ring_rx_take(rx, msg);
}

int zipc__ring_rx_drain(struct zipc__ring_rx *rx, struct zipc_msg *msgs, unsigned max, int64_t timeout_ns)
{
    int err = zipc__ring_rx_view(rx, &msgs[0], timeout_ns);
    if (err)
        return err;
    unsigned n = 1;
    while (n < max && zipc__ring_rx_take(rx, &msgs[n]) == 0)
        n++;
    return (int)n; /* a corrupt frame after the first shows on the next call */
}

/* The newest view goes back unreleased: the next view takes it again. */
static void unview_newest(struct zipc__ring_rx *rx, const struct zipc_msg *m)
{
    rx->rpos -= zipc__frame_bytes(m->size);
    rx->expect_seq--;
    rx->taken--;
    rx->views--;
}

int zipc__ring_rx_recv(struct zipc__ring_rx *rx, void *buf, size_t cap, size_t *size, uint32_t *type,
                       int64_t timeout_ns)
{
    if (rx->sticky_err)
        return rx->sticky_err;
    if (rx->views)
        return -EALREADY; /* recv releases: it must not release the caller's open views */
    struct zipc_msg m;
    int err = zipc__ring_rx_view(rx, &m, timeout_ns);
    if (err)
        return err;
    if (size)
        *size = m.size;
    if (type)
        *type = m.type;
    if (m.size > cap) {
        unview_newest(rx, &m);
        return -EMSGSIZE;
    }
    zipc__copy(buf, m.data, m.size);
    if (rx->oldest && zipc__ring_rx_overwritten(rx, m.end_ - zipc__frame_bytes(m.size))) {
        unview_newest(rx, &m); /* the copy may be torn: never returned; overtaken */
        return -EOVERFLOW;
    }
    return zipc__ring_rx_release(rx);
}

static struct zipc__ledger_entry *ledger_slot(const struct zipc__ring_rx *rx, uint64_t seq)
{
    return &rx->ledger[seq & (rx->ledger_cap - 1)];
}

/* The entry of seq's out-of-order release, or NULL. */
static struct zipc__ledger_entry *ledger_find(const struct zipc__ring_rx *rx, uint64_t seq)
{
    struct zipc__ledger_entry *e = ledger_slot(rx, seq);
    return e->end && e->seq == seq ? e : NULL;
}

/* Drop the ledger entries of seqs [from, to): they were just released. */
static void ledger_forget(struct zipc__ring_rx *rx, uint64_t from, uint64_t to)
{
    for (uint64_t s = from; rx->ledger_used && s < to; s++) {
        struct zipc__ledger_entry *e = ledger_find(rx, s);
        if (e) {
            e->end = 0;
            rx->ledger_used--;
        }
    }
}

void zipc__ring_rx_release_in_order(struct zipc__ring_rx *rx, uint64_t end, uint64_t count)
{
    uint64_t first = rx->taken - rx->views;
    ledger_forget(rx, first, first + count);
    while (rx->ledger_used && count < rx->views) {
        struct zipc__ledger_entry *e = ledger_find(rx, first + count);
        if (!e)
            break;
        end = e->end;
        e->end = 0;
        rx->ledger_used--;
        count++;
    }
    zipc__ring_rx_release_to(rx, end, (uint32_t)count);
}

/* Room in the ledger for every open view: a power of two > views. */
static int ledger_fit(struct zipc__ring_rx *rx)
{
    if (rx->ledger_cap > rx->views)
        return 0;
    uint32_t cap = rx->ledger_cap ? rx->ledger_cap : 16;
    while (cap <= rx->views)
        cap *= 2;
    struct zipc__ledger_entry *l = calloc(cap, sizeof(*l));
    if (!l)
        return -ENOMEM;
    for (uint32_t i = 0; i < rx->ledger_cap; i++) /* pending seqs span < views < cap: no clash */
        if (rx->ledger[i].end)
            l[rx->ledger[i].seq & (cap - 1)] = rx->ledger[i];
    free(rx->ledger);
    rx->ledger = l;
    rx->ledger_cap = cap;
    return 0;
}

int zipc__ring_rx_release_views(struct zipc__ring_rx *rx, const struct zipc_msg *msgs, unsigned n)
{
    if (!msgs || n == 0)
        return -EINVAL;
    /* Every one checked before any goes back: open, consecutive, not given back already. */
    for (unsigned i = 0; i < n; i++) {
        int err = zipc__ring_rx_releasable(rx, &msgs[i]);
        if (err)
            return err;
        if (msgs[i].seq != msgs[0].seq + i || (rx->ledger_used && ledger_find(rx, msgs[i].seq)))
            return -EINVAL;
    }
    if (msgs[0].seq == rx->taken - rx->views) {
        zipc__ring_rx_release_in_order(rx, msgs[n - 1].end_, n);
        return 0;
    }
    int err = ledger_fit(rx); /* the one step that can fail, before the first entry */
    for (unsigned i = 0; i < n && !err; i++)
        err = zipc__ring_rx_release_late(rx, &msgs[i]);
    return err;
}

int zipc__ring_rx_release_late(struct zipc__ring_rx *rx, const struct zipc_msg *msg)
{
    int err = ledger_fit(rx);
    if (err)
        return err;
    if (ledger_find(rx, msg->seq))
        return -EINVAL; /* released already */
    *ledger_slot(rx, msg->seq) = (struct zipc__ledger_entry){.seq = msg->seq, .end = msg->end_};
    rx->ledger_used++;
    return 0;
}

/* Channel: one producer, one consumer, variable-size frames in one ring.
 *
 * An endpoint is one half of the ring (src/ring.h): the producer's tx half
 * or the consumer's rx half. The public calls check their pointer arguments
 * and forward to the half; the other half stays unbound, and its sticky
 * error (-EOPNOTSUPP) is what a wrong-role call returns. Setup binds the
 * halves to a segment received or created through the handshake. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ring.h"

struct zipc_channel {
    /* ---- per message: the bound half (by role) --------------------------- */
    struct zipc__ring_tx tx;
    struct zipc__ring_rx rx;
    /* ---- read per publish and release (the peer's sleep flag), and on waits */
    _Alignas(ZIPC_CACHE_LINE) struct zipc__waiter wait;
    /* ---- cold ---------------------------------------------------------- */
    struct zipc__segment seg;
    struct zipc_channel_side *mine;
    int role;
    int peer_pid;
};
/* Each group starts a cache line of its own (the endpoint is allocated
 * cache-line aligned): the bound half's fields share no line with the rest. */
_Static_assert(offsetof(struct zipc_channel, tx) == 0, "tx starts the endpoint");
_Static_assert(offsetof(struct zipc_channel, rx) % ZIPC_CACHE_LINE == 0, "rx on its own line");
_Static_assert(offsetof(struct zipc_channel, wait) % ZIPC_CACHE_LINE == 0, "the waiter on its own line");

/* ------------------------------------------------------------------------
 * Producer
 * ------------------------------------------------------------------------ */

int zipc_channel_reserve(zipc_channel *ch, size_t size, void **buf, int64_t timeout_ns)
{
    if (ZIPC__UNLIKELY(!ch || !buf))
        return -EINVAL;
    return zipc__ring_tx_reserve(&ch->tx, size, buf, timeout_ns);
}

int zipc_channel_commit(zipc_channel *ch, size_t size, uint32_t type, unsigned flags)
{
    if (ZIPC__UNLIKELY(!ch))
        return -EINVAL;
    if (ZIPC__UNLIKELY(flags & ~ZIPC_COMMIT_MORE))
        return zipc__ring_tx_misuse(&ch->tx);
    return zipc__ring_tx_commit(&ch->tx, size, type, flags & ZIPC_COMMIT_MORE);
}

int zipc_channel_abort(zipc_channel *ch)
{
    return ch ? zipc__ring_tx_abort(&ch->tx) : -EINVAL;
}

int zipc_channel_flush(zipc_channel *ch)
{
    return ch ? zipc__ring_tx_flush(&ch->tx) : -EINVAL;
}

int zipc_channel_send(zipc_channel *ch, const void *data, size_t size, uint32_t type,
                      int64_t timeout_ns)
{
    if (!ch || (!data && size))
        return -EINVAL;
    return zipc__ring_tx_send(&ch->tx, data, size, type, timeout_ns);
}

/* ------------------------------------------------------------------------
 * Consumer
 * ------------------------------------------------------------------------ */

int zipc_channel_view(zipc_channel *ch, struct zipc_msg *msg, int64_t timeout_ns)
{
    if (ZIPC__UNLIKELY(!ch))
        return -EINVAL;
    return zipc__ring_rx_view(&ch->rx, msg, timeout_ns);
}

int zipc_channel_drain(zipc_channel *ch, struct zipc_msg *msgs, unsigned max, int64_t timeout_ns)
{
    if (!ch || !msgs || max == 0)
        return -EINVAL;
    return zipc__ring_rx_drain(&ch->rx, msgs, max, timeout_ns);
}

int zipc_channel_release(zipc_channel *ch)
{
    if (ZIPC__UNLIKELY(!ch))
        return -EINVAL;
    return zipc__ring_rx_release(&ch->rx);
}

int zipc_channel_release_upto(zipc_channel *ch, const struct zipc_msg *last)
{
    return ch ? zipc__ring_rx_release_upto(&ch->rx, last) : -EINVAL;
}

int zipc_channel_release_view(zipc_channel *ch, const struct zipc_msg *msg)
{
    if (ZIPC__UNLIKELY(!ch))
        return -EINVAL;
    return zipc__ring_rx_release_view(&ch->rx, msg);
}

int zipc_channel_release_views(zipc_channel *ch, const struct zipc_msg *msgs, unsigned n)
{
    return ch ? zipc__ring_rx_release_views(&ch->rx, msgs, n) : -EINVAL;
}

int zipc_channel_recv(zipc_channel *ch, void *buf, size_t cap, size_t *size, uint32_t *type,
                      int64_t timeout_ns)
{
    if (!ch || (!buf && cap))
        return -EINVAL;
    return zipc__ring_rx_recv(&ch->rx, buf, cap, size, type, timeout_ns);
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
    ch->tx.sticky_err = ch->rx.sticky_err = ZIPC__RING_UNBOUND; /* until bind, by role */
    *out = ch;
    return 0;
}

/* ---- the channel as a kind of the endpoint layer ------------------------ */

struct channel_params {
    uint64_t ring_size;
    int listener_role;
};

static struct zipc_channel_ctl *ctl_of(const struct zipc__segment *seg)
{
    return (struct zipc_channel_ctl *)(seg->base + ZIPC_CHANNEL_BODY_OFFSET);
}

static void channel_init_body(struct zipc__segment *seg, const void *params)
{
    const struct channel_params *p = params;
    struct zipc_channel_ctl *ctl = ctl_of(seg);
    ctl->ring_offset = ZIPC_CHANNEL_RING_OFFSET;
    ctl->ring_size = p->ring_size;
    ctl->max_message = (uint32_t)(p->ring_size / 2 - ZIPC_FRAME_HEADER);
    ctl->frame_align = ZIPC_FRAME_ALIGN;
    ctl->listener_role = (uint32_t)p->listener_role;
}

/* The control block's layout, and a new channel's positions (for the
 * connector both come from the peer). Each field is read once; *ring_size
 * gets the validated value (the peer may change the field afterwards). */
static int channel_check_layout(const struct zipc__segment *seg, uint64_t *ring_size)
{
    const struct zipc_segment_header *h = (const void *)seg->base;
    const struct zipc_channel_ctl *ctl = ctl_of(seg);
    uint64_t ring_offset = ctl->ring_offset, size = ctl->ring_size;
    if (h->body_offset != ZIPC_CHANNEL_BODY_OFFSET || h->body_size != sizeof(*ctl) ||
        ring_offset != ZIPC_CHANNEL_RING_OFFSET || size < ZIPC_MIN_CAPACITY || size > ZIPC_MAX_CAPACITY ||
        (size & (size - 1)) || seg->size != ring_offset + size ||
        ctl->max_message != size / 2 - ZIPC_FRAME_HEADER || ctl->frame_align != ZIPC_FRAME_ALIGN)
        return -EBADMSG;
    /* The halves start from position 0: a new channel's, checked here.
     * acquire: a one-time check before anything is published (§2.5 #13). */
    if (zipc__load(&ctl->producer.position, ZIPC__ACQUIRE) != 0 ||
        zipc__load(&ctl->consumer.position, ZIPC__ACQUIRE) != 0)
        return -EBADMSG;
    *ring_size = size;
    return 0;
}

/* The endpoint layer's bind: validate, bind our half (the one step that can
 * fail, -ENOMEM), then take the segment, our wake fds and the link. */
static int channel_bind(void *ep, struct zipc__handover *h, const struct zipc__opts *o)
{
    zipc_channel *ch = ep;
    uint64_t ring_size;
    int err = channel_check_layout(&h->seg, &ring_size);
    if (err)
        return err;
    struct zipc_channel_ctl *ctl = ctl_of(&h->seg);
    bool producer = h->role == ZIPC_ROLE_PRODUCER;
    struct zipc_channel_side *mine = producer ? &ctl->producer : &ctl->consumer;
    struct zipc_channel_side *peer_side = producer ? &ctl->consumer : &ctl->producer;
    struct zipc__ring ring;
    zipc__ring_init(&ring, h->seg.base + ZIPC_CHANNEL_RING_OFFSET, ring_size);
    if (producer && (err = zipc__ring_tx_bind(&ch->tx, &ring, mine, peer_side, &ch->wait)))
        return err;
    if (!producer)
        zipc__ring_rx_bind(&ch->rx, &ring, mine, &ch->wait);
    ch->seg = h->seg;
    h->seg = (struct zipc__segment){.fd = -1};
    ch->role = h->role;
    ch->mine = mine;

    struct zipc__waiter *w = &ch->wait;
    int my_wake = producer ? ZIPC__FD_PRODUCER_WAKE : ZIPC__FD_CONSUMER_WAKE;
    int peer_wake = producer ? ZIPC__FD_CONSUMER_WAKE : ZIPC__FD_PRODUCER_WAKE;
    w->sock = h->peer.sock;
    w->pidfd = zipc__peer_pidfd(h->peer.sock, h->peer.pid);
    w->wake_fd = h->fds[my_wake];
    w->peer_wake_fd = h->fds[peer_wake];
    h->peer.sock = h->fds[my_wake] = h->fds[peer_wake] = -1;
    w->my_sleeping = producer ? &ctl->producer_wait.sleeping : &ctl->consumer_wait.sleeping;
    w->peer_sleeping = producer ? &ctl->consumer_wait.sleeping : &ctl->producer_wait.sleeping;
    w->peer_state = &peer_side->state;
    w->my_wakeups = &mine->wakeups;
    w->my_sleeps = &mine->sleeps;
    w->spin_ns = o->spin_ns;
    w->peer_pid = h->peer.pid;
    ch->peer_pid = h->peer.pid;
    /* relaxed pid, release ACTIVE: informative, nobody acquires it (§2.5 #14) */
    zipc__store(&mine->pid, (uint32_t)getpid(), ZIPC__RELAXED);
    zipc__store(&mine->state, ZIPC_STATE_ACTIVE, ZIPC__RELEASE);
    return 0;
}

static const struct zipc__kind_desc channel_kind = {
    .kind = ZIPC_KIND_CHANNEL,
    .nfds = ZIPC__CHANNEL_NFDS,
    .roles = 1u << ZIPC_ROLE_CONSUMER | 1u << ZIPC_ROLE_PRODUCER,
    .body_offset = ZIPC_CHANNEL_BODY_OFFSET,
    .body_size = sizeof(struct zipc_channel_ctl),
    .max_segment = ZIPC_CHANNEL_RING_OFFSET + ZIPC_MAX_CAPACITY,
    .policy = zipc__segment_policy_rw,
    .init_body = channel_init_body,
    .bind = channel_bind,
};

/* The end of every setup: the endpoint, or the error and nothing left. */
static int channel_done(zipc_channel **out, zipc_channel *ch, int err)
{
    if (err) {
        zipc_channel_close(ch);
        return err;
    }
    *out = ch;
    return 0;
}

int zipc_channel_listen(zipc_channel **out, const char *name, size_t capacity,
                        const struct zipc_options *opts)
{
    struct zipc__opts o;
    if (!out || !name)
        return -EINVAL;
    *out = NULL;
    int err = zipc__opts_resolve(opts, &o);
    uint64_t cap = zipc__ring_capacity(capacity);
    if (err || !cap)
        return err ? err : -EINVAL;
    int role = o.role == ZIPC_ROLE_PRODUCER ? ZIPC_ROLE_PRODUCER : ZIPC_ROLE_CONSUMER;
    int peer_role = role == ZIPC_ROLE_PRODUCER ? ZIPC_ROLE_CONSUMER : ZIPC_ROLE_PRODUCER;
    struct channel_params p = {.ring_size = cap, .listener_role = role};
    zipc_channel *ch;
    if ((err = channel_alloc(&ch)))
        return err;
    err = zipc__endpoint_listen(&channel_kind, ch, name, ZIPC_CHANNEL_RING_OFFSET + cap, &p, role, peer_role, &o);
    return channel_done(out, ch, err);
}

int zipc__channel_adopt(zipc_channel **out, int fds[ZIPC__CHANNEL_NFDS], int role, struct zipc__peer *peer,
                        const struct zipc__opts *o, uint64_t announced_size)
{
    zipc_channel *ch;
    int err = channel_alloc(&ch);
    if (err)
        return err;
    err = zipc__endpoint_adopt(&channel_kind, ch, fds, role, peer, o, announced_size);
    return channel_done(out, ch, err);
}

int zipc_channel_connect(zipc_channel **out, const char *name, const struct zipc_options *opts)
{
    struct zipc__opts o;
    if (!out || !name)
        return -EINVAL;
    *out = NULL;
    zipc_channel *ch;
    int err = zipc__opts_resolve(opts, &o);
    if (err || (err = channel_alloc(&ch)))
        return err;
    err = zipc__endpoint_connect(&channel_kind, ch, name, &o);
    return channel_done(out, ch, err);
}

int zipc_channel_shutdown(zipc_channel *ch)
{
    if (!ch)
        return -EINVAL;
    /* relaxed: our own field, written only by this endpoint */
    if (ch->seg.base && ch->mine && zipc__load(&ch->mine->state, ZIPC__RELAXED) != ZIPC_STATE_CLOSED) {
        if (ch->role == ZIPC_ROLE_PRODUCER)
            zipc__ring_tx_stop(&ch->tx); /* publishes what was staged */
        /* release: everything we published happens-before the peer seeing CLOSED (§2.5 #15). */
        zipc__store(&ch->mine->state, ZIPC_STATE_CLOSED, ZIPC__RELEASE);
        zipc__wake_peer_always(&ch->wait);
    }
    zipc__ring_fail(&ch->tx.sticky_err, -EPIPE); /* an unbound half keeps -EOPNOTSUPP */
    zipc__ring_fail(&ch->rx.sticky_err, -EPIPE);
    return 0;
}

int zipc_channel_close(zipc_channel *ch)
{
    if (!ch)
        return 0;
    zipc_channel_shutdown(ch);
    zipc__waiter_close(&ch->wait);
    zipc__segment_close(&ch->seg);
    zipc__ring_tx_free(&ch->tx);
    zipc__ring_rx_free(&ch->rx);
    free(ch);
    return 0;
}

/* ------------------------------------------------------------------------
 * Queries
 * ------------------------------------------------------------------------ */

int zipc_channel_role(const zipc_channel *ch) { return ch ? ch->role : -EINVAL; }

/* The bound half's geometry. */
static const struct zipc__ring *ring_of(const zipc_channel *ch)
{
    return ch->role == ZIPC_ROLE_PRODUCER ? &ch->tx.ring : &ch->rx.ring;
}

size_t zipc_channel_capacity(const zipc_channel *ch) { return ch ? ring_of(ch)->size : 0; }
size_t zipc_channel_max_message(const zipc_channel *ch) { return ch ? ring_of(ch)->max_message : 0; }
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
    /* relaxed: informative counters, written by this endpoint only (§2.5 #2, #11, #18) */
    st->messages = zipc__load(&ch->mine->messages, ZIPC__RELAXED);
    st->bytes = zipc__load(&ch->mine->position, ZIPC__RELAXED);
    st->wakeups = zipc__load(&ch->mine->wakeups, ZIPC__RELAXED);
    st->sleeps = zipc__load(&ch->mine->sleeps, ZIPC__RELAXED);
    return 0;
}

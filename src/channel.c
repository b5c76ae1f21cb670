/* Channel: one producer, one consumer, variable-size frames in one ring.
 *
 * An endpoint is one half of the ring (src/ring.h): the producer's tx half
 * or the consumer's rx half. The public calls check their pointer arguments
 * and forward to the half; the other half stays unbound, and its sticky
 * error (-EOPNOTSUPP) is what a wrong-role call returns. Setup binds the
 * halves to a segment received or created through the handshake. */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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
    ch->mine = producer ? &ctl->producer : &ctl->consumer;
    struct zipc_channel_side *peer_side = producer ? &ctl->consumer : &ctl->producer;
    /* The halves start from position 0: a new channel's, checked here.
     * acquire: a one-time check before anything is published (§2.5 #13). */
    uint64_t tail = zipc__load(&ctl->producer.position, ZIPC__ACQUIRE);
    uint64_t head = zipc__load(&ctl->consumer.position, ZIPC__ACQUIRE);
    if (tail != 0 || head != 0)
        return -EBADMSG;
    struct zipc__ring ring;
    zipc__ring_init(&ring, ch->seg.base + ring_offset, ring_size);
    if (producer) {
        int err = zipc__ring_tx_bind(&ch->tx, &ring, ch->mine, peer_side, &ch->wait);
        if (err)
            return err;
    } else {
        zipc__ring_rx_bind(&ch->rx, &ring, ch->mine, &ch->wait);
    }

    struct zipc__waiter *w = &ch->wait;
    w->sock = peer->sock;
    w->pidfd = open_pidfd(peer->sock, peer->pid);
    w->wake_fd = producer ? producer_efd : consumer_efd;
    w->peer_wake_fd = producer ? consumer_efd : producer_efd;
    w->my_sleeping = producer ? &ctl->producer_wait.sleeping : &ctl->consumer_wait.sleeping;
    w->peer_sleeping = producer ? &ctl->consumer_wait.sleeping : &ctl->producer_wait.sleeping;
    w->peer_state = &peer_side->state;
    w->my_wakeups = &ch->mine->wakeups;
    w->my_sleeps = &ch->mine->sleeps;
    w->spin_ns = o->spin_ns;
    ch->peer_pid = peer->pid;
    /* relaxed pid, release ACTIVE: informative, nobody acquires it (§2.5 #14) */
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
    int err = zipc__segment_create(&ch->seg, zipc__segment_policy_rw(0), ZIPC_KIND_CHANNEL,
                                   ZIPC_CHANNEL_RING_OFFSET + cap, ZIPC_CHANNEL_BODY_OFFSET,
                                   sizeof(struct zipc_channel_ctl), name);
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
        err = zipc__segment_attach(&ch->seg, zipc__segment_policy_rw(o->max_segment < abi_max ?
                                                                     o->max_segment : abi_max),
                                   fds[0], ZIPC_KIND_CHANNEL);
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

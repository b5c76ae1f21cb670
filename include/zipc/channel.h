/* zipc channel: SPSC — one producer, one consumer, variable-size framed
 * messages in a shared ring.
 *
 * Contract
 *   Concurrency: an endpoint (zipc_channel *) is owned by one thread at a
 *     time; calls on one endpoint must not run concurrently, except
 *     zipc_channel_interrupt(), which any thread (or a signal handler) may
 *     call at any time. The producer and the consumer endpoint may live in
 *     different processes or threads and run fully in parallel.
 *   Blocking: listen, connect and every call taking a timeout_ns; they spin
 *     for spin_ns, then sleep in the kernel until woken by the peer, the
 *     peer's death, zipc_channel_interrupt() or the timeout. Everything
 *     else never blocks.
 *   Allocation: listen and connect allocate the endpoint; release_view may
 *     grow its ledger when views are released out of order. No other call
 *     allocates or makes a system call on the fast path.
 *   Wrong role: a producer call on a consumer (or the reverse) returns
 *     -EOPNOTSUPP.
 */
#ifndef ZIPC_CHANNEL_H
#define ZIPC_CHANNEL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)


typedef struct zipc_channel zipc_channel;

/* One received message, valid from view until release. */
struct zipc_msg {
    const void *data; /* in the ring: 16-byte aligned (frames are 64), read-only */
    uint32_t size;
    uint32_t type;
    uint64_t seq;     /* this message's number on the channel, from 0 */
    uint64_t end_;    /* private: the ring position after it (release_upto, release_view) */
};

/* Create a channel under `name` (a name or a socket path, see common.h) and
 * wait (opts->timeout_ns) for one peer to connect. The name is free again once
 * the peer is connected (one peer per channel). `capacity` is the ring size in bytes: from ZIPC_MIN_CAPACITY
 * to ZIPC_MAX_CAPACITY (else -EINVAL), rounded up to a power of two. The socket file is
 * created with mode 0600; a stale file left by a dead listener is replaced.
 * A connecting peer of a foreign uid is refused (-EPERM on its side) and the
 * listener goes on waiting.
 * Returns 0, -EADDRINUSE (a live listener owns path), -ENOTSOCK, -ETIMEDOUT,
 * -EPROTO (peer speaks another ABI), -EINVAL, or a system errno. */
int zipc_channel_listen(zipc_channel **out, const char *name, size_t capacity,
                        const struct zipc_options *opts);

/* Connect to a listener at `name` (a name or a socket path), retrying until it appears or
 * opts->timeout_ns elapses. Validates the received segment completely
 * (size, seals, magic, version, kind, layout) before using it.
 * Returns 0, -ENOENT / -ECONNREFUSED (nothing listened at path before the
 * timeout), -ETIMEDOUT (the handshake stalled), -ENOTSOCK, -EPERM (listener
 * refused our uid, or its uid is not allowed by opts), -EACCES, -EPROTO,
 * -EBADMSG (the listener sent a malformed segment), -EFBIG (its segment is
 * larger than opts->max_segment), -EINTR, or a system errno. */
int zipc_channel_connect(zipc_channel **out, const char *name,
                         const struct zipc_options *opts);

/* Close the endpoint: the peer sees -EPIPE (after draining what was
 * committed). Any open reservation is aborted, any open views are released.
 * Returns 0; NULL is accepted. */
int zipc_channel_close(zipc_channel *ch);

/* Tell the peer we are done (it sees -EPIPE, after draining) without
 * unmapping: views and reservations stay readable until zipc_channel_close.
 * A producer publishes what it staged first. Later calls return -EPIPE.
 * For bindings whose zero-copy objects may outlive the endpoint. */
int zipc_channel_shutdown(zipc_channel *ch);

/* Wake the call blocked on this endpoint, from any thread (async-signal-safe:
 * an atomic store and an eventfd write). The blocked call returns -ECANCELED;
 * if none is blocked, the next blocking call on the endpoint does (the
 * interrupt is latched until one call consumes it). Bindings use it so that
 * close() from another thread ends a blocked receive. Returns 0. */
int zipc_channel_interrupt(zipc_channel *ch);

/* Role of this endpoint: ZIPC_ROLE_PRODUCER or ZIPC_ROLE_CONSUMER. */
int zipc_channel_role(const zipc_channel *ch);
/* Ring capacity in bytes and the largest message it always accepts
 * (capacity / 2 - ZIPC_FRAME_HEADER). */
size_t zipc_channel_capacity(const zipc_channel *ch);
size_t zipc_channel_max_message(const zipc_channel *ch);
/* Peer process id as the kernel reported it at the handshake (0 if unknown). */
int zipc_channel_peer_pid(const zipc_channel *ch);

/* A file descriptor for epoll/poll/asyncio. It becomes readable when the
 * awaited condition may hold (consumer: a message; producer: space) or the
 * peer is gone. Arming: once zipc_channel_fd() has been called, every call
 * on this endpoint that returns -EAGAIN arms the fd. So: try; on -EAGAIN
 * wait for readability; try again. Readability can be spurious. The fd is
 * owned by the channel; do not close it. Returns fd >= 0. */
int zipc_channel_fd(zipc_channel *ch);

/* ---- producer side ----------------------------------------------------
 * reserve:  returns a pointer to `size` writable bytes in the ring
 *           (16-byte aligned). Waits for space up to timeout_ns.
 *           -EMSGSIZE if size > max_message; -EALREADY if a reservation is
 *           open; -EPIPE if the consumer is gone; -EBADMSG if the segment
 *           is corrupt.
 * commit:   publishes the reservation as a message of `size` (<= reserved)
 *           bytes and type `type`. With ZIPC_COMMIT_MORE the message is staged:
 *           it becomes visible with the next commit without ZIPC_COMMIT_MORE or
 *           zipc_channel_flush() (batch publish). Never blocks.
 * abort:    drops the reservation; it leaves no trace in the ring.
 * flush:    publishes staged messages. Never blocks.
 * send:     copy `size` bytes in as one message (reserve + zipc_copy +
 *           commit). A caller filling a reservation should copy with
 *           zipc_copy too (common.h: memcpy is slow at a payload's offset
 *           on some CPUs).
 */
#define ZIPC_COMMIT_MORE 1u

int zipc_channel_reserve(zipc_channel *ch, size_t size, void **buf, int64_t timeout_ns);
int zipc_channel_commit(zipc_channel *ch, size_t size, uint32_t type, unsigned flags);
int zipc_channel_abort(zipc_channel *ch);
int zipc_channel_flush(zipc_channel *ch);
int zipc_channel_send(zipc_channel *ch, const void *data, size_t size, uint32_t type,
                      int64_t timeout_ns);

/* ---- consumer side ----------------------------------------------------
 * view:     fills *msg with the next message not yet viewed, in place in
 *           the ring (every field, when it returns 0; nothing is read from
 *           *msg: it need not be initialised). Waits up to timeout_ns. Several views may be open at
 *           once (they stay valid until release). When the producer is gone
 *           every committed message is still delivered, then -EPIPE.
 * drain:    views up to `max` messages at once: waits (timeout_ns) for the
 *           first, then takes what is already there without waiting.
 *           Returns the count (>= 1) or a negative errno.
 * release:  gives every viewed message back to the producer; their
 *           pointers become invalid. Never blocks.
 * release_upto: gives back the viewed messages up to and including `last`
 *           (in order: messages are released oldest first); later views
 *           stay valid. -EINVAL if `last` is not an open view. Never blocks.
 * release_view: gives back one view, in any order: the ring space returns
 *           to the producer oldest first, as soon as every older view is
 *           released too (the ledger lives in the endpoint; one open view
 *           costs no ledger work). -EINVAL if `msg` is not an open view.
 * release_views: release_view for a run of `n` views taken together (a
 *           drain's array), in one step when they are the oldest open ones.
 *           -EINVAL if they are not open, consecutive views.
 * recv:     copies the next message into buf (cap bytes) and releases it;
 *           -EMSGSIZE (message kept, *size set) if it does not fit.
 * -EBADMSG marks the channel broken: every later call returns it.
 */
int zipc_channel_view(zipc_channel *ch, struct zipc_msg *msg, int64_t timeout_ns);
int zipc_channel_drain(zipc_channel *ch, struct zipc_msg *msgs, unsigned max,
                       int64_t timeout_ns);
int zipc_channel_release(zipc_channel *ch);
int zipc_channel_release_upto(zipc_channel *ch, const struct zipc_msg *last);
int zipc_channel_release_view(zipc_channel *ch, const struct zipc_msg *msg);
int zipc_channel_release_views(zipc_channel *ch, const struct zipc_msg *msgs, unsigned n);
int zipc_channel_recv(zipc_channel *ch, void *buf, size_t cap, size_t *size, uint32_t *type,
                      int64_t timeout_ns);

/* Counters of this endpoint (from the shared control block). */
struct zipc_channel_stats {
    uint64_t messages;     /* committed (producer) / released (consumer) */
    uint64_t bytes;        /* ring bytes published / released, incl. framing */
    uint64_t wakeups;      /* times this side woke the sleeping peer */
    uint64_t sleeps;       /* times this side slept in the kernel */
};
int zipc_channel_get_stats(const zipc_channel *ch, struct zipc_channel_stats *st);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* ZIPC_CHANNEL_H */

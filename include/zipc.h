/* zipc — zero-copy inter-process communication over shared memory.
 *
 * Conventions (as in liburing):
 *   - every call returns int: 0 (or a count, where documented) on success,
 *     a negative errno on failure; zipc_strerror() explains each code;
 *   - names are object_verb under the zipc_ prefix;
 *   - timeouts are in nanoseconds: ZIPC_TRY (0) never blocks and returns
 *     -EAGAIN, ZIPC_FOREVER (-1) waits without limit, any other value waits
 *     at most that long and returns -ETIMEDOUT.
 *
 * Error codes the library returns (besides plain -EINVAL / -ENOMEM / a
 * system call's own errno):
 *   -EAGAIN     would block (try variant)           -ETIMEDOUT  timeout elapsed
 *   -EPIPE      the peer closed or died             -EPROTO     ABI / version mismatch
 *   -EBADMSG    corrupted or hostile shared segment -EMSGSIZE   message larger than the maximum
 *   -EPERM      peer credentials refused            -EADDRINUSE a live listener owns the path
 *   -EINTR      a signal interrupted a wait         -ENOTSOCK   path exists and is not a socket
 *   -EALREADY   a reservation/view is already open  -ENOENT     nothing listens at the path
 */
#ifndef ZIPC_H
#define ZIPC_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "zipc/abi.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#define ZIPC_VERSION_MAJOR 0
#define ZIPC_VERSION_MINOR 1
#define ZIPC_VERSION_PATCH 0

#define ZIPC_TRY ((int64_t)0)
#define ZIPC_FOREVER ((int64_t)-1)

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* A static, human-readable text for a negative (or positive) errno returned
 * by any zipc call. Never NULL. Thread-safe. */
const char *zipc_strerror(int err);

/* Library version as "MAJOR.MINOR.PATCH" and the shared-memory ABI version
 * this build speaks (ZIPC_ABI_MAJOR << 16 | ZIPC_ABI_MINOR). */
const char *zipc_version(void);
uint32_t zipc_abi_version(void);

/* ------------------------------------------------------------------------
 * Options (shared by every endpoint kind). A zeroed struct, or NULL, means
 * all defaults; each field's zero value is its default.
 * ------------------------------------------------------------------------ */

enum zipc_role {
    ZIPC_ROLE_DEFAULT = 0,  /* listener: consumer; connector: what the listener says */
    ZIPC_CONSUMER = 1,
    ZIPC_PRODUCER = 2,
};

enum zipc_option_flags {
    ZIPC_OPT_ANY_UID = 1u << 0,  /* listener: accept a peer of any uid */
    ZIPC_OPT_PEER_UID = 1u << 1, /* listener: also accept peer_uid (besides our own euid) */
    ZIPC_OPT_NO_SPIN = 1u << 2,  /* sleep at once instead of spinning first */
};

struct zipc_options {
    int32_t role;          /* enum zipc_role; only the listener chooses */
    uint32_t flags;        /* enum zipc_option_flags */
    int64_t timeout_ns;    /* handshake timeout; 0: 10 s; ZIPC_FOREVER: none */
    int64_t spin_ns;       /* busy-wait before sleeping; 0: 50 us */
    uint32_t socket_mode;  /* listener's socket file mode; 0: 0600 */
    uint32_t peer_uid;     /* with ZIPC_OPT_PEER_UID */
    const char *name;      /* label stored in the segment header (zipc stat); 0: the path */
};

/* ------------------------------------------------------------------------
 * Channel: one producer, one consumer, variable-size framed messages.
 *
 * Contract: an endpoint (zipc_channel *) is owned by one thread at a time;
 * calls on one endpoint must not run concurrently. The producer endpoint and
 * the consumer endpoint may live in different processes or threads and run
 * fully in parallel: that is the point. No call allocates or makes a system
 * call on the fast path; blocking calls spin for spin_ns, then sleep in the
 * kernel (woken by the peer, by the peer's death, or by the timeout).
 * ------------------------------------------------------------------------ */

typedef struct zipc_channel zipc_channel;

/* One received message, valid from view until release. */
struct zipc_msg {
    const void *data; /* in the ring: 16-byte aligned (frames are 64), read-only */
    uint32_t size;
    uint32_t type;
    uint64_t seq;     /* this message's number on the channel, from 0 */
    uint64_t end_;    /* private: the ring position after it (zipc_channel_release_upto) */
};

/* Create a channel at the Unix socket `path` and wait (opts->timeout_ns) for
 * one peer to connect. `capacity` is the ring size in bytes: from ZIPC_MIN_CAPACITY
 * to ZIPC_MAX_CAPACITY (else -EINVAL), rounded up to a power of two. The socket file is
 * created with mode 0600; a stale file left by a dead listener is replaced.
 * A connecting peer of a foreign uid is refused (-EPERM on its side) and the
 * listener goes on waiting.
 * Returns 0, -EADDRINUSE (a live listener owns path), -ENOTSOCK, -ETIMEDOUT,
 * -EPROTO (peer speaks another ABI), -EINVAL, or a system errno. */
int zipc_channel_listen(zipc_channel **out, const char *path, size_t capacity,
                        const struct zipc_options *opts);

/* Connect to a listener at `path`, retrying until it appears or
 * opts->timeout_ns elapses. Validates the received segment completely
 * (size, seals, magic, version, kind, layout) before using it.
 * Returns 0, -ENOENT / -ECONNREFUSED (nothing listened at path before the
 * timeout), -ETIMEDOUT (the handshake stalled), -ENOTSOCK, -EPERM (listener
 * refused our uid, or its uid is not allowed by opts), -EACCES, -EPROTO,
 * -EBADMSG (the listener sent a malformed segment), -EINTR, or a system errno. */
int zipc_channel_connect(zipc_channel **out, const char *path,
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

/* Role of this endpoint: ZIPC_PRODUCER or ZIPC_CONSUMER. */
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
 *           bytes and type `type`. With ZIPC_MORE the message is staged:
 *           it becomes visible with the next commit without ZIPC_MORE or
 *           zipc_channel_flush() (batch publish). Never blocks.
 * abort:    drops the reservation; it leaves no trace in the ring.
 * flush:    publishes staged messages. Never blocks.
 * send:     copy `size` bytes in as one message (reserve + memcpy + commit).
 */
#define ZIPC_MORE 1u

int zipc_channel_reserve(zipc_channel *ch, size_t size, void **buf, int64_t timeout_ns);
int zipc_channel_commit(zipc_channel *ch, size_t size, uint32_t type, unsigned flags);
int zipc_channel_abort(zipc_channel *ch);
int zipc_channel_flush(zipc_channel *ch);
int zipc_channel_send(zipc_channel *ch, const void *data, size_t size, uint32_t type,
                      int64_t timeout_ns);

/* ---- consumer side ----------------------------------------------------
 * view:     fills *msg with the next message not yet viewed, in place in
 *           the ring. Waits up to timeout_ns. Several views may be open at
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
 * recv:     copies the next message into buf (cap bytes) and releases it;
 *           -EMSGSIZE (message kept, *size set) if it does not fit.
 * -EBADMSG marks the channel broken: every later call returns it.
 */
int zipc_channel_view(zipc_channel *ch, struct zipc_msg *msg, int64_t timeout_ns);
int zipc_channel_drain(zipc_channel *ch, struct zipc_msg *msgs, unsigned max,
                       int64_t timeout_ns);
int zipc_channel_release(zipc_channel *ch);
int zipc_channel_release_upto(zipc_channel *ch, const struct zipc_msg *last);
int zipc_channel_recv(zipc_channel *ch, void *buf, size_t cap, size_t *size, uint32_t *type,
                      int64_t timeout_ns);

/* Counters of this endpoint (from the shared control block). */
struct zipc_channel_stats {
    uint64_t messages;     /* committed (producer) / released (consumer) */
    uint64_t bytes;        /* ring bytes published / released, incl. framing */
    uint64_t wakeups;      /* times this side woke the sleeping peer */
    uint64_t sleeps;       /* times this side slept in the kernel */
};
int zipc_channel_stats(const zipc_channel *ch, struct zipc_channel_stats *st);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* ZIPC_H */

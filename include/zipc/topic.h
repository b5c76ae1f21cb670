/* zipc topic: one publisher, many subscribers. The publisher writes each
 * message once into one ring; every subscriber reads it in place through a
 * cursor of its own, with an overflow policy of its own.
 *
 * Contract
 *   Concurrency: an endpoint (zipc_publisher *, zipc_subscriber *) is owned
 *     by one thread at a time; calls on one endpoint must not run
 *     concurrently, except *_interrupt(), which any thread (or a signal
 *     handler) may call. The publisher and every subscriber run fully in
 *     parallel, in any threads or processes.
 *   Blocking: create (no: it returns at once), subscribe (waits up to
 *     opts->timeout_ns for the publisher to exist) and every call taking a
 *     timeout_ns: they spin for spin_ns, then sleep until woken, a peer's
 *     death, *_interrupt() or the timeout. Everything else never blocks.
 *   Threads: the publisher runs one helper thread (the "door") that admits
 *     subscribers and watches them die; no other call starts a thread.
 *   Allocation: create and subscribe allocate; the publisher's door
 *     allocates per subscriber; release_view may grow the ledger. The
 *     per-message calls (reserve, commit, send, view, release) never
 *     allocate and make no system call unless they wake a sleeper or wait.
 *   Cost: publishing costs the same with 1 or 1000 subscribers: one ring
 *     write, no per-subscriber work on the fast path. Subscribers' cursors
 *     are read only when the ring looks full (a slice at a time).
 *
 * Overflow policies (chosen by each subscriber):
 *   ZIPC_SUB_BLOCK      lossless: the publisher waits (its timeout) for the
 *                       slowest BLOCK subscriber. Its views pin their frames.
 *   ZIPC_SUB_DROP_OLDEST never holds the publisher back. When the ring laps
 *                       it, the next view/drain/recv returns -EOVERFLOW once;
 *                       zipc_subscriber_last_loss() gives the exact number of
 *                       messages and ring bytes lost; the next call resumes at
 *                       the oldest message still in the ring (or the newest,
 *                       with ZIPC_SUB_RESUME_NEWEST). Its views are not
 *                       pinned: releasing a view the publisher overwrote
 *                       meanwhile returns -ESTALE (the bytes read through it
 *                       may be torn: discard what was computed from them).
 *                       recv copies and checks, so it never returns torn data.
 *   ZIPC_SUB_MAX_LAG    lossless while fewer than max_lag messages behind the
 *                       publisher (the publisher waits for it as for BLOCK);
 *                       beyond that it is treated as DROP_OLDEST, with the
 *                       loss reported the same way. max_lag >= the messages
 *                       the ring holds makes it BLOCK.
 * A dead subscriber (exited, killed, SIGKILL at any instruction) stops
 * counting as soon as the kernel has torn it down: no timeout, no cleanup
 * by anyone else. A lossless subscriber (BLOCK, MAX_LAG) whose head is
 * invalid (hostile or buggy memory writes: off the frame grid, ahead of
 * what was published, a BLOCK head behind the oldest frame) is evicted: its
 * calls return -EBADMSG; nobody else is affected. A DROP_OLDEST
 * subscriber's cursor is never read by the publisher: garbage there can
 * only mislead that subscriber. When the publisher closes or dies, subscribers receive every
 * committed message, then -EPIPE.
 */
#ifndef ZIPC_TOPIC_H
#define ZIPC_TOPIC_H

#include "channel.h" /* struct zipc_msg, ZIPC_COMMIT_MORE */

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct zipc_publisher zipc_publisher;
typedef struct zipc_subscriber zipc_subscriber;

#define ZIPC_TOPIC_DEFAULT_SUBSCRIBERS 64
#define ZIPC_TOPIC_MAX_SUBSCRIBERS 4096

enum zipc_sub_policy {
    ZIPC_SUB_BLOCK = 0,
    ZIPC_SUB_DROP_OLDEST = 1,
    ZIPC_SUB_MAX_LAG = 2,
};

enum zipc_sub_flags {
    ZIPC_SUB_RESUME_NEWEST = 1u << 0, /* after a loss, skip to the newest message */
};

/* What a subscriber asks for; NULL or zeroed: BLOCK, from the next message. */
struct zipc_subscription {
    uint32_t policy;   /* enum zipc_sub_policy */
    uint32_t flags;    /* enum zipc_sub_flags */
    uint64_t max_lag;  /* ZIPC_SUB_MAX_LAG: messages (>= 1) */
    uint64_t history;  /* start with the last `history` messages still in the ring
                          (0: with the next one published). If fewer remain, the
                          first call returns -EOVERFLOW with the gap as the loss. */
};

/* ---- publisher -----------------------------------------------------------
 * create: a topic under `name` (see common.h; a name or a socket path) with
 *   a ring of `capacity` bytes (ZIPC_MIN_CAPACITY..ZIPC_MAX_CAPACITY, rounded
 *   up to a power of two) and room for `max_subscribers` at once (0:
 *   ZIPC_TOPIC_DEFAULT_SUBSCRIBERS; at most ZIPC_TOPIC_MAX_SUBSCRIBERS).
 *   Returns at once; subscribers join and leave at any time. -EADDRINUSE
 *   while another publisher holds the name.
 * reserve/commit/abort/flush/send: as the channel's producer. reserve waits
 *   (timeout_ns) only for lossless subscribers (BLOCK, MAX_LAG below its
 *   bound); without any it never waits: it overwrites the oldest messages.
 * close: subscribers drain what was committed, then get -EPIPE; the name is
 *   free at once.
 */
int zipc_topic_create(zipc_publisher **out, const char *name, size_t capacity,
                      uint32_t max_subscribers, const struct zipc_options *opts);
int zipc_publisher_close(zipc_publisher *pub);
int zipc_publisher_reserve(zipc_publisher *pub, size_t size, void **buf, int64_t timeout_ns);
int zipc_publisher_commit(zipc_publisher *pub, size_t size, uint32_t type, unsigned flags);
int zipc_publisher_abort(zipc_publisher *pub);
int zipc_publisher_flush(zipc_publisher *pub);
int zipc_publisher_send(zipc_publisher *pub, const void *data, size_t size, uint32_t type,
                        int64_t timeout_ns);
int zipc_publisher_interrupt(zipc_publisher *pub);
/* Readable when a waiting reserve may find space (armed as the channel's). */
int zipc_publisher_fd(zipc_publisher *pub);
size_t zipc_publisher_capacity(const zipc_publisher *pub);
size_t zipc_publisher_max_message(const zipc_publisher *pub);
/* Subscribers attached now (live, not evicted). */
int zipc_publisher_subscribers(zipc_publisher *pub);

struct zipc_publisher_stats {
    uint64_t messages;     /* committed */
    uint64_t bytes;        /* ring bytes published, incl. framing */
    uint64_t wakeups;      /* wake-ups sent to sleeping subscribers */
    uint64_t sleeps;       /* times the publisher slept waiting for space */
    uint64_t subscribers;  /* attached now */
    uint64_t joined;       /* admitted since create */
    uint64_t departed;     /* left cleanly */
    uint64_t died;         /* found dead */
    uint64_t evicted;      /* evicted for an invalid cursor */
};
int zipc_publisher_get_stats(zipc_publisher *pub, struct zipc_publisher_stats *st);

/* ---- subscriber ------------------------------------------------------------
 * subscribe: attach to the topic `name`, waiting up to opts->timeout_ns for
 *   its publisher to exist (-ETIMEDOUT / -ENOENT). -ENOSPC when the topic has
 *   max_subscribers already. The data is mapped read-only: the kernel
 *   refuses any write to it.
 * view/drain/release/release_upto/release_view/release_views/recv: as the
 *   channel's consumer, plus -EOVERFLOW (a loss, reported once, see above),
 *   -ESTALE (a DROP view was overwritten) and -EBADMSG (evicted, or a
 *   corrupt ring).
 * latest: copies the newest message still in the ring whose type is `type`
 *   (ZIPC_TYPE_ANY: of any type), without moving the cursor: for state
 *   topics. -ENOENT if there is none; -EMSGSIZE (size set) if cap is short;
 *   -EAGAIN if the publisher overwrote it during each of 8 tries (call again).
 */
#define ZIPC_TYPE_ANY UINT32_C(0xFFFFFFFF)

int zipc_topic_subscribe(zipc_subscriber **out, const char *name,
                         const struct zipc_subscription *sub, const struct zipc_options *opts);
int zipc_subscriber_close(zipc_subscriber *sub);
int zipc_subscriber_view(zipc_subscriber *sub, struct zipc_msg *msg, int64_t timeout_ns);
int zipc_subscriber_drain(zipc_subscriber *sub, struct zipc_msg *msgs, unsigned max,
                          int64_t timeout_ns);
int zipc_subscriber_release(zipc_subscriber *sub);
int zipc_subscriber_release_upto(zipc_subscriber *sub, const struct zipc_msg *last);
int zipc_subscriber_release_view(zipc_subscriber *sub, const struct zipc_msg *msg);
int zipc_subscriber_release_views(zipc_subscriber *sub, const struct zipc_msg *msgs, unsigned n);
int zipc_subscriber_recv(zipc_subscriber *sub, void *buf, size_t cap, size_t *size,
                         uint32_t *type, int64_t timeout_ns);
int zipc_subscriber_latest(zipc_subscriber *sub, uint32_t type, void *buf, size_t cap,
                           size_t *size, uint32_t *type_out);
/* The loss reported by the last -EOVERFLOW: messages and ring bytes. */
int zipc_subscriber_last_loss(const zipc_subscriber *sub, uint64_t *messages, uint64_t *bytes);
int zipc_subscriber_interrupt(zipc_subscriber *sub);
/* Readable when a message may be there, or the publisher is gone. */
int zipc_subscriber_fd(zipc_subscriber *sub);
size_t zipc_subscriber_capacity(const zipc_subscriber *sub);
size_t zipc_subscriber_max_message(const zipc_subscriber *sub);
int zipc_subscriber_publisher_pid(const zipc_subscriber *sub);

struct zipc_subscriber_stats {
    uint64_t messages;       /* released (read) */
    uint64_t bytes;          /* ring bytes released */
    uint64_t lost_messages;  /* lost to overflow, in total */
    uint64_t lost_bytes;
    uint64_t overflows;      /* -EOVERFLOW events */
    uint64_t lag;            /* messages published and not yet released, now */
    uint64_t wakeups;        /* wake-ups this subscriber sent the publisher */
    uint64_t sleeps;         /* times it slept waiting for data */
};
int zipc_subscriber_get_stats(const zipc_subscriber *sub, struct zipc_subscriber_stats *st);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* ZIPC_TOPIC_H */

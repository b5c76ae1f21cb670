/* zipc queue: many producers, many consumers, each message taken by exactly
 * one live consumer. Attached by name, no server process; survives any
 * member being SIGKILLed at any instruction.
 *
 * Model
 *   Each producer owns a lane: a ring in the queue's shared segment that
 *   only it writes, with the channel's frame format (reserve, commit in
 *   place, batch commit). Consumers compete for frames lane by lane: a
 *   frame is taken by one compare-and-swap on its claim word, which names
 *   the consumer holding it. Views are read in place; release gives a frame
 *   back (in any order); the producer reuses its ring space oldest first.
 *
 * Delivery
 *   At-least-once (the default): if a consumer dies (exits, is killed)
 *   holding views, those messages are delivered again to another consumer,
 *   with zipc_queue_msg_attempt() one higher. Every delivery carries
 *   (zipc_queue_msg_producer(), msg->seq), unique while the queue lives, so
 *   a sink can drop the duplicates. A message is never delivered twice
 *   otherwise.
 *   At-most-once (ZIPC_QUEUE_AT_MOST_ONCE at creation): a message held by a
 *   consumer that dies is dropped, never delivered again.
 *   A message is committed once it is published: a commit without
 *   ZIPC_COMMIT_MORE, or a flush after commits with it. A producer killed
 *   before that leaves nothing visible and blocks nobody.
 *
 * Order: FIFO per producer (the messages of one lane are taken in commit
 *   order; a redelivered message comes out of order). No global order.
 *
 * End of stream: once at least one producer has joined, a consumer's view,
 *   drain and recv return -EPIPE when no producer is attached (each closed
 *   or died) and every committed message has been taken, and released by
 *   every other consumer (the caller's own open views do not count: they
 *   stay valid). A producer joining later starts a new stream.
 *
 * Liveness: members are watched with the kernel's own records (a lock held
 *   per member, its pidfd): a dead member is noticed as it dies, by the
 *   other members' helper threads, with no timeout and no third process.
 *
 * Contract
 *   Concurrency: an endpoint (zipc_queue *) is owned by one thread at a
 *     time; calls on one endpoint must not run concurrently, except
 *     zipc_queue_interrupt(), which any thread (or a signal handler) may call.
 *     Any number of endpoints, in any threads and processes, run in parallel.
 *   Blocking: open (up to opts->timeout_ns) and every call taking a
 *     timeout_ns: spin for spin_ns, then sleep until woken, a member's death,
 *     interrupt or the timeout. Everything else never blocks.
 *   Threads: each endpoint runs one helper thread: it admits new members
 *     (every member is a door to the queue) and watches members die, giving
 *     a dead consumer's messages to the others and closing a dead producer's
 *     lane. No other call starts a thread.
 *   Allocation: open allocates; view and drain may grow the list of open
 *     views (doubling). reserve, commit, send, release never allocate.
 *   Wakeups: a commit wakes at most one sleeping consumer (no herd); a
 *     release wakes the lane's producer only if it sleeps for space.
 *   Untrusted memory: every member writes the shared segment, so everything
 *     read from it is validated; a hostile member can spoil the lanes it
 *     touches (their consumers get -EBADMSG for them), never make another
 *     member read or write out of bounds.
 *   Limits: ZIPC_QUEUE_MAX_PRODUCERS producers and ZIPC_QUEUE_MAX_CONSUMERS
 *     consumers at once (-ENOSPC beyond). Each endpoint holds
 *     1 + ZIPC_QUEUE_MAX_PRODUCERS + ZIPC_QUEUE_MAX_CONSUMERS descriptors
 *     (the segment and one eventfd per member slot) plus its socket and
 *     its helper's: about 15 endpoints per process under the common limit
 *     of 1024 descriptors (raise it with RLIMIT_NOFILE for more).
 *   Fork: a forked child must not use its parent's endpoint (it has no
 *     helper thread); it opens its own. The child closes its copies of the
 *     endpoints' doors at the fork, so it never blocks others from joining.
 *   A hostile member can also withhold the end of the stream (a consumer
 *     line's held count, a lanes_open bit): every consumer then waits (its
 *     timeout) as if a producer were attached.
 */
#ifndef ZIPC_QUEUE_H
#define ZIPC_QUEUE_H

#include "channel.h" /* struct zipc_msg, ZIPC_COMMIT_MORE */

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct zipc_queue zipc_queue;

#define ZIPC_QUEUE_MAX_PRODUCERS 32
#define ZIPC_QUEUE_MAX_CONSUMERS 32
#define ZIPC_QUEUE_DEFAULT_LANE (1u << 20) /* ring bytes per producer */

enum zipc_queue_flags {
    ZIPC_QUEUE_AT_MOST_ONCE = 1u << 0, /* drop what a dying consumer held */
};

/* How a new queue is laid out; ignored when the queue exists already (a
 * member that attaches gets the creator's). NULL or zeroed: defaults. */
struct zipc_queue_config {
    uint64_t lane_capacity; /* ring bytes per producer, ZIPC_MIN_CAPACITY..2^30, rounded up to
                               a power of two; 0: ZIPC_QUEUE_DEFAULT_LANE. The largest
                               message is lane_capacity / 2 - ZIPC_FRAME_HEADER. */
    uint32_t flags;         /* enum zipc_queue_flags */
    uint32_t reserved;      /* 0 */
};

/* Open the queue `name` (a name, see common.h; paths are refused with
 * -EINVAL: a queue leaves nothing on disk) as a ZIPC_ROLE_PRODUCER or a
 * ZIPC_ROLE_CONSUMER: attach to it if any member holds it, else create it
 * with `cfg`. Two processes creating at once end up in one queue.
 * A producer takes over a lane whose producer is gone (closed or dead)
 * with what it left: its committed messages are still delivered, in order.
 * Returns 0, -ENOSPC (as many members of that role as the queue allows),
 * -EINVAL, -ENAMETOOLONG, -ETIMEDOUT, -EPROTO (another ABI), -EBADMSG (a
 * member handed a malformed segment), -EFBIG (the queue's segment exceeds
 * opts->max_segment: lanes of 32 MiB and more exceed the default 1 GiB),
 * -EPROTOTYPE (the name is an rpc service), -EPERM, -EINTR (a signal), or a
 * system errno (-EADDRINUSE only if a hostile member forged the table). */
int zipc_queue_open(zipc_queue **out, const char *name, int role, const struct zipc_queue_config *cfg,
                    const struct zipc_options *opts);

/* Leave: a producer publishes what it staged and aborts its reservation; a
 * consumer releases its open views (their messages count as taken). The
 * queue itself lives on while any member holds it, and no longer: so a
 * producer first lingers (zipc_queue_linger, for opts->timeout_ns of its
 * open). Returns 0, or, when the producer left messages nobody can take
 * any more, -ETIMEDOUT, -ECANCELED or -EINTR (a signal); the queue is
 * closed and freed in every case. NULL is accepted. */
int zipc_queue_close(zipc_queue *q);

/* Producer: wait until leaving loses nothing - another member holds the
 * queue (a consumer that was a moment late joined through our door) or
 * every message was taken - staged messages published first. Returns at
 * once for a consumer or an rpc member. Blocks up to timeout_ns
 * (zipc_queue_interrupt() ends it: -ECANCELED). Two last producers
 * lingering at once with no consumer may each leave it to the other.
 * Returns 0, -EAGAIN (timeout 0, not yet), -ETIMEDOUT, -ECANCELED, -EINTR
 * (a signal) or -EINVAL. */
int zipc_queue_linger(zipc_queue *q, int64_t timeout_ns);

/* As zipc_channel_interrupt: the blocked call returns -ECANCELED. */
int zipc_queue_interrupt(zipc_queue *q);
/* Readable when a message may be there (consumer) or space (producer),
 * armed as the channel's: try, on -EAGAIN wait for readability, try again. */
int zipc_queue_fd(zipc_queue *q);
int zipc_queue_role(const zipc_queue *q);
/* This member's slot: a producer's lane (0..MAX_PRODUCERS-1), a
 * consumer's number (0..MAX_CONSUMERS-1). */
int zipc_queue_slot(const zipc_queue *q);
size_t zipc_queue_capacity(const zipc_queue *q); /* lane ring bytes */
size_t zipc_queue_max_message(const zipc_queue *q);
unsigned zipc_queue_flags(const zipc_queue *q);  /* the creator's enum zipc_queue_flags */
/* Members attached now, by role (live slots). */
int zipc_queue_producers(const zipc_queue *q);
int zipc_queue_consumers(const zipc_queue *q);

/* ---- producer --------------------------------------------------------------
 * reserve/commit/abort/flush/send: as the channel's producer, in this
 * producer's lane. reserve waits (timeout_ns) while the lane is full of
 * messages not yet released; it never returns -EPIPE (messages wait in the
 * lane for consumers to come).
 */
int zipc_queue_reserve(zipc_queue *q, size_t size, void **buf, int64_t timeout_ns);
int zipc_queue_commit(zipc_queue *q, size_t size, uint32_t type, unsigned flags);
int zipc_queue_abort(zipc_queue *q);
int zipc_queue_flush(zipc_queue *q);
int zipc_queue_send(zipc_queue *q, const void *data, size_t size, uint32_t type, int64_t timeout_ns);

/* ---- consumer --------------------------------------------------------------
 * view:   take the next message of some lane (lanes are served in turn) and
 *         view it in place (*msg written whole on success, as a channel's);
 *         waits up to timeout_ns. msg->seq is its number in
 *         its lane (32 bits, wrapping); see zipc_queue_msg_producer/_attempt.
 *         -EPIPE at end of stream (see above).
 * drain:  views up to `max` messages: waits for the first, then takes what is
 *         there without waiting. Returns the count (>= 1) or an error.
 * release_view: give one view back, in any order. -EINVAL if it is not one
 *         of this consumer's open views.
 * release: give every open view back.
 * recv:   copy the next message out and release it; -EMSGSIZE (*size set)
 *         leaves it taken and viewed (release_view it, or call recv with a
 *         larger buffer: it returns that same message).
 * A lane whose shared state makes no sense (a hostile member) is skipped
 * from then on, silently. release_view, release and recv return -EBADMSG
 * when the view's claim word was rewritten by another member (the view is
 * dropped all the same). Blocking calls return -EINTR on a signal.
 */
int zipc_queue_view(zipc_queue *q, struct zipc_msg *msg, int64_t timeout_ns);
int zipc_queue_drain(zipc_queue *q, struct zipc_msg *msgs, unsigned max, int64_t timeout_ns);
int zipc_queue_release_view(zipc_queue *q, const struct zipc_msg *msg);
int zipc_queue_release(zipc_queue *q);
int zipc_queue_recv(zipc_queue *q, void *buf, size_t cap, size_t *size, uint32_t *type,
                    int64_t timeout_ns);

/* Of a message viewed from a queue: the producer lane that wrote it, and
 * its delivery attempt (1, then +1 per redelivery; saturates at 31). */
static inline uint32_t zipc_queue_msg_producer(const struct zipc_msg *m) { return (uint32_t)(m->end_ & 0xff); }
static inline uint32_t zipc_queue_msg_attempt(const struct zipc_msg *m) { return (uint32_t)(m->end_ >> 8 & 0x1f); }

struct zipc_queue_stats {
    uint64_t messages;     /* producer: committed; consumer: released */
    uint64_t bytes;        /* ring bytes of those messages, framing included */
    uint64_t redelivered;  /* consumer: messages it took that another had held (attempt > 1) */
    uint64_t wakeups;      /* wake-ups this member sent */
    uint64_t sleeps;       /* times it slept in the kernel */
    uint64_t reclaimed;    /* dead members this member's helper cleaned up after */
};
int zipc_queue_get_stats(const zipc_queue *q, struct zipc_queue_stats *st);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* ZIPC_QUEUE_H */

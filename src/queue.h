/* Queue internals shared by its files (include/zipc/queue.h is the API):
 *   queue.c           layout, validation, open (find, join or create), close, accessors
 *   queue_helper.c    each member's helper thread: its door, and cleaning up after the dead
 *   queue_producer.c  a producer: its lane (bind or take over), space, wake-ups, calls
 *   queue_consumer.c  a consumer: claims, redelivery, end of stream, calls
 * See docs/DESIGN.md §12 and docs/ABI.md §13. */
#ifndef ZIPC_QUEUE_INTERNAL_H
#define ZIPC_QUEUE_INTERNAL_H

#include <pthread.h>
#include <unistd.h>

#include "ring.h"
#include "zipc/queue.h"

#define QP ZIPC_QUEUE_MAX_PRODUCERS
#define QC ZIPC_QUEUE_MAX_CONSUMERS
_Static_assert(QP + QC == ZIPC_QUEUE_SLOTS, "one member slot per producer and consumer");
_Static_assert(QP <= 32 && QC <= 32, "lanes_open and sleepers are 32-bit maps");

/* A sleeping member looks again at least this often, woken or not: the
 * flags that tell a waker to wake it (sleepers, a consumer's or the lane's
 * sleeping flag) are in memory every member writes, so a hostile or buggy
 * member can clear them; a wake-up lost that way costs at most this. */
#define QUEUE_RECHECK_NS 100000000LL

/* Welcome fds: the segment, then one eventfd per member slot (a member
 * sleeps on its own slot's). */
#define QUEUE_NFDS (1 + ZIPC_QUEUE_SLOTS)
_Static_assert(QUEUE_NFDS <= ZIPC__HANDSHAKE_MAX_FDS, "welcome fds");
static inline unsigned producer_fd(uint32_t lane) { return 1 + lane; }
static inline unsigned consumer_fd(uint32_t c) { return 1 + QP + c; }

/* A lane as a member sees it (pointers checked at bind). */
struct lane {
    struct zipc_queue_lane *ctl;
    uint64_t *log;            /* claim words: log_mask + 1 of them */
    struct zipc__ring ring;
};

/* A view this consumer holds: its lane, seq and delivery attempt. Honest
 * members never hand one consumer the same (lane, seq) twice; a hostile one
 * can (claim words rewritten): the attempt then tells the views apart, so
 * release_view gives back the view it is given. */
struct held {
    uint32_t lane, seq, attempt;
    uint32_t frame_bytes; /* its ring bytes, for the counters */
};

struct zipc_queue {
    /* ---- per message ----------------------------------------------------- */
    struct zipc__ring_tx tx;     /* first: the refresh hook finds the queue from it */
    _Alignas(ZIPC_CACHE_LINE) struct zipc__waiter wait;
    /* producer: where our reuse of the ring stands (free-running, as tx) */
    uint64_t freed_pos;
    uint32_t freed_seq;
    uint64_t start_pos;          /* producer: where our first frame went (bytes published since) */
    uint64_t start_messages;     /* producer: the lane's count when we took it */
    /* consumer */
    uint32_t next_lane;          /* lanes are served in turn from here */
    struct held *held;           /* open views, unordered */
    uint32_t nheld, held_cap;
    uint32_t bad_lanes;          /* consumer: lanes found corrupt, skipped */
    int sticky_err;              /* consumer: 0 (kept for a corrupt queue as a whole) */
    bool recv_kept;              /* recv's last message did not fit: it is `kept`, still open */
    bool endless;                /* an rpc worker: no end of stream, clients come and go */
    bool prefetch_write;         /* consumer: zipc__prefetch_write asks for ownership (cpu.h) */
    struct zipc_msg kept;
    /* ---- identity ------------------------------------------------------------ */
    int role;
    uint32_t slot;               /* lane (producer) or consumer number */
    uint32_t gen;                /* our lease generation, low 16 bits (claim words) */
    struct zipc__members members;
    struct zipc__member me;
    /* ---- the segment ------------------------------------------------------------ */
    struct zipc__segment seg;
    struct zipc_queue_ctl *ctl;
    struct zipc_queue_consumer *consumers;
    struct lane lanes[QP];
    uint32_t log_mask;
    uint32_t flags;
    int fds[QUEUE_NFDS];         /* [0] unused (seg.fd); our wake fd is also wait.wake_fd */
    /* ---- helper thread ------------------------------------------------------------ */
    struct zipc__opts opts;
    struct zipc__addr addr;      /* the queue's name; members bind it + "#slot" */
    int lsock;                   /* our door */
    struct zipc__door_guard guard; /* a forked child closes lsock */
    int stop_fd;
    int helper_ep;               /* the helper's: stop_fd, lsock */
    struct zipc__watch watch;    /* the helper's: every member's liveness */
    pthread_t helper;
    bool helper_running;
    uint64_t reclaimed;
    uint32_t always_active;      /* the waiter's "peer state": a queue has no one peer */
};
_Static_assert(offsetof(struct zipc_queue, tx) == 0, "tx starts the queue");

static inline zipc_queue *queue_of_tx(struct zipc__ring_tx *tx) { return (zipc_queue *)tx; }
static inline zipc_queue *queue_of_waiter(struct zipc__waiter *w)
{
    return (zipc_queue *)((char *)w - offsetof(zipc_queue, wait));
}

static inline void qwake_fd(int fd)
{
    uint64_t one = 1;
    if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
        /* counter saturated: the reader wakes anyway */
    }
}

/* May frame `seq` be claimed through word w? Yes if the word's frame one
 * lap earlier was released, or the word was never used (0: the first lap;
 * a used word is never 0, its attempt is >= 1). */
static inline bool claim_free_for(uint64_t w, uint32_t seq, uint32_t log_size)
{
    if (w == 0)
        return seq < log_size;
    return ZIPC_QCLAIM_TAG(w) == (uint32_t)(seq - log_size) && ZIPC_QCLAIM_STATE(w) == ZIPC_QCLAIM_RELEASED;
}
static inline uint64_t *claim_word(const zipc_queue *q, const struct lane *l, uint32_t seq)
{
    return &l->log[seq & q->log_mask];
}

/* queue.c */
extern const struct zipc__kind_desc zipc__queue_kind;
/* The queue's control block, copied into *out and checked against the
 * layout its ring size makes (and the segment's size): 0 or -EBADMSG. */
int zipc__queue_check_ctl(const struct zipc__segment *seg, struct zipc_queue_ctl *out);
/* zipc_queue_open for a queue (segment_flags 0) or an rpc service
 * (ZIPC_QUEUE_SEGMENT_RPC): -EPROTOTYPE if the name holds the other. */
int zipc__queue_open(zipc_queue **out, const char *name, int role, const struct zipc_queue_config *cfg,
                     const struct zipc_options *opts, uint32_t segment_flags);
/* Wake every consumer that may sleep (a lane closed, frames came back). */
void zipc__queue_wake_consumers(zipc_queue *q);
void zipc__queue_wake_consumer(zipc_queue *q, uint32_t c); /* c < QC */
void zipc__queue_wake_producer(zipc_queue *q, uint32_t lane);

/* Nothing left to take in any lane: no fresh frame, no redelivery due
 * (heals the lanes' redelivery hints as it reads the claim words). */
bool zipc__queue_lanes_empty(const zipc_queue *q);
/* Raise each lane's redelivery hint to the REDELIVER words it walks to:
 * run after a cleanup, so a cleaner killed between its words and its count
 * strands no frame (the next cleanup of the same death heals it). */
void zipc__queue_heal_redeliveries(zipc_queue *q);

/* queue_helper.c */
int zipc__queue_helper_start(zipc_queue *q, int64_t deadline);
void zipc__queue_helper_stop(zipc_queue *q);
/* Clean up after member slot `slot` (of the table), found dead with
 * `lease`: its claims redelivered or dropped, its lane closed; then free
 * the slot. Idempotent; any member may run it at any time. */
void zipc__queue_reclaim(zipc_queue *q, uint32_t slot, uint64_t lease);
/* Redeliver (or drop) every claim of consumer c with a generation at or
 * before gen. Returns how many. */
uint32_t zipc__queue_reclaim_claims(zipc_queue *q, uint32_t c, uint32_t gen);

/* queue_consumer.c: end a view with `state` (RELEASED; for rpc REPLIED or
 * REDELIVER) by its lane, seq and attempt: 0, -EINVAL (not held), -EBADMSG
 * (our claim was rewritten). */
int zipc__queue_finish(zipc_queue *q, uint32_t lane, uint32_t seq, uint32_t attempt, uint32_t state);
/* Does this consumer hold that view? */
bool zipc__queue_holds(const zipc_queue *q, uint32_t lane, uint32_t seq, uint32_t attempt);
/* queue_producer.c / queue_consumer.c: bind our role, leave. */
int zipc__queue_producer_bind(zipc_queue *q);
void zipc__queue_producer_leave(zipc_queue *q);
int zipc__queue_consumer_bind(zipc_queue *q);
void zipc__queue_consumer_leave(zipc_queue *q);

#endif /* ZIPC_QUEUE_INTERNAL_H */

/* Topic internals shared by its files (include/zipc/topic.h is the API):
 *   topic.c             walking published frames, checking a subscription (both ends)
 *   topic_publisher.c   the publisher: space, reclaim, wake-ups, calls
 *   topic_door.c        the publisher's door thread: admissions and departures
 *   topic_subscriber.c  a subscriber: overtakes, stale views, calls, setup
 * See docs/DESIGN.md §11. */
#ifndef ZIPC_TOPIC_INTERNAL_H
#define ZIPC_TOPIC_INTERNAL_H

#include <pthread.h>
#include <unistd.h>

#include "ring.h"

enum { FD_BOARD = ZIPC__FD_BOARD, FD_CURSOR = ZIPC__FD_CURSOR, FD_SUB_WAKE = ZIPC__FD_SUB_WAKE,
       FD_PUB_WAKE = ZIPC__FD_PUB_WAKE, TOPIC_NFDS = ZIPC__TOPIC_NFDS };
_Static_assert(TOPIC_NFDS <= ZIPC__HANDSHAKE_MAX_FDS, "welcome fds");

/* ------------------------------------------------------------------------
 * Layout
 * ------------------------------------------------------------------------ */

static inline struct zipc_topic_ctl *ctl_of(const struct zipc__segment *seg)
{
    return (struct zipc_topic_ctl *)(seg->base + ZIPC_TOPIC_BODY_OFFSET);
}

static inline struct zipc_topic_slot_info *slot_info(const struct zipc__segment *seg, uint32_t i)
{
    return (struct zipc_topic_slot_info *)(seg->base + ZIPC_TOPIC_TABLE_OFFSET) + i;
}

static inline void *page_body(const struct zipc__segment *seg) { return seg->base + ZIPC_TOPIC_BODY_OFFSET; }

static inline uint64_t data_size(uint64_t ring_size, uint32_t max_subs)
{
    return ZIPC_TOPIC_RING_OFFSET(max_subs) + ring_size;
}

/* A place in the ring: a frame boundary and the message number there. */
struct spot {
    uint64_t pos, seq;
};

/* Walk published frames from *at, over at most `max` messages (and the pads
 * between them). Returns the messages stepped over; *at ends past them. */
uint64_t zipc__topic_walk(const struct zipc__ring *r, struct spot *at, uint64_t max);

/* Move *at to the newest published message of `type` (ZIPC_TYPE_ANY: any)
 * from *at on, at the start of its frame (the pad before it, if any), and
 * *msg_pos (if not NULL) to its header: true if there is one (else *at is
 * unchanged). */
bool zipc__topic_find_newest(const struct zipc__ring *r, struct spot *at, uint32_t type, uint64_t *msg_pos);

/* A subscription's policy, flags and max_lag: 0 or -EINVAL (the
 * subscriber's own call, and the publisher reading its request). */
int zipc__subscription_check(const struct zipc_subscription *r);

/* The data segment's layout (its header and control block, copied into
 * *ctl once and checked there): 0 or -EBADMSG. Subscribers and inspect. */
int zipc__topic_check_data(const struct zipc__segment *seg, struct zipc_topic_ctl *ctl);
/* A board or cursor page (an attached segment of that kind): its size and
 * body. 0 or -EBADMSG. */
int zipc__topic_check_page(const struct zipc__segment *seg, uint64_t body_size);

/* The subscriber's side of the kind (topic_subscriber.c): the door offers it. */
extern const struct zipc__kind_desc zipc__topic_kind;

/* ------------------------------------------------------------------------
 * The publisher, as topic_publisher.c and topic_door.c share it
 * ------------------------------------------------------------------------ */

struct subscriber_entry {
    bool used;       /* a subscriber holds the slot (joining or admitted) */
    bool active;     /* admitted: its cursor is read */
    bool evicted;
    bool bell;       /* woken through the topic's bell, not its own wake_fd */
    uint32_t policy;
    uint64_t max_lag;
    struct zipc__segment cursor_seg;
    struct zipc_topic_cursor *cursor;
    int sock, pidfd, wake_fd, pid;
};

struct zipc_publisher {
    /* ---- per message ----------------------------------------------------- */
    struct zipc__ring_tx tx; /* first: refresh() finds the publisher from it */
    _Alignas(ZIPC_CACHE_LINE) struct zipc__waiter wait;
    /* ---- the table, the oldest frame, reclaim: under lock -------------------- */
    _Alignas(ZIPC_CACHE_LINE) pthread_mutex_t lock;
    struct subscriber_entry *subs;
    uint32_t max_subs;
    struct spot oldest;      /* the oldest intact frame (published in the data) */
    uint64_t joined, departed, died, evicted;
    uint32_t own_wakes;      /* admitted subscribers woken through their own wake_fd (no bell):
                                written under lock, read by the waker without it */
    /* ---- cold ---------------------------------------------------------------- */
    struct zipc__segment data, board_seg;
    struct zipc_topic_ctl *ctl;
    struct zipc_topic_board *board;
    struct zipc__opts opts;
    struct zipc__door door;
    pthread_t door_thread;
    bool door_running;
    struct pollfd *door_poll;  /* the door thread's: stop, lsock, each subscriber's link and pidfd */
    uint32_t *door_whose;      /* the door thread's: the subscriber of each door_poll entry */
    int stop_fd;
    int bell;                /* eventfd every subscriber that asked sleeps on: one write wakes all */
    uint32_t always_active;  /* the waiter's "peer state": a publisher has no one peer */
    char label[ZIPC_NAME_MAX + 1];
};
_Static_assert(offsetof(struct zipc_publisher, tx) == 0, "tx starts the publisher");

static inline zipc_publisher *publisher_of_tx(struct zipc__ring_tx *tx) { return (zipc_publisher *)tx; }

static inline zipc_publisher *publisher_of_waiter(struct zipc__waiter *w)
{
    return (zipc_publisher *)((char *)w - offsetof(zipc_publisher, wait));
}

static inline void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static inline void wake_fd(int fd)
{
    uint64_t one = 1;
    if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
        /* counter saturated: the reader wakes anyway */
    }
}

/* topic_door.c: start the door thread; free slot i (under the lock). */
int zipc__topic_door_start(zipc_publisher *pub);
void zipc__topic_slot_free(zipc_publisher *pub, uint32_t i);

#endif /* ZIPC_TOPIC_INTERNAL_H */

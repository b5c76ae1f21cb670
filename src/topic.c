/* Topic: one publisher, many subscribers (include/zipc/topic.h).
 *
 * The publisher is a ring tx half whose space comes from the slowest
 * lossless cursor and from reclaiming the oldest frames; each subscriber is
 * a ring rx half that the ring may overtake (docs/DESIGN.md §11). Three
 * kinds of segment (zipc/abi.h): the data (read-only for subscribers), a
 * board everybody writes (sleep flags), and one cursor page per subscriber.
 * The publisher's "door" thread admits subscribers and watches them die. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

enum { FD_BOARD = ZIPC__FD_BOARD, FD_CURSOR = ZIPC__FD_CURSOR, FD_SUB_WAKE = ZIPC__FD_SUB_WAKE,
       FD_PUB_WAKE = ZIPC__FD_PUB_WAKE, TOPIC_NFDS = ZIPC__TOPIC_NFDS };
_Static_assert(TOPIC_NFDS <= ZIPC__HANDSHAKE_MAX_FDS, "welcome fds");

/* A silent connector holds the door (admissions, and noticing deaths) at most this long. */
#define DOOR_HANDSHAKE_NS 1000000000LL
/* Looks at the oldest pair while the publisher rewrites it, before giving up. */
#define OLDEST_TRIES 10000
/* Reclaim a slice of the ring at once: the cursors are read once a slice. */
#define RECLAIM_SLICE_SHIFT 4

/* ------------------------------------------------------------------------
 * Layout, shared by both ends
 * ------------------------------------------------------------------------ */

static struct zipc_topic_ctl *ctl_of(const struct zipc__segment *seg)
{
    return (struct zipc_topic_ctl *)(seg->base + ZIPC_TOPIC_BODY_OFFSET);
}

static struct zipc_topic_slot_info *slot_info(const struct zipc__segment *seg, uint32_t i)
{
    return (struct zipc_topic_slot_info *)(seg->base + ZIPC_TOPIC_TABLE_OFFSET) + i;
}

static void *page_body(const struct zipc__segment *seg) { return seg->base + ZIPC_TOPIC_BODY_OFFSET; }

static uint64_t data_size(uint64_t ring_size, uint32_t max_subs)
{
    return ZIPC_TOPIC_RING_OFFSET(max_subs) + ring_size;
}

/* The frame at pos, if it is the published message number seq or the pad
 * before it: 1 and *next past it (*msg: the message's header, NULL for a
 * pad), 0 if not published (the end of what there is), -EBADMSG. Frames
 * are validated as a reader does: the walker may be a subscriber. */
static int frame_step(const struct zipc__ring *r, uint64_t pos, uint64_t seq, uint64_t *next,
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

/* A place in the ring: a frame boundary and the message number there. */
struct spot {
    uint64_t pos, seq;
};

/* Walk published frames from *at, over at most `max` messages (and the pads
 * between them). Returns the messages stepped over; *at ends past them. */
static uint64_t walk(const struct zipc__ring *r, struct spot *at, uint64_t max)
{
    uint64_t n = 0, next;
    const struct zipc_frame *f;
    /* a lap holds at most lap_frames frames: a bound even on a hostile ring */
    for (uint64_t steps = 0; n < max && steps <= 2 * (uint64_t)r->lap_frames; steps++) {
        if (frame_step(r, at->pos, at->seq, &next, &f) <= 0)
            break;
        at->pos = next;
        if (f) {
            at->seq++;
            n++;
        }
    }
    return n;
}

/* ------------------------------------------------------------------------
 * Publisher
 * ------------------------------------------------------------------------ */

struct subscriber_entry {
    bool used;       /* a subscriber holds the slot (joining or admitted) */
    bool active;     /* admitted: its cursor is read */
    bool evicted;
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
    /* ---- cold ---------------------------------------------------------------- */
    struct zipc__segment data, board_seg;
    struct zipc_topic_ctl *ctl;
    struct zipc_topic_board *board;
    struct zipc__opts opts;
    struct zipc__door door;
    pthread_t door_thread;
    bool door_running;
    int stop_fd;
    uint32_t always_active;  /* the waiter's "peer state": a publisher has no one peer */
    char label[ZIPC_NAME_MAX + 1];
};
_Static_assert(offsetof(struct zipc_publisher, tx) == 0, "tx starts the publisher");

static zipc_publisher *publisher_of_tx(struct zipc__ring_tx *tx) { return (zipc_publisher *)tx; }

static zipc_publisher *publisher_of_waiter(struct zipc__waiter *w)
{
    return (zipc_publisher *)((char *)w - offsetof(zipc_publisher, wait));
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void wake_fd(int fd)
{
    uint64_t one = 1;
    if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
        /* counter saturated: the reader wakes anyway */
    }
}

/* ---- the oldest frame ------------------------------------------------------ */

/* Publish a new oldest, before anything it frees is overwritten. */
static void publish_oldest(zipc_publisher *pub, struct spot s)
{
    struct zipc_topic_oldest *o = &pub->ctl->oldest;
    uint64_t v = o->version;
    /* relaxed odd version, release fence, relaxed pair, release even version:
     * a seqlock; readers retry while the version is odd or changed (§2.5 #19) */
    zipc__store(&o->version, v + 1, ZIPC__RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    zipc__store(&o->position, s.pos, ZIPC__RELAXED);
    zipc__store(&o->seq, s.seq, ZIPC__RELAXED);
    zipc__store(&o->version, v + 2, ZIPC__RELEASE);
    /* seq_cst fence: the new oldest is visible before any byte it frees is
     * overwritten; a reader of such a byte then sees it (§2.5 #19) */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    pub->oldest = s;
}

/* Move the oldest forward over whole frames up to `want` (a frame boundary
 * or beyond: never past the frame that holds it). Our own frames: only the
 * publisher writes the data. */
static void reclaim(zipc_publisher *pub, uint64_t want)
{
    struct spot s = pub->oldest;
    uint64_t next;
    const struct zipc_frame *f;
    while ((int64_t)(want - s.pos) > 0 && frame_step(&pub->tx.ring, s.pos, s.seq, &next, &f) == 1) {
        s.pos = next;
        s.seq += f != NULL;
    }
    if (s.pos != pub->oldest.pos)
        publish_oldest(pub, s);
}

/* ---- subscribers seen from the publisher ------------------------------------ */

/* Evict a subscriber whose cursor makes no sense: it stops counting, learns
 * it from its cursor page and a hung-up link; the door frees the slot. */
static void evict(zipc_publisher *pub, struct subscriber_entry *e)
{
    e->evicted = true;
    pub->evicted++;
    zipc__store(&e->cursor->evicted, 1, ZIPC__RELAXED); /* relaxed: the hang-up below orders it */
    shutdown(e->sock, SHUT_RDWR);
}

/* Read a lossless-capable subscriber's head and validate it: false if it
 * is impossible (not a frame boundary, or ahead of what was published). */
static bool read_head(const zipc_publisher *pub, const struct subscriber_entry *e, struct spot *head)
{
    /* seq_cst: the subscriber's reads of the frames came before its
     * release, and the Dekker order with our sleep flag (§2.5 #3) */
    head->pos = zipc__load(&e->cursor->side.position, ZIPC__SEQ_CST);
    head->seq = zipc__load(&e->cursor->side.messages, ZIPC__RELAXED); /* relaxed: checked below */
    uint64_t published = pub->tx.published;
    if (head->pos & (ZIPC_FRAME_ALIGN - 1))
        return false;
    if ((int64_t)(pub->oldest.pos - head->pos) > 0)
        return true; /* overtaken already (not lossless then): it resyncs by itself */
    return head->pos - pub->oldest.pos <= published - pub->oldest.pos &&
           head->seq - pub->oldest.seq <= zipc__load(&pub->ctl->publisher.messages, ZIPC__RELAXED) - pub->oldest.seq;
}

/* Does this subscriber hold the publisher back at `head`? */
static bool holds_back(const zipc_publisher *pub, const struct subscriber_entry *e, struct spot head)
{
    if (e->policy == ZIPC_SUB_DROP_OLDEST || (int64_t)(pub->oldest.pos - head.pos) > 0)
        return false;
    if (e->policy == ZIPC_SUB_MAX_LAG) /* relaxed: our own counter */
        return zipc__load(&pub->ctl->publisher.messages, ZIPC__RELAXED) - head.seq < e->max_lag;
    return true;
}

/* The tx half's refresh: the slowest lossless head bounds the reclaim; the
 * reclaim goes a slice past what the waiting reservation needs. */
static int publisher_refresh(struct zipc__ring_tx *tx)
{
    zipc_publisher *pub = publisher_of_tx(tx);
    pthread_mutex_lock(&pub->lock);
    uint64_t limit = tx->published;
    for (uint32_t i = 0; i < pub->max_subs; i++) {
        struct subscriber_entry *e = &pub->subs[i];
        struct spot head;
        if (!e->active || e->evicted || e->policy == ZIPC_SUB_DROP_OLDEST)
            continue;
        if (!read_head(pub, e, &head)) {
            evict(pub, e);
            continue;
        }
        struct zipc_topic_slot_info *si = slot_info(&pub->data, i);
        zipc__store(&si->head, head.pos, ZIPC__RELAXED); /* relaxed: informative, for tools */
        zipc__store(&si->head_seq, head.seq, ZIPC__RELAXED);
        if (holds_back(pub, e, head) && head.pos - pub->oldest.pos < limit - pub->oldest.pos)
            limit = head.pos;
    }
    uint64_t want = tx->tail + tx->need - tx->ring.size + (tx->ring.size >> RECLAIM_SLICE_SHIFT);
    if ((int64_t)(want - limit) > 0)
        want = limit;
    reclaim(pub, want);
    tx->cached_head = pub->oldest.pos;
    pthread_mutex_unlock(&pub->lock);
    return 0;
}

/* The waiter's wake_slow: a subscriber may sleep. Wake each whose slot's
 * hint bit is set and whose own flag says so. */
static void wake_subscribers(struct zipc__waiter *w)
{
    zipc_publisher *pub = publisher_of_waiter(w);
    /* seq_cst exchange: taken after our publish; a bit set later is seen by
     * the next publish, and its setter's re-check sees this one (§2.5 #20) */
    uint32_t bits = zipc__xchg(&pub->board->sleepers, 0, ZIPC__SEQ_CST);
    if (!bits)
        return;
    pthread_mutex_lock(&pub->lock);
    for (uint32_t i = 0; i < pub->max_subs; i++) {
        struct subscriber_entry *e = &pub->subs[i];
        if (!(bits >> (i & 31) & 1) || !e->active)
            continue;
        /* seq_cst exchange: one wake-up per sleep (§2.5 #20) */
        if (zipc__xchg(&e->cursor->wait.sleeping, 0, ZIPC__SEQ_CST)) {
            wake_fd(e->wake_fd);
            zipc__store(w->my_wakeups, zipc__load(w->my_wakeups, ZIPC__RELAXED) + 1, ZIPC__RELAXED);
        }
    }
    pthread_mutex_unlock(&pub->lock);
}

/* ---- the door: admitting subscribers, and seeing them go --------------------- */

/* Where a joiner starts (under lock: the oldest cannot move): after the
 * newest message, or `history` messages before it; *gap: asked for, gone. */
static struct spot join_point(const zipc_publisher *pub, uint64_t history, uint64_t *gap)
{
    struct spot end = pub->oldest;
    uint64_t there = walk(&pub->tx.ring, &end, UINT64_MAX);
    uint64_t n = history < there ? history : there;
    uint64_t asked = history < end.seq ? history : end.seq; /* messages that ever existed */
    *gap = asked - n;
    if (n == 0)
        return end;
    struct spot start = pub->oldest;
    walk(&pub->tx.ring, &start, there - n);
    return start;
}

static void free_entry(zipc_publisher *pub, uint32_t i)
{
    struct subscriber_entry *e = &pub->subs[i];
    close_fd(&e->sock);
    close_fd(&e->pidfd);
    close_fd(&e->wake_fd);
    zipc__segment_close(&e->cursor_seg);
    *e = (struct subscriber_entry){.sock = -1, .pidfd = -1, .wake_fd = -1, .cursor_seg = {.fd = -1}};
    zipc__store(&slot_info(&pub->data, i)->state, ZIPC_TOPIC_SLOT_FREE, ZIPC__RELAXED); /* informative */
}

/* A subscriber left (closed, died or evicted): free its slot, and tell a
 * publisher that may wait for it to look again. */
static void remove_subscriber(zipc_publisher *pub, uint32_t i)
{
    pthread_mutex_lock(&pub->lock);
    struct subscriber_entry *e = &pub->subs[i];
    if (e->used) {
        /* acquire: a clean close is its last word (§2.5 #15) */
        bool clean = zipc__load(&e->cursor->side.state, ZIPC__ACQUIRE) == ZIPC_STATE_CLOSED;
        if (!e->evicted)
            *(clean ? &pub->departed : &pub->died) += 1;
        free_entry(pub, i);
    }
    pthread_mutex_unlock(&pub->lock);
    wake_fd(pub->wait.wake_fd);
}

/* The subscriber's request, from its cursor page: validated. */
static int read_request(const struct zipc_topic_cursor *c, uint32_t *policy, uint64_t *max_lag, uint64_t *history)
{
    *policy = c->policy;
    *max_lag = c->max_lag;
    *history = c->history;
    if (*policy > ZIPC_SUB_MAX_LAG || (*policy == ZIPC_SUB_MAX_LAG && *max_lag == 0) ||
        (c->flags & ~(uint32_t)ZIPC_SUB_RESUME_NEWEST))
        return -EINVAL;
    return 0;
}

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* After its ack: set its start, then count it (under lock, so the start is
 * never reclaimed before its cursor is read). */
static int register_subscriber(zipc_publisher *pub, uint32_t i)
{
    struct subscriber_entry *e = &pub->subs[i];
    uint64_t history, gap;
    int err = read_request(e->cursor, &e->policy, &e->max_lag, &history);
    if (err)
        return err;
    pthread_mutex_lock(&pub->lock);
    struct spot start = join_point(pub, history, &gap);
    struct zipc_topic_cursor *c = e->cursor;
    c->start = start.pos;
    c->start_seq = start.seq;
    c->gap = gap;
    /* relaxed: the subscriber has not started; the "go" message orders these */
    zipc__store(&c->side.messages, start.seq, ZIPC__RELAXED);
    zipc__store(&c->side.position, start.pos, ZIPC__RELAXED);
    e->active = true;
    pub->joined++;
    struct zipc_topic_slot_info *si = slot_info(&pub->data, i);
    *si = (struct zipc_topic_slot_info){.state = ZIPC_TOPIC_SLOT_ACTIVE, .pid = (uint32_t)e->pid,
                                        .policy = e->policy, .max_lag = e->max_lag, .head = start.pos,
                                        .head_seq = start.seq, .joined_ns = (uint64_t)realtime_ns()};
    pthread_mutex_unlock(&pub->lock);
    return 0;
}

static const struct zipc__kind_desc topic_kind;

/* Hand a joiner the topic: a cursor page and a wake eventfd of its own. */
static int offer_subscriber(zipc_publisher *pub, uint32_t i, struct zipc__peer *peer, int64_t deadline)
{
    struct subscriber_entry *e = &pub->subs[i];
    int err = zipc__segment_create(&e->cursor_seg, zipc__segment_policy_rw(0), ZIPC_KIND_TOPIC_CURSOR,
                                   ZIPC_TOPIC_PAGE_SEGMENT, ZIPC_TOPIC_BODY_OFFSET,
                                   sizeof(struct zipc_topic_cursor), pub->label);
    if (err)
        return err;
    e->cursor = page_body(&e->cursor_seg);
    e->cursor->slot = i;
    if ((e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return -errno;
    struct zipc__handover h = {.seg = pub->data};
    h.fds[FD_BOARD] = pub->board_seg.fd;
    h.fds[FD_CURSOR] = e->cursor_seg.fd;
    h.fds[FD_SUB_WAKE] = e->wake_fd;
    h.fds[FD_PUB_WAKE] = pub->wait.wake_fd;
    return zipc__endpoint_offer(&topic_kind, &h, ZIPC_ROLE_CONSUMER, peer, deadline);
}

/* Claim a free slot for a joiner: its index, or -ENOSPC. */
static int claim_slot(zipc_publisher *pub)
{
    int slot = -ENOSPC;
    pthread_mutex_lock(&pub->lock);
    for (uint32_t i = 0; i < pub->max_subs && slot < 0; i++)
        if (!pub->subs[i].used) {
            pub->subs[i].used = true;
            slot = (int)i;
        }
    pthread_mutex_unlock(&pub->lock);
    return slot;
}

static void admit_one(zipc_publisher *pub)
{
    int64_t limit = pub->opts.timeout_ns < 0 || pub->opts.timeout_ns > DOOR_HANDSHAKE_NS ? DOOR_HANDSHAKE_NS
                                                                                        : pub->opts.timeout_ns;
    int64_t deadline = zipc__now_ns() + limit;
    struct zipc__peer peer = {.sock = -1};
    if (zipc__accept_peer(pub->door.lsock, ZIPC_KIND_TOPIC, &pub->opts, deadline, &peer))
        return;
    int slot = claim_slot(pub);
    if (slot < 0) {
        zipc__refuse_peer(&peer, ZIPC_KIND_TOPIC, ENOSPC);
        close(peer.sock);
        return;
    }
    struct subscriber_entry *e = &pub->subs[slot];
    e->sock = peer.sock;
    e->pid = peer.pid;
    int err = offer_subscriber(pub, (uint32_t)slot, &peer, deadline);
    if (!err && (err = register_subscriber(pub, (uint32_t)slot)) == 0) {
        e->pidfd = zipc__peer_pidfd(peer.sock, peer.pid);
        zipc__send_ack(&peer, 0); /* "go"; if it is gone, the door sees it next */
        return;
    }
    zipc__send_ack(&peer, err);
    pthread_mutex_lock(&pub->lock);
    free_entry(pub, (uint32_t)slot);
    pthread_mutex_unlock(&pub->lock);
}

/* Did this link say its subscriber is gone? Junk bytes are dropped. */
static bool link_gone(const struct pollfd *p)
{
    if (p->revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL))
        return true;
    if (!(p->revents & POLLIN))
        return false;
    char junk[64];
    ssize_t n = recv(p->fd, junk, sizeof(junk), MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

/* The poll set: stop, the listening socket, then each subscriber's link
 * and pidfd (slot[k]: whose). Returns its size. */
static unsigned door_poll_set(zipc_publisher *pub, struct pollfd *p, uint32_t *slot)
{
    unsigned n = 0;
    p[n++] = (struct pollfd){.fd = pub->stop_fd, .events = POLLIN};
    p[n++] = (struct pollfd){.fd = pub->door.lsock, .events = POLLIN};
    pthread_mutex_lock(&pub->lock);
    for (uint32_t i = 0; i < pub->max_subs; i++) {
        const struct subscriber_entry *e = &pub->subs[i];
        if (!e->active)
            continue;
        slot[n] = i;
        p[n++] = (struct pollfd){.fd = e->sock, .events = POLLIN | POLLRDHUP};
        if (e->pidfd >= 0) {
            slot[n] = i;
            p[n++] = (struct pollfd){.fd = e->pidfd, .events = POLLIN};
        }
    }
    pthread_mutex_unlock(&pub->lock);
    return n;
}

static void *door_main(void *arg)
{
    zipc_publisher *pub = arg;
    unsigned cap = 2 + 2 * pub->max_subs;
    struct pollfd *p = calloc(cap, sizeof(*p));
    uint32_t *slot = calloc(cap, sizeof(*slot));
    while (p && slot) {
        unsigned n = door_poll_set(pub, p, slot);
        if (poll(p, n, -1) < 0)
            continue; /* EINTR */
        if (p[0].revents)
            break;
        for (unsigned k = 2; k < n; k++)
            if (p[k].revents && (p[k].fd != pub->subs[slot[k]].sock || link_gone(&p[k])))
                remove_subscriber(pub, slot[k]); /* a readable pidfd: it exited */
        if (p[1].revents & POLLIN)
            admit_one(pub);
    }
    free(p);
    free(slot);
    return NULL;
}

/* The door thread takes no signals: they stay the application's. */
static int start_door(zipc_publisher *pub)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&pub->door_thread, NULL, door_main, pub);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pub->door_running = err == 0;
    return -err;
}

/* ---- publisher setup --------------------------------------------------------- */

static void init_data(zipc_publisher *pub, uint64_t ring_size)
{
    struct zipc_topic_ctl *ctl = ctl_of(&pub->data);
    ctl->ring_offset = ZIPC_TOPIC_RING_OFFSET(pub->max_subs);
    ctl->ring_size = ring_size;
    ctl->max_message = (uint32_t)(ring_size / 2 - ZIPC_FRAME_HEADER);
    ctl->frame_align = ZIPC_FRAME_ALIGN;
    ctl->max_subscribers = pub->max_subs;
    ctl->publisher.pid = (uint32_t)getpid();
    ctl->publisher.state = ZIPC_STATE_ACTIVE;
    pub->ctl = ctl;
}

static int create_segments(zipc_publisher *pub, uint64_t ring_size)
{
    uint64_t body = sizeof(struct zipc_topic_ctl) + (uint64_t)pub->max_subs * sizeof(struct zipc_topic_slot_info);
    /* Read-only for everyone else: write seals allowed, added once filled. */
    int err = zipc__segment_create(&pub->data, zipc__segment_policy_ro(0, 0, true), ZIPC_KIND_TOPIC,
                                   data_size(ring_size, pub->max_subs), ZIPC_TOPIC_BODY_OFFSET, body, pub->label);
    if (err)
        return err;
    init_data(pub, ring_size);
    if ((err = zipc__segment_seal_writes(&pub->data, false)))
        return err;
    err = zipc__segment_create(&pub->board_seg, zipc__segment_policy_rw(0), ZIPC_KIND_TOPIC_BOARD,
                               ZIPC_TOPIC_PAGE_SEGMENT, ZIPC_TOPIC_BODY_OFFSET, sizeof(struct zipc_topic_board),
                               pub->label);
    if (err)
        return err;
    pub->board = page_body(&pub->board_seg);
    return 0;
}

static void bind_waiter(zipc_publisher *pub)
{
    struct zipc__waiter *w = &pub->wait;
    w->my_sleeping = &pub->board->publisher_wait.sleeping;
    w->peer_sleeping = &pub->board->sleepers;
    w->wake_slow = wake_subscribers;
    pub->always_active = ZIPC_STATE_ACTIVE;
    w->peer_state = &pub->always_active;
    w->my_wakeups = &pub->ctl->publisher.wakeups;
    w->my_sleeps = &pub->ctl->publisher.sleeps;
    w->spin_ns = pub->opts.spin_ns;
}

static int publisher_alloc(zipc_publisher **out, uint32_t max_subs)
{
    zipc_publisher *pub = aligned_alloc(ZIPC_CACHE_LINE, zipc__align_up(sizeof(*pub), ZIPC_CACHE_LINE));
    if (!pub)
        return -ENOMEM;
    memset(pub, 0, sizeof(*pub));
    zipc__waiter_init(&pub->wait);
    pthread_mutex_init(&pub->lock, NULL);
    pub->data.fd = pub->board_seg.fd = pub->door.lsock = pub->stop_fd = -1;
    pub->tx.sticky_err = ZIPC__RING_UNBOUND;
    pub->max_subs = max_subs;
    *out = pub;
    if (!(pub->subs = calloc(max_subs, sizeof(*pub->subs))))
        return -ENOMEM;
    for (uint32_t i = 0; i < max_subs; i++)
        pub->subs[i] = (struct subscriber_entry){.sock = -1, .pidfd = -1, .wake_fd = -1, .cursor_seg = {.fd = -1}};
    return 0;
}

static int publisher_open(zipc_publisher *pub, const char *name, uint64_t ring_size)
{
    snprintf(pub->label, sizeof(pub->label), "%s", pub->opts.label ? pub->opts.label : name);
    int err = create_segments(pub, ring_size);
    if (err)
        return err;
    if ((pub->wait.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        (pub->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return -errno;
    struct zipc__ring ring;
    zipc__ring_init(&ring, pub->data.base + pub->ctl->ring_offset, ring_size);
    if ((err = zipc__ring_tx_bind(&pub->tx, &ring, &pub->ctl->publisher, NULL, &pub->wait)))
        return err;
    pub->tx.refresh = publisher_refresh;
    bind_waiter(pub);
    if ((err = zipc__door_open(&pub->door, name, &pub->opts)))
        return err;
    return start_door(pub);
}

int zipc_topic_create(zipc_publisher **out, const char *name, size_t capacity, uint32_t max_subscribers,
                      const struct zipc_options *opts)
{
    if (!out || !name)
        return -EINVAL;
    *out = NULL;
    uint64_t ring_size = zipc__ring_capacity(capacity);
    uint32_t max_subs = max_subscribers ? max_subscribers : ZIPC_TOPIC_DEFAULT_SUBSCRIBERS;
    if (!ring_size || max_subs > ZIPC_TOPIC_MAX_SUBSCRIBERS)
        return -EINVAL;
    struct zipc__opts o;
    int err = zipc__opts_resolve(opts, &o);
    if (err)
        return err;
    zipc_publisher *pub = NULL;
    if ((err = publisher_alloc(&pub, max_subs)) == 0) {
        pub->opts = o;
        err = publisher_open(pub, name, ring_size);
    }
    if (err) {
        zipc_publisher_close(pub);
        return err;
    }
    *out = pub;
    return 0;
}

int zipc_publisher_close(zipc_publisher *pub)
{
    if (!pub)
        return 0;
    if (pub->ctl) {
        zipc__ring_tx_stop(&pub->tx); /* publishes what was staged */
        /* release: everything published happens-before a subscriber seeing CLOSED (§2.5 #15) */
        zipc__store(&pub->ctl->publisher.state, ZIPC_STATE_CLOSED, ZIPC__RELEASE);
    }
    if (pub->door_running) {
        wake_fd(pub->stop_fd);
        pthread_join(pub->door_thread, NULL);
    }
    zipc__door_close(&pub->door);
    for (uint32_t i = 0; pub->subs && i < pub->max_subs; i++) {
        wake_fd(pub->subs[i].wake_fd); /* a sleeper looks again and sees CLOSED */
        free_entry(pub, i);
    }
    free(pub->subs);
    close_fd(&pub->stop_fd);
    zipc__waiter_close(&pub->wait);
    zipc__segment_close(&pub->board_seg);
    zipc__segment_close(&pub->data);
    zipc__ring_tx_free(&pub->tx);
    pthread_mutex_destroy(&pub->lock);
    free(pub);
    return 0;
}

/* ---- publisher calls ----------------------------------------------------------- */

int zipc_publisher_reserve(zipc_publisher *pub, size_t size, void **buf, int64_t timeout_ns)
{
    if (ZIPC__UNLIKELY(!pub || !buf))
        return -EINVAL;
    return zipc__ring_tx_reserve(&pub->tx, size, buf, timeout_ns);
}

int zipc_publisher_commit(zipc_publisher *pub, size_t size, uint32_t type, unsigned flags)
{
    if (ZIPC__UNLIKELY(!pub))
        return -EINVAL;
    if (ZIPC__UNLIKELY(flags & ~ZIPC_COMMIT_MORE))
        return zipc__ring_tx_misuse(&pub->tx);
    return zipc__ring_tx_commit(&pub->tx, size, type, flags & ZIPC_COMMIT_MORE);
}

int zipc_publisher_abort(zipc_publisher *pub) { return pub ? zipc__ring_tx_abort(&pub->tx) : -EINVAL; }
int zipc_publisher_flush(zipc_publisher *pub) { return pub ? zipc__ring_tx_flush(&pub->tx) : -EINVAL; }

int zipc_publisher_send(zipc_publisher *pub, const void *data, size_t size, uint32_t type, int64_t timeout_ns)
{
    if (!pub || (!data && size))
        return -EINVAL;
    return zipc__ring_tx_send(&pub->tx, data, size, type, timeout_ns);
}

int zipc_publisher_interrupt(zipc_publisher *pub)
{
    if (!pub)
        return -EINVAL;
    zipc__waiter_interrupt(&pub->wait);
    return 0;
}

int zipc_publisher_fd(zipc_publisher *pub) { return pub ? zipc__waiter_fd(&pub->wait) : -EINVAL; }
size_t zipc_publisher_capacity(const zipc_publisher *pub) { return pub ? pub->tx.ring.size : 0; }
size_t zipc_publisher_max_message(const zipc_publisher *pub) { return pub ? pub->tx.ring.max_message : 0; }

static uint64_t count_attached(const zipc_publisher *pub)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < pub->max_subs; i++)
        n += pub->subs[i].active && !pub->subs[i].evicted;
    return n;
}

int zipc_publisher_subscribers(zipc_publisher *pub)
{
    if (!pub)
        return -EINVAL;
    pthread_mutex_lock(&pub->lock);
    int n = (int)count_attached(pub);
    pthread_mutex_unlock(&pub->lock);
    return n;
}

int zipc_publisher_get_stats(zipc_publisher *pub, struct zipc_publisher_stats *st)
{
    if (!pub || !st)
        return -EINVAL;
    const struct zipc_channel_side *me = &pub->ctl->publisher;
    /* relaxed: informative counters, written by this endpoint only (§2.5 #2, #18) */
    st->messages = zipc__load(&me->messages, ZIPC__RELAXED);
    st->bytes = zipc__load(&me->position, ZIPC__RELAXED);
    st->wakeups = zipc__load(&me->wakeups, ZIPC__RELAXED);
    st->sleeps = zipc__load(&me->sleeps, ZIPC__RELAXED);
    pthread_mutex_lock(&pub->lock);
    st->subscribers = count_attached(pub);
    st->joined = pub->joined;
    st->departed = pub->departed;
    st->died = pub->died;
    st->evicted = pub->evicted;
    pthread_mutex_unlock(&pub->lock);
    return 0;
}

/* ------------------------------------------------------------------------
 * Subscriber
 * ------------------------------------------------------------------------ */

struct zipc_subscriber {
    /* ---- per message ------------------------------------------------------ */
    struct zipc__ring_rx rx;
    _Alignas(ZIPC_CACHE_LINE) struct zipc__waiter wait;
    /* ---- cold ------------------------------------------------------------------ */
    struct zipc__segment data, board_seg, cursor_seg;
    const struct zipc_topic_ctl *ctl;
    struct zipc_topic_cursor *cursor;
    struct zipc_subscription req;
    uint64_t start_seq;       /* where we joined */
    uint64_t dropped_below;   /* views below this seq were dropped by an overtake */
    bool gap_pending;         /* the join's history gap is still to be reported */
    uint64_t loss_messages, loss_bytes;             /* the last loss */
    uint64_t lost_messages, lost_bytes, overflows;  /* all of them */
    int publisher_pid;
};

static bool evicted(const zipc_subscriber *sub)
{
    return zipc__load(&sub->cursor->evicted, ZIPC__RELAXED) != 0; /* relaxed: read after the hang-up */
}

static int report_loss(zipc_subscriber *sub, uint64_t messages, uint64_t bytes)
{
    sub->loss_messages = messages;
    sub->loss_bytes = bytes;
    sub->lost_messages += messages;
    sub->lost_bytes += bytes;
    sub->overflows++;
    return -EOVERFLOW;
}

/* The oldest pair, read consistently; validated against our read position. */
static int read_oldest(const zipc_subscriber *sub, struct spot *s)
{
    const struct zipc_topic_oldest *o = &sub->ctl->oldest;
    for (int i = 0; i < OLDEST_TRIES; i++) {
        /* acquire version, relaxed pair, acquire fence, relaxed version: the
         * seqlock's reader (§2.5 #19) */
        uint64_t v = zipc__load(&o->version, ZIPC__ACQUIRE);
        s->pos = zipc__load(&o->position, ZIPC__RELAXED);
        s->seq = zipc__load(&o->seq, ZIPC__RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!(v & 1) && zipc__load(&o->version, ZIPC__RELAXED) == v)
            goto read;
        zipc__cpu_relax();
    }
    return -EAGAIN;
read:
    return s->pos & (ZIPC_FRAME_ALIGN - 1) ? -EBADMSG : 0;
}

/* The ring overtook us: resume at the oldest frame (or the newest) and
 * report what was skipped, once. Open views are dropped (their release
 * says -ESTALE). */
static int overtaken(zipc_subscriber *sub)
{
    if (evicted(sub))
        return zipc__ring_fail(&sub->rx.sticky_err, -EBADMSG);
    struct spot s;
    int err = read_oldest(sub, &s);
    /* It overtook us, and every message takes at least one slot of position. */
    if (!err && ((int64_t)(s.pos - sub->rx.rpos) <= 0 ||
                 s.seq - sub->rx.taken > (s.pos - sub->rx.rpos) / ZIPC_FRAME_ALIGN))
        err = -EBADMSG;
    if (err)
        return err == -EBADMSG ? zipc__ring_fail(&sub->rx.sticky_err, err) : err;
    if (sub->req.flags & ZIPC_SUB_RESUME_NEWEST)
        walk(&sub->rx.ring, &s, UINT64_MAX);
    uint64_t messages = s.seq - sub->rx.taken, bytes = s.pos - sub->rx.rpos;
    sub->dropped_below = sub->rx.taken;
    zipc__ring_rx_seek(&sub->rx, s.pos, s.seq);
    return report_loss(sub, messages, bytes);
}

/* Map a ring error to the subscriber's: overtaken, evicted, or as is. */
static int sub_error(zipc_subscriber *sub, int err)
{
    if (err == -EOVERFLOW)
        return overtaken(sub);
    if (err == -EPIPE && evicted(sub))
        return zipc__ring_fail(&sub->rx.sticky_err, -EBADMSG);
    return err;
}

static int pending_gap(zipc_subscriber *sub)
{
    sub->gap_pending = false;
    return report_loss(sub, zipc__load(&sub->cursor->gap, ZIPC__RELAXED), 0);
}

int zipc_subscriber_view(zipc_subscriber *sub, struct zipc_msg *msg, int64_t timeout_ns)
{
    if (ZIPC__UNLIKELY(!sub))
        return -EINVAL;
    if (ZIPC__UNLIKELY(sub->gap_pending))
        return pending_gap(sub);
    int err = zipc__ring_rx_view(&sub->rx, msg, timeout_ns);
    return ZIPC__LIKELY(err == 0) ? 0 : sub_error(sub, err);
}

int zipc_subscriber_drain(zipc_subscriber *sub, struct zipc_msg *msgs, unsigned max, int64_t timeout_ns)
{
    if (!sub || !msgs || max == 0)
        return -EINVAL;
    if (sub->gap_pending)
        return pending_gap(sub);
    int n = zipc__ring_rx_drain(&sub->rx, msgs, max, timeout_ns);
    return n > 0 ? n : sub_error(sub, n);
}

int zipc_subscriber_recv(zipc_subscriber *sub, void *buf, size_t cap, size_t *size, uint32_t *type,
                         int64_t timeout_ns)
{
    if (!sub || (!buf && cap))
        return -EINVAL;
    if (sub->gap_pending)
        return pending_gap(sub);
    int err = zipc__ring_rx_recv(&sub->rx, buf, cap, size, type, timeout_ns);
    return err ? sub_error(sub, err) : 0;
}

/* After a release of views starting at `from`: were they overwritten? */
static int released(const zipc_subscriber *sub, int err, uint64_t from)
{
    if (err)
        return err;
    return zipc__ring_rx_overwritten(&sub->rx, from) ? -ESTALE : 0;
}

int zipc_subscriber_release(zipc_subscriber *sub)
{
    if (ZIPC__UNLIKELY(!sub))
        return -EINVAL;
    uint64_t from = sub->rx.head;
    bool any = sub->rx.views != 0;
    int err = zipc__ring_rx_release(&sub->rx);
    return any ? released(sub, err, from) : err;
}

/* A view dropped by an overtake: -ESTALE rather than "not a view". */
static int dropped(const zipc_subscriber *sub, const struct zipc_msg *m, int err)
{
    return err == -EINVAL && m && m->seq < sub->dropped_below ? -ESTALE : err;
}

static uint64_t view_start(const struct zipc_msg *m) { return m->end_ - zipc__frame_bytes(m->size); }

int zipc_subscriber_release_upto(zipc_subscriber *sub, const struct zipc_msg *last)
{
    if (!sub)
        return -EINVAL;
    uint64_t from = sub->rx.head;
    return dropped(sub, last, released(sub, zipc__ring_rx_release_upto(&sub->rx, last), from));
}

int zipc_subscriber_release_view(zipc_subscriber *sub, const struct zipc_msg *msg)
{
    if (ZIPC__UNLIKELY(!sub || !msg))
        return -EINVAL;
    return dropped(sub, msg, released(sub, zipc__ring_rx_release_view(&sub->rx, msg), view_start(msg)));
}

int zipc_subscriber_release_views(zipc_subscriber *sub, const struct zipc_msg *msgs, unsigned n)
{
    if (!sub || !msgs || n == 0)
        return -EINVAL;
    return dropped(sub, msgs, released(sub, zipc__ring_rx_release_views(&sub->rx, msgs, n), view_start(msgs)));
}

/* One try at the newest message of `type` still in the ring: 1 found and
 * copied intact, 0 none, -EAGAIN overwritten while copying, -EMSGSIZE. */
static int latest_once(zipc_subscriber *sub, uint32_t type, void *buf, size_t cap, size_t *size, uint32_t *type_out)
{
    struct spot s;
    int err = read_oldest(sub, &s);
    if (err)
        return err == -EBADMSG ? zipc__ring_fail(&sub->rx.sticky_err, err) : err;
    const struct zipc__ring *r = &sub->rx.ring;
    const struct zipc_frame *found = NULL, *f;
    uint64_t found_pos = 0, next;
    for (uint64_t steps = 0; steps <= 2 * (uint64_t)r->lap_frames && frame_step(r, s.pos, s.seq, &next, &f) == 1;
         steps++) {
        if (f && (type == ZIPC_TYPE_ANY || f->type == type)) {
            found = f;
            found_pos = s.pos;
        }
        s.seq += f != NULL;
        s.pos = next;
    }
    if (!found)
        return 0;
    uint32_t n = zipc__load(&found->size, ZIPC__RELAXED), t = zipc__load(&found->type, ZIPC__RELAXED);
    if (n > r->max_message || (found_pos & r->mask) + zipc__frame_bytes(n) > r->size)
        return -EAGAIN;
    if (size)
        *size = n;
    if (type_out)
        *type_out = t;
    if (n > cap)
        return -EMSGSIZE;
    memcpy(buf, (const uint8_t *)found + ZIPC_FRAME_HEADER, n);
    return zipc__ring_rx_overwritten(&sub->rx, found_pos) ? -EAGAIN : 1;
}

int zipc_subscriber_latest(zipc_subscriber *sub, uint32_t type, void *buf, size_t cap, size_t *size,
                           uint32_t *type_out)
{
    if (!sub || (!buf && cap))
        return -EINVAL;
    for (int tries = 0; tries < 8; tries++) {
        int r = latest_once(sub, type, buf, cap, size, type_out);
        if (r != -EAGAIN)
            return r > 0 ? 0 : r == 0 ? -ENOENT : r;
    }
    return -EAGAIN; /* the ring laps faster than one copy */
}

int zipc_subscriber_last_loss(const zipc_subscriber *sub, uint64_t *messages, uint64_t *bytes)
{
    if (!sub)
        return -EINVAL;
    if (messages)
        *messages = sub->loss_messages;
    if (bytes)
        *bytes = sub->loss_bytes;
    return 0;
}

int zipc_subscriber_interrupt(zipc_subscriber *sub)
{
    if (!sub)
        return -EINVAL;
    zipc__waiter_interrupt(&sub->wait);
    return 0;
}

int zipc_subscriber_fd(zipc_subscriber *sub) { return sub ? zipc__waiter_fd(&sub->wait) : -EINVAL; }
size_t zipc_subscriber_capacity(const zipc_subscriber *sub) { return sub ? sub->rx.ring.size : 0; }
size_t zipc_subscriber_max_message(const zipc_subscriber *sub) { return sub ? sub->rx.ring.max_message : 0; }
int zipc_subscriber_publisher_pid(const zipc_subscriber *sub) { return sub ? sub->publisher_pid : -EINVAL; }

int zipc_subscriber_get_stats(const zipc_subscriber *sub, struct zipc_subscriber_stats *st)
{
    if (!sub || !st)
        return -EINVAL;
    const struct zipc_channel_side *me = &sub->cursor->side;
    /* relaxed: informative counters (§2.5 #2, #11, #18) */
    uint64_t head_seq = zipc__load(&me->messages, ZIPC__RELAXED);
    uint64_t published = zipc__load(&sub->ctl->publisher.messages, ZIPC__RELAXED);
    st->messages = head_seq - sub->start_seq - sub->lost_messages;
    st->bytes = zipc__load(&me->position, ZIPC__RELAXED) - zipc__load(&sub->cursor->start, ZIPC__RELAXED) -
                sub->lost_bytes;
    st->lost_messages = sub->lost_messages;
    st->lost_bytes = sub->lost_bytes;
    st->overflows = sub->overflows;
    st->lag = published - head_seq < (uint64_t)INT64_MAX ? published - head_seq : 0;
    st->wakeups = zipc__load(&me->wakeups, ZIPC__RELAXED);
    st->sleeps = zipc__load(&me->sleeps, ZIPC__RELAXED);
    return 0;
}

/* ---- subscriber setup ------------------------------------------------------------ */

static struct zipc__segment_policy data_policy(uint64_t max_size)
{
    /* read-only, and the publisher must have sealed it so (nobody else can write it) */
    return zipc__segment_policy_ro(max_size, F_SEAL_FUTURE_WRITE, true);
}

/* The data's layout, from the publisher (validated; read once). */
static int check_layout(const struct zipc__segment *seg, struct zipc__ring *ring)
{
    const struct zipc_segment_header *h = (const void *)seg->base;
    const struct zipc_topic_ctl *ctl = ctl_of(seg);
    uint64_t ring_offset = ctl->ring_offset, size = ctl->ring_size;
    uint32_t max_subs = ctl->max_subscribers;
    if (h->body_offset != ZIPC_TOPIC_BODY_OFFSET || max_subs == 0 || max_subs > ZIPC_TOPIC_MAX_SUBSCRIBERS ||
        h->body_size != sizeof(*ctl) + (uint64_t)max_subs * sizeof(struct zipc_topic_slot_info) ||
        ring_offset != ZIPC_TOPIC_RING_OFFSET(max_subs) || size < ZIPC_MIN_CAPACITY || size > ZIPC_MAX_CAPACITY ||
        (size & (size - 1)) || seg->size != ring_offset + size ||
        ctl->max_message != size / 2 - ZIPC_FRAME_HEADER || ctl->frame_align != ZIPC_FRAME_ALIGN)
        return -EBADMSG;
    zipc__ring_init(ring, seg->base + ring_offset, size);
    return 0;
}

/* A one-page segment of ours (board or cursor): read-write, that kind. */
static int attach_page(struct zipc__segment *seg, int *fd, uint32_t kind, uint64_t body_size)
{
    int err = zipc__segment_attach(seg, zipc__segment_policy_rw(ZIPC_TOPIC_PAGE_SEGMENT), *fd, kind);
    if (err)
        return err;
    *fd = -1;
    const struct zipc_segment_header *h = (const void *)seg->base;
    if (seg->size != ZIPC_TOPIC_PAGE_SEGMENT || h->body_offset != ZIPC_TOPIC_BODY_OFFSET || h->body_size != body_size)
        return -EBADMSG;
    return 0;
}

static void bind_sub_waiter(zipc_subscriber *sub, struct zipc__handover *h, const struct zipc__opts *o)
{
    struct zipc__waiter *w = &sub->wait;
    struct zipc_topic_board *board = page_body(&sub->board_seg);
    w->sock = h->peer.sock;
    w->pidfd = zipc__peer_pidfd(h->peer.sock, h->peer.pid);
    w->wake_fd = h->fds[FD_SUB_WAKE];
    w->peer_wake_fd = h->fds[FD_PUB_WAKE];
    h->peer.sock = h->fds[FD_SUB_WAKE] = h->fds[FD_PUB_WAKE] = -1;
    w->my_sleeping = &sub->cursor->wait.sleeping;
    w->peer_sleeping = &board->publisher_wait.sleeping;
    w->sleep_hint = &board->sleepers;
    w->peer_state = &sub->ctl->publisher.state;
    w->my_wakeups = &sub->cursor->side.wakeups;
    w->my_sleeps = &sub->cursor->side.sleeps;
    w->spin_ns = o->spin_ns;
    w->peer_pid = h->peer.pid;
    sub->publisher_pid = h->peer.pid;
}

/* The endpoint layer's bind: the data (checked), our two pages, our
 * request written for the publisher to read after our ack. */
static int subscriber_bind(void *ep, struct zipc__handover *h, const struct zipc__opts *o)
{
    zipc_subscriber *sub = ep;
    struct zipc__ring ring;
    int err = check_layout(&h->seg, &ring);
    if (err || (err = attach_page(&sub->board_seg, &h->fds[FD_BOARD], ZIPC_KIND_TOPIC_BOARD,
                                  sizeof(struct zipc_topic_board))) ||
        (err = attach_page(&sub->cursor_seg, &h->fds[FD_CURSOR], ZIPC_KIND_TOPIC_CURSOR,
                           sizeof(struct zipc_topic_cursor))))
        return err; /* the pages attached so far are closed with the subscriber */
    sub->data = h->seg;
    h->seg = (struct zipc__segment){.fd = -1};
    sub->ctl = ctl_of(&sub->data);
    sub->cursor = page_body(&sub->cursor_seg);
    zipc__ring_rx_bind(&sub->rx, &ring, &sub->cursor->side, &sub->wait);
    sub->rx.oldest = &sub->ctl->oldest.position;
    struct zipc_topic_cursor *c = sub->cursor;
    c->policy = sub->req.policy;
    c->flags = sub->req.flags;
    c->max_lag = sub->req.max_lag;
    c->history = sub->req.history;
    bind_sub_waiter(sub, h, o);
    /* relaxed pid, release ACTIVE: informative (§2.5 #14) */
    zipc__store(&c->side.pid, (uint32_t)getpid(), ZIPC__RELAXED);
    zipc__store(&c->side.state, ZIPC_STATE_ACTIVE, ZIPC__RELEASE);
    return 0;
}

static const struct zipc__kind_desc topic_kind = {
    .kind = ZIPC_KIND_TOPIC,
    .nfds = TOPIC_NFDS,
    .roles = 1u << ZIPC_ROLE_CONSUMER,
    .segment_fds = 1u << FD_BOARD | 1u << FD_CURSOR,
    .body_offset = ZIPC_TOPIC_BODY_OFFSET,
    .max_segment = ZIPC_TOPIC_RING_OFFSET(ZIPC_TOPIC_MAX_SUBSCRIBERS) + ZIPC_MAX_CAPACITY,
    .policy = data_policy,
    .bind = subscriber_bind,
};

/* Start where the publisher said in our cursor page (after its "go"). */
static int start_from_cursor(zipc_subscriber *sub)
{
    const struct zipc_topic_cursor *c = sub->cursor;
    uint64_t start = c->start, seq = c->start_seq;
    if (start & (ZIPC_FRAME_ALIGN - 1))
        return -EBADMSG;
    sub->wait.sleep_hint_bit = 1u << (c->slot & 31);
    sub->start_seq = seq;
    sub->gap_pending = c->gap != 0;
    zipc__ring_rx_seek(&sub->rx, start, seq);
    return 0;
}

static int check_request(const struct zipc_subscription *r)
{
    if (r->policy > ZIPC_SUB_MAX_LAG || (r->policy == ZIPC_SUB_MAX_LAG && r->max_lag == 0) ||
        (r->flags & ~(uint32_t)ZIPC_SUB_RESUME_NEWEST))
        return -EINVAL;
    return 0;
}

static int subscriber_alloc(zipc_subscriber **out, const struct zipc_subscription *req)
{
    struct zipc_subscription none = {0};
    int err = check_request(req ? req : &none);
    if (err)
        return err;
    zipc_subscriber *sub = aligned_alloc(ZIPC_CACHE_LINE, zipc__align_up(sizeof(*sub), ZIPC_CACHE_LINE));
    if (!sub)
        return -ENOMEM;
    memset(sub, 0, sizeof(*sub));
    zipc__waiter_init(&sub->wait);
    sub->data.fd = sub->board_seg.fd = sub->cursor_seg.fd = -1;
    sub->rx.sticky_err = ZIPC__RING_UNBOUND;
    sub->req = req ? *req : none;
    *out = sub;
    return 0;
}

/* The end of every setup: the subscriber, or the error and nothing left. */
static int subscriber_done(zipc_subscriber **out, zipc_subscriber *sub, int err)
{
    if (err) {
        zipc_subscriber_close(sub);
        return err;
    }
    *out = sub;
    return 0;
}

int zipc_topic_subscribe(zipc_subscriber **out, const char *name, const struct zipc_subscription *req,
                         const struct zipc_options *opts)
{
    if (!out || !name)
        return -EINVAL;
    *out = NULL;
    struct zipc__opts o;
    zipc_subscriber *sub;
    int err = zipc__opts_resolve(opts, &o);
    if (err || (err = subscriber_alloc(&sub, req)))
        return err;
    int64_t deadline = zipc__deadline(o.timeout_ns);
    err = zipc__endpoint_connect(&topic_kind, sub, name, &o);
    if (!err && !(err = zipc__receive_ack(sub->wait.sock, deadline))) /* the publisher's "go" */
        err = start_from_cursor(sub);
    return subscriber_done(out, sub, err);
}

int zipc__subscriber_adopt(zipc_subscriber **out, int fds[ZIPC__TOPIC_NFDS], struct zipc__peer *peer,
                           const struct zipc__opts *o, uint64_t announced_size, const struct zipc_subscription *req)
{
    zipc_subscriber *sub;
    int err = subscriber_alloc(&sub, req);
    if (err)
        return err;
    err = zipc__endpoint_adopt(&topic_kind, sub, fds, ZIPC_ROLE_CONSUMER, peer, o, announced_size);
    return subscriber_done(out, sub, err ? err : start_from_cursor(sub));
}

int zipc_subscriber_close(zipc_subscriber *sub)
{
    if (!sub)
        return 0;
    if (sub->cursor) /* release: our last word; the publisher counts us as departed (§2.5 #15) */
        zipc__store(&sub->cursor->side.state, ZIPC_STATE_CLOSED, ZIPC__RELEASE);
    zipc__waiter_close(&sub->wait); /* the link's hang-up tells the publisher's door */
    zipc__segment_close(&sub->cursor_seg);
    zipc__segment_close(&sub->board_seg);
    zipc__segment_close(&sub->data);
    zipc__ring_rx_free(&sub->rx);
    free(sub);
    return 0;
}

/* Topic publisher: a ring tx half whose space comes from the slowest
 * lossless subscriber and from reclaiming the oldest frames; wake-ups of
 * sleeping subscribers; setup and the calls (docs/DESIGN.md §11). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "topic.h"

/* Reclaim a slice of the ring at once: the cursors are read once a slice. */
#define RECLAIM_SLICE_SHIFT 4
/* A publisher waiting for space looks at the cursors at least this often. */
#define RECHECK_NS 10000000LL

/* ---- the oldest frame ------------------------------------------------------ */

/* Publish a new oldest, before anything it frees is overwritten. */
static void publish_oldest(zipc_publisher *pub, struct spot s)
{
    struct zipc_topic_oldest *o = &pub->ctl->oldest;
    uint64_t v = o->version;
    /* relaxed odd version, release fence, relaxed pair, release even version:
     * a seqlock; readers retry while the version is odd or changed (§2.5 #22) */
    zipc__store(&o->version, v + 1, ZIPC__RELAXED);
    zipc__fence(ZIPC__RELEASE);
    zipc__store(&o->position, s.pos, ZIPC__RELAXED);
    zipc__store(&o->seq, s.seq, ZIPC__RELAXED);
    zipc__store(&o->version, v + 2, ZIPC__RELEASE);
    /* seq_cst fence: the new oldest is visible before any byte it frees is
     * overwritten; a reader of such a byte then sees it (§2.5 #22) */
    zipc__fence(ZIPC__SEQ_CST);
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
    while ((int64_t)(want - s.pos) > 0 && zipc__ring_frame_step(&pub->tx.ring, s.pos, s.seq, &next, &f) == 1) {
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
        return e->policy != ZIPC_SUB_BLOCK; /* MAX_LAG past its bound: it resyncs by itself;
                                               a BLOCK head is never passed */
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
        /* acquire: a clean close is its last word (§2.5 #15); it stops counting
         * now, before the door sees its link close */
        if (zipc__load(&e->cursor->side.state, ZIPC__ACQUIRE) == ZIPC_STATE_CLOSED)
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

/* Subscribers without the bell whose slot's hint bit is set and whose own
 * flag says they sleep. */
static void wake_own_fds(zipc_publisher *pub, struct zipc__waiter *w, uint32_t bits)
{
    pthread_mutex_lock(&pub->lock);
    for (uint32_t i = 0; i < pub->max_subs; i++) {
        struct subscriber_entry *e = &pub->subs[i];
        if (!(bits >> (i & 31) & 1) || !e->active || e->bell)
            continue;
        /* seq_cst exchange: one wake-up per sleep (§2.5 #25) */
        if (zipc__xchg(&e->cursor->wait.sleeping, 0, ZIPC__SEQ_CST)) {
            wake_fd(e->wake_fd);
            zipc__store(w->my_wakeups, zipc__load(w->my_wakeups, ZIPC__RELAXED) + 1, ZIPC__RELAXED);
        }
    }
    pthread_mutex_unlock(&pub->lock);
}

/* The waiter's wake_slow: a subscriber may sleep. One ring of the bell
 * wakes every subscriber that sleeps on it, however many; one that has no
 * bell (an older library) is woken through its own eventfd if its flag says
 * it sleeps. */
static void wake_subscribers(struct zipc__waiter *w)
{
    zipc_publisher *pub = publisher_of_waiter(w);
    /* seq_cst exchange: taken after our publish; a bit set later is seen by
     * the next publish, and its setter's re-check sees this one (§2.5 #25) */
    uint32_t bits = zipc__xchg(&pub->board->sleepers, 0, ZIPC__SEQ_CST);
    if (!bits)
        return;
    wake_fd(pub->bell);
    zipc__store(w->my_wakeups, zipc__load(w->my_wakeups, ZIPC__RELAXED) + 1, ZIPC__RELAXED);
    /* relaxed: a subscriber counted here was admitted before it could set
     * its bit, and our exchange read that bit (§2.5 #25) */
    if (zipc__load(&pub->own_wakes, ZIPC__RELAXED))
        wake_own_fds(pub, w, bits);
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
    /* Blocked by a lossless subscriber, look at the cursors now and then even
     * unwoken: a cursor made invalid while we sleep is evicted in that time. */
    w->max_sleep_ns = RECHECK_NS;
}

static int publisher_alloc(zipc_publisher **out, uint32_t max_subs)
{
    zipc_publisher *pub = aligned_alloc(ZIPC_CACHE_LINE, zipc__align_up(sizeof(*pub), ZIPC_CACHE_LINE));
    if (!pub)
        return -ENOMEM;
    memset(pub, 0, sizeof(*pub));
    zipc__waiter_init(&pub->wait);
    pthread_mutex_init(&pub->lock, NULL);
    pub->data.fd = pub->board_seg.fd = pub->door.lsock = pub->stop_fd = pub->bell = -1;
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
        (pub->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        (pub->bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return -errno;
    struct zipc__ring ring;
    zipc__ring_init(&ring, pub->data.base + pub->ctl->ring_offset, ring_size);
    if ((err = zipc__ring_tx_bind(&pub->tx, &ring, &pub->ctl->publisher, NULL, &pub->wait)))
        return err;
    pub->tx.refresh = publisher_refresh;
    bind_waiter(pub);
    if ((err = zipc__door_open(&pub->door, name, &pub->opts)))
        return err;
    return zipc__topic_door_start(pub);
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
    wake_fd(pub->bell); /* every sleeper looks again and sees CLOSED */
    close_fd(&pub->bell);
    for (uint32_t i = 0; pub->subs && i < pub->max_subs; i++) {
        wake_fd(pub->subs[i].wake_fd); /* one without the bell: the same */
        zipc__topic_slot_free(pub, i);
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

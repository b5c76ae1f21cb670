/* Topic door: the publisher's thread that admits subscribers (handshake,
 * start, "go") and watches their links and pidfds, freeing the slot of one
 * that leaves, dies or was evicted (docs/DESIGN.md §11). */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>

#include "topic.h"

/* A silent connector holds the door (admissions, and noticing deaths) at most this long. */
#define DOOR_HANDSHAKE_NS 2000000000LL

/* Where a joiner starts (under lock: the oldest cannot move): after the
 * newest message, or `history` messages before it; *gap: asked for, gone. */
static struct spot join_point(const zipc_publisher *pub, uint64_t history, uint64_t *gap)
{
    struct spot end = pub->oldest;
    uint64_t there = zipc__topic_walk(&pub->tx.ring, &end, UINT64_MAX);
    uint64_t n = history < there ? history : there;
    uint64_t asked = history < end.seq ? history : end.seq; /* messages that ever existed */
    *gap = asked - n;
    if (n == 0)
        return end;
    struct spot start = pub->oldest;
    zipc__topic_walk(&pub->tx.ring, &start, there - n);
    return start;
}

void zipc__topic_slot_free(zipc_publisher *pub, uint32_t i)
{
    struct subscriber_entry *e = &pub->subs[i];
    if (e->active && !e->bell) /* relaxed: see wake_subscribers */
        zipc__store(&pub->own_wakes, zipc__load(&pub->own_wakes, ZIPC__RELAXED) - 1, ZIPC__RELAXED);
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
        zipc__topic_slot_free(pub, i);
    }
    pthread_mutex_unlock(&pub->lock);
    wake_fd(pub->wait.wake_fd);
}

/* The subscriber's request, from its cursor page: validated. */
static int read_request(const struct zipc_topic_cursor *c, uint32_t *policy, uint64_t *max_lag, uint64_t *history)
{
    /* read once: the subscriber may change its page any time */
    struct zipc_subscription r = {.policy = c->policy, .flags = c->flags, .max_lag = c->max_lag,
                                  .history = c->history};
    *policy = r.policy;
    *max_lag = r.max_lag;
    *history = r.history;
    return zipc__subscription_check(&r);
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
    e->bell = c->bell != 0; /* read once: the subscriber may change its page any time */
    if (!e->bell) /* relaxed: the waker that needs it is ordered by the subscriber's sleep flag */
        zipc__store(&pub->own_wakes, zipc__load(&pub->own_wakes, ZIPC__RELAXED) + 1, ZIPC__RELAXED);
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
    return zipc__endpoint_offer(&zipc__topic_kind, &h, ZIPC_ROLE_CONSUMER, peer, deadline);
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
    if (zipc__accept_one(pub->door.lsock, ZIPC_KIND_TOPIC, &pub->opts, deadline, &peer))
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
        /* "go", with the bell if it asked; if it is gone, the door sees it next */
        zipc__send_ack_fd(&peer, 0, e->bell ? pub->bell : -1);
        return;
    }
    zipc__send_ack(&peer, err);
    pthread_mutex_lock(&pub->lock);
    zipc__topic_slot_free(pub, (uint32_t)slot);
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

/* Everything the door thread allocates, before it runs (zipc__thread_start). */
static int door_setup(void *arg)
{
    zipc_publisher *pub = arg;
    unsigned cap = 2 + 2 * pub->max_subs;
    pub->door_poll = calloc(cap, sizeof(*pub->door_poll));
    pub->door_whose = calloc(cap, sizeof(*pub->door_whose));
    if (pub->door_poll && pub->door_whose)
        return 0;
    free(pub->door_poll);
    free(pub->door_whose);
    return -ENOMEM;
}

static void *door_main(void *arg)
{
    zipc_publisher *pub = arg;
    struct pollfd *p = pub->door_poll;
    uint32_t *slot = pub->door_whose;
    for (;;) {
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

int zipc__topic_door_start(zipc_publisher *pub)
{
    int err = zipc__thread_start(&pub->door_thread, door_setup, door_main, pub);
    pub->door_running = err == 0;
    return err;
}

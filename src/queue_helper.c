/* Queue helper: one thread per member. It keeps the member's door
 * ("<name>#<slot>": whoever joins through it gets the segment and the
 * eventfds) and watches every member's liveness, cleaning up after the
 * dead: a consumer's claims are redelivered (or dropped, at-most-once), a
 * producer's lane is closed (its committed frames stay for the consumers).
 * Every member's helper does the same cleanup: each step is a
 * compare-and-swap, so doing it twice, or dying halfway, is harmless
 * (docs/DESIGN.md §12). */
#include <poll.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "queue.h"

#define HELPER_LOOK_NS 100000000LL  /* new members are watched within 100 ms of joining */
#define DOOR_HANDSHAKE_NS 2000000000LL /* a silent joiner holds the door at most this long */
#define DOOR_FREE_NS 2000000000LL      /* a dead holder's door is gone within this (its exit closing files) */
#define DOOR_RETRY_NS 1000000LL        /* look again after 1 ms */

/* ------------------------------------------------------------------------
 * Cleaning up
 * ------------------------------------------------------------------------ */

/* Is generation g at or before `upto` (16-bit, wrapping)? */
static bool gen_not_after(uint32_t g, uint32_t upto) { return (uint16_t)(upto - g) < 0x8000; }

uint32_t zipc__queue_reclaim_claims(zipc_queue *q, uint32_t c, uint32_t gen)
{
    bool drop = q->flags & ZIPC_QUEUE_AT_MOST_ONCE;
    uint32_t n = 0, hwm = zipc__load(&q->ctl->lane_hwm, ZIPC__ACQUIRE); /* acquire: lanes in use */
    if (hwm > QP)
        hwm = QP;
    for (uint32_t l = 0; l < hwm; l++) {
        struct lane *ln = &q->lanes[l];
        uint32_t in_lane = 0;
        for (uint32_t i = 0; i <= q->log_mask; i++) {
            /* acquire: the holder's claim, and so the frame, is seen whole */
            uint64_t w = zipc__load(&ln->log[i], ZIPC__ACQUIRE);
            if (ZIPC_QCLAIM_STATE(w) != ZIPC_QCLAIM_CLAIMED || ZIPC_QCLAIM_SLOT(w) != c ||
                !gen_not_after(ZIPC_QCLAIM_GEN(w), gen))
                continue;
            uint64_t to = (w & ~ZIPC_QCLAIM_STATE_MASK) |
                          (uint64_t)(drop ? ZIPC_QCLAIM_RELEASED : ZIPC_QCLAIM_REDELIVER) << 32;
            /* seq_cst: a consumer's take or the producer's reuse sees the new state, and the
             * wake-up's flag loads below come after it (§2.5 #27) */
            if (__atomic_compare_exchange_n(&ln->log[i], &w, to, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
                in_lane++;
        }
        if (in_lane && !drop) /* relaxed: a hint; the words themselves are the truth */
            __atomic_fetch_add(&ln->ctl->redeliver, in_lane, __ATOMIC_RELAXED);
        if (in_lane && drop)
            zipc__queue_wake_producer(q, l);
        n += in_lane;
    }
    return n;
}

void zipc__queue_reclaim(zipc_queue *q, uint32_t slot, uint64_t lease)
{
    uint64_t now;
    if (slot >= ZIPC_QUEUE_SLOTS || zipc__member_alive(&q->members, slot, &now) != 0 || now != lease ||
        !(lease & ZIPC_LEASE_BUSY))
        return; /* alive, gone already, or someone else's now */
    if (slot < QP) {
        /* seq_cst: a consumer that sees the lane closed sees it with everything published before */
        __atomic_fetch_and(&q->ctl->lanes_open, ~(1u << slot), __ATOMIC_SEQ_CST);
        zipc__store(&q->lanes[slot].ctl->producer.state, ZIPC_STATE_CLOSED, ZIPC__RELAXED); /* informative */
    } else {
        uint32_t c = slot - QP;
        zipc__queue_reclaim_claims(q, c, ZIPC_LEASE_GEN(lease) & 0xffff);
        if (!(q->flags & ZIPC_QUEUE_AT_MOST_ONCE))
            zipc__queue_heal_redeliveries(q);
        zipc__store(&q->consumers[c].held, 0, ZIPC__SEQ_CST); /* seq_cst: after the claims changed */
    }
    if (zipc__member_reap(&q->members, slot, lease) == 0)
        __atomic_fetch_add(&q->reclaimed, 1, __ATOMIC_RELAXED);
    zipc__queue_wake_consumers(q); /* frames to take again, or the end of the stream */
}

/* Every member found dead, at any time (the helper's start). */
static void reclaim_all(zipc_queue *q)
{
    for (uint32_t s = 0; s < ZIPC_QUEUE_SLOTS; s++) {
        uint64_t lease;
        if (zipc__member_alive(&q->members, s, &lease) == 0 && (lease & ZIPC_LEASE_BUSY))
            zipc__queue_reclaim(q, s, lease);
    }
}

/* ------------------------------------------------------------------------
 * The door
 * ------------------------------------------------------------------------ */

static void admit_one(zipc_queue *q)
{
    int64_t limit = q->opts.timeout_ns < 0 || q->opts.timeout_ns > DOOR_HANDSHAKE_NS ? DOOR_HANDSHAKE_NS
                                                                                   : q->opts.timeout_ns;
    int64_t deadline = zipc__now_ns() + limit;
    struct zipc__peer peer = {.sock = -1};
    if (zipc__accept_one(q->lsock, ZIPC_KIND_QUEUE, &q->opts, deadline, &peer))
        return;
    struct zipc__handover h = {.seg = q->seg};
    for (unsigned i = 1; i < QUEUE_NFDS; i++)
        h.fds[i] = q->fds[i];
    /* the role is the joiner's to choose: the welcome's is not used */
    zipc__endpoint_offer(&zipc__queue_kind, &h, ZIPC_ROLE_CONSUMER, &peer, deadline);
    close(peer.sock);
}

static bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

/* Everything the helper allocates, before it runs (zipc__thread_start). */
static int helper_setup(void *arg)
{
    zipc_queue *q = arg;
    int err = zipc__watch_init(&q->watch, &q->members);
    if (err)
        return err;
    struct epoll_event stop = {.events = EPOLLIN, .data.fd = q->stop_fd};
    struct epoll_event door = {.events = EPOLLIN, .data.fd = q->lsock};
    if ((q->helper_ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || epoll_ctl(q->helper_ep, EPOLL_CTL_ADD, q->stop_fd, &stop) ||
        epoll_ctl(q->helper_ep, EPOLL_CTL_ADD, q->lsock, &door)) {
        err = -errno;
        if (q->helper_ep >= 0)
            close(q->helper_ep);
        zipc__watch_close(&q->watch);
    }
    return err;
}

static void *helper_main(void *arg)
{
    zipc_queue *q = arg;
    reclaim_all(q);
    for (;;) {
        zipc__watch_refresh(&q->watch);
        int n = zipc__watch_wait(&q->watch, q->helper_ep, zipc__now_ns() + HELPER_LOOK_NS);
        for (int k = 0; k < n; k++) {
            uint32_t s = q->watch.dead[k];
            zipc__queue_reclaim(q, s, q->watch.peer[s].lease);
        }
        if (readable(q->stop_fd))
            break;
        if (readable(q->lsock))
            admit_one(q);
    }
    zipc__watch_close(&q->watch);
    close(q->helper_ep);
    return NULL;
}

/* Doors and fork: a child forked without exec would inherit the door
 * socket and keep the name bound, never answering, once this member is
 * gone; the endpoint layer's door guard closes it in the child at once. */

int zipc__queue_helper_start(zipc_queue *q, int64_t deadline)
{
    char suffix[16];
    struct zipc__addr door;
    snprintf(suffix, sizeof(suffix), "#%u", q->me.slot);
    int err = zipc__addr_suffix(&q->addr, suffix, &door);
    /* Our slot's last holder is dead (its lock went with it), but a process
     * SIGKILLed closes its files one by one: its door may outlive its lock
     * by a moment. Nobody else can hold this slot's door: wait for it,
     * within the open's deadline. */
    int64_t until = zipc__now_ns() + DOOR_FREE_NS;
    if (until > deadline)
        until = deadline;
    while (!err && (err = zipc__addr_bind(&door, &q->opts, &q->lsock)) == -EADDRINUSE && zipc__now_ns() < until)
        err = zipc__sleep_ns(DOOR_RETRY_NS);
    if (err)
        return err;
    zipc__door_guard_add(&q->guard, &q->lsock);
    if ((q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return -errno;
    err = zipc__thread_start(&q->helper, helper_setup, helper_main, q);
    q->helper_running = err == 0;
    return err;
}

void zipc__queue_helper_stop(zipc_queue *q)
{
    if (q->helper_running) {
        qwake_fd(q->stop_fd);
        pthread_join(q->helper, NULL);
        q->helper_running = false;
    }
    zipc__door_guard_close(&q->guard); /* an abstract name: free at once */
    if (q->stop_fd >= 0)
        close(q->stop_fd);
    q->stop_fd = -1;
}

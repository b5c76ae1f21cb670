/* Waiting: spin, then sleep on an eventfd; waking; peer liveness.
 *
 * No lost wake-up (docs/DESIGN.md): the sleeper stores its flag (seq_cst),
 * then re-checks the condition; the waker publishes its position (seq_cst)
 * and then loads the flag (seq_cst). In the single total order of seq_cst
 * operations one of the two comes first, so either the sleeper sees the new
 * position or the waker sees the flag and writes the eventfd, which stays
 * readable until the sleeper drains it. */
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define ZIPC__LIVENESS_PERIOD_NS 1000000LL /* non-blocking paths look at the peer at most every 1 ms */
/* A peer copying `bytes` takes about bytes / 4 ns (>= 4 GB/s, well under a
 * core's copy rate, so the spin covers a copy even on a slow or busy
 * machine); the extra spin is capped, so a stalled peer costs at most this. */
#define ZIPC__SPIN_BYTES_PER_NS 4
#define ZIPC__SPIN_EXTRA_MAX_NS 2000000LL

#define ZIPC__CPU_CHECK_PERIOD_NS 100000000LL /* affinity may change: looked at every 100 ms */
#define ZIPC__SPINS_BEFORE_CPU_CHECK 16
#define ZIPC__SPINS_BEFORE_CLOCK 16 /* then every 64 */
/* A wait for a copy this large (>= 8 us even at 32 GB/s) looks whether
 * another task waits for our CPU: a yield that long means one ran. */
#define ZIPC__PROBE_BYTES (256u * 1024)
#define ZIPC__PROBE_EVERY 1024 /* spins between two looks (~30-40 us) */
#define ZIPC__BUSY_YIELD_NS 5000

/* A view's quiet start (DESIGN §3.1): looking for a reply sooner than this
 * after the request slowed the round trip; the count of pauses that lasts
 * this long depends on the CPU. */
#define ZIPC__QUIET_NS 36
#define ZIPC__QUIET_MAX_PAUSES 3 /* the count measured best where a pause is shortest */
#define ZIPC__PAUSES_TIMED 64

/* How long ZIPC__PAUSES_TIMED pauses take, ns: the shortest of a few tries
 * (a try the scheduler or the hypervisor interrupted only reads longer). */
static int64_t pauses_ns(void)
{
    int64_t best = INT64_MAX;
    for (int try = 0; try < 4; try++) {
        int64_t t0 = zipc__now_ns();
        for (int i = 0; i < ZIPC__PAUSES_TIMED; i++)
            zipc__cpu_relax();
        int64_t t = zipc__now_ns() - t0;
        best = t < best ? t : best;
    }
    return best;
}

/* internal.h. Timed at the first bind (~5 us), then cached: every thread
 * computes the same count, so a race only times twice. */
unsigned zipc__quiet_pauses(void)
{
    static int cached = -1;
    /* relaxed: a plain cache of a value any thread may compute again */
    int n = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (n >= 0)
        return (unsigned)n;
    int64_t t = pauses_ns();
    int64_t count = t > 0 ? (ZIPC__QUIET_NS * ZIPC__PAUSES_TIMED + t / 2) / t : ZIPC__QUIET_MAX_PAUSES;
    n = (int)(count < ZIPC__QUIET_MAX_PAUSES ? count : ZIPC__QUIET_MAX_PAUSES);
    __atomic_store_n(&cached, n, __ATOMIC_RELAXED); /* relaxed: see the load */
    return (unsigned)n;
}

/* The one CPU a process may run on, or -1 (several, or unknown). */
static int only_cpu(pid_t pid)
{
    cpu_set_t set;
    if (sched_getaffinity(pid, sizeof(set), &set) || CPU_COUNT(&set) != 1)
        return -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            return c;
    return -1;
}

/* internal.h; a spin on one CPU yields instead of pausing. */
bool zipc__waiter_one_cpu(struct zipc__waiter *w)
{
    int64_t now = zipc__coarse_now_ns();
    if (now < w->next_cpu_check_ns)
        return w->one_cpu;
    w->next_cpu_check_ns = now + ZIPC__CPU_CHECK_PERIOD_NS;
    int mine = only_cpu(0);
    w->one_cpu = sysconf(_SC_NPROCESSORS_ONLN) == 1 ||
                 (mine >= 0 && w->peer_pid > 0 && only_cpu(w->peer_pid) == mine);
    return w->one_cpu;
}

/* Does another task want our CPU? A yield returns at once (~0.7 us here)
 * when nothing else is runnable on it; when something is, it ran meanwhile.
 * Then a long spin would burn the time that task needs - often the one the
 * wait is for at one remove, as a topic's other subscriber pinned to the
 * same CPU, which the publisher (BLOCK) waits for before it can publish. */
static bool cpu_wanted_elsewhere(void)
{
    int64_t t0 = zipc__now_ns();
    sched_yield();
    return zipc__now_ns() - t0 > ZIPC__BUSY_YIELD_NS;
}

/* How long to spin for a peer that has `bytes` to copy. 0: never spin. */
static int64_t spin_budget(const struct zipc__waiter *w, uint64_t bytes)
{
    if (w->spin_ns <= 0)
        return 0;
    uint64_t extra = bytes / ZIPC__SPIN_BYTES_PER_NS;
    return w->spin_ns + (extra < (uint64_t)ZIPC__SPIN_EXTRA_MAX_NS ? (int64_t)extra : ZIPC__SPIN_EXTRA_MAX_NS);
}

void zipc__waiter_init(struct zipc__waiter *w)
{
    *w = (struct zipc__waiter){.sock = -1, .pidfd = -1, .wake_fd = -1, .peer_wake_fd = -1, .epfd = -1,
                               .bell_fd = -1, .bell_ep = -1};
}

void zipc__waiter_close(struct zipc__waiter *w)
{
    int *fds[] = {&w->sock, &w->pidfd, &w->wake_fd, &w->peer_wake_fd, &w->epfd, &w->bell_ep, &w->bell_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

int zipc__waiter_add_bell(struct zipc__waiter *w, int bell)
{
    /* Edge-triggered: every write to the bell makes bell_ep readable until
     * our next drain, whoever else reads the bell; nobody has to reset it. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, bell, &ev) < 0) {
        int e = errno;
        if (ep >= 0)
            close(ep);
        close(bell);
        return -e;
    }
    w->bell_fd = bell;
    w->bell_ep = ep;
    return 0;
}

void zipc__wake_peer_slow(struct zipc__waiter *w)
{
    if (w->wake_slow) {
        w->wake_slow(w); /* many peers: the kind knows which ones sleep */
        return;
    }
    /* Exchange, not store: of several publishers of the same wake-up only
     * one pays the syscall. seq_cst keeps it in the Dekker order. */
    if (zipc__xchg(w->peer_sleeping, 0, ZIPC__SEQ_CST)) {
        uint64_t one = 1;
        if (write(w->peer_wake_fd, &one, sizeof(one)) == sizeof(one))
            zipc__store(w->my_wakeups, zipc__load(w->my_wakeups, ZIPC__RELAXED) + 1, ZIPC__RELAXED);
    }
}

void zipc__wake_peer_always(struct zipc__waiter *w)
{
    uint64_t one = 1;
    if (w->peer_wake_fd >= 0 && write(w->peer_wake_fd, &one, sizeof(one)) < 0) {
        /* counter saturated: the peer is awake anyway */
    }
}

void zipc__waiter_interrupt(struct zipc__waiter *w)
{
    /* seq_cst store, then the eventfd write: a waiter that drained the
     * eventfd before our write sees the flag in its next look (taken). */
    __atomic_store_n(&w->interrupted, 1, __ATOMIC_SEQ_CST);
    uint64_t one = 1;
    if (w->wake_fd >= 0 && write(w->wake_fd, &one, sizeof(one)) < 0) {
        /* counter saturated: the waiter wakes anyway */
    }
}

/* Consume a pending interrupt: true once per zipc__waiter_interrupt. */
static bool taken_interrupt(struct zipc__waiter *w)
{
    return __atomic_load_n(&w->interrupted, __ATOMIC_RELAXED) &&
           __atomic_exchange_n(&w->interrupted, 0, __ATOMIC_SEQ_CST);
}

/* An interrupt was taken while armed: not sleeping after all. */
static int cancelled(struct zipc__waiter *w)
{
    zipc__store(w->my_sleeping, 0, ZIPC__RELAXED);
    return -ECANCELED;
}

/* Socket EOF/HUP or a readable pidfd means the peer is gone. Junk bytes on
 * the socket from a hostile peer are read and dropped. */
static bool link_dead(struct zipc__waiter *w, const struct pollfd *p)
{
    if (p[1].fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
        return true;
    if (p[0].revents & (POLLHUP | POLLERR | POLLRDHUP))
        return true;
    if (p[0].revents & POLLIN) {
        char junk[64];
        ssize_t n = recv(w->sock, junk, sizeof(junk), MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
    }
    return false;
}

bool zipc__peer_gone(struct zipc__waiter *w, bool force)
{
    if (w->peer_gone)
        return true;
    /* acquire: a clean close is seen with everything published before it. */
    if (zipc__load(w->peer_state, ZIPC__ACQUIRE) == ZIPC_STATE_CLOSED)
        return w->peer_gone = true;
    if (w->sock < 0 && w->pidfd < 0)
        return false; /* no link to one peer (a topic publisher): nothing to poll */
    if (!force) {
        int64_t now = zipc__coarse_now_ns();
        if (now < w->next_liveness_ns)
            return false;
        w->next_liveness_ns = now + ZIPC__LIVENESS_PERIOD_NS;
    }
    struct pollfd p[2] = {{.fd = w->sock, .events = POLLIN | POLLRDHUP}, {.fd = w->pidfd, .events = POLLIN}};
    if (poll(p, 2, 0) > 0 && link_dead(w, p))
        w->peer_gone = true;
    return w->peer_gone;
}

static void drain_eventfd(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof(v)) == sizeof(v)) {
    }
}

/* Forget the bell's rings so far (they were for earlier sleeps): its one
 * edge-triggered item leaves the ready list once reported. */
static void drain_bell(int ep)
{
    struct epoll_event ev;
    if (epoll_wait(ep, &ev, 1, 0) < 0) {
        /* EINTR: a ring left pending costs one extra look, never a lost one */
    }
}

/* Say "about to sleep", then look once more (the Dekker half of the
 * sleeper). Returns ready()'s verdict; leaves the flag set only if not ready. */
static int arm(struct zipc__waiter *w, zipc__ready_fn ready, void *ctx)
{
    drain_eventfd(w->wake_fd);
    if (w->bell_ep >= 0)
        drain_bell(w->bell_ep);
    zipc__store(w->my_sleeping, 1, ZIPC__SEQ_CST); /* seq_cst: before the re-check below */
    if (w->sleep_hint) /* seq_cst: the waker's one load sees it, or our re-check sees its data (§2.5 #24) */
        __atomic_fetch_or(w->sleep_hint, w->sleep_hint_bit, __ATOMIC_SEQ_CST);
    int r = ready(ctx);
    if (r != 0)
        zipc__store(w->my_sleeping, 0, ZIPC__RELAXED); /* not sleeping after all; saves the peer a syscall */
    return r;
}

/* Sleep until woken, the peer dies, or the deadline. 0: look again;
 * -ETIMEDOUT, -EINTR, -EPIPE. */
static int sleep_once(struct zipc__waiter *w, int64_t deadline)
{
    struct pollfd p[4] = {{.fd = w->sock, .events = POLLIN | POLLRDHUP},
                          {.fd = w->pidfd, .events = POLLIN},
                          {.fd = w->wake_fd, .events = POLLIN},
                          {.fd = w->bell_ep, .events = POLLIN}};
    int64_t now = zipc__now_ns(), until = deadline;
    if (deadline != INT64_MAX && deadline <= now)
        return -ETIMEDOUT;
    if (w->max_sleep_ns > 0 && now + w->max_sleep_ns < until)
        until = now + w->max_sleep_ns;
    zipc__store(w->my_sleeps, zipc__load(w->my_sleeps, ZIPC__RELAXED) + 1, ZIPC__RELAXED);
    int n = zipc__ppoll(p, 4, until); /* poll skips a -1 fd */
    if (n == -ETIMEDOUT && until != deadline)
        return 0; /* a bounded sleep is over: look again */
    if (n < 0)
        return n;
    if (link_dead(w, p)) {
        w->peer_gone = true;
        return -EPIPE;
    }
    return 0;
}

/* The final word when the condition does not hold: a last look, so a
 * message published just before the peer died or the deadline is never lost. */
static int give_up(struct zipc__waiter *w, zipc__ready_fn ready, void *ctx, int err)
{
    zipc__store(w->my_sleeping, 0, ZIPC__RELAXED);
    int r = ready(ctx);
    return r > 0 ? 0 : r < 0 ? r : err;
}

int zipc__wait(struct zipc__waiter *w, zipc__ready_fn ready, void *ctx, uint64_t bytes, int64_t timeout_ns)
{
    int r = ready(ctx);
    if (r != 0)
        return r > 0 ? 0 : r;
    if (timeout_ns == 0) {
        if (w->epfd >= 0 && (r = arm(w, ready, ctx)) != 0)
            return r > 0 ? 0 : r;
        return zipc__peer_gone(w, false) ? give_up(w, ready, ctx, -EPIPE) : -EAGAIN;
    }
    /* The clock is first read at the first check below, not here: a wait
     * that ends within ZIPC__SPINS_BEFORE_CLOCK looks (a reply on a round
     * trip, ~0.5-1 us) reads none; the timeout counts from that first read. */
    int64_t deadline = INT64_MAX, spin_end = 0;
    int64_t spin_ns = spin_budget(w, bytes);
    bool one_cpu = false, busy = false, probe = bytes >= ZIPC__PROBE_BYTES, timed = false;
    for (unsigned i = 1; spin_ns > 0; i++) {
        if (i == ZIPC__SPINS_BEFORE_CPU_CHECK) /* a wait that short never pays for the check */
            one_cpu = zipc__waiter_one_cpu(w);
        bool yield = one_cpu || busy;
        if (yield)
            sched_yield(); /* the peer, or whoever wants our CPU, runs now */
        else
            zipc__cpu_relax();
        if ((r = ready(ctx)) != 0)
            return r > 0 ? 0 : r;
        /* a yield may take a whole time slice: look at the clock each time */
        if (yield || i == ZIPC__SPINS_BEFORE_CLOCK || (i & 63) == 0) {
            if (taken_interrupt(w))
                return -ECANCELED;
            int64_t now = zipc__now_ns();
            if (!timed) {
                timed = true;
                deadline = zipc__deadline_from(now, timeout_ns);
                spin_end = now + spin_ns < deadline ? now + spin_ns : deadline;
            }
            if (now >= spin_end)
                break;
            if (probe && !one_cpu && i % ZIPC__PROBE_EVERY == 64) /* after 64 spins, then every 1024 */
                busy = cpu_wanted_elsewhere();
        }
    }
    if (!timed)
        deadline = zipc__deadline(timeout_ns); /* no spin */
    for (;;) {
        /* Arm before looking at the peer: arming drains the eventfd, and a
         * clean close's wake-up drained here is still seen as CLOSED below;
         * an interrupt's wake-up drained here is seen by taken_interrupt. */
        if ((r = arm(w, ready, ctx)) != 0)
            return r > 0 ? 0 : r;
        if (taken_interrupt(w))
            return cancelled(w);
        if (zipc__peer_gone(w, false))
            return give_up(w, ready, ctx, -EPIPE);
        int err = sleep_once(w, deadline);
        if (err == -EINTR && taken_interrupt(w))
            return cancelled(w); /* a signal handler that called interrupt: say so now */
        if (err)
            return give_up(w, ready, ctx, err);
    }
}

int zipc__waiter_fd(struct zipc__waiter *w)
{
    if (w->epfd >= 0)
        return w->epfd;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN};
    int fds[4] = {w->wake_fd, w->sock, w->pidfd, w->bell_ep};
    for (int i = 0; i < 4; i++) {
        if (fds[i] < 0)
            continue;
        ev.events = i == 1 ? EPOLLIN | EPOLLRDHUP : EPOLLIN;
        ev.data.fd = fds[i];
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
            int e = errno;
            close(ep);
            return -e;
        }
    }
    w->epfd = ep;
    return ep;
}

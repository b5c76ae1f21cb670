/* The pollable fd. After a call returns -EAGAIN, zipc_channel_fd() becomes
 * readable when a message arrives (consumer), when space frees up
 * (producer), or when the peer dies; while nothing happens it stays quiet
 * (epoll_wait with a timeout returns 0 after re-arming). The peer is a child
 * process driven by one-byte commands over a pipe. */
#include <sys/epoll.h>

#include "testutil.h"

#define CAP 4096
#define SIZE 48 /* fixed size: a frame of 64 bytes, never a pad in a 4096 ring */
#define QUIET_MS 100
#define WAKE_MS 5000

struct peer {
    int cmd[2]; /* parent -> child commands */
    int ack[2]; /* child -> parent: command done */
    uint64_t seed;
    uint64_t streamed; /* messages of a stream command */
};

static void command(const struct peer *pr, char c)
{
    if (write(pr->cmd[1], &c, 1) != 1)
        CHECK_MSG(0, "command pipe: %s", strerror(errno));
}

/* Wait until the child has carried out the last command. */
static void finished(const struct peer *pr) { CHECK(tu_await(pr->ack[0], 30000)); }

static void peer_pipes(struct peer *pr, bool open)
{
    if (open) {
        CHECK_OK(pipe(pr->cmd) | pipe(pr->ack));
        return;
    }
    close(pr->cmd[0]), close(pr->cmd[1]), close(pr->ack[0]), close(pr->ack[1]);
}

/* The child's next command; acknowledges the previous one. */
static char next_command(const struct peer *pr, bool first)
{
    char c = 0;
    if (!first)
        tu_notify(pr->ack[1]);
    struct pollfd p = {.fd = pr->cmd[0], .events = POLLIN};
    if (poll(&p, 1, 30000) != 1 || read(pr->cmd[0], &c, 1) != 1)
        return 'q';
    return c;
}

/* An epoll set holding the channel's fd. */
static int epoll_of(zipc_channel *ch)
{
    int fd = zipc_channel_fd(ch);
    CHECK(fd >= 0);
    CHECK_EQ(zipc_channel_fd(ch), fd); /* the same fd every time */
    CHECK(tu_fd_cloexec(fd));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    CHECK_OK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
    return ep;
}

static int ready_within(int ep, int ms)
{
    struct epoll_event ev;
    int n;
    while ((n = epoll_wait(ep, &ev, 1, ms)) < 0 && errno == EINTR) {
    }
    return n;
}

/* try(); on -EAGAIN wait for readiness and try again, as the header says.
 * Returns the first result other than -EAGAIN; counts the waits. */
static int try_wait(int ep, int (*try)(void *), void *ctx, int *waits, int *spurious)
{
    bool after_wait = false;
    for (;;) {
        int r = try(ctx);
        if (r != -EAGAIN)
            return r;
        *spurious += after_wait;
        if (ready_within(ep, WAKE_MS) <= 0) {
            CHECK_MSG(0, "-EAGAIN, and the fd did not become readable within %d ms", WAKE_MS);
            return -ETIMEDOUT;
        }
        (*waits)++;
        after_wait = true;
    }
}

/* ---- consumer side: the child produces ------------------------------------ */

static void producer_child(zipc_channel *p, void *arg)
{
    struct peer *pr = arg;
    uint64_t k = 0, rng = pr->seed;
    for (char c = next_command(pr, true); c != 'q'; c = next_command(pr, false)) {
        if (c == 'o')
            CHECK_OK(tu_send_k(p, pr->seed, k++, SIZE, 0, ZIPC_FOREVER));
        for (uint64_t i = 0; c == 's' && i < pr->streamed; i++) {
            tu_sleep_us((long)tu_below(&rng, 300));
            CHECK_HOT_OK(tu_send_k(p, pr->seed, k++, SIZE, 0, ZIPC_FOREVER));
        }
    }
}

struct cons {
    zipc_channel *c;
    uint64_t seed, k;
};

static int try_view(void *arg)
{
    struct cons *cs = arg;
    struct zipc_msg m;
    int r = zipc_channel_view(cs->c, &m, ZIPC_TRY);
    if (r == 0) {
        CHECK_MSG_K(&m, cs->seed, cs->k++, SIZE);
        CHECK_HOT_OK(zipc_channel_release(cs->c));
    }
    return r;
}

static void quiet(int ep, const char *when)
{
    CHECK_MSG(ready_within(ep, QUIET_MS) == 0, "fd readable %s, with nothing to do", when);
}

static void consumer_side(void)
{
    char path[TU_PATH_MAX];
    struct peer pr = {.seed = tu_seed, .streamed = (uint64_t)tu_scaled(2000, 200)};
    peer_pipes(&pr, true);
    pid_t pid = tu_spawn_connector(tu_path(path, "pollc"), NULL, producer_child, &pr);
    struct cons cs = {.c = tu_listen(path, CAP, NULL), .seed = pr.seed};
    if (!cs.c) {
        tu_kill_reap(pid);
        return;
    }
    int ep = epoll_of(cs.c), waits = 0, spurious = 0;
    CHECK_ERR(try_view(&cs), -EAGAIN);
    quiet(ep, "on an idle channel");
    command(&pr, 'o');
    CHECK_EQ(ready_within(ep, WAKE_MS), 1);
    finished(&pr);
    CHECK_OK(try_view(&cs));
    CHECK_ERR(try_view(&cs), -EAGAIN); /* re-arms */
    quiet(ep, "after re-arming");
    command(&pr, 's');
    while (cs.k < 1 + pr.streamed)
        if (!CHECK_HOT_OK(try_wait(ep, try_view, &cs, &waits, &spurious)))
            break;
    printf("  consumer: %" PRIu64 " messages, %d waits on the fd, %d spurious\n", cs.k, waits, spurious);
    finished(&pr);
    CHECK_ERR(try_view(&cs), -EAGAIN);
    quiet(ep, "after a stream");
    int64_t t0 = tu_now_ns();
    tu_kill_reap(pid);
    CHECK_ERR(try_wait(ep, try_view, &cs, &waits, &spurious), -EPIPE);
    CHECK_RANGE(tu_ms_since(t0), 0, 2000);
    close(ep);
    zipc_channel_close(cs.c);
    peer_pipes(&pr, false);
}

/* ---- producer side: the child consumes ------------------------------------ */

static void consumer_child(zipc_channel *c, void *arg)
{
    struct peer *pr = arg;
    struct zipc_msg m;
    uint64_t k = 0, rng = pr->seed;
    for (char ch = next_command(pr, true); ch != 'q'; ch = next_command(pr, false)) {
        uint64_t n = ch == 'r' ? 2 : ch == 's' ? pr->streamed : 0;
        for (uint64_t i = 0; i < n; i++) {
            if (ch == 's')
                tu_sleep_us((long)tu_below(&rng, 300));
            if (!CHECK_HOT_OK(zipc_channel_view(c, &m, 10000 * TU_MS)))
                return;
            CHECK_MSG_K(&m, pr->seed, k++, SIZE);
            CHECK_HOT_OK(zipc_channel_release(c));
        }
    }
}

struct prod {
    zipc_channel *p;
    uint64_t seed, k;
};

static int try_send(void *arg)
{
    struct prod *ps = arg;
    int r = tu_send_k(ps->p, ps->seed, ps->k, SIZE, 0, ZIPC_TRY);
    ps->k += r == 0;
    return r;
}

static void fill(struct prod *ps)
{
    while (try_send(ps) == 0) {
    }
}

static void producer_side(void)
{
    char path[TU_PATH_MAX];
    struct peer pr = {.seed = tu_seed ^ 1, .streamed = (uint64_t)tu_scaled(2000, 200)};
    peer_pipes(&pr, true);
    pid_t pid = tu_spawn_connector(tu_path(path, "pollp"), NULL, consumer_child, &pr);
    struct zipc_options o = tu_opts(0);
    o.role = ZIPC_ROLE_PRODUCER;
    struct prod ps = {.p = tu_listen(path, CAP, &o), .seed = pr.seed};
    if (!ps.p) {
        tu_kill_reap(pid);
        return;
    }
    int ep = epoll_of(ps.p), waits = 0, spurious = 0;
    fill(&ps); /* ends with -EAGAIN: armed */
    uint64_t full = ps.k;
    quiet(ep, "on a full ring nobody drains");
    command(&pr, 'r');
    CHECK_EQ(ready_within(ep, WAKE_MS), 1);
    CHECK_OK(try_wait(ep, try_send, &ps, &waits, &spurious));
    finished(&pr);
    fill(&ps);
    quiet(ep, "after re-arming");
    command(&pr, 's');
    uint64_t target = ps.k + pr.streamed - 2; /* the consumer frees that many */
    while (ps.k < target)
        if (!CHECK_HOT_OK(try_wait(ep, try_send, &ps, &waits, &spurious)))
            break;
    printf("  producer: %" PRIu64 " messages (ring holds %" PRIu64 "), %d waits on the fd, %d spurious\n",
           ps.k, full, waits, spurious);
    finished(&pr);
    fill(&ps);
    quiet(ep, "after a stream");
    int64_t t0 = tu_now_ns();
    tu_kill_reap(pid);
    int r;
    while ((r = try_wait(ep, try_send, &ps, &waits, &spurious)) == 0) { /* space freed before the kill */
    }
    CHECK_ERR(r, -EPIPE);
    CHECK_RANGE(tu_ms_since(t0), 0, 2000);
    close(ep);
    zipc_channel_close(ps.p);
    peer_pipes(&pr, false);
}

/* poll() works on the fd as well as epoll does. */
static void plain_poll(void)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, CAP))
        return;
    struct pollfd pf = {.fd = zipc_channel_fd(c), .events = POLLIN};
    struct zipc_msg m;
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    CHECK_EQ(poll(&pf, 1, QUIET_MS), 0);
    CHECK_OK(tu_send_k(p, tu_seed, 0, 1, 0, ZIPC_TRY));
    CHECK_EQ(poll(&pf, 1, WAKE_MS), 1);
    CHECK(pf.revents & POLLIN);
    CHECK_OK(zipc_channel_view(c, &m, ZIPC_TRY));
    CHECK_MSG_K(&m, tu_seed, 0, 1);
    CHECK_OK(zipc_channel_release(c));
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    CHECK_EQ(poll(&pf, 1, QUIET_MS), 0);
    zipc_channel_close(p); /* a clean close wakes the fd too */
    CHECK_EQ(poll(&pf, 1, WAKE_MS), 1);
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EPIPE);
    zipc_channel_close(c);
}

int main(void)
{
    tu_init("test_pollfd", 120);
    consumer_side();
    producer_side();
    plain_poll();
    return tu_finish();
}

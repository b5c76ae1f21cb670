/* Batch publish and drain. Messages committed with ZIPC_COMMIT_MORE stay invisible
 * (a try-view in the other process returns -EAGAIN) until a flush or the
 * next plain commit; drain returns at most `max` messages; one release
 * frees all viewed messages; a reserve on a full ring publishes what is
 * staged (no deadlock); close publishes what is staged. */
#include "testutil.h"

#define CAP 4096
#define SMALL 200 /* size limit of the deterministic cases: a batch always fits */

/* Message k of a stream of sizes up to SMALL. */
static int send_small(zipc_channel *p, uint64_t seed, uint64_t k, unsigned flags, int64_t timeout)
{
    return tu_send_k(p, seed, k, tu_msg_size(seed, k, SMALL), flags, timeout);
}

/* Receive `n` messages (any mix of views and drains) and check they are
 * messages first..first+n-1 of the stream of sizes up to `max`; returns
 * how many came. */
static uint64_t expect_msgs(zipc_channel *c, uint64_t seed, uint64_t first, uint64_t n, int64_t timeout,
                            size_t max)
{
    struct zipc_msg m[8];
    uint64_t k = first;
    while (k < first + n) {
        int got = zipc_channel_drain(c, m, 8, timeout);
        if (got < 0) {
            CHECK_MSG(0, "message %" PRIu64 " of %" PRIu64 "..%" PRIu64 " missing: %s", k, first,
                      first + n - 1, zipc_strerror(got));
            break;
        }
        for (int i = 0; i < got; i++, k++)
            CHECK_STREAM_K(&m[i], seed, k, max);
        CHECK_HOT_OK(zipc_channel_release(c));
    }
    return k - first;
}

static void staged_invisible_until_flush(zipc_channel *p, zipc_channel *c, uint64_t seed)
{
    struct zipc_msg m[8];
    for (uint64_t k = 0; k < 5; k++)
        CHECK_OK(send_small(p, seed, k, ZIPC_COMMIT_MORE, ZIPC_TRY));
    CHECK_ERR(zipc_channel_view(c, m, ZIPC_TRY), -EAGAIN);
    CHECK_ERR(zipc_channel_drain(c, m, 8, ZIPC_TRY), -EAGAIN);
    CHECK_ERR(zipc_channel_view(c, m, 20 * TU_MS), -ETIMEDOUT);
    CHECK_OK(zipc_channel_flush(p));
    /* drain returns at most max, and what is there without waiting */
    CHECK_EQ(zipc_channel_drain(c, m, 3, ZIPC_TRY), 3);
    CHECK_EQ(zipc_channel_drain(c, m + 3, 3, ZIPC_TRY), 2);
    CHECK_ERR(zipc_channel_drain(c, m, 3, ZIPC_TRY), -EAGAIN);
    for (uint64_t k = 0; k < 5; k++)
        CHECK_STREAM_K(&m[k], seed, k, SMALL);
    CHECK_OK(zipc_channel_release(c));
    CHECK_OK(zipc_channel_flush(p)); /* nothing staged: a no-op */
    CHECK_ERR(zipc_channel_view(c, m, ZIPC_TRY), -EAGAIN);
}

static void plain_commit_publishes(zipc_channel *p, zipc_channel *c, uint64_t seed)
{
    struct zipc_msg m;
    for (uint64_t k = 0; k < 3; k++)
        CHECK_OK(send_small(p, seed, k, ZIPC_COMMIT_MORE, ZIPC_TRY));
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    CHECK_OK(send_small(p, seed, 3, 0, ZIPC_TRY));
    CHECK_EQ(expect_msgs(c, seed, 0, 4, ZIPC_TRY, SMALL), 4);
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
}

/* Fill the ring with fixed-size messages; returns how many fitted. */
static uint64_t fill(zipc_channel *p, uint64_t seed, uint64_t first, size_t size, unsigned flags)
{
    uint64_t k = first;
    while (tu_send_k(p, seed, k, size, flags, ZIPC_TRY) == 0)
        k++;
    return k - first;
}

static void one_release_frees_all(zipc_channel *p, zipc_channel *c, uint64_t seed)
{
    const size_t size = 100;
    uint64_t n = fill(p, seed, 0, size, 0);
    CHECK(n > 4);
    struct zipc_msg m[4];
    uint64_t viewed = 0;
    int got;
    while ((got = zipc_channel_drain(c, m, 4, ZIPC_TRY)) > 0) { /* no release in between */
        CHECK(got <= 4);
        for (int i = 0; i < got; i++, viewed++)
            CHECK_MSG_K(&m[i], seed, viewed, size);
    }
    CHECK_ERR(got, -EAGAIN);
    CHECK_EQ(viewed, n);
    void *buf;
    CHECK_ERR(zipc_channel_reserve(p, size, &buf, ZIPC_TRY), -EAGAIN); /* views still pin the ring */
    CHECK_OK(zipc_channel_release(c));
    CHECK_EQ(fill(p, seed, n, size, 0), n); /* the whole ring is free again */
    while ((got = zipc_channel_drain(c, m, 4, ZIPC_TRY)) > 0)
        for (int i = 0; i < got; i++, viewed++)
            CHECK_MSG_K(&m[i], seed, viewed, size);
    CHECK_EQ(viewed, 2 * n);
    CHECK_OK(zipc_channel_release(c));
}

static void full_ring_publishes_staged(zipc_channel *p, zipc_channel *c, uint64_t seed)
{
    uint64_t n = fill(p, seed, 0, 200, ZIPC_COMMIT_MORE); /* stops at the first -EAGAIN */
    CHECK(n > 2);
    struct zipc_msg m;
    uint64_t seen = 0;
    while (zipc_channel_view(c, &m, ZIPC_TRY) == 0)
        CHECK_MSG_K(&m, seed, seen++, 200);
    CHECK_MSG(seen == n, "a full ring published %" PRIu64 " of %" PRIu64 " staged messages", seen, n);
    CHECK_OK(zipc_channel_release(c));
}

static void in_process(void)
{
    void (*const cases[])(zipc_channel *, zipc_channel *, uint64_t) = {
        staged_invisible_until_flush, plain_commit_publishes, one_release_frees_all,
        full_ring_publishes_staged};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        zipc_channel *p, *c;
        if (!tu_pair_pc(&p, &c, CAP))
            return;
        cases[i](p, c, tu_seed + i);
        zipc_channel_close(p);
        zipc_channel_close(c);
    }
}

static void close_publishes_staged(void)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, CAP))
        return;
    for (uint64_t k = 0; k < 3; k++)
        CHECK_OK(send_small(p, tu_seed, k, ZIPC_COMMIT_MORE, ZIPC_TRY));
    zipc_channel_close(p);
    CHECK_EQ(expect_msgs(c, tu_seed, 0, 3, ZIPC_TRY, SMALL), 3);
    struct zipc_msg m;
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EPIPE);
    zipc_channel_close(c);
}

/* ---- across processes ------------------------------------------------------ */

struct sync {
    int go[2];   /* parent -> child */
    int done[2]; /* child -> parent */
    uint64_t seed;
    uint64_t n;
};

static void staged_producer(zipc_channel *p, void *arg)
{
    struct sync *s = arg;
    for (uint64_t k = 0; k < 4; k++)
        CHECK_OK(send_small(p, s->seed, k, ZIPC_COMMIT_MORE, ZIPC_FOREVER));
    tu_notify(s->done[1]);
    CHECK(tu_await(s->go[0], 10000));
    CHECK_OK(zipc_channel_flush(p));
    CHECK_OK(send_small(p, s->seed, 4, ZIPC_COMMIT_MORE, ZIPC_FOREVER));
    tu_notify(s->done[1]);
    CHECK(tu_await(s->go[0], 10000));
    CHECK_OK(send_small(p, s->seed, 5, 0, ZIPC_FOREVER));
    CHECK(tu_await(s->go[0], 10000));
}

static void across_processes(void)
{
    char path[TU_PATH_MAX];
    struct sync s = {.seed = tu_seed ^ 0xabc};
    CHECK_OK(pipe(s.go) | pipe(s.done));
    pid_t pid = tu_spawn_connector(tu_path(path, "batch"), NULL, staged_producer, &s);
    zipc_channel *c = tu_listen(path, CAP, NULL);
    struct zipc_msg m;
    if (c) {
        CHECK(tu_await(s.done[0], 10000));
        CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
        CHECK_ERR(zipc_channel_view(c, &m, 30 * TU_MS), -ETIMEDOUT);
        tu_notify(s.go[1]); /* flush */
        CHECK_EQ(expect_msgs(c, s.seed, 0, 4, 5000 * TU_MS, SMALL), 4);
        CHECK(tu_await(s.done[0], 10000));
        CHECK_ERR(zipc_channel_view(c, &m, 30 * TU_MS), -ETIMEDOUT);
        tu_notify(s.go[1]); /* plain commit */
        CHECK_EQ(expect_msgs(c, s.seed, 4, 2, 5000 * TU_MS, SMALL), 2);
        tu_notify(s.go[1]);
        CHECK_ERR(zipc_channel_view(c, &m, 5000 * TU_MS), -EPIPE);
        zipc_channel_close(c);
    }
    CHECK_CHILD(pid, 10000);
    close(s.go[0]), close(s.go[1]), close(s.done[0]), close(s.done[1]);
}

/* Only ZIPC_COMMIT_MORE, never a flush: the ring fills, and only the reserve's
 * auto-publish lets the consumer make progress; close publishes the rest. */
static void more_only_producer(zipc_channel *p, void *arg)
{
    const struct sync *s = arg;
    for (uint64_t k = 0; k < s->n; k++)
        if (tu_send_stream(p, s->seed, k, ZIPC_COMMIT_MORE, ZIPC_FOREVER) != 0) {
            CHECK_MSG(0, "send %" PRIu64 " failed", k);
            return;
        }
}

static void more_only_stream(size_t cap, long n)
{
    char path[TU_PATH_MAX];
    struct sync s = {.seed = tu_seed ^ cap, .n = (uint64_t)tu_scaled(n, 5000)};
    pid_t pid = tu_spawn_connector(tu_path(path, "more"), NULL, more_only_producer, &s);
    zipc_channel *c = tu_listen(path, cap, NULL);
    if (c) {
        CHECK_EQ(expect_msgs(c, s.seed, 0, s.n, 10000 * TU_MS, zipc_channel_max_message(c)), s.n);
        struct zipc_msg m;
        CHECK_ERR(zipc_channel_view(c, &m, 5000 * TU_MS), -EPIPE);
        zipc_channel_close(c);
    }
    CHECK_CHILD(pid, 60000);
}

int main(void)
{
    tu_init("test_batch", 120);
    in_process();
    close_publishes_staged();
    across_processes();
    more_only_stream(ZIPC_MIN_CAPACITY, 50000); /* one message at a time: every one a hand-off */
    more_only_stream(CAP, 200000);
    return tu_finish();
}

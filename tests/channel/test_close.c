/* Clean close. The producer closes: the consumer still gets every committed
 * message, then -EPIPE (for good), whether it was waiting in a view or came
 * later. The consumer closes: the producer gets -EPIPE, blocked in reserve
 * on a full ring or committing into free space. The closing process stays
 * alive, so it is the close that is noticed, not a death. */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>

#include "testutil.h"

#define CAP 65536
#define BOUND_MS 2000.0

struct peer {
    uint64_t seed;
    uint64_t n;
    bool fork_holder; /* a forked child keeps the endpoint's fds (the socket) open */
    long close_delay_us;
    int to_child[2];
    int to_parent[2];
};

/* Message sizes of this file: small, so every stream fits in the ring. */
static size_t size_of(uint64_t k) { return (size_t)(k % 97); }

static void peer_init(struct peer *pr, uint64_t n)
{
    memset(pr, 0, sizeof(*pr));
    pr->seed = tu_rand(&tu_seed);
    pr->n = n;
    CHECK_OK(pipe(pr->to_child) | pipe(pr->to_parent));
}

static void peer_done(struct peer *pr)
{
    close(pr->to_child[0]), close(pr->to_child[1]);
    close(pr->to_parent[0]), close(pr->to_parent[1]);
}

/* Child: send n messages, wait for the go, close, say so, stay alive until
 * told to leave. */
static void sender_then_close(zipc_channel *p, void *arg)
{
    struct peer *pr = arg;
    for (uint64_t k = 0; k < pr->n; k++)
        CHECK_HOT_OK(tu_send_k(p, pr->seed, k, size_of(k), 0, ZIPC_FOREVER));
    pid_t me = getpid();
    if (pr->fork_holder && fork() == 0) /* holds copies of every fd until we exit */
        tu_hold_fds(me, true);
    CHECK(tu_await(pr->to_child[0], 10000));
    tu_sleep_us(pr->close_delay_us);
    zipc_channel_close(p);
    tu_notify(pr->to_parent[1]);
    CHECK(tu_await(pr->to_child[0], 10000));
    tu_child_exit(); /* the endpoint is closed already */
}

static uint64_t receive_all(zipc_channel *c, uint64_t seed, int64_t timeout, int *end)
{
    struct zipc_msg m;
    uint64_t k = 0;
    while ((*end = zipc_channel_view(c, &m, timeout)) == 0) {
        if (!CHECK_MSG_K(&m, seed, k, size_of(k)))
            break;
        k++;
        CHECK_HOT_OK(zipc_channel_release(c));
    }
    return k;
}

/* The producer closed before the consumer even looked. */
static void producer_closed_first(void)
{
    char path[TU_PATH_MAX];
    struct peer pr;
    peer_init(&pr, 400);
    pid_t pid = tu_spawn_connector(tu_path(path, "pclose"), NULL, sender_then_close, &pr);
    zipc_channel *c = tu_listen(path, CAP, NULL);
    if (c) {
        tu_notify(pr.to_child[1]);
        CHECK(tu_await(pr.to_parent[0], 10000));
        int end;
        CHECK_EQ(receive_all(c, pr.seed, ZIPC_FOREVER, &end), pr.n);
        CHECK_ERR(end, -EPIPE);
        struct zipc_msg m;
        CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EPIPE);
        CHECK_ERR(zipc_channel_drain(c, &m, 1, ZIPC_FOREVER), -EPIPE);
        tu_notify(pr.to_child[1]);
        zipc_channel_close(c);
    }
    CHECK_CHILD(pid, 10000);
    peer_done(&pr);
}

/* The consumer is asleep in a ZIPC_FOREVER view when the producer closes.
 * With a holder, the producer's socket stays open in a forked child: the
 * CLOSED state and its wake-up alone must end the wait. */
static void producer_closed_while_waiting(bool holder, long close_delay_us)
{
    char path[TU_PATH_MAX];
    struct peer pr;
    peer_init(&pr, 30);
    pr.fork_holder = holder;
    pr.close_delay_us = close_delay_us;
    pid_t pid = tu_spawn_connector(tu_path(path, "pwait"), NULL, sender_then_close, &pr);
    zipc_channel *c = tu_listen(path, CAP, NULL);
    if (c) {
        struct zipc_msg m;
        for (uint64_t k = 0; k < pr.n; k++) {
            if (!CHECK_HOT_OK(zipc_channel_view(c, &m, 10000 * TU_MS)))
                break;
            CHECK_MSG_K(&m, pr.seed, k, size_of(k));
            CHECK_HOT_OK(zipc_channel_release(c));
        }
        tu_notify(pr.to_child[1]); /* close, while we wait below */
        int64_t t0 = tu_now_ns();
        CHECK_ERR(zipc_channel_view(c, &m, ZIPC_FOREVER), -EPIPE);
        CHECK(tu_await(pr.to_parent[0], 10000));
        CHECK_RANGE(tu_ms_since(t0), 0, BOUND_MS);
        tu_notify(pr.to_child[1]);
        zipc_channel_close(c);
    }
    CHECK_CHILD(pid, 10000);
    peer_done(&pr);
}

/* Child consumer: take n messages (the last two stay viewed), close on the
 * go, say so, stay alive until told to leave. */
static void receiver_then_close(zipc_channel *c, void *arg)
{
    struct peer *pr = arg;
    struct zipc_msg m;
    for (uint64_t k = 0; k < pr->n; k++) {
        if (!CHECK_HOT_OK(zipc_channel_view(c, &m, 10000 * TU_MS)))
            break;
        CHECK_MSG_K(&m, pr->seed, k, size_of(k));
        if (k + 2 < pr->n)
            CHECK_HOT_OK(zipc_channel_release(c));
    }
    CHECK(tu_await(pr->to_child[0], 10000));
    zipc_channel_close(c); /* with views open */
    tu_notify(pr->to_parent[1]);
    CHECK(tu_await(pr->to_child[0], 10000));
    tu_child_exit();
}

static zipc_channel *listen_producer(const char *path, size_t cap)
{
    struct zipc_options o = tu_opts(0);
    o.role = ZIPC_ROLE_PRODUCER;
    return tu_listen(path, cap, &o);
}

/* The producer is blocked in reserve on a full ring when the consumer closes. */
static void consumer_closed_while_full(void)
{
    char path[TU_PATH_MAX];
    struct peer pr;
    peer_init(&pr, 10);
    pid_t pid = tu_spawn_connector(tu_path(path, "cfull"), NULL, receiver_then_close, &pr);
    zipc_channel *p = listen_producer(path, 1024);
    if (p) {
        uint64_t k = 0;
        for (; k < pr.n; k++)
            CHECK_HOT_OK(tu_send_k(p, pr.seed, k, size_of(k), 0, ZIPC_FOREVER));
        char pad[100] = {0};
        while (zipc_channel_send(p, pad, sizeof(pad), 0, 300 * TU_MS) == 0) /* until full */
            k++;
        tu_notify(pr.to_child[1]);
        int64_t t0 = tu_now_ns();
        CHECK_ERR(zipc_channel_send(p, pad, sizeof(pad), 0, ZIPC_FOREVER), -EPIPE);
        CHECK_RANGE(tu_ms_since(t0), 0, BOUND_MS);
        CHECK(tu_await(pr.to_parent[0], 10000));
        void *buf;
        CHECK_ERR(zipc_channel_reserve(p, 0, &buf, ZIPC_TRY), -EPIPE);
        tu_notify(pr.to_child[1]);
        zipc_channel_close(p);
    }
    CHECK_CHILD(pid, 10000);
    peer_done(&pr);
}

/* The producer never waits (lots of free space): it learns of the close from
 * its periodic check, within about a thousand commits. */
static void consumer_closed_while_committing(void)
{
    char path[TU_PATH_MAX];
    struct peer pr;
    peer_init(&pr, 10);
    pid_t pid = tu_spawn_connector(tu_path(path, "ccommit"), NULL, receiver_then_close, &pr);
    zipc_channel *p = listen_producer(path, (size_t)1 << 20);
    if (p) {
        for (uint64_t k = 0; k < pr.n; k++)
            CHECK_HOT_OK(tu_send_k(p, pr.seed, k, size_of(k), 0, ZIPC_FOREVER));
        tu_notify(pr.to_child[1]);
        CHECK(tu_await(pr.to_parent[0], 10000)); /* closed now */
        uint64_t commits = 0;
        int64_t t0 = tu_now_ns();
        int e;
        while ((e = zipc_channel_send(p, "", 0, 0, ZIPC_TRY)) == 0)
            commits++;
        CHECK_ERR(e, -EPIPE);
        CHECK_RANGE(tu_ms_since(t0), 0, BOUND_MS);
        CHECK_MSG(commits <= 2 * 1024, "-EPIPE came after %" PRIu64 " commits", commits);
        tu_notify(pr.to_child[1]);
        zipc_channel_close(p);
    }
    CHECK_CHILD(pid, 10000);
    peer_done(&pr);
}

/* Within one process: views stay readable after the producer closed. */
static void views_survive_close(void)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, 4096))
        return;
    struct zipc_msg m[3];
    for (uint64_t k = 0; k < 3; k++)
        CHECK_OK(tu_send_k(p, tu_seed, k, 40, 0, ZIPC_TRY));
    CHECK_EQ(zipc_channel_drain(c, m, 2, ZIPC_TRY), 2);
    zipc_channel_close(p);
    CHECK_MSG_K(&m[0], tu_seed, 0, 40);
    CHECK_MSG_K(&m[1], tu_seed, 1, 40);
    CHECK_OK(zipc_channel_view(c, &m[2], ZIPC_TRY));
    CHECK_MSG_K(&m[2], tu_seed, 2, 40);
    CHECK_OK(zipc_channel_release(c));
    CHECK_ERR(zipc_channel_view(c, &m[0], ZIPC_TRY), -EPIPE);
    CHECK_ERR(zipc_channel_recv(c, NULL, 0, NULL, NULL, ZIPC_TRY), -EPIPE);
    CHECK_OK(zipc_channel_close(c));
}

int main(void)
{
    tu_init("test_close", 120);
    producer_closed_first();
    producer_closed_while_waiting(false, 50000);
    uint64_t rng = tu_seed;
    for (long i = 0, n = tu_scaled(40, 10); i < n; i++) /* random moments around the consumer falling asleep */
        producer_closed_while_waiting(true, (long)tu_below(&rng, 300));
    consumer_closed_while_full();
    consumer_closed_while_committing();
    views_survive_close();
    return tu_finish();
}

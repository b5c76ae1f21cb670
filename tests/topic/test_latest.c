/* zipc_subscriber_latest: the newest message of a type, without consuming.
 *
 * A subscriber process (DROP_OLDEST, so the publisher never waits for it)
 * and the publisher take turns:
 *   1. empty topic: -ENOENT for any type;
 *   2. A0 B0 A1 C0 published: latest(A) is A1, latest(B) B0, latest(ANY) C0,
 *      latest(D) -ENOENT, a short buffer -EMSGSIZE with the size; the cursor
 *      did not move: the next view is A0 (message 0), and latest(A) is still
 *      A1 afterwards;
 *   3. A2, then laps of B: no A left in the ring, latest(A) -ENOENT,
 *      latest(B) and latest(ANY) the newest B; the cursor still did not
 *      move: the next view reports the loss;
 *   4. while the publisher streams A and B as fast as it can, latest(A)
 *      always returns an intact A, never older than one returned before. */
#include "testutil.h"

#define CAP 4096
#define SIZE 200
enum { TA = 1, TB = 2, TC = 3, TD = 4 };

struct shared {
    uint64_t seed;
    uint64_t last_b;   /* k of the newest B of step 3 */
    uint32_t stop;     /* step 4 is over */
    uint64_t latest_calls;
};

static struct shared *sh;
static char name[TU_NAME_MAX];

/* Message k of type t: tu_msg_fill content of size SIZE. */
static int publish(zipc_publisher *p, uint64_t k, uint32_t t)
{
    void *buf;
    int r = zipc_publisher_reserve(p, SIZE, &buf, ZIPC_TRY);
    if (r)
        return r;
    tu_msg_fill(buf, SIZE, sh->seed, k);
    return zipc_publisher_commit(p, SIZE, t, 0);
}

/* latest(t) must return message k (of type want_t). */
static void expect_latest(zipc_subscriber *s, uint32_t t, uint64_t k, uint32_t want_t)
{
    uint8_t buf[CAP];
    size_t size = 0;
    uint32_t type = 0;
    if (!CHECK_OK(zipc_subscriber_latest(s, t, buf, sizeof(buf), &size, &type)))
        return;
    CHECK_EQ(type, want_t);
    CHECK_EQ(size, SIZE);
    CHECK_EQ(tu_msg_verify(buf, size, tu_msg_type(sh->seed, k), sh->seed, k, SIZE), TU_MSG_OK);
}

/* The k in a latest() copy (its first 8 bytes, once its checksum holds):
 * 0, -ENOENT, -EAGAIN (the ring lapped every try while this process was
 * descheduled: a loaded machine), or another error (a failure). */
static int latest_k(zipc_subscriber *s, uint32_t t, uint64_t *k)
{
    uint8_t buf[CAP];
    size_t size = 0;
    uint32_t type = 0;
    int r = zipc_subscriber_latest(s, t, buf, sizeof(buf), &size, &type);
    if (r == -ENOENT || r == -EAGAIN || !CHECK_HOT_OK(r))
        return r;
    memcpy(k, buf, 8);
    int why = size == SIZE ? tu_msg_verify(buf, size, tu_msg_type(sh->seed, *k), sh->seed, *k, SIZE) : TU_BAD_SIZE;
    return CHECK_MSG(type == t && why == TU_MSG_OK, "latest(%u): type %u, bad %s", t, type, tu_msg_why(why)) ? 0
                                                                                                          : -EBADMSG;
}

static void subscriber(int go, int done)
{
    struct zipc_subscription s = tu_subscription(ZIPC_SUB_DROP_OLDEST, 0, 0, 0);
    struct zipc_options o = tu_opts(10000 * TU_MS);
    zipc_subscriber *sub = NULL;
    if (!CHECK_OK(zipc_topic_subscribe(&sub, name, &s, &o)))
        tu_child_exit();
    uint8_t buf[CAP];
    size_t size = 0;
    uint32_t type = 0;
    struct zipc_msg m;
    /* 1 */
    CHECK_ERR(zipc_subscriber_latest(sub, ZIPC_TYPE_ANY, buf, sizeof(buf), &size, &type), -ENOENT);
    CHECK_ERR(zipc_subscriber_latest(sub, TA, buf, sizeof(buf), &size, &type), -ENOENT);
    tu_notify(done);
    /* 2 */
    if (!CHECK(tu_await(go, 10000)))
        tu_child_exit();
    expect_latest(sub, TA, 2, TA);
    expect_latest(sub, TB, 1, TB);
    expect_latest(sub, ZIPC_TYPE_ANY, 3, TC);
    CHECK_ERR(zipc_subscriber_latest(sub, TD, buf, sizeof(buf), &size, &type), -ENOENT);
    size = 0;
    CHECK_ERR(zipc_subscriber_latest(sub, TA, buf, 10, &size, &type), -EMSGSIZE);
    CHECK_EQ(size, SIZE);
    if (CHECK_OK(zipc_subscriber_view(sub, &m, ZIPC_TRY))) {
        CHECK_EQ(m.seq, 0);
        CHECK_EQ(m.type, TA);
        CHECK_OK(zipc_subscriber_release(sub));
    }
    expect_latest(sub, TA, 2, TA);
    struct zipc_subscriber_stats st;
    if (CHECK_OK(zipc_subscriber_get_stats(sub, &st)))
        CHECK_EQ(st.messages, 1);
    tu_notify(done);
    /* 3 */
    if (!CHECK(tu_await(go, 10000)))
        tu_child_exit();
    CHECK_ERR(zipc_subscriber_latest(sub, TA, buf, sizeof(buf), &size, &type), -ENOENT);
    expect_latest(sub, TB, sh->last_b, TB);
    expect_latest(sub, ZIPC_TYPE_ANY, sh->last_b, TB);
    CHECK_ERR(zipc_subscriber_view(sub, &m, ZIPC_TRY), -EOVERFLOW);
    tu_notify(done);
    /* 4 */
    uint64_t prev = 0, k, calls = 0;
    bool ok = true;
    while (ok && !__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
        int r = latest_k(sub, TA, &k);
        if (r == -EAGAIN)
            continue;
        if (r == -ENOENT) /* only before the stream's first A */
            ok = CHECK_MSG(prev == 0, "latest(A): -ENOENT after A %" PRIu64 " while A's stream", prev);
        else if ((ok = r == 0)) {
            ok = CHECK_MSG(k >= prev, "latest(A) went back from %" PRIu64 " to %" PRIu64, prev, k);
            prev = k;
            calls++;
        }
    }
    sh->latest_calls = calls;
    zipc_subscriber_close(sub);
    tu_child_exit();
}

int main(void)
{
    tu_init("test_latest", 120);
    sh = tu_shared(sizeof(*sh));
    int go[2], done[2];
    if (!sh || !CHECK_OK(pipe(go)) || !CHECK_OK(pipe(done)))
        return tu_finish();
    sh->seed = tu_mix(tu_seed ^ 0x1a7);
    tu_topic_name(name, "latest");
    pid_t kid = tu_fork(); /* before the topic: it inherits no endpoint */
    if (kid == 0)
        subscriber(go[0], done[1]);
    zipc_publisher *p = NULL;
    if (!CHECK_OK(zipc_topic_create(&p, name, CAP, 0, NULL))) {
        tu_kill_reap(kid);
        return tu_finish();
    }
    CHECK(tu_await_subscribers(p, 1, 10000));
    CHECK(tu_await(done[0], 10000));
    /* 2 */
    CHECK_OK(publish(p, 0, TA));
    CHECK_OK(publish(p, 1, TB));
    CHECK_OK(publish(p, 2, TA));
    CHECK_OK(publish(p, 3, TC));
    tu_notify(go[1]);
    CHECK(tu_await(done[0], 10000));
    /* 3 */
    uint64_t k = 4;
    CHECK_OK(publish(p, k++, TA));
    for (int i = 0; i < 3 * CAP / 256; i++)
        CHECK_OK(publish(p, k++, TB));
    sh->last_b = k - 1;
    tu_notify(go[1]);
    CHECK(tu_await(done[0], 10000));
    /* 4: as fast as possible, A and B in turn */
    int64_t end = tu_now_ns() + 500 * TU_MS;
    while (tu_now_ns() < end)
        for (int i = 0; i < 64; i++, k++)
            CHECK_HOT_OK(publish(p, k, k % 2 ? TA : TB));
    __atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
    CHECK_CHILD(kid, 30000);
    printf("  %" PRIu64 " messages; %" PRIu64 " latest() calls while streaming\n", k, sh->latest_calls);
    CHECK(sh->latest_calls > 0);
    zipc_publisher_close(p);
    return tu_finish();
}

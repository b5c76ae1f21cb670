/* The topic API end to end (zipc/topic.h).
 *
 * Processes: three subscriber processes (BLOCK, DROP_OLDEST, MAX_LAG(16))
 * subscribe before the topic exists (they wait), then read a stream the
 * publisher writes with every producer call (send, reserve+commit, reserve
 * then abort, COMMIT_MORE batches then flush or a last commit). The BLOCK
 * subscriber sees every message in order, checksums intact; the lossy ones
 * see the stream in order with gaps equal to the losses they were told of,
 * and never an intact-looking torn view; all drain, then get -EPIPE; their
 * stats agree with what they saw.
 * In process: every call's misuse (-EINVAL), -EADDRINUSE, subscribe with no
 * publisher (-ETIMEDOUT), -ENOSPC beyond max_subscribers (and room again
 * after one leaves), abort leaves no trace, COMMIT_MORE is invisible until
 * flush, views released in any order, release_upto, recv's -EMSGSIZE,
 * BLOCK back-pressure (-EAGAIN, -ETIMEDOUT, then room after release), a
 * publisher with only DROP subscribers never waits, the exact loss, -ESTALE
 * for an overwritten DROP view, RESUME_NEWEST, the fds, capacity rounding.
 * Sleepers: six subscribers that never spin (two of them without the bell,
 * as an older library subscribes) each get every message; the publisher
 * pays one wake-up for all those with the bell, one each for the others.
 * The publisher runs its door thread beside the caller: ThreadSanitizer runs it too.
 * ctest-labels: threads */
#include "testutil.h"

#define CAP 4096
#define WAIT (10000 * TU_MS)

/* ---- the processes part ---------------------------------------------------- */

struct sub_result {
    uint32_t done;
    uint32_t policy;
    uint64_t first, next, delivered, stale, lost, overflows;
};

struct shared {
    uint64_t total; /* set by the publisher before it closes */
    struct sub_result res[3];
};

static const struct {
    uint32_t policy;
    uint64_t max_lag;
    unsigned hold_every;
    long hold_us;
} subs[3] = {
    {ZIPC_SUB_BLOCK, 0, 256, 100},
    {ZIPC_SUB_DROP_OLDEST, 0, 32, 3000}, /* slow now and then: lapped */
    {ZIPC_SUB_MAX_LAG, 16, 32, 3000},
};

static void subscriber(const char *name, int i, uint64_t seed, struct shared *sh, int ready_fd)
{
    struct zipc_subscription s = tu_subscription(subs[i].policy, 0, subs[i].max_lag, 0);
    struct zipc_options o = tu_opts(WAIT);
    zipc_subscriber *sub = NULL;
    int64_t t0 = tu_now_ns();
    if (!CHECK_OK(zipc_topic_subscribe(&sub, name, &s, &o)))
        tu_child_exit();
    CHECK_MSG(tu_ms_since(t0) > 50, "subscribe returned after %.1f ms, before the topic existed", tu_ms_since(t0));
    tu_notify(ready_fd);
    struct tu_reader r;
    if (!tu_reader_init(&r, sub, subs[i].policy, seed))
        tu_child_exit();
    tu_reader_expect(&r, 0); /* joined before message 0 */
    r.hold_every = subs[i].hold_every;
    r.hold_us = subs[i].hold_us;
    CHECK_ERR(tu_reader_run(&r, WAIT), -EPIPE);
    struct zipc_msg m;
    CHECK_ERR(zipc_subscriber_view(sub, &m, ZIPC_TRY), -EPIPE); /* for good */
    uint64_t total = __atomic_load_n(&sh->total, __ATOMIC_ACQUIRE);
    CHECK_EQ(r.first, 0);
    CHECK_EQ(r.next, total); /* it reached the end: the last message, or a loss up to it */
    CHECK_EQ(r.delivered + r.stale + r.lost, total - r.first);
    if (subs[i].policy == ZIPC_SUB_BLOCK)
        CHECK_EQ(r.delivered, total);
    struct zipc_subscriber_stats st;
    if (CHECK_OK(zipc_subscriber_get_stats(sub, &st))) {
        CHECK_EQ(st.lost_messages, r.lost);
        CHECK_EQ(st.overflows, r.overflows);
        CHECK_RANGE(st.messages, r.delivered, r.delivered + r.stale); /* stale releases may count */
        CHECK_EQ(st.lag, 0);
    }
    sh->res[i] = (struct sub_result){1, subs[i].policy, r.first, r.next, r.delivered, r.stale, r.lost, r.overflows};
    tu_reader_free(&r);
    CHECK_OK(zipc_subscriber_close(sub));
    tu_child_exit();
}

/* Message k by one of the producer calls; returns the messages committed. */
static uint64_t publish_some(zipc_publisher *p, uint64_t seed, uint64_t k, uint64_t *rng)
{
    size_t max = zipc_publisher_max_message(p);
    size_t size = tu_msg_size(seed, k, max);
    void *buf;
    switch (tu_below(rng, 5)) {
    case 0: { /* send */
        uint8_t tmp[CAP];
        tu_msg_fill(tmp, size, seed, k);
        CHECK_HOT_OK(zipc_publisher_send(p, tmp, size, tu_msg_type(seed, k), WAIT));
        return 1;
    }
    case 1: /* a reservation dropped first: no trace */
        if (CHECK_HOT_OK(zipc_publisher_reserve(p, max, &buf, WAIT))) {
            memset(buf, 0xee, max);
            CHECK_HOT_OK(zipc_publisher_abort(p));
        }
        /* fall through */
    case 2: /* reserve more than needed, commit less */
        if (CHECK_HOT_OK(zipc_publisher_reserve(p, size + (max - size) / 2, &buf, WAIT))) {
            tu_msg_fill(buf, size, seed, k);
            CHECK_HOT_OK(zipc_publisher_commit(p, size, tu_msg_type(seed, k), 0));
        }
        return 1;
    default: { /* a batch of up to 4 staged messages, published by flush or a last commit */
        unsigned n = 1 + (unsigned)tu_below(rng, 4);
        bool by_flush = tu_below(rng, 2);
        for (unsigned i = 0; i < n; i++) {
            unsigned flags = i + 1 < n || by_flush ? ZIPC_COMMIT_MORE : 0;
            CHECK_HOT_OK(tu_publish_k(p, seed, k + i, tu_msg_size(seed, k + i, max), flags, WAIT));
        }
        if (by_flush)
            CHECK_HOT_OK(zipc_publisher_flush(p));
        return n;
    }
    }
}

static void stream_to_processes(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "basic");
    struct shared *sh = tu_shared(sizeof(*sh));
    int ready[2];
    if (!sh || !CHECK_OK(pipe(ready)))
        return;
    uint64_t seed = tu_mix(tu_seed ^ 0xba5e);
    pid_t kids[3];
    for (int i = 0; i < 3; i++) /* before the topic exists: no inherited endpoint */
        if ((kids[i] = tu_fork()) == 0)
            subscriber(name, i, seed, sh, ready[1]);
    tu_sleep_us(150000); /* they are waiting in subscribe now */
    zipc_publisher *p = NULL;
    if (!CHECK_OK(zipc_topic_create(&p, name, CAP, 0, NULL))) {
        for (int i = 0; i < 3; i++)
            tu_kill_reap(kids[i]);
        return;
    }
    for (int i = 0; i < 3; i++)
        CHECK_MSG(tu_await(ready[0], 10000), "subscriber %d did not join", i);
    CHECK(tu_await_subscribers(p, 3, 5000));
    uint64_t total = (uint64_t)tu_scaled(20000, 2000), k = 0, rng = seed;
    while (k < total)
        k += publish_some(p, seed, k, &rng);
    struct zipc_publisher_stats st;
    if (CHECK_OK(zipc_publisher_get_stats(p, &st))) {
        CHECK_EQ(st.messages, k);
        CHECK_EQ(st.subscribers, 3);
        CHECK_EQ(st.joined, 3);
        CHECK_EQ(st.died + st.evicted + st.departed, 0);
    }
    __atomic_store_n(&sh->total, k, __ATOMIC_RELEASE);
    CHECK_OK(zipc_publisher_close(p));
    for (int i = 0; i < 3; i++)
        CHECK_CHILD(kids[i], 30000);
    for (int i = 0; i < 3; i++)
        printf("  %-11s first %" PRIu64 " next %" PRIu64 ": delivered %" PRIu64 ", stale %" PRIu64 ", lost %" PRIu64
               " in %" PRIu64 " overflows\n",
               tu_policy_name(subs[i].policy), sh->res[i].first, sh->res[i].next, sh->res[i].delivered,
               sh->res[i].stale, sh->res[i].lost, sh->res[i].overflows);
    close(ready[0]);
    close(ready[1]);
}

/* ---- sleepers: one ring of the bell wakes them all ---------------------------- */

#define SLEEPERS 6
#define OWN_WAKE 2 /* of them subscribe as an older library does: no bell, their own eventfd */
#define ROUNDS 5
extern int zipc__topic_ask_bell; /* src/internal.h: 0 subscribes without the bell */

/* Is `pid` asleep in the kernel (state S)? */
static bool asleep(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *end = strrchr(buf, ')'); /* the command name may hold anything */
    return end && end[1] == ' ' && end[2] == 'S';
}

/* A subscriber that never spins: every view it waits for is a kernel sleep. */
static void sleeper(const char *name, int i, uint64_t seed, uint64_t *got)
{
    zipc__topic_ask_bell = i >= OWN_WAKE;
    struct zipc_options o = tu_opts(WAIT);
    o.flags |= ZIPC_OPT_NO_SPIN;
    zipc_subscriber *sub = NULL;
    if (!CHECK_OK(zipc_topic_subscribe(&sub, name, NULL, &o)))
        tu_child_exit();
    struct zipc_msg m;
    for (uint64_t k = 0; k < ROUNDS; k++) {
        if (!CHECK_OK(zipc_subscriber_view(sub, &m, WAIT)))
            break;
        CHECK_MSG_K(&m, seed, k, 64);
        CHECK_OK(zipc_subscriber_release(sub));
        __atomic_store_n(&got[i], k + 1, __ATOMIC_RELEASE);
    }
    CHECK_ERR(zipc_subscriber_view(sub, &m, WAIT), -EPIPE);
    zipc_subscriber_close(sub);
    tu_child_exit();
}

/* Wait until every sleeper took `k` messages and sleeps for the next one. */
static bool all_asleep_after(const pid_t *kids, const uint64_t *got, uint64_t k)
{
    int64_t end = tu_now_ns() + 5000 * TU_MS;
    for (int i = 0; i < SLEEPERS; i++)
        while (__atomic_load_n(&got[i], __ATOMIC_ACQUIRE) < k || !asleep(kids[i]))
            if (tu_now_ns() > end)
                return false;
            else
                tu_sleep_us(500);
    return true;
}

/* Each message reaches every sleeper; waking the ones with the bell costs
 * the publisher one write however many they are, and each without it one
 * of its own (1 + OWN_WAKE wake-ups per message). */
static void sleepers_share_the_bell(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "bell");
    uint64_t *got = tu_shared(sizeof(uint64_t) * SLEEPERS);
    if (!got)
        return;
    uint64_t seed = tu_mix(tu_seed ^ 0xbe11);
    pid_t kids[SLEEPERS];
    for (int i = 0; i < SLEEPERS; i++) /* before the topic exists: no inherited endpoint */
        if ((kids[i] = tu_fork()) == 0)
            sleeper(name, i, seed, got);
    zipc_publisher *p = NULL;
    if (CHECK_OK(zipc_topic_create(&p, name, CAP, 0, NULL)) && CHECK(tu_await_subscribers(p, SLEEPERS, 10000))) {
        for (uint64_t k = 0; k < ROUNDS; k++) {
            if (!CHECK_MSG(all_asleep_after(kids, got, k), "round %" PRIu64 ": the sleepers did not fall asleep", k))
                break;
            struct zipc_publisher_stats before, after;
            CHECK_OK(zipc_publisher_get_stats(p, &before));
            CHECK_OK(tu_publish_k(p, seed, k, 64, 0, WAIT));
            CHECK_OK(zipc_publisher_get_stats(p, &after));
            /* round 0 only warms up: a sleeper still in its subscribe handshake also
             * sleeps in the kernel, but in no view, so it needs no wake-up yet */
            if (k > 0)
                CHECK_MSG(after.wakeups - before.wakeups == 1 + OWN_WAKE,
                          "round %" PRIu64 ": %" PRIu64 " wake-ups, expected %d", k,
                          after.wakeups - before.wakeups, 1 + OWN_WAKE);
        }
        CHECK(all_asleep_after(kids, got, ROUNDS));
    }
    zipc_publisher_close(p);
    for (int i = 0; i < SLEEPERS; i++)
        CHECK_CHILD(kids[i], 30000);
    munmap(got, sizeof(uint64_t) * SLEEPERS);
}

/* ---- in process -------------------------------------------------------------- */

static zipc_subscriber *subscribe(const char *name, uint32_t policy, uint32_t flags, uint64_t max_lag)
{
    struct zipc_subscription s = tu_subscription(policy, flags, max_lag, 0);
    struct zipc_options o = tu_opts(5000 * TU_MS);
    zipc_subscriber *sub = NULL;
    int r = zipc_topic_subscribe(&sub, name, &s, &o);
    CHECK_MSG(r == 0 && sub, "subscribe(%s, %s): %s", name, tu_policy_name(policy), tu_errname(r));
    return r == 0 ? sub : NULL;
}

static zipc_publisher *create(char name[TU_NAME_MAX], const char *tag, size_t cap, uint32_t max_subs)
{
    zipc_publisher *p = NULL;
    int r = zipc_topic_create(&p, tu_topic_name(name, tag), cap, max_subs, NULL);
    CHECK_MSG(r == 0 && p, "create(%s): %s", name, tu_errname(r));
    return r == 0 ? p : NULL;
}

static void misuse(void)
{
    char name[TU_NAME_MAX];
    zipc_publisher *p = NULL, *p2 = NULL;
    zipc_subscriber *s = NULL;
    CHECK_ERR(zipc_topic_create(NULL, tu_topic_name(name, "x"), CAP, 0, NULL), -EINVAL);
    CHECK_ERR(zipc_topic_create(&p, NULL, CAP, 0, NULL), -EINVAL);
    CHECK_ERR(zipc_topic_create(&p, "", CAP, 0, NULL), -EINVAL);
    CHECK_ERR(zipc_topic_create(&p, "bad name!", CAP, 0, NULL), -EINVAL);
    CHECK_ERR(zipc_topic_create(&p, name, 0, 0, NULL), -EINVAL);
    CHECK_ERR(zipc_topic_create(&p, name, ZIPC_MIN_CAPACITY - 1, 0, NULL), -EINVAL);
    CHECK_ERR(zipc_topic_create(&p, name, (size_t)ZIPC_MAX_CAPACITY + 1, 0, NULL), -EINVAL);
    CHECK_ERR(zipc_topic_create(&p, name, CAP, ZIPC_TOPIC_MAX_SUBSCRIBERS + 1, NULL), -EINVAL);
    CHECK(p == NULL);
    if (!(p = create(name, "misuse", 3000, 0)))
        return;
    CHECK_EQ(zipc_publisher_capacity(p), 4096); /* rounded up to a power of two */
    CHECK_EQ(zipc_publisher_max_message(p), 4096 / 2 - ZIPC_FRAME_HEADER);
    CHECK_ERR(zipc_topic_create(&p2, name, CAP, 0, NULL), -EADDRINUSE);
    CHECK(zipc_publisher_fd(p) >= 0);
    CHECK_EQ(zipc_publisher_subscribers(p), 0);

    struct zipc_options o = tu_opts(5000 * TU_MS);
    struct zipc_subscription bad = tu_subscription(9, 0, 0, 0);
    CHECK_ERR(zipc_topic_subscribe(&s, name, &bad, &o), -EINVAL);
    bad = tu_subscription(ZIPC_SUB_MAX_LAG, 0, 0, 0); /* max_lag >= 1 */
    CHECK_ERR(zipc_topic_subscribe(&s, name, &bad, &o), -EINVAL);
    CHECK_ERR(zipc_topic_subscribe(NULL, name, NULL, &o), -EINVAL);
    CHECK_ERR(zipc_topic_subscribe(&s, NULL, NULL, &o), -EINVAL);
    CHECK(s == NULL);
    if (!(s = subscribe(name, ZIPC_SUB_BLOCK, 0, 0))) { /* NULL subscription: BLOCK from the next */
        zipc_publisher_close(p);
        return;
    }
    CHECK_EQ(zipc_subscriber_capacity(s), 4096);
    CHECK_EQ(zipc_subscriber_max_message(s), 4096 / 2 - ZIPC_FRAME_HEADER);
    CHECK_EQ(zipc_subscriber_publisher_pid(s), getpid());
    CHECK(zipc_subscriber_fd(s) >= 0);

    void *buf;
    struct zipc_msg m;
    size_t size;
    uint32_t type;
    uint64_t a, b;
    CHECK_ERR(zipc_publisher_reserve(NULL, 1, &buf, ZIPC_TRY), -EINVAL);
    CHECK_ERR(zipc_publisher_reserve(p, 1, NULL, ZIPC_TRY), -EINVAL);
    CHECK_ERR(zipc_publisher_reserve(p, zipc_publisher_max_message(p) + 1, &buf, ZIPC_TRY), -EMSGSIZE);
    CHECK_ERR(zipc_publisher_commit(p, 1, 1, 0), -EINVAL); /* nothing reserved */
    CHECK_ERR(zipc_publisher_abort(p), -EINVAL);
    CHECK_ERR(zipc_publisher_commit(NULL, 1, 1, 0), -EINVAL);
    CHECK_ERR(zipc_publisher_send(NULL, "x", 1, 1, ZIPC_TRY), -EINVAL);
    CHECK_ERR(zipc_publisher_flush(NULL), -EINVAL);
    CHECK_ERR(zipc_publisher_get_stats(p, NULL), -EINVAL);
    if (CHECK_OK(zipc_publisher_reserve(p, 8, &buf, ZIPC_TRY))) {
        CHECK_ERR(zipc_publisher_reserve(p, 8, &buf, ZIPC_TRY), -EALREADY);
        CHECK_ERR(zipc_publisher_commit(p, 9, 1, 0), -EINVAL); /* more than reserved */
        CHECK_OK(zipc_publisher_abort(p));
    }
    CHECK_ERR(zipc_subscriber_view(NULL, &m, ZIPC_TRY), -EINVAL);
    CHECK_ERR(zipc_subscriber_view(s, NULL, ZIPC_TRY), -EINVAL);
    CHECK_ERR(zipc_subscriber_drain(s, NULL, 4, ZIPC_TRY), -EINVAL);
    CHECK_ERR(zipc_subscriber_release(NULL), -EINVAL);
    CHECK_ERR(zipc_subscriber_release_view(s, NULL), -EINVAL);
    CHECK_ERR(zipc_subscriber_recv(NULL, &m, 1, &size, &type, ZIPC_TRY), -EINVAL);
    CHECK_ERR(zipc_subscriber_last_loss(NULL, &a, &b), -EINVAL);
    CHECK_ERR(zipc_subscriber_get_stats(s, NULL), -EINVAL);
    CHECK_ERR(zipc_subscriber_latest(NULL, ZIPC_TYPE_ANY, &m, sizeof(m), &size, &type), -EINVAL);
    CHECK_ERR(zipc_subscriber_view(s, &m, ZIPC_TRY), -EAGAIN); /* the abort left nothing */
    CHECK_OK(zipc_publisher_close(NULL)); /* as free(NULL), and the channel's close */
    CHECK_OK(zipc_subscriber_close(NULL));
    CHECK_OK(zipc_subscriber_close(s));
    CHECK_OK(zipc_publisher_close(p));
    /* the name is free at once */
    if (CHECK_OK(zipc_topic_create(&p2, name, CAP, 0, NULL)))
        CHECK_OK(zipc_publisher_close(p2));
}

static void no_publisher(void)
{
    char name[TU_NAME_MAX];
    struct zipc_options o = tu_opts(100 * TU_MS);
    zipc_subscriber *s = NULL;
    int64_t t0 = tu_now_ns();
    int r = zipc_topic_subscribe(&s, tu_topic_name(name, "nobody"), NULL, &o);
    double ms = tu_ms_since(t0);
    CHECK_MSG(r == -ETIMEDOUT || r == -ENOENT, "subscribe with no publisher: %s", tu_errname(r));
    CHECK_RANGE(ms, 90, 5000 * tu_slack());
    CHECK(s == NULL);
}

static void no_space(void)
{
    char name[TU_NAME_MAX];
    zipc_publisher *p = create(name, "full", CAP, 2);
    if (!p)
        return;
    zipc_subscriber *a = subscribe(name, ZIPC_SUB_BLOCK, 0, 0), *b = subscribe(name, ZIPC_SUB_DROP_OLDEST, 0, 0);
    zipc_subscriber *c = NULL;
    struct zipc_options o = tu_opts(2000 * TU_MS);
    CHECK(tu_await_subscribers(p, 2, 5000));
    CHECK_ERR(zipc_topic_subscribe(&c, name, NULL, &o), -ENOSPC);
    CHECK(c == NULL);
    zipc_subscriber_close(a);
    int r = -ENOSPC; /* the door frees the slot as soon as it sees a leave */
    for (int64_t end = tu_now_ns() + 5000 * TU_MS; r == -ENOSPC && tu_now_ns() < end;)
        if ((r = zipc_topic_subscribe(&c, name, NULL, &o)) == -ENOSPC)
            tu_sleep_us(1000);
    CHECK_OK(r);
    CHECK(tu_await_subscribers(p, 2, 5000));
    struct zipc_publisher_stats st;
    if (CHECK_OK(zipc_publisher_get_stats(p, &st))) {
        CHECK_EQ(st.joined, 3);
        CHECK_EQ(st.departed, 1);
        CHECK_EQ(st.subscribers, 2);
    }
    zipc_subscriber_close(b);
    zipc_subscriber_close(c);
    zipc_publisher_close(p);
}

/* Views, batches, release orders, recv. */
static void producer_and_consumer_calls(void)
{
    char name[TU_NAME_MAX];
    zipc_publisher *p = create(name, "calls", CAP, 0);
    zipc_subscriber *s = p ? subscribe(name, ZIPC_SUB_BLOCK, 0, 0) : NULL;
    if (!s) {
        zipc_publisher_close(p);
        return;
    }
    CHECK(tu_await_subscribers(p, 1, 5000));
    uint64_t seed = tu_seed ^ 77;
    size_t max = zipc_publisher_max_message(p);
    struct zipc_msg m[8], v;
    /* staged: invisible until flush; the fd (armed by the -EAGAIN) turns readable then */
    struct pollfd pf = {.fd = zipc_subscriber_fd(s), .events = POLLIN};
    CHECK_OK(tu_publish_k(p, seed, 0, 40, ZIPC_COMMIT_MORE, ZIPC_TRY));
    CHECK_OK(tu_publish_k(p, seed, 1, 41, ZIPC_COMMIT_MORE, ZIPC_TRY));
    CHECK_ERR(zipc_subscriber_view(s, &v, ZIPC_TRY), -EAGAIN);
    CHECK_EQ(poll(&pf, 1, 0), 0);
    CHECK_OK(zipc_publisher_flush(p));
    CHECK_EQ(poll(&pf, 1, 2000), 1); /* readable once something is there */
    CHECK_EQ(zipc_subscriber_drain(s, m, 8, ZIPC_TRY), 2);
    CHECK(m[0].seq == 0 && m[1].seq == 1);
    CHECK_MSG_K(&m[0], seed, 0, 40);
    CHECK_MSG_K(&m[1], seed, 1, 41);
    CHECK_ERR(zipc_subscriber_view(s, &v, ZIPC_TRY), -EAGAIN);
    CHECK_OK(zipc_subscriber_release_view(s, &m[1])); /* newest first */
    CHECK_ERR(zipc_subscriber_release_view(s, &m[1]), -EINVAL);
    CHECK_OK(zipc_subscriber_release_view(s, &m[0]));
    CHECK_ERR(zipc_subscriber_release_view(s, &m[0]), -EINVAL);
    /* five messages: two views, then a drain of the rest, release_upto (small enough that
     * five always fit the ring, whatever the seed) */
    size_t small = max < CAP / 8 ? max : CAP / 8;
    for (uint64_t k = 2; k < 7; k++)
        CHECK_OK(tu_publish_k(p, seed, k, tu_msg_size(seed, k, small), 0, ZIPC_TRY));
    CHECK_OK(zipc_subscriber_view(s, &m[0], ZIPC_TRY));
    CHECK_OK(zipc_subscriber_view(s, &m[1], ZIPC_TRY));
    CHECK_EQ(zipc_subscriber_drain(s, &m[2], 6, ZIPC_TRY), 3);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(m[i].seq, 2 + i);
        CHECK_STREAM_K(&m[i], seed, 2 + (uint64_t)i, small);
    }
    CHECK_OK(zipc_subscriber_release_upto(s, &m[1]));
    CHECK_ERR(zipc_subscriber_release_upto(s, &m[0]), -EINVAL);
    CHECK_ERR(zipc_subscriber_release_views(s, &m[1], 2), -EINVAL); /* m[1] released already */
    CHECK_OK(zipc_subscriber_release_views(s, &m[3], 2)); /* a run, not the oldest */
    CHECK_OK(zipc_subscriber_release_views(s, &m[2], 1));
    CHECK_ERR(zipc_subscriber_release_views(s, &m[2], 3), -EINVAL);
    /* recv: too small a buffer keeps the message */
    uint8_t buf[CAP];
    size_t size = 0;
    uint32_t type = 0;
    CHECK_OK(tu_publish_k(p, seed, 7, 100, 0, ZIPC_TRY));
    CHECK_ERR(zipc_subscriber_recv(s, buf, 99, &size, &type, ZIPC_TRY), -EMSGSIZE);
    CHECK_EQ(size, 100);
    CHECK_OK(zipc_subscriber_recv(s, buf, sizeof(buf), &size, &type, ZIPC_TRY));
    CHECK_EQ(tu_msg_verify(buf, size, type, seed, 7, 100), TU_MSG_OK);
    /* recv releases: it refuses to run with a view open */
    CHECK_OK(zipc_publisher_send(p, "ab", 2, 5, ZIPC_TRY));
    CHECK_OK(zipc_publisher_send(p, "cd", 2, 5, ZIPC_TRY));
    CHECK_OK(zipc_subscriber_view(s, &v, ZIPC_TRY));
    CHECK_ERR(zipc_subscriber_recv(s, buf, sizeof(buf), &size, &type, ZIPC_TRY), -EALREADY);
    CHECK_OK(zipc_subscriber_release(s));
    CHECK_OK(zipc_subscriber_recv(s, buf, sizeof(buf), &size, &type, ZIPC_TRY));
    CHECK(size == 2 && type == 5 && memcmp(buf, "cd", 2) == 0);

    /* BLOCK back-pressure: the subscriber holds everything */
    uint64_t sent = 0;
    int r;
    while ((r = zipc_publisher_send(p, buf, 200, 1, ZIPC_TRY)) == 0)
        sent++;
    CHECK_ERR(r, -EAGAIN);
    CHECK_RANGE(sent, CAP / 256 - 2, CAP / 256);
    int64_t t0 = tu_now_ns();
    CHECK_ERR(zipc_publisher_send(p, buf, 200, 1, 30 * TU_MS), -ETIMEDOUT);
    CHECK_RANGE(tu_ms_since(t0), 25, 5000 * tu_slack());
    CHECK_OK(zipc_subscriber_view(s, &v, ZIPC_TRY)); /* a view pins its frame: still no room */
    CHECK_ERR(zipc_publisher_send(p, buf, 200, 1, ZIPC_TRY), -EAGAIN);
    CHECK_OK(zipc_subscriber_release(s));
    CHECK_OK(zipc_publisher_send(p, buf, 200, 1, ZIPC_TRY));
    struct zipc_subscriber_stats ss;
    if (CHECK_OK(zipc_subscriber_get_stats(s, &ss))) {
        CHECK_EQ(ss.lag, sent);
        CHECK_EQ(ss.messages, 10 + 1);
        CHECK_EQ(ss.lost_messages, 0);
    }
    /* close with messages pending: they are all delivered, then -EPIPE */
    CHECK_OK(zipc_publisher_close(p));
    uint64_t n = 0;
    while (zipc_subscriber_view(s, &v, ZIPC_TRY) == 0 && zipc_subscriber_release(s) == 0)
        n++;
    CHECK_EQ(n, sent);
    CHECK_ERR(zipc_subscriber_view(s, &v, 1000 * TU_MS), -EPIPE);
    CHECK_OK(zipc_subscriber_close(s));
}

/* A publisher whose subscribers are all DROP never waits; the loss is exact;
 * an overwritten view is -ESTALE; RESUME_NEWEST skips to the newest. */
static void drop_subscribers(void)
{
    char name[TU_NAME_MAX];
    zipc_publisher *p = create(name, "drop", CAP, 0);
    zipc_subscriber *d = p ? subscribe(name, ZIPC_SUB_DROP_OLDEST, 0, 0) : NULL;
    zipc_subscriber *nw = d ? subscribe(name, ZIPC_SUB_DROP_OLDEST, ZIPC_SUB_RESUME_NEWEST, 0) : NULL;
    if (!nw) {
        zipc_subscriber_close(d);
        zipc_publisher_close(p);
        return;
    }
    CHECK(tu_await_subscribers(p, 2, 5000));
    uint64_t seed = tu_seed ^ 99, total = 10 * CAP / 64;
    for (uint64_t k = 0; k < total; k++) /* fixed 48 B: 64 B frames, no pads */
        CHECK_HOT_OK(tu_publish_k(p, seed, k, 48, 0, ZIPC_TRY));
    struct zipc_msg m;
    uint64_t lost = 0, bytes = 0;
    CHECK_ERR(zipc_subscriber_view(d, &m, ZIPC_TRY), -EOVERFLOW);
    CHECK_OK(zipc_subscriber_last_loss(d, &lost, &bytes));
    CHECK_EQ(bytes, lost * 64);
    CHECK_RANGE(lost, total - CAP / 64, total - 1); /* at most a ring's worth kept */
    if (CHECK_OK(zipc_subscriber_view(d, &m, ZIPC_TRY))) {
        CHECK_EQ(m.seq, lost); /* exactly after the loss */
        CHECK_MSG_K(&m, seed, m.seq, 48);
        CHECK_OK(zipc_subscriber_release(d));
    }
    CHECK_ERR(zipc_subscriber_view(nw, &m, ZIPC_TRY), -EOVERFLOW);
    if (CHECK_OK(zipc_subscriber_view(nw, &m, ZIPC_TRY))) {
        CHECK_EQ(m.seq, total - 1); /* the newest */
        CHECK_MSG_K(&m, seed, m.seq, 48);
        CHECK_OK(zipc_subscriber_release(nw));
    }
    uint64_t lost2 = 0;
    CHECK_OK(zipc_subscriber_last_loss(nw, &lost2, &bytes));
    CHECK_EQ(lost2, total - 1);
    CHECK_ERR(zipc_subscriber_view(nw, &m, ZIPC_TRY), -EAGAIN);
    /* a view overwritten while held: -ESTALE, and the stream goes on */
    if (CHECK_OK(zipc_subscriber_view(d, &m, ZIPC_TRY))) {
        uint64_t seq = m.seq;
        for (uint64_t k = total; k < total + 2 * CAP / 64; k++)
            CHECK_HOT_OK(tu_publish_k(p, seed, k, 48, 0, ZIPC_TRY));
        total += 2 * CAP / 64;
        CHECK_ERR(zipc_subscriber_release(d), -ESTALE);
        CHECK_ERR(zipc_subscriber_view(d, &m, ZIPC_TRY), -EOVERFLOW);
        CHECK_OK(zipc_subscriber_last_loss(d, &lost, &bytes));
        if (CHECK_OK(zipc_subscriber_view(d, &m, ZIPC_TRY)))
            CHECK_EQ(m.seq, seq + 1 + lost);
    }
    struct zipc_publisher_stats st;
    if (CHECK_OK(zipc_publisher_get_stats(p, &st))) {
        CHECK_EQ(st.sleeps, 0);
        CHECK_EQ(st.messages, total);
    }
    zipc_subscriber_close(d);
    zipc_subscriber_close(nw);
    zipc_publisher_close(p);
}

int main(void)
{
    tu_init("test_basic", 300);
    stream_to_processes();
    misuse();
    no_publisher();
    no_space();
    producer_and_consumer_calls();
    drop_subscribers();
    sleepers_share_the_bell();
    return tu_finish();
}

/* Queue basics: one process with a producer and a consumer (the consumer
 * joins through the producer's door), FIFO per producer, end of stream,
 * wrong roles and bad arguments, recv keeping what did not fit, and
 * 2 producers x 2 consumers in four processes: every message exactly once;
 * a producer's close lingering for a late consumer.
 * ctest-labels: threads */
#include "testutil.h"

#define MAXMSG 3000
#define TU_S (1000 * TU_MS)

static size_t qsize(uint64_t seed, uint64_t k) { return 16 + tu_msg_size(seed, k, MAXMSG - 16); }

static int send_k(zipc_queue *q, uint64_t seed, uint64_t k)
{
    void *buf;
    size_t n = qsize(seed, k);
    int r = zipc_queue_reserve(q, n, &buf, 5 * TU_S);
    if (r)
        return r;
    tu_msg_fill(buf, n, seed, k);
    return zipc_queue_commit(q, n, tu_msg_type(seed, k), 0);
}

static uint64_t msg_k(const struct zipc_msg *m)
{
    uint64_t k;
    memcpy(&k, m->data, 8);
    return k;
}

static bool check_k(const struct zipc_msg *m, uint64_t seed, uint64_t k)
{
    int why = tu_msg_verify(m->data, m->size, m->type, seed, k, qsize(seed, k));
    return CHECK_MSG(why == TU_MSG_OK, "message %" PRIu64 ": %s", k, tu_msg_why(why));
}

static void one_process(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "q1");
    struct zipc_options o = tu_opts(5 * TU_S);
    zipc_queue *p = NULL, *c = NULL;
    if (!CHECK_OK(zipc_queue_open(&p, name, ZIPC_ROLE_PRODUCER, NULL, &o)) ||
        !CHECK_OK(zipc_queue_open(&c, name, ZIPC_ROLE_CONSUMER, NULL, &o)))
        goto out;
    CHECK_EQ(zipc_queue_role(p), ZIPC_ROLE_PRODUCER);
    CHECK_EQ(zipc_queue_role(c), ZIPC_ROLE_CONSUMER);
    CHECK_EQ(zipc_queue_producers(c), 1);
    CHECK_EQ(zipc_queue_consumers(p), 1);
    CHECK_EQ((long long)zipc_queue_capacity(c), ZIPC_QUEUE_DEFAULT_LANE);
    struct zipc_msg m;
    CHECK_ERR(zipc_queue_view(c, &m, 0), -EAGAIN);
    /* wrong roles, bad arguments */
    void *buf;
    CHECK_ERR(zipc_queue_reserve(c, 8, &buf, 0), -EOPNOTSUPP);
    CHECK_ERR(zipc_queue_view(p, &m, 0), -EOPNOTSUPP);
    CHECK_ERR(zipc_queue_release_view(c, &m), -EINVAL);
    CHECK_ERR(zipc_queue_reserve(p, zipc_queue_max_message(p) + 1, &buf, 0), -EMSGSIZE);
    uint64_t seed = tu_seed;
    long n = tu_scaled(20000, 500);
    for (long k = 0; k < n; k++) {
        if (!CHECK_OK(send_k(p, seed, (uint64_t)k)))
            break;
        if (k % 3 == 2) { /* consume in bursts, some views open across sends */
            for (int i = 0; i < 3; i++) {
                if (!CHECK_OK(zipc_queue_view(c, &m, TU_S)))
                    goto out;
                check_k(&m, seed, (uint64_t)(k - 2 + i));
                CHECK_EQ(zipc_queue_msg_attempt(&m), 1);
                CHECK_EQ(zipc_queue_msg_producer(&m), (long long)zipc_queue_slot(p));
                CHECK_EQ((long long)m.seq, k - 2 + i);
                CHECK_OK(zipc_queue_release_view(c, &m));
            }
        }
    }
    /* recv: too small keeps the message, a larger buffer gets that one */
    CHECK_OK(zipc_queue_send(p, "hello queue", 11, 7, 0));
    char small[4], big[64];
    size_t size = 0;
    uint32_t type = 0;
    for (long k = n - n % 3; k <= n; k++) { /* the rest of the loop's messages, then ours */
        if (!CHECK_OK(zipc_queue_view(c, &m, TU_S)))
            break;
        if (k < n)
            check_k(&m, seed, (uint64_t)k);
        else
            CHECK(m.type == 7 && m.size == 11 && memcmp(m.data, "hello queue", 11) == 0);
        CHECK_OK(zipc_queue_release_view(c, &m));
    }
    CHECK_OK(zipc_queue_send(p, "0123456789", 10, 9, 0));
    CHECK_ERR(zipc_queue_recv(c, small, sizeof(small), &size, &type, TU_S), -EMSGSIZE);
    CHECK_EQ((long long)size, 10);
    CHECK_OK(zipc_queue_recv(c, big, sizeof(big), &size, &type, TU_S));
    CHECK(size == 10 && memcmp(big, "0123456789", 10) == 0 && type == 9);
    /* end of stream once the producer has left and all is taken */
    CHECK_OK(zipc_queue_send(p, "last", 4, 1, 0));
    zipc_queue_close(p);
    p = NULL;
    CHECK_OK(zipc_queue_view(c, &m, TU_S));
    CHECK(m.size == 4 && memcmp(m.data, "last", 4) == 0);
    CHECK_OK(zipc_queue_release(c));
    CHECK_ERR(zipc_queue_view(c, &m, TU_S), -EPIPE);
    CHECK_ERR(zipc_queue_view(c, &m, 0), -EPIPE);
out:
    zipc_queue_close(p);
    zipc_queue_close(c);
}

static void bad_arguments(void)
{
    zipc_queue *q = NULL;
    struct zipc_queue_config big = {.lane_capacity = ZIPC_QUEUE_MAX_LANE * 2};
    struct zipc_queue_config flags = {.flags = 0x100};
    CHECK_ERR(zipc_queue_open(&q, "a/b", ZIPC_ROLE_PRODUCER, NULL, NULL), -EINVAL);
    CHECK_ERR(zipc_queue_open(&q, "x", 7, NULL, NULL), -EINVAL);
    CHECK_ERR(zipc_queue_open(&q, "x", ZIPC_ROLE_CONSUMER, &big, NULL), -EINVAL);
    CHECK_ERR(zipc_queue_open(&q, "x", ZIPC_ROLE_CONSUMER, &flags, NULL), -EINVAL);
    CHECK_ERR(zipc_queue_open(&q, "bad name!", ZIPC_ROLE_CONSUMER, NULL, NULL), -EINVAL);
    CHECK_OK(zipc_queue_close(NULL));
}

/* ---- 2 producers x 2 consumers -------------------------------------------- */

#define PRODUCERS 2
#define CONSUMERS 2
#define PER_PRODUCER_MAX 200000

struct board {
    uint32_t seen[PRODUCERS][PER_PRODUCER_MAX];
    uint32_t bad;
    uint32_t eos;
};

static void producer_proc(const char *name, int id, long n, uint64_t seed)
{
    struct zipc_options o = tu_opts(10 * TU_S);
    struct zipc_queue_config cfg = {.lane_capacity = 64 * 1024};
    zipc_queue *q = NULL;
    int64_t t0 = tu_now_ns();
    if (CHECK_OK(zipc_queue_open(&q, name, ZIPC_ROLE_PRODUCER, &cfg, &o)))
        while (zipc_queue_producers(q) < PRODUCERS && tu_ms_since(t0) < 10000)
            tu_sleep_us(1000); /* both attached: one leaving early must not end the stream */
    if (q)
        for (long k = 0; k < n; k++) {
            /* the producer id rides in the type's top bits: the lane is not the id */
            void *buf;
            size_t sz = qsize(seed + (uint64_t)id, (uint64_t)k);
            if (!CHECK_OK(zipc_queue_reserve(q, sz, &buf, 10 * TU_S)))
                break;
            tu_msg_fill(buf, sz, seed + (uint64_t)id, (uint64_t)k);
            if (!CHECK_OK(zipc_queue_commit(q, sz, (uint32_t)id, (k & 7) == 3 ? ZIPC_COMMIT_MORE : 0)))
                break;
        }
    zipc_queue_close(q);
}

static void consumer_proc(const char *name, struct board *b, uint64_t seed)
{
    struct zipc_options o = tu_opts(10 * TU_S);
    zipc_queue *q = NULL;
    if (!CHECK_OK(zipc_queue_open(&q, name, ZIPC_ROLE_CONSUMER, NULL, &o)))
        return;
    uint64_t last[PRODUCERS];
    memset(last, 0xff, sizeof(last));
    struct zipc_msg ms[16];
    for (;;) {
        int n = zipc_queue_drain(q, ms, 16, 20 * TU_S);
        if (n == -EPIPE) {
            __atomic_fetch_add(&b->eos, 1, __ATOMIC_RELAXED);
            break;
        }
        if (!CHECK_MSG(n > 0, "drain: %s", zipc_err_name(n)))
            break;
        for (int i = 0; i < n; i++) {
            uint32_t id = ms[i].type;
            uint64_t k = ms[i].size >= 8 ? msg_k(&ms[i]) : UINT64_MAX;
            if (id >= PRODUCERS || k >= PER_PRODUCER_MAX ||
                tu_msg_verify(ms[i].data, ms[i].size, tu_msg_type(seed + id, k), seed + id, k,
                              qsize(seed + id, k)) == TU_BAD_SUM) {
                __atomic_fetch_add(&b->bad, 1, __ATOMIC_RELAXED);
                continue;
            }
            /* FIFO per producer: within this consumer, k grows */
            CHECK_MSG(last[id] == UINT64_MAX || k > last[id], "producer %u: %" PRIu64 " after %" PRIu64, id,
                      k, last[id]);
            last[id] = k;
            __atomic_fetch_add(&b->seen[id][k], 1, __ATOMIC_RELAXED);
        }
        for (int i = n; i-- > 0;) /* out of order on purpose */
            CHECK_OK(zipc_queue_release_view(q, &ms[i]));
    }
    zipc_queue_close(q);
}

static void many_processes(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "q22");
    struct board *b = tu_shared(sizeof(*b));
    if (!b)
        return;
    long n = tu_scaled(100000, 3000);
    uint64_t seed = tu_seed;
    pid_t kids[PRODUCERS + CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        if ((kids[i] = tu_fork()) == 0) {
            consumer_proc(name, b, seed);
            tu_child_exit();
        }
    for (int i = 0; i < PRODUCERS; i++)
        if ((kids[CONSUMERS + i] = tu_fork()) == 0) {
            producer_proc(name, i, n, seed);
            tu_child_exit();
        }
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        CHECK_CHILD(kids[i], 120000);
    long missing = 0, twice = 0;
    for (int p = 0; p < PRODUCERS; p++)
        for (long k = 0; k < n; k++) {
            missing += b->seen[p][k] == 0;
            twice += b->seen[p][k] > 1;
        }
    CHECK_MSG(missing == 0 && twice == 0 && b->bad == 0, "%ld missing, %ld twice, %u torn of %ld", missing, twice,
              b->bad, n * PRODUCERS);
    CHECK_EQ(b->eos, CONSUMERS);
    munmap(b, sizeof(*b));
}

/* A child forked (no exec) while a member is open does not keep the
 * member's door: once the member closes, a newcomer is not stuck at it. */
static void fork_keeps_no_door(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "qfork");
    struct zipc_options o = tu_opts(3 * TU_S);
    zipc_queue *c = NULL, *p = NULL;
    if (!CHECK_OK(zipc_queue_open(&c, name, ZIPC_ROLE_CONSUMER, NULL, &o)))
        return;
    pid_t kid = tu_fork();
    if (kid == 0) {
        tu_sleep_us(3000000);
        _exit(0);
    }
    zipc_queue_close(c);
    int64_t t0 = tu_now_ns();
    CHECK_OK(zipc_queue_open(&p, name, ZIPC_ROLE_PRODUCER, NULL, &o));
    CHECK_MSG(tu_ms_since(t0) < 200 * tu_slack(), "open took %.0f ms", tu_ms_since(t0));
    zipc_queue_close(p);
    tu_kill_reap(kid);
}

/* A producer that is the last member while its messages are queued lingers
 * at close: a consumer that comes late still gets every message and the end
 * of the stream (it used to find no queue and make a new, empty one). Alone
 * for good, close gives up after the timeout, saying so; an interrupt ends
 * the wait at once. */
static void producer_lingers(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "qlinger");
    uint64_t seed = tu_seed;
    long n = tu_scaled(2000, 200);
    pid_t kid = tu_fork();
    if (kid == 0) {
        struct zipc_options o = tu_opts(10 * TU_S);
        zipc_queue *p = NULL;
        if (!CHECK_OK(zipc_queue_open(&p, name, ZIPC_ROLE_PRODUCER, NULL, &o)))
            tu_child_exit();
        for (long k = 0; k < n; k++)
            if (!CHECK_OK(send_k(p, seed, (uint64_t)k)))
                break;
        CHECK_OK(zipc_queue_close(p)); /* returns once the consumer below is in */
        tu_child_exit();
    }
    tu_sleep_us(100000); /* the producer is done sending by now: only its close waits */
    struct zipc_options o = tu_opts(10 * TU_S);
    zipc_queue *c = NULL;
    if (CHECK_OK(zipc_queue_open(&c, name, ZIPC_ROLE_CONSUMER, NULL, &o))) {
        long got = 0;
        struct zipc_msg m;
        int r;
        while ((r = zipc_queue_view(c, &m, 5 * TU_S)) == 0) {
            if (!check_k(&m, seed, (uint64_t)got) || !CHECK_OK(zipc_queue_release_view(c, &m)))
                break;
            got++;
        }
        CHECK_ERR(r, -EPIPE);
        CHECK_MSG(got == n, "%ld of %ld messages", got, n);
        zipc_queue_close(c);
    }
    CHECK_CHILD(kid, 20000);

    /* nobody comes: the timeout, then the messages go with the queue */
    tu_topic_name(name, "qalone");
    o = tu_opts(200 * TU_MS);
    zipc_queue *p = NULL;
    if (CHECK_OK(zipc_queue_open(&p, name, ZIPC_ROLE_PRODUCER, NULL, &o))) {
        CHECK_OK(send_k(p, seed, 0));
        int64_t t0 = tu_now_ns();
        CHECK_ERR(zipc_queue_close(p), -ETIMEDOUT);
        CHECK_MSG(tu_ms_since(t0) >= 150, "close returned after %.0f ms", tu_ms_since(t0));
    }
    /* nothing queued: close returns at once */
    if (CHECK_OK(zipc_queue_open(&p, name, ZIPC_ROLE_PRODUCER, NULL, &o))) {
        int64_t t0 = tu_now_ns();
        CHECK_OK(zipc_queue_close(p));
        CHECK_MSG(tu_ms_since(t0) < 100 * tu_slack(), "close took %.0f ms", tu_ms_since(t0));
    }
    /* an interrupt ends the wait */
    o = tu_opts(30 * TU_S);
    if (CHECK_OK(zipc_queue_open(&p, name, ZIPC_ROLE_PRODUCER, NULL, &o))) {
        CHECK_OK(send_k(p, seed, 0));
        zipc_queue_interrupt(p);
        CHECK_ERR(zipc_queue_close(p), -ECANCELED);
    }
}

/* Opens racing a member that leaves: the queue's only member goes while a
 * producer and two consumers open at random moments. Whoever comes, they
 * end up in one queue (the old member's, or one made after it went):
 * every open holds the lock name until its door is bound, so no opener
 * creates a queue beside a member still joining. */
struct race_board {
    uint32_t leaver_in, opened, leaver_gone, bad;
};

static void race_member(const char *name, struct race_board *b, int role, uint64_t seed)
{
    int64_t until = tu_now_ns() + 10 * TU_S;
    while (!__atomic_load_n(&b->leaver_in, __ATOMIC_SEQ_CST) && tu_now_ns() < until)
        tu_sleep_us(100);
    tu_sleep_us((long)tu_below(&seed, 3000));
    struct zipc_options o = tu_opts(10 * TU_S);
    zipc_queue *q = NULL;
    if (!CHECK_OK(zipc_queue_open(&q, name, role, NULL, &o)))
        tu_child_exit();
    __atomic_fetch_add(&b->opened, 1, __ATOMIC_SEQ_CST);
    while ((__atomic_load_n(&b->opened, __ATOMIC_SEQ_CST) < 3 || !__atomic_load_n(&b->leaver_gone, __ATOMIC_SEQ_CST)) &&
           tu_now_ns() < until)
        tu_sleep_us(200);
    int np = zipc_queue_producers(q), nc = zipc_queue_consumers(q);
    if (!CHECK_MSG(np == 1 && nc == 2, "a %s sees %d producers and %d consumers: two queues",
                   role == ZIPC_ROLE_PRODUCER ? "producer" : "consumer", np, nc))
        __atomic_fetch_add(&b->bad, 1, __ATOMIC_RELAXED);
    /* all three are in: nobody leaves before the others have looked */
    __atomic_fetch_add(&b->opened, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&b->opened, __ATOMIC_SEQ_CST) < 6 && tu_now_ns() < until)
        tu_sleep_us(200);
    zipc_queue_close(q);
    tu_child_exit();
}

static void opens_race_a_leaving_member(void)
{
    struct race_board *b = tu_shared(sizeof(*b));
    if (!b)
        return;
    long rounds = tu_scaled(100, 10);
    uint64_t seed = tu_seed;
    for (long r = 0; r < rounds && !b->bad; r++) {
        char name[TU_NAME_MAX];
        tu_topic_name(name, "qrace");
        *b = (struct race_board){0};
        pid_t kids[3]; /* forked before the leaver opens: no child inherits its member */
        int roles[3] = {ZIPC_ROLE_PRODUCER, ZIPC_ROLE_CONSUMER, ZIPC_ROLE_CONSUMER};
        for (int i = 0; i < 3; i++)
            if ((kids[i] = tu_fork()) == 0)
                race_member(name, b, roles[i], tu_mix(seed ^ (uint64_t)(r * 3 + i)));
        struct zipc_options o = tu_opts(10 * TU_S);
        zipc_queue *leaver = NULL;
        CHECK_OK(zipc_queue_open(&leaver, name, ZIPC_ROLE_CONSUMER, NULL, &o));
        __atomic_store_n(&b->leaver_in, 1, __ATOMIC_SEQ_CST);
        tu_sleep_us((long)tu_below(&seed, 3000));
        zipc_queue_close(leaver);
        __atomic_store_n(&b->leaver_gone, 1, __ATOMIC_SEQ_CST);
        for (int i = 0; i < 3; i++)
            CHECK_CHILD(kids[i], 30000);
    }
    CHECK_MSG(b->bad == 0, "%u members saw two queues", b->bad);
    munmap(b, sizeof(*b));
}

int main(void)
{
    tu_init("queue_basic", 300);
    bad_arguments();
    one_process();
    many_processes();
    fork_keeps_no_door();
    producer_lingers();
    opens_race_a_leaving_member();
    return tu_finish();
}

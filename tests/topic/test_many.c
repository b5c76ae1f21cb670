/* Many subscribers joining and leaving during a stream (max_subscribers 128).
 *
 * A publisher process streams without pause. A first wave of 100
 * subscriber processes (1 in 5 BLOCK, the others DROP_OLDEST or
 * MAX_LAG(32)) joins; once the publisher has counted all 100 at once, they
 * leave at random points: by close, by _exit without close, or SIGKILLed.
 * A second wave of 28 joins while the first leaves (retrying on -ENOSPC,
 * which may come while the table is full). Checked: the publisher counted
 * 100 subscribers at once (more than 64); every subscriber saw the stream
 * in order, intact, with gaps exactly equal to its reported losses (none
 * for BLOCK); once all are gone the publisher counts 0, every departure
 * (clean leave or death) was seen, nobody was evicted; the stream never
 * stalled (each reserve within its 10 s).
 * The publisher runs its door thread beside the caller: ThreadSanitizer runs it too.
 * ctest-labels: threads */
#include "testutil.h"

#define CAP 65536
#define MAX_SUBS 128
#define WAVE1 100
#define WAVE2 28
#define WAIT (10000 * TU_MS)

enum leave { BY_CLOSE, BY_EXIT, BY_KILL };

struct shared {
    uint32_t stop;
    uint32_t joined;     /* subscribe returned, over both waves */
    uint32_t max_seen;   /* the most subscribers the publisher counted at once */
    uint32_t enospc;     /* -ENOSPC answers in wave 2 */
    uint32_t ready_to_die[WAVE1];
    uint64_t total;
    uint64_t delivered, lost;
};

static struct shared *sh;
static char name[TU_NAME_MAX];
static uint64_t seed;

static void publisher(void)
{
    zipc_publisher *p = NULL;
    if (!CHECK_OK(zipc_topic_create(&p, name, CAP, MAX_SUBS, NULL)))
        tu_child_exit();
    size_t max = zipc_publisher_max_message(p) / 8; /* small messages: many of them */
    uint64_t k = 0;
    while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
        if (!CHECK_HOT_OK(tu_publish_stream(p, seed, k, max, WAIT)))
            break;
        k++;
        if (k % 16 == 0) {
            uint32_t n = (uint32_t)zipc_publisher_subscribers(p);
            if (n > __atomic_load_n(&sh->max_seen, __ATOMIC_RELAXED))
                __atomic_store_n(&sh->max_seen, n, __ATOMIC_RELEASE);
        }
        if (k % 32 == 0)
            tu_sleep_us(100); /* a stream, not a flood: 100+ readers share 2 CPUs */
    }
    struct zipc_publisher_stats st = {0};
    for (int64_t end = tu_now_ns() + 10000 * TU_MS; tu_now_ns() < end; tu_sleep_us(1000))
        if (zipc_publisher_get_stats(p, &st) == 0 && st.subscribers == 0)
            break;
    CHECK_EQ(st.subscribers, 0);
    CHECK_EQ(zipc_publisher_subscribers(p), 0);
    CHECK_EQ(st.joined, __atomic_load_n(&sh->joined, __ATOMIC_ACQUIRE));
    CHECK_EQ(st.evicted, 0);
    CHECK_EQ(st.departed + st.died, st.joined);
    printf("  publisher: %" PRIu64 " messages; joined %" PRIu64 ", departed %" PRIu64 ", died %" PRIu64 "\n",
           st.messages, st.joined, st.departed, st.died);
    __atomic_store_n(&sh->total, k, __ATOMIC_RELEASE);
    CHECK_OK(zipc_publisher_close(p));
    tu_child_exit();
}

static uint32_t policy_of(int i) { return i % 5 == 0 ? ZIPC_SUB_BLOCK : i % 2 ? ZIPC_SUB_DROP_OLDEST : ZIPC_SUB_MAX_LAG; }

static void read_n(struct tu_reader *r, uint64_t n)
{
    for (uint64_t end = r->delivered + r->stale + n; r->delivered + r->stale < end;)
        if (!CHECK_HOT_OK(tu_reader_step(r, WAIT)))
            break;
}

static void finish(struct tu_reader *r)
{
    if (r->lossless)
        CHECK_EQ(r->lost + r->stale, 0);
    __atomic_fetch_add(&sh->delivered, r->delivered, __ATOMIC_RELAXED);
    __atomic_fetch_add(&sh->lost, r->lost, __ATOMIC_RELAXED);
    tu_reader_free(r);
}

static void subscriber(int i, int wave, enum leave how)
{
    struct zipc_subscription s = tu_subscription(policy_of(i), 0, 32, 0);
    struct zipc_options o = tu_opts(WAIT);
    zipc_subscriber *sub = NULL;
    int r;
    for (int64_t end = tu_now_ns() + 20000 * TU_MS;
         (r = zipc_topic_subscribe(&sub, name, &s, &o)) == -ENOSPC && wave == 2 && tu_now_ns() < end;) {
        __atomic_fetch_add(&sh->enospc, 1, __ATOMIC_RELAXED);
        tu_sleep_us(2000);
    }
    if (!CHECK_MSG(r == 0, "wave %d subscriber %d: subscribe: %s", wave, i, tu_errname(r)))
        tu_child_exit();
    __atomic_fetch_add(&sh->joined, 1, __ATOMIC_SEQ_CST);
    struct tu_reader rd;
    if (!tu_reader_init(&rd, sub, s.policy, seed))
        tu_child_exit();
    rd.max = zipc_subscriber_max_message(sub) / 8; /* the publisher's sizes */
    rd.hold_every = 32;
    rd.hold_us = 200;
    uint64_t rng = seed ^ (uint64_t)i << 8 ^ (uint64_t)wave;
    if (wave == 1) {
        /* stay until the publisher counted all of wave 1 at once */
        for (int64_t end = tu_now_ns() + 60000 * TU_MS;
             __atomic_load_n(&sh->max_seen, __ATOMIC_ACQUIRE) < WAVE1 && tu_now_ns() < end;)
            if (!CHECK_HOT_OK(tu_reader_step(&rd, WAIT)))
                break;
        read_n(&rd, tu_below(&rng, 300));
        if (how == BY_KILL) {
            __atomic_store_n(&sh->ready_to_die[i], 1, __ATOMIC_RELEASE);
            for (;;) /* reading until the parent kills us */
                if (!CHECK_HOT_OK(tu_reader_step(&rd, WAIT)))
                    tu_child_exit();
        }
    } else {
        read_n(&rd, 100 + tu_below(&rng, 400));
    }
    finish(&rd);
    if (how == BY_EXIT)
        tu_child_exit(); /* no close: the kernel tears it down */
    CHECK_OK(zipc_subscriber_close(sub));
    tu_child_exit();
}

int main(void)
{
    tu_init("test_many", 400);
    sh = tu_shared(sizeof(*sh));
    if (!sh)
        return tu_finish();
    tu_topic_name(name, "many");
    seed = tu_mix(tu_seed ^ 0x3a17);
    pid_t pub = tu_fork();
    if (pub == 0)
        publisher();
    pid_t w1[WAVE1], w2[WAVE2];
    enum leave how[WAVE1];
    unsigned count[3] = {0};
    for (int i = 0; i < WAVE1; i++) {
        how[i] = (enum leave)(i % 7 == 3 ? BY_KILL : i % 7 == 5 ? BY_EXIT : BY_CLOSE); /* BLOCK ones too */
        count[how[i]]++;
        if ((w1[i] = tu_fork()) == 0)
            subscriber(i, 1, how[i]);
    }
    int64_t t0 = tu_now_ns();
    while (__atomic_load_n(&sh->max_seen, __ATOMIC_ACQUIRE) < WAVE1 && tu_ms_since(t0) < 60000)
        tu_sleep_us(1000);
    CHECK_MSG(sh->max_seen >= WAVE1, "the publisher counted at most %u subscribers at once, %d joined", sh->max_seen,
              WAVE1);
    printf("  %u subscribers at once after %.0f ms\n", sh->max_seen, tu_ms_since(t0));
    for (int i = 0; i < WAVE2; i++)
        if ((w2[i] = tu_fork()) == 0)
            subscriber(WAVE1 + i, 2, BY_CLOSE);
    for (int i = 0; i < WAVE1; i++) {
        if (how[i] != BY_KILL) {
            CHECK_CHILD(w1[i], 60000);
            continue;
        }
        for (int64_t end = tu_now_ns() + 60000 * TU_MS;
             !__atomic_load_n(&sh->ready_to_die[i], __ATOMIC_ACQUIRE) && tu_now_ns() < end;)
            tu_sleep_us(500);
        int st = tu_kill_reap(w1[i]);
        CHECK_MSG(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "subscriber %d: status %#x, not SIGKILL",
                  i, st);
    }
    for (int i = 0; i < WAVE2; i++)
        CHECK_CHILD(w2[i], 60000);
    __atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
    CHECK_CHILD(pub, 60000);
    CHECK_EQ(sh->joined, WAVE1 + WAVE2);
    printf("  %u closed, %u exited, %u killed; wave 2 met -ENOSPC %u times; %" PRIu64 " messages, %" PRIu64
           " delivered, %" PRIu64 " lost (lossy subscribers)\n",
           count[BY_CLOSE], count[BY_EXIT], count[BY_KILL], sh->enospc, sh->total, sh->delivered, sh->lost);
    return tu_finish();
}

/* The publisher SIGKILLed mid-stream, over many trials.
 *
 * Each trial: four subscriber processes (BLOCK, BLOCK, DROP_OLDEST,
 * MAX_LAG(8)) subscribe before the publisher exists; a publisher process
 * creates the topic under the same name as in every other trial (a name,
 * or a socket path every fourth trial), streams checksummed messages (some
 * reserved, slept on, then committed, so that kills land between reserve and
 * commit; some trials stall, so that the subscribers sleep in a view
 * without a timeout) and is SIGKILLed at a random point. Checked: every
 * subscriber gets every committed message (BLOCK) or the stream with gaps
 * exactly equal to its losses (lossy), whole and in order, never a
 * reserved-but-uncommitted one, then -EPIPE within EPIPE_BOUND_MS of the kill,
 * for good; the name is free again: the next trial's create (and a last one
 * here) succeeds. */
#include "testutil.h"

#define NSUB 4
#define EPIPE_BOUND_MS 2000.0
#define WAIT (10000 * TU_MS)

static const struct {
    uint32_t policy;
    uint64_t max_lag;
} subs[NSUB] = {{ZIPC_SUB_BLOCK, 0}, {ZIPC_SUB_BLOCK, 0}, {ZIPC_SUB_DROP_OLDEST, 0}, {ZIPC_SUB_MAX_LAG, 8}};

struct result {
    int32_t err;
    uint32_t done;
    int64_t t_err;
    uint64_t next, delivered, lost;
};

struct shared {
    uint64_t committed; /* messages whose commit returned */
    uint32_t joined;    /* subscribers attached */
    struct result res[NSUB];
};

enum { STREAM, SLOW_COMMIT, STALL, MODES };

static struct shared *sh;

static void subscriber(const char *where, int i, uint64_t seed)
{
    struct zipc_subscription s = tu_subscription(subs[i].policy, 0, subs[i].max_lag, 0);
    struct zipc_options o = tu_opts(WAIT);
    zipc_subscriber *sub = NULL;
    if (!CHECK_OK(zipc_topic_subscribe(&sub, where, &s, &o)))
        tu_child_exit();
    __atomic_fetch_add(&sh->joined, 1, __ATOMIC_SEQ_CST);
    struct tu_reader r;
    if (!tu_reader_init(&r, sub, subs[i].policy, seed))
        tu_child_exit();
    tu_reader_expect(&r, 0); /* the publisher waits for all four */
    r.hold_every = 64;
    r.hold_us = 200;
    int err = tu_reader_run(&r, ZIPC_FOREVER);
    int64_t t_err = tu_now_ns();
    struct zipc_msg m;
    if (CHECK_ERR(err, -EPIPE)) {
        CHECK_ERR(zipc_subscriber_view(sub, &m, ZIPC_TRY), -EPIPE); /* for good */
        CHECK_ERR(zipc_subscriber_view(sub, &m, ZIPC_FOREVER), -EPIPE);
    }
    sh->res[i] = (struct result){err, 1, t_err, r.next, r.delivered, r.lost};
    tu_reader_free(&r);
    CHECK_OK(zipc_subscriber_close(sub));
    tu_child_exit();
}

static void publisher(const char *where, uint64_t seed, int mode)
{
    zipc_publisher *p = NULL;
    static const size_t caps[] = {ZIPC_MIN_CAPACITY, 1024, 65536};
    uint64_t rng = seed ^ 0x51;
    if (!CHECK_OK(zipc_topic_create(&p, where, caps[tu_below(&rng, 3)], 0, NULL)))
        tu_child_exit();
    CHECK(tu_await_subscribers(p, NSUB, 20000));
    size_t max = zipc_publisher_max_message(p);
    uint64_t stall_at = mode == STALL ? tu_below(&rng, 40) : UINT64_MAX;
    for (uint64_t k = 0;; k++) {
        if (k == stall_at)
            for (;;)
                pause(); /* the subscribers sleep in view until we die */
        size_t size = tu_msg_size(seed, k, max);
        void *buf;
        if (!CHECK_HOT_OK(zipc_publisher_reserve(p, size, &buf, WAIT)))
            tu_child_exit();
        memset(buf, 0xee, size); /* junk until the real content comes */
        if (mode == SLOW_COMMIT && tu_below(&rng, 4) == 0)
            tu_sleep_us((long)tu_below(&rng, 2000)); /* a kill lands here, reserved, uncommitted */
        tu_msg_fill(buf, size, seed, k);
        CHECK_HOT_OK(zipc_publisher_commit(p, size, tu_msg_type(seed, k), 0));
        __atomic_store_n(&sh->committed, k + 1, __ATOMIC_RELEASE);
    }
}

static void trial(int t, const char *where, double *worst)
{
    uint64_t rng = tu_seed + (uint64_t)t * 7919, seed = tu_rand(&rng);
    int mode = t % MODES;
    memset(sh, 0, sizeof(*sh));
    pid_t kids[NSUB];
    for (int i = 0; i < NSUB; i++)
        if ((kids[i] = tu_fork()) == 0)
            subscriber(where, i, seed);
    pid_t pub = tu_fork();
    if (pub == 0)
        publisher(where, seed, mode);
    /* let it get going (all joined, some messages through), then kill it */
    for (int64_t end = tu_now_ns() + 20000 * TU_MS; tu_now_ns() < end; tu_sleep_us(100))
        if (__atomic_load_n(&sh->joined, __ATOMIC_SEQ_CST) == NSUB &&
            (mode == STALL || __atomic_load_n(&sh->committed, __ATOMIC_ACQUIRE) > 0))
            break;
    tu_sleep_us(tu_below(&rng, 8) == 0 ? 0 : (long)tu_below(&rng, 20000));
    int64_t t_kill = tu_now_ns();
    kill(pub, SIGKILL);
    int st = tu_wait(pub, 10000);
    CHECK_MSG(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "trial %d: publisher status %#x, not SIGKILL "
              "(did create fail? the name should have been free)", t, st);
    for (int i = 0; i < NSUB; i++)
        CHECK_CHILD(kids[i], 20000);
    uint64_t done = __atomic_load_n(&sh->committed, __ATOMIC_ACQUIRE);
    for (int i = 0; i < NSUB; i++) {
        const struct result *r = &sh->res[i];
        if (!CHECK_MSG(r->done, "trial %d: subscriber %d reported nothing", t, i))
            continue;
        CHECK_MSG(r->err == -EPIPE, "trial %d: %s subscriber ended with %s, not EPIPE", t,
                  tu_policy_name(subs[i].policy), tu_errname(r->err));
        /* +1: killed between commit and the counter */
        CHECK_MSG(r->next == done || r->next == done + 1,
                  "trial %d (mode %d): %s subscriber reached message %" PRIu64 ", %" PRIu64 " were committed", t,
                  mode, tu_policy_name(subs[i].policy), r->next, done);
        if (subs[i].policy == ZIPC_SUB_BLOCK)
            CHECK_EQ(r->delivered, r->next);
        double ms = (double)(r->t_err - t_kill) / 1e6;
        CHECK_MSG(ms >= 0 && ms < EPIPE_BOUND_MS * tu_slack(), "trial %d: -EPIPE %.1f ms after the kill", t, ms);
        if (ms > *worst)
            *worst = ms;
    }
}

int main(void)
{
    tu_init("test_pub_death", 600);
    sh = tu_shared(sizeof(*sh));
    if (!sh)
        return tu_finish();
    char name[TU_NAME_MAX], path[TU_PATH_MAX];
    tu_topic_name(name, "pd");
    tu_path(path, "pd");
    long trials = tu_scaled(200, 20);
    double worst = 0;
    for (int t = 0; t < trials; t++)
        trial(t, t % 4 == 3 ? path : name, &worst);
    printf("  %ld trials: -EPIPE at most %.2f ms after the kill\n", trials, worst);
    /* the names are free: a create succeeds here too */
    zipc_publisher *p = NULL;
    if (CHECK_OK(zipc_topic_create(&p, name, 4096, 0, NULL)))
        CHECK_OK(zipc_publisher_close(p));
    if (CHECK_OK(zipc_topic_create(&p, path, 4096, 0, NULL)))
        CHECK_OK(zipc_publisher_close(p));
    unlink(path);
    return tu_finish();
}

/* Both sides block in turn: a tiny ring, max-size messages, and phases in
 * which one side is slowed down (usleep) so that the other has to sleep in
 * the kernel: the producer in reserve (ring full), the consumer in view
 * (ring empty). Data is checked, and the stats must show each side sleeping
 * in its waiting phases and waking the other. */
#include "testutil.h"

#define PHASE 8    /* messages per phase */
#define SLOW_US 1500

struct plan {
    uint64_t seed;
    uint64_t n;
    int64_t timeout; /* for reserve and view: ZIPC_FOREVER or a bound */
};

/* Even phases: the consumer is slow, so the producer waits for space. */
static bool consumer_slow(uint64_t k) { return (k / PHASE) % 2 == 0; }

struct phase_count {
    int phases;   /* phases in which this side had to wait */
    int slept_in; /* ... and did sleep in the kernel */
    uint64_t base;
};

static uint64_t sleeps_of(zipc_channel *ch)
{
    struct zipc_channel_stats st;
    zipc_channel_get_stats(ch, &st);
    return st.sleeps;
}

/* Around message k: phase starts and ends, counting the sleeps of the
 * phases in which this side is the one that waits. */
static void phase_begin(zipc_channel *ch, uint64_t k, struct phase_count *pc)
{
    if (k % PHASE == 0)
        pc->base = sleeps_of(ch);
}

static void phase_end(zipc_channel *ch, uint64_t k, bool i_wait, struct phase_count *pc)
{
    if (k % PHASE == PHASE - 1 && i_wait) {
        pc->phases++;
        pc->slept_in += sleeps_of(ch) > pc->base;
    }
}

static void check_sleeps(zipc_channel *ch, const struct phase_count *pc, const char *who)
{
    struct zipc_channel_stats st;
    CHECK_OK(zipc_channel_get_stats(ch, &st));
    CHECK_MSG(st.sleeps > 0, "%s never slept", who);
    CHECK_MSG(st.wakeups > 0, "%s never woke its peer", who);
    CHECK_MSG(pc->phases > 0 && pc->slept_in * 2 >= pc->phases,
              "%s slept in only %d of its %d waiting phases", who, pc->slept_in, pc->phases);
    printf("  %s: slept %" PRIu64 " times (in %d/%d waiting phases), woke the peer %" PRIu64 " times\n",
           who, st.sleeps, pc->slept_in, pc->phases, st.wakeups);
    fflush(stdout);
}

static void producer(zipc_channel *ch, void *arg)
{
    const struct plan *p = arg;
    size_t max = zipc_channel_max_message(ch);
    struct phase_count pc = {0};
    for (uint64_t k = 0; k < p->n; k++) {
        phase_begin(ch, k, &pc);
        if (!consumer_slow(k))
            tu_sleep_us(SLOW_US);
        int r = tu_send_k(ch, p->seed, k, max, 0, p->timeout);
        if (!CHECK_MSG(r == 0, "send %" PRIu64 ": %s", k, zipc_strerror(r)))
            return;
        phase_end(ch, k, consumer_slow(k), &pc);
    }
    check_sleeps(ch, &pc, "producer");
}

static void consume(zipc_channel *ch, const struct plan *p)
{
    size_t max = zipc_channel_max_message(ch);
    struct phase_count pc = {0};
    struct zipc_msg m;
    for (uint64_t k = 0; k < p->n; k++) {
        phase_begin(ch, k, &pc);
        if (consumer_slow(k))
            tu_sleep_us(SLOW_US);
        int r = zipc_channel_view(ch, &m, p->timeout);
        if (!CHECK_MSG(r == 0, "view %" PRIu64 ": %s", k, zipc_strerror(r)))
            return;
        CHECK_EQ(m.size, max);
        if (!CHECK_MSG_K(&m, p->seed, k, max))
            return;
        CHECK_HOT_OK(zipc_channel_release(ch));
        phase_end(ch, k, !consumer_slow(k), &pc);
    }
    CHECK_ERR(zipc_channel_view(ch, &m, ZIPC_FOREVER), -EPIPE);
    check_sleeps(ch, &pc, "consumer");
}

static void run(size_t capacity, unsigned flags, int64_t timeout)
{
    char path[TU_PATH_MAX];
    struct zipc_options o = tu_opts(0);
    o.flags = flags;
    /* whole phases: the last one is counted like the others */
    struct plan p = {.seed = tu_seed + capacity, .n = (uint64_t)tu_scaled(20, 4) * 2 * PHASE, .timeout = timeout};
    printf("capacity %zu%s, %s:\n", capacity, flags & ZIPC_OPT_NO_SPIN ? ", no spin" : "",
           timeout < 0 ? "waiting for ever" : "waiting with a timeout");
    fflush(stdout);
    pid_t pid = tu_spawn_connector(tu_path(path, "block"), &o, producer, &p);
    zipc_channel *ch = tu_listen(path, capacity, &o);
    if (ch) {
        CHECK_EQ(zipc_channel_capacity(ch), capacity);
        consume(ch, &p);
        zipc_channel_close(ch);
    }
    CHECK_CHILD(pid, 60000);
}

int main(void)
{
    tu_init("test_blocking", 120);
    run(ZIPC_MIN_CAPACITY, 0, ZIPC_FOREVER);
    run(ZIPC_MIN_CAPACITY, ZIPC_OPT_NO_SPIN, 10000 * TU_MS);
    run(2 * ZIPC_MIN_CAPACITY, 0, 10000 * TU_MS);
    return tu_finish();
}

/* Both processes pinned to one and the same CPU: a spin there only burns
 * the time slice the peer needs, so a waiting side must hand the CPU over
 * (yield) instead of spinning its 50 us and then sleeping in the kernel.
 * A ring of the least capacity (one max-size message at a time) forces a hand-over every
 * message or two; the data is checked, and the kernel sleeps of both sides
 * must stay far below the hand-overs (a side that spins its budget away
 * sleeps at nearly every one). */
#include <sched.h>

#include "testutil.h"

struct plan {
    uint64_t seed;
    uint64_t n;
};

static uint64_t sleeps_of(zipc_channel *ch)
{
    struct zipc_channel_stats st;
    zipc_channel_get_stats(ch, &st);
    return st.sleeps;
}

static void producer(zipc_channel *ch, void *arg)
{
    const struct plan *p = arg;
    size_t max = zipc_channel_max_message(ch);
    for (uint64_t k = 0; k < p->n; k++) {
        int r = tu_send_k(ch, p->seed, k, max, 0, 10000 * TU_MS);
        if (!CHECK_MSG(r == 0, "send %" PRIu64 ": %s", k, zipc_strerror(r)))
            return;
    }
    /* the consumer's count is checked there; ours travels in the exit status */
    printf("  producer: %" PRIu64 " kernel sleeps\n", sleeps_of(ch));
    fflush(stdout);
    CHECK_MSG(sleeps_of(ch) * 4 < p->n, "producer slept %" PRIu64 " times in %" PRIu64 " messages",
              sleeps_of(ch), p->n);
}

/* The first CPU this process may use, or -1. */
static int first_cpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set))
        return -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            return c;
    return -1;
}

int main(void)
{
    tu_init("test_one_cpu", 120);
    int cpu = first_cpu();
    cpu_set_t one;
    CPU_ZERO(&one);
    if (cpu >= 0)
        CPU_SET(cpu, &one);
    if (cpu < 0 || sched_setaffinity(0, sizeof(one), &one)) { /* the forked peer inherits it */
        tu_skip("one CPU", "cannot pin this process to one CPU");
        return tu_finish();
    }
    char path[TU_PATH_MAX];
    struct zipc_options o = tu_opts(0);
    struct plan p = {.seed = tu_seed, .n = (uint64_t)tu_scaled(4000, 400)};
    printf("both sides on CPU %d, %" PRIu64 " max-size messages through a %d-byte ring:\n", cpu, p.n,
           ZIPC_MIN_CAPACITY);
    fflush(stdout);
    pid_t pid = tu_spawn_connector(tu_path(path, "onecpu"), &o, producer, &p);
    zipc_channel *ch = tu_listen(path, ZIPC_MIN_CAPACITY, &o);
    if (ch) {
        size_t max = zipc_channel_max_message(ch);
        struct zipc_msg m;
        int64_t t0 = tu_now_ns();
        for (uint64_t k = 0; k < p.n; k++) {
            int r = zipc_channel_view(ch, &m, 10000 * TU_MS);
            if (!CHECK_MSG(r == 0, "view %" PRIu64 ": %s", k, zipc_strerror(r)))
                break;
            if (!CHECK_MSG_K(&m, p.seed, k, max))
                break;
            CHECK_HOT_OK(zipc_channel_release(ch));
        }
        CHECK_ERR(zipc_channel_view(ch, &m, ZIPC_FOREVER), -EPIPE);
        printf("  consumer: %" PRIu64 " kernel sleeps, %.1f us a message\n", sleeps_of(ch),
               tu_ms_since(t0) * 1000 / (double)p.n);
        CHECK_MSG(sleeps_of(ch) * 4 < p.n, "consumer slept %" PRIu64 " times in %" PRIu64 " messages",
                  sleeps_of(ch), p.n);
        zipc_channel_close(ch);
    }
    CHECK_CHILD(pid, 60000);
    return tu_finish();
}

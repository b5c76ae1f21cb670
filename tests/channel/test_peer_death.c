/* A peer killed with SIGKILL at random points, over many trials.
 *
 * Producer killed: a child streams checksummed messages (some reserved,
 * then slept on, then committed, so that kills land between reserve and
 * commit; some trials stall so that the consumer is asleep in a
 * ZIPC_FOREVER view). The parent consumer must see only whole, valid
 * messages, in order, exactly those committed, then -EPIPE within 2 s of
 * the kill.
 * Consumer killed: the parent producer, blocked in reserve on a full ring,
 * gets -EPIPE promptly; a producer that never waits (a huge ring) learns it
 * from the liveness check of commit, before the ring could fill. */
#include <sys/mman.h>

#include "testutil.h"

#define EPIPE_BOUND_MS 2000.0

/* ---- a killer thread ---------------------------------------------------- */

struct killer {
    pid_t pid;
    long delay_us;
    int64_t t_kill;
    pthread_t thread;
};

static void *killer_main(void *arg)
{
    struct killer *k = arg;
    tu_sleep_us(k->delay_us);
    __atomic_store_n(&k->t_kill, tu_now_ns(), __ATOMIC_RELEASE);
    kill(k->pid, SIGKILL);
    return NULL;
}

static void killer_start(struct killer *k, pid_t pid, long delay_us)
{
    k->pid = pid;
    k->delay_us = delay_us;
    k->t_kill = 0;
    pthread_create(&k->thread, NULL, killer_main, k);
}

/* Join the killer and reap the victim, which must have died of SIGKILL. */
static int64_t killer_finish(struct killer *k)
{
    pthread_join(k->thread, NULL);
    int st = tu_wait(k->pid, 10000);
    CHECK_MSG(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "victim %d: status %#x, not SIGKILL",
              (int)k->pid, st);
    return k->t_kill;
}

/* Latency from the kill to -EPIPE: positive and bounded. */
static double check_latency(int64_t t_kill, int64_t t_epipe, const char *what, double *worst)
{
    double ms = (double)(t_epipe - t_kill) / 1e6;
    CHECK_MSG(t_kill > 0 && t_epipe >= t_kill, "%s: -EPIPE came %.3f ms before the kill", what, -ms);
    CHECK_MSG(ms < EPIPE_BOUND_MS, "%s: -EPIPE %.1f ms after the kill", what, ms);
    if (ms > *worst)
        *worst = ms;
    return ms;
}

/* ---- producer killed -------------------------------------------------- */

enum { STREAM, SLOW_COMMIT, STALL, MODES };

struct trial {
    uint64_t seed;
    int mode;
    uint64_t *committed; /* shared page: messages whose commit returned */
};

static void killable_producer(zipc_channel *p, void *arg)
{
    const struct trial *t = arg;
    size_t max = zipc_channel_max_message(p);
    uint64_t rng = t->seed ^ 0x51, stall_at = t->mode == STALL ? tu_below(&rng, 40) : UINT64_MAX;
    for (uint64_t k = 0;; k++) {
        if (k == stall_at)
            for (;;)
                pause(); /* the consumer sleeps in view until we die */
        size_t size = tu_msg_size(t->seed, k, max);
        void *buf;
        if (!CHECK_HOT_OK(zipc_channel_reserve(p, size, &buf, ZIPC_FOREVER)))
            return;
        memset(buf, 0xee, size); /* junk until the real content comes */
        if (t->mode == SLOW_COMMIT && tu_below(&rng, 4) == 0)
            tu_sleep_us((long)tu_below(&rng, 2000)); /* a kill lands here, reserved, uncommitted */
        tu_msg_fill(buf, size, t->seed, k);
        CHECK_HOT_OK(zipc_channel_commit(p, size, tu_msg_type(t->seed, k), 0));
        __atomic_store_n(t->committed, k + 1, __ATOMIC_RELEASE);
    }
}

/* Receive until an error; returns the number of valid messages in order. */
static uint64_t consume_until_error(zipc_channel *c, uint64_t seed, int *err, int64_t *t_err)
{
    size_t max = zipc_channel_max_message(c);
    struct zipc_msg m;
    uint64_t k = 0;
    int e;
    while ((e = zipc_channel_view(c, &m, ZIPC_FOREVER)) == 0) {
        if (!CHECK_STREAM_K(&m, seed, k, max))
            break;
        k++;
        CHECK_HOT_OK(zipc_channel_release(c));
    }
    *t_err = tu_now_ns();
    *err = e;
    return k;
}

static void producer_killed(int trial, uint64_t *committed, double *worst)
{
    char path[TU_PATH_MAX];
    uint64_t rng = tu_seed + (uint64_t)trial * 7919;
    static const size_t caps[] = {ZIPC_MIN_CAPACITY, 1024, 65536};
    struct trial t = {.seed = tu_rand(&rng), .mode = trial % MODES, .committed = committed};
    *committed = 0;
    pid_t pid = tu_spawn_connector(tu_path(path, "pkill"), NULL, killable_producer, &t);
    zipc_channel *c = tu_listen(path, caps[tu_below(&rng, 3)], NULL);
    if (!c) {
        tu_kill_reap(pid);
        return;
    }
    struct killer kl;
    killer_start(&kl, pid, tu_below(&rng, 8) == 0 ? 0 : (long)tu_below(&rng, 20000));
    int err;
    int64_t t_err;
    uint64_t got = consume_until_error(c, t.seed, &err, &t_err);
    int64_t t_kill = killer_finish(&kl);
    CHECK_ERR(err, -EPIPE);
    check_latency(t_kill, t_err, "producer killed", worst);
    uint64_t done = __atomic_load_n(committed, __ATOMIC_ACQUIRE);
    CHECK_MSG(got == done || got == done + 1, /* +1: killed between commit and the counter */
              "trial %d: received %" PRIu64 " messages, the producer committed %" PRIu64, trial, got, done);
    struct zipc_msg m;
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EPIPE); /* for good */
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_FOREVER), -EPIPE);
    zipc_channel_close(c);
}

/* The producer forked a child that still holds copies of its fds (the
 * socket among them) when the producer is killed: the socket never reaches
 * EOF, so only the pidfd on the producer tells the consumer. */
static void forking_producer(zipc_channel *p, void *arg)
{
    int *grandchild_fd = arg;
    pid_t g = fork();
    if (g == 0)
        tu_hold_fds(getppid(), false); /* outlives the producer on purpose: the test kills it */
    if (write(*grandchild_fd, &g, sizeof(g)) != sizeof(g))
        CHECK(0);
    CHECK_OK(zipc_channel_send(p, "x", 1, 1, ZIPC_FOREVER));
    for (;;)
        pause();
}

static void producer_killed_fd_survives(void)
{
    char path[TU_PATH_MAX];
    int fds[2];
    CHECK_OK(pipe(fds));
    pid_t pid = tu_spawn_connector(tu_path(path, "pfork"), NULL, forking_producer, &fds[1]);
    zipc_channel *c = tu_listen(path, 4096, NULL);
    pid_t grandchild = -1;
    struct pollfd pf = {.fd = fds[0], .events = POLLIN};
    if (poll(&pf, 1, 5000) == 1 && read(fds[0], &grandchild, sizeof(grandchild)) != sizeof(grandchild))
        grandchild = -1;
    CHECK(grandchild > 0);
    if (c) {
        struct zipc_msg m;
        CHECK_OK(zipc_channel_view(c, &m, 5000 * TU_MS));
        CHECK_OK(zipc_channel_release(c));
        struct killer kl;
        killer_start(&kl, pid, 20000);
        int64_t t0 = tu_now_ns();
        CHECK_ERR(zipc_channel_view(c, &m, 10000 * TU_MS), -EPIPE);
        double worst = 0;
        check_latency(killer_finish(&kl), tu_now_ns(), "producer killed, its child holds the socket", &worst);
        CHECK_RANGE(tu_ms_since(t0), 0, EPIPE_BOUND_MS + 100);
        zipc_channel_close(c);
    } else {
        tu_kill_reap(pid);
    }
    if (grandchild > 0)
        kill(grandchild, SIGKILL); /* reparented to init, which reaps it */
    close(fds[0]);
    close(fds[1]);
}

/* ---- consumer killed ------------------------------------------------------ */

struct lazy {
    uint64_t seed;
    uint64_t take; /* messages to view (without releasing the last ones) before sleeping */
    int done_fd;   /* written once they were taken; -1: never stop consuming */
};

static void lazy_consumer(zipc_channel *c, void *arg)
{
    const struct lazy *l = arg;
    struct zipc_msg m;
    for (uint64_t k = 0; l->done_fd < 0 || k < l->take; k++) {
        if (zipc_channel_view(c, &m, ZIPC_FOREVER) != 0)
            break;
        if (l->done_fd < 0 || k + 3 < l->take) /* the last few stay viewed */
            zipc_channel_release(c);
    }
    if (l->done_fd >= 0)
        tu_notify(l->done_fd);
    for (;;)
        pause();
}

/* Send until an error: the error and when it came. */
static int send_until_error(zipc_channel *p, uint64_t seed, int64_t timeout, int64_t *t_err, uint64_t *n)
{
    int e;
    for (*n = 0; (e = tu_send_stream(p, seed, *n, 0, timeout)) == 0; (*n)++) {
    }
    *t_err = tu_now_ns();
    return e;
}

static zipc_channel *listen_as_producer(const char *path, size_t cap)
{
    struct zipc_options o = tu_opts(0);
    o.role = ZIPC_ROLE_PRODUCER;
    return tu_listen(path, cap, &o);
}

/* The ring fills (the consumer stops reading), the producer blocks in
 * reserve, the consumer is killed at a random moment. */
static void consumer_killed_blocked(int trial, double *worst)
{
    char path[TU_PATH_MAX];
    uint64_t rng = tu_seed + (uint64_t)trial * 104729;
    struct lazy l = {.seed = tu_rand(&rng), .take = tu_below(&rng, 20), .done_fd = -1};
    int fds[2];
    CHECK_OK(pipe(fds));
    l.done_fd = fds[1];
    pid_t pid = tu_spawn_connector(tu_path(path, "ckill"), NULL, lazy_consumer, &l);
    zipc_channel *p = listen_as_producer(path, trial % 2 ? 1024 : ZIPC_MIN_CAPACITY);
    if (p) {
        struct killer kl;
        killer_start(&kl, pid, (long)tu_below(&rng, 20000));
        int64_t t_err;
        uint64_t n;
        int e = send_until_error(p, l.seed, ZIPC_FOREVER, &t_err, &n);
        int64_t t_kill = killer_finish(&kl);
        CHECK_ERR(e, -EPIPE);
        check_latency(t_kill, t_err, "consumer killed, producer blocked", worst);
        void *buf;
        CHECK_ERR(zipc_channel_reserve(p, 0, &buf, ZIPC_TRY), -EPIPE); /* for good */
        zipc_channel_close(p);
    } else {
        tu_kill_reap(pid);
    }
    close(fds[0]);
    close(fds[1]);
}

/* The consumer drained everything and is killed; the producer keeps
 * committing into a huge empty ring, never waiting: -EPIPE must come from
 * commit's periodic liveness check, long before the ring could fill. */
static void consumer_killed_idle(int trial, double *worst)
{
    char path[TU_PATH_MAX];
    const size_t cap = (size_t)64 << 20;
    int fds[2];
    CHECK_OK(pipe(fds));
    struct lazy l = {.seed = tu_seed ^ (uint64_t)trial, .take = 100, .done_fd = fds[1]};
    pid_t pid = tu_spawn_connector(tu_path(path, "cidle"), NULL, lazy_consumer, &l);
    zipc_channel *p = listen_as_producer(path, cap);
    if (p) {
        for (uint64_t k = 0; k < l.take; k++)
            CHECK_HOT_OK(tu_send_k(p, l.seed, k, 100, 0, ZIPC_TRY));
        CHECK(tu_await(fds[0], 10000));
        struct killer kl;
        killer_start(&kl, pid, 0);
        int64_t t_kill = killer_finish(&kl);
        uint64_t commits = 0;
        int e;
        while ((e = zipc_channel_send(p, "", 0, 1, ZIPC_TRY)) == 0)
            commits++;
        CHECK_ERR(e, -EPIPE);
        check_latency(t_kill, tu_now_ns(), "consumer killed, producer committing", worst);
        CHECK_MSG(commits < cap / ZIPC_FRAME_ALIGN - 1, "%" PRIu64 " commits after the death: the ring filled",
                  commits);
        zipc_channel_close(p);
    } else {
        tu_kill_reap(pid);
    }
    close(fds[0]);
    close(fds[1]);
}

/* Killed at a random moment while both stream at full speed. */
static void consumer_killed_streaming(int trial, double *worst)
{
    char path[TU_PATH_MAX];
    uint64_t rng = tu_seed + (uint64_t)trial * 31337;
    struct lazy l = {.seed = tu_rand(&rng), .done_fd = -1};
    pid_t pid = tu_spawn_connector(tu_path(path, "cstream"), NULL, lazy_consumer, &l);
    zipc_channel *p = listen_as_producer(path, trial % 2 ? 4096 : (size_t)1 << 20);
    if (p) {
        struct killer kl;
        killer_start(&kl, pid, (long)tu_below(&rng, 20000));
        int64_t t_err;
        uint64_t n;
        int e = send_until_error(p, l.seed, ZIPC_FOREVER, &t_err, &n);
        int64_t t_kill = killer_finish(&kl);
        CHECK_ERR(e, -EPIPE);
        check_latency(t_kill, t_err, "consumer killed while streaming", worst);
        zipc_channel_close(p);
    } else {
        tu_kill_reap(pid);
    }
}

static void run(const char *what, void (*fn)(int, double *), int trials)
{
    double worst = 0;
    int64_t t0 = tu_now_ns();
    for (int i = 0; i < trials; i++)
        fn(i, &worst);
    printf("  %-40s %3d trials in %6.0f ms, slowest -EPIPE %.2f ms after the kill\n", what, trials,
           tu_ms_since(t0), worst);
    fflush(stdout);
}

static uint64_t *committed_page;

static void producer_killed_trial(int i, double *worst) { producer_killed(i, committed_page, worst); }

int main(void)
{
    tu_init("test_peer_death", 300);
    committed_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!CHECK(committed_page != MAP_FAILED))
        return tu_finish();
    int trials = (int)tu_scaled(100, 20);
    run("producer killed", producer_killed_trial, trials);
    producer_killed_fd_survives();
    run("consumer killed, producer blocked", consumer_killed_blocked, trials);
    run("consumer killed while streaming", consumer_killed_streaming, (int)tu_scaled(30, 10));
    run("consumer killed, producer committing", consumer_killed_idle, (int)tu_scaled(10, 5));
    munmap(committed_page, 4096);
    return tu_finish();
}

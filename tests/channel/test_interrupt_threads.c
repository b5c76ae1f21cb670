/* zipc_channel_interrupt from another thread (or a signal handler) wakes the
 * call blocked on the endpoint with -ECANCELED within a few ms: a consumer
 * asleep in view, one still in its spin phase, a producer asleep on a full
 * ring. The interrupt is latched: called while nobody waits, the next
 * blocking call returns -ECANCELED once (a ZIPC_TRY call leaves it pending),
 * the call after it behaves normally. It never loses a message: a message
 * published around the interrupt is delivered afterwards, checked under a
 * stream interrupted at random on both endpoints.
 * ctest-labels: threads */
#include "testutil.h"

#define CAP 4096

enum { VIEW, RESERVE };

/* One blocking call in a thread of its own; main measures its wake-up. */
struct blocked {
    zipc_channel *ch;
    int op;
    int64_t timeout_ns;
    bool mask_usr2; /* keep SIGUSR2 away from this thread */
    int started;    /* atomic: the call is about to start */
    int tid;        /* atomic: the thread's id, for its state in /proc */
    int result;
    int64_t done_ns;
    pthread_t thread;
};

static void *blocked_call(void *arg)
{
    struct blocked *b = arg;
    if (b->mask_usr2) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    }
    struct zipc_msg m;
    void *buf;
    __atomic_store_n(&b->tid, (int)gettid(), __ATOMIC_SEQ_CST);
    __atomic_store_n(&b->started, 1, __ATOMIC_SEQ_CST);
    b->result = b->op == VIEW ? zipc_channel_view(b->ch, &m, b->timeout_ns)
                              : zipc_channel_reserve(b->ch, 100, &buf, b->timeout_ns);
    b->done_ns = tu_now_ns();
    return NULL;
}

/* The scheduler state of one of our threads: 'R' running, 'S' asleep... */
static char thread_state(int tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    const char *paren = strrchr(buf, ')'); /* "tid (comm) S ..." */
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

/* Start the call and let it settle: asleep in the kernel (`asleep`), or
 * for settle_ms (in its spin phase). */
static bool block_in(struct blocked *b, zipc_channel *ch, int op, bool asleep, int settle_ms)
{
    *b = (struct blocked){.ch = ch, .op = op, .timeout_ns = ZIPC_FOREVER, .mask_usr2 = b->mask_usr2};
    if (!CHECK_OK(pthread_create(&b->thread, NULL, blocked_call, b)))
        return false;
    while (!__atomic_load_n(&b->started, __ATOMIC_SEQ_CST))
        tu_sleep_us(100);
    int64_t end = tu_now_ns() + 5000 * TU_MS;
    while (asleep && thread_state(__atomic_load_n(&b->tid, __ATOMIC_SEQ_CST)) != 'S' && tu_now_ns() < end)
        tu_sleep_us(200);
    tu_sleep_us(settle_ms * 1000L);
    return true;
}

/* Join the call woken at t0: it returned `want`, within a few ms. */
static void check_woken(struct blocked *b, int64_t t0, int want, const char *what)
{
    pthread_join(b->thread, NULL);
    double ms = (double)(b->done_ns - t0) / 1e6;
    printf("%s: woken after %.3f ms\n", what, ms);
    CHECK_ERR(b->result, want);
    CHECK_MSG(ms < 50.0 * tu_slack(), "%s: woken after %.3f ms", what, ms);
}

static uint64_t sleeps_of(const zipc_channel *ch)
{
    struct zipc_channel_stats st;
    return zipc_channel_get_stats(ch, &st) == 0 ? st.sleeps : 0;
}

static void fill(zipc_channel *p)
{
    static const char buf[100];
    while (zipc_channel_send(p, buf, sizeof(buf), 1, ZIPC_TRY) == 0) {
    }
}

/* ---- a blocked call is woken --------------------------------------------- */

static void wakes_asleep_consumer_and_producer(void)
{
    struct zipc_options o = tu_opts(0);
    o.flags = ZIPC_OPT_NO_SPIN; /* straight to sleep */
    zipc_channel *p, *c;
    if (!tu_pair(&c, &p, CAP, &o, &o))
        return;
    struct blocked b = {0};
    uint64_t slept = sleeps_of(c);
    if (block_in(&b, c, VIEW, true, 5)) {
        int64_t t0 = tu_now_ns();
        CHECK_OK(zipc_channel_interrupt(c));
        check_woken(&b, t0, -ECANCELED, "consumer asleep in view");
        CHECK_MSG(sleeps_of(c) > slept, "the consumer did not sleep in the kernel");
    }
    fill(p);
    slept = sleeps_of(p);
    if (block_in(&b, p, RESERVE, true, 5)) {
        int64_t t0 = tu_now_ns();
        CHECK_OK(zipc_channel_interrupt(p));
        check_woken(&b, t0, -ECANCELED, "producer asleep on a full ring");
        CHECK_MSG(sleeps_of(p) > slept, "the producer did not sleep in the kernel");
    }
    /* both endpoints go on working: the ring drains, the producer sends */
    struct zipc_msg m;
    int n = 0;
    while (zipc_channel_view(c, &m, ZIPC_TRY) == 0 && CHECK_HOT_OK(zipc_channel_release(c)))
        n++;
    CHECK(n > 10);
    CHECK_OK(zipc_channel_send(p, "after", 5, 9, ZIPC_TRY));
    CHECK_OK(zipc_channel_view(c, &m, 1000 * TU_MS));
    CHECK(m.size == 5 && m.type == 9 && memcmp(m.data, "after", 5) == 0);
    CHECK_OK(zipc_channel_release(c));
    zipc_channel_close(p);
    zipc_channel_close(c);
}

static void wakes_spinning_consumer(void)
{
    struct zipc_options o = tu_opts(0);
    o.spin_ns = 10000 * TU_MS; /* spins for 10 s before it would sleep */
    zipc_channel *p, *c;
    if (!tu_pair(&c, &p, CAP, &o, NULL))
        return;
    struct blocked b = {0};
    uint64_t slept = sleeps_of(c);
    if (block_in(&b, c, VIEW, false, 20)) {
        int64_t t0 = tu_now_ns();
        CHECK_OK(zipc_channel_interrupt(c));
        check_woken(&b, t0, -ECANCELED, "consumer spinning in view");
        CHECK_MSG(sleeps_of(c) == slept, "the consumer slept: it was not woken in its spin phase");
    }
    zipc_channel_close(p);
    zipc_channel_close(c);
}

/* ---- from a signal handler ------------------------------------------------- */

static zipc_channel *volatile intr_target;

static void interrupt_on_signal(int sig)
{
    (void)sig;
    zipc_channel_interrupt(intr_target);
}

static void from_a_signal_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = interrupt_on_signal; /* no SA_RESTART */
    sigaction(SIGUSR2, &sa, NULL);
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, CAP))
        return;
    intr_target = c;
    /* The handler runs in this thread; the blocked thread masks the signal. */
    struct blocked b = {.mask_usr2 = true};
    if (block_in(&b, c, VIEW, true, 5)) {
        int64_t t0 = tu_now_ns();
        raise(SIGUSR2);
        check_woken(&b, t0, -ECANCELED, "consumer woken from a signal handler in another thread");
    }
    /* The handler runs in the blocked thread itself: the signal ends its
     * sleep (-EINTR, as any signal does) or the interrupt is seen first
     * (-ECANCELED); the interrupt is consumed exactly once either way. */
    b = (struct blocked){.mask_usr2 = false};
    if (block_in(&b, c, VIEW, true, 5)) {
        int64_t t0 = tu_now_ns();
        pthread_kill(b.thread, SIGUSR2);
        pthread_join(b.thread, NULL);
        printf("signal handler in the blocked thread: %s after %.3f ms\n", zipc_err_name(b.result),
               (double)(b.done_ns - t0) / 1e6);
        CHECK_MSG(b.result == -EINTR || b.result == -ECANCELED, "returned %s", zipc_err_name(b.result));
        struct zipc_msg m;
        if (b.result == -EINTR)
            CHECK_ERR(zipc_channel_view(c, &m, 1000 * TU_MS), -ECANCELED); /* still latched */
        CHECK_ERR(zipc_channel_view(c, &m, 20 * TU_MS), -ETIMEDOUT);
    }
    signal(SIGUSR2, SIG_DFL);
    intr_target = NULL;
    zipc_channel_close(p);
    zipc_channel_close(c);
}

/* ---- latched ------------------------------------------------------------------ */

/* Interrupted while nobody waits: a ZIPC_TRY call leaves it pending, the next
 * blocking call returns -ECANCELED at once, the one after waits normally;
 * two interrupts before a call are one. */
static void latched(void)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, CAP))
        return;
    struct zipc_msg m;
    void *buf;
    int64_t t0;
    CHECK_OK(zipc_channel_interrupt(c));
    CHECK_OK(zipc_channel_interrupt(c));
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    t0 = tu_now_ns();
    CHECK_ERR(zipc_channel_view(c, &m, 5000 * TU_MS), -ECANCELED);
    CHECK_RANGE(tu_ms_since(t0), 0, 50 * tu_slack());
    t0 = tu_now_ns();
    CHECK_ERR(zipc_channel_view(c, &m, 30 * TU_MS), -ETIMEDOUT);
    CHECK_RANGE(tu_ms_since(t0), 30, 30 + 300 * tu_slack());
    /* the producer's too, on a full ring */
    fill(p);
    CHECK_OK(zipc_channel_interrupt(p));
    CHECK_ERR(zipc_channel_reserve(p, 100, &buf, ZIPC_TRY), -EAGAIN);
    CHECK_ERR(zipc_channel_reserve(p, 100, &buf, ZIPC_FOREVER), -ECANCELED);
    CHECK_ERR(zipc_channel_reserve(p, 100, &buf, 30 * TU_MS), -ETIMEDOUT);
    /* one endpoint's interrupt is not the other's */
    CHECK_OK(zipc_channel_release(c));
    while (zipc_channel_view(c, &m, ZIPC_TRY) == 0)
        CHECK_HOT_OK(zipc_channel_release(c));
    CHECK_OK(zipc_channel_interrupt(p));
    CHECK_ERR(zipc_channel_view(c, &m, 30 * TU_MS), -ETIMEDOUT);
    CHECK_ERR(zipc_channel_view(c, &m, 30 * TU_MS), -ETIMEDOUT);
    CHECK_OK(zipc_channel_send(p, "x", 1, 1, ZIPC_FOREVER)); /* space: no wait */
    CHECK_ERR(zipc_channel_interrupt(NULL), -EINVAL);
    zipc_channel_close(p);
    zipc_channel_close(c);
}

/* A message published around a latched interrupt is delivered exactly once,
 * and the interrupt is consumed exactly once. */
static void message_around_the_interrupt(void)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, CAP))
        return;
    struct zipc_msg m;
    CHECK_OK(zipc_channel_interrupt(c));
    CHECK_OK(zipc_channel_send(p, "kept", 4, 4, ZIPC_TRY));
    int cancels = 0, got = 0;
    for (int i = 0; i < 3; i++) {
        int r = zipc_channel_view(c, &m, 30 * TU_MS);
        if (r == -ECANCELED)
            cancels++;
        else if (r == 0) {
            got++;
            CHECK(m.size == 4 && m.type == 4 && memcmp(m.data, "kept", 4) == 0);
            CHECK_OK(zipc_channel_release(c));
        } else
            CHECK_ERR(r, -ETIMEDOUT);
    }
    CHECK_EQ(cancels, 1);
    CHECK_EQ(got, 1);
    zipc_channel_close(p);
    zipc_channel_close(c);
}

/* ---- a stream, interrupted at random on both endpoints ------------------------ */

struct storm {
    zipc_channel *p, *c;
    uint64_t seed, n;
    int done;                 /* atomic: the consumer has everything */
    int stop;                 /* atomic: give up (the stream stalled) */
    uint64_t received, cancels_c, cancels_p;
};

static void *storm_producer(void *arg)
{
    struct storm *s = arg;
    for (uint64_t k = 0; k < s->n;) {
        int r = tu_send_stream(s->p, s->seed, k, 0, ZIPC_FOREVER);
        if (r == -ECANCELED) {
            s->cancels_p++;
            if (__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST))
                break;
            continue; /* nothing was reserved: send k again */
        }
        if (!CHECK_HOT_OK(r))
            break;
        k++;
    }
    return NULL;
}

static void *storm_consumer(void *arg)
{
    struct storm *s = arg;
    size_t max = zipc_channel_max_message(s->c);
    while (s->received < s->n) {
        struct zipc_msg m;
        int r = zipc_channel_view(s->c, &m, ZIPC_FOREVER);
        if (r == -ECANCELED) {
            s->cancels_c++;
            if (__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST))
                break;
            continue;
        }
        if (!CHECK_HOT_OK(r))
            break;
        CHECK_HOT(m.seq == s->received);
        CHECK_STREAM_K(&m, s->seed, s->received, max);
        CHECK_HOT_OK(zipc_channel_release(s->c));
        s->received++;
    }
    __atomic_store_n(&s->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void interrupted_stream(uint64_t seed)
{
    struct storm s = {.seed = seed, .n = (uint64_t)tu_scaled(200000, 5000)};
    struct zipc_options o = tu_opts(0);
    o.spin_ns = 20000; /* short spins: the calls sleep often */
    if (!tu_pair(&s.c, &s.p, CAP, &o, &o))
        return;
    pthread_t tp, tc;
    CHECK_OK(pthread_create(&tc, NULL, storm_consumer, &s));
    CHECK_OK(pthread_create(&tp, NULL, storm_producer, &s));
    uint64_t rng = seed, shots = 0;
    int64_t end = tu_now_ns() + 120000 * TU_MS;
    while (!__atomic_load_n(&s.done, __ATOMIC_SEQ_CST) && tu_now_ns() < end) {
        zipc_channel_interrupt(tu_below(&rng, 2) ? s.c : s.p);
        shots++;
        tu_sleep_us((long)tu_below(&rng, 300));
    }
    if (!CHECK_MSG(__atomic_load_n(&s.done, __ATOMIC_SEQ_CST), "the stream did not finish in 120 s")) {
        __atomic_store_n(&s.stop, 1, __ATOMIC_SEQ_CST);
        for (int i = 0; i < 100; i++, tu_sleep_us(10000)) { /* the next cancelled call sees stop */
            zipc_channel_interrupt(s.c);
            zipc_channel_interrupt(s.p);
        }
    }
    pthread_join(tc, NULL);
    pthread_join(tp, NULL);
    printf("stream: %" PRIu64 " messages, %" PRIu64 " interrupts sent, %" PRIu64 " views and %" PRIu64
           " sends cancelled\n",
           s.received, shots, s.cancels_c, s.cancels_p);
    CHECK_EQ(s.received, s.n);
    CHECK(s.cancels_c + s.cancels_p > 0);
    struct zipc_msg m;
    CHECK_ERR(zipc_channel_view(s.c, &m, ZIPC_TRY), -EAGAIN); /* nothing extra, nothing lost */
    zipc_channel_close(s.p);
    zipc_channel_close(s.c);
}

int main(void)
{
    tu_init("test_interrupt_threads", 300);
    wakes_asleep_consumer_and_producer();
    wakes_spinning_consumer();
    from_a_signal_handler();
    latched();
    message_around_the_interrupt();
    interrupted_stream(tu_seed);
    return tu_finish();
}

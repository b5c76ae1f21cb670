/* Timeouts and interruptions. A view on an empty ring and a reserve on a
 * full one return -ETIMEDOUT after about the timeout (never before it, and
 * not much after); ZIPC_TRY returns -EAGAIN at once; connect to a missing
 * path gives up after its timeout (-ENOENT / -ECONNREFUSED), a stalled
 * handshake with -ETIMEDOUT; listen with nobody connecting times out and
 * removes its socket file; a signal interrupts any wait with -EINTR. */
#include "testutil.h"

#define CAP 4096

/* Upper bound on the lateness of a timeout: generous, more so under sanitizers. */
static double late_ms(void) { return 300.0 * tu_slack(); }

/* Run op, which must fail with `want` after timeout_ms (or at once when 0). */
#define CHECK_TIMED(op, want, timeout_ms) \
    do { \
        int64_t t0_ = tu_now_ns(); \
        CHECK_ERR(op, want); \
        double ms_ = tu_ms_since(t0_); \
        CHECK_MSG(ms_ >= (timeout_ms) && ms_ <= (timeout_ms) + late_ms(), \
                  "%s took %.3f ms, timeout %d ms", #op, ms_, (int)(timeout_ms)); \
    } while (0)

static void fill(zipc_channel *p)
{
    static const char buf[100];
    while (zipc_channel_send(p, buf, sizeof(buf), 1, ZIPC_TRY) == 0) {
    }
}

static void ring_timeouts(const struct zipc_options *o)
{
    zipc_channel *p, *c;
    if (!tu_pair(&c, &p, CAP, o, o))
        return;
    struct zipc_msg m[4];
    char buf[128];
    size_t size;
    void *res;
    static const int timeouts_ms[] = {0, 1, 10, 100};
    for (size_t i = 0; i < sizeof(timeouts_ms) / sizeof(timeouts_ms[0]); i++) {
        int ms = timeouts_ms[i];
        int want = ms ? -ETIMEDOUT : -EAGAIN;
        int64_t t = ms * TU_MS;
        CHECK_TIMED(zipc_channel_view(c, m, t), want, ms);
        CHECK_TIMED(zipc_channel_drain(c, m, 4, t), want, ms);
        CHECK_TIMED(zipc_channel_recv(c, buf, sizeof(buf), &size, NULL, t), want, ms);
    }
    CHECK_TIMED(zipc_channel_view(c, m, 1), -ETIMEDOUT, 0); /* one nanosecond */
    fill(p);
    for (size_t i = 0; i < sizeof(timeouts_ms) / sizeof(timeouts_ms[0]); i++) {
        int ms = timeouts_ms[i];
        int want = ms ? -ETIMEDOUT : -EAGAIN;
        int64_t t = ms * TU_MS;
        CHECK_TIMED(zipc_channel_reserve(p, 100, &res, t), want, ms);
        CHECK_TIMED(zipc_channel_send(p, buf, 100, 1, t), want, ms);
    }
    /* after all that the channel works: a timeout is not an error state */
    CHECK_OK(zipc_channel_view(c, m, ZIPC_TRY));
    CHECK_OK(zipc_channel_release(c));
    CHECK_OK(zipc_channel_send(p, buf, 100, 1, ZIPC_TRY));
    zipc_channel_close(p);
    zipc_channel_close(c);
}

struct late_send {
    zipc_channel *p;
    long delay_us;
};

static void *send_late(void *arg)
{
    struct late_send *ls = arg;
    tu_sleep_us(ls->delay_us);
    CHECK_OK(zipc_channel_send(ls->p, "late", 4, 9, ZIPC_TRY));
    return NULL;
}

/* Timeouts too large to add to the clock wait like ZIPC_FOREVER. */
static void huge_timeouts(void)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, CAP))
        return;
    static const int64_t huge[] = {INT64_MAX, INT64_MAX / 2, (int64_t)1 << 62};
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        struct late_send ls = {.p = p, .delay_us = 20000};
        pthread_t t;
        pthread_create(&t, NULL, send_late, &ls);
        struct zipc_msg m;
        CHECK_OK(zipc_channel_view(c, &m, huge[i]));
        CHECK(m.size == 4 && m.type == 9);
        CHECK_OK(zipc_channel_release(c));
        pthread_join(t, NULL);
    }
    zipc_channel_close(p);
    zipc_channel_close(c);
}

static void connect_missing(void)
{
    char path[TU_PATH_MAX];
    zipc_channel *ch = NULL;
    struct zipc_options o = tu_opts(200 * TU_MS);
    int64_t t0 = tu_now_ns();
    int r = zipc_channel_connect(&ch, tu_path(path, "missing"), &o);
    double ms = tu_ms_since(t0);
    CHECK_MSG(r == -ENOENT || r == -ETIMEDOUT, "connect to a missing path: %d %s", r, tu_errname(r));
    CHECK_MSG(ms >= 200 && ms <= 200 + late_ms(), "connect gave up after %.1f ms, timeout 200", ms);
    CHECK(ch == NULL);
    /* a socket file nobody listens on (bound, never listened) */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    CHECK_OK(bind(s, (struct sockaddr *)&a, sizeof(a)));
    t0 = tu_now_ns();
    r = zipc_channel_connect(&ch, path, &o);
    ms = tu_ms_since(t0);
    CHECK_MSG(r == -ECONNREFUSED || r == -ENOENT || r == -ETIMEDOUT, "connect to a dead socket: %d %s", r,
              tu_errname(r));
    CHECK_MSG(ms >= 200 && ms <= 200 + late_ms(), "connect gave up after %.1f ms, timeout 200", ms);
    /* a listening socket that never answers: the handshake stalls */
    CHECK_OK(listen(s, 4));
    t0 = tu_now_ns();
    CHECK_ERR(zipc_channel_connect(&ch, path, &o), -ETIMEDOUT);
    ms = tu_ms_since(t0);
    CHECK_MSG(ms >= 200 && ms <= 200 + late_ms(), "stalled handshake gave up after %.1f ms", ms);
    close(s);
    unlink(path);
}

static void listen_alone(void)
{
    char path[TU_PATH_MAX];
    zipc_channel *ch = NULL;
    struct zipc_options o = tu_opts(150 * TU_MS);
    CHECK_TIMED(zipc_channel_listen(&ch, tu_path(path, "alone"), CAP, &o), -ETIMEDOUT, 150);
    struct stat st;
    CHECK_MSG(lstat(path, &st) < 0 && errno == ENOENT, "listen left its socket file behind");
    CHECK(ch == NULL);
}

/* A client that connects and says nothing neither stalls the listener past
 * its own timeout, nor keeps a real connector out for ever. */
static void silent_client(void)
{
    char path[TU_PATH_MAX];
    tu_path(path, "silent");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    pid_t pid = tu_fork();
    if (pid == 0) {
        CHECK(tu_wait_listening(path, 5000));
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK_OK(connect(s, (struct sockaddr *)&a, sizeof(a)));
        tu_sleep_us(3000000); /* silent, well past the listener's timeout */
        tu_child_exit();
    }
    zipc_channel *ch = NULL;
    struct zipc_options o = tu_opts(300 * TU_MS);
    CHECK_TIMED(zipc_channel_listen(&ch, path, CAP, &o), -ETIMEDOUT, 300);
    tu_kill_reap(pid);
    /* now a silent client first, then a real one: accepted once the silent
     * one is dropped */
    pid = tu_fork();
    if (pid == 0) {
        CHECK(tu_wait_listening(path, 5000));
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK_OK(connect(s, (struct sockaddr *)&a, sizeof(a)));
        zipc_channel *c = NULL;
        CHECK_OK(zipc_channel_connect(&c, path, NULL));
        zipc_channel_close(c);
        close(s);
        tu_child_exit();
    }
    o.timeout_ns = 10000 * TU_MS;
    ch = tu_listen(path, CAP, &o);
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 10000);
}

/* ---- signals ------------------------------------------------------------- */

static void on_usr1(int sig) { (void)sig; }

struct poker {
    pthread_t target, thread;
    int stop;
};

/* Signal the target every 20 ms until stopped: one signal could land in a
 * spin phase, before the wait goes to sleep. */
static void *poke(void *arg)
{
    struct poker *pk = arg;
    while (!__atomic_load_n(&pk->stop, __ATOMIC_ACQUIRE)) {
        tu_sleep_us(20000);
        pthread_kill(pk->target, SIGUSR1);
    }
    return NULL;
}

static void poke_start(struct poker *pk)
{
    pk->target = pthread_self();
    pk->stop = 0;
    pthread_create(&pk->thread, NULL, poke, pk);
}

static void poke_stop(struct poker *pk)
{
    __atomic_store_n(&pk->stop, 1, __ATOMIC_RELEASE);
    pthread_join(pk->thread, NULL);
}

static void interrupted(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1; /* no SA_RESTART */
    sigaction(SIGUSR1, &sa, NULL);
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, CAP))
        return;
    struct poker pk;
    struct zipc_msg m;
    void *res;
    poke_start(&pk);
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_FOREVER), -EINTR);
    CHECK_ERR(zipc_channel_view(c, &m, 10000 * TU_MS), -EINTR);
    fill(p);
    CHECK_ERR(zipc_channel_reserve(p, 100, &res, ZIPC_FOREVER), -EINTR);
    char path[TU_PATH_MAX];
    zipc_channel *ch = NULL;
    struct zipc_options o = tu_opts(ZIPC_FOREVER);
    CHECK_ERR(zipc_channel_connect(&ch, tu_path(path, "intr"), &o), -EINTR);
    CHECK_ERR(zipc_channel_listen(&ch, path, CAP, &o), -EINTR);
    poke_stop(&pk);
    /* interrupted, not broken */
    CHECK_OK(zipc_channel_view(c, &m, ZIPC_TRY));
    CHECK_OK(zipc_channel_release(c));
    CHECK_OK(zipc_channel_reserve(p, 100, &res, ZIPC_TRY));
    CHECK_OK(zipc_channel_commit(p, 0, 1, 0));
    zipc_channel_close(p);
    zipc_channel_close(c);
    signal(SIGUSR1, SIG_DFL);
}

int main(void)
{
    tu_init("test_timeout", 120);
    struct zipc_options o = tu_opts(0);
    ring_timeouts(&o);
    o.flags = ZIPC_OPT_NO_SPIN;
    ring_timeouts(&o);
    o.flags = 0;
    o.spin_ns = 30 * TU_MS; /* spinning longer than some timeouts */
    ring_timeouts(&o);
    huge_timeouts();
    connect_missing();
    listen_alone();
    silent_client();
    interrupted();
    return tu_finish();
}

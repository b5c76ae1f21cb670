/* testutil.h: the small shared kit of the zipc C tests (header-only).
 *
 * Checks     CHECK(c), CHECK_EQ(a, b), CHECK_RANGE(v, lo, hi), CHECK_ERR(expr,
 *            -EXXX), CHECK_OK(expr), CHECK_CHILD(pid, ms): each is an expression
 *            that returns whether it held, counts one pass or one failure, and
 *            prints a failure as "FAIL file:line: ...". tu_skip() counts a skip.
 *            tu_finish() prints the final "N passed, M failed" line and returns
 *            the exit code (0; 1 on any failure; 77, ctest's skip code, when
 *            everything was skipped). Counters are atomic: threads may check.
 * Watchdog   tu_init() arms alarm(): on expiry the test kills its children and
 *            exits 124, so a test never hangs. Forked children re-arm their own.
 * Scale      ZIPC_TEST_SCALE (float, default 1) scales iteration counts:
 *            tu_scaled(n, min). The sanitizer stages run with 0.1 / 0.05.
 * Seed       ZIPC_TEST_SEED=<n> replays a run; the seed is printed at start.
 * Processes  tu_fork() flushes stdio and tracks the child; the child calls
 *            tu_child_exit(), whose status says whether its checks held.
 *            tu_wait() reaps with a timeout (then SIGKILL), never blocking for
 *            ever. tu_spawn_connector()/tu_spawn_listener() fork a peer that
 *            runs a function on its endpoint.
 * Payloads   message k of a stream has a size, type and content derived from
 *            (seed, k): bytes 0..7 carry k, 8..11 a checksum of the rest.
 */
#ifndef ZIPC_TESTUTIL_H
#define ZIPC_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zipc.h"

/* ---- time ------------------------------------------------------------- */

static inline int64_t tu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline double tu_ms_since(int64_t t0) { return (double)(tu_now_ns() - t0) / 1e6; }

static inline void tu_sleep_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

#define TU_MS INT64_C(1000000) /* nanoseconds per millisecond, for timeouts */

/* ---- results ------------------------------------------------------------ */

static int tu_passed_, tu_failed_, tu_skipped_;
static int tu_in_child_;
static unsigned tu_watchdog_s_ = 120;
static uint64_t tu_seed;

static inline bool tu_vcheck_(bool ok, const char *file, int line, const char *fmt, va_list ap)
{
    if (ok) {
        __atomic_fetch_add(&tu_passed_, 1, __ATOMIC_RELAXED);
        return true;
    }
    __atomic_fetch_add(&tu_failed_, 1, __ATOMIC_RELAXED);
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (tu_in_child_)
        printf("FAIL %s:%d: %s [child %d]\n", file, line, buf, (int)getpid());
    else
        printf("FAIL %s:%d: %s\n", file, line, buf);
    fflush(stdout); /* children leave with _exit(): nothing may stay buffered */
    return false;
}

__attribute__((format(printf, 4, 5))) static inline bool tu_check_(bool ok, const char *file,
                                                                   int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool r = tu_vcheck_(ok, file, line, fmt, ap);
    va_end(ap);
    return r;
}

static inline bool tu_check_eq_(long long a, long long b, const char *as, const char *bs,
                                const char *file, int line)
{
    return tu_check_(a == b, file, line, "%s == %s (%lld vs %lld)", as, bs, a, b);
}

static inline bool tu_check_range_(double v, double lo, double hi, const char *vs, const char *file,
                                   int line)
{
    return tu_check_(v >= lo && v <= hi, file, line, "%s = %g not in [%g, %g]", vs, v, lo, hi);
}

/* A code's name ("EAGAIN", "OK" for 0), from the library's one errno map. */
static inline const char *tu_errname(int e) { return zipc_err_name(e); }

static inline bool tu_check_err_(int got, int want, const char *expr, const char *file, int line)
{
    return tu_check_(got == want, file, line, "%s returned %d %s (%s), expected %d %s", expr, got,
                     tu_errname(got), zipc_strerror(got), want, tu_errname(want));
}

#define CHECK(c) tu_check_(!!(c), __FILE__, __LINE__, "%s", #c)
#define CHECK_MSG(c, ...) tu_check_(!!(c), __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_EQ(a, b) tu_check_eq_((long long)(a), (long long)(b), #a, #b, __FILE__, __LINE__)
#define CHECK_RANGE(v, lo, hi) tu_check_range_((double)(v), (double)(lo), (double)(hi), #v, __FILE__, __LINE__)
#define CHECK_ERR(expr, want) tu_check_err_((int)(expr), (want), #expr, __FILE__, __LINE__)
#define CHECK_OK(expr) CHECK_ERR(expr, 0)
/* For hot loops: these count and print only a failure, so millions of
 * calls do not inflate the pass count. */
#define CHECK_HOT(c) ((c) ? true : tu_check_(false, __FILE__, __LINE__, "%s", #c))
static inline bool tu_check_hot_err_(int got, int want, const char *expr, const char *file, int line)
{
    return got == want || tu_check_err_(got, want, expr, file, line);
}
#define CHECK_HOT_ERR(expr, want) tu_check_hot_err_((int)(expr), (want), #expr, __FILE__, __LINE__)
#define CHECK_HOT_OK(expr) CHECK_HOT_ERR(expr, 0)

/* A check that could not run here: counted apart, never as a pass. */
static inline void tu_skip(const char *what, const char *reason)
{
    __atomic_fetch_add(&tu_skipped_, 1, __ATOMIC_RELAXED);
    printf("SKIP %s: %s\n", what, reason);
    fflush(stdout);
}

static inline int tu_finish(void)
{
    if (tu_skipped_)
        printf("(%d skipped)\n", tu_skipped_);
    printf("%d passed, %d failed\n", tu_passed_, tu_failed_);
    fflush(stdout);
    return tu_failed_ ? 1 : tu_skipped_ && !tu_passed_ ? 77 : 0;
}

/* ---- watchdog, scale, seed ----------------------------------------------- */

#define TU_MAX_KIDS 256
static pid_t tu_kids_[TU_MAX_KIDS];

/* Replace `from` by `to` in the list of live children (0: a free slot). */
static inline void tu_track_(pid_t from, pid_t to)
{
    for (int i = 0; i < TU_MAX_KIDS; i++)
        if (tu_kids_[i] == from) {
            tu_kids_[i] = to;
            return;
        }
}

static inline void tu_on_alarm_(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL watchdog: the test ran too long; killing it and its children\n";
    if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0) {
    }
    for (int i = 0; i < TU_MAX_KIDS; i++)
        if (tu_kids_[i] > 0)
            kill(tu_kids_[i], SIGKILL);
    _exit(124);
}

static inline double tu_scale(void)
{
    const char *s = getenv("ZIPC_TEST_SCALE");
    double v = s && *s ? strtod(s, NULL) : 1.0;
    return v > 0 ? v : 1.0;
}

/* n scaled by ZIPC_TEST_SCALE, at least min. */
static inline long tu_scaled(long n, long min)
{
    double v = (double)n * tu_scale();
    return v < (double)min ? min : (long)v;
}

/* Sanitizers and small scales make everything slower: widen time bounds. */
static inline double tu_slack(void) { return tu_scale() < 1.0 ? 4.0 : 1.0; }

static inline void tu_init(const char *name, unsigned watchdog_s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tu_on_alarm_;
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* raw socket code in the tests may write to a dead peer */
    tu_watchdog_s_ = watchdog_s;
    alarm(watchdog_s);
    const char *s = getenv("ZIPC_TEST_SEED");
    tu_seed = s && *s ? strtoull(s, NULL, 0) : (uint64_t)tu_now_ns() ^ ((uint64_t)getpid() << 32);
    printf("%s: seed=%" PRIu64 " (ZIPC_TEST_SEED) scale=%g\n", name, tu_seed, tu_scale());
    fflush(stdout);
}

/* ---- random numbers and payloads ------------------------------------------ */

static inline uint64_t tu_mix(uint64_t x) /* splitmix64's finalizer */
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static inline uint64_t tu_rand(uint64_t *state) { return tu_mix(*state += UINT64_C(0x632be59bd9b4e019)); }
static inline uint64_t tu_below(uint64_t *state, uint64_t n) { return n ? tu_rand(state) % n : 0; }

/* Sizes 0..max, biased to small ones: 1/64 exactly max, 3/64 uniform over
 * 0..max, the rest up to 256 or up to 40 bytes. */
static inline size_t tu_msg_size(uint64_t seed, uint64_t k, size_t max)
{
    uint64_t h = tu_mix(seed ^ tu_mix(k)), r = h >> 8;
    unsigned sel = (unsigned)(h & 63);
    if (sel == 0)
        return max;
    if (sel < 4)
        return (size_t)(r % (max + 1));
    size_t lim = sel < 24 ? 256 : 40;
    return (size_t)(r % ((lim < max ? lim : max) + 1));
}

static inline uint32_t tu_msg_type(uint64_t seed, uint64_t k)
{
    return (uint32_t)(tu_mix(seed ^ (k << 1 | 1)) >> 17);
}

static inline uint32_t tu_csum(const uint8_t *p, size_t n, uint64_t k)
{
    uint64_t h = tu_mix(k ^ (uint64_t)n << 40), w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * UINT64_C(0x100000001b3);
        h ^= h >> 29;
    }
    if (i < n) {
        w = 0;
        memcpy(&w, p + i, n - i);
        h = (h ^ w) * UINT64_C(0x100000001b3);
    }
    return (uint32_t)tu_mix(h);
}

#define TU_MSG_HDR 12 /* k (8 bytes) + checksum (4 bytes) */

/* Content of message k: [k][checksum][pseudo-random bytes]; shorter
 * messages hold the first bytes of a hash of (seed, k). */
static inline void tu_msg_fill(void *buf, size_t size, uint64_t seed, uint64_t k)
{
    uint8_t *p = buf;
    if (size < TU_MSG_HDR) {
        uint64_t h[2] = {tu_mix(seed ^ k), tu_mix(k ^ 0x5a5a)};
        memcpy(p, h, size);
        return;
    }
    uint64_t st = seed ^ tu_mix(k), w;
    size_t i = TU_MSG_HDR;
    for (; i + 8 <= size; i += 8) {
        w = tu_rand(&st);
        memcpy(p + i, &w, 8);
    }
    if (i < size) {
        w = tu_rand(&st);
        memcpy(p + i, &w, size - i);
    }
    uint32_t c = tu_csum(p + TU_MSG_HDR, size - TU_MSG_HDR, k);
    memcpy(p, &k, 8);
    memcpy(p + 8, &c, 4);
}

enum { TU_MSG_OK = 0, TU_BAD_SIZE, TU_BAD_TYPE, TU_BAD_SEQ, TU_BAD_SUM, TU_BAD_ALIGN };

/* 0 if (data, size, type) is message k of the stream with the size
 * want_size, else what differs. */
static inline int tu_msg_verify(const void *data, size_t size, uint32_t type, uint64_t seed,
                                uint64_t k, size_t want_size)
{
    if (size != want_size)
        return TU_BAD_SIZE;
    if (type != tu_msg_type(seed, k))
        return TU_BAD_TYPE;
    if ((uintptr_t)data % 16)
        return TU_BAD_ALIGN;
    const uint8_t *p = data;
    if (size < TU_MSG_HDR) {
        uint8_t want[16];
        tu_msg_fill(want, size, seed, k);
        return memcmp(p, want, size) ? TU_BAD_SUM : TU_MSG_OK;
    }
    uint64_t got_k;
    uint32_t c;
    memcpy(&got_k, p, 8);
    memcpy(&c, p + 8, 4);
    if (got_k != k)
        return TU_BAD_SEQ;
    return c == tu_csum(p + TU_MSG_HDR, size - TU_MSG_HDR, k) ? TU_MSG_OK : TU_BAD_SUM;
}

static inline const char *tu_msg_why(int why)
{
    static const char *const s[] = {"ok", "size", "type", "sequence number", "checksum", "alignment"};
    return why >= 0 && why <= TU_BAD_ALIGN ? s[why] : "?";
}

/* Reserve, fill and commit message k with the given size (the stream's own
 * type). Returns the first error. */
static inline int tu_send_k(zipc_channel *ch, uint64_t seed, uint64_t k, size_t size,
                            unsigned flags, int64_t timeout_ns)
{
    void *buf;
    int r = zipc_channel_reserve(ch, size, &buf, timeout_ns);
    if (r)
        return r;
    tu_msg_fill(buf, size, seed, k);
    return zipc_channel_commit(ch, size, tu_msg_type(seed, k), flags);
}

/* Message k of the stream at its own random size. */
static inline int tu_send_stream(zipc_channel *ch, uint64_t seed, uint64_t k, unsigned flags,
                                 int64_t timeout_ns)
{
    return tu_send_k(ch, seed, k, tu_msg_size(seed, k, zipc_channel_max_message(ch)), flags,
                     timeout_ns);
}

/* Check a viewed message against message k (of size want_size); counts and
 * prints only a mismatch (streams check millions of messages). */
static inline bool tu_check_msg_(const struct zipc_msg *m, uint64_t seed, uint64_t k,
                                 size_t want_size, const char *file, int line)
{
    int why = tu_msg_verify(m->data, m->size, m->type, seed, k, want_size);
    if (why == TU_MSG_OK)
        return true;
    return tu_check_(false, file, line, "message %" PRIu64 " (size %u, type %u): bad %s", k,
                     m->size, m->type, tu_msg_why(why));
}
#define CHECK_MSG_K(m, seed, k, size) tu_check_msg_((m), (seed), (k), (size), __FILE__, __LINE__)
/* Message k of a stream of random sizes up to max. */
#define CHECK_STREAM_K(m, seed, k, max) CHECK_MSG_K((m), (seed), (k), tu_msg_size((seed), (k), (max)))

/* ---- socket paths ------------------------------------------------------------ */

#define TU_PATH_MAX 108
static inline const char *tu_path(char buf[TU_PATH_MAX], const char *tag)
{
    static unsigned n;
    snprintf(buf, TU_PATH_MAX, "/tmp/zipc-t%d-%s-%u.sock", (int)getpid(), tag, n++);
    unlink(buf);
    return buf;
}

static inline bool tu_wait_path(const char *path, int timeout_ms)
{
    int64_t end = tu_now_ns() + timeout_ms * TU_MS;
    struct stat st;
    while (lstat(path, &st) < 0) {
        if (tu_now_ns() > end)
            return false;
        tu_sleep_us(200);
    }
    return true;
}

/* Wait until something accepts connections at path. The probe connection
 * it makes is dropped by a zipc listener, which goes on listening. (The
 * socket file appears before the listener listens: a raw connect right
 * after it appeared may be refused.) */
static inline bool tu_wait_listening(const char *path, int timeout_ms)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    int64_t end = tu_now_ns() + timeout_ms * TU_MS;
    for (;;) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int r = connect(s, (struct sockaddr *)&a, sizeof(a));
        close(s);
        if (r == 0)
            return true;
        if (tu_now_ns() > end)
            return false;
        tu_sleep_us(250);
    }
}

/* ---- processes ------------------------------------------------------------- */

/* In a forked grandchild: keep copies of the fds inherited from `parent`
 * and sleep. It must never outlive the test run: with die_with_parent it
 * goes with its parent (PR_SET_PDEATHSIG, plus a getppid check for a parent
 * that died before the prctl); in any case it lets go of the runner's
 * stdout/stderr (an orphan holding ctest's output pipe hangs ctest) and
 * exits after 120 s at the latest. */
static inline void tu_hold_fds(pid_t parent, bool die_with_parent)
{
    if (die_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
    }
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
    }
    signal(SIGALRM, SIG_DFL); /* not the test's watchdog, which kills the test's children */
    alarm(120);
    for (;;)
        pause();
}

static inline pid_t tu_fork(void)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        tu_in_child_ = 1;
        tu_passed_ = tu_failed_ = tu_skipped_ = 0;
        memset(tu_kids_, 0, sizeof(tu_kids_));
        alarm(tu_watchdog_s_);
    } else if (pid > 0) {
        tu_track_(0, pid);
    }
    return pid;
}

__attribute__((noreturn)) static inline void tu_child_exit(void)
{
    fflush(stdout);
    _exit(tu_failed_ ? 1 : 0);
}

/* Reap pid within timeout_ms; past it the child is SIGKILLed and reaped.
 * Returns the wait status, or -1 if it had to be killed. */
static inline int tu_wait(pid_t pid, int timeout_ms)
{
    int64_t end = tu_now_ns() + timeout_ms * TU_MS;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        if (tu_now_ns() > end) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
            }
            tu_track_(pid, 0);
            return -1;
        }
        tu_sleep_us(500);
    }
    tu_track_(pid, 0);
    return st;
}

static inline int tu_kill_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    return tu_wait(pid, 10000);
}

static inline bool tu_check_child_(pid_t pid, int timeout_ms, const char *file, int line)
{
    int st = tu_wait(pid, timeout_ms);
    if (st == -1)
        return tu_check_(false, file, line, "child %d did not finish within %d ms (killed)", (int)pid,
                         timeout_ms);
    if (WIFSIGNALED(st))
        return tu_check_(false, file, line, "child %d died of signal %d (%s)", (int)pid, WTERMSIG(st),
                         strsignal(WTERMSIG(st)));
    return tu_check_(WEXITSTATUS(st) == 0, file, line, "child %d exited with %d (its checks failed)",
                     (int)pid, WEXITSTATUS(st));
}
#define CHECK_CHILD(pid, timeout_ms) tu_check_child_((pid), (timeout_ms), __FILE__, __LINE__)

/* One byte over a pipe: the simplest cross-process rendezvous. */
static inline void tu_notify(int fd)
{
    char c = 1;
    if (write(fd, &c, 1) != 1) {
    }
}

static inline bool tu_await(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int64_t end = tu_now_ns() + timeout_ms * TU_MS;
    for (;;) {
        int left = (int)((end - tu_now_ns()) / TU_MS);
        int n = poll(&p, 1, left < 0 ? 0 : left);
        if (n > 0) {
            char c;
            return read(fd, &c, 1) == 1;
        }
        if (n == 0 || errno != EINTR)
            return false;
    }
}

/* ---- channels ---------------------------------------------------------------- */

static inline struct zipc_options tu_opts(int64_t timeout_ns)
{
    struct zipc_options o;
    memset(&o, 0, sizeof(o));
    o.timeout_ns = timeout_ns;
    return o;
}

typedef void (*tu_peer_fn)(zipc_channel *ch, void *arg);

static inline pid_t tu_spawn_(bool listen, const char *path, size_t cap, const struct zipc_options *o,
                              tu_peer_fn fn, void *arg)
{
    pid_t pid = tu_fork();
    if (pid != 0) {
        CHECK_MSG(pid > 0, "fork: %s", strerror(errno));
        return pid;
    }
    zipc_channel *ch = NULL;
    int r = listen ? zipc_channel_listen(&ch, path, cap, o) : zipc_channel_connect(&ch, path, o);
    if (CHECK_MSG(r == 0, "%s(%s): %s", listen ? "listen" : "connect", path, zipc_strerror(r)) && fn)
        fn(ch, arg);
    zipc_channel_close(ch);
    tu_child_exit();
}

/* Fork a child that connects to path, runs fn(endpoint, arg), closes and exits. */
static inline pid_t tu_spawn_connector(const char *path, const struct zipc_options *o, tu_peer_fn fn,
                                       void *arg)
{
    return tu_spawn_(false, path, 0, o, fn, arg);
}

/* Fork a child that listens at path, runs fn(endpoint, arg), closes and exits. */
static inline pid_t tu_spawn_listener(const char *path, size_t cap, const struct zipc_options *o,
                                      tu_peer_fn fn, void *arg)
{
    return tu_spawn_(true, path, cap, o, fn, arg);
}

static inline zipc_channel *tu_listen(const char *path, size_t cap, const struct zipc_options *o)
{
    zipc_channel *ch = NULL;
    int r = zipc_channel_listen(&ch, path, cap, o);
    CHECK_MSG(r == 0 && ch, "listen(%s): %s", path, zipc_strerror(r));
    return r == 0 ? ch : NULL;
}

struct tu_connect_arg_ {
    const char *path;
    const struct zipc_options *opts;
    zipc_channel *ch;
    int err;
};

static inline void *tu_connect_thread_(void *p)
{
    struct tu_connect_arg_ *a = p;
    a->err = zipc_channel_connect(&a->ch, a->path, a->opts);
    return NULL;
}

/* Both endpoints of one channel in this process: listen here while a
 * thread connects. *lis gets the listener's end, *con the connector's. */
static inline bool tu_pair(zipc_channel **lis, zipc_channel **con, size_t cap,
                           const struct zipc_options *lopts, const struct zipc_options *copts)
{
    char path[TU_PATH_MAX];
    struct tu_connect_arg_ a = {.path = tu_path(path, "pair"), .opts = copts};
    pthread_t t;
    *lis = *con = NULL;
    if (!CHECK_OK(pthread_create(&t, NULL, tu_connect_thread_, &a)))
        return false;
    int r = zipc_channel_listen(lis, path, cap, lopts);
    pthread_join(t, NULL);
    *con = a.ch;
    if (CHECK_MSG(r == 0 && a.err == 0, "pair: listen %s, connect %s", zipc_strerror(r),
                  zipc_strerror(a.err)))
        return true;
    zipc_channel_close(*lis);
    zipc_channel_close(*con);
    *lis = *con = NULL;
    return false;
}

/* The usual pair: the listener consumes, the connector produces. */
static inline bool tu_pair_pc(zipc_channel **prod, zipc_channel **cons, size_t cap)
{
    return tu_pair(cons, prod, cap, NULL, NULL);
}

/* Either end of a channel (a tu_peer_fn): the producer sends one message
 * "hi" of type 3, the consumer receives and checks it. */
static inline void tu_exchange_one(zipc_channel *ch, void *arg)
{
    (void)arg;
    if (zipc_channel_role(ch) == ZIPC_ROLE_PRODUCER) {
        CHECK_OK(zipc_channel_send(ch, "hi", 2, 3, 5000 * TU_MS));
        return;
    }
    char buf[8];
    size_t size;
    uint32_t type;
    CHECK_OK(zipc_channel_recv(ch, buf, sizeof(buf), &size, &type, 5000 * TU_MS));
    CHECK(size == 2 && type == 3 && memcmp(buf, "hi", 2) == 0);
}

/* ---- file descriptors --------------------------------------------------------- */

/* What /proc/self/fd/<fd> points to ("anon_inode:[eventfd]", "/memfd:x (deleted)", ...). */
static inline bool tu_fd_link(int fd, char *buf, size_t n)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    ssize_t len = readlink(p, buf, n - 1);
    if (len < 0)
        return false;
    buf[len] = 0;
    return true;
}

static inline bool tu_fd_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    return fl >= 0 && (fl & FD_CLOEXEC);
}

/* Open fds of this process, as a bit set over 0..1023; returns the count. */
#define TU_FDSET_MAX 1024
static inline int tu_fd_snapshot(unsigned char set[TU_FDSET_MAX])
{
    memset(set, 0, TU_FDSET_MAX);
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0, self = dirfd(d);
    for (struct dirent *e; (e = readdir(d));) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == self || fd >= TU_FDSET_MAX)
            continue;
        set[fd] = 1;
        n++;
    }
    closedir(d);
    return n;
}

static inline int tu_fd_count(void)
{
    unsigned char set[TU_FDSET_MAX];
    return tu_fd_snapshot(set);
}

/* ---- topics ------------------------------------------------------------------
 * Names, shared counters, the publisher's stream (message k of a stream is the
 * topic's message number k: tu_msg_fill content) and a subscriber-side reader
 * that checks the stream message by message: order, exact losses (DROP and
 * MAX_LAG), payload checksums, -ESTALE only for unpinned views. */

#define TU_NAME_MAX 64
/* A name (no '/') no other test run uses: "zt<pid>-<tag>-<n>". */
static inline const char *tu_topic_name(char buf[TU_NAME_MAX], const char *tag)
{
    static unsigned n;
    snprintf(buf, TU_NAME_MAX, "zt%d-%s-%u", (int)getpid(), tag, n++);
    return buf;
}

static inline struct zipc_subscription tu_subscription(uint32_t policy, uint32_t flags, uint64_t max_lag,
                                                       uint64_t history)
{
    struct zipc_subscription s = {.policy = policy, .flags = flags, .max_lag = max_lag, .history = history};
    return s;
}

static inline const char *tu_policy_name(uint32_t policy)
{
    return policy == ZIPC_SUB_BLOCK ? "BLOCK" : policy == ZIPC_SUB_DROP_OLDEST ? "DROP_OLDEST"
           : policy == ZIPC_SUB_MAX_LAG ? "MAX_LAG" : "?";
}

/* Zeroed memory shared with the children forked after this call. */
static inline void *tu_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK_MSG(p != MAP_FAILED, "mmap shared: %s", strerror(errno));
    return p == MAP_FAILED ? NULL : p;
}

/* Reserve, fill and commit message k (tu_msg_fill content, size given). */
static inline int tu_publish_k(zipc_publisher *p, uint64_t seed, uint64_t k, size_t size, unsigned flags,
                               int64_t timeout_ns)
{
    void *buf;
    int r = zipc_publisher_reserve(p, size, &buf, timeout_ns);
    if (r)
        return r;
    tu_msg_fill(buf, size, seed, k);
    return zipc_publisher_commit(p, size, tu_msg_type(seed, k), flags);
}

/* Message k of the stream at its own random size (up to max). */
static inline int tu_publish_stream(zipc_publisher *p, uint64_t seed, uint64_t k, size_t max, int64_t timeout_ns)
{
    return tu_publish_k(p, seed, k, tu_msg_size(seed, k, max), 0, timeout_ns);
}

/* Wait until the publisher counts `n` subscribers (the door admits them
 * asynchronously). */
static inline bool tu_await_subscribers(zipc_publisher *p, int n, int timeout_ms)
{
    int64_t end = tu_now_ns() + timeout_ms * TU_MS;
    while (zipc_publisher_subscribers(p) != n) {
        if (tu_now_ns() > end)
            return false;
        tu_sleep_us(200);
    }
    return true;
}

/* One subscriber reading a stream of tu_msg_fill messages. */
struct tu_reader {
    zipc_subscriber *sub;
    uint64_t seed;
    size_t max;          /* the stream's max_message */
    bool lossless;       /* BLOCK: no loss, no -ESTALE, ever */
    bool started;        /* a first message was seen: `next` is known */
    uint64_t first, next;
    uint64_t delivered, stale, lost, lost_bytes, overflows;
    uint64_t rng;
    unsigned hold_every; /* hold one view in hold_every (0: never) */
    long hold_us;        /* for up to hold_us */
    uint32_t *holding;   /* optional (shared): 1 while a view is held */
    const uint64_t *full_from; /* optional (shared): from this message on, every one has the size max */
    uint8_t *buf;        /* recv's buffer, max bytes */
};

static inline bool tu_reader_init(struct tu_reader *r, zipc_subscriber *sub, uint32_t policy, uint64_t seed)
{
    memset(r, 0, sizeof(*r));
    r->sub = sub;
    r->seed = seed;
    r->max = zipc_subscriber_max_message(sub);
    r->lossless = policy == ZIPC_SUB_BLOCK;
    r->rng = seed ^ (uint64_t)getpid() << 20;
    r->buf = aligned_alloc(64, (r->max + 63) & ~(size_t)63);
    return CHECK(r->buf != NULL);
}

/* The subscriber starts at message `first` (it joined before that one was
 * published): a loss before its first message is then checked too. */
static inline void tu_reader_expect(struct tu_reader *r, uint64_t first)
{
    r->started = true;
    r->first = r->next = first;
}

static inline void tu_reader_free(struct tu_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* -EOVERFLOW: the next message comes exactly `messages` later. */
static inline void tu_reader_overflow_(struct tu_reader *r)
{
    uint64_t msgs = 0, bytes = 0;
    CHECK_HOT_OK(zipc_subscriber_last_loss(r->sub, &msgs, &bytes));
    CHECK_MSG(!r->lossless, "a BLOCK subscriber got -EOVERFLOW (loss %" PRIu64 " messages)", msgs);
    CHECK_MSG(msgs > 0 && bytes >= msgs * ZIPC_FRAME_ALIGN, "loss of %" PRIu64 " messages, %" PRIu64 " bytes",
              msgs, bytes);
    r->next += msgs;
    r->lost += msgs;
    r->lost_bytes += bytes;
    r->overflows++;
}

/* A viewed message's number must be the next one. */
static inline void tu_reader_seq_(struct tu_reader *r, uint64_t seq)
{
    if (!r->started)
        tu_reader_expect(r, seq);
    if (seq != r->next)
        CHECK_MSG(false, "message %" PRIu64 " where %" PRIu64 " was due (%s; lost %" PRIu64 " in %" PRIu64
                  " overflows, %" PRIu64 " stale so far)", seq, r->next, r->lossless ? "BLOCK" : "lossy",
                  r->lost, r->overflows, r->stale);
    r->next = seq + 1;
}

static inline size_t tu_reader_size_(const struct tu_reader *r, uint64_t k)
{
    if (r->full_from && k >= __atomic_load_n(r->full_from, __ATOMIC_ACQUIRE))
        return r->max;
    return tu_msg_size(r->seed, k, r->max);
}

static inline int tu_reader_verify_(const struct tu_reader *r, const struct zipc_msg *m)
{
    return tu_msg_verify(m->data, m->size, m->type, r->seed, m->seq, tu_reader_size_(r, m->seq));
}

/* A view's release: 0 and the bytes were intact, or (lossy only) -ESTALE. */
static inline void tu_reader_released_(struct tu_reader *r, int rel, int why, uint64_t seq)
{
    if (rel == 0) {
        r->delivered++;
        if (why != TU_MSG_OK)
            CHECK_MSG(false, "message %" PRIu64 ": bad %s, yet its release said it was intact", seq,
                      tu_msg_why(why));
    } else if (rel == -ESTALE && !r->lossless) {
        r->stale++;
    } else {
        CHECK_MSG(false, "release of message %" PRIu64 " (%s subscriber): %s; its bytes were %s when read", seq,
                  r->lossless ? "BLOCK" : "lossy", tu_errname(rel), why == TU_MSG_OK ? "intact" : tu_msg_why(why));
    }
}

static inline void tu_reader_hold_(struct tu_reader *r)
{
    if (!r->hold_every || tu_below(&r->rng, r->hold_every))
        return;
    if (r->holding)
        __atomic_store_n(r->holding, 1, __ATOMIC_SEQ_CST);
    tu_sleep_us((long)tu_below(&r->rng, (uint64_t)r->hold_us + 1));
    if (r->holding)
        __atomic_store_n(r->holding, 0, __ATOMIC_SEQ_CST);
}

static inline int tu_reader_view_(struct tu_reader *r, int64_t timeout_ns)
{
    struct zipc_msg m;
    int e = zipc_subscriber_view(r->sub, &m, timeout_ns);
    if (e)
        return e;
    tu_reader_seq_(r, m.seq);
    int why = tu_reader_verify_(r, &m);
    tu_reader_hold_(r);
    tu_reader_released_(r, zipc_subscriber_release(r->sub), why, m.seq);
    return 0;
}

/* A drain, released in one of three ways (all, as a run, one by one
 * newest first). */
static inline int tu_reader_drain_(struct tu_reader *r, int64_t timeout_ns)
{
    struct zipc_msg m[8];
    int why[8];
    int n = zipc_subscriber_drain(r->sub, m, 8, timeout_ns);
    if (n == 0) {
        CHECK_MSG(false, "drain returned 0 messages");
        return -EPROTO;
    }
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        tu_reader_seq_(r, m[i].seq);
        why[i] = tu_reader_verify_(r, &m[i]);
    }
    tu_reader_hold_(r);
    unsigned how = (unsigned)tu_below(&r->rng, 3);
    if (how == 2) {
        for (int i = n - 1; i >= 0; i--)
            tu_reader_released_(r, zipc_subscriber_release_view(r->sub, &m[i]), why[i], m[i].seq);
        return 0;
    }
    int rel = how ? zipc_subscriber_release_views(r->sub, m, (unsigned)n) : zipc_subscriber_release(r->sub);
    for (int i = 0; i < n; i++) /* -ESTALE for the batch: some view was overwritten, which one is unknown */
        tu_reader_released_(r, rel == -ESTALE && why[i] == TU_MSG_OK ? 0 : rel, why[i], m[i].seq);
    return 0;
}

/* recv copies and checks: never torn. Its number is the one due. */
static inline int tu_reader_recv_(struct tu_reader *r, int64_t timeout_ns)
{
    size_t size = 0;
    uint32_t type = 0;
    int e = zipc_subscriber_recv(r->sub, r->buf, r->max, &size, &type, timeout_ns);
    if (e)
        return e;
    uint64_t k = r->next++;
    int why = tu_msg_verify(r->buf, size, type, r->seed, k, tu_reader_size_(r, k));
    if (why != TU_MSG_OK)
        CHECK_MSG(false, "recv: message %" PRIu64 " due, bad %s (size %zu)", k, tu_msg_why(why), size);
    r->delivered++;
    return 0;
}

/* One random read (view, drain or recv; a loss is accounted and is no
 * error). Returns 0 or the call's error (-EPIPE, -EAGAIN, -ETIMEDOUT, ...). */
static inline int tu_reader_step(struct tu_reader *r, int64_t timeout_ns)
{
    unsigned op = (unsigned)tu_below(&r->rng, 8);
    int e = op < 4 || !r->started ? tu_reader_view_(r, timeout_ns)
            : op < 7              ? tu_reader_drain_(r, timeout_ns)
                                  : tu_reader_recv_(r, timeout_ns);
    if (e == -EOVERFLOW) {
        if (r->started)
            tu_reader_overflow_(r);
        else
            r->overflows++; /* before the first message: where it would have started is unknown */
        return 0;
    }
    return e;
}

/* Read until an error other than a loss; returns it. */
static inline int tu_reader_run(struct tu_reader *r, int64_t timeout_ns)
{
    int e;
    while ((e = tu_reader_step(r, timeout_ns)) == 0) {
    }
    return e;
}

/* A zipc segment this process has mapped whole (from offset 0) with
 * permissions `perms` ("rw-s", "r--s"), its header saying `kind`; NULL if
 * none. *len: the mapping's length. `skip`: how many such to pass over. */
static inline uint8_t *tu_find_segment_map(uint32_t kind, const char *perms, unsigned skip, size_t *len)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    uint8_t *found = NULL;
    while (f && !found && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi, off;
        char prot[8];
        if (sscanf(line, "%lx-%lx %7s %lx", &lo, &hi, prot, &off) != 4 || off != 0 || strcmp(prot, perms) != 0 ||
            !strstr(line, "memfd:zipc") || hi - lo < sizeof(struct zipc_segment_header))
            continue;
        const struct zipc_segment_header *h = (const void *)lo;
        if (h->magic == ZIPC_SEGMENT_MAGIC && h->kind == kind && skip-- == 0) {
            found = (uint8_t *)lo;
            *len = hi - lo;
        }
    }
    if (f)
        fclose(f);
    return found;
}

/* The fd of this process's memfd holding a zipc segment of `kind`, -1 if
 * none (`skip`: how many such to pass over). */
static inline int tu_find_segment_fd(uint32_t kind, unsigned skip)
{
    unsigned char set[TU_FDSET_MAX];
    tu_fd_snapshot(set);
    for (int fd = 0; fd < TU_FDSET_MAX; fd++) {
        char link[256];
        struct zipc_segment_header h;
        if (!set[fd] || !tu_fd_link(fd, link, sizeof(link)) || !strstr(link, "memfd:zipc") ||
            pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
            continue;
        if (h.magic == ZIPC_SEGMENT_MAGIC && h.kind == kind && skip-- == 0)
            return fd;
    }
    return -1;
}

#endif /* ZIPC_TESTUTIL_H */

/* zipc bridge's flow control, with real processes over tcp://127.0.0.1:
 *  - a slow remote reader (BLOCK): the credits hold the local BLOCK
 *    publisher back (it is never more than the rings plus the window ahead
 *    of the reader) and the sending bridge's memory stays bounded while it
 *    carries many times that (its VmHWM, from /proc);
 *  - a DROP_OLDEST subscription lapped by a fast publisher: every loss is
 *    counted and forwarded as a gap: the reader's messages plus the
 *    receiver's reported loss are exactly the messages published, and the
 *    reader sees the same number of messages missing. */
#include "bridge_util.h"

#ifndef ZIPC_HAVE_ZMQ
int main(void)
{
    tu_skip("bridge_flow", "zipc bridge was not built (libzmq not found: apt-get install libzmq3-dev)");
    return tu_finish();
}
#else

#define BIG 16384
#define WINDOW 64
#define RING (1 << 18) /* both topics: 16 messages of BIG */

struct shared {
    uint64_t published;
    int go;   /* the parent has measured the bridge at rest: publish */
    int done; /* the reader has everything: the publisher may close */
};

static bool await_flag(int *flag)
{
    int64_t end = tu_now_ns() + BU_WAIT_MS * TU_MS;
    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE) && tu_now_ns() < end)
        tu_sleep_us(1000);
    return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

/* kB of a /proc/PID/status line ("VmHWM:"), or -1. */
static long proc_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, key, strlen(key)))
            v = strtol(line + strlen(key), NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static void names(const char *tag, char *src, char *dst, char *from, char *to, char *addr, char *login, char *logout)
{
    char s[TU_NAME_MAX], d[TU_NAME_MAX], t[32];
    snprintf(from, 80, "topic:%s", tu_topic_name(s, "src"));
    snprintf(to, 80, "topic:%s", tu_topic_name(d, "dst"));
    strcpy(src, s);
    strcpy(dst, d);
    snprintf(addr, 64, "tcp://127.0.0.1:%d", bu_free_port());
    snprintf(t, sizeof(t), "%s-in", tag);
    unlink(bu_log(login, t));
    snprintf(t, sizeof(t), "%s-out", tag);
    unlink(bu_log(logout, t));
}

static void slow_publisher(const char *name, uint64_t n, struct shared *sh)
{
    struct zipc_options o = tu_opts(BU_WAIT_MS * TU_MS);
    zipc_publisher *p = NULL;
    if (!CHECK_OK(zipc_topic_create(&p, name, RING, 0, &o)))
        return;
    CHECK(tu_await_subscribers(p, 1, BU_WAIT_MS));
    CHECK(await_flag(&sh->go));
    for (uint64_t k = 0; k < n; k++) {
        if (!CHECK_HOT_OK(tu_publish_k(p, tu_seed, k, BIG, 0, BU_WAIT_MS * TU_MS)))
            break;
        __atomic_store_n(&sh->published, k + 1, __ATOMIC_RELEASE);
    }
    CHECK(await_flag(&sh->done)); /* the sending bridge lives on until measured */
    zipc_publisher_close(p);
}

static void slow_reader(void)
{
    uint64_t n = (uint64_t)tu_scaled(6000, 600);
    char src[TU_NAME_MAX], dst[TU_NAME_MAX], from[80], to[80], addr[64], login[TU_PATH_MAX], logout[TU_PATH_MAX];
    names("slow", src, dst, from, to, addr, login, logout);
    struct shared *sh = tu_shared(sizeof(*sh));
    /* an ASan build keeps freed memory in quarantine: that is not ours to bound */
    setenv("ASAN_OPTIONS", "quarantine_size_mb=1:detect_leaks=1", 1);
    pid_t in = bu_spawn(login, "--from", addr, "--to", to, "--subscribers", "1", "--capacity", "262144", "--window", "64");
    struct zipc_options o = tu_opts(BU_WAIT_MS * TU_MS);
    zipc_subscriber *sub = NULL;
    CHECK_OK(zipc_topic_subscribe(&sub, dst, NULL, &o));
    pid_t out = bu_spawn(logout, "--from", from, "--to", addr, "--window", "64");
    pid_t pub = tu_fork();
    if (pub == 0) {
        slow_publisher(src, n, sh);
        tu_child_exit();
    }
    CHECK(bu_await_log(login, "from seq 0", BU_WAIT_MS)); /* subscribed, connected, said hello */
    tu_sleep_us(100000);
    long base = proc_kb(out, "VmRSS:");
    __atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
    /* Between the publisher and this reader: the source ring (16), the
     * window in flight (64), the destination ring (16), one message being
     * handled at each bridge. */
    uint64_t bound = RING / BIG + WINDOW + RING / BIG + 4, ahead_max = 0, k = 0;
    for (; sub && k < n; k++) {
        struct zipc_msg m;
        if (!CHECK_HOT_OK(zipc_subscriber_view(sub, &m, BU_WAIT_MS * TU_MS)))
            break;
        uint64_t ahead = __atomic_load_n(&sh->published, __ATOMIC_ACQUIRE) - k;
        ahead_max = ahead > ahead_max ? ahead : ahead_max;
        if (!CHECK_HOT(tu_msg_verify(m.data, m.size, m.type, tu_seed, k, BIG) == TU_MSG_OK))
            break;
        zipc_subscriber_release(sub);
        tu_sleep_us(200); /* the slow reader */
    }
    long hwm = proc_kb(out, "VmHWM:");
    __atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
    CHECK_EQ(k, n);
    printf("slow reader: the publisher was at most %" PRIu64 " messages ahead (bound %" PRIu64
           "); sending bridge: VmRSS %ld kB at start, VmHWM %ld kB after carrying %" PRIu64 " MiB\n",
           ahead_max, bound, base, hwm, n * BIG >> 20);
    CHECK_RANGE(ahead_max, 1, bound);
    /* in flight at most WINDOW * BIG = 1 MiB; allow 16 MiB for libzmq's own buffers */
    CHECK_RANGE(hwm - base, -1e9, 16 * 1024);
    CHECK_CHILD(pub, BU_WAIT_MS);
    int st = tu_wait(out, BU_WAIT_MS);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(bu_stop(in), 0);
    zipc_subscriber_close(sub);
    unsetenv("ASAN_OPTIONS");
    bu_logs_done(login, logout);
}

/* "received N messages ... lost L in G gaps" from the receiver's summary. */
static bool summary(const char *log, uint64_t *received, uint64_t *lost)
{
    const char *s = strstr(log, "received ");
    const char *l = s ? strstr(s, "; lost ") : NULL;
    return s && l && sscanf(s, "received %" SCNu64, received) == 1 && sscanf(l, "; lost %" SCNu64, lost) == 1;
}

/* The destination reader's tally: messages in order, gaps, and misfits. */
struct tally {
    uint64_t got, missing, next, bad;
};

/* One view of the destination (waiting up to timeout_ns): 0 (counted), or
 * the call's error. */
static int read_one(zipc_subscriber *sub, struct tally *t, int64_t timeout_ns)
{
    struct zipc_msg m;
    int r = zipc_subscriber_view(sub, &m, timeout_ns);
    if (r)
        return r;
    uint64_t k = bu_seq_of(&m, t->next);
    if (k < t->next || !bu_is_k(&m, tu_seed, k, 1024)) {
        if (t->bad++ < 3)
            CHECK_MSG(false, "message after %" PRIu64 " is k=%" PRIu64 " size %u", t->next, k, m.size);
    } else {
        t->missing += k - t->next;
        t->next = k + 1;
        t->got++;
    }
    zipc_subscriber_release(sub);
    return 0;
}

/* Has the child exited (it is not reaped: tu_wait does that)? */
static bool exited(pid_t pid)
{
    siginfo_t si = {0};
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

static void dropping(void)
{
    uint64_t n = (uint64_t)tu_scaled(50000, 5000);
    char src[TU_NAME_MAX], dst[TU_NAME_MAX], from[80], to[80], addr[64], login[TU_PATH_MAX], logout[TU_PATH_MAX];
    names("drop", src, dst, from, to, addr, login, logout);
    pid_t in = bu_spawn(login, "--from", addr, "--to", to, "--subscribers", "1");
    struct zipc_options o = tu_opts(BU_WAIT_MS * TU_MS);
    zipc_subscriber *sub = NULL;
    CHECK_OK(zipc_topic_subscribe(&sub, dst, NULL, &o));
    pid_t out = bu_spawn(logout, "--from", from, "--to", addr, "--drop", "--window", "16");
    struct shared *sh = tu_shared(sizeof(*sh));
    pid_t pub = tu_fork();
    if (pub == 0) { /* bursts into a small ring: the bridge is lapped now and then */
        zipc_publisher *p = NULL;
        if (CHECK_OK(zipc_topic_create(&p, src, 16384, 0, &o))) {
            CHECK(tu_await_subscribers(p, 1, BU_WAIT_MS));
            CHECK(await_flag(&sh->go));
            for (uint64_t k = 0; k < n; k++) {
                if (!CHECK_HOT_OK(bu_publish(p, tu_seed, k, 1024)))
                    break;
                if (k % 64 == 63)
                    tu_sleep_us(200);
            }
            zipc_publisher_close(p);
        }
        tu_child_exit();
    }
    CHECK(bu_await_log(login, "from seq 0", BU_WAIT_MS));
    __atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
    /* Read the destination while the bridges run: it is a BLOCK subscriber
     * of the receiving topic (4 MiB), so a sender lapped less than usual
     * (about 29000 messages through) would fill that topic, and the
     * receiver, waiting for room, would grant the sender no more credit. */
    struct tally t = {0};
    int64_t end = tu_now_ns() + BU_WAIT_MS * TU_MS;
    while (!exited(out) && tu_now_ns() < end) {
        int r = read_one(sub, &t, 10 * TU_MS);
        if (r && r != -ETIMEDOUT && r != -EAGAIN && !CHECK_HOT_OK(r))
            break;
    }
    CHECK_CHILD(pub, BU_WAIT_MS);
    int st = tu_wait(out, BU_WAIT_MS); /* it ends once the receiver has everything it sent */
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(bu_stop(in), 0); /* the destination topic closes: the reader gets -EPIPE after the rest */
    for (;;) {
        int r = read_one(sub, &t, BU_WAIT_MS * TU_MS);
        if (r == -EPIPE || !CHECK_HOT_OK(r))
            break;
    }
    uint64_t missing = t.missing + n - t.next;
    zipc_subscriber_close(sub);
    char *lin = bu_read(login);
    uint64_t received = 0, lost = 0;
    CHECK_MSG(summary(lin, &received, &lost), "the receiver's summary is there");
    printf("DROP_OLDEST: %" PRIu64 " published, %" PRIu64 " read, %" PRIu64 " reported lost\n", n, t.got, lost);
    CHECK_EQ(t.bad, 0);
    CHECK_EQ(received, t.got);
    CHECK_EQ(lost, missing);
    CHECK_EQ(received + lost, n);
    CHECK_MSG(lost == 0 || strstr(lin, "messages lost") != NULL, "the losses were reported as they happened");
    bu_logs_done(login, logout);
    free(lin);
}

int main(void)
{
    tu_init("bridge_flow", 300);
    slow_reader();
    dropping();
    return tu_finish();
}
#endif

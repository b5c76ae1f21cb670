/* zipc bridge between two network namespaces joined by a veth pair (as two
 * hosts would be): this test creates a namespace, a veth pair and its
 * addresses (10.213.X.1 here, 10.213.X.2 there), runs the receiving bridge
 * and its subscriber inside the namespace and the publisher and sending
 * bridge outside, and checks a stream of typed messages byte-exact. It also
 * shows that the veth address, not being loopback, needs --allow-remote on
 * either side (exit 2 and the reason otherwise). Needs root and iproute2's
 * `ip netns`; skipped with the reason otherwise. Everything it creates is
 * deleted at the end. */
#include <sched.h>

#include "bridge_util.h"

#ifndef ZIPC_HAVE_ZMQ
int main(void)
{
    tu_skip("bridge_netns", "zipc bridge was not built (libzmq not found: apt-get install libzmq3-dev)");
    return tu_finish();
}
#else
/* ctest-serial */

#define MAX_MSG 4096

static char ns[32], va[16], vb[16], here[32], there[32], nspath[64];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    strncat(cmd, " >/dev/null 2>&1", sizeof(cmd) - strlen(cmd) - 1);
    int st = system(cmd);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void teardown(void)
{
    sh("ip netns del %s", ns);
    sh("ip link del %s", va);
}

/* The namespace, the veth pair and the addresses; false (and why) if this
 * machine does not let us. */
static bool setup(const char **why)
{
    int id = (int)(getpid() % 250) + 1;
    snprintf(ns, sizeof(ns), "zipcb%d", (int)getpid());
    snprintf(va, sizeof(va), "zb%da", (int)getpid() % 1000000);
    snprintf(vb, sizeof(vb), "zb%db", (int)getpid() % 1000000);
    snprintf(here, sizeof(here), "10.213.%d.1", id);
    snprintf(there, sizeof(there), "10.213.%d.2", id);
    snprintf(nspath, sizeof(nspath), "/var/run/netns/%s", ns);
    if (geteuid() != 0)
        return *why = "needs root (ip netns add)", false;
    if (sh("command -v ip"))
        return *why = "the ip command is missing (Debian: apt-get install iproute2)", false;
    if (sh("ip netns add %s", ns))
        return *why = "ip netns add failed here (no CAP_SYS_ADMIN, or no network namespaces)", false;
    if (sh("ip link add %s type veth peer name %s", va, vb) || sh("ip link set %s netns %s", vb, ns) ||
        sh("ip addr add %s/24 dev %s", here, va) || sh("ip link set %s up", va) ||
        sh("ip -n %s addr add %s/24 dev %s", ns, there, vb) || sh("ip -n %s link set %s up", ns, vb) ||
        sh("ip -n %s link set lo up", ns)) {
        teardown();
        return *why = "could not create the veth pair and its addresses", false;
    }
    return true;
}

static int exit_status(pid_t pid)
{
    int st = tu_wait(pid, BU_WAIT_MS);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
    tu_init("bridge_netns", 300);
    const char *why = NULL;
    if (!setup(&why)) {
        tu_skip("bridge_netns", why);
        return tu_finish();
    }
    uint64_t n = (uint64_t)tu_scaled(1000000, 20000); /* the 10^6 typed frames (0.1 scale under ASan) */
    printf("namespace %s: %s (%s) <-> %s (%s), %" PRIu64 " typed frames\n", ns, va, here, vb, there, n);
    char src[TU_NAME_MAX], dst[TU_NAME_MAX], from[80], to[80], addr[64], login[TU_PATH_MAX], logout[TU_PATH_MAX],
        lognot[TU_PATH_MAX];
    snprintf(from, sizeof(from), "topic:%s", tu_topic_name(src, "src"));
    snprintf(to, sizeof(to), "topic:%s", tu_topic_name(dst, "dst"));
    snprintf(addr, sizeof(addr), "tcp://%s:5555", there);
    unlink(bu_log(login, "netns-in"));
    unlink(bu_log(logout, "netns-out"));
    unlink(bu_log(lognot, "netns-refused"));

    /* without --allow-remote: refused on both sides, with the reason */
    CHECK_EQ(exit_status(bu_spawn_v(lognot, nspath, (const char *const[]){"--from", addr, "--to", to, NULL})), 2);
    CHECK_EQ(exit_status(bu_spawn(lognot, "--from", from, "--to", addr)), 2);
    char *refused = bu_read(lognot);
    const char *first = strstr(refused, "pass --allow-remote");
    CHECK_MSG(first && strstr(first + 1, "pass --allow-remote"), "both runs say --allow-remote is needed");
    free(refused);

    pid_t in = bu_spawn_v(login, nspath, (const char *const[]){"--from", addr, "--to", to, "--allow-remote",
                                                                "--subscribers", "1", NULL});
    pid_t reader = tu_fork();
    if (reader == 0) { /* the remote reader: in the namespace, the ordinary API */
        int fd = open(nspath, O_RDONLY | O_CLOEXEC);
        if (!CHECK(fd >= 0 && setns(fd, CLONE_NEWNET) == 0))
            tu_child_exit();
        struct zipc_options o = tu_opts(BU_WAIT_MS * TU_MS);
        zipc_subscriber *sub = NULL;
        if (CHECK_OK(zipc_topic_subscribe(&sub, dst, NULL, &o))) {
            uint64_t k = 0;
            for (; k < n; k++) {
                struct zipc_msg m;
                if (!CHECK_HOT_OK(zipc_subscriber_view(sub, &m, BU_WAIT_MS * TU_MS)) ||
                    !CHECK_HOT(bu_is_k(&m, tu_seed, k, MAX_MSG)))
                    break;
                zipc_subscriber_release(sub);
            }
            CHECK_EQ(k, n);
            zipc_subscriber_close(sub);
        }
        tu_child_exit();
    }
    pid_t out = bu_spawn(logout, "--from", from, "--to", addr, "--allow-remote");
    pid_t pub = tu_fork();
    if (pub == 0) {
        struct zipc_options o = tu_opts(BU_WAIT_MS * TU_MS);
        zipc_publisher *p = NULL;
        if (CHECK_OK(zipc_topic_create(&p, src, 1 << 20, 0, &o))) {
            CHECK(tu_await_subscribers(p, 1, BU_WAIT_MS));
            for (uint64_t k = 0; k < n; k++)
                if (!CHECK_HOT_OK(bu_publish(p, tu_seed, k, MAX_MSG)))
                    break;
            zipc_publisher_close(p);
        }
        tu_child_exit();
    }
    CHECK_CHILD(pub, BU_WAIT_MS);
    CHECK_CHILD(reader, BU_WAIT_MS);
    CHECK_EQ(exit_status(out), 0);
    CHECK_EQ(bu_stop(in), 0);
    char *lin = bu_read(login), want[64];
    snprintf(want, sizeof(want), "received %" PRIu64 " messages", n);
    CHECK_MSG(strstr(lin, want) && strstr(lin, "lost 0 in 0 gaps"), "the receiver in the namespace: '%s', no loss",
              want);
    free(lin);
    bu_logs_done(login, logout);
    if (!tu_failed_)
        bu_unlink(lognot);
    teardown();
    return tu_finish();
}
#endif

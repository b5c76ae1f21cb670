/* Peers of a foreign uid. Needs root: a child switches to `nobody` (65534)
 * and connects to a listener run by root. With the default 0600 socket it
 * cannot even connect (-EACCES); with socket_mode 0666 and the default uid
 * policy it is refused (-EPERM) and the listener goes on waiting and then
 * accepts a same-uid connector; with ZIPC_OPT_ANY_UID or ZIPC_OPT_PEER_UID
 * on both sides (the connector also checks the listener's uid) it is
 * accepted. Without root the whole test is reported as skipped. */
#include <grp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "testutil.h"

#define CAP 4096
#define NOBODY 65534u

struct uid_case {
    const char *what;
    uint32_t mode;        /* listener's socket_mode */
    uint32_t lflags;      /* listener's flags */
    uint32_t lpeer;       /* listener's peer_uid */
    uint32_t cflags;      /* nobody connector's flags */
    uint32_t cpeer;       /* nobody connector's peer_uid */
    int want;             /* what nobody's connect returns */
};

static bool become_nobody(void)
{
    return setgroups(0, NULL) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0 && geteuid() == NOBODY;
}

/* Either end: exchange one message (the connector sends, the listener receives). */
static void exchange_one(zipc_channel *ch, uint32_t type)
{
    char buf[16];
    size_t size;
    uint32_t got;
    if (zipc_channel_role(ch) == ZIPC_ROLE_PRODUCER) {
        CHECK_OK(zipc_channel_send(ch, "uid", 3, type, 5000 * TU_MS));
        return;
    }
    CHECK_OK(zipc_channel_recv(ch, buf, sizeof(buf), &size, &got, 5000 * TU_MS));
    CHECK_EQ(got, type);
}

static void nobody_connects(const char *path, const struct uid_case *uc)
{
    if (!CHECK_MSG(become_nobody(), "cannot become uid %u: %s", NOBODY, strerror(errno)))
        return;
    struct zipc_options o = tu_opts(2000 * TU_MS);
    o.flags = uc->cflags;
    o.peer_uid = uc->cpeer;
    zipc_channel *ch = NULL;
    int64_t t0 = tu_now_ns();
    int r = zipc_channel_connect(&ch, path, &o);
    CHECK_MSG(r == uc->want, "%s: nobody's connect returned %d %s, expected %d %s", uc->what, r,
              tu_errname(r), uc->want, tu_errname(uc->want));
    CHECK_MSG(r == 0 || tu_ms_since(t0) < 1000, "%s: the refusal took %.0f ms", uc->what, tu_ms_since(t0));
    if (r == 0)
        exchange_one(ch, NOBODY);
    zipc_channel_close(ch);
}

/* Wait until the socket file is there with its final mode. */
static bool wait_mode(const char *path, mode_t mode)
{
    struct stat st;
    for (int i = 0; i < 20000; i++, tu_sleep_us(250))
        if (lstat(path, &st) == 0 && (st.st_mode & 0777) == mode)
            return true;
    return false;
}

/* The driver child: nobody tries first (in a grandchild); if nobody was to
 * be refused, a same-uid connector follows and must be accepted. */
static void driver(const char *path, const struct uid_case *uc)
{
    CHECK(wait_mode(path, uc->mode ? uc->mode : 0600));
    pid_t pid = tu_fork();
    if (pid == 0) {
        nobody_connects(path, uc);
        tu_child_exit();
    }
    CHECK_CHILD(pid, 10000);
    if (uc->want == 0)
        return;
    zipc_channel *ch = NULL;
    if (CHECK_MSG(zipc_channel_connect(&ch, path, NULL) == 0, "%s: the same-uid connector after it failed",
                  uc->what))
        exchange_one(ch, 0);
    zipc_channel_close(ch);
}

static void run_case(const struct uid_case *uc)
{
    char path[TU_PATH_MAX];
    tu_path(path, "uid");
    pid_t pid = tu_fork();
    if (pid == 0) {
        driver(path, uc);
        tu_child_exit();
    }
    struct zipc_options o = tu_opts(10000 * TU_MS);
    o.socket_mode = uc->mode;
    o.flags = uc->lflags;
    o.peer_uid = uc->lpeer;
    zipc_channel *ch = tu_listen(path, CAP, &o);
    if (ch)
        exchange_one(ch, uc->want == 0 ? NOBODY : 0); /* the type says who got in */
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 20000);
    printf("  %-60s ok\n", uc->what);
    fflush(stdout);
}

/* ---- a foreign connector already knocking when the listener starts ------------ */

enum { KNOCK_IN = 0, KNOCK_EACCES = 2, KNOCK_NEVER = 3 };

/* As nobody, connect() in a tight loop until the socket accepts: it must
 * never be refused with EACCES on a socket meant to be 0666. */
static int knock(const char *path)
{
    if (!become_nobody())
        return 1;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    int64_t end = tu_now_ns() + 5000 * TU_MS;
    while (tu_now_ns() < end) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int r = connect(s, (struct sockaddr *)&a, sizeof(a)), e = errno;
        close(s);
        if (r == 0)
            return KNOCK_IN;
        if (e == EACCES)
            return KNOCK_EACCES;
    }
    return KNOCK_NEVER;
}

/* Driver: the knocker, then a same-uid connector to complete the listen;
 * exits with the knocker's verdict. */
static void knock_driver(const char *path)
{
    pid_t pid = tu_fork();
    if (pid == 0)
        _exit(knock(path));
    int st = tu_wait(pid, 10000);
    zipc_channel *ch = NULL;
    struct zipc_options o = tu_opts(5000 * TU_MS);
    if (zipc_channel_connect(&ch, path, &o) == 0)
        zipc_channel_close(ch);
    _exit(st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

static void racing_start(void)
{
    int trials = (int)tu_scaled(100, 20), refused = 0, other = 0;
    uint64_t rng = tu_seed;
    for (int i = 0; i < trials; i++) {
        char path[TU_PATH_MAX];
        tu_path(path, "knock");
        pid_t pid = tu_fork();
        if (pid == 0)
            knock_driver(path);
        tu_sleep_us((long)tu_below(&rng, 2000));
        struct zipc_options o = tu_opts(5000 * TU_MS);
        o.socket_mode = 0666;
        zipc_channel *ch = tu_listen(path, CAP, &o);
        zipc_channel_close(ch);
        int st = tu_wait(pid, 10000);
        int code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        refused += code == KNOCK_EACCES;
        other += code != KNOCK_EACCES && code != KNOCK_IN;
    }
    CHECK_MSG(refused == 0, "a uid-%u connector knocking while the listener started got EACCES from a 0666 "
              "socket in %d of %d trials (the file briefly has the umask-reduced mode)", NOBODY, refused, trials);
    CHECK_MSG(other == 0, "%d knock trials failed otherwise", other);
    printf("  racing the listener's start: %d trials, %d refused with EACCES\n", trials, refused);
}

int main(void)
{
    tu_init("test_uid", 120);
    if (geteuid() != 0) {
        tu_skip("foreign-uid peers", "not running as root: no second uid to connect from");
        return tu_finish();
    }
    static const struct uid_case cases[] = {
        {"0600 socket: nobody cannot connect", 0, 0, 0, 0, 0, -EACCES},
        {"0666 socket, default policy: nobody is refused", 0666, 0, 0, 0, 0, -EPERM},
        {"0666, default policy, nobody trusts any uid: refused", 0666, 0, 0, ZIPC_OPT_ANY_UID, 0, -EPERM},
        {"0666, ZIPC_OPT_ANY_UID on both: accepted", 0666, ZIPC_OPT_ANY_UID, 0, ZIPC_OPT_ANY_UID, 0, 0},
        {"0666, ZIPC_OPT_PEER_UID naming each other: accepted", 0666, ZIPC_OPT_PEER_UID, NOBODY,
         ZIPC_OPT_PEER_UID, 0, 0},
        {"0666, ZIPC_OPT_PEER_UID naming another uid: refused", 0666, ZIPC_OPT_PEER_UID, 12345,
         ZIPC_OPT_ANY_UID, 0, -EPERM},
        {"0666, listener ANY_UID, nobody's default policy refuses root", 0666, ZIPC_OPT_ANY_UID, 0, 0, 0,
         -EPERM},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
    racing_start();
    return tu_finish();
}

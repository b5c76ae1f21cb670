/* The Unix-socket rendezvous: socket file mode, stale and live sockets at
 * the path, non-sockets at the path, path length, close-on-exec of every fd
 * the handshake creates or receives (checked with fcntl and by exec'ing a
 * child), roles, peer pids, connect-before-listen, and junk clients. */
#include "testutil.h"

#define CAP 4096

/* ---- helpers --------------------------------------------------------------- */

/* A child listener with the given options; it checks its listen result
 * against `want` and, when connected, receives one message of type 7. */
static void receive_one(zipc_channel *ch, void *arg)
{
    (void)arg;
    char buf[16];
    size_t size;
    uint32_t type;
    if (zipc_channel_role(ch) == ZIPC_ROLE_PRODUCER) {
        CHECK_OK(zipc_channel_send(ch, "hello", 5, 7, 5000 * TU_MS));
        return;
    }
    CHECK_OK(zipc_channel_recv(ch, buf, sizeof(buf), &size, &type, 5000 * TU_MS));
    CHECK(size == 5 && type == 7 && memcmp(buf, "hello", 5) == 0);
}

/* Whichever role this end has, exchange one message with receive_one(). */
static void exchange_one(zipc_channel *ch) { receive_one(ch, NULL); }

static mode_t socket_mode_at(const char *path)
{
    struct stat st;
    if (!CHECK_MSG(lstat(path, &st) == 0, "lstat(%s): %s", path, strerror(errno)))
        return 0;
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_EQ(st.st_uid, geteuid());
    return st.st_mode & 07777;
}

static bool path_gone(const char *path)
{
    struct stat st;
    return lstat(path, &st) < 0 && errno == ENOENT;
}

/* ---- cases ------------------------------------------------------------------ */

static void socket_modes(void)
{
    static const unsigned modes[] = {0, 0640, 0666, 0700};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char path[TU_PATH_MAX];
        struct zipc_options o = tu_opts(10000 * TU_MS);
        o.socket_mode = modes[i];
        pid_t pid = tu_spawn_listener(tu_path(path, "mode"), CAP, &o, receive_one, NULL);
        CHECK(tu_wait_listening(path, 5000));
        CHECK_EQ(socket_mode_at(path), modes[i] ? modes[i] : 0600);
        zipc_channel *ch = NULL;
        if (CHECK_OK(zipc_channel_connect(&ch, path, NULL)))
            exchange_one(ch);
        zipc_channel_close(ch);
        CHECK_CHILD(pid, 10000);
        CHECK_MSG(path_gone(path), "the socket file outlived the handshake");
    }
}

static void stale_socket(void)
{
    char path[TU_PATH_MAX];
    struct zipc_options forever = tu_opts(ZIPC_FOREVER);
    pid_t dead = tu_spawn_listener(tu_path(path, "stale"), CAP, &forever, NULL, NULL);
    CHECK(tu_wait_path(path, 5000));
    tu_kill_reap(dead);
    CHECK_MSG(!path_gone(path), "the killed listener's socket file is not there: nothing to test");
    pid_t pid = tu_spawn_connector(path, NULL, receive_one, NULL); /* refused until we listen */
    tu_sleep_us(20000);
    zipc_channel *ch = tu_listen(path, CAP, NULL);
    if (ch)
        exchange_one(ch);
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 10000);
}

static void live_listener(void)
{
    char path[TU_PATH_MAX];
    struct zipc_options o = tu_opts(10000 * TU_MS);
    pid_t pid = tu_spawn_listener(tu_path(path, "live"), CAP, &o, receive_one, NULL);
    CHECK(tu_wait_listening(path, 5000));
    zipc_channel *ch = NULL;
    struct zipc_options quick = tu_opts(1000 * TU_MS);
    int64_t t0 = tu_now_ns();
    CHECK_ERR(zipc_channel_listen(&ch, path, CAP, &quick), -EADDRINUSE);
    CHECK_RANGE(tu_ms_since(t0), 0, 500); /* refused at once, not after the timeout */
    CHECK(!path_gone(path));              /* and the live listener's file is untouched */
    /* its probe did not disturb the live listener */
    if (CHECK_OK(zipc_channel_connect(&ch, path, NULL)))
        exchange_one(ch);
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 10000);
}

/* A second listener that starts while the first one is still starting up
 * (its socket file exists, it does not accept yet) must not take the path
 * over: it must get -EADDRINUSE, never leave the first one orphaned. The
 * first one is stopped (SIGSTOP) the moment its file appears, as a busy
 * machine may deschedule it there. */
static void racing_listeners(void)
{
    int trials = (int)tu_scaled(200, 40), hijacked = 0, other = 0;
    for (int i = 0; i < trials; i++) {
        char path[TU_PATH_MAX];
        struct zipc_options o = tu_opts(5000 * TU_MS), quick = tu_opts(100 * TU_MS);
        tu_path(path, "race");
        pid_t pid = tu_spawn_listener(path, CAP, &o, NULL, NULL);
        struct stat st;
        while (lstat(path, &st) < 0) { /* pounce the moment the file appears */
        }
        kill(pid, SIGSTOP);
        zipc_channel *ch = NULL;
        int r = zipc_channel_listen(&ch, path, CAP, &quick);
        hijacked += r == -ETIMEDOUT;
        other += r != -ETIMEDOUT && r != -EADDRINUSE;
        zipc_channel_close(ch);
        tu_kill_reap(pid);
        unlink(path);
    }
    CHECK_MSG(hijacked == 0,
              "in %d of %d trials a second listener took over the path of a listener still starting up "
              "(bound, not yet listening: its probe got ECONNREFUSED and it unlinked a live socket)",
              hijacked, trials);
    CHECK_MSG(other == 0, "%d racing listens returned neither -EADDRINUSE nor -ETIMEDOUT", other);
}

static void not_a_socket(void)
{
    char path[TU_PATH_MAX];
    zipc_channel *ch = NULL;
    struct zipc_options o = tu_opts(1000 * TU_MS);
    int fd = open(tu_path(path, "file"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    CHECK(fd >= 0 && write(fd, "data", 4) == 4);
    close(fd);
    CHECK_ERR(zipc_channel_listen(&ch, path, CAP, &o), -ENOTSOCK);
    int64_t t0 = tu_now_ns();
    CHECK_ERR(zipc_channel_connect(&ch, path, &o), -ENOTSOCK);
    CHECK_RANGE(tu_ms_since(t0), 0, 500);
    struct stat st;
    CHECK_MSG(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4, "the regular file was touched");
    unlink(path);
    CHECK_OK(mkdir(path, 0700));
    CHECK_ERR(zipc_channel_listen(&ch, path, CAP, &o), -ENOTSOCK);
    CHECK_ERR(zipc_channel_connect(&ch, path, &o), -ENOTSOCK);
    rmdir(path);
}

static void path_lengths(void)
{
    struct sockaddr_un a;
    char path[sizeof(a.sun_path) + 8];
    zipc_channel *ch = NULL;
    struct zipc_options o = tu_opts(300 * TU_MS);
    /* the longest path that fits: sun_path - 1 characters, then NUL */
    int n = snprintf(path, sizeof(path), "/tmp/zipc-t%d-long-", (int)getpid());
    memset(path + n, 'x', sizeof(a.sun_path) - 1 - (size_t)n);
    path[sizeof(a.sun_path) - 1] = 0;
    pid_t pid = tu_spawn_connector(path, NULL, receive_one, NULL);
    ch = tu_listen(path, CAP, NULL);
    if (ch)
        exchange_one(ch);
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 10000);
    /* one more character does not fit */
    path[sizeof(a.sun_path) - 1] = 'x';
    path[sizeof(a.sun_path)] = 0;
    CHECK_ERR(zipc_channel_listen(&ch, path, CAP, &o), -ENAMETOOLONG);
    CHECK_ERR(zipc_channel_connect(&ch, path, &o), -ENAMETOOLONG);
    CHECK_ERR(zipc_channel_listen(&ch, "", CAP, &o), -EINVAL);
    CHECK_ERR(zipc_channel_connect(&ch, "", &o), -EINVAL);
}

/* ---- close-on-exec ----------------------------------------------------------- */

static bool zipc_kind_fd(int fd)
{
    char link[256];
    return tu_fd_link(fd, link, sizeof(link)) &&
           (strncmp(link, "anon_inode:", 11) == 0 || strncmp(link, "/memfd:", 7) == 0 ||
            strncmp(link, "socket:", 7) == 0 || strncmp(link, "pidfd:", 6) == 0);
}

/* Run in the exec'd child: how many memfd/eventfd/epoll/pidfd/socket fds it inherited. */
static int count_inherited(void)
{
    unsigned char set[TU_FDSET_MAX];
    tu_fd_snapshot(set);
    int n = 0;
    for (int fd = 3; fd < TU_FDSET_MAX; fd++)
        if (set[fd] && zipc_kind_fd(fd)) {
            char link[256];
            tu_fd_link(fd, link, sizeof(link));
            printf("  inherited fd %d: %s\n", fd, link);
            n++;
        }
    fflush(stdout);
    return n;
}

static int exec_and_count(void)
{
    pid_t pid = tu_fork();
    if (pid == 0) {
        char *argv[] = {"test_handshake", "--count-inherited-fds", NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int st = tu_wait(pid, 10000);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Every fd that appeared since `before` is close-on-exec. */
static void check_new_fds_cloexec(const unsigned char before[TU_FDSET_MAX], const char *who)
{
    unsigned char after[TU_FDSET_MAX];
    tu_fd_snapshot(after);
    int fresh = 0;
    for (int fd = 0; fd < TU_FDSET_MAX; fd++)
        if (after[fd] && !before[fd]) {
            char link[256] = "?";
            tu_fd_link(fd, link, sizeof(link));
            CHECK_MSG(tu_fd_cloexec(fd), "%s: fd %d (%s) lacks FD_CLOEXEC", who, fd, link);
            fresh++;
        }
    CHECK_MSG(fresh >= 3, "%s: only %d new fds?", who, fresh);
}

static void cloexec_as(bool connector)
{
    char path[TU_PATH_MAX];
    unsigned char before[TU_FDSET_MAX];
    int baseline = exec_and_count(), open_fds = tu_fd_count();
    CHECK(baseline >= 0);
    tu_path(path, "cloexec");
    pid_t pid = connector ? tu_spawn_listener(path, CAP, NULL, receive_one, NULL)
                          : tu_spawn_connector(path, NULL, receive_one, NULL);
    tu_fd_snapshot(before);
    zipc_channel *ch = NULL;
    int r = connector ? zipc_channel_connect(&ch, path, NULL) : zipc_channel_listen(&ch, path, CAP, NULL);
    if (CHECK_OK(r)) {
        CHECK(zipc_channel_fd(ch) >= 0);
        check_new_fds_cloexec(before, connector ? "connector" : "listener");
        CHECK_EQ(exec_and_count(), baseline); /* nothing of the channel crossed exec */
        exchange_one(ch);
    }
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 10000);
    CHECK_EQ(tu_fd_count(), open_fds); /* close released every fd */
}

/* ---- roles, pids, ordering, junk ----------------------------------------------- */

struct role_case {
    int listener_opt, connector_opt; /* opts.role on each side */
    int listener_is, connector_is;
};

static void check_role_and_pid(zipc_channel *ch, void *arg)
{
    const struct role_case *rc = arg;
    CHECK_EQ(zipc_channel_role(ch), rc->connector_is);
    CHECK_EQ(zipc_channel_peer_pid(ch), getppid());
    CHECK_EQ(zipc_channel_capacity(ch), CAP);
    receive_one(ch, NULL);
}

static void roles(void)
{
    static const struct role_case cases[] = {
        {ZIPC_ROLE_DEFAULT, ZIPC_ROLE_DEFAULT, ZIPC_ROLE_CONSUMER, ZIPC_ROLE_PRODUCER},
        {ZIPC_ROLE_PRODUCER, ZIPC_ROLE_DEFAULT, ZIPC_ROLE_PRODUCER, ZIPC_ROLE_CONSUMER},
        {ZIPC_ROLE_CONSUMER, ZIPC_ROLE_DEFAULT, ZIPC_ROLE_CONSUMER, ZIPC_ROLE_PRODUCER},
        {ZIPC_ROLE_DEFAULT, ZIPC_ROLE_CONSUMER, ZIPC_ROLE_CONSUMER, ZIPC_ROLE_PRODUCER}, /* only the listener chooses */
        {ZIPC_ROLE_PRODUCER, ZIPC_ROLE_PRODUCER, ZIPC_ROLE_PRODUCER, ZIPC_ROLE_CONSUMER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[TU_PATH_MAX];
        struct zipc_options lo = tu_opts(0), co = tu_opts(0);
        lo.role = cases[i].listener_opt;
        co.role = cases[i].connector_opt;
        pid_t pid = tu_spawn_connector(tu_path(path, "role"), &co, check_role_and_pid, (void *)&cases[i]);
        zipc_channel *ch = tu_listen(path, CAP, &lo);
        if (ch) {
            CHECK_EQ(zipc_channel_role(ch), cases[i].listener_is);
            CHECK_EQ(zipc_channel_peer_pid(ch), pid);
            exchange_one(ch);
        }
        zipc_channel_close(ch);
        CHECK_CHILD(pid, 10000);
    }
}

/* A client that connects and leaves, and one that sends junk instead of a
 * hello, are dropped; the listener goes on and takes the real connector. */
static void junk_clients(void)
{
    char path[TU_PATH_MAX];
    tu_path(path, "junk");
    pid_t pid = tu_fork();
    if (pid == 0) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
        CHECK(tu_wait_listening(path, 5000));
        for (int i = 0; i < 2; i++) {
            int s = socket(AF_UNIX, SOCK_STREAM, 0);
            CHECK_OK(connect(s, (struct sockaddr *)&a, sizeof(a)));
            if (i == 1)
                CHECK(send(s, "GET / HTTP/1.0\r\n\r\n012345", 24, MSG_NOSIGNAL) == 24);
            close(s);
        }
        zipc_channel *ch = NULL;
        if (CHECK_OK(zipc_channel_connect(&ch, path, NULL)))
            exchange_one(ch);
        zipc_channel_close(ch);
        tu_child_exit();
    }
    zipc_channel *ch = tu_listen(path, CAP, NULL);
    if (ch)
        exchange_one(ch);
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 10000);
}

/* After one handshake the path is free: the next listener takes it at once. */
static void path_reuse(void)
{
    char path[TU_PATH_MAX];
    tu_path(path, "reuse");
    for (int i = 0; i < 3; i++) {
        pid_t pid = tu_spawn_connector(path, NULL, receive_one, NULL);
        zipc_channel *ch = tu_listen(path, CAP, NULL);
        CHECK(path_gone(path));
        if (ch)
            exchange_one(ch);
        zipc_channel_close(ch);
        CHECK_CHILD(pid, 10000);
    }
}

/* Nothing this test created is left in /tmp: no socket file, no temporary
 * name of a listener. */
static void nothing_left_behind(void)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof(prefix), "zipc-t%d-", (int)getpid());
    DIR *d = opendir("/tmp");
    if (!CHECK(d != NULL))
        return;
    for (struct dirent *e; (e = readdir(d));)
        CHECK_MSG(strncmp(e->d_name, prefix, (size_t)n) != 0, "left behind: /tmp/%s", e->d_name);
    closedir(d);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--count-inherited-fds") == 0)
        return count_inherited();
    tu_init("test_handshake", 120);
    socket_modes();
    stale_socket();
    live_listener();
    racing_listeners();
    not_a_socket();
    path_lengths();
    cloexec_as(true);
    cloexec_as(false);
    roles();
    junk_clients();
    path_reuse();
    nothing_left_behind();
    return tu_finish();
}

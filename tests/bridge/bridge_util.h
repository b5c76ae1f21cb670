/* Shared kit of the tests/bridge tests: they run the built `zipc bridge`
 * (fork/exec of ZIPC_CLI) between real zipc objects over tcp://127.0.0.1.
 * A bridge's stderr goes to a file the test reads back (its reports). */
#ifndef ZIPC_TESTS_BRIDGE_UTIL_H
#define ZIPC_TESTS_BRIDGE_UTIL_H

#include <netinet/in.h>

#include "testutil.h"

#define BU_WAIT_MS 60000

/* A TCP port on 127.0.0.1 free right now (the kernel picks it). */
static inline int bu_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof(a);
    int port = -1;
    if (s >= 0 && !bind(s, (struct sockaddr *)&a, sizeof(a)) && !getsockname(s, (struct sockaddr *)&a, &n))
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

/* A file for a bridge's stderr: /tmp/zipc-bridge-<pid>-<tag>.log */
static inline const char *bu_log(char buf[TU_PATH_MAX], const char *tag)
{
    snprintf(buf, TU_PATH_MAX, "/tmp/zipc-bridge-%d-%s.log", (int)getpid(), tag);
    return buf;
}

/* Run `zipc bridge args...` (NULL-terminated) with stdout+stderr into log
 * (appended: a restarted bridge's reports follow the first one's). netns:
 * a /var/run/netns file to enter first, or NULL. */
static inline pid_t bu_spawn_v(const char *log, const char *netns, const char *const *args)
{
    pid_t pid = tu_fork();
    if (pid != 0)
        return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    if (netns) {
        int ns = open(netns, O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
            perror("setns");
            _exit(126);
        }
    }
    const char *argv[32] = {ZIPC_CLI, "bridge"};
    for (int i = 0; args[i] && i < 29; i++)
        argv[i + 2] = args[i];
    alarm(0);
    execv(ZIPC_CLI, (char *const *)argv);
    perror("execv");
    _exit(127);
}
#define bu_spawn(log, ...) bu_spawn_v((log), NULL, (const char *const[]){__VA_ARGS__, NULL})

/* SIGTERM, then the exit status (a clean stop exits 0). */
static inline int bu_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int st = tu_wait(pid, 20000);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The whole log (malloc'd, NUL-terminated; "" if absent). */
static inline char *bu_read(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 1 << 20);
    if (f && buf) {
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = 0;
    }
    if (f)
        fclose(f);
    return buf;
}

/* Wait until the log contains `what` (a bridge reached a state). */
static inline bool bu_await_log(const char *path, const char *what, int timeout_ms)
{
    int64_t end = tu_now_ns() + timeout_ms * TU_MS;
    do {
        char *s = bu_read(path);
        bool found = s && strstr(s, what);
        free(s);
        if (found)
            return true;
        tu_sleep_us(10000);
    } while (tu_now_ns() < end);
    return false;
}

/* A passing test removes its logs, unless ZIPC_BRIDGE_KEEP_LOGS is set
 * (to look at what the bridges said). */
static inline void bu_unlink(const char *path)
{
    if (!getenv("ZIPC_BRIDGE_KEEP_LOGS"))
        unlink(path);
}

static inline void bu_print_log(const char *path)
{
    char *s = bu_read(path);
    printf("---- %s\n%s----\n", path, s ? s : "");
    free(s);
}

/* The end of a test's bridges: their logs printed if a check failed, else
 * removed (bu_unlink). */
static inline void bu_logs_done(const char *login, const char *logout)
{
    if (tu_failed_) {
        bu_print_log(login);
        bu_print_log(logout);
    } else {
        bu_unlink(login);
        bu_unlink(logout);
    }
}

/* A message of the test stream: k's size (up to max), type and bytes. */
static inline bool bu_verify(const void *data, size_t size, uint32_t type, uint64_t seed, uint64_t k, size_t max)
{
    return tu_msg_verify(data, size, type, seed, k, tu_msg_size(seed, k, max)) == TU_MSG_OK;
}

/* Message k of the stream lies at bytes 0..7, if it is long enough to carry
 * it (TU_MSG_HDR); shorter ones are matched by trying k. */
static inline uint64_t bu_seq_of(const struct zipc_msg *m, uint64_t expect)
{
    uint64_t k = expect;
    if (m->size >= TU_MSG_HDR)
        memcpy(&k, m->data, 8);
    return k;
}

#endif

#ifndef BU_EXTRA
#define BU_EXTRA
/* The test streams' sizes: at least TU_MSG_HDR, so every message carries
 * its k (a reader can tell a duplicate or a gap), up to max. */
static inline size_t bu_size(uint64_t seed, uint64_t k, size_t max)
{
    return TU_MSG_HDR + tu_msg_size(seed, k, max - TU_MSG_HDR);
}

static inline int bu_publish(zipc_publisher *p, uint64_t seed, uint64_t k, size_t max)
{
    return tu_publish_k(p, seed, k, bu_size(seed, k, max), 0, BU_WAIT_MS * TU_MS);
}

static inline int bu_queue_send(zipc_queue *q, uint64_t seed, uint64_t k, size_t max)
{
    void *buf;
    size_t n = bu_size(seed, k, max);
    int r = zipc_queue_reserve(q, n, &buf, BU_WAIT_MS * TU_MS);
    if (r)
        return r;
    tu_msg_fill(buf, n, seed, k);
    return zipc_queue_commit(q, n, tu_msg_type(seed, k), 0);
}

/* Is m message k of the stream (size, type, bytes)? */
static inline bool bu_is_k(const struct zipc_msg *m, uint64_t seed, uint64_t k, size_t max)
{
    return tu_msg_verify(m->data, m->size, m->type, seed, k, bu_size(seed, k, max)) == TU_MSG_OK;
}
#endif

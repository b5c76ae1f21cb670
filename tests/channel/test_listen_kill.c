/* A path listener killed at any point of its start-up leaves nothing behind
 * but, at most, its socket file (which the next listener replaces): no
 * temporary file, no lock. Listeners are SIGKILLed after random delays
 * (microseconds, spread over the whole start-up); after each kill the
 * directory may hold only the socket file, /proc/net/unix no listener's
 * turn lock for it, and now and then (and at the end) a new listener must
 * work there. Then two listeners race on one stale path: exactly one gets
 * the peer, and the directory ends empty. */
#include <sys/socket.h>

#include "rawpeer.h"

#define CAP 4096
#define SOCK_NAME "ch.sock"

static char dir[64], path[TU_PATH_MAX];

/* Every entry of dir other than the socket file: must be none. */
static int strays(char *first, size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int count = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, SOCK_NAME))
            continue;
        if (count++ == 0)
            snprintf(first, n, "%s", e->d_name);
    }
    closedir(d);
    return count;
}

/* The prefix of this directory's turn locks in /proc/net/unix (names.c:
 * "@zipc-bind/<dev>/<ino>/..."). */
static void lock_prefix(char *buf, size_t n)
{
    struct stat st;
    CHECK_OK(stat(dir, &st));
    snprintf(buf, n, "@zipc-bind/%jx/%jx/", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
}

/* A new listener at the path works (replacing a stale file if need be). */
static bool listener_works(void)
{
    pid_t pid = tu_spawn_connector(path, NULL, tu_exchange_one, NULL);
    zipc_channel *ch = tu_listen(path, CAP, NULL);
    if (ch)
        tu_exchange_one(ch, NULL);
    zipc_channel_close(ch);
    bool ok = CHECK_CHILD(pid, 10000) && ch;
    struct stat st;
    return CHECK_MSG(lstat(path, &st) < 0, "the socket file outlived the handshake") && ok;
}

/* How long a forked listener takes until it listens (the slowest of a few). */
static long start_up_us(const struct zipc_options *o)
{
    long worst = 0;
    for (int i = 0; i < 5; i++) {
        int64_t t0 = tu_now_ns();
        pid_t pid = tu_spawn_listener(path, CAP, o, NULL, NULL);
        CHECK(tu_wait_listening(path, 5000));
        long us = (long)((tu_now_ns() - t0) / 1000);
        worst = us > worst ? us : worst;
        tu_kill_reap(pid);
        unlink(path);
    }
    return worst;
}

static void kills_during_start_up(void)
{
    int trials = (int)tu_scaled(400, 300), left_file = 0, bad = 0;
    uint64_t rng = tu_seed;
    char prefix[96], stray[256];
    lock_prefix(prefix, sizeof(prefix));
    struct zipc_options o = tu_opts(5000 * TU_MS);
    o.socket_mode = 0666; /* a mode beyond the umask */
    long span = 2 * start_up_us(&o);
    for (int i = 0; i < trials; i++) {
        pid_t pid = tu_spawn_listener(path, CAP, &o, NULL, NULL);
        tu_sleep_us((long)tu_below(&rng, (uint64_t)span));
        tu_kill_reap(pid);
        struct stat st;
        bool file = lstat(path, &st) == 0;
        left_file += file;
        int n = strays(stray, sizeof(stray));
        bad += !CHECK_MSG(n == 0, "trial %d: %d stray entries in %s (first: %s)", i, n, dir, stray);
        bad += !CHECK_MSG(!file || S_ISSOCK(st.st_mode), "trial %d: %s is not a socket", i, path);
        bad += !CHECK_MSG(raw_unix_listed(prefix, RAW_UNIX_PREFIX) == 0, "trial %d: a turn lock outlived its listener", i);
        if (bad > 5)
            break;
        if (i % 50 == 49 && !listener_works())
            break;
    }
    printf("  %d kills within %ld us of the fork: socket file left %d times, nothing else\n", trials, span,
           left_file);
    listener_works();
}

/* Two listeners start together on a stale path; one connector. */
static void race_on_stale(void)
{
    int trials = (int)tu_scaled(40, 10);
    for (int i = 0; i < trials; i++) {
        int stale = raw_listen_socket(path); /* bound, then closed: a stale file */
        close(stale);
        int go[2];
        CHECK_OK(pipe(go));
        pid_t kids[2];
        for (int k = 0; k < 2; k++) {
            if ((kids[k] = tu_fork()) == 0) {
                close(go[1]);
                tu_await(go[0], 5000);
                struct zipc_options o = tu_opts(500 * TU_MS);
                zipc_channel *ch = NULL;
                int r = zipc_channel_listen(&ch, path, CAP, &o);
                if (r == 0)
                    tu_exchange_one(ch, NULL);
                CHECK_MSG(r == 0 || r == -EADDRINUSE || r == -ETIMEDOUT, "trial %d: listener %d: %s", i, k,
                          tu_errname(r));
                zipc_channel_close(ch);
                _exit(r == 0 ? 0 : r == -EADDRINUSE ? 1 : r == -ETIMEDOUT ? 2 : 3);
            }
        }
        close(go[0]);
        char two[2] = {1, 1};
        CHECK(write(go[1], two, 2) == 2);
        close(go[1]);
        zipc_channel *ch = NULL;
        struct zipc_options o = tu_opts(5000 * TU_MS);
        if (CHECK_OK(zipc_channel_connect(&ch, path, &o)))
            tu_exchange_one(ch, NULL);
        zipc_channel_close(ch);
        int won = 0, other = 0;
        for (int k = 0; k < 2; k++) {
            int st = tu_wait(kids[k], 10000);
            int code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            won += code == 0;
            other += code != 0 && code != 1 && code != 2;
        }
        CHECK_MSG(won == 1 && other == 0, "trial %d: %d listeners got the peer, %d failed oddly", i, won, other);
        char stray[256];
        CHECK_MSG(strays(stray, sizeof(stray)) == 0 && access(path, F_OK) < 0, "trial %d: %s not empty", i, dir);
    }
    printf("  %d races of two listeners on a stale path: one winner each\n", trials);
}

int main(void)
{
    tu_init("test_listen_kill", 300);
    snprintf(dir, sizeof(dir), "/tmp/zipc-t%d-lk", (int)getpid());
    if (!CHECK_MSG(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno)))
        return tu_finish();
    snprintf(path, sizeof(path), "%s/%s", dir, SOCK_NAME);
    kills_during_start_up();
    race_on_stale();
    unlink(path);
    rmdir(dir);
    return tu_finish();
}

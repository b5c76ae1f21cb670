/* Names: where an object is found, and who holds it.
 *
 * A string with no '/' is a name, bound as the abstract Unix socket
 * "\0zipc/<uid>/<name>": nothing on disk, and the kernel frees it the moment
 * its holder's last fd closes (exit, SIGKILL), so bind() itself is the
 * election of the holder. A string with a '/' is a socket file path.
 *
 * A path listener leaves nothing but the socket file behind whenever it is
 * killed: it binds in place (never a temporary name to rename), with its
 * final mode from the start (see bind_with_mode). Between bind() and
 * listen() the file looks stale to a probe; listeners at one path therefore
 * take turns through an abstract lock socket (see path_turn), which the
 * kernel also frees at any death. */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define ZIPC__CONNECT_BACKOFF_MIN_NS 1000000LL  /* 1 ms, doubling: the listener may start later */
#define ZIPC__CONNECT_BACKOFF_MAX_NS 50000000LL /* 50 ms */

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static int check_name(const char *name)
{
    size_t len = 0;
    for (; name[len]; len++)
        if (!name_char(name[len]))
            return -EINVAL;
    return len == 0 ? -EINVAL : len > ZIPC_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* The abstract address "\0<text>": its length counts the leading NUL and no
 * trailing one (abstract names are byte strings, not C strings). */
static int abstract_addr(struct zipc__addr *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int abstract_addr(struct zipc__addr *a, const char *fmt, ...)
{
    memset(a, 0, sizeof(*a));
    a->sa.sun_family = AF_UNIX;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(a->sa.sun_path + 1, sizeof(a->sa.sun_path) - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(a->sa.sun_path) - 1)
        return -ENAMETOOLONG;
    a->len = (uint32_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    a->abstract = true;
    return 0;
}

int zipc__addr_resolve(const char *where, uint32_t uid, struct zipc__addr *a)
{
    if (!where || !*where)
        return -EINVAL;
    if (!strchr(where, '/')) {
        int err = check_name(where);
        return err ? err : abstract_addr(a, "zipc/%u/%s", uid, where);
    }
    size_t len = strlen(where);
    if (len >= sizeof(a->sa.sun_path))
        return -ENAMETOOLONG;
    memset(a, 0, sizeof(*a));
    a->sa.sun_family = AF_UNIX;
    memcpy(a->sa.sun_path, where, len + 1);
    a->len = sizeof(a->sa);
    return 0;
}

int zipc__addr_suffix(const struct zipc__addr *base, const char *suffix, struct zipc__addr *out)
{
    if (!base->abstract)
        return -EINVAL;
    size_t name = base->len - offsetof(struct sockaddr_un, sun_path), extra = strlen(suffix);
    if (name + extra > sizeof(out->sa.sun_path))
        return -ENAMETOOLONG;
    *out = *base;
    memcpy(out->sa.sun_path + name, suffix, extra);
    out->len = (uint32_t)(base->len + extra);
    return 0;
}

uint32_t zipc__lookup_uid(const struct zipc__opts *o)
{
    return (o->flags & ZIPC_OPT_PEER_UID) ? o->peer_uid : (uint32_t)geteuid();
}

static int new_socket(void)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return s < 0 ? -errno : s;
}

static int connect_once(const struct zipc__addr *a, int *sock)
{
    int s = new_socket();
    if (s < 0)
        return s;
    if (connect(s, (const struct sockaddr *)&a->sa, a->len) == 0) {
        *sock = s;
        return 0;
    }
    int e = errno;
    close(s);
    return -e;
}

/* ---- binding ------------------------------------------------------------ */

/* 64-bit FNV-1a: names a path's lock without its (possibly long) text. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
    return h;
}

/* Take this path's turn: bind the abstract lock socket named after the
 * directory's identity (device, inode: any spelling of the path agrees) and
 * the file name. Held from the stale probe until listen(), so a socket file
 * that refuses connections while nobody holds the turn is really stale.
 * -EADDRINUSE: another listener is starting at this path right now. */
static int path_turn(const char *path, int *lock)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(path, '/'), *file = slash + 1;
    size_t dlen = slash == path ? 1 : (size_t)(slash - path);
    memcpy(dir, path, dlen);
    dir[dlen] = 0;
    struct stat st;
    if (stat(dir, &st) < 0)
        return -errno;
    struct zipc__addr a;
    int err = abstract_addr(&a, "zipc-bind/%jx/%jx/%016jx", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
                            (uintmax_t)fnv1a(file));
    int s = err ? err : new_socket();
    if (s < 0)
        return s;
    if (bind(s, (const struct sockaddr *)&a.sa, a.len) < 0) {
        err = -errno;
        close(s);
        return err;
    }
    *lock = s;
    return 0;
}

/* A path is stale when it is a socket nobody accepts on (checked while
 * holding the path's turn). */
static int replace_stale(const struct zipc__addr *a)
{
    const char *path = a->sa.sun_path;
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -ENOTSOCK;
    int probe = -1, err = connect_once(a, &probe);
    if (err == 0) {
        close(probe);
        return -EADDRINUSE;
    }
    if (err == -ENOENT)
        return 0; /* its listener closed and unlinked it since the lstat: the path is free */
    if (err != -ECONNREFUSED)
        return err;
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

struct exact_bind {
    int sock;
    const struct zipc__addr *addr;
    int err;
};

/* A thread with a umask of its own (unshare(CLONE_FS) copies the fs context
 * for this thread only; the process's umask never changes): with umask 0,
 * bind() creates the file with exactly the socket's mode. */
static void *bind_without_umask(void *p)
{
    struct exact_bind *b = p;
    if (unshare(CLONE_FS) < 0) {
        b->err = -ENOSYS;
        return NULL;
    }
    umask(0);
    b->err = bind(b->sock, (const struct sockaddr *)&b->addr->sa, b->addr->len) < 0 ? -errno : 0;
    return NULL;
}

/* Bind in place with the final mode, so the file never exists with another
 * mode (a connector of another uid would get EACCES in that window). Where
 * no thread can have its own umask, bind here and widen the mode by chmod()
 * before listen(). */
static int bind_with_mode(const struct zipc__addr *a, uint32_t mode, int s)
{
    if (fchmod(s, mode) < 0)
        return -errno;
    struct exact_bind b = {.sock = s, .addr = a, .err = -ENOSYS};
    pthread_t t;
    if (pthread_create(&t, NULL, bind_without_umask, &b) == 0)
        pthread_join(t, NULL);
    if (b.err != -ENOSYS)
        return b.err;
    if (bind(s, (const struct sockaddr *)&a->sa, a->len) < 0)
        return -errno;
    if (chmod(a->sa.sun_path, mode) < 0) {
        int err = -errno;
        unlink(a->sa.sun_path);
        return err;
    }
    return 0;
}

/* Bind in place and listen; on failure nothing we made is left. */
static int bind_path(const struct zipc__addr *a, uint32_t mode, int s)
{
    int err = bind_with_mode(a, mode, s);
    if (err == 0 && listen(s, SOMAXCONN) < 0) {
        err = -errno;
        unlink(a->sa.sun_path);
    }
    return err;
}

static int bind_abstract(const struct zipc__addr *a, int s)
{
    return bind(s, (const struct sockaddr *)&a->sa, a->len) < 0 || listen(s, SOMAXCONN) < 0 ? -errno : 0;
}

int zipc__addr_bind(const struct zipc__addr *a, const struct zipc__opts *o, int *lsock)
{
    int lock = -1, err = 0;
    if (!a->abstract && ((err = path_turn(a->sa.sun_path, &lock)) == 0))
        err = replace_stale(a);
    int s = err ? err : new_socket();
    if (s >= 0)
        err = a->abstract ? bind_abstract(a, s) : bind_path(a, o->socket_mode, s);
    if (lock >= 0)
        close(lock); /* our turn ends once we listen (or gave up) */
    if (s < 0 || err) {
        if (s >= 0)
            close(s);
        return s < 0 ? s : err;
    }
    *lsock = s;
    return 0;
}

void zipc__addr_unbind(const struct zipc__addr *a, int *lsock)
{
    if (*lsock < 0)
        return;
    /* Unlink while still listening: until then no other listener can have
     * found the file stale and replaced it. */
    if (!a->abstract)
        unlink(a->sa.sun_path);
    close(*lsock);
    *lsock = -1;
}

/* ---- connecting --------------------------------------------------------- */

static bool retry_later(int err)
{
    return err == -ENOENT || err == -ECONNREFUSED || err == -EAGAIN;
}

int zipc__addr_connect(const struct zipc__addr *a, int64_t deadline, int *sock)
{
    int64_t backoff = ZIPC__CONNECT_BACKOFF_MIN_NS;
    for (;;) {
        int err = connect_once(a, sock);
        if (err == 0)
            return 0;
        struct stat st;
        if (err == -ECONNREFUSED && !a->abstract && lstat(a->sa.sun_path, &st) == 0 &&
            !S_ISSOCK(st.st_mode))
            return -ENOTSOCK;
        if (!retry_later(err))
            return err; /* including -EINTR: a signal must be able to stop the wait */
        int64_t left = deadline - zipc__now_ns();
        if (left <= 0) /* an unbound abstract name refuses: for us it does not exist */
            return err == -EAGAIN ? -ETIMEDOUT : a->abstract ? -ENOENT : err;
        if ((err = zipc__sleep_ns(backoff < left ? backoff : left)))
            return err;
        backoff = backoff * 2 > ZIPC__CONNECT_BACKOFF_MAX_NS ? ZIPC__CONNECT_BACKOFF_MAX_NS : backoff * 2;
    }
}

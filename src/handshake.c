/* Handshake: a Unix stream socket rendezvous that checks credentials and
 * ABI, then passes the segment's memfd and wake eventfds by SCM_RIGHTS.
 *
 *   connector                      listener
 *   connect()          ------->    accept(), SO_PEERCRED uid check
 *   hello {abi, kind}  ------->    ABI/kind check
 *                      <-------    welcome {status, role, size} + fds
 *   validate segment
 *   ack {status}       ------->
 *
 * The connected socket then stays open for the channel's lifetime: its EOF
 * is how each side learns that the other is gone. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define ZIPC__HELLO_TIMEOUT_NS 2000000000LL /* a silent connection is dropped after 2 s */

static int make_addr(const char *path, struct sockaddr_un *addr)
{
    if (!path || !*path)
        return -EINVAL;
    size_t len = strlen(path);
    if (len >= sizeof(addr->sun_path))
        return -ENAMETOOLONG;
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, path, len + 1);
    return 0;
}

/* Wait until fd has `events` or the deadline passes. */
static int poll_until(int fd, short events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n = zipc__ppoll(&p, 1, deadline);
    return n > 0 ? 0 : n;
}

/* After a non-blocking socket call failed: 0 to try again (the socket is
 * ready now), or the error to return. */
static int retry_when_ready(int sock, short events, int64_t deadline)
{
    if (errno != EAGAIN)
        return errno == ECONNRESET ? -EPIPE : -errno;
    return poll_until(sock, events, deadline);
}

static int send_msg(int sock, const void *buf, size_t len, const int *fds, int nfds, int64_t deadline)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * ZIPC__HANDSHAKE_MAX_FDS)];
    } ctl;
    const char *p = buf;
    while (len > 0) {
        struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (nfds > 0) { /* fds ride with the first byte only */
            memset(&ctl, 0, sizeof(ctl));
            mh.msg_control = ctl.buf;
            mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
            memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
        }
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            int r = retry_when_ready(sock, POLLOUT, deadline);
            if (r)
                return r;
            continue;
        }
        p += n;
        len -= (size_t)n;
        nfds = 0;
    }
    return 0;
}

/* Keep the fds of one SCM_RIGHTS message; excess fds are closed and make
 * the whole message bad. */
static int take_fds(struct msghdr *mh, int *fds, int max, int *got)
{
    int err = (mh->msg_flags & MSG_CTRUNC) ? -EBADMSG : 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + sizeof(int) * (size_t)i, sizeof(int));
            if (*got < max)
                fds[(*got)++] = fd;
            else {
                close(fd);
                err = -EBADMSG;
            }
        }
    }
    return err;
}

static int recv_exact(int sock, void *buf, size_t len, int *fds, int max_fds, int *got,
                      int64_t deadline)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * ZIPC__HANDSHAKE_MAX_FDS)];
    } ctl;
    char *p = buf;
    int dummy = 0, err = 0;
    if (!got)
        got = &dummy;
    while (len > 0) {
        struct iovec iov = {.iov_base = p, .iov_len = len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                            .msg_controllen = sizeof(ctl.buf)};
        ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
            int r = retry_when_ready(sock, POLLIN, deadline);
            if (r)
                return r;
            continue;
        }
        int e = take_fds(&mh, fds, max_fds, got);
        if (e)
            err = e;
        if (n == 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return err;
}

static void close_fds(int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1; /* the caller's cleanup must not close them again */
    }
}

bool zipc__uid_allowed(const struct zipc__opts *o, uint32_t uid)
{
    return uid == (uint32_t)geteuid() || (o->flags & ZIPC_OPT_ANY_UID) ||
           ((o->flags & ZIPC_OPT_PEER_UID) && uid == o->peer_uid);
}

static int peer_creds(int sock, struct zipc__peer *peer)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    peer->sock = sock;
    peer->pid = cred.pid;
    peer->uid = cred.uid;
    return 0;
}

/* ---- listener -------------------------------------------------------- */

/* A path is stale when it is a socket nobody accepts on. */
static int replace_stale(const char *path, const struct sockaddr_un *addr)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -ENOTSOCK;
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return -errno;
    int r = connect(probe, (const struct sockaddr *)addr, sizeof(*addr));
    int e = errno;
    close(probe);
    if (r == 0)
        return -EADDRINUSE;
    if (e != ECONNREFUSED)
        return -e;
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* Publish the bound socket file `tmp` at `path`, never replacing a file
 * that appeared there meanwhile (a listener that won the race). */
static int publish_socket_file(const char *tmp, const char *path)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    int e = errno;
    if (e == EINVAL || e == ENOSYS) /* no RENAME_NOREPLACE on this filesystem */
        e = link(tmp, path) == 0 ? 0 : errno;
    unlink(tmp);
    return e == EEXIST ? -EADDRINUSE : -e;
}

/* The socket file appears at `path` complete: bound, with its final mode,
 * and listening. It is bound under a temporary name next to `path` first,
 * because the mode given at bind() is reduced by the umask: a wider mode
 * (0660, 0666) needs a chmod, which must happen before anyone can see the
 * file. Without room for the temporary name, bind in place (fchmod first,
 * so the file is never wider than asked, only briefly narrower). */
int zipc__listen_socket(const char *path, const struct zipc__opts *o, int *lsock)
{
    struct sockaddr_un addr, tmp;
    static unsigned counter;
    int err = make_addr(path, &addr);
    if (err || (err = replace_stale(path, &addr)))
        return err;
    char tmp_path[sizeof(tmp.sun_path)];
    int n = snprintf(tmp_path, sizeof(tmp_path), "%s.%d.%u~", path, (int)getpid(),
                     __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    bool in_place = n < 0 || (size_t)n >= sizeof(tmp_path);
    if ((err = make_addr(in_place ? path : tmp_path, &tmp)))
        return err;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (fchmod(s, o->socket_mode) < 0 || bind(s, (struct sockaddr *)&tmp, sizeof(tmp)) < 0) {
        err = -errno;
        close(s);
        return err;
    }
    if (chmod(tmp.sun_path, o->socket_mode) < 0 || listen(s, 8) < 0)
        err = -errno;
    else if (!in_place)
        err = publish_socket_file(tmp_path, path);
    if (err) {
        unlink(tmp.sun_path);
        close(s);
        return err;
    }
    *lsock = s;
    return 0;
}

static int send_refusal(int sock, uint32_t kind, int status)
{
    struct zipc_welcome w = {.magic = ZIPC_WELCOME_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                             .abi_minor = ZIPC_ABI_MINOR, .status = (uint32_t)status, .kind = kind};
    return send_msg(sock, &w, sizeof(w), NULL, 0, zipc__now_ns() + ZIPC__HELLO_TIMEOUT_NS);
}

int zipc__accept_peer(int lsock, uint32_t kind, const struct zipc__opts *o, int64_t deadline,
                      struct zipc__peer *out)
{
    for (;;) {
        struct zipc__peer peer_, *peer = &peer_; /* copied out only on success */
        int err = poll_until(lsock, POLLIN, deadline);
        if (err)
            return err;
        int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EAGAIN || errno == ECONNABORTED)
                continue;
            return -errno;
        }
        err = peer_creds(c, peer);
        if (err) {
            close(c);
            return err;
        }
        if (!zipc__uid_allowed(o, peer->uid)) {
            send_refusal(c, kind, EPERM); /* refused before any data flows */
            close(c);
            continue;
        }
        struct zipc_hello h;
        int64_t hello_deadline = zipc__now_ns() + ZIPC__HELLO_TIMEOUT_NS;
        err = recv_exact(c, &h, sizeof(h), NULL, 0, NULL,
                         hello_deadline < deadline ? hello_deadline : deadline);
        if (err == 0 && h.magic == ZIPC_HELLO_MAGIC) {
            if (h.abi_major == ZIPC_ABI_MAJOR && h.kind == kind) {
                *out = *peer;
                return 0;
            }
            send_refusal(c, kind, EPROTO);
            close(c);
            return -EPROTO;
        }
        /* A probe, a silent or a foreign client: drop it, keep listening. */
        close(c);
        if (err == -EINTR)
            return err;
    }
}

int zipc__welcome_peer(struct zipc__peer *peer, const struct zipc_welcome *w, const int *fds,
                       int nfds, int64_t deadline)
{
    int err = send_msg(peer->sock, w, sizeof(*w), fds, nfds, deadline);
    if (err)
        return err;
    struct zipc_ack ack;
    err = recv_exact(peer->sock, &ack, sizeof(ack), NULL, 0, NULL, deadline);
    if (err)
        return err;
    if (ack.magic != ZIPC_ACK_MAGIC)
        return -EPROTO;
    return ack.status ? -(int)(ack.status < 4096 ? ack.status : EPROTO) : 0;
}

/* ---- connector ------------------------------------------------------- */

static int connect_once(const struct sockaddr_un *addr, int *sock)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (connect(s, (const struct sockaddr *)addr, sizeof(*addr)) == 0) {
        *sock = s;
        return 0;
    }
    int e = errno;
    close(s);
    return -e;
}

static int sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    return nanosleep(&ts, NULL) < 0 && errno == EINTR ? -EINTR : 0;
}

int zipc__connect_peer(const char *path, uint32_t kind, const struct zipc__opts *o,
                       int64_t deadline, struct zipc__peer *peer)
{
    struct sockaddr_un addr;
    int err = make_addr(path, &addr);
    if (err)
        return err;
    int sock = -1;
    int64_t backoff = 1000000; /* 1 ms, doubling to 50 ms: the listener may start later */
    for (;;) {
        err = connect_once(&addr, &sock);
        if (err == 0)
            break;
        struct stat st;
        if (err == -ECONNREFUSED && lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
            return -ENOTSOCK;
        if (err != -ENOENT && err != -ECONNREFUSED && err != -EAGAIN)
            return err; /* including -EINTR: a signal must be able to stop the wait */
        int64_t left = deadline - zipc__now_ns();
        if (left <= 0)
            return err == -EAGAIN ? -ETIMEDOUT : err;
        if ((err = sleep_ns(backoff < left ? backoff : left)))
            return err;
        backoff = backoff * 2 > 50000000 ? 50000000 : backoff * 2;
    }
    err = peer_creds(sock, peer);
    if (err == 0 && !zipc__uid_allowed(o, peer->uid))
        err = -EPERM;
    if (err == 0) {
        struct zipc_hello h = {.magic = ZIPC_HELLO_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                               .abi_minor = ZIPC_ABI_MINOR, .kind = kind,
                               .pid = (uint32_t)getpid()};
        err = send_msg(sock, &h, sizeof(h), NULL, 0, deadline);
        /* A listener that refuses us writes its refusal and closes without
         * reading: our hello may then fail, but the refusal is waiting. */
        if (err == -EPIPE)
            err = 0;
    }
    if (err)
        close(sock);
    return err;
}

int zipc__receive_welcome(struct zipc__peer *peer, uint32_t kind, struct zipc_welcome *w,
                          int *fds, int nfds, int64_t deadline)
{
    int got = 0;
    int err = recv_exact(peer->sock, w, sizeof(*w), fds, nfds, &got, deadline);
    if (err == 0 && w->magic != ZIPC_WELCOME_MAGIC)
        err = -EPROTO;
    else if (err == 0 && w->status) /* a listener refuses with EPERM or EPROTO, nothing else */
        err = w->status == EPERM ? -EPERM : -EPROTO;
    else if (err == 0 && (w->abi_major != ZIPC_ABI_MAJOR || w->kind != kind))
        err = -EPROTO;
    else if (err == 0 && got != nfds)
        err = -EBADMSG;
    if (err) {
        close_fds(fds, got);
        if (err == -EPROTO || err == -EBADMSG)
            zipc__send_ack(peer, -err); /* tell the listener why, best effort */
    }
    return err;
}

int zipc__send_ack(struct zipc__peer *peer, int status)
{
    struct zipc_ack ack = {.magic = ZIPC_ACK_MAGIC, .status = (uint32_t)(status < 0 ? -status : status)};
    return send_msg(peer->sock, &ack, sizeof(ack), NULL, 0, zipc__now_ns() + ZIPC__HELLO_TIMEOUT_NS);
}

int zipc__check_eventfd(int fd)
{
    char link[64], target[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n >= 0) {
        target[n] = 0;
        if (strcmp(target, "anon_inode:[eventfd]") != 0)
            return -EBADMSG;
    }
    /* Non-blocking whatever it is: a wake-up must never block us. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -EBADMSG;
    return 0;
}

/* Handshake: the messages on a connected Unix stream socket, which check
 * credentials and ABI, then pass a kind's fds (the segment's memfd first,
 * then eventfds) by SCM_RIGHTS. Finding the socket is names.c's job; the
 * sequence and its unwinding are endpoint.c's.
 *
 *   connector                      listener
 *   connect()          ------->    accept(), SO_PEERCRED uid check
 *   hello {abi, kind}  ------->    ABI/kind check
 *                      <-------    welcome {status, role, size} + fds
 *   validate segment
 *   ack {status}       ------->
 *
 * The connected socket then stays open for the endpoint's lifetime: its EOF
 * is how each side learns that the other is gone. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define ZIPC__HELLO_TIMEOUT_NS 2000000000LL /* a silent connection is dropped after 2 s */

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
static int send_refusal(int sock, uint32_t kind, int status)
{
    struct zipc_welcome w = {.magic = ZIPC_WELCOME_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                             .abi_minor = ZIPC_ABI_MINOR, .status = (uint32_t)status, .kind = kind};
    return send_msg(sock, &w, sizeof(w), NULL, 0, zipc__now_ns() + ZIPC__HELLO_TIMEOUT_NS);
}

int zipc__accept_one(int lsock, uint32_t kind, const struct zipc__opts *o, int64_t deadline,
                     struct zipc__peer *out)
{
    struct zipc__peer peer_, *peer = &peer_; /* copied out only on success */
    int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return errno == EAGAIN || errno == ECONNABORTED ? -EAGAIN : -errno;
    int err = peer_creds(c, peer);
    if (err) {
        close(c);
        return err;
    }
    if (!zipc__uid_allowed(o, peer->uid)) {
        send_refusal(c, kind, EPERM); /* refused before any data flows */
        close(c);
        return -EAGAIN;
    }
    struct zipc_hello h;
    int64_t hello_deadline = zipc__now_ns() + ZIPC__HELLO_TIMEOUT_NS;
    err = recv_exact(c, &h, sizeof(h), NULL, 0, NULL, hello_deadline < deadline ? hello_deadline : deadline);
    if (err == 0 && h.magic == ZIPC_HELLO_MAGIC) {
        if (h.abi_major == ZIPC_ABI_MAJOR && h.kind == kind) {
            peer->sock = c;
            *out = *peer;
            return 0;
        }
        send_refusal(c, kind, EPROTO);
        close(c);
        return -EPROTO;
    }
    /* A probe, a silent or a foreign client: dropped. */
    close(c);
    return err == -EINTR ? err : -EAGAIN;
}

int zipc__accept_peer(int lsock, uint32_t kind, const struct zipc__opts *o, int64_t deadline,
                      struct zipc__peer *out)
{
    for (;;) {
        int err = poll_until(lsock, POLLIN, deadline);
        if (err || (err = zipc__accept_one(lsock, kind, o, deadline, out)) != -EAGAIN)
            return err;
    }
}

int zipc__refuse_peer(struct zipc__peer *peer, uint32_t kind, int status)
{
    return send_refusal(peer->sock, kind, status < 0 ? -status : status);
}

int zipc__receive_ack(int sock, int64_t deadline) { return zipc__receive_ack_fd(sock, deadline, NULL); }

int zipc__receive_ack_fd(int sock, int64_t deadline, int *fd)
{
    struct zipc_ack ack;
    int got = 0, fds[1] = {-1};
    int err = recv_exact(sock, &ack, sizeof(ack), fds, fd ? 1 : 0, &got, deadline);
    if (!err && ack.magic == ZIPC_ACK_MAGIC && ack.status == 0 && fd) {
        *fd = fds[0]; /* -1 if none came */
        return 0;
    }
    close_fds(fds, got);
    if (err)
        return err;
    if (ack.magic != ZIPC_ACK_MAGIC)
        return -EPROTO;
    return ack.status ? -(int)(ack.status < 4096 ? ack.status : EPROTO) : 0;
}

int zipc__welcome_peer(struct zipc__peer *peer, const struct zipc_welcome *w, const int *fds,
                       int nfds, int64_t deadline)
{
    int err = send_msg(peer->sock, w, sizeof(*w), fds, nfds, deadline);
    return err ? err : zipc__receive_ack(peer->sock, deadline);
}

/* ---- connector ------------------------------------------------------- */

int zipc__send_hello(int sock, uint32_t kind, const struct zipc__opts *o, int64_t deadline,
                     struct zipc__peer *peer)
{
    int err = peer_creds(sock, peer);
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
    if (err) {
        close(sock);
        peer->sock = -1;
    }
    return err;
}

int zipc__receive_welcome(struct zipc__peer *peer, uint32_t kind, struct zipc_welcome *w,
                          int *fds, int nfds, int64_t deadline)
{
    int got = 0;
    int err = recv_exact(peer->sock, w, sizeof(*w), fds, nfds, &got, deadline);
    if (err == 0 && w->magic != ZIPC_WELCOME_MAGIC)
        err = -EPROTO;
    else if (err == 0 && w->status) /* a listener refuses with EPERM, ENOSPC, ESTALE (a superseded
                                       store holder) or EPROTO, nothing else */
        err = w->status == EPERM || w->status == ENOSPC || w->status == ESTALE ? -(int)w->status : -EPROTO;
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

int zipc__send_ack(struct zipc__peer *peer, int status) { return zipc__send_ack_fd(peer, status, -1); }

int zipc__send_ack_fd(struct zipc__peer *peer, int status, int fd)
{
    struct zipc_ack ack = {.magic = ZIPC_ACK_MAGIC, .status = (uint32_t)(status < 0 ? -status : status)};
    return send_msg(peer->sock, &ack, sizeof(ack), &fd, fd >= 0 ? 1 : 0, zipc__now_ns() + ZIPC__HELLO_TIMEOUT_NS);
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


#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif

int zipc__peer_pidfd(int sock, int pid)
{
    int fd = -1;
    socklen_t len = sizeof(fd);
    if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && fd >= 0)
        return fd;
    fd = pid > 0 ? zipc__pidfd_open((uint32_t)pid) : -1;
    return fd >= 0 ? fd : -1;
}

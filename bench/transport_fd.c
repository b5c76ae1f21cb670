/* zipc bench: the kernel baselines, a pipe pair and a Unix stream
 * socketpair. One write(2) per message (the counterpart of one commit per
 * message); the stream consumer reads with a buffer of max(64 KiB, message)
 * and verifies every message it completes. Default kernel buffer sizes:
 * what an application gets without tuning. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

#define FD_BUF_MIN (64 * 1024)

static void fds_none(struct link *l)
{
    for (int i = 0; i < 4; i++)
        l->fd[i] = -1;
    l->rfd = l->wfd = -1;
}

/* fd[0]: child -> parent read end, fd[1]: its write end;
 * fd[2]: parent -> child read end, fd[3]: its write end. */
static int pipe_setup(struct link *l)
{
    fds_none(l);
    if (pipe2(&l->fd[0], O_CLOEXEC) || pipe2(&l->fd[2], O_CLOEXEC))
        return bench_fail(-errno, "pipe2");
    return 0;
}

/* fd[0]: the parent's end, fd[1]: the child's end. */
static int unix_setup(struct link *l)
{
    fds_none(l);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, &l->fd[0]))
        return bench_fail(-errno, "socketpair(AF_UNIX, SOCK_STREAM)");
    return 0;
}

/* Keep this side's read and write descriptors, close the rest: a reader
 * must see EOF when the peer closes, so no stray write end may stay open. */
static int fd_keep(struct link *l, int r, int w)
{
    l->rfd = l->fd[r];
    l->wfd = l->fd[w];
    for (int i = 0; i < 4; i++) {
        if (i == r || i == w)
            continue;
        if (l->fd[i] >= 0)
            close(l->fd[i]);
        l->fd[i] = -1;
    }
    l->buf_len = l->size > FD_BUF_MIN ? l->size : FD_BUF_MIN;
    l->buf = malloc(l->buf_len);
    if (!l->buf)
        return bench_fail(-ENOMEM, "receive buffer of %zu bytes", l->buf_len);
    memset(l->buf, 0, l->buf_len); /* fault it in before the clock runs */
    return 0;
}

static int pipe_open(struct link *l)
{
    return l->side == SIDE_PARENT ? fd_keep(l, 0, 3) : fd_keep(l, 2, 1);
}

static int unix_open(struct link *l)
{
    return l->side == SIDE_PARENT ? fd_keep(l, 0, 0) : fd_keep(l, 1, 1);
}

static int fd_close(struct link *l)
{
    for (int i = 0; i < 4; i++)
        if (l->fd[i] >= 0)
            close(l->fd[i]);
    fds_none(l);
    free(l->buf);
    l->buf = NULL;
    return 0;
}

/* EINTR is not retried: the only signal is the watchdog's alarm. */
static int fd_send(struct link *l, const void *msg)
{
    const uint8_t *p = msg;
    for (size_t left = l->size; left > 0;) {
        ssize_t n = write(l->wfd, p, left);
        if (n < 0)
            return bench_fail(-errno, "write(%s)", l->t->name);
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

static int fd_read(struct link *l, void *buf, size_t len)
{
    ssize_t n = read(l->rfd, buf, len);
    if (n < 0)
        return bench_fail(-errno, "read(%s)", l->t->name);
    return n == 0 ? -EPIPE : (int)n;
}

static int fd_recv(struct link *l, const void **msg)
{
    for (size_t got = 0; got < l->size;) {
        int n = fd_read(l, l->buf + got, l->size - got);
        if (n < 0)
            return n == -EPIPE ? bench_fail(n, "read(%s): end of stream", l->t->name) : n;
        got += (size_t)n;
    }
    *msg = l->buf;
    return 0;
}

/* Copy the part of stream bytes [pos, pos + n) (at p) that falls in
 * [lo, lo + 8) of the message into dst. */
static void grab(uint8_t *dst, size_t lo, size_t pos, const uint8_t *p, size_t n)
{
    size_t a = pos > lo ? pos : lo, b = pos + n < lo + 8 ? pos + n : lo + 8;
    if (a < b)
        memcpy(dst + (a - lo), p + (a - pos), b - a);
}

/* Feed n bytes of the stream to the message scanner; returns the number of
 * messages completed and verified, or an error. A whole message is checked
 * in place; only one split across reads is reassembled (its ends). */
static int scan_bytes(struct link *l, const uint8_t *p, size_t n)
{
    struct scan *s = &l->scan;
    size_t size = l->size;
    int done = 0;
    while (n > 0) {
        if (s->pos == 0 && n >= size) {
            int err = link_check(l, p);
            if (err)
                return err;
            p += size, n -= size, done++;
            continue;
        }
        size_t take = size - s->pos < n ? size - s->pos : n;
        grab(s->head, 0, s->pos, p, take);
        grab(s->tail, size - 8, s->pos, p, take);
        s->pos += take, p += take, n -= take;
        if (s->pos == size) {
            if (!msg_ok(s->head, s->tail, l->expect))
                return bench_fail_plain(-EBADMSG, "%s: message %llu corrupted", l->t->name,
                                  (unsigned long long)l->expect);
            l->expect++, s->pos = 0, done++;
        }
    }
    return done;
}

static int fd_take(struct link *l)
{
    int n = fd_read(l, l->buf, l->buf_len);
    return n < 0 ? n : scan_bytes(l, l->buf, (size_t)n);
}

const struct transport transport_pipe = {
    .name = "pipe", .setup = pipe_setup, .open = pipe_open, .close = fd_close,
    .send = fd_send, .recv = fd_recv, .take = fd_take,
};

const struct transport transport_unix = {
    .name = "unix", .setup = unix_setup, .open = unix_open, .close = fd_close,
    .send = fd_send, .recv = fd_recv, .take = fd_take,
};

/* fuzz_handshake: the handshake messages as a hostile peer sends them.
 *
 * Input: byte 0 % 3 picks the receiving side:
 *   0  connector: the bytes are the listener's welcome, read by
 *      zipc__receive_welcome; an accepted welcome's fds then go to
 *      zipc__channel_adopt (zipc__endpoint_adopt with the channel's
 *      descriptor) and the result is acked, as zipc__endpoint_connect does
 *      (and its fds are cleaned up the way it does);
 *   1  listener: the bytes are a client's hello, read by zipc__accept_peer
 *      on a listening socket set up once (a well-behaved second client stands in line,
 *      so a dropped first one never leaves the accept loop waiting);
 *   2  listener after its welcome: the bytes are the connector's ack, read
 *      by zipc__welcome_peer.
 * Then chunks, each one sendmsg: {u8 length, u8 fd count (& 7), one kind
 * byte per fd, the bytes}; the sender then shuts its side down (EOF), so
 * nothing may wait for a deadline. Checked: no crash, no fd leaked or closed
 * twice, no call waits, the listener accepts or refuses (-EPROTO) only.
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RING 256
#define SEGMENT_SIZE (ZIPC_CHANNEL_RING_OFFSET + RING)
#define MAX_FDS 16      /* per input: fds are the slow part */
#define DEADLINE_NS 200000000 /* never reached: every peer ends with EOF */

enum target { CONNECTOR, LISTENER, LISTENER_ACK, N_TARGETS };
enum fd_kind { FD_SEGMENT, FD_EVENTFD, FD_EVENTFD2, FD_PIPE, FD_MEMFD, FD_DEVNULL, N_KINDS };

static uint8_t image[SEGMENT_SIZE];
static int segment_memfd = -1; /* a valid channel segment, like a listener's */
static struct sockaddr_un listen_addr; /* abstract: nothing to clean up */
static socklen_t listen_len;
static int lsock = -1;

/* ---- the sending peer ------------------------------------------------ */

static int make_fd(enum fd_kind kind)
{
    int p[2];
    switch (kind) {
    case FD_SEGMENT:
        if (pwrite(segment_memfd, image, sizeof(image), 0) != (ssize_t)sizeof(image))
            return -1;
        return fcntl(segment_memfd, F_DUPFD_CLOEXEC, 0);
    case FD_EVENTFD:
    case FD_EVENTFD2: return fz_eventfd();
    case FD_PIPE:
        if (pipe2(p, O_CLOEXEC) < 0)
            return -1;
        fz_close(&p[1]);
        return p[0];
    case FD_MEMFD: return fz_memfd(image, sizeof(image), sizeof(image), 0, true);
    default: return open("/dev/null", O_RDWR | O_CLOEXEC);
    }
}

static void send_chunk(int sock, const uint8_t *buf, size_t len, const int *fds, int nfds)
{
    if (wire_sendmsg(sock, buf, len, fds, nfds, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* the receiver may be gone, or the fd limit reached: the bytes are lost */
    }
}

/* Send the rest of the input as chunks with fds, then EOF. */
static void send_chunks(int sock, struct fz_in *in)
{
    int budget = MAX_FDS;
    while (in->n) {
        size_t len = fz_u8(in);
        int want = fz_u8(in) & 7, nfds = 0, fds[8];
        for (int i = 0; i < want; i++) {
            enum fd_kind kind = (enum fd_kind)(fz_u8(in) % N_KINDS);
            if (budget > 0 && (fds[nfds] = make_fd(kind)) >= 0)
                nfds++, budget--;
        }
        uint8_t buf[256];
        len = fz_take(in, buf, len);
        send_chunk(sock, buf, len, fds, nfds);
        fz_close_all(fds, nfds);
    }
    FZ_CHECK(shutdown(sock, SHUT_WR) == 0);
}

static int64_t started;

/* The deadline of a call that must not wait: every peer ends with EOF. */
static int64_t deadline(void)
{
    started = zipc__now_ns();
    return started + DEADLINE_NS;
}

static void check_no_wait(void) { FZ_CHECK(zipc__now_ns() - started < DEADLINE_NS / 2); }

/* ---- connector: the welcome ------------------------------------------ */

static void connector(struct fz_in *in)
{
    int sp[2];
    FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    send_chunks(sp[1], in);
    struct zipc__peer peer = {.sock = sp[0], .pid = getpid(), .uid = (uint32_t)geteuid()};
    struct zipc_welcome w;
    int fds[ZIPC__CHANNEL_NFDS] = {-1, -1, -1};
    int err = zipc__receive_welcome(&peer, ZIPC_KIND_CHANNEL, &w, fds, ZIPC__CHANNEL_NFDS, deadline());
    check_no_wait();
    FZ_CHECK(err <= 0); /* a refusal's status can be any errno the listener likes */
    if (err == 0) {
        FZ_CHECK(fds[0] >= 0 && fds[1] >= 0 && fds[2] >= 0);
        zipc_channel *ch;
        if (fz_adopt(&ch, fds, (int)w.connector_role, sp[0], peer.pid, w.segment_size, true, 0) == 0) {
            struct fz_ring r = fz_ring_of_last_map(RING);
            if (zipc_channel_role(ch) == ZIPC_ROLE_CONSUMER)
                fz_consume_some(ch, &r, 2);
            else
                fz_produce_some(ch, &r, 0, 4);
            FZ_CHECK(zipc_channel_close(ch) == 0);
        }
        sp[0] = -1; /* fz_adopt took it */
    }
    fz_close_all(fds, ZIPC__CHANNEL_NFDS); /* what zipc__endpoint_connect does after a failure */
    fz_close_all(sp, 2);
}

/* ---- listener: the hello --------------------------------------------- */

static int connect_client(void)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FZ_CHECK(s >= 0 && connect(s, (struct sockaddr *)&listen_addr, listen_len) == 0);
    return s;
}

static void drain_backlog(void)
{
    int c;
    while ((c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC)) >= 0)
        fz_close(&c);
}

static void listener(struct fz_in *in)
{
    int c1 = connect_client(), c2 = connect_client();
    send_chunks(c1, in);
    struct zipc_hello h = {.magic = ZIPC_HELLO_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                           .abi_minor = ZIPC_ABI_MINOR, .kind = ZIPC_KIND_CHANNEL, .pid = 1};
    uint8_t chunk[2 + sizeof(h)] = {sizeof(h), 0}; /* {length, no fds}, the hello */
    memcpy(chunk + 2, &h, sizeof(h));
    struct fz_in good = {chunk, sizeof(chunk)};
    send_chunks(c2, &good);
    struct zipc__opts o;
    fz_opts(&o, 0);
    struct zipc__peer peer = {.sock = -1};
    int err = zipc__accept_peer(lsock, ZIPC_KIND_CHANNEL, &o, deadline(), &peer);
    check_no_wait();
    FZ_CHECK(err == 0 || err == -EPROTO);
    FZ_CHECK(err != 0 || peer.sock >= 0);
    fz_close(&peer.sock); /* what zipc_channel_listen does, after a failure too */
    drain_backlog();
    fz_close(&c1);
    fz_close(&c2);
}

/* ---- listener: the ack ----------------------------------------------- */

static void listener_ack(struct fz_in *in)
{
    int sp[2];
    FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    send_chunks(sp[1], in);
    struct zipc_welcome w = {.magic = ZIPC_WELCOME_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                             .abi_minor = ZIPC_ABI_MINOR, .kind = ZIPC_KIND_CHANNEL,
                             .connector_role = ZIPC_ROLE_PRODUCER, .segment_size = SEGMENT_SIZE};
    int fds[ZIPC__CHANNEL_NFDS] = {make_fd(FD_SEGMENT), fz_eventfd(), fz_eventfd()};
    struct zipc__peer peer = {.sock = sp[0]};
    int err = zipc__welcome_peer(&peer, &w, fds, ZIPC__CHANNEL_NFDS, deadline());
    check_no_wait();
    FZ_CHECK(err <= 0); /* the ack's status is the connector's errno */
    fz_close_all(fds, 3);
    fz_close_all(sp, 2);
}

/* ---- setup and seeds ------------------------------------------------- */

/* A listening socket on an abstract name, like a zipc name's (names.c;
 * zipc__accept_peer takes any listening socket); non-blocking, so the
 * backlog can be drained after each input. */
static void setup_listener(void)
{
    listen_addr.sun_family = AF_UNIX;
    int n = snprintf(listen_addr.sun_path + 1, sizeof(listen_addr.sun_path) - 1,
                     "zipc-fuzz-%d", (int)getpid());
    listen_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    FZ_CHECK(lsock >= 0 && bind(lsock, (struct sockaddr *)&listen_addr, listen_len) == 0 &&
             listen(lsock, 8) == 0);
}

static void seed(const char *dir_, const char *name, enum target t, const void *msg, size_t len,
                 const uint8_t *kinds, int nfds)
{
    uint8_t b[3 + 8 + 64] = {(uint8_t)t, (uint8_t)len, (uint8_t)nfds};
    memcpy(b + 3, kinds, (size_t)nfds);
    memcpy(b + 3 + nfds, msg, len);
    fz_seed_write(dir_, name, b, 3 + (size_t)nfds + len);
}

static void write_seeds(const char *d)
{
    static const uint8_t ok[] = {FD_SEGMENT, FD_EVENTFD, FD_EVENTFD}, extra[] = {0, 1, 1, 3};
    struct zipc_welcome w = {.magic = ZIPC_WELCOME_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                             .abi_minor = ZIPC_ABI_MINOR, .kind = ZIPC_KIND_CHANNEL,
                             .connector_role = ZIPC_ROLE_PRODUCER, .segment_size = SEGMENT_SIZE};
    seed(d, "welcome-producer", CONNECTOR, &w, sizeof(w), ok, 3);
    seed(d, "welcome-extra-fd", CONNECTOR, &w, sizeof(w), extra, 4);
    seed(d, "welcome-no-fds", CONNECTOR, &w, sizeof(w), ok, 0);
    w.connector_role = ZIPC_ROLE_CONSUMER;
    seed(d, "welcome-consumer", CONNECTOR, &w, sizeof(w), ok, 3);
    w.status = EPERM;
    seed(d, "welcome-refused", CONNECTOR, &w, sizeof(w), ok, 0);
    struct zipc_hello h = {.magic = ZIPC_HELLO_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                           .abi_minor = ZIPC_ABI_MINOR, .kind = ZIPC_KIND_CHANNEL, .pid = 1};
    seed(d, "hello", LISTENER, &h, sizeof(h), ok, 0);
    seed(d, "hello-with-fd", LISTENER, &h, sizeof(h), ok, 1);
    h.abi_major++;
    seed(d, "hello-other-abi", LISTENER, &h, sizeof(h), ok, 0);
    struct zipc_ack a = {.magic = ZIPC_ACK_MAGIC};
    seed(d, "ack", LISTENER_ACK, &a, sizeof(a), ok, 0);
    a.status = EBADMSG;
    seed(d, "ack-refused", LISTENER_ACK, &a, sizeof(a), ok, 0);
}

static void setup(void)
{
    fz_image_build(image, SEGMENT_SIZE, RING);
    segment_memfd = fz_memfd(image, sizeof(image), sizeof(image), FZ_SEALS, true);
    FZ_CHECK(segment_memfd >= 0);
    setup_listener();
}

static void run(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    switch (fz_u8(&in) % N_TARGETS) {
    case CONNECTOR: connector(&in); break;
    case LISTENER: listener(&in); break;
    default: listener_ack(&in); break;
    }
}

FZ_HARNESS(write_seeds, setup, run)

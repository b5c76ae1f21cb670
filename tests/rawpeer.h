/* rawpeer.h: a fake zipc peer built from plain socket code and the structs
 * of zipc/abi.h only (no library internals), for the ABI and hostile-peer
 * tests. Header-only; include after testutil.h.
 *
 *   raw_server_*   a fake listener: a thread that accepts one connection,
 *                  reads the hello, answers with a scripted welcome (+ fds),
 *                  reads the ack and keeps the connection open;
 *   raw_seg_*      a channel segment made by hand (memfd, header, control
 *                  block), valid by default, for the test to corrupt;
 *   raw_put_msg()  a fake producer writing frames by the ABI's rules.
 */
#ifndef ZIPC_RAWPEER_H
#define ZIPC_RAWPEER_H

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "testutil.h"
#include "wire.h"
#include "zipc/abi.h"

/* ---- sockets --------------------------------------------------------------- */

static inline int raw_addr(const char *path, struct sockaddr_un *a)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
    return 0;
}

static inline int raw_listen_socket(const char *path)
{
    struct sockaddr_un a;
    raw_addr(path, &a);
    unlink(path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 8) < 0) {
        CHECK_MSG(0, "raw listen at %s: %s", path, strerror(errno));
        if (s >= 0)
            close(s);
        return -1;
    }
    return s;
}

static inline int raw_connect_socket(const char *path, int timeout_ms)
{
    struct sockaddr_un a;
    raw_addr(path, &a);
    int64_t end = tu_now_ns() + timeout_ms * TU_MS;
    for (;;) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
            return s;
        if (s >= 0)
            close(s);
        if (tu_now_ns() > end)
            return -1;
        tu_sleep_us(1000);
    }
}

/* The abstract address of a zipc name under uid ("\0zipc/<uid>/<name>");
 * returns the socklen to use with it. */
static inline socklen_t raw_name_addr(uint32_t uid, const char *name, struct sockaddr_un *a)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "zipc/%u/%s", uid, name);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* A listening socket on a zipc name, as a fake holder (-1 on failure). */
static inline int raw_listen_name(uint32_t uid, const char *name)
{
    struct sockaddr_un a;
    socklen_t len = raw_name_addr(uid, name, &a);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, len) < 0 || listen(s, 8) < 0) {
        CHECK_MSG(0, "raw listen on name %s: %s", name, strerror(errno));
        if (s >= 0)
            close(s);
        return -1;
    }
    return s;
}

enum { RAW_UNIX_PREFIX = 1, RAW_UNIX_LISTENING = 2 };

/* How many sockets /proc/net/unix lists at `path` (an abstract name shows
 * as "@<name>"), or with RAW_UNIX_PREFIX at paths starting with it; with
 * RAW_UNIX_LISTENING only listening ones (an accepted connection shows its
 * listener's name too). -1 if the file cannot be read. */
static inline int raw_unix_listed(const char *path_or_prefix, unsigned how)
{
    FILE *f = fopen("/proc/net/unix", "r");
    if (!f)
        return -1;
    char line[512];
    int n = 0;
    size_t plen = strlen(path_or_prefix);
    while (fgets(line, sizeof(line), f)) {
        /* Num RefCount Protocol Flags Type St Inode Path */
        unsigned long flags = 0;
        int path_at = -1;
        if (sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %n", &flags, &path_at) < 1 || path_at < 0)
            continue;
        const char *path = line + path_at;
        bool listening = flags & 0x10000; /* __SO_ACCEPTCON */
        if (strncmp(path, path_or_prefix, plen) == 0 &&
            ((how & RAW_UNIX_PREFIX) || path[plen] == '\n' || path[plen] == 0) &&
            (!(how & RAW_UNIX_LISTENING) || listening))
            n++;
    }
    fclose(f);
    return n;
}

/* Whether the zipc name (under uid) is held: a listening "@zipc/<uid>/<name>". */
static inline bool raw_name_held(uint32_t uid, const char *name)
{
    char shown[128];
    snprintf(shown, sizeof(shown), "@zipc/%u/%s", uid, name);
    return raw_unix_listed(shown, RAW_UNIX_LISTENING) > 0;
}

/* Wait until raw_name_held() says `held`; false at the timeout. */
static inline bool raw_wait_name_held(uint32_t uid, const char *name, bool held, int timeout_ms)
{
    int64_t end = tu_now_ns() + timeout_ms * TU_MS;
    while (raw_name_held(uid, name) != held) {
        if (tu_now_ns() > end)
            return false;
        tu_sleep_us(200);
    }
    return true;
}

/* Send len bytes, with nfds fds (SCM_RIGHTS) on the first byte. */
static inline bool raw_send(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
    return wire_sendmsg(sock, buf, len, fds, nfds, MSG_NOSIGNAL) == (ssize_t)len;
}

/* Receive exactly len bytes within timeout_ms, collecting up to maxfds fds
 * (close-on-exec). Returns 0, -ETIMEDOUT, -EPIPE (EOF) or -errno. */
static inline int raw_recv(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds,
                           int timeout_ms)
{
    union {
        struct cmsghdr align;
        char b[CMSG_SPACE(sizeof(int) * 8)];
    } ctl;
    char *p = buf;
    int got = 0;
    while (len > 0) {
        struct pollfd pf = {.fd = sock, .events = POLLIN};
        if (poll(&pf, 1, timeout_ms) <= 0)
            return -ETIMEDOUT;
        struct iovec iov = {.iov_base = p, .iov_len = len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                            .msg_controllen = sizeof(ctl.b)};
        ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0)
            return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + sizeof(int) * (size_t)i, sizeof(int));
                if (fds && got < maxfds)
                    fds[got++] = fd;
                else
                    close(fd);
            }
        }
        if (n == 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    if (nfds)
        *nfds = got;
    return 0;
}

static inline struct zipc_hello raw_hello(void)
{
    struct zipc_hello h;
    memset(&h, 0, sizeof(h));
    h.magic = ZIPC_HELLO_MAGIC;
    h.abi_major = ZIPC_ABI_MAJOR;
    h.abi_minor = ZIPC_ABI_MINOR;
    h.kind = ZIPC_KIND_CHANNEL;
    h.pid = (uint32_t)getpid();
    return h;
}

static inline struct zipc_welcome raw_welcome(uint32_t connector_role, uint64_t segment_size)
{
    struct zipc_welcome w;
    memset(&w, 0, sizeof(w));
    w.magic = ZIPC_WELCOME_MAGIC;
    w.abi_major = ZIPC_ABI_MAJOR;
    w.abi_minor = ZIPC_ABI_MINOR;
    w.kind = ZIPC_KIND_CHANNEL;
    w.connector_role = connector_role;
    w.segment_size = segment_size;
    return w;
}

/* ---- fake listener ----------------------------------------------------------- */

struct raw_server {
    /* script, set before raw_server_start() */
    struct zipc_welcome welcome;
    int fds[8];
    int nfds;
    bool silent; /* accept and read the hello, then never answer */
    /* outcome, valid after raw_server_join() */
    int conn; /* the link; stays open until raw_server_close() */
    bool got_hello, got_ack;
    struct zipc_hello hello;
    struct zipc_ack ack;
    /* internals */
    char path[TU_PATH_MAX];
    int lsock;
    pthread_t thread;
};

static inline void *raw_server_main_(void *p)
{
    struct raw_server *s = p;
    struct pollfd pf = {.fd = s->lsock, .events = POLLIN};
    if (poll(&pf, 1, 5000) <= 0)
        return NULL;
    s->conn = accept4(s->lsock, NULL, NULL, SOCK_CLOEXEC);
    if (s->conn < 0)
        return NULL;
    s->got_hello = raw_recv(s->conn, &s->hello, sizeof(s->hello), NULL, 0, NULL, 5000) == 0;
    if (!s->got_hello || s->silent)
        return NULL;
    if (!raw_send(s->conn, &s->welcome, sizeof(s->welcome), s->fds, s->nfds))
        return NULL;
    s->got_ack = raw_recv(s->conn, &s->ack, sizeof(s->ack), NULL, 0, NULL, 5000) == 0;
    return NULL;
}

/* Bind at a fresh path, then serve one connection in a thread. */
static inline bool raw_server_start(struct raw_server *s, const char *tag)
{
    s->conn = -1;
    s->got_hello = s->got_ack = false;
    s->lsock = raw_listen_socket(tu_path(s->path, tag));
    if (s->lsock < 0)
        return false;
    return CHECK_OK(pthread_create(&s->thread, NULL, raw_server_main_, s));
}

static inline void raw_server_join(struct raw_server *s)
{
    pthread_join(s->thread, NULL);
    close(s->lsock);
    unlink(s->path);
}

static inline void raw_server_close(struct raw_server *s)
{
    if (s->conn >= 0)
        close(s->conn);
    s->conn = -1;
}

/* Connect the real library to a fake listener that answers with `w` and
 * `fds`: returns connect's result; the server is joined (conn stays open). */
static inline int raw_connect_to(struct raw_server *s, const char *tag, zipc_channel **ch,
                                 const struct zipc_options *o)
{
    *ch = NULL;
    if (!raw_server_start(s, tag))
        return -999;
    int r = zipc_channel_connect(ch, s->path, o);
    raw_server_join(s);
    return r;
}

/* ---- hand-made channel segments ------------------------------------------------- */

struct raw_seg {
    int fd;
    uint8_t *base;
    uint64_t size;
    uint64_t ring_size;
    struct zipc_segment_header *hdr;
    struct zipc_channel_ctl *ctl;
    uint8_t *ring;
    char name[64];
};

/* A memfd of `file_size` bytes laid out as a valid channel with ring
 * `ring_size` (when it fits): header, control block, zeroed ring. Not sealed
 * yet: raw_seg_seal() adds the seals the test wants. */
static inline bool raw_seg_make(struct raw_seg *s, uint64_t ring_size, uint64_t file_size)
{
    static unsigned n;
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "zipc-raw-%d-%u", (int)getpid(), n++);
    s->fd = memfd_create(s->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (!CHECK_MSG(s->fd >= 0, "memfd_create: %s", strerror(errno)))
        return false;
    s->size = file_size;
    s->ring_size = ring_size;
    uint64_t map = file_size < ZIPC_PAGE ? ZIPC_PAGE : file_size;
    void *b = MAP_FAILED;
    if (ftruncate(s->fd, (off_t)file_size) == 0)
        b = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
    if (!CHECK_MSG(b != MAP_FAILED, "raw segment of %" PRIu64 " bytes: %s", file_size, strerror(errno))) {
        close(s->fd);
        return false;
    }
    s->base = b;
    s->hdr = b;
    if (file_size >= ZIPC_CHANNEL_BODY_OFFSET + sizeof(struct zipc_channel_ctl)) {
        s->ctl = (void *)(s->base + ZIPC_CHANNEL_BODY_OFFSET);
        s->ctl->ring_offset = ZIPC_CHANNEL_RING_OFFSET;
        s->ctl->ring_size = ring_size;
        s->ctl->max_message = (uint32_t)(ring_size / 2 - ZIPC_FRAME_HEADER);
        s->ctl->frame_align = ZIPC_FRAME_ALIGN;
        s->ctl->listener_role = ZIPC_ROLE_PRODUCER;
    }
    if (file_size >= ZIPC_CHANNEL_RING_OFFSET + ring_size)
        s->ring = s->base + ZIPC_CHANNEL_RING_OFFSET;
    if (file_size >= sizeof(struct zipc_segment_header))
        wire_channel_header(s->hdr, file_size, (uint32_t)getpid(), (uint32_t)geteuid(), s->name);
    return true;
}

static inline bool raw_seg_create(struct raw_seg *s, uint64_t ring_size)
{
    return raw_seg_make(s, ring_size, ZIPC_CHANNEL_RING_OFFSET + ring_size);
}

#define RAW_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static inline bool raw_seg_seal(struct raw_seg *s, int seals)
{
    return seals == 0 || CHECK_MSG(fcntl(s->fd, F_ADD_SEALS, seals) == 0, "F_ADD_SEALS: %s", strerror(errno));
}

static inline void raw_seg_close(struct raw_seg *s)
{
    if (s->base)
        munmap(s->base, s->size < ZIPC_PAGE ? ZIPC_PAGE : s->size);
    if (s->fd >= 0)
        close(s->fd);
    s->base = NULL;
    s->fd = -1;
}

/* The library's own mapping of our memfd in this process (the connector
 * maps it separately): its address range, from /proc/self/maps. */
static inline bool raw_seg_peer_map(const struct raw_seg *s, uintptr_t *lo, uintptr_t *hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    char line[512], want[96];
    snprintf(want, sizeof(want), "/memfd:%s ", s->name);
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        if (strstr(line, want) && sscanf(line, "%lx-%lx", &a, &b) == 2 && a != (uintptr_t)s->base) {
            *lo = a;
            *hi = b;
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* ---- fake producer and consumer ---------------------------------------------------- */

static inline uint64_t raw_frame_bytes(uint64_t size)
{
    return (ZIPC_FRAME_HEADER + size + ZIPC_FRAME_ALIGN - 1) & ~(uint64_t)(ZIPC_FRAME_ALIGN - 1);
}

static inline struct zipc_frame *raw_frame(const struct raw_seg *s, uint64_t pos)
{
    return (struct zipc_frame *)(s->ring + (pos & (s->ring_size - 1)));
}

static inline void raw_set_mark(const struct raw_seg *s, uint64_t pos, uint64_t mark)
{
    __atomic_store_n(&raw_frame(s, pos)->mark, mark, __ATOMIC_SEQ_CST);
}

/* Ring bytes from `tail` that a message of `size` occupies: a pad to the
 * end when it does not fit before it, the frame, and the next frame's
 * header slot (the terminator). */
static inline uint64_t raw_need(const struct raw_seg *s, uint64_t tail, uint64_t size)
{
    uint64_t frame = raw_frame_bytes(size), off = tail & (s->ring_size - 1);
    return (s->ring_size - off < frame ? s->ring_size - off : 0) + frame + ZIPC_FRAME_ALIGN;
}

/* Append one message at *tail by the ABI's rules (pad frame when it does
 * not fit before the end, terminator zeroed, mark written last) and publish
 * it. `data` may be NULL (zero payload). */
static inline void raw_put_msg(const struct raw_seg *s, uint64_t *tail, uint32_t seq, uint32_t size,
                               uint32_t type, const void *data)
{
    uint64_t frame = raw_frame_bytes(size), off = *tail & (s->ring_size - 1);
    uint64_t start = *tail, pos = *tail;
    if (s->ring_size - off < frame)
        pos += s->ring_size - off;
    raw_set_mark(s, pos + frame, 0); /* terminator */
    struct zipc_frame *f = raw_frame(s, pos);
    f->size = size;
    f->type = type;
    if (size)
        memcpy(f + 1, data, size);
    if (pos != start) {
        raw_frame(s, start)->size = 0;
        raw_frame(s, start)->type = 0;
        raw_set_mark(s, pos, ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG));
        raw_set_mark(s, start, ZIPC_FRAME_MARK(seq, ZIPC_FRAME_PAD));
    } else {
        raw_set_mark(s, pos, ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG));
    }
    *tail = pos + frame;
    __atomic_store_n(&s->ctl->producer.position, *tail, __ATOMIC_SEQ_CST);
}

static inline void raw_set_head(const struct raw_seg *s, uint64_t head)
{
    __atomic_store_n(&s->ctl->consumer.position, head, __ATOMIC_SEQ_CST);
}

#endif /* ZIPC_RAWPEER_H */

/* Hostile and corrupted segments. A fake listener (rawpeer.h: plain socket
 * code and abi.h) hands the real connector a segment it made itself.
 *
 * (a) At the handshake: every field the connector validates, corrupted one
 *     at a time (and fields flipping while it validates), plus wrong seals,
 *     sizes and fd types: connect returns -EBADMSG (-EPROTO for another ABI
 *     major), leaks no fd and never crashes.
 * (b) Mid-stream: the fake producer keeps its mapping and writes garbage
 *     (positions, frame sizes, frames crossing the end, wrong seqs and kinds,
 *     pads without a message, random bytes, a concurrent scribbler): the real
 *     consumer returns valid messages (inside its ring) or -EBADMSG, which
 *     then sticks; it never crashes or hangs. A fake consumer writing a bogus
 *     head makes the real producer's reserve return -EBADMSG.
 * Each group runs in a child process, so a crash is reported as a failure of
 * that group. */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "rawpeer.h"

#define CAP 4096

static void isolated(const char *name, void (*fn)(void))
{
    pid_t pid = tu_fork();
    if (pid == 0) {
        fn();
        tu_child_exit();
    }
    int st = tu_wait(pid, 120000);
    CHECK_MSG(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s %d", name,
              st == -1 ? "hung; killed" : WIFSIGNALED(st) ? "CRASHED with signal" : "failed, exit",
              st == -1 ? 0 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    printf("  %-48s %s\n", name, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "FAILED");
    fflush(stdout);
}

/* ==== (a) the handshake ====================================================== */

/* One corrupted welcome: `mutate` may change the segment, the fds and the
 * welcome before it is sent; `seals` are added after it ran. */
struct seg_case {
    const char *what;
    uint64_t ring, file; /* ring_size in the control block, memfd size (0: consistent) */
    int seals;
    void (*mutate)(struct raw_seg *, struct raw_server *);
    int want;
};

static int any_fd(const char *kind)
{
    if (strcmp(kind, "pipe") == 0) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            return -1;
        close(p[1]);
        return p[0];
    }
    if (strcmp(kind, "eventfd") == 0)
        return eventfd(0, EFD_CLOEXEC);
    if (strcmp(kind, "epoll") == 0)
        return epoll_create1(EPOLL_CLOEXEC);
    if (strcmp(kind, "socket") == 0)
        return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (strcmp(kind, "dir") == 0)
        return open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char path[TU_PATH_MAX]; /* a regular file: cannot be sealed */
    int fd = open(tu_path(path, "regular"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && ftruncate(fd, ZIPC_CHANNEL_RING_OFFSET + CAP) < 0)
        CHECK(0);
    unlink(path);
    return fd;
}

static void swap_fd(struct raw_server *s, int slot, const char *kind)
{
    int fd = any_fd(kind);
    CHECK_MSG(fd >= 0, "making a %s fd: %s", kind, strerror(errno));
    if (slot > 0)
        close(s->fds[slot]); /* slot 0 is the segment's memfd, closed with it */
    s->fds[slot] = fd;
}

#define MUT(name, body) \
    static void name(struct raw_seg *g, struct raw_server *s) \
    { \
        (void)g, (void)s; \
        body; \
    }
MUT(m_none, )
MUT(m_magic, g->hdr->magic ^= 1)
MUT(m_major, g->hdr->abi_major++)
MUT(m_minor, g->hdr->abi_minor++)
MUT(m_kind, g->hdr->kind = ZIPC_KIND_QUEUE)
MUT(m_kind0, g->hdr->kind = 0)
MUT(m_segsize, g->hdr->segment_size += ZIPC_PAGE)
MUT(m_segsize_small, g->hdr->segment_size = 128)
MUT(m_hdrsize, g->hdr->header_size = 64)
MUT(m_body0, g->hdr->body_offset = 0)
MUT(m_body_end, g->hdr->body_offset = g->size)
MUT(m_body_512, g->hdr->body_offset = 512)
MUT(m_body_huge, g->hdr->body_offset = UINT64_MAX - 100)
MUT(m_bodysize0, g->hdr->body_size = 0)
MUT(m_bodysize_huge, g->hdr->body_size = UINT64_MAX)
MUT(m_bodysize_big, g->hdr->body_size = g->size)
MUT(m_ringoff0, g->ctl->ring_offset = 0)
MUT(m_ringoff_big, g->ctl->ring_offset = g->size)
MUT(m_ringoff_8k, g->ctl->ring_offset = 2 * ZIPC_PAGE)
MUT(m_maxmsg, g->ctl->max_message++)
MUT(m_maxmsg_huge, g->ctl->max_message = UINT32_MAX)
MUT(m_maxmsg_ring, g->ctl->max_message = (uint32_t)g->ring_size)
MUT(m_align16, g->ctl->frame_align = 16)
MUT(m_align0, g->ctl->frame_align = 0)
MUT(m_tail, g->ctl->producer.position = ZIPC_FRAME_ALIGN)
MUT(m_head, g->ctl->consumer.position = ZIPC_FRAME_ALIGN)
MUT(m_role0, s->welcome.connector_role = 0)
MUT(m_role3, s->welcome.connector_role = 3)
MUT(m_announced, s->welcome.segment_size += 64)
MUT(m_announced0, s->welcome.segment_size = 0)
MUT(m_memfd_pipe, swap_fd(s, 0, "pipe"))
MUT(m_memfd_eventfd, swap_fd(s, 0, "eventfd"))
MUT(m_memfd_regular, swap_fd(s, 0, "regular"))
MUT(m_memfd_dir, swap_fd(s, 0, "dir"))
MUT(m_memfd_socket, swap_fd(s, 0, "socket"))
MUT(m_efd1_pipe, swap_fd(s, 1, "pipe"))
MUT(m_efd2_epoll, swap_fd(s, 2, "epoll"))
MUT(m_efd1_socket, swap_fd(s, 1, "socket"))
MUT(m_efd2_regular, swap_fd(s, 2, "regular"))
MUT(m_efd1_memfd, close(s->fds[1]); s->fds[1] = dup(s->fds[0]))
MUT(m_ring_nonempty, memset(g->ring, 0xff, 256))

#define ALL RAW_SEALS
#define EMPTY_FILE 1 /* .file: a memfd of 0 bytes (0 means "consistent with the ring") */
#define RS (ZIPC_CHANNEL_RING_OFFSET + CAP)
static const struct seg_case seg_cases[] = {
    {"valid (control)", CAP, 0, ALL, m_none, 0},
    {"valid, abi_minor + 1 in the header", CAP, 0, ALL, m_minor, 0},
    {"valid, no F_SEAL_SEAL", CAP, 0, F_SEAL_SHRINK | F_SEAL_GROW, m_none, 0},
    {"valid, garbage in the ring (not checked at attach)", CAP, 0, ALL, m_ring_nonempty, 0},
    {"bad magic", CAP, 0, ALL, m_magic, -EBADMSG},
    {"abi_major + 1", CAP, 0, ALL, m_major, -EPROTO},
    {"kind QUEUE", CAP, 0, ALL, m_kind, -EBADMSG},
    {"kind 0", CAP, 0, ALL, m_kind0, -EBADMSG},
    {"segment_size != fstat size", CAP, 0, ALL, m_segsize, -EBADMSG},
    {"segment_size 128", CAP, 0, ALL, m_segsize_small, -EBADMSG},
    {"header_size 64", CAP, 0, ALL, m_hdrsize, -EBADMSG},
    {"body_offset 0", CAP, 0, ALL, m_body0, -EBADMSG},
    {"body_offset at the end", CAP, 0, ALL, m_body_end, -EBADMSG},
    {"body_offset 512", CAP, 0, ALL, m_body_512, -EBADMSG},
    {"body_offset near 2^64", CAP, 0, ALL, m_body_huge, -EBADMSG},
    {"body_size 0", CAP, 0, ALL, m_bodysize0, -EBADMSG},
    {"body_size 2^64-1", CAP, 0, ALL, m_bodysize_huge, -EBADMSG},
    {"body_size = segment size", CAP, 0, ALL, m_bodysize_big, -EBADMSG},
    {"no seals", CAP, 0, 0, m_none, -EBADMSG},
    {"no F_SEAL_SHRINK", CAP, 0, F_SEAL_GROW | F_SEAL_SEAL, m_none, -EBADMSG},
    {"no F_SEAL_GROW", CAP, 0, F_SEAL_SHRINK | F_SEAL_SEAL, m_none, -EBADMSG},
    {"F_SEAL_FUTURE_WRITE", CAP, 0, ALL | F_SEAL_FUTURE_WRITE, m_none, -EBADMSG},
    {"file larger than the layout", CAP, RS + CAP, ALL, m_none, -EBADMSG},
    {"file of 64 bytes", CAP, 64, ALL, m_none, -EBADMSG},
    {"file of 0 bytes", CAP, EMPTY_FILE, ALL, m_none, -EBADMSG},
    {"file beyond the largest channel", CAP, ZIPC_CHANNEL_RING_OFFSET + ZIPC_MAX_CAPACITY + ZIPC_PAGE, ALL,
     m_none, -EBADMSG},
    {"ring_size not a power of two", CAP + 64, 0, ALL, m_none, -EBADMSG},
    {"ring_size below the minimum", ZIPC_MIN_CAPACITY / 2, 0, ALL, m_none, -EBADMSG},
    {"ring_size 0", 0, RS, ALL, m_none, -EBADMSG},
    {"ring_size 2^33 in a small file", UINT64_C(1) << 33, RS, ALL, m_none, -EBADMSG},
    {"ring_size 2^63", UINT64_C(1) << 63, RS, ALL, m_none, -EBADMSG},
    {"ring_size 2 * file", 2 * CAP, RS, ALL, m_none, -EBADMSG},
    {"ring_offset 0", CAP, 0, ALL, m_ringoff0, -EBADMSG},
    {"ring_offset = file size", CAP, 0, ALL, m_ringoff_big, -EBADMSG},
    {"ring_offset 8192 (file sized for it)", CAP, 2 * ZIPC_PAGE + CAP, ALL, m_ringoff_8k, -EBADMSG},
    {"max_message + 1", CAP, 0, ALL, m_maxmsg, -EBADMSG},
    {"max_message 2^32-1", CAP, 0, ALL, m_maxmsg_huge, -EBADMSG},
    {"max_message = ring_size", CAP, 0, ALL, m_maxmsg_ring, -EBADMSG},
    {"frame_align 16", CAP, 0, ALL, m_align16, -EBADMSG},
    {"frame_align 0", CAP, 0, ALL, m_align0, -EBADMSG},
    {"producer position not 0", CAP, 0, ALL, m_tail, -EBADMSG},
    {"consumer position not 0", CAP, 0, ALL, m_head, -EBADMSG},
    {"connector_role 0", CAP, 0, ALL, m_role0, -EBADMSG},
    {"connector_role 3", CAP, 0, ALL, m_role3, -EBADMSG},
    {"announced segment_size + 64", CAP, 0, ALL, m_announced, -EBADMSG},
    {"announced segment_size 0", CAP, 0, ALL, m_announced0, -EBADMSG},
    {"memfd slot: a pipe", CAP, 0, ALL, m_memfd_pipe, -EBADMSG},
    {"memfd slot: an eventfd", CAP, 0, ALL, m_memfd_eventfd, -EBADMSG},
    {"memfd slot: a regular file", CAP, 0, ALL, m_memfd_regular, -EBADMSG},
    {"memfd slot: a directory", CAP, 0, ALL, m_memfd_dir, -EBADMSG},
    {"memfd slot: a socket", CAP, 0, ALL, m_memfd_socket, -EBADMSG},
    {"consumer eventfd slot: a pipe", CAP, 0, ALL, m_efd1_pipe, -EBADMSG},
    {"producer eventfd slot: an epoll fd", CAP, 0, ALL, m_efd2_epoll, -EBADMSG},
    {"consumer eventfd slot: a socket", CAP, 0, ALL, m_efd1_socket, -EBADMSG},
    {"producer eventfd slot: a regular file", CAP, 0, ALL, m_efd2_regular, -EBADMSG},
    {"consumer eventfd slot: the memfd", CAP, 0, ALL, m_efd1_memfd, -EBADMSG},
};

static void seg_case_done(struct raw_seg *g, struct raw_server *s)
{
    if (s->fds[0] != g->fd)
        close(s->fds[0]);
    close(s->fds[1]);
    close(s->fds[2]);
    raw_seg_close(g);
}

static void run_seg_case(const struct seg_case *c)
{
    struct raw_seg g;
    uint64_t file = c->file == EMPTY_FILE ? 0 : c->file ? c->file : ZIPC_CHANNEL_RING_OFFSET + c->ring;
    if (!raw_seg_make(&g, c->ring, file))
        return;
    struct raw_server s;
    memset(&s, 0, sizeof(s));
    s.welcome = raw_welcome(ZIPC_ROLE_PRODUCER, file);
    s.nfds = 3;
    s.fds[0] = g.fd;
    s.fds[1] = eventfd(0, EFD_CLOEXEC);
    s.fds[2] = eventfd(0, EFD_CLOEXEC);
    c->mutate(&g, &s);
    if (c->seals && fcntl(g.fd, F_ADD_SEALS, c->seals) < 0) {
        tu_skip(c->what, "the kernel refused these seals");
        seg_case_done(&g, &s);
        return;
    }
    int open_fds = tu_fd_count();
    zipc_channel *ch = NULL;
    int r = raw_connect_to(&s, "seg", &ch, NULL);
    CHECK_MSG(r == c->want, "%s: connect returned %d %s, expected %d %s", c->what, r, tu_errname(r), c->want,
              tu_errname(c->want));
    CHECK_MSG((r == 0) == (ch != NULL), "%s: endpoint %p with result %d", c->what, (void *)ch, r);
    if (r && s.got_ack)
        CHECK_MSG(s.ack.status == (uint32_t)-r, "%s: ack status %u for %d", c->what, s.ack.status, r);
    zipc_channel_close(ch);
    raw_server_close(&s);
    CHECK_MSG(tu_fd_count() == open_fds, "%s: %d fds leaked", c->what, tu_fd_count() - open_fds);
    seg_case_done(&g, &s);
}

static void handshake_cases(void)
{
    for (size_t i = 0; i < sizeof(seg_cases) / sizeof(seg_cases[0]); i++)
        run_seg_case(&seg_cases[i]);
}

/* Fields flipping between valid and wild while the connector validates:
 * it must never act on a value it did not check. */
struct flipper {
    struct raw_seg *g;
    int stop;
    uint64_t rng;
};

static void *flip(void *arg)
{
    struct flipper *f = arg;
    struct zipc_segment_header *h = f->g->hdr;
    struct zipc_channel_ctl *ctl = f->g->ctl;
    volatile uint64_t *fields64[] = {&h->body_offset, &h->body_size, &h->segment_size, &ctl->ring_offset,
                                     &ctl->ring_size};
    const uint64_t good[] = {ZIPC_CHANNEL_BODY_OFFSET, sizeof(*ctl), f->g->size, ZIPC_CHANNEL_RING_OFFSET,
                             f->g->ring_size};
    while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
        uint64_t r = tu_rand(&f->rng);
        size_t i = (size_t)(r % 5);
        *fields64[i] = r & 0x100 ? good[i] : (r >> 12) | (UINT64_C(1) << 40);
        ctl->max_message = r & 0x200 ? (uint32_t)(f->g->ring_size / 2 - ZIPC_FRAME_HEADER) : (uint32_t)(r >> 32);
    }
    for (size_t i = 0; i < 5; i++)
        *fields64[i] = good[i];
    return NULL;
}

static void flipping_fields(void)
{
    int attempts = (int)tu_scaled(300, 30), accepted = 0;
    for (int i = 0; i < attempts; i++) {
        struct raw_seg g;
        if (!raw_seg_create(&g, CAP) || !raw_seg_seal(&g, RAW_SEALS))
            return;
        struct raw_server s;
        memset(&s, 0, sizeof(s));
        s.welcome = raw_welcome(ZIPC_ROLE_CONSUMER, g.size);
        s.nfds = 3;
        s.fds[0] = g.fd;
        s.fds[1] = eventfd(0, EFD_CLOEXEC);
        s.fds[2] = eventfd(0, EFD_CLOEXEC);
        struct flipper f = {.g = &g, .rng = tu_seed + (uint64_t)i};
        pthread_t t;
        pthread_create(&t, NULL, flip, &f);
        zipc_channel *ch = NULL;
        int r = raw_connect_to(&s, "flip", &ch, NULL);
        __atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
        pthread_join(t, NULL);
        CHECK_HOT(r == 0 || r == -EBADMSG);
        if (r == 0) { /* it saw a valid moment: the endpoint must work */
            struct zipc_msg m;
            CHECK_HOT_ERR(zipc_channel_view(ch, &m, ZIPC_TRY), -EAGAIN);
            accepted++;
        }
        zipc_channel_close(ch);
        raw_server_close(&s);
        close(s.fds[1]);
        close(s.fds[2]);
        raw_seg_close(&g);
    }
    printf("    %d attempts with flipping fields, %d accepted in a valid moment\n", attempts, accepted);
}

/* ==== (b) mid-stream ==================================================================== */

struct hostile {
    struct raw_server srv;
    struct raw_seg g;
    zipc_channel *ch;
    uintptr_t lo, hi; /* the real endpoint's mapping of the segment */
    uint64_t tail;    /* the fake producer's position */
    uint32_t seq;     /* ... and next sequence number */
};

/* A fresh channel whose other end is us, by hand; the real end gets `role`. */
static bool hostile_open(struct hostile *h, uint64_t ring, uint32_t role)
{
    memset(h, 0, sizeof(*h));
    if (!raw_seg_create(&h->g, ring) || !raw_seg_seal(&h->g, RAW_SEALS))
        return false;
    h->srv.welcome = raw_welcome(role, h->g.size);
    h->srv.nfds = 3;
    h->srv.fds[0] = h->g.fd;
    h->srv.fds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    h->srv.fds[2] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!CHECK_OK(raw_connect_to(&h->srv, "hostile", &h->ch, NULL)))
        return false;
    return CHECK(raw_seg_peer_map(&h->g, &h->lo, &h->hi));
}

static void hostile_close(struct hostile *h)
{
    zipc_channel_close(h->ch);
    raw_server_close(&h->srv);
    close(h->srv.fds[1]);
    close(h->srv.fds[2]);
    raw_seg_close(&h->g);
}

static void put(struct hostile *h, uint32_t size)
{
    static uint8_t payload[1 << 16];
    memset(payload, (int)h->seq, size);
    raw_put_msg(&h->g, &h->tail, h->seq++, size, 7, payload);
}

/* A message the real consumer returned must lie inside its ring; reading
 * all of it must be safe (ASan and the kernel would tell). */
static uint32_t touch(const struct hostile *h, const struct zipc_msg *m)
{
    uintptr_t d = (uintptr_t)m->data, ring = h->lo + ZIPC_CHANNEL_RING_OFFSET;
    if (!CHECK_HOT(d >= ring + ZIPC_FRAME_HEADER && d + m->size <= h->hi && d % 16 == 0 &&
                   m->size <= h->g.ring_size / 2 - ZIPC_FRAME_HEADER))
        return 0;
    uint32_t sum = 0;
    for (uint32_t i = 0; i < m->size; i++)
        sum += ((const volatile uint8_t *)m->data)[i];
    return sum;
}

/* Once -EBADMSG, always -EBADMSG (only close still works). */
static void check_sticky(struct hostile *h, const char *what)
{
    struct zipc_msg m[4];
    char buf[64];
    CHECK_MSG(zipc_channel_view(h->ch, m, ZIPC_TRY) == -EBADMSG, "%s: view after -EBADMSG", what);
    CHECK_MSG(zipc_channel_view(h->ch, m, 50 * TU_MS) == -EBADMSG, "%s: waiting view after -EBADMSG", what);
    CHECK_MSG(zipc_channel_drain(h->ch, m, 4, ZIPC_TRY) == -EBADMSG, "%s: drain after -EBADMSG", what);
    int r = zipc_channel_release(h->ch);
    CHECK_MSG(r == -EBADMSG, "%s: release after -EBADMSG returned %d %s", what, r, tu_errname(r));
    r = zipc_channel_recv(h->ch, buf, sizeof(buf), NULL, NULL, ZIPC_TRY);
    CHECK_MSG(r == -EBADMSG || r == -EALREADY, "%s: recv after -EBADMSG returned %d", what, r);
}

/* View until not 0: valid messages are touched; returns the final result. */
static int view_all(struct hostile *h, int *valid)
{
    struct zipc_msg m;
    int r;
    while ((r = zipc_channel_view(h->ch, &m, ZIPC_TRY)) == 0) {
        touch(h, &m);
        if (!CHECK_HOT(++*valid < 100000)) /* a finite ring cannot hold that many */
            break;
        if (*valid % 8 == 0)
            zipc_channel_release(h->ch);
    }
    return r;
}

/* Write valid frames until the fake tail sits at ring offset `off`. */
static void advance_to(struct hostile *h, uint64_t off)
{
    int valid = 0;
    while ((h->tail & (h->g.ring_size - 1)) != off) {
        put(h, 0);
        if (h->tail / ZIPC_FRAME_ALIGN % 8 == 0)
            view_all(h, &valid);
    }
    view_all(h, &valid);
    zipc_channel_release(h->ch);
}

enum corruption {
    TAIL_HUGE, TAIL_UNALIGNED, TAIL_BACKWARDS, SIZE_OVER_MAX, SIZE_HUGE, CROSSES_END, SEQ_AHEAD, SEQ_REPLAY,
    SEQ_ANCIENT, KIND_UNKNOWN, KIND_ZERO_HI, PAD_AT_ZERO, PAD_ALONE, PAD_STALE_NEXT, PAD_WRONG_SEQ, MSG_AFTER_PAD_WRONG,
    CORRUPTIONS
};

static const char *const corruption_names[] = {
    "producer position far ahead", "producer position unaligned", "producer position backwards",
    "frame size max + 1", "frame size 2^32 - 1", "frame crossing the ring end", "seq ahead",
    "seq replayed (reads as last lap's header: not yet)", "seq more than a lap behind", "unknown mark kind", "mark kind 0 with a seq", "pad at offset 0",
    "pad with no message after it", "pad, then a stale mark from the last lap", "pad with the wrong seq",
    "pad, then a message with the wrong seq"};

#define DETECTED (-1) /* corrupt(): the consumer must answer -EBADMSG */

/* Returns DETECTED, or how many valid messages the consumer must deliver
 * before it answers -EAGAIN (the corruption is harmless or unobservable). */
static int corrupt(struct hostile *h, enum corruption c)
{
    struct raw_seg *g = &h->g;
    uint64_t end = g->ring_size - ZIPC_FRAME_ALIGN, max = g->ring_size / 2 - ZIPC_FRAME_HEADER;
    switch (c) {
    case TAIL_HUGE: /* informative only: the consumer must not care */
        put(h, 10), put(h, 20);
        g->ctl->producer.position = UINT64_MAX - 5;
        return 2;
    case TAIL_UNALIGNED:
        put(h, 10);
        g->ctl->producer.position = 13;
        return 1;
    case TAIL_BACKWARDS:
        put(h, 10), put(h, 20), put(h, 30);
        g->ctl->producer.position = 0;
        return 3;
    case SIZE_OVER_MAX:
    case SIZE_HUGE:
        put(h, 1);
        raw_frame(g, h->tail)->size = c == SIZE_HUGE ? UINT32_MAX : (uint32_t)max + 1;
        raw_set_mark(g, h->tail, ZIPC_FRAME_MARK(h->seq, ZIPC_FRAME_MSG));
        return DETECTED;
    case CROSSES_END: /* a frame at the last slot that does not fit: no pad */
        advance_to(h, end);
        raw_frame(g, h->tail)->size = ZIPC_FRAME_ALIGN; /* needs 128 bytes, 64 left */
        raw_set_mark(g, h->tail, ZIPC_FRAME_MARK(h->seq, ZIPC_FRAME_MSG));
        return DETECTED;
    case SEQ_AHEAD:
    case SEQ_REPLAY:
    case SEQ_ANCIENT:
        put(h, 5);
        h->seq = c == SEQ_AHEAD ? h->seq + 1 : c == SEQ_REPLAY ? h->seq - 1 : h->seq - (uint32_t)(CAP / 64) - 1;
        put(h, 5);
        return c == SEQ_REPLAY ? 1 : DETECTED;
    case KIND_UNKNOWN:
    case KIND_ZERO_HI: /* after one message, so that kind 0 with seq 1 is not a zero mark */
        put(h, 1);
        raw_frame(g, h->tail)->size = 4;
        raw_set_mark(g, h->tail, ZIPC_FRAME_MARK(h->seq, c == KIND_UNKNOWN ? 3 : 0));
        return DETECTED;
    case PAD_AT_ZERO:
        advance_to(h, 0);
        raw_set_mark(g, h->tail, ZIPC_FRAME_MARK(h->seq, ZIPC_FRAME_PAD));
        return DETECTED;
    case PAD_ALONE: /* the pad is published, offset 0 of the next lap holds nothing */
        advance_to(h, end);
        raw_set_mark(g, 0, 0);
        raw_set_mark(g, h->tail, ZIPC_FRAME_MARK(h->seq, ZIPC_FRAME_PAD));
        return DETECTED;
    case PAD_STALE_NEXT: /* offset 0 still holds the first lap's message */
        advance_to(h, end);
        raw_set_mark(g, h->tail, ZIPC_FRAME_MARK(h->seq, ZIPC_FRAME_PAD));
        return DETECTED;
    case PAD_WRONG_SEQ:
        advance_to(h, end);
        raw_set_mark(g, 0, ZIPC_FRAME_MARK(h->seq, ZIPC_FRAME_MSG));
        raw_set_mark(g, h->tail, ZIPC_FRAME_MARK(h->seq + 7, ZIPC_FRAME_PAD));
        return DETECTED;
    case MSG_AFTER_PAD_WRONG:
        advance_to(h, end);
        raw_set_mark(g, 0, ZIPC_FRAME_MARK(h->seq + 1, ZIPC_FRAME_MSG));
        raw_set_mark(g, h->tail, ZIPC_FRAME_MARK(h->seq, ZIPC_FRAME_PAD));
        return DETECTED;
    default:
        return 0;
    }
}

static void consumer_corruptions(void)
{
    for (int c = 0; c < CORRUPTIONS; c++) {
        struct hostile h;
        if (!hostile_open(&h, CAP, ZIPC_ROLE_CONSUMER))
            return;
        const char *what = corruption_names[c];
        int want_valid = corrupt(&h, (enum corruption)c);
        int valid = 0, r = view_all(&h, &valid);
        if (want_valid == DETECTED) {
            CHECK_MSG(r == -EBADMSG, "%s: consumer returned %d %s, expected -EBADMSG", what, r, tu_errname(r));
            check_sticky(&h, what);
        } else {
            CHECK_MSG(r == -EAGAIN && valid == want_valid, "%s: %d messages (expected %d), then %d %s", what,
                      valid, want_valid, r, tu_errname(r));
        }
        hostile_close(&h);
    }
}

/* Junk bytes on the link are not a death; the link closing is. */
static void junk_on_the_link(void)
{
    struct hostile h;
    if (!hostile_open(&h, CAP, ZIPC_ROLE_CONSUMER))
        return;
    struct zipc_msg m;
    CHECK(send(h.srv.conn, "junk junk junk", 14, MSG_NOSIGNAL) == 14);
    CHECK_ERR(zipc_channel_view(h.ch, &m, 30 * TU_MS), -ETIMEDOUT);
    CHECK_ERR(zipc_channel_view(h.ch, &m, ZIPC_TRY), -EAGAIN);
    put(&h, 3);
    CHECK_OK(zipc_channel_view(h.ch, &m, ZIPC_TRY));
    raw_server_close(&h.srv);
    CHECK_ERR(zipc_channel_view(h.ch, &m, 5000 * TU_MS), -EPIPE);
    hostile_close(&h);
}

/* Random bytes over the ring and the producer's line, after some valid
 * traffic: every answer is a valid message, -EAGAIN, -EBADMSG (sticky), or
 * -EPIPE when the bytes happen to set the producer's state to "closed". */
static int random_round(uint64_t *rng, int *broken)
{
    struct hostile h;
    uint64_t ring = (uint64_t)ZIPC_MIN_CAPACITY << tu_below(rng, 5);
    if (!hostile_open(&h, ring, ZIPC_ROLE_CONSUMER))
        return 0;
    int valid = 0;
    for (uint64_t n = tu_below(rng, 40); n > 0; n--) {
        put(&h, (uint32_t)tu_below(rng, ring / 4));
        if (tu_below(rng, 3) == 0)
            view_all(&h, &valid);
    }
    uint8_t *areas[] = {h.g.ring, (uint8_t *)&h.g.ctl->producer};
    size_t sizes[] = {ring, sizeof(h.g.ctl->producer)};
    for (uint64_t n = 1 + tu_below(rng, 12); n > 0; n--) {
        size_t a = tu_below(rng, 4) == 0, at = tu_below(rng, sizes[a]);
        size_t len = 1 + tu_below(rng, sizes[a] - at < 24 ? sizes[a] - at : 24);
        for (size_t i = 0; i < len; i++)
            areas[a][at + i] = (uint8_t)tu_rand(rng);
        if (tu_below(rng, 2)) /* aim at a mark: the likeliest thing to be acted on */
            raw_set_mark(&h.g, tu_below(rng, ring / ZIPC_FRAME_ALIGN) * ZIPC_FRAME_ALIGN,
                         ZIPC_FRAME_MARK(h.seq + tu_below(rng, 3) - 1, 1 + tu_below(rng, 3)));
    }
    int r = view_all(&h, &valid);
    /* -EPIPE only when the scribble wrote "closed" into the producer's state */
    bool says_closed = h.g.ctl->producer.state == ZIPC_STATE_CLOSED;
    CHECK_MSG(r == -EAGAIN || r == -EBADMSG || (r == -EPIPE && says_closed),
              "random bytes: view returned %d %s (producer state %u)", r, tu_errname(r), h.g.ctl->producer.state);
    if (r == -EBADMSG) {
        ++*broken;
        struct zipc_msg m;
        CHECK_HOT_ERR(zipc_channel_view(h.ch, &m, ZIPC_TRY), -EBADMSG);
        CHECK_HOT_ERR(zipc_channel_drain(h.ch, &m, 1, ZIPC_TRY), -EBADMSG);
    }
    hostile_close(&h);
    return valid;
}

static void random_rounds(void)
{
    uint64_t rng = tu_seed ^ 0xbad;
    int rounds = (int)tu_scaled(2000, 200), broken = 0, valid = 0;
    for (int i = 0; i < rounds; i++)
        valid += random_round(&rng, &broken);
    printf("    %d rounds: %d valid messages, %d channels broken (-EBADMSG)\n", rounds, valid, broken);
    CHECK(broken > 0);
}

/* A second process scribbles over the shared segment while the consumer
 * keeps viewing. */
static void concurrent_scribbler(void)
{
    int rounds = (int)tu_scaled(20, 4), broken = 0;
    for (int i = 0; i < rounds; i++) {
        struct hostile h;
        if (!hostile_open(&h, CAP, ZIPC_ROLE_CONSUMER))
            return;
        for (int k = 0; k < 40; k++)
            put(&h, (uint32_t)(k * 37 % 200));
        pid_t pid = tu_fork();
        if (pid == 0) { /* shares the mapping: MAP_SHARED survives fork */
            uint64_t rng = tu_seed + (uint64_t)i;
            for (;;) {
                uint64_t r = tu_rand(&rng);
                if (r & 1)
                    h.g.ring[(r >> 8) % CAP] = (uint8_t)(r >> 40);
                else
                    raw_set_mark(&h.g, ((r >> 8) % (CAP / ZIPC_FRAME_ALIGN)) * ZIPC_FRAME_ALIGN,
                                 ZIPC_FRAME_MARK(r >> 45, (r >> 20) & 3));
            }
        }
        int64_t end = tu_now_ns() + 30 * TU_MS;
        int r = 0, valid = 0;
        while (tu_now_ns() < end && r != -EBADMSG) {
            struct zipc_msg m;
            r = zipc_channel_view(h.ch, &m, TU_MS);
            CHECK_HOT(r == 0 || r == -ETIMEDOUT || r == -EBADMSG);
            if (r == 0 && (touch(&h, &m), ++valid % 4 == 0))
                zipc_channel_release(h.ch);
        }
        tu_kill_reap(pid);
        if (r == -EBADMSG) {
            broken++;
            struct zipc_msg m;
            CHECK_HOT_ERR(zipc_channel_view(h.ch, &m, ZIPC_TRY), -EBADMSG);
        }
        hostile_close(&h);
    }
    printf("    %d rounds with a concurrent scribbler, %d broken\n", rounds, broken);
}

/* ---- a hostile consumer: bogus heads ----------------------------------------- */

/* Fill the real producer's ring; returns the published end. */
static uint64_t fill(struct hostile *h)
{
    void *buf;
    while (zipc_channel_reserve(h->ch, 100, &buf, ZIPC_TRY) == 0)
        CHECK_HOT_OK(zipc_channel_commit(h->ch, 100, 1, 0));
    return h->g.ctl->producer.position;
}

static void check_producer_sticky(struct hostile *h, const char *what)
{
    void *buf;
    CHECK_MSG(zipc_channel_reserve(h->ch, 1, &buf, ZIPC_TRY) == -EBADMSG, "%s: reserve after -EBADMSG", what);
    CHECK_MSG(zipc_channel_send(h->ch, "x", 1, 1, 100 * TU_MS) == -EBADMSG, "%s: send after -EBADMSG", what);
    int r = zipc_channel_flush(h->ch);
    CHECK_MSG(r == -EBADMSG, "%s: flush after -EBADMSG returned %d %s", what, r, tu_errname(r));
}

static void bogus_heads(void)
{
    static const char *const what[] = {"head unaligned", "head past the published end", "head backwards",
                                       "head near 2^64"};
    for (int c = 0; c < 4; c++) {
        struct hostile h;
        if (!hostile_open(&h, CAP, ZIPC_ROLE_PRODUCER))
            return;
        uint64_t published = fill(&h), head = 0;
        if (c == 2) { /* a valid release first, then a step back */
            raw_set_head(&h.g, 2 * ZIPC_FRAME_ALIGN * 2);
            CHECK_OK(zipc_channel_send(h.ch, "y", 1, 1, ZIPC_TRY));
            fill(&h);
        }
        head = c == 0 ? 13 : c == 1 ? published + ZIPC_FRAME_ALIGN : c == 2 ? ZIPC_FRAME_ALIGN : UINT64_MAX - 63;
        raw_set_head(&h.g, head);
        void *buf;
        int r = zipc_channel_reserve(h.ch, 100, &buf, ZIPC_TRY);
        CHECK_MSG(r == -EBADMSG, "%s: reserve returned %d %s", what[c], r, tu_errname(r));
        if (r == -EBADMSG)
            check_producer_sticky(&h, what[c]);
        hostile_close(&h);
    }
}

/* Random heads: the producer writes only inside its ring. */
static void random_heads(void)
{
    uint64_t rng = tu_seed ^ 0x4ead;
    int rounds = (int)tu_scaled(300, 30), broken = 0;
    for (int i = 0; i < rounds; i++) {
        struct hostile h;
        if (!hostile_open(&h, 1024, ZIPC_ROLE_PRODUCER))
            return;
        uint64_t head = 0;
        for (int k = 0; k < 50; k++) {
            void *buf;
            size_t size = (size_t)tu_below(&rng, 400);
            int r = zipc_channel_reserve(h.ch, size, &buf, ZIPC_TRY);
            if (r == 0) {
                uintptr_t b = (uintptr_t)buf;
                CHECK_HOT(b >= h.lo + ZIPC_CHANNEL_RING_OFFSET && b + size <= h.hi);
                memset(buf, 0x5a, size);
                CHECK_HOT_OK(zipc_channel_commit(h.ch, size, 1, 0));
            } else if (r == -EBADMSG) {
                broken++;
                break;
            } else {
                CHECK_HOT_ERR(r, -EAGAIN);
            }
            uint64_t pub = h.g.ctl->producer.position;
            head = tu_below(&rng, 20) ? head + tu_below(&rng, pub - head + 1) / 64 * 64 /* plausible */
                                      : tu_rand(&rng) >> tu_below(&rng, 64);      /* anything */
            raw_set_head(&h.g, head);
        }
        hostile_close(&h);
    }
    printf("    %d rounds of random heads, %d broken\n", rounds, broken);
}

int main(void)
{
    tu_init("test_hostile", 300);
    isolated("(a) one corrupted field or fd at a time", handshake_cases);
    isolated("(a) fields flipping during validation", flipping_fields);
    isolated("(b) consumer: each kind of corruption", consumer_corruptions);
    isolated("(b) consumer: junk on the link", junk_on_the_link);
    isolated("(b) consumer: random bytes", random_rounds);
    isolated("(b) consumer: a concurrent scribbler", concurrent_scribbler);
    isolated("(b) producer: bogus heads", bogus_heads);
    isolated("(b) producer: random heads", random_heads);
    return tu_finish();
}

/* The handshake and segment ABI, spoken by hand (plain socket code and the
 * structs of zipc/abi.h) against the real library:
 *  - a fake connector saying hello with another ABI major (or kind) gets a
 *    welcome with status EPROTO, and the listener returns -EPROTO; another
 *    ABI minor is accepted; a refusing ack makes the listener fail;
 *  - a fake listener answering with another ABI major, a bad magic, a
 *    refusal status, or the wrong number of fds makes connect fail with
 *    -EPROTO / the status / -EBADMSG, leaking no fd;
 *  - what the listener sends (welcome, sealed memfd, eventfds, header and
 *    control block) is checked field by field, then a hand-written producer
 *    feeds the real consumer, and a hand-written consumer drains the real
 *    producer: frames, pads, marks and head as the ABI describes them. */
#include <sys/eventfd.h>

#include "rawpeer.h"

#define CAP 4096

/* ---- a real listener in a child ----------------------------------------------- */

struct real {
    int want;                      /* listen's expected result */
    void (*then)(zipc_channel *);  /* when it succeeded */
    int role;                      /* opts.role */
};

static pid_t spawn_real_listener(const char *path, const struct real *rl)
{
    pid_t pid = tu_fork();
    if (pid != 0)
        return pid;
    zipc_channel *ch = NULL;
    struct zipc_options o = tu_opts(5000 * TU_MS);
    o.role = rl->role;
    int r = zipc_channel_listen(&ch, path, CAP, &o);
    CHECK_ERR(r, rl->want);
    if (r == 0 && rl->then)
        rl->then(ch);
    zipc_channel_close(ch);
    tu_child_exit();
}

/* Connect by hand and say `h`; returns the socket, or -1. */
static int fake_hello(const char *path, const struct zipc_hello *h)
{
    int s = raw_connect_socket(path, 5000);
    if (!CHECK_MSG(s >= 0, "raw connect to %s failed", path))
        return -1;
    CHECK(raw_send(s, h, sizeof(*h), NULL, 0));
    return s;
}

static void close_fds(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/* ---- fake connector ---------------------------------------------------------- */

static void refused_hello(struct zipc_hello h, const char *what)
{
    char path[TU_PATH_MAX];
    struct real rl = {.want = -EPROTO};
    pid_t pid = spawn_real_listener(tu_path(path, "hello"), &rl);
    CHECK(tu_wait_path(path, 5000));
    int s = fake_hello(path, &h);
    struct zipc_welcome w;
    int fds[8], nfds = 0;
    if (s >= 0 && CHECK_OK(raw_recv(s, &w, sizeof(w), fds, 8, &nfds, 5000))) {
        CHECK_MSG(w.magic == ZIPC_WELCOME_MAGIC, "%s: welcome magic %#" PRIx64, what, w.magic);
        CHECK_MSG(w.status == EPROTO, "%s: welcome status %u, expected EPROTO", what, w.status);
        CHECK_MSG(nfds == 0, "%s: a refusal carried %d fds", what, nfds);
        close_fds(fds, nfds);
    }
    if (s >= 0)
        close(s);
    CHECK_CHILD(pid, 10000);
}

static uint64_t seed_for_raw;

/* The real consumer (in the child) receives what the fake producer writes. */
static void real_consumer_reads(zipc_channel *ch)
{
    CHECK_EQ(zipc_channel_role(ch), ZIPC_ROLE_CONSUMER);
    size_t max = zipc_channel_max_message(ch);
    struct zipc_msg m;
    uint64_t k = 0;
    int e;
    while ((e = zipc_channel_view(ch, &m, 10000 * TU_MS)) == 0) {
        if (!CHECK_STREAM_K(&m, seed_for_raw, k, max))
            break;
        k++;
        CHECK_HOT_OK(zipc_channel_release(ch));
    }
    CHECK_ERR(e, -EPIPE);
    printf("  real consumer: %" PRIu64 " messages from the hand-written producer\n", k);
    CHECK(k > 0);
}

static void check_eventfd(int fd)
{
    char link[64];
    CHECK(tu_fd_link(fd, link, sizeof(link)) && strcmp(link, "anon_inode:[eventfd]") == 0);
}

/* Map the received segment and check it field by field against abi.h. */
static bool check_segment(struct raw_seg *s, int memfd, const struct zipc_welcome *w, pid_t creator)
{
    struct stat st;
    CHECK_OK(fstat(memfd, &st));
    CHECK_EQ(st.st_size, w->segment_size);
    CHECK_EQ(st.st_size, ZIPC_CHANNEL_RING_OFFSET + CAP);
    int seals = fcntl(memfd, F_GET_SEALS);
    CHECK_MSG(seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) == (F_SEAL_SHRINK | F_SEAL_GROW),
              "seals %#x", seals);
    CHECK_MSG(!(seals & F_SEAL_WRITE), "the segment is write-sealed");
    memset(s, 0, sizeof(*s));
    s->fd = memfd;
    s->size = (uint64_t)st.st_size;
    s->base = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (!CHECK(s->base != MAP_FAILED))
        return false;
    const struct zipc_segment_header *h = (void *)s->base;
    CHECK(h->magic == ZIPC_SEGMENT_MAGIC);
    CHECK_EQ(h->abi_major, ZIPC_ABI_MAJOR);
    CHECK_EQ(h->abi_minor, ZIPC_ABI_MINOR);
    CHECK_EQ(h->kind, ZIPC_KIND_CHANNEL);
    CHECK_EQ(h->segment_size, s->size);
    CHECK_EQ(h->header_size, sizeof(*h));
    CHECK_EQ(h->body_offset, ZIPC_CHANNEL_BODY_OFFSET);
    CHECK_EQ(h->body_size, sizeof(struct zipc_channel_ctl));
    CHECK_EQ(h->creator_pid, creator);
    CHECK_EQ(h->creator_uid, geteuid());
    CHECK(memchr(h->name, 0, sizeof(h->name)) != NULL);
    s->ctl = (void *)(s->base + ZIPC_CHANNEL_BODY_OFFSET);
    CHECK_EQ(s->ctl->ring_offset, ZIPC_CHANNEL_RING_OFFSET);
    CHECK_EQ(s->ctl->ring_size, CAP);
    CHECK_EQ(s->ctl->max_message, CAP / 2 - ZIPC_FRAME_HEADER);
    CHECK_EQ(s->ctl->frame_align, ZIPC_FRAME_ALIGN);
    CHECK_EQ(s->ctl->producer.position, 0);
    CHECK_EQ(s->ctl->consumer.position, 0);
    s->ring_size = CAP;
    s->ring = s->base + ZIPC_CHANNEL_RING_OFFSET;
    return true;
}

/* Another ABI minor is accepted: take the welcome, check everything, ack,
 * then produce by hand for the real consumer. */
static void accepted_other_minor(void)
{
    char path[TU_PATH_MAX];
    struct real rl = {.want = 0, .then = real_consumer_reads};
    seed_for_raw = tu_seed ^ 0x77;
    pid_t pid = spawn_real_listener(tu_path(path, "minor"), &rl);
    CHECK(tu_wait_path(path, 5000));
    struct zipc_hello h = raw_hello();
    h.abi_minor = ZIPC_ABI_MINOR + 1;
    int sock = fake_hello(path, &h);
    struct zipc_welcome w;
    int fds[8], nfds = 0;
    struct raw_seg seg = {.fd = -1};
    if (sock >= 0 && CHECK_OK(raw_recv(sock, &w, sizeof(w), fds, 8, &nfds, 5000))) {
        CHECK(w.magic == ZIPC_WELCOME_MAGIC);
        CHECK_EQ(w.abi_major, ZIPC_ABI_MAJOR);
        CHECK_EQ(w.status, 0);
        CHECK_EQ(w.kind, ZIPC_KIND_CHANNEL);
        CHECK_EQ(w.connector_role, ZIPC_ROLE_PRODUCER);
        if (CHECK_EQ(nfds, 3) && check_segment(&seg, fds[0], &w, pid)) {
            CHECK_EQ(seg.ctl->listener_role, ZIPC_ROLE_CONSUMER);
            check_eventfd(fds[1]);
            check_eventfd(fds[2]);
            struct zipc_ack ack = {.magic = ZIPC_ACK_MAGIC};
            CHECK(raw_send(sock, &ack, sizeof(ack), NULL, 0));
            /* the hand-written producer: several laps, pads included */
            size_t max = seg.ctl->max_message;
            uint64_t tail = 0;
            uint8_t *buf = malloc(max);
            for (uint64_t k = 0; k < 2000; k++) {
                size_t size = tu_msg_size(seed_for_raw, k, max);
                int64_t give_up = tu_now_ns() + 10000 * TU_MS;
                while (tail + raw_need(&seg, tail, size) -
                               __atomic_load_n(&seg.ctl->consumer.position, __ATOMIC_ACQUIRE) > CAP &&
                       tu_now_ns() < give_up)
                    tu_sleep_us(50); /* wait for room */
                tu_msg_fill(buf, size, seed_for_raw, k);
                raw_put_msg(&seg, &tail, (uint32_t)k, (uint32_t)size, tu_msg_type(seed_for_raw, k), buf);
                /* wake a sleeping consumer by the ABI: clear its flag, then
                 * write its eventfd, the first of the two */
                uint64_t one = 1;
                if (__atomic_exchange_n(&seg.ctl->consumer_wait.sleeping, 0, __ATOMIC_SEQ_CST))
                    CHECK(write(fds[1], &one, sizeof(one)) == sizeof(one));
            }
            free(buf);
        }
        close_fds(fds + 1, nfds - 1); /* fds[0] belongs to seg now */
    }
    if (sock >= 0)
        close(sock); /* the link closes: the real consumer drains, then -EPIPE */
    CHECK_CHILD(pid, 20000);
    raw_seg_close(&seg);
}

/* The listener fails when the connector's ack refuses the segment. */
static void refusing_ack(uint64_t ack_magic, uint32_t status, int want)
{
    char path[TU_PATH_MAX];
    struct real rl = {.want = want};
    pid_t pid = spawn_real_listener(tu_path(path, "ack"), &rl);
    CHECK(tu_wait_path(path, 5000));
    struct zipc_hello h = raw_hello();
    int sock = fake_hello(path, &h);
    struct zipc_welcome w;
    int fds[8], nfds = 0;
    if (sock >= 0 && CHECK_OK(raw_recv(sock, &w, sizeof(w), fds, 8, &nfds, 5000))) {
        struct zipc_ack ack = {.magic = ack_magic, .status = status};
        CHECK(raw_send(sock, &ack, sizeof(ack), NULL, 0));
        close_fds(fds, nfds);
    }
    CHECK_CHILD(pid, 10000);
    if (sock >= 0)
        close(sock);
}

static void real_receives_one(zipc_channel *ch)
{
    char buf[8];
    size_t size;
    uint32_t type;
    CHECK_OK(zipc_channel_recv(ch, buf, sizeof(buf), &size, &type, 5000 * TU_MS));
    CHECK(size == 2 && type == 42 && memcmp(buf, "ok", 2) == 0);
}

/* A hello with a wrong magic, or with fds attached, is dropped: the
 * connection is closed and the listener goes on to accept a real one. */
static void dropped_hellos(void)
{
    char path[TU_PATH_MAX];
    struct real rl = {.want = 0, .then = real_receives_one};
    pid_t pid = spawn_real_listener(tu_path(path, "drop"), &rl);
    for (int i = 0; i < 2; i++) {
        struct zipc_hello h = raw_hello();
        int efd = eventfd(0, EFD_CLOEXEC), s = raw_connect_socket(path, 5000);
        if (i == 0)
            h.magic ^= UINT64_C(1) << 40;
        if (CHECK(s >= 0)) {
            CHECK(raw_send(s, &h, sizeof(h), &efd, i == 1 ? 1 : 0));
            struct zipc_welcome w;
            CHECK_MSG(raw_recv(s, &w, sizeof(w), NULL, 0, NULL, 5000) == -EPIPE,
                      "a %s hello was answered instead of dropped", i ? "fd-carrying" : "bad-magic");
            close(s);
        }
        close(efd);
    }
    zipc_channel *ch = NULL;
    if (CHECK_OK(zipc_channel_connect(&ch, path, NULL)))
        CHECK_OK(zipc_channel_send(ch, "ok", 2, 42, 5000 * TU_MS));
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 10000);
}

/* ---- fake listener --------------------------------------------------------------- */

/* A fake listener answers with `w` and `nfds` fds (a valid segment and two
 * eventfds, then extra eventfds); connect must return `want` and leak nothing. */
static void scripted_welcome(struct zipc_welcome w, int nfds, int want, const char *what)
{
    struct raw_server srv;
    memset(&srv, 0, sizeof(srv));
    struct raw_seg seg;
    if (!raw_seg_create(&seg, CAP) || !raw_seg_seal(&seg, RAW_SEALS))
        return;
    srv.welcome = w;
    srv.nfds = nfds;
    for (int i = 0; i < nfds; i++)
        srv.fds[i] = i == 0 ? seg.fd : eventfd(0, EFD_CLOEXEC);
    int open_fds = tu_fd_count();
    zipc_channel *ch = NULL;
    int r = raw_connect_to(&srv, "welcome", &ch, NULL);
    CHECK_MSG(r == want, "%s: connect returned %d %s, expected %d %s", what, r, tu_errname(r), want,
              tu_errname(want));
    zipc_channel_close(ch);
    raw_server_close(&srv);
    CHECK_MSG(tu_fd_count() == open_fds, "%s: connect leaked %d fds", what, tu_fd_count() - open_fds);
    CHECK_MSG(srv.got_hello, "%s: no hello", what);
    if (srv.got_hello) { /* the hello as the ABI says */
        CHECK(srv.hello.magic == ZIPC_HELLO_MAGIC);
        CHECK_EQ(srv.hello.abi_major, ZIPC_ABI_MAJOR);
        CHECK_EQ(srv.hello.kind, ZIPC_KIND_CHANNEL);
        CHECK_EQ(srv.hello.pid, getpid());
    }
    if ((want == -EPROTO || want == -EBADMSG) && w.status == 0 && srv.got_ack) /* best effort */
        CHECK_MSG(srv.ack.magic == ZIPC_ACK_MAGIC && srv.ack.status == (uint32_t)-want,
                  "%s: ack status %u", what, srv.ack.status);
    for (int i = 1; i < nfds; i++)
        close(srv.fds[i]);
    raw_seg_close(&seg);
}

static void fake_listener_welcomes(void)
{
    const uint64_t size = ZIPC_CHANNEL_RING_OFFSET + CAP;
    struct zipc_welcome ok = raw_welcome(ZIPC_ROLE_PRODUCER, size), w;
    w = ok, w.abi_major = ZIPC_ABI_MAJOR + 1;
    scripted_welcome(w, 3, -EPROTO, "welcome with abi_major + 1");
    w = ok, w.abi_major = ZIPC_ABI_MAJOR + 1, w.status = EPROTO;
    scripted_welcome(w, 0, -EPROTO, "refusal: EPROTO");
    w = ok, w.magic ^= 1;
    scripted_welcome(w, 3, -EPROTO, "welcome with a bad magic");
    w = ok, w.kind = ZIPC_KIND_QUEUE;
    scripted_welcome(w, 3, -EPROTO, "welcome of another kind");
    w = ok, w.status = EPERM;
    scripted_welcome(w, 0, -EPERM, "refusal: EPERM");
    w = ok, w.status = 5000;
    scripted_welcome(w, 0, -EPROTO, "refusal with a status beyond errno");
    scripted_welcome(ok, 0, -EBADMSG, "welcome without fds");
    scripted_welcome(ok, 2, -EBADMSG, "welcome with two fds");
    scripted_welcome(ok, 4, -EBADMSG, "welcome with four fds");
    scripted_welcome(ok, 3, 0, "a valid welcome");
    w = ok, w.abi_minor = ZIPC_ABI_MINOR + 1;
    scripted_welcome(w, 3, 0, "welcome with abi_minor + 1");
}

/* ---- a hand-written consumer drains the real producer ------------------------------ */

/* What a mark at the read position means (ABI 8.4): 1 the expected frame,
 * 0 not yet (zero, or a header mark at most one lap old), -1 corrupt. */
static int raw_mark_state(uint64_t mark, uint32_t seq)
{
    if (mark == ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG) || mark == ZIPC_FRAME_MARK(seq, ZIPC_FRAME_PAD))
        return 1;
    uint32_t kind = (uint32_t)mark, age = seq - (uint32_t)(mark >> 32);
    bool header = kind == ZIPC_FRAME_MSG || kind == ZIPC_FRAME_PAD;
    return mark == 0 || (header && age >= 1 && age <= CAP / ZIPC_FRAME_ALIGN) ? 0 : -1;
}

/* Take the frame at *rpos by the ABI's rules: 1 taken, 0 none yet, -1 bad. */
static int raw_take(const struct raw_seg *s, uint64_t *rpos, uint32_t seq, struct zipc_msg *m)
{
    uint64_t off = *rpos & (CAP - 1);
    const struct zipc_frame *f = raw_frame(s, *rpos);
    uint64_t mark = __atomic_load_n(&f->mark, __ATOMIC_ACQUIRE);
    int state = raw_mark_state(mark, seq);
    if (state <= 0)
        return state;
    if (mark == ZIPC_FRAME_MARK(seq, ZIPC_FRAME_PAD) && off != 0) {
        *rpos += CAP - off;
        off = 0;
        f = raw_frame(s, *rpos);
        mark = __atomic_load_n(&f->mark, __ATOMIC_ACQUIRE);
    }
    if (mark != ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG) || f->size > s->ctl->max_message ||
        off + raw_frame_bytes(f->size) > CAP)
        return -1;
    m->data = f + 1;
    m->size = f->size;
    m->type = f->type;
    *rpos += raw_frame_bytes(f->size);
    return 1;
}

static void real_producer_raw_consumer(void)
{
    struct raw_server srv;
    memset(&srv, 0, sizeof(srv));
    struct raw_seg seg;
    if (!raw_seg_create(&seg, CAP) || !raw_seg_seal(&seg, RAW_SEALS))
        return;
    srv.welcome = raw_welcome(ZIPC_ROLE_PRODUCER, seg.size);
    srv.nfds = 3;
    srv.fds[0] = seg.fd;
    srv.fds[1] = eventfd(0, EFD_CLOEXEC);
    srv.fds[2] = eventfd(0, EFD_CLOEXEC);
    zipc_channel *p = NULL;
    if (CHECK_OK(raw_connect_to(&srv, "rawcons", &p, NULL))) {
        CHECK(srv.got_ack && srv.ack.status == 0);
        CHECK_EQ(zipc_channel_role(p), ZIPC_ROLE_PRODUCER);
        CHECK_EQ(seg.ctl->producer.state, ZIPC_STATE_ACTIVE);
        CHECK_EQ(seg.ctl->producer.pid, getpid());
        size_t max = zipc_channel_max_message(p);
        uint64_t seed = tu_seed ^ 0x99, sent = 0, got = 0, rpos = 0;
        const uint64_t n = 5000;
        struct zipc_msg m;
        while (got < n) {
            while (sent < n && tu_send_stream(p, seed, sent, (sent & 3) ? ZIPC_COMMIT_MORE : 0, ZIPC_TRY) == 0)
                sent++;
            CHECK_OK(zipc_channel_flush(p));
            int r;
            while ((r = raw_take(&seg, &rpos, (uint32_t)got, &m)) == 1 && CHECK_STREAM_K(&m, seed, got, max))
                got++;
            if (!CHECK_MSG(r == 0, "bad frame at %" PRIu64 " (message %" PRIu64 ")", rpos, got))
                break;
            raw_set_head(&seg, rpos);
        }
        CHECK_EQ(got, n);
        struct zipc_channel_stats st;
        CHECK_OK(zipc_channel_get_stats(p, &st));
        CHECK_EQ(st.messages, n);
        CHECK_EQ(seg.ctl->producer.messages, n);
        CHECK_EQ(seg.ctl->producer.position, rpos); /* informative: the published end */
        zipc_channel_close(p);
        CHECK_EQ(seg.ctl->producer.state, ZIPC_STATE_CLOSED);
    }
    raw_server_close(&srv);
    close(srv.fds[1]);
    close(srv.fds[2]);
    raw_seg_close(&seg);
}

int main(void)
{
    tu_init("test_abi", 120);
    struct zipc_hello h = raw_hello();
    h.abi_major = ZIPC_ABI_MAJOR + 1;
    refused_hello(h, "hello with abi_major + 1");
    h = raw_hello();
    h.abi_major = ZIPC_ABI_MAJOR ? ZIPC_ABI_MAJOR - 1 : 0xffff;
    refused_hello(h, "hello with another abi_major");
    h = raw_hello();
    h.kind = ZIPC_KIND_TOPIC;
    refused_hello(h, "hello for another kind");
    accepted_other_minor();
    dropped_hellos();
    refusing_ack(ZIPC_ACK_MAGIC, EBADMSG, -EBADMSG);
    refusing_ack(ZIPC_ACK_MAGIC ^ 1, 0, -EPROTO);
    fake_listener_welcomes();
    real_producer_raw_consumer();
    return tu_finish();
}

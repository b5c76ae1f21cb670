/* stream_frames: typed frames over pipes (include/zipc/stream.h).
 *
 * Frames cross real pipes between this process and an exec'ed copy of it
 * (`--produce` / `--consume` modes), both ways; then a broken stream of
 * every kind (cut anywhere, any header byte or a payload byte flipped, a
 * giant declared size, another version) must give its error at once, never
 * a hang (the watchdog and per-child timeouts bound every step) and never an
 * allocation the stream did not pay for. Also: the CRC-32 test vector shared
 * with Python's zlib.crc32, non-blocking fds, EINTR, writev, a gone reader.
 */
#include "testutil.h"

#include <malloc.h>

#include "stream.h"

#define FRAMES 600
#define MAX_SIZE (300 * 1024) /* larger than the reader's read-ahead and first buffer */

static const char *self_exe;

/* Frame k of the stream seeded `seed`: the channel tests' payloads. */
static size_t frame_size(uint64_t seed, uint64_t k) { return tu_msg_size(seed, k, MAX_SIZE); }

static int produce(int fd, uint64_t seed, long n)
{
    uint8_t *buf = malloc(MAX_SIZE);
    int err = 0;
    for (long k = 0; buf && k < n && !err; k++) {
        size_t size = frame_size(seed, (uint64_t)k);
        tu_msg_fill(buf, size, seed, (uint64_t)k);
        err = zipc_stream_write(fd, tu_msg_type(seed, (uint64_t)k), buf, size);
    }
    free(buf);
    return buf ? err : -ENOMEM;
}

/* Read n frames and the clean end; 0, or the first error (-1: a wrong frame). */
static int consume(int fd, uint64_t seed, long n)
{
    zipc_stream_reader *r;
    int err = zipc_stream_reader_open(&r, fd, 0);
    for (long k = 0; !err && k < n; k++) {
        struct zipc_stream_frame f;
        err = zipc_stream_read(r, &f);
        if (!err && (tu_msg_verify(f.data, f.size, f.type, seed, (uint64_t)k, frame_size(seed, (uint64_t)k)) ||
                     (uintptr_t)f.data % 64 != 16)) {
            fprintf(stderr, "frame %ld is wrong\n", k);
            err = -1;
        }
    }
    struct zipc_stream_frame f;
    if (!err)
        err = zipc_stream_read(r, &f) == -EPIPE ? 0 : -1;
    zipc_stream_reader_close(r);
    return err;
}

/* Exec this program in `mode` with its stdin or stdout on the pipe end `fd`. */
static pid_t spawn(const char *mode, int fd, int other, uint64_t seed)
{
    pid_t pid = tu_fork();
    if (pid == 0) {
        dup2(fd, strcmp(mode, "--produce") ? STDIN_FILENO : STDOUT_FILENO);
        close(fd);
        close(other);
        char s[32], n[32];
        snprintf(s, sizeof s, "%" PRIu64, seed);
        snprintf(n, sizeof n, "%d", FRAMES);
        execl(self_exe, self_exe, mode, s, n, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void test_crc_vector(void)
{
    CHECK_EQ(zipc_stream_crc32(0, "123456789", 9), 0xCBF43926u);
    CHECK_EQ(zipc_stream_crc32(0, "", 0), 0);
    /* split anywhere, the same CRC; long input (the 8-byte path) vs bytewise */
    uint8_t buf[1000];
    uint64_t st = tu_seed;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)tu_rand(&st);
    uint32_t whole = zipc_stream_crc32(0, buf, sizeof buf), bytewise = 0;
    for (size_t i = 0; i < sizeof buf; i++)
        bytewise = zipc_stream_crc32(bytewise, buf + i, 1);
    CHECK_EQ(whole, bytewise);
    for (size_t cut = 0; cut <= sizeof buf; cut += 37)
        CHECK_HOT(zipc_stream_crc32(zipc_stream_crc32(0, buf, cut), buf + cut, sizeof buf - cut) == whole);
    /* the folding path (x86-64 with PCLMULQDQ: 64 bytes and more) at every
     * alignment and tail length, against the table one byte at a time */
    for (size_t off = 0; off < 16; off++)
        for (size_t len = 60; len < 400; len += 13) {
            uint32_t one = 0;
            for (size_t i = 0; i < len; i++)
                one = zipc_stream_crc32(one, buf + off + i, 1);
            CHECK_HOT(zipc_stream_crc32(0, buf + off, len) == one);
        }
}

static void test_exec_round_trip(void)
{
    uint64_t seed = tu_seed;
    int p[2];
    CHECK_OK(pipe2(p, O_CLOEXEC));
    pid_t pid = spawn("--produce", p[1], p[0], seed);
    close(p[1]);
    CHECK_OK(consume(p[0], seed, FRAMES));
    close(p[0]);
    CHECK_CHILD(pid, 60000);

    CHECK_OK(pipe2(p, O_CLOEXEC));
    pid = spawn("--consume", p[0], p[1], seed ^ 1);
    close(p[0]);
    CHECK_OK(produce(p[1], seed ^ 1, FRAMES));
    close(p[1]);
    CHECK_CHILD(pid, 60000);
}

/* ---- broken streams --------------------------------------------------------- */

/* A stream of three frames in memory (sizes 0, 100, 70000). */
static size_t make_stream(uint8_t *out, size_t *ends)
{
    static const size_t sizes[3] = {0, 100, 70000};
    size_t at = 0;
    for (int k = 0; k < 3; k++) {
        uint8_t *payload = out + at + ZIPC_STREAM_HEADER_SIZE;
        tu_msg_fill(payload, sizes[k], tu_seed, (uint64_t)k);
        struct zipc_stream_header h;
        zipc__stream_header_fill(&h, tu_msg_type(tu_seed, (uint64_t)k), sizes[k],
                                 zipc_stream_crc32(0, payload, sizes[k]));
        memcpy(out + at, &h, sizeof h);
        at += sizeof h + sizes[k];
        ends[k] = at;
    }
    return at;
}

/* Feed bytes through a pipe, then EOF (or, with keep_open, from a child
 * that keeps the write end open for 30 s: a reader waiting for more bytes
 * would hang), and read frames until an error. Returns that error and
 * the number of frames read before it. */
static int read_all(const uint8_t *bytes, size_t n, bool keep_open, uint64_t max_frame, int *frames)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC))
        return -errno;
    /* a pipe that holds everything needs no writer process */
    bool direct = !keep_open && fcntl(p[1], F_SETPIPE_SZ, 1 << 20) >= (int)n;
    pid_t pid = direct ? 0 : tu_fork();
    if (direct)
        CHECK_HOT(n == 0 || write(p[1], bytes, n) == (ssize_t)n);
    else if (pid == 0) {
        close(p[0]);
        for (size_t at = 0; at < n;) {
            ssize_t w = write(p[1], bytes + at, n - at);
            if (w <= 0)
                _exit(1);
            at += (size_t)w;
        }
        if (keep_open)
            sleep(30);
        _exit(0);
    }
    close(p[1]);
    zipc_stream_reader *r;
    int err = zipc_stream_reader_open(&r, p[0], max_frame);
    struct zipc_stream_frame f;
    *frames = 0;
    while (!err && !(err = zipc_stream_read(r, &f)))
        ++*frames;
    CHECK_EQ(zipc_stream_read(r, &f), err); /* broken or ended stays so */
    zipc_stream_reader_close(r);
    close(p[0]);
    if (!direct)
        tu_kill_reap(pid);
    return err;
}

static void test_truncated(void)
{
    static uint8_t s[3 * ZIPC_STREAM_HEADER_SIZE + 70100];
    size_t ends[3], n = make_stream(s, ends);
    int frames;
    CHECK_ERR(read_all(s, n, false, 0, &frames), -EPIPE);
    CHECK_EQ(frames, 3);
    int64_t t0 = tu_now_ns();
    long cuts = 0;
    for (size_t cut = 0; cut < n; cut += cut < 300 ? 1 : 997) {
        int whole = 0;
        while (whole < 3 && ends[whole] <= cut)
            whole++;
        bool at_boundary = cut == 0 || (whole > 0 && ends[whole - 1] == cut);
        CHECK_HOT_ERR(read_all(s, cut, false, 0, &frames), at_boundary ? -EPIPE : -EBADMSG);
        CHECK_HOT(frames == whole);
        cuts++;
    }
    printf("  %ld cut points, %.0f ms\n", cuts, tu_ms_since(t0));
}

static void test_garbled(void)
{
    static uint8_t s[3 * ZIPC_STREAM_HEADER_SIZE + 70100];
    size_t ends[3], n = make_stream(s, ends);
    int frames;
    /* any header byte of frame 1: refused before its payload, even though the
     * writer keeps the pipe open (a reader trusting the size would wait) */
    for (size_t i = 0; i < ZIPC_STREAM_HEADER_SIZE; i++) {
        s[ends[0] + i] ^= 0x20;
        CHECK_HOT_ERR(read_all(s, ends[0] + ZIPC_STREAM_HEADER_SIZE, true, 0, &frames), -EBADMSG);
        CHECK_HOT(frames == 1);
        s[ends[0] + i] ^= 0x20;
    }
    /* a payload byte */
    s[ends[1] + ZIPC_STREAM_HEADER_SIZE + 1234] ^= 1;
    CHECK_ERR(read_all(s, n, false, 0, &frames), -EBADMSG);
    CHECK_EQ(frames, 2);
    s[ends[1] + ZIPC_STREAM_HEADER_SIZE + 1234] ^= 1;
    /* garbage from the first byte */
    memset(s, 'x', 100);
    CHECK_ERR(read_all(s, 100, true, 0, &frames), -EBADMSG);
}

/* A well-formed header (valid CRC) declaring `size`, with `version`. */
static void forged_header(uint8_t *out, uint64_t size, uint16_t version)
{
    struct zipc_stream_header h;
    zipc__stream_header_fill(&h, 7, size, 0);
    h.version = version;
    h.header_crc = zipc_stream_crc32(0, &h, 28);
    memcpy(out, &h, sizeof h);
}

static void test_giant_size(void)
{
    uint8_t s[ZIPC_STREAM_HEADER_SIZE + 1000] = {0};
    int frames;
    forged_header(s, UINT64_C(1) << 62, ZIPC_STREAM_VERSION);
    CHECK_ERR(read_all(s, ZIPC_STREAM_HEADER_SIZE, true, 0, &frames), -EMSGSIZE);
    forged_header(s, 1001, ZIPC_STREAM_VERSION);
    CHECK_ERR(read_all(s, ZIPC_STREAM_HEADER_SIZE, true, 1000, &frames), -EMSGSIZE);
    forged_header(s, 1000, ZIPC_STREAM_VERSION);
    struct zipc_stream_header *h = (void *)s;
    h->payload_crc = zipc_stream_crc32(0, s + ZIPC_STREAM_HEADER_SIZE, 1000);
    h->header_crc = zipc_stream_crc32(0, h, 28);
    CHECK_ERR(read_all(s, sizeof s, false, 1000, &frames), -EPIPE);
    CHECK_EQ(frames, 1);
    forged_header(s, 0, ZIPC_STREAM_VERSION + 1);
    CHECK_ERR(read_all(s, ZIPC_STREAM_HEADER_SIZE, true, 0, &frames), -EPROTO);

    /* 900 MiB declared (under the default max), 100 bytes sent: the reader
     * allocates for what arrived, not for the promise */
    forged_header(s, UINT64_C(900) << 20, ZIPC_STREAM_VERSION);
    int p[2];
    CHECK_OK(pipe2(p, O_CLOEXEC));
    CHECK_EQ(write(p[1], s, ZIPC_STREAM_HEADER_SIZE + 100), ZIPC_STREAM_HEADER_SIZE + 100);
    close(p[1]);
    size_t before = mallinfo2().hblkhd + mallinfo2().uordblks;
    zipc_stream_reader *r;
    struct zipc_stream_frame f;
    CHECK_OK(zipc_stream_reader_open(&r, p[0], 0));
    CHECK_ERR(zipc_stream_read(r, &f), -EBADMSG);
    size_t held = mallinfo2().hblkhd + mallinfo2().uordblks - before;
    CHECK_MSG(held < (1u << 20), "the reader holds %zu bytes after 100 payload bytes", held);
    zipc_stream_reader_close(r);
    close(p[0]);
}

/* ---- fds of every kind ------------------------------------------------------- */

static void test_nonblocking_resumes(void)
{
    static uint8_t s[3 * ZIPC_STREAM_HEADER_SIZE + 70100];
    size_t ends[3], n = make_stream(s, ends);
    int p[2];
    CHECK_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
    CHECK_OK(fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < 0);
    zipc_stream_reader *r;
    CHECK_OK(zipc_stream_reader_open(&r, p[0], 0));
    struct zipc_stream_frame f;
    int frames = 0, again = 0;
    /* the bytes arrive in pieces of 7, 13, 29 ... ; every -EAGAIN resumes */
    for (size_t at = 0, piece = 7; at < n; piece = piece * 2 + 1) {
        size_t m = at + piece < n ? piece : n - at;
        CHECK_HOT(write(p[1], s + at, m) == (ssize_t)m);
        at += m;
        int err;
        while (!(err = zipc_stream_read(r, &f))) {
            CHECK_HOT(!tu_msg_verify(f.data, f.size, f.type, tu_seed, (uint64_t)frames, ends[frames] - (frames ? ends[frames - 1] : 0) - ZIPC_STREAM_HEADER_SIZE));
            frames++;
        }
        if (!CHECK_HOT_ERR(err, -EAGAIN))
            break;
        again++;
    }
    CHECK_EQ(frames, 3);
    CHECK(again > 3);
    close(p[1]);
    CHECK_ERR(zipc_stream_read(r, &f), -EPIPE);
    zipc_stream_reader_close(r);
    close(p[0]);

    /* a writer on a full non-blocking pipe waits for room, never tears a frame */
    CHECK_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
    pid_t pid = tu_fork();
    if (pid == 0) {
        close(p[1]);
        int fl = fcntl(p[0], F_GETFL);
        fcntl(p[0], F_SETFL, fl & ~O_NONBLOCK);
        tu_sleep_us(100000); /* let the writer fill the pipe first */
        CHECK(consume(p[0], tu_seed, 40) == 0);
        tu_child_exit();
    }
    close(p[0]);
    CHECK_OK(produce(p[1], tu_seed, 40));
    close(p[1]);
    CHECK_CHILD(pid, 30000);
}

static void on_usr1(int sig) { (void)sig; }

static void test_eintr(void)
{
    struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART: read() fails with EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    int p[2];
    CHECK_OK(pipe2(p, O_CLOEXEC));
    pid_t parent = getpid(), pid = tu_fork();
    if (pid == 0) {
        close(p[0]);
        static uint8_t s[3 * ZIPC_STREAM_HEADER_SIZE + 70100];
        size_t ends[3], n = make_stream(s, ends);
        for (size_t at = 0; at < n; at += 5000) { /* slowly, a signal before each piece */
            kill(parent, SIGUSR1);
            tu_sleep_us(2000);
            size_t m = n - at < 5000 ? n - at : 5000;
            if (write(p[1], s + at, m) != (ssize_t)m)
                _exit(1);
        }
        _exit(0);
    }
    close(p[1]);
    zipc_stream_reader *r;
    CHECK_OK(zipc_stream_reader_open(&r, p[0], 0));
    struct zipc_stream_frame f;
    for (int k = 0; k < 3; k++)
        CHECK_OK(zipc_stream_read(r, &f));
    CHECK_EQ(f.size, 70000);
    CHECK_ERR(zipc_stream_read(r, &f), -EPIPE);
    zipc_stream_reader_close(r);
    close(p[0]);
    CHECK_CHILD(pid, 30000);
    signal(SIGUSR1, SIG_DFL);
}

static void test_writev_and_decode(void)
{
    uint8_t payload[300], a[ZIPC_STREAM_HEADER_SIZE + 300], b[sizeof a];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    int p[2];
    CHECK_OK(pipe2(p, O_CLOEXEC));
    struct iovec iov[3] = {{payload, 10}, {payload + 10, 0}, {payload + 10, 290}};
    CHECK_OK(zipc_stream_writev(p[1], 42, iov, 3));
    CHECK_OK(zipc_stream_write(p[1], 42, payload, sizeof payload));
    CHECK_EQ(read(p[0], a, sizeof a), sizeof a);
    CHECK_EQ(read(p[0], b, sizeof b), sizeof b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    struct zipc_stream_frame f;
    size_t used;
    CHECK_OK(zipc__stream_decode(a, sizeof a, 0, &f, &used));
    CHECK_EQ(used, sizeof a);
    CHECK_EQ(f.type, 42);
    CHECK(f.size == 300 && memcmp(f.data, payload, 300) == 0);
    CHECK_ERR(zipc__stream_decode(a, 31, 0, &f, &used), -EAGAIN);
    CHECK_EQ(used, ZIPC_STREAM_HEADER_SIZE);
    CHECK_ERR(zipc__stream_decode(a, 100, 0, &f, &used), -EAGAIN);
    CHECK_EQ(used, sizeof a);
    CHECK_ERR(zipc__stream_decode(a, sizeof a, 299, &f, &used), -EMSGSIZE);
    CHECK_ERR(zipc_stream_writev(p[1], 1, iov, ZIPC_STREAM_MAX_IOV + 1), -EINVAL);
    CHECK_ERR(zipc_stream_write(p[1], 1, NULL, 1), -EINVAL);
    CHECK_ERR(zipc_stream_write(-1, 1, payload, 1), -EINVAL);
    CHECK_ERR(zipc_stream_reader_open(NULL, 0, 0), -EINVAL);
    /* an empty frame */
    CHECK_OK(zipc_stream_write(p[1], 9, NULL, 0));
    close(p[1]);
    zipc_stream_reader *r;
    CHECK_OK(zipc_stream_reader_open(&r, p[0], 0));
    CHECK_OK(zipc_stream_read(r, &f));
    CHECK(f.size == 0 && f.type == 9);
    CHECK_ERR(zipc_stream_read(r, &f), -EPIPE);
    zipc_stream_reader_close(r);
    close(p[0]);
    /* the reading side gone (SIGPIPE is ignored by tu_init) */
    CHECK_OK(pipe2(p, O_CLOEXEC));
    close(p[0]);
    CHECK_ERR(zipc_stream_write(p[1], 1, payload, 10), -EPIPE);
    close(p[1]);
}

int main(int argc, char **argv)
{
    self_exe = "/proc/self/exe";
    if (argc == 4 && !strcmp(argv[1], "--produce"))
        return produce(STDOUT_FILENO, strtoull(argv[2], NULL, 10), atol(argv[3])) ? 1 : 0;
    if (argc == 4 && !strcmp(argv[1], "--consume"))
        return consume(STDIN_FILENO, strtoull(argv[2], NULL, 10), atol(argv[3])) ? 1 : 0;
    tu_init("stream_frames", 300);
    test_crc_vector();
    test_exec_round_trip();
    test_truncated();
    test_garbled();
    test_giant_size();
    test_nonblocking_resumes();
    test_eintr();
    test_writev_and_decode();
    return tu_finish();
}

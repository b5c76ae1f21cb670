/* zipc_inspect_fd / zipc_inspect_path (include/zipc/inspect.h):
 *  - a live channel's memfd, found in /proc/<pid>/fd of the listener, shows
 *    its label, creator, seals and both sides' counters (messages, bytes,
 *    wake-ups, sleeps, pids, states) and the ring fill, exactly as the test
 *    drove them; inspecting changes nothing and the channel goes on working;
 *  - hostile or truncated segments (no seals, too short, bad magic, another
 *    ABI major, wrong sizes, body out of range, a hostile control block,
 *    random bytes) give a negative errno or odd numbers, never a crash;
 *    non-segments (pipe, fifo, /dev/null, a directory) are refused without
 *    blocking; an unknown kind shows its generic part only;
 *  - a write-sealed segment (store, topic data) can be inspected. */
#include <sys/mman.h>
#include <sys/stat.h>

#include "testutil.h"
#include "wire.h"

#define N_SENT 8
#define N_RELEASED 5
#define MSG_SIZE 100

/* ---- a live channel ------------------------------------------------------- */

struct live {
    int ready_fd; /* child -> parent: N_RELEASED released, one more viewed */
    int go_fd;    /* parent -> child: inspected, drain the rest */
};

/* The listener (consumer): sleeps in view until the first message comes,
 * releases N_RELEASED, keeps one view open, then drains after the go. */
static void consumer_side(zipc_channel *c, void *arg)
{
    const struct live *l = arg;
    struct zipc_msg m;
    for (int k = 0; k < N_RELEASED; k++) {
        CHECK_OK(zipc_channel_view(c, &m, 10000 * TU_MS));
        CHECK_OK(zipc_channel_release(c));
    }
    CHECK_OK(zipc_channel_view(c, &m, 10000 * TU_MS)); /* viewed, not released */
    tu_notify(l->ready_fd);
    CHECK(tu_await(l->go_fd, 10000));
    CHECK_OK(zipc_channel_release(c));
    for (int k = N_RELEASED + 1; k < N_SENT; k++) {
        CHECK_OK(zipc_channel_view(c, &m, 10000 * TU_MS));
        CHECK_EQ(m.size, MSG_SIZE);
        CHECK_OK(zipc_channel_release(c));
    }
}

/* The first fd of pid whose link names a zipc memfd: "/proc/<pid>/fd/<n>". */
static bool find_memfd(pid_t pid, char *out, size_t n)
{
    char dir[64], link[256], p[320];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        ssize_t len = readlink(p, link, sizeof(link) - 1);
        if (len > 0) {
            link[len] = 0;
            if (strncmp(link, "/memfd:zipc:", 12) == 0) {
                snprintf(out, n, "%s", p);
                found = true;
            }
        }
    }
    closedir(d);
    return found;
}

static void live_channel(void)
{
    char path[TU_PATH_MAX];
    int ready[2], go[2];
    CHECK_OK(pipe(ready));
    CHECK_OK(pipe(go));
    struct live l = {.ready_fd = ready[1], .go_fd = go[0]};
    struct zipc_options lo = tu_opts(10000 * TU_MS);
    lo.flags = ZIPC_OPT_NO_SPIN; /* the consumer sleeps at once: a sleep and a wake-up to count */
    lo.label = "inspect-me";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t t_created_min = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    pid_t child = tu_spawn_listener(tu_path(path, "insp"), 4096, &lo, consumer_side, &l);
    zipc_channel *p = NULL;
    struct zipc_options co = tu_opts(10000 * TU_MS);
    if (!CHECK_OK(zipc_channel_connect(&p, path, &co))) {
        tu_kill_reap(child);
        return;
    }
    tu_sleep_us(50000); /* the consumer is asleep in view by now */
    char payload[MSG_SIZE];
    memset(payload, 7, sizeof(payload));
    for (int k = 0; k < N_SENT; k++)
        CHECK_OK(zipc_channel_send(p, payload, sizeof(payload), 1, ZIPC_TRY));
    CHECK(tu_await(ready[0], 10000));

    char fdpath[400];
    struct zipc_segment_info a, b;
    if (CHECK(find_memfd(child, fdpath, sizeof(fdpath))) && CHECK_OK(zipc_inspect_path(fdpath, &a))) {
        uint64_t frame = (ZIPC_FRAME_HEADER + MSG_SIZE + ZIPC_FRAME_ALIGN - 1) / ZIPC_FRAME_ALIGN * ZIPC_FRAME_ALIGN;
        CHECK_EQ(a.kind, ZIPC_KIND_CHANNEL);
        CHECK_EQ(a.abi_major, ZIPC_ABI_MAJOR);
        CHECK_EQ(a.segment_size, ZIPC_CHANNEL_RING_OFFSET + 4096);
        CHECK_EQ(a.creator_pid, child);
        CHECK_EQ(a.creator_uid, geteuid());
        clock_gettime(CLOCK_REALTIME, &ts);
        CHECK_RANGE(a.created_ns, t_created_min, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
        CHECK(strcmp(a.label, "inspect-me") == 0);
        CHECK_EQ(a.seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
        CHECK_EQ(a.detail, ZIPC_INSPECT_CHANNEL);
        CHECK_EQ(a.channel.ring_size, 4096);
        CHECK_EQ(a.channel.max_message, 4096 / 2 - ZIPC_FRAME_HEADER);
        CHECK_EQ(a.channel.listener_role, ZIPC_ROLE_CONSUMER);
        CHECK_EQ(a.channel.producer.messages, N_SENT);
        CHECK_EQ(a.channel.producer.bytes, N_SENT * frame);
        CHECK_EQ(a.channel.producer.pid, getpid());
        CHECK_EQ(a.channel.producer.state, ZIPC_STATE_ACTIVE);
        CHECK(a.channel.producer.wakeups >= 1); /* it woke the sleeping consumer */
        CHECK_EQ(a.channel.consumer.messages, N_RELEASED);
        CHECK_EQ(a.channel.consumer.bytes, N_RELEASED * frame);
        CHECK_EQ(a.channel.consumer.pid, child);
        CHECK_EQ(a.channel.consumer.state, ZIPC_STATE_ACTIVE);
        CHECK(a.channel.consumer.sleeps >= 1);
        CHECK_EQ(a.channel.ring_used, (N_SENT - N_RELEASED) * frame);
        /* The producer's own view agrees. */
        struct zipc_channel_stats st;
        CHECK_OK(zipc_channel_get_stats(p, &st));
        CHECK_EQ(st.messages, a.channel.producer.messages);
        /* Inspecting again changes nothing (no wake-up, no state). */
        CHECK_OK(zipc_inspect_path(fdpath, &b));
        CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    }
    tu_notify(go[1]);
    CHECK_CHILD(child, 10000); /* the channel went on working */
    zipc_channel_close(p);
    for (int i = 0; i < 2; i++) {
        close(ready[i]);
        close(go[i]);
    }
}

/* ---- forged segments ------------------------------------------------------ */

#define IMG 8192
static uint8_t img[IMG];

static int memfd_of(const void *data, size_t size, unsigned seals)
{
    int fd = memfd_create("zipc:forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size ||
        (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)) {
        CHECK_MSG(0, "memfd_of: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

#define SIZE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

static int inspect_image(const void *data, size_t size, unsigned seals, struct zipc_segment_info *info)
{
    int fd = memfd_of(data, size, seals);
    if (fd < 0)
        return -1000;
    int r = zipc_inspect_fd(fd, info);
    close(fd);
    return r;
}

/* A valid channel image of IMG bytes (ring 4096). */
static struct zipc_segment_header *valid_image(void)
{
    memset(img, 0, sizeof(img));
    struct zipc_segment_header *h = (void *)img;
    wire_channel_header(h, IMG, 0, 0, "forged");
    struct zipc_channel_ctl *ctl = (void *)(img + ZIPC_CHANNEL_BODY_OFFSET);
    ctl->ring_offset = ZIPC_CHANNEL_RING_OFFSET;
    ctl->ring_size = IMG - ZIPC_CHANNEL_RING_OFFSET;
    ctl->max_message = (uint32_t)(ctl->ring_size / 2 - ZIPC_FRAME_HEADER);
    ctl->frame_align = ZIPC_FRAME_ALIGN;
    return h;
}

static void forged(void)
{
    struct zipc_segment_info info;
    struct zipc_segment_header *h = valid_image();
    CHECK_OK(inspect_image(img, IMG, SIZE_SEALS, &info));
    CHECK_EQ(info.detail, ZIPC_INSPECT_CHANNEL);
    CHECK_EQ(info.channel.ring_size, IMG - ZIPC_CHANNEL_RING_OFFSET);
    CHECK(strcmp(info.label, "forged") == 0);

    CHECK_ERR(inspect_image(img, IMG, 0, &info), -EBADMSG);            /* could shrink: SIGBUS */
    CHECK_ERR(inspect_image(img, IMG, F_SEAL_GROW, &info), -EBADMSG);
    CHECK_ERR(inspect_image(img, 100, SIZE_SEALS, &info), -EBADMSG);   /* shorter than a header */
    CHECK_ERR(inspect_image(img, 0, SIZE_SEALS, &info), -EBADMSG);
    CHECK_EQ(info.kind, 0); /* nothing reported on failure */
    /* Write-sealed (a store, topic data): readable all the same. */
    CHECK_OK(inspect_image(img, IMG, SIZE_SEALS | F_SEAL_WRITE, &info));
    CHECK_OK(inspect_image(img, IMG, SIZE_SEALS | F_SEAL_FUTURE_WRITE, &info));

    h->magic ^= 1;
    CHECK_ERR(inspect_image(img, IMG, SIZE_SEALS, &info), -EBADMSG);
    h = valid_image();
    h->abi_major = ZIPC_ABI_MAJOR + 1;
    CHECK_ERR(inspect_image(img, IMG, SIZE_SEALS, &info), -EPROTO);
    h = valid_image();
    h->segment_size = IMG * 2; /* claims more than the file: truncated */
    CHECK_ERR(inspect_image(img, IMG, SIZE_SEALS, &info), -EBADMSG);
    h->segment_size = IMG;
    CHECK_ERR(inspect_image(img, IMG / 2, SIZE_SEALS, &info), -EBADMSG); /* the file is truncated */
    h->header_size = 64;
    CHECK_ERR(inspect_image(img, IMG, SIZE_SEALS, &info), -EBADMSG);
    h = valid_image();
    h->body_offset = IMG - 8;
    CHECK_ERR(inspect_image(img, IMG, SIZE_SEALS, &info), -EBADMSG);
    h->body_offset = UINT64_MAX - 100; /* overflow bait */
    CHECK_ERR(inspect_image(img, IMG, SIZE_SEALS, &info), -EBADMSG);
    h = valid_image();
    h->body_size = UINT64_MAX;
    CHECK_ERR(inspect_image(img, IMG, SIZE_SEALS, &info), -EBADMSG);

    /* An unknown kind: the generic part only. */
    h = valid_image();
    h->kind = 99;
    CHECK_OK(inspect_image(img, IMG, SIZE_SEALS, &info));
    CHECK_EQ(info.kind, 99);
    CHECK_EQ(info.detail, 0);
    /* A channel whose body is too small for a control block, or misaligned. */
    h = valid_image();
    h->body_size = 64;
    CHECK_OK(inspect_image(img, IMG, SIZE_SEALS, &info));
    CHECK_EQ(info.detail, 0);
    h = valid_image();
    h->body_offset = ZIPC_CHANNEL_BODY_OFFSET + 4;
    CHECK_OK(inspect_image(img, IMG, SIZE_SEALS, &info));
    CHECK_EQ(info.detail, 0);
    /* A hostile control block: odd numbers, a fill within the ring. */
    h = valid_image();
    struct zipc_channel_ctl *ctl = (void *)(img + ZIPC_CHANNEL_BODY_OFFSET);
    ctl->ring_size = 1000;
    ctl->producer.position = UINT64_MAX;
    ctl->consumer.position = 3;
    CHECK_OK(inspect_image(img, IMG, SIZE_SEALS, &info));
    CHECK_EQ(info.channel.ring_used, 1000);
    ctl->producer.position = 1;
    CHECK_OK(inspect_image(img, IMG, SIZE_SEALS, &info));
    CHECK_EQ(info.channel.ring_used, 0);
    /* A name without its NUL: the label is still terminated. */
    h = valid_image();
    memset(h->name, 'x', sizeof(h->name));
    CHECK_OK(inspect_image(img, IMG, SIZE_SEALS, &info));
    CHECK_EQ(strlen(info.label), sizeof(info.label) - 1);
}

/* Random bytes over a valid header, random sizes: never a crash. */
static void random_images(int n)
{
    uint64_t rng = tu_seed ^ 0x1459;
    int ok = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        valid_image();
        size_t size = tu_below(&rng, 4) == 0 ? (size_t)tu_below(&rng, IMG + 1) : IMG;
        for (int k = (int)tu_below(&rng, 12); k-- > 0;)
            img[tu_below(&rng, 128 + 640 + 256)] ^= (uint8_t)(1u << tu_below(&rng, 8));
        struct zipc_segment_info info;
        int r = inspect_image(img, size, SIZE_SEALS, &info);
        CHECK_HOT(r == 0 || r == -EBADMSG || r == -EPROTO);
        CHECK_HOT(r != 0 || info.detail == 0 || info.channel.ring_used <= info.channel.ring_size);
        r == 0 ? ok++ : bad++;
    }
    printf("  %d random images: %d inspected, %d refused\n", n, ok, bad);
    CHECK(ok > 0 && bad > 0);
}

static void not_segments(void)
{
    struct zipc_segment_info info;
    int p[2];
    CHECK_OK(pipe(p));
    CHECK_ERR(zipc_inspect_fd(p[0], &info), -EBADMSG);
    close(p[0]);
    close(p[1]);
    CHECK_ERR(zipc_inspect_fd(-1, &info), -EINVAL);
    CHECK_ERR(zipc_inspect_fd(0, NULL), -EINVAL);
    CHECK_ERR(zipc_inspect_path(NULL, &info), -EINVAL);
    CHECK_ERR(zipc_inspect_path("/dev/null", &info), -EBADMSG);
    CHECK_ERR(zipc_inspect_path("/tmp", &info), -EBADMSG);
    CHECK_ERR(zipc_inspect_path("/nonexistent/zipc", &info), -ENOENT);
    char fifo[TU_PATH_MAX];
    tu_path(fifo, "fifo");
    if (CHECK_OK(mkfifo(fifo, 0600))) {
        int64_t t0 = tu_now_ns();
        CHECK_ERR(zipc_inspect_path(fifo, &info), -EBADMSG); /* and it did not block */
        CHECK_RANGE(tu_ms_since(t0), 0, 1000);
        unlink(fifo);
    }
    /* A regular file that cannot carry seals. */
    char file[TU_PATH_MAX];
    tu_path(file, "file");
    int fd = open(file, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    valid_image();
    CHECK(fd >= 0 && pwrite(fd, img, IMG, 0) == IMG);
    CHECK_ERR(zipc_inspect_path(file, &info), -EBADMSG);
    close(fd);
    unlink(file);
}

int main(void)
{
    tu_init("test_inspect", 120);
    live_channel();
    forged();
    random_images((int)tu_scaled(3000, 300));
    not_segments();
    return tu_finish();
}

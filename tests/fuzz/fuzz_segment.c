/* fuzz_segment: the connector's trust boundary, zipc__channel_adopt, and
 * the tools' one, zipc_inspect_fd (which reads the same fd first: it must
 * never crash, and must accept every segment that adopt accepts, showing its
 * channel as adopted).
 *
 * A valid channel segment image is overlaid with fuzz bytes, written to a
 * memfd of a chosen size with chosen seals (or replaced by an impostor fd)
 * and handed over with two eventfds (or impostors) and a role. What is
 * adopted then carries a little non-blocking traffic and is closed.
 *
 * Input: byte 0  bits 0-1 role (consumer, producer, 0, raw byte)
 *                bits 2-4 segment size class, bit 5 announced size from input,
 *                bit 6 peer pid 0, bit 7 overlay by patches instead of XOR
 *        byte 1  bits 0-3 seal changes, bits 4-7 fd substitution
 *        [u8 raw role] [u64 announced size]
 *        overlay: XOR over the first 1 KiB, or patches {u16 offset, u8 len, bytes}
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define N_CLASSES 8
static const uint32_t size_classes[N_CLASSES] = {
    ZIPC_CHANNEL_RING_OFFSET + 256, ZIPC_CHANNEL_RING_OFFSET + 64,
    ZIPC_CHANNEL_RING_OFFSET + 4096, ZIPC_CHANNEL_RING_OFFSET, /* no ring at all */
    128, 100,                                                  /* shorter than the control block */
    ZIPC_CHANNEL_RING_OFFSET + 256 + 16,                       /* ring not a power of two */
    ZIPC_CHANNEL_RING_OFFSET + 128,
};

enum fd_variant {
    FD_AS_IS,
    FD_SEG_PIPE,
    FD_SEG_EVENTFD,
    FD_SEG_TMPFILE,    /* a regular file that cannot be sealed */
    FD_SEG_UNSEALABLE, /* a memfd without MFD_ALLOW_SEALING */
    FD_SEG_SOCKET,
    FD_SEG_DEVNULL,
    FD_SEG_NONE,
    FD_EFD1_PIPE,
    FD_EFD2_MEMFD,
    FD_EFD1_NONE,
    FD_EFD_SAME, /* both wake fds are the same eventfd */
};

struct seg_case {
    int role;
    unsigned klass;
    uint32_t size;
    uint64_t announced;
    int pid;
    unsigned seals;
    unsigned variant;
    bool patches; /* overlay by patches, else XOR */
};

static uint8_t img[FZ_MAX_SEGMENT];
static int cached_memfd[N_CLASSES]; /* sealed like a listener's, one per size class */

static uint64_t ring_of(uint32_t size)
{
    uint64_t ring = size > ZIPC_CHANNEL_RING_OFFSET ? size - ZIPC_CHANNEL_RING_OFFSET : 0;
    return ring >= ZIPC_MIN_CAPACITY && !(ring & (ring - 1)) ? ring : 256;
}

static void parse_case(struct fz_in *in, struct seg_case *c)
{
    uint8_t b0 = fz_u8(in), b1 = fz_u8(in);
    static const int roles[3] = {ZIPC_ROLE_CONSUMER, ZIPC_ROLE_PRODUCER, 0};
    c->role = (b0 & 3) == 3 ? (int8_t)fz_u8(in) : roles[b0 & 3];
    c->klass = (b0 >> 2) & 7;
    c->size = size_classes[c->klass];
    c->announced = (b0 & 0x20) ? fz_u64(in) : c->size;
    c->pid = (b0 & 0x40) ? 0 : getpid();
    c->seals = FZ_SEALS;
    if (b1 & 1)
        c->seals &= ~(unsigned)F_SEAL_SHRINK;
    if (b1 & 2)
        c->seals &= ~(unsigned)F_SEAL_GROW;
    if (b1 & 4)
        c->seals |= F_SEAL_WRITE;
    if (b1 & 8)
        c->seals |= F_SEAL_FUTURE_WRITE;
    c->variant = b1 >> 4;
    c->patches = b0 & 0x80;
}

static void overlay_xor(struct fz_in *in, uint32_t size)
{
    size_t n = size < 1024 ? size : 1024;
    for (size_t i = 0; i < n && in->n; i++)
        img[i] ^= fz_u8(in);
}

static void overlay_patches(struct fz_in *in, uint32_t size)
{
    while (in->n) {
        uint32_t off = fz_u16(in) % size;
        unsigned len = 1 + fz_u8(in) % 16;
        for (unsigned k = 0; k < len && off + k < size; k++)
            img[off + k] = fz_u8(in);
    }
}

static void build_image(struct fz_in *in, const struct seg_case *c)
{
    memset(img, 0, sizeof(img));
    fz_image_build(img, c->size, ring_of(c->size));
    if (c->patches)
        overlay_patches(in, c->size);
    else
        overlay_xor(in, c->size);
}

static int regular_file(uint32_t size)
{
    int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 && (ftruncate(fd, size) < 0 || pwrite(fd, img, size, 0) != (ssize_t)size))
        fz_close(&fd);
    return fd;
}

static int pipe_read_end(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    fz_close(&p[1]);
    return p[0];
}

static int sealed_memfd(const struct seg_case *c)
{
    if (c->seals != FZ_SEALS)
        return fz_memfd(img, sizeof(img), c->size, c->seals, true);
    int cached = cached_memfd[c->klass];
    if (pwrite(cached, img, c->size, 0) != (ssize_t)c->size)
        return -1;
    return fcntl(cached, F_DUPFD_CLOEXEC, 0);
}

static int segment_fd(const struct seg_case *c)
{
    switch (c->variant) {
    case FD_SEG_PIPE: return pipe_read_end();
    case FD_SEG_EVENTFD: return fz_eventfd();
    case FD_SEG_TMPFILE: return regular_file(c->size);
    case FD_SEG_UNSEALABLE: return fz_memfd(img, sizeof(img), c->size, 0, false);
    case FD_SEG_SOCKET: return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    case FD_SEG_DEVNULL: return open("/dev/null", O_RDWR | O_CLOEXEC);
    case FD_SEG_NONE: return -1;
    default: return sealed_memfd(c);
    }
}

static void wake_fds(unsigned variant, int *e1, int *e2)
{
    *e1 = fz_eventfd();
    *e2 = fz_eventfd();
    switch (variant) {
    case FD_EFD1_PIPE: fz_close(e1); *e1 = pipe_read_end(); break;
    case FD_EFD2_MEMFD: fz_close(e2); *e2 = fz_memfd(img, 0, 0, 0, true); break;
    case FD_EFD1_NONE: fz_close(e1); break;
    case FD_EFD_SAME: fz_close(e1); *e1 = fcntl(*e2, F_DUPFD_CLOEXEC, 0); break;
    default: break;
    }
}

/* What an adopted endpoint must look like, and a little traffic. */
static void use_channel(zipc_channel *ch, const struct seg_case *c, uint8_t seed)
{
    uint64_t ring_size = c->size - ZIPC_CHANNEL_RING_OFFSET;
    FZ_CHECK(zipc_channel_role(ch) == c->role);
    FZ_CHECK(zipc_channel_capacity(ch) == ring_size);
    struct fz_ring r = fz_ring_of_last_map(ring_size);
    FZ_CHECK(zipc_channel_max_message(ch) == r.max_message);
    if (c->role == ZIPC_ROLE_CONSUMER)
        fz_consume_some(ch, &r, 3);
    else
        fz_produce_some(ch, &r, seed, 8);
}

static void run_case(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    struct seg_case c;
    parse_case(&in, &c);
    build_image(&in, &c);
    int fds[3] = {segment_fd(&c), -1, -1};
    wake_fds(c.variant, &fds[1], &fds[2]);
    int sp[2] = {-1, -1};
    FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    struct zipc_segment_info info;
    int inspected = zipc_inspect_fd(fds[0], &info); /* first: adopt's mapping stays fz_last_map */
    FZ_CHECK(inspected <= 0);
    zipc_channel *ch;
    if (fz_adopt(&ch, fds, c.role, sp[0], c.pid, c.announced, false, 0) == 0) {
        FZ_CHECK(inspected == 0 && info.kind == ZIPC_KIND_CHANNEL && info.detail == ZIPC_INSPECT_CHANNEL);
        FZ_CHECK(info.segment_size == c.size && info.channel.ring_size == zipc_channel_capacity(ch));
        use_channel(ch, &c, size ? data[size - 1] : 0);
        FZ_CHECK(zipc_channel_close(ch) == 0);
    }
    fz_close(&sp[1]);
}

static void write_seeds(const char *dir)
{
    const uint8_t consumer[] = {0x00, 0x00}, producer[] = {0x01, 0x00};
    const uint8_t ring64[] = {0x01 | 1 << 2, 0x00}, ring4k[] = {0x01 | 2 << 2, 0x00};
    const uint8_t no_shrink[] = {0x00, 0x01}, pipe_seg[] = {0x00, FD_SEG_PIPE << 4};
    /* patch mode: body_offset (offset 32) rewritten to its own value */
    const uint8_t patch[] = {0x81, 0x00, 32, 0, 7, 0, 1, 0, 0, 0, 0, 0, 0};
    /* XOR mode: the ring size field (offset 264) from 256 to 768, invalid */
    uint8_t xor_ring[2 + 266] = {0x00, 0x00};
    xor_ring[2 + 265] = 0x01 ^ 0x03;
    fz_seed_write(dir, "consumer", consumer, sizeof(consumer));
    fz_seed_write(dir, "producer", producer, sizeof(producer));
    fz_seed_write(dir, "ring64", ring64, sizeof(ring64));
    fz_seed_write(dir, "ring4k", ring4k, sizeof(ring4k));
    fz_seed_write(dir, "no-shrink-seal", no_shrink, sizeof(no_shrink));
    fz_seed_write(dir, "pipe-segment", pipe_seg, sizeof(pipe_seg));
    fz_seed_write(dir, "patch-body-offset", patch, sizeof(patch));
    fz_seed_write(dir, "xor-ring-size", xor_ring, sizeof(xor_ring));
}

static void setup(void)
{
    for (unsigned k = 0; k < N_CLASSES; k++) {
        cached_memfd[k] = fz_memfd(img, 0, size_classes[k], FZ_SEALS, true);
        FZ_CHECK(cached_memfd[k] >= 0);
    }
}

FZ_HARNESS(write_seeds, setup, run_case)

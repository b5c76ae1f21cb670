/* Helpers shared by the libFuzzer harnesses (see fuzz_common.h). */
#include <stdarg.h>
#include "fuzz_common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

void fz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "zipc fuzz: invariant violated: %s (%s:%d)\n", what, file, line);
    __builtin_trap();
}

size_t fz_take(struct fz_in *in, void *dst, size_t max)
{
    size_t n = in->n < max ? in->n : max;
    memcpy(dst, in->p, n);
    in->p += n;
    in->n -= n;
    return n;
}

uint32_t fz_msg_size(struct fz_in *in, uint32_t max_message)
{
    uint8_t b = fz_u8(in);
    uint32_t small = b >> 2;
    switch (b & 3) {
    case 0: return small;
    case 1: return max_message - (small < max_message ? small : max_message);
    case 2: return max_message + small; /* too large: -EMSGSIZE */
    default: return fz_u16(in) % (max_message + 64);
    }
}

/* ---- segment images -------------------------------------------------- */

void fz_image_build(uint8_t *img, uint64_t seg_size, uint64_t ring_size)
{
    memset(img, 0, ZIPC_CHANNEL_RING_OFFSET);
    wire_channel_header(fz_header(img), seg_size, 1, 1, "fuzz");
    struct zipc_channel_ctl *c = fz_ctl(img);
    c->ring_offset = ZIPC_CHANNEL_RING_OFFSET;
    c->ring_size = ring_size;
    c->max_message = (uint32_t)(ring_size / 2 - ZIPC_FRAME_HEADER);
    c->frame_align = ZIPC_FRAME_ALIGN;
    c->listener_role = ZIPC_ROLE_CONSUMER;
}

/* ---- fds ------------------------------------------------------------- */

int fz_memfd(const void *img, size_t len, size_t size, unsigned seals, bool sealable)
{
    int fd = memfd_create("zipc-fuzz", MFD_CLOEXEC | (sealable ? MFD_ALLOW_SEALING : 0));
    if (fd < 0)
        return -1;
    size_t n = len < size ? len : size;
    if (ftruncate(fd, (off_t)size) < 0 || pwrite(fd, img, n, 0) != (ssize_t)n ||
        (sealable && seals && fcntl(fd, F_ADD_SEALS, seals) < 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

int fz_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

void fz_close(int *fd)
{
    if (*fd >= 0)
        FZ_CHECK(close(*fd) == 0); /* EBADF: somebody closed an fd it did not own */
    *fd = -1;
}

void fz_close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        fz_close(&fds[i]);
}

int fz_fd_count(void)
{
    static int dir = -1;
    if (dir < 0)
        dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FZ_CHECK(dir >= 0);
    FZ_CHECK(lseek(dir, 0, SEEK_SET) == 0);
    char buf[4096];
    int count = 0;
    long got;
    while ((got = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < got;) {
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof(reclen)); /* struct linux_dirent64 */
            if (buf[off + 19] != '.')
                count++;
            off += reclen;
        }
    }
    return count - 1; /* not the directory itself */
}

static void on_sigpipe(int sig)
{
    (void)sig;
    fz_fail("SIGPIPE raised (a write without MSG_NOSIGNAL)", __FILE__, __LINE__);
}

void fz_setup(void) { signal(SIGPIPE, on_sigpipe); }

/* ---- endpoints ------------------------------------------------------- */

void fz_opts(struct zipc__opts *o, int64_t spin_ns)
{
    struct zipc_options in = {.flags = spin_ns ? 0 : ZIPC_OPT_NO_SPIN, .timeout_ns = 100000000,
                              .spin_ns = spin_ns};
    FZ_CHECK(zipc__opts_resolve(&in, o) == 0);
}

int fz_adopt(zipc_channel **out, int fds[3], int role, int sock, int pid, uint64_t announced,
             bool ack, int64_t spin_ns)
{
    struct zipc__opts o;
    fz_opts(&o, spin_ns);
    struct zipc__peer peer = {.sock = sock, .pid = pid, .uid = (uint32_t)geteuid()};
    *out = NULL;
    int err = zipc__channel_adopt(out, fds, role, &peer, &o, announced);
    FZ_CHECK(err <= 0 && (err == 0) == (*out != NULL));
    if (err == 0)
        FZ_CHECK(fds[0] == -1 && fds[1] == -1 && fds[2] == -1 && peer.sock == -1);
    if (ack) {
        struct zipc__peer link = {.sock = sock};
        zipc__send_ack(&link, err);
    }
    fz_close_all(fds, 3);
    fz_close(&peer.sock);
    return err;
}

/* ---- mappings -------------------------------------------------------- */

struct fz_map fz_last_map;

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *p = __real_mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && fd >= 0 && (flags & MAP_SHARED))
        fz_last_map = (struct fz_map){.base = p, .len = len};
    return p;
}

struct fz_ring fz_ring_of_last_map(uint64_t ring_size)
{
    FZ_CHECK(fz_last_map.base && fz_last_map.len >= ZIPC_CHANNEL_RING_OFFSET + ring_size);
    return (struct fz_ring){.base = fz_last_map.base + ZIPC_CHANNEL_RING_OFFSET, .size = ring_size,
                            .max_message = (uint32_t)(ring_size / 2 - ZIPC_FRAME_HEADER)};
}

void fz_check_span(const struct fz_ring *r, const void *data, size_t size)
{
    uintptr_t lo = (uintptr_t)r->base, p = (uintptr_t)data;
    FZ_CHECK(p >= lo && p <= lo + r->size);
    FZ_CHECK(size <= lo + r->size - p);
    FZ_CHECK(p - lo >= ZIPC_FRAME_HEADER);   /* the frame header is in the ring too */
    FZ_CHECK(((p - lo) & (FZ_DATA_ALIGN - 1)) == 0);
    FZ_CHECK(size <= r->max_message);
}

/* ---- bounded traffic ------------------------------------------------- */

int fz_sticky(bool *broken, int r)
{
    if (*broken)
        FZ_CHECK(r == -EBADMSG);
    if (r == -EBADMSG)
        *broken = true;
    return r;
}

void fz_consume_some(zipc_channel *ch, const struct fz_ring *r, unsigned rounds)
{
    static uint8_t buf[FZ_MAX_RING];
    struct zipc_msg m[4];
    bool broken = false;
    for (unsigned i = 0; i < rounds; i++) {
        int n = fz_sticky(&broken, zipc_channel_view(ch, &m[0], ZIPC_TRY));
        if (n == 0)
            fz_check_span(r, m[0].data, m[0].size);
        n = fz_sticky(&broken, zipc_channel_drain(ch, m, 4, ZIPC_TRY));
        for (int k = 0; k < n; k++)
            fz_check_span(r, m[k].data, m[k].size);
        fz_sticky(&broken, zipc_channel_release(ch));
        size_t size = 0;
        if (fz_sticky(&broken, zipc_channel_recv(ch, buf, sizeof(buf), &size, NULL, ZIPC_TRY)) == 0)
            FZ_CHECK(size <= r->max_message);
    }
}

void fz_produce_some(zipc_channel *ch, const struct fz_ring *r, uint8_t seed, unsigned rounds)
{
    static const uint8_t zeros[FZ_MAX_RING];
    uint32_t sizes[] = {0, 1, 16, 17, r->max_message, r->max_message + 1, seed};
    for (unsigned i = 0; i < rounds; i++) {
        uint32_t size = sizes[(i + seed) % (sizeof(sizes) / sizeof(sizes[0]))];
        void *buf;
        if (zipc_channel_reserve(ch, size, &buf, ZIPC_TRY) == 0) {
            fz_check_span(r, buf, size);
            memset(buf, (int)i, size);
            FZ_CHECK(zipc_channel_commit(ch, size, i, (i & 1) ? ZIPC_COMMIT_MORE : 0) == 0);
        }
        if (size <= r->max_message)
            zipc_channel_send(ch, zeros, size, i, ZIPC_TRY);
    }
    int err = zipc_channel_flush(ch);
    FZ_CHECK(err == 0 || err == -EBADMSG || err == -EPIPE); /* flush returns the sticky error */
}

bool fz_refused(int r)
{
    return r == -EINVAL || r == -EBADMSG || r == -EPIPE; /* misuse, or the sticky error */
}

/* ---- seeds ----------------------------------------------------------- */

const char *fz_seeds_dir(void) { return getenv("ZIPC_FUZZ_WRITE_SEEDS"); }

void fz_seed_write(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    FZ_CHECK(f != NULL);
    FZ_CHECK(fwrite(data, 1, len, f) == len);
    FZ_CHECK(fclose(f) == 0);
}

void fz_seed_put(struct fz_seed *sd, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n && sd->n < sizeof(sd->b); i++)
        sd->b[sd->n++] = (uint8_t)va_arg(ap, int);
    va_end(ap);
}

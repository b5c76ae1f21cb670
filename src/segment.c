/* Segments: sealed memfds mapped once, with a validated generic header. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define ZIPC__REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

static void header_fill(struct zipc_segment_header *h, uint32_t kind, uint64_t size,
                        uint64_t body_offset, uint64_t body_size, const char *name)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    memset(h, 0, sizeof(*h));
    h->magic = ZIPC_SEGMENT_MAGIC;
    h->abi_major = ZIPC_ABI_MAJOR;
    h->abi_minor = ZIPC_ABI_MINOR;
    h->kind = kind;
    h->segment_size = size;
    h->header_size = sizeof(*h);
    h->body_offset = body_offset;
    h->body_size = body_size;
    h->creator_pid = (uint32_t)getpid();
    h->creator_uid = (uint32_t)geteuid();
    h->created_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (name)
        snprintf(h->name, sizeof(h->name), "%s", name);
}

int zipc__segment_create(struct zipc__segment *seg, uint32_t kind, uint64_t size,
                         uint64_t body_offset, uint64_t body_size, const char *name)
{
    if (size < sizeof(struct zipc_segment_header) || body_offset + body_size > size)
        return -EINVAL;
    char label[80];
    snprintf(label, sizeof(label), "zipc:%s", name ? name : "");
    int fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    int err = 0;
    if (ftruncate(fd, (off_t)size) < 0 ||
        fcntl(fd, F_ADD_SEALS, ZIPC__REQUIRED_SEALS | F_SEAL_SEAL) < 0) {
        err = -errno;
        close(fd);
        return err;
    }
    /* MAP_POPULATE allocates and maps every page now: no first-touch
     * fault on the hot path. */
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (base == MAP_FAILED) {
        err = -errno;
        close(fd);
        return err;
    }
    header_fill(base, kind, size, body_offset, body_size, name);
    seg->base = base;
    seg->size = size;
    seg->fd = fd;
    return 0;
}

/* Everything about the fd itself, before mapping it. */
static int check_fd(int fd, uint64_t max_size, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EBADMSG;
    if ((uint64_t)st.st_size < sizeof(struct zipc_segment_header) || (uint64_t)st.st_size > max_size)
        return -EBADMSG;
    /* Without these seals the peer could shrink the file under our
     * mapping and turn our next access into SIGBUS. */
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & ZIPC__REQUIRED_SEALS) != ZIPC__REQUIRED_SEALS)
        return -EBADMSG;
    if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))
        return -EBADMSG;
    *size = (uint64_t)st.st_size;
    return 0;
}

static int check_header(const volatile struct zipc_segment_header *h, uint32_t kind, uint64_t size)
{
    if (h->magic != ZIPC_SEGMENT_MAGIC)
        return -EBADMSG;
    if (h->abi_major != ZIPC_ABI_MAJOR)
        return -EPROTO;
    uint64_t body_offset = h->body_offset, body_size = h->body_size;
    if (h->kind != kind || h->segment_size != size || h->header_size != sizeof(*h))
        return -EBADMSG;
    if (body_offset < sizeof(*h) || body_offset > size || body_size > size - body_offset)
        return -EBADMSG;
    return 0;
}

int zipc__segment_attach(struct zipc__segment *seg, int fd, uint32_t kind, uint64_t max_size)
{
    uint64_t size = 0;
    int err = check_fd(fd, max_size, &size);
    if (err)
        return err;
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (base == MAP_FAILED)
        return -errno;
    err = check_header(base, kind, size);
    if (err) {
        munmap(base, size);
        return err;
    }
    seg->base = base;
    seg->size = size;
    seg->fd = fd;
    return 0;
}

void zipc__segment_close(struct zipc__segment *seg)
{
    if (seg->base)
        munmap(seg->base, seg->size);
    if (seg->fd >= 0)
        close(seg->fd);
    seg->base = NULL;
    seg->fd = -1;
}

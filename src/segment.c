/* Segments: sealed memfds mapped once, with a validated generic header.
 *
 * A policy says how a segment is mapped and which seals it must and must not
 * carry: the channel maps read-write and refuses write seals; a read-only
 * member (store, topic data) maps PROT_READ and may require them; inspect maps
 * PROT_READ without pre-faulting and accepts any kind. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#ifndef MFD_HUGE_2MB /* <linux/memfd.h>'s: log2(2 MiB) in the MFD_HUGE bits */
#define MFD_HUGE_2MB (21u << 26)
#endif

/* Without these the file could shrink under a mapping (SIGBUS) or grow past
 * what was validated: every policy requires them. */
#define ZIPC__SIZE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)
#define ZIPC__WRITE_SEALS (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)

struct zipc__segment_policy zipc__segment_policy_rw(uint64_t max_size)
{
    return (struct zipc__segment_policy){.prot = PROT_READ | PROT_WRITE,
                                         .seals_required = ZIPC__SIZE_SEALS,
                                         .seals_forbidden = ZIPC__WRITE_SEALS,
                                         .max_size = max_size,
                                         .prefault = true};
}

struct zipc__segment_policy zipc__segment_policy_ro(uint64_t max_size, unsigned extra_seals,
                                                    bool prefault)
{
    return (struct zipc__segment_policy){.prot = PROT_READ,
                                         .seals_required = ZIPC__SIZE_SEALS | extra_seals,
                                         .max_size = max_size,
                                         .prefault = prefault};
}

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

static int map_segment(int fd, int prot, bool prefault, uint64_t size, uint8_t **base)
{
    /* MAP_POPULATE allocates and maps every page now: no first-touch fault
     * on the hot path. Bounded by the policy's max_size. */
    void *p = mmap(NULL, size, prot, MAP_SHARED | (prefault ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    *base = p;
    return 0;
}

/* A memfd of 2 MiB hugetlb pages, sized: its pages are reserved here, so
 * a machine without enough free ones (vm.nr_hugepages) says so now; -1
 * then (the caller takes ordinary pages). */
static int memfd_hugetlb(const char *label, uint64_t size)
{
    if (size % ZIPC_HUGE_PAGE)
        return -1;
    int fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_HUGE_2MB);
    if (fd < 0)
        return -1;
    void *probe = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0) /* mmap reserves the pages, or fails with ENOMEM */
        probe = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (probe == MAP_FAILED) {
        close(fd);
        return -1;
    }
    munmap(probe, size);
    return fd;
}

int zipc__segment_create(struct zipc__segment *seg, struct zipc__segment_policy p, uint32_t kind,
                         uint64_t size, uint64_t body_offset, uint64_t body_size, const char *name)
{
    if (size < sizeof(struct zipc_segment_header) || body_offset + body_size > size ||
        (p.max_size && size > p.max_size) || (p.seals_required & ZIPC__WRITE_SEALS))
        return -EINVAL; /* write seals come after filling: zipc__segment_seal_writes */
    char label[80];
    snprintf(label, sizeof(label), "zipc:%s", name ? name : "");
    int fd = p.huge_pages ? memfd_hugetlb(label, size) : -1;
    if (fd < 0 && (fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0)
        return -errno;
    int err = 0;
    /* A policy that forbids write seals closes the seal set now: nobody (a
     * hostile member included) can add one later. Otherwise it stays open for
     * zipc__segment_seal_writes. */
    unsigned seals = ZIPC__SIZE_SEALS | p.seals_required;
    if ((p.seals_forbidden & ZIPC__WRITE_SEALS) == ZIPC__WRITE_SEALS)
        seals |= F_SEAL_SEAL;
    if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, seals) < 0)
        err = -errno;
    /* The creator fills the segment: it maps read-write whatever p.prot says. */
    if (!err)
        err = map_segment(fd, PROT_READ | PROT_WRITE, p.prefault, size, &seg->base);
    if (err) {
        close(fd);
        return err;
    }
    if (p.huge_pages) /* shmem's transparent huge pages, if its policy is "advise" (a hint) */
        (void)madvise(seg->base, size, MADV_HUGEPAGE);
    header_fill((void *)seg->base, kind, size, body_offset, body_size, name);
    seg->size = size;
    seg->fd = fd;
    seg->prot = PROT_READ | PROT_WRITE;
    return 0;
}

int zipc__reopen_readonly(int fd)
{
    char path[40];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int r = open(path, O_RDONLY | O_CLOEXEC);
    return r < 0 ? -errno : r;
}

/* Seal the segment against writes once it is filled; no seal can be added
 * afterwards (F_SEAL_SEAL). See internal.h for the two flavours. */
int zipc__segment_seal_writes(struct zipc__segment *seg, bool frozen)
{
    if (!frozen)
        return fcntl(seg->fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0 ? -errno : 0;
    /* F_SEAL_WRITE is refused (EBUSY) while any shared mapping may write,
     * and a mapping of the O_RDWR memfd may, even PROT_READ. Replace ours in
     * place by one of a read-only reopen: same address, so pointers into the
     * segment stay valid. */
    int ro = zipc__reopen_readonly(seg->fd);
    if (ro < 0)
        return ro;
    int err = 0;
    if (mmap(seg->base, seg->size, PROT_READ, MAP_SHARED | MAP_FIXED, ro, 0) == MAP_FAILED)
        err = -errno;
    else
        seg->prot = PROT_READ;
    close(ro);
    if (!err && fcntl(seg->fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        err = -errno;
    return err;
}

/* Everything about the fd itself, before mapping it. */
static int check_fd(int fd, const struct zipc__segment_policy *p, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EBADMSG;
    if ((uint64_t)st.st_size < sizeof(struct zipc_segment_header) || (uint64_t)st.st_size > p->max_size)
        return -EBADMSG;
    int seals = fcntl(fd, F_GET_SEALS);
    unsigned required = ZIPC__SIZE_SEALS | p->seals_required;
    if (seals < 0 || ((unsigned)seals & required) != required || ((unsigned)seals & p->seals_forbidden))
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
    if ((kind && h->kind != kind) || h->segment_size != size || h->header_size != sizeof(*h))
        return -EBADMSG;
    if (body_offset < sizeof(*h) || body_offset > size || body_size > size - body_offset)
        return -EBADMSG;
    return 0;
}

int zipc__segment_attach(struct zipc__segment *seg, struct zipc__segment_policy p, int fd, uint32_t kind)
{
    uint64_t size = 0;
    int err = check_fd(fd, &p, &size);
    if (err)
        return err;
    uint8_t *base = NULL;
    if ((err = map_segment(fd, p.prot, p.prefault, size, &base)))
        return err == -EPERM || err == -EACCES ? -EBADMSG : err; /* a write seal and PROT_WRITE */
    if ((err = check_header((const void *)base, kind, size))) {
        munmap(base, size);
        return err;
    }
    seg->base = base;
    seg->size = size;
    seg->fd = fd;
    seg->prot = p.prot;
    return 0;
}

int zipc__segment_realign(struct zipc__segment *seg, uint64_t align)
{
    if (align <= ZIPC_PAGE || (uintptr_t)seg->base % align == 0)
        return 0;
    /* Reserve enough address space to hold an aligned copy, map the
     * segment over its aligned part, give back the rest. */
    size_t span = (size_t)(seg->size + align);
    uint8_t *r = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return -errno;
    uint8_t *a = (uint8_t *)(uintptr_t)zipc__align_up((uintptr_t)r, align), *end = a + seg->size;
    if (mmap(a, (size_t)seg->size, seg->prot, MAP_SHARED | MAP_FIXED, seg->fd, 0) == MAP_FAILED) {
        int err = -errno;
        munmap(r, span);
        return err;
    }
    if (a > r)
        munmap(r, (size_t)(a - r));
    if (r + span > end)
        munmap(end, (size_t)(r + span - end));
    munmap(seg->base, (size_t)seg->size);
    seg->base = a;
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

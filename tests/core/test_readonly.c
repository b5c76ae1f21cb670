/* Segment policy (src/segment.c): read-only attach of write-sealed segments.
 *  - F_SEAL_FUTURE_WRITE (topic data): the creator keeps writing through its
 *    mapping and a reader sees it; the reader's PROT_READ mapping cannot
 *    write: a forked child writing through it dies of SIGSEGV, mprotect to
 *    PROT_WRITE, a new read-write mapping and write(2) are refused;
 *  - F_SEAL_WRITE (a store): the creator's mapping is replaced in place by a
 *    read-only one (same address, same bytes); nobody, the creator included,
 *    can write any more;
 *  - wrong seals are refused with -EBADMSG: the channel's policy (read-write)
 *    refuses a write-sealed segment, a reader requiring F_SEAL_WRITE refuses
 *    one only future-write-sealed, every policy refuses a segment whose size
 *    is not sealed, and a segment over max_size;
 *  - a read-only member can test liveness but not claim a slot. */
#include <sys/mman.h>

#include "internal.h"
#include "testutil.h"

#define SIZE (4 * ZIPC_PAGE)
#define BODY 256
#define SIZE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

/* Create with write seals allowed later (the store's and the topic's way). */
static bool create_sealable(struct zipc__segment *seg)
{
    struct zipc__segment_policy p = {.prot = PROT_READ | PROT_WRITE, .prefault = true};
    if (!CHECK_OK(zipc__segment_create(seg, p, ZIPC_KIND_TENSOR_STORE, SIZE, BODY, SIZE - BODY, "ro")))
        return false;
    memset(seg->base + BODY, 0xab, SIZE - BODY);
    return true;
}

/* Run fn(arg) in a child: it must die of `sig` (0: exit cleanly). */
static void in_child(void (*fn)(void *), void *arg, int sig, const char *what)
{
    pid_t pid = tu_fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        fn(arg);
        _exit(0);
    }
    int st = tu_wait(pid, 5000);
    if (sig)
        CHECK_MSG(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == sig, "%s: status %#x, not signal %d", what, st,
                  sig);
    else
        CHECK_MSG(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %#x", what, st);
}

static void write_byte(void *p) { *(volatile uint8_t *)p = 1; }

/* Everything a holder of a read-only mapping might try, refused. */
static void cannot_write(struct zipc__segment *r, const char *who)
{
    uint8_t *at = r->base + BODY + 10;
    in_child(write_byte, at, SIGSEGV, who);
    CHECK_MSG(mprotect(r->base, r->size, PROT_READ | PROT_WRITE) < 0 && (errno == EACCES || errno == EPERM),
              "%s: mprotect(PROT_WRITE) allowed", who);
    void *rw = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    CHECK_MSG(rw == MAP_FAILED && errno == EPERM, "%s: a new read-write mapping allowed", who);
    if (rw != MAP_FAILED)
        munmap(rw, r->size);
    CHECK_MSG(pwrite(r->fd, "x", 1, BODY) < 0 && errno == EPERM, "%s: write(2) allowed", who);
    CHECK_EQ(at[0], 0xab);
}

static bool attach_dup(struct zipc__segment *r, const struct zipc__segment *seg, struct zipc__segment_policy p,
                       int want)
{
    int fd = fcntl(seg->fd, F_DUPFD_CLOEXEC, 0);
    int err = zipc__segment_attach(r, p, fd, ZIPC_KIND_TENSOR_STORE);
    CHECK_ERR(err, want);
    if (err)
        close(fd);
    return err == 0;
}

static void future_write(void)
{
    struct zipc__segment seg, r;
    if (!create_sealable(&seg))
        return;
    CHECK_OK(zipc__segment_seal_writes(&seg, false));
    int seals = fcntl(seg.fd, F_GET_SEALS);
    CHECK_EQ(seals & (F_SEAL_FUTURE_WRITE | F_SEAL_WRITE | F_SEAL_SEAL), F_SEAL_FUTURE_WRITE | F_SEAL_SEAL);
    CHECK_ERR(fcntl(seg.fd, F_ADD_SEALS, F_SEAL_WRITE) < 0 ? -errno : 0, -EPERM); /* the set is sealed */
    if (attach_dup(&r, &seg, zipc__segment_policy_ro(SIZE, F_SEAL_FUTURE_WRITE, true), 0)) {
        CHECK_EQ(r.prot, PROT_READ);
        CHECK_EQ(r.base[BODY], 0xab);
        seg.base[BODY + 1] = 0x5c; /* the creator still writes */
        CHECK_EQ(((volatile uint8_t *)r.base)[BODY + 1], 0x5c);
        cannot_write(&r, "future-write reader");
        zipc__segment_close(&r);
    }
    /* The channel's policy refuses it; so does a reader requiring F_SEAL_WRITE. */
    attach_dup(&r, &seg, zipc__segment_policy_rw(SIZE), -EBADMSG);
    attach_dup(&r, &seg, zipc__segment_policy_ro(SIZE, F_SEAL_WRITE, true), -EBADMSG);
    attach_dup(&r, &seg, zipc__segment_policy_ro(SIZE - 1, 0, true), -EBADMSG); /* over max_size */
    zipc__segment_close(&seg);
}

static void frozen(void)
{
    struct zipc__segment seg, r;
    if (!create_sealable(&seg))
        return;
    uint8_t *before = seg.base;
    CHECK_OK(zipc__segment_seal_writes(&seg, true));
    CHECK(seg.base == before); /* pointers into it stay valid */
    CHECK_EQ(seg.prot, PROT_READ);
    CHECK_EQ(seg.base[BODY + 100], 0xab);
    CHECK_EQ(((struct zipc_segment_header *)seg.base)->magic, ZIPC_SEGMENT_MAGIC);
    int seals = fcntl(seg.fd, F_GET_SEALS);
    CHECK_EQ(seals & (F_SEAL_WRITE | F_SEAL_SEAL), F_SEAL_WRITE | F_SEAL_SEAL);
    cannot_write(&seg, "frozen creator");
    if (attach_dup(&r, &seg, zipc__segment_policy_ro(SIZE, F_SEAL_WRITE, false), 0)) {
        CHECK_EQ(r.base[BODY + 7], 0xab);
        cannot_write(&r, "frozen reader");
        zipc__segment_close(&r);
    }
    attach_dup(&r, &seg, zipc__segment_policy_rw(SIZE), -EBADMSG);
    zipc__segment_close(&seg);
}

/* The channel's own segments keep today's shape: sealed shut at creation. */
static void channel_policy(void)
{
    struct zipc__segment seg, r;
    if (!CHECK_OK(zipc__segment_create(&seg, zipc__segment_policy_rw(0), ZIPC_KIND_TENSOR_STORE, SIZE, BODY,
                                       64, "rw")))
        return;
    int seals = fcntl(seg.fd, F_GET_SEALS);
    CHECK_EQ(seals, SIZE_SEALS | F_SEAL_SEAL);
    CHECK_ERR(zipc__segment_seal_writes(&seg, false), -EPERM);
    if (attach_dup(&r, &seg, zipc__segment_policy_rw(SIZE), 0)) {
        r.base[BODY] = 3; /* read-write */
        CHECK_EQ(seg.base[BODY], 3);
        zipc__segment_close(&r);
    }
    zipc__segment_close(&seg);
    /* Asking create for a write seal up front is a mistake: fill first. */
    struct zipc__segment_policy bad = {.prot = PROT_READ, .seals_required = F_SEAL_WRITE};
    CHECK_ERR(zipc__segment_create(&seg, bad, ZIPC_KIND_TENSOR_STORE, SIZE, BODY, 64, "x"), -EINVAL);
    CHECK_ERR(zipc__segment_create(&seg, zipc__segment_policy_rw(SIZE - 1), ZIPC_KIND_TENSOR_STORE, SIZE, BODY,
                                   64, "x"), -EINVAL);
}

/* A size that is not sealed is refused by every policy (it could shrink
 * under the mapping: SIGBUS). */
static void unsealed_size(void)
{
    int fd = memfd_create("zipc:unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    struct zipc_segment_header h = {.magic = ZIPC_SEGMENT_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                                    .kind = ZIPC_KIND_TENSOR_STORE, .segment_size = SIZE,
                                    .header_size = sizeof(h), .body_offset = BODY};
    CHECK(fd >= 0 && ftruncate(fd, SIZE) == 0 && pwrite(fd, &h, sizeof(h), 0) == sizeof(h));
    struct zipc__segment r;
    CHECK_ERR(zipc__segment_attach(&r, zipc__segment_policy_ro(SIZE, 0, false), fd, ZIPC_KIND_TENSOR_STORE),
              -EBADMSG);
    CHECK_ERR(zipc__segment_attach(&r, zipc__segment_policy_rw(SIZE), fd, ZIPC_KIND_TENSOR_STORE), -EBADMSG);
    CHECK_OK(fcntl(fd, F_ADD_SEALS, SIZE_SEALS | F_SEAL_FUTURE_WRITE));
    CHECK_ERR(zipc__segment_attach(&r, zipc__segment_policy_ro(SIZE, 0, false), fd, ZIPC_KIND_CHANNEL),
              -EBADMSG); /* another kind */
    if (CHECK_OK(zipc__segment_attach(&r, zipc__segment_policy_ro(SIZE, 0, false), fd, ZIPC_KIND_TENSOR_STORE)))
        zipc__segment_close(&r);
    else
        close(fd);
}

/* A read-only member: it can tell who lives, not take a slot. */
static void readonly_member(void)
{
    struct zipc__segment seg, r;
    struct zipc__segment_policy p = {.prot = PROT_READ | PROT_WRITE};
    if (!CHECK_OK(zipc__segment_create(&seg, p, ZIPC_KIND_TOPIC, SIZE, BODY, ZIPC_MEMBER_TABLE_SIZE(4), "m")))
        return;
    zipc__members_init(seg.base, BODY, 4);
    struct zipc__members rw, ro;
    struct zipc__member me, none;
    CHECK_OK(zipc__members_bind(&rw, &seg, BODY));
    CHECK_OK(zipc__member_claim(&rw, &me));
    CHECK_OK(zipc__segment_seal_writes(&seg, false));
    attach_dup(&r, &seg, zipc__segment_policy_ro(SIZE, F_SEAL_FUTURE_WRITE, false), -EBADMSG); /* not a store */
    int fd = fcntl(seg.fd, F_DUPFD_CLOEXEC, 0);
    if (CHECK_OK(zipc__segment_attach(&r, zipc__segment_policy_ro(SIZE, F_SEAL_FUTURE_WRITE, false), fd,
                                      ZIPC_KIND_TOPIC))) {
        CHECK_OK(zipc__members_bind(&ro, &r, BODY));
        CHECK_ERR(zipc__member_claim(&ro, &none), -EOPNOTSUPP);
        uint64_t lease;
        CHECK_EQ(zipc__member_alive(&ro, me.slot, &lease), 1);
        zipc__member_release(&rw, &me);
        CHECK_EQ(zipc__member_alive(&ro, me.slot, &lease), 0);
        zipc__segment_close(&r);
    }
    zipc__segment_close(&seg);
}

int main(void)
{
    tu_init("test_readonly", 60);
    future_write();
    frozen();
    channel_policy();
    unsealed_size();
    readonly_member();
    return tu_finish();
}

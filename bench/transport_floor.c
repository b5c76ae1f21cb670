/* zipc bench: the floor. Two processes ping-pong a counter through two cache
 * lines of a shared memfd mapping, each spinning on the other's line: the
 * least any shared-memory round trip between these two CPUs can cost. */
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include "transport.h"

#define FLOOR_MAP 4096
#define FLOOR_STRIDE 128 /* as ZIPC_SIDE_STRIDE: the adjacent-line prefetcher pairs lines */

static int floor_setup(struct link *l)
{
    int fd = memfd_create("zipc-bench-floor", MFD_CLOEXEC);
    if (fd < 0)
        return bench_fail(-errno, "memfd_create");
    void *map = MAP_FAILED;
    if (ftruncate(fd, FLOOR_MAP) == 0)
        map = mmap(NULL, FLOOR_MAP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = map == MAP_FAILED ? -errno : 0;
    close(fd); /* the mapping (inherited by fork) keeps the memory */
    if (err)
        return bench_fail(err, "floor mapping");
    l->map = map;
    uint64_t *lines = map;
    lines[0] = lines[FLOOR_STRIDE / sizeof(uint64_t)] = UINT64_MAX; /* no sequence number yet */
    return 0;
}

static int floor_open(struct link *l)
{
    uint64_t *lines = l->map;
    uint64_t *parent = &lines[0], *child = &lines[FLOOR_STRIDE / sizeof(uint64_t)];
    l->mine = l->side == SIDE_PARENT ? parent : child;
    l->peer = l->side == SIDE_PARENT ? child : parent;
    l->last = UINT64_MAX;
    return 0;
}

static int floor_close(struct link *l)
{
    if (l->map && munmap(l->map, FLOOR_MAP))
        return bench_fail(-errno, "munmap");
    l->map = NULL;
    return 0;
}

/* Publish the message's sequence number on our line (release, as zipc's
 * publish; a plain store on x86). */
static int floor_send(struct link *l, const void *msg)
{
    uint64_t seq;
    memcpy(&seq, msg, sizeof(seq));
    __atomic_store_n(l->mine, seq, __ATOMIC_RELEASE);
    return 0;
}

/* Spin until the peer's line changes; a dead peer is noticed by the clock,
 * read only every 4096 spins so the loop stays as tight as zipc's. */
static int floor_recv(struct link *l, const void **msg)
{
    uint64_t v;
    int64_t deadline = 0;
    for (unsigned spins = 1; (v = __atomic_load_n(l->peer, __ATOMIC_ACQUIRE)) == l->last; spins++) {
        if (l->yield)
            sched_yield();
        else
            zipc__cpu_relax();
        if ((spins & 4095) == 0) {
            int64_t now = bench_now_ns();
            if (!deadline)
                deadline = now + BENCH_TIMEOUT_NS;
            else if (now > deadline)
                return bench_fail(-ETIMEDOUT, "floor: the peer stopped answering");
        }
    }
    l->last = v;
    msg_stamp(l->msg, sizeof(l->msg), v);
    *msg = l->msg;
    return 0;
}

const struct transport transport_floor = {
    .name = "floor", .setup = floor_setup, .open = floor_open, .close = floor_close,
    .send = floor_send, .recv = floor_recv,
};

/* zipc bench: the floors, the least any shared-memory transport between
 * these two CPUs can cost.
 *
 * Round trip: two processes ping-pong a counter through two cache lines of a
 * shared memfd mapping, each spinning on the other's line.
 *
 * Stream: the writer fills a ring of 64-byte slots (the record, then a stamp
 * of its sequence number + 1, stored last with release) and the reader
 * verifies each stamped record and hands space back every FLOOR_RETURN
 * slots: one cache line per record crosses, plus one line per FLOOR_RETURN
 * records. Once caught up, the reader waits for a run of FLOOR_RUN records
 * before it reads on (see floor_stream_take). No sleeping, no wake-up flags,
 * no validation of a hostile peer: the physical limit a streaming row is
 * measured against. */
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include "transport.h"

#define FLOOR_STRIDE 128 /* as ZIPC_SIDE_STRIDE: the adjacent-line prefetcher pairs lines */
#define FLOOR_SLOT 64
#define FLOOR_SLOTS 4096    /* 256 KiB, as zipc's 32 B stream ring */
#define FLOOR_RETURN 64     /* the reader publishes its position every 64 slots */
#define FLOOR_RUN 1024      /* caught up, the reader waits for this many records (a quarter ring) */
/* The writer may run FLOOR_SLOTS past the position last handed back, which
 * is within FLOOR_RETURN of the reader's: a whole run can always be written. */
_Static_assert(FLOOR_RUN + FLOOR_RETURN <= FLOOR_SLOTS, "floor: a run fits in the ring");
#define FLOOR_STAMP 56      /* the stamp's offset in a slot: after any record <= 56 bytes */
#define FLOOR_RING (2 * FLOOR_STRIDE) /* the ring's offset in the stream mapping */

static size_t floor_map_size(const struct link *l)
{
    return l->mode == MODE_STREAM ? FLOOR_RING + FLOOR_SLOTS * FLOOR_SLOT : 4096;
}

static int floor_setup(struct link *l)
{
    int fd = memfd_create("zipc-bench-floor", MFD_CLOEXEC);
    if (fd < 0)
        return bench_fail(-errno, "memfd_create");
    void *map = MAP_FAILED;
    int err = 0;
    if (l->mode == MODE_STREAM && l->size > FLOOR_STAMP)
        err = bench_fail_plain(-EMSGSIZE, "floor: a stream record holds at most %d bytes", FLOOR_STAMP);
    else if (ftruncate(fd, (off_t)floor_map_size(l)) == 0)
        map = mmap(NULL, floor_map_size(l), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (!err && map == MAP_FAILED)
        err = bench_fail(-errno, "floor mapping");
    close(fd); /* the mapping (inherited by fork) keeps the memory */
    if (err)
        return err;
    l->map = map;
    uint64_t *lines = map;
    if (l->mode == MODE_STREAM)
        return 0; /* all zero: no stamp, reader at 0, no end */
    lines[0] = lines[FLOOR_STRIDE / sizeof(uint64_t)] = UINT64_MAX; /* no sequence number yet */
    return 0;
}

static int floor_open(struct link *l)
{
    uint64_t *lines = l->map;
    uint64_t *parent = &lines[0], *child = &lines[FLOOR_STRIDE / sizeof(uint64_t)];
    l->mine = l->side == SIDE_PARENT ? parent : child;
    l->peer = l->side == SIDE_PARENT ? child : parent;
    l->last = l->mode == MODE_STREAM ? 0 : UINT64_MAX;
    return 0;
}

static int floor_close(struct link *l)
{
    if (l->map && munmap(l->map, floor_map_size(l)))
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

/* ---- stream -------------------------------------------------------------
 * The writer's line (offset 0) holds its end mark: messages sent + 1, 0
 * while it runs; the reader's line (FLOOR_STRIDE) its position, records
 * consumed. l->expect counts records (writer: sent; reader: verified),
 * l->last caches the position (writer: read; reader: published). */

static uint8_t *floor_slot(const struct link *l, uint64_t seq)
{
    return (uint8_t *)l->map + FLOOR_RING + (seq & (FLOOR_SLOTS - 1)) * FLOOR_SLOT;
}

static uint64_t *floor_stamp(const struct link *l, uint64_t seq)
{
    return (uint64_t *)(floor_slot(l, seq) + FLOOR_STAMP);
}

/* Bounded spin: sched_yield when both sides share a CPU, and every 1024
 * spins (a busy machine may have taken the peer's CPU: give it ours rather
 * than burn the slice); the clock only every 4096 spins. Returns -ETIMEDOUT
 * once the peer is silent too long. */
static int floor_spin(const struct link *l, unsigned spins, int64_t *deadline, const char *what)
{
    if (l->yield || (spins & 1023) == 0)
        sched_yield();
    else
        zipc__cpu_relax();
    if (spins & 4095)
        return 0;
    int64_t now = bench_now_ns();
    if (!*deadline)
        *deadline = now + BENCH_TIMEOUT_NS;
    else if (now > *deadline)
        return bench_fail(-ETIMEDOUT, "floor: %s", what);
    return 0;
}

/* Writer: wait for the slot to be free (the reader's position cached in
 * l->last, read again only when the cache says full), copy, stamp. */
static int floor_stream_send(struct link *l, const void *msg)
{
    uint64_t seq;
    memcpy(&seq, msg, sizeof(seq));
    int64_t deadline = 0;
    for (unsigned spins = 1; seq - l->last >= FLOOR_SLOTS; spins++) {
        /* acquire: the reader is done with the slots it handed back */
        l->last = __atomic_load_n(&((uint64_t *)l->map)[FLOOR_STRIDE / 8], __ATOMIC_ACQUIRE);
        int err = seq - l->last >= FLOOR_SLOTS ? floor_spin(l, spins, &deadline, "the reader stopped") : 0;
        if (err)
            return err;
    }
    memcpy(floor_slot(l, seq), msg, l->size);
    __atomic_store_n(floor_stamp(l, seq), seq + 1, __ATOMIC_RELEASE); /* release: the record before it */
    l->expect = seq + 1;
    return 0;
}

static int floor_stream_flush(struct link *l)
{
    /* release: the end mark after the last stamp */
    __atomic_store_n(&((uint64_t *)l->map)[0], l->expect + 1, __ATOMIC_RELEASE);
    return 0;
}

static bool floor_stamped(const struct link *l, uint64_t seq)
{
    /* acquire: the record written before the stamp (and every record before it) */
    return __atomic_load_n(floor_stamp(l, seq), __ATOMIC_ACQUIRE) == seq + 1;
}

static uint64_t floor_end_mark(const struct link *l)
{
    /* acquire: the end mark is stored after the last stamp */
    return __atomic_load_n(&((uint64_t *)l->map)[0], __ATOMIC_ACQUIRE);
}

/* Reader: the records stamped from the read position on, up to FLOOR_RETURN
 * a call; verify each, hand space back every FLOOR_RETURN. Caught up, it
 * waits until a run of FLOOR_RUN records is stamped (or the stream ended)
 * before it reads on. A reader that polls the slot being written pays that
 * line's transfer for every record and keeps both sides at its pace (~30 M
 * records/s on the Intel guest, below zipc's per-message row); one that lets
 * the writer run ahead reads lines written well before, which the hardware
 * streams (~110 M). The floor is the fastest these two CPUs can stream, so
 * its reader is the latter. -EPIPE at the end. */
static int floor_stream_take(struct link *l)
{
    int64_t deadline = 0;
    for (unsigned spins = 1;; spins++) {
        int n = 0;
        while (n < FLOOR_RETURN && floor_stamped(l, l->expect)) {
            int err = link_check(l, floor_slot(l, l->expect)); /* verifies, advances l->expect */
            if (err)
                return err;
            n++;
        }
        if (l->expect - l->last >= FLOOR_RETURN) {
            l->last = l->expect;
            /* release: our reads of the slots before the writer reuses them */
            __atomic_store_n(&((uint64_t *)l->map)[FLOOR_STRIDE / 8], l->expect, __ATOMIC_RELEASE);
        }
        if (n)
            return n;
        uint64_t end = floor_end_mark(l);
        if (end && l->expect == end - 1)
            return -EPIPE;
        while (!end && !floor_stamped(l, l->expect + FLOOR_RUN - 1)) {
            int err = floor_spin(l, spins++, &deadline, "the writer stopped");
            if (err)
                return err;
            end = floor_end_mark(l);
        }
    }
}

static int floor_send_any(struct link *l, const void *msg)
{
    return l->mode == MODE_STREAM ? floor_stream_send(l, msg) : floor_send(l, msg);
}

const struct transport transport_floor = {
    .name = "floor", .setup = floor_setup, .open = floor_open, .close = floor_close,
    .send = floor_send_any, .recv = floor_recv, .flush = floor_stream_flush, .take = floor_stream_take,
};

/* A hostile listener hands the connector a consistent segment of the ABI's
 * maximum (a 4 GiB ring): the connector's max_segment bound (default
 * ZIPC_DEFAULT_MAX_SEGMENT, 1 GiB) refuses it with -EFBIG before mapping
 * anything (no mapping of the memfd, no shared memory committed), and tells
 * the listener why in its ack. A lower bound refuses smaller segments the
 * same way, and a segment larger than the size the welcome announced is
 * refused before mapping too. Raised to the maximum, the same segment is
 * accepted, mapped and usable, where the machine has the memory for it. */
#include <sys/eventfd.h>

#include "rawpeer.h"

#define HUGE_RING (UINT64_C(1) << 32) /* ZIPC_MAX_CAPACITY */
#define HUGE_SEG (ZIPC_CHANNEL_RING_OFFSET + HUGE_RING)

/* A line of /proc/self/status or /proc/meminfo, in KiB (-1 if absent). */
static long kib_of(const char *file, const char *key)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (v < 0 && fgets(line, sizeof(line), f))
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

/* The fake listener's segment: consistent, sealed, sparse (never touched). */
static bool huge_segment(struct raw_seg *g, uint64_t ring)
{
    return raw_seg_create(g, ring) && raw_seg_seal(g, RAW_SEALS);
}

static void script(struct raw_server *s, const struct raw_seg *g, uint64_t announced)
{
    memset(s, 0, sizeof(*s));
    s->welcome = raw_welcome(ZIPC_ROLE_CONSUMER, announced);
    s->fds[0] = g->fd;
    s->fds[1] = eventfd(0, EFD_CLOEXEC);
    s->fds[2] = eventfd(0, EFD_CLOEXEC);
    s->nfds = 3;
}

static void unscript(struct raw_server *s)
{
    close(s->fds[1]);
    close(s->fds[2]);
    raw_server_close(s);
}

/* Connect with max_segment `bound` (0: the default) to a fake listener
 * announcing `announced` for segment g; returns connect's result. */
static int offer(struct raw_seg *g, uint64_t announced, uint64_t bound, const char *what, int want)
{
    int fds0 = tu_fd_count();
    struct raw_server s;
    script(&s, g, announced);
    struct zipc_options o = tu_opts(5000 * TU_MS);
    o.max_segment = bound;
    long shmem0 = kib_of("/proc/self/status", "RssShmem");
    zipc_channel *ch = NULL;
    int64_t t0 = tu_now_ns();
    int r = raw_connect_to(&s, "huge", &ch, &o);
    double ms = tu_ms_since(t0);
    CHECK_MSG(r == want, "%s: connect returned %s, expected %s", what, zipc_err_name(r), zipc_err_name(want));
    if (want != 0) {
        uintptr_t lo, hi;
        CHECK_MSG(!raw_seg_peer_map(g, &lo, &hi), "%s: the connector mapped the segment it refused", what);
        long grew = kib_of("/proc/self/status", "RssShmem") - shmem0;
        CHECK_MSG(grew < 64 * 1024, "%s: %ld KiB of shared memory committed by a refused connect", what, grew);
        CHECK_MSG(ms < 1000, "%s: the refusal took %.0f ms", what, ms);
        CHECK_MSG(s.got_ack && s.ack.status == (uint32_t)-want, "%s: the listener's ack says %u, not %d", what,
                  s.ack.status, -want);
    }
    printf("  %-52s %s in %.0f ms\n", what, zipc_err_name(r), ms);
    zipc_channel_close(ch);
    unscript(&s);
    CHECK_MSG(tu_fd_count() == fds0, "%s: %d fds leaked", what, tu_fd_count() - fds0);
    return r;
}

static void bounded(void)
{
    struct raw_seg g;
    if (!huge_segment(&g, HUGE_RING))
        return;
    offer(&g, HUGE_SEG, 0, "4 GiB segment, default bound", -EFBIG);
    offer(&g, HUGE_SEG, UINT64_C(2) << 30, "4 GiB segment, 2 GiB bound", -EFBIG);
    offer(&g, HUGE_SEG, HUGE_SEG - 1, "4 GiB segment, bound one byte short", -EFBIG);
    /* announced small, the memfd is 4 GiB: caught by fstat, before mmap */
    offer(&g, ZIPC_CHANNEL_RING_OFFSET + 4096, 0, "4 GiB memfd announced as 8 KiB", -EBADMSG);
    raw_seg_close(&g);

    struct raw_seg small;
    if (huge_segment(&small, UINT64_C(1) << 20)) {
        offer(&small, ZIPC_CHANNEL_RING_OFFSET + (UINT64_C(1) << 20), 512 * 1024, "1 MiB segment, 512 KiB bound",
              -EFBIG);
        offer(&small, ZIPC_CHANNEL_RING_OFFSET + (UINT64_C(1) << 20), 0, "1 MiB segment, default bound", 0);
        raw_seg_close(&small);
    }
}

/* Raised to the maximum, the 4 GiB segment is mapped (and pre-faulted). */
static void raised(void)
{
    long avail = kib_of("/proc/meminfo", "MemAvailable");
    if (avail < (long)((HUGE_SEG >> 10) + (UINT64_C(4) << 20))) {
        tu_skip("4 GiB segment accepted with max_segment raised",
                "less than 8 GiB of memory available to pre-fault 4 GiB");
        return;
    }
    struct raw_seg g;
    if (!huge_segment(&g, HUGE_RING))
        return;
    struct raw_server s;
    script(&s, &g, HUGE_SEG);
    struct zipc_options o = tu_opts(30000 * TU_MS);
    o.max_segment = HUGE_SEG;
    zipc_channel *ch = NULL;
    if (CHECK_OK(raw_connect_to(&s, "huge-ok", &ch, &o))) {
        /* (pre-faulting 4 GiB may outlast the fake's wait for the ack) */
        CHECK_EQ(zipc_channel_capacity(ch), (size_t)HUGE_RING);
        uintptr_t lo, hi;
        CHECK(raw_seg_peer_map(&g, &lo, &hi) && hi - lo == HUGE_SEG);
        /* usable: a message from the fake producer arrives */
        uint64_t tail = 0;
        raw_put_msg(&g, &tail, 0, 5, 11, "large");
        struct zipc_msg m;
        if (CHECK_OK(zipc_channel_view(ch, &m, 1000 * TU_MS)))
            CHECK(m.size == 5 && m.type == 11 && memcmp(m.data, "large", 5) == 0);
    }
    zipc_channel_close(ch);
    unscript(&s);
    raw_seg_close(&g);
    printf("  4 GiB segment accepted with max_segment raised\n");
}

int main(void)
{
    tu_init("test_listener_max_segment", 120);
    bounded();
    raised();
    return tu_finish();
}

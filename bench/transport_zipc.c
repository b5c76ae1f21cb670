/* zipc bench: the zipc transport, with default options (spin 50 us, then
 * sleep). Every wait is bounded by BENCH_TIMEOUT_NS.
 *
 * Channels: path[0] carries child -> parent (the parent listens, as the
 * default consumer role); in RTT mode path[1] carries parent -> child (the
 * child listens). So each direction's consumer is its listener and no
 * option but the defaults is needed. */
#include <stdio.h>
#include <unistd.h>

#include "transport.h"

int zipc_link_setup(struct link *l)
{
    for (int i = 0; i < 2; i++)
        snprintf(l->path[i], sizeof(l->path[i]), "/tmp/zipc-bench-%s-%c.sock", l->tag, "ab"[i]);
    return 0;
}

static int listen_at(zipc_channel **ch, const char *path, size_t capacity)
{
    int err = zipc_channel_listen(ch, path, capacity, NULL);
    return err ? bench_fail(err, "zipc_channel_listen(%s)", path) : 0;
}

static int connect_to(zipc_channel **ch, const char *path)
{
    int err = zipc_channel_connect(ch, path, NULL);
    return err ? bench_fail(err, "zipc_channel_connect(%s)", path) : 0;
}

/* Both processes open path[0] first, then path[1]: no cycle, no deadlock. */
static int zt_open(struct link *l)
{
    bool parent = l->side == SIDE_PARENT;
    int err = parent ? listen_at(&l->rx, l->path[0], l->capacity) : connect_to(&l->tx, l->path[0]);
    if (err || l->mode != MODE_RTT)
        return err;
    return parent ? connect_to(&l->tx, l->path[1]) : listen_at(&l->rx, l->path[1], l->capacity);
}

static int zt_close(struct link *l)
{
    int err = zipc_channel_close(l->tx), err2 = zipc_channel_close(l->rx);
    l->tx = l->rx = NULL;
    /* A listener unlinks its path once a peer connects; this covers a
     * listener that failed or timed out first. */
    for (int i = 0; i < 2; i++)
        if (l->path[i][0])
            unlink(l->path[i]);
    err = err ? err : err2;
    return err ? bench_fail(err, "zipc_channel_close") : 0;
}

/* Reserve in the ring, fill in place, commit. zipc-batch stages up to
 * l->batch messages with ZIPC_COMMIT_MORE and publishes them with the last one. */
static int zt_send(struct link *l, const void *msg)
{
    void *slot;
    int err = zipc_channel_reserve(l->tx, l->size, &slot, BENCH_TIMEOUT_NS);
    if (err)
        return bench_fail(err, "zipc_channel_reserve(%zu)", l->size);
    zipc_copy(slot, msg, l->size);
    unsigned flags = 0;
    if (l->batch > 1 && ++l->staged < l->batch)
        flags = ZIPC_COMMIT_MORE;
    else
        l->staged = 0;
    err = zipc_channel_commit(l->tx, l->size, 0, flags);
    return err ? bench_fail(err, "zipc_channel_commit") : 0;
}

static int zt_flush(struct link *l)
{
    l->staged = 0;
    int err = zipc_channel_flush(l->tx);
    return err ? bench_fail(err, "zipc_channel_flush") : 0;
}

static int check_size(const struct zipc_msg *m, size_t size)
{
    if (m->size != size)
        return bench_fail_plain(-EBADMSG, "zipc message of %u bytes, expected %zu", m->size, size);
    return 0;
}

static int zt_recv(struct link *l, const void **msg)
{
    int err = zipc_channel_view(l->rx, &l->msgs[0], BENCH_TIMEOUT_NS);
    if (err)
        return bench_fail(err, "zipc_channel_view");
    *msg = l->msgs[0].data;
    return check_size(&l->msgs[0], l->size);
}

static int zt_release(struct link *l)
{
    int err = zipc_channel_release(l->rx);
    return err ? bench_fail(err, "zipc_channel_release") : 0;
}

/* Read each message where it lies in the ring (zero copy), then give the
 * whole batch back with one release. */
static int zt_take(struct link *l)
{
    unsigned max = l->batch > 1 ? BENCH_MAX_BATCH : 1;
    int n = max > 1 ? zipc_channel_drain(l->rx, l->msgs, max, BENCH_TIMEOUT_NS)
                    : zipc_channel_view(l->rx, &l->msgs[0], BENCH_TIMEOUT_NS);
    if (n == -EPIPE)
        return n; /* the producer closed and everything was delivered */
    if (n < 0)
        return bench_fail(n, max > 1 ? "zipc_channel_drain" : "zipc_channel_view");
    n = max > 1 ? n : 1;
    for (int i = 0; i < n; i++) {
        int err = check_size(&l->msgs[i], l->size);
        if (err || (err = link_check(l, l->msgs[i].data)))
            return err;
    }
    int err = zt_release(l);
    return err ? err : n;
}

static long long zt_sleeps(const struct link *l)
{
    long long total = 0;
    zipc_channel *chs[2] = {l->tx, l->rx};
    for (int i = 0; i < 2; i++) {
        struct zipc_channel_stats st;
        if (chs[i] && zipc_channel_get_stats(chs[i], &st) == 0)
            total += (long long)st.sleeps;
    }
    return total;
}

const struct transport transport_zipc = {
    .name = "zipc", .setup = zipc_link_setup, .open = zt_open, .close = zt_close, .send = zt_send,
    .recv = zt_recv, .release = zt_release, .flush = zt_flush, .take = zt_take, .sleeps = zt_sleeps,
};

/* Same operations; run_stream sets l->batch > 1 for this one. */
const struct transport transport_zipc_batch = {
    .name = "zipc-batch", .setup = zipc_link_setup, .open = zt_open, .close = zt_close, .send = zt_send,
    .recv = zt_recv, .release = zt_release, .flush = zt_flush, .take = zt_take, .sleeps = zt_sleeps,
};

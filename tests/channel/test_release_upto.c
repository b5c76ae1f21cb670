/* Partial, in-order release (zipc_channel_release_upto) and shutdown.
 * Releasing up to a view frees exactly the views before it and leaves the
 * later ones readable and intact while the producer refills the space;
 * views that are not open are refused. shutdown tells the peer at once
 * (it drains, then -EPIPE) while this side's views stay readable. */
#include "testutil.h"

#define CAP 4096
#define SIZE 200 /* frame 256 B: 16 fit in the ring */

static void upto_frees_the_prefix_only(zipc_channel *p, zipc_channel *c, uint64_t seed)
{
    struct zipc_msg m[8];
    for (uint64_t k = 0; k < 8; k++)
        CHECK_OK(tu_send_k(p, seed, k, SIZE, 0, ZIPC_TRY));
    for (int i = 0; i < 8; i++) {
        CHECK_OK(zipc_channel_view(c, &m[i], ZIPC_TRY));
        CHECK_EQ(m[i].seq, (uint64_t)i);
    }
    CHECK_OK(zipc_channel_release_upto(c, &m[2])); /* frees messages 0..2 */
    CHECK_ERR(zipc_channel_release_upto(c, &m[1]), -EINVAL); /* already released */
    /* The producer can now use exactly the freed space plus what was free. */
    uint64_t k = 8;
    while (tu_send_k(p, seed, k, SIZE, 0, ZIPC_TRY) == 0)
        k++;
    /* 16 frames fit; 5 are still viewed, and the last free one holds the
     * terminator slot the producer always keeps: 10 more. */
    CHECK_EQ(k - 8, (uint64_t)(16 - 5 - 1));
    for (int i = 3; i < 8; i++) /* later views untouched by the refill */
        CHECK_MSG_K(&m[i], seed, (uint64_t)i, SIZE);
    CHECK_OK(zipc_channel_release_upto(c, &m[7]));
    struct zipc_msg beyond = m[7];
    beyond.seq = 99;
    CHECK_ERR(zipc_channel_release_upto(c, &beyond), -EINVAL); /* never viewed */
    for (uint64_t j = 8; j < k; j++) {
        struct zipc_msg x;
        CHECK_OK(zipc_channel_view(c, &x, ZIPC_TRY));
        CHECK_MSG_K(&x, seed, j, SIZE);
        CHECK_EQ(x.seq, j);
        CHECK_OK(zipc_channel_release_upto(c, &x));
    }
    CHECK_ERR(zipc_channel_view(c, m, ZIPC_TRY), -EAGAIN);
}

static void shutdown_tells_the_peer(zipc_channel *p, zipc_channel *c, uint64_t seed)
{
    struct zipc_msg m;
    CHECK_OK(tu_send_k(p, seed, 0, SIZE, 0, ZIPC_TRY));
    CHECK_OK(tu_send_k(p, seed, 1, SIZE, ZIPC_COMMIT_MORE, ZIPC_TRY)); /* staged: shutdown publishes it */
    CHECK_OK(zipc_channel_shutdown(p));
    CHECK_ERR(tu_send_k(p, seed, 2, SIZE, 0, ZIPC_TRY), -EPIPE);
    CHECK_OK(zipc_channel_view(c, &m, ZIPC_TRY));
    CHECK_MSG_K(&m, seed, 0, SIZE);
    CHECK_OK(zipc_channel_shutdown(c)); /* consumer side too: its open view stays readable */
    CHECK_MSG_K(&m, seed, 0, SIZE);
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EPIPE);
}

static void consumer_drains_after_producer_shutdown(zipc_channel *p, zipc_channel *c, uint64_t seed)
{
    struct zipc_msg m;
    CHECK_OK(tu_send_k(p, seed, 0, SIZE, ZIPC_COMMIT_MORE, ZIPC_TRY));
    CHECK_OK(zipc_channel_shutdown(p));
    int64_t t0 = tu_now_ns();
    CHECK_OK(zipc_channel_view(c, &m, ZIPC_FOREVER));
    CHECK_MSG_K(&m, seed, 0, SIZE);
    CHECK_OK(zipc_channel_release(c));
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_FOREVER), -EPIPE); /* promptly, though p is still mapped */
    CHECK_RANGE(tu_ms_since(t0), 0, 1000 * tu_slack());
}

typedef void (*pair_case)(zipc_channel *, zipc_channel *, uint64_t);

static void run(pair_case f, uint64_t seed)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, CAP))
        return;
    f(p, c, seed);
    zipc_channel_close(p);
    zipc_channel_close(c);
}

int main(void)
{
    tu_init("test_release_upto", 60);
    uint64_t seed = tu_seed;
    run(upto_frees_the_prefix_only, seed);
    run(shutdown_tells_the_peer, seed + 1);
    run(consumer_drains_after_producer_shutdown, seed + 2);
    return tu_finish();
}

/* Aborted reservations leave no trace: the consumer sees exactly the
 * committed sequence, no phantom, no repeat, no gap; aborted reservations
 * that would have wrapped (a pad frame before offset 0) do not consume the
 * pad either. Deterministic cases in one process, then a random mix of
 * commits and aborts across processes. */
#include "testutil.h"

#define JUNK_TYPE 0xdeadbeefu

/* Reserve `size`, scribble over it, abort. */
static void reserve_and_abort(zipc_channel *p, size_t size)
{
    void *buf;
    if (!CHECK_HOT_OK(zipc_channel_reserve(p, size, &buf, ZIPC_TRY)))
        return;
    memset(buf, 0xa5, size);
    CHECK_HOT_OK(zipc_channel_abort(p));
}

static uint64_t position(zipc_channel *ch)
{
    struct zipc_channel_stats st;
    zipc_channel_get_stats(ch, &st);
    return st.bytes;
}

static void basics(zipc_channel *p, zipc_channel *c)
{
    struct zipc_msg m;
    void *buf;
    reserve_and_abort(p, 10);
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    CHECK_ERR(zipc_channel_abort(p), -EINVAL);           /* nothing open any more */
    CHECK_ERR(zipc_channel_commit(p, 0, 0, 0), -EINVAL); /* nor to commit */
    CHECK_OK(zipc_channel_flush(p));
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    CHECK_EQ(position(p), 0);
    /* an abort between staged commits drops only itself */
    CHECK_OK(tu_send_k(p, tu_seed, 0, 7, ZIPC_COMMIT_MORE, ZIPC_TRY));
    reserve_and_abort(p, 30);
    CHECK_OK(zipc_channel_reserve(p, 20, &buf, ZIPC_TRY));
    CHECK_OK(zipc_channel_abort(p));
    CHECK_OK(zipc_channel_flush(p));
    CHECK_OK(zipc_channel_view(c, &m, ZIPC_TRY));
    CHECK_MSG_K(&m, tu_seed, 0, 7);
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    CHECK_OK(zipc_channel_release(c));
    struct zipc_channel_stats st;
    CHECK_OK(zipc_channel_get_stats(p, &st));
    CHECK_EQ(st.messages, 1);
}

/* Near the end of the ring, a reservation that needs a pad is aborted; a
 * message that fits before the end must then land there, unpadded. */
static void wrapped_abort(zipc_channel *p, zipc_channel *c, size_t cap)
{
    struct zipc_msg m;
    uint64_t k = 0;
    /* move to the last frame slot before the end with one-frame messages */
    while ((position(p) & (cap - 1)) != cap - ZIPC_FRAME_ALIGN) {
        CHECK_HOT_OK(tu_send_k(p, tu_seed, k, 0, 0, ZIPC_TRY));
        CHECK_HOT_OK(zipc_channel_view(c, &m, ZIPC_TRY));
        CHECK_MSG_K(&m, tu_seed, k++, 0);
        CHECK_HOT_OK(zipc_channel_release(c));
    }
    uint64_t before = position(p);
    reserve_and_abort(p, zipc_channel_max_message(p)); /* would pad to the end */
    reserve_and_abort(p, ZIPC_FRAME_ALIGN);            /* so would this */
    CHECK_EQ(position(p), before);
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    const size_t small = ZIPC_FRAME_ALIGN - ZIPC_FRAME_HEADER; /* exactly one frame */
    CHECK_OK(tu_send_k(p, tu_seed, k, small, 0, ZIPC_TRY));
    CHECK_EQ(position(p), before + ZIPC_FRAME_ALIGN); /* no pad was left behind */
    CHECK_OK(zipc_channel_view(c, &m, ZIPC_TRY));
    CHECK_MSG_K(&m, tu_seed, k++, small);
    CHECK_OK(zipc_channel_release(c));
    /* and the next one starts the next lap at offset 0 */
    CHECK_OK(tu_send_k(p, tu_seed, k, 3, 0, ZIPC_TRY));
    CHECK_OK(zipc_channel_view(c, &m, ZIPC_TRY));
    CHECK_MSG_K(&m, tu_seed, k++, 3);
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    CHECK_OK(zipc_channel_release(c));
    CHECK_EQ(position(c), before + 2 * ZIPC_FRAME_ALIGN);
}

/* A padded reservation committed shorter: still exactly one message. */
static void padded_then_short(zipc_channel *p, zipc_channel *c, size_t cap)
{
    struct zipc_msg m;
    void *buf;
    uint64_t start = position(p);
    CHECK_OK(zipc_channel_reserve(p, zipc_channel_max_message(p), &buf, ZIPC_TRY));
    tu_msg_fill(buf, 1, tu_seed, 99);
    CHECK_OK(zipc_channel_commit(p, 1, tu_msg_type(tu_seed, 99), 0));
    CHECK_OK(zipc_channel_view(c, &m, ZIPC_TRY));
    CHECK_MSG_K(&m, tu_seed, 99, 1);
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    CHECK_OK(zipc_channel_release(c));
    CHECK(position(c) > start && position(c) <= start + cap);
}

static void in_process(void)
{
    /* from 2 * MIN: in the smallest ring a max-size frame fits at every offset */
    static const size_t caps[] = {2 * ZIPC_MIN_CAPACITY, 1024, 4096};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        zipc_channel *p, *c;
        if (!tu_pair_pc(&p, &c, caps[i]))
            return;
        basics(p, c);
        wrapped_abort(p, c, caps[i]);
        wrapped_abort(p, c, caps[i]);
        padded_then_short(p, c, caps[i]);
        wrapped_abort(p, c, caps[i]);
        zipc_channel_close(p);
        zipc_channel_close(c);
    }
}

/* close() aborts an open reservation, and still publishes what was staged
 * before it. */
static void close_aborts(void)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, 4096))
        return;
    void *buf;
    struct zipc_msg m;
    CHECK_OK(tu_send_k(p, tu_seed, 0, 5, 0, ZIPC_TRY));
    CHECK_OK(tu_send_k(p, tu_seed, 1, 6, ZIPC_COMMIT_MORE, ZIPC_TRY));
    CHECK_OK(tu_send_k(p, tu_seed, 2, 7, ZIPC_COMMIT_MORE, ZIPC_TRY));
    CHECK_OK(zipc_channel_reserve(p, 64, &buf, ZIPC_TRY));
    memset(buf, 0x5a, 64);
    zipc_channel_close(p);
    for (uint64_t k = 0; k < 3; k++) {
        CHECK_OK(zipc_channel_view(c, &m, ZIPC_TRY));
        CHECK_MSG_K(&m, tu_seed, k, 5 + k);
    }
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EPIPE);
    zipc_channel_close(c);
}

/* ---- random mix across processes ------------------------------------------- */

struct mix {
    uint64_t seed;
    uint64_t ops;
};

/* One op: abort a junk reservation (a third of the time), or commit the
 * next message, sometimes from a larger reservation, sometimes staged. */
static int mix_op(zipc_channel *p, const struct mix *x, uint64_t *k, uint64_t *rng, size_t max)
{
    uint64_t r = tu_rand(rng);
    void *buf;
    size_t size = tu_msg_size(x->seed, *k, max);
    if (r % 3 == 0) {
        size_t junk = (size_t)((r >> 8) % (max + 1));
        int e = zipc_channel_reserve(p, junk, &buf, ZIPC_FOREVER);
        if (e)
            return e;
        memset(buf, 0xee, junk);
        return zipc_channel_abort(p);
    }
    size_t ask = r & 8 ? size + (size_t)((r >> 8) % (max - size + 1)) : size;
    int e = zipc_channel_reserve(p, ask, &buf, ZIPC_FOREVER);
    if (e)
        return e;
    memset(buf, 0xee, ask); /* junk beyond the committed size must stay unseen */
    tu_msg_fill(buf, size, x->seed, *k);
    e = zipc_channel_commit(p, size, tu_msg_type(x->seed, *k), r & 16 ? ZIPC_COMMIT_MORE : 0);
    (*k)++;
    return e;
}

static void mix_producer(zipc_channel *p, void *arg)
{
    const struct mix *x = arg;
    uint64_t rng = x->seed ^ 0x11, k = 0;
    size_t max = zipc_channel_max_message(p);
    for (uint64_t i = 0; i < x->ops; i++)
        if (!CHECK_HOT_OK(mix_op(p, x, &k, &rng, max)))
            return;
    CHECK_OK(zipc_channel_flush(p));
    struct zipc_channel_stats st;
    CHECK_OK(zipc_channel_get_stats(p, &st));
    CHECK_EQ(st.messages, k);
    printf("  producer: %" PRIu64 " committed, %" PRIu64 " aborted\n", k, x->ops - k);
}

/* How many messages the producer commits (the same random draws). */
static uint64_t committed_count(const struct mix *x)
{
    uint64_t rng = x->seed ^ 0x11, k = 0;
    for (uint64_t i = 0; i < x->ops; i++)
        if (tu_rand(&rng) % 3 != 0)
            k++;
    return k;
}

static void random_mix(size_t cap, long ops)
{
    char path[TU_PATH_MAX];
    struct mix x = {.seed = tu_seed ^ (cap * 7), .ops = (uint64_t)tu_scaled(ops, 5000)};
    pid_t pid = tu_spawn_connector(tu_path(path, "abort"), NULL, mix_producer, &x);
    zipc_channel *c = tu_listen(path, cap, NULL);
    if (c) {
        size_t max = zipc_channel_max_message(c);
        struct zipc_msg m;
        uint64_t k = 0;
        int e;
        while ((e = zipc_channel_view(c, &m, ZIPC_FOREVER)) == 0) {
            if (!CHECK_STREAM_K(&m, x.seed, k, max))
                break;
            k++;
            CHECK_HOT_OK(zipc_channel_release(c));
        }
        CHECK_ERR(e, -EPIPE);
        CHECK_EQ(k, committed_count(&x));
        zipc_channel_close(c);
    }
    CHECK_CHILD(pid, 60000);
}

int main(void)
{
    tu_init("test_abort", 120);
    in_process();
    close_aborts();
    random_mix(ZIPC_MIN_CAPACITY, 100000); /* one message at a time: every one a hand-off */
    random_mix(1024, 300000);
    return tu_finish();
}

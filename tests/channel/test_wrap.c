/* Max-size messages at every fill position. For small rings, the ring is
 * moved to every frame-aligned offset (with zero-size filler messages, each
 * one frame), then messages of exactly max_message are sent repeatedly:
 * each must be accepted once the consumer has drained, wherever it lands
 * (including the positions where it has to wrap with a pad frame). Both
 * endpoints live in this process, so everything is deterministic; the
 * positions the stats report are checked against a model of the ABI's
 * frame layout. Also: capacity rounding, -EMSGSIZE, and the warm pad that
 * puts a large message back at offset 0 when that space is free. */
#include "testutil.h"

struct ring {
    zipc_channel *p, *c;
    uint64_t cap, max;
    uint64_t pos;  /* model: the producer's position */
    uint64_t sent; /* messages sent == sequence number of the next */
    uint64_t got;  /* messages received */
    uint64_t seed;
    uint64_t sizes[16]; /* size of message k, at k % 16 (never more in flight) */
};

static uint64_t frame_of(uint64_t size)
{
    return (ZIPC_FRAME_HEADER + size + ZIPC_FRAME_ALIGN - 1) / ZIPC_FRAME_ALIGN * ZIPC_FRAME_ALIGN;
}

/* Where a message of `size` ends when written at r->pos (pad included). */
static uint64_t model_after(const struct ring *r, uint64_t size)
{
    uint64_t off = r->pos & (r->cap - 1), f = frame_of(size);
    return r->pos + (r->cap - off < f ? r->cap - off : 0) + f;
}

static int try_send(struct ring *r, uint64_t size)
{
    int e = tu_send_k(r->p, r->seed, r->sent, size, 0, ZIPC_TRY);
    if (e == 0) {
        r->pos = model_after(r, size);
        r->sizes[r->sent++ % 16] = size;
    }
    return e;
}

/* View and release everything published; each must be the next message. */
static void drain_all(struct ring *r)
{
    struct zipc_msg m;
    while (r->got < r->sent) {
        int e = zipc_channel_view(r->c, &m, ZIPC_TRY);
        if (e != 0) {
            CHECK_MSG(0, "message %" PRIu64 " of %" PRIu64 " not there: %s", r->got, r->sent, zipc_strerror(e));
            return;
        }
        if (!CHECK_MSG_K(&m, r->seed, r->got, r->sizes[r->got % 16]))
            return;
        r->got++;
    }
    CHECK_HOT_OK(zipc_channel_release(r->c));
    CHECK_HOT_ERR(zipc_channel_view(r->c, &m, ZIPC_TRY), -EAGAIN);
}

static void check_model(const struct ring *r)
{
    struct zipc_channel_stats ps, cs;
    zipc_channel_get_stats(r->p, &ps);
    zipc_channel_get_stats(r->c, &cs);
    if (ps.bytes != r->pos || cs.bytes != r->pos)
        CHECK_MSG(0, "positions: producer %" PRIu64 ", consumer %" PRIu64 ", model %" PRIu64, ps.bytes,
                  cs.bytes, r->pos);
}

/* Move the (empty) ring to offset `off` with one-frame filler messages. */
static void move_to(struct ring *r, uint64_t off)
{
    while ((r->pos & (r->cap - 1)) != off) {
        if (!CHECK_HOT_OK(try_send(r, 0)))
            return;
        drain_all(r);
    }
    check_model(r);
}

/* At the current offset: max-size messages, repeatedly. Each must be taken
 * at once, or after the consumer drained. */
static void max_messages_here(struct ring *r)
{
    for (int i = 0; i < 3; i++) {
        int e = try_send(r, r->max);
        if (e == -EAGAIN) {
            drain_all(r);
            e = try_send(r, r->max);
        }
        if (e != 0) {
            CHECK_MSG(0, "max message %d at ring offset %" PRIu64 " refused on a drained ring: %s", i,
                      r->pos & (r->cap - 1), zipc_strerror(e));
            return;
        }
    }
    drain_all(r);
    check_model(r);
}

static void every_offset(size_t cap)
{
    struct ring r = {.cap = cap, .seed = tu_seed ^ cap};
    if (!tu_pair_pc(&r.p, &r.c, cap))
        return;
    r.max = zipc_channel_max_message(r.p);
    CHECK_EQ(r.max, cap / 2 - ZIPC_FRAME_HEADER);
    CHECK_EQ(zipc_channel_max_message(r.c), r.max);
    for (int lap = 0; lap < 2; lap++)
        for (uint64_t off = 0; off < cap; off += ZIPC_FRAME_ALIGN) {
            move_to(&r, off);
            max_messages_here(&r);
        }
    CHECK_EQ(r.got, r.sent);
    CHECK_MSG(r.pos >= 2 * cap, "the ring did not go round");
    check_model(&r);
    printf("  capacity %zu: %" PRIu64 " messages through every offset twice\n", cap, r.got);
    zipc_channel_close(r.p);
    zipc_channel_close(r.c);
}

static void msgsize(void)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, 4096))
        return;
    size_t max = zipc_channel_max_message(p);
    void *buf;
    char *big = calloc(1, max + 2);
    CHECK_ERR(zipc_channel_reserve(p, max + 1, &buf, ZIPC_TRY), -EMSGSIZE);
    CHECK_ERR(zipc_channel_reserve(p, max + 1, &buf, ZIPC_FOREVER), -EMSGSIZE);
    CHECK_ERR(zipc_channel_reserve(p, SIZE_MAX, &buf, ZIPC_TRY), -EMSGSIZE);
    CHECK_ERR(zipc_channel_reserve(p, (size_t)UINT32_MAX + 1, &buf, ZIPC_TRY), -EMSGSIZE);
    CHECK_ERR(zipc_channel_send(p, big, max + 1, 0, ZIPC_TRY), -EMSGSIZE);
    /* nothing is left open or published by a refused reservation */
    CHECK_OK(zipc_channel_send(p, big, max, 5, ZIPC_TRY));
    struct zipc_msg m;
    CHECK_OK(zipc_channel_view(c, &m, ZIPC_TRY));
    CHECK(m.size == max && m.type == 5);
    CHECK_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    free(big);
    zipc_channel_close(p);
    zipc_channel_close(c);
}

/* recv into a too-small buffer keeps the message, also one that wrapped
 * behind a pad; the next recv or view gets it whole. */
static void recv_too_small_after_pad(void)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, 1024))
        return;
    size_t max = zipc_channel_max_message(p);
    struct zipc_msg m;
    char small[8], *big = malloc(max);
    size_t size;
    uint32_t type;
    for (uint64_t k = 0; k < 40; k++) {
        size_t want = k % 3 ? max : 100; /* max-size frames wrap behind pads at most offsets */
        CHECK_HOT_OK(tu_send_k(p, tu_seed, k, want, 0, ZIPC_TRY));
        CHECK_HOT_ERR(zipc_channel_recv(c, small, sizeof(small), &size, &type, ZIPC_TRY), -EMSGSIZE);
        CHECK_HOT(size == want && type == tu_msg_type(tu_seed, k));
        CHECK_HOT_ERR(zipc_channel_recv(c, small, sizeof(small), &size, &type, ZIPC_TRY), -EMSGSIZE);
        if (k % 2) {
            CHECK_HOT_OK(zipc_channel_view(c, &m, ZIPC_TRY));
            CHECK_MSG_K(&m, tu_seed, k, want);
            CHECK_HOT_OK(zipc_channel_release(c));
        } else {
            CHECK_HOT_OK(zipc_channel_recv(c, big, max, &size, &type, ZIPC_TRY));
            m.data = big, m.size = (uint32_t)size, m.type = type;
            CHECK_MSG_K(&m, tu_seed, k, want);
        }
        CHECK_HOT_ERR(zipc_channel_view(c, &m, ZIPC_TRY), -EAGAIN);
    }
    struct zipc_channel_stats st;
    CHECK_OK(zipc_channel_get_stats(c, &st));
    CHECK_EQ(st.messages, 40);
    free(big);
    zipc_channel_close(p);
    zipc_channel_close(c);
}

/* Where the payload of the message just viewed lies in the ring. */
static uint64_t view_at(zipc_channel *c, uint64_t k, size_t size, const uint8_t **first)
{
    struct zipc_msg m;
    if (!CHECK_HOT_OK(zipc_channel_view(c, &m, ZIPC_TRY)) || !CHECK_MSG_K(&m, tu_seed, k, size))
        return UINT64_MAX;
    if (!*first)
        *first = m.data;
    return (uint64_t)((const uint8_t *)m.data - *first);
}

/* Frames of >= 256 KiB go back to offset 0 (a pad to the ring's end) when
 * [0, frame + its terminator slot) is free, or everything is released and
 * the pad's header can be that slot; smaller ones walk the ring. The space
 * check still holds: a message in use is never written over. */
static void warm_pad(void)
{
    const size_t cap = 4u << 20, big = 300u << 10, small = 200u << 10;
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, cap))
        return;
    const uint8_t *first = NULL;
    uint64_t k = 0, walked = 0;
    /* drained after each (blocking reserves and tries): every large message
     * at the start, the one before's pad header its terminator slot */
    for (int i = 0; i < 12; i++, k++) {
        CHECK_HOT_OK(tu_send_k(p, tu_seed, k, big, 0, i % 2 ? ZIPC_TRY : 1000 * TU_MS));
        CHECK_HOT(view_at(c, k, big, &first) == 0);
        CHECK_HOT_ERR(zipc_channel_view(c, &(struct zipc_msg){0}, ZIPC_TRY), -EAGAIN);
        CHECK_HOT_OK(zipc_channel_release(c));
    }
    /* a smaller frame walks on from where the last one ended */
    for (int i = 0; i < 6; i++, k++) {
        CHECK_HOT_OK(tu_send_k(p, tu_seed, k, small, 0, ZIPC_TRY));
        CHECK_HOT(view_at(c, k, small, &first) == frame_of(big) + walked);
        walked += frame_of(small);
        CHECK_HOT_OK(zipc_channel_release(c));
    }
    /* message k held at 0: the next one goes after it, and the one after
     * that may not go back over k while it is still viewed */
    CHECK_HOT_OK(tu_send_k(p, tu_seed, k, big, 0, ZIPC_TRY));
    CHECK_HOT(view_at(c, k, big, &first) == 0);
    CHECK_HOT_OK(tu_send_k(p, tu_seed, k + 1, big, 0, 1000 * TU_MS)); /* waits in vain for 0, then walks */
    CHECK_HOT_OK(tu_send_k(p, tu_seed, k + 2, big, 0, ZIPC_TRY));
    CHECK_HOT(view_at(c, k + 1, big, &first) == frame_of(big));
    CHECK_HOT(view_at(c, k + 2, big, &first) == 2 * frame_of(big));
    CHECK_HOT_OK(zipc_channel_release(c));
    k += 3;
    /* everything released: back to 0, even from the middle of the ring */
    CHECK_HOT_OK(tu_send_k(p, tu_seed, k, big, 0, ZIPC_TRY));
    CHECK_HOT(view_at(c, k, big, &first) == 0);
    CHECK_HOT_OK(zipc_channel_release(c));
    CHECK_HOT_ERR(zipc_channel_view(c, &(struct zipc_msg){0}, ZIPC_TRY), -EAGAIN);
    zipc_channel_close(p);
    zipc_channel_close(c);
}

static void rounding(void)
{
    static const size_t asked[] = {ZIPC_MIN_CAPACITY, ZIPC_MIN_CAPACITY + 1, 1000, 4095, 4096, 65537};
    for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++) {
        zipc_channel *p, *c;
        if (!tu_pair_pc(&p, &c, asked[i]))
            continue;
        size_t want = ZIPC_MIN_CAPACITY;
        while (want < asked[i])
            want *= 2;
        CHECK_EQ(zipc_channel_capacity(c), want);
        CHECK_EQ(zipc_channel_capacity(p), want);
        CHECK_EQ(zipc_channel_max_message(c), want / 2 - ZIPC_FRAME_HEADER);
        zipc_channel_close(p);
        zipc_channel_close(c);
    }
}

int main(void)
{
    tu_init("test_wrap", 120);
    static const size_t caps[] = {ZIPC_MIN_CAPACITY, 2 * ZIPC_MIN_CAPACITY, 512, 4096, 65536};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
        every_offset(caps[i]);
    msgsize();
    recv_too_small_after_pad();
    warm_pad();
    rounding();
    return tu_finish();
}

/* 10^7 messages (scaled by ZIPC_TEST_SCALE) of random sizes 0..max_message
 * through small rings (and large ones through a 2 MiB ring), producer and
 * consumer in different processes.
 * Every message carries its sequence number and a checksum; sizes and type
 * ids are random but reproducible from the seed, so the consumer knows what
 * message k must look like. The producer mixes send (copy), reserve with
 * slack then a shorter commit, and batched commits (ZIPC_COMMIT_MORE); the consumer
 * mixes view, drain and holding several views before one release. */
#include "testutil.h"

struct stream {
    uint64_t seed;
    uint64_t n;
};

static int produce_one(zipc_channel *ch, uint64_t seed, uint64_t k, size_t max, uint64_t *rng,
                       uint8_t *tmp)
{
    size_t size = tu_msg_size(seed, k, max);
    uint64_t r = tu_rand(rng);
    switch (r & 7) {
    case 0: /* copy in */
        tu_msg_fill(tmp, size, seed, k);
        return zipc_channel_send(ch, tmp, size, tu_msg_type(seed, k), ZIPC_FOREVER);
    case 1: { /* reserve more than needed, commit the real size */
        void *buf;
        size_t slack = (size_t)((r >> 8) % (max - size + 1));
        int e = zipc_channel_reserve(ch, size + slack, &buf, ZIPC_FOREVER);
        if (e)
            return e;
        tu_msg_fill(buf, size, seed, k);
        return zipc_channel_commit(ch, size, tu_msg_type(seed, k), 0);
    }
    case 2:
    case 3: /* staged: published by a later plain commit or the final flush */
        return tu_send_k(ch, seed, k, size, ZIPC_COMMIT_MORE, ZIPC_FOREVER);
    default:
        return tu_send_k(ch, seed, k, size, 0, ZIPC_FOREVER);
    }
}

static void producer(zipc_channel *ch, void *arg)
{
    const struct stream *s = arg;
    size_t max = zipc_channel_max_message(ch);
    uint8_t *tmp = malloc(max + 1);
    uint64_t rng = s->seed ^ 0x9d;
    int err = 0;
    uint64_t k = 0;
    for (; k < s->n && !err; k++)
        err = produce_one(ch, s->seed, k, max, &rng, tmp);
    CHECK_MSG(err == 0, "producer: message %" PRIu64 ": %s", k - 1, zipc_strerror(err));
    CHECK_OK(zipc_channel_flush(ch));
    struct zipc_channel_stats st;
    CHECK_OK(zipc_channel_get_stats(ch, &st));
    CHECK_EQ(st.messages, s->n);
    free(tmp);
}

/* One receive call: a view or a drain. Held views pin ring space, so a
 * call made while holding some must not block: on -EAGAIN they are released
 * and the call is made again, blocking. */
static int receive(zipc_channel *ch, struct zipc_msg *m, uint64_t r, bool holding)
{
    int64_t timeout = holding ? ZIPC_TRY : ZIPC_FOREVER;
    int n;
    if ((r & 3) == 0) {
        n = zipc_channel_drain(ch, m, 1 + (unsigned)(r >> 8) % 16, timeout);
    } else {
        int e = zipc_channel_view(ch, m, timeout);
        n = e ? e : 1;
    }
    if (n == -EAGAIN && holding) {
        CHECK_HOT_OK(zipc_channel_release(ch));
        return receive(ch, m, r, false);
    }
    return n;
}

/* Receive until the producer is gone; returns how many messages were right. */
static uint64_t consume(zipc_channel *ch, const struct stream *s, int *end)
{
    size_t max = zipc_channel_max_message(ch);
    uint64_t rng = s->seed ^ 0x3c, k = 0;
    struct zipc_msg m[16];
    int failures = 0;
    bool holding = false;
    for (;;) {
        uint64_t r = tu_rand(&rng);
        int n = receive(ch, m, r, holding);
        if (n < 0) {
            *end = n;
            CHECK_HOT_OK(zipc_channel_release(ch)); /* views still held count as released after this */
            return k;
        }
        for (int i = 0; i < n; i++, k++)
            if (!CHECK_STREAM_K(&m[i], s->seed, k, max) && ++failures >= 10) {
                *end = 0;
                return k; /* out of step: the rest would only repeat it */
            }
        holding = (r & 0x30) == 0x30; /* now and then keep the views over the next call */
        if (!holding)
            CHECK_HOT_OK(zipc_channel_release(ch));
    }
}

static void run_stream(size_t capacity, uint64_t n, uint64_t seed)
{
    char path[TU_PATH_MAX];
    struct stream s = {.seed = seed, .n = n};
    pid_t pid = tu_spawn_connector(tu_path(path, "stream"), NULL, producer, &s);
    zipc_channel *ch = tu_listen(path, capacity, NULL);
    if (ch) {
        int64_t t0 = tu_now_ns();
        int end = 0;
        uint64_t got = consume(ch, &s, &end);
        double secs = tu_ms_since(t0) / 1000;
        CHECK_EQ(got, n);
        CHECK_ERR(end, -EPIPE);
        struct zipc_channel_stats st;
        CHECK_OK(zipc_channel_get_stats(ch, &st));
        CHECK_EQ(st.messages, n);
        uint64_t laps = st.bytes / capacity;
        CHECK_MSG(st.bytes >= n * ZIPC_FRAME_ALIGN, "consumer released only %" PRIu64 " bytes", st.bytes);
        printf("  capacity %zu: %" PRIu64 " messages in %.2f s (%.2f M/s), %" PRIu64
               " laps of the ring, consumer slept %" PRIu64 " times\n",
               capacity, got, secs, (double)got / secs / 1e6, laps, st.sleeps);
        zipc_channel_close(ch);
    }
    CHECK_CHILD(pid, 120000);
}

int main(void)
{
    tu_init("test_stream", 300);
    uint64_t n = (uint64_t)tu_scaled(10000000, 20000);
    run_stream(4096, n - n / 20, tu_seed);
    run_stream(ZIPC_MIN_CAPACITY, n / 20, tu_seed + 1); /* one message at a time: every one a hand-off */
    /* a ring where the few messages of >= 256 KiB go back to offset 0 behind
     * warm pads (DESIGN §2.7), between small ones, batches and held views */
    run_stream(2u << 20, (uint64_t)tu_scaled(20000, 2000), tu_seed + 2);
    return tu_finish();
}

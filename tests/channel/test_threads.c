/* Producer and consumer in two threads of one process (the handshake too:
 * listen in one thread, connect in another). ~10^6 messages (scaled) with
 * batch publish (ZIPC_COMMIT_MORE runs, flush), batch drain, pauses on both sides
 * so that each blocks in the kernel, and checksums. The TSan stage runs it.
 * ctest-labels: threads */
#include "testutil.h"

struct run {
    zipc_channel *p, *c;
    uint64_t seed, n;
    uint64_t received;
    int end; /* the consumer's final result */
};

static void *producer(void *arg)
{
    struct run *r = arg;
    size_t max = zipc_channel_max_message(r->p);
    uint64_t rng = r->seed ^ 0x1234;
    for (uint64_t k = 0; k < r->n;) {
        uint64_t x = tu_rand(&rng), batch = 1 + (x & 15);
        for (uint64_t i = 0; i < batch && k < r->n; i++, k++) {
            unsigned more = i + 1 < batch ? ZIPC_COMMIT_MORE : 0;
            int e = tu_send_k(r->p, r->seed, k, tu_msg_size(r->seed, k, max), more, ZIPC_FOREVER);
            if (e) {
                CHECK_MSG(0, "producer: message %" PRIu64 ": %s", k, zipc_strerror(e));
                return NULL;
            }
        }
        if ((x >> 8) % 64 == 0)
            CHECK_HOT_OK(zipc_channel_flush(r->p));
        if ((x >> 16) % 2048 == 0)
            tu_sleep_us(300); /* the consumer runs dry and sleeps */
    }
    CHECK_OK(zipc_channel_flush(r->p));
    return NULL;
}

static void *consumer(void *arg)
{
    struct run *r = arg;
    size_t max = zipc_channel_max_message(r->c);
    uint64_t rng = r->seed ^ 0x4321, k = 0;
    struct zipc_msg m[32];
    while (k < r->n) {
        uint64_t x = tu_rand(&rng);
        int got = zipc_channel_drain(r->c, m, 1 + (unsigned)(x % 32), 10000 * TU_MS);
        if (got < 0) {
            r->end = got;
            break;
        }
        for (int i = 0; i < got; i++, k++)
            if (!CHECK_STREAM_K(&m[i], r->seed, k, max)) {
                r->received = k;
                return NULL;
            }
        CHECK_HOT_OK(zipc_channel_release(r->c));
        if ((x >> 8) % 2048 == 0)
            tu_sleep_us(300); /* the ring fills and the producer sleeps */
    }
    r->received = k;
    return NULL;
}

static void run(size_t cap, int listener_role, uint64_t n)
{
    struct zipc_options lo = tu_opts(0);
    lo.role = listener_role;
    zipc_channel *lis, *con;
    if (!tu_pair(&lis, &con, cap, &lo, NULL))
        return;
    struct run r = {.seed = tu_seed ^ cap ^ (uint64_t)listener_role, .n = n};
    r.p = listener_role == ZIPC_ROLE_PRODUCER ? lis : con;
    r.c = listener_role == ZIPC_ROLE_PRODUCER ? con : lis;
    CHECK_EQ(zipc_channel_role(r.p), ZIPC_ROLE_PRODUCER);
    CHECK_EQ(zipc_channel_role(r.c), ZIPC_ROLE_CONSUMER);
    int64_t t0 = tu_now_ns();
    pthread_t tp, tc;
    CHECK_OK(pthread_create(&tc, NULL, consumer, &r));
    CHECK_OK(pthread_create(&tp, NULL, producer, &r));
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    double secs = tu_ms_since(t0) / 1000;
    CHECK_EQ(r.received, n);
    CHECK_OK(r.end);
    struct zipc_channel_stats ps, cs;
    CHECK_OK(zipc_channel_get_stats(r.p, &ps));
    CHECK_OK(zipc_channel_get_stats(r.c, &cs));
    CHECK_EQ(ps.messages, n);
    CHECK_EQ(cs.messages, n);
    CHECK_EQ(ps.bytes, cs.bytes);
    printf("  capacity %zu, listener %s: %" PRIu64 " messages in %.2f s; sleeps P %" PRIu64 " C %" PRIu64
           ", wakeups P %" PRIu64 " C %" PRIu64 "\n",
           cap, listener_role == ZIPC_ROLE_PRODUCER ? "produces" : "consumes", n, secs, ps.sleeps, cs.sleeps,
           ps.wakeups, cs.wakeups);
    fflush(stdout);
    zipc_channel_close(r.p);
    struct zipc_msg m;
    CHECK_ERR(zipc_channel_view(r.c, &m, ZIPC_FOREVER), -EPIPE);
    zipc_channel_close(r.c);
}

int main(void)
{
    tu_init("test_threads", 300);
    uint64_t n = (uint64_t)tu_scaled(1000000, 10000);
    run(4096, ZIPC_ROLE_DEFAULT, n / 2);
    run(ZIPC_MIN_CAPACITY, ZIPC_ROLE_PRODUCER, n / 4);
    run(65536, ZIPC_ROLE_PRODUCER, n / 4);
    return tu_finish();
}

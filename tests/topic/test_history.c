/* Late joiners asking for history (struct zipc_subscription.history).
 *
 * A publisher fills a ring (no subscriber: it overwrites the oldest), then
 * stays idle while a subscriber process joins again and again asking for
 * every history from 0 to past what the ring holds (and huge ones), as
 * BLOCK and as DROP_OLDEST. With R the number of messages still in the ring
 * (R is not assumed: it is what the largest answer gives; it must lie
 * between half the ring's slots and all of them), each joiner asking for H
 * gets exactly the last min(H, R) messages, in order, intact, then nothing
 * more; when H asked for more than remain, its first call is -EOVERFLOW and
 * last_loss() gives exactly the gap min(H, K) - R (K: messages ever
 * published; messages that never existed are no gap). History 0 starts with
 * the next message published. Both with 48-byte messages (64-byte frames,
 * no pads) and with messages of random sizes (pads at the ring's end), and
 * with fewer messages published than the ring holds. */
#include "testutil.h"

#define CAP 4096
#define SLOTS (CAP / ZIPC_FRAME_ALIGN)

struct shared {
    uint64_t published; /* K */
    uint32_t fixed;     /* 48-byte messages, else random sizes */
    uint64_t seed;
    uint64_t r_seen;    /* R, as the subscriber found it */
};

static struct shared *sh;
static char name[TU_NAME_MAX];

static size_t size_of(uint64_t k, size_t max) { return sh->fixed ? 48 : tu_msg_size(sh->seed, k, max); }

/* One joiner asking for h: returns how many it got (n), checks the gap. */
static uint64_t join_with_history(uint64_t h, uint32_t policy, uint64_t *gap_out)
{
    struct zipc_subscription s = tu_subscription(policy, 0, 0, h);
    struct zipc_options o = tu_opts(5000 * TU_MS);
    zipc_subscriber *sub = NULL;
    if (!CHECK_OK(zipc_topic_subscribe(&sub, name, &s, &o)))
        return 0;
    uint64_t k_all = sh->published, gap = 0, n = 0, bytes = 0;
    size_t max = zipc_subscriber_max_message(sub);
    struct zipc_msg m;
    int r = zipc_subscriber_view(sub, &m, ZIPC_TRY);
    if (r == -EOVERFLOW) {
        CHECK_OK(zipc_subscriber_last_loss(sub, &gap, &bytes));
        CHECK_MSG(gap > 0, "history %" PRIu64 ": -EOVERFLOW with a gap of 0", h);
        r = zipc_subscriber_view(sub, &m, ZIPC_TRY);
    }
    uint64_t first = 0;
    for (; r == 0; r = zipc_subscriber_view(sub, &m, ZIPC_TRY)) {
        if (n == 0)
            first = m.seq;
        CHECK_MSG_K(&m, sh->seed, m.seq, size_of(m.seq, max));
        CHECK_EQ(m.seq, first + n);
        CHECK_OK(zipc_subscriber_release(sub));
        n++;
    }
    CHECK_ERR(r, -EAGAIN); /* nothing more: the publisher is idle */
    if (n)
        CHECK_MSG(first + n == k_all, "history %" PRIu64 ": got %" PRIu64 " messages from %" PRIu64
                  ", not the last ones of %" PRIu64, h, n, first, k_all);
    uint64_t asked = h < k_all ? h : k_all;
    CHECK_MSG(n + gap == asked, "history %" PRIu64 " (%s, %" PRIu64 " published): %" PRIu64 " messages + gap %" PRIu64
              " != %" PRIu64, h, tu_policy_name(policy), k_all, n, gap, asked);
    struct zipc_subscriber_stats st;
    if (CHECK_OK(zipc_subscriber_get_stats(sub, &st)))
        CHECK_EQ(st.lost_messages, gap);
    zipc_subscriber_close(sub);
    *gap_out = gap;
    return n;
}

/* The subscriber process: every history, both policies. */
static void joiner(int go_fd, int done_fd)
{
    for (int round = 0; round < 3; round++) {
        if (!CHECK(tu_await(go_fd, 30000)))
            tu_child_exit();
        uint64_t r_max = 0, gap;
        static const uint64_t huge[] = {1000, UINT64_MAX};
        uint64_t got[SLOTS + 4];
        for (uint64_t h = 0; h < SLOTS + 4; h++) {
            got[h] = join_with_history(h, h % 2 ? ZIPC_SUB_DROP_OLDEST : ZIPC_SUB_BLOCK, &gap);
            if (got[h] > r_max)
                r_max = got[h];
        }
        for (int i = 0; i < 2; i++)
            CHECK_EQ(join_with_history(huge[i], i ? ZIPC_SUB_BLOCK : ZIPC_SUB_DROP_OLDEST, &gap), r_max);
        /* exactly the last min(H, R) */
        for (uint64_t h = 0; h < SLOTS + 4; h++)
            CHECK_MSG(got[h] == (h < r_max ? h : r_max), "history %" PRIu64 ": %" PRIu64 " messages, R = %" PRIu64,
                      h, got[h], r_max);
        sh->r_seen = r_max;
        tu_notify(done_fd);
    }
    tu_child_exit();
}

static void fill(zipc_publisher *p, uint64_t from, uint64_t to)
{
    size_t max = zipc_publisher_max_message(p);
    for (uint64_t k = from; k < to; k++)
        CHECK_HOT_OK(tu_publish_k(p, sh->seed, k, size_of(k, max), 0, ZIPC_TRY)); /* never waits */
    sh->published = to;
}

/* History 0: the next message published, nothing before. */
static void history_zero(zipc_publisher *p)
{
    zipc_subscriber *sub = NULL;
    struct zipc_options o = tu_opts(5000 * TU_MS);
    if (!CHECK_OK(zipc_topic_subscribe(&sub, name, NULL, &o)))
        return;
    struct zipc_msg m;
    CHECK_ERR(zipc_subscriber_view(sub, &m, ZIPC_TRY), -EAGAIN);
    fill(p, sh->published, sh->published + 1);
    if (CHECK_OK(zipc_subscriber_view(sub, &m, ZIPC_TRY)))
        CHECK_EQ(m.seq, sh->published - 1);
    zipc_subscriber_close(sub);
}

int main(void)
{
    tu_init("test_history", 300);
    sh = tu_shared(sizeof(*sh));
    int go[2], done[2];
    if (!sh || !CHECK_OK(pipe(go)) || !CHECK_OK(pipe(done)))
        return tu_finish();
    tu_topic_name(name, "hist");
    sh->seed = tu_mix(tu_seed ^ 0x415);
    pid_t kid = tu_fork(); /* before the topic: it inherits no endpoint */
    if (kid == 0)
        joiner(go[0], done[1]);
    zipc_publisher *p = NULL;
    if (!CHECK_OK(zipc_topic_create(&p, name, CAP, 0, NULL))) {
        tu_kill_reap(kid);
        return tu_finish();
    }
    /* fewer than the ring holds: all of them, no gap for what never was */
    sh->fixed = 1;
    fill(p, 0, 5);
    tu_notify(go[1]);
    if (CHECK(tu_await(done[0], 60000)))
        CHECK_EQ(sh->r_seen, 5);
    /* many laps of 64-byte frames */
    fill(p, 5, 10 * SLOTS);
    tu_notify(go[1]);
    if (CHECK(tu_await(done[0], 60000))) {
        printf("  48-byte messages: %" PRIu64 " of %d slots still in the ring\n", sh->r_seen, SLOTS);
        CHECK_RANGE(sh->r_seen, SLOTS / 2, SLOTS - 1);
    }
    /* random sizes: pads at the ring's end */
    sh->fixed = 0;
    fill(p, 10 * SLOTS, 40 * SLOTS);
    tu_notify(go[1]);
    if (CHECK(tu_await(done[0], 60000))) {
        printf("  random sizes: %" PRIu64 " messages still in the ring\n", sh->r_seen);
        CHECK_RANGE(sh->r_seen, 1, SLOTS - 1);
    }
    CHECK_CHILD(kid, 30000);
    history_zero(p);
    zipc_publisher_close(p);
    return tu_finish();
}

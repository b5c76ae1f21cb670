/* A subscriber that writes garbage into its own cursor is evicted, alone.
 *
 * A publisher process streams to two honest BLOCK subscriber processes.
 * Hostile subscriber processes join one after another, read a while, then
 * write through their own (read-write) mapping of their cursor segment
 * (found in /proc/self/maps: the memfd whose header says
 * ZIPC_KIND_TOPIC_CURSOR) and stop calling the library:
 *   - a head far ahead of anything published (BLOCK and MAX_LAG);
 *   - a head more than a ring behind the publisher (BLOCK: impossible for a
 *     live lossless cursor, and it must not hold the publisher back);
 *   - a head off the frame grid (BLOCK);
 *   - all ones (MAX_LAG).
 * (A DROP_OLDEST cursor is never read by the publisher: garbage there only
 * misleads its own subscriber, as zipc/topic.h says.)
 * Checked: the publisher evicts each (its stats count it, and it no longer
 * counts as a subscriber) without stalling; the evicted subscriber's calls
 * then return -EBADMSG, for good; the honest subscribers see every message
 * in order, intact, and the publisher never failed a reserve.
 * The publisher runs its door thread beside the caller: ThreadSanitizer runs it too.
 * ctest-labels: threads */
#include "testutil.h"

#define CAP 4096
#define WAIT (10000 * TU_MS)

enum garbage { AHEAD, BEHIND, MISALIGNED, ALL_ONES, N_GARBAGE };
static const char *const garbage_name[N_GARBAGE] = {"head far ahead", "head a ring behind", "head off the grid",
                                                    "head all ones"};

static const struct {
    enum garbage what;
    uint32_t policy;
} cases[] = {
    {AHEAD, ZIPC_SUB_BLOCK}, {AHEAD, ZIPC_SUB_MAX_LAG}, {BEHIND, ZIPC_SUB_BLOCK},
    {MISALIGNED, ZIPC_SUB_BLOCK}, {ALL_ONES, ZIPC_SUB_MAX_LAG},
};
#define N_CASES (int)(sizeof(cases) / sizeof(cases[0]))

struct shared {
    uint32_t stop;
    uint32_t honest_joined;
    uint32_t started;   /* the publisher counted the two honest ones: it streams */
    uint64_t total;
    uint64_t evicted, subscribers; /* the publisher's stats, refreshed as it streams */
    uint32_t scribbled; /* the hostile one wrote its garbage */
    uint32_t go_on;     /* the hostile one may call again: 1 evicted, 2 not */
    uint32_t reserve_failed;
};

static struct shared *sh;
static char name[TU_NAME_MAX];
static uint64_t seed;

static void publisher(void)
{
    zipc_publisher *p = NULL;
    if (!CHECK_OK(zipc_topic_create(&p, name, CAP, 0, NULL)))
        tu_child_exit();
    CHECK(tu_await_subscribers(p, 2, 20000));
    __atomic_store_n(&sh->started, 1, __ATOMIC_RELEASE);
    size_t max = zipc_publisher_max_message(p);
    uint64_t k = 0;
    struct zipc_publisher_stats st;
    while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
        int r = tu_publish_stream(p, seed, k, max, WAIT);
        if (!CHECK_HOT_OK(r)) {
            __atomic_store_n(&sh->reserve_failed, 1, __ATOMIC_RELEASE);
            break;
        }
        k++;
        if (k % 64 == 0 && zipc_publisher_get_stats(p, &st) == 0) {
            __atomic_store_n(&sh->evicted, st.evicted, __ATOMIC_RELEASE);
            __atomic_store_n(&sh->subscribers, st.subscribers, __ATOMIC_RELEASE);
        }
        if (k % 256 == 0)
            tu_sleep_us(50); /* the hostile ones get the CPU too */
    }
    if (CHECK_OK(zipc_publisher_get_stats(p, &st))) {
        CHECK_EQ(st.evicted, N_CASES);
        CHECK_EQ(st.subscribers, 2);
        CHECK_EQ(zipc_publisher_subscribers(p), 2);
    }
    __atomic_store_n(&sh->total, k, __ATOMIC_RELEASE);
    CHECK_OK(zipc_publisher_close(p));
    tu_child_exit();
}

static void honest(void)
{
    struct zipc_options o = tu_opts(WAIT);
    zipc_subscriber *sub = NULL;
    if (!CHECK_OK(zipc_topic_subscribe(&sub, name, NULL, &o)))
        tu_child_exit();
    __atomic_fetch_add(&sh->honest_joined, 1, __ATOMIC_SEQ_CST);
    struct tu_reader r;
    if (!tu_reader_init(&r, sub, ZIPC_SUB_BLOCK, seed))
        tu_child_exit();
    tu_reader_expect(&r, 0);
    CHECK_ERR(tu_reader_run(&r, WAIT), -EPIPE);
    uint64_t total = __atomic_load_n(&sh->total, __ATOMIC_ACQUIRE);
    CHECK_EQ(r.next, total);
    CHECK_EQ(r.delivered, total);
    tu_reader_free(&r);
    zipc_subscriber_close(sub);
    tu_child_exit();
}

static bool await_count(uint32_t *n, uint32_t want, int timeout_ms)
{
    for (int64_t end = tu_now_ns() + timeout_ms * TU_MS; __atomic_load_n(n, __ATOMIC_ACQUIRE) < want;)
        if (tu_now_ns() > end)
            return false;
        else
            tu_sleep_us(200);
    return true;
}

static bool await_flag(uint32_t *flag, int timeout_ms) { return await_count(flag, 1, timeout_ms); }

/* This process's cursor: the library's read-write mapping of it, or a new
 * one of its memfd. */
static struct zipc_topic_cursor *my_cursor(void)
{
    size_t len;
    uint8_t *seg = tu_find_segment_map(ZIPC_KIND_TOPIC_CURSOR, "rw-s", 0, &len);
    CHECK_MSG(!seg || !tu_find_segment_map(ZIPC_KIND_TOPIC_CURSOR, "rw-s", 1, &len), "two cursors mapped here");
    if (!seg) {
        int fd = tu_find_segment_fd(ZIPC_KIND_TOPIC_CURSOR, 0);
        if (!CHECK_MSG(fd >= 0, "no cursor segment found in /proc/self/maps nor among the fds"))
            return NULL;
        seg = mmap(NULL, ZIPC_TOPIC_PAGE_SEGMENT, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (!CHECK_MSG(seg != MAP_FAILED, "map the cursor read-write: %s", strerror(errno)))
            return NULL;
    }
    return (struct zipc_topic_cursor *)(seg + ZIPC_TOPIC_BODY_OFFSET);
}

static uint64_t garbage_head(enum garbage g, uint64_t head)
{
    switch (g) {
    case AHEAD: return head + (UINT64_C(1) << 40);
    case BEHIND: return head - 4 * CAP; /* it read more than 4 laps: a valid-looking boundary */
    case MISALIGNED: return head + 8;
    default: return UINT64_MAX;
    }
}

static void hostile(int c)
{
    /* MAX_LAG with a bound the ring can hold: lossless, its head read by the publisher */
    struct zipc_subscription s = tu_subscription(cases[c].policy, 0, cases[c].policy == ZIPC_SUB_MAX_LAG ? 16 : 0, 0);
    struct zipc_options o = tu_opts(WAIT);
    zipc_subscriber *sub = NULL;
    if (!CHECK_OK(zipc_topic_subscribe(&sub, name, &s, &o)))
        tu_child_exit();
    struct tu_reader r;
    if (!tu_reader_init(&r, sub, cases[c].policy, seed))
        tu_child_exit();
    while (r.delivered < 2000 && CHECK_HOT_OK(tu_reader_step(&r, WAIT))) {
    }
    struct zipc_topic_cursor *cur = my_cursor();
    if (cur) {
        uint64_t head = __atomic_load_n(&cur->side.position, __ATOMIC_ACQUIRE);
        CHECK_MSG(head > 4 * CAP && head % ZIPC_FRAME_ALIGN == 0, "own head %" PRIu64 " before the garbage", head);
        __atomic_store_n(&cur->side.position, garbage_head(cases[c].what, head), __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&sh->scribbled, 1, __ATOMIC_RELEASE);
    /* no call until the publisher evicted us: the library would rewrite the head */
    if (await_flag(&sh->go_on, 30000) && sh->go_on == 1) { /* 2: not evicted, reported by the parent */
        struct zipc_msg m;
        uint8_t buf[CAP];
        size_t size;
        uint32_t type;
        CHECK_ERR(zipc_subscriber_view(sub, &m, ZIPC_TRY), -EBADMSG);
        CHECK_ERR(zipc_subscriber_drain(sub, &m, 1, 100 * TU_MS), -EBADMSG);
        CHECK_ERR(zipc_subscriber_recv(sub, buf, sizeof(buf), &size, &type, ZIPC_TRY), -EBADMSG);
        CHECK_ERR(zipc_subscriber_view(sub, &m, ZIPC_FOREVER), -EBADMSG); /* for good, and at once */
    }
    tu_reader_free(&r);
    zipc_subscriber_close(sub);
    tu_child_exit();
}

int main(void)
{
    tu_init("test_hostile", 300);
    sh = tu_shared(sizeof(*sh));
    if (!sh)
        return tu_finish();
    tu_topic_name(name, "hostile");
    seed = tu_mix(tu_seed ^ 0x4057);
    pid_t good[2];
    for (int i = 0; i < 2; i++)
        if ((good[i] = tu_fork()) == 0)
            honest();
    pid_t pub = tu_fork();
    if (pub == 0)
        publisher(); /* it starts once the two honest ones joined, before any hostile one */
    CHECK(await_count(&sh->honest_joined, 2, 20000));
    /* it waits for exactly two: a hostile one joining before it counted them
     * would keep it waiting (and everyone else, for its messages) */
    CHECK(await_flag(&sh->started, 20000));
    for (int c = 0; c < N_CASES; c++) {
        uint64_t before = __atomic_load_n(&sh->evicted, __ATOMIC_ACQUIRE);
        __atomic_store_n(&sh->scribbled, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&sh->go_on, 0, __ATOMIC_RELEASE);
        pid_t h = tu_fork();
        if (h == 0)
            hostile(c);
        bool scribbled = CHECK_MSG(await_flag(&sh->scribbled, 30000), "case %d: the hostile one never wrote", c);
        int64_t t0 = tu_now_ns();
        bool evicted = false;
        while (scribbled && !(evicted = __atomic_load_n(&sh->evicted, __ATOMIC_ACQUIRE) > before) &&
               tu_ms_since(t0) < 15000 && !__atomic_load_n(&sh->reserve_failed, __ATOMIC_ACQUIRE))
            tu_sleep_us(200);
        CHECK_MSG(evicted, "%s (%s): not evicted within %.0f ms (evicted %" PRIu64 ")", garbage_name[cases[c].what],
                  tu_policy_name(cases[c].policy), tu_ms_since(t0), __atomic_load_n(&sh->evicted, __ATOMIC_ACQUIRE));
        printf("  %-18s %-11s %s after %.2f ms\n", garbage_name[cases[c].what], tu_policy_name(cases[c].policy),
               evicted ? "evicted" : "NOT evicted", tu_ms_since(t0));
        __atomic_store_n(&sh->go_on, evicted ? 1 : 2, __ATOMIC_RELEASE);
        CHECK_CHILD(h, 30000);
    }
    __atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
    CHECK_CHILD(pub, 60000);
    for (int i = 0; i < 2; i++)
        CHECK_CHILD(good[i], 60000);
    CHECK(!sh->reserve_failed);
    return tu_finish();
}

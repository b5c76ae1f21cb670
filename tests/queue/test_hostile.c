/* Queue: a hostile member writes garbage into the shared segment while
 * honest members work.
 *
 * Two honest producer processes stream N messages each (tu_msg_fill
 * content, the producer's id as the type); two honest consumer processes
 * drain, verify and release them out of order. A hostile process joins as
 * a producer, sends messages of its own, then, until the honest producers
 * are done, writes garbage through its own mapping of the segment (found in
 * /proc/self/maps: the memfd whose header says ZIPC_KIND_QUEUE; its layout
 * read from the control block as docs/ABI.md §12 lays it out); for its
 * first 300 ms only what passes for the truth (its released frames offered
 * again for redelivery, the flags and lines below), so that the consumers
 * keep taking from its lane, then anything:
 *   - its own lane: the claim and the reuse point (freed), the redeliver
 *     hint, frame marks and sizes in its ring, its claim words (some naming
 *     the honest consumers as holders);
 *   - the sleepers map;
 *   - every consumer line: sleeping and held;
 * and is then SIGKILLed.
 * Checked: no honest member crashes or hangs (each child runs under a
 * deadline and every call has a timeout); honest producers never fail;
 * every honest message is delivered exactly once, intact, in order per
 * producer; the consumers' calls return only what queue.h documents, and
 * -EBADMSG only when releasing a view of the hostile lane (a corrupt lane
 * is skipped); views of the hostile lane are no larger than max_message.
 * Printed, not asserted (a hostile member can withhold them: see the
 * notes printed): whether the end of the stream came, and how often a
 * consumer's wait timed out while messages were waiting (a wake-up lost
 * to the garbage in the sleep flags).
 * First, in this process: a consumer waiting (5 s, then ZIPC_FOREVER) while
 * a thread keeps clearing its wake-up flags still sees a message committed
 * 50 ms later within a second.
 * ctest-labels: threads */
#include "testutil.h"

#include <sys/mman.h>

#define PRODUCERS 2
#define CONSUMERS 2
#define MAX_N 40000
#define LANE (64 * 1024)
#define TU_S (1000 * TU_MS)
#define WAIT_NS (200 * TU_MS)   /* a consumer's wait for messages */
#define HOSTILE_TYPE 0xbadu

struct board {
    uint32_t lane_of[PRODUCERS];
    uint32_t lane_known[PRODUCERS];
    uint32_t hostile_lane;       /* QP (none) until the hostile producer joined */
    uint32_t consumer_slot[CONSUMERS];
    uint32_t producers_done;
    uint32_t hostile_writes;     /* garbage writes made */
    uint32_t hostile_found_segment;
    uint64_t seen_total;
    uint32_t seen[PRODUCERS][MAX_N];
    /* per consumer */
    uint64_t hostile_views[CONSUMERS], hostile_again[CONSUMERS], hostile_bad_release[CONSUMERS];
    uint64_t stalls[CONSUMERS];  /* waits that timed out while honest messages waited, untaken */
    uint32_t eos[CONSUMERS];
    uint64_t sent_total;         /* honest messages committed */
};

static struct board *b;
static char name[TU_NAME_MAX];
static uint64_t seed;
static long n_per;

static size_t msg_size(uint64_t s, uint64_t k) { return 16 + tu_msg_size(s, k, 2000); }

/* ---- honest producers ------------------------------------------------------ */

static void producer(int id)
{
    struct zipc_options o = tu_opts(10 * TU_S);
    struct zipc_queue_config cfg = {.lane_capacity = LANE};
    zipc_queue *q = NULL;
    if (!CHECK_OK(zipc_queue_open(&q, name, ZIPC_ROLE_PRODUCER, &cfg, &o)))
        tu_child_exit();
    b->lane_of[id] = (uint32_t)zipc_queue_slot(q);
    __atomic_store_n(&b->lane_known[id], 1, __ATOMIC_RELEASE);
    uint64_t s = seed + (uint64_t)id;
    for (long k = 0; k < n_per; k++) {
        void *buf;
        size_t sz = msg_size(s, (uint64_t)k);
        if (!CHECK_HOT_OK(zipc_queue_reserve(q, sz, &buf, 10 * TU_S)))
            break;
        tu_msg_fill(buf, sz, s, (uint64_t)k);
        if (!CHECK_HOT_OK(zipc_queue_commit(q, sz, (uint32_t)id, (k & 3) == 1 ? ZIPC_COMMIT_MORE : 0)))
            break;
        if ((k & 3) != 1) /* published: this one, and the one staged before it */
            __atomic_fetch_add(&b->sent_total, (k & 3) == 2 ? 2 : 1, __ATOMIC_RELAXED);
        if (k % 32 == 31)
            tu_sleep_us(100); /* the consumers catch up and sleep: commits must wake them */
    }
    CHECK_OK(zipc_queue_flush(q));
    zipc_queue_close(q);
    __atomic_fetch_add(&b->producers_done, 1, __ATOMIC_SEQ_CST);
    tu_child_exit();
}

/* ---- honest consumers ------------------------------------------------------ */

static bool lane_is(int id, uint32_t lane)
{
    return __atomic_load_n(&b->lane_known[id], __ATOMIC_ACQUIRE) && b->lane_of[id] == lane;
}

/* Is `lane` an honest producer's, and which one wrote message m? Both
 * producers may have had the same lane: one that starts late (a loaded
 * machine) takes over the lane the other left when it closed. Its type
 * says which (-1: none of this lane's). */
static bool honest_lane(uint32_t lane, const struct zipc_msg *m, int *id)
{
    bool honest = false;
    *id = -1;
    for (int i = 0; i < PRODUCERS; i++)
        if (lane_is(i, lane)) {
            honest = true;
            if (m->type == (uint32_t)i)
                *id = i;
        }
    return honest;
}

/* One message: an honest one is verified and counted (true: the caller
 * releases it), a hostile one bounded and released at once. */
static bool take(zipc_queue *q, int me, const struct zipc_msg *m, uint64_t last[PRODUCERS])
{
    int id;
    uint32_t lane = zipc_queue_msg_producer(m);
    bool honest = honest_lane(lane, m, &id) && lane != __atomic_load_n(&b->hostile_lane, __ATOMIC_ACQUIRE);
    if (!honest) {
        b->hostile_views[me]++;
        b->hostile_again[me] += zipc_queue_msg_attempt(m) > 1;
        CHECK_HOT(m->size <= zipc_queue_max_message(q) && zipc_queue_msg_attempt(m) >= 1);
        int r = zipc_queue_release_view(q, m);
        CHECK_HOT(r == 0 || r == -EBADMSG);
        b->hostile_bad_release[me] += r == -EBADMSG;
        return false;
    }
    uint64_t s = seed + (uint64_t)id, k = UINT64_MAX;
    if (m->size >= 8)
        memcpy(&k, m->data, 8);
    int why = k < (uint64_t)n_per ? tu_msg_verify(m->data, m->size, tu_msg_type(s, k), s, k, msg_size(s, k))
                                  : TU_BAD_SEQ;
    bool ok = why == TU_MSG_OK && m->type == (uint32_t)id && zipc_queue_msg_attempt(m) == 1;
    if (!ok) { /* a plain CHECK_HOT would not say which: the CI digest shows only this line */
        tu_check_(false, __FILE__, __LINE__,
                  "consumer %d: message %" PRIu64 " of producer %d (lane %u, seq %" PRIu64
                  ", size %u): %s, type %u, attempt %u (ZIPC_TEST_SEED=%" PRIu64 ")",
                  me, k, id, lane, m->seq, m->size, tu_msg_why(why), m->type, zipc_queue_msg_attempt(m), seed);
        return true;
    }
    CHECK_HOT(last[id] == UINT64_MAX || k > last[id]); /* FIFO per producer */
    last[id] = k;
    __atomic_fetch_add(&b->seen[id][k], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&b->seen_total, 1, __ATOMIC_SEQ_CST);
    return true;
}

static void consumer(int me)
{
    struct zipc_options o = tu_opts(10 * TU_S);
    o.flags |= ZIPC_OPT_NO_SPIN; /* sleep at once: every message must wake it (through the garbled flags) */
    zipc_queue *q = NULL;
    if (!CHECK_OK(zipc_queue_open(&q, name, ZIPC_ROLE_CONSUMER, NULL, &o)))
        tu_child_exit();
    b->consumer_slot[me] = (uint32_t)zipc_queue_slot(q);
    uint64_t last[PRODUCERS] = {UINT64_MAX, UINT64_MAX}, want = (uint64_t)n_per * PRODUCERS;
    int64_t deadline = tu_now_ns() + (int64_t)(60 * tu_slack()) * TU_S, linger = 0;
    struct zipc_msg ms[16];
    for (;;) {
        uint64_t seen = __atomic_load_n(&b->seen_total, __ATOMIC_SEQ_CST);
        if (seen == want && !linger) /* all there: look a while longer for duplicates and the end */
            linger = tu_now_ns() + 2 * TU_S;
        if (linger && tu_now_ns() > linger)
            break;
        if (!CHECK_MSG(tu_now_ns() < deadline, "consumer %d: %" PRIu64 " of %" PRIu64 " honest messages seen in time",
                       me, seen, want))
            break;
        uint64_t seen0 = __atomic_load_n(&b->seen_total, __ATOMIC_SEQ_CST);
        int n = zipc_queue_drain(q, ms, 16, WAIT_NS);
        if (n == -EPIPE) {
            b->eos[me] = 1;
            if (seen == want)
                break;
            tu_sleep_us(10000); /* the end while honest messages are missing: the check above says so */
            continue;
        }
        if (n == -ETIMEDOUT) { /* nobody took anything while messages were there: a lost wake-up */
            uint64_t now_seen = __atomic_load_n(&b->seen_total, __ATOMIC_SEQ_CST);
            if (now_seen == seen0 && __atomic_load_n(&b->sent_total, __ATOMIC_RELAXED) > now_seen)
                b->stalls[me]++;
            continue;
        }
        if (!CHECK_MSG(n > 0, "consumer %d: drain: %s", me, zipc_err_name(n)))
            break;
        bool keep[16];
        for (int i = 0; i < n; i++)
            keep[i] = take(q, me, &ms[i], last);
        for (int i = n; i-- > 0;) /* honest views back, newest first */
            if (keep[i])
                CHECK_HOT_OK(zipc_queue_release_view(q, &ms[i]));
    }
    zipc_queue_close(q);
    tu_child_exit();
}

/* ---- the hostile member ------------------------------------------------------ */

/* The segment as this process mapped it: the memfd mapping whose header is a queue's. */
static uint8_t *find_segment(uint64_t *size)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    uint8_t *found = NULL;
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char prot[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, prot) != 3 || strcmp(prot, "rw-s") || !strstr(line, "memfd:"))
            continue;
        const struct zipc_segment_header *h = (const void *)lo;
        if (h->magic == ZIPC_SEGMENT_MAGIC && h->kind == ZIPC_KIND_QUEUE && h->segment_size <= hi - lo) {
            found = (uint8_t *)lo;
            *size = h->segment_size;
        }
    }
    if (f)
        fclose(f);
    return found;
}

struct seg {
    uint8_t *base;
    struct zipc_queue_ctl *ctl;
    struct zipc_queue_consumer *cons;
    struct zipc_queue_lane *lane;
    uint64_t *log;
    uint8_t *ring;
    uint64_t ring_size, log_size;
};

static void wr32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static void wr64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

/* One garbage write. While `plausible`, only what the consumers cannot tell
 * from the truth (they keep coming to the lane): frames taken and released
 * offered again for redelivery, and the sleep flags and consumer lines;
 * after that, anything. */
static void garble(struct seg *s, uint64_t *rs, bool plausible)
{
    uint64_t r = tu_rand(rs), v = tu_rand(rs);
    uint32_t claim_seq = (uint32_t)(__atomic_load_n(&s->lane->claim, __ATOMIC_RELAXED) >> 32);
    uint32_t seq = claim_seq + (uint32_t)(r >> 8) % 16 - 4;
    uint64_t off = (v % s->ring_size) & ~(uint64_t)(ZIPC_FRAME_ALIGN - 1);
    if (plausible && r % 9 < 5) {
        uint32_t old = claim_seq - 1 - (uint32_t)(v % 4); /* taken, likely released, likely not reused */
        uint64_t w = __atomic_load_n(&s->log[old % s->log_size], __ATOMIC_RELAXED);
        if (ZIPC_QCLAIM_TAG(w) == old && ZIPC_QCLAIM_STATE(w) == ZIPC_QCLAIM_RELEASED) {
            wr64(&s->log[old % s->log_size], (w & ~(UINT64_C(3) << 32)) | (uint64_t)ZIPC_QCLAIM_REDELIVER << 32);
            wr32(&s->lane->redeliver, 1);
        }
        __atomic_fetch_add(&b->hostile_writes, 1, __ATOMIC_RELAXED);
        return;
    }
    switch (r % 9) {
    case 0: wr64(&s->lane->claim, r & 1 ? v : ZIPC_QPOS(seq, off)); break;
    case 1: wr64(&s->lane->freed, r & 1 ? v : ZIPC_QPOS(seq, off)); break;
    case 2: wr32(&s->lane->redeliver, (uint32_t)v % 8); break;
    case 3: { /* a claim word: random, or naming an honest consumer, or to be redelivered */
        uint32_t c = b->consumer_slot[(r >> 4) & 1];
        uint64_t w = r & 2 ? v : ZIPC_QCLAIM(seq, 1 + (r >> 5) % 2, 1 + (v & 7), c, v >> 48);
        wr64(&s->log[(r & 4 ? seq : (uint32_t)v) % s->log_size], w);
        break;
    }
    case 4: { /* a frame header in the ring */
        struct zipc_frame *f = (void *)(s->ring + off);
        if (r & 1)
            wr32(&f->size, (uint32_t)(v >> 32) % (uint32_t)(s->ring_size * 2));
        wr64(&f->mark, r & 2 ? v : ZIPC_FRAME_MARK(seq, r & 4 ? ZIPC_FRAME_PAD : ZIPC_FRAME_MSG));
        break;
    }
    case 5: wr32(&s->ctl->sleepers, r & 1 ? (uint32_t)v : r & 2 ? 0 : UINT32_MAX); break;
    case 6: wr32(&s->cons[(v >> 8) % ZIPC_QUEUE_MAX_CONSUMERS].sleeping, (uint32_t)v & 1); break;
    case 7: wr32(&s->cons[(v >> 8) % ZIPC_QUEUE_MAX_CONSUMERS].held, (uint32_t)v % 5); break;
    default: wr32(&s->cons[b->consumer_slot[v & 1]].sleeping, 0); break; /* an honest sleeper's flag */
    }
    __atomic_fetch_add(&b->hostile_writes, 1, __ATOMIC_RELAXED);
}

static void hostile(void)
{
    struct zipc_options o = tu_opts(10 * TU_S);
    zipc_queue *q = NULL;
    if (!CHECK_OK(zipc_queue_open(&q, name, ZIPC_ROLE_PRODUCER, NULL, &o)))
        tu_child_exit();
    uint32_t lane = (uint32_t)zipc_queue_slot(q);
    __atomic_store_n(&b->hostile_lane, lane, __ATOMIC_RELEASE);
    uint64_t size = 0;
    uint8_t *base = find_segment(&size);
    if (!CHECK_MSG(base, "the hostile member found no queue segment in /proc/self/maps"))
        tu_child_exit();
    b->hostile_found_segment = 1;
    struct seg s = {.base = base, .ctl = (void *)(base + ZIPC_QUEUE_BODY_OFFSET),
                    .cons = (void *)(base + ZIPC_QUEUE_CONSUMERS_OFFSET)};
    uint64_t lane_offset = s.ctl->lane_offset, stride = s.ctl->lane_stride, ring_offset = s.ctl->ring_offset;
    s.ring_size = s.ctl->ring_size;
    s.log_size = s.ctl->log_size;
    CHECK(lane_offset + (lane + 1) * stride <= size && ring_offset + s.ring_size <= stride);
    uint8_t *l = base + lane_offset + lane * stride;
    s.lane = (void *)l;
    s.log = (void *)(l + ZIPC_QUEUE_LOG_OFFSET);
    s.ring = l + ring_offset;
    uint64_t rs = seed ^ 0x4057113;
    char junk[64] = "hostile";
    int64_t plausible_until = tu_now_ns() + 300 * TU_MS;
    for (unsigned i = 0; __atomic_load_n(&b->producers_done, __ATOMIC_SEQ_CST) < PRODUCERS; i++) {
        if (i % 8 == 0) /* its own messages, for the consumers to come to its lane */
            zipc_queue_send(q, junk, 1 + i % sizeof(junk), HOSTILE_TYPE, 0);
        garble(&s, &rs, tu_now_ns() < plausible_until);
        if (i % 16 == 0)
            sched_yield();
    }
    pause(); /* killed */
    tu_child_exit();
}

/* ---- a wake-up withheld ------------------------------------------------------ */

struct clearer {
    struct seg s;
    uint32_t slot;
    int stop;
};

/* What a hostile member can do to a sleeping consumer: clear the flags that
 * tell a committing producer to wake it, over and over. */
static void *clear_flags(void *arg)
{
    struct clearer *c = arg;
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
        wr32(&c->s.ctl->sleepers, 0);
        wr32(&c->s.cons[c->slot].sleeping, 0);
    }
    return NULL;
}

struct later {
    zipc_queue *p;
    int64_t delay_ns;
};

static void *send_later(void *arg)
{
    struct later *l = arg;
    tu_sleep_us((long)(l->delay_ns / 1000));
    CHECK_OK(zipc_queue_send(l->p, "late", 4, 0, 0));
    return NULL;
}

/* A consumer waiting with a long timeout while a thread keeps its wake-up
 * flags cleared still sees a message committed meanwhile soon after (it
 * looks again every 100 ms: src/queue.h QUEUE_RECHECK_NS), not at its
 * timeout; the same for ZIPC_FOREVER, which would otherwise never return. */
static void lost_wakeup(void)
{
    char qname[TU_NAME_MAX];
    tu_topic_name(qname, "qw");
    struct zipc_options o = tu_opts(10 * TU_S);
    o.flags |= ZIPC_OPT_NO_SPIN;
    zipc_queue *p = NULL, *c = NULL;
    if (!CHECK_OK(zipc_queue_open(&p, qname, ZIPC_ROLE_PRODUCER, NULL, &o)) ||
        !CHECK_OK(zipc_queue_open(&c, qname, ZIPC_ROLE_CONSUMER, NULL, &o)))
        goto out;
    uint64_t size = 0;
    uint8_t *base = find_segment(&size);
    if (!CHECK_MSG(base, "no queue segment in /proc/self/maps"))
        goto out;
    struct clearer cl = {.s = {.ctl = (void *)(base + ZIPC_QUEUE_BODY_OFFSET),
                               .cons = (void *)(base + ZIPC_QUEUE_CONSUMERS_OFFSET)},
                         .slot = (uint32_t)zipc_queue_slot(c)};
    pthread_t t;
    if (!CHECK(pthread_create(&t, NULL, clear_flags, &cl) == 0))
        goto out;
    for (int i = 0; i < 3; i++) {
        struct later l = {.p = p, .delay_ns = 50 * TU_MS};
        pthread_t s;
        struct zipc_msg m;
        CHECK(pthread_create(&s, NULL, send_later, &l) == 0);
        int64_t t0 = tu_now_ns();
        int r = zipc_queue_view(c, &m, i == 2 ? ZIPC_FOREVER : 5 * TU_S);
        double ms = tu_ms_since(t0);
        CHECK_MSG(r == 0 && ms < 1000 * tu_slack(), "view with its wake-ups cleared: %s after %.0f ms",
                  zipc_err_name(r), ms);
        if (r == 0)
            CHECK_OK(zipc_queue_release_view(c, &m));
        pthread_join(s, NULL);
    }
    __atomic_store_n(&cl.stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
out:
    zipc_queue_close(c);
    zipc_queue_close(p);
}

int main(void)
{
    tu_init("queue_hostile", 300);
    seed = tu_seed;
    n_per = tu_scaled(20000, 1000);
    if (n_per > MAX_N)
        n_per = MAX_N;
    tu_topic_name(name, "qh");
    lost_wakeup();
    b = tu_shared(sizeof(*b));
    if (!b)
        return tu_finish();
    b->hostile_lane = ZIPC_QUEUE_MAX_PRODUCERS;
    for (int i = 0; i < CONSUMERS; i++)
        b->consumer_slot[i] = ZIPC_QUEUE_MAX_CONSUMERS - 1;
    pid_t cons[CONSUMERS], prods[PRODUCERS], bad;
    /* consumers first (the first creates the queue), then the hostile one, then the producers */
    for (int i = 0; i < CONSUMERS; i++)
        if ((cons[i] = tu_fork()) == 0)
            consumer(i);
    tu_sleep_us(50000);
    if ((bad = tu_fork()) == 0)
        hostile();
    for (int64_t end = tu_now_ns() + 10 * TU_S; !__atomic_load_n(&b->hostile_found_segment, __ATOMIC_ACQUIRE) &&
                                                tu_now_ns() < end;)
        tu_sleep_us(1000); /* the hostile member is in before the honest producers */
    for (int i = 0; i < PRODUCERS; i++)
        if ((prods[i] = tu_fork()) == 0)
            producer(i);
    int limit = (int)(90000 * tu_slack());
    for (int i = 0; i < PRODUCERS; i++)
        CHECK_CHILD(prods[i], limit);
    printf("hostile member: %u garbage writes; killed\n", __atomic_load_n(&b->hostile_writes, __ATOMIC_RELAXED));
    tu_kill_reap(bad);
    for (int i = 0; i < CONSUMERS; i++)
        CHECK_CHILD(cons[i], limit);
    long missing = 0, twice = 0;
    for (int p = 0; p < PRODUCERS; p++)
        for (long k = 0; k < n_per; k++) {
            missing += b->seen[p][k] == 0;
            twice += b->seen[p][k] > 1;
        }
    CHECK_MSG(missing == 0 && twice == 0, "honest messages: %ld missing, %ld twice of %ld", missing, twice,
              n_per * PRODUCERS);
    CHECK_MSG(b->hostile_writes > 0, "the hostile member wrote nothing");
    for (int i = 0; i < CONSUMERS; i++)
        printf("consumer %d: %" PRIu64 " views of the hostile lane (%" PRIu64 " offered again, %" PRIu64
               " releases -EBADMSG), %" PRIu64 " waits timed out with messages waiting, end of stream %s\n",
               i, b->hostile_views[i], b->hostile_again[i], b->hostile_bad_release[i], b->stalls[i],
               b->eos[i] ? "seen" : "not seen");
    if (!b->eos[0] || !b->eos[1])
        printf("note: garbage in a consumer line's held count withholds the end of the stream (queue.h: a "
               "hostile member)\n");
    munmap(b, sizeof(*b));
    return tu_finish();
}

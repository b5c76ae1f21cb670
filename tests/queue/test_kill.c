/* Queue under fire: 4 producer and 4 consumer processes, messages of 1 B to
 * 1 MiB, while the test SIGKILLs a random member at a random instant (after
 * a reserve, mid-write, mid-claim, with views held: members linger at those
 * points on purpose) and starts a replacement, hundreds of times. Then the
 * producers finish and every consumer must see the end of the stream once.
 *   at-least-once: every committed message delivered; more than once only
 *     as a redelivery (attempt > 1) of a message a killed consumer held.
 *   at-most-once: no message twice; missing ones only as many as killed
 *     consumers could hold.
 *   both: no torn message, no hang (every wait is bounded), nothing left
 *     behind (no socket name of the queue once all are gone).
 * ctest-serial */
#include "testutil.h"

#define NP 4
#define NC 4
#define KMAX (1 << 17)     /* messages per producer, at most */
#define MAXVIEWS 8         /* views a consumer holds at once, at most */
#define LANE (4u << 20)
#define BIG (1u << 20)
#define TU_S (1000 * TU_MS)

struct board {
    uint32_t next_k[NP];           /* the next message number of producer p (any incarnation) */
    uint8_t committed[NP][KMAX];   /* published, as its producer saw commit/flush return */
    uint32_t seen[NP][KMAX];       /* deliveries, + 1 << 16 for each with attempt 1 (one atomic add) */
    uint32_t torn, unexpected, early_eos, eos[NC], stop, ks_full, producer_up[NP], consumer_up[NC];
    char errs[NC + NP][64];
};

static uint64_t seed;

static size_t msg_size(uint32_t p, uint32_t k)
{
    uint64_t h = tu_mix(seed ^ ((uint64_t)p << 40) ^ k);
    if (h % 256 == 0)
        return 1 + (size_t)(h >> 20) % BIG; /* now and then up to 1 MiB */
    return 1 + (size_t)(h >> 20) % 300;
}

static uint8_t msg_byte(uint32_t p, uint32_t k, size_t i)
{
    return (uint8_t)(tu_mix(seed ^ ((uint64_t)p << 40) ^ k) >> (8 * (i % 7))) ^ (uint8_t)(i * 131);
}

static uint32_t msg_type(uint32_t p, uint32_t k) { return p << 24 | k; }

static void fill(uint8_t *b, uint32_t p, uint32_t k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = msg_byte(p, k, i);
}

static bool intact(const struct zipc_msg *m, uint32_t p, uint32_t k)
{
    if (m->size != msg_size(p, k))
        return false;
    const uint8_t *b = m->data;
    for (size_t i = 0; i < m->size; i++)
        if (b[i] != msg_byte(p, k, i))
            return false;
    return true;
}

static void linger(uint64_t *rng, unsigned one_in)
{
    if (tu_below(rng, one_in) == 0)
        tu_sleep_us((long)tu_below(rng, 2000));
}

static void note(struct board *b, int who, const char *what, int err)
{
    snprintf(b->errs[who], sizeof(b->errs[who]), "%s: %s", what, zipc_err_name(err));
}

static void producer(const char *name, struct board *b, uint32_t p, const struct zipc_queue_config *cfg)
{
    uint64_t rng = seed ^ tu_mix((uint64_t)getpid());
    struct zipc_options o = tu_opts(10 * TU_S);
    zipc_queue *q = NULL;
    int err = zipc_queue_open(&q, name, ZIPC_ROLE_PRODUCER, cfg, &o);
    if (err) {
        note(b, NC + (int)p, "open", err);
        _exit(1);
    }
    __atomic_store_n(&b->producer_up[p], 1, __ATOMIC_RELEASE);
    uint32_t batch[4], nb = 0;
    while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
        uint32_t k = b->next_k[p];
        if (k >= KMAX) {
            b->ks_full = 1;
            break;
        }
        b->next_k[p] = k + 1; /* before the reserve: a killed producer never reuses a number */
        size_t n = msg_size(p, k);
        void *buf;
        while ((err = zipc_queue_reserve(q, n, &buf, 100 * TU_MS)) == -ETIMEDOUT &&
               !__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
        }
        if (err) {
            if (err != -ETIMEDOUT)
                note(b, NC + (int)p, "reserve", err);
            break;
        }
        linger(&rng, 64); /* killed after reserve */
        fill(buf, p, k, n / 2);
        linger(&rng, 64); /* killed mid-write */
        fill(buf, p, k, n);
        bool more = nb < 3 && tu_below(&rng, 4) == 0;
        if ((err = zipc_queue_commit(q, n, msg_type(p, k), more ? ZIPC_COMMIT_MORE : 0))) {
            note(b, NC + (int)p, "commit", err);
            _exit(1);
        }
        batch[nb++] = k;
        if (!more) { /* published now, with the staged ones before it */
            for (uint32_t i = 0; i < nb; i++)
                b->committed[p][batch[i]] = 1;
            nb = 0;
        }
    }
    zipc_queue_close(q); /* publishes what was staged */
    for (uint32_t i = 0; i < nb; i++)
        b->committed[p][batch[i]] = 1;
    _exit(0);
}

static void consumer(const char *name, struct board *b, uint32_t c, const struct zipc_queue_config *cfg)
{
    uint64_t rng = seed ^ tu_mix((uint64_t)getpid() << 1);
    struct zipc_options o = tu_opts(10 * TU_S);
    zipc_queue *q = NULL;
    int err = zipc_queue_open(&q, name, ZIPC_ROLE_CONSUMER, cfg, &o); /* whoever comes first creates it */
    if (err) {
        note(b, (int)c, "open", err);
        _exit(1);
    }
    __atomic_store_n(&b->consumer_up[c], 1, __ATOMIC_RELEASE);
    struct zipc_msg ms[MAXVIEWS];
    int64_t end_by = 0;
    for (;;) {
        int n = zipc_queue_drain(q, ms, 1 + (unsigned)tu_below(&rng, MAXVIEWS), 100 * TU_MS);
        if (n == -EPIPE) {
            if (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE))
                __atomic_fetch_add(&b->early_eos, 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&b->eos[c], 1, __ATOMIC_RELAXED);
            /* the end stays the end */
            if (zipc_queue_view(q, &ms[0], 0) != -EPIPE)
                __atomic_fetch_add(&b->unexpected, 1, __ATOMIC_RELAXED);
            break;
        }
        if (n == -ETIMEDOUT) {
            if (__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
                if (!end_by)
                    end_by = tu_now_ns() + 30 * TU_S;
                else if (tu_now_ns() > end_by) {
                    note(b, (int)c, "no end of stream in 30 s", n);
                    _exit(1);
                }
            }
            continue;
        }
        if (n < 0) {
            note(b, (int)c, "drain", n);
            _exit(1);
        }
        for (int i = 0; i < n; i++) {
            uint32_t p = ms[i].type >> 24, k = ms[i].type & 0xffffff;
            if (p >= NP || k >= KMAX || !intact(&ms[i], p, k)) {
                __atomic_fetch_add(&b->torn, 1, __ATOMIC_RELAXED);
                continue;
            }
            uint32_t add = 1 + (zipc_queue_msg_attempt(&ms[i]) == 1 ? 1u << 16 : 0);
            __atomic_fetch_add(&b->seen[p][k], add, __ATOMIC_RELAXED);
        }
        linger(&rng, 32); /* killed with views held */
        for (int i = 0; i < n; i++) { /* released in a shuffled order */
            int j = i + (int)tu_below(&rng, (uint64_t)(n - i));
            struct zipc_msg t = ms[i];
            ms[i] = ms[j];
            ms[j] = t;
            if ((err = zipc_queue_release_view(q, &ms[i]))) {
                note(b, (int)c, "release", err);
                _exit(1);
            }
        }
    }
    zipc_queue_close(q);
    _exit(0);
}

static pid_t start(const char *name, struct board *b, int who, const struct zipc_queue_config *cfg)
{
    pid_t pid = tu_fork();
    if (pid == 0) {
        if (who < NC)
            consumer(name, b, (uint32_t)who, cfg);
        producer(name, b, (uint32_t)(who - NC), cfg);
    }
    return pid;
}

/* No "<name>#..." socket left in the kernel's table. */
static bool names_gone(const char *name)
{
    char want[128], line[512];
    snprintf(want, sizeof(want), "@zipc/%u/%s#", (unsigned)geteuid(), name);
    FILE *f = fopen("/proc/net/unix", "r");
    if (!f)
        return true;
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, want) != NULL;
    fclose(f);
    return !found;
}

/* Another producer than p has attached and is not killed since: the slow
 * starts of replacements (sanitizers) could otherwise leave none, and a queue
 * whose producers are all gone has ended. */
static bool other_producer_up(struct board *b, int p)
{
    for (int i = 0; i < NP; i++)
        if (i != p && __atomic_load_n(&b->producer_up[i], __ATOMIC_ACQUIRE))
            return true;
    return false;
}

static bool everyone_up(struct board *b)
{
    for (int i = 0; i < NP; i++)
        if (!__atomic_load_n(&b->producer_up[i], __ATOMIC_ACQUIRE))
            return false;
    for (int i = 0; i < NC; i++)
        if (!__atomic_load_n(&b->consumer_up[i], __ATOMIC_ACQUIRE))
            return false;
    return true;
}

static void run(bool at_most_once, long kills)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, at_most_once ? "qkill-amo" : "qkill-alo");
    struct board *b = tu_shared(sizeof(*b));
    if (!b)
        return;
    struct zipc_queue_config cfg = {.lane_capacity = LANE, .flags = at_most_once ? ZIPC_QUEUE_AT_MOST_ONCE : 0};
    pid_t kids[NC + NP];
    for (int i = 0; i < NC + NP; i++)
        kids[i] = start(name, b, i, &cfg);
    uint64_t rng = seed ^ (at_most_once ? 77 : 78);
    long consumer_kills = 0;
    for (long t = 0; t < kills && !b->ks_full; t++) {
        tu_sleep_us((long)tu_below(&rng, 6000));
        int v = (int)tu_below(&rng, NC + NP);
        if (v >= NC && !other_producer_up(b, v - NC)) {
            t--; /* the last producer in: its death would end the stream, as designed */
            continue;
        }
        kill(kids[v], SIGKILL);
        tu_wait(kids[v], 10000);
        __atomic_store_n(v >= NC ? &b->producer_up[v - NC] : &b->consumer_up[v], 0, __ATOMIC_RELEASE);
        consumer_kills += v < NC;
        kids[v] = start(name, b, v, &cfg);
    }
    /* the last replacements attached before the end: one that came after
     * everyone else had left would find no queue and make a new one, which
     * no producer ever joins (no end of stream: the queue ended before it) */
    for (int64_t until = tu_now_ns() + 30 * TU_S; !everyone_up(b) && tu_now_ns() < until;)
        tu_sleep_us(1000);
    __atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
    for (int i = NC; i < NC + NP; i++)
        CHECK_CHILD(kids[i], 60000);
    for (int i = 0; i < NC; i++)
        CHECK_CHILD(kids[i], 60000);
    for (int i = 0; i < NC + NP; i++)
        CHECK_MSG(!b->errs[i][0], "member %d: %s", i, b->errs[i]);
    long committed = 0, delivered = 0, missing = 0, dup_first = 0, twice = 0, redelivered = 0;
    for (int p = 0; p < NP; p++)
        for (uint32_t k = 0; k < b->next_k[p] && k < KMAX; k++) {
            uint32_t count = b->seen[p][k] & 0xffff, first = b->seen[p][k] >> 16;
            committed += b->committed[p][k];
            delivered += count > 0;
            missing += b->committed[p][k] && !count;
            dup_first += first > 1;
            twice += count > 1;
            redelivered += count > first;
        }
    printf("  %s: %ld kills (%ld consumers), %ld committed, %ld delivered, %ld redelivered, %ld twice, %ld "
           "missing\n",
           at_most_once ? "at-most-once" : "at-least-once", kills, consumer_kills, committed, delivered,
           redelivered, twice, missing);
    CHECK_MSG(b->torn == 0, "%u torn messages", b->torn);
    CHECK_MSG(b->early_eos == 0 && b->unexpected == 0, "%u early ends, %u calls after the end not -EPIPE",
              b->early_eos, b->unexpected);
    for (int c = 0; c < NC; c++)
        CHECK_MSG(b->eos[c] == 1, "consumer %d saw the end of the stream %u times", c, b->eos[c]);
    CHECK_MSG(dup_first == 0, "%ld messages delivered twice as first attempts", dup_first);
    if (at_most_once) {
        CHECK_MSG(twice == 0, "%ld messages delivered twice at-most-once", twice);
        CHECK_MSG(missing <= consumer_kills * MAXVIEWS, "%ld committed messages lost, more than %ld killed consumers held",
                  missing, consumer_kills);
    } else {
        CHECK_MSG(missing == 0, "%ld committed messages never delivered", missing);
    }
    CHECK_MSG(committed > kills, "too little traffic to judge: %ld committed", committed);
    CHECK_MSG(names_gone(name), "a socket name of the queue is left behind");
    munmap(b, sizeof(*b));
}

int main(void)
{
    tu_init("queue_kill", 600);
    seed = tu_seed;
    long kills = tu_scaled(500, 40);
    run(false, kills);
    run(true, kills);
    return tu_finish();
}

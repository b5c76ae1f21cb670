/* zipc bench: the queue rows. P producer and C consumer processes (all
 * forked: the measuring process starts them, opens the window and checks
 * the result) on one queue:
 *   each producer commits messages one at a time (reserve, copy from a
 *   source buffer stamped with its sequence number in the first and last 8
 *   bytes, commit; type = the producer's number) for the warm-up and the
 *   row's time (as the channel's streaming rows: the same seconds), then
 *   closes;
 *   each consumer views one message at a time until the end of the stream
 *   (-EPIPE), verifies it in place (size, type, both stamps, the checksum of
 *   every 8-byte word, FIFO per producer, attempt 1) and releases it; it
 *   marks the message in a bitmap of its own, and the measuring process then
 *   checks that every message sent was taken exactly once (no bit set by two
 *   consumers, every bit of every producer's count set);
 * as the channel's streaming row (stream.c) does one message at a time.
 * The window: from the start (every member open, then "go") + the warm-up
 * to the last consumer's end of stream; the rate is every message taken in
 * it / its length. Placement: each process on a CPU of its own when there
 * are enough, else the consumers share the measuring CPU and the producers
 * the peer CPU; the row says how many processes share how many CPUs. */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "transport.h"

#define QUEUE_MAX_SIDE 8 /* producers, consumers */

/* One member's report, in shared memory. */
struct q_report {
    _Alignas(64) atomic_int state; /* Q_* */
    int32_t err;
    uint64_t sent;                 /* producer: messages committed */
    uint64_t received;             /* consumer: all */
    uint64_t at_t0;                /* consumer: received before the window opened */
    int64_t t_end;                 /* consumer: its end of the stream */
    long long sleeps;
    char error[192];
};
enum { Q_STARTING, Q_READY, Q_DONE };

/* What every process shares: written by the parent before fork, then the
 * reports, the start and the bitmaps. */
struct q_shared {
    _Alignas(64) atomic_int go;
    int64_t start_ns;              /* written before go */
    struct q_report rep[2 * QUEUE_MAX_SIDE]; /* producers, then consumers */
};

struct q_plan {
    char name[64];
    size_t size, lane;
    unsigned producers, consumers;
    uint64_t cap;                  /* most messages per producer (the bitmaps' size) */
    int64_t warm_ns, run_ns;
    uint64_t base;                 /* checksum of the source, both stamps zero */
    uint8_t *src;
    int cpu[2 * QUEUE_MAX_SIDE];   /* each member's CPU, -1: not pinned */
    struct q_shared *sh;
    uint64_t *bits;                /* [consumer][producer][words] */
    size_t words;                  /* per (consumer, producer) */
    size_t map_len;
};

static uint64_t *bitmap(const struct q_plan *p, unsigned c, unsigned prod)
{
    return p->bits + ((size_t)c * p->producers + prod) * p->words;
}

/* Distinct pseudo-random words, the two stamp words zero: the checksum of
 * message `seq` is then base + 2 * seq (msg.c, as the topic rows). */
static int source_make(struct q_plan *p)
{
    return msg_source("queue", p->size, 0x2545f4914f6cdd1du, &p->src, &p->base);
}

static int open_queue(const struct q_plan *p, int role, zipc_queue **q)
{
    struct zipc_queue_config cfg = {.lane_capacity = p->lane};
    int err = zipc_queue_open(q, p->name, role, &cfg, NULL);
    return err ? bench_fail(err, "zipc_queue_open(%s, %s)", p->name,
                            role == ZIPC_ROLE_PRODUCER ? "producer" : "consumer")
               : 0;
}

/* Every member is open before anyone starts: the measuring process says go. */
static void await_go(const struct q_plan *p)
{
    while (!atomic_load_explicit(&p->sh->go, memory_order_acquire))
        usleep(200);
}

/* ---- the members ---------------------------------------------------------------- */

static int produce(const struct q_plan *p, unsigned id, zipc_queue *q, struct q_report *r)
{
    await_go(p);
    /* the clock every >= 256 KiB of messages, as stream.c */
    uint64_t every = p->size >= 256 * 1024 ? 1 : 256 * 1024 / p->size;
    int64_t end = p->sh->start_ns + p->warm_ns + p->run_ns;
    for (uint64_t seq = 0; seq < p->cap; seq++) {
        void *slot;
        if (seq % every == 0 && seq && bench_now_ns() >= end)
            break;
        msg_stamp(p->src, p->size, seq);
        int err = zipc_queue_reserve(q, p->size, &slot, BENCH_TIMEOUT_NS);
        if (err)
            return bench_fail(err, "zipc_queue_reserve(%zu)", p->size);
        zipc_copy(slot, p->src, p->size);
        if ((err = zipc_queue_commit(q, p->size, id, 0)))
            return bench_fail(err, "zipc_queue_commit");
        r->sent = seq + 1;
    }
    return 0;
}

/* One message, in place: it is producer `type`'s next, intact, and new. */
static int verify(const struct q_plan *p, unsigned c, const struct zipc_msg *m, uint64_t *next)
{
    const uint8_t *d = m->data;
    uint64_t seq;
    if (m->size != p->size || m->type >= p->producers || zipc_queue_msg_attempt(m) != 1)
        return bench_fail_plain(-EBADMSG, "queue: a message of %u bytes, type %u, attempt %u", m->size,
                                m->type, zipc_queue_msg_attempt(m));
    memcpy(&seq, d, sizeof(seq));
    if (seq >= p->cap || seq < next[m->type] || !msg_ok(d, d + p->size - 8, seq) ||
        msg_words_sum(d, p->size) != p->base + 2 * seq)
        return bench_fail_plain(-EBADMSG, "queue: producer %u's message %llu (expected >= %llu) arrived "
                                "corrupted or out of order", m->type, (unsigned long long)seq,
                                (unsigned long long)next[m->type]);
    uint64_t *w = &bitmap(p, c, m->type)[seq / 64], bit = UINT64_C(1) << (seq % 64);
    if (*w & bit)
        return bench_fail_plain(-EBADMSG, "queue: producer %u's message %llu taken twice", m->type,
                                (unsigned long long)seq);
    *w |= bit;
    next[m->type] = seq + 1;
    return 0;
}

static int consume(const struct q_plan *p, unsigned c, zipc_queue *q, struct q_report *r)
{
    uint64_t next[QUEUE_MAX_SIDE] = {0}, got = 0;
    bool open = false; /* the window */
    await_go(p);
    int64_t t0 = p->sh->start_ns + p->warm_ns;
    for (unsigned calls = 1;; calls++) {
        struct zipc_msg m;
        int err = zipc_queue_view(q, &m, BENCH_TIMEOUT_NS);
        if (err == -EPIPE)
            break; /* every producer closed and every message was taken */
        if (err)
            return bench_fail(err, "zipc_queue_view");
        if ((err = verify(p, c, &m, next)))
            return err;
        if ((err = zipc_queue_release_view(q, &m)))
            return bench_fail(err, "zipc_queue_release_view");
        got++;
        /* the clock every 16 messages until the window opens (as stream.c) */
        if (!open && (calls & 15) == 0 && bench_now_ns() >= t0) {
            open = true;
            r->at_t0 = got;
        }
    }
    r->t_end = bench_now_ns();
    r->received = got;
    if (!open)
        r->at_t0 = got; /* ended in the warm-up: nothing of ours in the window */
    return 0;
}

static _Noreturn void member_main(const struct q_plan *p, unsigned index, unsigned budget_s)
{
    bool producer = index < p->producers;
    unsigned id = producer ? index : index - p->producers;
    struct q_report *r = &p->sh->rep[index];
    signal(SIGALRM, SIG_DFL); /* a stuck member dies after the watchdog */
    alarm(budget_s + 5);
    bench_error_clear();
    zipc_queue *q = NULL;
    int err = p->cpu[index] >= 0 ? bench_pin(p->cpu[index]) : 0;
    if (!err)
        err = open_queue(p, producer ? ZIPC_ROLE_PRODUCER : ZIPC_ROLE_CONSUMER, &q);
    /* release: the measuring process says go once it saw every member open */
    atomic_store_explicit(&r->state, Q_READY, memory_order_release);
    if (!err)
        err = producer ? produce(p, id, q, r) : consume(p, id, q, r);
    struct zipc_queue_stats st;
    r->sleeps = q && zipc_queue_get_stats(q, &st) == 0 ? (long long)st.sleeps : 0;
    zipc_queue_close(q);
    r->err = err;
    snprintf(r->error, sizeof(r->error), "%s", bench_error());
    atomic_store_explicit(&r->state, Q_DONE, memory_order_release);
    _exit(err ? 1 : 0);
}

/* ---- the measuring process ------------------------------------------------------ */

/* Each member's CPU. Taken in turn, consumer 0, producer 0, consumer 1,
 * producer 1, ..., from the pair's CPUs (consumer 0 on the measuring one,
 * producer 0 on the peer's, as the channel rows) and then the other CPUs we
 * may use: one each when there are enough; on 2 CPUs the consumers share
 * the measuring CPU and the producers the peer's. One CPU: not pinned. */
static void place(struct q_plan *p, const struct bench_opts *o)
{
    int list[BENCH_MAX_CPUS], k = 0;
    if (o->pinned) {
        list[k++] = o->cpu[0];
        list[k++] = o->cpu[1];
        for (int i = 0; i < o->ncpus && k < BENCH_MAX_CPUS; i++)
            if (o->cpus[i] != o->cpu[0] && o->cpus[i] != o->cpu[1])
                list[k++] = o->cpus[i];
    }
    unsigned turn = 0;
    for (unsigned i = 0; i < QUEUE_MAX_SIDE; i++) /* the turns: c0 p0 c1 p1 ... */
        for (int side = 0; side < 2; side++) {
            unsigned count = side ? p->producers : p->consumers;
            if (i >= count)
                continue;
            unsigned index = side ? i : p->producers + i; /* producers first in rep[] */
            p->cpu[index] = k ? list[turn % (unsigned)k] : -1;
            turn++;
        }
}

/* Every message sent was taken exactly once: no bit set by two consumers,
 * and each producer's bits 0..sent-1 all set. */
static int check_once(const struct q_plan *p)
{
    for (unsigned prod = 0; prod < p->producers; prod++) {
        uint64_t sent = p->sh->rep[prod].sent, seen = 0;
        for (size_t w = 0; w < p->words; w++) {
            uint64_t any = 0;
            for (unsigned c = 0; c < p->consumers; c++) {
                uint64_t b = bitmap(p, c, prod)[w];
                if (any & b)
                    return bench_fail_plain(-EBADMSG, "queue: a message of producer %u taken by two consumers",
                                            prod);
                any |= b;
            }
            seen += (uint64_t)__builtin_popcountll(any);
        }
        if (seen != sent)
            return bench_fail_plain(-EBADMSG, "queue: producer %u sent %llu, %llu taken", prod,
                                    (unsigned long long)sent, (unsigned long long)seen);
    }
    return 0;
}

static int first_error(const struct q_plan *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const struct q_report *r = &p->sh->rep[i];
        if (atomic_load_explicit(&r->state, memory_order_acquire) == Q_DONE && r->err) {
            bench_error_clear();
            return bench_fail_plain(r->err, "%s %u: %s", i < p->producers ? "producer" : "consumer",
                                    i < p->producers ? i : i - p->producers, r->error);
        }
    }
    return 0;
}

/* Wait (sleeping: the members need the CPUs) until every member is open. */
static int await_ready(const struct q_plan *p, unsigned n)
{
    int64_t deadline = bench_now_ns() + BENCH_TIMEOUT_NS;
    for (unsigned i = 0; i < n;) {
        if (atomic_load_explicit(&p->sh->rep[i].state, memory_order_acquire) >= Q_READY) {
            i++;
            continue;
        }
        if (bench_now_ns() > deadline || link_watchdog_fired())
            return bench_fail_plain(-ETIMEDOUT, "queue: member %u did not open the queue in time", i);
        usleep(500);
    }
    return first_error(p, n);
}

static int queue_part(struct q_plan *p, const struct bench_opts *o, struct part *out)
{
    static unsigned runs;
    unsigned n = p->producers + p->consumers, budget = 60, started = 0;
    pid_t pid[2 * QUEUE_MAX_SIDE];
    snprintf(p->name, sizeof(p->name), "zipc-bench-%d-queue%u", (int)getpid(), runs++);
    p->words = (p->cap + 63) / 64;
    size_t bits = (size_t)p->consumers * p->producers * p->words * sizeof(uint64_t);
    p->map_len = (sizeof(struct q_shared) + 4095) / 4096 * 4096 + bits;
    bench_error_clear();
    link_signals_setup();
    alarm(budget);
    int err = source_make(p);
    void *map = err ? MAP_FAILED : mmap(NULL, p->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!err && map == MAP_FAILED)
        err = bench_fail(-errno, "mmap of the queue rows' reports");
    if (!err) {
        memset(map, 0, sizeof(struct q_shared)); /* the bitmaps: zero pages, faulted in as they fill */
        p->sh = map;
        p->bits = (uint64_t *)((uint8_t *)map + (sizeof(struct q_shared) + 4095) / 4096 * 4096);
        place(p, o);
        fflush(NULL);
    }
    for (; !err && started < n; started++) {
        if ((pid[started] = fork()) < 0)
            err = bench_fail(-errno, "fork");
        else if (pid[started] == 0)
            member_main(p, started, budget);
    }
    if (!err)
        err = await_ready(p, n);
    if (!err) {
        p->sh->start_ns = bench_now_ns();
        atomic_store_explicit(&p->sh->go, 1, memory_order_release);
    }
    for (unsigned i = 0; i < started; i++) {
        if (err || link_watchdog_fired())
            kill(pid[i], SIGKILL);
        int status = link_reap(pid[i]);
        if (!err && (status != 0 || atomic_load_explicit(&p->sh->rep[i].state, memory_order_acquire) != Q_DONE)) {
            err = first_error(p, n);
            if (!err)
                err = bench_fail_plain(-ECHILD, "queue member %u: %s %d, no report", i,
                                       WIFSIGNALED(status) ? "killed by signal" : "exit status",
                                       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
    }
    alarm(0);
    if (!err)
        err = check_once(p);
    if (!err) { /* the window: start + warm-up .. the last consumer's end */
        int64_t t0 = p->sh->start_ns + p->warm_ns, t1 = 0;
        uint64_t taken = 0, received = 0, sent = 0;
        for (unsigned i = 0; i < p->producers; i++)
            sent += p->sh->rep[i].sent;
        for (unsigned c = 0; c < p->consumers; c++) {
            const struct q_report *r = &p->sh->rep[p->producers + c];
            t1 = r->t_end > t1 ? r->t_end : t1;
            taken += r->received - r->at_t0;
            received += r->received;
        }
        if (received != sent)
            err = bench_fail_plain(-EBADMSG, "queue: %llu messages sent, %llu received",
                                   (unsigned long long)sent, (unsigned long long)received);
        else if (t1 <= t0 || !taken)
            err = bench_fail_plain(-ENODATA, "queue: the stream ended during the warm-up");
        out->messages = taken;
        out->seconds = (double)(t1 - t0) / 1e9;
    }
    out->sleeps = 0;
    for (unsigned i = 0; p->sh && i < n; i++)
        out->sleeps += p->sh->rep[i].sleeps;
    out->ring = p->lane;
    out->batch = 1;
    out->cpus = 0;
    for (unsigned i = 0; i < n; i++) { /* distinct CPUs the members ran on */
        bool seen = false;
        for (unsigned j = 0; j < i; j++)
            seen |= p->cpu[j] == p->cpu[i];
        out->cpus += !seen;
    }
    if (p->cpu[0] < 0)
        out->cpus = (unsigned)o->allowed;
    if (map != MAP_FAILED)
        munmap(map, p->map_len);
    free(p->src);
    return err;
}

/* Lanes as the channel rows' rings (stream.c): 256 KiB up to 4 KiB
 * messages, else room for 4 messages. */
static size_t lane_for(size_t size)
{
    if (size <= 4096)
        return 256 * 1024;
    size_t cap = 64 * 1024;
    while (cap < 4 * size)
        cap <<= 1;
    return cap;
}

/* Most messages a producer sends in one part: more than any machine moves in
 * the row's time (one bit each per consumer: 2 MiB of bitmap per pair, in
 * zero pages until used). */
#define QUEUE_CAP (UINT64_C(1) << 24)

int run_queue(unsigned producers, unsigned consumers, size_t size, double seconds, const struct bench_opts *o,
              struct part *out)
{
    *out = (struct part){0};
    if (producers < 1 || producers > QUEUE_MAX_SIDE || consumers < 1 || consumers > QUEUE_MAX_SIDE)
        return bench_fail_plain(-EINVAL, "queue: %u producers, %u consumers (1..%d each)", producers,
                                consumers, QUEUE_MAX_SIDE);
    struct q_plan p = {.size = size, .lane = lane_for(size), .producers = producers, .consumers = consumers,
                       .cap = QUEUE_CAP, .warm_ns = (int64_t)(o->warm_s * 1e9), .run_ns = (int64_t)(seconds * 1e9)};
    return queue_part(&p, o, out);
}

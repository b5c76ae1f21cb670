/* zipc bench: the topic rows. The publisher is this process (CPU A); its
 * `subs` BLOCK subscribers are forked processes, all pinned to CPU B (a
 * 2-CPU machine has no third: they share it, and the table says so).
 *
 * A KIND_TOPIC part, one topic and one set of subscribers:
 *   cost   bursts of half a ring of messages, each begun once every
 *          subscriber has verified all before it: the publisher never waits
 *          for space, so a burst's time / its messages is what publishing
 *          costs the publisher (reserve + copy + commit, any cursor scan and
 *          wake-up included) with `subs` subscribers attached and reading
 *          (bench.c reports the median burst's). A burst also begins no
 *          sooner than TOPIC_BURST_GAP_NS after the previous one ended, for
 *          every subscriber count: on a shared VM the caches cool while the
 *          publisher idles (a 1 MiB copy after a 3 ms pause measured 2x the
 *          one after 0.3 ms), and 8 subscribers sharing a CPU take 10x as
 *          long to verify a burst as one does - without the floor that row
 *          would pay for the pause, not for its subscribers;
 *   stream a fixed count of messages, as fast as the slowest subscriber lets
 *          the publisher go (BLOCK): the publisher's rate and every
 *          subscriber's, each over its own window after 10% warm-up.
 * Then the publisher closes; each subscriber must have verified every
 * message in place (stamps and checksum, msg_verify) and then get -EPIPE.
 * A topic rtt part: the publisher publishes a stamped 32 B message,
 * subscriber 0 publishes it back on a second topic of its own (the publisher
 * subscribes to it, BLOCK), the publisher verifies the echo; the other
 * subscribers, if any, verify every message too. */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "transport.h"

#define TOPIC_MAX_SUBS 16
/* Above the longest natural pause of these rows on the machines measured
 * (8 subscribers, 1 MiB: ~3 ms on an AMD EPYC). */
#define TOPIC_BURST_GAP_NS 4000000LL

/* What a subscriber process tells the publisher, in a shared page. */
struct sub_report {
    _Alignas(64) atomic_uint_least64_t got; /* messages verified so far */
    _Alignas(64) atomic_int state;          /* SUB_* */
    int32_t err;
    int64_t t_warm, t_last;                 /* clock after the warm-up's last message, after the last */
    long long sleeps;
    char error[192];
};
enum { SUB_STARTING, SUB_READY, SUB_DONE };

/* One part's plan, the same in every process (fork copies it). */
struct topic_plan {
    char name[64];                /* the topic; rtt: name[0] + "-back" for the echo */
    size_t size, capacity;
    unsigned subs, burst;
    uint64_t bursts, stream, warm; /* stream: messages after the bursts; warm: the first excluded */
    uint64_t rtt;                  /* rtt: round trips, warm-up included (0: not an rtt part) */
    uint64_t base;                 /* checksum of the source with both stamps zero */
    uint8_t *src;                  /* the publisher's source message */
};

static uint64_t plan_total(const struct topic_plan *p)
{
    return p->rtt ? p->rtt : p->bursts * p->burst + p->stream;
}

/* ---- messages: stamps (transport.h) and a checksum of every 8-byte word */

/* Distinct pseudo-random words, the two stamp words zero: the checksum of
 * message `seq` is then base + 2 * seq (msg.c). */
static int source_make(struct topic_plan *p)
{
    return msg_source("topic", p->size, 0x9e3779b97f4a7c15u, &p->src, &p->base);
}

static int msg_verify(const struct topic_plan *p, const struct zipc_msg *m, uint64_t seq)
{
    const uint8_t *d = m->data;
    if (m->size != p->size || !msg_ok(d, d + p->size - 8, seq) ||
        msg_words_sum(d, p->size) != p->base + 2 * seq)
        return bench_fail_plain(-EBADMSG, "topic: message %llu (%u bytes) arrived corrupted or out "
                                "of order", (unsigned long long)seq, m->size);
    return 0;
}

static int publish(zipc_publisher *pub, const struct topic_plan *p, const void *msg)
{
    void *slot;
    int err = zipc_publisher_reserve(pub, p->size, &slot, BENCH_TIMEOUT_NS);
    if (err)
        return bench_fail(err, "zipc_publisher_reserve(%zu)", p->size);
    zipc_copy(slot, msg, p->size);
    err = zipc_publisher_commit(pub, p->size, 0, 0);
    return err ? bench_fail(err, "zipc_publisher_commit") : 0;
}

static int publish_seq(zipc_publisher *pub, struct topic_plan *p, uint64_t seq)
{
    msg_stamp(p->src, p->size, seq);
    return publish(pub, p, p->src);
}

static int subscribe(zipc_subscriber **sub, const char *name)
{
    /* NULL, NULL: BLOCK, from the next message; wait up to 10 s for the publisher */
    int err = zipc_topic_subscribe(sub, name, NULL, NULL);
    return err ? bench_fail(err, "zipc_topic_subscribe(%s)", name) : 0;
}

/* ---- the subscriber processes ---------------------------------------------- */

/* Subscriber 0 of an rtt part: echo each message on the back topic, from
 * where it lies in the ring. */
static int echo(zipc_subscriber *sub, zipc_publisher *back, const struct topic_plan *p,
                struct sub_report *r)
{
    for (uint64_t seq = 0; seq < p->rtt; seq++) {
        struct zipc_msg m;
        int err = zipc_subscriber_view(sub, &m, BENCH_TIMEOUT_NS);
        if (err)
            return bench_fail(err, "zipc_subscriber_view");
        if ((err = msg_verify(p, &m, seq)) || (err = publish(back, p, m.data)))
            return err;
        if ((err = zipc_subscriber_release(sub)))
            return bench_fail(err, "zipc_subscriber_release");
        atomic_store_explicit(&r->got, seq + 1, memory_order_relaxed); /* informative here */
    }
    return 0;
}

/* Verify every message in place until the publisher closes; publish the
 * count as it goes (the publisher's cost bursts wait for it). */
static int verify_all(zipc_subscriber *sub, const struct topic_plan *p, struct sub_report *r)
{
    uint64_t total = plan_total(p), warm_at = total - p->stream + p->warm, seq = 0;
    for (;;) {
        struct zipc_msg m;
        int err = zipc_subscriber_view(sub, &m, BENCH_TIMEOUT_NS);
        if (err == -EPIPE)
            break; /* closed, and everything committed was delivered */
        if (err)
            return bench_fail(err, "zipc_subscriber_view");
        if ((err = msg_verify(p, &m, seq)))
            return err;
        if ((err = zipc_subscriber_release(sub)))
            return bench_fail(err, "zipc_subscriber_release");
        seq++;
        /* release: the publisher that reads this count starts its next burst
         * after our verification (the order matters only for the figures) */
        atomic_store_explicit(&r->got, seq, memory_order_release);
        if (seq == warm_at && !p->rtt)
            r->t_warm = bench_now_ns();
        if (seq == total)
            r->t_last = bench_now_ns();
    }
    if (seq != total)
        return bench_fail_plain(-EBADMSG, "topic: %llu messages published, %llu received",
                                (unsigned long long)total, (unsigned long long)seq);
    return 0;
}

static int sub_work(const struct topic_plan *p, unsigned index, struct sub_report *r)
{
    zipc_subscriber *sub = NULL;
    zipc_publisher *back = NULL;
    char back_name[80];
    snprintf(back_name, sizeof(back_name), "%s-back", p->name);
    int err = 0;
    if (p->rtt && index == 0 && (err = zipc_topic_create(&back, back_name, 64 * 1024, 1, NULL)))
        bench_fail(err, "zipc_topic_create(%s)", back_name);
    if (!err)
        err = subscribe(&sub, p->name);
    /* release: the publisher sees us subscribed only after subscribe returned */
    atomic_store_explicit(&r->state, SUB_READY, memory_order_release);
    if (!err)
        err = back ? echo(sub, back, p, r) : verify_all(sub, p, r);
    struct zipc_subscriber_stats st;
    r->sleeps = sub && zipc_subscriber_get_stats(sub, &st) == 0 ? (long long)st.sleeps : 0;
    zipc_subscriber_close(sub);
    zipc_publisher_close(back);
    return err;
}

static _Noreturn void sub_main(const struct bench_opts *o, const struct topic_plan *p,
                               unsigned index, struct sub_report *r, unsigned budget_s)
{
    signal(SIGALRM, SIG_DFL); /* a stuck subscriber dies after the publisher's watchdog */
    alarm(budget_s + 5);
    bench_error_clear();
    int err = o->pinned ? bench_pin(o->cpu[1]) : 0;
    if (!err)
        err = sub_work(p, index, r);
    r->err = err;
    snprintf(r->error, sizeof(r->error), "%s", bench_error());
    /* release: the publisher reads err and the figures after seeing DONE */
    atomic_store_explicit(&r->state, SUB_DONE, memory_order_release);
    _exit(err ? 1 : 0);
}

/* ---- the publisher's side ------------------------------------------------- */

struct subs {
    pid_t pid[TOPIC_MAX_SUBS];
    unsigned n;
    struct sub_report *rep;
};

static int subs_start(struct subs *s, const struct bench_opts *o, const struct topic_plan *p,
                      unsigned budget_s)
{
    s->n = 0;
    s->rep = mmap(NULL, sizeof(*s->rep) * p->subs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s->rep == MAP_FAILED) {
        s->rep = NULL;
        return bench_fail(-errno, "mmap of the subscribers' reports");
    }
    memset(s->rep, 0, sizeof(*s->rep) * p->subs);
    fflush(NULL);
    for (; s->n < p->subs; s->n++) {
        pid_t pid = fork();
        if (pid < 0)
            return bench_fail(-errno, "fork");
        if (pid == 0)
            sub_main(o, p, s->n, &s->rep[s->n], budget_s);
        s->pid[s->n] = pid;
    }
    return 0;
}

/* The first subscriber's error, as "subscriber i: ...". */
static int subs_error(const struct subs *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        /* acquire: pairs with sub_main's release of DONE, for err and error */
        if (atomic_load_explicit(&s->rep[i].state, memory_order_acquire) == SUB_DONE && s->rep[i].err) {
            bench_error_clear();
            return bench_fail_plain(s->rep[i].err, "subscriber %u: %s", i, s->rep[i].error);
        }
    }
    return 0;
}

/* Spin until every subscriber's state is at least `state` or its count at
 * least `got`, for BENCH_TIMEOUT_NS; a failed subscriber ends the wait. */
static int subs_await(const struct subs *s, int state, uint64_t got)
{
    int64_t deadline = bench_now_ns() + BENCH_TIMEOUT_NS;
    for (unsigned i = 0, spins = 0; i < s->n;) {
        const struct sub_report *r = &s->rep[i];
        /* acquire: pairs with the subscriber's release of its state / count */
        if (atomic_load_explicit(&r->state, memory_order_acquire) >= state &&
            atomic_load_explicit(&r->got, memory_order_acquire) >= got) {
            i++;
            continue;
        }
        int err = subs_error(s);
        if (err)
            return err;
        zipc__cpu_relax();
        if (++spins % 4096 == 0 && (bench_now_ns() > deadline || link_watchdog_fired()))
            return bench_fail_plain(-ETIMEDOUT, "subscriber %u: stuck at message %llu of %llu", i,
                                    (unsigned long long)atomic_load_explicit(&r->got, memory_order_relaxed),
                                    (unsigned long long)got);
    }
    return 0;
}

/* Reap every subscriber (killing them all after an error); the first error
 * wins: ours, else a subscriber's own, else an exit without a report. */
static int subs_finish(struct subs *s, int err)
{
    int status[TOPIC_MAX_SUBS];
    for (unsigned i = 0; i < s->n; i++)
        if (err || link_watchdog_fired())
            kill(s->pid[i], SIGKILL);
    for (unsigned i = 0; i < s->n; i++)
        status[i] = link_reap(s->pid[i]);
    int serr = subs_error(s);
    for (unsigned i = 0; i < s->n && !err && !serr; i++) {
        if (status[i] != 0 || atomic_load_explicit(&s->rep[i].state, memory_order_acquire) != SUB_DONE) {
            bench_error_clear();
            serr = bench_fail_plain(-ECHILD, "subscriber %u: %s %d, no report", i,
                                    WIFSIGNALED(status[i]) ? "killed by signal" : "exit status",
                                    WIFSIGNALED(status[i]) ? WTERMSIG(status[i]) : WEXITSTATUS(status[i]));
        }
    }
    if (err && link_watchdog_fired()) {
        char text[256];
        snprintf(text, sizeof(text), "watchdog: the row did not finish in time; %.200s", bench_error());
        bench_error_set(text);
    }
    return err ? err : serr;
}

/* The publisher's two phases; figures into out. */
static int publish_phases(zipc_publisher *pub, struct topic_plan *p, const struct subs *s,
                          int64_t *cost_ps, struct part *out)
{
    uint64_t seq = 0;
    struct zipc_publisher_stats before, after;
    int err = zipc_publisher_get_stats(pub, &before);
    int64_t ended = bench_now_ns();
    for (uint64_t b = 0; b < p->bursts && !err; b++) {
        if ((err = subs_await(s, SUB_READY, seq)))
            break;
        while (bench_now_ns() - ended < TOPIC_BURST_GAP_NS)
            zipc__cpu_relax(); /* as subs_await waits */
        int64_t t0 = bench_now_ns();
        out->gap_s += (double)(t0 - ended) / 1e9;
        for (unsigned i = 0; i < p->burst && !err; i++)
            err = publish_seq(pub, p, seq++);
        int64_t ns = bench_now_ns() - t0;
        out->cost_s += (double)ns / 1e9;
        out->cost_msgs += p->burst;
        cost_ps[out->cost_n++] = ns * 1000 / p->burst;
        ended = bench_now_ns();
    }
    if (!err && !(err = zipc_publisher_get_stats(pub, &after))) /* the bursts' wake-ups */
        out->wakeups = (long long)(after.wakeups - before.wakeups);
    if (!err)
        err = subs_await(s, SUB_READY, seq); /* the stream starts from caught-up subscribers */
    int64_t t0 = 0;
    uint64_t end = seq + p->stream;
    while (!err && seq < end) {
        err = publish_seq(pub, p, seq++);
        if (seq == end - p->stream + p->warm)
            t0 = bench_now_ns();
    }
    if (err)
        return err;
    out->messages = p->stream - p->warm;
    out->seconds = (double)(bench_now_ns() - t0) / 1e9;
    return 0;
}

/* The rtt phase: ping on the topic, the echo back on subscriber 0's topic. */
static int ping_pong(zipc_publisher *pub, struct topic_plan *p, const struct subs *s,
                     int64_t *samples)
{
    char back_name[80];
    zipc_subscriber *back = NULL;
    snprintf(back_name, sizeof(back_name), "%s-back", p->name);
    int err = subscribe(&back, back_name);
    if (!err)
        err = subs_await(s, SUB_READY, 0);
    uint64_t warm = p->warm;
    int64_t prev = bench_now_ns();
    for (uint64_t seq = 0; seq < p->rtt && !err; seq++) {
        struct zipc_msg m;
        if ((err = publish_seq(pub, p, seq)))
            break;
        if ((err = zipc_subscriber_view(back, &m, BENCH_TIMEOUT_NS))) {
            err = bench_fail(err, "zipc_subscriber_view(%s)", back_name);
            break;
        }
        if ((err = msg_verify(p, &m, seq)))
            break;
        if ((err = zipc_subscriber_release(back)))
            err = bench_fail(err, "zipc_subscriber_release");
        int64_t now = bench_now_ns();
        if (seq >= warm)
            samples[seq - warm] = now - prev;
        prev = now;
    }
    zipc_subscriber_close(back);
    return err;
}

/* One part: topic, subscribers, the work, the reports. */
static int topic_part(struct topic_plan *p, const struct bench_opts *o, int64_t *samples,
                      struct part *out) /* samples: rtt's, or the cost bursts' */
{
    static unsigned runs;
    snprintf(p->name, sizeof(p->name), "zipc-bench-%d-topic%u", (int)getpid(), runs++);
    out->ring = p->capacity, out->batch = 1, out->sleeps = 0, out->wakeups = 0;
    unsigned budget = 60;
    struct subs s = {0};
    zipc_publisher *pub = NULL;
    bench_error_clear();
    link_signals_setup();
    alarm(budget);
    /* The subscribers first: they inherit none of the publisher's state and
     * wait (up to 10 s) for the topic to appear. */
    int err = source_make(p);
    if (!err)
        err = subs_start(&s, o, p, budget);
    if (!err && (err = zipc_topic_create(&pub, p->name, p->capacity, p->subs, NULL)))
        bench_fail(err, "zipc_topic_create(%s)", p->name);
    if (!err)
        err = p->rtt ? ping_pong(pub, p, &s, samples) : publish_phases(pub, p, &s, samples, out);
    struct zipc_publisher_stats st;
    if (pub && zipc_publisher_get_stats(pub, &st) == 0)
        out->sleeps = (long long)st.sleeps;
    int cerr = zipc_publisher_close(pub); /* the subscribers drain, then -EPIPE */
    if (!err && cerr)
        err = bench_fail(cerr, "zipc_publisher_close");
    err = subs_finish(&s, err);
    alarm(0);
    for (unsigned i = 0; i < s.n && !err; i++) {
        const struct sub_report *r = &s.rep[i];
        double sec = (double)(r->t_last - r->t_warm) / 1e9;
        if (!p->rtt && sec > out->sub_slowest_s)
            out->sub_slowest_s = sec;
        out->sleeps += r->sleeps;
    }
    if (s.rep)
        munmap(s.rep, sizeof(*s.rep) * p->subs);
    free(p->src);
    return err;
}

int run_topic(unsigned subs, size_t size, const struct bench_opts *o, int64_t *cost_ps,
              struct part *out)
{
    bool small = size <= 4096;
    uint64_t stream = o->topic_msgs[small ? 0 : 1] / o->rounds;
    /* Half the ring: the subscribers read one half while the publisher fills the other. */
    size_t frame = (size + ZIPC_FRAME_HEADER + ZIPC_FRAME_ALIGN - 1) & ~(size_t)(ZIPC_FRAME_ALIGN - 1);
    size_t ring = small ? 256 * 1024 : 4 * 1024 * 1024; /* as stream.c's ring_for */
    struct topic_plan p = {.size = size, .capacity = ring, .subs = subs,
                           .burst = (unsigned)(ring / 2 / frame), .stream = stream,
                           .warm = stream / 10 ? stream / 10 : 1};
    p.burst = p.burst ? p.burst : 1;
    p.bursts = o->topic_bursts / o->rounds;
    *out = (struct part){0};
    out->burst = p.burst;
    if (subs < 1 || subs > TOPIC_MAX_SUBS)
        return bench_fail_plain(-EINVAL, "topic: %u subscribers (1..%d)", subs, TOPIC_MAX_SUBS);
    return topic_part(&p, o, cost_ps, out);
}

int run_topic_rtt(unsigned subs, const struct bench_opts *o, uint64_t iters, int64_t *samples,
                  struct part *out)
{
    struct topic_plan p = {.size = BENCH_RTT_SIZE, .capacity = 64 * 1024, .subs = subs,
                           .rtt = iters + iters / 10, .warm = iters / 10}; /* as rtt.c */
    *out = (struct part){0};
    if (subs < 1 || subs > TOPIC_MAX_SUBS)
        return bench_fail_plain(-EINVAL, "topic: %u subscribers (1..%d)", subs, TOPIC_MAX_SUBS);
    int err = topic_part(&p, o, samples, out);
    out->messages = iters;
    for (uint64_t i = 0; i < iters && !err; i++)
        out->seconds += (double)samples[i] / 1e9;
    return err;
}

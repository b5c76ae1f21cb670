/* zipc bench: options, the row plan, ratios and the project's targets. */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport.h"

static const char USAGE[] =
    "usage: zipc bench [options]\n"
    "\n"
    "Measures zipc against a pipe, a Unix stream socket, the cache-line floor and\n"
    "memcpy in one run, between two processes pinned to two CPUs, and prints one\n"
    "table with the machine and the project's targets. Then, on the same CPUs,\n"
    "the Python rows of `python3 -m zipc.bench` when Python can import zipc and\n"
    "numpy ($ZIPC_PYTHON: another interpreter), and the Rust rows of the crate's\n"
    "example bench when it is built (rust/target/release/examples/bench;\n"
    "$ZIPC_RUST_BENCH: another path) join the table. zipc-cpp rows (builds with\n"
    "C++) run the zipc rows' operations through the C++ binding, and the\n"
    "cpp-calls section (not in --json) its cost per call against the C calls.\n"
    "\n"
    "  --cpus A,B       pin the measuring process to CPU A and its peer to CPU B\n"
    "                   (default: the first two CPUs this process may use)\n"
    "  --quick          ~2 s in all, for tests and CI; rough figures\n"
    "  --json           print one JSON object instead of the table\n"
    "  --iterations N   round trips per shared-memory rtt row (default 200000;\n"
    "                   pipe and unix rows get N/10: they are ~250x slower)\n"
    "  --seconds S      measured seconds per streaming row (default 1)\n"
    "  --rows W,W...    only the rows whose name contains one of the words\n"
    "                   (zipc, floor, pipe, memcpy, topic, queue, rpc, cpp-calls,\n"
    "                   ...)\n"
    "  --plot FILE      also draw the result into FILE (.svg or .png): the 32 B\n"
    "                   round trip's distribution and the streaming rows, with\n"
    "                   bench/plot.py (matplotlib) run by $ZIPC_PYTHON or python3\n"
    "  --help           this text\n"
    "\n"
    "The topic rows: one publisher and 1, 2, 4, 8 subscriber processes (all on\n"
    "the peer's CPU), 32 B and 1 MiB, rates and the publisher's cost per message;\n"
    "bench/peers measures iceoryx2 publish-subscribe the same way.\n"
    "\n"
    "The queue rows: 1, 2, 4 producer and as many consumer processes on one\n"
    "queue, 32 B, 1 KiB and 1 MiB, streaming as long as a streaming row, every\n"
    "message verified and checked taken exactly once; with the channel's 32 B\n"
    "streaming row (--rows queue keeps it) for the ratio. Each row says how\n"
    "many processes shared how many CPUs.\n"
    "\n"
    "The rpc rows: one client (this process) and one worker process on one\n"
    "service, on the two CPUs: 32 B request -> 32 B reply round trips (one call\n"
    "in flight, p50/p99), calls/s with 16 calls in flight, and 1 MiB -> 1 KiB\n"
    "with 4 in flight (calls/s, GB/s); every reply derived from its request\n"
    "and checked; with the channel's 32 B rtt row (--rows rpc keeps it) for the\n"
    "ratio. bench/peers measures Tachyon RPC and iceoryx2 request-response the\n"
    "same way.\n"
    "\n"
    "Every row runs in 4 rounds (--quick: 1), round-robin over the table, so a\n"
    "noisy spell of a shared machine hits all rows alike. The C rows take ~30 s.\n"
    "\n"
    "Exit status: 0 all rows measured, 1 a row failed, 2 bad usage; a missed\n"
    "target is reported, not an error.\n";

/* ---- options --------------------------------------------------------------- */

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "zipc bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'zipc bench --help'.\n");
    return 2;
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* The CPUs this process may run on: the default pair and the validation. */
static int allowed_cpus(cpu_set_t *set)
{
    CPU_ZERO(set);
    if (sched_getaffinity(0, sizeof(*set), set))
        return -errno;
    return CPU_COUNT(set);
}

static int parse_cpus(const char *s, struct bench_opts *o, const cpu_set_t *allowed)
{
    char a[32], b[32];
    const char *comma = strchr(s, ',');
    if (!comma || (size_t)(comma - s) >= sizeof(a) || strlen(comma + 1) >= sizeof(b))
        return usage_error("--cpus wants two CPU numbers, A,B (got '%s')", s);
    memcpy(a, s, (size_t)(comma - s));
    a[comma - s] = 0;
    strcpy(b, comma + 1);
    uint64_t x, y;
    if (!parse_u64(a, 0, CPU_SETSIZE - 1, &x) || !parse_u64(b, 0, CPU_SETSIZE - 1, &y))
        return usage_error("--cpus wants two CPU numbers, A,B (got '%s')", s);
    if (x == y)
        return usage_error("--cpus needs two different CPUs (got '%s')", s);
    if (!CPU_ISSET((int)x, allowed) || !CPU_ISSET((int)y, allowed))
        return usage_error("--cpus %s: a CPU that is offline or not allowed for this process", s);
    o->cpu[0] = (int)x, o->cpu[1] = (int)y;
    o->pinned = true;
    return 0;
}

/* Defaults, then the first two allowed CPUs; one CPU only: unpinned. */
static void default_opts(struct bench_opts *o, const cpu_set_t *allowed)
{
    *o = (struct bench_opts){.shm_iters = 200000, .fd_iters = 20000, .stream_s = 1.0,
                             .warm_s = 0.05, .memcpy_s = 0.5, .rounds = 4, .cpu = {-1, -1},
                             .allowed = CPU_COUNT(allowed), .topic_msgs = {4000000, 4000},
                             .topic_bursts = 200};
    for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
        if (CPU_ISSET(c, allowed))
            o->cpu[k++] = c;
    for (int c = 0; c < CPU_SETSIZE && o->ncpus < BENCH_MAX_CPUS; c++)
        if (CPU_ISSET(c, allowed))
            o->cpus[o->ncpus++] = c;
    o->pinned = o->cpu[1] >= 0;
}

/* "--opt value" or "--opt=value". */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == 0 && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

/* Returns -1 to run, or an exit status (0 after --help, 2 on bad usage). */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    cpu_set_t allowed;
    if (allowed_cpus(&allowed) < 0)
        CPU_ZERO(&allowed);
    default_opts(o, &allowed);
    uint64_t iters = 0;
    double seconds = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        int err = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--quick")) {
            o->quick = true;
        } else if ((v = opt_value(argc, argv, &i, "--cpus"))) {
            err = parse_cpus(v, o, &allowed);
        } else if ((v = opt_value(argc, argv, &i, "--iterations"))) {
            if (!parse_u64(v, 1000, 100000000, &iters))
                err = usage_error("--iterations wants a count from 1000 to 100000000 (got '%s')", v);
        } else if ((v = opt_value(argc, argv, &i, "--seconds"))) {
            if (!parse_double(v, 0.1, 60, &seconds))
                err = usage_error("--seconds wants a number from 0.1 to 60 (got '%s')", v);
        } else if ((v = opt_value(argc, argv, &i, "--plot"))) {
            size_t n = strlen(v);
            if (n < 5 || (strcmp(v + n - 4, ".svg") && strcmp(v + n - 4, ".png")))
                err = usage_error("--plot wants a file name ending in .svg or .png (got '%s')", v);
            o->plot = v;
        } else if ((v = opt_value(argc, argv, &i, "--rows"))) {
            if (!v[0] || strspn(v, ",") == strlen(v))
                err = usage_error("--rows wants comma-separated words (got '%s')", v);
            o->rows = v;
        } else if (!strcmp(a, "--cpus") || !strcmp(a, "--iterations") || !strcmp(a, "--seconds") ||
                   !strcmp(a, "--rows") || !strcmp(a, "--plot")) {
            err = usage_error("option '%s' needs a value", a);
        } else {
            err = usage_error("unknown option '%s'", a);
        }
        if (err)
            return err;
    }
    if (o->quick) { /* ~2 s in all */
        o->shm_iters = 20000, o->fd_iters = 2000, o->rounds = 1;
        o->stream_s = 0.1, o->warm_s = 0.02, o->memcpy_s = 0.05;
        o->topic_msgs[0] = 40000, o->topic_msgs[1] = 40, o->topic_bursts = 20;
    }
    if (!o->pinned) /* one CPU: every round trip is a context switch, ~pipe speed */
        o->shm_iters = o->fd_iters;
    if (iters)
        o->shm_iters = iters, o->fd_iters = iters / 10 < 1000 ? 1000 : iters / 10;
    if (seconds > 0)
        o->stream_s = seconds;
    return -1;
}

/* ---- the plan ------------------------------------------------------------- */

/* A row of the table; memcpy rows have no transport. */
struct plan_row {
    const struct transport *t;
    enum row_kind kind;
    size_t size;
    uint64_t iters;             /* rtt: round trips in all; topic: cost bursts */
    unsigned subs;              /* topic rows: subscriber processes */
    unsigned producers, consumers; /* queue rows */
    unsigned inflight;          /* rpc rows: calls in flight */
    size_t reply;               /* rpc rows: reply bytes (size: the request's) */
};

static const size_t STREAM_SIZES[] = {32, 64 * 1024, 1024 * 1024};

/* rtt: 4 rows (+ zipc-cpp); stream: per size 4 transports + memcpy from 64 KiB (+ zipc-cpp and
 * the floor at 32 B); topic: rtt with 1 subscriber, then 2 sizes x 4 subscriber counts; queue:
 * 3 sizes x 3 member counts; rpc: rtt and 2 rates. */
#define MAX_ROWS 52

static const unsigned TOPIC_SUBS[] = {1, 2, 4, 8};
static const size_t TOPIC_SIZES[] = {32, 1024 * 1024};
static const unsigned QUEUE_MEMBERS[] = {1, 2, 4}; /* producers, and as many consumers */
static const size_t QUEUE_SIZES[] = {32, 1024, 1024 * 1024};
/* The rpc rows' calls in flight: the rate of small calls, and of big ones
 * (4 x 1 MiB: the worker reads one while the client writes the next). */
#define RPC_INFLIGHT 16
#define RPC_BIG_INFLIGHT 4

/* --rows: the row's name contains one of the comma-separated words. */
static bool row_wanted(const struct bench_opts *o, const char *name)
{
    for (const char *w = o->rows; w && *w;) {
        size_t n = strcspn(w, ",");
        for (const char *p = name; n && *p; p++)
            if (!strncmp(p, w, n))
                return true;
        w += n + (w[n] == ',');
    }
    return !o->rows;
}

static const char *plan_name(const struct plan_row *p)
{
    return p->inflight ? "rpc" : p->subs ? "topic" : p->producers ? "queue" : p->t ? p->t->name : "memcpy";
}

/* The queue rows: after the topic rows, in the same rounds. */
static size_t plan_queue(struct plan_row *p)
{
    size_t n = 0;
    for (size_t s = 0; s < sizeof(QUEUE_SIZES) / sizeof(QUEUE_SIZES[0]); s++)
        for (size_t i = 0; i < sizeof(QUEUE_MEMBERS) / sizeof(QUEUE_MEMBERS[0]); i++)
            p[n++] = (struct plan_row){NULL, KIND_STREAM, QUEUE_SIZES[s], 0, 0, QUEUE_MEMBERS[i],
                                       QUEUE_MEMBERS[i], 0, 0};
    return n;
}

/* The channel row the queue rows are judged against: kept with them. */
static bool queue_reference(const struct plan_row *p)
{
    return p->t == &transport_zipc && p->kind == KIND_STREAM && p->size == 32;
}

/* The rpc rows: after the queue rows, in the same rounds. */
static size_t plan_rpc(const struct bench_opts *o, struct plan_row *p)
{
    p[0] = (struct plan_row){NULL, KIND_RTT, 32, o->shm_iters, 0, 0, 0, 1, 32};
    p[1] = (struct plan_row){NULL, KIND_STREAM, 32, 0, 0, 0, 0, RPC_INFLIGHT, 32};
    p[2] = (struct plan_row){NULL, KIND_STREAM, 1024 * 1024, 0, 0, 0, 0, RPC_BIG_INFLIGHT, 1024};
    return 3;
}

/* The channel row the rpc round trip is judged against: kept with it. */
static bool rpc_reference(const struct plan_row *p)
{
    return p->t == &transport_zipc && p->kind == KIND_RTT && p->size == 32;
}

/* The topic rows: after the channel rows, in the same rounds. */
static size_t plan_topic(const struct bench_opts *o, struct plan_row *p)
{
    size_t n = 0;
    p[n++] = (struct plan_row){NULL, KIND_RTT, BENCH_RTT_SIZE, o->shm_iters, 1, 0, 0, 0, 0};
    for (size_t s = 0; s < sizeof(TOPIC_SIZES) / sizeof(TOPIC_SIZES[0]); s++)
        for (size_t i = 0; i < sizeof(TOPIC_SUBS) / sizeof(TOPIC_SUBS[0]); i++)
            p[n++] = (struct plan_row){NULL, KIND_TOPIC, TOPIC_SIZES[s], o->topic_bursts, TOPIC_SUBS[i], 0, 0, 0, 0};
    return n;
}

static size_t make_plan(const struct bench_opts *o, struct plan_row *p)
{
    /* Shared-memory round trips take ~0.2 us, pipe and Unix ~50 us: each
     * gets as many as fit its share of the time budget. */
    const struct plan_row rtt[] = {{&transport_zipc, KIND_RTT, 32, o->shm_iters, 0, 0, 0, 0, 0},
#ifdef ZIPC_BENCH_CPP
                                   {&transport_zipc_cpp, KIND_RTT, 32, o->shm_iters, 0, 0, 0, 0, 0},
#endif
                                   {&transport_floor, KIND_RTT, 32, o->shm_iters, 0, 0, 0, 0, 0},
                                   {&transport_pipe, KIND_RTT, 32, o->fd_iters, 0, 0, 0, 0, 0},
                                   {&transport_unix, KIND_RTT, 32, o->fd_iters, 0, 0, 0, 0, 0}};
    const struct transport *stream[] = {&transport_zipc, &transport_zipc_batch, &transport_pipe,
                                        &transport_unix};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(rtt) / sizeof(rtt[0]); i++)
        p[n++] = rtt[i];
    for (size_t s = 0; s < sizeof(STREAM_SIZES) / sizeof(STREAM_SIZES[0]); s++) {
        for (size_t i = 0; i < 4; i++) {
            p[n++] = (struct plan_row){stream[i], KIND_STREAM, STREAM_SIZES[s], 0, 0, 0, 0, 0, 0};
#ifdef ZIPC_BENCH_CPP /* the C++ binding's cost: next to the zipc row it is judged against */
            if (stream[i] == &transport_zipc && STREAM_SIZES[s] == 32)
                p[n++] = (struct plan_row){&transport_zipc_cpp, KIND_STREAM, 32, 0, 0, 0, 0, 0, 0};
#endif
        }
        if (STREAM_SIZES[s] == 32) /* the streaming floor: records of one cache line */
            p[n++] = (struct plan_row){&transport_floor, KIND_STREAM, 32, 0, 0, 0, 0, 0, 0};
        if (STREAM_SIZES[s] >= 64 * 1024)
            p[n++] = (struct plan_row){NULL, KIND_STREAM, STREAM_SIZES[s], 0, 0, 0, 0, 0, 0};
    }
    n += plan_topic(o, p + n);
    n += plan_queue(p + n);
    n += plan_rpc(o, p + n);
    bool queue = row_wanted(o, "queue"), rpc = row_wanted(o, "rpc");
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (row_wanted(o, plan_name(&p[i])) || (queue && queue_reference(&p[i])) ||
            (rpc && rpc_reference(&p[i])))
            p[kept++] = p[i];
    return kept;
}

/* One round's part of a row. RTT samples (topic: cost bursts) are appended
 * to the row's, after the `done` it has. */
static int run_part(const struct plan_row *p, const struct bench_opts *o, int64_t *samples,
                    uint64_t done, struct part *out)
{
    if (p->inflight)
        return run_rpc(p->size, p->reply, p->inflight, p->kind == KIND_RTT ? p->iters / o->rounds : 0,
                       o->stream_s / o->rounds, o, samples + done, out);
    if (p->producers)
        return run_queue(p->producers, p->consumers, p->size, o->stream_s / o->rounds, o, out);
    if (p->subs && p->kind == KIND_RTT)
        return run_topic_rtt(p->subs, o, p->iters / o->rounds, samples + done, out);
    if (p->subs)
        return run_topic(p->subs, p->size, o, samples + done, out);
    if (p->kind == KIND_RTT)
        return run_rtt(p->t, o, p->iters / o->rounds, samples + done, out);
    if (!p->t)
        return run_memcpy(p->size, o->memcpy_s / o->rounds, out);
    return run_stream(p->t, p->size, o, o->stream_s / o->rounds, out);
}

static void add_part(struct row *r, const struct part *p)
{
    r->messages += p->messages;
    r->seconds += p->seconds;
    if (p->sleeps >= 0)
        r->sleeps = (r->sleeps < 0 ? 0 : r->sleeps) + p->sleeps;
    r->ring = p->ring;
    r->batch = p->batch;
    r->sub_slowest_s += p->sub_slowest_s;
    r->cost_s += p->cost_s;
    r->cost_msgs += p->cost_msgs;
    r->cost_n += p->cost_n;
    r->burst = p->burst;
    r->gap_s += p->gap_s;
    if (r->subs)
        r->wakeups = (r->wakeups < 0 ? 0 : r->wakeups) + p->wakeups;
    r->cpus = p->cpus;
}

static void row_fail(struct row *r, const char *text)
{
    r->ok = false;
    snprintf(r->error, sizeof(r->error), "%s", text[0] ? text : "failed");
}

static void progress(unsigned round, const struct bench_opts *o, const struct row *r)
{
    char subs[16] = "";
    if (r->subs)
        snprintf(subs, sizeof(subs), "%u sub%s", r->subs, r->subs == 1 ? "" : "s");
    if (r->producers)
        snprintf(subs, sizeof(subs), "%uP%uC", r->producers, r->consumers);
    if (r->inflight)
        snprintf(subs, sizeof(subs), "x%u", r->inflight);
    fprintf(stderr, "\r[round %u/%u] %-10s %-6s %7zu B %-7s ", round + 1, o->rounds, r->name,
            r->kind == KIND_RTT ? "rtt" : r->kind == KIND_TOPIC ? "pubsub" : r->inflight ? "calls" : "stream",
            r->size, subs);
}

/* Every row runs in o->rounds parts, round-robin over the table: a noisy
 * spell of the shared machine then hits every row alike instead of one,
 * so the ratios stay fair. */
static size_t run_all(const struct bench_opts *o, struct row *rows, bool show)
{
    struct plan_row plan[MAX_ROWS];
    int64_t *samples[MAX_ROWS] = {0};
    size_t n = make_plan(o, plan);
    for (size_t i = 0; i < n; i++) {
        rows[i] = (struct row){.name = plan_name(&plan[i]), .kind = plan[i].kind,
                               .size = plan[i].size, .ok = true, .sleeps = -1, .wakeups = -1,
                               .subs = plan[i].subs, .producers = plan[i].producers,
                               .consumers = plan[i].consumers, .inflight = plan[i].inflight,
                               .reply = plan[i].reply, .zipc_speedup = NAN, .memcpy_ratio = NAN,
                               .cost_ns = NAN, .sub_min_per_s = NAN};
        size_t bytes = plan[i].iters * sizeof(int64_t);
        if (plan[i].iters && !(samples[i] = malloc(bytes)))
            row_fail(&rows[i], "out of memory for samples");
        else if (samples[i])
            memset(samples[i], 0, bytes); /* fault the pages in before any clock runs */
    }
    for (unsigned round = 0; round < o->rounds; round++) {
        for (size_t i = 0; i < n; i++) {
            struct part p;
            if (!rows[i].ok)
                continue;
            if (show)
                progress(round, o, &rows[i]);
            uint64_t done = rows[i].kind == KIND_TOPIC ? rows[i].cost_n : rows[i].messages;
            if (run_part(&plan[i], o, samples[i], done, &p))
                row_fail(&rows[i], bench_error());
            else
                add_part(&rows[i], &p);
        }
    }
    if (show)
        fprintf(stderr, "\r%50s\r", "");
    for (size_t i = 0; i < n; i++) {
        struct row *r = &rows[i];
        if (r->ok && r->kind == KIND_RTT) {
            stats_rtt(samples[i], r->messages, &r->rtt);
        } else if (r->ok) {
            r->msgs_per_s = (double)r->messages / r->seconds;
            r->gb_per_s = r->msgs_per_s * (double)r->size / 1e9;
        }
        if (r->ok && r->kind == KIND_TOPIC) { /* the median burst: robust to a preempted one */
            struct rtt_stats cost;
            stats_rtt(samples[i], r->cost_n, &cost);
            r->sub_min_per_s = (double)r->messages / r->sub_slowest_s;
            r->cost_ns = (double)cost.p50 / 1000;
        }
        free(samples[i]);
    }
    return n;
}

static const struct row *find_row(const struct row *rows, size_t n, const char *name,
                                  enum row_kind kind, size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].ok && rows[i].kind == kind && rows[i].size == size && !strcmp(rows[i].name, name))
            return &rows[i];
    return NULL;
}

static const struct row *find_queue(const struct row *rows, size_t n, size_t size, unsigned members)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].ok && rows[i].producers == members && rows[i].consumers == members && rows[i].size == size)
            return &rows[i];
    return NULL;
}

static const struct row *find_topic(const struct row *rows, size_t n, size_t size, unsigned subs)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].ok && rows[i].kind == KIND_TOPIC && rows[i].size == size && rows[i].subs == subs)
            return &rows[i];
    return NULL;
}

/* One convention for every row: how many times faster zipc (commit per
 * message) is than the row. The floor and zipc-batch may come out < 1. */
static void add_ratios(struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct row *r = &rows[i];
        const struct row *z = find_row(rows, n, "zipc", r->kind, r->size);
        const struct row *m = find_row(rows, n, "memcpy", KIND_STREAM, r->size);
        if (!r->ok || (r->inflight && r->kind != KIND_RTT)) /* an rpc rate: no channel row alike */
            continue;
        if (z && r->kind == KIND_RTT)
            r->zipc_speedup = (double)r->rtt.p50 / (double)z->rtt.p50;
        else if (z && (!r->producers || r->size == 32)) /* a queue row checksums every word: like for like at 32 B */
            r->zipc_speedup = z->gb_per_s / r->gb_per_s;
        if (m && r->kind == KIND_STREAM)
            r->memcpy_ratio = r->gb_per_s / m->gb_per_s;
    }
}

/* ---- targets: the project's aims, reported as measured -------------------- */

enum bound { AT_MOST, BELOW, AT_LEAST };

/* Judge one figure; known is false when a row it needs failed. */
static void judge_one(struct target *t, const char *what, const char *row, const char *unit,
                      double limit, enum bound b, bool known, double value)
{
    *t = (struct target){.what = what, .row = row, .unit = unit, .limit = limit, .known = known,
                         .value = value};
    t->pass = known && (b == AT_MOST ? value <= limit : b == BELOW ? value < limit : value >= limit);
}

static size_t judge(const struct row *rows, size_t n, struct target *t)
{
    struct target *p = t;
    const struct row *z = find_row(rows, n, "zipc", KIND_RTT, 32);
    const struct row *fl = find_row(rows, n, "floor", KIND_RTT, 32);
    const struct row *mc = find_row(rows, n, "memcpy", KIND_STREAM, 1024 * 1024);
    judge_one(p, "32 B p50 RTT <= 1.25x floor", "zipc", "x floor", 1.25, AT_MOST, z && fl,
              z && fl ? (double)z->rtt.p50 / (double)fl->rtt.p50 : NAN);
    if (p->known)
        snprintf(p->detail, sizeof(p->detail), "%.2fx floor (zipc p50 %lld ns, floor p50 %lld ns)",
                 p->value, (long long)z->rtt.p50, (long long)fl->rtt.p50);
    p++;
    judge_one(p, "32 B p99.9 RTT < 1 us", "zipc", "ns", 1000, BELOW, z, z ? (double)z->rtt.p999 : NAN);
    if (p->known)
        snprintf(p->detail, sizeof(p->detail), "p99.9 %lld ns (floor p99.9 %lld ns)",
                 (long long)z->rtt.p999, fl ? (long long)fl->rtt.p999 : -1LL);
    p++;
    static const char *const zrows[] = {"zipc", "zipc-batch"};
    for (int i = 0; i < 2; i++, p++) {
        const struct row *s = find_row(rows, n, zrows[i], KIND_STREAM, 32);
        judge_one(p, "32 B stream >= 20 M msgs/s", zrows[i], "M msgs/s", 20, AT_LEAST, s,
                  s ? s->msgs_per_s / 1e6 : NAN);
        if (p->known)
            snprintf(p->detail, sizeof(p->detail), "%.1f M msgs/s", p->value);
    }
    for (int i = 0; i < 2; i++, p++) {
        const struct row *s = find_row(rows, n, zrows[i], KIND_STREAM, 1024 * 1024);
        judge_one(p, "1 MiB stream >= 0.7x memcpy", zrows[i], "x memcpy", 0.7, AT_LEAST, s && mc,
                  s && mc ? s->gb_per_s / mc->gb_per_s : NAN);
        if (p->known)
            snprintf(p->detail, sizeof(p->detail), "%.2fx memcpy (%.2f GB/s vs %.2f GB/s)", p->value,
                     s->gb_per_s, mc->gb_per_s);
    }
#ifdef ZIPC_BENCH_CPP
    /* The C++ binding over the same C calls: its cost, <= 5%. */
    const struct row *c = find_row(rows, n, "zipc-cpp", KIND_RTT, 32);
    judge_one(p, "C++ 32 B p50 RTT <= 1.05x zipc", "zipc-cpp", "x zipc", 1.05, AT_MOST, c && z,
              c && z ? (double)c->rtt.p50 / (double)z->rtt.p50 : NAN);
    if (p->known)
        snprintf(p->detail, sizeof(p->detail), "%.3fx zipc (zipc-cpp p50 %lld ns, zipc p50 %lld ns)",
                 p->value, (long long)c->rtt.p50, (long long)z->rtt.p50);
    p++;
    const struct row *cs = find_row(rows, n, "zipc-cpp", KIND_STREAM, 32);
    const struct row *zs = find_row(rows, n, "zipc", KIND_STREAM, 32);
    judge_one(p, "C++ 32 B stream >= 0.95x zipc", "zipc-cpp", "x zipc", 0.95, AT_LEAST, cs && zs,
              cs && zs ? cs->msgs_per_s / zs->msgs_per_s : NAN);
    if (p->known)
        snprintf(p->detail, sizeof(p->detail), "%.3fx zipc (%.1f vs %.1f M msgs/s)", p->value,
                 cs->msgs_per_s / 1e6, zs->msgs_per_s / 1e6);
    p++;
#endif
    /* The topic: publishing costs the same with 8 subscribers as with 1. */
    static const char *const COST[] = {"32 B publish cost 8 subs <= 1.2x 1", "1 MiB publish cost 8 subs <= 1.2x 1"};
    for (size_t i = 0; i < sizeof(TOPIC_SIZES) / sizeof(TOPIC_SIZES[0]); i++, p++) {
        const struct row *one = find_topic(rows, n, TOPIC_SIZES[i], 1);
        const struct row *eight = find_topic(rows, n, TOPIC_SIZES[i], 8);
        judge_one(p, COST[i], "topic", "x 1 sub", 1.2, AT_MOST, one && eight,
                  one && eight ? eight->cost_ns / one->cost_ns : NAN);
        if (p->known)
            snprintf(p->detail, sizeof(p->detail), "%.2fx (%.1f ns per message with 8, %.1f with 1)",
                     p->value, eight->cost_ns, one->cost_ns);
    }
    /* The queue: one producer and one consumer cost at most 1.2x the channel. */
    const struct row *q = find_queue(rows, n, 32, 1), *ch = find_row(rows, n, "zipc", KIND_STREAM, 32);
    judge_one(p, "queue 1P1C 32 B within 1.2x channel", "queue", "x channel", 1.2, AT_MOST, q && ch,
              q && ch ? ch->msgs_per_s / q->msgs_per_s : NAN);
    if (p->known)
        snprintf(p->detail, sizeof(p->detail), "channel %.2fx as fast (%.2f vs %.2f M msgs/s)", p->value,
                 ch->msgs_per_s / 1e6, q->msgs_per_s / 1e6);
    p++;
    /* The rpc: a call's round trip costs at most 1.3x the channel's echo. */
    const struct row *rc = find_row(rows, n, "rpc", KIND_RTT, 32);
    judge_one(p, "rpc 32 B p50 <= 1.3x channel rtt", "rpc", "x channel", 1.3, AT_MOST, rc && z,
              rc && z ? (double)rc->rtt.p50 / (double)z->rtt.p50 : NAN);
    if (p->known)
        snprintf(p->detail, sizeof(p->detail), "%.2fx (rpc p50 %lld ns, channel rtt p50 %lld ns)", p->value,
                 (long long)rc->rtt.p50, (long long)z->rtt.p50);
    p++;
    return (size_t)(p - t);
}

/* --plot: the JSON result into a temporary file, drawn by bench/plot.py. A
 * plot that cannot be drawn says why on stderr; the run's status is kept. */
static void plot(const struct bench_opts *o, const struct machine *m, const struct row *rows, size_t n,
                 const struct target *t, size_t nt, const struct ext_rows *ext)
{
    char path[] = "/tmp/zipc-bench-XXXXXX.json", why[256] = "";
    int fd = mkstemps(path, 5);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "zipc bench: plot skipped: a temporary file: %s\n", strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    report_json(f, m, o, rows, n, t, nt, ext);
    bool written = fclose(f) == 0;
    if (written && external_plot(path, o->plot, why, sizeof(why)) == 0)
        fprintf(stderr, "zipc bench: plot written to %s\n", o->plot);
    else
        fprintf(stderr, "zipc bench: plot skipped: %s\n", written ? why : "could not write the JSON result");
    unlink(path);
}

int zipc_bench_main(int argc, char **argv)
{
    struct bench_opts o;
    int status = parse_args(argc, argv, &o);
    if (status >= 0)
        return status;
    if (o.pinned && bench_pin(o.cpu[0])) {
        fprintf(stderr, "zipc bench: %s\n", bench_error());
        return 1;
    }
    struct machine m;
    machine_describe(&m);
    struct row rows[MAX_ROWS];
    size_t n = run_all(&o, rows, !o.json && isatty(STDERR_FILENO));
    add_ratios(rows, n);
    struct target t[16];
    size_t nt = judge(rows, n, t);
    struct ext_rows ext[EXT_SOURCES];
    external_rows(&o, !o.json && isatty(STDERR_FILENO), ext);
    if (o.json)
        report_json(stdout, &m, &o, rows, n, t, nt, ext);
    else
        report_human(stdout, &m, &o, rows, n, t, nt, ext);
    if (o.plot)
        plot(&o, &m, rows, n, t, nt, ext);
    external_rows_free(ext);
    status = 0;
#ifdef ZIPC_BENCH_CPP
    if (!o.json && row_wanted(&o, "cpp-calls") && run_calls(stdout)) {
        fprintf(stderr, "zipc bench: cpp-calls failed: %s\n", bench_error());
        status = 1;
    }
#endif
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].ok) {
            fprintf(stderr, "zipc bench: %s %s %zu B (%u subscribers) failed: %s\n", rows[i].name,
                    rows[i].kind == KIND_RTT ? "rtt" : rows[i].kind == KIND_TOPIC ? "pubsub"
                                                     : rows[i].inflight ? "calls" : "stream",
                    rows[i].size, rows[i].subs, rows[i].error);
            status = 1;
        }
    }
    return fflush(stdout) == 0 ? status : 1;
}

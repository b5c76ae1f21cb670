/* zipc bench: shared declarations.
 *
 * One run measures every row (zipc and its baselines) with the same timer
 * and the same drivers, so the ratios printed are taken within one run:
 *   bench.c        options, the row plan (rounds), ratios, the targets
 *   rtt.c          one ping-pong driver for every transport
 *   stream.c       one one-way streaming driver for every transport; memcpy
 *   link.c         fork, pin, watchdog, reaping: the two ends in two processes
 *   transport_*.c  zipc, pipe / Unix socket, cache-line floor (transport.h)
 *   stats.c        timer, percentiles, error text
 *   machine.c      the machine description printed with the results
 *   report.c       the human table and the JSON object
 *   topic.c        the topic rows: one publisher, N subscriber processes
 *   queue.c        the queue rows: P producer and C consumer processes
 *   rpc.c          the rpc rows: one client and one worker process
 *   msg.c          the topic, queue and rpc rows' source messages, checksums
 *   external.c     rows of other languages' benchmarks, run as children:
 *                  python3 -m zipc.bench, the Rust crate's example bench,
 *                  bench/peers (zipc-peers: Tachyon and iceoryx2, same harness) */
#ifndef ZIPC_BENCH_H
#define ZIPC_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zipc.h"

#define BENCH_TIMEOUT_NS (10LL * 1000000000) /* any single wait: a stuck peer is an error */
#define BENCH_RTT_SIZE 32                   /* ping-pong payload */
#define BENCH_MAX_BATCH 64                  /* zipc-batch: messages per publish / drain */
#define BENCH_MAX_CPUS 64                   /* CPUs remembered for placing many processes */

/* ---- options ----------------------------------------------------------- */
struct bench_opts {
    int cpu[2];             /* parent (measuring side), child */
    bool pinned;            /* false when this process may use only one CPU */
    int allowed;            /* CPUs this process may use */
    int cpus[BENCH_MAX_CPUS]; /* the first of them (before the bench pins itself) */
    int ncpus;
    bool json;
    bool quick;
    const char *plot;       /* --plot FILE (.svg, .png): draw the result there too */
    uint64_t shm_iters;     /* measured round trips, shared-memory rows */
    uint64_t fd_iters;      /* measured round trips, pipe / Unix rows */
    double stream_s;        /* measured seconds per streaming row */
    double warm_s;          /* streaming warm-up, excluded from the figures */
    double memcpy_s;        /* seconds per memcpy row */
    unsigned rounds;        /* each row runs in this many interleaved parts */
    const char *rows;       /* --rows: comma-separated words; a row runs if its name
                               contains one (NULL: every row) */
    uint64_t topic_msgs[2]; /* topic stream messages per row, all rounds: 32 B, 1 MiB */
    uint64_t topic_bursts;  /* topic cost bursts per row, all rounds */
};

/* ---- timer, stats, errors (stats.c) ------------------------------------ */
/* The one timer of every row: CLOCK_MONOTONIC (vDSO, ~20 ns). */
int64_t bench_now_ns(void);

/* The quantiles of a round trip's distribution kept for plots (--plot). */
#define RTT_CDF_POINTS 21
extern const double RTT_CDF_Q[RTT_CDF_POINTS];

struct rtt_stats {
    uint64_t n;
    int64_t min, p50, p90, p99, p999, max; /* ns */
    double per_s;                          /* round trips per second */
    int64_t cdf[RTT_CDF_POINTS];           /* ns at each of RTT_CDF_Q */
};
/* Sorts samples in place. */
void stats_rtt(int64_t *samples, size_t n, struct rtt_stats *out);

/* A per-process "first error" text: the failing operation and why. Returns
 * err (a negative errno) so callers can `return bench_fail(err, ...)`. */
int bench_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same without the errno text: for the bench's own checks (bad data). */
int bench_fail_plain(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *bench_error(void);
void bench_error_set(const char *text);
void bench_error_clear(void);

/* ---- results ------------------------------------------------------------ */
enum row_kind { KIND_RTT, KIND_STREAM, KIND_TOPIC }; /* topic: rate and cost, see topic.c */

struct row {
    const char *name;          /* "zipc", "zipc-batch", "pipe", "unix", "floor", "memcpy" */
    enum row_kind kind;
    size_t size;               /* message bytes */
    bool ok;
    char error[256];
    struct rtt_stats rtt;      /* KIND_RTT */
    double msgs_per_s;         /* KIND_STREAM (memcpy: copies per second) */
    double gb_per_s;           /* 1e9 payload bytes per second */
    uint64_t messages;         /* round trips / messages / copies measured, all rounds */
    double seconds;            /* the time they took */
    long long sleeps;          /* zipc: kernel sleeps of both sides, -1: n/a */
    size_t ring;               /* zipc: ring capacity in bytes, 0: n/a */
    unsigned batch;            /* zipc: messages per publish / drain, 0: n/a */
    double zipc_speedup;       /* how many times faster the zipc row is; NAN: n/a */
    double memcpy_ratio;       /* row GB/s / memcpy GB/s of that size; NAN: n/a */
    /* topic rows (subs > 0): rtt is publisher -> subscriber 0 -> back;
     * KIND_TOPIC: messages / seconds are the publisher's, msgs_per_s its rate */
    unsigned subs;             /* subscriber processes, 0: not a topic row */
    double sub_slowest_s;      /* the slowest subscriber's window, summed over rounds */
    double sub_min_per_s;      /* messages / sub_slowest_s: every subscriber got at least this */
    double cost_s;             /* time of the publisher's cost bursts */
    uint64_t cost_msgs;        /* messages in them */
    uint64_t cost_n;           /* bursts measured (one sample each) */
    double cost_ns;            /* publisher ns per message: the median burst's */
    unsigned burst;            /* messages per cost burst */
    double gap_s;              /* idle time before the cost bursts (each >= TOPIC_BURST_GAP_NS) */
    long long wakeups;         /* publisher's wake-ups of sleeping subscribers during the
                                  cost bursts, -1: n/a */
    /* queue rows (producers > 0): KIND_STREAM, every consumer's messages in one window */
    unsigned producers, consumers;
    unsigned cpus;             /* CPUs its processes ran on (shared when fewer than them) */
    /* rpc rows (inflight > 0): rtt (one call in flight) or KIND_STREAM (a rate
     * of calls: messages are calls); size is the request's */
    unsigned inflight;         /* calls in flight */
    size_t reply;              /* reply bytes */
};

/* ---- machine (machine.c) ------------------------------------------------ */
struct machine {
    char cpu_model[160];       /* with the x86 family and model */
    char caches[80];           /* CPU 0's L2 and L3 sizes */
    int online;                /* online CPUs */
    char online_list[64];      /* e.g. "0-1" */
    char kernel[200];          /* uname -srm (3 fields of <= 65 bytes) */
    char date[40];             /* UTC, ISO 8601 */
    char clocksource[32];
    double timer_read_ns;      /* cost of one bench_now_ns() */
    int64_t timer_step_ns;     /* smallest non-zero difference of two reads */
};
void machine_describe(struct machine *m);

/* ---- rows of other languages (external.c) ------------------------------ */
enum ext_id { EXT_PYTHON, EXT_RUST, EXT_PEERS, EXT_SOURCES }; /* the table of sources */
#define EXT_MAX_ROWS 64 /* the peers: 34 */
struct ext_rows {
    const char *label;              /* "python", "rust", "peers" */
    const char *meta_key;           /* the child's object kept with its rows: "runtime", "config" */
    char command[512];              /* the child's command line ("": not run) */
    char *text;                     /* its output: meta and rows point into it */
    const char *meta;               /* that one-line object, or NULL */
    const char *rows[EXT_MAX_ROWS]; /* one JSON object each, with its "lang" */
    size_t n;
    char skipped[256];              /* why there are none (n == 0) */
};
/* Run every source whose probe succeeds (o->quick: its --quick; pinned:
 * --cpus on our CPUs) after the C rows; show: progress on stderr. */
void external_rows(const struct bench_opts *o, bool show, struct ext_rows x[EXT_SOURCES]);
void external_rows_free(struct ext_rows x[EXT_SOURCES]);
/* Draw a --json result (a file) into out (.svg or .png) with bench/plot.py
 * run by $ZIPC_PYTHON or python3: 0, or -1 and why (e.g. no matplotlib). */
int external_plot(const char *json_path, const char *out, char *why, size_t len);
/* A one-line JSON object's "key": a string copied into out, or a number
 * returned (NAN for a string, null or a missing key). */
double ext_field(const char *obj, const char *key, char *out, size_t len);

/* ---- output (report.c) -------------------------------------------------- */
struct target {
    const char *what;          /* e.g. "32 B p50 RTT <= 1.25x floor" */
    const char *row;           /* the zipc row judged */
    double value, limit;       /* in the target's own unit */
    const char *unit;          /* "x floor", "ns", "M msgs/s", "x memcpy" */
    bool known;                /* false: a needed row failed */
    bool pass;
    char detail[128];          /* the figures behind the verdict */
};
void report_human(FILE *f, const struct machine *m, const struct bench_opts *o,
                  const struct row *rows, size_t n, const struct target *t, size_t nt,
                  const struct ext_rows ext[EXT_SOURCES]);
void report_json(FILE *f, const struct machine *m, const struct bench_opts *o,
                 const struct row *rows, size_t n, const struct target *t, size_t nt,
                 const struct ext_rows ext[EXT_SOURCES]);

/* ---- drivers ------------------------------------------------------------ */
/* One measurement of one row; bench.c runs each row in several rounds,
 * interleaved with the other rows, and adds the parts up. */
struct part {
    uint64_t messages;         /* round trips / messages / copies measured */
    double seconds;            /* time they took */
    long long sleeps;          /* zipc: kernel sleeps of both sides, -1: n/a */
    size_t ring;               /* zipc: ring bytes, 0: n/a */
    unsigned batch;            /* zipc: messages per publish / drain, 0: n/a */
    /* topic rows */
    double sub_slowest_s;      /* the slowest subscriber's measured window */
    double cost_s;             /* publisher: time of the cost bursts */
    uint64_t cost_msgs;
    uint64_t cost_n;           /* bursts, one sample each */
    unsigned burst;
    double gap_s;              /* the publisher's idle time before its bursts */
    long long wakeups;
    unsigned cpus;             /* queue rows: CPUs the processes ran on */
};
struct transport;
/* The calls section (calls_cpp.cpp, builds with C++): the C++ binding's
 * cost per call against the C calls, one thread, printed to f. */
int run_calls(FILE *f);

/* Each returns 0 or a negative errno with bench_error() saying why. */
/* `iters` round trips of 32 B after iters/10 of warm-up, one sample each
 * (ns) into samples[0 .. iters-1]. */
int run_rtt(const struct transport *t, const struct bench_opts *o, uint64_t iters,
            int64_t *samples, struct part *out);
/* One-way messages of `size` bytes for `seconds` after o->warm_s. */
int run_stream(const struct transport *t, size_t size, const struct bench_opts *o, double seconds,
               struct part *out);
/* memcpy of `size` bytes between a cache-hot buffer pair for `seconds`. */
int run_memcpy(size_t size, double seconds, struct part *out);

/* Topic (topic.c), `subs` subscriber processes on o->cpu[1]: `iters` round
 * trips publisher -> subscriber 0 -> back (as run_rtt), or a KIND_TOPIC part:
 * the publisher's cost bursts (o->topic_bursts / o->rounds), then its stream
 * of `size`-byte messages. */
int run_topic_rtt(unsigned subs, const struct bench_opts *o, uint64_t iters, int64_t *samples,
                  struct part *out);
int run_topic(unsigned subs, size_t size, const struct bench_opts *o, int64_t *cost_ps,
              struct part *out); /* cost_ps: each burst's ps per message */

/* Queue (queue.c): `producers` and `consumers` processes, messages of `size`
 * bytes for o->warm_s + `seconds`, every one verified and checked taken
 * exactly once. */
int run_queue(unsigned producers, unsigned consumers, size_t size, double seconds, const struct bench_opts *o,
              struct part *out);

/* Rpc (rpc.c): one client (this process) and one worker process, requests
 * of `req` bytes and replies of `reply` (a multiple of 8 >= 32), `inflight`
 * calls in flight, every reply checked against its request. iters > 0:
 * `iters` calls after iters/10 of warm-up, one sample each (ns) into
 * samples[] (as run_rtt); else calls for o->warm_s + `seconds`, those of
 * the window counted. */
int run_rpc(size_t req, size_t reply, unsigned inflight, uint64_t iters, double seconds,
            const struct bench_opts *o, int64_t *samples, struct part *out);

/* Pin the calling thread to one CPU. */
int bench_pin(int cpu);

/* Entry of `zipc bench`: returns the exit status (0 ok, 1 a row failed, 2 usage). */
int zipc_bench_main(int argc, char **argv);

#endif /* ZIPC_BENCH_H */

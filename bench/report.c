/* zipc bench: output, as one aligned table or as one JSON object. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const char *kind_name(enum row_kind k)
{
    return k == KIND_RTT ? "rtt" : k == KIND_TOPIC ? "pubsub" : "stream";
}

/* A row's kind as the table and the JSON name it: an rpc rate is "calls". */
static const char *row_kind(const struct row *r)
{
    return r->inflight && r->kind == KIND_STREAM ? "calls" : kind_name(r->kind);
}

static void fmt_size(char *out, size_t len, size_t bytes)
{
    if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0)
        snprintf(out, len, "%zu MiB", bytes / (1024 * 1024));
    else if (bytes >= 1024 && bytes % 1024 == 0)
        snprintf(out, len, "%zu KiB", bytes / 1024);
    else
        snprintf(out, len, "%zu B", bytes);
}

/* 3 significant figures with an SI suffix: 3.52M, 812k, 95. */
static void fmt_rate(char *out, size_t len, double v)
{
    if (v >= 1e9)
        snprintf(out, len, "%.3gG", v / 1e9);
    else if (v >= 1e6)
        snprintf(out, len, "%.3gM", v / 1e6);
    else if (v >= 1e3)
        snprintf(out, len, "%.3gk", v / 1e3);
    else
        snprintf(out, len, "%.3g", v);
}

static void fmt_ratio(char *out, size_t len, double v)
{
    if (isnan(v))
        snprintf(out, len, "-");
    else
        snprintf(out, len, v < 10 ? "%.2fx" : v < 100 ? "%.1fx" : "%.0fx", v);
}

static void pinning_text(char *out, size_t len, const struct bench_opts *o)
{
    if (o->pinned)
        snprintf(out, len, "measuring process on CPU %d, its peer process on CPU %d", o->cpu[0],
                 o->cpu[1]);
    else
        snprintf(out, len, "UNPINNED: this process may use %d CPU only, both processes share it "
                           "(the floor yields while it waits)", o->allowed);
}

#define HDR_FMT "%-11s %-6s %-7s %8s %8s %8s %8s %8s %9s %8s %8s %7s %8s %9s\n"

static void human_row(FILE *f, const struct row *r)
{
    char size[32], a[6][32], rate[32], msgs[32], gb[32], vz[32], vm[32];
    fmt_size(size, sizeof(size), r->size);
    if (!r->ok) {
        fprintf(f, "%-11s %-6s %-7s  ERROR: %s\n", r->name, kind_name(r->kind), size, r->error);
        return;
    }
    fmt_ratio(vz, sizeof(vz), r->zipc_speedup);
    fmt_ratio(vm, sizeof(vm), r->memcpy_ratio);
    if (r->kind == KIND_RTT) {
        const int64_t v[6] = {r->rtt.min, r->rtt.p50, r->rtt.p90, r->rtt.p99, r->rtt.p999, r->rtt.max};
        for (int i = 0; i < 6; i++)
            snprintf(a[i], sizeof(a[i]), "%lld", (long long)v[i]);
        fmt_rate(rate, sizeof(rate), r->rtt.per_s);
        fprintf(f, HDR_FMT, r->name, "rtt", size, a[0], a[1], a[2], a[3], a[4], a[5], rate, "", "", vz,
                vm);
    } else {
        fmt_rate(msgs, sizeof(msgs), r->msgs_per_s);
        snprintf(gb, sizeof(gb), "%.2f", r->gb_per_s);
        fprintf(f, HDR_FMT, r->name, "stream", size, "", "", "", "", "", "", "", msgs, gb, vz, vm);
    }
}

/* One note per zipc row: its ring, batch and the kernel sleeps both sides
 * took (a sleep costs a wake-up of tens of us), wrapped at ~100 columns. */
static void zipc_notes(FILE *f, const struct row *rows, size_t n)
{
    int col = fprintf(f, "zipc rows ");
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        if (!r->ok || !r->ring || r->subs || r->producers || r->inflight)
            continue;
        char item[160], size[32], ring[32], batch[32] = "";
        fmt_size(size, sizeof(size), r->size);
        fmt_size(ring, sizeof(ring), r->ring);
        if (r->batch > 1)
            snprintf(batch, sizeof(batch), ", batch %u", r->batch);
        int len = snprintf(item, sizeof(item), " %s %s %s: ring %s%s, %lld kernel sleeps;", r->name,
                           kind_name(r->kind), size, ring, batch, r->sleeps);
        if (col + len > 100)
            col = fprintf(f, "\n          ");
        col += fprintf(f, "%s", item);
    }
    fputc('\n', f);
}

/* The 32 B streaming rows as a share of the streaming floor (one cache line
 * per record, no protocol): the physical limit, as the RTT floor is. */
static void floor_notes(FILE *f, const struct row *rows, size_t n)
{
    const struct row *fl = NULL;
    for (size_t i = 0; i < n; i++)
        if (rows[i].ok && rows[i].kind == KIND_STREAM && rows[i].size == 32 && !strcmp(rows[i].name, "floor"))
            fl = &rows[i];
    if (!fl)
        return;
    int col = 0;
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        if (r == fl || !r->ok || r->kind != KIND_STREAM || r->size != 32 || r->producers || r->inflight)
            continue;
        if (!col)
            col = fprintf(f, "vs floor  ");
        char item[96];
        int len = snprintf(item, sizeof(item), " %s %.2fx of the stream floor;", r->name,
                           r->msgs_per_s / fl->msgs_per_s);
        if (col + len > 100)
            col = fprintf(f, "\n          ");
        col += fprintf(f, "%s", item);
    }
    if (col)
        fputc('\n', f);
}

/* A row of a child's JSON: why it has no figures ("" when it has some). */
static void ext_why(const char *r, char *why, size_t len)
{
    ext_field(r, "skipped", why, len);
    if (!why[0])
        ext_field(r, "error", why, len);
}

#define PY_FMT "%-44s %-9s %-7s %8s %8s %8s\n"

/* The Python stream transport against ipc0cp's STDIO transport, the same
 * objects through a pipe (the rows' zipc_stream_x); a row without figures
 * says why in the table. */
static void pipe_ratios(FILE *f, const struct ext_rows *x)
{
    int shown = 0;
    for (size_t i = 0; i < x->n; i++) {
        double v = ext_field(x->rows[i], "zipc_stream_x", NULL, 0);
        char kind[32];
        if (!(v > 0))
            continue;
        ext_field(x->rows[i], "kind", kind, sizeof(kind));
        fprintf(f, "%s %s %.2fx", shown++ ? "," : "pipe       zipc stream rate / ipc0cp STDIO rate, same objects:",
                kind, v);
    }
    if (shown)
        fputc('\n', f);
}

/* The Python rows: their own columns (rates vs multiprocessing.Queue). */
static void python_human(FILE *f, const struct ext_rows *x, const struct row *rows, size_t n)
{
    (void)rows, (void)n;
    char ver[32], np[32], pin[64];
    ext_field(x->meta, "python", ver, sizeof(ver));
    ext_field(x->meta, "numpy", np, sizeof(np));
    ext_field(x->meta, "pin", pin, sizeof(pin));
    fprintf(f, "\npython   %s\n         Python %s, NumPy %s; %s; rate from the consumer's first "
               "message to its last\n\n",
            x->command, ver, np, pin);
    fprintf(f, PY_FMT, "row (python)", "kind", "size", "msgs/s", "GB/s", "vs Queue");
    for (size_t i = 0; i < x->n; i++) {
        const char *r = x->rows[i];
        char name[96], kind[32], size[32], why[200], msgs[32], gb[32], vq[32];
        ext_field(r, "name", name, sizeof(name));
        ext_field(r, "kind", kind, sizeof(kind));
        fmt_size(size, sizeof(size), (size_t)ext_field(r, "size_bytes", NULL, 0));
        ext_why(r, why, sizeof(why));
        if (why[0]) {
            fprintf(f, "%-44s %-9s %-7s  %s\n", name, kind, size, why);
            continue;
        }
        fmt_rate(msgs, sizeof(msgs), ext_field(r, "msgs_per_s", NULL, 0));
        snprintf(gb, sizeof(gb), "%.2f", ext_field(r, "gb_per_s", NULL, 0));
        fmt_ratio(vq, sizeof(vq), ext_field(r, "speedup_vs_queue", NULL, 0));
        fprintf(f, PY_FMT, name, kind, size, msgs, gb, vq);
    }
    fprintf(f, "\nvs Queue   row rate / multiprocessing.Queue rate for the same workload (Python to "
               "Python, pickling)\n");
    pipe_ratios(f, x);
}

/* A row's overhead over a baseline in percent, + = slower: rtt by p50,
 * stream by rate. */
static void fmt_over(char *out, size_t len, bool rtt, double v, double base)
{
    if (!(v > 0) || !(base > 0))
        snprintf(out, len, "-");
    else
        snprintf(out, len, "%+.1f%%", ((rtt ? v / base : base / v) - 1) * 100);
}

/* The figure the overheads compare: rtt p50 ns, stream msgs/s. */
static double ext_figure(const char *r, bool rtt)
{
    char why[8];
    ext_why(r, why, sizeof(why));
    return !r || why[0] ? NAN : ext_field(r, rtt ? "p50_ns" : "msgs_per_s", NULL, 0);
}

static const char *ext_find(const struct ext_rows *x, const char *name, const char *kind)
{
    char n[64], k[32];
    for (size_t i = 0; i < x->n; i++) {
        ext_field(x->rows[i], "name", n, sizeof(n));
        ext_field(x->rows[i], "kind", k, sizeof(k));
        if (!strcmp(n, name) && !strcmp(k, kind))
            return x->rows[i];
    }
    return NULL;
}

static const struct row *c_find(const struct row *rows, size_t n, const char *name, bool rtt,
                                size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].ok && (rows[i].kind == KIND_RTT) == rtt && rows[i].size == size &&
            !strcmp(rows[i].name, name))
            return &rows[i];
    return NULL;
}

#define RS_FMT "%-16s %-7s %-7s %8s %8s %8s %10s\n"

/* The Rust rows: the safe API against the raw zipc-sys calls of the same
 * child run, and both against this run's C zipc row. */
static void rust_human(FILE *f, const struct ext_rows *x, const struct row *rows, size_t n)
{
    double rounds = ext_field(x->meta, "rounds", NULL, 0);
    fprintf(f, "\nrust     %s\n         the crate's example bench: raw zipc-sys calls and the safe API in "
               "one child run,\n         %g interleaved round%s; rtt: %g round trips, stream: %g s "
               "per row\n\n",
            x->command, rounds, rounds == 1 ? "" : "s", ext_field(x->meta, "rtt_iterations", NULL, 0),
            ext_field(x->meta, "stream_seconds", NULL, 0));
    fprintf(f, RS_FMT, "row (rust)", "kind", "size", "p50 ns", "msgs/s", "vs sys", "vs C zipc");
    for (int pass = 0, shown = 0; pass < 3; pass++) { /* rtt rows, streams, then the calls */
        if (pass && shown)
            fputc('\n', f);
        shown = 0;
        for (size_t i = 0; i < x->n; i++) {
            const char *r = x->rows[i];
            char name[64], kind[32], size[32], why[200], p50[32] = "", msgs[32] = "", vs[32], vc[32] = "-";
            ext_field(r, "kind", kind, sizeof(kind));
            bool rtt = !strcmp(kind, "rtt"), calls = !strcmp(kind, "reserve") || !strcmp(kind, "view");
            if (pass != (rtt ? 0 : calls ? 2 : 1))
                continue;
            shown++;
            ext_field(r, "name", name, sizeof(name));
            size_t bytes = (size_t)ext_field(r, "size_bytes", NULL, 0);
            fmt_size(size, sizeof(size), bytes);
            ext_why(r, why, sizeof(why));
            if (why[0]) {
                fprintf(f, "%-16s %-7s %-7s  %s\n", name, kind, size, why);
                continue;
            }
            const char *sys = strcmp(name, "zipc-rust-sys") ? ext_find(x, "zipc-rust-sys", kind) : NULL;
            if (calls) { /* ns per message, one thread: lower is better, as a round trip */
                double v = ext_field(r, "ns_per_msg", NULL, 0);
                snprintf(p50, sizeof(p50), "%.2f", v);
                fmt_over(vs, sizeof(vs), true, v, sys ? ext_field(sys, "ns_per_msg", NULL, 0) : NAN);
                fprintf(f, RS_FMT, name, kind, size, p50, msgs, vs, vc);
                continue;
            }
            double v = ext_figure(r, rtt);
            if (rtt)
                snprintf(p50, sizeof(p50), "%.0f", v);
            else
                fmt_rate(msgs, sizeof(msgs), v);
            fmt_over(vs, sizeof(vs), rtt, v, sys ? ext_figure(sys, rtt) : NAN);
            const struct row *c = c_find(rows, n, "zipc", rtt, bytes);
            fmt_over(vc, sizeof(vc), rtt, v, !c ? NAN : rtt ? (double)c->rtt.p50 : c->msgs_per_s);
            fprintf(f, RS_FMT, name, kind, size, p50, msgs, vs, vc);
        }
    }
    fprintf(f, "\nvs sys     zipc-rust's overhead over zipc-rust-sys of the same kind, same child run "
               "(target <= 5%%)\n"
               "vs C zipc  overhead over the C zipc row of the same kind and size above (measured "
               "before the child)\n"
               "           + = slower: rtt = p50 / other p50 - 1, stream = other rate / row rate - 1\n"
               "reserve    reserve + fill + commit, view: view + check + release; ns per message (p50 column),\n"
               "view       one thread holding both ends of a channel, the ring filled then drained, best round\n");
}

#define PEER_FMT "%-14s %-6s %-7s %8s %8s %9s %9s %7s %9s %9s\n"

/* A row of a child by name, kind and size. */
static const char *ext_find_sized(const struct ext_rows *x, const char *name, const char *kind,
                                  size_t bytes)
{
    char n[64], k[32];
    for (size_t i = 0; i < x->n; i++) {
        ext_field(x->rows[i], "name", n, sizeof(n));
        ext_field(x->rows[i], "kind", k, sizeof(k));
        if (!strcmp(n, name) && !strcmp(k, kind) && (size_t)ext_field(x->rows[i], "size_bytes", NULL, 0) == bytes)
            return x->rows[i];
    }
    return NULL;
}

/* How many times faster the peers child's own `zipc_name` row (zipc or
 * zipc-batch, interleaved with the peers in the same rounds) is than row r
 * of the same kind and size, as the main table's "vs zipc": rtt by p50,
 * stream by rate; NAN: n/a. */
static double zipc_vs(const struct ext_rows *x, const char *r, const char *zipc_name)
{
    char kind[32];
    ext_field(r, "kind", kind, sizeof(kind));
    bool rtt = !strcmp(kind, "rtt");
    const char *z = ext_find_sized(x, zipc_name, kind, (size_t)ext_field(r, "size_bytes", NULL, 0));
    double v = ext_figure(r, rtt), zv = ext_figure(z, rtt);
    if (!(v > 0) || !(zv > 0))
        return NAN;
    return rtt ? v / zv : zv / v;
}

/* The smallest "zipc is" of a zipc row over the named peers' rows of one
 * size: zipc against the best of them; NAN when none has a figure. */
static double zipc_vs_best(const struct ext_rows *x, const char *zipc_name, const char *const *peers,
                           size_t bytes)
{
    double best = NAN;
    for (; *peers; peers++) {
        const char *r = ext_find_sized(x, *peers, "stream", bytes);
        double v = r ? zipc_vs(x, r, zipc_name) : NAN;
        if (!isnan(v) && (isnan(best) || v < best))
            best = v;
    }
    return best;
}

/* Issue 8's aims against the peers, judged on this child's same-run ratios. */
static void peers_targets(FILE *f, const struct ext_rows *x)
{
    static const char *const TACHYON[] = {"tachyon", "tachyon-batch", NULL};
    static const char *const ICEORYX2[] = {"iceoryx2", NULL};
    static const struct {
        const char *what, *zipc;
        const char *const *peers;
        size_t bytes;
        double limit;
    } AIMS[] = {
        {"32 B stream, per message >= best Tachyon", "zipc", TACHYON, 32, 1.0},
        {"32 B stream, batched >= 1.5x best Tachyon", "zipc-batch", TACHYON, 32, 1.5},
        {"64 KiB stream >= 1.1x iceoryx2", "zipc", ICEORYX2, 64 * 1024, 1.1},
        {"1 MiB stream >= 1.1x iceoryx2", "zipc", ICEORYX2, 1024 * 1024, 1.1},
    };
    fprintf(f, "\npeer targets (zipc is, same child run)\n");
    for (size_t i = 0; i < sizeof(AIMS) / sizeof(AIMS[0]); i++) {
        double v = zipc_vs_best(x, AIMS[i].zipc, AIMS[i].peers, AIMS[i].bytes);
        char r[32];
        fmt_ratio(r, sizeof(r), v);
        fprintf(f, "  %-4s  %-42s %-10s %s\n", isnan(v) ? "n/a" : v >= AIMS[i].limit ? "PASS" : "MISS",
                AIMS[i].what, AIMS[i].zipc, r);
    }
}

/* The peers' topic row (it has "subscribers"): name, kind "pubsub" or "rtt", size, subscribers. */
static const char *peer_topic(const struct ext_rows *x, const char *name, const char *kind,
                              size_t bytes, unsigned subs)
{
    char n[64], k[32];
    for (size_t i = 0; x && i < x->n; i++) {
        ext_field(x->rows[i], "name", n, sizeof(n));
        ext_field(x->rows[i], "kind", k, sizeof(k));
        if (!strcmp(n, name) && !strcmp(k, kind) &&
            (size_t)ext_field(x->rows[i], "size_bytes", NULL, 0) == bytes &&
            ext_field(x->rows[i], "subscribers", NULL, 0) == subs)
            return x->rows[i];
    }
    return NULL;
}

static bool is_topic_row(const char *r) { return !isnan(ext_field(r, "subscribers", NULL, 0)); }

/* The peers' rpc rows have "in_flight" (rpc.rs). */
static bool is_rpc_row(const char *r) { return !isnan(ext_field(r, "in_flight", NULL, 0)); }

/* zipc-topic's speedup over iceoryx2-topic of the same kind, size and
 * subscribers, same child run: pubsub by the publisher's rate, rtt by p50. */
static double topic_vs_iox(const struct ext_rows *x, const char *kind, size_t bytes, unsigned subs)
{
    bool rtt = !strcmp(kind, "rtt");
    double z = ext_figure(peer_topic(x, "zipc-topic", kind, bytes, subs), rtt);
    double i = ext_figure(peer_topic(x, "iceoryx2-topic", kind, bytes, subs), rtt);
    return !(z > 0) || !(i > 0) ? NAN : rtt ? i / z : z / i;
}

#define PT_FMT "%-15s %-6s %-7s %4s %9s %9s %10s %8s %8s %8s %8s\n"

/* The peers' topic rows: zipc's topic against iceoryx2 publish-subscribe,
 * interleaved in the same child, and the target: every row ahead. */
static void peers_topic_human(FILE *f, const struct ext_rows *x)
{
    size_t k = 0, ahead = 0, known = 0;
    for (size_t i = 0; i < x->n; i++)
        k += is_topic_row(x->rows[i]);
    if (!k)
        return;
    fprintf(f, "\npeers topic: one publisher (CPU of the measuring process) and N subscriber "
               "processes all on the\n         other CPU, as the topic rows above (same counts, "
               "checks and phases); iceoryx2: safe\n         overflow off, publisher retries "
               "until delivered, subscriber buffer = zipc ring's messages\n\n");
    fprintf(f, PT_FMT, "row (peers)", "kind", "size", "subs", "pub msg/s", "sub msg/s", "pub ns/msg",
            "vs 1 sub", "p50 ns", "p99 ns", "zipc is");
    for (size_t i = 0; i < x->n; i++) {
        const char *r = x->rows[i];
        if (!is_topic_row(r))
            continue;
        char name[64], kind[32], size[32], subs[16], why[200], pub[32] = "", sub[32] = "", cost[32] = "",
             v1[32] = "", p50[32] = "", p99[32] = "", vz[32] = "";
        ext_field(r, "name", name, sizeof(name));
        ext_field(r, "kind", kind, sizeof(kind));
        size_t bytes = (size_t)ext_field(r, "size_bytes", NULL, 0);
        unsigned ns = (unsigned)ext_field(r, "subscribers", NULL, 0);
        fmt_size(size, sizeof(size), bytes);
        snprintf(subs, sizeof(subs), "%u", ns);
        ext_why(r, why, sizeof(why));
        if (why[0]) {
            fprintf(f, "%-15s %-6s %-7s %4s  %s\n", name, kind, size, subs, why);
            continue;
        }
        if (!strcmp(kind, "rtt")) {
            snprintf(p50, sizeof(p50), "%.0f", ext_field(r, "p50_ns", NULL, 0));
            snprintf(p99, sizeof(p99), "%.0f", ext_field(r, "p99_ns", NULL, 0));
        } else {
            const char *one = peer_topic(x, name, kind, bytes, 1);
            double c = ext_field(r, "publisher_ns_per_msg", NULL, 0);
            fmt_rate(pub, sizeof(pub), ext_field(r, "msgs_per_s", NULL, 0));
            fmt_rate(sub, sizeof(sub), ext_field(r, "subscriber_min_msgs_per_s", NULL, 0));
            snprintf(cost, sizeof(cost), "%.1f", c);
            fmt_ratio(v1, sizeof(v1), one ? c / ext_field(one, "publisher_ns_per_msg", NULL, 0) : NAN);
        }
        if (strcmp(name, "zipc-topic")) {
            double v = topic_vs_iox(x, kind, bytes, ns);
            fmt_ratio(vz, sizeof(vz), v);
            known += !isnan(v);
            ahead += v > 1;
        }
        fprintf(f, PT_FMT, name, kind, size, subs, pub, sub, cost, v1, p50, p99, vz);
    }
    fprintf(f, "\nzipc is    on each iceoryx2-topic row: how many times faster the zipc-topic row "
               "above it is (pubsub:\n           publisher rate / its rate; rtt: its p50 / p50; "
               "the back path is a second topic / service)\n");
    fprintf(f, "  %-4s  %-42s %zu of %zu rows\n", !known ? "n/a" : ahead == known ? "PASS" : "MISS",
            "topic: every row ahead of iceoryx2", ahead, known);
}

/* ---- rpc --------------------------------------------------------------------- */

/* The peers' rpc row of a name, kind ("rtt" or "calls"), request size and
 * calls in flight (NULL: none). */
static const char *peer_rpc(const struct ext_rows *x, const char *name, const char *kind, size_t bytes,
                            unsigned inflight)
{
    for (size_t i = 0; x && i < x->n; i++) {
        const char *r = x->rows[i];
        char n[64], k[32];
        ext_field(r, "name", n, sizeof(n));
        ext_field(r, "kind", k, sizeof(k));
        if (is_rpc_row(r) && !strcmp(n, name) && !strcmp(k, kind) &&
            (size_t)ext_field(r, "size_bytes", NULL, 0) == bytes && ext_field(r, "in_flight", NULL, 0) == inflight)
            return r;
    }
    return NULL;
}

/* How many times faster a row with figure v is than one with figure peer:
 * rtt by p50 (peer / v), calls by rate (v / peer); NAN: either missing. */
static double rpc_speedup(bool rtt, double v, double peer)
{
    return !(v > 0) || !(peer > 0) ? NAN : rtt ? peer / v : v / peer;
}

#define PR_FMT "%-13s %-5s %-7s %-6s %3s %8s %8s %9s %8s %6s %8s\n"

/* The peers' rpc rows: zipc-rpc, Tachyon RPC and iceoryx2 request-response
 * in the same child, rounds interleaved; what a round trip is for each. */
static void peers_rpc_human(FILE *f, const struct ext_rows *x)
{
    size_t k = 0;
    for (size_t i = 0; i < x->n; i++)
        k += is_rpc_row(x->rows[i]);
    if (!k)
        return;
    fprintf(f, "\npeers rpc: one client (the child's measuring process) and one worker process on the two "
               "CPUs, the C\n         rpc rows' work (every reply derived from its request and checked), "
               "counts and phases\n\n");
    fprintf(f, PR_FMT, "row (peers)", "kind", "request", "reply", "fl", "p50 ns", "p99 ns", "p99.9 ns",
            "calls/s", "GB/s", "zipc is");
    for (size_t i = 0; i < x->n; i++) {
        const char *r = x->rows[i];
        if (!is_rpc_row(r))
            continue;
        char name[64], kind[32], size[32], reply[32], fl[16], why[200], p[3][32] = {"", "", ""}, rate[32] = "",
             gb[32] = "", vz[32] = "";
        ext_field(r, "name", name, sizeof(name));
        ext_field(r, "kind", kind, sizeof(kind));
        bool rtt = !strcmp(kind, "rtt");
        size_t bytes = (size_t)ext_field(r, "size_bytes", NULL, 0);
        unsigned inflight = (unsigned)ext_field(r, "in_flight", NULL, 0);
        fmt_size(size, sizeof(size), bytes);
        fmt_size(reply, sizeof(reply), (size_t)ext_field(r, "reply_bytes", NULL, 0));
        snprintf(fl, sizeof(fl), "%u", inflight);
        ext_why(r, why, sizeof(why));
        if (why[0]) {
            fprintf(f, "%-13s %-5s %-7s %-6s %3s  %s\n", name, kind, size, reply, fl, why);
            continue;
        }
        if (rtt) {
            static const char *const keys[3] = {"p50_ns", "p99_ns", "p99_9_ns"};
            for (int j = 0; j < 3; j++)
                snprintf(p[j], sizeof(p[j]), "%.0f", ext_field(r, keys[j], NULL, 0));
        } else {
            fmt_rate(rate, sizeof(rate), ext_field(r, "msgs_per_s", NULL, 0));
            snprintf(gb, sizeof(gb), "%.2f", ext_field(r, "gb_per_s", NULL, 0));
        }
        if (strcmp(name, "zipc-rpc"))
            fmt_ratio(vz, sizeof(vz), rpc_speedup(rtt, ext_figure(peer_rpc(x, "zipc-rpc", kind, bytes, inflight), rtt),
                                                  ext_figure(r, rtt)));
        fprintf(f, PR_FMT, name, kind, size, reply, fl, p[0], p[1], p[2], rate, gb, vz);
    }
    const char *zr = peer_rpc(x, "zipc-rpc", "rtt", 32, 1), *zc = ext_find_sized(x, "zipc", "rtt", 32);
    char vc[32];
    fmt_ratio(vc, sizeof(vc), rpc_speedup(true, ext_figure(zc, true), ext_figure(zr, true)));
    fprintf(f, "\nzipc is    how many times faster the zipc-rpc row of the same kind, size and calls in "
               "flight is (> 1:\n           zipc ahead): rtt = peer p50 / zipc-rpc p50, calls = zipc-rpc "
               "calls/s / peer calls/s\n"
               "fl         calls in flight; GB/s: request bytes per second\n"
               "zipc-rpc   p50 / the channel's 32 B rtt p50 (zipc row above, same child run): %s "
               "(target <= 1.3x)\n", vc);
    fprintf(f, "round trip as each peer's rtt row did it:\n");
    for (size_t i = 0; i < x->n; i++) { /* each peer says what its round trip is, wrapped at ~100 */
        char name[64], what[600];
        ext_field(x->rows[i], "round_trip", what, sizeof(what));
        ext_field(x->rows[i], "name", name, sizeof(name));
        int col = what[0] ? fprintf(f, "  %-12s", name) : 0;
        for (char *w = strtok(what, " "); w; w = strtok(NULL, " ")) {
            if (col + 1 + (int)strlen(w) > 100)
                col = fprintf(f, "\n  %-12s", "");
            col += fprintf(f, " %s", w);
        }
        if (col)
            fputc('\n', f);
    }
}

/* The native peers (Tachyon, iceoryx2), measured by bench/peers with the C
 * rows' harness on the same CPUs, beside this run's zipc rows. */
static void peers_human(FILE *f, const struct ext_rows *x, const struct row *rows, size_t n)
{
    (void)rows, (void)n; /* the ratios are the child's own: same process, same rounds */
    char tv[32], iv[32];
    ext_field(x->meta, "tachyon", tv, sizeof(tv));
    ext_field(x->meta, "iceoryx2", iv, sizeof(iv));
    fprintf(f, "\npeers    %s\n         %s, %s beside zipc; the C rows' sizes, counts, warm-up "
               "and %g interleaved round%s, every message verified\n\n",
            x->command, tv[0] ? tv : "tachyon-ipc not built", iv[0] ? iv : "iceoryx2 not built",
            ext_field(x->meta, "rounds", NULL, 0), ext_field(x->meta, "rounds", NULL, 0) == 1 ? "" : "s");
    size_t channel_rows = 0;
    for (size_t i = 0; i < x->n; i++)
        channel_rows += !is_topic_row(x->rows[i]) && !is_rpc_row(x->rows[i]);
    if (!channel_rows) { /* --rows chose only topic or rpc rows */
        peers_topic_human(f, x);
        peers_rpc_human(f, x);
        return;
    }
    fprintf(f, PEER_FMT, "row (peers)", "kind", "size", "p50 ns", "p99 ns", "p99.9 ns", "rate/s",
            "GB/s", "zipc is", "batch is");
    bool was_rtt = true;
    for (size_t i = 0; i < x->n; i++) {
        const char *r = x->rows[i];
        char name[64], kind[32], size[32], why[200], p[3][32] = {"", "", ""}, rate[32], gb[32] = "",
             vz[32], vb[32] = "-";
        if (is_topic_row(r) || is_rpc_row(r))
            continue; /* peers_topic_human, peers_rpc_human */
        ext_field(r, "name", name, sizeof(name));
        ext_field(r, "kind", kind, sizeof(kind));
        bool rtt = !strcmp(kind, "rtt");
        size_t bytes = (size_t)ext_field(r, "size_bytes", NULL, 0);
        fmt_size(size, sizeof(size), bytes);
        if (i > 0 && rtt != was_rtt)
            fputc('\n', f);
        was_rtt = rtt;
        ext_why(r, why, sizeof(why));
        if (why[0]) {
            fprintf(f, "%-14s %-6s %-7s  %s\n", name, kind, size, why);
            continue;
        }
        if (rtt) {
            static const char *const keys[3] = {"p50_ns", "p99_ns", "p99_9_ns"};
            for (int k = 0; k < 3; k++)
                snprintf(p[k], sizeof(p[k]), "%.0f", ext_field(r, keys[k], NULL, 0));
        } else {
            snprintf(gb, sizeof(gb), "%.2f", ext_field(r, "gb_per_s", NULL, 0));
        }
        fmt_rate(rate, sizeof(rate), ext_field(r, rtt ? "rtt_per_s" : "msgs_per_s", NULL, 0));
        fmt_ratio(vz, sizeof(vz), zipc_vs(x, r, "zipc"));
        if (!rtt)
            fmt_ratio(vb, sizeof(vb), zipc_vs(x, r, "zipc-batch"));
        fprintf(f, PEER_FMT, name, kind, size, p[0], p[1], p[2], rate, gb, vz, vb);
    }
    fprintf(f, "\nzipc is    how many times faster the zipc row above of the same kind and size is "
               "(> 1: zipc ahead),\n"
               "           measured in the same child, rounds interleaved with the peers' (the C rows' "
               "calls via zipc-sys):\n"
               "           rtt = peer p50 / zipc p50, stream = zipc rate / peer rate; batch is: the "
               "same for zipc-batch\n"
               "           rate/s: round trips (rtt) or messages (stream) per second\n");
    peers_targets(f, x);
    peers_topic_human(f, x);
    peers_rpc_human(f, x);
}

/* ---- topic ----------------------------------------------------------------- */

static const struct row *topic_find(const struct row *rows, size_t n, enum row_kind k, size_t size,
                                    unsigned subs)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].ok && rows[i].subs == subs && rows[i].kind == k && rows[i].size == size)
            return &rows[i];
    return NULL;
}

/* How many times faster a C topic row is than the peers' iceoryx2-topic row
 * of the same kind, size and subscribers: pubsub by rate, rtt by p50. */
static double c_topic_vs_iox(const struct row *r, const struct ext_rows *peers)
{
    bool rtt = r->kind == KIND_RTT;
    double pv = ext_figure(peer_topic(peers, "iceoryx2-topic", kind_name(r->kind), r->size, r->subs), rtt);
    return !(pv > 0) ? NAN : rtt ? pv / (double)r->rtt.p50 : r->msgs_per_s / pv;
}

#define TOPIC_FMT "%-9s %-6s %-7s %4s %9s %9s %8s %9s %7s %8s %8s %9s\n"

/* The topic rows: one publisher, N subscriber processes; rates, the
 * publisher's cost per message against 1 subscriber's, the round trip. */
static void topic_human(FILE *f, const struct bench_opts *o, const struct row *rows, size_t n,
                        const struct ext_rows *peers)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += rows[i].subs > 0;
    if (!k)
        return;
    fprintf(f, "\ntopic    one publisher (the measuring process, CPU %d) and N BLOCK subscriber "
               "processes, ALL on CPU %d:\n"
               "         this machine has %d CPU%s for the test, so the subscribers share one; each "
               "verifies every message\n"
               "         in place (both sequence stamps, checksum of every 8-byte word); %llu "
               "(32 B) / %llu (1 MiB)\n"
               "         messages per row after 10%% warm-up, %u interleaved round%s\n\n",
            o->cpu[0], o->cpu[1], o->allowed, o->allowed == 1 ? "" : "s",
            (unsigned long long)o->topic_msgs[0], (unsigned long long)o->topic_msgs[1], o->rounds,
            o->rounds == 1 ? "" : "s");
    fprintf(f, TOPIC_FMT, "row", "kind", "size", "subs", "pub msg/s", "sub msg/s", "sub GB/s",
            "pub ns/msg", "vs 1 sub", "p50 ns", "p99 ns", "vs iox2");
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        char size[32], subs[16], pub[32] = "", sub[32] = "", gb[32] = "", cost[32] = "", v1[32] = "",
             p50[32] = "", p99[32] = "", vi[32] = "-";
        if (!r->subs)
            continue;
        fmt_size(size, sizeof(size), r->size);
        snprintf(subs, sizeof(subs), "%u", r->subs);
        if (!r->ok) {
            fprintf(f, "%-9s %-6s %-7s %4s  ERROR: %s\n", r->name, kind_name(r->kind), size, subs, r->error);
            continue;
        }
        if (r->kind == KIND_RTT) {
            snprintf(p50, sizeof(p50), "%lld", (long long)r->rtt.p50);
            snprintf(p99, sizeof(p99), "%lld", (long long)r->rtt.p99);
            fmt_ratio(vi, sizeof(vi), c_topic_vs_iox(r, peers));
        } else {
            const struct row *one = topic_find(rows, n, KIND_TOPIC, r->size, 1);
            fmt_rate(pub, sizeof(pub), r->msgs_per_s);
            fmt_rate(sub, sizeof(sub), r->sub_min_per_s);
            snprintf(gb, sizeof(gb), "%.2f", r->sub_min_per_s * (double)r->size / 1e9);
            snprintf(cost, sizeof(cost), "%.1f", r->cost_ns);
            fmt_ratio(v1, sizeof(v1), one ? r->cost_ns / one->cost_ns : NAN);
            fmt_ratio(vi, sizeof(vi), c_topic_vs_iox(r, peers));
        }
        fprintf(f, TOPIC_FMT, r->name, kind_name(r->kind), size, subs, pub, sub, gb, cost, v1, p50,
                p99, vi);
    }
    fprintf(f, "\npub msg/s  messages the publisher committed per second (BLOCK: as fast as the "
               "slowest subscriber)\n"
               "sub msg/s  the slowest subscriber's rate over its own window (each one verified "
               "every message)\n"
               "pub ns/msg the publisher's cost per message: bursts of half a ring published "
               "while every subscriber\n"
               "           is caught up (so it never waits for space), each >= 4 ms after the last "
               "(as cold for any\n"
               "           subscriber count); the median burst's time / its messages; it "
               "includes waking subscribers\n"
               "           that went to sleep meanwhile (notes: pause, wake-ups per burst)\n"
               "vs 1 sub   pub ns/msg / the same with 1 subscriber (target <= 1.2x with 8)\n"
               "rtt        publisher -> subscriber -> publisher: the echo goes back on a second "
               "topic the subscriber\n"
               "           publishes (the publisher subscribes to it)\n"
               "vs iox2    how many times faster than the iceoryx2 row of the same kind, size and "
               "subscribers\n"
               "           (peers section below, measured after the C rows): pubsub = rate / its "
               "rate, rtt = its p50 / p50\n");
    int col = fprintf(f, "notes    ");
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        if (!r->ok || !r->subs)
            continue;
        char item[200], size[32], ring[32];
        fmt_size(size, sizeof(size), r->size);
        fmt_size(ring, sizeof(ring), r->ring);
        int len = r->kind == KIND_RTT
                      ? snprintf(item, sizeof(item), " rtt %u sub: ring %s, %lld kernel sleeps;", r->subs,
                                 ring, r->sleeps)
                      : snprintf(item, sizeof(item),
                                 " %s %u sub%s: ring %s, burst %u, %.1f ms apart, %lld sleeps, %.2g wake-ups/burst;",
                                 size, r->subs, r->subs == 1 ? "" : "s", ring, r->burst,
                                 r->cost_n ? r->gap_s * 1e3 / (double)r->cost_n : 0.0, r->sleeps,
                                 (double)r->wakeups * r->burst / (double)r->cost_msgs);
        if (col + len > 100)
            col = fprintf(f, "\n         ");
        col += fprintf(f, "%s", item);
    }
    fputc('\n', f);
}

/* ---- queue ----------------------------------------------------------------- */

static const struct row *queue_find(const struct row *rows, size_t n, size_t size, unsigned members)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].ok && rows[i].producers == members && rows[i].consumers == members && rows[i].size == size)
            return &rows[i];
    return NULL;
}

#define QUEUE_FMT "%-6s %-7s %2s %2s %-14s %9s %8s %9s %9s %10s\n"

/* The queue rows: P producers and C consumers, the rate of every message
 * taken, against the channel's row of the same size and the queue's 1P1C. */
static void queue_human(FILE *f, const struct bench_opts *o, const struct row *rows, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += rows[i].producers > 0;
    if (!k)
        return;
    fprintf(f, "\nqueue    P producer and C consumer processes on one queue, one message at a time (reserve, "
               "copy,\n"
               "         commit / view, verify in place, release_view): every message checked (size, type, "
               "both\n"
               "         stamps, checksum of every 8-byte word, FIFO per producer) and taken exactly once "
               "(per-\n"
               "         consumer bitmaps, merged); producers commit for %.3g s + %.3g s warm-up per row "
               "(as\n"
               "         a streaming row), the window from the start + the warm-up to the last "
               "consumer's end of\n"
               "         stream; %u interleaved round%s\n\n",
            o->stream_s, o->warm_s, o->rounds, o->rounds == 1 ? "" : "s");
    fprintf(f, QUEUE_FMT, "row", "size", "P", "C", "procs on CPUs", "msgs/s", "GB/s", "vs 1P1C", "vs chan",
            "sleeps");
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        char size[32], p[8], c[8], procs[32], msgs[32] = "", gb[32] = "", v1[32] = "", vc[32] = "",
             sl[32] = "";
        if (!r->producers)
            continue;
        fmt_size(size, sizeof(size), r->size);
        snprintf(p, sizeof(p), "%u", r->producers);
        snprintf(c, sizeof(c), "%u", r->consumers);
        if (!r->ok) {
            fprintf(f, "%-6s %-7s %2s %2s  ERROR: %s\n", r->name, size, p, c, r->error);
            continue;
        }
        unsigned procs_n = r->producers + r->consumers;
        if (procs_n > r->cpus)
            snprintf(procs, sizeof(procs), "%u on %u (%.0fx)", procs_n, r->cpus, (double)procs_n / r->cpus);
        else
            snprintf(procs, sizeof(procs), "%u on %u", procs_n, r->cpus);
        const struct row *one = queue_find(rows, n, r->size, 1);
        fmt_rate(msgs, sizeof(msgs), r->msgs_per_s);
        snprintf(gb, sizeof(gb), "%.2f", r->gb_per_s);
        fmt_ratio(v1, sizeof(v1), one ? r->msgs_per_s / one->msgs_per_s : NAN);
        fmt_ratio(vc, sizeof(vc), r->zipc_speedup);
        snprintf(sl, sizeof(sl), "%lld", r->sleeps);
        fprintf(f, QUEUE_FMT, r->name, size, p, c, procs, msgs, gb, v1, vc, sl);
    }
    fprintf(f, "\nprocs      the row's processes on the CPUs they were pinned to (%d CPU%s for the test): "
               "more\n"
               "           processes than CPUs share them, (Nx) oversubscribed; consumer 0 on CPU %d, "
               "producer 0\n"
               "           on CPU %d, then in turn over the CPUs\n"
               "vs 1P1C    msgs/s / the 1P1C row's of the same size\n"
               "vs chan    how many times faster the channel's 32 B streaming row (zipc, stream) is: its "
               "msgs/s /\n"
               "           this row's (target: 1P1C <= 1.2x); 32 B only: the channel row checks the stamps, "
               "a queue\n"
               "           row also sums every word and marks a bitmap (4 words at 32 B, 1 MiB at 1 MiB)\n"
               "sleeps     kernel sleeps of all the row's members (queue stats), all rounds\n",
            o->allowed, o->allowed == 1 ? "" : "s", o->cpu[0], o->cpu[1]);
}

/* How many times faster a C rpc row is than the peers' row `peer` of the
 * same kind, request size and calls in flight. */
static double c_rpc_vs(const struct row *r, const struct ext_rows *peers, const char *peer)
{
    bool rtt = r->kind == KIND_RTT;
    const char *pr = peer_rpc(peers, peer, row_kind(r), r->size, r->inflight);
    return rpc_speedup(rtt, rtt ? (double)r->rtt.p50 : r->msgs_per_s, ext_figure(pr, rtt));
}

#define RPC_FMT "%-4s %-5s %-7s %-6s %3s %8s %8s %9s %8s %6s %8s %8s %8s\n"

/* The rpc rows: one client, one worker; the round trip against the
 * channel's, and every row against the peers' (after the C rows). */
static void rpc_human(FILE *f, const struct bench_opts *o, const struct row *rows, size_t n,
                      const struct ext_rows *peers)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += rows[i].inflight > 0;
    if (!k)
        return;
    fprintf(f, "\nrpc      one client (the measuring process, CPU %d) and one worker process (CPU %d) on one "
               "service: the\n         client copies each request, stamped with its call number, into the "
               "frame it reserved\n         (reserve, copy, commit); the worker sums every 8-byte word of "
               "it and writes a reply derived\n         from it (~number, the sum, number + i) in place, "
               "respond; the client checks every word of\n         the reply, releases it; calls in flight "
               "awaited oldest first. rtt: %llu calls after 10%%\n         warm-up, one at a time; calls: "
               "%.3g s per row after %.3g s warm-up; %u interleaved round%s\n\n",
            o->cpu[0], o->cpu[1], (unsigned long long)o->shm_iters, o->stream_s, o->warm_s, o->rounds,
            o->rounds == 1 ? "" : "s");
    fprintf(f, RPC_FMT, "row", "kind", "request", "reply", "fl", "p50 ns", "p99 ns", "p99.9 ns", "calls/s",
            "GB/s", "vs chan", "vs tach", "vs iox2");
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        char size[32], reply[32], fl[16], p[3][32] = {"", "", ""}, rate[32] = "", gb[32] = "", vc[32] = "",
             vt[32], vi[32];
        if (!r->inflight)
            continue;
        fmt_size(size, sizeof(size), r->size);
        fmt_size(reply, sizeof(reply), r->reply);
        snprintf(fl, sizeof(fl), "%u", r->inflight);
        if (!r->ok) {
            fprintf(f, "%-4s %-5s %-7s %-6s %3s  ERROR: %s\n", r->name, row_kind(r), size, reply, fl, r->error);
            continue;
        }
        if (r->kind == KIND_RTT) {
            const int64_t v[3] = {r->rtt.p50, r->rtt.p99, r->rtt.p999};
            for (int j = 0; j < 3; j++)
                snprintf(p[j], sizeof(p[j]), "%lld", (long long)v[j]);
            fmt_ratio(vc, sizeof(vc), r->zipc_speedup);
        } else {
            fmt_rate(rate, sizeof(rate), r->msgs_per_s);
            snprintf(gb, sizeof(gb), "%.2f", r->gb_per_s);
        }
        fmt_ratio(vt, sizeof(vt), c_rpc_vs(r, peers, "tachyon-rpc"));
        fmt_ratio(vi, sizeof(vi), c_rpc_vs(r, peers, "iceoryx2-rpc"));
        fprintf(f, RPC_FMT, r->name, row_kind(r), size, reply, fl, p[0], p[1], p[2], rate, gb, vc, vt, vi);
    }
    fprintf(f, "\nfl         calls in flight; GB/s: request bytes per second\n"
               "vs chan    rpc p50 / the channel's 32 B rtt p50 (zipc rtt row, this run, rounds interleaved; "
               "target <= 1.3x)\n"
               "round trip rpc: commit of the call -> the worker takes it, writes the reply into the "
               "request's frame,\n"
               "           responds -> the client's wait returns the reply, checked and released; channel: "
               "a 32 B\n"
               "           message on one channel, echoed from the ring into a second channel, checked\n"
               "vs tach    how many times faster than the peers' tachyon-rpc row (Tachyon RPC) of the same "
               "kind, size\n"
               "vs iox2    and calls in flight, resp. iceoryx2-rpc (request-response), measured after the C "
               "rows (peers\n"
               "           section): rtt = its p50 / p50, calls = calls/s / its calls/s\n");
}

/* The sections of the other languages' rows, in the order of the sources. */
static void (*const EXT_HUMAN[EXT_SOURCES])(FILE *, const struct ext_rows *, const struct row *,
                                            size_t) = {[EXT_PYTHON] = python_human,
                                                       [EXT_RUST] = rust_human,
                                                       [EXT_PEERS] = peers_human};

static void external_human(FILE *f, const struct ext_rows ext[EXT_SOURCES], const struct row *rows,
                           size_t n)
{
    for (size_t i = 0; i < EXT_SOURCES; i++) {
        if (ext[i].n)
            EXT_HUMAN[i](f, &ext[i], rows, n);
        else
            fprintf(f, "\n%s rows skipped: %s\n", ext[i].label, ext[i].skipped);
    }
}

/* The channel rows: rtt and stream, their ratios and notes. */
static void channel_table(FILE *f, const struct row *rows, size_t n)
{
    fprintf(f, HDR_FMT, "row", "kind", "size", "min ns", "p50 ns", "p90 ns", "p99 ns", "p99.9 ns",
            "max ns", "rtt/s", "msgs/s", "GB/s", "vs zipc", "vs memcpy");
    for (size_t i = 0; i < n && !rows[i].subs && !rows[i].producers && !rows[i].inflight; i++) {
        if (i > 0 && rows[i].kind != rows[i - 1].kind)
            fputc('\n', f);
        human_row(f, &rows[i]);
    }
    fprintf(f, "\nvs zipc    how many times faster the zipc row of the same kind and size is: rtt = "
               "row p50 / zipc p50,\n"
               "           stream = zipc rate / row rate (< 1: this row is faster; the floor is "
               "the fastest possible;\n"
               "           stream floor: 32 B records in 64-byte slots, one writer, one reader that lets\n"
               "           the writer run 1024 records ahead whenever it catches up)\n"
               "vs memcpy  row GB/s / memcpy GB/s at the same size (memcpy: one process, cache-hot "
               "buffer pair)\n");
    zipc_notes(f, rows, n);
    floor_notes(f, rows, n);
}

void report_human(FILE *f, const struct machine *m, const struct bench_opts *o,
                  const struct row *rows, size_t n, const struct target *t, size_t nt,
                  const struct ext_rows ext[EXT_SOURCES])
{
    char pin[128];
    pinning_text(pin, sizeof(pin), o);
    fprintf(f, "zipc bench %s%s, %s\n", zipc_version(), o->quick ? " (--quick: rough figures)" : "",
            m->date);
    fprintf(f, "machine  %s; %s; %d online CPUs (%s); %s; clocksource %s\n", m->cpu_model, m->caches,
            m->online, m->online_list, m->kernel, m->clocksource);
    fprintf(f, "pinning  %s\n", pin);
    fprintf(f, "timer    CLOCK_MONOTONIC: %.0f ns per read, advances in %lld ns steps; one read per "
               "round trip\n",
            m->timer_read_ns, (long long)m->timer_step_ns);
    fprintf(f, "method   one timer and one driver per kind for every row; %u "
               "interleaved round%s of every row;\n"
               "         rtt: %llu round trips (pipe, unix: %llu), each round after 10%% warm-up; "
               "stream: %.3g s per row,\n"
               "         each round after %.3g s warm-up, every message verified; memcpy: %.3g s\n\n",
            o->rounds, o->rounds == 1 ? "" : "s", (unsigned long long)o->shm_iters,
            (unsigned long long)o->fd_iters, o->stream_s, o->warm_s, o->memcpy_s);
    if (n && !rows[0].subs && !rows[0].producers && !rows[0].inflight) /* else --rows chose none */
        channel_table(f, rows, n);
    topic_human(f, o, rows, n, &ext[EXT_PEERS]);
    queue_human(f, o, rows, n);
    rpc_human(f, o, rows, n, &ext[EXT_PEERS]);
    fprintf(f, "\ntargets\n");
    for (size_t i = 0; i < nt; i++)
        fprintf(f, "  %-4s  %-30s %-10s %s\n", !t[i].known ? "n/a" : t[i].pass ? "PASS" : "MISS",
                t[i].what, t[i].row, t[i].detail);
    external_human(f, ext, rows, n);
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, const char *key, double v, const char *fmt)
{
    fprintf(f, ", \"%s\": ", key);
    if (isnan(v) || isinf(v))
        fputs("null", f);
    else
        fprintf(f, fmt, v);
}

static void json_row(FILE *f, const struct row *r)
{
    fprintf(f, "{\"name\": ");
    json_str(f, r->name);
    fprintf(f, ", \"kind\": \"%s\", \"lang\": \"%s\", \"size_bytes\": %zu, \"ok\": %s", row_kind(r),
            strcmp(r->name, "zipc-cpp") ? "c" : "cpp", r->size,
            r->ok ? "true" : "false");
    if (!r->ok) {
        fprintf(f, ", \"error\": ");
        json_str(f, r->error);
        fputc('}', f);
        return;
    }
    if (r->kind == KIND_RTT) {
        const struct rtt_stats *s = &r->rtt;
        fprintf(f, ", \"samples\": %llu, \"min_ns\": %lld, \"p50_ns\": %lld, \"p90_ns\": %lld, "
                   "\"p99_ns\": %lld, \"p99_9_ns\": %lld, \"max_ns\": %lld",
                (unsigned long long)s->n, (long long)s->min, (long long)s->p50, (long long)s->p90,
                (long long)s->p99, (long long)s->p999, (long long)s->max);
        json_num(f, "rtt_per_s", s->per_s, "%.1f");
        fputs(", \"cdf\": [", f); /* [quantile, ns] pairs, for plots */
        for (size_t i = 0; i < RTT_CDF_POINTS; i++)
            fprintf(f, "%s[%g, %lld]", i ? ", " : "", RTT_CDF_Q[i], (long long)s->cdf[i]);
        fputc(']', f);
    } else {
        fprintf(f, ", \"messages\": %llu", (unsigned long long)r->messages);
        json_num(f, "msgs_per_s", r->msgs_per_s, "%.1f");
        json_num(f, "gb_per_s", r->gb_per_s, "%.4f");
    }
    json_num(f, "seconds", r->seconds, "%.4f");
    json_num(f, "zipc_speedup", r->zipc_speedup, "%.4f");
    if (r->kind == KIND_STREAM)
        json_num(f, "memcpy_ratio", r->memcpy_ratio, "%.4f");
    if (r->ring && !r->inflight)
        fprintf(f, ", \"ring_bytes\": %zu, \"batch\": %u", r->ring, r->batch);
    if (r->sleeps >= 0)
        fprintf(f, ", \"zipc_sleeps\": %lld", r->sleeps);
    if (r->subs)
        fprintf(f, ", \"subscribers\": %u, \"subscribers_cpu\": \"shared\"", r->subs);
    if (r->inflight)
        fprintf(f, ", \"in_flight\": %u, \"reply_bytes\": %zu, \"lane_bytes\": %zu", r->inflight, r->reply,
                r->ring);
    if (r->producers)
        fprintf(f, ", \"producers\": %u, \"consumers\": %u, \"processes\": %u, \"cpus\": %u", r->producers,
                r->consumers, r->producers + r->consumers, r->cpus);
    if (r->kind == KIND_TOPIC) {
        json_num(f, "subscriber_min_msgs_per_s", r->sub_min_per_s, "%.1f");
        json_num(f, "publisher_ns_per_msg", r->cost_ns, "%.2f"); /* the median burst's */
        json_num(f, "publisher_ns_per_msg_mean", r->cost_s * 1e9 / (double)r->cost_msgs, "%.2f");
        fprintf(f, ", \"cost_messages\": %llu, \"cost_burst\": %u, \"publisher_wakeups\": %lld",
                (unsigned long long)r->cost_msgs, r->burst, r->wakeups);
    }
    fputc('}', f);
}

static void json_machine(FILE *f, const struct machine *m, const struct bench_opts *o)
{
    char pin[128];
    pinning_text(pin, sizeof(pin), o);
    fprintf(f, "{\"cpu_model\": ");
    json_str(f, m->cpu_model);
    fprintf(f, ", \"caches\": ");
    json_str(f, m->caches);
    fprintf(f, ", \"online_cpus\": %d, \"online_list\": ", m->online);
    json_str(f, m->online_list);
    fprintf(f, ", \"kernel\": ");
    json_str(f, m->kernel);
    fprintf(f, ", \"clocksource\": ");
    json_str(f, m->clocksource);
    fprintf(f, ", \"date\": ");
    json_str(f, m->date);
    fprintf(f, ", \"pinned\": %s, \"cpus\": ", o->pinned ? "true" : "false");
    if (o->pinned)
        fprintf(f, "[%d, %d]", o->cpu[0], o->cpu[1]);
    else
        fputs("null", f);
    fprintf(f, ", \"pinning\": ");
    json_str(f, pin);
    fputc('}', f);
}

/* The peers' ratios of the table, for the JSON: "zipc_vs_peers". */
static void peers_json(FILE *f, const struct ext_rows *x)
{
    fprintf(f, ",\n \"zipc_vs_peers\": [");
    for (size_t i = 0, k = 0; i < x->n; i++) {
        char name[64], kind[32];
        ext_field(x->rows[i], "name", name, sizeof(name));
        ext_field(x->rows[i], "kind", kind, sizeof(kind));
        bool rtt = !strcmp(kind, "rtt");
        size_t bytes = (size_t)ext_field(x->rows[i], "size_bytes", NULL, 0);
        double z = zipc_vs(x, x->rows[i], "zipc");
        double b = rtt ? NAN : zipc_vs(x, x->rows[i], "zipc-batch");
        if (!strncmp(name, "zipc", 4) || is_topic_row(x->rows[i]) || is_rpc_row(x->rows[i]) ||
            (isnan(z) && isnan(b)))
            continue;
        fprintf(f, "%s{\"peer\": ", k++ ? ",\n  " : "\n  ");
        json_str(f, name);
        fprintf(f, ", \"kind\": \"%s\", \"size_bytes\": %zu", kind, bytes);
        json_num(f, "zipc_speedup", z, "%.4f");
        json_num(f, "zipc_batch_speedup", b, "%.4f");
        fputc('}', f);
    }
    fputs("\n ]", f);
}

/* The topic rows against iceoryx2: the C row's ratio (this run, C rows
 * first) and zipc-topic's (the peers child, interleaved). */
static void topic_json(FILE *f, const struct row *rows, size_t n, const struct ext_rows *x)
{
    fprintf(f, ",\n \"topic_vs_iceoryx2\": [");
    for (size_t i = 0, k = 0; i < n; i++) {
        const struct row *r = &rows[i];
        if (!r->subs || !r->ok)
            continue;
        fprintf(f, "%s{\"kind\": \"%s\", \"size_bytes\": %zu, \"subscribers\": %u", k++ ? ",\n  " : "\n  ",
                kind_name(r->kind), r->size, r->subs);
        json_num(f, "c_topic_speedup", c_topic_vs_iox(r, x), "%.4f");
        json_num(f, "zipc_topic_speedup", topic_vs_iox(x, kind_name(r->kind), r->size, r->subs), "%.4f");
        fputc('}', f);
    }
    fputs("\n ]", f);
}

/* The rpc rows against the channel and the peers: the C rows' ratios
 * (this run; the peers after) and zipc-rpc's (the peers child, interleaved). */
static void rpc_json(FILE *f, const struct row *rows, size_t n, const struct ext_rows *x)
{
    fprintf(f, ",\n \"rpc_vs\": [");
    for (size_t i = 0, k = 0; i < n; i++) {
        const struct row *r = &rows[i];
        if (!r->inflight || !r->ok)
            continue;
        bool rtt = r->kind == KIND_RTT;
        const char *kind = row_kind(r), *zr = peer_rpc(x, "zipc-rpc", kind, r->size, r->inflight);
        fprintf(f, "%s{\"kind\": \"%s\", \"size_bytes\": %zu, \"reply_bytes\": %zu, \"in_flight\": %u",
                k++ ? ",\n  " : "\n  ", kind, r->size, r->reply, r->inflight);
        json_num(f, "c_rpc_p50_vs_channel", rtt ? r->zipc_speedup : NAN, "%.4f");
        json_num(f, "c_rpc_speedup_vs_tachyon", c_rpc_vs(r, x, "tachyon-rpc"), "%.4f");
        json_num(f, "c_rpc_speedup_vs_iceoryx2", c_rpc_vs(r, x, "iceoryx2-rpc"), "%.4f");
        json_num(f, "zipc_rpc_p50_vs_channel", rtt ? rpc_speedup(true, ext_figure(ext_find_sized(x, "zipc", "rtt", 32),
                                                                                   true), ext_figure(zr, true))
                                                   : NAN, "%.4f");
        json_num(f, "zipc_rpc_speedup_vs_tachyon",
                 rpc_speedup(rtt, ext_figure(zr, rtt), ext_figure(peer_rpc(x, "tachyon-rpc", kind, r->size, r->inflight), rtt)),
                 "%.4f");
        json_num(f, "zipc_rpc_speedup_vs_iceoryx2",
                 rpc_speedup(rtt, ext_figure(zr, rtt), ext_figure(peer_rpc(x, "iceoryx2-rpc", kind, r->size, r->inflight), rtt)),
                 "%.4f");
        fputc('}', f);
    }
    fputs("\n ]", f);
}

void report_json(FILE *f, const struct machine *m, const struct bench_opts *o,
                 const struct row *rows, size_t n, const struct target *t, size_t nt,
                 const struct ext_rows ext[EXT_SOURCES])
{
    fprintf(f, "{\"tool\": \"zipc bench\", \"zipc_version\": ");
    json_str(f, zipc_version());
    fprintf(f, ",\n \"machine\": ");
    json_machine(f, m, o);
    fprintf(f, ",\n \"config\": {\"quick\": %s, \"timer\": \"CLOCK_MONOTONIC\", "
               "\"rounds\": %u, \"rtt_iterations\": %llu, \"rtt_iterations_fd\": %llu, "
               "\"warmup_fraction_rtt\": 0.1",
            o->quick ? "true" : "false", o->rounds, (unsigned long long)o->shm_iters,
            (unsigned long long)o->fd_iters);
    json_num(f, "timer_read_ns", m->timer_read_ns, "%.1f");
    fprintf(f, ", \"timer_step_ns\": %lld", (long long)m->timer_step_ns);
    json_num(f, "stream_seconds", o->stream_s, "%g");
    json_num(f, "stream_warmup_seconds", o->warm_s, "%g");
    json_num(f, "memcpy_seconds", o->memcpy_s, "%g");
    fprintf(f, "},\n \"rows\": [");
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n  " : "\n  ", f);
        json_row(f, &rows[i]);
    }
    for (size_t x = 0; x < EXT_SOURCES; x++)
        for (size_t i = 0; i < ext[x].n; i++)
            fprintf(f, ",\n  %s", ext[x].rows[i]); /* verbatim, with their "lang" */
    fputs("\n ]", f);
    for (size_t x = 0; x < EXT_SOURCES; x++) { /* "python": {"command", "runtime", "skipped"} */
        fprintf(f, ",\n \"%s\": {\"command\": ", ext[x].label);
        json_str(f, ext[x].command);
        fprintf(f, ", \"%s\": %s, \"skipped\": ", ext[x].meta_key, ext[x].meta ? ext[x].meta : "null");
        if (ext[x].n)
            fputs("null", f);
        else
            json_str(f, ext[x].skipped);
        fputc('}', f);
    }
    peers_json(f, &ext[EXT_PEERS]);
    topic_json(f, rows, n, &ext[EXT_PEERS]);
    rpc_json(f, rows, n, &ext[EXT_PEERS]);
    fprintf(f, ",\n \"targets\": [");
    for (size_t i = 0; i < nt; i++) {
        fputs(i ? ",\n  " : "\n  ", f);
        fprintf(f, "{\"target\": ");
        json_str(f, t[i].what);
        fprintf(f, ", \"row\": ");
        json_str(f, t[i].row);
        json_num(f, "value", t[i].known ? t[i].value : NAN, "%.4g");
        json_num(f, "limit", t[i].limit, "%g");
        fprintf(f, ", \"unit\": ");
        json_str(f, t[i].unit);
        fprintf(f, ", \"pass\": %s}", !t[i].known ? "null" : t[i].pass ? "true" : "false");
    }
    fprintf(f, "\n ]}\n");
}

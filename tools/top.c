/* zipc top [--once] [--json] [--interval S]: every live object with its
 * rates, from two scans `interval` apart (rates = counter deltas / time). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "json.h"
#include "report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: zipc top [--once] [--json] [--interval SECONDS]\n"
               "  a live table of every zipc object with messages/s and MB/s (written into\n"
               "  it), refreshed every interval (default 1 s) until Ctrl-C.\n"
               "  --once   print one table, after one interval, and exit\n"
               "  --json   one JSON document per interval and line instead of the table:\n"
               "           {\"interval_s\", \"objects\": [{\"object\": (as zipc ls --json),\n"
               "           \"messages\", \"msgs_per_s\", \"mb_per_s\" (null: no rate yet),\n"
               "           \"backlog\": {\"what\", \"value\"}}], \"unreadable\": N}\n");
}

static const struct zt_segment *previous(const struct zt_scan *s, const struct zt_segment *g)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->seg[i]->dev == g->dev && s->seg[i]->ino == g->ino && !s->seg[i]->err)
            return s->seg[i];
    return NULL;
}

/* What is waiting in it: a channel's ring fill (percent), a topic's
 * largest lag (messages), a queue's queued messages; NULL: nothing. */
static const char *backlog(const struct zt_segment *g, double *value)
{
    const struct zipc_segment_info *in = &g->info;
    switch (in->detail) {
    case ZIPC_INSPECT_CHANNEL:
        *value = in->channel.ring_size ? 100.0 * (double)in->channel.ring_used / (double)in->channel.ring_size : 0.0;
        return "fill";
    case ZIPC_INSPECT_TOPIC: {
        uint64_t worst = 0;
        for (uint32_t i = 0; i < in->topic.listed; i++) {
            uint64_t head = in->topic.sub[i].head_seq;
            for (unsigned k = 0; k < g->ncursors; k++)
                if (g->cursors[k]->info.cursor.slot == in->topic.sub[i].slot)
                    head = g->cursors[k]->info.cursor.side.messages;
            uint64_t lag = in->topic.publisher.messages >= head ? in->topic.publisher.messages - head : 0;
            worst = lag > worst ? lag : worst;
        }
        *value = (double)worst;
        return "lag";
    }
    case ZIPC_INSPECT_QUEUE:
    case ZIPC_INSPECT_RPC: {
        uint64_t queued = 0;
        for (unsigned i = 0; i < ZIPC_INSPECT_QUEUE_LANES; i++)
            queued += in->queue.lane[i].queued;
        *value = (double)queued;
        return "queued";
    }
    default: return NULL;
    }
}

static void backlog_text(const struct zt_segment *g, char *buf, size_t n)
{
    double v;
    const char *what = backlog(g, &v);
    if (!what)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%s %.0f%s", what, v, strcmp(what, "fill") ? "" : "%");
}

/* One object's rates between two scans: false when it has none (no
 * counters, new, or its counters went back: another object now). */
struct rates {
    uint64_t messages;
    double msgs_per_s, mb_per_s;
    bool counted, rated;
};

static struct rates rates_of(const struct zt_scan *before, const struct zt_scan *now, const struct zt_segment *g)
{
    double dt = (double)(now->at_ns - before->at_ns) / 1e9;
    struct rates r = {0};
    uint64_t b1, m0 = 0, b0 = 0;
    r.counted = zt_totals(g, &r.messages, &b1);
    const struct zt_segment *p = previous(before, g);
    r.rated = r.counted && p && zt_totals(p, &m0, &b0) && dt > 0 && r.messages >= m0 && b1 >= b0;
    if (r.rated) {
        r.msgs_per_s = (double)(r.messages - m0) / dt;
        r.mb_per_s = (double)(b1 - b0) / dt / 1e6;
    }
    return r;
}

static void json_doc(FILE *f, const struct zt_scan *before, const struct zt_scan *now)
{
    struct json j;
    json_init(&j, f);
    json_open(&j, NULL, '{');
    json_f64(&j, "interval_s", (double)(now->at_ns - before->at_ns) / 1e9);
    json_open(&j, "objects", '[');
    uint64_t bad = 0;
    for (unsigned i = 0; i < now->n; i++) {
        const struct zt_segment *g = now->seg[i];
        bad += g->err != 0;
        if (g->err || g->part)
            continue;
        struct rates r = rates_of(before, now, g);
        json_open(&j, NULL, '{');
        zt_json_object(&j, "object", g, false);
        if (r.counted)
            json_u64(&j, "messages", r.messages);
        json_f64(&j, "msgs_per_s", r.rated ? r.msgs_per_s : NAN);
        json_f64(&j, "mb_per_s", r.rated ? r.mb_per_s : NAN);
        double v;
        const char *what = backlog(g, &v);
        if (what) {
            json_open(&j, "backlog", '{');
            json_str(&j, "what", what);
            json_f64(&j, "value", v);
            json_close(&j, '}');
        }
        json_close(&j, '}');
    }
    json_close(&j, ']');
    json_u64(&j, "unreadable", bad);
    json_close(&j, '}');
    json_end(&j);
}

static void table(FILE *f, const struct zt_scan *before, const struct zt_scan *now)
{
    char name[64], when[32], wait[32];
    fprintf(f, "%-8s %-20s %6s %12s %10s %14s %-14s %s\n", "KIND", "NAME", "PIDS", "MSGS/S", "MB/S", "MESSAGES",
            "BACKLOG", "CREATED");
    unsigned bad = 0;
    for (unsigned i = 0; i < now->n; i++) {
        const struct zt_segment *g = now->seg[i];
        if (g->err)
            bad++;
        if (g->err || g->part)
            continue;
        struct rates r = rates_of(before, now, g);
        snprintf(name, sizeof(name), "%.20s", g->info.label);
        for (char *c = name; *c; c++)
            if (*c < 0x20 || *c == 0x7f)
                *c = '?'; /* a hostile label must not drive the terminal */
        backlog_text(g, wait, sizeof(wait));
        if (r.rated)
            fprintf(f, "%-8s %-20s %6u %12.0f %10.2f %14" PRIu64 " %-14s %s\n", zt_kind_name(g), name, g->npids,
                    r.msgs_per_s, r.mb_per_s, r.messages, wait, zt_time(g->info.created_ns, when));
        else
            fprintf(f, "%-8s %-20s %6u %12s %10s %14s %-14s %s\n", zt_kind_name(g), name, g->npids, "-", "-",
                    r.counted ? "" : "-", wait, zt_time(g->info.created_ns, when));
    }
    if (bad)
        fprintf(f, "(%u segment%s not check out: zipc ls shows %s)\n", bad, bad == 1 ? " does" : "s do",
                bad == 1 ? "it" : "them");
}

int zipc_top_main(int argc, char **argv)
{
    bool once = false, as_json = false;
    double interval = 1.0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--once")) {
            once = true;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = true;
        } else if (!strcmp(argv[i], "--interval")) {
            if (i + 1 >= argc || !zt_parse_seconds(argv[++i], &interval)) {
                fprintf(stderr, "zipc top: --interval takes a number of seconds (> 0)\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "zipc top: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    zt_catch_stop();
    bool tty = !once && !as_json && isatty(STDOUT_FILENO);
    struct zt_scan before, now;
    int err = zt_scan(&before);
    while (!err && zt_sleep(interval)) {
        if ((err = zt_scan(&now)))
            break;
        if (tty)
            fputs("\033[H\033[2J", stdout); /* home, clear: one table on screen */
        if (as_json)
            json_doc(stdout, &before, &now);
        else
            table(stdout, &before, &now);
        if (!tty && !once && !as_json)
            fputc('\n', stdout);
        fflush(stdout);
        zt_scan_free(&before);
        before = now;
        if (once)
            break;
    }
    zt_scan_free(&before);
    if (err) {
        fprintf(stderr, "zipc top: scanning /proc: %s\n", zipc_strerror(err));
        return 1;
    }
    return 0;
}

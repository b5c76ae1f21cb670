/* Showing objects (report.h). */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

const char *zt_bytes(uint64_t b, char buf[16])
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)b;
    unsigned u = 0;
    while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
        v /= 1024;
        u++;
    }
    snprintf(buf, 16, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

const char *zt_time(uint64_t ns, char buf[32])
{
    if (!ns)
        return "-"; /* not stamped (a forged header) */
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, 32, "?");
    return buf;
}

static const char *policy_name(uint32_t p)
{
    return p == ZIPC_SUB_BLOCK ? "block" : p == ZIPC_SUB_DROP_OLDEST ? "drop-oldest" : p == ZIPC_SUB_MAX_LAG ? "max-lag" : "?";
}

static const char *state_name(uint32_t s)
{
    return s == ZIPC_STATE_NONE ? "none" : s == ZIPC_STATE_ACTIVE ? "active" : s == ZIPC_STATE_CLOSED ? "closed" : "?";
}

/* A queue's role names: producers/consumers, or an rpc's clients/workers. */
static const char *producers_word(const struct zt_segment *g)
{
    return g->info.detail == ZIPC_INSPECT_RPC ? "clients" : "producers";
}
static const char *consumers_word(const struct zt_segment *g)
{
    return g->info.detail == ZIPC_INSPECT_RPC ? "workers" : "consumers";
}

/* A topic subscriber's exact cursor, if its page was found with the topic. */
static const struct zipc_inspect_cursor *cursor_of(const struct zt_segment *g, uint32_t slot)
{
    for (unsigned i = 0; i < g->ncursors; i++)
        if (g->cursors[i]->info.cursor.slot == slot)
            return &g->cursors[i]->info.cursor;
    return NULL;
}

/* The subscriber's next message: its cursor's if seen, else the table's hint. */
static uint64_t sub_head(const struct zt_segment *g, const struct zipc_inspect_subscriber *s)
{
    const struct zipc_inspect_cursor *c = cursor_of(g, s->slot);
    return c ? c->side.messages : s->head_seq;
}

static uint64_t lag_of(uint64_t published, uint64_t head) { return published >= head ? published - head : 0; }

/* ---- JSON --------------------------------------------------------------------------- */

static void json_side(struct json *j, const char *key, const struct zipc_inspect_side *s)
{
    json_open(j, key, '{');
    json_u64(j, "pid", s->pid);
    json_str(j, "state", state_name(s->state));
    json_u64(j, "messages", s->messages);
    json_u64(j, "bytes", s->bytes);
    json_u64(j, "wakeups", s->wakeups);
    json_u64(j, "sleeps", s->sleeps);
    json_close(j, '}');
}

static void json_members(struct json *j, const struct zt_segment *g)
{
    const struct zipc_segment_info *in = &g->info;
    json_open(j, "members", '{');
    switch (in->detail) {
    case ZIPC_INSPECT_CHANNEL:
        json_u64(j, "producer", in->channel.producer.pid);
        json_u64(j, "consumer", in->channel.consumer.pid);
        break;
    case ZIPC_INSPECT_TOPIC:
        json_u64(j, "publisher", in->topic.publisher.pid);
        json_open(j, "subscribers", '[');
        for (uint32_t i = 0; i < in->topic.listed; i++)
            json_u64(j, NULL, in->topic.sub[i].pid);
        json_close(j, ']');
        break;
    case ZIPC_INSPECT_QUEUE:
    case ZIPC_INSPECT_RPC:
        json_open(j, producers_word(g), '[');
        for (unsigned i = 0; i < ZIPC_INSPECT_QUEUE_LANES; i++)
            if (in->queue.lane[i].member.alive)
                json_u64(j, NULL, in->queue.lane[i].member.pid);
        json_close(j, ']');
        json_open(j, consumers_word(g), '[');
        for (unsigned i = 0; i < ZIPC_INSPECT_QUEUE_CONSUMERS; i++)
            if (in->queue.consumer[i].member.alive)
                json_u64(j, NULL, in->queue.consumer[i].member.pid);
        json_close(j, ']');
        break;
    case ZIPC_INSPECT_STORE: /* every holder of the version holds its fd: the pids */
        json_open(j, "holders", '[');
        for (unsigned i = 0; i < g->npids; i++)
            json_u64(j, NULL, (uint64_t)g->pids[i]);
        json_close(j, ']');
        break;
    default: break;
    }
    json_close(j, '}');
}

/* A store version's newest, as its board says (0: board not seen). */
static uint64_t store_latest(const struct zt_segment *g)
{
    const struct zt_segment *b = g->board;
    return b && b->info.detail == ZIPC_INSPECT_STORE_BOARD ? b->info.store_board.latest : 0;
}

static void json_store(struct json *j, const struct zt_segment *g)
{
    const struct zipc_inspect_store *st = &g->info.store;
    json_u64(j, "version", st->version);
    json_u64(j, "latest", store_latest(g)); /* 0: the board was not seen */
    json_u64(j, "tensors", st->tensors);
    json_u64(j, "metadata", st->metadata);
    json_u64(j, "tensor_bytes", st->tensor_bytes);
    json_u64(j, "data_size", st->data_size);
    json_u64(j, "align", st->align);
}

static void json_topic(struct json *j, const struct zt_segment *g)
{
    const struct zipc_inspect_topic *t = &g->info.topic;
    json_u64(j, "max_message", t->max_message);
    json_u64(j, "max_subscribers", t->max_subscribers);
    json_u64(j, "oldest_seq", t->oldest_seq);
    json_side(j, "publisher", &t->publisher);
    json_u64(j, "subscriber_count", t->subscribers);
    json_open(j, "subscribers", '[');
    for (uint32_t i = 0; i < t->listed; i++) {
        const struct zipc_inspect_subscriber *s = &t->sub[i];
        const struct zipc_inspect_cursor *c = cursor_of(g, s->slot);
        json_open(j, NULL, '{');
        json_u64(j, "slot", s->slot);
        json_u64(j, "pid", s->pid);
        json_str(j, "policy", policy_name(s->policy));
        if (s->policy == ZIPC_SUB_MAX_LAG)
            json_u64(j, "max_lag", s->max_lag);
        json_u64(j, "head_seq", sub_head(g, s));
        json_u64(j, "lag", lag_of(t->publisher.messages, sub_head(g, s)));
        json_u64(j, "joined_ns", s->joined_ns);
        json_bool(j, "cursor_seen", c != NULL); /* false: head_seq is the publisher's last look */
        if (c) {
            json_u64(j, "wakeups", c->side.wakeups);
            json_u64(j, "sleeps", c->side.sleeps);
            json_u64(j, "lost_messages", c->lost_messages);
            json_u64(j, "lost_bytes", c->lost_bytes);
            json_u64(j, "overflows", c->overflows);
            json_u64(j, "history_gap", c->gap);
            json_bool(j, "evicted", c->evicted != 0);
        }
        json_close(j, '}');
    }
    json_close(j, ']');
}

static void json_queue(struct json *j, const struct zt_segment *g)
{
    const struct zipc_inspect_queue *q = &g->info.queue;
    json_bool(j, "at_most_once", (q->flags & ZIPC_QUEUE_AT_MOST_ONCE) != 0);
    uint64_t queued = 0, held = 0;
    json_open(j, producers_word(g), '[');
    for (unsigned i = 0; i < q->lane_hwm; i++) {
        const struct zipc_inspect_lane *l = &q->lane[i];
        queued += l->queued;
        json_open(j, NULL, '{');
        json_u64(j, "lane", i);
        json_u64(j, "pid", l->member.alive ? l->member.pid : 0);
        json_bool(j, "attached", (q->lanes_open >> i) & 1);
        json_u64(j, "messages", l->producer.messages);
        json_u64(j, "bytes", l->producer.bytes);
        json_u64(j, "queued", l->queued);
        json_u64(j, "redeliver", l->redeliver);
        json_u64(j, "wakeups", l->producer.wakeups);
        json_u64(j, "sleeps", l->producer.sleeps);
        json_close(j, '}');
    }
    json_close(j, ']');
    json_open(j, consumers_word(g), '[');
    for (unsigned i = 0; i < ZIPC_INSPECT_QUEUE_CONSUMERS; i++) {
        const struct zipc_inspect_consumer *c = &q->consumer[i];
        if (!c->member.alive && !c->messages && !c->held)
            continue; /* a slot never used */
        held += c->held;
        json_open(j, NULL, '{');
        json_u64(j, "slot", i);
        json_u64(j, "pid", c->member.alive ? c->member.pid : 0);
        json_u64(j, "messages", c->messages);
        json_u64(j, "bytes", c->bytes);
        json_u64(j, "held", c->held);
        json_u64(j, "redelivered", c->redelivered);
        json_u64(j, "wakeups", c->wakeups);
        json_u64(j, "sleeps", c->sleeps);
        json_bool(j, "sleeping", c->sleeping != 0);
        json_close(j, '}');
    }
    json_close(j, ']');
    json_u64(j, g->info.detail == ZIPC_INSPECT_RPC ? "calls_queued" : "queued", queued);
    json_u64(j, g->info.detail == ZIPC_INSPECT_RPC ? "calls_in_service" : "held", held);
}

void zt_json_object(struct json *j, const char *key, const struct zt_segment *g, bool counters)
{
    const struct zipc_segment_info *in = &g->info;
    char when[32];
    json_open(j, key, '{');
    json_str(j, "kind", zt_kind_name(g));
    json_strn(j, "name", in->label, sizeof(in->label));
    json_str(j, "path", g->path);
    json_u64(j, "size", in->segment_size);
    json_u64(j, "capacity", zt_capacity(g));
    json_u64(j, "created_ns", in->created_ns);
    json_str(j, "created", zt_time(in->created_ns, when));
    json_u64(j, "creator_pid", in->creator_pid);
    json_u64(j, "creator_uid", in->creator_uid);
    json_open(j, "pids", '[');
    for (unsigned i = 0; i < g->npids; i++)
        json_u64(j, NULL, (uint64_t)g->pids[i]);
    json_close(j, ']');
    json_members(j, g);
    if (in->detail == ZIPC_INSPECT_STORE) /* what a store is, shown by ls too */
        json_store(j, g);
    if (counters) {
        json_open(j, "counters", '{');
        json_u64(j, "abi_major", in->abi_major);
        json_u64(j, "abi_minor", in->abi_minor);
        json_u64(j, "seals", in->seals);
        switch (in->detail) {
        case ZIPC_INSPECT_CHANNEL:
            json_u64(j, "max_message", in->channel.max_message);
            json_u64(j, "ring_used", in->channel.ring_used);
            json_side(j, "producer", &in->channel.producer);
            json_side(j, "consumer", &in->channel.consumer);
            break;
        case ZIPC_INSPECT_TOPIC: json_topic(j, g); break;
        case ZIPC_INSPECT_QUEUE:
        case ZIPC_INSPECT_RPC: json_queue(j, g); break;
        default: break;
        }
        json_close(j, '}');
    }
    json_close(j, '}');
}

void zt_json_error(struct json *j, const struct zt_segment *g)
{
    json_open(j, NULL, '{');
    json_str(j, "path", g->path);
    json_open(j, "pids", '[');
    for (unsigned i = 0; i < g->npids; i++)
        json_u64(j, NULL, (uint64_t)g->pids[i]);
    json_close(j, ']');
    json_str(j, "error", zipc_err_name(g->err));
    json_str(j, "message", zt_error_text(g->err));
    json_close(j, '}');
}

/* ---- text ------------------------------------------------------------------------------ */

/* The label, printable: control bytes and non-ASCII become '?' (a hostile
 * label must not drive the terminal). */
static const char *printable(const char *label, char out[64])
{
    size_t i = 0;
    for (; i < 63 && label[i]; i++)
        out[i] = label[i] >= 0x20 && label[i] < 0x7f ? label[i] : '?';
    out[i] = 0;
    return out;
}

static void members_text(const struct zt_segment *g, char *buf, size_t n)
{
    const struct zipc_segment_info *in = &g->info;
    switch (in->detail) {
    case ZIPC_INSPECT_CHANNEL:
        snprintf(buf, n, "producer %u, consumer %u", in->channel.producer.pid, in->channel.consumer.pid);
        break;
    case ZIPC_INSPECT_TOPIC:
        snprintf(buf, n, "publisher %u, %u subscriber%s", in->topic.publisher.pid, in->topic.subscribers,
                 in->topic.subscribers == 1 ? "" : "s");
        break;
    case ZIPC_INSPECT_QUEUE:
    case ZIPC_INSPECT_RPC:
        snprintf(buf, n, "%u %.*s, %u %.*s", in->queue.producers, (int)strlen(producers_word(g)) - (in->queue.producers == 1),
                 producers_word(g), in->queue.consumers, (int)strlen(consumers_word(g)) - (in->queue.consumers == 1),
                 consumers_word(g));
        break;
    case ZIPC_INSPECT_STORE:
        snprintf(buf, n, "v%" PRIu64 "%s, %u tensors, %u holder%s", in->store.version,
                 store_latest(g) > in->store.version ? " (old)" : "", in->store.tensors, g->npids,
                 g->npids == 1 ? "" : "s");
        break;
    default: snprintf(buf, n, "-");
    }
}

void zt_text_ls_header(FILE *f)
{
    fprintf(f, "%-8s %-20s %10s  %-19s  %-36s %s\n", "KIND", "NAME", "CAPACITY", "CREATED", "MEMBERS", "PIDS");
}

void zt_text_ls_row(FILE *f, const struct zt_segment *g)
{
    char name[64], cap[16], when[32], members[96];
    members_text(g, members, sizeof(members));
    fprintf(f, "%-8s %-20s %10s  %-19s  %-36s ", zt_kind_name(g), printable(g->info.label, name),
            zt_capacity(g) ? zt_bytes(zt_capacity(g), cap) : "-", zt_time(g->info.created_ns, when), members);
    for (unsigned i = 0; i < g->npids; i++)
        fprintf(f, "%s%d", i ? "," : "", g->pids[i]);
    fputc('\n', f);
}

const char *zt_error_text(int err)
{
    /* zipc_strerror speaks of endpoints; here it is a segment looked at */
    return err == -EBADMSG ? "not a valid zipc segment (bad header, seals or layout)"
           : err == -EPROTO ? "a zipc segment of another ABI major version"
                            : zipc_strerror(err);
}

void zt_text_error(FILE *f, const struct zt_segment *g)
{
    fprintf(f, "zipc: %s (pid", g->path);
    for (unsigned i = 0; i < g->npids; i++)
        fprintf(f, "%s%d", i ? "," : " ", g->pids[i]);
    fprintf(f, "): %s (%s)\n", zt_error_text(g->err), zipc_err_name(g->err));
}

static void side_text(FILE *f, const char *what, const struct zipc_inspect_side *s)
{
    char b[16];
    fprintf(f, "  %-10s pid %-7u %-6s %12" PRIu64 " msgs %12s  wakeups %" PRIu64 "  sleeps %" PRIu64 "\n", what,
            s->pid, state_name(s->state), s->messages, zt_bytes(s->bytes, b), s->wakeups, s->sleeps);
}

static void topic_text(FILE *f, const struct zt_segment *g)
{
    const struct zipc_inspect_topic *t = &g->info.topic;
    fprintf(f, "  max message %u B, oldest message #%" PRIu64 ", %u of %u subscriber slots used\n", t->max_message,
            t->oldest_seq, t->subscribers, t->max_subscribers);
    side_text(f, "publisher", &t->publisher);
    for (uint32_t i = 0; i < t->listed; i++) {
        const struct zipc_inspect_subscriber *s = &t->sub[i];
        const struct zipc_inspect_cursor *c = cursor_of(g, s->slot);
        uint64_t head = sub_head(g, s);
        fprintf(f, "  subscriber slot %-3u pid %-7u %-11s next #%-10" PRIu64 " lag %-8" PRIu64, s->slot, s->pid,
                policy_name(s->policy), head, lag_of(t->publisher.messages, head));
        if (c)
            fprintf(f, " lost %" PRIu64 "  wakeups %" PRIu64 "  sleeps %" PRIu64 "%s\n", c->lost_messages,
                    c->side.wakeups, c->side.sleeps, c->evicted ? "  EVICTED" : "");
        else
            fprintf(f, " (publisher's last look)\n");
    }
    if (t->subscribers > t->listed)
        fprintf(f, "  ... and %u more subscribers\n", t->subscribers - t->listed);
}

static void queue_text(FILE *f, const struct zt_segment *g)
{
    const struct zipc_inspect_queue *q = &g->info.queue;
    char b[16];
    bool rpc = g->info.detail == ZIPC_INSPECT_RPC;
    uint64_t queued = 0, held = 0;
    for (unsigned i = 0; i < q->lane_hwm; i++) {
        const struct zipc_inspect_lane *l = &q->lane[i];
        queued += l->queued;
        fprintf(f, "  %s %-3u pid %-7u %-8s %12" PRIu64 " msgs %12s  queued %-6u wakeups %" PRIu64 "  sleeps %" PRIu64
                   "\n",
                rpc ? "client" : "lane  ", i, l->member.alive ? l->member.pid : 0,
                (q->lanes_open >> i) & 1 ? "attached" : "closed", l->producer.messages, zt_bytes(l->producer.bytes, b),
                l->queued, l->producer.wakeups, l->producer.sleeps);
    }
    for (unsigned i = 0; i < ZIPC_INSPECT_QUEUE_CONSUMERS; i++) {
        const struct zipc_inspect_consumer *c = &q->consumer[i];
        if (!c->member.alive && !c->messages && !c->held)
            continue;
        held += c->held;
        fprintf(f, "  %s %-3u pid %-7u held %-4u %12" PRIu64 " msgs %12s  redelivered %" PRIu64 "  wakeups %" PRIu64
                   "  sleeps %" PRIu64 "\n",
                rpc ? "worker" : "consumer", i, c->member.alive ? c->member.pid : 0, c->held, c->messages,
                zt_bytes(c->bytes, b), c->redelivered, c->wakeups, c->sleeps);
    }
    fprintf(f, rpc ? "  calls queued %" PRIu64 ", in service %" PRIu64 "\n" : "  queued %" PRIu64 ", held %" PRIu64 "\n",
            queued, held);
}

void zt_text_stat(FILE *f, const struct zt_segment *g)
{
    char name[64], b1[16], b2[16], when[32], members[96];
    const struct zipc_segment_info *in = &g->info;
    members_text(g, members, sizeof(members));
    fprintf(f, "%s %s  (%s)\n", zt_kind_name(g), printable(in->label, name), g->path);
    fprintf(f, "  created %s by pid %u (uid %u), segment %s, capacity %s, ABI %u.%u\n", zt_time(in->created_ns, when),
            in->creator_pid, in->creator_uid, zt_bytes(in->segment_size, b1), zt_bytes(zt_capacity(g), b2),
            in->abi_major, in->abi_minor);
    fprintf(f, "  members: %s; held by pid", members);
    for (unsigned i = 0; i < g->npids; i++)
        fprintf(f, "%s%d", i ? "," : " ", g->pids[i]);
    fputc('\n', f);
    switch (in->detail) {
    case ZIPC_INSPECT_CHANNEL:
        fprintf(f, "  max message %u B, ring used %s\n", in->channel.max_message, zt_bytes(in->channel.ring_used, b1));
        side_text(f, "producer", &in->channel.producer);
        side_text(f, "consumer", &in->channel.consumer);
        break;
    case ZIPC_INSPECT_TOPIC: topic_text(f, g); break;
    case ZIPC_INSPECT_QUEUE:
    case ZIPC_INSPECT_RPC: queue_text(f, g); break;
    case ZIPC_INSPECT_STORE:
        fprintf(f, "  version %" PRIu64 " (newest %" PRIu64 "), %u tensors of %s, %u metadata pairs, align %u B\n",
                in->store.version, store_latest(g) ? store_latest(g) : in->store.version, in->store.tensors,
                zt_bytes(in->store.tensor_bytes, b1), in->store.metadata, in->store.align);
        break;
    default: fprintf(f, "  (no counters for this kind)\n");
    }
}

/* zipc bridge --from A --to B: carry a zipc object's messages between hosts
 * over ZeroMQ (TCP). One side reads a local object and sends ("out"):
 *   zipc bridge --from topic:NAME --to tcp://HOST:PORT
 * the other receives and re-injects them into a local object ("in"):
 *   zipc bridge --from tcp://HOST:PORT --to topic:NAME
 * (queue:NAME and channel:NAME likewise). The receiving side binds, the
 * sending side connects. The protocol (docs/DESIGN.md §15, wire format in
 * docs/ABI.md §16, tools/bridge_wire.h):
 *   - every frame carries the sender's session id and a stream seq;
 *   - the receiver grants credits (an absolute limit: "send seq < limit"),
 *     so at most a window of messages is in flight;
 *   - a lossless source (BLOCK topic subscription, queue, channel) keeps its
 *     views of the unacknowledged messages open and resends them after a
 *     reconnect: nothing that was not acknowledged is lost; a DROP_OLDEST
 *     subscription forwards its -EOVERFLOW losses as gap frames;
 *   - the receiver reports every gap and new session on stderr and in its
 *     counters (the summary printed at exit).
 * One thread per bridge; SIGINT/SIGTERM stop it cleanly. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bridge_wire.h"
#include "commands.h"
#include "zipc.h"

#define POLL_MS 100              /* the longest any wait lasts: the stop flag is seen this often */
#define HEARTBEAT_NS 250000000   /* the receiver's credit refresh while idle */
#define SILENCE_NS 1000000000    /* the sender says hello again after this much silence */
#define DEFAULT_WINDOW 1024
#define MAX_WINDOW 65536
#define DEFAULT_CAPACITY (4u << 20)
#define RECV_BATCH 256

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void catch_stop(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop; /* no SA_RESTART: zmq_poll returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("zipc bridge: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- arguments ------------------------------------------------------------ */

enum obj_kind { OBJ_TOPIC, OBJ_QUEUE, OBJ_CHANNEL };
static const char *const kind_names[] = {"topic", "queue", "channel"};

struct end {
    bool net;          /* tcp://HOST:PORT */
    enum obj_kind kind;
    const char *name;  /* the object's name, or the whole tcp:// address */
};

struct config {
    struct end from, to;
    bool drop;          /* a DROP_OLDEST topic subscription */
    bool allow_remote;
    uint32_t window;    /* messages in flight at most */
    size_t capacity;    /* the receiving object's ring bytes */
    uint32_t subscribers; /* a receiving topic: wait for these before taking any message */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: zipc bridge --from SRC --to DST [options]\n"
               "  carry messages between hosts over ZeroMQ (TCP). One side sends:\n"
               "    zipc bridge --from topic:NAME --to tcp://HOST:PORT\n"
               "  the other receives into a local object (it binds HOST:PORT):\n"
               "    zipc bridge --from tcp://HOST:PORT --to topic:NAME\n"
               "  objects: topic:NAME, queue:NAME, channel:NAME (the bridge listens on a\n"
               "  channel: the local peer connects to it).\n"
               "  --drop            subscribe to a topic with DROP_OLDEST (default BLOCK: a slow\n"
               "                    remote holds the publisher back); losses are forwarded as gaps\n"
               "  --window N        messages in flight at most (default %d)\n"
               "  --capacity BYTES  the receiving topic's ring / queue lane / channel ring\n"
               "                    (default %u)\n"
               "  --subscribers N   a receiving topic: take no message before N local subscribers\n"
               "                    are attached (none is then lost to a late subscriber)\n"
               "  --allow-remote    allow a non-loopback address (there is no encryption or\n"
               "                    authentication: use a trusted network)\n"
               "Gaps and new sessions are reported on stderr; a summary is printed at exit.\n"
               "A sender exits 0 once its source ended and everything read was delivered, 1 if\n"
               "reading the source failed (after delivering what it had read).\n",
            DEFAULT_WINDOW, DEFAULT_CAPACITY);
}

static int parse_end(const char *s, struct end *e)
{
    memset(e, 0, sizeof(*e));
    if (!strncmp(s, "tcp://", 6)) {
        e->net = true;
        e->name = s;
        return 0;
    }
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(kind_names[k]);
        if (!strncmp(s, kind_names[k], n) && s[n] == ':' && s[n + 1]) {
            e->kind = (enum obj_kind)k;
            e->name = s + n + 1;
            return 0;
        }
    }
    return -EINVAL;
}

/* Is tcp://HOST:PORT on this machine only? Loopback addresses and
 * "localhost"; anything else (a wildcard, a name, another address) is remote. */
static bool loopback_address(const char *addr)
{
    const char *host = addr + 6, *colon = strrchr(host, ':');
    if (!colon || colon == host)
        return false;
    char h[64];
    size_t n = (size_t)(colon - host);
    if (n >= sizeof(h))
        return false;
    memcpy(h, host, n);
    h[n] = 0;
    if (!strcmp(h, "localhost") || !strcmp(h, "[::1]"))
        return true;
    struct in_addr a;
    return inet_pton(AF_INET, h, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static bool parse_count(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, struct config *c)
{
    memset(c, 0, sizeof(*c));
    c->window = DEFAULT_WINDOW;
    c->capacity = DEFAULT_CAPACITY;
    const char *from = NULL, *to = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return 1;
        if (!strcmp(a, "--drop"))
            c->drop = true;
        else if (!strcmp(a, "--allow-remote"))
            c->allow_remote = true;
        else if (!strcmp(a, "--from") && v)
            from = argv[++i];
        else if (!strcmp(a, "--to") && v)
            to = argv[++i];
        else if (!strcmp(a, "--window") && v && parse_count(v, 1, MAX_WINDOW, &n))
            c->window = (uint32_t)n, i++;
        else if (!strcmp(a, "--subscribers") && v && parse_count(v, 1, ZIPC_TOPIC_MAX_SUBSCRIBERS, &n))
            c->subscribers = (uint32_t)n, i++;
        else if (!strcmp(a, "--capacity") && v && parse_count(v, ZIPC_MIN_CAPACITY, ZIPC_MAX_CAPACITY, &n))
            c->capacity = (size_t)n, i++;
        else {
            fprintf(stderr, "zipc bridge: bad argument '%s'\n", a);
            return -EINVAL;
        }
    }
    if (!from || !to || parse_end(from, &c->from) || parse_end(to, &c->to) || c->from.net == c->to.net) {
        fprintf(stderr, "zipc bridge: need --from and --to, one an object (topic:NAME, queue:NAME, "
                        "channel:NAME), the other tcp://HOST:PORT\n");
        return -EINVAL;
    }
    const struct end *net = c->from.net ? &c->from : &c->to;
    if (!c->allow_remote && !loopback_address(net->name)) {
        fprintf(stderr, "zipc bridge: %s is not a loopback address: pass --allow-remote to use it "
                        "(the bridge neither encrypts nor authenticates)\n", net->name);
        return -EPERM;
    }
    if (c->subscribers && (c->to.net || c->to.kind != OBJ_TOPIC)) {
        fprintf(stderr, "zipc bridge: --subscribers applies to a receiving topic only\n");
        return -EINVAL;
    }
    if (c->drop && (c->from.net || c->from.kind != OBJ_TOPIC)) {
        fprintf(stderr, "zipc bridge: --drop applies to a topic source only\n");
        return -EINVAL;
    }
    return 0;
}

static uint64_t new_session(void)
{
    uint64_t s = 0;
    while (!s)
        if (getrandom(&s, sizeof(s), 0) != sizeof(s))
            s = (uint64_t)now_ns() ^ (uint64_t)getpid() << 32;
    return s;
}

/* ---- the local object --------------------------------------------------------
 * One of three kinds behind the few calls a bridge makes. */
struct local {
    enum obj_kind kind;
    zipc_publisher *pub;
    zipc_subscriber *sub;
    zipc_queue *q;
    zipc_channel *ch;
};

/* Open the object, waiting (POLL_MS at a time) until it can be: a topic
 * source until its publisher exists, a channel until its peer connects. */
static int local_open(struct local *l, const struct end *e, bool source, const struct config *c)
{
    memset(l, 0, sizeof(*l));
    l->kind = e->kind;
    struct zipc_options o = {.timeout_ns = POLL_MS * INT64_C(1000000)};
    struct zipc_subscription s = {.policy = c->drop ? ZIPC_SUB_DROP_OLDEST : ZIPC_SUB_BLOCK};
    struct zipc_queue_config qc = {.lane_capacity = c->capacity};
    int r;
    do {
        switch (e->kind) {
        case OBJ_TOPIC:
            r = source ? zipc_topic_subscribe(&l->sub, e->name, &s, &o)
                       : zipc_topic_create(&l->pub, e->name, c->capacity, 0, &o);
            break;
        case OBJ_QUEUE: { /* it waits for no peer: only a handshake with members, the default timeout */
            struct zipc_options qo = {0};
            r = zipc_queue_open(&l->q, e->name, source ? ZIPC_ROLE_CONSUMER : ZIPC_ROLE_PRODUCER, &qc, &qo);
            break;
        }
        default:
            o.role = source ? ZIPC_ROLE_CONSUMER : ZIPC_ROLE_PRODUCER;
            r = zipc_channel_listen(&l->ch, e->name, c->capacity, &o);
        }
    } while ((r == -ETIMEDOUT || r == -ENOENT || r == -ECONNREFUSED || r == -EINTR) && !stop_flag);
    return r;
}

static void local_close(struct local *l)
{
    zipc_publisher_close(l->pub);
    zipc_subscriber_close(l->sub);
    zipc_queue_close(l->q);
    zipc_channel_close(l->ch);
}

static int local_fd(struct local *l)
{
    return l->sub ? zipc_subscriber_fd(l->sub) : l->q ? zipc_queue_fd(l->q) : zipc_channel_fd(l->ch);
}

static int local_view(struct local *l, struct zipc_msg *m)
{
    return l->sub ? zipc_subscriber_view(l->sub, m, ZIPC_TRY)
           : l->q ? zipc_queue_view(l->q, m, ZIPC_TRY)
                  : zipc_channel_view(l->ch, m, ZIPC_TRY);
}

/* Give back the view m and every older one still open (views are released
 * oldest first). first..m are the open views, in order. */
static int local_release(struct local *l, const struct zipc_msg *m)
{
    return l->sub ? zipc_subscriber_release_upto(l->sub, m)
           : l->q ? zipc_queue_release_view(l->q, m)
                  : zipc_channel_release_upto(l->ch, m);
}

static int local_reserve(struct local *l, size_t size, void **buf, int64_t timeout_ns)
{
    return l->pub ? zipc_publisher_reserve(l->pub, size, buf, timeout_ns)
           : l->q ? zipc_queue_reserve(l->q, size, buf, timeout_ns)
                  : zipc_channel_reserve(l->ch, size, buf, timeout_ns);
}

static int local_commit(struct local *l, size_t size, uint32_t type)
{
    return l->pub ? zipc_publisher_commit(l->pub, size, type, ZIPC_COMMIT_MORE)
           : l->q ? zipc_queue_commit(l->q, size, type, ZIPC_COMMIT_MORE)
                  : zipc_channel_commit(l->ch, size, type, ZIPC_COMMIT_MORE);
}

static int local_flush(struct local *l)
{
    return l->pub ? zipc_publisher_flush(l->pub) : l->q ? zipc_queue_flush(l->q) : zipc_channel_flush(l->ch);
}

/* ---- ZeroMQ ------------------------------------------------------------------ */

static void *net_open(void *ctx, const char *addr, bool bind, uint32_t window)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    if (!s)
        return NULL;
    int linger = 0, hwm = (int)window * 2 + 64, immediate = 1;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    /* nothing is queued for a peer that is not connected: a frame is either
     * on its way to a live receiver or refused (EAGAIN) at once */
    zmq_setsockopt(s, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
    if ((bind ? zmq_bind(s, addr) : zmq_connect(s, addr)) < 0) {
        say("cannot %s %s: %s", bind ? "bind" : "connect to", addr, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Send a control frame; a frame refused (no peer now) is simply not sent:
 * every control frame is repeated until it has effect. */
static void send_control(void *sock, const struct zb_frame *f)
{
    uint8_t buf[ZB_CONTROL_MAX];
    size_t n = zb_encode_control(buf, f);
    if (n)
        zmq_send(sock, buf, n, ZMQ_DONTWAIT);
}

/* ---- sending side ---------------------------------------------------------------- */

struct out {
    const struct config *cfg;
    struct local src;
    void *sock;
    bool lossy;          /* DROP_OLDEST: views are not pinned, nothing is resent */
    uint64_t session;
    uint64_t rsession;   /* the receiver's, from its credits; 0: none yet */
    uint64_t acked;      /* the receiver has every seq below */
    uint64_t next;       /* the next seq to send */
    uint64_t viewed;     /* the next seq to view (lossless: held views are acked..viewed) */
    uint64_t limit;      /* credit: send seq < limit */
    struct zipc_msg *held; /* lossless: the open views, by seq & mask */
    uint64_t mask;
    zmq_msg_t pending;   /* a built frame the socket refused, sent first next time */
    bool has_pending;
    bool src_done;
    bool src_failed;     /* the source ended with an error, not -EPIPE: we exit 1 */
    int64_t heard_ns, hello_ns;
    uint64_t sent, bytes, resent, lost, gaps;
};

static void out_hello(struct out *o)
{
    struct zb_frame f = {.kind = ZB_HELLO, .flags = o->lossy ? ZB_HELLO_LOSSY : 0, .session = o->session,
                         .seq = o->acked};
    send_control(o->sock, &f);
    o->hello_ns = now_ns();
}

static void out_drop_pending(struct out *o)
{
    if (o->has_pending)
        zmq_msg_close(&o->pending);
    o->has_pending = false;
}

/* Hand the built frame to ZeroMQ; false if refused (kept as pending). */
static bool out_push(struct out *o, zmq_msg_t *m)
{
    if (zmq_msg_send(m, o->sock, ZMQ_DONTWAIT) >= 0)
        return true;
    if (m != &o->pending) { /* refused: the caller still owns it */
        zmq_msg_init(&o->pending);
        zmq_msg_move(&o->pending, m);
        zmq_msg_close(m);
        o->has_pending = true;
    }
    return false;
}

static bool out_send_gap(struct out *o, uint64_t seq, uint64_t count)
{
    uint8_t buf[ZB_CONTROL_MAX];
    struct zb_frame f = {.kind = ZB_GAP, .session = o->session, .seq = seq, .count = count};
    size_t n = zb_encode_control(buf, &f);
    zmq_msg_t m;
    zmq_msg_init_size(&m, n);
    memcpy(zmq_msg_data(&m), buf, n);
    o->gaps++;
    return out_push(o, &m);
}

/* Build the data frame for view v as seq and send it. */
static bool out_send_view(struct out *o, const struct zipc_msg *v, uint64_t seq)
{
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, ZB_HEADER + (size_t)v->size))
        return false;
    struct zb_frame f = {.kind = ZB_DATA, .session = o->session, .seq = seq, .type = v->type, .length = v->size};
    zb_put_header(zmq_msg_data(&m), &f);
    memcpy((uint8_t *)zmq_msg_data(&m) + ZB_HEADER, v->data, v->size);
    if (o->lossy) {
        /* not pinned: the copy is good only if the publisher did not
         * overwrite the view meanwhile (-ESTALE: a loss, sent as a gap) */
        int r = local_release(&o->src, v);
        if (r == -ESTALE) {
            zmq_msg_close(&m);
            o->lost++;
            return out_send_gap(o, seq, 1);
        }
    }
    o->sent++;
    o->bytes += v->size;
    return out_push(o, &m);
}

/* The receiver has every seq below ack: give the views back. (After a
 * rewind, frames sent before it may still be taken: ack may pass next.) */
static void out_ack(struct out *o, uint64_t ack)
{
    if (ack <= o->acked || ack > o->viewed)
        return;
    if (ack > o->next)
        o->next = ack;
    if (!o->lossy) {
        if (o->src.q) /* a queue's views are released one by one */
            for (uint64_t s = o->acked; s < ack; s++)
                local_release(&o->src, &o->held[s & o->mask]);
        else
            local_release(&o->src, &o->held[(ack - 1) & o->mask]);
    }
    o->acked = ack;
}

/* Start again from seq `from` (a new receiver, or it asked to resend):
 * lossless sources resend their held views; a lossy one reports what the
 * receiver will not get as a gap. */
static void out_rewind(struct out *o, uint64_t from)
{
    out_drop_pending(o);
    if (o->lossy) {
        if (o->next > from && out_send_gap(o, from, o->next - from))
            o->lost += o->next - from;
    } else {
        o->resent += o->next - from;
        o->next = from;
    }
}

static void out_control(struct out *o, const struct zb_frame *f)
{
    if (f->kind != ZB_CREDIT || f->peer != o->session)
        return; /* a stale credit (another session of ours), or not for a sender */
    o->heard_ns = now_ns();
    if (f->session != o->rsession) {
        /* a new receiver has nothing of what was in flight: start again at
         * acked, hello first (it drops frames of a session it has not been
         * introduced to), then wait for its credit */
        if (o->rsession)
            say("receiver restarted (session %016" PRIx64 "): resuming from seq %" PRIu64, f->session, o->acked);
        o->rsession = f->session;
        o->limit = o->acked;
        out_hello(o);
        out_rewind(o, o->acked);
        return;
    }
    out_ack(o, f->seq);
    if (f->flags & ZB_CREDIT_RESEND && f->seq == o->acked && o->next > o->acked)
        out_rewind(o, o->acked);
    o->limit = f->limit; /* absolute, and credits arrive in order: the latest holds */
}

static void out_read_control(struct out *o)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, o->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        struct zb_frame f;
        if (!zb_parse(zmq_msg_data(&m), zmq_msg_size(&m), &f))
            out_control(o, &f);
        zmq_msg_close(&m);
    }
}

/* Send what the credit allows. Returns true if it did anything; *wait_src
 * when it stopped because the source had nothing. */
static bool out_pump(struct out *o, bool *wait_src)
{
    bool did = false;
    *wait_src = false;
    if (o->has_pending) {
        if (!out_push(o, &o->pending))
            return false;
        o->has_pending = false;
        did = true;
    }
    uint64_t cap = o->acked + o->mask + 1;
    uint64_t stop = o->limit < cap ? o->limit : cap;
    while (o->next < stop && !stop_flag) {
        if (o->next < o->viewed) { /* a resend */
            did = true;
            uint64_t seq = o->next++;
            if (!out_send_view(o, &o->held[seq & o->mask], seq))
                return did;
            continue;
        }
        if (o->src_done) {
            break;
        }
        struct zipc_msg v;
        int r = local_view(&o->src, &v);
        if (r == -EAGAIN) {
            *wait_src = true;
            break;
        }
        did = true;
        if (r == -EOVERFLOW) {
            uint64_t msgs = 0;
            zipc_subscriber_last_loss(o->src.sub, &msgs, NULL);
            if (!msgs)
                continue;
            o->lost += msgs;
            uint64_t seq = o->next;
            o->next = o->viewed = seq + msgs;
            if (!out_send_gap(o, seq, msgs))
                return did;
            continue;
        }
        if (r == -EPIPE) {
            say("the source %s:%s ended", kind_names[o->src.kind], o->cfg->from.name);
            o->src_done = true;
            break;
        }
        if (r) {
            say("reading %s:%s: %s", kind_names[o->src.kind], o->cfg->from.name, zipc_strerror(r));
            o->src_done = o->src_failed = true; /* what was read still goes out; then exit 1 */
            break;
        }
        if (!o->lossy)
            o->held[o->next & o->mask] = v;
        o->viewed++;
        uint64_t seq = o->next++;
        if (!out_send_view(o, &v, seq))
            return did;
    }
    return did;
}

static int run_out(const struct config *cfg, void *ctx)
{
    struct out o = {.cfg = cfg, .lossy = cfg->drop, .session = new_session()};
    uint64_t slots = 1;
    while (slots < cfg->window)
        slots <<= 1;
    o.mask = slots - 1;
    o.held = calloc(slots, sizeof(*o.held));
    o.sock = net_open(ctx, cfg->to.name, false, cfg->window);
    if (!o.held || !o.sock) {
        free(o.held);
        return 1;
    }
    int r = local_open(&o.src, &cfg->from, true, cfg);
    if (r) {
        if (!stop_flag)
            say("cannot open %s:%s: %s", kind_names[cfg->from.kind], cfg->from.name, zipc_strerror(r));
        zmq_close(o.sock);
        free(o.held);
        return stop_flag ? 0 : 1;
    }
    say("%s:%s -> %s (session %016" PRIx64 ", %s, window %u)", kind_names[cfg->from.kind], cfg->from.name,
        cfg->to.name, o.session, o.lossy ? "DROP_OLDEST: losses forwarded as gaps" : "lossless",
        cfg->window);
    int fd = local_fd(&o.src);
    out_hello(&o);
    while (!stop_flag) {
        out_read_control(&o);
        int64_t t = now_ns();
        if ((!o.rsession && t - o.hello_ns > HEARTBEAT_NS) || (t - o.heard_ns > SILENCE_NS && t - o.hello_ns > SILENCE_NS))
            out_hello(&o);
        if (o.src_done && o.acked == o.next && o.next == o.viewed)
            break;
        bool wait_src;
        if (out_pump(&o, &wait_src))
            continue;
        zmq_pollitem_t it[2] = {{.socket = o.sock, .events = ZMQ_POLLIN | (o.has_pending ? ZMQ_POLLOUT : 0)},
                                {.fd = fd, .events = ZMQ_POLLIN}};
        zmq_poll(it, wait_src ? 2 : 1, POLL_MS);
    }
    say("sent %" PRIu64 " messages (%" PRIu64 " bytes), resent %" PRIu64 ", %" PRIu64 " gaps (%" PRIu64
        " messages lost before the wire), acknowledged up to seq %" PRIu64,
        o.sent, o.bytes, o.resent, o.gaps, o.lost, o.acked);
    out_drop_pending(&o);
    local_close(&o.src);
    zmq_close(o.sock);
    free(o.held);
    return o.src_failed ? 1 : 0;
}

/* ---- receiving side ------------------------------------------------------------ */

struct in {
    const struct config *cfg;
    struct local dst;
    void *sock;
    uint64_t session;  /* ours */
    uint64_t peer;     /* the sender's session; 0: none yet */
    uint64_t expected; /* the next seq to take */
    uint64_t committed; /* every seq below is published locally (flushed) or reported lost */
    uint64_t credited; /* the ack of the last credit sent */
    uint64_t resend_at; /* the seq a resend was last asked from (once per seq) */
    int64_t credit_ns, stranger_ns;
    bool lossy, staged;
    uint64_t messages, bytes, lost, gaps, sessions, duplicates, ignored;
};

/* Acknowledge what is published locally, not merely staged: a message
 * acknowledged is one the sender forgets, so it must survive our death. */
static void in_credit(struct in *i, bool resend)
{
    struct zb_frame f = {.kind = ZB_CREDIT, .flags = resend ? ZB_CREDIT_RESEND : 0, .session = i->session,
                         .seq = i->committed, .limit = i->committed + i->cfg->window, .peer = i->peer};
    send_control(i->sock, &f);
    i->credited = i->committed;
    i->credit_ns = now_ns();
}

static void in_flush(struct in *i)
{
    if (i->staged)
        local_flush(&i->dst);
    i->staged = false;
    i->committed = i->expected;
}

/* A data or gap frame of a session that did not say hello to us (we
 * restarted, it goes on): tell it who we are, at most every POLL_MS. */
static void in_stranger(struct in *i, uint64_t session)
{
    i->ignored++;
    if (now_ns() - i->stranger_ns < POLL_MS * INT64_C(1000000))
        return;
    struct zb_frame f = {.kind = ZB_CREDIT, .flags = ZB_CREDIT_RESEND, .session = i->session, .peer = session};
    send_control(i->sock, &f);
    i->stranger_ns = now_ns();
}

static void in_lost(struct in *i, uint64_t from, uint64_t count, const char *why)
{
    i->lost += count;
    i->gaps++;
    say("session %016" PRIx64 ": %" PRIu64 " messages lost (seq %" PRIu64 "..%" PRIu64 ", %s); %" PRIu64
        " lost in total",
        i->peer, count, from, from + count - 1, why, i->lost);
}

static void in_hello(struct in *i, const struct zb_frame *f)
{
    if (f->session != i->peer) {
        if (i->peer)
            say("new session %016" PRIx64 " from seq %" PRIu64 " (the sender restarted; session %016" PRIx64
                " ended at seq %" PRIu64 ")",
                f->session, f->seq, i->peer, i->expected);
        else
            say("session %016" PRIx64 " from seq %" PRIu64 "%s", f->session, f->seq,
                f->seq ? " (messages before it went to an earlier receiver)" : "");
        i->sessions++;
        in_flush(i); /* the previous session's messages are out */
        i->peer = f->session;
        i->expected = i->committed = f->seq;
        i->lossy = f->flags & ZB_HELLO_LOSSY;
        i->resend_at = UINT64_MAX;
    } else if (f->seq > i->expected) {
        in_lost(i, i->expected, f->seq - i->expected, "skipped by the sender");
        i->expected = f->seq;
    }
    in_credit(i, false);
}

/* Wait for room in the local object for size bytes (a slow local reader
 * holds us here: we grant no credit meanwhile). */
static int in_reserve(struct in *i, size_t size, void **buf)
{
    int r = local_reserve(&i->dst, size, buf, ZIPC_TRY);
    if (r != -EAGAIN)
        return r;
    in_flush(i); /* what is staged must be visible for the reader to make room */
    do {
        if (now_ns() - i->credit_ns > HEARTBEAT_NS)
            in_credit(i, false); /* the sender knows we are alive, not granting */
        r = local_reserve(&i->dst, size, buf, POLL_MS * INT64_C(1000000));
    } while ((r == -ETIMEDOUT || r == -EAGAIN || r == -EINTR) && !stop_flag);
    return stop_flag && r ? -ECANCELED : r;
}

/* 0, or a fatal error of the local object. */
static int in_data(struct in *i, const struct zb_frame *f)
{
    if (f->session != i->peer) {
        in_stranger(i, f->session);
        return 0;
    }
    if (f->seq > i->expected && !i->lossy) {
        /* past a frame that did not arrive: ask once for a resend from it */
        i->ignored++;
        if (i->resend_at != i->expected) {
            i->resend_at = i->expected;
            in_credit(i, true);
        }
        return 0;
    }
    if (f->seq < i->expected) {
        i->duplicates++;
        return 0;
    }
    if (f->seq > i->expected) /* lossy: the frames between are gone */
        in_lost(i, i->expected, f->seq - i->expected, "not received");
    i->expected = f->seq + 1;
    void *buf;
    int r = in_reserve(i, f->length, &buf);
    if (r == -EMSGSIZE) {
        in_lost(i, f->seq, 1, "larger than the local object's largest message");
        return 0;
    }
    if (r)
        return r;
    memcpy(buf, f->payload, f->length);
    r = local_commit(&i->dst, f->length, f->type);
    i->staged = true;
    i->messages++;
    i->bytes += f->length;
    return r;
}

static int in_frame(struct in *i, const struct zb_frame *f)
{
    switch (f->kind) {
    case ZB_HELLO: in_hello(i, f); return 0;
    case ZB_DATA: return in_data(i, f);
    case ZB_GAP:
        if (f->session != i->peer)
            in_stranger(i, f->session);
        else if (f->seq + f->count <= i->expected)
            i->duplicates++;
        else {
            in_lost(i, i->expected, f->seq + f->count - i->expected, "lost by the sender");
            i->expected = f->seq + f->count;
        }
        return 0;
    default: return 0; /* credits go the other way */
    }
}

/* --subscribers: the topic's readers are there (false: stopped first). The
 * socket is bound only then: a sender meanwhile retries its hello. */
static bool await_subscribers(struct in *i)
{
    if (!i->cfg->subscribers)
        return true;
    say("waiting for %u subscribers of topic:%s", i->cfg->subscribers, i->cfg->to.name);
    while (!stop_flag && zipc_publisher_subscribers(i->dst.pub) < (int)i->cfg->subscribers) {
        struct timespec ts = {0, POLL_MS * 1000000L / 10};
        nanosleep(&ts, NULL);
    }
    return !stop_flag;
}

static int run_in(const struct config *cfg, void *ctx)
{
    struct in i = {.cfg = cfg, .session = new_session()};
    int r = local_open(&i.dst, &cfg->to, false, cfg);
    if (r) {
        if (!stop_flag)
            say("cannot open %s:%s: %s", kind_names[cfg->to.kind], cfg->to.name, zipc_strerror(r));
        return stop_flag ? 0 : 1;
    }
    if (!await_subscribers(&i) || !(i.sock = net_open(ctx, cfg->from.name, true, cfg->window))) {
        local_close(&i.dst);
        return stop_flag ? 0 : 1;
    }
    say("%s -> %s:%s (session %016" PRIx64 ", window %u)", cfg->from.name, kind_names[cfg->to.kind], cfg->to.name,
        i.session, cfg->window);
    int malformed = 0;
    while (!stop_flag && !r) {
        zmq_pollitem_t it = {.socket = i.sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, POLL_MS) > 0) {
            for (int n = 0; n < RECV_BATCH && !r && !stop_flag; n++) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, i.sock, ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&m);
                    break;
                }
                struct zb_frame f;
                int p = zb_parse(zmq_msg_data(&m), zmq_msg_size(&m), &f);
                if (p) {
                    if (!malformed++)
                        say("a malformed frame (%zu bytes: %s) ignored; further ones are counted",
                            zmq_msg_size(&m), zipc_strerror(p));
                } else
                    r = in_frame(&i, &f);
                zmq_msg_close(&m);
                /* publish and credit as we go: the sender refills while we work */
                if (i.peer && i.expected - i.credited >= cfg->window / 4 + 1) {
                    in_flush(&i);
                    in_credit(&i, false);
                }
            }
        }
        in_flush(&i);
        if (i.peer && (i.committed != i.credited || now_ns() - i.credit_ns > HEARTBEAT_NS))
            in_credit(&i, false);
    }
    if (r == -ECANCELED)
        r = 0; /* stopped while waiting for room */
    if (r)
        say("writing %s:%s: %s", kind_names[cfg->to.kind], cfg->to.name, zipc_strerror(r));
    say("received %" PRIu64 " messages (%" PRIu64 " bytes) in %" PRIu64 " sessions; lost %" PRIu64 " in %" PRIu64
        " gaps; %" PRIu64 " duplicates dropped; %d malformed frames",
        i.messages, i.bytes, i.sessions, i.lost, i.gaps, i.duplicates, malformed);
    local_close(&i.dst);
    zmq_close(i.sock);
    return r ? 1 : 0;
}

int zipc_bridge_main(int argc, char **argv)
{
    struct config cfg;
    int r = parse_args(argc, argv, &cfg);
    if (r) {
        usage(r > 0 ? stdout : stderr);
        return r > 0 ? 0 : 2;
    }
    catch_stop();
    signal(SIGPIPE, SIG_IGN);
    void *ctx = zmq_ctx_new();
    if (!ctx)
        return 1;
    int st = cfg.from.net ? run_in(&cfg, ctx) : run_out(&cfg, ctx);
    zmq_ctx_term(ctx);
    return st;
}

/* zipc bridge carries a stream unchanged and in order, as real processes
 * over tcp://127.0.0.1:<free port>: a producer process writes 10^5 typed
 * messages (sizes up to 4 KiB, contents derived from k) into a local
 * object; `zipc bridge --from KIND:src --to tcp://...` sends them; `zipc
 * bridge --from tcp://... --to KIND:dst` re-injects them into another
 * object; this process reads dst with the ordinary API and checks every
 * message's k, size, type and bytes. For a topic, a queue and a channel.
 * Both bridges report what they carried: no gap, nothing lost. */
#include "bridge_util.h"

#ifndef ZIPC_HAVE_ZMQ
int main(void)
{
    tu_skip("bridge_stream", "zipc bridge was not built (libzmq not found: apt-get install libzmq3-dev)");
    return tu_finish();
}
#else

#define MAX_MSG 4096
enum kind { TOPIC, QUEUE, CHANNEL };
static const char *const kinds[] = {"topic", "queue", "channel"};

static void producer(enum kind kind, const char *name, uint64_t n)
{
    struct zipc_options o = tu_opts(BU_WAIT_MS * TU_MS);
    if (kind == TOPIC) {
        zipc_publisher *p = NULL;
        if (!CHECK_OK(zipc_topic_create(&p, name, 1 << 20, 0, &o)))
            return;
        CHECK(tu_await_subscribers(p, 1, BU_WAIT_MS)); /* the sending bridge */
        for (uint64_t k = 0; k < n; k++)
            if (!CHECK_HOT_OK(bu_publish(p, tu_seed, k, MAX_MSG)))
                break;
        zipc_publisher_close(p);
    } else if (kind == QUEUE) {
        zipc_queue *q = NULL;
        if (!CHECK_OK(zipc_queue_open(&q, name, ZIPC_ROLE_PRODUCER, NULL, &o)))
            return;
        for (uint64_t k = 0; k < n; k++)
            if (!CHECK_HOT_OK(bu_queue_send(q, tu_seed, k, MAX_MSG)))
                break;
        zipc_queue_close(q);
    } else {
        zipc_channel *c = NULL;
        if (!CHECK_OK(zipc_channel_connect(&c, name, &o))) /* the sending bridge listens */
            return;
        for (uint64_t k = 0; k < n; k++)
            if (!CHECK_HOT_OK(tu_send_k(c, tu_seed, k, bu_size(tu_seed, k, MAX_MSG), 0, BU_WAIT_MS * TU_MS)))
                break;
        zipc_channel_close(c);
    }
}

struct reader {
    zipc_subscriber *sub;
    zipc_queue *q;
    zipc_channel *ch;
};

static int reader_view(struct reader *r, struct zipc_msg *m)
{
    int64_t t = BU_WAIT_MS * TU_MS;
    return r->sub ? zipc_subscriber_view(r->sub, m, t) : r->q ? zipc_queue_view(r->q, m, t)
                                                               : zipc_channel_view(r->ch, m, t);
}

static int reader_release(struct reader *r, const struct zipc_msg *m)
{
    return r->sub ? zipc_subscriber_release(r->sub) : r->q ? zipc_queue_release_view(r->q, m)
                                                            : zipc_channel_release(r->ch);
}

static void run(enum kind kind)
{
    uint64_t n = (uint64_t)tu_scaled(100000, 2000);
    char src[TU_NAME_MAX], dst[TU_NAME_MAX], from[80], to[80], addr[64], login[TU_PATH_MAX], logout[TU_PATH_MAX];
    tu_topic_name(src, "src");
    tu_topic_name(dst, "dst");
    snprintf(from, sizeof(from), "%s:%s", kinds[kind], src);
    snprintf(to, sizeof(to), "%s:%s", kinds[kind], dst);
    snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", bu_free_port());
    bu_log(login, kinds[kind]);
    strcat(login, ".in");
    bu_log(logout, kinds[kind]);
    strcat(logout, ".out");
    unlink(login);
    unlink(logout);
    printf("%s: %" PRIu64 " messages over %s\n", kinds[kind], n, addr);

    pid_t in = kind == TOPIC ? bu_spawn(login, "--from", addr, "--to", to, "--subscribers", "1")
                             : bu_spawn(login, "--from", addr, "--to", to);
    struct reader r = {0};
    struct zipc_options o = tu_opts(BU_WAIT_MS * TU_MS);
    int ok = kind == TOPIC ? zipc_topic_subscribe(&r.sub, dst, NULL, &o)
             : kind == QUEUE ? zipc_queue_open(&r.q, dst, ZIPC_ROLE_CONSUMER, NULL, &o)
                             : zipc_channel_connect(&r.ch, dst, &o);
    CHECK_OK(ok);
    pid_t out = bu_spawn(logout, "--from", from, "--to", addr);
    pid_t prod = tu_fork();
    if (prod == 0) {
        producer(kind, src, n);
        tu_child_exit();
    }
    uint64_t k = 0, bad = 0;
    for (; !ok && k < n; k++) {
        struct zipc_msg m;
        int v = reader_view(&r, &m);
        if (!CHECK_HOT_OK(v))
            break;
        if (!bu_is_k(&m, tu_seed, k, MAX_MSG) && bad++ < 3)
            CHECK_MSG(false, "%s: message %" PRIu64 " differs (size %u, type %u)", kinds[kind], k, m.size, m.type);
        reader_release(&r, &m);
    }
    CHECK_EQ(k, n);
    CHECK_EQ(bad, 0);
    CHECK_CHILD(prod, BU_WAIT_MS);
    /* the sending bridge ends by itself once its source ended and the receiver has everything */
    int st = tu_wait(out, BU_WAIT_MS);
    CHECK_MSG(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the sending bridge exits 0 (status %d)", st);
    CHECK_EQ(bu_stop(in), 0);
    zipc_subscriber_close(r.sub);
    zipc_queue_close(r.q);
    zipc_channel_close(r.ch);
    char *lin = bu_read(login), *lout = bu_read(logout), want[128];
    snprintf(want, sizeof(want), "received %" PRIu64 " messages", n);
    CHECK_MSG(strstr(lin, want) != NULL, "the receiving bridge reports '%s'", want);
    CHECK_MSG(strstr(lin, "lost 0 in 0 gaps") != NULL, "the receiving bridge lost nothing");
    CHECK_MSG(strstr(lin, "messages lost") == NULL, "no gap reported");
    CHECK_MSG(strstr(lout, "0 gaps (0 messages lost") != NULL, "the sending bridge lost nothing");
    bu_logs_done(login, logout);
    free(lin);
    free(lout);
}

int main(void)
{
    tu_init("bridge_stream", 600);
    run(TOPIC);
    run(QUEUE);
    run(CHANNEL);
    return tu_finish();
}
#endif

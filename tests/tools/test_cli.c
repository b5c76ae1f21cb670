/* zipc ls / stat / top (tools/), run as a subprocess against real objects:
 *  - forked processes hold a channel, a topic with 2 subscribers, a queue
 *    and an rpc service, with counters moved to known values, and a topic
 *    whose DROP_OLDEST subscriber was lapped (its losses);
 *  - `zipc ls --json` lists each with its kind, name, holders' pids and
 *    role pids; `zipc stat NAME --json` shows the counters as driven
 *    (messages per side, a subscriber's lag and losses, queued messages...); text
 *    output and PID:FD work too; an unknown name exits 1;
 *  - looking changes nothing: two stat snapshots around more ls/stat runs
 *    are identical (no wake-up, no sleep, no member slot taken);
 *  - hostile segments (a memfd named like a segment with a bad header; a
 *    valid header with a hostile label) give an error entry / a parseable
 *    label, never a crash;
 *  - objects appearing and dying during ls (a churning process) and a
 *    member killed with SIGKILL: every run exits 0 with valid JSON;
 *  - `zipc top --once` (and --json) shows a positive rate for a channel in use.
 * The JSON is checked by python3's json module, flattened to "path\tvalue"
 * lines that the checks below look up. */
#include <sys/mman.h>

#include "testutil.h"

#ifndef ZIPC_CLI
int main(void)
{
    tu_skip("tools_cli", "built without the zipc command (ZIPC_BUILD_TOOLS=OFF)");
    return tu_finish();
}
#else

#include "cli.h"

#define N_CHAN 10
#define N_TOPIC 5
#define SUB2_READS 2
#define N_QUEUE 7
#define QUEUE_READS 4
#define N_CALLS 3
#define WAIT_MS 20000

static char names[7][48]; /* chan, topic, queue, rpc, flow, churn, drops */
/* the forged objects' names, unique to this run (another run may be listing too) */
static char forged_queue[48], forged_topic[48], forged_cursor[48];
enum { CHAN, TOPIC, QUEUE, RPC, FLOW, CHURN, DROPS };
static int ready_pipe[2], done_pipe[2];
static int lapped_pipe[2]; /* the dropping topic's publisher lapped its subscriber */
static int lost_pipe[2];   /* that subscriber's own count of lost messages */
#define N_DROPS 300        /* into a 4 KiB ring: 64 frames of 64 bytes */

/* ---- holders ------------------------------------------------------------------- */

/* Ready, then hold the object until the parent says done (or goes). */
static void ready_and_hold(void)
{
    tu_notify(ready_pipe[1]);
    char c;
    while (read(done_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
}

static struct zipc_options opts(void) { return tu_opts(WAIT_MS * TU_MS); }

static pid_t spawn(void (*fn)(void *), void *arg)
{
    pid_t pid = tu_fork();
    if (pid == 0) {
        close(done_pipe[1]); /* EOF when the parent closes its end */
        fn(arg);
        tu_child_exit();
    }
    return pid;
}

static void chan_consumer(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    zipc_channel *c = NULL;
    if (!CHECK_OK(zipc_channel_listen(&c, names[CHAN], 4096, &o)))
        return;
    char buf[64];
    size_t n;
    for (int k = 0; k < N_CHAN; k++)
        CHECK_OK(zipc_channel_recv(c, buf, sizeof(buf), &n, NULL, WAIT_MS * TU_MS));
    ready_and_hold();
    zipc_channel_close(c);
}

static void chan_producer(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    zipc_channel *c = NULL;
    if (!CHECK_OK(zipc_channel_connect(&c, names[CHAN], &o)))
        return;
    for (int k = 0; k < N_CHAN; k++)
        CHECK_OK(zipc_channel_send(c, "hello", 5, 1, WAIT_MS * TU_MS));
    ready_and_hold();
    zipc_channel_close(c);
}

static void topic_publisher(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    zipc_publisher *p = NULL;
    if (!CHECK_OK(zipc_topic_create(&p, names[TOPIC], 8192, 8, &o)))
        return;
    int64_t end = tu_now_ns() + WAIT_MS * TU_MS;
    while (zipc_publisher_subscribers(p) < 2 && tu_now_ns() < end)
        tu_sleep_us(1000);
    CHECK_EQ(zipc_publisher_subscribers(p), 2);
    for (int k = 0; k < N_TOPIC; k++)
        CHECK_OK(zipc_publisher_send(p, "tick", 4, 2, WAIT_MS * TU_MS));
    ready_and_hold();
    zipc_publisher_close(p);
}

static void topic_subscriber(void *arg)
{
    int reads = (int)(intptr_t)arg;
    struct zipc_options o = opts();
    zipc_subscriber *s = NULL;
    if (!CHECK_OK(zipc_topic_subscribe(&s, names[TOPIC], NULL, &o)))
        return;
    char buf[64];
    size_t n;
    for (int k = 0; k < reads; k++)
        CHECK_OK(zipc_subscriber_recv(s, buf, sizeof(buf), &n, NULL, WAIT_MS * TU_MS));
    ready_and_hold();
    zipc_subscriber_close(s);
}

/* A DROP_OLDEST subscriber lapped by its publisher: losses to count. */
static void drops_publisher(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    zipc_publisher *p = NULL;
    if (!CHECK_OK(zipc_topic_create(&p, names[DROPS], 4096, 4, &o)))
        return;
    int64_t end = tu_now_ns() + WAIT_MS * TU_MS;
    while (zipc_publisher_subscribers(p) < 1 && tu_now_ns() < end)
        tu_sleep_us(1000);
    for (int k = 0; k < N_DROPS; k++)
        CHECK_OK(zipc_publisher_send(p, "x", 1, 1, WAIT_MS * TU_MS));
    tu_notify(lapped_pipe[1]);
    ready_and_hold();
    zipc_publisher_close(p);
}

static void drops_subscriber(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    struct zipc_subscription req = {.policy = ZIPC_SUB_DROP_OLDEST};
    zipc_subscriber *s = NULL;
    if (!CHECK_OK(zipc_topic_subscribe(&s, names[DROPS], &req, &o)))
        return;
    CHECK(tu_await(lapped_pipe[0], WAIT_MS));
    char buf[16];
    size_t n;
    CHECK_ERR(zipc_subscriber_recv(s, buf, sizeof(buf), &n, NULL, ZIPC_TRY), -EOVERFLOW);
    CHECK_OK(zipc_subscriber_recv(s, buf, sizeof(buf), &n, NULL, ZIPC_TRY));
    struct zipc_subscriber_stats st;
    CHECK_OK(zipc_subscriber_get_stats(s, &st));
    CHECK(st.lost_messages > 0);
    CHECK(write(lost_pipe[1], &st.lost_messages, sizeof(st.lost_messages)) == sizeof(st.lost_messages));
    ready_and_hold();
    zipc_subscriber_close(s);
}

static void queue_producer(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    zipc_queue *q = NULL;
    if (!CHECK_OK(zipc_queue_open(&q, names[QUEUE], ZIPC_ROLE_PRODUCER, NULL, &o)))
        return;
    for (int k = 0; k < N_QUEUE; k++)
        CHECK_OK(zipc_queue_send(q, "job", 3, 3, WAIT_MS * TU_MS));
    ready_and_hold();
    zipc_queue_close(q);
}

static void queue_consumer(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    zipc_queue *q = NULL;
    if (!CHECK_OK(zipc_queue_open(&q, names[QUEUE], ZIPC_ROLE_CONSUMER, NULL, &o)))
        return;
    char buf[64];
    size_t n;
    for (int k = 0; k < QUEUE_READS; k++)
        CHECK_OK(zipc_queue_recv(q, buf, sizeof(buf), &n, NULL, WAIT_MS * TU_MS));
    ready_and_hold();
    /* the rest, so that the producer's close need not linger for a consumer */
    for (int k = QUEUE_READS; k < N_QUEUE; k++)
        CHECK_OK(zipc_queue_recv(q, buf, sizeof(buf), &n, NULL, WAIT_MS * TU_MS));
    zipc_queue_close(q);
}

static void rpc_worker(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    zipc_rpc_worker *w = NULL;
    if (!CHECK_OK(zipc_rpc_serve(&w, names[RPC], NULL, &o)))
        return;
    for (int k = 0; k < N_CALLS; k++) {
        struct zipc_rpc_request req;
        if (!CHECK_OK(zipc_rpc_next(w, &req, WAIT_MS * TU_MS)))
            break;
        memcpy(req.reply, "ok", 2);
        CHECK_OK(zipc_rpc_respond(w, &req, 2, 0, 0));
    }
    ready_and_hold();
    zipc_rpc_worker_close(w);
}

static void rpc_client(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    zipc_rpc_client *c = NULL;
    if (!CHECK_OK(zipc_rpc_connect(&c, names[RPC], NULL, &o)))
        return;
    for (int k = 0; k < N_CALLS; k++) {
        uint64_t id;
        struct zipc_rpc_reply r;
        if (CHECK_OK(zipc_rpc_call(c, "ping", 4, 7, 0, 64, WAIT_MS * TU_MS, &id)) &&
            CHECK_OK(zipc_rpc_wait(c, id, &r, WAIT_MS * TU_MS)))
            CHECK_OK(zipc_rpc_reply_release(c, &r));
    }
    ready_and_hold();
    zipc_rpc_client_close(c);
}

/* A channel in steady use (for top): the producer sends until done. */
static void flow_consumer(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    zipc_channel *c = NULL;
    if (!CHECK_OK(zipc_channel_listen(&c, names[FLOW], 1 << 16, &o)))
        return;
    tu_notify(ready_pipe[1]);
    char buf[256];
    size_t n;
    while (zipc_channel_recv(c, buf, sizeof(buf), &n, NULL, WAIT_MS * TU_MS) == 0) {
    }
    zipc_channel_close(c);
}

static void flow_producer(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    zipc_channel *c = NULL;
    if (!CHECK_OK(zipc_channel_connect(&c, names[FLOW], &o)))
        return;
    char payload[200] = {0};
    struct pollfd p = {.fd = done_pipe[0], .events = POLLIN};
    while (poll(&p, 1, 0) == 0) {
        zipc_channel_send(c, payload, sizeof(payload), 1, 100 * TU_MS);
        tu_sleep_us(100);
    }
    zipc_channel_close(c);
}

/* Objects appearing and going away all the time. */
static void churn(void *arg)
{
    (void)arg;
    struct zipc_options o = opts();
    struct pollfd p = {.fd = done_pipe[0], .events = POLLIN};
    tu_notify(ready_pipe[1]);
    for (int k = 0; poll(&p, 1, 0) == 0; k++) {
        char name[64];
        snprintf(name, sizeof(name), "%s-%d", names[CHURN], k % 4);
        zipc_publisher *pub = NULL;
        if (zipc_topic_create(&pub, name, 4096, 4, &o) == 0)
            zipc_publisher_close(pub);
        zipc_queue *q = NULL;
        if (zipc_queue_open(&q, name, ZIPC_ROLE_PRODUCER, NULL, &o) == 0)
            zipc_queue_close(q);
    }
}

/* Hostile segments, held open: a memfd named like a segment with a bad
 * magic, and a well-formed header of an unknown kind with a label full of
 * escapes, control bytes and invalid UTF-8. */
static int forged(const char *label, bool valid, uint32_t kind, const char *name)
{
    int fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, 4096) < 0)
        return -1;
    struct zipc_segment_header h = {.magic = valid ? ZIPC_SEGMENT_MAGIC : 0x1234, .abi_major = ZIPC_ABI_MAJOR,
                                    .kind = kind, .segment_size = 4096, .header_size = sizeof(h),
                                    .body_offset = kind == 99 ? sizeof(h) : 256, .body_size = kind == 99 ? 0 : 512,
                                    .creator_pid = (uint32_t)getpid()};
    snprintf(h.name, sizeof(h.name), "%s", name);
    uint8_t body[512];
    memset(body, 0xff, sizeof(body)); /* counts, offsets and sizes all huge */
    if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || pwrite(fd, body, sizeof(body), 256) != sizeof(body) ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
        return -1;
    return fd;
}

static void hostile(void *arg)
{
    (void)arg;
    CHECK(forged("zipc:evil", false, 99, "evil") >= 0);
    CHECK(forged("zipc:odd", true, 99, "odd\x1b[2J\xff\"\\\n") >= 0);
    /* well-formed headers over garbage control blocks: generic part only */
    CHECK(forged("zipc:fq", true, ZIPC_KIND_QUEUE, forged_queue) >= 0);
    CHECK(forged("zipc:ft", true, ZIPC_KIND_TOPIC, forged_topic) >= 0);
    CHECK(forged("zipc:fc", true, ZIPC_KIND_TOPIC_CURSOR, forged_cursor) >= 0);
    ready_and_hold();
}

/* ---- checks ---------------------------------------------------------------------------- */

static pid_t kid[14];
enum { K_CHAN_C, K_CHAN_P, K_PUB, K_SUB1, K_SUB2, K_QP, K_QC, K_WORKER, K_CLIENT, K_HOSTILE, K_FLOW_C, K_FLOW_P,
       K_DROP_P, K_DROP_S, N_KIDS };

static void check_ls(void)
{
    struct run r = zipc("ls --json", true);
    if (!ran_ok(&r, "ls --json")) {
        run_free(&r);
        return;
    }
    char path[64], val[96];
    int i = find_entry(&r, "objects", "name", names[CHAN]);
    if (CHECK_MSG(i >= 0, "channel %s listed", names[CHAN])) {
        snprintf(path, sizeof(path), "objects/%d/kind", i);
        CHECK(get(&r, path, val, sizeof(val)) && !strcmp(val, "\"channel\""));
        snprintf(path, sizeof(path), "objects/%d/pids", i);
        CHECK(has_num(&r, path, kid[K_CHAN_C]) && has_num(&r, path, kid[K_CHAN_P]));
        CHECK_EQ(get_num(&r, "objects/%d/members/producer", i), kid[K_CHAN_P]);
        CHECK_EQ(get_num(&r, "objects/%d/members/consumer", i), kid[K_CHAN_C]);
        CHECK_EQ(get_num(&r, "objects/%d/capacity", i), 4096);
        CHECK_EQ(get_num(&r, "objects/%d/creator_pid", i), kid[K_CHAN_C]);
    }
    i = find_entry(&r, "objects", "name", names[TOPIC]);
    if (CHECK_MSG(i >= 0, "topic %s listed", names[TOPIC])) {
        snprintf(path, sizeof(path), "objects/%d/kind", i);
        CHECK(get(&r, path, val, sizeof(val)) && !strcmp(val, "\"topic\""));
        CHECK_EQ(get_num(&r, "objects/%d/members/publisher", i), kid[K_PUB]);
        snprintf(path, sizeof(path), "objects/%d/members/subscribers", i);
        CHECK_EQ(get_num(&r, "%s/#", path), 2);
        CHECK(has_num(&r, path, kid[K_SUB1]) && has_num(&r, path, kid[K_SUB2]));
        snprintf(path, sizeof(path), "objects/%d/pids", i);
        CHECK(has_num(&r, path, kid[K_PUB]) && has_num(&r, path, kid[K_SUB1]) && has_num(&r, path, kid[K_SUB2]));
    }
    CHECK_EQ(find_entry(&r, "objects", "kind", "topic-cursor"), -1); /* pages go with their topic */
    i = find_entry(&r, "objects", "name", names[QUEUE]);
    if (CHECK_MSG(i >= 0, "queue %s listed", names[QUEUE])) {
        snprintf(path, sizeof(path), "objects/%d/kind", i);
        CHECK(get(&r, path, val, sizeof(val)) && !strcmp(val, "\"queue\""));
        snprintf(path, sizeof(path), "objects/%d/members/producers", i);
        CHECK(get_num(&r, "%s/#", path) == 1 && has_num(&r, path, kid[K_QP]));
        snprintf(path, sizeof(path), "objects/%d/members/consumers", i);
        CHECK(get_num(&r, "%s/#", path) == 1 && has_num(&r, path, kid[K_QC]));
    }
    i = find_entry(&r, "objects", "name", names[RPC]);
    if (CHECK_MSG(i >= 0, "rpc %s listed", names[RPC])) {
        snprintf(path, sizeof(path), "objects/%d/kind", i);
        CHECK(get(&r, path, val, sizeof(val)) && !strcmp(val, "\"rpc\""));
        snprintf(path, sizeof(path), "objects/%d/members/clients", i);
        CHECK(has_num(&r, path, kid[K_CLIENT]));
        snprintf(path, sizeof(path), "objects/%d/members/workers", i);
        CHECK(has_num(&r, path, kid[K_WORKER]));
    }
    /* the hostile segments: one error entry, one odd object */
    bool bad_seen = false, odd_seen = false;
    for (long long k = 0, n = get_num(&r, "errors/#"); k < n; k++) {
        snprintf(path, sizeof(path), "errors/%lld/pids", k);
        if (!has_num(&r, path, kid[K_HOSTILE]))
            continue;
        bad_seen = true;
        snprintf(path, sizeof(path), "errors/%lld/error", k);
        CHECK(get(&r, path, val, sizeof(val)) && !strcmp(val, "\"EBADMSG\""));
    }
    unsigned forged_seen = 0;
    for (long long k = 0, n = get_num(&r, "objects/#"); k < n; k++) {
        snprintf(path, sizeof(path), "objects/%lld/pids", k);
        if (!has_num(&r, path, kid[K_HOSTILE]))
            continue;
        snprintf(path, sizeof(path), "objects/%lld/name", k);
        if (get(&r, path, val, sizeof(val)) && !strncmp(val, "\"forged-", 8)) {
            forged_seen++; /* a queue or topic in name, nothing of its body believed */
            CHECK_EQ(get_num(&r, "objects/%lld/capacity", k), 0);
            CHECK_EQ(get_num(&r, "objects/%lld/members/producers/#", k), -1);
            CHECK_EQ(get_num(&r, "objects/%lld/members/publisher", k), -1);
            continue;
        }
        odd_seen = true;
        snprintf(path, sizeof(path), "objects/%lld/kind", k);
        CHECK(get(&r, path, val, sizeof(val)) && !strcmp(val, "\"kind-99\""));
        snprintf(path, sizeof(path), "objects/%lld/name", k);
        /* json.dumps re-escapes: ESC, the U+FFFD that replaced \xff, the quote, backslash, newline */
        CHECK_MSG(get(&r, path, val, sizeof(val)) && !strcmp(val, "\"odd\\u001b[2J\\ufffd\\\"\\\\\\n\""),
                  "hostile label as %s", val);
    }
    CHECK(bad_seen);
    CHECK(odd_seen);
    CHECK_EQ(forged_seen, 2); /* the cursor page is a part, not listed */
    run_free(&r);

    /* text: a line per object, the bad segment on stderr */
    r = zipc("ls", false);
    CHECK_EQ(r.status, 0);
    CHECK(strstr(r.out, names[CHAN]) && strstr(r.out, names[TOPIC]) && strstr(r.out, names[QUEUE]) &&
          strstr(r.out, names[RPC]));
    CHECK(strstr(r.out, "publisher") && strstr(r.out, "2 subscribers"));
    CHECK(!strchr(r.out, '\x1b')); /* the hostile label is not echoed raw to a terminal */
    CHECK_MSG(strstr(r.err, "not a valid zipc segment") && strstr(r.err, "EBADMSG"), "stderr: %s", r.err);
    run_free(&r);
}

static struct run stat_json(const char *name)
{
    char args[128];
    snprintf(args, sizeof(args), "stat %s --json", name);
    struct run r = zipc(args, true);
    ran_ok(&r, args);
    return r;
}

static void check_stat(void)
{
    struct run r = stat_json(names[CHAN]);
    CHECK_EQ(get_num(&r, "objects/#"), 1);
    CHECK_EQ(get_num(&r, "objects/0/counters/producer/messages"), N_CHAN);
    CHECK_EQ(get_num(&r, "objects/0/counters/consumer/messages"), N_CHAN);
    CHECK_EQ(get_num(&r, "objects/0/counters/producer/pid"), kid[K_CHAN_P]);
    CHECK_EQ(get_num(&r, "objects/0/counters/ring_used"), 0);
    run_free(&r);

    r = stat_json(names[TOPIC]);
    CHECK_EQ(get_num(&r, "objects/0/counters/publisher/messages"), N_TOPIC);
    CHECK_EQ(get_num(&r, "objects/0/counters/subscribers/#"), 2);
    for (int s = 0; s < 2; s++) {
        long long pid = get_num(&r, "objects/0/counters/subscribers/%d/pid", s);
        long long lag = get_num(&r, "objects/0/counters/subscribers/%d/lag", s);
        CHECK(pid == kid[K_SUB1] || pid == kid[K_SUB2]);
        CHECK_EQ(lag, pid == kid[K_SUB1] ? 0 : N_TOPIC - SUB2_READS);
        char path[96], val[16];
        snprintf(path, sizeof(path), "objects/0/counters/subscribers/%d/cursor_seen", s);
        CHECK(get(&r, path, val, sizeof(val)) && !strcmp(val, "true"));
    }
    run_free(&r);

    r = stat_json(names[DROPS]);
    uint64_t lost = 0;
    CHECK(read(lost_pipe[0], &lost, sizeof(lost)) == sizeof(lost));
    CHECK_EQ(get_num(&r, "objects/0/counters/subscribers/#"), 1);
    CHECK_EQ(get_num(&r, "objects/0/counters/publisher/messages"), N_DROPS);
    CHECK_EQ(get_num(&r, "objects/0/counters/subscribers/0/pid"), kid[K_DROP_S]);
    CHECK_EQ(get_num(&r, "objects/0/counters/subscribers/0/lost_messages"), lost);
    CHECK_EQ(get_num(&r, "objects/0/counters/subscribers/0/overflows"), 1);
    char policy[32] = "";
    CHECK(get(&r, "objects/0/counters/subscribers/0/policy", policy, sizeof(policy)) &&
          !strcmp(policy, "\"drop-oldest\""));
    run_free(&r);

    r = stat_json(names[QUEUE]);
    CHECK_EQ(get_num(&r, "objects/0/counters/producers/0/messages"), N_QUEUE);
    CHECK_EQ(get_num(&r, "objects/0/counters/producers/0/pid"), kid[K_QP]);
    CHECK_EQ(get_num(&r, "objects/0/counters/consumers/0/messages"), QUEUE_READS);
    CHECK_EQ(get_num(&r, "objects/0/counters/consumers/0/pid"), kid[K_QC]);
    CHECK_EQ(get_num(&r, "objects/0/counters/queued"), N_QUEUE - QUEUE_READS);
    run_free(&r);

    r = stat_json(names[RPC]);
    CHECK_EQ(get_num(&r, "objects/0/counters/clients/0/messages"), N_CALLS);
    CHECK_EQ(get_num(&r, "objects/0/counters/clients/0/pid"), kid[K_CLIENT]);
    CHECK_EQ(get_num(&r, "objects/0/counters/workers/0/pid"), kid[K_WORKER]);
    CHECK_EQ(get_num(&r, "objects/0/counters/calls_queued"), 0);
    CHECK_EQ(get_num(&r, "objects/0/counters/calls_in_service"), 0);
    run_free(&r);

    /* text, and PID:FD */
    char args[128];
    snprintf(args, sizeof(args), "stat %s", names[TOPIC]);
    r = zipc(args, false);
    CHECK_EQ(r.status, 0);
    CHECK(strstr(r.out, "publisher") && strstr(r.out, "subscriber slot"));
    run_free(&r);
    r = stat_json(forged_topic); /* a topic header over garbage: the generic part */
    CHECK_EQ(get_num(&r, "objects/#"), 1);
    CHECK_EQ(get_num(&r, "objects/0/counters/subscribers/#"), -1);
    run_free(&r);
    r = stat_json(forged_queue);
    CHECK_EQ(get_num(&r, "objects/0/counters/producers/#"), -1);
    run_free(&r);
    r = zipc("stat no-such-object-anywhere", false);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
    CHECK(strstr(r.err, "no live zipc object"));
    run_free(&r);
    for (int fd = 3; fd < 64; fd++) { /* the hostile holder's bad memfd, by PID:FD */
        char link[128], p[64];
        snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)kid[K_HOSTILE], fd);
        ssize_t n = readlink(p, link, sizeof(link) - 1);
        if (n <= 0)
            continue;
        link[n] = 0;
        if (!strstr(link, "zipc:evil"))
            continue;
        snprintf(args, sizeof(args), "stat %d:%d --json", (int)kid[K_HOSTILE], fd);
        r = zipc(args, true);
        CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
        CHECK(r.flat && get_num(&r, "errors/#") == 1);
        run_free(&r);
        break;
    }
}

/* Looking changes nothing: the full snapshot of every object is the same
 * before and after more looks. */
static void check_no_disturbance(void)
{
    const int which[] = {CHAN, TOPIC, QUEUE, RPC};
    for (unsigned k = 0; k < 4; k++) {
        struct run a = stat_json(names[which[k]]);
        struct run x = zipc("ls --json", false);
        run_free(&x);
        x = zipc("top --once --interval 0.05", false);
        run_free(&x);
        struct run b = stat_json(names[which[k]]);
        CHECK_MSG(a.flat && b.flat && !strcmp(a.flat, b.flat), "%s changed by looking:\n%s\n---\n%s",
                  names[which[k]], a.flat ? a.flat : "", b.flat ? b.flat : "");
        run_free(&a);
        run_free(&b);
    }
}

static void check_top(void)
{
    struct run r = zipc("top --once --interval 0.5", false);
    CHECK_EQ(r.status, 0);
    const char *line = strstr(r.out, names[FLOW]);
    if (CHECK_MSG(line, "top shows %s:\n%s", names[FLOW], r.out)) {
        char kind[16], name[64];
        unsigned pids;
        double rate = 0, mbs = 0;
        while (line > r.out && line[-1] != '\n')
            line--;
        CHECK_EQ(sscanf(line, "%15s %63s %u %lf %lf", kind, name, &pids, &rate, &mbs), 5);
        CHECK(!strcmp(kind, "channel"));
        CHECK_EQ(pids, 2);
        CHECK_MSG(rate > 10, "rate %g msgs/s", rate);
        CHECK(mbs > 0);
    }
    run_free(&r);
}

/* top --json: the same rate, for programs (one document per interval). */
static void check_top_json(void)
{
    struct run r = zipc("top --once --json --interval 0.5", true);
    if (!ran_ok(&r, "top --json")) {
        run_free(&r);
        return;
    }
    char path[96], val[64];
    CHECK(get(&r, "interval_s", val, sizeof(val)) && atof(val) >= 0.4);
    int i = find_entry(&r, "objects", "object/name", names[FLOW]);
    if (CHECK_MSG(i >= 0, "top --json lists %s:\n%s", names[FLOW], r.out)) {
        snprintf(path, sizeof(path), "objects/%d/object/kind", i);
        CHECK(get(&r, path, val, sizeof(val)) && !strcmp(val, "\"channel\""));
        snprintf(path, sizeof(path), "objects/%d/msgs_per_s", i);
        CHECK_MSG(get(&r, path, val, sizeof(val)) && atof(val) > 10, "rate %s msgs/s", val);
        CHECK(get_num(&r, "objects/%d/messages", i) > 0);
        snprintf(path, sizeof(path), "objects/%d/backlog/what", i);
        CHECK(get(&r, path, val, sizeof(val)) && !strcmp(val, "\"fill\""));
    }
    i = find_entry(&r, "objects", "object/name", names[TOPIC]);
    if (CHECK_MSG(i >= 0, "top --json lists %s", names[TOPIC])) {
        snprintf(path, sizeof(path), "objects/%d/backlog/what", i);
        CHECK(get(&r, path, val, sizeof(val)) && !strcmp(val, "\"lag\""));
    }
    CHECK(get_num(&r, "unreadable") >= 1); /* the forged segments this test holds */
    run_free(&r);
}

/* Objects appear and vanish while ls runs; a member dies by SIGKILL. */
static void check_churn(void)
{
    pid_t ch = spawn(churn, NULL);
    CHECK(tu_await(ready_pipe[0], WAIT_MS));
    int runs = (int)tu_scaled(20, 5);
    for (int k = 0; k < runs; k++) {
        struct run r = zipc("ls --json", true);
        ran_ok(&r, "ls --json while objects churn");
        run_free(&r);
        char args[96];
        snprintf(args, sizeof(args), "stat %s-%d --json", names[CHURN], k % 4);
        r = zipc(args, false);
        CHECK_MSG(WIFEXITED(r.status) && WEXITSTATUS(r.status) <= 1, "stat while churning: %#x", r.status);
        run_free(&r);
    }
    kill(ch, SIGKILL);
    tu_wait(ch, WAIT_MS);
    /* the channel producer dies: the consumer still holds the channel */
    kill(kid[K_CHAN_P], SIGKILL);
    tu_wait(kid[K_CHAN_P], WAIT_MS);
    kid[K_CHAN_P] = 0;
    struct run r = zipc("ls --json", true);
    if (ran_ok(&r, "ls after a SIGKILL")) {
        int i = find_entry(&r, "objects", "name", names[CHAN]);
        char path[64];
        snprintf(path, sizeof(path), "objects/%d/pids", i);
        CHECK(i >= 0 && get_num(&r, "%s/#", path) == 1 && has_num(&r, path, kid[K_CHAN_C]));
    }
    run_free(&r);
}

int main(void)
{
    tu_init("tools_cli", 300);
    if (system("python3 -c 'import json' 2>/dev/null") != 0) {
        tu_skip("tools_cli", "python3 is needed to check the JSON");
        return tu_finish();
    }
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/zipc-cli-XXXXXX");
    if (!CHECK(mkdtemp(tmp_dir)))
        return tu_finish();
    const char *what[7] = {"zt-chan", "zt-topic", "zt-queue", "zt-rpc", "zt-flow", "zt-churn", "zt-drops"};
    for (int k = 0; k < 7; k++)
        snprintf(names[k], sizeof(names[k]), "%s-%d", what[k], (int)getpid());
    snprintf(forged_queue, sizeof(forged_queue), "forged-queue-%d", (int)getpid());
    snprintf(forged_topic, sizeof(forged_topic), "forged-topic-%d", (int)getpid());
    snprintf(forged_cursor, sizeof(forged_cursor), "forged-cursor-%d", (int)getpid());
    CHECK_OK(pipe(ready_pipe));
    CHECK_OK(pipe(done_pipe));
    CHECK_OK(pipe(lapped_pipe));
    CHECK_OK(pipe(lost_pipe));

    kid[K_CHAN_C] = spawn(chan_consumer, NULL);
    kid[K_CHAN_P] = spawn(chan_producer, NULL);
    kid[K_PUB] = spawn(topic_publisher, NULL);
    tu_sleep_us(20000); /* subscribers wait for the publisher anyway */
    kid[K_SUB1] = spawn(topic_subscriber, (void *)(intptr_t)N_TOPIC);
    kid[K_SUB2] = spawn(topic_subscriber, (void *)(intptr_t)SUB2_READS);
    kid[K_QP] = spawn(queue_producer, NULL);
    tu_sleep_us(20000); /* one creates the queue, the other joins */
    kid[K_QC] = spawn(queue_consumer, NULL);
    kid[K_WORKER] = spawn(rpc_worker, NULL);
    tu_sleep_us(20000);
    kid[K_CLIENT] = spawn(rpc_client, NULL);
    kid[K_HOSTILE] = spawn(hostile, NULL);
    kid[K_FLOW_C] = spawn(flow_consumer, NULL);
    kid[K_FLOW_P] = spawn(flow_producer, NULL);
    kid[K_DROP_P] = spawn(drops_publisher, NULL);
    tu_sleep_us(20000);
    kid[K_DROP_S] = spawn(drops_subscriber, NULL);
    bool ready = true;
    for (int k = 0; k < N_KIDS - 1 && ready; k++) /* every holder but the flow producer says so */
        ready = CHECK_MSG(tu_await(ready_pipe[0], WAIT_MS), "holder %d of %d ready", k + 1, N_KIDS - 1);
    const char *hold = getenv("ZIPC_TOOLS_TEST_HOLD"); /* seconds: look at the objects by hand */
    if (ready && hold) {
        printf("holding the objects for %s s (names end in -%d)\n", hold, (int)getpid());
        fflush(stdout);
        alarm(0);
        sleep((unsigned)atoi(hold));
        alarm(tu_watchdog_s_);
    }
    if (ready) {
        check_ls();
        check_stat();
        check_no_disturbance();
        check_top();
        check_top_json();
        check_churn();
    }
    close(done_pipe[1]); /* every holder lets go */
    for (unsigned k = 0; k < sizeof(kid) / sizeof(kid[0]); k++)
        if (kid[k])
            CHECK_CHILD(kid[k], WAIT_MS);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_dir);
    CHECK_EQ(system(cmd), 0);
    return tu_finish();
}
#endif

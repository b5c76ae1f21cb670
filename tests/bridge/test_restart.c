/* zipc bridge across restarts (ctest-serial: it SIGKILLs bridges mid-stream).
 * A topic stream of n messages, BLOCK end to end (publisher -> sending
 * bridge -> tcp://127.0.0.1 -> receiving bridge -> this subscriber):
 *  1. at n/3 the receiving bridge is SIGKILLed mid-stream and restarted on
 *     the same port. Guarantee (docs/DESIGN.md §15): what the receiver had
 *     not acknowledged is resent, so nothing is lost; what it had published
 *     but not yet acknowledged arrives twice (at most a window). The reader
 *     sees every k, in order, duplicates only right after the restart; the
 *     new receiver reports the exact seq it starts from, no loss, and the
 *     sender reports the restart.
 *  2. at 2n/3 (the publisher paused there, so that no message is published
 *     while no bridge subscribes) the sending bridge is SIGKILLed and
 *     restarted: the receiver reports the new session and that the old one
 *     ended at seq 2n/3 (its seqs are the publisher's k: it subscribed before
 *     the first message), and the stream continues with nothing lost.
 * Messages carry k (bytes 0..7) and are checked byte-exact. */
#include "bridge_util.h"

#ifndef ZIPC_HAVE_ZMQ
int main(void)
{
    tu_skip("bridge_restart", "zipc bridge was not built (libzmq not found: apt-get install libzmq3-dev)");
    return tu_finish();
}
#else
/* ctest-serial */

#define MAX_MSG 2048
#define WINDOW 1024

struct shared {
    volatile int go_on; /* the publisher may publish past 2n/3 */
};

static void publisher(const char *name, uint64_t n, struct shared *sh)
{
    struct zipc_options o = tu_opts(BU_WAIT_MS * TU_MS);
    zipc_publisher *p = NULL;
    if (!CHECK_OK(zipc_topic_create(&p, name, 1 << 18, 0, &o)))
        return;
    CHECK(tu_await_subscribers(p, 1, BU_WAIT_MS));
    for (uint64_t k = 0; k < n; k++) {
        if (k == 2 * n / 3) {
            int64_t end = tu_now_ns() + BU_WAIT_MS * TU_MS;
            while (!__atomic_load_n(&sh->go_on, __ATOMIC_ACQUIRE) && tu_now_ns() < end)
                tu_sleep_us(1000);
            CHECK(tu_await_subscribers(p, 1, BU_WAIT_MS)); /* the restarted sending bridge */
        }
        if (!CHECK_HOT_OK(bu_publish(p, tu_seed, k, MAX_MSG)))
            break;
    }
    /* stay until the reader has everything (closing is fine too: the
     * bridge drains first, but this keeps phase 2's log simple) */
    int64_t end = tu_now_ns() + BU_WAIT_MS * TU_MS;
    while (__atomic_load_n(&sh->go_on, __ATOMIC_ACQUIRE) != 2 && tu_now_ns() < end)
        tu_sleep_us(1000);
    zipc_publisher_close(p);
}

int main(void)
{
    tu_init("bridge_restart", 300);
    uint64_t n = (uint64_t)tu_scaled(60000, 6000);
    char src[TU_NAME_MAX], dst[TU_NAME_MAX], from[80], to[80], addr[64], login[TU_PATH_MAX], logout[TU_PATH_MAX];
    snprintf(from, sizeof(from), "topic:%s", tu_topic_name(src, "src"));
    snprintf(to, sizeof(to), "topic:%s", tu_topic_name(dst, "dst"));
    snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", bu_free_port());
    bu_log(login, "restart-in");
    bu_log(logout, "restart-out");
    unlink(login);
    unlink(logout);
    struct shared *sh = tu_shared(sizeof(*sh));
    printf("%" PRIu64 " messages over %s\n", n, addr);

    pid_t in = bu_spawn(login, "--from", addr, "--to", to, "--subscribers", "1", "--window", "1024");
    struct zipc_options o = tu_opts(BU_WAIT_MS * TU_MS);
    zipc_subscriber *sub = NULL;
    CHECK_OK(zipc_topic_subscribe(&sub, dst, NULL, &o));
    pid_t out = bu_spawn(logout, "--from", from, "--to", addr);
    pid_t pub = tu_fork();
    if (pub == 0) {
        publisher(src, n, sh);
        tu_child_exit();
    }

    uint64_t next = 0, dups = 0, bad = 0, first_after = UINT64_MAX;
    bool killed_in = false, restarted_out = false, after_in = false;
    while (sub && next < n) {
        struct zipc_msg m;
        int r = zipc_subscriber_view(sub, &m, BU_WAIT_MS * TU_MS);
        if (r == -EPIPE && killed_in && !after_in) {
            /* the killed receiver's topic is drained: follow its successor */
            zipc_subscriber_close(sub);
            sub = NULL;
            in = bu_spawn(login, "--from", addr, "--to", to, "--subscribers", "1", "--window", "1024");
            CHECK_OK(zipc_topic_subscribe(&sub, dst, NULL, &o));
            after_in = true;
            continue;
        }
        if (!CHECK_HOT_OK(r))
            break;
        uint64_t k = bu_seq_of(&m, next);
        if (after_in && first_after == UINT64_MAX)
            first_after = k;
        if (k < next && after_in && next - k <= WINDOW && first_after <= k) {
            dups++; /* published by the first receiver, not yet acknowledged by it */
            if (!bu_is_k(&m, tu_seed, k, MAX_MSG) && bad++ < 3)
                CHECK_MSG(false, "duplicate %" PRIu64 " differs", k);
        } else if (k != next || !bu_is_k(&m, tu_seed, k, MAX_MSG)) {
            if (bad++ < 3)
                CHECK_MSG(false, "expected message %" PRIu64 ", got k=%" PRIu64 " size %u type %u", next, k,
                          m.size, m.type);
        } else
            next++;
        zipc_subscriber_release(sub);
        if (next == n / 3 && !killed_in) {
            kill(in, SIGKILL);
            tu_wait(in, 10000);
            killed_in = true;
        }
        if (next == 2 * n / 3 && !restarted_out) {
            /* everything published so far has arrived: replace the sender */
            kill(out, SIGKILL);
            tu_wait(out, 10000);
            char *before = bu_read(logout);
            size_t len = strlen(before);
            free(before);
            out = bu_spawn(logout, "--from", from, "--to", addr);
            int64_t end = tu_now_ns() + BU_WAIT_MS * TU_MS;
            for (;;) { /* its banner follows the first one's: it has subscribed */
                char *s = bu_read(logout);
                bool up = strlen(s) > len && strstr(s + len, "lossless") != NULL;
                free(s);
                if (up || tu_now_ns() > end)
                    break;
                tu_sleep_us(5000);
            }
            __atomic_store_n(&sh->go_on, 1, __ATOMIC_RELEASE);
            restarted_out = true;
        }
    }
    __atomic_store_n(&sh->go_on, 2, __ATOMIC_RELEASE);
    CHECK_EQ(next, n);
    CHECK_EQ(bad, 0);
    CHECK(killed_in && after_in && restarted_out);
    CHECK_RANGE(dups, 0, WINDOW);
    printf("receiver restart: resumed at k=%" PRIu64 ", %" PRIu64 " duplicates\n", first_after, dups);
    CHECK_CHILD(pub, BU_WAIT_MS);
    CHECK_EQ(bu_stop(out), 0);
    CHECK_EQ(bu_stop(in), 0);
    zipc_subscriber_close(sub);

    char *lin = bu_read(login), *lout = bu_read(logout), want[160];
    /* the second receiver starts exactly where the reader's stream resumed */
    snprintf(want, sizeof(want), "from seq %" PRIu64 " (messages before it went to an earlier receiver)", first_after);
    CHECK_MSG(strstr(lin, want) != NULL, "the restarted receiver reports '%s'", want);
    CHECK_MSG(strstr(lout, "receiver restarted") != NULL, "the sender reports the receiver's restart");
    /* the sender's restart: a new session, the old one ended at 2n/3 */
    snprintf(want, sizeof(want), "ended at seq %" PRIu64 ")", 2 * n / 3);
    CHECK_MSG(strstr(lin, "new session") && strstr(lin, want), "the receiver reports the new session and '%s'", want);
    CHECK_MSG(strstr(lin, "messages lost") == NULL, "no loss reported");
    CHECK_MSG(strstr(lin, "lost 0 in 0 gaps") != NULL, "the receiver's counters: nothing lost");
    bu_logs_done(login, logout);
    free(lin);
    free(lout);
    return tu_finish();
}
#endif

/* Queue: a cleanup killed between its words and its count strands no frame.
 *
 * A consumer process takes a message and holds it. The test then does what
 * a cleaner does first after that consumer's death (its claim word turned
 * REDELIVER) but not what it does next (the lane's `redeliver` hint raised),
 * as a helper SIGKILLed between the two would leave it, and kills the
 * consumer. The surviving member's helper cleans up after the death and
 * finds no claim left to turn: the message must still reach the test's own
 * consumer (attempt 2) within a second, not wait for a walk nobody makes.
 * The word's CANCEL bit (an rpc caller gave up on the call while it waited)
 * survives the redelivery's claim: the worker that takes it must see it.
 * Then a word the test turns REDELIVER with the hint too high and no death:
 * the take still works and the end of the stream still comes. */
#include "testutil.h"

#include "queue.h"

#define TU_S (1000 * TU_MS)

static void holder(const char *name, int ready_fd)
{
    struct zipc_options o = tu_opts(5 * TU_S);
    zipc_queue *c = NULL;
    struct zipc_msg m;
    if (zipc_queue_open(&c, name, ZIPC_ROLE_CONSUMER, NULL, &o) || zipc_queue_view(c, &m, 5 * TU_S))
        _exit(1);
    uint32_t seq = (uint32_t)m.seq;
    if (write(ready_fd, &seq, sizeof(seq)) != sizeof(seq))
        _exit(1);
    pause(); /* holding the view until killed */
    _exit(0);
}

/* The dead holder's word as a killed cleaner leaves it: REDELIVER, uncounted. */
static bool turn_redeliver(zipc_queue *q, uint32_t lane, uint32_t seq, uint64_t extra)
{
    uint64_t *wp = claim_word(q, &q->lanes[lane], seq);
    uint64_t w = __atomic_load_n(wp, __ATOMIC_ACQUIRE);
    if (ZIPC_QCLAIM_TAG(w) != seq || ZIPC_QCLAIM_STATE(w) != ZIPC_QCLAIM_CLAIMED)
        return false;
    uint64_t to = (w & ~ZIPC_QCLAIM_STATE_MASK) | (uint64_t)ZIPC_QCLAIM_REDELIVER << 32 | extra;
    return __atomic_compare_exchange_n(wp, &w, to, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

static void killed_cleaner(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "qheal");
    struct zipc_options o = tu_opts(5 * TU_S);
    zipc_queue *p = NULL, *c = NULL;
    int pipefd[2] = {-1, -1};
    pid_t kid = -1;
    if (!CHECK(pipe(pipefd) == 0))
        goto out;
    /* The holder is forked before this process opens anything: an open
     * queue runs a helper thread, and a fork while it was inside malloc
     * left the child's allocator locked for good under ASan (1 run in ~30). */
    if ((kid = tu_fork()) == 0) {
        close(pipefd[0]);
        holder(name, pipefd[1]);
    }
    if (!CHECK_OK(zipc_queue_open(&p, name, ZIPC_ROLE_PRODUCER, NULL, &o)))
        goto out;
    CHECK_OK(zipc_queue_send(p, "held by the dead", 16, 5, 0));
    uint32_t seq = UINT32_MAX;
    if (!CHECK(read(pipefd[0], &seq, sizeof(seq)) == sizeof(seq)))
        goto out;
    uint32_t lane = zipc_queue_slot(p);
    if (!CHECK_OK(zipc_queue_open(&c, name, ZIPC_ROLE_CONSUMER, NULL, &o)))
        goto out;
    CHECK(turn_redeliver(p, lane, seq, ZIPC_QCLAIM_CANCEL));
    CHECK_EQ(__atomic_load_n(&p->lanes[lane].ctl->redeliver, __ATOMIC_RELAXED), 0);
    tu_kill_reap(kid);
    kid = -1;
    struct zipc_msg m;
    int64_t t0 = tu_now_ns();
    if (CHECK_OK(zipc_queue_view(c, &m, TU_S))) {
        CHECK(m.size == 16 && memcmp(m.data, "held by the dead", 16) == 0 && m.type == 5);
        CHECK_EQ(zipc_queue_msg_attempt(&m), 2);
        uint64_t w = __atomic_load_n(claim_word(c, &c->lanes[lane], seq), __ATOMIC_ACQUIRE);
        CHECK_MSG(ZIPC_QCLAIM_STATE(w) == ZIPC_QCLAIM_CLAIMED && (w & ZIPC_QCLAIM_CANCEL),
                  "the redelivered claim keeps the caller's cancel: word %#llx", (unsigned long long)w);
        CHECK_OK(zipc_queue_release_view(c, &m));
    }
    printf("# redelivered %.1f ms after the kill\n", tu_ms_since(t0));
    /* a hint too high (a taker killed between its word and its decrement) costs walks only */
    CHECK_OK(zipc_queue_send(p, "again", 5, 6, 0));
    if (CHECK_OK(zipc_queue_view(c, &m, TU_S))) {
        CHECK_OK(zipc_queue_release_view(c, &m));
        __atomic_fetch_add(&p->lanes[lane].ctl->redeliver, 3, __ATOMIC_RELAXED);
        CHECK_OK(zipc_queue_send(p, "third", 5, 7, 0));
        CHECK_OK(zipc_queue_view(c, &m, TU_S));
        CHECK(m.size == 5 && memcmp(m.data, "third", 5) == 0);
        CHECK_OK(zipc_queue_release_view(c, &m));
        zipc_queue_close(p);
        p = NULL;
        CHECK_ERR(zipc_queue_view(c, &m, TU_S), -EPIPE);
        CHECK_EQ(__atomic_load_n(&c->lanes[lane].ctl->redeliver, __ATOMIC_RELAXED), 0); /* healed at the end */
    }
out:
    if (kid > 0)
        tu_kill_reap(kid);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    zipc_queue_close(p);
    zipc_queue_close(c);
}

int main(void)
{
    tu_init("queue_heal", 60);
    killed_cleaner();
    return tu_finish();
}

/* Rpc under fire: 4 client and 3 worker processes; the test SIGKILLs a
 * random one at a random instant (workers hold up to 4 calls, answer them
 * in random order after random service times; clients keep up to 32 calls
 * in flight) and starts a replacement, hundreds of times. Every call a
 * surviving client made is answered correctly, or fails with -ECONNRESET
 * only as often as killed workers could hold calls; idempotent calls are
 * run again instead; nothing times out (no hang, no call lost); the lanes
 * never run out of room (no frame leaks) though far more calls pass than
 * they hold.
 * ctest-serial */
#include "testutil.h"

#define NCLI 4
#define NWRK 3
#define HOLD 4
#define TU_S (1000 * TU_MS)

struct board {
    uint32_t stop, workers_stop; /* clients stop calling; then, once they are done, workers stop */
    uint64_t ok, reset, idem_reset, bad, timeouts, errors, calls;
    char err[NCLI + NWRK][80];
};

static uint64_t answer_of(uint64_t x) { return tu_mix(x ^ 0x5eed); }

static void worker(const char *name, struct board *b, int who)
{
    uint64_t rng = tu_seed ^ tu_mix((uint64_t)getpid());
    struct zipc_options o = tu_opts(5 * TU_S);
    zipc_rpc_worker *w = NULL;
    int err = zipc_rpc_serve(&w, name, NULL, &o);
    if (err) {
        snprintf(b->err[who], 80, "serve: %s", zipc_err_name(err));
        _exit(1);
    }
    struct zipc_rpc_request held[HOLD];
    int n = 0;
    for (;;) {
        err = zipc_rpc_next(w, &held[n], n ? 0 : 50 * TU_MS);
        if (err == 0)
            n++;
        if (n == 0 && __atomic_load_n(&b->workers_stop, __ATOMIC_ACQUIRE))
            break;
        if (n && (n == HOLD || err || tu_below(&rng, 3) == 0)) {
            int i = (int)tu_below(&rng, (uint64_t)n);
            struct zipc_rpc_request *r = &held[i];
            if (tu_below(&rng, 8) == 0)
                tu_sleep_us((long)tu_below(&rng, 1000)); /* serving: killed mid-call */
            uint64_t v, a;
            memcpy(&v, r->data, 8);
            a = answer_of(v);
            size_t size = 8 + (size_t)tu_below(&rng, r->reply_capacity - 7);
            memset(r->reply, 0x5a, size);
            memcpy(r->reply, &a, 8);
            if ((err = zipc_rpc_respond(w, r, size, 1, 0))) {
                snprintf(b->err[who], 80, "respond: %s", zipc_err_name(err));
                _exit(1);
            }
            held[i] = held[--n];
        }
    }
    zipc_rpc_worker_close(w);
    _exit(0);
}

static void client(const char *name, struct board *b, int who)
{
    uint64_t rng = tu_seed ^ tu_mix((uint64_t)getpid() << 1);
    struct zipc_options o = tu_opts(5 * TU_S);
    zipc_rpc_client *c = NULL;
    int err = zipc_rpc_connect(&c, name, NULL, &o);
    if (err) {
        snprintf(b->err[who], 80, "connect: %s", zipc_err_name(err));
        _exit(1);
    }
    struct {
        uint64_t id, v;
        bool idem;
    } calls[32];
    int n = 0;
    uint64_t k = 0;
    while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE) || n) {
        while (n < 32 && !__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
            uint64_t v = (uint64_t)getpid() << 32 | k++;
            bool idem = tu_below(&rng, 2) == 0;
            size_t size = 8 + (size_t)tu_below(&rng, 200);
            void *buf;
            if ((err = zipc_rpc_reserve(c, size, 64 + tu_below(&rng, 2000), &buf, 5 * TU_S)))
                break;
            memset(buf, 0, size);
            memcpy(buf, &v, 8);
            if ((err = zipc_rpc_commit(c, size, 7, idem ? ZIPC_RPC_IDEMPOTENT : 0, 10 * TU_S, &calls[n].id)))
                break;
            calls[n].v = v;
            calls[n++].idem = idem;
            __atomic_fetch_add(&b->calls, 1, __ATOMIC_RELAXED);
        }
        if (err) {
            snprintf(b->err[who], 80, "issue: %s", zipc_err_name(err));
            _exit(1);
        }
        struct zipc_rpc_reply r;
        if ((err = zipc_rpc_wait(c, ZIPC_RPC_ANY, &r, 15 * TU_S))) {
            snprintf(b->err[who], 80, "wait: %s (%d in flight)", zipc_err_name(err), n);
            _exit(1);
        }
        int i = 0;
        while (i < n && calls[i].id != r.id)
            i++;
        if (i == n) {
            __atomic_fetch_add(&b->bad, 1, __ATOMIC_RELAXED);
            continue;
        }
        uint64_t a = 0;
        if (r.status == 0 && r.size >= 8)
            memcpy(&a, r.data, 8);
        if (r.status == 0 && a == answer_of(calls[i].v) && r.method == 7)
            __atomic_fetch_add(&b->ok, 1, __ATOMIC_RELAXED);
        else if (r.status == -ECONNRESET)
            __atomic_fetch_add(calls[i].idem ? &b->idem_reset : &b->reset, 1, __ATOMIC_RELAXED);
        else if (r.status == -ETIMEDOUT)
            __atomic_fetch_add(&b->timeouts, 1, __ATOMIC_RELAXED);
        else
            __atomic_fetch_add(&b->bad, 1, __ATOMIC_RELAXED);
        zipc_rpc_reply_release(c, &r);
        calls[i] = calls[--n];
    }
    zipc_rpc_client_close(c);
    _exit(0);
}

static pid_t start(const char *name, struct board *b, int who)
{
    pid_t pid = tu_fork();
    if (pid == 0) {
        if (who < NCLI)
            client(name, b, who);
        worker(name, b, who);
    }
    return pid;
}

int main(void)
{
    tu_init("rpc_kill", 600);
    char name[TU_NAME_MAX];
    tu_topic_name(name, "rpckill");
    struct board *b = tu_shared(sizeof(*b));
    if (!b)
        return tu_finish();
    pid_t kids[NCLI + NWRK];
    for (int i = 0; i < NCLI + NWRK; i++)
        kids[i] = start(name, b, i);
    long kills = tu_scaled(1000, 40), worker_kills = 0;
    uint64_t rng = tu_seed;
    for (long t = 0; t < kills; t++) {
        tu_sleep_us((long)tu_below(&rng, 5000));
        int v = (int)tu_below(&rng, NCLI + NWRK);
        kill(kids[v], SIGKILL);
        tu_wait(kids[v], 10000);
        worker_kills += v >= NCLI;
        kids[v] = start(name, b, v);
    }
    __atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < NCLI; i++)
        CHECK_CHILD(kids[i], 60000);
    __atomic_store_n(&b->workers_stop, 1, __ATOMIC_RELEASE);
    for (int i = NCLI; i < NCLI + NWRK; i++)
        CHECK_CHILD(kids[i], 60000);
    for (int i = 0; i < NCLI + NWRK; i++)
        CHECK_MSG(!b->err[i][0], "member %d: %s", i, b->err[i]);
    printf("  %ld kills (%ld workers): %" PRIu64 " calls, %" PRIu64 " answered, %" PRIu64 " reset, %" PRIu64
           " idempotent reset\n",
           kills, worker_kills, b->calls, b->ok, b->reset, b->idem_reset);
    CHECK_MSG(b->bad == 0 && b->timeouts == 0, "%" PRIu64 " wrong replies, %" PRIu64 " timed out", b->bad,
              b->timeouts);
    CHECK_MSG(b->reset + b->idem_reset <= (uint64_t)worker_kills * HOLD,
              "%" PRIu64 " calls reset by %ld worker deaths", b->reset + b->idem_reset, worker_kills);
    CHECK_MSG(b->idem_reset <= b->reset + (uint64_t)worker_kills, "idempotent calls reset as often as the others");
    CHECK_MSG(b->ok > (uint64_t)kills * 10, "too little traffic: %" PRIu64 " answered", b->ok);
    munmap(b, sizeof(*b));
    return tu_finish();
}

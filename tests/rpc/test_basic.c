/* Rpc: calls in flight answered out of order and matched to their calls;
 * deadlines and cancel reach the worker and free the frames; a worker that
 * dies holding calls fails them (-ECONNRESET) or has them run once more
 * (idempotent); a client that dies leaves its lane to the next; forged ids
 * and handles fail alone; 8 client and 2 worker processes with random
 * service times; streamed replies (parts in order, flow control, cancel and
 * a worker's death mid-stream).
 * ctest-labels: threads */
#include "testutil.h"

#define TU_S (1000 * TU_MS)

static uint64_t answer_of(uint64_t x) { return tu_mix(x ^ 0xabcdef); }

/* A worker thread: answers every call with answer_of(request), holding up
 * to `hold` calls and answering them newest first. */
struct wctx {
    const char *name;
    int hold;
    int stop; /* atomic */
    long answered;
};

static void *worker_thread(void *arg)
{
    struct wctx *x = arg;
    zipc_rpc_worker *w = NULL;
    struct zipc_options o = tu_opts(5 * TU_S);
    if (!CHECK_OK(zipc_rpc_serve(&w, x->name, NULL, &o)))
        return NULL;
    struct zipc_rpc_request held[16];
    int n = 0;
    while (!__atomic_load_n(&x->stop, __ATOMIC_ACQUIRE)) {
        int err = zipc_rpc_next(w, &held[n], n ? 0 : 20 * TU_MS);
        if (err == 0)
            n++;
        if (n && (n == x->hold || err)) {
            while (n) { /* newest first: out of order */
                struct zipc_rpc_request *r = &held[--n];
                uint64_t v = 0;
                memcpy(&v, r->data, r->size < 8 ? r->size : 8);
                uint64_t a = answer_of(v);
                memcpy(r->reply, &a, 8);
                CHECK_OK(zipc_rpc_respond(w, r, 8, r->method, 0));
                x->answered++;
            }
        }
    }
    zipc_rpc_worker_close(w);
    return NULL;
}

static void in_flight_out_of_order(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "rpc1");
    struct wctx wc = {.name = name, .hold = 5};
    pthread_t t;
    pthread_create(&t, NULL, worker_thread, &wc);
    zipc_rpc_client *c = NULL;
    struct zipc_options o = tu_opts(5 * TU_S);
    if (CHECK_OK(zipc_rpc_connect(&c, name, NULL, &o))) {
        long calls = tu_scaled(20000, 500), done = 0, issued = 0;
        uint64_t ids[64], vals[64];
        int inflight = 0;
        while (done < calls) {
            while (issued < calls && inflight < 64) {
                uint64_t v = (uint64_t)issued * 7919;
                if (!CHECK_OK(zipc_rpc_call(c, &v, 8, 3, 0, 64, 5 * TU_S, &ids[inflight])))
                    goto out;
                vals[inflight++] = v;
                issued++;
            }
            struct zipc_rpc_reply r;
            if (!CHECK_OK(zipc_rpc_wait(c, ZIPC_RPC_ANY, &r, 5 * TU_S)))
                goto out;
            int k = 0;
            while (k < inflight && ids[k] != r.id)
                k++;
            if (!CHECK_MSG(k < inflight, "a reply to no call of ours"))
                goto out;
            uint64_t a;
            memcpy(&a, r.data, 8);
            CHECK(r.status == 0 && r.size == 8 && r.method == 3 && a == answer_of(vals[k]));
            CHECK_OK(zipc_rpc_reply_release(c, &r));
            ids[k] = ids[--inflight];
            vals[k] = vals[inflight];
            done++;
        }
        CHECK_EQ(zipc_rpc_in_flight(c), 0);
        /* bad ids and handles */
        struct zipc_rpc_reply r;
        CHECK_ERR(zipc_rpc_wait(c, 12345, &r, 0), -EINVAL);
        CHECK_ERR(zipc_rpc_cancel(c, 12345), -EINVAL);
    }
out:
    __atomic_store_n(&wc.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    zipc_rpc_client_close(c);
}

static void deadlines_and_cancel(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "rpc2");
    struct zipc_options o = tu_opts(5 * TU_S);
    zipc_rpc_client *c = NULL;
    zipc_rpc_worker *w = NULL;
    if (!CHECK_OK(zipc_rpc_connect(&c, name, NULL, &o)) || !CHECK_OK(zipc_rpc_serve(&w, name, NULL, &o)))
        goto out;
    /* a queue cannot open the service's name, nor the reverse */
    zipc_queue *q = NULL;
    CHECK_ERR(zipc_queue_open(&q, name, ZIPC_ROLE_CONSUMER, NULL, &o), -EPROTOTYPE);
    char qname[TU_NAME_MAX];
    tu_topic_name(qname, "rpcq");
    if (CHECK_OK(zipc_queue_open(&q, qname, ZIPC_ROLE_CONSUMER, NULL, &o))) {
        zipc_rpc_worker *w2 = NULL;
        CHECK_ERR(zipc_rpc_serve(&w2, qname, NULL, &o), -EPROTOTYPE);
        zipc_queue_close(q);
    }
    /* a deadline passes while the worker holds the call */
    uint64_t id, v = 1;
    CHECK_OK(zipc_rpc_call(c, &v, 8, 1, 0, 64, 30 * TU_MS, &id));
    struct zipc_rpc_request req;
    CHECK_OK(zipc_rpc_next(w, &req, TU_S));
    CHECK_EQ(zipc_rpc_cancelled(w, &req), 0);
    struct zipc_rpc_reply r;
    int64_t t0 = tu_now_ns();
    CHECK_OK(zipc_rpc_wait(c, id, &r, 5 * TU_S));
    double late_ms = tu_ms_since(t0) - 30;
    CHECK(r.status == -ETIMEDOUT && r.id == id);
    CHECK_MSG(late_ms < 20 * tu_slack(), "deadline reported %.1f ms late", late_ms);
    CHECK_OK(zipc_rpc_reply_release(c, &r)); /* made up by the service: nothing to give back */
    CHECK_EQ(zipc_rpc_cancelled(w, &req), 1);
    CHECK_OK(zipc_rpc_respond(w, &req, 0, 0, 0)); /* late: dropped */
    /* a reply written after the deadline is late: the call timed out all the same */
    CHECK_OK(zipc_rpc_call(c, &v, 8, 1, 0, 64, 20 * TU_MS, &id));
    if (CHECK_OK(zipc_rpc_next(w, &req, TU_S))) {
        tu_sleep_us(40000);
        CHECK_OK(zipc_rpc_respond(w, &req, 0, 0, 0));
        CHECK_OK(zipc_rpc_wait(c, id, &r, TU_S));
        CHECK(r.id == id && r.status == -ETIMEDOUT);
        CHECK_OK(zipc_rpc_reply_release(c, &r));
    }
    /* a reservation dropped: the next one works */
    void *buf;
    CHECK_ERR(zipc_rpc_abort(c), -EINVAL);
    CHECK_OK(zipc_rpc_reserve(c, 8, 64, &buf, TU_S));
    CHECK_ERR(zipc_rpc_reserve(c, 8, 64, &buf, TU_S), -EALREADY);
    CHECK_OK(zipc_rpc_abort(c));
    CHECK_OK(zipc_rpc_reserve(c, 8, 64, &buf, TU_S));
    CHECK_OK(zipc_rpc_abort(c));
    /* cancelled before any worker took it: never handed out */
    CHECK_OK(zipc_rpc_call(c, &v, 8, 2, 0, 64, ZIPC_FOREVER, &id));
    CHECK_OK(zipc_rpc_cancel(c, id));
    CHECK_ERR(zipc_rpc_next(w, &req, 50 * TU_MS), -ETIMEDOUT);
    /* cancelled while held: the worker sees it */
    CHECK_OK(zipc_rpc_call(c, &v, 8, 2, 0, 64, ZIPC_FOREVER, &id));
    CHECK_OK(zipc_rpc_next(w, &req, TU_S));
    CHECK_OK(zipc_rpc_cancel(c, id));
    CHECK_EQ(zipc_rpc_cancelled(w, &req), 1);
    CHECK_OK(zipc_rpc_respond(w, &req, 0, 0, 0));
    CHECK_EQ(zipc_rpc_in_flight(c), 0);
    /* a forged request handle fails alone */
    struct zipc_rpc_request forged = req;
    CHECK_ERR(zipc_rpc_respond(w, &forged, 0, 0, 0), -EBADMSG);
    forged.lane_ = 99;
    CHECK_ERR(zipc_rpc_respond(w, &forged, 0, 0, 0), -EBADMSG);
    /* the lane's frames all came back: many more calls fit than the lane holds at once */
    for (int i = 0; i < 3000; i++) {
        if (!CHECK_OK(zipc_rpc_call(c, &v, 8, 4, 0, 1000, ZIPC_FOREVER, &id)) ||
            !CHECK_OK(zipc_rpc_next(w, &req, TU_S)) || !CHECK_OK(zipc_rpc_respond(w, &req, 0, 0, -5)) ||
            !CHECK_OK(zipc_rpc_wait(c, id, &r, TU_S)))
            break;
        CHECK_EQ(r.status, -5);
        CHECK_OK(zipc_rpc_reply_release(c, &r));
    }
out:
    zipc_rpc_worker_close(w);
    zipc_rpc_client_close(c);
}

/* A worker process takes calls and dies holding them. (Children are forked
 * before this process starts any thread: ThreadSanitizer's rule.) */
static void worker_dies(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "rpc3");
    struct zipc_options o = tu_opts(5 * TU_S);
    int pipefd[2];
    CHECK_OK(pipe(pipefd));
    pid_t pid = tu_fork();
    if (pid == 0) {
        zipc_rpc_worker *w = NULL;
        struct zipc_rpc_request a, b;
        if (zipc_rpc_serve(&w, name, NULL, &o) == 0 && zipc_rpc_next(w, &a, 5 * TU_S) == 0 &&
            zipc_rpc_next(w, &b, 5 * TU_S) == 0)
            tu_notify(pipefd[1]);
        for (;;)
            pause(); /* holding both */
    }
    zipc_rpc_client *c = NULL;
    uint64_t plain, idem, v = 42;
    if (CHECK_OK(zipc_rpc_connect(&c, name, NULL, &o)) &&
        CHECK_OK(zipc_rpc_call(c, &v, 8, 1, 0, 64, ZIPC_FOREVER, &plain)) &&
        CHECK_OK(zipc_rpc_call(c, &v, 8, 2, ZIPC_RPC_IDEMPOTENT, 64, ZIPC_FOREVER, &idem)) &&
        CHECK_MSG(tu_await(pipefd[0], 5000), "the worker took the calls")) {
        kill(pid, SIGKILL);
        tu_wait(pid, 5000);
        struct wctx wc = {.name = name, .hold = 1};
        pthread_t t;
        pthread_create(&t, NULL, worker_thread, &wc);
        struct zipc_rpc_reply r;
        for (int i = 0; i < 2; i++) {
            if (!CHECK_OK(zipc_rpc_wait(c, ZIPC_RPC_ANY, &r, 5 * TU_S)))
                break;
            if (r.id == plain)
                CHECK_EQ(r.status, -ECONNRESET);
            else
                CHECK(r.id == idem && r.status == 0 && r.size == 8); /* run again */
            CHECK_OK(zipc_rpc_reply_release(c, &r));
        }
        __atomic_store_n(&wc.stop, 1, __ATOMIC_RELEASE);
        pthread_join(t, NULL);
    }
    tu_kill_reap(pid);
    close(pipefd[0]);
    close(pipefd[1]);
    zipc_rpc_client_close(c);
}

/* A client process dies with calls pending: workers skip them, and a new
 * client taking the lane over works. */
static void client_dies(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "rpc4");
    struct zipc_options o = tu_opts(5 * TU_S);
    int pipefd[2];
    CHECK_OK(pipe(pipefd));
    pid_t pid = tu_fork();
    if (pid == 0) {
        zipc_rpc_client *c = NULL;
        uint64_t id, v = 7;
        if (zipc_rpc_connect(&c, name, NULL, &o) == 0)
            for (int i = 0; i < 10; i++)
                zipc_rpc_call(c, &v, 8, 1, 0, 64, ZIPC_FOREVER, &id);
        tu_notify(pipefd[1]);
        for (;;)
            pause();
    }
    zipc_rpc_worker *w = NULL;
    if (CHECK(tu_await(pipefd[0], 5000))) {
        kill(pid, SIGKILL);
        tu_wait(pid, 5000);
        struct zipc_rpc_request req;
        int64_t t0 = tu_now_ns();
        int err = CHECK_OK(zipc_rpc_serve(&w, name, NULL, &o)) ? 0 : -1;
        while (err == 0 && (err = zipc_rpc_next(w, &req, 50 * TU_MS)) == 0 && tu_ms_since(t0) < 2000)
            zipc_rpc_respond(w, &req, 0, 0, 0);
        CHECK_ERR(err, -ETIMEDOUT); /* a dead caller's calls are never handed out */
        zipc_rpc_client *c = NULL;
        if (w && CHECK_OK(zipc_rpc_connect(&c, name, NULL, &o))) {
            uint64_t id, v = 9;
            struct zipc_rpc_reply r;
            for (int i = 0; i < 2000; i++) {
                if (!CHECK_OK(zipc_rpc_call(c, &v, 8, 1, 0, 4000, TU_S, &id)) ||
                    !CHECK_OK(zipc_rpc_next(w, &req, TU_S)) || !CHECK_OK(zipc_rpc_respond(w, &req, 0, 0, 0)) ||
                    !CHECK_OK(zipc_rpc_wait(c, id, &r, TU_S)) || !CHECK_OK(zipc_rpc_reply_release(c, &r)))
                    break;
            }
            zipc_rpc_client_close(c);
        }
    }
    tu_kill_reap(pid);
    close(pipefd[0]);
    close(pipefd[1]);
    zipc_rpc_worker_close(w);
}

/* 8 client processes x many calls in flight, 2 worker processes with random service times. */
#define NCLIENTS 8 /* each with up to 1000 calls in flight */
static void many_processes(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "rpc5");
    int *stop = tu_shared(sizeof(int));
    pid_t workers[2], clients[NCLIENTS];
    for (int i = 0; i < 2; i++)
        if ((workers[i] = tu_fork()) == 0) {
            struct zipc_options o = tu_opts(5 * TU_S);
            zipc_rpc_worker *w = NULL;
            uint64_t rng = tu_seed + (uint64_t)i;
            if (CHECK_OK(zipc_rpc_serve(&w, name, NULL, &o))) {
                struct zipc_rpc_request req;
                while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
                    if (zipc_rpc_next(w, &req, 20 * TU_MS))
                        continue;
                    if (tu_below(&rng, 16) == 0)
                        tu_sleep_us((long)tu_below(&rng, 300));
                    uint64_t v;
                    memcpy(&v, req.data, 8);
                    uint64_t a = answer_of(v);
                    memcpy(req.reply, &a, 8);
                    CHECK_OK(zipc_rpc_respond(w, &req, 8, 0, 0));
                }
            }
            zipc_rpc_worker_close(w);
            tu_child_exit();
        }
    long calls = tu_scaled(4000, 200);
    for (int i = 0; i < NCLIENTS; i++)
        if ((clients[i] = tu_fork()) == 0) {
            struct zipc_options o = tu_opts(5 * TU_S);
            zipc_rpc_client *c = NULL;
            if (CHECK_OK(zipc_rpc_connect(&c, name, NULL, &o))) {
                long issued = 0, done = 0;
                while (done < calls) {
                    while (issued < calls && zipc_rpc_in_flight(c) < 1000) {
                        uint64_t v = (uint64_t)i << 40 | (uint64_t)issued++, id;
                        if (!CHECK_OK(zipc_rpc_call(c, &v, 8, 0, 0, 64, 20 * TU_S, &id)))
                            break;
                    }
                    struct zipc_rpc_reply r;
                    if (!CHECK_OK(zipc_rpc_wait(c, ZIPC_RPC_ANY, &r, 20 * TU_S)))
                        break;
                    /* the request is in the frame, before the reply: match them */
                    uint64_t v, a;
                    memcpy(&v, (const uint8_t *)r.data - 64, 8);
                    memcpy(&a, r.data, 8);
                    CHECK_MSG(r.status == 0 && a == answer_of(v) && (v >> 40) == (uint64_t)i,
                              "reply %" PRIx64 " to request %" PRIx64, a, v);
                    zipc_rpc_reply_release(c, &r);
                    done++;
                }
            }
            zipc_rpc_client_close(c);
            tu_child_exit();
        }
    for (int i = 0; i < NCLIENTS; i++)
        CHECK_CHILD(clients[i], 120000);
    __atomic_store_n(stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        CHECK_CHILD(workers[i], 20000);
}


/* ---- streamed replies ------------------------------------------------------------ */

static uint64_t part_of(uint64_t v, uint32_t k) { return answer_of(v * 100 + k); }

/* The streaming worker process: method 1 streams v parts then the final
 * reply; 2 publishes a part nobody releases, then may only end with a status;
 * 3 streams until the caller cancels (tells the pipe 'C'); 4 dies after two
 * parts. */
static void stream_worker(const char *name, int fd)
{
    struct zipc_options o = tu_opts(5 * TU_S);
    zipc_rpc_worker *w = NULL;
    if (!CHECK_OK(zipc_rpc_serve(&w, name, NULL, &o)))
        tu_child_exit();
    tu_notify(fd);
    for (;;) {
        struct zipc_rpc_request req;
        if (!CHECK_OK(zipc_rpc_next(w, &req, 10 * TU_S)))
            break;
        uint64_t v = 0, a;
        memcpy(&v, req.data, 8);
        uint32_t k = 1;
        int err = 0;
        for (; req.method != 2 && (req.method != 1 || k <= v) && (req.method != 4 || k <= 2); k++) {
            a = part_of(v, k);
            memcpy(req.reply, &a, 8);
            if ((err = zipc_rpc_respond_part(w, &req, 8, k, 5 * TU_S)))
                break;
        }
        if (req.method == 4)
            raise(SIGKILL); /* two parts out, the final reply never */
        if (req.method == 2) {
            a = part_of(v, 1);
            memcpy(req.reply, &a, 8);
            CHECK_ERR(zipc_rpc_respond_part(w, &req, 8, 1, 100 * TU_MS), -ETIMEDOUT);
            CHECK_ERR(zipc_rpc_respond(w, &req, 8, 0, 0), -EBUSY); /* the part is still read */
            CHECK_OK(zipc_rpc_respond(w, &req, 0, 0, -EIO));       /* a status goes */
            continue;
        }
        if (req.method == 3) {
            if (CHECK_ERR(err, -ECANCELED))
                tu_notify(fd);
            CHECK_OK(zipc_rpc_respond(w, &req, 0, 0, -ECANCELED));
            continue;
        }
        CHECK_OK(err);
        a = answer_of(v);
        memcpy(req.reply, &a, 8);
        CHECK_OK(zipc_rpc_respond(w, &req, 8, 0, 0));
    }
    zipc_rpc_worker_close(w);
    tu_child_exit();
}

/* The next reply of `id`: a part numbered `part` (0: the final reply). */
static bool next_reply(zipc_rpc_client *c, uint64_t id, uint32_t part, struct zipc_rpc_reply *r)
{
    return CHECK_OK(zipc_rpc_wait(c, id, r, 5 * TU_S)) &&
           CHECK_MSG(r->id == id && r->part == part && (r->flags == ZIPC_RPC_REPLY_MORE) == (part > 0),
                     "reply part %u flags %u, expected part %u", r->part, r->flags, part);
}

static void streamed_replies(void)
{
    char name[TU_NAME_MAX];
    tu_topic_name(name, "rpcs");
    struct zipc_options o = tu_opts(5 * TU_S);
    int pipefd[2];
    CHECK_OK(pipe(pipefd));
    pid_t pid = tu_fork();
    if (pid == 0)
        stream_worker(name, pipefd[1]);
    zipc_rpc_client *c = NULL;
    struct zipc_rpc_reply r;
    uint64_t id, v = 5, got;
    if (!CHECK_MSG(tu_await(pipefd[0], 5000), "the worker serves") || !CHECK_OK(zipc_rpc_connect(&c, name, NULL, &o)))
        goto out;
    /* parts in order, each numbered, then the final reply */
    CHECK_OK(zipc_rpc_call(c, &v, 8, 1, 0, 64, ZIPC_FOREVER, &id));
    for (uint32_t k = 1; k <= v && next_reply(c, id, k, &r); k++) {
        memcpy(&got, r.data, 8);
        CHECK(got == part_of(v, k) && r.size == 8 && r.type == k && r.status == 0);
        struct zipc_rpc_reply again;
        bool asked = k == 2 && CHECK_OK(zipc_rpc_wait(c, id, &again, 0)); /* asked again: the part held */
        if (asked)
            CHECK(again.part == 2 && again.data == r.data);
        CHECK_OK(zipc_rpc_reply_release(c, &r));
        if (asked) /* given back twice: refused, the next part is not freed by it */
            CHECK_EQ(zipc_rpc_reply_release(c, &again), -EINVAL);
    }
    if (next_reply(c, id, 0, &r)) {
        memcpy(&got, r.data, 8);
        CHECK(got == answer_of(v) && r.status == 0);
        CHECK_OK(zipc_rpc_reply_release(c, &r));
    }
    /* a part held past the worker's patience: the call ends with a status after it */
    CHECK_OK(zipc_rpc_call(c, &v, 8, 2, 0, 64, ZIPC_FOREVER, &id));
    if (next_reply(c, id, 1, &r)) {
        tu_sleep_us(300000); /* meanwhile the worker ends the call with a status */
        memcpy(&got, r.data, 8);
        CHECK(got == part_of(v, 1) && r.size == 8 && r.type == 1);
        CHECK_OK(zipc_rpc_reply_release(c, &r));
        if (next_reply(c, id, 0, &r)) {
            CHECK_EQ(r.status, -EIO);
            CHECK_OK(zipc_rpc_reply_release(c, &r));
        }
    }
    /* cancelled mid-stream: the worker's next part says so */
    CHECK_OK(zipc_rpc_call(c, &v, 8, 3, 0, 64, ZIPC_FOREVER, &id));
    for (uint32_t k = 1; k <= 3 && next_reply(c, id, k, &r); k++)
        CHECK_OK(zipc_rpc_reply_release(c, &r));
    CHECK_OK(zipc_rpc_cancel(c, id));
    CHECK_MSG(tu_await(pipefd[0], 5000), "the worker saw the cancel");
    CHECK_EQ(zipc_rpc_in_flight(c), 0);
    /* the worker dies mid-stream: the call fails, though idempotent (its parts went out) */
    CHECK_OK(zipc_rpc_call(c, &v, 8, 4, ZIPC_RPC_IDEMPOTENT, 64, ZIPC_FOREVER, &id));
    for (uint32_t k = 1; k <= 2 && next_reply(c, id, k, &r); k++)
        CHECK_OK(zipc_rpc_reply_release(c, &r));
    CHECK(tu_wait(pid, 5000) >= 0);
    pid = 0;
    struct wctx wc = {.name = name, .hold = 1};
    pthread_t t;
    pthread_create(&t, NULL, worker_thread, &wc);
    if (next_reply(c, id, 0, &r)) {
        CHECK_EQ(r.status, -ECONNRESET);
        CHECK_OK(zipc_rpc_reply_release(c, &r));
    }
    __atomic_store_n(&wc.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
out:
    if (pid)
        tu_kill_reap(pid);
    close(pipefd[0]);
    close(pipefd[1]);
    zipc_rpc_client_close(c);
}

int main(void)
{
    tu_init("rpc_basic", 300);
    in_flight_out_of_order();
    deadlines_and_cancel();
    worker_dies();
    client_dies();
    many_processes();
    streamed_replies();
    return tu_finish();
}

/* Views released in any order (zipc_channel_release_view). The ring space
 * of a view returns to the producer oldest first, as soon as every older
 * view is released too, and never earlier: an open view is never
 * overwritten, and the producer gets back exactly what was returned.
 *   - every release order of n <= 5 views; random orders of up to ~1000
 *     views (the endpoint's ledger grows past its first size);
 *   - a randomised model test (>= 200k operations at scale 1) mixing view,
 *     drain, release_view, release_upto, release and recv with sends,
 *     checked after every operation against a reference model of the
 *     returned prefix: the consumer's stats (messages, bytes) and the
 *     producer's free space (a send succeeds exactly when the model has
 *     room for it);
 *   - double releases, stale and forged views are refused with -EINVAL;
 *   - a producer process streams distinct messages of random sizes while
 *     the consumer holds a random window of views and releases them in
 *     random order; every message is checked when viewed and when released. */
#include "testutil.h"

#define MAXV 1024 /* open views the model tracks: more than any ring here holds */

enum { FREE = 0, OPEN, RELEASED };

struct model {
    zipc_channel *p, *c;
    uint64_t seed, rng;
    size_t size;          /* every message's size */
    uint64_t frame;       /* its frame in the ring */
    uint64_t room;        /* messages the producer may have outstanding */
    uint64_t sent;        /* committed */
    uint64_t taken;       /* viewed (or received) */
    uint64_t returned;    /* given back to the producer: a prefix of the taken */
    struct zipc_msg view[MAXV]; /* by seq % MAXV */
    uint8_t state[MAXV];
    uint64_t open[MAXV];  /* seqs of the open views, in no order */
    unsigned nopen;
};

/* ---- the model and its checks -------------------------------------------- */

/* The last operations, printed when the model and the endpoint disagree. */
static char trace_[64][80];
static unsigned ntrace_;
#define TRACE(...) snprintf(trace_[ntrace_++ % 64], sizeof(trace_[0]), __VA_ARGS__)

static void print_trace(const struct model *m)
{
    printf("  model: sent %" PRIu64 " taken %" PRIu64 " returned %" PRIu64 " open %u; last operations:\n",
           m->sent, m->taken, m->returned, m->nopen);
    for (unsigned i = ntrace_ > 64 ? ntrace_ - 64 : 0; i < ntrace_; i++)
        printf("    %s\n", trace_[i % 64]);
    printf("  open:");
    for (unsigned j = 0; j < m->nopen; j++)
        printf(" %" PRIu64, m->open[j]);
    printf("\n");
}

/* Return the released views right after the returned prefix. */
static void settle(struct model *m)
{
    while (m->returned < m->taken && m->state[m->returned % MAXV] == RELEASED)
        m->state[m->returned++ % MAXV] = FREE;
}

/* The consumer's and the producer's counters agree with the model. */
static void m_check(struct model *m)
{
    struct zipc_channel_stats c, p;
    CHECK_HOT_OK(zipc_channel_get_stats(m->c, &c));
    CHECK_HOT_OK(zipc_channel_get_stats(m->p, &p));
    if (!CHECK_HOT(c.messages == m->returned && c.bytes == m->returned * m->frame)) {
        printf("  consumer released %" PRIu64 " messages, %" PRIu64 " bytes\n", c.messages, c.bytes);
        print_trace(m);
    }
    CHECK_HOT(p.messages == m->sent);
}

/* One send: it must succeed exactly when the model has room for it. */
static bool m_send(struct model *m)
{
    bool room = m->sent - m->returned < m->room;
    int r = tu_send_k(m->p, m->seed, m->sent, m->size, 0, ZIPC_TRY);
    if (!CHECK_HOT_ERR(r, room ? 0 : -EAGAIN))
        printf("  outstanding %" PRIu64 " of room %" PRIu64 "\n", m->sent - m->returned, m->room);
    if (r == 0)
        m->sent++;
    return r == 0;
}

/* Send until full; the last try checks the -EAGAIN at the limit. */
static void m_fill(struct model *m)
{
    for (uint64_t n = 0; m_send(m) && n <= MAXV; n++) {
    }
}

static void m_opened(struct model *m, const struct zipc_msg *v)
{
    CHECK_HOT(v->seq == m->taken);
    CHECK_MSG_K(v, m->seed, m->taken, m->size);
    m->view[m->taken % MAXV] = *v;
    m->state[m->taken % MAXV] = OPEN;
    m->open[m->nopen++] = m->taken++;
}

static void m_view(struct model *m)
{
    struct zipc_msg v;
    memset(&v, 0xa5, sizeof(v)); /* a view writes every field (channel.h): none of this may be left */
    int r = zipc_channel_view(m->c, &v, ZIPC_TRY);
    TRACE("view -> %d (seq %" PRIu64 ")", r, r ? 0 : v.seq);
    if (CHECK_HOT_ERR(r, m->sent > m->taken ? 0 : -EAGAIN) && r == 0)
        m_opened(m, &v);
}

static void m_drain(struct model *m, unsigned max)
{
    struct zipc_msg v[64];
    max = max > 64 ? 64 : max ? max : 1;
    uint64_t ready = m->sent - m->taken;
    int want = ready ? (int)(ready < max ? ready : max) : -EAGAIN;
    int r = zipc_channel_drain(m->c, v, max, ZIPC_TRY);
    TRACE("drain %u -> %d (from seq %" PRIu64 ")", max, r, m->taken);
    if (CHECK_HOT_ERR(r, want))
        for (int i = 0; i < r; i++)
            m_opened(m, &v[i]);
}

/* Drop open[i] from the open list and mark its view released. */
static void m_mark_released(struct model *m, unsigned i)
{
    uint64_t seq = m->open[i];
    m->state[seq % MAXV] = RELEASED;
    m->open[i] = m->open[--m->nopen];
}

/* Release the open view open[i] alone; then, sometimes, once more. */
static void m_release_view(struct model *m, unsigned i)
{
    struct zipc_msg v = m->view[m->open[i] % MAXV];
    CHECK_MSG_K(&v, m->seed, v.seq, m->size); /* still intact while open */
    CHECK_HOT_OK(zipc_channel_release_view(m->c, &v));
    TRACE("release_view seq %" PRIu64, v.seq);
    m_mark_released(m, i);
    settle(m);
    if (tu_below(&m->rng, 4) == 0) /* a double release: in the ledger, or returned */
        CHECK_HOT_ERR(zipc_channel_release_view(m->c, &v), -EINVAL);
}

/* Release every open view up to and including open[i]. */
static void m_release_upto(struct model *m, unsigned i)
{
    struct zipc_msg v = m->view[m->open[i] % MAXV];
    CHECK_MSG_K(&v, m->seed, v.seq, m->size);
    CHECK_HOT_OK(zipc_channel_release_upto(m->c, &v));
    TRACE("release_upto seq %" PRIu64, v.seq);
    for (unsigned j = m->nopen; j-- > 0;)
        if (m->open[j] <= v.seq)
            m_mark_released(m, j);
    settle(m);
    CHECK_HOT_ERR(zipc_channel_release_upto(m->c, &v), -EINVAL); /* returned now */
}

/* Release a run of consecutive open views starting at open[i], as a drain's
 * array, with zipc_channel_release_views. */
static void m_release_views(struct model *m, unsigned i, unsigned most)
{
    struct zipc_msg run[8];
    unsigned n = 0;
    for (uint64_t seq = m->open[i]; n < most && n < 8 && seq < m->taken && m->state[seq % MAXV] == OPEN; seq++)
        run[n++] = m->view[seq % MAXV];
    CHECK_HOT_OK(zipc_channel_release_views(m->c, run, n));
    TRACE("release_views seq %" PRIu64 " x %u", run[0].seq, n);
    for (unsigned j = m->nopen; j-- > 0;)
        if (m->open[j] >= run[0].seq && m->open[j] <= run[n - 1].seq)
            m_mark_released(m, j);
    settle(m);
    CHECK_HOT_ERR(zipc_channel_release_views(m->c, run, n), -EINVAL); /* released now */
}

static void m_release_all(struct model *m)
{
    CHECK_HOT_OK(zipc_channel_release(m->c));
    TRACE("release (all)");
    while (m->nopen)
        m_mark_released(m, 0);
    settle(m);
}

/* recv copies and releases; it refuses while views are open. */
static void m_recv(struct model *m)
{
    _Alignas(16) uint8_t buf[4096];
    size_t size = 0;
    uint32_t type = 0;
    int want = m->nopen ? -EALREADY : m->sent > m->taken ? 0 : -EAGAIN;
    int r = zipc_channel_recv(m->c, buf, sizeof(buf), &size, &type, ZIPC_TRY);
    TRACE("recv -> %d", r);
    if (!CHECK_HOT_ERR(r, want) || r)
        return;
    int why = tu_msg_verify(buf, size, type, m->seed, m->taken, m->size);
    if (why != TU_MSG_OK)
        CHECK_MSG(false, "recv of message %" PRIu64 ": bad %s", m->taken, tu_msg_why(why));
    m->taken++;
    m->returned++;
}

/* View and release whatever is left, in order. */
static void m_consume_all(struct model *m)
{
    m_release_all(m);
    while (m->sent > m->taken) {
        m_view(m);
        m_release_all(m);
    }
    m_check(m);
}

static bool m_open(struct model *m, size_t cap, size_t size, uint64_t seed)
{
    memset(m, 0, sizeof(*m));
    if (!tu_pair_pc(&m->p, &m->c, cap))
        return false;
    m->seed = seed;
    m->rng = seed ^ 0x5eed;
    m->size = size;
    m->frame = (ZIPC_FRAME_HEADER + size + ZIPC_FRAME_ALIGN - 1) / ZIPC_FRAME_ALIGN * ZIPC_FRAME_ALIGN;
    /* The producer's room, measured once on the empty ring: nearly all of it
     * (it keeps one slot for the terminator). From here on the model
     * predicts every send. */
    m->room = MAXV;
    while (tu_send_k(m->p, seed, m->sent, size, 0, ZIPC_TRY) == 0 && m->sent < MAXV)
        m->sent++;
    m->room = m->sent;
    CHECK_MSG(m->room >= cap / m->frame - 2 && m->room < cap / m->frame && m->room < MAXV,
              "a %zu-byte ring takes %" PRIu64 " frames of %" PRIu64 " bytes", cap, m->room, m->frame);
    m_consume_all(m);
    return true;
}

static void m_close(struct model *m)
{
    m_consume_all(m);
    CHECK_ERR(zipc_channel_view(m->c, &(struct zipc_msg){0}, ZIPC_TRY), -EAGAIN);
    zipc_channel_close(m->p);
    zipc_channel_close(m->c);
}

/* ---- every order, random orders ------------------------------------------ */

/* Open n views (by view and drain), then release them in `order` (indexes
 * into the views, oldest first); after each release the producer refills
 * exactly what came back. */
static void release_in(struct model *m, const unsigned *order, unsigned n)
{
    m_fill(m);
    uint64_t first = m->taken;
    while (m->taken - first < n) {
        unsigned left = n - (unsigned)(m->taken - first);
        if (tu_below(&m->rng, 2))
            m_view(m);
        else
            m_drain(m, 1 + (unsigned)tu_below(&m->rng, left));
    }
    for (unsigned k = 0; k < n; k++) {
        unsigned i = 0;
        while (i < m->nopen && m->open[i] != first + order[k])
            i++;
        if (!CHECK_MSG(i < m->nopen, "view %u is not open", order[k]))
            return;
        m_release_view(m, i);
        m_check(m);
        m_fill(m);
    }
    CHECK_EQ(m->returned, first + n);
    m_consume_all(m);
}

/* The next permutation in lexicographic order; false after the last. */
static bool next_permutation(unsigned *a, unsigned n)
{
    unsigned i = n - 1;
    while (i > 0 && a[i - 1] >= a[i])
        i--;
    if (i == 0)
        return false;
    unsigned j = n - 1;
    while (a[j] <= a[i - 1])
        j--;
    unsigned t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
    for (unsigned l = i, r = n - 1; l < r; l++, r--) {
        t = a[l];
        a[l] = a[r];
        a[r] = t;
    }
    return true;
}

static void every_order_up_to_5(uint64_t seed)
{
    struct model *m = calloc(1, sizeof(*m));
    if (!m_open(m, 4096, 200, seed))
        goto out;
    int failed = tu_failed_, cases = 0;
    for (unsigned n = 1; n <= 5; n++) {
        unsigned order[5] = {0, 1, 2, 3, 4};
        do {
            release_in(m, order, n);
            cases++;
        } while (next_permutation(order, n) && tu_failed_ == failed);
    }
    CHECK_EQ(cases, 1 + 2 + 6 + 24 + 120);
    m_close(m);
out:
    free(m);
}

static void random_orders(uint64_t seed)
{
    struct model *m = calloc(1, sizeof(*m));
    if (!m_open(m, 65536, 40, seed)) /* frames of 64 bytes: ~1000 fit */
        goto out;
    const unsigned sizes[] = {6, 7, 15, 16, 17, 31, 33, 100, 257, 500, 0 /* the whole room */};
    unsigned order[MAXV];
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        unsigned n = sizes[s] ? sizes[s] : (unsigned)m->room;
        for (int rep = 0; rep < 4; rep++) {
            for (unsigned i = 0; i < n; i++)
                order[i] = i;
            for (unsigned i = n - 1; i > 0; i--) { /* Fisher-Yates */
                unsigned j = (unsigned)tu_below(&m->rng, i + 1), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            if (rep == 3) /* newest first: every release but the last waits in the ledger */
                for (unsigned i = 0; i < n; i++)
                    order[i] = n - 1 - i;
            release_in(m, order, n);
        }
    }
    m_close(m);
out:
    free(m);
}

/* ---- the randomised model test -------------------------------------------- */

static void model_test(size_t cap, size_t size, long ops, uint64_t seed)
{
    struct model *m = calloc(1, sizeof(*m));
    if (!m_open(m, cap, size, seed))
        goto out;
    int failed = tu_failed_;
    unsigned most_open = 0;
    for (long i = 0; i < ops && tu_failed_ == failed; i++) {
        /* phases that let views pile up, then release them */
        bool grow = (i / 4096) % 2 == 0;
        unsigned sends = (unsigned)tu_below(&m->rng, 4);
        for (unsigned s = 0; s < sends; s++)
            m_send(m);
        unsigned op = (unsigned)tu_below(&m->rng, 100);
        if (op < (grow ? 35u : 15u))
            m_view(m);
        else if (op < 45)
            m_drain(m, 1 + (unsigned)tu_below(&m->rng, 8));
        else if (op < 85) {
            if (m->nopen)
                m_release_view(m, (unsigned)tu_below(&m->rng, m->nopen));
        } else if (op < 89) {
            if (m->nopen)
                m_release_upto(m, (unsigned)tu_below(&m->rng, m->nopen));
        } else if (op < 93) {
            if (m->nopen)
                m_release_views(m, (unsigned)tu_below(&m->rng, m->nopen), 1 + (unsigned)tu_below(&m->rng, 8));
        } else if (op < 96)
            m_release_all(m);
        else
            m_recv(m);
        m_check(m);
        if (m->nopen > most_open)
            most_open = m->nopen;
        if ((i & 1023) == 0) /* every open view still intact */
            for (unsigned j = 0; j < m->nopen; j++)
                CHECK_MSG_K(&m->view[m->open[j] % MAXV], m->seed, m->open[j], m->size);
    }
    printf("model: %ld operations on a %zu-byte ring, %" PRIu64 " messages, up to %u views open\n", ops,
           cap, m->sent, most_open);
    if (tu_failed_ == failed) { /* it went the whole way, through laps of the ring */
        CHECK(m->sent > (uint64_t)ops / 4);
        CHECK(most_open >= (m->room < 32 ? m->room : 32));
    }
    m_close(m);
out:
    free(m);
}

/* ---- refusals --------------------------------------------------------------- */

static void refusals(uint64_t seed)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, 4096))
        return;
    struct zipc_msg v[3], f;
    for (uint64_t k = 0; k < 3; k++)
        CHECK_OK(tu_send_k(p, seed, k, 100, 0, ZIPC_TRY));
    CHECK_EQ(zipc_channel_drain(c, v, 3, ZIPC_TRY), 3);
    CHECK_ERR(zipc_channel_release_view(c, NULL), -EINVAL);
    CHECK_OK(zipc_channel_release_view(c, &v[1]));
    CHECK_ERR(zipc_channel_release_view(c, &v[1]), -EINVAL); /* released already (in the ledger) */
    f = v[2];
    f.seq = 3; /* never viewed */
    CHECK_ERR(zipc_channel_release_view(c, &f), -EINVAL);
    f = v[2];
    f.end_ += ZIPC_FRAME_ALIGN; /* beyond what was viewed */
    CHECK_ERR(zipc_channel_release_view(c, &f), -EINVAL);
    f = v[2];
    f.end_ += 1; /* not a frame boundary */
    CHECK_ERR(zipc_channel_release_view(c, &f), -EINVAL);
    struct zipc_channel_stats st;
    CHECK_OK(zipc_channel_get_stats(c, &st));
    CHECK_EQ(st.messages, 0); /* v[0] is still open: nothing returned yet */
    CHECK_OK(zipc_channel_release_view(c, &v[0])); /* returns v[0] and v[1] */
    CHECK_OK(zipc_channel_get_stats(c, &st));
    CHECK_EQ(st.messages, 2);
    CHECK_ERR(zipc_channel_release_view(c, &v[0]), -EINVAL); /* returned */
    CHECK_ERR(zipc_channel_release_view(c, &v[1]), -EINVAL);
    CHECK_ERR(zipc_channel_release_upto(c, &v[0]), -EINVAL);
    CHECK_MSG_K(&v[2], seed, 2, 100);
    CHECK_OK(zipc_channel_release(c));
    CHECK_ERR(zipc_channel_release_view(c, &v[2]), -EINVAL); /* stale after release */
    /* the same positions a lap later are other views: the old copies stay stale */
    for (uint64_t k = 3; k < 3 + 64; k++) {
        struct zipc_msg x;
        CHECK_HOT_OK(tu_send_k(p, seed, k, 100, 0, ZIPC_TRY));
        CHECK_HOT_OK(zipc_channel_view(c, &x, ZIPC_TRY));
        CHECK_MSG_K(&x, seed, k, 100);
        for (int i = 0; i < 3; i++)
            CHECK_HOT_ERR(zipc_channel_release_view(c, &v[i]), -EINVAL);
        CHECK_HOT_OK(zipc_channel_release_view(c, &x));
    }
    CHECK_OK(zipc_channel_get_stats(c, &st));
    CHECK_EQ(st.messages, 3 + 64);
    zipc_channel_close(p);
    zipc_channel_close(c);
}

/* ---- with a producer process ----------------------------------------------- */

struct stream {
    uint64_t seed, n;
};

static void stream_producer(zipc_channel *ch, void *arg)
{
    const struct stream *s = arg;
    int err = 0;
    uint64_t k = 0;
    for (; k < s->n && !err; k++) /* some batches: ZIPC_COMMIT_MORE runs */
        err = tu_send_stream(ch, s->seed, k, tu_mix(s->seed ^ k) % 5 == 0 ? ZIPC_COMMIT_MORE : 0,
                             30000 * TU_MS);
    CHECK_MSG(err == 0, "producer: message %" PRIu64 ": %s", k - 1, zipc_strerror(err));
    CHECK_OK(zipc_channel_flush(ch));
}

/* Check the open view at index i (by the message's own size) and release
 * it one way or another; returns how many views were released. */
static unsigned stream_release(zipc_channel *c, struct zipc_msg *open, unsigned *nopen, unsigned i,
                               uint64_t seed, size_t max, uint64_t *rng)
{
    unsigned way = (unsigned)tu_below(rng, 10), n = 0;
    for (unsigned j = 0; j < *nopen; j++)
        if (way == 9 || j == i || (way == 8 && open[j].seq <= open[i].seq))
            CHECK_STREAM_K(&open[j], seed, open[j].seq, max);
    if (way == 9) { /* all */
        CHECK_HOT_OK(zipc_channel_release(c));
        n = *nopen;
        *nopen = 0;
        return n;
    }
    if (way == 8) { /* up to open[i] */
        uint64_t last = open[i].seq;
        CHECK_HOT_OK(zipc_channel_release_upto(c, &open[i]));
        for (unsigned j = *nopen; j-- > 0;)
            if (open[j].seq <= last) {
                open[j] = open[--*nopen];
                n++;
            }
        return n;
    }
    if (!CHECK_HOT_OK(zipc_channel_release_view(c, &open[i])))
        for (unsigned j = 0; j < *nopen; j++)
            printf("  %s view seq %" PRIu64 " size %u end %" PRIu64 "\n", j == i ? "->" : "  ",
                   open[j].seq, open[j].size, open[j].end_);
    open[i] = open[--*nopen];
    return 1;
}

static void with_producer_process(size_t cap, uint64_t seed)
{
    struct stream s = {.seed = seed, .n = (uint64_t)tu_scaled(200000, 4000)};
    char path[TU_PATH_MAX];
    pid_t pid = tu_spawn_connector(tu_path(path, "relview"), NULL, stream_producer, &s);
    zipc_channel *c = tu_listen(path, cap, NULL);
    if (!c) {
        tu_kill_reap(pid);
        return;
    }
    size_t max = zipc_channel_max_message(c);
    struct zipc_msg open[64];
    unsigned nopen = 0, window = 1, most = 0;
    uint64_t rng = seed ^ 0xc0ffee, k = 0, released = 0;
    int failed = tu_failed_;
    while (k < s.n && tu_failed_ == failed) {
        if (k % 997 == 0)
            window = 1 + (unsigned)tu_below(&rng, 64);
        if (nopen >= window) {
            released += stream_release(c, open, &nopen, (unsigned)tu_below(&rng, nopen), seed, max, &rng);
            continue;
        }
        /* Never block while holding views: the producer may need their space. */
        int r = zipc_channel_view(c, &open[nopen], nopen ? ZIPC_TRY : 30000 * TU_MS);
        if (r == -EAGAIN) {
            released += stream_release(c, open, &nopen, (unsigned)tu_below(&rng, nopen), seed, max, &rng);
            continue;
        }
        if (!CHECK_HOT_OK(r))
            break;
        CHECK_HOT(open[nopen].seq == k);
        CHECK_STREAM_K(&open[nopen], seed, k, max);
        nopen++;
        k++;
        most = nopen > most ? nopen : most;
    }
    while (nopen)
        released += stream_release(c, open, &nopen, (unsigned)tu_below(&rng, nopen), seed, max, &rng);
    CHECK_EQ(k, s.n);
    CHECK_EQ(released, s.n);
    struct zipc_channel_stats st;
    CHECK_OK(zipc_channel_get_stats(c, &st));
    CHECK_EQ(st.messages, s.n);
    struct zipc_msg end;
    CHECK_ERR(zipc_channel_view(c, &end, 30000 * TU_MS), -EPIPE);
    printf("stream: %" PRIu64 " messages from process %d through a %zu-byte ring, up to %u views open\n",
           s.n, (int)pid, cap, most);
    CHECK_CHILD(pid, 60000);
    zipc_channel_close(c);
}

int main(void)
{
    tu_init("test_release_view", 300);
    uint64_t seed = tu_seed;
    every_order_up_to_5(seed);
    random_orders(seed + 1);
    refusals(seed + 2);
    model_test(4096, 200, tu_scaled(200000, 5000), seed + 3);
    model_test(65536, 40, tu_scaled(100000, 5000), seed + 4);
    with_producer_process(65536, seed + 5);
    with_producer_process(4096, seed + 6);
    return tu_finish();
}

/* A DROP_OLDEST subscriber lapped exactly at a frame header.
 *
 * The publisher (this process) laps a subscriber process that stopped in
 * front of message A: the frame that overwrites A's slot ends two bytes
 * into A's header, so A's mark is intact but its size is not (the ABI
 * allows exactly this: the publisher moved the oldest past A first, and a
 * frame's payload may cover the next slot's first bytes), or it ends one
 * byte into A's mark, whose kind byte it rewrites. The contract for
 * a lossy subscriber: the loss is reported (-EOVERFLOW), a view the
 * publisher overwrote says -ESTALE on release, and it "never returns torn
 * data" as intact. So whatever it reads next, a message whose release says
 * 0 must be the one published under its number, and the ring must not be
 * declared corrupt (-EBADMSG): the publisher is honest.
 *   - "garbage": where A's torn size points, the slot holds another
 *     message's header;
 *   - "fake": it points into a payload that happens to hold bytes shaped
 *     like the next frame header (a payload is the user's: any bytes);
 *   - "pad": the byte over A's mark is ZIPC_FRAME_PAD, so the torn mark
 *     reads as the pad before A (issue 9: the subscriber skipped to the
 *     next lap's first frame, found another message there, and since the
 *     oldest had not passed that one, called the ring corrupt).
 * Positions are exact: 64-byte frames, one of 128, in a 4096-byte ring (the
 * publisher reclaims a sixteenth of the ring past what it needs). */
#include "testutil.h"

#define CAP 4096
#define TORN_SIZE 1000 /* A's size once two bytes of it are overwritten */
#define NMSG 64

struct plan {
    uint32_t size[NMSG], type[NMSG];
    unsigned n;
};

struct shared {
    struct plan plan;
    uint64_t seed;
};

static struct shared *sh;
static char name[TU_NAME_MAX];

/* M0, A, fillers up to 1024, Y (128-byte frame: the fake header may sit in
 * its payload at ring offset 1088), fillers up to 4096, then F over A. */
static void make_plan(struct plan *p)
{
    unsigned k = 0;
    p->size[k] = 48, p->type[k++] = 1; /* M0 at 0 */
    p->size[k] = 10, p->type[k++] = 2; /* A at 64 */
    for (unsigned pos = 128; pos < 1024; pos += 64)
        p->size[k] = 48, p->type[k++] = 4;
    p->size[k] = 100, p->type[k++] = 3; /* Y at 1024..1152, payload from 1040 */
    for (unsigned pos = 1152; pos < CAP; pos += 64)
        p->size[k] = 48, p->type[k++] = 4;
    p->size[k] = 50, p->type[k++] = 5; /* F at 4096: payload 16..66 of the ring, over A's size */
    p->n = k;
}

enum variant { GARBAGE, FAKE, PAD };
static const char *const variant_names[] = {"garbage", "fake", "pad"};

static void publish(zipc_publisher *p, unsigned k, enum variant v)
{
    void *buf;
    if (!CHECK_OK(zipc_publisher_reserve(p, sh->plan.size[k], &buf, ZIPC_TRY)))
        return;
    uint8_t *b = buf;
    tu_msg_fill(b, sh->plan.size[k], sh->seed, k);
    if (sh->plan.type[k] == 3 && v == FAKE) { /* bytes shaped like message 2's header, at ring offset 1088 */
        struct zipc_frame f = {.size = 8, .type = 7, .mark = ZIPC_FRAME_MARK(2, ZIPC_FRAME_MSG)};
        memcpy(b + (1088 - 1040), &f, sizeof(f));
    }
    if (sh->plan.type[k] == 5 && v == PAD) { /* its last byte lands on the kind byte of A's mark */
        b[sh->plan.size[k] - 1] = ZIPC_FRAME_PAD;
    } else if (sh->plan.type[k] == 5) { /* its last two bytes land on A's size */
        b[48] = TORN_SIZE & 0xff;
        b[49] = TORN_SIZE >> 8;
    }
    CHECK_OK(zipc_publisher_commit(p, sh->plan.size[k], sh->plan.type[k], 0));
}

/* Is m exactly message m->seq as published (the two edited payloads aside)? */
static bool as_published(const struct zipc_msg *m)
{
    if (m->seq >= sh->plan.n || m->size != sh->plan.size[m->seq] || m->type != sh->plan.type[m->seq])
        return false;
    uint32_t t = sh->plan.type[m->seq];
    return t == 3 || t == 5 || tu_msg_verify(m->data, m->size, tu_msg_type(sh->seed, m->seq), sh->seed, m->seq, m->size) == TU_MSG_OK;
}

static void subscriber(int go, int done, const char *variant)
{
    struct zipc_subscription s = tu_subscription(ZIPC_SUB_DROP_OLDEST, 0, 0, 0);
    struct zipc_options o = tu_opts(10000 * TU_MS);
    zipc_subscriber *sub = NULL;
    if (!CHECK_OK(zipc_topic_subscribe(&sub, name, &s, &o)))
        tu_child_exit();
    struct zipc_msg m;
    /* read M0, stop in front of A */
    if (CHECK(tu_await(go, 10000)) && CHECK_OK(zipc_subscriber_view(sub, &m, ZIPC_TRY))) {
        CHECK_EQ(m.seq, 0);
        CHECK_OK(zipc_subscriber_release(sub));
    }
    tu_notify(done);
    if (!CHECK(tu_await(go, 10000)))
        tu_child_exit();
    /* lapped: read on until nothing is left */
    for (int i = 0; i < 2 * NMSG; i++) {
        int r = zipc_subscriber_view(sub, &m, ZIPC_TRY);
        if (r == -EAGAIN)
            break;
        if (r == -EOVERFLOW)
            continue;
        if (!CHECK_MSG(r == 0, "%s: an honest publisher lapped a DROP subscriber, which then says %s", variant,
                       tu_errname(r)))
            break;
        bool ok = as_published(&m);
        uint32_t size = m.size, type = m.type;
        int rel = zipc_subscriber_release(sub);
        CHECK_MSG(rel == -ESTALE || (rel == 0 && ok),
                  "%s: message %" PRIu64 " (size %u, type %u; published: size %u, type %u) released with %s", variant,
                  m.seq, size, type, m.seq < sh->plan.n ? sh->plan.size[m.seq] : 0,
                  m.seq < sh->plan.n ? sh->plan.type[m.seq] : 0, tu_errname(rel));
    }
    zipc_subscriber_close(sub);
    tu_child_exit();
}

static void run(enum variant v)
{
    const char *variant = variant_names[v];
    /* F's payload ends at ring offset 66 (A's size), or 73 (A's mark, offset 72, is little-endian: kind first) */
    sh->plan.size[sh->plan.n - 1] = v == PAD ? 64 + offsetof(struct zipc_frame, mark) + 1 - ZIPC_FRAME_HEADER : 50;
    int go[2], done[2];
    if (!CHECK_OK(pipe(go)) || !CHECK_OK(pipe(done)))
        return;
    tu_topic_name(name, variant);
    pid_t kid = tu_fork(); /* before the topic: it inherits no endpoint */
    if (kid == 0)
        subscriber(go[0], done[1], variant);
    zipc_publisher *p = NULL;
    if (CHECK_OK(zipc_topic_create(&p, name, CAP, 0, NULL)) && CHECK(tu_await_subscribers(p, 1, 10000))) {
        publish(p, 0, v);
        publish(p, 1, v);
        tu_notify(go[1]);
        CHECK(tu_await(done[0], 10000));
        for (unsigned k = 2; k < sh->plan.n; k++)
            publish(p, k, v);
        tu_notify(go[1]);
    }
    CHECK_CHILD(kid, 20000);
    zipc_publisher_close(p);
    for (int i = 0; i < 2; i++) {
        close(go[i]);
        close(done[i]);
    }
}

int main(void)
{
    tu_init("test_lapped", 60);
    sh = tu_shared(sizeof(*sh));
    if (!sh)
        return tu_finish();
    sh->seed = tu_mix(tu_seed ^ 0x1a9);
    make_plan(&sh->plan);
    CHECK_EQ(sh->plan.n, 2 + 14 + 1 + 46 + 1);
    run(GARBAGE);
    run(FAKE);
    run(PAD);
    return tu_finish();
}

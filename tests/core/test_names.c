/* Names and the endpoint layer, below any public kind (internal API, with a
 * small test kind: one counter in the body, one eventfd besides the segment).
 *
 *   - names resolve to "\0zipc/<uid>/<name>", bad ones are refused;
 *   - a name is held by one process at a time, shows in /proc/net/unix as
 *     "@zipc/<uid>/<name>" and is gone the moment its holder is SIGKILLed;
 *   - a surviving member takes the name over with the segment it holds, and
 *     a third process then attaches through it to the same object;
 *   - a connector with ZIPC_OPT_PEER_UID looks the name up under that uid
 *     (with root, also across real uids). */
#include <grp.h>
#include <sys/socket.h>

#include "internal.h"
#include "rawpeer.h"

#define TEST_KIND 0x7e57u
#define NOBODY 65534u

/* ---- the test kind ------------------------------------------------------- */

enum { TEST_FD_WAKE = ZIPC__FD_SEGMENT + 1, TEST_NFDS };

struct test_body {
    uint64_t magic;   /* set by the creator */
    uint64_t counter; /* written by members */
};

struct member {
    struct zipc__handover h;
};

static struct test_body *body_of(const struct zipc__segment *seg)
{
    return (struct test_body *)(seg->base + 256);
}

static void test_init_body(struct zipc__segment *seg, const void *params)
{
    body_of(seg)->magic = *(const uint64_t *)params;
}

static int test_bind(void *ep, struct zipc__handover *h, const struct zipc__opts *o)
{
    (void)o;
    const struct zipc_segment_header *sh = (const void *)h->seg.base;
    if (sh->body_offset != 256 || sh->body_size != sizeof(struct test_body))
        return -EBADMSG;
    struct member *m = ep;
    m->h = *h; /* takes everything */
    h->seg = (struct zipc__segment){.fd = -1};
    h->fds[TEST_FD_WAKE] = -1;
    h->peer.sock = -1;
    return 0;
}

static const struct zipc__kind_desc test_kind = {
    .kind = TEST_KIND,
    .nfds = TEST_NFDS,
    .roles = 1u << ZIPC_ROLE_CONSUMER,
    .body_offset = 256,
    .body_size = sizeof(struct test_body),
    .max_segment = 1 << 20,
    .policy = zipc__segment_policy_rw,
    .init_body = test_init_body,
    .bind = test_bind,
};

static struct zipc__opts opts(int64_t timeout_ns)
{
    struct zipc_options in = tu_opts(timeout_ns);
    struct zipc__opts o;
    CHECK_OK(zipc__opts_resolve(&in, &o));
    return o;
}

static int join(struct member *m, const char *name, const struct zipc__opts *o)
{
    memset(m, 0, sizeof(*m));
    return zipc__endpoint_connect(&test_kind, m, name, o);
}

static void member_close(struct member *m) { zipc__handover_close(&m->h); }

static bool name_listed(const char *name) { return raw_name_held((uint32_t)geteuid(), name); }

static bool wait_listed(const char *name, bool listed, int timeout_ms)
{
    return raw_wait_name_held((uint32_t)geteuid(), name, listed, timeout_ms);
}

/* ---- cases ------------------------------------------------------------------ */

static void resolving(void)
{
    struct zipc__addr a;
    CHECK_OK(zipc__addr_resolve("frames-1.a_b", 1234, &a));
    const char want[] = "\0zipc/1234/frames-1.a_b";
    CHECK(a.abstract && a.len == offsetof(struct sockaddr_un, sun_path) + sizeof(want) - 1 &&
          memcmp(a.sa.sun_path, want, sizeof(want) - 1) == 0);
    char longest[ZIPC_NAME_MAX + 2];
    memset(longest, 'n', ZIPC_NAME_MAX);
    longest[ZIPC_NAME_MAX] = 0;
    CHECK_OK(zipc__addr_resolve(longest, UINT32_MAX, &a));
    longest[ZIPC_NAME_MAX] = 'n';
    longest[ZIPC_NAME_MAX + 1] = 0;
    CHECK_ERR(zipc__addr_resolve(longest, 0, &a), -ENAMETOOLONG);
    static const char *const bad[] = {"", "two words", "tab\t", "caf\xc3\xa9", "a:b", "@x", "star*"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(zipc__addr_resolve(bad[i], 0, &a) == -EINVAL, "name \"%s\" was not refused", bad[i]);
    CHECK_ERR(zipc__addr_resolve(NULL, 0, &a), -EINVAL);
    CHECK_OK(zipc__addr_resolve("./x.sock", 0, &a));
    CHECK(!a.abstract && strcmp(a.sa.sun_path, "./x.sock") == 0);
}

/* One holder at a time; the name shows while held and goes with the door. */
static void one_holder(void)
{
    char name[64];
    snprintf(name, sizeof(name), "hold-%d", (int)getpid());
    struct zipc__opts o = opts(1000 * TU_MS);
    struct zipc__door a, b;
    CHECK(!name_listed(name));
    if (!CHECK_OK(zipc__door_open(&a, name, &o)))
        return;
    CHECK(name_listed(name));
    CHECK_ERR(zipc__door_open(&b, name, &o), -EADDRINUSE);
    zipc__door_close(&a);
    CHECK(!name_listed(name));
    struct member m;
    struct zipc__opts quick = opts(50 * TU_MS);
    CHECK_ERR(join(&m, name, &quick), -ENOENT);
}

/* The holder: creates the object (magic = its pid), admits members for ever. */
static void holder(const char *name, int ready)
{
    struct zipc__opts o = opts(ZIPC_FOREVER);
    struct zipc__handover h;
    struct zipc__door door;
    uint64_t magic = (uint64_t)getpid();
    if (!CHECK_OK(zipc__handover_create(&test_kind, &h, ZIPC_PAGE, &magic, name)) ||
        !CHECK_OK(zipc__door_open(&door, name, &o)))
        tu_child_exit();
    tu_notify(ready);
    for (;;) {
        struct zipc__peer peer;
        if (zipc__door_admit(&door, &test_kind, &h, ZIPC_ROLE_CONSUMER, &o, INT64_MAX, &peer) == 0)
            close(peer.sock);
    }
}

/* A member: joins, then on cue takes the name over, writes 42 and admits. */
static void member(const char *name, pid_t holder_pid, int joined, int cue)
{
    struct zipc__opts o = opts(5000 * TU_MS);
    struct member m;
    if (!CHECK_OK(join(&m, name, &o)))
        tu_child_exit();
    CHECK_EQ(body_of(&m.h.seg)->magic, (uint64_t)holder_pid);
    tu_notify(joined);
    CHECK(tu_await(cue, 10000));
    struct zipc__door door;
    if (CHECK_OK(zipc__door_take_over(&door, name, &test_kind, &m.h, &o))) {
        __atomic_store_n(&body_of(&m.h.seg)->counter, 42, __ATOMIC_SEQ_CST);
        struct zipc__peer peer;
        for (int i = 0; i < 2; i++) /* the parent, then the third process */
            if (zipc__door_admit(&door, &test_kind, &m.h, ZIPC_ROLE_CONSUMER, &o, zipc__deadline(5000 * TU_MS),
                                 &peer) == 0)
                close(peer.sock);
        zipc__door_close(&door);
    }
    member_close(&m);
    tu_child_exit();
}

static void takeover(void)
{
    char name[64];
    snprintf(name, sizeof(name), "obj-%d", (int)getpid());
    int ready[2], joined[2], cue[2];
    CHECK_OK(pipe(ready));
    CHECK_OK(pipe(joined));
    CHECK_OK(pipe(cue));
    pid_t h = tu_fork();
    if (h == 0)
        holder(name, ready[1]);
    CHECK(tu_await(ready[0], 5000));
    CHECK(name_listed(name));
    pid_t m = tu_fork();
    if (m == 0)
        member(name, h, joined[1], cue[0]);
    CHECK(tu_await(joined[0], 5000));

    tu_kill_reap(h);
    CHECK_MSG(wait_listed(name, false, 1000), "the name outlived its SIGKILLed holder");
    struct member t;
    struct zipc__opts quick = opts(30 * TU_MS);
    CHECK_ERR(join(&t, name, &quick), -ENOENT); /* nobody holds it now */

    tu_notify(cue[1]);
    CHECK_MSG(wait_listed(name, true, 5000), "the surviving member did not take the name over");
    /* Join through the new holder: the same object. Holding it now, we are
     * a member too, and refused as a second taker. */
    struct zipc__opts o = opts(5000 * TU_MS);
    if (CHECK_OK(join(&t, name, &o))) {
        struct test_body *b = body_of(&t.h.seg);
        CHECK_EQ(b->magic, (uint64_t)h); /* the dead holder's object, not a new one */
        CHECK_EQ(__atomic_load_n(&b->counter, __ATOMIC_SEQ_CST), 42);
        CHECK_EQ(((struct zipc_segment_header *)t.h.seg.base)->creator_pid, (uint32_t)h);
        struct zipc__door second;
        CHECK_ERR(zipc__door_take_over(&second, name, &test_kind, &t.h, &o), -EADDRINUSE);
        member_close(&t);
    }
    /* a third process attaches via the new holder */
    pid_t third = tu_fork();
    if (third == 0) {
        struct member x;
        if (CHECK_OK(join(&x, name, &o)))
            CHECK_EQ(__atomic_load_n(&body_of(&x.h.seg)->counter, __ATOMIC_SEQ_CST), 42);
        member_close(&x);
        tu_child_exit();
    }
    CHECK_CHILD(third, 10000);
    CHECK_CHILD(m, 10000);
    CHECK(!name_listed(name));
}

/* Without root: a fake holder binds the name under another uid; a connector
 * with ZIPC_OPT_PEER_UID reaches it (its hello arrives), one without does not. */
static void peer_uid_lookup(void)
{
    char name[64];
    snprintf(name, sizeof(name), "uid-%d", (int)getpid());
    uint32_t other = (uint32_t)geteuid() + 4242;
    int ls = raw_listen_name(other, name);
    if (ls < 0)
        return;
    struct zipc__opts o = opts(100 * TU_MS);
    struct member m;
    CHECK_ERR(join(&m, name, &o), -ENOENT);
    o.flags |= ZIPC_OPT_PEER_UID;
    o.peer_uid = other;
    CHECK_ERR(join(&m, name, &o), -ETIMEDOUT); /* reached; the fake never answers */
    int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    struct zipc_hello hello;
    if (CHECK(c >= 0)) {
        CHECK_OK(raw_recv(c, &hello, sizeof(hello), NULL, 0, NULL, 1000));
        CHECK(hello.magic == ZIPC_HELLO_MAGIC && hello.kind == TEST_KIND);
        close(c);
    }
    close(ls);
}

/* With root: a holder running as nobody, found by root under nobody's uid. */
static void peer_uid_real(void)
{
    if (geteuid() != 0) {
        tu_skip("cross-uid lookup", "needs root to run a holder as another uid");
        return;
    }
    char name[64];
    snprintf(name, sizeof(name), "nobody-%d", (int)getpid());
    int ready[2];
    CHECK_OK(pipe(ready));
    pid_t h = tu_fork();
    if (h == 0) {
        if (!CHECK(setgroups(0, NULL) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0))
            tu_child_exit();
        struct zipc__opts o = opts(5000 * TU_MS);
        o.flags |= ZIPC_OPT_PEER_UID; /* admit root */
        o.peer_uid = 0;
        struct zipc__handover hv;
        struct zipc__door door;
        uint64_t magic = NOBODY;
        struct zipc__peer peer;
        if (CHECK_OK(zipc__handover_create(&test_kind, &hv, ZIPC_PAGE, &magic, name)) &&
            CHECK_OK(zipc__door_open(&door, name, &o))) {
            tu_notify(ready[1]);
            if (CHECK_OK(zipc__door_admit(&door, &test_kind, &hv, ZIPC_ROLE_CONSUMER, &o,
                                          zipc__deadline(5000 * TU_MS), &peer)))
                close(peer.sock);
            zipc__door_close(&door);
        }
        zipc__handover_close(&hv);
        tu_child_exit();
    }
    CHECK(tu_await(ready[0], 5000));
    CHECK(raw_name_held(NOBODY, name));
    struct zipc__opts o = opts(100 * TU_MS);
    struct member m;
    CHECK_ERR(join(&m, name, &o), -ENOENT); /* root's own namespace has no such name */
    o = opts(5000 * TU_MS);
    o.flags |= ZIPC_OPT_PEER_UID;
    o.peer_uid = NOBODY;
    if (CHECK_OK(join(&m, name, &o))) {
        CHECK_EQ(body_of(&m.h.seg)->magic, (uint64_t)NOBODY);
        CHECK_EQ(m.h.peer.uid, NOBODY);
        member_close(&m);
    }
    CHECK_CHILD(h, 10000);
}

int main(void)
{
    tu_init("test_names", 120);
    resolving();
    one_holder();
    takeover();
    peer_uid_lookup();
    peer_uid_real();
    return tu_finish();
}

/* A fork right after an open: the child is whole.
 *
 * An open queue member (a producer, a consumer, an rpc client or worker)
 * and a topic's publisher run a helper thread. A process that forks at
 * once (a DataLoader's workers, a pre-fork server) must not copy that
 * thread holding a lock the child then needs: each child here allocates
 * at once, as a worker does first, and must be done within seconds. Under
 * ASan a helper copied inside malloc left the child's allocator locked for
 * good (queue_heal hung in 5-8 runs of 200 before the helpers allocated
 * only in their setup, DESIGN §5). With glibc's allocator this passes
 * either way: it is the sanitizer builds that hold the line. The parent's
 * endpoint still works after its forks.
 * ctest-labels: threads */
#include "testutil.h"

#define TU_S (1000 * TU_MS)

/* What a forked worker does first: allocate, of every size class. */
static void child_allocates(void)
{
    for (unsigned i = 0; i < 256; i++) {
        size_t n = (size_t)16 << (i % 14);
        char *p = malloc(n);
        if (!p)
            _exit(1);
        memset(p, (int)i, n);
        free(p);
    }
    _exit(0);
}

/* The message sent after the forks: what arrives must be it. */
#define AFTER "after the fork"
#define AFTER_TYPE 3
static bool is_after(const struct zipc_msg *m)
{
    return m->size == sizeof(AFTER) - 1 && memcmp(m->data, AFTER, m->size) == 0 && m->type == AFTER_TYPE;
}

static bool fork_allocating_child(void)
{
    pid_t kid = tu_fork();
    if (kid == 0)
        child_allocates();
    return kid > 0 && CHECK_CHILD(kid, 10000);
}

static void queue_then_fork(long rounds)
{
    char name[TU_NAME_MAX];
    struct zipc_options o = tu_opts(5 * TU_S);
    for (long r = 0; r < rounds; r++) {
        zipc_queue *p = NULL;
        tu_topic_name(name, "qfork");
        if (!CHECK_OK(zipc_queue_open(&p, name, ZIPC_ROLE_PRODUCER, NULL, &o)))
            return;
        bool ok = fork_allocating_child();
        zipc_queue_close(p);
        if (!ok)
            return;
    }
    /* and the queue works after a fork: a consumer joins, a message crosses */
    zipc_queue *p = NULL, *c = NULL;
    struct zipc_msg m;
    tu_topic_name(name, "qfork-after");
    if (CHECK_OK(zipc_queue_open(&p, name, ZIPC_ROLE_PRODUCER, NULL, &o)) && fork_allocating_child() &&
        CHECK_OK(zipc_queue_open(&c, name, ZIPC_ROLE_CONSUMER, NULL, &o)) &&
        CHECK_OK(zipc_queue_send(p, AFTER, sizeof(AFTER) - 1, AFTER_TYPE, 0)) &&
        CHECK_OK(zipc_queue_view(c, &m, 5 * TU_S)) && CHECK(is_after(&m)))
        CHECK_OK(zipc_queue_release_view(c, &m));
    if (c)
        zipc_queue_close(c);
    if (p)
        zipc_queue_close(p);
}

static void topic_then_fork(long rounds)
{
    char name[TU_NAME_MAX];
    for (long r = 0; r < rounds; r++) {
        zipc_publisher *pub = NULL;
        tu_topic_name(name, "tfork");
        if (!CHECK_OK(zipc_topic_create(&pub, name, 64 * 1024, 0, NULL)))
            return;
        bool ok = fork_allocating_child();
        zipc_publisher_close(pub);
        if (!ok)
            return;
    }
    /* and the topic works after a fork: a subscriber joins, a message crosses */
    zipc_publisher *pub = NULL;
    zipc_subscriber *sub = NULL;
    struct zipc_msg m;
    struct zipc_options o = tu_opts(5 * TU_S);
    tu_topic_name(name, "tfork-after");
    if (CHECK_OK(zipc_topic_create(&pub, name, 64 * 1024, 0, NULL)) && fork_allocating_child() &&
        CHECK_OK(zipc_topic_subscribe(&sub, name, NULL, &o)) &&
        CHECK_OK(zipc_publisher_send(pub, AFTER, sizeof(AFTER) - 1, AFTER_TYPE, 0)) &&
        CHECK_OK(zipc_subscriber_view(sub, &m, 5 * TU_S)) && CHECK(is_after(&m)))
        CHECK_OK(zipc_subscriber_release_view(sub, &m));
    if (sub)
        zipc_subscriber_close(sub);
    if (pub)
        zipc_publisher_close(pub);
}

int main(void)
{
    tu_init("core_fork", 300);
    long rounds = tu_scaled(200, 40);
    queue_then_fork(rounds);
    topic_then_fork(rounds);
    return tu_finish();
}

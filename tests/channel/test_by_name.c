/* A channel found by name instead of a path: "frames-<pid>" is the abstract
 * Unix socket "\0zipc/<uid>/frames-<pid>", listed in /proc/net/unix as
 * "@zipc/<uid>/frames-<pid>" while the listener waits, gone once a peer
 * connected (or the listener died), and never a file. Also: bad names, a
 * name already held, a name freed by SIGKILL and reused at once, and a
 * lookup under another uid with ZIPC_OPT_PEER_UID (with root). */
#include <grp.h>

#include "rawpeer.h"

#define CAP 65536
#define NOBODY 65534u

static void name_of(char *buf, size_t n, const char *tag)
{
    static unsigned k;
    snprintf(buf, n, "%s-%d-%u", tag, (int)getpid(), k++);
}

static bool listed(const char *name) { return raw_name_held((uint32_t)geteuid(), name); }

struct stream {
    uint64_t seed, count;
};

static void receive_stream(zipc_channel *ch, void *arg)
{
    const struct stream *s = arg;
    for (uint64_t k = 0; k < s->count; k++) {
        struct zipc_msg m;
        if (!CHECK_OK(zipc_channel_view(ch, &m, 5000 * TU_MS)))
            return;
        CHECK_STREAM_K(&m, s->seed, k, zipc_channel_max_message(ch));
        CHECK_OK(zipc_channel_release(ch));
    }
}

/* listen "frames-<pid>", connect by name, a stream flows. */
static void attach_by_name(void)
{
    char name[64];
    name_of(name, sizeof(name), "frames");
    struct stream s = {.seed = tu_seed, .count = (uint64_t)tu_scaled(20000, 1000)};
    CHECK(!listed(name));
    pid_t pid = tu_spawn_listener(name, CAP, NULL, receive_stream, &s);
    CHECK_MSG(raw_wait_name_held((uint32_t)geteuid(), name, true, 5000), "@zipc/<uid>/%s never showed in /proc/net/unix",
              name);
    CHECK_MSG(access(name, F_OK) < 0, "a file named %s appeared in the working directory", name);
    zipc_channel *ch = NULL;
    if (CHECK_OK(zipc_channel_connect(&ch, name, NULL))) {
        CHECK_MSG(raw_wait_name_held((uint32_t)geteuid(), name, false, 1000), "the name outlived the handshake");
        CHECK_EQ(zipc_channel_peer_pid(ch), pid);
        for (uint64_t k = 0; k < s.count; k++)
            if (!CHECK_OK(tu_send_stream(ch, s.seed, k, 0, 5000 * TU_MS)))
                break;
    }
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 20000);
    printf("  %" PRIu64 " messages over a channel attached by name\n", s.count);
}

static void bad_names(void)
{
    zipc_channel *ch = NULL;
    struct zipc_options o = tu_opts(100 * TU_MS);
    static const char *const bad[] = {"", "two words", "caf\xc3\xa9", "a:b", "tab\t", "star*"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_MSG(zipc_channel_listen(&ch, bad[i], CAP, &o) == -EINVAL, "listen(\"%s\") not -EINVAL", bad[i]);
        CHECK_MSG(zipc_channel_connect(&ch, bad[i], &o) == -EINVAL, "connect(\"%s\") not -EINVAL", bad[i]);
    }
    char name[ZIPC_NAME_MAX + 2];
    memset(name, 'n', sizeof(name) - 1);
    name[ZIPC_NAME_MAX + 1] = 0;
    CHECK_ERR(zipc_channel_listen(&ch, name, CAP, &o), -ENAMETOOLONG);
    CHECK_ERR(zipc_channel_connect(&ch, name, &o), -ENAMETOOLONG);
    CHECK(ch == NULL);
    /* nobody holds this one: -ENOENT once the timeout passed */
    name_of(name, sizeof(name), "nobody");
    int64_t t0 = tu_now_ns();
    CHECK_ERR(zipc_channel_connect(&ch, name, &o), -ENOENT);
    CHECK_RANGE(tu_ms_since(t0), 90, 2000);
}

/* A held name refuses a second listener at once; the holder is untouched. */
static void held_name(void)
{
    char name[64];
    name_of(name, sizeof(name), "held");
    pid_t pid = tu_spawn_listener(name, CAP, NULL, tu_exchange_one, NULL);
    CHECK(raw_wait_name_held((uint32_t)geteuid(), name, true, 5000));
    zipc_channel *ch = NULL;
    struct zipc_options quick = tu_opts(1000 * TU_MS);
    int64_t t0 = tu_now_ns();
    CHECK_ERR(zipc_channel_listen(&ch, name, CAP, &quick), -EADDRINUSE);
    CHECK_RANGE(tu_ms_since(t0), 0, 500);
    if (CHECK_OK(zipc_channel_connect(&ch, name, NULL)))
        tu_exchange_one(ch, NULL);
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 10000);
}

/* SIGKILL frees the name at once: nothing stale to clean, the next
 * listener binds it straight away. */
static void freed_by_death(void)
{
    char name[64];
    name_of(name, sizeof(name), "dies");
    struct zipc_options forever = tu_opts(ZIPC_FOREVER);
    pid_t dead = tu_spawn_listener(name, CAP, &forever, NULL, NULL);
    CHECK(raw_wait_name_held((uint32_t)geteuid(), name, true, 5000));
    tu_kill_reap(dead);
    CHECK_MSG(!listed(name), "the name outlived its SIGKILLed holder");
    pid_t pid = tu_spawn_connector(name, NULL, tu_exchange_one, NULL);
    zipc_channel *ch = tu_listen(name, CAP, NULL);
    if (ch)
        tu_exchange_one(ch, NULL);
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 10000);
}

/* Root connects to a listener running as nobody, by nobody's name. */
static void foreign_uid(void)
{
    if (geteuid() != 0) {
        tu_skip("lookup under another uid", "needs root to run a listener as a second uid");
        return;
    }
    char name[64];
    name_of(name, sizeof(name), "foreign");
    pid_t pid = tu_fork();
    if (pid == 0) {
        if (!CHECK(setgroups(0, NULL) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0))
            tu_child_exit();
        struct zipc_options o = tu_opts(5000 * TU_MS);
        o.flags = ZIPC_OPT_PEER_UID; /* admit root */
        o.peer_uid = 0;
        zipc_channel *ch = tu_listen(name, CAP, &o);
        if (ch)
            tu_exchange_one(ch, NULL);
        zipc_channel_close(ch);
        tu_child_exit();
    }
    CHECK(raw_wait_name_held(NOBODY, name, true, 5000));
    zipc_channel *ch = NULL;
    struct zipc_options o = tu_opts(100 * TU_MS);
    CHECK_ERR(zipc_channel_connect(&ch, name, &o), -ENOENT); /* not under our own uid */
    o = tu_opts(5000 * TU_MS);
    o.flags = ZIPC_OPT_PEER_UID;
    o.peer_uid = NOBODY;
    if (CHECK_OK(zipc_channel_connect(&ch, name, &o)))
        tu_exchange_one(ch, NULL);
    zipc_channel_close(ch);
    CHECK_CHILD(pid, 10000);
}

int main(void)
{
    tu_init("test_by_name", 120);
    attach_by_name();
    bad_names();
    held_name();
    freed_by_death();
    foreign_uid();
    return tu_finish();
}

/* Store: names without a server (docs/DESIGN.md §14.2).
 *
 * Every holder of the newest version serves the name through a door of its
 * own, "<name>#<k>" for the first k the kernel lets it bind (bind elects:
 * no two holders share a door, and a dead holder's door vanishes with it).
 * An opener asks the doors in turn and keeps the newest version it is
 * given; each door also hands out the name's board, whose `latest` says
 * which version is the newest. A holder whose version is older than that
 * refuses openers and closes its door, so after an announcement new opens
 * get the new version (an opener that still gets an old one, handed out as
 * the announcement came, sees on the board that a newer version exists and
 * asks the other doors). Nothing of a name is
 * left once its last holder is gone: abstract names, memfds and mappings
 * all go with their processes. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store.h"

#define DOOR_PATIENCE_NS 500000000LL   /* a live helper answers in microseconds: else try the next door */
#define DOOR_HANDSHAKE_NS 2000000000LL /* a silent opener holds a door at most this long */
#define HELPER_LOOK_MS 1000            /* an idle superseded holder closes its door within 1 s */
#define LOCK_RETRY_NS 1000000LL        /* another publisher holds the lock: look again after 1 ms */
#define DOOR_RESCAN_NS 2000000LL       /* no door served us but one was busy: ask again after 2 ms */

static int door_addr(const zipc_store *s, uint32_t k, struct zipc__addr *a)
{
    char suffix[16];
    snprintf(suffix, sizeof(suffix), "#%u", k);
    return zipc__addr_suffix(&s->addr, suffix, a);
}

/* ------------------------------------------------------------------------
 * Finding the newest version
 * ------------------------------------------------------------------------ */

/* Ask door k: 0 (*got a new handle), -ENOENT (nobody there, or a holder
 * leaving as we came), -ESTALE (a holder of an older version: a newer one
 * is held), -ETIMEDOUT (a holder slow to answer), or what the version is
 * (-EBADMSG, -EPROTO...). */
static int ask_door(const zipc_store *s, uint32_t k, int64_t deadline, zipc_store **got)
{
    struct zipc__addr a;
    int err = door_addr(s, k, &a);
    if (err)
        return err;
    zipc_store *c = zipc__store_new();
    if (!c)
        return -ENOMEM;
    int64_t patience = zipc__now_ns() + DOOR_PATIENCE_NS;
    err = zipc__endpoint_connect_addr(&zipc__store_kind, c, &a, &s->opts, 0,
                                      patience < deadline ? patience : deadline);
    if (err) {
        zipc__store_free(c);
        return err == -ECONNREFUSED || err == -EPIPE || err == -ECONNRESET ? -ENOENT : err;
    }
    *got = c;
    return 0;
}

/* One pass over the doors: the newest version served, else the error
 * to report; *busy when a holder refused as superseded or did not answer
 * (the newest version is held by someone: worth another pass). */
static int ask_doors(const zipc_store *s, zipc_store **out, int64_t deadline, bool *busy)
{
    zipc_store *best = NULL;
    int err = -ENOENT;
    *busy = false;
    for (uint32_t k = 0; k < ZIPC__STORE_DOORS; k++) {
        zipc_store *c = NULL;
        int r = ask_door(s, k, deadline, &c);
        if (r) {
            if (r == -ESTALE || r == -ETIMEDOUT)
                *busy = true;
            else if (r != -ENOENT && r != -EPERM)
                err = r; /* what a holder served (kept unless a good one is found) */
            if (r == -ENOMEM || zipc__now_ns() >= deadline)
                break;
            continue;
        }
        if (best && best->version >= c->version) {
            zipc__store_free(c);
            continue;
        }
        if (best)
            zipc__store_free(best);
        best = c;
        /* acquire: pairs with the announcing CAS (a hint: the versions themselves are the truth) */
        if (best->version >= zipc__load(&best->board->latest, ZIPC__ACQUIRE))
            break; /* the newest announced */
    }
    if (!best)
        return err;
    *out = best;
    return 0;
}

int zipc__store_find_newest(const zipc_store *s, zipc_store **out, int64_t deadline)
{
    for (;;) {
        bool busy;
        int err = ask_doors(s, out, deadline, &busy);
        /* Nobody served us, yet someone holds a newer version (its door
         * bound after we passed it, or its helper slow): look again. A
         * superseded holder closes its door within HELPER_LOOK_MS, so a
         * newest version whose holders all died ends this soon. */
        if (err != -ENOENT || !busy)
            return err;
        if (zipc__now_ns() >= deadline)
            return -ETIMEDOUT;
        zipc__sleep_ns(DOOR_RESCAN_NS);
    }
}

int zipc_store_open(zipc_store **out, const char *name, const struct zipc_store_options *opts)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    zipc_store *s = zipc__store_new(), *found = NULL;
    if (!s)
        return -ENOMEM;
    int err = zipc__store_setup(s, name, opts);
    if (!err)
        err = zipc__store_find_newest(s, &found, zipc__deadline(s->opts.timeout_ns));
    if (!err) {
        found->opts = s->opts;
        found->addr = s->addr;
        found->flags = s->flags;
    }
    zipc__store_free(s);
    if (!err && (found->flags & ZIPC_STORE_PREFAULT) &&
        madvise(found->seg.base, found->seg.size, MADV_POPULATE_READ) < 0)
        err = -errno;
    if (!err && (found->flags & ZIPC_STORE_VERIFY))
        err = zipc_store_verify(found, ZIPC_STORE_ALL);
    if (!err)
        err = zipc__store_serve(found); /* a holder now: it serves the name too */
    if (err) {
        if (found)
            zipc__store_free(found);
        return err;
    }
    *out = found;
    return 0;
}

/* ------------------------------------------------------------------------
 * Publishing: the lock, the board, the announcement
 * ------------------------------------------------------------------------ */

int zipc__store_lock(const zipc_store *s, int64_t deadline, int *lock)
{
    struct zipc__addr a;
    int err = zipc__addr_suffix(&s->addr, "#lock", &a);
    while (!err && (err = zipc__addr_bind(&a, &s->opts, lock)) == -EADDRINUSE) {
        if (zipc__now_ns() >= deadline)
            return -ETIMEDOUT;
        err = zipc__sleep_ns(LOCK_RETRY_NS);
    }
    return err;
}

int zipc__store_board_create(zipc_store *s, const char *label)
{
    struct zipc__segment b;
    int err = zipc__segment_create(&b, zipc__segment_policy_rw(0), ZIPC_KIND_STORE_BOARD, ZIPC_STORE_BOARD_SIZE,
                                   ZIPC_STORE_BODY_OFFSET, sizeof(struct zipc_store_board), label);
    if (err)
        return err;
    s->board_seg = b;
    s->board = (struct zipc_store_board *)(b.base + ZIPC_STORE_BODY_OFFSET);
    return 0;
}

void zipc__store_announce(zipc_store *s)
{
    /* seq_cst: whoever sees the new latest finds this version's door bound
     * (it was bound before); never moves latest down */
    uint64_t cur = zipc__load(&s->board->latest, ZIPC__RELAXED);
    while (cur < s->version &&
           !__atomic_compare_exchange_n(&s->board->latest, &cur, s->version, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED)) {
    }
    __atomic_fetch_add(&s->board->publishes, 1, __ATOMIC_RELAXED); /* informative */
}

/* ------------------------------------------------------------------------
 * Serving: the door and its helper thread
 * ------------------------------------------------------------------------ */

static bool superseded(const zipc_store *s)
{
    /* acquire: pairs with the announcement (a newer version's door is bound) */
    return zipc__load(&s->board->latest, ZIPC__ACQUIRE) > s->version;
}

static void admit_one(zipc_store *s)
{
    int64_t limit = s->opts.timeout_ns < 0 || s->opts.timeout_ns > DOOR_HANDSHAKE_NS ? DOOR_HANDSHAKE_NS
                                                                                   : s->opts.timeout_ns;
    int64_t deadline = zipc__now_ns() + limit;
    struct zipc__peer peer = {.sock = -1};
    if (zipc__accept_one(s->lsock, ZIPC_KIND_TENSOR_STORE, &s->opts, deadline, &peer))
        return;
    if (superseded(s)) { /* looked at per opener: no old version after the announcement */
        zipc__refuse_peer(&peer, ZIPC_KIND_TENSOR_STORE, ESTALE);
        close(peer.sock);
        return;
    }
    struct zipc__handover h = {.seg = s->seg};
    h.fds[ZIPC__FD_STORE_BOARD] = s->board_seg.fd;
    zipc__endpoint_offer(&zipc__store_kind, &h, ZIPC_ROLE_CONSUMER, &peer, deadline);
    close(peer.sock);
}

static bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static void *helper_main(void *arg)
{
    zipc_store *s = arg;
    struct pollfd p[2] = {{.fd = s->stop_fd, .events = POLLIN}, {.fd = s->lsock, .events = POLLIN}};
    while (!readable(s->stop_fd)) {
        if (p[1].fd >= 0 && superseded(s)) {
            zipc__door_guard_close(&s->guard); /* old versions are not served */
            p[1].fd = -1;
        }
        if (poll(p, 2, HELPER_LOOK_MS) > 0 && p[1].fd >= 0 && (p[1].revents & POLLIN))
            admit_one(s);
    }
    return NULL;
}

/* Bind the first free door: 0 (lsock -1 if every door is held). */
static int bind_door(zipc_store *s)
{
    for (uint32_t k = 0; k < ZIPC__STORE_DOORS; k++) {
        struct zipc__addr a;
        int err = door_addr(s, k, &a);
        if (!err && (err = zipc__addr_bind(&a, &s->opts, &s->lsock)) == 0) {
            zipc__door_guard_add(&s->guard, &s->lsock);
            return 0;
        }
        if (err != -EADDRINUSE)
            return err;
    }
    return 0; /* a holder all the same, serving nobody */
}

int zipc__store_serve(zipc_store *s)
{
    if (superseded(s))
        return 0; /* an old version: held, not served */
    int err = bind_door(s);
    if (err || s->lsock < 0)
        return err;
    if ((s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return -errno;
    err = zipc__thread_start(&s->helper, NULL, helper_main, s);
    s->helper_running = err == 0;
    s->owner = getpid();
    return err;
}

void zipc__store_stop(zipc_store *s)
{
    /* A forked child closing its copy of the handle has no helper (threads
     * do not survive fork), and the stop eventfd is the parent's too. */
    if (s->helper_running && s->owner != getpid())
        s->helper_running = false;
    if (s->helper_running) {
        uint64_t one = 1;
        if (write(s->stop_fd, &one, sizeof(one)) < 0) {
            /* cannot fail on a fresh eventfd: the counter is 0 or 1 */
        }
        pthread_join(s->helper, NULL);
        s->helper_running = false;
    }
    zipc__door_guard_close(&s->guard);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    s->stop_fd = -1;
}

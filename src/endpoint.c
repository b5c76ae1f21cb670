/* Endpoint: the one setup sequence every kind runs, with its unwinding.
 *
 *   listener (one-shot)                       connector
 *   create segment + eventfds (handover)
 *   bind the name or path (names.c)
 *   accept one peer, free the name            connect, hello
 *   bind our endpoint on the segment
 *   welcome + the kind's fds        ------->  receive, adopt (validate, map,
 *                                             bind), ack
 *   ack                             <-------
 *
 * A persistent listener (a door) admits members for its whole life with the
 * same messages; a surviving member takes the door over when the holder
 * dies. The kind says what differs in a zipc__kind_desc: its fds, roles,
 * body and how an endpoint binds to it. */
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void handover_init(struct zipc__handover *h)
{
    *h = (struct zipc__handover){.seg = {.fd = -1}, .peer = {.sock = -1}};
    for (int i = 0; i < ZIPC__HANDSHAKE_MAX_FDS; i++)
        h->fds[i] = -1;
}

void zipc__handover_close(struct zipc__handover *h)
{
    for (int i = 0; i < ZIPC__HANDSHAKE_MAX_FDS; i++)
        close_fd(&h->fds[i]);
    close_fd(&h->peer.sock);
    zipc__segment_close(&h->seg);
}

int zipc__handover_create(const struct zipc__kind_desc *d, struct zipc__handover *h, uint64_t size,
                          const void *params, const char *label)
{
    handover_init(h);
    int err = zipc__segment_create(&h->seg, d->policy(0), d->kind, size, d->body_offset, d->body_size, label);
    if (err)
        return err;
    d->init_body(&h->seg, params);
    for (unsigned i = ZIPC__FD_SEGMENT + 1; i < d->nfds; i++)
        if ((h->fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
            err = -errno;
            zipc__handover_close(h);
            return err;
        }
    return 0;
}

int zipc__endpoint_offer(const struct zipc__kind_desc *d, const struct zipc__handover *h, int peer_role,
                 struct zipc__peer *peer, int64_t deadline)
{
    int fds[ZIPC__HANDSHAKE_MAX_FDS];
    for (unsigned i = 0; i < d->nfds; i++)
        fds[i] = i == ZIPC__FD_SEGMENT ? h->seg.fd : h->fds[i];
    struct zipc_welcome w = {.magic = ZIPC_WELCOME_MAGIC, .abi_major = ZIPC_ABI_MAJOR,
                             .abi_minor = ZIPC_ABI_MINOR, .kind = d->kind,
                             .connector_role = (uint32_t)peer_role, .segment_size = h->seg.size};
    return zipc__welcome_peer(peer, &w, fds, (int)d->nfds, deadline);
}

/* ---- doors -------------------------------------------------------------- */

int zipc__door_open(struct zipc__door *door, const char *where, const struct zipc__opts *o)
{
    door->lsock = -1;
    int err = zipc__addr_resolve(where, (uint32_t)geteuid(), &door->addr);
    return err ? err : zipc__addr_bind(&door->addr, o, &door->lsock);
}

int zipc__door_take_over(struct zipc__door *door, const char *where, const struct zipc__kind_desc *d,
                         const struct zipc__handover *h, const struct zipc__opts *o)
{
    door->lsock = -1;
    const struct zipc_segment_header *sh = (const void *)h->seg.base;
    if (!sh || h->seg.fd < 0 || sh->kind != d->kind)
        return -EINVAL; /* only a member holding the object can stand for it */
    for (unsigned i = ZIPC__FD_SEGMENT + 1; i < d->nfds; i++)
        if (h->fds[i] < 0)
            return -EINVAL;
    return zipc__door_open(door, where, o);
}

int zipc__door_admit(struct zipc__door *door, const struct zipc__kind_desc *d,
                     const struct zipc__handover *h, int member_role, const struct zipc__opts *o,
                     int64_t deadline, struct zipc__peer *peer)
{
    int err = zipc__accept_peer(door->lsock, d->kind, o, deadline, peer);
    if (err == 0 && (err = zipc__endpoint_offer(d, h, member_role, peer, deadline)))
        close_fd(&peer->sock);
    return err;
}

void zipc__door_close(struct zipc__door *door) { zipc__addr_unbind(&door->addr, &door->lsock); }

struct thread_start {
    int (*setup)(void *);
    void *(*loop)(void *);
    void *arg;
    int started_fd;
};

static void *thread_trampoline(void *p)
{
    struct thread_start st = *(struct thread_start *)p; /* the creator's copy goes when it is told */
    int err = st.setup ? st.setup(st.arg) : 0;
    uint64_t told = 1 + (uint64_t)-err; /* an eventfd's count is never 0 */
    if (write(st.started_fd, &told, sizeof(told)) < 0) {
        /* cannot fail on a fresh eventfd */
    }
    return err ? NULL : st.loop(st.arg);
}

int zipc__thread_start(pthread_t *t, int (*setup)(void *), void *(*loop)(void *), void *arg)
{
    struct thread_start st = {.setup = setup, .loop = loop, .arg = arg, .started_fd = eventfd(0, EFD_CLOEXEC)};
    if (st.started_fd < 0)
        return -errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = -pthread_create(t, NULL, thread_trampoline, &st);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    uint64_t told = 1;
    while (!err && read(st.started_fd, &told, sizeof(told)) < 0 && errno == EINTR) {
    }
    close(st.started_fd);
    if (!err && (err = -(int)(told - 1)))
        pthread_join(*t, NULL);
    return err;
}

/* Guarded doors: the process's list, closed in a forked child. */
static pthread_mutex_t guards_lock = PTHREAD_MUTEX_INITIALIZER;
static struct zipc__door_guard *guards;

static void guards_prepare(void) { pthread_mutex_lock(&guards_lock); }
static void guards_parent(void) { pthread_mutex_unlock(&guards_lock); }
static void guards_child(void)
{
    for (struct zipc__door_guard *g = guards; g; g = g->next)
        close_fd(g->lsock);
    pthread_mutex_unlock(&guards_lock);
}
static void guards_init(void) { pthread_atfork(guards_prepare, guards_parent, guards_child); }

void zipc__door_guard_add(struct zipc__door_guard *g, int *lsock)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, guards_init);
    pthread_mutex_lock(&guards_lock);
    g->lsock = lsock;
    g->next = guards;
    guards = g;
    pthread_mutex_unlock(&guards_lock);
}

void zipc__door_guard_close(struct zipc__door_guard *g)
{
    pthread_mutex_lock(&guards_lock);
    for (struct zipc__door_guard **p = &guards; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            break;
        }
    if (g->lsock)
        close_fd(g->lsock); /* under the lock: a fork never sees it half closed */
    g->lsock = NULL;
    pthread_mutex_unlock(&guards_lock);
}

/* ---- one-shot listener ---------------------------------------------------- */

int zipc__endpoint_listen(const struct zipc__kind_desc *d, void *ep, const char *where, uint64_t size,
                          const void *params, int role, int peer_role, const struct zipc__opts *o)
{
    int64_t deadline = zipc__deadline(o->timeout_ns);
    struct zipc__handover h;
    struct zipc__door door;
    int err = zipc__handover_create(d, &h, size, params, o->label ? o->label : where);
    if (err)
        return err;
    if ((err = zipc__door_open(&door, where, o)) == 0) {
        err = zipc__accept_peer(door.lsock, d->kind, o, deadline, &h.peer);
        zipc__door_close(&door); /* one peer: the name is free for the next listener */
    }
    /* Keep the wire fds: bind moves them into ep, which keeps them open. */
    struct zipc__handover wire = h;
    h.role = role;
    /* Bind before the welcome: once the peer has the segment it may write. */
    if (err == 0 && (err = d->bind(ep, &h, o)) == 0)
        err = zipc__endpoint_offer(d, &wire, peer_role, &wire.peer, deadline);
    zipc__handover_close(&h);
    return err;
}

/* ---- connector ------------------------------------------------------------ */

int zipc__endpoint_adopt(const struct zipc__kind_desc *d, void *ep, int *fds, int role,
                         struct zipc__peer *peer, const struct zipc__opts *o, uint64_t announced_size)
{
    if (role < 0 || role >= 32 || !(d->roles & 1u << role))
        return -EBADMSG;
    if (announced_size > o->max_segment && announced_size <= d->max_segment)
        return -EFBIG; /* consistent, but more than we agreed to map and pre-fault */
    for (unsigned i = ZIPC__FD_SEGMENT + 1; i < d->nfds; i++) {
        if (i < 32 && (d->segment_fds & 1u << i))
            continue; /* a segment of its own: the kind's bind attaches and validates it */
        int err = zipc__check_eventfd(fds[i]);
        if (err)
            return err;
    }
    struct zipc__handover h;
    handover_init(&h);
    uint64_t max = o->max_segment < d->max_segment ? o->max_segment : d->max_segment;
    int err = zipc__segment_attach(&h.seg, d->policy(max), fds[ZIPC__FD_SEGMENT], d->kind);
    if (err)
        return err;
    fds[ZIPC__FD_SEGMENT] = -1; /* the segment's now */
    if (announced_size != h.seg.size) {
        zipc__segment_close(&h.seg);
        return -EBADMSG;
    }
    for (unsigned i = ZIPC__FD_SEGMENT + 1; i < d->nfds; i++)
        h.fds[i] = fds[i];
    h.role = role;
    h.peer = *peer;
    if ((err = d->bind(ep, &h, o))) {
        zipc__segment_close(&h.seg);
        return err;
    }
    /* bind took what it keeps; what it left (-1 if taken) goes back to the caller */
    for (unsigned i = ZIPC__FD_SEGMENT + 1; i < d->nfds; i++)
        fds[i] = h.fds[i];
    peer->sock = h.peer.sock;
    zipc__segment_close(&h.seg);
    return 0;
}

int zipc__endpoint_connect_addr(const struct zipc__kind_desc *d, void *ep, const struct zipc__addr *addr,
                                const struct zipc__opts *o, int64_t appear_deadline, int64_t deadline)
{
    struct zipc__peer peer = {.sock = -1};
    int sock = -1, fds[ZIPC__HANDSHAKE_MAX_FDS];
    for (int i = 0; i < ZIPC__HANDSHAKE_MAX_FDS; i++)
        fds[i] = -1;
    struct zipc_welcome w;
    int err = zipc__addr_connect(addr, appear_deadline, &sock);
    if (err || (err = zipc__send_hello(sock, d->kind, o, deadline, &peer)))
        return err;
    struct zipc__peer link = peer; /* adopt takes peer.sock; the ack still goes on it */
    err = zipc__receive_welcome(&peer, d->kind, &w, fds, (int)d->nfds, deadline);
    if (err == 0) {
        err = zipc__endpoint_adopt(d, ep, fds, (int)w.connector_role, &peer, o, w.segment_size);
        zipc__send_ack(&link, err);
    }
    for (unsigned i = 0; i < d->nfds; i++)
        close_fd(&fds[i]);
    close_fd(&peer.sock);
    return err;
}

int zipc__endpoint_connect(const struct zipc__kind_desc *d, void *ep, const char *where,
                           const struct zipc__opts *o)
{
    int64_t deadline = zipc__deadline(o->timeout_ns);
    struct zipc__addr addr;
    int err = zipc__addr_resolve(where, zipc__lookup_uid(o), &addr);
    return err ? err : zipc__endpoint_connect_addr(d, ep, &addr, o, deadline, deadline);
}

/* Internal interfaces shared by the zipc sources (zipc__ prefix). */
#ifndef ZIPC_INTERNAL_H
#define ZIPC_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "zipc.h"

#define ZIPC__LIKELY(x) __builtin_expect(!!(x), 1)
#define ZIPC__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Shared-memory fields are plain fixed-width integers (they are an ABI);
 * these wrappers give each access an explicit memory order. */
#define zipc__load(p, mo) __atomic_load_n((p), (mo))
#define zipc__store(p, v, mo) __atomic_store_n((p), (v), (mo))
#define zipc__xchg(p, v, mo) __atomic_exchange_n((p), (v), (mo))
#define ZIPC__RELAXED __ATOMIC_RELAXED
#define ZIPC__ACQUIRE __ATOMIC_ACQUIRE
#define ZIPC__RELEASE __ATOMIC_RELEASE
#define ZIPC__SEQ_CST __ATOMIC_SEQ_CST

static inline void zipc__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

static inline uint64_t zipc__align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

/* ---- time.c: clocks and deadlines ------------------------------------ */
int64_t zipc__now_ns(void);         /* CLOCK_MONOTONIC */
int64_t zipc__coarse_now_ns(void);  /* CLOCK_MONOTONIC_COARSE, for rate limits */
/* Absolute deadline for a relative timeout; INT64_MAX for ZIPC_FOREVER. */
int64_t zipc__deadline(int64_t timeout_ns);
/* ppoll until the deadline: the ready count, -ETIMEDOUT, -EINTR or -errno. */
struct pollfd;
int zipc__ppoll(struct pollfd *fds, unsigned nfds, int64_t deadline);
/* Sleep ns nanoseconds: 0, or -EINTR when a signal cut it short. */
int zipc__sleep_ns(int64_t ns);

/* ---- options ------------------------------------------------------- */
struct zipc__opts {
    int role;
    uint32_t flags;
    int64_t timeout_ns;
    int64_t spin_ns;
    uint32_t socket_mode;
    uint32_t peer_uid;
    const char *label;
    uint64_t max_segment;
};
int zipc__opts_resolve(const struct zipc_options *in, struct zipc__opts *out);

/* ---- segment.c: sealed memfd segments -------------------------------- */
struct zipc__segment {
    uint8_t *base;
    uint64_t size;
    int fd;
};
/* Create, size, seal (shrink/grow/seal) and map a segment of `size` bytes,
 * pre-faulted, with its generic header filled in. */
int zipc__segment_create(struct zipc__segment *seg, uint32_t kind, uint64_t size,
                         uint64_t body_offset, uint64_t body_size, const char *name);
/* Validate a received fd (type, real size, seals), map it and check the
 * generic header (magic, version, kind, sizes). Takes ownership of fd on
 * success. -EBADMSG for anything malformed, -EPROTO for another ABI major. */
int zipc__segment_attach(struct zipc__segment *seg, int fd, uint32_t kind, uint64_t max_size);
void zipc__segment_close(struct zipc__segment *seg);

/* ---- names.c: a name or a path as a socket address ------------------- */
struct zipc__addr {
    struct sockaddr_un sa;
    uint32_t len;   /* the socklen_t to pass with sa */
    bool abstract;  /* a name: "\0zipc/<uid>/<name>", nothing on disk */
};
/* A name (no '/': 1..ZIPC_NAME_MAX bytes of [A-Za-z0-9._-], else -EINVAL or
 * -ENAMETOOLONG) under `uid`, or a socket file path (-ENAMETOOLONG if it
 * does not fit). */
int zipc__addr_resolve(const char *where, uint32_t uid, struct zipc__addr *a);
/* The uid a connector looks names up under: peer_uid with ZIPC_OPT_PEER_UID. */
uint32_t zipc__lookup_uid(const struct zipc__opts *o);
/* Bind and listen. A name: -EADDRINUSE while anyone holds it. A path (mode
 * from opts): -EADDRINUSE for a live listener or one starting up there,
 * -ENOTSOCK for a non-socket; a stale socket file is replaced. Whenever the
 * caller is killed, nothing but the socket file itself is left. */
int zipc__addr_bind(const struct zipc__addr *a, const struct zipc__opts *o, int *lsock);
/* Undo zipc__addr_bind: unlink a path (still listening, so still ours),
 * then close. *lsock becomes -1; a no-op if it already is. */
void zipc__addr_unbind(const struct zipc__addr *a, int *lsock);
/* Connect, retrying while nobody listens yet, until the deadline (then
 * -ENOENT or -ECONNREFUSED; -ENOTSOCK at once for a path that is no socket). */
int zipc__addr_connect(const struct zipc__addr *a, int64_t deadline, int *sock);

/* ---- handshake.c: hello, welcome, ack on a connected socket ----------- */
#define ZIPC__HANDSHAKE_MAX_FDS 4

struct zipc__peer {
    int sock;       /* connected stream socket: EOF means the peer is gone */
    int pid;        /* SO_PEERCRED */
    uint32_t uid;
};

/* Accept connections until one passes the credential check and says hello
 * with our ABI and `kind`. Foreign uids are refused (welcome status EPERM)
 * and waiting goes on; an ABI mismatch is refused and returned (-EPROTO). */
int zipc__accept_peer(int lsock, uint32_t kind, const struct zipc__opts *o, int64_t deadline,
                      struct zipc__peer *peer);
/* Send a welcome with fds; then wait for the connector's ack. */
int zipc__welcome_peer(struct zipc__peer *peer, const struct zipc_welcome *w, const int *fds,
                       int nfds, int64_t deadline);
/* On a connected socket: check the listener's credentials and say hello.
 * Takes sock: on success it is peer->sock, on failure it is closed. */
int zipc__send_hello(int sock, uint32_t kind, const struct zipc__opts *o, int64_t deadline,
                     struct zipc__peer *peer);
/* Receive the welcome and exactly `nfds` fds (close-on-exec). A refusal
 * returns -status. */
int zipc__receive_welcome(struct zipc__peer *peer, uint32_t kind, struct zipc_welcome *w,
                          int *fds, int nfds, int64_t deadline);
int zipc__send_ack(struct zipc__peer *peer, int status);
/* The fd must be an eventfd; it is made non-blocking. */
int zipc__check_eventfd(int fd);
bool zipc__uid_allowed(const struct zipc__opts *o, uint32_t uid);
/* Interim, for channel.c until it moves onto endpoint.c: paths only. */
int zipc__listen_socket(const char *path, const struct zipc__opts *o, int *lsock);
int zipc__connect_peer(const char *path, uint32_t kind, const struct zipc__opts *o,
                       int64_t deadline, struct zipc__peer *peer);

/* ---- endpoint.c: one setup sequence for every kind --------------------
 * A welcome carries a kind's fds in a fixed order, named by the kind; the
 * segment's memfd is always first, every other fd is an eventfd. */
#define ZIPC__FD_SEGMENT 0

/* What a member holds of an object: its mapped segment, its other fds (by
 * the kind's names; fds[ZIPC__FD_SEGMENT] stays -1, seg.fd holds that one),
 * its role and its link to the member that let it in (sock -1 if none). */
struct zipc__handover {
    struct zipc__segment seg;
    int fds[ZIPC__HANDSHAKE_MAX_FDS];
    int role;
    struct zipc__peer peer;
};

/* A kind, as the endpoint layer needs to know it. */
struct zipc__kind_desc {
    uint32_t kind;            /* enum zipc_segment_kind */
    unsigned nfds;            /* fds per welcome, ZIPC__FD_SEGMENT included */
    uint32_t roles;           /* 1u << role for each role a member of this kind can have */
    uint64_t body_offset, body_size;
    uint64_t max_segment;     /* the largest segment this kind's ABI allows */
    /* Lay out a new segment's body (listener side). */
    void (*init_body)(struct zipc__segment *seg, const void *params);
    /* Make `ep` a member of h->role on h's segment. Validates the body (a
     * connector's comes from the peer: -EBADMSG). On success it owns what it
     * keeps of h (set to -1 / zeroed there); on failure it took nothing. */
    int (*bind)(void *ep, struct zipc__handover *h, const struct zipc__opts *o);
};

/* A new object: its segment (`size` bytes, body laid out by init_body with
 * params, labelled) and its eventfds. */
int zipc__handover_create(const struct zipc__kind_desc *d, struct zipc__handover *h, uint64_t size,
                          const void *params, const char *label);
/* Close whatever h still holds. */
void zipc__handover_close(struct zipc__handover *h);

/* One-shot listener: create the object, bind `where`, admit one peer (the
 * name is free again as soon as it connected), bind `ep` as `role` and hand
 * the peer `peer_role`. On failure, `ep` holds what bind took (the caller
 * closes it, as after any failed bind); everything else is closed. */
int zipc__endpoint_listen(const struct zipc__kind_desc *d, void *ep, const char *where, uint64_t size,
                          const void *params, int role, int peer_role, const struct zipc__opts *o);
/* Connector: find `where` (a name under zipc__lookup_uid), say hello,
 * receive the welcome and fds, adopt them into `ep`, ack. */
int zipc__endpoint_connect(const struct zipc__kind_desc *d, void *ep, const char *where,
                           const struct zipc__opts *o);
/* Adopt what a listener handed over: fds in the kind's order, the role it
 * assigned, the size it announced. Everything is validated (the
 * connector's trust boundary, and the fuzzers' entry point): -EFBIG for a
 * consistent segment beyond o->max_segment, never mapped. On success `ep`
 * owns the fds and peer->sock (set to -1); on failure they stay the
 * caller's, except fds[ZIPC__FD_SEGMENT] once mapped (then -1, closed). */
int zipc__endpoint_adopt(const struct zipc__kind_desc *d, void *ep, int *fds, int role,
                         struct zipc__peer *peer, const struct zipc__opts *o, uint64_t announced_size);

/* Persistent listener: a door that admits members for its whole life.
 * Takeover: when the holder dies the kernel frees its name (a path's file
 * turns stale), so any surviving member that holds the object's handover
 * opens the door again with zipc__door_take_over; bind() elects exactly
 * one (the others get -EADDRINUSE). */
struct zipc__door {
    struct zipc__addr addr;
    int lsock;
};
int zipc__door_open(struct zipc__door *door, const char *where, const struct zipc__opts *o);
int zipc__door_take_over(struct zipc__door *door, const char *where, const struct zipc__kind_desc *d,
                         const struct zipc__handover *h, const struct zipc__opts *o);
/* Admit one member: accept its hello, hand it h's segment and fds with
 * `member_role`, wait for its ack. *peer is its link (the caller's). */
int zipc__door_admit(struct zipc__door *door, const struct zipc__kind_desc *d,
                     const struct zipc__handover *h, int member_role, const struct zipc__opts *o,
                     int64_t deadline, struct zipc__peer *peer);
/* Free the name (the layer that bound it unlinks it). */
void zipc__door_close(struct zipc__door *door);

/* ---- wait.c: spin, sleep, wake, liveness ---------------------------- */
struct zipc__waiter {
    int sock;            /* peer link; EOF/HUP: peer gone */
    int pidfd;           /* peer process; readable: peer exited (-1 if unavailable) */
    int wake_fd;         /* eventfd this side sleeps on */
    int peer_wake_fd;    /* eventfd that wakes the peer */
    int epfd;            /* lazily created for zipc_*_fd(), -1 until then */
    uint32_t *my_sleeping;   /* shared flag: this side is (about to be) asleep */
    uint32_t *peer_sleeping; /* shared flag: the peer is (about to be) asleep */
    const uint32_t *peer_state; /* shared: ZIPC_STATE_CLOSED after a clean close */
    uint64_t *my_wakeups;    /* shared counters (written by this side only) */
    uint64_t *my_sleeps;
    int64_t spin_ns;
    int64_t next_liveness_ns;
    bool peer_gone;
    int interrupted;     /* set by any thread (zipc__waiter_interrupt), taken by zipc__wait */
};

/* The awaited condition: 1 ready, 0 not yet, < 0 an error (e.g. -EBADMSG). */
typedef int (*zipc__ready_fn)(void *ctx);

void zipc__waiter_init(struct zipc__waiter *w);
void zipc__waiter_close(struct zipc__waiter *w);
/* Wait for ready(ctx): spin, then sleep. Returns 0, -EAGAIN (timeout 0),
 * -ETIMEDOUT, -EPIPE (peer gone and still not ready), -EINTR, or ready's error. */
int zipc__wait(struct zipc__waiter *w, zipc__ready_fn ready, void *ctx, int64_t timeout_ns);
/* After publishing: wake the peer if it said it sleeps. The caller's
 * publishing store must be seq_cst (see docs/DESIGN.md, "no lost wake-up"). */
void zipc__wake_peer_slow(struct zipc__waiter *w);
static inline void zipc__wake_peer(struct zipc__waiter *w)
{
    /* seq_cst: orders this load after the publishing seq_cst store (Dekker). */
    if (ZIPC__UNLIKELY(zipc__load(w->peer_sleeping, ZIPC__SEQ_CST)))
        zipc__wake_peer_slow(w);
}
/* Is the peer gone? Checks the shared closed flag, and at most every
 * millisecond (or always with force) the socket and pidfd. */
bool zipc__peer_gone(struct zipc__waiter *w, bool force);
int zipc__waiter_fd(struct zipc__waiter *w);
/* From any thread: make the current or next blocking zipc__wait return
 * -ECANCELED (async-signal-safe). */
void zipc__waiter_interrupt(struct zipc__waiter *w);
/* Tell a sleeping or polling peer to look again (used by close). */
void zipc__wake_peer_always(struct zipc__waiter *w);

/* ---- channel.c ------------------------------------------------------ */
/* Build an endpoint from what a listener handed over: fds = {memfd,
 * consumer eventfd, producer eventfd}, the role it assigned and the size
 * it announced. Everything is validated (the connector's trust boundary,
 * and the fuzzers' entry point). On success the fds and peer->sock are
 * owned by the channel (set to -1); on failure they stay the caller's. */
int zipc__channel_adopt(zipc_channel **out, int fds[3], int role, struct zipc__peer *peer,
                        const struct zipc__opts *o, uint64_t announced_size);

#endif /* ZIPC_INTERNAL_H */

/* Internal interfaces shared by the zipc sources (zipc__ prefix). */
#ifndef ZIPC_INTERNAL_H
#define ZIPC_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
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

/* A fence. GCC's ThreadSanitizer refuses fences (-Wtsan): under it a
 * seq_cst read-modify-write of a local stands in. TSan cannot see the other
 * process anyway, and the fences here order a process's accesses to memory
 * another process writes. */
#if defined(__SANITIZE_THREAD__)
#define zipc__fence(mo)                                      \
    do {                                                     \
        int zipc__f_ = 0;                                    \
        __atomic_fetch_add(&zipc__f_, 0, __ATOMIC_SEQ_CST); \
        (void)(mo);                                          \
    } while (0)
#else
#define zipc__fence(mo) __atomic_thread_fence(mo)
#endif

#include "cpu.h" /* zipc__cpu_relax, zipc__prefetch_write */

static inline uint64_t zipc__align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

/* Payload copies (copy.c): small ones are memcpy's without a call more. */
#define ZIPC__COPY_LOOP_MIN 1024
/* zipc_copy's vector loop, taken on AMD CPUs for the offsets their `rep
 * movsb` runs slowly (n >= ZIPC__COPY_LOOP_MIN); memcpy elsewhere. Tests
 * call it on every CPU. */
void zipc__copy_loop(void *dst, const void *src, size_t n);
static inline void zipc__copy(void *dst, const void *src, size_t n)
{
    if (n < ZIPC__COPY_LOOP_MIN)
        memcpy(dst, src, n);
    else
        zipc_copy(dst, src, n);
}

/* ---- time.c: clocks and deadlines ------------------------------------ */
int64_t zipc__now_ns(void);         /* CLOCK_MONOTONIC */
int64_t zipc__coarse_now_ns(void);  /* CLOCK_MONOTONIC_COARSE, for rate limits */
/* Absolute deadline for a relative timeout; INT64_MAX for ZIPC_FOREVER. */
int64_t zipc__deadline(int64_t timeout_ns);
/* The same from a time already read. */
int64_t zipc__deadline_from(int64_t now, int64_t timeout_ns);
/* Is CLOCK_MONOTONIC past `deadline` (any value, read from a peer too)?
 * Reads the precise clock only within 50 ms of it. */
bool zipc__deadline_passed(int64_t deadline);
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
    int prot;       /* how base is mapped: PROT_READ, or PROT_READ | PROT_WRITE */
};
/* How a segment is mapped and which seals it must (and must not) carry.
 * Every policy also requires F_SEAL_SHRINK | F_SEAL_GROW. */
#define ZIPC_HUGE_PAGE (UINT64_C(2) << 20) /* a huge page (x86-64, arm64 with 4 KiB pages) */

struct zipc__segment_policy {
    int prot;                  /* attach: PROT_READ or PROT_READ | PROT_WRITE */
    unsigned seals_required;   /* F_SEAL_* all of which must be set */
    unsigned seals_forbidden;  /* F_SEAL_* none of which may be set */
    uint64_t max_size;         /* attach: larger is -EBADMSG; create: -EINVAL (0: no bound) */
    bool prefault;             /* MAP_POPULATE: commits up to max_size of memory */
    bool huge_pages;           /* create: 2 MiB hugetlb pages if reserved ones are free (size a
                                  multiple of 2 MiB), else shmem asking for transparent ones */
};
/* The channel's: read-write, pre-faulted, write seals forbidden. */
struct zipc__segment_policy zipc__segment_policy_rw(uint64_t max_size);
/* A read-only member's (store, topic data, inspect): PROT_READ, any write
 * seal accepted, `extra_seals` required (e.g. F_SEAL_WRITE for a store whose
 * bytes must never change under its readers). */
struct zipc__segment_policy zipc__segment_policy_ro(uint64_t max_size, unsigned extra_seals,
                                                    bool prefault);
/* Create, size, seal (shrink, grow, and p.seals_required) and map read-write
 * a segment of `size` bytes, with its generic header filled in. If the policy
 * forbids both write seals the seal set is closed at once (F_SEAL_SEAL);
 * otherwise it stays open for zipc__segment_seal_writes. */
int zipc__segment_create(struct zipc__segment *seg, struct zipc__segment_policy p, uint32_t kind,
                         uint64_t size, uint64_t body_offset, uint64_t body_size, const char *name);
/* The creator, once the segment is filled and before its fd leaves the
 * process, forbids writes to everyone else and seals the seal set:
 *   frozen = false: F_SEAL_FUTURE_WRITE. Our mapping stays writable (a topic
 *     publisher keeps writing); no new writable mapping, mprotect or write(2)
 *     can be made by anyone.
 *   frozen = true: F_SEAL_WRITE. Nobody can write, us included: our mapping
 *     is replaced in place by a read-only one (a store whose readers may
 *     validate once and trust the bytes for good). */
int zipc__segment_seal_writes(struct zipc__segment *seg, bool frozen);
/* Validate a received fd (type, real size against p.max_size, seals against
 * the policy), map it with p.prot and check the generic header (magic,
 * version, kind — 0 accepts any —, sizes). Takes ownership of fd on success.
 * -EBADMSG for anything malformed or against the policy, -EPROTO for another
 * ABI major. */
int zipc__segment_attach(struct zipc__segment *seg, struct zipc__segment_policy p, int fd, uint32_t kind);
/* Move the mapping to an address that is a multiple of align (a power of
 * two; a no-op up to a page): a store's tensors aligned to 2 MiB in the
 * file are aligned in memory too. Same fd and protection; on failure the
 * old mapping stays. */
int zipc__segment_realign(struct zipc__segment *seg, uint64_t align);
void zipc__segment_close(struct zipc__segment *seg);
/* A new open file description (O_RDONLY, close-on-exec) of the file open at
 * fd, through /proc/self/fd: locks taken on it are ours alone, and mappings
 * of it can never be made writable. -errno without /proc. */
int zipc__reopen_readonly(int fd);

/* ---- liveness.c: members of multi-party objects ------------------------
 * A member table (zipc/abi.h, struct zipc_member_table) in a segment; slot
 * i's holder keeps an OFD read lock on byte lock_base + i of the segment file
 * on a description of its own. Dead = "lock free, or its pid exited". */
struct zipc__members {
    struct zipc_member_slot *slots;
    uint32_t capacity;
    bool writable;       /* the segment is mapped read-write: claims possible */
    uint64_t lock_base;  /* ZIPC_MEMBER_LOCK_BASE + the table's offset */
    int probe_fd;        /* the segment's fd (not owned): for F_OFD_GETLK and reopening */
};
/* Creator: an empty table of `capacity` slots at table_offset. */
void zipc__members_init(uint8_t *base, uint64_t table_offset, uint32_t capacity);
/* Validate the table at table_offset of an attached segment (-EBADMSG). */
int zipc__members_bind(struct zipc__members *m, const struct zipc__segment *seg, uint64_t table_offset);

/* A slot we hold: its lock lives as long as lock_fd (close-on-exec). */
struct zipc__member {
    int lock_fd;
    uint32_t slot;
    uint64_t lease;
};
/* Claim a free slot, or one whose holder is dead. 0, -ENOSPC (every slot held
 * by a live member), -EOPNOTSUPP (a read-only mapping), or -errno. */
int zipc__member_claim(const struct zipc__members *m, struct zipc__member *me);
/* The same among slots [first, first + count) only (a kind whose slots have roles). */
int zipc__member_claim_in(const struct zipc__members *m, uint32_t first, uint32_t count, struct zipc__member *me);
/* Leave cleanly: the slot is free, then our lock goes. */
void zipc__member_release(const struct zipc__members *m, struct zipc__member *me);
/* 1: the slot's holder lives; 0: the slot is free or its holder is dead;
 * *lease gets the lease judged. Never blocks. */
int zipc__member_alive(const struct zipc__members *m, uint32_t slot, uint64_t *lease);
/* Free a dead holder's slot if it still holds `lease`: 0, or -EBUSY. */
int zipc__member_reap(const struct zipc__members *m, uint32_t slot, uint64_t lease);

/* A pidfd for `pid` (readable once it exits), or -errno (-ENOSYS without pidfd_open). */
int zipc__pidfd_open(uint32_t pid);

/* A waiter that watches every member of a table at once: one pidfd per
 * holder, polled with the waiter's own eventfd. */
struct zipc__watched {
    uint64_t lease;  /* the holder watched */
    int pidfd;       /* -1: none */
    bool polled;     /* no pidfd (another pid namespace, none yet): its lock is polled */
    bool dead;       /* reported dead; not reported again */
};
struct zipc__watch {
    const struct zipc__members *m;
    struct zipc__watched *peer;  /* per slot */
    struct pollfd *pfd;          /* scratch: 1 + capacity */
    uint32_t *pslot;             /* scratch: the slot of each pfd */
    uint32_t *dead;              /* slots found dead by the last wait */
    uint32_t ndead;
};
int zipc__watch_init(struct zipc__watch *w, const struct zipc__members *m);
void zipc__watch_close(struct zipc__watch *w);
/* Start watching new holders, stop watching those that left. Returns the
 * number of busy slots. Call it whenever the table may have changed. */
int zipc__watch_refresh(struct zipc__watch *w);
/* Sleep until wake_fd (-1: none) is readable, a watched member dies, or the
 * deadline (absolute, INT64_MAX: none). Returns n > 0 members found dead
 * (slots in dead[0..n), each reported once), 0 when wake_fd is readable (not
 * drained), -ETIMEDOUT, -EINTR. Holders without a pidfd cost a look every
 * millisecond. */
int zipc__watch_wait(struct zipc__watch *w, int wake_fd, int64_t deadline);

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
/* A name's address with `suffix` appended (a kind's related names: a queue's
 * members bind "<name>#<slot>", outside the names users can give). */
int zipc__addr_suffix(const struct zipc__addr *base, const char *suffix, struct zipc__addr *out);
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
#define ZIPC__HANDSHAKE_MAX_FDS 65 /* a queue: its segment and 64 eventfds */

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
/* One connection of a readable listening socket: accept it, check its
 * credentials and hello. 0 (*peer set), -EAGAIN (it was refused or dropped:
 * a probe, a silent or foreign client), -EPROTO, or -errno. A door calls it
 * once per readable event, so one connector never keeps it from its other work. */
int zipc__accept_one(int lsock, uint32_t kind, const struct zipc__opts *o, int64_t deadline,
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
/* An ack with one fd riding along (fd >= 0), for a connector that asked
 * for it (a topic's bell, §11); a connector that did not ask refuses it. */
int zipc__send_ack_fd(struct zipc__peer *peer, int status, int fd);
/* Refuse an accepted peer with `status` (EPERM, ENOSPC, EPROTO): a welcome
 * without fds. */
int zipc__refuse_peer(struct zipc__peer *peer, uint32_t kind, int status);
/* Wait for an ack on sock: 0, or the status it carries as -errno. */
int zipc__receive_ack(int sock, int64_t deadline);
/* The same, accepting at most one fd with a successful ack: *fd is it, or
 * -1 if none came (a peer of an older minor version). */
int zipc__receive_ack_fd(int sock, int64_t deadline, int *fd);
/* The peer process as a pidfd: from the socket where the kernel can
 * (SO_PEERPIDFD, no pid-reuse window), else from the pid; -1 if neither. */
int zipc__peer_pidfd(int sock, int pid);
/* The fd must be an eventfd; it is made non-blocking. */
int zipc__check_eventfd(int fd);
bool zipc__uid_allowed(const struct zipc__opts *o, uint32_t uid);

/* ---- endpoint.c: one setup sequence for every kind --------------------
 * A welcome carries a kind's fds in a fixed order, named by the kind; the
 * segment's memfd is always first; every other fd is an eventfd unless the kind
 * names it a segment of its own (segment_fds). */
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
    uint32_t segment_fds;     /* 1u << i for each fd after the segment that is a segment of
                                 its own (validated by bind), not an eventfd */
    uint64_t body_offset, body_size;
    uint64_t max_segment;     /* the largest segment this kind's ABI allows */
    /* How its segments are mapped and sealed, given the size bound
     * (0 at creation; at attach the lesser of max_segment and the option). */
    struct zipc__segment_policy (*policy)(uint64_t max_size);
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
/* The same at an address: connect (retrying until appear_deadline: 0 tries
 * once), then the handshake, bounded by deadline. */
int zipc__endpoint_connect_addr(const struct zipc__kind_desc *d, void *ep, const struct zipc__addr *addr,
                                const struct zipc__opts *o, int64_t appear_deadline, int64_t deadline);
/* The welcome to an accepted peer: h's segment and fds, segment first, as
 * the kind names them, with `peer_role`; then wait for its ack. */
int zipc__endpoint_offer(const struct zipc__kind_desc *d, const struct zipc__handover *h, int peer_role,
                         struct zipc__peer *peer, int64_t deadline);
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
/* A door socket that a child forked without exec must not keep: it would
 * hold the name bound after the holder is gone, and never answer. Guarded
 * doors are closed in the child at once (pthread_atfork). */
struct zipc__door_guard {
    int *lsock;
    struct zipc__door_guard *next;
};
void zipc__door_guard_add(struct zipc__door_guard *g, int *lsock);
/* Start a helper thread (a door's) that takes no signals (they stay the
 * application's), and return once it runs and its setup (may be NULL) is
 * done: a process that forks right after (a DataLoader's workers) never
 * copies a thread mid-start, with whatever lock its start held. A helper
 * allocates in its setup only, never in its loop: a fork may copy the loop
 * at any instant, and ASan's allocator (unlike glibc's) leaves a lock held
 * in the child. 0, or the setup's negative errno (the thread is gone). */
int zipc__thread_start(pthread_t *t, int (*setup)(void *), void *(*loop)(void *), void *arg);
/* Close the guarded socket (if still open) and forget it; any thread,
 * idempotent. An abstract name is free once this returns. */
void zipc__door_guard_close(struct zipc__door_guard *g);

/* ---- wait.c: spin, sleep, wake, liveness ---------------------------- */
struct zipc__waiter {
    int sock;            /* peer link; EOF/HUP: peer gone */
    int pidfd;           /* peer process; readable: peer exited (-1 if unavailable) */
    int wake_fd;         /* eventfd this side sleeps on */
    int peer_wake_fd;    /* eventfd that wakes the peer */
    int epfd;            /* lazily created for zipc_*_fd(), -1 until then */
    int bell_fd;         /* a bell shared with other sleepers (a topic's), or -1 */
    int bell_ep;         /* an epoll holding bell_fd edge-triggered: readable once per ring
                            of the bell since it was last drained; -1 without a bell */
    uint32_t *my_sleeping;   /* shared flag: this side is (about to be) asleep */
    uint32_t *peer_sleeping; /* shared flag: the peer is (about to be) asleep */
    uint32_t *sleep_hint;    /* with many wakers' peers (topic): a shared word where arming
                                also sets sleep_hint_bit, so one load tells a waker "look" */
    uint32_t sleep_hint_bit;
    void (*wake_slow)(struct zipc__waiter *w); /* the waker's slow path, if not the one peer's */
    const uint32_t *peer_state; /* shared: ZIPC_STATE_CLOSED after a clean close */
    uint64_t *my_wakeups;    /* shared counters (written by this side only) */
    uint64_t *my_sleeps;
    int64_t spin_ns;
    int64_t max_sleep_ns;    /* > 0: a sleep lasts at most this, then the condition is looked at again */
    int64_t next_liveness_ns;
    int peer_pid;        /* SO_PEERCRED, in our pid namespace (0: not visible) */
    int64_t next_cpu_check_ns; /* when to look at both sides' CPU affinity again */
    bool one_cpu;        /* both sides may run on one and the same CPU only */
    bool peer_gone;
    int interrupted;     /* set by any thread (zipc__waiter_interrupt), taken by zipc__wait */
};

/* The awaited condition: 1 ready, 0 not yet, < 0 an error (e.g. -EBADMSG). */
typedef int (*zipc__ready_fn)(void *ctx);

void zipc__waiter_init(struct zipc__waiter *w);
/* The pauses (zipc__cpu_relax) a view's quiet start lasts: about
 * ZIPC__QUIET_NS, timed once per process (a pause lasts ~12 ns on this
 * project's Intel guest, ~25 ns on its AMD EPYC: DESIGN §3.1). */
unsigned zipc__quiet_pauses(void);
/* Do both sides share one CPU (both pinned to it, or a one-CPU machine)?
 * Then spinning only burns the time slice the peer needs. Cached, looked
 * at again every 100 ms; a peer we cannot see counts as elsewhere. */
bool zipc__waiter_one_cpu(struct zipc__waiter *w);
void zipc__waiter_close(struct zipc__waiter *w);
/* Sleep on `bell` too (taken): an eventfd many sleepers share, rung by one
 * write for all of them. 0 or -errno (the bell is closed then). */
int zipc__waiter_add_bell(struct zipc__waiter *w, int bell);
/* Wait for ready(ctx): spin, then sleep. Returns 0, -EAGAIN (timeout 0),
 * -ETIMEDOUT, -EPIPE (peer gone and still not ready), -EINTR, or ready's error.
 * `bytes`: how much the peer has to copy before the condition can hold (the
 * frame it writes, the frames it reads): the spin lasts spin_ns plus the
 * time that copy takes, so a stream of large messages is not slept through
 * (a sleep and its wake-up cost tens of microseconds per message). */
int zipc__wait(struct zipc__waiter *w, zipc__ready_fn ready, void *ctx, uint64_t bytes, int64_t timeout_ns);
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
/* A channel's welcome fds, in wire order (docs/ABI.md §7.3). */
enum { ZIPC__FD_CONSUMER_WAKE = ZIPC__FD_SEGMENT + 1, ZIPC__FD_PRODUCER_WAKE, ZIPC__CHANNEL_NFDS };

/* zipc__endpoint_adopt with the channel's descriptor, into a new channel:
 * fds in wire order, the role the listener assigned, the size it announced
 * (the connector's trust boundary, and the fuzzers' entry point). On
 * success the fds and peer->sock are the channel's (set to -1); on failure
 * they stay the caller's, but for a mapped segment's fd. */
int zipc__channel_adopt(zipc_channel **out, int fds[ZIPC__CHANNEL_NFDS], int role, struct zipc__peer *peer,
                        const struct zipc__opts *o, uint64_t announced_size);

/* ---- topic.c ---------------------------------------------------------- */
/* A topic's welcome fds, in wire order (docs/ABI.md §11). */
enum { ZIPC__FD_BOARD = ZIPC__FD_SEGMENT + 1, ZIPC__FD_CURSOR, ZIPC__FD_SUB_WAKE, ZIPC__FD_PUB_WAKE,
       ZIPC__TOPIC_NFDS };

/* zipc__endpoint_adopt with the topic's descriptor, into a new subscriber
 * (request `req`, NULL: defaults), then its start from the cursor page as
 * the publisher wrote it: the subscriber's trust boundary, and the fuzzers'
 * entry point. Ownership of fds and peer->sock as zipc__channel_adopt. */
/* 0: subscribe as a subscriber of minor < 5 does, woken through its own
 * eventfd instead of the topic's bell (tests of that path). Default 1. */
extern int zipc__topic_ask_bell;
int zipc__subscriber_adopt(zipc_subscriber **out, int fds[ZIPC__TOPIC_NFDS], struct zipc__peer *peer,
                           const struct zipc__opts *o, uint64_t announced_size, const struct zipc_subscription *req);

#endif /* ZIPC_INTERNAL_H */

/* Liveness of N members: slot i of a member table is held by an OFD read
 * lock on one byte of the segment file, on a description private to the
 * holder, cross-checked with the holder's pid (docs/DESIGN.md, "liveness of
 * N members").
 *
 * Why a private description: OFD locks belong to an open file description,
 * and every member received the *same* description of the memfd (fork,
 * SCM_RIGHTS); locks taken on it would all have one owner and exclude
 * nobody. A reopen of /proc/self/fd/N is a new description: its locks are
 * this member's alone, and the kernel drops them when the last fd of it
 * closes — at the latest when the process dies, SIGKILL included.
 * Why the pid too: a forked child inherits the fd and with it the lock, so a
 * dead member's lock may outlive it. "Lock free, or pid exited" means dead.
 *
 * Claim: lock the byte first, then compare-and-swap the lease: whoever sees
 * a busy lease sees its lock held. Release: free the lease, then drop the
 * lock. */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define ZIPC__LEASE_FREE_MASK (UINT64_C(0x7fffffff) << 32) /* a free lease keeps its generation */
#define ZIPC__WATCH_POLL_NS 1000000LL /* members without a pidfd are looked at every 1 ms */
#define ZIPC__LEASE_TRIES 8

static uint64_t lease_next(uint64_t lease, uint32_t pid)
{
    return ZIPC_LEASE_BUSY | (uint64_t)((ZIPC_LEASE_GEN(lease) + 1) & 0x7fffffffu) << 32 | pid;
}

static struct zipc_member_slot *slot_at(const struct zipc__members *m, uint32_t i)
{
    return &m->slots[i];
}

/* ---- our pid namespace -------------------------------------------------- */

/* The inode of our pid namespace: a recorded pid means something to us only
 * if it was recorded in the same namespace. 0 when /proc is not there. */
static uint64_t own_pidns(void)
{
    static uint64_t cached; /* 0 until known; every thread computes the same value */
    uint64_t ns = __atomic_load_n(&cached, __ATOMIC_RELAXED); /* relaxed: a plain cache */
    if (ns)
        return ns;
    struct stat st;
    if (stat("/proc/self/ns/pid", &st) < 0)
        return 0;
    ns = (uint64_t)st.st_ino;
    __atomic_store_n(&cached, ns, __ATOMIC_RELAXED); /* relaxed: idempotent */
    return ns;
}

/* ---- locks -------------------------------------------------------------- */

static int lock_byte(int fd, uint64_t off, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = (off_t)off, .l_len = 1};
    return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* 1 if a description other than fd's holds a lock on the byte, 0 if none. */
static int lock_held(int fd, uint64_t off)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)off, .l_len = 1};
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return -errno;
    return fl.l_type != F_UNLCK;
}

/* ---- pids --------------------------------------------------------------- */

int zipc__pidfd_open(uint32_t pid)
{
#ifdef SYS_pidfd_open
    if (pid > 0 && pid <= INT32_MAX) {
        int fd = (int)syscall(SYS_pidfd_open, (int)pid, 0);
        return fd >= 0 ? fd : -errno;
    }
    return -ESRCH;
#else
    (void)pid;
    return -ENOSYS;
#endif
}

/* A pidfd polls readable once its process has exited (a zombie included). */
static bool pidfd_exited(int pidfd)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

/* 0 if the pid recorded in our namespace has exited, 1 if it runs or we
 * cannot tell (another namespace, no pidfd): then the lock alone decides. */
static int pid_alive(uint32_t pid, uint64_t pidns)
{
    if (!pidns || pidns != own_pidns())
        return 1;
    int fd = zipc__pidfd_open(pid);
    if (fd == -ESRCH)
        return 0;
    if (fd < 0)
        return 1;
    bool exited = pidfd_exited(fd);
    close(fd);
    return !exited;
}

/* 1 if the lease's holder lives, 0 if it is dead, < 0 an error. `fd` is a
 * description of the segment file whose own locks do not count. */
static int holder_alive(const struct zipc__members *m, int fd, uint32_t i, uint64_t lease, uint64_t pidns)
{
    int held = lock_held(fd, m->lock_base + i);
    if (held <= 0)
        return held;
    if (ZIPC_LEASE_PID(lease) == 0)
        return 1; /* being claimed: its claimer holds the lock */
    return pid_alive(ZIPC_LEASE_PID(lease), pidns);
}

/* ---- the table ------------------------------------------------------------ */

void zipc__members_init(uint8_t *base, uint64_t table_offset, uint32_t capacity)
{
    struct zipc_member_table *t = (void *)(base + table_offset);
    memset(t, 0, ZIPC_MEMBER_TABLE_SIZE(capacity));
    t->capacity = capacity;
    t->slot_size = sizeof(struct zipc_member_slot);
}

int zipc__members_bind(struct zipc__members *m, const struct zipc__segment *seg, uint64_t table_offset)
{
    if (table_offset % ZIPC_CACHE_LINE || table_offset > seg->size ||
        seg->size - table_offset < sizeof(struct zipc_member_table))
        return -EBADMSG;
    const struct zipc_member_table *t = (const void *)(seg->base + table_offset);
    uint32_t cap = t->capacity; /* read once: the table is shared */
    if (cap < 1 || cap > ZIPC_MEMBERS_MAX || t->slot_size != sizeof(struct zipc_member_slot) ||
        seg->size - table_offset < ZIPC_MEMBER_TABLE_SIZE(cap))
        return -EBADMSG;
    m->slots = (struct zipc_member_slot *)(seg->base + table_offset + sizeof(*t));
    m->capacity = cap;
    m->lock_base = ZIPC_MEMBER_LOCK_BASE + table_offset;
    m->probe_fd = seg->fd;
    m->writable = (seg->prot & PROT_WRITE) != 0;
    return 0;
}

int zipc__member_alive(const struct zipc__members *m, uint32_t slot, uint64_t *lease_out)
{
    if (slot >= m->capacity)
        return -EINVAL;
    struct zipc_member_slot *s = slot_at(m, slot);
    int r = 0;
    for (int tries = 0; tries < ZIPC__LEASE_TRIES; tries++) {
        /* acquire: the holder's pidns, written before its lease, is seen with it. */
        uint64_t lease = zipc__load(&s->lease, ZIPC__ACQUIRE);
        *lease_out = lease;
        if (!(lease & ZIPC_LEASE_BUSY))
            return 0;
        /* relaxed: ordered after the lease by its acquire, checked by the re-load */
        r = holder_alive(m, m->probe_fd, slot, lease, zipc__load(&s->pidns, ZIPC__RELAXED));
        /* acquire: a new holder's pidns must not be judged with the old lease. */
        if (zipc__load(&s->lease, ZIPC__ACQUIRE) == lease)
            return r;
    }
    return r;
}

/* Try slot i with our lock description fd: 0 and *lease if it is ours now. */
static int try_slot(const struct zipc__members *m, int fd, uint32_t i, uint64_t *lease_out)
{
    struct zipc_member_slot *s = slot_at(m, i);
    /* acquire: pairs with the holder's release, so its pidns (relaxed) is
     * the one of this lease; a newer holder only makes the CAS below fail. */
    uint64_t lease = zipc__load(&s->lease, ZIPC__ACQUIRE);
    if ((lease & ZIPC_LEASE_BUSY) && holder_alive(m, fd, i, lease, zipc__load(&s->pidns, ZIPC__RELAXED)))
        return -EBUSY; /* cheap look first: no lock taken for a live holder */
    /* Lock, then look again: from the CAS on, anyone who sees our lease
     * sees our lock. */
    int err = lock_byte(fd, m->lock_base + i, F_RDLCK);
    if (err)
        return err;
    lease = zipc__load(&s->lease, ZIPC__ACQUIRE); /* acquire: as above */
    if (!(lease & ZIPC_LEASE_BUSY) ||
        holder_alive(m, fd, i, lease, zipc__load(&s->pidns, ZIPC__RELAXED)) == 0) {
        uint64_t claiming = lease_next(lease, 0);
        /* acq_rel: we take the slot over from its last holder (acquire) and
         * publish "being claimed" before our fields (release). */
        if (__atomic_compare_exchange_n(&s->lease, &lease, claiming, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            zipc__store(&s->pidns, own_pidns(), ZIPC__RELAXED); /* published by the release below */
            zipc__store(&s->uid, (uint32_t)geteuid(), ZIPC__RELAXED);
            zipc__store(&s->claimed_ns, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
                        ZIPC__RELAXED);
            *lease_out = claiming | (uint32_t)getpid();
            /* release: pidns and the rest are seen with the pid. Only we
             * change a lease in the claiming state. */
            zipc__store(&s->lease, *lease_out, ZIPC__RELEASE);
            return 0;
        }
    }
    lock_byte(fd, m->lock_base + i, F_UNLCK);
    return -EBUSY;
}

int zipc__member_claim(const struct zipc__members *m, struct zipc__member *me)
{
    return zipc__member_claim_in(m, 0, m->capacity, me);
}

int zipc__member_claim_in(const struct zipc__members *m, uint32_t first, uint32_t count, struct zipc__member *me)
{
    if (first > m->capacity || count > m->capacity - first)
        return -EINVAL;
    if (!m->writable)
        return -EOPNOTSUPP; /* a lease is written in the table: a read-write mapping */
    int fd = zipc__reopen_readonly(m->probe_fd); /* a description that is ours alone */
    if (fd < 0)
        return fd;
    for (uint32_t i = first; i < first + count; i++) {
        uint64_t lease;
        int err = try_slot(m, fd, i, &lease);
        if (err == 0) {
            *me = (struct zipc__member){.lock_fd = fd, .slot = i, .lease = lease};
            return 0;
        }
        if (err != -EBUSY && err != -EAGAIN) {
            close(fd);
            return err;
        }
    }
    close(fd);
    return -ENOSPC;
}

void zipc__member_release(const struct zipc__members *m, struct zipc__member *me)
{
    if (me->lock_fd < 0)
        return;
    uint64_t lease = me->lease;
    /* release: what we wrote as a member is seen by whoever takes the slot
     * next. Free first, then unlock: a free slot is never taken for dead. */
    __atomic_compare_exchange_n(&slot_at(m, me->slot)->lease, &lease, lease & ZIPC__LEASE_FREE_MASK,
                                false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    close(me->lock_fd);
    me->lock_fd = -1;
}

int zipc__member_reap(const struct zipc__members *m, uint32_t slot, uint64_t lease)
{
    uint64_t now;
    int r = zipc__member_alive(m, slot, &now);
    if (r != 0 || now != lease || !(lease & ZIPC_LEASE_BUSY))
        return r < 0 ? r : -EBUSY;
    /* relaxed on failure: someone else changed it; acq_rel as in a claim. */
    return __atomic_compare_exchange_n(&slot_at(m, slot)->lease, &lease, lease & ZIPC__LEASE_FREE_MASK,
                                       false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED) ? 0 : -EBUSY;
}

/* ---- a waiter that watches N members -------------------------------------- */

int zipc__watch_init(struct zipc__watch *w, const struct zipc__members *m)
{
    *w = (struct zipc__watch){.m = m};
    w->peer = calloc(m->capacity, sizeof(*w->peer));
    w->pfd = calloc((size_t)m->capacity + 1, sizeof(*w->pfd));
    w->pslot = calloc((size_t)m->capacity + 1, sizeof(*w->pslot));
    w->dead = calloc(m->capacity, sizeof(*w->dead));
    if (!w->peer || !w->pfd || !w->pslot || !w->dead) {
        zipc__watch_close(w);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < m->capacity; i++)
        w->peer[i].pidfd = -1;
    return 0;
}

void zipc__watch_close(struct zipc__watch *w)
{
    for (uint32_t i = 0; w->peer && i < w->m->capacity; i++)
        if (w->peer[i].pidfd >= 0)
            close(w->peer[i].pidfd);
    free(w->peer);
    free(w->pfd);
    free(w->pslot);
    free(w->dead);
    *w = (struct zipc__watch){.m = w->m};
}

static void stop_watching(struct zipc__watched *p)
{
    if (p->pidfd >= 0)
        close(p->pidfd);
    p->pidfd = -1;
}

/* Watch slot i's current holder: its pidfd, opened while its lease (and so
 * its pid) is unchanged — a pidfd never follows a reused pid. */
static void watch_slot(struct zipc__watch *w, uint32_t i)
{
    struct zipc__watched *p = &w->peer[i];
    struct zipc_member_slot *s = slot_at(w->m, i);
    uint64_t lease = zipc__load(&s->lease, ZIPC__ACQUIRE); /* acquire: its pidns with it */
    if (lease == p->lease && (p->pidfd >= 0 || p->dead))
        return;
    stop_watching(p);
    p->lease = lease;
    p->dead = false;
    p->polled = false;
    if (!(lease & ZIPC_LEASE_BUSY))
        return;
    uint64_t pidns = zipc__load(&s->pidns, ZIPC__RELAXED); /* relaxed: after the acquire above */
    int fd = ZIPC_LEASE_PID(lease) && pidns && pidns == own_pidns() ? zipc__pidfd_open(ZIPC_LEASE_PID(lease)) : -ENOSYS;
    /* acquire: the pid we opened is the one of this lease */
    if (zipc__load(&s->lease, ZIPC__ACQUIRE) != lease) {
        if (fd >= 0)
            close(fd);
        p->lease = 0; /* changed under us: look again next time */
        p->polled = true;
        return;
    }
    if (fd >= 0)
        p->pidfd = fd;
    else
        p->polled = true; /* no pidfd (or already exited): the next wait looks at it */
}

int zipc__watch_refresh(struct zipc__watch *w)
{
    int n = 0;
    for (uint32_t i = 0; i < w->m->capacity; i++) {
        watch_slot(w, i);
        n += (w->peer[i].lease & ZIPC_LEASE_BUSY) != 0;
    }
    return n;
}

/* Slot i's holder was seen exiting (or failed a poll): confirm and record. */
static void check_dead(struct zipc__watch *w, uint32_t i)
{
    struct zipc__watched *p = &w->peer[i];
    uint64_t lease;
    int alive = zipc__member_alive(w->m, i, &lease);
    if (lease != p->lease) { /* left (or was replaced): watch the new state */
        watch_slot(w, i);
        return;
    }
    bool exited = p->pidfd >= 0; /* only polled for readable pidfds */
    if (alive == 0 || exited) {
        stop_watching(p);
        p->dead = true;
        p->polled = false;
        w->dead[w->ndead++] = i;
    }
}

static unsigned fill_pollfds(struct zipc__watch *w, int wake_fd, bool *polling)
{
    unsigned n = 0;
    *polling = false;
    if (wake_fd >= 0) {
        w->pfd[n] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
        w->pslot[n++] = UINT32_MAX;
    }
    for (uint32_t i = 0; i < w->m->capacity; i++) {
        if (w->peer[i].pidfd >= 0) {
            w->pfd[n] = (struct pollfd){.fd = w->peer[i].pidfd, .events = POLLIN};
            w->pslot[n++] = i;
        }
        *polling |= w->peer[i].polled;
    }
    return n;
}

int zipc__watch_wait(struct zipc__watch *w, int wake_fd, int64_t deadline)
{
    w->ndead = 0;
    for (;;) {
        bool polling;
        unsigned n = fill_pollfds(w, wake_fd, &polling);
        int64_t until = deadline;
        if (polling && (until == INT64_MAX || until - zipc__now_ns() > ZIPC__WATCH_POLL_NS))
            until = zipc__now_ns() + ZIPC__WATCH_POLL_NS;
        int r = zipc__ppoll(w->pfd, n, until);
        if (r < 0 && r != -ETIMEDOUT)
            return r;
        bool woken = false;
        for (unsigned k = 0; r > 0 && k < n; k++) {
            if (!w->pfd[k].revents)
                continue;
            if (w->pslot[k] == UINT32_MAX)
                woken = true;
            else
                check_dead(w, w->pslot[k]);
        }
        for (uint32_t i = 0; polling && i < w->m->capacity; i++)
            if (w->peer[i].polled)
                check_dead(w, i);
        if (w->ndead)
            return (int)w->ndead;
        if (woken)
            return 0;
        if (r == -ETIMEDOUT && deadline != INT64_MAX && zipc__now_ns() >= deadline)
            return -ETIMEDOUT;
    }
}

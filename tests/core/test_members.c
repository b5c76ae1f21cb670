/* Liveness of N members (src/liveness.c), with real processes and real kills.
 *
 *  - 8 forked members claim the 8 slots of a table (distinct slots; a 9th
 *    claim gets -ENOSPC); a watcher blocked in zipc__watch_wait sees each
 *    SIGKILL of a random member at once (the latency from kill() to the
 *    watcher's return is measured and printed); the dead slot reads dead and
 *    a new member reclaims exactly it;
 *  - some members fork a child that inherits their lock: when the member is
 *    killed the lock stays held, yet the slot reads dead (pidfd cross-check)
 *    and is reclaimed;
 *  - a member that leaves cleanly is not reported dead; the waiter's own
 *    eventfd wakes it; two members killed at once are both reported, once;
 *  - a claimer killed between its compare-and-swap and its final lease
 *    leaves a slot that reads alive while its lock is held, dead after, and
 *    is reclaimed;
 *  - churn: 8 members claim and release in a loop while random ones are
 *    SIGKILLed at random points (200 kills): no slot is ever held by two
 *    live members, and afterwards all 8 slots can be claimed again (none lost). */
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "internal.h"
#include "testutil.h"

#define SLOTS 8
#define TABLE_OFFSET 256

struct shared {
    int64_t t_kill;          /* set by the killer just before kill() */
    uint32_t violations;     /* churn: a slot held by two live members */
    uint32_t stop;           /* churn: leave cleanly */
    uint64_t claims;         /* churn: successful claims */
    uint64_t full;           /* churn: claims that found no slot (retried) */
    int32_t owner[SLOTS];    /* churn: who the test thinks holds each slot */
    int32_t doomed[256];     /* churn: pids sent SIGKILL, most recent last (a ring) */
    uint32_t ndoomed;
};

static struct zipc__segment seg = {.fd = -1};
static struct zipc__members members;
static struct shared *sh;

struct report {
    int err;
    int slot;
    pid_t grandchild;
};

/* ---- members ------------------------------------------------------------ */

/* Claim, report, and hold the slot until killed; with_child: fork a child
 * that inherits the lock description and outlives us. */
__attribute__((noreturn)) static void holder_main(int wfd, bool with_child)
{
    struct zipc__member me;
    struct report rep = {.err = zipc__member_claim(&members, &me), .slot = -1};
    if (!rep.err)
        rep.slot = (int)me.slot;
    if (!rep.err && with_child) {
        pid_t parent = getpid();
        rep.grandchild = fork();
        if (rep.grandchild == 0)
            tu_hold_fds(parent, false); /* keeps the lock; the test kills it */
    }
    if (write(wfd, &rep, sizeof(rep)) != sizeof(rep))
        _exit(3);
    for (;;)
        pause();
}

static pid_t spawn_holder(bool with_child, struct report *rep)
{
    int p[2];
    if (!CHECK_OK(pipe(p)))
        return -1;
    pid_t pid = tu_fork();
    if (pid == 0) {
        close(p[0]);
        holder_main(p[1], with_child);
    }
    close(p[1]);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    *rep = (struct report){.err = -ETIMEDOUT, .slot = -1};
    if (poll(&pf, 1, 5000) != 1 || read(p[0], rep, sizeof(*rep)) != sizeof(*rep))
        *rep = (struct report){.err = -ETIMEDOUT, .slot = -1};
    close(p[0]);
    return pid;
}

static pid_t spawn_killer(pid_t victim, long delay_us)
{
    pid_t k = tu_fork();
    if (k == 0) {
        tu_sleep_us(delay_us);
        __atomic_store_n(&sh->t_kill, tu_now_ns(), __ATOMIC_SEQ_CST);
        kill(victim, SIGKILL);
        _exit(0);
    }
    return k;
}

static bool byte_locked(uint32_t slot)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                       .l_start = (off_t)(members.lock_base + slot), .l_len = 1};
    return fcntl(seg.fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- deaths seen by a blocked watcher ------------------------------------- */

struct member {
    pid_t pid;
    pid_t grandchild;
};

static void deaths_seen_at_once(int trials)
{
    struct member mem[SLOTS];
    struct report rep;
    bool seen[SLOTS] = {false};
    for (int i = 0; i < SLOTS; i++) {
        pid_t pid = spawn_holder(false, &rep);
        if (!CHECK_OK(rep.err) || !CHECK_RANGE(rep.slot, 0, SLOTS - 1) || !CHECK(!seen[rep.slot])) {
            tu_kill_reap(pid);
            return; /* (the watchdog's kill list reaps the others) */
        }
        seen[rep.slot] = true;
        mem[rep.slot] = (struct member){.pid = pid}; /* members indexed by slot */
    }
    struct zipc__member extra;
    CHECK_ERR(zipc__member_claim(&members, &extra), -ENOSPC); /* 8 live holders: no room */

    struct zipc__watch w;
    if (!CHECK_OK(zipc__watch_init(&w, &members)))
        return;
    CHECK_EQ(zipc__watch_refresh(&w), SLOTS);
    int64_t *lat = calloc((size_t)trials, sizeof(*lat));
    uint64_t rng = tu_seed ^ 0xdead;
    int forked_cases = 0;
    for (int t = 0; t < trials; t++) {
        uint32_t v = (uint32_t)tu_below(&rng, SLOTS);
        uint64_t lease_before;
        CHECK_EQ(zipc__member_alive(&members, v, &lease_before), 1);
        __atomic_store_n(&sh->t_kill, 0, __ATOMIC_SEQ_CST);
        pid_t killer = spawn_killer(mem[v].pid, (long)tu_below(&rng, 3000));
        int n = zipc__watch_wait(&w, -1, tu_now_ns() + 5000 * TU_MS);
        int64_t t_seen = tu_now_ns();
        CHECK_CHILD(killer, 5000);
        int64_t t_kill = __atomic_load_n(&sh->t_kill, __ATOMIC_SEQ_CST);
        if (!CHECK_MSG(n == 1 && w.dead[0] == v, "trial %d: wait returned %d (dead[0] = %d), victim slot %u", t,
                       n, n > 0 ? (int)w.dead[0] : -1, v))
            break;
        lat[t] = t_seen - t_kill;
        CHECK_MSG(t_kill > 0 && lat[t] >= 0, "trial %d: death seen before the kill", t);
        int st = tu_wait(mem[v].pid, 5000);
        CHECK(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        uint64_t lease;
        CHECK_EQ(zipc__member_alive(&members, v, &lease), 0);
        CHECK_EQ(lease, lease_before);
        if (mem[v].grandchild > 0) {
            /* Its child still holds the lock: only the pid says dead. */
            CHECK_MSG(byte_locked(v), "trial %d: the forked child's lock is gone", t);
            forked_cases++;
        }
        /* A new member reclaims exactly the dead slot (all others are live);
         * every few trials it forks a lock-holding child. */
        bool with_child = tu_below(&rng, 5) == 0;
        mem[v].pid = spawn_holder(with_child, &rep);
        CHECK_OK(rep.err);
        CHECK_EQ(rep.slot, (int)v);
        if (mem[v].grandchild > 0) {
            kill(mem[v].grandchild, SIGKILL); /* reparented to init, which reaps it */
            mem[v].grandchild = 0;
        }
        mem[v].grandchild = with_child ? rep.grandchild : 0;
        CHECK_EQ(zipc__watch_refresh(&w), SLOTS);
    }
    qsort(lat, (size_t)trials, sizeof(*lat), cmp_i64);
    printf("  death of 1 of %d members seen by a blocked watcher, %d kills (%d with a forked lock holder):\n"
           "    min %.1f us, median %.1f us, p99 %.1f us, max %.1f us after kill()\n",
           SLOTS, trials, forked_cases, (double)lat[0] / 1e3, (double)lat[trials / 2] / 1e3,
           (double)lat[trials * 99 / 100] / 1e3, (double)lat[trials - 1] / 1e3);
    CHECK_MSG(lat[trials / 2] < 5 * TU_MS * tu_slack(), "median latency %.1f us", (double)lat[trials / 2] / 1e3);
    CHECK_MSG(lat[trials - 1] < 100 * TU_MS * tu_slack(), "max latency %.1f us", (double)lat[trials - 1] / 1e3);
    CHECK(forked_cases > 0 || trials < 20);
    free(lat);

    /* A clean leave is no death, and the waiter's own eventfd wakes it. */
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    uint64_t one = 1;
    CHECK(write(efd, &one, sizeof(one)) == sizeof(one));
    CHECK_EQ(zipc__watch_wait(&w, efd, tu_now_ns() + 1000 * TU_MS), 0);
    /* What one pass over the N + 1 fds costs (printed, not asserted). */
    int reps = 2000;
    int64_t t0 = tu_now_ns();
    for (int i = 0; i < reps; i++)
        CHECK_HOT(zipc__watch_wait(&w, efd, INT64_MAX) == 0);
    printf("  one wait pass over %d pidfds + the eventfd: %.2f us\n", SLOTS,
           (double)(tu_now_ns() - t0) / reps / 1e3);
    close(efd);

    for (int i = 0; i < SLOTS; i++) {
        if (mem[i].grandchild > 0)
            kill(mem[i].grandchild, SIGKILL);
        tu_kill_reap(mem[i].pid);
    }
    zipc__watch_close(&w);
}

/* A member that leaves cleanly and exits is not reported dead. */
static void clean_leave_is_no_death(void)
{
    int go[2];
    CHECK_OK(pipe(go));
    pid_t pid = tu_fork();
    if (pid == 0) {
        struct zipc__member me;
        CHECK_OK(zipc__member_claim(&members, &me));
        tu_await(go[0], 5000);
        zipc__member_release(&members, &me);
        tu_child_exit();
    }
    struct zipc__watch w;
    if (!CHECK_OK(zipc__watch_init(&w, &members)))
        return;
    int64_t end = tu_now_ns() + 5000 * TU_MS;
    while (zipc__watch_refresh(&w) < 1 && tu_now_ns() < end)
        tu_sleep_us(200);
    tu_notify(go[1]);
    CHECK_CHILD(pid, 5000);
    CHECK_ERR(zipc__watch_wait(&w, -1, tu_now_ns() + 200 * TU_MS), -ETIMEDOUT);
    CHECK_EQ(w.ndead, 0);
    CHECK_EQ(zipc__watch_refresh(&w), 0);
    zipc__watch_close(&w);
    close(go[0]);
    close(go[1]);
}

/* A claimer killed between its CAS and its final lease (written by hand
 * from docs/ABI.md §10): "being claimed" is alive while its lock is held,
 * dead once it is gone, and the slot is reclaimed. */
static void killed_while_claiming(void)
{
    const uint32_t slot = 5;
    int ready[2];
    CHECK_OK(pipe(ready));
    pid_t pid = tu_fork();
    if (pid == 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", seg.fd);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET,
                           .l_start = (off_t)(ZIPC_MEMBER_LOCK_BASE + TABLE_OFFSET + slot), .l_len = 1};
        CHECK(fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0);
        uint64_t *lease = &members.slots[slot].lease, old = __atomic_load_n(lease, __ATOMIC_ACQUIRE);
        CHECK(!(old & ZIPC_LEASE_BUSY));
        uint64_t claiming = ZIPC_LEASE_BUSY | (uint64_t)(ZIPC_LEASE_GEN(old) + 1) << 32;
        CHECK(__atomic_compare_exchange_n(lease, &old, claiming, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
        tu_notify(ready[1]);
        for (;;)
            pause();
    }
    uint64_t lease;
    if (CHECK(tu_await(ready[0], 5000))) {
        CHECK_EQ(zipc__member_alive(&members, slot, &lease), 1);
        CHECK(lease & ZIPC_LEASE_BUSY);
        CHECK_EQ(ZIPC_LEASE_PID(lease), 0);
    }
    tu_kill_reap(pid);
    CHECK_EQ(zipc__member_alive(&members, slot, &lease), 0);
    CHECK(lease & ZIPC_LEASE_BUSY); /* still says "being claimed": only the lock tells */
    struct zipc__member all[SLOTS];
    bool got_it = false;
    int n = 0;
    while (n < SLOTS && zipc__member_claim(&members, &all[n]) == 0)
        got_it |= all[n++].slot == slot;
    CHECK_EQ(n, SLOTS);
    CHECK(got_it);
    while (n-- > 0)
        zipc__member_release(&members, &all[n]);
    close(ready[0]);
    close(ready[1]);
}

/* Two members killed at once: the watcher reports both, each once. */
static void two_deaths(void)
{
    struct report rep;
    pid_t pids[3];
    for (int i = 0; i < 3; i++) {
        pids[i] = spawn_holder(false, &rep);
        CHECK_OK(rep.err);
    }
    struct zipc__watch w;
    if (!CHECK_OK(zipc__watch_init(&w, &members)))
        return;
    CHECK_EQ(zipc__watch_refresh(&w), 3);
    kill(pids[0], SIGKILL);
    kill(pids[2], SIGKILL);
    bool dead[SLOTS] = {false};
    int reported = 0;
    for (int round = 0; round < 2 && reported < 2; round++) {
        int n = zipc__watch_wait(&w, -1, tu_now_ns() + 5000 * TU_MS);
        for (int k = 0; k < n; k++) {
            CHECK(!dead[w.dead[k]]);
            dead[w.dead[k]] = true;
            reported++;
        }
    }
    CHECK_EQ(reported, 2);
    CHECK_ERR(zipc__watch_wait(&w, -1, tu_now_ns() + 100 * TU_MS), -ETIMEDOUT); /* once each */
    uint64_t lease;
    int alive = 0;
    for (uint32_t i = 0; i < SLOTS; i++)
        alive += zipc__member_alive(&members, i, &lease) == 1;
    CHECK_EQ(alive, 1);
    for (int i = 0; i < 3; i++)
        tu_kill_reap(pids[i]);
    zipc__watch_close(&w);
}

/* ---- churn ------------------------------------------------------------------ */

/* Sent SIGKILL by the test. Its lock goes when its files are closed, a
 * moment before the process turns into a zombie: a claimer may rightly take
 * its slot in between. */
static bool doomed(pid_t pid)
{
    for (uint32_t i = 0; i < 256; i++)
        if (__atomic_load_n(&sh->doomed[i], __ATOMIC_SEQ_CST) == pid)
            return true;
    return false;
}

static bool pid_exited(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return errno == ESRCH;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    bool gone = poll(&p, 1, 0) > 0;
    close(fd);
    return gone;
}

__attribute__((noreturn)) static void churner_main(uint64_t seed)
{
    pid_t self = getpid();
    uint64_t rng = seed;
    while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
        struct zipc__member me;
        int r = zipc__member_claim(&members, &me);
        if (r == -ENOSPC) { /* transient: a claimer's probe lock on a dead slot */
            __atomic_fetch_add(&sh->full, 1, __ATOMIC_RELAXED);
            tu_sleep_us(50);
            continue;
        }
        if (!CHECK_HOT_OK(r))
            break;
        __atomic_fetch_add(&sh->claims, 1, __ATOMIC_RELAXED);
        int32_t old = __atomic_exchange_n(&sh->owner[me.slot], self, __ATOMIC_SEQ_CST);
        if (old != 0 && !pid_exited(old) && !doomed(old)) {
            __atomic_fetch_add(&sh->violations, 1, __ATOMIC_RELAXED);
            printf("FAIL slot %u: claimed by %d while %d holds it and lives\n", me.slot, (int)self, (int)old);
            fflush(stdout);
        }
        tu_sleep_us((long)tu_below(&rng, 200));
        int32_t mine = self;
        if (!__atomic_compare_exchange_n(&sh->owner[me.slot], &mine, 0, false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST)) {
            __atomic_fetch_add(&sh->violations, 1, __ATOMIC_RELAXED);
            printf("FAIL slot %u: taken from live %d by %d\n", me.slot, (int)self, (int)mine);
            fflush(stdout);
        }
        zipc__member_release(&members, &me);
    }
    tu_child_exit();
}

static pid_t spawn_churner(uint64_t seed)
{
    pid_t pid = tu_fork();
    if (pid == 0)
        churner_main(seed);
    return pid;
}

static void churn(int kills)
{
    pid_t kids[SLOTS];
    uint64_t rng = tu_seed ^ 0xc0ffee;
    for (int i = 0; i < SLOTS; i++)
        kids[i] = spawn_churner(tu_rand(&rng));
    for (int k = 0; k < kills; k++) {
        tu_sleep_us((long)tu_below(&rng, 2000));
        int v = (int)tu_below(&rng, SLOTS);
        __atomic_store_n(&sh->doomed[sh->ndoomed++ % 256], kids[v], __ATOMIC_SEQ_CST);
        kill(kids[v], SIGKILL);
        int st = tu_wait(kids[v], 5000);
        CHECK_HOT(st != -1 && WIFSIGNALED(st));
        kids[v] = spawn_churner(tu_rand(&rng));
    }
    __atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < SLOTS; i++)
        CHECK_CHILD(kids[i], 10000);
    CHECK_EQ(__atomic_load_n(&sh->violations, __ATOMIC_RELAXED), 0);
    printf("  churn: %d kills, %llu claims, %llu claims retried on a full table\n", kills,
           (unsigned long long)sh->claims, (unsigned long long)sh->full);
    CHECK(sh->claims > (uint64_t)kills);

    /* No slot lost: all 8 can be claimed again (the killed members' slots
     * reclaimed), by 8 claims of this process, each on its own description. */
    struct zipc__member all[SLOTS + 1];
    bool seen[SLOTS] = {false};
    int got = 0;
    for (int i = 0; i < SLOTS; i++) {
        if (!CHECK_OK(zipc__member_claim(&members, &all[i])))
            break;
        CHECK(!seen[all[i].slot]);
        seen[all[i].slot] = true;
        got++;
    }
    CHECK_EQ(got, SLOTS);
    CHECK_ERR(zipc__member_claim(&members, &all[SLOTS]), -ENOSPC);
    for (int i = 0; i < got; i++) {
        uint64_t lease;
        CHECK_EQ(zipc__member_alive(&members, all[i].slot, &lease), 1);
        CHECK_EQ(ZIPC_LEASE_PID(lease), getpid());
        zipc__member_release(&members, &all[i]);
        CHECK_EQ(zipc__member_alive(&members, all[i].slot, &lease), 0);
        CHECK(!(lease & ZIPC_LEASE_BUSY));
    }
}

/* ---- a hostile table ---------------------------------------------------- */

static void hostile_table(void)
{
    struct zipc__members m;
    struct zipc_member_table *t = (void *)(seg.base + TABLE_OFFSET);
    uint32_t cap = t->capacity;
    t->capacity = ZIPC_MEMBERS_MAX + 1;
    CHECK_ERR(zipc__members_bind(&m, &seg, TABLE_OFFSET), -EBADMSG);
    t->capacity = 0;
    CHECK_ERR(zipc__members_bind(&m, &seg, TABLE_OFFSET), -EBADMSG);
    t->capacity = (uint32_t)(seg.size / sizeof(struct zipc_member_slot)); /* past the end */
    CHECK_ERR(zipc__members_bind(&m, &seg, TABLE_OFFSET), -EBADMSG);
    t->capacity = cap;
    t->slot_size = 32;
    CHECK_ERR(zipc__members_bind(&m, &seg, TABLE_OFFSET), -EBADMSG);
    t->slot_size = sizeof(struct zipc_member_slot);
    CHECK_ERR(zipc__members_bind(&m, &seg, TABLE_OFFSET + 8), -EBADMSG);
    CHECK_ERR(zipc__members_bind(&m, &seg, seg.size), -EBADMSG);
    CHECK_OK(zipc__members_bind(&m, &seg, TABLE_OFFSET));
    /* A lease naming a pid that does not exist, with no lock: dead. */
    struct zipc_member_slot *s = &m.slots[3];
    uint64_t saved = s->lease, lease;
    s->lease = ZIPC_LEASE_BUSY | (UINT64_C(5) << 32) | 0x7ffffff0u;
    CHECK_EQ(zipc__member_alive(&m, 3, &lease), 0);
    CHECK_ERR(zipc__member_alive(&m, SLOTS, &lease), -EINVAL);
    s->lease = saved;
}

int main(void)
{
    tu_init("test_members", 600);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!CHECK(sh != MAP_FAILED))
        return tu_finish();
    uint64_t size = 4096;
    if (!CHECK_OK(zipc__segment_create(&seg, zipc__segment_policy_rw(0), ZIPC_KIND_QUEUE, size, TABLE_OFFSET,
                                       ZIPC_MEMBER_TABLE_SIZE(SLOTS), "members")))
        return tu_finish();
    zipc__members_init(seg.base, TABLE_OFFSET, SLOTS);
    if (!CHECK_OK(zipc__members_bind(&members, &seg, TABLE_OFFSET)))
        return tu_finish();
    hostile_table();
    clean_leave_is_no_death();
    killed_while_claiming();
    two_deaths();
    deaths_seen_at_once((int)tu_scaled(200, 40));
    churn((int)tu_scaled(200, 40));
    zipc__segment_close(&seg);
    return tu_finish();
}

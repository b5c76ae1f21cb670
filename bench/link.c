/* zipc bench: running a transport's two ends in two pinned processes.
 *
 * Robustness rules: the child is always reaped; a child that fails reports
 * why through a pipe and exits; a stuck side is caught by the zipc/spin
 * timeouts (10 s) or, for blocking read/write/waitpid, by a per-row alarm
 * whose handler only interrupts (no SA_RESTART), turning a hang into an
 * error. The child keeps SIGALRM's default action: it dies. */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "transport.h"

int link_check(struct link *l, const void *p)
{
    const uint8_t *m = p;
    if (!msg_ok(m, m + l->size - 8, l->expect))
        return bench_fail_plain(-EBADMSG, "%s: message %llu arrived corrupted or out of order",
                          l->t->name, (unsigned long long)l->expect);
    l->expect++;
    return 0;
}

int bench_pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set))
        return bench_fail(-errno, "sched_setaffinity(CPU %d)", cpu);
    return 0;
}

static volatile sig_atomic_t g_watchdog;

static void on_alarm(int sig)
{
    (void)sig;
    g_watchdog = 1;
}

/* Before fork, so both processes ignore SIGPIPE: a dead reader is an EPIPE
 * error, not a death. The child then puts SIGALRM back to its default. */
void link_signals_setup(void)
{
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART: interrupt blocking calls */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    g_watchdog = 0;
}

/* One side: open, work, count sleeps, close. The first error wins. */
static int side_run(struct link *l, const struct bench_opts *o, side_fn fn, void *ctx,
                    struct pair_report *rep)
{
    rep->sleeps = -1;
    int err = l->t->open(l);
    if (!err)
        err = fn(l, o, ctx, rep);
    if (l->t->sleeps)
        rep->sleeps = l->t->sleeps(l);
    int cerr = l->t->close(l);
    return err ? err : cerr;
}

static _Noreturn void child_main(struct link *l, const struct bench_opts *o, unsigned budget_s,
                                 side_fn fn, void *ctx, int report_fd)
{
    struct pair_report rep = {0};
    signal(SIGALRM, SIG_DFL);
    alarm(budget_s + 5); /* outlive the parent's watchdog, never the row by much */
    bench_error_clear();
    l->side = SIDE_CHILD;
    int err = o->pinned ? bench_pin(o->cpu[1]) : 0;
    if (!err)
        err = side_run(l, o, fn, ctx, &rep);
    else
        l->t->close(l);
    rep.err = err;
    snprintf(rep.error, sizeof(rep.error), "%s", bench_error());
    /* One write below PIPE_BUF is atomic; if it fails the parent reports the exit status. */
    ssize_t n = write(report_fd, &rep, sizeof(rep));
    _exit(err || n != (ssize_t)sizeof(rep) ? 1 : 0);
}

bool link_watchdog_fired(void) { return g_watchdog != 0; }

/* Reap the child; a child that does not exit by the watchdog is killed. */
int link_reap(pid_t pid)
{
    int status;
    for (;;) {
        if (waitpid(pid, &status, 0) == pid)
            return status;
        if (errno != EINTR)
            return -1;
        kill(pid, SIGKILL);
    }
}

/* Wait a little for a failing child's own report: it usually names the
 * cause of the parent's error (the parent sees only -EPIPE). */
static void await_report(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, 2000); /* returns on the report, the child's exit, 2 s or the watchdog */
}

/* Merge both sides' outcomes into one error text. */
static int combine(int perr, const char *ptext, const struct pair_report *rep, bool reported,
                   int status)
{
    char text[256], mine[192];
    snprintf(mine, sizeof(mine), "%s", ptext);
    if (g_watchdog)
        snprintf(mine, sizeof(mine), "watchdog: the row did not finish in time%s%.140s",
                 ptext[0] ? "; " : "", ptext);
    if (reported && rep->err) {
        snprintf(text, sizeof(text), "child: %.140s%s%.90s", rep->error, perr ? "; parent: " : "",
                 perr ? mine : "");
        perr = perr ? perr : rep->err;
    } else if (!reported && !perr) {
        if (WIFSIGNALED(status))
            snprintf(text, sizeof(text), "child killed by signal %d", WTERMSIG(status));
        else
            snprintf(text, sizeof(text), "child exited with status %d and no report",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        perr = -ECHILD;
    } else {
        snprintf(text, sizeof(text), "%s", mine);
    }
    bench_error_clear();
    if (perr)
        bench_error_set(text);
    return perr;
}

int pair_run(struct link *l, const struct bench_opts *o, unsigned budget_s, side_fn parent_fn,
             side_fn child_fn, void *ctx, struct pair_report *child_rep, long long *sleeps)
{
    int rp[2];
    bench_error_clear();
    *child_rep = (struct pair_report){.sleeps = -1};
    if (pipe2(rp, O_CLOEXEC))
        return bench_fail(-errno, "pipe2");
    link_signals_setup();
    int err = l->t->setup ? l->t->setup(l) : 0;
    pid_t pid = err ? -1 : (fflush(NULL), fork());
    if (pid == 0) {
        close(rp[0]);
        child_main(l, o, budget_s, child_fn, ctx, rp[1]);
    }
    close(rp[1]);
    if (pid < 0) {
        err = err ? err : bench_fail(-errno, "fork");
        l->t->close(l);
        close(rp[0]);
        return err;
    }
    alarm(budget_s);
    l->side = SIDE_PARENT;
    struct pair_report mine = {0};
    err = side_run(l, o, parent_fn, ctx, &mine);
    if (err)
        await_report(rp[0]);
    if (err || g_watchdog)
        kill(pid, SIGKILL);
    int status = link_reap(pid);
    alarm(0);
    bool reported = read(rp[0], child_rep, sizeof(*child_rep)) == (ssize_t)sizeof(*child_rep);
    close(rp[0]);
    *sleeps = mine.sleeps < 0 ? -1 : mine.sleeps + (child_rep->sleeps > 0 ? child_rep->sleeps : 0);
    char ptext[192];
    snprintf(ptext, sizeof(ptext), "%s", bench_error());
    return combine(err, ptext, child_rep, reported, status);
}

/* Clocks, deadlines and a deadline-bounded ppoll: the time base every
 * layer shares (handshake, names, wait). */
#include <poll.h>
#include <signal.h>
#include <time.h>

#include "internal.h"

int64_t zipc__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t zipc__coarse_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_MONOTONIC_COARSE is CLOCK_MONOTONIC at the last timekeeping
 * update: never ahead of it, behind by a few ticks at most (the CPU that
 * keeps time keeps ticking). A deadline further than this past the coarse
 * time has not come, whatever the precise clock says. */
#define ZIPC__COARSE_LAG_NS 50000000LL

bool zipc__deadline_passed(int64_t deadline)
{
    if (deadline == INT64_MAX || zipc__coarse_now_ns() + ZIPC__COARSE_LAG_NS < deadline)
        return false; /* a few ns: no TSC read */
    return zipc__now_ns() > deadline;
}

int zipc__ppoll(struct pollfd *fds, unsigned nfds, int64_t deadline)
{
    struct timespec ts, *tsp = NULL;
    if (deadline != INT64_MAX) {
        int64_t left = deadline - zipc__now_ns();
        if (left < 0)
            left = 0;
        ts.tv_sec = left / 1000000000;
        ts.tv_nsec = left % 1000000000;
        tsp = &ts;
    }
    int n = ppoll(fds, nfds, tsp, NULL);
    return n > 0 ? n : n == 0 ? -ETIMEDOUT : -errno;
}

int64_t zipc__deadline(int64_t timeout_ns)
{
    return timeout_ns < 0 ? INT64_MAX : zipc__deadline_from(zipc__now_ns(), timeout_ns);
}

int64_t zipc__deadline_from(int64_t now, int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return INT64_MAX;
    return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

int zipc__sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    return nanosleep(&ts, NULL) < 0 && errno == EINTR ? -EINTR : 0;
}

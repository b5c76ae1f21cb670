/* zipc bench: the timer, percentiles and the per-process error text. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples: the smallest sample with at
 * least q of the samples at or below it. */
static int64_t percentile(const int64_t *sorted, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    return sorted[rank ? rank - 1 : 0];
}

const double RTT_CDF_Q[RTT_CDF_POINTS] = {0,    0.01, 0.05, 0.1,  0.2,   0.3,   0.4,    0.5,    0.6,     0.7,  0.8,
                                           0.9,  0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999, 1};

void stats_rtt(int64_t *samples, size_t n, struct rtt_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return;
    qsort(samples, n, sizeof(*samples), cmp_i64);
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += (double)samples[i];
    out->n = n;
    out->min = samples[0];
    out->p50 = percentile(samples, n, 0.50);
    out->p90 = percentile(samples, n, 0.90);
    out->p99 = percentile(samples, n, 0.99);
    out->p999 = percentile(samples, n, 0.999);
    out->max = samples[n - 1];
    for (size_t i = 0; i < RTT_CDF_POINTS; i++)
        out->cdf[i] = percentile(samples, n, RTT_CDF_Q[i]);
    out->per_s = total > 0 ? (double)n * 1e9 / total : 0;
}

static char g_error[256];

static int vfail(int err, bool why, const char *fmt, va_list ap)
{
    if (g_error[0]) /* keep the first: later ones are usually its consequences */
        return err;
    int len = vsnprintf(g_error, sizeof(g_error), fmt, ap);
    if (why && len >= 0 && (size_t)len < sizeof(g_error) && err)
        snprintf(g_error + len, sizeof(g_error) - (size_t)len, ": %s", zipc_strerror(err));
    return err;
}

int bench_fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err = vfail(err, true, fmt, ap);
    va_end(ap);
    return err;
}

int bench_fail_plain(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err = vfail(err, false, fmt, ap);
    va_end(ap);
    return err;
}

const char *bench_error(void) { return g_error; }

void bench_error_set(const char *text) { snprintf(g_error, sizeof(g_error), "%s", text); }

void bench_error_clear(void) { g_error[0] = 0; }

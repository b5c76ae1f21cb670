/* zipc bench: the machine the figures were taken on. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* First line of a file, without its newline; "unknown" if unreadable. */
static void read_line(const char *path, char *out, size_t len)
{
    snprintf(out, len, "unknown");
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(out, (int)len, f))
        out[strcspn(out, "\n")] = 0;
    fclose(f);
}

/* The value of the first /proc/cpuinfo line whose key is exactly `key`
 * ("model" must not match "model name"); false if there is none. */
static bool cpuinfo_value(const char *key, char *out, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    size_t klen = strlen(key);
    while (!found && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (!colon || strncmp(line, key, klen) != 0 || line + klen + strspn(line + klen, " \t") != colon)
            continue;
        char *v = colon + 1 + strspn(colon + 1, " \t");
        v[strcspn(v, "\n")] = 0;
        snprintf(out, len, "%s", v);
        found = true;
    }
    fclose(f);
    return found;
}

/* "model name" on x86 with its family and model (guests of one brand name
 * differ: two Intel Xeon models gave different cache sizes and figures),
 * "Model name"/"cpu model"/"Processor" elsewhere. */
static void cpu_model(char *out, size_t len)
{
    static const char *keys[] = {"model name", "Model name", "cpu model", "Processor"};
    char name[96] = "unknown", family[16], model[16];
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        if (cpuinfo_value(keys[k], name, sizeof(name)))
            break;
    if (cpuinfo_value("cpu family", family, sizeof(family)) && cpuinfo_value("model", model, sizeof(model)))
        snprintf(out, len, "%s (family %s, model %s)", name, family, model);
    else
        snprintf(out, len, "%s", name);
}

/* CPU 0's L2 and L3 sizes as sysfs gives them ("1024K"), where it does. */
static void cache_sizes(char *out, size_t len)
{
    char l2[32], l3[32];
    read_line("/sys/devices/system/cpu/cpu0/cache/index2/size", l2, sizeof(l2));
    read_line("/sys/devices/system/cpu/cpu0/cache/index3/size", l3, sizeof(l3));
    snprintf(out, len, "L2 %s, L3 %s", l2, l3);
}

/* The timer is part of every RTT sample: say what a read costs and how
 * coarsely it advances (a VM's clock may step by several ns). The step is
 * the largest of a few candidates dividing >= 90% of consecutive deltas. */
static void timer_describe(struct machine *m)
{
    enum { READS = 10000 };
    static const int64_t steps[] = {100, 50, 40, 20, 10, 5, 4, 2};
    int64_t delta[READS], first = bench_now_ns(), prev = first;
    for (int i = 0; i < READS; i++) {
        int64_t now = bench_now_ns();
        delta[i] = now - prev;
        prev = now;
    }
    m->timer_read_ns = (double)(prev - first) / READS;
    m->timer_step_ns = 1;
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]) && m->timer_step_ns == 1; k++) {
        int multiples = 0;
        for (int i = 0; i < READS; i++)
            multiples += delta[i] % steps[k] == 0;
        if (multiples >= READS * 9 / 10)
            m->timer_step_ns = steps[k];
    }
}

void machine_describe(struct machine *m)
{
    memset(m, 0, sizeof(*m));
    cpu_model(m->cpu_model, sizeof(m->cpu_model));
    cache_sizes(m->caches, sizeof(m->caches));
    m->online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    read_line("/sys/devices/system/cpu/online", m->online_list, sizeof(m->online_list));
    read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", m->clocksource,
              sizeof(m->clocksource));
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof(m->kernel), "%s %s %s", u.sysname, u.release, u.machine);
    else
        snprintf(m->kernel, sizeof(m->kernel), "unknown");
    timer_describe(m);
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || !strftime(m->date, sizeof(m->date), "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(m->date, sizeof(m->date), "unknown");
}

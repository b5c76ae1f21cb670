/* zipc stat NAME|PID:FD [--json] [--watch SECONDS]: every counter of an
 * object, read through zipc_inspect. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: zipc stat NAME|PID:FD [--json] [--watch SECONDS]\n"
               "  every counter of the object named NAME (its label; all objects of that\n"
               "  name), or of the segment open as fd FD of process PID.\n"
               "  --watch S   show it again every S seconds (JSON: one document per line)\n");
}

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

void zt_catch_stop(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop; /* no SA_RESTART: nanosleep returns at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool zt_sleep(double seconds)
{
    struct timespec ts = {.tv_sec = (time_t)seconds, .tv_nsec = (long)((seconds - floor(seconds)) * 1e9)};
    while (!stop_requested && nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    return !stop_requested;
}

bool zt_parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 86400)
        return false;
    *out = v;
    return true;
}

/* One look: 0 when something was shown, 1 when nothing answers to the name. */
static int show(const char *name, bool as_json)
{
    struct zt_scan s;
    int err = zt_scan(&s);
    if (err) {
        fprintf(stderr, "zipc stat: scanning /proc: %s\n", zipc_strerror(err));
        zt_scan_free(&s);
        return 1;
    }
    struct zt_segment *only = NULL;
    if (zt_is_pid_fd(name) && !(only = zt_find_fd(&s, name, &err))) {
        fprintf(stderr, "zipc stat: %s: %s\n", name, zipc_strerror(err));
        zt_scan_free(&s);
        return 1;
    }
    struct json j;
    json_init(&j, stdout);
    if (as_json) {
        json_open(&j, NULL, '{');
        json_open(&j, "objects", '[');
    }
    unsigned shown = 0;
    for (unsigned i = 0; i < s.n; i++) {
        struct zt_segment *g = s.seg[i];
        /* by name: the objects (not a topic's pages) whose label it is */
        if (only ? g != only || g->err : g->err || g->part || strncmp(g->info.label, name, sizeof(g->info.label)))
            continue;
        if (as_json)
            zt_json_object(&j, NULL, g, true);
        else
            zt_text_stat(stdout, g);
        shown++;
    }
    if (as_json) {
        json_close(&j, ']');
        json_open(&j, "errors", '[');
        if (only && only->err)
            zt_json_error(&j, only);
        json_close(&j, ']');
        json_close(&j, '}');
        json_end(&j);
    } else if (only && only->err) {
        zt_text_error(stderr, only);
    }
    fflush(stdout);
    if (!shown && !only)
        fprintf(stderr, "zipc stat: no live zipc object named '%s' (see zipc ls)\n", name);
    zt_scan_free(&s);
    return shown ? 0 : 1;
}

int zipc_stat_main(int argc, char **argv)
{
    bool as_json = false;
    double watch = 0;
    const char *name = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            as_json = true;
        } else if (!strcmp(argv[i], "--watch")) {
            if (i + 1 >= argc || !zt_parse_seconds(argv[++i], &watch)) {
                fprintf(stderr, "zipc stat: --watch takes a number of seconds (> 0)\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!name && argv[i][0] != '-') {
            name = argv[i];
        } else {
            fprintf(stderr, "zipc stat: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!name) {
        usage(stderr);
        return 2;
    }
    if (!watch)
        return show(name, as_json);
    zt_catch_stop();
    int rc;
    do {
        if (!as_json) {
            char when[32];
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            printf("--- %s\n", zt_time((uint64_t)now.tv_sec * 1000000000u, when));
        }
        rc = show(name, as_json);
    } while (zt_sleep(watch));
    return rc;
}

/* zipc ls [--json]: every live zipc object this user can see, one line each. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: zipc ls [--json]\n"
               "  every live zipc object (channels, topics, queues, rpc services, stores) this user\n"
               "  can see: kind, name, capacity, creation time, members and the pids holding it.\n"
               "  Segments that do not check out are reported (stderr, or \"errors\" in JSON).\n");
}

int zipc_ls_main(int argc, char **argv)
{
    bool as_json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            as_json = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "zipc ls: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    struct zt_scan s;
    int err = zt_scan(&s);
    if (err) {
        fprintf(stderr, "zipc ls: scanning /proc: %s\n", zipc_strerror(err));
        zt_scan_free(&s);
        return 1;
    }
    if (as_json) {
        struct json j;
        json_init(&j, stdout);
        json_open(&j, NULL, '{');
        json_open(&j, "objects", '[');
        for (unsigned i = 0; i < s.n; i++)
            if (!s.seg[i]->err && !s.seg[i]->part)
                zt_json_object(&j, NULL, s.seg[i], false);
        json_close(&j, ']');
        json_open(&j, "errors", '[');
        for (unsigned i = 0; i < s.n; i++)
            if (s.seg[i]->err)
                zt_json_error(&j, s.seg[i]);
        json_close(&j, ']');
        json_close(&j, '}');
        json_end(&j);
    } else {
        zt_text_ls_header(stdout);
        for (unsigned i = 0; i < s.n; i++)
            if (!s.seg[i]->err && !s.seg[i]->part)
                zt_text_ls_row(stdout, s.seg[i]);
        fflush(stdout);
        for (unsigned i = 0; i < s.n; i++)
            if (s.seg[i]->err)
                zt_text_error(stderr, s.seg[i]);
    }
    zt_scan_free(&s);
    return 0;
}

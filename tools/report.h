/* How the zipc command shows objects: one JSON writer and one text writer
 * per level of detail, shared by ls, stat and top. Everything shown comes
 * from a scan (objects.h), i.e. from zipc_inspect. */
#ifndef ZIPC_TOOLS_REPORT_H
#define ZIPC_TOOLS_REPORT_H

#include <stdio.h>

#include "json.h"
#include "objects.h"

/* An object: identity, members (ls); with `counters`, everything (stat).
 * key: its member name inside an object (top), NULL inside an array. */
void zt_json_object(struct json *j, const char *key, const struct zt_segment *g, bool counters);
/* A segment that could not be inspected: {"path", "pids", "error", "message"}. */
void zt_json_error(struct json *j, const struct zt_segment *g);

/* ls: the header and one line per object; errors go to `err`. */
void zt_text_ls_header(FILE *f);
void zt_text_ls_row(FILE *f, const struct zt_segment *g);
void zt_text_error(FILE *f, const struct zt_segment *g);
/* stat: every counter, several lines. */
void zt_text_stat(FILE *f, const struct zt_segment *g);

/* What an inspect error means for a segment looked at. */
const char *zt_error_text(int err);
/* "12.0 KiB", "3.4 GiB": bytes for people. */
const char *zt_bytes(uint64_t b, char buf[16]);
/* Local time of a CLOCK_REALTIME stamp: "2026-12-05 13:10:02" ("-" for 0). */
const char *zt_time(uint64_t ns, char buf[32]);

#endif

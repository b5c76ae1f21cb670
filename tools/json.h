/* A small JSON writer for the zipc command's --json output.
 *
 * Why not a library: the output is a handful of flat objects and arrays of
 * numbers and strings; what matters is that every string (labels come from
 * shared memory, so they may be hostile) comes out as valid JSON, and that
 * is the ~60 lines of json.c. Debian's json-c/jansson would add a build
 * dependency to a tool that has none. */
#ifndef ZIPC_TOOLS_JSON_H
#define ZIPC_TOOLS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json {
    FILE *f;
    unsigned depth;
    bool first[32];  /* per nesting level: no member written yet */
};

void json_init(struct json *j, FILE *f);
/* Containers: key NULL inside an array (or at the top), a key inside an object. */
void json_open(struct json *j, const char *key, char bracket);  /* '{' or '[' */
void json_close(struct json *j, char bracket);                  /* '}' or ']' */
void json_str(struct json *j, const char *key, const char *s);
/* At most n bytes of s (stops at a NUL): for fixed-size fields. */
void json_strn(struct json *j, const char *key, const char *s, size_t n);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_f64(struct json *j, const char *key, double v);  /* non-finite: null */
void json_bool(struct json *j, const char *key, bool v);
/* Ends the document with a newline (one document per line: --watch). */
void json_end(struct json *j);

#endif

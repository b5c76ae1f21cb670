/* Running the zipc command from a test (tests/tools/): its exit status,
 * stdout and stderr, and stdout as JSON flattened by python3's json module
 * to "path\tvalue" lines that get() looks up ("objects/2/kind"). The caller
 * makes tmp_dir (mkdtemp) first; ZIPC_CLI is the command's path. */
#ifndef ZIPC_TESTS_TOOLS_CLI_H
#define ZIPC_TESTS_TOOLS_CLI_H

#include "testutil.h"

struct run {
    int status;  /* wait status */
    char *out;   /* stdout */
    char *flat;  /* stdout as JSON, flattened; NULL if it did not parse */
    char *err;   /* stderr */
};

static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got; (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (cap - n < 2)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    fclose(f);
    return buf;
}

static const char *FLATTEN =
    "import json,sys\n"
    "def walk(p,v):\n"
    "    if isinstance(v,dict):\n"
    "        for k,x in v.items(): walk(p+[k],x)\n"
    "    elif isinstance(v,list):\n"
    "        print('/'.join(p+['#'])+'\\t'+str(len(v)))\n"
    "        for i,x in enumerate(v): walk(p+[str(i)],x)\n"
    "    else: print('/'.join(p)+'\\t'+json.dumps(v))\n"
    "walk([],json.load(sys.stdin))\n";

static char tmp_dir[64];

static inline struct run zipc(const char *args, bool json)
{
    struct run r = {0};
    char cmd[512], out[128], err[128], flat[128];
    snprintf(out, sizeof(out), "%s/out", tmp_dir);
    snprintf(err, sizeof(err), "%s/err", tmp_dir);
    snprintf(flat, sizeof(flat), "%s/flat", tmp_dir);
    snprintf(cmd, sizeof(cmd), "%s %s >%s 2>%s", ZIPC_CLI, args, out, err);
    r.status = system(cmd);
    r.out = slurp(out);
    r.err = slurp(err);
    if (json) {
        char script[128];
        snprintf(script, sizeof(script), "%s/flatten.py", tmp_dir);
        FILE *f = fopen(script, "w");
        fputs(FLATTEN, f);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "python3 %s <%s >%s 2>/dev/null", script, out, flat);
        if (system(cmd) == 0)
            r.flat = slurp(flat);
    }
    return r;
}

static inline void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
    free(r->flat);
}

/* The value at path ("objects/2/kind") in a flattened document: a JSON
 * literal ("\"topic\"", "42") copied to val, or NULL. */
static inline const char *get(const struct run *r, const char *path, char *val, size_t n)
{
    size_t len = strlen(path);
    for (const char *l = r->flat; l && *l;) {
        const char *end = strchr(l, '\n');
        if (!end)
            end = l + strlen(l);
        if ((size_t)(end - l) > len && !strncmp(l, path, len) && l[len] == '\t') {
            snprintf(val, n, "%.*s", (int)(end - l - len - 1), l + len + 1);
            return val;
        }
        l = *end ? end + 1 : end;
    }
    return NULL;
}

static inline long long get_num(const struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline long long get_num(const struct run *r, const char *fmt, ...)
{
    char path[160], val[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return get(r, path, val, sizeof(val)) ? atoll(val) : -1;
}

/* Does the array at path hold the number v? */
static inline bool has_num(const struct run *r, const char *path, long long v)
{
    long long n = get_num(r, "%s/#", path);
    for (long long i = 0; i < n; i++)
        if (get_num(r, "%s/%lld", path, i) == v)
            return true;
    return false;
}

/* The index of the entry of `array` whose `key` is the string s, or -1. */
static inline int find_entry(const struct run *r, const char *array, const char *key, const char *s)
{
    char want[80], val[160], path[160];
    snprintf(want, sizeof(want), "\"%s\"", s);
    long long n = get_num(r, "%s/#", array);
    for (long long i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%lld/%s", array, i, key);
        if (get(r, path, val, sizeof(val)) && !strcmp(val, want))
            return (int)i;
    }
    return -1;
}

static inline bool ran_ok(const struct run *r, const char *what)
{
    bool ok = CHECK_MSG(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0, "%s: status %#x, stderr: %s", what,
                        r->status, r->err);
    return ok && CHECK_MSG(r->flat != NULL, "%s: output is not JSON: %s", what, r->out);
}

#endif

/* zipc bench: rows from other languages' benchmarks. After the C rows, each
 * source of the table below whose probe succeeds runs as a child with
 * `--json` (and our --quick, and --cpus on our two CPUs). Its JSON puts one
 * object (the source's meta key, e.g. "runtime") and each row on a line of
 * their own: rows are passed through verbatim into our JSON and the few
 * figures the table shows are read by key. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bench.h"

#ifndef ZIPC_SOURCE_DIR /* set by CMake: where rust/ is */
#define ZIPC_SOURCE_DIR "."
#endif

struct ext_source {
    const char *label;       /* "python": our JSON key, the table's section */
    const char *env;         /* names another program */
    const char *program;     /* the default program */
    bool quote;              /* a path: single-quote it for the shell */
    const char *probe;       /* shell command (%s: program); exit 0: run it */
    const char *run;         /* shell command (%s: program); we add --json etc. */
    const char *meta;        /* the one-line object kept besides the rows */
    const char *unavailable; /* why, when the probe fails (NULL: its output) */
    bool filters;            /* honours --rows, passed as $ZIPC_BENCH_ROWS */
};

static const struct ext_source SOURCES[EXT_SOURCES] = {
    [EXT_PYTHON] = {"python", "ZIPC_PYTHON", "python3", false, "%s -c 'import zipc, numpy'",
                    "%s -m zipc.bench", "runtime", NULL, false},
    [EXT_RUST] = {"rust", "ZIPC_RUST_BENCH", ZIPC_SOURCE_DIR "/rust/target/release/examples/bench",
                  true, "test -x %s", "%s", "config",
                  "not built (cd rust && cargo build --release -p zipc --example bench)", false},
    [EXT_PEERS] = {"peers", "ZIPC_PEERS", ZIPC_SOURCE_DIR "/bench/peers/target/release/zipc-peers",
                   true, "test -x %s", "%s", "config",
                   "not built: needs cargo and clang-19; make bench builds it", true},
};

/* Run a shell command; its stdout+stderr into a malloc'd text. Returns the
 * exit status (-1: could not run it). */
static int capture(const char *cmd, char **text)
{
    FILE *p = popen(cmd, "r");
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!p || !buf) {
        if (p)
            pclose(p);
        free(buf);
        *text = NULL;
        return -1;
    }
    for (size_t got; (got = fread(buf + len, 1, cap - len - 1, p)) > 0;) {
        len += got;
        char *more = len + 1 == cap ? realloc(buf, cap *= 2) : buf;
        if (!more)
            break;
        buf = more;
    }
    buf[len] = 0;
    *text = buf;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The last non-empty line of a text that is not a "note: " (Rust's panic
 * ends with one), into out: why a child failed. */
static void last_line(const char *text, char *out, size_t len)
{
    const char *end = text + strlen(text), *start;
    for (;;) {
        while (end > text && (end[-1] == '\n' || end[-1] == ' '))
            end--;
        for (start = end; start > text && start[-1] != '\n'; start--)
            ;
        if (start == text || strncmp(start, "note: ", 6))
            break;
        end = start;
    }
    snprintf(out, len, "%.*s", (int)(end - start), start);
}

/* Split the child's output: the meta object and the row lines. */
static void collect(struct ext_rows *x, char *text)
{
    static const char ROW[] = "  {\"name\": ";
    char meta[64];
    size_t nmeta = (size_t)snprintf(meta, sizeof(meta), " \"%s\": ", x->meta_key);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        size_t n = strlen(line);
        if (n && line[n - 1] == ',')
            line[--n] = 0;
        if (!strncmp(line, meta, nmeta))
            x->meta = line + nmeta;
        else if (!strncmp(line, ROW, sizeof(ROW) - 1) && x->n < EXT_MAX_ROWS)
            x->rows[x->n++] = line + 2;
    }
}

/* A path for the shell: as it is when plain, else in single quotes with
 * any ' as '\''. */
static void sh_quote(char *out, size_t len, const char *s)
{
    size_t n = 0;
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+,=:@-") ==
        strlen(s)) {
        snprintf(out, len, "%s", s);
        return;
    }
    if (len < 3) {
        out[0] = 0;
        return;
    }
    out[n++] = '\'';
    for (; *s && n + 6 < len; s++) {
        if (*s == '\'')
            n += (size_t)snprintf(out + n, len - n, "'\\''");
        else
            out[n++] = *s;
    }
    out[n++] = '\'';
    out[n] = 0;
}

static void one_source(const struct ext_source *s, const struct bench_opts *o, struct ext_rows *x)
{
    char program[256], cmd[640], cpus[64] = "";
    const char *given = getenv(s->env) && getenv(s->env)[0] ? getenv(s->env) : s->program;
    *x = (struct ext_rows){.label = s->label, .meta_key = s->meta};
    if (o->rows && !s->filters) {
        snprintf(x->skipped, sizeof(x->skipped), "--rows given, and this source runs all its rows");
        return;
    }
    if (s->quote)
        sh_quote(program, sizeof(program), given);
    else
        snprintf(program, sizeof(program), "%s", given);
    snprintf(cmd, sizeof(cmd), s->probe, program);
    snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " 2>&1");
    int st = capture(cmd, &x->text);
    if (st == 0) {
        if (o->pinned)
            snprintf(cpus, sizeof(cpus), " --cpus %d,%d", o->cpu[0], o->cpu[1]);
        snprintf(x->command, sizeof(x->command), s->run, program);
        snprintf(x->command + strlen(x->command), sizeof(x->command) - strlen(x->command),
                 " --json%s%s", o->quick ? " --quick" : "", cpus);
        snprintf(cmd, sizeof(cmd), "%s 2>&1", x->command);
        free(x->text);
        /* A failed row makes a child exit non-zero: keep the rows it printed. */
        st = capture(cmd, &x->text);
        if (x->text && (st == 0 || strstr(x->text, "\n  {\"name\": ")))
            collect(x, x->text);
    } else if (s->unavailable) {
        snprintf(x->skipped, sizeof(x->skipped), "%s", s->unavailable);
        return;
    }
    if (x->n)
        return;
    if (st == 127)
        snprintf(x->skipped, sizeof(x->skipped), "%.200s not found", given);
    else if (st != 0 && x->text && x->text[0])
        last_line(x->text, x->skipped, sizeof(x->skipped));
    else
        snprintf(x->skipped, sizeof(x->skipped), "%.200s gave no rows (exit %d)",
                 x->command[0] ? x->command : given, st);
}

void external_rows(const struct bench_opts *o, bool show, struct ext_rows x[EXT_SOURCES])
{
    if (o->rows) /* the sources that filter read it; the rest are not run */
        setenv("ZIPC_BENCH_ROWS", o->rows, 1);
    else
        unsetenv("ZIPC_BENCH_ROWS");
    for (size_t i = 0; i < EXT_SOURCES; i++) {
        if (show)
            fprintf(stderr, "%s rows ...%10s\r", SOURCES[i].label, "");
        one_source(&SOURCES[i], o, &x[i]);
    }
    if (show)
        fprintf(stderr, "%30s\r", "");
}

int external_plot(const char *json_path, const char *out, char *why, size_t len)
{
    char python[256], script[512], in[512], dest[512], cmd[2048];
    const char *given = getenv("ZIPC_PYTHON") && getenv("ZIPC_PYTHON")[0] ? getenv("ZIPC_PYTHON") : "python3";
    sh_quote(python, sizeof(python), given);
    sh_quote(script, sizeof(script), ZIPC_SOURCE_DIR "/bench/plot.py");
    sh_quote(in, sizeof(in), json_path);
    sh_quote(dest, sizeof(dest), out);
    snprintf(cmd, sizeof(cmd), "%s %s %s %s 2>&1", python, script, in, dest);
    char *text = NULL;
    int st = capture(cmd, &text);
    if (st == 127)
        snprintf(why, len, "%.200s not found", given);
    else if (st != 0 && text && text[0])
        last_line(text, why, len);
    else if (st != 0)
        snprintf(why, len, "%.200s exited with %d", cmd, st);
    free(text);
    return st == 0 ? 0 : -1;
}

void external_rows_free(struct ext_rows x[EXT_SOURCES])
{
    for (size_t i = 0; i < EXT_SOURCES; i++) {
        free(x[i].text);
        x[i] = (struct ext_rows){0};
    }
}

/* The value after "key": in a one-line JSON object: a string (copied into
 * out) or a number (returned); NAN / "" when absent. */
double ext_field(const char *obj, const char *key, char *out, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    const char *v = obj ? strstr(obj, pat) : NULL;
    if (out)
        out[0] = 0;
    if (!v)
        return NAN;
    v += strlen(pat);
    if (*v != '"') {
        char *end;
        double d = strtod(v, &end);
        return end == v ? NAN : d; /* null, true, an object: not a number */
    }
    size_t n = 0;
    for (v++; out && *v && *v != '"' && n + 1 < len; v++)
        out[n++] = *v == '\\' && v[1] ? *++v : *v;
    if (out)
        out[n] = 0;
    return NAN;
}

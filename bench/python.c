/* zipc bench: the Python rows. After the C rows, `python3 -m zipc.bench
 * --json` runs as a child (--quick with ours, on our two CPUs) when
 * `python3 -c 'import zipc, numpy'` works. Its JSON puts "runtime" and each
 * row on a line of their own: rows are passed through verbatim into our JSON
 * and the few figures the table shows are read by key. $ZIPC_PYTHON names
 * another interpreter. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bench.h"

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

/* The last non-empty line of a text, into out: why a child failed. */
static void last_line(const char *text, char *out, size_t len)
{
    const char *end = text + strlen(text), *start;
    while (end > text && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    for (start = end; start > text && start[-1] != '\n'; start--)
        ;
    snprintf(out, len, "%.*s", (int)(end - start), start);
}

/* Split the child's output: the runtime object and the row lines. */
static void collect(struct py_rows *py, char *text)
{
    static const char RUNTIME[] = " \"runtime\": ", ROW[] = "  {\"name\": ";
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        size_t n = strlen(line);
        if (n && line[n - 1] == ',')
            line[--n] = 0;
        if (!strncmp(line, RUNTIME, sizeof(RUNTIME) - 1))
            py->runtime = line + sizeof(RUNTIME) - 1;
        else if (!strncmp(line, ROW, sizeof(ROW) - 1) && py->n < PY_MAX_ROWS)
            py->rows[py->n++] = line + 2;
    }
}

void python_rows(const struct bench_opts *o, struct py_rows *py)
{
    const char *python = getenv("ZIPC_PYTHON") ? getenv("ZIPC_PYTHON") : "python3";
    char cmd[512], cpus[64] = "";
    *py = (struct py_rows){0};
    snprintf(cmd, sizeof(cmd), "%s -c 'import zipc, numpy' 2>&1", python);
    int st = capture(cmd, &py->text);
    if (st == 0) {
        if (o->pinned)
            snprintf(cpus, sizeof(cpus), " --cpus %d,%d", o->cpu[0], o->cpu[1]);
        snprintf(py->command, sizeof(py->command), "%s -m zipc.bench --json%s%s", python,
                 o->quick ? " --quick" : "", cpus);
        snprintf(cmd, sizeof(cmd), "%s 2>&1", py->command);
        free(py->text);
        if ((st = capture(cmd, &py->text)) == 0)
            collect(py, py->text);
    }
    if (py->n)
        return;
    if (st == 127)
        snprintf(py->skipped, sizeof(py->skipped), "%s not found", python);
    else if (st != 0 && py->text && py->text[0])
        last_line(py->text, py->skipped, sizeof(py->skipped));
    else
        snprintf(py->skipped, sizeof(py->skipped), "%.200s gave no rows (exit %d)",
                 py->command[0] ? py->command : python, st);
}

void python_rows_free(struct py_rows *py)
{
    free(py->text);
    *py = (struct py_rows){0};
}

/* The value after "key": in a one-line JSON object: a string (copied into
 * out) or a number (returned); NAN / "" when absent. */
double py_field(const char *obj, const char *key, char *out, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    const char *v = obj ? strstr(obj, pat) : NULL;
    if (out)
        out[0] = 0;
    if (!v)
        return NAN;
    v += strlen(pat);
    if (*v != '"')
        return strtod(v, NULL);
    size_t n = 0;
    for (v++; out && *v && *v != '"' && n + 1 < len; v++)
        out[n++] = *v == '\\' && v[1] ? *++v : *v;
    if (out)
        out[n] = 0;
    return NAN;
}

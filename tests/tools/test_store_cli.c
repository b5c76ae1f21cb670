/* zipc store (tools/store.c) and the store in zipc ls / stat, run as real
 * processes against a real store:
 *  - the test writes a safetensors file (six tensors: F16, F32, I64, BOOL, a
 *    F64 scalar, an empty one; metadata), `zipc store publish` serves it;
 *  - `zipc store ls --json` shows each tensor's name, dtype, shape, bytes
 *    and the XXH3-64 the test computes itself; the metadata, the version;
 *  - `zipc ls --json` / `zipc stat NAME --json` show the store's version,
 *    tensors, bytes and its holders' pids;
 *  - `zipc store manifest` then `verify --manifest` passes; so does a
 *    manifest the test writes by the documented format; a tampered one
 *    (checksum, dtype, shape changed, a tensor added, one left out) exits 1
 *    naming the tensor; hostile manifests exit 1 with a reason, no crash;
 *  - a bad safetensors file: publish exits 1 with the rule it breaks;
 *  - keepers: SIGTERM the publisher while `zipc store hold` keeps the store:
 *    a new open still works; once both are gone, zipc ls lists no store of
 *    that name and zipc_store_open gives -ENOENT.
 * JSON is checked through python3's json module (cli.h). */
#include <sys/stat.h>

#include "testutil.h"

#ifndef ZIPC_CLI
int main(void)
{
    tu_skip("tools_store_cli", "built without the zipc command (ZIPC_BUILD_TOOLS=OFF)");
    return tu_finish();
}
#else

#include "cli.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#define WAIT_MS 20000

struct tensor {
    const char *name, *dtype;
    unsigned ndim;
    int64_t shape[2];
    size_t size;
    uint8_t data[32];
    uint64_t xxh3;
};

/* In file order (not name order: the store sorts by name). */
static struct tensor T[] = {
    {"w.f32", "F32", 2, {2, 3}, 24, {0}, 0},
    {"mask", "BOOL", 1, {3}, 3, {0}, 0},
    {"b.f16", "F16", 1, {5}, 10, {0}, 0},
    {"scalar", "F64", 0, {0}, 8, {0}, 0},
    {"empty", "F32", 2, {0, 2}, 0, {0}, 0},
    {"ids", "I64", 1, {4}, 32, {0}, 0},
};
#define NT (sizeof(T) / sizeof(T[0]))
enum { W, MASK, B, SCALAR, EMPTY, IDS };

static char name[48], st_path[128];

static void path_in(char *out, size_t n, const char *file) { snprintf(out, n, "%s/%s", tmp_dir, file); }

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "w");
    if (CHECK_MSG(f != NULL, "create %s", path)) {
        CHECK_EQ(fwrite(p, 1, n, f), n);
        fclose(f);
    }
}

static void append_shape(char *buf, size_t cap, const struct tensor *t, bool swap)
{
    strncat(buf, "[", cap - strlen(buf) - 1);
    for (unsigned d = 0; d < t->ndim; d++) {
        char dim[32];
        snprintf(dim, sizeof(dim), "%s%lld", d ? "," : "", (long long)t->shape[swap ? t->ndim - 1 - d : d]);
        strncat(buf, dim, cap - strlen(buf) - 1);
    }
    strncat(buf, "]", cap - strlen(buf) - 1);
}

/* The tensors' header entries, offsets packed in T's order (skip: left out). */
static void append_entries(char *buf, size_t cap, int skip, int swap_shape, int other_dtype)
{
    size_t at = 0;
    for (size_t k = 0; k < NT; k++) {
        if ((int)k == skip)
            continue;
        char e[256];
        snprintf(e, sizeof(e), ",\"%s\":{\"dtype\":\"%s\",\"shape\":", T[k].name,
                 (int)k == other_dtype ? "F64" : T[k].dtype);
        strncat(buf, e, cap - strlen(buf) - 1);
        append_shape(buf, cap, &T[k], (int)k == swap_shape);
        snprintf(e, sizeof(e), ",\"data_offsets\":[%zu,%zu]}", at, at + T[k].size);
        strncat(buf, e, cap - strlen(buf) - 1);
        at += T[k].size;
    }
}

static void write_safetensors(void)
{
    char hdr[2048] = "{\"__metadata__\":{\"source\":\"test\"}";
    for (size_t k = 0; k < NT; k++) {
        for (size_t i = 0; i < T[k].size; i++)
            T[k].data[i] = (uint8_t)(k * 41 + i * 7 + 1);
        T[k].xxh3 = XXH3_64bits(T[k].data, T[k].size);
    }
    append_entries(hdr, sizeof(hdr), -1, -1, -1);
    strncat(hdr, "}", sizeof(hdr) - strlen(hdr) - 1);
    uint8_t file[4096];
    uint64_t n = strlen(hdr);
    for (int b = 0; b < 8; b++)
        file[b] = (uint8_t)(n >> (8 * b));
    memcpy(file + 8, hdr, n);
    size_t len = 8 + n;
    for (size_t k = 0; k < NT; k++) {
        memcpy(file + len, T[k].data, T[k].size);
        len += T[k].size;
    }
    path_in(st_path, sizeof(st_path), "w.safetensors");
    write_file(st_path, file, len);
}

/* A manifest as manifest.h documents it, tampered with as asked (-1: no). */
struct tamper {
    int skip, swap_shape, other_dtype, bad_sum;
    bool ghost; /* a tensor the store lacks */
};

static void write_manifest(const char *path, struct tamper t)
{
    char m[4096];
    snprintf(m, sizeof(m), "{\"__metadata__\":{\"zipc.store\":\"%s\",\"zipc.version\":\"1\"", name);
    for (size_t k = 0; k < NT; k++) {
        if ((int)k == t.skip)
            continue;
        char e[96];
        snprintf(e, sizeof(e), ",\"xxh3:%s\":\"%016llx\"", T[k].name,
                 (unsigned long long)(T[k].xxh3 ^ ((int)k == t.bad_sum ? 0x10 : 0)));
        strncat(m, e, sizeof(m) - strlen(m) - 1);
    }
    if (t.ghost)
        strncat(m, ",\"xxh3:ghost\":\"0123456789abcdef\"", sizeof(m) - strlen(m) - 1);
    strncat(m, "}", sizeof(m) - strlen(m) - 1);
    append_entries(m, sizeof(m), t.skip, t.swap_shape, t.other_dtype);
    if (t.ghost) {
        size_t total = 0;
        for (size_t k = 0; k < NT; k++)
            total += (int)k == t.skip ? 0 : T[k].size;
        char e[128];
        snprintf(e, sizeof(e), ",\"ghost\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[%zu,%zu]}", total,
                 total + 4);
        strncat(m, e, sizeof(m) - strlen(m) - 1);
    }
    strncat(m, "}\n", sizeof(m) - strlen(m) - 1);
    write_file(path, m, strlen(m));
}

/* ---- processes ------------------------------------------------------------------- */

/* `zipc ARGS...` in the background, stdout and stderr to tmp_dir/<tag>.out/.err. */
static pid_t start(const char *tag, char *const argv[])
{
    char out[160], err[160];
    snprintf(out, sizeof(out), "%s/%s.out", tmp_dir, tag);
    snprintf(err, sizeof(err), "%s/%s.err", tmp_dir, tag);
    pid_t pid = tu_fork();
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        execv(ZIPC_CLI, argv);
        _exit(127);
    }
    return pid;
}

/* Its stdout once it holds `want`, or NULL if it exited or took too long. */
static char *await_line(const char *tag, pid_t pid, const char *want)
{
    char out[160];
    snprintf(out, sizeof(out), "%s/%s.out", tmp_dir, tag);
    int64_t end = tu_now_ns() + WAIT_MS * TU_MS;
    while (tu_now_ns() < end) {
        char *s = slurp(out);
        if (strstr(s, want))
            return s;
        free(s);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            char err[160];
            snprintf(err, sizeof(err), "%s/%s.err", tmp_dir, tag);
            char *e = slurp(err);
            CHECK_MSG(false, "%s exited (status %#x) before saying '%s': %s", tag, st, want, e);
            free(e);
            return NULL;
        }
        tu_sleep_us(5000);
    }
    CHECK_MSG(false, "%s did not say '%s' in time", tag, want);
    return NULL;
}

/* SIGTERM: a keeper lets go and exits 0. */
static void stop(pid_t pid, const char *tag)
{
    CHECK_OK(kill(pid, SIGTERM));
    int st = tu_wait(pid, WAIT_MS);
    CHECK_MSG(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s after SIGTERM: status %#x", tag, st);
}

static bool exited(const struct run *r, int code, const char *what)
{
    return CHECK_MSG(WIFEXITED(r->status) && WEXITSTATUS(r->status) == code, "%s: status %#x (want exit %d), out: %s err: %s",
                     what, r->status, code, r->out, r->err);
}

/* ---- checks ------------------------------------------------------------------------ */

static void check_store_ls(void)
{
    char args[128], val[64], want[64], path[96];
    snprintf(args, sizeof(args), "store ls %s --json", name);
    struct run r = zipc(args, true);
    if (ran_ok(&r, "store ls --json")) {
        CHECK_EQ(get_num(&r, "version"), 1);
        CHECK_EQ(get_num(&r, "tensors/#"), NT);
        CHECK(get(&r, "metadata/source", val, sizeof(val)) && !strcmp(val, "\"test\""));
        CHECK(get(&r, "metadata/k", val, sizeof(val)) && !strcmp(val, "\"v=w\""));
        size_t total = 0;
        for (size_t k = 0; k < NT; k++) {
            const struct tensor *t = &T[k];
            int i = find_entry(&r, "tensors", "name", t->name);
            if (!CHECK_MSG(i >= 0, "tensor %s listed", t->name))
                continue;
            snprintf(path, sizeof(path), "tensors/%d/dtype", i);
            snprintf(want, sizeof(want), "\"%s\"", t->dtype);
            CHECK_MSG(get(&r, path, val, sizeof(val)) && !strcmp(val, want), "%s dtype %s", t->name, val);
            CHECK_EQ(get_num(&r, "tensors/%d/shape/#", i), t->ndim);
            for (unsigned d = 0; d < t->ndim; d++)
                CHECK_EQ(get_num(&r, "tensors/%d/shape/%u", i, d), t->shape[d]);
            CHECK_EQ(get_num(&r, "tensors/%d/bytes", i), t->size);
            snprintf(path, sizeof(path), "tensors/%d/xxh3", i);
            snprintf(want, sizeof(want), "\"%016llx\"", (unsigned long long)t->xxh3);
            CHECK_MSG(get(&r, path, val, sizeof(val)) && !strcmp(val, want), "%s xxh3 %s, computed %s", t->name,
                      val, want);
            total += t->size;
        }
        CHECK_EQ(get_num(&r, "bytes"), total);
        /* in name order, as the store's table (these names are no prefix of each other) */
        char prev[64] = "";
        for (size_t i = 0; i < NT; i++) {
            snprintf(path, sizeof(path), "tensors/%zu/name", i);
            CHECK(get(&r, path, val, sizeof(val)) && strcmp(prev, val) < 0);
            memcpy(prev, val, sizeof(prev));
        }
    }
    run_free(&r);
    snprintf(args, sizeof(args), "store ls %s", name);
    r = zipc(args, false);
    if (exited(&r, 0, "store ls"))
        CHECK_MSG(strstr(r.out, "version 1") && strstr(r.out, "w.f32 [2, 3]") && strstr(r.out, "scalar []"),
                  "store ls text: %s", r.out);
    run_free(&r);
}

static size_t total_bytes(void)
{
    size_t total = 0;
    for (size_t k = 0; k < NT; k++)
        total += T[k].size;
    return total;
}

/* zipc ls / stat: the store as inspect sees it, with its holders. */
static void check_ls_stat(const pid_t *holders, unsigned n)
{
    struct run r = zipc("ls --json", true);
    if (ran_ok(&r, "ls --json")) {
        int i = find_entry(&r, "objects", "name", name);
        char path[96], val[64];
        if (CHECK_MSG(i >= 0, "the store is listed: %s", r.out)) {
            snprintf(path, sizeof(path), "objects/%d/kind", i);
            CHECK(get(&r, path, val, sizeof(val)) && !strcmp(val, "\"store\""));
            CHECK_EQ(get_num(&r, "objects/%d/version", i), 1);
            CHECK_EQ(get_num(&r, "objects/%d/latest", i), 1);
            CHECK_EQ(get_num(&r, "objects/%d/tensors", i), NT);
            CHECK_EQ(get_num(&r, "objects/%d/tensor_bytes", i), total_bytes());
            CHECK_EQ(get_num(&r, "objects/%d/members/holders/#", i), n);
            snprintf(path, sizeof(path), "objects/%d/members/holders", i);
            for (unsigned k = 0; k < n; k++)
                CHECK_MSG(has_num(&r, path, holders[k]), "holder %d listed", (int)holders[k]);
            /* the name's board goes with its store, it is not an object of its own */
            CHECK_EQ(find_entry(&r, "objects", "kind", "store-board"), -1);
        }
    }
    run_free(&r);
    char args[128];
    snprintf(args, sizeof(args), "stat %s --json", name);
    r = zipc(args, true);
    if (ran_ok(&r, "stat --json")) {
        CHECK_EQ(get_num(&r, "objects/#"), 1);
        CHECK_EQ(get_num(&r, "objects/0/version"), 1);
        CHECK_EQ(get_num(&r, "objects/0/metadata"), 2);
        CHECK_EQ(get_num(&r, "objects/0/align"), 64);
    }
    run_free(&r);
    snprintf(args, sizeof(args), "stat %s", name);
    r = zipc(args, false);
    if (exited(&r, 0, "stat"))
        CHECK_MSG(strstr(r.out, "version 1 (newest 1), 6 tensors"), "stat text: %s", r.out);
    run_free(&r);
}

static void verify_with(const char *manifest, int code, const char *want, const char *what)
{
    char args[256];
    snprintf(args, sizeof(args), "store verify %s --manifest %s", name, manifest);
    struct run r = zipc(args, false);
    if (exited(&r, code, what) && want)
        CHECK_MSG(strstr(code == 0 || strstr(r.out, want) ? r.out : r.err, want), "%s: wanted '%s' in out: %s err: %s",
                  what, want, r.out, r.err);
    run_free(&r);
}

static void check_verify(void)
{
    char args[160], m[128];
    snprintf(args, sizeof(args), "store verify %s", name);
    struct run r = zipc(args, false);
    if (exited(&r, 0, "verify"))
        CHECK_MSG(strstr(r.out, "ok: 6 tensors verified"), "%s", r.out);
    run_free(&r);
    snprintf(args, sizeof(args), "store verify %s ids w.f32", name);
    r = zipc(args, false);
    if (exited(&r, 0, "verify two"))
        CHECK_MSG(strstr(r.out, "ok: 2 tensors verified"), "%s", r.out);
    run_free(&r);
    snprintf(args, sizeof(args), "store verify %s ids nope", name);
    r = zipc(args, false);
    if (exited(&r, 1, "verify an unknown tensor"))
        CHECK_MSG(strstr(r.out, "missing: tensor nope"), "%s", r.out);
    run_free(&r);

    /* the round trip: the command's own manifest */
    snprintf(args, sizeof(args), "store manifest %s", name);
    r = zipc(args, true);
    path_in(m, sizeof(m), "m.json");
    if (ran_ok(&r, "manifest")) {
        char want[64];
        CHECK_MSG(get(&r, "__metadata__/zipc.store", want, sizeof(want)) && strstr(want, name), "%s", r.out);
        write_file(m, r.out, strlen(r.out));
        verify_with(m, 0, "ok: 6 tensors verified against the manifest", "own manifest");
    }
    run_free(&r);

    /* manifests the test writes by the documented format */
    const struct tamper none = {-1, -1, -1, -1, false};
    struct {
        struct tamper t;
        const char *want;
    } cases[] = {
        {none, "ok: 6 tensors verified against the manifest"},
        {{-1, -1, -1, IDS, false}, "checksum: tensor ids has xxh3"},
        {{-1, -1, IDS, -1, false}, "dtype: tensor ids is I64, the manifest says F64"},
        {{-1, W, -1, -1, false}, "shape: tensor w.f32 is [2, 3], the manifest says [3, 2]"},
        {{-1, -1, -1, -1, true}, "missing: tensor ghost is in the manifest, not in the store"},
        {{MASK, -1, -1, -1, false}, "extra: tensor mask is in the store, not in the manifest"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char what[32];
        snprintf(what, sizeof(what), "manifest case %zu", c);
        path_in(m, sizeof(m), "t.json");
        write_manifest(m, cases[c].t);
        verify_with(m, c == 0 ? 0 : 1, cases[c].want, what);
    }
}

/* Untrusted manifests: exit 1 and a reason on stderr, never a crash. */
static void check_hostile_manifests(void)
{
    static char deep[20001];
    memset(deep, '[', sizeof(deep) - 1);
    const char *meta = "{\"__metadata__\":{\"zipc.store\":\"x\",\"zipc.version\":\"1\"";
    char buf[8][512];
    snprintf(buf[0], sizeof(buf[0]), "%s},\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", meta);
    snprintf(buf[1], sizeof(buf[1]), "%s,\"xxh3:t\":\"zz23456789abcdef\"},\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", meta);
    snprintf(buf[2], sizeof(buf[2]), "%s,\"evil\":\"\\u001b[2J\"}}", meta);
    snprintf(buf[3], sizeof(buf[3]), "%s,\"xxh3:ghost\":\"0123456789abcdef\"}}", meta);
    snprintf(buf[4], sizeof(buf[4]), "%s},\"t\":{\"dtype\":\"U8\",\"shape\":[99999999999999999999999],\"data_offsets\":[0,2]}}", meta);
    snprintf(buf[5], sizeof(buf[5]), "%s,\"xxh3:a\":\"0123456789abcdef\",\"xxh3:b\":\"0123456789abcdef\"},"
             "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", meta);
    struct {
        const char *json;
        const char *want;
    } cases[] = {
        {"", "header start"},
        {"{", "json"},
        {"[]", "header start"},
        {"null", "header start"},
        {"{\"__metadata__\":{\"zipc.store\":\"x\"}}", "no \"zipc.version\""},
        {"{\"__metadata__\":{\"zipc.version\":\"1\"}}", "no \"zipc.store\""},
        {"{\"__metadata__\":{\"zipc.store\":\"x\",\"zipc.version\":\"01\"}}", "zipc.version"},
        {"{\"__metadata__\":{\"zipc.store\":\"x\",\"zipc.store\":\"y\",\"zipc.version\":\"1\"}}", "duplicate key"},
        {"{\"a\xff\":1}", "utf-8"},
        {deep, "header start"},
        {buf[0], "has no checksum"},
        {buf[1], "not 16 hex digits"},
        {buf[2], "unknown key"},
        {buf[3], "which has no entry"},
        {buf[4], "number"},
        {buf[5], "overlap"},
    };
    char m[128];
    path_in(m, sizeof(m), "h.json");
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char what[32];
        snprintf(what, sizeof(what), "hostile manifest %zu", c);
        write_file(m, cases[c].json, strlen(cases[c].json));
        verify_with(m, 1, cases[c].want, what);
    }
    verify_with(tmp_dir, 1, "not a regular file", "a directory as manifest");
    path_in(m, sizeof(m), "no-such.json");
    verify_with(m, 1, "No such file", "no manifest file");
}

static void check_bad_publish(void)
{
    /* a hole: the header claims 2 bytes of a 4-byte buffer */
    const char hdr[] = "{\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
    uint8_t file[128] = {(uint8_t)(sizeof(hdr) - 1)};
    memcpy(file + 8, hdr, sizeof(hdr) - 1);
    char p[128], args[256];
    path_in(p, sizeof(p), "bad.safetensors");
    write_file(p, file, 8 + sizeof(hdr) - 1 + 4);
    snprintf(args, sizeof(args), "store publish %s-bad %s", name, p);
    struct run r = zipc(args, false);
    if (exited(&r, 1, "publish a bad file"))
        CHECK_MSG(strstr(r.err, "hole:"), "%s", r.err);
    run_free(&r);
    snprintf(args, sizeof(args), "store publish %s-bad %s/none.safetensors", name, tmp_dir);
    r = zipc(args, false);
    exited(&r, 1, "publish a missing file");
    run_free(&r);
}

/* The publisher goes while a keeper holds the store; then the keeper goes. */
static void check_keepers(pid_t pub)
{
    char *argv[] = {"zipc", "store", "hold", name, NULL};
    pid_t hold = start("hold", argv);
    char *line = await_line("hold", hold, "holding");
    if (!line)
        return;
    CHECK_MSG(strstr(line, "version 1: 6 tensors"), "%s", line);
    free(line);
    pid_t both[2] = {pub, hold};
    check_ls_stat(both, 2);
    stop(pub, "publisher");

    char args[128];
    snprintf(args, sizeof(args), "store ls %s --json", name);
    struct run r = zipc(args, true);
    if (ran_ok(&r, "store ls with the publisher gone"))
        CHECK_EQ(get_num(&r, "tensors/#"), NT);
    run_free(&r);
    check_ls_stat(&hold, 1);
    stop(hold, "keeper");

    r = zipc("ls --json", true);
    if (ran_ok(&r, "ls after both"))
        CHECK_EQ(find_entry(&r, "objects", "name", name), -1);
    run_free(&r);
    zipc_store *s = NULL;
    CHECK_ERR(zipc_store_open(&s, name, NULL), -ENOENT);
    snprintf(args, sizeof(args), "store ls %s", name);
    r = zipc(args, false);
    if (exited(&r, 1, "store ls after both"))
        CHECK_MSG(strstr(r.err, "no such store"), "%s", r.err);
    run_free(&r);
}

int main(void)
{
    tu_init("tools_store_cli", 300);
    if (system("python3 -c 'import json' 2>/dev/null") != 0) {
        tu_skip("tools_store_cli", "python3 is needed to check the JSON");
        return tu_finish();
    }
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/zipc-store-cli-XXXXXX");
    if (!CHECK(mkdtemp(tmp_dir)))
        return tu_finish();
    snprintf(name, sizeof(name), "zt-store-%d", (int)getpid());
    write_safetensors();
    check_bad_publish();

    char *argv[] = {"zipc", "store", "publish", name, st_path, "--meta", "k=v=w", NULL};
    pid_t pub = start("pub", argv);
    char *line = await_line("pub", pub, "published");
    if (line) {
        char want[96];
        snprintf(want, sizeof(want), "published %s version 1: 6 tensors", name);
        CHECK_MSG(strstr(line, want) && strstr(line, "GB/s"), "%s", line);
        free(line);
        check_store_ls();
        check_verify();
        check_hostile_manifests();
        check_keepers(pub);
    } else {
        tu_kill_reap(pub);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_dir);
    CHECK_EQ(system(cmd), 0);
    return tu_finish();
}
#endif

/* zipc store publish|hold|ls|verify|manifest: the tensor store from the
 * command line (include/zipc/store.h; docs/DESIGN.md §14).
 *
 * publish and hold are keepers: they hold a handle, and so the store, in
 * the foreground until SIGINT/SIGTERM. A store lives while any holder
 * lives (the publisher's handle or any opened one), so the publishing
 * process may go once a `zipc store hold` or any reader holds it; when the
 * last holder has gone, so has the store (name and memory). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "json.h"
#include "manifest.h"
#include "report.h"
#include "zipc.h"

#define WHY_LEN 512

static void usage(FILE *f)
{
    fprintf(f,
            "usage: zipc store <command> NAME ...\n"
            "\n"
            "  publish NAME FILE.safetensors [--align N] [--meta KEY=VALUE]... [--prefault] [--huge-pages]\n"
            "           publish the file's tensors as the newest version of NAME, then keep\n"
            "           holding it until SIGINT/SIGTERM (one line: version, tensors, bytes, time)\n"
            "  hold NAME [--prefault]\n"
            "           open the newest version of NAME and hold it until SIGINT/SIGTERM\n"
            "  ls NAME [--json]\n"
            "           its version, tensors (name, dtype, shape, bytes, xxh3) and metadata\n"
            "  verify NAME [TENSOR...] [--manifest FILE]\n"
            "           recompute checksums (all tensors, or those named); with a manifest,\n"
            "           also check the store holds exactly its tensors, alike: exit 0 or 1,\n"
            "           a line per mismatch\n"
            "  manifest NAME\n"
            "           write the store's manifest (JSON, a safetensors header) to stdout\n"
            "\n"
            "A store lives while any holder lives: the publisher's process, a `zipc store\n"
            "hold`, or any process that opened it. When the last one has gone, so has the\n"
            "store. --align: 64 (default) .. 2097152, a power of two. --prefault: map every\n"
            "page of the holder's mapping now (MADV_POPULATE_READ). --huge-pages: 2 MiB\n"
            "hugetlb pages if enough reserved ones are free (vm.nr_hugepages), else ordinary\n"
            "pages asking for transparent huge ones (what it got is printed).\n");
}

/* ---- helpers --------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A name for people: control bytes, DEL and backslash escaped (a name from
 * a store or a manifest may be hostile: it must not drive the terminal);
 * UTF-8 is kept. */
static void put_name(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

static void put_shape(FILE *f, const int64_t *shape, unsigned ndim)
{
    fputc('[', f);
    for (unsigned d = 0; d < ndim; d++)
        fprintf(f, "%s%" PRId64, d ? ", " : "", shape[d]);
    fputc(']', f);
}

static int open_store(const char *cmd, const char *name, uint32_t flags, zipc_store **s)
{
    struct zipc_store_options o = {.flags = flags};
    int err = zipc_store_open(s, name, &o);
    if (err)
        fprintf(stderr, "zipc store %s: %s: %s (%s)\n", cmd, name,
                err == -ENOENT ? "no such store (nobody holds it)" : zipc_strerror(err), zipc_err_name(err));
    return err;
}

/* Until SIGINT/SIGTERM (the handler was installed before the handle was
 * made, so a signal during publish or open is not lost). A second at a
 * time: should another thread take the signal, the flag is still seen. */
static void keep(void)
{
    while (zt_sleep(1.0)) {
    }
}

static void prefault(const zipc_store *s)
{
    size_t size;
    const void *base = zipc_store_base(s, &size);
#ifdef MADV_POPULATE_READ
    if (madvise((void *)base, size, MADV_POPULATE_READ) < 0)
        fprintf(stderr, "zipc store: --prefault: %s\n", strerror(errno));
#else
    (void)base;
#endif
}

static uint64_t tensor_bytes(const zipc_store *s)
{
    uint64_t total = 0;
    struct zipc_store_info t;
    for (size_t i = 0; !zipc_store_tensor_at(s, i, &t); i++)
        total += t.size;
    return total;
}

/* ---- publish, hold --------------------------------------------------------------- */

static bool parse_meta(const char *arg, struct zipc_store_kv **meta, size_t *n)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return false;
    struct zipc_store_kv *grown = realloc(*meta, (*n + 1) * sizeof(*grown));
    char *key = strndup(arg, (size_t)(eq - arg));
    if (!grown || !key) {
        free(key);
        if (grown)
            *meta = grown;
        return false;
    }
    *meta = grown;
    grown[(*n)++] = (struct zipc_store_kv){.key = key, .value = eq + 1, .value_len = strlen(eq + 1)};
    return true;
}

static int publish_main(int argc, char **argv)
{
    const char *name = NULL, *path = NULL;
    struct zipc_store_kv *meta = NULL;
    size_t nmeta = 0;
    char why[WHY_LEN] = "";
    struct zipc_store_options o = {.error = why, .error_len = sizeof(why)};
    bool pre = false;
    int rc = 2;
    for (int i = 0; i < argc; i++) {
        char *end;
        if (!strcmp(argv[i], "--align") && i + 1 < argc) {
            errno = 0;
            o.align = strtoull(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end) {
                fprintf(stderr, "zipc store publish: --align takes a number of bytes\n");
                goto out;
            }
        } else if (!strcmp(argv[i], "--meta") && i + 1 < argc) {
            if (!parse_meta(argv[++i], &meta, &nmeta)) {
                fprintf(stderr, "zipc store publish: --meta takes KEY=VALUE (a non-empty key)\n");
                goto out;
            }
        } else if (!strcmp(argv[i], "--prefault")) {
            pre = true;
        } else if (!strcmp(argv[i], "--huge-pages")) {
            o.flags |= ZIPC_STORE_HUGE_PAGES;
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "zipc store publish: unknown argument '%s'\n", argv[i]);
            goto out;
        }
    }
    if (!name || !path) {
        usage(stderr);
        goto out;
    }
    o.metadata = meta;
    o.nmeta = nmeta;
    zt_catch_stop();
    zipc_store *s = NULL;
    double t0 = now_s();
    int err = zipc_store_publish_safetensors(&s, name, path, &o);
    double took = now_s() - t0;
    rc = 1;
    if (err) { /* the file's broken rule, else a system error (the file, or the arguments) */
        fprintf(stderr, "zipc store publish: %s: %s (%s)%s\n", path, why[0] ? why : strerror(-err), zipc_err_name(err),
                err == -EINVAL ? ": a bad name (no '/'), --align (a power of two, 64 .. 2097152) or --meta key?" : "");
        goto out;
    }
    uint64_t bytes = tensor_bytes(s);
    char b[16];
    char pg[16];
    printf("published %s version %" PRIu64 ": %d tensors, %s (%" PRIu64 " bytes) in %.3f s, %.2f GB/s "
           "(read, copy and hash), %s pages; holding it (pid %d) until SIGINT/SIGTERM\n",
           name, zipc_store_version(s), zipc_store_count(s), zt_bytes(bytes, b), bytes, took,
           took > 0 ? (double)bytes / took / 1e9 : 0.0, zt_bytes(zipc_store_page_size(s), pg), (int)getpid());
    fflush(stdout);
    if (pre)
        prefault(s);
    keep();
    zipc_store_close(s);
    rc = 0;
out:
    for (size_t k = 0; k < nmeta; k++)
        free((char *)meta[k].key);
    free(meta);
    return rc;
}

static int hold_main(int argc, char **argv)
{
    const char *name = NULL;
    uint32_t flags = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--prefault")) {
            flags |= ZIPC_STORE_PREFAULT;
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            fprintf(stderr, "zipc store hold: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!name) {
        usage(stderr);
        return 2;
    }
    zt_catch_stop();
    zipc_store *s = NULL;
    if (open_store("hold", name, flags, &s))
        return 1;
    char b[16];
    printf("holding %s version %" PRIu64 ": %d tensors, %s (pid %d) until SIGINT/SIGTERM\n", name,
           zipc_store_version(s), zipc_store_count(s), zt_bytes(tensor_bytes(s), b), (int)getpid());
    fflush(stdout);
    keep();
    zipc_store_close(s);
    return 0;
}

/* ---- ls, manifest ------------------------------------------------------------------ */

static void ls_json(const zipc_store *s, const char *name)
{
    struct json j;
    char hex[24];
    json_init(&j, stdout);
    json_open(&j, NULL, '{');
    json_str(&j, "name", name);
    json_u64(&j, "version", zipc_store_version(s));
    json_u64(&j, "latest", zipc_store_latest(s));
    json_u64(&j, "bytes", tensor_bytes(s));
    json_open(&j, "tensors", '[');
    struct zipc_store_info t;
    for (size_t i = 0; !zipc_store_tensor_at(s, i, &t); i++) {
        json_open(&j, NULL, '{');
        json_str(&j, "name", t.name);
        json_str(&j, "dtype", zipc_store_dtype_name(t.dtype));
        json_open(&j, "shape", '[');
        for (uint32_t d = 0; d < t.ndim; d++)
            json_i64(&j, NULL, t.shape[d]);
        json_close(&j, ']');
        json_u64(&j, "bytes", t.size);
        snprintf(hex, sizeof(hex), "%016" PRIx64, t.xxh3);
        json_str(&j, "xxh3", hex);
        json_close(&j, '}');
    }
    json_close(&j, ']');
    json_open(&j, "metadata", '{');
    struct zipc_store_kv kv;
    for (size_t i = 0; !zipc_store_metadata_at(s, i, &kv); i++)
        json_strn(&j, kv.key, kv.value, kv.value_len);
    json_close(&j, '}');
    json_close(&j, '}');
    json_end(&j);
}

static void ls_text(const zipc_store *s, const char *name)
{
    char b[16];
    printf("store %s version %" PRIu64 " (newest %" PRIu64 "): %d tensors, %s\n", name, zipc_store_version(s),
           zipc_store_latest(s), zipc_store_count(s), zt_bytes(tensor_bytes(s), b));
    printf("  %-16s  %-7s %14s  %s\n", "XXH3", "DTYPE", "BYTES", "NAME SHAPE");
    struct zipc_store_info t;
    for (size_t i = 0; !zipc_store_tensor_at(s, i, &t); i++) {
        printf("  %016" PRIx64 "  %-7s %14" PRIu64 "  ", t.xxh3, zipc_store_dtype_name(t.dtype), t.size);
        put_name(stdout, t.name, t.name_len);
        fputc(' ', stdout);
        put_shape(stdout, t.shape, t.ndim);
        fputc('\n', stdout);
    }
    struct zipc_store_kv kv;
    for (size_t i = 0; !zipc_store_metadata_at(s, i, &kv); i++) {
        printf("%s", i ? "  " : "metadata:\n  ");
        put_name(stdout, kv.key, strlen(kv.key));
        printf(" = ");
        put_name(stdout, kv.value, kv.value_len);
        fputc('\n', stdout);
    }
}

/* ls NAME [--json] and manifest NAME: one name, a look, no change. */
static int look_main(const char *cmd, int argc, char **argv)
{
    const char *name = NULL;
    bool as_json = false, manifest = !strcmp(cmd, "manifest");
    for (int i = 0; i < argc; i++) {
        if (!manifest && !strcmp(argv[i], "--json")) {
            as_json = true;
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            fprintf(stderr, "zipc store %s: unknown argument '%s'\n", cmd, argv[i]);
            return 2;
        }
    }
    if (!name) {
        usage(stderr);
        return 2;
    }
    zipc_store *s = NULL;
    if (open_store(cmd, name, 0, &s))
        return 1;
    if (manifest)
        zt_manifest_write(stdout, s, name);
    else if (as_json)
        ls_json(s, name);
    else
        ls_text(s, name);
    zipc_store_close(s);
    return fflush(stdout) ? 1 : 0;
}

/* ---- verify ----------------------------------------------------------------------------- */

/* A line about one tensor: "<what>: tensor NAME<rest>". */
static void report(const char *what, const char *name, size_t len, const char *rest)
{
    printf("%s: tensor ", what);
    put_name(stdout, name, len);
    printf("%s\n", rest);
}

/* Does tensor i's data still hash to its recorded checksum? */
static bool data_ok(const zipc_store *s, const struct zipc_store_info *t)
{
    int err = zipc_store_verify(s, t->index);
    if (err == -EBADMSG)
        report("data", t->name, t->name_len, ": its bytes do not hash to its recorded xxh3");
    else if (err)
        report("error", t->name, t->name_len, ": cannot be verified");
    return err == 0;
}

/* Tensor t of the store against the manifest's entry k. */
static bool matches(const struct zipc_store_info *t, const struct zt_manifest *m, size_t k)
{
    const struct zipc__st_tensor *e = &m->file.tensors[k];
    char rest[160];
    bool ok = true;
    if (t->dtype != (uint32_t)e->dtype) {
        snprintf(rest, sizeof(rest), " is %s, the manifest says %s", zipc_store_dtype_name(t->dtype),
                 zipc_store_dtype_name(e->dtype));
        report("dtype", t->name, t->name_len, rest);
        ok = false;
    }
    if (t->ndim != e->ndim || memcmp(t->shape, e->shape, t->ndim * sizeof(t->shape[0]))) {
        printf("shape: tensor ");
        put_name(stdout, t->name, t->name_len);
        printf(" is ");
        put_shape(stdout, t->shape, t->ndim);
        printf(", the manifest says ");
        put_shape(stdout, e->shape, e->ndim);
        printf("\n");
        ok = false;
    }
    if (t->size != e->nbytes) {
        snprintf(rest, sizeof(rest), " has %" PRIu64 " bytes, the manifest says %" PRIu64, t->size, e->nbytes);
        report("size", t->name, t->name_len, rest);
        ok = false;
    }
    if (t->xxh3 != m->xxh3[k]) {
        snprintf(rest, sizeof(rest), " has xxh3 %016" PRIx64 ", the manifest says %016" PRIx64, t->xxh3, m->xxh3[k]);
        report("checksum", t->name, t->name_len, rest);
        ok = false;
    }
    return ok;
}

static int read_manifest(const char *path, struct zt_manifest *m)
{
    char why[WHY_LEN] = "";
    int err = 0;
    uint8_t *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        err = -errno;
        snprintf(why, sizeof(why), "%s", strerror(errno));
    } else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > ZIPC__ST_MAX_HEADER) {
        err = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
        snprintf(why, sizeof(why), S_ISREG(st.st_mode) ? "larger than a manifest may be" : "not a regular file");
    } else if (!(buf = malloc((size_t)st.st_size + 1))) {
        err = -ENOMEM;
    } else {
        size_t got = 0;
        for (ssize_t n; got < (size_t)st.st_size && (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0;)
            got += (size_t)n;
        /* trailing newlines and spaces end the document; the reader allows spaces only */
        while (got && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
            got--;
        err = zt_manifest_parse(buf, got, m, why, sizeof(why));
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    if (err)
        fprintf(stderr, "zipc store verify: manifest %s: %s\n", path, why[0] ? why : zipc_strerror(err));
    return err;
}

/* Every store tensor asked for (all: names NULL) against its table and the manifest. */
static int verify_store(const zipc_store *s, char **names, int nnames, const struct zt_manifest *m)
{
    unsigned bad = 0, checked = 0;
    struct zipc_store_info t;
    bool all_ok = nnames == 0 && zipc_store_verify(s, ZIPC_STORE_ALL) == 0; /* in parallel: the usual case */
    for (int k = 0; k < nnames; k++) {
        if (zipc_store_find(s, names[k], &t)) {
            report("missing", names[k], strlen(names[k]), " is not in the store");
            bad++;
        }
    }
    for (size_t i = 0; !zipc_store_tensor_at(s, i, &t); i++) {
        bool asked = nnames == 0;
        for (int k = 0; k < nnames && !asked; k++)
            asked = !strcmp(names[k], t.name);
        if (!asked)
            continue;
        checked++;
        bool ok = all_ok || data_ok(s, &t);
        if (m) {
            const struct zipc__st_tensor *e = zipc__st_find(&m->file, t.name, t.name_len);
            if (!e) {
                report("extra", t.name, t.name_len, " is in the store, not in the manifest");
                ok = false;
            } else {
                ok &= matches(&t, m, (size_t)(e - m->file.tensors));
            }
        }
        bad += !ok;
    }
    for (size_t k = 0; m && k < m->file.ntensors; k++) { /* the manifest's tensors the store lacks */
        const struct zipc__st_tensor *e = &m->file.tensors[k];
        bool asked = nnames == 0;
        for (int a = 0; a < nnames && !asked; a++)
            asked = !strcmp(names[a], e->name);
        if (asked && zipc_store_find(s, e->name, &t)) {
            report("missing", e->name, e->name_len, " is in the manifest, not in the store");
            bad++;
        }
    }
    if (bad)
        printf("FAILED: %u problem%s\n", bad, bad == 1 ? "" : "s");
    else
        printf("ok: %u tensor%s verified%s\n", checked, checked == 1 ? "" : "s", m ? " against the manifest" : "");
    return bad ? 1 : 0;
}

static int verify_main(int argc, char **argv)
{
    const char *name = NULL, *manifest = NULL;
    char **names = calloc((size_t)argc + 1, sizeof(*names));
    int nnames = 0, rc = 2;
    if (!names)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--manifest") && i + 1 < argc) {
            manifest = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "zipc store verify: unknown argument '%s'\n", argv[i]);
            goto out;
        } else if (!name) {
            name = argv[i];
        } else {
            names[nnames++] = argv[i];
        }
    }
    if (!name) {
        usage(stderr);
        goto out;
    }
    rc = 1;
    struct zt_manifest m;
    if (manifest && read_manifest(manifest, &m))
        goto out;
    zipc_store *s = NULL;
    if (!open_store("verify", name, 0, &s)) {
        rc = verify_store(s, names, nnames, manifest ? &m : NULL);
        zipc_store_close(s);
    }
    if (manifest)
        zt_manifest_free(&m);
    fflush(stdout);
out:
    free(names);
    return rc;
}

int zipc_store_main(int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const char *cmd = argv[0];
    if (!strcmp(cmd, "publish"))
        return publish_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "hold"))
        return hold_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "ls") || !strcmp(cmd, "manifest"))
        return look_main(cmd, argc - 1, argv + 1);
    if (!strcmp(cmd, "verify"))
        return verify_main(argc - 1, argv + 1);
    fprintf(stderr, "zipc store: unknown command '%s'\nTry 'zipc store --help'.\n", cmd);
    return 2;
}

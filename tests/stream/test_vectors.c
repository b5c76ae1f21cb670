/* stream_vectors: the shared typed vectors (tests/vectors) through a stream.
 *
 * An exec'ed copy of this program writes every <name>.bin as a frame of its
 * type id (vectors.json); this one reads them from the pipe and decodes them
 * as a channel consumer would: the same type and bytes, tensors valid with
 * their data 64-byte aligned, list elements inside the payload. A second
 * copy in `--echo` mode reads frames from stdin and writes them back: what
 * the Python tests put between a Python producer and a Python consumer.
 *
 * Modes (also used by python/tests/test_stream.py):
 *   --write DIR   every vector of DIR as a frame on stdout, in name order
 *   --echo        frames from stdin back to stdout; exit 0 at the clean end,
 *                 3 on a broken stream, 4 on a malformed tensor header
 */
#include "testutil.h"

#include "zipc/stream.h"
#include "zipc/tensor.h"
#include "zipc/types.h"

#define MAX_VECTORS 32
#define MAX_BYTES 4096

struct vector {
    char name[64];
    uint32_t type;
    uint8_t bytes[MAX_BYTES];
    size_t size;
};

static struct vector vecs[MAX_VECTORS];
static int nvecs;

static size_t slurp(const char *path, uint8_t *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(out, 1, cap, f) : 0;
    if (f)
        fclose(f);
    return n;
}

/* vectors.json is written with indent 1 and sorted keys: the "type_id"
 * after the top-level key "name". 0 if missing. */
static uint32_t type_id_of(const char *json, const char *name)
{
    char key[96];
    snprintf(key, sizeof key, "\n \"%s\": {", name);
    const char *at = strstr(json, key);
    const char *id = at ? strstr(at, "\"type_id\": ") : NULL;
    return id ? (uint32_t)strtoul(id + 11, NULL, 10) : 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct vector *)a)->name, ((const struct vector *)b)->name);
}

static bool load_vectors(const char *dir)
{
    static char json[1 << 16];
    char path[512];
    snprintf(path, sizeof path, "%s/vectors.json", dir);
    json[slurp(path, (uint8_t *)json, sizeof json - 1)] = 0;
    DIR *d = opendir(dir);
    if (!d)
        return false;
    for (struct dirent *e; (e = readdir(d)) && nvecs < MAX_VECTORS;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || len >= sizeof vecs[0].name + 4 || strcmp(e->d_name + len - 4, ".bin"))
            continue;
        struct vector *v = &vecs[nvecs++];
        snprintf(v->name, sizeof v->name, "%.*s", (int)(len - 4), e->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        v->size = slurp(path, v->bytes, sizeof v->bytes);
        v->type = type_id_of(json, v->name);
    }
    closedir(d);
    qsort(vecs, (size_t)nvecs, sizeof vecs[0], by_name);
    return nvecs > 0;
}

/* ---- decoding as a consumer would --------------------------------------------- */

static bool tensor_ok(const void *data, uint64_t size)
{
    struct zipc_tensor_header h;
    if (size < sizeof h)
        return false;
    memcpy(&h, data, sizeof h);
    return zipc_tensor_validate(&h, size) == 0 && ((uintptr_t)data + h.data_offset) % 64 == 0;
}

static bool list_ok(const uint8_t *data, uint64_t size)
{
    struct zipc_list_header h;
    if (size < sizeof h)
        return false;
    memcpy(&h, data, sizeof h);
    if (h.count > (size - sizeof h) / sizeof(struct zipc_list_entry))
        return false;
    for (uint32_t i = 0; i < h.count; i++) {
        struct zipc_list_entry e;
        memcpy(&e, data + sizeof h + i * sizeof e, sizeof e);
        if (e.offset % ZIPC_LIST_ALIGN || e.offset > size || e.size > size - e.offset)
            return false;
        if (e.type == ZIPC_TYPE_TENSOR && !tensor_ok(data + e.offset, e.size))
            return false;
    }
    return true;
}

static void check_vectors_from(int fd)
{
    zipc_stream_reader *r;
    CHECK_OK(zipc_stream_reader_open(&r, fd, 0));
    struct zipc_stream_frame f;
    for (int i = 0; i < nvecs; i++) {
        const struct vector *v = &vecs[i];
        if (!CHECK_OK(zipc_stream_read(r, &f)))
            break;
        CHECK_MSG(f.type == v->type && v->type != 0, "%s: type %#x, want %#x", v->name, f.type, v->type);
        CHECK_MSG(f.size == v->size && memcmp(f.data, v->bytes, v->size) == 0, "%s: other bytes", v->name);
        if (f.type == ZIPC_TYPE_TENSOR)
            CHECK_MSG(tensor_ok(f.data, f.size), "%s: tensor", v->name);
        if (f.type == ZIPC_TYPE_LIST)
            CHECK_MSG(list_ok(f.data, f.size), "%s: list", v->name);
    }
    CHECK_ERR(zipc_stream_read(r, &f), -EPIPE);
    zipc_stream_reader_close(r);
}

static int write_vectors(int fd)
{
    for (int i = 0; i < nvecs; i++) {
        int err = zipc_stream_write(fd, vecs[i].type, vecs[i].bytes, vecs[i].size);
        if (err)
            return err;
    }
    return 0;
}

static int echo(void)
{
    zipc_stream_reader *r;
    struct zipc_stream_frame f;
    int err = zipc_stream_reader_open(&r, STDIN_FILENO, 0);
    while (!err && !(err = zipc_stream_read(r, &f))) {
        if (f.type == ZIPC_TYPE_TENSOR && !tensor_ok(f.data, f.size))
            return 4;
        err = zipc_stream_write(STDOUT_FILENO, f.type, f.data, (size_t)f.size);
    }
    zipc_stream_reader_close(r);
    if (err != -EPIPE)
        fprintf(stderr, "stream_vectors --echo: %s\n", zipc_strerror(err));
    return err == -EPIPE ? 0 : 3;
}

static pid_t exec_self(const char *mode, const char *dir, int in, int out)
{
    pid_t pid = tu_fork();
    if (pid == 0) {
        dup2(in, STDIN_FILENO);
        dup2(out, STDOUT_FILENO);
        execl("/proc/self/exe", "stream_vectors", mode, dir, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--echo"))
        return echo();
    if (argc == 3 && !strcmp(argv[1], "--write"))
        return load_vectors(argv[2]) && !write_vectors(STDOUT_FILENO) ? 0 : 1;
    tu_init("stream_vectors", 120);
    char dir[512]; /* this file is tests/stream/test_vectors.c */
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strstr(dir, "/stream/test_vectors.c");
    if (!slash || !(strcpy(slash, "/vectors"), load_vectors(dir))) {
        tu_skip("vectors", "tests/vectors not found next to this source");
        return tu_finish();
    }
    printf("  %d vectors in %s\n", nvecs, dir);

    int p[2], q[2];
    CHECK_OK(pipe2(p, O_CLOEXEC));
    pid_t writer = exec_self("--write", dir, STDIN_FILENO, p[1]);
    close(p[1]);
    check_vectors_from(p[0]);
    close(p[0]);
    CHECK_CHILD(writer, 30000);

    /* through the echo: our frames, re-framed by another process */
    CHECK_OK(pipe2(p, O_CLOEXEC));
    CHECK_OK(pipe2(q, O_CLOEXEC));
    pid_t echoer = exec_self("--echo", dir, p[0], q[1]);
    close(p[0]);
    close(q[1]);
    CHECK_OK(write_vectors(p[1])); /* a few KiB: fits in the pipes */
    close(p[1]);
    check_vectors_from(q[0]);
    close(q[0]);
    CHECK_CHILD(echoer, 30000);
    return tu_finish();
}

/* Tensor store: publish and open in separate processes (fork + exec), every
 * byte equal; writes fault, mprotect fails; verify; a safetensors file;
 * versions; a SIGKILLed publisher; 16 readers share one copy (Pss).
 * The same binary is each child: argv[1] names its part.
 * ctest-labels: threads (each handle serves its door from a helper thread) */
#include "testutil.h"

#include "safetensors.h"
#include "store.h" /* src/store.h: zipc__store_adopt, the hostile segments' entry */

#define NT 9 /* tensors of the generated stores */

/* ---- generated stores: content derived from (seed, version) ---------- */

struct gen {
    struct zipc_store_tensor t[NT];
    void *buf[NT];
};

static void gen_make(struct gen *g, uint64_t seed, uint64_t version)
{
    static const struct {
        const char *name;
        uint32_t dtype, ndim;
        int64_t shape[3];
    } spec[NT] = {
        {"layer.0.weight", ZIPC_STORE_F32, 2, {3, 4}},
        {"layer.0.bias", ZIPC_STORE_F32, 1, {4}},
        {"embed", ZIPC_STORE_BF16, 2, {100, 33}},
        {"scalar", ZIPC_STORE_I64, 0, {0}},
        {"empty", ZIPC_STORE_F16, 3, {2, 0, 3}},
        {"packed.f4", ZIPC_STORE_F4, 2, {7, 2}},
        {"mask", ZIPC_STORE_BOOL, 1, {9}},
        {"big", ZIPC_STORE_F64, 2, {1000, 10}},
        {"\xce\xbb.unicode", ZIPC_STORE_U8, 1, {5}},
    };
    for (int i = 0; i < NT; i++) {
        struct zipc_store_tensor *t = &g->t[i];
        *t = (struct zipc_store_tensor){.name = spec[i].name, .dtype = spec[i].dtype, .ndim = spec[i].ndim};
        uint64_t count = 1;
        for (unsigned d = 0; d < t->ndim; d++)
            count *= (uint64_t)(t->shape[d] = spec[i].shape[d]);
        t->size = count * zipc_store_dtype_bits(t->dtype) / 8;
        g->buf[i] = malloc(t->size + 1);
        uint64_t st = tu_mix(seed ^ version << 32 ^ (uint64_t)i);
        for (uint64_t b = 0; b < t->size; b++)
            ((uint8_t *)g->buf[i])[b] = (uint8_t)tu_rand(&st);
        t->data = t->size ? g->buf[i] : NULL;
    }
}

static void gen_free(struct gen *g)
{
    for (int i = 0; i < NT; i++)
        free(g->buf[i]);
}

static const struct zipc_store_kv meta[] = {{"format", "pt", 2}, {"author", "zipc", 4}};

static struct zipc_store_options opts(void)
{
    struct zipc_store_options o = {.metadata = meta, .nmeta = 2};
    o.options.timeout_ns = 10000 * TU_MS;
    return o;
}

/* Every tensor of s equals the generated (seed, version) store's. */
static bool check_content(const zipc_store *s, uint64_t seed, uint64_t version)
{
    struct gen g;
    gen_make(&g, seed, version);
    bool ok = CHECK_EQ(zipc_store_count(s), NT) && CHECK_EQ(zipc_store_version(s), version);
    for (int i = 0; ok && i < NT; i++) {
        struct zipc_store_info info;
        ok = CHECK_OK(zipc_store_find(s, g.t[i].name, &info)) && CHECK_EQ(info.size, g.t[i].size) &&
             CHECK_EQ(info.dtype, g.t[i].dtype) && CHECK_EQ(info.ndim, g.t[i].ndim) &&
             CHECK((uintptr_t)info.data % 64 == 0) && CHECK(memcmp(info.data, g.buf[i], g.t[i].size) == 0);
        for (unsigned d = 0; ok && d < info.ndim; d++)
            ok = CHECK_EQ(info.shape[d], g.t[i].shape[d]);
        if (ok && info.ndim == 2) /* C order, in elements */
            ok = CHECK_EQ(info.strides[0], info.shape[1]) && CHECK_EQ(info.strides[1], 1);
    }
    struct zipc_store_kv kv;
    ok = ok && CHECK_OK(zipc_store_metadata(s, "format", &kv)) && CHECK(strcmp(kv.value, "pt") == 0) &&
         CHECK_EQ(zipc_store_metadata_count(s), 2) && CHECK_OK(zipc_store_metadata_at(s, 0, &kv)) &&
         CHECK(strcmp(kv.key, "author") == 0) && CHECK_ERR(zipc_store_metadata(s, "nope", &kv), -ENOENT);
    ok = ok && CHECK_OK(zipc_store_verify(s, ZIPC_STORE_ALL));
    gen_free(&g);
    return ok;
}

static int publish_gen(zipc_store **out, const char *name, uint64_t seed, uint64_t version)
{
    struct gen g;
    gen_make(&g, seed, version);
    struct zipc_store_options o = opts();
    int err = zipc_store_publish(out, name, g.t, NT, &o);
    gen_free(&g);
    return err;
}

static void unique_name(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "st-%s-%d-%" PRIx64, tag, (int)getpid(), tu_seed & 0xffffff);
}

/* ---- the children (exec'd: a process of its own, nothing inherited) ---- */

static pid_t spawn(const char *part, const char *name, uint64_t seed, uint64_t version, int ready_fd, int go_fd)
{
    pid_t pid = tu_fork();
    if (pid == 0) {
        if (ready_fd >= 0)
            fcntl(ready_fd, F_SETFD, 0); /* the child's ends only: the pipes are close-on-exec */
        if (go_fd >= 0)
            fcntl(go_fd, F_SETFD, 0);
        char a[4][32];
        snprintf(a[0], 32, "%" PRIu64, seed);
        snprintf(a[1], 32, "%" PRIu64, version);
        snprintf(a[2], 32, "%d", ready_fd);
        snprintf(a[3], 32, "%d", go_fd);
        char *argv[] = {"test_basic", (char *)part, (char *)name, a[0], a[1], a[2], a[3], NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    return pid;
}

/* reader: open, check everything, say ready, hold until go's EOF. */
static int child_reader(const char *name, uint64_t seed, uint64_t version, int ready, int go)
{
    zipc_store *s = NULL;
    struct zipc_store_options o = opts();
    if (CHECK_OK(zipc_store_open(&s, name, &o)))
        check_content(s, seed, version);
    tu_notify(ready);
    char c;
    while (read(go, &c, 1) > 0) {
    }
    zipc_store_close(s);
    return tu_failed_ ? 1 : 0;
}

/* publisher: publish, say ready, hold until go's EOF (or SIGKILL). */
static int child_publisher(const char *name, uint64_t seed, uint64_t version, int ready, int go)
{
    zipc_store *s = NULL;
    CHECK_OK(publish_gen(&s, name, seed, version));
    uint8_t got = (uint8_t)zipc_store_version(s); /* what the name made of it */
    if (write(ready, &got, 1) != 1)
        CHECK(false);
    char c;
    while (read(go, &c, 1) > 0) {
    }
    zipc_store_close(s);
    return tu_failed_ ? 1 : 0;
}

/* writer: a write through the read-only mapping must kill it (SIGSEGV). */
static int child_writer(const char *name)
{
    zipc_store *s = NULL;
    struct zipc_store_info info;
    struct zipc_store_options o = opts();
    if (zipc_store_open(&s, name, &o) || zipc_store_find(s, "big", &info))
        return 2;
    signal(SIGSEGV, SIG_DFL); /* the kernel's verdict, not a sanitizer's report of it */
    ((volatile uint8_t *)info.data)[0] ^= 1;
    return 3; /* the write went through */
}

/* ---- tests ---------------------------------------------------------- */

static void test_publish_open(void)
{
    char name[64];
    unique_name(name, sizeof(name), "po");
    zipc_store *p = NULL, *r = NULL;
    if (!CHECK_OK(publish_gen(&p, name, tu_seed, 1)))
        return;
    CHECK(check_content(p, tu_seed, 1)); /* the publisher's handle reads too */
    struct zipc_store_options o = opts();
    if (CHECK_OK(zipc_store_open(&r, name, &o))) /* in-process, through the door */
        CHECK(check_content(r, tu_seed, 1));
    zipc_store *pf = NULL;
    o.flags = ZIPC_STORE_PREFAULT | ZIPC_STORE_VERIFY;
    if (CHECK_OK(zipc_store_open(&pf, name, &o)))
        CHECK(check_content(pf, tu_seed, 1));
    zipc_store_close(pf);
    o.flags = 1u << 7;
    CHECK_ERR(zipc_store_open(&pf, name, &o), -EINVAL);
    o = opts();
    int rd[2], go[2];
    CHECK_OK(pipe2(rd, O_CLOEXEC));
    CHECK_OK(pipe2(go, O_CLOEXEC));
    pid_t pid = spawn("reader", name, tu_seed, 1, rd[1], go[0]);
    close(rd[1]);
    close(go[0]);
    CHECK(tu_await(rd[0], 20000));
    close(go[1]);
    CHECK_CHILD(pid, 20000);
    close(rd[0]);
    /* errors */
    struct zipc_store_info info;
    CHECK_ERR(zipc_store_find(p, "nope", &info), -ENOENT);
    CHECK_ERR(zipc_store_tensor_at(p, NT, &info), -ENOENT);
    CHECK_ERR(zipc_store_verify(p, NT), -ENOENT);
    zipc_store_close(r);
    CHECK_ERR(zipc_store_open(&r, "st-nobody-serves-this", &o), -ENOENT);
    CHECK(r == NULL);
    zipc_store_close(p);
}

static void test_bad_arguments(void)
{
    struct gen g;
    gen_make(&g, 1, 1);
    zipc_store *s = NULL;
    struct zipc_store_options o = opts();
    struct zipc_store_tensor t[2] = {g.t[0], g.t[0]};
    CHECK_ERR(zipc_store_publish(&s, "st-bad", t, 2, &o), -EINVAL); /* a duplicate name */
    t[1] = g.t[1];
    t[1].size += 1;
    CHECK_ERR(zipc_store_publish(&s, "st-bad", t, 2, &o), -EINVAL); /* size != elements */
    t[1] = g.t[1];
    t[1].dtype = ZIPC_STORE_NDTYPES;
    CHECK_ERR(zipc_store_publish(&s, "st-bad", t, 2, &o), -EINVAL);
    t[1] = g.t[1];
    t[1].name = "bad\xff";
    CHECK_ERR(zipc_store_publish(&s, "st-bad", t, 2, &o), -EINVAL); /* not UTF-8 */
    t[1] = g.t[1];
    t[1].shape[0] = -1;
    CHECK_ERR(zipc_store_publish(&s, "st-bad", t, 2, &o), -EINVAL);
    o.align = 100;
    CHECK_ERR(zipc_store_publish(&s, "st-bad", g.t, NT, &o), -EINVAL);
    o = opts();
    CHECK_ERR(zipc_store_publish(&s, "a/path", g.t, NT, &o), -EINVAL);
    struct zipc_store_kv dup[2] = {{"k", "1", 1}, {"k", "2", 1}};
    o.metadata = dup;
    CHECK_ERR(zipc_store_publish(&s, "st-bad", g.t, NT, &o), -EINVAL);
    o = opts();
    o.options.max_segment = 4096; /* smaller than the table and data: the publisher is bounded too */
    CHECK_ERR(zipc_store_publish(&s, "st-bad", g.t, NT, &o), -EFBIG);
    CHECK(s == NULL);
    gen_free(&g);
}

static void test_alignment(void)
{
    static const uint64_t aligns[] = {4096, 2u << 20};
    for (int a = 0; a < 2; a++) {
        char name[64];
        unique_name(name, sizeof(name), a ? "al2m" : "al4k");
        struct gen g;
        gen_make(&g, tu_seed, 1);
        struct zipc_store_options o = opts();
        o.align = aligns[a];
        zipc_store *s = NULL;
        if (CHECK_OK(zipc_store_publish(&s, name, g.t, NT, &o))) {
            for (int i = 0; i < NT; i++) {
                struct zipc_store_info info;
                CHECK_OK(zipc_store_tensor_at(s, (size_t)i, &info));
                CHECK_MSG((uintptr_t)info.data % aligns[a] == 0, "%s at %p", info.name, info.data);
            }
            CHECK(check_content(s, tu_seed, 1));
        }
        zipc_store_close(s);
        gen_free(&g);
    }
}

static void test_readonly(void)
{
    char name[64];
    unique_name(name, sizeof(name), "ro");
    zipc_store *p = NULL;
    if (!CHECK_OK(publish_gen(&p, name, tu_seed, 1)))
        return;
    pid_t pid = spawn("writer", name, 0, 0, -1, -1);
    int st = tu_wait(pid, 20000);
    CHECK_MSG(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "the writer: status %#x", st);
    size_t size;
    const void *base = zipc_store_base(p, &size);
    errno = 0;
    CHECK_MSG(mprotect((void *)base, size, PROT_READ | PROT_WRITE) < 0 && errno == EACCES,
              "mprotect(PROT_WRITE) on the publisher's own mapping: errno %d", errno);
    CHECK_OK(zipc_store_verify(p, ZIPC_STORE_ALL));
    zipc_store_close(p);
}

/* /proc/meminfo's `key` (e.g. "HugePages_Free:"), or -1. */
static long meminfo(const char *key)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, key, strlen(key)) == 0)
            v = strtol(line + strlen(key), NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static long read_long(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f && fscanf(f, "%ld", &v) != 1)
        v = -1;
    if (f)
        fclose(f);
    return v;
}

static bool write_long(const char *path, long v)
{
    FILE *f = fopen(path, "w");
    bool ok = f && fprintf(f, "%ld\n", v) > 0;
    return f ? fclose(f) == 0 && ok : false;
}

/* ZIPC_STORE_HUGE_PAGES: 2 MiB hugetlb pages when free reserved ones exist
 * (as root the test reserves some, and gives them back), else ordinary
 * pages; the same bytes, seals and read-only mapping either way. */
static void huge_pages_case(bool reserved)
{
    char name[64];
    unique_name(name, sizeof(name), reserved ? "huge" : "nohuge");
    const uint64_t bytes = 6u << 20;
    uint8_t *data = malloc(bytes);
    for (uint64_t i = 0; i < bytes; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 20));
    struct zipc_store_tensor t = {.name = "big", .dtype = ZIPC_STORE_U8, .ndim = 1, .shape = {(int64_t)bytes},
                                  .data = data, .size = bytes};
    struct zipc_store_options o = opts();
    o.flags = ZIPC_STORE_HUGE_PAGES;
    zipc_store *p = NULL, *r = NULL;
    long free_before = meminfo("HugePages_Free:");
    if (!CHECK_OK(zipc_store_publish(&p, name, &t, 1, &o))) {
        free(data);
        return;
    }
    size_t want = reserved ? 2u << 20 : (size_t)sysconf(_SC_PAGESIZE);
    CHECK_EQ(zipc_store_page_size(p), want);
    if (reserved)
        CHECK_MSG(meminfo("HugePages_Free:") <= free_before - 4, "4 huge pages taken (%ld free before, %ld now)",
                  free_before, meminfo("HugePages_Free:"));
    struct zipc_store_options ro = opts();
    if (CHECK_OK(zipc_store_open(&r, name, &ro))) {
        struct zipc_store_info info;
        CHECK_EQ(zipc_store_page_size(r), want);
        if (CHECK_OK(zipc_store_find(r, "big", &info)))
            CHECK(info.size == bytes && memcmp(info.data, data, bytes) == 0);
        CHECK_OK(zipc_store_verify(r, ZIPC_STORE_ALL));
    }
    pid_t pid = spawn("writer", name, 0, 0, -1, -1); /* sealed and read-only, huge or not */
    int st = tu_wait(pid, 20000);
    CHECK_MSG(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "the writer: status %#x", st);
    zipc_store_close(r);
    zipc_store_close(p);
    free(data);
}

static void test_huge_pages(void)
{
    const char *nr = "/proc/sys/vm/nr_hugepages";
    long free_pages = meminfo("HugePages_Free:"), old = read_long(nr);
    if (free_pages >= 0 && free_pages < 4 && old >= 0 && geteuid() == 0) {
        /* root: reserve 4 more for the test (given back below) */
        if (!write_long(nr, old + 4) || (free_pages = meminfo("HugePages_Free:")) < 4)
            printf("  could not reserve huge pages (%s): ordinary pages only\n", nr);
    }
    if (free_pages >= 4)
        huge_pages_case(true);
    else
        printf("  no free hugetlb pages (%s, needs root): the hugetlb case is not run\n", nr);
    if (old >= 0 && read_long(nr) != old && !write_long(nr, old))
        printf("  could not give the huge pages back (%s was %ld)\n", nr, old);
    /* with none free: ordinary pages, the request never an error */
    if (meminfo("HugePages_Free:") < 4)
        huge_pages_case(false);
}

static const char *data_path(const char *file)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s", __FILE__);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof(path) - (size_t)(slash ? slash + 1 - path : 0), "../core/data/%s",
             file);
    return path;
}

static void test_safetensors(void)
{
    const char *path = data_path("numpy_small.safetensors");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tu_skip("safetensors", "tests/core/data/numpy_small.safetensors not found next to the source");
        return;
    }
    struct stat sb;
    fstat(fd, &sb);
    uint8_t *file = malloc((size_t)sb.st_size);
    CHECK_EQ(read(fd, file, (size_t)sb.st_size), sb.st_size);
    close(fd);
    struct zipc__st_file f;
    char why[ZIPC__ST_WHY_LEN];
    CHECK_OK(zipc__st_parse(file, (size_t)sb.st_size, &f, why, sizeof(why)));
    char name[64];
    unique_name(name, sizeof(name), "stf");
    zipc_store *p = NULL, *r = NULL;
    struct zipc_store_options o = opts();
    o.nmeta = 0;
    if (CHECK_OK(zipc_store_publish_safetensors(&p, name, path, &o)) && CHECK_OK(zipc_store_open(&r, name, &o))) {
        CHECK_EQ(zipc_store_count(r), f.ntensors);
        for (size_t i = 0; i < f.ntensors; i++) {
            struct zipc_store_info info;
            const struct zipc__st_tensor *t = &f.tensors[i];
            if (!CHECK_OK(zipc_store_find(r, t->name, &info)))
                continue;
            CHECK_EQ(info.dtype, t->dtype);
            CHECK_EQ(info.ndim, t->ndim);
            CHECK_EQ(info.size, t->nbytes);
            CHECK(memcmp(info.data, file + t->offset, t->nbytes) == 0);
        }
        CHECK_EQ(zipc_store_metadata_count(r), f.nmeta);
        for (size_t i = 0; i < f.nmeta; i++) {
            struct zipc_store_kv kv;
            CHECK(zipc_store_metadata(r, f.meta[i].key, &kv) == 0 && kv.value_len == f.meta[i].value_len &&
                  memcmp(kv.value, f.meta[i].value, kv.value_len) == 0);
        }
        CHECK_OK(zipc_store_verify(r, ZIPC_STORE_ALL));
    }
    zipc_store_close(r);
    zipc_store_close(p);
    zipc__st_free(&f);
    /* a broken file: -EBADMSG and the rule it breaks */
    char tmp[] = "/tmp/zipc-st-XXXXXX";
    int t = mkstemp(tmp);
    uint64_t n = 8;
    const char hdr[] = "{\"a\":{}}";
    CHECK(write(t, &n, 8) == 8 && write(t, hdr, 8) == 8);
    close(t);
    char err[256] = "";
    o.error = err;
    o.error_len = sizeof(err);
    CHECK_ERR(zipc_store_publish_safetensors(&p, name, tmp, &o), -EBADMSG);
    CHECK_MSG(strstr(err, tmp) != NULL && strlen(err) > strlen(tmp) + 4, "message: '%s'", err);
    unlink(tmp);
    free(file);
}

/* ---- hostile segments: a copy of a real version, one field changed ---- */

static int sealed_copy(const void *base, size_t size)
{
    int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0 || pwrite(fd, base, size, 0) != (ssize_t)size ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        return -1;
    return fd;
}

static int board_fd(void)
{
    struct zipc__segment b;
    if (zipc__segment_create(&b, zipc__segment_policy_rw(0), ZIPC_KIND_STORE_BOARD, ZIPC_STORE_BOARD_SIZE,
                             ZIPC_STORE_BODY_OFFSET, sizeof(struct zipc_store_board), "b"))
        return -1;
    int fd = dup(b.fd);
    zipc__segment_close(&b);
    return fd;
}

/* Adopt a corrupted copy: the result (and the handle, if it was taken). */
static int adopt_copy(const uint8_t *img, size_t size, zipc_store **out)
{
    int fds[2] = {sealed_copy(img, size), board_fd()};
    struct zipc__opts o;
    zipc__opts_resolve(NULL, &o);
    o.max_segment = UINT64_C(1) << 40;
    int err = zipc__store_adopt(out, fds, &o);
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return err;
}

#define OFF(type, field) offsetof(type, field)

static void test_hostile(void)
{
    char name[64];
    unique_name(name, sizeof(name), "ho");
    zipc_store *p = NULL, *c = NULL;
    if (!CHECK_OK(publish_gen(&p, name, tu_seed, 1)))
        return;
    size_t size;
    const uint8_t *base = zipc_store_base(p, &size);
    uint8_t *img = malloc(size);
    memcpy(img, base, size);
    if (CHECK_OK(adopt_copy(img, size, &c))) /* the copy as it is */
        CHECK(check_content(c, tu_seed, 1));
    zipc_store_close(c);
    const struct zipc_store_ctl *ctl = (const void *)(base + ZIPC_STORE_BODY_OFFSET);
    uint64_t E = ctl->table_offset, M = ctl->meta_offset, C = ZIPC_STORE_BODY_OFFSET;
    const uint64_t ES = sizeof(struct zipc_store_entry);
    struct {
        const char *what;
        uint64_t at;
        unsigned width;
        uint64_t value;
    } cases[] = {
        {"body offset", OFF(struct zipc_segment_header, body_offset), 8, 256},
        {"magic", C + OFF(struct zipc_store_ctl, magic), 8, 1},
        {"version 0", C + OFF(struct zipc_store_ctl, version), 8, 0},
        {"ntensors + 1", C + OFF(struct zipc_store_ctl, ntensors), 4, NT + 1},
        {"ntensors huge", C + OFF(struct zipc_store_ctl, ntensors), 4, UINT32_MAX},
        {"nmeta huge", C + OFF(struct zipc_store_ctl, nmeta), 4, UINT32_MAX / 2},
        {"align 96", C + OFF(struct zipc_store_ctl, align), 4, 96},
        {"align 0", C + OFF(struct zipc_store_ctl, align), 4, 0},
        {"table offset", C + OFF(struct zipc_store_ctl, table_offset), 8, 320},
        {"strings size huge", C + OFF(struct zipc_store_ctl, strings_size), 8, UINT64_MAX - 100},
        {"data offset", C + OFF(struct zipc_store_ctl, data_offset), 8, ctl->data_offset + 64},
        {"data size", C + OFF(struct zipc_store_ctl, data_size), 8, size},
        {"name offset", E + OFF(struct zipc_store_entry, name_offset), 8, ctl->strings_size},
        {"name offset wraps", E + OFF(struct zipc_store_entry, name_offset), 8, UINT64_MAX - 2},
        {"name len 0", E + OFF(struct zipc_store_entry, name_len), 4, 0},
        {"name unterminated", E + OFF(struct zipc_store_entry, name_len), 4, 2},
        {"dtype", E + OFF(struct zipc_store_entry, dtype), 4, ZIPC_STORE_NDTYPES},
        {"ndim 9", E + OFF(struct zipc_store_entry, ndim), 4, 9},
        {"shape", E + OFF(struct zipc_store_entry, shape), 8, (uint64_t)-5},
        {"shape huge", E + OFF(struct zipc_store_entry, shape), 8, INT64_MAX},
        {"strides", E + OFF(struct zipc_store_entry, strides), 8, 1},
        {"nbytes", E + OFF(struct zipc_store_entry, nbytes), 8, 1},
        {"misaligned data", E + OFF(struct zipc_store_entry, data_offset), 8, ctl->data_offset + 8},
        {"data past the end", ES + E + OFF(struct zipc_store_entry, data_offset), 8, size - 64},
        {"overlap", ES + E + OFF(struct zipc_store_entry, data_offset), 8, ctl->data_offset},
        {"order", ES + E + OFF(struct zipc_store_entry, name_offset), 8, 0},
        {"meta key", M + OFF(struct zipc_store_meta, key_offset), 8, ctl->strings_size - 1},
        {"meta value", M + OFF(struct zipc_store_meta, value_len), 4, UINT32_MAX},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        memcpy(img, base, size);
        memcpy(img + cases[k].at, &cases[k].value, cases[k].width);
        int err = adopt_copy(img, size, &c);
        CHECK_MSG(err == -EBADMSG, "%s: %s", cases[k].what, zipc_err_name(err));
        if (!err)
            zipc_store_close(c);
    }
    /* a name that is not UTF-8; a checksum that lies (open is fine, verify is not) */
    memcpy(img, base, size);
    const struct zipc_store_entry *e0 = (const void *)(base + E);
    img[ctl->strings_offset + e0->name_offset] = 0xff;
    CHECK_ERR(adopt_copy(img, size, &c), -EBADMSG);
    memcpy(img, base, size);
    img[E + OFF(struct zipc_store_entry, xxh3)] ^= 1;
    if (CHECK_OK(adopt_copy(img, size, &c))) {
        CHECK_ERR(zipc_store_verify(c, 0), -EBADMSG);
        CHECK_ERR(zipc_store_verify(c, ZIPC_STORE_ALL), -EBADMSG);
        CHECK_OK(zipc_store_verify(c, 1));
        zipc_store_close(c);
    }
    /* a segment without F_SEAL_WRITE is refused before it is mapped */
    int fds[2] = {memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING), board_fd()};
    CHECK(ftruncate(fds[0], (off_t)size) == 0 && pwrite(fds[0], base, size, 0) == (ssize_t)size &&
          fcntl(fds[0], F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
    struct zipc__opts zo;
    zipc__opts_resolve(NULL, &zo);
    CHECK_ERR(zipc__store_adopt(&c, fds, &zo), -EBADMSG);
    close(fds[0]);
    close(fds[1]);
    /* random single-byte changes: -EBADMSG or a store whose every query holds */
    uint64_t rs = tu_seed;
    long rounds = tu_scaled(3000, 200), accepted = 0;
    for (long k = 0; k < rounds; k++) {
        memcpy(img, base, size);
        uint64_t at = tu_below(&rs, ctl->data_offset + 64);
        img[at] = (uint8_t)tu_rand(&rs);
        int err = adopt_copy(img, size, &c);
        /* -EPROTO: the ABI major's bytes; -EFBIG: the size the header claims */
        if (!CHECK_MSG(err == 0 || err == -EBADMSG || (err == -EPROTO && at >= 8 && at < 10),
                       "byte %" PRIu64 ": %s", at, zipc_err_name(err)))
            break;
        if (err)
            continue;
        accepted++;
        for (int i = 0; i < zipc_store_count(c); i++) {
            struct zipc_store_info info;
            zipc_store_tensor_at(c, (size_t)i, &info);
            if (info.size)
                CHECK_HOT(((const volatile uint8_t *)info.data)[info.size - 1] || 1);
        }
        zipc_store_verify(c, ZIPC_STORE_ALL);
        zipc_store_close(c);
    }
    printf("  hostile: %ld random changes, %ld accepted (padding, checksums, data)\n", rounds, accepted);
    free(img);
    zipc_store_close(p);
}

/* verify(ALL) of a store past 16 MiB runs in threads: same verdicts. */
static void test_parallel_verify(void)
{
    enum { N = 8 };
    const uint64_t each = 4u << 20;
    char name[64], names[N][8];
    unique_name(name, sizeof(name), "pver");
    uint8_t *data = malloc(each * N);
    for (uint64_t i = 0; i < each * N; i++)
        data[i] = (uint8_t)(i * 131 >> 7);
    struct zipc_store_tensor t[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "t%d", i);
        t[i] = (struct zipc_store_tensor){.name = names[i], .dtype = ZIPC_STORE_U8, .ndim = 1,
                                          .shape = {(int64_t)each}, .data = data + i * each, .size = each};
    }
    zipc_store *p = NULL, *c = NULL;
    struct zipc_store_options o = opts();
    o.nmeta = 0;
    if (CHECK_OK(zipc_store_publish(&p, name, t, N, &o))) {
        CHECK_OK(zipc_store_verify(p, ZIPC_STORE_ALL));
        size_t size;
        const uint8_t *base = zipc_store_base(p, &size);
        uint8_t *img = malloc(size);
        memcpy(img, base, size);
        img[ZIPC_STORE_TABLE_OFFSET + 6 * sizeof(struct zipc_store_entry) + offsetof(struct zipc_store_entry, xxh3)] ^= 0x80;
        if (CHECK_OK(adopt_copy(img, size, &c))) {
            CHECK_ERR(zipc_store_verify(c, ZIPC_STORE_ALL), -EBADMSG);
            CHECK_ERR(zipc_store_verify(c, 6), -EBADMSG);
            CHECK_OK(zipc_store_verify(c, 5));
            zipc_store_close(c);
        }
        free(img);
    }
    zipc_store_close(p);
    free(data);
}

/* The queries from many threads at once, while the handle's helper admits
 * openers of this process (the TSan stage runs it). */
struct query_arg {
    const zipc_store *s;
    long rounds;
    int bad;
};

static void *query_thread(void *arg)
{
    struct query_arg *a = arg;
    for (long k = 0; k < a->rounds; k++) {
        struct zipc_store_info info, again;
        size_t i = (size_t)k % NT;
        if (zipc_store_tensor_at(a->s, i, &info) || zipc_store_find(a->s, info.name, &again) ||
            again.data != info.data || zipc_store_verify(a->s, i) || zipc_store_latest(a->s) != 1)
            __atomic_fetch_add(&a->bad, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_threads(void)
{
    char name[64];
    unique_name(name, sizeof(name), "thr");
    zipc_store *p = NULL;
    if (!CHECK_OK(publish_gen(&p, name, tu_seed, 1)))
        return;
    struct query_arg a = {.s = p, .rounds = tu_scaled(2000, 100)};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK_OK(-pthread_create(&t[i], NULL, query_thread, &a));
    struct zipc_store_options o = opts();
    for (int k = 0; k < 10; k++) {
        zipc_store *r = NULL;
        if (CHECK_HOT_OK(zipc_store_open(&r, name, &o)))
            CHECK_HOT(zipc_store_verify(r, ZIPC_STORE_ALL) == 0);
        zipc_store_close(r);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(a.bad, 0);
    zipc_store_close(p);
}

/* ---- versions -------------------------------------------------------- */

static void test_versions(void)
{
    char name[64];
    unique_name(name, sizeof(name), "ver");
    zipc_store *p1 = NULL, *r1 = NULL, *p2 = NULL, *r2 = NULL, *x = NULL;
    struct zipc_store_options o = opts();
    if (!CHECK_OK(publish_gen(&p1, name, tu_seed, 1)) || !CHECK_OK(zipc_store_open(&r1, name, &o)))
        return;
    struct zipc_store_info old;
    CHECK_OK(zipc_store_find(r1, "big", &old));
    CHECK_EQ(zipc_store_latest(r1), 1);
    if (CHECK_OK(publish_gen(&p2, name, tu_seed, 2))) {
        CHECK_EQ(zipc_store_version(p2), 2);
        CHECK_EQ(zipc_store_latest(r1), 2); /* the board tells the old readers */
        if (CHECK_OK(zipc_store_open(&r2, name, &o)))
            CHECK(check_content(r2, tu_seed, 2));
        CHECK(check_content(r1, tu_seed, 1)); /* the old version, unchanged */
        struct zipc_store_info again;
        CHECK(zipc_store_find(r1, "big", &again) == 0 && again.data == old.data);
    }
    /* only holders of the newest serve the name: with them gone, it is gone */
    zipc_store_close(r2);
    zipc_store_close(p2);
    CHECK_ERR(zipc_store_open(&x, name, &o), -ENOENT);
    CHECK(check_content(r1, tu_seed, 1));
    zipc_store_close(r1);
    zipc_store_close(p1);
    /* publishing again starts over at version 1 (nothing remembers the name) */
    if (CHECK_OK(publish_gen(&p1, name, tu_seed, 1)))
        CHECK_EQ(zipc_store_version(p1), 1);
    zipc_store_close(p1);
}

/* Does /proc/net/unix list a socket bound under the store's name? */
static bool name_bound(const char *name)
{
    char want[128], line[512];
    snprintf(want, sizeof(want), "@zipc/%u/%s#", (unsigned)geteuid(), name);
    FILE *f = fopen("/proc/net/unix", "r");
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, want) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* Shmem of /proc/meminfo, in KiB (the whole machine's: other processes
 * move it too, so a check of it is retried). */
static long shmem_kib(void)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "Shmem:", 6) == 0)
            v = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* An old version's memory goes when its last holder (a reader process)
 * exits, not before; a new version was published meanwhile. */
static bool old_version_freed(uint64_t mib)
{
    char name[64];
    unique_name(name, sizeof(name), "free");
    uint64_t bytes = mib << 20;
    uint8_t *data = calloc(1, bytes);
    memset(data, 0x5a, bytes);
    struct zipc_store_tensor t = {.name = "w", .dtype = ZIPC_STORE_U8, .ndim = 1, .shape = {(int64_t)bytes},
                                  .data = data, .size = bytes};
    zipc_store *p1 = NULL, *p2 = NULL;
    struct zipc_store_options o = opts();
    o.nmeta = 0;
    int rd[2], go[2];
    CHECK_OK(pipe2(rd, O_CLOEXEC));
    CHECK_OK(pipe2(go, O_CLOEXEC));
    bool ok = false;
    if (CHECK_OK(zipc_store_publish(&p1, name, &t, 1, &o))) {
        pid_t kid = spawn("toucher", name, 0, 0, rd[1], go[0]);
        close(rd[1]);
        close(go[0]);
        CHECK(tu_await(rd[0], 20000));
        t.size = 0;
        t.shape[0] = 0;
        CHECK_OK(zipc_store_publish(&p2, name, &t, 1, &o)); /* version 2 */
        zipc_store_close(p1);
        long held = shmem_kib();
        close(go[1]);
        CHECK_CHILD(kid, 20000);
        long freed = held - shmem_kib();
        printf("  old version of %" PRIu64 " MiB: Shmem fell by %ld KiB when its last reader exited\n", mib, freed);
        ok = freed > (long)(bytes >> 10) * 3 / 4;
        zipc_store_close(p2);
    } else {
        close(rd[1]);
        close(go[0]);
        close(go[1]);
    }
    close(rd[0]);
    free(data);
    return ok;
}

static void test_old_version_freed(void)
{
    bool ok = false;
    for (int attempt = 0; attempt < 5 && !ok; attempt++)
        ok = old_version_freed((uint64_t)tu_scaled(32, 8));
    CHECK_MSG(ok, "the old version's memory was not given back when its last reader exited");
}

/* Publishers of one name at once take turns: distinct versions, and an
 * open afterwards gets the last one. */
static void test_concurrent_publishers(void)
{
    char name[64];
    unique_name(name, sizeof(name), "conc");
    enum { P = 4 };
    int rd[2], go[2];
    CHECK_OK(pipe2(rd, O_CLOEXEC));
    CHECK_OK(pipe2(go, O_CLOEXEC));
    pid_t kids[P];
    for (int i = 0; i < P; i++)
        kids[i] = spawn("publisher", name, tu_seed, 1, rd[1], go[0]);
    close(rd[1]);
    close(go[0]);
    unsigned seen = 0;
    for (int i = 0; i < P; i++) {
        uint8_t v = 0;
        struct pollfd pf = {.fd = rd[0], .events = POLLIN};
        if (CHECK(poll(&pf, 1, 30000) == 1 && read(rd[0], &v, 1) == 1) && CHECK_RANGE(v, 1, P))
            seen |= 1u << (v - 1);
    }
    CHECK_EQ(seen, (1u << P) - 1); /* 1..P, each once */
    zipc_store *r = NULL;
    struct zipc_store_options o = opts();
    if (CHECK_OK(zipc_store_open(&r, name, &o))) {
        CHECK_EQ(zipc_store_version(r), P);
        CHECK_EQ(zipc_store_latest(r), P);
    }
    zipc_store_close(r);
    close(go[1]);
    for (int i = 0; i < P; i++)
        CHECK_CHILD(kids[i], 20000);
    close(rd[0]);
}

/* ---- a SIGKILLed publisher -------------------------------------------- */

static void test_publisher_killed(void)
{
    char name[64];
    unique_name(name, sizeof(name), "kill");
    int rd[2], go[2];
    CHECK_OK(pipe2(rd, O_CLOEXEC));
    CHECK_OK(pipe2(go, O_CLOEXEC));
    pid_t pub = spawn("publisher", name, tu_seed, 1, rd[1], go[0]);
    close(rd[1]);
    close(go[0]);
    zipc_store *r = NULL, *r2 = NULL;
    struct zipc_store_options o = opts();
    if (!CHECK(tu_await(rd[0], 20000)) || !CHECK_OK(zipc_store_open(&r, name, &o))) {
        tu_kill_reap(pub);
        return;
    }
    tu_kill_reap(pub);
    CHECK(check_content(r, tu_seed, 1)); /* unaffected */
    if (CHECK_OK(zipc_store_open(&r2, name, &o))) /* served by r now */
        CHECK(check_content(r2, tu_seed, 1));
    zipc_store_close(r2);
    zipc_store_close(r);
    CHECK_ERR(zipc_store_open(&r, name, &o), -ENOENT); /* the last holder left */
    CHECK(!name_bound(name)); /* nothing of the name is left */
    close(rd[0]);
    close(go[1]);
}

/* A child forked (no exec) while a handle is open keeps a valid mapping but
 * not the door: once the parent's handle is closed, the name is gone. */
static void test_fork(void)
{
    char name[64];
    unique_name(name, sizeof(name), "fork");
    zipc_store *p = NULL, *x = NULL;
    struct zipc_store_options o = opts();
    if (!CHECK_OK(publish_gen(&p, name, tu_seed, 1)))
        return;
    int go[2], rd[2];
    CHECK_OK(pipe2(go, O_CLOEXEC));
    CHECK_OK(pipe2(rd, O_CLOEXEC));
    pid_t pid = tu_fork();
    if (pid == 0) {
        close(go[1]);
        close(rd[0]);
        tu_notify(rd[1]); /* past fork(): the atfork handlers ran */
        CHECK(tu_await(go[0], 20000));
        struct zipc_store_info info;
        struct gen g;
        gen_make(&g, tu_seed, 1);
        CHECK(zipc_store_find(p, "big", &info) == 0 && memcmp(info.data, g.buf[7], info.size) == 0);
        gen_free(&g);
        zipc_store_close(p); /* its copy: no helper to stop here; the parent's keeps serving */
        tu_notify(rd[1]);
        char c;
        while (read(go[0], &c, 1) > 0) { /* alive until the parent is done */
        }
        tu_child_exit();
    }
    close(go[0]);
    close(rd[1]);
    CHECK(tu_await(rd[0], 20000));
    CHECK(name_bound(name));
    tu_notify(go[1]);
    CHECK(tu_await(rd[0], 20000)); /* the child read through its copy, then closed it */
    if (CHECK_OK(zipc_store_open(&x, name, &o))) /* still served by our helper */
        CHECK(check_content(x, tu_seed, 1));
    zipc_store_close(x);
    zipc_store_close(p);
    CHECK(!name_bound(name)); /* the child lives, but never had the door */
    CHECK_ERR(zipc_store_open(&x, name, &o), -ENOENT);
    close(go[1]);
    close(rd[0]);
    CHECK_CHILD(pid, 20000);
}

/* ---- 16 readers share one copy ---------------------------------------------- */

static long pss_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static void test_shared_memory(void)
{
    char name[64];
    unique_name(name, sizeof(name), "pss");
    uint64_t mib = (uint64_t)tu_scaled(64, 8);
    uint64_t bytes = mib << 20;
    uint8_t *data = malloc(bytes);
    for (uint64_t i = 0; i < bytes; i += 8) {
        uint64_t v = tu_mix(i);
        memcpy(data + i, &v, 8);
    }
    struct zipc_store_tensor t = {.name = "w", .dtype = ZIPC_STORE_U8, .ndim = 1, .shape = {(int64_t)bytes},
                                  .data = data, .size = bytes};
    zipc_store *p = NULL;
    struct zipc_store_options o = opts();
    o.nmeta = 0;
    if (!CHECK_OK(zipc_store_publish(&p, name, &t, 1, &o))) {
        free(data);
        return;
    }
    enum { R = 16 };
    pid_t kids[R];
    int rd[2], go[2];
    CHECK_OK(pipe2(rd, O_CLOEXEC));
    CHECK_OK(pipe2(go, O_CLOEXEC));
    for (int i = 0; i < R; i++)
        kids[i] = spawn("toucher", name, 0, 0, rd[1], go[0]);
    close(rd[1]);
    close(go[0]);
    int ready = 0;
    for (int i = 0; i < R; i++)
        ready += tu_await(rd[0], 60000);
    CHECK_EQ(ready, R);
    long shmem = 0, total = 0;
    for (int i = 0; i < R; i++) {
        shmem += pss_kib(kids[i], "Pss_Shmem");
        total += pss_kib(kids[i], "Pss");
    }
    long one = (long)(bytes >> 10);
    printf("  %d readers of %" PRIu64 " MiB: Pss_Shmem sum %ld KiB (%.2fx one copy), Pss sum %ld KiB\n", R, mib,
           shmem, (double)shmem / (double)one, total);
    /* 17 mappers share the pages: the readers' shares sum to 16/17 of one copy */
    CHECK_RANGE((double)shmem / (double)one, 0.8, 1.1);
    close(go[1]);
    for (int i = 0; i < R; i++)
        CHECK_CHILD(kids[i], 30000);
    close(rd[0]);
    zipc_store_close(p);
    free(data);
}

/* toucher: open, read every byte (verify), say ready, hold. */
static int child_toucher(const char *name, int ready, int go)
{
    zipc_store *s = NULL;
    struct zipc_store_options o = opts();
    if (CHECK_OK(zipc_store_open(&s, name, &o)))
        CHECK_OK(zipc_store_verify(s, ZIPC_STORE_ALL));
    tu_notify(ready);
    char c;
    while (read(go, &c, 1) > 0) {
    }
    zipc_store_close(s);
    return tu_failed_ ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 7) {
        tu_in_child_ = 1;
        uint64_t seed = strtoull(argv[3], NULL, 10), version = strtoull(argv[4], NULL, 10);
        int ready = atoi(argv[5]), go = atoi(argv[6]);
        if (strcmp(argv[1], "reader") == 0)
            return child_reader(argv[2], seed, version, ready, go);
        if (strcmp(argv[1], "publisher") == 0)
            return child_publisher(argv[2], seed, version, ready, go);
        if (strcmp(argv[1], "writer") == 0)
            return child_writer(argv[2]);
        if (strcmp(argv[1], "toucher") == 0)
            return child_toucher(argv[2], ready, go);
        return 126;
    }
    tu_init("store_basic", 300);
    test_publish_open();
    test_bad_arguments();
    test_alignment();
    test_readonly();
    test_huge_pages();
    test_safetensors();
    test_hostile();
    test_parallel_verify();
    test_threads();
    test_versions();
    test_publisher_killed();
    test_concurrent_publishers();
    test_fork();
    test_old_version_freed();
    test_shared_memory();
    return tu_finish();
}

/* Error names and texts for every code of the errno map (and codes outside
 * it), version queries, argument checking of every entry point, and
 * -EOPNOTSUPP for every call of the wrong role. */
#include "testutil.h"

/* The library's errno map, as the header writes it: code, name, text. */
struct mapped {
    int code;
    const char *name, *text;
};
#define XX(code, text) {code, #code, text},
static const struct mapped map[] = {ZIPC_ERRNO_MAP(XX)};
#undef XX
#define NMAP (sizeof(map) / sizeof(map[0]))

static bool in_map(int code)
{
    for (size_t i = 0; i < NMAP; i++)
        if (map[i].code == code)
            return true;
    return false;
}

/* Every code of the map: its name is the macro's own, its text the map's,
 * for -code and code alike; names, texts and codes are all distinct. */
static void test_map(void)
{
    CHECK(NMAP >= 20);
    for (size_t i = 0; i < NMAP; i++) {
        const struct mapped *e = &map[i];
        CHECK_MSG(e->code > 0 && *e->text, "%s: code %d, text \"%s\"", e->name, e->code, e->text);
        CHECK_MSG(strcmp(zipc_err_name(-e->code), e->name) == 0, "zipc_err_name(-%s) = %s", e->name,
                  zipc_err_name(-e->code));
        CHECK_MSG(strcmp(zipc_err_name(e->code), e->name) == 0, "zipc_err_name(%s) = %s", e->name,
                  zipc_err_name(e->code));
        CHECK_MSG(strcmp(zipc_strerror(-e->code), e->text) == 0, "zipc_strerror(-%s) = \"%s\"", e->name,
                  zipc_strerror(-e->code));
        CHECK_MSG(strcmp(zipc_strerror(e->code), e->text) == 0, "text of %s depends on its sign", e->name);
        for (size_t j = 0; j < i; j++) {
            CHECK_MSG(map[j].code != e->code, "%s and %s are the same code", map[j].name, e->name);
            CHECK_MSG(strcmp(map[j].text, e->text) != 0, "%s and %s share the text \"%s\"", map[j].name,
                      e->name, e->text);
        }
    }
}

/* Codes outside the map: 0, a system errno (the C library's name and
 * text), a code nobody defines, and the extremes of int. */
static void test_outside_map(void)
{
    CHECK_MSG(strcmp(zipc_err_name(0), "OK") == 0, "zipc_err_name(0) = %s", zipc_err_name(0));
    CHECK(zipc_strerror(0) && *zipc_strerror(0));
    CHECK(!in_map(EBADF) && !in_map(EDOM));
    CHECK_MSG(strcmp(zipc_err_name(-EBADF), "EBADF") == 0, "zipc_err_name(-EBADF) = %s", zipc_err_name(-EBADF));
    CHECK(strcmp(zipc_err_name(EDOM), "EDOM") == 0);
    CHECK(strcmp(zipc_strerror(-EBADF), strerrordesc_np(EBADF)) == 0);
    CHECK(strcmp(zipc_strerror(EDOM), strerrordesc_np(EDOM)) == 0);
    const int unknown[] = {123456, -123456, 4095, INT32_MAX, -INT32_MAX, INT32_MIN};
    for (size_t k = 0; k < sizeof(unknown) / sizeof(unknown[0]); k++) {
        int u = unknown[k];
        const char *name = zipc_err_name(u), *text = zipc_strerror(u);
        CHECK_MSG(name && strcmp(name, "EUNKNOWN") == 0, "zipc_err_name(%d) = %s", u, name ? name : "NULL");
        CHECK_MSG(text && *text, "zipc_strerror(%d) is empty", u);
        for (size_t i = 0; text && i < NMAP; i++)
            CHECK_MSG(strcmp(text, map[i].text) != 0, "unknown code %d reads as %s", u, map[i].name);
    }
}

static void test_versions(void)
{
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", ZIPC_VERSION_MAJOR, ZIPC_VERSION_MINOR, ZIPC_VERSION_PATCH);
    CHECK_MSG(strcmp(zipc_version(), want) == 0, "zipc_version() = %s, the macros say %s", zipc_version(), want);
    unsigned major, minor, patch;
    char tail;
    CHECK(sscanf(zipc_version(), "%u.%u.%u%c", &major, &minor, &patch, &tail) == 3);
    CHECK(major == ZIPC_VERSION_MAJOR && minor == ZIPC_VERSION_MINOR && patch == ZIPC_VERSION_PATCH);
    CHECK_EQ(zipc_abi_version(), (uint32_t)ZIPC_ABI_MAJOR << 16 | ZIPC_ABI_MINOR);
}

static void test_null_and_bad_args(void)
{
    zipc_channel *ch = (zipc_channel *)1;
    struct zipc_msg m;
    void *buf;
    char path[TU_PATH_MAX];
    tu_path(path, "args");
    CHECK_OK(zipc_channel_close(NULL));
    CHECK(zipc_channel_listen(NULL, path, 4096, NULL) < 0);
    CHECK(zipc_channel_listen(&ch, NULL, 4096, NULL) < 0);
    CHECK(zipc_channel_connect(NULL, path, NULL) < 0);
    CHECK(zipc_channel_connect(&ch, NULL, NULL) < 0);
    CHECK_ERR(zipc_channel_listen(&ch, "", 4096, NULL), -EINVAL);
    CHECK(ch == NULL);
    CHECK_ERR(zipc_channel_listen(&ch, path, ZIPC_MIN_CAPACITY - 1, NULL), -EINVAL);
    CHECK_ERR(zipc_channel_listen(&ch, path, 0, NULL), -EINVAL);
    if (sizeof(size_t) > 4)
        CHECK_ERR(zipc_channel_listen(&ch, path, (size_t)ZIPC_MAX_CAPACITY + 1, NULL), -EINVAL);
    struct zipc_options bad[4];
    memset(bad, 0, sizeof(bad));
    bad[0].role = 3;
    bad[1].flags = 1u << 20;
    bad[2].socket_mode = 01777;
    bad[3].timeout_ns = -2;
    for (int i = 0; i < 4; i++) {
        CHECK_ERR(zipc_channel_listen(&ch, path, 4096, &bad[i]), -EINVAL);
        CHECK_ERR(zipc_channel_connect(&ch, path, &bad[i]), -EINVAL);
    }
    struct stat st;
    CHECK_MSG(lstat(path, &st) < 0, "a refused listen left %s behind", path);
    CHECK(zipc_channel_reserve(NULL, 1, &buf, 0) < 0);
    CHECK(zipc_channel_commit(NULL, 0, 0, 0) < 0);
    CHECK(zipc_channel_abort(NULL) < 0);
    CHECK(zipc_channel_flush(NULL) < 0);
    CHECK(zipc_channel_send(NULL, "x", 1, 0, 0) < 0);
    CHECK(zipc_channel_view(NULL, &m, 0) < 0);
    CHECK(zipc_channel_drain(NULL, &m, 1, 0) < 0);
    CHECK(zipc_channel_release(NULL) < 0);
    CHECK(zipc_channel_recv(NULL, path, 1, NULL, NULL, 0) < 0);
    CHECK(zipc_channel_fd(NULL) < 0);
    CHECK(zipc_channel_get_stats(NULL, NULL) < 0);
    CHECK(zipc_channel_role(NULL) < 0);
    CHECK_EQ(zipc_channel_capacity(NULL), 0);
    CHECK_EQ(zipc_channel_max_message(NULL), 0);
}

/* Every producer call on a consumer, every consumer call on a producer. */
static void wrong_role_calls(zipc_channel *p, zipc_channel *c, const struct zipc_msg *open_view)
{
    void *buf = NULL;
    struct zipc_msg m[2];
    char small[8];
    size_t size = 0;
    uint32_t type = 0;
    CHECK_ERR(zipc_channel_reserve(c, 1, &buf, ZIPC_TRY), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_reserve(c, 1, &buf, ZIPC_FOREVER), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_commit(c, 0, 0, 0), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_commit(c, 0, 0, ZIPC_COMMIT_MORE), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_abort(c), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_flush(c), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_send(c, "x", 1, 0, ZIPC_TRY), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_send(c, "x", 1, 0, ZIPC_FOREVER), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_view(p, &m[0], ZIPC_TRY), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_view(p, &m[0], ZIPC_FOREVER), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_drain(p, m, 2, ZIPC_TRY), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_drain(p, m, 2, ZIPC_FOREVER), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_release(p), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_release_upto(p, open_view), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_release_view(p, open_view), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_release_views(p, open_view, 1), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_recv(p, small, sizeof(small), &size, &type, ZIPC_TRY), -EOPNOTSUPP);
    CHECK_ERR(zipc_channel_recv(p, small, sizeof(small), &size, &type, ZIPC_FOREVER), -EOPNOTSUPP);
}

/* Wrong-role calls return -EOPNOTSUPP whatever state the endpoints are in
 * (idle; a reservation and a view open), never block, and change nothing. */
static void test_wrong_role(void)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, 4096))
        return;
    struct zipc_msg idle, v;
    memset(&idle, 0, sizeof(idle));
    wrong_role_calls(p, c, &idle);
    void *buf;
    CHECK_OK(zipc_channel_send(p, "first", 5, 1, ZIPC_TRY));
    CHECK_OK(zipc_channel_view(c, &v, ZIPC_TRY));
    CHECK_OK(zipc_channel_reserve(p, 6, &buf, ZIPC_TRY));
    memcpy(buf, "second", 6);
    wrong_role_calls(p, c, &v);
    /* both still work, the view and the reservation untouched */
    CHECK(v.size == 5 && v.type == 1 && memcmp(v.data, "first", 5) == 0);
    CHECK_OK(zipc_channel_commit(p, 6, 2, 0));
    CHECK_OK(zipc_channel_release_view(c, &v));
    CHECK_OK(zipc_channel_view(c, &v, ZIPC_TRY));
    CHECK(v.size == 6 && v.type == 2 && memcmp(v.data, "second", 6) == 0);
    CHECK_OK(zipc_channel_release(c));
    CHECK_ERR(zipc_channel_view(c, &v, ZIPC_TRY), -EAGAIN);
    CHECK_EQ(zipc_channel_role(p), ZIPC_ROLE_PRODUCER);
    CHECK_EQ(zipc_channel_role(c), ZIPC_ROLE_CONSUMER);
    zipc_channel_close(p);
    zipc_channel_close(c);
}

/* Calls that do not fit the endpoint's role or state. */
static void test_misuse(void)
{
    zipc_channel *p, *c;
    if (!tu_pair_pc(&p, &c, 4096))
        return;
    struct zipc_msg m;
    struct zipc_channel_stats st;
    void *buf;
    char small[8];
    size_t size = 0;
    uint32_t type = 0;
    /* null outputs, zero max, bad flags */
    CHECK(zipc_channel_reserve(p, 1, NULL, 0) < 0);
    CHECK(zipc_channel_view(c, NULL, 0) < 0);
    CHECK(zipc_channel_drain(c, NULL, 1, 0) < 0);
    CHECK(zipc_channel_drain(c, &m, 0, 0) < 0);
    CHECK(zipc_channel_send(p, NULL, 5, 0, 0) < 0);
    CHECK_OK(zipc_channel_send(p, NULL, 0, 3, 0)); /* an empty message needs no data */
    CHECK_OK(zipc_channel_view(c, &m, 0));
    CHECK(m.size == 0 && m.type == 3);
    CHECK_OK(zipc_channel_release(c));
    CHECK(zipc_channel_get_stats(p, NULL) < 0);
    /* commit/abort without a reservation; a second reservation */
    CHECK_ERR(zipc_channel_commit(p, 0, 0, 0), -EINVAL);
    CHECK_ERR(zipc_channel_abort(p), -EINVAL);
    CHECK_OK(zipc_channel_reserve(p, 16, &buf, 0));
    CHECK_ERR(zipc_channel_reserve(p, 16, &buf, 0), -EALREADY);
    CHECK_ERR(zipc_channel_send(p, "x", 1, 0, 0), -EALREADY);
    CHECK_ERR(zipc_channel_commit(p, 17, 0, 0), -EINVAL); /* more than reserved */
    CHECK_ERR(zipc_channel_commit(p, 16, 0, 0x80), -EINVAL); /* unknown flag */
    memcpy(buf, "0123456789abcdef", 16);
    CHECK_OK(zipc_channel_commit(p, 16, 77, 0));
    CHECK_ERR(zipc_channel_commit(p, 0, 0, 0), -EINVAL); /* already committed */
    /* recv into a too-small buffer keeps the message */
    CHECK_ERR(zipc_channel_recv(c, small, sizeof(small), &size, &type, 0), -EMSGSIZE);
    CHECK_EQ(size, 16);
    char big[32];
    CHECK_OK(zipc_channel_recv(c, big, sizeof(big), &size, &type, 0));
    CHECK(size == 16 && type == 77 && memcmp(big, "0123456789abcdef", 16) == 0);
    /* recv must not release views the caller still holds */
    CHECK_OK(zipc_channel_send(p, "a", 1, 1, 0));
    CHECK_OK(zipc_channel_send(p, "b", 1, 2, 0));
    CHECK_OK(zipc_channel_view(c, &m, 0));
    CHECK_ERR(zipc_channel_recv(c, big, sizeof(big), &size, &type, 0), -EALREADY);
    CHECK(m.size == 1 && ((const char *)m.data)[0] == 'a');
    CHECK_OK(zipc_channel_release(c));
    CHECK_OK(zipc_channel_recv(c, big, sizeof(big), &size, &type, 0));
    CHECK(size == 1 && type == 2 && big[0] == 'b');
    CHECK_OK(zipc_channel_release(c)); /* nothing viewed: a no-op */
    CHECK_OK(zipc_channel_get_stats(c, &st));
    CHECK_EQ(st.messages, 4);
    CHECK_OK(zipc_channel_get_stats(p, &st));
    CHECK_EQ(st.messages, 4);
    zipc_channel_close(p);
    zipc_channel_close(c);
}

int main(void)
{
    tu_init("test_errors", 60);
    test_map();
    test_outside_map();
    test_versions();
    test_null_and_bad_args();
    test_wrong_role();
    test_misuse();
    return tu_finish();
}

/* Error texts, version queries and argument checking of every entry point. */
#include "testutil.h"

/* Every code the header lists, plus the plain ones it names. */
static const int codes[] = {EAGAIN, ETIMEDOUT, EPIPE,      EPROTO,   EBADMSG, EMSGSIZE, EPERM,
                            EADDRINUSE, EINTR, ENOTSOCK, EALREADY, ENOENT,  ECONNREFUSED,
                            EACCES, EINVAL, ENOMEM,     ENAMETOOLONG};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static void test_strerror_distinct(void)
{
    for (size_t i = 0; i < NCODES; i++) {
        const char *s = zipc_strerror(-codes[i]);
        CHECK_MSG(s && *s, "zipc_strerror(-%d) is empty", codes[i]);
        CHECK_MSG(s && strcmp(s, zipc_strerror(codes[i])) == 0, "text of %d depends on its sign", codes[i]);
        for (size_t j = 0; j < i; j++)
            CHECK_MSG(strcmp(zipc_strerror(-codes[j]), s) != 0, "codes %d and %d share the text \"%s\"",
                      codes[i], codes[j], s);
    }
}

static void test_strerror_other(void)
{
    CHECK(zipc_strerror(0) && *zipc_strerror(0));
    CHECK(zipc_strerror(-EBADF) && *zipc_strerror(-EBADF));
    const char *unknown = zipc_strerror(-123456);
    CHECK(unknown && *unknown);
    for (size_t i = 0; i < NCODES; i++)
        CHECK_MSG(strcmp(unknown, zipc_strerror(-codes[i])) != 0, "code %d reads as unknown", codes[i]);
    CHECK(zipc_strerror(INT32_MIN + 1) != NULL);
}

static void test_versions(void)
{
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", ZIPC_VERSION_MAJOR, ZIPC_VERSION_MINOR, ZIPC_VERSION_PATCH);
    CHECK(strcmp(zipc_version(), want) == 0);
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
    /* the wrong role */
    CHECK(zipc_channel_reserve(c, 1, &buf, 0) < 0);
    CHECK(zipc_channel_send(c, "x", 1, 0, 0) < 0);
    CHECK(zipc_channel_flush(c) < 0);
    CHECK(zipc_channel_view(p, &m, 0) < 0);
    CHECK(zipc_channel_drain(p, &m, 1, 0) < 0);
    CHECK(zipc_channel_release(p) < 0);
    CHECK(zipc_channel_recv(p, small, sizeof(small), &size, &type, 0) < 0);
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
    test_strerror_distinct();
    test_strerror_other();
    test_versions();
    test_null_and_bad_args();
    test_misuse();
    return tu_finish();
}

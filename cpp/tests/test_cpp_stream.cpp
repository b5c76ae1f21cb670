/* zipc::stream_writer / zipc::stream_reader: typed frames through a pipe from
 * a forked process (text, POD, tensors, raw bytes), the clean end, a broken
 * stream, and the tests/vectors payloads byte for byte. */
#include "testing.hpp"

#include <fcntl.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace {

struct pipe_fds {
    int r = -1, w = -1;
    pipe_fds()
    {
        int p[2];
        if (pipe2(p, O_CLOEXEC) == 0)
            r = p[0], w = p[1];
    }
    ~pipe_fds()
    {
        if (r >= 0)
            close(r);
        if (w >= 0)
            close(w);
    }
};

/* Run f(writer) in a child process writing to the pipe; the parent keeps the read end. */
template <class F> pid_t produce_in_child(pipe_fds &p, F f)
{
    pid_t pid = fork();
    if (pid == 0) {
        close(p.r);
        int rc = 0;
        try {
            zipc::stream_writer w(p.w);
            f(w);
        } catch (...) {
            rc = 1;
        }
        _exit(rc);
    }
    close(p.w);
    p.w = -1;
    return pid;
}

int reap(pid_t pid)
{
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

} // namespace

TEST(Stream, ObjectsCrossAPipeFromAnotherProcess)
{
    pipe_fds p;
    ASSERT_TRUE(p.r >= 0);
    std::vector<float> big(300000);
    for (std::size_t i = 0; i < big.size(); i++)
        big[i] = static_cast<float>(i) * 0.5f;
    pid_t pid = produce_in_child(p, [&](zipc::stream_writer &w) {
        w.write_text("zéro-copie ✓");
        w.write_pod(zt::tick{42, 1700000000123456789, 101.25, 3.5f, 1}, zt::tick_type);
        const std::vector<std::int64_t> shape = {600, 500};
        w.write_tensor(big.data(), shape);
        w.write(zipc::type_id::bytes, zipc::const_bytes());
    });
    zipc::stream_reader r(p.r);
    auto text = r.read();
    ASSERT_TRUE(text);
    EXPECT_EQ(text->type(), zipc::type_id::str);
    EXPECT_TRUE(text->text() == "zéro-copie ✓");
    auto tick = r.read();
    ASSERT_TRUE(tick);
    EXPECT_EQ(tick->type(), zt::tick_type);
    auto t = tick->as<zt::tick>();
    ASSERT_TRUE(t);
    EXPECT_EQ(t->seq, 42u);
    auto arr = r.read();
    ASSERT_TRUE(arr);
    auto tv = arr->tensor();
    ASSERT_TRUE(tv);
    EXPECT_EQ(tv->ndim(), 2u);
    EXPECT_EQ(tv->shape()[0], 600);
    EXPECT_TRUE(std::memcmp(tv->data_as<float>(), big.data(), big.size() * sizeof(float)) == 0);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(tv->data()) % 64, 0u);
    auto empty = r.read();
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->size(), 0u);
    EXPECT_TRUE(!r.read()); /* the clean end */
    EXPECT_EQ(reap(pid), 0);
}

TEST(Stream, BrokenStreamThrowsBadMessage)
{
    pipe_fds p;
    ASSERT_TRUE(p.r >= 0);
    const char junk[] = "this is not a zipc stream, not even close to one";
    ASSERT_TRUE(write(p.w, junk, sizeof junk) == static_cast<ssize_t>(sizeof junk));
    zipc::stream_reader r(p.r); /* the writer stays open: the header alone must be refused */
    try {
        r.read();
        EXPECT_TRUE(false);
    } catch (const zipc::error &e) {
        EXPECT_TRUE(e.code() == std::errc::bad_message);
    }
    auto again = r.read(std::nothrow);
    EXPECT_TRUE(!again && again.error() == std::errc::bad_message);
}

TEST(Stream, VectorsByteForByte)
{
    const char *names[] = {"bytes", "str", "json", "list", "tensor_f32_2x3", "tensor_i64_4", "tensor_u8_scalar"};
    const std::uint32_t types[] = {zipc::type_id::bytes, zipc::type_id::str, zipc::type_id::json, zipc::type_id::list,
                                   zipc::type_id::tensor, zipc::type_id::tensor, zipc::type_id::tensor};
    std::vector<std::vector<char>> bins;
    for (const char *n : names) {
        std::ifstream f(std::string(ZIPC_VECTORS_DIR) + "/" + n + ".bin", std::ios::binary);
        bins.emplace_back((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        ASSERT_TRUE(!bins.back().empty());
    }
    pipe_fds p;
    pid_t pid = produce_in_child(p, [&](zipc::stream_writer &w) {
        for (std::size_t i = 0; i < bins.size(); i++)
            w.write(types[i], zipc::as_bytes(bins[i].data(), bins[i].size()));
    });
    zipc::stream_reader r(p.r);
    for (std::size_t i = 0; i < bins.size(); i++) {
        auto f = r.read();
        ASSERT_TRUE(f);
        EXPECT_EQ(f->type(), types[i]);
        EXPECT_TRUE(f->size() == bins[i].size() && std::memcmp(f->data(), bins[i].data(), f->size()) == 0);
        if (types[i] == zipc::type_id::tensor)
            EXPECT_TRUE(f->tensor());
    }
    EXPECT_TRUE(!r.read());
    EXPECT_EQ(reap(pid), 0);
}


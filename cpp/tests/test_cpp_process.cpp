/* zipc.hpp across fork(): a child producer streams ticks and tensors to the
 * parent; a child that dies without closing is seen as EPIPE. */
#include "testing.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

using namespace std::chrono_literals;

namespace {

constexpr int kTicks = 20000, kTensors = 200, kFloats = 256;

/* The child: connect, stream, and exit with 0 on success (no test macros in here). */
int produce(const std::string &path, bool close_cleanly)
{
    try {
        zipc::channel ch = zipc::channel::connect(path, zipc::options().handshake_timeout(10s));
        for (std::uint64_t i = 0; i < kTicks; i++) {
            zt::tick t{i, static_cast<std::int64_t>(i) * 1000, 100.0 + static_cast<double>(i), 1.5f, i % 2 ? 1u : 2u};
            ch.send_pod(t, zt::tick_type, 10s);
        }
        for (int i = 0; i < kTensors; i++) {
            auto r = ch.reserve_tensor<float>({kFloats}, 10s);
            for (std::size_t j = 0; j < r.size(); j++)
                r.data()[j] = static_cast<float>(i) + static_cast<float>(j);
            r.commit();
        }
        if (!close_cleanly)
            _exit(0); /* die with the endpoint open: the kernel closes the fds */
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "child: %s\n", e.what());
        return 1;
    }
}

pid_t spawn(const std::string &path, bool close_cleanly)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(produce(path, close_cleanly));
    return pid;
}

int reap(pid_t pid)
{
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Consume everything the child sends, checking each message, until EPIPE. */
void consume(zipc::channel &ch)
{
    zipc::batch b(64);
    std::uint64_t ticks = 0;
    int tensors = 0;
    for (;;) {
        auto n = ch.drain(b, 10s, std::nothrow);
        if (!n) {
            EXPECT_TRUE(n.error() == std::errc::broken_pipe);
            break;
        }
        for (zipc::view_ref m : b) {
            if (m.type() == zt::tick_type) {
                auto t = m.as<zt::tick>();
                ASSERT_TRUE(t);
                EXPECT_EQ(t->seq, ticks);
                EXPECT_EQ(t->price, 100.0 + static_cast<double>(ticks));
                ticks++;
            } else {
                auto t = m.tensor();
                ASSERT_TRUE(t);
                const float *f = t->data_as<float>();
                EXPECT_EQ(t->size(), static_cast<std::size_t>(kFloats));
                EXPECT_EQ(f[0], static_cast<float>(tensors));
                EXPECT_EQ(f[kFloats - 1], static_cast<float>(tensors + kFloats - 1));
                tensors++;
            }
        }
    }
    EXPECT_EQ(ticks, static_cast<std::uint64_t>(kTicks));
    EXPECT_EQ(tensors, kTensors);
}

void run(bool close_cleanly)
{
    std::string path = zt::sock_path();
    pid_t pid = spawn(path, close_cleanly);
    ASSERT_TRUE(pid > 0);
    {
        zipc::channel ch = zipc::channel::listen(path, 1 << 16, zipc::options().handshake_timeout(10s));
        EXPECT_EQ(ch.peer_pid(), pid);
        consume(ch);
    }
    EXPECT_EQ(reap(pid), 0);
}

} // namespace

TEST(Process, ChildProducerClosesCleanly) { run(true); }

TEST(Process, ChildDiesWithoutClosing) { run(false); }

/* Shared by the C++ tests: the test harness (minitest.hpp), unique socket
 * paths, a producer/consumer pair in one process, and real processes
 * (spawn, reap, CHILD_CHECK, memory shared with the children). */
#ifndef ZIPC_CPP_TESTING_HPP
#define ZIPC_CPP_TESTING_HPP

#include "minitest.hpp"

#include <zipc.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <new>
#include <string>
#include <thread>

namespace zt {

/* A fresh socket path under /tmp (a Unix socket path must stay < 108 bytes). */
inline std::string sock_path()
{
    static int n;
    return "/tmp/zipc-cpp-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".sock";
}

struct pair {
    zipc::channel prod, cons;
};

/* Listen (consumer) in a thread, connect (producer) here. */
inline pair open_pair(std::size_t capacity = 1 << 16, const zipc::options &listen_opts = {})
{
    std::string path = sock_path();
    zipc::channel cons;
    std::exception_ptr failed;
    std::thread t([&] {
        try {
            cons = zipc::channel::listen(path, capacity, listen_opts);
        } catch (...) {
            failed = std::current_exception();
        }
    });
    zipc::channel prod;
    try {
        prod = zipc::channel::connect(path);
    } catch (...) {
        t.join();
        throw;
    }
    t.join();
    if (failed)
        std::rethrow_exception(failed);
    return {std::move(prod), std::move(cons)};
}

/* Messages the consumer has given back so far. */
inline std::uint64_t released(const zipc::channel &cons) { return cons.stats().messages; }

/* The 32-byte market tick of tests/vectors (tick.bin). */
struct tick {
    std::uint64_t seq;
    std::int64_t ts_ns;
    double price;
    float qty;
    std::uint32_t side;
};
static_assert(sizeof(tick) == 32, "the tick is 32 bytes");
inline constexpr std::uint32_t tick_type = 0x7469636B; /* "tick" */

/* ---- real processes ------------------------------------------------------ */

/* Its exit status, or 128 + the signal that killed it. */
inline int reap(pid_t pid)
{
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Fork a child that runs child() and exits with what it returns (1 if it throws). */
template <class F> pid_t spawn(F &&child)
{
    pid_t pid = fork();
    if (pid == 0) {
        int rc = 1;
        try {
            rc = child();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "child %d: %s\n", static_cast<int>(getpid()), e.what());
        }
        _exit(rc);
    }
    return pid;
}

/* Poll cond every 5 ms for up to 10 s. */
inline bool wait_until(const std::function<bool()> &cond)
{
    for (int i = 0; i < 2000; i++) {
        if (cond())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

/* Runs f when it goes out of scope (a failed ASSERT included): stop and
 * reap the children a test started, so that none outlives it. */
template <class F> struct on_exit {
    F f;
    ~on_exit() { f(); }
};
template <class F> on_exit(F) -> on_exit<F>;

/* SIGKILL and reap a child still running (pid > 0), then forget it. */
inline void kill_reap(pid_t &pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        reap(pid);
    }
    pid = -1;
}

/* Memory the children write and the parent reads after them. */
template <class T> T *shared()
{
    void *p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : new (p) T();
}
template <class T> void unshare(T *p)
{
    p->~T();
    munmap(p, sizeof(T));
}

} // namespace zt

/* In a spawned child: fail it (exit status 1) with the condition's text. */
#define CHILD_CHECK(cond)                                                                   \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            std::fprintf(stderr, "child %d: %s:%d: %s\n", static_cast<int>(getpid()), __FILE__, \
                         __LINE__, #cond);                                                  \
            return 1;                                                                       \
        }                                                                                   \
    } while (0)

#endif

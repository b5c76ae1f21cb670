/* Shared by the C++ tests: the test harness (minitest.hpp), unique socket
 * paths, and a producer/consumer pair in one process. */
#ifndef ZIPC_CPP_TESTING_HPP
#define ZIPC_CPP_TESTING_HPP

#include "minitest.hpp"

#include <zipc.hpp>

#include <unistd.h>

#include <cstdint>
#include <exception>
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

} // namespace zt

#endif

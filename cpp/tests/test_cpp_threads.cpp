/* channel::interrupt() from another thread: a call blocked on the channel
 * wakes with operation_canceled (thrown, or returned by the std::nothrow
 * form), an interrupt with no blocked call is latched for the next one, and
 * the channel works on afterwards. In the "threads" label: TSan runs it. */
#include "testing.hpp"

#include <atomic>
#include <chrono>
#include <thread>

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/* Run `blocked` in a thread, interrupt `ch` from here after `delay`, and
 * return how long the blocked call took. */
template <class F> clock_type::duration interrupt_after(const zipc::channel &ch, clock_type::duration delay, F &&blocked)
{
    auto t0 = clock_type::now();
    clock_type::time_point woke{};
    std::thread t([&] {
        blocked();
        woke = clock_type::now();
    });
    std::this_thread::sleep_for(delay);
    ch.interrupt();
    t.join();
    return woke - t0;
}

} // namespace

TEST(Interrupt, WakesABlockedViewWhichThrows)
{
    auto p = zt::open_pair();
    int err = 0;
    const char *name = "";
    auto took = interrupt_after(p.cons, 200ms, [&] {
        try {
            p.cons.view(10s);
        } catch (const zipc::error &e) {
            err = e.errno_value();
            name = e.name();
        }
    });
    EXPECT_EQ(err, ECANCELED);
    EXPECT_EQ(std::string(name), "ECANCELED");
    EXPECT_GE(took, 150ms); /* it really was blocked, not cancelled at entry */
    EXPECT_LT(took, 5s);    /* and woke long before its timeout */
    p.prod.send_pod(7);     /* the channel goes on */
    EXPECT_EQ(*p.cons.view(1s).as<int>(), 7);
}

TEST(Interrupt, WakesABlockedReserveThroughNothrow)
{
    auto p = zt::open_pair(256);
    while (!p.prod.try_send_pod(1)) {
    }
    std::error_code ec;
    auto took = interrupt_after(p.prod, 200ms, [&] { ec = p.prod.reserve(16, 10s, std::nothrow).error(); });
    EXPECT_TRUE(ec == std::errc::operation_canceled);
    EXPECT_GE(took, 150ms);
    EXPECT_LT(took, 5s);
    p.cons.view(1s).release();
    EXPECT_FALSE(p.prod.send_pod(2, 0, 1s, std::nothrow));
}

TEST(Interrupt, IsLatchedUntilABlockingCallTakesIt)
{
    auto p = zt::open_pair();
    p.prod.send_pod(1);
    p.cons.interrupt();
    EXPECT_EQ(*p.cons.view(1s).as<int>(), 1); /* a message there: no wait, the interrupt stays */
    auto t0 = clock_type::now();
    EXPECT_TRUE(p.cons.view(10s, std::nothrow).error() == std::errc::operation_canceled);
    EXPECT_LT(clock_type::now() - t0, 5s);
    EXPECT_TRUE(p.cons.view(20ms, std::nothrow).error() == std::errc::timed_out); /* consumed once */
    zipc::channel empty;
    empty.interrupt(); /* an empty channel: nothing to do */
}

/* The clean shutdown of a consumer thread: it drains everything that was
 * sent, then its blocking view returns operation_canceled; join; close. */
TEST(Interrupt, EndsAConsumerThreadAfterItDrains)
{
    auto p = zt::open_pair(4096);
    constexpr int kSent = 5000;
    std::atomic<int> seen{0};
    std::error_code last;
    std::thread consumer([&] {
        zipc::view v;
        for (;;) {
            if ((last = p.cons.view(v, zipc::forever, std::nothrow)))
                break;
            EXPECT_EQ(*v.as<int>(), seen.load(std::memory_order_relaxed));
            seen.fetch_add(1, std::memory_order_relaxed);
        }
    });
    for (int i = 0; i < kSent; i++)
        p.prod.send_pod(i, 0, 10s);
    p.cons.interrupt();
    consumer.join();
    EXPECT_TRUE(last == std::errc::operation_canceled);
    EXPECT_EQ(seen.load(), kSent);
    p.cons.close();
}

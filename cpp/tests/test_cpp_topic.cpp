/* zipc.hpp's topic: zipc::publisher, zipc::subscriber, policies, losses,
 * stale views, history, latest, and real processes (subscribers forked
 * before the publisher exists; a publisher that dies). */
#include "testing.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>

using namespace std::chrono_literals;

namespace {

using zt::reap;
using zt::spawn;

/* A fresh topic name (no '/': an abstract socket, nothing on disk). */
std::string topic_name()
{
    static int n;
    return "zipc-cpp-topic-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

/* 64-byte payload: its index and a pattern derived from it (torn bytes show). */
struct sample {
    std::uint64_t index;
    std::uint64_t words[7];
};
static_assert(sizeof(sample) == 64, "64-byte sample");
constexpr std::uint32_t sample_type = 0x73616d70; /* "samp" */

sample make_sample(std::uint64_t i)
{
    sample s{};
    s.index = i;
    for (std::uint64_t k = 0; k < 7; k++)
        s.words[k] = i * 0x9E3779B97F4A7C15ull + k;
    return s;
}
bool intact(const sample &s, std::uint64_t i)
{
    if (s.index != i)
        return false;
    for (std::uint64_t k = 0; k < 7; k++)
        if (s.words[k] != i * 0x9E3779B97F4A7C15ull + k)
            return false;
    return true;
}

/* Publish [from, to) as samples. */
void publish(zipc::publisher &pub, std::uint64_t from, std::uint64_t to)
{
    for (std::uint64_t i = from; i < to; i++)
        pub.send_pod(make_sample(i), sample_type, 10s);
}

/* Wait until the publisher counts n subscribers (they join through its door thread). */
bool wait_subscribers(const zipc::publisher &pub, int n)
{
    for (int i = 0; i < 2000; i++) {
        if (pub.subscribers() == n)
            return true;
        std::this_thread::sleep_for(5ms);
    }
    return false;
}

} // namespace

// ---- values, errors -----------------------------------------------------

/* An endpoint is its C pointer; the shared view and reservation add one more. */
static_assert(sizeof(zipc::channel) == sizeof(void *) && sizeof(zipc::publisher) == sizeof(void *) &&
                  sizeof(zipc::subscriber) == sizeof(void *),
              "an endpoint is one pointer");
static_assert(std::is_nothrow_move_constructible_v<zipc::subscriber> && !std::is_copy_constructible_v<zipc::publisher>,
              "move-only");

TEST(Topic, SubscriptionIsTheCStruct)
{
    zipc::subscription s{zipc::policy::max_lag, 100};
    s.resume_newest = true;
    s.history = 7;
    zipc_subscription c = s.native();
    EXPECT_EQ(c.policy, static_cast<std::uint32_t>(ZIPC_SUB_MAX_LAG));
    EXPECT_EQ(c.max_lag, 100u);
    EXPECT_EQ(c.flags, static_cast<std::uint32_t>(ZIPC_SUB_RESUME_NEWEST));
    EXPECT_EQ(c.history, 7u);
    zipc_subscription d = zipc::subscription{}.native();
    EXPECT_EQ(d.policy, static_cast<std::uint32_t>(ZIPC_SUB_BLOCK));
    EXPECT_EQ(d.flags, 0u);
    EXPECT_TRUE(zipc::is_overflow(zipc::make_error_code(-EOVERFLOW)));
    EXPECT_TRUE(zipc::is_stale(zipc::make_error_code(-ESTALE)));
    EXPECT_FALSE(zipc::is_stale(zipc::make_error_code(-EPIPE)));
    EXPECT_EQ(std::string(zipc::error(-ESTALE, "x").name()), "ESTALE");
    EXPECT_EQ(std::string(zipc::error(-ENOSPC, "x").name()), "ENOSPC");
}

TEST(Topic, EmptyEndpointsFailWithEINVAL)
{
    zipc::publisher p;
    zipc::subscriber s;
    EXPECT_FALSE(p);
    EXPECT_FALSE(s);
    EXPECT_TRUE(p.try_send(zipc::as_bytes("x", 1)) == std::errc::invalid_argument);
    EXPECT_TRUE(s.try_view().error() == std::errc::invalid_argument);
    EXPECT_EQ(s.last_loss().messages, 0u);
    p.interrupt();
    s.interrupt();
}

TEST(Topic, CreateSubscribeAndNames)
{
    std::string name = topic_name();
    zipc::publisher pub = zipc::publisher::create(name, 1 << 16);
    EXPECT_EQ(pub.capacity(), static_cast<std::size_t>(1 << 16));
    try {
        zipc::publisher::create(name, 1 << 16);
        ASSERT_TRUE(false);
    } catch (const zipc::error &e) {
        EXPECT_TRUE(e.code() == std::errc::address_in_use);
        EXPECT_NE(std::string(e.what()).find("zipc_topic_create"), std::string::npos);
    }
    zipc::subscriber sub = zipc::subscriber::subscribe(name, {}, zipc::options().handshake_timeout(10s));
    EXPECT_EQ(sub.publisher_pid(), getpid());
    EXPECT_EQ(sub.capacity(), pub.capacity());
    EXPECT_EQ(sub.max_message(), pub.max_message());
    EXPECT_GE(sub.fd(), 0);
    EXPECT_GE(pub.fd(), 0);
    EXPECT_TRUE(wait_subscribers(pub, 1));
    EXPECT_TRUE(sub.try_view().error() == std::errc::resource_unavailable_try_again);

    /* nobody publishes under another name */
    auto none = [] { zipc::subscriber::subscribe(topic_name(), {}, zipc::options().handshake_timeout(20ms)); };
    try {
        none();
        ASSERT_TRUE(false);
    } catch (const zipc::error &e) {
        EXPECT_TRUE(zipc::is_timeout(e.code()) || e.code() == std::errc::no_such_file_or_directory);
    }
}

TEST(Topic, MaxSubscribersGivesENOSPC)
{
    std::string name = topic_name();
    zipc::publisher pub = zipc::publisher::create(name, 4096, 1);
    zipc::subscriber a = zipc::subscriber::subscribe(name);
    try {
        zipc::subscriber::subscribe(name, {}, zipc::options().handshake_timeout(2s));
        ASSERT_TRUE(false);
    } catch (const zipc::error &e) {
        EXPECT_TRUE(e.code() == std::errc::no_space_on_device);
        EXPECT_EQ(std::string(e.name()), "ENOSPC");
    }
    a.close(); /* its slot is free again */
    EXPECT_TRUE(wait_subscribers(pub, 0));
    zipc::subscriber b = zipc::subscriber::subscribe(name, {}, zipc::options().handshake_timeout(2s));
    EXPECT_TRUE(b);
}

// ---- one process: reading, losses, stale views, history, latest ---------

TEST(Topic, EveryReadForm)
{
    std::string name = topic_name();
    zipc::publisher pub = zipc::publisher::create(name, 1 << 16);
    zipc::subscriber sub = zipc::subscriber::subscribe(name);
    publish(pub, 0, 10);
    {
        zipc::view v = sub.view(1s);
        EXPECT_EQ(v.seq(), 0u);
        EXPECT_TRUE(v.type() == sample_type);
        EXPECT_TRUE(intact(*v.as<sample>(), 0));
        EXPECT_FALSE(v.release());
        EXPECT_FALSE(v);
    }
    zipc::view held; /* the hot-loop form */
    EXPECT_FALSE(sub.view(held, 1s, std::nothrow));
    EXPECT_TRUE(intact(*held.as<sample>(), 1));
    zipc::batch b(4);
    held.release();
    EXPECT_EQ(sub.drain(b, 1s), 4u);
    std::uint64_t i = 2;
    for (zipc::view_ref m : b)
        EXPECT_TRUE(intact(*m.as<sample>(), i++));
    EXPECT_FALSE(b.release());
    sample s{};
    zipc::message m = sub.recv(zipc::as_writable_bytes(&s, sizeof s), 1s);
    EXPECT_EQ(m.size, sizeof s);
    EXPECT_TRUE(intact(s, 6));
    EXPECT_TRUE(intact(*sub.recv_pod<sample>(1s), 7));
    EXPECT_TRUE(intact(sub.try_recv_pod<sample>().value(), 8));
    EXPECT_TRUE(intact(*sub.try_view()->as<sample>(), 9));
    EXPECT_TRUE(sub.try_view().is_timeout());
    EXPECT_EQ(sub.stats().messages, 10u);
    EXPECT_EQ(pub.stats().messages, 10u);

    /* reserve/commit, batch publish and tensors */
    zipc::reservation r = pub.reserve(5);
    std::memcpy(r.data(), "hello", 5);
    r.commit(5, 42, zipc::more);
    pub.send_tensor<float>(std::vector<float>{1, 2, 3, 4, 5, 6}.data(), {2, 3});
    EXPECT_EQ(sub.view(1s).text(), "hello"); /* the tensor's plain commit published both */
    zipc::view t = sub.view(1s);
    auto tv = t.tensor();
    ASSERT_TRUE(tv);
    EXPECT_EQ(tv->shape()[1], 3);
    EXPECT_EQ(tv->data_as<float>()[5], 6.0f);
}

TEST(Topic, DropOldestLossIsExactAndViewsGoStale)
{
    std::string name = topic_name();
    zipc::publisher pub = zipc::publisher::create(name, 4096);
    zipc::subscriber sub = zipc::subscriber::subscribe(name, {zipc::policy::drop_oldest});
    publish(pub, 0, 1);
    zipc::view v = sub.view(1s);
    EXPECT_EQ(v.seq(), 0u);
    /* no lossless subscriber: the publisher never waits, it laps the view */
    const std::uint64_t total = 1000;
    for (std::uint64_t i = 1; i < total; i++)
        ASSERT_FALSE(pub.try_send_pod(make_sample(i), sample_type));
    std::error_code stale = v.release();
    EXPECT_TRUE(zipc::is_stale(stale));

    auto lapped = sub.try_view();
    ASSERT_FALSE(lapped);
    EXPECT_TRUE(zipc::is_overflow(lapped.error()));
    zipc::loss l = sub.last_loss();
    EXPECT_GE(l.messages, 1u);
    EXPECT_GE(l.bytes, l.messages * 64);
    /* it resumes at the oldest message still there: right after the loss */
    std::uint64_t next = 1 + l.messages;
    for (;;) {
        auto m = sub.try_view();
        if (!m) {
            EXPECT_TRUE(m.is_timeout());
            break;
        }
        EXPECT_EQ(m->seq(), next);
        EXPECT_TRUE(intact(*m->as<sample>(), next));
        EXPECT_FALSE(m->release());
        next++;
    }
    EXPECT_EQ(next, total);
    zipc_subscriber_stats st = sub.stats();
    EXPECT_EQ(st.lost_messages, l.messages);
    EXPECT_EQ(st.overflows, 1u);
    EXPECT_EQ(st.messages + st.lost_messages, total);
}

TEST(Topic, ResumeNewestSkipsToTheNewest)
{
    std::string name = topic_name();
    zipc::publisher pub = zipc::publisher::create(name, 4096);
    zipc::subscription s{zipc::policy::drop_oldest};
    s.resume_newest = true;
    zipc::subscriber sub = zipc::subscriber::subscribe(name, s);
    for (std::uint64_t i = 0; i < 500; i++)
        ASSERT_FALSE(pub.try_send_pod(make_sample(i), sample_type));
    auto lapped = sub.try_view();
    ASSERT_FALSE(lapped);
    EXPECT_TRUE(zipc::is_overflow(lapped.error()));
    /* Skipped to the newest: nothing older than message 499 is read. (The
     * core today skips 499 too, resuming with the next message published;
     * the header says "skip to the newest message": either passes here.) */
    std::uint64_t lost = sub.last_loss().messages, next = lost;
    EXPECT_GE(lost, 499u);
    for (auto m = sub.try_view(); m; m = sub.try_view())
        EXPECT_TRUE(intact(*m->as<sample>(), next++));
    EXPECT_EQ(next, 500u);
    ASSERT_FALSE(pub.try_send_pod(make_sample(500), sample_type));
    EXPECT_TRUE(intact(*sub.try_view()->as<sample>(), 500));
    EXPECT_EQ(sub.stats().lost_messages, lost);
}

TEST(Topic, BlockHoldsThePublisher)
{
    std::string name = topic_name();
    zipc::publisher pub = zipc::publisher::create(name, 4096);
    zipc::subscriber sub = zipc::subscriber::subscribe(name);
    std::uint64_t sent = 0;
    while (!pub.try_send_pod(make_sample(sent), sample_type))
        sent++;
    EXPECT_GE(sent, 4u);
    EXPECT_TRUE(pub.send_pod(make_sample(sent), sample_type, 2ms, std::nothrow) == std::errc::timed_out);
    EXPECT_TRUE(intact(*sub.recv_pod<sample>(1s), 0)); /* room for one more */
    EXPECT_FALSE(pub.try_send_pod(make_sample(sent), sample_type));
    for (std::uint64_t i = 1; i <= sent; i++)
        EXPECT_TRUE(intact(*sub.recv_pod<sample>(1s), i));
    EXPECT_EQ(sub.stats().lost_messages, 0u);
}

TEST(Topic, HistoryGivesTheLastNOrTheExactGap)
{
    std::string name = topic_name();
    zipc::publisher pub = zipc::publisher::create(name, 1 << 16);
    publish(pub, 0, 10);
    zipc::subscription five{zipc::policy::block};
    five.history = 5;
    zipc::subscriber sub = zipc::subscriber::subscribe(name, five);
    for (std::uint64_t i = 5; i < 10; i++)
        EXPECT_TRUE(intact(*sub.recv_pod<sample>(1s), i));
    EXPECT_TRUE(sub.try_view().is_timeout());

    /* more history than the ring holds: the gap first, then what is left */
    std::string small = topic_name();
    zipc::publisher p2 = zipc::publisher::create(small, 4096);
    const std::uint64_t total = 2000, asked = 1000;
    publish(p2, 0, total);
    zipc::subscription many{zipc::policy::drop_oldest};
    many.history = asked;
    zipc::subscriber late = zipc::subscriber::subscribe(small, many);
    auto gap = late.try_view();
    ASSERT_FALSE(gap);
    EXPECT_TRUE(zipc::is_overflow(gap.error()));
    std::uint64_t lost = late.last_loss().messages;
    std::uint64_t got = 0;
    for (auto m = late.try_view(); m; m = late.try_view(), got++)
        EXPECT_TRUE(intact(*m->as<sample>(), total - asked + lost + got));
    EXPECT_GE(got, 4u);
    EXPECT_EQ(lost + got, asked);
}

TEST(Topic, LatestReadsWithoutConsuming)
{
    std::string name = topic_name();
    zipc::publisher pub = zipc::publisher::create(name, 1 << 16);
    zipc::subscriber sub = zipc::subscriber::subscribe(name);
    EXPECT_FALSE(sub.latest_pod<sample>(sample_type));
    constexpr std::uint32_t state_type = 7;
    pub.send_pod(std::uint64_t{100}, state_type);
    publish(pub, 0, 3);
    pub.send_pod(std::uint64_t{200}, state_type);
    publish(pub, 3, 5);
    EXPECT_EQ(sub.latest_pod<std::uint64_t>(state_type).value(), 200u);
    EXPECT_TRUE(intact(*sub.latest_pod<sample>(sample_type), 4));
    sample s{};
    zipc::message any = sub.latest(zipc::as_writable_bytes(&s, sizeof s));
    EXPECT_EQ(any.type, sample_type);
    EXPECT_TRUE(intact(s, 4));
    char small[4];
    EXPECT_TRUE(sub.latest(zipc::as_writable_bytes(small, 4), sample_type, std::nothrow).error() ==
                std::errc::message_size);
    EXPECT_TRUE(sub.latest(zipc::as_writable_bytes(&s, sizeof s), 12345, std::nothrow).error() ==
                std::errc::no_such_file_or_directory);
    EXPECT_THROW(sub.latest_pod<std::uint32_t>(state_type), zipc::error); /* 8 bytes, not 4 */
    /* the cursor did not move */
    EXPECT_EQ(sub.recv_pod<std::uint64_t>(1s).value(), 100u);
}

TEST(Topic, InterruptWakesABlockedSubscriber)
{
    std::string name = topic_name();
    zipc::publisher pub = zipc::publisher::create(name, 4096);
    zipc::subscriber sub = zipc::subscriber::subscribe(name);
    std::atomic<bool> woke{false};
    std::error_code ec;
    std::thread t([&] {
        ec = sub.view(zipc::forever, std::nothrow).error();
        woke = true;
    });
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(woke.load());
    sub.interrupt();
    t.join();
    EXPECT_TRUE(ec == std::errc::operation_canceled);
}

// ---- real processes -----------------------------------------------------

/* A BLOCK subscriber: every message in order, intact, then EPIPE. */
int read_everything(const std::string &name, std::uint64_t total)
{
    zipc::subscriber sub = zipc::subscriber::subscribe(name, {zipc::policy::block}, zipc::options().handshake_timeout(20s));
    zipc::batch b(32);
    std::uint64_t next = 0;
    for (;;) {
        auto n = sub.drain(b, 20s, std::nothrow);
        if (!n) {
            CHILD_CHECK(n.error() == std::errc::broken_pipe);
            break;
        }
        for (zipc::view_ref m : b) {
            CHILD_CHECK(m.seq() == next);
            CHILD_CHECK(intact(*m.as<sample>(), next));
            next++;
        }
    }
    CHILD_CHECK(next == total);
    CHILD_CHECK(sub.stats().lost_messages == 0);
    return 0;
}

/* A slow DROP_OLDEST subscriber: what it reads is intact or reported stale,
 * and what it reads plus what it was told it lost is everything, exactly. */
int read_slowly(const std::string &name, std::uint64_t total)
{
    zipc::subscriber sub =
        zipc::subscriber::subscribe(name, {zipc::policy::drop_oldest}, zipc::options().handshake_timeout(20s));
    std::uint64_t next = 0, lost = 0, overflows = 0, read = 0;
    for (;;) {
        auto v = sub.view(20s, std::nothrow);
        if (!v) {
            if (zipc::is_overflow(v.error())) {
                zipc::loss l = sub.last_loss();
                CHILD_CHECK(l.messages > 0);
                next += l.messages, lost += l.messages, overflows++;
                continue;
            }
            CHILD_CHECK(v.error() == std::errc::broken_pipe);
            break;
        }
        CHILD_CHECK(v->seq() == next);
        std::optional<sample> s = v->as<sample>();
        if (read % 64 == 0)
            std::this_thread::sleep_for(1ms); /* slow: the publisher laps it */
        if (!v->release()) /* not stale: the bytes were intact */
            CHILD_CHECK(s && intact(*s, next));
        next++, read++;
    }
    CHILD_CHECK(next == total);
    zipc_subscriber_stats st = sub.stats();
    CHILD_CHECK(st.lost_messages == lost);
    CHILD_CHECK(st.overflows == overflows);
    CHILD_CHECK(overflows > 0); /* it was lapped (else this test tests nothing) */
    std::printf("drop_oldest subscriber: read %llu, lost %llu in %llu overflows\n",
                static_cast<unsigned long long>(read), static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(overflows));
    std::fflush(stdout); /* the child leaves with _exit */
    return 0;
}

TEST(TopicProcess, BlockAndDropOldestSubscribers)
{
    std::string name = topic_name();
    const std::uint64_t total = 20000;
    /* the subscribers start first: they wait for the publisher to exist */
    pid_t block = spawn([&] { return read_everything(name, total); });
    pid_t drop = spawn([&] { return read_slowly(name, total); });
    ASSERT_TRUE(block > 0 && drop > 0);
    {
        zipc::publisher pub = zipc::publisher::create(name, 4096);
        ASSERT_TRUE(wait_subscribers(pub, 2));
        publish(pub, 0, total);
        zipc_publisher_stats st = pub.stats();
        EXPECT_EQ(st.messages, total);
        EXPECT_EQ(st.joined, 2u);
    } /* closed: the subscribers drain, then EPIPE */
    EXPECT_EQ(reap(block), 0);
    EXPECT_EQ(reap(drop), 0);
}

TEST(TopicProcess, PublisherKilledSubscribersDrainThenEPIPE)
{
    std::string name = topic_name();
    const std::uint64_t total = 5000;
    pid_t a = spawn([&] { return read_everything(name, total); });
    pid_t b = spawn([&] { return read_everything(name, total); });
    pid_t pub = spawn([&] {
        zipc::publisher p = zipc::publisher::create(name, 1 << 14);
        CHILD_CHECK(wait_subscribers(p, 2));
        publish(p, 0, total);
        raise(SIGKILL); /* dies with the topic open */
        return 1;
    });
    ASSERT_TRUE(a > 0 && b > 0 && pub > 0);
    EXPECT_EQ(reap(pub), 128 + SIGKILL);
    EXPECT_EQ(reap(a), 0);
    EXPECT_EQ(reap(b), 0);
    /* the name is free: a new publisher takes it */
    zipc::publisher again = zipc::publisher::create(name, 4096);
    EXPECT_TRUE(again);
}

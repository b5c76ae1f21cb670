/* zipc.hpp in one process: RAII (reservation abort, view/batch release in
 * ring order through the C core's ledger), exceptions with errno and name,
 * try_ (never blocks) and std::nothrow variants, timeouts, options, POD and
 * tensor round trips. */
#include "testing.hpp"

#include <array>
#include <cstring>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

std::string text_of(const zipc::view_ref &m) { return std::string(m.text()); }

void send_text(zipc::channel &ch, const std::string &s, std::uint32_t type = 0)
{
    ch.send(zipc::as_bytes(s), type);
}

/* The errno a throwing call threw, or 0. */
template <class F> int thrown_errno(F &&f)
{
    try {
        f();
    } catch (const zipc::error &e) {
        return e.errno_value();
    }
    return 0;
}

} // namespace

// ---- timeouts -------------------------------------------------------------

static_assert(zipc::timeout(zipc::try_once).ns() == 0);
static_assert(zipc::timeout(zipc::forever).ns() == -1);
static_assert(zipc::timeout(0ms).ns() == 0);
static_assert(zipc::timeout(-5s).ns() == 0);
static_assert(zipc::timeout(1500ns).ns() == 1500);
static_assert(zipc::timeout(2ms).ns() == 2000000);
static_assert(zipc::timeout(std::chrono::hours::max()).ns() == -1);
static_assert(zipc::timeout(std::chrono::duration<double>(1e-12)).ns() == 1);
static_assert(zipc::dtype_of<float>() == zipc::dtype{ZIPC_DTYPE_FLOAT, 32, 1});
static_assert(zipc::dtype_of<std::uint8_t>() == zipc::dtype{ZIPC_DTYPE_UINT, 8, 1});
static_assert(zipc::dtype_of<std::int64_t>() == zipc::dtype{ZIPC_DTYPE_INT, 64, 1});
static_assert(zipc::dtype_of<bool>() == zipc::dtype{ZIPC_DTYPE_BOOL, 8, 1});
static_assert(zipc::dtype_of<std::complex<double>>() == zipc::dtype{ZIPC_DTYPE_COMPLEX, 128, 1});

// ---- errors ---------------------------------------------------------------

TEST(Errors, ConnectToNothingThrowsENOENT)
{
    try {
        zipc::channel::connect("/nonexistent-dir/zipc.sock", zipc::options().handshake_timeout(1ms));
        ASSERT_TRUE(false);
    } catch (const zipc::error &e) {
        EXPECT_EQ(e.errno_value(), ENOENT);
        EXPECT_TRUE(e.code() == std::errc::no_such_file_or_directory);
        EXPECT_EQ(std::string(e.code().category().name()), "zipc");
        std::string what = e.what();
        EXPECT_NE(what.find("zipc_channel_connect"), std::string::npos);
        EXPECT_NE(what.find(zipc_strerror(-ENOENT)), std::string::npos);
    }
}

TEST(Errors, SystemErrorIsTheBase)
{
    EXPECT_THROW(zipc::channel::connect("/nonexistent-dir/x.sock", zipc::options().handshake_timeout(1ms)),
                 std::system_error);
    EXPECT_EQ(zipc::make_error_code(-EPIPE).message(), std::string(zipc_strerror(EPIPE)));
    EXPECT_TRUE(zipc::is_timeout(zipc::make_error_code(-EAGAIN)));
    EXPECT_TRUE(zipc::is_timeout(zipc::make_error_code(-ETIMEDOUT)));
    EXPECT_FALSE(zipc::is_timeout(zipc::make_error_code(-EPIPE)));
}

TEST(Errors, EmptyChannelFailsWithEINVAL)
{
    zipc::channel ch;
    EXPECT_FALSE(ch);
    EXPECT_EQ(thrown_errno([&] { ch.reserve(8); }), EINVAL);
    EXPECT_EQ(thrown_errno([&] { ch.view(zipc::try_once); }), EINVAL);
    EXPECT_TRUE(ch.try_send(zipc::as_bytes("x", 1)) == std::errc::invalid_argument);
}

TEST(Errors, OversizeIsEMSGSIZE)
{
    auto p = zt::open_pair(4096);
    EXPECT_EQ(p.prod.max_message(), 4096u / 2 - ZIPC_FRAME_HEADER);
    EXPECT_EQ(thrown_errno([&] { p.prod.reserve(p.prod.max_message() + 1); }), EMSGSIZE);
    auto r = p.prod.try_reserve(p.prod.max_message() + 1);
    EXPECT_FALSE(r);
    EXPECT_TRUE(r.error() == std::errc::message_size);
    EXPECT_EQ(thrown_errno([&] { (void)r.value(); }), EMSGSIZE);
}

TEST(Errors, WrongRoleIsAnError)
{
    auto p = zt::open_pair();
    EXPECT_TRUE(p.prod.role() == zipc::role::producer);
    EXPECT_TRUE(p.cons.role() == zipc::role::consumer);
    EXPECT_EQ(thrown_errno([&] { p.cons.reserve(8); }), EOPNOTSUPP);
    EXPECT_EQ(thrown_errno([&] { p.prod.view(zipc::try_once); }), EOPNOTSUPP);
    zipc::batch b;
    EXPECT_TRUE(p.prod.try_drain(b).error() == std::errc::operation_not_supported);
    EXPECT_TRUE(p.cons.try_send(zipc::as_bytes("x", 1)) == std::errc::operation_not_supported);
}

TEST(Errors, NameIsTheCMapsName)
{
    try {
        zipc::channel::connect("/nonexistent-dir/zipc.sock", zipc::options().handshake_timeout(1ms));
    } catch (const zipc::error &e) {
        EXPECT_EQ(std::string(e.name()), "ENOENT");
    }
    int codes = 0;
#define ZT_CHECK_NAME(err, text)                                                        \
    EXPECT_EQ(std::string(zipc::error(-err, "x").name()), std::string(#err));            \
    EXPECT_EQ(std::string(zipc::error(err, "x").code().message()), std::string(text));   \
    codes++;
    ZIPC_ERRNO_MAP(ZT_CHECK_NAME)
#undef ZT_CHECK_NAME
    EXPECT_GE(codes, 20);
}

// ---- try_ variants and timeouts -------------------------------------------

TEST(Try, EmptyChannelWouldBlock)
{
    auto p = zt::open_pair();
    auto m = p.cons.try_view();
    EXPECT_FALSE(m);
    EXPECT_TRUE(m.is_timeout());
    EXPECT_TRUE(m.error() == std::errc::resource_unavailable_try_again);
    auto t = p.cons.view(2ms, std::nothrow);
    EXPECT_TRUE(t.error() == std::errc::timed_out);
    EXPECT_EQ(thrown_errno([&] { p.cons.view(1ms); }), ETIMEDOUT);
    zipc::batch b(8);
    auto n = p.cons.try_drain(b);
    EXPECT_TRUE(n.is_timeout());
    EXPECT_TRUE(b.empty());
}

TEST(Try, FullRingWouldBlockThenDrains)
{
    auto p = zt::open_pair(256); /* room for two 64-byte frames per half */
    int sent = 0;
    while (!p.prod.try_send(zipc::as_bytes("0123456789abcdef", 16)))
        sent++;
    EXPECT_GE(sent, 2);
    auto ec = p.prod.try_send(zipc::as_bytes("x", 1));
    EXPECT_TRUE(zipc::is_timeout(ec));
    EXPECT_TRUE(p.prod.reserve(16, 1ms, std::nothrow).error() == std::errc::timed_out);
    { auto m = p.cons.view(); }
    EXPECT_FALSE(p.prod.send(zipc::as_bytes("y", 1), 0, 100ms, std::nothrow));
}

/* try_ calls take no timeout: they never block. */
template <class C, class = void> struct try_view_takes_timeout : std::false_type {};
template <class C>
struct try_view_takes_timeout<C, std::void_t<decltype(std::declval<C &>().try_view(zipc::timeout(zipc::forever)))>>
    : std::true_type {};
static_assert(!try_view_takes_timeout<zipc::channel>::value);

TEST(Try, NeverBlocks)
{
    auto p = zt::open_pair(256, zipc::options().spin(std::chrono::seconds(30)));
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(p.cons.try_view().error() == std::errc::resource_unavailable_try_again);
    zipc::view into;
    EXPECT_TRUE(p.cons.try_view(into) == std::errc::resource_unavailable_try_again);
    zipc::batch b;
    EXPECT_TRUE(p.cons.try_drain(b).error() == std::errc::resource_unavailable_try_again);
    std::array<std::byte, 8> buf{};
    EXPECT_TRUE(p.cons.try_recv(buf).error() == std::errc::resource_unavailable_try_again);
    EXPECT_TRUE(p.cons.try_recv_pod<int>().error() == std::errc::resource_unavailable_try_again);
    while (!p.prod.try_send_pod(1)) {
    }
    EXPECT_TRUE(p.prod.try_reserve(16).error() == std::errc::resource_unavailable_try_again);
    /* a 30 s spin was configured: any wait would show */
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(Try, ValuesAndErrorsTogether)
{
    auto p = zt::open_pair();
    send_text(p.prod, "hello", 7);
    auto m = p.cons.view(1s, std::nothrow);
    ASSERT_TRUE(m);
    EXPECT_EQ(text_of(*m), "hello");
    EXPECT_EQ(m->type(), 7u);
    EXPECT_EQ(m->seq(), 0u);
}

/* A result is its value or its error: moved, it carries the view (and its
 * release) along; assigned an error, the view it held is released; copied
 * only where the value copies. */
static_assert(!std::is_copy_constructible_v<zipc::result<zipc::view>>);
static_assert(std::is_nothrow_move_constructible_v<zipc::result<zipc::view>>);
static_assert(std::is_copy_constructible_v<zipc::result<std::size_t>>);

TEST(Try, ResultsMoveAndAssignLikeTheirValues)
{
    auto p = zt::open_pair();
    send_text(p.prod, "one", 1);
    send_text(p.prod, "two", 2);
    std::array<std::byte, 8> buf{};
    auto m = p.cons.view(1s, std::nothrow);
    ASSERT_TRUE(m);
    EXPECT_FALSE(m.error());
    EXPECT_FALSE(m.is_timeout());
    zipc::result<zipc::view> moved = std::move(m);
    ASSERT_TRUE(moved);
    EXPECT_EQ(text_of(*moved), "one");
    EXPECT_TRUE(p.cons.try_recv(buf).error() == std::errc::connection_already_in_progress); /* still held */
    moved = make_error_code(std::errc::timed_out);
    EXPECT_FALSE(moved);
    EXPECT_TRUE(moved.is_timeout());
    EXPECT_THROW(moved.value(), zipc::error);
    auto r = p.cons.try_recv(buf); /* the view went with the assignment */
    ASSERT_TRUE(r);
    EXPECT_EQ(r->type, 2u);
    zipc::result<std::size_t> n = std::size_t{3}, copy = n;
    EXPECT_EQ(*copy, 3u);
    copy = n.error();
    EXPECT_FALSE(copy);
    copy = n;
    EXPECT_EQ(*copy, 3u);
}

// ---- reservation RAII -------------------------------------------------------

TEST(Reservation, UncommittedIsAbortedAtScopeExit)
{
    auto p = zt::open_pair();
    send_text(p.prod, "a");
    {
        zipc::reservation r = p.prod.reserve(100);
        std::memset(r.data(), 'z', r.size());
    } /* aborted: no trace */
    EXPECT_TRUE(p.prod.reserve(8)); /* no EALREADY: the first one is gone */
    send_text(p.prod, "b");        /* and the temporary above was aborted too */
    auto a = p.cons.view(), b = p.cons.view();
    EXPECT_EQ(text_of(a), "a");
    EXPECT_EQ(text_of(b), "b");
    EXPECT_EQ(b.seq(), 1u);
    EXPECT_TRUE(p.cons.try_view().is_timeout());
}

TEST(Reservation, OneAtATime)
{
    auto p = zt::open_pair();
    auto r = p.prod.reserve(16);
    EXPECT_EQ(thrown_errno([&] { p.prod.reserve(16); }), EALREADY);
    EXPECT_TRUE(p.prod.try_reserve(16).error() == std::errc::connection_already_in_progress);
    auto moved = std::move(r);
    EXPECT_FALSE(r);
    EXPECT_TRUE(moved);
    moved.abort();
    EXPECT_FALSE(moved);
    EXPECT_TRUE(p.prod.reserve(16));
}

TEST(Reservation, CommitShorterWithTypeAndAlignment)
{
    auto p = zt::open_pair();
    auto r = p.prod.reserve(64);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(r.data()) % 16, 0u);
    std::memcpy(r.data(), "abc", 3);
    EXPECT_EQ(thrown_errno([&] { r.commit(65, 1); }), EINVAL); /* stays open */
    EXPECT_TRUE(r);
    r.commit(3, 42);
    EXPECT_FALSE(r);
    auto m = p.cons.view(1s);
    EXPECT_EQ(text_of(m), "abc");
    EXPECT_EQ(m.type(), 42u);
}

TEST(Reservation, MoreStagesUntilFlush)
{
    auto p = zt::open_pair();
    for (int i = 0; i < 3; i++) {
        auto r = p.prod.reserve(4);
        std::memcpy(r.data(), &i, 4);
        r.commit(4, 0, zipc::more);
    }
    EXPECT_TRUE(p.cons.try_view().is_timeout()); /* staged, not visible */
    p.prod.flush();
    zipc::batch b(16);
    EXPECT_EQ(p.cons.drain(b, 1s), 3u);
    int i = 0;
    for (zipc::view_ref m : b)
        EXPECT_EQ(*m.as<int>(), i++);
}

// ---- message / batch release ------------------------------------------------

TEST(Release, MessageReleasesWhenItDies)
{
    auto p = zt::open_pair();
    send_text(p.prod, "x");
    {
        zipc::view m = p.cons.view();
        EXPECT_TRUE(m);
        EXPECT_EQ(zt::released(p.cons), 0u);
    }
    EXPECT_EQ(zt::released(p.cons), 1u);
}

TEST(Release, OutOfOrderDeathsReleaseInRingOrder)
{
    auto p = zt::open_pair();
    for (int i = 0; i < 4; i++)
        send_text(p.prod, std::to_string(i));
    auto m0 = p.cons.view(), m1 = p.cons.view(), m2 = p.cons.view(), m3 = p.cons.view();
    m2.release();
    EXPECT_EQ(zt::released(p.cons), 0u); /* m0, m1 still alive */
    EXPECT_EQ(text_of(m1), "1");         /* and still readable */
    m0.release();
    EXPECT_EQ(zt::released(p.cons), 1u); /* m0 only: m1 is alive */
    m1.release();
    EXPECT_EQ(zt::released(p.cons), 3u); /* m1 and the already dead m2 */
    EXPECT_EQ(text_of(m3), "3");
    m3 = zipc::view();                /* move-assign: releases */
    EXPECT_EQ(zt::released(p.cons), 4u);
}

TEST(Release, AnEndedViewOrReservationIsEmptyForGood)
{
    /* Released, moved from, committed: each keeps no endpoint, so a second
     * release or abort does nothing and reports success. */
    auto p = zt::open_pair();
    for (int i = 0; i < 3; i++)
        send_text(p.prod, std::to_string(i));
    auto a = p.cons.view();
    EXPECT_FALSE(a.release());
    EXPECT_FALSE(a);
    EXPECT_FALSE(a.release());
    auto b = p.cons.view();
    zipc::view c = std::move(b);
    EXPECT_FALSE(b);
    EXPECT_FALSE(b.release());
    EXPECT_EQ(zt::released(p.cons), 1u);
    EXPECT_TRUE(c);
    EXPECT_EQ(text_of(c), "1");
    zipc::view held;
    EXPECT_FALSE(p.cons.view(held, zipc::try_once, std::nothrow));
    EXPECT_EQ(text_of(held), "2");
    EXPECT_FALSE(c.release());
    EXPECT_FALSE(held.release());
    EXPECT_EQ(zt::released(p.cons), 3u);
    EXPECT_TRUE(p.cons.view(held, zipc::try_once, std::nothrow) == std::errc::resource_unavailable_try_again);
    EXPECT_FALSE(held);
    auto r = p.prod.reserve(8);
    r.commit();
    EXPECT_FALSE(r);
    r.abort(); /* nothing left to abort */
    EXPECT_EQ(text_of(p.cons.view()).size(), 8u);
}

TEST(Release, ManyOpenViewsGrowTheQueue)
{
    auto p = zt::open_pair(1 << 20);
    std::vector<zipc::view> held;
    for (int i = 0; i < 100; i++) {
        p.prod.send_pod(i);
        held.push_back(p.cons.view());
    }
    for (int i = 99; i >= 1; i--) /* newest first: nothing released yet */
        held[static_cast<std::size_t>(i)].release();
    EXPECT_EQ(zt::released(p.cons), 0u);
    EXPECT_EQ(*held[0].as<int>(), 0);
    held[0].release();
    EXPECT_EQ(zt::released(p.cons), 100u);
}

TEST(Release, BatchReleasesTogetherAndIsReusable)
{
    auto p = zt::open_pair();
    for (int i = 0; i < 10; i++)
        p.prod.send_pod(i);
    zipc::batch b(4);
    EXPECT_EQ(p.cons.drain(b), 4u);
    EXPECT_EQ(b.size(), 4u);
    EXPECT_EQ(*b[3].as<int>(), 3);
    EXPECT_EQ(zt::released(p.cons), 0u);
    EXPECT_EQ(p.cons.drain(b), 4u); /* the first four go back first */
    EXPECT_EQ(zt::released(p.cons), 4u);
    EXPECT_EQ(*b.begin()->as<int>(), 4);
    auto single = p.cons.view(); /* a view after the batch */
    b.release();
    EXPECT_EQ(zt::released(p.cons), 8u);
    EXPECT_EQ(*single.as<int>(), 8);
    EXPECT_EQ(std::distance(b.begin(), b.end()), 0);
}

/* Singles and batches opened in ring order, released in a shuffled order:
 * after each release the producer has regained exactly the longest prefix
 * of released views (the C core's ledger), never more, never less. */
TEST(Release, AnyOrderReleasesTheReleasedPrefix)
{
    auto p = zt::open_pair(1 << 20);
    constexpr int kViews = 40;
    std::uint32_t seed = 12345;
    auto rnd = [&seed] { return seed = seed * 1664525u + 1013904223u, seed >> 8; };
    for (int round = 0; round < 20; round++) {
        std::vector<zipc::view> singles;
        std::vector<zipc::batch> batches;
        std::vector<std::pair<int, std::size_t>> order; /* (kind, index): 0 single, 1 batch */
        std::vector<std::uint64_t> ends;                /* messages released once each view is gone */
        std::uint64_t base = zt::released(p.cons), opened = 0;
        for (int i = 0; i < kViews; i++) {
            std::size_t n = rnd() % 3 == 0 ? 1 + rnd() % 4 : 1;
            for (std::size_t k = 0; k < n; k++)
                p.prod.send_pod(static_cast<int>(opened + k));
            if (n == 1) {
                singles.push_back(p.cons.view(1s));
                order.emplace_back(0, singles.size() - 1);
            } else {
                batches.emplace_back(n);
                ASSERT_EQ(p.cons.drain(batches.back(), 1s), n);
                order.emplace_back(1, batches.size() - 1);
            }
            opened += n;
            ends.push_back(base + opened);
        }
        std::vector<std::size_t> perm(order.size());
        for (std::size_t i = 0; i < perm.size(); i++)
            perm[i] = i;
        for (std::size_t i = perm.size(); i > 1; i--)
            std::swap(perm[i - 1], perm[rnd() % i]);
        std::vector<bool> gone(order.size());
        for (std::size_t i : perm) {
            auto [kind, at] = order[i];
            if (kind == 0)
                singles[at].release();
            else
                batches[at].release();
            gone[i] = true;
            std::size_t prefix = 0;
            while (prefix < gone.size() && gone[prefix])
                prefix++;
            EXPECT_EQ(zt::released(p.cons), prefix ? ends[prefix - 1] : base);
        }
    }
}

TEST(Release, BatchDyingBeforeAnOlderMessageWaits)
{
    auto p = zt::open_pair();
    for (int i = 0; i < 5; i++)
        p.prod.send_pod(i);
    auto first = p.cons.view();
    {
        zipc::batch b(8);
        EXPECT_EQ(p.cons.drain(b), 4u);
    }
    EXPECT_EQ(zt::released(p.cons), 0u);
    first.release();
    EXPECT_EQ(zt::released(p.cons), 5u);
}

TEST(Release, RecvCopiesAndRefusesWithOpenViews)
{
    auto p = zt::open_pair();
    send_text(p.prod, "hello world", 9);
    std::array<std::byte, 4> small{};
    EXPECT_EQ(thrown_errno([&] { p.cons.recv(small); }), EMSGSIZE); /* kept */
    std::array<std::byte, 64> buf{};
    zipc::message r = p.cons.recv(buf);
    EXPECT_EQ(r.size, 11u);
    EXPECT_EQ(r.type, 9u);
    EXPECT_EQ(std::memcmp(buf.data(), "hello world", 11), 0);
    send_text(p.prod, "a");
    send_text(p.prod, "b");
    auto held = p.cons.view();
    EXPECT_TRUE(p.cons.try_recv(buf).error() == std::errc::connection_already_in_progress);
}

// ---- the channel object -----------------------------------------------------

TEST(Channel, MoveKeepsViewsWorking)
{
    auto p = zt::open_pair();
    send_text(p.prod, "a");
    send_text(p.prod, "b");
    auto a = p.cons.view();
    zipc::channel moved = std::move(p.cons);
    EXPECT_FALSE(p.cons);
    auto b = moved.view();
    a.release(); /* releases through the moved channel's state */
    b.release();
    EXPECT_EQ(zt::released(moved), 2u);
}

TEST(Channel, PeerGoneAfterDraining)
{
    auto p = zt::open_pair();
    send_text(p.prod, "last");
    p.prod.close();
    EXPECT_EQ(text_of(p.cons.view(1s)), "last");
    EXPECT_EQ(thrown_errno([&] { p.cons.view(1s); }), EPIPE);
    try {
        p.cons.view(1s);
    } catch (const zipc::error &e) {
        EXPECT_TRUE(e.code() == std::errc::broken_pipe);
    }
}

TEST(Channel, ListenerMayProduce)
{
    std::string path = zt::sock_path();
    zipc::channel prod;
    std::thread t([&] { prod = zipc::channel::listen(path, 4096, zipc::options().role(zipc::role::producer).label("cpp")); });
    zipc::channel cons = zipc::channel::connect(path, zipc::options().handshake_timeout(5s));
    t.join();
    EXPECT_TRUE(cons.role() == zipc::role::consumer);
    EXPECT_GE(prod.fd(), 0);
    prod.send_pod(std::uint64_t{7});
    EXPECT_EQ(*cons.recv_pod<std::uint64_t>(1s), 7u);
    prod.shutdown();
    EXPECT_EQ(thrown_errno([&] { prod.send_pod(1); }), EPIPE);
    EXPECT_EQ(thrown_errno([&] { cons.view(1s); }), EPIPE);
}

TEST(Channel, MaxSegmentBoundsWhatAConnectorMaps)
{
    std::string path = zt::sock_path();
    std::thread t([&] {
        try { /* the connector refuses the segment: the listener fails or times out */
            zipc::channel::listen(path, 1 << 16, zipc::options().handshake_timeout(2s).label("big"));
        } catch (const zipc::error &) {
        }
    });
    int err = 0;
    std::string name;
    try {
        zipc::channel::connect(path, zipc::options().handshake_timeout(5s).max_segment(4096));
    } catch (const zipc::error &e) {
        err = e.errno_value();
        name = e.name();
    }
    t.join();
    EXPECT_EQ(err, EFBIG);
    EXPECT_EQ(name, "EFBIG");
    static_assert(zipc::default_max_segment == ZIPC_DEFAULT_MAX_SEGMENT);
    static_assert(zipc::default_timeout.count() == ZIPC_DEFAULT_TIMEOUT_NS);
}

// ---- typed: POD and tensors --------------------------------------------------

TEST(Pod, RoundTripAndSizeCheck)
{
    auto p = zt::open_pair();
    zt::tick t{42, 1700000000123456789, 101.25, 3.5f, 1};
    p.prod.send_pod(t, zt::tick_type);
    p.prod.send_pod(std::uint16_t{1}, zt::tick_type); /* wrong size */
    p.prod.send_pod(t, zt::tick_type);
    p.prod.send_pod(std::uint8_t{1});
    auto got = p.cons.recv_pod<zt::tick>();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->seq, 42u);
    EXPECT_EQ(got->price, 101.25);
    EXPECT_EQ(got->side, 1u);
    EXPECT_FALSE(p.cons.recv_pod<zt::tick>()); /* consumed, not a tick */
    auto again = p.cons.recv_pod<zt::tick>(1s, std::nothrow);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->ts_ns, 1700000000123456789);
    EXPECT_TRUE(p.cons.recv_pod<zt::tick>(1s, std::nothrow).error() == std::errc::bad_message);
    EXPECT_TRUE(p.cons.try_recv_pod<zt::tick>().is_timeout());
    EXPECT_FALSE(p.prod.try_send_pod(t));
}

TEST(Tensor, SendAndViewInPlace)
{
    auto p = zt::open_pair(1 << 16);
    const float data[6] = {0, 0.25f, 0.5f, 0.75f, 1, 1.25f};
    p.prod.send_tensor(data, {2, 3});
    auto m = p.cons.view(1s);
    EXPECT_EQ(m.type(), zipc::type_id::tensor);
    auto t = m.tensor();
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->dtype() == zipc::dtype_of<float>());
    EXPECT_EQ(t->ndim(), 2u);
    EXPECT_EQ(t->shape()[0], 2);
    EXPECT_EQ(t->shape()[1], 3);
    EXPECT_EQ(t->strides()[0], 3);
    EXPECT_EQ(t->strides()[1], 1);
    EXPECT_EQ(t->size(), 6u);
    EXPECT_EQ(t->nbytes(), 24u);
    EXPECT_TRUE(t->contiguous());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t->data()) % 64, 0u); /* 64-byte aligned in the ring */
    EXPECT_EQ(std::memcmp(t->data_as<float>(), data, sizeof data), 0);
    EXPECT_EQ(thrown_errno([&] { t->data_as<std::int32_t>(); }), EINVAL);
}

TEST(Tensor, ReserveInPlaceScalarAndErrors)
{
    auto p = zt::open_pair(1 << 16);
    {
        auto r = p.prod.reserve_tensor<std::int64_t>({4});
        EXPECT_EQ(r.size(), 4u);
        for (std::size_t i = 0; i < r.size(); i++)
            r.data()[i] = static_cast<std::int64_t>(i) * -3;
        r.commit();
    }
    { auto dropped = p.prod.reserve_tensor<float>({1000}); } /* aborted */
    const std::uint8_t seven = 7;
    p.prod.send_tensor(&seven, {});
    EXPECT_EQ(thrown_errno([&] { p.prod.send_tensor(&seven, {-1}); }), EINVAL);
    EXPECT_EQ(thrown_errno([&] { p.prod.send_tensor(&seven, {1, 1, 1, 1, 1, 1, 1, 1, 1}); }), EINVAL);
    auto a = p.cons.view(1s), b = p.cons.view(1s);
    auto ta = a.tensor().value(), tb = b.tensor().value();
    EXPECT_EQ(ta.data_as<std::int64_t>()[3], -9);
    EXPECT_EQ(tb.ndim(), 0u);
    EXPECT_EQ(tb.size(), 1u);
    EXPECT_EQ(*tb.data_as<std::uint8_t>(), 7);
}

TEST(Tensor, ValidationRejectsHostileHeaders)
{
    const float data[4] = {1, 2, 3, 4};
    auto h = zipc::tensor_header<float>({4});
    std::vector<std::byte> buf(zipc::tensor_payload_size(h));
    zipc::write_tensor(buf, h, data);
    EXPECT_TRUE(zipc::tensor_view::parse(buf));
    auto corrupt = [&](auto edit) {
        std::vector<std::byte> copy = buf;
        zipc_tensor_header bad;
        std::memcpy(&bad, copy.data(), sizeof bad);
        edit(bad);
        std::memcpy(copy.data(), &bad, sizeof bad);
        return zipc::tensor_view::parse(copy).error() == std::errc::bad_message;
    };
    EXPECT_TRUE(corrupt([](zipc_tensor_header &x) { x.magic = 0; }));
    EXPECT_TRUE(corrupt([](zipc_tensor_header &x) { x.nbytes = 1 << 20; }));
    EXPECT_TRUE(corrupt([](zipc_tensor_header &x) { x.shape[0] = 5; }));
    EXPECT_TRUE(corrupt([](zipc_tensor_header &x) { x.strides[0] = -1; }));
    EXPECT_TRUE(corrupt([](zipc_tensor_header &x) { x.ndim = 9; }));
    EXPECT_TRUE(zipc::tensor_view::parse(zipc::const_bytes(buf.data(), 100)).error() == std::errc::bad_message);
    volatile std::size_t small_size = 8; /* opaque: else gcc -O2 + TSan warns on the path the throw guards */
    std::vector<std::byte> small(small_size);
    EXPECT_EQ(thrown_errno([&] { zipc::write_tensor(small, h, data); }), EMSGSIZE);
}

TEST(Tensor, NonTensorMessageIsBadMessage)
{
    auto p = zt::open_pair();
    send_text(p.prod, "not a tensor", zipc::type_id::str);
    EXPECT_TRUE(p.cons.view(1s).tensor().error() == std::errc::bad_message);
}

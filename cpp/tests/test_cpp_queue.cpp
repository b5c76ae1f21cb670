/* zipc.hpp's queue: zipc::queue (a producer or a consumer, by role), the
 * shared view/batch/reservation and typed helpers on it, delivery info,
 * end of stream, interrupt; and real processes: 2 producers x 2 consumers
 * (checksummed, every message exactly once, end of stream for both), and a
 * consumer SIGKILLed holding views (its messages come again, attempt 2). */
#include "testing.hpp"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <set>

using namespace std::chrono_literals;

namespace {

using zt::reap;
using zt::spawn;
using zt::wait_until;
using zt::shared;
using zt::unshare;

/* A fresh queue name (a queue has names only: nothing on disk). */
std::string queue_name()
{
    static int n;
    return "zipc-cpp-queue-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

zipc::queue open_as(const std::string &name, zipc::role r, const zipc::queue_config &cfg = {})
{
    return zipc::queue::open(name, r, cfg, zipc::options().handshake_timeout(10s));
}

/* A checksummed message of producer `id`, number k: a header, then bytes
 * derived from (id, k) over a size that varies with k. */
struct head {
    std::uint32_t id;
    std::uint32_t size; /* the whole message */
    std::uint64_t k;
    std::uint64_t sum; /* FNV-1a of the bytes after the header */
};
static_assert(sizeof(head) == 24, "24-byte header");
constexpr std::uint32_t msg_type = 0x71756575; /* "queu" */

std::size_t msg_size(std::uint64_t k) { return sizeof(head) + static_cast<std::size_t>(k * 37 % 900); }
std::uint8_t msg_byte(std::uint32_t id, std::uint64_t k, std::size_t i)
{
    return static_cast<std::uint8_t>(k * 31 + i * 7 + id * 101);
}
std::uint64_t fnv(const std::uint8_t *p, std::size_t n)
{
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Write message (id, k) in place: the queue's reservation, not a copy. */
void put(zipc::queue &q, std::uint32_t id, std::uint64_t k, bool more = false)
{
    std::size_t n = msg_size(k);
    zipc::reservation r = q.reserve(n, 10s);
    auto *body = reinterpret_cast<std::uint8_t *>(r.data()) + sizeof(head);
    for (std::size_t i = 0; i < n - sizeof(head); i++)
        body[i] = msg_byte(id, k, i);
    head h{id, static_cast<std::uint32_t>(n), k, fnv(body, n - sizeof(head))};
    std::memcpy(r.data(), &h, sizeof h);
    if (more)
        r.commit(n, msg_type, zipc::more);
    else
        r.commit(n, msg_type);
}

/* The message's header if it is intact (size, bytes and checksum agree). */
std::optional<head> check(zipc::view_ref m)
{
    head h;
    if (m.type() != msg_type || m.size() < sizeof h)
        return std::nullopt;
    std::memcpy(&h, m.data(), sizeof h);
    if (h.size != m.size() || m.size() != msg_size(h.k))
        return std::nullopt;
    const auto *body = reinterpret_cast<const std::uint8_t *>(m.data()) + sizeof h;
    for (std::size_t i = 0; i < m.size() - sizeof h; i++)
        if (body[i] != msg_byte(h.id, h.k, i))
            return std::nullopt;
    if (fnv(body, m.size() - sizeof h) != h.sum)
        return std::nullopt;
    return h;
}

} // namespace

// ---- values, errors -----------------------------------------------------

/* An endpoint is its C pointer; the queue's views are the channel's (the
 * endpoint they go back to is one pointer and its type). */
static_assert(sizeof(zipc::queue) == sizeof(void *), "an endpoint is one pointer");
static_assert(sizeof(zipc::view) == sizeof(zipc_msg) + 2 * sizeof(void *), "a view: the message and its endpoint");
static_assert(std::is_nothrow_move_constructible_v<zipc::queue> && !std::is_copy_constructible_v<zipc::queue>,
              "move-only");

TEST(Queue, ConfigIsTheCStruct)
{
    zipc_queue_config c = zipc::queue_config{1 << 16, true}.native();
    EXPECT_EQ(c.lane_capacity, 1u << 16);
    EXPECT_EQ(c.flags, static_cast<std::uint32_t>(ZIPC_QUEUE_AT_MOST_ONCE));
    EXPECT_EQ(c.reserved, 0u);
    zipc_queue_config d = zipc::queue_config{}.native();
    EXPECT_EQ(d.lane_capacity, 0u);
    EXPECT_EQ(d.flags, 0u);
}

TEST(Queue, EmptyEndpointFailsWithEINVAL)
{
    zipc::queue q;
    EXPECT_FALSE(q);
    EXPECT_TRUE(q.try_send(zipc::as_bytes("x", 1)) == std::errc::invalid_argument);
    EXPECT_TRUE(q.try_view().error() == std::errc::invalid_argument);
    EXPECT_TRUE(q.role() == zipc::role::default_);
    EXPECT_EQ(q.capacity(), 0u);
    EXPECT_FALSE(q.at_most_once());
    EXPECT_THROW(q.fd(), zipc::error);
    q.interrupt();
}

TEST(Queue, BadArguments)
{
    auto code = [](auto &&f) {
        try {
            f();
        } catch (const zipc::error &e) {
            return e.code();
        }
        return std::error_code();
    };
    /* a path, the default role, a lane too large */
    EXPECT_TRUE(code([] { zipc::queue::open("/tmp/q", zipc::role::producer); }) == std::errc::invalid_argument);
    EXPECT_TRUE(code([] { zipc::queue::open(queue_name(), zipc::role::default_); }) == std::errc::invalid_argument);
    EXPECT_TRUE(code([] { zipc::queue::open(queue_name(), zipc::role::consumer, {std::uint64_t{1} << 40}); }) ==
                std::errc::invalid_argument);
    std::error_code ec = code([] { zipc::queue::open("/tmp/q", zipc::role::producer); });
    EXPECT_EQ(std::string(zipc::error(ec, "x").name()), "EINVAL");
}

// ---- one process ----------------------------------------------------------

TEST(Queue, RolesSizesAndWrongRoleCalls)
{
    std::string name = queue_name();
    zipc::queue p = open_as(name, zipc::role::producer, {4096, true});
    zipc::queue c = open_as(name, zipc::role::consumer, {1 << 20}); /* attaches: the creator's config */
    EXPECT_TRUE(p.role() == zipc::role::producer);
    EXPECT_TRUE(c.role() == zipc::role::consumer);
    EXPECT_EQ(p.capacity(), 4096u);
    EXPECT_EQ(c.capacity(), 4096u);
    EXPECT_EQ(c.max_message(), p.max_message());
    EXPECT_TRUE(p.at_most_once() && c.at_most_once());
    EXPECT_EQ(p.producers(), 1);
    EXPECT_EQ(c.consumers(), 1);
    EXPECT_GE(p.slot(), 0);
    EXPECT_GE(p.fd(), 0);
    EXPECT_GE(c.fd(), 0);
    EXPECT_TRUE(c.try_view().error() == std::errc::resource_unavailable_try_again);
    EXPECT_TRUE(c.try_reserve(8).error() == std::errc::operation_not_supported);
    EXPECT_TRUE(p.try_view().error() == std::errc::operation_not_supported);
    EXPECT_TRUE(p.try_reserve(p.max_message() + 1).error() == std::errc::message_size);
    try {
        c.send_pod(1, 0, 0s);
        ASSERT_TRUE(false);
    } catch (const zipc::error &e) {
        EXPECT_NE(std::string(e.what()).find("zipc_queue_send"), std::string::npos);
    }
}

TEST(Queue, EveryFormDeliveryInfoAndEndOfStream)
{
    std::string name = queue_name();
    zipc::queue p = open_as(name, zipc::role::producer);
    zipc::queue c = open_as(name, zipc::role::consumer);
    const auto lane = static_cast<std::uint32_t>(p.slot());
    for (std::uint64_t k = 0; k < 12; k++)
        put(p, 0, k, k % 4 == 1); /* some staged, published by the next plain commit */
    {
        zipc::view v = c.view(1s);
        EXPECT_EQ(check(v)->k, 0u);
        EXPECT_EQ(v.seq(), 0u);
        EXPECT_EQ(v.producer(), lane);
        EXPECT_EQ(v.attempt(), 1u);
        EXPECT_FALSE(v.release());
        EXPECT_FALSE(v);
    }
    /* views given back out of order, one kept across others */
    zipc::view a = c.view(1s), b = c.view(1s), d = c.view(1s);
    EXPECT_EQ(check(a)->k + check(b)->k + check(d)->k, 1u + 2 + 3);
    EXPECT_FALSE(b.release());
    zipc::view held; /* the hot-loop form */
    EXPECT_FALSE(c.view(held, 1s, std::nothrow));
    EXPECT_EQ(check(held)->k, 4u);
    EXPECT_FALSE(a.release());
    zipc::batch batch(3);
    EXPECT_EQ(c.drain(batch, 1s), 3u);
    std::uint64_t k = 5;
    for (zipc::view_ref m : batch) {
        EXPECT_EQ(check(m)->k, k++);
        EXPECT_EQ(m.producer(), lane);
        EXPECT_EQ(m.attempt(), 1u);
    }
    EXPECT_FALSE(d.release());
    EXPECT_FALSE(batch.release());
    held.release();
    /* recv copies; a short buffer keeps the message for the next recv */
    std::vector<std::byte> buf(2000);
    char tiny[8];
    zipc::result<zipc::message> small = c.recv(zipc::as_writable_bytes(tiny, sizeof tiny), 1s, std::nothrow);
    EXPECT_TRUE(small.error() == std::errc::message_size);
    zipc::message m = c.recv(buf, 1s);
    EXPECT_EQ(m.size, msg_size(8));
    EXPECT_TRUE(m.type == msg_type);
    head h;
    std::memcpy(&h, buf.data(), sizeof h);
    EXPECT_EQ(h.k, 8u);
    EXPECT_EQ(c.recv(buf, 1s).size, msg_size(9));
    EXPECT_EQ(check(*c.try_view())->k, 10u);
    EXPECT_EQ(check(c.view(1s))->k, 11u);
    EXPECT_TRUE(c.try_view().is_timeout());
    EXPECT_EQ(c.stats().messages, 12u);
    EXPECT_EQ(p.stats().messages, 12u);

    /* the typed helpers of channel and topic: pods and tensors */
    p.send_pod(std::uint64_t{77}, 5);
    EXPECT_EQ(c.recv_pod<std::uint64_t>(1s).value(), 77u);
    EXPECT_FALSE(p.try_send_pod(std::uint32_t{3}, 5));
    EXPECT_EQ(c.try_recv_pod<std::uint32_t>().value(), 3u);
    p.send_tensor<float>(std::vector<float>{1, 2, 3, 4, 5, 6}.data(), {2, 3});
    zipc::tensor_reservation<std::int32_t> tr = p.reserve_tensor<std::int32_t>({4});
    for (std::size_t i = 0; i < tr.size(); i++)
        tr.data()[i] = static_cast<std::int32_t>(i * 10);
    tr.commit(zipc::more);
    p.flush();
    zipc::view t = c.view(1s);
    auto tv = t.tensor();
    ASSERT_TRUE(tv);
    EXPECT_EQ(tv->shape()[1], 3);
    EXPECT_EQ(tv->data_as<float>()[5], 6.0f);
    zipc::view t2 = c.view(1s);
    EXPECT_EQ(t2.tensor()->data_as<std::int32_t>()[3], 30);

    /* end of stream: the producer leaves, the rest is taken, then EPIPE */
    p.send(zipc::as_bytes(std::string("last")), 1);
    p.close();
    EXPECT_EQ(c.view(1s).text(), "last");
    t.release();
    t2.release();
    zipc::result<zipc::view> end = c.view(1s, std::nothrow);
    EXPECT_TRUE(end.error() == std::errc::broken_pipe);
    EXPECT_THROW(c.view(0s), zipc::error);
    /* a producer joining later starts a new stream */
    zipc::queue p2 = open_as(name, zipc::role::producer);
    put(p2, 1, 0);
    EXPECT_EQ(check(c.view(1s))->id, 1u);
}

TEST(Queue, LingerWaitsForAConsumer)
{
    std::string name = queue_name();
    zipc::queue p = open_as(name, zipc::role::producer);
    p.send_pod(std::uint64_t{42}, 3);
    std::error_code ec;
    try {
        p.linger(50ms); /* alone: nobody came */
    } catch (const zipc::error &e) {
        ec = e.code();
    }
    EXPECT_TRUE(ec == std::errc::timed_out);
    zipc::queue c = open_as(name, zipc::role::consumer);
    p.linger(1s); /* a member holds the queue: at once */
    p.close();
    EXPECT_EQ(c.recv_pod<std::uint64_t>(1s).value(), 42u);
    EXPECT_TRUE(c.try_view().error() == std::errc::broken_pipe);
}

TEST(Queue, InterruptWakesABlockedConsumer)
{
    std::string name = queue_name();
    zipc::queue p = open_as(name, zipc::role::producer);
    zipc::queue c = open_as(name, zipc::role::consumer);
    std::atomic<bool> woke{false};
    std::error_code ec;
    std::thread t([&] {
        ec = c.view(zipc::forever, std::nothrow).error();
        woke = true;
    });
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(woke.load());
    c.interrupt();
    t.join();
    EXPECT_TRUE(ec == std::errc::operation_canceled);
    /* a producer whose lane is full of messages nobody released (alone, its
     * close lingers for a consumer: 100 ms, then the messages go with it) */
    zipc::queue small_p;
    {
        std::string other = queue_name();
        small_p = zipc::queue::open(other, zipc::role::producer, {4096}, zipc::options().handshake_timeout(100ms));
        while (!small_p.try_send_pod(std::uint64_t{1}))
            ;
        std::thread w([&] { ec = small_p.send_pod(std::uint64_t{2}, 0, zipc::forever, std::nothrow); });
        std::this_thread::sleep_for(20ms);
        small_p.interrupt();
        w.join();
        EXPECT_TRUE(ec == std::errc::operation_canceled);
    }
}

// ---- real processes ---------------------------------------------------------

namespace {

constexpr int producers = 2, consumers = 2;
constexpr std::uint64_t per_producer = 20000;

struct board {
    std::atomic<std::uint32_t> seen[producers][per_producer];
    std::atomic<std::uint32_t> lane_of[producers]; /* 1 + the lane its messages came from */
    std::atomic<std::uint32_t> torn, retried, eos;
};

int produce(const std::string &name, std::uint32_t id)
{
    zipc::queue q = open_as(name, zipc::role::producer, {1 << 16});
    /* every producer attaches before any sends: the end of the stream cannot
     * come between the first one's leaving and the second one's joining */
    CHILD_CHECK(wait_until([&] { return q.producers() == producers; }));
    for (std::uint64_t k = 0; k < per_producer; k++) {
        if (k % 5 == 0)
            q.send_pod(k, 0); /* an odd message between: a pod, no header (skipped by the consumers) */
        put(q, id, k, k % 8 == 3);
    }
    return 0; /* closing publishes what is staged */
}

/* Mark one message; false if it is torn. last[id]: FIFO per producer. */
bool mark(board *b, zipc::view_ref m, std::uint64_t *last)
{
    if (m.type() != msg_type) /* the pods */
        return m.size() == sizeof(std::uint64_t);
    std::optional<head> h = check(m);
    if (!h || h->id >= producers || h->k >= per_producer) {
        b->torn++;
        return false;
    }
    if (last[h->id] != UINT64_MAX && h->k <= last[h->id])
        return false;
    last[h->id] = h->k;
    std::uint32_t lane = m.producer() + 1, none = 0;
    if (!b->lane_of[h->id].compare_exchange_strong(none, lane) && none != lane)
        return false; /* one producer's messages come from one lane */
    b->retried += m.attempt() != 1;
    b->seen[h->id][h->k]++;
    return true;
}

/* Consumer 0 drains batches; consumer 1 keeps up to 4 views and gives them
 * back out of order. Both end at EPIPE. */
int consume(const std::string &name, board *b, int which)
{
    zipc::queue q = open_as(name, zipc::role::consumer);
    std::uint64_t last[producers] = {UINT64_MAX, UINT64_MAX};
    zipc::batch batch(16);
    zipc::view held[4];
    for (std::uint64_t n = 0;; n++) {
        std::error_code ec;
        if (which == 0) {
            zipc::result<std::size_t> got = q.drain(batch, 20s, std::nothrow);
            ec = got.error();
            for (std::size_t i = 0; got && i < *got; i++)
                CHILD_CHECK(mark(b, batch[i], last));
        } else {
            zipc::view &v = held[(n * 2654435761u >> 7) % 4]; /* views die in a scrambled order */
            ec = q.try_view(v);
            if (ec == std::errc::resource_unavailable_try_again) {
                /* never wait holding views: they pin the producers' rings (oldest first) */
                for (zipc::view &h : held)
                    h.release();
                ec = q.view(v, 20s, std::nothrow);
            }
            if (!ec)
                CHILD_CHECK(mark(b, v, last));
        }
        if (ec) {
            CHILD_CHECK(ec == std::errc::broken_pipe);
            break;
        }
    }
    b->eos++;
    return 0;
}

} // namespace

TEST(QueueProcess, TwoProducersTwoConsumersExactlyOnce)
{
    std::string name = queue_name();
    board *b = shared<board>();
    ASSERT_TRUE(b != nullptr);
    pid_t kids[producers + consumers];
    for (int i = 0; i < consumers; i++) /* the consumers first: they create the queue */
        kids[i] = spawn([&] { return consume(name, b, i); });
    for (int i = 0; i < producers; i++)
        kids[consumers + i] = spawn([&] { return produce(name, static_cast<std::uint32_t>(i)); });
    for (pid_t k : kids)
        EXPECT_EQ(reap(k), 0);
    std::uint64_t missing = 0, twice = 0;
    for (auto &row : b->seen)
        for (auto &n : row) {
            missing += n == 0;
            twice += n > 1;
        }
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(twice, 0u);
    EXPECT_EQ(b->torn.load(), 0u);
    EXPECT_EQ(b->retried.load(), 0u); /* nobody died: every delivery is the first */
    EXPECT_EQ(b->eos.load(), static_cast<std::uint32_t>(consumers));
    EXPECT_NE(b->lane_of[0].load(), b->lane_of[1].load());
    unshare(b);
}

TEST(QueueProcess, KilledConsumersViewsComeAgain)
{
    std::string name = queue_name();
    const std::uint64_t total = 50, held = 3;
    int fds[2];
    ASSERT_TRUE(pipe(fds) == 0);
    /* a consumer that takes three messages and dies holding them */
    pid_t victim = spawn([&] {
        close(fds[0]);
        zipc::queue q = open_as(name, zipc::role::consumer);
        zipc::view views[held]; /* never released: SIGKILL first */
        for (std::uint64_t i = 0; i < held; i++) {
            views[i] = q.view(10s);
            std::uint64_t k = check(views[i])->k;
            CHILD_CHECK(views[i].attempt() == 1);
            CHILD_CHECK(write(fds[1], &k, sizeof k) == static_cast<ssize_t>(sizeof k));
        }
        raise(SIGKILL);
        return 1;
    });
    close(fds[1]);
    zipc::queue p = open_as(name, zipc::role::producer);
    for (std::uint64_t k = 0; k < total; k++)
        put(p, 0, k);
    std::set<std::uint64_t> victims;
    std::uint64_t k;
    while (read(fds[0], &k, sizeof k) == static_cast<ssize_t>(sizeof k))
        victims.insert(k);
    close(fds[0]);
    EXPECT_EQ(reap(victim), 128 + SIGKILL);
    ASSERT_EQ(victims.size(), held);

    zipc::queue c = open_as(name, zipc::role::consumer);
    std::set<std::uint64_t> got, again;
    while (got.size() < total) {
        zipc::view v = c.view(10s);
        std::optional<head> h = check(v);
        ASSERT_TRUE(h.has_value());
        EXPECT_TRUE(got.insert(h->k).second); /* once each */
        EXPECT_EQ(v.attempt(), victims.count(h->k) ? 2u : 1u);
        if (v.attempt() == 2)
            again.insert(h->k);
    }
    EXPECT_TRUE(again == victims);
    EXPECT_EQ(c.stats().redelivered, held);
    p.close();
    EXPECT_TRUE(c.view(5s, std::nothrow).error() == std::errc::broken_pipe);
}

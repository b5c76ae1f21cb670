/* zipc.hpp's rpc: zipc::rpc_client (call, reserve/commit, wait, wait_any,
 * cancel), zipc::rpc_reply (released when it dies), zipc::rpc_worker and
 * zipc::rpc_request (answered in place; answered connection_reset when
 * dropped unanswered); and real processes: a pool of 2 worker processes
 * serving a client with many calls in flight, answered out of order and
 * matched to their calls; a deadline and a cancel reaching the worker
 * process that holds the call; a streamed reply (three parts in order,
 * one out at a time, then the final reply); a worker SIGKILLed holding calls
 * (connection_reset, or run again if idempotent); the example C++ worker
 * (examples/rpc_worker.cpp) doubling float32 arrays. */
#include "testing.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <set>
#include <unordered_map>

using namespace std::chrono_literals;

namespace {

using zt::kill_reap;
using zt::reap;
using zt::shared;
using zt::spawn;
using zt::unshare;
using zt::wait_until;

/* A fresh service name (names only: nothing on disk). */
std::string service_name()
{
    static int n;
    return "zipc-cpp-rpc-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

zipc::options opts() { return zipc::options().handshake_timeout(10s); }

std::uint64_t answer_of(std::uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* What the pool's workers answer: the request's answer_of, and who answered. */
struct answer {
    std::uint64_t value;
    std::int32_t pid;
    std::uint32_t attempt;
};
static_assert(sizeof(answer) == 16, "16 bytes");

/* Answer a request carrying a u64 with an `answer`, in place. */
void respond_answer(zipc::rpc_request &req)
{
    std::optional<std::uint64_t> v = req.as<std::uint64_t>();
    if (!v)
        return req.fail(std::errc::bad_message);
    answer a{answer_of(*v), static_cast<std::int32_t>(getpid()), req.attempt()};
    std::memcpy(req.reply().data(), &a, sizeof a);
    req.respond(sizeof a);
}

/* The error code a throwing call threw (none: it did not throw). */
template <class F> std::error_code thrown(F &&f)
{
    try {
        f();
    } catch (const zipc::error &e) {
        return e.code();
    }
    return {};
}

/* Wait up to ms for one byte on fd. */
bool await_byte(int fd, int ms)
{
    pollfd p{fd, POLLIN, 0};
    char c;
    return poll(&p, 1, ms) == 1 && read(fd, &c, 1) == 1;
}

} // namespace

// ---- values, errors -----------------------------------------------------------

static_assert(sizeof(zipc::rpc_client) == sizeof(void *) && sizeof(zipc::rpc_worker) == sizeof(void *),
              "an endpoint is one pointer");
static_assert(std::is_nothrow_move_constructible_v<zipc::rpc_reply> && !std::is_copy_constructible_v<zipc::rpc_reply>,
              "a reply is move-only");
static_assert(std::is_nothrow_move_constructible_v<zipc::rpc_request> &&
                  !std::is_copy_constructible_v<zipc::rpc_request>,
              "a request is move-only");
static_assert(std::is_nothrow_move_constructible_v<zipc::rpc_reservation> &&
                  !std::is_copy_constructible_v<zipc::rpc_reservation>,
              "a reservation is move-only");

TEST(Rpc, ConfigAndCallOptionsAreTheCValues)
{
    zipc_rpc_config c = zipc::rpc_config{1 << 16}.native();
    EXPECT_EQ(c.lane_capacity, 1u << 16);
    EXPECT_EQ(c.reserved[0] | c.reserved[1], 0u);
    EXPECT_EQ(zipc::rpc_config{}.native().lane_capacity, 0u);
    zipc::call_options o;
    EXPECT_EQ(o.deadline.ns(), ZIPC_FOREVER);
    EXPECT_EQ(o.reply_capacity, std::size_t{ZIPC_RPC_DEFAULT_REPLY});
    EXPECT_EQ(o.flags(), 0u);
    zipc::call_options p{250ms, 64, true};
    EXPECT_EQ(p.deadline.ns(), 250000000);
    EXPECT_EQ(p.flags(), static_cast<unsigned>(ZIPC_RPC_IDEMPOTENT));
}

TEST(Rpc, EmptyEndpointsFailWithEINVAL)
{
    zipc::rpc_client c;
    zipc::rpc_worker w;
    EXPECT_FALSE(c);
    EXPECT_FALSE(w);
    EXPECT_TRUE(c.call(1, zipc::as_bytes("x", 1), {}, std::nothrow).error() == std::errc::invalid_argument);
    EXPECT_TRUE(c.reserve(8, {}, std::nothrow).error() == std::errc::invalid_argument);
    EXPECT_TRUE(c.try_wait_any().error() == std::errc::invalid_argument);
    EXPECT_TRUE(c.cancel(1, std::nothrow) == std::errc::invalid_argument);
    EXPECT_TRUE(w.try_next().error() == std::errc::invalid_argument);
    EXPECT_EQ(c.in_flight(), 0u);
    EXPECT_THROW(c.fd(), zipc::error);
    EXPECT_THROW(w.fd(), zipc::error);
    c.interrupt();
    w.interrupt();
    zipc::rpc_reply r;
    zipc::rpc_request q;
    zipc::rpc_reservation s;
    EXPECT_FALSE(r);
    EXPECT_FALSE(q);
    EXPECT_FALSE(s);
    EXPECT_FALSE(r.release());
    EXPECT_TRUE(q.respond(0, 0, std::nothrow) == std::errc::invalid_argument);
    EXPECT_TRUE(s.commit(1, 0, std::nothrow).error() == std::errc::invalid_argument);
}

TEST(Rpc, AQueueIsNotAServiceNorTheReverse)
{
    std::string qname = service_name(), sname = service_name();
    zipc::queue q = zipc::queue::open(qname, zipc::role::consumer, {}, opts());
    std::error_code ec = thrown([&] { zipc::rpc_client::connect(qname, {}, opts()); });
    EXPECT_TRUE(ec == std::errc::wrong_protocol_type);
    EXPECT_EQ(std::string(zipc::error(ec, "x").name()), "EPROTOTYPE");
    zipc::rpc_worker w = zipc::rpc_worker::serve(sname, {}, opts());
    EXPECT_TRUE(thrown([&] { zipc::queue::open(sname, zipc::role::producer, {}, opts()); }) ==
                std::errc::wrong_protocol_type);
    EXPECT_TRUE(thrown([] { zipc::rpc_worker::serve("/tmp/a-path", {}, opts()); }) == std::errc::invalid_argument);
}

// ---- one process: a client and a worker side by side ---------------------------

TEST(Rpc, CallRespondWaitAndTheReplyReleasedByItsDestructor)
{
    std::string name = service_name();
    zipc::rpc_client c = zipc::rpc_client::connect(name, {}, opts());
    zipc::rpc_worker w = zipc::rpc_worker::serve(name, {}, opts());
    EXPECT_GE(c.fd(), 0);
    EXPECT_GE(w.fd(), 0);

    std::uint64_t id = c.call(7, zipc::as_bytes(std::string_view("hello")));
    EXPECT_EQ(c.in_flight(), 1u);
    zipc::rpc_request req = w.next(1s);
    ASSERT_TRUE(req);
    EXPECT_EQ(req.text(), "hello");
    EXPECT_EQ(req.id(), id);
    EXPECT_EQ(req.seq(), id);
    EXPECT_EQ(req.method(), 7u);
    EXPECT_EQ(req.attempt(), 1u);
    EXPECT_FALSE(req.idempotent());
    EXPECT_FALSE(req.deadline().has_value());
    EXPECT_EQ(req.reply_capacity(), zipc::default_reply);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(req.reply().data()) % 16, 0u);
    EXPECT_FALSE(req.cancelled());
    std::memcpy(req.reply().data(), "HELLO", 5);
    req.respond(5, 42);
    EXPECT_FALSE(req); /* answered */
    {
        zipc::rpc_reply r = c.wait(id, 1s);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r.text(), "HELLO");
        EXPECT_EQ(r.type(), 42u);
        EXPECT_EQ(r.method(), 7u);
        EXPECT_EQ(r.id(), id);
        EXPECT_EQ(r.seq(), id);
        EXPECT_EQ(c.in_flight(), 1u); /* the reply holds its frame */
        zipc::rpc_reply moved = std::move(r);
        EXPECT_FALSE(r);
        EXPECT_TRUE(moved);
        EXPECT_EQ(c.in_flight(), 1u);
    }
    EXPECT_EQ(c.in_flight(), 0u); /* released by the destructor */
    EXPECT_TRUE(thrown([&] { c.wait(id, 0ms); }) == std::errc::invalid_argument); /* not in flight any more */
    EXPECT_TRUE(c.try_wait_any().error() == std::errc::resource_unavailable_try_again); /* nothing in flight */

    /* many rounds: every frame comes back */
    for (std::uint64_t i = 0; i < 3000; i++) {
        std::uint64_t k = c.call(1, zipc::as_bytes(&i, sizeof i), {zipc::forever, 64});
        zipc::rpc_request q = w.next(1s);
        respond_answer(q);
        zipc::rpc_reply r = c.wait(k, 1s);
        ASSERT_TRUE(r.ok() && r.as<answer>() && r.as<answer>()->value == answer_of(i));
    }
    EXPECT_EQ(c.in_flight(), 0u);
}

TEST(Rpc, ReserveCommitInPlaceAndAnUncommittedReservationIsWithdrawn)
{
    std::string name = service_name();
    zipc::rpc_client c = zipc::rpc_client::connect(name, {}, opts());
    zipc::rpc_worker w = zipc::rpc_worker::serve(name, {}, opts());

    zipc::rpc_reservation res = c.reserve(64, {zipc::forever, 128, true});
    ASSERT_TRUE(res);
    EXPECT_EQ(res.size(), 64u);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(res.data()) % 16, 0u);
    EXPECT_TRUE(c.reserve(8, {}, std::nothrow).error() == std::errc::connection_already_in_progress); /* EALREADY */
    std::uint64_t v = 99;
    std::memcpy(res.data(), &v, sizeof v);
    std::uint64_t id = res.commit(3, sizeof v); /* 8 of the 64 bytes */
    EXPECT_FALSE(res);
    zipc::rpc_request req = w.next(1s);
    EXPECT_EQ(req.size(), 8u);
    EXPECT_TRUE(req.idempotent());
    EXPECT_EQ(req.reply_capacity(), 128u);
    respond_answer(req);
    zipc::rpc_reply r = c.wait_any(1s);
    EXPECT_EQ(r.id(), id);
    EXPECT_EQ(r.method(), 3u);
    ASSERT_TRUE(r.as<answer>().has_value());
    EXPECT_EQ(r.as<answer>()->value, answer_of(99));
    r.release();

    /* dropped uncommitted: no worker sees it, nothing stays in flight, the next reserve works */
    {
        zipc::rpc_reservation dropped = c.reserve(32);
        std::memset(dropped.data(), 0xab, 32);
    }
    EXPECT_EQ(c.in_flight(), 0u);
    EXPECT_TRUE(w.next(50ms, std::nothrow).error() == std::errc::timed_out);
    zipc::rpc_reservation again = c.reserve(8);
    std::memcpy(again.data(), &v, sizeof v);
    again = zipc::rpc_reservation(); /* assigned over: withdrawn too */
    EXPECT_TRUE(w.next(50ms, std::nothrow).error() == std::errc::timed_out);

    /* a full lane: try_ calls do not wait for room (EAGAIN), a reply released makes some */
    {
        std::string small = service_name();
        zipc::rpc_client sc = zipc::rpc_client::connect(small, {1 << 12}, opts());
        zipc::rpc_worker sw = zipc::rpc_worker::serve(small, {}, opts());
        /* a dropped reservation's room is the lane's again at once (zipc_rpc_abort):
         * 32 of 1.5 KiB in a 4 KiB lane, none waits */
        for (int i = 0; i < 32; i++)
            ASSERT_TRUE(sc.try_reserve(1024, {zipc::forever, 512}).has_value());
        EXPECT_EQ(sc.in_flight(), 0u);
        std::vector<std::uint64_t> ids;
        zipc::result<std::uint64_t> more = 0;
        while ((more = sc.try_call(1, zipc::as_bytes(&v, sizeof v), {zipc::forever, 64})))
            ids.push_back(*more);
        EXPECT_TRUE(more.error() == std::errc::resource_unavailable_try_again);
        EXPECT_GE(ids.size(), 8u);
        EXPECT_TRUE(sc.try_reserve(8, {zipc::forever, 64}).error() == std::errc::resource_unavailable_try_again);
        EXPECT_TRUE(sc.reserve(8, {20ms, 64}, std::nothrow).error() == std::errc::timed_out);
        EXPECT_TRUE(sc.try_reserve(8).error() == std::errc::message_size); /* 4 KiB of reply: over half a lane */
        zipc::rpc_request first = sw.next(1s);
        respond_answer(first);
        sc.wait(ids[0], 1s).release();
        EXPECT_TRUE(sc.try_call(1, zipc::as_bytes(&v, sizeof v), {zipc::forever, 64}).has_value());
    }

    /* a tensor request, written in place and read as one by the worker */
    zipc_tensor_header h = zipc::tensor_header<float>({2, 3});
    zipc::rpc_reservation t = c.reserve(zipc::tensor_payload_size(h));
    auto *x = reinterpret_cast<float *>(zipc::write_tensor_header(t.span(), h));
    for (int i = 0; i < 6; i++)
        x[i] = static_cast<float>(i) / 2;
    std::uint64_t tid = t.commit(1);
    zipc::rpc_request treq = w.next(1s);
    zipc::result<zipc::tensor_view> tv = treq.tensor();
    ASSERT_TRUE(tv.has_value());
    EXPECT_EQ(tv->size(), 6u);
    EXPECT_EQ(tv->data_as<float>()[5], 2.5f);
    treq.respond(0);
    EXPECT_TRUE(c.wait(tid, 1s).ok());
    EXPECT_EQ(c.in_flight(), 0u);
}

TEST(Rpc, FailuresReachTheCallerAsTheReplyStatus)
{
    std::string name = service_name();
    zipc::rpc_client c = zipc::rpc_client::connect(name, {}, opts());
    zipc::rpc_worker w = zipc::rpc_worker::serve(name, {}, opts());
    std::uint64_t v = 5;

    /* fail(): the caller's status, no payload */
    std::uint64_t id = c.call(1, zipc::as_bytes(&v, sizeof v));
    w.next(1s).fail(std::errc::operation_not_permitted);
    zipc::rpc_reply r = c.wait(id, 1s);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.status() == std::errc::operation_not_permitted);
    EXPECT_EQ(r.size(), 0u);
    r.release();

    /* a request dropped unanswered: connection_reset, at once */
    id = c.call(1, zipc::as_bytes(&v, sizeof v));
    { zipc::rpc_request dropped = w.next(1s); }
    EXPECT_TRUE(c.wait(id, 1s).status() == std::errc::connection_reset);

    /* a reply larger than the room: refused, the request stays held */
    id = c.call(1, zipc::as_bytes(&v, sizeof v), {zipc::forever, 16});
    zipc::rpc_request req = w.next(1s);
    EXPECT_TRUE(thrown([&] { req.respond(17); }) == std::errc::invalid_argument);
    EXPECT_TRUE(req);
    EXPECT_TRUE(req.fail(std::error_code(), std::nothrow) == std::errc::invalid_argument);
    respond_answer(req);
    EXPECT_TRUE(c.wait(id, 1s).ok());

    /* no reply yet: the wait's own timeout, an exception (the call goes on) */
    id = c.call(1, zipc::as_bytes(&v, sizeof v));
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(c.wait(id, 20ms, std::nothrow).error() == std::errc::timed_out);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    EXPECT_TRUE(c.try_wait(id).error() == std::errc::resource_unavailable_try_again);
    EXPECT_TRUE(thrown([&] { c.wait(id + 1000, 0ms); }) == std::errc::invalid_argument);
    EXPECT_EQ(c.in_flight(), 1u);
    zipc::rpc_request late = w.next(1s);
    respond_answer(late);
    EXPECT_TRUE(c.wait(id, 1s).ok());

    /* interrupt: the blocked (or next) wait ends with operation_canceled */
    id = c.call(1, zipc::as_bytes(&v, sizeof v));
    c.interrupt();
    EXPECT_TRUE(c.wait_any(5s, std::nothrow).error() == std::errc::operation_canceled);
    c.cancel(id);
    w.interrupt();
    EXPECT_TRUE(thrown([&] { w.next(5s); }) == std::errc::operation_canceled);
}

TEST(Rpc, DeadlineAndCancelInOneProcess)
{
    std::string name = service_name();
    zipc::rpc_client c = zipc::rpc_client::connect(name, {}, opts());
    zipc::rpc_worker w = zipc::rpc_worker::serve(name, {}, opts());
    std::uint64_t v = 1;

    /* the deadline passes while the worker holds the call */
    auto t0 = std::chrono::steady_clock::now();
    std::uint64_t id = c.call(2, zipc::as_bytes(&v, sizeof v), {30ms});
    zipc::rpc_request req = w.next(1s);
    ASSERT_TRUE(req.deadline().has_value());
    EXPECT_LE(*req.deadline() - t0, 30ms + 1ms);
    EXPECT_FALSE(req.cancelled());
    zipc::rpc_reply r = c.wait(id, 5s);
    EXPECT_TRUE(r.status() == std::errc::timed_out);
    EXPECT_EQ(r.id(), id);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
    EXPECT_FALSE(r.release()); /* made up by the service: nothing to give back, no error */
    EXPECT_TRUE(req.cancelled());
    req.respond(0); /* late: dropped, no error */
    EXPECT_EQ(c.in_flight(), 0u);

    /* cancelled before any worker took it: never handed out */
    id = c.call(2, zipc::as_bytes(&v, sizeof v));
    c.cancel(id);
    EXPECT_EQ(c.in_flight(), 0u);
    EXPECT_TRUE(w.next(50ms, std::nothrow).error() == std::errc::timed_out);
    EXPECT_TRUE(thrown([&] { c.cancel(id); }) == std::errc::invalid_argument);

    /* cancelled while held: the worker sees it */
    id = c.call(2, zipc::as_bytes(&v, sizeof v));
    req = w.next(1s);
    c.cancel(id);
    EXPECT_TRUE(req.cancelled());
    req.respond(0);

    /* cancelled after the reply came, before it was read: released */
    id = c.call(2, zipc::as_bytes(&v, sizeof v));
    zipc::rpc_request answered = w.next(1s);
    respond_answer(answered);
    c.cancel(id);
    EXPECT_EQ(c.in_flight(), 0u);
    EXPECT_TRUE(c.try_wait_any().error() == std::errc::resource_unavailable_try_again);
}

// ---- real processes -----------------------------------------------------------

/* A worker process of the pool: holds up to 4 requests, answers them newest
 * first (out of order), sometimes after a short random pause. */
int pool_worker(const std::string &name, std::atomic<int> *ready, std::atomic<int> *stop, unsigned seed)
{
    zipc::rpc_worker w = zipc::rpc_worker::serve(name, {}, opts());
    ready->fetch_add(1);
    std::vector<zipc::rpc_request> held;
    while (!stop->load()) {
        zipc::result<zipc::rpc_request> r = w.next(held.empty() ? zipc::timeout(20ms) : zipc::timeout(zipc::try_once),
                                                   std::nothrow);
        if (r)
            held.push_back(std::move(*r));
        else
            CHILD_CHECK(r.is_timeout());
        if (!held.empty() && (held.size() == 4 || !r)) {
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 8 == 0)
                std::this_thread::sleep_for(std::chrono::microseconds((seed >> 8) % 300));
            while (!held.empty()) {
                respond_answer(held.back());
                held.pop_back();
            }
        }
    }
    return 0;
}

TEST(Rpc, PoolOfTwoWorkerProcessesManyCallsInFlightOutOfOrder)
{
    std::string name = service_name();
    auto *ready = shared<std::atomic<int>>();
    auto *stop = shared<std::atomic<int>>();
    ASSERT_TRUE(ready && stop);
    pid_t workers[2];
    for (unsigned i = 0; i < 2; i++)
        workers[i] = spawn([&] { return pool_worker(name, ready, stop, 7 + i); });
    zt::on_exit cleanup{[&] { /* also after a failed ASSERT: no worker outlives the test */
        stop->store(1);
        for (pid_t p : workers)
            EXPECT_EQ(reap(p), 0);
        unshare(ready);
        unshare(stop);
    }};
    {
        zipc::rpc_client c = zipc::rpc_client::connect(name, {1 << 16}, opts());
        ASSERT_TRUE(wait_until([&] { return ready->load() == 2; }));
        const std::uint64_t calls = 4000;
        std::unordered_map<std::uint64_t, std::uint64_t> value_of; /* call id -> its request */
        std::vector<std::uint64_t> order;                         /* ids in flight, oldest first */
        std::map<std::int32_t, int> by_worker;
        std::uint64_t issued = 0, done = 0, out_of_order = 0;
        while (done < calls) {
            /* Never wait for room in the lane with replies to collect: a
             * slow call holds back the room of every later one, and only
             * our releases give it back (try_: EAGAIN when it is full). */
            while (issued < calls && value_of.size() < 64) {
                std::uint64_t v = issued * 7919 + 1, id;
                if (issued % 2) { /* half copied in, half written in place */
                    zipc::result<std::uint64_t> r = c.try_call(1, zipc::as_bytes(&v, sizeof v), {20s, 64});
                    if (r.error() == std::errc::resource_unavailable_try_again)
                        break;
                    id = r.value();
                } else {
                    zipc::result<zipc::rpc_reservation> res = c.try_reserve(sizeof v, {20s, 64});
                    if (res.error() == std::errc::resource_unavailable_try_again)
                        break;
                    std::memcpy(res.value().data(), &v, sizeof v);
                    id = res->commit(1);
                }
                ASSERT_TRUE(value_of.emplace(id, v).second); /* ids are unique among calls in flight */
                order.push_back(id);
                issued++;
            }
            zipc::rpc_reply r = c.wait_any(20s);
            auto it = value_of.find(r.id());
            ASSERT_TRUE(it != value_of.end()); /* a reply to a call of ours */
            ASSERT_TRUE(r.ok());
            std::optional<answer> a = r.as<answer>();
            ASSERT_TRUE(a.has_value());
            ASSERT_EQ(a->value, answer_of(it->second)); /* matched to its own call */
            EXPECT_EQ(a->attempt, 1u);
            by_worker[a->pid]++;
            if (order.front() != r.id())
                out_of_order++;
            order.erase(std::find(order.begin(), order.end(), r.id()));
            value_of.erase(it);
            done++;
        }
        EXPECT_EQ(c.in_flight(), 0u);
        EXPECT_EQ(by_worker.size(), 2u); /* both workers served */
        EXPECT_GE(out_of_order, 1u);     /* replies came out of order, and were matched */
        std::printf("  %llu calls, %llu out of order, worker shares %d / %d\n",
                    static_cast<unsigned long long>(calls), static_cast<unsigned long long>(out_of_order),
                    by_worker.begin()->second, by_worker.rbegin()->second);
    }
}

TEST(Rpc, DeadlineAndCancelReachTheWorkerProcessHoldingTheCall)
{
    struct state {
        std::atomic<int> serving, taken, saw_cancel, stop;
    };
    std::string name = service_name();
    auto *st = shared<state>();
    ASSERT_TRUE(st);
    pid_t worker = spawn([&] {
        zipc::rpc_worker w = zipc::rpc_worker::serve(name, {}, opts());
        st->serving.store(1);
        while (!st->stop.load()) {
            zipc::result<zipc::rpc_request> r = w.next(20ms, std::nothrow);
            if (!r)
                continue;
            st->taken.fetch_add(1);
            CHILD_CHECK(wait_until([&] { return r->cancelled(); }));
            st->saw_cancel.fetch_add(1);
            /* answered all the same, at about the deadline: a late reply
             * is dropped, or seen by the caller as late (timed_out) */
            respond_answer(*r);
        }
        return 0;
    });
    zt::on_exit cleanup{[&] {
        st->stop.store(1);
        EXPECT_EQ(reap(worker), 0);
        unshare(st);
    }};
    {
        zipc::rpc_client c = zipc::rpc_client::connect(name, {}, opts());
        ASSERT_TRUE(wait_until([&] { return st->serving.load() == 1; }));
        std::uint64_t v = 3;
        auto t0 = std::chrono::steady_clock::now();
        /* long enough for the worker to take it on a loaded machine: a call
         * nobody took before its deadline is never handed out */
        std::uint64_t id = c.call(2, zipc::as_bytes(&v, sizeof v), {500ms});
        zipc::rpc_reply r = c.wait(id, 10s);
        auto took = std::chrono::steady_clock::now() - t0;
        EXPECT_TRUE(r.status() == std::errc::timed_out);
        EXPECT_GE(took, 500ms);
        EXPECT_LT(took, 5s);
        EXPECT_TRUE(wait_until([&] { return st->saw_cancel.load() == 1; }));
        EXPECT_EQ(st->taken.load(), 1); /* the worker had it, and saw the deadline pass */

        id = c.call(2, zipc::as_bytes(&v, sizeof v));
        ASSERT_TRUE(wait_until([&] { return st->taken.load() == 2; }));
        c.cancel(id);
        EXPECT_TRUE(wait_until([&] { return st->saw_cancel.load() == 2; }));
        EXPECT_EQ(c.in_flight(), 0u);
    }
}

TEST(Rpc, APartNotReleasedInTimeLeavesRoomForAStatusOnly)
{
    std::string name = service_name();
    zipc::rpc_client c = zipc::rpc_client::connect(name, {}, opts());
    zipc::rpc_worker w = zipc::rpc_worker::serve(name, {}, opts());
    std::uint64_t v = 9;
    std::uint64_t id = c.call(1, zipc::as_bytes(&v, sizeof v), {zipc::forever, 64});
    zipc::rpc_request req = w.next(1s);
    std::memcpy(req.reply().data(), "part", 4);
    EXPECT_TRUE(req.respond_part(4, 7, 1ms, std::nothrow) == std::errc::timed_out);
    EXPECT_TRUE(req.part_wait(1ms, std::nothrow) == std::errc::timed_out);
    /* the caller reads and releases it late: part_wait sees that, the room is free again */
    {
        zipc::rpc_reply part = c.wait(id, 1s);
        EXPECT_TRUE(part.is_part());
        EXPECT_EQ(part.part(), 1u);
        EXPECT_EQ(part.text(), "part");
    }
    req.part_wait(1s);
    EXPECT_FALSE(req.part_wait(zipc::try_once, std::nothrow)); /* none out: at once */
    std::memcpy(req.reply().data(), "last", 4);
    req.respond(4, 8);
    EXPECT_EQ(c.wait(id, 1s).text(), "last");

    /* a part nobody read yet: a reply with bytes would overwrite it (EBUSY),
     * the request stays held; the part still reads as sent */
    id = c.call(1, zipc::as_bytes(&v, sizeof v), {zipc::forever, 64});
    req = w.next(1s);
    std::memcpy(req.reply().data(), "part", 4);
    EXPECT_TRUE(req.respond_part(4, 7, 1ms, std::nothrow) == std::errc::timed_out);
    EXPECT_TRUE(req.respond(4, 0, std::nothrow) == std::errc::device_or_resource_busy);
    EXPECT_TRUE(req);
    req.fail(std::errc::device_or_resource_busy);
    EXPECT_FALSE(req);
    zipc::rpc_reply part = c.wait(id, 1s);
    EXPECT_TRUE(part.is_part());
    EXPECT_EQ(part.part(), 1u);
    EXPECT_EQ(part.type(), 7u);
    EXPECT_EQ(part.text(), "part");
    part.release();
    zipc::rpc_reply last = c.wait(id, 1s);
    EXPECT_FALSE(last.is_part());
    EXPECT_TRUE(last.status() == std::errc::device_or_resource_busy);
    last.release();
    EXPECT_EQ(c.in_flight(), 0u);
}

TEST(Rpc, AStreamedReplyThreePartsInOrderThenTheFinalReply)
{
    /* What the worker process saw: parts it sent, and what respond_part said. */
    struct state {
        std::atomic<int> serving, sent, stop;
    };
    std::string name = service_name();
    auto *st = shared<state>();
    ASSERT_TRUE(st);
    pid_t worker = spawn([&] {
        zipc::rpc_worker w = zipc::rpc_worker::serve(name, {}, opts());
        st->serving.store(1);
        zipc::rpc_request req = w.next(10s);
        std::optional<std::uint64_t> v = req.as<std::uint64_t>();
        CHILD_CHECK(v.has_value());
        /* too big a part: refused, the request stays held */
        CHILD_CHECK(req.respond_part(req.reply_capacity() + 1, 0, 1s, std::nothrow) == std::errc::invalid_argument);
        CHILD_CHECK(req);
        for (std::uint64_t i = 1; i <= 3; i++) {
            std::uint64_t part = *v * 10 + i;
            std::memcpy(req.reply().data(), &part, sizeof part);
            req.respond_part(sizeof part, 7, 10s); /* returns once the caller released it */
            st->sent.fetch_add(1);
        }
        std::uint64_t last = *v * 10;
        std::memcpy(req.reply().data(), &last, sizeof last);
        req.respond(sizeof last, 8);
        CHILD_CHECK(!req);
        CHILD_CHECK(wait_until([&] { return st->stop.load() == 1; }));
        return 0;
    });
    zt::on_exit cleanup{[&] {
        st->stop.store(1);
        EXPECT_EQ(reap(worker), 0);
        unshare(st);
    }};
    zipc::rpc_client c = zipc::rpc_client::connect(name, {}, opts());
    ASSERT_TRUE(wait_until([&] { return st->serving.load() == 1; }));
    std::uint64_t v = 4;
    std::uint64_t id = c.call(5, zipc::as_bytes(&v, sizeof v), {10s, 64});
    for (std::uint32_t i = 1; i <= 3; i++) {
        zipc::rpc_reply part = c.wait(id, 10s);
        ASSERT_TRUE(part.is_part());
        EXPECT_EQ(part.part(), i);
        EXPECT_EQ(part.id(), id);
        EXPECT_EQ(part.method(), 5u);
        EXPECT_TRUE(part.ok());
        EXPECT_EQ(part.type(), 7u);
        EXPECT_EQ(part.as<std::uint64_t>().value_or(0), 40u + i);
        EXPECT_EQ(c.in_flight(), 1u); /* the call goes on */
        /* one part out at a time: the worker waits for this one's release */
        std::this_thread::sleep_for(30ms);
        EXPECT_EQ(st->sent.load(), static_cast<int>(i) - 1);
        part.release();
    }
    zipc::rpc_reply last = c.wait(id, 10s);
    EXPECT_FALSE(last.is_part());
    EXPECT_EQ(last.part(), 0u);
    EXPECT_TRUE(last.ok());
    EXPECT_EQ(last.type(), 8u);
    EXPECT_EQ(last.as<std::uint64_t>().value_or(0), 40u);
    EXPECT_EQ(st->sent.load(), 3);
    last.release();
    EXPECT_EQ(c.in_flight(), 0u);
    EXPECT_TRUE(c.try_wait(id).error() == std::errc::invalid_argument); /* ended */
}

TEST(Rpc, AWorkerKilledHoldingCallsFailsThemWithConnectionReset)
{
    std::string name = service_name();
    int took[2];
    ASSERT_EQ(pipe(took), 0);
    pid_t victim = spawn([&] {
        zipc::rpc_worker w = zipc::rpc_worker::serve(name, {}, opts());
        zipc::rpc_request a = w.next(10s), b = w.next(10s);
        char one = 1;
        CHILD_CHECK(write(took[1], &one, 1) == 1);
        for (;;)
            pause(); /* holding both, until SIGKILL */
    });
    auto *stop = shared<std::atomic<int>>();
    pid_t rescuer = -1;
    zt::on_exit cleanup{[&] {
        stop->store(1);
        kill_reap(victim);
        if (rescuer > 0)
            EXPECT_EQ(reap(rescuer), 0);
        close(took[0]);
        close(took[1]);
        unshare(stop);
    }};
    {
        zipc::rpc_client c = zipc::rpc_client::connect(name, {}, opts());
        std::uint64_t v = 42;
        std::uint64_t plain = c.call(1, zipc::as_bytes(&v, sizeof v));
        std::uint64_t idem = c.call(2, zipc::as_bytes(&v, sizeof v), {zipc::forever, 64, true});
        ASSERT_TRUE(await_byte(took[0], 10000)); /* the victim holds both */
        kill(victim, SIGKILL);
        EXPECT_EQ(reap(std::exchange(victim, -1)), 128 + SIGKILL);
        rescuer = spawn([&] {
            zipc::rpc_worker w = zipc::rpc_worker::serve(name, {}, opts());
            while (!stop->load())
                if (zipc::result<zipc::rpc_request> r = w.next(20ms, std::nothrow))
                    respond_answer(*r);
            return 0;
        });
        std::set<std::uint64_t> seen;
        for (int i = 0; i < 2; i++) {
            zipc::rpc_reply r = c.wait_any(10s);
            seen.insert(r.id());
            if (r.id() == plain) {
                EXPECT_TRUE(r.status() == std::errc::connection_reset);
            } else {
                EXPECT_EQ(r.id(), idem);
                ASSERT_TRUE(r.ok()); /* idempotent: run again by the rescuer */
                std::optional<answer> a = r.as<answer>();
                ASSERT_TRUE(a.has_value());
                EXPECT_EQ(a->value, answer_of(42));
                EXPECT_EQ(a->attempt, 2u);
            }
        }
        EXPECT_EQ(seen.size(), 2u);
        EXPECT_EQ(c.in_flight(), 0u);
    }
}

// ---- the example worker (examples/rpc_worker.cpp) ------------------------------

#ifdef ZIPC_RPC_WORKER_EXE
TEST(Rpc, ExampleWorkerPoolDoublesFloat32Arrays)
{
    std::string name = service_name();
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execl(ZIPC_RPC_WORKER_EXE, ZIPC_RPC_WORKER_EXE, name.c_str(), "2", static_cast<char *>(nullptr));
        _exit(127);
    }
    close(out[1]);
    zt::on_exit cleanup{[&] {
        kill_reap(pid); /* only after a failed ASSERT: the test stops it with SIGTERM */
        close(out[0]);
    }};
    std::string banner;
    char ch;
    while (banner.find('\n') == std::string::npos) {
        pollfd p{out[0], POLLIN, 0};
        if (poll(&p, 1, 10000) != 1 || read(out[0], &ch, 1) != 1)
            break;
        banner += ch;
    }
    EXPECT_EQ(banner, "rpc_worker: serving " + name + " with 2 workers\n");
    {
        zipc::rpc_client c = zipc::rpc_client::connect(name, {}, opts());
        /* arrays of several shapes in flight at once, each written in place */
        std::vector<std::vector<std::int64_t>> shapes = {{}, {0}, {5}, {3, 4}, {2, 3, 4}, {1000}};
        std::map<std::uint64_t, std::size_t> shape_of;
        for (std::size_t s = 0; s < shapes.size(); s++) {
            zipc_tensor_header h = zipc::tensor_header<float>(shapes[s]);
            std::size_t n = zipc::tensor_payload_size(h);
            zipc::rpc_reservation res = c.reserve(n, {10s, n});
            auto *x = reinterpret_cast<float *>(zipc::write_tensor_header(res.span(), h));
            for (std::size_t i = 0; i < h.nbytes / sizeof(float); i++)
                x[i] = static_cast<float>(i) * 0.5f - static_cast<float>(s);
            shape_of[res.commit(1)] = s;
        }
        for (std::size_t k = 0; k < shapes.size(); k++) {
            zipc::rpc_reply r = c.wait_any(10s);
            ASSERT_TRUE(r.ok());
            std::size_t s = shape_of.at(r.id());
            EXPECT_EQ(r.type(), zipc::type_id::tensor);
            zipc::result<zipc::tensor_view> t = r.tensor();
            ASSERT_TRUE(t.has_value());
            EXPECT_TRUE(t->dtype() == zipc::dtype_of<float>());
            EXPECT_TRUE(std::vector<std::int64_t>(t->shape().begin(), t->shape().end()) == shapes[s]);
            const float *y = t->data_as<float>();
            for (std::size_t i = 0; i < t->size(); i++)
                ASSERT_EQ(y[i], 2 * (static_cast<float>(i) * 0.5f - static_cast<float>(s)));
        }
        /* what it refuses, as the reply's status */
        std::int32_t ints[3] = {1, 2, 3};
        std::vector<std::int64_t> three = {3};
        std::vector<std::byte> int_req(zipc::tensor_payload_size(zipc::tensor_header<std::int32_t>(three)));
        zipc::write_tensor(int_req, zipc::tensor_header<std::int32_t>(three), ints);
        std::vector<std::byte> float_req(zipc::tensor_payload_size(zipc::tensor_header<float>(three)));
        float floats[3] = {1, 2, 3};
        zipc::write_tensor(float_req, zipc::tensor_header<float>(three), floats);
        auto status_of = [&](std::uint32_t method, zipc::const_bytes req, std::size_t room) {
            return c.wait(c.call(method, req, {10s, room}), 10s).status();
        };
        EXPECT_TRUE(status_of(1, int_req, 4096) == std::errc::invalid_argument);
        EXPECT_TRUE(status_of(1, zipc::as_bytes(std::string_view("not a tensor")), 4096) == std::errc::bad_message);
        EXPECT_TRUE(status_of(1, float_req, 16) == std::errc::message_size);
        EXPECT_TRUE(status_of(9, float_req, 4096) == std::errc::function_not_supported);
        EXPECT_FALSE(status_of(1, float_req, 4096));
    }
    kill(pid, SIGTERM);
    EXPECT_EQ(reap(std::exchange(pid, -1)), 0); /* the workers left cleanly */
}
#endif

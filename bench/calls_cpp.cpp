/* zipc bench: the calls section. The C++ binding's cost per call, against
 * the C calls it wraps, with nothing else in the way: one thread holds both
 * ends of one channel, fills its ring with 32 B messages (every one
 * stamped with its number), then drains it, each message checked in place.
 * Everything is cache-hot and no peer's timing enters, so a form that costs
 * more per call shows it here, where the two-process rows only show which
 * side of the ring's balance point it lands on (DESIGN §10: the C++ stream
 * row read 0.73x the C row through a copy its consumer made per message).
 *
 * Passes, interleaved in every round: the C calls on both sides; the C++
 * forms an application writes first (reserve(n, t, std::nothrow) and
 * view(t, std::nothrow), results returned); the C producer with the C++
 * hot-loop consumer (view(held, t, std::nothrow) into a view kept across
 * the loop). Each form's figure is its best round: ns per message. */
#include <zipc.hpp>

#include <cstdio>
#include <cstring>
#include <new>
#include <thread>

#include <unistd.h>

extern "C" {
#include "transport.h"
}

namespace {

const zipc::timeout kWait = std::chrono::nanoseconds(BENCH_TIMEOUT_NS);
constexpr std::size_t kSize = 32;
constexpr std::size_t kRing = 256 * 1024;
constexpr unsigned kRounds = 400;

/* Cache-line aligned, so every run measures one layout: where malloc put
 * this state moved the hot-loop form's figure by ~0.3 ns (~2%) from run to
 * run with the same build (DESIGN §10). */
struct alignas(64) pair {
    zipc::channel tx, rx;
    zipc::view held;
    std::uint64_t sent = 0, seen = 0;
    std::uint8_t src[kSize];
};

/* The ring's fill: as many messages as reserve takes without waiting. */
int fill_c(pair &p, unsigned *n)
{
    zipc_channel *tx = p.tx.native_handle();
    for (*n = 0;; ++*n) {
        void *slot;
        int err = zipc_channel_reserve(tx, kSize, &slot, 0);
        if (err == -EAGAIN)
            return 0;
        if (err)
            return bench_fail(err, "calls: zipc_channel_reserve");
        msg_stamp(p.src, kSize, p.sent++);
        zipc_copy(slot, p.src, kSize);
        if ((err = zipc_channel_commit(tx, kSize, 0, 0)))
            return bench_fail(err, "calls: zipc_channel_commit");
    }
}

int fill_cpp(pair &p, unsigned *n)
{
    for (*n = 0;; ++*n) {
        auto r = p.tx.try_reserve(kSize);
        if (!r)
            return r.is_timeout() ? 0 : bench_fail(-r.error().value(), "calls: zipc::channel::reserve");
        msg_stamp(p.src, kSize, p.sent++);
        zipc_copy(r->data(), p.src, kSize);
        if (std::error_code ec = r->commit(kSize, 0, std::nothrow))
            return bench_fail(-ec.value(), "calls: zipc::reservation::commit");
    }
}

int check(pair &p, const void *data, std::size_t size)
{
    auto *b = static_cast<const std::uint8_t *>(data);
    std::uint64_t seq = p.seen++;
    if (size != kSize || !msg_ok(b, b + kSize - 8, seq))
        return bench_fail_plain(-EBADMSG, "calls: message %llu arrived wrong", (unsigned long long)seq);
    return 0;
}

int drain_c(pair &p, unsigned n)
{
    zipc_channel *rx = p.rx.native_handle();
    for (unsigned i = 0; i < n; i++) {
        zipc_msg m;
        int err = zipc_channel_view(rx, &m, BENCH_TIMEOUT_NS);
        if (err)
            return bench_fail(err, "calls: zipc_channel_view");
        if ((err = check(p, m.data, m.size)))
            return err;
        if ((err = zipc_channel_release_view(rx, &m)))
            return bench_fail(err, "calls: zipc_channel_release_view");
    }
    return 0;
}

int drain_cpp_result(pair &p, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        auto m = p.rx.view(kWait, std::nothrow);
        if (!m)
            return bench_fail(-m.error().value(), "calls: zipc::channel::view");
        if (int err = check(p, m->data(), m->size()))
            return err;
    }
    return 0;
}

int drain_cpp_held(pair &p, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (std::error_code ec = p.rx.view(p.held, kWait, std::nothrow))
            return bench_fail(-ec.value(), "calls: zipc::channel::view(held)");
        if (int err = check(p, p.held.data(), p.held.size()))
            return err;
        p.held.release();
    }
    return 0;
}

enum form { C_FILL, CPP_FILL, C_DRAIN, CPP_DRAIN, CPP_HELD_DRAIN, FORMS };

struct pass {
    int (*fill)(pair &, unsigned *);
    int (*drain)(pair &, unsigned);
    form fill_form, drain_form;
};

const pass kPasses[] = {
    {fill_c, drain_c, C_FILL, C_DRAIN},
    {fill_cpp, drain_cpp_result, CPP_FILL, CPP_DRAIN},
    {fill_c, drain_cpp_held, C_FILL, CPP_HELD_DRAIN},
};

int run_pass(pair &p, const pass &ps, double best[FORMS])
{
    unsigned n;
    int64_t t0 = bench_now_ns();
    if (int err = ps.fill(p, &n))
        return err;
    int64_t t1 = bench_now_ns();
    if (n == 0)
        return bench_fail_plain(-EIO, "calls: the ring took no message");
    if (int err = ps.drain(p, n))
        return err;
    int64_t t2 = bench_now_ns();
    double fill = double(t1 - t0) / n, drain = double(t2 - t1) / n;
    best[ps.fill_form] = fill < best[ps.fill_form] ? fill : best[ps.fill_form];
    best[ps.drain_form] = drain < best[ps.drain_form] ? drain : best[ps.drain_form];
    return 0;
}

/* Both ends in this process: the connector in a thread for the handshake. */
int open_pair(pair &p, const char *path)
{
    unlink(path);
    int cerr = 0;
    std::thread t([&] {
        try {
            p.tx = zipc::channel::connect(path);
        } catch (const zipc::error &e) {
            cerr = -e.errno_value();
        }
    });
    int err = 0;
    try {
        p.rx = zipc::channel::listen(path, kRing);
    } catch (const zipc::error &e) {
        err = bench_fail_plain(-e.errno_value(), "calls: %s", e.what());
    }
    t.join();
    unlink(path);
    if (!err && cerr)
        err = bench_fail(cerr, "calls: zipc::channel::connect(%s)", path);
    return err;
}

void print_row(std::FILE *f, const char *side, const char *form, double ns, double c_ns)
{
    std::fprintf(f, "%-9s %-50s %7.2f ns %8.3fx\n", side, form, ns, ns / c_ns);
}

void print_target(std::FILE *f, const char *what, double ratio)
{
    std::fprintf(f, "  %s  %-44s %.3fx the C calls\n", ratio <= 1.05 ? "PASS" : "MISS", what, ratio);
}

} // namespace

extern "C" int run_calls(std::FILE *f)
{
    auto *p = new (std::nothrow) pair;
    if (!p)
        return bench_fail(-ENOMEM, "calls: state");
    char path[64];
    std::snprintf(path, sizeof(path), "/tmp/zipc-bench-%d-calls.sock", (int)getpid());
    int err = open_pair(*p, path);
    double best[FORMS];
    for (double &b : best)
        b = 1e300;
    for (unsigned r = 0; !err && r < kRounds; r++)
        for (const pass &ps : kPasses)
            if ((err = run_pass(*p, ps, best)))
                break;
    delete p;
    if (err)
        return err;
    std::fprintf(f, "\ncpp-calls the C++ binding's cost per call against the C calls it wraps: one thread holds both\n"
                    "         ends of a channel (ring %zu KiB), fills it with 32 B messages, then drains it, every\n"
                    "         message checked in place; cache-hot, no peer; best of %u interleaved rounds\n\n",
                 kRing / 1024, kRounds);
    std::fprintf(f, "%-9s %-50s %10s %9s\n", "side", "form", "per msg", "vs C");
    print_row(f, "producer", "C: reserve + copy + commit", best[C_FILL], best[C_FILL]);
    print_row(f, "producer", "C++: reserve(n, t, std::nothrow) + copy + commit", best[CPP_FILL], best[C_FILL]);
    print_row(f, "consumer", "C: view + check + release_view", best[C_DRAIN], best[C_DRAIN]);
    print_row(f, "consumer", "C++: view(t, std::nothrow) + check", best[CPP_DRAIN], best[C_DRAIN]);
    print_row(f, "consumer", "C++: view(held, t, std::nothrow) + check + release", best[CPP_HELD_DRAIN],
              best[C_DRAIN]);
    std::fprintf(f, "\ncpp-calls targets (the binding's cost <= 5%% over the C calls)\n");
    print_target(f, "C++ producer, reserve + commit", best[CPP_FILL] / best[C_FILL]);
    print_target(f, "C++ consumer, view(t, std::nothrow)", best[CPP_DRAIN] / best[C_DRAIN]);
    print_target(f, "C++ consumer, view(held, ...) + release", best[CPP_HELD_DRAIN] / best[C_DRAIN]);
    return 0;
}

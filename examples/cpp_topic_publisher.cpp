/* C++ topic publisher: market ticks (32-byte structs) and camera-like
 * frames (float32 tensors with the zipc/tensor.h header) on one topic, for
 * any number of subscribers in any language, each with its own policy (the
 * Python pair: a NumPy reader and a slow logger).
 *
 *   cpp_topic_publisher NAME [--count N] [--frame-every K] [--subscribers S]
 *                            [--wait SECONDS] [--capacity BYTES]
 *
 *   NAME           the topic (a name, or a socket path with a '/')
 *   --count N      ticks to publish (default 100000)
 *   --frame-every K  one frame after every K ticks (default 100; 0: none)
 *   --subscribers S  wait until S subscribers are attached before publishing
 *                  (default 2; 0: start at once), at most --wait seconds
 *                  (default 30), then publish to whoever is there
 *   --capacity BYTES  the ring (default 4 MiB)
 *
 * What the subscribers receive, in publication order:
 *   tick  type 0x7469636B ("tick"), 32 bytes, Python struct "<QqdfI":
 *         seq (0, 1, ...), ts_ns (CLOCK_MONOTONIC), price = 100 + (seq % 1000)
 *         / 100, qty = 1 + seq % 10, side = 1 if seq is odd else 2
 *   frame type ZIPC_TYPE_TENSOR, float32[48][64] (zipc/tensor.h header; NumPy
 *         zero-copy through zipc): frame k (0, 1, ...) holds k + 64 * r + c
 *         at [r][c]; it follows tick (k + 1) * K - 1
 * Then the publisher closes: every subscriber drains what was published and
 * sees the end (EPIPE / zipc.PeerGone). A BLOCK subscriber gets everything;
 * a DROP_OLDEST one is told exactly what it missed.
 *
 * Build (as the other examples, from the repository's sources):
 *   examples/build_native.sh build/examples/cpp_topic_publisher examples/cpp_topic_publisher.cpp
 */
#include <zipc.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

struct tick {
    std::uint64_t seq;
    std::int64_t ts_ns;
    double price;
    float qty;
    std::uint32_t side;
};
static_assert(sizeof(tick) == 32, "the tick is 32 bytes (struct \"<QqdfI\")");
constexpr std::uint32_t tick_type = 0x7469636B; /* "tick" */
constexpr std::int64_t frame_rows = 48, frame_cols = 64;

struct settings {
    const char *name = nullptr;
    std::uint64_t count = 100000, frame_every = 100;
    int subscribers = 2;
    double wait_s = 30;
    std::size_t capacity = 4u << 20;
};

bool parse(int argc, char **argv, settings &s)
{
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a.rfind("--", 0) != 0 && !s.name)
            s.name = argv[i];
        else if (a == "--count" && v)
            s.count = std::strtoull(v, nullptr, 10), i++;
        else if (a == "--frame-every" && v)
            s.frame_every = std::strtoull(v, nullptr, 10), i++;
        else if (a == "--subscribers" && v)
            s.subscribers = std::atoi(v), i++;
        else if (a == "--wait" && v)
            s.wait_s = std::atof(v), i++;
        else if (a == "--capacity" && v)
            s.capacity = std::strtoull(v, nullptr, 10), i++;
        else
            return false;
    }
    return s.name != nullptr;
}

std::int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/* Until `want` subscribers are attached or `wait_s` passes; how many are. */
int await_subscribers(const zipc::publisher &pub, int want, double wait_s)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
    while (pub.subscribers() < want && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return pub.subscribers();
}

void publish_frame(zipc::publisher &pub, std::uint64_t k)
{
    /* written in place in the ring; waits only for lossless subscribers */
    auto frame = pub.reserve_tensor<float>({frame_rows, frame_cols}, std::chrono::seconds(10));
    for (std::size_t j = 0; j < frame.size(); j++)
        frame.data()[j] = static_cast<float>(k + j);
    frame.commit();
}

} // namespace

int main(int argc, char **argv)
{
    settings s;
    if (!parse(argc, argv, s)) {
        std::fprintf(stderr, "usage: cpp_topic_publisher NAME [--count N] [--frame-every K] [--subscribers S] "
                             "[--wait SECONDS] [--capacity BYTES]\n");
        return 2;
    }
    try {
        zipc::publisher pub = zipc::publisher::create(s.name, s.capacity);
        int attached = await_subscribers(pub, s.subscribers, s.wait_s);
        std::printf("publisher (C++): topic %s, %d subscriber(s) attached\n", s.name, attached);
        std::fflush(stdout);

        auto t0 = std::chrono::steady_clock::now();
        std::uint64_t frames = 0;
        for (std::uint64_t i = 0; i < s.count; i++) {
            tick t{i, now_ns(), 100.0 + static_cast<double>(i % 1000) / 100.0, 1.0f + static_cast<float>(i % 10),
                   i % 2 ? 1u : 2u};
            pub.send_pod(t, tick_type, std::chrono::seconds(10));
            if (s.frame_every && (i + 1) % s.frame_every == 0)
                publish_frame(pub, frames++);
        }
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        zipc_publisher_stats st = pub.stats();
        pub.close(); /* the subscribers drain, then see the end */
        std::printf("publisher (C++): %llu ticks and %llu frames of float32[%lld][%lld] in %.3f s "
                    "(%.0f messages/s); waited for space %llu times; %llu joined, %llu left, %llu died\n",
                    static_cast<unsigned long long>(s.count), static_cast<unsigned long long>(frames),
                    static_cast<long long>(frame_rows), static_cast<long long>(frame_cols), secs,
                    static_cast<double>(st.messages) / secs, static_cast<unsigned long long>(st.sleeps),
                    static_cast<unsigned long long>(st.joined), static_cast<unsigned long long>(st.departed),
                    static_cast<unsigned long long>(st.died));
        return 0;
    } catch (const zipc::error &e) {
        std::fprintf(stderr, "cpp_topic_publisher: %s (%s)\n", e.what(), e.name());
        return 1;
    }
}

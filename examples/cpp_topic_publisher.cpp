/* C++ topic publisher of the feed of examples/topic_to_python (its formats
 * are in feed.py): market ticks (32-byte structs) and frames (uint8 tensors
 * with the zipc/tensor.h header) written once into one topic, for any number
 * of subscribers in any language, each with its own policy (there: a
 * lossless NumPy reader and a slow drop_oldest logger).
 *
 *   cpp_topic_publisher NAME [TICKS | --count TICKS] [--frame-every K]
 *                            [--subscribers S]
 *
 *   NAME           the topic (a name, or a socket path with a '/')
 *   TICKS          ticks to publish (default 100000)
 *   --frame-every K  one frame after every K ticks (default 50)
 *   --subscribers S  publish once S subscribers are attached (default 2,
 *                  as feed.SUBSCRIBERS; 0: at once); gives up after 30 s
 *
 * What the subscribers receive, in publication order (feed.py):
 *   tick   type 0x7469636B ("tick"), 32 bytes, Python struct "<QqdfI":
 *          seq i (0, 1, ...), ts_ns (CLOCK_REALTIME), price 100 + (i % 1000)
 *          * 0.25, qty 1 + (i & 7), side i & 1
 *   frame  type ZIPC_TYPE_TENSOR, uint8[120][160], after tick i when
 *          i % K == K - 1; pixel (r, c) of frame f is (f + r + c) % 256
 *   end    the last message, type ZIPC_TYPE_JSON: {"ticks": T, "frames": F}
 * Then the publisher closes: every subscriber drains what was published,
 * then sees the end of the topic (EPIPE, zipc.PeerGone). A BLOCK subscriber
 * gets everything; a DROP_OLDEST one is told exactly what it missed.
 *
 * Build and run with the Python subscribers:
 *   examples/build_native.sh build/examples/cpp_topic_publisher examples/cpp_topic_publisher.cpp
 *   PUBLISHER=build/examples/cpp_topic_publisher examples/topic_to_python/run.sh
 */
#include <zipc.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
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
constexpr std::int64_t frame_rows = 120, frame_cols = 160;
constexpr std::size_t ring_bytes = std::size_t{1} << 21;

struct settings {
    const char *name = nullptr;
    std::uint64_t ticks = 100000, frame_every = 50;
    int subscribers = 2;
};

bool parse(int argc, char **argv, settings &s)
{
    bool have_ticks = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a.rfind("--", 0) != 0 && !s.name)
            s.name = argv[i];
        else if (a.rfind("--", 0) != 0 && !have_ticks)
            s.ticks = std::strtoull(argv[i], nullptr, 10), have_ticks = true;
        else if (a == "--count" && v)
            s.ticks = std::strtoull(v, nullptr, 10), have_ticks = true, i++;
        else if (a == "--frame-every" && v && std::atoi(v) > 0)
            s.frame_every = std::strtoull(v, nullptr, 10), i++;
        else if (a == "--subscribers" && v)
            s.subscribers = std::atoi(v), i++;
        else
            return false;
    }
    return s.name != nullptr;
}

/* Until `want` subscribers are attached (their subscribe returned): false
 * after 30 s. */
bool await_subscribers(const zipc::publisher &pub, int want)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (pub.subscribers() < want) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

void publish_tick(zipc::publisher &pub, std::uint64_t i)
{
    auto now = std::chrono::system_clock::now().time_since_epoch();
    tick t{i, std::chrono::duration_cast<std::chrono::nanoseconds>(now).count(),
           100.0 + static_cast<double>(i % 1000) * 0.25, 1.0f + static_cast<float>(i & 7),
           static_cast<std::uint32_t>(i & 1)};
    pub.send_pod(t, tick_type, std::chrono::seconds(10));
}

/* Written in place in the ring; waits only for lossless subscribers. */
void publish_frame(zipc::publisher &pub, std::uint64_t f)
{
    auto frame = pub.reserve_tensor<std::uint8_t>({frame_rows, frame_cols}, std::chrono::seconds(10));
    std::uint8_t *px = frame.data();
    for (std::int64_t r = 0; r < frame_rows; r++)
        for (std::int64_t c = 0; c < frame_cols; c++)
            *px++ = static_cast<std::uint8_t>((f + static_cast<std::uint64_t>(r + c)) % 256);
    frame.commit();
}

} // namespace

int main(int argc, char **argv)
{
    settings s;
    if (!parse(argc, argv, s)) {
        std::fprintf(stderr, "usage: cpp_topic_publisher NAME [TICKS | --count TICKS] [--frame-every K] "
                             "[--subscribers S]\n");
        return 2;
    }
    try {
        zipc::publisher pub = zipc::publisher::create(s.name, ring_bytes);
        if (!await_subscribers(pub, s.subscribers)) {
            std::fprintf(stderr, "cpp_topic_publisher: %d of %d subscribers after 30 s\n", pub.subscribers(),
                         s.subscribers);
            return 1;
        }
        auto t0 = std::chrono::steady_clock::now();
        std::uint64_t frames = 0;
        for (std::uint64_t i = 0; i < s.ticks; i++) {
            publish_tick(pub, i);
            if (i % s.frame_every == s.frame_every - 1)
                publish_frame(pub, frames++);
        }
        std::string end = "{\"ticks\": " + std::to_string(s.ticks) + ", \"frames\": " + std::to_string(frames) + "}";
        pub.send(zipc::as_bytes(end), zipc::type_id::json, std::chrono::seconds(10));
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        zipc_publisher_stats st = pub.stats();
        pub.close(); /* the subscribers drain, then see the end of the topic */
        std::printf("publisher (C++): %llu ticks and %llu frames of uint8[%lld, %lld] in %.3f s; "
                    "waited for space %llu times\n",
                    static_cast<unsigned long long>(s.ticks), static_cast<unsigned long long>(frames),
                    static_cast<long long>(frame_rows), static_cast<long long>(frame_cols), secs,
                    static_cast<unsigned long long>(st.sleeps));
        return 0;
    } catch (const zipc::error &e) {
        std::fprintf(stderr, "cpp_topic_publisher: %s (%s)\n", e.what(), e.name());
        return 1;
    }
}

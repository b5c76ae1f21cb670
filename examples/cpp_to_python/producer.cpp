/* C++ producer: FRAMES float32[256] tensor messages, written in place in
 * the ring (zipc.hpp reserve_tensor), to a Python consumer. Frame i holds
 * i, i + 1, ..., i + 255. Closing the channel is the end-of-stream signal:
 * the consumer drains what was sent, then sees zipc.PeerGone.
 *
 *   producer PATH [FRAMES]     (default 200000) */
#include <zipc.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: producer PATH [FRAMES]\n");
        return 2;
    }
    const long frames = argc > 2 ? std::atol(argv[2]) : 200000;
    constexpr std::int64_t kFloats = 256;
    using clock = std::chrono::steady_clock;
    try {
        zipc::channel ch = zipc::channel::connect(argv[1], zipc::options().handshake_timeout(std::chrono::seconds(20)));
        auto t0 = clock::now();
        for (long i = 0; i < frames; i++) {
            auto frame = ch.reserve_tensor<float>({kFloats}, std::chrono::seconds(10));
            for (std::size_t j = 0; j < frame.size(); j++)
                frame.data()[j] = static_cast<float>(i + static_cast<long>(j));
            frame.commit();
        }
        double s = std::chrono::duration<double>(clock::now() - t0).count();
        ch.close(); /* the consumer drains, then sees PeerGone */
        std::printf("producer (C++): sent %ld frames of float32[%lld] in %.3f s: %.0f frames/s, %.0f MB/s\n",
                    frames, static_cast<long long>(kFloats), s, static_cast<double>(frames) / s,
                    static_cast<double>(frames) * kFloats * 4 / s / 1e6);
        return 0;
    } catch (const zipc::error &e) {
        std::fprintf(stderr, "producer: %s\n", e.what());
        return 1;
    }
}

/* C++ side of the ping-pong: echoes every 32-byte message from the ring
 * straight into the reply's slot, until the C side closes (EPIPE).
 *
 *   pong PREFIX
 * Channels: PREFIX.a ping -> pong (we listen), PREFIX.b pong -> ping (we
 * connect). */
#include <zipc.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: pong PREFIX\n");
        return 2;
    }
    using namespace std::chrono_literals;
    const std::string prefix = argv[1];
    const auto opts = zipc::options().handshake_timeout(20s);
    try {
        zipc::channel in = zipc::channel::listen(prefix + ".a", 64 * 1024, opts);
        zipc::channel out = zipc::channel::connect(prefix + ".b", opts);
        unsigned long echoed = 0;
        auto t0 = std::chrono::steady_clock::now();
        for (;;) {
            auto msg = in.view(10s, std::nothrow);
            if (!msg && msg.error() == std::errc::broken_pipe)
                break; /* ping closed: done */
            const zipc::view &m = msg.value(); /* any other error throws */
            zipc::reservation r = out.reserve(m.size(), 10s);
            std::memcpy(r.data(), m.data(), m.size());
            r.commit(m.size(), m.type());
            echoed++;
        } /* msg dies here: the view is released every round */
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("pong (C++): echoed %lu messages: %.0f round trips/s (including warm-up)\n", echoed,
                    static_cast<double>(echoed) / s);
        return 0;
    } catch (const zipc::error &e) {
        std::fprintf(stderr, "pong: %s\n", e.what());
        return 1;
    }
}

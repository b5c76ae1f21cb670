// Compiles against zipc.hpp through the zipc::zipc target and uses it.
#include <zipc.hpp>

#include <chrono>
#include <cstdio>

int main()
{
    try {
        zipc::channel::connect("/nonexistent-dir/zipc.sock", zipc::options().handshake_timeout(std::chrono::milliseconds(1)));
    } catch (const zipc::error &e) {
        std::printf("zipc %s (C++): connect to a missing path: %s\n", zipc::version(), e.what());
        return e.code() == std::errc::no_such_file_or_directory ? 0 : 1;
    }
    return 1;
}

/* A C++ process that moves the shared test vectors (tests/vectors) through
 * a queue or a byte stream, for python/tests/test_vectors_cpp.py and the
 * vectors_peer_* ctests (built by cpp/CMakeLists.txt; the Python tests also
 * build their own copy from source):
 *
 *   vectors_peer put QUEUE DIR ROUNDS   queue producer: every vector, ROUNDS times
 *   vectors_peer get QUEUE DIR ROUNDS   queue consumer: checks ROUNDS x every vector, then the end
 *   vectors_peer write DIR ROUNDS       the same frames to stdout (zipc::stream_writer)
 *   vectors_peer read DIR ROUNDS        checks them from stdin (zipc::stream_reader)
 *
 * The vectors go in name order. Tensors are re-encoded by zipc.hpp's own
 * encoder (send_tensor / write_tensor, from the decoded view), text by
 * write_text; the other kinds (bytes, JSON, list, the user-typed tick) go as
 * their payload bytes, zipc.hpp having no encoder for them. A reader checks
 * each message's type id and payload byte for byte against the vector (a
 * tensor is also decoded); this holds for a Python producer too, whose
 * encoder wrote the vectors (make_vectors.py --check) and is deterministic.
 * It checks the count: exactly ROUNDS x vectors, then the end of the stream.
 *
 * Exit 0: all sent, or all received and verified ("verified N objects" on
 * stdout for the readers; get also checks attempt() == 1). Exit 1 with a
 * line on stderr otherwise; 2 on bad arguments. */
#include "vectors.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

constexpr auto kStall = 30s; /* a peer silent this long fails the run */

struct failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/* The vector's payload decoded as a tensor, re-encoded by w's tensor writer
 * (send_tensor or write_tensor); false if zipc.hpp cannot encode its dtype. */
template <class W> bool resend_tensor(const zv::vector &v, W &&write_tensor)
{
    auto t = zipc::tensor_view::parse(v.payload);
    if (!t || !t->contiguous())
        throw failure("vector " + v.name + " is not a C-contiguous tensor");
    return zv::with_element_type(t->dtype(), [&](auto e) { write_tensor(t->data_as<decltype(e)>(), t->shape()); });
}

void put(const std::string &name, const std::vector<zv::vector> &vs, long rounds)
{
    zipc::queue q = zipc::queue::open(name, zipc::role::producer);
    for (long r = 0; r < rounds; r++)
        for (const zv::vector &v : vs) {
            if (v.type == zipc::type_id::tensor &&
                resend_tensor(v, [&](auto *data, zipc::shape_t shape) { q.send_tensor(data, shape, kStall); }))
                continue;
            q.send(v.payload, v.type, kStall);
        }
    /* A queue no member holds is gone: stay until a consumer has attached
     * (it then sees the end of the stream once all is taken). */
    auto deadline = std::chrono::steady_clock::now() + kStall;
    while (q.consumers() == 0) {
        if (std::chrono::steady_clock::now() > deadline)
            throw failure("no consumer attached to " + name);
        std::this_thread::sleep_for(1ms);
    }
}

void write(const std::vector<zv::vector> &vs, long rounds)
{
    zipc::stream_writer w(STDOUT_FILENO);
    for (long r = 0; r < rounds; r++)
        for (const zv::vector &v : vs) {
            if (v.type == zipc::type_id::tensor &&
                resend_tensor(v, [&](auto *data, zipc::shape_t shape) { w.write_tensor(data, shape); }))
                continue;
            if (v.type == zipc::type_id::str)
                w.write_text(zv::text(v.payload));
            else
                w.write(v.type, v.payload);
        }
}

/* Message i against vector i mod n: type id, bytes, and a tensor decoded. */
void check(const zipc::view_ref &m, const zv::vector &v, long i)
{
    const std::string at = "message " + std::to_string(i) + " (" + v.name + "): ";
    if (m.type() != v.type)
        throw failure(at + "type id " + std::to_string(m.type()) + ", expected " + std::to_string(v.type));
    if (m.size() != v.payload.size() || std::memcmp(m.data(), v.payload.data(), m.size()) != 0)
        throw failure(at + std::to_string(m.size()) + " bytes that differ from the vector's " +
                      std::to_string(v.payload.size()));
    if (v.type == zipc::type_id::tensor) {
        auto t = m.tensor();
        if (!t || t->nbytes() != zipc::tensor_view::parse(v.payload)->nbytes())
            throw failure(at + "does not decode as the vector's tensor");
    }
}

long get(const std::string &name, const std::vector<zv::vector> &vs, long rounds)
{
    zipc::queue q = zipc::queue::open(name, zipc::role::consumer);
    const long n = rounds * static_cast<long>(vs.size());
    for (long i = 0;; i++) {
        auto m = q.view(kStall, std::nothrow);
        if (!m && m.error() == std::errc::broken_pipe) { /* the end of the stream */
            if (i != n)
                throw failure("the stream ended after " + std::to_string(i) + " of " + std::to_string(n) + " messages");
            return n;
        }
        if (!m)
            throw zipc::error(m.error(), "zipc::queue::view");
        if (i >= n)
            throw failure("a message after the " + std::to_string(n) + "th");
        if (m->attempt() != 1)
            throw failure("message " + std::to_string(i) + " delivered again (attempt " +
                          std::to_string(m->attempt()) + ")");
        check(*m, vs[static_cast<std::size_t>(i) % vs.size()], i);
    }
}

long read(const std::vector<zv::vector> &vs, long rounds)
{
    zipc::stream_reader r(STDIN_FILENO);
    const long n = rounds * static_cast<long>(vs.size());
    long i = 0;
    for (; auto f = r.read(); i++) {
        if (i >= n)
            throw failure("a frame after the " + std::to_string(n) + "th");
        check(*f, vs[static_cast<std::size_t>(i) % vs.size()], i);
    }
    if (i != n)
        throw failure("the stream ended after " + std::to_string(i) + " of " + std::to_string(n) + " frames");
    return n;
}

int usage()
{
    std::fprintf(stderr, "usage: vectors_peer put|get QUEUE DIR ROUNDS\n"
                         "       vectors_peer write|read DIR ROUNDS\n");
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const std::string mode = argv[1];
    const bool queue = mode == "put" || mode == "get";
    if (!queue && mode != "write" && mode != "read")
        return usage();
    if (argc != (queue ? 5 : 4))
        return usage();
    char *end = nullptr;
    const long rounds = std::strtol(argv[argc - 1], &end, 10);
    if (*end || rounds < 1)
        return usage();
    try {
        const std::vector<zv::vector> vs = zv::load(argv[queue ? 3 : 2]);
        long verified = -1;
        if (mode == "put")
            put(argv[2], vs, rounds);
        else if (mode == "get")
            verified = get(argv[2], vs, rounds);
        else if (mode == "write")
            write(vs, rounds);
        else
            verified = read(vs, rounds);
        if (verified >= 0)
            std::printf("verified %ld objects: %zu vectors x %ld rounds\n", verified, vs.size(), rounds);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "vectors_peer %s: %s\n", mode.c_str(), e.what());
        return 1;
    }
    return 0;
}

/* A C++ rpc service: a pool of worker processes that double float32 arrays.
 *
 *   rpc_worker NAME [WORKERS]      (default 2 workers)
 *
 * Serves the rpc service NAME (zipc/rpc.h) with WORKERS forked processes,
 * each a zipc::rpc_worker. Any client (Python's, C's, C++'s, Rust's) calls:
 *
 *   method 1 (DOUBLE)  request: a ZIPC_TYPE_TENSOR payload (zipc/tensor.h)
 *                      of float32, any shape, C order; or Python's typed
 *                      request of one (RpcClient.call(array, 1): a TYPE_LIST
 *                      of that one tensor, zipc/types.h). Reply: type
 *                      ZIPC_TYPE_TENSOR, the same shape, every element times
 *                      2, written in place in the caller's reply room (no
 *                      copy of the request); Python reads it as an ndarray.
 *   anything else      fails with ENOSYS.
 * A request that is not a valid float32 C-order tensor fails with EINVAL
 * (EBADMSG if it is not a tensor at all); a reply room too small for the
 * answer fails with EMSGSIZE. The caller sees these as the reply's status.
 *
 * Prints "rpc_worker: serving NAME with N workers" once every worker is
 * attached. SIGINT / SIGTERM: the workers answer what they hold, leave, and
 * the program exits 0. A worker that dies (SIGKILL) fails the call it held
 * (ECONNRESET, or runs it again on another worker if the call was
 * idempotent); the others go on. The workers die with the parent.
 *
 * Build (see examples/build_native.sh), or with CMake (target rpc_worker,
 * built with the C++ tests):
 *   examples/build_native.sh build/examples/rpc_worker examples/rpc_worker.cpp
 * examples/rpc_client.py is a Python client: 1000 concurrent asyncio calls.
 */
#include <zipc.hpp>
#include <zipc/types.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t method_double = 1;

volatile sig_atomic_t stopping = 0;

extern "C" void on_stop(int) { stopping = 1; }

/* The request's tensor: the payload itself (a C, C++ or Rust client's
 * tensor message), or the one element of Python's typed request (a
 * TYPE_LIST of one element: docs/BINDINGS.md, rpc). The request carries no
 * type id: a payload that is not a valid tensor is tried as that list. */
zipc::result<zipc::tensor_view> request_tensor(const zipc::rpc_request &req)
{
    zipc::result<zipc::tensor_view> t = req.tensor();
    zipc::const_bytes p = req.payload();
    zipc_list_header h;
    zipc_list_entry e;
    if (t || p.size() < sizeof h + sizeof e)
        return t;
    std::memcpy(&h, p.data(), sizeof h);
    std::memcpy(&e, p.data() + sizeof h, sizeof e);
    if (h.count != 1 || e.type != ZIPC_TYPE_TENSOR || e.offset % ZIPC_LIST_ALIGN != 0 || e.offset > p.size() ||
        e.size != p.size() - e.offset)
        return t;
    return zipc::tensor_view::parse(zipc::const_bytes(p.data() + e.offset, e.size));
}

/* Answer one request: method 1 doubles a float32 tensor into the reply room. */
void serve_one(zipc::rpc_request &req)
{
    if (req.method() != method_double)
        return req.fail(std::errc::function_not_supported);
    zipc::result<zipc::tensor_view> in = request_tensor(req);
    if (!in)
        return req.fail(in.error());
    if (in->dtype() != zipc::dtype_of<float>() || !in->contiguous())
        return req.fail(std::errc::invalid_argument);
    zipc_tensor_header h = zipc::tensor_header<float>(in->shape());
    if (zipc::tensor_payload_size(h) > req.reply_capacity())
        return req.fail(std::errc::message_size);
    /* the reply is written where the caller reads it: header, then the elements */
    auto *out = reinterpret_cast<float *>(zipc::write_tensor_header(req.reply(), h));
    const float *x = in->data_as<float>();
    for (std::size_t i = 0, n = in->size(); i < n; i++)
        out[i] = 2.0f * x[i];
    req.respond(zipc::tensor_payload_size(h), zipc::type_id::tensor);
}

/* One worker process: serve until told to stop. */
int worker(const std::string &name, int ready_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* die with the parent */
    if (getppid() == 1)
        return 1;
    zipc::rpc_worker w = zipc::rpc_worker::serve(name, {}, zipc::options().handshake_timeout(10s));
    char one = 1;
    if (write(ready_fd, &one, 1) != 1)
        return 1;
    close(ready_fd);
    while (!stopping) {
        zipc::result<zipc::rpc_request> req = w.next(200ms, std::nothrow);
        if (req)
            serve_one(*req);
        else if (!req.is_timeout() && req.error() != std::errc::interrupted)
            throw zipc::error(req.error(), "zipc_rpc_next");
    }
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s NAME [WORKERS]\n", argv[0]);
        return 2;
    }
    std::string name = argv[1];
    int n = argc == 3 ? std::atoi(argv[2]) : 2;
    if (n < 1 || n > 32) {
        std::fprintf(stderr, "rpc_worker: WORKERS must be 1..32\n");
        return 2;
    }
    struct sigaction sa = {};
    sa.sa_handler = on_stop; /* no SA_RESTART: a blocked wait returns */
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    int ready[2];
    if (pipe(ready) != 0)
        return 1;
    std::vector<pid_t> pids;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            std::perror("rpc_worker: fork");
            stopping = 1;
            break;
        }
        if (pid == 0) {
            close(ready[0]);
            int rc = 1;
            try {
                rc = worker(name, ready[1]);
            } catch (const std::exception &e) {
                std::fprintf(stderr, "rpc_worker %d: %s\n", static_cast<int>(getpid()), e.what());
            }
            _exit(rc);
        }
        pids.push_back(pid);
    }
    close(ready[1]);
    int attached = 0;
    char c;
    while (attached < static_cast<int>(pids.size()) && read(ready[0], &c, 1) == 1)
        attached++;
    close(ready[0]);
    if (attached == n) {
        std::printf("rpc_worker: serving %s with %d workers\n", name.c_str(), n);
        std::fflush(stdout);
    }

    /* Wait for every worker; on a stop signal, pass it on. */
    int failed = attached == n ? 0 : 1;
    bool told = false;
    for (std::size_t left = pids.size(); left > 0;) {
        if (stopping && !told) {
            for (pid_t p : pids)
                kill(p, SIGTERM);
            told = true;
        }
        int status;
        pid_t p = waitpid(-1, &status, 0);
        if (p < 0)
            continue; /* EINTR: the signal */
        left--;
        if (!told && !stopping) /* a worker ended by itself: report it, the others go on */
            std::fprintf(stderr, "rpc_worker: worker %d ended (status %d)\n", static_cast<int>(p), status);
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM))
            failed = told ? 1 : failed;
    }
    return failed;
}

/* zipc bench: the zipc-cpp rows. The zipc transport's operations written
 * with the C++ binding (cpp/include/zipc.hpp), run by the same drivers,
 * loops, timer and checks as the zipc rows, so the gap between the two rows
 * is the binding's cost. The hot path uses the non-throwing std::nothrow
 * calls, as an application's hot loop would; RAII does the releasing.
 *
 * Channels and roles as in transport_zipc.c: path[0] carries child ->
 * parent (the parent listens), path[1] parent -> child (the child listens).
 * Entry points are called from C: each is noexcept (an escaping exception
 * terminates instead of unwinding through C frames). */
#include <zipc.hpp>

#include <unistd.h>

#include <cstring>
#include <new>

extern "C" {
#include "transport.h"
}

namespace {

const zipc::timeout kWait = std::chrono::nanoseconds(BENCH_TIMEOUT_NS);

struct state {
    zipc::channel tx, rx;
    zipc::view held; /* rtt: the message being answered, viewed into in place
                      * (as the C rows view into l->msgs[0]); dies before rx */
};

state &st(const struct link *l) noexcept { return *static_cast<state *>(l->cpp); }

int fail(std::error_code ec, const char *what) noexcept { return bench_fail(-ec.value(), "%s", what); }

int check_size(const struct link *l, const zipc::view_ref &m) noexcept
{
    if (m.size() != l->size)
        return bench_fail_plain(-EBADMSG, "zipc message of %zu bytes, expected %zu", m.size(), l->size);
    return 0;
}

/* Both processes open path[0] first, then path[1]: no cycle, no deadlock. */
void open_channels(struct link *l, state &s)
{
    bool parent = l->side == SIDE_PARENT;
    if (parent)
        s.rx = zipc::channel::listen(l->path[0], l->capacity);
    else
        s.tx = zipc::channel::connect(l->path[0]);
    if (l->mode != MODE_RTT)
        return;
    if (parent)
        s.tx = zipc::channel::connect(l->path[1]);
    else
        s.rx = zipc::channel::listen(l->path[1], l->capacity);
}

int cpp_open(struct link *l) noexcept
{
    auto *s = new (std::nothrow) state;
    if (!s)
        return bench_fail(-ENOMEM, "zipc-cpp state");
    l->cpp = s;
    try {
        open_channels(l, *s);
        return 0;
    } catch (const zipc::error &e) {
        return bench_fail_plain(-e.errno_value(), "%s", e.what());
    } catch (const std::bad_alloc &) {
        return bench_fail(-ENOMEM, "zipc::channel");
    }
}

int cpp_close(struct link *l) noexcept
{
    delete static_cast<state *>(l->cpp); /* the view first, then the channels */
    l->cpp = nullptr;
    for (auto &path : l->path) /* a listener that failed before a peer connected */
        if (path[0])
            unlink(path);
    return 0;
}

int cpp_send(struct link *l, const void *msg) noexcept
{
    auto r = st(l).tx.reserve(l->size, kWait, std::nothrow);
    if (!r)
        return fail(r.error(), "zipc::channel::reserve");
    zipc_copy(r->data(), msg, l->size);
    std::error_code ec = r->commit(l->size, 0, std::nothrow);
    return ec ? fail(ec, "zipc::reservation::commit") : 0;
}

int cpp_flush(struct link *l) noexcept
{
    try {
        st(l).tx.flush();
        return 0;
    } catch (const zipc::error &e) {
        return bench_fail_plain(-e.errno_value(), "%s", e.what());
    }
}

int cpp_recv(struct link *l, const void **msg) noexcept
{
    state &s = st(l);
    if (std::error_code ec = s.rx.view(s.held, kWait, std::nothrow))
        return fail(ec, "zipc::channel::view");
    *msg = s.held.data();
    return check_size(l, s.held);
}

int cpp_release(struct link *l) noexcept
{
    st(l).held.release();
    return 0;
}

/* Stream consumer: one message, checked in place, released when m dies. */
int cpp_take(struct link *l) noexcept
{
    auto m = st(l).rx.view(kWait, std::nothrow);
    if (!m)
        return m.error() == std::errc::broken_pipe ? -EPIPE : fail(m.error(), "zipc::channel::view");
    int err = check_size(l, *m);
    if (!err)
        err = link_check(l, m->data());
    return err ? err : 1;
}

long long cpp_sleeps(const struct link *l) noexcept
{
    long long total = 0;
    if (!l->cpp)
        return 0;
    for (const zipc::channel *ch : {&st(l).tx, &st(l).rx}) {
        struct zipc_channel_stats s;
        if (*ch && zipc_channel_get_stats(ch->native_handle(), &s) == 0)
            total += static_cast<long long>(s.sleeps);
    }
    return total;
}

} // namespace

const struct transport transport_zipc_cpp = {
    "zipc-cpp", zipc_link_setup, cpp_open, cpp_close, cpp_send, cpp_recv, cpp_release, cpp_flush, cpp_take, cpp_sleeps,
};

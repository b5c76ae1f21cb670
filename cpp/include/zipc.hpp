/* zipc.hpp — the C++17 binding of zipc: header-only, over the C library
 * (zipc.h). Nothing here re-implements the ring; every call is one C call
 * plus the RAII and type checks around it.
 *
 *   zipc::channel      move-only endpoint; closes in its destructor
 *   zipc::publisher    a topic's one writer (zipc/topic.h); move-only
 *   zipc::subscriber   one of a topic's readers, with its zipc::subscription
 *                      (a zipc::policy, history, resume_newest); move-only
 *   zipc::queue        a producer or a consumer of a queue (zipc/queue.h),
 *                      with its zipc::queue_config; move-only
 *   zipc::rpc_client   a service's client (zipc/rpc.h): call, reserve,
 *                      wait, wait_any, cancel; zipc::call_options
 *   zipc::rpc_worker   one of its workers: next, then the zipc::rpc_request
 *                      is answered in place (respond, fail; respond_part
 *                      for a streamed reply)
 *   zipc::rpc_reply    a call's reply (or a part of it), read in place;
 *                      released when it dies
 *   zipc::reservation  a slot being written; aborted unless committed
 *   zipc::view         one message read in place; released when it dies
 *   zipc::batch        the views of one drain; released together
 *   zipc::message      what recv copied out (size and type)
 *   zipc::tensor_view  a validated tensor message (zipc/tensor.h)
 *   zipc::store        a holder of a named store of sealed read-only tensors
 *                      (zipc/store.h): publish, publish_safetensors, open;
 *                      zipc::store_tensor, store_tensor_ref, store_options
 *
 * Errors. A throwing call throws zipc::error (a std::system_error) whose
 * code() is {errno, zipc::category()}, whose name() is the errno's name
 * (zipc_err_name) and whose what() carries the C call and zipc_strerror()'s
 * text. The codes compare equal to std::errc, so
 *     catch (const zipc::error &e) { if (e.code() == std::errc::broken_pipe) ... }
 * works. Every blocking call also comes in two forms that never throw
 * zipc::error and return zipc::result<T> (or a std::error_code) instead:
 *   - the same call with std::nothrow last: it waits as long as its timeout
 *     says, e.g. ch.view(10ms, std::nothrow);
 *   - try_ calls (try_view, try_reserve, try_send, try_drain, try_recv, ...):
 *     they never block (like the Rust binding's try_ calls): "nothing now"
 *     is std::errc::resource_unavailable_try_again (EAGAIN).
 * Use those on hot paths where EAGAIN and ETIMEDOUT are normal. Nothing here
 * allocates except the listen/connect options' label and a batch's buffer.
 *
 * Timeouts. zipc::timeout takes any std::chrono duration (<= 0: do not
 * block), zipc::try_once (never block: EAGAIN) or zipc::forever. Blocking
 * calls default to forever. Blocking means: spin (options::spin,
 * zipc::default_spin), then sleep in the kernel until the peer acts, dies,
 * channel::interrupt() is called, or the timeout passes.
 *
 * Threads. An endpoint (channel, publisher, subscriber, queue, rpc client
 * or worker) and everything it hands out (reservations, views, batches,
 * replies, requests) belong to one thread at a time; calls on them must
 * not run concurrently, except interrupt(), which any thread may call. The
 * endpoints (usually in other processes) run fully in parallel. What an
 * endpoint hands out must not outlive it (like iterators and their
 * container).
 *
 * Release order. Views and batches may die in any order: each is given back
 * with zipc_channel_release_view (zipc_subscriber_release_view,
 * zipc_queue_release_view), and the C core's ledger returns the ring to the
 * writer oldest first (as soon as every older view is gone too).
 *
 * One class per concept for every kind: a channel, a publisher and a queue
 * write through the same calls (detail::writer), a channel, a subscriber and
 * a queue read through the same calls (detail::reader), and they hand out
 * the same zipc::reservation, zipc::view and zipc::batch.
 */
#ifndef ZIPC_HPP
#define ZIPC_HPP

#include <zipc.h>
#include <zipc/tensor.h>
#include <zipc/types.h>
#include <zipc/store.h>

#include <chrono>
#include <algorithm>
#include <climits>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

/* Branch layout for the hot paths (C++17 has no [[likely]]); #undef'd at the end. */
#if defined(__GNUC__)
#define ZIPC__HPP_LIKELY(x) __builtin_expect(!!(x), 1)
#define ZIPC__HPP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define ZIPC__HPP_LIKELY(x) (x)
#define ZIPC__HPP_UNLIKELY(x) (x)
#endif

namespace zipc {

/* ======================================================================
 * Errors
 * ====================================================================== */

namespace detail {
class category_impl final : public std::error_category {
public:
    const char *name() const noexcept override { return "zipc"; }
    std::string message(int ev) const override { return zipc_strerror(ev); }
    /* zipc codes are errno values: compare equal to std::errc. */
    std::error_condition default_error_condition(int ev) const noexcept override
    {
        return std::error_condition(ev, std::generic_category());
    }
};

/* The one category object: constant-initialised (no guard on the hot path:
 * every non-throwing call's success code names it) and never destroyed, so
 * an error code stays usable in other objects' static destructors. */
union category_storage {
    constexpr category_storage() noexcept : c() {}
    ~category_storage() {}
    category_impl c;
};
inline const category_storage category_instance;
} // namespace detail

/* The category of every zipc error code: value() is a positive errno. */
inline const std::error_category &category() noexcept { return detail::category_instance.c; }

/* A C return value (negative errno) as an error code; 0 is success. */
inline std::error_code make_error_code(int err) noexcept
{
    return std::error_code(err < 0 ? -err : err, category());
}

/* "Nothing happened in time": -EAGAIN (try_once) or -ETIMEDOUT. */
inline bool is_timeout(std::error_code ec) noexcept
{
    return ec == std::errc::resource_unavailable_try_again || ec == std::errc::timed_out;
}

/* What every throwing call throws. errno_value() is the positive errno,
 * name() its symbolic name ("EPIPE", from zipc_err_name). */
class error : public std::system_error {
public:
    error(std::error_code ec, const char *what) : std::system_error(ec, what) {}
    error(int err, const char *what) : error(make_error_code(err), what) {}
    int errno_value() const noexcept { return code().value(); }
    const char *name() const noexcept { return zipc_err_name(code().value()); }
};

namespace detail {
/* rc < 0: throw; otherwise return it. */
inline int check(int rc, const char *what)
{
    if (rc < 0)
        throw error(rc, what);
    return rc;
}
inline void check(std::error_code ec, const char *what)
{
    if (ec)
        throw error(ec, what);
}
template <class D> class reader; /* result's friend: it fills results in place */
/* Tag of a view constructed for the C call that fills it (its message not zeroed). */
struct unfilled_t {
    explicit unfilled_t() = default;
};
} // namespace detail

namespace detail {
/* result's storage: its value or its error, one of them alive (ok_ says
 * which). Not std::optional plus an error_code: a view filled in place
 * (reader::view) is then marked held after the C call returns, a store
 * the caller's test of it reads straight back, instead of before the call,
 * a flag reloaded after it; and dying writes nothing (DESIGN §10). */
template <class T> class result_storage {
protected:
    result_storage(T &&v) noexcept(std::is_nothrow_move_constructible_v<T>) : value_(std::move(v)), ok_(true) {}
    result_storage(const T &v) : value_(v), ok_(true) {}
    result_storage(std::error_code ec) noexcept : ec_(ec), ok_(false) {}
    /* A value for a C call to fill: not held until it has (mark_held; on an
     * error the value is left unread: the caller leaves nothing in it to
     * give back, so its destructor has nothing to do). */
    template <class... A> explicit result_storage(std::in_place_t, A &&...a) noexcept
        : value_(std::forward<A>(a)...), ok_(false)
    {
    }
    result_storage(result_storage &&o) noexcept(std::is_nothrow_move_constructible_v<T>) { take_from(std::move(o)); }
    result_storage(const result_storage &o) { take_from(o); }
    result_storage &operator=(result_storage &&o) noexcept(std::is_nothrow_move_constructible_v<T>)
    {
        if (this != &o) {
            destroy();
            take_from(std::move(o));
        }
        return *this;
    }
    result_storage &operator=(const result_storage &o)
    {
        if (this != &o) {
            result_storage copy(o); /* may throw: this one is still whole */
            *this = std::move(copy);
        }
        return *this;
    }
    ~result_storage() { destroy(); }
    void destroy() noexcept
    {
        if (ok_)
            value_.~T();
    }
    /* Into storage holding nothing alive: o's value (moved or copied) or error. */
    template <class S> void take_from(S &&o)
    {
        ok_ = o.ok_;
        if (ok_)
            new (&value_) T(std::forward<S>(o).value_);
        else
            new (&ec_) std::error_code(o.ec_);
    }
    union {
        T value_;
        std::error_code ec_;
    };
    bool ok_;
};
/* Deletes result's copies when T has none (std::optional's way). */
template <bool Copyable> struct copy_like {};
template <> struct copy_like<false> {
    copy_like() = default;
    copy_like(const copy_like &) = delete;
    copy_like(copy_like &&) = default;
    copy_like &operator=(const copy_like &) = delete;
    copy_like &operator=(copy_like &&) = default;
};
} // namespace detail

/* The value of a non-throwing call (try_, or std::nothrow), or the error
 * code that stopped it. */
template <class T>
class [[nodiscard]] result : detail::result_storage<T>, detail::copy_like<std::is_copy_constructible_v<T>> {
    using base = detail::result_storage<T>;

public:
    result(T &&value) noexcept(std::is_nothrow_move_constructible_v<T>) : base(std::move(value)) {}
    result(const T &value) : base(value) {}
    result(std::error_code ec) noexcept : base(ec) {}

    bool has_value() const noexcept { return this->ok_; }
    explicit operator bool() const noexcept { return has_value(); }
    /* EAGAIN or ETIMEDOUT: the normal "not now" of a non-throwing call. */
    bool is_timeout() const noexcept { return !has_value() && zipc::is_timeout(this->ec_); }
    /* 0 (zipc::category(), not std::error_code{}: its std::system_category()
     * is a call into libstdc++) when there is a value. */
    std::error_code error() const noexcept { return has_value() ? std::error_code(0, category()) : this->ec_; }

    /* The value; throws zipc::error when there is none. */
    T &value() &
    {
        ensure();
        return this->value_;
    }
    T &&value() &&
    {
        ensure();
        return std::move(this->value_);
    }
    T &operator*() & noexcept { return this->value_; }
    T &&operator*() && noexcept { return std::move(this->value_); }
    T *operator->() noexcept { return &this->value_; }

private:
    template <class> friend class detail::reader;
    /* A value filled in place by the call that returns it, then marked held. */
    template <class... A> explicit result(std::in_place_t, A &&...a) noexcept : base(std::in_place, std::forward<A>(a)...) {}
    void mark_held() noexcept { this->ok_ = true; }
    void ensure() const
    {
        if (!has_value())
            throw zipc::error(this->ec_, "zipc::result::value");
    }
};

namespace detail {
/* The value of a non-throwing call, or throw its error as the C call `what`. */
template <class T> T value_or_throw(result<T> &&r, const char *what)
{
    if (ZIPC__HPP_UNLIKELY(!r))
        throw error(r.error(), what);
    return std::move(*r);
}
} // namespace detail

/* ======================================================================
 * Timeouts
 * ====================================================================== */

struct try_once_t {
    explicit constexpr try_once_t() = default;
};
struct forever_t {
    explicit constexpr forever_t() = default;
};
inline constexpr try_once_t try_once{}; /* never block: -EAGAIN */
inline constexpr forever_t forever{};   /* wait without limit */

/* The C library's defaults (zipc/common.h), for options left unset. */
inline constexpr std::chrono::nanoseconds default_timeout{ZIPC_DEFAULT_TIMEOUT_NS}; /* listen/connect */
inline constexpr std::chrono::nanoseconds default_spin{ZIPC_DEFAULT_SPIN_NS};
inline constexpr std::uint32_t default_socket_mode = ZIPC_DEFAULT_SOCKET_MODE;
inline constexpr std::uint64_t default_max_segment = ZIPC_DEFAULT_MAX_SEGMENT;

class timeout {
public:
    constexpr timeout(try_once_t) noexcept : ns_(ZIPC_TRY) {}
    constexpr timeout(forever_t) noexcept : ns_(ZIPC_FOREVER) {}
    /* <= 0: do not block; longer than ~285 years: forever. */
    template <class Rep, class Period>
    constexpr timeout(std::chrono::duration<Rep, Period> d) noexcept : ns_(to_ns(d))
    {
    }
    /* The C library's timeout_ns. */
    constexpr std::int64_t ns() const noexcept { return ns_; }

private:
    template <class Rep, class Period>
    static constexpr std::int64_t to_ns(std::chrono::duration<Rep, Period> d) noexcept
    {
        if (d <= d.zero())
            return ZIPC_TRY;
        if (std::chrono::duration<double, std::nano>(d).count() >= 9.0e18)
            return ZIPC_FOREVER;
        std::int64_t n = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
        return n > 0 ? n : 1; /* a positive sub-nanosecond wait still waits */
    }
    std::int64_t ns_;
};

/* ======================================================================
 * Spans (C++17 has no std::span)
 * ====================================================================== */

template <class T> class span {
public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;
    using iterator = T *;

    constexpr span() noexcept = default;
    constexpr span(T *data, std::size_t size) noexcept : data_(data), size_(size) {}
    /* From a contiguous container (vector, array, string, ...) of T. */
    template <class C, class = std::enable_if_t<
                           std::is_convertible_v<decltype(std::declval<C &>().data()), T *> &&
                           !std::is_same_v<std::decay_t<C>, span>>>
    constexpr span(C &c) noexcept(noexcept(c.data()) && noexcept(c.size())) : span(c.data(), c.size())
    {
    }
    /* From a braced list, for const spans taken as arguments: send_tensor(p, {2, 3}). */
    template <class U = T, class = std::enable_if_t<std::is_const_v<U>>>
    constexpr span(std::initializer_list<value_type> il) noexcept : span(il.begin(), il.size())
    {
    }

    constexpr T *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr std::size_t size_bytes() const noexcept { return size_ * sizeof(T); }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T *begin() const noexcept { return data_; }
    constexpr T *end() const noexcept { return data_ + size_; }
    constexpr T &operator[](std::size_t i) const noexcept { return data_[i]; }

private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};

using bytes = span<std::byte>;
using const_bytes = span<const std::byte>;
using shape_t = span<const std::int64_t>; /* tensor dimensions, in elements */

/* Raw memory as bytes. */
inline const_bytes as_bytes(const void *data, std::size_t size) noexcept
{
    return const_bytes(static_cast<const std::byte *>(data), size);
}
inline bytes as_writable_bytes(void *data, std::size_t size) noexcept
{
    return bytes(static_cast<std::byte *>(data), size);
}
/* A contiguous container of trivially copyable elements (string,
 * string_view, vector, array, span) as bytes. */
template <class C, class E = std::remove_pointer_t<decltype(std::declval<const C &>().data())>>
const_bytes as_bytes(const C &c) noexcept
{
    static_assert(std::is_trivially_copyable_v<E>, "zipc::as_bytes: elements must be trivially copyable");
    return as_bytes(c.data(), c.size() * sizeof(E));
}

/* ======================================================================
 * Options, roles, type ids
 * ====================================================================== */

enum class role : int {
    default_ = ZIPC_ROLE_DEFAULT, /* listener: consumer; connector: the listener's choice */
    consumer = ZIPC_ROLE_CONSUMER,
    producer = ZIPC_ROLE_PRODUCER,
};

/* The built-in type ids (zipc/types.h): a C, Python or Rust peer reads them. */
namespace type_id {
inline constexpr std::uint32_t bytes = ZIPC_TYPE_BYTES;
inline constexpr std::uint32_t str = ZIPC_TYPE_STR;
inline constexpr std::uint32_t json = ZIPC_TYPE_JSON;
inline constexpr std::uint32_t tensor = ZIPC_TYPE_TENSOR;
inline constexpr std::uint32_t list = ZIPC_TYPE_LIST;
inline constexpr std::uint32_t any = ZIPC_TYPE_ANY; /* subscriber::latest: a message of any type */
inline constexpr bool is_reserved(std::uint32_t t) noexcept { return t >= ZIPC_TYPE_RESERVED_MIN; }
} // namespace type_id

/* Endpoint options; an option left unset keeps the C library's default
 * (zipc::default_*). Chainable:
 *     zipc::options().role(zipc::role::producer).handshake_timeout(2s) */
class options {
public:
    options &role(zipc::role r) noexcept { return set(o_.role, static_cast<std::int32_t>(r)); }
    /* Listener: accept a peer of any uid / also this uid (besides our euid). */
    options &any_uid() noexcept { return set(o_.flags, o_.flags | ZIPC_OPT_ANY_UID); }
    options &peer_uid(std::uint32_t uid) noexcept
    {
        o_.peer_uid = uid;
        return set(o_.flags, o_.flags | ZIPC_OPT_PEER_UID);
    }
    /* Busy-wait this long before sleeping (default: default_spin); no_spin: sleep at once. */
    options &spin(std::chrono::nanoseconds d) noexcept { return set(o_.spin_ns, d.count() > 0 ? d.count() : 1); }
    options &no_spin() noexcept { return set(o_.flags, o_.flags | ZIPC_OPT_NO_SPIN); }
    /* How long listen/connect wait for the peer (default: default_timeout). */
    options &handshake_timeout(std::chrono::nanoseconds d) noexcept
    {
        return set(o_.timeout_ns, d.count() > 0 ? d.count() : 1);
    }
    options &handshake_timeout(forever_t) noexcept { return set(o_.timeout_ns, ZIPC_FOREVER); }
    /* A path listener's socket file mode (default: default_socket_mode). */
    options &socket_mode(std::uint32_t mode) noexcept { return set(o_.socket_mode, mode); }
    /* The label stored in the segment header, for tools (default: the name or path). */
    options &label(std::string text)
    {
        label_ = std::move(text);
        return *this;
    }
    /* Connector: the largest segment it accepts from a listener (EFBIG
     * beyond; default: default_max_segment). */
    options &max_segment(std::uint64_t size) noexcept { return set(o_.max_segment, size); }
    /* The C struct; valid while this object lives unchanged. */
    zipc_options native() const noexcept
    {
        zipc_options o = o_;
        o.label = label_.empty() ? nullptr : label_.c_str();
        return o;
    }

private:
    template <class F, class V> options &set(F &field, V v) noexcept
    {
        field = static_cast<F>(v);
        return *this;
    }
    zipc_options o_{};
    std::string label_;
};

/* Tags for commit: stage the message, publish it with the next plain commit or flush(). */
struct more_t {
    explicit constexpr more_t() = default;
};
inline constexpr more_t more{};

/* ======================================================================
 * Producer: reservation
 * ====================================================================== */

namespace detail {
/* The C calls of each endpoint type, overloaded on it, so that one C++ class
 * serves a channel, a topic and a queue alike: the writers (zipc_channel,
 * zipc_publisher, zipc_queue) and the readers (zipc_channel,
 * zipc_subscriber, zipc_queue). */
inline int c_reserve(zipc_channel *e, std::size_t n, void **p, std::int64_t t) noexcept { return zipc_channel_reserve(e, n, p, t); }
inline int c_reserve(zipc_publisher *e, std::size_t n, void **p, std::int64_t t) noexcept { return zipc_publisher_reserve(e, n, p, t); }
inline int c_reserve(zipc_queue *e, std::size_t n, void **p, std::int64_t t) noexcept { return zipc_queue_reserve(e, n, p, t); }
inline int c_commit(zipc_channel *e, std::size_t n, std::uint32_t type, unsigned f) noexcept { return zipc_channel_commit(e, n, type, f); }
inline int c_commit(zipc_publisher *e, std::size_t n, std::uint32_t type, unsigned f) noexcept { return zipc_publisher_commit(e, n, type, f); }
inline int c_commit(zipc_queue *e, std::size_t n, std::uint32_t type, unsigned f) noexcept { return zipc_queue_commit(e, n, type, f); }
inline int c_abort(zipc_channel *e) noexcept { return zipc_channel_abort(e); }
inline int c_abort(zipc_publisher *e) noexcept { return zipc_publisher_abort(e); }
inline int c_abort(zipc_queue *e) noexcept { return zipc_queue_abort(e); }
inline int c_flush(zipc_channel *e) noexcept { return zipc_channel_flush(e); }
inline int c_flush(zipc_publisher *e) noexcept { return zipc_publisher_flush(e); }
inline int c_flush(zipc_queue *e) noexcept { return zipc_queue_flush(e); }
inline int c_send(zipc_channel *e, const void *d, std::size_t n, std::uint32_t type, std::int64_t t) noexcept
{
    return zipc_channel_send(e, d, n, type, t);
}
inline int c_send(zipc_publisher *e, const void *d, std::size_t n, std::uint32_t type, std::int64_t t) noexcept
{
    return zipc_publisher_send(e, d, n, type, t);
}
inline int c_send(zipc_queue *e, const void *d, std::size_t n, std::uint32_t type, std::int64_t t) noexcept
{
    return zipc_queue_send(e, d, n, type, t);
}
inline int c_view(zipc_channel *e, zipc_msg *m, std::int64_t t) noexcept { return zipc_channel_view(e, m, t); }
inline int c_view(zipc_subscriber *e, zipc_msg *m, std::int64_t t) noexcept { return zipc_subscriber_view(e, m, t); }
inline int c_view(zipc_queue *e, zipc_msg *m, std::int64_t t) noexcept { return zipc_queue_view(e, m, t); }
inline int c_drain(zipc_channel *e, zipc_msg *m, unsigned n, std::int64_t t) noexcept { return zipc_channel_drain(e, m, n, t); }
inline int c_drain(zipc_subscriber *e, zipc_msg *m, unsigned n, std::int64_t t) noexcept { return zipc_subscriber_drain(e, m, n, t); }
inline int c_drain(zipc_queue *e, zipc_msg *m, unsigned n, std::int64_t t) noexcept { return zipc_queue_drain(e, m, n, t); }
inline int c_recv(zipc_channel *e, void *b, std::size_t cap, std::size_t *n, std::uint32_t *type, std::int64_t t) noexcept
{
    return zipc_channel_recv(e, b, cap, n, type, t);
}
inline int c_recv(zipc_subscriber *e, void *b, std::size_t cap, std::size_t *n, std::uint32_t *type, std::int64_t t) noexcept
{
    return zipc_subscriber_recv(e, b, cap, n, type, t);
}
inline int c_recv(zipc_queue *e, void *b, std::size_t cap, std::size_t *n, std::uint32_t *type, std::int64_t t) noexcept
{
    return zipc_queue_recv(e, b, cap, n, type, t);
}
inline int c_release_view(zipc_channel *e, const zipc_msg *m) noexcept { return zipc_channel_release_view(e, m); }
inline int c_release_view(zipc_subscriber *e, const zipc_msg *m) noexcept { return zipc_subscriber_release_view(e, m); }
inline int c_release_view(zipc_queue *e, const zipc_msg *m) noexcept { return zipc_queue_release_view(e, m); }
inline int c_release_views(zipc_channel *e, const zipc_msg *m, unsigned n) noexcept { return zipc_channel_release_views(e, m, n); }
inline int c_release_views(zipc_subscriber *e, const zipc_msg *m, unsigned n) noexcept
{
    return zipc_subscriber_release_views(e, m, n);
}
/* A queue's views are taken one by one (not a run of one ring): each goes
 * back on its own; the first error is the batch's. */
inline int c_release_views(zipc_queue *e, const zipc_msg *m, unsigned n) noexcept
{
    int first = 0;
    for (unsigned i = 0; i < n; i++)
        if (int rc = zipc_queue_release_view(e, &m[i]); rc && !first)
            first = rc;
    return first;
}

/* The C calls' names, for zipc::error's what(). */
struct call_names {
    const char *reserve, *commit, *send, *flush, *view, *drain, *recv;
};
inline constexpr call_names c_names(const zipc_channel *) noexcept
{
    return {"zipc_channel_reserve", "zipc_channel_commit", "zipc_channel_send", "zipc_channel_flush",
            "zipc_channel_view", "zipc_channel_drain", "zipc_channel_recv"};
}
inline constexpr call_names c_names(const zipc_publisher *) noexcept
{
    return {"zipc_publisher_reserve", "zipc_publisher_commit", "zipc_publisher_send", "zipc_publisher_flush",
            nullptr, nullptr, nullptr};
}
inline constexpr call_names c_names(const zipc_subscriber *) noexcept
{
    return {nullptr, nullptr, nullptr, nullptr, "zipc_subscriber_view", "zipc_subscriber_drain", "zipc_subscriber_recv"};
}
inline constexpr call_names c_names(const zipc_queue *) noexcept
{
    return {"zipc_queue_reserve", "zipc_queue_commit", "zipc_queue_send", "zipc_queue_flush",
            "zipc_queue_view", "zipc_queue_drain", "zipc_queue_recv"};
}

/* The endpoint a reservation commits to, or a view or batch gives back to:
 * one of the C types Ts, or none (closed). A pointer and which type it is:
 * a branch or two the CPU predicts, rather than a call through a pointer. */
template <class... Ts> class either {
public:
    constexpr either() noexcept : p_(nullptr), k_(0) {}
    /* For a view the next C call fills: nothing written (reader::view). */
    explicit either(unfilled_t) noexcept {}
    template <class T, class = std::enable_if_t<(std::is_same_v<T, Ts> || ...)>>
    constexpr either(T *p) noexcept : p_(p), k_(p ? index_of<T>() + 1 : 0)
    {
    }
    /* An endpoint a C call just succeeded on: not null, so no test. */
    template <class T, class = std::enable_if_t<(std::is_same_v<T, Ts> || ...)>>
    static constexpr either open(T *p) noexcept
    {
        either e;
        e.p_ = p, e.k_ = index_of<T>() + 1;
        return e;
    }
    /* None any more. p_ is left as it was (read only while k_ names its
     * type): one store fewer per release than resetting both (whether that
     * shows in `zipc bench`'s cpp-calls depends on layout: DESIGN §10). */
    constexpr void clear() noexcept { k_ = 0; }
    /* This endpoint, none left here. */
    constexpr either take() noexcept
    {
        either e = *this;
        clear();
        return e;
    }
    explicit operator bool() const noexcept { return k_ != 0; }
    /* f(endpoint) with its own C type (a null pointer of the last type when
     * there is none: the C calls then return -EINVAL). */
    template <class F> decltype(auto) visit(F &&f) const { return visit_from<1, Ts...>(f); }

private:
    template <class T> static constexpr unsigned char index_of() noexcept
    {
        unsigned char i = 0, found = 0;
        ((std::is_same_v<T, Ts> ? (found = i, ++i) : ++i), ...);
        return found;
    }
    template <unsigned char K, class T, class... Rest, class F> decltype(auto) visit_from(F &f) const
    {
        if constexpr (sizeof...(Rest) == 0)
            return f(k_ ? static_cast<T *>(p_) : nullptr); /* the last type, or none: null */
        else if (k_ == K)
            return f(static_cast<T *>(p_));
        else
            return visit_from<K + 1, Rest...>(f);
    }
    void *p_;
    unsigned char k_; /* 1 + the index of p_'s type in Ts; 0: none */
};
using writer_end = either<zipc_channel, zipc_publisher, zipc_queue>;
using reader_end = either<zipc_channel, zipc_subscriber, zipc_queue>;

template <class D> class writer;
template <class D> class reader;
} // namespace detail

/* A writable slot in the ring (16-byte aligned), from reserve (a channel's
 * or a publisher's). Commit publishes it; otherwise it is aborted when it
 * dies (no trace in the ring). At most one is open per endpoint (a second
 * reserve: EALREADY). */
class reservation {
public:
    reservation() noexcept = default;
    reservation(reservation &&o) noexcept
        : end_(o.end_.take()), data_(o.data_), size_(o.size_)
    {
    }
    reservation &operator=(reservation &&o) noexcept
    {
        if (this != &o) {
            abort();
            end_ = o.end_.take(), data_ = o.data_, size_ = o.size_;
        }
        return *this;
    }
    reservation(const reservation &) = delete;
    reservation &operator=(const reservation &) = delete;
    ~reservation() { abort(); }

    explicit operator bool() const noexcept { return static_cast<bool>(end_); }
    std::byte *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bytes span() const noexcept { return bytes(data_, size_); }

    /* Publish the first `size` bytes (<= size(); default: all) as one
     * message of `type`. Never blocks. With zipc::more the message is staged
     * (batch publish). On error the reservation stays open. */
    void commit(std::uint32_t type = 0) { commit(size_, type); }
    void commit(std::size_t size, std::uint32_t type) { check_commit(publish(size, type, 0)); }
    void commit(std::size_t size, std::uint32_t type, more_t) { check_commit(publish(size, type, ZIPC_COMMIT_MORE)); }
    /* The same without exceptions. */
    [[nodiscard]] std::error_code commit(std::size_t size, std::uint32_t type, std::nothrow_t) noexcept
    {
        return make_error_code(publish(size, type, 0));
    }
    [[nodiscard]] std::error_code commit(std::size_t size, std::uint32_t type, more_t, std::nothrow_t) noexcept
    {
        return make_error_code(publish(size, type, ZIPC_COMMIT_MORE));
    }
    /* Drop it: nothing reaches the ring. */
    void abort() noexcept
    {
        if (end_)
            end_.take().visit([](auto *e) { return detail::c_abort(e); });
    }

private:
    template <class> friend class detail::writer;
    reservation(detail::writer_end end, void *data, std::size_t size) noexcept
        : end_(end), data_(static_cast<std::byte *>(data)), size_(size)
    {
    }
    int publish(std::size_t size, std::uint32_t type, unsigned flags) noexcept
    {
        int rc = end_.visit([&](auto *e) { return detail::c_commit(e, size, type, flags); });
        if (rc == 0)
            end_.clear();
        return rc;
    }
    void check_commit(int rc) const
    {
        if (rc < 0)
            throw error(rc, end_.visit([](auto *e) { return detail::c_names(e).commit; }));
    }
    detail::writer_end end_; /* the endpoint while the slot is open */
    std::byte *data_ = nullptr;
    std::size_t size_ = 0;
};

/* ======================================================================
 * Tensors (zipc/tensor.h)
 * ====================================================================== */

/* A DLPack data type. */
struct dtype {
    std::uint8_t code; /* enum zipc_dtype_code */
    std::uint8_t bits;
    std::uint16_t lanes;
    friend constexpr bool operator==(dtype a, dtype b) noexcept
    {
        return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
    }
    friend constexpr bool operator!=(dtype a, dtype b) noexcept { return !(a == b); }
};

namespace detail {
template <class T> struct is_complex : std::false_type {};
template <class T> struct is_complex<std::complex<T>> : std::true_type {};
template <class> inline constexpr bool dependent_false = false;
} // namespace detail

/* The dtype of an element type: bool, integers, float, double, std::complex. */
template <class T> constexpr dtype dtype_of() noexcept
{
    using U = std::remove_cv_t<T>;
    constexpr auto bits = static_cast<std::uint8_t>(sizeof(U) * CHAR_BIT);
    if constexpr (std::is_same_v<U, bool>)
        return {ZIPC_DTYPE_BOOL, 8, 1};
    else if constexpr (std::is_integral_v<U>)
        return {std::is_signed_v<U> ? std::uint8_t{ZIPC_DTYPE_INT} : std::uint8_t{ZIPC_DTYPE_UINT}, bits, 1};
    else if constexpr (std::is_same_v<U, float> || std::is_same_v<U, double>)
        return {ZIPC_DTYPE_FLOAT, bits, 1};
    else if constexpr (detail::is_complex<U>::value)
        return {ZIPC_DTYPE_COMPLEX, bits, 1};
    else
        static_assert(detail::dependent_false<T>, "zipc: not a tensor element type");
}

/* The header of a C-contiguous tensor of T with this shape; throws
 * zipc::error (EINVAL: more than 8 dimensions or a negative one; EOVERFLOW). */
template <class T> zipc_tensor_header tensor_header(shape_t shape)
{
    constexpr dtype dt = dtype_of<T>();
    zipc_tensor_header h;
    unsigned ndim = shape.size() > ZIPC_TENSOR_MAX_NDIM ? ZIPC_TENSOR_MAX_NDIM + 1 : static_cast<unsigned>(shape.size());
    detail::check(zipc_tensor_init(&h, dt.code, dt.bits, dt.lanes, ndim, shape.data()), "zipc_tensor_init");
    return h;
}

/* Bytes of the whole payload: header, padding, data. */
inline std::size_t tensor_payload_size(const zipc_tensor_header &h) noexcept
{
    return static_cast<std::size_t>(h.data_offset + h.nbytes);
}

/* Start a tensor payload in out (>= tensor_payload_size(h) bytes, else
 * EMSGSIZE): the header and zeroed padding. Returns where its h.nbytes of
 * data go (out + h.data_offset), to fill in place. */
inline std::byte *write_tensor_header(bytes out, const zipc_tensor_header &h)
{
    if (out.size() < tensor_payload_size(h))
        throw error(-EMSGSIZE, "zipc::write_tensor: buffer smaller than the payload");
    std::memcpy(out.data(), &h, sizeof h);
    std::memset(out.data() + sizeof h, 0, static_cast<std::size_t>(h.data_offset) - sizeof h);
    return out.data() + h.data_offset;
}

/* Encode a tensor payload into out (>= tensor_payload_size(h) bytes): the
 * header, zeroed padding, then h.nbytes from data. */
inline void write_tensor(bytes out, const zipc_tensor_header &h, const void *data)
{
    std::byte *dst = write_tensor_header(out, h);
    if (h.nbytes)
        zipc_copy(dst, data, static_cast<std::size_t>(h.nbytes));
}

/* A tensor message, read in place. The header is copied out of the ring
 * (the peer can still write there) and validated (zipc_tensor_validate);
 * data() points into the ring and is valid while the message lives. */
class tensor_view {
public:
    /* Parse a ZIPC_TYPE_TENSOR payload; std::errc::bad_message if invalid. */
    static result<tensor_view> parse(const_bytes payload) noexcept
    {
        tensor_view t;
        if (payload.size() < sizeof t.h_)
            return make_error_code(-EBADMSG);
        std::memcpy(&t.h_, payload.data(), sizeof t.h_);
        if (int rc = zipc_tensor_validate(&t.h_, payload.size()))
            return make_error_code(rc);
        t.data_ = payload.data() + t.h_.data_offset;
        return t;
    }

    zipc::dtype dtype() const noexcept { return {h_.dtype_code, h_.dtype_bits, h_.dtype_lanes}; }
    std::size_t ndim() const noexcept { return h_.ndim; }
    shape_t shape() const noexcept { return shape_t(h_.shape, h_.ndim); }
    shape_t strides() const noexcept { return shape_t(h_.strides, h_.ndim); } /* in elements */
    std::size_t nbytes() const noexcept { return static_cast<std::size_t>(h_.nbytes); }
    /* Elements: the product of the shape (1 for a scalar). */
    std::size_t size() const noexcept
    {
        std::size_t n = 1;
        for (std::int64_t d : shape())
            n *= static_cast<std::size_t>(d);
        return n;
    }
    /* C order (row-major, no gaps; dimensions of size 1 may have any stride). */
    bool contiguous() const noexcept
    {
        std::int64_t expect = 1;
        for (std::size_t i = h_.ndim; i-- > 0;) {
            if (h_.shape[i] != 1 && h_.strides[i] != expect)
                return false;
            expect *= h_.shape[i];
        }
        return true;
    }
    const void *data() const noexcept { return data_; }
    /* The data as T; throws zipc::error (EINVAL) if the dtype is not T's. */
    template <class T> const T *data_as() const
    {
        if (dtype() != dtype_of<T>())
            throw error(-EINVAL, "zipc::tensor_view::data_as: the tensor's dtype is not this type");
        return static_cast<const T *>(static_cast<const void *>(data_));
    }
    const zipc_tensor_header &header() const noexcept { return h_; }

private:
    tensor_view() noexcept = default;
    zipc_tensor_header h_{};
    const std::byte *data_ = nullptr;
};

/* A tensor being written in place, from reserve_tensor: fill
 * data()[0 .. size()), then commit(). Aborted unless committed. */
template <class T> class tensor_reservation {
public:
    T *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return n_; } /* elements */
    span<T> values() const noexcept { return span<T>(data_, n_); }
    void commit() { r_.commit(r_.size(), type_id::tensor); }
    void commit(more_t) { r_.commit(r_.size(), type_id::tensor, more); }
    void abort() noexcept { r_.abort(); }

private:
    template <class> friend class detail::writer;
    tensor_reservation(reservation r, const zipc_tensor_header &h) noexcept
        : r_(std::move(r)), n_(static_cast<std::size_t>(h.nbytes / sizeof(T)))
    {
        /* the reservation is the payload's size: the header fits */
        data_ = reinterpret_cast<T *>(write_tensor_header(r_.span(), h)); /* 64-byte aligned in the ring */
    }
    reservation r_;
    T *data_ = nullptr;
    std::size_t n_ = 0;
};

/* ======================================================================
 * Consumer: views, batches, copied messages
 * ====================================================================== */

/* A viewed message's fields, not owning it (a batch's elements; the base
 * of zipc::view). Valid while the view or batch it comes from lives. */
class view_ref {
public:
    view_ref() noexcept : m_{} {}
    explicit view_ref(const zipc_msg &m) noexcept : m_(m) {}

    /* The payload, in the ring: read-only, 16-byte aligned. */
    const std::byte *data() const noexcept { return static_cast<const std::byte *>(m_.data); }
    std::size_t size() const noexcept { return m_.size; }
    const_bytes payload() const noexcept { return const_bytes(data(), size()); }
    std::string_view text() const noexcept { return std::string_view(static_cast<const char *>(m_.data), m_.size); }
    std::uint32_t type() const noexcept { return m_.type; }
    std::uint64_t seq() const noexcept { return m_.seq; } /* from 0 on the channel; a queue: in its lane */
    /* A queue's message (zipc/queue.h) only: the producer lane that wrote
     * it, and its delivery attempt (1, then +1 each time a consumer died
     * holding it). (producer(), seq()) names it while the queue lives: a
     * sink drops a redelivered duplicate by it. */
    std::uint32_t producer() const noexcept { return zipc_queue_msg_producer(&m_); }
    std::uint32_t attempt() const noexcept { return zipc_queue_msg_attempt(&m_); }
    const zipc_msg &native() const noexcept { return m_; }

    /* A copy of the payload as T if it is exactly sizeof(T) bytes. */
    template <class T> std::optional<T> as() const noexcept
    {
        static_assert(std::is_trivially_copyable_v<T>, "zipc: a POD message must be trivially copyable");
        static_assert(std::is_default_constructible_v<T>, "zipc: a POD message must be default constructible");
        if (m_.size != sizeof(T))
            return std::nullopt;
        T v;
        std::memcpy(&v, m_.data, sizeof(T));
        return v;
    }
    /* The payload as a tensor (std::errc::bad_message if it is not a valid one). */
    result<tensor_view> tensor() const noexcept
    {
        if (m_.type != type_id::tensor)
            return make_error_code(-EBADMSG);
        return tensor_view::parse(payload());
    }

protected:
    /* For a C view call to fill: m_ left as it is (the call writes every field). */
    explicit view_ref(detail::unfilled_t) noexcept {}
    zipc_msg m_;
};

/* One message viewed in place, owned: released when it dies, is assigned
 * to or viewed into again, or on release(). Views may die in any order (see
 * "Release order" above). Move-only. Keep one in a hot loop and view into
 * it (view(zipc::view &, ...)): nothing is moved. A channel's and a
 * subscriber's views are the same type. */
class view : public view_ref {
public:
    view() noexcept = default;
    /* Internal: for the view call that fills it (reader::view). */
    explicit view(detail::unfilled_t t) noexcept : view_ref(t), end_(t) {}
    view(view &&o) noexcept : view_ref(o), end_(o.end_.take()) {}
    view &operator=(view &&o) noexcept
    {
        if (this != &o) {
            release();
            m_ = o.m_;
            end_ = o.end_.take();
        }
        return *this;
    }
    view(const view &) = delete;
    view &operator=(const view &) = delete;
    ~view()
    {
        if (end_)
            give_back(); /* no need to say it is gone: the view is */
    }
    explicit operator bool() const noexcept { return static_cast<bool>(end_); }
    /* Give the slot back now (the ring returns to the writer oldest first).
     * Never fails for the oldest open view; out of order, the C core may
     * fail to grow its ledger (ENOMEM): the space then returns at close.
     * A topic's drop_oldest view is not pinned: if the publisher overwrote
     * it while it was open, release says so (zipc::is_stale(ec): ESTALE),
     * and what was computed from its bytes must be discarded. Dropping or
     * re-viewing releases without telling. */
    std::error_code release() noexcept
    {
        if (!end_)
            return make_error_code(0); /* not {}: its system_category() is a call into libstdc++ */
        int rc = give_back();
        end_.clear();
        return make_error_code(rc);
    }

private:
    int give_back() noexcept { return end_.visit([this](auto *e) { return detail::c_release_view(e, &m_); }); }
    template <class> friend class detail::reader;
    detail::reader_end end_; /* the endpoint while this view is open */
};

/* The views of one drain, released together when the batch dies, on
 * release(), or when it is drained into again; like views, batches may die
 * in any order. Reusable: keep one per loop, no allocation per drain.
 * Iterates as view_ref. */
class batch {
public:
    class iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = view_ref;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = view_ref;
        iterator() noexcept = default;
        explicit iterator(const zipc_msg *p) noexcept : p_(p) {}
        view_ref operator*() const noexcept { return view_ref(*p_); }
        struct arrow {
            view_ref ref;
            const view_ref *operator->() const noexcept { return &ref; }
        };
        arrow operator->() const noexcept { return arrow{view_ref(*p_)}; }
        view_ref operator[](difference_type i) const noexcept { return view_ref(p_[i]); }
        iterator &operator++() noexcept { return ++p_, *this; }
        iterator operator++(int) noexcept { return iterator(p_++); }
        iterator &operator--() noexcept { return --p_, *this; }
        iterator operator--(int) noexcept { return iterator(p_--); }
        iterator &operator+=(difference_type n) noexcept { return p_ += n, *this; }
        iterator &operator-=(difference_type n) noexcept { return p_ -= n, *this; }
        friend iterator operator+(iterator a, difference_type n) noexcept { return a += n; }
        friend iterator operator-(iterator a, difference_type n) noexcept { return a -= n; }
        friend difference_type operator-(iterator a, iterator b) noexcept { return a.p_ - b.p_; }
        friend bool operator==(iterator a, iterator b) noexcept { return a.p_ == b.p_; }
        friend bool operator!=(iterator a, iterator b) noexcept { return a.p_ != b.p_; }
        friend bool operator<(iterator a, iterator b) noexcept { return a.p_ < b.p_; }

    private:
        const zipc_msg *p_ = nullptr;
    };

    /* Room for up to max_messages per drain (>= 1). */
    explicit batch(std::size_t max_messages = 64) : msgs_(max_messages ? max_messages : 1) {}
    batch(batch &&o) noexcept : msgs_(std::move(o.msgs_)), n_(o.n_), end_(o.end_.take()) {}
    batch &operator=(batch &&o) noexcept
    {
        if (this != &o) {
            release();
            msgs_ = std::move(o.msgs_);
            n_ = o.n_;
            end_ = o.end_.take();
        }
        return *this;
    }
    batch(const batch &) = delete;
    batch &operator=(const batch &) = delete;
    ~batch() { release(); }

    std::size_t size() const noexcept { return end_ ? n_ : 0; }
    bool empty() const noexcept { return size() == 0; }
    std::size_t capacity() const noexcept { return msgs_.size(); }
    view_ref operator[](std::size_t i) const noexcept { return view_ref(msgs_[i]); }
    iterator begin() const noexcept { return iterator(msgs_.data()); }
    iterator end() const noexcept { return iterator(msgs_.data() + size()); }
    /* Give every view back now (as view::release does for one; ESTALE if
     * any of a topic's drop_oldest views was overwritten meanwhile). */
    std::error_code release() noexcept
    {
        detail::reader_end end = end_.take();
        if (!end || !n_) /* one step when the run is the oldest; else the core's ledger keeps it */
            return make_error_code(0);
        return make_error_code(end.visit([this](auto *e) {
            return detail::c_release_views(e, msgs_.data(), static_cast<unsigned>(n_));
        }));
    }

private:
    template <class> friend class detail::reader;
    std::vector<zipc_msg> msgs_;
    std::size_t n_ = 0;
    detail::reader_end end_; /* the endpoint while the views are open */
};

/* A message copied out by recv: its size and type (the bytes are in the
 * caller's buffer). The owned, in-place counterpart is zipc::view. */
struct message {
    std::size_t size;
    std::uint32_t type;
};

/* ======================================================================
 * The calls every writer and every reader has (channel, publisher,
 * subscriber): each is one C call on D::native_handle()
 * ====================================================================== */

namespace detail {

inline int c_close(zipc_channel *e) noexcept { return zipc_channel_close(e); }
inline int c_close(zipc_publisher *e) noexcept { return zipc_publisher_close(e); }
inline int c_close(zipc_subscriber *e) noexcept { return zipc_subscriber_close(e); }
inline int c_close(zipc_queue *e) noexcept { return zipc_queue_close(e); }
inline int c_interrupt(zipc_channel *e) noexcept { return zipc_channel_interrupt(e); }
inline int c_interrupt(zipc_publisher *e) noexcept { return zipc_publisher_interrupt(e); }
inline int c_interrupt(zipc_subscriber *e) noexcept { return zipc_subscriber_interrupt(e); }
inline int c_interrupt(zipc_queue *e) noexcept { return zipc_queue_interrupt(e); }
inline int c_close(zipc_rpc_client *e) noexcept { return zipc_rpc_client_close(e); }
inline int c_close(zipc_rpc_worker *e) noexcept { return zipc_rpc_worker_close(e); }
inline int c_interrupt(zipc_rpc_client *e) noexcept { return zipc_rpc_client_interrupt(e); }
inline int c_interrupt(zipc_rpc_worker *e) noexcept { return zipc_rpc_worker_interrupt(e); }

/* An owned C endpoint E: move-only, closed when it dies. Empty (default or
 * moved from): every call fails with EINVAL. */
template <class E> class owner {
public:
    owner() noexcept = default;
    /* Take ownership of a C endpoint. */
    explicit owner(E *adopt) noexcept : e_(adopt) {}
    owner(owner &&o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
    owner &operator=(owner &&o) noexcept
    {
        if (this != &o) {
            close();
            e_ = std::exchange(o.e_, nullptr);
        }
        return *this;
    }
    owner(const owner &) = delete;
    owner &operator=(const owner &) = delete;
    ~owner() { close(); }

    /* Close now (what the destructor does). Never blocks. */
    void close() noexcept
    {
        if (e_)
            c_close(std::exchange(e_, nullptr));
    }
    /* Wake the call blocked on this endpoint: safe from any thread (the one
     * exception to "one thread at a time"). The blocked call then throws
     * (or returns) std::errc::operation_canceled; if no call is blocked,
     * the next blocking call does (the interrupt is latched until one call
     * consumes it). The endpoint must stay open (not closed, moved or
     * destroyed) while this runs. For a clean shutdown of a reading
     * thread: interrupt, join, then close. Never blocks. */
    void interrupt() const noexcept
    {
        if (e_)
            c_interrupt(e_);
    }
    explicit operator bool() const noexcept { return e_ != nullptr; }
    E *native_handle() const noexcept { return e_; }

protected:
    E *e_ = nullptr; /* null: empty (every C call then returns -EINVAL) */
};

/* Writing: a channel's producer, a topic's publisher. Each blocking call X
 * comes as X(args, timeout = forever), which throws zipc::error;
 * X(args, timeout, std::nothrow), which returns the error; and try_X(args),
 * which never blocks and returns the error (EAGAIN: nothing now). */
template <class D> class writer {
public:
    /* reserve: `size` writable bytes in the ring; waits for space. Fails with
     * EMSGSIZE (> max_message), EALREADY (one is open), EPIPE (the channel's
     * consumer gone), ETIMEDOUT / EAGAIN, ECANCELED (interrupt).
     * send: copy `data` in as one message. flush: publish staged messages. */
    zipc::reservation reserve(std::size_t size, timeout t = forever)
    {
        return detail::value_or_throw(reserve(size, t, std::nothrow), names().reserve);
    }
    result<zipc::reservation> reserve(std::size_t size, timeout t, std::nothrow_t) noexcept
    {
        void *p = nullptr;
        if (int rc = c_reserve(end(), size, &p, t.ns()))
            return make_error_code(rc);
        return zipc::reservation(end(), p, size);
    }
    result<zipc::reservation> try_reserve(std::size_t size) noexcept { return reserve(size, try_once, std::nothrow); }

    void send(const_bytes data, std::uint32_t type = 0, timeout t = forever)
    {
        detail::check(send(data, type, t, std::nothrow), names().send);
    }
    [[nodiscard]] std::error_code send(const_bytes data, std::uint32_t type, timeout t, std::nothrow_t) noexcept
    {
        return make_error_code(c_send(end(), data.data(), data.size(), type, t.ns()));
    }
    [[nodiscard]] std::error_code try_send(const_bytes data, std::uint32_t type = 0) noexcept
    {
        return send(data, type, try_once, std::nothrow);
    }
    /* A trivially copyable value as one message of sizeof(T) bytes. */
    template <class T> void send_pod(const T &value, std::uint32_t type = 0, timeout t = forever)
    {
        send(pod_bytes(value), type, t);
    }
    template <class T>
    [[nodiscard]] std::error_code send_pod(const T &value, std::uint32_t type, timeout t, std::nothrow_t) noexcept
    {
        return send(pod_bytes(value), type, t, std::nothrow);
    }
    template <class T> [[nodiscard]] std::error_code try_send_pod(const T &value, std::uint32_t type = 0) noexcept
    {
        return send(pod_bytes(value), type, try_once, std::nothrow);
    }
    /* A C-contiguous tensor of T (ZIPC_TYPE_TENSOR): copies size-of-shape
     * elements from data. reserve_tensor: fill it in place instead. */
    template <class T> void send_tensor(const T *data, shape_t shape, timeout t = forever)
    {
        zipc_tensor_header h = tensor_header<T>(shape);
        zipc::reservation r = reserve(tensor_payload_size(h), t);
        write_tensor(r.span(), h, data);
        r.commit(type_id::tensor);
    }
    template <class T> tensor_reservation<T> reserve_tensor(shape_t shape, timeout t = forever)
    {
        zipc_tensor_header h = tensor_header<T>(shape);
        return tensor_reservation<T>(reserve(tensor_payload_size(h), t), h);
    }
    void flush() { detail::check(c_flush(end()), names().flush); }

protected:
    writer() noexcept = default;
    ~writer() = default;

private:
    auto *end() const noexcept { return static_cast<const D *>(this)->native_handle(); }
    static constexpr call_names names() noexcept { return c_names(static_cast<decltype(std::declval<const D &>().native_handle())>(nullptr)); }
    template <class T> static const_bytes pod_bytes(const T &value) noexcept
    {
        static_assert(std::is_trivially_copyable_v<T>, "zipc: send_pod needs a trivially copyable type");
        return as_bytes(&value, sizeof value);
    }
};

/* Reading: a channel's consumer, a topic's subscriber (same three forms).
 * view: the next message, in place; waits. Several may be open. After
 * the writer is gone every committed message is still delivered,
 * then EPIPE. drain: waits for one, then takes what is there (up to the
 * batch's capacity); returns the count. recv: copies the next message
 * into buf and releases it (EMSGSIZE: kept; EALREADY: views are open).
 * EBADMSG: the segment is corrupt (or the subscriber was evicted); the
 * endpoint is broken for good. ECANCELED: interrupt() woke the call. A
 * subscriber also sees EOVERFLOW (messages lost: last_loss()). */
template <class D> class reader {
public:
    zipc::view view(timeout t = forever)
    {
        return detail::value_or_throw(view(t, std::nothrow), names().view);
    }
    /* The C call writes the message into the result the caller gets (one
     * named return object, so no copy): copying it out of a local after
     * the call read the C call's 4- and 8-byte stores back as 16-byte
     * loads, a store-forwarding stall; this form cost 1.57x the C calls
     * per message then, ~1.1x now (`zipc bench`'s cpp-calls, DESIGN §10).
     * Nor is the message zeroed first: a view that returns 0 writes every
     * field (channel.h), and on an error the value is dropped unread. */
    result<zipc::view> view(timeout t, std::nothrow_t) noexcept
    {
        result<zipc::view> r{std::in_place, detail::unfilled_t{}};
        auto *e = end();
        if (int rc = c_view(e, &r->m_, t.ns()); ZIPC__HPP_LIKELY(rc == 0)) {
            r->end_ = detail::reader_end::open(e);
            r.mark_held();
        } else {
            r->end_ = {}; /* unheld, the value is dropped unread; were it destroyed, it gives nothing back */
            r = make_error_code(rc);
        }
        return r;
    }
    result<zipc::view> try_view() noexcept { return view(try_once, std::nothrow); }
    /* The same into a view kept by the caller (released first if it holds
     * one; empty on error): the hot-loop form, nothing is moved. */
    void view(zipc::view &into, timeout t = forever) { detail::check(view(into, t, std::nothrow), names().view); }
    [[nodiscard]] std::error_code view(zipc::view &into, timeout t, std::nothrow_t) noexcept
    {
        into.release();
        auto *e = end();
        int rc = c_view(e, &into.m_, t.ns());
        if (ZIPC__HPP_LIKELY(rc == 0))
            into.end_ = detail::reader_end::open(e);
        else
            into.m_ = zipc_msg{};
        return make_error_code(rc);
    }
    [[nodiscard]] std::error_code try_view(zipc::view &into) noexcept { return view(into, try_once, std::nothrow); }

    std::size_t drain(batch &b, timeout t = forever)
    {
        return detail::value_or_throw(drain(b, t, std::nothrow), names().drain);
    }
    result<std::size_t> drain(batch &b, timeout t, std::nothrow_t) noexcept
    {
        b.release();
        unsigned max = b.msgs_.size() > UINT_MAX ? UINT_MAX : static_cast<unsigned>(b.msgs_.size());
        int rc = c_drain(end(), b.msgs_.data(), max, t.ns());
        if (rc < 0)
            return make_error_code(rc);
        b.n_ = static_cast<std::size_t>(rc);
        b.end_ = end();
        return b.n_;
    }
    result<std::size_t> try_drain(batch &b) noexcept { return drain(b, try_once, std::nothrow); }

    zipc::message recv(bytes buf, timeout t = forever)
    {
        return detail::value_or_throw(recv(buf, t, std::nothrow), names().recv);
    }
    result<zipc::message> recv(bytes buf, timeout t, std::nothrow_t) noexcept
    {
        result<zipc::message> r{std::in_place}; /* filled in place: see view() */
        if (int rc = c_recv(end(), buf.data(), buf.size(), &r->size, &r->type, t.ns()))
            r = make_error_code(rc);
        else
            r.mark_held();
        return r;
    }
    result<zipc::message> try_recv(bytes buf) noexcept { return recv(buf, try_once, std::nothrow); }

    /* The next message as T; std::nullopt if it is not sizeof(T) bytes
     * (the message is consumed either way: use view() and view_ref::as<T>()
     * to dispatch on type()). */
    template <class T> std::optional<T> recv_pod(timeout t = forever) { return view(t).template as<T>(); }
    /* The same without exceptions; a message of another size: bad_message. */
    template <class T> result<T> recv_pod(timeout t, std::nothrow_t) noexcept
    {
        result<zipc::view> m = view(t, std::nothrow);
        if (!m)
            return m.error();
        std::optional<T> v = m->template as<T>();
        if (!v)
            return make_error_code(-EBADMSG);
        return *v;
    }
    template <class T> result<T> try_recv_pod() noexcept { return recv_pod<T>(try_once, std::nothrow); }

protected:
    reader() noexcept = default;
    ~reader() = default;

private:
    auto *end() const noexcept { return static_cast<const D *>(this)->native_handle(); }
    static constexpr call_names names() noexcept { return c_names(static_cast<decltype(std::declval<const D &>().native_handle())>(nullptr)); }
};

} // namespace detail

/* ======================================================================
 * Channel
 * ====================================================================== */

/* One endpoint of a one-producer, one-consumer channel. Move-only; closes
 * when it dies (the peer then sees EPIPE after draining). An empty channel
 * (default-constructed or moved from) fails every call with EINVAL. The
 * producer's calls (reserve, send, ...) and the consumer's (view, drain,
 * recv, ...) are those of detail::writer and detail::reader above; calls
 * of the other role fail with EOPNOTSUPP. */
class channel : public detail::owner<zipc_channel>,
                public detail::writer<channel>,
                public detail::reader<channel> {
public:
    using owner::owner;

    /* Create the channel under `name` (a name, or a socket path if it holds a
     * '/': see zipc/common.h) and wait for one peer
     * (options::handshake_timeout). capacity: ring bytes, rounded up to a
     * power of two. Blocks. Throws EADDRINUSE, ETIMEDOUT, EPROTO, ... */
    static channel listen(const std::string &name, std::size_t capacity, const options &opts = {})
    {
        zipc_options o = opts.native();
        return open("zipc_channel_listen", [&](zipc_channel **ch) {
            return zipc_channel_listen(ch, name.c_str(), capacity, &o);
        });
    }
    /* Connect to a listener at `name` (a name or a socket path), retrying
     * until it appears or the handshake timeout passes. Blocks. Throws
     * ENOENT, ETIMEDOUT, EPERM, EFBIG (options::max_segment), ... */
    static channel connect(const std::string &name, const options &opts = {})
    {
        zipc_options o = opts.native();
        return open("zipc_channel_connect", [&](zipc_channel **ch) { return zipc_channel_connect(ch, name.c_str(), &o); });
    }

    /* Tell the peer we are done without unmapping: open views stay
     * readable until close. Later calls fail with EPIPE. */
    void shutdown() { detail::check(zipc_channel_shutdown(e_), "zipc_channel_shutdown"); }
    /* close(), interrupt(), operator bool and native_handle(): detail::owner. */

    zipc::role role() const noexcept { return e_ ? static_cast<zipc::role>(zipc_channel_role(e_)) : zipc::role::default_; }
    std::size_t capacity() const noexcept { return e_ ? zipc_channel_capacity(e_) : 0; }
    std::size_t max_message() const noexcept { return e_ ? zipc_channel_max_message(e_) : 0; }
    int peer_pid() const noexcept { return e_ ? zipc_channel_peer_pid(e_) : 0; }
    /* For poll/epoll: readable when a call that returned EAGAIN may now succeed. */
    int fd() const { return detail::check(zipc_channel_fd(e_), "zipc_channel_fd"); }
    zipc_channel_stats stats() const
    {
        zipc_channel_stats st{};
        detail::check(zipc_channel_get_stats(e_, &st), "zipc_channel_get_stats");
        return st;
    }

private:
    template <class F> static channel open(const char *what, F &&make)
    {
        zipc_channel *ch = nullptr;
        detail::check(make(&ch), what);
        return channel(ch);
    }
};

/* ======================================================================
 * Topic (zipc/topic.h): one publisher, many subscribers
 * ====================================================================== */

/* What a subscriber does when the publisher gets a whole ring ahead of it. */
enum class policy : std::uint32_t {
    block = ZIPC_SUB_BLOCK,             /* lossless: the publisher waits for it; views pinned */
    drop_oldest = ZIPC_SUB_DROP_OLDEST, /* never holds the publisher back: EOVERFLOW once per loss */
    max_lag = ZIPC_SUB_MAX_LAG,         /* block up to max_lag messages behind, then drop_oldest */
};

/* What a subscriber asks for (struct zipc_subscription). An aggregate:
 *     zipc::subscription{zipc::policy::max_lag, 1000}
 * Default: block, from the next message published. */
struct subscription {
    zipc::policy policy = zipc::policy::block;
    std::uint64_t max_lag = 0;  /* policy::max_lag: messages (>= 1) */
    bool resume_newest = false; /* after a loss, skip to the newest message (not the oldest kept) */
    std::uint64_t history = 0;  /* start with the last `history` messages still in the ring; if
                                   fewer remain, the first read fails with EOVERFLOW (the gap) */
    zipc_subscription native() const noexcept
    {
        zipc_subscription s{};
        s.policy = static_cast<std::uint32_t>(policy);
        s.flags = resume_newest ? static_cast<std::uint32_t>(ZIPC_SUB_RESUME_NEWEST) : 0u;
        s.max_lag = max_lag;
        s.history = history;
        return s;
    }
};

/* The loss an EOVERFLOW reported (subscriber::last_loss). */
struct loss {
    std::uint64_t messages; /* messages lost */
    std::uint64_t bytes;    /* ring bytes lost, framing included */
};

/* A subscriber fell a whole ring behind: EOVERFLOW (std::errc::value_too_large). */
inline bool is_overflow(std::error_code ec) noexcept { return ec == std::errc::value_too_large; }
/* A topic's drop_oldest view was overwritten while it was open: ESTALE (no std::errc names it). */
inline bool is_stale(std::error_code ec) noexcept { return ec.category() == category() && ec.value() == ESTALE; }

/* The one writer of a topic. Move-only; closes when it dies (subscribers
 * drain what was committed, then see EPIPE; the name is free at once). An
 * empty publisher fails every call with EINVAL. Its calls are the
 * channel's producer's (reserve, send, send_pod, send_tensor,
 * reserve_tensor, flush and their nothrow and try_ forms): they wait only
 * for lossless subscribers (block, max_lag below its bound), and without
 * any they never wait (the oldest messages are overwritten). */
class publisher : public detail::owner<zipc_publisher>, public detail::writer<publisher> {
public:
    using owner::owner;

    /* Create the topic `name` (a name or a socket path) with a ring of
     * `capacity` bytes (rounded up to a power of two) and room for
     * `max_subscribers` at once (0: ZIPC_TOPIC_DEFAULT_SUBSCRIBERS, 64).
     * Returns at once. Throws EADDRINUSE (another publisher holds the
     * name), EINVAL, ... */
    static publisher create(const std::string &name, std::size_t capacity, std::uint32_t max_subscribers = 0,
                            const options &opts = {})
    {
        zipc_options o = opts.native();
        zipc_publisher *p = nullptr;
        detail::check(zipc_topic_create(&p, name.c_str(), capacity, max_subscribers, &o), "zipc_topic_create");
        return publisher(p);
    }

    /* close(), interrupt(), operator bool and native_handle(): detail::owner. */
    std::size_t capacity() const noexcept { return e_ ? zipc_publisher_capacity(e_) : 0; }
    std::size_t max_message() const noexcept { return e_ ? zipc_publisher_max_message(e_) : 0; }
    /* Subscribers attached now (live, not evicted). */
    int subscribers() const { return detail::check(zipc_publisher_subscribers(e_), "zipc_publisher_subscribers"); }
    /* For poll/epoll: readable when a waiting reserve may find space. */
    int fd() const { return detail::check(zipc_publisher_fd(e_), "zipc_publisher_fd"); }
    zipc_publisher_stats stats() const
    {
        zipc_publisher_stats st{};
        detail::check(zipc_publisher_get_stats(e_, &st), "zipc_publisher_get_stats");
        return st;
    }
};

/* One reader of a topic, with its own cursor and policy; the ring is mapped
 * read-only. Move-only; closes when it dies. Its calls are the channel's
 * consumer's (view, drain, recv, recv_pod and their nothrow and try_
 * forms; views are zipc::view, batches zipc::batch), plus:
 *   EOVERFLOW (zipc::is_overflow): the subscriber was lapped; reported once,
 *     last_loss() gives the exact loss; the next call resumes at the oldest
 *     message still in the ring (or the newest: resume_newest);
 *   ESTALE (zipc::is_stale) from view::release() / batch::release(): a
 *     drop_oldest view was overwritten while open (block views are pinned);
 *   EBADMSG: evicted (its cursor was invalid) or the ring is corrupt;
 *   EPIPE: the publisher is gone and every committed message was read. */
class subscriber : public detail::owner<zipc_subscriber>, public detail::reader<subscriber> {
public:
    using owner::owner;

    /* Attach to the topic `name`, waiting up to options::handshake_timeout
     * for its publisher to exist. Throws ETIMEDOUT / ENOENT, ENOSPC (the
     * topic has max_subscribers already), EINVAL, ... */
    static subscriber subscribe(const std::string &name, const subscription &sub = {}, const options &opts = {})
    {
        zipc_options o = opts.native();
        zipc_subscription s = sub.native();
        zipc_subscriber *p = nullptr;
        detail::check(zipc_topic_subscribe(&p, name.c_str(), &s, &o), "zipc_topic_subscribe");
        return subscriber(p);
    }

    /* close(), interrupt(), operator bool and native_handle(): detail::owner. */
    std::size_t capacity() const noexcept { return e_ ? zipc_subscriber_capacity(e_) : 0; }
    std::size_t max_message() const noexcept { return e_ ? zipc_subscriber_max_message(e_) : 0; }
    int publisher_pid() const noexcept { return e_ ? zipc_subscriber_publisher_pid(e_) : 0; }
    /* For poll/epoll: readable when a message may be there, or the publisher is gone. */
    int fd() const { return detail::check(zipc_subscriber_fd(e_), "zipc_subscriber_fd"); }
    zipc_subscriber_stats stats() const
    {
        zipc_subscriber_stats st{};
        detail::check(zipc_subscriber_get_stats(e_, &st), "zipc_subscriber_get_stats");
        return st;
    }
    /* The loss the last EOVERFLOW reported. */
    zipc::loss last_loss() const noexcept
    {
        zipc::loss l{0, 0};
        if (e_)
            zipc_subscriber_last_loss(e_, &l.messages, &l.bytes);
        return l;
    }

    /* latest: copy the newest message still in the ring whose type is
     * `type` (type_id::any: of any type) into buf, without moving the
     * cursor (state topics). Never blocks. ENOENT: there is none;
     * EMSGSIZE: buf is short. */
    zipc::message latest(bytes buf, std::uint32_t type = type_id::any)
    {
        return detail::value_or_throw(latest(buf, type, std::nothrow), "zipc_subscriber_latest");
    }
    result<zipc::message> latest(bytes buf, std::uint32_t type, std::nothrow_t) noexcept
    {
        zipc::message m{};
        if (int rc = zipc_subscriber_latest(e_, type, buf.data(), buf.size(), &m.size, &m.type))
            return make_error_code(rc);
        return m;
    }
    /* The newest message of `type` as T; std::nullopt if there is none.
     * Throws zipc::error (bad_message) if it is not sizeof(T) bytes. */
    template <class T> std::optional<T> latest_pod(std::uint32_t type)
    {
        static_assert(std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>,
                      "zipc: a POD message must be trivially copyable and default constructible");
        T v;
        result<zipc::message> m = latest(as_writable_bytes(&v, sizeof v), type, std::nothrow);
        if (!m && m.error() == std::errc::no_such_file_or_directory)
            return std::nullopt;
        if (!m || m->size != sizeof(T))
            throw error(m ? make_error_code(-EBADMSG) : m.error(), "zipc_subscriber_latest");
        return v;
    }
};

/* ======================================================================
 * Queue (zipc/queue.h): many producers, many consumers
 * ====================================================================== */

/* How a new queue is laid out (struct zipc_queue_config); ignored when the
 * queue exists already (a member that attaches gets the creator's). An
 * aggregate: zipc::queue_config{1 << 16, true}. Default: 1 MiB lanes,
 * at-least-once delivery. */
struct queue_config {
    std::uint64_t lane_capacity = 0; /* ring bytes per producer (rounded up to a power of two);
                                        0: ZIPC_QUEUE_DEFAULT_LANE */
    bool at_most_once = false;       /* a message held by a consumer that dies is dropped, not
                                        delivered again */
    zipc_queue_config native() const noexcept
    {
        zipc_queue_config c{};
        c.lane_capacity = lane_capacity;
        c.flags = at_most_once ? static_cast<std::uint32_t>(ZIPC_QUEUE_AT_MOST_ONCE) : 0u;
        return c;
    }
};

/* One member of a queue, attached by name: a producer or a consumer. Each
 * message is taken by exactly one live consumer; FIFO per producer, no
 * global order. Move-only; closes when it dies. An empty queue
 * (default-constructed or moved from) fails every call with EINVAL.
 *
 * A producer's calls are the channel's producer's (reserve, send, send_pod,
 * send_tensor, reserve_tensor, flush and their nothrow and try_ forms), in
 * a lane of its own: reserve waits while the lane is full of messages not
 * yet released, and never fails with EPIPE (messages wait for consumers).
 * Closing publishes what it staged.
 *
 * A consumer's calls are the channel's consumer's (view, drain, recv,
 * recv_pod and their nothrow and try_ forms): views are zipc::view, batches
 * zipc::batch, given back in any order; view_ref::producer() and attempt()
 * say where a message comes from and how often it was delivered. Closing
 * gives back its open views: their messages count as taken. It also sees
 *   EPIPE (std::errc::broken_pipe), the end of the stream: a producer
 *     joined, and now none is attached and every committed message was
 *     taken and released (a producer joining later starts a new stream);
 *   a message again, attempt() one higher, when the consumer holding it
 *     died (at-least-once; queue_config::at_most_once drops it instead);
 *   EBADMSG: the queue's shared state is corrupt (a corrupt lane alone is
 *     skipped).
 * Calls of the other role fail with EOPNOTSUPP. Each endpoint runs a helper
 * thread (zipc/queue.h); a forked child opens its own. */
class queue : public detail::owner<zipc_queue>, public detail::writer<queue>, public detail::reader<queue> {
public:
    using owner::owner;

    /* Attach to the queue `name` (a name: paths are refused with EINVAL) as
     * role::producer or role::consumer, creating it with `cfg` if no member
     * holds it. A producer takes over the lane of one that is gone, with
     * what it left (still delivered, in order). Waits up to
     * options::handshake_timeout. Throws ENOSPC (as many members of that
     * role as the queue allows: ZIPC_QUEUE_MAX_PRODUCERS / _CONSUMERS),
     * EINVAL, ETIMEDOUT, EPROTO, ... */
    static queue open(const std::string &name, zipc::role r, const queue_config &cfg = {}, const options &opts = {})
    {
        zipc_options o = opts.native();
        zipc_queue_config c = cfg.native();
        zipc_queue *q = nullptr;
        detail::check(zipc_queue_open(&q, name.c_str(), static_cast<int>(r), &c, &o), "zipc_queue_open");
        return queue(q);
    }

    /* close(), interrupt(), operator bool and native_handle(): detail::owner. */
    zipc::role role() const noexcept { return e_ ? static_cast<zipc::role>(zipc_queue_role(e_)) : zipc::role::default_; }
    /* A producer's lane (what view_ref::producer() says of its messages), a consumer's number. */
    int slot() const { return detail::check(zipc_queue_slot(e_), "zipc_queue_slot"); }
    std::size_t capacity() const noexcept { return e_ ? zipc_queue_capacity(e_) : 0; } /* lane ring bytes */
    std::size_t max_message() const noexcept { return e_ ? zipc_queue_max_message(e_) : 0; }
    /* The creator's choice (queue_config::at_most_once). */
    bool at_most_once() const noexcept { return e_ && (zipc_queue_flags(e_) & ZIPC_QUEUE_AT_MOST_ONCE); }
    /* Producer: wait until leaving loses nothing (another member holds the
     * queue, or every message was taken); the destructor and close() do it
     * with the open's handshake_timeout, silently. Throws ETIMEDOUT
     * (nobody came: closing now drops the queued messages), ECANCELED. */
    void linger(zipc::timeout t = forever)
    {
        detail::check(zipc_queue_linger(e_, t.ns()), "zipc_queue_linger");
    }
    /* Members attached now, by role. */
    int producers() const { return detail::check(zipc_queue_producers(e_), "zipc_queue_producers"); }
    int consumers() const { return detail::check(zipc_queue_consumers(e_), "zipc_queue_consumers"); }
    /* For poll/epoll: readable when a message (consumer) or space (producer) may be there. */
    int fd() const { return detail::check(zipc_queue_fd(e_), "zipc_queue_fd"); }
    zipc_queue_stats stats() const
    {
        zipc_queue_stats st{};
        detail::check(zipc_queue_get_stats(e_, &st), "zipc_queue_get_stats");
        return st;
    }
};

/* ======================================================================
 * Rpc (zipc/rpc.h): many clients, a pool of workers
 * ====================================================================== */

/* How a new service is laid out (struct zipc_rpc_config); ignored when it
 * exists already. Default: lanes of ZIPC_QUEUE_DEFAULT_LANE (1 MiB). */
struct rpc_config {
    std::uint64_t lane_capacity = 0; /* ring bytes per client; 0: the default */
    zipc_rpc_config native() const noexcept
    {
        zipc_rpc_config c{};
        c.lane_capacity = lane_capacity;
        return c;
    }
};

/* The reply room a call reserves unless told otherwise (ZIPC_RPC_DEFAULT_REPLY). */
inline constexpr std::size_t default_reply = ZIPC_RPC_DEFAULT_REPLY;

/* How a call is made. An aggregate: zipc::call_options{500ms, 1 << 16, true}.
 *   deadline: the call's timeout, counted from its commit (forever: none);
 *     past it the call is cancelled and its reply is std::errc::timed_out.
 *     call() and reserve() also wait that long for room in the lane.
 *   reply_capacity: the most bytes the worker may answer with.
 *   idempotent: run it again on another worker if its worker dies
 *     (ZIPC_RPC_IDEMPOTENT); otherwise that is std::errc::connection_reset. */
struct call_options {
    zipc::timeout deadline = forever;
    std::size_t reply_capacity = default_reply;
    bool idempotent = false;
    unsigned flags() const noexcept { return idempotent ? static_cast<unsigned>(ZIPC_RPC_IDEMPOTENT) : 0u; }
};

class rpc_client;
class rpc_worker;

/* A reply, read in place in the call's frame (view_ref's payload(),
 * text(), as<T>(), tensor(); seq() is the call id). Released when it dies,
 * is assigned to, or on release(); until then the frame stays the
 * caller's. Move-only; must not outlive its client. status() says how the
 * call ended: 0 (the worker answered: the payload is its reply), the
 * worker's own error, or the service's: std::errc::connection_reset (its
 * worker died), timed_out (its deadline passed), bad_message (the reply
 * was malformed); the payload is then empty. Wait for each call once:
 * waiting again for a call whose reply object lives gives a second object
 * over the same frame, dangling once the first is released.
 * A streamed reply (rpc_request::respond_part) comes as parts, then the
 * final reply: a part has is_part() and part() 1, 2, ...; the call stays
 * in flight, and its next part or final reply comes once the part is
 * released (wait again then). */
class rpc_reply : public view_ref {
public:
    rpc_reply() noexcept = default;
    rpc_reply(rpc_reply &&o) noexcept : view_ref(o), c_(std::exchange(o.c_, nullptr)), r_(o.r_) {}
    rpc_reply &operator=(rpc_reply &&o) noexcept
    {
        if (this != &o) {
            release();
            m_ = o.m_;
            r_ = o.r_;
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    rpc_reply(const rpc_reply &) = delete;
    rpc_reply &operator=(const rpc_reply &) = delete;
    ~rpc_reply() { release(); }

    explicit operator bool() const noexcept { return c_ != nullptr; }
    std::uint64_t id() const noexcept { return r_.id; }
    std::uint32_t method() const noexcept { return r_.method; }
    std::error_code status() const noexcept { return make_error_code(r_.status); }
    bool ok() const noexcept { return r_.status == 0; }
    /* A part of a streamed reply (ZIPC_RPC_REPLY_MORE), not the final reply. */
    bool is_part() const noexcept { return (r_.flags & ZIPC_RPC_REPLY_MORE) != 0; }
    /* A part's number (1, 2, ...); 0 for the final reply. */
    std::uint32_t part() const noexcept { return r_.part; }
    /* Give the frame back now (what the destructor does; a part: the
     * worker may write the next one). */
    std::error_code release() noexcept
    {
        if (!c_)
            return make_error_code(0);
        return make_error_code(zipc_rpc_reply_release(std::exchange(c_, nullptr), &r_));
    }
    const zipc_rpc_reply &native() const noexcept { return r_; }

private:
    friend class rpc_client;
    rpc_reply(zipc_rpc_client *c, const zipc_rpc_reply &r) noexcept : view_ref(as_msg(r)), c_(c), r_(r) {}
    static zipc_msg as_msg(const zipc_rpc_reply &r) noexcept
    {
        zipc_msg m{};
        m.data = r.data;
        m.size = r.size;
        m.type = r.type;
        m.seq = r.id;
        return m;
    }
    zipc_rpc_client *c_ = nullptr; /* the client while the frame is held */
    zipc_rpc_reply r_{};
};

/* A request being written in place (16-byte aligned), from
 * rpc_client::reserve: commit() sends it and gives its call id. Dropped
 * uncommitted, it is withdrawn: no worker sees it. At most one is open per
 * client (a second reserve: std::errc::connection_already_in_progress,
 * EALREADY). */
class rpc_reservation {
public:
    rpc_reservation() noexcept = default;
    rpc_reservation(rpc_reservation &&o) noexcept
        : c_(std::exchange(o.c_, nullptr)), data_(o.data_), size_(o.size_), deadline_(o.deadline_), flags_(o.flags_)
    {
    }
    rpc_reservation &operator=(rpc_reservation &&o) noexcept
    {
        if (this != &o) {
            abort();
            c_ = std::exchange(o.c_, nullptr), data_ = o.data_, size_ = o.size_;
            deadline_ = o.deadline_, flags_ = o.flags_;
        }
        return *this;
    }
    rpc_reservation(const rpc_reservation &) = delete;
    rpc_reservation &operator=(const rpc_reservation &) = delete;
    ~rpc_reservation() { abort(); }

    explicit operator bool() const noexcept { return c_ != nullptr; }
    std::byte *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bytes span() const noexcept { return bytes(data_, size_); }

    /* Send the first `size` bytes (<= size(); default: all) as a call of
     * `method`, with reserve's call_options; returns its call id. Never
     * blocks. On error the reservation stays open. */
    std::uint64_t commit(std::uint32_t method) { return commit(method, size_); }
    std::uint64_t commit(std::uint32_t method, std::size_t size)
    {
        return detail::value_or_throw(commit(method, size, std::nothrow), "zipc_rpc_commit");
    }
    result<std::uint64_t> commit(std::uint32_t method, std::size_t size, std::nothrow_t) noexcept
    {
        std::uint64_t id = 0;
        if (int rc = zipc_rpc_commit(c_, size, method, flags_, deadline_, &id))
            return make_error_code(rc);
        c_ = nullptr;
        return id;
    }
    /* Withdraw it (what the destructor does): zipc_rpc_abort, no worker
     * sees it and its room is the lane's again at once. */
    void abort() noexcept
    {
        if (c_)
            (void)zipc_rpc_abort(std::exchange(c_, nullptr));
    }

private:
    friend class rpc_client;
    rpc_reservation(zipc_rpc_client *c, void *data, std::size_t size, const call_options &o) noexcept
        : c_(c), data_(static_cast<std::byte *>(data)), size_(size), deadline_(o.deadline.ns()), flags_(o.flags())
    {
    }
    zipc_rpc_client *c_ = nullptr; /* the client while the request is open */
    std::byte *data_ = nullptr;
    std::size_t size_ = 0;
    std::int64_t deadline_ = ZIPC_FOREVER;
    unsigned flags_ = 0;
};

/* A service's client: issues calls (any number in flight, as many as its
 * lane holds) and waits for their replies, in any order. Move-only; closes
 * when it dies (its calls in flight are withdrawn). An empty client
 * (default-constructed or moved from) fails every call with EINVAL.
 *
 * call / reserve + commit: issue a call, get its id. wait(id): that call's
 * reply; wait_any(): the reply of whichever call ends first. Both throw
 * (or return, with std::nothrow; try_ forms never block) only about the
 * wait: timed_out / resource_unavailable_try_again (no reply yet; wait_any:
 * also nothing in flight), invalid_argument (no such call in flight),
 * operation_canceled (interrupt()). How the call itself ended is the
 * reply's status(). cancel(id): the call will not be answered (its worker,
 * if one holds it, sees rpc_request::cancelled()). */
class rpc_client : public detail::owner<zipc_rpc_client> {
public:
    using owner::owner;

    /* Attach to the service `name` (a name, not a path) as a client,
     * creating it with `cfg` if nobody holds it. Waits up to
     * options::handshake_timeout. Throws wrong_protocol_type (EPROTOTYPE:
     * the name is a queue), no_space_on_device (32 clients), EINVAL, ... */
    static rpc_client connect(const std::string &name, const rpc_config &cfg = {}, const options &opts = {})
    {
        zipc_options o = opts.native();
        zipc_rpc_config c = cfg.native();
        zipc_rpc_client *p = nullptr;
        detail::check(zipc_rpc_connect(&p, name.c_str(), &c, &o), "zipc_rpc_connect");
        return rpc_client(p);
    }

    /* Copy `request` in and send it as a call of `method`; its id. */
    std::uint64_t call(std::uint32_t method, const_bytes request, const call_options &o = {})
    {
        return detail::value_or_throw(call(method, request, o, std::nothrow), "zipc_rpc_call");
    }
    result<std::uint64_t> call(std::uint32_t method, const_bytes request, const call_options &o,
                               std::nothrow_t) noexcept
    {
        std::uint64_t id = 0;
        if (int rc = zipc_rpc_call(e_, request.data(), request.size(), method, o.flags(), o.reply_capacity,
                                   o.deadline.ns(), &id))
            return make_error_code(rc);
        return id;
    }
    /* The same without waiting for room in the lane (the call's deadline
     * is still o.deadline): resource_unavailable_try_again when it is full. */
    result<std::uint64_t> try_call(std::uint32_t method, const_bytes request, const call_options &o = {}) noexcept
    {
        result<rpc_reservation> r = try_reserve(request.size(), o);
        if (!r)
            return r.error();
        if (!request.empty())
            zipc_copy(r->data(), request.data(), request.size());
        return r->commit(method, request.size(), std::nothrow);
    }
    /* Room for a request of `size` bytes with o.reply_capacity of reply,
     * written in place, then committed (rpc_reservation::commit). Waits up
     * to o.deadline for room in the lane. EMSGSIZE: request and reply do
     * not fit in a lane.
     * Room in the lane. Frames come back in the order the calls were made,
     * once their replies are released: one slow call holds back the room
     * of every later one. A client that keeps calls in flight should wait
     * for replies when its lane is full (try_call / try_reserve: EAGAIN),
     * not in call / reserve: the replies that would make room are only
     * released by its own wait, so a blocked call / reserve then waits
     * until its deadline. */
    rpc_reservation reserve(std::size_t size, const call_options &o = {})
    {
        return detail::value_or_throw(reserve(size, o, std::nothrow), "zipc_rpc_reserve");
    }
    result<rpc_reservation> reserve(std::size_t size, const call_options &o, std::nothrow_t) noexcept
    {
        void *p = nullptr;
        std::int64_t wait = o.deadline.ns() < 0 ? ZIPC_FOREVER : o.deadline.ns();
        if (int rc = zipc_rpc_reserve(e_, size, o.reply_capacity, &p, wait))
            return make_error_code(rc);
        return rpc_reservation(e_, p, size, o);
    }
    result<rpc_reservation> try_reserve(std::size_t size, const call_options &o = {}) noexcept
    {
        void *p = nullptr;
        if (int rc = zipc_rpc_reserve(e_, size, o.reply_capacity, &p, ZIPC_TRY))
            return make_error_code(rc);
        return rpc_reservation(e_, p, size, o);
    }

    rpc_reply wait(std::uint64_t id, timeout t = forever)
    {
        return detail::value_or_throw(wait(id, t, std::nothrow), "zipc_rpc_wait");
    }
    result<rpc_reply> wait(std::uint64_t id, timeout t, std::nothrow_t) noexcept { return wait_for(id, t); }
    result<rpc_reply> try_wait(std::uint64_t id) noexcept { return wait_for(id, try_once); }
    rpc_reply wait_any(timeout t = forever)
    {
        return detail::value_or_throw(wait_any(t, std::nothrow), "zipc_rpc_wait");
    }
    result<rpc_reply> wait_any(timeout t, std::nothrow_t) noexcept { return wait_for(ZIPC_RPC_ANY, t); }
    result<rpc_reply> try_wait_any() noexcept { return wait_for(ZIPC_RPC_ANY, try_once); }

    /* The call will not be answered; its frame comes back by itself.
     * EINVAL: it is not in flight (answered and released, or expired). */
    void cancel(std::uint64_t id) { detail::check(cancel(id, std::nothrow), "zipc_rpc_cancel"); }
    [[nodiscard]] std::error_code cancel(std::uint64_t id, std::nothrow_t) noexcept
    {
        return make_error_code(zipc_rpc_cancel(e_, id));
    }

    /* close(), interrupt(), operator bool and native_handle(): detail::owner. */
    /* Calls issued and not yet released (a reply object holds its call). */
    unsigned in_flight() const noexcept { return zipc_rpc_in_flight(e_); }
    /* For poll/epoll: readable when a reply may be there (or lane space). */
    int fd() const { return detail::check(zipc_rpc_client_fd(e_), "zipc_rpc_client_fd"); }

private:
    result<rpc_reply> wait_for(std::uint64_t id, timeout t) noexcept
    {
        zipc_rpc_reply r;
        if (int rc = zipc_rpc_wait(e_, id, &r, t.ns()))
            return make_error_code(rc);
        return rpc_reply(e_, r);
    }
};

/* A request a worker holds (view_ref's payload(), text(), as<T>(); seq()
 * is the call id). Requests carry no type id: the method says what they
 * hold, and tensor() parses the payload as a tensor whatever its type.
 * The reply is written in place at reply() (reply_capacity() bytes), then
 * sent with respond(size, type); fail(code) answers with an error
 * instead. respond_part(size, type) sends a part of a streamed reply
 * first (as many as wanted; respond or fail ends the call). A request
 * destroyed unanswered is answered
 * std::errc::connection_reset (the worker gave up on it, as one that dies
 * does), so its caller never waits for nothing. Move-only; must not
 * outlive its worker. A worker may hold any number and answer them in any
 * order. */
class rpc_request : public view_ref {
public:
    rpc_request() noexcept = default;
    rpc_request(rpc_request &&o) noexcept : view_ref(o), w_(std::exchange(o.w_, nullptr)), r_(o.r_) {}
    rpc_request &operator=(rpc_request &&o) noexcept
    {
        if (this != &o) {
            abandon();
            m_ = o.m_;
            r_ = o.r_;
            w_ = std::exchange(o.w_, nullptr);
        }
        return *this;
    }
    rpc_request(const rpc_request &) = delete;
    rpc_request &operator=(const rpc_request &) = delete;
    ~rpc_request() { abandon(); }

    /* Held, not answered yet. */
    explicit operator bool() const noexcept { return w_ != nullptr; }
    std::uint64_t id() const noexcept { return r_.id; }
    std::uint32_t method() const noexcept { return r_.method; }
    bool idempotent() const noexcept { return (r_.flags & ZIPC_RPC_IDEMPOTENT) != 0; }
    /* 1, or 2 for an idempotent call run again after its worker died. */
    std::uint32_t attempt() const noexcept { return r_.attempt; }
    /* When the caller stops waiting (steady_clock is CLOCK_MONOTONIC); none: no deadline. */
    std::optional<std::chrono::steady_clock::time_point> deadline() const noexcept
    {
        if (r_.deadline_ns == INT64_MAX)
            return std::nullopt;
        return std::chrono::steady_clock::time_point(
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(r_.deadline_ns)));
    }
    /* The payload as a tensor (std::errc::bad_message if it is not a valid one). */
    result<tensor_view> tensor() const noexcept { return tensor_view::parse(payload()); }
    /* Where the reply goes: reply_capacity() writable bytes, 16-byte aligned
     * (a tensor's data, at its data_offset, is 64-byte aligned). */
    bytes reply() const noexcept { return as_writable_bytes(r_.reply, r_.reply_capacity); }
    std::size_t reply_capacity() const noexcept { return r_.reply_capacity; }
    /* The caller cancelled the call, or its deadline passed: any reply is dropped. */
    bool cancelled() const noexcept { return w_ && zipc_rpc_cancelled(w_, &r_) == 1; }

    /* Send the reply: the first `size` bytes of reply(), of type `type`.
     * Never blocks. A cancelled call's reply is dropped (no error). On
     * EINVAL (size > reply_capacity()) and EBUSY (a part not released:
     * respond_part timed out) the request stays held. */
    void respond(std::size_t size, std::uint32_t type = 0)
    {
        detail::check(respond(size, type, std::nothrow), "zipc_rpc_respond");
    }
    [[nodiscard]] std::error_code respond(std::size_t size, std::uint32_t type, std::nothrow_t) noexcept
    {
        return answer(size, type, 0);
    }
    /* Send a part of a streamed reply: the first `size` bytes of reply(),
     * of type `type` (the caller's reply has is_part()). Waits up to t for
     * the caller to release it; then reply() is free for the next part or
     * the final respond(). The request stays held whatever the outcome:
     * operation_canceled (the caller cancelled, left or passed the
     * deadline), timed_out (the part is still out: part_wait() waits
     * more; until it returns, only fail() may follow, respond() with
     * bytes is device_or_resource_busy), invalid_argument (size >
     * reply_capacity()). End the call with respond() or fail(). */
    void respond_part(std::size_t size, std::uint32_t type = 0, timeout t = forever)
    {
        detail::check(respond_part(size, type, t, std::nothrow), "zipc_rpc_respond_part");
    }
    [[nodiscard]] std::error_code respond_part(std::size_t size, std::uint32_t type, timeout t,
                                               std::nothrow_t) noexcept
    {
        return make_error_code(zipc_rpc_respond_part(w_, &r_, size, type, t.ns()));
    }
    /* Wait up to t until the last part sent was released (after
     * respond_part timed out): then reply() is free again. At once if no
     * part is out; operation_canceled, timed_out as respond_part. */
    void part_wait(timeout t = forever) { detail::check(part_wait(t, std::nothrow), "zipc_rpc_part_wait"); }
    [[nodiscard]] std::error_code part_wait(timeout t, std::nothrow_t) noexcept
    {
        return make_error_code(zipc_rpc_part_wait(w_, &r_, t.ns()));
    }
    /* Answer with an error (ec: a zipc or generic errno code, not 0): the
     * caller's reply has that status() and no payload. */
    void fail(std::error_code ec) { detail::check(fail(ec, std::nothrow), "zipc_rpc_respond"); }
    void fail(std::errc e) { fail(std::make_error_code(e)); }
    [[nodiscard]] std::error_code fail(std::error_code ec, std::nothrow_t) noexcept
    {
        if (!ec || ec.value() < 0)
            return make_error_code(-EINVAL);
        return answer(0, 0, -ec.value());
    }
    const zipc_rpc_request &native() const noexcept { return r_; }

private:
    friend class rpc_worker;
    rpc_request(zipc_rpc_worker *w, const zipc_rpc_request &r) noexcept : view_ref(as_msg(r)), w_(w), r_(r) {}
    static zipc_msg as_msg(const zipc_rpc_request &r) noexcept
    {
        zipc_msg m{};
        m.data = r.data;
        m.size = r.size;
        m.seq = r.id;
        return m;
    }
    /* EINVAL (a bad size or status) and EBUSY (a part still out) leave
     * the request held; anything else means the worker no longer holds it. */
    std::error_code answer(std::size_t size, std::uint32_t type, std::int32_t status) noexcept
    {
        int rc = zipc_rpc_respond(w_, &r_, size, type, status);
        if (rc != -EINVAL && rc != -EBUSY)
            w_ = nullptr;
        return make_error_code(rc);
    }
    void abandon() noexcept
    {
        if (w_)
            (void)answer(0, 0, -ECONNRESET);
    }
    zipc_rpc_worker *w_ = nullptr; /* the worker while the request is held */
    zipc_rpc_request r_{};
};

/* One of a service's workers: takes requests (each taken by one worker),
 * answers them. Requests whose caller cancelled, died or passed the
 * deadline are never handed out. Move-only; closes when it dies (requests
 * it still holds go to another worker as if it died: connection_reset, or
 * run again if idempotent). An empty worker fails every call with EINVAL.
 * Each endpoint runs a helper thread (zipc/queue.h); a forked child opens
 * its own. */
class rpc_worker : public detail::owner<zipc_rpc_worker> {
public:
    using owner::owner;

    /* Attach to the service `name` as a worker, creating it with `cfg` if
     * nobody holds it. Throws as rpc_client::connect. */
    static rpc_worker serve(const std::string &name, const rpc_config &cfg = {}, const options &opts = {})
    {
        zipc_options o = opts.native();
        zipc_rpc_config c = cfg.native();
        zipc_rpc_worker *p = nullptr;
        detail::check(zipc_rpc_serve(&p, name.c_str(), &c, &o), "zipc_rpc_serve");
        return rpc_worker(p);
    }

    /* The next request, waiting up to t: timed_out /
     * resource_unavailable_try_again (none yet), operation_canceled
     * (interrupt()). */
    rpc_request next(timeout t = forever) { return detail::value_or_throw(next(t, std::nothrow), "zipc_rpc_next"); }
    result<rpc_request> next(timeout t, std::nothrow_t) noexcept
    {
        zipc_rpc_request r;
        if (int rc = zipc_rpc_next(e_, &r, t.ns()))
            return make_error_code(rc);
        return rpc_request(e_, r);
    }
    result<rpc_request> try_next() noexcept { return next(try_once, std::nothrow); }

    /* close(), interrupt(), operator bool and native_handle(): detail::owner. */
    /* For poll/epoll: readable when a request may be there. */
    int fd() const { return detail::check(zipc_rpc_worker_fd(e_), "zipc_rpc_worker_fd"); }
};

/* ======================================================================
 * Store (zipc/store.h): named, sealed, read-only tensors
 *
 *   zipc::store             a holder of one version of a named store:
 *                           publish, publish_safetensors, open; move-only
 *   zipc::store_tensor      one of its tensors, read in place (PROT_READ)
 *   zipc::store_tensor_ref  a tensor to publish (name, dtype, shape, bytes)
 *   zipc::store_options     alignment, metadata, prefault, verify, huge_pages, timeout
 *   zipc::store_dtype       enum zipc_store_dtype (the safetensors dtypes)
 *
 * (zipc::dtype is the DLPack type of a tensor message; a store's dtypes
 * are safetensors' and have their own enum.) A store's queries may run on
 * any number of threads at once (the C contract); close() and destruction
 * must not race with them. What a store hands out (tensors, names,
 * metadata) points into its mapping: it must not outlive the store.
 * ====================================================================== */

enum class store_dtype : std::uint32_t {
    bool_ = ZIPC_STORE_BOOL, /* `bool` is a keyword */
    u8 = ZIPC_STORE_U8,
    i8 = ZIPC_STORE_I8,
    u16 = ZIPC_STORE_U16,
    i16 = ZIPC_STORE_I16,
    u32 = ZIPC_STORE_U32,
    i32 = ZIPC_STORE_I32,
    u64 = ZIPC_STORE_U64,
    i64 = ZIPC_STORE_I64,
    f16 = ZIPC_STORE_F16,
    bf16 = ZIPC_STORE_BF16,
    f32 = ZIPC_STORE_F32,
    f64 = ZIPC_STORE_F64,
    c64 = ZIPC_STORE_C64,
    f8_e4m3 = ZIPC_STORE_F8_E4M3,
    f8_e5m2 = ZIPC_STORE_F8_E5M2,
    f8_e4m3fnuz = ZIPC_STORE_F8_E4M3FNUZ,
    f8_e5m2fnuz = ZIPC_STORE_F8_E5M2FNUZ,
    f8_e8m0 = ZIPC_STORE_F8_E8M0,
    f6_e2m3 = ZIPC_STORE_F6_E2M3, /* 6 bits an element, packed */
    f6_e3m2 = ZIPC_STORE_F6_E3M2,
    f4 = ZIPC_STORE_F4, /* 4 bits an element, packed */
};

/* Bits per element (0: not a dtype) and the safetensors name ("F32"). */
inline unsigned bits(store_dtype d) noexcept { return zipc_store_dtype_bits(static_cast<std::uint32_t>(d)); }
inline const char *name(store_dtype d) noexcept { return zipc_store_dtype_name(static_cast<std::uint32_t>(d)); }

/* The store dtype of an element type: bool, the fixed-width integers,
 * float, double, std::complex<float>. Specialise it for a type of your own
 * (a half-precision float: store_dtype::f16 or bf16) to publish and read
 * it with the typed calls. */
template <class T, class = void> struct store_element {
    static_assert(detail::dependent_false<T>, "zipc: no store dtype for this type (specialise zipc::store_element)");
};
namespace detail {
template <class T> constexpr store_dtype integer_store_dtype() noexcept
{
    constexpr bool s = std::is_signed_v<T>;
    switch (sizeof(T)) {
    case 1: return s ? store_dtype::i8 : store_dtype::u8;
    case 2: return s ? store_dtype::i16 : store_dtype::u16;
    case 4: return s ? store_dtype::i32 : store_dtype::u32;
    default: return s ? store_dtype::i64 : store_dtype::u64;
    }
}
} // namespace detail
template <> struct store_element<bool> {
    static constexpr store_dtype value = store_dtype::bool_;
};
template <class T>
struct store_element<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> && sizeof(T) <= 8>> {
    static constexpr store_dtype value = detail::integer_store_dtype<T>();
};
template <> struct store_element<float> {
    static constexpr store_dtype value = store_dtype::f32;
};
template <> struct store_element<double> {
    static constexpr store_dtype value = store_dtype::f64;
};
template <> struct store_element<std::complex<float>> {
    static constexpr store_dtype value = store_dtype::c64;
};
template <class T> inline constexpr store_dtype store_dtype_of = store_element<std::remove_cv_t<T>>::value;

/* A tensor to publish: C-contiguous data of exactly size bytes (elements *
 * bits / 8; the C core checks: EINVAL). An aggregate:
 *     zipc::store_tensor_ref{"w", zipc::store_dtype::f16, {4096, 4096}, data, bytes}
 * or, with the dtype deduced, store_tensor_ref::of("w", floats, {2, 3}). */
struct store_tensor_ref {
    std::string name;
    store_dtype dtype = store_dtype::u8;
    std::vector<std::int64_t> shape; /* {}: a scalar */
    const void *data = nullptr;
    std::size_t size = 0; /* bytes */

    /* count elements of T at data, with this shape (or one dimension of count). */
    template <class T>
    static store_tensor_ref of(std::string name, const T *data, std::size_t count, std::vector<std::int64_t> shape)
    {
        return {std::move(name), store_dtype_of<T>, std::move(shape), data, count * sizeof(T)};
    }
    template <class T> static store_tensor_ref of(std::string name, const T *data, std::size_t count)
    {
        return of(std::move(name), data, count, {static_cast<std::int64_t>(count)});
    }
    /* A contiguous container of T (vector, array, zipc::span). */
    template <class C, class T = std::remove_pointer_t<decltype(std::declval<const C &>().data())>>
    static store_tensor_ref of(std::string name, const C &values, std::vector<std::int64_t> shape)
    {
        return of(std::move(name), values.data(), values.size(), std::move(shape));
    }
    template <class C, class T = std::remove_pointer_t<decltype(std::declval<const C &>().data())>>
    static store_tensor_ref of(std::string name, const C &values)
    {
        return of(std::move(name), values.data(), values.size());
    }
};

/* How a store is published or opened; an option left unset keeps the C
 * library's default. Chainable:
 *     zipc::store_options().align(4096).metadata("format", "pt").timeout(2s) */
class store_options {
public:
    /* publish: each tensor's alignment, a power of two from 64 (the
     * default) to 2 MiB (4096: page-aligned tensors). */
    store_options &align(std::uint64_t alignment) noexcept
    {
        align_ = alignment;
        return *this;
    }
    /* publish: a metadata pair stored with the tensors (publish_safetensors:
     * added after the file's own). */
    store_options &metadata(std::string key, std::string value)
    {
        meta_.emplace_back(std::move(key), std::move(value));
        return *this;
    }
    /* open: read-fault every page now (ZIPC_STORE_PREFAULT). */
    store_options &prefault(bool on = true) noexcept { return flag(ZIPC_STORE_PREFAULT, on); }
    /* open: verify every checksum before returning (ZIPC_STORE_VERIFY; bad_message). */
    store_options &verify(bool on = true) noexcept { return flag(ZIPC_STORE_VERIFY, on); }
    /* publish: 2 MiB pages where the kernel has them (ZIPC_STORE_HUGE_PAGES;
     * never an error: store::page_size says what the version got). */
    store_options &huge_pages(bool on = true) noexcept { return flag(ZIPC_STORE_HUGE_PAGES, on); }
    /* How long publish and open wait (handshakes, a concurrent publisher);
     * default: zipc::default_timeout. */
    store_options &timeout(std::chrono::nanoseconds d) noexcept
    {
        common_.handshake_timeout(d);
        return *this;
    }
    store_options &timeout(forever_t) noexcept
    {
        common_.handshake_timeout(forever);
        return *this;
    }
    /* The endpoint options the store uses (timeout, peer uid, label, max_segment). */
    store_options &options(const zipc::options &o)
    {
        common_ = o;
        return *this;
    }
    const zipc::options &options() const noexcept { return common_; }
    std::uint64_t align() const noexcept { return align_; }
    std::uint32_t flags() const noexcept { return flags_; }
    const std::vector<std::pair<std::string, std::string>> &metadata() const noexcept { return meta_; }

private:
    store_options &flag(std::uint32_t f, bool on) noexcept
    {
        flags_ = on ? (flags_ | f) : (flags_ & ~f);
        return *this;
    }
    zipc::options common_;
    std::uint64_t align_ = 0;
    std::uint32_t flags_ = 0;
    std::vector<std::pair<std::string, std::string>> meta_;
};

/* One tensor of a store, read in place: data() is in the store's read-only
 * mapping (a write through it faults), aligned as published (>= 64
 * bytes), C-contiguous. Valid while its store lives (not closed). */
class store_tensor {
public:
    explicit store_tensor(const zipc_store_info &info) noexcept : i_(info) {}

    std::string_view name() const noexcept { return std::string_view(i_.name, i_.name_len); }
    store_dtype dtype() const noexcept { return static_cast<store_dtype>(i_.dtype); }
    unsigned bits() const noexcept { return i_.bits; } /* per element */
    std::size_t ndim() const noexcept { return i_.ndim; }
    shape_t shape() const noexcept { return shape_t(i_.shape, i_.ndim); }
    shape_t strides() const noexcept { return shape_t(i_.strides, i_.ndim); } /* in elements */
    /* Elements: the product of the shape (1 for a scalar). */
    std::size_t elements() const noexcept
    {
        std::size_t n = 1;
        for (std::int64_t d : shape())
            n *= static_cast<std::size_t>(d);
        return n;
    }
    const void *data() const noexcept { return i_.data; }
    std::size_t size() const noexcept { return static_cast<std::size_t>(i_.size); } /* bytes */
    const_bytes bytes() const noexcept { return as_bytes(i_.data, size()); }
    std::uint64_t xxh3() const noexcept { return i_.xxh3; } /* recorded at publish */
    std::size_t index() const noexcept { return i_.index; } /* in name order: store[index()] */

    /* The elements as T (store_element<T> must be dtype()): a read-only
     * view over the mapping. A mismatch throws zipc::error
     * (std::errc::invalid_argument); the std::nothrow form returns it. */
    template <class T> span<const T> as() const
    {
        return detail::value_or_throw(as<T>(std::nothrow), "zipc::store_tensor::as: the tensor's dtype is not this type");
    }
    template <class T> result<span<const T>> as(std::nothrow_t) const noexcept
    {
        if (dtype() != store_dtype_of<T> || bits() != sizeof(T) * CHAR_BIT || i_.size % sizeof(T) != 0)
            return make_error_code(-EINVAL);
        if (reinterpret_cast<std::uintptr_t>(i_.data) % alignof(T) != 0) /* a sealed store is >= 64-aligned */
            return make_error_code(-EINVAL);
        return span<const T>(static_cast<const T *>(i_.data), size() / sizeof(T));
    }
    const zipc_store_info &native() const noexcept { return i_; }

private:
    zipc_store_info i_;
};

/* A holder of one version of a named store: the publisher's handle or an
 * opened one, alike (each serves the name while its version is the
 * newest; the store lives while any holder does). Move-only; closes when
 * it dies. An empty store (default or moved from) fails every call with
 * EINVAL (size() is 0). Iterates its tensors in name order. */
class store {
public:
    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = store_tensor;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = store_tensor;
        iterator() noexcept = default;
        iterator(const zipc_store *s, std::size_t i) noexcept : s_(s), i_(i) {}
        store_tensor operator*() const
        {
            zipc_store_info info;
            detail::check(zipc_store_tensor_at(s_, i_, &info), "zipc_store_tensor_at");
            return store_tensor(info);
        }
        iterator &operator++() noexcept { return ++i_, *this; }
        iterator operator++(int) noexcept { return iterator(s_, i_++); }
        friend bool operator==(iterator a, iterator b) noexcept { return a.s_ == b.s_ && a.i_ == b.i_; }
        friend bool operator!=(iterator a, iterator b) noexcept { return !(a == b); }

    private:
        const zipc_store *s_ = nullptr;
        std::size_t i_ = 0;
    };

    /* The metadata pairs, in key order (views into the mapping). */
    class metadata_range {
    public:
        class iterator {
        public:
            using iterator_category = std::input_iterator_tag;
            using value_type = std::pair<std::string_view, std::string_view>;
            using difference_type = std::ptrdiff_t;
            using pointer = void;
            using reference = value_type;
            iterator() noexcept = default;
            iterator(const zipc_store *s, std::size_t i) noexcept : s_(s), i_(i) {}
            value_type operator*() const
            {
                zipc_store_kv kv;
                detail::check(zipc_store_metadata_at(s_, i_, &kv), "zipc_store_metadata_at");
                return {std::string_view(kv.key), std::string_view(kv.value, kv.value_len)};
            }
            iterator &operator++() noexcept { return ++i_, *this; }
            iterator operator++(int) noexcept { return iterator(s_, i_++); }
            friend bool operator==(iterator a, iterator b) noexcept { return a.s_ == b.s_ && a.i_ == b.i_; }
            friend bool operator!=(iterator a, iterator b) noexcept { return !(a == b); }

        private:
            const zipc_store *s_ = nullptr;
            std::size_t i_ = 0;
        };
        metadata_range(const zipc_store *s, std::size_t n) noexcept : s_(s), n_(n) {}
        iterator begin() const noexcept { return iterator(s_, 0); }
        iterator end() const noexcept { return iterator(s_, n_); }
        std::size_t size() const noexcept { return n_; }
        bool empty() const noexcept { return n_ == 0; }

    private:
        const zipc_store *s_;
        std::size_t n_;
    };

    store() noexcept = default;
    /* Take ownership of a C handle. */
    explicit store(zipc_store *adopt) noexcept : s_(adopt) {}
    store(store &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    store &operator=(store &&o) noexcept
    {
        if (this != &o) {
            close();
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    store(const store &) = delete;
    store &operator=(const store &) = delete;
    ~store() { close(); }

    /* Publish `tensors` (and opts' metadata) as the newest version of
     * `name` (a name, no '/'): copied and hashed into one new sealed
     * segment. Returns the publisher's handle, a holder like any other.
     * Throws EINVAL (a bad dtype, shape, size, duplicate or invalid name,
     * alignment), EFBIG, ENOMEM, ETIMEDOUT, ... */
    static store publish(const std::string &name, span<const store_tensor_ref> tensors, const store_options &opts = {})
    {
        return detail::value_or_throw(publish(name, tensors, opts, std::nothrow), "zipc_store_publish");
    }
    /* A braced list: publish(name, {store_tensor_ref::of("w", w, {2, 3}), ...}). */
    static store publish(const std::string &name, std::initializer_list<store_tensor_ref> tensors,
                         const store_options &opts = {})
    {
        return publish(name, span<const store_tensor_ref>(tensors.begin(), tensors.size()), opts);
    }
    static store publish(const std::string &name, const std::vector<store_tensor_ref> &tensors,
                         const store_options &opts = {})
    {
        return publish(name, span<const store_tensor_ref>(tensors.data(), tensors.size()), opts);
    }
    static result<store> publish(const std::string &name, const std::vector<store_tensor_ref> &tensors,
                                 const store_options &opts, std::nothrow_t) noexcept
    {
        return publish(name, span<const store_tensor_ref>(tensors.data(), tensors.size()), opts, std::nothrow);
    }
    static result<store> publish(const std::string &name, span<const store_tensor_ref> tensors,
                                 const store_options &opts, std::nothrow_t) noexcept
    {
        try {
            std::vector<zipc_store_tensor> c(tensors.size());
            for (std::size_t i = 0; i < tensors.size(); i++)
                if (int rc = to_c(tensors[i], c[i]))
                    return make_error_code(rc);
            native_options o(opts);
            zipc_store *s = nullptr;
            if (int rc = zipc_store_publish(&s, name.c_str(), c.data(), c.size(), &o.c))
                return make_error_code(rc);
            return store(s);
        } catch (const std::bad_alloc &) {
            return make_error_code(-ENOMEM);
        }
    }

    /* The same from a safetensors file, every rule of the format checked
     * (the file's __metadata__ kept, then opts' metadata). A file breaking
     * a rule throws std::errc::bad_message, and what() says which rule and
     * where; the std::nothrow form puts that reason in *reason. */
    static store publish_safetensors(const std::string &name, const std::string &path, const store_options &opts = {})
    {
        std::string why;
        result<store> r = publish_safetensors(name, path, opts, std::nothrow, &why);
        if (!r) {
            std::string what = "zipc_store_publish_safetensors(" + path + ")";
            if (!why.empty())
                what += ": " + why;
            throw error(r.error(), what.c_str());
        }
        return std::move(r).value();
    }
    static result<store> publish_safetensors(const std::string &name, const std::string &path,
                                             const store_options &opts, std::nothrow_t,
                                             std::string *reason = nullptr) noexcept
    {
        try {
            char why[512] = "";
            native_options o(opts);
            o.c.error = why;
            o.c.error_len = sizeof why;
            zipc_store *s = nullptr;
            int rc = zipc_store_publish_safetensors(&s, name.c_str(), path.c_str(), &o.c);
            if (reason)
                *reason = rc == -EBADMSG ? why : "";
            if (rc)
                return make_error_code(rc);
            return store(s);
        } catch (const std::bad_alloc &) {
            return make_error_code(-ENOMEM);
        }
    }

    /* Open the newest version of `name` served by a holder, zero-copy. Its
     * segment is validated whole first (bad_message if hostile). Throws
     * ENOENT (nobody serves the name), ETIMEDOUT, bad_message, ... */
    static store open(const std::string &name, const store_options &opts = {})
    {
        return detail::value_or_throw(open(name, opts, std::nothrow), "zipc_store_open");
    }
    static result<store> open(const std::string &name, const store_options &opts, std::nothrow_t) noexcept
    {
        try {
            native_options o(opts);
            zipc_store *s = nullptr;
            if (int rc = zipc_store_open(&s, name.c_str(), &o.c))
                return make_error_code(rc);
            return store(s);
        } catch (const std::bad_alloc &) {
            return make_error_code(-ENOMEM);
        }
    }

    /* Leave now (what the destructor does): unmap, stop serving. Must not
     * race with queries on other threads. */
    void close() noexcept
    {
        if (s_)
            zipc_store_close(std::exchange(s_, nullptr));
    }
    explicit operator bool() const noexcept { return s_ != nullptr; }
    zipc_store *native_handle() const noexcept { return s_; }

    /* Tensors (0 for an empty store). */
    std::size_t size() const noexcept
    {
        int n = s_ ? zipc_store_count(s_) : 0;
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    bool empty() const noexcept { return size() == 0; }
    /* The i-th tensor in name order; throws ENOENT past the end. */
    store_tensor operator[](std::size_t i) const { return *iterator(s_, i); }
    iterator begin() const noexcept { return iterator(s_, 0); }
    iterator end() const noexcept { return iterator(s_, size()); }

    /* The tensor `name`, or std::nullopt. */
    std::optional<store_tensor> find(const std::string &name) const
    {
        result<store_tensor> t = find(name, std::nothrow);
        if (!t && t.error() == std::errc::no_such_file_or_directory)
            return std::nullopt;
        return detail::value_or_throw(std::move(t), "zipc_store_find");
    }
    /* The same as a result: std::errc::no_such_file_or_directory if absent. */
    result<store_tensor> find(const std::string &name, std::nothrow_t) const noexcept
    {
        zipc_store_info info;
        if (int rc = zipc_store_find(s_, name.c_str(), &info))
            return make_error_code(rc);
        return store_tensor(info);
    }
    /* The tensor `name`; throws ENOENT if absent. */
    store_tensor at(const std::string &name) const { return detail::value_or_throw(find(name, std::nothrow), "zipc_store_find"); }

    /* Recompute the XXH3-64 of every tensor (in parallel for a large
     * store), of tensor i, or of tensor `name`, and compare with the table:
     * throws std::errc::bad_message on a mismatch (ENOENT: no such tensor). */
    void verify() const { detail::check(verify(std::nothrow), "zipc_store_verify"); }
    void verify(std::size_t i) const { detail::check(verify(i, std::nothrow), "zipc_store_verify"); }
    void verify(const std::string &name) const { verify(at(name).index()); }
    [[nodiscard]] std::error_code verify(std::nothrow_t) const noexcept { return verify(ZIPC_STORE_ALL, std::nothrow); }
    [[nodiscard]] std::error_code verify(std::size_t i, std::nothrow_t) const noexcept
    {
        return make_error_code(zipc_store_verify(s_, i));
    }

    /* The value of metadata `key`, or std::nullopt; all pairs, in key order. */
    std::optional<std::string_view> metadata(const std::string &key) const
    {
        zipc_store_kv kv;
        int rc = zipc_store_metadata(s_, key.c_str(), &kv);
        if (rc == -ENOENT)
            return std::nullopt;
        detail::check(rc, "zipc_store_metadata");
        return std::string_view(kv.value, kv.value_len);
    }
    metadata_range metadata() const noexcept
    {
        int n = s_ ? zipc_store_metadata_count(s_) : 0;
        return metadata_range(s_, n > 0 ? static_cast<std::size_t>(n) : 0);
    }

    /* This handle's version (1 for a name's first publish), and the newest
     * published under its name (> version(): reopen to get it). */
    std::uint64_t version() const noexcept { return s_ ? zipc_store_version(s_) : 0; }
    std::uint64_t latest() const noexcept { return s_ ? zipc_store_latest(s_) : 0; }
    /* The page size of the version's memory (2 MiB: hugetlb pages). */
    std::size_t page_size() const noexcept { return s_ ? zipc_store_page_size(s_) : 0; }
    /* The mapped segment (e.g. for cudaHostRegister). */
    const_bytes mapping() const noexcept
    {
        std::size_t n = 0;
        const void *p = s_ ? zipc_store_base(s_, &n) : nullptr;
        return as_bytes(p, p ? n : 0);
    }

private:
    /* The C options and the metadata pairs they point to. */
    struct native_options {
        explicit native_options(const store_options &o) : common(o.options()), c{}
        {
            kv.reserve(o.metadata().size());
            for (const auto &[k, v] : o.metadata())
                kv.push_back(zipc_store_kv{k.c_str(), v.data(), v.size()});
            c.options = common.native();
            c.align = o.align();
            c.flags = o.flags();
            c.metadata = kv.empty() ? nullptr : kv.data();
            c.nmeta = kv.size();
        }
        zipc::options common; /* owns the label c.options points to */
        std::vector<zipc_store_kv> kv;
        zipc_store_options c;
    };
    static int to_c(const store_tensor_ref &t, zipc_store_tensor &c) noexcept
    {
        if (t.shape.size() > ZIPC_STORE_MAX_NDIM)
            return -EINVAL;
        c = zipc_store_tensor{};
        c.name = t.name.c_str();
        c.dtype = static_cast<std::uint32_t>(t.dtype);
        c.ndim = static_cast<std::uint32_t>(t.shape.size());
        std::copy(t.shape.begin(), t.shape.end(), c.shape);
        c.data = t.data;
        c.size = t.size;
        return 0;
    }
    zipc_store *s_ = nullptr;
};

/* Library version ("MAJOR.MINOR.PATCH", from zipc/common.h) and the
 * shared-memory ABI version. */
inline const char *version() noexcept { return zipc_version(); }
inline std::uint32_t abi_version() noexcept { return zipc_abi_version(); }

/* ======================================================================
 * Streams: the same typed messages over any byte stream (zipc/stream.h)
 *
 *   zipc::stream_writer  frames to an fd (a pipe, stdout, a socket, a file)
 *   zipc::stream_reader  frames from an fd; owns its C reader, not the fd
 *
 * A frame read is a zipc::view_ref (payload(), text(), as<T>(), tensor()),
 * valid until the next read on its reader. Neither closes the fd. The clean
 * end of the stream is std::nullopt (or std::errc::broken_pipe with
 * std::nothrow); a broken stream throws zipc::error (EBADMSG; EMSGSIZE for
 * a frame over max_frame, EPROTO for another format version).
 * ====================================================================== */

class stream_writer {
public:
    explicit stream_writer(int fd) noexcept : fd_(fd) {}

    void write(std::uint32_t type, const_bytes payload)
    {
        detail::check(write(type, payload, std::nothrow), "zipc_stream_write");
    }
    std::error_code write(std::uint32_t type, const_bytes payload, std::nothrow_t) noexcept
    {
        return make_error_code(zipc_stream_write(fd_, type, payload.data(), payload.size()));
    }
    void write_text(std::string_view text, std::uint32_t type = type_id::str)
    {
        write(type, as_bytes(text.data(), text.size()));
    }
    template <class T> void write_pod(const T &value, std::uint32_t type = 0)
    {
        static_assert(std::is_trivially_copyable_v<T>, "zipc: write_pod needs a trivially copyable type");
        write(type, as_bytes(&value, sizeof value));
    }
    /* A C-contiguous tensor of T (ZIPC_TYPE_TENSOR): its header and the
     * elements at data, written from where they are (no copy). */
    template <class T> void write_tensor(const T *data, shape_t shape)
    {
        zipc_tensor_header h = tensor_header<T>(shape); /* data_offset == sizeof h */
        struct iovec iov[2] = {{&h, sizeof h}, {const_cast<T *>(data), static_cast<std::size_t>(h.nbytes)}};
        detail::check(zipc_stream_writev(fd_, type_id::tensor, iov, h.nbytes ? 2 : 1), "zipc_stream_writev");
    }
    int fd() const noexcept { return fd_; }

private:
    int fd_;
};

class stream_reader {
public:
    /* max_frame: the largest payload accepted (0: ZIPC_STREAM_DEFAULT_MAX_FRAME);
     * at most 4 GiB - 1 here, a view_ref's size. */
    explicit stream_reader(int fd, std::uint64_t max_frame = 0)
    {
        if (max_frame > UINT32_MAX)
            throw error(-EINVAL, "zipc::stream_reader: max_frame above 4 GiB - 1");
        detail::check(zipc_stream_reader_open(&r_, fd, max_frame), "zipc_stream_reader_open");
    }
    stream_reader(stream_reader &&o) noexcept : r_(std::exchange(o.r_, nullptr)), frames_(o.frames_) {}
    stream_reader &operator=(stream_reader &&o) noexcept
    {
        std::swap(r_, o.r_);
        std::swap(frames_, o.frames_);
        return *this;
    }
    stream_reader(const stream_reader &) = delete;
    stream_reader &operator=(const stream_reader &) = delete;
    ~stream_reader() { zipc_stream_reader_close(r_); }

    /* The next frame, or std::nullopt at the clean end of the stream. */
    std::optional<view_ref> read()
    {
        result<view_ref> f = read(std::nothrow);
        if (!f && f.error() == std::errc::broken_pipe)
            return std::nullopt;
        return std::move(f).value();
    }
    result<view_ref> read(std::nothrow_t) noexcept
    {
        zipc_stream_frame f;
        if (int rc = zipc_stream_read(r_, &f))
            return make_error_code(rc);
        zipc_msg m{};
        m.data = f.data;
        m.size = static_cast<std::uint32_t>(f.size); /* <= max_frame <= UINT32_MAX */
        m.type = f.type;
        m.seq = frames_++;
        return view_ref(m);
    }

private:
    zipc_stream_reader *r_ = nullptr;
    std::uint64_t frames_ = 0;
};

} // namespace zipc

#undef ZIPC__HPP_LIKELY
#undef ZIPC__HPP_UNLIKELY

#endif /* ZIPC_HPP */

/* zipc.hpp — the C++17 binding of zipc: header-only, over the C library
 * (zipc.h). Nothing here re-implements the ring; every call is one C call
 * plus the RAII and type checks around it.
 *
 *   zipc::channel      move-only endpoint; closes in its destructor
 *   zipc::reservation  a slot being written; aborted unless committed
 *   zipc::message      one viewed message; released when it dies
 *   zipc::batch        the messages of one drain; released together
 *   zipc::tensor_view  a validated tensor message (zipc/tensor.h)
 *
 * Errors. A throwing call throws zipc::error (a std::system_error) whose
 * code() is {errno, zipc::category()} and whose what() carries the C call
 * and zipc_strerror()'s text. The codes compare equal to std::errc, so
 *     catch (const zipc::error &e) { if (e.code() == std::errc::broken_pipe) ... }
 * works. Each blocking call has a try_ twin that never throws zipc::error
 * and returns zipc::result<T> (or a std::error_code): use those on hot paths
 * where "would block" (EAGAIN) and "timed out" (ETIMEDOUT) are normal.
 * Besides zipc::error, a call may throw std::bad_alloc (the consumer's
 * release bookkeeping grows once in a while; nothing else allocates).
 *
 * Timeouts. zipc::timeout takes any std::chrono duration (<= 0: do not
 * block), zipc::try_once (never block: -EAGAIN) or zipc::forever. Blocking
 * calls default to forever, try_ calls to try_once. Blocking means: spin
 * (options::spin, 50 us by default), then sleep in the kernel until the peer
 * acts, dies, or the timeout passes.
 *
 * Threads. A channel and everything it hands out (reservations, messages,
 * batches) belong to one thread at a time; calls on them must not run
 * concurrently. The producer and the consumer (other endpoints, usually
 * other processes) run fully in parallel. Messages, batches and
 * reservations must not outlive the channel that made them (like iterators
 * and their container): debug builds assert it when the channel closes.
 *
 * Release order. The ring is released oldest first. A message or batch that
 * dies while an older one is still alive is only marked; it is given back
 * (zipc_channel_release_upto) as soon as every older one is gone. So views
 * may die in any order, and the producer regains space in ring order.
 */
#ifndef ZIPC_HPP
#define ZIPC_HPP

/* zipc.h declares a function and a struct both named zipc_channel_stats:
 * fine in C, a -Wshadow warning in C++ (the function hides the struct's
 * implicit constructor). Keep the including project's -Wshadow -Werror quiet. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#endif
#include <zipc.h>
#include <zipc/tensor.h>
#include <zipc/types.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <cassert>
#include <chrono>
#include <climits>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
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
#define ZIPC_HPP_LIKELY(x) __builtin_expect(!!(x), 1)
#define ZIPC_HPP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ZIPC_HPP_COLD __attribute__((noinline, cold))
#else
#define ZIPC_HPP_LIKELY(x) (x)
#define ZIPC_HPP_UNLIKELY(x) (x)
#define ZIPC_HPP_COLD
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
 * every try_ call's success code names it) and never destroyed, so an error
 * code stays usable in other objects' static destructors. */
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

/* What every throwing call throws. errno_value() is the positive errno. */
class error : public std::system_error {
public:
    error(std::error_code ec, const char *what) : std::system_error(ec, what) {}
    error(int err, const char *what) : error(make_error_code(err), what) {}
    int errno_value() const noexcept { return code().value(); }
};

namespace detail {
/* rc < 0: throw; otherwise return it. */
inline int check(int rc, const char *what)
{
    if (rc < 0)
        throw error(rc, what);
    return rc;
}
} // namespace detail

/* The value of a try_ call, or the error code that stopped it. */
template <class T> class [[nodiscard]] result {
public:
    result(T &&value) noexcept(std::is_nothrow_move_constructible_v<T>) : value_(std::move(value)) {}
    result(const T &value) : value_(value) {}
    result(std::error_code ec) noexcept : ec_(ec) {}

    bool has_value() const noexcept { return value_.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }
    /* EAGAIN or ETIMEDOUT: the normal "not now" of a try_ call. */
    bool is_timeout() const noexcept { return zipc::is_timeout(ec_); }
    std::error_code error() const noexcept { return ec_; }

    /* The value; throws zipc::error when there is none. */
    T &value() &
    {
        ensure();
        return *value_;
    }
    T &&value() &&
    {
        ensure();
        return std::move(*value_);
    }
    T &operator*() & noexcept { return *value_; }
    T &&operator*() && noexcept { return std::move(*value_); }
    T *operator->() noexcept { return &*value_; }

private:
    void ensure() const
    {
        if (!value_)
            throw zipc::error(ec_, "zipc::result::value");
    }
    std::optional<T> value_;
    std::error_code ec_;
};

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
    unspecified = ZIPC_ROLE_DEFAULT, /* listener: consumer; connector: the listener's choice */
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
inline constexpr bool is_reserved(std::uint32_t t) noexcept { return t >= ZIPC_TYPE_RESERVED_MIN; }
} // namespace type_id

/* Endpoint options; the defaults are the C library's. Chainable:
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
    /* Busy-wait this long before sleeping (default 50 us); no_spin: sleep at once. */
    options &spin(std::chrono::nanoseconds d) noexcept { return set(o_.spin_ns, d.count() > 0 ? d.count() : 1); }
    options &no_spin() noexcept { return set(o_.flags, o_.flags | ZIPC_OPT_NO_SPIN); }
    /* How long listen/connect wait for the peer (default 10 s). */
    options &handshake_timeout(std::chrono::nanoseconds d) noexcept
    {
        return set(o_.timeout_ns, d.count() > 0 ? d.count() : 1);
    }
    options &handshake_timeout(forever_t) noexcept { return set(o_.timeout_ns, ZIPC_FOREVER); }
    /* Listener's socket file mode (default 0600) and segment label (default: the path). */
    options &socket_mode(std::uint32_t mode) noexcept { return set(o_.socket_mode, mode); }
    options &name(std::string label)
    {
        name_ = std::move(label);
        return *this;
    }
    /* The C struct; valid while this object lives unchanged. */
    zipc_options native() const noexcept
    {
        zipc_options o = o_;
        o.label = name_.empty() ? nullptr : name_.c_str();
        return o;
    }

private:
    template <class F, class V> options &set(F &field, V v) noexcept
    {
        field = static_cast<F>(v);
        return *this;
    }
    zipc_options o_{};
    std::string name_;
};

/* Tags for commit: stage the message, publish it with the next plain commit or flush(). */
struct more_t {
    explicit constexpr more_t() = default;
};
inline constexpr more_t more{};

/* ======================================================================
 * Producer: reservation
 * ====================================================================== */

/* A writable slot in the ring (16-byte aligned), from channel::reserve.
 * Commit publishes it; otherwise it is aborted when it dies (no trace in the
 * ring). At most one is open per channel (a second reserve: EALREADY). */
class reservation {
public:
    reservation() noexcept = default;
    reservation(reservation &&o) noexcept
        : ch_(std::exchange(o.ch_, nullptr)), data_(o.data_), size_(o.size_)
    {
    }
    reservation &operator=(reservation &&o) noexcept
    {
        if (this != &o) {
            abort();
            ch_ = std::exchange(o.ch_, nullptr), data_ = o.data_, size_ = o.size_;
        }
        return *this;
    }
    reservation(const reservation &) = delete;
    reservation &operator=(const reservation &) = delete;
    ~reservation() { abort(); }

    explicit operator bool() const noexcept { return ch_ != nullptr; }
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
    [[nodiscard]] std::error_code try_commit(std::size_t size, std::uint32_t type = 0) noexcept
    {
        return make_error_code(publish(size, type, 0));
    }
    [[nodiscard]] std::error_code try_commit(std::size_t size, std::uint32_t type, more_t) noexcept
    {
        return make_error_code(publish(size, type, ZIPC_COMMIT_MORE));
    }
    /* Drop it: nothing reaches the ring. */
    void abort() noexcept
    {
        if (ch_)
            zipc_channel_abort(std::exchange(ch_, nullptr));
    }

private:
    friend class channel;
    reservation(zipc_channel *ch, void *data, std::size_t size) noexcept
        : ch_(ch), data_(static_cast<std::byte *>(data)), size_(size)
    {
    }
    int publish(std::size_t size, std::uint32_t type, unsigned flags) noexcept
    {
        int rc = zipc_channel_commit(ch_, size, type, flags);
        if (rc == 0)
            ch_ = nullptr;
        return rc;
    }
    static void check_commit(int rc) { detail::check(rc, "zipc_channel_commit"); }
    zipc_channel *ch_ = nullptr;
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

/* Encode a tensor payload into out (>= tensor_payload_size(h) bytes): the
 * header, zeroed padding, then h.nbytes from data. */
inline void write_tensor(bytes out, const zipc_tensor_header &h, const void *data)
{
    if (out.size() < tensor_payload_size(h))
        throw error(-EMSGSIZE, "zipc::write_tensor: buffer smaller than the payload");
    std::memcpy(out.data(), &h, sizeof h);
    std::memset(out.data() + sizeof h, 0, static_cast<std::size_t>(h.data_offset) - sizeof h);
    if (h.nbytes)
        std::memcpy(out.data() + h.data_offset, data, static_cast<std::size_t>(h.nbytes));
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

/* A tensor being written in place, from channel::reserve_tensor: fill
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
    friend class channel;
    tensor_reservation(reservation r, const zipc_tensor_header &h) noexcept
        : r_(std::move(r)), n_(static_cast<std::size_t>(h.nbytes / sizeof(T)))
    {
        std::memcpy(r_.data(), &h, sizeof h);
        std::memset(r_.data() + sizeof h, 0, static_cast<std::size_t>(h.data_offset) - sizeof h);
        data_ = reinterpret_cast<T *>(r_.data() + h.data_offset); /* 64-byte aligned in the ring */
    }
    reservation r_;
    T *data_ = nullptr;
    std::size_t n_ = 0;
};

/* ======================================================================
 * Consumer: messages, batches, in-order release
 * ====================================================================== */

namespace detail {
/* The consumer's open views (a message or a whole batch each), oldest
 * first, as tokens base_ .. base_ + count_ - 1. A view that dies while an
 * older one is open is marked dead in its slot, with its last message; the
 * ring is released up to the newest view whose elders are all gone.
 *
 * A dying view passes its own last message, so a slot is only written for
 * an out-of-order death, and the oldest view never uses its slot: the usual
 * case, one open view at a time, is a counter up and down (no slot, no
 * allocation) and one zipc_channel_release. Free slots have dead == false. */
class release_queue {
public:
    /* Make room for one push; the only call that may allocate (throw). At
     * most mask_ + 1 views are open (the first one needs no storage). */
    void reserve_one()
    {
        if (ZIPC_HPP_UNLIKELY(count_ > mask_))
            grow();
    }
    /* Record an open view; returns its token. */
    std::uint64_t push() noexcept { return base_ + count_++; }
    /* The view `token`, ending at `last`, died: release what is now
     * releasable, in order. */
    int done(zipc_channel *ch, std::uint64_t token, const zipc_msg &last) noexcept
    {
        if (ZIPC_HPP_LIKELY(count_ == 1)) { /* the only open view: release all */
            count_ = 0; /* base_ stays: the next view may reuse the token */
            return zipc_channel_release(ch);
        }
        return done_slow(ch, token, last);
    }
    bool empty() const noexcept { return count_ == 0; }

private:
    struct slot {
        zipc_msg last;
        bool dead;
    };
    ZIPC_HPP_COLD int done_slow(zipc_channel *ch, std::uint64_t token, const zipc_msg &last) noexcept
    {
        if (token != base_) { /* an older view is still open: mark */
            slot &s = slots_[token & mask_];
            s.last = last;
            s.dead = true;
            return 0;
        }
        const zipc_msg *upto = &last;
        ++base_, --count_;
        while (count_ && slots_[base_ & mask_].dead) {
            slot &s = slots_[base_ & mask_];
            s.dead = false;
            upto = &s.last;
            ++base_, --count_;
        }
        return zipc_channel_release_upto(ch, upto);
    }
    ZIPC_HPP_COLD void grow()
    {
        std::vector<slot> bigger(slots_.empty() ? 16 : 2 * slots_.size());
        std::size_t mask = bigger.size() - 1;
        if (!slots_.empty()) /* else at most one view is open: the oldest, slotless */
            for (std::uint64_t t = base_; t != base_ + count_; ++t)
                bigger[t & mask] = slots_[t & mask_];
        slots_.swap(bigger);
        mask_ = mask;
    }
    std::vector<slot> slots_; /* power-of-two size, or empty */
    std::size_t mask_ = 0;    /* slots_.size() - 1; 0 while empty */
    std::uint64_t base_ = 0;  /* token of the oldest open view */
    std::size_t count_ = 0;
};

/* A channel's heap part: its address stays put when the channel moves. */
struct endpoint {
    zipc_channel *ch;
    release_queue views;
};

/* One open view (message or batch) registered with its endpoint. Its owner
 * releases it (passing the view's last message) before it dies or is
 * assigned to. */
class view_handle {
public:
    view_handle() noexcept = default;
    explicit view_handle(endpoint *ep) noexcept : ep_(ep), token_(ep->views.push()) {}
    view_handle(view_handle &&o) noexcept : ep_(std::exchange(o.ep_, nullptr)), token_(o.token_) {}
    view_handle &operator=(view_handle &&o) noexcept
    {
        assert(!ep_ && "zipc: a view handle is released before it is replaced");
        ep_ = std::exchange(o.ep_, nullptr), token_ = o.token_;
        return *this;
    }
    ~view_handle() { assert(!ep_ && "zipc: a view handle is released by its owner"); }
    explicit operator bool() const noexcept { return ep_ != nullptr; }
    void release(const zipc_msg &last) noexcept
    {
        if (endpoint *ep = ep_) {
            ep_ = nullptr;
            ep->views.done(ep->ch, token_, last);
        }
    }

private:
    endpoint *ep_ = nullptr;
    std::uint64_t token_ = 0;
};
} // namespace detail

/* A received message's fields, not owning it (a batch's elements). */
class message_ref {
public:
    message_ref() noexcept = default;
    explicit message_ref(const zipc_msg &m) noexcept : m_(m) {}

    /* The payload, in the ring: read-only, 16-byte aligned. */
    const std::byte *data() const noexcept { return static_cast<const std::byte *>(m_.data); }
    std::size_t size() const noexcept { return m_.size; }
    const_bytes payload() const noexcept { return const_bytes(data(), size()); }
    std::string_view text() const noexcept { return std::string_view(static_cast<const char *>(m_.data), m_.size); }
    std::uint32_t type() const noexcept { return m_.type; }
    std::uint64_t seq() const noexcept { return m_.seq; } /* from 0 on the channel */
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
    zipc_msg m_{};
};

/* One viewed message, owned: released (in ring order) when it dies, is
 * assigned to or viewed into again, or on release(). Move-only. Keep one in
 * a hot loop and view into it (channel::try_view(message &)): no move. */
class message : public message_ref {
public:
    message() noexcept = default;
    message(message &&) noexcept = default;
    message &operator=(message &&o) noexcept
    {
        if (this != &o) {
            release();
            m_ = o.m_;
            h_ = std::move(o.h_);
        }
        return *this;
    }
    ~message() { release(); }
    explicit operator bool() const noexcept { return static_cast<bool>(h_); }
    /* Give the slot back now (in ring order: after every older view). */
    void release() noexcept { h_.release(m_); }

private:
    friend class channel;
    message(detail::endpoint *ep, const zipc_msg &m) noexcept : message_ref(m), h_(ep) {}
    detail::view_handle h_;
};

/* The messages of one drain, released together when the batch dies, on
 * release(), or when it is drained into again. Reusable: keep one per loop,
 * no allocation per drain. Iterates as message_ref. */
class batch {
public:
    class iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = message_ref;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = message_ref;
        iterator() noexcept = default;
        explicit iterator(const zipc_msg *p) noexcept : p_(p) {}
        message_ref operator*() const noexcept { return message_ref(*p_); }
        struct arrow {
            message_ref ref;
            const message_ref *operator->() const noexcept { return &ref; }
        };
        arrow operator->() const noexcept { return arrow{message_ref(*p_)}; }
        message_ref operator[](difference_type i) const noexcept { return message_ref(p_[i]); }
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
    batch(batch &&) noexcept = default;
    batch &operator=(batch &&o) noexcept
    {
        if (this != &o) {
            release();
            msgs_ = std::move(o.msgs_);
            n_ = o.n_;
            h_ = std::move(o.h_);
        }
        return *this;
    }
    ~batch() { release(); }

    std::size_t size() const noexcept { return h_ ? n_ : 0; }
    bool empty() const noexcept { return size() == 0; }
    std::size_t capacity() const noexcept { return msgs_.size(); }
    message_ref operator[](std::size_t i) const noexcept { return message_ref(msgs_[i]); }
    iterator begin() const noexcept { return iterator(msgs_.data()); }
    iterator end() const noexcept { return iterator(msgs_.data() + size()); }
    void release() noexcept
    {
        if (h_)
            h_.release(msgs_[n_ - 1]);
    }

private:
    friend class channel;
    std::vector<zipc_msg> msgs_;
    std::size_t n_ = 0;
    detail::view_handle h_;
};

/* What recv copied: the message's size and type. */
struct received {
    std::size_t size;
    std::uint32_t type;
};

/* ======================================================================
 * Channel
 * ====================================================================== */

/* One endpoint of a one-producer, one-consumer channel. Move-only; closes
 * when it dies (the peer then sees EPIPE after draining). An empty channel
 * (default-constructed or moved from) fails every call with EINVAL. */
class channel {
public:
    channel() noexcept = default;
    /* Take ownership of a C endpoint (closed if this throws bad_alloc). */
    explicit channel(zipc_channel *adopt) : ep_(adopt_endpoint(adopt)), ch_(ep_ ? adopt : nullptr) {}
    channel(channel &&o) noexcept : ep_(std::move(o.ep_)), ch_(std::exchange(o.ch_, nullptr)) {}
    channel &operator=(channel &&o) noexcept
    {
        if (this != &o) {
            close();
            ep_ = std::move(o.ep_);
            ch_ = std::exchange(o.ch_, nullptr);
        }
        return *this;
    }
    ~channel() { close(); }

    /* Create the channel at the Unix socket `path` and wait for one peer
     * (options::handshake_timeout). capacity: ring bytes, rounded up to a
     * power of two. Blocks. Throws EADDRINUSE, ETIMEDOUT, EPROTO, ... */
    static channel listen(const std::string &path, std::size_t capacity, const options &opts = {})
    {
        zipc_options o = opts.native();
        return open("zipc_channel_listen", [&](zipc_channel **ch) {
            return zipc_channel_listen(ch, path.c_str(), capacity, &o);
        });
    }
    /* Connect to a listener at `path`, retrying until it appears or the
     * handshake timeout passes. Blocks. Throws ENOENT, ETIMEDOUT, EPERM, ... */
    static channel connect(const std::string &path, const options &opts = {})
    {
        zipc_options o = opts.native();
        return open("zipc_channel_connect", [&](zipc_channel **ch) { return zipc_channel_connect(ch, path.c_str(), &o); });
    }

    /* Close now (what the destructor does). Never blocks. */
    void close() noexcept
    {
        if (!ep_)
            return;
        assert(ep_->views.empty() && "zipc::channel closed while its messages are alive");
        zipc_channel_close(ep_->ch);
        ep_.reset();
        ch_ = nullptr;
    }
    /* Tell the peer we are done without unmapping: open messages stay
     * readable until close. Later calls fail with EPIPE. */
    void shutdown() { detail::check(zipc_channel_shutdown(raw()), "zipc_channel_shutdown"); }

    explicit operator bool() const noexcept { return ep_ != nullptr; }
    zipc_channel *native_handle() const noexcept { return raw(); }
    zipc::role role() const noexcept { return ep_ ? static_cast<zipc::role>(zipc_channel_role(raw())) : zipc::role::unspecified; }
    std::size_t capacity() const noexcept { return ep_ ? zipc_channel_capacity(raw()) : 0; }
    std::size_t max_message() const noexcept { return ep_ ? zipc_channel_max_message(raw()) : 0; }
    int peer_pid() const noexcept { return ep_ ? zipc_channel_peer_pid(raw()) : 0; }
    /* For poll/epoll: readable when a try_ call that returned EAGAIN may now succeed. */
    int fd() const { return detail::check(zipc_channel_fd(raw()), "zipc_channel_fd"); }
    struct zipc_channel_stats stats() const
    {
        struct zipc_channel_stats st{};
        detail::check(zipc_channel_get_stats(raw(), &st), "zipc_channel_stats");
        return st;
    }

    /* ---- producer ------------------------------------------------------
     * reserve: `size` writable bytes in the ring; waits for space. Throws
     * EMSGSIZE (> max_message), EALREADY (one is open), EPIPE (consumer
     * gone), ETIMEDOUT / EAGAIN.
     * send: copy `data` in as one message. flush: publish staged messages. */
    reservation reserve(std::size_t size, timeout t = forever)
    {
        void *p = nullptr;
        detail::check(zipc_channel_reserve(raw(), size, &p, t.ns()), "zipc_channel_reserve");
        return reservation(raw(), p, size);
    }
    result<reservation> try_reserve(std::size_t size, timeout t = try_once) noexcept
    {
        void *p = nullptr;
        if (int rc = zipc_channel_reserve(raw(), size, &p, t.ns()))
            return make_error_code(rc);
        return reservation(raw(), p, size);
    }
    void send(const_bytes data, std::uint32_t type = 0, timeout t = forever)
    {
        detail::check(send_raw(data, type, t), "zipc_channel_send");
    }
    [[nodiscard]] std::error_code try_send(const_bytes data, std::uint32_t type = 0, timeout t = try_once) noexcept
    {
        return make_error_code(send_raw(data, type, t));
    }
    /* A trivially copyable value as one message of sizeof(T) bytes. */
    template <class T> void send_pod(const T &value, std::uint32_t type = 0, timeout t = forever)
    {
        send(pod_bytes(value), type, t);
    }
    template <class T>
    [[nodiscard]] std::error_code try_send_pod(const T &value, std::uint32_t type = 0, timeout t = try_once) noexcept
    {
        return try_send(pod_bytes(value), type, t);
    }
    /* A C-contiguous tensor of T (ZIPC_TYPE_TENSOR): copies size-of-shape
     * elements from data. reserve_tensor: fill it in place instead. */
    template <class T> void send_tensor(const T *data, shape_t shape, timeout t = forever)
    {
        zipc_tensor_header h = tensor_header<T>(shape);
        reservation r = reserve(tensor_payload_size(h), t);
        write_tensor(r.span(), h, data);
        r.commit(type_id::tensor);
    }
    template <class T> tensor_reservation<T> reserve_tensor(shape_t shape, timeout t = forever)
    {
        zipc_tensor_header h = tensor_header<T>(shape);
        return tensor_reservation<T>(reserve(tensor_payload_size(h), t), h);
    }
    void flush() { detail::check(zipc_channel_flush(raw()), "zipc_channel_flush"); }

    /* ---- consumer ------------------------------------------------------
     * view: the next message, in place; waits. Several may be open. After
     * the producer is gone every committed message is still delivered,
     * then EPIPE. drain: waits for one, then takes what is there (up to the
     * batch's capacity); returns the count. recv: copies the next message
     * into buf and releases it (EMSGSIZE: kept; EALREADY: views are open).
     * EBADMSG: the segment is corrupt; the channel is broken for good. */
    message view(timeout t = forever)
    {
        zipc_msg m;
        detail::check(view_raw(m, t), "zipc_channel_view");
        return message(ep_.get(), m);
    }
    result<message> try_view(timeout t = try_once)
    {
        zipc_msg m;
        if (int rc = view_raw(m, t))
            return make_error_code(rc);
        return message(ep_.get(), m);
    }
    /* The same into a message kept by the caller (released first if it
     * holds one; empty on error): the hot-loop form, nothing is moved. */
    void view(message &into, timeout t = forever) { detail::check(view_into(into, t), "zipc_channel_view"); }
    [[nodiscard]] std::error_code try_view(message &into, timeout t = try_once) { return make_error_code(view_into(into, t)); }
    std::size_t drain(batch &b, timeout t = forever)
    {
        return static_cast<std::size_t>(detail::check(drain_into(b, t), "zipc_channel_drain"));
    }
    result<std::size_t> try_drain(batch &b, timeout t = try_once)
    {
        int rc = drain_into(b, t);
        if (rc < 0)
            return make_error_code(rc);
        return static_cast<std::size_t>(rc);
    }
    received recv(bytes buf, timeout t = forever)
    {
        received r{};
        detail::check(zipc_channel_recv(raw(), buf.data(), buf.size(), &r.size, &r.type, t.ns()), "zipc_channel_recv");
        return r;
    }
    result<received> try_recv(bytes buf, timeout t = try_once) noexcept
    {
        received r{};
        if (int rc = zipc_channel_recv(raw(), buf.data(), buf.size(), &r.size, &r.type, t.ns()))
            return make_error_code(rc);
        return r;
    }
    /* The next message as T; std::nullopt if it is not sizeof(T) bytes
     * (the message is consumed either way: use view() and message::as<T>()
     * to dispatch on type()). */
    template <class T> std::optional<T> recv_pod(timeout t = forever) { return view(t).template as<T>(); }
    /* The same without exceptions; a message of another size: bad_message. */
    template <class T> result<T> try_recv_pod(timeout t = try_once)
    {
        result<message> m = try_view(t);
        if (!m)
            return m.error();
        std::optional<T> v = m->template as<T>();
        if (!v)
            return make_error_code(-EBADMSG);
        return *v;
    }

private:
    static detail::endpoint *adopt_endpoint(zipc_channel *ch)
    {
        if (!ch)
            return nullptr;
        auto *ep = new (std::nothrow) detail::endpoint{ch, {}};
        if (!ep) {
            zipc_channel_close(ch);
            throw std::bad_alloc();
        }
        return ep;
    }
    template <class F> static channel open(const char *what, F &&make)
    {
        zipc_channel *ch = nullptr;
        detail::check(make(&ch), what);
        return channel(ch);
    }
    zipc_channel *raw() const noexcept { return ch_; }
    int send_raw(const_bytes data, std::uint32_t type, timeout t) noexcept
    {
        return zipc_channel_send(raw(), data.data(), data.size(), type, t.ns());
    }
    template <class T> static const_bytes pod_bytes(const T &value) noexcept
    {
        static_assert(std::is_trivially_copyable_v<T>, "zipc: send_pod needs a trivially copyable type");
        return as_bytes(&value, sizeof value);
    }
    /* One C view, with room made first to record it (no failure after it). */
    int view_raw(zipc_msg &m, timeout t)
    {
        if (ZIPC_HPP_UNLIKELY(!ep_))
            return -EINVAL;
        ep_->views.reserve_one();
        return zipc_channel_view(ch_, &m, t.ns());
    }
    int view_into(message &into, timeout t)
    {
        into.release();
        int rc = view_raw(into.m_, t);
        if (ZIPC_HPP_LIKELY(rc == 0))
            into.h_ = detail::view_handle(ep_.get());
        else
            into.m_ = zipc_msg{};
        return rc;
    }
    int drain_into(batch &b, timeout t)
    {
        b.release();
        if (!ep_)
            return -EINVAL;
        ep_->views.reserve_one();
        unsigned max = b.msgs_.size() > UINT_MAX ? UINT_MAX : static_cast<unsigned>(b.msgs_.size());
        int rc = zipc_channel_drain(ep_->ch, b.msgs_.data(), max, t.ns());
        if (rc > 0) {
            b.n_ = static_cast<std::size_t>(rc);
            b.h_ = detail::view_handle(ep_.get());
        }
        return rc;
    }
    std::unique_ptr<detail::endpoint> ep_;
    zipc_channel *ch_ = nullptr; /* ep_->ch, or null: one load on the hot paths */
};

/* Library version ("0.1.0") and the shared-memory ABI version. */
inline const char *version() noexcept { return zipc_version(); }
inline std::uint32_t abi_version() noexcept { return zipc_abi_version(); }

} // namespace zipc

#undef ZIPC_HPP_LIKELY
#undef ZIPC_HPP_UNLIKELY
#undef ZIPC_HPP_COLD

#endif /* ZIPC_HPP */

//! Raw FFI bindings to the zipc C core (`include/zipc.h`: the channel, the
//! topic, the queue, the rpc and the store), hand-written.
//! The constants mirror `include/zipc/common.h` and the other headers; the
//! tests check each against the C compiler's value (and the version against
//! `common.h` and `Cargo.toml`).
//!
//! The C library is compiled from this repository by `build.rs` and linked
//! statically. Every `#[repr(C)]` struct here mirrors a C struct whose
//! offsets are pinned by `_Static_assert`s in the headers; the tests compare
//! the Rust layout with the C compiler's (through [`zipc_sys_layout`]).
//!
//! Everything is `unsafe` and follows the C contracts: functions return `0`
//! (or a count) on success and a negative errno on failure. Use the `zipc`
//! crate for the safe API.
#![no_std]
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int, c_uint};

// ---- zipc/common.h ------------------------------------------------------

/// Library version, major.
pub const ZIPC_VERSION_MAJOR: u32 = 0;
/// Library version, minor.
pub const ZIPC_VERSION_MINOR: u32 = 4;
/// Library version, patch.
pub const ZIPC_VERSION_PATCH: u32 = 0;

/// Timeout: never block (the call returns `-EAGAIN`).
pub const ZIPC_TRY: i64 = 0;
/// Timeout: wait without limit.
pub const ZIPC_FOREVER: i64 = -1;

/// Default handshake timeout (10 s), for `timeout_ns == 0`.
pub const ZIPC_DEFAULT_TIMEOUT_NS: i64 = 10_000_000_000;
/// Default spin before sleeping (50 us), for `spin_ns == 0`.
pub const ZIPC_DEFAULT_SPIN_NS: i64 = 50_000;
/// Default mode of a path listener's socket file, for `socket_mode == 0`.
pub const ZIPC_DEFAULT_SOCKET_MODE: u32 = 0o600;
/// Default largest segment a connector maps (1 GiB), for `max_segment == 0`.
pub const ZIPC_DEFAULT_MAX_SEGMENT: u64 = 1 << 30;
/// Longest name (a string without '/'), in bytes.
pub const ZIPC_NAME_MAX: usize = 63;

/// `enum zipc_role`: listener consumer; connector: what the listener says.
pub const ZIPC_ROLE_DEFAULT: i32 = 0;
/// `enum zipc_role`: consumer.
pub const ZIPC_ROLE_CONSUMER: i32 = 1;
/// `enum zipc_role`: producer.
pub const ZIPC_ROLE_PRODUCER: i32 = 2;

/// Listener: accept a peer of any uid.
pub const ZIPC_OPT_ANY_UID: u32 = 1 << 0;
/// Listener: also accept `peer_uid`.
pub const ZIPC_OPT_PEER_UID: u32 = 1 << 1;
/// Sleep at once instead of spinning first.
pub const ZIPC_OPT_NO_SPIN: u32 = 1 << 2;
/// Every `ZIPC_OPT_*` flag.
pub const ZIPC_OPT_ALL: u32 = ZIPC_OPT_ANY_UID | ZIPC_OPT_PEER_UID | ZIPC_OPT_NO_SPIN;

/// `zipc_channel_commit` flag: stage the message (batch publish).
pub const ZIPC_COMMIT_MORE: c_uint = 1;

/// `struct zipc_options`. All zeroes means all defaults.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct zipc_options {
    /// `enum zipc_role`; only the listener chooses.
    pub role: i32,
    /// `ZIPC_OPT_*` flags.
    pub flags: u32,
    /// Handshake timeout; 0: `ZIPC_DEFAULT_TIMEOUT_NS`; `ZIPC_FOREVER`: none.
    pub timeout_ns: i64,
    /// Busy-wait before sleeping; 0: `ZIPC_DEFAULT_SPIN_NS`.
    pub spin_ns: i64,
    /// A path listener's socket file mode; 0: `ZIPC_DEFAULT_SOCKET_MODE`.
    pub socket_mode: u32,
    /// With `ZIPC_OPT_PEER_UID`.
    pub peer_uid: u32,
    /// Label stored in the segment header; NULL: the name.
    pub label: *const c_char,
    /// Connector: largest segment accepted (`-EFBIG` beyond); 0: `ZIPC_DEFAULT_MAX_SEGMENT`.
    pub max_segment: u64,
}

impl Default for zipc_options {
    fn default() -> Self {
        zipc_options {
            role: 0,
            flags: 0,
            timeout_ns: 0,
            spin_ns: 0,
            socket_mode: 0,
            peer_uid: 0,
            label: core::ptr::null(),
            max_segment: 0,
        }
    }
}

/// Opaque endpoint (`zipc_channel`).
#[repr(C)]
pub struct zipc_channel {
    _private: [u8; 0],
    _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// `struct zipc_msg`: one received message, valid from view until release.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct zipc_msg {
    /// In the ring, 16-byte aligned, read-only.
    pub data: *const core::ffi::c_void,
    /// Payload bytes.
    pub size: u32,
    /// User type id.
    pub type_: u32,
    /// Message number on the channel, from 0.
    pub seq: u64,
    /// Private: the ring position after it.
    pub end_: u64,
}

impl Default for zipc_msg {
    fn default() -> Self {
        zipc_msg { data: core::ptr::null(), size: 0, type_: 0, seq: 0, end_: 0 }
    }
}

/// `struct zipc_channel_stats`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zipc_channel_stats {
    /// Committed (producer) / released (consumer).
    pub messages: u64,
    /// Ring bytes published / released, framing included.
    pub bytes: u64,
    /// Times this side woke the sleeping peer.
    pub wakeups: u64,
    /// Times this side slept in the kernel.
    pub sleeps: u64,
}

extern "C" {
    /// Static text for a (negative or positive) errno. Never NULL.
    pub fn zipc_strerror(err: c_int) -> *const c_char;
    /// The errno's symbolic name (`"EAGAIN"`), for negative or positive codes. Never NULL.
    pub fn zipc_err_name(err: c_int) -> *const c_char;
    /// `"MAJOR.MINOR.PATCH"`.
    pub fn zipc_version() -> *const c_char;
    /// `ZIPC_ABI_MAJOR << 16 | ZIPC_ABI_MINOR`.
    pub fn zipc_abi_version() -> u32;
    /// memcpy of a payload, around memcpy's slow ring offsets (zipc/common.h). No overlap.
    pub fn zipc_copy(dst: *mut core::ffi::c_void, src: *const core::ffi::c_void, n: usize);

    /// Create a channel at `path` and wait for one peer.
    pub fn zipc_channel_listen(
        out: *mut *mut zipc_channel,
        path: *const c_char,
        capacity: usize,
        opts: *const zipc_options,
    ) -> c_int;
    /// Connect to a listener at `path`.
    pub fn zipc_channel_connect(
        out: *mut *mut zipc_channel,
        path: *const c_char,
        opts: *const zipc_options,
    ) -> c_int;
    /// Close the endpoint (NULL accepted).
    pub fn zipc_channel_close(ch: *mut zipc_channel) -> c_int;
    /// Wake the call blocked on `ch` (it returns `-ECANCELED`), or the next
    /// blocking call; any thread, any time while `ch` is open.
    pub fn zipc_channel_interrupt(ch: *mut zipc_channel) -> c_int;
    /// Tell the peer we are done without unmapping.
    pub fn zipc_channel_shutdown(ch: *mut zipc_channel) -> c_int;
    /// `ZIPC_ROLE_PRODUCER` or `ZIPC_ROLE_CONSUMER`.
    pub fn zipc_channel_role(ch: *const zipc_channel) -> c_int;
    /// Ring capacity in bytes.
    pub fn zipc_channel_capacity(ch: *const zipc_channel) -> usize;
    /// Largest message the ring always accepts.
    pub fn zipc_channel_max_message(ch: *const zipc_channel) -> usize;
    /// Peer pid from the handshake (0 if unknown).
    pub fn zipc_channel_peer_pid(ch: *const zipc_channel) -> c_int;
    /// Pollable fd (owned by the channel).
    pub fn zipc_channel_fd(ch: *mut zipc_channel) -> c_int;

    /// Reserve `size` writable bytes.
    pub fn zipc_channel_reserve(
        ch: *mut zipc_channel,
        size: usize,
        buf: *mut *mut core::ffi::c_void,
        timeout_ns: i64,
    ) -> c_int;
    /// Publish the reservation (`flags`: 0 or `ZIPC_COMMIT_MORE`).
    pub fn zipc_channel_commit(ch: *mut zipc_channel, size: usize, type_: u32, flags: c_uint)
        -> c_int;
    /// Drop the reservation.
    pub fn zipc_channel_abort(ch: *mut zipc_channel) -> c_int;
    /// Publish staged messages.
    pub fn zipc_channel_flush(ch: *mut zipc_channel) -> c_int;
    /// Reserve + copy + commit.
    pub fn zipc_channel_send(
        ch: *mut zipc_channel,
        data: *const core::ffi::c_void,
        size: usize,
        type_: u32,
        timeout_ns: i64,
    ) -> c_int;

    /// View the next message in place.
    pub fn zipc_channel_view(ch: *mut zipc_channel, msg: *mut zipc_msg, timeout_ns: i64) -> c_int;
    /// View up to `max` messages; returns the count.
    pub fn zipc_channel_drain(
        ch: *mut zipc_channel,
        msgs: *mut zipc_msg,
        max: c_uint,
        timeout_ns: i64,
    ) -> c_int;
    /// Release every viewed message.
    pub fn zipc_channel_release(ch: *mut zipc_channel) -> c_int;
    /// Release the viewed messages up to and including `last`.
    pub fn zipc_channel_release_upto(ch: *mut zipc_channel, last: *const zipc_msg) -> c_int;
    /// Release one open view, in any order (the ring returns oldest first).
    pub fn zipc_channel_release_view(ch: *mut zipc_channel, msg: *const zipc_msg) -> c_int;
    pub fn zipc_channel_release_views(ch: *mut zipc_channel, msgs: *const zipc_msg, n: c_uint) -> c_int;
    /// Copy the next message into `buf` and release it.
    pub fn zipc_channel_recv(
        ch: *mut zipc_channel,
        buf: *mut core::ffi::c_void,
        cap: usize,
        size: *mut usize,
        type_: *mut u32,
        timeout_ns: i64,
    ) -> c_int;
    /// Counters of this endpoint.
    pub fn zipc_channel_get_stats(ch: *const zipc_channel, st: *mut zipc_channel_stats) -> c_int;
}

// ---- zipc/topic.h -------------------------------------------------------

/// Subscribers a topic admits when `max_subscribers` is 0.
pub const ZIPC_TOPIC_DEFAULT_SUBSCRIBERS: u32 = 64;
/// The largest `max_subscribers`.
pub const ZIPC_TOPIC_MAX_SUBSCRIBERS: u32 = 4096;

/// `enum zipc_sub_policy`: lossless; the publisher waits for this subscriber.
pub const ZIPC_SUB_BLOCK: u32 = 0;
/// `enum zipc_sub_policy`: never holds the publisher back; losses are reported.
pub const ZIPC_SUB_DROP_OLDEST: u32 = 1;
/// `enum zipc_sub_policy`: lossless up to `max_lag` messages behind, then as DROP_OLDEST.
pub const ZIPC_SUB_MAX_LAG: u32 = 2;
/// `enum zipc_sub_flags`: after a loss, skip to the newest message.
pub const ZIPC_SUB_RESUME_NEWEST: u32 = 1 << 0;
/// `zipc_subscriber_latest`: a message of any type.
pub const ZIPC_TYPE_ANY: u32 = 0xFFFF_FFFF;

/// Opaque topic publisher (`zipc_publisher`).
#[repr(C)]
pub struct zipc_publisher {
    _private: [u8; 0],
    _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// Opaque topic subscriber (`zipc_subscriber`).
#[repr(C)]
pub struct zipc_subscriber {
    _private: [u8; 0],
    _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// `struct zipc_subscription`: what a subscriber asks for. All zeroes: BLOCK,
/// from the next message.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zipc_subscription {
    /// `ZIPC_SUB_*` policy.
    pub policy: u32,
    /// `ZIPC_SUB_RESUME_NEWEST` or 0.
    pub flags: u32,
    /// `ZIPC_SUB_MAX_LAG`: messages (>= 1).
    pub max_lag: u64,
    /// Start with the last `history` messages still in the ring (0: the next one).
    pub history: u64,
}

/// `struct zipc_publisher_stats`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zipc_publisher_stats {
    /// Committed.
    pub messages: u64,
    /// Ring bytes published, framing included.
    pub bytes: u64,
    /// Wake-ups sent to sleeping subscribers.
    pub wakeups: u64,
    /// Times the publisher slept waiting for space.
    pub sleeps: u64,
    /// Attached now.
    pub subscribers: u64,
    /// Admitted since create.
    pub joined: u64,
    /// Left cleanly.
    pub departed: u64,
    /// Found dead.
    pub died: u64,
    /// Evicted for an invalid cursor.
    pub evicted: u64,
}

/// `struct zipc_subscriber_stats`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zipc_subscriber_stats {
    /// Released (read).
    pub messages: u64,
    /// Ring bytes released.
    pub bytes: u64,
    /// Lost to overflow, in total.
    pub lost_messages: u64,
    /// Ring bytes lost to overflow, in total.
    pub lost_bytes: u64,
    /// `-EOVERFLOW` events.
    pub overflows: u64,
    /// Messages published and not yet released, now.
    pub lag: u64,
    /// Wake-ups this subscriber sent the publisher.
    pub wakeups: u64,
    /// Times it slept waiting for data.
    pub sleeps: u64,
}

extern "C" {
    /// Create a topic under `name` (returns at once).
    pub fn zipc_topic_create(
        out: *mut *mut zipc_publisher,
        name: *const c_char,
        capacity: usize,
        max_subscribers: u32,
        opts: *const zipc_options,
    ) -> c_int;
    /// Close the publisher (NULL accepted): subscribers drain, then `-EPIPE`.
    pub fn zipc_publisher_close(pub_: *mut zipc_publisher) -> c_int;
    /// Reserve `size` writable bytes (waits only for lossless subscribers).
    pub fn zipc_publisher_reserve(
        pub_: *mut zipc_publisher,
        size: usize,
        buf: *mut *mut core::ffi::c_void,
        timeout_ns: i64,
    ) -> c_int;
    /// Publish the reservation (`flags`: 0 or `ZIPC_COMMIT_MORE`).
    pub fn zipc_publisher_commit(pub_: *mut zipc_publisher, size: usize, type_: u32, flags: c_uint)
        -> c_int;
    /// Drop the reservation.
    pub fn zipc_publisher_abort(pub_: *mut zipc_publisher) -> c_int;
    /// Publish staged messages.
    pub fn zipc_publisher_flush(pub_: *mut zipc_publisher) -> c_int;
    /// Reserve + copy + commit.
    pub fn zipc_publisher_send(
        pub_: *mut zipc_publisher,
        data: *const core::ffi::c_void,
        size: usize,
        type_: u32,
        timeout_ns: i64,
    ) -> c_int;
    /// Wake the call blocked on `pub_` (`-ECANCELED`); any thread.
    pub fn zipc_publisher_interrupt(pub_: *mut zipc_publisher) -> c_int;
    /// Pollable fd: readable when a waiting reserve may find space.
    pub fn zipc_publisher_fd(pub_: *mut zipc_publisher) -> c_int;
    /// Ring capacity in bytes.
    pub fn zipc_publisher_capacity(pub_: *const zipc_publisher) -> usize;
    /// Largest message the ring always accepts.
    pub fn zipc_publisher_max_message(pub_: *const zipc_publisher) -> usize;
    /// Subscribers attached now.
    pub fn zipc_publisher_subscribers(pub_: *mut zipc_publisher) -> c_int;
    /// Counters of the publisher.
    pub fn zipc_publisher_get_stats(pub_: *mut zipc_publisher, st: *mut zipc_publisher_stats) -> c_int;

    /// Attach to the topic `name` (waits up to `opts.timeout_ns` for its publisher).
    pub fn zipc_topic_subscribe(
        out: *mut *mut zipc_subscriber,
        name: *const c_char,
        sub: *const zipc_subscription,
        opts: *const zipc_options,
    ) -> c_int;
    /// Close the subscriber (NULL accepted).
    pub fn zipc_subscriber_close(sub: *mut zipc_subscriber) -> c_int;
    /// View the next message in place.
    pub fn zipc_subscriber_view(sub: *mut zipc_subscriber, msg: *mut zipc_msg, timeout_ns: i64) -> c_int;
    /// View up to `max` messages; returns the count.
    pub fn zipc_subscriber_drain(
        sub: *mut zipc_subscriber,
        msgs: *mut zipc_msg,
        max: c_uint,
        timeout_ns: i64,
    ) -> c_int;
    /// Release every viewed message.
    pub fn zipc_subscriber_release(sub: *mut zipc_subscriber) -> c_int;
    /// Release the viewed messages up to and including `last`.
    pub fn zipc_subscriber_release_upto(sub: *mut zipc_subscriber, last: *const zipc_msg) -> c_int;
    /// Release one open view, in any order (`-ESTALE`: it was overwritten).
    pub fn zipc_subscriber_release_view(sub: *mut zipc_subscriber, msg: *const zipc_msg) -> c_int;
    /// Release a drain's run of views.
    pub fn zipc_subscriber_release_views(
        sub: *mut zipc_subscriber,
        msgs: *const zipc_msg,
        n: c_uint,
    ) -> c_int;
    /// Copy the next message into `buf` and release it.
    pub fn zipc_subscriber_recv(
        sub: *mut zipc_subscriber,
        buf: *mut core::ffi::c_void,
        cap: usize,
        size: *mut usize,
        type_: *mut u32,
        timeout_ns: i64,
    ) -> c_int;
    /// Copy the newest message of `type_` (`ZIPC_TYPE_ANY`: any) without consuming.
    pub fn zipc_subscriber_latest(
        sub: *mut zipc_subscriber,
        type_: u32,
        buf: *mut core::ffi::c_void,
        cap: usize,
        size: *mut usize,
        type_out: *mut u32,
    ) -> c_int;
    /// The loss reported by the last `-EOVERFLOW`: messages and ring bytes.
    pub fn zipc_subscriber_last_loss(
        sub: *const zipc_subscriber,
        messages: *mut u64,
        bytes: *mut u64,
    ) -> c_int;
    /// Wake the call blocked on `sub` (`-ECANCELED`); any thread.
    pub fn zipc_subscriber_interrupt(sub: *mut zipc_subscriber) -> c_int;
    /// Pollable fd: readable when a message may be there or the publisher is gone.
    pub fn zipc_subscriber_fd(sub: *mut zipc_subscriber) -> c_int;
    /// Ring capacity in bytes.
    pub fn zipc_subscriber_capacity(sub: *const zipc_subscriber) -> usize;
    /// Largest message the ring always accepts.
    pub fn zipc_subscriber_max_message(sub: *const zipc_subscriber) -> usize;
    /// The publisher's pid.
    pub fn zipc_subscriber_publisher_pid(sub: *const zipc_subscriber) -> c_int;
    /// Counters of the subscriber.
    pub fn zipc_subscriber_get_stats(sub: *const zipc_subscriber, st: *mut zipc_subscriber_stats) -> c_int;
}

// ---- zipc/queue.h -------------------------------------------------------

/// Producers a queue admits at once (`-ENOSPC` beyond).
pub const ZIPC_QUEUE_MAX_PRODUCERS: u32 = 32;
/// Consumers a queue admits at once (`-ENOSPC` beyond).
pub const ZIPC_QUEUE_MAX_CONSUMERS: u32 = 32;
/// Ring bytes per producer when `lane_capacity` is 0.
pub const ZIPC_QUEUE_DEFAULT_LANE: u64 = 1 << 20;
/// The largest `lane_capacity` (`zipc/abi.h`).
pub const ZIPC_QUEUE_MAX_LANE: u64 = 1 << 30;
/// `enum zipc_queue_flags`: drop what a dying consumer held (not delivered again).
pub const ZIPC_QUEUE_AT_MOST_ONCE: u32 = 1 << 0;

/// Opaque queue endpoint (`zipc_queue`): a producer or a consumer.
#[repr(C)]
pub struct zipc_queue {
    _private: [u8; 0],
    _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// `struct zipc_queue_config`: how a new queue is laid out (ignored when it
/// exists already). All zeroes: 1 MiB lanes, at-least-once.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zipc_queue_config {
    /// Ring bytes per producer (`ZIPC_MIN_CAPACITY..=ZIPC_QUEUE_MAX_LANE`,
    /// rounded up to a power of two); 0: `ZIPC_QUEUE_DEFAULT_LANE`.
    pub lane_capacity: u64,
    /// `ZIPC_QUEUE_AT_MOST_ONCE` or 0.
    pub flags: u32,
    /// 0.
    pub reserved: u32,
}

/// `struct zipc_queue_stats`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zipc_queue_stats {
    /// Producer: committed; consumer: released.
    pub messages: u64,
    /// Ring bytes of those messages, framing included.
    pub bytes: u64,
    /// Consumer: messages it took that another had held (attempt > 1).
    pub redelivered: u64,
    /// Wake-ups this member sent.
    pub wakeups: u64,
    /// Times it slept in the kernel.
    pub sleeps: u64,
    /// Dead members this member's helper cleaned up after.
    pub reclaimed: u64,
}

extern "C" {
    /// Open the queue `name` as `ZIPC_ROLE_PRODUCER` or `ZIPC_ROLE_CONSUMER`
    /// (attach, or create it with `cfg`; NULL: defaults).
    pub fn zipc_queue_open(
        out: *mut *mut zipc_queue,
        name: *const c_char,
        role: c_int,
        cfg: *const zipc_queue_config,
        opts: *const zipc_options,
    ) -> c_int;
    /// Leave (NULL accepted): a producer publishes what it staged; a
    /// consumer releases its open views (their messages count as taken).
    pub fn zipc_queue_close(q: *mut zipc_queue) -> c_int;
    /// Producer: wait until leaving loses nothing (another member holds the
    /// queue, or every message was taken).
    pub fn zipc_queue_linger(q: *mut zipc_queue, timeout_ns: i64) -> c_int;
    /// Wake the call blocked on `q` (`-ECANCELED`); any thread.
    pub fn zipc_queue_interrupt(q: *mut zipc_queue) -> c_int;
    /// Pollable fd: readable when a message (consumer) or space (producer) may be there.
    pub fn zipc_queue_fd(q: *mut zipc_queue) -> c_int;
    /// `ZIPC_ROLE_PRODUCER` or `ZIPC_ROLE_CONSUMER`.
    pub fn zipc_queue_role(q: *const zipc_queue) -> c_int;
    /// A producer's lane, a consumer's number.
    pub fn zipc_queue_slot(q: *const zipc_queue) -> c_int;
    /// Ring bytes per lane.
    pub fn zipc_queue_capacity(q: *const zipc_queue) -> usize;
    /// Largest message a lane accepts.
    pub fn zipc_queue_max_message(q: *const zipc_queue) -> usize;
    /// The creator's `ZIPC_QUEUE_*` flags.
    pub fn zipc_queue_flags(q: *const zipc_queue) -> c_uint;
    /// Producers attached now.
    pub fn zipc_queue_producers(q: *const zipc_queue) -> c_int;
    /// Consumers attached now.
    pub fn zipc_queue_consumers(q: *const zipc_queue) -> c_int;

    /// Reserve `size` writable bytes in this producer's lane.
    pub fn zipc_queue_reserve(
        q: *mut zipc_queue,
        size: usize,
        buf: *mut *mut core::ffi::c_void,
        timeout_ns: i64,
    ) -> c_int;
    /// Publish the reservation (`flags`: 0 or `ZIPC_COMMIT_MORE`).
    pub fn zipc_queue_commit(q: *mut zipc_queue, size: usize, type_: u32, flags: c_uint) -> c_int;
    /// Drop the reservation.
    pub fn zipc_queue_abort(q: *mut zipc_queue) -> c_int;
    /// Publish staged messages.
    pub fn zipc_queue_flush(q: *mut zipc_queue) -> c_int;
    /// Reserve + copy + commit.
    pub fn zipc_queue_send(
        q: *mut zipc_queue,
        data: *const core::ffi::c_void,
        size: usize,
        type_: u32,
        timeout_ns: i64,
    ) -> c_int;

    /// Take the next message of some lane and view it in place (`-EPIPE`: end of stream).
    pub fn zipc_queue_view(q: *mut zipc_queue, msg: *mut zipc_msg, timeout_ns: i64) -> c_int;
    /// View up to `max` messages; returns the count.
    pub fn zipc_queue_drain(q: *mut zipc_queue, msgs: *mut zipc_msg, max: c_uint, timeout_ns: i64) -> c_int;
    /// Give one open view back, in any order.
    pub fn zipc_queue_release_view(q: *mut zipc_queue, msg: *const zipc_msg) -> c_int;
    /// Give every open view back.
    pub fn zipc_queue_release(q: *mut zipc_queue) -> c_int;
    /// Copy the next message into `buf` and release it (`-EMSGSIZE` keeps it taken and viewed).
    pub fn zipc_queue_recv(
        q: *mut zipc_queue,
        buf: *mut core::ffi::c_void,
        cap: usize,
        size: *mut usize,
        type_: *mut u32,
        timeout_ns: i64,
    ) -> c_int;
    /// Counters of this member.
    pub fn zipc_queue_get_stats(q: *const zipc_queue, st: *mut zipc_queue_stats) -> c_int;

    /// `zipc_queue_msg_producer` (a `static inline` in C, exported by the
    /// shim): the producer lane that wrote a message viewed from a queue.
    pub fn zipc_sys_queue_msg_producer(msg: *const zipc_msg) -> u32;
    /// `zipc_queue_msg_attempt` (exported by the shim): its delivery
    /// attempt, 1 then +1 per redelivery.
    pub fn zipc_sys_queue_msg_attempt(msg: *const zipc_msg) -> u32;
}

// ---- zipc/rpc.h ---------------------------------------------------------

/// `zipc_rpc_wait`'s id for "the reply of any call".
pub const ZIPC_RPC_ANY: u64 = u64::MAX;
/// The reply room the bindings reserve unless told otherwise.
pub const ZIPC_RPC_DEFAULT_REPLY: u32 = 4096;
/// `enum zipc_rpc_flags`: the call may run again on another worker if its worker dies.
pub const ZIPC_RPC_IDEMPOTENT: u32 = 1 << 0;
/// `enum zipc_rpc_reply_flags`: a part of a streamed reply (the call goes on after its release).
pub const ZIPC_RPC_REPLY_MORE: u32 = 1 << 0;

/// Opaque rpc client (`zipc_rpc_client`).
#[repr(C)]
pub struct zipc_rpc_client {
    _private: [u8; 0],
    _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// Opaque rpc worker (`zipc_rpc_worker`).
#[repr(C)]
pub struct zipc_rpc_worker {
    _private: [u8; 0],
    _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// `struct zipc_rpc_config`: how a new service is laid out (ignored when it
/// exists already). All zeroes: the defaults.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zipc_rpc_config {
    /// Ring bytes per client; 0: `ZIPC_QUEUE_DEFAULT_LANE`.
    pub lane_capacity: u64,
    /// 0.
    pub reserved: [u32; 2],
}

/// `struct zipc_rpc_reply`: a call's reply, valid until `zipc_rpc_reply_release`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct zipc_rpc_reply {
    /// The call id.
    pub id: u64,
    /// In the frame, read-only, 16-byte aligned (NULL when the service made the status up).
    pub data: *const core::ffi::c_void,
    /// Reply bytes.
    pub size: u32,
    /// The worker's reply type.
    pub type_: u32,
    /// 0 or a negative errno.
    pub status: i32,
    /// The call's method.
    pub method: u32,
    /// `enum zipc_rpc_reply_flags` (`ZIPC_RPC_REPLY_MORE`: a part of a streamed reply).
    pub flags: u32,
    /// A part's number (1, 2, ...), 0 for the final reply.
    pub part: u32,
}

impl Default for zipc_rpc_reply {
    fn default() -> Self {
        zipc_rpc_reply { id: 0, data: core::ptr::null(), size: 0, type_: 0, status: 0, method: 0, flags: 0, part: 0 }
    }
}

/// `struct zipc_rpc_request`: a request a worker holds, until it responds.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct zipc_rpc_request {
    /// The call id.
    pub id: u64,
    /// The request, read-only.
    pub data: *const core::ffi::c_void,
    /// Request bytes.
    pub size: u32,
    /// The method.
    pub method: u32,
    /// `ZIPC_RPC_*` flags.
    pub flags: u32,
    /// 1, or 2 for an idempotent call run again.
    pub attempt: u32,
    /// `CLOCK_MONOTONIC` ns; `i64::MAX`: none.
    pub deadline_ns: i64,
    /// Where the reply goes.
    pub reply: *mut core::ffi::c_void,
    /// Reply room in bytes.
    pub reply_capacity: u32,
    /// Private.
    pub lane_: u32,
}

impl Default for zipc_rpc_request {
    fn default() -> Self {
        zipc_rpc_request {
            id: 0,
            data: core::ptr::null(),
            size: 0,
            method: 0,
            flags: 0,
            attempt: 0,
            deadline_ns: 0,
            reply: core::ptr::null_mut(),
            reply_capacity: 0,
            lane_: 0,
        }
    }
}

extern "C" {
    /// Attach to the service `name` as a worker (create it with `cfg` if nobody holds it).
    pub fn zipc_rpc_serve(
        out: *mut *mut zipc_rpc_worker,
        name: *const c_char,
        cfg: *const zipc_rpc_config,
        opts: *const zipc_options,
    ) -> c_int;
    /// Attach to the service `name` as a client (create it with `cfg` if nobody holds it).
    pub fn zipc_rpc_connect(
        out: *mut *mut zipc_rpc_client,
        name: *const c_char,
        cfg: *const zipc_rpc_config,
        opts: *const zipc_options,
    ) -> c_int;

    /// Room for a request of `size` bytes (at `*buf`) and a reply of up to `reply_capacity`.
    pub fn zipc_rpc_reserve(
        c: *mut zipc_rpc_client,
        size: usize,
        reply_capacity: usize,
        buf: *mut *mut core::ffi::c_void,
        timeout_ns: i64,
    ) -> c_int;
    /// Send the reserved request as `method`, due within `timeout_ns`; `*id`: its call id.
    pub fn zipc_rpc_commit(
        c: *mut zipc_rpc_client,
        size: usize,
        method: u32,
        flags: c_uint,
        timeout_ns: i64,
        id: *mut u64,
    ) -> c_int;
    /// Drop the open reservation (a failed commit leaves it open); `-EINVAL` if there is none.
    pub fn zipc_rpc_abort(c: *mut zipc_rpc_client) -> c_int;
    /// Reserve + copy + commit.
    pub fn zipc_rpc_call(
        c: *mut zipc_rpc_client,
        req: *const core::ffi::c_void,
        size: usize,
        method: u32,
        flags: c_uint,
        reply_capacity: usize,
        timeout_ns: i64,
        id: *mut u64,
    ) -> c_int;
    /// The reply of call `id` (or `ZIPC_RPC_ANY`), waiting up to `timeout_ns`.
    pub fn zipc_rpc_wait(c: *mut zipc_rpc_client, id: u64, reply: *mut zipc_rpc_reply, timeout_ns: i64) -> c_int;
    /// Give a reply's frame back.
    pub fn zipc_rpc_reply_release(c: *mut zipc_rpc_client, reply: *const zipc_rpc_reply) -> c_int;
    /// The call will not be answered.
    pub fn zipc_rpc_cancel(c: *mut zipc_rpc_client, id: u64) -> c_int;
    /// Calls issued and not yet released.
    pub fn zipc_rpc_in_flight(c: *const zipc_rpc_client) -> c_uint;
    /// Pollable fd.
    pub fn zipc_rpc_client_fd(c: *mut zipc_rpc_client) -> c_int;
    /// Wake the call blocked on `c` (`-ECANCELED`); any thread.
    pub fn zipc_rpc_client_interrupt(c: *mut zipc_rpc_client) -> c_int;
    /// Leave (NULL accepted); calls in flight are withdrawn.
    pub fn zipc_rpc_client_close(c: *mut zipc_rpc_client) -> c_int;

    /// Take the next request, waiting up to `timeout_ns`.
    pub fn zipc_rpc_next(w: *mut zipc_rpc_worker, req: *mut zipc_rpc_request, timeout_ns: i64) -> c_int;
    /// The reply (written at `req.reply`): `size` bytes of `type_`, with `status`.
    pub fn zipc_rpc_respond(
        w: *mut zipc_rpc_worker,
        req: *const zipc_rpc_request,
        size: usize,
        type_: u32,
        status: i32,
    ) -> c_int;
    /// One part of a streamed reply (written at `req.reply`): `size` bytes of `type_`;
    /// returns once the caller released it, waiting up to `timeout_ns`.
    pub fn zipc_rpc_respond_part(
        w: *mut zipc_rpc_worker,
        req: *const zipc_rpc_request,
        size: usize,
        type_: u32,
        timeout_ns: i64,
    ) -> c_int;
    /// Wait up to `timeout_ns` until the last part sent was released (at once if none is out).
    pub fn zipc_rpc_part_wait(w: *mut zipc_rpc_worker, req: *const zipc_rpc_request, timeout_ns: i64) -> c_int;
    /// 1 if the caller cancelled the call or its deadline passed.
    pub fn zipc_rpc_cancelled(w: *mut zipc_rpc_worker, req: *const zipc_rpc_request) -> c_int;
    /// Pollable fd.
    pub fn zipc_rpc_worker_fd(w: *mut zipc_rpc_worker) -> c_int;
    /// Wake the call blocked on `w` (`-ECANCELED`); any thread.
    pub fn zipc_rpc_worker_interrupt(w: *mut zipc_rpc_worker) -> c_int;
    /// Leave (NULL accepted); requests it holds go to another worker as if it died.
    pub fn zipc_rpc_worker_close(w: *mut zipc_rpc_worker) -> c_int;
}

// ---- zipc/store.h -------------------------------------------------------

/// Most dimensions of a store's tensor.
pub const ZIPC_STORE_MAX_NDIM: usize = 8;
/// `zipc_store_verify`'s index for "every tensor".
pub const ZIPC_STORE_ALL: usize = usize::MAX;

/// `enum zipc_store_dtype`: the dtypes of safetensors (the table's `u32`).
pub const ZIPC_STORE_BOOL: u32 = 0;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_U8: u32 = 1;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_I8: u32 = 2;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_U16: u32 = 3;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_I16: u32 = 4;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_U32: u32 = 5;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_I32: u32 = 6;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_U64: u32 = 7;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_I64: u32 = 8;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_F16: u32 = 9;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_BF16: u32 = 10;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_F32: u32 = 11;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_F64: u32 = 12;
/// `enum zipc_store_dtype`: two f32.
pub const ZIPC_STORE_C64: u32 = 13;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_F8_E4M3: u32 = 14;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_F8_E5M2: u32 = 15;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_F8_E4M3FNUZ: u32 = 16;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_F8_E5M2FNUZ: u32 = 17;
/// `enum zipc_store_dtype`.
pub const ZIPC_STORE_F8_E8M0: u32 = 18;
/// `enum zipc_store_dtype`: 6 bits an element, packed.
pub const ZIPC_STORE_F6_E2M3: u32 = 19;
/// `enum zipc_store_dtype`: 6 bits an element, packed.
pub const ZIPC_STORE_F6_E3M2: u32 = 20;
/// `enum zipc_store_dtype`: 4 bits an element, packed.
pub const ZIPC_STORE_F4: u32 = 21;
/// `enum zipc_store_dtype`: how many there are.
pub const ZIPC_STORE_NDTYPES: u32 = 22;

/// `enum zipc_store_flags`: open: read-fault every page now.
pub const ZIPC_STORE_PREFAULT: u32 = 1 << 0;
/// `enum zipc_store_flags`: open: verify every checksum before returning.
pub const ZIPC_STORE_VERIFY: u32 = 1 << 1;
/// Publish: 2 MiB pages where the kernel has them (never an error).
pub const ZIPC_STORE_HUGE_PAGES: u32 = 1 << 2;

/// Opaque store handle (`zipc_store`).
#[repr(C)]
pub struct zipc_store {
    _private: [u8; 0],
    _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// `struct zipc_store_tensor`: a tensor to publish, C-contiguous, exactly
/// `size` bytes (elements * bits / 8).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct zipc_store_tensor {
    /// NUL-terminated UTF-8, unique in the store.
    pub name: *const c_char,
    /// `enum zipc_store_dtype`.
    pub dtype: u32,
    /// 0 ..= `ZIPC_STORE_MAX_NDIM`.
    pub ndim: u32,
    /// The first `ndim` are the dimensions.
    pub shape: [i64; ZIPC_STORE_MAX_NDIM],
    /// May be NULL when `size` is 0.
    pub data: *const core::ffi::c_void,
    /// Bytes.
    pub size: u64,
}

/// `struct zipc_store_kv`: a metadata pair.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct zipc_store_kv {
    /// NUL-terminated UTF-8.
    pub key: *const c_char,
    /// UTF-8, `value_len` bytes.
    pub value: *const c_char,
    /// Bytes of `value`.
    pub value_len: usize,
}

impl Default for zipc_store_kv {
    fn default() -> Self {
        zipc_store_kv { key: core::ptr::null(), value: core::ptr::null(), value_len: 0 }
    }
}

/// `struct zipc_store_options`. All zeroes (or NULL) means all defaults.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct zipc_store_options {
    /// timeout_ns, peer uid, label, max_segment.
    pub options: zipc_options,
    /// publish: 0 (64) or a power of two from 64 to 2 MiB.
    pub align: u64,
    /// `ZIPC_STORE_PREFAULT`, `ZIPC_STORE_VERIFY`, `ZIPC_STORE_HUGE_PAGES`.
    pub flags: u32,
    /// 0.
    pub reserved: u32,
    /// publish: pairs stored with the tensors.
    pub metadata: *const zipc_store_kv,
    /// Pairs at `metadata`.
    pub nmeta: usize,
    /// publish_safetensors: if not NULL, an `-EBADMSG`'s reason (NUL-terminated).
    pub error: *mut c_char,
    /// Bytes at `error`.
    pub error_len: usize,
}

impl Default for zipc_store_options {
    fn default() -> Self {
        zipc_store_options {
            options: zipc_options::default(),
            align: 0,
            flags: 0,
            reserved: 0,
            metadata: core::ptr::null(),
            nmeta: 0,
            error: core::ptr::null_mut(),
            error_len: 0,
        }
    }
}

/// `struct zipc_store_info`: what a handle shows of one tensor (pointers
/// into the read-only mapping, valid until close).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct zipc_store_info {
    /// NUL-terminated.
    pub name: *const c_char,
    /// Bytes of `name`.
    pub name_len: usize,
    /// `enum zipc_store_dtype`.
    pub dtype: u32,
    /// Per element: 4, 6, 8, 16, 32 or 64.
    pub bits: u32,
    /// Dimensions.
    pub ndim: u32,
    /// In name order.
    pub index: u32,
    /// The first `ndim` are the dimensions.
    pub shape: [i64; ZIPC_STORE_MAX_NDIM],
    /// In elements.
    pub strides: [i64; ZIPC_STORE_MAX_NDIM],
    /// Aligned as published (>= 64 bytes).
    pub data: *const core::ffi::c_void,
    /// Bytes.
    pub size: u64,
    /// The XXH3-64 recorded at publish.
    pub xxh3: u64,
}

impl Default for zipc_store_info {
    fn default() -> Self {
        zipc_store_info {
            name: core::ptr::null(),
            name_len: 0,
            dtype: 0,
            bits: 0,
            ndim: 0,
            index: 0,
            shape: [0; ZIPC_STORE_MAX_NDIM],
            strides: [0; ZIPC_STORE_MAX_NDIM],
            data: core::ptr::null(),
            size: 0,
            xxh3: 0,
        }
    }
}

extern "C" {
    /// Publish `tensors[0..n)` (and `opts.metadata`) as the newest version of `name`.
    pub fn zipc_store_publish(
        out: *mut *mut zipc_store,
        name: *const c_char,
        tensors: *const zipc_store_tensor,
        n: usize,
        opts: *const zipc_store_options,
    ) -> c_int;
    /// The same from a safetensors file (every rule checked: `-EBADMSG`, reason in `opts.error`).
    pub fn zipc_store_publish_safetensors(
        out: *mut *mut zipc_store,
        name: *const c_char,
        path: *const c_char,
        opts: *const zipc_store_options,
    ) -> c_int;
    /// Open the newest version of `name` served by a holder.
    pub fn zipc_store_open(out: *mut *mut zipc_store, name: *const c_char, opts: *const zipc_store_options) -> c_int;
    /// Leave (NULL accepted): unmap, stop serving.
    pub fn zipc_store_close(s: *mut zipc_store) -> c_int;
    /// Tensors, or `-EINVAL`.
    pub fn zipc_store_count(s: *const zipc_store) -> c_int;
    /// Tensor `i` in name order (`-ENOENT` past the end).
    pub fn zipc_store_tensor_at(s: *const zipc_store, i: usize, info: *mut zipc_store_info) -> c_int;
    /// Tensor `name` (`-ENOENT`).
    pub fn zipc_store_find(s: *const zipc_store, name: *const c_char, info: *mut zipc_store_info) -> c_int;
    /// Recompute tensor `i`'s XXH3 (or every one: `ZIPC_STORE_ALL`): 0, `-EBADMSG`, `-ENOENT`.
    pub fn zipc_store_verify(s: *const zipc_store, i: usize) -> c_int;
    /// Metadata pairs, or `-EINVAL`.
    pub fn zipc_store_metadata_count(s: *const zipc_store) -> c_int;
    /// Pair `i` in key order.
    pub fn zipc_store_metadata_at(s: *const zipc_store, i: usize, kv: *mut zipc_store_kv) -> c_int;
    /// The pair of `key` (`-ENOENT`).
    pub fn zipc_store_metadata(s: *const zipc_store, key: *const c_char, kv: *mut zipc_store_kv) -> c_int;
    /// The handle's version.
    pub fn zipc_store_version(s: *const zipc_store) -> u64;
    /// The newest version published under the handle's name.
    pub fn zipc_store_latest(s: *const zipc_store) -> u64;
    pub fn zipc_store_page_size(s: *const zipc_store) -> usize;
    /// The segment mapped: base, and its bytes in `*size`.
    pub fn zipc_store_base(s: *const zipc_store, size: *mut usize) -> *const core::ffi::c_void;
    /// Bits per element of a dtype, or 0 for an unknown one.
    pub fn zipc_store_dtype_bits(dtype: u32) -> c_uint;
    /// A dtype's safetensors name (`"F32"`).
    pub fn zipc_store_dtype_name(dtype: u32) -> *const c_char;
}

// ---- zipc/abi.h ---------------------------------------------------------

/// Peers must agree on the major version exactly.
pub const ZIPC_ABI_MAJOR: u16 = 1;
/// Any minor interoperates.
pub const ZIPC_ABI_MINOR: u16 = 5;
/// `"ZIPC_SEG"`.
pub const ZIPC_SEGMENT_MAGIC: u64 = 0x4745_535f_4350_495a;
/// Cache line size the layout assumes.
pub const ZIPC_CACHE_LINE: usize = 64;
/// Smallest ring capacity.
pub const ZIPC_MIN_CAPACITY: usize = 128;
/// Largest ring capacity.
pub const ZIPC_MAX_CAPACITY: u64 = 1 << 32;
/// Frame header bytes.
pub const ZIPC_FRAME_HEADER: usize = 16;
/// Frame alignment in the ring.
pub const ZIPC_FRAME_ALIGN: usize = 64;

/// `struct zipc_segment_header`, offset 0 of every segment.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct zipc_segment_header {
    pub magic: u64,
    pub abi_major: u16,
    pub abi_minor: u16,
    pub kind: u32,
    pub segment_size: u64,
    pub header_size: u32,
    pub flags: u32,
    pub body_offset: u64,
    pub body_size: u64,
    pub creator_pid: u32,
    pub creator_uid: u32,
    pub created_ns: u64,
    pub name: [u8; 64],
}

/// `struct zipc_frame`: the 16-byte header of every message in the ring.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct zipc_frame {
    pub size: u32,
    pub type_: u32,
    pub mark: u64,
}

// ---- zipc/types.h -------------------------------------------------------

/// First type id reserved for zipc.
pub const ZIPC_TYPE_RESERVED_MIN: u32 = 0xFFFF_0000;
/// Raw bytes.
pub const ZIPC_TYPE_BYTES: u32 = 0xFFFF_0001;
/// UTF-8 text, no terminator.
pub const ZIPC_TYPE_STR: u32 = 0xFFFF_0002;
/// One UTF-8 JSON value.
pub const ZIPC_TYPE_JSON: u32 = 0xFFFF_0003;
/// Tensor header + data.
pub const ZIPC_TYPE_TENSOR: u32 = 0xFFFF_0004;
/// List header + entries + elements.
pub const ZIPC_TYPE_LIST: u32 = 0xFFFF_0005;
/// List element offsets are multiples of this.
pub const ZIPC_LIST_ALIGN: usize = 64;

/// `struct zipc_list_header`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct zipc_list_header {
    pub count: u32,
    pub reserved: u32,
}

/// `struct zipc_list_entry`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct zipc_list_entry {
    pub type_: u32,
    pub reserved: u32,
    pub offset: u64,
    pub size: u64,
}

// ---- zipc/tensor.h ------------------------------------------------------

/// `"ZTNS"`.
pub const ZIPC_TENSOR_MAGIC: u32 = 0x534e_545a;
/// Tensor header version.
pub const ZIPC_TENSOR_VERSION: u16 = 1;
/// Maximum number of dimensions.
pub const ZIPC_TENSOR_MAX_NDIM: usize = 8;
/// Where zipc writers put the data (64-byte aligned in the ring).
pub const ZIPC_TENSOR_DATA_OFFSET: usize = 176;

/// DLPack type code: signed integer.
pub const ZIPC_DTYPE_INT: u8 = 0;
/// DLPack type code: unsigned integer.
pub const ZIPC_DTYPE_UINT: u8 = 1;
/// DLPack type code: IEEE float.
pub const ZIPC_DTYPE_FLOAT: u8 = 2;
/// DLPack type code: bfloat.
pub const ZIPC_DTYPE_BFLOAT: u8 = 4;
/// DLPack type code: complex.
pub const ZIPC_DTYPE_COMPLEX: u8 = 5;
/// DLPack type code: bool.
pub const ZIPC_DTYPE_BOOL: u8 = 6;

/// `struct zipc_tensor_header` (176 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zipc_tensor_header {
    pub magic: u32,
    pub version: u16,
    pub ndim: u16,
    pub dtype_code: u8,
    pub dtype_bits: u8,
    pub dtype_lanes: u16,
    pub flags: u32,
    pub data_offset: u64,
    pub nbytes: u64,
    pub shape: [i64; ZIPC_TENSOR_MAX_NDIM],
    pub strides: [i64; ZIPC_TENSOR_MAX_NDIM],
    pub reserved: [u8; 16],
}

extern "C" {
    /// `zipc_tensor_validate` (a `static inline` in C, exported by the shim).
    pub fn zipc_sys_tensor_validate(h: *const zipc_tensor_header, payload_size: u64) -> c_int;
    /// `zipc_tensor_init` (exported by the shim).
    pub fn zipc_sys_tensor_init(
        h: *mut zipc_tensor_header,
        code: u8,
        bits: u8,
        lanes: u16,
        ndim: c_uint,
        shape: *const i64,
    ) -> c_int;
    /// `zipc_tensor_itemsize` (exported by the shim).
    pub fn zipc_sys_tensor_itemsize(bits: u8, lanes: u16) -> u64;
    /// The C compiler's `sizeof(struct s)` for `"s"` or `offsetof(struct s, f)`
    /// for `"s.f"` (NUL-terminated), `usize::MAX` if unknown. For layout tests.
    pub fn zipc_sys_layout(name: *const c_char) -> usize;
    /// The C value of the macro `name` (NUL-terminated) among those this
    /// crate mirrors, in `*value`; returns 0, or -1 if unknown. For tests.
    pub fn zipc_sys_constant(name: *const c_char, value: *mut i64) -> c_int;
    /// The `i`-th code (positive errno) of `ZIPC_ERRNO_MAP`, or 0 past its
    /// end. For the tests of the bindings' error tables.
    pub fn zipc_sys_errno_map(i: usize) -> c_int;
}

#[cfg(test)]
mod tests;

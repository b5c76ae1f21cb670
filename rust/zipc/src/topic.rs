//! Topics: one [`Publisher`], any number of [`Subscriber`]s, attached by
//! name (`include/zipc/topic.h`). The publisher writes each message once
//! into one ring; every subscriber reads it in place through a cursor of its
//! own, with an overflow [`Policy`] of its own ([`Subscription`]).
//!
//! The zero-copy objects follow the channel's design: a [`Reservation`]
//! borrows the publisher mutably (commit consumes it, drop aborts it); a
//! [`View`] or a [`Batch`] borrows the subscriber mutably (one at a time;
//! drop releases). Two topic-only outcomes:
//!
//! - [`Error::Overflow`]: a `DropOldest` (or `MaxLag`) subscriber was lapped;
//!   the call that notices returns it once, with the exact loss
//!   (`messages`, `bytes`), and the next call resumes at the oldest message
//!   still in the ring (or the newest, with `resume_newest`);
//! - [`Error::Stale`]: a `DropOldest` view is not pinned, so the publisher may
//!   overwrite it while it is open; [`View::release`] (and
//!   [`Batch::release`]) then say so: discard what was computed from it.
//!   `Block` views are pinned and never stale. [`Subscriber::recv_into`]
//!   copies and checks, so it never returns torn bytes.
//!
//! When the publisher closes or dies, subscribers receive every committed
//! message, then [`Error::PeerGone`].
//!
//! ```no_run
//! use std::time::Duration;
//! use zipc::{Options, Policy, Publisher, Subscriber, Subscription};
//!
//! # fn main() -> zipc::Result<()> {
//! let mut publisher = Publisher::create("ticks", 1 << 20, 0, Options::new())?;
//! // Usually other processes:
//! let sub = Subscription { policy: Policy::DropOldest, history: 16, ..Subscription::default() };
//! let mut sub = Subscriber::subscribe("ticks", sub, Options::new())?;
//! publisher.send(b"hello", 7, None)?;
//! match sub.view(Some(Duration::from_secs(1))) {
//!     Ok(v) => assert_eq!(v.data(), b"hello"),
//!     Err(zipc::Error::Overflow { messages, .. }) => println!("lost {messages}"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
use crate::channel::{Message, Msg};
use crate::endpoint::{self, c_string, writer_calls, Handle};
use crate::error::{check, Error, Result};
use crate::options::{timeout_ns, Options};
use crate::pod::{self, Pod};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;
use zipc_sys as sys;

pub use crate::endpoint::Interrupter;

// ------------------------------------------------------------------------
// Subscription
// ------------------------------------------------------------------------

/// What a subscriber does when the publisher gets a whole ring ahead of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Lossless: the publisher waits (its timeout) for this subscriber.
    /// Its views pin their messages.
    #[default]
    Block,
    /// Never holds the publisher back; a loss is reported once as
    /// [`Error::Overflow`]. Its views are not pinned ([`Error::Stale`]).
    DropOldest,
    /// Lossless while fewer than `n` (>= 1) messages behind the publisher,
    /// then treated as `DropOldest`, the loss reported the same way.
    MaxLag(u64),
}

/// What a subscriber asks for (`struct zipc_subscription`).
/// `Subscription::default()`: [`Policy::Block`], from the next message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Subscription {
    /// The overflow policy.
    pub policy: Policy,
    /// After a loss, skip to the newest message instead of the oldest still
    /// in the ring (`ZIPC_SUB_RESUME_NEWEST`).
    pub resume_newest: bool,
    /// Start with the last `history` messages still in the ring (0: with the
    /// next one published). If fewer remain, the first call returns
    /// [`Error::Overflow`] with the gap as the loss.
    pub history: u64,
}

impl Subscription {
    /// A subscription with this policy, from the next message.
    pub fn new(policy: Policy) -> Subscription {
        Subscription { policy, ..Subscription::default() }
    }

    fn to_c(self) -> sys::zipc_subscription {
        let (policy, max_lag) = match self.policy {
            Policy::Block => (sys::ZIPC_SUB_BLOCK, 0),
            Policy::DropOldest => (sys::ZIPC_SUB_DROP_OLDEST, 0),
            Policy::MaxLag(n) => (sys::ZIPC_SUB_MAX_LAG, n),
        };
        let flags = if self.resume_newest { sys::ZIPC_SUB_RESUME_NEWEST } else { 0 };
        sys::zipc_subscription { policy, flags, max_lag, history: self.history }
    }
}

/// Counters of a publisher (`struct zipc_publisher_stats`).
pub type PublisherStats = sys::zipc_publisher_stats;
/// Counters of a subscriber (`struct zipc_subscriber_stats`).
pub type SubscriberStats = sys::zipc_subscriber_stats;

// ------------------------------------------------------------------------
// Publisher
// ------------------------------------------------------------------------

/// The one writer of a topic. One thread at a time (`Send`, not `Sync`).
///
/// Every call that can wait takes a timeout (`None`: forever); the `try_`
/// variants never block ([`Error::WouldBlock`]). It waits only for lossless
/// subscribers ([`Policy::Block`], [`Policy::MaxLag`] below its bound);
/// without any, it overwrites the oldest messages and never waits.
/// Dropping it closes the topic: subscribers drain, then see
/// [`Error::PeerGone`]; the name is free at once.
#[derive(Debug)]
pub struct Publisher {
    h: Handle<sys::zipc_publisher>,
}

impl Publisher {
    /// Create the topic `name` (a name, or a socket path if it holds a '/')
    /// with a ring of `capacity` bytes (rounded up to a power of two) and
    /// room for `max_subscribers` at once (0: 64; at most 4096). Returns at
    /// once. [`Error::AddrInUse`] while another publisher holds the name.
    pub fn create(name: impl AsRef<Path>, capacity: usize, max_subscribers: u32, opts: Options) -> Result<Publisher> {
        let n = c_string(name.as_ref())?;
        let o = opts.to_c();
        let mut out = std::ptr::null_mut();
        // SAFETY: valid pointers for the call; `o.label` borrows `opts`.
        check(unsafe { sys::zipc_topic_create(&mut out, n.as_ptr(), capacity, max_subscribers, &o) })?;
        Ok(Publisher { h: Handle::new(out) })
    }

    writer_calls!("for lossless subscribers");

    /// Subscribers attached now (live, not evicted).
    pub fn subscribers(&self) -> usize {
        // SAFETY: a live endpoint.
        let n = unsafe { sys::zipc_publisher_subscribers(self.h.ptr()) };
        usize::try_from(n).unwrap_or(0)
    }

    /// The ring capacity in bytes.
    pub fn capacity(&self) -> usize {
        // SAFETY: a live endpoint.
        unsafe { sys::zipc_publisher_capacity(self.h.ptr()) }
    }

    /// The largest message the ring always accepts.
    pub fn max_message(&self) -> usize {
        // SAFETY: a live endpoint.
        unsafe { sys::zipc_publisher_max_message(self.h.ptr()) }
    }

    /// The publisher's counters.
    pub fn stats(&self) -> PublisherStats {
        let mut st = PublisherStats::default();
        // SAFETY: a live endpoint, a valid out pointer.
        unsafe { sys::zipc_publisher_get_stats(self.h.ptr(), &mut st) };
        st
    }

    /// A handle that wakes this publisher's blocked call from another thread.
    pub fn interrupter(&self) -> Interrupter {
        self.h.interrupter()
    }

    /// The C endpoint, for calls through `zipc-sys`. It stays owned by
    /// `self`: do not close it.
    pub fn as_ptr(&self) -> *mut sys::zipc_publisher {
        self.h.ptr()
    }
}

/// Readable when a waiting reserve may find space. Owned by the publisher.
impl AsRawFd for Publisher {
    fn as_raw_fd(&self) -> RawFd {
        // SAFETY: a live endpoint; !Sync, so no concurrent call.
        unsafe { sys::zipc_publisher_fd(self.h.ptr()) }
    }
}

/// Writable bytes reserved in the topic's ring (`&mut [u8]` through
/// `Deref`), from [`Publisher::reserve`]: `commit` publishes them, dropping
/// aborts.
pub type Reservation<'a> = endpoint::Reservation<'a, sys::zipc_publisher>;

/// A reserved tensor message whose header is written, from
/// [`Publisher::reserve_tensor`]: fill `data_mut()`, then commit.
pub type TensorReservation<'a, T> = endpoint::TensorReservation<'a, T, sys::zipc_publisher>;

// ------------------------------------------------------------------------
// Subscriber
// ------------------------------------------------------------------------

/// One reader of a topic, with its own cursor and [`Policy`]. One thread at
/// a time (`Send`, not `Sync`). The ring is mapped read-only.
///
/// Calls that read fail with [`Error::Overflow`] once per loss (the exact
/// count inside; [`last_loss`](Self::last_loss) gives it again),
/// [`Error::PeerGone`] after the publisher is gone and everything it
/// committed was read, [`Error::Corrupted`] when evicted (an invalid cursor)
/// or the ring is corrupt.
#[derive(Debug)]
pub struct Subscriber {
    h: Handle<sys::zipc_subscriber>,
    msgs: Vec<sys::zipc_msg>, // drain() buffer, reused
}

// SAFETY: the handle is Send; `msgs` holds only copies of C views (raw
// pointers into the ring that only this endpoint dereferences).
unsafe impl Send for Subscriber {}

/// A subscriber call's result: `rc` (>= 0) or its error. As
/// `error::check`, the error is built out of line in a `Result` of its own,
/// so the caller's `Result<View>` stays in registers.
#[inline]
fn read_check(sub: *const sys::zipc_subscriber, rc: i32) -> Result<i32> {
    if rc >= 0 {
        Ok(rc)
    } else {
        read_failed(sub, rc)
    }
}

/// `read_check`'s error path: `-EOVERFLOW` carries the loss.
#[cold]
#[inline(never)]
fn read_failed(sub: *const sys::zipc_subscriber, rc: i32) -> Result<i32> {
    Err(match Error::from_errno(rc) {
        Error::Overflow { .. } => {
            let (mut messages, mut bytes) = (0u64, 0u64);
            // SAFETY: a live endpoint, valid out pointers.
            unsafe { sys::zipc_subscriber_last_loss(sub, &mut messages, &mut bytes) };
            Error::Overflow { messages, bytes }
        }
        e => e,
    })
}

impl Subscriber {
    /// Attach to the topic `name`, waiting up to the options' timeout
    /// (default [`Options::DEFAULT_TIMEOUT`]) for its publisher to exist
    /// ([`Error::Timeout`] / [`Error::NotFound`]); [`Error::NoSpace`] when
    /// the topic has as many subscribers as it allows.
    pub fn subscribe(name: impl AsRef<Path>, sub: Subscription, opts: Options) -> Result<Subscriber> {
        let n = c_string(name.as_ref())?;
        let s = sub.to_c();
        let o = opts.to_c();
        let mut out = std::ptr::null_mut();
        // SAFETY: valid pointers for the call.
        check(unsafe { sys::zipc_topic_subscribe(&mut out, n.as_ptr(), &s, &o) })?;
        Ok(Subscriber { h: Handle::new(out), msgs: Vec::new() })
    }

    /// The next message, in place in the ring, waiting up to `timeout`.
    /// Dropping the [`View`] releases it ([`View::release`] reports
    /// [`Error::Stale`]).
    #[inline]
    pub fn view(&mut self, timeout: Option<Duration>) -> Result<View<'_>> {
        self.view_ns(timeout_ns(timeout))
    }

    /// [`view`](Self::view) without waiting.
    #[inline]
    pub fn try_view(&mut self) -> Result<View<'_>> {
        self.view_ns(sys::ZIPC_TRY)
    }

    #[inline]
    fn view_ns(&mut self, ns: i64) -> Result<View<'_>> {
        let h = self.h.ptr();
        // SAFETY: a live endpoint, a valid out pointer.
        let msg = endpoint::viewed(|m| read_check(h, unsafe { sys::zipc_subscriber_view(h, m, ns) }).map(drop))?;
        Ok(View { sub: self.h.non_null(), msg, _borrow: PhantomData })
    }

    /// Up to `max` messages at once (at least 1): waits up to `timeout` for
    /// the first, then takes what is already there. Dropping the [`Batch`]
    /// releases them all.
    pub fn drain(&mut self, max: usize, timeout: Option<Duration>) -> Result<Batch<'_>> {
        self.drain_ns(max, timeout_ns(timeout))
    }

    /// [`drain`](Self::drain) without waiting.
    pub fn try_drain(&mut self, max: usize) -> Result<Batch<'_>> {
        self.drain_ns(max, sys::ZIPC_TRY)
    }

    fn drain_ns(&mut self, max: usize, ns: i64) -> Result<Batch<'_>> {
        let max = max.clamp(1, u32::MAX as usize);
        if self.msgs.len() < max {
            self.msgs.resize(max, sys::zipc_msg::default());
        }
        // SAFETY: a live endpoint; msgs holds max entries.
        let rc = unsafe { sys::zipc_subscriber_drain(self.h.ptr(), self.msgs.as_mut_ptr(), max as u32, ns) };
        let n = read_check(self.h.ptr(), rc)? as usize;
        Ok(Batch { sub: self.h.non_null(), msgs: as_msgs(&self.msgs[..n]) })
    }

    /// The next message copied out (and released), waiting up to `timeout`.
    /// Never torn: a `DropOldest` copy the publisher overwrote meanwhile is
    /// [`Error::Stale`] (or an [`Error::Overflow`] on the next call).
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Message> {
        let v = self.view(timeout)?;
        let m = Message { type_id: v.type_id(), data: v.to_vec() };
        v.release()?;
        Ok(m)
    }

    /// Copy the next message into `buf` and release it: `(size, type_id)`.
    /// [`Error::MessageTooLarge`] if it does not fit (the message is kept).
    pub fn recv_into(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> Result<(usize, u32)> {
        let (mut size, mut type_id) = (0usize, 0u32);
        // SAFETY: a live endpoint; buf valid for buf.len() bytes; no open view (&mut self).
        let rc = unsafe {
            sys::zipc_subscriber_recv(
                self.h.ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut size,
                &mut type_id,
                timeout_ns(timeout),
            )
        };
        read_check(self.h.ptr(), rc)?;
        Ok((size, type_id))
    }

    /// The next message copied out as a [`Pod`] value, with its type id.
    /// [`Error::BadPayload`] if its size is not `size_of::<T>()` (the
    /// message is consumed).
    pub fn recv_pod<T: Pod>(&mut self, timeout: Option<Duration>) -> Result<(T, u32)> {
        let v = self.view(timeout)?;
        let (value, type_id) = (v.read::<T>(), v.type_id());
        v.release()?;
        Ok((value?, type_id))
    }

    /// Copy the newest message still in the ring whose type is `type_id`
    /// (`None`: of any type) into `buf`, without moving the cursor (state
    /// topics): `(size, type_id)`. [`Error::NotFound`] if there is none;
    /// [`Error::MessageTooLarge`] if `buf` is short. Never blocks.
    pub fn latest(&mut self, type_id: Option<u32>, buf: &mut [u8]) -> Result<(usize, u32)> {
        let (mut size, mut type_out) = (0usize, 0u32);
        // SAFETY: a live endpoint; buf valid for buf.len() bytes.
        let rc = unsafe {
            sys::zipc_subscriber_latest(
                self.h.ptr(),
                type_id.unwrap_or(sys::ZIPC_TYPE_ANY),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut size,
                &mut type_out,
            )
        };
        read_check(self.h.ptr(), rc)?;
        Ok((size, type_out))
    }

    /// The newest message of `type_id` as a [`Pod`] value (see
    /// [`latest`](Self::latest)); [`Error::BadPayload`] if it is not
    /// `size_of::<T>()` bytes.
    pub fn latest_pod<T: Pod>(&mut self, type_id: u32) -> Result<T> {
        // SAFETY: every bit pattern (zeroes included) is a valid Pod value.
        let mut value: T = unsafe { std::mem::zeroed() };
        let (size, _) = self.latest(Some(type_id), pod::slice_bytes_mut(std::slice::from_mut(&mut value)))?;
        if size != std::mem::size_of::<T>() {
            return Err(Error::BadPayload("the latest message is not the size of the type"));
        }
        Ok(value)
    }

    /// The loss reported by the last [`Error::Overflow`]: `(messages, bytes)`.
    pub fn last_loss(&self) -> (u64, u64) {
        let (mut messages, mut bytes) = (0u64, 0u64);
        // SAFETY: a live endpoint, valid out pointers.
        unsafe { sys::zipc_subscriber_last_loss(self.h.ptr(), &mut messages, &mut bytes) };
        (messages, bytes)
    }

    /// The ring capacity in bytes.
    pub fn capacity(&self) -> usize {
        // SAFETY: a live endpoint.
        unsafe { sys::zipc_subscriber_capacity(self.h.ptr()) }
    }

    /// The largest message the ring always accepts.
    pub fn max_message(&self) -> usize {
        // SAFETY: a live endpoint.
        unsafe { sys::zipc_subscriber_max_message(self.h.ptr()) }
    }

    /// The publisher's pid.
    pub fn publisher_pid(&self) -> i32 {
        // SAFETY: a live endpoint.
        unsafe { sys::zipc_subscriber_publisher_pid(self.h.ptr()) }
    }

    /// This subscriber's counters (lag, losses, ...).
    pub fn stats(&self) -> SubscriberStats {
        let mut st = SubscriberStats::default();
        // SAFETY: a live endpoint, a valid out pointer.
        unsafe { sys::zipc_subscriber_get_stats(self.h.ptr(), &mut st) };
        st
    }

    /// A handle that wakes this subscriber's blocked call from another thread.
    pub fn interrupter(&self) -> Interrupter {
        self.h.interrupter()
    }

    /// The C endpoint, for calls through `zipc-sys`. It stays owned by
    /// `self`: do not close it. Views opened through it must be released
    /// before the next safe call that views, and none opened while a
    /// [`View`] or [`Batch`] is alive (dropping one releases every open view).
    pub fn as_ptr(&self) -> *mut sys::zipc_subscriber {
        self.h.ptr()
    }
}

/// Readable when a message may be there, or the publisher is gone. Owned by
/// the subscriber.
impl AsRawFd for Subscriber {
    fn as_raw_fd(&self) -> RawFd {
        // SAFETY: a live endpoint; !Sync, so no concurrent call.
        unsafe { sys::zipc_subscriber_fd(self.h.ptr()) }
    }
}

/// Give back every open view of the subscriber `sub`: `-ESTALE` if any was
/// overwritten while open.
///
/// A [`View`] or [`Batch`] borrows its subscriber mutably, so its views are
/// all the open ones: `zipc_subscriber_release` gives back exactly them,
/// and it needs no `&zipc_msg`, so a view's fields stay in registers (the
/// channel's measured lesson: passing `&msg` cost +15% round trip).
///
/// # Safety
/// `sub` is a live subscriber whose open views belong to the caller.
#[inline]
unsafe fn give_back(sub: NonNull<sys::zipc_subscriber>) -> i32 {
    // SAFETY: a live endpoint, per the contract.
    unsafe { sys::zipc_subscriber_release(sub.as_ptr()) }
}

/// C views as [`Msg`]s.
#[inline]
fn as_msgs(views: &[sys::zipc_msg]) -> &[Msg] {
    // SAFETY: Msg is a repr(transparent) zipc_msg.
    unsafe { &*(views as *const [sys::zipc_msg] as *const [Msg]) }
}

/// A message in place in the topic's ring ([`Msg`] through `Deref`);
/// dropping it releases it. It borrows the subscriber mutably: it cannot
/// outlive it, and the next message can only be viewed after this one is
/// dropped (use [`Subscriber::drain`] for several at once).
///
/// ```compile_fail,E0499
/// # fn f(s: &mut zipc::Subscriber) -> zipc::Result<()> {
/// let a = s.view(None)?;
/// let b = s.view(None)?; // error: `s` is borrowed by `a`
/// # drop((a, b)); Ok(()) }
/// ```
pub struct View<'a> {
    sub: NonNull<sys::zipc_subscriber>,
    msg: sys::zipc_msg,
    _borrow: PhantomData<&'a mut Subscriber>,
}

// SAFETY: a View is an exclusive borrow of a Subscriber (which is Send).
unsafe impl Send for View<'_> {}

impl View<'_> {
    /// Release it now and learn whether it stayed intact: [`Error::Stale`]
    /// if the publisher overwrote it while it was open (a `DropOldest`
    /// view: discard what was computed from its bytes). Dropping releases
    /// without telling.
    pub fn release(self) -> Result<()> {
        let sub = std::mem::ManuallyDrop::new(self).sub;
        // SAFETY: a live endpoint (borrowed) whose only open view is this one.
        check(unsafe { give_back(sub) })
    }
}

impl Drop for View<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a live endpoint (borrowed) whose only open view is this one.
        unsafe { give_back(self.sub) };
    }
}

impl std::ops::Deref for View<'_> {
    type Target = Msg;
    #[inline]
    fn deref(&self) -> &Msg {
        &as_msgs(std::slice::from_ref(&self.msg))[0]
    }
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("type_id", &self.msg.type_)
            .field("seq", &self.msg.seq)
            .field("len", &self.msg.size)
            .finish()
    }
}

/// Several messages in place, from [`Subscriber::drain`]; dropping the batch
/// releases them all. Its messages ([`&Msg`](Msg)) borrow the batch.
pub struct Batch<'a> {
    sub: NonNull<sys::zipc_subscriber>,
    msgs: &'a [Msg],
}

// SAFETY: a Batch is an exclusive borrow of a Subscriber (which is Send).
unsafe impl Send for Batch<'_> {}

impl Batch<'_> {
    /// Number of messages (>= 1).
    #[inline]
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// Never true (a drain returns at least one message); for clippy.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// Message `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&Msg> {
        self.msgs.get(i)
    }

    /// The messages, oldest first.
    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, Msg> {
        self.msgs.iter()
    }

    /// Release them all now: [`Error::Stale`] if the publisher overwrote
    /// any of them while they were open (see [`View::release`]).
    pub fn release(self) -> Result<()> {
        let sub = std::mem::ManuallyDrop::new(self).sub;
        // SAFETY: a live endpoint (borrowed) whose open views are the batch's.
        check(unsafe { give_back(sub) })
    }
}

impl Drop for Batch<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a live endpoint (borrowed) whose open views are the batch's.
        unsafe { give_back(self.sub) };
    }
}

impl<'b> IntoIterator for &'b Batch<'_> {
    type Item = &'b Msg;
    type IntoIter = std::slice::Iter<'b, Msg>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

//! Queues: any number of [`Producer`]s and [`Consumer`]s, attached by name
//! (`include/zipc/queue.h`). Each producer writes into a lane of its own
//! (a ring in the queue's shared segment); consumers compete for the
//! messages, each taken by exactly one live consumer and read in place.
//! FIFO per producer, no global order. No server process: any member may be
//! SIGKILLed at any time.
//!
//! The zero-copy objects follow the channel's design: a [`Reservation`]
//! borrows the producer mutably (commit consumes it, drop aborts it); a
//! [`View`] or a [`Batch`] borrows the consumer mutably (drop gives the
//! messages back). What only a queue has:
//!
//! - delivery: at-least-once by default. If a consumer dies holding views,
//!   those messages are delivered again, to another consumer, with
//!   [`Delivery::attempt`] one higher; ([`Delivery::producer`],
//!   [`seq`](crate::Msg::seq)) names a message while the queue lives, so a
//!   sink can drop duplicates. [`Config::at_most_once`] drops them instead.
//! - end of stream: once a producer has joined, [`Error::PeerGone`] when no
//!   producer is attached and every committed message was taken and
//!   released. A producer joining later starts a new stream.
//! - a producer's `reserve` waits while its lane is full of messages not yet
//!   released; it never fails with `PeerGone` (messages wait for consumers).
//!
//! ```
//! use std::time::Duration;
//! use zipc::queue::{Config, Consumer, Producer};
//! use zipc::Options;
//!
//! # fn main() -> zipc::Result<()> {
//! # let name = format!("zipc-doc-jobs-{}", std::process::id());
//! # let name = name.as_str();
//! let mut producer = Producer::open(name, Config::default(), Options::new())?;
//! // Usually other processes, any number of each:
//! let mut consumer = Consumer::open(name, Config::default(), Options::new())?;
//! producer.send(b"job 1", 7, None)?;
//! drop(producer); // the end of the stream, once the job is taken and released
//! let v = consumer.view(Some(Duration::from_secs(1)))?;
//! assert_eq!((v.data(), v.attempt()), (&b"job 1"[..], 1));
//! drop(v);
//! assert_eq!(consumer.view(None).unwrap_err(), zipc::Error::PeerGone);
//! # Ok(()) }
//! ```
use crate::channel::{Message, Msg};
use crate::endpoint::{self, c_string, writer_calls};
use crate::error::{check, Result};
#[cfg(doc)]
use crate::error::Error;
use crate::options::{timeout_ns, Options};
use crate::pod::Pod;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;
use zipc_sys as sys;

pub use crate::endpoint::Interrupter;

/// The owned C endpoint (`Send`, not `Sync`).
type Handle = endpoint::Handle<sys::zipc_queue>;

/// How a new queue is laid out (`struct zipc_queue_config`); ignored when
/// the queue exists already (a member that attaches gets the creator's).
/// `Config::default()`: 1 MiB lanes, at-least-once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Config {
    /// Ring bytes per producer (128 B .. 1 GiB, rounded up to a power of
    /// two); 0: 1 MiB. The largest message is half of it, less 16 bytes.
    pub lane_capacity: u64,
    /// A message held by a consumer that dies is dropped, never delivered
    /// again (`ZIPC_QUEUE_AT_MOST_ONCE`).
    pub at_most_once: bool,
}

impl Config {
    fn to_c(self) -> sys::zipc_queue_config {
        let flags = if self.at_most_once { sys::ZIPC_QUEUE_AT_MOST_ONCE } else { 0 };
        sys::zipc_queue_config { lane_capacity: self.lane_capacity, flags, reserved: 0 }
    }
}

/// Counters of a queue member (`struct zipc_queue_stats`).
pub type Stats = sys::zipc_queue_stats;

fn open(name: &Path, role: i32, cfg: Config, opts: &Options) -> Result<Handle> {
    let n = c_string(name)?;
    let (c, o) = (cfg.to_c(), opts.to_c());
    let mut out = std::ptr::null_mut();
    // SAFETY: valid pointers for the call; `o.label` borrows `opts`.
    check(unsafe { sys::zipc_queue_open(&mut out, n.as_ptr(), role, &c, &o) })?;
    Ok(Handle::new(out))
}

/// What both roles have.
macro_rules! member {
    ($t:ident) => {
        impl $t {
            /// Ring bytes per lane.
            pub fn capacity(&self) -> usize {
                // SAFETY: a live endpoint.
                unsafe { sys::zipc_queue_capacity(self.h.ptr()) }
            }

            /// The largest message a lane accepts (capacity / 2 - 16).
            pub fn max_message(&self) -> usize {
                // SAFETY: a live endpoint.
                unsafe { sys::zipc_queue_max_message(self.h.ptr()) }
            }

            /// A producer's lane (what [`Delivery::producer`] says of its
            /// messages), a consumer's number.
            pub fn slot(&self) -> u32 {
                // SAFETY: a live endpoint.
                unsafe { sys::zipc_queue_slot(self.h.ptr()) as u32 }
            }

            /// Producers attached now.
            pub fn producers(&self) -> usize {
                // SAFETY: a live endpoint.
                usize::try_from(unsafe { sys::zipc_queue_producers(self.h.ptr()) }).unwrap_or(0)
            }

            /// Consumers attached now.
            pub fn consumers(&self) -> usize {
                // SAFETY: a live endpoint.
                usize::try_from(unsafe { sys::zipc_queue_consumers(self.h.ptr()) }).unwrap_or(0)
            }

            /// The creator's [`Config::at_most_once`].
            pub fn at_most_once(&self) -> bool {
                // SAFETY: a live endpoint.
                let flags = unsafe { sys::zipc_queue_flags(self.h.ptr()) };
                flags & sys::ZIPC_QUEUE_AT_MOST_ONCE != 0
            }

            /// This member's counters.
            pub fn stats(&self) -> Stats {
                let mut st = Stats::default();
                // SAFETY: a live endpoint, a valid out pointer.
                unsafe { sys::zipc_queue_get_stats(self.h.ptr(), &mut st) };
                st
            }

            /// A handle that wakes this member's blocked call from another
            /// thread (see [`Interrupter`]).
            pub fn interrupter(&self) -> Interrupter {
                self.h.interrupter()
            }

            /// The C endpoint, for calls through `zipc-sys`. It stays owned
            /// by `self`: do not close it, and follow the C contracts.
            pub fn as_ptr(&self) -> *mut sys::zipc_queue {
                self.h.ptr()
            }
        }

        /// Readable when a message (consumer) or space (producer) may be
        /// there; armed by a `try_` call that failed with
        /// [`Error::WouldBlock`]. Owned by the endpoint.
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                // SAFETY: a live endpoint; !Sync, so no concurrent call.
                unsafe { sys::zipc_queue_fd(self.h.ptr()) }
            }
        }
    };
}

// ------------------------------------------------------------------------
// Producer
// ------------------------------------------------------------------------

/// A queue's producer, writing into a lane of its own. One thread at a time
/// (`Send`, not `Sync`). Every call that can wait takes a timeout (`None`:
/// forever); the `try_` variants never block ([`Error::WouldBlock`]).
/// Dropping it publishes what was staged and leaves the queue.
#[derive(Debug)]
pub struct Producer {
    h: Handle,
}

member!(Producer);

impl Producer {
    /// Attach to the queue `name` (a name: paths are refused with
    /// [`Error::InvalidArgument`]) as a producer, creating it with `cfg` if
    /// no member holds it. It takes over the lane of a producer that is
    /// gone, with what that one left (still delivered, in order). Waits up
    /// to the options' timeout; [`Error::NoSpace`] when 32 producers are
    /// attached.
    pub fn open(name: impl AsRef<Path>, cfg: Config, opts: Options) -> Result<Producer> {
        open(name.as_ref(), sys::ZIPC_ROLE_PRODUCER, cfg, &opts).map(|h| Producer { h })
    }

    writer_calls!("for space in its lane (messages consumers have not released)");

    /// Wait until leaving loses nothing: another member holds the queue (a
    /// consumer that came late), or every message was taken. Dropping does
    /// it with the open's timeout, silently; [`Error::Timeout`] here says
    /// that nobody came (dropping now loses the queued messages). `None`:
    /// as long as it takes.
    pub fn linger(&self, timeout: Option<Duration>) -> Result<()> {
        // SAFETY: a live endpoint.
        check(unsafe { sys::zipc_queue_linger(self.h.ptr(), timeout_ns(timeout)) })
    }
}

/// Writable bytes reserved in the producer's lane (`&mut [u8]` through
/// `Deref`), from [`Producer::reserve`]: `commit` publishes them, dropping
/// aborts.
pub type Reservation<'a> = endpoint::Reservation<'a, sys::zipc_queue>;

/// A reserved tensor message whose header is written, from
/// [`Producer::reserve_tensor`]: fill `data_mut()`, then commit.
pub type TensorReservation<'a, T> = endpoint::TensorReservation<'a, T, sys::zipc_queue>;

// ------------------------------------------------------------------------
// Consumer
// ------------------------------------------------------------------------

/// A queue's consumer. One thread at a time (`Send`, not `Sync`).
///
/// Calls that take a message fail with [`Error::PeerGone`] at the end of
/// the stream, with [`Error::Corrupted`] when the queue's shared state is
/// corrupt (a corrupt lane alone is skipped). Dropping it gives back what
/// it holds: those messages count as taken.
#[derive(Debug)]
pub struct Consumer {
    h: Handle,
    msgs: Vec<sys::zipc_msg>, // drain() buffer, reused
}

member!(Consumer);

// SAFETY: the handle is Send; `msgs` holds only copies of C views (raw
// pointers into the lanes that only this endpoint dereferences).
unsafe impl Send for Consumer {}

impl Consumer {
    /// Attach to the queue `name` as a consumer, creating it with `cfg` if
    /// no member holds it. Waits up to the options' timeout;
    /// [`Error::NoSpace`] when 32 consumers are attached.
    pub fn open(name: impl AsRef<Path>, cfg: Config, opts: Options) -> Result<Consumer> {
        open(name.as_ref(), sys::ZIPC_ROLE_CONSUMER, cfg, &opts).map(|h| Consumer { h, msgs: Vec::new() })
    }

    /// Take the next message (lanes are served in turn) and view it in
    /// place, waiting up to `timeout`. Dropping the [`View`] gives it back.
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
        // SAFETY: a live endpoint, a valid out pointer.
        let msg = endpoint::viewed(|m| check(unsafe { sys::zipc_queue_view(self.h.ptr(), m, ns) }))?;
        Ok(View { q: self.h.non_null(), msg, _borrow: PhantomData })
    }

    /// Up to `max` messages at once (at least 1): waits up to `timeout` for
    /// the first, then takes what is already there. Dropping the [`Batch`]
    /// gives them all back.
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
        let n = unsafe { sys::zipc_queue_drain(self.h.ptr(), self.msgs.as_mut_ptr(), max as u32, ns) };
        check(n)?;
        Ok(Batch { q: self.h.non_null(), msgs: as_deliveries(&self.msgs[..n as usize]) })
    }

    /// The next message copied out (and given back), waiting up to `timeout`.
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Message> {
        let v = self.view(timeout)?;
        let m = Message { type_id: v.type_id(), data: v.to_vec() };
        v.release()?;
        Ok(m)
    }

    /// Copy the next message into `buf` and give it back: `(size, type_id)`.
    /// [`Error::MessageTooLarge`] if it does not fit: the message stays
    /// taken by this consumer, and the next `recv_into` returns it (a
    /// `view` or `drain` meanwhile takes other messages).
    pub fn recv_into(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> Result<(usize, u32)> {
        let (mut size, mut type_id) = (0usize, 0u32);
        // SAFETY: a live endpoint; buf valid for buf.len() bytes.
        check(unsafe {
            sys::zipc_queue_recv(
                self.h.ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut size,
                &mut type_id,
                timeout_ns(timeout),
            )
        })?;
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
}

/// A message taken from a queue: a [`Msg`] (through `Deref`: its bytes,
/// type id, `seq` in its lane, typed reads) and how it was delivered.
/// Always borrowed from a [`View`] or a [`Batch`].
#[repr(transparent)]
pub struct Delivery(Msg);

impl Delivery {
    /// The producer lane that wrote it (a [`Producer::slot`]).
    #[inline]
    pub fn producer(&self) -> u32 {
        // SAFETY: a pure function of the message's fields.
        unsafe { sys::zipc_sys_queue_msg_producer(self.0.raw()) }
    }

    /// Its delivery attempt: 1, then one more each time a consumer died
    /// holding it (at most 63).
    #[inline]
    pub fn attempt(&self) -> u32 {
        // SAFETY: a pure function of the message's fields.
        unsafe { sys::zipc_sys_queue_msg_attempt(self.0.raw()) }
    }
}

impl std::ops::Deref for Delivery {
    type Target = Msg;
    #[inline]
    fn deref(&self) -> &Msg {
        &self.0
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("producer", &self.producer())
            .field("seq", &self.seq())
            .field("attempt", &self.attempt())
            .field("type_id", &self.type_id())
            .field("len", &self.len())
            .finish()
    }
}

/// C views as [`Delivery`]s.
#[inline]
fn as_deliveries(views: &[sys::zipc_msg]) -> &[Delivery] {
    // SAFETY: Delivery is a repr(transparent) Msg, a repr(transparent) zipc_msg.
    unsafe { &*(views as *const [sys::zipc_msg] as *const [Delivery]) }
}

/// Give one view back: 0, or `-EBADMSG` if another member rewrote our
/// claim (the shared state is corrupt).
///
/// One by one, not `zipc_queue_release` (every open view): a message that
/// [`Consumer::recv_into`] kept for a larger buffer stays open.
///
/// # Safety
/// `q` is a live consumer and `msg` one of its open views.
#[inline]
unsafe fn give_back(q: NonNull<sys::zipc_queue>, msg: &sys::zipc_msg) -> i32 {
    // SAFETY: per the contract.
    unsafe { sys::zipc_queue_release_view(q.as_ptr(), msg) }
}

/// A message taken from the queue, in place ([`Delivery`], then [`Msg`],
/// through `Deref`); dropping it gives it back. It borrows the consumer
/// mutably: it cannot outlive it, and the next message can only be taken
/// after this one is dropped (use [`Consumer::drain`] for several at once).
pub struct View<'a> {
    q: NonNull<sys::zipc_queue>,
    msg: sys::zipc_msg,
    _borrow: PhantomData<&'a mut Consumer>,
}

// SAFETY: a View is an exclusive borrow of a Consumer (which is Send).
unsafe impl Send for View<'_> {}

impl View<'_> {
    /// Give it back now, and learn whether that went well:
    /// [`Error::Corrupted`] if another member rewrote our claim on it.
    /// Dropping gives it back without telling.
    pub fn release(self) -> Result<()> {
        let v = std::mem::ManuallyDrop::new(self);
        // SAFETY: a live endpoint (borrowed), one of its open views.
        check(unsafe { give_back(v.q, &v.msg) })
    }
}

impl Drop for View<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a live endpoint (borrowed), one of its open views.
        unsafe { give_back(self.q, &self.msg) };
    }
}

impl std::ops::Deref for View<'_> {
    type Target = Delivery;
    #[inline]
    fn deref(&self) -> &Delivery {
        &as_deliveries(std::slice::from_ref(&self.msg))[0]
    }
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// Several messages taken at once, from [`Consumer::drain`]; dropping the
/// batch gives them all back. Its messages ([`&Delivery`](Delivery)) borrow
/// the batch.
pub struct Batch<'a> {
    q: NonNull<sys::zipc_queue>,
    msgs: &'a [Delivery],
}

// SAFETY: a Batch is an exclusive borrow of a Consumer (which is Send).
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
    pub fn get(&self, i: usize) -> Option<&Delivery> {
        self.msgs.get(i)
    }

    /// The messages, in the order they were taken.
    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, Delivery> {
        self.msgs.iter()
    }

    /// Give them all back now: [`Error::Corrupted`] if another member
    /// rewrote our claim on any (see [`View::release`]); every one is given
    /// back either way.
    pub fn release(self) -> Result<()> {
        let b = std::mem::ManuallyDrop::new(self);
        check(b.give_back())
    }

    /// Every view back; the first error.
    fn give_back(&self) -> i32 {
        let mut first = 0;
        for m in self.msgs {
            // SAFETY: a live endpoint (borrowed), one of its open views.
            let rc = unsafe { give_back(self.q, m.0.raw()) };
            if first == 0 {
                first = rc;
            }
        }
        first
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl<'b> IntoIterator for &'b Batch<'_> {
    type Item = &'b Delivery;
    type IntoIter = std::slice::Iter<'b, Delivery>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_the_c_struct() {
        let c = Config { lane_capacity: 1 << 16, at_most_once: true }.to_c();
        assert_eq!((c.lane_capacity, c.flags, c.reserved), (1 << 16, sys::ZIPC_QUEUE_AT_MOST_ONCE, 0));
        assert_eq!(Config::default().to_c(), sys::zipc_queue_config::default());
    }

    #[test]
    fn delivery_reads_the_c_fields() {
        let views = [sys::zipc_msg { end_: 4 | 2 << 8, seq: 9, ..sys::zipc_msg::default() }];
        let d = &as_deliveries(&views)[0];
        assert_eq!((d.producer(), d.attempt(), d.seq()), (4, 2, 9));
    }
}

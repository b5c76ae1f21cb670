//! Endpoints ([`Producer`], [`Consumer`]), the zero-copy objects that
//! borrow them ([`Reservation`], [`View`], [`Batch`], [`Msg`]), and the
//! [`Interrupter`] another thread may hold.
use crate::endpoint::{self, c_string, writer_calls, Interrupter};
use crate::error::{check, Error, Result};
use crate::options::{timeout_ns, Options, Role};
use crate::pod::{self, Pod};
use crate::tensor::TensorView;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;
use zipc_sys as sys;

/// The owned C endpoint (`Send`, not `Sync`).
type Handle = endpoint::Handle<sys::zipc_channel>;

fn open_listen(path: &Path, capacity: usize, opts: &Options) -> Result<Handle> {
    let p = c_string(path)?;
    let o = opts.to_c();
    let mut out = std::ptr::null_mut();
    // SAFETY: valid pointers for the call; `o.label` borrows `opts`.
    check(unsafe { sys::zipc_channel_listen(&mut out, p.as_ptr(), capacity, &o) })?;
    Ok(Handle::new(out))
}

fn open_connect(path: &Path, opts: &Options) -> Result<Handle> {
    let p = c_string(path)?;
    let o = opts.to_c();
    let mut out = std::ptr::null_mut();
    // SAFETY: valid pointers for the call.
    check(unsafe { sys::zipc_channel_connect(&mut out, p.as_ptr(), &o) })?;
    Ok(Handle::new(out))
}

fn classify(h: Handle) -> Endpoint {
    // SAFETY: a live endpoint.
    if unsafe { sys::zipc_channel_role(h.ptr()) } == sys::ZIPC_ROLE_PRODUCER {
        Endpoint::Producer(Producer { h })
    } else {
        Endpoint::Consumer(Consumer { h, msgs: Vec::new() })
    }
}

/// Create a channel under `path` (a name, or a Unix socket path if it holds
/// a '/') and wait (the options' timeout, default
/// [`Options::DEFAULT_TIMEOUT`]) for one peer. `capacity` is the ring size in bytes
/// (128 B .. 4 GiB, rounded up to a power of two). The role is the options'
/// (default: consumer). See also [`Consumer::listen`] / [`Producer::listen`].
pub fn listen(path: impl AsRef<Path>, capacity: usize, opts: Options) -> Result<Endpoint> {
    open_listen(path.as_ref(), capacity, &opts).map(classify)
}

/// Connect to the listener at `path` (a name or a socket path), retrying
/// until it appears or the options' timeout elapses; the role is the one the
/// listener left us.
pub fn connect(path: impl AsRef<Path>, opts: Options) -> Result<Endpoint> {
    open_connect(path.as_ref(), &opts).map(classify)
}

/// An endpoint of either role, as [`listen`] / [`connect`] return it.
#[derive(Debug)]
pub enum Endpoint {
    /// The sending side.
    Producer(Producer),
    /// The receiving side.
    Consumer(Consumer),
}

impl Endpoint {
    /// [`Role::Producer`] or [`Role::Consumer`].
    pub fn role(&self) -> Role {
        match self {
            Endpoint::Producer(_) => Role::Producer,
            Endpoint::Consumer(_) => Role::Consumer,
        }
    }

    /// The producer, or [`Error::WrongRole`] (the endpoint is closed).
    pub fn into_producer(self) -> Result<Producer> {
        match self {
            Endpoint::Producer(p) => Ok(p),
            Endpoint::Consumer(_) => Err(Error::WrongRole),
        }
    }

    /// The consumer, or [`Error::WrongRole`] (the endpoint is closed).
    pub fn into_consumer(self) -> Result<Consumer> {
        match self {
            Endpoint::Consumer(c) => Ok(c),
            Endpoint::Producer(_) => Err(Error::WrongRole),
        }
    }
}

/// Counters of an endpoint (`struct zipc_channel_stats`).
pub type Stats = sys::zipc_channel_stats;

macro_rules! common {
    ($t:ident) => {
        impl $t {
            /// The ring capacity in bytes.
            pub fn capacity(&self) -> usize {
                // SAFETY: a live endpoint.
                unsafe { sys::zipc_channel_capacity(self.h.ptr()) }
            }

            /// The largest message the ring always accepts (capacity / 2 - 16).
            pub fn max_message(&self) -> usize {
                // SAFETY: a live endpoint.
                unsafe { sys::zipc_channel_max_message(self.h.ptr()) }
            }

            /// The peer's pid from the handshake (0 if unknown).
            pub fn peer_pid(&self) -> i32 {
                // SAFETY: a live endpoint.
                unsafe { sys::zipc_channel_peer_pid(self.h.ptr()) }
            }

            /// This endpoint's counters.
            pub fn stats(&self) -> Stats {
                let mut st = Stats::default();
                // SAFETY: a live endpoint, a valid out pointer.
                unsafe { sys::zipc_channel_get_stats(self.h.ptr(), &mut st) };
                st
            }

            /// Tell the peer we are done (it sees [`Error::PeerGone`] after
            /// draining) without closing; later calls fail with `PeerGone`.
            /// Dropping the endpoint closes it.
            pub fn shutdown(&mut self) -> Result<()> {
                // SAFETY: a live endpoint, no borrower alive (&mut self).
                check(unsafe { sys::zipc_channel_shutdown(self.h.ptr()) })
            }

            /// A handle that wakes this endpoint's blocked call from another
            /// thread (see [`Interrupter`]). Every call returns a handle to
            /// the same endpoint.
            pub fn interrupter(&self) -> Interrupter {
                self.h.interrupter()
            }

            /// The C endpoint, for calls through `zipc-sys`. It stays owned by
            /// `self`: do not close it, and follow the C contracts. Views or
            /// reservations opened through it must be released before the
            /// next safe call that views or reserves, and none opened while a
            /// [`View`] or [`Batch`] is alive (dropping one releases every
            /// open view).
            pub fn as_ptr(&self) -> *mut sys::zipc_channel {
                self.h.ptr()
            }
        }

        /// The pollable fd (epoll, poll, async runtimes): readable when the
        /// awaited condition may hold or the peer is gone. After the first
        /// call, every `try_` call that fails with [`Error::WouldBlock`] arms
        /// it. Owned by the endpoint: do not close it.
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                // SAFETY: a live endpoint; !Sync, so no concurrent call.
                unsafe { sys::zipc_channel_fd(self.h.ptr()) }
            }
        }
    };
}

// ------------------------------------------------------------------------
// Producer
// ------------------------------------------------------------------------

/// The sending endpoint of a channel.
///
/// One thread at a time (`Send`, not `Sync`). Every call that can wait takes
/// a timeout: `None` waits forever, `Some(d)` at most `d` ([`Error::Timeout`]),
/// or until an [`Interrupter`] wakes it ([`Error::Cancelled`]); the `try_`
/// variants never block ([`Error::WouldBlock`]).
#[derive(Debug)]
pub struct Producer {
    h: Handle,
}

common!(Producer);

impl Producer {
    /// Listen at `path` as the producer (the connector will be the consumer).
    pub fn listen(path: impl AsRef<Path>, capacity: usize, opts: Options) -> Result<Producer> {
        open_listen(path.as_ref(), capacity, &opts.role(Role::Producer)).map(|h| Producer { h })
    }

    /// Connect to `path`; [`Error::WrongRole`] if the listener is the producer.
    pub fn connect(path: impl AsRef<Path>, opts: Options) -> Result<Producer> {
        connect(path, opts)?.into_producer()
    }

    writer_calls!("for space");
}

/// Writable bytes reserved in the ring (`&mut [u8]` through `Deref`), from
/// [`Producer::reserve`]: `commit` sends them, dropping aborts.
pub type Reservation<'a> = endpoint::Reservation<'a, sys::zipc_channel>;

/// A reserved tensor message whose header is written, from
/// [`Producer::reserve_tensor`]: fill `data_mut()`, then commit.
pub type TensorReservation<'a, T> = endpoint::TensorReservation<'a, T, sys::zipc_channel>;

// ------------------------------------------------------------------------
// Consumer
// ------------------------------------------------------------------------

/// The receiving endpoint of a channel.
///
/// One thread at a time (`Send`, not `Sync`):
///
/// ```compile_fail,E0277
/// fn needs_sync<T: Sync>() {}
/// needs_sync::<zipc::Consumer>();
/// ```
#[derive(Debug)]
pub struct Consumer {
    h: Handle,
    msgs: Vec<sys::zipc_msg>, // drain() buffer, reused
}

common!(Consumer);

// SAFETY: the handle is Send; `msgs` holds only copies of C views (raw
// pointers into the ring that only this endpoint dereferences).
unsafe impl Send for Consumer {}

impl Consumer {
    /// Listen at `path` as the consumer (the connector will be the producer).
    pub fn listen(path: impl AsRef<Path>, capacity: usize, opts: Options) -> Result<Consumer> {
        open_listen(path.as_ref(), capacity, &opts.role(Role::Consumer)).map(|h| Consumer { h, msgs: Vec::new() })
    }

    /// Connect to `path`; [`Error::WrongRole`] if the listener is the consumer.
    pub fn connect(path: impl AsRef<Path>, opts: Options) -> Result<Consumer> {
        connect(path, opts)?.into_consumer()
    }

    /// The next message, in place in the ring, waiting up to `timeout`.
    /// Dropping the [`View`] releases it to the producer. When the producer
    /// is gone, every committed message is still delivered, then
    /// [`Error::PeerGone`]. An [`Interrupter`] wakes it with [`Error::Cancelled`].
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
        let msg = endpoint::viewed(|m| check(unsafe { sys::zipc_channel_view(self.h.ptr(), m, ns) }))?;
        Ok(View { ch: self.h.non_null(), msg: Msg(msg), _borrow: PhantomData })
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
        let n = unsafe { sys::zipc_channel_drain(self.h.ptr(), self.msgs.as_mut_ptr(), max as u32, ns) };
        check(n)?;
        // SAFETY: Msg is a repr(transparent) zipc_msg.
        let msgs = unsafe { &*(&self.msgs[..n as usize] as *const [sys::zipc_msg] as *const [Msg]) };
        Ok(Batch { ch: self.h.non_null(), msgs })
    }

    /// The next message copied out (and released), waiting up to `timeout`.
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Message> {
        let v = self.view(timeout)?;
        Ok(Message { type_id: v.type_id(), data: v.to_vec() })
    }

    /// Copy the next message into `buf` and release it: `(size, type_id)`.
    /// [`Error::MessageTooLarge`] if it does not fit (the message is kept).
    pub fn recv_into(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> Result<(usize, u32)> {
        let (mut size, mut type_id) = (0usize, 0u32);
        // SAFETY: a live endpoint; buf valid for buf.len() bytes; no open view (&mut self).
        check(unsafe {
            sys::zipc_channel_recv(
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
        Ok((v.read::<T>()?, v.type_id()))
    }
}

/// A received message copied out of the ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The message's type id.
    pub type_id: u32,
    /// The payload.
    pub data: Vec<u8>,
}

/// A message in place in the ring, as a [`View`] (through `Deref`) or a
/// [`Batch`] hands it out: always borrowed (`&Msg`), so its bytes cannot
/// outlive the view or batch that keeps them in the ring.
#[repr(transparent)]
pub struct Msg(sys::zipc_msg);

impl Msg {
    /// The C view (for the queue's delivery info).
    #[inline]
    pub(crate) fn raw(&self) -> &sys::zipc_msg {
        &self.0
    }

    /// A C message as a `Msg` (an rpc reply or request read through it):
    /// the caller keeps its bytes readable while the `&Msg` lives.
    #[inline]
    pub(crate) fn from_raw(m: &sys::zipc_msg) -> &Msg {
        // SAFETY: Msg is a repr(transparent) zipc_msg.
        unsafe { &*(m as *const sys::zipc_msg as *const Msg) }
    }

    /// The payload, in place (16-byte aligned, read-only).
    #[inline]
    pub fn data(&self) -> &[u8] {
        if self.0.size == 0 {
            return &[];
        }
        // SAFETY: a Msg only exists inside a View or Batch (or an rpc Reply
        // or Request), which keep the C view open (size readable bytes at
        // data) while it is borrowed.
        unsafe { std::slice::from_raw_parts(self.0.data.cast::<u8>(), self.0.size as usize) }
    }

    /// The message's type id.
    #[inline]
    pub fn type_id(&self) -> u32 {
        self.0.type_
    }

    /// The message's number on the channel, from 0.
    #[inline]
    pub fn seq(&self) -> u64 {
        self.0.seq
    }

    /// The payload as one [`Pod`] value, in place (size and alignment checked).
    #[inline]
    pub fn pod<T: Pod>(&self) -> Result<&T> {
        pod::from_bytes(self.data())
    }

    /// The payload as a slice of [`Pod`] values, in place.
    pub fn slice<T: Pod>(&self) -> Result<&[T]> {
        pod::cast_slice(self.data())
    }

    /// The payload copied out as one [`Pod`] value (size checked).
    #[inline]
    pub fn read<T: Pod>(&self) -> Result<T> {
        pod::read(self.data())
    }

    /// The payload as a validated tensor (see [`TensorView::parse`]).
    pub fn tensor(&self) -> Result<TensorView<'_>> {
        TensorView::parse(self.data())
    }

    /// The payload as UTF-8 text.
    pub fn as_str(&self) -> Result<&str> {
        std::str::from_utf8(self.data()).map_err(|_| Error::BadPayload("payload is not UTF-8"))
    }

    fn debug_as(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("type_id", &self.0.type_)
            .field("seq", &self.0.seq)
            .field("len", &self.0.size)
            .finish()
    }
}

impl std::ops::Deref for Msg {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.data()
    }
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.debug_as("Msg", f)
    }
}

/// Give back every open view of the consumer `ch`.
///
/// A [`View`] or [`Batch`] borrows its consumer mutably, so its views are
/// all the open ones: `zipc_channel_release` gives back exactly them. It
/// needs no `&zipc_msg`, so the view's fields stay in registers (with
/// `zipc_channel_release_view(ch, &msg)` the view went through the stack:
/// +15% round trip over the raw calls, the same C work measured equal).
///
/// # Safety
/// `ch` is a live consumer whose open views belong to the caller.
#[inline]
unsafe fn give_back(ch: NonNull<sys::zipc_channel>) {
    // SAFETY: a live endpoint, per the contract.
    unsafe { sys::zipc_channel_release(ch.as_ptr()) };
}

/// A received message in place in the ring ([`Msg`] through `Deref`);
/// dropping it gives it back to the producer.
///
/// It borrows the consumer mutably: it cannot outlive it, and the next
/// message can only be viewed after this one is dropped (use
/// [`Consumer::drain`] for several at once). The bytes it hands out cannot
/// outlive the view either:
///
/// ```compile_fail,E0597
/// # fn f(c: &mut zipc::Consumer) -> zipc::Result<()> {
/// let bytes: &[u8] = {
///     let v = c.view(None)?;
///     v.data() // error: `v` does not live long enough
/// };
/// # let _ = bytes; Ok(()) }
/// ```
///
/// ```compile_fail,E0597
/// let view = {
///     let mut c = zipc::Consumer::listen("/tmp/x.sock", 4096, zipc::Options::new()).unwrap();
///     c.view(None).unwrap() // error: `c` does not live long enough
/// };
/// # drop(view);
/// ```
pub struct View<'a> {
    ch: NonNull<sys::zipc_channel>,
    msg: Msg,
    _borrow: PhantomData<&'a mut Consumer>,
}

// SAFETY: a View is an exclusive borrow of a Consumer (which is Send).
unsafe impl Send for View<'_> {}

impl View<'_> {
    /// Release explicitly (same as dropping it).
    pub fn release(self) {}
}

impl Drop for View<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a live endpoint (borrowed) whose only open view is this one.
        unsafe { give_back(self.ch) };
    }
}

impl std::ops::Deref for View<'_> {
    type Target = Msg;
    #[inline]
    fn deref(&self) -> &Msg {
        &self.msg
    }
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.msg.debug_as("View", f)
    }
}

/// Several messages in place, from [`Consumer::drain`]; dropping the batch
/// releases them all. Its messages ([`&Msg`](Msg)) borrow the batch.
pub struct Batch<'a> {
    ch: NonNull<sys::zipc_channel>,
    msgs: &'a [Msg],
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
    pub fn get(&self, i: usize) -> Option<&Msg> {
        self.msgs.get(i)
    }

    /// The messages, oldest first.
    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, Msg> {
        self.msgs.iter()
    }

    /// Release explicitly (same as dropping it).
    pub fn release(self) {}
}

impl Drop for Batch<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a live endpoint (borrowed) whose open views are the batch's.
        unsafe { give_back(self.ch) };
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

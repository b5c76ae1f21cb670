//! What every kind of endpoint shares (channel, topic, queue, rpc), written once:
//!
//! - [`Handle`]: an owned C endpoint, closed on drop, and its
//!   [`Interrupter`]s (one public type for every kind);
//! - the writer side: [`Reservation`] and [`TensorReservation`] over a
//!   kind's C calls ([`Writer`]), and `writer_calls!`, which gives a writing
//!   endpoint its methods (`reserve`, `send`, `send_pod`, `send_tensor`, ...).
//!
//! Each kind names the generic types for its C endpoint
//! (`pub type Reservation<'a> = endpoint::Reservation<'a, sys::zipc_channel>`):
//! one monomorphic copy per kind, the same code the hand-written ones were.
use crate::error::{check, Error, Result};
use crate::pod;
use crate::tensor::{self, Element};
use std::ffi::{c_void, CString};
use std::marker::PhantomData;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use zipc_sys as sys;

/// The message a view call writes: `call` runs the C view with a pointer to
/// it and checks the result. Not zeroed first: a view that returns 0 writes
/// every field (channel.h, topic.h, queue.h say so), and the zeroing was
/// ~0.3 ns of a ~9 ns view + release (DESIGN §10).
#[inline]
pub(crate) fn viewed(call: impl FnOnce(*mut sys::zipc_msg) -> Result<()>) -> Result<sys::zipc_msg> {
    let mut msg = std::mem::MaybeUninit::<sys::zipc_msg>::uninit();
    call(msg.as_mut_ptr())?;
    // SAFETY: the view returned 0, so it wrote the whole message.
    Ok(unsafe { msg.assume_init() })
}

/// A name or a socket path as the C calls take it.
pub(crate) fn c_string(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::InvalidArgument)
}

// ------------------------------------------------------------------------
// The C endpoint types
// ------------------------------------------------------------------------

/// A C endpoint type: how it closes and is interrupted.
pub trait Raw {
    /// # Safety
    /// `p` is a live endpoint that nobody uses afterwards.
    unsafe fn close(p: *mut Self);
    /// # Safety
    /// `p` is a live endpoint (any thread may call this).
    unsafe fn interrupt(p: *mut Self);
}

/// A C endpoint type that writes: its producer calls (`zipc_*_reserve`, ...).
pub trait Writer: Raw {
    /// # Safety
    /// For all: `p` is a live endpoint of this kind, owned by the caller's thread,
    /// and the pointers are valid for the C call.
    unsafe fn reserve(p: *mut Self, size: usize, buf: *mut *mut c_void, ns: i64) -> i32;
    /// # Safety
    /// As [`reserve`](Self::reserve), with a reservation open.
    unsafe fn commit(p: *mut Self, size: usize, type_id: u32, flags: u32) -> i32;
    /// # Safety
    /// As [`reserve`](Self::reserve).
    unsafe fn abort(p: *mut Self) -> i32;
    /// # Safety
    /// As [`reserve`](Self::reserve).
    unsafe fn flush(p: *mut Self) -> i32;
    /// # Safety
    /// As [`reserve`](Self::reserve); `data` readable for `size` bytes.
    unsafe fn send(p: *mut Self, data: *const c_void, size: usize, type_id: u32, ns: i64) -> i32;
}

macro_rules! raw {
    ($t:ident: $close:ident, $interrupt:ident) => {
        impl Raw for sys::$t {
            unsafe fn close(p: *mut Self) {
                // SAFETY: the caller's.
                unsafe { sys::$close(p) };
            }
            unsafe fn interrupt(p: *mut Self) {
                // SAFETY: the caller's.
                unsafe { sys::$interrupt(p) };
            }
        }
    };
}

raw!(zipc_channel: zipc_channel_close, zipc_channel_interrupt);
raw!(zipc_publisher: zipc_publisher_close, zipc_publisher_interrupt);
raw!(zipc_subscriber: zipc_subscriber_close, zipc_subscriber_interrupt);
raw!(zipc_queue: zipc_queue_close, zipc_queue_interrupt);
raw!(zipc_rpc_client: zipc_rpc_client_close, zipc_rpc_client_interrupt);
raw!(zipc_rpc_worker: zipc_rpc_worker_close, zipc_rpc_worker_interrupt);

macro_rules! writer {
    ($t:ident: $reserve:ident, $commit:ident, $abort:ident, $flush:ident, $send:ident) => {
        impl Writer for sys::$t {
            #[inline]
            unsafe fn reserve(p: *mut Self, size: usize, buf: *mut *mut c_void, ns: i64) -> i32 {
                // SAFETY: the caller's.
                unsafe { sys::$reserve(p, size, buf, ns) }
            }
            #[inline]
            unsafe fn commit(p: *mut Self, size: usize, type_id: u32, flags: u32) -> i32 {
                // SAFETY: the caller's.
                unsafe { sys::$commit(p, size, type_id, flags) }
            }
            #[inline]
            unsafe fn abort(p: *mut Self) -> i32 {
                // SAFETY: the caller's.
                unsafe { sys::$abort(p) }
            }
            unsafe fn flush(p: *mut Self) -> i32 {
                // SAFETY: the caller's.
                unsafe { sys::$flush(p) }
            }
            #[inline]
            unsafe fn send(p: *mut Self, data: *const c_void, size: usize, type_id: u32, ns: i64) -> i32 {
                // SAFETY: the caller's.
                unsafe { sys::$send(p, data, size, type_id, ns) }
            }
        }
    };
}

writer!(zipc_channel: zipc_channel_reserve, zipc_channel_commit, zipc_channel_abort, zipc_channel_flush,
    zipc_channel_send);
writer!(zipc_publisher: zipc_publisher_reserve, zipc_publisher_commit, zipc_publisher_abort,
    zipc_publisher_flush, zipc_publisher_send);
writer!(zipc_queue: zipc_queue_reserve, zipc_queue_commit, zipc_queue_abort, zipc_queue_flush, zipc_queue_send);

// ------------------------------------------------------------------------
// Owned C endpoints and their interrupters
// ------------------------------------------------------------------------

/// An owned C endpoint: `Send` (it may move between threads), not `Sync`
/// (one thread at a time). The hot path reads `ptr` only.
pub(crate) struct Handle<T: Raw> {
    ptr: NonNull<T>,
    /// Shared with the endpoint's [`Interrupter`]s, once one was asked for.
    interrupters: OnceLock<Arc<Target>>,
}

// SAFETY: a C endpoint is not tied to a thread; it only must not be used by
// two threads at once, which !Sync (and &mut receivers) guarantee.
unsafe impl<T: Raw> Send for Handle<T> {}

impl<T: Raw> Handle<T> {
    /// Own the endpoint a C open call returned (with 0).
    pub(crate) fn new(p: *mut T) -> Handle<T> {
        Handle { ptr: NonNull::new(p).expect("zipc returned 0 and a NULL endpoint"), interrupters: OnceLock::new() }
    }

    #[inline]
    pub(crate) fn ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }

    #[inline]
    pub(crate) fn non_null(&self) -> NonNull<T> {
        self.ptr
    }

    pub(crate) fn interrupter(&self) -> Interrupter {
        let target = self.interrupters.get_or_init(|| {
            let wake: unsafe fn(*mut c_void) = |p| {
                // SAFETY: `p` is this Handle's endpoint, open while its Target holds it.
                unsafe { T::interrupt(p.cast()) }
            };
            Arc::new(Target(Mutex::new(Some(Open { ptr: self.ptr.cast(), wake }))))
        });
        Interrupter(Arc::clone(target))
    }
}

impl<T: Raw> Drop for Handle<T> {
    fn drop(&mut self) {
        if let Some(target) = self.interrupters.get() {
            // Detach the interrupters first (after any interrupt running
            // now): none may reach the endpoint once it is closed.
            *target.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        // SAFETY: we own the endpoint; every borrower (View, Batch,
        // Reservation) borrows the endpoint, so none is alive here.
        unsafe { T::close(self.ptr()) };
    }
}

impl<T: Raw> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Handle").field(&self.ptr).finish()
    }
}

/// An endpoint as its interrupters reach it: `None` once it is closed.
#[derive(Debug)]
struct Target(Mutex<Option<Open>>);

/// An open endpoint and its `*_interrupt` call.
#[derive(Debug)]
struct Open {
    ptr: NonNull<c_void>,
    wake: unsafe fn(*mut c_void),
}

// SAFETY: the C *_interrupt calls may run on any thread while the endpoint
// is open; `Target`'s lock keeps it open meanwhile.
unsafe impl Send for Open {}

/// Wakes the call blocked on an endpoint, from any thread: get one with
/// `interrupter()` on any endpoint ([`Producer`](crate::Producer),
/// [`Consumer`](crate::Consumer), [`Publisher`](crate::Publisher),
/// [`Subscriber`](crate::Subscriber), [`queue::Producer`](crate::queue::Producer),
/// [`queue::Consumer`](crate::queue::Consumer), [`RpcClient`](crate::RpcClient),
/// [`RpcWorker`](crate::RpcWorker)), clone it, move it to
/// another thread (it is `Send + Sync`; the endpoint itself stays `Send`
/// only). The blocked call fails with [`Error::Cancelled`]; the endpoint
/// works on afterwards.
///
/// A clean shutdown of a consumer thread is one call: the thread drains what
/// was sent, then its blocking call returns `Cancelled`.
///
/// ```
/// # use std::time::Duration;
/// # use zipc::{Consumer, Error, Options, Producer};
/// # let path = format!("/tmp/zipc-doc-int-{}.sock", std::process::id());
/// # let p2 = path.clone();
/// # let t = std::thread::spawn(move || Consumer::listen(&p2, 4096, Options::new()));
/// # let _prod = Producer::connect(&path, Options::new()).unwrap();
/// let mut cons: Consumer = // ...
/// # t.join().unwrap().unwrap();
/// let stop = cons.interrupter();
/// let worker = std::thread::spawn(move || {
///     loop {
///         match cons.view(None) {
///             Ok(v) => drop(v), // handle the message
///             Err(Error::Cancelled) => break, // interrupted: done
///             Err(e) => panic!("{e}"),
///         }
///     }
///     cons
/// });
/// stop.interrupt();
/// let _cons = worker.join().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Interrupter(Arc<Target>);

impl Interrupter {
    /// Wake the call blocked on the endpoint: it fails with
    /// [`Error::Cancelled`]. If none is blocked, the next blocking call does
    /// (the interrupt is latched until one call takes it). Never blocks for
    /// long. Returns `false` if the endpoint is closed already (dropped):
    /// there is nothing to wake.
    pub fn interrupt(&self) -> bool {
        let open = self.0 .0.lock().unwrap_or_else(PoisonError::into_inner);
        match &*open {
            Some(o) => {
                // SAFETY: open (the lock keeps it so); any thread may interrupt.
                unsafe { (o.wake)(o.ptr.as_ptr()) };
                true
            }
            None => false,
        }
    }
}

// ------------------------------------------------------------------------
// Writing
// ------------------------------------------------------------------------

impl<W: Writer> Handle<W> {
    #[inline]
    pub(crate) fn reserve(&mut self, size: usize, ns: i64) -> Result<Reservation<'_, W>> {
        let mut buf: *mut c_void = std::ptr::null_mut();
        // SAFETY: a live endpoint, a valid out pointer.
        check(unsafe { W::reserve(self.ptr(), size, &mut buf, ns) })?;
        Ok(Reservation { end: self.ptr, buf: buf.cast(), len: size, _borrow: PhantomData })
    }

    #[inline]
    pub(crate) fn send(&mut self, data: &[u8], type_id: u32, ns: i64) -> Result<()> {
        // SAFETY: a live endpoint; data valid for data.len() bytes.
        check(unsafe { W::send(self.ptr(), data.as_ptr().cast(), data.len(), type_id, ns) })
    }

    pub(crate) fn flush(&mut self) -> Result<()> {
        // SAFETY: a live endpoint.
        check(unsafe { W::flush(self.ptr()) })
    }

    pub(crate) fn reserve_tensor<T: Element>(&mut self, shape: &[usize], ns: i64) -> Result<TensorReservation<'_, T, W>> {
        let h = tensor::header(T::DTYPE, shape)?;
        let size = usize::try_from(h.data_offset + h.nbytes).map_err(|_| Error::MessageTooLarge)?;
        let mut res = self.reserve(size, ns)?;
        let hb = pod::bytes_of(&h);
        res[..hb.len()].copy_from_slice(hb);
        res[hb.len()..h.data_offset as usize].fill(0);
        Ok(TensorReservation { res, offset: h.data_offset as usize, _t: PhantomData })
    }

    pub(crate) fn send_tensor<T: Element>(&mut self, data: &[T], shape: &[usize], ns: i64) -> Result<()> {
        let mut r = self.reserve_tensor::<T>(shape, ns)?;
        if r.data_mut().len() != data.len() {
            return Err(Error::InvalidArgument);
        }
        pod::copy_bytes(pod::slice_bytes_mut(r.data_mut()), pod::slice_bytes(data));
        r.commit()
    }
}

/// The calls every writing endpoint has, each one call of its
/// [`Handle`]`<W: Writer>` (in the `impl` of a channel's producer, a
/// topic's publisher, a queue's producer). `$wait`: what `reserve` waits for.
macro_rules! writer_calls {
    ($wait:literal) => {
        #[doc = concat!("Reserve `size` writable bytes in the ring (16-byte aligned), waiting ", $wait,
            " up to `timeout`. Commit the [`Reservation`] to send it; dropping it aborts (nothing is sent).")]
        #[inline]
        pub fn reserve(&mut self, size: usize, timeout: Option<Duration>) -> Result<Reservation<'_>> {
            self.h.reserve(size, $crate::options::timeout_ns(timeout))
        }

        /// [`reserve`](Self::reserve) without waiting.
        #[inline]
        pub fn try_reserve(&mut self, size: usize) -> Result<Reservation<'_>> {
            self.h.reserve(size, sys::ZIPC_TRY)
        }

        /// Copy `data` in as one message of type `type_id`.
        #[inline]
        pub fn send(&mut self, data: &[u8], type_id: u32, timeout: Option<Duration>) -> Result<()> {
            self.h.send(data, type_id, $crate::options::timeout_ns(timeout))
        }

        /// [`send`](Self::send) without waiting.
        #[inline]
        pub fn try_send(&mut self, data: &[u8], type_id: u32) -> Result<()> {
            self.h.send(data, type_id, sys::ZIPC_TRY)
        }

        /// Send the bytes of a [`Pod`](crate::Pod) value as one message.
        #[inline]
        pub fn send_pod<T: $crate::Pod>(&mut self, value: &T, type_id: u32, timeout: Option<Duration>) -> Result<()> {
            self.send($crate::pod::bytes_of(value), type_id, timeout)
        }

        /// Send a slice of [`Pod`](crate::Pod) values as one message.
        pub fn send_slice<T: $crate::Pod>(&mut self, values: &[T], type_id: u32, timeout: Option<Duration>) -> Result<()> {
            self.send($crate::pod::slice_bytes(values), type_id, timeout)
        }

        /// Publish the messages staged by `Reservation::commit_more`. Never blocks.
        pub fn flush(&mut self) -> Result<()> {
            self.h.flush()
        }

        /// Send `data` as a C-contiguous tensor of `shape` (a
        /// [`TYPE_TENSOR`](crate::types::TYPE_TENSOR) message: header, then
        /// the data 64-byte aligned in the ring). `data.len()` must be the
        /// product of `shape` ([`Error::InvalidArgument`](crate::Error::InvalidArgument)).
        pub fn send_tensor<T: $crate::Element>(
            &mut self,
            data: &[T],
            shape: &[usize],
            timeout: Option<Duration>,
        ) -> Result<()> {
            self.h.send_tensor(data, shape, $crate::options::timeout_ns(timeout))
        }

        /// Reserve a tensor message of `shape` and write its header; fill
        /// `TensorReservation::data_mut` in place, then commit it.
        pub fn reserve_tensor<T: $crate::Element>(
            &mut self,
            shape: &[usize],
            timeout: Option<Duration>,
        ) -> Result<TensorReservation<'_, T>> {
            self.h.reserve_tensor(shape, $crate::options::timeout_ns(timeout))
        }
    };
}
pub(crate) use writer_calls;

/// Writable bytes reserved in the ring (`&mut [u8]` through `Deref`), of a
/// channel's producer, a topic's publisher or a queue's producer (each
/// names it `Reservation`).
///
/// [`commit`](Self::commit) sends them; dropping the reservation aborts it
/// (it leaves no trace). It borrows the endpoint mutably, so nothing else
/// can be sent meanwhile, and it cannot be used after commit:
///
/// ```compile_fail,E0382
/// # fn f(p: &mut zipc::Producer) -> zipc::Result<()> {
/// let mut r = p.reserve(8, None)?;
/// r.commit(8, 1)?;
/// r[0] = 1; // error: `r` was moved by commit
/// # Ok(()) }
/// ```
#[must_use = "a reservation is aborted when dropped: commit it"]
pub struct Reservation<'a, W: Writer> {
    end: NonNull<W>,
    buf: *mut u8,
    len: usize,
    _borrow: PhantomData<&'a mut W>,
}

impl<W: Writer> Reservation<'_, W> {
    /// Publish the first `len` bytes (`len <= self.len()`) as a message of
    /// type `type_id`. Never blocks.
    #[inline]
    pub fn commit(self, len: usize, type_id: u32) -> Result<()> {
        self.finish(len, type_id, 0)
    }

    /// Stage the message: it becomes visible with the next
    /// [`commit`](Self::commit) or the endpoint's `flush` (batch publish).
    #[inline]
    pub fn commit_more(self, len: usize, type_id: u32) -> Result<()> {
        self.finish(len, type_id, sys::ZIPC_COMMIT_MORE)
    }

    #[inline]
    fn finish(self, len: usize, type_id: u32, flags: u32) -> Result<()> {
        if len > self.len {
            return self.refused(-libc::EINVAL);
        }
        // SAFETY: a live endpoint with this reservation open.
        let rc = unsafe { W::commit(self.end.as_ptr(), len, type_id, flags) };
        if rc != 0 {
            return self.refused(rc);
        }
        std::mem::forget(self);
        Ok(())
    }

    /// The commit was refused: abort (`self` is dropped) and say why. Out of
    /// line so that `commit` inlines (see `error::check`).
    #[cold]
    #[inline(never)]
    fn refused(self, rc: i32) -> Result<()> {
        crate::error::failed(rc)
    }

    /// Drop the reservation explicitly (same as letting it go out of scope).
    pub fn abort(self) {}

    /// The bytes reserved.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self
    }
}

impl<W: Writer> Drop for Reservation<'_, W> {
    fn drop(&mut self) {
        // SAFETY: a live endpoint (borrowed) with this reservation open.
        unsafe { W::abort(self.end.as_ptr()) };
    }
}

impl<W: Writer> std::ops::Deref for Reservation<'_, W> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the C core gave us len writable bytes until commit/abort,
        // which need `self` by value or Drop.
        unsafe { std::slice::from_raw_parts(self.buf, self.len) }
    }
}

impl<W: Writer> std::ops::DerefMut for Reservation<'_, W> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as Deref; exclusive through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.buf, self.len) }
    }
}

impl<W: Writer> std::fmt::Debug for Reservation<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation").field("len", &self.len).finish()
    }
}

/// A reserved tensor message whose header is written: fill
/// [`data_mut`](Self::data_mut), then [`commit`](Self::commit). Dropping it aborts.
#[must_use = "a reservation is aborted when dropped: commit it"]
pub struct TensorReservation<'a, T: Element, W: Writer> {
    res: Reservation<'a, W>,
    offset: usize,
    _t: PhantomData<T>,
}

impl<T: Element, W: Writer> TensorReservation<'_, T, W> {
    /// The elements, in place in the ring (C order), 64-byte aligned.
    pub fn data_mut(&mut self) -> &mut [T] {
        let off = self.offset;
        pod::cast_slice_mut(&mut self.res[off..]).expect("ring slots are 16-byte aligned")
    }

    /// Publish the tensor (type [`TYPE_TENSOR`](crate::types::TYPE_TENSOR)).
    pub fn commit(self) -> Result<()> {
        let len = self.res.len();
        self.res.commit(len, sys::ZIPC_TYPE_TENSOR)
    }

    /// Drop the reservation explicitly.
    pub fn abort(self) {}
}

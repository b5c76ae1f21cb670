//! Rpc: many [`RpcClient`]s, a pool of [`RpcWorker`]s, attached to a
//! service by name (`include/zipc/rpc.h`). A client issues calls (a method
//! id and a request) and gets a call id for each; any number are in flight
//! (as many as its lane holds) and their replies come in any order. Each
//! call is taken by one worker, which writes the reply in place, in the
//! room the caller reserved for it in the call's own frame. No server
//! process: any member may be SIGKILLed at any time.
//!
//! The zero-copy objects follow the queue's design:
//!
//! - a [`Reservation`] (from [`RpcClient::reserve`]) borrows the client
//!   mutably: [`commit`](Reservation::commit) sends the request written in
//!   place, dropping it withdraws it (no worker sees it);
//! - a [`Reply`] (from [`RpcClient::wait`] / [`wait_any`](RpcClient::wait_any))
//!   borrows the client mutably and is read in place ([`Msg`] through
//!   `Deref`); dropping it gives the frame back. Its
//!   [`status`](Reply::status) says how the call ended: `Ok` (the worker's
//!   answer), the worker's error, or the service's: `Os(ECONNRESET)` (its
//!   worker died), [`Error::Timeout`] (its deadline passed),
//!   [`Error::Cancelled`];
//! - a [`Request`] (from [`RpcWorker::next`]) borrows the worker *shared*:
//!   a worker may hold any number and answer them in any order
//!   ([`respond`](Request::respond) after writing
//!   [`reply_buf`](Request::reply_buf), or [`fail`](Request::fail)).
//!   Dropped unanswered, it is answered `Os(ECONNRESET)` (the worker gave
//!   up on it, as one that dies does): a caller never waits for nothing.
//!
//! A streamed reply: the worker sends parts with
//! [`respond_part`](Request::respond_part) (each returns once the caller
//! released it), then the final reply. The caller's `wait` hands out each
//! part as a [`Reply`] with [`is_part`](Reply::is_part) and
//! [`part`](Reply::part) 1, 2, ...; the call stays in flight until the final
//! reply, which comes once the last part is dropped.
//!
//! The calls' own failures are the replies' status; `wait` fails only
//! about the wait: [`Error::Timeout`] / [`Error::WouldBlock`] (no reply
//! yet), [`Error::InvalidArgument`] (no such call in flight),
//! [`Error::Cancelled`] (an [`Interrupter`]).
//!
//! ```
//! use std::time::Duration;
//! use zipc::rpc::{CallOptions, Config, RpcClient, RpcWorker};
//! use zipc::Options;
//!
//! # fn main() -> zipc::Result<()> {
//! # let name = format!("zipc-doc-rpc-{}", std::process::id());
//! # let name = name.as_str();
//! let mut client = RpcClient::connect(name, Config::default(), Options::new())?;
//! // Usually other processes, a pool of them:
//! let worker = RpcWorker::serve(name, Config::default(), Options::new())?;
//!
//! let id = client.call(1, b"ping", CallOptions::default())?;
//! let mut req = worker.next(Some(Duration::from_secs(1)))?;
//! assert_eq!((req.method(), req.data()), (1, &b"ping"[..]));
//! req.reply_buf()[..4].copy_from_slice(b"pong");
//! req.respond(4, 0)?;
//!
//! let reply = client.wait(id, Some(Duration::from_secs(1)))?;
//! assert_eq!(reply.status(), Ok(()));
//! assert_eq!(reply.data(), b"pong");
//! # Ok(()) }
//! ```
use crate::channel::Msg;
use crate::endpoint::{self, c_string};
use crate::error::{check, Error, Result};
use crate::options::{timeout_ns, Options};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::ptr::NonNull;
use std::time::{Duration, Instant};
use zipc_sys as sys;

pub use crate::endpoint::Interrupter;

/// The reply room a call reserves unless told otherwise (`ZIPC_RPC_DEFAULT_REPLY`).
pub const DEFAULT_REPLY: usize = sys::ZIPC_RPC_DEFAULT_REPLY as usize;

/// How a new service is laid out (`struct zipc_rpc_config`); ignored when
/// it exists already. `Config::default()`: 1 MiB lanes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Config {
    /// Ring bytes per client (rounded up to a power of two); 0: 1 MiB. A
    /// call's request and reply room share its frame: at most half a lane.
    pub lane_capacity: u64,
}

impl Config {
    fn to_c(self) -> sys::zipc_rpc_config {
        sys::zipc_rpc_config { lane_capacity: self.lane_capacity, reserved: [0; 2] }
    }
}

/// How a call is made. `CallOptions::default()`: no deadline,
/// [`DEFAULT_REPLY`] bytes of reply room, not idempotent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallOptions {
    /// The call's deadline, counted from its commit (`None`: none). Past
    /// it the call is cancelled and its reply's status is
    /// [`Error::Timeout`]. `call` and `reserve` also wait that long for
    /// room in the lane.
    pub timeout: Option<Duration>,
    /// The most bytes the worker may answer with.
    pub reply_capacity: usize,
    /// Run it again on another worker if its worker dies
    /// (`ZIPC_RPC_IDEMPOTENT`); otherwise that fails it with `Os(ECONNRESET)`.
    pub idempotent: bool,
}

impl Default for CallOptions {
    fn default() -> CallOptions {
        CallOptions { timeout: None, reply_capacity: DEFAULT_REPLY, idempotent: false }
    }
}

impl CallOptions {
    fn flags(&self) -> u32 {
        if self.idempotent {
            sys::ZIPC_RPC_IDEMPOTENT
        } else {
            0
        }
    }
}

/// A C reply or request as the [`Msg`] its payload is read through (the
/// call id in `seq`; a request has no type id: 0).
fn as_msg(data: *const std::ffi::c_void, size: u32, type_id: u32, id: u64) -> sys::zipc_msg {
    sys::zipc_msg { data, size, type_: type_id, seq: id, end_: 0 }
}

// ------------------------------------------------------------------------
// Client
// ------------------------------------------------------------------------

/// A service's client. One thread at a time (`Send`, not `Sync`). Every
/// call that can wait takes a timeout (`None`: forever); the `try_`
/// variants never block ([`Error::WouldBlock`]). Dropping it withdraws its
/// calls in flight and leaves the service.
#[derive(Debug)]
pub struct RpcClient {
    h: endpoint::Handle<sys::zipc_rpc_client>,
}

impl RpcClient {
    /// Attach to the service `name` (a name, not a path) as a client,
    /// creating it with `cfg` if nobody holds it. Waits up to the options'
    /// timeout. `Os(EPROTOTYPE)`: the name is a queue; [`Error::NoSpace`]:
    /// 32 clients are attached.
    pub fn connect(name: impl AsRef<Path>, cfg: Config, opts: Options) -> Result<RpcClient> {
        let n = c_string(name.as_ref())?;
        let (c, o) = (cfg.to_c(), opts.to_c());
        let mut out = std::ptr::null_mut();
        // SAFETY: valid pointers for the call; `o.label` borrows `opts`.
        check(unsafe { sys::zipc_rpc_connect(&mut out, n.as_ptr(), &c, &o) })?;
        Ok(RpcClient { h: endpoint::Handle::new(out) })
    }

    /// Copy `request` in and send it as a call of `method`; its call id.
    pub fn call(&mut self, method: u32, request: &[u8], opts: CallOptions) -> Result<u64> {
        let mut id = 0u64;
        // SAFETY: a live endpoint; request valid for its length; a valid out pointer.
        check(unsafe {
            sys::zipc_rpc_call(
                self.h.ptr(),
                request.as_ptr().cast(),
                request.len(),
                method,
                opts.flags(),
                opts.reply_capacity,
                timeout_ns(opts.timeout),
                &mut id,
            )
        })?;
        Ok(id)
    }

    /// [`call`](Self::call) without waiting for room in the lane (the
    /// call's deadline is still `opts.timeout`): [`Error::WouldBlock`] when
    /// it is full.
    pub fn try_call(&mut self, method: u32, request: &[u8], opts: CallOptions) -> Result<u64> {
        let mut res = self.try_reserve(request.len(), opts)?;
        crate::pod::copy_bytes(&mut res, request);
        res.commit(request.len(), method)
    }

    /// Room for a request of `size` bytes (written in place, then
    /// [`commit`](Reservation::commit)ted) with `opts.reply_capacity` of
    /// reply. Waits up to `opts.timeout` for room in the lane;
    /// [`Error::MessageTooLarge`] if request and reply cannot fit in it.
    ///
    /// Room in the lane: frames come back in the order the calls were
    /// made, once their replies are released, so one slow call holds back
    /// the room of every later one. A client that keeps calls in flight
    /// should wait for replies when its lane is full
    /// ([`try_call`](Self::try_call) / [`try_reserve`](Self::try_reserve):
    /// [`Error::WouldBlock`]), not in `call` / `reserve`: the replies that
    /// would make room are only released by its own waits, so a blocked
    /// `call` / `reserve` then waits until its timeout.
    pub fn reserve(&mut self, size: usize, opts: CallOptions) -> Result<Reservation<'_>> {
        self.reserve_ns(size, opts, timeout_ns(opts.timeout))
    }

    /// [`reserve`](Self::reserve) without waiting for room in the lane.
    pub fn try_reserve(&mut self, size: usize, opts: CallOptions) -> Result<Reservation<'_>> {
        self.reserve_ns(size, opts, sys::ZIPC_TRY)
    }

    fn reserve_ns(&mut self, size: usize, opts: CallOptions, ns: i64) -> Result<Reservation<'_>> {
        let mut buf = std::ptr::null_mut();
        // SAFETY: a live endpoint, a valid out pointer.
        check(unsafe { sys::zipc_rpc_reserve(self.h.ptr(), size, opts.reply_capacity, &mut buf, ns) })?;
        Ok(Reservation {
            c: self.h.non_null(),
            buf: buf.cast(),
            len: size,
            deadline: timeout_ns(opts.timeout),
            flags: opts.flags(),
            _borrow: PhantomData,
        })
    }

    /// The reply of call `id`, waiting up to `timeout` for it.
    pub fn wait(&mut self, id: u64, timeout: Option<Duration>) -> Result<Reply<'_>> {
        self.wait_ns(id, timeout_ns(timeout))
    }

    /// [`wait`](Self::wait) without waiting.
    pub fn try_wait(&mut self, id: u64) -> Result<Reply<'_>> {
        self.wait_ns(id, sys::ZIPC_TRY)
    }

    /// The reply of whichever call ends first, waiting up to `timeout`
    /// ([`Error::WouldBlock`] at once when no call is in flight).
    pub fn wait_any(&mut self, timeout: Option<Duration>) -> Result<Reply<'_>> {
        self.wait_ns(sys::ZIPC_RPC_ANY, timeout_ns(timeout))
    }

    /// [`wait_any`](Self::wait_any) without waiting.
    pub fn try_wait_any(&mut self) -> Result<Reply<'_>> {
        self.wait_ns(sys::ZIPC_RPC_ANY, sys::ZIPC_TRY)
    }

    fn wait_ns(&mut self, id: u64, ns: i64) -> Result<Reply<'_>> {
        let mut r = sys::zipc_rpc_reply::default();
        // SAFETY: a live endpoint, a valid out pointer.
        check(unsafe { sys::zipc_rpc_wait(self.h.ptr(), id, &mut r, ns) })?;
        Ok(Reply { c: self.h.non_null(), msg: as_msg(r.data, r.size, r.type_, r.id), r, _borrow: PhantomData })
    }

    /// The call will not be answered (a worker holding it sees
    /// [`Request::cancelled`]); its frame comes back by itself.
    /// [`Error::InvalidArgument`]: it is not in flight.
    pub fn cancel(&mut self, id: u64) -> Result<()> {
        // SAFETY: a live endpoint.
        check(unsafe { sys::zipc_rpc_cancel(self.h.ptr(), id) })
    }

    /// Calls issued and not yet released.
    pub fn in_flight(&self) -> usize {
        // SAFETY: a live endpoint.
        unsafe { sys::zipc_rpc_in_flight(self.h.ptr()) as usize }
    }

    /// A handle that wakes this client's blocked `wait` (or `reserve`) from
    /// another thread (see [`Interrupter`]).
    pub fn interrupter(&self) -> Interrupter {
        self.h.interrupter()
    }

    /// The C endpoint, for calls through `zipc-sys`. It stays owned by
    /// `self`: do not close it, and follow the C contracts.
    pub fn as_ptr(&self) -> *mut sys::zipc_rpc_client {
        self.h.ptr()
    }
}

/// Readable when a reply (or room in the lane) may be there. Owned by the client.
impl AsRawFd for RpcClient {
    fn as_raw_fd(&self) -> RawFd {
        // SAFETY: a live endpoint; !Sync, so no concurrent call.
        unsafe { sys::zipc_rpc_client_fd(self.h.ptr()) }
    }
}

/// A request being written in place (`&mut [u8]` through `Deref`, 16-byte
/// aligned), from [`RpcClient::reserve`]: [`commit`](Self::commit) sends
/// it; dropping it withdraws it (no worker sees it).
#[must_use = "a reservation is withdrawn when dropped: commit it"]
pub struct Reservation<'a> {
    c: NonNull<sys::zipc_rpc_client>,
    buf: *mut u8,
    len: usize,
    deadline: i64,
    flags: u32,
    _borrow: PhantomData<&'a mut RpcClient>,
}

impl Reservation<'_> {
    /// Send the first `len` bytes (`len <= self.len()`) as a call of
    /// `method`, with the options given to `reserve`; its call id. Never
    /// blocks. On error the request is withdrawn.
    pub fn commit(self, len: usize, method: u32) -> Result<u64> {
        let mut id = 0u64;
        // SAFETY: a live endpoint (borrowed) with this reservation open.
        check(unsafe { sys::zipc_rpc_commit(self.c.as_ptr(), len, method, self.flags, self.deadline, &mut id) })?;
        std::mem::forget(self);
        Ok(id)
    }

    /// Drop the reservation explicitly (same as letting it go out of scope).
    pub fn abort(self) {}
}

impl Drop for Reservation<'_> {
    /// `zipc_rpc_abort`: no worker sees it, and its room is the lane's
    /// again at once (a failed commit left it open: this drops it too).
    fn drop(&mut self) {
        // SAFETY: a live endpoint (borrowed) with this reservation open.
        unsafe { sys::zipc_rpc_abort(self.c.as_ptr()) };
    }
}

impl std::ops::Deref for Reservation<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the C core gave us len writable bytes until commit, which
        // needs `self` by value, or Drop.
        unsafe { std::slice::from_raw_parts(self.buf, self.len) }
    }
}

impl std::ops::DerefMut for Reservation<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as Deref; exclusive through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.buf, self.len) }
    }
}

impl std::fmt::Debug for Reservation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation").field("len", &self.len).finish()
    }
}

/// A call's reply, read in place in the call's frame (a [`Msg`] through
/// `Deref`: bytes, type id, typed reads; `seq` is the call id). Dropping it
/// gives the frame back. It borrows the client mutably: release it before
/// the next call or wait.
pub struct Reply<'a> {
    c: NonNull<sys::zipc_rpc_client>,
    r: sys::zipc_rpc_reply,
    msg: sys::zipc_msg,
    _borrow: PhantomData<&'a mut RpcClient>,
}

impl Reply<'_> {
    /// The call id.
    pub fn id(&self) -> u64 {
        self.r.id
    }

    /// The call's method.
    pub fn method(&self) -> u32 {
        self.r.method
    }

    /// A part of a streamed reply (`ZIPC_RPC_REPLY_MORE`), not the final
    /// reply: the call stays in flight, and its next part or final reply
    /// comes once this one is dropped.
    pub fn is_part(&self) -> bool {
        self.r.flags & sys::ZIPC_RPC_REPLY_MORE != 0
    }

    /// A part's number (1, 2, ...); 0 for the final reply.
    pub fn part(&self) -> u32 {
        self.r.part
    }

    /// How the call ended: `Ok` (the payload is the worker's answer), the
    /// worker's error, or the service's (`Os(ECONNRESET)`: its worker died;
    /// [`Error::Timeout`]: its deadline passed; [`Error::Corrupted`]: a
    /// malformed reply). On an error the payload is empty.
    pub fn status(&self) -> Result<()> {
        check(self.r.status)
    }

    /// Give the frame back now, and learn whether that went well (dropping
    /// gives it back without telling).
    pub fn release(self) -> Result<()> {
        let r = std::mem::ManuallyDrop::new(self);
        // SAFETY: a live endpoint (borrowed), a reply it handed out.
        check(unsafe { sys::zipc_rpc_reply_release(r.c.as_ptr(), &r.r) })
    }
}

impl Drop for Reply<'_> {
    fn drop(&mut self) {
        // SAFETY: a live endpoint (borrowed), a reply it handed out.
        unsafe { sys::zipc_rpc_reply_release(self.c.as_ptr(), &self.r) };
    }
}

impl std::ops::Deref for Reply<'_> {
    type Target = Msg;
    fn deref(&self) -> &Msg {
        Msg::from_raw(&self.msg)
    }
}

impl std::fmt::Debug for Reply<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("id", &self.r.id)
            .field("method", &self.r.method)
            .field("status", &self.status())
            .field("part", &self.r.part)
            .field("type_id", &self.r.type_)
            .field("len", &self.r.size)
            .finish()
    }
}

// ------------------------------------------------------------------------
// Worker
// ------------------------------------------------------------------------

/// One of a service's workers. One thread at a time (`Send`, not `Sync`).
/// Dropping it leaves the service; requests it still holds go to another
/// worker as if it died (`Os(ECONNRESET)`, or run again if idempotent).
#[derive(Debug)]
pub struct RpcWorker {
    h: endpoint::Handle<sys::zipc_rpc_worker>,
}

impl RpcWorker {
    /// Attach to the service `name` as a worker, creating it with `cfg` if
    /// nobody holds it. Fails as [`RpcClient::connect`].
    pub fn serve(name: impl AsRef<Path>, cfg: Config, opts: Options) -> Result<RpcWorker> {
        let n = c_string(name.as_ref())?;
        let (c, o) = (cfg.to_c(), opts.to_c());
        let mut out = std::ptr::null_mut();
        // SAFETY: valid pointers for the call; `o.label` borrows `opts`.
        check(unsafe { sys::zipc_rpc_serve(&mut out, n.as_ptr(), &c, &o) })?;
        Ok(RpcWorker { h: endpoint::Handle::new(out) })
    }

    /// The next request, waiting up to `timeout`. Requests whose caller
    /// cancelled, died or passed the deadline are never handed out. The
    /// worker may hold any number at once.
    pub fn next(&self, timeout: Option<Duration>) -> Result<Request<'_>> {
        self.next_ns(timeout_ns(timeout))
    }

    /// [`next`](Self::next) without waiting.
    pub fn try_next(&self) -> Result<Request<'_>> {
        self.next_ns(sys::ZIPC_TRY)
    }

    fn next_ns(&self, ns: i64) -> Result<Request<'_>> {
        let mut r = sys::zipc_rpc_request::default();
        // SAFETY: a live endpoint (!Sync: this thread's), a valid out pointer.
        check(unsafe { sys::zipc_rpc_next(self.h.ptr(), &mut r, ns) })?;
        Ok(Request { w: self.h.non_null(), msg: as_msg(r.data, r.size, 0, r.id), r, _borrow: PhantomData })
    }

    /// A handle that wakes this worker's blocked `next` from another thread
    /// (see [`Interrupter`]).
    pub fn interrupter(&self) -> Interrupter {
        self.h.interrupter()
    }

    /// The C endpoint, for calls through `zipc-sys`. It stays owned by
    /// `self`: do not close it, and follow the C contracts.
    pub fn as_ptr(&self) -> *mut sys::zipc_rpc_worker {
        self.h.ptr()
    }
}

/// Readable when a request may be there. Owned by the worker.
impl AsRawFd for RpcWorker {
    fn as_raw_fd(&self) -> RawFd {
        // SAFETY: a live endpoint; !Sync, so no concurrent call.
        unsafe { sys::zipc_rpc_worker_fd(self.h.ptr()) }
    }
}

/// A request a worker holds: its payload in place (a [`Msg`] through
/// `Deref`; `seq` is the call id; a request has no type id, its method
/// says what it holds), and the room for the reply
/// ([`reply_buf`](Self::reply_buf)). Answer it with
/// [`respond`](Self::respond) or [`fail`](Self::fail); dropped unanswered,
/// it is answered `Os(ECONNRESET)`. It borrows the worker shared, and is
/// neither `Send` nor `Sync` (the worker's thread answers it).
pub struct Request<'a> {
    w: NonNull<sys::zipc_rpc_worker>,
    r: sys::zipc_rpc_request,
    msg: sys::zipc_msg,
    _borrow: PhantomData<&'a RpcWorker>,
}

impl Request<'_> {
    /// The call id.
    pub fn id(&self) -> u64 {
        self.r.id
    }

    /// The method the caller asked for.
    pub fn method(&self) -> u32 {
        self.r.method
    }

    /// Whether it may run again if this worker dies (`ZIPC_RPC_IDEMPOTENT`).
    pub fn idempotent(&self) -> bool {
        self.r.flags & sys::ZIPC_RPC_IDEMPOTENT != 0
    }

    /// 1, or 2 for an idempotent call run again after its worker died.
    pub fn attempt(&self) -> u32 {
        self.r.attempt
    }

    /// When the caller stops waiting (`None`: no deadline).
    pub fn deadline(&self) -> Option<Instant> {
        if self.r.deadline_ns == i64::MAX {
            return None;
        }
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: a valid out pointer. CLOCK_MONOTONIC: the C core's clock, and Instant's.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        #[allow(clippy::useless_conversion)] // time_t and c_long are i64 on 64-bit targets only
        let now_ns = i64::from(ts.tv_sec) * 1_000_000_000 + i64::from(ts.tv_nsec);
        let now = Instant::now();
        let left = self.r.deadline_ns.saturating_sub(now_ns);
        Some(if left >= 0 {
            now + Duration::from_nanos(left as u64)
        } else {
            now.checked_sub(Duration::from_nanos(left.unsigned_abs())).unwrap_or(now)
        })
    }

    /// The room for the reply (16-byte aligned; a tensor's data, at its
    /// `data_offset`, 64-byte aligned), in place in the caller's frame.
    pub fn reply_buf(&mut self) -> &mut [u8] {
        if self.r.reply_capacity == 0 {
            return &mut [];
        }
        // SAFETY: the C core gave this worker reply_capacity writable bytes
        // at reply while it holds the request (until respond, which takes
        // `self`, or Drop); exclusive through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.r.reply.cast::<u8>(), self.r.reply_capacity as usize) }
    }

    /// The caller cancelled the call or its deadline passed: a reply would be dropped.
    pub fn cancelled(&self) -> bool {
        // SAFETY: a live endpoint (borrowed), a request it holds.
        unsafe { sys::zipc_rpc_cancelled(self.w.as_ptr(), &self.r) == 1 }
    }

    /// Send the reply: the first `len` bytes of [`reply_buf`](Self::reply_buf),
    /// of type `type_id`. Never blocks. A cancelled call's reply is dropped
    /// (`Ok`). `len` over the reply room: [`Error::InvalidArgument`], and
    /// the caller's reply is [`Error::MessageTooLarge`]. A part still out
    /// (a [`respond_part`](Self::respond_part) that timed out, and no
    /// [`part_wait`](Self::part_wait) since): `Os(EBUSY)`, and the caller's
    /// reply is `Os(EBUSY)` too.
    pub fn respond(self, len: usize, type_id: u32) -> Result<()> {
        if len > self.r.reply_capacity as usize {
            self.answer(0, 0, -libc::EMSGSIZE)?;
            return Err(Error::InvalidArgument);
        }
        // SAFETY: a live endpoint (borrowed), a request it holds.
        match unsafe { sys::zipc_rpc_respond(self.w.as_ptr(), &self.r, len, type_id, 0) } {
            // the caller may still read the room: only a status may end the call
            rc if rc == -libc::EBUSY => {
                self.answer(0, 0, rc)?;
                check(rc)
            }
            rc => {
                std::mem::forget(self);
                check(rc)
            }
        }
    }

    /// Send a part of a streamed reply: the first `len` bytes of
    /// [`reply_buf`](Self::reply_buf), of type `type_id` (the caller's
    /// [`Reply::is_part`]). Waits up to `timeout` for the caller to release
    /// it; then the reply room is free for the next part or the final
    /// [`respond`](Self::respond). The request stays held whatever the
    /// outcome: [`Error::Cancelled`] (the caller cancelled, left or passed
    /// its deadline; or an [`Interrupter`]), [`Error::Timeout`] (the part is
    /// still out: [`part_wait`](Self::part_wait) waits more; until it
    /// returns, only [`fail`](Self::fail) may follow),
    /// [`Error::InvalidArgument`] (`len` over the reply room). End the call
    /// with `respond` or `fail` (or drop it).
    pub fn respond_part(&mut self, len: usize, type_id: u32, timeout: Option<Duration>) -> Result<()> {
        // SAFETY: a live endpoint (borrowed), a request it holds; the reply
        // room is not borrowed (&mut self).
        check(unsafe { sys::zipc_rpc_respond_part(self.w.as_ptr(), &self.r, len, type_id, timeout_ns(timeout)) })
    }

    /// Wait up to `timeout` until the last part sent was released (after
    /// [`respond_part`](Self::respond_part) timed out): then the reply room
    /// is free again. `Ok` at once if no part is out; [`Error::Cancelled`],
    /// [`Error::Timeout`] as `respond_part`.
    pub fn part_wait(&self, timeout: Option<Duration>) -> Result<()> {
        // SAFETY: a live endpoint (borrowed), a request it holds.
        check(unsafe { sys::zipc_rpc_part_wait(self.w.as_ptr(), &self.r, timeout_ns(timeout)) })
    }

    /// Answer with an error: the caller's reply has it as its status, and
    /// no payload.
    pub fn fail(self, err: Error) -> Result<()> {
        self.answer(0, 0, -err.errno())
    }

    fn answer(self, len: usize, type_id: u32, status: i32) -> Result<()> {
        let r = std::mem::ManuallyDrop::new(self);
        // SAFETY: a live endpoint (borrowed), a request it holds, answered once.
        check(unsafe { sys::zipc_rpc_respond(r.w.as_ptr(), &r.r, len, type_id, status) })
    }
}

impl Drop for Request<'_> {
    fn drop(&mut self) {
        // SAFETY: a live endpoint (borrowed), a request it holds, answered once.
        unsafe { sys::zipc_rpc_respond(self.w.as_ptr(), &self.r, 0, 0, -libc::ECONNRESET) };
    }
}

impl std::ops::Deref for Request<'_> {
    type Target = Msg;
    fn deref(&self) -> &Msg {
        Msg::from_raw(&self.msg)
    }
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.r.id)
            .field("method", &self.r.method)
            .field("attempt", &self.r.attempt)
            .field("len", &self.r.size)
            .field("reply_capacity", &self.r.reply_capacity)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_and_options_are_the_c_values() {
        let c = Config { lane_capacity: 1 << 16 }.to_c();
        assert_eq!((c.lane_capacity, c.reserved), (1 << 16, [0, 0]));
        assert_eq!(Config::default().to_c(), sys::zipc_rpc_config::default());
        let o = CallOptions::default();
        assert_eq!((o.timeout, o.reply_capacity, o.flags()), (None, 4096, 0));
        assert_eq!(CallOptions { idempotent: true, ..o }.flags(), sys::ZIPC_RPC_IDEMPOTENT);
    }
}

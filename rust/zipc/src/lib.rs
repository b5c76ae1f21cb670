//! zipc — zero-copy shared-memory IPC for Linux (safe Rust binding of the
//! zipc C core).
//!
//! A channel has one [`Producer`] and one [`Consumer`], usually in two
//! processes. The producer writes messages straight into a shared ring
//! ([`Producer::reserve`] → [`Reservation`], or [`Producer::send`] to copy);
//! the consumer reads them in place ([`Consumer::view`] → [`View`],
//! [`Consumer::drain`] → [`Batch`]). The borrow checker enforces the
//! zero-copy lifetimes:
//!
//! - a [`Reservation`] borrows the producer; its `commit` consumes it, and
//!   dropping it uncommitted aborts it (nothing is sent);
//! - a [`View`] / [`Batch`] borrows the consumer; dropping it releases the
//!   ring space to the producer, and no byte slice obtained from it can
//!   outlive it;
//! - endpoints are `Send` but not `Sync`: the C core allows one thread at a
//!   time per endpoint. The one exception is an [`Interrupter`] (`Send +
//!   Sync`), which wakes the endpoint's blocked call from any thread
//!   ([`Error::Cancelled`]).
//!
//! Blocking calls take `Option<Duration>` (`None`: wait forever) and have
//! `try_` variants that never block: they fail with [`Error::WouldBlock`]
//! instead of waiting. Endpoints implement [`AsRawFd`](std::os::fd::AsRawFd)
//! for epoll/poll.
//!
//! A topic ([`topic`]) has one [`Publisher`] and any number of
//! [`Subscriber`]s, each with its own overflow [`Policy`]
//! ([`Subscription`]); its views and reservations follow the same rules.
//!
//! A queue ([`queue`]) has any number of [`queue::Producer`]s and
//! [`queue::Consumer`]s: each message is taken by exactly one live consumer,
//! and delivered again if that one dies holding it
//! ([`queue::Delivery::attempt`]).
//!
//! An rpc service ([`rpc`]) has any number of [`RpcClient`]s and a pool of
//! [`RpcWorker`]s: each call is taken by one worker, which writes the reply
//! in place in the caller's frame; calls are in flight at once, replies
//! come in any order ([`rpc::Reply`]), with deadlines and cancellation.
//!
//! A tensor store ([`store`]) is a set of named, read-only tensors
//! published once into a sealed segment ([`Store::publish`], or a
//! safetensors file) and mapped zero-copy by every process that opens the
//! name ([`Store::open`]); tensors borrow their [`Store`].
//!
//! A channel is found by a name (no '/': an abstract Unix socket, nothing on
//! disk) or by a Unix socket path (with a '/').
//!
//! ```
//! use std::time::Duration;
//! use zipc::{Consumer, Options, Producer};
//!
//! # fn main() -> zipc::Result<()> {
//! let path = format!("/tmp/zipc-doc-{}.sock", std::process::id());
//! let p2 = path.clone();
//! // Usually another process; a thread here.
//! let listener = std::thread::spawn(move || Consumer::listen(&p2, 1 << 16, Options::new()));
//! let mut prod = Producer::connect(&path, Options::new())?;
//! let mut cons = listener.join().unwrap()?;
//!
//! // Write in place, then commit 5 bytes as a message of type 7.
//! let mut r = prod.reserve(64, None)?;
//! r[..5].copy_from_slice(b"hello");
//! r.commit(5, 7)?;
//!
//! // Read in place; dropping the view releases it.
//! let v = cons.view(Some(Duration::from_secs(1)))?;
//! assert_eq!((v.data(), v.type_id()), (&b"hello"[..], 7));
//! drop(v);
//!
//! // Typed messages and tensors.
//! prod.send_pod(&[1u32, 2, 3], 8, None)?;
//! prod.send_tensor(&[0.0f32, 0.5, 1.0, 1.5, 2.0, 2.5], &[2, 3], None)?;
//! assert_eq!(cons.recv_pod::<[u32; 3]>(None)?, ([1, 2, 3], 8));
//! let v = cons.view(None)?;
//! let t = v.tensor()?;
//! assert_eq!((t.shape(), t.data::<f32>()?[5]), (&[2i64, 3][..], 2.5));
//! drop(v);
//!
//! drop(prod); // the consumer drains what was committed, then sees PeerGone
//! assert_eq!(cons.try_view().unwrap_err(), zipc::Error::PeerGone);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod channel;
mod endpoint;
mod error;
mod options;
pub mod pod;
pub mod queue;
pub mod rpc;
pub mod store;
pub mod tensor;
pub mod topic;
pub mod types;

pub use channel::{
    connect, listen, Batch, Consumer, Endpoint, Message, Msg, Producer, Reservation, Stats, TensorReservation, View,
};
pub use endpoint::Interrupter;
pub use error::{strerror, Error, Result};
pub use options::{Options, Role};
pub use pod::Pod;
pub use rpc::{RpcClient, RpcWorker};
pub use store::{Store, StoreOptions};
pub use tensor::{DType, Element, TensorView};
pub use topic::{Policy, Publisher, Subscriber, Subscription};

/// The raw FFI crate, for calls the safe API does not cover.
pub use zipc_sys as sys;

/// The C library's version, `"MAJOR.MINOR.PATCH"`.
pub fn version() -> &'static str {
    // SAFETY: a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(zipc_sys::zipc_version()) }.to_str().unwrap_or("?")
}

/// The shared-memory ABI version (`major << 16 | minor`).
pub fn abi_version() -> u32 {
    // SAFETY: a pure function.
    unsafe { zipc_sys::zipc_abi_version() }
}

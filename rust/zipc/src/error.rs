//! Errors: every C failure is a negative errno; [`Error`] names the ones
//! zipc documents and keeps the rest as [`Error::Os`].
use std::ffi::CStr;
use std::fmt;

/// A zipc error. [`Error::errno`] gives the (positive) errno; `Display`
/// prints the C library's text (`zipc_strerror`) with the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The timeout elapsed (`ETIMEDOUT`).
    Timeout,
    /// A `try_` call would have blocked (`EAGAIN`).
    WouldBlock,
    /// The peer closed or died, and everything it committed was delivered (`EPIPE`).
    PeerGone,
    /// The peer speaks another ABI version (`EPROTO`).
    AbiMismatch,
    /// The shared segment is corrupted or hostile; the channel is broken (`EBADMSG`).
    Corrupted,
    /// The message is larger than the channel's maximum, or larger than the
    /// receiving buffer (`EMSGSIZE`).
    MessageTooLarge,
    /// The peer's credentials were refused, or ours were (`EPERM`).
    PermissionDenied,
    /// A live listener owns the path (`EADDRINUSE`).
    AddrInUse,
    /// Nothing listens at the path (`ENOENT`).
    NotFound,
    /// Invalid argument (`EINVAL`).
    InvalidArgument,
    /// A signal interrupted a wait (`EINTR`).
    Interrupted,
    /// A reservation or view is already open (`EALREADY`).
    AlreadyOpen,
    /// The endpoint has the other role: a producer was asked to consume or the
    /// reverse (errno `EINVAL`).
    WrongRole,
    /// A payload does not match what the caller asked for: wrong size for a
    /// [`Pod`](crate::Pod) type, a tensor header that fails validation, a dtype
    /// or alignment mismatch, a malformed list (errno `EBADMSG`). The channel
    /// itself is fine.
    BadPayload(&'static str),
    /// Any other errno (positive), e.g. `ECONNREFUSED`, `ENOTSOCK`, `EACCES`.
    Os(i32),
}

/// The `Result` of every fallible zipc call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error for a C return value `-errno` (or `errno`).
    pub fn from_errno(err: i32) -> Error {
        match err.abs() {
            libc::ETIMEDOUT => Error::Timeout,
            libc::EAGAIN => Error::WouldBlock,
            libc::EPIPE => Error::PeerGone,
            libc::EPROTO => Error::AbiMismatch,
            libc::EBADMSG => Error::Corrupted,
            libc::EMSGSIZE => Error::MessageTooLarge,
            libc::EPERM => Error::PermissionDenied,
            libc::EADDRINUSE => Error::AddrInUse,
            libc::ENOENT => Error::NotFound,
            libc::EINVAL => Error::InvalidArgument,
            libc::EINTR => Error::Interrupted,
            libc::EALREADY => Error::AlreadyOpen,
            e => Error::Os(e),
        }
    }

    /// The positive errno this error stands for.
    pub fn errno(&self) -> i32 {
        match *self {
            Error::Timeout => libc::ETIMEDOUT,
            Error::WouldBlock => libc::EAGAIN,
            Error::PeerGone => libc::EPIPE,
            Error::AbiMismatch => libc::EPROTO,
            Error::Corrupted | Error::BadPayload(_) => libc::EBADMSG,
            Error::MessageTooLarge => libc::EMSGSIZE,
            Error::PermissionDenied => libc::EPERM,
            Error::AddrInUse => libc::EADDRINUSE,
            Error::NotFound => libc::ENOENT,
            Error::InvalidArgument | Error::WrongRole => libc::EINVAL,
            Error::Interrupted => libc::EINTR,
            Error::AlreadyOpen => libc::EALREADY,
            Error::Os(e) => e,
        }
    }

    /// The C library's text for this error's errno (`zipc_strerror`).
    pub fn strerror(&self) -> &'static str {
        strerror(self.errno())
    }
}

/// `zipc_strerror(err)`: the C library's text for a (negative or positive) errno.
pub fn strerror(err: i32) -> &'static str {
    // SAFETY: zipc_strerror returns a static, NUL-terminated string, never NULL.
    unsafe { CStr::from_ptr(zipc_sys::zipc_strerror(err)) }
        .to_str()
        .unwrap_or("(non-UTF-8 error text)")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WrongRole => write!(f, "the endpoint has the other role (producer/consumer)")?,
            Error::BadPayload(why) => write!(f, "bad payload: {why}")?,
            _ => f.write_str(self.strerror())?,
        }
        write!(f, " (errno {})", self.errno())
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        match e {
            Error::WrongRole | Error::BadPayload(_) => {
                std::io::Error::new(std::io::ErrorKind::InvalidData, e)
            }
            _ => std::io::Error::from_raw_os_error(e.errno()),
        }
    }
}

/// `0 => Ok(())`, negative => the error.
#[inline]
pub(crate) fn check(rc: i32) -> Result<()> {
    if rc >= 0 {
        Ok(())
    } else {
        Err(Error::from_errno(rc))
    }
}

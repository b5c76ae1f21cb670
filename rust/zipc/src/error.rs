//! Errors: every C failure is a negative errno; [`Error`] names the ones
//! zipc documents and keeps the rest as [`Error::Os`].
//!
//! The C core lists its codes once (`ZIPC_ERRNO_MAP` in `zipc/common.h`);
//! a test walks that map and checks this table against it.
use std::ffi::{c_char, CStr};
use std::fmt;

/// A zipc error. [`Error::errno`] gives the (positive) errno, [`Error::name`]
/// its name; `Display` prints the C library's text (`zipc_strerror`) with
/// the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The timeout elapsed (`ETIMEDOUT`).
    Timeout,
    /// A `try_` call would have blocked (`EAGAIN`).
    WouldBlock,
    /// The peer closed or died, and everything it committed was delivered
    /// (`EPIPE`). A queue's end of stream: no producer attached, and every
    /// message taken and released.
    PeerGone,
    /// The peer speaks another ABI version (`EPROTO`).
    AbiMismatch,
    /// The shared segment is corrupted or hostile; the channel is broken (`EBADMSG`).
    Corrupted,
    /// The message is larger than the channel's maximum, or larger than the
    /// receiving buffer (`EMSGSIZE`).
    MessageTooLarge,
    /// The listener's segment is larger than this connector accepts
    /// ([`Options::max_segment`](crate::Options::max_segment)) (`EFBIG`).
    SegmentTooLarge,
    /// The peer's credentials were refused, or ours were (`EPERM`).
    PermissionDenied,
    /// A live listener owns the name or path (`EADDRINUSE`).
    AddrInUse,
    /// Nothing listens at the name or path (`ENOENT`).
    NotFound,
    /// Invalid argument (`EINVAL`).
    InvalidArgument,
    /// A signal interrupted a wait (`EINTR`).
    Interrupted,
    /// An [`Interrupter`](crate::Interrupter) woke the blocked call, or the
    /// next one (`ECANCELED`).
    Cancelled,
    /// A reservation or view is already open (`EALREADY`).
    AlreadyOpen,
    /// The endpoint has the other role: a producer was asked to consume or the
    /// reverse (`EOPNOTSUPP`).
    WrongRole,
    /// A payload does not match what the caller asked for: wrong size for a
    /// [`Pod`](crate::Pod) type, a tensor header that fails validation, a dtype
    /// or alignment mismatch, a malformed list (errno `EBADMSG`). The channel
    /// itself is fine.
    BadPayload(&'static str),
    /// A topic subscriber fell a whole ring behind and lost messages
    /// (`EOVERFLOW`): reported once per loss, with the exact count of
    /// messages and ring bytes lost (0 and 0 when the loss is not known,
    /// e.g. a tensor shape whose size overflows). The next call resumes.
    Overflow {
        /// Messages lost.
        messages: u64,
        /// Ring bytes lost, framing included.
        bytes: u64,
    },
    /// A topic view was overwritten by the publisher while it was open: the
    /// bytes read through it may be torn; discard what was computed from
    /// them (`ESTALE`).
    Stale,
    /// The topic has as many subscribers as it allows, or the queue as many
    /// members of that role (`ENOSPC`).
    NoSpace,
    /// Any other errno (positive), e.g. `ECONNREFUSED`, `ENOTSOCK`, `EACCES`.
    Os(i32),
}

/// The `Result` of every fallible zipc call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One table, both directions: the errno of each variant that has one.
macro_rules! errno_table {
    ($($errno:ident => $variant:ident),* $(,)?) => {
        impl Error {
            /// The error for a C return value `-errno` (or `errno`).
            pub fn from_errno(err: i32) -> Error {
                match err.abs() {
                    $(libc::$errno => Error::$variant,)*
                    libc::EOVERFLOW => Error::Overflow { messages: 0, bytes: 0 },
                    e => Error::Os(e),
                }
            }

            /// The positive errno this error stands for.
            pub fn errno(&self) -> i32 {
                match *self {
                    $(Error::$variant => libc::$errno,)*
                    Error::BadPayload(_) => libc::EBADMSG,
                    Error::Overflow { .. } => libc::EOVERFLOW,
                    Error::Os(e) => e,
                }
            }
        }

        /// The variants named by errno (for the test against the C map).
        #[cfg(test)]
        const NAMED: &[(i32, Error)] = &[$((libc::$errno, Error::$variant)),*];
    };
}

errno_table! {
    ETIMEDOUT => Timeout,
    EAGAIN => WouldBlock,
    EPIPE => PeerGone,
    EPROTO => AbiMismatch,
    EBADMSG => Corrupted,
    EMSGSIZE => MessageTooLarge,
    EFBIG => SegmentTooLarge,
    EPERM => PermissionDenied,
    EADDRINUSE => AddrInUse,
    ENOENT => NotFound,
    EINVAL => InvalidArgument,
    EINTR => Interrupted,
    ECANCELED => Cancelled,
    EALREADY => AlreadyOpen,
    EOPNOTSUPP => WrongRole,
    ESTALE => Stale,
    ENOSPC => NoSpace,
}

impl Error {
    /// The C library's text for this error's errno (`zipc_strerror`).
    pub fn strerror(&self) -> &'static str {
        strerror(self.errno())
    }

    /// The errno's symbolic name, e.g. `"EPIPE"` (`zipc_err_name`).
    pub fn name(&self) -> &'static str {
        // SAFETY: zipc_err_name returns a static, NUL-terminated string, never NULL.
        static_str(unsafe { zipc_sys::zipc_err_name(self.errno()) })
    }
}

/// A static C string of the C library as `&str`.
fn static_str(p: *const c_char) -> &'static str {
    // SAFETY: the callers pass the C library's static, NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("(non-UTF-8 error text)")
}

/// `zipc_strerror(err)`: the C library's text for a (negative or positive) errno.
pub fn strerror(err: i32) -> &'static str {
    // SAFETY: zipc_strerror returns a static, NUL-terminated string, never NULL.
    static_str(unsafe { zipc_sys::zipc_strerror(err) })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadPayload(why) => write!(f, "bad payload: {why}")?,
            Error::Overflow { messages, bytes } if *messages != 0 || *bytes != 0 => {
                write!(f, "{}: {messages} messages, {bytes} bytes lost", self.strerror())?
            }
            _ => f.write_str(self.strerror())?,
        }
        write!(f, " (errno {})", self.errno())
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        match e {
            Error::BadPayload(_) => std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            _ => std::io::Error::from_raw_os_error(e.errno()),
        }
    }
}

/// `0 => Ok(())`, negative => the error.
///
/// The error is built out of line, in a `Result` of its own: built in
/// place (inlined `Err(from_errno(rc))`), it shares the caller's
/// `Result<View>` / `Result<Reservation>` slot, which then cannot live in
/// registers; the success path paid for it with copies through the stack
/// (store-forwarding stalls) and a `memset`/`memcpy` call for a 32-byte
/// payload (+30% round trip, +45% 32-byte stream over raw zipc-sys calls).
#[inline]
pub(crate) fn check(rc: i32) -> Result<()> {
    if rc >= 0 {
        Ok(())
    } else {
        failed(rc)
    }
}

/// `check`'s error path: `Err` for a negative `rc`.
#[cold]
#[inline(never)]
pub(crate) fn failed(rc: i32) -> Result<()> {
    Err(Error::from_errno(rc))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes of the C map that stay [`Error::Os`] on purpose: system
    /// conditions a caller handles as an `io::Error`.
    const KEPT_AS_OS: &[i32] = &[
        libc::EACCES,
        libc::ENOTSOCK,
        libc::ECONNREFUSED,
        libc::EPROTOTYPE,
        libc::ECONNRESET,
        libc::ENOMEM,
        libc::ENAMETOOLONG,
        libc::EMFILE,
        libc::ENOSYS,
    ];

    fn c_map() -> Vec<i32> {
        // SAFETY: a pure lookup; 0 ends the map.
        (0..).map(|i| unsafe { zipc_sys::zipc_sys_errno_map(i) }).take_while(|&c| c != 0).collect()
    }

    /// Every code of ZIPC_ERRNO_MAP is either a variant of its own or kept
    /// as Os on purpose, and every variant's code is in the map: a code
    /// added to (or dropped from) the C map fails here until this table
    /// follows.
    #[test]
    fn table_matches_the_c_map() {
        let map = c_map();
        assert!(map.len() >= 20, "{map:?}");
        let mut named: Vec<i32> = NAMED.iter().map(|&(e, _)| e).collect();
        named.extend_from_slice(KEPT_AS_OS);
        named.push(libc::EOVERFLOW); // Overflow { messages, bytes }: not a unit variant
        named.sort_unstable();
        let mut sorted = map.clone();
        sorted.sort_unstable();
        assert_eq!(named, sorted, "Rust's table (NAMED + KEPT_AS_OS) vs ZIPC_ERRNO_MAP");
        for code in map {
            let e = Error::from_errno(-code);
            assert_eq!(e.errno(), code);
            assert_eq!(Error::from_errno(code), e);
            assert_eq!(matches!(e, Error::Os(_)), KEPT_AS_OS.contains(&code), "{code}");
            assert_eq!(e.strerror(), strerror(-code));
            assert_eq!(e.to_string(), format!("{} (errno {code})", strerror(code)));
            assert!(e.name().starts_with('E') && e.name() != "EUNKNOWN", "{code}: {}", e.name());
        }
        for &(code, variant) in NAMED {
            assert_eq!(variant.errno(), code);
        }
    }

    #[test]
    fn names_and_io_errors() {
        assert_eq!(Error::WrongRole.name(), "EOPNOTSUPP");
        assert_eq!(Error::Cancelled.name(), "ECANCELED");
        assert_eq!(Error::SegmentTooLarge.name(), "EFBIG");
        assert_eq!(Error::BadPayload("x").name(), "EBADMSG");
        assert_eq!(Error::Overflow { messages: 3, bytes: 192 }.name(), "EOVERFLOW");
        assert_eq!(Error::from_errno(-libc::EOVERFLOW), Error::Overflow { messages: 0, bytes: 0 });
        assert_eq!((Error::Stale.name(), Error::NoSpace.name()), ("ESTALE", "ENOSPC"));
        let io: std::io::Error = Error::WrongRole.into();
        assert_eq!(io.raw_os_error(), Some(libc::EOPNOTSUPP));
        let io: std::io::Error = Error::BadPayload("x").into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
    }
}

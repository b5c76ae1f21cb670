//! Endpoint options (`struct zipc_options`) and timeout conversion.
use std::ffi::CString;
use std::time::Duration;

/// The role of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// Listener: consumer; connector: what the listener chose.
    #[default]
    Default,
    /// Receives messages.
    Consumer,
    /// Sends messages.
    Producer,
}

impl Role {
    pub(crate) fn to_c(self) -> i32 {
        match self {
            Role::Default => zipc_sys::ZIPC_ROLE_DEFAULT,
            Role::Consumer => zipc_sys::ZIPC_ROLE_CONSUMER,
            Role::Producer => zipc_sys::ZIPC_ROLE_PRODUCER,
        }
    }
}

/// Options shared by [`listen`](crate::listen) and [`connect`](crate::connect).
/// `Options::default()` means the C library's defaults
/// ([`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT), [`DEFAULT_SPIN`](Self::DEFAULT_SPIN),
/// [`DEFAULT_SOCKET_MODE`](Self::DEFAULT_SOCKET_MODE),
/// [`DEFAULT_MAX_SEGMENT`](Self::DEFAULT_MAX_SEGMENT)), and only peers of our
/// own uid.
///
/// ```
/// use std::time::Duration;
/// let opts = zipc::Options::new()
///     .timeout(Some(Duration::from_secs(5)))
///     .spin(Duration::from_micros(20))
///     .label("ticks");
/// # let _ = opts;
/// ```
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub(crate) role: Role,
    timeout_ns: i64,
    spin_ns: i64,
    flags: u32,
    socket_mode: u32,
    peer_uid: u32,
    label: Option<CString>,
    max_segment: u64,
}

impl Options {
    /// The handshake timeout when [`timeout`](Self::timeout) is not set
    /// (`ZIPC_DEFAULT_TIMEOUT_NS`).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_nanos(zipc_sys::ZIPC_DEFAULT_TIMEOUT_NS as u64);
    /// The spin before sleeping when [`spin`](Self::spin) is not set (`ZIPC_DEFAULT_SPIN_NS`).
    pub const DEFAULT_SPIN: Duration = Duration::from_nanos(zipc_sys::ZIPC_DEFAULT_SPIN_NS as u64);
    /// A path listener's socket file mode when [`socket_mode`](Self::socket_mode)
    /// is not set (`ZIPC_DEFAULT_SOCKET_MODE`).
    pub const DEFAULT_SOCKET_MODE: u32 = zipc_sys::ZIPC_DEFAULT_SOCKET_MODE;
    /// The largest segment a connector maps when
    /// [`max_segment`](Self::max_segment) is not set (`ZIPC_DEFAULT_MAX_SEGMENT`).
    pub const DEFAULT_MAX_SEGMENT: u64 = zipc_sys::ZIPC_DEFAULT_MAX_SEGMENT;

    /// The defaults.
    pub fn new() -> Options {
        Options::default()
    }

    /// The listener's role (the connector gets the other one). Ignored by
    /// [`connect`](crate::connect); set by `Producer::listen` / `Consumer::listen`.
    pub fn role(mut self, role: Role) -> Options {
        self.role = role;
        self
    }

    /// Handshake timeout: how long `listen` waits for a peer and `connect`
    /// retries. `None`: forever. Default [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Options {
        self.timeout_ns = match timeout {
            None => zipc_sys::ZIPC_FOREVER,
            Some(d) => duration_ns(d).max(1), // 0 would mean "the default"
        };
        self
    }

    /// Busy-wait this long before sleeping in the kernel (default
    /// [`DEFAULT_SPIN`](Self::DEFAULT_SPIN)); zero sleeps at once (`ZIPC_OPT_NO_SPIN`).
    pub fn spin(mut self, spin: Duration) -> Options {
        if spin.is_zero() {
            self.flags |= zipc_sys::ZIPC_OPT_NO_SPIN;
            self.spin_ns = 0;
        } else {
            self.flags &= !zipc_sys::ZIPC_OPT_NO_SPIN;
            self.spin_ns = duration_ns(spin);
        }
        self
    }

    /// Listener: accept a peer of any uid (`ZIPC_OPT_ANY_UID`).
    pub fn any_uid(mut self, yes: bool) -> Options {
        if yes {
            self.flags |= zipc_sys::ZIPC_OPT_ANY_UID;
        } else {
            self.flags &= !zipc_sys::ZIPC_OPT_ANY_UID;
        }
        self
    }

    /// Also accept a peer of this uid, besides our own euid (`ZIPC_OPT_PEER_UID`).
    pub fn peer_uid(mut self, uid: u32) -> Options {
        self.flags |= zipc_sys::ZIPC_OPT_PEER_UID;
        self.peer_uid = uid;
        self
    }

    /// A path listener's socket file mode (default
    /// [`DEFAULT_SOCKET_MODE`](Self::DEFAULT_SOCKET_MODE)).
    pub fn socket_mode(mut self, mode: u32) -> Options {
        self.socket_mode = mode;
        self
    }

    /// Label stored in the segment header, for tools; default: the name or
    /// path. A label containing NUL is truncated there.
    pub fn label(mut self, label: &str) -> Options {
        let cut = label.split('\0').next().unwrap_or("");
        self.label = CString::new(cut).ok();
        self
    }

    /// Connector: the largest segment it accepts from a listener
    /// ([`Error::SegmentTooLarge`](crate::Error::SegmentTooLarge) beyond);
    /// default [`DEFAULT_MAX_SEGMENT`](Self::DEFAULT_MAX_SEGMENT).
    pub fn max_segment(mut self, bytes: u64) -> Options {
        self.max_segment = bytes;
        self
    }

    /// The C struct; borrows `self.label`.
    pub(crate) fn to_c(&self) -> zipc_sys::zipc_options {
        zipc_sys::zipc_options {
            role: self.role.to_c(),
            flags: self.flags,
            timeout_ns: self.timeout_ns,
            spin_ns: self.spin_ns,
            socket_mode: self.socket_mode,
            peer_uid: self.peer_uid,
            label: self.label.as_ref().map_or(std::ptr::null(), |n| n.as_ptr()),
            max_segment: self.max_segment,
        }
    }
}

/// A `Duration` in ns, saturating at `i64::MAX`.
#[inline]
pub(crate) fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// `None` => `ZIPC_FOREVER`, `Some(d)` => ns (`Some(ZERO)` => `ZIPC_TRY`).
#[inline]
pub(crate) fn timeout_ns(t: Option<Duration>) -> i64 {
    match t {
        None => zipc_sys::ZIPC_FOREVER,
        Some(d) => duration_ns(d),
    }
}

extern crate std;
use super::*;
use core::mem::{offset_of, size_of};
use std::ffi::CString;

fn c(name: &str) -> usize {
    let s = CString::new(name).unwrap();
    let v = unsafe { zipc_sys_layout(s.as_ptr()) };
    assert_ne!(v, usize::MAX, "the shim does not know {name}");
    v
}

macro_rules! check {
    ($cname:literal, $t:ty, $size:expr; $($cf:literal => $f:ident = $off:expr),* $(,)?) => {{
        assert_eq!(size_of::<$t>(), $size, "sizeof {}", $cname);
        assert_eq!(size_of::<$t>(), c($cname), "sizeof {} (C)", $cname);
        $(
            assert_eq!(offset_of!($t, $f), $off, "{}.{}", $cname, $cf);
            assert_eq!(offset_of!($t, $f), c(concat!($cname, ".", $cf)), "{}.{} (C)", $cname, $cf);
        )*
    }};
}

#[test]
fn layout_matches_c() {
    check!("zipc_options", zipc_options, 48;
        "role" => role = 0, "flags" => flags = 4, "timeout_ns" => timeout_ns = 8,
        "spin_ns" => spin_ns = 16, "socket_mode" => socket_mode = 24, "peer_uid" => peer_uid = 28,
        "label" => label = 32, "max_segment" => max_segment = 40);
    check!("zipc_msg", zipc_msg, 32;
        "data" => data = 0, "size" => size = 8, "type" => type_ = 12, "seq" => seq = 16,
        "end_" => end_ = 24);
    check!("zipc_channel_stats", zipc_channel_stats, 32;
        "messages" => messages = 0, "bytes" => bytes = 8, "wakeups" => wakeups = 16,
        "sleeps" => sleeps = 24);
    check!("zipc_subscription", zipc_subscription, 24;
        "policy" => policy = 0, "flags" => flags = 4, "max_lag" => max_lag = 8,
        "history" => history = 16);
    check!("zipc_publisher_stats", zipc_publisher_stats, 72;
        "messages" => messages = 0, "bytes" => bytes = 8, "wakeups" => wakeups = 16,
        "sleeps" => sleeps = 24, "subscribers" => subscribers = 32, "joined" => joined = 40,
        "departed" => departed = 48, "died" => died = 56, "evicted" => evicted = 64);
    check!("zipc_subscriber_stats", zipc_subscriber_stats, 64;
        "messages" => messages = 0, "bytes" => bytes = 8, "lost_messages" => lost_messages = 16,
        "lost_bytes" => lost_bytes = 24, "overflows" => overflows = 32, "lag" => lag = 40,
        "wakeups" => wakeups = 48, "sleeps" => sleeps = 56);
    check!("zipc_queue_config", zipc_queue_config, 16;
        "lane_capacity" => lane_capacity = 0, "flags" => flags = 8, "reserved" => reserved = 12);
    check!("zipc_queue_stats", zipc_queue_stats, 48;
        "messages" => messages = 0, "bytes" => bytes = 8, "redelivered" => redelivered = 16,
        "wakeups" => wakeups = 24, "sleeps" => sleeps = 32, "reclaimed" => reclaimed = 40);
    check!("zipc_rpc_config", zipc_rpc_config, 16;
        "lane_capacity" => lane_capacity = 0, "reserved" => reserved = 8);
    check!("zipc_rpc_reply", zipc_rpc_reply, 40;
        "id" => id = 0, "data" => data = 8, "size" => size = 16, "type" => type_ = 20,
        "status" => status = 24, "method" => method = 28, "flags" => flags = 32, "part" => part = 36);
    check!("zipc_rpc_request", zipc_rpc_request, 56;
        "id" => id = 0, "data" => data = 8, "size" => size = 16, "method" => method = 20,
        "flags" => flags = 24, "attempt" => attempt = 28, "deadline_ns" => deadline_ns = 32,
        "reply" => reply = 40, "reply_capacity" => reply_capacity = 48, "lane_" => lane_ = 52);
    check!("zipc_store_tensor", zipc_store_tensor, 96;
        "name" => name = 0, "dtype" => dtype = 8, "ndim" => ndim = 12, "shape" => shape = 16,
        "data" => data = 80, "size" => size = 88);
    check!("zipc_store_kv", zipc_store_kv, 24;
        "key" => key = 0, "value" => value = 8, "value_len" => value_len = 16);
    check!("zipc_store_options", zipc_store_options, 96;
        "options" => options = 0, "align" => align = 48, "flags" => flags = 56,
        "reserved" => reserved = 60, "metadata" => metadata = 64, "nmeta" => nmeta = 72,
        "error" => error = 80, "error_len" => error_len = 88);
    check!("zipc_store_info", zipc_store_info, 184;
        "name" => name = 0, "name_len" => name_len = 8, "dtype" => dtype = 16, "bits" => bits = 20,
        "ndim" => ndim = 24, "index" => index = 28, "shape" => shape = 32, "strides" => strides = 96,
        "data" => data = 160, "size" => size = 168, "xxh3" => xxh3 = 176);
    check!("zipc_tensor_header", zipc_tensor_header, ZIPC_TENSOR_DATA_OFFSET;
        "magic" => magic = 0, "version" => version = 4, "ndim" => ndim = 6,
        "dtype_code" => dtype_code = 8, "dtype_bits" => dtype_bits = 9,
        "dtype_lanes" => dtype_lanes = 10, "flags" => flags = 12,
        "data_offset" => data_offset = 16, "nbytes" => nbytes = 24, "shape" => shape = 32,
        "strides" => strides = 96, "reserved" => reserved = 160);
    check!("zipc_list_header", zipc_list_header, 8;
        "count" => count = 0, "reserved" => reserved = 4);
    check!("zipc_list_entry", zipc_list_entry, 24;
        "type" => type_ = 0, "reserved" => reserved = 4, "offset" => offset = 8, "size" => size = 16);
    check!("zipc_frame", zipc_frame, ZIPC_FRAME_HEADER;
        "size" => size = 0, "type" => type_ = 4, "mark" => mark = 8);
    check!("zipc_segment_header", zipc_segment_header, 128;
        "magic" => magic = 0, "abi_major" => abi_major = 8, "abi_minor" => abi_minor = 10,
        "kind" => kind = 12, "segment_size" => segment_size = 16, "header_size" => header_size = 24,
        "flags" => flags = 28, "body_offset" => body_offset = 32, "body_size" => body_size = 40,
        "creator_pid" => creator_pid = 48, "creator_uid" => creator_uid = 52,
        "created_ns" => created_ns = 56, "name" => name = 64);
    assert_eq!((16 + ZIPC_TENSOR_DATA_OFFSET) % 64, 0);
}

/// The C value of macro `name` (through the shim).
fn c_const(name: &str) -> i64 {
    let s = CString::new(name).unwrap();
    let mut v = 0i64;
    assert_eq!(unsafe { zipc_sys_constant(s.as_ptr(), &mut v) }, 0, "the shim does not know {name}");
    v
}

#[test]
fn constants_match_c() {
    macro_rules! same {
        ($($k:ident),* $(,)?) => {$(
            assert_eq!($k as i64, c_const(stringify!($k)), "{}", stringify!($k));
        )*};
    }
    same!(
        ZIPC_VERSION_MAJOR, ZIPC_VERSION_MINOR, ZIPC_VERSION_PATCH, ZIPC_TRY, ZIPC_FOREVER,
        ZIPC_DEFAULT_TIMEOUT_NS, ZIPC_DEFAULT_SPIN_NS, ZIPC_DEFAULT_SOCKET_MODE,
        ZIPC_DEFAULT_MAX_SEGMENT, ZIPC_NAME_MAX, ZIPC_ROLE_DEFAULT, ZIPC_ROLE_CONSUMER,
        ZIPC_ROLE_PRODUCER, ZIPC_OPT_ANY_UID, ZIPC_OPT_PEER_UID, ZIPC_OPT_NO_SPIN, ZIPC_OPT_ALL,
        ZIPC_COMMIT_MORE, ZIPC_TOPIC_DEFAULT_SUBSCRIBERS, ZIPC_TOPIC_MAX_SUBSCRIBERS,
        ZIPC_SUB_BLOCK, ZIPC_SUB_DROP_OLDEST, ZIPC_SUB_MAX_LAG, ZIPC_SUB_RESUME_NEWEST, ZIPC_TYPE_ANY,
        ZIPC_QUEUE_MAX_PRODUCERS, ZIPC_QUEUE_MAX_CONSUMERS, ZIPC_QUEUE_DEFAULT_LANE, ZIPC_QUEUE_MAX_LANE,
        ZIPC_QUEUE_AT_MOST_ONCE, ZIPC_RPC_ANY, ZIPC_RPC_DEFAULT_REPLY, ZIPC_RPC_IDEMPOTENT,
        ZIPC_RPC_REPLY_MORE,
        ZIPC_STORE_MAX_NDIM, ZIPC_STORE_ALL, ZIPC_STORE_BOOL, ZIPC_STORE_U8, ZIPC_STORE_I8, ZIPC_STORE_U16,
        ZIPC_STORE_I16, ZIPC_STORE_U32, ZIPC_STORE_I32, ZIPC_STORE_U64, ZIPC_STORE_I64, ZIPC_STORE_F16,
        ZIPC_STORE_BF16, ZIPC_STORE_F32, ZIPC_STORE_F64, ZIPC_STORE_C64, ZIPC_STORE_F8_E4M3,
        ZIPC_STORE_F8_E5M2, ZIPC_STORE_F8_E4M3FNUZ, ZIPC_STORE_F8_E5M2FNUZ, ZIPC_STORE_F8_E8M0,
        ZIPC_STORE_F6_E2M3, ZIPC_STORE_F6_E3M2, ZIPC_STORE_F4, ZIPC_STORE_NDTYPES, ZIPC_STORE_PREFAULT,
        ZIPC_STORE_VERIFY,
        ZIPC_ABI_MAJOR, ZIPC_ABI_MINOR, ZIPC_SEGMENT_MAGIC, ZIPC_CACHE_LINE,
        ZIPC_MIN_CAPACITY, ZIPC_MAX_CAPACITY, ZIPC_FRAME_HEADER, ZIPC_FRAME_ALIGN,
        ZIPC_TYPE_RESERVED_MIN, ZIPC_TYPE_BYTES, ZIPC_TYPE_STR, ZIPC_TYPE_JSON, ZIPC_TYPE_TENSOR,
        ZIPC_TYPE_LIST, ZIPC_LIST_ALIGN, ZIPC_TENSOR_MAGIC, ZIPC_TENSOR_VERSION,
        ZIPC_TENSOR_MAX_NDIM, ZIPC_TENSOR_DATA_OFFSET, ZIPC_DTYPE_INT, ZIPC_DTYPE_UINT,
        ZIPC_DTYPE_FLOAT, ZIPC_DTYPE_BFLOAT, ZIPC_DTYPE_COMPLEX, ZIPC_DTYPE_BOOL,
    );
}

/// The version is written once, in include/zipc/common.h: the crate's
/// constants, Cargo.toml's version and zipc_version() must all say the same.
#[test]
fn version_is_common_h() {
    let header = include_str!("../../../include/zipc/common.h");
    let define = |name: &str| -> u32 {
        let line = header
            .lines()
            .find(|l| l.split_whitespace().take(2).eq(["#define", name]))
            .unwrap_or_else(|| panic!("common.h has no #define {name}"));
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    let (major, minor, patch) =
        (define("ZIPC_VERSION_MAJOR"), define("ZIPC_VERSION_MINOR"), define("ZIPC_VERSION_PATCH"));
    assert_eq!((ZIPC_VERSION_MAJOR, ZIPC_VERSION_MINOR, ZIPC_VERSION_PATCH), (major, minor, patch));
    let written = std::format!("{major}.{minor}.{patch}");
    assert_eq!(env!("CARGO_PKG_VERSION"), written, "rust/Cargo.toml's workspace version");
    let c = unsafe { std::ffi::CStr::from_ptr(zipc_version()) }.to_str().unwrap();
    assert_eq!(c, written);
}

#[test]
fn errno_map_has_names_and_texts() {
    let mut n = 0;
    loop {
        let code = unsafe { zipc_sys_errno_map(n) };
        if code == 0 {
            break;
        }
        let name = unsafe { std::ffi::CStr::from_ptr(zipc_err_name(-code)) }.to_str().unwrap();
        assert!(name.starts_with('E') && name != "EUNKNOWN", "{code}: {name}");
        assert!(!unsafe { std::ffi::CStr::from_ptr(zipc_strerror(-code)) }.to_bytes().is_empty());
        n += 1;
    }
    assert!(n >= 20, "{n} codes");
}

#[test]
fn versions_and_strerror() {
    let v = unsafe { std::ffi::CStr::from_ptr(zipc_version()) }.to_str().unwrap();
    assert_eq!(v, std::format!("{ZIPC_VERSION_MAJOR}.{ZIPC_VERSION_MINOR}.{ZIPC_VERSION_PATCH}"));
    assert_eq!(unsafe { zipc_abi_version() }, (ZIPC_ABI_MAJOR as u32) << 16 | ZIPC_ABI_MINOR as u32);
    let t = unsafe { std::ffi::CStr::from_ptr(zipc_strerror(-32)) };
    assert!(!t.to_bytes().is_empty());
}

/// The shim's delivery info of a queue message: the C inlines' bit layout
/// (lane in the low byte of `end_`, attempt in the 6 bits above).
#[test]
fn queue_msg_delivery() {
    let m = zipc_msg { end_: 5 | 3 << 8, ..zipc_msg::default() };
    assert_eq!(unsafe { (zipc_sys_queue_msg_producer(&m), zipc_sys_queue_msg_attempt(&m)) }, (5, 3));
}

#[test]
fn tensor_init_and_validate() {
    let mut h = zipc_tensor_header::default();
    let shape = [2i64, 3];
    assert_eq!(unsafe { zipc_sys_tensor_init(&mut h, ZIPC_DTYPE_FLOAT, 32, 1, 2, shape.as_ptr()) }, 0);
    assert_eq!(h.strides[..2], [3, 1]);
    assert_eq!(h.nbytes, 24);
    assert_eq!(unsafe { zipc_sys_tensor_validate(&h, 176 + 24) }, 0);
    assert_eq!(unsafe { zipc_sys_tensor_validate(&h, 176 + 23) }, -74); // EBADMSG
    assert_eq!(unsafe { zipc_sys_tensor_itemsize(32, 2) }, 8);
}

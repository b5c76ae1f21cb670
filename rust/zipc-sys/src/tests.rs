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

#[test]
fn versions_and_strerror() {
    let v = unsafe { std::ffi::CStr::from_ptr(zipc_version()) }.to_str().unwrap();
    assert_eq!(v, std::format!("{ZIPC_VERSION_MAJOR}.{ZIPC_VERSION_MINOR}.{ZIPC_VERSION_PATCH}"));
    assert_eq!(unsafe { zipc_abi_version() }, (ZIPC_ABI_MAJOR as u32) << 16 | ZIPC_ABI_MINOR as u32);
    let t = unsafe { std::ffi::CStr::from_ptr(zipc_strerror(-32)) };
    assert!(!t.to_bytes().is_empty());
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

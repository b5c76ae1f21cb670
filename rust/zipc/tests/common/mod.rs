//! Shared by the integration tests: the 32-byte market tick that
//! `tests/vectors/tick.bin` pins (Python: `struct.Struct("<QqdfI")`).
#![allow(dead_code)] // each test crate uses its own part of this module

use zipc::Pod;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tick {
    pub seq: u64,
    pub ts_ns: i64,
    pub price: f64,
    pub qty: f32,
    pub side: u32,
}
// SAFETY: repr(C), 32 bytes, no padding, every bit pattern valid.
unsafe impl Pod for Tick {}

/// The user type id the examples and vectors give ticks ("tick").
pub const TICK_TYPE: u32 = 0x7469_636B;

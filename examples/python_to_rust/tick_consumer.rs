//! Python → Rust: receive 32-byte market ticks (`struct.Struct("<QqdfI")` in
//! Python, `#[repr(C)] struct Tick` here) zero-copy, check their order and
//! contents, print the rate.
//!
//!     cargo run --release --example tick_consumer -- SOCKET [COUNT]
//!
//! Listens at SOCKET as the consumer; `producer.py SOCKET COUNT` connects
//! and sends. See run.sh.
use std::time::{Duration, Instant};
use zipc::{Consumer, Error, Options, Pod};

/// The tick of tests/vectors (type id "tick").
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Tick {
    seq: u64,
    ts_ns: i64,
    price: f64,
    qty: f32,
    side: u32,
}
// SAFETY: repr(C), 32 bytes, no padding, every bit pattern valid.
unsafe impl Pod for Tick {}
const TICK_TYPE: u32 = 0x7469_636B;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: tick_consumer SOCKET [COUNT]")?;
    let expect: Option<u64> = args.next().map(|n| n.parse()).transpose()?;

    let mut cons = Consumer::listen(&path, 1 << 20, Options::new().timeout(Some(Duration::from_secs(60))))?;
    let _ = std::fs::remove_file(&path);
    let (mut next, mut qty_sum, mut t0) = (0u64, 0f64, None);
    loop {
        let batch = match cons.drain(1024, Some(Duration::from_secs(10))) {
            Ok(b) => b,
            Err(Error::PeerGone) => break, // the producer closed: everything was delivered
            Err(e) => return Err(e.into()),
        };
        t0.get_or_insert_with(Instant::now);
        for m in batch.iter() {
            if m.type_id() != TICK_TYPE {
                return Err(format!("message {}: type id {:#x}", m.seq(), m.type_id()).into());
            }
            let t: &Tick = m.pod()?; // in place in the ring: no copy
            if t.seq != next || t.side > 1 || t.price != 100.0 + (t.seq % 1000) as f64 * 0.25 {
                return Err(format!("tick {next}: got {t:?}").into());
            }
            qty_sum += t.qty as f64;
            next += 1;
        }
    }
    let secs = t0.map_or(0.0, |t| t.elapsed().as_secs_f64());
    if let Some(n) = expect {
        if n != next {
            return Err(format!("expected {n} ticks, got {next}").into());
        }
    }
    println!(
        "rust consumer: {next} ticks in order (seq 0..{next}, prices ok, qty sum {qty_sum}) in {secs:.3} s: {:.2} M msgs/s",
        next as f64 / secs.max(1e-9) / 1e6
    );
    Ok(())
}

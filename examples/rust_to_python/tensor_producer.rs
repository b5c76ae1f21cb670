//! Rust → Python: send float32 tensors (tensor header with dtype and shape,
//! docs/ABI.md §9.2), each written in place in the ring; the Python consumer
//! reads them with `ch.recv_tensor()` as zero-copy NumPy arrays.
//!
//!     cargo run --release --example tensor_producer -- SOCKET [COUNT] [ROWS] [COLS]
//!
//! Tensor i holds `(i % 1024) + 0.5 * k` at flat index k (exact in float32).
use std::time::{Duration, Instant};
use zipc::{Options, Producer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or("usage: tensor_producer SOCKET [COUNT] [ROWS] [COLS]")?;
    let num = |i: usize, d: usize| args.get(i).map_or(Ok(d), |s| s.parse::<usize>());
    let (count, rows, cols) = (num(1, 20_000)?, num(2, 256)?, num(3, 256)?);

    let mut prod = Producer::connect(path, Options::new().timeout(Some(Duration::from_secs(60))))?;
    let base: Vec<f32> = (0..rows * cols).map(|k| k as f32 * 0.5).collect();
    let t0 = Instant::now();
    for i in 0..count {
        let off = (i % 1024) as f32;
        // Reserve the message, write the data straight into the ring, commit.
        let mut r = prod.reserve_tensor::<f32>(&[rows, cols], Some(Duration::from_secs(10)))?;
        for (dst, &b) in r.data_mut().iter_mut().zip(&base) {
            *dst = b + off;
        }
        r.commit()?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let bytes = (count * rows * cols * 4) as f64;
    drop(prod); // close: the consumer drains, then sees PeerGone
    println!(
        "rust producer: {count} float32 tensors {rows}x{cols} sent in {secs:.3} s: {:.0} msgs/s, {:.2} GB/s",
        count as f64 / secs,
        bytes / secs / 1e9
    );
    Ok(())
}

//! The rpc rows, the work of bench/rpc.c: one client (this process, the
//! first CPU) and one worker (the peer process, the second CPU):
//!   the client stamps its call number into the first and last 8 bytes of
//!   a source request (pseudo-random words), copies it into the request it
//!   loans from the peer, keeps `inflight` calls in flight and waits for
//!   the oldest (one worker answers in order);
//!   the worker checks each request's size and stamps, sums its 8-byte
//!   words and writes the reply in the room the peer loans it: !seq in the
//!   first and last word, the sum in the second, seq + i in every other;
//!   the client checks every word of the reply and releases it.
//! rtt rows: one call in flight, a clock read per call, iters / 10 warm-up
//! (as harness::rtt_loop); calls rows: for warm_s + secs, the calls that
//! complete in the window. A STOP_LEN request ends the worker.
//! Each peer (zipc.rs, tachyon.rs, iox.rs) implements Client and Worker.
use crate::harness::*;
use crate::{family, Family};
use std::time::{Duration, Instant};

/// A request of this length is the last: the worker answers and returns.
pub const STOP_LEN: usize = END_LEN;

/// A row's calls: request and reply bytes, calls in flight.
#[derive(Clone, Copy)]
pub struct Shape {
    pub req: usize,
    pub reply: usize,
    pub inflight: usize,
}

/// bench/rpc.c lane_for: a power of two holding the calls in flight and one
/// more frame of request + reply + 128 bytes, at least two, at least 64 KiB.
pub fn lane_for(s: &Shape) -> usize {
    let frame = s.req + s.reply + 128;
    let need = if s.inflight < 2 { 2 } else { s.inflight + 1 } * frame;
    need.next_power_of_two().max(64 * 1024)
}

pub fn words_sum(d: &[u8]) -> u64 {
    d.chunks_exact(8).map(|w| u64::from_le_bytes(w.try_into().unwrap())).fold(0, u64::wrapping_add)
}

/// The source request (bench/msg.c msg_source with rpc.c's seed): distinct
/// xorshift64 words, both stamp words zero; request seq sums to base + 2 seq.
fn source(size: usize) -> (Vec<u8>, u64) {
    let mut x: u64 = 0x6a09e667f3bcc909;
    let mut src = vec![0u8; size];
    for w in src.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w.copy_from_slice(&x.to_le_bytes());
    }
    stamp(&mut src, 0);
    let base = words_sum(&src);
    (src, base)
}

fn reply_word(i: usize, n: usize, seq: u64, sum: u64) -> u64 {
    if i == 0 || i == n - 1 {
        !seq
    } else if i == 1 {
        sum
    } else {
        seq.wrapping_add(i as u64)
    }
}

pub fn reply_ok(r: &[u8], seq: u64, sum: u64) -> bool {
    let n = r.len() / 8;
    r.chunks_exact(8).enumerate().all(|(i, w)| u64::from_le_bytes(w.try_into().unwrap()) == reply_word(i, n, seq, sum))
}

/// The worker's work on one request: check it, sum it, write the reply.
fn answer(req: &[u8], size: usize, reply: &mut [u8]) -> Res<()> {
    let seq = u64::from_le_bytes(req[..8].try_into().unwrap());
    if req.len() != size || !stamped(req, seq) {
        return Err(format!("rpc worker: a request of {} bytes, stamps disagree or wrong size", req.len()));
    }
    let (sum, n) = (words_sum(req), reply.len() / 8);
    for (i, w) in reply.chunks_exact_mut(8).enumerate() {
        w.copy_from_slice(&reply_word(i, n, seq, sum).to_le_bytes());
    }
    Ok(())
}

/// A peer's client end.
pub trait Client {
    /// Issue a call: `req` copied into a request loaned from the peer, with
    /// room for a reply of the shape's size.
    fn call(&mut self, req: &[u8]) -> Res<()>;
    /// Wait for the reply to the oldest call in flight, hand it to `f`, release it.
    fn wait_oldest(&mut self, f: &mut dyn FnMut(&[u8]) -> Res<()>) -> Res<()>;
}

/// A peer's worker end.
pub trait Worker {
    /// Take the next request and answer it: `f` reads the request and writes
    /// the reply (`reply` bytes) in the room loaned for it. A STOP_LEN request
    /// is answered with STOP_LEN zero bytes and gives false.
    fn serve(&mut self, reply: usize, f: &mut dyn FnMut(&[u8], &mut [u8]) -> Res<()>) -> Res<bool>;
}

pub enum Measure<'a> {
    Rtt { iters: usize, samples: &'a mut Vec<u64> },
    Rate { warm_s: f64, secs: f64 },
}

/// bench/rpc.c client_side: calls in flight up to shape.inflight, the
/// oldest awaited; rtt: a sample per call; rate: the window from start +
/// warm-up to the first clock read past its end (read every call from
/// 64 KiB requests, else every 16), the calls in flight then finish unmeasured.
fn client_loop(c: &mut dyn Client, s: &Shape, mut m: Measure) -> Res<Part> {
    let (mut src, base) = source(s.req);
    let (mut total, warm) = match &m {
        Measure::Rtt { iters, .. } => ((iters + iters / 10) as u64, (iters / 10) as u64),
        Measure::Rate { .. } => (u64::MAX, 0),
    };
    let every = if s.req >= 64 * 1024 { 1 } else { 16 };
    let (mut issued, mut done, mut at_t0) = (0u64, 0u64, 0u64);
    let mut prev = Instant::now();
    let mut window: Option<(Instant, Instant)> = None;
    let t0 = prev + Duration::from_secs_f64(if let Measure::Rate { warm_s, .. } = m { warm_s } else { 0.0 });
    let mut part = Part::default();
    while done < issued || issued < total {
        while issued < total && issued - done < s.inflight as u64 {
            stamp(&mut src, issued);
            c.call(&src)?;
            issued += 1;
        }
        let (seq, want) = (done, base.wrapping_add(done.wrapping_mul(2)));
        c.wait_oldest(&mut |r| {
            if r.len() == s.reply && reply_ok(r, seq, want) {
                Ok(())
            } else {
                Err(format!("the reply to call {seq} ({} bytes) is not its request's", r.len()))
            }
        })?;
        done += 1;
        match &mut m {
            Measure::Rtt { samples, .. } => {
                let now = Instant::now();
                if done > warm {
                    samples.push((now - prev).as_nanos() as u64);
                    part.seconds += (now - prev).as_secs_f64();
                    part.messages += 1;
                }
                prev = now;
            }
            Measure::Rate { secs, .. } if done % every == 0 && total == u64::MAX => {
                let now = Instant::now();
                match window {
                    None if now >= t0 => {
                        window = Some((now, now + Duration::from_secs_f64(*secs)));
                        at_t0 = done;
                    }
                    Some((open, close)) if now >= close => {
                        part = Part { messages: done - at_t0, seconds: (now - open).as_secs_f64() };
                        total = issued;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    c.call(&[0u8; STOP_LEN])?;
    c.wait_oldest(&mut |_| Ok(()))?;
    if part.messages == 0 {
        return Err("rpc: no call completed in the window".into());
    }
    Ok(part)
}

fn worker_loop(w: &mut dyn Worker, s: &Shape) -> Res<()> {
    while w.serve(s.reply, &mut |req, reply| answer(req, s.req, reply))? {}
    Ok(())
}

fn client_for(name: &str, service: &str, s: &Shape) -> Res<Box<dyn Client>> {
    match family(name) {
        Family::Zipc => crate::zipc::rpc_client(service, s),
        #[cfg(feature = "tachyon")]
        Family::Tachyon => crate::tachyon::rpc_client(service, s),
        #[cfg(feature = "iceoryx2")]
        Family::Iceoryx2 => crate::iox::rpc_client(service, s),
        #[allow(unreachable_patterns)]
        _ => Err("not built in".into()),
    }
}

/// One part of an rpc row: the worker process, our client, the calls.
pub fn run(name: &str, s: &Shape, cfg: &Cfg, m: Measure) -> Res<Part> {
    let n = unique(name);
    let mode = format!("rpc/{}/{}", s.reply, s.inflight);
    let peer = Peer::spawn(&ChildSpec::encode(name, &mode, s.req, &n, 0.0, 0), cfg)?;
    let run = (|| -> Res<Part> {
        let mut c = client_for(name, &n, s)?;
        client_loop(c.as_mut(), s, m)
    })();
    let r = peer.finish(run);
    let _ = std::fs::remove_file(format!("/tmp/{n}-rpc.sock")); // tachyon's socket
    r
}

/// The worker process of an rpc row (mode "rpc/<reply>/<inflight>").
pub fn child(spec: &ChildSpec) -> Res<()> {
    let f: Vec<&str> = spec.mode.split('/').collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse().ok()).ok_or(format!("bad rpc mode {}", spec.mode));
    let s = Shape { req: spec.size, reply: num(1)?, inflight: num(2)? };
    let mut w: Box<dyn Worker> = match family(&spec.peer) {
        Family::Zipc => crate::zipc::rpc_worker(&spec.name, &s)?,
        #[cfg(feature = "tachyon")]
        Family::Tachyon => crate::tachyon::rpc_worker(&spec.name, &s)?,
        #[cfg(feature = "iceoryx2")]
        Family::Iceoryx2 => crate::iox::rpc_worker(&spec.name, &s)?,
        #[allow(unreachable_patterns)]
        _ => return Err("not built in".into()),
    };
    worker_loop(w.as_mut(), &s)
}

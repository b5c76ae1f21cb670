//! Tachyon (crate tachyon-ipc 0.5.1) used as its README and examples do:
//! one `Bus` per direction, the listener creates the ring and waits for the
//! other side to connect; `acquire_tx` + `commit` per message (commit flushes),
//! `acquire_rx(spin)` + `commit` per message; the batch row commits unflushed
//! and flushes every BATCH messages, and drains with `drain_batch`.
//! A full ring makes `acquire_tx` fail at once (BufferFull): the producer
//! flushes what it holds and retries, spinning.
use crate::harness::*;
use tachyon_ipc::{Bus, TachyonError};

/// acquire_rx's spins before it sleeps on a futex: the crate's own value.
const SPIN: u32 = 10_000;
/// Messages per flush / drain in the batch row, as zipc-batch's maximum.
pub const BATCH: usize = 64;
const RTT_RING: usize = 64 * 1024; // zipc's rtt ring
/// Tachyon's frame: a 64-byte header, the payload rounded up to 64.
fn frame(size: usize) -> usize {
    64 + size.div_ceil(64) * 64
}

/// zipc's stream ring (bench/stream.c), but never below a power of two that
/// holds more than 32 frames: Tachyon's consumer hands space back only
/// every 32 messages, so a smaller ring stalls the producer for good.
pub fn ring_for(size: usize) -> usize {
    let mut cap = crate::zipc_ring_for(size);
    while cap < 33 * frame(size) {
        cap <<= 1;
    }
    cap
}

fn err(what: &str, e: TachyonError) -> String {
    format!("tachyon {what}: {e}")
}

fn sock(name: &str, end: &str) -> String {
    format!("/tmp/{name}-{end}.sock")
}

fn connect(path: &str) -> Res<Bus> {
    retry("tachyon connect", || Bus::connect(path).map_err(|e| err("connect", e)))
}

/// Wait for room, flushing unflushed messages first so the consumer can
/// make room at all.
fn send_one(bus: &Bus, msg: &[u8], flush_each: bool) -> Res<()> {
    let mut flushed = flush_each;
    let g = loop {
        match bus.acquire_tx(msg.len()) {
            Ok(g) => break g,
            Err(TachyonError::BufferFull) => {
                if !flushed {
                    bus.flush();
                    flushed = true;
                }
                std::hint::spin_loop()
            }
            Err(e) => return Err(err("acquire_tx", e)),
        }
    };
    g.write(msg);
    if flush_each {
        g.commit(msg.len(), 1).map_err(|e| err("commit", e))
    } else {
        g.commit_unflushed(msg.len(), 1).map_err(|e| err("commit", e))
    }
}

pub fn rtt(name: &str, cfg: &Cfg, iters: usize, samples: &mut Vec<u64>) -> Res<Part> {
    let n = unique(name);
    let (a, b) = (sock(&n, "a"), sock(&n, "b"));
    let peer = Peer::spawn(&ChildSpec::encode(name, "rtt", RTT_SIZE, &n, 0.0, iters), cfg)?;
    let run = (|| -> Res<Part> {
        let tx = Bus::listen(&a, RTT_RING).map_err(|e| err("listen", e))?;
        let rx = Bus::listen(&b, RTT_RING).map_err(|e| err("listen", e))?;
        rtt_loop(
            iters,
            samples,
            &mut |m| send_one(&tx, m, true),
            &mut |check| {
                let g = rx.acquire_rx(SPIN).map_err(|e| err("acquire_rx", e))?;
                check(g.data())?;
                g.commit().map_err(|e| err("commit_rx", e))
            },
        )
    })();
    let r = peer.finish(run);
    let _ = (std::fs::remove_file(&a), std::fs::remove_file(&b));
    r
}

/// The peer's echo: from the received slot straight into the reply's.
fn rtt_child(spec: &ChildSpec) -> Res<()> {
    let rx = connect(&sock(&spec.name, "a"))?;
    let tx = connect(&sock(&spec.name, "b"))?;
    for _ in 0..spec.iters + spec.iters / 10 {
        let m = rx.acquire_rx(SPIN).map_err(|e| err("acquire_rx", e))?;
        send_one(&tx, m.data(), true)?;
        m.commit().map_err(|e| err("commit_rx", e))?;
    }
    Ok(())
}

pub fn stream(name: &str, size: usize, cfg: &Cfg, secs: f64) -> Res<Part> {
    let n = unique(name);
    let path = sock(&n, "s");
    let batch = name.ends_with("-batch");
    let peer = Peer::spawn(&ChildSpec::encode(name, "stream", size, &n, cfg.warm_s + secs, 0), cfg)?;
    let run = (|| -> Res<Part> {
        let rx = Bus::listen(&path, ring_for(size)).map_err(|e| err("listen", e))?;
        consume(size, cfg.warm_s, &mut |v| {
            if batch {
                let got = rx.drain_batch(BATCH, SPIN).map_err(|e| err("drain_batch", e))?;
                for m in got.iter() {
                    v.check(m.data())?;
                }
                got.commit().map_err(|e| err("commit_rx_batch", e))
            } else {
                let m = rx.acquire_rx(SPIN).map_err(|e| err("acquire_rx", e))?;
                v.check(m.data())?;
                m.commit().map_err(|e| err("commit_rx", e))
            }
        })
    })();
    let r = peer.finish(run);
    let _ = std::fs::remove_file(&path);
    r
}

fn stream_child(spec: &ChildSpec) -> Res<()> {
    let tx = connect(&sock(&spec.name, "s"))?;
    let each = !spec.peer.ends_with("-batch");
    let mut k = 0usize;
    let sent = produce(spec.size, spec.secs, &mut |m| {
        send_one(&tx, m, each)?;
        k += 1;
        if !each && k % BATCH == 0 {
            tx.flush();
        }
        Ok(())
    })?;
    send_one(&tx, &sent.to_le_bytes(), true)?;
    tx.flush();
    Ok(())
}

pub fn child(spec: &ChildSpec) -> Res<()> {
    if spec.mode == "rtt" {
        rtt_child(spec)
    } else {
        stream_child(spec)
    }
}

// ---- rpc (rpc.rs): RpcBus, as its README's RPC example -----------------------

use crate::rpc::{self, Shape};
use std::collections::VecDeque;
use tachyon_ipc::RpcBus;

/// The rpc arenas: as zipc's lane (rpc.rs lane_for) and never below what
/// ring_for gives the message size (more than 32 frames: the reading side
/// hands space back every 32 messages); forward for requests, reverse for
/// replies.
pub fn rpc_caps(s: &Shape) -> (usize, usize) {
    (rpc::lane_for(s).max(ring_for(s.req)), ring_for(s.reply))
}

/// The client: acquire_call + copy + commit (it flushes); the replies come
/// back in call order, so wait(cid) for the oldest is the next reply (a
/// reply to another call would be a fatal error of the bus).
struct RpcClient {
    bus: RpcBus,
    cids: VecDeque<u64>,
}

impl rpc::Client for RpcClient {
    fn call(&mut self, req: &[u8]) -> Res<()> {
        let bus = &self.bus;
        let mut g = poll("tachyon acquire_call", || match bus.acquire_call(req.len()) {
            Ok(g) => Ok(Some(g)),
            Err(TachyonError::BufferFull) => Ok(None),
            Err(e) => Err(err("acquire_call", e)),
        })?;
        g.as_mut_slice()[..req.len()].copy_from_slice(req);
        let cid = g.commit(req.len(), 1).map_err(|e| err("commit_call", e))?;
        self.cids.push_back(cid);
        Ok(())
    }
    fn wait_oldest(&mut self, f: &mut dyn FnMut(&[u8]) -> Res<()>) -> Res<()> {
        let cid = self.cids.pop_front().ok_or("tachyon rpc: no call in flight")?;
        let g = self.bus.wait(cid, SPIN).map_err(|e| err("rpc wait", e))?;
        let ok = f(g.data());
        g.commit().map_err(|e| err("rpc commit_rx", e))?;
        ok
    }
}

/// We listen (it blocks until the worker connects), as the channel rows.
pub fn rpc_client(name: &str, s: &Shape) -> Res<Box<dyn rpc::Client>> {
    let (fwd, rev) = rpc_caps(s);
    let bus = RpcBus::listen(&sock(name, "rpc"), fwd, rev).map_err(|e| err("rpc listen", e))?;
    Ok(Box::new(RpcClient { bus, cids: VecDeque::new() }))
}

/// The worker: serve, acquire_reply + the reply written in place + commit,
/// then the request's slot released.
struct RpcWorker(RpcBus);

impl rpc::Worker for RpcWorker {
    fn serve(&mut self, reply: usize, f: &mut dyn FnMut(&[u8], &mut [u8]) -> Res<()>) -> Res<bool> {
        let bus = &self.0;
        let q = bus.serve(SPIN).map_err(|e| err("rpc serve", e))?;
        let stop = q.data().len() == rpc::STOP_LEN;
        let n = if stop { rpc::STOP_LEN } else { reply };
        let mut t = poll("tachyon acquire_reply", || match bus.acquire_reply(q.correlation_id, n) {
            Ok(g) => Ok(Some(g)),
            Err(TachyonError::BufferFull) => Ok(None),
            Err(e) => Err(err("acquire_reply", e)),
        })?;
        let out = &mut t.as_mut_slice()[..n];
        if stop {
            out.fill(0);
        } else {
            f(q.data(), out)?;
        }
        t.commit(n, 1).map_err(|e| err("commit_reply", e))?;
        q.commit().map_err(|e| err("rpc commit_serve", e))?;
        Ok(!stop)
    }
}

pub fn rpc_worker(name: &str, _s: &Shape) -> Res<Box<dyn rpc::Worker>> {
    let path = sock(name, "rpc");
    let bus = retry("tachyon rpc connect", || RpcBus::connect(&path).map_err(|e| err("rpc connect", e)))?;
    Ok(Box::new(RpcWorker(bus)))
}

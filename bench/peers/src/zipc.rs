//! zipc itself in this program, so every ratio against a peer is taken in
//! the same process and the same interleaved rounds (the C rows of `zipc
//! bench` run tens of seconds earlier, under whatever load the machine had
//! then). The same calls as bench/transport_zipc.c, through zipc-sys: default
//! options, reserve + copy + commit per message (zipc-batch: COMMIT_MORE and
//! a publish every `batch` messages), view + release per message (zipc-batch:
//! drain up to 64, one release).
use crate::harness::*;
use std::ffi::CString;
use std::ptr;
use zipc_sys as sys;

const TIMEOUT_NS: i64 = 10_000_000_000; // BENCH_TIMEOUT_NS
const RTT_RING: usize = 64 * 1024;
const MAX_BATCH: usize = 64;

struct Ch(*mut sys::zipc_channel);
impl Drop for Ch {
    fn drop(&mut self) {
        // SAFETY: a channel this process opened, closed once.
        unsafe { sys::zipc_channel_close(self.0) };
    }
}

fn check(rc: i32, what: &str) -> Res<()> {
    if rc < 0 {
        Err(format!("zipc {what}: {}", std::io::Error::from_raw_os_error(-rc)))
    } else {
        Ok(())
    }
}

fn listen(path: &str, cap: usize) -> Res<Ch> {
    let p = CString::new(path).unwrap();
    let mut ch = ptr::null_mut();
    // SAFETY: valid out pointer and C string; NULL options: the defaults.
    check(unsafe { sys::zipc_channel_listen(&mut ch, p.as_ptr(), cap, ptr::null()) }, "listen")?;
    Ok(Ch(ch))
}

fn connect(path: &str) -> Res<Ch> {
    let p = CString::new(path).unwrap();
    retry("zipc connect", || {
        let mut ch = ptr::null_mut();
        // SAFETY: as in listen.
        check(unsafe { sys::zipc_channel_connect(&mut ch, p.as_ptr(), ptr::null()) }, "connect")?;
        Ok(Ch(ch))
    })
}

/// zipc-batch's messages per publish / drain (bench/stream.c batch_for).
pub fn batch_for(size: usize) -> usize {
    let frame = (size + sys::ZIPC_FRAME_HEADER + sys::ZIPC_FRAME_ALIGN - 1) & !(sys::ZIPC_FRAME_ALIGN - 1);
    (crate::zipc_ring_for(size) / 2 / frame).clamp(1, MAX_BATCH)
}

/// Reserve, copy in, commit; `more`: stage it (COMMIT_MORE).
fn send(tx: &Ch, msg: &[u8], more: bool) -> Res<()> {
    let mut slot = ptr::null_mut();
    // SAFETY: the reservation holds msg.len() bytes until the commit.
    unsafe {
        check(sys::zipc_channel_reserve(tx.0, msg.len(), &mut slot, TIMEOUT_NS), "reserve")?;
        sys::zipc_copy(slot, msg.as_ptr().cast(), msg.len()); // as zipc_channel_send copies
        let flags = if more { sys::ZIPC_COMMIT_MORE } else { 0 };
        check(sys::zipc_channel_commit(tx.0, msg.len(), 0, flags), "commit")
    }
}

/// View the next message, hand it to `f` in place, release it.
fn take_one(rx: &Ch, f: &mut dyn FnMut(&[u8]) -> Res<()>) -> Res<()> {
    let mut m = sys::zipc_msg::default();
    // SAFETY: a viewed message stays valid until its release.
    unsafe {
        check(sys::zipc_channel_view(rx.0, &mut m, TIMEOUT_NS), "view")?;
        f(std::slice::from_raw_parts(m.data.cast::<u8>(), m.size as usize))?;
        check(sys::zipc_channel_release(rx.0), "release")
    }
}

fn sock(name: &str, end: &str) -> String {
    format!("/tmp/{name}-{end}.sock")
}

/// Channel a carries the peer's messages to us (we listen: the default
/// consumer); channel b ours to the peer (it listens), as the C rows.
pub fn rtt(name: &str, cfg: &Cfg, iters: usize, samples: &mut Vec<u64>) -> Res<Part> {
    let n = unique(name);
    let peer = Peer::spawn(&ChildSpec::encode(name, "rtt", RTT_SIZE, &n, 0.0, iters), cfg)?;
    let run = (|| -> Res<Part> {
        let rx = listen(&sock(&n, "a"), RTT_RING)?;
        let tx = connect(&sock(&n, "b"))?;
        rtt_loop(iters, samples, &mut |m| send(&tx, m, false), &mut |f| take_one(&rx, f))
    })();
    peer.finish(run)
}

fn rtt_child(spec: &ChildSpec) -> Res<()> {
    let tx = connect(&sock(&spec.name, "a"))?;
    let rx = listen(&sock(&spec.name, "b"), RTT_RING)?;
    for _ in 0..spec.iters + spec.iters / 10 {
        take_one(&rx, &mut |m| send(&tx, m, false))?;
    }
    Ok(())
}

pub fn stream(name: &str, size: usize, cfg: &Cfg, secs: f64) -> Res<Part> {
    let n = unique(name);
    let batch = name.ends_with("-batch");
    let peer = Peer::spawn(&ChildSpec::encode(name, "stream", size, &n, cfg.warm_s + secs, 0), cfg)?;
    let run = (|| -> Res<Part> {
        let rx = listen(&sock(&n, "a"), crate::zipc_ring_for(size))?;
        let mut msgs = vec![sys::zipc_msg::default(); MAX_BATCH];
        consume(size, cfg.warm_s, &mut |v| {
            if !batch {
                return take_one(&rx, &mut |m| v.check(m));
            }
            // SAFETY: drained messages stay valid until the release.
            unsafe {
                let got = sys::zipc_channel_drain(rx.0, msgs.as_mut_ptr(), MAX_BATCH as u32, TIMEOUT_NS);
                check(got, "drain")?;
                for m in &msgs[..got as usize] {
                    v.check(std::slice::from_raw_parts(m.data.cast::<u8>(), m.size as usize))?;
                }
                check(sys::zipc_channel_release(rx.0), "release")
            }
        })
    })();
    peer.finish(run)
}

fn stream_child(spec: &ChildSpec) -> Res<()> {
    let tx = connect(&sock(&spec.name, "a"))?;
    let batch = if spec.peer.ends_with("-batch") { batch_for(spec.size) } else { 1 };
    let mut staged = 0;
    let sent = produce(spec.size, spec.secs, &mut |m| {
        staged = (staged + 1) % batch;
        send(&tx, m, staged != 0)
    })?;
    send(&tx, &sent.to_le_bytes(), false)?;
    // SAFETY: an open channel.
    check(unsafe { sys::zipc_channel_flush(tx.0) }, "flush")
}

pub fn child(spec: &ChildSpec) -> Res<()> {
    if spec.mode == "rtt" {
        rtt_child(spec)
    } else {
        stream_child(spec)
    }
}

// ---- rpc (rpc.rs): zipc/rpc.h through zipc-sys ------------------------------

use crate::rpc::{self, Shape};
use std::collections::VecDeque;

/// The C rows' calls (bench/rpc.c): reserve + copy + commit, wait for the
/// call's id, read the reply in place, release it.
struct RpcClient {
    c: *mut sys::zipc_rpc_client,
    ids: VecDeque<u64>,
    reply: usize,
}

impl Drop for RpcClient {
    fn drop(&mut self) {
        // SAFETY: a client this process connected, closed once.
        unsafe { sys::zipc_rpc_client_close(self.c) };
    }
}

impl rpc::Client for RpcClient {
    fn call(&mut self, req: &[u8]) -> Res<()> {
        let (mut buf, mut id) = (ptr::null_mut(), 0u64);
        // SAFETY: the reservation holds req.len() bytes until the commit.
        unsafe {
            check(sys::zipc_rpc_reserve(self.c, req.len(), self.reply, &mut buf, TIMEOUT_NS), "rpc reserve")?;
            sys::zipc_copy(buf, req.as_ptr().cast(), req.len());
            check(sys::zipc_rpc_commit(self.c, req.len(), 1, 0, TIMEOUT_NS, &mut id), "rpc commit")?;
        }
        self.ids.push_back(id);
        Ok(())
    }
    fn wait_oldest(&mut self, f: &mut dyn FnMut(&[u8]) -> Res<()>) -> Res<()> {
        let id = self.ids.pop_front().ok_or("rpc: no call in flight")?;
        let mut r = std::mem::MaybeUninit::<sys::zipc_rpc_reply>::zeroed();
        // SAFETY: a waited reply stays valid until its release.
        unsafe {
            check(sys::zipc_rpc_wait(self.c, id, r.as_mut_ptr(), TIMEOUT_NS), "rpc wait")?;
            let r = r.assume_init();
            let ok = if r.id != id || r.status != 0 {
                Err(format!("zipc rpc: call {id}: a reply of call {}, status {}", r.id, r.status))
            } else {
                f(std::slice::from_raw_parts(r.data.cast::<u8>(), r.size as usize))
            };
            check(sys::zipc_rpc_reply_release(self.c, &r), "rpc reply_release")?;
            ok
        }
    }
}

pub fn rpc_client(name: &str, s: &Shape) -> Res<Box<dyn rpc::Client>> {
    let n = CString::new(name).unwrap();
    let cfg = sys::zipc_rpc_config { lane_capacity: rpc::lane_for(s) as u64, reserved: [0; 2] };
    let mut c = ptr::null_mut();
    // SAFETY: valid out pointer, C string and config; NULL options: the defaults.
    check(unsafe { sys::zipc_rpc_connect(&mut c, n.as_ptr(), &cfg, ptr::null()) }, "rpc connect")?;
    Ok(Box::new(RpcClient { c, ids: VecDeque::new(), reply: s.reply }))
}

/// The worker: next, the reply written at req.reply, respond.
struct RpcWorker(*mut sys::zipc_rpc_worker);

impl Drop for RpcWorker {
    fn drop(&mut self) {
        // SAFETY: a worker this process opened, closed once.
        unsafe { sys::zipc_rpc_worker_close(self.0) };
    }
}

impl rpc::Worker for RpcWorker {
    fn serve(&mut self, reply: usize, f: &mut dyn FnMut(&[u8], &mut [u8]) -> Res<()>) -> Res<bool> {
        let mut q = std::mem::MaybeUninit::<sys::zipc_rpc_request>::zeroed();
        // SAFETY: a taken request's data and reply room stay valid until the respond.
        unsafe {
            check(sys::zipc_rpc_next(self.0, q.as_mut_ptr(), TIMEOUT_NS), "rpc next")?;
            let q = q.assume_init();
            let req = std::slice::from_raw_parts(q.data.cast::<u8>(), q.size as usize);
            let n = if req.len() == rpc::STOP_LEN { rpc::STOP_LEN } else { reply };
            if (q.reply_capacity as usize) < n {
                return Err(format!("zipc rpc: reply room {} < {n}", q.reply_capacity));
            }
            let out = std::slice::from_raw_parts_mut(q.reply.cast::<u8>(), n);
            if req.len() == rpc::STOP_LEN {
                out.fill(0);
            } else {
                f(req, out)?;
            }
            check(sys::zipc_rpc_respond(self.0, &q, n, 0, 0), "rpc respond")?;
            Ok(req.len() != rpc::STOP_LEN)
        }
    }
}

pub fn rpc_worker(name: &str, s: &Shape) -> Res<Box<dyn rpc::Worker>> {
    let n = CString::new(name).unwrap();
    let cfg = sys::zipc_rpc_config { lane_capacity: rpc::lane_for(s) as u64, reserved: [0; 2] };
    let mut w = ptr::null_mut();
    // SAFETY: as in rpc_client.
    check(unsafe { sys::zipc_rpc_serve(&mut w, n.as_ptr(), &cfg, ptr::null()) }, "rpc serve")?;
    Ok(Box::new(RpcWorker(w)))
}

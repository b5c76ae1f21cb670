//! The pubsub rows: one publisher (this process, the first CPU) and N
//! subscriber processes, all pinned to the second CPU (a 2-CPU machine has
//! no more: they share it), as the C topic rows of `zipc bench`
//! (bench/topic.c): the same messages (both sequence stamps and a checksum of
//! every 8-byte word, checked by every subscriber on every message), the same
//! phases and counts:
//!   cost   bursts of half a ring, each begun once every subscriber has
//!          verified everything before it (so the publisher never waits for
//!          room) and no sooner than BURST_GAP_NS after the previous one
//!          ended (caches cool alike for every subscriber count):
//!          burst time / messages is the publisher's cost per message;
//!   stream a fixed count as fast as the slowest subscriber allows, the
//!          publisher's rate and the slowest subscriber's after 10% warm-up;
//! then an END_LEN message carrying the count, which every subscriber checks.
//! Backends: zipc's topic (its C calls, declared below: zipc-sys has no
//! topic yet) and iceoryx2 publish-subscribe (safe overflow off, the
//! publisher retries until delivered, subscriber buffers of a zipc ring's
//! worth of messages: lossless, and receive busy-polled).
use crate::harness::*;
use std::ffi::c_void;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const TIMEOUT_NS: i64 = 10_000_000_000; // BENCH_TIMEOUT_NS
const READY: u32 = 1;
const DONE: u32 = 2;

/// CLOCK_MONOTONIC in ns: comparable across our processes (as bench_now_ns).
/// bench/topic.c's TOPIC_BURST_GAP_NS: the least pause before a cost burst.
const BURST_GAP_NS: i64 = 4_000_000;

pub fn now_ns() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

// ---- the plan of one part ----------------------------------------------------

/// The counts of one part; the same as bench/topic.c's for the same options.
#[derive(Clone, Debug)]
pub struct Plan {
    pub size: usize,
    pub subs: usize,
    pub burst: u64,
    pub bursts: u64,
    pub stream: u64,
    pub warm: u64,
}

/// Stream messages per row (all rounds), 32 B and 1 MiB; cost bursts per row.
pub fn counts(quick: bool) -> ([u64; 2], u64) {
    if quick { ([40_000, 40], 20) } else { ([4_000_000, 4_000], 200) }
}

impl Plan {
    pub fn new(size: usize, subs: usize, cfg: &Cfg, quick: bool) -> Plan {
        let (msgs, bursts) = counts(quick);
        let small = size <= 4096;
        let stream = msgs[if small { 0 } else { 1 }] / cfg.rounds as u64;
        let ring = crate::zipc_ring_for(size) as u64;
        let frame = ((size + 16 + 63) & !63) as u64; // ZIPC_FRAME_HEADER, ZIPC_FRAME_ALIGN
        let bursts = bursts / cfg.rounds as u64;
        Plan { size, subs, burst: (ring / 2 / frame).max(1), bursts, stream, warm: (stream / 10).max(1) }
    }
    fn total(&self) -> u64 {
        self.bursts * self.burst + self.stream
    }
    fn encode(&self, board: &str, index: usize) -> String {
        let p = self;
        format!("{board},{index},{},{},{},{},{},{}", p.size, p.subs, p.burst, p.bursts, p.stream, p.warm)
    }
    fn decode(s: &str) -> Option<(Plan, String, usize)> {
        let f: Vec<&str> = s.split(',').collect();
        let n = |i: usize| f.get(i)?.parse::<u64>().ok();
        let plan = Plan {
            size: n(2)? as usize,
            subs: n(3)? as usize,
            burst: n(4)?,
            bursts: n(5)?,
            stream: n(6)?,
            warm: n(7)?,
        };
        Some((plan, f.first()?.to_string(), n(1)? as usize))
    }
}

// ---- messages -------------------------------------------------------------------

fn words_sum(m: &[u8]) -> u64 {
    m.chunks_exact(8).fold(0u64, |s, w| s.wrapping_add(u64::from_le_bytes(w.try_into().unwrap())))
}

/// Distinct pseudo-random words (xorshift64), both stamps zero; the
/// checksum of message `seq` is then base + 2 * seq.
fn source(size: usize) -> (Vec<u8>, u64) {
    let mut src = vec![0u8; size];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
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

fn verify(m: &[u8], size: usize, base: u64, seq: u64) -> Res<()> {
    if m.len() != size || !stamped(m, seq) || words_sum(m) != base.wrapping_add(2 * seq) {
        return Err(format!("message {seq} ({} bytes) arrived corrupted or out of order", m.len()));
    }
    Ok(())
}

// ---- the board: each subscriber's progress, in a shared file ----------------------

#[repr(C, align(64))]
struct Slot {
    got: AtomicU64, // messages verified
    _line: [u64; 7],
    state: AtomicU32,
    t_warm: AtomicI64,
    t_last: AtomicI64,
}

struct Board {
    base: *mut Slot,
    n: usize,
    path: String,
    owner: bool,
}

impl Board {
    fn map(path: &str, n: usize, create: bool) -> Res<Board> {
        let len = n * std::mem::size_of::<Slot>();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(create)
            .open(path)
            .map_err(|e| format!("board {path}: {e}"))?;
        if create {
            f.set_len(len as u64).map_err(|e| format!("board {path}: {e}"))?;
        }
        use std::os::fd::AsRawFd;
        // SAFETY: a shared mapping of a file of len bytes; zeroed when created.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, f.as_raw_fd(), 0)
        };
        if p == libc::MAP_FAILED {
            return Err(format!("board {path}: mmap failed"));
        }
        Ok(Board { base: p.cast(), n, path: path.into(), owner: create })
    }
    fn slot(&self, i: usize) -> &Slot {
        assert!(i < self.n);
        // SAFETY: inside the mapping; Slot is atomics only (any bytes are valid).
        unsafe { &*self.base.add(i) }
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        // SAFETY: our mapping, unmapped once.
        unsafe { libc::munmap(self.base.cast(), self.n * std::mem::size_of::<Slot>()) };
        if self.owner {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Spin until every subscriber's state is >= `state` and its count >= `got`;
/// 10 s without it is an error.
fn await_subs(b: &Board, state: u32, got: u64) -> Res<()> {
    let t = Instant::now();
    for i in 0..b.n {
        let s = b.slot(i);
        let mut spins = 0u32;
        // Acquire: pairs with the subscriber's Release of its count / state.
        while s.state.load(Ordering::Acquire) < state || s.got.load(Ordering::Acquire) < got {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins % 4096 == 0 && t.elapsed() > Duration::from_secs(10) {
                return Err(format!(
                    "subscriber {i}: stuck at message {} of {got}",
                    s.got.load(Ordering::Relaxed)
                ));
            }
        }
    }
    Ok(())
}

// ---- the publisher's side ------------------------------------------------------

/// One backend's publisher: `ready(n)` once n subscribers are connected
/// (iceoryx2 then updates its connections); `send` one message.
pub trait Pub {
    fn ready(&mut self, subs: usize) -> Res<bool>;
    fn send(&mut self, m: &[u8]) -> Res<()>;
}

/// One backend's subscriber: `take` waits for the next message and hands it to f.
pub trait Sub {
    fn take(&mut self, f: &mut dyn FnMut(&[u8]) -> Res<()>) -> Res<()>;
}

/// A part's figures (bench/bench.h struct part's topic fields).
#[derive(Default)]
pub struct PubsubPart {
    pub messages: u64,
    pub seconds: f64,
    pub sub_slowest_s: f64,
    pub cost_s: f64,
    pub cost_msgs: u64,
    pub cost_ns: Vec<f64>, // each burst's ns per message
}

fn phases(p: &mut dyn Pub, plan: &Plan, board: &Board) -> Res<PubsubPart> {
    let (mut src, _) = source(plan.size);
    let mut out = PubsubPart::default();
    let t = Instant::now();
    await_subs(board, READY, 0)?;
    while !p.ready(plan.subs)? {
        if t.elapsed() > Duration::from_secs(10) {
            return Err("the subscribers did not connect in 10 s".into());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut seq = 0u64;
    let mut ended = now_ns();
    for _ in 0..plan.bursts {
        await_subs(board, READY, seq)?;
        while now_ns() - ended < BURST_GAP_NS {
            std::hint::spin_loop(); // as await_subs waits
        }
        let t0 = now_ns();
        for _ in 0..plan.burst {
            stamp(&mut src, seq);
            p.send(&src)?;
            seq += 1;
        }
        let ns = (now_ns() - t0) as f64;
        out.cost_s += ns / 1e9;
        out.cost_msgs += plan.burst;
        out.cost_ns.push(ns / plan.burst as f64);
        ended = now_ns();
    }
    await_subs(board, READY, seq)?; // the stream starts from caught-up subscribers
    let (start, mut t0) = (seq, 0);
    while seq < start + plan.stream {
        stamp(&mut src, seq);
        p.send(&src)?;
        seq += 1;
        if seq == start + plan.warm {
            t0 = now_ns();
        }
    }
    out.seconds = (now_ns() - t0) as f64 / 1e9;
    out.messages = plan.stream - plan.warm;
    p.send(&seq.to_le_bytes())?; // the end, with the count
    await_subs(board, DONE, seq)?; // the publisher outlives every delivery
    Ok(out)
}

/// One part of the row `row` (its name is the peer of the subscriber
/// processes): the board, the publisher, the subscribers, the phases.
pub fn run(row: &str, plan: &Plan, cfg: &Cfg, make_pub: &dyn Fn(&str, &Plan) -> Res<Box<dyn Pub>>) -> Res<PubsubPart> {
    let name = unique(row);
    let board = Board::map(&format!("/dev/shm/{name}.board"), plan.subs, true)?;
    let mut p = make_pub(&name, plan)?;
    let mut peers = Vec::new();
    let mut res = Ok(PubsubPart::default());
    for i in 0..plan.subs {
        let spec = ChildSpec::encode(row, "pubsub", plan.size, &name, 0.0, 0);
        match Peer::spawn_with(&spec, cfg, &plan.encode(&board.path, i)) {
            Ok(peer) => peers.push(peer),
            Err(e) => res = Err(e),
        }
    }
    if res.is_ok() {
        res = phases(p.as_mut(), plan, &board);
    }
    drop(p);
    for peer in peers {
        let r = peer.finish(res.as_ref().map(|_| ()).map_err(|e| e.clone()));
        if let (Ok(_), Err(e)) = (&res, r) {
            res = Err(e);
        }
    }
    let mut out = res?;
    for i in 0..plan.subs {
        let s = board.slot(i);
        let sec = (s.t_last.load(Ordering::Acquire) - s.t_warm.load(Ordering::Acquire)) as f64 / 1e9;
        out.sub_slowest_s = out.sub_slowest_s.max(sec);
    }
    Ok(out)
}

/// A subscriber process: verify every message until the end, publishing
/// progress on the board.
pub fn child(spec: &ChildSpec, make_sub: &dyn Fn(&str) -> Res<Box<dyn Sub>>) -> Res<()> {
    let env = std::env::var(PUBSUB_ENV).unwrap_or_default();
    let (plan, path, index) = Plan::decode(&env).ok_or(format!("bad pubsub plan '{env}'"))?;
    let board = Board::map(&path, plan.subs, false)?;
    let slot = board.slot(index);
    let mut sub = make_sub(&spec.name)?;
    slot.state.store(READY, Ordering::Release); // Release: after our port exists
    let (_, base) = source(plan.size);
    let (total, warm_at) = (plan.total(), plan.total() - plan.stream + plan.warm);
    let (mut seq, mut end) = (0u64, None);
    while end.is_none() {
        sub.take(&mut |m| {
            if m.len() == END_LEN && plan.size != END_LEN {
                end = Some(u64::from_le_bytes(m.try_into().unwrap()));
                return Ok(());
            }
            verify(m, plan.size, base, seq)?;
            seq += 1;
            Ok(())
        })?;
        // Release: the publisher starts its next burst after our checks.
        slot.got.store(seq, Ordering::Release);
        if seq == warm_at && slot.t_warm.load(Ordering::Relaxed) == 0 {
            slot.t_warm.store(now_ns(), Ordering::Relaxed);
        }
        if seq == total && slot.t_last.load(Ordering::Relaxed) == 0 {
            slot.t_last.store(now_ns(), Ordering::Relaxed);
        }
    }
    if end != Some(total) || seq != total {
        return Err(format!("{total} messages published, {seq} received, end says {end:?}"));
    }
    slot.state.store(DONE, Ordering::Release); // Release: t_warm, t_last before DONE
    Ok(())
}

// ---- zipc's topic, through its C calls ---------------------------------------------

mod ffi {
    use std::ffi::{c_char, c_void};
    extern "C" {
        pub fn zipc_topic_create(out: *mut *mut c_void, name: *const c_char, capacity: usize, max_subs: u32,
                                 opts: *const c_void) -> i32;
        pub fn zipc_publisher_close(p: *mut c_void) -> i32;
        pub fn zipc_publisher_reserve(p: *mut c_void, size: usize, buf: *mut *mut c_void, timeout_ns: i64) -> i32;
        pub fn zipc_publisher_commit(p: *mut c_void, size: usize, type_: u32, flags: u32) -> i32;
        pub fn zipc_publisher_subscribers(p: *mut c_void) -> i32;
        pub fn zipc_topic_subscribe(out: *mut *mut c_void, name: *const c_char, sub: *const c_void,
                                    opts: *const c_void) -> i32;
        pub fn zipc_subscriber_close(s: *mut c_void) -> i32;
        pub fn zipc_subscriber_view(s: *mut c_void, msg: *mut zipc_sys::zipc_msg, timeout_ns: i64) -> i32;
        pub fn zipc_subscriber_release(s: *mut c_void) -> i32;
    }
}

fn zcheck(rc: i32, what: &str) -> Res<()> {
    if rc < 0 {
        Err(format!("zipc {what}: {}", std::io::Error::from_raw_os_error(-rc)))
    } else {
        Ok(())
    }
}

pub struct ZipcPub(*mut c_void);
impl Drop for ZipcPub {
    fn drop(&mut self) {
        // SAFETY: a publisher we created, closed once.
        unsafe { ffi::zipc_publisher_close(self.0) };
    }
}

impl ZipcPub {
    pub fn create(name: &str, capacity: usize, subs: usize) -> Res<ZipcPub> {
        let n = std::ffi::CString::new(name).unwrap();
        let mut p = std::ptr::null_mut();
        // SAFETY: valid out pointer and name; NULL options: the defaults.
        zcheck(unsafe { ffi::zipc_topic_create(&mut p, n.as_ptr(), capacity, subs as u32, std::ptr::null()) }, "topic_create")?;
        Ok(ZipcPub(p))
    }
}

impl Pub for ZipcPub {
    fn ready(&mut self, subs: usize) -> Res<bool> {
        // SAFETY: an open publisher.
        Ok(unsafe { ffi::zipc_publisher_subscribers(self.0) } >= subs as i32)
    }
    /// Reserve, copy in, commit: as bench/topic.c's publish.
    fn send(&mut self, m: &[u8]) -> Res<()> {
        let mut slot = std::ptr::null_mut();
        // SAFETY: the reservation holds m.len() bytes until the commit.
        unsafe {
            zcheck(ffi::zipc_publisher_reserve(self.0, m.len(), &mut slot, TIMEOUT_NS), "publisher_reserve")?;
            zipc_sys::zipc_copy(slot, m.as_ptr().cast(), m.len());
            zcheck(ffi::zipc_publisher_commit(self.0, m.len(), 0, 0), "publisher_commit")
        }
    }
}

pub struct ZipcSub(*mut c_void);
impl Drop for ZipcSub {
    fn drop(&mut self) {
        // SAFETY: a subscriber we opened, closed once.
        unsafe { ffi::zipc_subscriber_close(self.0) };
    }
}

impl ZipcSub {
    /// BLOCK, from the next message; waits up to 10 s for the publisher.
    pub fn subscribe(name: &str) -> Res<ZipcSub> {
        let n = std::ffi::CString::new(name).unwrap();
        let mut s = std::ptr::null_mut();
        // SAFETY: valid out pointer and name; NULL subscription and options: the defaults.
        zcheck(unsafe { ffi::zipc_topic_subscribe(&mut s, n.as_ptr(), std::ptr::null(), std::ptr::null()) }, "subscribe")?;
        Ok(ZipcSub(s))
    }
}

impl Sub for ZipcSub {
    /// View in place, hand it to f, release.
    fn take(&mut self, f: &mut dyn FnMut(&[u8]) -> Res<()>) -> Res<()> {
        let mut m = zipc_sys::zipc_msg::default();
        // SAFETY: a viewed message stays valid (read-only) until its release.
        unsafe {
            zcheck(ffi::zipc_subscriber_view(self.0, &mut m, TIMEOUT_NS), "subscriber_view")?;
            f(std::slice::from_raw_parts(m.data.cast::<u8>(), m.size as usize))?;
            zcheck(ffi::zipc_subscriber_release(self.0), "subscriber_release")
        }
    }
}

/// zipc-topic rtt: our ping on topic `n`, the subscriber's echo on `n-back`.
pub fn zipc_rtt(row: &str, cfg: &Cfg, iters: usize, samples: &mut Vec<u64>) -> Res<Part> {
    let n = unique(row);
    let mut tx = ZipcPub::create(&n, 64 * 1024, 1)?;
    let peer = Peer::spawn(&ChildSpec::encode(row, "rtt", RTT_SIZE, &n, 0.0, iters), cfg)?;
    let run = (|| -> Res<Part> {
        let mut rx = ZipcSub::subscribe(&format!("{n}-back"))?;
        let t = Instant::now();
        while !tx.ready(1)? {
            if t.elapsed() > Duration::from_secs(10) {
                return Err("zipc-topic: the subscriber did not come in 10 s".into());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        rtt_loop(iters, samples, &mut |m| tx.send(m), &mut |f| rx.take(f))
    })();
    peer.finish(run)
}

fn zipc_rtt_child(spec: &ChildSpec) -> Res<()> {
    let mut back = ZipcPub::create(&format!("{}-back", spec.name), 64 * 1024, 1)?;
    let mut rx = ZipcSub::subscribe(&spec.name)?;
    for _ in 0..spec.iters + spec.iters / 10 {
        rx.take(&mut |m| back.send(m))?;
    }
    Ok(())
}

pub fn zipc_make_pub(name: &str, plan: &Plan) -> Res<Box<dyn Pub>> {
    Ok(Box::new(ZipcPub::create(name, crate::zipc_ring_for(plan.size), plan.subs)?))
}

pub fn zipc_child(spec: &ChildSpec) -> Res<()> {
    if spec.mode == "rtt" {
        zipc_rtt_child(spec)
    } else {
        child(spec, &|name| Ok(Box::new(ZipcSub::subscribe(name)?)))
    }
}

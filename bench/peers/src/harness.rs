//! The parts every peer shares, written once so each row runs the same work
//! as the C rows of `zipc bench` (bench/rtt.c, bench/stream.c): the message
//! stamp and its check, the two loops (ping-pong, one-way stream), the
//! warm-up window, pinning, and the peer process (this program again).
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

pub const RTT_SIZE: usize = 32;
/// The end of a stream: a message of this length carrying the count sent.
pub const END_LEN: usize = 8;
pub const CHILD_ENV: &str = "ZIPC_PEERS_CHILD";
/// A pubsub subscriber's plan (pubsub.rs), beside CHILD_ENV.
pub const PUBSUB_ENV: &str = "ZIPC_PEERS_PUBSUB";
/// The running peer process, for the watchdog (0: none).
pub static CHILD_PID: AtomicI32 = AtomicI32::new(0);

pub type Res<T> = Result<T, String>;

/// The sequence number in a message's first and last 8 bytes, as the C
/// rows stamp theirs (bench/transport.h msg_stamp).
pub fn stamp(msg: &mut [u8], seq: u64) {
    let n = msg.len();
    msg[..8].copy_from_slice(&seq.to_le_bytes());
    msg[n - 8..].copy_from_slice(&seq.to_le_bytes());
}

pub fn stamped(msg: &[u8], seq: u64) -> bool {
    let n = msg.len();
    msg[..8] == seq.to_le_bytes() && msg[n - 8..] == seq.to_le_bytes()
}

/// The consumer's check of every message: its size, then its stamp against
/// the next expected sequence number; an END_LEN message ends the stream.
pub struct Verify {
    pub size: usize,
    pub expect: u64,
    pub end: Option<u64>,
}

impl Verify {
    pub fn new(size: usize) -> Self {
        Verify { size, expect: 0, end: None }
    }
    pub fn check(&mut self, msg: &[u8]) -> Res<()> {
        if msg.len() == END_LEN && self.size != END_LEN {
            self.end = Some(u64::from_le_bytes(msg.try_into().unwrap()));
            return Ok(());
        }
        if msg.len() != self.size || !stamped(msg, self.expect) {
            let (n, seq) = (msg.len(), |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap()));
            return Err(match n >= 8 {
                true => format!(
                    "message {} arrived corrupted or out of order ({n} bytes, stamps {} and {})",
                    self.expect,
                    seq(&msg[..8]),
                    seq(&msg[n - 8..])
                ),
                false => format!("message {} arrived with {n} bytes", self.expect),
            });
        }
        self.expect += 1;
        Ok(())
    }
}

/// Settings of one run, the same as the C rows' (bench/bench.c).
#[derive(Clone)]
pub struct Cfg {
    pub pinned: bool,
    pub cpus: [usize; 2], // this process, the peer process
    pub rounds: usize,
    pub rtt_iters: usize, // all rounds
    pub stream_s: f64,    // all rounds
    pub warm_s: f64,      // per round
}

/// One round's measurement of a row.
#[derive(Default)]
pub struct Part {
    pub messages: u64,
    pub seconds: f64,
}

/// The peer process: this program with CHILD_ENV set; it pins itself to
/// the second CPU, runs its side, then holds its ports open until we close
/// its stdin (so nothing is torn down under a message still in flight).
pub struct Peer {
    child: Child,
}

impl Peer {
    pub fn spawn(spec: &str, cfg: &Cfg) -> Res<Peer> {
        Self::spawn_with(spec, cfg, "")
    }

    /// As spawn, with `extra` in $PUBSUB_ENV (the pubsub rows' subscriber plan).
    pub fn spawn_with(spec: &str, cfg: &Cfg, extra: &str) -> Res<Peer> {
        let cpu = if cfg.pinned { cfg.cpus[1].to_string() } else { "-".into() };
        let child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .env(CHILD_ENV, format!("{spec}|{cpu}"))
            .env(PUBSUB_ENV, extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn the peer process: {e}"))?;
        CHILD_PID.store(child.id() as i32, Ordering::Relaxed);
        Ok(Peer { child })
    }

    /// Tell a peer waiting in `await_go` to start.
    pub fn go(&mut self) -> Res<()> {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().ok_or("the peer's stdin is closed")?;
        stdin.write_all(b"g").map_err(|e| format!("start the peer: {e}"))
    }

    /// Let the peer exit; our side's error first, else the peer's own.
    pub fn finish<T>(mut self, mine: Res<T>) -> Res<T> {
        if mine.is_err() {
            let _ = self.child.kill();
        }
        drop(self.child.stdin.take());
        let mut text = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut text);
        }
        let status = self.child.wait().map_err(|e| e.to_string())?;
        CHILD_PID.store(0, Ordering::Relaxed);
        let v = mine?;
        if !status.success() {
            let why = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
            return Err(format!("peer process failed ({status}): {why}"));
        }
        Ok(v)
    }
}

/// In the peer process: wait for the parent's `Peer::go`.
pub fn await_go() -> Res<()> {
    let mut b = [0u8; 1];
    std::io::stdin().read_exact(&mut b).map_err(|e| format!("no start from the parent: {e}"))
}

/// In the peer process: wait for the parent to close our stdin.
pub fn hold_until_released() {
    let mut buf = [0u8; 64];
    while matches!(std::io::stdin().read(&mut buf), Ok(n) if n > 0) {}
}

/// Busy-poll `f` until it yields a value; a peer silent for 10 s is an error.
pub fn poll<T>(what: &str, mut f: impl FnMut() -> Res<Option<T>>) -> Res<T> {
    let mut spins = 0u32;
    let mut since: Option<Instant> = None;
    loop {
        if let Some(v) = f()? {
            return Ok(v);
        }
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins % 65536 == 0 {
            let t = *since.get_or_insert_with(Instant::now);
            if t.elapsed() > Duration::from_secs(10) {
                return Err(format!("{what}: nothing for 10 s"));
            }
        }
    }
}

/// Retry a connect (the listener may not be there yet) for up to 10 s.
pub fn retry<T>(what: &str, mut f: impl FnMut() -> Res<T>) -> Res<T> {
    let t = Instant::now();
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if t.elapsed() > Duration::from_secs(10) => return Err(format!("{what}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// The ping-pong loop of bench/rtt.c: send the stamped 32-byte message,
/// wait for its echo, check it, one clock read per round trip.
pub fn rtt_loop(
    iters: usize,
    samples: &mut Vec<u64>,
    send: &mut dyn FnMut(&[u8]) -> Res<()>,
    recv: &mut dyn FnMut(&mut dyn FnMut(&[u8]) -> Res<()>) -> Res<()>,
) -> Res<Part> {
    let warm = iters / 10;
    let mut msg = [0x5au8; RTT_SIZE];
    let mut prev = Instant::now();
    let mut total = Duration::ZERO;
    for i in 0..(warm + iters) as u64 {
        stamp(&mut msg, i);
        send(&msg)?;
        recv(&mut |reply: &[u8]| {
            if reply.len() == RTT_SIZE && stamped(reply, i) {
                Ok(())
            } else {
                Err(format!("reply {i} arrived corrupted or out of order"))
            }
        })?;
        let now = Instant::now();
        if i as usize >= warm {
            samples.push((now - prev).as_nanos() as u64);
            total += now - prev;
        }
        prev = now;
    }
    Ok(Part { messages: iters as u64, seconds: total.as_secs_f64() })
}

/// The producer loop of bench/stream.c: `size`-byte messages copied from a
/// source buffer, each stamped with its sequence number, for `secs`; the
/// clock is read every >= 256 KiB. Returns the count sent.
pub fn produce(size: usize, secs: f64, send: &mut dyn FnMut(&[u8]) -> Res<()>) -> Res<u64> {
    let mut src = vec![0xa5u8; size];
    let every = if size >= 256 * 1024 { 1 } else { (256 * 1024 / size) as u64 };
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut seq = 0u64;
    loop {
        stamp(&mut src, seq);
        send(&src)?;
        seq += 1;
        if seq % every == 0 && Instant::now() >= end {
            return Ok(seq);
        }
    }
}

/// The consumer loop of bench/stream.c: `take` verifies whatever it takes
/// (one message, or a batch); the warm-up runs from the first take, the
/// clock is read every 16 takes until the window opens, and the window
/// closes at the end of the stream. Every message counted, the total
/// checked against the producer's.
pub fn consume(
    size: usize,
    warm_s: f64,
    take: &mut dyn FnMut(&mut Verify) -> Res<()>,
) -> Res<Part> {
    let warm = Duration::from_secs_f64(warm_s);
    let mut v = Verify::new(size);
    let (mut first, mut t0, mut at_t0) = (None::<Instant>, None::<Instant>, 0u64);
    let mut calls = 0u32;
    while v.end.is_none() {
        take(&mut v)?;
        calls += 1;
        if t0.is_none() && (calls == 1 || calls % 16 == 0) {
            let now = Instant::now();
            match first {
                None => first = Some(now),
                Some(f) if now - f >= warm => (t0, at_t0) = (Some(now), v.expect),
                _ => {}
            }
        }
    }
    let end = Instant::now();
    let sent = v.end.unwrap();
    if sent != v.expect {
        return Err(format!("{sent} messages sent, {} received", v.expect));
    }
    let t0 = t0.ok_or("the stream ended during the warm-up")?;
    Ok(Part { messages: v.expect - at_t0, seconds: (end - t0).as_secs_f64() })
}

/// What the peer process runs: "peer|mode|size|name|secs|iters", then
/// "|cpu" (Peer::spawn; "-": unpinned).
pub struct ChildSpec {
    pub peer: String,
    pub mode: String,
    pub size: usize,
    pub name: String,
    pub secs: f64,
    pub iters: usize,
}

impl ChildSpec {
    pub fn encode(peer: &str, mode: &str, size: usize, name: &str, secs: f64, iters: usize) -> String {
        format!("{peer}|{mode}|{size}|{name}|{secs}|{iters}")
    }
    pub fn parse(s: &str) -> Option<(ChildSpec, Option<usize>)> {
        let f: Vec<&str> = s.split('|').collect();
        if f.len() != 7 {
            return None;
        }
        let spec = ChildSpec {
            peer: f[0].into(),
            mode: f[1].into(),
            size: f[2].parse().ok()?,
            name: f[3].into(),
            secs: f[4].parse().ok()?,
            iters: f[5].parse().ok()?,
        };
        Some((spec, f[6].parse().ok()))
    }
}

/// A unique name per row and round: socket paths, service names.
pub fn unique(tag: &str) -> String {
    use std::sync::atomic::AtomicU32;
    static RUNS: AtomicU32 = AtomicU32::new(0);
    format!("zipc-peers-{}-{tag}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed))
}

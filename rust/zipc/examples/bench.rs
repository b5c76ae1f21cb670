//! The cost of the safe binding over the C core: 32-byte ping-pong
//! (p50/p99 round trip) and 32-byte streaming (msgs/s) between two processes
//! pinned to CPUs 0 and 1 (`--cpus A,B`: A and B), once through raw
//! `zipc-sys` calls and once through the safe API, in the same run (rounds
//! interleaved); and each call's cost per message with nothing else in the
//! way (kinds "reserve" and "view": one thread holds both ends of a channel,
//! fills its ring, then drains it, every message checked; best round).
//!
//!     cargo run --release -p zipc --example bench -- [--quick] [--json] [--cpus A,B]
//!
//! `--json` prints one object with "config" and each of its "rows" ("lang":
//! "rust", names "zipc-rust" and "zipc-rust-sys") on a line of its own:
//! `zipc bench` runs this binary and merges those lines into its own output.
use std::ffi::CString;
use std::process::{Command, Stdio};
use std::ptr;
use std::time::{Duration, Instant};
use zipc::{sys, Consumer, Error, Options, Producer};

#[path = "../../../bench/external_source.rs"]
mod external_source;
use external_source::{json_str, pin, SourceArgs};

const SIZE: usize = 32;
const RTT_RING: usize = 64 * 1024;
const STREAM_RING: usize = 256 * 1024;
const BATCH: usize = 64;
const CHILD_ENV: &str = "ZIPC_RS_BENCH_CHILD";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Api {
    Sys,
    Safe,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Sys => "zipc-rust-sys",
            Api::Safe => "zipc-rust",
        }
    }
    fn parse(s: &str) -> Api {
        if s == "sys" { Api::Sys } else { Api::Safe }
    }
    fn tag(self) -> &'static str {
        if self == Api::Sys { "sys" } else { "safe" }
    }
}


fn ok(rc: i32, what: &str) {
    if rc < 0 {
        panic!("{what}: {}", Error::from_errno(rc));
    }
}

// ---- raw zipc-sys endpoints (the baseline) -------------------------------

struct Raw(*mut sys::zipc_channel);
impl Drop for Raw {
    fn drop(&mut self) {
        unsafe { sys::zipc_channel_close(self.0) };
    }
}
fn raw_opts(role: i32) -> sys::zipc_options {
    sys::zipc_options { role, timeout_ns: 30_000_000_000, ..Default::default() }
}
fn raw_listen(path: &str, cap: usize, role: i32) -> Raw {
    let p = CString::new(path).unwrap();
    let mut ch = ptr::null_mut();
    ok(unsafe { sys::zipc_channel_listen(&mut ch, p.as_ptr(), cap, &raw_opts(role)) }, "listen");
    Raw(ch)
}
fn raw_connect(path: &str) -> Raw {
    let p = CString::new(path).unwrap();
    let mut ch = ptr::null_mut();
    ok(unsafe { sys::zipc_channel_connect(&mut ch, p.as_ptr(), &raw_opts(0)) }, "connect");
    Raw(ch)
}

fn opts() -> Options {
    Options::new().timeout(Some(Duration::from_secs(30)))
}

// ---- calls: the cost per message, one thread holding both ends -----------

/// Rounds of the calls measurement (fill the ring, then drain it).
const CALL_ROUNDS: usize = 400;

/// The listener (consumer) in a thread while this one connects (producer).
fn safe_pair(path: &str) -> (Producer, Consumer) {
    let _ = std::fs::remove_file(path);
    let p = path.to_string();
    let t = std::thread::spawn(move || Consumer::listen(&p, STREAM_RING, opts()).unwrap());
    let tx = Producer::connect(path, opts()).unwrap();
    (tx, t.join().unwrap())
}

fn check(data: &[u8], seq: u64) {
    assert!(data.len() == SIZE && data[..8] == seq.to_le_bytes(), "calls: message {seq} arrived wrong");
}

/// One round: as many messages as reserve takes without waiting, then all
/// of them viewed, checked and released: (messages, fill ns, drain ns).
/// The raw calls on the safe API's own endpoints (`as_ptr`): two channels
/// of the same shape measured 10 vs 13 ns per view + release with the same
/// calls, so both APIs share one.
fn calls_round_sys(tx: *mut sys::zipc_channel, rx: *mut sys::zipc_channel, sent: &mut u64, seen: &mut u64) -> (u64, u64, u64) {
    let t0 = Instant::now();
    let mut n = 0u64;
    // SAFETY: live endpoints; each slot is SIZE writable bytes; each view is released once.
    unsafe {
        loop {
            let mut buf = ptr::null_mut();
            let rc = sys::zipc_channel_reserve(tx, SIZE, &mut buf, 0);
            if rc == -libc::EAGAIN {
                break;
            }
            ok(rc, "reserve");
            ptr::write_bytes(buf.cast::<u8>(), 0xa5, SIZE);
            buf.cast::<u64>().write_unaligned(*sent);
            ok(sys::zipc_channel_commit(tx, SIZE, 0, 0), "commit");
            *sent += 1;
            n += 1;
        }
        let t1 = Instant::now();
        let mut m = sys::zipc_msg::default();
        for _ in 0..n {
            ok(sys::zipc_channel_view(rx, &mut m, sys::ZIPC_FOREVER), "view");
            check(std::slice::from_raw_parts(m.data.cast::<u8>(), m.size as usize), *seen);
            *seen += 1;
            ok(sys::zipc_channel_release_view(rx, &m), "release_view");
        }
        (n, (t1 - t0).as_nanos() as u64, t1.elapsed().as_nanos() as u64)
    }
}

fn calls_round_safe(tx: &mut Producer, rx: &mut Consumer, sent: &mut u64, seen: &mut u64) -> (u64, u64, u64) {
    let t0 = Instant::now();
    let mut n = 0u64;
    loop {
        let mut r = match tx.try_reserve(SIZE) {
            Ok(r) => r,
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("reserve: {e}"),
        };
        r.fill(0xa5);
        r[..8].copy_from_slice(&sent.to_le_bytes());
        r.commit(SIZE, 0).unwrap();
        *sent += 1;
        n += 1;
    }
    let t1 = Instant::now();
    for _ in 0..n {
        let v = rx.view(None).unwrap();
        check(&v, *seen);
        *seen += 1;
    }
    (n, (t1 - t0).as_nanos() as u64, t1.elapsed().as_nanos() as u64)
}

/// Best ns per message of each API's reserve + commit and view + release,
/// rounds interleaved: [[sys fill, sys drain], [safe fill, safe drain]].
fn run_calls(rounds: usize) -> [[f64; 2]; 2] {
    let (mut tx, mut rx) = safe_pair(&format!("/tmp/zipc-rs-bench-{}-calls.sock", std::process::id()));
    let (raw_tx, raw_rx) = (tx.as_ptr(), rx.as_ptr());
    let mut best = [[f64::MAX; 2]; 2];
    let (mut seq, mut seen) = (0u64, 0u64);
    for _ in 0..rounds {
        for (k, b) in best.iter_mut().enumerate() {
            let (n, fill, drain) = if k == 0 {
                calls_round_sys(raw_tx, raw_rx, &mut seq, &mut seen)
            } else {
                calls_round_safe(&mut tx, &mut rx, &mut seq, &mut seen)
            };
            assert!(n > 0, "calls: the ring took no message");
            b[0] = b[0].min(fill as f64 / n as f64);
            b[1] = b[1].min(drain as f64 / n as f64);
        }
    }
    best
}

// ---- children ------------------------------------------------------------

/// Echo every message of A back on B until A's producer is gone.
fn child_rtt(api: Api, a: &str, b: &str) {
    match api {
        Api::Sys => unsafe {
            let cons = raw_connect(a);
            let prod = raw_connect(b);
            let mut m = sys::zipc_msg::default();
            loop {
                let rc = sys::zipc_channel_view(cons.0, &mut m, sys::ZIPC_FOREVER);
                if rc == -libc::EPIPE {
                    break;
                }
                ok(rc, "view");
                let mut buf = ptr::null_mut();
                ok(sys::zipc_channel_reserve(prod.0, SIZE, &mut buf, sys::ZIPC_FOREVER), "reserve");
                ptr::copy_nonoverlapping(m.data.cast::<u8>(), buf.cast::<u8>(), SIZE);
                ok(sys::zipc_channel_commit(prod.0, SIZE, 0, 0), "commit");
                ok(sys::zipc_channel_release(cons.0), "release");
            }
        },
        Api::Safe => {
            let mut cons = Consumer::connect(a, opts()).unwrap();
            let mut prod = Producer::connect(b, opts()).unwrap();
            loop {
                let v = match cons.view(None) {
                    Ok(v) => v,
                    Err(Error::PeerGone) => break,
                    Err(e) => panic!("view: {e}"),
                };
                let mut r = prod.reserve(SIZE, None).unwrap();
                r.copy_from_slice(&v);
                r.commit(SIZE, 0).unwrap();
                drop(v);
            }
        }
    }
}

/// Produce 32-byte messages (seq in the first 8 bytes) for `secs`, then close.
fn child_stream(api: Api, a: &str, secs: f64) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut seq = 0u64;
    match api {
        Api::Sys => unsafe {
            let prod = raw_connect(a);
            loop {
                let mut buf = ptr::null_mut();
                ok(sys::zipc_channel_reserve(prod.0, SIZE, &mut buf, sys::ZIPC_FOREVER), "reserve");
                ptr::write_bytes(buf.cast::<u8>(), 0xa5, SIZE);
                buf.cast::<u64>().write(seq);
                ok(sys::zipc_channel_commit(prod.0, SIZE, 0, 0), "commit");
                seq += 1;
                if seq % 8192 == 0 && Instant::now() >= end {
                    break;
                }
            }
        },
        Api::Safe => {
            let mut prod = Producer::connect(a, opts()).unwrap();
            loop {
                let mut r = prod.reserve(SIZE, None).unwrap();
                r.fill(0xa5);
                r[..8].copy_from_slice(&seq.to_le_bytes());
                r.commit(SIZE, 0).unwrap();
                seq += 1;
                if seq % 8192 == 0 && Instant::now() >= end {
                    break;
                }
            }
        }
    }
}

fn child_main(spec: &str) {
    let f: Vec<&str> = spec.split('|').collect();
    let (api, mode, a, b, cpu) = (Api::parse(f[0]), f[1], f[2], f[3], f[4]);
    if let Ok(c) = cpu.parse::<usize>() {
        pin(c);
    }
    match mode {
        "rtt" => child_rtt(api, a, b),
        _ => child_stream(api, a, f[5].parse().unwrap()),
    }
}

// ---- parent --------------------------------------------------------------

struct Cfg {
    pinned: bool,
    cpus: [usize; 2], // parent, child
    rtt_iters: usize,
    stream_s: f64,
    warm_s: f64,
}

fn spawn(api: Api, mode: &str, a: &str, b: &str, cfg: &Cfg, extra: &str) -> std::process::Child {
    let cpu = if cfg.pinned { cfg.cpus[1].to_string() } else { "-".to_string() };
    Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, format!("{}|{mode}|{a}|{b}|{cpu}|{extra}", api.tag()))
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the child")
}

fn paths(tag: &str) -> (String, String) {
    let base = format!("/tmp/zipc-rsbench-{}-{tag}", std::process::id());
    (format!("{base}-a.sock"), format!("{base}-b.sock"))
}

/// Round-trip samples in ns (warm-up dropped).
fn run_rtt(api: Api, cfg: &Cfg) -> Vec<u64> {
    let (a, b) = paths("rtt");
    let mut child = spawn(api, "rtt", &a, &b, cfg, "");
    let n = cfg.rtt_iters;
    let warm = n / 10;
    let mut samples = Vec::with_capacity(n);
    match api {
        Api::Sys => unsafe {
            let prod = raw_listen(&a, RTT_RING, sys::ZIPC_ROLE_PRODUCER);
            let cons = raw_listen(&b, RTT_RING, sys::ZIPC_ROLE_CONSUMER);
            let mut m = sys::zipc_msg::default();
            let mut t = Instant::now();
            for i in 0..(warm + n) as u64 {
                let mut buf = ptr::null_mut();
                ok(sys::zipc_channel_reserve(prod.0, SIZE, &mut buf, sys::ZIPC_FOREVER), "reserve");
                ptr::write_bytes(buf.cast::<u8>(), 0x5a, SIZE);
                buf.cast::<u64>().write(i);
                ok(sys::zipc_channel_commit(prod.0, SIZE, 0, 0), "commit");
                ok(sys::zipc_channel_view(cons.0, &mut m, sys::ZIPC_FOREVER), "view");
                assert_eq!(m.data.cast::<u64>().read(), i);
                ok(sys::zipc_channel_release(cons.0), "release");
                let now = Instant::now();
                if i as usize >= warm {
                    samples.push((now - t).as_nanos() as u64);
                }
                t = now;
            }
        },
        Api::Safe => {
            let mut prod = Producer::listen(&a, RTT_RING, opts()).unwrap();
            let mut cons = Consumer::listen(&b, RTT_RING, opts()).unwrap();
            let mut t = Instant::now();
            for i in 0..(warm + n) as u64 {
                let mut r = prod.reserve(SIZE, None).unwrap();
                r.fill(0x5a);
                r[..8].copy_from_slice(&i.to_le_bytes());
                r.commit(SIZE, 0).unwrap();
                let v = cons.view(None).unwrap();
                assert_eq!(v[..8], i.to_le_bytes());
                drop(v);
                let now = Instant::now();
                if i as usize >= warm {
                    samples.push((now - t).as_nanos() as u64);
                }
                t = now;
            }
        }
    }
    assert!(child.wait().unwrap().success(), "rtt child failed");
    let _ = (std::fs::remove_file(&a), std::fs::remove_file(&b));
    samples
}

/// (messages in the measured window, seconds).
fn run_stream(api: Api, cfg: &Cfg) -> (u64, f64) {
    let (a, b) = paths("stream");
    let mut child = spawn(api, "stream", &a, &b, cfg, &format!("{}", cfg.warm_s + cfg.stream_s));
    let warm = Duration::from_secs_f64(cfg.warm_s);
    let (mut total, mut at_t0, mut first, mut t0) = (0u64, 0u64, None::<Instant>, None::<Instant>);
    let mut calls = 0u32;
    let mark = |total: u64, calls: u32, first: &mut Option<Instant>, t0: &mut Option<Instant>, at_t0: &mut u64| {
        if t0.is_none() && (calls == 1 || calls % 16 == 0) {
            let now = Instant::now();
            match first {
                None => *first = Some(now),
                Some(f) if now - *f >= warm => {
                    *t0 = Some(now);
                    *at_t0 = total;
                }
                _ => {}
            }
        }
    };
    match api {
        Api::Sys => unsafe {
            let cons = raw_listen(&a, STREAM_RING, sys::ZIPC_ROLE_CONSUMER);
            let mut msgs = vec![sys::zipc_msg::default(); BATCH];
            loop {
                let n = sys::zipc_channel_drain(cons.0, msgs.as_mut_ptr(), BATCH as u32, sys::ZIPC_FOREVER);
                if n == -libc::EPIPE {
                    break;
                }
                ok(n, "drain");
                for m in &msgs[..n as usize] {
                    if m.data.cast::<u64>().read() != total || m.size as usize != SIZE {
                        panic!("stream: message {total} out of order");
                    }
                    total += 1;
                }
                ok(sys::zipc_channel_release(cons.0), "release");
                calls += 1;
                mark(total, calls, &mut first, &mut t0, &mut at_t0);
            }
        },
        Api::Safe => {
            let mut cons = Consumer::listen(&a, STREAM_RING, opts()).unwrap();
            loop {
                let batch = match cons.drain(BATCH, None) {
                    Ok(b) => b,
                    Err(Error::PeerGone) => break,
                    Err(e) => panic!("drain: {e}"),
                };
                for m in batch.iter() {
                    if m.data()[..8] != total.to_le_bytes() || m.len() != SIZE {
                        panic!("stream: message {total} out of order");
                    }
                    total += 1;
                }
                drop(batch);
                calls += 1;
                mark(total, calls, &mut first, &mut t0, &mut at_t0);
            }
        }
    }
    let end = Instant::now();
    assert!(child.wait().unwrap().success(), "stream child failed");
    let _ = std::fs::remove_file(&a);
    let t0 = t0.expect("the stream ended during the warm-up");
    (total - at_t0, (end - t0).as_secs_f64())
}

struct RttStats {
    n: usize,
    min: u64,
    p50: u64,
    p90: u64,
    p99: u64,
    p999: u64,
    max: u64,
    mean: f64,
}

fn rtt_stats(mut s: Vec<u64>) -> RttStats {
    s.sort_unstable();
    let q = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    RttStats {
        n: s.len(),
        min: s[0],
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: *s.last().unwrap(),
        mean: s.iter().sum::<u64>() as f64 / s.len() as f64,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}




fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child_main(&spec);
        return;
    }
    let args = SourceArgs::parse("bench");
    let (quick, json, cpu) = (args.quick, args.json, args.cpus);
    // SAFETY: sysconf has no preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
    let pinned = args.pin_self();
    let cfg = Cfg {
        pinned,
        cpus: cpu,
        rtt_iters: if quick { 20_000 } else { 200_000 },
        stream_s: if quick { 0.3 } else { 1.0 },
        warm_s: if quick { 0.1 } else { 0.2 },
    };
    let rounds = if quick { 1 } else { 3 };

    // Interleave the two APIs round by round so drift hits both alike.
    let mut rtt: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
    let mut rtt_p50: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut stream: [Vec<(u64, f64)>; 2] = [Vec::new(), Vec::new()];
    let apis = [Api::Sys, Api::Safe];
    for round in 0..rounds {
        for k in 0..apis.len() {
            let k = if round % 2 == 0 { k } else { 1 - k };
            let s = run_rtt(apis[k], &cfg);
            rtt_p50[k].push(rtt_stats(s.clone()).p50 as f64);
            rtt[k].extend(s);
            stream[k].push(run_stream(apis[k], &cfg));
        }
    }

    let calls = run_calls(if quick { 20 } else { CALL_ROUNDS });

    let mut rows = Vec::new();
    let mut human = Vec::new();
    let mut p50 = [0.0; 2];
    let mut rate = [0.0; 2];
    for (k, &api) in apis.iter().enumerate() {
        let st = rtt_stats(std::mem::take(&mut rtt[k]));
        p50[k] = median(rtt_p50[k].clone());
        rows.push(format!(
            "{{\"name\": \"{}\", \"lang\": \"rust\", \"kind\": \"rtt\", \"size_bytes\": {SIZE}, \"ok\": true, \
             \"samples\": {}, \"min_ns\": {}, \"p50_ns\": {}, \"p90_ns\": {}, \"p99_ns\": {}, \"p99_9_ns\": {}, \
             \"max_ns\": {}, \"rtt_per_s\": {:.1}, \"ring_bytes\": {RTT_RING}}}",
            api.name(), st.n, st.min, st.p50, st.p90, st.p99, st.p999, st.max, 1e9 / st.mean
        ));
        human.push(format!(
            "{:<14} rtt    32 B  p50 {:>6} ns  p99 {:>6} ns  p99.9 {:>6} ns  ({} samples; per-round p50 {:?})",
            api.name(), st.p50, st.p99, st.p999, st.n, rtt_p50[k]
        ));
        let msgs: u64 = stream[k].iter().map(|s| s.0).sum();
        let secs: f64 = stream[k].iter().map(|s| s.1).sum();
        rate[k] = median(stream[k].iter().map(|s| s.0 as f64 / s.1).collect());
        rows.push(format!(
            "{{\"name\": \"{}\", \"lang\": \"rust\", \"kind\": \"stream\", \"size_bytes\": {SIZE}, \"ok\": true, \
             \"messages\": {msgs}, \"msgs_per_s\": {:.1}, \"gb_per_s\": {:.4}, \"seconds\": {secs:.4}, \
             \"ring_bytes\": {STREAM_RING}, \"batch\": {BATCH}}}",
            api.name(), rate[k], rate[k] * SIZE as f64 / 1e9
        ));
        human.push(format!(
            "{:<14} stream 32 B  {:>7.2} M msgs/s  ({:.3} GB/s; per-round {:?})",
            api.name(),
            rate[k] / 1e6,
            rate[k] * SIZE as f64 / 1e9,
            stream[k].iter().map(|s| format!("{:.2}M", s.0 as f64 / s.1 / 1e6)).collect::<Vec<_>>()
        ));
    }
    for (k, &api) in apis.iter().enumerate() {
        for (c, kind) in ["reserve", "view"].iter().enumerate() {
            rows.push(format!(
                "{{\"name\": \"{}\", \"lang\": \"rust\", \"kind\": \"{kind}\", \"size_bytes\": {SIZE}, \"ok\": true, \
                 \"ns_per_msg\": {:.3}, \"msgs_per_s\": {:.1}, \"ring_bytes\": {STREAM_RING}}}",
                api.name(), calls[k][c], 1e9 / calls[k][c]
            ));
        }
        human.push(format!(
            "{:<14} calls  32 B  reserve + commit {:>6.2} ns, view + release {:>6.2} ns per message (one thread)",
            api.name(), calls[k][0], calls[k][1]
        ));
    }
    let rtt_over = (p50[1] / p50[0] - 1.0) * 100.0;
    let stream_over = (rate[0] / rate[1] - 1.0) * 100.0;

    let cpu_model = read_trim("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let kernel = read_trim("/proc/sys/kernel/osrelease");
    let clocksource = read_trim("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    if json {
        println!(
            "{{\"tool\": \"zipc-rust bench\", \"zipc_version\": {},\n \"machine\": {{\"cpu_model\": {}, \"online_cpus\": {cpus}, \
             \"kernel\": {}, \"clocksource\": {}, \"pinned\": {pinned}, \"cpus\": {}}},\n \
             \"config\": {{\"quick\": {quick}, \"rounds\": {rounds}, \"rtt_iterations\": {}, \"stream_seconds\": {}, \
             \"stream_warmup_seconds\": {}, \"timer\": \"Instant (CLOCK_MONOTONIC)\"}},\n \"rows\": [\n  {}\n ],\n \
             \"overhead_percent\": {{\"rtt_p50\": {rtt_over:.2}, \"stream_msgs_per_s\": {stream_over:.2}}}}}",
            json_str(zipc::version()),
            json_str(&cpu_model),
            json_str(&kernel),
            json_str(&clocksource),
            if pinned { format!("[{}, {}]", cpu[0], cpu[1]) } else { "null".to_string() },
            cfg.rtt_iters,
            cfg.stream_s,
            cfg.warm_s,
            rows.join(",\n  ")
        );
    } else {
        println!(
            "zipc {} Rust binding bench: {cpu_model}; {cpus} CPUs; kernel {kernel}; {}",
            zipc::version(),
            if pinned { format!("parent on CPU {}, child on CPU {}", cpu[0], cpu[1]) } else { "not pinned".to_string() }
        );
        for h in &human {
            println!("{h}");
        }
        println!(
            "overhead of the safe API over zipc-sys: rtt p50 {rtt_over:+.1}%, stream {stream_over:+.1}%, \
             reserve {:+.1}%, view {:+.1}% (target <= 5%)",
            (calls[1][0] / calls[0][0] - 1.0) * 100.0,
            (calls[1][1] / calls[0][1] - 1.0) * 100.0
        );
    }
}

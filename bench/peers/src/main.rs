//! zipc-peers: the native peers users compare zipc with, Tachyon and
//! iceoryx2, beside zipc itself (the C rows' calls through zipc-sys, rounds
//! interleaved with the peers'), measured the way `zipc bench` measures its
//! C rows (bench/*.c):
//! two processes pinned to two CPUs, 32-byte ping-pong (p50/p99/p99.9,
//! round trips/s) and one-way streams of 32 B, 64 KiB and 1 MiB, the same
//! counts, durations, warm-up and interleaved rounds, every message stamped
//! with its sequence number and checked on arrival, the count checked at the
//! end. Then the topic rows (pubsub.rs): zipc's topic against iceoryx2
//! publish-subscribe, one publisher and 1, 2, 4 or 8 subscriber processes.
//! Then the rpc rows (rpc.rs): zipc's rpc against Tachyon RPC and iceoryx2
//! request-response, one client and one worker process, bench/rpc.c's work.
//!
//!     zipc-peers [--quick] [--json] [--cpus A,B]
//!
//! $ZIPC_BENCH_ROWS (set by `zipc bench --rows`): only the rows whose name
//! contains one of its comma-separated words.
//!
//! `--json` prints one "config" object and each row on a line of its own:
//! `zipc bench` runs this program (bench/external.c, source "peers") and
//! merges those lines into its own table and JSON.
// A build with a peer left out (make bench-peers) leaves some shared parts unused.
#![cfg_attr(not(all(feature = "tachyon", feature = "iceoryx2")), allow(dead_code))]

#[path = "../../external_source.rs"]
mod external_source;
mod harness;
#[cfg(feature = "iceoryx2")]
mod iox;
mod pubsub;
mod rpc;
#[cfg(feature = "tachyon")]
mod tachyon;
mod zipc;

use external_source::{json_str, pin, SourceArgs};
use harness::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// zipc's stream ring for a message size (bench/stream.c ring_for).
pub fn zipc_ring_for(size: usize) -> usize {
    if size <= 4096 {
        return 256 * 1024;
    }
    let mut cap = 64 * 1024;
    while cap < 4 * size {
        cap <<= 1;
    }
    cap
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Rtt,
    Stream,
    Pubsub, // one publisher, `subs` subscriber processes (pubsub.rs)
    Calls,  // rpc: a rate of calls, `inflight` in flight (rpc.rs)
}

struct Row {
    name: &'static str,
    kind: Kind,
    size: usize,
    error: Option<String>,
    skipped: Option<&'static str>,
    samples: Vec<u64>,
    messages: u64,
    seconds: f64,
    subs: usize,        // pubsub rows (and the topic rtt rows: 1)
    sub_slowest_s: f64, // pubsub: the slowest subscriber's windows, summed
    cost_s: f64,        // pubsub: the publisher's cost bursts
    cost_msgs: u64,
    cost_ns: Vec<f64>,  // pubsub: each burst's ns per message
    inflight: usize,    // rpc rows: calls in flight (0: not an rpc row); size: the request's
    reply: usize,       // rpc rows: reply bytes
}

const SIZES: [usize; 3] = [32, 64 * 1024, 1024 * 1024];

const TOPIC_SIZES: [usize; 2] = [32, 1024 * 1024];
const TOPIC_SUBS: [usize; 4] = [1, 2, 4, 8];
/// The rpc rows (bench/bench.c plan_rpc): kind, request, reply, calls in flight.
const RPC_ROWS: [(Kind, usize, usize, usize); 3] =
    [(Kind::Rtt, 32, 32, 1), (Kind::Calls, 32, 32, 16), (Kind::Calls, 1024 * 1024, 1024, 4)];

/// `zipc bench --rows` (passed as $ZIPC_BENCH_ROWS): a row runs if its name
/// contains one of the comma-separated words.
fn wanted(name: &str) -> bool {
    match std::env::var("ZIPC_BENCH_ROWS") {
        Ok(w) if !w.is_empty() => w.split(',').any(|w| !w.is_empty() && name.contains(w)),
        _ => true,
    }
}

/// The rows, in the C table's order: round trips, then each size's streams,
/// then the topic rows (zipc's topic and iceoryx2 pub-sub, rtt then pubsub).
fn plan() -> Vec<Row> {
    let row = |name, kind, size| Row {
        name,
        kind,
        size,
        error: None,
        skipped: skipped(name),
        samples: Vec::new(),
        messages: 0,
        seconds: 0.0,
        subs: if name.ends_with("-topic") { 1 } else { 0 },
        sub_slowest_s: 0.0,
        cost_s: 0.0,
        cost_msgs: 0,
        cost_ns: Vec::new(),
        inflight: 0,
        reply: 0,
    };
    let mut rows: Vec<Row> =
        ["zipc", "tachyon", "iceoryx2"].into_iter().map(|p| row(p, Kind::Rtt, RTT_SIZE)).collect();
    for size in SIZES {
        for name in ["zipc", "zipc-batch", "tachyon", "tachyon-batch", "iceoryx2"] {
            if name != "tachyon-batch" || size == 32 {
                rows.push(row(name, Kind::Stream, size));
            }
        }
    }
    const TOPICS: [&str; 2] = ["zipc-topic", "iceoryx2-topic"];
    rows.extend(TOPICS.map(|p| row(p, Kind::Rtt, RTT_SIZE)));
    for size in TOPIC_SIZES {
        for subs in TOPIC_SUBS {
            rows.extend(TOPICS.map(|p| Row { subs, ..row(p, Kind::Pubsub, size) }));
        }
    }
    for (kind, req, reply, inflight) in RPC_ROWS {
        for name in ["zipc-rpc", "tachyon-rpc", "iceoryx2-rpc"] {
            rows.push(Row { inflight, reply, ..row(name, kind, req) });
        }
    }
    // --rows rpc keeps the channel's round trip: zipc-rpc's is judged against it.
    let rpc = wanted("rpc");
    rows.retain(|r| wanted(r.name) || (rpc && r.name == "zipc" && r.kind == Kind::Rtt));
    rows
}


#[derive(PartialEq)]
enum Family {
    Zipc,
    Tachyon,
    Iceoryx2,
}

fn family(name: &str) -> Family {
    match name.split('-').next() {
        Some("zipc") => Family::Zipc,
        Some("tachyon") => Family::Tachyon,
        _ => Family::Iceoryx2,
    }
}

fn is_tachyon(name: &str) -> bool {
    family(name) == Family::Tachyon
}

/// Why a peer is not in this build (its crate failed to build or was left out).
fn skipped(name: &str) -> Option<&'static str> {
    if is_tachyon(name) && !cfg!(feature = "tachyon") {
        Some("not built in: tachyon-ipc needs a C++23 compiler (clang-19); make bench builds it")
    } else if family(name) == Family::Iceoryx2 && !cfg!(feature = "iceoryx2") {
        Some("not built in: the iceoryx2 crate failed to build; make bench builds it")
    } else {
        None
    }
}

fn peer_version(name: &str) -> String {
    match family(name) {
        // SAFETY: zipc_version returns a static C string.
        Family::Zipc => format!("zipc {} (zipc-sys, the C rows' calls)", unsafe {
            std::ffi::CStr::from_ptr(zipc_sys::zipc_version()).to_string_lossy()
        }),
        Family::Tachyon => "tachyon-ipc 0.5.1".into(),
        Family::Iceoryx2 => "iceoryx2 0.10.0".into(),
    }
}

/// A pubsub part: its figures into the row.
#[allow(unused_variables)]
fn run_pubsub(r: &mut Row, cfg: &Cfg, quick: bool) -> Res<Part> {
    let plan = pubsub::Plan::new(r.size, r.subs, cfg, quick);
    let p = match family(r.name) {
        Family::Zipc => pubsub::run(r.name, &plan, cfg, &pubsub::zipc_make_pub)?,
        #[cfg(feature = "iceoryx2")]
        Family::Iceoryx2 => pubsub::run(r.name, &plan, cfg, &iox::make_pub)?,
        #[allow(unreachable_patterns)]
        _ => return Err("not built in".into()),
    };
    r.sub_slowest_s += p.sub_slowest_s;
    r.cost_s += p.cost_s;
    r.cost_msgs += p.cost_msgs;
    r.cost_ns.extend(p.cost_ns);
    Ok(Part { messages: p.messages, seconds: p.seconds })
}

#[allow(unused_variables)]
fn run_part(r: &mut Row, cfg: &Cfg, quick: bool) -> Res<Part> {
    let secs = cfg.stream_s / cfg.rounds as f64;
    let iters = cfg.rtt_iters / cfg.rounds;
    if r.kind == Kind::Pubsub {
        return run_pubsub(r, cfg, quick);
    }
    if r.name == "zipc-topic" {
        return pubsub::zipc_rtt(r.name, cfg, iters, &mut r.samples);
    }
    if r.inflight > 0 {
        let shape = rpc::Shape { req: r.size, reply: r.reply, inflight: r.inflight };
        let m = match r.kind {
            Kind::Rtt => rpc::Measure::Rtt { iters, samples: &mut r.samples },
            _ => rpc::Measure::Rate { warm_s: cfg.warm_s, secs },
        };
        return rpc::run(r.name, &shape, cfg, m);
    }
    match (family(r.name), r.kind) {
        (Family::Zipc, Kind::Rtt) => zipc::rtt(r.name, cfg, iters, &mut r.samples),
        (Family::Zipc, Kind::Stream) => zipc::stream(r.name, r.size, cfg, secs),
        #[cfg(feature = "tachyon")]
        (Family::Tachyon, Kind::Rtt) => tachyon::rtt(r.name, cfg, iters, &mut r.samples),
        #[cfg(feature = "tachyon")]
        (Family::Tachyon, Kind::Stream) => tachyon::stream(r.name, r.size, cfg, secs),
        #[cfg(feature = "iceoryx2")]
        (Family::Iceoryx2, Kind::Rtt) => iox::rtt(r.name, cfg, iters, &mut r.samples),
        #[cfg(feature = "iceoryx2")]
        (Family::Iceoryx2, Kind::Stream) => iox::stream(r.name, r.size, cfg, secs),
        #[allow(unreachable_patterns)]
        _ => Err("not built in".into()),
    }
}

// ---- watchdog: a stuck row ends the run with a reason ------------------------

static CURRENT: Mutex<Option<(Instant, String)>> = Mutex::new(None);

fn watchdog() {
    std::thread::spawn(|| loop {
        std::thread::sleep(Duration::from_millis(200));
        if let Some((deadline, what)) = CURRENT.lock().unwrap().as_ref() {
            if Instant::now() > *deadline {
                let pid = CHILD_PID.load(std::sync::atomic::Ordering::Relaxed);
                if pid > 0 {
                    // SAFETY: kill has no memory preconditions; pid is our child.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                eprintln!("zipc-peers: watchdog: {what} did not finish in time");
                std::process::exit(1);
            }
        }
    });
}

fn guard(what: String, budget_s: f64) {
    *CURRENT.lock().unwrap() = Some((Instant::now() + Duration::from_secs_f64(budget_s), what));
}

// ---- figures and output ------------------------------------------------------

/// Nearest-rank percentile, as bench/stats.c.
fn pct(sorted: &[u64], q: f64) -> u64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.max(1) - 1]
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Rtt => "rtt",
        Kind::Stream => "stream",
        Kind::Pubsub => "pubsub",
        Kind::Calls => "calls",
    }
}


/// What the peer got where the C rows have their ring.
fn setup_json(r: &Row) -> String {
    if r.inflight > 0 {
        let shape = rpc::Shape { req: r.size, reply: r.reply, inflight: r.inflight };
        return format!(
            ", \"in_flight\": {}, \"reply_bytes\": {}{}",
            r.inflight,
            r.reply,
            rpc_setup_json(r.name, &shape)
        );
    }
    if family(r.name) == Family::Zipc {
        let (ring, batch) = match (r.kind, r.name.ends_with("-batch")) {
            (Kind::Rtt, _) => (64 * 1024, 1),
            (_, b) => (zipc_ring_for(r.size), if b { zipc::batch_for(r.size) } else { 1 }),
        };
        return format!(", \"ring_bytes\": {ring}, \"batch\": {batch}");
    }
    #[cfg(feature = "tachyon")]
    if is_tachyon(r.name) {
        let ring = if r.kind == Kind::Rtt { 64 * 1024 } else { tachyon::ring_for(r.size) };
        let batch = if r.name.ends_with("-batch") { tachyon::BATCH } else { 1 };
        return format!(", \"ring_bytes\": {ring}, \"batch\": {batch}");
    }
    #[cfg(feature = "iceoryx2")]
    if family(r.name) == Family::Iceoryx2 && r.kind != Kind::Rtt {
        return format!(", \"subscriber_buffer\": {}", iox::buffer_for(r.size));
    }
    let _ = r;
    String::new()
}

/// What an rpc row's peer got (its lane, arenas or limits) and, on its rtt
/// row, what its round trip is.
fn rpc_setup_json(name: &str, s: &rpc::Shape) -> String {
    let trip = |what: &str| if s.inflight == 1 { format!(", \"round_trip\": {}", json_str(what)) } else { String::new() };
    match family(name) {
        Family::Zipc => format!(", \"lane_bytes\": {}{}", rpc::lane_for(s), trip(
            "zipc_rpc_reserve + copy + commit -> the worker's zipc_rpc_next, reply written into the request's \
             frame, zipc_rpc_respond -> zipc_rpc_wait(id) returns it, checked, zipc_rpc_reply_release")),
        #[cfg(feature = "tachyon")]
        Family::Tachyon => {
            let (fwd, rev) = tachyon::rpc_caps(s);
            format!(", \"arena_bytes\": [{fwd}, {rev}]{}", trip(
                "RpcBus acquire_call + copy + commit (forward arena) -> the worker's serve, acquire_reply + \
                 reply written + commit (reverse arena), commit_serve -> wait(cid) returns it (replies in call \
                 order), checked, commit"))
        }
        #[cfg(feature = "iceoryx2")]
        Family::Iceoryx2 => format!(", \"max_active_requests_per_client\": {}{}", s.inflight, trip(
            "client loan_slice_uninit + copy + send -> the server's receive (busy-polled), response \
             loan_slice_uninit + written + send -> the PendingResponse's receive (busy-polled) returns it, \
             checked, dropped")),
        #[allow(unreachable_patterns)]
        _ => String::new(),
    }
}

fn row_json(r: &mut Row) -> String {
    let head = format!(
        "{{\"name\": {}, \"lang\": \"rust\", \"peer\": {}, \"kind\": \"{}\", \"size_bytes\": {}",
        json_str(r.name),
        json_str(&peer_version(r.name)),
        kind_name(r.kind),
        r.size
    );
    if let Some(why) = r.skipped {
        return format!("{head}, \"ok\": false, \"skipped\": {}}}", json_str(why));
    }
    if let Some(err) = &r.error {
        return format!("{head}, \"ok\": false, \"error\": {}}}", json_str(err));
    }
    let body = if r.kind == Kind::Rtt {
        let s = &mut r.samples;
        s.sort_unstable();
        let total: f64 = s.iter().map(|&x| x as f64).sum();
        format!(
            ", \"samples\": {}, \"min_ns\": {}, \"p50_ns\": {}, \"p90_ns\": {}, \"p99_ns\": {}, \
             \"p99_9_ns\": {}, \"max_ns\": {}, \"rtt_per_s\": {:.1}",
            s.len(),
            s[0],
            pct(s, 0.5),
            pct(s, 0.9),
            pct(s, 0.99),
            pct(s, 0.999),
            s[s.len() - 1],
            s.len() as f64 * 1e9 / total
        )
    } else {
        let rate = r.messages as f64 / r.seconds;
        format!(
            ", \"messages\": {}, \"msgs_per_s\": {:.1}, \"gb_per_s\": {:.4}",
            r.messages,
            rate,
            rate * r.size as f64 / 1e9
        )
    };
    let body = if r.kind == Kind::Pubsub {
        // The median burst (as bench.c: robust to a preempted one), and the mean.
        r.cost_ns.sort_unstable_by(|a, b| a.total_cmp(b));
        let median = r.cost_ns[((r.cost_ns.len() as f64 * 0.5).ceil() as usize).max(1) - 1];
        format!(
            "{body}, \"subscriber_min_msgs_per_s\": {:.1}, \"publisher_ns_per_msg\": {median:.2}, \
             \"publisher_ns_per_msg_mean\": {:.2}, \"cost_messages\": {}",
            r.messages as f64 / r.sub_slowest_s,
            r.cost_s * 1e9 / r.cost_msgs as f64,
            r.cost_msgs
        )
    } else {
        body
    };
    let body = if r.subs > 0 {
        format!("{body}, \"subscribers\": {}, \"subscribers_cpu\": \"shared\"", r.subs)
    } else {
        body
    };
    format!("{head}, \"ok\": true{body}, \"seconds\": {:.4}{}}}", r.seconds, setup_json(r))
}



fn child_main(spec: &str) -> ! {
    let Some((spec, cpu)) = ChildSpec::parse(spec) else {
        eprintln!("zipc-peers: bad child spec {spec}");
        std::process::exit(2);
    };
    if let Some(c) = cpu {
        pin(c);
    }
    let r: Res<()> = match family(&spec.peer) {
        _ if spec.mode.starts_with("rpc/") => rpc::child(&spec),
        Family::Zipc if spec.peer == "zipc-topic" => pubsub::zipc_child(&spec),
        Family::Zipc => zipc::child(&spec),
        #[cfg(feature = "tachyon")]
        Family::Tachyon => tachyon::child(&spec),
        #[cfg(feature = "iceoryx2")]
        Family::Iceoryx2 => iox::child(&spec),
        #[allow(unreachable_patterns)]
        _ => Err("not built in".into()),
    };
    if let Err(e) = r {
        eprintln!("{e}");
        std::process::exit(1);
    }
    hold_until_released();
    std::process::exit(0);
}

fn main() {
    #[cfg(feature = "iceoryx2")]
    iceoryx2::prelude::set_log_level(iceoryx2::prelude::LogLevel::Error);
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child_main(&spec);
    }
    let args = SourceArgs::parse("zipc-peers");
    let (quick, json, cpus) = (args.quick, args.json, args.cpus);
    let pinned = args.pin_self();
    // The C rows' settings (bench/bench.c): 200000 round trips (one CPU:
    // 20000, each is a context switch), 1 s per stream row, 4 rounds each
    // after 0.05 s of warm-up; --quick: 20000, 0.1 s, 1 round, 0.02 s.
    let cfg = Cfg {
        pinned,
        cpus,
        rounds: if quick { 1 } else { 4 },
        rtt_iters: match (quick, pinned) {
            (false, true) => 200_000,
            (true, true) | (false, false) => 20_000,
            (true, false) => 2_000,
        },
        stream_s: if quick { 0.1 } else { 1.0 },
        warm_s: if quick { 0.02 } else { 0.05 },
    };
    watchdog();
    let mut rows = plan();
    for r in rows.iter_mut().filter(|r| r.kind == Kind::Rtt) {
        // Fault the samples' pages in before any clock runs (as bench.c).
        r.samples.resize(cfg.rtt_iters, 0);
        r.samples.clear();
    }
    for round in 0..cfg.rounds {
        for r in rows.iter_mut().filter(|r| r.skipped.is_none() && r.error.is_none()) {
            let what = format!("{} {} {} B {} subs (round {})", r.name, kind_name(r.kind), r.size, r.subs, round + 1);
            let budget = if r.kind == Kind::Stream { 30.0 + 2.0 * (cfg.warm_s + cfg.stream_s) } else { 60.0 };
            guard(what.clone(), budget);
            match run_part(r, &cfg, quick) {
                Ok(p) => (r.messages, r.seconds) = (r.messages + p.messages, r.seconds + p.seconds),
                Err(e) => r.error = Some(e),
            }
        }
    }
    *CURRENT.lock().unwrap() = None;
    let lines: Vec<String> = rows.iter_mut().map(row_json).collect();
    let config = format!(
        "{{\"quick\": {quick}, \"rounds\": {}, \"rtt_iterations\": {}, \"stream_seconds\": {}, \
         \"stream_warmup_seconds\": {}, \"pinned\": {pinned}, \"cpus\": {}, \"tachyon\": {}, \
         \"iceoryx2\": {}, \"zipc\": {}, \"timer\": \"Instant (CLOCK_MONOTONIC)\"}}",
        cfg.rounds,
        cfg.rtt_iters,
        cfg.stream_s,
        cfg.warm_s,
        if pinned { format!("[{}, {}]", cpus[0], cpus[1]) } else { "null".into() },
        if cfg!(feature = "tachyon") { json_str(&peer_version("tachyon")) } else { "null".into() },
        if cfg!(feature = "iceoryx2") { json_str(&peer_version("iceoryx2")) } else { "null".into() },
        json_str(&peer_version("zipc")),
    );
    if json {
        println!(
            "{{\"tool\": \"zipc-peers\",\n \"config\": {config},\n \"rows\": [\n  {}\n ]}}",
            lines.join(",\n  ")
        );
    } else {
        println!("zipc-peers: {config}");
        for l in &lines {
            println!("{l}");
        }
    }
    let failed = rows.iter().any(|r| r.error.is_some());
    std::process::exit(if failed { 1 } else { 0 });
}

//! The rpc's safe API: one process (a client and a worker side by side),
//! and real processes (this test binary re-spawned as a worker): a pool of
//! 2 worker processes serving a client with many calls in flight, answered
//! out of order and matched to their calls; a deadline and a cancel
//! reaching the worker process holding the call; a streamed reply (three
//! parts in order, one out at a time, then the final reply); a worker
//! SIGKILLed holding calls (ECONNRESET, or run again if idempotent).
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use zipc::rpc::{CallOptions, Config, Reply, Request, RpcClient, RpcWorker};
use zipc::{Error, Options, Pod};

const SEC: Option<Duration> = Some(Duration::from_secs(10));
const MS50: Option<Duration> = Some(Duration::from_millis(50));

/// A fresh service name (names only: nothing on disk).
fn service_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("zipc-rs-rpc-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn opts() -> Options {
    Options::new().timeout(SEC)
}

fn pair(name: &str) -> (RpcClient, RpcWorker) {
    (RpcClient::connect(name, Config::default(), opts()).unwrap(), RpcWorker::serve(name, Config::default(), opts()).unwrap())
}

fn answer_of(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What the workers answer: the request's `answer_of`, who answered, and the attempt.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Answer {
    value: u64,
    pid: u32,
    attempt: u32,
}
// SAFETY: repr(C), 16 bytes, no padding, every bit pattern valid.
unsafe impl Pod for Answer {}

/// Answer a request carrying a u64 with an `Answer`, in place.
fn respond_answer(mut req: Request<'_>) {
    let Ok(v) = req.read::<u64>() else { return req.fail(Error::BadPayload("not a u64")).unwrap() };
    let a = Answer { value: answer_of(v), pid: std::process::id(), attempt: req.attempt() };
    req.reply_buf()[..16].copy_from_slice(zipc::pod::bytes_of(&a));
    req.respond(16, 0).unwrap();
}

fn answer(r: &Reply<'_>) -> Answer {
    r.status().unwrap();
    r.read::<Answer>().unwrap()
}

fn call_u64(c: &mut RpcClient, method: u32, v: u64, o: CallOptions) -> u64 {
    c.call(method, &v.to_le_bytes(), o).unwrap()
}

fn small() -> CallOptions {
    CallOptions { reply_capacity: 64, ..CallOptions::default() }
}

// ---- one process ---------------------------------------------------------------

#[test]
fn endpoints_are_send_not_sync() {
    fn send<T: Send>() {}
    send::<RpcClient>();
    send::<RpcWorker>();
    fn shared<T: Send + Sync + Clone>() {}
    shared::<zipc::Interrupter>();
}

#[test]
fn a_queue_is_not_a_service_nor_the_reverse() {
    let (qname, sname) = (service_name(), service_name());
    let _q = zipc::queue::Consumer::open(&qname, Default::default(), opts()).unwrap();
    let e = RpcClient::connect(&qname, Config::default(), opts()).unwrap_err();
    assert_eq!((e, e.name()), (Error::Os(libc::EPROTOTYPE), "EPROTOTYPE"));
    let _w = RpcWorker::serve(&sname, Config::default(), opts()).unwrap();
    let e = zipc::queue::Producer::open(&sname, Default::default(), opts()).unwrap_err();
    assert_eq!(e, Error::Os(libc::EPROTOTYPE));
    assert_eq!(RpcWorker::serve("/tmp/a-path", Config::default(), opts()).unwrap_err(), Error::InvalidArgument);
    assert_eq!(RpcClient::connect("bad\0name", Config::default(), opts()).unwrap_err(), Error::InvalidArgument);
}

#[test]
fn call_respond_wait_and_the_reply_released_on_drop() {
    let name = service_name();
    let (mut c, w) = pair(&name);
    use std::os::fd::AsRawFd;
    assert!(c.as_raw_fd() >= 0 && w.as_raw_fd() >= 0);

    let id = c.call(7, b"hello", CallOptions::default()).unwrap();
    assert_eq!(c.in_flight(), 1);
    let mut req = w.next(SEC).unwrap();
    assert_eq!((req.data(), req.id(), req.seq(), req.method()), (&b"hello"[..], id, id, 7));
    assert_eq!((req.attempt(), req.idempotent(), req.deadline(), req.type_id()), (1, false, None, 0));
    assert!(!req.cancelled());
    assert_eq!(req.reply_buf().len(), zipc::rpc::DEFAULT_REPLY);
    assert_eq!(req.reply_buf().as_ptr() as usize % 16, 0);
    req.reply_buf()[..5].copy_from_slice(b"HELLO");
    req.respond(5, 42).unwrap();

    let r = c.wait(id, SEC).unwrap();
    assert_eq!(r.status(), Ok(()));
    assert_eq!((r.data(), r.type_id(), r.method(), r.id(), r.seq()), (&b"HELLO"[..], 42, 7, id, id));
    drop(r); // released
    assert_eq!(c.in_flight(), 0);
    assert_eq!(c.wait(id, Some(Duration::ZERO)).unwrap_err(), Error::InvalidArgument);
    assert_eq!(c.try_wait_any().unwrap_err(), Error::WouldBlock); // nothing in flight

    // many rounds: every frame comes back (release() and drop alike)
    for i in 0..3000u64 {
        let id = call_u64(&mut c, 1, i, small());
        respond_answer(w.next(SEC).unwrap());
        let r = c.wait(id, SEC).unwrap();
        assert_eq!(answer(&r).value, answer_of(i));
        if i % 2 == 0 {
            r.release().unwrap();
        }
    }
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn reserve_commit_in_place_and_a_dropped_reservation_is_withdrawn() {
    let name = service_name();
    let (mut c, w) = pair(&name);
    let o = CallOptions { reply_capacity: 128, idempotent: true, ..CallOptions::default() };
    let mut res = c.reserve(64, o).unwrap();
    assert_eq!((res.len(), res.as_ptr() as usize % 16), (64, 0));
    res[..8].copy_from_slice(&99u64.to_le_bytes());
    let id = res.commit(8, 3).unwrap();
    let req = w.next(SEC).unwrap();
    assert_eq!((req.len(), req.idempotent()), (8, true));
    respond_answer(req);
    let r = c.wait_any(SEC).unwrap();
    assert_eq!((r.id(), r.method(), answer(&r).value), (id, 3, answer_of(99)));
    drop(r);

    // dropped uncommitted: no worker sees it, nothing in flight, the next reserve works
    let mut res = c.reserve(32, CallOptions::default()).unwrap();
    res.fill(0xab);
    drop(res);
    assert_eq!(c.in_flight(), 0);
    assert_eq!(w.next(MS50).unwrap_err(), Error::Timeout);
    c.reserve(8, CallOptions::default()).unwrap().abort();
    assert_eq!(w.next(MS50).unwrap_err(), Error::Timeout);
    // a commit longer than the reservation: refused, and withdrawn
    assert_eq!(c.reserve(8, CallOptions::default()).unwrap().commit(9, 1).unwrap_err(), Error::InvalidArgument);
    assert_eq!((c.in_flight(), w.next(MS50).unwrap_err()), (0, Error::Timeout));
    // a full lane: try_ calls do not wait for room (WouldBlock), a reply released makes some
    {
        let small_name = service_name();
        let mut sc = RpcClient::connect(&small_name, Config { lane_capacity: 1 << 12 }, opts()).unwrap();
        let sw = RpcWorker::serve(&small_name, Config::default(), opts()).unwrap();
        // a dropped reservation's room is the lane's again at once (zipc_rpc_abort):
        // 32 of 1.5 KiB in a 4 KiB lane, none waits
        let room = CallOptions { reply_capacity: 512, ..CallOptions::default() };
        for _ in 0..32 {
            drop(sc.try_reserve(1024, room).unwrap());
        }
        assert_eq!(sc.in_flight(), 0);
        let mut ids = vec![];
        let full = loop {
            match sc.try_call(1, &7u64.to_le_bytes(), small()) {
                Ok(id) => ids.push(id),
                Err(e) => break e,
            }
        };
        assert_eq!((full, ids.len() >= 8), (Error::WouldBlock, true), "{}", ids.len());
        assert_eq!(sc.try_reserve(8, small()).unwrap_err(), Error::WouldBlock);
        let brief = CallOptions { timeout: Some(Duration::from_millis(20)), ..small() };
        assert_eq!(sc.reserve(8, brief).unwrap_err(), Error::Timeout);
        respond_answer(sw.next(SEC).unwrap());
        sc.wait(ids[0], SEC).unwrap().release().unwrap();
        sc.try_call(1, &7u64.to_le_bytes(), small()).unwrap();
    }

    // request and reply room beyond the lane
    let big = CallOptions { reply_capacity: 1 << 30, ..CallOptions::default() };
    assert_eq!(c.reserve(8, big).unwrap_err(), Error::MessageTooLarge);

    // a tensor request written in place, read as one by the worker, answered as one
    let size = zipc::tensor::payload_size::<f32>(&[2, 3]).unwrap();
    let mut res = c.reserve(size, CallOptions { reply_capacity: size, ..CallOptions::default() }).unwrap();
    let x: Vec<f32> = (0..6).map(|i| i as f32 / 2.0).collect();
    zipc::tensor::encode_into(&mut res, &x, &[2, 3]).unwrap();
    let id = res.commit(size, 1).unwrap();
    let mut req = w.next(SEC).unwrap();
    let doubled: Vec<f32> = req.tensor().unwrap().data::<f32>().unwrap().iter().map(|v| v * 2.0).collect();
    zipc::tensor::encode_into(req.reply_buf(), &doubled, &[2, 3]).unwrap();
    req.respond(size, zipc::types::TYPE_TENSOR).unwrap();
    let r = c.wait(id, SEC).unwrap();
    let t = r.tensor().unwrap();
    assert_eq!((t.shape(), t.data::<f32>().unwrap()[5]), (&[2i64, 3][..], 5.0));
}

#[test]
fn failures_reach_the_caller_as_the_reply_status() {
    let name = service_name();
    let (mut c, w) = pair(&name);

    // fail(): the caller's status, no payload
    let id = call_u64(&mut c, 1, 5, small());
    w.next(SEC).unwrap().fail(Error::PermissionDenied).unwrap();
    let r = c.wait(id, SEC).unwrap();
    assert_eq!((r.status(), r.len()), (Err(Error::PermissionDenied), 0));
    drop(r);

    // dropped unanswered: ECONNRESET, at once
    let id = call_u64(&mut c, 1, 5, small());
    drop(w.next(SEC).unwrap());
    assert_eq!(c.wait(id, SEC).unwrap().status(), Err(Error::Os(libc::ECONNRESET)));

    // a reply larger than the room: refused, the caller told EMSGSIZE
    let id = call_u64(&mut c, 1, 5, CallOptions { reply_capacity: 16, ..CallOptions::default() });
    assert_eq!(w.next(SEC).unwrap().respond(17, 0).unwrap_err(), Error::InvalidArgument);
    assert_eq!(c.wait(id, SEC).unwrap().status(), Err(Error::MessageTooLarge));

    // no reply yet: the wait's own timeout (the call goes on)
    let id = call_u64(&mut c, 1, 5, small());
    let t0 = Instant::now();
    assert_eq!(c.wait(id, Some(Duration::from_millis(20))).unwrap_err(), Error::Timeout);
    assert!(t0.elapsed() >= Duration::from_millis(20));
    assert_eq!(c.try_wait(id).unwrap_err(), Error::WouldBlock);
    assert_eq!(c.try_wait(id + 1000).unwrap_err(), Error::InvalidArgument);
    assert_eq!(c.in_flight(), 1);
    respond_answer(w.next(SEC).unwrap());
    assert_eq!(answer(&c.wait(id, SEC).unwrap()).value, answer_of(5));

    // interrupters: the blocked (or next) wait ends Cancelled
    let id = call_u64(&mut c, 1, 5, small());
    let stop = c.interrupter();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        stop.interrupt()
    });
    assert_eq!(c.wait_any(SEC).unwrap_err(), Error::Cancelled);
    assert!(t.join().unwrap());
    c.cancel(id).unwrap();
    assert!(w.interrupter().interrupt());
    assert_eq!(w.next(SEC).unwrap_err(), Error::Cancelled);
    let stale = w.interrupter();
    drop(w);
    assert!(!stale.interrupt(), "closed: nothing to wake");
}

#[test]
fn deadline_and_cancel_in_one_process() {
    let name = service_name();
    let (mut c, w) = pair(&name);

    // the deadline passes while the worker holds the call
    let t0 = Instant::now();
    let id = call_u64(&mut c, 2, 1, CallOptions { timeout: Some(Duration::from_millis(30)), ..small() });
    let req = w.next(SEC).unwrap();
    let due = req.deadline().expect("a deadline");
    assert!(due <= t0 + Duration::from_millis(31) && due >= t0, "{:?}", due - t0);
    assert!(!req.cancelled());
    let r = c.wait(id, SEC).unwrap();
    assert_eq!((r.status(), r.id()), (Err(Error::Timeout), id));
    assert!(t0.elapsed() >= Duration::from_millis(30));
    assert_eq!(r.release(), Ok(())); // made up by the service: nothing to give back
    assert!(req.cancelled());
    req.respond(0, 0).unwrap(); // late: dropped
    assert_eq!(c.in_flight(), 0);

    // cancelled before any worker took it: never handed out
    let id = call_u64(&mut c, 2, 1, small());
    c.cancel(id).unwrap();
    assert_eq!((c.in_flight(), w.next(MS50).unwrap_err()), (0, Error::Timeout));
    assert_eq!(c.cancel(id).unwrap_err(), Error::InvalidArgument);

    // cancelled while held: the worker sees it
    let id = call_u64(&mut c, 2, 1, small());
    let req = w.next(SEC).unwrap();
    c.cancel(id).unwrap();
    assert!(req.cancelled());
    req.respond(0, 0).unwrap();

    // a worker holds several at once and answers them in any order
    let ids: Vec<u64> = (0..3).map(|i| call_u64(&mut c, 1, i, small())).collect();
    let mut held: Vec<Request<'_>> = (0..3).map(|_| w.next(SEC).unwrap()).collect();
    while let Some(req) = held.pop() {
        respond_answer(req);
    }
    for (i, &id) in ids.iter().enumerate() {
        assert_eq!(answer(&c.wait(id, SEC).unwrap()).value, answer_of(i as u64));
    }
}

#[test]
fn a_part_not_released_in_time_leaves_room_for_a_status_only() {
    let name = service_name();
    let (mut c, w) = pair(&name);
    let id = call_u64(&mut c, 1, 9, small());
    let mut req = w.next(SEC).unwrap();
    req.reply_buf()[..4].copy_from_slice(b"part");
    assert_eq!(req.respond_part(4, 7, Some(Duration::from_millis(1))).unwrap_err(), Error::Timeout);
    assert_eq!(req.part_wait(Some(Duration::from_millis(1))).unwrap_err(), Error::Timeout);
    // the caller reads and releases it late: part_wait sees that, the room is free again
    let part = c.wait(id, SEC).unwrap();
    assert_eq!((part.is_part(), part.part(), part.data(), part.type_id()), (true, 1, &b"part"[..], 7));
    drop(part);
    req.part_wait(SEC).unwrap();
    req.part_wait(Some(Duration::ZERO)).unwrap(); // none out: at once
    req.reply_buf()[..4].copy_from_slice(b"last");
    req.respond(4, 8).unwrap();
    let last = c.wait(id, SEC).unwrap();
    assert_eq!((last.is_part(), last.status(), last.data()), (false, Ok(()), &b"last"[..]));
    drop(last);

    // a part nobody read yet: a reply with bytes would overwrite it (EBUSY, and
    // the call ends with that status); the part still reads as sent
    let id = call_u64(&mut c, 1, 9, small());
    let mut req = w.next(SEC).unwrap();
    req.reply_buf()[..4].copy_from_slice(b"part");
    assert_eq!(req.respond_part(4, 7, Some(Duration::from_millis(1))).unwrap_err(), Error::Timeout);
    assert_eq!(req.respond(4, 0).unwrap_err(), Error::Os(libc::EBUSY));
    let part = c.wait(id, SEC).unwrap();
    assert_eq!((part.is_part(), part.part(), part.data(), part.type_id()), (true, 1, &b"part"[..], 7));
    drop(part);
    let last = c.wait(id, SEC).unwrap();
    assert_eq!((last.is_part(), last.status()), (false, Err(Error::Os(libc::EBUSY))));
    drop(last);
    assert_eq!(c.in_flight(), 0);
}

// ------------------------------------------------------------------------
// Real processes: this test binary re-spawned with ZIPC_RS_RPC_CHILD set
// runs `rpc_child` as a worker.
// ------------------------------------------------------------------------

const CHILD_ENV: &str = "ZIPC_RS_RPC_CHILD";

fn spawn_child(spec: &str) -> Killed {
    Killed(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "rpc_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, spec)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// A child SIGKILLed and reaped when this is dropped (a failing test leaves none behind).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait for the line of the child's stdout that carries `tag`.
fn await_line(child: &mut Killed, tag: &str) -> String {
    let out = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let line = lines.find_map(|l| l.ok().and_then(|l| l.find(tag).map(|i| l[i + tag.len()..].trim().to_string())));
    line.unwrap_or_else(|| panic!("the child never said {tag}"))
}

/// A pool worker: holds up to 4 requests, answers them newest first (out
/// of order), sometimes after a short pause; forever (the parent kills it).
fn pool(name: &str) {
    let w = RpcWorker::serve(name, Config::default(), opts()).unwrap();
    println!("SERVING");
    let mut seed = std::process::id();
    let mut held = vec![];
    loop {
        let wait = if held.is_empty() { Some(Duration::from_millis(20)) } else { Some(Duration::ZERO) };
        let got = match w.next(wait) {
            Ok(r) => {
                held.push(r);
                true
            }
            Err(Error::Timeout | Error::WouldBlock) => false,
            Err(e) => panic!("{e}"),
        };
        if !held.is_empty() && (held.len() == 4 || !got) {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            if (seed >> 16) % 8 == 0 {
                std::thread::sleep(Duration::from_micros(u64::from(seed >> 8) % 300));
            }
            while let Some(r) = held.pop() {
                respond_answer(r);
            }
        }
    }
}

/// Takes `n` calls and hangs holding them (the parent SIGKILLs it).
fn hold(name: &str, n: usize) {
    let w = RpcWorker::serve(name, Config::default(), opts()).unwrap();
    let held: Vec<Request<'_>> = (0..n).map(|_| w.next(SEC).unwrap()).collect();
    println!("HELD {}", held.len());
    std::thread::sleep(Duration::from_secs(60));
}

/// Holds each call until its caller gives up on it (deadline or cancel),
/// says so, and answers it all the same, at about the deadline (a late
/// reply is dropped, or seen by the caller as late: `Timeout`).
fn watch(name: &str) {
    let w = RpcWorker::serve(name, Config::default(), opts()).unwrap();
    println!("SERVING");
    for k in 1.. {
        let req = w.next(None).unwrap();
        println!("TAKEN {k}");
        let t0 = Instant::now();
        while !req.cancelled() {
            assert!(t0.elapsed() < Duration::from_secs(10), "never cancelled");
            std::thread::sleep(Duration::from_millis(1));
        }
        println!("CANCELLED {k}");
        respond_answer(req);
    }
}

/// CLOCK_MONOTONIC in ns: the same clock in every process.
fn mono_ns() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    #[allow(clippy::useless_conversion)] // time_t and c_long are i64 on 64-bit targets only
    let ns = i64::from(ts.tv_sec) * 1_000_000_000 + i64::from(ts.tv_nsec);
    ns
}

/// Write `(value, when)` at the start of the request's reply room (16 bytes).
fn put_pair(req: &mut Request<'_>, value: u64, when: i64) {
    req.reply_buf()[..8].copy_from_slice(&value.to_le_bytes());
    req.reply_buf()[8..16].copy_from_slice(&when.to_le_bytes());
}

/// Answers one call carrying v with 3 parts (10v + i, type 7), then the
/// final reply (10v, type 8); each carries when the previous part's
/// respond_part returned (the caller's release let it go on).
fn stream(name: &str) {
    let w = RpcWorker::serve(name, Config::default(), opts()).unwrap();
    println!("SERVING");
    let mut req = w.next(SEC).unwrap();
    let v = req.read::<u64>().unwrap();
    // too big a part: refused, the request stays held
    let over = req.reply_buf().len() + 1;
    assert_eq!(req.respond_part(over, 7, SEC).unwrap_err(), Error::InvalidArgument);
    let mut returned = 0i64;
    for i in 1..=3u64 {
        put_pair(&mut req, v * 10 + i, returned);
        req.respond_part(16, 7, SEC).unwrap();
        returned = mono_ns();
    }
    put_pair(&mut req, v * 10, returned);
    req.respond(16, 8).unwrap();
    println!("DONE");
}

#[test]
fn rpc_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let mut it = spec.splitn(3, ':');
    let (mode, name, n) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap().parse::<usize>().unwrap());
    match mode {
        "pool" => pool(name),
        "hold" => hold(name, n),
        "watch" => watch(name),
        "stream" => stream(name),
        _ => panic!("mode {mode}"),
    }
}

#[test]
fn pool_of_two_worker_processes_many_calls_in_flight_out_of_order() {
    let name = service_name();
    let mut workers: Vec<Killed> = (0..2).map(|_| spawn_child(&format!("pool:{name}:0"))).collect();
    let mut c = RpcClient::connect(&name, Config { lane_capacity: 1 << 16 }, opts()).unwrap();
    for w in &mut workers {
        await_line(w, "SERVING");
    }
    let o = CallOptions { timeout: Some(Duration::from_secs(20)), ..small() };
    let calls = 4000u64;
    let (mut issued, mut done, mut out_of_order) = (0u64, 0u64, 0u64);
    let mut value_of = HashMap::new(); // call id -> its request
    let mut order = std::collections::VecDeque::new(); // ids in flight, oldest first
    let mut by_worker: HashMap<u32, u64> = HashMap::new();
    while done < calls {
        // Never wait for room in the lane with replies to collect: a slow
        // call holds back the room of every later one, and only our
        // releases give it back (try_: WouldBlock when it is full).
        while issued < calls && value_of.len() < 64 {
            let v = issued * 7919 + 1;
            let id = if issued % 2 == 1 {
                c.try_call(1, &v.to_le_bytes(), o) // copied in
            } else {
                c.try_reserve(8, o).and_then(|mut res| {
                    res.copy_from_slice(&v.to_le_bytes()); // written in place
                    res.commit(8, 1)
                })
            };
            let id = match id {
                Err(Error::WouldBlock) => break,
                r => r.unwrap(),
            };
            assert!(value_of.insert(id, v).is_none(), "ids are unique among calls in flight");
            order.push_back(id);
            issued += 1;
        }
        let r = c.wait_any(Some(Duration::from_secs(20))).unwrap();
        let v = value_of.remove(&r.id()).expect("a reply to a call of ours");
        let a = answer(&r);
        assert_eq!((a.value, a.attempt), (answer_of(v), 1), "matched to its own call");
        *by_worker.entry(a.pid).or_default() += 1;
        if order.front() != Some(&r.id()) {
            out_of_order += 1;
        }
        order.retain(|&id| id != r.id());
        done += 1;
    }
    assert_eq!(c.in_flight(), 0);
    assert_eq!(by_worker.len(), 2, "both workers served: {by_worker:?}");
    assert!(out_of_order > 0, "replies came out of order, and were matched");
    println!("{calls} calls, {out_of_order} out of order, {by_worker:?}");
}

#[test]
fn deadline_and_cancel_reach_the_worker_process_holding_the_call() {
    let name = service_name();
    let mut worker = spawn_child(&format!("watch:{name}:0"));
    let mut c = RpcClient::connect(&name, Config::default(), opts()).unwrap();
    let mut lines = BufReader::new(worker.0.stdout.take().unwrap()).lines().map_while(|l| l.ok());
    let mut expect = |tag: &str| {
        let l = lines.by_ref().find(|l| l.contains(tag));
        assert!(l.is_some(), "the worker never said {tag}");
    };
    expect("SERVING");

    // long enough for the worker to take it on a loaded machine: a call
    // nobody took before its deadline is never handed out
    let t0 = Instant::now();
    let id = call_u64(&mut c, 2, 3, CallOptions { timeout: Some(Duration::from_millis(500)), ..small() });
    let r = c.wait(id, SEC).unwrap();
    let took = t0.elapsed();
    assert_eq!(r.status(), Err(Error::Timeout));
    assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(5), "{took:?}");
    drop(r);
    expect("TAKEN 1");
    expect("CANCELLED 1"); // the worker had it, and saw the deadline pass

    let id = call_u64(&mut c, 2, 3, small());
    expect("TAKEN 2");
    c.cancel(id).unwrap();
    expect("CANCELLED 2");
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn a_streamed_reply_three_parts_in_order_then_the_final_reply() {
    let name = service_name();
    let mut worker = spawn_child(&format!("stream:{name}:0"));
    let mut c = RpcClient::connect(&name, Config::default(), opts()).unwrap();
    let mut lines = BufReader::new(worker.0.stdout.take().unwrap()).lines().map_while(|l| l.ok());
    assert!(lines.by_ref().any(|l| l.contains("SERVING")), "the worker never served");
    let pair = |r: &Reply<'_>| {
        let (value, when) = r.data().split_at(8);
        (u64::from_le_bytes(value.try_into().unwrap()), i64::from_le_bytes(when.try_into().unwrap()))
    };
    let id = call_u64(&mut c, 5, 4, small());
    let mut released = 0i64;
    for i in 1..=3u32 {
        let part = c.wait(id, SEC).unwrap();
        assert!(part.is_part());
        assert_eq!((part.part(), part.id(), part.method(), part.status()), (i, id, 5, Ok(())));
        assert_eq!((part.type_id(), part.len()), (7, 16));
        let (value, returned) = pair(&part);
        assert_eq!(value, 40 + u64::from(i));
        // one part out at a time: the worker went on only after our release
        assert!(returned >= released, "part {i}: the worker went on at {returned}, released at {released}");
        std::thread::sleep(Duration::from_millis(20));
        released = mono_ns();
        part.release().unwrap();
        assert_eq!(c.in_flight(), 1); // the call goes on
    }
    let last = c.wait(id, SEC).unwrap();
    assert!(!last.is_part());
    assert_eq!((last.part(), last.status(), last.type_id()), (0, Ok(()), 8));
    let (value, returned) = pair(&last);
    assert_eq!(value, 40);
    assert!(returned >= released);
    drop(last);
    assert_eq!(c.in_flight(), 0);
    assert_eq!(c.try_wait(id).unwrap_err(), Error::InvalidArgument); // ended
    assert!(lines.any(|l| l.contains("DONE")), "the worker's respond failed");
    assert!(worker.0.wait().unwrap().success());
}

#[test]
fn a_worker_killed_holding_calls_fails_them_with_connection_reset() {
    let name = service_name();
    let mut c = RpcClient::connect(&name, Config::default(), opts()).unwrap();
    let plain = call_u64(&mut c, 1, 42, small());
    let idem = call_u64(&mut c, 2, 42, CallOptions { idempotent: true, ..small() });
    let mut victim = spawn_child(&format!("hold:{name}:2"));
    assert_eq!(await_line(&mut victim, "HELD "), "2");
    drop(victim); // SIGKILL, holding both

    let mut rescuer = spawn_child(&format!("pool:{name}:0"));
    await_line(&mut rescuer, "SERVING");
    let mut seen = HashSet::new();
    for _ in 0..2 {
        let r = c.wait_any(SEC).unwrap();
        seen.insert(r.id());
        if r.id() == plain {
            assert_eq!(r.status(), Err(Error::Os(libc::ECONNRESET)));
        } else {
            assert_eq!(r.id(), idem);
            let a = answer(&r); // idempotent: run again by the rescuer
            assert_eq!((a.value, a.attempt), (answer_of(42), 2));
        }
    }
    assert_eq!((seen.len(), c.in_flight()), (2, 0));
}

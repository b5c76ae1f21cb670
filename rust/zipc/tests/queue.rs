//! The queue's safe API: one process (producers and consumers in this one),
//! and real processes (this test binary re-spawned as a producer or a
//! consumer): 2 producers x 2 consumers with checksummed messages, every one
//! delivered exactly once, then the end of the stream for both consumers; a
//! consumer SIGKILLed holding messages, which come again with attempt 2
//! (or never, at most once).
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use zipc::queue::{self, Batch, Config, Consumer, Delivery, Producer, View};
use zipc::{Error, Options};

const SEC: Option<Duration> = Some(Duration::from_secs(10));

/// A fresh queue name (a queue has names only: nothing on disk).
fn queue_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("zipc-rs-queue-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn opts() -> Options {
    Options::new().timeout(SEC)
}

fn producer(name: &str, cfg: Config) -> Producer {
    Producer::open(name, cfg, opts()).unwrap()
}

fn consumer(name: &str) -> Consumer {
    Consumer::open(name, Config::default(), opts()).unwrap()
}

// ---- checksummed messages -------------------------------------------------

/// User type of the checksummed messages.
const MSG: u32 = 0x7175_6575; // "queu"
const HEAD: usize = 24; // id u32, size u32, k u64, sum u64

fn msg_size(k: u64) -> usize {
    HEAD + (k * 37 % 900) as usize
}

fn msg_byte(id: u32, k: u64, i: usize) -> u8 {
    (k.wrapping_mul(31) + i as u64 * 7 + u64::from(id) * 101) as u8
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Write message (id, k) in place, in the producer's lane; staged if `more`.
fn put(p: &mut Producer, id: u32, k: u64, more: bool) {
    let n = msg_size(k);
    let mut r = p.reserve(n, SEC).unwrap();
    for (i, b) in r[HEAD..].iter_mut().enumerate() {
        *b = msg_byte(id, k, i);
    }
    let sum = fnv(&r[HEAD..]);
    r[0..4].copy_from_slice(&id.to_le_bytes());
    r[4..8].copy_from_slice(&(n as u32).to_le_bytes());
    r[8..16].copy_from_slice(&k.to_le_bytes());
    r[16..24].copy_from_slice(&sum.to_le_bytes());
    if more {
        r.commit_more(n, MSG).unwrap();
    } else {
        r.commit(n, MSG).unwrap();
    }
}

/// (id, k) of an intact message: size, bytes and checksum agree.
fn check(m: &Delivery) -> Option<(u32, u64)> {
    let d = m.data();
    if m.type_id() != MSG || d.len() < HEAD {
        return None;
    }
    let id = u32::from_le_bytes(d[0..4].try_into().unwrap());
    let size = u32::from_le_bytes(d[4..8].try_into().unwrap()) as usize;
    let k = u64::from_le_bytes(d[8..16].try_into().unwrap());
    let sum = u64::from_le_bytes(d[16..24].try_into().unwrap());
    let body_ok = d[HEAD..].iter().enumerate().all(|(i, &b)| b == msg_byte(id, k, i));
    (size == d.len() && size == msg_size(k) && body_ok && fnv(&d[HEAD..]) == sum).then_some((id, k))
}

fn k_of(m: &Delivery) -> u64 {
    check(m).expect("an intact message").1
}

// ---- one process ----------------------------------------------------------

#[test]
fn endpoints_are_send_not_sync() {
    fn send<T: Send>() {}
    send::<Producer>();
    send::<Consumer>();
    send::<View<'static>>();
    send::<Batch<'static>>();
    fn shared<T: Send + Sync + Clone>() {}
    shared::<queue::Interrupter>();
    // one interrupter type for every kind
    let _: fn(zipc::Interrupter) -> queue::Interrupter = |i| i;
}

#[test]
fn open_config_roles_and_errors() {
    let name = queue_name();
    let p = producer(&name, Config { lane_capacity: 4096, at_most_once: true });
    // attaching: the creator's config, not ours
    let c = Consumer::open(&name, Config { lane_capacity: 1 << 20, at_most_once: false }, opts()).unwrap();
    assert_eq!((p.capacity(), c.capacity()), (4096, 4096));
    assert_eq!(p.max_message(), 4096 / 2 - 16);
    assert!(p.at_most_once() && c.at_most_once());
    assert_eq!((p.producers(), p.consumers(), c.producers(), c.consumers()), (1, 1, 1, 1));
    assert!(p.slot() < 32 && c.slot() < 32);
    assert!(std::os::fd::AsRawFd::as_raw_fd(&p) >= 0 && std::os::fd::AsRawFd::as_raw_fd(&c) >= 0);
    let mut c = c;
    assert_eq!(c.try_view().unwrap_err(), Error::WouldBlock);
    let mut p = p;
    assert_eq!(p.try_reserve(p.max_message() + 1).unwrap_err(), Error::MessageTooLarge);
    // a queue has names, not paths; roles are producer and consumer; the lane has bounds
    assert_eq!(Producer::open("/tmp/q", Config::default(), opts()).unwrap_err(), Error::InvalidArgument);
    let huge = Config { lane_capacity: 1 << 40, at_most_once: false };
    assert_eq!(Consumer::open(queue_name(), huge, opts()).unwrap_err(), Error::InvalidArgument);
    assert_eq!(Producer::open("a\0b", Config::default(), opts()).unwrap_err(), Error::InvalidArgument);
}

#[test]
fn every_form_delivery_info_and_end_of_stream() {
    let name = queue_name();
    let mut p = producer(&name, Config::default());
    let mut c = consumer(&name);
    let lane = p.slot();
    for k in 0..12 {
        put(&mut p, 0, k, k % 4 == 1); // some staged, published by the next plain commit
    }
    {
        let v = c.view(SEC).unwrap();
        assert_eq!((k_of(&v), v.seq(), v.producer(), v.attempt()), (0, 0, lane, 1));
        v.release().unwrap();
    }
    let b = c.drain(4, SEC).unwrap();
    assert_eq!(b.len(), 4);
    for (m, k) in b.iter().zip(1..) {
        assert_eq!((k_of(m), m.seq(), m.producer(), m.attempt()), (k, k, lane, 1));
    }
    b.release().unwrap();
    // recv copies; recv_into with a short buffer keeps the message for the next one
    let m = c.recv(SEC).unwrap();
    assert_eq!((m.type_id, m.data.len()), (MSG, msg_size(5)));
    let mut small = [0u8; 8];
    assert_eq!(c.recv_into(&mut small, SEC).unwrap_err(), Error::MessageTooLarge);
    let mut buf = vec![0u8; 2000];
    let (n, t) = c.recv_into(&mut buf, SEC).unwrap();
    assert_eq!((n, t, u64::from_le_bytes(buf[8..16].try_into().unwrap())), (msg_size(6), MSG, 6));
    for k in 7..12 {
        assert_eq!(k_of(&c.try_view().unwrap()), k);
    }
    assert_eq!(c.try_view().unwrap_err(), Error::WouldBlock);
    assert_eq!((p.stats().messages, c.stats().messages), (12, 12));

    // the typed helpers of channel and topic: pods, slices, tensors
    p.send_pod(&77u64, 5, None).unwrap();
    assert_eq!(c.recv_pod::<u64>(SEC).unwrap(), (77, 5));
    p.send_slice(&[1u16, 2, 3], 6, None).unwrap();
    assert_eq!(c.view(SEC).unwrap().slice::<u16>().unwrap(), &[1, 2, 3]);
    p.send_tensor(&[0.0f32, 0.5, 1.0, 1.5, 2.0, 2.5], &[2, 3], None).unwrap();
    let mut t = p.reserve_tensor::<i32>(&[4], None).unwrap();
    t.data_mut().copy_from_slice(&[0, 10, 20, 30]);
    t.commit().unwrap();
    {
        let v = c.view(SEC).unwrap();
        let tv = v.tensor().unwrap();
        assert_eq!((tv.shape(), tv.data::<f32>().unwrap()[5]), (&[2i64, 3][..], 2.5));
    }
    assert_eq!(c.view(SEC).unwrap().tensor().unwrap().data::<i32>().unwrap(), &[0, 10, 20, 30]);
    // commit_more is published by flush
    let r = p.reserve(4, None).unwrap();
    r.commit_more(4, 1).unwrap();
    assert_eq!(c.try_view().unwrap_err(), Error::WouldBlock);
    p.flush().unwrap();
    assert_eq!(c.view(SEC).unwrap().len(), 4);

    // end of stream: the producer leaves, what is left is taken, then PeerGone
    p.send(b"last", 1, None).unwrap();
    drop(p);
    assert_eq!(c.view(SEC).unwrap().data(), b"last");
    assert_eq!(c.view(SEC).unwrap_err(), Error::PeerGone);
    assert_eq!(c.try_drain(4).unwrap_err(), Error::PeerGone);
    // a producer joining later starts a new stream
    let mut p2 = producer(&name, Config::default());
    put(&mut p2, 1, 0, false);
    assert_eq!(check(&c.view(SEC).unwrap()), Some((1, 0)));
}

#[test]
fn interrupter_wakes_blocked_calls() {
    let name = queue_name();
    // a short timeout: dropped alone with its lane full, it lingers that long for a consumer
    let short = Options::new().timeout(Some(Duration::from_millis(100)));
    let p = Producer::open(&name, Config { lane_capacity: 4096, at_most_once: false }, short).unwrap();
    let mut c = consumer(&name);
    let stop = c.interrupter();
    let t = std::thread::spawn(move || (c.view(None).unwrap_err(), c));
    std::thread::sleep(Duration::from_millis(20));
    assert!(stop.interrupt());
    let (e, c) = t.join().unwrap();
    assert_eq!(e, Error::Cancelled);
    drop(c);

    // a producer whose lane is full of messages nobody released
    let mut p = p;
    while p.try_send(&[0; 8], 0).is_ok() {}
    let stop = p.interrupter();
    let t = std::thread::spawn(move || p.send(&[0; 8], 0, None).unwrap_err());
    std::thread::sleep(Duration::from_millis(20));
    assert!(stop.interrupt());
    assert_eq!(t.join().unwrap(), Error::Cancelled);
    assert!(!stop.interrupt(), "the producer is closed: nothing to wake");
}

// ------------------------------------------------------------------------
// Real processes: this test binary re-spawned with ZIPC_RS_QUEUE_CHILD set
// runs `queue_child` as a producer or a consumer.
// ------------------------------------------------------------------------

const CHILD_ENV: &str = "ZIPC_RS_QUEUE_CHILD";
const PRODUCERS: u32 = 2;
const PER_PRODUCER: u64 = 20_000;

fn spawn_child(spec: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "queue_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, spec)
        .stdout(Stdio::piped()) // the harness's chatter, and the child's report lines
        .spawn()
        .unwrap()
}

/// What follows `tag` in a line of a child's stdout (the harness may have
/// started the line: "test queue_child ... ").
fn after(line: &str, tag: &str) -> Option<String> {
    line.find(tag).map(|i| line[i + tag.len()..].trim().to_string())
}

/// The child's report: what follows `tag` in its stdout.
fn report(out: &[u8], tag: &str) -> String {
    let text = String::from_utf8_lossy(out);
    text.lines().find_map(|l| after(l, tag)).unwrap_or_else(|| panic!("no {tag} in {text}"))
}

/// Every producer attaches before any sends: the end of the stream cannot
/// come between the first one's leaving and the second one's joining.
fn produce(name: &str, id: u32) {
    let mut p = producer(name, Config { lane_capacity: 1 << 16, at_most_once: false });
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.producers() < PRODUCERS as usize {
        assert!(Instant::now() < deadline, "{} producers, not {PRODUCERS}", p.producers());
        std::thread::sleep(Duration::from_millis(5));
    }
    for k in 0..PER_PRODUCER {
        if k % 5 == 0 {
            p.send_pod(&k, 0, SEC).unwrap(); // an odd message between: a pod (skipped by the consumers)
        }
        put(&mut p, id, k, k % 8 == 3);
    }
} // dropping publishes what is staged

/// Takes messages until the end of the stream (consumer 0 drains batches,
/// consumer 1 views one at a time), checks each, and reports what it took
/// as one hex bitmap per producer, and which lane each producer wrote.
fn consume(name: &str, which: u32) {
    let mut c = consumer(name);
    let mut seen = vec![vec![0u8; PER_PRODUCER.div_ceil(8) as usize]; PRODUCERS as usize];
    let mut last = [None::<u64>; PRODUCERS as usize];
    let mut lanes = [None::<u32>; PRODUCERS as usize];
    let mut take = |m: &Delivery| {
        if m.type_id() != MSG {
            assert_eq!(m.len(), 8);
            return;
        }
        let (id, k) = check(m).unwrap_or_else(|| panic!("torn: {m:?}"));
        assert!(id < PRODUCERS && k < PER_PRODUCER, "{id} {k}");
        let i = id as usize;
        assert!(last[i].map_or(true, |l| k > l), "producer {id}: {k} after {:?}", last[i]);
        last[i] = Some(k);
        assert_eq!(*lanes[i].get_or_insert(m.producer()), m.producer(), "one producer, one lane");
        assert_eq!(m.attempt(), 1, "nobody died: every delivery is the first");
        let (byte, bit) = ((k / 8) as usize, 1u8 << (k % 8));
        assert_eq!(seen[i][byte] & bit, 0, "producer {id}'s {k} twice");
        seen[i][byte] |= bit;
    };
    loop {
        let r = if which == 0 {
            c.drain(16, SEC).map(|b| b.iter().for_each(&mut take))
        } else {
            c.view(SEC).map(|v| take(&v))
        };
        match r {
            Ok(()) => {}
            Err(Error::PeerGone) => break,
            Err(e) => panic!("{e}"),
        }
    }
    drop(c);
    let hex: Vec<String> = seen.iter().map(|b| b.iter().map(|x| format!("{x:02x}")).collect()).collect();
    let lanes: Vec<String> = lanes.iter().map(|l| l.map_or("-".into(), |l| l.to_string())).collect();
    println!("SEEN {}", hex.join(" "));
    println!("LANES {}", lanes.join(" "));
}

/// Takes `n` messages, reports their numbers, and hangs holding them
/// (the parent SIGKILLs it).
fn hold(name: &str, n: usize) {
    let mut c = consumer(name);
    let b = c.drain(n, SEC).unwrap();
    assert_eq!(b.len(), n);
    assert!(b.iter().all(|m| m.attempt() == 1));
    let ks: Vec<String> = b.iter().map(|m| k_of(m).to_string()).collect();
    println!("HELD {}", ks.join(" "));
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn queue_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let mut it = spec.splitn(3, ':');
    let (mode, name, n) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap().parse::<u32>().unwrap());
    match mode {
        "produce" => produce(name, n),
        "consume" => consume(name, n),
        "hold" => hold(name, n as usize),
        _ => panic!("mode {mode}"),
    }
}

#[test]
fn two_producers_two_consumers_exactly_once_then_end_of_stream() {
    let name = queue_name();
    // the consumers first: one of them creates the queue
    let consumers: Vec<Child> = (0..2).map(|i| spawn_child(&format!("consume:{name}:{i}"))).collect();
    let producers: Vec<Child> = (0..PRODUCERS).map(|i| spawn_child(&format!("produce:{name}:{i}"))).collect();
    for p in producers {
        let out = p.wait_with_output().unwrap();
        assert!(out.status.success(), "a producer failed");
    }
    let mut union = vec![vec![0u8; PER_PRODUCER.div_ceil(8) as usize]; PRODUCERS as usize];
    let mut lanes = vec![];
    for c in consumers {
        let out = c.wait_with_output().unwrap(); // each saw the end of the stream, or it failed
        assert!(out.status.success(), "a consumer failed");
        let seen = report(&out.stdout, "SEEN ");
        for (id, hex) in seen.split(' ').enumerate() {
            for (i, byte) in union[id].iter_mut().enumerate() {
                let b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
                assert_eq!(*byte & b, 0, "producer {id}: a message near {} taken by both", i * 8);
                *byte |= b;
            }
        }
        lanes.push(report(&out.stdout, "LANES "));
    }
    for (id, bits) in union.iter().enumerate() {
        let got: u64 = bits.iter().map(|b| u64::from(b.count_ones())).sum();
        assert_eq!(got, PER_PRODUCER, "producer {id}: every message once");
    }
    // each producer wrote one lane, the two lanes differ, and the consumers agree on them
    let lane_of = |id: usize| lanes.iter().filter_map(|l| l.split(' ').nth(id)).find(|l| *l != "-").unwrap().to_string();
    assert_ne!(lane_of(0), lane_of(1));
    for l in &lanes {
        for (id, lane) in l.split(' ').enumerate() {
            assert!(lane == "-" || lane == lane_of(id));
        }
    }
}

/// A child SIGKILLed and reaped when this is dropped (a failing test leaves none behind).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A consumer takes `held` of `total` messages and is SIGKILLed holding
/// them; a consumer opened afterwards takes all `total` (or, at most once,
/// all but those). Returns the held numbers and what the second one took:
/// (k, attempt) in order.
fn kill_a_holder(cfg: Config, total: u64, held: usize) -> (Vec<u64>, Vec<(u64, u32)>, Consumer) {
    let name = queue_name();
    let mut p = producer(&name, cfg);
    for k in 0..total {
        put(&mut p, 0, k, false);
    }
    let mut victim = Killed(spawn_child(&format!("hold:{name}:{held}")));
    let mut lines = BufReader::new(victim.0.stdout.take().unwrap()).lines();
    let line = lines.find_map(|l| after(&l.unwrap(), "HELD ")).expect("the holder's report");
    let victims: Vec<u64> = line.split(' ').map(|k| k.parse().unwrap()).collect();
    assert_eq!(victims.len(), held);
    drop(victim); // SIGKILL, holding its views

    let mut c = consumer(&name);
    let expect = if cfg.at_most_once { total as usize - held } else { total as usize };
    let mut got = vec![];
    while got.len() < expect {
        let v = c.view(SEC).unwrap();
        got.push((k_of(&v), v.attempt()));
    }
    drop(p);
    assert_eq!(c.view(SEC).unwrap_err(), Error::PeerGone, "nothing more: {got:?}");
    (victims, got, c)
}

#[test]
fn killed_consumers_messages_come_again_with_attempt_2() {
    let (victims, got, c) = kill_a_holder(Config::default(), 50, 3);
    let mut ks: Vec<u64> = got.iter().map(|&(k, _)| k).collect();
    ks.sort_unstable();
    assert_eq!(ks, (0..50).collect::<Vec<_>>(), "every message once");
    for &(k, attempt) in &got {
        assert_eq!(attempt, if victims.contains(&k) { 2 } else { 1 }, "message {k}");
    }
    assert_eq!(c.stats().redelivered, 3);
}

#[test]
fn at_most_once_drops_what_a_killed_consumer_held() {
    let cfg = Config { lane_capacity: 0, at_most_once: true };
    let (victims, got, c) = kill_a_holder(cfg, 50, 3);
    let mut ks: Vec<u64> = got.iter().map(|&(k, _)| k).collect();
    ks.sort_unstable();
    let rest: Vec<u64> = (0..50).filter(|k| !victims.contains(k)).collect();
    assert_eq!(ks, rest);
    assert!(got.iter().all(|&(_, attempt)| attempt == 1));
    assert_eq!(c.stats().redelivered, 0);
}

/// A producer alone with queued messages: `linger` times out (nobody came);
/// once a consumer is in, it returns at once and the consumer gets them.
#[test]
fn linger_waits_for_a_consumer() {
    let name = queue_name();
    let mut p = producer(&name, Config::default());
    p.send(b"kept", 7, SEC).unwrap();
    let t0 = Instant::now();
    assert!(matches!(p.linger(Some(Duration::from_millis(100))), Err(Error::Timeout)));
    assert!(t0.elapsed() >= Duration::from_millis(90));
    let mut c = consumer(&name);
    p.linger(SEC).unwrap();
    drop(p); // the consumer holds the queue, and the message
    let m = c.recv(SEC).unwrap();
    assert_eq!((&m.data[..], m.type_id), (&b"kept"[..], 7));
    assert!(matches!(c.recv(SEC), Err(Error::PeerGone)));
}

//! The topic's safe API: one process (publisher and subscribers in this
//! one), and real processes (this test binary re-spawned as a subscriber or
//! as a publisher that is SIGKILLed).
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use zipc::topic::{self, Batch, View};
use zipc::{Error, Options, Policy, Pod, Publisher, Subscriber, Subscription};

const SEC: Option<Duration> = Some(Duration::from_secs(10));

/// A fresh topic name (no '/': an abstract socket, nothing on disk).
fn topic_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("zipc-rs-topic-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// 64 bytes: an index and words derived from it (torn bytes show).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    index: u64,
    words: [u64; 7],
}
// SAFETY: repr(C), 64 bytes of u64, no padding, every bit pattern valid.
unsafe impl Pod for Sample {}

const SAMPLE: u32 = 0x7361_6d70; // "samp"

impl Sample {
    fn new(i: u64) -> Sample {
        Sample { index: i, words: std::array::from_fn(|k| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) + k as u64) }
    }
    fn is(&self, i: u64) -> bool {
        *self == Sample::new(i)
    }
}

fn publish(p: &mut Publisher, range: std::ops::Range<u64>) {
    for i in range {
        p.send_pod(&Sample::new(i), SAMPLE, SEC).unwrap();
    }
}

/// Wait until the publisher counts n subscribers (its door thread admits them).
fn wait_subscribers(p: &Publisher, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.subscribers() != n {
        assert!(Instant::now() < deadline, "{} subscribers, not {n}", p.subscribers());
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn subscribe(name: &str, sub: Subscription) -> Subscriber {
    Subscriber::subscribe(name, sub, Options::new().timeout(SEC)).unwrap()
}

fn drop_oldest() -> Subscription {
    Subscription::new(Policy::DropOldest)
}

#[test]
fn endpoints_are_send_not_sync() {
    fn send<T: Send>() {}
    send::<Publisher>();
    send::<Subscriber>();
    send::<View<'static>>();
    send::<Batch<'static>>();
    fn shared<T: Send + Sync + Clone>() {}
    shared::<topic::Interrupter>();
}

#[test]
fn create_subscribe_and_errors() {
    let name = topic_name();
    let p = Publisher::create(&name, 1 << 16, 0, Options::new()).unwrap();
    assert_eq!(p.capacity(), 1 << 16);
    assert_eq!(Publisher::create(&name, 4096, 0, Options::new()).unwrap_err(), Error::AddrInUse);
    let mut s = subscribe(&name, Subscription::default());
    assert_eq!(s.publisher_pid(), std::process::id() as i32);
    assert_eq!((s.capacity(), s.max_message()), (p.capacity(), p.max_message()));
    assert!(std::os::fd::AsRawFd::as_raw_fd(&s) >= 0);
    assert!(std::os::fd::AsRawFd::as_raw_fd(&p) >= 0);
    wait_subscribers(&p, 1);
    assert_eq!(s.try_view().unwrap_err(), Error::WouldBlock);
    let e = Subscriber::subscribe(topic_name(), Subscription::default(), Options::new().timeout(Some(Duration::from_millis(20))))
        .unwrap_err();
    assert!(matches!(e, Error::Timeout | Error::NotFound), "{e:?}");

    // a full topic: NoSpace, until a subscriber leaves
    let full = topic_name();
    let p1 = Publisher::create(&full, 4096, 1, Options::new()).unwrap();
    let a = subscribe(&full, Subscription::default());
    let e = Subscriber::subscribe(&full, Subscription::default(), Options::new().timeout(SEC)).unwrap_err();
    assert_eq!((e, e.name()), (Error::NoSpace, "ENOSPC"));
    drop(a);
    wait_subscribers(&p1, 0);
    subscribe(&full, Subscription::default());
}

#[test]
fn every_read_form() {
    let name = topic_name();
    let mut p = Publisher::create(&name, 1 << 16, 0, Options::new()).unwrap();
    let mut s = subscribe(&name, Subscription::default());
    publish(&mut p, 0..10);
    let v = s.view(SEC).unwrap();
    assert_eq!((v.seq(), v.type_id()), (0, SAMPLE));
    assert!(v.pod::<Sample>().unwrap().is(0));
    v.release().unwrap();
    let b = s.drain(4, SEC).unwrap();
    assert_eq!(b.len(), 4);
    for (k, m) in b.iter().enumerate() {
        assert!(m.read::<Sample>().unwrap().is(1 + k as u64));
    }
    b.release().unwrap();
    let m = s.recv(SEC).unwrap();
    assert_eq!(m.type_id, SAMPLE);
    assert!(zipc::pod::read::<Sample>(&m.data).unwrap().is(5));
    let mut buf = [0u8; 64];
    assert_eq!(s.recv_into(&mut buf, SEC).unwrap(), (64, SAMPLE));
    assert!(zipc::pod::read::<Sample>(&buf).unwrap().is(6));
    assert_eq!(s.recv_into(&mut [0u8; 8], SEC).unwrap_err(), Error::MessageTooLarge);
    let (x, t) = s.recv_pod::<Sample>(SEC).unwrap();
    assert!(x.is(7) && t == SAMPLE);
    drop(s.try_view().unwrap()); // 8, released on drop
    assert!(s.try_view().unwrap().pod::<Sample>().unwrap().is(9));
    assert_eq!(s.try_view().unwrap_err(), Error::WouldBlock);
    assert_eq!((s.stats().messages, p.stats().messages), (10, 10));

    // reservations, batch publish, tensors
    let mut r = p.reserve(5, None).unwrap();
    r.copy_from_slice(b"hello");
    r.commit_more(5, 42).unwrap();
    assert_eq!(s.try_view().unwrap_err(), Error::WouldBlock, "staged");
    p.send_tensor(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], None).unwrap();
    assert_eq!(s.view(SEC).unwrap().data(), b"hello");
    let v = s.view(SEC).unwrap();
    let t = v.tensor().unwrap();
    assert_eq!((t.shape(), t.data::<f32>().unwrap()[5]), (&[2i64, 3][..], 6.0));
    drop(v);
    p.reserve(8, None).unwrap().abort();
    assert_eq!(p.reserve(8, None).unwrap().commit(9, 0).unwrap_err(), Error::InvalidArgument);
    assert_eq!(s.try_view().unwrap_err(), Error::WouldBlock, "aborted: nothing sent");
}

#[test]
fn drop_oldest_loss_is_exact_and_views_go_stale() {
    let name = topic_name();
    let mut p = Publisher::create(&name, 4096, 0, Options::new()).unwrap();
    let mut s = subscribe(&name, drop_oldest());
    publish(&mut p, 0..1);
    let v = s.view(SEC).unwrap();
    assert_eq!(v.seq(), 0);
    // no lossless subscriber: the publisher never waits, it laps the view
    let total = 1000u64;
    for i in 1..total {
        p.try_send(zipc::pod::bytes_of(&Sample::new(i)), SAMPLE).unwrap();
    }
    assert_eq!(v.release().unwrap_err(), Error::Stale);
    let Err(Error::Overflow { messages, bytes }) = s.try_view() else { panic!("no overflow") };
    assert!(messages >= 1 && bytes >= messages * 64, "{messages} {bytes}");
    assert_eq!(s.last_loss(), (messages, bytes));
    assert!(Error::Overflow { messages, bytes }.to_string().contains(&format!("{messages} messages")));
    // it resumes at the oldest message still there: right after the loss
    let mut next = 1 + messages;
    loop {
        match s.try_view() {
            Ok(v) => {
                assert_eq!(v.seq(), next);
                assert!(v.pod::<Sample>().unwrap().is(next));
                v.release().unwrap();
                next += 1;
            }
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(next, total);
    let st = s.stats();
    assert_eq!((st.lost_messages, st.lost_bytes, st.overflows), (messages, bytes, 1));
    assert_eq!(st.messages + st.lost_messages, total);
}

#[test]
fn max_lag_is_lossless_below_its_bound() {
    let name = topic_name();
    let mut p = Publisher::create(&name, 1 << 16, 0, Options::new()).unwrap();
    let mut s = subscribe(&name, Subscription::new(Policy::MaxLag(8)));
    // within the bound the publisher waits for it, like BLOCK
    publish(&mut p, 0..8);
    for i in 0..8 {
        assert!(s.recv_pod::<Sample>(SEC).unwrap().0.is(i));
    }
    // beyond it: dropped as DROP_OLDEST, the loss reported
    for i in 8..2000 {
        p.send_pod(&Sample::new(i), SAMPLE, SEC).unwrap();
    }
    let (mut next, mut lost) = (8u64, 0u64);
    loop {
        match s.try_view() {
            Ok(v) => {
                assert_eq!(v.seq(), next);
                next += 1;
            }
            Err(Error::Overflow { messages, .. }) => (next, lost) = (next + messages, lost + messages),
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(next, 2000);
    assert!(lost > 0, "a subscriber 1992 messages behind with max_lag 8 lost nothing");
    assert_eq!(s.stats().lost_messages, lost);
}

#[test]
fn block_holds_the_publisher() {
    let name = topic_name();
    let mut p = Publisher::create(&name, 4096, 0, Options::new()).unwrap();
    let mut s = subscribe(&name, Subscription::default());
    let mut sent = 0u64;
    while p.try_send_sample(sent).is_ok() {
        sent += 1;
    }
    assert!(sent >= 4, "ring holds {sent}");
    assert_eq!(p.send_pod(&Sample::new(sent), SAMPLE, Some(Duration::from_millis(2))).unwrap_err(), Error::Timeout);
    assert!(s.recv_pod::<Sample>(SEC).unwrap().0.is(0));
    p.try_send_sample(sent).unwrap();
    for i in 1..=sent {
        assert!(s.recv_pod::<Sample>(SEC).unwrap().0.is(i));
    }
    assert_eq!(s.stats().lost_messages, 0);
}

/// Sending one sample without waiting, or waiting forever.
trait SendSample {
    fn try_send_sample(&mut self, i: u64) -> zipc::Result<()>;
    fn send_sample_forever(&mut self, i: u64) -> zipc::Result<()>;
}
impl SendSample for Publisher {
    fn try_send_sample(&mut self, i: u64) -> zipc::Result<()> {
        self.try_send(zipc::pod::bytes_of(&Sample::new(i)), SAMPLE)
    }
    fn send_sample_forever(&mut self, i: u64) -> zipc::Result<()> {
        self.send_pod(&Sample::new(i), SAMPLE, None)
    }
}

#[test]
fn history_gives_the_last_n_or_the_exact_gap() {
    let name = topic_name();
    let mut p = Publisher::create(&name, 1 << 16, 0, Options::new()).unwrap();
    publish(&mut p, 0..10);
    let mut s = subscribe(&name, Subscription { history: 5, ..Subscription::default() });
    for i in 5..10 {
        assert!(s.recv_pod::<Sample>(SEC).unwrap().0.is(i));
    }
    assert_eq!(s.try_view().unwrap_err(), Error::WouldBlock);

    // more history than the ring holds: the exact gap first, then the rest
    let small = topic_name();
    let mut p2 = Publisher::create(&small, 4096, 0, Options::new()).unwrap();
    let (total, asked) = (2000u64, 1000u64);
    publish(&mut p2, 0..total);
    let mut late = subscribe(&small, Subscription { history: asked, ..drop_oldest() });
    let Err(Error::Overflow { messages: gap, .. }) = late.try_view() else { panic!("no gap reported") };
    let mut got = 0;
    while let Ok(v) = late.try_view() {
        assert!(v.pod::<Sample>().unwrap().is(total - asked + gap + got));
        got += 1;
    }
    assert!(got >= 4);
    assert_eq!(gap + got, asked);
}

#[test]
fn latest_reads_without_consuming() {
    let name = topic_name();
    let mut p = Publisher::create(&name, 1 << 16, 0, Options::new()).unwrap();
    let mut s = subscribe(&name, Subscription::default());
    assert_eq!(s.latest_pod::<Sample>(SAMPLE).unwrap_err(), Error::NotFound);
    const STATE: u32 = 7;
    p.send_pod(&100u64, STATE, None).unwrap();
    publish(&mut p, 0..3);
    p.send_pod(&200u64, STATE, None).unwrap();
    publish(&mut p, 3..5);
    assert_eq!(s.latest_pod::<u64>(STATE).unwrap(), 200);
    assert!(s.latest_pod::<Sample>(SAMPLE).unwrap().is(4));
    let mut buf = [0u8; 64];
    assert_eq!(s.latest(None, &mut buf).unwrap(), (64, SAMPLE));
    assert_eq!(s.latest(Some(SAMPLE), &mut [0u8; 4]).unwrap_err(), Error::MessageTooLarge);
    assert_eq!(s.latest(Some(12345), &mut buf).unwrap_err(), Error::NotFound);
    assert!(matches!(s.latest_pod::<u32>(STATE), Err(Error::MessageTooLarge | Error::BadPayload(_))));
    // the cursor did not move
    assert_eq!(s.recv_pod::<u64>(SEC).unwrap(), (100, STATE));
}

#[test]
fn interrupter_wakes_blocked_calls() {
    let name = topic_name();
    let mut p = Publisher::create(&name, 4096, 0, Options::new()).unwrap();
    let mut s = subscribe(&name, Subscription::default());
    let stop = s.interrupter();
    let t = std::thread::spawn(move || {
        let e = s.view(None).unwrap_err();
        (e, s)
    });
    std::thread::sleep(Duration::from_millis(20));
    assert!(stop.interrupt());
    let (e, s) = t.join().unwrap();
    assert_eq!(e, Error::Cancelled);

    // a publisher blocked by a full BLOCK subscriber
    while p.try_send_sample(0).is_ok() {}
    let stop = p.interrupter();
    let t = std::thread::spawn(move || p.send_sample_forever(0).unwrap_err());
    std::thread::sleep(Duration::from_millis(20));
    assert!(stop.interrupt());
    assert_eq!(t.join().unwrap(), Error::Cancelled);
    drop(s);
    assert!(!stop.interrupt(), "the publisher is closed: nothing to wake");
}

// ------------------------------------------------------------------------
// Real processes: this test binary re-spawned with ZIPC_RS_TOPIC_CHILD set
// runs `topic_child` as a subscriber or as a publisher.
// ------------------------------------------------------------------------

const CHILD_ENV: &str = "ZIPC_RS_TOPIC_CHILD";

fn spawn_child(mode: &str, name: &str, n: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "topic_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{mode}:{name}:{n}"))
        .stdout(std::process::Stdio::null()) // the harness's chatter; panics go to stderr
        .spawn()
        .unwrap()
}

/// A BLOCK subscriber: every message in order, intact, then PeerGone.
fn read_everything(name: &str, total: u64) {
    let mut s = subscribe(name, Subscription::default());
    let mut next = 0u64;
    loop {
        match s.drain(32, SEC) {
            Ok(b) => {
                for m in &b {
                    assert_eq!(m.seq(), next);
                    assert!(m.pod::<Sample>().unwrap().is(next), "message {next} torn");
                    next += 1;
                }
            }
            Err(Error::PeerGone) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(next, total);
    assert_eq!(s.stats().lost_messages, 0);
}

/// A slow DROP_OLDEST subscriber: what it reads is intact or reported
/// stale, and what it read plus what it was told it lost is everything.
fn read_slowly(name: &str, total: u64) {
    let mut s = subscribe(name, drop_oldest());
    let (mut next, mut lost, mut overflows, mut read) = (0u64, 0u64, 0u64, 0u64);
    loop {
        match s.view(SEC) {
            Ok(v) => {
                assert_eq!(v.seq(), next);
                let copy = v.read::<Sample>();
                if read % 64 == 0 {
                    std::thread::sleep(Duration::from_millis(1)); // slow: it gets lapped
                }
                match v.release() {
                    Ok(()) => assert!(copy.unwrap().is(next), "message {next} torn, release said intact"),
                    Err(Error::Stale) => {}
                    Err(e) => panic!("{e}"),
                }
                (next, read) = (next + 1, read + 1);
            }
            Err(Error::Overflow { messages, bytes }) => {
                assert!(messages > 0 && bytes >= messages * 64);
                (next, lost, overflows) = (next + messages, lost + messages, overflows + 1);
            }
            Err(Error::PeerGone) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(next, total);
    let st = s.stats();
    assert_eq!((st.lost_messages, st.overflows), (lost, overflows));
    assert!(overflows > 0, "never lapped: this test would test nothing");
    eprintln!("drop_oldest subscriber: read {read}, lost {lost} in {overflows} overflows");
}

#[test]
fn topic_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let mut it = spec.splitn(3, ':');
    let (mode, name, n) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap().parse::<u64>().unwrap());
    match mode {
        "block" => read_everything(name, n),
        "drop" => read_slowly(name, n),
        "publish-and-hang" => {
            let mut p = Publisher::create(name, 1 << 14, 0, Options::new()).unwrap();
            wait_subscribers(&p, 2);
            publish(&mut p, 0..n);
            std::thread::sleep(Duration::from_secs(60)); // SIGKILLed by the parent
        }
        _ => panic!("mode {mode}"),
    }
}

#[test]
fn block_and_drop_oldest_subscribers_in_other_processes() {
    let name = topic_name();
    let total = 20_000;
    // the subscribers start first: they wait for the publisher to exist
    let mut block = spawn_child("block", &name, total);
    let mut drop_ = spawn_child("drop", &name, total);
    {
        let mut p = Publisher::create(&name, 4096, 0, Options::new()).unwrap();
        wait_subscribers(&p, 2);
        publish(&mut p, 0..total);
        let st = p.stats();
        assert_eq!((st.messages, st.joined), (total, 2));
    } // closed: the subscribers drain, then PeerGone
    assert!(block.wait().unwrap().success());
    assert!(drop_.wait().unwrap().success());
}

#[test]
fn publisher_killed_subscribers_drain_then_peer_gone() {
    let name = topic_name();
    let total = 5000;
    let mut publisher = spawn_child("publish-and-hang", &name, total);
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let name = name.clone();
            std::thread::spawn(move || {
                let mut s = subscribe(&name, Subscription::default());
                for i in 0..total {
                    assert!(s.recv_pod::<Sample>(SEC).unwrap().0.is(i));
                }
                s
            })
        })
        .collect();
    let mut subs: Vec<Subscriber> = readers.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(subs.iter().all(|s| s.publisher_pid() == publisher.id() as i32));
    publisher.kill().unwrap(); // SIGKILL: no clean close
    publisher.wait().unwrap();
    let t0 = Instant::now();
    for s in &mut subs {
        assert_eq!(s.view(SEC).unwrap_err(), Error::PeerGone);
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    // the name is free: a new publisher takes it
    Publisher::create(&name, 4096, 0, Options::new()).unwrap();
}

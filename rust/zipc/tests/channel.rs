//! Safe-API semantics in one process (listener in a thread), and real
//! two-process tests (this test binary re-spawned as the peer).
mod common;
use common::{Tick, TICK_TYPE};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use zipc::{Consumer, Error, Options, Producer, Role};

const SEC: Option<Duration> = Some(Duration::from_secs(10));

fn sock_path() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("/tmp/zipc-rs-{}-{}.sock", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// (producer, consumer) in this process.
fn pair(capacity: usize) -> (Producer, Consumer) {
    let path = sock_path();
    let p2 = path.clone();
    let t = std::thread::spawn(move || Consumer::listen(&p2, capacity, Options::new().timeout(SEC)));
    let prod = Producer::connect(&path, Options::new().timeout(SEC)).unwrap();
    let cons = t.join().unwrap().unwrap();
    let _ = std::fs::remove_file(&path);
    (prod, cons)
}


#[test]
fn endpoints_are_send_not_sync() {
    fn send<T: Send>() {}
    send::<Producer>();
    send::<Consumer>();
    send::<zipc::View<'static>>();
    send::<zipc::Batch<'static>>();
    fn shared<T: Send + Sync + Clone>() {}
    shared::<zipc::Interrupter>();
}

#[test]
fn roles_and_properties() {
    let (prod, cons) = pair(1 << 16);
    assert_eq!(prod.capacity(), 1 << 16);
    assert_eq!(cons.max_message(), (1 << 15) - 16);
    assert_eq!(prod.peer_pid(), std::process::id() as i32);
    assert!(std::os::fd::AsRawFd::as_raw_fd(&cons) >= 0);

    // generic listen/connect: the listener chooses the role
    let path = sock_path();
    let p2 = path.clone();
    let t = std::thread::spawn(move || {
        zipc::listen(&p2, 4096, Options::new().role(Role::Producer).timeout(SEC)).unwrap()
    });
    let c = zipc::connect(&path, Options::new().timeout(SEC)).unwrap();
    let l = t.join().unwrap();
    assert_eq!((l.role(), c.role()), (Role::Producer, Role::Consumer));
    assert_eq!(c.into_producer().unwrap_err(), Error::WrongRole);
    // the listener's peer closed: the producer sees PeerGone
    let mut p = l.into_producer().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match p.send(b"x", 0, Some(Duration::from_millis(10))) {
            Err(Error::PeerGone) => break,
            Ok(()) | Err(Error::Timeout) => assert!(Instant::now() < deadline, "no PeerGone"),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn dropped_reservation_aborts() {
    let (mut prod, mut cons) = pair(4096);
    {
        let mut r = prod.reserve(100, None).unwrap();
        r.fill(0xAA);
    } // dropped: aborted
    prod.reserve(8, None).unwrap().abort();
    assert_eq!(cons.try_view().unwrap_err(), Error::WouldBlock);
    let mut r = prod.reserve(16, None).unwrap();
    r[..3].copy_from_slice(b"abc");
    r.commit(3, 5).unwrap();
    let v = cons.view(SEC).unwrap();
    assert_eq!((v.data(), v.type_id(), v.seq()), (&b"abc"[..], 5, 0));
    drop(v);
    assert_eq!(cons.try_view().unwrap_err(), Error::WouldBlock);
    assert_eq!(prod.stats().messages, 1);
}

#[test]
fn commit_errors_abort_and_commit_more_batches() {
    let (mut prod, mut cons) = pair(4096);
    let r = prod.reserve(8, None).unwrap();
    let e = r.commit(9, 0).unwrap_err();
    assert_eq!((e, e.errno()), (Error::InvalidArgument, libc::EINVAL));
    // the failed reservation was aborted: a new one can open
    prod.reserve(8, None).unwrap().commit_more(8, 1).unwrap();
    prod.reserve(8, None).unwrap().commit_more(8, 2).unwrap();
    assert_eq!(cons.try_view().unwrap_err(), Error::WouldBlock, "staged, not published");
    prod.flush().unwrap();
    let b = cons.drain(64, SEC).unwrap();
    assert_eq!(b.iter().map(|m| m.type_id()).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn dropped_view_releases_space() {
    let (mut prod, mut cons) = pair(4096);
    let mut sent = 0u64;
    while prod.try_send(&sent.to_le_bytes(), 0).is_ok() {
        sent += 1;
    }
    assert!(sent > 10, "ring holds {sent}");
    assert_eq!(prod.try_send(b"x", 0).unwrap_err(), Error::WouldBlock);
    let v = cons.view(SEC).unwrap();
    assert_eq!(v.read::<u64>().unwrap(), 0);
    assert_eq!(prod.try_send(b"x", 0).unwrap_err(), Error::WouldBlock, "view still open");
    drop(v);
    assert_eq!(cons.stats().messages, 1);
    prod.try_send(&sent.to_le_bytes(), 0).unwrap();
    sent += 1;
    // a batch: several views at once, all released on drop (release_upto)
    let mut next = 1u64;
    while next < sent {
        let b = cons.drain(7, SEC).unwrap();
        assert!(b.len() <= 7);
        for m in &b.iter().collect::<Vec<_>>() {
            assert_eq!((m.read::<u64>().unwrap(), m.seq()), (next, next));
            next += 1;
        }
    }
    assert_eq!(cons.stats().messages, sent);
    assert_eq!(cons.try_drain(8).unwrap_err(), Error::WouldBlock);
}

#[test]
fn errors_carry_errno_and_text() {
    let e = Consumer::connect("/tmp/zipc-rs-nobody-here.sock", Options::new().timeout(Some(Duration::from_millis(50))))
        .unwrap_err();
    assert!(matches!(e, Error::NotFound | Error::Os(libc::ECONNREFUSED)), "{e:?}");
    assert!(e.to_string().contains(&format!("errno {}", e.errno())), "{e}");
    assert_eq!(e.strerror(), zipc::strerror(-e.errno()));

    let (mut prod, _cons) = pair(4096);
    let max = prod.max_message();
    let e = prod.reserve(max + 1, None).unwrap_err();
    assert_eq!((e, e.errno()), (Error::MessageTooLarge, libc::EMSGSIZE));
    assert!(!e.to_string().is_empty());
    let io: std::io::Error = e.into();
    assert_eq!(io.raw_os_error(), Some(libc::EMSGSIZE));

    for (errno, err) in [
        (libc::ETIMEDOUT, Error::Timeout),
        (libc::EAGAIN, Error::WouldBlock),
        (libc::EPIPE, Error::PeerGone),
        (libc::EPROTO, Error::AbiMismatch),
        (libc::EBADMSG, Error::Corrupted),
        (libc::EPERM, Error::PermissionDenied),
        (libc::EADDRINUSE, Error::AddrInUse),
        (libc::ENOTSOCK, Error::Os(libc::ENOTSOCK)),
    ] {
        assert_eq!(Error::from_errno(-errno), err);
        assert_eq!(err.errno(), errno);
        assert!(err.to_string().ends_with(&format!("(errno {errno})")));
    }
    // a ring too small for the options: EINVAL from listen
    let e = Consumer::listen(sock_path(), 64, Options::new()).unwrap_err();
    assert_eq!(e, Error::InvalidArgument);

    // a producer call on a consumer: EOPNOTSUPP from the core, WrongRole here
    let (_prod, cons) = pair(4096);
    let mut buf = std::ptr::null_mut();
    // SAFETY: a live endpoint, a valid out pointer; the call fails.
    let rc = unsafe { zipc::sys::zipc_channel_reserve(cons.as_ptr(), 8, &mut buf, 0) };
    let e = Error::from_errno(rc);
    assert_eq!((e, e.errno(), e.name()), (Error::WrongRole, libc::EOPNOTSUPP, "EOPNOTSUPP"));
}

#[test]
fn max_segment_bounds_what_a_connector_maps() {
    let path = sock_path();
    let p2 = path.clone();
    // the connector refuses the segment: the listener fails or times out
    let t = std::thread::spawn(move || {
        Consumer::listen(&p2, 1 << 16, Options::new().timeout(Some(Duration::from_secs(2))).label("big")).err()
    });
    let e = Producer::connect(&path, Options::new().timeout(SEC).max_segment(4096)).unwrap_err();
    assert_eq!((e, e.errno(), e.name()), (Error::SegmentTooLarge, libc::EFBIG, "EFBIG"));
    assert!(t.join().unwrap().is_some());
    assert_eq!(Options::DEFAULT_MAX_SEGMENT, 1 << 30);
}

// ------------------------------------------------------------------------
// Interrupter: a blocked call woken from another thread
// ------------------------------------------------------------------------

/// Run `blocked` on its own thread, interrupt it from here after `delay`;
/// returns what it returned and how long it took.
fn interrupt_after<T: Send + 'static>(
    stop: &zipc::Interrupter,
    delay: Duration,
    blocked: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let t0 = Instant::now();
    let h = std::thread::spawn(move || {
        let r = blocked();
        (r, t0.elapsed())
    });
    std::thread::sleep(delay);
    assert!(stop.interrupt(), "the endpoint is open");
    h.join().unwrap()
}

#[test]
fn interrupter_wakes_a_blocked_view() {
    let (mut prod, mut cons) = pair(4096);
    let stop = cons.interrupter();
    let ((e, mut cons), took) = interrupt_after(&stop.clone(), Duration::from_millis(200), move || {
        (cons.view(SEC).unwrap_err(), cons)
    });
    assert_eq!((e, e.errno()), (Error::Cancelled, libc::ECANCELED));
    assert!(took >= Duration::from_millis(150), "it was blocked, not cancelled at entry: {took:?}");
    assert!(took < Duration::from_secs(5), "woken long before its timeout: {took:?}");
    prod.send(b"on", 1, None).unwrap(); // the channel goes on
    assert_eq!(cons.view(SEC).unwrap().data(), b"on");
    drop(cons);
    assert!(!stop.interrupt(), "closed: nothing to wake");
}

#[test]
fn interrupter_wakes_a_blocked_reserve() {
    let (mut prod, mut cons) = pair(4096);
    while prod.try_send(&[0; 100], 0).is_ok() {}
    let stop = prod.interrupter();
    let ((e, mut prod), took) = interrupt_after(&stop, Duration::from_millis(200), move || {
        (prod.reserve(100, SEC).map(|_| ()).unwrap_err(), prod)
    });
    assert_eq!(e, Error::Cancelled);
    assert!(took >= Duration::from_millis(150) && took < Duration::from_secs(5), "{took:?}");
    drop(cons.drain(1024, SEC).unwrap());
    prod.send(&[1; 100], 1, SEC).unwrap();
}

#[test]
fn interrupt_is_latched_until_a_blocking_call_takes_it() {
    let (mut prod, mut cons) = pair(4096);
    prod.send(b"x", 0, None).unwrap();
    assert!(cons.interrupter().interrupt());
    assert_eq!(cons.view(SEC).unwrap().data(), b"x", "a message there: no wait, the interrupt stays");
    let t0 = Instant::now();
    assert_eq!(cons.view(SEC).unwrap_err(), Error::Cancelled);
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(cons.view(Some(Duration::from_millis(20))).unwrap_err(), Error::Timeout, "taken once");
}

/// The clean shutdown of a consumer thread: it drains everything sent, then
/// its blocking call returns Cancelled.
#[test]
fn interrupter_ends_a_consumer_thread_after_it_drains() {
    let (mut prod, mut cons) = pair(4096);
    let stop = cons.interrupter();
    let worker = std::thread::spawn(move || {
        let mut seen = 0u64;
        loop {
            match cons.view(None) {
                Ok(v) => {
                    assert_eq!(v.read::<u64>().unwrap(), seen);
                    seen += 1;
                }
                Err(e) => return (seen, e),
            }
        }
    });
    for i in 0..5000u64 {
        prod.send_pod(&i, 0, SEC).unwrap();
    }
    stop.interrupt();
    assert_eq!(worker.join().unwrap(), (5000, Error::Cancelled));
}

#[test]
fn timeouts() {
    let (mut prod, mut cons) = pair(4096);
    let t0 = Instant::now();
    assert_eq!(cons.view(Some(Duration::from_millis(50))).unwrap_err(), Error::Timeout);
    assert!(t0.elapsed() >= Duration::from_millis(45), "{:?}", t0.elapsed());
    assert_eq!(cons.drain(8, Some(Duration::from_millis(20))).unwrap_err(), Error::Timeout);
    assert_eq!(cons.try_view().unwrap_err(), Error::WouldBlock);
    while prod.try_send(&[0; 100], 0).is_ok() {}
    let t0 = Instant::now();
    assert_eq!(prod.reserve(100, Some(Duration::from_millis(30))).unwrap_err(), Error::Timeout);
    assert!(t0.elapsed() >= Duration::from_millis(25));
    // a blocked producer wakes when the consumer releases (another thread)
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        let n = cons.drain(1024, SEC).unwrap().len();
        (n, cons)
    });
    prod.send(&[1; 100], 1, SEC).unwrap();
    let (n, _cons) = h.join().unwrap();
    assert!(n > 0);
}

#[test]
fn pollable_fd() {
    let (mut prod, mut cons) = pair(4096);
    let fd = std::os::fd::AsRawFd::as_raw_fd(&cons);
    assert_eq!(cons.try_view().unwrap_err(), Error::WouldBlock); // arms the fd
    prod.send(b"wake", 0, None).unwrap();
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 5000) };
    assert_eq!(n, 1);
    assert_eq!(cons.try_view().unwrap().data(), b"wake");
}

#[test]
fn typed_pod_round_trip() {
    let (mut prod, mut cons) = pair(1 << 16);
    let tick = Tick { seq: 42, ts_ns: 1_700_000_000_123_456_789, price: 101.25, qty: 3.5, side: 1 };
    prod.send_pod(&tick, TICK_TYPE, None).unwrap();
    prod.send_slice(&[tick, tick], TICK_TYPE, None).unwrap();
    prod.send(&[0u8; 31], TICK_TYPE, None).unwrap();
    prod.send_pod(&tick, TICK_TYPE, None).unwrap();

    let v = cons.view(SEC).unwrap();
    assert_eq!(v.type_id(), TICK_TYPE);
    let t: &Tick = v.pod().unwrap(); // zero-copy, in the ring
    assert_eq!(*t, tick);
    assert_eq!(t as *const Tick as *const u8, v.data().as_ptr());
    drop(v);
    let v = cons.view(SEC).unwrap();
    assert_eq!(v.slice::<Tick>().unwrap(), &[tick, tick]);
    assert!(matches!(v.pod::<Tick>(), Err(Error::BadPayload(_))));
    drop(v);
    let v = cons.view(SEC).unwrap();
    let e = v.pod::<Tick>().unwrap_err();
    assert!(matches!(e, Error::BadPayload(_)) && e.errno() == libc::EBADMSG, "{e}");
    assert!(v.slice::<Tick>().is_err());
    drop(v);
    assert_eq!(cons.recv_pod::<Tick>(SEC).unwrap(), (tick, TICK_TYPE));
}

#[test]
fn copying_recv() {
    let (mut prod, mut cons) = pair(4096);
    prod.send(b"hello", 3, None).unwrap();
    prod.send(b"world!", 4, None).unwrap();
    assert_eq!(cons.recv(SEC).unwrap(), zipc::Message { type_id: 3, data: b"hello".to_vec() });
    let mut small = [0u8; 4];
    assert_eq!(cons.recv_into(&mut small, SEC).unwrap_err(), Error::MessageTooLarge);
    let mut buf = [0u8; 16];
    assert_eq!(cons.recv_into(&mut buf, SEC).unwrap(), (6, 4));
    assert_eq!(&buf[..6], b"world!");
}

#[test]
fn tensor_round_trip() {
    let (mut prod, mut cons) = pair(1 << 20);
    let data: Vec<f32> = (0..6).map(|i| i as f32 / 4.0).collect();
    prod.send_tensor(&data, &[2, 3], None).unwrap();
    prod.send_tensor(&[7u8], &[], None).unwrap();
    {
        let mut r = prod.reserve_tensor::<i64>(&[100, 10], None).unwrap();
        for (i, x) in r.data_mut().iter_mut().enumerate() {
            *x = -(i as i64);
        }
        r.commit().unwrap();
    }
    prod.reserve_tensor::<f64>(&[4], None).unwrap().abort(); // nothing sent
    assert_eq!(prod.send_tensor(&data, &[4, 2], None).unwrap_err(), Error::InvalidArgument);

    let v = cons.view(SEC).unwrap();
    assert_eq!(v.type_id(), zipc::types::TYPE_TENSOR);
    let t = v.tensor().unwrap();
    assert_eq!((t.dtype(), t.dtype().name(), t.shape(), t.strides()), (zipc::DType::F32, Some("float32"), &[2i64, 3][..], &[3i64, 1][..]));
    assert!(t.is_contiguous());
    assert_eq!(t.data::<f32>().unwrap(), &data[..]);
    assert_eq!(t.data::<f32>().unwrap().as_ptr() as usize % 64, 0, "64-byte aligned in the ring");
    assert!(matches!(t.data::<i32>(), Err(Error::BadPayload(_))));
    drop(v);
    let v = cons.view(SEC).unwrap();
    let t = v.tensor().unwrap();
    assert_eq!((t.ndim(), t.len(), t.data::<u8>().unwrap()), (0, 1, &[7u8][..]));
    drop(v);
    let v = cons.view(SEC).unwrap();
    let t = v.tensor().unwrap();
    assert_eq!(t.shape(), [100, 10]);
    assert_eq!(t.data::<i64>().unwrap()[999], -999);
    drop(v);
    assert_eq!(cons.try_view().unwrap_err(), Error::WouldBlock);

    // hostile headers are refused
    let mut bad = zipc::tensor::encode(&data, &[2, 3]).unwrap();
    bad[24] = 200; // nbytes beyond the payload
    prod.send(&bad, zipc::types::TYPE_TENSOR, None).unwrap();
    let mut bad2 = zipc::tensor::encode(&data, &[2, 3]).unwrap();
    bad2[32] = 3; // shape 3x3 does not fit in 24 bytes
    prod.send(&bad2, zipc::types::TYPE_TENSOR, None).unwrap();
    prod.send(&bad2[..100], zipc::types::TYPE_TENSOR, None).unwrap();
    for _ in 0..3 {
        let v = cons.view(SEC).unwrap();
        let e = v.tensor().unwrap_err();
        assert!(matches!(e, Error::BadPayload(_)) && e.errno() == libc::EBADMSG, "{e}");
    }
}

#[test]
fn peer_gone_after_draining() {
    let (mut prod, mut cons) = pair(4096);
    for i in 0..5u32 {
        prod.send_pod(&i, 0, None).unwrap();
    }
    drop(prod);
    for i in 0..5u32 {
        assert_eq!(cons.recv_pod::<u32>(SEC).unwrap().0, i);
    }
    let e = cons.view(SEC).unwrap_err();
    assert_eq!((e, e.errno()), (Error::PeerGone, libc::EPIPE));

    let (mut prod, mut cons) = pair(4096);
    cons.shutdown().unwrap();
    assert_eq!(cons.try_view().unwrap_err(), Error::PeerGone);
    let deadline = Instant::now() + Duration::from_secs(5);
    while prod.send(b"x", 0, Some(Duration::from_millis(10))) != Err(Error::PeerGone) {
        assert!(Instant::now() < deadline);
    }
}

// ------------------------------------------------------------------------
// Two processes: this test binary re-spawned with ZIPC_RS_CHILD set runs
// `child_entry` as the peer.
// ------------------------------------------------------------------------

const CHILD_ENV: &str = "ZIPC_RS_CHILD";

fn spawn_child(mode: &str, path: &str, n: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{mode}:{path}:{n}"))
        .stdout(std::process::Stdio::null()) // the harness's chatter; panics go to stderr
        .spawn()
        .unwrap()
}

/// FNV-1a 64.
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// Message i: [i: u64][len bytes derived from i][fnv of the preceding bytes: u64].
fn make_msg(i: u64, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&i.to_le_bytes());
    let len = (i * 7919 % 1000) as usize;
    buf.extend((0..len).map(|k| (i as usize * 31 + k) as u8));
    let h = fnv(buf);
    buf.extend_from_slice(&h.to_le_bytes());
}

fn check_msg(i: u64, data: &[u8]) {
    assert!(data.len() >= 16, "message {i}: {} bytes", data.len());
    let (body, sum) = data.split_at(data.len() - 16 + 8);
    assert_eq!(u64::from_le_bytes(body[..8].try_into().unwrap()), i, "sequence");
    assert_eq!(u64::from_le_bytes(sum.try_into().unwrap()), fnv(body), "checksum of message {i}");
    assert_eq!(body.len(), 8 + (i * 7919 % 1000) as usize);
}

#[test]
fn child_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let mut it = spec.splitn(3, ':');
    let (mode, path, n) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap().parse::<u64>().unwrap());
    let mut prod = Producer::connect(path, Options::new().timeout(SEC)).unwrap();
    let mut buf = Vec::new();
    for i in 0..n {
        make_msg(i, &mut buf);
        if i % 2 == 0 {
            prod.send(&buf, 0x5EED, None).unwrap();
        } else {
            let mut r = prod.reserve(buf.len() + 64, None).unwrap();
            r[..buf.len()].copy_from_slice(&buf);
            r.commit(buf.len(), 0x5EED).unwrap();
        }
    }
    if mode == "hang" {
        std::thread::sleep(Duration::from_secs(60)); // killed by the parent
    }
}

#[test]
fn two_processes_checksummed() {
    let path = sock_path();
    let n = 100_000;
    let mut child = spawn_child("send", &path, n);
    let mut cons = Consumer::listen(&path, 1 << 16, Options::new().timeout(SEC)).unwrap();
    assert_eq!(cons.peer_pid(), child.id() as i32);
    let mut i = 0u64;
    loop {
        match cons.drain(256, SEC) {
            Ok(b) => {
                for m in b.iter() {
                    assert_eq!((m.seq(), m.type_id()), (i, 0x5EED));
                    check_msg(i, m.data());
                    i += 1;
                }
            }
            Err(Error::PeerGone) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(i, n);
    assert!(child.wait().unwrap().success());
}

#[test]
fn peer_killed_is_peer_gone() {
    let path = sock_path();
    let mut child = spawn_child("hang", &path, 10);
    let mut cons = Consumer::listen(&path, 1 << 16, Options::new().timeout(SEC)).unwrap();
    for i in 0..10 {
        let v = cons.view(SEC).unwrap();
        check_msg(i, &v);
    }
    child.kill().unwrap(); // SIGKILL: no clean close
    child.wait().unwrap();
    let t0 = Instant::now();
    let e = cons.view(SEC).unwrap_err();
    assert_eq!(e, Error::PeerGone);
    assert!(t0.elapsed() < Duration::from_secs(5));
}

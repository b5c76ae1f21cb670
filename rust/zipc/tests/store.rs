//! The store's safe API: published here, opened in other processes (this
//! test binary re-spawned with ZIPC_RS_STORE_CHILD set), typed slices and
//! their dtype check, a write through a tensor killing its process,
//! versions, metadata, and safetensors files good and bad.
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use zipc::store::{Dtype, PublishError, Store, StoreOptions, TensorRef};
use zipc::Error;

/// A fresh store name (no '/').
fn store_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("zipc-rs-store-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn opts() -> StoreOptions {
    StoreOptions::new().timeout(Some(Duration::from_secs(10)))
}

/// The tensors every test publishes: their values follow from the index,
/// so a child checks every byte without being told them.
struct Fixture {
    w: Vec<f32>,
    ids: Vec<i64>,
    half: Vec<u8>,
}

fn fixture() -> Fixture {
    Fixture {
        w: (0..64 * 33).map(|i| i as f32 * 0.25 - 7.0).collect(),
        ids: (0..1000).map(|i| i * 1_000_003 - 5).collect(),
        half: (0..16).map(|i| i as u8).collect(),
    }
}

fn refs(f: &Fixture) -> Vec<TensorRef<'_>> {
    vec![
        TensorRef::new("w", &f.w, &[64, 33]).unwrap(),
        TensorRef::new("ids", &f.ids, &[1000]).unwrap(),
        TensorRef::from_bytes("half", Dtype::BF16, &[2, 4], &f.half),
    ]
}

/// Every tensor of s has the fixture's bytes.
fn check_fixture(s: &Store) {
    let f = fixture();
    assert_eq!(s.len(), 3);
    let w = s.get("w").unwrap();
    assert_eq!((w.dtype(), w.shape(), w.strides()), (Dtype::F32, &[64i64, 33][..], &[33i64, 1][..]));
    assert_eq!(w.as_slice::<f32>().unwrap(), &f.w[..]);
    assert_eq!(w.bytes().len(), f.w.len() * 4);
    assert_eq!(w.bytes().as_ptr() as usize % 64, 0);
    let ids = s.get("ids").unwrap();
    assert_eq!(ids.as_slice::<i64>().unwrap(), &f.ids[..]);
    let half = s.get("half").unwrap();
    assert_eq!((half.dtype(), half.len(), half.bytes()), (Dtype::BF16, 8, &f.half[..]));
    s.verify().unwrap();
    for t in s {
        s.verify_tensor(t.name()).unwrap();
    }
}

// ------------------------------------------------------------------------
// Children: this binary re-spawned runs `store_child`.
// ------------------------------------------------------------------------

const CHILD_ENV: &str = "ZIPC_RS_STORE_CHILD";

fn run_child(spec: &str) -> ExitStatus {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "store_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, spec)
        .stdout(std::process::Stdio::null()) // the harness's chatter; panics go to stderr
        .status()
        .unwrap()
}

#[test]
fn store_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let mut it = spec.split(':');
    let (mode, name) = (it.next().unwrap(), it.next().unwrap());
    let s = Store::open(name, &opts().verify(true)).unwrap();
    match mode {
        // read: the bytes, and the checksums the publisher's table shows
        "read" => {
            check_fixture(&s);
            let sums: Vec<u64> = it.map(|x| x.parse().unwrap()).collect();
            assert_eq!(s.iter().map(|t| t.xxh3()).collect::<Vec<_>>(), sums);
            assert_eq!(s.metadata("format"), Some("pt"));
            assert_eq!(s.version(), 1);
        }
        // write: through a tensor's bytes, which are read-only
        "write" => {
            let p = s.get("w").unwrap().bytes().as_ptr() as *mut u8;
            // SAFETY: restores the default action (the kernel's verdict).
            unsafe { libc::signal(libc::SIGSEGV, libc::SIG_DFL) };
            // SAFETY: not safe at all: the point is that the kernel refuses it.
            unsafe { std::ptr::write_volatile(p, 1) };
            std::process::exit(3); // the write went through
        }
        _ => panic!("mode {mode}"),
    }
}

// ------------------------------------------------------------------------

#[test]
fn publish_here_open_in_a_child() {
    let f = fixture();
    let name = store_name();
    let publisher = Store::publish(&name, &refs(&f), &opts().metadata("format", "pt")).unwrap();
    assert_eq!(publisher.version(), 1);
    check_fixture(&publisher);
    let names: Vec<&str> = publisher.iter().map(|t| t.name()).collect();
    assert_eq!(names, ["half", "ids", "w"]); // name order
    let sums: Vec<String> = publisher.iter().map(|t| t.xxh3().to_string()).collect();
    assert!(publisher.iter().all(|t| t.xxh3() != 0));
    let status = run_child(&format!("read:{name}:{}", sums.join(":")));
    assert!(status.success(), "the reader: {status}");
}

#[test]
fn as_slice_checks_the_dtype() {
    let f = fixture();
    let s = Store::publish(&store_name(), &refs(&f), &opts()).unwrap();
    let w = s.get("w").unwrap();
    assert!(matches!(w.as_slice::<f64>(), Err(Error::BadPayload(_))));
    assert!(matches!(w.as_slice::<i32>(), Err(Error::BadPayload(_)))); // same size, other dtype
    assert!(matches!(w.as_slice::<u32>(), Err(Error::BadPayload(_))));
    assert!(s.get("half").unwrap().as_slice::<u16>().is_err()); // BF16 is not u16
    assert_eq!(w.as_slice::<f32>().unwrap().len(), 64 * 33);
    assert_eq!((Dtype::BF16.bits(), Dtype::F4.bits(), Dtype::F32.name()), (16, 4, "F32"));
    assert_eq!(Dtype::of::<i16>(), Some(Dtype::I16));
    assert_eq!(Dtype::from_c(21), Some(Dtype::F4));
    assert_eq!(Dtype::from_c(22), None);
}

#[test]
fn a_write_through_a_tensor_kills_the_writer() {
    let f = fixture();
    let name = store_name();
    let _publisher = Store::publish(&name, &refs(&f), &opts()).unwrap();
    let status = run_child(&format!("write:{name}"));
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "the writer: {status}");
}

#[test]
fn latest_sees_a_new_version() {
    let f = fixture();
    let name = store_name();
    let v1 = Store::publish(&name, &refs(&f), &opts()).unwrap();
    let r1 = Store::open(&name, &opts()).unwrap();
    assert_eq!((r1.version(), r1.latest()), (1, 1));
    let other = [2.0f32; 10];
    let v2 = Store::publish(&name, &[TensorRef::new("w", &other, &[10]).unwrap()], &opts()).unwrap();
    assert_eq!(v2.version(), 2);
    assert_eq!((r1.latest(), v1.latest()), (2, 2));
    check_fixture(&r1); // the old version is unchanged
    let r2 = Store::open(&name, &opts()).unwrap();
    assert_eq!((r2.version(), r2.len()), (2, 1));
    assert_eq!(r2.get("w").unwrap().as_slice::<f32>().unwrap(), &other);
}

#[test]
fn missing_names_and_bad_arguments() {
    let quick = StoreOptions::new().timeout(Some(Duration::from_millis(200)));
    assert_eq!(Store::open(&store_name(), &quick).unwrap_err(), Error::NotFound);
    let f = fixture();
    let s = Store::publish(&store_name(), &refs(&f), &opts()).unwrap();
    assert!(s.get("absent").is_none());
    assert!(s.tensor_at(3).is_none());
    assert_eq!(s.verify_tensor("absent"), Err(Error::NotFound));
    assert_eq!(s.metadata("absent"), None);
    assert_eq!(s.metadata_iter().count(), 0);
    // a size that is not the shape's
    let three = [0f32; 3];
    let bad = TensorRef::new("x", &three, &[2, 2]).unwrap();
    assert_eq!(Store::publish(&store_name(), &[bad], &opts()).unwrap_err(), Error::InvalidArgument);
    // too many dimensions, a name with NUL, twice the same name
    let deep = TensorRef::new("x", &three[..1], &[1; 9]).unwrap();
    assert_eq!(Store::publish(&store_name(), &[deep], &opts()).unwrap_err(), Error::InvalidArgument);
    let nul = TensorRef::new("x\0y", &three, &[3]).unwrap();
    assert_eq!(Store::publish(&store_name(), &[nul], &opts()).unwrap_err(), Error::InvalidArgument);
    let a = TensorRef::new("a", &three, &[3]).unwrap();
    assert_eq!(Store::publish(&store_name(), &[a.clone(), a], &opts()).unwrap_err(), Error::InvalidArgument);
    s.close().unwrap();
}

#[test]
fn metadata_pairs() {
    let f = fixture();
    let s = Store::publish(&store_name(), &refs(&f), &opts().metadata("b", "2").metadata("a", "one")).unwrap();
    assert_eq!(s.metadata("a"), Some("one"));
    assert_eq!(s.metadata_iter().collect::<Vec<_>>(), [("a", "one"), ("b", "2")]);
}

#[test]
fn store_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Store>();
    let f = fixture();
    let s = Store::publish(&store_name(), &refs(&f), &opts()).unwrap();
    std::thread::scope(|sc| {
        for _ in 0..4 {
            sc.spawn(|| {
                for i in 0..200 {
                    assert_eq!(s.get("w").unwrap().as_slice::<f32>().unwrap()[i], f.w[i]);
                    if i % 50 == 0 {
                        s.verify().unwrap();
                    }
                }
            });
        }
    });
}

/// A safetensors file: an 8-byte little-endian header length, the JSON
/// header (padded with spaces to 8 bytes), the data.
fn write_safetensors(header: &str, data: &[u8]) -> std::path::PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let mut h = header.to_owned();
    while h.len() % 8 != 0 {
        h.push(' ');
    }
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(h.as_bytes());
    bytes.extend_from_slice(data);
    let path = std::env::temp_dir()
        .join(format!("zipc-rs-st-{}-{}.safetensors", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn publish_safetensors_files() {
    let vals = [1.0f32, 2.0, 3.0, 4.0];
    let data: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let good = write_safetensors(
        r#"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#,
        &data,
    );
    let name = store_name();
    let p = Store::publish_safetensors(&name, &good, &opts().metadata("extra", "1")).unwrap();
    let s = Store::open(&name, &opts()).unwrap();
    let a = s.get("a").unwrap();
    assert_eq!((a.shape(), a.as_slice::<f32>().unwrap()), (&[2i64, 2][..], &vals[..]));
    assert_eq!((s.metadata("k"), s.metadata("extra")), (Some("v"), Some("1")));
    drop((p, s));
    std::fs::remove_file(&good).unwrap();

    // a hostile one: a tensor without its fields
    let bad = write_safetensors(r#"{"a":{}}"#, &[]);
    let e: PublishError = Store::publish_safetensors(&store_name(), &bad, &opts()).unwrap_err();
    assert_eq!(e.error, Error::Corrupted);
    assert!(e.reason.contains(bad.to_str().unwrap()) && e.reason.len() > bad.as_os_str().len() + 4, "{e}");
    assert!(e.to_string().contains(&e.reason));
    eprintln!("refused as expected: {e}");
    std::fs::remove_file(&bad).unwrap();
    // `?` into zipc::Error keeps the error
    let as_error: Error = e.into();
    assert_eq!(as_error, Error::Corrupted);

    // no such file: a system errno, no reason
    let e = Store::publish_safetensors(&store_name(), "/nonexistent/zipc.safetensors", &opts()).unwrap_err();
    assert_eq!((e.error, e.reason.as_str()), (Error::NotFound, ""));
}

//! The shared test vectors (`../tests/vectors/`): decode every `<name>.bin`
//! as `vectors.json` describes it, and check that the Rust tensor encoder
//! reproduces the committed tensor payloads byte for byte.
mod common;
use common::Tick;
use std::collections::BTreeMap;
use std::path::PathBuf;
use zipc::tensor::{self, TensorView};
use zipc::types::{self, ListView};
use zipc::DType;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

/// The payload in a 64-byte aligned buffer (a ring payload is 16-aligned,
/// a tensor's data 64-aligned; a Vec<u8> guarantees nothing).
struct Aligned {
    buf: Vec<[u8; 64]>,
    len: usize,
}
impl Aligned {
    fn bytes(&self) -> &[u8] {
        // SAFETY: [u8; 64] chunks are contiguous bytes.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast(), self.len) }
    }
}
fn payload(name: &str) -> Aligned {
    let raw = std::fs::read(dir().join(format!("{name}.bin"))).unwrap();
    let mut buf = vec![[0u8; 64]; raw.len().div_ceil(64)];
    for (chunk, src) in buf.iter_mut().zip(raw.chunks(64)) {
        chunk[..src.len()].copy_from_slice(src);
    }
    Aligned { buf, len: raw.len() }
}

// ---- a minimal JSON reader (enough for vectors.json; no dependency) ----
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    fn parse(s: &str) -> Json {
        let mut p = P { s: s.as_bytes(), i: 0 };
        let v = p.value();
        p.ws();
        assert_eq!(p.i, p.s.len(), "trailing JSON");
        v
    }
    fn get(&self, k: &str) -> &Json {
        match self {
            Json::Obj(m) => m.get(k).unwrap_or_else(|| panic!("no key {k}")),
            _ => panic!("not an object"),
        }
    }
    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }
    fn num(&self) -> f64 {
        match self {
            Json::Num(n) => *n,
            _ => panic!("not a number: {self:?}"),
        }
    }
    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            _ => panic!("not an array: {self:?}"),
        }
    }
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}
impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(self.s[self.i], c, "JSON at {}", self.i);
        self.i += 1;
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s[self.i] == b'}' {
                    self.i += 1;
                    return Json::Obj(m);
                }
                loop {
                    self.ws();
                    let Json::Str(k) = self.value() else { panic!("key") };
                    self.eat(b':');
                    m.insert(k, self.value());
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b'}' {
                        return Json::Obj(m);
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s[self.i] == b']' {
                    self.i += 1;
                    return Json::Arr(a);
                }
                loop {
                    a.push(self.value());
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b']' {
                        return Json::Arr(a);
                    }
                }
            }
            b'"' => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let start = self.i;
                    while self.s[self.i] != b'"' && self.s[self.i] != b'\\' {
                        self.i += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.s[start..self.i]).unwrap());
                    self.i += 1;
                    if self.s[self.i - 1] == b'"' {
                        return Json::Str(out);
                    }
                    let c = self.s[self.i];
                    self.i += 1;
                    match c {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let h = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                            self.i += 4;
                            out.push(char::from_u32(u32::from_str_radix(h, 16).unwrap()).expect("BMP escape"));
                        }
                        c => out.push(c as char),
                    }
                }
            }
            b't' => self.word("true", Json::Bool(true)),
            b'f' => self.word("false", Json::Bool(false)),
            b'n' => self.word("null", Json::Null),
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-0123456789.eE".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                Json::Num(std::str::from_utf8(&self.s[start..self.i]).unwrap().parse().unwrap())
            }
        }
    }
    fn word(&mut self, w: &str, v: Json) -> Json {
        assert_eq!(&self.s[self.i..self.i + w.len()], w.as_bytes());
        self.i += w.len();
        v
    }
}

fn manifest() -> Json {
    Json::parse(&std::fs::read_to_string(dir().join("vectors.json")).unwrap())
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

// ---- the tick ----

#[test]
fn tick() {
    let m = manifest();
    let meta = m.get("tick");
    assert_eq!(meta.get("type_id").num() as u32, 0x7469_636B);
    let f = meta.get("fields");
    let p = payload("tick");
    let t: &Tick = zipc::pod::from_bytes(p.bytes()).unwrap();
    assert_eq!(std::mem::size_of::<Tick>(), 32);
    assert_eq!(t.seq, f.get("seq").num() as u64);
    assert_eq!(t.ts_ns, 1_700_000_000_123_456_789); // beyond f64 precision: the literal
    assert_eq!(t.ts_ns as f64, f.get("ts_ns").num());
    assert_eq!(t.price, f.get("price").num());
    assert_eq!(t.qty as f64, f.get("qty").num());
    assert_eq!(t.side as f64, f.get("side").num());
    // and the Rust encoding is the same bytes
    assert_eq!(zipc::pod::bytes_of(t), p.bytes());
}

fn dtype_of(name: &str) -> DType {
    match name {
        "float32" => DType::F32,
        "float64" => DType::F64,
        "int64" => DType::I64,
        "int32" => DType::I32,
        "uint8" => DType::U8,
        n => panic!("dtype {n} not in this test"),
    }
}

fn check_tensor(name: &str, meta: &Json) {
    assert_eq!(meta.get("type_id").num() as u32, types::TYPE_TENSOR);
    let p = payload(name);
    let t = TensorView::parse(p.bytes()).unwrap();
    let dtype = dtype_of(meta.get("dtype").str());
    assert_eq!(t.dtype(), dtype, "{name}");
    assert_eq!(t.dtype().name(), Some(meta.get("dtype").str()));
    let shape: Vec<i64> = meta.get("shape").arr().iter().map(|d| d.num() as i64).collect();
    assert_eq!(t.shape(), &shape[..], "{name}");
    let ushape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let values: Vec<f64> = meta.get("values").arr().iter().map(Json::num).collect();
    let encoded = match dtype {
        DType::F32 => {
            let d = t.data::<f32>().unwrap();
            assert_eq!(d.iter().map(|&x| x as f64).collect::<Vec<_>>(), values);
            tensor::encode(d, &ushape).unwrap()
        }
        DType::I64 => {
            let d = t.data::<i64>().unwrap();
            assert_eq!(d.iter().map(|&x| x as f64).collect::<Vec<_>>(), values);
            tensor::encode(d, &ushape).unwrap()
        }
        DType::U8 => {
            let d = t.data::<u8>().unwrap();
            assert_eq!(d.iter().map(|&x| x as f64).collect::<Vec<_>>(), values);
            tensor::encode(d, &ushape).unwrap()
        }
        _ => unreachable!(),
    };
    assert_eq!(encoded, p.bytes(), "{name}: the Rust encoder differs from the committed bytes");
}

#[test]
fn tensors_decode_and_reencode_exactly() {
    let m = manifest();
    let Json::Obj(all) = &m else { panic!() };
    let mut n = 0;
    for (name, meta) in all {
        if meta.get("kind").str() == "tensor" {
            check_tensor(name, meta);
            n += 1;
        }
    }
    assert_eq!(n, 3);
}

/// Decode one typed payload as vectors.json describes it.
fn check_value(kind: &str, type_id: u32, data: &[u8], meta: &Json) {
    match kind {
        "bytes" => {
            assert_eq!(type_id, types::TYPE_BYTES);
            assert_eq!(data, unhex(meta.get("hex").str()));
        }
        "str" => {
            assert_eq!(type_id, types::TYPE_STR);
            assert_eq!(std::str::from_utf8(data).unwrap(), meta.get("value").str());
        }
        "json" => {
            assert_eq!(type_id, types::TYPE_JSON);
            assert_eq!(Json::parse(std::str::from_utf8(data).unwrap()), *meta.get("value"));
        }
        k => panic!("kind {k}"),
    }
}

#[test]
fn bytes_str_json() {
    let m = manifest();
    for name in ["bytes", "str", "json"] {
        let meta = m.get(name);
        let p = payload(name);
        check_value(meta.get("kind").str(), meta.get("type_id").num() as u32, p.bytes(), meta);
    }
}

#[test]
fn list() {
    let m = manifest();
    let meta = m.get("list");
    assert_eq!(meta.get("type_id").num() as u32, types::TYPE_LIST);
    let p = payload("list");
    let l = ListView::parse(p.bytes()).unwrap();
    let items = meta.get("items").arr();
    assert_eq!(l.len(), items.len());
    for ((type_id, data), item) in l.iter().zip(items) {
        check_value(item.get("kind").str(), type_id, data, item);
    }
    // malformed lists are refused
    let mut bad = p.bytes().to_vec();
    bad[0] = 200; // count: entries beyond the payload
    assert!(ListView::parse(&bad).is_err());
    assert!(ListView::parse(&p.bytes()[..p.bytes().len() - 1]).is_err());
}

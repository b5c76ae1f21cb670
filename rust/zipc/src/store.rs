//! The tensor store: named, read-only tensors (model weights) published once
//! into shared memory and mapped by any number of processes, zero-copy
//! (`include/zipc/store.h`).
//!
//! [`Store::publish`] copies tensors (or [`Store::publish_safetensors`] a
//! safetensors file, read strictly) into one new segment, sealed against
//! writes: every handle maps it read-only, so a write through a tensor
//! faults. [`Store::open`] maps the newest version of a name from any
//! process. Every handle, the publisher's included, is a holder: the store
//! lives while any holder does, and nothing is left after the last one.
//! Publishing the name again makes version + 1 for new opens; old handles
//! keep theirs ([`Store::latest`] tells them).
//!
//! A [`Tensor`] borrows its [`Store`]: no tensor, name or metadata value
//! outlives the mapping. A store is `Send + Sync`: its queries may run on
//! any number of threads at once.
//!
//! ```
//! use zipc::store::{Store, StoreOptions, TensorRef};
//!
//! # fn main() -> zipc::Result<()> {
//! # let name = format!("doc-weights-{}", std::process::id());
//! let w = vec![0.5f32; 6];
//! let opts = StoreOptions::new().metadata("format", "pt");
//! let _publisher = Store::publish(&name, &[TensorRef::new("w", &w, &[2, 3])?], &opts)?;
//!
//! // In any process:
//! let s = Store::open(&name, &StoreOptions::new())?;
//! let t = s.get("w").expect("published above");
//! assert_eq!((t.shape(), t.as_slice::<f32>()?[5]), (&[2i64, 3][..], 0.5));
//! assert_eq!(s.metadata("format"), Some("pt"));
//! s.verify()?; // every checksum
//! # Ok(()) }
//! ```
use crate::error::{check, Error, Result};
use crate::options::Options;
use crate::tensor::{DType, Element};
use std::ffi::{c_char, CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;
use zipc_sys as sys;

/// The most dimensions a store's tensor has.
pub const MAX_NDIM: usize = sys::ZIPC_STORE_MAX_NDIM;

// ------------------------------------------------------------------------
// Dtype
// ------------------------------------------------------------------------

/// A tensor's dtype: those of safetensors (`enum zipc_store_dtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[allow(missing_docs)] // the variants are safetensors' names
pub enum Dtype {
    Bool = sys::ZIPC_STORE_BOOL,
    U8 = sys::ZIPC_STORE_U8,
    I8 = sys::ZIPC_STORE_I8,
    U16 = sys::ZIPC_STORE_U16,
    I16 = sys::ZIPC_STORE_I16,
    U32 = sys::ZIPC_STORE_U32,
    I32 = sys::ZIPC_STORE_I32,
    U64 = sys::ZIPC_STORE_U64,
    I64 = sys::ZIPC_STORE_I64,
    F16 = sys::ZIPC_STORE_F16,
    BF16 = sys::ZIPC_STORE_BF16,
    F32 = sys::ZIPC_STORE_F32,
    F64 = sys::ZIPC_STORE_F64,
    C64 = sys::ZIPC_STORE_C64,
    F8E4M3 = sys::ZIPC_STORE_F8_E4M3,
    F8E5M2 = sys::ZIPC_STORE_F8_E5M2,
    F8E4M3Fnuz = sys::ZIPC_STORE_F8_E4M3FNUZ,
    F8E5M2Fnuz = sys::ZIPC_STORE_F8_E5M2FNUZ,
    F8E8M0 = sys::ZIPC_STORE_F8_E8M0,
    /// 6 bits an element, packed.
    F6E2M3 = sys::ZIPC_STORE_F6_E2M3,
    /// 6 bits an element, packed.
    F6E3M2 = sys::ZIPC_STORE_F6_E3M2,
    /// 4 bits an element, packed.
    F4 = sys::ZIPC_STORE_F4,
}

impl Dtype {
    const ALL: [Dtype; sys::ZIPC_STORE_NDTYPES as usize] = [
        Dtype::Bool,
        Dtype::U8,
        Dtype::I8,
        Dtype::U16,
        Dtype::I16,
        Dtype::U32,
        Dtype::I32,
        Dtype::U64,
        Dtype::I64,
        Dtype::F16,
        Dtype::BF16,
        Dtype::F32,
        Dtype::F64,
        Dtype::C64,
        Dtype::F8E4M3,
        Dtype::F8E5M2,
        Dtype::F8E4M3Fnuz,
        Dtype::F8E5M2Fnuz,
        Dtype::F8E8M0,
        Dtype::F6E2M3,
        Dtype::F6E3M2,
        Dtype::F4,
    ];

    /// The dtype of a C value, if it is one.
    pub fn from_c(v: u32) -> Option<Dtype> {
        Dtype::ALL.get(v as usize).copied()
    }

    /// Bits per element: 4, 6, 8, 16, 32 or 64 (`zipc_store_dtype_bits`).
    pub fn bits(self) -> u32 {
        // SAFETY: a pure function.
        unsafe { sys::zipc_store_dtype_bits(self as u32) }
    }

    /// The safetensors name, e.g. `"F32"` (`zipc_store_dtype_name`).
    pub fn name(self) -> &'static str {
        // SAFETY: a static NUL-terminated string for every dtype.
        unsafe { CStr::from_ptr(sys::zipc_store_dtype_name(self as u32)) }.to_str().unwrap_or("?")
    }

    /// The store dtype of a tensor message's (DLPack) dtype, if it has one:
    /// how an [`Element`] type maps to a store's dtype.
    pub fn from_dlpack(d: DType) -> Option<Dtype> {
        use sys::{ZIPC_DTYPE_BFLOAT, ZIPC_DTYPE_BOOL, ZIPC_DTYPE_COMPLEX, ZIPC_DTYPE_FLOAT, ZIPC_DTYPE_INT, ZIPC_DTYPE_UINT};
        if d.lanes != 1 {
            return None;
        }
        Some(match (d.code, d.bits) {
            (ZIPC_DTYPE_BOOL, 8) => Dtype::Bool,
            (ZIPC_DTYPE_UINT, 8) => Dtype::U8,
            (ZIPC_DTYPE_INT, 8) => Dtype::I8,
            (ZIPC_DTYPE_UINT, 16) => Dtype::U16,
            (ZIPC_DTYPE_INT, 16) => Dtype::I16,
            (ZIPC_DTYPE_UINT, 32) => Dtype::U32,
            (ZIPC_DTYPE_INT, 32) => Dtype::I32,
            (ZIPC_DTYPE_UINT, 64) => Dtype::U64,
            (ZIPC_DTYPE_INT, 64) => Dtype::I64,
            (ZIPC_DTYPE_FLOAT, 16) => Dtype::F16,
            (ZIPC_DTYPE_BFLOAT, 16) => Dtype::BF16,
            (ZIPC_DTYPE_FLOAT, 32) => Dtype::F32,
            (ZIPC_DTYPE_FLOAT, 64) => Dtype::F64,
            (ZIPC_DTYPE_COMPLEX, 64) => Dtype::C64,
            _ => return None,
        })
    }

    /// The store dtype of an element type (`f32` → `F32`).
    pub fn of<T: Element>() -> Option<Dtype> {
        Dtype::from_dlpack(T::DTYPE)
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ------------------------------------------------------------------------
// What to publish, and how
// ------------------------------------------------------------------------

/// A tensor to publish: C-contiguous `data` of exactly elements × bits / 8
/// bytes (the C core checks: [`Error::InvalidArgument`]).
#[derive(Clone, Debug)]
pub struct TensorRef<'a> {
    /// Unique in the store (UTF-8, no NUL).
    pub name: &'a str,
    /// Its dtype.
    pub dtype: Dtype,
    /// Its dimensions (empty: a scalar), at most [`MAX_NDIM`].
    pub shape: Vec<usize>,
    /// Its bytes.
    pub data: &'a [u8],
}

impl<'a> TensorRef<'a> {
    /// Elements of an [`Element`] type with this shape; the dtype follows
    /// from `T` ([`Error::InvalidArgument`] for a type a store has no dtype for).
    pub fn new<T: Element>(name: &'a str, values: &'a [T], shape: &[usize]) -> Result<TensorRef<'a>> {
        let dtype = Dtype::of::<T>().ok_or(Error::InvalidArgument)?;
        Ok(TensorRef { name, dtype, shape: shape.to_vec(), data: crate::pod::slice_bytes(values) })
    }

    /// Raw bytes of any dtype (F16, BF16, the packed ones, ...).
    pub fn from_bytes(name: &'a str, dtype: Dtype, shape: &[usize], data: &'a [u8]) -> TensorRef<'a> {
        TensorRef { name, dtype, shape: shape.to_vec(), data }
    }
}

/// How a store is published or opened. Unset options keep the C library's
/// defaults. A builder:
/// `StoreOptions::new().align(4096).metadata("format", "pt").timeout(Some(Duration::from_secs(2)))`.
#[derive(Clone, Debug, Default)]
pub struct StoreOptions {
    common: Options,
    align: u64,
    flags: u32,
    metadata: Vec<(CString, String)>,
}

impl StoreOptions {
    /// The defaults.
    pub fn new() -> StoreOptions {
        StoreOptions::default()
    }

    /// Publish: each tensor's alignment, a power of two from 64 (the
    /// default) to 2 MiB (4096: page-aligned tensors).
    pub fn align(mut self, bytes: u64) -> StoreOptions {
        self.align = bytes;
        self
    }

    /// Publish: a metadata pair stored with the tensors (publish_safetensors:
    /// after the file's own). A key containing NUL is truncated there.
    pub fn metadata(mut self, key: &str, value: &str) -> StoreOptions {
        let key = key.split('\0').next().unwrap_or("");
        self.metadata.push((CString::new(key).unwrap_or_default(), value.to_owned()));
        self
    }

    /// Open: read-fault every page now (`ZIPC_STORE_PREFAULT`).
    pub fn prefault(self, yes: bool) -> StoreOptions {
        self.flag(sys::ZIPC_STORE_PREFAULT, yes)
    }

    /// Open: verify every checksum before returning (`ZIPC_STORE_VERIFY`;
    /// [`Error::Corrupted`] on a mismatch).
    pub fn verify(self, yes: bool) -> StoreOptions {
        self.flag(sys::ZIPC_STORE_VERIFY, yes)
    }

    /// Publish: 2 MiB pages where the kernel has them
    /// (`ZIPC_STORE_HUGE_PAGES`; never an error: [`Store::page_size`] says
    /// what the version got).
    pub fn huge_pages(self, yes: bool) -> StoreOptions {
        self.flag(sys::ZIPC_STORE_HUGE_PAGES, yes)
    }

    /// How long publish and open wait (handshakes, a concurrent publisher);
    /// `None`: forever. Default [`Options::DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Option<Duration>) -> StoreOptions {
        self.common = self.common.timeout(timeout);
        self
    }

    /// The endpoint options the store uses (timeout, peer uid, label, max_segment).
    pub fn options(mut self, options: Options) -> StoreOptions {
        self.common = options;
        self
    }

    fn flag(mut self, f: u32, yes: bool) -> StoreOptions {
        if yes {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
        self
    }

    /// The C struct, pointing into `self` and `kv` (which must outlive it).
    fn to_c(&self, kv: &mut Vec<sys::zipc_store_kv>) -> sys::zipc_store_options {
        kv.clear();
        kv.extend(self.metadata.iter().map(|(k, v)| sys::zipc_store_kv {
            key: k.as_ptr(),
            value: v.as_ptr().cast::<c_char>(),
            value_len: v.len(),
        }));
        sys::zipc_store_options {
            options: self.common.to_c(),
            align: self.align,
            flags: self.flags,
            reserved: 0,
            metadata: if kv.is_empty() { std::ptr::null() } else { kv.as_ptr() },
            nmeta: kv.len(),
            error: std::ptr::null_mut(),
            error_len: 0,
        }
    }
}

/// Why [`Store::publish_safetensors`] failed: the error, and for a file
/// breaking a rule of the format ([`Error::Corrupted`]) which rule and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishError {
    /// What the C call returned.
    pub error: Error,
    /// The rule the file breaks and where (empty for other errors).
    pub reason: String,
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.error)
        } else {
            write!(f, "{}: {}", self.reason, self.error)
        }
    }
}

impl std::error::Error for PublishError {}

impl From<PublishError> for Error {
    fn from(e: PublishError) -> Error {
        e.error
    }
}

impl From<Error> for PublishError {
    fn from(error: Error) -> PublishError {
        PublishError { error, reason: String::new() }
    }
}

// ------------------------------------------------------------------------
// Store
// ------------------------------------------------------------------------

/// A holder of one version of a named store: the publisher's handle or an
/// opened one, alike (each serves the name while its version is the
/// newest). Closes when dropped.
pub struct Store {
    s: NonNull<sys::zipc_store>,
}

// SAFETY: the C contract (zipc/store.h): a handle is immutable once
// returned, and its queries (count, tensor_at, find, metadata, verify,
// version, latest, base) may run on any number of threads at once; the
// handle belongs to no thread (its door runs on a helper thread of its
// own). The one call that must not race with them, zipc_store_close, is
// made only by `Drop` and `close(self)`, which own the Store, so no query
// (every one borrows it) can be running then. The mapping is read-only
// and sealed: nothing changes the bytes tensors borrow.
unsafe impl Send for Store {}
// SAFETY: as above: every `&self` method is a concurrent-safe query.
unsafe impl Sync for Store {}

impl Store {
    /// Publish `tensors` (and `opts`' metadata) as the newest version of
    /// `name` (a name, no '/'): copied and hashed into one new sealed
    /// segment. Returns the publisher's handle, a holder like any other.
    /// Fails with [`Error::InvalidArgument`] (a bad dtype, shape, size,
    /// duplicate or invalid name, alignment), `SegmentTooLarge`, `Timeout`, ...
    pub fn publish(name: &str, tensors: &[TensorRef<'_>], opts: &StoreOptions) -> Result<Store> {
        let cname = CString::new(name).map_err(|_| Error::InvalidArgument)?;
        let names = tensors
            .iter()
            .map(|t| CString::new(t.name).map_err(|_| Error::InvalidArgument))
            .collect::<Result<Vec<_>>>()?;
        let mut c = Vec::with_capacity(tensors.len());
        for (t, n) in tensors.iter().zip(&names) {
            if t.shape.len() > MAX_NDIM {
                return Err(Error::InvalidArgument);
            }
            let mut shape = [0i64; MAX_NDIM];
            for (d, &s) in shape.iter_mut().zip(&t.shape) {
                *d = i64::try_from(s).map_err(|_| Error::InvalidArgument)?;
            }
            c.push(sys::zipc_store_tensor {
                name: n.as_ptr(),
                dtype: t.dtype as u32,
                ndim: t.shape.len() as u32,
                shape,
                data: t.data.as_ptr().cast(),
                size: t.data.len() as u64,
            });
        }
        let mut kv = Vec::new();
        let o = opts.to_c(&mut kv);
        let mut out = std::ptr::null_mut();
        // SAFETY: every pointer (names, data, options, metadata) is live for the call.
        check(unsafe { sys::zipc_store_publish(&mut out, cname.as_ptr(), c.as_ptr(), c.len(), &o) })?;
        Ok(Store::adopt(out))
    }

    /// The same from a safetensors file, every rule of the format checked
    /// (the file's `__metadata__` kept, then `opts`' metadata). A file
    /// breaking a rule is [`Error::Corrupted`] with the rule and where in
    /// [`PublishError::reason`].
    pub fn publish_safetensors(
        name: &str,
        path: impl AsRef<Path>,
        opts: &StoreOptions,
    ) -> std::result::Result<Store, PublishError> {
        let cname = CString::new(name).map_err(|_| Error::InvalidArgument)?;
        let cpath = crate::endpoint::c_string(path.as_ref())?;
        let mut kv = Vec::new();
        let mut o = opts.to_c(&mut kv);
        let mut why = [0u8; 512];
        o.error = why.as_mut_ptr().cast();
        o.error_len = why.len();
        let mut out = std::ptr::null_mut();
        // SAFETY: every pointer is live for the call; `why` takes at most error_len bytes.
        let rc = unsafe { sys::zipc_store_publish_safetensors(&mut out, cname.as_ptr(), cpath.as_ptr(), &o) };
        if let Err(error) = check(rc) {
            let reason = if error == Error::Corrupted {
                let end = why.iter().position(|&b| b == 0).unwrap_or(why.len());
                String::from_utf8_lossy(&why[..end]).into_owned()
            } else {
                String::new()
            };
            return Err(PublishError { error, reason });
        }
        Ok(Store::adopt(out))
    }

    /// Open the newest version of `name` served by a holder, zero-copy. Its
    /// segment is validated whole first ([`Error::Corrupted`] if hostile).
    /// Fails with [`Error::NotFound`] (nobody serves the name), `Timeout`, ...
    pub fn open(name: &str, opts: &StoreOptions) -> Result<Store> {
        let cname = CString::new(name).map_err(|_| Error::InvalidArgument)?;
        let mut kv = Vec::new();
        let o = opts.to_c(&mut kv);
        let mut out = std::ptr::null_mut();
        // SAFETY: live pointers for the call.
        check(unsafe { sys::zipc_store_open(&mut out, cname.as_ptr(), &o) })?;
        Ok(Store::adopt(out))
    }

    fn adopt(p: *mut sys::zipc_store) -> Store {
        Store { s: NonNull::new(p).expect("zipc_store_* returned 0 and no handle") }
    }

    /// Leave now (what drop does): unmap, stop serving.
    pub fn close(self) -> Result<()> {
        let p = self.s.as_ptr();
        std::mem::forget(self);
        // SAFETY: we owned the handle; nothing borrows it (close takes self).
        check(unsafe { sys::zipc_store_close(p) })
    }

    /// Tensors.
    pub fn len(&self) -> usize {
        // SAFETY: a live handle; a concurrent-safe query.
        usize::try_from(unsafe { sys::zipc_store_count(self.s.as_ptr()) }).unwrap_or(0)
    }

    /// No tensors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tensor `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<Tensor<'_>> {
        let cname = CString::new(name).ok()?;
        let mut info = sys::zipc_store_info::default();
        // SAFETY: a live handle and live pointers.
        let rc = unsafe { sys::zipc_store_find(self.s.as_ptr(), cname.as_ptr(), &mut info) };
        (rc == 0).then(|| Tensor::new(info))
    }

    /// The `i`-th tensor in name order, if `i < len()`.
    pub fn tensor_at(&self, i: usize) -> Option<Tensor<'_>> {
        let mut info = sys::zipc_store_info::default();
        // SAFETY: a live handle; the C call checks i.
        let rc = unsafe { sys::zipc_store_tensor_at(self.s.as_ptr(), i, &mut info) };
        (rc == 0).then(|| Tensor::new(info))
    }

    /// The tensors, in name order.
    pub fn iter(&self) -> Iter<'_> {
        Iter { store: self, next: 0, end: self.len() }
    }

    /// Recompute the XXH3-64 of every tensor (in parallel for a large
    /// store) and compare with the table: [`Error::Corrupted`] on a mismatch.
    pub fn verify(&self) -> Result<()> {
        // SAFETY: a live handle.
        check(unsafe { sys::zipc_store_verify(self.s.as_ptr(), sys::ZIPC_STORE_ALL) })
    }

    /// The same for the tensor `name` ([`Error::NotFound`] if absent).
    pub fn verify_tensor(&self, name: &str) -> Result<()> {
        let i = self.get(name).ok_or(Error::NotFound)?.index();
        // SAFETY: a live handle.
        check(unsafe { sys::zipc_store_verify(self.s.as_ptr(), i) })
    }

    /// The value of metadata `key`, if there is one.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        let ckey = CString::new(key).ok()?;
        let mut kv = sys::zipc_store_kv::default();
        // SAFETY: a live handle and live pointers.
        let rc = unsafe { sys::zipc_store_metadata(self.s.as_ptr(), ckey.as_ptr(), &mut kv) };
        if rc != 0 {
            return None;
        }
        // SAFETY: kv.value points at value_len bytes in the mapping, valid while self lives.
        std::str::from_utf8(unsafe { mapped(kv.value, kv.value_len) }).ok()
    }

    /// Every metadata pair `(key, value)`, in key order.
    pub fn metadata_iter(&self) -> MetadataIter<'_> {
        // SAFETY: a live handle.
        let n = usize::try_from(unsafe { sys::zipc_store_metadata_count(self.s.as_ptr()) }).unwrap_or(0);
        MetadataIter { store: self, next: 0, end: n }
    }

    /// This handle's version (1 for a name's first publish).
    pub fn version(&self) -> u64 {
        // SAFETY: a live handle.
        unsafe { sys::zipc_store_version(self.s.as_ptr()) }
    }

    /// The newest version published under this handle's name (greater than
    /// [`version`](Self::version): open again to get it).
    pub fn latest(&self) -> u64 {
        // SAFETY: a live handle.
        unsafe { sys::zipc_store_latest(self.s.as_ptr()) }
    }

    /// The page size of the version's memory: 2 MiB for hugetlb pages.
    pub fn page_size(&self) -> usize {
        // SAFETY: a live handle.
        unsafe { sys::zipc_store_page_size(self.s.as_ptr()) }
    }

    /// The whole mapped segment, read-only (e.g. to register it with a GPU).
    pub fn mapping(&self) -> &[u8] {
        let mut n = 0usize;
        // SAFETY: a live handle.
        let p = unsafe { sys::zipc_store_base(self.s.as_ptr(), &mut n) };
        // SAFETY: the mapping is n bytes, read-only, valid while self lives.
        unsafe { mapped(p.cast(), n) }
    }

    /// The C handle, for calls the safe API does not cover (still owned by `self`).
    pub fn as_ptr(&self) -> *mut sys::zipc_store {
        self.s.as_ptr()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // SAFETY: we own the handle; nothing borrows it any more.
        unsafe { sys::zipc_store_close(self.s.as_ptr()) };
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("tensors", &self.len()).field("version", &self.version()).finish()
    }
}

impl<'a> IntoIterator for &'a Store {
    type Item = Tensor<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// `len` bytes at `p` (may be NULL when `len` is 0) as a slice.
///
/// # Safety
/// `p .. p + len` is readable and unchanged for `'a` (a store's mapping,
/// with `'a` bounded by the store's borrow).
unsafe fn mapped<'a>(p: *const c_char, len: usize) -> &'a [u8] {
    if len == 0 || p.is_null() {
        return &[];
    }
    // SAFETY: the caller's promise.
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }
}

/// The tensors of a [`Store`], in name order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    store: &'a Store,
    next: usize,
    end: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Tensor<'a>;
    fn next(&mut self) -> Option<Tensor<'a>> {
        if self.next >= self.end {
            return None;
        }
        self.next += 1;
        self.store.tensor_at(self.next - 1)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// The metadata pairs of a [`Store`], in key order.
#[derive(Clone, Debug)]
pub struct MetadataIter<'a> {
    store: &'a Store,
    next: usize,
    end: usize,
}

impl<'a> Iterator for MetadataIter<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        while self.next < self.end {
            let mut kv = sys::zipc_store_kv::default();
            self.next += 1;
            // SAFETY: a live handle; the C call checks the index.
            if unsafe { sys::zipc_store_metadata_at(self.store.s.as_ptr(), self.next - 1, &mut kv) } != 0 {
                continue;
            }
            // SAFETY: both point into the mapping, valid for 'a; the key is NUL-terminated.
            let (k, v) = unsafe { (CStr::from_ptr(kv.key).to_bytes(), mapped(kv.value, kv.value_len)) };
            // The C core validated both as UTF-8 on open; a pair that is not is skipped.
            if let (Ok(k), Ok(v)) = (std::str::from_utf8(k), std::str::from_utf8(v)) {
                return Some((k, v));
            }
        }
        None
    }
}

// ------------------------------------------------------------------------
// Tensor
// ------------------------------------------------------------------------

/// One tensor of a [`Store`], read in place: its bytes are in the store's
/// read-only mapping, aligned as published (>= 64 bytes), C-contiguous.
/// Borrows the store.
#[derive(Clone, Copy)]
pub struct Tensor<'a> {
    info: sys::zipc_store_info,
    _store: PhantomData<&'a Store>,
}

impl<'a> Tensor<'a> {
    fn new(info: sys::zipc_store_info) -> Tensor<'a> {
        Tensor { info, _store: PhantomData }
    }

    /// Its name (unique in the store).
    pub fn name(&self) -> &'a str {
        // SAFETY: name_len bytes in the mapping, valid for 'a.
        let b = unsafe { mapped(self.info.name, self.info.name_len) };
        std::str::from_utf8(b).unwrap_or("") // validated UTF-8 by the C core on open
    }

    /// Its dtype.
    pub fn dtype(&self) -> Dtype {
        // the C core validated it on open
        Dtype::from_c(self.info.dtype).unwrap_or(Dtype::U8)
    }

    /// Its dimensions (empty: a scalar).
    pub fn shape(&self) -> &[i64] {
        &self.info.shape[..(self.info.ndim as usize).min(MAX_NDIM)]
    }

    /// Its strides, in elements (C order).
    pub fn strides(&self) -> &[i64] {
        &self.info.strides[..(self.info.ndim as usize).min(MAX_NDIM)]
    }

    /// Elements: the product of the shape (1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape().iter().map(|&d| d as usize).product()
    }

    /// No elements (a dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its bytes, in place.
    pub fn bytes(&self) -> &'a [u8] {
        // SAFETY: size bytes in the read-only mapping (bounds validated on
        // open, sealed), valid for 'a.
        unsafe { mapped(self.info.data.cast(), self.info.size as usize) }
    }

    /// Its elements as `T`, in place: [`Error::BadPayload`] if `T` is not
    /// its dtype (or the data is not aligned for `T`).
    pub fn as_slice<T: Element>(&self) -> Result<&'a [T]> {
        if Dtype::of::<T>() != Some(self.dtype()) || self.info.bits as usize != std::mem::size_of::<T>() * 8 {
            return Err(Error::BadPayload("store tensor dtype differs from the requested element type"));
        }
        crate::pod::cast_slice(self.bytes())
    }

    /// The XXH3-64 of its bytes, recorded at publish.
    pub fn xxh3(&self) -> u64 {
        self.info.xxh3
    }

    /// Its index in name order ([`Store::tensor_at`]).
    pub fn index(&self) -> usize {
        self.info.index as usize
    }

    /// What the C call returned.
    pub fn info(&self) -> &sys::zipc_store_info {
        &self.info
    }
}

impl fmt::Debug for Tensor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("name", &self.name())
            .field("dtype", &self.dtype())
            .field("shape", &self.shape())
            .field("bytes", &self.info.size)
            .finish()
    }
}

// Send/Sync of Tensor: it holds pointers into the sealed read-only mapping
// of a Store (itself Send + Sync) and borrows it.
// SAFETY: only reads of immutable, sealed memory, while the Store is borrowed.
unsafe impl Send for Tensor<'_> {}
// SAFETY: as above.
unsafe impl Sync for Tensor<'_> {}

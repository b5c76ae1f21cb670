//! Plain-old-data: `#[repr(C)]` `Copy` types sent and received as raw bytes.
use crate::error::{Error, Result};
use std::mem::{align_of, size_of};
use zipc_sys as sys;

/// A type whose value is just its bytes: it can be sent as a message payload
/// and viewed in place in a received one.
///
/// # Safety
///
/// Implement it only for types that
/// - are `#[repr(C)]` or `#[repr(transparent)]` (or primitives / arrays of them),
/// - have **no padding bytes** (padding would send uninitialized memory),
/// - accept **every bit pattern** as a valid value (no `bool`, `char`, enums,
///   references, pointers, `NonZero*`),
/// - have no interior mutability.
///
/// ```
/// #[repr(C)]
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// struct Tick { seq: u64, ts_ns: i64, price: f64, qty: f32, side: u32 }
/// // SAFETY: repr(C), 32 bytes without padding, every bit pattern valid.
/// unsafe impl zipc::Pod for Tick {}
/// let t = Tick { seq: 1, ts_ns: 2, price: 3.0, qty: 4.0, side: 5 };
/// assert_eq!(zipc::pod::bytes_of(&t).len(), 32);
/// assert_eq!(zipc::pod::read::<Tick>(zipc::pod::bytes_of(&t)).unwrap(), t);
/// ```
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod {
    ($($t:ty),*) => { $(unsafe impl Pod for $t {})* };
}
pod!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}
// SAFETY: the tensor header is repr(C), 176 bytes without padding, all integers.
unsafe impl Pod for zipc_sys::zipc_tensor_header {}
// SAFETY: repr(C) integers without padding (8 and 24 bytes).
unsafe impl Pod for zipc_sys::zipc_list_header {}
// SAFETY: as above.
unsafe impl Pod for zipc_sys::zipc_list_entry {}

/// The bytes of a value.
pub fn bytes_of<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: T: Pod has no padding, so all size_of::<T>() bytes are initialized.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}

/// The bytes of a slice of values.
pub fn slice_bytes<T: Pod>(v: &[T]) -> &[u8] {
    // SAFETY: as bytes_of, for each element; the length cannot overflow (it is an allocation).
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// The mutable bytes of a slice of values.
pub fn slice_bytes_mut<T: Pod>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: as slice_bytes; any bytes written form a valid T (Pod).
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// Copy a payload into (or out of) the ring: `zipc_copy`, memcpy around
/// the C library's slow offsets for a ring's payloads. Equal lengths.
pub fn copy_bytes(dst: &mut [u8], src: &[u8]) {
    assert_eq!(dst.len(), src.len(), "copy_bytes: lengths differ");
    // SAFETY: two valid slices of src.len() bytes; &mut and & cannot overlap.
    unsafe { sys::zipc_copy(dst.as_mut_ptr().cast(), src.as_ptr().cast(), src.len()) }
}

/// View `bytes` as one `T` in place: the length must be `size_of::<T>()`
/// and the address aligned for `T` (message payloads are 16-byte aligned).
pub fn from_bytes<T: Pod>(bytes: &[u8]) -> Result<&T> {
    if bytes.len() != size_of::<T>() {
        return Err(Error::BadPayload("payload size differs from the Pod type's size"));
    }
    if bytes.as_ptr() as usize % align_of::<T>() != 0 {
        return Err(Error::BadPayload("payload is not aligned for the Pod type"));
    }
    // SAFETY: size and alignment checked; every bit pattern is a valid T.
    Ok(unsafe { &*bytes.as_ptr().cast::<T>() })
}

/// View `bytes` as a slice of `T` in place: the length must be a multiple of
/// `size_of::<T>()` (non-zero) and the address aligned for `T`.
pub fn cast_slice<T: Pod>(bytes: &[u8]) -> Result<&[T]> {
    let size = size_of::<T>();
    if size == 0 || bytes.len() % size != 0 {
        return Err(Error::BadPayload("payload size is not a multiple of the Pod type's size"));
    }
    if bytes.as_ptr() as usize % align_of::<T>() != 0 {
        return Err(Error::BadPayload("payload is not aligned for the Pod type"));
    }
    // SAFETY: size and alignment checked; every bit pattern is a valid T.
    Ok(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

/// Mutable version of [`cast_slice`].
pub fn cast_slice_mut<T: Pod>(bytes: &mut [u8]) -> Result<&mut [T]> {
    let size = size_of::<T>();
    if size == 0 || bytes.len() % size != 0 {
        return Err(Error::BadPayload("buffer size is not a multiple of the Pod type's size"));
    }
    if bytes.as_ptr() as usize % align_of::<T>() != 0 {
        return Err(Error::BadPayload("buffer is not aligned for the Pod type"));
    }
    // SAFETY: size and alignment checked; every bit pattern is a valid T.
    Ok(unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), bytes.len() / size) })
}

/// Copy a `T` out of `bytes` (any alignment); the length must be `size_of::<T>()`.
pub fn read<T: Pod>(bytes: &[u8]) -> Result<T> {
    if bytes.len() != size_of::<T>() {
        return Err(Error::BadPayload("payload size differs from the Pod type's size"));
    }
    // SAFETY: size checked; read_unaligned has no alignment requirement; any bits are a valid T.
    Ok(unsafe { bytes.as_ptr().cast::<T>().read_unaligned() })
}

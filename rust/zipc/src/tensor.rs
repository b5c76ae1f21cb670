//! Tensor messages (docs/ABI.md §9.2): `struct zipc_tensor_header`, then the
//! data. [`encode`] / [`Producer::send_tensor`](crate::Producer::send_tensor)
//! write them; [`TensorView`] reads one in place after validating a local copy
//! of the header with the C `zipc_tensor_validate`.
use crate::error::{Error, Result};
use crate::pod::{self, Pod};
use std::fmt;
use std::mem::size_of;

pub use zipc_sys::zipc_tensor_header as TensorHeader;
pub use zipc_sys::{ZIPC_TENSOR_DATA_OFFSET as DATA_OFFSET, ZIPC_TENSOR_MAX_NDIM as MAX_NDIM};

/// A DLPack data type: code, bits per lane, lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DType {
    /// DLPack `DLDataTypeCode` (`ZIPC_DTYPE_*`).
    pub code: u8,
    /// Bits per lane, a multiple of 8.
    pub bits: u8,
    /// Lanes, >= 1.
    pub lanes: u16,
}

impl DType {
    /// `int8`.
    pub const I8: DType = DType::new(zipc_sys::ZIPC_DTYPE_INT, 8);
    /// `int16`.
    pub const I16: DType = DType::new(zipc_sys::ZIPC_DTYPE_INT, 16);
    /// `int32`.
    pub const I32: DType = DType::new(zipc_sys::ZIPC_DTYPE_INT, 32);
    /// `int64`.
    pub const I64: DType = DType::new(zipc_sys::ZIPC_DTYPE_INT, 64);
    /// `uint8`.
    pub const U8: DType = DType::new(zipc_sys::ZIPC_DTYPE_UINT, 8);
    /// `uint16`.
    pub const U16: DType = DType::new(zipc_sys::ZIPC_DTYPE_UINT, 16);
    /// `uint32`.
    pub const U32: DType = DType::new(zipc_sys::ZIPC_DTYPE_UINT, 32);
    /// `uint64`.
    pub const U64: DType = DType::new(zipc_sys::ZIPC_DTYPE_UINT, 64);
    /// `float32`.
    pub const F32: DType = DType::new(zipc_sys::ZIPC_DTYPE_FLOAT, 32);
    /// `float64`.
    pub const F64: DType = DType::new(zipc_sys::ZIPC_DTYPE_FLOAT, 64);
    /// `bool` (one byte, 0 or 1; read it as `u8`).
    pub const BOOL: DType = DType::new(zipc_sys::ZIPC_DTYPE_BOOL, 8);

    const fn new(code: u8, bits: u8) -> DType {
        DType { code, bits, lanes: 1 }
    }

    /// Bytes per element, 0 if malformed.
    pub fn itemsize(&self) -> usize {
        // SAFETY: a pure function.
        unsafe { zipc_sys::zipc_sys_tensor_itemsize(self.bits, self.lanes) as usize }
    }

    /// The NumPy name (`"float32"`, ...) for single-lane types, if any.
    pub fn name(&self) -> Option<&'static str> {
        use zipc_sys::*;
        if self.lanes != 1 {
            return None;
        }
        Some(match (self.code, self.bits) {
            (ZIPC_DTYPE_INT, 8) => "int8",
            (ZIPC_DTYPE_INT, 16) => "int16",
            (ZIPC_DTYPE_INT, 32) => "int32",
            (ZIPC_DTYPE_INT, 64) => "int64",
            (ZIPC_DTYPE_UINT, 8) => "uint8",
            (ZIPC_DTYPE_UINT, 16) => "uint16",
            (ZIPC_DTYPE_UINT, 32) => "uint32",
            (ZIPC_DTYPE_UINT, 64) => "uint64",
            (ZIPC_DTYPE_FLOAT, 16) => "float16",
            (ZIPC_DTYPE_FLOAT, 32) => "float32",
            (ZIPC_DTYPE_FLOAT, 64) => "float64",
            (ZIPC_DTYPE_BFLOAT, 16) => "bfloat16",
            (ZIPC_DTYPE_COMPLEX, 64) => "complex64",
            (ZIPC_DTYPE_COMPLEX, 128) => "complex128",
            (ZIPC_DTYPE_BOOL, 8) => "bool",
            _ => return None,
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "dtype(code={}, bits={}, lanes={})", self.code, self.bits, self.lanes),
        }
    }
}

/// A Rust element type with its DLPack dtype.
///
/// # Safety
///
/// `DTYPE` must describe `Self` exactly (size `bits / 8 * lanes`, same encoding).
pub unsafe trait Element: Pod {
    /// The dtype written in / required from the tensor header.
    const DTYPE: DType;
}

macro_rules! element {
    ($($t:ty => $d:ident),*) => { $(unsafe impl Element for $t { const DTYPE: DType = DType::$d; })* };
}
element!(i8 => I8, i16 => I16, i32 => I32, i64 => I64, u8 => U8, u16 => U16, u32 => U32,
         u64 => U64, f32 => F32, f64 => F64);

/// The header of a C-contiguous tensor of `dtype` and `shape` whose data
/// follows at [`DATA_OFFSET`] (the C `zipc_tensor_init`). The payload is
/// `data_offset + nbytes` bytes.
pub fn header(dtype: DType, shape: &[usize]) -> Result<TensorHeader> {
    if shape.len() > MAX_NDIM {
        return Err(Error::InvalidArgument);
    }
    let mut dims = [0i64; MAX_NDIM];
    for (d, &s) in dims.iter_mut().zip(shape) {
        *d = i64::try_from(s).map_err(|_| Error::InvalidArgument)?;
    }
    let mut h = TensorHeader::default();
    // SAFETY: h and dims are valid for the call; ndim <= MAX_NDIM entries are read.
    let rc = unsafe {
        zipc_sys::zipc_sys_tensor_init(&mut h, dtype.code, dtype.bits, dtype.lanes, shape.len() as u32, dims.as_ptr())
    };
    crate::error::check(rc).map(|()| h)
}

/// Payload bytes of a tensor message holding `data` with `shape`.
pub fn payload_size<T: Element>(shape: &[usize]) -> Result<usize> {
    let h = header(T::DTYPE, shape)?;
    usize::try_from(h.data_offset + h.nbytes).map_err(|_| Error::MessageTooLarge)
}

/// Write a tensor payload (header, zero padding, data) into `out`, which
/// must be exactly [`payload_size`] bytes. `data.len()` must equal the
/// product of `shape`.
pub fn encode_into<T: Element>(out: &mut [u8], data: &[T], shape: &[usize]) -> Result<()> {
    let h = header(T::DTYPE, shape)?;
    if h.nbytes as usize != std::mem::size_of_val(data) {
        return Err(Error::InvalidArgument);
    }
    let off = h.data_offset as usize;
    if out.len() != off + h.nbytes as usize {
        return Err(Error::InvalidArgument);
    }
    let hb = pod::bytes_of(&h);
    out[..hb.len()].copy_from_slice(hb);
    out[hb.len()..off].fill(0);
    pod::copy_bytes(&mut out[off..], pod::slice_bytes(data));
    Ok(())
}

/// A tensor payload as a new `Vec` (the bytes `send_tensor` puts in the ring).
pub fn encode<T: Element>(data: &[T], shape: &[usize]) -> Result<Vec<u8>> {
    let mut v = vec![0u8; payload_size::<T>(shape)?];
    encode_into(&mut v, data, shape)?;
    Ok(v)
}

/// A received tensor: a validated local copy of the header, and the data in
/// place (in the ring, for a received message).
#[derive(Clone, Copy)]
pub struct TensorView<'a> {
    header: TensorHeader,
    data: &'a [u8],
}

impl<'a> TensorView<'a> {
    /// Read a tensor payload: copies the header out, validates the copy
    /// (`zipc_tensor_validate`: magic, version, dtype, ndim, every element
    /// within the data, the data within the payload). Any failure is
    /// [`Error::BadPayload`].
    pub fn parse(payload: &'a [u8]) -> Result<TensorView<'a>> {
        if payload.len() < size_of::<TensorHeader>() {
            return Err(Error::BadPayload("tensor payload shorter than its header"));
        }
        let header: TensorHeader = pod::read(&payload[..size_of::<TensorHeader>()])?;
        // SAFETY: header is a local copy; a pure function.
        if unsafe { zipc_sys::zipc_sys_tensor_validate(&header, payload.len() as u64) } != 0 {
            return Err(Error::BadPayload("tensor header fails validation"));
        }
        let off = header.data_offset as usize; // validated: <= payload.len()
        let data = &payload[off..off + header.nbytes as usize];
        Ok(TensorView { header, data })
    }

    /// The validated header (a local copy).
    pub fn header(&self) -> &TensorHeader {
        &self.header
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        DType { code: self.header.dtype_code, bits: self.header.dtype_bits, lanes: self.header.dtype_lanes }
    }

    /// Number of dimensions (0: a scalar).
    pub fn ndim(&self) -> usize {
        self.header.ndim as usize
    }

    /// The shape (each >= 0).
    pub fn shape(&self) -> &[i64] {
        &self.header.shape[..self.ndim()]
    }

    /// The strides, in elements (each >= 0).
    pub fn strides(&self) -> &[i64] {
        &self.header.strides[..self.ndim()]
    }

    /// Number of elements (product of the shape; 1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape().iter().map(|&d| d as usize).product()
    }

    /// True if some dimension is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the strides are the C-order (row-major) ones.
    pub fn is_contiguous(&self) -> bool {
        let mut expect = 1i64;
        for (&d, &s) in self.shape().iter().zip(self.strides()).rev() {
            if d != 1 && s != expect {
                return false;
            }
            expect = expect.saturating_mul(d);
        }
        true
    }

    /// The data bytes (`nbytes` from `data_offset`), in place.
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The elements of a C-contiguous tensor in place, in row-major order:
    /// exactly [`len`](Self::len) elements. Errors if `T` is not the dtype, the
    /// data is misaligned for `T`, or the strides are not C-contiguous (use
    /// [`strided_data`](Self::strided_data) then).
    pub fn data<T: Element>(&self) -> Result<&'a [T]> {
        if !self.is_contiguous() {
            return Err(Error::BadPayload("tensor is not C-contiguous"));
        }
        let all = self.strided_data::<T>()?;
        all.get(..self.len()).ok_or(Error::BadPayload("tensor data shorter than its shape"))
    }

    /// All `nbytes / size_of::<T>()` elements of the data region in place,
    /// to index with [`strides`](Self::strides). Every element the
    /// shape and strides address lies inside it (validated).
    pub fn strided_data<T: Element>(&self) -> Result<&'a [T]> {
        if T::DTYPE != self.dtype() {
            return Err(Error::BadPayload("tensor dtype differs from the requested element type"));
        }
        let whole = self.data.len() - self.data.len() % size_of::<T>();
        if whole == 0 {
            return Ok(&[]);
        }
        pod::cast_slice(&self.data[..whole])
    }
}

impl fmt::Debug for TensorView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TensorView")
            .field("dtype", &self.dtype())
            .field("shape", &self.shape())
            .field("strides", &self.strides())
            .field("nbytes", &self.data.len())
            .finish()
    }
}

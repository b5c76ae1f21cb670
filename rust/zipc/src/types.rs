//! Built-in type ids and the list format (docs/ABI.md §9.1, §9.3).
use crate::error::{Error, Result};
use crate::pod;
use zipc_sys::{zipc_list_entry, zipc_list_header};

/// First id of the range reserved for zipc (`0xFFFF0000`).
pub const TYPE_RESERVED_MIN: u32 = zipc_sys::ZIPC_TYPE_RESERVED_MIN;
/// Raw bytes.
pub const TYPE_BYTES: u32 = zipc_sys::ZIPC_TYPE_BYTES;
/// UTF-8 text, no terminator.
pub const TYPE_STR: u32 = zipc_sys::ZIPC_TYPE_STR;
/// One UTF-8 JSON value.
pub const TYPE_JSON: u32 = zipc_sys::ZIPC_TYPE_JSON;
/// A tensor: [`tensor::TensorHeader`](crate::tensor::TensorHeader), then the data.
pub const TYPE_TENSOR: u32 = zipc_sys::ZIPC_TYPE_TENSOR;
/// A list of typed payloads ([`ListView`]).
pub const TYPE_LIST: u32 = zipc_sys::ZIPC_TYPE_LIST;
/// List element offsets are multiples of this.
pub const LIST_ALIGN: usize = zipc_sys::ZIPC_LIST_ALIGN;

/// True for ids in the range reserved for zipc.
pub fn is_reserved(type_id: u32) -> bool {
    type_id >= TYPE_RESERVED_MIN
}

/// A decoded `ZIPC_TYPE_LIST` payload: `count` elements, each a complete
/// typed payload. Bounds are checked when parsing.
#[derive(Clone, Copy, Debug)]
pub struct ListView<'a> {
    payload: &'a [u8],
    count: usize,
}

const HDR: usize = std::mem::size_of::<zipc_list_header>();
const ENTRY: usize = std::mem::size_of::<zipc_list_entry>();

impl<'a> ListView<'a> {
    /// Check the header and every entry (`8 + 24 * count <= size`,
    /// `offset + size <= size`, offsets multiples of 64).
    pub fn parse(payload: &'a [u8]) -> Result<ListView<'a>> {
        let bad = Error::BadPayload("malformed list");
        if payload.len() < HDR {
            return Err(bad);
        }
        let h: zipc_list_header = pod::read(&payload[..HDR])?;
        let count = h.count as usize;
        let table = count.checked_mul(ENTRY).and_then(|t| t.checked_add(HDR)).ok_or(bad)?;
        if table > payload.len() {
            return Err(bad);
        }
        let l = ListView { payload, count };
        for i in 0..count {
            let e = l.entry(i);
            let end = e.offset.checked_add(e.size).ok_or(bad)?;
            if end > payload.len() as u64 || e.offset % LIST_ALIGN as u64 != 0 {
                return Err(bad);
            }
        }
        Ok(l)
    }

    fn entry(&self, i: usize) -> zipc_list_entry {
        let at = HDR + i * ENTRY;
        pod::read(&self.payload[at..at + ENTRY]).expect("entry size")
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True if the list has no element.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Element `i`: its type id and payload.
    pub fn get(&self, i: usize) -> Option<(u32, &'a [u8])> {
        if i >= self.count {
            return None;
        }
        // Re-checked: the payload may be shared memory the peer can still write.
        let e = self.entry(i);
        let end = e.offset.checked_add(e.size)?;
        let data = self.payload.get(usize::try_from(e.offset).ok()?..usize::try_from(end).ok()?)?;
        Some((e.type_, data))
    }

    /// The elements, in order (an element whose entry changed since
    /// [`parse`](Self::parse) ends the iteration).
    pub fn iter(&self) -> impl Iterator<Item = (u32, &'a [u8])> + '_ {
        (0..self.count).map_while(move |i| self.get(i))
    }
}

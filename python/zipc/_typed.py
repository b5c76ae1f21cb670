"""Typed messages: send_object / recv_object and the type registry.

Wire format (docs/ABI.md, "Typed messages"): the message type id says how to
read the payload. zipc owns 0xFFFF0000..0xFFFFFFFF:

    TYPE_BYTES   raw bytes                 TYPE_STR    UTF-8 text
    TYPE_JSON    one UTF-8 JSON value      TYPE_TENSOR zipc/tensor.h header + data
    TYPE_LIST    header, entries, elements (each a typed payload, 64-aligned)

Everything else is the application's; register_type() maps an id to a class
with an encoder and a decoder. An id nobody registered arrives as
RawMessage(type_id, data): a message is never lost to a decoding gap.
"""
from __future__ import annotations

import json
import struct
import sys
from typing import Any, Callable, NamedTuple

from . import _arrays
from ._zipc import TYPE_BYTES, TYPE_JSON, TYPE_LIST, TYPE_RESERVED_MIN, TYPE_STR, TYPE_TENSOR, CorruptedError
from ._zipc import LIST_ALIGN, tensor_header

_LIST_HEADER = struct.Struct("<II")  # count, reserved
_LIST_ENTRY = struct.Struct("<IIQQ")  # type, reserved, offset, size
_MAX_DEPTH = 32


class RawMessage(NamedTuple):
    """A message whose type id has no decoder: the id and the payload bytes.
    send_object(RawMessage(t, data)) sends data with type id t as is."""

    type_id: int
    data: bytes


class _Codec(NamedTuple):
    cls: type
    encode: Callable[[Any], Any]
    decode: Callable[[bytes], Any]


_by_id: dict[int, _Codec] = {}
_by_class: dict[type, int] = {}


def register_type(type_id: int, cls: type, encode: Callable[[Any], Any], decode: Callable[[bytes], Any]) -> None:
    """Send instances of `cls` as messages of `type_id`: encode(obj) returns a
    bytes-like payload, decode(bytes) rebuilds the object. Type ids
    0xFFFF0000 and above are reserved for zipc; re-registering an id
    replaces it."""
    if not isinstance(type_id, int) or not 0 <= type_id < TYPE_RESERVED_MIN:
        raise ValueError(f"type_id must be an int in 0..{TYPE_RESERVED_MIN - 1:#x} (the rest is zipc's)")
    if not isinstance(cls, type):
        raise TypeError("cls must be a class")
    if not callable(encode) or not callable(decode):
        raise TypeError("encode and decode must be callable")
    unregister_type(type_id)
    _by_id[type_id] = _Codec(cls, encode, decode)
    _by_class[cls] = type_id


def unregister_type(type_id: int) -> None:
    """Forget a registered type id (no error if unknown)."""
    codec = _by_id.pop(type_id, None)
    if codec is not None and _by_class.get(codec.cls) == type_id:
        del _by_class[codec.cls]


# ---- encoding ---------------------------------------------------------------

def _registered_id(obj) -> int | None:
    tid = _by_class.get(type(obj))
    if tid is None:
        tid = next((t for c, t in _by_class.items() if isinstance(obj, c)), None)
    return tid


def _is_ndarray(obj) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(obj, (np.ndarray, np.generic))  # a scalar goes as 0-d


def _pil_array(obj):
    """A PIL image as the NumPy array np.asarray makes (H x W [x bands]), else None.
    Images travel as tensors: the receiver gets the array (PIL.Image.fromarray
    rebuilds L, RGB, RGBA, I;16, F images; a palette is not carried)."""
    image = sys.modules.get("PIL.Image")  # never imported here: only if the sender has it
    if image is None or not isinstance(obj, image.Image):
        return None
    return _arrays.numpy().asarray(obj)


def _json_only(obj) -> bool:
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return _registered_id(obj) is None
    if isinstance(obj, (list, tuple)):
        return all(_json_only(x) for x in obj)
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _json_only(v) for k, v in obj.items())
    return False


def tensor_payload(arr) -> bytes:
    """Header + C-contiguous data of an ndarray (what send_tensor writes)."""
    np = _arrays.numpy()
    arr = np.asarray(arr)  # tobytes() writes C order whatever the strides
    return tensor_header(*_arrays.dlpack_dtype(arr.dtype), arr.shape) + arr.tobytes()


def encode(obj) -> tuple[int, bytes]:
    """(type_id, payload) for one object; TypeError if it has no encoding."""
    if isinstance(obj, RawMessage):
        return obj.type_id, bytes(obj.data)
    tid = _registered_id(obj)
    if tid is not None:
        return tid, bytes(_by_id[tid].encode(obj))
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return TYPE_BYTES, bytes(obj)
    if isinstance(obj, str):
        return TYPE_STR, obj.encode()
    if _is_ndarray(obj):
        return TYPE_TENSOR, tensor_payload(obj)
    image = _pil_array(obj)
    if image is not None:
        return TYPE_TENSOR, tensor_payload(image)
    if isinstance(obj, (list, tuple)) and not _json_only(obj):
        return TYPE_LIST, _encode_list(obj)
    try:
        return TYPE_JSON, json.dumps(obj, separators=(",", ":"), allow_nan=True).encode()
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot send {type(obj).__name__} as a typed message: {e}") from None


def encode_parts(obj) -> tuple[int, tuple, int]:
    """(type_id, parts, size): obj's typed payload as buffers to copy one
    after the other (rpc requests and replies): an array as its tensor
    header and its own memory (one copy on the way), bytes-likes as they
    are, the rest through encode()."""
    if _registered_id(obj) is None:
        arr = obj if _is_ndarray(obj) else _pil_array(obj)
        if arr is not None:
            np = _arrays.numpy()
            arr = np.asarray(arr)
            if not arr.flags.c_contiguous:
                arr = np.ascontiguousarray(arr)
            header = tensor_header(*_arrays.dlpack_dtype(arr.dtype), arr.shape)
            return TYPE_TENSOR, (header, arr), len(header) + arr.nbytes
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return TYPE_BYTES, (obj,), memoryview(obj).nbytes
    type_id, payload = encode(obj)
    return type_id, (payload,), len(payload)


def _align(n: int) -> int:
    return (n + LIST_ALIGN - 1) // LIST_ALIGN * LIST_ALIGN


def _encode_list(items) -> bytes:
    parts = [encode(x) for x in items]
    out = bytearray(_LIST_HEADER.pack(len(parts), 0))
    offset = _align(_LIST_HEADER.size + _LIST_ENTRY.size * len(parts))
    for tid, data in parts:
        out += _LIST_ENTRY.pack(tid, 0, offset, len(data))
        offset = _align(offset + len(data))
    for _, data in parts:
        out += bytes(_align(len(out)) - len(out)) + data
    return bytes(out)


# ---- decoding -----------------------------------------------------------------

def _bad(type_id: int, buf, why: str) -> CorruptedError:
    err = CorruptedError(74, f"malformed message of type {type_id:#x}: {why}")
    err.raw = RawMessage(type_id, bytes(buf))
    return err


def decode(type_id: int, buf, depth: int = 0, *, own: bool = False):
    """The object a payload (any buffer) carries. Malformed built-in payloads
    raise CorruptedError with the message in .raw. own=True: buf is this
    call's alone (a stream frame's fresh buffer), so an array is made over it
    rather than copied out of it."""
    codec = _by_id.get(type_id)
    if codec is not None:
        return codec.decode(bytes(buf))
    try:
        if type_id == TYPE_BYTES:
            return bytes(buf)
        if type_id == TYPE_STR:
            return str(buf, "utf-8")
        if type_id == TYPE_JSON:
            return json.loads(bytes(buf))
        if type_id == TYPE_TENSOR:
            return _arrays.array_in_place(buf) if own else _arrays.array_copy(buf)
        if type_id == TYPE_LIST:
            return _decode_list(memoryview(buf), depth)
    except CorruptedError as e:
        if not hasattr(e, "raw"):
            e.raw = RawMessage(type_id, bytes(buf))
        raise
    except (ValueError, struct.error) as e:  # UnicodeDecodeError, JSONDecodeError are ValueErrors
        raise _bad(type_id, buf, str(e)) from None
    return RawMessage(type_id, bytes(buf))


def decode_buffer(type_id: int, buf, copy: bool = True):
    """decode(), but with copy=False an array comes as a read-only ndarray over
    buf and bytes as buf itself (a memoryview): both hold buf's exporter."""
    if not copy:
        if type_id == TYPE_TENSOR:
            return _arrays.array_in_place(buf)
        if type_id == TYPE_BYTES:
            return buf
    return decode(type_id, buf)


def view_object(v, copy: bool):
    """The object a View carries (Queue.get, rpc replies), the view's claim
    given back; with copy=False an array or memoryview returned holds the
    message instead. Bytes and arrays go straight to one copy; the rest
    through decode."""
    kind = v.type_id
    if kind == TYPE_TENSOR and not copy:
        try:
            # NumPy keeps the View itself as the array's base (not an export of
            # it): the view stays claimed, and gives the message back when the
            # array (the last reference) goes
            return _arrays.array_in_place(memoryview(v))
        except CorruptedError as e:
            e.raw = RawMessage(kind, v.tobytes())
            v.release()
            raise
    try:
        if kind == TYPE_BYTES:
            return v.tobytes() if copy else memoryview(v)  # a memoryview holds an export
        return decode(kind, memoryview(v))
    finally:
        v.release()


def _decode_list(mv: memoryview, depth: int) -> list:
    if depth >= _MAX_DEPTH:
        raise ValueError("lists nested too deeply")
    count, _ = _LIST_HEADER.unpack_from(mv, 0)
    if _LIST_HEADER.size + count * _LIST_ENTRY.size > len(mv):
        raise ValueError("list entries beyond the payload")
    out = []
    for i in range(count):
        tid, _, off, size = _LIST_ENTRY.unpack_from(mv, _LIST_HEADER.size + i * _LIST_ENTRY.size)
        if off > len(mv) or size > len(mv) - off:
            raise ValueError("list element beyond the payload")
        out.append(decode(tid, mv[off:off + size], depth + 1))
    return out

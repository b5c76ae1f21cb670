"""NumPy dtypes <-> DLPack (code, bits, lanes), and arrays over zipc buffers.

NumPy is imported lazily: the package imports without it.
"""
from __future__ import annotations

import functools
import math

from ._zipc import CorruptedError, tensor_info

# DLPack type codes (the numbering of zipc/tensor.h)
_INT, _UINT, _FLOAT, _COMPLEX, _BOOL = 0, 1, 2, 5, 6
_KIND_TO_CODE = {"i": _INT, "u": _UINT, "f": _FLOAT, "c": _COMPLEX, "b": _BOOL}
_CODE_TO_KIND = {v: k for k, v in _KIND_TO_CODE.items()}


def numpy():
    """Import NumPy on first use, with a clear error without it."""
    try:
        import numpy as np
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("zipc array features need NumPy: pip install numpy") from e
    return np


@functools.lru_cache(maxsize=64)  # hot in send loops; dtypes are hashable
def dlpack_dtype(dtype) -> tuple[int, int, int]:
    """(code, bits, lanes) for a NumPy dtype; ValueError if DLPack has no equivalent."""
    np = numpy()
    dt = np.dtype(dtype)
    code = _KIND_TO_CODE.get(dt.kind)
    if code is None or dt.fields is not None or dt.subdtype is not None:
        raise ValueError(f"dtype {dt} has no DLPack equivalent (bool, int, uint, float, complex only)")
    if dt.byteorder == ">" or (dt.byteorder == "=" and not dt.isnative):
        raise ValueError(f"dtype {dt} is not in native byte order")
    return code, dt.itemsize * 8, 1


def tensor_args(obj) -> tuple:
    """(ndarray, code, bits) for send_tensor: obj through numpy.asarray (the
    C fast path takes buffers of a plain numeric format directly)."""
    arr = numpy().asarray(obj)
    code, bits, _ = dlpack_dtype(arr.dtype)
    return arr, code, bits


def dtype_args(dtype) -> tuple:
    """(numpy.ndarray, dtype, code, bits) for reserve_tensor's C path, which caches them."""
    dt = numpy().dtype(dtype)
    code, bits, _ = dlpack_dtype(dt)
    return numpy().ndarray, dt, code, bits


def ndarray_of(code: int, bits: int, lanes: int) -> tuple:
    """(numpy.ndarray, dtype) for recv_tensor's C path, which caches both."""
    return numpy().ndarray, numpy_dtype(code, bits, lanes)


def numpy_dtype(code: int, bits: int, lanes: int):
    """The NumPy dtype of a DLPack triple; ValueError if NumPy has none."""
    np = numpy()
    kind = _CODE_TO_KIND.get(code)
    if kind is None or lanes != 1 or (kind == "b" and bits != 8):
        raise ValueError(f"no NumPy dtype for DLPack dtype code={code} bits={bits} lanes={lanes}")
    return np.dtype("?" if kind == "b" else f"{kind}{bits // 8}")


def array_in_place(buf):
    """A NumPy array over a tensor payload (validated header), without copying,
    read-only if buf is. NumPy keeps a reference to buf's exporter (for a
    memoryview of a View: the View itself, not an export of it), so the caller
    keeps the message claimed as long as the array may live."""
    np = numpy()
    code, bits, lanes, shape, strides, offset, _ = tensor_info(buf)
    try:
        dt = numpy_dtype(code, bits, lanes)
    except ValueError as e:
        raise CorruptedError(74, str(e)) from None
    if math.prod(shape) == 0:
        return np.zeros(shape, dt)
    return np.ndarray(shape, dt, buffer=buf, offset=offset, strides=tuple(s * dt.itemsize for s in strides))


def array_copy(buf):
    """A writable NumPy array copied from a tensor payload (validated header)."""
    return array_in_place(buf).copy()

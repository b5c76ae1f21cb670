"""zipc.Store: named, sealed, read-only tensors (model weights) in shared memory.

The C type (zipc._zipc.Store) holds the handle, its read-only buffer (the
whole mapping) and the DLPack exporter (``tensor()``); this layer turns
sources into its arguments and builds NumPy arrays and torch tensors over
the mapping. NumPy and torch are imported lazily.
"""
from __future__ import annotations

import collections.abc
import os
from typing import NamedTuple

from ._arrays import numpy
from ._zipc import DEFAULT_TIMEOUT_NS, STORE_DTYPES
from ._zipc import Store as _CStore

_DTYPE_ID = {name: i for i, name in enumerate(STORE_DTYPES)}

# NumPy dtype of each store dtype: the ones NumPy lacks come as the raw bits
# of their elements (BF16: uint16; the 8-bit floats: uint8), the packed 6- and
# 4-bit ones as their bytes (uint8[nbytes]).
_NUMPY = {"BOOL": "?", "U8": "u1", "I8": "i1", "U16": "u2", "I16": "i2", "U32": "u4", "I32": "i4",
          "U64": "u8", "I64": "i8", "F16": "f2", "BF16": "u2", "F32": "f4", "F64": "f8", "C64": "c8",
          "F8_E4M3": "u1", "F8_E5M2": "u1", "F8_E4M3FNUZ": "u1", "F8_E5M2FNUZ": "u1", "F8_E8M0": "u1",
          "F6_E2M3": "u1", "F6_E3M2": "u1", "F4": "u1"}
_PACKED = {"F6_E2M3", "F6_E3M2", "F4"}
_UINT_WIDE = {"U16": "uint16", "U32": "uint32", "U64": "uint64"}  # torch >= 2.3 only
assert set(_NUMPY) == set(STORE_DTYPES), "every store dtype has its NumPy view"

# Store dtype of a NumPy dtype (kind + itemsize) for publish.
_FROM_NUMPY = {"b1": "BOOL", "u1": "U8", "i1": "I8", "u2": "U16", "i2": "I16", "u4": "U32", "i4": "I32",
               "u8": "U64", "i8": "I64", "f2": "F16", "f4": "F32", "f8": "F64", "c8": "C64"}


_HUGE_PAGES = 4  # ZIPC_STORE_HUGE_PAGES


class StoreInfo(NamedTuple):
    """What the store's table says of one tensor."""

    name: str
    dtype: str            # "F32", "BF16", ... (safetensors' names)
    shape: tuple          # of ints
    strides: tuple        # in elements (C order)
    nbytes: int
    xxh3: int             # XXH3-64 of its bytes, recorded at publish
    offset: int           # from the start of the mapping
    address: int          # of its first byte in this process


def _torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError("Store.state_dict() and torch tensors in Store.publish() need PyTorch: "
                          "pip install torch (or use store[name] for NumPy arrays)") from e
    return torch


def _is_torch(value) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _tensor_item(name, value) -> tuple:
    """(name, dtype id, shape, C-contiguous buffer) of a NumPy array or a torch tensor."""
    if not isinstance(name, str):
        raise TypeError(f"tensor names are str, not {type(name).__name__}")
    if _is_torch(value):
        torch = _torch()
        t = value.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:  # NumPy has no bfloat16: its bits
            return name, _DTYPE_ID["BF16"], tuple(t.shape), t.view(torch.int16).numpy()
        value = t.numpy()
    np = numpy()
    arr = np.asarray(value, order="C")  # a copy only when not C-contiguous (keeps 0-d)
    key = f"{arr.dtype.kind}{arr.dtype.itemsize}"
    if key not in _FROM_NUMPY or not arr.dtype.isnative or arr.dtype.fields is not None:
        raise ValueError(f"tensor {name!r}: dtype {arr.dtype} has no store dtype "
                         "(bool, int/uint 8-64, float16/32/64, complex64; torch.bfloat16)")
    return name, _DTYPE_ID[_FROM_NUMPY[key]], arr.shape, arr


def _metadata_items(metadata) -> list | None:
    if metadata is None:
        return None
    items = list(dict(metadata).items())
    for k, v in items:
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError("metadata is a dict of str -> str")
    return items


class Store(_CStore):
    """A tensor store: named, read-only tensors published once into one
    sealed shared-memory segment and mapped by any process that opens the
    name, zero-copy (one copy in RAM for any number of readers).

    ``Store.publish(name, source)`` makes a new version of `name` (from a
    .safetensors file or a dict of arrays / tensors); ``Store.open(name)``
    maps the newest one. Every handle is a *holder*: the name lives while
    any holder does (the publisher may exit), nothing is left after the
    last one. Publishing again makes version + 1 for new opens; handles of
    the old version keep it unchanged (``latest > version`` tells them).

    A read-only mapping of names to tensors: ``len``, ``iter`` (names, in
    the table's order), ``in``, ``keys``/``values``/``items``/``get``, and
    ``store[name]``: a read-only NumPy array over the shared memory (the
    kernel maps it PROT_READ: a write through its address faults). Dtypes
    NumPy lacks come as their raw bits: BF16 as uint16, the F8 variants as
    uint8 (same shape), the packed F6/F4 as uint8[nbytes];
    ``tensor(name)`` exports DLPack (BF16 as bfloat16) and ``state_dict()``
    gives torch tensors.

    Every array, StoreTensor, DLPack tensor and torch tensor taken from
    the store keeps its mapping alive: ``close()`` stops serving the name at once and
    unmaps when the last of them is gone."""

    @classmethod
    def publish(cls, name: str, source, *, align: int = 64, metadata=None,
                timeout: float | None = DEFAULT_TIMEOUT_NS / 1e9, max_segment: int | None = None,
                huge_pages: bool = False) -> Store:
        """Publish `source` as the newest version of `name` and return the
        publisher's handle (a holder: keep it while the name must live).

        source: a path (str or os.PathLike) to a .safetensors file, read
        strictly (``CorruptedError`` with the rule it breaks otherwise), or
        a dict {name: NumPy array or CPU torch tensor} (any layout: copied
        C-contiguous). align: each tensor's alignment, 64 to 2 MiB (a power
        of two). metadata: {str: str} stored with the tensors (after the
        file's own). timeout: seconds to wait for a concurrent publisher of
        the name (None: forever). max_segment: the C options' max_segment
        (None: the default). huge_pages: 2 MiB hugetlb pages if enough
        reserved ones are free (vm.nr_hugepages), else ordinary pages asking
        for transparent huge ones; never an error (``page_size`` says what
        it got). Releases the GIL while it copies and hashes."""
        meta = _metadata_items(metadata)
        max_seg = 0 if max_segment is None else max_segment
        flags = _HUGE_PAGES if huge_pages else 0
        if isinstance(source, (str, os.PathLike)):
            return cls._publish_file(name, source, align, meta, timeout, max_seg, flags)
        if not isinstance(source, collections.abc.Mapping):
            raise TypeError("source is a .safetensors path or a dict {name: array or tensor}")
        items = [_tensor_item(k, v) for k, v in source.items()]
        return cls._publish_tensors(name, items, align, meta, timeout, max_seg, flags)

    @classmethod
    def open(cls, name: str, *, prefault: bool = False, verify: bool = False,
             timeout: float | None = DEFAULT_TIMEOUT_NS / 1e9) -> Store:
        """Map the newest version of `name`: ``Error`` ENOENT at once if no
        holder serves it (open does not wait for a publisher); `timeout`
        bounds the handshake with a holder. prefault: fault every page in
        now; verify: check every tensor's checksum first
        (``CorruptedError``). The opened handle is a holder too."""
        flags = (1 if prefault else 0) | (2 if verify else 0)
        return cls._open(name, flags, timeout)

    # ---- the mapping ------------------------------------------------------

    def __iter__(self):
        return (self._info(i)[0] for i in range(len(self)))

    def keys(self):
        return list(self)

    def values(self):
        return [self[k] for k in self]

    def items(self):
        return [(k, self[k]) for k in self]

    def get(self, name, default=None):
        return self[name] if name in self else default

    def __getitem__(self, name: str):
        """A read-only NumPy array over tensor `name`, without copying (its
        base, a StoreTensor, keeps the mapping alive)."""
        np = numpy()
        _, dtype, shape, strides, nbytes, _, _, _, _, _ = self._info(name)
        if dtype in _PACKED:
            shape, strides = (nbytes,), (1,)
        dt = np.dtype(_NUMPY[dtype])
        return np.ndarray(shape, dt, buffer=self.tensor(name), strides=tuple(s * dt.itemsize for s in strides))

    def info(self, name: str) -> StoreInfo:
        """The table's entry of tensor `name` (KeyError if missing)."""
        return StoreInfo(*self._info(name)[:8])

    def state_dict(self) -> dict:
        """{name: torch tensor} sharing the store's memory (torch.from_dlpack
        of ``tensor(name)``; BF16 as torch.bfloat16, the F8 variants as
        uint8, F6/F4 as uint8[nbytes]). The tensors are read-only memory:
        torch cannot mark them so, and a write in place faults (SIGSEGV).
        Needs PyTorch; TypeError for U16/U32/U64 tensors with a torch
        that lacks those dtypes (before 2.3)."""
        torch = _torch()
        out = {}
        for k in self:
            dtype = self._info(k)[1]
            if dtype in _UINT_WIDE and not hasattr(torch, _UINT_WIDE[dtype]):
                raise TypeError(f"tensor {k!r} is {dtype}: torch {torch.__version__} has no "
                                f"{_UINT_WIDE[dtype]} (store[{k!r}] gives it as a NumPy array)")
            if dtype == "BOOL":  # as uint8, then viewed: torch < 2 lacks DLPack's bool
                out[k] = torch.from_dlpack(self._tensor_raw(k)).view(torch.bool)
            else:
                out[k] = torch.from_dlpack(self.tensor(k))
        return out

    def __repr__(self) -> str:
        if self.closed:
            return "<zipc.Store closed>"
        return f"<zipc.Store version={self.version} tensors={len(self)} nbytes={self.nbytes}>"


collections.abc.Mapping.register(Store)

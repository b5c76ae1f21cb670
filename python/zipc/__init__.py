"""zipc: zero-copy shared-memory IPC between processes on one Linux machine.

A :class:`Channel` connects one producer and one consumer through a ring in
shared memory. Copying API: ``send`` / ``recv``. Zero-copy API: ``reserve``
(write in place, commit on leaving the ``with`` block) and ``view`` /
``drain`` (read in place, buffer protocol and DLPack). Tensors:
``send_array`` / ``reserve_array`` / ``recv_array``. Typed messages:
``send_object`` / ``recv_object``. asyncio: ``send_async`` / ``recv_async``.

Lifetime rule: every zero-copy object (a View, and memoryviews, NumPy arrays
or DLPack tensors taken from it) keeps its message slot intact while it is
alive; the slot goes back to the producer when the last one is gone. A
consumer that hoards views eventually makes the producer block.

Exceptions (all carry ``.errno`` and the C library's text)::

    OSError
    └── zipc.Error
        ├── zipc.Timeout           (also TimeoutError)     ETIMEDOUT, EAGAIN with timeout=0
        ├── zipc.PeerGone          (also BrokenPipeError)  EPIPE: the peer closed or died
        ├── zipc.AbiMismatchError                          EPROTO: another zipc ABI
        ├── zipc.CorruptedError                            EBADMSG: hostile/corrupt segment or message
        ├── zipc.InvalidArgument   (also ValueError)       EINVAL, EMSGSIZE, wrong endpoint role
        └── zipc.PermissionDenied  (also PermissionError)  EPERM, EACCES: credentials refused

Plain ``ValueError`` / ``TypeError`` report bad Python arguments,
``RuntimeError`` an endpoint used from two threads at once (or a second
reservation), ``BufferError`` a reservation committed while still exported.
"""
from __future__ import annotations

from . import _zipc
from ._zipc import (
    ABI_VERSION,
    C_VERSION,
    TYPE_BYTES,
    TYPE_JSON,
    TYPE_LIST,
    TYPE_RESERVED_MIN,
    TYPE_STR,
    TYPE_TENSOR,
    AbiMismatchError,
    Batch,
    CorruptedError,
    Error,
    InvalidArgument,
    Message,
    PeerGone,
    PermissionDenied,
    Reservation,
    Timeout,
    View,
)
from ._channel import Channel
from ._typed import RawMessage, register_type, unregister_type

__version__ = "0.2.0"

__all__ = [
    "ABI_VERSION",
    "C_VERSION",
    "TYPE_BYTES",
    "TYPE_JSON",
    "TYPE_LIST",
    "TYPE_RESERVED_MIN",
    "TYPE_STR",
    "TYPE_TENSOR",
    "AbiMismatchError",
    "Batch",
    "Channel",
    "CorruptedError",
    "Error",
    "InvalidArgument",
    "Message",
    "PeerGone",
    "PermissionDenied",
    "RawMessage",
    "Reservation",
    "Timeout",
    "View",
    "listen",
    "connect",
    "register_type",
    "unregister_type",
]

listen = Channel.listen
connect = Channel.connect

"""zipc: zero-copy shared-memory IPC between processes on one Linux machine.

A :class:`Channel` connects one producer and one consumer through a ring in
shared memory, found by a name (``"frames"``: an abstract socket, nothing on
disk) or a socket path (anything with a ``/``). Copying API: ``send`` /
``recv``, and the batched ``send_many`` / ``recv_many``. Zero-copy API:
``reserve`` (write in place, commit on leaving the ``with`` block) and
``view`` / ``drain`` (read in place, buffer protocol and DLPack). Tensors:
``send_tensor`` / ``reserve_tensor`` / ``recv_tensor`` / ``recv_tensors``.
Typed messages: ``send_object`` / ``recv_object``. asyncio: ``send_async`` /
``recv_async``.

A :class:`Topic` has one publisher and any number of subscribers, each with
its own cursor and overflow policy: ``Topic.create(name)`` returns a
:class:`Publisher` (the producer's calls), ``Topic.subscribe(name,
policy=..., history=...)`` a :class:`Subscriber` (the consumer's calls, plus
``latest()`` and ``last_loss``). Each message is written once for all.

A :class:`Queue` has many producers and many consumers, each message taken
by exactly one consumer (at-least-once: a consumer that dies holding
messages has them delivered again): ``Queue.open(name, "producer")`` /
``Queue.open(name, "consumer")``. Typed calls as multiprocessing.Queue's:
``put`` / ``get`` (``Empty`` / ``Full`` on timeout, also ``queue.Empty`` /
``queue.Full``), ``put_many`` / ``get_many``, ``for obj in q`` until the
end of the stream; and the channel's raw and zero-copy calls.

An rpc service has many clients and a pool of workers, calls in flight
answered in any order: ``RpcClient.connect(name)`` / ``RpcWorker.serve(name)``.
A client's ``call(obj, method)`` returns the worker's reply object
(``submit`` / ``wait`` / ``cancel`` for many in flight, ``call_async`` for
asyncio); a worker takes a :class:`Request` with ``next()`` and answers it with
``respond(req, obj)`` (or runs ``serve_forever(handler)``). Deadlines raise
``Timeout``, a worker dying mid-call ``ConnectionReset``.

A :class:`Store` holds named, read-only tensors (model weights) published
once into sealed shared memory: ``Store.publish(name, "model.safetensors")``
(or a dict of arrays / torch tensors), ``Store.open(name)`` in any process,
then ``store["w"]`` (a read-only NumPy array, zero-copy),
``torch.from_dlpack(store.tensor("w"))``, ``store.state_dict()``.

Timeouts are in seconds; ``None`` waits forever, ``0`` never blocks.
``listen`` and ``connect`` wait ``DEFAULT_TIMEOUT_NS`` (10 s) unless told.

Lifetime rule: every zero-copy object (a View, and memoryviews, NumPy arrays
or DLPack tensors taken from it) keeps its message slot intact while it is
alive; the slot goes back to the producer when the last one is gone. A
consumer that hoards views eventually makes the producer block. A receive
that cannot return a message (``recv_tensor`` on a message that is not a
tensor) leaves it in place for the next receive.

Threads: an endpoint belongs to one thread at a time, except ``close()`` and
``interrupt()``, which any thread may call: a call blocked in another thread
raises ``Cancelled`` (``for msg in ch`` simply ends), and ``close()`` waits
for it to leave before closing. Shutting a consumer thread down is one call.

Exceptions (all carry ``.errno`` and the C library's text; the map is
checked against the C one, ``_zipc.ERRNO_MAP``, by the tests)::

    OSError
    └── zipc.Error                                      any other code (ENOENT, ENOSPC, EFBIG, ...)
        ├── zipc.Timeout           (also TimeoutError)     ETIMEDOUT, EAGAIN with timeout=0
        │   ├── zipc.Empty         (also queue.Empty)      Queue.get found nothing in time
        │   └── zipc.Full          (also queue.Full)       Queue.put found its lane full
        ├── zipc.PeerGone          (also BrokenPipeError)  EPIPE: the peer closed or died
        ├── zipc.Cancelled                                 ECANCELED: interrupt()/close() from another thread;
        │                                                  an rpc call cancelled
        ├── zipc.ConnectionReset (also ConnectionResetError) ECONNRESET: an rpc call's worker died
        ├── zipc.AbiMismatchError                          EPROTO: another zipc ABI
        ├── zipc.CorruptedError                            EBADMSG: hostile/corrupt segment or message
        ├── zipc.InvalidArgument   (also ValueError)       EINVAL, EMSGSIZE, ENAMETOOLONG,
        │                                                  EOPNOTSUPP: a call the endpoint's role lacks
        ├── zipc.PermissionDenied  (also PermissionError)  EPERM, EACCES: credentials refused
        ├── zipc.Overflow                                  EOVERFLOW: a topic subscriber was lapped;
        │                                                  .messages and .bytes lost
        └── zipc.Stale                                     ESTALE: a topic view was overwritten while held

Plain ``ValueError`` / ``TypeError`` report bad Python arguments,
``RuntimeError`` an endpoint used from two threads at once (or a second
reservation), ``BufferError`` a reservation committed while still exported.
"""
from __future__ import annotations

from . import _zipc
from ._zipc import (
    ABI_VERSION,
    C_VERSION,
    DEFAULT_MAX_SEGMENT,
    DEFAULT_SOCKET_MODE,
    DEFAULT_SPIN_NS,
    DEFAULT_TIMEOUT_NS,
    NAME_MAX,
    TYPE_BYTES,
    TYPE_JSON,
    TYPE_LIST,
    TYPE_RESERVED_MIN,
    TYPE_STR,
    TYPE_TENSOR,
    AbiMismatchError,
    Batch,
    Cancelled,
    ConnectionReset,
    CorruptedError,
    Error,
    InvalidArgument,
    Message,
    Overflow,
    PeerGone,
    PermissionDenied,
    RPC_DEFAULT_REPLY,
    Request,
    Reservation,
    Stale,
    StoreTensor,
    Timeout,
    View,
)
from ._channel import Channel
from ._topic import Publisher, Subscriber, Topic
from ._queue import Empty, Full, Queue
from ._rpc import ReplyPart, RpcClient, RpcWorker
from ._typed import RawMessage, register_type, unregister_type
from ._stream import StreamReader, StreamWriter
from ._store import Store, StoreInfo

__version__ = C_VERSION  # the C library's zipc_version(); setup.py reads the same macros

__all__ = [
    "ABI_VERSION",
    "C_VERSION",
    "DEFAULT_MAX_SEGMENT",
    "DEFAULT_SOCKET_MODE",
    "DEFAULT_SPIN_NS",
    "DEFAULT_TIMEOUT_NS",
    "NAME_MAX",
    "TYPE_BYTES",
    "TYPE_JSON",
    "TYPE_LIST",
    "TYPE_RESERVED_MIN",
    "TYPE_STR",
    "TYPE_TENSOR",
    "AbiMismatchError",
    "Batch",
    "Cancelled",
    "Channel",
    "ConnectionReset",
    "CorruptedError",
    "Empty",
    "Error",
    "Full",
    "InvalidArgument",
    "Message",
    "Overflow",
    "PeerGone",
    "PermissionDenied",
    "Publisher",
    "Queue",
    "RPC_DEFAULT_REPLY",
    "RawMessage",
    "ReplyPart",
    "Request",
    "Reservation",
    "RpcClient",
    "RpcWorker",
    "Stale",
    "Store",
    "StoreInfo",
    "StoreTensor",
    "StreamReader",
    "StreamWriter",
    "Subscriber",
    "Timeout",
    "Topic",
    "View",
    "listen",
    "connect",
    "register_type",
    "unregister_type",
]

listen = Channel.listen
connect = Channel.connect

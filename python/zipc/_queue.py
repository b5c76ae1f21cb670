"""zipc.Queue: many producers, many consumers, each message taken by one consumer.

The C type (zipc._zipc.Queue) has every call of the channel's producer and
consumer (send, send_many, reserve, flush, send_tensor, recv, recv_many,
view, drain, recv_tensor(s), ...) over the queue's C calls; this class adds
the typed layer a multiprocessing.Queue user expects (put, get, put_many,
get_many, iteration over objects) and asyncio.
"""
from __future__ import annotations

import queue as _stdqueue
import sys

from . import _aio, _typed
from ._endpoint import ConsumerLayer, ProducerLayer
from ._zipc import TYPE_BYTES, Cancelled, PeerGone, Timeout, View
from ._zipc import Queue as _CQueue


class Empty(Timeout, _stdqueue.Empty):
    """Queue.get() found no message within its timeout (or at once with
    block=False). Also a zipc.Timeout and a queue.Empty."""


class Full(Timeout, _stdqueue.Full):
    """Queue.put() found no room in its lane within its timeout (or at once
    with block=False): the consumers are behind. Also a zipc.Timeout and a
    queue.Full."""


Empty.__module__ = Full.__module__ = "zipc"  # as zipc.Timeout and the other errors


def _ndarray():
    """numpy.ndarray if NumPy is loaded (never imported here), else a type no object has."""
    np = sys.modules.get("numpy")
    return np.ndarray if np is not None else _NoType


class _NoType:
    pass


class Queue(_CQueue, ProducerLayer, ConsumerLayer):
    """A member of a queue: many producers, many consumers, attached by name
    (no server process). Each message is taken by exactly one live consumer.

    ``Queue.open(name, "producer")`` / ``Queue.open(name, "consumer")`` (or
    ``Queue.producer(name)`` / ``Queue.consumer(name)``) joins the queue,
    creating it if nobody holds it. A producer writes into its own lane
    (FIFO per producer, no global order); consumers take messages lane by
    lane, each one to exactly one of them.

    Typed, as multiprocessing.Queue: ``put(obj)`` / ``get()`` move bytes,
    str, JSON values, NumPy arrays (dtype and shape kept), PIL images (they
    arrive as arrays), lists of these and registered types (the wire format
    of ``send_object``, docs/ABI.md). ``put_many`` publishes a batch at
    once; ``get_many`` takes what is there. ``for obj in q`` ends at the end
    of the stream. ``get(copy=False)`` gives arrays (and bytes, as a
    memoryview) in place, without copying.

    Raw, as a channel: ``send`` / ``reserve`` (zero-copy write) and
    ``recv`` / ``view`` / ``drain`` (zero-copy read; a View also says
    ``producer``, ``seq`` and ``attempt``). Views are given back in any
    order; a consumer that dies holding some has them delivered again to
    another consumer with ``attempt`` + 1 (unless the queue was opened
    ``at_most_once=True``: then they are dropped).

    Timeouts are in seconds (None: wait; 0: don't). Blocking calls release
    the GIL and wake at least every 200 ms for signal handlers (Ctrl-C
    interrupts a blocked get); interrupt() or close() from another thread
    wakes them with Cancelled. Each member runs one helper thread (its door
    and the watch on the others) and holds 66 descriptors: mind ``ulimit
    -n`` with many Queues in one process.

    End of stream: once a producer has joined, a consumer's receive raises
    ``PeerGone`` (iteration ends) when no producer is attached and every
    message was taken and given back. A producer joining later starts a new
    stream.

    Differences from multiprocessing.Queue: a Queue object is one member in
    one role (open a producer and a consumer to do both) and is not
    inherited or pickled (a child opens its own by name; a forked child must
    not use its parent's, and while it holds the inherited descriptors a
    member that left still holds its door: fork workers before opening, or
    use the spawn / forkserver start method); objects must be of the typed
    kinds above (not
    any picklable object; tuples come back as lists); put blocks only when
    the producer's lane is full (no feeder thread); there is no qsize(),
    empty(), full() or join_thread(); at the end of the stream get raises
    PeerGone rather than blocking forever.
    """

    _pending = None  # views taken by a get_many that stopped at a message it could not decode

    @classmethod
    def producer(cls, name, **options) -> Queue:
        """``Queue.open(name, "producer", **options)``."""
        return cls.open(name, "producer", **options)

    @classmethod
    def consumer(cls, name, **options) -> Queue:
        """``Queue.open(name, "consumer", **options)``."""
        return cls.open(name, "consumer", **options)

    # ---- producer -----------------------------------------------------------

    def put(self, obj, block: bool = True, timeout: float | None = None) -> None:
        """Send one object as a typed message (send_object's kinds). Waits
        while this producer's lane is full, up to `timeout` seconds (None:
        as long as it takes; block=False: not at all), then raises Full."""
        wait = timeout if block else 0
        try:
            if _typed._by_class:  # a registered class may be any of these
                self.send_object(obj, timeout=wait)
            elif type(obj) is bytes:  # the common cases, without the checks
                self.send(obj, TYPE_BYTES, wait)
            elif type(obj) is _ndarray():
                self.send_tensor(obj, timeout=wait)
            else:
                self.send_object(obj, timeout=wait)
        except Timeout as e:
            raise Full(e.errno, e.strerror) from None

    def put_nowait(self, obj) -> None:
        """``put(obj, block=False)``."""
        self.put(obj, False)

    def put_many(self, objs, timeout: float | None = None) -> int:
        """Send each object of an iterable, published in batches (64 messages
        a batch: one wake-up for all of them). Returns the count. Full: the
        timeout elapsed with some of them sent (the ones before stay sent)."""
        fast = not _typed._by_class
        items = [(TYPE_BYTES, obj) if fast and type(obj) is bytes else self._encoded(obj) for obj in objs]
        try:
            return self.send_many(items, 0, timeout)
        except Timeout as e:
            raise Full(e.errno, e.strerror) from None

    @staticmethod
    def _encoded(obj):
        """(type_id, payload) for send_many; bytes-likes go as they are."""
        if isinstance(obj, (bytes, bytearray, memoryview)) and _typed._registered_id(obj) is None:
            return TYPE_BYTES, obj
        return _typed.encode(obj)

    def close(self) -> None:
        """Leave the queue. A producer first lingers (``linger()``, up to the
        open's timeout) when it is the last member with messages queued: the
        queue lives only while it has members, so a consumer that comes a
        moment late still gets them. Nobody came: the messages go with the
        queue and close raises Timeout (the member is closed all the same)."""
        if not self.closed and self.role == "producer":
            try:
                self.linger()
            except Timeout:
                pass  # the close below says what was lost
        super().close()

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    # ---- consumer -----------------------------------------------------------

    def get(self, block: bool = True, timeout: float | None = None, *, copy: bool = True):
        """The next message as a Python object: waits up to `timeout`
        seconds (None: until one comes; block=False: not at all), then
        raises Empty; PeerGone at the end of the stream.

        copy=True: the object owns its data, the message is given back at
        once. copy=False: an array comes as a read-only NumPy array over the
        queue's memory and bytes as a read-only memoryview; the message is
        held (not given back, redelivered if this process dies) until the
        last of those is gone. Other kinds are decoded either way."""
        if self._pending:
            return _typed.view_object(self._pending.pop(0), copy)
        try:  # arrays and bytes come decoded from C; other kinds as a View
            obj = self._take_object(timeout if block else 0, copy)
        except Timeout as e:
            raise Empty(e.errno, e.strerror) from None
        return _typed.view_object(obj, copy) if type(obj) is View else obj

    def get_nowait(self):
        """``get(block=False)``."""
        return self.get(False)

    def get_many(self, max_messages: int = 64, timeout: float | None = None, *, block: bool = True) -> list:
        """Wait for one message (as get), then take every one already there,
        up to max_messages: a list of objects (copies). A message that does
        not decode raises CorruptedError (its bytes in .raw); the ones after
        it stay held for the next get."""
        if self._pending:
            return [self.get()]
        try:
            batch = self.drain(max_messages, timeout if block else 0)
        except Timeout as e:
            raise Empty(e.errno, e.strerror) from None
        out = []
        for i, v in enumerate(batch):
            try:
                out.append(_typed.view_object(v, True))
            except BaseException:
                self._pending = [batch[k] for k in range(i + 1, len(batch))]
                raise
        return out

    def __iter__(self):
        return self

    def __next__(self):
        """The next object (get()); the iteration ends at the end of the
        stream, or on interrupt() / close() from another thread."""
        if self.closed:
            raise StopIteration
        try:
            return self.get()
        except (PeerGone, Cancelled):
            raise StopIteration from None

    # ---- asyncio --------------------------------------------------------------

    async def put_async(self, obj, timeout: float | None = None) -> None:
        """put() for asyncio: waits on the queue's fd, never blocks the loop."""
        try:
            await _aio.retry(self, lambda: self.put(obj, False), timeout)
        except Timeout as e:  # _aio's deadline
            raise Full(e.errno, e.strerror) from None

    async def get_async(self, timeout: float | None = None):
        """get() for asyncio: waits on the queue's fd, never blocks the loop."""
        try:
            return await _aio.retry(self, lambda: self.get(False), timeout)
        except Timeout as e:  # _aio's deadline
            raise Empty(e.errno, e.strerror) from None

    async def _aiter(self):
        while not self.closed:
            try:
                yield await self.get_async()
            except (PeerGone, Cancelled):
                return

    def __aiter__(self):
        """``async for obj in q``: objects until the end of the stream."""
        return self._aiter()

    def __reduce__(self):
        raise TypeError("a zipc.Queue is one process's member of the queue, not picklable: pass the "
                        "queue's name to the child and open it there (zipc.Queue.open(name, role))")

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"slot={self.slot}"
        return f"<zipc.Queue {self.role} lane_capacity={self.capacity} {state}>"

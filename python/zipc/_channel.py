"""zipc.Channel: the C endpoint plus the array, typed and asyncio layers."""
from __future__ import annotations

from . import _aio, _typed
from ._zipc import TYPE_BYTES, Cancelled, PeerGone
from ._zipc import Channel as _CChannel


class Channel(_CChannel):
    """One endpoint of a channel: one producer, one consumer.

    Open with ``Channel.listen(name, capacity)`` (waits for the peer; the
    listener is the consumer unless ``role="producer"``) or
    ``Channel.connect(name)``; ``name`` is a name (no ``/``: an abstract
    socket, nothing on disk) or a socket path. Timeouts are in seconds:
    ``None`` waits forever, ``0`` never blocks (``Timeout`` if it would);
    listen and connect default to ``DEFAULT_TIMEOUT_NS`` (10 s). Blocking
    calls release the GIL and wake at least every 200 ms to run signal
    handlers, so Ctrl-C works. An endpoint belongs to one thread at a time:
    a second thread calling in meanwhile gets ``RuntimeError``, except for
    ``close()`` and ``interrupt()``, which wake the blocked call
    (``Cancelled``).

    Iterating a consumer yields :class:`Message` objects until the producer
    has closed (or died) and everything it committed was received, or until
    the channel is interrupted or closed (from another thread, say).
    """

    # ---- tensors ----------------------------------------------------------------
    # send_tensor, reserve_tensor, recv_tensor and recv_tensors are C methods
    # (the per-tensor path).

    # ---- typed messages -----------------------------------------------------------

    def send_object(self, obj, *, timeout: float | None = None) -> None:
        """Send bytes, str, JSON-compatible values, NumPy arrays, lists of
        these, registered types and RawMessage, as typed messages (wire
        format in docs/ABI.md). TypeError for anything else."""
        if _typed._is_ndarray(obj) and _typed._registered_id(obj) is None:
            return self.send_tensor(obj, timeout=timeout)
        if isinstance(obj, (bytes, bytearray, memoryview)) and _typed._registered_id(obj) is None:
            return self.send(obj, TYPE_BYTES, timeout)
        type_id, payload = _typed.encode(obj)
        self.send(payload, type_id, timeout)

    def recv_object(self, timeout: float | None = None):
        """Receive one typed message as a Python object (arrays are copied
        out, the slot is released at once). Unknown type ids give
        RawMessage(type_id, data)."""
        with self.view(timeout) as v:
            return _typed.decode(v.type_id, memoryview(v))

    # ---- asyncio --------------------------------------------------------------------

    async def send_async(self, data, type_id: int = 0, timeout: float | None = None) -> None:
        """send() for asyncio: waits on the channel's fd, never blocks the loop."""
        await _aio.retry(self, lambda: self.send(data, type_id, 0), timeout)

    async def recv_async(self, timeout: float | None = None):
        """recv() for asyncio: waits on the channel's fd, never blocks the loop."""
        return await _aio.retry(self, lambda: self.recv(0), timeout)

    async def recv_many_async(self, max_messages: int = 1024, timeout: float | None = None) -> list:
        """recv_many() for asyncio."""
        return await _aio.retry(self, lambda: self.recv_many(max_messages, 0), timeout)

    async def send_object_async(self, obj, *, timeout: float | None = None) -> None:
        """send_object() for asyncio."""
        await _aio.retry(self, lambda: self.send_object(obj, timeout=0), timeout)

    async def recv_object_async(self, timeout: float | None = None):
        """recv_object() for asyncio."""
        return await _aio.retry(self, lambda: self.recv_object(0), timeout)

    async def _aiter(self):
        while not self.closed:
            try:
                yield await self.recv_async()
            except (PeerGone, Cancelled):
                return

    def __aiter__(self):
        """``async for msg in ch``: messages until the producer is gone (or
        the channel is closed), like ``for msg in ch``."""
        return self._aiter()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"peer_pid={self.peer_pid}"
        return f"<zipc.Channel {self.role} capacity={self.capacity} {state}>"

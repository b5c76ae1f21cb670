"""The Python layers every endpoint shares: typed objects and asyncio.

The C methods (send, reserve, recv, view, drain, tensors, ...) are shared in
the extension; these mixins add the same Python-level methods to each kind:
:class:`ProducerLayer` to a channel and a topic's publisher,
:class:`ConsumerLayer` to a channel and a topic's subscriber.
"""
from __future__ import annotations

from . import _aio, _typed
from ._zipc import TYPE_BYTES, Cancelled, PeerGone


class ProducerLayer:
    """send_object and the asyncio sends, over the C send / send_tensor."""

    def send_object(self, obj, *, timeout: float | None = None) -> None:
        """Send bytes, str, JSON-compatible values, NumPy arrays, PIL images
        (as their arrays), lists of these, registered types and RawMessage,
        as typed messages (wire format in docs/ABI.md). TypeError for
        anything else."""
        if _typed._is_ndarray(obj) and _typed._registered_id(obj) is None:
            return self.send_tensor(obj, timeout=timeout)
        if isinstance(obj, (bytes, bytearray, memoryview)) and _typed._registered_id(obj) is None:
            return self.send(obj, TYPE_BYTES, timeout)
        image = _typed._pil_array(obj) if _typed._registered_id(obj) is None else None
        if image is not None:  # a PIL image goes as its array: one copy into the ring
            return self.send_tensor(image, timeout=timeout)
        type_id, payload = _typed.encode(obj)
        self.send(payload, type_id, timeout)

    async def send_async(self, data, type_id: int = 0, timeout: float | None = None) -> None:
        """send() for asyncio: waits on the endpoint's fd, never blocks the loop."""
        await _aio.retry(self, lambda: self.send(data, type_id, 0), timeout)

    async def send_object_async(self, obj, *, timeout: float | None = None) -> None:
        """send_object() for asyncio."""
        await _aio.retry(self, lambda: self.send_object(obj, timeout=0), timeout)


class ConsumerLayer:
    """recv_object and the asyncio receives, over the C view / recv."""

    def recv_object(self, timeout: float | None = None):
        """Receive one typed message as a Python object (arrays are copied
        out, the slot is released at once). Unknown type ids give
        RawMessage(type_id, data)."""
        with self.view(timeout) as v:
            return _typed.decode(v.type_id, memoryview(v))

    async def recv_async(self, timeout: float | None = None):
        """recv() for asyncio: waits on the endpoint's fd, never blocks the loop."""
        return await _aio.retry(self, lambda: self.recv(0), timeout)

    async def recv_many_async(self, max_messages: int = 1024, timeout: float | None = None) -> list:
        """recv_many() for asyncio."""
        return await _aio.retry(self, lambda: self.recv_many(max_messages, 0), timeout)

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
        """``async for msg in ep``: messages until the producer is gone (or
        the endpoint is closed), like ``for msg in ep``."""
        return self._aiter()

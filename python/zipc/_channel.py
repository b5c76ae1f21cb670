"""zipc.Channel: the C endpoint plus the array, typed and asyncio layers."""
from __future__ import annotations

from ._endpoint import ConsumerLayer, ProducerLayer
from ._zipc import Channel as _CChannel


class Channel(_CChannel, ProducerLayer, ConsumerLayer):
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

    Tensors (send_tensor, reserve_tensor, recv_tensor, recv_tensors) are C
    methods; typed messages and asyncio come from zipc._endpoint, shared
    with the topic's Publisher and Subscriber.
    """

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"peer_pid={self.peer_pid}"
        return f"<zipc.Channel {self.role} capacity={self.capacity} {state}>"

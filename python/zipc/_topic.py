"""zipc.Topic: one publisher, many subscribers, each at its own pace.

The C types (zipc._zipc.Publisher, Subscriber) share every method with the
channel's producer and consumer; these classes add the typed and asyncio
layers (zipc._endpoint) the channel has.
"""
from __future__ import annotations

from ._endpoint import ConsumerLayer, ProducerLayer
from ._zipc import DEFAULT_TIMEOUT_NS
from ._zipc import Publisher as _CPublisher
from ._zipc import Subscriber as _CSubscriber


class Publisher(_CPublisher, ProducerLayer):
    """The publisher of a topic (from ``Topic.create``): the channel
    producer's calls (send, send_many, reserve, flush, send_tensor,
    reserve_tensor, send_object, send_async, ...), each message written
    once for every subscriber, plus ``subscribers()``. A send waits (its
    timeout) only for lossless subscribers ('block', or 'max_lag' below its
    bound); without any it never waits. close(): subscribers receive what
    was committed, then PeerGone."""

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"subscribers={self.subscribers()}"
        return f"<zipc.Publisher capacity={self.capacity} {state}>"


class Subscriber(_CSubscriber, ConsumerLayer):
    """A subscriber of a topic (from ``Topic.subscribe``): the channel
    consumer's calls (recv, recv_many, view, drain, recv_tensor(s),
    recv_object, recv_async, iteration, ...) plus ``latest()`` and
    ``last_loss``.

    A 'drop_oldest' subscriber (or 'max_lag' beyond its bound) that the
    publisher laps gets ``zipc.Overflow`` once from its next receive, with
    the exact loss in ``.messages`` and ``.bytes`` (also ``last_loss``); the
    call after it goes on after the gap. Iteration raises it too (the
    subscriber is its own iterator: catch it and iterate again) and ends
    when the publisher is gone and everything was received.

    Zero-copy reads are read-only (the kernel refuses writes to the ring).
    A 'block' subscriber's views pin their messages. A 'drop_oldest' one's
    do not: ``View.release()`` (or leaving its ``with`` block) raises
    ``zipc.Stale`` if the publisher overwrote it meanwhile (discard what was
    read through it); views given back by garbage collection (arrays of
    recv_tensor, say) are counted in ``stats()["stale_views"]`` instead.
    Copies (recv, recv_many, recv_object) are checked: never torn."""

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"publisher_pid={self.publisher_pid}"
        return f"<zipc.Subscriber capacity={self.capacity} {state}>"


class Topic:
    """One publisher, many subscribers, attached by name (no server).

    ``Topic.create(name, ...)`` makes the publisher, ``Topic.subscribe(name,
    ...)`` a subscriber; names follow the channel's rule (no ``/``: an
    abstract name, nothing on disk; else a socket path)."""

    def __init__(self) -> None:
        raise TypeError("zipc.Topic is a namespace: use Topic.create() or Topic.subscribe()")

    @staticmethod
    def create(name, capacity: int = 1 << 20, max_subscribers: int = 0, **options) -> Publisher:
        """The publisher of a new topic `name`: a ring of `capacity` bytes
        (a power of two), room for `max_subscribers` at once (0: 64, at
        most 4096). Options: any_uid, peer_uid, socket_mode, label, spin.
        Returns at once; zipc.Error (EADDRINUSE) if the name is taken."""
        return Publisher.create(name, capacity, max_subscribers, **options)

    @staticmethod
    def subscribe(name, *, policy: str = "block", max_lag: int | None = None, history: int = 0,
                  resume: str = "oldest", timeout: float | None = DEFAULT_TIMEOUT_NS / 1e9,
                  **options) -> Subscriber:
        """A subscriber of the topic `name`, waiting up to `timeout` seconds
        (None: forever) for its publisher to exist (zipc.Timeout).

        policy: 'block' (lossless: the publisher waits for it),
        'drop_oldest' (never holds the publisher back; a lap raises
        Overflow once, with the exact loss) or 'max_lag' with max_lag=n
        (lossless while fewer than n messages behind, then as drop_oldest).
        history: start with the last `history` messages still in the ring
        (Overflow first, with the gap, if fewer remain); 0: with the next
        one published. resume: after a loss, go on from the 'oldest'
        message still there or the 'newest'. Options: any_uid, peer_uid,
        max_segment, spin. zipc.Error (ENOSPC) when the topic is full."""
        return Subscriber.subscribe(name, policy=policy, max_lag=max_lag, history=history, resume=resume,
                                    timeout=timeout, **options)

"""close() and interrupt() from another thread, and views dying in another
thread while the endpoint is blocked (zipc_channel_interrupt and
zipc_channel_release_view in the C core)."""
import errno
import signal
import threading
import time

import numpy as np
import pytest

import zipc


class Blocked:
    """Run fn() in a thread; keep its result or exception."""

    def __init__(self, fn):
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(fn,))
        self.thread.start()
        time.sleep(0.3)  # inside the C call by now, GIL released
        assert self.thread.is_alive(), (self.result, self.error)

    def _run(self, fn):
        try:
            self.result = fn()
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            self.error = e

    def join(self, limit=2.0):
        self.thread.join(limit)
        assert not self.thread.is_alive(), "the blocked call did not end"


CONSUMER_CALLS = {
    "recv": lambda ch: ch.recv(),
    "recv_many": lambda ch: ch.recv_many(),
    "view": lambda ch: ch.view(),
    "drain": lambda ch: ch.drain(),
    "recv_tensor": lambda ch: ch.recv_tensor(),
    "recv_tensors": lambda ch: ch.recv_tensors(),
    "recv_object": lambda ch: ch.recv_object(),
}


@pytest.mark.parametrize("call", CONSUMER_CALLS)
def test_close_from_another_thread_wakes_a_blocked_receive(pair, call):
    prod, cons = pair
    blocked = Blocked(lambda: CONSUMER_CALLS[call](cons))
    t0 = time.monotonic()
    cons.close()  # no RuntimeError: wakes the call, waits for it, closes
    took = time.monotonic() - t0
    blocked.join()
    assert took < 1.0 and cons.closed
    assert isinstance(blocked.error, zipc.Cancelled) and blocked.error.errno == errno.ECANCELED
    assert blocked.error.strerror == zipc._zipc.strerror(errno.ECANCELED)
    assert_peer_gone(prod)


def assert_peer_gone(prod):
    """The producer learns when it needs space: at once, not after its timeout."""
    t0 = time.monotonic()
    with pytest.raises(zipc.PeerGone):
        for _ in range(1000):
            prod.send(bytes(1000), timeout=5)
    assert time.monotonic() - t0 < 1.0


def test_close_ends_iteration_in_a_consumer_thread(pair):
    prod, cons = pair
    got = []
    worker = Blocked(lambda: got.extend(m.data for m in cons))
    prod.send_many([b"a", b"b", b"c"])
    time.sleep(0.1)
    cons.close()  # shutting the worker down is this one call
    worker.join()
    assert worker.error is None and got == [b"a", b"b", b"c"]


def test_close_from_another_thread_wakes_a_producer_on_a_full_ring(make_pair):
    prod, cons = make_pair(capacity=4096)
    sent = 0
    with pytest.raises(zipc.Timeout):
        while True:
            prod.send(b"%04d" % sent + bytes(996), timeout=0)
            sent += 1
    blocked = Blocked(lambda: prod.send(bytes(1000)))  # waits for space that never comes
    t0 = time.monotonic()
    prod.close()
    assert time.monotonic() - t0 < 1.0
    blocked.join()
    assert isinstance(blocked.error, zipc.Cancelled)
    assert [m.data[:4] for m in cons] == [b"%04d" % i for i in range(sent)]  # all delivered, then the end


def test_close_from_another_thread_while_idle(pair):
    prod, cons = pair
    closer = threading.Thread(target=cons.close)
    closer.start()
    closer.join(2)
    assert not closer.is_alive() and cons.closed
    with pytest.raises(ValueError):
        cons.recv(timeout=0)
    assert list(cons) == []  # iteration of a closed channel ends at once
    assert_peer_gone(prod)


def test_interrupt_wakes_once_and_the_channel_goes_on(pair):
    prod, cons = pair
    blocked = Blocked(cons.recv)
    cons.interrupt()
    blocked.join()
    assert isinstance(blocked.error, zipc.Cancelled)
    prod.send(b"still open")
    assert cons.recv(timeout=1).data == b"still open"
    # latched: with nobody blocked, the next call that has to wait takes it
    cons.interrupt()
    with pytest.raises(zipc.Timeout):
        cons.recv(timeout=0)  # a call that never waits leaves it
    prod.send(b"ready first")
    assert cons.recv(timeout=1).data == b"ready first"  # a message already there wins
    t0 = time.monotonic()
    with pytest.raises(zipc.Cancelled):
        cons.recv(timeout=5)
    assert time.monotonic() - t0 < 1.0
    with pytest.raises(zipc.Timeout):
        cons.recv(timeout=0.05)  # consumed: an ordinary wait again


def test_interrupt_ends_iteration(pair):
    prod, cons = pair
    worker = Blocked(lambda: [m.data for m in cons])
    cons.interrupt()
    worker.join()
    assert worker.error is None and worker.result == []
    prod.send(b"after")
    assert next(iter(cons)).data == b"after"


def test_close_from_a_signal_handler_in_the_blocked_thread(pair):
    """Re-entrant close(): the handler runs inside recv's wait, in the thread
    that holds the endpoint; recv raises Cancelled and the channel is closed."""
    prod, cons = pair
    seen = []

    def handler(*_):
        cons.close()  # returns at once: the recv it interrupted closes as it leaves
        seen.append(cons.closed)

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        t0 = time.monotonic()
        with pytest.raises(zipc.Cancelled):
            cons.recv(timeout=5)
        assert time.monotonic() - t0 < 1.0 and cons.closed and seen == [True]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_views_dying_in_another_thread_free_their_slots(make_pair):
    """A consumer thread blocks in recv() while the main thread drops views,
    newest first: the blocked thread gives them back (release_view, any order)
    and the producer gets its space."""
    prod, cons = make_pair(capacity=4096)
    prod.send(b"0" * 1500, timeout=1)
    prod.send(b"1" * 1500, timeout=1)
    with pytest.raises(zipc.Timeout):
        prod.send(b"x" * 1500, timeout=0)  # no room for a third
    v0, v1 = cons.view(), cons.view()
    a1 = np.frombuffer(v1, np.uint8)  # an export keeps v1's slot after v1 goes
    blocked = Blocked(lambda: cons.recv(timeout=5))
    del v1
    with pytest.raises(zipc.Timeout):
        prod.send(b"x" * 1500, timeout=0.3)  # still no room
    assert bytes(a1[:3]) == b"111"
    del a1, v0  # the newer first: out of order
    t0 = time.monotonic()
    prod.send(b"2" * 1500, timeout=2)
    assert time.monotonic() - t0 < 1.0
    blocked.join(5)
    assert blocked.error is None and blocked.result.data == b"2" * 1500

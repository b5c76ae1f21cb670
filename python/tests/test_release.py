"""Views given back in any order (zipc_channel_release_view: the core keeps
the ledger and returns space in ring order), and shutdown with live exports."""
import random
import threading
import time

import numpy as np
import pytest

import zipc


def test_holding_the_last_array_never_stalls(make_pair):
    """`a = ch.recv_tensor()` in a loop keeps the previous array alive during
    the next receive: the slots before it still go back, the producer never
    blocks for good, and a held array is never overwritten."""
    cap = 1 << 14
    prod, cons = make_pair(capacity=cap)
    n = 10 * cap // 1024 + 7  # float32[256] payloads: 10x the ring
    errors = []

    def produce():
        try:
            for i in range(n):
                prod.send_tensor(np.full(256, i, np.float32), timeout=5)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=produce)
    t.start()
    prev = None
    for i in range(n):
        a = cons.recv_tensor(timeout=5)  # the previous `a` is alive until this returns
        assert a.shape == (256,) and (a == i).all()
        if prev is not None:
            assert (prev == i - 1).all()  # held across a receive: intact
        prev = a
    t.join(10)
    assert not errors and not t.is_alive()
    assert (prev == n - 1).all()


@pytest.mark.parametrize("seed", range(5))
def test_views_released_in_any_order(make_pair, seed):
    """Views die in a random order; after each death the producer has back
    exactly the longest prefix of views that are all gone, and no live view
    is overwritten."""
    prod, cons = make_pair(capacity=1 << 14)
    n = 40
    prod.send_many([bytes([i]) * 100 for i in range(n)])
    views = [cons.view(timeout=0) for _ in range(n)]
    arrays = {i: np.frombuffer(v, np.uint8) for i, v in enumerate(views) if i % 3 == 0}  # some exported
    gone = set()
    order = list(range(n))
    random.Random(seed).shuffle(order)
    for i in order:
        views[i].release()
        arrays.pop(i, None)  # the last holder of slot i goes
        gone.add(i)
        prefix = next((k for k in range(n) if k not in gone), n)
        assert cons.stats()["messages"] == prefix
        assert all(a[0] == k for k, a in arrays.items())  # the live ones are intact
    prod.send(b"after", timeout=1)
    assert cons.recv(timeout=1).data == b"after"


def test_release_upto_follows_view_order(pair):
    prod, cons = pair
    prod.send_many([b"a", b"b", b"c"])
    released = lambda: cons.stats()["messages"]  # noqa: E731
    a, b, c = cons.view(), cons.view(), cons.view()
    b.release()
    assert released() == 0 and bytes(a) == b"a" and bytes(c) == b"c"  # a holds b's slot back
    a.release()
    assert released() == 2  # a and the finished b, in one release_upto
    mv = memoryview(c)
    c.release()
    assert released() == 2 and bytes(mv) == b"c"  # the export keeps it
    mv.release()
    assert released() == 3


def test_drain_views_released_out_of_order(pair):
    prod, cons = pair
    prod.send_many([b"m%d" % i for i in range(6)])
    batch = cons.drain(6)
    kept = np.frombuffer(batch[3], np.uint8)
    batch.release()
    assert cons.stats()["messages"] == 3 and kept.tobytes() == b"m3"
    del kept
    assert cons.stats()["messages"] == 6


def test_close_with_live_export_tells_the_peer_at_once(pair):
    prod, cons = pair
    prod.send_tensor(np.arange(256, dtype=np.float32))
    a = cons.recv_tensor()
    cons.close()
    t0 = time.monotonic()
    with pytest.raises(zipc.PeerGone):  # a producer notices when it needs space
        for _ in range(1000):
            prod.send(b"x" * 1000, timeout=5)
    assert time.monotonic() - t0 < 1.0  # not the 5 s timeout: the consumer said it is gone
    assert (a == np.arange(256)).all()  # still mapped
    with pytest.raises(ValueError):
        cons.recv(timeout=0)  # closed
    del a  # the last export: now unmapped


def test_producer_close_with_live_reservation_export(pair):
    prod, cons = pair
    prod.send(b"before")
    r = prod.reserve(8)
    mv = memoryview(r)
    prod.close()  # the reservation is dropped; the mapping stays for mv
    assert cons.recv(timeout=1).data == b"before"
    with pytest.raises(zipc.PeerGone):
        cons.recv(timeout=5)
    mv[:] = b"harmless"
    with pytest.raises(ValueError):
        prod.send(b"x")
    del mv, r

"""Real processes: Python <-> Python, C -> Python, peer death, Ctrl-C."""
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import zipc
from conftest import python_child

PRODUCER = """
import sys, numpy as np, zipc
ch = zipc.Channel.connect(sys.argv[1], timeout=10)
for i in range(20000):
    ch.send(i.to_bytes(4, "little") * 8, type_id=i % 3)
for i in range(50):
    with ch.reserve_tensor((64, 64), np.float32) as r:
        r.array[...] = i
ch.send_object({"done": True})
ch.close()
"""


def test_python_to_python(sock_path):
    child = python_child(PRODUCER, sock_path)
    with zipc.Channel.listen(sock_path, 1 << 21, timeout=10) as cons:
        got = []
        while len(got) < 20000:
            got += cons.recv_many(min(4096, 20000 - len(got)), timeout=10)
        assert [m.data for m in got] == [i.to_bytes(4, "little") * 8 for i in range(20000)]
        assert [m.type_id for m in got] == [i % 3 for i in range(20000)]
        held = [cons.recv_tensor(timeout=10) for _ in range(50)]  # all zero-copy, all held
        assert [float(a[63, 63]) for a in held] == list(range(50))
        assert cons.recv_object(timeout=10) == {"done": True}
        with pytest.raises(zipc.PeerGone):
            cons.recv(timeout=10)
    assert child.wait(10) == 0


CONSUMER = """
import sys, zipc
with zipc.Channel.connect(sys.argv[1], timeout=10) as ch:
    total = sum(len(m.data) for m in ch)
print(total)
"""


def test_python_consumer_child(sock_path):
    child = python_child(CONSUMER, sock_path, stdout=subprocess.PIPE, text=True)
    with zipc.Channel.listen(sock_path, 4096, role="producer", timeout=10) as prod:
        assert prod.role == "producer"
        for _ in range(1000):
            prod.send(b"x" * 100)
    out, _ = child.communicate(timeout=10)
    assert child.returncode == 0 and int(out) == 100000


def test_c_producer_to_python(sock_path, c_producer):
    n = 200000
    proc = subprocess.Popen([str(c_producer), sock_path, "bytes", str(n), "32"])
    with zipc.Channel.listen(sock_path, 1 << 20, timeout=10) as cons:
        count = 0
        for batch in iter(lambda: _recv_or_none(cons), None):
            for m in batch:
                b = m.data
                assert m.type_id == 1 and len(b) == 32 and int.from_bytes(b[:8], "little") == count
                assert b[8:] == bytes([count & 0xFF]) * 24
                count += 1
    assert count == n and proc.wait(10) == 0


def _recv_or_none(cons):
    try:
        return cons.recv_many(8192, timeout=10)
    except zipc.PeerGone:
        return None


def test_c_tensors_to_python(sock_path, c_producer):
    proc = subprocess.Popen([str(c_producer), sock_path, "tensor", "100", "256"])
    with zipc.Channel.listen(sock_path, 1 << 16, timeout=10) as cons:
        for i in range(100):
            a = cons.recv_tensor(timeout=10)
            assert a.dtype == np.float32 and a.shape == (256,) and a[0] == i and a[255] == i + 255
            # the previous array stays alive during the next receive: its slot
            # goes back as soon as it is replaced (in-order release)
    assert proc.wait(10) == 0


BUILT_IN_PRODUCER = """
import sys
from zipc import _zipc
sys.exit(_zipc._c_producer(sys.argv[1:]))
"""


def test_c_producer_built_into_the_extension(sock_path):
    """What `python -m zipc.bench` runs for its C rows: examples/c_producer.c
    from the installed extension, no compiler, no source tree."""
    child = python_child(BUILT_IN_PRODUCER, sock_path, "tensor", 50, 64)
    with zipc.Channel.listen(sock_path, 1 << 16, timeout=10) as cons:
        got = [cons.recv_tensor(timeout=10) for _ in range(50)]
        assert [(a[0], a[63]) for a in got] == [(i, i + 63) for i in range(50)]
        with pytest.raises(zipc.PeerGone):
            cons.recv(timeout=10)
    assert child.wait(10) == 0
    bad = python_child(BUILT_IN_PRODUCER, sock_path + "-none", "typed", stderr=subprocess.PIPE, text=True)
    _, err = bad.communicate(timeout=30)
    assert bad.returncode == 1 and "c_producer: connect:" in err


SLEEPER = """
import sys, time, zipc
ch = zipc.Channel.connect(sys.argv[1], timeout=10)
if ch.role == "producer":
    ch.send(b"first")
print("ready", flush=True)
time.sleep(60)
"""


def _kill_later(proc, delay):
    t = threading.Timer(delay, proc.kill)
    t.start()
    return t


@pytest.mark.parametrize("role", ["consumer", "producer"])
def test_peer_killed_while_blocked(sock_path, role):
    """The listener blocks (recv on an empty ring / send on a full one); SIGKILL of the peer wakes it."""
    child = python_child(SLEEPER, sock_path, stdout=subprocess.PIPE, text=True)
    ch = zipc.Channel.listen(sock_path, 4096, role=role, timeout=10)
    assert child.stdout.readline() == "ready\n"
    if role == "consumer":
        assert ch.recv(timeout=5).data == b"first"
        op = lambda: ch.recv()  # noqa: E731
    else:
        op = lambda: [ch.send(b"x" * 1000) for _ in range(100)]  # noqa: E731 - fills, then blocks
    _kill_later(child, 0.3)
    t0 = time.monotonic()
    with pytest.raises(zipc.PeerGone):
        op()
    assert time.monotonic() - t0 < 1.3  # 0.3 s until the kill, then promptly
    ch.close()
    child.wait(5)


BLOCKED = """
import signal, sys, threading, time, zipc
ch = zipc.Channel.listen(sys.argv[1], 4096, timeout=10)
if sys.argv[2] == "other-thread":
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # the signal lands in the other thread
print("ready", flush=True)
try:
    ch.recv()
except KeyboardInterrupt:
    print("interrupted", flush=True)
    raise
"""


@pytest.mark.parametrize("where", ["main-thread", "other-thread"])
def test_ctrl_c_while_blocked(sock_path, where):
    child = python_child(BLOCKED, sock_path, where, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    prod = zipc.Channel.connect(sock_path, timeout=10)
    assert child.stdout.readline() == "ready\n"
    time.sleep(0.2)  # the child is inside recv() now
    t0 = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=5)
    assert time.monotonic() - t0 < 1.0
    assert "interrupted" in out and "KeyboardInterrupt" in err
    assert child.returncode in (-signal.SIGINT, 1, 130)
    prod.close()

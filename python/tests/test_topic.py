"""zipc.Topic: one publisher, many subscribers, with real processes.

Subscribers of each policy in child processes (exact loss counts), zero-copy
read-only arrays (a write from Python raises, a raw write faults), history,
latest(), asyncio, a SIGKILLed publisher, Ctrl-C in a blocked recv."""
import asyncio
import errno
import itertools
import json
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import zipc
from conftest import python_child

_names = itertools.count()


@pytest.fixture
def name():
    """A fresh topic name (abstract: nothing on disk)."""
    return f"tpy-{os.getpid()}-{next(_names)}"


def wait_subscribers(pub, n, timeout=10):
    deadline = time.monotonic() + timeout
    while pub.subscribers() < n:
        assert time.monotonic() < deadline, f"{pub.subscribers()} subscribers, expected {n}"
        time.sleep(0.01)


def seq_of(data) -> int:
    return int.from_bytes(bytes(data[:8]), "little")


def payload(i: int, size: int = 64) -> bytes:
    """Message i: its sequence number, then a pattern derived from it (a torn copy shows)."""
    return i.to_bytes(8, "little") + bytes((i + k) & 0xFF for k in range(size - 8))


# ---- subscribers of three policies, in child processes ------------------------------

SUBSCRIBER = """
import json, sys, time, zipc
name, policy, delay_every = sys.argv[1], sys.argv[2], int(sys.argv[3])
kw = {"max_lag": 8} if policy == "max_lag" else {}
sub = zipc.Topic.subscribe(name, policy=policy, timeout=10, **kw)
print("ready", flush=True)
got, gaps, bad = [], [], 0
while True:
    try:
        m = sub.recv(timeout=20)
    except zipc.Overflow as e:
        gaps.append([len(got), e.messages, e.bytes, list(sub.last_loss)])
        continue
    except zipc.PeerGone:
        break
    i = int.from_bytes(m.data[:8], "little")
    if m.data[8:] != bytes((i + k) & 0xFF for k in range(len(m.data) - 8)) or m.type_id != i % 7:
        bad += 1
    got.append(i)
    if delay_every and len(got) % delay_every == 0:
        time.sleep(0.002)
print(json.dumps({"got": got, "gaps": gaps, "bad": bad, "stats": sub.stats()}), flush=True)
"""


def test_three_policies_every_message_or_exact_loss(name):
    total = 5000
    with zipc.Topic.create(name, 1 << 14) as pub:  # a 16 KiB ring: about 200 messages of 64 B
        kids = {
            "block": python_child(SUBSCRIBER, name, "block", 0, stdout=subprocess.PIPE, text=True),
            "drop_oldest": python_child(SUBSCRIBER, name, "drop_oldest", 10, stdout=subprocess.PIPE, text=True),
            "max_lag": python_child(SUBSCRIBER, name, "max_lag", 10, stdout=subprocess.PIPE, text=True),
        }
        for kid in kids.values():
            assert kid.stdout.readline() == "ready\n"
        wait_subscribers(pub, 3)
        for i in range(total):
            pub.send(payload(i), type_id=i % 7, timeout=20)
        assert pub.stats()["messages"] == total
    res = {}
    for policy, kid in kids.items():
        out, _ = kid.communicate(timeout=60)
        assert kid.returncode == 0, policy
        res[policy] = json.loads(out)

    block = res["block"]
    assert block["got"] == list(range(total)) and block["gaps"] == [] and block["bad"] == 0
    for policy in ("drop_oldest", "max_lag"):
        r = res[policy]
        got, gaps = r["got"], r["gaps"]
        assert r["bad"] == 0, policy  # no torn copy
        assert gaps, f"{policy}: the slow subscriber was never lapped (the test proves nothing)"
        # every gap in the sequence is exactly the loss reported just before it (an
        # Overflow for copies found torn may come just before the C library's own)
        reported = {}
        for at, msgs, nbytes, last in gaps:
            assert last == [msgs, nbytes]  # last_loss says what the exception said
            assert msgs >= 1 and nbytes >= msgs * 64  # bytes: payloads plus framing
            reported[at] = reported.get(at, 0) + msgs
        prev = -1
        for k, i in enumerate(got):
            assert i - prev - 1 == reported.pop(k, 0), (policy, k, prev, i)
            prev = i
        assert not reported, reported  # an Overflow at the very end would have no message after it
        assert prev == total - 1  # the last message always arrives
        lost_messages = sum(g[1] for g in gaps)
        assert len(got) + lost_messages == total
        assert r["stats"]["lost_messages"] == lost_messages and r["stats"]["overflows"] == len(gaps)


# ---- zero-copy, read-only -------------------------------------------------------------

def test_arrays_are_zero_copy_and_read_only(name):
    with zipc.Topic.create(name, 1 << 16) as pub, zipc.Topic.subscribe(name, timeout=5) as sub:
        wait_subscribers(pub, 1)
        pub.send_tensor(np.arange(12, dtype=np.int32).reshape(3, 4))
        with pub.reserve_tensor((2, 2), np.float64) as r:
            r.array[...] = 2.5
        pub.send(b"raw bytes")
        a = sub.recv_tensor(timeout=5)
        assert a.shape == (3, 4) and a.dtype == np.int32 and a[2, 3] == 11
        assert not a.flags.writeable and not a.flags.owndata
        with pytest.raises(ValueError):
            a[0, 0] = 1
        with pytest.raises(ValueError):
            a.setflags(write=True)
        (b,) = sub.recv_tensors(timeout=5)
        assert b.tolist() == [[2.5, 2.5], [2.5, 2.5]]
        with sub.view(timeout=5) as v:
            mv = memoryview(v)
            assert mv.readonly and mv.tobytes() == b"raw bytes"
            with pytest.raises(TypeError):
                mv[0] = 0
            mv.release()
        del a, b


FAULTING_WRITER = """
import ctypes, sys, zipc
sub = zipc.Topic.subscribe(sys.argv[1], timeout=10)
print("ready", flush=True)
a = sub.recv_tensor(timeout=10)
print("viewed", float(a[0]), flush=True)
ctypes.memset(a.ctypes.data, 0, 8)  # below NumPy: the kernel must refuse
print("wrote", flush=True)
"""


def test_a_raw_write_to_the_ring_faults(name):
    with zipc.Topic.create(name, 1 << 16) as pub:
        kid = python_child(FAULTING_WRITER, name, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert kid.stdout.readline() == "ready\n"
        wait_subscribers(pub, 1)
        pub.send_tensor(np.full(4, 7.0))
        out, _ = kid.communicate(timeout=20)
        assert "viewed 7.0" in out and "wrote" not in out
        assert kid.returncode in (-signal.SIGSEGV, -signal.SIGBUS)


def test_drop_oldest_view_overwritten_is_stale(name):
    with zipc.Topic.create(name, 4096) as pub, \
            zipc.Topic.subscribe(name, policy="drop_oldest", timeout=5) as sub:
        wait_subscribers(pub, 1)
        pub.send(payload(0, 256))
        v = sub.view(timeout=5)
        assert seq_of(bytes(v)) == 0
        for i in range(1, 200):  # laps the 4 KiB ring many times: nothing waits for `sub`
            pub.send(payload(i, 256), timeout=0)
        with pytest.raises(zipc.Stale) as e:
            v.release()
        assert e.value.errno == errno.ESTALE
        with pytest.raises(zipc.Overflow) as e:
            sub.recv(timeout=5)
        first = sub.recv(timeout=5)
        assert e.value.messages == seq_of(first.data) - 1 and sub.last_loss[0] == e.value.messages
        assert first.data == payload(seq_of(first.data), 256)
        # an array given back by garbage collection has nobody to tell: counted
        sub.recv_many(timeout=0)
        pub.send_tensor(np.arange(32, dtype=np.int64))
        a = sub.recv_tensor(timeout=5)
        for i in range(200, 400):
            pub.send(payload(i, 256), timeout=0)
        del a
        assert sub.stats()["stale_views"] == 1
        with pytest.raises(zipc.Overflow):  # iteration raises it too; the next one goes on
            next(iter(sub))
        assert seq_of(next(iter(sub)).data) > 200


def test_block_view_pins_its_message(name):
    with zipc.Topic.create(name, 4096) as pub, zipc.Topic.subscribe(name, timeout=5) as sub:
        wait_subscribers(pub, 1)
        pub.send(payload(0, 256))
        v = sub.view(timeout=5)
        sent = 1
        with pytest.raises(zipc.Timeout):  # the held view keeps its frame: the ring fills up
            while True:
                pub.send(payload(sent, 256), timeout=0.05)
                sent += 1
        assert bytes(v) == payload(0, 256)
        v.release()
        assert [seq_of(m.data) for m in sub.recv_many(timeout=5)] == list(range(1, sent))


# ---- late join: history, latest -----------------------------------------------------------

def test_history_and_latest(name):
    with zipc.Topic.create(name, 1 << 16) as pub:
        assert pub.subscribers() == 0
        for i in range(10):
            pub.send(payload(i), type_id=1 if i % 2 else 2)
        with zipc.Topic.subscribe(name, history=4, timeout=5) as sub:
            assert [seq_of(m.data) for m in sub.recv_many(timeout=5)] == [6, 7, 8, 9]
            with pytest.raises(zipc.Timeout):
                sub.recv(timeout=0)
            assert seq_of(sub.latest().data) == 9
            latest2 = sub.latest(type_id=2)
            assert latest2.type_id == 2 and seq_of(latest2.data) == 8
            assert sub.latest(type_id=3) is None
            pub.send(b"after", type_id=5)
            assert sub.latest(5).data == b"after"
            assert sub.recv(timeout=5).data == b"after"  # latest() consumed nothing
        with zipc.Topic.subscribe(name, timeout=5) as late:  # history=0: from the next one
            with pytest.raises(zipc.Timeout):
                late.recv(timeout=0.05)


def test_history_beyond_the_ring_reports_the_gap(name):
    with zipc.Topic.create(name, 4096) as pub:
        for i in range(100):  # no subscriber: the ring keeps only the newest ones
            pub.send(payload(i, 256), timeout=0)
        with zipc.Topic.subscribe(name, history=100, timeout=5) as sub:
            with pytest.raises(zipc.Overflow) as e:
                sub.recv(timeout=5)
            rest = [seq_of(m.data) for m in sub.recv_many(timeout=5)]
            assert rest == list(range(rest[0], 100))
            assert e.value.messages == 100 - len(rest) == rest[0]


# ---- asyncio ------------------------------------------------------------------------------

SLOW_PUBLISHER = """
import sys, time, zipc
pub = zipc.Topic.create(sys.argv[1], 1 << 16)
while pub.subscribers() < 1:
    time.sleep(0.01)
for i in range(50):
    pub.send_object({"i": i})
    time.sleep(0.002)
pub.close()
"""


def test_recv_async_and_async_iteration(name):
    kid = python_child(SLOW_PUBLISHER, name)
    sub = zipc.Topic.subscribe(name, timeout=10)  # may come before the publisher exists

    async def main():
        first = await sub.recv_object_async(timeout=10)
        rest = [json.loads(m.data) async for m in sub]  # ends when the publisher is gone
        return [first] + rest

    got = asyncio.run(asyncio.wait_for(main(), 30))
    assert got == [{"i": i} for i in range(50)]
    assert kid.wait(10) == 0
    sub.close()


def test_recv_async_times_out(name):
    with zipc.Topic.create(name, 1 << 16) as pub, zipc.Topic.subscribe(name, timeout=5) as sub:
        async def main():
            with pytest.raises(zipc.Timeout):
                await sub.recv_async(timeout=0.05)
            asyncio.get_running_loop().call_later(0.05, pub.send, b"later")
            return await sub.recv_async(timeout=5)

        assert asyncio.run(main()).data == b"later"


# ---- the publisher dies, Ctrl-C, interrupt, limits -----------------------------------------

KILLED_PUBLISHER = """
import os, signal, sys, time, zipc
pub = zipc.Topic.create(sys.argv[1], 1 << 20)
print("created", flush=True)
while pub.subscribers() < 2:
    time.sleep(0.01)
for i in range(1000):
    pub.send(i.to_bytes(8, "little") * 4)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_publisher_killed_subscribers_drain_then_peer_gone(name):
    kid = python_child(KILLED_PUBLISHER, name, stdout=subprocess.PIPE, text=True)
    subs = [zipc.Topic.subscribe(name, timeout=10), zipc.Topic.subscribe(name, policy="drop_oldest", timeout=10)]
    assert kid.wait(20) == -signal.SIGKILL
    for sub in subs:
        got = [seq_of(m.data) for m in sub]  # iteration ends at PeerGone
        assert got == list(range(1000))
        with pytest.raises(zipc.PeerGone):
            sub.recv(timeout=1)
        sub.close()
    with zipc.Topic.create(name, 4096):  # the name is free again
        pass


HOLDING_SUBSCRIBER = """
import sys, time, zipc
sub = zipc.Topic.subscribe(sys.argv[1], timeout=10)
v = sub.view(timeout=10)  # held: a lossless subscriber's view pins its message
print("holding", flush=True)
time.sleep(60)
"""


def test_a_killed_subscriber_stops_holding_the_publisher(name):
    with zipc.Topic.create(name, 4096) as pub:
        kid = python_child(HOLDING_SUBSCRIBER, name, stdout=subprocess.PIPE, text=True)
        wait_subscribers(pub, 1)
        pub.send(b"first")
        assert kid.stdout.readline() == "holding\n"
        with pytest.raises(zipc.Timeout):  # the ring fills up behind the held view
            for _ in range(100):
                pub.send(bytes(512), timeout=0.05)
        kid.kill()
        t0 = time.monotonic()
        pub.send(bytes(512), timeout=5)  # free again once the kernel has torn it down
        assert time.monotonic() - t0 < 1.0
        assert kid.wait(5) == -signal.SIGKILL
        deadline = time.monotonic() + 5
        while pub.stats()["died"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert pub.subscribers() == 0


BLOCKED_SUBSCRIBER = """
import sys, zipc
name, where = sys.argv[1], sys.argv[2]
if where == "subscribe":  # nobody publishes that name: subscribe waits
    print("ready", flush=True)
sub = zipc.Topic.subscribe(name, timeout=None)
if where == "recv":
    print("ready", flush=True)
try:
    sub.recv()
except KeyboardInterrupt:
    print("interrupted", flush=True)
    raise
"""


@pytest.mark.parametrize("where", ["recv", "subscribe"])
def test_ctrl_c_interrupts_a_blocked_call(name, where):
    with zipc.Topic.create(name, 1 << 16) as pub:
        target = name if where == "recv" else name + "-nobody"
        kid = python_child(BLOCKED_SUBSCRIBER, target, where, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        assert kid.stdout.readline() == "ready\n"
        if where == "recv":
            wait_subscribers(pub, 1)
        time.sleep(0.2)  # inside recv() / subscribe() now
        t0 = time.monotonic()
        kid.send_signal(signal.SIGINT)
        out, err = kid.communicate(timeout=5)
        assert time.monotonic() - t0 < 1.0
        assert "KeyboardInterrupt" in err and kid.returncode in (-signal.SIGINT, 1, 130)
        assert ("interrupted" in out) == (where == "recv")
        deadline = time.monotonic() + 5
        while pub.subscribers() > 0:  # its death is seen by the publisher
            assert time.monotonic() < deadline
            time.sleep(0.01)


def _in_thread(fn):
    """Run fn() in a thread; the box gets what it raised."""
    box = {}

    def run():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.2)  # blocked by now
    return t, box


def test_interrupt_and_close_from_another_thread(name):
    with zipc.Topic.create(name, 4096) as pub, zipc.Topic.subscribe(name, timeout=5) as sub:
        t, box = _in_thread(sub.recv)
        sub.interrupt()
        t.join(5)
        assert not t.is_alive() and isinstance(box["error"], zipc.Cancelled)
        assert box["error"].errno == errno.ECANCELED
        # a publisher held back by a lossless subscriber that reads nothing
        wait_subscribers(pub, 1)
        t, box = _in_thread(lambda: [pub.send(bytes(512)) for _ in range(100)])
        pub.close()  # wakes the send, waits for it to leave, closes
        t.join(5)
        assert not t.is_alive() and pub.closed and isinstance(box["error"], zipc.Cancelled)


def test_limits_and_errors(name):
    with zipc.Topic.create(name, 4096, max_subscribers=2) as pub:
        with pytest.raises(zipc.Error) as e:
            zipc.Topic.create(name, 4096)
        assert e.value.errno == errno.EADDRINUSE
        a = zipc.Topic.subscribe(name, timeout=5)
        b = zipc.Topic.subscribe(name, timeout=5)
        with pytest.raises(zipc.Error) as e:
            zipc.Topic.subscribe(name, timeout=5)
        assert e.value.errno == errno.ENOSPC
        a.close()
        wait_subscribers(pub, 1)
        zipc.Topic.subscribe(name, timeout=5).close()  # room again
        b.close()
        with pytest.raises(ValueError):  # closed
            b.recv(timeout=0)
    t0 = time.monotonic()
    with pytest.raises(zipc.Error) as e:  # no publisher came
        zipc.Topic.subscribe(name + "-nobody", timeout=0.3)
    assert e.value.errno in (errno.ENOENT, errno.ETIMEDOUT) and time.monotonic() - t0 >= 0.25
    t0 = time.monotonic()
    with pytest.raises(zipc.Error) as e:  # timeout=0: one try
        zipc.Topic.subscribe(name + "-nobody", timeout=0)
    assert e.value.errno in (errno.ENOENT, errno.ETIMEDOUT, errno.EAGAIN) and time.monotonic() - t0 < 0.2
    for bad in ({"policy": "fast"}, {"policy": "max_lag"}, {"max_lag": 3}, {"history": -1},
                {"resume": "middle"}):
        with pytest.raises(ValueError):
            zipc.Topic.subscribe(name, timeout=0, **bad)
    with pytest.raises(TypeError):
        zipc.Topic()
    with pytest.raises(TypeError):
        zipc.Subscriber()


# ---- the example --------------------------------------------------------------------------

def test_example_topic_to_python():
    """examples/topic_to_python: a block NumPy subscriber sees every frame in
    place, a slow drop_oldest logger loses messages and counts them exactly."""
    import re
    import sys

    import cbuild

    root = cbuild.repo_root()
    if root is None:
        pytest.skip("zipc source tree not found (set ZIPC_SOURCE_DIR)")
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run([str(root / "examples" / "topic_to_python" / "run.sh"), "20000"], env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    # the C++ publisher (examples/cpp_topic_publisher.cpp) where c++ exists, else the Python one
    assert re.search(r"publisher \((C\+\+|Python)\): 20000 ticks and 400 frames of uint8\[120, 160\]", out), out
    assert "frames (Python, block): 400 frames checked in place, 20000 ticks, nothing lost" in out, out
    m = re.search(r"logger \(Python, drop_oldest\): received (\d+) of 20401 messages, lost (\d+) in (\d+) overflows",
                  out)
    assert m and int(m.group(1)) + int(m.group(2)) == 20401, out

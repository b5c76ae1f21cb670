"""zipc.Queue: many producers, many consumers, with real processes.

Typed put/get of every kind (bytes, str, JSON, NumPy arrays, PIL images,
lists), the multiprocessing.Queue surface (Empty/Full, block, nowait), 2
producer x 2 consumer processes moving mixed objects exactly once with the
end of the stream ending each consumer's iteration, a SIGKILLed consumer's
held messages delivered again (attempt 2) or dropped (at_most_once), Ctrl-C
in a blocked get, bad arguments, asyncio, and a C producer."""
import asyncio
import gc
import itertools
import json
import os
import pickle
import queue
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
    """A fresh queue name (abstract: nothing on disk)."""
    return f"qpy-{os.getpid()}-{next(_names)}"


@pytest.fixture
def pair(name):
    """(producer, consumer) of one queue, in this process."""
    with zipc.Queue.open(name, "producer", timeout=10) as p, zipc.Queue.open(name, "consumer", timeout=10) as c:
        yield p, c


def zipc_slots() -> int:
    return 64  # ZIPC_QUEUE_MAX_PRODUCERS + ZIPC_QUEUE_MAX_CONSUMERS


def wait_for(cond, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# ---- one process: the typed calls and the queue's own surface ---------------------------

def test_typed_objects_round_trip(pair):
    p, c = pair
    arr = np.arange(12, dtype=np.int16).reshape(3, 4)
    objs = [b"bytes", bytearray(b"ba"), "text \u00e9", {"k": [1, 2.5, None, True]}, 42, None, [1, "two"],
            arr, np.float32(1.5), arr[:, ::2], [b"x", arr, "y", {"z": 1}], np.zeros((0, 3), np.uint8),
            zipc.RawMessage(1234, b"raw")]
    for obj in objs:
        p.put(obj)
    got = [c.get(timeout=5) for _ in objs]
    assert got[0] == b"bytes" and got[1] == b"ba" and got[2] == "text \u00e9"
    assert got[3] == {"k": [1, 2.5, None, True]} and got[4] == 42 and got[5] is None and got[6] == [1, "two"]
    assert got[7].dtype == np.int16 and got[7].shape == (3, 4) and (got[7] == arr).all()
    assert got[7].flags.writeable and got[7].flags.owndata  # a copy: the message was given back
    assert got[8].shape == () and got[8] == np.float32(1.5)
    assert got[9].shape == (3, 2) and (got[9] == arr[:, ::2]).all()  # gathered into C order
    assert got[10][0] == b"x" and (got[10][1] == arr).all() and got[10][2:] == ["y", {"z": 1}]
    assert got[11].shape == (0, 3) and got[11].dtype == np.uint8
    assert got[12] == zipc.RawMessage(1234, b"raw")
    assert c.stats()["messages"] == len(objs) and p.stats()["messages"] == len(objs)


def test_pil_images_arrive_as_arrays(pair):
    image = pytest.importorskip("PIL.Image")
    p, c = pair
    rgb = image.new("RGB", (5, 3), (10, 20, 30))
    gray = image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4))
    p.put(rgb)
    p.put_many([gray, [rgb, "caption"]])
    a = c.get(timeout=5)
    assert a.shape == (3, 5, 3) and a.dtype == np.uint8 and (a == [10, 20, 30]).all()
    assert image.fromarray(a).tobytes() == rgb.tobytes()
    g = c.get(timeout=5)
    assert (g == np.arange(12).reshape(3, 4)).all()
    both = c.get(timeout=5)
    assert (both[0] == np.asarray(rgb)).all() and both[1] == "caption"


def test_put_many_get_many(pair):
    p, c = pair
    objs = [i.to_bytes(4, "little") if i % 3 else {"i": i} for i in range(300)]
    assert p.put_many(objs) == 300
    got = []
    while len(got) < 300:
        got += c.get_many(64, timeout=5)
    assert got == objs  # one producer: its order
    with pytest.raises(zipc.Empty):
        c.get_many(timeout=0.01)


def test_get_without_copy_is_in_place_and_held(pair):
    p, c = pair
    arr = np.arange(1000, dtype=np.float64)
    p.put(arr)
    p.put(b"in place")
    a = c.get(copy=False, timeout=5)
    m = c.get(copy=False, timeout=5)
    assert (a == arr).all() and not a.flags.writeable
    with pytest.raises(ValueError):
        a[0] = 1
    assert isinstance(m, memoryview) and m.readonly and bytes(m) == b"in place"
    assert c.stats()["messages"] == 0  # both still held
    del a
    m.release()
    assert c.stats()["messages"] == 2
    p.put("decoded either way")
    assert c.get(copy=False, timeout=5) == "decoded either way"


def test_a_malformed_tensor_raises_and_the_next_one_comes(pair):
    p, c = pair
    p.send(b"not a tensor header", zipc.TYPE_TENSOR)
    p.put(np.arange(3, dtype=np.uint16))
    for copy in (True, False):
        with pytest.raises(zipc.CorruptedError) as e:
            c.get(timeout=5, copy=copy)
        assert e.value.raw == zipc.RawMessage(zipc.TYPE_TENSOR, b"not a tensor header")
        if copy:
            assert c.get(timeout=5).tolist() == [0, 1, 2]
            p.send(b"not a tensor header", zipc.TYPE_TENSOR)
    del e  # its traceback holds the in-place attempt's memoryview, and so the message
    gc.collect()
    assert c.stats()["messages"] == 3


def test_views_say_producer_seq_attempt(name):
    with zipc.Queue.open(name, "producer") as p0, zipc.Queue.open(name, "producer") as p1, \
            zipc.Queue.open(name, "consumer") as c:
        assert {p0.slot, p1.slot} == {0, 1} and c.slot == 0
        assert c.producers() == 2 and c.consumers() == 1
        p0.send(b"a", 7)
        p1.send(b"b", 8)
        p0.send(b"c", 9)
        seen = {}
        for _ in range(3):
            with c.view(timeout=5) as v:
                seen[bytes(v)] = (v.producer, v.seq, v.attempt, v.type_id)
        assert seen == {b"a": (p0.slot, 0, 1, 7), b"c": (p0.slot, 1, 1, 9), b"b": (p1.slot, 0, 1, 8)}


def test_channel_views_have_no_delivery(make_pair):
    prod, cons = make_pair()
    prod.send(b"x")
    with cons.view(timeout=5) as v:
        assert v.seq == 0 and v.producer is None and v.attempt is None


def test_raw_calls_reserve_recv_drain(pair):
    p, c = pair
    with p.reserve(5, type_id=3) as r:
        r[:] = b"hello"
    with p.reserve_tensor((2, 2), np.int32) as r:
        r.array[:] = [[1, 2], [3, 4]]
    p.send_many([b"m1", b"m2"], type_id=4)
    m = c.recv(timeout=5)
    assert (m.type_id, m.data) == (3, b"hello")
    t = c.recv_tensor(timeout=5)
    assert (t == [[1, 2], [3, 4]]).all()
    del t
    with c.drain(8, timeout=5) as batch:
        assert [bytes(v) for v in batch] == [b"m1", b"m2"]
    # views go back in any order
    p.send_many([b"x", b"y", b"z"])
    vs = [c.view(timeout=5) for _ in range(3)]
    vs[1].release()
    vs[2].release()
    vs[0].release()
    assert c.stats()["messages"] == 7


def test_empty_and_full_as_multiprocessing_queue(name):
    # the consumer outlives the producer: a producer that is the last member
    # with messages queued lingers at close (see test_close_lingers_*)
    with zipc.Queue.open(name, "consumer", lane_capacity=4096) as c, zipc.Queue.open(name, "producer") as p:
        assert p.capacity == 4096 and p.max_message == 4096 // 2 - 16
        for exc in (zipc.Empty, queue.Empty, zipc.Timeout):
            with pytest.raises(exc):
                c.get(timeout=0.01)
        with pytest.raises(queue.Empty):
            c.get_nowait()
        with pytest.raises(queue.Empty):
            c.get(block=False, timeout=5)  # block=False: the timeout is ignored, as multiprocessing's
        t0 = time.monotonic()
        with pytest.raises(queue.Full):
            for _ in range(100):  # 4 KiB lane: full after a few messages
                p.put(bytes(500), timeout=0.05)
        assert time.monotonic() - t0 < 5
        with pytest.raises(zipc.Full):
            p.put_nowait(b"more")
        with pytest.raises(zipc.Full):
            p.put_many([bytes(500)] * 20, timeout=0.05)
        c.get(timeout=5)  # room again
        p.put_nowait(b"fits")


def test_end_of_stream_ends_iteration(name):
    c = zipc.Queue.open(name, "consumer")
    with pytest.raises(zipc.Empty):  # no producer ever joined: not the end, just nothing yet
        c.get(timeout=0.05)
    with zipc.Queue.open(name, "producer") as p:
        p.put_many(["a", "b", "c"])
    assert list(c) == ["a", "b", "c"]
    with pytest.raises(zipc.PeerGone):
        c.get(timeout=5)
    with zipc.Queue.open(name, "producer") as p:  # a new stream
        p.put("again")
    assert list(c) == ["again"]
    c.close()
    assert list(c) == [] and c.closed


LATE_CONSUMER = """
import json, sys, time, zipc
time.sleep(0.3)  # the producer has sent everything and is closing by now
with zipc.Queue.open(sys.argv[1], "consumer") as q:
    print(json.dumps([obj for obj in q]), flush=True)
"""


def test_close_lingers_for_a_late_consumer(name):
    p = zipc.Queue.open(name, "producer")
    p.put_many([f"m{i}" for i in range(500)])
    kid = python_child(LATE_CONSUMER, name, stdout=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        p.close()  # returns once the consumer is in: the queue, and its messages, live on
        assert 0.2 < time.monotonic() - t0 < 10
        assert json.loads(kid.communicate(timeout=30)[0]) == [f"m{i}" for i in range(500)]
        assert kid.returncode == 0
    finally:
        kid.kill()


def test_close_alone_says_what_was_lost(name):
    p = zipc.Queue.open(name, "producer", timeout=0.3)
    p.put("nobody takes this")
    t0 = time.monotonic()
    with pytest.raises(zipc.Timeout, match="no consumer"):
        p.close()
    assert p.closed and time.monotonic() - t0 >= 0.25
    p = zipc.Queue.open(name, "producer", timeout=0.3)
    with pytest.raises(zipc.Timeout):
        p.put("x")
        p.linger(0.05)  # the wait alone, shorter than the open's
    t0 = time.monotonic()
    with zipc.Queue.open(name, "consumer") as c:
        p.close()  # a member holds the queue: at once
        assert time.monotonic() - t0 < 1
        assert c.get(timeout=5) == "x"
    with zipc.Queue.open(name, "producer") as empty:  # nothing queued: close returns at once
        pass
    assert empty.closed


def test_close_from_another_thread_ends_iteration(name):
    with zipc.Queue.open(name, "producer") as p:
        c = zipc.Queue.open(name, "consumer")
        p.put("one")
        got = []
        t = threading.Thread(target=lambda: got.extend(c))
        t.start()
        wait_for(lambda: got == ["one"], "the first message")
        time.sleep(0.1)  # blocked in get() now
        c.close()
        t.join(5)
        assert not t.is_alive() and got == ["one"]


def test_interrupt_raises_cancelled(pair):
    p, c = pair
    threading.Timer(0.1, c.interrupt).start()
    with pytest.raises(zipc.Cancelled):
        c.get(timeout=10)


def test_asyncio(pair):
    p, c = pair

    async def main():
        async def late():
            await asyncio.sleep(0.05)
            await p.put_async({"late": True})
            p.close()

        task = asyncio.create_task(late())
        got = [obj async for obj in c]
        await task
        return got

    assert asyncio.run(asyncio.wait_for(main(), 20)) == [{"late": True}]


def test_asyncio_timeout_is_empty(pair):
    p, c = pair
    with pytest.raises(zipc.Empty):
        asyncio.run(c.get_async(timeout=0.05))


# ---- bad arguments -------------------------------------------------------------------

def test_bad_arguments_raise_clear_errors(name):
    with pytest.raises(ValueError, match="role"):
        zipc.Queue.open(name, "both")
    with pytest.raises(TypeError):
        zipc.Queue.open(name)  # the role is not guessed
    with pytest.raises(ValueError, match="name"):
        zipc.Queue.open("/tmp/some/path", "producer")
    for bad in (100, 1 << 31, -1, "big", 1.5, True):
        with pytest.raises(ValueError, match="lane_capacity"):
            zipc.Queue.open(name, "producer", lane_capacity=bad)
    with pytest.raises(ValueError, match="timeout"):
        zipc.Queue.open(name, "producer", timeout=-1)
    with pytest.raises(zipc.InvalidArgument):
        zipc.Queue.open("bad name!", "producer")
    with pytest.raises(zipc.InvalidArgument):
        zipc.Queue.open("n" * 100, "producer")
    with pytest.raises(TypeError, match="Queue.open"):
        zipc._zipc.Queue()
    with zipc.Queue.open(name, "producer", lane_capacity=4096) as p, zipc.Queue.open(name, "consumer") as c:
        with pytest.raises(zipc.InvalidArgument, match="consumer"):
            c.put(b"x")
        with pytest.raises(zipc.InvalidArgument, match="producer"):
            p.get(timeout=0)
        with pytest.raises(TypeError, match="cannot send"):
            p.put(object())
        with pytest.raises(zipc.InvalidArgument, match="max_message"):
            p.put(bytes(p.max_message + 1))
        with pytest.raises(ValueError, match="timeout"):
            c.get(timeout=-1)
        with pytest.raises(ValueError, match="max_messages"):
            c.get_many(0)
    with zipc.Queue.open(name, "consumer", lane_capacity=0) as c:  # 0: the default, as in C
        assert c.capacity == 1 << 20
        with pytest.raises(TypeError, match="name"):  # multiprocessing would pickle it for a child
            pickle.dumps(c)
    # the creator's layout wins; an attaching member gets it
    with zipc.Queue.open(name, "producer", lane_capacity=8192, at_most_once=True) as p, \
            zipc.Queue.open(name, "consumer", lane_capacity=1 << 20) as c:
        assert c.capacity == 8192 and c.at_most_once and p.at_most_once


def test_thirty_three_producers_do_not_fit(name):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 34 * (2 + zipc_slots())  # each endpoint: the segment, an eventfd per member slot, its socket
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"needs {need} descriptors (ulimit -Hn is {hard})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    ps = []
    try:
        for _ in range(32):
            ps.append(zipc.Queue.open(name, "producer", lane_capacity=4096))
        with pytest.raises(zipc.Error) as e:
            zipc.Queue.open(name, "producer", lane_capacity=4096)
        assert e.value.errno == 28  # ENOSPC
    finally:
        for p in ps:
            p.close()


# ---- processes: 2 producers x 2 consumers -------------------------------------------

PRODUCER = """
import sys, numpy as np, zipc
name, tag, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def item(i):
    k = i % 5
    if k == 0: return f"{tag}:{i}".encode()
    if k == 1: return f"{tag}:{i}"
    if k == 2: return {"p": tag, "i": i}
    if k == 3: return np.full((2, i % 7 + 1), tag * 1_000_000 + i, dtype=np.int64)
    return [f"{tag}:{i}", np.arange(i % 50, dtype=np.float32)]

with zipc.Queue.open(name, "producer", lane_capacity=1 << 16) as q:
    print("joined", flush=True)
    i = 0
    while i < n:  # one at a time and in batches
        if i % 100 < 50:
            q.put(item(i), timeout=30)
            i += 1
        else:
            q.put_many([item(j) for j in range(i, min(i + 25, n))], timeout=30)
            i = min(i + 25, n)
"""

CONSUMER = """
import json, sys, numpy as np, zipc

def key(obj):
    if isinstance(obj, bytes): return obj.decode()
    if isinstance(obj, str): return obj
    if isinstance(obj, dict): return f"{obj['p']}:{obj['i']}"
    if isinstance(obj, np.ndarray):
        v = int(obj.flat[0])
        p, i = divmod(v, 1_000_000)
        assert obj.dtype == np.int64 and obj.shape == (2, i % 7 + 1) and (obj == v).all(), obj
        return f"{p}:{i}"
    s, a = obj
    i = int(s.split(":")[1])
    assert a.dtype == np.float32 and (a == np.arange(i % 50)).all(), a
    return s

q = zipc.Queue.open(sys.argv[1], "consumer", lane_capacity=1 << 16)
print("joined", flush=True)
got = [key(obj) for obj in q]  # until the end of the stream
print(json.dumps({"got": got, "stats": q.stats()}), flush=True)
"""


def test_two_producers_two_consumers_exactly_once(name):
    n = 2000
    # the parent holds a producer until both children have joined: the stream
    # cannot end between one child leaving and the other coming
    holder = zipc.Queue.open(name, "producer", lane_capacity=1 << 16)
    cons = [python_child(CONSUMER, name, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    prods = [python_child(PRODUCER, name, tag, n, stdout=subprocess.PIPE, text=True) for tag in (1, 2)]
    try:
        for k in cons + prods:
            assert k.stdout.readline() == "joined\n"
        holder.close()
        for k in prods:
            assert k.wait(60) == 0
        reports = [json.loads(k.communicate(timeout=60)[0]) for k in cons]
        assert [k.returncode for k in cons] == [0, 0]
    finally:
        for k in cons + prods:
            k.kill()
    got = reports[0]["got"] + reports[1]["got"]
    assert len(got) == len(set(got)) == 2 * n  # each exactly once
    assert set(got) == {f"{p}:{i}" for p in (1, 2) for i in range(n)}
    for r in reports:  # FIFO per producer, within what each consumer took
        for p in ("1", "2"):
            mine = [int(k.split(":")[1]) for k in r["got"] if k.split(":")[0] == p]
            assert mine == sorted(mine)
        assert r["stats"]["redelivered"] == 0


# ---- a consumer killed holding views --------------------------------------------------

HOLDER = """
import json, sys, time, zipc
q = zipc.Queue.open(sys.argv[1], "consumer")
views = [q.view(timeout=10) for _ in range(int(sys.argv[2]))]
print(json.dumps([[v.producer, v.seq, v.attempt, bytes(v).decode()] for v in views]), flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("at_most_once", [False, True])
def test_killed_consumer_messages_come_again_or_not(name, at_most_once):
    n, held = 20, 5
    with zipc.Queue.open(name, "producer", at_most_once=at_most_once) as p:
        for i in range(n):
            p.put(f"m{i}".encode())
        kid = python_child(HOLDER, name, held, stdout=subprocess.PIPE, text=True)
        try:
            holding = json.loads(kid.stdout.readline())
            assert [h[2] for h in holding] == [1] * held
            kid.send_signal(signal.SIGKILL)
            assert kid.wait(10) == -signal.SIGKILL
        finally:
            kid.kill()
        c = zipc.Queue.open(name, "consumer")  # the dead one's views come back as its death is seen
        p.close()
        got = {}
        for _ in range(n + 1):
            try:
                with c.view(timeout=10) as v:
                    got[bytes(v).decode()] = (v.producer, v.seq, v.attempt)
            except zipc.PeerGone:
                break
        stats = c.stats()
        c.close()
    taken = {h[3]: (h[0], h[1]) for h in holding}
    if at_most_once:  # dropped: never seen again
        assert set(got) == {f"m{i}" for i in range(n)} - set(taken)
        assert all(a == 1 for _, _, a in got.values()) and stats["redelivered"] == 0
    else:  # at-least-once: the same (producer, seq), attempt 2
        assert set(got) == {f"m{i}" for i in range(n)}
        for body, (prod, seq, attempt) in got.items():
            assert attempt == (2 if body in taken else 1)
            if body in taken:
                assert (prod, seq) == taken[body]
        assert stats["redelivered"] == held


FILLER = """
import sys, zipc
q = zipc.Queue.open(sys.argv[1], "producer", lane_capacity=4096)
i = 0
while True:
    try:
        q.put(i, timeout=0.05)
    except zipc.Full:
        print(i, flush=True)  # the lane is full: i messages are in it
        break
    i += 1
q.put(i)  # blocks: the lane stays full until the kill
"""


def test_killed_producer_its_messages_then_the_end(name):
    with zipc.Queue.open(name, "consumer", lane_capacity=4096) as c:
        kid = python_child(FILLER, name, stdout=subprocess.PIPE, text=True)
        try:
            n = int(kid.stdout.readline())
            assert n > 10
            kid.send_signal(signal.SIGKILL)
            assert kid.wait(10) == -signal.SIGKILL
        finally:
            kid.kill()
        assert list(c) == list(range(n))  # what it committed, in order, then the end of the stream


# ---- Ctrl-C ------------------------------------------------------------------------

BLOCKED = """
import sys, zipc
q = zipc.Queue.open(sys.argv[1], "consumer")
print("ready", flush=True)
try:
    q.get()
except KeyboardInterrupt:
    print("interrupted", flush=True)
    raise
"""


def test_ctrl_c_interrupts_a_blocked_get(name):
    with zipc.Queue.open(name, "producer") as p:  # attached: no end of stream
        kid = python_child(BLOCKED, name, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert kid.stdout.readline() == "ready\n"
            wait_for(lambda: p.consumers() == 1, "the consumer")
            time.sleep(0.3)  # inside get() now
            t0 = time.monotonic()
            kid.send_signal(signal.SIGINT)
            out, err = kid.communicate(timeout=5)
            assert time.monotonic() - t0 < 1.0
        finally:
            kid.kill()
        assert "interrupted" in out and "KeyboardInterrupt" in err
        assert kid.returncode in (-signal.SIGINT, 1, 130)
        wait_for(lambda: p.consumers() == 0, "the consumer's departure")


# ---- a C producer --------------------------------------------------------------------

C_PRODUCER = r"""
#include <stdio.h>
#include <string.h>
#include "zipc.h"
#include "zipc/tensor.h"
#include "zipc/types.h"

int main(int argc, char **argv)
{
    zipc_queue *q;
    int err = zipc_queue_open(&q, argv[1], ZIPC_ROLE_PRODUCER, NULL, NULL);
    if (err) {
        fprintf(stderr, "open: %s\n", zipc_strerror(err));
        return 1;
    }
    char text[32];
    for (int i = 0; i < 100 && !err; i++) {
        int n = snprintf(text, sizeof text, "c:%d", i);
        err = zipc_queue_send(q, text, (size_t)n, i % 2 ? ZIPC_TYPE_STR : ZIPC_TYPE_BYTES, ZIPC_FOREVER);
    }
    int64_t shape[2] = {2, 3};
    struct zipc_tensor_header h;
    zipc_tensor_init(&h, ZIPC_DTYPE_FLOAT, 32, 1, 2, shape);
    void *buf;
    if (!err && !(err = zipc_queue_reserve(q, h.data_offset + h.nbytes, &buf, ZIPC_FOREVER))) {
        memcpy(buf, &h, sizeof h);
        float *f = (float *)((char *)buf + h.data_offset);
        for (int j = 0; j < 6; j++)
            f[j] = (float)j / 2;
        err = zipc_queue_commit(q, h.data_offset + h.nbytes, ZIPC_TYPE_TENSOR, 0);
    }
    zipc_queue_close(q);
    if (err)
        fprintf(stderr, "send: %s\n", zipc_strerror(err));
    return err ? 1 : 0;
}
"""


@pytest.fixture(scope="session")
def c_queue_producer(tmp_path_factory):
    from cbuild import compiler, repo_root

    root, cc = repo_root(), compiler()
    if root is None or cc is None:
        pytest.skip("needs the zipc source tree and a C compiler")
    d = tmp_path_factory.mktemp("cq")
    (d / "p.c").write_text(C_PRODUCER)
    exe = d / "p"
    cmd = [cc, "-std=c11", "-O1", "-D_GNU_SOURCE", f"-I{root / 'include'}", f"-I{root / 'src'}", str(d / "p.c"),
           *map(str, sorted((root / "src").glob("*.c"))), "-o", str(exe), "-lpthread"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"building the C queue producer failed: {proc.stderr[:2000]}")
    return exe


def test_c_producer_to_python_consumer(name, c_queue_producer):
    with zipc.Queue.open(name, "consumer") as c:
        kid = subprocess.run([str(c_queue_producer), name], capture_output=True, text=True, timeout=60)
        assert kid.returncode == 0, kid.stderr
        got = list(c)
    assert got[:100] == [f"c:{i}".encode() if i % 2 == 0 else f"c:{i}" for i in range(100)]
    assert got[100].dtype == np.float32 and (got[100] == np.arange(6).reshape(2, 3) / 2).all()
    assert len(got) == 101

"""zipc.RpcClient / zipc.RpcWorker with real processes.

Worker processes serving typed calls (bytes, str, JSON, NumPy arrays, lists)
to sync calls and to 1000 concurrent asyncio calls on one client, each reply
matched to its call; a deadline failing a call with Timeout at once; cancel
(sync and by cancelling the awaiting task) seen by the worker; a worker
SIGKILLed holding calls failing them with ConnectionReset (an idempotent one
run again by another worker); Ctrl-C in a blocked call; replies in place;
bad input raising clear errors."""
import asyncio
import errno
import itertools
import json
import os
import pickle
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
    """A fresh service name (abstract: nothing on disk)."""
    return f"rpcpy-{os.getpid()}-{next(_names)}"


# Methods of the worker below.
ECHO, DOUBLE, FAIL, SLEEP, WAIT_CANCEL, CANCELS_SEEN, HOLD = range(7)

WORKER = """
import os, sys, time, zipc
name = sys.argv[1]
cancels = []

def handler(req):
    m = req.method
    if m == 0: return req.data
    if m == 1: return req.data * 2
    if m == 2: raise ValueError(f"no good: {req.data}")
    if m == 3:
        time.sleep(req.data)
        return [os.getpid(), req.attempt]
    if m == 4:  # wait until the caller gives up on it
        end = time.monotonic() + 10
        while not req.cancelled() and time.monotonic() < end:
            time.sleep(0.005)
        cancels.append([req.id, req.cancelled(), req.deadline is not None])
        return "seen"
    if m == 5: return cancels
    if m == 6: return ["run again", req.attempt, os.getpid()]
    raise OSError(38, "no such method")  # ENOSYS

with zipc.RpcWorker.serve(name) as w:
    print("ready", flush=True)
    w.serve_forever(handler)
"""

HOLDER = """
import sys, time, zipc
w = zipc.RpcWorker.serve(sys.argv[1])
held = [w.next(timeout=10) for _ in range(int(sys.argv[2]))]
print("holding", [r.id for r in held], flush=True)
time.sleep(60)
"""


def start_workers(name, n, script=WORKER, *args):
    kids = [python_child(script, name, *args, stdout=subprocess.PIPE, text=True) for _ in range(n)]
    for k in kids:
        assert k.stdout.readline().startswith(("ready", "holding"))
    return kids


def stop(kids):
    for k in kids:
        k.kill()
        k.wait(10)


@pytest.fixture
def workers(name):
    """Two worker processes serving `name`."""
    kids = start_workers(name, 2)
    yield kids
    stop(kids)


# ---- sync calls ---------------------------------------------------------------------

def test_sync_calls_of_every_kind(name, workers):
    with zipc.RpcClient.connect(name) as c:
        for obj in (b"raw bytes", "text", {"k": [1, 2.5, None]}, 42, [b"x", "y", np.arange(3)]):
            got = c.call(obj, ECHO)
            if isinstance(obj, list):
                assert got[:2] == obj[:2] and (got[2] == obj[2]).all()
            else:
                assert got == obj and type(got) is type(obj)
        for arr in (np.arange(12, dtype=np.int16).reshape(3, 4), np.ones((2, 2, 2), np.float64),
                    np.array([True, False]), np.arange(6, dtype=np.complex64)[::2]):
            got = c.call(arr, DOUBLE, reply_capacity=1 << 16)
            assert got.dtype == (arr * 2).dtype and got.shape == arr.shape and (got == arr * 2).all()
            assert got.flags.writeable  # a copy
        with pytest.raises(zipc.CorruptedError) as e:  # a raw request where the worker reads a typed one
            c.call(b"plain", ECHO, raw=True)
        assert "not a typed request" in e.value.reply
        assert c.in_flight() == 0 and c.pending() == frozenset()


def test_calls_run_in_parallel_on_the_pool(name, workers):
    with zipc.RpcClient.connect(name) as c:
        t0 = time.monotonic()
        ids = [c.submit(0.4, SLEEP) for _ in range(4)]
        got = {}
        for _ in ids:
            call_id, (pid, attempt) = c.wait(None, timeout=10)
            got[call_id] = pid
        elapsed = time.monotonic() - t0
    assert sorted(got) == sorted(ids)
    assert set(got.values()) == {k.pid for k in workers}  # both workers served
    assert elapsed < 1.5  # 4 x 0.4 s on two workers: two rounds, not four


def test_worker_errors_become_exceptions(name, workers):
    with zipc.RpcClient.connect(name) as c:
        with pytest.raises(zipc.Error) as e:
            c.call("abc", FAIL)
        assert e.value.errno == errno.EREMOTEIO and "ValueError: no good: abc" in str(e.value)
        assert e.value.reply == "ValueError: no good: abc"
        with pytest.raises(zipc.Error) as e:
            c.call(None, 99)
        assert e.value.errno == errno.ENOSYS and "no such method" in e.value.reply
        # a reply larger than the room made for it: the worker answers EMSGSIZE instead
        with pytest.raises(zipc.InvalidArgument) as e:
            c.call(np.zeros(1000), DOUBLE, reply_capacity=256)
        assert e.value.errno == errno.EMSGSIZE
        assert c.call("still fine") == "still fine"


# ---- asyncio ----------------------------------------------------------------------------

def test_a_thousand_concurrent_async_calls(name, workers):
    rng = np.random.default_rng(7)
    dtypes = [np.float32, np.int64, np.uint8, np.float64]
    args = [rng.integers(0, 100, size=(int(rng.integers(1, 5)), int(rng.integers(1, 20)))).astype(dtypes[i % 4])
            for i in range(1000)]

    async def main(c):
        calls = [c.call_async(a, DOUBLE, reply_capacity=1024, timeout=60) for a in args]
        return await asyncio.gather(*calls)

    with zipc.RpcClient.connect(name) as c:
        t0 = time.monotonic()
        got = asyncio.run(main(c))
        elapsed = time.monotonic() - t0
        assert c.in_flight() == 0 and c.pending() == frozenset()
    assert len(got) == 1000
    for a, r in zip(args, got):  # each reply is its own call's
        assert r.dtype == a.dtype and r.shape == a.shape and (r == a * 2).all()
    print(f"1000 concurrent calls in {elapsed:.2f} s")


def test_async_deadline_and_task_cancel(name):
    kids = start_workers(name, 1)
    try:
        with zipc.RpcClient.connect(name) as c:
            async def main():
                t0 = time.monotonic()
                with pytest.raises(zipc.Timeout):
                    await c.call_async(None, WAIT_CANCEL, timeout=0.1)
                late = time.monotonic() - t0
                task = asyncio.ensure_future(c.call_async(None, WAIT_CANCEL))
                await asyncio.sleep(0.2)  # the worker holds it now
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert c.pending() == frozenset()
                # the worker saw both calls cancelled (and answered; the answers were dropped)
                for _ in range(100):
                    seen = await c.call_async(None, CANCELS_SEEN, timeout=10)
                    if len(seen) == 2:
                        break
                    await asyncio.sleep(0.05)
                return late, seen

            late, seen = asyncio.run(main())
        assert late < 0.4
        assert [s[1] for s in seen] == [True, True]
        assert [s[2] for s in seen] == [True, False]  # the first had a deadline, the second none
    finally:
        stop(kids)


# ---- deadlines and cancel (sync) -------------------------------------------------------

def test_deadline_raises_timeout_quickly(name, workers):
    with zipc.RpcClient.connect(name) as c:
        t0 = time.monotonic()
        with pytest.raises(zipc.Timeout) as e:
            c.call(5.0, SLEEP, timeout=0.1)
        assert time.monotonic() - t0 < 0.4
        assert isinstance(e.value, TimeoutError) and e.value.errno == errno.ETIMEDOUT
        assert c.in_flight() == 0
        # the wait's own timeout: the call stays in flight
        call_id = c.submit(0.5, SLEEP)
        with pytest.raises(zipc.Timeout):
            c.wait(call_id, timeout=0.05)
        assert call_id in c.pending()
        assert c.wait(call_id, timeout=10)[1] == 1


def test_cancel_reaches_the_worker(name):
    kids = start_workers(name, 1)
    try:
        with zipc.RpcClient.connect(name) as c:
            call_id = c.submit(None, WAIT_CANCEL)
            time.sleep(0.2)  # taken
            c.cancel(call_id)
            with pytest.raises(zipc.InvalidArgument):
                c.wait(call_id)
            with pytest.raises(zipc.InvalidArgument):
                c.cancel(call_id)
            # cancelled before any worker took it: never handed out
            blocker = c.submit(0.3, SLEEP)
            skipped = c.submit("never", FAIL)
            c.cancel(skipped)
            c.wait(blocker)
            deadline = time.monotonic() + 10
            while len(seen := c.call(None, CANCELS_SEEN)) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert seen == [[call_id, True, False]]
            assert c.in_flight() == 0
    finally:
        stop(kids)


# ---- a worker killed mid-call -------------------------------------------------------------

def test_killed_worker_fails_its_calls_with_reset(name):
    with zipc.RpcClient.connect(name) as c:
        plain = c.submit(None, HOLD)
        again = c.submit(None, HOLD, idempotent=True)
        holder = python_child(HOLDER, name, 2, stdout=subprocess.PIPE, text=True)
        try:
            line = holder.stdout.readline()
            assert line.startswith("holding"), line
            assert sorted(json.loads(line[len("holding "):])) == sorted([plain, again])
            backup = start_workers(name, 1)  # answers what comes back
            t0 = time.monotonic()
            holder.send_signal(signal.SIGKILL)
            assert holder.wait(10) == -signal.SIGKILL
            with pytest.raises(zipc.ConnectionReset) as e:
                c.wait(plain, timeout=20)
            assert isinstance(e.value, ConnectionResetError) and e.value.errno == errno.ECONNRESET
            assert e.value.call_id == plain
            assert c.wait(again, timeout=20) == ["run again", 2, backup[0].pid]  # idempotent: run once more
            assert time.monotonic() - t0 < 10
            assert c.call("after", ECHO, timeout=10) == "after"
        finally:
            holder.kill()
            stop(locals().get("backup", []))


# ---- Ctrl-C ---------------------------------------------------------------------------------

BLOCKED_CALL = """
import sys, zipc
c = zipc.RpcClient.connect(sys.argv[1])
print("ready", flush=True)
try:
    c.call(30.0, 3)
except KeyboardInterrupt:
    print("interrupted", c.in_flight(), flush=True)
    raise
"""


def test_ctrl_c_interrupts_a_blocked_call(name, workers):
    kid = python_child(BLOCKED_CALL, name, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert kid.stdout.readline() == "ready\n"
        time.sleep(0.5)  # inside call() now
        t0 = time.monotonic()
        kid.send_signal(signal.SIGINT)
        out, err = kid.communicate(timeout=5)
        assert time.monotonic() - t0 < 1.0
    finally:
        kid.kill()
    assert "interrupted 0" in out and "KeyboardInterrupt" in err  # and the call was cancelled


# ---- one process: the request, replies in place, the worker's surface -----------------------

@pytest.fixture
def both(name):
    with zipc.RpcClient.connect(name) as c, zipc.RpcWorker.serve(name) as w:
        yield c, w


def test_request_surface_and_replies_in_place(both):
    c, w = both
    arr = np.arange(20, dtype=np.float32).reshape(4, 5)
    call_id = c.submit(arr, 7, timeout=5, reply_capacity=1 << 12, idempotent=True)
    req = w.next(timeout=5)
    assert (req.id, req.method, req.attempt, req.idempotent, req.reply_capacity) == (call_id, 7, 1, True, 1 << 12)
    assert 0 < req.deadline - time.monotonic() <= 5
    assert not req.cancelled() and not req.answered
    view = req.object(copy=False)
    assert not view.flags.writeable and (view == arr).all()
    with pytest.raises(BufferError):  # the array is over the caller's frame
        w.respond(req, view)
    copy = req.data
    del view
    w.respond(req, copy + 1)
    assert req.answered
    with pytest.raises(ValueError):
        w.respond(req, 0)
    with pytest.raises(ValueError):
        bytes(req)
    got = c.wait(call_id, copy=False)
    assert not got.flags.writeable and (got == arr + 1).all()
    assert c.in_flight() == 1  # the array holds the reply's frame
    del got
    assert c.in_flight() == 0
    # bytes in place: a memoryview, released by hand
    call_id = c.submit(b"abc")
    w.respond(w.next(timeout=5), b"xyz" * 10)
    mv = c.wait(call_id, copy=False)
    assert bytes(mv) == b"xyz" * 10 and c.in_flight() == 1
    mv.release()
    assert c.in_flight() == 0


def test_raw_requests_and_replies(both):
    c, w = both
    call_id = c.submit(b"\x01\x02\x03", 1, raw=True)
    req = w.next(timeout=5)
    assert bytes(req) == req.tobytes() == b"\x01\x02\x03" and len(req) == 3
    with pytest.raises(zipc.CorruptedError):  # not a typed request
        req.data
    w.respond(req, b"answer", type_id=77)
    assert c.wait(call_id) == zipc.RawMessage(77, b"answer")
    # an error status with no payload
    call_id = c.submit("x")
    w.respond(w.next(timeout=5), status=-errno.EPERM)
    with pytest.raises(zipc.PermissionDenied) as e:
        c.wait(call_id)
    assert e.value.reply is None


def test_dropped_request_resets_its_call(both):
    c, w = both
    call_id = c.submit("x")
    req = w.next(timeout=5)
    del req  # never answered
    with pytest.raises(zipc.ConnectionReset):
        c.wait(call_id, timeout=5)


def test_close_from_another_thread_stops_serve_forever(both):
    _, w = both
    t = threading.Thread(target=w.serve_forever, args=(lambda r: r.data,))
    t.start()
    time.sleep(0.2)
    w.close()
    t.join(5)
    assert not t.is_alive() and w.closed


def test_worker_next_async(both):
    c, w = both

    async def main():
        call_id = c.submit([1, 2])
        req = await w.next_async(timeout=5)
        w.respond(req, req.data + [3])
        return c.wait(call_id, timeout=5)

    assert asyncio.run(main()) == [1, 2, 3]


def test_bad_input_raises_clear_errors(name, both):
    c, w = both
    with pytest.raises(TypeError):
        c.call(object())
    with pytest.raises(TypeError):
        c.submit("text", raw=True)
    with pytest.raises(ValueError):
        c.submit(1, -1)
    with pytest.raises(ValueError):
        c.submit(1, 2 ** 32)
    with pytest.raises(ValueError):
        c.submit(1, reply_capacity="big")
    with pytest.raises(ValueError):
        c.submit(1, timeout=-1)
    with pytest.raises(zipc.InvalidArgument) as e:  # larger than a frame of the lane
        c.submit(np.zeros(1 << 20, np.uint8))
    assert e.value.errno == errno.EMSGSIZE
    with pytest.raises(zipc.InvalidArgument):
        c.cancel(12345)
    with pytest.raises(zipc.InvalidArgument):
        c.wait(12345)
    with pytest.raises(zipc.InvalidArgument):
        c.wait(None, timeout=1)  # nothing in flight
    with pytest.raises(TypeError):
        w.respond("not a request", 1)
    with pytest.raises(TypeError):
        pickle.dumps(c)
    with pytest.raises(TypeError):
        zipc.RpcClient()
    with pytest.raises(ValueError):
        zipc.RpcClient.connect("a/path")
    with pytest.raises(ValueError):
        zipc.RpcWorker.serve(name, lane_capacity=5)
    call_id = c.submit(1)
    req = w.next(timeout=5)
    with pytest.raises(ValueError):
        w.respond(req, 1, status=5)
    with pytest.raises(zipc.InvalidArgument):  # larger than reply_capacity: still open
        w.respond(req, bytes(5000))
    w.respond(req, 2)
    assert c.wait(call_id) == 2
    q = zipc.Queue.open(name + "-q", "consumer")
    with pytest.raises(zipc.Error) as e:
        zipc.RpcWorker.serve(name + "-q")
    assert e.value.errno == errno.EPROTOTYPE
    q.close()
    c.close()
    with pytest.raises(ValueError):
        c.call(1)
    with pytest.raises(ValueError):
        c.in_flight()
    w.close()
    with pytest.raises(ValueError):
        w.next(timeout=0)


# ---- streamed replies ------------------------------------------------------------------

STREAMER = """
import sys, numpy as np, zipc
with zipc.RpcWorker.serve(sys.argv[1]) as w:
    print("ready", flush=True)
    while True:
        try:
            req = w.next()
        except zipc.Cancelled:
            break
        try:
            for i in range(req.data):
                w.respond_part(req, np.full(1000, i, dtype=np.float32), timeout=10)
            w.respond(req, "end")
        except zipc.Cancelled:  # the caller gave up on the stream
            w.respond(req, status=-125)
"""


def test_streamed_reply_parts_in_order(name):
    kids = start_workers(name, 1, STREAMER)
    try:
        with zipc.RpcClient.connect(name) as c:
            got = list(c.stream(5, timeout=10, reply_capacity=8192))
            assert len(got) == 6 and got[-1] == "end"
            for i, part in enumerate(got[:-1]):
                assert part.dtype == np.float32 and part.shape == (1000,) and (part == i).all()
            # in place: each part released before the next comes
            total = 0
            for part in c.stream(50, timeout=10, reply_capacity=8192, copy=False):
                if isinstance(part, str):
                    assert part == "end"
                    break
                assert not part.flags.writeable
                total += int(part[0])
                del part
            assert total == sum(range(50))
            # wait() hands parts out one by one, the call staying in flight
            call_id = c.submit(2, timeout=10, reply_capacity=8192)
            first = c.wait(call_id)
            assert isinstance(first, zipc.ReplyPart) and first.index == 1 and (first.value == 0).all()
            assert call_id in c.pending()
            second = c.wait(call_id)
            assert second.index == 2 and (second.value == 1).all()
            assert c.wait(call_id) == "end" and call_id not in c.pending()
            # a call that wants one reply is told, and the call is cancelled
            with pytest.raises(zipc.InvalidArgument, match="stream"):
                c.call(3, timeout=10, reply_capacity=8192)

            async def one():
                return await c.call_async(3, timeout=10, reply_capacity=8192)

            with pytest.raises(zipc.InvalidArgument, match="stream"):
                asyncio.run(one())
            # asyncio: streams at once on one client, with plain calls beside them

            async def streams():
                async def one(n):
                    return [p async for p in c.stream_async(n, timeout=10, reply_capacity=8192)]

                async def early():
                    async for p in c.stream_async(1000, timeout=10, reply_capacity=8192):
                        return p  # leaving early cancels the call

                return await asyncio.gather(one(3), one(0), one(7), early())

            three, none, seven, first = asyncio.run(streams())
            assert none == ["end"] and three[-1] == seven[-1] == "end"
            assert [int(p[0]) for p in three[:-1]] == [0, 1, 2] and [int(p[0]) for p in seven[:-1]] == list(range(7))
            assert (first == 0).all()
            # leaving a stream early cancels it; the worker goes on serving
            for part in c.stream(1000, timeout=10, reply_capacity=8192):
                break
            assert list(c.stream(1, timeout=10, reply_capacity=8192))[-1] == "end"
            assert c.in_flight() == 0
    finally:
        stop(kids)


def test_streamed_part_not_released_in_time(both):
    c, w = both
    call_id = c.submit(b"go", timeout=10)
    req = w.next(timeout=5)
    with pytest.raises(zipc.Timeout):  # nobody reads the part
        w.respond_part(req, b"part one", timeout=0.05)
    with pytest.raises(zipc.Error) as err:  # its room may still be read: no bytes may go there
        w.respond(req, b"final")
    assert err.value.errno == errno.EBUSY and not req.answered
    with pytest.raises(zipc.Error):
        w.respond_part(req, b"part two", timeout=0.05)
    part = c.wait(call_id, timeout=5)  # a copy: the part is released
    assert part.index == 1 and part.value == b"part one"
    w.respond(req, b"final")  # its room is free again
    assert c.wait(call_id, timeout=5) == b"final"
    # a status-only end is always possible, even with a part out
    call_id = c.submit(b"go", timeout=10)
    req = w.next(timeout=5)
    with pytest.raises(zipc.Timeout):
        w.respond_part(req, b"part one", timeout=0.05)
    w.respond(req, status=-errno.EPIPE)
    part = c.wait(call_id, timeout=5)
    assert part.index == 1 and part.value == b"part one"
    with pytest.raises(zipc.Error) as err:
        c.wait(call_id, timeout=5)
    assert err.value.errno == errno.EPIPE

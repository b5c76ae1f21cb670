"""The rows of python -m zipc.bench that are not zipc: the peers users compare zipc
with, each used as its documentation shows, and two baselines.

Each run_* function runs in the row's consumer process (pinned, see bench.py):
it forks the producer (pinned to the other CPU), receives and checks all n
messages of the workload (_bench_work.Work) and returns (messages, seconds).
"""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import tempfile
import time

from ._bench_work import BATCH, CAPACITY, Clock, Work, msg32, pin

STALL_S = 30.0  # a producer silent this long fails the row

# name: (module to import, how to get it)
PEERS = {
    "tachyon": ("tachyon", "pip install tachyon-ipc (needs C++23: CC=clang-19 CXX=clang++-19 "
                           "LDFLAGS='-flto -fuse-ld=gold'; make bench-python-env does it)"),
    "iceoryx2": ("iceoryx2", "pip install iceoryx2"),
    "pyzmq": ("zmq", "pip install pyzmq"),
    "faster-fifo": ("faster_fifo", "pip install faster-fifo"),
    "ipc0cp": ("ipc0cp", "pip install ipc0cp"),
}


def spawn(target, *args) -> mp.Process:
    """Start the producer: target(*args) in a forked process pinned to the producer's CPU."""
    p = mp.get_context("fork").Process(target=_producer_main, args=(target, args), daemon=False)
    p.start()
    return p


def _producer_main(target, args) -> None:
    pin(1)
    target(*args)


def finish(p: mp.Process, clock: Clock, work: Work, ready: Ready | None = None) -> tuple[int, float]:
    """The row's result once the producer (told that all arrived, if it waits for it) has exited cleanly."""
    result = clock.result(work)
    if ready:
        ready.set_done()
    p.join(STALL_S)
    if p.exitcode != 0:
        raise RuntimeError(f"the producer exited with {p.exitcode}")
    return result


def sock_path(what: str) -> str:
    return os.path.join(tempfile.mkdtemp(prefix="zipc-bench-"), what)


def retry(call, until: float = STALL_S):
    """call() until it stops raising (a peer not there yet), at most `until` seconds."""
    end = time.monotonic() + until
    while True:
        try:
            return call()
        except Exception:
            if time.monotonic() > end:
                raise
            time.sleep(0.001)


class Ready:
    """Two one-shot signals from the consumer to its producer, through pipes."""

    def __init__(self):
        self._r, self._w = os.pipe()
        self._dr, self._dw = os.pipe()

    def set(self) -> None:
        os.write(self._w, b"r")

    def wait(self, timeout: float) -> None:
        self._read(self._r, timeout)

    def set_done(self) -> None:
        os.write(self._dw, b"d")

    def wait_done(self, timeout: float) -> None:
        self._read(self._dr, timeout)

    @staticmethod
    def _read(fd: int, timeout: float) -> None:
        import select
        if not select.select([fd], [], [], timeout)[0]:
            raise TimeoutError("the consumer never signalled")
        os.read(fd, 1)


# ---- Tachyon (tachyon-ipc): SPSC ring, Bus API -------------------------------------

def _tachyon_capacity(kind: str) -> int:
    """The ring of the other rows, or larger: Tachyon's consumer hands space back only
    every 32 messages, so a ring of fewer than ~40 messages stalls for good (1 MiB: 64 MiB)."""
    cap = CAPACITY[kind]
    while cap < 48 * (Work(kind, 0).size + 64):
        cap *= 2
    return cap


def _tachyon_tx(raw, size: int):
    """A TX slot; acquire_tx raises TachyonError while the ring is full: retry (backpressure)."""
    import tachyon
    end = None
    while True:
        try:
            return raw.acquire_tx(size)
        except tachyon.PeerDeadError:
            raise
        except tachyon.TachyonError:
            end = end or time.monotonic() + STALL_S
            if time.monotonic() > end:
                raise


def tachyon_producer(path: str, kind: str, n: int) -> None:
    import tachyon
    work = Work(kind, n)
    with retry(lambda: tachyon.Bus.connect(path)) as bus:
        raw = bus._bus  # Bus.send() has no backpressure: a full ring raises
        for i in range(n):
            tx = _tachyon_tx(raw, work.size)
            with tx:  # as Bus.send / Bus.send_zero_copy do, one flush per message
                with memoryview(tx) as m:
                    if work.is_array:
                        a = work.np.frombuffer(m, work.np.float32, work.len)
                        work.fill(i, a)  # written in place (zero-copy TX)
                        del a
                    else:
                        m[:32] = msg32(i)
                tx.actual_size = work.size
            raw.flush()


def run_tachyon(kind: str, n: int) -> tuple[int, float]:
    import tachyon
    path = sock_path("tachyon")
    work, clock = Work(kind, n), Clock()
    p = spawn(tachyon_producer, path, kind, n)
    with tachyon.Bus.listen(path, _tachyon_capacity(kind)) as bus:  # blocks until the producer connects
        while not work.done:
            with bus.drain_batch(max_msgs=work.left(BATCH)) as batch:  # zero-copy RX
                clock.tick(len(batch))
                for v in batch:
                    with memoryview(v) as m:
                        work.check_buffer(m[: v.actual_size])
    return finish(p, clock, work)


# ---- iceoryx2: publish-subscribe, busy-polling receive ----------------------------

def _iox_service(kind: str, name: str):
    import iceoryx2 as iox2
    iox2.set_log_level_from_env_or(iox2.LogLevel.Error)  # not "no config file was loaded"
    node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)
    depth = max(8, min(16384, CAPACITY[kind] // Work(kind, 0).size))  # as much as the ring holds
    service = (node.service_builder(iox2.ServiceName.new(name))
               .publish_subscribe(iox2.Slice[ctypes.c_uint8])
               .enable_safe_overflow(False)  # lossless: the publisher waits, never overwrites
               .subscriber_max_buffer_size(depth)
               .history_size(0)
               .max_publishers(1)
               .max_subscribers(1)
               .open_or_create())
    return node, service, depth


def iceoryx2_producer(name: str, kind: str, n: int, ready) -> None:
    import iceoryx2 as iox2
    work = Work(kind, n)
    ready.wait(STALL_S)  # the subscriber exists: no sample is lost before it connects
    node, service, _ = _iox_service(kind, name)
    pub = (service.publisher_builder().initial_max_slice_len(work.size)
           .backpressure_strategy(iox2.BackpressureStrategy.RetryUntilDelivered).create())
    for i in range(n):
        sample = pub.loan_slice_uninit(work.size)  # written in place (zero-copy)
        m = sample.payload().as_memory_view().cast("B")  # ctypes' "<B" to plain bytes
        if work.is_array:
            a = work.np.frombuffer(m, work.np.float32)
            work.fill(i, a)
            del a
        else:
            m[:] = msg32(i)
        del m
        sample.assume_init().send()
    # the samples live in this process's data segment: stay until the subscriber has them all
    ready.wait_done(STALL_S * 4)
    del pub, service, node


def run_iceoryx2(kind: str, n: int) -> tuple[int, float]:
    name = f"zipc-bench/{os.getpid()}/{kind}"
    ready = Ready()
    p = spawn(iceoryx2_producer, name, kind, n, ready)
    node, service, depth = _iox_service(kind, name)
    sub = service.subscriber_builder().buffer_size(depth).create()
    ready.set()
    work, clock = Work(kind, n), Clock()
    idle_since = None
    while not work.done:
        sample = sub.receive()
        if sample is None:  # busy-polling, as the measurements did
            now = time.monotonic()
            idle_since = idle_since or now
            if now - idle_since > STALL_S:
                raise TimeoutError(f"no sample for {STALL_S:.0f} s")
            continue
        idle_since = None
        clock.tick()
        work.check_buffer(sample.payload().as_memory_view().cast("B"))
        sample.delete()  # gives the sample back at once
    return finish(p, clock, work, ready)


# ---- pyzmq: PUSH/PULL over ipc:// --------------------------------------------------

def zmq_producer(addr: str, kind: str, n: int, ready: Ready) -> None:
    import zmq
    work = Work(kind, n)
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.connect(addr)
    for i in range(n):
        # arrays: copy=False hands the buffer to libzmq (zero-copy above pyzmq's copy threshold)
        s.send(work.payload(i), copy=not work.is_array)
    # close(linger=-1) alone loses the last few hundred messages when the reader is behind
    # (seen with pyzmq 27): close once the consumer has them all
    ready.wait_done(STALL_S * 4)
    s.close(linger=-1)
    ctx.term()


def run_zmq(kind: str, n: int) -> tuple[int, float]:
    import zmq
    addr = "ipc://" + sock_path("zmq")
    ready = Ready()
    p = spawn(zmq_producer, addr, kind, n, ready)  # before our context: a context does not survive fork
    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    s.setsockopt(zmq.RCVTIMEO, int(STALL_S * 1000))  # a dead producer raises zmq.Again
    s.bind(addr)  # the producer's connect retries until it is there
    work, clock = Work(kind, n), Clock()
    try:
        while not work.done:
            frame = s.recv(copy=False)  # zero-copy receive
            clock.tick()
            work.check_buffer(frame.buffer)
        return finish(p, clock, work, ready)
    finally:
        s.close(linger=0)
        ctx.term()


# ---- faster-fifo: a shared-memory queue of pickled objects -------------------------

def fifo_producer(q, kind: str, n: int) -> None:
    work = Work(kind, n)
    for i in range(n):
        q.put(work.payload(i), timeout=STALL_S)


def run_fifo(kind: str, n: int) -> tuple[int, float]:
    from faster_fifo import Queue
    q = Queue(max_size_bytes=CAPACITY[kind])
    p = spawn(fifo_producer, q, kind, n)
    work, clock = Work(kind, n), Clock()
    while not work.done:
        got = q.get_many(max_messages_to_get=work.left(BATCH), timeout=STALL_S)
        clock.tick(len(got))
        for m in got:
            work.check(m)
    return finish(p, clock, work)


def run_fifo_one(kind: str, n: int) -> tuple[int, float]:
    """faster-fifo one message a call, as multiprocessing.Queue's get."""
    from faster_fifo import Queue
    q = Queue(max_size_bytes=CAPACITY[kind])
    p = spawn(fifo_producer, q, kind, n)
    work, clock = Work(kind, n), Clock()
    while not work.done:
        m = q.get(timeout=STALL_S)
        clock.tick()
        work.check(m)
    return finish(p, clock, work)


# ---- ipc0cp: an MPMC shared-memory ring of typed objects (JSON metadata + payload) --
# Used as its README shows. Its pop() (0.1.0) moves the read position past a slot
# under its lock, then reads the slot without it: a producer may already write
# there, so once the ring wraps a message can arrive torn; its sentinel check or
# ours then fails the row, which says so.

def ipc0cp_producer(shm: str, kind: str, n: int) -> None:
    from ipc0cp import SharedRingBufferProducer
    work = Work(kind, n)
    q = SharedRingBufferProducer(shm_name=shm, total_data_bytes=CAPACITY[kind], blocking=True)
    try:
        for i in range(n):  # it waits for a consumer to attach before its first push
            if not q.push(work.payload(i), timeout=STALL_S):
                raise TimeoutError(f"push {i}: no room for {STALL_S:.0f} s")
    finally:
        q.close()  # the consumer's pop returns None (its end of stream) once all is read


def run_ipc0cp(kind: str, n: int) -> tuple[int, float]:
    from ipc0cp import SharedRingBufferConsumer
    from ipc0cp.logger import disable_logging
    disable_logging()  # its warnings would go into the report's stderr
    shm = f"zipc-bench-{os.getpid()}-{kind}"
    p = spawn(ipc0cp_producer, shm, kind, n)
    q = retry(lambda: SharedRingBufferConsumer(shm_name=shm, blocking=True, auto_unlink=True))  # once created
    work, clock = Work(kind, n), Clock()
    try:
        while not work.done:
            m = q.pop(timeout=STALL_S)
            if m is None:
                raise RuntimeError(f"end of stream after {work.expect} of {n} messages")
            clock.tick()
            work.check(m)
        result = finish(p, clock, work)
        extra = q.pop(timeout=STALL_S)
        if extra is not None:
            raise RuntimeError(f"a message after the {n}th: {extra!r:.60}")
        return result
    finally:
        q.close()  # the last consumer unlinks the segment and its semaphores


# ---- ipc0cp's STDIO transport: the same framing (JSON metadata + payload) over a pipe --
# Used as its module docstring shows, on the pipe's ends rather than stdin/stdout;
# the reader gets the read-ahead zipc.StreamReader has (64 KiB, where a default
# file object has 8 KiB), the writer its default buffered file (one write a push).

def ipc0cp_stdio_producer(fd: int, kind: str, n: int) -> None:
    from ipc0cp import StdioProducer
    work = Work(kind, n)
    with os.fdopen(fd, "wb") as out:
        q = StdioProducer(out)
        for i in range(n):
            q.push(work.payload(i))
        q.close()  # its end-of-stream marker


def run_ipc0cp_stdio(kind: str, n: int) -> tuple[int, float]:
    from ipc0cp import StdioConsumer
    r, w = os.pipe()
    p = spawn(ipc0cp_stdio_producer, w, kind, n)
    os.close(w)  # the producer holds the write end
    work, clock = Work(kind, n), Clock()
    with os.fdopen(r, "rb", buffering=64 * 1024) as inp:
        q = StdioConsumer(inp)
        while not work.done:
            m = q.pop()
            if m is None:
                raise RuntimeError(f"end of stream after {work.expect} of {n} messages")
            clock.tick()
            work.check(m)
        result = finish(p, clock, work)
        extra = q.pop()
        if extra is not None:
            raise RuntimeError(f"a message after the {n}th: {extra!r:.60}")
        return result


# ---- multiprocessing.Queue ---------------------------------------------------------

def queue_producer(q, kind: str, n: int) -> None:
    work = Work(kind, n)
    for i in range(n):
        q.put(work.payload(i))


def run_queue(kind: str, n: int) -> tuple[int, float]:
    ctx = mp.get_context("fork")
    q = ctx.Queue(maxsize=10000)
    p = spawn(queue_producer, q, kind, n)
    work, clock = Work(kind, n), Clock()
    while not work.done:
        m = q.get(timeout=STALL_S)  # a dead producer raises queue.Empty
        clock.tick()
        work.check(m)
    return finish(p, clock, work)


# ---- a hand-rolled ring: multiprocessing.shared_memory slots + two pipes -----------

def _slot_views(work: Work, buf, slots: int) -> list:
    """One pre-built view per slot: an array (array workloads) or a memoryview."""
    views = [buf[k * work.size:(k + 1) * work.size] for k in range(slots)]
    return [work.np.frombuffer(v, work.np.float32) for v in views] if work.is_array else views


def shm_producer(name: str, slots: int, tokens_w: int, free_r: int, kind: str, n: int) -> None:
    from multiprocessing import shared_memory
    work = Work(kind, n)
    shm = shared_memory.SharedMemory(name=name)
    views, credit = _slot_views(work, shm.buf, slots), slots
    for i in range(n):
        while credit == 0:
            credit += len(os.read(free_r, 4096))
        credit -= 1
        if work.is_array:
            work.fill(i, views[i % slots])
        else:
            views[i % slots][:] = msg32(i)
        os.write(tokens_w, b"t")
    del views
    shm.close()


def run_shm(kind: str, n: int) -> tuple[int, float]:
    from multiprocessing import shared_memory
    work = Work(kind, n)
    slots = max(8, min(1024, CAPACITY[kind] // work.size // 8))
    shm = shared_memory.SharedMemory(create=True, size=work.size * slots)
    tok_r, tok_w = os.pipe()
    free_r, free_w = os.pipe()
    p = spawn(shm_producer, shm.name, slots, tok_w, free_r, kind, n)
    os.close(tok_w)  # the producer's ends: its death reads as end of file
    os.close(free_r)
    views, clock = _slot_views(work, shm.buf, slots), Clock()
    try:
        while not work.done:
            tokens = os.read(tok_r, work.left(BATCH))
            if not tokens:
                raise RuntimeError("the producer died")
            clock.tick(len(tokens))
            for _ in tokens:
                work.check(views[work.expect % slots])
            try:
                os.write(free_w, b"f" * len(tokens))
            except BrokenPipeError:  # the producer sent its last message and left
                pass
        return finish(p, clock, work)
    finally:
        del views
        shm.close()
        shm.unlink()
        os.close(tok_r)
        os.close(free_w)

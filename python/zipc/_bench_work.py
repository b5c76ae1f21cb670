"""The work every row of python -m zipc.bench does: the messages, their checks, the clock.

Message i of a workload is distinct and carries i (the rule of the C rows and of
examples/c_producer.c, so the C producer's messages pass the same checks):
- "msg32": 32 bytes, i as u64 little-endian, then 24 bytes (i & 0xff);
- "tensor1k", "array1m": float32[N] whose element j is i + j (exact: i + N < 2**24).
Every received message is checked: msg32 whole (byte compare); an array's
dtype, length and both ends on every message (as the C rows check the
sequence number at both ends), and its whole content on every FULL_EVERY-th.
The consumer stops at the workload's count, so a lost or extra message fails
the check of the next one or the count.
"""
from __future__ import annotations

import os
import platform
import time

KINDS = {  # kind: (payload bytes, messages, quick messages); every row of a kind sends the same
    "msg32": (32, 500_000, 50_000),
    "tensor1k": (1024, 100_000, 10_000),
    "array1m": (1 << 20, 1_000, 100),
}
FULL_EVERY = 64  # an array's whole content is compared on every 64th message
BATCH = 256  # the most messages any batch receive takes at once (zipc, Tachyon, faster-fifo)
CPUS = [0, 1]  # consumer, producer (--cpus)
# ring bytes per kind, the same for every ring-based transport (zipc, Tachyon, iceoryx2, shm)
CAPACITY = {"msg32": 1 << 21, "tensor1k": 1 << 21, "array1m": 1 << 23}
_FILL = [bytes([b]) * 24 for b in range(256)]


class BadMessage(Exception):
    """A message arrived corrupted, out of order, or of the wrong size."""


def machine() -> dict:
    """The machine a benchmark ran on: CPU model, CPUs, kernel, Python (every report prints it)."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    except OSError:
        pass
    return {"cpu_model": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version()}


def pin(side: int) -> None:
    """Pin this process to the consumer's (0) or the producer's (1) CPU."""
    cpu = CPUS[side]
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


def floats(kind: str) -> int:
    return KINDS[kind][0] // 4


def msg32(i: int) -> bytes:
    """Message i of the msg32 workload."""
    return i.to_bytes(8, "little") + _FILL[i & 0xFF]


class Work:
    """One side's view of a workload: makes message i (producer), checks it (consumer)."""

    def __init__(self, kind: str, n: int):
        self.kind, self.n, self.size = kind, n, KINDS[kind][0]
        self.is_array = kind != "msg32"
        self.expect = 0  # the consumer's next sequence number
        if self.is_array:
            import numpy as np
            self.np = np
            self.len = floats(kind)
            self.base = np.arange(self.len, dtype=np.float32)  # message i is base + i

    # producer side
    def fill(self, i: int, out) -> None:
        """Write array message i into out (a float32 array of the workload's length)."""
        self.np.add(self.base, i, out=out)

    def array(self, i: int):
        """Array message i, in a new array (for transports that keep what they send)."""
        return self.np.add(self.base, self.np.float32(i))

    def payload(self, i: int):
        """Message i as a transport sends it: bytes for msg32, else a new array."""
        return self.array(i) if self.is_array else msg32(i)

    # consumer side
    def check_bytes(self, data) -> None:
        """data: a bytes-like holding the next msg32 message."""
        if data != msg32(self.expect):
            raise BadMessage(f"message {self.expect}: got {bytes(data[:8]).hex()}.. ({len(data)} B)")
        self.expect += 1

    def check_array(self, a) -> None:
        """a: a float32 ndarray holding the next array message."""
        i = self.expect
        if a.dtype != self.np.float32 or a.shape != (self.len,) or a[0] != i or a[-1] != i + self.len - 1:
            raise BadMessage(f"message {i}: got {a.dtype}{a.shape} starting {a[:1]}")
        if i % FULL_EVERY == 0 and not self.np.array_equal(a, self.base + self.np.float32(i)):
            raise BadMessage(f"message {i}: its content differs from base + {i}")
        self.expect = i + 1

    def check_buffer(self, buf) -> None:
        """The next message from a raw buffer (bytes-like) of either kind."""
        if self.is_array:
            if len(buf) != self.size:
                raise BadMessage(f"message {self.expect}: {len(buf)} bytes, not {self.size}")
            self.check_array(self.np.frombuffer(buf, self.np.float32))
        else:
            self.check_bytes(buf)

    def check(self, msg) -> None:
        """The next message as the transport gave it back: bytes or an array."""
        if self.is_array:
            self.check_array(msg)
        else:
            self.check_bytes(msg)

    @property
    def done(self) -> bool:
        return self.expect >= self.n

    def left(self, most: int) -> int:
        return min(most, self.n - self.expect)


class Clock:
    """Times from the first receive to the check of the last message; the messages of
    the first receive started the clock, so they are not counted."""

    def __init__(self):
        self.t0 = None
        self.first = 0

    def tick(self, k: int = 1) -> None:
        """After each receive of k messages (only the first call does something)."""
        if self.t0 is None:
            self.t0, self.first = time.perf_counter(), k

    def result(self, work: Work) -> tuple[int, float]:
        """(messages after the first receive, seconds) once all n were checked."""
        t1 = time.perf_counter()
        if not work.done or self.t0 is None:
            raise BadMessage(f"{work.expect} of {work.n} messages arrived")
        return work.n - self.first, t1 - self.t0

"""Python benchmark: python3 -m zipc.bench [--json] [--quick] [--cpus A,B]

Producer and consumer are two processes pinned to CPU A (consumer, default 0)
and B (producer, default 1). Three workloads: 32-byte messages, 1 KiB float32[256] tensors,
1 MiB float32 arrays; transports: zipc (Python->Python, and C->Python: the
producer is examples/c_producer.c, built into the extension, run in a child
process: no compiler or source tree needed), multiprocessing.Queue,
multiprocessing.shared_memory + a pipe, pyzmq ipc:// PUSH/PULL. Rates are
measured by the consumer from its first message to its last.

--json prints one JSON object with one row object per line (and "runtime" on
one line): `zipc bench` merges these lines into its own table and JSON.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time

import zipc
from zipc import _zipc

KINDS = {  # kind: (payload bytes, messages, quick messages)
    "msg32": (32, 2_000_000, 200_000),
    "tensor1k": (1024, 400_000, 40_000),
    "array1m": (1 << 20, 4_000, 400),
}
CPUS = [0, 1]  # consumer, producer (--cpus)
QUEUE_SHARE = 20
STALL_S = 30  # a transport silent this long fails its row (a dead producer)  # slow baselines send 1/QUEUE_SHARE of the messages
FLOATS = {k: v[0] // 4 for k, v in KINDS.items()}


def pin(side: int) -> None:
    """Pin this process to the consumer's (0) or the producer's (1) CPU."""
    cpu = CPUS[side]
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


def runtime() -> dict:
    try:
        import numpy as np
        npv = np.__version__
    except ImportError:
        npv = None
    return {"python": platform.python_version(), "numpy": npv, "zipc": zipc.__version__,
            "pin": f"consumer cpu {CPUS[0]}, producer cpu {CPUS[1]}"}


def machine() -> dict:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    except OSError:
        pass
    return {"cpu_model": model, "cores": os.cpu_count(), "kernel": platform.release()}


def np_():
    import numpy as np
    return np


# ---- producers (child processes) ---------------------------------------------------

def zipc_producer(path: str, kind: str, n: int, batched: bool) -> None:
    pin(1)
    ch = zipc.Channel.connect(path, timeout=10)
    if kind == "msg32":
        msg = b"x" * 32
        if batched:
            chunk = [msg] * 1024
            for _ in range(n // 1024):
                ch.send_many(chunk)
        else:
            for _ in range(n):
                ch.send(msg)
    else:
        np = np_()
        src = np.ones(FLOATS[kind], np.float32)
        if kind == "tensor1k":
            for _ in range(n):
                ch.send_tensor(src)  # one copy into the ring
        for _ in range(n if kind == "array1m" else 0):
            with ch.reserve_tensor(src.shape, np.float32) as r:
                r.array[...] = src  # the producer's one write, in place in the ring
    ch.close()


def c_producer(path: str, kind: str, n: int) -> None:
    """examples/c_producer.c's loop, in C, from the installed extension."""
    pin(1)
    mode = ["bytes", str(n), "32"] if kind == "msg32" else ["tensor", str(n), str(FLOATS[kind])]
    sys.exit(_zipc._c_producer([path, *mode]))


def queue_producer(q, kind: str, n: int) -> None:
    pin(1)
    item = b"x" * 32 if kind == "msg32" else np_().ones(FLOATS[kind], np_().float32)
    for _ in range(n):
        q.put(item)
    q.put(None)


def shm_producer(name: str, slots: int, size: int, tokens_w: int, free_r: int, kind: str, n: int) -> None:
    pin(1)
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(name=name)
    np = np_()
    src = np.ones(size // 4, np.float32) if kind != "msg32" else None
    credit = slots
    for i in range(n):
        while credit == 0:
            credit += len(os.read(free_r, 4096))
        credit -= 1
        off = (i % slots) * size
        if src is None:
            shm.buf[off:off + 32] = b"x" * 32
        else:
            np.frombuffer(shm.buf, np.float32, size // 4, off)[...] = src
        os.write(tokens_w, b"t")
    os.write(tokens_w, b"e")
    shm.close()


def zmq_producer(addr: str, kind: str, n: int) -> None:
    pin(1)
    import zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.SNDHWM, 1000)
    s.connect(addr)
    item = b"x" * 32 if kind == "msg32" else np_().ones(FLOATS[kind], np_().float32)
    for _ in range(n):
        s.send(item, copy=kind == "msg32")
    s.send(b"")
    s.close(linger=-1)
    ctx.term()


# ---- consumers (this process) ------------------------------------------------------

class Clock:
    """Times from the first message to the last."""

    def __init__(self):
        self.t0 = None
        self.count = 0

    def tick(self, k: int = 1) -> None:
        if self.t0 is None:
            self.t0 = time.perf_counter()
            k -= 1  # the first message starts the clock
        self.count += k

    def result(self):
        return self.count, time.perf_counter() - self.t0


def zipc_consume(ch: zipc.Channel, kind: str) -> tuple[int, float]:
    clock = Clock()
    try:
        if kind == "msg32":
            while True:
                clock.tick(len(ch.recv_many(8192)))
        while True:
            arrays = ch.recv_tensors(256)  # zero-copy
            for a in arrays:
                a[-1]  # touch it
            clock.tick(len(arrays))
            del arrays, a  # let the slots go
    except zipc.PeerGone:
        return clock.result()


def run_zipc(kind: str, n: int, batched: bool = True, c: bool = False) -> tuple[int, float]:
    path = os.path.join(tempfile.mkdtemp(prefix="zipc-bench-"), "s")
    cap = 1 << 23 if kind == "array1m" else 1 << 21
    target, args = (c_producer, (path, kind, n)) if c else (zipc_producer, (path, kind, n, batched))
    proc = mp.get_context("fork").Process(target=target, args=args)
    proc.start()
    with zipc.Channel.listen(path, cap, timeout=30) as ch:
        r = zipc_consume(ch, kind)
    proc.join()
    if proc.exitcode:
        raise RuntimeError(f"the producer exited with {proc.exitcode}")
    return r


def run_queue(kind: str, n: int) -> tuple[int, float]:
    ctx = mp.get_context("fork")
    q = ctx.Queue(maxsize=10000)
    p = ctx.Process(target=queue_producer, args=(q, kind, n))
    p.start()
    clock = Clock()
    while q.get(timeout=STALL_S) is not None:  # a dead producer raises queue.Empty
        clock.tick()
    p.join()
    return clock.result()


def run_shm(kind: str, n: int) -> tuple[int, float]:
    from multiprocessing import shared_memory
    size, slots = KINDS[kind][0], 64 if kind != "array1m" else 8
    shm = shared_memory.SharedMemory(create=True, size=size * slots)
    tok_r, tok_w = os.pipe()
    free_r, free_w = os.pipe()
    p = mp.get_context("fork").Process(target=shm_producer, args=(shm.name, slots, size, tok_w, free_r, kind, n))
    p.start()
    os.close(tok_w)  # the producer's ends: its death reads as end of file
    os.close(free_r)
    np = np_()
    clock, i, done = Clock(), 0, False
    while not done:
        tokens = os.read(tok_r, 4096)
        if not tokens:
            raise RuntimeError("the producer died")
        for t in tokens:
            if t == ord("e"):
                done = True
                break
            off = (i % slots) * size
            data = bytes(shm.buf[off:off + 32]) if kind == "msg32" else np.frombuffer(shm.buf, np.float32, size // 4, off)[-1]
            del data
            i += 1
            clock.tick()
        os.write(free_w, b"f" * (len(tokens) - done))
    p.join()
    shm.close()
    shm.unlink()
    os.close(tok_r)
    os.close(free_w)
    return clock.result()


def run_zmq(kind: str, n: int) -> tuple[int, float]:
    import zmq
    addr = "ipc://" + os.path.join(tempfile.mkdtemp(prefix="zipc-bench-"), "zmq")
    # fork before this process has a zmq context: contexts do not survive fork
    p = mp.get_context("fork").Process(target=zmq_producer, args=(addr, kind, n))
    p.start()
    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    s.setsockopt(zmq.RCVTIMEO, int(STALL_S * 1000))  # a dead producer raises zmq.Again
    s.bind(addr)
    clock = Clock()
    np = np_() if kind != "msg32" else None
    try:
        while True:
            m = s.recv(copy=kind == "msg32")
            if len(m) == 0:
                break
            if np is not None:
                np.frombuffer(m.buffer, np.float32)[-1]
            clock.tick()
    finally:
        p.join(STALL_S)
        s.close(linger=0)
        ctx.term()
    return clock.result()


def run_copy(kind: str, n: int) -> tuple[int, float]:
    """The producer's write alone: what a zero-copy receive is bound by."""
    np = np_()
    src, dst = np.ones(FLOATS[kind], np.float32), np.empty(FLOATS[kind] * 8, np.float32)
    t0 = time.perf_counter()
    for i in range(n):
        np.copyto(dst[(i % 8) * src.size:(i % 8 + 1) * src.size], src)
    return n, time.perf_counter() - t0


# ---- driver ------------------------------------------------------------------------

def row_head(name: str, kind: str) -> dict:
    return {"name": name, "kind": kind, "lang": "python", "size_bytes": KINDS[kind][0]}


def row(name: str, kind: str, fn, n: int) -> dict:
    try:
        count, secs = fn(kind, n)
    except Exception as e:  # a broken baseline must not hide the others
        return {**row_head(name, kind), "error": f"{type(e).__name__}: {e}"}
    rate = count / secs
    return {**row_head(name, kind), "msgs_per_s": round(rate, 1),
            "gb_per_s": round(rate * KINDS[kind][0] / 1e9, 4), "seconds": round(secs, 4), "messages": count}


def skipped(name: str, kind: str, why: str) -> dict:
    return {**row_head(name, kind), "skipped": why}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m zipc.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--quick", action="store_true", help="10x fewer messages")
    ap.add_argument("--cpus", metavar="A,B", help="consumer and producer CPUs (default 0,1)")
    args = ap.parse_args(argv)
    if args.cpus:
        CPUS[:] = [int(c) for c in args.cpus.split(",", 1)]
    pin(0)
    try:
        import zmq  # noqa: F401
        zmq_why = None
    except ImportError:
        zmq_why = "pyzmq not importable (pip install pyzmq)"
    try:
        np_()
    except ImportError:
        print("zipc.bench needs NumPy", file=sys.stderr)
        return 2
    rows = []
    for kind, (_, full, quick) in KINDS.items():
        n = quick if args.quick else full
        few = max(n // QUEUE_SHARE, 100)
        if kind == "msg32":
            rows.append(row("zipc py->py send_many/recv_many", kind, run_zipc, n))
            rows.append(row("zipc py->py send/recv_many", kind, lambda k, m: run_zipc(k, m, batched=False), n // 4))
        else:
            how = "send_tensor" if kind == "tensor1k" else "reserve_tensor"
            rows.append(row(f"zipc py->py {how}/recv_tensors", kind, run_zipc, n))
        rows.append(row("zipc C->py", kind, lambda k, m: run_zipc(k, m, c=True), n * 2))
        if kind == "array1m":
            rows.append(row("numpy copyto, one process (write bound)", kind, run_copy, n))
        rows.append(row("multiprocessing.Queue", kind, run_queue, few))
        rows.append(row("shared_memory + pipe", kind, run_shm, few))
        rows.append(row("pyzmq ipc:// push/pull", kind, run_zmq, few) if not zmq_why
                    else skipped("pyzmq ipc:// push/pull", kind, zmq_why))
        if not args.json:
            print(f"  {kind} done", file=sys.stderr)
    add_speedups(rows)
    report = {"machine": machine(), "runtime": runtime(), "rows": rows}
    if args.json:
        print_json(report)
    else:
        print_table(report)
    return 0


def add_speedups(rows: list) -> None:
    queue = {r["kind"]: r.get("msgs_per_s") for r in rows if r["name"] == "multiprocessing.Queue"}
    for r in rows:
        if r.get("msgs_per_s") and queue.get(r["kind"]):
            r["speedup_vs_queue"] = round(r["msgs_per_s"] / queue[r["kind"]], 2)


def print_json(report: dict) -> None:
    """One JSON object; "runtime" and each row on a line of its own."""
    rows = ",\n".join("  " + json.dumps(r) for r in report["rows"])
    print(f'{{"machine": {json.dumps(report["machine"])},\n "runtime": {json.dumps(report["runtime"])},\n'
          f' "rows": [\n{rows}\n ]}}')


def print_table(report: dict) -> None:
    m, rt = report["machine"], report["runtime"]
    print(f"machine: {m['cpu_model']}, {m['cores']} cores, Linux {m['kernel']}, Python {rt['python']}, "
          f"NumPy {rt['numpy']}; {rt['pin']}")
    print(f"{'workload':9} {'transport':38} {'msgs/s':>12} {'GB/s':>8} {'x Queue':>8}")
    for r in report["rows"]:
        if "msgs_per_s" in r:
            print(f"{r['kind']:9} {r['name']:38} {r['msgs_per_s']:12,.0f} {r['gb_per_s']:8.3f} "
                  f"{r.get('speedup_vs_queue', 0):8.1f}")
        else:
            print(f"{r['kind']:9} {r['name']:38} {'skipped: ' + r['skipped'] if 'skipped' in r else r['error']}")


if __name__ == "__main__":
    sys.exit(main())

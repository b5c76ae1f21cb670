"""Python benchmark: python3 -m zipc.bench [--json] [--quick] [--cpus A,B]

Each row runs in fresh processes: a consumer pinned to CPU A (default 0) that
forks its producer, pinned to CPU B (default 1). Three workloads (32-byte
messages, 1 KiB float32[256] arrays, 1 MiB float32 arrays); every row of a
workload sends the same number of distinct messages, and the consumer checks
every one of them and their count (python/zipc/_bench_work.py says how).
Transports: zipc (Python to Python, and the C producer of examples/c_producer.c,
built into the extension; the channel, the queue's typed put/get as a
multiprocessing.Queue user writes it, and the stream transport:
StreamWriter | StreamReader through a pipe), the peers users compare zipc with
(tachyon-ipc, iceoryx2, pyzmq over ipc://, faster-fifo, ipc0cp's ring and its
STDIO transport through the same kind of pipe, multiprocessing.Queue; a peer
that is not installed gives a "skipped" row saying how to get it), a hand-rolled
multiprocessing.shared_memory ring, and the same work in one process without
any transport. Rates are measured by the consumer from its first receive to
its last check; each row runs in 3 rounds (--quick: 1), round-robin over the
table, and shows the median. The table ends with the stream transport's rate
over ipc0cp's STDIO transport's, per workload (or why there is none).

--json prints one JSON object with one row object per line (and "runtime" on
one line): `zipc bench` merges these lines into its own table and JSON.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import os
import platform
import signal
import statistics
import sys

import zipc
from zipc import _zipc

from . import _bench_peers as peers
from ._bench_work import BATCH, CAPACITY, CPUS, KINDS, BadMessage, Clock, Work, floats, machine, msg32, pin

ROW_DEADLINE_S = 180  # a row that has not reported by then is killed, with its producer
ROUNDS = 3  # each row's figure: the median of its rounds
STREAM_ROW = "zipc StreamWriter/StreamReader (pipe)"
IPC0CP_STDIO_ROW = "ipc0cp StdioProducer/StdioConsumer (pipe)"


def runtime() -> dict:
    try:
        import numpy as np
        npv = np.__version__
    except ImportError:
        npv = None
    return {"python": platform.python_version(), "numpy": npv, "zipc": zipc.__version__,
            "pin": f"consumer cpu {CPUS[0]}, producer cpu {CPUS[1]}", "peers": peer_versions(),
            "checks": "every message: content (32 B) or both ends (arrays; all of every 64th); the count"}


def peer_versions() -> dict:
    from importlib import metadata
    out = {}
    for dist in ("tachyon-ipc", "iceoryx2", "pyzmq", "faster-fifo", "ipc0cp"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out




# ---- zipc rows -----------------------------------------------------------------------

def zipc_producer(path: str, kind: str, n: int, how: str) -> None:
    if how == "c":  # examples/c_producer.c's loop, in C: message i as _bench_work makes it
        mode = ["bytes", str(n), "32"] if kind == "msg32" else ["tensor", str(n), str(floats(kind))]
        sys.exit(_zipc._c_producer([path, *mode]))
    work = Work(kind, n)
    ch = zipc.Channel.connect(path, timeout=10)
    if how == "send":
        for i in range(n):
            ch.send(msg32(i))
    elif how == "send_many":
        for j in range(0, n, 1024):
            ch.send_many([msg32(i) for i in range(j, min(j + 1024, n))])
    elif how == "send_tensor":
        src = work.np.empty(work.len, work.np.float32)
        for i in range(n):
            work.fill(i, src)
            ch.send_tensor(src)  # one copy into the ring
    else:  # reserve_tensor
        for i in range(n):
            with ch.reserve_tensor(work.len, work.np.float32) as r:
                work.fill(i, r.array)  # the producer's one write, in place in the ring
    ch.close()


def zipc_rows(how: str, batch: int = BATCH):
    """The row function for zipc with this producer (send, send_many, send_tensor,
    reserve_tensor, c); the consumer receives zero-copy arrays or copied messages, at most
    `batch` a call (1: recv_tensor, each array let go before the next receive)."""
    def run(kind: str, n: int) -> tuple[int, float]:
        path = peers.sock_path("s")
        p = peers.spawn(zipc_producer, path, kind, n, how)
        work, clock = Work(kind, n), Clock()
        with zipc.Channel.listen(path, CAPACITY[kind], timeout=30) as ch:
            if work.is_array and batch == 1:
                while not work.done:
                    a = ch.recv_tensor(timeout=peers.STALL_S)  # zero-copy
                    clock.tick()
                    work.check_array(a)
                    del a  # let its slot go
            elif work.is_array:
                while not work.done:
                    arrays = ch.recv_tensors(work.left(batch), timeout=peers.STALL_S)  # zero-copy
                    clock.tick(len(arrays))
                    for a in arrays:
                        work.check_array(a)
                    del arrays, a  # let the slots go
            else:
                while not work.done:
                    msgs = ch.recv_many(work.left(batch), timeout=peers.STALL_S)
                    clock.tick(len(msgs))
                    for m in msgs:
                        work.check_bytes(m.data)
            result = clock.result(work)
            try:  # the count: nothing after the n-th message, then the producer's close
                extra = ch.recv_many(1, timeout=peers.STALL_S)
                raise BadMessage(f"a message after the {n}th: {extra[0]!r}")
            except zipc.PeerGone:
                pass
        p.join(peers.STALL_S)
        if p.exitcode != 0:
            raise RuntimeError(f"the producer exited with {p.exitcode}")
        return result
    return run


def queue_producer(name: str, kind: str, n: int, how: str) -> None:
    work = Work(kind, n)
    with zipc.Queue.open(name, "producer", lane_capacity=CAPACITY[kind], timeout=10) as q:
        if how == "put_many":
            for j in range(0, n, 1024):
                q.put_many([msg32(i) for i in range(j, min(j + 1024, n))])
        else:
            for i in range(n):
                q.put(work.payload(i))  # message i made as multiprocessing.Queue's row makes it


def queue_rows(how: str, get: str):
    """The row function for zipc.Queue, one producer and one consumer, typed as a
    multiprocessing.Queue user writes it: the producer put()s (or put_many()s) message
    i, the consumer get()s objects (copies), get_many()s them, or get(copy=False)s
    (arrays in place); then the end of the stream."""
    def run(kind: str, n: int) -> tuple[int, float]:
        name = f"zipc-bench-{os.getpid()}-{kind}"
        p = peers.spawn(queue_producer, name, kind, n, how)  # before our endpoint: a fork must not inherit it
        work, clock = Work(kind, n), Clock()
        with zipc.Queue.open(name, "consumer", lane_capacity=CAPACITY[kind], timeout=30) as q:
            if get == "get_many":
                while not work.done:
                    objs = q.get_many(work.left(BATCH), timeout=peers.STALL_S)
                    clock.tick(len(objs))
                    for obj in objs:
                        work.check(obj)
            else:
                copy = get == "get"
                while not work.done:
                    obj = q.get(timeout=peers.STALL_S, copy=copy)
                    clock.tick()
                    work.check(obj)
                    del obj  # copy=False: let its message go
            result = clock.result(work)
            try:  # the count: nothing after the n-th message, then the end of the stream
                extra = q.get(timeout=peers.STALL_S)
                raise BadMessage(f"a message after the {n}th: {extra!r:.60}")
            except zipc.PeerGone:
                pass
        p.join(peers.STALL_S)
        if p.exitcode != 0:
            raise RuntimeError(f"the producer exited with {p.exitcode}")
        return result
    return run


def stream_producer(fd: int, kind: str, n: int) -> None:
    work = Work(kind, n)
    w = zipc.StreamWriter(fd)  # an fd: one writev per frame, an array from its own memory
    for i in range(n):
        w.write(work.payload(i))
    os.close(fd)  # the end of the stream


def run_stream(kind: str, n: int) -> tuple[int, float]:
    """The stream transport: StreamWriter | StreamReader through a pipe between the
    two processes (the same objects as the queue rows: bytes, or arrays); then the
    clean end of the stream."""
    r, w = os.pipe()
    p = peers.spawn(stream_producer, w, kind, n)
    os.close(w)  # the producer holds the write end: its close is the end of the stream
    work, clock = Work(kind, n), Clock()
    try:
        reader = zipc.StreamReader(r)
        while not work.done:
            obj = reader.read()
            clock.tick()
            work.check(obj)
        result = peers.finish(p, clock, work)
        try:  # the count: nothing after the n-th object
            extra = reader.read()
            raise BadMessage(f"an object after the {n}th: {extra!r:.60}")
        except zipc.PeerGone:
            pass
        reader.close()
        return result
    finally:
        os.close(r)


def run_alone(kind: str, n: int) -> tuple[int, float]:
    """The same work in one process, no transport: make message i, then check it."""
    work, clock = Work(kind, n), Clock()
    clock.tick()
    if work.is_array:
        bufs = [work.np.empty(work.len, work.np.float32) for _ in range(8)]
        for i in range(n):
            work.fill(i, bufs[i % 8])
            work.check_array(bufs[i % 8])
    else:
        for i in range(n):
            work.check_bytes(msg32(i))
    return clock.result(work)


# ---- the rows, each in its own processes ---------------------------------------------

def row_table() -> list:
    """(kind, row name, peer or None, function(kind, n)) for every row, in table order."""
    rows = []
    for kind in KINDS:
        if kind == "msg32":
            rows += [(kind, "zipc send/recv_many", None, zipc_rows("send")),
                     (kind, "zipc send_many/recv_many (batched)", None, zipc_rows("send_many")),
                     (kind, "zipc C producer -> recv_many", None, zipc_rows("c")),
                     (kind, "zipc Queue put/get", None, queue_rows("put", "get")),
                     (kind, "zipc Queue put_many/get_many (batched)", None, queue_rows("put_many", "get_many")),
                     (kind, STREAM_ROW, None, run_stream)]
        else:
            how = "send_tensor" if kind == "tensor1k" else "reserve_tensor"
            rows += [(kind, f"zipc {how}/recv_tensors", None, zipc_rows(how)),
                     (kind, f"zipc {how}/recv_tensor", None, zipc_rows(how, batch=1)),
                     (kind, "zipc C producer -> recv_tensors", None, zipc_rows("c")),
                     (kind, "zipc Queue put/get", None, queue_rows("put", "get")),
                     (kind, "zipc Queue put/get(copy=False)", None, queue_rows("put", "get_in_place")),
                     (kind, STREAM_ROW, None, run_stream)]
        rows += [(kind, "tachyon-ipc acquire_tx+flush/drain_batch", "tachyon", peers.run_tachyon),
                 (kind, "iceoryx2 loan+send/receive (busy poll)", "iceoryx2", peers.run_iceoryx2),
                 (kind, "pyzmq ipc:// PUSH/PULL", "pyzmq", peers.run_zmq),
                 (kind, "faster-fifo put/get_many", "faster-fifo", peers.run_fifo),
                 (kind, "faster-fifo put/get", "faster-fifo", peers.run_fifo_one),
                 (kind, "ipc0cp push/pop (MPMC shm ring)", "ipc0cp", peers.run_ipc0cp),
                 (kind, IPC0CP_STDIO_ROW, "ipc0cp", peers.run_ipc0cp_stdio),
                 (kind, "multiprocessing.Queue", None, peers.run_queue),
                 (kind, "shared_memory slots + pipe (hand-rolled)", None, peers.run_shm),
                 (kind, "no transport: make + check, one process", None, run_alone)]
    return rows


def row_head(name: str, kind: str) -> dict:
    return {"name": name, "kind": kind, "lang": "python", "size_bytes": KINDS[kind][0]}


def _row_child(conn, fn, kind: str, n: int) -> None:
    os.setpgid(0, 0)  # the row's processes form a group: a stuck row is killed whole
    pin(0)
    try:
        conn.send(fn(kind, n))
    except BaseException as e:  # reported as the row's error
        conn.send(f"{type(e).__name__}: {e}")


def run_row(fn, kind: str, n: int) -> tuple[int, float] | str:
    """fn(kind, n) in a fresh consumer process: (messages, seconds), or why it failed."""
    ctx = mp.get_context("fork")
    r, w = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_row_child, args=(w, fn, kind, n))
    p.start()
    w.close()
    try:
        got = r.recv() if r.poll(ROW_DEADLINE_S) else f"no result within {ROW_DEADLINE_S} s"
    except EOFError:
        got = None
    p.join(5)
    try:
        os.killpg(p.pid, signal.SIGKILL)  # a producer left behind
    except OSError:
        pass
    p.join()
    return got if got is not None else f"the consumer process died (exit {p.exitcode})"


def skip_reason(peer: str | None) -> str | None:
    """Why a peer's rows cannot run (not installed), or None."""
    if peer and importlib.util.find_spec(peers.PEERS[peer][0]) is None:
        return f"{peer} is not installed: {peers.PEERS[peer][1]}"
    return None


def one_round(peer: str | None, fn, kind: str, n: int) -> float | str:
    """One run of a row: its rate (messages/s), or why it has none."""
    got = run_row(fn, kind, n)
    if isinstance(got, str):
        hint = peer and got.startswith(("ImportError", "ModuleNotFoundError"))
        return got + (f" ({peers.PEERS[peer][1]})" if hint else "")
    count, secs = got
    if count <= 0 or secs <= 0:
        return f"all {n} messages came in the first receive: too few to time"
    return count / secs


def row(name: str, kind: str, n: int, rates: list, why: str | None) -> dict:
    """A row of the report: the median of its rounds' rates, or why it has none."""
    head = row_head(name, kind)
    if why:
        return {**head, "skipped": why}
    errors = [r for r in rates if isinstance(r, str)]
    if errors:  # one failed round fails the row: its figures would not be the same work
        return {**head, "error": errors[0]}
    rate = statistics.median(rates)
    return {**head, "msgs_per_s": round(rate, 1), "gb_per_s": round(rate * KINDS[kind][0] / 1e9, 4),
            "rounds_msgs_per_s": [round(r) for r in rates], "messages": n, "verified": n}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m zipc.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--quick", action="store_true", help="10x fewer messages, one round")
    ap.add_argument("--cpus", metavar="A,B", help="consumer and producer CPUs (default 0,1)")
    ap.add_argument("--rounds", type=int, metavar="R", help=f"rounds over the table (default {ROUNDS})")
    ap.add_argument("--only", metavar="TEXT", help="only the rows whose kind or name contains TEXT")
    ap.add_argument("--messages", type=int, metavar="N", help="at most N messages per row (a smoke test)")
    args = ap.parse_args(argv)
    if args.cpus:
        CPUS[:] = [int(c) for c in args.cpus.split(",", 1)]
    if importlib.util.find_spec("numpy") is None:
        print("zipc.bench needs NumPy", file=sys.stderr)
        return 2
    table = [(kind, name, peer, fn, min(KINDS[kind][2 if args.quick else 1], args.messages or sys.maxsize))
             for kind, name, peer, fn in row_table()
             if not args.only or args.only in kind or args.only in name]
    why = [skip_reason(peer) for _, _, peer, _, _ in table]
    rates = [[] for _ in table]
    rounds = args.rounds or (1 if args.quick else ROUNDS)
    for rnd in range(rounds):  # round-robin: a slow spell of the machine hits every row alike
        for i, (kind, name, peer, fn, n) in enumerate(table):
            if not why[i] and not any(isinstance(r, str) for r in rates[i]):
                rates[i].append(one_round(peer, fn, kind, n))
            if not args.json:
                print(f"  round {rnd + 1}/{rounds}: {kind} {name}", file=sys.stderr)
    rows = [row(name, kind, n, rates[i], why[i]) for i, (kind, name, _, _, n) in enumerate(table)]
    add_ratios(rows)
    report = {"machine": machine(), "runtime": {**runtime(), "rounds": rounds}, "rows": rows}
    if args.json:
        print_json(report)
    else:
        print_table(report)
    return 0


def add_ratios(rows: list) -> None:
    """speedup_vs_queue: rate / multiprocessing.Queue's; zipc_x (other rows): the best
    Python-to-Python zipc rate of the workload / this row's."""
    queue = {r["kind"]: r.get("msgs_per_s") for r in rows if r["name"] == "multiprocessing.Queue"}
    best = {}
    for r in rows:
        if r["name"].startswith("zipc ") and "C producer" not in r["name"] and r.get("msgs_per_s"):
            best[r["kind"]] = max(best.get(r["kind"], 0), r["msgs_per_s"])
    stream = {r["kind"]: r.get("msgs_per_s") for r in rows if r["name"] == STREAM_ROW}
    for r in rows:
        if r.get("msgs_per_s") and queue.get(r["kind"]):
            r["speedup_vs_queue"] = round(r["msgs_per_s"] / queue[r["kind"]], 2)
        if r.get("msgs_per_s") and best.get(r["kind"]) and not r["name"].startswith("zipc "):
            r["zipc_x"] = round(best[r["kind"]] / r["msgs_per_s"], 2)
        if r["name"] == IPC0CP_STDIO_ROW and r.get("msgs_per_s") and stream.get(r["kind"]):
            r["zipc_stream_x"] = round(stream[r["kind"]] / r["msgs_per_s"], 2)


def pipe_line(rows: list) -> str:
    """One line: the stream transport against ipc0cp's STDIO transport, per workload
    (the same objects through a pipe), or why there is no ratio."""
    parts = []
    for kind in dict.fromkeys(r["kind"] for r in rows):
        mine = next((r for r in rows if r["kind"] == kind and r["name"] == STREAM_ROW), None)
        theirs = next((r for r in rows if r["kind"] == kind and r["name"] == IPC0CP_STDIO_ROW), None)
        if mine is None or theirs is None:
            continue
        if "zipc_stream_x" in theirs:
            parts.append(f"{kind} {theirs['zipc_stream_x']:.2f}x")
        else:
            why = theirs.get("skipped") or theirs.get("error") or mine.get("skipped") or mine.get("error")
            parts.append(f"{kind} no ratio ({why})")
    if not parts:
        return ""
    return "pipe, same objects: zipc stream rate / ipc0cp STDIO rate: " + ", ".join(parts)


def print_json(report: dict) -> None:
    """One JSON object; "runtime" and each row on a line of its own."""
    rows = ",\n".join("  " + json.dumps(r) for r in report["rows"])
    print(f'{{"machine": {json.dumps(report["machine"])},\n "runtime": {json.dumps(report["runtime"])},\n'
          f' "rows": [\n{rows}\n ]}}')


def print_table(report: dict) -> None:
    m, rt = report["machine"], report["runtime"]
    print(f"machine: {m['cpu_model']}, {m['cores']} cores, Linux {m['kernel']}, Python {rt['python']}, "
          f"NumPy {rt['numpy']}; {rt['pin']}")
    print("peers: " + ", ".join(f"{k} {v or '-'}" for k, v in rt["peers"].items()) + f"; checks: {rt['checks']}")
    print(f"{'workload':9} {'transport':44} {'msgs/s':>12} {'spread':>7} {'GB/s':>8} {'x Queue':>8} {'zipc x':>7}")
    for r in report["rows"]:
        if "msgs_per_s" in r:
            zx = f"{r['zipc_x']:7.2f}" if "zipc_x" in r else f"{'':7}"
            spread = (max(r["rounds_msgs_per_s"]) - min(r["rounds_msgs_per_s"])) / r["msgs_per_s"]
            print(f"{r['kind']:9} {r['name']:44} {r['msgs_per_s']:12,.0f} {spread:7.0%} {r['gb_per_s']:8.3f} "
                  f"{r.get('speedup_vs_queue', 0):8.2f} {zx}")
        else:
            print(f"{r['kind']:9} {r['name']:44} {'skipped: ' + r['skipped'] if 'skipped' in r else 'error: ' + r['error']}")
    print(f"msgs/s: the median of {rt['rounds']} rounds; spread: (max - min) / median; "
          "zipc x: the best zipc Python-to-Python rate of the workload / the row's rate")
    line = pipe_line(report["rows"])
    if line:
        print(line)


if __name__ == "__main__":
    sys.exit(main())

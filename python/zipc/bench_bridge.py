"""Bridge benchmark: python3 -m zipc.bench_bridge [--zipc PATH] [--quick] [--json]

`zipc bridge` against plain pyzmq between two network namespaces of this machine
(a veth pair with addresses of its own; without root or `ip netns`, over
loopback in one namespace, and the table says so). Rows:
- pyzmq PUSH -> PULL over TCP, one process on each side: what a user writes
  without zipc;
- zipc: a topic publisher (host side) -> `zipc bridge` out -> TCP -> `zipc
  bridge` in (the other namespace) -> a topic subscriber: four processes,
  lossless (credit flow control; BLOCK subscriptions).
Workloads: 32 B and 64 KiB messages streamed as fast as the sender can (rate
measured by the receiver from its first message to its last), and 32 B paced
at one message per 200 us (one-way latency p50/p99: the sender's monotonic
clock in the message, read by the receiver on the same machine). Every
message carries its sequence number and a size-dependent fill; the receiver
checks the count, the order, the size and both ends of every message.
Python on both ends of every row. Each row runs --rounds times (default 3,
round-robin); the figures are medians.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time

from ._bench_work import machine

HEADER = struct.Struct("<QQ")  # send time (CLOCK_MONOTONIC ns), sequence number
PACE_NS = 200_000
PORT = 5790
ROLE_DEADLINE_S = 120


def payload(seq: int, size: int) -> bytes:
    fill = bytes([seq & 0xFF]) * (size - HEADER.size)
    return HEADER.pack(time.monotonic_ns(), seq) + fill


# ---- the ends (run in their namespace by the parent) ---------------------------------------

def send_all(send, n: int, size: int, paced: bool) -> None:
    next_at = time.monotonic_ns()
    for seq in range(n):
        if paced:
            next_at += PACE_NS
            while time.monotonic_ns() < next_at:
                pass
        send(payload(seq, size))


class Receiver:
    def __init__(self, n: int, size: int) -> None:
        self.n, self.size, self.got, self.lat, self.t0 = n, size, 0, [], 0

    def take(self, data) -> None:
        now = time.monotonic_ns()
        if self.got == 0:
            self.t0 = now
        sent, seq = HEADER.unpack_from(data)
        if seq != self.got or len(data) != self.size or data[-1] != seq & 0xFF or data[HEADER.size] != seq & 0xFF:
            raise SystemExit(f"message {self.got}: seq {seq}, {len(data)} bytes: not what was sent")
        self.lat.append(now - sent)
        self.got += 1
        self.t1 = now

    def report(self) -> None:
        lat = sorted(self.lat)
        dt = max(self.t1 - self.t0, 1)
        print(json.dumps({"messages": self.got, "msgs_per_s": (self.got - 1) * 1e9 / dt,
                          "mb_per_s": (self.got - 1) * self.size * 1e3 / dt,
                          "lat_p50_ns": lat[len(lat) // 2], "lat_p99_ns": lat[len(lat) * 99 // 100]}), flush=True)


def role_zmq_recv(addr: str, n: int, size: int) -> None:
    import zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    s.setsockopt(zmq.LINGER, 0)
    s.bind(addr)
    print("ready", flush=True)
    r = Receiver(n, size)
    while r.got < n:
        r.take(s.recv(copy=False).buffer)
    r.report()


def role_zmq_send(addr: str, n: int, size: int, paced: bool) -> None:
    import zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, -1)  # everything queued is delivered before close returns
    s.connect(addr)
    send_all(s.send, n, size, paced)
    s.close()
    ctx.term()


def role_zipc_recv(topic: str, n: int, size: int) -> None:
    import zipc
    sub = zipc.Topic.subscribe(topic, timeout=ROLE_DEADLINE_S)
    print("ready", flush=True)
    r = Receiver(n, size)
    while r.got < n:
        for m in sub.recv_many(1024, timeout=ROLE_DEADLINE_S):
            r.take(m.data)
    r.report()


def role_zipc_send(topic: str, n: int, size: int, paced: bool) -> None:
    import zipc
    pub = zipc.Topic.create(topic, capacity=4 << 20)
    deadline = time.monotonic() + ROLE_DEADLINE_S
    while pub.subscribers() < 1:  # the bridge
        if time.monotonic() > deadline:
            raise SystemExit("no bridge subscribed")
        time.sleep(0.001)
    send_all(lambda b: pub.send(b, timeout=ROLE_DEADLINE_S), n, size, paced)
    pub.close()


# ---- the parent: namespaces, processes, rounds --------------------------------------------

class Net:
    """Two namespaces joined by a veth pair, or loopback (and why)."""

    def __init__(self) -> None:
        pid = os.getpid()
        self.ns, self.va, self.vb = f"zipcbb{pid}", f"zbb{pid % 100000}a", f"zbb{pid % 100000}b"
        k = pid % 250 + 1
        self.here, self.there = f"10.214.{k}.1", f"10.214.{k}.2"
        self.why = self._setup()
        if self.why:
            self.there = "127.0.0.1"

    def _sh(self, cmd: str) -> bool:
        return subprocess.run(cmd, shell=True, capture_output=True).returncode == 0

    def _setup(self) -> str | None:
        if os.geteuid() != 0:
            return "not root: over loopback in one namespace"
        if not shutil.which("ip"):
            return "no ip command (apt-get install iproute2): over loopback in one namespace"
        if not self._sh(f"ip netns add {self.ns}"):
            return "ip netns add failed here: over loopback in one namespace"
        ok = all(self._sh(c) for c in (
            f"ip link add {self.va} type veth peer name {self.vb}", f"ip link set {self.vb} netns {self.ns}",
            f"ip addr add {self.here}/24 dev {self.va}", f"ip link set {self.va} up",
            f"ip -n {self.ns} addr add {self.there}/24 dev {self.vb}", f"ip -n {self.ns} link set {self.vb} up",
            f"ip -n {self.ns} link set lo up"))
        if not ok:
            self.close()
            return "could not make the veth pair: over loopback in one namespace"
        return None

    def remote(self, argv: list) -> list:
        return argv if self.why else ["ip", "netns", "exec", self.ns] + argv

    def close(self) -> None:
        self._sh(f"ip netns del {self.ns}")
        self._sh(f"ip link del {self.va}")

    def describe(self) -> str:
        return self.why or f"network namespace {self.ns}: veth {self.here} <-> {self.there}"


def spawn(argv: list, out=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def me(*args) -> list:
    return [sys.executable, "-m", "zipc.bench_bridge", "--role", *map(str, args)]


def wait_ready(p: subprocess.Popen, what: str) -> None:
    line = p.stdout.readline().strip()
    if line != "ready":
        p.kill()
        raise RuntimeError(f"{what} did not start: {p.stderr.read().strip()[-300:] or 'exit ' + str(p.wait())}")


def finish(procs: list, receiver: subprocess.Popen) -> dict:
    try:
        out, err = receiver.communicate(timeout=ROLE_DEADLINE_S)
    except subprocess.TimeoutExpired:
        receiver.kill()
        out, err = receiver.communicate()
    for p in procs:
        if p.poll() is None:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=20)
    if receiver.returncode:
        raise RuntimeError(f"the receiver failed: {err.strip()[-300:]}")
    res = json.loads(out.strip().splitlines()[-1])
    bad = [p.args for p in procs if p.returncode not in (0, -signal.SIGTERM)]
    if bad:
        raise RuntimeError(f"a process failed: {bad[0]}")
    return res


def run_zmq(net: Net, n: int, size: int, paced: bool, port: int) -> dict:
    addr = f"tcp://{net.there}:{port}"
    recv = spawn(net.remote(me("zmq-recv", addr, n, size)))
    wait_ready(recv, "the PULL receiver")
    send = spawn(me("zmq-send", addr, n, size, int(paced)), out=subprocess.DEVNULL)
    return finish([send], recv)


def run_zipc(net: Net, cli: str, n: int, size: int, paced: bool, port: int) -> dict:
    src, dst = f"bb-src-{os.getpid()}-{port}", f"bb-dst-{os.getpid()}-{port}"
    addr = f"tcp://{net.there}:{port}"
    remote_flag = [] if net.why else ["--allow-remote"]
    bridge_in = spawn(net.remote([cli, "bridge", "--from", addr, "--to", f"topic:{dst}", "--subscribers", "1",
                                  *remote_flag]), out=subprocess.DEVNULL)
    procs = [bridge_in]
    try:
        recv = spawn(net.remote(me("zipc-recv", dst, n, size)))
        wait_ready(recv, "the topic subscriber")
        send = spawn(me("zipc-send", src, n, size, int(paced)), out=subprocess.DEVNULL)
        bridge_out = spawn([cli, "bridge", "--from", f"topic:{src}", "--to", addr, *remote_flag],
                           out=subprocess.DEVNULL)
        procs += [send, bridge_out]
        res = finish([send, bridge_out], recv)
    finally:
        if bridge_in.poll() is None:
            os.killpg(bridge_in.pid, signal.SIGTERM)
        bridge_in.wait(timeout=30)
    return res


def bridge_skip(cli: str | None) -> str | None:
    if not cli:
        return "no zipc command (make builds build/zipc; --zipc PATH)"
    out = subprocess.run([cli, "bridge", "--help"], capture_output=True, text=True)
    if out.returncode != 0:
        return f"{cli} has no bridge (built without libzmq: apt-get install libzmq3-dev, then rebuild)"
    return None


def find_cli(arg: str | None) -> str | None:
    for c in (arg, os.environ.get("ZIPC_CLI"), "build/zipc", shutil.which("zipc")):
        if c and os.access(c, os.X_OK):
            return os.path.abspath(c)
    return None


def measure(args) -> dict:
    cli = find_cli(args.zipc)
    why_zmq = None
    try:
        import zmq
        zmq_version = zmq.zmq_version()
    except ImportError:
        why_zmq, zmq_version = "pyzmq is not installed (pip install pyzmq)", None
    why_zipc = bridge_skip(cli)
    net = Net()
    work = [("32 B stream", 32, args.n_small, False), ("64 KiB stream", 65536, args.n_large, False),
            ("32 B paced, 1 per 200 us", 32, args.n_paced, True)]
    rows = [(w, who) for w in work for who in ("pyzmq PUSH/PULL", "zipc topic -> bridge -> topic")]
    got = {i: [] for i in range(len(rows))}
    why = {i: (why_zmq if who.startswith("pyzmq") else why_zipc or why_zmq) for i, (_, who) in enumerate(rows)}
    port = PORT
    try:
        for r in range(args.rounds):
            for i, ((label, size, n, paced), who) in enumerate(rows):
                if why[i]:
                    continue
                print(f"round {r + 1}/{args.rounds}: {who}, {label}", file=sys.stderr, flush=True)
                port += 1  # a fresh port per run: nothing of the last one lingers
                try:
                    res = (run_zmq(net, n, size, paced, port) if who.startswith("pyzmq")
                           else run_zipc(net, cli, n, size, paced, port))
                    if res["messages"] != n:
                        raise RuntimeError(f"{res['messages']} of {n} messages")
                    got[i].append(res)
                except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
                    why[i] = f"failed: {e}"
    finally:
        net.close() if not net.why else None
    out = []
    for i, ((label, size, n, paced), who) in enumerate(rows):
        row = {"work": label, "row": who, "messages": n, "size": size}
        if why[i] or not got[i]:
            row["skipped"] = why[i] or "no round finished"
        else:
            for k in ("msgs_per_s", "mb_per_s", "lat_p50_ns", "lat_p99_ns"):
                row[k] = statistics.median(g[k] for g in got[i])
        out.append(row)
    for row in out:  # zipc's rate against pyzmq's, same workload, same run
        base = next((r for r in out if r["work"] == row["work"] and r["row"].startswith("pyzmq")), None)
        if "skipped" not in row and base and "skipped" not in base:
            row["x_pyzmq_rate"] = row["msgs_per_s"] / base["msgs_per_s"]
            row["x_pyzmq_p50"] = row["lat_p50_ns"] / base["lat_p50_ns"]
    return {"machine": machine(), "network": net.describe(), "zipc": cli, "libzmq": zmq_version,
            "rounds": args.rounds, "rows": out}




def print_table(rep: dict) -> None:
    m = rep["machine"]
    print(f"zipc bridge benchmark: {m['cpu_model']}, {m['cores']} CPUs, Linux {m['kernel']}, Python {m['python']}, "
          f"libzmq {rep['libzmq']}; {rep['network']}; median of {rep['rounds']} rounds")
    print(f"{'workload':26} {'row':32} {'msgs/s':>10} {'MB/s':>8} {'p50 us':>8} {'p99 us':>8} {'vs pyzmq':>9}")
    for r in rep["rows"]:
        if "skipped" in r:
            print(f"{r['work']:26} {r['row']:32}  skipped: {r['skipped']}")
            continue
        x = f"{r['x_pyzmq_rate']:.2f}x" if "x_pyzmq_rate" in r else ""
        print(f"{r['work']:26} {r['row']:32} {r['msgs_per_s']:>10.0f} {r['mb_per_s']:>8.1f} "
              f"{r['lat_p50_ns'] / 1e3:>8.0f} {r['lat_p99_ns'] / 1e3:>8.0f} {x:>9}")
    print("latency: one-way, send to receipt (the streams' include their queueing); vs pyzmq: the rate's ratio")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m zipc.bench_bridge", description=__doc__.split("\n\n")[0])
    ap.add_argument("--zipc", help="the zipc command (default: $ZIPC_CLI, build/zipc, or zipc on PATH)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="few messages, one round")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.role:
        kind, target, n, size, *rest = args.role
        n, size = int(n), int(size)
        {"zmq-recv": lambda: role_zmq_recv(target, n, size),
         "zmq-send": lambda: role_zmq_send(target, n, size, rest == ["1"]),
         "zipc-recv": lambda: role_zipc_recv(target, n, size),
         "zipc-send": lambda: role_zipc_send(target, n, size, rest == ["1"])}[kind]()
        return 0
    args.n_small, args.n_large, args.n_paced = (20000, 2000, 500) if args.quick else (200000, 20000, 2000)
    if args.quick:
        args.rounds = 1
    rep = measure(args)
    print(json.dumps(rep) if args.json else "", end="\n" if args.json else "")
    if not args.json:
        print_table(rep)
    return 0


if __name__ == "__main__":
    sys.exit(main())

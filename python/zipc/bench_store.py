"""Tensor store benchmark: python3 -m zipc.bench_store [--mib N] [--procs 1,4,16] [--rounds R] [--json]

What an inference host pays to start N worker processes of one model: each
worker is a fresh interpreter (its imports done before the clock starts) that
loads the model the way a user of that library would, reads its first tensor,
then reads every page of every tensor and checks it. Measured per row:
- time to first tensor: from just before the open/load call to the first
  tensor's first element in hand, in each worker; the median and the worst of
  the N workers (they all start at once, as a host starting its pool does);
- total memory: the growth of each worker's Pss (/proc/PID/smaps_rollup) from
  before the load to when every worker has read everything, summed, plus,
  for the zipc rows, the publisher's share of the store's pages; in units of
  one model copy (1.00x: one copy in RAM for all, 16.00x: a copy each).
The model is a safetensors file of float32[2048, 1024] tensors (8 MiB each,
--mib in all), written with the `safetensors` package and read warm from the
page cache by every row. zipc publishes it once (timed: GB/s including the
XXH3 hashing, against a memcpy of the same bytes in this process, between
faulted-in buffers and into fresh memory).
Rows: zipc Store.open (NumPy views), zipc Store.open().state_dict() (torch),
safetensors.numpy.load_file, safetensors safe_open (numpy), safetensors.torch
.load_file, torch.load(mmap=True); a row whose library is missing says why.
Each row runs --rounds times (default 3) round-robin over the table; the
figures are the medians over rounds.
"""
from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

from ._bench_work import machine

TENSOR_SHAPE = (2048, 1024)  # float32: 8 MiB
TENSOR_BYTES = TENSOR_SHAPE[0] * TENSOR_SHAPE[1] * 4
FIRST = "layers.0.weight"
WORKER_DEADLINE_S = 300


def tensor_name(i: int) -> str:
    return f"layers.{i}.weight"


def tensor_value(i: int) -> float:
    return (i % 97) + 0.25  # exact in float32


# ---- the workers (one fresh interpreter each) ------------------------------------------

def pss_kib() -> int:
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError("no Pss line in /proc/self/smaps_rollup")


def check(name: str, array) -> None:
    """Read one float of every 4 KiB page of the tensor and check it."""
    import numpy as np
    i = int(name.split(".")[1])
    flat = np.asarray(array).reshape(-1)
    if flat.size * 4 != TENSOR_BYTES or not np.all(flat[::1024] == np.float32(tensor_value(i))):
        raise SystemExit(f"tensor {name}: wrong content")


def load_zipc(name: str):
    import zipc
    s = zipc.Store.open(name)
    return s[FIRST], lambda: {k: s[k] for k in s}, s


def load_zipc_torch(name: str):
    import zipc
    s = zipc.Store.open(name)
    sd = s.state_dict()
    return sd[FIRST].numpy(), lambda: {k: v.numpy() for k, v in sd.items()}, (s, sd)


def load_st_numpy(path: str):
    from safetensors.numpy import load_file
    d = load_file(path)
    return d[FIRST], lambda: d, d


def load_st_safe_open(path: str):
    from safetensors import safe_open
    f = safe_open(path, framework="np")
    first = f.get_tensor(FIRST)
    return first, lambda: {k: f.get_tensor(k) for k in f.keys()}, f


def load_st_torch(path: str):
    from safetensors.torch import load_file
    d = load_file(path)
    return d[FIRST].numpy(), lambda: {k: v.numpy() for k, v in d.items()}, d


def load_torch_mmap(path: str):
    import torch
    d = torch.load(path, mmap=True, weights_only=True)
    return d[FIRST].numpy(), lambda: {k: v.numpy() for k, v in d.items()}, d


LOADERS = {"zipc": load_zipc, "zipc-torch": load_zipc_torch, "st-numpy": load_st_numpy,
           "st-safe-open": load_st_safe_open, "st-torch": load_st_torch, "torch-mmap": load_torch_mmap}

# the imports a worker does before the clock starts (what a real worker has loaded anyway)
IMPORTS = {"zipc": ["numpy", "zipc"], "zipc-torch": ["numpy", "torch", "zipc"],
           "st-numpy": ["numpy", "safetensors.numpy"], "st-safe-open": ["numpy", "safetensors"],
           "st-torch": ["numpy", "torch", "safetensors.torch"], "torch-mmap": ["numpy", "torch"]}


def worker(how: str, target: str) -> None:
    """Say "ready" after the imports, load on "go", report, exit on EOF."""
    import importlib
    for m in IMPORTS[how]:
        importlib.import_module(m)
    before = pss_kib()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    t0 = time.perf_counter_ns()
    first, everything, keep = LOADERS[how](target)
    _ = float(first[0, 0])
    t_first = time.perf_counter_ns() - t0
    check(FIRST, first)
    tensors = everything()
    for k, v in tensors.items():
        check(k, v)
    t_all = time.perf_counter_ns() - t0
    print("loaded", flush=True)
    # Pss divides a shared page among its mappers: measured once every worker has mapped everything
    if sys.stdin.readline().strip() != "measure":
        return
    print(json.dumps({"first_ns": t_first, "all_ns": t_all, "tensors": len(tensors),
                      "pss_kib": pss_kib() - before}), flush=True)
    sys.stdin.read()  # hold everything until the parent has measured
    del keep, tensors, first


# ---- the parent ------------------------------------------------------------------------

def store_pss_kib() -> int:
    """This process's Pss on zipc memfd mappings (the store it publishes)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
                inside = "memfd:zipc" in line
            elif inside and line.startswith("Pss:"):
                total += int(line.split()[1])
    return total


def run_workers(how: str, target: str, n: int, python: str) -> dict:
    env = dict(os.environ)
    procs = [subprocess.Popen([python, "-m", "zipc.bench_store", "--worker", how, target],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(n)]
    try:
        deadline = time.monotonic() + WORKER_DEADLINE_S
        for p in procs:
            if read_line(p, deadline) != "ready":
                raise RuntimeError(f"a {how} worker did not start (exit {p.poll()})")
        for p in procs:  # all at once: the pool starts together
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            line = read_line(p, deadline)
            if line != "loaded":
                raise RuntimeError(f"a {how} worker failed: {line or 'no output'} (exit {p.poll()})")
        for p in procs:
            p.stdin.write("measure\n")
            p.stdin.flush()
        results = []
        for p in procs:
            line = read_line(p, deadline)
            if not line.startswith("{"):
                raise RuntimeError(f"a {how} worker failed: {line or 'no output'} (exit {p.poll()})")
            results.append(json.loads(line))
        publisher = store_pss_kib() if how.startswith("zipc") else 0
    finally:
        for p in procs:
            try:
                p.stdin.close()
            except OSError:
                pass
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    bad = [p.returncode for p in procs if p.returncode]
    if bad:
        raise RuntimeError(f"{how} workers exited with {bad}")
    firsts = sorted(r["first_ns"] for r in results)
    return {"first_p50_ns": statistics.median(firsts), "first_max_ns": firsts[-1],
            "all_max_ns": max(r["all_ns"] for r in results),
            "memory_kib": sum(r["pss_kib"] for r in results) + publisher,
            "tensors": results[0]["tensors"]}


def read_line(p: subprocess.Popen, deadline: float) -> str:
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
        raise RuntimeError("a worker did not answer in time")
    return p.stdout.readline().strip()


def importable(*mods: str) -> str | None:
    """None, or why one of mods cannot be imported."""
    import importlib
    for m in mods:
        try:
            importlib.import_module(m)
        except Exception as e:  # noqa: BLE001 - any import failure is a reason to skip
            return f"{m} is not importable here ({type(e).__name__}: {e})"
    return None


def skip_reason(how: str) -> str | None:
    why = importable(*IMPORTS[how])
    if why:
        hint = {"torch": "apt-get install python3-torch, or pip install torch",
                "safetensors": "pip install safetensors"}
        for k, v in hint.items():
            if k in why.split(" ", 1)[0]:
                return f"{why}: {v}"
        return why
    if how == "torch-mmap":
        import inspect
        import torch
        if "mmap" not in inspect.signature(torch.load).parameters:
            return f"torch {torch.__version__} has no torch.load(mmap=True) (torch 2.1 or later)"
    return None


ROWS = [("zipc", "zipc Store.open, NumPy views"),
        ("zipc-torch", "zipc Store.open().state_dict(), torch"),
        ("st-numpy", "safetensors.numpy.load_file"),
        ("st-safe-open", "safetensors safe_open(framework='np').get_tensor"),
        ("st-torch", "safetensors.torch.load_file"),
        ("torch-mmap", "torch.load(mmap=True)")]


def make_model(mib: int, workdir: str) -> tuple[str, str | None, int]:
    """The .safetensors file (and a torch.save of it when torch can mmap it)."""
    import numpy as np
    from safetensors.numpy import save_file
    n = max(1, mib * (1 << 20) // TENSOR_BYTES)
    arrays = {tensor_name(i): np.full(TENSOR_SHAPE, tensor_value(i), np.float32) for i in range(n)}
    path = os.path.join(workdir, "model.safetensors")
    save_file(arrays, path, metadata={"format": "np"})
    pt = None
    if skip_reason("torch-mmap") is None:
        import torch
        pt = os.path.join(workdir, "model.pt")
        torch.save({k: torch.from_numpy(v) for k, v in arrays.items()}, pt)
    return path, pt, n


def memcpy_gbps(nbytes: int) -> tuple[float, float]:
    """A copy between faulted-in buffers, and into fresh memory (its page
    faults included: what any copy into new memory pays, a publish too)."""
    import numpy as np
    src = np.ones(nbytes, np.uint8)
    dst = np.ones(nbytes, np.uint8)
    t0 = time.perf_counter()
    np.copyto(dst, src)
    warm = nbytes / (time.perf_counter() - t0) / 1e9
    del dst
    t0 = time.perf_counter()
    fresh = np.empty(nbytes, np.uint8)
    np.copyto(fresh, src)
    return warm, nbytes / (time.perf_counter() - t0) / 1e9




def versions() -> dict:
    from importlib import metadata
    out = {}
    for dist in ("zipc", "numpy", "safetensors", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def measure(args) -> dict:
    import zipc
    why = {how: skip_reason(how) for how, _ in ROWS}
    report = {"machine": machine(), "versions": versions(), "model_mib": args.mib, "rows": []}
    if importable("safetensors"):
        report["skipped"] = f"the model file needs safetensors: {importable('safetensors')}: pip install safetensors"
        return report
    with tempfile.TemporaryDirectory(prefix="zipc-bench-store-") as workdir:
        path, pt, n = make_model(args.mib, workdir)
        nbytes = n * TENSOR_BYTES
        name = f"bench-store-{os.getpid()}"
        t0 = time.perf_counter()
        store = zipc.Store.publish(name, path)
        publish_s = time.perf_counter() - t0
        warm, fresh = memcpy_gbps(nbytes)
        report["publish"] = {"bytes": nbytes, "gbps": nbytes / publish_s / 1e9, "memcpy_gbps": warm,
                             "memcpy_fresh_gbps": fresh}
        print(f"published {nbytes >> 20} MiB in {publish_s * 1e3:.0f} ms", file=sys.stderr)
        targets = {"zipc": name, "zipc-torch": name, "torch-mmap": pt}
        figures = {(how, n_): [] for how, _ in ROWS for n_ in args.procs}
        for r in range(args.rounds):
            for how, _ in ROWS:
                if why[how]:
                    continue
                for n_ in args.procs:
                    print(f"round {r + 1}/{args.rounds}: {how} x{n_}", file=sys.stderr, flush=True)
                    try:
                        figures[how, n_].append(run_workers(how, targets.get(how, path), n_, args.python))
                    except RuntimeError as e:
                        why[how] = f"failed: {e}"
        store.close()
        for how, label in ROWS:
            for n_ in args.procs:
                row = {"row": label, "loader": how, "processes": n_}
                got = figures[how, n_]
                if why[how] or not got:
                    row["skipped"] = why[how] or "no round finished"
                else:
                    row.update({k: statistics.median(g[k] for g in got)
                                for k in ("first_p50_ns", "first_max_ns", "all_max_ns", "memory_kib")})
                    row["copies"] = row["memory_kib"] * 1024 / nbytes
                    row["tensors_checked"] = got[0]["tensors"]
                report["rows"].append(row)
    return report


def fmt_ms(ns: float) -> str:
    return f"{ns / 1e6:.3f}" if ns < 1e7 else f"{ns / 1e6:.0f}"


def print_table(rep: dict) -> None:
    m = rep["machine"]
    print(f"zipc tensor store benchmark: {m['cpu_model']}, {m['cores']} CPUs, Linux {m['kernel']}, "
          f"Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in rep["versions"].items() if v))
    if "skipped" in rep:
        print(f"skipped: {rep['skipped']}")
        return
    p = rep["publish"]
    print(f"model: {p['bytes'] >> 20} MiB of float32[2048,1024] tensors, a warm .safetensors file; "
          f"zipc publish {p['gbps']:.2f} GB/s with XXH3; memcpy {p['memcpy_gbps']:.2f} GB/s between faulted-in "
          f"buffers ({p['gbps'] / p['memcpy_gbps']:.2f}x), {p['memcpy_fresh_gbps']:.2f} GB/s into fresh memory "
          f"({p['gbps'] / p['memcpy_fresh_gbps']:.2f}x)")
    print(f"{'row':52} {'procs':>5} {'first p50 ms':>12} {'first max ms':>12} {'all max ms':>10} {'memory':>8}")
    for r in rep["rows"]:
        if "skipped" in r:
            print(f"{r['row']:52} {r['processes']:>5}  skipped: {r['skipped']}")
            continue
        print(f"{r['row']:52} {r['processes']:>5} {fmt_ms(r['first_p50_ns']):>12} {fmt_ms(r['first_max_ns']):>12} "
              f"{fmt_ms(r['all_max_ns']):>10} {r['copies']:>7.2f}x")
    print("first: open/load to the first tensor's first element, per worker (all start at once); all: every "
          "page of every tensor read and checked; memory: the workers' Pss growth (+ the publisher's share "
          "of the store), in model copies.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m zipc.bench_store", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=1024, help="model size in MiB (default 1024)")
    ap.add_argument("--procs", default="1,4,16", help="worker counts (default 1,4,16)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per row (default 3)")
    ap.add_argument("--quick", action="store_true", help="64 MiB, 1 and 4 workers, one round")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    ap.add_argument("--worker", nargs=2, metavar=("LOADER", "TARGET"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    if args.quick:
        args.mib, args.procs, args.rounds = 64, "1,4", 1
    try:
        args.procs = [int(x) for x in args.procs.split(",")]
    except ValueError:
        ap.error("--procs: comma-separated counts")
    if args.mib < 8 or args.rounds < 1 or min(args.procs) < 1:
        ap.error("--mib >= 8, --rounds >= 1, --procs >= 1")
    args.python = sys.executable
    rep = measure(args)
    if args.json:
        print(json.dumps(rep))
    else:
        print_table(rep)
    return 0


if __name__ == "__main__":
    sys.exit(main())

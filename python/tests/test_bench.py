"""python -m zipc.bench: every row checks what it receives, and says why when it has no figures."""
import json
import subprocess
import sys

import pytest

from zipc import _bench_work as bw
from zipc import bench

np = pytest.importorskip("numpy")


def test_checks_reject_lost_corrupted_and_reordered_messages():
    w = bw.Work("msg32", 4)
    w.check_bytes(bw.msg32(0))
    with pytest.raises(bw.BadMessage):
        w.check_bytes(bw.msg32(2))  # message 1 lost
    bad = bytearray(bw.msg32(1))
    bad[20] ^= 1
    with pytest.raises(bw.BadMessage):
        w.check_bytes(bytes(bad))
    a = bw.Work("tensor1k", 2 * bw.FULL_EVERY)
    msg = a.array(0)
    msg[100] += 1  # the middle: caught on a message whose whole content is compared
    with pytest.raises(bw.BadMessage):
        a.check_array(msg)
    with pytest.raises(bw.BadMessage):
        a.check_array(a.array(1))  # message 0 did not pass: 0 is still expected
    a.check_array(a.array(0))
    with pytest.raises(bw.BadMessage):
        bw.Clock().result(a)  # 1 of 128 arrived


def test_every_row_verifies_the_same_count_or_says_why():
    most = 3000  # more than one receive's worth in every row
    out = subprocess.run([sys.executable, "-m", "zipc.bench", "--quick", "--json", "--messages", str(most)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout)["rows"]
    assert {r["kind"] for r in rows} == set(bw.KINDS)
    for r in rows:
        if r["name"].startswith("ipc0cp push/pop") and "error" in r:
            continue  # ipc0cp 0.1.0's consumer frees a slot before reading it: a wrapping ring may tear it
        assert "error" not in r, f"{r['name']} {r['kind']}: {r['error']}"
        if "skipped" in r:  # a peer that is not installed: the row says how to get it
            assert "pip install" in r["skipped"], r
            continue
        n = min(most, bw.KINDS[r["kind"]][2])  # the same count for every row of a workload
        assert r["messages"] == r["verified"] == n and r["msgs_per_s"] > 0, r
    ran = {r["name"] for r in rows if "msgs_per_s" in r}
    assert {"zipc send/recv_many", "multiprocessing.Queue", "zipc C producer -> recv_tensors",
            "zipc Queue put/get", bench.STREAM_ROW} <= ran
    for r in rows:  # the pipe rows' ratio, in the same run
        if r["name"] == bench.IPC0CP_STDIO_ROW and "msgs_per_s" in r:
            mine = next(m for m in rows if m["kind"] == r["kind"] and m["name"] == bench.STREAM_ROW)
            assert r["zipc_stream_x"] == round(mine["msgs_per_s"] / r["msgs_per_s"], 2), r
    assert bench.pipe_line(rows).startswith("pipe, same objects: zipc stream rate / ipc0cp STDIO rate: msg32 ")


def test_pipe_line_gives_the_ratio_or_says_why_not():
    rows = [{"kind": "msg32", "name": bench.STREAM_ROW, "msgs_per_s": 300.0},
            {"kind": "msg32", "name": bench.IPC0CP_STDIO_ROW, "msgs_per_s": 100.0},
            {"kind": "array1m", "name": bench.STREAM_ROW, "msgs_per_s": 30.0},
            {"kind": "array1m", "name": bench.IPC0CP_STDIO_ROW, "skipped": "ipc0cp is not installed: pip install ipc0cp"}]
    bench.add_ratios(rows)
    assert rows[1]["zipc_stream_x"] == 3.0
    assert bench.pipe_line(rows) == ("pipe, same objects: zipc stream rate / ipc0cp STDIO rate: msg32 3.00x, "
                                     "array1m no ratio (ipc0cp is not installed: pip install ipc0cp)")


def _cli():
    """The zipc CLI of a build tree of this checkout (tests/run_all.sh's plain stage builds build-test)."""
    from cbuild import repo_root

    root = repo_root()
    for d in ("build-test", "build"):
        if root is not None and (root / d / "zipc").is_file():
            return root, root / d / "zipc"
    pytest.skip("no zipc CLI built in build-test/ or build/ (make, or tests/run_all.sh's plain stage)")


def test_bench_plot_draws_the_run(tmp_path):
    """zipc bench --plot: the run's JSON (with each round trip's quantiles) drawn by bench/plot.py."""
    pytest.importorskip("matplotlib", reason="matplotlib not installed: --plot says so and draws nothing")
    root, cli = _cli()
    env = dict(__import__("os").environ, ZIPC_PYTHON=sys.executable, ZIPC_RUST_BENCH="/nonexistent",
               ZIPC_PEERS="/nonexistent")
    out = tmp_path / "bench.svg"
    r = subprocess.run([str(cli), "bench", "--quick", "--json", "--rows", "zipc,floor", "--plot", str(out)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    rtt = [row for row in result["rows"] if row["kind"] == "rtt" and row["ok"]]
    assert {"zipc", "floor"} <= {row["name"] for row in rtt}
    for row in rtt:  # quantiles from 0 to 1, the latencies never decreasing, ending at the max
        qs, ns = zip(*row["cdf"])
        assert qs[0] == 0 and qs[-1] == 1 and list(ns) == sorted(ns)
        assert ns[0] == row["min_ns"] and ns[-1] == row["max_ns"]
    assert f"plot written to {out}" in r.stderr
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    # without matplotlib's interpreter: one line says why, the run still succeeds
    env["ZIPC_PYTHON"] = "/nonexistent/python"
    r = subprocess.run([str(cli), "bench", "--quick", "--rows", "floor", "--plot", str(tmp_path / "b.png")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and "plot skipped: /nonexistent/python not found" in r.stderr
    bad = subprocess.run([str(cli), "bench", "--plot", "x.pdf"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and ".svg or .png" in bad.stderr


def test_bench_cpp_calls_section():
    """zipc bench's cpp-calls section: the C++ forms beside the C calls, one thread, every message checked."""
    root, cli = _cli()
    env = dict(__import__("os").environ, ZIPC_PYTHON="/nonexistent", ZIPC_RUST_BENCH="/nonexistent",
               ZIPC_PEERS="/nonexistent")
    r = subprocess.run([str(cli), "bench", "--quick", "--rows", "cpp-calls"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    if "cpp-calls" not in r.stdout:
        pytest.skip("this zipc CLI was built without C++ (ZIPC_BUILD_CPP off): no cpp-calls section")
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith(("producer ", "consumer "))]
    assert [row[0] for row in rows] == ["producer"] * 2 + ["consumer"] * 3
    for row in rows:
        ns, unit, ratio = float(row[-3]), row[-2], row[-1]
        assert unit == "ns" and 0 < ns < 100_000 and ratio.endswith("x")
    assert rows[0][-1] == "1.000x" and rows[2][-1] == "1.000x"  # each side's C form is its own reference
    verdicts = [line.split()[0] for line in r.stdout.split("cpp-calls targets")[1].splitlines()[1:] if line.strip()]
    assert len(verdicts) == 3 and set(verdicts) <= {"PASS", "MISS"}

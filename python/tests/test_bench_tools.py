"""python -m zipc.bench_store and zipc.bench_bridge: the ends check what they receive; rows without their library say why."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from zipc import bench_store as bs

needs_safetensors = pytest.mark.skipif(importlib.util.find_spec("safetensors") is None,
                                       reason="safetensors is not installed (pip install safetensors)")


def test_check_refuses_a_wrong_page():
    good = np.full(bs.TENSOR_SHAPE, bs.tensor_value(3), np.float32)
    bs.check("layers.3.weight", good)
    bad = good.copy()
    bad.reshape(-1)[1024 * 77] = 0  # one page's sampled float
    with pytest.raises(SystemExit, match="wrong content"):
        bs.check("layers.3.weight", bad)
    with pytest.raises(SystemExit):
        bs.check("layers.3.weight", good[:1024])  # a tensor of the wrong size


@needs_safetensors
def test_quick_run_measures_zipc_and_explains_skips(tmp_path):
    out = subprocess.run([sys.executable, "-m", "zipc.bench_store", "--mib", "16", "--procs", "1,2",
                          "--rounds", "1", "--json"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["publish"]["bytes"] == 16 << 20 and rep["publish"]["gbps"] > 0
    rows = {(r["loader"], r["processes"]): r for r in rep["rows"]}
    assert set(rows) == {(how, n) for how, _ in bs.ROWS for n in (1, 2)}
    for n in (1, 2):
        zipc_row = rows["zipc", n]
        assert "skipped" not in zipc_row, zipc_row
        assert zipc_row["tensors_checked"] == 2
        assert 0 < zipc_row["first_p50_ns"] <= zipc_row["first_max_ns"] <= zipc_row["all_max_ns"]
        assert 0.5 < zipc_row["copies"] < 2  # one copy shared (plus each process's own small growth)
        assert "skipped" not in rows["st-numpy", n]
    for r in rep["rows"]:
        assert "skipped" in r or r["tensors_checked"] == 2
        if "skipped" in r:
            assert r["skipped"] and "failed" not in r["skipped"], r


# ---- python -m zipc.bench_bridge ---------------------------------------------------------

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def zipc_cli():
    for c in (os.environ.get("ZIPC_CLI"), ROOT / "build-test" / "zipc", ROOT / "build" / "zipc"):
        if c and os.access(c, os.X_OK):
            return str(c)
    return None


needs_cli = pytest.mark.skipif(zipc_cli() is None, reason="no zipc command built (build-test/zipc or $ZIPC_CLI)")


def test_bridge_receiver_refuses_what_was_not_sent():
    from zipc import bench_bridge as bb
    r = bb.Receiver(2, 64)
    r.take(bb.payload(0, 64))
    with pytest.raises(SystemExit, match="not what was sent"):
        r.take(bb.payload(2, 64))  # a message skipped
    with pytest.raises(SystemExit):
        r.take(bb.payload(1, 63))  # the wrong size


@needs_cli
@pytest.mark.skipif(importlib.util.find_spec("zmq") is None, reason="pyzmq is not installed (pip install pyzmq)")
def test_bridge_quick_run_measures_both_rows():
    out = subprocess.run([sys.executable, "-m", "zipc.bench_bridge", "--quick", "--json", "--zipc", zipc_cli()],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert len(rep["rows"]) == 6
    for r in rep["rows"]:
        assert "skipped" not in r, r  # both rows ran every workload, every message checked
        assert r["msgs_per_s"] > 0 and 0 < r["lat_p50_ns"] <= r["lat_p99_ns"]
    assert all("x_pyzmq_rate" in r for r in rep["rows"] if r["row"].startswith("zipc"))

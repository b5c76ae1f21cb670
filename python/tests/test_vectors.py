"""The Python encoder produces, and the decoder reads, the shared test vectors."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
from zipc import _typed  # noqa: E402

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"
MANIFEST = json.loads((VECTORS / "vectors.json").read_text(encoding="utf-8"))


def test_encoder_reproduces_the_committed_bytes():
    r = subprocess.run([sys.executable, str(VECTORS / "make_vectors.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def expected(meta):
    kind = meta["kind"]
    if kind == "bytes":
        return bytes.fromhex(meta["hex"])
    if kind in ("str", "json"):
        return meta["value"]
    if kind == "list":
        return [expected(m) for m in meta["items"]]
    raise AssertionError(kind)


@pytest.mark.parametrize("name", sorted(n for n, m in MANIFEST.items() if m["kind"] != "tick"))
def test_decoder_reads_each_vector(name):
    meta = MANIFEST[name]
    value = _typed.decode(meta["type_id"], (VECTORS / f"{name}.bin").read_bytes())
    if meta["kind"] == "tensor":
        assert str(value.dtype) == meta["dtype"]
        assert list(value.shape) == meta["shape"]
        assert value.ravel().tolist() == meta["values"]
    else:
        assert value == expected(meta)

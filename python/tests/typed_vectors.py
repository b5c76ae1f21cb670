"""The shared test vectors (tests/vectors) as Python objects, for the tests
that move them between processes and languages: the object a Python
producer sends for each vector, and the check that a received object decodes
as the vector does. Imported by the tests and by their child processes."""
from __future__ import annotations

import json
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"
MANIFEST = json.loads((VECTORS / "vectors.json").read_text(encoding="utf-8"))
NAMES = sorted(p.stem for p in VECTORS.glob("*.bin"))  # the order cpp/tests/vectors_peer.cpp sends them in


def payload(name: str) -> bytes:
    return (VECTORS / f"{name}.bin").read_bytes()


def expected(meta):
    """The decoded value of a bytes, str, JSON or list vector."""
    kind = meta["kind"]
    if kind == "bytes":
        return bytes.fromhex(meta["hex"])
    if kind in ("str", "json"):
        return meta["value"]
    if kind == "list":
        return [expected(m) for m in meta["items"]]
    raise AssertionError(kind)


def obj(name: str):
    """What a Python producer sends for vector `name`: its value, made from the
    manifest (a tick, a user type, as RawMessage). The Python encoder turns each
    into the vector's bytes (make_vectors.py --check)."""
    import numpy as np

    import zipc

    meta = MANIFEST[name]
    if meta["kind"] == "tensor":
        return np.array(meta["values"], dtype=meta["dtype"]).reshape(meta["shape"])
    if meta["kind"] == "tick":
        return zipc.RawMessage(meta["type_id"], payload(name))
    if meta["kind"] == "json":  # the vector's key order: the manifest's is sorted
        value = json.loads(payload(name))
        assert value == meta["value"]
        return value
    return expected(meta)


def _same(got, want) -> bool:
    """Equal, and of the same types all the way down (1 is not True, b"" not "")."""
    if type(got) is not type(want):
        return False
    if isinstance(want, list):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want))
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(_same(got[k], want[k]) for k in want)
    return got == want


def check(name: str, got) -> None:
    """got, a received object, is what vector `name` decodes to (AssertionError if not)."""
    import numpy as np

    import zipc

    meta = MANIFEST[name]
    if meta["kind"] == "tensor":
        assert isinstance(got, np.ndarray), (name, got)
        assert str(got.dtype) == meta["dtype"] and list(got.shape) == meta["shape"], (name, got.dtype, got.shape)
        assert got.ravel().tolist() == meta["values"], (name, got)
    elif meta["kind"] == "tick":
        assert isinstance(got, zipc.RawMessage), (name, got)
        assert got.type_id == meta["type_id"] and bytes(got.data) == payload(name), (name, got)
    else:
        assert _same(got, expected(meta)), (name, got, expected(meta))


def check_rounds(objs: list, rounds: int) -> None:
    """objs are every vector in name order, `rounds` times, and nothing else."""
    assert len(objs) == rounds * len(NAMES), f"{len(objs)} objects, expected {rounds} x {len(NAMES)}"
    for i, got in enumerate(objs):
        check(NAMES[i % len(NAMES)], got)

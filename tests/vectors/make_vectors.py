"""Shared test vectors: the bytes every language must produce and read.

Each vector is one message: <name>.bin holds its payload, vectors.json its
type id and the decoded value. The typed-message and tensor formats
(docs/ABI.md §9) and the 32-byte market tick used by the examples are pinned
here; the C++, Rust and Python tests decode these files and check that
their own encoders produce the same bytes (JSON payloads: the same value,
since key order and spacing are free; every other kind: the same bytes).

    python3 tests/vectors/make_vectors.py          # (re)write the files
    python3 tests/vectors/make_vectors.py --check  # exit 1 if they differ
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np

from zipc import _typed

HERE = Path(__file__).resolve().parent

# struct tick { uint64_t seq; int64_t ts_ns; double price; float qty; uint32_t side; } — 32 bytes
TICK = struct.Struct("<QqdfI")
TICK_TYPE_ID = 0x7469636B  # "tick", a user type id


def cases():
    yield "bytes", b"\x00\x01zipc\xff", {"kind": "bytes", "hex": "0001" + b"zipc".hex() + "ff"}
    yield "str", "zéro-copie ✓", {"kind": "str", "value": "zéro-copie ✓"}
    doc = {"symbol": "ABC", "bid": 101.25, "levels": [1, 2, 3], "live": True, "note": None}
    yield "json", doc, {"kind": "json", "value": doc}
    t = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    yield "tensor_f32_2x3", t, {"kind": "tensor", "dtype": "float32", "shape": [2, 3], "values": t.ravel().tolist()}
    i = np.array([-1, 2, -3, 4], dtype=np.int64)
    yield "tensor_i64_4", i, {"kind": "tensor", "dtype": "int64", "shape": [4], "values": i.tolist()}
    u = np.array(7, dtype=np.uint8)
    yield "tensor_u8_scalar", u, {"kind": "tensor", "dtype": "uint8", "shape": [], "values": [7]}
    yield "list", [b"ab", "cd", [1, 2]], {"kind": "list", "items": [
        {"kind": "bytes", "hex": b"ab".hex()}, {"kind": "str", "value": "cd"}, {"kind": "json", "value": [1, 2]}]}


def tick_vector():
    fields = {"seq": 42, "ts_ns": 1_700_000_000_123_456_789, "price": 101.25, "qty": 3.5, "side": 1}
    return TICK.pack(*fields.values()), {"kind": "tick", "type_id": TICK_TYPE_ID, "fields": fields}


def build():
    out = {}
    for name, obj, expect in cases():
        type_id, payload = _typed.encode(obj)
        out[name] = (bytes(payload), {"type_id": type_id, **expect})
    payload, meta = tick_vector()
    out["tick"] = (payload, meta)
    return out


def main():
    check = "--check" in sys.argv
    vectors = build()
    manifest = {name: meta for name, (_, meta) in vectors.items()}
    text = json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    differ = []
    for name, (payload, _) in vectors.items():
        path = HERE / f"{name}.bin"
        if check:
            if not path.exists() or path.read_bytes() != payload:
                differ.append(path.name)
        else:
            path.write_bytes(payload)
    mpath = HERE / "vectors.json"
    if check:
        if not mpath.exists() or mpath.read_text(encoding="utf-8") != text:
            differ.append(mpath.name)
        if differ:
            print("vectors differ:", ", ".join(differ))
            return 1
        print(f"{len(vectors)} vectors match")
        return 0
    mpath.write_text(text, encoding="utf-8")
    print(f"wrote {len(vectors)} vectors to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

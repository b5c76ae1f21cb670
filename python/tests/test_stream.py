"""StreamWriter / StreamReader: typed objects over pipes, sockets and files,
between processes, and with the C library (tests/stream/test_vectors.c built
as a program: it echoes frames and writes the shared vectors)."""
import errno
import hashlib
import io
import os
import socket
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import zlib

import pytest

import zipc
from zipc import _stream

from cbuild import build_peer, repo_root
from conftest import run_pipeline

np = pytest.importorskip("numpy")


def pipe_round_trip(objs, **reader_kw):
    """Write objs from a thread into a pipe, read them back here."""
    r, w = os.pipe()

    def produce():
        with os.fdopen(w, "wb") as f:
            writer = zipc.StreamWriter(f)
            for o in objs:
                writer.write(o)

    t = threading.Thread(target=produce)
    t.start()
    with os.fdopen(r, "rb") as f:
        got = list(zipc.StreamReader(f, **reader_kw))
    t.join()
    return got


def same(a, b):
    if isinstance(a, np.ndarray) or isinstance(a, np.generic):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (list, tuple)) and not isinstance(a, zipc.RawMessage):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


OBJECTS = [
    b"", b"\x00bytes\xff", "", "zéro-copie ✓", {"k": [1, 2.5, None, True], "s": "x"}, 3, None,
    np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.arange(10, dtype=np.int64)[::3],
    np.asfortranarray(np.arange(6, dtype=np.uint16).reshape(2, 3)), np.zeros((0, 5)), np.float64(-2.5),
    np.array([True, False]), np.arange(4, dtype=np.complex64),
    np.random.default_rng(1).standard_normal((512, 1024)),  # 4 MiB: larger than any pipe buffer
    [np.arange(3), "x", b"y", {"z": 1}, [np.ones((2, 2), np.uint8), "nested"]],
    zipc.RawMessage(0x1234, b"an id nobody registered"),
]


def test_crc_is_zlibs_with_the_c_test_vector():
    assert zlib.crc32(b"123456789") == 0xCBF43926  # zipc_stream_crc32's vector (tests/stream/test_frames.c)
    h = _stream.frame_header(7, 3, zlib.crc32(b"abc"))
    assert len(h) == _stream.HEADER_SIZE == 32
    assert h[:4] == b"ZSTM" and zlib.crc32(h[:28]).to_bytes(4, "little") == h[28:]


def test_objects_round_trip_through_a_pipe():
    got = pipe_round_trip(OBJECTS)
    assert len(got) == len(OBJECTS)
    for a, b in zip(OBJECTS, got):
        assert same(a, b), (a, b)


def test_arrays_read_are_writable_and_their_own():
    """A frame's array is made over the frame's own buffer (no second copy): as a copy would be."""
    a = np.arange(6, dtype=np.complex128).reshape(2, 3)
    got = pipe_round_trip([a, a, np.float32(2.5)])
    for g in got:
        assert g.flags.writeable and g.flags.aligned
    got[0][0, 0] = 99
    assert got[1][0, 0] == 0 and np.array_equal(got[1], a) and got[2].shape == () and got[2] == 2.5


def test_registered_type_and_raw_reads():
    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

    zipc.register_type(0x5050, Point, lambda p: bytes([p.x, p.y]), lambda b: Point(b[0], b[1]))
    try:
        buf = io.BytesIO()
        w = zipc.StreamWriter(buf)
        w.write(Point(3, 4))
        w.write_raw(zipc.TYPE_STR, "raw".encode())
        assert w.frames == 2
        buf.seek(0)
        r = zipc.StreamReader(buf)
        p = r.read()
        assert isinstance(p, Point) and (p.x, p.y) == (3, 4)
        assert r.read_raw() == zipc.RawMessage(zipc.TYPE_STR, b"raw")
        with pytest.raises(zipc.PeerGone):
            r.read()
    finally:
        zipc.unregister_type(0x5050)


def test_socket_and_fd_sources():
    a, b = socket.socketpair()
    with a, b:
        w = zipc.StreamWriter(a)
        for o in ("one", np.arange(5), [1, "two"]):
            w.write(o)
        a.shutdown(socket.SHUT_WR)
        got = list(zipc.StreamReader(b))
    assert got[0] == "one" and np.array_equal(got[1], np.arange(5)) and got[2] == [1, "two"]
    r, w = os.pipe()
    zipc.StreamWriter(w).write({"fd": True})
    os.close(w)
    with zipc.StreamReader(r) as reader:
        assert list(reader) == [{"fd": True}]
    os.close(r)


PRODUCER = textwrap.dedent("""
    import sys, numpy as np, zipc
    w = zipc.StreamWriter(sys.stdout)
    rng = np.random.default_rng(7)
    for i in range(200):
        w.write({"i": i, "tag": "json"})
        w.write(f"text {i} ✓")
        w.write(rng.integers(0, 255, size=(i % 7 + 1, 1000), dtype=np.uint8))
        w.write([i, np.full(3, i, np.float32), "in a list"])
        w.write(rng.standard_normal((i % 5 + 1, 3)).astype(np.float32))
    w.write(np.arange(1 << 20, dtype=np.float64))  # 8 MiB
""")

CONSUMER = textwrap.dedent("""
    import sys, hashlib, numpy as np, zipc
    h, n = hashlib.sha256(), 0
    for obj in zipc.StreamReader(sys.stdin):
        n += 1
        if isinstance(obj, np.ndarray):
            h.update(str((obj.dtype, obj.shape)).encode()); h.update(obj.tobytes())
        elif isinstance(obj, list):
            h.update(repr([o.tolist() if isinstance(o, np.ndarray) else o for o in obj]).encode())
        else:
            h.update(repr(obj).encode())
    print(n, h.hexdigest())
""")


def expected_digest():
    """What CONSUMER prints for PRODUCER's objects, computed here."""
    objs = []
    w = type("W", (), {"write": lambda self, o: objs.append(o)})()
    exec(PRODUCER.replace("zipc.StreamWriter(sys.stdout)", "W()"), {"W": lambda: w, "np": np, "sys": sys, "zipc": zipc})
    h = hashlib.sha256()
    for obj in objs:
        if isinstance(obj, np.ndarray):
            h.update(str((obj.dtype, obj.shape)).encode())
            h.update(obj.tobytes())
        elif isinstance(obj, list):
            h.update(repr([o.tolist() if isinstance(o, np.ndarray) else o for o in obj]).encode())
        else:
            h.update(repr(obj).encode())
    return f"{len(objs)} {h.hexdigest()}"


def test_producer_pipe_consumer_processes():
    assert run_pipeline([sys.executable, "-c", PRODUCER], [sys.executable, "-c", CONSUMER]) == expected_digest()


@pytest.fixture(scope="module")
def c_stream_tool():
    """tests/stream/test_vectors.c built as a program (its --echo and --write modes)."""
    return build_peer("stream-vectors", repo_root() / "tests" / "stream" / "test_vectors.c")


@pytest.fixture(scope="module")
def cpp_stream_echo():
    """cpp/tests/stream_echo.cpp: frames through zipc::stream_reader / stream_writer."""
    return build_peer("stream-echo-cpp", repo_root() / "cpp" / "tests" / "stream_echo.cpp", cxx=True)


def test_python_to_c_to_python(c_stream_tool):
    """Python producer | C reader re-writing every frame | Python consumer."""
    out = run_pipeline([sys.executable, "-c", PRODUCER], [str(c_stream_tool), "--echo"], [sys.executable, "-c", CONSUMER])
    assert out == expected_digest()


def test_python_to_cpp_to_python(cpp_stream_echo):
    """Python producer | C++ reader re-encoding text and float32 arrays | Python consumer."""
    out = run_pipeline([sys.executable, "-c", PRODUCER], [str(cpp_stream_echo)], [sys.executable, "-c", CONSUMER])
    assert out == expected_digest()


def test_c_writes_the_vectors_python_decodes_them(c_stream_tool):
    from typed_vectors import MANIFEST, VECTORS, expected

    out = subprocess.run([str(c_stream_tool), "--write", str(VECTORS)], capture_output=True, timeout=60, check=True).stdout
    names = sorted(p.stem for p in VECTORS.glob("*.bin"))
    reader = zipc.StreamReader(io.BytesIO(out))
    frames = [reader.read_raw() for _ in names]
    with pytest.raises(zipc.PeerGone):
        reader.read()
    mine = io.BytesIO()
    writer = zipc.StreamWriter(mine)
    for name, raw in zip(names, frames):
        meta = MANIFEST[name]
        assert raw.type_id == meta["type_id"] and raw.data == (VECTORS / f"{name}.bin").read_bytes()
        value = zipc._typed.decode(raw.type_id, raw.data)
        if meta["kind"] == "tensor":
            assert str(value.dtype) == meta["dtype"] and list(value.shape) == meta["shape"]
            assert value.ravel().tolist() == meta["values"]
            writer.write(value)  # the Python encoder reproduces the C writer's bytes
        elif meta["kind"] == "tick":
            writer.write_raw(raw.type_id, raw.data)
        else:
            assert value == expected(meta)
            writer.write(value)
    assert mine.getvalue() == out  # byte for byte: same headers, same CRCs, same payloads


# ---- broken streams -----------------------------------------------------------

def frames_bytes(objs):
    buf = io.BytesIO()
    w = zipc.StreamWriter(buf)
    for o in objs:
        w.write(o)
    return buf.getvalue()


def read_with_open_writer(data, **kw):
    """Read everything from a pipe whose writer stays open (a reader waiting for
    bytes a broken header promised would hang): the exception, within 10 s."""
    r, w = os.pipe()
    os.write(w, data)
    box = {}

    def run():
        try:
            with zipc.StreamReader(r, **kw) as reader:
                box["objs"] = [reader.read() for _ in range(100)]
        except Exception as e:  # noqa: BLE001 - reported to the test
            box["err"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    alive = t.is_alive()
    os.close(w)
    t.join(10)
    os.close(r)
    assert not alive, "the reader waited for bytes a valid stream would not need"
    return box.get("err")


def test_truncated_stream_is_corrupted_not_a_hang():
    data = frames_bytes(["a", np.arange(40000), {"b": 1}])
    for cut in [1, 20, 31, 32, 34, 100, len(data) // 2, len(data) - 1]:  # frame 1 ends at 33
        reader = zipc.StreamReader(io.BytesIO(data[:cut]))
        with pytest.raises(zipc.CorruptedError):
            list(reader)
        with pytest.raises(zipc.CorruptedError):  # and it stays broken
            reader.read()
    assert len(list(zipc.StreamReader(io.BytesIO(data)))) == 3


def test_garbled_header_refused_at_once():
    data = bytearray(frames_bytes(["first", "second"]))
    second = len(frames_bytes(["first"]))
    for i in range(32):
        data[second + i] ^= 0x40
        err = read_with_open_writer(bytes(data[:second + 32]))
        assert isinstance(err, zipc.CorruptedError), (i, err)
        data[second + i] ^= 0x40
    data[-1] ^= 1  # the payload
    with pytest.raises(zipc.CorruptedError):
        list(zipc.StreamReader(io.BytesIO(bytes(data))))
    assert isinstance(read_with_open_writer(b"not a zipc stream at all, " * 4), zipc.CorruptedError)


def test_giant_declared_size_refused_and_not_allocated():
    giant = _stream.frame_header(zipc.TYPE_BYTES, 1 << 62, 0)
    err = read_with_open_writer(giant)
    assert isinstance(err, zipc.InvalidArgument) and err.errno == errno.EMSGSIZE
    small = frames_bytes([b"x" * 1001])
    assert isinstance(read_with_open_writer(small, max_frame=1000), zipc.InvalidArgument)
    assert list(zipc.StreamReader(io.BytesIO(small), max_frame=1001)) == [b"x" * 1001]
    # 900 MiB promised (under the default max), 100 bytes sent
    tracemalloc.start()
    with pytest.raises(zipc.CorruptedError):
        zipc.StreamReader(io.BytesIO(_stream.frame_header(zipc.TYPE_BYTES, 900 << 20, 0) + bytes(100))).read()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 << 20, peak


def test_other_version_is_an_abi_mismatch():
    import struct

    head = struct.pack("<IHHIIQI", _stream.MAGIC, 2, 0, 1, 0, 0, 0)
    head += zlib.crc32(head).to_bytes(4, "little")
    with pytest.raises(zipc.AbiMismatchError):
        zipc.StreamReader(io.BytesIO(head)).read()

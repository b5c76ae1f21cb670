import subprocess
from dataclasses import dataclass

import numpy as np
import pytest

import zipc


@dataclass
class Point:
    x: int
    y: int


@pytest.fixture
def point_type():
    zipc.register_type(42, Point, lambda p: f"{p.x},{p.y}".encode(), lambda b: Point(*map(int, b.split(b","))))
    yield
    zipc.unregister_type(42)


def roundtrip(pair, obj):
    prod, cons = pair
    prod.send_object(obj)
    return cons.recv_object()


@pytest.mark.parametrize("obj", [
    b"\x00bytes", "h\u00e9llo \u2603", "", {"a": [1, 2.5, None, True]}, 17, 3.25, None, False,
    [1, "two", [3]], [], {"nested": {"k": "v"}},
])
def test_builtin_roundtrip(pair, obj):
    assert roundtrip(pair, obj) == obj


def test_tuple_arrives_as_list(pair):
    assert roundtrip(pair, (1, 2)) == [1, 2]


def test_arrays_and_mixed_lists(pair):
    a = np.arange(6, dtype=np.int16).reshape(2, 3)
    got = roundtrip(pair, a)
    assert got.flags.writeable  # recv_object copies out
    np.testing.assert_array_equal(got, a)
    mixed = ["s", b"b", a, [np.float32(1.5), {"j": 1}], np.zeros((0, 3))]
    got = roundtrip(pair, mixed)
    assert got[0] == "s" and got[1] == b"b" and got[3][1] == {"j": 1}
    assert got[3][0].shape == () and got[3][0] == 1.5  # a NumPy scalar arrives as a 0-d array
    np.testing.assert_array_equal(got[2], a)
    assert got[4].shape == (0, 3)


def test_registered_type(pair, point_type):
    assert roundtrip(pair, Point(3, 4)) == Point(3, 4)
    assert roundtrip(pair, [Point(1, 2), "x"]) == [Point(1, 2), "x"]


def test_unknown_type_arrives_raw(pair):
    prod, cons = pair
    prod.send(b"opaque", type_id=99)
    assert cons.recv_object() == zipc.RawMessage(99, b"opaque")
    prod.send_object(zipc.RawMessage(7, b"raw"))
    assert cons.recv() == (7, b"raw")


def test_malformed_builtin_keeps_the_message(pair):
    prod, cons = pair
    prod.send(b"{not json", type_id=zipc.TYPE_JSON)
    with pytest.raises(zipc.CorruptedError) as e:
        cons.recv_object()
    assert e.value.raw == zipc.RawMessage(zipc.TYPE_JSON, b"{not json")


def test_registry_arguments():
    with pytest.raises(ValueError):
        zipc.register_type(zipc.TYPE_RESERVED_MIN, Point, str, str)
    with pytest.raises(TypeError):
        zipc.register_type(1, "Point", str, str)
    with pytest.raises(TypeError):
        zipc._typed.encode(object())


def test_typed_from_c_producer(sock_path, c_producer):
    proc = subprocess.Popen([str(c_producer), sock_path, "typed"])
    with zipc.Channel.listen(sock_path, 1 << 16, timeout=10) as cons:
        objs = [cons.recv_object(timeout=5) for _ in range(6)]
    assert proc.wait(5) == 0
    assert objs[0] == b"\x00\xff raw" and objs[1] == "h\u00e9llo"
    assert objs[2] == {"a": [1, 2.5, None, True], "b": "c"}
    np.testing.assert_array_equal(objs[3], np.arange(6, dtype=np.int32).reshape(2, 3))
    assert objs[4] == zipc.RawMessage(0x1234, b"opaque")
    assert objs[5][0] == "hi" and objs[5][2] == b"\x00\x01"
    np.testing.assert_array_equal(objs[5][1], np.arange(4, dtype=np.int32))

import numpy as np
import pytest

import zipc

DTYPES = ["uint8", "int16", "int32", "int64", "float16", "float32", "float64", "complex64", "bool"]
SHAPES = [(), (7,), (2, 3, 4), (0,), (3, 0, 2)]


def sample(dtype, shape):
    a = (np.arange(int(np.prod(shape))) % 7).reshape(shape)
    return (a > 2) if dtype == "bool" else (a * 1.5 if dtype.startswith(("f", "c")) else a).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_send_tensor_roundtrip(pair, dtype, shape):
    prod, cons = pair
    src = sample(dtype, shape)
    prod.send_tensor(src)
    with cons.view() as v:
        code, bits, lanes, vshape, strides, offset, nbytes = v.tensor
        assert vshape == shape and nbytes == src.nbytes and offset == zipc._zipc.TENSOR_DATA_OFFSET
        got = np.from_dlpack(v)  # zero-copy
    assert got.dtype == src.dtype and got.shape == shape
    np.testing.assert_array_equal(got, src)
    if got.size:
        assert got.ctypes.data % 64 == 0  # 64-byte aligned in the ring


def test_recv_tensor_is_zero_copy_and_read_only(pair):
    prod, cons = pair
    prod.send_tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    a = cons.recv_tensor()
    assert a.shape == (3, 4) and a.dtype == np.float32 and not a.flags.writeable
    np.testing.assert_array_equal(a, np.arange(12).reshape(3, 4))
    prod.send(b"plain", type_id=0xABC)
    with pytest.raises(TypeError) as e:
        cons.recv_tensor()
    assert "0xabc" in str(e.value) and "%" not in str(e.value)
    assert cons.recv(timeout=0) == (0xABC, b"plain")  # left in place, not lost


def test_recv_tensors_stops_before_a_non_tensor(pair):
    prod, cons = pair
    prod.send_tensor(np.full(2, 1, np.int32))
    prod.send_tensor(np.full(2, 2, np.int32))
    prod.send(b"between", type_id=5)
    prod.send_tensor(np.full(2, 3, np.int32))
    arrays = cons.recv_tensors(10)
    assert [int(a[0]) for a in arrays] == [1, 2]  # the ones before it
    with pytest.raises(TypeError):
        cons.recv_tensors(10)  # it comes first now: raises, stays
    with pytest.raises(TypeError):
        cons.recv_tensor()
    with cons.view() as v:
        assert (v.type_id, bytes(v)) == (5, b"between")
    assert int(cons.recv_tensor(timeout=0)[0]) == 3
    del arrays
    assert cons.stats()["messages"] == 4  # every slot went back


def test_corrupt_tensor_stays_in_place(pair):
    prod, cons = pair
    header = zipc._zipc.tensor_header(2, 32, 1, (1000,))
    prod.send(header + bytes(16), type_id=zipc.TYPE_TENSOR)  # nbytes beyond payload
    prod.send(b"next")
    with pytest.raises(zipc.CorruptedError):
        cons.recv_tensor()
    m = cons.recv(timeout=0)
    assert m.type_id == zipc.TYPE_TENSOR and m.data.startswith(header)
    assert cons.recv(timeout=0).data == b"next"


@pytest.mark.parametrize("make", [
    lambda: np.arange(24, dtype=np.int32).reshape(4, 6)[:, ::2],  # strided
    lambda: np.arange(24, dtype=np.float64).reshape(4, 6).T,  # Fortran order
    lambda: np.arange(10, dtype=np.int16)[::-1],  # negative stride
], ids=["strided", "transposed", "reversed"])
def test_non_contiguous_input_is_copied_contiguous(pair, make):
    prod, cons = pair
    src = make()
    prod.send_tensor(src)
    got = cons.recv_tensor()
    np.testing.assert_array_equal(got, src)
    assert got.flags.c_contiguous


def test_reserve_tensor_in_place(pair):
    prod, cons = pair
    with prod.reserve_tensor((2, 256), np.float32) as r:
        r.array[...] = np.arange(512, dtype=np.float32).reshape(2, 256)
    got = cons.recv_tensor()
    np.testing.assert_array_equal(got.ravel(), np.arange(512))
    with pytest.raises(BufferError):
        with prod.reserve_tensor(4, "int64") as r:
            kept = r.array  # a reference kept past the block
            kept[:] = 1
    del kept
    with pytest.raises(zipc.Timeout):
        cons.recv(timeout=0)  # aborted, nothing published
    with pytest.raises(ValueError):
        prod.reserve_tensor((2,), np.dtype([("a", "i4")]))
    with pytest.raises(ValueError):
        prod.reserve_tensor((1,) * 9, "u1")


def test_corrupt_tensor_header_is_refused(pair):
    prod, cons = pair
    header = bytearray(zipc._zipc.tensor_header(2, 32, 1, (1000,)))
    prod.send(bytes(header) + bytes(16), type_id=zipc.TYPE_TENSOR)  # nbytes beyond payload
    with cons.view() as v:
        with pytest.raises(zipc.CorruptedError):
            v.__dlpack__()


@pytest.mark.torch
def test_torch_from_dlpack(pair):
    torch = pytest.importorskip("torch", reason="torch not installed: torch.from_dlpack test skipped")
    prod, cons = pair
    prod.send_tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    with cons.view() as v:
        t = torch.from_dlpack(v)
    assert t.shape == (2, 3) and t.dtype == torch.float32
    assert t.sum().item() == 15


def test_recv_tensors_batch(pair):
    prod, cons = pair
    for i in range(5):
        prod.send_tensor(np.full(3, i, np.int64))
    arrays = cons.recv_tensors(10)
    assert [int(a[0]) for a in arrays] == list(range(5))
    del arrays
    prod.send_tensor(np.zeros(2))
    assert cons.recv_tensor().shape == (2,)


def test_send_tensor_takes_buffers_and_array_likes(pair):
    import array

    prod, cons = pair
    prod.send_tensor(array.array("d", [1.5, 2.5]))  # buffer fast path, no NumPy on the way
    prod.send_tensor([[1, 2], [3, 4]])  # through numpy.asarray
    prod.send_tensor(memoryview(np.arange(6, dtype=np.uint16).reshape(2, 3)[:, 1:]))  # strided buffer
    a, b, c = cons.recv_tensors(3)
    assert a.dtype == np.float64 and a.tolist() == [1.5, 2.5]
    assert b.shape == (2, 2) and b.tolist() == [[1, 2], [3, 4]]
    assert c.dtype == np.uint16 and c.tolist() == [[1, 2], [4, 5]]
    with pytest.raises(ValueError):
        prod.send_tensor(np.arange(3, dtype=">i4"))  # not native byte order
    with pytest.raises(ValueError):
        prod.send_tensor(np.array(["text"]))
    with pytest.raises(zipc.Timeout):
        cons.recv(timeout=0)  # nothing was sent


def test_reserve_tensor_views_of_the_array_count(pair):
    """r.array holds no buffer export (NumPy keeps only its base): a slice or
    a memoryview of it kept past the block still aborts the commit, and an
    array kept past it keeps the mapping alive after close()."""
    prod, cons = pair
    with pytest.raises(BufferError):
        with prod.reserve_tensor((4, 4), np.float32) as r:
            row = r.array[1]
    del row
    with pytest.raises(BufferError):
        with prod.reserve_tensor(8, np.uint8) as r:
            mv = memoryview(r.array)
    mv.release()
    with pytest.raises(zipc.Timeout):
        cons.recv(timeout=0)  # both aborted
    with prod.reserve_tensor([3], "i4") as r:  # any sequence, any dtype spelling
        r.array[:] = [1, 2, 3]
    assert cons.recv_tensor().tolist() == [1, 2, 3]
    with pytest.raises(BufferError):
        with prod.reserve_tensor(16, np.float64) as r:
            kept = r.array
    prod.close()
    kept[:] = 1.0  # the mapping outlives close() while the array lives
    assert kept.sum() == 16.0

import gc

import numpy as np
import pytest

import zipc


def test_reserve_commit_shorter_and_abort(pair):
    prod, cons = pair
    with prod.reserve(100, type_id=5) as buf:
        assert len(buf) == buf.size == 100 and buf.open
        buf[:5] = b"hello"
        buf.commit(5)
    assert not buf.open
    with pytest.raises(RuntimeError):
        with prod.reserve(10) as buf:
            buf[:] = b"x" * 10
            raise RuntimeError("boom")  # aborts: nothing published
    with prod.reserve(3) as buf:
        with memoryview(buf) as mv:
            mv[:] = b"abc"
        buf.type_id = 9
    assert cons.recv() == (5, b"hello")
    assert cons.recv() == (9, b"abc")
    with pytest.raises(zipc.Timeout):
        cons.recv(timeout=0)


def test_reservation_item_assignment_as_a_byte_memoryview(pair):
    """buf[a:b] = bytes copies straight into the slot; whatever a byte memoryview would
    refuse (another length, another item format, more dimensions) is refused the same way."""
    prod, cons = pair
    with prod.reserve(16) as buf:
        buf[:] = bytes(range(16))
        buf[-4:] = bytearray(b"WXYZ")
        buf[2:6] = memoryview(b"abcd")
        with memoryview(buf) as mv:
            buf[1:5] = mv[0:4]  # a view of this very slot: overlapping copies are safe
        buf[0] = 0xFF
        buf[12:16:2] = b"..."[:2]  # a step: the general path
        with pytest.raises(ValueError):
            buf[0:4] = b"too long"
        with pytest.raises((ValueError, TypeError)):
            buf[0:4] = np.zeros(1, dtype=np.float32)  # 4 bytes, but not bytes
        with pytest.raises((ValueError, TypeError)):
            buf[0:4] = np.zeros((2, 2), dtype=np.uint8)
        with pytest.raises(TypeError):
            buf[0:2] = [1, 2, 3]
        buf.commit()
    with pytest.raises(BufferError):
        buf[0:1] = b"x"  # committed: no slot any more
    with prod.reserve(4) as late:

        class CommitsFirst:  # a slice bound whose __index__ commits the reservation
            def __index__(self):
                late.commit()
                return 0

        with pytest.raises(BufferError):
            late[CommitsFirst():4] = b"late"  # nothing written after the commit
    expected = bytearray(range(16))
    expected[-4:] = b"WXYZ"
    expected[2:6] = b"abcd"
    expected[1:5] = bytes(expected[0:4])
    expected[0] = 0xFF
    expected[12:16:2] = b".."
    assert cons.recv().data == bytes(expected)
    assert cons.recv().data != b"late"  # committed by __index__, then left alone


def test_reservation_export_outliving_commit_aborts(pair):
    prod, cons = pair
    with pytest.raises(BufferError):
        with prod.reserve(8) as buf:
            kept = memoryview(buf)
            kept[:] = b"12345678"
    with pytest.raises(zipc.Timeout):
        cons.recv(timeout=0)  # nothing was published
    del kept
    with pytest.raises(RuntimeError):
        with prod.reserve(4):
            prod.send(b"x")  # a second operation while the reservation is open
    prod.send(b"after")
    assert cons.recv().data == b"after"


def test_reserve_without_with_is_aborted_on_gc(pair):
    prod, cons = pair
    r = prod.reserve(16)
    del r
    gc.collect()
    prod.send(b"ok")
    assert cons.recv().data == b"ok"


def test_view_buffer_and_dlpack(pair):
    prod, cons = pair
    prod.send(b"abcdef", type_id=3)
    with cons.view() as v:
        assert (v.type_id, v.size, len(v), v.tensor) == (3, 6, 6, None)
        assert bytes(v) == v.tobytes() == b"abcdef"
        with pytest.raises(TypeError):
            memoryview(v)[0] = 1  # read-only
        a = np.from_dlpack(v)
        assert a.dtype == np.uint8 and a.shape == (6,) and a.tobytes() == b"abcdef"
        assert v.__dlpack_device__() == (1, 0)
    assert not v.released  # the array keeps it
    del a
    assert v.released
    with pytest.raises(ValueError):
        bytes(v)


def test_drain_batch(pair):
    prod, cons = pair
    prod.send_many([b"m%d" % i for i in range(10)])
    with cons.drain(4) as batch:
        assert len(batch) == 4
        assert [bytes(v) for v in batch] == [b"m0", b"m1", b"m2", b"m3"]
        assert bytes(batch[-1]) == b"m3"
    assert all(v.released for v in batch)
    with cons.drain(100) as batch:
        assert [bytes(v) for v in batch] == [b"m%d" % i for i in range(4, 10)]


def test_held_array_survives_while_producer_writes_more(make_pair):
    """Exports keep the slot alive: the producer cannot overwrite it."""
    prod, cons = make_pair(capacity=4096)
    prod.send(b"\x07" * 1000)
    with cons.view() as v:
        held = np.frombuffer(v, dtype=np.uint8)  # zero-copy, outlives the with block
    sent = 0
    try:
        while True:  # fill the ring: only the held slot blocks it
            prod.send(bytes([sent % 256]) * 500, timeout=0)
            msg = cons.recv(timeout=0)
            assert msg.data == bytes([sent % 256]) * 500
            sent += 1
    except zipc.Timeout:
        pass
    assert sent >= 2 and bytes(held) == b"\x07" * 1000  # intact
    del held  # the last export: every slot goes back
    prod.send(b"free again", timeout=1)
    while cons.recv(timeout=1).data != b"free again":
        pass


def test_recv_copy_while_view_alive(pair):
    prod, cons = pair
    prod.send_many([b"one", b"two"])
    v = cons.view()
    assert cons.recv().data == b"two"  # copies; the slots stay until v goes
    assert bytes(v) == b"one"
    v.release()
    assert v.released


def test_close_with_live_export_keeps_mapping(pair):
    prod, cons = pair
    prod.send(b"persist")
    with cons.view() as v:
        a = np.from_dlpack(v)
    cons.close()
    assert cons.closed and a.tobytes() == b"persist"  # still mapped
    del a, v  # now really closed
    with pytest.raises(zipc.PeerGone):
        for _ in range(1000):
            prod.send(b"x" * 1000, timeout=0.5)

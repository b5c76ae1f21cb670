"""The shared test vectors (tests/vectors) between Python and a C++ process
(cpp/tests/vectors_peer.cpp, built from source here and run for real): C++
to Python and Python to C++ through zipc.Queue, and both ways through a pipe
with the stream transport (`producer | consumer`). Every vector goes ROUNDS
times in name order; the receiver checks each object (Python: it decodes as
the vector does, typed_vectors.check; C++: its type id and bytes are the
vector's, a tensor decodes) and the count, then the end of the stream.
Skipped, with the reason, without a source checkout or a C/C++ compiler."""
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
import zipc  # noqa: E402
from cbuild import build_peer, repo_root  # noqa: E402
from conftest import run_pipeline  # noqa: E402
from typed_vectors import NAMES, VECTORS, check_rounds, obj  # noqa: E402

ROUNDS = 200  # 1600 messages: each lane and pipe fills and wraps
STALL_S = 30
TESTS = Path(__file__).resolve().parent
_names = itertools.count()

# The Python ends of the pipe, as separate processes: argv = [tests dir, rounds].
PY_WRITER = """
import sys
sys.path.insert(0, sys.argv[1])
import zipc, typed_vectors
w = zipc.StreamWriter(sys.stdout)
objs = [typed_vectors.obj(n) for n in typed_vectors.NAMES]
for _ in range(int(sys.argv[2])):
    for o in objs:
        w.write(o)
"""

PY_READER = """
import sys
sys.path.insert(0, sys.argv[1])
import zipc, typed_vectors
objs = list(zipc.StreamReader(sys.stdin))
typed_vectors.check_rounds(objs, int(sys.argv[2]))
print("verified", len(objs))
"""


@pytest.fixture(scope="module")
def peer():
    if repo_root() is None:
        pytest.skip("cpp/tests/vectors_peer.cpp: zipc source tree not found (set ZIPC_SOURCE_DIR)")
    return build_peer("vectors-peer-cpp", repo_root() / "cpp" / "tests" / "vectors_peer.cpp", cxx=True)


@pytest.fixture
def name():
    return f"qvec-{os.getpid()}-{next(_names)}"


def objects(rounds=ROUNDS):
    objs = [obj(n) for n in NAMES]
    return [o for _ in range(rounds) for o in objs]


def get_all(q) -> list:
    """Every object until the end of the stream (a silent producer fails the test)."""
    out = []
    while True:
        try:
            out.append(q.get(timeout=STALL_S))
        except zipc.PeerGone:
            return out


def put_all(q, objs, kid) -> None:
    """Put objs, then stay until the consumer kid attached: a queue no member holds is gone."""
    for o in objs:
        q.put(o, timeout=STALL_S)
    deadline = time.monotonic() + STALL_S
    while q.consumers() == 0 and kid.poll() is None:
        assert time.monotonic() < deadline, "the C++ consumer never attached"
        time.sleep(0.005)


def verified(out: str, n: int) -> bool:
    return f"verified {n} objects: {len(NAMES)} vectors x" in out


def test_cpp_producer_python_consumer_queue(peer, name):
    with zipc.Queue.open(name, "consumer", timeout=10) as c:
        kid = subprocess.Popen([str(peer), "put", name, str(VECTORS), str(ROUNDS)], stderr=subprocess.PIPE, text=True)
        try:
            got = get_all(c)
        finally:
            _, err = kid.communicate(timeout=STALL_S)
        assert kid.returncode == 0, err
    check_rounds(got, ROUNDS)


def test_python_producer_cpp_consumer_queue(peer, name):
    with zipc.Queue.open(name, "producer", timeout=10) as p:
        kid = subprocess.Popen([str(peer), "get", name, str(VECTORS), str(ROUNDS)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            put_all(p, objects(), kid)
        except BaseException:
            kid.kill()
            raise
    out, err = kid.communicate(timeout=STALL_S)  # our close ended the stream
    assert kid.returncode == 0 and verified(out, ROUNDS * len(NAMES)), out + err


def test_cpp_consumer_counts_what_the_queue_brought(peer, name):
    """One object missing: the C++ consumer says so and fails (its check is real)."""
    with zipc.Queue.open(name, "producer", timeout=10) as p:
        kid = subprocess.Popen([str(peer), "get", name, str(VECTORS), "2"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        put_all(p, objects(2)[:-1], kid)
    out, err = kid.communicate(timeout=STALL_S)
    assert kid.returncode == 1 and f"the stream ended after {2 * len(NAMES) - 1} of" in err, out + err


def test_cpp_writer_pipe_python_reader(peer):
    out = run_pipeline([str(peer), "write", str(VECTORS), str(ROUNDS)],
                       [sys.executable, "-c", PY_READER, str(TESTS), str(ROUNDS)])
    assert out == f"verified {ROUNDS * len(NAMES)}"


def test_python_writer_pipe_cpp_reader(peer):
    out = run_pipeline([sys.executable, "-c", PY_WRITER, str(TESTS), str(ROUNDS)],
                       [str(peer), "read", str(VECTORS), str(ROUNDS)])
    assert verified(out, ROUNDS * len(NAMES)), out


@pytest.mark.parametrize("change", ["a byte", "a type"])
def test_cpp_reader_refuses_an_object_not_the_vector(peer, change):
    """A changed object in the stream: the C++ reader names it and fails."""
    objs = objects(1)
    k = NAMES.index("str")
    objs[k] = "zéro-copie ✗" if change == "a byte" else zipc.RawMessage(zipc.TYPE_BYTES, objs[k].encode())
    kid = subprocess.Popen([str(peer), "read", str(VECTORS), "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    w = zipc.StreamWriter(kid.stdin)
    try:
        for o in objs:
            w.write(o)
    except BrokenPipeError:
        pass  # it stopped at the changed one
    out, err = kid.communicate(timeout=STALL_S)
    assert kid.returncode == 1 and f"message {k} (str)".encode() in err, out + err

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading

import pytest

import zipc


@pytest.fixture
def sock_path():
    # /tmp, not tmp_path: a Unix socket path must stay under 108 bytes
    d = tempfile.mkdtemp(prefix="zipc-py-")
    yield os.path.join(d, "ch.sock")
    shutil.rmtree(d, ignore_errors=True)


def open_pair(path, capacity=1 << 16, **kw):
    """(producer, consumer) in this process: listen in a thread, connect here."""
    box = {}

    def listen():
        try:
            box["c"] = zipc.Channel.listen(path, capacity, timeout=10, **kw)
        except BaseException as e:  # pragma: no cover - reported below
            box["e"] = e

    t = threading.Thread(target=listen)
    t.start()
    prod = zipc.Channel.connect(path, timeout=10)
    t.join()
    if "e" in box:
        raise box["e"]
    return prod, box["c"]


@pytest.fixture
def pair(sock_path):
    prod, cons = open_pair(sock_path)
    yield prod, cons
    prod.close()
    cons.close()


@pytest.fixture
def make_pair(sock_path):
    made = []

    def make(capacity=1 << 16, **kw):
        p = open_pair(sock_path, capacity, **kw)
        made.extend(p)
        return p

    yield make
    for ch in made:
        ch.close()


def python_child(code, *args, **kw):
    """Start `python -c code args...` with this zipc importable."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], env=env, **kw)


@pytest.fixture(scope="session")
def c_producer():
    from cbuild import build_producer

    exe, why = build_producer()
    if exe is None:
        pytest.skip(why)
    return exe


def run_pipeline(*argvs, timeout=120):
    """argvs[0] | argvs[1] | ...: the last one's stdout, every exit status 0."""
    procs, prev = [], None
    for i, argv in enumerate(argvs):
        p = subprocess.Popen(argv, stdin=prev, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if prev is not None:
            prev.close()  # the next one holds it now: EOF reaches it when the writer ends
        prev = p.stdout
        procs.append(p)
    out, err = procs[-1].communicate(timeout=timeout)
    for p in procs[:-1]:
        p.wait(timeout=timeout)
        assert p.returncode == 0, p.stderr.read().decode()
    assert procs[-1].returncode == 0, err.decode()
    return out.decode().strip()

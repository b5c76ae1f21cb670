"""The C++ worker pool (examples/rpc_worker.cpp) serving the Python asyncio
client (examples/rpc_client.py), as real processes: the pool is built from
the sources (cbuild.build_peer; $ZIPC_RPC_WORKER: one built already, e.g.
CMake's target rpc_worker), started with 2 workers, sent 1000 concurrent
calls with float32 arrays (every reply checked against its own call), and
stopped with SIGTERM: it exits 0 and leaves no process behind. Skipped,
with the reason, without a source checkout or a C/C++ compiler."""
import asyncio
import errno
import importlib.util
import itertools
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import cbuild
import zipc

_names = itertools.count()


@pytest.fixture(scope="module")
def rpc_worker_exe():
    given = os.environ.get("ZIPC_RPC_WORKER")
    if given:
        return Path(given)
    root = cbuild.repo_root()
    if root is None:
        pytest.skip("zipc source tree not found (set ZIPC_SOURCE_DIR)")
    return cbuild.build_peer("rpc_worker", root / "examples" / "rpc_worker.cpp", cxx=True)


@pytest.fixture(scope="module")
def example():
    """examples/rpc_client.py as a module (its run() is the example's logic)."""
    spec = importlib.util.spec_from_file_location("rpc_client_example",
                                                  cbuild.repo_root() / "examples" / "rpc_client.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def children(pid):
    """The pids of pid's children (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def pool(rpc_worker_exe):
    """The C++ pool serving a fresh name with 2 workers: (name, its process, the workers' pids)."""
    name = f"rpccpp-{os.getpid()}-{next(_names)}"
    proc = subprocess.Popen([str(rpc_worker_exe), name, "2"], stdout=subprocess.PIPE, text=True)
    workers = []
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        banner = proc.stdout.readline() if ready else ""
        assert banner == f"rpc_worker: serving {name} with 2 workers\n", f"the pool said {banner!r}"
        workers = children(proc.pid)
        assert len(workers) == 2, workers
        yield name, proc, workers
    finally:  # after a failure too: no process outlives the test
        if proc.poll() is None:
            proc.kill()  # the workers die with it (PR_SET_PDEATHSIG)
            proc.wait(10)
        for w in workers:
            if alive(w):
                os.kill(w, signal.SIGKILL)
        proc.stdout.close()


def stop_pool(proc, workers):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0  # every worker left cleanly
    end = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < end:
        time.sleep(0.01)
    assert not any(alive(w) for w in workers), "a worker outlived the pool"


def test_python_client_1000_concurrent_calls_to_the_cpp_pool(pool, example):
    name, proc, workers = pool
    with zipc.RpcClient.connect(name, timeout=10) as c:
        assert asyncio.run(example.run(c, 1000)) == 1000  # run() checks every reply against its call
        assert c.in_flight() == 0 and c.pending() == frozenset()
        # what the C++ worker refuses reaches Python as the call's error
        with pytest.raises(zipc.InvalidArgument) as e:  # not float32
            c.call(np.arange(3, dtype=np.int32), example.DOUBLE)
        assert e.value.errno == errno.EINVAL
        with pytest.raises(zipc.Error) as e:
            c.call(np.ones(3, np.float32), 9)
        assert e.value.errno == errno.ENOSYS
        with pytest.raises(zipc.InvalidArgument) as e:  # no room for the reply
            c.call(np.ones(1000, np.float32), example.DOUBLE, reply_capacity=256)
        assert e.value.errno == errno.EMSGSIZE
        # and a sync call after them
        got = c.call(np.ones((2, 3), np.float32) * 1.5, example.DOUBLE, reply_capacity=1024)
        assert got.shape == (2, 3) and (got == 3.0).all()
    stop_pool(proc, workers)


def test_the_example_as_a_program(pool):
    name, proc, workers = pool
    out = subprocess.run([sys.executable, str(cbuild.repo_root() / "examples" / "rpc_client.py"), name, "1000"],
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"1000 concurrent calls of float32 arrays to {name}, every reply checked" in out.stdout
    stop_pool(proc, workers)

"""The C++ examples, run end to end with small counts: examples/cpp_to_python
(C++ producer -> Python consumer, float32[256] tensors) and
examples/c_cpp_pingpong (C <-> C++ 32-byte ping-pong). Skipped, with the
reason, without a source checkout or a C/C++ compiler."""
import os
import re
import shutil
import subprocess
import sys

import pytest

import cbuild

ROOT = cbuild.repo_root()


def _need_toolchain():
    if ROOT is None:
        pytest.skip("zipc source tree not found (set ZIPC_SOURCE_DIR)")
    for tool, env in (("c++", "CXX"), ("cc", "CC")):
        if not shutil.which(os.environ.get(env, tool)):
            pytest.skip(f"no {tool} compiler on PATH (${env})")


def _run(script, *args, tmp_path):
    _need_toolchain()
    env = dict(os.environ, PYTHON=sys.executable, ZIPC_EXAMPLES_BUILD=str(tmp_path / "build"))
    proc = subprocess.run([str(ROOT / "examples" / script), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_cpp_to_python(tmp_path):
    out = _run("cpp_to_python/run.sh", 5000, tmp_path=tmp_path)
    assert re.search(r"producer \(C\+\+\): sent 5000 frames of float32\[256\] in [\d.]+ s: \d+ frames/s", out), out
    assert re.search(r"consumer \(Python\): received 5000 frames of float32\[256\] .* \d+ frames/s, \d+ MB/s", out), out


def test_c_cpp_pingpong(tmp_path):
    out = _run("c_cpp_pingpong/run.sh", 2000, tmp_path=tmp_path)
    m = re.search(r"ping \(C\) <-> pong \(C\+\+\): 2000 round trips of 32 B in [\d.]+ s: (\d+) round trips/s, "
                  r"p50 (\d+) ns", out)
    assert m and int(m.group(1)) > 0 and int(m.group(2)) > 0, out
    assert re.search(r"pong \(C\+\+\): echoed 2200 messages", out), out

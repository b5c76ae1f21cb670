"""The Rust <-> Python examples (examples/python_to_rust, examples/rust_to_python),
run with small counts. Skipped, with the reason, when cargo is missing."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUST = ROOT / "rust"


@pytest.fixture(scope="session")
def rust_examples():
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed: the Rust examples are not built")
    build = subprocess.run([cargo, "build", "--release", "--examples", "--manifest-path", str(RUST / "Cargo.toml")],
                           capture_output=True, text=True, timeout=900)
    if build.returncode != 0:
        pytest.fail("cargo build --release --examples failed:\n" + build.stderr[-4000:])
    return cargo


def run_example(name, *args):
    env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([str(ROOT / "examples" / name / "run.sh"), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)


def test_python_to_rust(rust_examples):
    r = run_example("python_to_rust", 50000)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rust consumer: 50000 ticks in order" in r.stdout, r.stdout + r.stderr
    assert "python producer: 50000 ticks sent" in r.stdout


def test_rust_to_python(rust_examples):
    r = run_example("rust_to_python", 300, 64, 48)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "python consumer: 300 float32 tensors 64x48 received zero-copy, values ok" in r.stdout, r.stdout + r.stderr
    assert "rust producer: 300 float32 tensors 64x48 sent" in r.stdout

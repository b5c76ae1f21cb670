"""The Python encoder produces, and the decoder reads, the shared test vectors."""
import subprocess
import sys

import pytest

np = pytest.importorskip("numpy")
from zipc import _typed  # noqa: E402
from typed_vectors import MANIFEST, NAMES, VECTORS, check, obj  # noqa: E402


def test_encoder_reproduces_the_committed_bytes():
    r = subprocess.run([sys.executable, str(VECTORS / "make_vectors.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", NAMES)
def test_decoder_reads_each_vector(name):
    meta = MANIFEST[name]
    check(name, _typed.decode(meta["type_id"], (VECTORS / f"{name}.bin").read_bytes()))


@pytest.mark.parametrize("name", NAMES)
def test_the_object_sent_for_each_vector_encodes_to_its_bytes(name):
    """typed_vectors.obj(name), what the cross-language tests put, is the vector byte for byte."""
    assert _typed.encode(obj(name)) == (MANIFEST[name]["type_id"], (VECTORS / f"{name}.bin").read_bytes())

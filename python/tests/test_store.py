"""zipc.Store: named, sealed, read-only tensors, with real processes.

A safetensors file (written by the safetensors package) published, then
opened by name in child processes and compared with safetensors' own
loader; 16 readers sharing one copy (their Pss); read-only arrays (Python
refuses a write, a raw write faults); versions; a SIGKILLed publisher;
hostile files; dict publish and metadata; DLPack and torch (state_dict,
shared data pointers)."""
import ctypes
import itertools
import json
import os
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest

import zipc
from conftest import python_child

_names = itertools.count()

try:  # torch is optional: the tests that need it say so when it is missing
    import torch
except ImportError:
    torch = None
_no_torch = pytest.mark.skipif(torch is None, reason="torch is not importable in this Python "
                               "(tests/run_all.sh runs these in build-py/venv-deb with Debian's python3-torch)")


def needs_torch(test):
    return pytest.mark.torch(_no_torch(test))


@pytest.fixture
def name():
    """A fresh store name (abstract: nothing on disk)."""
    return f"spy-{os.getpid()}-{next(_names)}"


def sample_arrays() -> dict:
    """Several dtypes and shapes: scalar, empty, 1-4 dimensions."""
    rng = np.random.default_rng(7)
    return {
        "embed.weight": rng.standard_normal((64, 48)).astype(np.float32),
        "layers.0.bias": rng.standard_normal(48).astype(np.float16),
        "layers.0.w64": rng.standard_normal((3, 5, 7)).astype(np.float64),
        "ids": np.arange(-50, 50, dtype=np.int64),
        "small.i8": rng.integers(-128, 127, (4, 4, 2, 2), dtype=np.int8),
        "counts.u16": rng.integers(0, 65535, 33, dtype=np.uint16),
        "u32": rng.integers(0, 2**32 - 1, (2, 3), dtype=np.uint32),
        "mask": rng.integers(0, 2, (5, 5)).astype(bool),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


@pytest.fixture(scope="module")
def st_file(tmp_path_factory):
    """A .safetensors file written by the safetensors package itself."""
    sn = pytest.importorskip("safetensors.numpy", reason="the safetensors package is not installed "
                             "(tests/run_all.sh pip-installs it)")
    path = tmp_path_factory.mktemp("store") / "model.safetensors"
    sn.save_file(sample_arrays(), str(path), metadata={"format": "np", "origin": "test_store"})
    return path


# ---- a safetensors file, read by child processes ------------------------------------

READER = """
import json, sys, zipc, numpy as np
from safetensors.numpy import load_file
s = zipc.Store.open(sys.argv[1], timeout=10)
want = load_file(sys.argv[2])
bad = [k for k in want if not (s[k].dtype == want[k].dtype and s[k].shape == want[k].shape
                               and np.array_equal(s[k], want[k]))]
print(json.dumps({"names": list(s), "bad": bad, "version": s.version, "meta": s.metadata,
                  "readonly": all(not s[k].flags.writeable for k in s)}), flush=True)
"""


def test_safetensors_file_opened_by_children_matches_safetensors(name, st_file):
    with zipc.Store.publish(name, st_file, align=4096) as pub:
        assert pub.version == 1 and len(pub) == len(sample_arrays())
        kids = [python_child(READER, name, st_file, stdout=subprocess.PIPE, text=True) for _ in range(3)]
        for kid in kids:
            out, _ = kid.communicate(timeout=60)
            assert kid.returncode == 0
            got = json.loads(out)
            assert got["bad"] == [] and got["readonly"] and got["version"] == 1
            assert sorted(got["names"]) == sorted(sample_arrays())
            assert got["meta"] == {"format": "np", "origin": "test_store"}
        for k in pub:  # 4 KiB-aligned as asked
            assert pub.info(k).address % 4096 == 0


def test_mapping_protocol_and_info(name, st_file):
    want = sample_arrays()
    with zipc.Store.publish(name, st_file) as pub, zipc.Store.open(name) as s:
        assert len(s) == len(want) and list(s) == s.keys() == sorted(want)  # the table is in name order
        assert "ids" in s and "nope" not in s and 3 not in s
        with pytest.raises(KeyError):
            s["nope"]
        with pytest.raises(KeyError):
            s.info("nope")
        assert s.get("nope") is None
        assert dict(s.items()).keys() == want.keys()
        i = s.info("embed.weight")
        assert (i.name, i.dtype, i.shape, i.strides, i.nbytes) == ("embed.weight", "F32", (64, 48), (48, 1), 64 * 48 * 4)
        assert i.address == s["embed.weight"].ctypes.data and i.address % 64 == 0
        assert s.info("scalar").shape == () and s["scalar"] == 3.5
        assert s["empty"].shape == (0, 4)
        assert isinstance(s.info("ids").xxh3, int) and s.info("ids").xxh3 == pub.info("ids").xxh3
        s.verify()
        s.verify("ids")
        with pytest.raises(KeyError):
            s.verify("nope")


# ---- one copy for any number of readers ---------------------------------------------

HOLDER = """
import sys, zipc
s = zipc.Store.open(sys.argv[1], timeout=30)
total = sum(int(s[k].sum(dtype="u8")) for k in s)  # touch every page
print(s.info("big").address, total, flush=True)
sys.stdin.readline()
"""


def store_pss_kib(pid: int, address: int) -> int:
    """The Pss of the mapping holding `address` in process pid (/proc/pid/smaps)."""
    with open(f"/proc/{pid}/smaps") as f:
        inside = False
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                inside = lo <= address < hi
            elif inside and head[0] == "Pss:":
                return int(head[1])
    raise AssertionError(f"no mapping at {address:#x} in {pid}")


def test_sixteen_readers_share_one_copy(name):
    data = np.arange(16 << 20, dtype=np.uint32)  # 64 MiB
    with zipc.Store.publish(name, {"big": data}) as pub:
        expect = int(data.sum(dtype="u8"))
        del data
        kids = [python_child(HOLDER, name, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(16)]
        try:
            addresses = []
            for kid in kids:  # every reader has touched every page: then measure
                address, total = map(int, kid.stdout.readline().split())
                assert total == expect
                addresses.append(address)
            mib = sum(store_pss_kib(kid.pid, a) for kid, a in zip(kids, addresses)) / 1024
            print(f"16 readers: Pss of the store {mib:.1f} MiB for 64 MiB of data")
            assert mib < 2 * 64, f"16 readers' Pss of the store sums to {mib:.1f} MiB for 64 MiB of data"
        finally:
            for kid in kids:
                kid.stdin.close()
                kid.wait(timeout=30)
        assert all(kid.returncode == 0 for kid in kids)
        assert pub.version == 1


# ---- read-only ------------------------------------------------------------------------

FAULTING_WRITER = """
import ctypes, sys, zipc
s = zipc.Store.open(sys.argv[1], timeout=10)
a = s["w"]
print("viewed", float(a[0]), flush=True)
ctypes.memset(s.info("w").address, 0, 8)  # below NumPy: the kernel must refuse
print("wrote", flush=True)
"""


def test_writes_fail(name):
    with zipc.Store.publish(name, {"w": np.full(8, 7.0)}) as pub:
        a = pub["w"]
        with pytest.raises(ValueError):
            a[0] = 1
        with pytest.raises(ValueError):
            a.flags.writeable = True
        with pytest.raises(TypeError):
            memoryview(pub.tensor("w"))[0:1] = b"x"  # a read-only buffer
        kid = python_child(FAULTING_WRITER, name, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, _ = kid.communicate(timeout=30)
        assert "viewed 7.0" in out and "wrote" not in out
        assert kid.returncode == -signal.SIGSEGV
        assert a[0] == 7.0


# ---- versions and a killed publisher ---------------------------------------------------

def test_new_version_leaves_old_readers_unchanged(name):
    with zipc.Store.publish(name, {"w": np.zeros(4, np.float32)}) as pub1, zipc.Store.open(name) as old:
        a = old["w"]
        with zipc.Store.publish(name, {"w": np.ones(4, np.float32), "x": np.arange(3)}) as pub2:
            assert pub2.version == pub1.version + 1
            with zipc.Store.open(name) as new:
                assert new.version == 2 and list(new) == ["w", "x"] and np.all(new["w"] == 1)
            assert old.latest == 2 and old.version == 1
            assert np.all(a == 0) and np.all(old["w"] == 0) and list(old) == ["w"]
            old.verify()


KILLED_PUBLISHER = """
import sys, zipc, numpy as np
s = zipc.Store.publish(sys.argv[1], {"w": np.arange(1000, dtype=np.float64)})
print("published", flush=True)
sys.stdin.readline()
"""

SECOND_READER = """
import sys, zipc, numpy as np
s = zipc.Store.open(sys.argv[1], timeout=10)
print(int(np.array_equal(s["w"], np.arange(1000.0))), s.version, flush=True)
"""


def test_publisher_killed_readers_live_on(name):
    kid = python_child(KILLED_PUBLISHER, name, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert kid.stdout.readline() == "published\n"
        reader = zipc.Store.open(name)
        a = reader["w"]
    finally:
        kid.kill()
        kid.wait(timeout=10)
    assert kid.returncode == -signal.SIGKILL
    assert np.array_equal(a, np.arange(1000.0))
    reader.verify()
    other = python_child(SECOND_READER, name, stdout=subprocess.PIPE, text=True)  # served by `reader` now
    out, _ = other.communicate(timeout=30)
    assert other.returncode == 0 and out.split() == ["1", "1"]
    reader.close()
    del a
    with pytest.raises(zipc.Error) as e:  # the last holder gone: nothing left
        zipc.Store.open(name, timeout=0.2)
    assert e.value.errno in (2, 110)  # ENOENT, or ETIMEDOUT


# ---- hostile safetensors files ------------------------------------------------------

def st_bytes(header, data: bytes = b"") -> bytes:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


HOSTILE = {
    "overlap": st_bytes({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                         "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, bytes(24)),
    "truncated": st_bytes({"a": {"dtype": "F32", "shape": [100], "data_offsets": [0, 400]}}, bytes(40)),
    "bad_json": st_bytes(b'{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]', bytes(16)),
    "duplicate": st_bytes(b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},'
                          b' "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', bytes(8)),
    "bad_dtype": st_bytes({"a": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)),
    "short_header": struct.pack("<Q", 1 << 20) + b"{}",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_safetensors_refused_with_a_reason(name, tmp_path, kind):
    path = tmp_path / f"{kind}.safetensors"
    path.write_bytes(HOSTILE[kind])
    with pytest.raises(zipc.CorruptedError) as e:
        zipc.Store.publish(name, path)
    assert e.value.errno == 74  # EBADMSG
    assert len(e.value.strerror) > 10 and e.value.strerror != zipc._zipc.strerror(74), e.value.strerror
    with pytest.raises(zipc.Error):  # nothing was published
        zipc.Store.open(name, timeout=0.1)


def test_missing_file_names_it(name, tmp_path):
    with pytest.raises(zipc.Error) as e:
        zipc.Store.publish(name, tmp_path / "none.safetensors")
    assert e.value.errno == 2 and "none.safetensors" in str(e.value)


# ---- dict publish, metadata, arguments ------------------------------------------------

def test_dict_of_arrays_round_trip(name):
    want = sample_arrays()
    want["strided"] = np.arange(60, dtype=np.int32).reshape(6, 10)[::2, 1::3]  # not contiguous
    want["fortran"] = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    meta = {"a": "1", "unicode": "héllo ✓", "empty": ""}
    with zipc.Store.publish(name, want, metadata=meta, align=2 << 20) as pub:
        assert pub.metadata == meta
        with zipc.Store.open(name, prefault=True, verify=True) as s:
            assert s.metadata == meta and sorted(s) == sorted(want)
            for k, v in want.items():
                assert s[k].dtype == v.dtype and s[k].shape == v.shape and np.array_equal(s[k], v), k
                assert s[k].flags.c_contiguous
            s.verify()


def hugetlb_pages_free() -> int:
    with open("/proc/meminfo") as f:
        return next((int(ln.split()[1]) for ln in f if ln.startswith("HugePages_Free:")), 0)


def test_huge_pages_requested_never_fail(name):
    """huge_pages=True: hugetlb pages when free reserved ones exist (tests/store/test_basic.c
    reserves some as root), else ordinary pages; the same arrays either way."""
    want = {"w": np.arange(3 << 20, dtype=np.uint8).reshape(3, 1 << 20) * np.uint8(3)}
    huge = hugetlb_pages_free() >= 2
    with zipc.Store.publish(name, want, huge_pages=True) as pub:
        assert pub.page_size == ((2 << 20) if huge else os.sysconf("SC_PAGE_SIZE"))
        with zipc.Store.open(name) as s:
            assert s.page_size == pub.page_size
            assert np.array_equal(s["w"], want["w"])
            s.verify()


def test_bad_arguments(name):
    with pytest.raises(ValueError):
        zipc.Store.publish(name, {"a": np.zeros(2, dtype=np.complex128)})
    with pytest.raises(ValueError):
        zipc.Store.publish(name, {"a": np.zeros(2, dtype=">f4")})
    with pytest.raises(TypeError):
        zipc.Store.publish(name, {"a": np.zeros(2)}, metadata={"k": 1})
    with pytest.raises(TypeError):
        zipc.Store.publish(name, [np.zeros(2)])
    with pytest.raises(zipc.InvalidArgument):
        zipc.Store.publish(name, {"a": np.zeros(2)}, align=100)
    with pytest.raises(zipc.InvalidArgument):
        zipc.Store.publish("bad/name", {"a": np.zeros(2)})
    with pytest.raises(zipc.Error):  # nothing was published
        zipc.Store.open(name, timeout=0.1)
    with pytest.raises(TypeError):
        zipc.Store()


# ---- lifetime: close with live exports ---------------------------------------------

def mappings_of(name: str) -> int:
    """How many read-only mappings of the store's versions this process has
    (/proc/self/maps; the name's board, labelled alike, is mapped read-write)."""
    with open("/proc/self/maps") as f:
        return sum(f"/memfd:zipc:{name} " in line and line.split()[1] == "r--s" for line in f)


def test_close_waits_for_arrays_and_dlpack_exports(name):
    pub = zipc.Store.publish(name, {"w": np.arange(5.0)})
    pub.close()  # only the publisher held it: gone
    assert mappings_of(name) == 0
    pub = zipc.Store.publish(name, {"w": np.arange(5.0)})
    a = pub["w"]
    exporter = pub.tensor("w")
    b = np.from_dlpack(exporter)
    del exporter
    for _ in range(1000):  # nothing leaks an export
        np.from_dlpack(pub.tensor("w")), pub["w"], pub.tensor("w").__dlpack__(max_version=(1, 0))
    assert mappings_of(name) == 1
    pub.close()
    assert pub.closed
    with pytest.raises(ValueError):
        pub["w"]
    with pytest.raises(ValueError):
        len(pub)
    assert np.array_equal(a, np.arange(5.0)) and np.array_equal(b, np.arange(5.0))  # still mapped
    pub.close()  # idempotent
    del a
    assert mappings_of(name) == 1  # b's capsule holds it
    del b
    assert mappings_of(name) == 0


def test_dlpack_numpy_zero_copy_and_read_only(name):
    with zipc.Store.publish(name, {"w": np.arange(12, dtype=np.float32).reshape(3, 4)}) as s:
        t = s.tensor("w")
        assert t.__dlpack_device__() == (1, 0) and t.name == "w"
        a = np.from_dlpack(t)
        assert a.ctypes.data == s.info("w").address and a.shape == (3, 4)
        if np.lib.NumpyVersion(np.__version__) >= "2.1.0":  # asks for a versioned capsule: read-only flag
            assert not a.flags.writeable
        cap = t.__dlpack__(max_version=(1, 0))
        assert "dltensor_versioned" in repr(cap)
        assert "dltensor" in repr(t.__dlpack__()) and "versioned" not in repr(t.__dlpack__())
        with pytest.raises(BufferError):
            t.__dlpack__(copy=True)
        with pytest.raises(BufferError):
            t.__dlpack__(dl_device=(2, 0))


def test_bf16_and_packed_dtypes_as_raw_bits(name, tmp_path):
    # bf16 1.0 = 0x3f80; F8_E4M3 bytes; F4: 8 elements in 4 bytes
    header = {"bf": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]},
              "f8": {"dtype": "F8_E4M3", "shape": [3], "data_offsets": [4, 7]},
              "f4": {"dtype": "F4", "shape": [8], "data_offsets": [7, 11]}}
    data = struct.pack("<HH", 0x3F80, 0x4000) + bytes([1, 2, 3]) + bytes([0x21, 0x43, 0x65, 0x87])
    path = tmp_path / "raw.safetensors"
    path.write_bytes(st_bytes(header, data))
    with zipc.Store.publish(name, path) as s:
        assert s["bf"].dtype == np.uint16 and list(s["bf"]) == [0x3F80, 0x4000]
        assert s.info("bf").dtype == "BF16"
        assert s["f8"].dtype == np.uint8 and list(s["f8"]) == [1, 2, 3]
        assert s["f4"].dtype == np.uint8 and s["f4"].shape == (4,) and bytes(s["f4"]) == data[7:]
        assert s.info("f4").shape == (8,)


# ---- torch ----------------------------------------------------------------------------

@needs_torch
def test_torch_from_dlpack_shares_the_data_pointer(name, st_file):
    with zipc.Store.publish(name, st_file) as pub, zipc.Store.open(name) as s:
        for k in s:
            lacks = {"mask": int(torch.__version__.split(".")[0]) < 2,  # no DLPack bool (state_dict copes)
                     "counts.u16": not hasattr(torch, "uint16"), "u32": not hasattr(torch, "uint32")}
            if lacks.get(k):
                with pytest.raises(RuntimeError):
                    torch.from_dlpack(s.tensor(k))
                continue
            t = torch.from_dlpack(s.tensor(k))
            assert t.data_ptr() == s[k].ctypes.data or s.info(k).nbytes == 0, k
            assert np.array_equal(t.numpy(), s[k]), k
        del t
        assert pub.version == 1


@needs_torch
def test_state_dict_matches_safetensors_torch(name, tmp_path):
    st_torch = pytest.importorskip("safetensors.torch", reason="the safetensors package is not installed")
    want = {"w": torch.randn(16, 8), "b": torch.randn(8).to(torch.bfloat16), "h": torch.randn(3, 3).half(),
            "i": torch.arange(10), "m": torch.tensor([True, False, True])}
    path = tmp_path / "t.safetensors"
    st_torch.save_file(want, str(path))
    with zipc.Store.publish(name, path) as s:
        sd = s.state_dict()
        loaded = st_torch.load_file(str(path))
        assert sd.keys() == loaded.keys()
        for k, v in loaded.items():
            assert sd[k].dtype == v.dtype and sd[k].shape == v.shape and torch.equal(sd[k], v), k
            assert sd[k].data_ptr() == s.info(k).address, k
        assert sd["b"].dtype == torch.bfloat16
        s.close()
        assert torch.equal(sd["w"], loaded["w"])  # the state_dict keeps the mapping


@needs_torch
def test_publish_torch_tensors(name):
    want = {"w": torch.randn(4, 5), "bf": torch.randn(6).to(torch.bfloat16), "t": torch.arange(12).reshape(3, 4).t()}
    with zipc.Store.publish(name, want) as s:
        assert s.info("bf").dtype == "BF16" and s.info("t").shape == (4, 3)
        sd = s.state_dict()
        for k, v in want.items():
            assert torch.equal(sd[k], v), k


@needs_torch
def test_state_dict_without_torch_dtype_says_which(name):
    with zipc.Store.publish(name, {"u": np.arange(4, dtype=np.uint16), "f": np.zeros(2, np.float32)}) as s:
        if hasattr(torch, "uint16"):
            assert torch.equal(s.state_dict()["u"].to(torch.int32), torch.arange(4, dtype=torch.int32))
        else:
            with pytest.raises(TypeError, match="'u' is U16"):
                s.state_dict()


def test_close_from_another_thread_while_verify_hashes(name):
    import threading

    s = zipc.Store.publish(name, {f"t{i}": np.full(1 << 20, i, np.float32) for i in range(16)})  # 64 MiB
    done, errors = threading.Event(), []

    def verify_until_closed():
        try:
            while True:
                s.verify()  # without the GIL: close() must not unmap under it
                done.set()
        except ValueError:
            pass  # closed
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        done.set()

    t = threading.Thread(target=verify_until_closed)
    t.start()
    assert done.wait(30)
    s.close()
    t.join(30)
    assert not t.is_alive() and errors == [] and s.closed
    assert mappings_of(name) == 0

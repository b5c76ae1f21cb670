"""Build examples/c_producer.c as a program of its own against the
repository's C sources, for the tests (a separate C process, not the copy
built into the extension). Needs a source checkout and a C compiler; says
why when it cannot."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def repo_root() -> Path | None:
    """The zipc source tree: $ZIPC_SOURCE_DIR, else above this file or the cwd."""
    candidates = [os.environ.get("ZIPC_SOURCE_DIR")] + [str(p) for p in Path(__file__).resolve().parents]
    candidates += [str(p) for p in [Path.cwd(), *Path.cwd().parents]]
    for c in candidates:
        if c and (Path(c) / "src" / "channel.c").is_file() and (Path(c) / "examples" / "c_producer.c").is_file():
            return Path(c)
    return None


def compiler() -> str | None:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


def build_producer() -> tuple[Path | None, str]:
    """(path to the binary, "") or (None, reason). Cached by source hash."""
    root, cc = repo_root(), compiler()
    if root is None:
        return None, "zipc source tree not found (set ZIPC_SOURCE_DIR)"
    if cc is None:
        return None, "no C compiler (cc, gcc, clang) on PATH"
    sources = [root / "examples" / "c_producer.c", *sorted((root / "src").glob("*.c"))]
    headers = sorted((root / "include").rglob("*.h")) + sorted((root / "src").glob("*.h"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources + headers)).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"zipc-c-producer-{os.getuid()}-{digest}"
    if out.is_file():
        return out, ""
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    cmd = [cc, "-std=c11", "-O3", "-D_GNU_SOURCE", f"-I{root / 'include'}", f"-I{root / 'src'}",
           *map(str, sources), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"building the C producer failed: {proc.stderr.strip()[:2000]}"
    os.replace(tmp, out)  # atomic: concurrent builders never see a half-written binary
    return out, ""


def build_peer(name: str, main: Path, cxx: bool = False) -> Path:
    """main linked with the C library's sources, cached by the sources' hash
    (a C file alone, or a C++ file, with cpp/tests' headers, and the C
    sources compiled apart). Skips the test without a toolchain; a build
    that fails fails it."""
    import pytest

    root, cc = repo_root(), compiler()
    cxx_tool = os.environ.get("CXX", "c++")
    if root is None or cc is None or (cxx and not shutil.which(cxx_tool)):
        pytest.skip("needs the zipc source tree and a C" + ("++" if cxx else "") + " compiler")
    c_sources = sorted((root / "src").glob("*.c"))
    cpp_tests = root / "cpp" / "tests"
    inputs = [main, *c_sources, *sorted((root / "include").rglob("*.h")), *sorted((root / "src").glob("*.h")),
              root / "tests" / "testutil.h", root / "cpp" / "include" / "zipc.hpp", *sorted(cpp_tests.glob("*.hpp"))]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"zipc-{name}-{os.getuid()}-{digest}"
    if out.is_file():
        return out
    work = Path(tempfile.mkdtemp(prefix=f"zipc-{name}-"))
    flags = ["-O2", "-D_GNU_SOURCE", f"-I{root / 'include'}", f"-I{root / 'src'}", f"-I{root / 'tests'}"]
    if cxx:
        objs = [str(work / f"{c.stem}.o") for c in c_sources]
        steps = [[cc, "-std=c11", *flags, "-c", str(c), "-o", o] for c, o in zip(c_sources, objs)]
        steps.append([cxx_tool, "-std=c++17", *flags, f"-I{root / 'cpp' / 'include'}", f"-I{cpp_tests}", str(main),
                      *objs, "-o", str(work / name), "-lpthread"])
    else:
        steps = [[cc, "-std=c11", *flags, str(main), *map(str, c_sources), "-o", str(work / name), "-lpthread"]]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(f"building {main} failed: {proc.stderr[:2000]}")
    os.replace(work / name, out)  # atomic: a concurrent run never sees half a binary
    shutil.rmtree(work, ignore_errors=True)
    return out

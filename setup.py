"""Builds zipc._zipc from python/zipc/*.c plus the C core (src/*.c).

Metadata lives in pyproject.toml; the version is read from
include/zipc/common.h, the one place it is written. ZIPC_WERROR=1 (CI) turns
warnings into errors.
"""
import glob
import os
import re

from setuptools import Extension, setup


def c_version() -> str:
    with open("include/zipc/common.h", encoding="utf-8") as f:
        text = f.read()
    parts = [re.search(rf"#define ZIPC_VERSION_{p} (\d+)", text).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts)


WARNINGS = ["-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes",
            "-Wno-missing-field-initializers"]
if os.environ.get("ZIPC_WERROR") == "1":
    WARNINGS.append("-Werror")

ext = Extension(
    "zipc._zipc",
    sources=sorted(glob.glob("python/zipc/*.c")) + sorted(glob.glob("src/*.c")),
    include_dirs=["include", "src"],
    depends=glob.glob("python/zipc/*.h") + glob.glob("src/*.h") + glob.glob("include/**/*.h", recursive=True)
    + ["examples/c_producer.c"],  # built in by python/zipc/_cproducer.c
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-O2", "-fvisibility=hidden"] + WARNINGS,
)

# build-py, not build/: that is the CMake build directory. ZIPC_BUILD_BASE
# gives a second interpreter of the same version (tests/run_all.sh's Debian
# python3 for the torch tests) build files of its own.
setup(version=c_version(), ext_modules=[ext],
      options={"build": {"build_base": os.environ.get("ZIPC_BUILD_BASE", "build-py")}})

"""Builds zipc._zipc from python/zipc/*.c plus the C core (src/*.c).

Metadata lives in pyproject.toml. ZIPC_WERROR=1 (CI) turns warnings into errors.
"""
import glob
import os

from setuptools import Extension, setup

WARNINGS = ["-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes",
            "-Wno-missing-field-initializers"]
if os.environ.get("ZIPC_WERROR") == "1":
    WARNINGS.append("-Werror")

ext = Extension(
    "zipc._zipc",
    sources=sorted(glob.glob("python/zipc/*.c")) + sorted(glob.glob("src/*.c")),
    include_dirs=["include", "src"],
    depends=glob.glob("python/zipc/*.h") + glob.glob("src/*.h") + glob.glob("include/**/*.h", recursive=True),
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-O2", "-fvisibility=hidden"] + WARNINGS,
)

# build-py, not build/: that is the CMake build directory.
setup(ext_modules=[ext], options={"build": {"build_base": "build-py"}})

#!/usr/bin/env bash
# Install zipc into a temporary prefix, then build a consumer three ways:
# find_package(zipc), add_subdirectory, and pkg-config. Prints one line per way
# (and per language: the C++ consumer, zipc.hpp, when a C++ compiler exists).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gen=$(command -v ninja >/dev/null 2>&1 && echo "-G Ninja" || true)
q() { "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }; }
q cmake -S "$src" -B "$tmp/build" $gen -DZIPC_BUILD_TESTS=OFF ${ZIPC_INSTALL_CHECK_ARGS:-} -DCMAKE_INSTALL_PREFIX="$tmp/prefix"
q cmake --build "$tmp/build"
q cmake --install "$tmp/build"
q cmake -S "$src/tests/install" -B "$tmp/fp" $gen -DCMAKE_PREFIX_PATH="$tmp/prefix"
q cmake --build "$tmp/fp"
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64" "$tmp/fp/consumer" && echo "find_package: ok"
if [ -x "$tmp/fp/consumer_cpp" ]; then
    LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64" "$tmp/fp/consumer_cpp" && echo "find_package (C++): ok"
fi
q cmake -S "$src/tests/install" -B "$tmp/sub" $gen -DZIPC_SOURCE_DIR="$src"
q cmake --build "$tmp/sub"
"$tmp/sub/consumer" && echo "add_subdirectory: ok"
if [ -x "$tmp/sub/consumer_cpp" ]; then
    "$tmp/sub/consumer_cpp" && echo "add_subdirectory (C++): ok"
fi
pc=$(ls -d "$tmp"/prefix/lib*/pkgconfig | head -1)
cc $(PKG_CONFIG_PATH="$pc" pkg-config --cflags zipc) "$src/tests/install/consumer.c" \
   $(PKG_CONFIG_PATH="$pc" pkg-config --libs zipc) -o "$tmp/pc_consumer"
LD_LIBRARY_PATH=$(dirname "$pc") "$tmp/pc_consumer" && echo "pkg-config: ok"

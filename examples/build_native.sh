#!/usr/bin/env bash
# Build one example program straight from the repository's sources, without
# CMake: the C library (src/*.c) as a static archive, then the program's C
# or C++ sources linked against it. Prints nothing on success.
#   examples/build_native.sh OUT SOURCE...
# $CC / $CXX choose the compilers (cc / c++); $ZIPC_EXAMPLES_BUILD the
# directory of the objects (default build/examples in the repository).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1; shift
obj=${ZIPC_EXAMPLES_BUILD:-$root/build/examples}/lib
mkdir -p "$obj" "$(dirname "$out")"
cc=${CC:-cc} cxx=${CXX:-c++}
for src in "$root"/src/*.c; do
    "$cc" -std=c11 -O2 -D_GNU_SOURCE -I"$root/include" -c "$src" -o "$obj/$(basename "$src" .c).o"
done
rm -f "$obj/libzipc.a"
ar rcs "$obj/libzipc.a" "$obj"/*.o
link=$cc objs=()
for src in "$@"; do
    o="$obj/$(basename "$src").o"
    case $src in
    *.cpp) "$cxx" -std=c++17 -O2 -Wall -Wextra -I"$root/include" -I"$root/cpp/include" -c "$src" -o "$o"; link=$cxx ;;
    *.c) "$cc" -std=c11 -O2 -Wall -Wextra -D_GNU_SOURCE -I"$root/include" -c "$src" -o "$o" ;;
    esac
    objs+=("$o")
done
"$link" "${objs[@]}" "$obj/libzipc.a" -o "$out"

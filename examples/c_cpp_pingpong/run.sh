#!/usr/bin/env bash
# C <-> C++ ping-pong of 32-byte messages over two zipc channels.
#   examples/c_cpp_pingpong/run.sh [ROUNDTRIPS]      (default 200000)
# Builds ping (C) and pong (C++) from the repository's sources, runs them
# (pinned to two CPUs when taskset and two CPUs are available) and prints
# round trips/s and the p50 / p99 latency.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-200000}
build=${ZIPC_EXAMPLES_BUILD:-$root/build/examples}
"$root/examples/build_native.sh" "$build/pingpong_ping" "$here/ping.c"
"$root/examples/build_native.sh" "$build/pingpong_pong" "$here/pong.cpp"
pin0=() pin1=()
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    cpus=($(taskset -pc $$ | sed 's/.*: //' | tr ',' '\n' | sed 's/-/ /' | awk '{ for (c = $1; c <= ($2 == "" ? $1 : $2); c++) print c }' | head -2))
    [ ${#cpus[@]} -ge 2 ] && pin0=(taskset -c "${cpus[0]}") pin1=(taskset -c "${cpus[1]}")
fi
dir=$(mktemp -d /tmp/zipc-example-XXXXXX)
trap 'rm -rf "$dir"' EXIT
"${pin1[@]}" "$build/pingpong_pong" "$dir/pp" &
pong=$!
"${pin0[@]}" "$build/pingpong_ping" "$dir/pp" "$n" || { kill "$pong" 2>/dev/null; exit 1; }
wait "$pong"

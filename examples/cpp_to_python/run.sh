#!/usr/bin/env bash
# C++ producer -> Python consumer, float32[256] tensor frames.
#   examples/cpp_to_python/run.sh [FRAMES]      (default 200000)
# Builds the producer with c++ from the repository's sources, starts the
# Python consumer (it listens), runs the producer, and prints both sides'
# throughput. $PYTHON: the interpreter that imports zipc and numpy (default:
# build-py/venv/bin/python when present, else python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
frames=${1:-200000}
build=${ZIPC_EXAMPLES_BUILD:-$root/build/examples}
py=${PYTHON:-$([ -x "$root/build-py/venv/bin/python" ] && echo "$root/build-py/venv/bin/python" || echo python3)}
"$py" -c "import zipc, numpy" || { echo "run.sh: $py cannot import zipc and numpy (pip install . numpy)" >&2; exit 1; }
"$root/examples/build_native.sh" "$build/cpp_to_python_producer" "$here/producer.cpp"
dir=$(mktemp -d /tmp/zipc-example-XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$py" "$here/consumer.py" "$dir/frames.sock" &
consumer=$!
"$build/cpp_to_python_producer" "$dir/frames.sock" "$frames" || { kill "$consumer" 2>/dev/null; exit 1; }
wait "$consumer"

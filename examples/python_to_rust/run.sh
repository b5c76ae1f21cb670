#!/usr/bin/env bash
# Python producer -> Rust consumer, COUNT ticks (default 2,000,000).
#   ./run.sh [COUNT]        (PYTHON=... to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")"
COUNT=${1:-2000000}
PY=${PYTHON:-python3}
CARGO=(cargo --quiet)
MANIFEST=../../rust/Cargo.toml
SOCK=$(mktemp -u /tmp/zipc-ticks-XXXXXX.sock)
"${CARGO[@]}" build --release --manifest-path $MANIFEST --example tick_consumer
"${CARGO[@]}" run --release --manifest-path $MANIFEST --example tick_consumer -- "$SOCK" "$COUNT" &
consumer=$!
trap 'kill $consumer 2>/dev/null || true; rm -f "$SOCK"' EXIT
"$PY" producer.py "$SOCK" "$COUNT"
wait $consumer

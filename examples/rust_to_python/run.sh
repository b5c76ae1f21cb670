#!/usr/bin/env bash
# Rust producer -> Python consumer: COUNT float32 tensors of ROWS x COLS
# (default 20000 of 256x256).   ./run.sh [COUNT [ROWS [COLS]]]   (PYTHON=...)
set -euo pipefail
cd "$(dirname "$0")"
COUNT=${1:-20000} ROWS=${2:-256} COLS=${3:-256}
PY=${PYTHON:-python3}
MANIFEST=../../rust/Cargo.toml
SOCK=$(mktemp -u /tmp/zipc-tensors-XXXXXX.sock)
cargo --quiet build --release --manifest-path $MANIFEST --example tensor_producer
"$PY" consumer.py "$SOCK" "$COUNT" "$ROWS" "$COLS" &
consumer=$!
trap 'kill $consumer 2>/dev/null || true; rm -f "$SOCK"' EXIT
cargo --quiet run --release --manifest-path $MANIFEST --example tensor_producer -- "$SOCK" "$COUNT" "$ROWS" "$COLS"
wait $consumer

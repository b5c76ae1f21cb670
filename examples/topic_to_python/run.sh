#!/usr/bin/env bash
# One topic, one publisher of ticks and frames, two Python subscribers with
# different policies (a lossless NumPy one, a slow drop_oldest logger).
#   examples/topic_to_python/run.sh [TICKS]      (default 100000; a frame every 50 ticks)
# $PUBLISHER: another publisher command of the same feed (feed.py), run as
# `$PUBLISHER NAME TICKS` (a C or C++ one); default: publisher.py in Python.
# $PYTHON: the interpreter that imports zipc and numpy (default:
# build-py/venv/bin/python when present, else python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ticks=${1:-100000}
py=${PYTHON:-$([ -x "$root/build-py/venv/bin/python" ] && echo "$root/build-py/venv/bin/python" || echo python3)}
"$py" -c "import zipc, numpy" || { echo "run.sh: $py cannot import zipc and numpy (pip install . numpy)" >&2; exit 1; }
name=feed-$$
if [ -n "${PUBLISHER:-}" ]; then
    exec "$py" "$here/subscribers.py" "$name" $PUBLISHER "$name" "$ticks"
fi
exec "$py" "$here/subscribers.py" "$name" "$py" "$here/publisher.py" "$name" "$ticks"

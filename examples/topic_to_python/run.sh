#!/usr/bin/env bash
# One topic, one publisher of ticks and frames, two Python subscribers with
# different policies (a lossless NumPy one, a slow drop_oldest logger).
#   examples/topic_to_python/run.sh [TICKS]      (default 100000; a frame every 50 ticks)
# The publisher is examples/cpp_topic_publisher.cpp, built with c++ from the
# repository's sources; $PUBLISHER: another command of the same feed
# (feed.py), run as `$PUBLISHER NAME TICKS`; PUBLISHER=python: publisher.py
# (also the default when there is no C++ compiler).
# $PYTHON: the interpreter that imports zipc and numpy (default:
# build-py/venv/bin/python when present, else python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ticks=${1:-100000}
py=${PYTHON:-$([ -x "$root/build-py/venv/bin/python" ] && echo "$root/build-py/venv/bin/python" || echo python3)}
"$py" -c "import zipc, numpy" || { echo "run.sh: $py cannot import zipc and numpy (pip install . numpy)" >&2; exit 1; }
name=feed-$$
if [ -z "${PUBLISHER:-}" ] && command -v "${CXX:-c++}" >/dev/null; then
    build=${ZIPC_EXAMPLES_BUILD:-$root/build/examples}
    "$root/examples/build_native.sh" "$build/cpp_topic_publisher" "$root/examples/cpp_topic_publisher.cpp"
    PUBLISHER=$build/cpp_topic_publisher
fi
if [ -n "${PUBLISHER:-}" ] && [ "$PUBLISHER" != python ]; then
    exec "$py" "$here/subscribers.py" "$name" $PUBLISHER "$name" "$ticks"
fi
exec "$py" "$here/subscribers.py" "$name" "$py" "$here/publisher.py" "$name" "$ticks"

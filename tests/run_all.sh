#!/usr/bin/env bash
# Every test of the project, in stages; each stage prints its own result
# line, and the run ends with one "zipc: N passed, N failed[, N skipped]" line
# (exit status non-zero on any failure).
#   plain        the C suite built with gcc (RelWithDebInfo)
#   python       the Python package (-Werror) in build-py/venv, then pytest
#   rust         cargo test (unit, two-process, vectors, compile-fail doc tests),
#                cargo doc and clippy with warnings denied (when cargo is installed)
#   clang        the C suite built with clang (when clang is installed)
#   asan         the C suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan         the threaded tests (ctest label "threads") under ThreadSanitizer
#   fuzz         each libFuzzer harness for ZIPC_FUZZ_SECONDS (default 30) (clang only)
# ZIPC_STAGES="plain asan" limits the stages.
# Counts come from machine-readable results, never from the tools' text:
# ctest's and pytest's JUnit XML and libtest's JSON events (one count per
# test, read by tests/junit_count.py), exit statuses for the fuzzers and for
# cargo doc / clippy (one count each). A tool that fails without reporting
# a failed test counts as one failure.
set -u
cd "$(dirname "$0")/.."
GEN=$(command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
JOBS=$(nproc)
STAGES=${ZIPC_STAGES:-plain python rust clang asan tsan fuzz}
FUZZ_SECONDS=${ZIPC_FUZZ_SECONDS:-30}
passed=0 failed=0 skipped=0
# Why tests failed, repeated just above the last line: CI shows a run's tail.
DIGEST=$(mktemp)
trap 'rm -f "$DIGEST"' EXIT

have_clang() { command -v clang >/dev/null 2>&1; }

# Stage totals: s_pass s_fail s_skip, folded into the run's by stage_end.
stage_begin() { s_pass=0 s_fail=0 s_skip=0 s_start=$SECONDS; echo "== stage $1"; }
stage_end() {
    echo "[$1] stage result: $s_pass passed, $s_fail failed, $s_skip skipped ($((SECONDS - s_start)) s)"
    passed=$((passed + s_pass)) failed=$((failed + s_fail)) skipped=$((skipped + s_skip))
}

configure_build() { # dir, extra cmake args... (the log is dir.log)
    local dir=$1; shift
    cmake -S . -B "$dir" $GEN -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.log" 2>&1 &&
        cmake --build "$dir" -j "$JOBS" >>"$dir.log" 2>&1 || {
        tail -60 "$dir.log"
        echo "build failed: $dir (log: $dir.log)"
        return 1
    }
}

# Fold reports into the stage's counts: tests/junit_count.py prints a line
# per test that did not pass (per test with --each), then "P F S". Sets
# r_pass r_fail r_skip (what these reports held) for the caller's checks.
count_reports() { # stage, [--each], report...
    local stage=$1 out counts
    out=$(python3 tests/junit_count.py "$@" 2>&1)
    counts=$(echo "$out" | tail -1)
    if ! [[ $counts =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]]; then
        echo "$out" | tail -20
        echo "[$stage] FAILED: reading the test reports ($*)"
        counts="0 1 0"
    else
        echo "$out" | sed '$d'
    fi
    read -r r_pass r_fail r_skip <<<"$counts"
    s_pass=$((s_pass + r_pass)) s_fail=$((s_fail + r_fail)) s_skip=$((s_skip + r_skip))
}

# Keep a failed run's telling lines (checks, sanitizer reports, timeouts)
# for the digest printed before the summary.
digest() { # stage, output
    { echo "[$1]"; echo "$2" | grep -E '^FAIL |^FAILED |^E  |panicked|Sanitizer|runtime error|SUMMARY|Timeout|watchdog|Test +#.*(Failed|Exception|Timeout)' |
        head -24; } >>"$DIGEST"
}

# Run a build's ctest and count its tests from its JUnit report; $WRAP, if
# set, prefixes ctest.
run_ctest() { # stage, dir, ctest args...
    local stage=$1 dir=$2; shift 2
    local xml=$PWD/$dir/ctest-junit.xml out rc
    if ! ctest --help 2>/dev/null | grep -q -- --output-junit; then
        echo "[$stage] FAILED: this ctest cannot write JUnit (--output-junit needs CMake >= 3.21)"
        s_fail=$((s_fail + 1)); return 0
    fi
    rm -f "$xml"
    out=$(cd "$dir" && ${WRAP:-} ctest --output-on-failure --output-junit "$xml" "$@" 2>&1)
    rc=$?
    count_reports "$stage" --each "$xml"
    [ $rc -ne 0 ] && echo "$out" | tail -60 && digest "$stage" "$out"
    if [ $rc -ne 0 ] && [ "$r_fail" -eq 0 ]; then
        echo "[$stage] ctest exited $rc"
        s_fail=$((s_fail + 1))
    elif [ $((r_pass + r_fail + r_skip)) -eq 0 ]; then
        echo "[$stage] no test selected${*:+ ($*)}"
        s_skip=$((s_skip + 1))
    fi
    return 0
}

# The Python package: a virtualenv under build-py/venv (it sees the system's
# site-packages, so installed NumPy/pytest/pyzmq are reused; PEP 668 does not
# apply inside it), the package built with -Werror, then pytest. Counts: the
# tests of pytest's JUnit report (errors count as failures; exit 5, no test
# collected, fails).
stage_python() {
    local venv=build-py/venv log=build-py/python.log py=build-py/venv/bin/python
    local pip_q="-q --disable-pip-version-check"
    mkdir -p build-py
    : >"$log"
    if ! command -v python3 >/dev/null 2>&1; then
        echo "[python] failed: python3 is not installed"; s_fail=$((s_fail + 1)); return
    fi
    { [ -x "$py" ] || python3 -m venv --system-site-packages "$venv"; } >>"$log" 2>&1 &&
        $py -m pip install $pip_q setuptools wheel numpy pytest pyzmq pillow matplotlib safetensors >>"$log" 2>&1 &&
        ZIPC_WERROR=1 $py -m pip install $pip_q --no-build-isolation --force-reinstall --no-deps . >>"$log" 2>&1 || {
        tail -30 "$log"
        echo "[python] failed: setting up $venv (log: $log; Debian needs python3-venv python3-dev)"
        s_fail=$((s_fail + 1)); return
    }
    local out rc xml=$PWD/build-py/pytest-junit.xml
    rm -f "$xml"
    out=$($py -m pytest python/tests -q -p no:cacheprovider --junitxml="$xml" 2>&1)
    rc=$?
    echo "$out" | tail -1 | sed 's/^/[python] /'
    [ $rc -ne 0 ] && echo "$out" | tail -60 && digest python "$out"
    count_reports python "$xml"
    if [ $rc -ne 0 ] && [ "$r_fail" -eq 0 ]; then
        echo "[python] pytest exited $rc$([ $rc -eq 5 ] && echo ' (no test collected)')"
        s_fail=$((s_fail + 1))
    fi
    python_torch_tests
}

# The tests marked "torch" (DLPack into torch, Store.state_dict) once more
# with Debian's python3, which has python3-torch (.ci/run installs it; the
# CI's own python3 has no torch): the package built into
# build-py/venv-deb, which sees Debian's torch and NumPy.
python_torch_tests() {
    local venv=build-py/venv-deb log=build-py/python-deb.log py=build-py/venv-deb/bin/python
    local pip_q="-q --disable-pip-version-check"
    if ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
        echo "[python] torch tests under /usr/bin/python3: skipped (it cannot import torch: apt-get install python3-torch)"
        s_skip=$((s_skip + 1)); return
    fi
    : >"$log"
    { [ -x "$py" ] || /usr/bin/python3 -m venv --system-site-packages "$venv"; } >>"$log" 2>&1 &&
        $py -m pip install $pip_q setuptools wheel pytest safetensors >>"$log" 2>&1 &&
        ZIPC_WERROR=1 ZIPC_BUILD_BASE=build-py/deb $py -m pip install $pip_q --no-build-isolation \
            --force-reinstall --no-deps . >>"$log" 2>&1 || {
        tail -30 "$log"
        echo "[python] failed: setting up $venv for the torch tests (log: $log)"
        s_fail=$((s_fail + 1)); return
    }
    local out rc xml=$PWD/build-py/pytest-torch-junit.xml
    rm -f "$xml"
    out=$($py -m pytest python/tests -q -m torch -p no:cacheprovider --junitxml="$xml" 2>&1)
    rc=$?
    echo "$out" | tail -1 | sed 's/^/[python] torch, Debian python3: /'
    [ $rc -ne 0 ] && echo "$out" | tail -60 && digest python "$out"
    count_reports python "$xml"
    if [ $rc -ne 0 ] && [ "$r_fail" -eq 0 ]; then
        echo "[python] pytest -m torch exited $rc$([ $rc -eq 5 ] && echo ' (no test collected)')"
        s_fail=$((s_fail + 1))
    fi
}

# Run one fuzzer on its work corpus plus the committed seeds. Any crash,
# leak, timeout or OOM fails it; libFuzzer's reproducer path is printed.
run_fuzzer() { # executable
    local f=$1 name; name=$(basename "$f")
    local seeds=tests/fuzz/corpus/${name#fuzz_} work=build-fuzz/corpus/$name
    local art=build-fuzz/artifacts/$name/ log=build-fuzz/$name.log
    mkdir -p "$work" "$art"
    "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art" "$work" $([ -d "$seeds" ] && echo "$seeds") >"$log" 2>&1
    local rc=$?
    local runs cov speed repro
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
    repro=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    if [ $rc -eq 0 ] && [ -z "$repro" ]; then
        echo "[fuzz] $name: ok (${runs:-?} runs, ${speed:-?} exec/s, ${cov:-cov: ?})"
        s_pass=$((s_pass + 1))
        return
    fi
    echo "[fuzz] $name: FAILED (exit $rc after ${runs:-?} runs; log: $log)"
    # the finding, and the stack frames in the project's own code
    grep -E "ERROR: |invariant violated|SUMMARY: |^ +#[0-9]+ .* in .*/(src|include|tests)/[^ ]+\.[ch]:[0-9]+" "$log" |
        head -12 | sed 's/^/[fuzz]   /'
    if [ -n "$repro" ]; then
        echo "[fuzz]   reproducer: $repro"
        echo "[fuzz]   replay:     $f $repro"
    fi
    s_fail=$((s_fail + 1))
}

# One cargo step that is not a test run: +1 passed, or +1 failed with its log tail.
cargo_check() { # label, command...
    local label=$1 out; shift
    if out=$(cd rust && "$@" 2>&1); then
        echo "[rust] $label: ok"; s_pass=$((s_pass + 1))
    else
        echo "$out" | tail -30; echo "[rust] $label: FAILED"; s_fail=$((s_fail + 1))
    fi
}

stage_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "[rust] skipped: cargo is not installed"; s_skip=$((s_skip + 1)); return
    fi
    # Counts: libtest's JSON events, one per test (unit, integration and doc
    # tests alike). The JSON format needs -Z unstable-options, which a stable
    # toolchain's test harness accepts with RUSTC_BOOTSTRAP=1; cargo does not
    # rebuild for it, and the format is the one IDEs read. Output of a test's
    # child processes that lands on the same stream is skipped (not JSON).
    local out rc json=$PWD/rust/target/libtest.json
    mkdir -p rust/target
    rm -f "$json"
    out=$(cd rust && RUSTC_BOOTSTRAP=1 cargo test --workspace --locked -- -Z unstable-options \
        --format json 2>&1 >"$json")
    rc=$?
    count_reports rust "$json"
    echo "[rust] cargo test: $r_pass passed, $r_fail failed, $r_skip ignored"
    if [ $rc -ne 0 ]; then
        echo "$out" | tail -40
        digest rust "$out"
        [ "$r_fail" -eq 0 ] && { echo "[rust] cargo test exited $rc"; s_fail=$((s_fail + 1)); }
    elif [ "$r_pass" -eq 0 ]; then
        echo "[rust] cargo test ran no test"; s_fail=$((s_fail + 1))
    fi
    cargo_check "cargo doc (warnings denied)" env RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps --workspace --locked
    if cargo clippy --version >/dev/null 2>&1; then
        cargo_check "cargo clippy (warnings denied)" cargo clippy --workspace --all-targets --locked -- -D warnings
    else
        echo "[rust] clippy skipped: not installed"; s_skip=$((s_skip + 1))
    fi
}

stage_fuzz() {
    if ! have_clang; then
        echo "[fuzz] skipped: clang is not installed (libFuzzer needs clang)"
        s_skip=$((s_skip + 1)); return
    fi
    CC=clang configure_build build-fuzz -DZIPC_BUILD_FUZZ=ON -DZIPC_BUILD_TESTS=OFF \
        -DZIPC_BUILD_TOOLS=OFF -DZIPC_SANITIZE=address,undefined || { s_fail=$((s_fail + 1)); return; }
    local n=0 f
    for f in build-fuzz/tests/fuzz/fuzz_*; do
        [ -f "$f" ] && [ -x "$f" ] || continue
        run_fuzzer "$f"
        n=$((n + 1))
    done
    if [ $n -eq 0 ]; then
        echo "[fuzz] no fuzzer was built (build-fuzz/tests/fuzz/fuzz_*)"
        s_fail=$((s_fail + 1))
    fi
}

# gcc's TSan runtime needs the classic address-space layout: without ASLR
# it also runs on kernels with 32 bits of mmap randomness.
no_aslr() {
    if command -v setarch >/dev/null 2>&1 && setarch "$(uname -m)" -R true 2>/dev/null; then
        setarch "$(uname -m)" -R "$@"
    else
        "$@"
    fi
}

for stage in $STAGES; do
    stage_begin "$stage"
    case $stage in
    plain)
        if configure_build build-test -DZIPC_BUILD_TESTS=ON; then
            run_ctest plain build-test
        else s_fail=$((s_fail + 1)); fi ;;
    clang)
        if ! have_clang; then
            echo "[clang] skipped: clang is not installed"; s_skip=$((s_skip + 1))
        elif CC=clang configure_build build-clang; then
            run_ctest clang build-clang
        else s_fail=$((s_fail + 1)); fi ;;
    asan)
        if configure_build build-asan -DZIPC_SANITIZE=address,undefined; then
            ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                ZIPC_TEST_SCALE=${ZIPC_TEST_SCALE_ASAN:-0.1} run_ctest asan build-asan
        else s_fail=$((s_fail + 1)); fi ;;
    tsan)
        if configure_build build-tsan -DZIPC_SANITIZE=thread; then
            TSAN_OPTIONS=halt_on_error=1 ZIPC_TEST_SCALE=${ZIPC_TEST_SCALE_TSAN:-0.05} WRAP=no_aslr \
                run_ctest tsan build-tsan -L threads
        else s_fail=$((s_fail + 1)); fi ;;
    python) stage_python ;;
    rust) stage_rust ;;
    fuzz) stage_fuzz ;;
    *) echo "unknown stage $stage"; s_fail=$((s_fail + 1)) ;;
    esac
    stage_end "$stage"
done
echo
if [ -s "$DIGEST" ]; then
    echo "== why tests failed (first lines per stage)"
    cat "$DIGEST"
fi
if [ "$skipped" -gt 0 ]; then
    echo "zipc: $passed passed, $failed failed, $skipped skipped"
else
    echo "zipc: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]

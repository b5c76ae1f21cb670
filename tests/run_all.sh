#!/usr/bin/env bash
# Every test of the project, in stages; ends with one "N passed, N failed" line.
#   plain        the C suite built with gcc (RelWithDebInfo)
#   clang        the C suite built with clang (when clang is installed)
#   asan         the C suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan         the threaded tests under ThreadSanitizer
#   fuzz         each libFuzzer harness for ZIPC_FUZZ_SECONDS (default 30) (clang only)
# ZIPC_STAGES="plain asan" limits the stages.
set -u
cd "$(dirname "$0")/.."
GEN=$(command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
JOBS=$(nproc)
STAGES=${ZIPC_STAGES:-plain clang asan tsan fuzz}
passed=0 failed=0 skipped=0

have_clang() { command -v clang >/dev/null 2>&1; }

configure_build() { # dir, extra cmake args...
    local dir=$1; shift
    cmake -S . -B "$dir" $GEN -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.log" 2>&1 &&
        cmake --build "$dir" -j "$JOBS" >>"$dir.log" 2>&1 || { cat "$dir.log"; return 1; }
}

run_ctest() { # stage, dir, ctest args...
    local stage=$1 dir=$2; shift 2
    local out
    out=$(cd "$dir" && ctest --output-on-failure "$@" 2>&1)
    local rc=$?
    echo "$out" | grep -E "Test +#|tests passed|Failed|\*\*\*" | sed "s/^/[$stage] /"
    [ $rc -ne 0 ] && echo "$out" | tail -60
    local total fail
    total=$(echo "$out" | sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p')
    fail=$(echo "$out" | sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p')
    total=${total:-0}; fail=${fail:-0}
    [ "$total" = 0 ] && [ $rc -ne 0 ] && fail=1
    passed=$((passed + total - fail)); failed=$((failed + fail))
}

stage_skip() { echo "[$1] skipped: $2"; skipped=$((skipped + 1)); }

for stage in $STAGES; do
    echo "== stage $stage"
    case $stage in
    plain)
        configure_build build-test -DZIPC_BUILD_TESTS=ON || { failed=$((failed + 1)); continue; }
        run_ctest plain build-test ;;
    clang)
        have_clang || { stage_skip clang "clang is not installed"; continue; }
        CC=clang configure_build build-clang || { failed=$((failed + 1)); continue; }
        run_ctest clang build-clang ;;
    asan)
        configure_build build-asan -DZIPC_SANITIZE=address,undefined || { failed=$((failed + 1)); continue; }
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            ZIPC_TEST_SCALE=${ZIPC_TEST_SCALE_ASAN:-0.1} run_ctest asan build-asan ;;
    tsan)
        configure_build build-tsan -DZIPC_SANITIZE=thread || { failed=$((failed + 1)); continue; }
        TSAN_OPTIONS=halt_on_error=1 ZIPC_TEST_SCALE=${ZIPC_TEST_SCALE_TSAN:-0.05} \
            run_ctest tsan build-tsan -L threads ;;
    fuzz)
        have_clang || { stage_skip fuzz "clang is not installed (libFuzzer needs clang)"; continue; }
        CC=clang configure_build build-fuzz -DZIPC_BUILD_FUZZ=ON -DZIPC_BUILD_TESTS=OFF -DZIPC_BUILD_TOOLS=OFF \
            -DZIPC_SANITIZE=address,undefined || { failed=$((failed + 1)); continue; }
        for f in build-fuzz/tests/fuzz/fuzz_*; do
            [ -x "$f" ] || continue
            name=$(basename "$f")
            corpus=tests/fuzz/corpus/${name#fuzz_}
            mkdir -p "build-fuzz/corpus-$name"
            if "$f" -max_total_time="${ZIPC_FUZZ_SECONDS:-30}" -print_final_stats=0 \
                "build-fuzz/corpus-$name" $( [ -d "$corpus" ] && echo "$corpus") >"build-fuzz/$name.log" 2>&1; then
                echo "[fuzz] $name: ok ($(grep -c . "build-fuzz/$name.log") log lines, $(grep -o 'cov: [0-9]*' "build-fuzz/$name.log" | tail -1))"
                passed=$((passed + 1))
            else
                echo "[fuzz] $name: FAILED"; tail -40 "build-fuzz/$name.log"
                failed=$((failed + 1))
            fi
        done ;;
    *) echo "unknown stage $stage"; failed=$((failed + 1)) ;;
    esac
done
echo
if [ "$skipped" -gt 0 ]; then
    echo "zipc: $passed passed, $failed failed, $skipped skipped"
else
    echo "zipc: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Fuzzes the C engine with libFuzzer under AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer (engine_c/fuzz/README.md): the model loader
# (fuzz_loader) and the session API (fuzz_session), each for a fixed number of
# executions.
#
#   bash scripts/fuzz.sh [--loader-runs N] [--session-runs N] [--seed N] [--work DIR]
#
# The defaults, 1,000,000 loader and 100,000 session executions, make the long
# run (tens of minutes); tests/engine/test_fuzz.py runs a short one. --seed 0 (the
# default) lets libFuzzer pick its random seed. Prints each target's
# executions, time and executions per second, and "no crash" or the report.
# A crashing input is saved in engine_c/fuzz/regressions/TARGET/, from where
# tests/engine/test_fuzz.py replays it: fix the engine, then commit the file. Inputs
# that reach new code go to DIR/corpus/TARGET/ and the logs to DIR (default
# engine_c/build/fuzz: the corpus grows from run to run there, and each run
# starts by replaying it).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: bash scripts/fuzz.sh [--loader-runs N] [--session-runs N] [--seed N]" \
         "[--work DIR]" >&2
    exit 2
}

loader_runs=1000000
session_runs=100000
seed=0
work=engine_c/build/fuzz
while [ $# -ge 2 ]; do
    case "$1" in
    --loader-runs) loader_runs="$2" ;;
    --session-runs) session_runs="$2" ;;
    --seed) seed="$2" ;;
    --work) work="$2" ;;
    *) usage ;;
    esac
    shift 2
done
[ $# -eq 0 ] || usage
for number in "$loader_runs" "$session_runs" "$seed"; do
    [[ "$number" =~ ^[0-9]+$ ]] || usage
done

make -s -C engine_c fuzz
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

fuzz() { # fuzz TARGET RUNS [libFuzzer flags]
    local target="$1" runs="$2"
    shift 2
    local corpus="$work/corpus/$target" crashes="engine_c/fuzz/regressions/$target"
    local log="$work/$target.log"
    mkdir -p "$corpus" "$crashes"
    local start end status=0
    start=$(date +%s.%N)
    "engine_c/build/fuzz_$target" -runs="$runs" -seed="$seed" -timeout=60 -detect_leaks=1 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$@" \
        "$corpus" "engine_c/fuzz/${target}_corpus" >"$log" 2>&1 || status=$?
    end=$(date +%s.%N)
    local executions
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    if [ "$status" -ne 0 ] || [ -z "$executions" ]; then
        echo "fuzz_$target: CRASH (exit status $status); the end of $log:"
        grep -v '^#\|^INFO:\|^"' "$log" | tail -n 40
        return 1
    fi
    awk -v name="fuzz_$target" -v n="$executions" -v start="$start" -v end="$end" 'BEGIN {
        printf "%s: %d executions in %.1f s (%.0f exec/s): no crash, leak or sanitizer report\n",
               name, n, end - start, n / (end - start) }'
}

failed=0
fuzz loader "$loader_runs" -max_len=32768 -dict=engine_c/fuzz/loader.dict || failed=1
fuzz session "$session_runs" || failed=1
exit "$failed"

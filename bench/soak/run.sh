#!/usr/bin/env bash
# The soak and load runs of RELIABILITY.md, at full size, in release mode:
#
#   bash bench/soak/run.sh [SECONDS] [SEED]      (defaults: 60, 20240601)
#
# 1. soak: the library for SECONDS with random faults from SEED (kills,
#    segfaults, aborts, exits, panics, garbage and cut frames on the message
#    stream, timeouts, kills by the parent, leftover grandchildren, commands);
#    every task must end exactly as its fault says.
# 2. 10,000 library tasks (tests/load.rs at full size).
# 3. 100,000 CLI jobs, and 1,000,000 empty input lines through the CLI.
#
# Prints one line per part and exits non-zero when any check failed. Takes
# about 10 minutes on 2 cores. Leave the machine otherwise idle. Not part of
# .ci/run.
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
seed="${2:-20240601}"
status=0

cargo build --release -p dummymp-bench -p dummymp-cli >/dev/null 2>&1 \
    || { echo "release build failed" >&2; exit 1; }
dummymp=$PWD/target/release/dummymp

# Peak resident memory of a command, in kB, when GNU time is there.
measure() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%M" -o "$work/peak" "$@"
    else
        echo "?" > "$work/peak"
        "$@"
    fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== soak: ${seconds} s, seed ${seed}"
target/release/soak "$seconds" "$seed" 4 || status=1

echo "== library: 10,000 tasks"
DUMMYMP_LOAD_TASKS=10000 cargo test --release --test load -- --nocapture 2>&1 \
    | grep -E "tasks,|test result" || status=1

# Processes (other than zombies, this script and the subshell counting)
# whose working directory is $1: what a run in that directory left behind.
left_in() {
    local count=0 pid
    for pid in /proc/[0-9]*; do
        case "${pid#/proc/}" in "$$" | "$BASHPID") continue ;; esac
        if [ "$(readlink "$pid/cwd" 2>/dev/null)" = "$1" ] \
            && ! grep -q '^State:.*Z' "$pid/status" 2>/dev/null; then
            count=$((count + 1))
        fi
    done
    echo "$count"
}

echo "== CLI: 100,000 jobs"
mkdir "$work/jobs" && cd "$work/jobs"
start=$(date +%s.%N)
seq 100000 > input.txt
measure "$dummymp" --priority nuclear -j 4 --joblog jobs.log echo < input.txt > out.txt
rc=$?
end=$(date +%s.%N)
lines=$(wc -l < out.txt)
unique=$(sort -u out.txt | wc -l)
logged=$(($(wc -l < jobs.log) - 1))
left=$(left_in "$PWD")
echo "100000 jobs: exit $rc, $lines lines, $unique distinct, $logged logged, $left processes left, peak $(cat "$work/peak") kB, $(awk "BEGIN { printf \"%.1f\", $end - $start }") s"
[ "$rc" -eq 0 ] && [ "$lines" -eq 100000 ] && [ "$unique" -eq 100000 ] \
    && [ "$logged" -eq 100000 ] && [ "$left" -eq 0 ] || status=1
cd - >/dev/null

echo "== CLI: 1,000,000 empty lines"
mkdir "$work/empty" && cd "$work/empty"
start=$(date +%s.%N)
head -c 1000000 /dev/zero | tr '\0' '\n' > input.txt
measure "$dummymp" --priority nuclear -j 4 echo < input.txt > out.txt
rc=$?
end=$(date +%s.%N)
lines=$(wc -l < out.txt)
nonempty=$(grep -c . out.txt)
left=$(left_in "$PWD")
echo "1000000 empty lines: exit $rc, $lines lines, $nonempty not empty, $left processes left, peak $(cat "$work/peak") kB, $(awk "BEGIN { printf \"%.1f\", $end - $start }") s"
[ "$rc" -eq 0 ] && [ "$lines" -eq 1000000 ] && [ "$nonempty" -eq 0 ] && [ "$left" -eq 0 ] || status=1
cd - >/dev/null

exit $status

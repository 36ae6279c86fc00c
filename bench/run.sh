#!/usr/bin/env bash
# Benchmarks dummymp against the original DummyMP (a Python 3 port) and its
# peers (xargs, GNU parallel, Python multiprocessing), and writes
# BENCHMARKS.md at the repository root.
#
#   bash bench/run.sh           full run (under 20 minutes on 2 cores)
#   bash bench/run.sh --quick   fewer rounds, shorter tasks (under 3 minutes once built)
#
# It builds the workspace in release mode, installs GNU parallel and
# hyperfine with apt-get when they are missing (and removes what it
# installed when it ends), creates a throwaway virtual environment with
# psutil for the original's port, then runs bench/runner.py and
# bench/report.py. Progress goes to standard error. Leave the machine idle
# while it runs. Never part of the test suite.
set -euo pipefail

started_ns=$(date +%s%N)
export BENCH_STARTED_NS=$started_ns
cd "$(dirname "$0")/.."
root=$(pwd)

quick=()
command_line="bash bench/run.sh"
for arg in "$@"; do
    case "$arg" in
        --quick) quick=(--quick); command_line="bash bench/run.sh --quick" ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $arg (only --quick)" >&2; exit 2 ;;
    esac
done

say() { echo "[run.sh $(date +%H:%M:%S)] $*" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dummymp-bench.XXXXXX")
loops_file="$work/busy-loops.pids"
installed=()

cleanup() {
    # Busy loops the runner may have left (each leads its own session).
    if [[ -f "$loops_file" ]]; then
        while read -r pid; do
            [[ -n "$pid" ]] && kill -KILL -- "-$pid" 2>/dev/null || true
        done <"$loops_file"
    fi
    rm -rf "$work"
    if ((${#installed[@]})); then
        say "removing what this run installed: ${installed[*]}"
        apt-get remove -y -qq "${installed[@]}" >/dev/null 2>&1 || say "could not remove ${installed[*]}"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build
say "building in release mode"
cargo build --release -p dummymp-bench >&2
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release"
cli_args=()
if cargo build --release -p dummymp-cli 2>"$work/cli-build.log" && [[ -x "$bin/dummymp" ]]; then
    cli_args=(--cli "$bin/dummymp")
else
    reason=$(grep -m1 -E '^error' "$work/cli-build.log" || tail -n1 "$work/cli-build.log" || true)
    say "the CLI does not build; its scenarios are skipped: $reason"
    cli_args=(--cli-skip "the dummymp CLI did not build in this run (${reason:-no error message})")
fi

# ---- peers
missing=()
command -v parallel >/dev/null || missing+=(parallel)
command -v hyperfine >/dev/null || missing+=(hyperfine)
parallel_args=()
if ((${#missing[@]})); then
    say "installing ${missing[*]} for this run"
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    if "${sudo[@]}" apt-get update -qq >&2 &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; then
        installed=("${missing[@]}")
    else
        say "could not install ${missing[*]}; the runner skips what is missing"
    fi
fi
command -v parallel >/dev/null || parallel_args=(--parallel-skip "GNU parallel could not be installed in this run")

# ---- the original's port needs psutil
say "creating a throwaway virtual environment with psutil"
python3 -m venv "$work/venv" >&2
if ! "$work/venv/bin/pip" install -q --disable-pip-version-check psutil >&2; then
    say "could not install psutil: the original's port will fail and be reported as failed"
fi

# ---- run and report
mkdir -p "$target_dir/bench"
results="$target_dir/bench/results.json"
python3 bench/runner.py "${quick[@]}" --bin "$bin" --python "$work/venv/bin/python" \
    "${cli_args[@]}" "${parallel_args[@]}" --loops-file "$loops_file" --out "$results" \
    --command "$command_line"
python3 bench/report.py "$results" BENCHMARKS.md
elapsed=$((($(date +%s%N) - started_ns) / 1000000000))
say "BENCHMARKS.md written; raw results in $results; run.sh took ${elapsed} s"

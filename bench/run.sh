#!/usr/bin/env bash
# Benchmarks dummymp against the original DummyMP (its release 0.5b2 from
# PyPI, converted to Python 3 at run time) and its peers (xargs, GNU
# parallel, Python multiprocessing), and writes BENCHMARKS.md at the
# repository root.
#
#   bash bench/run.sh                full run (about 16 minutes on 2 cores, build and
#                                    set-up not included; scenario 8 adds about 2 minutes
#                                    on a machine with 16 CPUs or more)
#   bash bench/run.sh --quick        fewer rounds, shorter tasks (about 7 minutes once built)
#   bash bench/run.sh --only LIST    only these scenarios: s1..s10, s6a, s6b, s6c, or the
#                                    groups "original" (every scenario with the original),
#                                    "python" (s9, s10) and "politeness" (s6, s6a, s6b,
#                                    s6c); the report goes to target/bench/BENCHMARKS-partial.md
#   BENCH_PY_WHEEL=WHEEL bash bench/run.sh
#                                    also measures the dummymp Python package
#                                    (scenarios 9 and 10) installed from that wheel, joblib
#                                    installed beside it (scenario 10)
#
# Scenario 8 (scenarios 1, 2, 4 and 6 with N at once) runs only on a machine
# with 16 usable CPUs or more; bench/device.sh runs it on a lent one, and
# when its results are in bench/device-results.json the report shows them
# as scenario 8.
#
# It builds the workspace in release mode, installs GNU parallel and
# hyperfine with apt-get when they are missing (and removes what it
# installed when it ends), creates a throwaway virtual environment with
# psutil and dummymp 0.5b2 (converted by bench/python/convert_original.py;
# nothing of the original is kept in this repository) and, with
# BENCH_PY_WHEEL, another one with the Python package (both are
# "import dummymp"), then runs bench/runner.py and bench/report.py.
# Progress goes to standard error. Leave the machine idle while it runs.
# Never part of the test suite.
set -euo pipefail

started_ns=$(date +%s%N)
export BENCH_STARTED_NS=$started_ns
cd "$(dirname "$0")/.."

# The original release, pinned by the SHA-256 of its source distribution.
original_requirement="dummymp==0.5b2 --hash=sha256:5811a3a60c6420116bb025a8976e7d0ce315d6015be44b36ba32027242638062"

quick=()
only=""
command_line="bash bench/run.sh"
while (($#)); do
    case "$1" in
        --quick) quick=(--quick); command_line+=" --quick" ;;
        --only)
            [[ $# -ge 2 ]] || { echo "run.sh: --only needs a list of scenarios" >&2; exit 2; }
            only=$2; command_line+=" --only $2"; shift ;;
        --only=*) only=${1#--only=}; command_line+=" --only $only" ;;
        -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (--quick, --only LIST)" >&2; exit 2 ;;
    esac
    shift
done
# "original" stands for every scenario the original takes part in,
# "politeness" for scenario 6 and its parts.
only=${only//original/s1,s3,s4,s5,s6,s7,s9}
only=${only//politeness/s6,s6a,s6b,s6c}
only=${only//python/s9,s10}
only_args=()
report="BENCHMARKS.md"
if [[ -n "$only" ]]; then
    only_args=(--only "$only")
fi

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

# ---- the original: its release from PyPI, converted to Python 3 here
say "creating a throwaway virtual environment with psutil and the original dummymp 0.5b2"
python3 -m venv "$work/venv" >&2
pip=("$work/venv/bin/pip" install -q --disable-pip-version-check)
echo "$original_requirement" >"$work/original-requirements.txt"
original_args=()
if ! "${pip[@]}" psutil >&2; then
    original_args=(--original-skip "psutil, which the original needs, could not be installed")
elif ! "${pip[@]}" --no-deps --require-hashes -r "$work/original-requirements.txt" >&2; then
    original_args=(--original-skip "its release dummymp 0.5b2 could not be installed from PyPI")
elif ! "$work/venv/bin/python" -c 'import lib2to3' 2>/dev/null && ! "${pip[@]}" fissix >&2; then
    original_args=(--original-skip "no 2to3 to convert it: this Python has no lib2to3 and fissix could not be installed")
elif ! "$work/venv/bin/python" bench/python/convert_original.py >"$work/original-conversion.json" 2>"$work/convert.log"; then
    original_args=(--original-skip "its conversion to Python 3 failed: $(tail -n1 "$work/convert.log")")
else
    original_args=(--original-conversion "$work/original-conversion.json")
fi
if [[ ${original_args[0]} == --original-skip ]]; then
    say "the original is left out of this run: ${original_args[1]}"
fi

# ---- the dummymp Python package, when a wheel is given
package_args=()
if [[ -z "${BENCH_PY_WHEEL:-}" ]]; then
    package_args=(--py-package-skip "BENCH_PY_WHEEL was not set to the built wheel of the dummymp Python package")
elif [[ ! -f "$BENCH_PY_WHEEL" ]]; then
    package_args=(--py-package-skip "BENCH_PY_WHEEL names no file ($BENCH_PY_WHEEL)")
else
    wheel=$(cd "$(dirname "$BENCH_PY_WHEEL")" && pwd)/$(basename "$BENCH_PY_WHEEL")
    say "creating a second virtual environment with the Python package from $wheel"
    python3 -m venv "$work/venv-package" >&2
    if ! "$work/venv-package/bin/pip" install -q --disable-pip-version-check "$wheel" >&2; then
        package_args=(--py-package-skip "the wheel $(basename "$wheel") could not be installed")
    elif ! (cd / && "$work/venv-package/bin/python" -c 'import dummymp; dummymp.run; dummymp.process_until_done') 2>"$work/package.log"; then
        package_args=(--py-package-skip "the installed wheel offers no dummymp with the original's API: $(tail -n1 "$work/package.log")")
    else
        package_args=(--py-package-python "$work/venv-package/bin/python" --py-package-wheel "$wheel")
        # Scenario 10 compares the package with joblib too: installed here,
        # at run time, never part of the repository.
        if ! "$work/venv-package/bin/pip" install -q --disable-pip-version-check joblib >&2; then
            package_args+=(--joblib-skip "joblib could not be installed with pip")
        fi
    fi
fi

# ---- run and report
mkdir -p "$target_dir/bench"
results="$target_dir/bench/results.json"
if [[ -n "$only" ]]; then
    results="$target_dir/bench/results-partial.json"
    report="$target_dir/bench/BENCHMARKS-partial.md"
fi
python3 bench/runner.py "${quick[@]}" "${only_args[@]}" --bin "$bin" --python "$work/venv/bin/python" \
    "${original_args[@]}" "${package_args[@]}" \
    "${cli_args[@]}" "${parallel_args[@]}" --loops-file "$loops_file" --out "$results" \
    --command "$command_line"
device_args=()
if [[ -f bench/device-results.json ]]; then
    device_args=(--device bench/device-results.json)
fi
# A full run adds its line to bench/history.jsonl (report.py skips --only
# and --quick runs), for the report's "between full runs" tables.
python3 bench/report.py "$results" "$report" "${device_args[@]}" --history bench/history.jsonl
elapsed=$((($(date +%s%N) - started_ns) / 1000000000))
say "$report written; raw results in $results; run.sh took ${elapsed} s"

#!/usr/bin/env bash
# Runs the benchmark's wide-machine part on a lent machine with 16 CPUs or
# more, in one go and within about 6 minutes: scenario 8 (scenarios 1, 2, 4
# and 6 with N at once, N = the usable CPUs), scenario 1 (2 at a time on
# that machine), 6b (Generous after the load goes) and 6a (load appearing
# while our tasks run), in that order, so that a run cut short loses the
# least. The machine has no network: nothing is built or installed there.
#
#   bash bench/device.sh --prepare   here: release build, stripped copies of the
#                                    binaries it needs in target/device-bin (~8 MB)
#   bash bench/device.sh             there: runs; writes to $OUT (default
#                                    target/bench/device)
#   bash bench/device.sh --quick     fewer rounds and shorter tasks (to try it out)
#   bash bench/device.sh --no-python as on a machine without Python 3 (to try it out)
#   bash bench/device.sh --wide N    N at once even with fewer than 16 CPUs (to try it out)
#
# With Python 3 there it runs bench/runner.py and bench/report.py and writes
# device-results.json (for `report.py --device`) and device-fragment.md.
# Without it, it runs the Rust programs and command-line contenders itself
# (scenarios 1, 2 and 4 with N at once, 1 with 2 at once, and 6b; not 6 and
# 6a, which need the runner's sampling) and writes device-raw.jsonl, which
# `python3 bench/assemble.py` turns into device-results.json on any machine.
# GNU parallel and hyperfine are used when they are there and skipped when
# not; the original DummyMP is never there (it needs the network). Progress
# and every message also go to device.log in the output folder.
set -euo pipefail
cd "$(dirname "$0")/.."

prepare=0
quick=()
use_python=1
wide=()
while (($#)); do
    case "$1" in
        --prepare) prepare=1 ;;
        --quick) quick=(--quick) ;;
        --no-python) use_python=0 ;;
        --wide)
            [[ $# -ge 2 ]] || { echo "device.sh: --wide needs a number" >&2; exit 2; }
            wide=(--wide "$2"); shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "device.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

# The programs the wide part runs.
programs=(dummymp overhead spawn_floor empty cpu_bound burn start_times stamp)

if ((prepare)); then
    cargo build --release -p dummymp-bench -p dummymp-cli >&2
    mkdir -p target/device-bin
    for p in "${programs[@]}"; do
        if command -v strip >/dev/null; then
            strip -o "target/device-bin/$p" "target/release/$p"
        else
            cp "target/release/$p" "target/device-bin/$p"
        fi
    done
    echo "target/device-bin: $(du -sh target/device-bin | cut -f1) (carry this path)" >&2
    exit 0
fi

bin=$(pwd)/${BENCH_BIN:-target/device-bin}
for p in "${programs[@]}"; do
    [[ -x "$bin/$p" ]] || { echo "device.sh: $bin/$p is missing: run bash bench/device.sh --prepare first and carry target/device-bin" >&2; exit 1; }
done
out=${OUT:-target/bench/device}
mkdir -p "$out"
log_file="$out/device.log"
say() { echo "[device.sh $(date +%H:%M:%S)] $*" | tee -a "$log_file" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dummymp-device.XXXXXX")
loops_file="$work/foreign.pids"
: >"$loops_file"
cleanup() {
    # Foreign busy loops left by the runner or by this script (each leads
    # its own session).
    while read -r pid; do
        if [[ -n "$pid" ]]; then
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    done <"$loops_file"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
cpus=$(nproc)
say "$cpus usable CPUs ($(getconf _NPROCESSORS_ONLN) online); binaries from $bin; results to $out"
export PATH="$bin:$PATH"
# The whole measurement must end within this many seconds.
limit=${BENCH_DEVICE_LIMIT:-330}

if ((use_python)) && command -v python3 >/dev/null; then
    say "Python 3 is here: bench/runner.py --only s8,s1,s6b,s6a (at most $limit s)"
    sizes=(--sizes device)
    ((${#quick[@]})) && sizes=(--sizes quick)
    rc=0
    BENCH_IDLE_WAIT=${BENCH_IDLE_WAIT:-10} timeout -s INT -k 15 "$limit" \
        python3 bench/runner.py "${sizes[@]}" "${wide[@]}" --only s8,s1,s6b,s6a --bin "$bin" \
        --python python3 --cli "$bin/dummymp" \
        --original-skip "not on the lent machine (it has no network to install the release)" \
        --py-package-skip "not on the lent machine" \
        --loops-file "$loops_file" --out "$out/device-results.json" --command "bash bench/device.sh" \
        2> >(tee -a "$log_file" >&2) || rc=$?
    if ((rc)); then
        say "the runner ended with status $rc (124 or 130: cut at $limit s); the results keep every finished scenario"
    fi
    if [[ -f "$out/device-results.json" ]]; then
        python3 bench/report.py "$out/device-results.json" "$out/device-fragment.md" --fragment
        say "wrote $out/device-results.json and $out/device-fragment.md after $(($(date +%s) - started)) s"
    else
        say "no scenario finished; nothing to report"
        exit 1
    fi
    exit 0
fi

# ---------------------------------------------------------------- without Python
raw="$out/device-raw.jsonl"
: >"$raw"
say "no Python 3 here (or --no-python): measuring scenarios 1, 2, 4 and 6b without the runner into $raw"
n=$cpus
((${#wide[@]})) && n=${wide[1]}
if ((${#quick[@]})); then
    rounds=2 tasks1=2000 reuse1=20000 tasks2=500 reuse2=5000 jobs=2000 per_cpu=4 seconds=0.25 reps=2
else
    rounds=3 tasks1=8000 reuse1=80000 tasks2=2000 reuse2=20000 jobs=8000 per_cpu=4 seconds=0.5 reps=3
fi

# One JSON string.
js() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}
emit() { printf '%s\n' "$1" >>"$raw"; }
over_time() { (($(date +%s) - started >= limit)); }

# run_bin SCENARIO AT_ONCE ROUND NAME SHOW KIND NOTE PROGRAM ARGS...: a
# program that prints one JSON line.
run_bin() {
    local scenario=$1 w=$2 r=$3 name=$4 show=$5 kind=$6 note=$7 line status=0 head
    shift 7
    say "$scenario ($w at once) round $((r + 1)): $name"
    line=$("$@" 2>>"$work/stderr" </dev/null | grep '^{' | tail -n1) || status=$?
    head="{\"scenario\":$(js "$scenario"),\"at_once\":$w,\"round\":$r,\"name\":$(js "$name"),\"show\":$(js "$show"),\"kind\":$(js "$kind"),\"note\":$(js "$note")"
    if [[ -n "$line" ]]; then
        emit "$head,\"out\":$line}"
    else
        emit "$head,\"error\":$(js "exit $status: $(tail -n1 "$work/stderr" 2>/dev/null)")}"
    fi
}

# time_sh SCENARIO AT_ONCE ROUND NAME KIND COMMAND: a shell command timed
# from outside (nanoseconds).
time_sh() {
    local scenario=$1 w=$2 r=$3 name=$4 kind=$5 cmd=$6 t0 t1 status=0 head
    say "$scenario ($w at once) round $((r + 1)): $name"
    t0=$(date +%s%N)
    bash -c "$cmd" >/dev/null 2>>"$work/stderr" </dev/null || status=$?
    t1=$(date +%s%N)
    head="{\"scenario\":$(js "$scenario"),\"at_once\":$w,\"round\":$r,\"name\":$(js "$name"),\"show\":$(js "$cmd"),\"kind\":$(js "$kind")"
    if ((status == 0)); then
        emit "$head,\"out\":{\"wall_ns\":$((t1 - t0))}}"
    else
        emit "$head,\"error\":$(js "exit $status: $(tail -n1 "$work/stderr")")}"
    fi
}

per_task() { # AT_ONCE TASKS REUSE_TASKS
    local w=$1 t=$2 tr=$3 r i k=4
    for ((r = 0; r < rounds; r++)); do
        for ((i = 0; i < k; i++)); do
            case $(((i + r) % k)) in
                0) run_bin s1 "$w" "$r" "floor: Rust spawns /bin/true" "spawn_floor /bin/true $t $w" floor "" \
                    "$bin/spawn_floor" /bin/true "$t" "$w" ;;
                1) run_bin s1 "$w" "$r" "floor: Rust spawns an empty Rust program" \
                    "spawn_floor target/release/empty $t $w" floor "" "$bin/spawn_floor" "$bin/empty" "$t" "$w" ;;
                2) run_bin s1 "$w" "$r" "dummymp (library), fresh workers" "overhead $t $w fresh" ours "" \
                    "$bin/overhead" "$t" "$w" fresh ;;
                3) run_bin s1 "$w" "$r" "dummymp (library), reused workers" "overhead $tr $w reuse" ours \
                    "$tr tasks" "$bin/overhead" "$tr" "$w" reuse ;;
            esac
        done
    done
}

per_job() { # AT_ONCE
    local w=$1 r i k=3
    for ((r = 0; r < rounds; r++)); do
        for ((i = 0; i < k; i++)); do
            case $(((i + r) % k)) in
                0) time_sh s2 "$w" "$r" "xargs -P$w -n1" peer "seq $jobs | xargs -P$w -n1 true" ;;
                1) time_sh s2 "$w" "$r" "dummymp CLI, nuclear" ours "seq $jobs | dummymp -j$w --priority nuclear true" ;;
                2) time_sh s2 "$w" "$r" "dummymp CLI, normal (default)" ours "seq $jobs | dummymp -j$w true" ;;
            esac
        done
    done
}

efficiency() { # AT_ONCE
    local w=$1 t=$(($1 * per_cpu)) r i k=7 cap=0
    ((cpus > w)) && cap=$w
    for ((r = 0; r < rounds; r++)); do
        for ((i = 0; i < k; i++)); do
            case $(((i + r) % k)) in
                0) run_bin s4 "$w" "$r" "dummymp (library), normal" "cpu_bound normal $t $seconds $cap fresh" ours "" \
                    "$bin/cpu_bound" normal "$t" "$seconds" "$cap" fresh ;;
                1) run_bin s4 "$w" "$r" "dummymp (library), nuclear" "cpu_bound nuclear $t $seconds $cap fresh" ours "" \
                    "$bin/cpu_bound" nuclear "$t" "$seconds" "$cap" fresh ;;
                2) run_bin s4 "$w" "$r" "dummymp (library), normal, reused workers" \
                    "cpu_bound normal $t $seconds $cap reuse" ours "" "$bin/cpu_bound" normal "$t" "$seconds" "$cap" reuse ;;
                3) run_bin s4 "$w" "$r" "dummymp (library), nuclear, reused workers" \
                    "cpu_bound nuclear $t $seconds $cap reuse" ours "" "$bin/cpu_bound" nuclear "$t" "$seconds" "$cap" reuse ;;
                4) time_sh s4 "$w" "$r" "dummymp CLI, normal" ours "seq $t | dummymp -j$w burn $seconds" ;;
                5) time_sh s4 "$w" "$r" "dummymp CLI, nuclear" ours "seq $t | dummymp -j$w --priority nuclear burn $seconds" ;;
                6) time_sh s4 "$w" "$r" "xargs -P$w -n1" peer "seq $t | xargs -P$w -n1 burn $seconds" ;;
            esac
        done
    done
}

start_after_load() { # CPUS
    local w=$1 rep pid pids stopped_ns line head status
    for ((rep = 0; rep < reps; rep++)); do
        over_time && return
        say "s6b repetition $((rep + 1)): dummymp (library), generous"
        pids=()
        for ((i = 0; i < w; i++)); do
            # Started from a subshell, so that this shell does not report
            # their deaths.
            pid=$(setsid sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 & echo $!)
            pids+=("$pid")
            echo "$pid" >>"$loops_file"
        done
        sleep 0.5
        "$bin/start_times" generous "$w" 0.2 >"$work/starts" 2>>"$work/stderr" </dev/null &
        pid=$!
        # 2 s plus a random 0-0.5 s, as the runner does.
        sleep "2.$(printf '%03d' $((RANDOM % 500)))"
        stopped_ns=$("$bin/stamp" 0)
        for p in "${pids[@]}"; do
            kill -KILL -- "-$p" 2>/dev/null || true
        done
        status=0
        wait "$pid" || status=$?
        head="{\"scenario\":\"s6b\",\"at_once\":$w,\"round\":0,\"rep\":$rep,\"name\":\"dummymp (library), generous\",\"show\":\"start_times generous $w 0.2\",\"kind\":\"ours\",\"stopped_ns\":$stopped_ns"
        line=$(grep '^{' "$work/starts" | tail -n1 || true)
        if [[ -n "$line" ]]; then
            emit "$head,\"out\":$line}"
        else
            emit "$head,\"error\":$(js "exit $status: $(tail -n1 "$work/stderr")")}"
        fi
    done
}

emit "{\"scenario\":\"facts\",\"nproc\":$(getconf _NPROCESSORS_ONLN),\"usable_cpus\":$cpus,\"cpu_model\":$(js "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"),\"kernel\":$(js "$(uname -r)"),\"date\":$(js "$(date -u '+%Y-%m-%d %H:%M UTC')"),\"loadavg\":$(js "$(cut -d' ' -f1-3 /proc/loadavg)"),\"xargs\":$(js "$(xargs --version 2>/dev/null | head -n1)"),\"quick\":$((${#quick[@]} > 0)),\"rounds\":$rounds,\"jobs\":$jobs,\"tasks_per_cpu\":$per_cpu,\"seconds\":$seconds,\"tasks\":[$tasks1,$reuse1,$tasks2,$reuse2],\"forced\":$((${#wide[@]} > 0))}"
if ((n >= 16 || ${#wide[@]})); then
    per_task "$n" "$tasks1" "$reuse1"
    over_time || per_job "$n"
    over_time || efficiency "$n"
else
    say "fewer than 16 usable CPUs: no wide variants"
fi
over_time || per_task 2 "$tasks2" "$reuse2"
over_time || start_after_load "$cpus"
say "wrote $raw after $(($(date +%s) - started)) s; turn it into results with: python3 bench/assemble.py $raw device-results.json"

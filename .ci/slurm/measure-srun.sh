#!/usr/bin/env bash
# Measures what one Slurm job step costs on the three-node test cluster:
# the time of `srun -n1 true` outside and inside an allocation, of a job
# and of a step on all three nodes, how many steps a second run back to back
# with two (or six) in flight, the CPU the daemons spend per step, the
# memory and threads of one running srun, and the round trip of a small
# message through `srun -u`. With --node-loss, how long Slurm takes to
# declare a killed node down, and to take it back. Numbers for
# docs/slurm.md; not part of CI.
#
# Usage: measure-srun.sh [ROUNDS]        (default 50; needs start.sh first)
#        measure-srun.sh --node-loss [NODE]   (default node3; as root)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
script_dir=$LIB_DIR
rounds=${1:-50}

# Microseconds since the epoch, from bash itself.
now_us() { echo "${EPOCHREALTIME/./}"; }

# Runs "$@" ROUNDS times, one after another, and prints the median and the
# 90th percentile of the wall time in milliseconds.
time_each() {
    local label=$1 start i
    shift
    local samples=()
    for ((i = 0; i < rounds; i++)); do
        start=$(now_us)
        "$@" >/dev/null
        samples+=($(($(now_us) - start)))
    done
    printf '%s\n' "${samples[@]}" | sort -n | awk -v label="$label" '
        { v[NR] = $1 }
        END { printf "%-44s median %6.1f ms   p90 %6.1f ms   (%d runs)\n",
              label, v[int((NR + 1) / 2)] / 1000, v[int(NR * 0.9)] / 1000, NR }'
}

# Runs ROUNDS steps through LANES lanes that each start the next step as
# soon as their last one ends, and prints steps per second.
in_flight() {
    local lanes=$1 label=$2 start lane
    shift 2
    start=$(now_us)
    for ((lane = 0; lane < lanes; lane++)); do
        (for ((i = 0; i < rounds / lanes; i++)); do "$@" >/dev/null; done) &
    done
    wait
    awk -v label="$label" -v n=$(((rounds / lanes) * lanes)) -v us=$(($(now_us) - start)) \
        'BEGIN { printf "%-44s %6.1f steps/s   (%d steps in %.2f s)\n", label, n / (us / 1e6), n, us / 1e6 }'
}

# CPU seconds (user + system) that process $1 has used so far.
cpu_seconds() {
    awk -v tick="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / tick }' "/proc/$1/stat"
}

# CPU seconds that the processes $@ have used so far, together.
cpu_seconds_of() {
    local pid total=0
    for pid in "$@"; do
        total=$(awk -v a="$total" -v b="$(cpu_seconds "$pid")" 'BEGIN { printf "%.3f", a + b }')
    done
    echo "$total"
}

# Runs "$@" ROUNDS times and prints the CPU time per run spent by the
# controller, by the node daemons (slurmd, the three together), and by the
# srun client itself.
cpu_per_step() {
    local label=$1 ctld slurmds ctld_before slurmd_before i
    shift
    ctld=$(pgrep -o -x slurmctld)
    mapfile -t slurmds < <(pgrep -x slurmd)
    ctld_before=$(cpu_seconds "$ctld") slurmd_before=$(cpu_seconds_of "${slurmds[@]}")
    local TIMEFORMAT='%U %S'
    local client
    client=$({ time (for ((i = 0; i < rounds; i++)); do "$@" >/dev/null; done); } 2>&1 | tail -n1)
    awk -v label="$label" -v n="$rounds" -v c0="$ctld_before" -v c1="$(cpu_seconds "$ctld")" \
        -v d0="$slurmd_before" -v d1="$(cpu_seconds_of "${slurmds[@]}")" -v client="$client" 'BEGIN {
            split(client, t, " ")
            printf "%-44s CPU per step: slurmctld %.1f ms, slurmd %.1f ms, srun+children %.1f ms\n",
                label, (c1 - c0) * 1000 / n, (d1 - d0) * 1000 / n, (t[1] + t[2]) * 1000 / n }'
}

# Prints the memory (proportional and resident), threads and open files of
# one running `srun --exact -n1 -c1 -u` and of the helper process it forks.
srun_footprint() {
    srun --exact -n1 -c1 -u sleep 3 &
    local srun_pid=$! helper_pid field
    # srun forks its helper at start-up; give it a moment (no event to wait on).
    sleep 1
    helper_pid=$(pgrep -P "$srun_pid" -x srun || true)
    for pid in "$srun_pid" $helper_pid; do
        printf '%-44s' "running srun ($( ((pid == srun_pid)) && echo main || echo helper))"
        for field in Pss Rss; do
            printf ' %s %5d kB' "$field" "$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/smaps_rollup")"
        done
        printf '   threads %s   open files %s\n' \
            "$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")" "$(find "/proc/$pid/fd" -mindepth 1 | wc -l)"
    done
    wait "$srun_pid"
}

# Prints the median round trip of a 5-byte message (no newline) sent to a
# step that echoes it back, through `srun -u` (without -u, slurmstepd holds
# output back until a newline, and no round trip completes).
message_round_trip() {
    command -v python3 >/dev/null || { echo "round trip: needs python3"; return; }
    python3 - "$rounds" <<'PYTHON'
import os, select, statistics, subprocess, sys, time
echo = "import os\nwhile b := os.read(0, 5):\n    os.write(1, b)\n"
step = subprocess.Popen(["srun", "--exact", "-n1", "-c1", "-u", "python3", "-c", echo],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
times = []
for i in range(int(sys.argv[1])):
    start = time.perf_counter()
    os.write(step.stdin.fileno(), b"%05d" % i)
    got = b""
    while len(got) < 5:
        if not select.select([step.stdout], [], [], 10)[0]:
            sys.exit("round trip: no answer within 10 s")
        got += os.read(step.stdout.fileno(), 5 - len(got))
    times.append(time.perf_counter() - start)
step.stdin.close()
step.wait()
print(f"{'5-byte round trip through srun -u':44} median {statistics.median(times) * 1e3:6.2f} ms   ({len(times)} messages)")
PYTHON
}

# Prints the seconds since $1 (microseconds since the epoch).
seconds_since() {
    awk -v us=$(($(now_us) - $1)) 'BEGIN { printf "%.1f", us / 1e6 }'
}

# Kills node $1 and prints when sinfo shows it not responding and down
# (polled every 0.2 s), then starts it again and prints when it is idle.
node_loss() {
    local node=$1 killed state last=
    [[ $(node_state "$node") == idle ]] || { echo "node-loss: $node is not idle" >&2; return 1; }
    "$script_dir/kill-node.sh" "$node" >/dev/null
    killed=$(now_us)
    while [[ $last != down* ]]; do
        state=$(node_state "$node")
        if [[ $state != "$last" ]]; then
            printf '%-44s %s s\n' "$node killed: sinfo says ${state:-nothing}" "$(seconds_since "$killed")"
            last=$state
        fi
        (($(now_us) - killed < 120000000)) || { echo "node-loss: $node not down after 120 s" >&2; return 1; }
        sleep 0.2
    done
    killed=$(now_us)
    "$script_dir/start-node.sh" "$node" >/dev/null
    printf '%-44s %s s\n' "$node started again: idle" "$(seconds_since "$killed")"
}

case ${1:-} in
--node-loss)
    node_loss "${2:-node3}"
    ;;
--inside)
    # In salloc -n2 (on one node): each srun is a step of the job.
    rounds=${2:-50}
    time_each "srun --exact -n1 -c1 true (step in salloc -n2)" srun --exact -n1 -c1 true
    time_each "srun --exact -n1 -c1 -u true (same, -u)" srun --exact -n1 -c1 -u true
    in_flight 2 "srun --exact -n1 -c1 true, 2 in flight" srun --exact -n1 -c1 true
    cpu_per_step "srun --exact -n1 -c1 true" srun --exact -n1 -c1 true
    srun_footprint
    message_round_trip
    ;;
--inside-nodes)
    # In salloc -N3 -n6, over every node: -N1, or srun warns that it cannot
    # run 1 process on 3 nodes.
    rounds=${2:-50}
    time_each "srun -N3 -n3 -Q true (step on all 3 nodes)" srun -N3 -n3 -Q true
    time_each "srun -N1 --exact -n1 -c1 true (in -N3 -n6)" srun -N1 --exact -n1 -c1 true
    in_flight 2 "the same, 2 in flight" srun -N1 --exact -n1 -c1 true
    in_flight 6 "the same, 6 in flight (one per CPU)" srun -N1 --exact -n1 -c1 true
    cpu_per_step "srun -N1 --exact -n1 -c1 true" srun -N1 --exact -n1 -c1 true
    ;;
*)
    echo "Slurm $(srun --version | awk '{ print $2 }'), $(sinfo --noheader --format='%D nodes of %c CPUs') on $(nproc) CPUs, $rounds rounds each"
    time_each "local fork+exec: true (baseline)" true
    time_each "srun -n1 true (new job each)" srun -n1 true
    in_flight 2 "srun -n1 true, 2 in flight (new job each)" srun -n1 true
    time_each "srun -N3 -Q hostname (new 3-node job each)" srun -N3 -Q hostname
    salloc --quiet -n2 "$script_dir/measure-srun.sh" --inside "$rounds"
    salloc --quiet -N3 -n6 "$script_dir/measure-srun.sh" --inside-nodes "$rounds"
    ;;
esac

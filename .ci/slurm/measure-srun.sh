#!/usr/bin/env bash
# Measures what one Slurm job step costs on the running cluster: the time
# of `srun -n1 true` outside and inside an allocation, how many steps a
# second run back to back with two in flight, the CPU the daemons spend per
# step, the memory and threads of one running srun, and the round trip of a
# small message through `srun -u`. Numbers for docs/slurm.md; not part of CI.
#
# Usage: measure-srun.sh [ROUNDS]   (default 50; needs start.sh first)
set -euo pipefail

rounds=${1:-50}
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

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

# Runs ROUNDS steps through two lanes that each start the next step as soon
# as their last one ends, and prints steps per second.
two_in_flight() {
    local label=$1 start
    shift
    start=$(now_us)
    for _ in 1 2; do
        (for ((i = 0; i < rounds / 2; i++)); do "$@" >/dev/null; done) &
    done
    wait
    awk -v label="$label" -v n=$(((rounds / 2) * 2)) -v us=$(($(now_us) - start)) \
        'BEGIN { printf "%-44s %6.1f steps/s   (%d steps in %.2f s)\n", label, n / (us / 1e6), n, us / 1e6 }'
}

# CPU seconds (user + system) that process $1 has used so far.
cpu_seconds() {
    awk -v tick="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / tick }' "/proc/$1/stat"
}

# Runs "$@" ROUNDS times and prints the CPU time per run spent by the
# controller, by the node daemon (slurmd), and by the srun client itself.
cpu_per_step() {
    local label=$1 ctld slurmd ctld_before slurmd_before i
    shift
    ctld=$(pgrep -o -x slurmctld) slurmd=$(pgrep -o -x slurmd)
    ctld_before=$(cpu_seconds "$ctld") slurmd_before=$(cpu_seconds "$slurmd")
    local TIMEFORMAT='%U %S'
    local client
    client=$({ time (for ((i = 0; i < rounds; i++)); do "$@" >/dev/null; done); } 2>&1 | tail -n1)
    awk -v label="$label" -v n="$rounds" -v c0="$ctld_before" -v c1="$(cpu_seconds "$ctld")" \
        -v d0="$slurmd_before" -v d1="$(cpu_seconds "$slurmd")" -v client="$client" 'BEGIN {
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

if [[ ${1:-} != --inside ]]; then
    echo "Slurm $(srun --version | awk '{ print $2 }'), $(nproc) CPUs, $rounds rounds each"
    time_each "local fork+exec: true (baseline)" true
    time_each "srun -n1 true (new job each)" srun -n1 true
    two_in_flight "srun -n1 true, 2 in flight (new job each)" srun -n1 true
    # The same inside one allocation: each srun is a step of the job.
    salloc --quiet -n2 "$script_dir/measure-srun.sh" --inside "$rounds"
else
    rounds=${2:-50}
    time_each "srun --exact -n1 -c1 true (step in salloc -n2)" srun --exact -n1 -c1 true
    time_each "srun --exact -n1 -c1 -u true (same, -u)" srun --exact -n1 -c1 -u true
    two_in_flight "srun --exact -n1 -c1 true, 2 in flight" srun --exact -n1 -c1 true
    cpu_per_step "srun --exact -n1 -c1 true" srun --exact -n1 -c1 true
    srun_footprint
    message_round_trip
fi

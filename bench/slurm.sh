#!/usr/bin/env bash
# Slurm scenario, run by hand (never by CI or bench/run.sh): what a tiny
# task costs on the three-node test cluster of .ci/slurm, three ways in the
# same allocation (salloc --nodes=3 --ntasks=6), round after round:
# through reused workers that are long-lived job steps, with a fresh job
# step per task, and as a bare `srun true` (bench/src/bin/slurm_tiny.rs).
# The cluster's nodes share this machine's CPUs, so the figures are read
# as ratios to bare srun measured in the same run, not as absolute times.
#
#   sudo bash .ci/slurm/start.sh && . /var/lib/dummymp-slurm/env
#   bash bench/slurm.sh [TASKS [STEPS [ROUNDS]]]   (defaults 3000, 60, 3)
#
# Writes what it prints to bench/slurm-results.txt (kept in the
# repository, as bench/device-results.json is): the date, the machine and
# its load, the command, one JSON line per round and way, and a summary
# line with the medians and their ratios to bare srun. bench/report.py
# turns it into BENCHMARKS.md's scenario 11 (python3 bench/report_slurm.py
# prints that section alone).
set -euo pipefail
cd "$(dirname "$0")/.."

[[ -n ${SLURM_CONF:-} ]] || {
    echo "slurm.sh: no cluster: start one with .ci/slurm/start.sh and source /var/lib/dummymp-slurm/env" >&2
    exit 2
}
cargo build --quiet --release -p dummymp-bench --bin slurm_tiny
out=bench/slurm-results.txt
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) CPUs, $(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
        "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "cluster: Slurm $(srun --version | awk '{ print $2 }'), $(sinfo --noheader --format='%D nodes of %c CPUs')"
    echo "command: bash bench/slurm.sh $*"
    salloc --quiet --nodes=3 --ntasks=6 --time=30 target/release/slurm_tiny "$@"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"

#!/usr/bin/env bash
# Stops the single-node Slurm cluster that start.sh started, and removes
# what start.sh left behind except the packages (and the logs, for a look
# after a failure).
#
# Cancels every job first, so that no job step outlives the daemons, then
# ends slurmd, slurmctld and (when start.sh started it) munged by their pid
# files. Safe to run when nothing runs, and from a clean clone.
#
# Usage: stop.sh [--quiet]   (--quiet: say nothing when there is nothing to do)
set -euo pipefail

readonly SLURM_DIR="${DUMMYMP_SLURM_DIR:-/var/lib/dummymp-slurm}"
readonly SLURM_CONF=/etc/slurm/slurm.conf
readonly CONF_MARKER="# Written by dummymp's .ci/slurm/start.sh; removed by stop.sh."
# The comment start.sh puts on the /etc/hosts line it adds.
readonly HOSTS_MARKER="# added by dummymp's .ci/slurm/start.sh"
# How long jobs and daemons get to end before they are killed.
readonly GRACE_S=20

quiet=false
[[ ${1:-} == --quiet ]] && quiet=true

say() {
    $quiet || echo "[slurm stop] $*"
}

# Whether process $1 is alive and runs the program named $2 (a pid file can
# outlive its process, and the pid can be reused by another program).
is_running() {
    [[ -r /proc/$1/comm ]] && [[ $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]]
}

# Ends the daemons given as pairs of pid file and program name, together:
# TERM to each, up to GRACE_S seconds for all to exit, then KILL to those
# left. A pair whose file or process is gone is skipped.
stop_daemons() {
    local pids=() names=() pid waited_ds=0 i
    while (($# >= 2)); do
        if [[ -s $1 ]]; then
            pid=$(<"$1")
            if is_running "$pid" "$2"; then
                kill -TERM "$pid"
                pids+=("$pid")
                names+=("$2")
            fi
            rm -f "$1"
        fi
        shift 2
    done
    # The daemons are not our children, so `wait` cannot see them exit:
    # poll /proc every 0.1 s (each takes one or two seconds to shut down).
    for i in "${!pids[@]}"; do
        while is_running "${pids[i]}" "${names[i]}" && ((waited_ds < GRACE_S * 10)); do
            sleep 0.1
            waited_ds=$((waited_ds + 1))
        done
        if is_running "${pids[i]}" "${names[i]}"; then
            say "${names[i]} (${pids[i]}) ignored TERM for ${GRACE_S}s; killing it"
            kill -KILL "${pids[i]}" 2>/dev/null || true
        fi
        say "stopped ${names[i]} (${pids[i]})"
    done
}

our_conf=false
[[ -r $SLURM_CONF ]] && [[ $(head -n1 "$SLURM_CONF") == "$CONF_MARKER" ]] && our_conf=true

# --- 1. Jobs ----------------------------------------------------------------
# slurmstepd outlives slurmd, so cancel every job while the controller still
# answers, and wait until the queue is empty.
if $our_conf && [[ -s $SLURM_DIR/slurmctld.pid ]] &&
    is_running "$(<"$SLURM_DIR/slurmctld.pid")" slurmctld; then
    jobs=$(squeue --noheader --format=%A 2>/dev/null || true)
    if [[ -n $jobs ]]; then
        say "cancelling jobs: ${jobs//$'\n'/ }"
        # shellcheck disable=SC2086 # one job id a word
        scancel $jobs 2>/dev/null || true
        deadline=$(($(date +%s) + GRACE_S))
        while [[ -n $(squeue --noheader --format=%A 2>/dev/null) ]] && (($(date +%s) < deadline)); do
            sleep 0.2
        done
        [[ -z $(squeue --noheader --format=%A 2>/dev/null) ]] ||
            echo "[slurm stop] some jobs did not end within ${GRACE_S}s" >&2
    fi
fi

# --- 2. Daemons ---------------------------------------------------------------
stop_daemons "$SLURM_DIR/slurmd.pid" slurmd "$SLURM_DIR/slurmctld.pid" slurmctld
# munged last: the Slurm daemons may still sign messages while they stop.
if [[ -e $SLURM_DIR/munged-started-here ]]; then
    stop_daemons /run/munge/munged.pid munged
    rm -f "$SLURM_DIR/munged-started-here"
fi

# --- 3. Files -----------------------------------------------------------------
# The config goes, so that a stray srun fails at once instead of waiting for
# a controller that is gone; the state goes; the logs stay.
if $our_conf; then
    rm -f "$SLURM_CONF"
    say "removed $SLURM_CONF"
fi
rm -rf "$SLURM_DIR/ctld-state" "$SLURM_DIR/slurmd-spool"
if grep -qF "$HOSTS_MARKER" /etc/hosts; then
    # /etc/hosts is often a bind mount, which sed -i cannot replace: rewrite
    # it in place.
    kept=$(grep -vF "$HOSTS_MARKER" /etc/hosts)
    printf '%s\n' "$kept" >/etc/hosts
    say "removed our line from /etc/hosts"
fi

#!/usr/bin/env bash
# Stops the three-node Slurm cluster that start.sh started, and removes
# what start.sh made except the packages (and the logs, for a look after a
# failure): jobs, nodes, slurmctld, munged when start.sh started it, the
# namespaces, the bridge, the configuration, the state and the /etc/hosts
# lines.
#
# Every step looks for what it undoes and skips what is not there, so this
# is safe to run when nothing runs, twice, after a start that failed half
# way, and from a clean clone. It also stops a single-node cluster that an
# earlier version of start.sh left running (/etc/slurm/slurm.conf).
#
# Usage: stop.sh [--quiet]   (--quiet: say nothing when there is nothing to do)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# How long jobs and daemons get to end before they are killed.
readonly GRACE_S=20
# The single-node cluster of earlier versions of start.sh.
readonly LEGACY_CONF=/etc/slurm/slurm.conf

quiet=false
[[ ${1:-} == --quiet ]] && quiet=true

say() {
    $quiet || echo "[slurm stop] $*"
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

# Cancels every job of the cluster whose configuration is $1 (its
# controller answering), and waits until the queue is empty: slurmstepd
# outlives slurmd, and a job left in the queue would hold on to it.
cancel_jobs() {
    local jobs deadline
    jobs=$(SLURM_CONF=$1 squeue --noheader --format=%A 2>/dev/null || true)
    [[ -n $jobs ]] || return 0
    say "cancelling jobs: ${jobs//$'\n'/ }"
    # shellcheck disable=SC2086 # one job id a word
    SLURM_CONF=$1 scancel $jobs 2>/dev/null || true
    deadline=$(($(date +%s) + GRACE_S))
    while [[ -n $(SLURM_CONF=$1 squeue --noheader --format=%A 2>/dev/null) ]] && (($(date +%s) < deadline)); do
        sleep 0.2
    done
    [[ -z $(SLURM_CONF=$1 squeue --noheader --format=%A 2>/dev/null) ]] ||
        echo "[slurm stop] some jobs did not end within ${GRACE_S}s" >&2
}

ours() {
    [[ -r $1 ]] && [[ $(head -n1 "$1") == "$CONF_MARKER" ]]
}

controller_running() {
    [[ -s $SLURM_DIR/slurmctld.pid ]] && is_running "$(<"$SLURM_DIR/slurmctld.pid")" slurmctld
}

# --- 1. Jobs ----------------------------------------------------------------
if controller_running; then
    ours "$CLUSTER_CONF" && cancel_jobs "$CLUSTER_CONF"
    ours "$LEGACY_CONF" && cancel_jobs "$LEGACY_CONF"
fi

# --- 2. Nodes and daemons -----------------------------------------------------
# A node is killed outright (its processes have nothing to save), then the
# controller and, last, munged: the Slurm daemons may still sign messages
# while they stop.
for node in "${NODES[@]}"; do
    if node_alive "$node"; then
        kill_node "$node"
        say "stopped $node"
    fi
    rm -f "$SLURM_DIR/$node/init.pid" "$SLURM_DIR/$node/unshare.pid"
done
stop_daemons "$SLURM_DIR/slurmd.pid" slurmd "$SLURM_DIR/slurmctld.pid" slurmctld
if [[ -e $SLURM_DIR/munged-started-here ]]; then
    stop_daemons /run/munge/munged.pid munged
    rm -f "$SLURM_DIR/munged-started-here"
fi

# --- 3. Network ---------------------------------------------------------------
# Deleting a namespace deletes the veth end inside it, and with it the pair.
for node in "${NODES[@]}"; do
    netns=$(node_netns "$node")
    if [[ -e /run/netns/$netns ]]; then
        ip netns delete "$netns"
        say "deleted network namespace $netns"
    fi
    # A veth left without its namespace (a start that failed half way). Gone
    # already, or going, when the namespace is deleted: not an error.
    ip link delete "$(node_veth "$node")" 2>/dev/null || true
done
if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link delete "$BRIDGE"
    say "deleted bridge $BRIDGE"
fi

# --- 4. Files -----------------------------------------------------------------
# The configuration goes, so that a stray client fails at once instead of
# waiting for a controller that is gone; the state goes; the logs stay.
for file in "$ENV_FILE" "$CLUSTER_CONF" "$LEGACY_CONF"; do
    if ours "$file"; then
        rm -f "$file"
        say "removed $file"
    fi
done
rm -rf "$SLURM_DIR/ctld-state" "$SLURM_DIR/slurmd-spool" "$SLURM_DIR"/node*/spool
if grep -qF "$HOSTS_MARKER" /etc/hosts; then
    # /etc/hosts is often a bind mount, which sed -i cannot replace: rewrite
    # it in place.
    kept=$(grep -vF "$HOSTS_MARKER" /etc/hosts)
    printf '%s\n' "$kept" >/etc/hosts
    say "removed our lines from /etc/hosts"
fi

#!/usr/bin/env bash
# Installs (when missing) and starts a three-node Slurm cluster on this one
# machine, for the tests of dummymp's Slurm launcher. lib.sh describes its
# layout: slurmctld in the host's namespaces, and node1..node3 each a slurmd
# in network, UTS, mount and PID namespaces of its own, on a bridge with
# private addresses.
#
# Made for CI: a fresh Debian 12 machine, run as root, with no systemd and a
# policy-rc.d that blocks service starts, so every daemon is started here by
# hand. Safe to run again: a cluster started by this script is stopped
# first and started afresh with empty state. Stop it with stop.sh.
#
# Clients reach the cluster through SLURM_CONF: after this script,
#
#     . /var/lib/dummymp-slurm/env    # ($DUMMYMP_SLURM_DIR/env)
#
# exports it, DUMMYMP_SLURM_NODES (the node names) and DUMMYMP_SLURM_DIR
# (this directory, for kill-node.sh and start-node.sh). /etc/slurm is not
# touched. kill-node.sh NODE kills a node; start-node.sh NODE brings it back.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# How Slurm counts what a job uses: CPUs only by default; CR_CPU_Memory makes
# memory a consumable resource too, as on most production clusters.
readonly SELECT_TYPE_PARAMETERS="${DUMMYMP_SLURM_SELECT_TYPE_PARAMETERS:-CR_CPU}"
# How long to wait for the nodes to come up before giving up.
readonly READY_TIMEOUT_S=60

started_us=$(now_us)

# Prints a step's name and the seconds since this script began.
log() {
    local elapsed_ms=$((($(now_us) - started_us) / 1000))
    printf '[slurm start %3d.%03ds] %s\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) "$*"
}

# Fails the script with a message on stderr.
die() {
    echo "slurm start: $*" >&2
    exit 1
}

# Prints what the daemons logged, for a start that failed.
show_logs() {
    local file
    sinfo >&2 || true
    for file in "$SLURM_DIR"/slurmctld.log "$SLURM_DIR"/node*/slurmd.log "$SLURM_DIR"/node*/init.out; do
        [[ -s $file ]] && { echo "--- $file (last 20 lines)" && tail -n 20 "$file"; } >&2
    done
    return 0
}

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages, starts daemons and makes namespaces)"

# --- 1. Packages -------------------------------------------------------------
# Debian 12 ships Slurm 22.05. Recommends are left out: they pull in every
# plugin's -dev package and triple the install time. iproute2 gives `ip`,
# util-linux `unshare` and `nsenter`.
missing=()
for package in slurmctld slurmd slurm-client munge iproute2 util-linux; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$package")
done
if ((${#missing[@]} > 0)); then
    echo "[slurm start] installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
log "packages ready"

# --- 2. A clean slate ---------------------------------------------------------
# Running start twice restarts the cluster with empty state (and empty logs:
# stop.sh keeps them until the next start).
"$LIB_DIR/stop.sh" --quiet
rm -rf "$SLURM_DIR"
mkdir -p "$SLURM_DIR/ctld-state"

# --- 3. The network -------------------------------------------------------------
# A bridge in the host's namespace, and for each node a network namespace
# joined to it by a veth pair: the node's end is its eth0, at $SUBNET.1N.
if ip -4 addr show | grep -qF " $SUBNET." || [[ -n $(ip -4 route show "$SUBNET.0/24") ]]; then
    die "$SUBNET.0/24 is already in use on this machine; choose another with DUMMYMP_SLURM_SUBNET"
fi
ip link add "$BRIDGE" type bridge
ip addr add "$BRIDGE_ADDRESS/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
for node in "${NODES[@]}"; do
    netns=$(node_netns "$node") veth=$(node_veth "$node")
    ip netns add "$netns"
    ip link add "$veth" type veth peer name eth0 netns "$netns"
    ip link set "$veth" master "$BRIDGE" up
    ip -n "$netns" addr add "$(node_address "$node")/24" dev eth0
    ip -n "$netns" link set eth0 up
    ip -n "$netns" link set lo up
done
log "network ready: $BRIDGE at $BRIDGE_ADDRESS, ${NODES[*]} at $(node_address "${NODES[0]}")..."

# --- 4. Host names ----------------------------------------------------------------
# The daemons look up their host names; when one does not resolve they exit
# 0 after daemonizing and then fail silently. The nodes' names resolve to
# their addresses for every namespace (they share /etc/hosts).
host=$(hostname -s)
{
    getent hosts "$host" >/dev/null || echo "127.0.0.1 $host $HOSTS_MARKER"
    for node in "${NODES[@]}"; do
        echo "$(node_address "$node") $node $HOSTS_MARKER"
    done
} >>/etc/hosts

# --- 5. Munge -----------------------------------------------------------------
# Slurm authenticates every message with munge, which needs a shared key
# (the package usually creates one) and a running munged. Its socket is a
# path, so the one munged serves every node's namespace.
if [[ ! -s /etc/munge/munge.key ]]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    log "created the munge key"
fi
install -d -o munge -g munge -m 0755 /run/munge
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "munged already running"
else
    runuser -u munge -- /usr/sbin/munged </dev/null >>"$SLURM_DIR/munged.out" 2>&1
    # Remember that munged is ours, so that stop.sh stops it and only it.
    touch "$SLURM_DIR/munged-started-here"
    munge -n | unmunge >/dev/null || die "munged started but does not answer"
    log "munged started"
fi

# --- 6. slurm.conf --------------------------------------------------------------
# Every node is given this machine's CPUs: the three share them, as jobs on
# a shared cluster share a node's. Memory is split three ways.
cpus=$(nproc)
# From /proc: `free` (procps) is not on every minimal image.
memory_mb=$(awk -v n=${#NODES[@]} '/^MemTotal:/ { print int($2 / 1024 / n) }' /proc/meminfo)
{
    cat <<EOF
$CONF_MARKER
# A three-node cluster on one machine for dummymp's CI (see lib.sh): every
# daemon runs as root, no accounting, no cgroups.
ClusterName=dummymp-ci
SlurmctldHost=$host($BRIDGE_ADDRESS)
SlurmctldPort=$CONTROLLER_PORT
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# Plain process tracking and no task binding: works in containers without
# cgroups, which is what CI machines are.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# Hand out single CPUs, not whole cores or nodes, so that steps can share
# a node.
SelectType=select/cons_tres
SelectTypeParameters=$SELECT_TYPE_PARAMETERS
SchedulerParameters=batch_sched_delay=0
# Take the nodes' sizes from this file, whatever the hardware probe finds.
SlurmdParameters=config_overrides
# A node that was down (say, killed and started again) comes back by itself.
ReturnToService=2
# A node that stops answering is declared down after 20 s (300 by default),
# so that tests of lost nodes fit in CI's time.
SlurmdTimeout=20
StateSaveLocation=$SLURM_DIR/ctld-state
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
# %n, the node's name, keeps the nodes' files apart.
SlurmdSpoolDir=$SLURM_DIR/%n/spool
SlurmdPidFile=$SLURM_DIR/%n/slurmd.pid
SlurmdLogFile=$SLURM_DIR/%n/slurmd.log
EOF
    for node in "${NODES[@]}"; do
        echo "NodeName=$node NodeAddr=$(node_address "$node") NodeHostname=$node" \
            "CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=$(IFS=, && echo "${NODES[*]}") Default=YES MaxTime=7-00:00:00 State=UP"
} >"$CLUSTER_CONF"
log "wrote $CLUSTER_CONF: ${NODES[*]}, each $cpus CPUs and $memory_mb MB, $SELECT_TYPE_PARAMETERS"

# --- 7. The daemons -------------------------------------------------------------
# The controller daemonizes and writes its pid file; -c starts it without
# any saved state. Its standard streams must be open but must not be ours:
# a daemon started with stdin closed loses its log file and fails every
# task launch, and one that inherits our stdout keeps the caller's pipe
# open.
slurmctld -c </dev/null >>"$SLURM_DIR/slurmctld.out" 2>&1 ||
    die "slurmctld did not start: $(cat "$SLURM_DIR/slurmctld.out")"
for node in "${NODES[@]}"; do
    start_node "$node" || { show_logs; die "node $node did not start"; }
done
log "slurmctld and ${#NODES[@]} slurmd started"

# --- 8. Ready? ------------------------------------------------------------------
# There is no event to wait on: poll until every node is idle and a job
# step runs on each, or give up after READY_TIMEOUT_S.
deadline=$(($(date +%s) + READY_TIMEOUT_S))
# Waits until sinfo shows every node idle.
wait_for_idle_nodes() {
    until [[ $(sinfo --noheader --format=%T 2>/dev/null | sort -u) == idle ]] &&
        [[ $(sinfo --noheader --format=%D 2>/dev/null) == "${#NODES[@]}" ]]; do
        if (($(date +%s) >= deadline)); then
            show_logs
            die "the nodes were not all idle within ${READY_TIMEOUT_S}s"
        fi
        sleep 0.1
    done
}
wait_for_idle_nodes
log "${#NODES[@]} nodes idle"
until names=$(timeout 10 srun --nodes=${#NODES[@]} hostname </dev/null 2>>"$SLURM_DIR/start-srun.err") &&
    [[ $(sort -u <<<"$names" | wc -l) == "${#NODES[@]}" ]]; do
    if (($(date +%s) >= deadline)); then
        echo "srun --nodes=${#NODES[@]} hostname printed: ${names:-nothing}" >&2
        cat "$SLURM_DIR/start-srun.err" >&2
        show_logs
        die "no job ran on all ${#NODES[@]} nodes within ${READY_TIMEOUT_S}s"
    fi
    sleep 0.1
done
log "a job ran on $(sort -u <<<"$names" | tr '\n' ' ')"
# The job's end reaches every node a moment later: hand over idle nodes.
wait_for_idle_nodes

# --- 9. For clients ---------------------------------------------------------------
cat >"$ENV_FILE" <<EOF
$CONF_MARKER
# Source this to use dummymp's test cluster.
export SLURM_CONF=$CLUSTER_CONF
export DUMMYMP_SLURM_NODES="${NODES[*]}"
export DUMMYMP_SLURM_DIR=$SLURM_DIR
EOF
log "cluster ready: $(sinfo --noheader --format='%P %D nodes (%N), %c CPUs each, %T'); clients: . $ENV_FILE"

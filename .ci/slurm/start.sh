#!/usr/bin/env bash
# Installs (when missing) and starts a single-node Slurm cluster on this
# machine, for the tests of dummymp's Slurm launcher.
#
# Made for CI: a fresh Debian 12 machine, run as root, with no systemd and a
# policy-rc.d that blocks service starts, so every daemon is started here by
# hand. Safe to run again: a running cluster started by this script is
# stopped first and started afresh with empty state. Stop it with stop.sh.
#
# Writes /etc/slurm/slurm.conf (refuses to replace one this script did not
# write) and keeps its state, pid files and logs in $DUMMYMP_SLURM_DIR.
set -euo pipefail

# Where the cluster keeps its state, pid files and logs; stop.sh reads it too.
readonly SLURM_DIR="${DUMMYMP_SLURM_DIR:-/var/lib/dummymp-slurm}"
readonly SLURM_CONF=/etc/slurm/slurm.conf
# The first line of every config this script writes: how stop.sh and a later
# start recognise it as ours.
readonly CONF_MARKER="# Written by dummymp's .ci/slurm/start.sh; removed by stop.sh."
# How Slurm counts what a job uses: CPUs only by default; CR_CPU_Memory makes
# memory a consumable resource too, as on most production clusters.
readonly SELECT_TYPE_PARAMETERS="${DUMMYMP_SLURM_SELECT_TYPE_PARAMETERS:-CR_CPU}"
# How long to wait for the node to come up before giving up.
readonly READY_TIMEOUT_S=60

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Microseconds since the epoch, from bash itself.
now_us() { echo "${EPOCHREALTIME/./}"; }
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

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts daemons)"

# --- 1. Packages -------------------------------------------------------------
# Debian 12 ships Slurm 22.05. Recommends are left out: they pull in every
# plugin's -dev package and triple the install time.
missing=()
for package in slurmctld slurmd slurm-client munge; do
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
# Running start twice restarts the cluster with empty state.
"$script_dir/stop.sh" --quiet

if [[ -e $SLURM_CONF ]] && [[ $(head -n1 "$SLURM_CONF") != "$CONF_MARKER" ]]; then
    die "$SLURM_CONF exists and was not written by this script; not replacing it"
fi
rm -rf "$SLURM_DIR"
mkdir -p "$SLURM_DIR/ctld-state" "$SLURM_DIR/slurmd-spool"

# --- 3. The host name ---------------------------------------------------------
# Both daemons look up the short host name; when it does not resolve they
# exit 0 after daemonizing and then fail silently, so make sure it resolves.
host=$(hostname -s)
if ! getent hosts "$host" >/dev/null; then
    echo "127.0.0.1 $host # added by dummymp's .ci/slurm/start.sh" >>/etc/hosts
    log "added $host to /etc/hosts"
fi

# --- 4. Munge -----------------------------------------------------------------
# Slurm authenticates every message with munge, which needs a shared key
# (the package usually creates one) and a running munged.
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

# --- 5. slurm.conf --------------------------------------------------------------
cpus=$(nproc)
# From /proc: `free` (procps) is not on every minimal image.
memory_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
cat >"$SLURM_CONF" <<EOF
$CONF_MARKER
# A single-node cluster for dummymp's CI: every daemon runs as root on
# $host, no accounting, no cgroups.
ClusterName=dummymp-ci
SlurmctldHost=$host
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
# the node.
SelectType=select/cons_tres
SelectTypeParameters=$SELECT_TYPE_PARAMETERS
SchedulerParameters=batch_sched_delay=0
# Take the node's size from this file, whatever the hardware probe finds.
SlurmdParameters=config_overrides
# A node that was down (say, slurmd restarted) comes back by itself.
ReturnToService=2
StateSaveLocation=$SLURM_DIR/ctld-state
SlurmdSpoolDir=$SLURM_DIR/slurmd-spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=7-00:00:00 State=UP
EOF
log "wrote $SLURM_CONF: $host, $cpus CPUs, $memory_mb MB, $SELECT_TYPE_PARAMETERS"

# --- 6. The daemons -------------------------------------------------------------
# Both daemonize and write their pid files; -c starts the controller without
# any saved state. Their standard streams must be open but must not be ours:
# a daemon started with stdin closed loses its log file and fails every task
# launch, and one that inherits our stdout keeps the caller's pipe open.
slurmctld -c </dev/null >>"$SLURM_DIR/slurmctld.out" 2>&1 ||
    die "slurmctld did not start: $(cat "$SLURM_DIR/slurmctld.out")"
slurmd </dev/null >>"$SLURM_DIR/slurmd.out" 2>&1 ||
    die "slurmd did not start: $(cat "$SLURM_DIR/slurmd.out")"
log "slurmctld and slurmd started"

# --- 7. Ready? ------------------------------------------------------------------
# There is no event to wait on: poll until the node is idle and a job step
# really runs, or give up after READY_TIMEOUT_S.
deadline=$(($(date +%s) + READY_TIMEOUT_S))
until [[ $(sinfo --noheader --nodes="$host" --format=%T 2>/dev/null) == idle ]] &&
    timeout 10 srun --nodes=1 --ntasks=1 true </dev/null 2>/dev/null; do
    if (($(date +%s) >= deadline)); then
        echo "slurm start: the node did not come up within ${READY_TIMEOUT_S}s" >&2
        sinfo >&2 || true
        tail -n 20 "$SLURM_DIR/slurmctld.log" "$SLURM_DIR/slurmd.log" >&2 || true
        exit 1
    fi
    sleep 0.2
done
log "cluster ready: $(sinfo --noheader --format='%P %D node(s) %c CPUs %T')"

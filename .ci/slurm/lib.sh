# shellcheck shell=bash disable=SC2034 # the constants are used by the scripts that source this
# Shared by the scripts of .ci/slurm/ (sourced, not run): where the
# three-node test cluster keeps its files, the names and addresses of its
# nodes, and the steps that start and stop one node.
#
# The cluster, all on this machine:
#
#   host namespace:  slurmctld, munged, the bridge $BRIDGE at $SUBNET.1
#   node1..node3:    each a slurmd in network, UTS, mount and PID
#                    namespaces of its own: its own host name, its own
#                    address $SUBNET.1N on the bridge (a veth pair), its
#                    own /proc; PID 1 of its PID namespace is node-init.sh,
#                    which runs slurmd and reaps the processes re-parented
#                    to it, and whose death is the node's death.
#
# Every name and address below belongs to this cluster alone; stop.sh
# removes them all.

# Where the cluster keeps its configuration, state, pid files and logs.
readonly SLURM_DIR="${DUMMYMP_SLURM_DIR:-/var/lib/dummymp-slurm}"
# The configuration every daemon and client of this cluster reads; clients
# find it through SLURM_CONF (see the env file), so /etc/slurm is left alone.
readonly CLUSTER_CONF="$SLURM_DIR/slurm.conf"
# What a shell or a test sources to use the cluster (written by start.sh).
readonly ENV_FILE="$SLURM_DIR/env"
# The first line of every file this cluster's scripts write.
readonly CONF_MARKER="# Written by dummymp's .ci/slurm/start.sh; removed by stop.sh."
# The comment on the lines start.sh adds to /etc/hosts.
readonly HOSTS_MARKER="# added by dummymp's .ci/slurm/start.sh"
# The first three bytes of the cluster's private addresses (a /24 that must
# not be in use on this machine; start.sh checks).
readonly SUBNET="${DUMMYMP_SLURM_SUBNET:-10.213.47}"
readonly BRIDGE=dummymp-br0
readonly BRIDGE_ADDRESS="$SUBNET.1"
# Not 6817: a client that reads another slurm.conf (say /etc/slurm's) can
# never reach this controller by mistake, nor this cluster's clients another.
readonly CONTROLLER_PORT="${DUMMYMP_SLURM_PORT:-6917}"
readonly NODES=(node1 node2 node3)
# What the other scripts of .ci/slurm/ are run from.
LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly LIB_DIR

# Every client the scripts run reads this cluster's configuration.
export SLURM_CONF="$CLUSTER_CONF"

# The node's address: node2 is $SUBNET.12.
node_address() {
    echo "$SUBNET.1${1#node}"
}

# The node's network namespace, as `ip netns` names it (under /run/netns).
node_netns() {
    echo "dummymp-$1"
}

# The host's end of the node's veth pair (at most 15 characters).
node_veth() {
    echo "dmp-$1"
}

# Microseconds since the epoch, from bash itself.
now_us() { echo "${EPOCHREALTIME/./}"; }

# Whether process $1 is alive and runs the program named $2 (a pid file can
# outlive its process, and the pid can be reused by another program). A
# zombie is not alive: the daemons and nodes are not our children, and the
# process that reaps them may take its time.
is_running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    # pid (comm) state ...: comm may hold spaces and parentheses.
    [[ ${stat##*) } != Z* ]] && [[ $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]]
}

# Whether the node's PID 1 still runs: the process of its init.pid must
# be node-init.sh for this node (the pid of a node that died may have been
# reused by another bash since).
node_alive() {
    local pid_file="$SLURM_DIR/$1/init.pid" pid
    [[ -s $pid_file ]] || return 1
    pid=$(<"$pid_file")
    is_running "$pid" bash &&
        [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"/node-init.sh $1 " ]]
}

# Starts node $1's slurmd in namespaces of its own (the network namespace
# must exist), and records the host's pid of the node's PID 1 in
# $SLURM_DIR/NODE/init.pid. Returns once that process runs; whether slurmd
# comes up is for the caller to wait for.
#
# `nsenter --net`, not `ip netns exec`: the latter remounts /sys in a mount
# namespace of its own, where /sys/fs/cgroup is missing and slurmd fails
# ("Unable to initialize cgroup plugin"). unshare then gives the node its
# host name (UTS), its own /proc (mount + PID namespace: load measured on
# the node sees the node's processes only), and with --kill-child a node
# whose unshare is killed dies with it.
start_node() {
    local node=$1 unshare_pid init_pid deadline children
    # slurmd makes its spool directory itself, but too late for the socket
    # it opens there at start.
    mkdir -p "$SLURM_DIR/$node/spool"
    setsid nsenter --net="/run/netns/$(node_netns "$node")" -- \
        unshare --uts --mount --pid --fork --mount-proc --kill-child -- \
        bash "$LIB_DIR/node-init.sh" "$node" \
        </dev/null >>"$SLURM_DIR/$node/init.out" 2>&1 &
    unshare_pid=$!
    # unshare forks the node's PID 1 at once, which then runs node-init.sh
    # (it may have other children for a moment before); no event says when.
    deadline=$(($(now_us) + 10000000))
    while true; do
        children=()
        read -r -a children 2>/dev/null <"/proc/$unshare_pid/task/$unshare_pid/children" || true
        for init_pid in "${children[@]}"; do
            echo "$init_pid" >"$SLURM_DIR/$node/init.pid"
            if node_alive "$node"; then
                echo "$unshare_pid" >"$SLURM_DIR/$node/unshare.pid"
                return 0
            fi
        done
        if ! kill -0 "$unshare_pid" 2>/dev/null || (($(now_us) > deadline)); then
            rm -f "$SLURM_DIR/$node/init.pid"
            echo "slurm: node $node did not start: $(cat "$SLURM_DIR/$node/init.out")" >&2
            return 1
        fi
        sleep 0.01
    done
}

# Kills node $1: SIGKILL to its PID 1, which the kernel answers by killing
# every process of the node's PID namespace (slurmd, slurmstepd, the
# tasks), as if the machine had lost power. Waits until they are gone.
kill_node() {
    local node=$1 init_pid unshare_pid
    [[ -s $SLURM_DIR/$node/init.pid ]] || return 0
    init_pid=$(<"$SLURM_DIR/$node/init.pid")
    unshare_pid=$(cat "$SLURM_DIR/$node/unshare.pid" 2>/dev/null || true)
    if node_alive "$node"; then
        kill -KILL "$init_pid"
    else
        unshare_pid=
    fi
    # unshare exits once its child (the node's PID 1) is gone, and that
    # happens once every process of the namespace is gone.
    if [[ -n $unshare_pid ]]; then
        local waited_cs=0
        while is_running "$unshare_pid" unshare && ((waited_cs < 1000)); do
            sleep 0.01
            waited_cs=$((waited_cs + 1))
        done
        is_running "$unshare_pid" unshare && kill -KILL "$unshare_pid" 2>/dev/null
    fi
    rm -f "$SLURM_DIR/$node/init.pid" "$SLURM_DIR/$node/unshare.pid"
}

# Prints the node's state as sinfo gives it (idle, down*, ...), or nothing.
node_state() {
    sinfo --noheader --nodes="$1" --format=%T 2>/dev/null || true
}

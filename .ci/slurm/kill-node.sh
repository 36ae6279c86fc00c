#!/usr/bin/env bash
# Kills one node of the test cluster as a power cut would: SIGKILL to the
# node's PID 1, and with it every process on the node (slurmd, slurmstepd,
# the tasks). Returns once they are gone; Slurm notices by itself, within
# SlurmdTimeout (20 s) and its next ping. start-node.sh brings it back.
#
# Usage: kill-node.sh NODE   (node1, node2 or node3; as root)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

node=${1:?usage: kill-node.sh NODE}
[[ " ${NODES[*]} " == *" $node "* ]] || { echo "kill-node: no node $node (${NODES[*]})" >&2; exit 2; }
node_alive "$node" || { echo "kill-node: $node is not running" >&2; exit 1; }
kill_node "$node"
echo "[slurm] killed $node"

#!/usr/bin/env bash
# Starts again a node of the test cluster that kill-node.sh killed (or that
# died), and waits until Slurm sees it idle: slurm.conf's ReturnToService=2
# makes a down node available again when its slurmd registers.
#
# Usage: start-node.sh NODE   (node1, node2 or node3; as root)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# How long the node may take to be idle again.
readonly READY_TIMEOUT_S=60

node=${1:?usage: start-node.sh NODE}
[[ " ${NODES[*]} " == *" $node "* ]] || { echo "start-node: no node $node (${NODES[*]})" >&2; exit 2; }
node_alive "$node" && { echo "start-node: $node is already running" >&2; exit 1; }
[[ -e /run/netns/$(node_netns "$node") ]] || { echo "start-node: the cluster is not running (start.sh)" >&2; exit 1; }
start_node "$node"
deadline=$(($(date +%s) + READY_TIMEOUT_S))
until [[ $(node_state "$node") == idle ]]; do
    if (($(date +%s) >= deadline)); then
        echo "start-node: $node is $(node_state "$node"), not idle, after ${READY_TIMEOUT_S}s" >&2
        tail -n 20 "$SLURM_DIR/$node/slurmd.log" "$SLURM_DIR/$node/init.out" >&2 || true
        exit 1
    fi
    sleep 0.1
done
echo "[slurm] $node is back (idle)"

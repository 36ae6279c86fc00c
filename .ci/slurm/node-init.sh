#!/usr/bin/env bash
# PID 1 of one node of the test cluster (started by lib.sh's start_node
# inside the node's namespaces; not to be run by hand).
#
# Gives the node its host name and runs its slurmd in the foreground. Every
# slurmstepd that slurmd starts is re-parented to this process, which must
# therefore reap them: bash collects every child that exits, its own or
# adopted, while it waits. When slurmd exits, so does this, and the kernel
# then kills whatever was left in the node: the node is down. Killing this
# process (from the host: kill-node.sh) does the same at once.
#
# Usage: node-init.sh NODE
set -u

node=$1
hostname "$node"
echo "node $node: PID $$ in its namespace, slurmd starting"
# stdin open on /dev/null: a slurmd started with it closed loses its log.
slurmd -D -N "$node" </dev/null &
slurmd_pid=$!
# TERM (from inside the node; the host can only KILL a namespace's PID 1)
# asks slurmd to stop.
trap 'kill -TERM "$slurmd_pid" 2>/dev/null' TERM INT
# `wait` returns when slurmd exits or a trapped signal arrives.
status=0
while kill -0 "$slurmd_pid" 2>/dev/null; do
    wait "$slurmd_pid"
    status=$?
done
echo "node $node: slurmd exited with status $status; the node goes down"
exit "$status"

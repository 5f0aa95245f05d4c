#!/bin/sh
# Mounts a BPF filesystem at /sys/fs/bpf in every node of a kind cluster.
#
#   deploy/kind/mount-bpffs.sh [CLUSTER]      (default CLUSTER: socklb)
#
# Why: the socklb agent pins its maps and links under /sys/fs/bpf/socklb on
# the node, and is not privileged, so it does not mount a bpffs itself (a
# mount that outlives the pod needs Bidirectional propagation, which only
# privileged containers may have). On a real node systemd mounts /sys/fs/bpf
# at boot; a kind node is a container, where systemd skips that mount. Each
# node gets its own bpffs instance, so the agents of different nodes (one
# kernel) never share pins. Run it after `kind create cluster` and after a
# node container restarts; it leaves a node that has one alone.
set -eu

cluster=${1:-socklb}
nodes=$(kind get nodes --name "$cluster")
if [ -z "$nodes" ]; then
	echo "mount-bpffs: no nodes in kind cluster '$cluster'" >&2
	exit 1
fi
for node in $nodes; do
	docker exec "$node" sh -c '
		if [ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ]; then
			echo "$(hostname): /sys/fs/bpf is already a bpffs"
		else
			mount -t bpf -o mode=0700 bpf /sys/fs/bpf &&
				echo "$(hostname): mounted a bpffs at /sys/fs/bpf"
		fi'
done

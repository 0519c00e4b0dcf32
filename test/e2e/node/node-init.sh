#!/usr/bin/env bash
# PID 1 of a node. Runs inside the node's own network, mount, PID and UTS namespaces and plays
# the host's boot: private mounts over the standard paths (disk survives, /run is fresh), then
# containerd and the kubelet, each supervised the way systemd's Restart=always would.
# Usage (by cluster.sh): node-init.sh NODE DISK_DIR NODE_BIN_DIR CGROUP_ROOT
set -uo pipefail
node=$1 disk=$2 node_bin=$3 cgroup_root=$4
export PATH=$node_bin:$PATH

mount --make-rprivate /
for d in etc/kubernetes etc/containerd etc/cni/net.d etc/default var/lib/kubelet \
  var/lib/containerd var/lib/etcd var/log opt/yurt; do
  mkdir -p "/$d" "$disk/$d"
  mount --bind "$disk/$d" "/$d"
done
mount -t tmpfs -o mode=755 tmpfs /run       # a reboot wipes /run, as on a real host
mkdir -p /run/lock
hostname "$node"
echo "$$" >/run/init.pid

log() { printf '[node-init %s] %s\n' "$(date +%T)" "$*" >>/var/log/node-init.log; }
log "boot $node"

# cgroup v1: each kubelet needs its own cgroup root, present in every hierarchy (cpuset needs its
# cpus/mems copied down or nothing can join it).
for h in /sys/fs/cgroup/*/; do
  [[ -d $h ]] || continue
  mkdir -p "$h$cgroup_root" 2>/dev/null || true
done
if [[ -f /sys/fs/cgroup/cpuset/cpuset.cpus ]]; then
  cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset$cgroup_root/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset$cgroup_root/cpuset.mems"
fi

start_containerd() {
  containerd --config /etc/containerd/config.toml >>/var/log/containerd.log 2>&1 &
  echo $! >/run/containerd.pid
}

# Starts the kubelet as kubeadm's systemd drop-in (10-kubeadm.conf) does, once kubeadm has
# written its configuration. `systemctl stop kubelet` (our shim) leaves /run/kubelet.stopped.
start_kubelet() {
  [[ -f /var/lib/kubelet/config.yaml && ! -f /run/kubelet.stopped ]] || return 0
  local KUBELET_KUBEADM_ARGS="" KUBELET_EXTRA_ARGS=""
  # shellcheck disable=SC1091
  [[ -f /var/lib/kubelet/kubeadm-flags.env ]] && source /var/lib/kubelet/kubeadm-flags.env
  # shellcheck disable=SC1091
  [[ -f /etc/default/kubelet ]] && source /etc/default/kubelet
  # shellcheck disable=SC2086
  kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \
    --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml \
    $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS >>/var/log/kubelet.log 2>&1 &
  echo $! >/run/kubelet.pid
  log "kubelet started (pid $!)"
}

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

trap 'log "shutdown"; kill $(cat /run/kubelet.pid /run/containerd.pid 2>/dev/null) 2>/dev/null; exit 0' TERM INT

start_containerd
while :; do
  if ! alive /run/containerd.pid; then
    log "containerd not running: (re)starting"
    start_containerd
  fi
  if ! alive /run/kubelet.pid && [[ -S /run/containerd/containerd.sock ]]; then
    start_kubelet
  fi
  sleep 1 &
  wait $! 2>/dev/null   # also reaps orphans re-parented to us
done

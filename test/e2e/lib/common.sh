# Shared settings and helpers of the real-cluster harness (sourced, not run).
# shellcheck shell=bash

K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
YURT_CACHE=${YURT_CACHE:-/var/cache/yurt}              # outside the repo, survives between runs
# Several clusters may run side by side, each with its own E2E_NAME (≤ 8 characters) and
# E2E_SUBNET_PREFIX: names of netns, cgroups and links all derive from it.
E2E_NAME=${E2E_NAME:-yurt}
E2E_DIR=${E2E_DIR:-/var/lib/$E2E_NAME-e2e}             # the running cluster: node disks, pki, logs
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)  # test/e2e of this checkout
REPO_ROOT=$(cd "$E2E_ROOT/../.." && pwd)

K8S_BIN=$YURT_CACHE/bin/k8s-$K8S_VERSION
ETCD_BIN=$YURT_CACHE/bin/etcd-$ETCD_VERSION
IMAGE_CACHE=$YURT_CACHE/images/k8s-$K8S_VERSION

# One bridge is the "internet": the cloud node and the edge nodes' uplinks hang off it. The host
# (where tests and kubectl run) is 10.200.0.1 on it, as an operator's machine would be.
BRIDGE=$E2E_NAME-e2e0
SUBNET_PREFIX=${E2E_SUBNET_PREFIX:-10.200.0}
HOST_IP=$SUBNET_PREFIX.1
MASTER_NODE=master-node
MASTER_IP=$SUBNET_PREFIX.10
API_SERVER=https://$MASTER_IP:6443

PAUSE_IMAGE=registry.k8s.io/pause:3.10.1
WORKLOAD_IMAGE=yurt.local/busybox:1.35

export PATH=$K8S_BIN:$PATH

log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# wait_for <what> <seconds> <command…>: polls the command until it succeeds.
wait_for() {
  local what=$1 timeout=$2
  shift 2
  local end=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= end)); then
      log "timed out after ${timeout}s waiting for: $what"
      return 1
    fi
    sleep 0.5
  done
}

node_names() { cat "$E2E_DIR/nodes.list" 2>/dev/null || true; }
node_ip() { cat "$E2E_DIR/nodes/$1/ip"; }
node_disk() { echo "$E2E_DIR/nodes/$1/disk"; }
node_netns() { echo "$E2E_NAME-$1"; }
node_cgroup_root() { echo "/$E2E_NAME-$1"; }
# Host side of a node's veth: interface names are limited to 15 characters, so a short hash.
node_veth() { echo "v$(printf '%s' "$E2E_NAME-$1" | sha1sum | cut -c1-10)"; }

# The PID (in the host's namespace) of a node's init process, or nothing when it is down.
node_pid() {
  local f=$E2E_DIR/nodes/$1/init.pid pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
  return 0
}

admin_kubectl() { kubectl --kubeconfig "$E2E_DIR/admin.conf" "$@"; }

# Prints the last lines of a log so a failed start explains itself.
log_tail() {
  local file=$1 lines=${2:-40}
  [[ -f $file ]] || { log "(no log at $file)"; return; }
  log "---- last $lines lines of $file ----"
  tail -n "$lines" "$file" >&2
  log "----"
}

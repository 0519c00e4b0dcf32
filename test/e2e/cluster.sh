#!/usr/bin/env bash
# The real-cluster harness: a kubeadm control plane on `master-node` and kubeadm-joined edge
# nodes behind a NAT-like firewall, each node a set of namespaces running real containerd,
# runc and kubelet. See docs/e2e-harness.md.
#
#   cluster.sh up [--edge-nodes N] [--k8s-version V]    build what is missing, bring the cluster up
#   cluster.sh down                                     remove everything up created
#   cluster.sh env                                      export lines: KUBECONFIG, PATH, E2E_DIR
#   cluster.sh status                                   nodes, their init PIDs and addresses
#   cluster.sh exec NODE -- CMD…                        run CMD inside NODE
#   cluster.sh disconnect|reconnect NODE                cut / restore NODE's uplink
#   cluster.sh reboot NODE                              power-cycle NODE (disk survives, /run not)
#   cluster.sh load-image NODE|all TAR                  import an image archive into containerd
#   cluster.sh yurt-controller-on|-off                  our node lifecycle + CSR approver instead of KCM's
#   cluster.sh tunnel-on [--mode egress|dnat] | tunnel-off   yurt-tunnel server and agents
#   cluster.sh hub-on|hub-off NODE                      run NODE's kubelet through yurthub, or undo it
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

usage() { sed -n '5,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# Flags that change the cluster's shape are read before the libraries fix the derived paths.
cmd=${1:-}
[[ -n $cmd ]] || usage
shift
edge_nodes=1
if [[ $cmd == up ]]; then
  while (($#)); do
    case $1 in
      --edge-nodes) edge_nodes=${2:?--edge-nodes needs a number}; shift 2 ;;
      --edge-nodes=*) edge_nodes=${1#*=}; shift ;;
      --k8s-version) K8S_VERSION=${2:?--k8s-version needs a version}; shift 2 ;;
      --k8s-version=*) K8S_VERSION=${1#*=}; shift ;;
      *) echo "cluster.sh up: unknown flag '$1'" >&2; usage ;;
    esac
  done
  [[ $edge_nodes =~ ^[0-9]+$ ]] && ((edge_nodes >= 1 && edge_nodes <= 20)) ||
    { echo "cluster.sh up: --edge-nodes must be 1..20, got '$edge_nodes'" >&2; exit 2; }
fi
# A running cluster remembers its version.
state_dir=${E2E_DIR:-/var/lib/${E2E_NAME:-yurt}-e2e}
if [[ $cmd != up && -f $state_dir/k8s-version ]]; then
  K8S_VERSION=$(cat "$state_dir/k8s-version")
fi

# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source=lib/images.sh
source "$HERE/lib/images.sh"
# shellcheck source=lib/node.sh
source "$HERE/lib/node.sh"
# shellcheck source=lib/kubeadm.sh
source "$HERE/lib/kubeadm.sh"
# shellcheck source=lib/yurthub.sh
source "$HERE/lib/yurthub.sh"
# shellcheck source=lib/tunnel.sh
source "$HERE/lib/tunnel.sh"
# shellcheck source=lib/controller.sh
source "$HERE/lib/controller.sh"

[[ $K8S_VERSION =~ ^v1\.[0-9]+\.[0-9]+$ ]] ||
  { echo "cluster.sh: K8S_VERSION must look like v1.34.4, got '$K8S_VERSION'" >&2; exit 2; }

require_node() {
  [[ -n ${1:-} ]] || usage
  grep -qx "$1" "$E2E_DIR/nodes.list" 2>/dev/null || die "no node '$1' (nodes: $(node_names | xargs))"
}

case $cmd in
  up) cluster_up "$edge_nodes" ;;
  down) cluster_down ;;
  env)
    echo "export E2E_NAME=$E2E_NAME"
    echo "export E2E_DIR=$E2E_DIR"
    echo "export KUBECONFIG=$E2E_DIR/admin.conf"
    echo "export PATH=$K8S_BIN:\$PATH"
    ;;
  status)
    for n in $(node_names); do
      printf '%-14s %-12s init-pid=%s\n' "$n" "$(node_ip "$n")" "$(node_pid "$n")"
    done
    ;;
  exec)
    node=${1:-}
    require_node "$node"
    shift
    [[ ${1:-} == -- ]] && shift
    (($#)) || usage
    node_exec "$node" "$@"
    ;;
  disconnect) require_node "${1:-}"; node_disconnect "$1"; log "$1: uplink cut" ;;
  reconnect) require_node "${1:-}"; node_reconnect "$1"; log "$1: uplink restored" ;;
  reboot)
    require_node "${1:-}"
    started=$SECONDS
    node_poweroff "$1"
    # A real reboot starts with empty cgroups; stale ones cost the kubelet's cAdvisor ~3 s each.
    node_cgroups_cleanup "$1"
    node_boot "$1"
    log "$1: rebooted in $((SECONDS - started)) s (containerd up; kubelet starting)"
    ;;
  load-image)
    target=${1:-}
    tar=${2:-}
    [[ -n $target && -n $tar ]] || usage
    [[ -f $tar ]] || die "no such image archive: $tar"
    tar=$(realpath "$tar")
    if [[ $target == all ]]; then targets=$(node_names); else require_node "$target"; targets=$target; fi
    for n in $targets; do
      node_exec "$n" ctr -n k8s.io images import "$tar" >/dev/null ||
        die "importing $tar into $n failed"
      log "$n: imported $(basename "$tar")"
    done
    ;;
  hub-on) require_node "${1:-}"; hub_on "$1" ;;
  hub-off) require_node "${1:-}"; hub_off "$1" ;;
  tunnel-on) tunnel_on "$@" ;;
  tunnel-off) tunnel_off ;;
  yurt-controller-on) yurt_controller_on ;;
  yurt-controller-off) yurt_controller_off ;;
  *) usage ;;
esac

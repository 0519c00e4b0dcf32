#!/usr/bin/env bash
# The harness itself: `down` with nothing up and `up` twice are harmless; nodes are hosts of
# their own from the inside; `down` leaves no process, mount, namespace, interface, cgroup or
# iptables rule behind. Takes EDGE_NODES (default 2); leaves the cluster up for the scenarios
# that follow unless told `--down`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
source "$HERE/lib/common.sh"
source "$HERE/lib/scenario.sh"
edges=${EDGE_NODES:-2}

# What this cluster could leave on the host. Other clusters (other E2E_NAMEs) may run beside it,
# so only what bears this cluster's names counts; the host's iptables must not change at all.
host_state() {
  local veths
  veths=$(for n in master-node edge-node $(seq -f 'edge-node-%g' 2 20); do node_veth "$n"; done | paste -sd'|')
  echo "## links"; ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^($BRIDGE|$veths)\$" | sort || true
  echo "## netns"; ip netns list | grep "^$E2E_NAME-" | sort || true
  echo "## mounts"; awk '{print $5}' /proc/self/mountinfo | grep -E "^(/run/netns/$E2E_NAME-|$E2E_DIR)" | sort || true
  echo "## iptables"; iptables-save 2>/dev/null | { grep -v '^[#:]' || true; } | sort
  echo "## cgroups"; ls -d /sys/fs/cgroup/*/"$E2E_NAME"-* 2>/dev/null || true
  # Node inits carry the node's disk path; everything else of a node dies with its PID 1.
  echo "## processes"; pgrep -af -- "$E2E_DIR/" | grep -v pgrep || true
}

case ${1:-} in
  --down-check)
    step "down leaves nothing behind"
    before=$(cat "$2")
    "$CLUSTER" down 2>/dev/null
    after=$(host_state)
    if [[ $before != "$after" ]]; then
      diff <(echo "$before") <(echo "$after") >&2 || true
      fail "host state after down differs from before up"
    fi
    [[ ! -e $E2E_DIR ]] || fail "$E2E_DIR still exists"
    observe "links, netns, mounts, iptables, cgroups and processes as before up"
    exit 0
    ;;
esac

step "down with nothing up is harmless"
"$CLUSTER" down 2>/dev/null || fail "down on an empty machine failed"
host_state >"${STATE_FILE:-/tmp/$E2E_NAME-e2e-host-state}"
observe "ok"

step "up --edge-nodes $edges"
"$CLUSTER" up --edge-nodes "$edges" || fail "cluster up failed"
eval "$("$CLUSTER" env)"
expected=$((edges + 1))
ready=$(kubectl get nodes --no-headers | awk '$2 == "Ready"' | wc -l)
((ready == expected)) || fail "$ready of $expected nodes Ready"
observe "$ready nodes Ready: $(kubectl get nodes --no-headers | awk '{print $1}' | xargs)"
"$CLUSTER" up --edge-nodes "$edges" 2>&1 | grep -q "already up" || fail "a second up was not a no-op"
observe "a second up is a no-op"

step "nodes are hosts of their own"
for n in $(node_names); do
  [[ $("$CLUSTER" exec "$n" -- hostname) == "$n" ]] || fail "$n: wrong hostname"
  [[ $("$CLUSTER" exec "$n" -- cat /proc/1/cmdline | tr '\0' ' ') == *node-init.sh* ]] ||
    fail "$n: PID 1 is not the node's init"
  "$CLUSTER" exec "$n" -- test -f /etc/kubernetes/kubelet.conf || fail "$n: no /etc/kubernetes/kubelet.conf"
  "$CLUSTER" exec "$n" -- test -f /var/lib/kubelet/config.yaml || fail "$n: no /var/lib/kubelet/config.yaml"
  addr=$("$CLUSTER" exec "$n" -- ip -4 -o addr show eth0 | awk '{print $4}')
  [[ $addr == "$(node_ip "$n")/24" ]] || fail "$n: eth0 has $addr"
done
[[ -f $(node_disk "$MASTER_NODE")/etc/kubernetes/manifests/kube-apiserver.yaml ]] ||
  fail "no kube-apiserver static pod manifest on $MASTER_NODE"
[[ ! -e $(node_disk edge-node)/etc/kubernetes/manifests/kube-apiserver.yaml ]] ||
  fail "edge-node sees the master's manifests"
observe "own hostname, PID 1, /etc/kubernetes, /var/lib/kubelet and address on every node"

step "a kubelet restart from inside a node works (systemctl restart kubelet)"
old=$("$CLUSTER" exec edge-node -- cat /run/kubelet.pid)
"$CLUSTER" exec edge-node -- systemctl restart kubelet
until_true 30 bash -c "new=\$('$CLUSTER' exec edge-node -- cat /run/kubelet.pid); [[ \$new != $old ]] && '$CLUSTER' exec edge-node -- curl -sf http://127.0.0.1:10248/healthz" ||
  fail "kubelet did not come back after systemctl restart"
observe "kubelet restarted and healthy after ${WAITED}s"

step "the edge is private: the cloud cannot dial it, it can dial the cloud"
if "$CLUSTER" exec "$MASTER_NODE" -- curl -sk -m 5 "https://$(node_ip edge-node):10250/healthz" >/dev/null 2>&1; then
  fail "master-node reached edge-node's kubelet"
fi
"$CLUSTER" exec edge-node -- curl -sk -m 5 -o /dev/null "https://$MASTER_IP:6443/healthz" || fail "edge cannot reach the apiserver"
observe "cloud → edge :10250 refused; edge → cloud :6443 works"

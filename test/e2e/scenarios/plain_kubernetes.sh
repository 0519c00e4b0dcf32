#!/usr/bin/env bash
# The "before" half of the walkthrough: what plain Kubernetes does to a pod on an edge node that
# sits behind NAT and loses its link. Every observation is asserted and printed with its timing.
# Needs a cluster from `cluster.sh up` without the yurt components.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
source "$HERE/lib/common.sh"
source "$HERE/lib/scenario.sh"
eval "$("$CLUSTER" env)"

NODE=edge-node
POD=nginx
NODE_IP=$(node_ip "$NODE")
cleanup() { "$CLUSTER" reconnect "$NODE" 2>/dev/null || true; kubectl delete pod "$POD" --now --ignore-not-found >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "1. a hostNetwork pod runs on $NODE"
edge_pod_manifest "$POD" "$NODE" | kubectl apply -f - >/dev/null
until_true 120 pod_running "$POD" || fail "pod $POD did not start on $NODE"
observe "pod $POD Running on $NODE (IP $(kubectl get pod "$POD" -o jsonpath='{.status.podIP}')) after ${WAITED}s"

step "2. from the cloud, logs/exec/port-forward fail: the apiserver cannot dial the kubelet"
expect_refused() {
  local what=$1 out
  shift
  if out=$(timeout 30 "$@" 2>&1); then fail "$what unexpectedly worked: $out"; fi
  [[ $out == *"$NODE_IP:10250"*"connection refused"* ]] || fail "$what failed differently than expected: $out"
  observe "$what: $(grep -o "dial tcp $NODE_IP:10250: connect: connection refused" <<<"$out" | head -1)"
}
expect_refused "kubectl logs" kubectl logs "$POD"
expect_refused "kubectl exec" kubectl exec "$POD" -- sh -c 'echo hi'
expect_refused "kubectl port-forward" kubectl port-forward "pod/$POD" 18888:80

step "3. cut the link: the node turns NotReady and the pod is evicted; on reconnect it is gone"
"$CLUSTER" disconnect "$NODE"
until_true 120 node_not_ready "$NODE" || fail "$NODE stayed Ready while disconnected"
observe "$NODE is $(node_ready_status "$NODE" | sed 's/Unknown/NotReady (Unknown)/') ${WAITED}s after the cut"
until_true 90 pod_terminating "$POD" || fail "pod $POD was not evicted"
observe "pod $POD Terminating ${WAITED}s later (evicted by the taint manager)"
"$CLUSTER" reconnect "$NODE"
until_true 120 pod_gone "$POD" || fail "pod $POD still exists after reconnect"
observe "link restored: pod $POD gone after ${WAITED}s"
until_true 120 bash -c "[[ \$(kubectl get node $NODE -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]" ||
  fail "$NODE did not become Ready again"
observe "$NODE Ready again after ${WAITED}s"

step "4. cut the link and reboot the node: after the reboot none of its containers run"
edge_pod_manifest "$POD" "$NODE" | kubectl apply -f - >/dev/null
until_true 120 pod_running "$POD" || fail "pod $POD did not start again"
observe "pod $POD Running again after ${WAITED}s"
"$CLUSTER" disconnect "$NODE"
[[ -n $(node_running_containers_of "$NODE" "$POD") ]] || fail "the pod's container is not running before the reboot"
observe "link cut; the pod's container still runs on $NODE (the edge never saw a deletion)"
"$CLUSTER" reboot "$NODE" 2>/dev/null
until_true 60 "$CLUSTER" exec "$NODE" -- curl -sf http://127.0.0.1:10248/healthz || fail "kubelet did not come back after the reboot"
observe "$NODE rebooted; kubelet healthy after ${WAITED}s"
# Give the kubelet time in which it would have started the pod if it knew it.
for _ in $(seq 30); do
  [[ -z $(node_running_containers_of "$NODE" "$POD") ]] || fail "a container of $POD runs after the reboot"
  sleep 1
done
observe "30 s after boot: no container of $POD runs (the kubelet cannot get its pods)"
until_true 120 pod_terminating "$POD" || fail "pod $POD was not evicted while the node was offline"
observe "pod $POD Terminating in the cloud"
"$CLUSTER" reconnect "$NODE"
until_true 120 pod_gone "$POD" || fail "pod $POD still exists after reconnect"
observe "link restored: pod $POD gone after ${WAITED}s"
echo
echo "plain Kubernetes scenario: all observations as in the walkthrough"

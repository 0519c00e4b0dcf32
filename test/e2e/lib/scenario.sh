# Helpers for e2e scenarios: timed observations and checks that fail loudly. Sourced.
# shellcheck shell=bash

SCENARIO_T0=$SECONDS
CLUSTER=$E2E_ROOT/cluster.sh

# observe MESSAGE: one line of the scenario's story, stamped with seconds since it began.
observe() { printf '  [t+%3ds] %s\n' "$((SECONDS - SCENARIO_T0))" "$*"; }
step() { printf '\n== %s\n' "$*"; }
fail() { printf '  FAIL: %s\n' "$*" >&2; exit 1; }

# until_true SECONDS CMD…: polls CMD each half second; prints how long it took; fails on timeout.
until_true() {
  local timeout=$1 start=$SECONDS
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - start < timeout)) || return 1
    sleep 0.5
  done
  WAITED=$((SECONDS - start))
}

node_ready_status() {
  kubectl get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'
}
node_not_ready() { [[ $(node_ready_status "$1") != True ]]; }
pod_phase() { kubectl get pod "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
pod_running() { [[ $(pod_phase "$1") == Running ]]; }
pod_terminating() { [[ -n $(kubectl get pod "$1" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null) ]]; }
pod_gone() { ! kubectl get pod "$1" >/dev/null 2>&1; }

# The walkthrough's test pod: hostNetwork, pinned to a node, 5-second NoExecute tolerations.
# busybox httpd plays nginx and logs each request.
edge_pod_manifest() {
  local name=$1 node=$2
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $name
  labels: {app: $name}
spec:
  hostNetwork: true
  nodeSelector: {kubernetes.io/hostname: $node}
  terminationGracePeriodSeconds: 5
  tolerations:
    - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
    - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
  containers:
    - name: web
      image: $WORKLOAD_IMAGE
      imagePullPolicy: Never
      command: [/bin/httpd, -f, -vv, -p, "80", -h, /www]
YAML
}

# Running containers of a pod on a node, as the node's containerd sees them.
node_running_containers_of() {
  local node=$1 pod=$2
  "$CLUSTER" exec "$node" -- ctr -n k8s.io containers ls -q 2>/dev/null | while read -r id; do
    "$CLUSTER" exec "$node" -- ctr -n k8s.io containers info "$id" 2>/dev/null |
      grep -q "\"io.kubernetes.pod.name\": \"$pod\"" || continue
    "$CLUSTER" exec "$node" -- ctr -n k8s.io tasks ls 2>/dev/null | awk -v id="$id" '$1 == id && $3 == "RUNNING"'
  done
}

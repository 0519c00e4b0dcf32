#!/usr/bin/env bash
# The README's first command: installs what is needed, builds, brings up the local cluster
# (a kubeadm control plane and an edge node behind NAT), shows what goes wrong at the edge with
# plain Kubernetes — the "before" half of the walkthrough — and then each fix that has landed:
# yurthub keeping a node's pods through an offline reboot, yurt-controller-manager keeping an
# autonomous node's pods through a cut link that gets an ordinary node's evicted, and yurt-tunnel
# carrying kubectl logs/exec/attach/cp/port-forward to the edge node nobody can dial. The cluster
# stays up afterwards:
#   eval "$(test/e2e/cluster.sh env)"; kubectl get nodes        and later: test/e2e/cluster.sh down
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
test/e2e/cluster.sh up --edge-nodes "${EDGE_NODES:-2}"
test/e2e/scenarios/plain_kubernetes.sh
test/e2e/scenarios/yurthub_autonomy.sh
test/e2e/scenarios/controller_autonomy.sh
test/e2e/scenarios/tunnel.sh
echo
echo "The cluster is still up:  eval \"\$(test/e2e/cluster.sh env)\" && kubectl get nodes -o wide"
echo "Tear it down with:        test/e2e/cluster.sh down"

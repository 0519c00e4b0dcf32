#!/usr/bin/env bash
# yurthub on a real edge node (issue 4, acceptance 1–4): installed like a node servant does it,
# the kubelet works through it; cut off from the cloud the node keeps its pods and the hub
# answers the kubelet correctly from its cache; rebooted while still cut off, every pod runs
# again; reconnected, the hub goes back online at once and the cache catches up.
# Every observation is asserted and printed with its timing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
source "$HERE/lib/common.sh"
source "$HERE/lib/scenario.sh"
eval "$("$CLUSTER" env)"

NODE=edge-node
UA="kubelet/v1.34.4 (linux/amd64) kubernetes/e2e"
HUB=http://127.0.0.1:10261
HUB_SERVER=http://127.0.0.1:10267
PODS=(auto-front auto-back)
MASTER_POD=hub-exec-target

cleanup() {
  "$CLUSTER" reconnect "$NODE" 2>/dev/null || true
  kubectl delete pod "${PODS[@]}" auto-late "$MASTER_POD" --now --ignore-not-found >/dev/null 2>&1 || true
  kubectl delete clusterrolebinding hub-e2e --ignore-not-found >/dev/null 2>&1 || true
  kubectl -n default delete serviceaccount hub-e2e --ignore-not-found >/dev/null 2>&1 || true
  "$CLUSTER" hub-off "$NODE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

on_node() { "$CLUSTER" exec "$NODE" -- "$@"; }
hub_metric() { on_node curl -sf --max-time 2 "$HUB_SERVER/metrics" | grep -x "$1" >/dev/null; }
hub_online() { hub_metric 'yurthub_online 1'; }
hub_offline() { hub_metric 'yurthub_online 0'; }
hub_healthy_now() { on_node curl -sf --max-time 2 "$HUB_SERVER/v1/healthz"; }
kubelet_proxied() {
  on_node curl -sf --max-time 2 "$HUB_SERVER/metrics" |
    grep -q '^yurthub_requests_total{component="kubelet",verb="[a-z]*",code="20[01]"}'
}
# kubectl inside the node, with no kubeconfig of the host's.
node_kubectl() { on_node env -u KUBECONFIG kubectl "$@"; }
# GET through the hub from the node's namespace with the kubelet's User-Agent.
kubelet_get() { on_node curl -sf --max-time 5 -A "$UA" "$HUB$1"; }
# The service-account token the kubelet mounted into pod $1, read from the node's disk.
mounted_token() {
  local uid
  uid=$(kubectl get pod "$1" -o jsonpath='{.metadata.uid}')
  on_node sh -c "cat /var/lib/kubelet/pods/$uid/volumes/kubernetes.io~projected/kube-api-access-*/token"
}
real_token_mounted() { [[ $(mounted_token "$1") == eyJ* ]]; }
json_names() { python3 -c 'import json,sys; print(" ".join(sorted(i["metadata"]["name"] for i in json.load(sys.stdin)["items"])))'; }

# An edge workload: hostNetwork busybox httpd pinned to the node. It tolerates the unreachable
# and not-ready taints without a time limit: not evicting pods of a disconnected node is the
# autonomy controller's job (D7), not the hub's, so this scenario keeps it out of the picture.
# Like any user pod it mounts the default service-account token: after an offline reboot the
# kubelet must get one (TokenRequest) before it starts the pod.
edge_workload() {
  local name=$1 tier=$2
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $name
  labels: {app: autonomy, tier: $tier}
spec:
  hostNetwork: true
  nodeName: $NODE
  terminationGracePeriodSeconds: 2
  tolerations:
    - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}
    - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute}
  containers:
    - name: web
      image: $WORKLOAD_IMAGE
      imagePullPolicy: Never
      command: [/bin/sh, -c, "echo started-$name; exec /bin/httpd -f -p 127.0.0.1:$3 -h /www"]
YAML
}

step "1. hub-on: the kubelet works through yurthub"
"$CLUSTER" hub-on "$NODE"
server=$(on_node sed -n 's/^ *server: *//p' /etc/kubernetes/kubelet.conf | head -1)
[[ $server == "$HUB" ]] || fail "the kubelet's kubeconfig points at '$server', not $HUB"
observe "kubelet.conf server: $server; node $(node_ready_status "$NODE" | sed 's/True/Ready/')"
edge_workload auto-front front 18081 | kubectl apply -f - >/dev/null
edge_workload auto-back back 18082 | kubectl apply -f - >/dev/null
for p in "${PODS[@]}"; do
  until_true 120 pod_running "$p" || fail "pod $p did not start on $NODE"
done
observe "pods ${PODS[*]} Running on $NODE after ${WAITED}s"
until_true 30 kubelet_proxied || fail "no kubelet traffic through the hub"
observe "the hub proxies the kubelet: $(on_node curl -sf "$HUB_SERVER/metrics" | grep -c '^yurthub_requests_total{component="kubelet"') kinds of kubelet requests counted"

# logs/exec from the node's namespace through the hub, with a service-account token over the
# secure port (:10268). They target a pod on the master: the apiserver cannot dial this edge
# node's kubelet behind its NAT (that needs the tunnel).
kubectl -n default create serviceaccount hub-e2e >/dev/null
kubectl create clusterrolebinding hub-e2e --clusterrole=cluster-admin --serviceaccount=default:hub-e2e >/dev/null
token=$(kubectl -n default create token hub-e2e)
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $MASTER_POD}
spec:
  nodeName: $MASTER_NODE
  hostNetwork: true
  automountServiceAccountToken: false
  tolerations: [{operator: Exists}]
  containers:
    - name: c
      image: $WORKLOAD_IMAGE
      imagePullPolicy: Never
      command: [/bin/sh, -c, "echo hello-from-the-master-pod; exec sleep 3600"]
YAML
until_true 120 pod_running "$MASTER_POD" || fail "pod $MASTER_POD did not start"
hub_kubectl() {
  node_kubectl --server=https://127.0.0.1:10268 --certificate-authority=/etc/kubernetes/pki/ca.crt \
    --token="$token" "$@"
}
until_true 30 hub_kubectl get --raw /readyz || fail "the hub's secure port does not answer"
logs=$(hub_kubectl logs "$MASTER_POD")
[[ $logs == *hello-from-the-master-pod* ]] || fail "kubectl logs through the hub: '$logs'"
observe "kubectl logs through https://127.0.0.1:10268: '$logs'"
out=$(hub_kubectl exec "$MASTER_POD" -- sh -c 'echo exec-through-the-hub $((6*7))')
[[ $out == "exec-through-the-hub 42" ]] || fail "kubectl exec through the hub: '$out'"
observe "kubectl exec through the hub (upgrade spliced): '$out'"
hub_rss=$(on_node sh -c 'grep VmRSS /proc/$(pgrep -x yurthub | head -1)/status' | awk '{print $2}')
observe "hub resident memory: $((hub_rss / 1024)) MiB ($(on_node curl -sf "$HUB_SERVER/metrics" | sed -n 's/^yurthub_cache_objects //p') objects cached)"
node_list=$(node_kubectl --server="$HUB" get pods -A --field-selector "spec.nodeName=$NODE" -o name | sort | xargs)
observe "kubectl --server=$HUB (the node's identity) lists its pods: $node_list"

step "2. disconnect: pods keep running; the kubelet is answered from the cache"
"$CLUSTER" disconnect "$NODE"
cut_at=$SECONDS
until_true 30 hub_offline || fail "the hub did not notice the cut"
observe "hub offline ${WAITED}s after the cut (probe every 10 s, 2 s timeout)"
front=$(kubelet_get "/api/v1/pods?fieldSelector=spec.nodeName%3D$NODE&labelSelector=app%3Dautonomy,tier%3Dfront" | json_names)
[[ $front == auto-front ]] || fail "offline LIST nodeName+tier=front returned '$front'"
both=$(kubelet_get "/api/v1/pods?fieldSelector=spec.nodeName%3D$NODE&labelSelector=app%3Dautonomy" | json_names)
[[ $both == "auto-back auto-front" ]] || fail "offline LIST nodeName+app=autonomy returned '$both'"
none=$(kubelet_get "/api/v1/pods?fieldSelector=spec.nodeName%3D$NODE&labelSelector=app%3Dautonomy,tier%3Dnone" | json_names)
[[ -z $none ]] || fail "offline LIST with a non-matching selector returned '$none'"
observe "offline LIST (kubelet UA, fieldSelector spec.nodeName + labelSelector): tier=front → [$front], app=autonomy → [$both], tier=none → []"
rv=$(kubelet_get "/api/v1/pods?fieldSelector=spec.nodeName%3D$NODE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
watch_out=$(on_node timeout 13 curl -sN -A "$UA" \
  "$HUB/api/v1/pods?watch=true&allowWatchBookmarks=true&fieldSelector=spec.nodeName%3D$NODE&resourceVersion=$rv&timeoutSeconds=60" || true)
bookmarks=$(grep -c '"BOOKMARK"' <<<"$watch_out" || true)
((bookmarks >= 1)) || fail "an offline watch got no bookmark in 13 s: '$watch_out'"
observe "offline watch from RV $rv stayed open and received $bookmarks bookmark(s) in 13 s"
wl=$(on_node timeout 10 curl -sN -A "$UA" \
  "$HUB/api/v1/pods?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&fieldSelector=spec.nodeName%3D$NODE&labelSelector=app%3Dautonomy&timeoutSeconds=3" || true)
added=$(grep -c '"ADDED"' <<<"$wl" || true)
grep -q 'k8s.io/initial-events-end' <<<"$wl" || fail "WatchList: no initial-events-end bookmark: '$wl'"
((added == 2)) || fail "WatchList: $added initial ADDED events, expected 2"
observe "WatchList (sendInitialEvents=true): $added ADDED events, then the initial-events-end bookmark"
for p in "${PODS[@]}"; do
  [[ -n $(node_running_containers_of "$NODE" "$p") ]] || fail "$p stopped running while disconnected"
done
observe "$((SECONDS - cut_at))s into the cut: ${PODS[*]} still running on $NODE"

step "3. disconnected reboot: the kubelet starts the hub from its manifest and every pod again"
# Made in the cloud while the node is away; the cache must catch up with it after reconnecting.
edge_workload auto-late late 18083 | kubectl apply -f - >/dev/null
"$CLUSTER" reboot "$NODE" >/dev/null 2>&1
booted=$(date +%s.%N)
until_true 60 hub_healthy_now || fail "the hub static pod did not start after the reboot"
hub_up=$(date +%s.%N)
all_running() {
  local p
  for p in "${PODS[@]}"; do
    [[ -n $(node_running_containers_of "$NODE" "$p") ]] || return 1
  done
}
until_true 120 all_running || fail "not every pod runs again after the offline reboot"
running=$(date +%s.%N)
hub_offline || fail "the hub claims to be online while the node is still cut off"
mounted=$(mounted_token auto-front)
[[ $mounted == yurthub-offline-placeholder* ]] ||
  fail "after the offline reboot auto-front's token is '${mounted:0:40}', not the hub's placeholder"
observe "$(printf 'kubelet start → hub healthy %.1f s → all pods Running %.1f s, with placeholder tokens (OpenYurt ~50 s; aim < 30 s)' \
  "$(echo "$hub_up - $booted" | bc)" "$(echo "$running - $booted" | bc)")"

step "4. reconnect: online within 2 s of the first good probe; watches and the cache follow"
"$CLUSTER" reconnect "$NODE"
until_true 30 hub_online || fail "the hub did not go back online"
observe "hub online ${WAITED}s after the link came back (probes every 10 s)"
# The kubelet's offline watches end when the hub sees the cloud again, and it re-opens them
# online: count its connections to the apiserver until they are back.
upstream_conns() { on_node ss -Htn state established "dst $(node_ip "$MASTER_NODE"):6443" | wc -l; }
moved_back() { (($(upstream_conns) >= 3)); }
until_true 20 moved_back || fail "the kubelet's watches did not move back online"
moved_at=$(date -u +%s.%N)
log=$(ls -t "$E2E_DIR/nodes/$NODE/disk/var/log/pods/"kube-system_yurt-hub-*/yurt-hub/*.log | head -1)
healthy_at=$(grep 'is healthy' "$log" | tail -1 | cut -d' ' -f1)
delay=$(python3 -c "import datetime,sys; t=datetime.datetime.fromisoformat(sys.argv[1][:26]).replace(tzinfo=datetime.timezone.utc).timestamp(); print(f'{float(sys.argv[2])-t:.1f}')" "$healthy_at" "$moved_at")
observe "first good probe at $healthy_at (hub log); $(upstream_conns) connections to the apiserver again ${delay}s later"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 2.0 else 1)" "$delay" ||
  fail "the watches took ${delay}s to move back after the first good probe"
until_true 120 bash -c "[[ \$(kubectl get node $NODE -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]" ||
  fail "$NODE is not Ready after reconnecting"
observe "$NODE Ready again after ${WAITED}s"
until_true 120 pod_running auto-late || fail "auto-late (created while offline) did not start"
until_true 30 on_node sh -c "curl -sf '$HUB_SERVER/v1/cache?prefix=kubelet/pods.v1.core/default/' | grep -q '/auto-late\"'" ||
  fail "the cache did not catch up with auto-late"
observe "auto-late, created in the cloud while offline, runs and is in the cache ${WAITED}s later"
for p in "${PODS[@]}"; do
  restarts=$(kubectl get pod "$p" -o jsonpath='{.status.containerStatuses[0].restartCount}')
  ((restarts >= 1)) || fail "$p restartCount is $restarts after the reboot"
done
until_true 240 real_token_mounted auto-front ||
  fail "auto-front still has no real service-account token 4 min after reconnecting"
observe "auto-front's placeholder token replaced by a real one ${WAITED}s later (the kubelet's next volume sync)"
observe "restart counts after the reboot: $(for p in "${PODS[@]}"; do printf '%s=%s ' "$p" "$(kubectl get pod "$p" -o jsonpath='{.status.containerStatuses[0].restartCount}')"; done)"
echo
echo "yurthub autonomy scenario: all observations as expected"

#!/usr/bin/env bash
# yurthub crash safety on a real node (issue 4, acceptance 5): while the cloud churns a ConfigMap
# and pods the kubelet watches, the hub is SIGKILLed at random moments ($HUB_KILLS times, 50 by
# default). After every kill a hub started on the same cache, cut off from the cloud, must be
# ready at once, find no torn file, and serve the kubelet's views consistently; then the online
# hub starts again and the next kill comes.
#
# The hub runs as a plain process in the node here rather than as the static pod: the kubelet's
# CrashLoopBackOff would space 50 restarts of a container over hours. Same binary (taken from
# the image), same flags, same state directory.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
source "$HERE/lib/common.sh"
source "$HERE/lib/scenario.sh"
source "$HERE/lib/node.sh"
source "$HERE/lib/yurthub.sh"
eval "$("$CLUSTER" env)"

NODE=edge-node
KILLS=${HUB_KILLS:-50}
UA="kubelet/v1.34.4 (linux/amd64) kubernetes/e2e"
HUB=http://127.0.0.1:10261
HUB_SERVER=http://127.0.0.1:10267
DISK=$E2E_DIR/nodes/$NODE/disk
MANIFEST=$DISK/etc/kubernetes/manifests/yurthub.yaml
PARKED=$DISK/etc/kubernetes/yurthub.yaml.crash-test
WORK=$E2E_DIR/yurthub-crash
BIN=$WORK/rootfs/usr/local/bin/yurthub
COUNTER=$WORK/churn.count
CHURN_PID=

on_node() { "$CLUSTER" exec "$NODE" -- "$@"; }
hub_procs() { on_node pgrep -f "^$BIN " || true; }
ready_now() { on_node curl -sf --max-time 1 "$HUB_SERVER/v1/readyz"; }
not_ready_now() { ! ready_now; }
churning() { (($(cat "$COUNTER" 2>/dev/null || echo 0) >= 10)); }
metric_is() { on_node curl -sf --max-time 2 "$HUB_SERVER/metrics" | grep -x "$1" >/dev/null; }
online_now() { metric_is 'yurthub_online 1'; }
kubelet_get() { on_node curl -sf --max-time 5 -A "$UA" "$HUB$1"; }

cleanup() {
  [[ -n $CHURN_PID ]] && kill "$CHURN_PID" 2>/dev/null || true
  for pid in $(hub_procs); do on_node kill -9 "$pid" 2>/dev/null || true; done
  [[ -f $PARKED ]] && mv "$PARKED" "$MANIFEST"
  kubectl delete pod churn-reader --now --ignore-not-found >/dev/null 2>&1 || true
  kubectl delete pod -l churn=yes --now --ignore-not-found >/dev/null 2>&1 || true
  kubectl delete configmap churn-cm --ignore-not-found >/dev/null 2>&1 || true
  "$CLUSTER" hub-off "$NODE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# start_hub SERVER: the hub as the manifest runs it, in the node, in the background.
start_hub() {
  "$CLUSTER" exec "$NODE" -- "$BIN" --v=1 --node-name="$NODE" --server-addr="$1" \
    --bootstrap-mode=kubeletcertificate \
    --kubelet-client-certificate=/var/lib/kubelet/pki/kubelet-client-current.pem \
    --kubelet-ca-file=/etc/kubernetes/pki/ca.crt --root-dir=/opt/yurt/yurthub \
    >>"$WORK/hub.log" 2>&1 &
}
# Waits, as a supervisor does, until the process has exited entirely: its command line goes
# (pgrep stops matching) when its main thread exits, its files (the cache lock) only with the
# last thread.
gone() { for pid in "$@"; do ! on_node test -e "/proc/$pid" || return 1; done; }
stop_hub() {
  local signal=$1 pid pids
  pids=$(hub_procs)
  for pid in $pids; do on_node kill "-$signal" "$pid" 2>/dev/null || true; done
  until_true 10 gone $pids || fail "the hub did not exit on SIG$signal"
}

churn_pod() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {churn: "yes"}}
spec:
  nodeName: $NODE
  hostNetwork: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  tolerations: [{operator: Exists}]
  containers:
    - {name: c, image: $WORKLOAD_IMAGE, imagePullPolicy: Never, command: [sleep, "3600"]}
YAML
}

step "1. the hub on $NODE, then run by hand so it can be killed again and again"
"$CLUSTER" hub-on "$NODE"
server=$(sed -n 's/.*--server-addr=\(.*\)$/\1/p' "$MANIFEST" | head -1)
image_tar=$(hub_image_tar)
YURTHUB_IMAGE_TAR=$image_tar
rm -rf "$WORK"
mkdir -p "$WORK/rootfs"
layer=$(tar -xOf "$image_tar" manifest.json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Layers"][0])')
tar -xOf "$image_tar" "$layer" | tar -C "$WORK/rootfs" -x ./usr/local/bin/yurthub
[[ -x $BIN ]] || fail "no yurthub binary in $image_tar"
mv "$MANIFEST" "$PARKED"
until_true 60 not_ready_now || fail "the static pod did not stop"
start_hub "$server"
until_true 30 online_now || fail "the hand-run hub did not come online"
observe "hub from $(hub_image_ref) running as a process in $NODE, online ($server)"

kubectl create configmap churn-cm --from-literal=n=0 >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: churn-reader}
spec:
  nodeName: $NODE
  hostNetwork: true
  automountServiceAccountToken: false
  tolerations: [{operator: Exists}]
  volumes: [{name: cm, configMap: {name: churn-cm}}]
  containers:
    - name: c
      image: $WORKLOAD_IMAGE
      imagePullPolicy: Never
      command: [sleep, "3600"]
      volumeMounts: [{name: cm, mountPath: /cm}]
YAML
until_true 120 pod_running churn-reader || fail "churn-reader did not start"
observe "churn-reader runs with ConfigMap churn-cm mounted (the kubelet watches it)"

# The cloud churns: the ConfigMap changes every 0.2 s, a pod on the node comes and goes every
# 0.8 s. The counter bounds what any cached ConfigMap may say.
(
  i=0
  while :; do
    i=$((i + 1))
    echo "$i" >"$COUNTER.tmp"
    mv "$COUNTER.tmp" "$COUNTER"  # readers never see a half-written counter
    kubectl patch configmap churn-cm --type=merge -p "{\"data\":{\"n\":\"$i\"}}" >/dev/null 2>&1 || true
    if ((i % 4 == 0)); then
      churn_pod "churn-p$((i / 4))" | kubectl apply -f - >/dev/null 2>&1 || true
      kubectl delete pod "churn-p$((i / 4 - 2))" --wait=false --ignore-not-found >/dev/null 2>&1 || true
    fi
    sleep 0.2
  done
) &
CHURN_PID=$!
until_true 30 churning || fail "the churn did not start"
observe "cloud churn running"

step "2. SIGKILL the hub $KILLS times; after each, a hub on the same cache serves consistently offline"
ready_ms=()
for k in $(seq "$KILLS"); do
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.5, 5.0), 2))')"
  stop_hub KILL
  limit=$(cat "$COUNTER")
  # Nothing listens on port 9: the hub serves from its cache.
  t0=$(date +%s%N)
  start_hub https://127.0.0.1:9
  until_true 10 ready_now || fail "kill $k: the restarted hub did not become ready"
  ready_ms+=($((($(date +%s%N) - t0) / 1000000)))
  metric_is 'yurthub_cache_junk_files 0' || fail "kill $k: torn or foreign files in the cache: $(on_node curl -s "$HUB_SERVER/metrics" | grep junk)"
  pods=$(kubelet_get "/api/v1/pods?fieldSelector=spec.nodeName%3D$NODE" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["kind"]=="PodList"; print(" ".join(i["metadata"]["name"] for i in d["items"]))') ||
    fail "kill $k: the cached pod list is not a valid PodList"
  [[ " $pods " == *" churn-reader "* ]] || fail "kill $k: churn-reader missing from the cached pod list: $pods"
  n=$(kubelet_get "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dchurn-cm" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); [c]=d["items"]; print(int(c["data"]["n"]))') ||
    fail "kill $k: the cached ConfigMap is not valid"
  ((n <= limit)) || fail "kill $k: the cache holds n=$n, newer than the cloud's $limit"
  stop_hub TERM
  start_hub "$server"
  until_true 15 online_now || fail "kill $k: the hub did not come back online"
  printf '  kill %2d: ready %4d ms offline; pods cached: %s; ConfigMap n=%s (cloud %s)\n' \
    "$k" "${ready_ms[-1]}" "$(wc -w <<<"$pods")" "$n" "$limit"
done

max=$(printf '%s\n' "${ready_ms[@]}" | sort -n | tail -1)
avg=$(( ($(printf '%s+' "${ready_ms[@]}")0) / ${#ready_ms[@]} ))
observe "$KILLS kills: every restart ready (avg ${avg} ms, max ${max} ms incl. process start), no torn file, consistent views"
step "3. left alone, the restarted hub catches up with the churn"
# The kubelet re-opens its ConfigMap watch on its own schedule: after 50 broken watches its
# reflector backs off (30 s at most, jittered up to twice that), so catching up may take a minute
# or more. The cache is read from the disk meanwhile (files are replaced atomically).
before=$(cat "$COUNTER")
cached_cm=$DISK$HUB_HOST_DIR/cache/kubelet/configmaps.v1.core/default/churn-cm
disk_n() { python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["data"]["n"]))' "$cached_cm"; }
caught_up() { (($(disk_n 2>/dev/null || echo 0) >= before)); }
until_true 180 caught_up ||
  fail "after 180 s online the cache still says n=$(disk_n) (the cloud was at $before when the kills ended)"
caught=$WAITED
stop_hub KILL
start_hub https://127.0.0.1:9
until_true 10 ready_now || fail "the restarted hub did not become ready"
n=$(kubelet_get "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dchurn-cm" |
  python3 -c 'import json,sys; [c]=json.load(sys.stdin)["items"]; print(int(c["data"]["n"]))')
((n >= before)) || fail "the restarted hub serves n=$n, older than what its disk held (>= $before)"
observe "the cache caught up ${caught}s after the kills ended; after one more kill it serves n=$n (cloud: $before when the kills ended, $(cat "$COUNTER") now)"
stop_hub TERM
echo
echo "yurthub crash-safety scenario: all observations as expected"

#!/usr/bin/env bash
# Benchmark of yurthub on a real node (issue 4, acceptance 6). In one run, printed side by side:
#   - GET of one pod, LIST of 100 pods (label + field selector) and of 1000 pods (field
#     selector): p50/p99 direct to the apiserver and through the hub, the same client and client
#     certificate, keep-alive connections, interleaved samples; and the client's own floor (a
#     trivial local server answering the same bytes);
#   - offline (`cluster.sh disconnect`): the same LISTs answered from the hub's cache, latency on
#     one connection and throughput on several;
#   - the hub's VmRSS idle and with the 1000 pods cached;
#   - start-up to /v1/readyz 200 on that cache (SIGKILL, exec again; several runs, offline and
#     online);
# with the targets beside them. Asserts nothing about time.
#
# The pods are bound to `bench-node`, a Node object with no kubelet (they stay Pending: no
# kubelet starts 1000 containers), and listed with the kubelet's User-Agent so that the hub
# records them. A node's identity may not read another node's pods, so the bench's hub runs with
# the admin's client certificate (--bootstrap-mode=kubeletcertificate) and "direct" uses that same
# certificate. The hub runs as a plain process in the edge node on ports 20261/20267/20268 and
# its own state directory, beside anything else on the node (the static pod's hub included).
#
#   test/bench/yurthub.sh          E2E_NAME / E2E_SUBNET_PREFIX select the cluster; brought up
#                                  (and taken down afterwards) only if it is not running
# Environment: BENCH_SAMPLES (500), BENCH_WARMUP (50), BENCH_STARTUP_RUNS (5),
# BENCH_OFFLINE_SECONDS (5), BENCH_CONNECTIONS (1,4), YURTHUB_BIN (the ci build's binary),
# BENCH_HUB_ARGS (extra hub flags, split on spaces).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../e2e" && pwd)
BENCH=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib/common.sh"
CLUSTER=$HERE/cluster.sh

NODE=edge-node
SAMPLES=${BENCH_SAMPLES:-500}
WARMUP=${BENCH_WARMUP:-50}
RUNS=${BENCH_STARTUP_RUNS:-5}
OFFLINE_SECONDS=${BENCH_OFFLINE_SECONDS:-5}
CONNECTIONS=${BENCH_CONNECTIONS:-1,4}
PODS=1000
NS=yurt-bench
BENCH_NODE=bench-node
UA="kubelet/v1.34.4 (linux/amd64) kubernetes/bench"
BIN=${YURTHUB_BIN:-$REPO_ROOT/build/ci/cmd/yurthub}
[[ -x $BIN ]] || die "no yurthub binary at $BIN (build it, or set YURTHUB_BIN)"
BIN=$(realpath "$BIN")  # the node sees the host's file system outside its disk

brought_up=false
if [[ -z $(node_pid "$MASTER_NODE") || -z $(node_pid "$NODE") ]]; then
  log "no cluster $E2E_NAME running: bringing one up (taken down at the end)"
  brought_up=true
  "$CLUSTER" up --edge-nodes 1
fi
eval "$("$CLUSTER" env)"
API=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')

DISK=$(node_disk "$NODE")
WORK=$DISK/opt/yurt/bench  # /opt/yurt/bench inside the node: its own disk
IN=/opt/yurt/bench
RESULTS=$IN/results.json
HUB_ARGS=(--v=1 --node-name="$NODE" --server-addr="$API" --bootstrap-mode=kubeletcertificate
  --kubelet-client-certificate="$IN/client.crt" --kubelet-client-key="$IN/client.key"
  --kubelet-ca-file=/etc/kubernetes/pki/ca.crt --root-dir="$IN/hub"
  --proxy-port=20261 --serve-port=20267 --proxy-secure-port=20268)
# Extra flags for the bench's hub (e.g. --cache-agents=none to see the proxy without recording).
read -r -a extra_args <<<"${BENCH_HUB_ARGS:-}"
HUB_ARGS+=("${extra_args[@]}")

on_node() { "$CLUSTER" exec "$NODE" -- "$@"; }
load_py() { on_node python3 "$BENCH/yurthub_load.py" --results "$RESULTS" "$@"; }
hub_pids() { on_node pgrep -f "^$BIN .*--root-dir=$IN/hub" || true; }
no_hub() { [[ -z $(hub_pids) ]]; }
metrics() { on_node curl -sf --max-time 2 http://127.0.0.1:20267/metrics; }
online() { metrics | grep -qx 'yurthub_online 1'; }
offline() { metrics | grep -qx 'yurthub_online 0'; }
rss_kb() { on_node awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { on_node awk '{print $14 + $15}' "/proc/$1/stat"; }
requests() { metrics | awk '/^yurthub_requests_total/ {n += $2} END {print n + 0}'; }
HZ=$(getconf CLK_TCK)
# cpu_since PID TICKS0 SECONDS0 REQUESTS0: the hub's CPU since then, per request it answered.
cpu_since() {
  awk -v c="$(($(cpu_ticks "$1") - $2))" -v hz="$HZ" -v w="$((SECONDS - $3))" \
    -v n="$(($(requests) - $4))" 'BEGIN {printf "%.1f s in %d s wall (%.0f %% of a core), %d requests, %.2f ms CPU each", c / hz, w, 100 * c / hz / (w ? w : 1), n, 1000 * c / hz / (n ? n : 1)}'
}
kill_hubs() {
  local pid
  for pid in $(hub_pids); do on_node kill "-$1" "$pid" 2>/dev/null || true; done
  wait_for "the bench's hub to exit" 10 no_hub
}
start_hub() {
  on_node "$BIN" "${HUB_ARGS[@]}" >>"$WORK/hub.log" 2>&1 &
  wait_for "the bench's hub online" 30 online || { tail -20 "$WORK/hub.log" >&2; die "the hub is not online"; }
}

disconnected=false
cleanup() {
  local rc=$?
  kill_hubs KILL || true
  $disconnected && "$CLUSTER" reconnect "$NODE" >/dev/null 2>&1
  log "removing the bench's pods, namespace and node"
  # No kubelet confirms these deletions: force them.
  kubectl delete --raw "/api/v1/namespaces/$NS/pods?gracePeriodSeconds=0" >/dev/null 2>&1 || true
  kubectl delete namespace "$NS" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  kubectl delete node "$BENCH_NODE" --ignore-not-found >/dev/null 2>&1 || true
  # The hub asked for a serving certificate with the bench's identity; nobody approves it.
  kubectl get csr -o jsonpath='{range .items[*]}{.metadata.name} {.spec.username}{"\n"}{end}' 2>/dev/null |
    awk '$1 ~ /^yurthub-serving-/ && $2 !~ /^system:node:/ {print $1}' |
    xargs -r kubectl delete csr >/dev/null 2>&1 || true
  rm -rf "$WORK"
  if $brought_up; then "$CLUSTER" down; fi
  exit "$rc"
}
trap cleanup EXIT

log "hub $BIN; cluster $E2E_NAME ($API); node $NODE"
kill_hubs KILL
rm -rf "$WORK"
mkdir -p "$WORK"
kubectl config view --raw --minify -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$WORK/client.crt"
kubectl config view --raw --minify -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$WORK/client.key"
chmod 600 "$WORK/client.key"
identity=$(openssl x509 -noout -subject -in "$WORK/client.crt" | sed 's/^subject=//')
load_py record when "$(date -u '+%F %T UTC')"
load_py record where "$(nproc) cores ($(uname -m)), node $NODE of cluster $E2E_NAME, $PODS pods on $BENCH_NODE"
load_py record hub "$BIN, identity $identity"
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)

log "creating node $BENCH_NODE (no kubelet) and $PODS pods bound to it"
kubectl delete --raw "/api/v1/namespaces/$NS/pods?gracePeriodSeconds=0" >/dev/null 2>&1 || true
# A previous run's namespace may still be terminating (its cleanup does not wait).
kubectl wait --for=delete "namespace/$NS" --timeout=120s >/dev/null 2>&1 || true
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata: {name: $BENCH_NODE, labels: {yurt-bench: "true"}}
YAML
wait_for "the default service account of $NS" 30 kubectl -n "$NS" get serviceaccount default
# Pods of a realistic size (a container with env, ports, probes, resources, a volume); they
# tolerate everything so that the never-Ready bench-node does not get them evicted.
python3 - "$WORK/pods" "$PODS" "$NS" "$BENCH_NODE" "$WORKLOAD_IMAGE" <<'PY'
import json, os, sys
out, n, ns, node, image = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
os.makedirs(out, exist_ok=True)
chunks = 4
for c in range(chunks):
    items = []
    for i in range(c, n, chunks):
        items.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"bench-{i:04d}", "namespace": ns,
                         "labels": {"app": "yurt-bench", "bench-group": f"g{i % 10}",
                                    "tier": "edge"},
                         "annotations": {"yurt.dev/bench": "pod %d of %d" % (i, n)}},
            "spec": {
                "nodeName": node, "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 0,
                "tolerations": [{"operator": "Exists"}],
                "volumes": [{"name": "data", "emptyDir": {}}],
                "containers": [{
                    "name": "app", "image": image, "imagePullPolicy": "Never",
                    "command": ["httpd", "-f", "-p", "8080"],
                    "env": [{"name": f"SETTING_{k}", "value": f"value-{k}-{i}"} for k in range(5)],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                                  "limits": {"cpu": "100m", "memory": "64Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/", "port": 8080},
                                       "periodSeconds": 10},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }],
            },
        })
    with open(f"{out}/chunk-{c}.json", "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
PY
started=$SECONDS
pids=()
for f in "$WORK"/pods/chunk-*.json; do
  kubectl create -f "$f" >/dev/null &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "creating the pods failed"; done
count=$(kubectl get --raw "/api/v1/namespaces/$NS/pods?fieldSelector=spec.nodeName%3D$BENCH_NODE" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
((count == PODS)) || die "$count pods on $BENCH_NODE, expected $PODS"
log "$PODS pods created in $((SECONDS - started)) s"

log "starting the hub on an empty cache"
start_hub
sleep 3
pid=$(hub_pids)
load_py record rss_idle "$(rss_kb "$pid")"

log "online latency: $SAMPLES samples per path after $WARMUP warm-up"
c0=$(cpu_ticks "$pid") t0=$SECONDS n0=$(requests)
load_py latency --api "$API" --ca /etc/kubernetes/pki/ca.crt --cert "$IN/client.crt" \
  --key "$IN/client.key" --samples "$SAMPLES" --warmup "$WARMUP" --ua "$UA" \
  --namespace "$NS" --node "$BENCH_NODE"
objects=$(metrics | awk '$1 == "yurthub_cache_objects" {print $2}')
load_py record cpu_online "$(cpu_since "$pid" "$c0" "$t0" "$n0")"
if ((${objects%.*} < PODS)); then
  [[ ${BENCH_HUB_ARGS:-} == *--cache-agents* ]] || die "the hub holds $objects cached objects, expected at least $PODS"
  log "nothing recorded (BENCH_HUB_ARGS=${BENCH_HUB_ARGS:-}): online figures only"
  echo
  load_py report
  exit 0
fi
load_py record rss_cached "$(rss_kb "$pid")"
# Right after the run the recording thread (idle priority) may still hold a backlog of pieces
# (up to --max-recording-backlog); the cache itself is what remains once it has caught up.
sleep 3
load_py record rss_settled "$(rss_kb "$pid")"

log "offline: cutting $NODE's uplink"
"$CLUSTER" disconnect "$NODE"
disconnected=true
wait_for "the hub to notice (heartbeat)" 60 offline || die "the hub did not go offline"
c0=$(cpu_ticks "$pid") t0=$SECONDS n0=$(requests)
load_py offline --seconds "$OFFLINE_SECONDS" --connections "$CONNECTIONS" --warmup "$WARMUP" \
  --ua "$UA" --namespace "$NS" --node "$BENCH_NODE"
load_py record cpu_offline "$(cpu_since "$pid" "$c0" "$t0" "$n0")"
load_py record rss_offline "$(rss_kb "$pid")"

log "start-up on a cache of $objects objects, offline: $RUNS runs"
kill_hubs KILL
load_py startup --label "offline (cloud cut)" --runs "$RUNS" --log "$IN/hub.log" -- "$BIN" "${HUB_ARGS[@]}"
"$CLUSTER" reconnect "$NODE"
disconnected=false
log "start-up, online: $RUNS runs"
load_py startup --label "online" --runs "$RUNS" --log "$IN/hub.log" -- "$BIN" "${HUB_ARGS[@]}"
load_py record loadavg "$loadavg / $(cut -d' ' -f1-3 /proc/loadavg)"

echo
load_py report

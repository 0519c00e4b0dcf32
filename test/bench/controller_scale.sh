#!/usr/bin/env bash
# Benchmark of yurt-controller-manager's node lifecycle at scale (issue 6, acceptance 6):
# N simulated nodes (Node + kube-node-lease Lease objects written to the real apiserver, N/10
# zones of 10), their Leases renewed every 10 s like kubelets do. Two phases on the same nodes,
# printed side by side:
#   baseline  kube-controller-manager's own node lifecycle controller (`cluster.sh
#             yurt-controller-off`); one node per zone (10 %) stops heartbeating;
#   ours      `cluster.sh yurt-controller-on`; another node per zone (10 %) stops.
# For the stopped nodes: time from the last heartbeat to the Unknown condition + NoSchedule taint
# and to the NoExecute taint; that no healthy node was touched; the controller's CPU and RSS
# (kube-controller-manager's figures include all its other controllers). Asserts nothing about
# time. Needs a cluster (cluster.sh up); leaves yurt-controller-manager on.
#   test/bench/controller_scale.sh [NODES]     default 1000
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../e2e" && pwd)
source "$HERE/lib/common.sh"
eval "$("$HERE/cluster.sh" env)"
# The apiserver of *this* cluster (common.sh derives API_SERVER from E2E_SUBNET_PREFIX, which
# `cluster.sh env` does not export).
API_SERVER=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')

N=${1:-1000}
((N >= 20 && N % 10 == 0)) || die "NODES must be a multiple of 10, at least 20"
WORK=$(mktemp -d)
cleanup() {
  [[ -n ${renewer:-} ]] && kill "$renewer" 2>/dev/null
  log "removing the simulated nodes and leases"
  kubectl delete nodes -l yurt-bench=sim --wait=false >/dev/null 2>&1 || true
  kubectl -n kube-node-lease delete leases -l yurt-bench=sim --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log "baseline: kube-controller-manager's node lifecycle controller"
"$HERE/cluster.sh" yurt-controller-off

# curl with the admin's client certificate; many requests per process, HTTP/2 multiplexed.
kubectl config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$WORK/cert.pem"
kubectl config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$WORK/key.pem"
CA=$(node_disk "$MASTER_NODE")/etc/kubernetes/pki/ca.crt
# Options are per transfer once a config has `next` blocks: each block gets the TLS settings.
batch() {  # config file: one request per `next` block
  sed "s|^url = |cacert = \"$CA\"\ncert = \"$WORK/cert.pem\"\nkey = \"$WORK/key.pem\"\noutput = \"/dev/null\"\nsilent\nshow-error\nurl = |" \
    "$1" | sed '$ { /^next$/d }' >"$1.full"  # a trailing `next` would be an empty transfer
  curl -sS --no-progress-meter --parallel --parallel-max 16 --http2 -K "$1.full"
}
name_of() { printf 'sim-%04d' "$1"; }
now_micro() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }
# The nodes that stop: one per zone in each phase (index % 10 == 0 for the baseline, 5 for ours).
stopped_mods=()
dead() { local m; for m in "${stopped_mods[@]}"; do (($1 % 10 == m)) && return 0; done; return 1; }

cond() { printf '{"type":"%s","status":"%s","reason":"Sim","message":"simulated","lastHeartbeatTime":"%s","lastTransitionTime":"%s"}' "$1" "$2" "${now%.*}Z" "${now%.*}Z"; }
log "creating $N nodes in $((N / 10)) zones, their status and leases"
started=$SECONDS
now=$(now_micro)
: >"$WORK/create"
: >"$WORK/status"
for ((i = 0; i < N; i++)); do
  n=$(name_of "$i")
  z=$(printf 'zone-%03d' $((i / 10)))
  cat >>"$WORK/create" <<EOF
url = "$API_SERVER/api/v1/nodes"
request = "POST"
header = "Content-Type: application/json"
data = "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$n\",\"labels\":{\"yurt-bench\":\"sim\",\"kubernetes.io/hostname\":\"$n\",\"topology.kubernetes.io/region\":\"bench\",\"topology.kubernetes.io/zone\":\"$z\"}}}"
next
url = "$API_SERVER/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
request = "POST"
header = "Content-Type: application/json"
data = "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"$n\",\"labels\":{\"yurt-bench\":\"sim\"}},\"spec\":{\"holderIdentity\":\"$n\",\"leaseDurationSeconds\":40,\"renewTime\":\"$now\"}}"
next
EOF
  cat >>"$WORK/status" <<EOF
url = "$API_SERVER/api/v1/nodes/$n/status"
request = "PATCH"
header = "Content-Type: application/merge-patch+json"
data = "$(printf '{"status":{"conditions":[%s,%s,%s,%s]}}' "$(cond Ready True)" "$(cond MemoryPressure False)" "$(cond DiskPressure False)" "$(cond PIDPressure False)" | sed 's/"/\\"/g')"
next
EOF
done
batch "$WORK/create"
batch "$WORK/status"
log "created in $((SECONDS - started)) s"

# One renewal of the leases of every node still alive (the renewer runs in a subshell; the
# phase tells it which sets stopped through $WORK/stopped). Each round records, per set it
# renewed, its start time in last-beat.<set>: a stopped node's last heartbeat is no earlier than
# the last such time (an upper bound on the latencies below); then it records in stop-complete
# which sets it left out.
renew_round() {
  local t start i n m out=$WORK/renew.$BASHPID
  stopped_mods=()
  [[ -f $WORK/stopped ]] && read -ra stopped_mods <"$WORK/stopped"
  start=$(date +%s.%N)
  t=$(now_micro)
  : >"$out"
  for ((i = 0; i < N; i++)); do
    dead "$i" && continue
    n=$(name_of "$i")
    printf 'url = "%s"\nrequest = "PATCH"\nheader = "Content-Type: application/merge-patch+json"\ndata = "{\\"spec\\":{\\"renewTime\\":\\"%s\\"}}"\nnext\n' \
      "$API_SERVER/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$n" "$t" >>"$out"
  done
  batch "$out"
  for ((m = 0; m < 10; m++)); do
    dead "$m" || echo "$start" >"$WORK/last-beat.$m"
  done
  echo "${stopped_mods[*]}" >"$WORK/stop-complete"
}
renewer_loop() {
  while :; do
    renew_round
    sleep 10
  done
}
renew_round
renewer_loop &
renewer=$!

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)
cpu_percent() {  # ticks0 ticks1 t0 t1
  awk -v c="$(($2 - $1))" -v hz="$HZ" -v a="$3" -v b="$4" 'BEGIN {printf "%.1f", 100 * c / hz / (b - a)}'
}
# Tainted simulated nodes that are not stopped.
wrongly_tainted() {
  local n taints i count=0
  while read -r n taints; do
    [[ -n $taints ]] || continue
    i=$((10#${n#sim-}))
    dead "$i" || count=$((count + 1))
  done < <(kubectl get nodes -l yurt-bench=sim -o jsonpath='{range .items[*]}{.metadata.name} {.spec.taints}{"\n"}{end}')
  echo "$count"
}
stats() {  # last-beat values…: min / median / max of (t - last_beat)
  local b=$1
  shift
  printf '%s\n' "$@" | awk -v b="$b" 'NF {print $1 - b}' | sort -n |
    awk '{a[NR] = $1} END {if (NR == 0) {print "none"; exit} printf "n=%d min %.1f / median %.1f / max %.1f s", NR, a[1], a[int((NR + 1) / 2)], a[NR]}'
}

# phase NAME PID MOD: 60 s steady, then the nodes with index % 10 == MOD stop; fills R_* figures.
phase() {
  local name=$1 pid=$2 mod=$3 t0 t1 t2 t3 c0 c1 c2 c3 last_beat deadline now n i taints
  log "$name: steady state for 60 s (every lease renewed every 10 s)"
  sleep 5
  t0=$(date +%s.%N) c0=$(cpu_ticks "$pid")
  sleep 60
  t1=$(date +%s.%N) c1=$(cpu_ticks "$pid")
  R_steady_cpu[$name]=$(cpu_percent "$c0" "$c1" "$t0" "$t1")
  R_early[$name]=$(wrongly_tainted)
  stopped_mods+=("$mod")
  rm -f "$WORK/stop-complete"
  echo "${stopped_mods[*]}" >"$WORK/stopped"
  while [[ $(cat "$WORK/stop-complete" 2>/dev/null) != "${stopped_mods[*]}" ]]; do sleep 0.2; done
  last_beat=$(cat "$WORK/last-beat.$mod")
  log "$name: $((N / 10)) nodes (index % 10 == $mod) stopped heartbeating at $(date -d "@${last_beat%.*}" +%T)"
  t2=$(date +%s.%N) c2=$(cpu_ticks "$pid")
  local -A unknown_at=() noexec_at=()
  deadline=$((SECONDS + 180))
  while ((SECONDS < deadline)); do
    now=$(date +%s.%N)
    while read -r n taints; do
      i=$((10#${n#sim-}))
      ((i % 10 == mod)) || continue
      [[ -z ${unknown_at[$n]:-} && $taints == *unreachable:NoSchedule* ]] && unknown_at[$n]=$now
      [[ -z ${noexec_at[$n]:-} && $taints == *unreachable:NoExecute* ]] && noexec_at[$n]=$now
    done < <(kubectl get nodes -l yurt-bench=sim -o jsonpath='{range .items[*]}{.metadata.name} {range .spec.taints[*]}{.key}:{.effect},{end}{"\n"}{end}')
    ((${#noexec_at[@]} == N / 10)) && break
    sleep 1
  done
  t3=$(date +%s.%N) c3=$(cpu_ticks "$pid")
  R_outage_cpu[$name]=$(cpu_percent "$c2" "$c3" "$t2" "$t3")
  R_unknown[$name]=$(stats "$last_beat" "${unknown_at[@]}")
  R_noexec[$name]=$(stats "$last_beat" "${noexec_at[@]}")
  R_tainted[$name]=${#noexec_at[@]}
  R_wrong[$name]=$(wrongly_tainted)
  R_rss[$name]="$(($(rss_kb "$pid") / 1024)) MiB (peak $(($(hwm_kb "$pid") / 1024)) MiB)"
}
declare -A R_steady_cpu R_early R_outage_cpu R_unknown R_noexec R_tainted R_wrong R_rss

# This cluster's kube-controller-manager: the one in its master's network namespace.
kcm=
for p in $(pgrep -f '^kube-controller-manager '); do
  if [[ $(ip netns identify "$p" 2>/dev/null) == "$E2E_NAME-master-node" ]]; then kcm=$p; fi
done
[[ -n $kcm ]] || die "cannot find this cluster's kube-controller-manager process"
phase upstream "$kcm" 0

log "ours: yurt-controller-on (kube-controller-manager's node lifecycle controller off)"
"$HERE/cluster.sh" yurt-controller-on
leader=$(kubectl -n kube-system get lease yurt-controller-manager -o jsonpath='{.spec.holderIdentity}')
pid=$(pgrep -f -- "--pod-name=${leader%_*}" | head -1)
[[ -n $pid ]] || die "cannot find the leader's process (${leader%_*})"
phase ours "$pid" 5

echo
echo "node lifecycle with $N simulated nodes in $((N / 10)) zones; per phase one node per zone ($((N / 10))) stops"
printf '  %-44s %-44s %s\n' "" "kube-controller-manager (baseline)" "yurt-controller-manager"
row() { printf '  %-44s %-44s %s\n' "$1" "$2" "$3"; }
row "last heartbeat -> Unknown + NoSchedule taint" "${R_unknown[upstream]}" "${R_unknown[ours]}"
row "last heartbeat -> NoExecute taint" "${R_noexec[upstream]}" "${R_noexec[ours]}"
row "stopped nodes NoExecute-tainted" "${R_tainted[upstream]} of $((N / 10))" "${R_tainted[ours]} of $((N / 10))"
row "healthy nodes with taints (at stop / end)" "${R_early[upstream]} / ${R_wrong[upstream]}" "${R_early[ours]} / ${R_wrong[ours]}"
row "CPU, % of a core, steady / while tainting" "${R_steady_cpu[upstream]} / ${R_outage_cpu[upstream]} (all controllers)" "${R_steady_cpu[ours]} / ${R_outage_cpu[ours]}"
row "RSS" "${R_rss[upstream]}" "${R_rss[ours]}"
echo "  (grace period 40 s in both; times from the start of the last renewal round that included"
echo "   the node, so upper bounds; the 1 s poll adds up to ~1 s). New nodes carry the apiserver's"
echo "   not-ready:NoSchedule taint until a node lifecycle controller sees them Ready: the baseline's"
echo "   steady state starts 2 s after they were created, ours minutes later."
# Correctness, not time: every stopped node tainted, no healthy one.
((R_wrong[ours] == 0)) || die "yurt-controller-manager tainted ${R_wrong[ours]} healthy nodes"
((R_tainted[ours] == N / 10)) ||
  die "yurt-controller-manager NoExecute-tainted only ${R_tainted[ours]} of $((N / 10)) stopped nodes"

#!/usr/bin/env bash
# yurt-controller-manager on the real cluster (issue 6, acceptance 1–5): the walkthrough's
# autonomy step with the upstream node lifecycle controller replaced by ours, the autonomy
# duration, removing autonomy during an outage, leader hand-over, and the CSR approver with real
# CertificateSigningRequests. Every observation is asserted and printed with its timing.
# Needs a cluster from `cluster.sh up --edge-nodes 2` and the yurt-controller-manager image
# (scripts/build-image.sh yurt-controller-manager, or $CONTROLLER_IMAGE_TAR).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
source "$HERE/lib/common.sh"
source "$HERE/lib/scenario.sh"
eval "$("$CLUSTER" env)"
# The apiserver of *this* cluster (common.sh derives API_SERVER from E2E_SUBNET_PREFIX, which
# `cluster.sh env` does not export).
API_SERVER=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')

AUTO=edge-node      # annotated autonomous
PLAIN=edge-node-2   # an ordinary node
grep -qx "$PLAIN" "$E2E_DIR/nodes.list" || fail "needs two edge nodes (cluster.sh up --edge-nodes 2)"
ANN_ALIBABA=node.beta.alibabacloud.com/autonomy
ANN_OPENYURT=node.beta.openyurt.io/autonomy
ANN_DURATION=node.openyurt.io/autonomy-duration
WORK=$(mktemp -d)
turned_on=false
created_sa=false

cleanup() {
  "$CLUSTER" reconnect "$AUTO" >/dev/null 2>&1 || true
  "$CLUSTER" reconnect "$PLAIN" >/dev/null 2>&1 || true
  kubectl delete pod -l yurt-e2e=controller --now --ignore-not-found >/dev/null 2>&1 || true
  kubectl delete csr -l yurt-e2e=controller --ignore-not-found >/dev/null 2>&1 || true
  kubectl delete clusterrolebinding yurt-e2e-bootstrappers yurt-e2e-tunnel-csr \
    --ignore-not-found >/dev/null 2>&1 || true
  kubectl delete clusterrole yurt-e2e-tunnel-csr --ignore-not-found >/dev/null 2>&1 || true
  kubectl -n kube-system delete secret "bootstrap-token-$TOKEN_ID" --ignore-not-found >/dev/null 2>&1 || true
  for n in "$AUTO" "$PLAIN"; do
    kubectl annotate node "$n" "$ANN_ALIBABA-" "$ANN_OPENYURT-" "$ANN_DURATION-" >/dev/null 2>&1 || true
  done
  if $created_sa; then
    kubectl -n kube-system delete serviceaccount yurt-tunnel-server --ignore-not-found >/dev/null 2>&1 || true
  fi
  if $turned_on; then "$CLUSTER" yurt-controller-off >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
TOKEN_ID=$(openssl rand -hex 3)
trap cleanup EXIT

pod_of() {  # the walkthrough pod, labelled for cleanup
  edge_pod_manifest "$1" "$2" | sed 's/^  labels: {app: \(.*\)}/  labels: {app: \1, yurt-e2e: controller}/'
}
pod_ready_condition() { kubectl get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'; }
pod_restarts() { kubectl get pod "$1" -o jsonpath='{.status.containerStatuses[0].restartCount}'; }
node_taints() { kubectl get node "$1" -o jsonpath='{range .spec.taints[*]}{.key}:{.effect}{"\n"}{end}'; }
has_taint() { node_taints "$1" | grep -qx "$2"; }
no_lifecycle_taints() { ! node_taints "$1" | grep -qE '^node.kubernetes.io/(unreachable|not-ready):'; }
node_ready() { [[ $(node_ready_status "$1") == True ]]; }
leader_pod() { local h; h=$(controller_leader); echo "${h%_*}"; }
controller_leader() {
  kubectl -n kube-system get lease yurt-controller-manager -o jsonpath='{.spec.holderIdentity}'
}

step "0. yurt-controller-on: kube-controller-manager's node lifecycle controller off, ours on"
if kubectl -n kube-system get deployment yurt-controller-manager >/dev/null 2>&1; then
  observe "yurt-controller-manager already deployed"
else
  turned_on=true
fi
"$CLUSTER" yurt-controller-on
observe "leader: $(controller_leader); kube-controller-manager --controllers=$(kubectl -n kube-system get pod \
  kube-controller-manager-master-node -o jsonpath='{.spec.containers[0].command}' |
  grep -o -- '--controllers=[^"]*' | cut -d= -f2)"

step "1. two nodes cut off; $AUTO autonomous (the walkthrough's annotation), $PLAIN not"
kubectl annotate node "$AUTO" "$ANN_ALIBABA=true" --overwrite >/dev/null
pod_of nginx-auto "$AUTO" | kubectl apply -f - >/dev/null
pod_of nginx-plain "$PLAIN" | kubectl apply -f - >/dev/null
until_true 120 pod_running nginx-auto || fail "nginx-auto did not start"
until_true 120 pod_running nginx-plain || fail "nginx-plain did not start"
observe "nginx-auto Running on $AUTO, nginx-plain Running on $PLAIN"
"$CLUSTER" disconnect "$AUTO" >/dev/null 2>&1
"$CLUSTER" disconnect "$PLAIN" >/dev/null 2>&1
cut=$SECONDS
until_true 120 node_not_ready "$AUTO" || fail "$AUTO stayed Ready"
observe "$AUTO $(node_ready_status "$AUTO") after $((SECONDS - cut))s"
until_true 30 node_not_ready "$PLAIN" || fail "$PLAIN stayed Ready"
observe "$PLAIN $(node_ready_status "$PLAIN") after $((SECONDS - cut))s"
until_true 30 pod_terminating nginx-plain || fail "nginx-plain was not evicted"
observe "nginx-plain Terminating $((SECONDS - cut))s after the cut (evicted, as upstream)"
has_taint "$PLAIN" node.kubernetes.io/unreachable:NoExecute || fail "$PLAIN lacks the NoExecute taint"
has_taint "$AUTO" node.kubernetes.io/unreachable:NoSchedule || fail "$AUTO lacks the NoSchedule taint"
has_taint "$AUTO" node.kubernetes.io/unreachable:NoExecute && fail "$AUTO has a NoExecute taint"
observe "taints: $AUTO $(node_taints "$AUTO" | xargs); $PLAIN $(node_taints "$PLAIN" | xargs)"

step "4. leader hand-over during the outage: SIGKILL the leader, another process takes over"
old_id=$(controller_leader)
old=${old_id%_*}
noexec_added() {
  kubectl get node "$1" -o jsonpath='{.spec.taints[?(@.effect=="NoExecute")].timeAdded}'
}
plain_tainted_at=$(noexec_added "$PLAIN")
for p in $(kubectl -n kube-system get pods -l app=yurt-controller-manager -o jsonpath='{.items[*].metadata.name}'); do
  [[ $p == "$old" ]] && continue
  kubectl -n kube-system logs "$p" | grep -q "node lifecycle: leading" &&
    fail "the standby $p has been acting too"
done
observe "only $old acts (the standby's log shows no term as leader)"
cid=""
for id in $("$CLUSTER" exec "$MASTER_NODE" -- ctr -n k8s.io containers ls -q); do
  info=$("$CLUSTER" exec "$MASTER_NODE" -- ctr -n k8s.io containers info "$id" 2>/dev/null) || continue
  grep -q "\"io.kubernetes.pod.name\": \"$old\"" <<<"$info" || continue
  grep -q '"io.kubernetes.container.name": "yurt-controller-manager"' <<<"$info" || continue
  "$CLUSTER" exec "$MASTER_NODE" -- ctr -n k8s.io tasks ls | awk -v id="$id" '$1 == id && $3 == "RUNNING"' |
    grep -q . && cid=$id
done
[[ -n $cid ]] || fail "no running container of the leader pod $old"
"$CLUSTER" exec "$MASTER_NODE" -- ctr -n k8s.io tasks kill -s SIGKILL "$cid" >/dev/null
killed=$SECONDS
# Whoever saw the lease's last renewal first takes over: the standby, or the killed pod's
# restarted container (a new process, a new identity) — as with client-go.
taken_over() { local h; h=$(controller_leader); [[ -n $h && $h != "$old_id" ]]; }
until_true 40 taken_over || fail "no hand-over within 40 s of killing $old_id"
handover=$((SECONDS - killed))
observe "leader process $old_id SIGKILLed (no release); $(controller_leader) leads ${handover}s later (lease 15 s, retry 2 s)"
# A contender takes over lease_duration (15 s) after it *observed* the last renewal, at its next
# attempt: observation and attempt each lag by at most one jittered retry period (2 s × 2.2).
((handover <= 25)) || fail "hand-over took ${handover}s, more than the lease duration + 2 retries"
# The new leader's first pass over the nodes is logged per node; after it, nothing was re-added.
new_leader_evaluated() {
  local h
  h=$(controller_leader)
  kubectl -n kube-system logs "${h%_*}" 2>/dev/null | grep -q "node $PLAIN: not ready"
}
until_true 30 new_leader_evaluated || fail "the new leader did not evaluate $PLAIN"
[[ $(noexec_added "$PLAIN") == "$plain_tainted_at" ]] ||
  fail "$PLAIN's NoExecute taint was re-added (timeAdded $plain_tainted_at → $(noexec_added "$PLAIN"))"
dups=$(node_taints "$PLAIN" | sort | uniq -d)
[[ -z $dups ]] || fail "duplicate taints on $PLAIN: $dups"
has_taint "$AUTO" node.kubernetes.io/unreachable:NoExecute && fail "the new leader tainted $AUTO NoExecute"
observe "new leader evaluated the nodes: no duplicate taints, $PLAIN's NoExecute taint kept (added $plain_tainted_at), $AUTO still without NoExecute"

step "1. (continued) after 2 minutes offline the autonomous pod still runs"
while ((SECONDS - cut < 120)); do
  pod_running nginx-auto || fail "nginx-auto left Running while $AUTO was offline"
  pod_terminating nginx-auto && fail "nginx-auto is Terminating"
  sleep 2
done
[[ $(pod_ready_condition nginx-auto) == True ]] || fail "nginx-auto was marked not ready"
observe "$((SECONDS - cut))s offline: nginx-auto Running, not Terminating, still Ready=True"
"$CLUSTER" reconnect "$AUTO" >/dev/null 2>&1
"$CLUSTER" reconnect "$PLAIN" >/dev/null 2>&1
until_true 120 node_ready "$AUTO" || fail "$AUTO did not become Ready"
observe "link restored: $AUTO Ready after ${WAITED}s"
until_true 30 no_lifecycle_taints "$AUTO" || fail "$AUTO kept its taints: $(node_taints "$AUTO" | xargs)"
until_true 120 node_ready "$PLAIN" || fail "$PLAIN did not become Ready"
until_true 30 no_lifecycle_taints "$PLAIN" || fail "$PLAIN kept its taints"
pod_running nginx-auto || fail "nginx-auto is not Running"
[[ $(pod_restarts nginx-auto) == 0 ]] || fail "nginx-auto restarted $(pod_restarts nginx-auto) times"
observe "nginx-auto Running with 0 restarts; taints gone from both nodes"
until_true 60 pod_gone nginx-plain || fail "nginx-plain still exists"
observe "nginx-plain gone (the kubelet saw the deletion)"
kubectl delete pod nginx-auto --now >/dev/null

step "2+3. autonomy-duration=30s on $AUTO; $PLAIN autonomous until its annotation is removed"
kubectl annotate node "$AUTO" "$ANN_DURATION=30s" --overwrite >/dev/null
kubectl annotate node "$PLAIN" "$ANN_OPENYURT=true" --overwrite >/dev/null
pod_of nginx-bounded "$AUTO" | kubectl apply -f - >/dev/null
pod_of nginx-unmarked "$PLAIN" | kubectl apply -f - >/dev/null
until_true 120 pod_running nginx-bounded || fail "nginx-bounded did not start"
until_true 120 pod_running nginx-unmarked || fail "nginx-unmarked did not start"
"$CLUSTER" disconnect "$AUTO" >/dev/null 2>&1
"$CLUSTER" disconnect "$PLAIN" >/dev/null 2>&1
cut=$SECONDS
until_true 120 node_not_ready "$AUTO" || fail "$AUTO stayed Ready"
not_ready=$SECONDS
observe "$AUTO NotReady $((not_ready - cut))s after the cut"
until_true 30 node_not_ready "$PLAIN" || fail "$PLAIN stayed Ready"
sleep 8
pod_terminating nginx-unmarked && fail "nginx-unmarked evicted while $PLAIN was autonomous"
kubectl annotate node "$PLAIN" "$ANN_OPENYURT-" >/dev/null
removed=$SECONDS
observe "$PLAIN's autonomy annotation removed $((removed - not_ready))s into the outage"
until_true 40 pod_terminating nginx-unmarked || fail "nginx-unmarked not evicted after the annotation went"
observe "nginx-unmarked Terminating $((SECONDS - removed))s later (ordinary from then on: taint + 5 s toleration)"
((SECONDS - removed <= 25)) || fail "eviction after removing autonomy took too long"
while ! pod_terminating nginx-bounded; do
  ((SECONDS - not_ready < 90)) || fail "nginx-bounded was not evicted after its autonomy duration"
  sleep 0.5
done
evicted=$((SECONDS - not_ready))
observe "nginx-bounded Terminating ${evicted}s after $AUTO turned NotReady (30 s autonomy + 5 s toleration)"
((evicted >= 30)) || fail "nginx-bounded evicted before its 30 s of autonomy were over"
((evicted <= 60)) || fail "nginx-bounded evicted too late"
"$CLUSTER" reconnect "$AUTO" >/dev/null 2>&1
"$CLUSTER" reconnect "$PLAIN" >/dev/null 2>&1
until_true 120 node_ready "$AUTO" || fail "$AUTO did not become Ready"
until_true 120 node_ready "$PLAIN" || fail "$PLAIN did not become Ready"
until_true 30 no_lifecycle_taints "$AUTO" || fail "$AUTO kept its taints"
until_true 30 no_lifecycle_taints "$PLAIN" || fail "$PLAIN kept its taints"
observe "both nodes Ready again, taints gone"
kubectl annotate node "$AUTO" "$ANN_ALIBABA-" "$ANN_DURATION-" >/dev/null

step "5. the CSR approver: the suite's five shapes approved, everything else left alone"
MASTER_DISK=$(node_disk "$MASTER_NODE")
CA=$MASTER_DISK/etc/kubernetes/pki/ca.crt
AUTO_IP=$(node_ip "$AUTO")
PLAIN_IP=$(node_ip "$PLAIN")
MASTER_IP_=$(node_ip "$MASTER_NODE")
# Requesters: the node itself (its kubelet's client certificate), a bootstrap token whose group
# may create CSRs but is not auto-approved by kube-controller-manager (so only we can approve),
# the tunnel server's ServiceAccount, and the admin. (The apiserver's NodeRestriction already
# refuses a node's kubelet-signer CSR for another node's CN: such cases use other requesters.)
# The kubelet's current pair is a link with a path inside the node; the file is on its disk.
pki=$(node_disk "$AUTO")/var/lib/kubelet/pki
pair=$pki/$(basename "$(readlink "$pki/kubelet-client-current.pem")")
[[ -f $pair ]] || fail "no kubelet client certificate of $AUTO at $pair"
kubeconfig_for() {  # file user-args...
  local file=$1
  shift
  kubectl config --kubeconfig "$file" set-cluster e2e --server "$API_SERVER" --certificate-authority "$CA" >/dev/null
  kubectl config --kubeconfig "$file" set-credentials u "$@" >/dev/null
  kubectl config --kubeconfig "$file" set-context e2e --cluster e2e --user u >/dev/null
  kubectl config --kubeconfig "$file" use-context e2e >/dev/null
}
kubeconfig_for "$WORK/node.conf" --client-certificate "$pair" --client-key "$pair"
TOKEN_SECRET=$(openssl rand -hex 8)
kubectl -n kube-system create secret generic "bootstrap-token-$TOKEN_ID" \
  --type bootstrap.kubernetes.io/token --from-literal=token-id="$TOKEN_ID" \
  --from-literal=token-secret="$TOKEN_SECRET" --from-literal=usage-bootstrap-authentication=true \
  --from-literal=auth-extra-groups=system:bootstrappers:yurt-e2e >/dev/null
kubectl create clusterrolebinding yurt-e2e-bootstrappers --clusterrole system:node-bootstrapper \
  --group system:bootstrappers:yurt-e2e >/dev/null
kubeconfig_for "$WORK/bootstrap.conf" --token "$TOKEN_ID.$TOKEN_SECRET"
if ! kubectl -n kube-system get serviceaccount yurt-tunnel-server >/dev/null 2>&1; then
  kubectl -n kube-system create serviceaccount yurt-tunnel-server >/dev/null
  created_sa=true
fi
kubectl create clusterrole yurt-e2e-tunnel-csr --verb create,get,list,watch \
  --resource certificatesigningrequests.certificates.k8s.io >/dev/null
kubectl create clusterrolebinding yurt-e2e-tunnel-csr --clusterrole yurt-e2e-tunnel-csr \
  --serviceaccount kube-system:yurt-tunnel-server >/dev/null
kubeconfig_for "$WORK/tunnel.conf" --token "$(kubectl -n kube-system create token yurt-tunnel-server)"
printf '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n' >"$WORK/openssl.cnf"

# csr NAME REQUESTER SIGNER USAGES SUBJECT [EXTENSION…]: a fresh ECDSA key, a PKCS#10 request made
# by openssl, the CSR object created with the requester's credentials.
csr() {
  local name=$1 who=$2 signer=$3 usages=$4 subject=$5 req
  shift 5
  local args=()
  for e in "$@"; do args+=(-addext "$e"); done
  req=$(openssl req -new -config "$WORK/openssl.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -nodes -keyout /dev/null -subj "$subject" "${args[@]}" 2>/dev/null | base64 -w0)
  [[ -n $req ]] || fail "openssl could not make the request for $name"
  local conf=$WORK/$who.conf
  [[ $who == admin ]] && conf=$KUBECONFIG
  kubectl --kubeconfig "$conf" create -f - >/dev/null <<YAML || fail "creating CSR $name as $who failed"
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: $name, labels: {yurt-e2e: controller}}
spec:
  request: $req
  signerName: $signer
  usages: [$usages]
YAML
}
KC=kubernetes.io/kube-apiserver-client-kubelet
AC=kubernetes.io/kube-apiserver-client
KS=kubernetes.io/kubelet-serving
CLIENT='"digital signature", "client auth"'
SERVING='"digital signature", "server auth"'
N=system:node:$AUTO
legit=(e2e-node-client e2e-hub-client e2e-hub-serving e2e-tunnel-server e2e-tunnel-agent)
csr e2e-node-client bootstrap $KC "$CLIENT" "/O=system:nodes/CN=system:node:e2e-joining-node"
csr e2e-hub-client node $AC "$CLIENT" "/O=system:nodes/O=openyurt:yurthub/CN=$N"
csr e2e-hub-serving node $KS "$SERVING" "/O=system:nodes/CN=$N" \
  "subjectAltName=DNS:$AUTO,IP:$AUTO_IP,IP:127.0.0.1,IP:169.254.2.1"
csr e2e-tunnel-server tunnel $KS "$SERVING" "/O=system:nodes/CN=system:node:yurt-tunnel-server" \
  "subjectAltName=DNS:x-tunnel-server-svc.kube-system.svc,IP:$MASTER_IP_,IP:127.0.0.1"
csr e2e-tunnel-agent node $AC "$CLIENT" "/O=openyurt:tunnel-agent/CN=$N"
bad=()
bad_csr() { bad+=("$1"); csr "$@"; }
bad_csr e2e-bad-signer node example.com/anything "$CLIENT" "/O=system:nodes/CN=$N"
bad_csr e2e-bad-cert-sign bootstrap $KC '"digital signature", "client auth", "cert sign"' "/O=system:nodes/CN=$N"
bad_csr e2e-bad-server-auth bootstrap $KC '"digital signature", "server auth"' "/O=system:nodes/CN=$N"
bad_csr e2e-bad-key-encipherment bootstrap $KC '"key encipherment", "digital signature", "client auth"' "/O=system:nodes/CN=$N"
bad_csr e2e-bad-other-node node $AC "$CLIENT" "/O=system:nodes/CN=system:node:$PLAIN"
bad_csr e2e-bad-serving-other-node tunnel $KS "$SERVING" "/O=system:nodes/CN=system:node:$PLAIN" "subjectAltName=DNS:$PLAIN,IP:$PLAIN_IP"
bad_csr e2e-bad-foreign-ip node $KS "$SERVING" "/O=system:nodes/CN=$N" "subjectAltName=DNS:$AUTO,IP:8.8.8.8"
bad_csr e2e-bad-wildcard node $KS "$SERVING" "/O=system:nodes/CN=$N" "subjectAltName=DNS:*"
bad_csr e2e-bad-masters bootstrap $KC "$CLIENT" "/O=system:nodes/O=system:masters/CN=$N"
bad_csr e2e-bad-ca bootstrap $KC "$CLIENT" "/O=system:nodes/CN=$N" "basicConstraints=critical,CA:TRUE"
bad_csr e2e-bad-serving-by-bootstrap bootstrap $KS "$SERVING" "/O=system:nodes/CN=$N" "subjectAltName=DNS:$AUTO"
bad_csr e2e-bad-tunnel-by-admin admin $KS "$SERVING" "/O=system:nodes/CN=system:node:yurt-tunnel-server" "subjectAltName=DNS:x-tunnel-server-svc"
bad_csr e2e-bad-tunnel-edge-ip tunnel $KS "$SERVING" "/O=system:nodes/CN=system:node:yurt-tunnel-server" "subjectAltName=IP:$AUTO_IP"
bad_csr e2e-bad-ou bootstrap $KC "$CLIENT" "/O=system:nodes/OU=ops/CN=$N"
bad_csr e2e-bad-email bootstrap $KC "$CLIENT" "/O=system:nodes/CN=$N" "subjectAltName=email:root@example.com"
bad_csr e2e-bad-client-san bootstrap $KC "$CLIENT" "/O=system:nodes/CN=$N" "subjectAltName=DNS:$AUTO"
bad_csr e2e-bad-hub-client-bootstrap bootstrap $AC "$CLIENT" "/O=system:nodes/CN=$N"
bad_csr e2e-bad-admin admin $AC "$CLIENT" "/CN=kubernetes-admin"
observe "created ${#legit[@]} legitimate and ${#bad[@]} illegitimate CSRs"
csr_conditions() { kubectl get csr "$1" -o jsonpath='{range .status.conditions[*]}{.type}:{.message}{"\n"}{end}'; }
approved_by_us() { csr_conditions "$1" | grep -q '^Approved:Approved by yurt-controller-manager'; }
issued() { [[ -n $(kubectl get csr "$1" -o jsonpath='{.status.certificate}') ]]; }
for c in "${legit[@]}"; do
  until_true 30 approved_by_us "$c" || fail "$c not approved: $(csr_conditions "$c")"
  until_true 30 issued "$c" || fail "$c approved but not issued"
  observe "$c: $(csr_conditions "$c" | cut -d: -f3- | head -1 | cut -c1-110)…, issued"
done
# The leader logs each decision once: wait until it has looked at every illegitimate one, then
# none may carry a condition.
leader_log() { local h; h=$(controller_leader); kubectl -n kube-system logs "${h%_*}" 2>/dev/null; }
looked_at_all() {
  local log c
  log=$(leader_log)
  for c in "${bad[@]}"; do grep -q "CSR $c: leave alone" <<<"$log" || return 1; done
}
until_true 60 looked_at_all || fail "the approver did not decide on every illegitimate CSR"
for c in "${bad[@]}"; do
  [[ -z $(csr_conditions "$c") ]] || fail "$c was decided: $(csr_conditions "$c")"
  observe "$c left alone: $(leader_log | grep -o "CSR $c: leave alone.*" | head -1 | sed "s/^[^:]*: leave alone //" | cut -c1-100)"
done
observe "all ${#bad[@]} illegitimate CSRs left alone (no condition)"
echo
echo "controller scenario: autonomy, autonomy duration, annotation removal, hand-over and approver as specified"

# Bringing the cluster up with the real kubeadm, and tearing it down. Sourced.
# shellcheck shell=bash

# The bin dir every node process sees first on PATH: upstream binaries and our systemctl shim.
install_node_bin() {
  mkdir -p "$E2E_DIR/bin"
  local b
  for b in kubelet kubeadm kubectl; do ln -sf "$K8S_BIN/$b" "$E2E_DIR/bin/$b"; done
  ln -sf "$E2E_ROOT/node/systemctl" "$E2E_DIR/bin/systemctl"
}

require_tools() {
  local t missing=()
  for t in containerd containerd-shim-runc-v2 runc ctr iptables ip nsenter unshare gcc openssl go; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  [[ -x /usr/lib/cni/loopback ]] || missing+=(containernetworking-plugins)
  ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} — run scripts/install-deps.sh"
}

cluster_is_up() {
  [[ -f $E2E_DIR/admin.conf && -n $(node_pid "$MASTER_NODE") ]] &&
    admin_kubectl get --raw /readyz >/dev/null 2>&1
}

kubeadm_init_config() {
  local token=$1
  cat <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: "$token"
    description: "yurt e2e join token"
    ttl: "24h0m0s"
    usages: [signing, authentication]
    groups: ["system:bootstrappers:kubeadm:default-node-token"]
localAPIEndpoint:
  advertiseAddress: "$MASTER_IP"
  bindPort: 6443
nodeRegistration:
  name: "$MASTER_NODE"
  criSocket: unix:///run/containerd/containerd.sock
  imagePullPolicy: Never
  ignorePreflightErrors: [all]
skipPhases: [addon/coredns, addon/kube-proxy]
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: "$K8S_VERSION"
clusterName: $E2E_NAME-e2e
controlPlaneEndpoint: "$MASTER_IP:6443"
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
etcd:
  local:
    imageTag: "${ETCD_VERSION#v}-0"
    extraArgs:
      - {name: unsafe-no-fsync, value: "true"}
controllerManager:
  extraArgs:
    # The walkthrough's cluster: NotReady after ~40 s without heartbeats (upstream's default is now 50 s).
    - {name: node-monitor-grace-period, value: 40s}
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
# containerd 1.6 does not pin the sandbox image; image GC could delete it and nothing can pull.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
clusterDNS: []
YAML
}

# kubeadm join as the walkthrough ran it: token and CA hash on the command line.
kubeadm_join() {
  local node=$1 token=$2 ca_hash=$3
  node_exec "$node" kubeadm join "$MASTER_IP:6443" --token "$token" \
    --discovery-token-ca-cert-hash "$ca_hash" --node-name "$node" \
    --cri-socket unix:///run/containerd/containerd.sock --ignore-preflight-errors=all \
    >>"$E2E_DIR/nodes/$node/kubeadm.log" 2>&1
}

load_node_images() {
  local node=$1
  shift
  local i
  for i in "$@"; do
    node_exec "$node" ctr -n k8s.io images import "$IMAGE_CACHE/$i.tar" >/dev/null ||
      die "importing $i into $node failed"
  done
}

cluster_up() {
  local edge_count=$1 started=$SECONDS step
  if cluster_is_up; then
    log "cluster already up ($(node_names | xargs)); nothing to do"
    return
  fi
  [[ -e $E2E_DIR/nodes.list ]] && { log "a half-built cluster is in the way: tearing it down first"; cluster_down; }
  require_tools
  "$E2E_ROOT/lib/build-upstream.sh" all
  build_images

  mkdir -p "$E2E_DIR"
  echo "$K8S_VERSION" >"$E2E_DIR/k8s-version"
  install_node_bin
  local nodes=("$MASTER_NODE") i
  for ((i = 1; i <= edge_count; i++)); do
    if ((i == 1)); then nodes+=(edge-node); else nodes+=("edge-node-$i"); fi
  done
  printf '%s\n' "${nodes[@]}" >"$E2E_DIR/nodes.list"

  step=$SECONDS
  net_up
  local n ip idx=0
  for n in "${nodes[@]}"; do
    ip=$SUBNET_PREFIX.$((10 + idx))
    idx=$((idx + 1))
    mkdir -p "$E2E_DIR/nodes/$n"
    echo "$ip" >"$E2E_DIR/nodes/$n/ip"
    node_net_up "$n" "$ip" "$([[ $n == "$MASTER_NODE" ]] && echo cloud || echo edge)"
    node_provision_disk "$n" "$ip"
    node_boot "$n"
  done
  log "nodes booted (containerd running) in $((SECONDS - step)) s: ${nodes[*]}"

  step=$SECONDS
  load_node_images "$MASTER_NODE" pause etcd kube-apiserver kube-controller-manager kube-scheduler busybox
  for n in "${nodes[@]:1}"; do load_node_images "$n" pause busybox; done
  log "images imported in $((SECONDS - step)) s"

  step=$SECONDS
  local token
  token="$(openssl rand -hex 3).$(openssl rand -hex 8)"
  kubeadm_init_config "$token" >"$(node_disk "$MASTER_NODE")/etc/kubernetes/kubeadm-config.yaml"
  log "kubeadm init on $MASTER_NODE"
  if ! node_exec "$MASTER_NODE" kubeadm init --config /etc/kubernetes/kubeadm-config.yaml \
    >>"$E2E_DIR/nodes/$MASTER_NODE/kubeadm.log" 2>&1; then
    log_tail "$E2E_DIR/nodes/$MASTER_NODE/kubeadm.log"
    log_tail "$(node_disk "$MASTER_NODE")/var/log/kubelet.log"
    die "kubeadm init failed"
  fi
  cp "$(node_disk "$MASTER_NODE")/etc/kubernetes/admin.conf" "$E2E_DIR/admin.conf"
  log "control plane up in $((SECONDS - step)) s"

  step=$SECONDS
  local ca_hash
  ca_hash="sha256:$(openssl x509 -pubkey -noout -in "$(node_disk "$MASTER_NODE")/etc/kubernetes/pki/ca.crt" |
    openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)"
  echo "$token" >"$E2E_DIR/join-token"
  echo "$ca_hash" >"$E2E_DIR/ca-cert-hash"
  for n in "${nodes[@]:1}"; do
    log "kubeadm join on $n"
    kubeadm_join "$n" "$token" "$ca_hash" || {
      log_tail "$E2E_DIR/nodes/$n/kubeadm.log"
      log_tail "$(node_disk "$n")/var/log/kubelet.log"
      die "kubeadm join failed on $n"
    }
  done
  for n in "${nodes[@]}"; do
    wait_for "node $n Ready" 180 admin_kubectl wait --for=condition=Ready "node/$n" --timeout=5s || {
      log_tail "$(node_disk "$n")/var/log/kubelet.log"
      die "node $n did not become Ready"
    }
  done
  log "nodes joined and Ready in $((SECONDS - step)) s"
  log "cluster up in $((SECONDS - started)) s — $(cluster_sh_env_hint)"
}

cluster_sh_env_hint() { echo "eval \"\$(test/e2e/cluster.sh env)\" to use kubectl"; }

cluster_down() {
  local n
  for n in $(node_names); do node_poweroff "$n"; done
  # Processes a node left behind (none should survive its PID namespace, but be sure).
  for n in $(node_names); do
    node_net_down "$n"
    node_cgroups_cleanup "$n"
  done
  net_down
  rm -rf "$E2E_DIR"
  log "cluster down"
}

# yurthub on a node, installed the way a node servant does it (docs/yurthub.md). Sourced by
# cluster.sh:
#   cluster.sh hub-on NODE    image loaded, static pod manifest written, serving CSR approved,
#                             the kubelet's kubeconfig pointed at http://127.0.0.1:10261
#                             (backup kept), kubelet restarted, node Ready through the hub
#   cluster.sh hub-off NODE   the kubelet's kubeconfig restored, kubelet restarted, hub removed
# The image comes from scripts/build-image.sh: $YURTHUB_IMAGE_TAR, else
# build/{release,ci}/images/yurthub.tar, made from that build's binary when missing.
# shellcheck shell=bash

YURTHUB_IMAGE_TAR=${YURTHUB_IMAGE_TAR:-}
HUB_MANIFEST=/etc/kubernetes/manifests/yurthub.yaml
HUB_KUBECONFIG_BACKUP=/etc/kubernetes/kubelet.conf.yurthub-backup
HUB_FLAGS_ENV=/var/lib/kubelet/kubeadm-flags.env
HUB_FLAGS_BACKUP=/var/lib/kubelet/kubeadm-flags.env.yurthub-backup
# The nodes of this harness share the host's file system outside their bind-mounted "disk";
# /opt/yurt is on the node's own disk, so the hub's state lives there and survives reboots.
HUB_HOST_DIR=/opt/yurt/yurthub

# The image archive to load: the given one, or one built from the newest yurthub binary of the
# release or ci build.
hub_image_tar() {
  if [[ -n $YURTHUB_IMAGE_TAR ]]; then
    echo "$YURTHUB_IMAGE_TAR"
    return
  fi
  local preset bin newest=""
  for preset in release ci; do
    bin=$REPO_ROOT/build/$preset/cmd/yurthub
    [[ -x $bin ]] || continue
    if [[ -z $newest || $bin -nt $newest ]]; then newest=$bin; fi
  done
  [[ -n $newest ]] || return 1
  local dir tar
  dir=$(dirname "$(dirname "$newest")")
  tar=$dir/images/yurthub.tar
  if [[ ! -f $tar || $newest -nt $tar ]]; then
    "$REPO_ROOT/scripts/build-image.sh" --build-dir "$dir" yurthub >&2 || return 1
  fi
  echo "$tar"
}

hub_image_ref() {
  tar -xOf "$YURTHUB_IMAGE_TAR" manifest.json | grep -o '"RepoTags":\["[^"]*"' | cut -d'"' -f4
}

# The kubeconfig OpenYurt's node servant gives the kubelet: plain HTTP to the hub on loopback.
# The client certificate stays so that the kubelet's own certificate rotation keeps working.
hub_kubelet_conf() {
  cat <<'YAML'
apiVersion: v1
kind: Config
clusters:
  - name: default-cluster
    cluster:
      server: http://127.0.0.1:10261
contexts:
  - name: default-context
    context:
      cluster: default-cluster
      namespace: default
      user: default-auth
current-context: default-context
users:
  - name: default-auth
    user:
      client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem
      client-key: /var/lib/kubelet/pki/kubelet-client-current.pem
YAML
}

hub_healthy() { node_exec "$1" curl -sf --max-time 2 http://127.0.0.1:10267/v1/healthz; }
hub_gone() { ! hub_healthy "$1"; }
hub_online() {
  node_exec "$1" curl -sf --max-time 2 http://127.0.0.1:10267/metrics | grep -qx 'yurthub_online 1'
}
# The apiserver the node's kubelet was joined to (its kubeconfig before we changed it).
hub_node_server() {
  local disk=$1 conf
  conf=$disk$HUB_KUBECONFIG_BACKUP
  [[ -f $conf ]] || conf=$disk/etc/kubernetes/kubelet.conf
  sed -n 's/^ *server: *//p' "$conf" | head -1
}
hub_ready() { node_exec "$1" curl -sf --max-time 2 http://127.0.0.1:10267/v1/readyz; }
# The kubelet's requests reach the apiserver through the hub.
hub_serves_kubelet() {
  node_exec "$1" curl -sf --max-time 2 http://127.0.0.1:10267/metrics |
    grep -q 'yurthub_requests_total{component="kubelet"'
}
node_ready() {
  [[ $(admin_kubectl get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

# Approves the hub's kubelet-serving CSRs (what yurt-controller-manager will do): exactly the
# shape the hub asks for, from this node, until the hub reports its serving certificate.
hub_serving_ready() {
  node_exec "$1" curl -sf --max-time 2 http://127.0.0.1:10267/metrics |
    grep -qx 'yurthub_certificate_ready{certificate="serving"} 1'
}
hub_approve_serving_csr() {
  local node=$1 name
  for _ in $(seq 60); do
    hub_serving_ready "$node" && return 0
    for name in $(admin_kubectl get csr -o jsonpath="{range .items[?(@.spec.signerName==\"kubernetes.io/kubelet-serving\")]}{.metadata.name} {.spec.username} {.status.conditions[0].type}{'\n'}{end}" |
      awk -v u="system:node:$node" '$1 ~ /^yurthub-serving-/ && $2 == u && $3 == "" {print $1}'); do
      admin_kubectl certificate approve "$name" >/dev/null && log "$node: approved the hub's serving CSR $name"
    done
    sleep 0.5
  done
  log "$node: the hub has no serving certificate after 30 s (the secure proxy :10268 stays off)"
}

hub_on() {
  local node=$1 disk image server tmp started=$SECONDS
  YURTHUB_IMAGE_TAR=$(hub_image_tar) && [[ -f $YURTHUB_IMAGE_TAR ]] ||
    die "no yurthub image — build it: cmake --preset release &&" \
      "cmake --build build/release --target yurthub && scripts/build-image.sh yurthub"
  disk=$(node_disk "$node")
  image=$(hub_image_ref)
  [[ -n $image ]] || die "cannot read the image name from $YURTHUB_IMAGE_TAR"
  server=$(hub_node_server "$disk")
  [[ $server == https://* ]] || die "cannot tell $node's apiserver from its kubelet.conf (got '$server')"

  node_exec "$node" ctr -n k8s.io images import "$YURTHUB_IMAGE_TAR" >/dev/null ||
    die "importing $YURTHUB_IMAGE_TAR into $node failed"
  log "$node: image $image loaded"

  mkdir -p "$disk$HUB_HOST_DIR" "$disk/etc/kubernetes/manifests"
  if [[ -f $disk$HUB_MANIFEST ]]; then
    # A new image under the same tag: the kubelet restarts the pod only for a changed manifest.
    rm -f "$disk$HUB_MANIFEST"
    wait_for "the previous yurthub to stop on $node" 60 hub_gone "$node" || true
  fi
  tmp=$(mktemp)
  sed -e "s|__NODE_NAME__|$node|g" -e "s|__SERVER_ADDR__|$server|g" -e "s|__IMAGE__|$image|g" \
    -e "s|path: /var/lib/yurthub$|path: $HUB_HOST_DIR|" \
    "$REPO_ROOT/deploy/manifests/yurthub.yaml" >"$tmp"
  mv "$tmp" "$disk$HUB_MANIFEST"
  log "$node: static pod manifest written to $HUB_MANIFEST"
  wait_for "yurthub healthy on $node" 120 hub_healthy "$node" ||
    { log_tail "$disk/var/log/kubelet.log" 20; die "yurthub did not start on $node"; }
  wait_for "yurthub ready on $node" 60 hub_ready "$node" || die "yurthub not ready on $node"
  wait_for "yurthub online ($server) on $node" 60 hub_online "$node" ||
    die "yurthub on $node does not reach $server"
  log "$node: yurthub healthy, ready and online ($server)"

  local conf=$disk/etc/kubernetes/kubelet.conf flags=$disk$HUB_FLAGS_ENV
  [[ -f $disk$HUB_KUBECONFIG_BACKUP ]] || cp -p "$conf" "$disk$HUB_KUBECONFIG_BACKUP"
  tmp=$(mktemp "$disk/etc/kubernetes/.kubelet.conf.XXXXXX")
  hub_kubelet_conf >"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$conf"
  # No TLS bootstrap any more (its check wants a TLS kubeconfig): OpenYurt's servant appends an
  # empty --bootstrap-kubeconfig to the kubelet's kubeadm flags; the last flag wins.
  [[ -f $disk$HUB_FLAGS_BACKUP ]] || cp -p "$flags" "$disk$HUB_FLAGS_BACKUP"
  if ! grep -q -- '--bootstrap-kubeconfig= ' "$flags"; then
    sed -i 's|^KUBELET_KUBEADM_ARGS="\(.*\)"$|KUBELET_KUBEADM_ARGS="\1 --bootstrap-kubeconfig= "|' "$flags"
  fi
  node_exec "$node" systemctl restart kubelet >/dev/null
  log "$node: kubelet pointed at http://127.0.0.1:10261 (backup $HUB_KUBECONFIG_BACKUP), restarted"
  hub_approve_serving_csr "$node"
  wait_for "$node Ready through the hub" 120 node_ready "$node" || die "$node not Ready"
  wait_for "kubelet requests through the hub on $node" 60 hub_serves_kubelet "$node" ||
    die "the kubelet on $node does not use the hub"
  log "$node: Ready through yurthub ($((SECONDS - started)) s)"
}

hub_off() {
  local node=$1 disk
  disk=$(node_disk "$node")
  if [[ -f $disk$HUB_KUBECONFIG_BACKUP ]]; then
    mv "$disk$HUB_KUBECONFIG_BACKUP" "$disk/etc/kubernetes/kubelet.conf"
    [[ -f $disk$HUB_FLAGS_BACKUP ]] && mv "$disk$HUB_FLAGS_BACKUP" "$disk$HUB_FLAGS_ENV"
    node_exec "$node" systemctl restart kubelet >/dev/null
  fi
  rm -f "$disk$HUB_MANIFEST"
  log "$node: kubelet talks to the apiserver directly again; yurthub removed"
}

# yurt-tunnel-server and yurt-tunnel-agent on the cluster (docs/yurt-tunnel.md). Sourced by
# cluster.sh:
#   cluster.sh tunnel-on [--mode egress|dnat] [--transport tcp|uds]
#       edge nodes labelled openyurt.io/is-edge-worker=true; images built and loaded; the server's
#       certificate issued from the cluster CA into a Secret; server Deployment and agent
#       DaemonSet applied; every agent connected. egress: kube-apiserver gets an
#       EgressSelectorConfiguration (selection cluster, HTTPConnect over TCP with mTLS, or the
#       Unix socket) and restarts. dnat: the apiserver's manifest is restored if changed, the
#       server redirects with iptables.
#   cluster.sh tunnel-off
#       both removed, the apiserver's manifest restored, labels removed.
# Binaries come from $TUNNEL_BUILD_DIR (default: the newer of build/release and build/ci;
# cmake --build build/release --target yurt-tunnel-server yurt-tunnel-agent); images are made
# with scripts/build-image.sh into $TUNNEL_BUILD_DIR/images.
# shellcheck shell=bash

# The newest yurt-tunnel-server of the release and ci builds (scripts/test.sh builds ci).
if [[ -z ${TUNNEL_BUILD_DIR:-} ]]; then
  for tunnel_d in "$REPO_ROOT/build/release" "$REPO_ROOT/build/ci"; do
    [[ -x $tunnel_d/cmd/yurt-tunnel-server ]] || continue
    if [[ -z ${TUNNEL_BUILD_DIR:-} || $tunnel_d/cmd/yurt-tunnel-server -nt $TUNNEL_BUILD_DIR/cmd/yurt-tunnel-server ]]; then
      TUNNEL_BUILD_DIR=$tunnel_d
    fi
  done
fi
TUNNEL_BUILD_DIR=${TUNNEL_BUILD_DIR:-$REPO_ROOT/build/release}
TUNNEL_IMAGE_DIR=${TUNNEL_IMAGE_DIR:-$TUNNEL_BUILD_DIR/images}
TUNNEL_AGENT_PORT=10262
TUNNEL_EGRESS_PORT=10269
TUNNEL_META_PORT=10265
# On master-node's disk: the egress configuration (its own directory, mounted into the apiserver)
# and the original apiserver manifest, kept outside the static pod directory.
TUNNEL_CONF_DIR=/etc/kubernetes/yurt-tunnel
TUNNEL_EGRESS_CONFIG=$TUNNEL_CONF_DIR/egress-selector.yaml
TUNNEL_APISERVER_BACKUP=$TUNNEL_CONF_DIR/kube-apiserver.yaml.orig
APISERVER_MANIFEST=/etc/kubernetes/manifests/kube-apiserver.yaml

tunnel_image_ref() {
  tar -xOf "$1" manifest.json | grep -o '"RepoTags":\["[^"]*"' | cut -d'"' -f4
}

# The server's image also carries iptables (xtables-nft, its libraries and extensions) for DNAT
# mode: added to the rootfs scripts/build-image.sh staged, then the archive is made again.
tunnel_add_iptables() {
  local rootfs=$TUNNEL_IMAGE_DIR/yurt-tunnel-server/rootfs ref=$1 multi lib f
  multi=$(realpath "$(command -v xtables-nft-multi)")
  [[ -x $multi ]] || die "xtables-nft-multi not found (apt-get install iptables)"
  install -D -m 0755 "$multi" "$rootfs/usr/sbin/xtables-nft-multi"
  for f in iptables iptables-restore iptables-save; do ln -sf xtables-nft-multi "$rootfs/usr/sbin/$f"; done
  for lib in $(ldd "$multi" | grep -o '/[^ ]*'); do
    install -D -m "$(stat -c %a "$(realpath "$lib")")" "$(realpath "$lib")" "$rootfs$lib"
  done
  # Match and target extensions are dlopen()ed: not in ldd's list.
  local xt
  xt=$(dirname "$(realpath "$(find /usr/lib -name libxt_comment.so -print -quit)")")
  mkdir -p "$rootfs$xt"
  cp -a "$xt"/. "$rootfs$xt/"
  # shellcheck source=../../../scripts/lib/image.sh
  source "$REPO_ROOT/scripts/lib/image.sh"
  mkimage "$ref" "$TUNNEL_IMAGE_DIR/yurt-tunnel-server.tar" "$rootfs" \
    '{"Entrypoint":["/usr/local/bin/yurt-tunnel-server"],"Env":["PATH=/usr/local/bin:/usr/sbin:/bin"],"User":"0"}'
}

tunnel_build_images() {
  local b staged=$TUNNEL_IMAGE_DIR/stripped
  mkdir -p "$staged/cmd"
  for b in yurt-tunnel-server yurt-tunnel-agent; do
    [[ -x $TUNNEL_BUILD_DIR/cmd/$b ]] ||
      die "no $b under $TUNNEL_BUILD_DIR/cmd — build it: cmake --preset release &&" \
        "cmake --build build/release --target yurt-tunnel-server yurt-tunnel-agent" \
        "(or set TUNNEL_BUILD_DIR)"
    # Without debug information (a RelWithDebInfo binary is ~90 MB, stripped ~5 MB): the image
    # is imported into every node.
    strip -o "$staged/cmd/$b" "$TUNNEL_BUILD_DIR/cmd/$b" || die "strip $b failed"
  done
  "$REPO_ROOT/scripts/build-image.sh" --build-dir "$staged" --out-dir "$TUNNEL_IMAGE_DIR" \
    yurt-tunnel-server yurt-tunnel-agent >/dev/null || die "building the tunnel images failed"
  tunnel_add_iptables "$(tunnel_image_ref "$TUNNEL_IMAGE_DIR/yurt-tunnel-server.tar")"
}

tunnel_edge_nodes() { node_names | grep -vx "$MASTER_NODE"; }
# From the running cluster's records: E2E_SUBNET_PREFIX need not be set again for later commands.
tunnel_master_ip() { node_ip "$MASTER_NODE"; }

# The server's serving certificate, from the cluster CA (what a CSR approved by
# yurt-controller-manager would give): SANs for the master's address, loopback (the apiserver's
# egress dialer uses https://127.0.0.1:10269) and the Service names.
tunnel_issue_server_cert() {
  local pki work
  pki=$(node_disk "$MASTER_NODE")/etc/kubernetes/pki
  work=$(mktemp -d)
  cat >"$work/ext.cnf" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:$(tunnel_master_ip), IP:127.0.0.1, DNS:yurt-tunnel-server, DNS:x-tunnel-server-svc, DNS:x-tunnel-server-svc.kube-system, DNS:x-tunnel-server-svc.kube-system.svc
EOF
  openssl ecparam -name prime256v1 -genkey -noout -out "$work/tls.key" 2>/dev/null
  openssl req -new -key "$work/tls.key" -subj "/CN=yurt-tunnel-server" -out "$work/tls.csr" 2>/dev/null
  openssl x509 -req -in "$work/tls.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 365 -extfile "$work/ext.cnf" -out "$work/tls.crt" 2>/dev/null ||
    die "signing the tunnel server's certificate failed"
  admin_kubectl -n kube-system create secret generic yurt-tunnel-server-tls \
    --from-file=tls.crt="$work/tls.crt" --from-file=tls.key="$work/tls.key" \
    --from-file=ca.crt="$pki/ca.crt" --dry-run=client -o yaml | admin_kubectl apply -f - >/dev/null
  rm -rf "$work"
}

tunnel_server_metric() {
  node_exec "$MASTER_NODE" curl -sf --max-time 2 "http://127.0.0.1:$TUNNEL_META_PORT/metrics" |
    awk -v m="$1" '$1 == m {print $2}'
}
tunnel_agents_connected() {
  local want=$1
  [[ $(tunnel_server_metric yurt_tunnel_server_agents_connected) == "$want" ]]
}
tunnel_server_pods_gone() {
  [[ -z $(admin_kubectl -n kube-system get pods -l k8s-app=yurt-tunnel-server -o name 2>/dev/null) ]]
}
tunnel_server_ready() {
  node_exec "$MASTER_NODE" curl -sf --max-time 2 "http://127.0.0.1:$TUNNEL_META_PORT/readyz" >/dev/null
}

apiserver_ready() { admin_kubectl get --raw /readyz >/dev/null 2>&1; }
apiserver_has_egress() {
  node_exec "$MASTER_NODE" sh -c 'for p in /proc/[0-9]*; do tr "\0" " " <$p/cmdline 2>/dev/null; echo; done' |
    grep '^kube-apiserver ' | grep -q -- --egress-selector-config-file
}
apiserver_without_egress() {
  node_exec "$MASTER_NODE" sh -c 'for p in /proc/[0-9]*; do tr "\0" " " <$p/cmdline 2>/dev/null; echo; done' |
    grep '^kube-apiserver ' | grep -vq -- --egress-selector-config-file
}

tunnel_egress_config() {
  local transport=$1
  cat <<EOF
apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
  - name: cluster
    connection:
      proxyProtocol: HTTPConnect
      transport:
EOF
  if [[ $transport == uds ]]; then
    cat <<EOF
        uds:
          udsName: /run/yurt-tunnel/egress.sock
EOF
  else
    cat <<EOF
        tcp:
          url: https://127.0.0.1:$TUNNEL_EGRESS_PORT
          tlsConfig:
            caBundle: /etc/kubernetes/pki/ca.crt
            clientCert: /etc/kubernetes/pki/apiserver-kubelet-client.crt
            clientKey: /etc/kubernetes/pki/apiserver-kubelet-client.key
EOF
  fi
}

# Adds --egress-selector-config-file and the mounts it needs to the static pod manifest, as
# `yurtctl convert` will (the original is kept in $TUNNEL_APISERVER_BACKUP).
tunnel_patch_apiserver() {
  local manifest=$1
  python3 - "$manifest" "$TUNNEL_EGRESS_CONFIG" "$TUNNEL_CONF_DIR" <<'PY'
import sys, yaml
path, config, conf_dir = sys.argv[1:4]
with open(path) as f:
    pod = yaml.safe_load(f)
c = pod["spec"]["containers"][0]
c["command"] = [a for a in c["command"] if not a.startswith("--egress-selector-config-file=")]
c["command"].append("--egress-selector-config-file=" + config)
mounts = [m for m in c.get("volumeMounts", []) if m["name"] not in ("yurt-tunnel-conf", "yurt-tunnel-socket")]
mounts += [{"name": "yurt-tunnel-conf", "mountPath": conf_dir, "readOnly": True},
           {"name": "yurt-tunnel-socket", "mountPath": "/run/yurt-tunnel"}]
c["volumeMounts"] = mounts
vols = [v for v in pod["spec"].get("volumes", []) if v["name"] not in ("yurt-tunnel-conf", "yurt-tunnel-socket")]
vols += [{"name": "yurt-tunnel-conf", "hostPath": {"path": conf_dir, "type": "Directory"}},
         {"name": "yurt-tunnel-socket", "hostPath": {"path": "/run/yurt-tunnel", "type": "DirectoryOrCreate"}}]
pod["spec"]["volumes"] = vols
tmp = path + ".tmp"
with open(tmp, "w") as f:
    yaml.safe_dump(pod, f, default_flow_style=False, sort_keys=False)
import os
os.replace(tmp, path)
PY
}

tunnel_restore_apiserver() {
  local disk
  disk=$(node_disk "$MASTER_NODE")
  [[ -f $disk$TUNNEL_APISERVER_BACKUP ]] || return 0
  cp "$disk$TUNNEL_APISERVER_BACKUP" "$disk$APISERVER_MANIFEST.tmp"
  mv "$disk$APISERVER_MANIFEST.tmp" "$disk$APISERVER_MANIFEST"
  rm -f "$disk$TUNNEL_APISERVER_BACKUP"
  log "kube-apiserver manifest restored; waiting for it to restart without the egress selector"
  wait_for "kube-apiserver without the egress selector" 240 apiserver_without_egress ||
    die "kube-apiserver did not restart"
  wait_for "kube-apiserver ready" 120 apiserver_ready || die "kube-apiserver not ready"
}

tunnel_on() {
  local mode=egress transport=tcp started=$SECONDS disk n edges server_image agent_image tmp
  while (($#)); do
    case $1 in
      --mode) mode=${2:?--mode needs egress or dnat}; shift 2 ;;
      --mode=*) mode=${1#*=}; shift ;;
      --transport) transport=${2:?--transport needs tcp or uds}; shift 2 ;;
      --transport=*) transport=${1#*=}; shift ;;
      *) die "tunnel-on: unknown flag '$1'" ;;
    esac
  done
  [[ $mode == egress || $mode == dnat ]] || die "tunnel-on: --mode must be egress or dnat"
  [[ $transport == tcp || $transport == uds ]] || die "tunnel-on: --transport must be tcp or uds"
  disk=$(node_disk "$MASTER_NODE")

  tunnel_build_images
  server_image=$(tunnel_image_ref "$TUNNEL_IMAGE_DIR/yurt-tunnel-server.tar")
  agent_image=$(tunnel_image_ref "$TUNNEL_IMAGE_DIR/yurt-tunnel-agent.tar")
  node_exec "$MASTER_NODE" ctr -n k8s.io images import "$TUNNEL_IMAGE_DIR/yurt-tunnel-server.tar" >/dev/null ||
    die "importing the server image into $MASTER_NODE failed"
  edges=$(tunnel_edge_nodes)
  for n in $edges; do
    node_exec "$n" ctr -n k8s.io images import "$TUNNEL_IMAGE_DIR/yurt-tunnel-agent.tar" >/dev/null ||
      die "importing the agent image into $n failed"
  done
  log "images $server_image and $agent_image loaded"

  admin_kubectl label node "$MASTER_NODE" openyurt.io/is-edge-worker=false --overwrite >/dev/null
  for n in $edges; do
    admin_kubectl label node "$n" openyurt.io/is-edge-worker=true --overwrite >/dev/null
  done
  log "edge nodes labelled openyurt.io/is-edge-worker=true: $(echo $edges)"

  tunnel_issue_server_cert
  log "server certificate issued from the cluster CA (Secret kube-system/yurt-tunnel-server-tls)"

  tmp=$(mktemp)
  sed -e "s|__IMAGE__|$server_image|g" -e "s|__APISERVER_HOST__|$(tunnel_master_ip)|g" \
    -e "s|__APISERVER_PORT__|6443|g" \
    -e "s|__ENABLE_IPTABLES__|$([[ $mode == dnat ]] && echo true || echo false)|g" \
    "$REPO_ROOT/deploy/manifests/yurt-tunnel-server.yaml" >"$tmp"
  admin_kubectl apply -f "$tmp" >/dev/null || die "applying the server manifest failed"
  sed -e "s|__IMAGE__|$agent_image|g" -e "s|__SERVER_ADDR__|$(tunnel_master_ip):$TUNNEL_AGENT_PORT|g" \
    "$REPO_ROOT/deploy/manifests/yurt-tunnel-agent.yaml" >"$tmp"
  admin_kubectl apply -f "$tmp" >/dev/null || die "applying the agent manifest failed"
  rm -f "$tmp"
  # A changed image or mode must take effect even when the manifests' text did not change.
  admin_kubectl -n kube-system rollout restart deployment/yurt-tunnel-server >/dev/null
  admin_kubectl -n kube-system rollout restart daemonset/yurt-tunnel-agent >/dev/null
  admin_kubectl -n kube-system rollout status deployment/yurt-tunnel-server --timeout=180s >/dev/null ||
    { admin_kubectl -n kube-system logs deploy/yurt-tunnel-server --tail=30 >&2 || true; die "yurt-tunnel-server did not become ready"; }
  admin_kubectl -n kube-system rollout status daemonset/yurt-tunnel-agent --timeout=180s >/dev/null ||
    die "yurt-tunnel-agent did not become ready"
  wait_for "$(echo $edges | wc -w) agents connected" 120 tunnel_agents_connected "$(echo $edges | wc -w)" ||
    die "agents did not connect (server metrics: $(tunnel_server_metric yurt_tunnel_server_agents_connected))"
  log "server ready, $(echo $edges | wc -w) agents connected"

  if [[ $mode == egress ]]; then
    mkdir -p "$disk$TUNNEL_CONF_DIR"
    [[ -f $disk$TUNNEL_APISERVER_BACKUP ]] || cp -p "$disk$APISERVER_MANIFEST" "$disk$TUNNEL_APISERVER_BACKUP"
    tunnel_egress_config "$transport" >"$disk$TUNNEL_EGRESS_CONFIG"
    cp "$disk$TUNNEL_APISERVER_BACKUP" "$disk$APISERVER_MANIFEST.yurt-tunnel"
    tunnel_patch_apiserver "$disk$APISERVER_MANIFEST.yurt-tunnel"
    # Only a changed manifest restarts the apiserver; the transport lives in the config file.
    if cmp -s "$disk$APISERVER_MANIFEST.yurt-tunnel" "$disk$APISERVER_MANIFEST"; then
      rm -f "$disk$APISERVER_MANIFEST.yurt-tunnel"
      if [[ $(cat "$disk$TUNNEL_CONF_DIR/transport" 2>/dev/null) != "$transport" ]]; then
        node_exec "$MASTER_NODE" sh -c 'kill $(pgrep -x kube-apiserver)' || true
        sleep 2
      fi
    else
      mv "$disk$APISERVER_MANIFEST.yurt-tunnel" "$disk$APISERVER_MANIFEST"
    fi
    echo "$transport" >"$disk$TUNNEL_CONF_DIR/transport"
    log "kube-apiserver: egress selector 'cluster' → yurt-tunnel-server ($transport); waiting for the restart"
    wait_for "kube-apiserver with the egress selector" 240 apiserver_has_egress ||
      die "kube-apiserver did not restart with --egress-selector-config-file"
    wait_for "kube-apiserver ready" 180 apiserver_ready || die "kube-apiserver not ready after the change"
  else
    tunnel_restore_apiserver
    wait_for "DNAT rules installed" 60 bash -c "[[ \$(ip netns exec $(node_netns "$MASTER_NODE") iptables -t nat -S YURT-TUNNEL 2>/dev/null | grep -c DNAT) -gt 0 ]]" ||
      die "no DNAT rules in $MASTER_NODE"
  fi
  log "tunnel on ($mode$([[ $mode == egress ]] && echo ", $transport")) in $((SECONDS - started)) s"
}

tunnel_off() {
  local n
  tunnel_restore_apiserver
  admin_kubectl delete -f "$REPO_ROOT/deploy/manifests/yurt-tunnel-agent.yaml" --ignore-not-found --wait=true >/dev/null 2>&1 || true
  admin_kubectl delete -f "$REPO_ROOT/deploy/manifests/yurt-tunnel-server.yaml" --ignore-not-found --wait=true >/dev/null 2>&1 || true
  admin_kubectl -n kube-system delete secret yurt-tunnel-server-tls --ignore-not-found >/dev/null
  # The server removes its iptables rules when it stops (SIGTERM): check it did.
  wait_for "yurt-tunnel-server pod gone" 60 tunnel_server_pods_gone || true
  if ip netns exec "$(node_netns "$MASTER_NODE")" iptables -t nat -S 2>/dev/null | grep -q YURT-TUNNEL; then
    log "warning: YURT-TUNNEL rules left in $MASTER_NODE's nat table"
  fi
  for n in $(node_names); do
    admin_kubectl label node "$n" openyurt.io/is-edge-worker- >/dev/null 2>&1 || true
  done
  rm -rf "$(node_disk "$MASTER_NODE")$TUNNEL_CONF_DIR"
  log "tunnel off: server and agents removed, kube-apiserver as before"
}

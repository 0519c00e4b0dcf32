# Nodes as namespaces: network (own address on the bridge), mount (own /etc/kubernetes,
# /var/lib/kubelet, /var/lib/containerd, /var/log, fresh /run), PID and UTS. Sourced.
# shellcheck shell=bash

# Every kubelet and containerd holds several inotify instances (CA files, CNI config, logs),
# and all nodes of all clusters on this machine share the kernel's per-user limit: Debian's 128
# runs out at about three nodes, and then containerd loads without its CRI plugin. Raise the
# limits as a host running several kubelets would (never lower them).
raise_inotify_limits() {
  local kv key want have
  for kv in fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=1048576; do
    key=${kv%=*} want=${kv#*=}
    have=$(sysctl -n "$key")
    ((have >= want)) || sysctl -qw "$key=$want"
  done
}

# The host side: one bridge, the host's address on it, forwarding for nothing else.
net_up() {
  raise_inotify_limits
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$HOST_IP/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
  fi
}

net_down() {
  ip link del "$BRIDGE" 2>/dev/null || true
}

# node_net_up NODE IP ROLE: a netns with eth0 on the bridge. Edge nodes get a stateful firewall
# that refuses new inbound connections, as the home router's NAT would.
node_net_up() {
  local node=$1 ip=$2 role=$3 ns veth
  ns=$(node_netns "$node")
  veth=$(node_veth "$node")
  ip netns list | grep -q "^$ns\( \|$\)" && return
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$BRIDGE" up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$HOST_IP"
  # Chains of our own, so kube components' rules and ours never collide.
  ip netns exec "$ns" iptables -w -N YURT-LINK-IN
  ip netns exec "$ns" iptables -w -N YURT-LINK-OUT
  ip netns exec "$ns" iptables -w -I INPUT 1 -j YURT-LINK-IN
  ip netns exec "$ns" iptables -w -I OUTPUT 1 -j YURT-LINK-OUT
  if [[ $role == edge ]]; then
    ip netns exec "$ns" iptables -w -N YURT-NAT
    ip netns exec "$ns" iptables -w -A YURT-NAT -i lo -j ACCEPT
    ip netns exec "$ns" iptables -w -A YURT-NAT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    ip netns exec "$ns" iptables -w -A YURT-NAT -i eth0 -p tcp -j REJECT --reject-with tcp-reset
    ip netns exec "$ns" iptables -w -A YURT-NAT -i eth0 -j REJECT
    ip netns exec "$ns" iptables -w -A INPUT -j YURT-NAT
  fi
}

# A netns (and its veth) lives until its last process exits: make sure none is left first.
node_net_down() {
  local ns pids
  ns=$(node_netns "$1")
  if ip netns list | grep -qx "$ns\( (id: [0-9]*)\)\{0,1\}"; then
    for _ in $(seq 100); do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [[ -z $pids ]] && break
      # shellcheck disable=SC2086
      kill -9 $pids 2>/dev/null || true
      sleep 0.1
    done
    ip netns del "$ns" 2>/dev/null || true
  fi
  local veth
  veth=$(node_veth "$1")
  for _ in $(seq 50); do
    ip link show "$veth" >/dev/null 2>&1 || return 0
    sleep 0.1
  done
  ip link del "$veth" 2>/dev/null || true
}

# The uplink is cut in both directions; established connections stall, as when a 4G link drops.
node_disconnect() {
  local ns
  ns=$(node_netns "$1")
  ip netns exec "$ns" iptables -w -F YURT-LINK-IN
  ip netns exec "$ns" iptables -w -F YURT-LINK-OUT
  ip netns exec "$ns" iptables -w -A YURT-LINK-IN -i eth0 -j DROP
  ip netns exec "$ns" iptables -w -A YURT-LINK-OUT -o eth0 -j DROP
}

node_reconnect() {
  local ns
  ns=$(node_netns "$1")
  ip netns exec "$ns" iptables -w -F YURT-LINK-IN
  ip netns exec "$ns" iptables -w -F YURT-LINK-OUT
}

# Without CAP_SYS_RESOURCE no pod can start under plain runc (see node/runc): use the wrapper.
runc_binary_option() {
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  if (((0x$bnd >> 24 & 1) == 0)); then
    printf '\n        BinaryName = "%s"' "$E2E_ROOT/node/runc"
  fi
}

# Files a freshly installed host would have: containerd's config and the walkthrough's loopback
# CNI config. Written once; the node's tools may change them later, as on a real host.
node_provision_disk() {
  local node=$1 ip=$2 disk
  disk=$(node_disk "$node")
  mkdir -p "$disk"/{etc/containerd,etc/cni/net.d,etc/default,etc/kubernetes,var/log}
  cat >"$disk/etc/containerd/config.toml" <<TOML
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false$(runc_binary_option)
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
TOML
  echo '{"cniVersion":"0.3.0","name":"lo","type":"loopback"}' >"$disk/etc/cni/net.d/0-loopback.conf"
  # Per-host kubelet flags, as /etc/default/kubelet carries them on a kubeadm host. Two kubelets
  # share this kernel, so each gets its own cgroup root.
  echo "KUBELET_EXTRA_ARGS=\"--node-ip=$ip --cgroup-root=$(node_cgroup_root "$node")\"" >"$disk/etc/default/kubelet"
}

# Boots a node: its init becomes PID 1 of fresh PID/mount/UTS namespaces inside its netns.
node_boot() {
  local node=$1 dir=$E2E_DIR/nodes/$1 ns
  ns=$(node_netns "$node")
  [[ -n $(node_pid "$node") ]] && return
  mkdir -p "$dir"
  setsid nsenter --net="/run/netns/$ns" \
    unshare --mount --pid --uts --fork --mount-proc --kill-child \
    "$E2E_ROOT/node/node-init.sh" "$node" "$(node_disk "$node")" "$E2E_DIR/bin" "$(node_cgroup_root "$node")" \
    </dev/null >>"$dir/console.log" 2>&1 &
  local unshare_pid=$! child=""
  for _ in $(seq 100); do
    child=$(pgrep -P "$unshare_pid" | head -1 || true)
    [[ -n $child ]] && break
    sleep 0.05
  done
  [[ -n $child ]] || die "node $node did not boot (see $dir/console.log)"
  echo "$child" >"$dir/init.pid"
  wait_for "containerd on $node" 30 node_exec "$node" test -S /run/containerd/containerd.sock ||
    { log_tail "$(node_disk "$node")/var/log/containerd.log"; die "containerd did not start on $node"; }
}

# Power cut: PID 1 of the node dies, so the kernel kills every process of its PID namespace —
# kubelet, containerd, shims, containers — at once; its mount namespace and the /run tmpfs go too.
node_poweroff() {
  local node=$1 pid
  pid=$(node_pid "$node")
  [[ -n $pid ]] || return 0
  kill -9 "$pid"
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  rm -f "$E2E_DIR/nodes/$node/init.pid"
}

# node_exec NODE CMD…: runs CMD inside the node, with the node's PATH (upstream binaries, shims).
node_exec() {
  local node=$1 pid
  shift
  pid=$(node_pid "$node")
  [[ -n $pid ]] || { log "node $node is not running"; return 1; }
  nsenter -t "$pid" --net --mount --pid --uts -- env PATH="$E2E_DIR/bin:$K8S_BIN:$PATH" "$@"
}

# Removes a node's cgroups (bottom-up: only empty cgroups can be removed).
node_cgroups_cleanup() {
  local root h
  root=$(node_cgroup_root "$1")
  for h in /sys/fs/cgroup/*/; do
    [[ -d $h$root ]] || continue
    find "$h$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

# Container images built locally — no registry is reachable here, and none is needed (sourced).
# shellcheck shell=bash

# mkimage <ref> <out.tar> <rootfs-dir> <config-json>
# Writes a docker-archive (what `ctr images import` reads): one layer, a config, a manifest.
mkimage() {
  local ref=$1 out=$2 rootfs=$3 config=$4 work
  work=$(mktemp -d)
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" -cf "$work/layer.tar" .
  local diff cfg
  diff=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  mkdir "$work/$diff"
  mv "$work/layer.tar" "$work/$diff/layer.tar"
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$config" "$diff" >"$work/config.json"
  cfg=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  mv "$work/config.json" "$work/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfg" "$ref" "$diff" \
    >"$work/manifest.json"
  tar -C "$work" -cf "$out.tmp" manifest.json "$cfg.json" "$diff"
  mv "$out.tmp" "$out"
  rm -rf "$work"
}

# A rootfs skeleton every image shares: /tmp, /etc/passwd for tools that look up root.
rootfs_skeleton() {
  local root=$1
  mkdir -p "$root"/{tmp,etc,usr/local/bin,bin,var/run}
  chmod 1777 "$root/tmp"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
}

# image_for_binaries <ref> <out.tar> <binary…>: a FROM-scratch image holding static binaries.
image_for_binaries() {
  local ref=$1 out=$2
  shift 2
  local root
  root=$(mktemp -d)
  rootfs_skeleton "$root"
  cp "$@" "$root/usr/local/bin/"
  mkimage "$ref" "$out" "$root" '{"Env":["PATH=/usr/local/bin:/usr/bin:/bin"]}'
  rm -rf "$root"
}

# The images kubeadm expects for the control plane, named as it names them, plus pause and the
# test workload. Cached per Kubernetes version.
build_images() {
  mkdir -p "$IMAGE_CACHE"
  [[ -f $IMAGE_CACHE/.ok ]] && return
  local started=$SECONDS c
  log "building images into $IMAGE_CACHE"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    image_for_binaries "registry.k8s.io/$c:$K8S_VERSION" "$IMAGE_CACHE/$c.tar" "$K8S_BIN/$c"
  done
  image_for_binaries "registry.k8s.io/etcd:${ETCD_VERSION#v}-0" "$IMAGE_CACHE/etcd.tar" "$ETCD_BIN/etcd"

  local root
  root=$(mktemp -d)
  rootfs_skeleton "$root"
  gcc -static -Os -o "$root/pause" "$E2E_ROOT/images/pause.c"
  mkimage "$PAUSE_IMAGE" "$IMAGE_CACHE/pause.tar" "$root" '{"Entrypoint":["/pause"]}'
  rm -rf "$root"

  # The walkthrough's nginx, played by busybox: httpd that logs each request, a shell for exec.
  root=$(mktemp -d)
  rootfs_skeleton "$root"
  cp /bin/busybox "$root/bin/busybox"
  local tool
  for tool in sh ls cat echo sleep wget nc httpd ps date tail head sha256sum dd mkdir env id hostname; do
    ln -s busybox "$root/bin/$tool"
  done
  mkdir -p "$root/www"
  echo 'hello from the edge' >"$root/www/index.html"
  mkimage "$WORKLOAD_IMAGE" "$IMAGE_CACHE/busybox.tar" "$root" \
    '{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]}'
  rm -rf "$root"
  touch "$IMAGE_CACHE/.ok"
  log "images built in $((SECONDS - started)) s"
}

# Container images built locally — no registry is reachable here, and none is needed (sourced).
# shellcheck shell=bash

# shellcheck source=../../../scripts/lib/image.sh
source "$REPO_ROOT/scripts/lib/image.sh"

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

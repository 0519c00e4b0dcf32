# yurt-controller-manager in the cluster, installed as `yurtctl convert` does it
# (docs/controller.md). Sourced by cluster.sh:
#   cluster.sh yurt-controller-on    image loaded on master-node; kube-controller-manager's own
#                                    node lifecycle controller turned off in its static pod
#                                    manifest (backup kept); the Deployment and RBAC applied;
#                                    waits for a leader
#   cluster.sh yurt-controller-off   the Deployment removed, kube-controller-manager restored
# The image is $CONTROLLER_IMAGE_TAR when set, else made by scripts/build-image.sh from the binary
# in $CONTROLLER_BUILD_DIR when set, else from the newer of build/release and build/ci (CI's
# preset) — into <build dir>/images, again only when the binary is newer than the archive.
# shellcheck shell=bash

CONTROLLER_BUILD_DIR=${CONTROLLER_BUILD_DIR:-}
CONTROLLER_IMAGE_TAR=${CONTROLLER_IMAGE_TAR:-}
KCM_MANIFEST=/etc/kubernetes/manifests/kube-controller-manager.yaml
# Outside the manifest directory: the kubelet would run a second controller manager from it.
KCM_MANIFEST_BACKUP=/etc/kubernetes/kube-controller-manager.yaml.yurt-backup
# The controller's name in 1.34 (alias nodelifecycle); "-name" turns it off, "*" keeps the rest.
NLC_OFF=-node-lifecycle-controller

controller_image_ref() {
  tar -xOf "$CONTROLLER_IMAGE_TAR" manifest.json | grep -o '"RepoTags":\["[^"]*"' | cut -d'"' -f4
}

# The --controllers value of the running kube-controller-manager (as the kubelet started it).
kcm_running_controllers() {
  node_exec "$MASTER_NODE" sh -c 'for p in /proc/[0-9]*; do
      tr "\0" "\n" <"$p/cmdline" 2>/dev/null | grep -q "^kube-controller-manager$" || continue
      tr "\0" "\n" <"$p/cmdline" | sed -n "s/^--controllers=//p"; done' 2>/dev/null | head -1
}
kcm_healthy() {
  node_exec "$MASTER_NODE" curl -skf --max-time 2 https://127.0.0.1:10257/healthz >/dev/null
}
kcm_runs_with() { [[ $(kcm_running_controllers) == "$1" ]] && kcm_healthy; }

# Rewrites the --controllers line of kube-controller-manager's static pod manifest to $1 and
# waits until the kubelet restarted it with that value.
kcm_set_controllers() {
  local want=$1 manifest tmp
  manifest=$(node_disk "$MASTER_NODE")$KCM_MANIFEST
  tmp=$(mktemp "$(dirname "$manifest")/.kcm.XXXXXX")
  sed "s|^\(\s*- --controllers=\).*|\1$want|" "$manifest" >"$tmp"
  mv "$tmp" "$manifest"
  wait_for "kube-controller-manager running with --controllers=$want" 180 kcm_runs_with "$want" ||
    die "kube-controller-manager did not restart with --controllers=$want"
}

controller_leader() {
  admin_kubectl -n kube-system get lease yurt-controller-manager \
    -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}
controller_has_leader() { [[ -n $(controller_leader) ]]; }
controller_pods_running() {
  [[ $(admin_kubectl -n kube-system get pods -l app=yurt-controller-manager \
    -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -c '^Running$') == 2 ]]
}

controller_build_image() {
  local preset bin tar
  if [[ -z $CONTROLLER_BUILD_DIR ]]; then
    for preset in release ci; do
      bin=$REPO_ROOT/build/$preset/cmd/yurt-controller-manager
      [[ -x $bin ]] || continue
      if [[ -z $CONTROLLER_BUILD_DIR || $bin -nt $CONTROLLER_BUILD_DIR/cmd/yurt-controller-manager ]]; then
        CONTROLLER_BUILD_DIR=$REPO_ROOT/build/$preset
      fi
    done
  fi
  bin=${CONTROLLER_BUILD_DIR:-$REPO_ROOT/build/release}/cmd/yurt-controller-manager
  [[ -x $bin ]] ||
    die "no $bin — build it: cmake --preset release && cmake --build build/release --target" \
      "yurt-controller-manager (or set CONTROLLER_BUILD_DIR, or CONTROLLER_IMAGE_TAR to an image" \
      "archive)"
  tar=$CONTROLLER_BUILD_DIR/images/yurt-controller-manager.tar
  if [[ ! -f $tar || $bin -nt $tar ]]; then
    "$REPO_ROOT/scripts/build-image.sh" --build-dir "$CONTROLLER_BUILD_DIR" \
      --out-dir "$CONTROLLER_BUILD_DIR/images" yurt-controller-manager >/dev/null ||
      die "building the yurt-controller-manager image failed"
  fi
  CONTROLLER_IMAGE_TAR=$tar
}

yurt_controller_on() {
  local disk image tmp current started=$SECONDS
  if [[ -z $CONTROLLER_IMAGE_TAR ]]; then
    controller_build_image
  fi
  [[ -f $CONTROLLER_IMAGE_TAR ]] || die "no image archive at $CONTROLLER_IMAGE_TAR"
  # ctr runs inside the node, whose working directory is not ours.
  CONTROLLER_IMAGE_TAR=$(realpath "$CONTROLLER_IMAGE_TAR")
  image=$(controller_image_ref)
  [[ -n $image ]] || die "cannot read the image name from $CONTROLLER_IMAGE_TAR"
  node_exec "$MASTER_NODE" ctr -n k8s.io images import "$CONTROLLER_IMAGE_TAR" >/dev/null ||
    die "importing $CONTROLLER_IMAGE_TAR into $MASTER_NODE failed"
  log "$MASTER_NODE: image $image loaded"

  disk=$(node_disk "$MASTER_NODE")
  current=$(sed -n 's/^\s*- --controllers=//p' "$disk$KCM_MANIFEST")
  [[ -n $current ]] || die "no --controllers flag in $KCM_MANIFEST"
  if [[ ,$current, != *",$NLC_OFF,"* ]]; then
    [[ -f $disk$KCM_MANIFEST_BACKUP ]] || cp -p "$disk$KCM_MANIFEST" "$disk$KCM_MANIFEST_BACKUP"
    kcm_set_controllers "$current,$NLC_OFF"
    log "$MASTER_NODE: kube-controller-manager restarted with --controllers=$current,$NLC_OFF" \
      "(backup $KCM_MANIFEST_BACKUP)"
  else
    log "$MASTER_NODE: kube-controller-manager's node lifecycle controller is off already"
  fi

  tmp=$(mktemp)
  sed "s|__IMAGE__|$image|g" "$REPO_ROOT/deploy/manifests/yurt-controller-manager.yaml" >"$tmp"
  admin_kubectl apply -f "$tmp" >/dev/null || { rm -f "$tmp"; die "applying the manifests failed"; }
  rm -f "$tmp"
  # Same image tag after a rebuild: restart the pods so they run the new binary.
  admin_kubectl -n kube-system rollout restart deployment/yurt-controller-manager >/dev/null
  admin_kubectl -n kube-system rollout status deployment/yurt-controller-manager --timeout=180s \
    >/dev/null || die "yurt-controller-manager did not roll out"
  wait_for "2 yurt-controller-manager pods Running" 120 controller_pods_running ||
    die "yurt-controller-manager pods are not running"
  wait_for "a yurt-controller-manager leader" 60 controller_has_leader ||
    die "no yurt-controller-manager leader"
  log "yurt-controller-manager leading as $(controller_leader) ($((SECONDS - started)) s)"
}

yurt_controller_off() {
  local disk current
  admin_kubectl delete -f "$REPO_ROOT/deploy/manifests/yurt-controller-manager.yaml" \
    --ignore-not-found --wait=true >/dev/null 2>&1 || true
  admin_kubectl -n kube-system delete lease yurt-controller-manager --ignore-not-found >/dev/null
  disk=$(node_disk "$MASTER_NODE")
  current=$(sed -n 's/^\s*- --controllers=//p' "$disk$KCM_MANIFEST")
  if [[ ,$current, == *",$NLC_OFF,"* ]]; then
    current=$(sed "s/,$NLC_OFF\(,\|$\)/\1/" <<<"$current")
    kcm_set_controllers "$current"
    log "$MASTER_NODE: kube-controller-manager runs its node lifecycle controller again"
  fi
  rm -f "$disk$KCM_MANIFEST_BACKUP"
  log "yurt-controller-manager removed"
}

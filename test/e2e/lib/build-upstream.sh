#!/usr/bin/env bash
# Builds the upstream components the real-cluster harness runs — etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kubeadm, kubectl — from the Go module proxy.
# Results are cached outside the repo, keyed by version, so a warm machine reuses them:
#   $YURT_CACHE/bin/k8s-<version>/   $YURT_CACHE/bin/etcd-<version>/   (+ gomod, gocache, src)
# Usage: build-upstream.sh [k8s|etcd|all]      env: K8S_VERSION, ETCD_VERSION, YURT_CACHE
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
CACHE=${YURT_CACHE:-/var/cache/yurt}
export GOMODCACHE=$CACHE/gomod GOCACHE=$CACHE/gocache GOTOOLCHAIN=local GOFLAGS=-mod=mod
export CGO_ENABLED=0

log() { echo "[build-upstream $(date +%T)] $*" >&2; }

require_go() {
  command -v go >/dev/null || { log "go is not installed (scripts/install-deps.sh)"; exit 1; }
  local v; v=$(go env GOVERSION); v=${v#go}
  local minor; minor=$(cut -d. -f2 <<<"$v")
  ((minor >= 24)) || { log "go $v is too old: Kubernetes ${K8S_VERSION} needs go >= 1.24"; exit 1; }
}

# Upstream's go.mod replaces every staging module with ./staging/...; go refuses `go install`
# of such a module. Our own scratch module becomes the main module instead and maps each staging
# module to its published twin v0.<minor>.<patch>. The list comes from the tag's own go.mod.
build_k8s() {
  local bin=$CACHE/bin/k8s-$K8S_VERSION
  [[ -f $bin/.ok ]] && { log "k8s $K8S_VERSION: cached in $bin"; return; }
  local started=$SECONDS src=$CACHE/src/k8s-$K8S_VERSION staging=v0.${K8S_VERSION#v1.}
  local minor; minor=$(cut -d. -f2 <<<"$K8S_VERSION")
  log "k8s $K8S_VERSION: building (cold: 25-40 min on 2 cores)"
  mkdir -p "$src" "$bin"
  (
    cd "$src"
    [[ -f go.mod ]] || go mod init yurt.invalid/k8sbuild >/dev/null 2>&1
    local kgomod
    kgomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": *"\([^"]*\)".*/\1/p')
    [[ -f $kgomod ]] || { log "cannot download k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
    local m
    for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$kgomod"); do
      go mod edit -replace="$m=$m@$staging"
    done
    go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
    grep -q '^godebug ' go.mod || grep -m1 '^godebug ' "$kgomod" >>go.mod || true
    {
      printf '//go:build tools\n\npackage tools\n\nimport (\n'
      for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubeadm kubectl; do
        printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"
      done
      printf ')\n'
    } >tools.go
    go mod tidy
    # Version injection as upstream's hack/lib/version.sh does: without it every binary
    # reports v0.0.0-master, and the node's kubeletVersion and /version are garbage.
    local ld="-s -w" p
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
      ld+=" -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.buildDate=2000-01-01T00:00:00Z"
    done
    go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
      k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubectl
  )
  touch "$bin/.ok"
  log "k8s $K8S_VERSION: built in $((SECONDS - started)) s"
}

# etcd's server module also carries replace lines; a three-line main in our own module calls it.
build_etcd() {
  local bin=$CACHE/bin/etcd-$ETCD_VERSION
  [[ -f $bin/.ok ]] && { log "etcd $ETCD_VERSION: cached in $bin"; return; }
  local started=$SECONDS src=$CACHE/src/etcd-$ETCD_VERSION
  log "etcd $ETCD_VERSION: building (cold: 1-3 min)"
  mkdir -p "$src" "$bin"
  (
    cd "$src"
    [[ -f go.mod ]] || go mod init yurt.invalid/etcdbuild >/dev/null 2>&1
    printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >main.go
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go mod tidy
    go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .
  )
  touch "$bin/.ok"
  log "etcd $ETCD_VERSION: built in $((SECONDS - started)) s"
}

require_go
case ${1:-all} in
  k8s) build_k8s ;;
  etcd) build_etcd ;;
  all) build_etcd; build_k8s ;;
  *) log "usage: $0 [k8s|etcd|all]"; exit 2 ;;
esac

#!/usr/bin/env bash
# Installs every Debian package that the build, the tests and the demo need. Idempotent: a
# machine that already has them pays one dpkg query.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcli11-dev libgtest-dev libgmock-dev clang-format
  # the real-cluster harness (test/e2e): container runtime, network and node tooling
  containerd runc containernetworking-plugins busybox-static iptables iproute2 util-linux
  procps psmisc curl openssl ca-certificates kmod conntrack socat
  # Go builds upstream Kubernetes and etcd for the tests only
  golang-go
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# Go may come from outside Debian (a newer toolchain on PATH); then Debian's is not needed.
if command -v go >/dev/null 2>&1; then
  missing=("${missing[@]/golang-go/}")
fi
read -r -a missing <<<"${missing[*]}"

if ((${#missing[@]} == 0)); then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"

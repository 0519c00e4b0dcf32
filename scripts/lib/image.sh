# Container images without a registry or a container engine: a docker-archive (what
# `ctr images import`, `docker load` and `podman load` read) made from a staged root file system.
# Sourced by scripts/build-image.sh and the e2e harness.
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


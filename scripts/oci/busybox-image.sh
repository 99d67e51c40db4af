#!/usr/bin/env bash
# Makes an OCI image layout tarball of a busybox rootfs, for
# `ctr images import`: Debian's static /bin/busybox (busybox-static), one
# symlink per applet, /etc/passwd and /etc/group, the usual empty
# mountpoints. One uncompressed layer, so its digest is its diff_id.
#   scripts/oci/busybox-image.sh [--rootfs DIR] [--name REF] OUT.tar
# --rootfs DIR also leaves the unpacked rootfs in DIR (made; must not exist),
# for `ctr run --rootfs`. REF defaults to docker.io/library/nsjs-busybox:latest.
# The tarball is reproducible: same busybox, same bytes.
set -euo pipefail

rootfs_out=
name=docker.io/library/nsjs-busybox:latest
while [ $# -gt 0 ]; do
  case $1 in
    --rootfs) rootfs_out=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "busybox-image: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -ne 1 ]; then
  echo "usage: $0 [--rootfs DIR] [--name REF] OUT.tar" >&2
  exit 2
fi
out=$1
if [ -n "$rootfs_out" ] && [ -e "$rootfs_out" ]; then
  echo "busybox-image: $rootfs_out exists" >&2
  exit 1
fi
busybox=${BUSYBOX:-/bin/busybox}

# A dynamically linked busybox would need its libc in the image.
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  echo "busybox-image: $busybox is not a static busybox (apt-get install busybox-static)" >&2
  exit 1
fi
case $(uname -m) in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,etc,root,var,tmp}
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
install -m 755 "$busybox" "$root/bin/busybox"
"$busybox" --list-full | while read -r applet; do
  [ "$applet" = bin/busybox ] || ln -s /bin/busybox "$root/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

blobs=$work/layout/blobs/sha256
mkdir -p "$blobs"
# Fixed owner, order and times make the layer (and so every digest) the
# same from one run to the next.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
  -C "$root" -cf "$work/layer.tar" .
blob() { # FILE -> moves it into blobs/, prints "digest size"
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1)
  s=$(stat -c %s "$1")
  mv "$1" "$blobs/$d"
  echo "$d $s"
}
read -r layer layer_size < <(blob "$work/layer.tar")

printf '%s' '{"architecture":"'"$arch"'","os":"linux","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:'"$layer"'"]},"history":[{"created_by":"nsjs scripts/oci/busybox-image.sh"}]}' >"$work/config.json"
read -r config config_size < <(blob "$work/config.json")

printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'"$config"'","size":'"$config_size"'},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:'"$layer"'","size":'"$layer_size"'}]}' >"$work/manifest.json"
read -r manifest manifest_size < <(blob "$work/manifest.json")

# containerd names the image after io.containerd.image.name; other tools
# read the OCI ref.name (the tag).
printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:'"$manifest"'","size":'"$manifest_size"',"platform":{"architecture":"'"$arch"'","os":"linux"},"annotations":{"io.containerd.image.name":"'"$name"'","org.opencontainers.image.ref.name":"'"${name##*:}"'"}}]}' >"$work/layout/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
  -C "$work/layout" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
if [ -n "$rootfs_out" ]; then
  mv "$root" "$rootfs_out"
fi
echo "$out: $name ($arch, manifest sha256:$manifest)"

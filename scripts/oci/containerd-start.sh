#!/usr/bin/env bash
# Starts a private containerd for the end-to-end checks, as root:
#   scripts/oci/containerd-start.sh DIR
# Everything lives in DIR (made if missing; it must not hold a running one):
# root/, state/, containerd.sock, config.toml, containerd.log, and the
# containerd.pid / containerd.mntns that scripts/oci/containerd-stop.sh
# uses to stop it. The CRI plugin and the plugins that would write outside
# DIR (opt, the snapshotters that touch host devices) are disabled; the v1
# runtime stays, as 1.6's tasks service does not load without it.
# containerd runs in a private mount namespace with a tmpfs on /run: the
# shims' sockets (/run/containerd/s/) and the runtime's state
# (/run/containerd/runc/) land there, so no mount or socket reaches the host.
# That tmpfs also hides ctr's default FIFO directory from the shims: give
# every `ctr run` and `ctr task exec` `--fifo-dir DIR/fifo`.
# Prints the socket path for `ctr --address`.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "containerd-start: run as root" >&2
  exit 1
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd)
sock=$dir/containerd.sock
if [ -f "$dir/containerd.pid" ] && kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null; then
  echo "containerd-start: a containerd from $dir is running (pid $(cat "$dir/containerd.pid"))" >&2
  exit 1
fi
mkdir -p "$dir/root" "$dir/state" "$dir/fifo"

cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "$sock"

[ttrpc]
  address = ""

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""
EOF

# unshare execs sh, which execs containerd: $! is containerd's pid.
unshare --mount --propagation private -- sh -c \
  'mount -t tmpfs -o mode=755,size=64m tmpfs /run && exec containerd --config "$1"' \
  sh "$dir/config.toml" </dev/null >"$dir/containerd.log" 2>&1 &
pid=$!
echo "$pid" >"$dir/containerd.pid"

for _ in $(seq 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "containerd-start: containerd exited; its log:" >&2
    tail -20 "$dir/containerd.log" >&2
    exit 1
  fi
  if [ -S "$sock" ] && ctr --address "$sock" version >/dev/null 2>&1; then
    # Its mount namespace, now that it has one: the stop script finds the
    # shims it started by it.
    readlink "/proc/$pid/ns/mnt" >"$dir/containerd.mntns"
    echo "$sock"
    exit 0
  fi
  sleep 0.1
done
echo "containerd-start: no answer on $sock after 10 s; its log:" >&2
tail -20 "$dir/containerd.log" >&2
kill -KILL "$pid" 2>/dev/null || true
exit 1

#!/usr/bin/env bash
# Stops the containerd that scripts/oci/containerd-start.sh started in DIR
# and leaves nothing behind:
#   scripts/oci/containerd-stop.sh [--keep] DIR
# Every task in every containerd namespace is killed and deleted and every
# container removed (through ctr, so the runtime cleans its own state and
# cgroups), then containerd is stopped by its pid, then any process still
# in its mount namespace (a shim) is killed by pid. With the last of them
# the namespace, its /run tmpfs and its overlay mounts are gone, and DIR is
# removed unless --keep. Exit status 1 if something had to be forced or
# could not be cleaned (said on stderr).
set -uo pipefail

keep=
if [ "${1:-}" = --keep ]; then keep=1; shift; fi
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 [--keep] DIR" >&2
  exit 2
fi
dir=$(cd "$1" && pwd)
sock=$dir/containerd.sock
pid=$(cat "$dir/containerd.pid" 2>/dev/null || true)
mntns=$(cat "$dir/containerd.mntns" 2>/dev/null || true)
status=0
warn() { echo "containerd-stop: $*" >&2; status=1; }

# Is $pid still the containerd we started (and not a reused pid)?
ours() {
  [ -n "$pid" ] && [ -n "$mntns" ] && [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$mntns" ]
}

if ours && [ -S "$sock" ]; then
  c() { timeout 30 ctr --address "$sock" "$@"; }
  for ns in $(c namespaces ls -q); do
    for t in $(c -n "$ns" tasks ls -q); do
      c -n "$ns" tasks kill --all --signal SIGKILL "$t" >/dev/null 2>&1
      c -n "$ns" tasks delete --force "$t" >/dev/null 2>&1 || warn "task $ns/$t: delete failed"
    done
    for k in $(c -n "$ns" containers ls -q); do
      c -n "$ns" containers delete "$k" >/dev/null 2>&1 || warn "container $ns/$k: delete failed"
    done
  done
fi

if ours; then
  kill -TERM "$pid"
  for _ in $(seq 100); do ours || break; sleep 0.1; done
  if ours; then
    warn "containerd (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
    kill -KILL "$pid"
  fi
fi

# Shims outlive containerd by design; they are the processes left in its
# mount namespace.
if [ -n "$mntns" ]; then
  for _ in $(seq 50); do
    left=()
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$mntns" ] && left+=("${p#/proc/}")
    done
    [ ${#left[@]} -eq 0 ] && break
    for p in "${left[@]}"; do kill -KILL "$p" 2>/dev/null; done
    sleep 0.1
  done
  [ ${#left[@]} -eq 0 ] || warn "processes still in containerd's mount namespace: ${left[*]}"
fi

if [ -z "$keep" ]; then
  # The namespace is gone with its last process, so no mount of it is
  # under DIR any more; refuse to delete through one that would be.
  if findmnt -rn -o TARGET | grep -qF "$dir"; then
    warn "mounts under $dir: not removed"
  else
    rm -rf --one-file-system "$dir"
  fi
fi
exit $status

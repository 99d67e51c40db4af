#!/usr/bin/env bash
# containerd end to end for an OCI runtime with runc's command line (issue
# 22), as root:
#   scripts/oci/ctr-e2e.sh --runtime PATH [--runtime PATH...] [--time N] [--keep]
# Starts a private containerd (scripts/oci/containerd-start.sh), imports a
# busybox image made by scripts/oci/busybox-image.sh, then for each runtime
# drives it through `ctr ... --runc-binary PATH` (containerd-shim-runc-v2
# and go-runc call it as they call runc) and prints one PASS/FAIL line per
# check and a summary. --time N then times N `ctr run --rm` of busybox
# `true` per runtime, the runtimes taking turns, and prints the median.
# Everything is stopped and removed at the end (--keep leaves the work
# directory, for its containerd.log). Exit status 1 if any check failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
runtimes=()
timeruns=0
keep=
while [ $# -gt 0 ]; do
  case $1 in
    --runtime) runtimes+=("$(readlink -f "$2")"); shift 2 ;;
    --time) timeruns=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "ctr-e2e: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ ${#runtimes[@]} -eq 0 ]; then
  echo "usage: $0 --runtime PATH [--runtime PATH...] [--time N] [--keep]" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ctr-e2e: run as root" >&2
  exit 1
fi
for r in "${runtimes[@]}"; do
  [ -x "$r" ] || { echo "ctr-e2e: $r is not executable" >&2; exit 1; }
done
for tool in containerd ctr containerd-shim-runc-v2 script nsenter; do
  command -v "$tool" >/dev/null || { echo "ctr-e2e: $tool not found" >&2; exit 1; }
done

started=$(date +%s%N)
work=$(mktemp -d "${TMPDIR:-/tmp}/nsjs-ctr-e2e.XXXXXX")
chmod 755 "$work"
ctrd=$work/containerd
ns=nsjs-e2e
img=docker.io/library/nsjs-busybox:latest
# Containers get cgroupsPath "$cgparent/<id>": relative, so the runtime
# puts them under the cgroups this script runs in (not at the roots of the
# hierarchies), and unique to this run, so its leftovers are unambiguous.
cgparent=nsjs-e2e-${work##*.}

cleanup() {
  local st=0 d
  "$here/containerd-stop.sh" ${keep:+--keep} "$ctrd" || st=1
  # The runtime removes each container's cgroup; the parents this run's
  # cgroupsPath made are ours to remove.
  while read -r d; do
    rmdir "$d" 2>/dev/null || { echo "ctr-e2e: cgroup $d left (not empty)" >&2; st=1; }
  done < <(find /sys/fs/cgroup -depth -type d -path "*/$cgparent*" 2>/dev/null)
  if [ -n "$keep" ]; then echo "ctr-e2e: kept $work" >&2; else rm -rf --one-file-system "$work"; fi
  return $st
}
trap 'cleanup; exit 130' INT TERM

sock=$("$here/containerd-start.sh" "$ctrd") || { cleanup; exit 1; }
cpid=$(cat "$ctrd/containerd.pid")
c() { timeout -k 5 60 ctr --address "$sock" -n "$ns" "$@"; }
if ! { "$here/busybox-image.sh" --rootfs "$work/rootfs" "$work/busybox.tar" >/dev/null &&
  c images import "$work/busybox.tar" >/dev/null; }; then
  echo "FAIL setup: building or importing the busybox image"
  cleanup
  exit 1
fi

pass=0 fail=0
report() { # NAME OK DETAIL
  if [ "$2" = 1 ]; then pass=$((pass + 1)); echo "PASS $1${3:+: $3}"
  else fail=$((fail + 1)); echo "FAIL $1${3:+: $3}"; fi
}
# One line of output, for a detail: CRs and newlines folded, colours and
# the "^@" that the pty under `script` echoes for the NUL ctr writes to it
# dropped.
flat() { tr -d '\r' | sed 's/\^@//g; s/\x1b\[[0-9;]*m//g' | tr '\n' ' ' | sed 's/ *$//' | cut -c1-200; }

status_of() { c tasks ls | awk -v id="$1" '$1 == id {print $3}'; }
pid_of() { c tasks ls | awk -v id="$1" '$1 == id {print $2}'; }
wait_status() { # ID STATUS [tenths]
  local i
  for i in $(seq "${3:-50}"); do
    [ "$(status_of "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
cgroups_of() { find /sys/fs/cgroup -type d -path "*/$cgparent/$1" 2>/dev/null; }
# The runtime's state for ID, as containerd's shim sees it (its root is
# /run/containerd/runc/<namespace>, on the tmpfs of containerd's namespace).
state_exists() { nsenter -t "$cpid" -m -- test -e "/run/containerd/runc/$ns/$1"; }

run_checks() { # RUNTIME TAG
  local id out rc pid p
  rt=$1 tag=$2
  runf=(--fifo-dir "$ctrd/fifo" --runc-binary "$rt")
  echo "== $rt"

  id=exit-$tag
  out=$(c run --rm "${runf[@]}" --cgroup "$cgparent/$id" "$img" "$id" sh -c 'echo out-ok; exit 7' 2>&1)
  rc=$?
  [ "$rc" = 7 ] && [ "$out" = out-ok ]
  report run-exit-code $((1 - $?)) "exit status $rc (want 7), output '$(flat <<<"$out")'"

  id=rootfs-$tag
  # No image config with --rootfs, so no PATH: the program by its path.
  out=$(c run --rm "${runf[@]}" --cgroup "$cgparent/$id" --rootfs "$work/rootfs" "$id" /bin/sh -c 'echo rootfs-ok; exit 4' 2>&1)
  rc=$?
  [ "$rc" = 4 ] && [ "$out" = rootfs-ok ]
  report run-rootfs $((1 - $?)) "exit status $rc (want 4), output '$(flat <<<"$out")'"

  id=detach-$tag
  out=$(c run -d "${runf[@]}" --cgroup "$cgparent/$id" "$img" "$id" \
    sh -c 'trap "exit 42" TERM; while :; do sleep 1; done' 2>&1)
  rc=$?
  pid=$(pid_of "$id")
  [ "$rc" = 0 ] && [ "$(status_of "$id")" = RUNNING ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
  report run-detach $((1 - $?)) "exit status $rc, task $(status_of "$id") pid ${pid:-none}${out:+, '$(flat <<<"$out")'}"
  if [ -n "$pid" ]; then
    detached_checks "$id" "$pid"
  else
    # Each check still gets its line, so every run counts the same checks.
    for p in init-parent init-cgroup task-exec task-exec-tty task-ps task-pause task-resume task-kill task-delete; do
      report "$p" 0 "not run: no detached task"
    done
    c tasks delete --force "$id" >/dev/null 2>&1; c containers delete "$id" >/dev/null 2>&1
  fi
  killall_checks
  tty_check
  leftover_check
}

detached_checks() { # ID PID, with rt, runf from run_checks
  local id=$1 pid=$2 out rc ppid pids p ok detail want freezer
  # The shim reaps the init and reports its exit: no runtime process may
  # stay between them.
  ppid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)
  tr '\0' ' ' <"/proc/$ppid/cmdline" 2>/dev/null | grep -q containerd-shim
  report init-parent $((1 - $?)) "init $pid's parent $ppid is '$(tr '\0' ' ' <"/proc/$ppid/cmdline" 2>/dev/null | cut -c1-60)'"

  ok=1
  grep -q "$cgparent/$id\$" "/proc/$pid/cgroup" || ok=0
  report init-cgroup $ok "$(grep -c "$cgparent/$id\$" "/proc/$pid/cgroup" 2>/dev/null) of $(wc -l <"/proc/$pid/cgroup") hierarchies at $cgparent/$id"

  # exec: the exit status comes through, and the process is in the init's
  # namespaces and cgroups.
  out=$(c tasks exec "${runf[@]:0:2}" --exec-id x1 "$id" sh -c \
    'echo exec-ok; for n in ipc mnt net pid uts; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup; exit 3' 2>&1)
  rc=$?
  want="exec-ok"$'\n'"$(for n in ipc mnt net pid uts; do readlink "/proc/$pid/ns/$n"; done)"$'\n'"$(cat "/proc/$pid/cgroup")"
  [ "$rc" = 3 ] && [ "$out" = "$want" ]
  report task-exec $((1 - $?)) "exit status $rc (want 3)$([ "$out" = "$want" ] && echo ", same namespaces and cgroups as the init" || echo ", output '$(flat <<<"$out")'")"

  out=$(script -qec "ctr --address $sock -n $ns tasks exec --fifo-dir $ctrd/fifo -t --exec-id x2 $id sh -c 'tty; exit 6'" /dev/null 2>&1)
  rc=$?
  [ "$rc" = 6 ] && grep -q '/dev/pts/[0-9]' <<<"$out"
  report task-exec-tty $((1 - $?)) "exit status $rc (want 6), tty '$(flat <<<"$out")'"

  c tasks exec -d "${runf[@]:0:2}" --exec-id bg "$id" sleep 1000 >/dev/null 2>&1
  pids=$(c tasks ps "$id" 2>/dev/null | awk 'NR > 1 {print $1}')
  ok=0
  grep -qx "$pid" <<<"$pids" && [ "$(wc -l <<<"$pids")" -ge 3 ] && ok=1
  report task-ps $ok "pids $(flat <<<"$pids") (want the init $pid, its sleep and the exec'd sleep)"

  ok=1
  out=$(c tasks pause "$id" 2>&1) || ok=0
  freezer=/sys/fs/cgroup/freezer$(awk -F: '$2 == "freezer" {print $3}' "/proc/$pid/cgroup")/freezer.state
  [ "$(status_of "$id")" = PAUSED ] && [ "$(cat "$freezer" 2>/dev/null)" = FROZEN ] || ok=0
  report task-pause $ok "task $(status_of "$id"), freezer $(cat "$freezer" 2>/dev/null)${out:+, '$(flat <<<"$out")'}"

  ok=1
  out=$(c tasks resume "$id" 2>&1) || ok=0
  [ "$(status_of "$id")" = RUNNING ] && [ "$(cat "$freezer" 2>/dev/null)" = THAWED ] || ok=0
  c tasks exec "${runf[@]:0:2}" --exec-id x3 "$id" true >/dev/null 2>&1 || ok=0
  report task-resume $ok "task $(status_of "$id"), freezer $(cat "$freezer" 2>/dev/null), exec after resume ok=$ok${out:+, '$(flat <<<"$out")'}"

  # SIGTERM (ctr's default) to the init only; its trap exits 42.
  ok=1
  out=$(c tasks kill "$id" 2>&1) || ok=0
  wait_status "$id" STOPPED || ok=0
  report task-kill $ok "task $(status_of "$id") after SIGTERM${out:+, '$(flat <<<"$out")'}"

  ok=1
  out=$(c tasks delete "$id" 2>&1) || ok=0
  grep -q 'exit code 42' <<<"$out" || ok=0
  [ -z "$(status_of "$id")" ] || ok=0
  detail="'$(flat <<<"$out")'"
  for p in $pids; do kill -0 "$p" 2>/dev/null && { ok=0; detail+=", pid $p alive"; }; done
  [ -z "$(cgroups_of "$id")" ] || { ok=0; detail+=", cgroups left: $(cgroups_of "$id" | flat)"; }
  state_exists "$id" && { ok=0; detail+=", runtime state left"; }
  c containers delete "$id" >/dev/null 2>&1 || { ok=0; detail+=", container delete failed"; }
  report task-delete $ok "$detail"
}

killall_checks() {
  local id out pid pids p ok detail left

  # kill --all reaches every process in the cgroup: SIGTERM kills the
  # sleeps and the exec'd process, while the init traps it and stays.
  id=killall-$tag
  c run -d "${runf[@]}" --cgroup "$cgparent/$id" "$img" "$id" \
    sh -c 'trap "echo term" TERM; sleep 1000 & sleep 1000 & while :; do sleep 1; done' >/dev/null 2>&1
  pid=$(pid_of "$id")
  c tasks exec -d "${runf[@]:0:2}" --exec-id bg "$id" sleep 1000 >/dev/null 2>&1
  sleep 0.2
  pids=$(c tasks ps "$id" 2>/dev/null | awk 'NR > 1 {print $1}' | grep -vx "${pid:-x}")
  ok=1
  [ -n "$pid" ] && [ "$(wc -w <<<"$pids")" -ge 3 ] || ok=0
  out=$(c tasks kill --all --signal SIGTERM "$id" 2>&1) || ok=0
  detail="init $pid, others $(flat <<<"$pids")"
  for _ in $(seq 50); do
    left=0
    for p in $pids; do kill -0 "$p" 2>/dev/null && left=1; done
    [ $left = 0 ] && break
    sleep 0.1
  done
  for p in $pids; do kill -0 "$p" 2>/dev/null && { ok=0; detail+=", pid $p alive"; }; done
  [ "$(status_of "$id")" = RUNNING ] || { ok=0; detail+=", init $(status_of "$id")"; }
  report task-kill-all $ok "$detail${out:+, '$(flat <<<"$out")'}"
  c tasks kill --all --signal SIGKILL "$id" >/dev/null 2>&1
  wait_status "$id" STOPPED
  out=$(c tasks delete "$id" 2>&1)
  ok=1
  grep -q 'exit code 137' <<<"$out" || ok=0
  [ -z "$(cgroups_of "$id")" ] || ok=0
  c containers delete "$id" >/dev/null 2>&1 || ok=0
  report task-kill-all-sigkill $ok "'$(flat <<<"$out")'"
}

tty_check() {
  local id out rc

  id=tty-$tag
  out=$(script -qec "ctr --address $sock -n $ns run --rm --fifo-dir $ctrd/fifo --runc-binary $rt --cgroup $cgparent/$id -t $img $id sh -c 'tty; [ -t 0 ] && echo stdin-tty; exit 5'" /dev/null 2>&1)
  rc=$?
  out=$(tr -d '\r' <<<"$out")
  [ "$rc" = 5 ] && grep -q '/dev/pts/[0-9]' <<<"$out" && grep -qx stdin-tty <<<"$out"
  report run-tty $((1 - $?)) "exit status $rc (want 5), output '$(flat <<<"$out")'"
}

leftover_check() {
  local ok detail out

  ok=1
  detail=
  [ -z "$(c containers ls -q)" ] || { ok=0; detail+="containers: $(c containers ls -q | flat); "; }
  [ -z "$(c tasks ls -q)" ] || { ok=0; detail+="tasks: $(c tasks ls -q | flat); "; }
  [ -z "$(find /sys/fs/cgroup -mindepth 1 -type d -path "*/$cgparent/*" 2>/dev/null)" ] ||
    { ok=0; detail+="cgroups: $(find /sys/fs/cgroup -type d -path "*/$cgparent/*" | flat); "; }
  out=$(nsenter -t "$cpid" -m -- ls -A "/run/containerd/runc/$ns" 2>/dev/null)
  [ -z "$out" ] || { ok=0; detail+="runtime state: $(flat <<<"$out"); "; }
  report nothing-left $ok "${detail:-no container, task, cgroup or runtime state left}"
}

i=0
for rt in "${runtimes[@]}"; do
  run_checks "$rt" "$i"
  i=$((i + 1))
done

if [ "$timeruns" -gt 0 ]; then
  declare -A times
  for n in $(seq "$timeruns"); do
    i=0
    for rt in "${runtimes[@]}"; do
      id=time-$i-$n
      t0=$(date +%s%N)
      c run --rm --fifo-dir "$ctrd/fifo" --runc-binary "$rt" --cgroup "$cgparent/$id" "$img" "$id" true >/dev/null 2>&1 ||
        echo "ctr-e2e: timed run $id with $rt failed" >&2
      times[$i]+="$(( ($(date +%s%N) - t0) / 1000 )) "
      i=$((i + 1))
    done
  done
  i=0
  for rt in "${runtimes[@]}"; do
    # shellcheck disable=SC2086
    printf '%s\n' ${times[$i]} | sort -n | awk -v rt="$rt" '{ t[NR] = $1 } END {
      m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
      printf "TIME %s: ctr run --rm true, median %.1f ms (min %.1f, max %.1f) over %d runs\n", rt, m / 1000, t[1] / 1000, t[NR] / 1000, NR }'
    i=$((i + 1))
  done
fi

if ! cleanup; then
  report cleanup 0 "see the lines above"
fi
echo "ctr-e2e: $pass passed, $fail failed ($(( ($(date +%s%N) - started) / 1000000 )) ms)"
[ "$fail" -eq 0 ]

// probeSyscalls(): the syscalls spawnIsolated relies on, tried for real in a
// short-lived child, for features() and `nsjs doctor`. Every one of them has a
// fallback in the spawn path (clone3 → clone + pidfd_open, close_range →
// closing fds one by one, mount_setattr → a remount, setns(pidfd) → one setns
// per nsfs fd), so a spawn that works says nothing about which was used; this
// asks the kernel directly, under this process's seccomp filter and LSM.
//
// The child is a fork of this (multi-threaded) process: it makes raw syscalls
// only, writes one fixed-size report to a pipe and _exits. Signals stay
// blocked in it, so no handler of Node's runs in the copy.
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "../common.h"
#include "../fs/mounts.h"
#include "../spawn/pidfd.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace nsjs {
namespace {

// clone3's argument, VER0 (64 bytes): the system header may predate it.
struct ProbeCloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

// What the child reports: 0 or errno per probe.
struct ChildReport {
  int32_t pidfd_open, setns_pidfd, close_range, mount_setattr;
};

long Errno(long r) { return r < 0 ? errno : 0; }

// async-signal-safe: the probes that must run in the child.
[[noreturn]] void Child(int report_fd) {
  ChildReport r{};
  const long pidfd = syscall(SYS_pidfd_open, getpid(), 0);
  r.pidfd_open = static_cast<int32_t>(Errno(pidfd));
  // setns(2) takes a pidfd since 5.8; before, a pidfd is "not a namespace"
  // (EINVAL). Joining our own uts namespace changes nothing; unprivileged,
  // the kernel accepts the pidfd and then refuses the join itself (EPERM).
  if (pidfd >= 0) {
    const long s = setns(static_cast<int>(pidfd), CLONE_NEWUTS);
    r.setns_pidfd = static_cast<int32_t>(s < 0 && errno == EPERM ? 0 : Errno(s));
  } else {
    r.setns_pidfd = r.pidfd_open;
  }
  // 5.11+: CLOEXEC on a range with no open fd is a no-op; 5.9/5.10 refuse the flag (EINVAL).
  r.close_range = static_cast<int32_t>(Errno(syscall(SYS_close_range, 0x7ffffff0U, ~0U, CLOSE_RANGE_CLOEXEC)));
  // 5.12+: an attr that changes nothing returns 0, given CAP_SYS_ADMIN over
  // our mount namespace. Without it (unprivileged, or root in a nested user
  // namespace), make a mount namespace of our own and ask again; if user
  // namespaces are refused, EPERM stays ambiguous with a seccomp refusal.
  spawn::MountAttr attr{};
  long m = syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof attr);
  int m_err = m < 0 ? errno : 0;
  if (m_err == EPERM && (unshare(CLONE_NEWNS) == 0 || unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0)) {
    m = syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof attr);
    m_err = m < 0 ? errno : 0;
  }
  r.mount_setattr = m_err;
  (void)!write(report_fd, &r, sizeof r);
  _exit(0);
}

Napi::Value ProbeSyscalls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) {
    out.Set("error", Napi::Number::New(env, -errno));
    return out;
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);

  // clone3 with CLONE_PIDFD, fork-style (no stack: the child returns from
  // the syscall on its copy of ours, as after fork).
  int pidfd = -1;
  ProbeCloneArgs args{};
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) Child(fds[1]);
  const int clone3_err = pid < 0 ? errno : 0;
  int clone_pidfd_err = pid < 0 ? clone3_err : (pidfd >= 0 ? 0 : EINVAL);
  if (pid < 0) {
    // clone3 refused: the legacy clone with CLONE_PIDFD (5.2), the pidfd
    // written through the parent_tid argument, which comes third on every ABI.
    pidfd = -1;
    pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
    if (pid == 0) Child(fds[1]);
    clone_pidfd_err = pid < 0 ? errno : 0;
    if (pid < 0) {
      pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
      if (pid == 0) Child(fds[1]);
    }
  }
  const int fork_err = pid < 0 ? errno : 0;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(fds[1]);

  ChildReport r{};
  bool reported = false;
  if (pid > 0) {
    ssize_t n;
    do n = read(fds[0], &r, sizeof r);
    while (n < 0 && errno == EINTR);
    reported = n == static_cast<ssize_t>(sizeof r);
    // The child has written and is exiting: a short wait on this thread.
    siginfo_t si{};
    int w;
    do w = pidfd >= 0 ? waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &si, WEXITED) : waitpid(static_cast<pid_t>(pid), nullptr, 0);
    while (w < 0 && errno == EINTR);
    if (w < 0 && pidfd >= 0) {
      while (waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
  close(fds[0]);

  // PIDFD_INFO_EXIT: the exit status stays readable on the pidfd after the reap.
  int info_err = ENOTSUP;
  if (pidfd >= 0) {
    NsjsPidfdInfo pi{};
    pi.mask = NSJS_PIDFD_INFO_EXIT;
    if (ioctl(pidfd, NSJS_PIDFD_GET_INFO, &pi) < 0) info_err = errno;
    else info_err = (pi.mask & NSJS_PIDFD_INFO_EXIT) ? 0 : EOPNOTSUPP;
    close(pidfd);
  }

  const auto set = [&](const char* name, int err) { out.Set(name, Napi::Number::New(env, -err)); };
  set("clone3", clone3_err);
  set("clonePidfd", clone_pidfd_err);
  set("fork", fork_err);
  set("pidfdInfoExit", info_err);
  if (reported) {
    set("pidfdOpen", r.pidfd_open);
    set("setnsPidfd", r.setns_pidfd);
    set("closeRange", r.close_range);
    set("mountSetattr", r.mount_setattr);
  }
  return out;
}

}  // namespace

void InitProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probeSyscalls", Napi::Function::New(env, ProbeSyscalls, "probeSyscalls"));
}

}  // namespace nsjs

// The child between clone and execve. Everything in this file runs in a copy
// of a multi-threaded process (sharing its memory in the vfork-style case),
// where another thread may have held malloc's or stdio's lock at clone time.
// Rule for this file: async-signal-safe calls only, no allocation, no C++
// library, raw syscalls where glibc would coordinate with threads we do not
// have (setuid and friends broadcast to every thread glibc knows of).
// The rooms' ops it hands over run under the same rule in their own files:
// the mount engine (fs/mounts.cc), the policy ops (policy/caps.cc,
// policy/restrict.cc), rtnetlink (net/netlink.cc), the cgroup op
// (cgroup/cgroup.cc) and the terminal ops (terminal/child.cc).
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../cgroup/cgroup.h"
#include "../fs/mounts.h"
#include "../net/netlink.h"
#include "../policy/caps.h"
#include "../sandbox/enter.h"
#include "../terminal/terminal.h"
#include "plan.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace nsjs {
namespace spawn {
namespace {

// async-signal-safe. `tag` is kReportFallback for an op that failed in its
// fallback path.
[[noreturn]] void Fail(const Plan* plan, int index, int err, int32_t tag = 0) {
  Report r{plan->ops[index].kind | tag, index, err};
  // Nothing to do if this write fails: the parent then sees EOF and a child
  // that exited 127, which it reports as such.
  (void)!write(plan->err_fd, &r, sizeof r);
  _exit(127);
}

// async-signal-safe
int WriteFile(const char* path, const char* data) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  while (data[len]) len++;
  const ssize_t n = write(fd, data, len);
  const int saved = errno;
  close(fd);
  errno = saved;
  return n == static_cast<ssize_t>(len) ? 0 : -1;
}

// async-signal-safe. Sources are first moved above the stdio range, so that
// installing fd i can never clobber the source of fd j. An entry of -1 leaves
// fd i as inherited, -2 closes it. Plan::Parse refuses more than kMaxStdio.
int InstallStdio(const Plan* plan) {
  const int n = static_cast<int>(plan->stdio.size());
  int moved[kMaxStdio];
  if (n > kMaxStdio) {
    errno = E2BIG;
    return -1;
  }
  for (int i = 0; i < n; i++) {
    moved[i] = -1;
    const int src = plan->stdio[i] == kStdioErrPipe ? plan->err_fd : plan->stdio[i];
    if (src < 0) continue;
    moved[i] = fcntl(src, F_DUPFD_CLOEXEC, n);
    if (moved[i] < 0) return -1;
  }
  for (int i = 0; i < n; i++) {
    if (moved[i] >= 0) {
      if (dup2(moved[i], i) < 0) return -1;  // dup2 clears close-on-exec on i
    } else if (plan->stdio[i] == -2) {
      close(i);
    } else if (fcntl(i, F_SETFD, 0) < 0 && errno != EBADF) {
      return -1;
    }
  }
  return 0;
}

// async-signal-safe. execvp's fallback, and so child_process's: a file the
// kernel cannot run (ENOEXEC: no #! line, not ELF) is a script for /bin/sh
// (the sandbox's), its path as $0. Where that shell cannot run, ENOEXEC
// stands: it says more than the shell's ENOENT.
int ExecScript(const Plan* plan, const char* path) {
  if (plan->sh_argv.empty()) return -1;
  plan->sh_argv[1] = path;
  execve(plan->sh_argv[0], const_cast<char* const*>(plan->sh_argv.data()), const_cast<char* const*>(plan->envp.data()));
  errno = ENOEXEC;
  return -1;
}

// async-signal-safe. Like execvpe's search over candidates laid out before
// clone: a missing candidate moves on, EACCES is remembered as the answer if
// no later candidate runs, ENOEXEC runs the file under /bin/sh.
int Exec(const Plan* plan) {
  // An fd of the parent's, CLOEXEC like all ours: fine for an ELF binary.
  if (plan->exec_fd >= 0)
    return static_cast<int>(syscall(SYS_execveat, plan->exec_fd, "", plan->argv.data(), plan->envp.data(), AT_EMPTY_PATH));
  bool denied = false;
  for (const char* path : plan->exec_paths) {
    execve(path, const_cast<char* const*>(plan->argv.data()), const_cast<char* const*>(plan->envp.data()));
    if (errno == EACCES) denied = true;
    else if (errno == ENOEXEC) return ExecScript(plan, path);
    else if (errno != ENOENT && errno != ENOTDIR) return -1;
  }
  errno = denied ? EACCES : ENOENT;
  return -1;
}

// async-signal-safe. nsenter -r: into the directory of fd, chroot there,
// and, with keep_cwd, back to the cwd we had (which may lie outside it).
int ChrootFd(int fd, bool keep_cwd) {
  const int cwd = keep_cwd ? open(".", O_RDONLY | O_CLOEXEC) : -1;
  if (keep_cwd && cwd < 0) return -1;
  int r = fchdir(fd) < 0 || chroot(".") < 0 || chdir("/") < 0 ? -1 : 0;
  if (r == 0 && cwd >= 0) r = fchdir(cwd);
  const int saved = errno;
  if (cwd >= 0) close(cwd);
  errno = saved;
  return r;
}

// async-signal-safe: the netlink calls return -errno; ops report through errno.
int SetErrno(int r) {
  if (r >= 0) return 0;
  errno = -r;
  return -1;
}

// async-signal-safe
int RunOp(const Plan* plan, const Op& op, MountEngine* mounts) {
  mounts->fell_back = false;
  if (op.kind >= kOpMountFirst && op.kind <= kOpMountLast) return RunMountOp(op, mounts);
  if (op.kind >= kOpCgroupFirst && op.kind <= kOpCgroupLast) return RunCgroupOp(plan, op);
  switch (op.kind) {
    case kOpPdeathsig: {
      if (prctl(PR_SET_PDEATHSIG, op.a, 0, 0, 0) < 0) return -1;
      // The parent may have died before the prctl: then the signal never
      // comes. Its pidfd is readable once it has exited.
      pollfd p{plan->parent_pidfd, POLLIN, 0};
      if (plan->parent_pidfd >= 0 && (poll(&p, 1, 0) > 0 || plan->FaultParentExited())) {
        errno = ESRCH;
        return -1;
      }
      return 0;
    }
    case kOpSetns:
      return setns(op.a, op.b);
    case kOpSetnsPath: {
      const int fd = open(op.s[0], O_RDONLY | O_CLOEXEC);
      if (fd < 0) return -1;
      const int r = setns(fd, op.b);
      const int saved = errno;
      close(fd);
      errno = saved;
      return r;
    }
    case kOpWriteFile:
      return WriteFile(op.s[0], op.s[1]);
    case kOpWaitParent: {
      char go = 0;
      ssize_t n;
      // The parent waits for this byte (or our end's EOF) before it writes our maps.
      if (op.a == 1 && send(plan->sync_fd, &go, 1, MSG_NOSIGNAL) != 1) return -1;
      do n = read(plan->sync_fd, &go, 1);
      while (n < 0 && errno == EINTR);
      if (n != 1) _exit(127);  // the parent gave up on us and reports why itself
      return 0;
    }
    case kOpUnshare:
      if (op.b == 1 && plan->via_clone3) return 0;  // clone3 already made it
      return unshare(op.a);
    case kOpMount:
      return mount(op.s[0], op.s[1], op.s[2], op.flags, op.s[3]);
    case kOpSethostname: {
      size_t len = 0;
      while (op.s[0][len]) len++;
      return sethostname(op.s[0], len);
    }
    case kOpSetdomainname: {
      size_t len = 0;
      while (op.s[0][len]) len++;
      return setdomainname(op.s[0], len);
    }
    case kOpChdir:
      return op.s[0] ? chdir(op.s[0]) : fchdir(op.a);
    case kOpChroot:
      return op.s[0] ? chroot(op.s[0]) : ChrootFd(op.a, op.b == 1);
    case kOpStdio:
      return InstallStdio(plan);
    case kOpSetgroups:
    case kOpSetresgid:
    case kOpSetresuid:
    case kOpPrctl:
    case kOpSetsid:
    case kOpSetrlimit:
    case kOpCapabilities:
    case kOpSeccomp:
    case kOpLandlock:
      return RunPolicyOp(plan, op);
    case kOpPtyInside:
    case kOpCtty:
      return RunTerminalOp(plan, op);
    case kOpCloseFds:
      return syscall(SYS_close_range, plan->stdio.size(), ~0U, CLOSE_RANGE_CLOEXEC);
    case kOpLinkUp:
    case kOpAddAddress:
    case kOpDefaultRoute: {
      // One short-lived NETLINK_ROUTE socket per op, in our new namespace.
      const int sock = nl::NlOpen();
      if (sock < 0) return SetErrno(sock);
      const int r = op.kind == kOpLinkUp        ? nl::NlLinkUp(sock, op.s[0])
                    : op.kind == kOpAddAddress ? nl::NlAddAddress(sock, op.s[0], op.a, op.addr, op.b)
                                               : nl::NlAddDefaultRoute(sock, op.a, op.addr);
      close(sock);
      return SetErrno(r);
    }
    case kOpVethCreate: {
      // The host end through the parent's socket (its namespace), the peer
      // here: our pid, as the kernel looks it up in our pid namespace.
      const Veth& v = plan->veth;
      const int self = static_cast<int>(syscall(SYS_getpid));
      return SetErrno(nl::NlCreateVeth(v.sock, v.host.c_str(), v.peer.c_str(), -1, self, v.mtu, true, v.master));
    }
    case kOpVethHostAddresses: {
      const Veth& v = plan->veth;
      const int index = nl::NlIfIndex(v.sock, v.host.c_str());
      if (index < 0) return SetErrno(index);
      nl::Batch batch;
      nl::NlBatchInit(&batch, v.sock);
      for (const Veth::Address& a : v.host_addresses) nl::NlBatchAddress(&batch, true, index, a.family, a.bytes, a.prefix);
      return SetErrno(nl::NlBatchFinish(&batch, nullptr));
    }
    case kOpExec: {
      // Signals were blocked before clone so that none of Node's handlers ran
      // in this copy; dispositions are default by now, so unblocking is safe.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      plan->progress->exec = 1;
      return Exec(plan);
    }
    default:
      errno = EINVAL;
      return -1;
  }
}

#ifdef NSJS_FAULT_INJECTION
// async-signal-safe. Test builds: dies of sig at an op, without a core file
// of Node's memory. SIGSEGV is a real fault, which the kernel forces even on
// a pid 1 (a new pid namespace's first process ignores any signal it sends
// itself); another signal is sent with kill, which such a pid 1 ignores.
[[noreturn]] void DieOf(int sig) {
  rlimit64 none{0, 0};
  syscall(SYS_prlimit64, 0, RLIMIT_CORE, &none, nullptr);
  if (sig == SIGSEGV) {
    volatile uintptr_t unmapped = 8;
    *reinterpret_cast<volatile int*>(unmapped) = 0;
  }
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  sigprocmask(SIG_UNBLOCK, &one, nullptr);
  syscall(SYS_kill, syscall(SYS_getpid), sig);
  _exit(127);  // ignored: a signal whose default action is to ignore, or pid 1
}
#endif

struct Stage {
  const Plan* plan;
  size_t next;
};

int RunFrom(void* arg);

// async-signal-safe. The first child has joined a pid namespace, which holds
// only children made afterwards: clone the command with CLONE_PARENT, so it
// is Node's child (pidfd, wait, kill as usual), announce its pid, and leave.
[[noreturn]] void Fork(Plan* plan, size_t index) {
  const Op& op = plan->ops[index];
  Stage next{plan, index + 1};
  // Vfork-style, so that the command has exec'd or reported before we
  // announce it and exit (once we are gone the parent reads no more
  // reports); fork-style where the parent writes maps to a join's plan, as
  // it always was, but not for an owner's plan (announces): its maps were
  // written before this clone.
  const uint64_t shape = plan->parent_maps && !plan->announces ? 0 : CLONE_VM | CLONE_VFORK;
  const long pid = CloneWithStack(op.flags | CLONE_PARENT | shape, plan->stage2_stack, nullptr, RunFrom, &next,
                                  plan->force_clone, &plan->via_clone3);
  if (pid < 0) Fail(plan, static_cast<int>(index), static_cast<int>(-pid));
  Report r{kOpFork, static_cast<int32_t>(pid), 0};
  (void)!write(plan->err_fd, &r, sizeof r);
  _exit(0);
}

// async-signal-safe
int RunFrom(void* arg) {
  const Stage* stage = static_cast<const Stage*>(arg);
  // Fork writes only plan->via_clone3 (CloneWithStack), the value the first
  // clone left there, so sharing the parent's Plan (vfork-style) is harmless.
  Plan* plan = const_cast<Plan*>(stage->plan);
  MountEngine mounts;
  mounts.fallback = plan->mount_fallback;
  mounts.sync_fd = plan->sync_fd;
  mounts.log = plan->progress->fs_log;
  for (size_t i = stage->next; i < plan->ops.size(); i++) {
    const Op& op = plan->ops[i];
    plan->progress->op = static_cast<int32_t>(i);
#ifdef NSJS_FAULT_INJECTION
    if (plan->FaultOp(i)) {
      if (plan->fault_signal) DieOf(plan->fault_signal);
      Fail(plan, static_cast<int>(i), plan->fault_errno);
    }
#endif
    if (op.kind == kOpFork) Fork(plan, i);
    if (op.kind == kOpSetnsPidfd) {
      // One call enters every namespace of the target atomically (Linux
      // 5.8+); before that the kernel says EINVAL and the per-type opens follow.
      bool fallback = false;
#ifdef NSJS_FAULT_INJECTION
      // A fault in a fallback op: take the pre-5.8 path so that it is reached.
      fallback = plan->fault_op > static_cast<int>(i) && plan->fault_op <= static_cast<int>(i) + op.b;
#endif
      if (!fallback && setns(op.a, static_cast<int>(op.flags)) == 0) i += op.b;
      else if (!fallback && errno != EINVAL) Fail(plan, static_cast<int>(i), errno);
      continue;
    }
    if (RunOp(plan, op, &mounts) < 0) Fail(plan, static_cast<int>(i), errno, mounts.fell_back ? kReportFallback : 0);
    i += mounts.skip;  // Plan::CheckMountOp bounds it; the skipped ops end before the mount's last
    mounts.skip = 0;
  }
  _exit(127);  // the plan always ends in kOpExec, which does not return on success
}

}  // namespace

// async-signal-safe
int ChildMain(void* arg) {
  // Node's handlers must never run here, and ignored signals (SIGPIPE) would
  // stay ignored across execve: every disposition goes back to default.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  Stage first{static_cast<const Plan*>(arg), 0};
  return RunFrom(&first);
}

// async-signal-safe
void ContinuePlan(Plan* plan, size_t next) {
  Stage stage{plan, next};
  RunFrom(&stage);
  _exit(127);
}

}  // namespace spawn
}  // namespace nsjs

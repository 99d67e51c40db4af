// The child's last restrictions (lib/policy/plan.ts places them): the
// Landlock ruleset, after the mounts and pivot_root so that its paths name
// the sandbox's files, and the seccomp filter, the very last op before
// execve. Runs in the child between clone and execve, under spawn/child.cc's
// rule: async-signal-safe calls only, no allocation, raw syscalls; every
// string and the filter itself were laid out before clone (policy_plan.h).
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "caps.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

namespace nsjs {
namespace spawn {
namespace {

// linux/landlock.h as of ABI 6 (the headers we build with may be older).
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};
struct NetPortAttr {
  uint64_t allowed_access;
  uint64_t port;
};
constexpr int kRulePathBeneath = 1;
constexpr int kRuleNetPort = 2;
// The rights a rule on a file (not a directory) may carry: EXECUTE,
// WRITE_FILE, READ_FILE, TRUNCATE, IOCTL_DEV.
constexpr uint64_t kFileRights = (1u << 0) | (1u << 1) | (1u << 2) | (1u << 14) | (1u << 15);

// async-signal-safe. close() keeping errno.
int CloseKeep(int fd, int r) {
  const int saved = errno;
  close(fd);
  errno = saved;
  return r;
}

// async-signal-safe. A listed path that does not exist is skipped (API.md):
// a sandbox built from a root without /lib64 still runs with the usual list.
int Landlock(const policy::Landlock& l) {
  RulesetAttr attr{l.handled_fs, l.handled_net, 0};
  const int rs = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, l.attr_size, 0));
  if (rs < 0) return -1;
  for (const policy::LandlockPath& p : l.paths) {
    const int fd = open(p.path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) continue;
      return CloseKeep(rs, -1);
    }
    // A directory's rights on a file are EINVAL (landlock_append_fs_rule):
    // then its file rights alone. Cheaper than an fstat per path, as nearly
    // every path listed is a directory.
    PathBeneathAttr rule{p.access, fd};
    long r = syscall(SYS_landlock_add_rule, rs, kRulePathBeneath, &rule, 0);
    if (r < 0 && errno == EINVAL && (p.access & ~kFileRights) != 0) {
      rule.allowed_access = p.access & kFileRights;
      r = rule.allowed_access == 0 ? 0 : syscall(SYS_landlock_add_rule, rs, kRulePathBeneath, &rule, 0);
    }
    CloseKeep(fd, 0);
    if (r < 0) return CloseKeep(rs, -1);
  }
  for (const policy::LandlockPort& p : l.ports) {
    NetPortAttr rule{p.access, p.port};
    if (syscall(SYS_landlock_add_rule, rs, kRuleNetPort, &rule, 0) < 0) return CloseKeep(rs, -1);
  }
  const long r = syscall(SYS_landlock_restrict_self, rs, 0);
  return CloseKeep(rs, r < 0 ? -1 : 0);
}

}  // namespace

// async-signal-safe
int RunRestrictOp(const Plan* plan, const Op& op) {
  switch (op.kind) {
    case kOpSeccomp: {
      // Only rt_sigprocmask and execve follow (child.cc kOpExec), which no
      // filter of lib/policy/ refuses.
      sock_fprog prog{static_cast<unsigned short>(plan->policy.seccomp.size()), const_cast<sock_filter*>(plan->policy.seccomp.data())};
      if (prog.len == 0) {
        errno = EINVAL;
        return -1;
      }
      return static_cast<int>(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog));
    }
    case kOpLandlock:
      // a = 1: a sandbox command's own ruleset, a second layer on the sandbox's.
      if (op.a != 0 && op.a != 1) {
        errno = EINVAL;
        return -1;
      }
      return Landlock(op.a == 1 ? plan->policy.command_landlock : plan->policy.landlock);
    default:
      errno = EINVAL;
      return -1;
  }
}

}  // namespace spawn
}  // namespace nsjs

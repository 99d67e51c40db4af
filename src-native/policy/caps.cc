// The child's policy ops (lib/policy/): credentials, capabilities, resource
// limits, no_new_privs and setsid, the last ops before execve. Runs in the
// child between clone and execve, under spawn/child.cc's rule: async-signal-
// safe calls only, no allocation, no C++ library, raw syscalls where glibc
// would coordinate with threads we do not have (setuid and friends broadcast
// to every thread glibc knows of).
#include "caps.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace nsjs {
namespace spawn {
namespace {

// async-signal-safe. Keeps the capabilities in `keep` (a bit per CAP_*) in the
// bounding, permitted, effective, inheritable and ambient sets; drops the rest.
// `by_default` (no capabilities.keep, our own user namespace): a process that
// holds none has nothing to drop, and one without CAP_SETPCAP cannot lower
// its bounding set, which then bounds nothing it could not raise itself.
int KeepCapabilities(uint64_t keep, int last_cap, bool by_default) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) < 0) return -1;
  if (by_default && data[0].permitted == 0 && data[1].permitted == 0) return 0;
  // After a setresuid away from 0 (with PR_SET_KEEPCAPS) effective is empty
  // while permitted survives, and dropping from the bounding set needs
  // CAP_SETPCAP effective: raise effective to permitted first.
  for (auto& d : data) d.effective = d.permitted;
  if (syscall(SYS_capset, &hdr, data) < 0) return -1;
  const bool setpcap = data[CAP_SETPCAP / 32].permitted & (uint32_t{1} << (CAP_SETPCAP % 32));
  for (int cap = 0; cap <= last_cap && (setpcap || !by_default); cap++) {
    if (keep & (uint64_t{1} << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return -1;
  }
  for (int i = 0; i < 2; i++) {
    const uint32_t mask = static_cast<uint32_t>(keep >> (32 * i));
    data[i].permitted &= mask;
    data[i].effective = data[i].permitted;
    data[i].inheritable = data[i].permitted;
  }
  if (syscall(SYS_capset, &hdr, data) < 0) return -1;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) return -1;
  for (int cap = 0; cap <= last_cap; cap++) {
    const uint32_t bit = uint32_t{1} << (cap % 32);
    if ((keep & (uint64_t{1} << cap)) && (data[cap / 32].permitted & bit) &&
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      return -1;
  }
  return 0;
}

}  // namespace

// async-signal-safe
int RunPolicyOp(const Plan* plan, const Op& op) {
  switch (op.kind) {
    case kOpSetgroups: {
      // a = 1: the implicit clear in a joined user namespace, which may deny
      // setgroups; b = 1: none at all (user.owner's, before its setresgid).
      const long r = op.b == 1 ? syscall(SYS_setgroups, 0, nullptr) : syscall(SYS_setgroups, plan->groups.size(), plan->groups.data());
      return r < 0 && op.a == 1 && errno == EPERM ? 0 : static_cast<int>(r);
    }
    case kOpSetresgid:
      return syscall(SYS_setresgid, op.a, op.a, op.a);
    case kOpSetresuid:
      return syscall(SYS_setresuid, op.a, op.a, op.a);
    case kOpPrctl:
      return prctl(op.a, op.b, 0, 0, 0);
    case kOpSetsid:
      return setsid() < 0 ? -1 : 0;
    case kOpSetrlimit: {
      rlimit64 lim{op.flags, op.b64};
      return syscall(SYS_prlimit64, 0, op.a, &lim, nullptr);
    }
    case kOpCapabilities:
      return KeepCapabilities(op.flags, op.a, op.b != 0);
    case kOpSeccomp:
    case kOpLandlock:
      return RunRestrictOp(plan, op);
    default:
      errno = EINVAL;
      return -1;
  }
}

}  // namespace spawn
}  // namespace nsjs

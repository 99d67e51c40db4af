// cgroup/: the child's side of `cgroup:` (lib/cgroup/ makes the cgroups,
// writes their limits and opens the files named here). This file runs in
// the child between clone and execve: async-signal-safe calls only, no
// allocation (spawn/child.cc's rule).
//
// The child moves itself into each cgroup as its very first op, before it
// joins, forks, mounts or execs anything: a write of "0" to a file the
// parent opened, v1's tasks (v2's cgroup.procs). The kernel checks such a
// write against the credentials of the file's opener (v1
// __cgroup1_procs_write, v2 cgroup_procs_write_permission, both since
// CVE-2021-4197), so it works the same in a new user namespace made by the
// clone. "0" in tasks moves the calling thread only, without the global
// cgroup_threadgroup_rwsem (whose write side waits an RCU grace period);
// the child has one thread here, so it moves the whole process. On cgroup
// v2, CLONE_INTO_CGROUP has placed the child already where clone3 took it.
#include "cgroup.h"

#include <errno.h>
#include <unistd.h>

namespace nsjs {
namespace spawn {

// async-signal-safe
int RunCgroupOp(const Plan* plan, const Op& op) {
  switch (op.kind) {
    case kOpCgroupJoin: {
      if (op.b == 1 && plan->into_cgroup) return 0;  // CLONE_INTO_CGROUP did it
      ssize_t n;
      do n = write(op.a, "0", 1);
      while (n < 0 && errno == EINTR);
      return n == 1 ? 0 : -1;
    }
    default:
      errno = EINVAL;
      return -1;
  }
}

}  // namespace spawn
}  // namespace nsjs

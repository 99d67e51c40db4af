// The child's cgroup op (cgroup.cc): kOpCgroupJoin of spawn/plan.h, which
// spawn/child.cc hands over between clone and execve, before any other op.
#pragma once

#include "../spawn/plan.h"

namespace nsjs {
namespace spawn {

// async-signal-safe. Runs one cgroup op: 0, or -1 with errno set.
int RunCgroupOp(const Plan* plan, const Op& op);

}  // namespace spawn
}  // namespace nsjs

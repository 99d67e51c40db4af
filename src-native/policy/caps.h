// The child's policy ops (caps.cc): kOpSetgroups, kOpSetresgid,
// kOpSetresuid, kOpPrctl, kOpSetsid, kOpSetrlimit and kOpCapabilities, and
// (restrict.cc) kOpSeccomp and kOpLandlock of
// spawn/plan.h, which spawn/child.cc hands over between clone and execve.
#pragma once

#include "../spawn/plan.h"

namespace nsjs {
namespace spawn {

// async-signal-safe. Runs one policy op: 0, or -1 with errno set.
int RunPolicyOp(const Plan* plan, const Op& op);

// async-signal-safe. kOpSeccomp and kOpLandlock (restrict.cc): 0, or -1 with errno set.
int RunRestrictOp(const Plan* plan, const Op& op);

}  // namespace spawn
}  // namespace nsjs

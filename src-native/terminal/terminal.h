// The child's terminal ops (child.cc): kOpPtyInside and kOpCtty of
// spawn/plan.h, which spawn/child.cc hands over between clone and execve.
#pragma once

#include "../spawn/plan.h"

namespace nsjs {
namespace spawn {

// async-signal-safe. Runs one terminal op: 0, or -1 with errno set.
int RunTerminalOp(const Plan* plan, const Op& op);

}  // namespace spawn
}  // namespace nsjs

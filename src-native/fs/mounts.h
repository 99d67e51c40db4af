// The child's mount engine (mounts.cc): the kOpOpenAt…kOpCloseSlots ops of
// plan.h, walked by spawn/child.cc between clone and execve. Its state lives on the
// child's stack: fds in slots, nothing allocated.
#pragma once

#include <cstdint>

#include "../spawn/plan.h"

namespace nsjs {
namespace spawn {

enum MountSlotKind {
  kSlotEmpty,
  kSlotFd,          // an fd: a path (O_PATH), a detached or attached mount, an fs context
  kSlotLegacyBind,  // no open_tree: fd is an O_PATH fd of the source, made_by its kOpOpenTree
  kSlotLegacyFs,    // no fsopen: no fd; made_by (kOpFsOpen) holds what mount(2) needs
};

struct MountSlot {
  int fd = -1;
  MountSlotKind kind = kSlotEmpty;
  const Op* made_by = nullptr;  // the op that filled the slot: how to find its target again
  uint64_t pending = 0;         // MOUNT_ATTR_* left for a remount (no mount_setattr)
};

struct MountEngine {
  MountSlot slots[kChildSlots];
  int fallback = 0;        // MountFallback bits in force: forced by the plan, or ENOSYS seen
  bool fell_back = false;  // the op took its fallback path (cleared by spawn/child.cc RunOp before each op)
};

// async-signal-safe. Runs one op of the range kOpMountFirst..kOpMountLast:
// 0, or -1 with errno set (and fell_back if that was the fallback's errno).
int RunMountOp(const Op& op, MountEngine* engine);

}  // namespace spawn
}  // namespace nsjs

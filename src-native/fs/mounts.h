// The child's mount engine (mounts.cc): the kOpOpenAt…kOpCloseSlots ops of
// plan.h, walked by spawn/child.cc between clone and execve. Its state lives on the
// child's stack: fds in slots, nothing allocated.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>

#include <cstdint>

#include "../spawn/plan.h"

// The same numbers on every architecture (the unified table from 424 on).
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

namespace nsjs {
namespace spawn {

// Our own names for the uapi constants that mounts.cc (the child) and
// idmap.cc (the parent) both pass: glibc 2.36's <sys/mount.h> declares some
// of them as enumerators, older ones not at all.
constexpr unsigned kOpenTreeClone = 1;
constexpr unsigned kAtRecursive = 0x8000;
constexpr uint64_t kAttrRdonly = 0x1, kAttrIdmap = 0x100000;

// mount_setattr's argument, VER0.
struct MountAttr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

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

// The most filesystems one spawn makes that missing paths may be created in.
constexpr int kMaxOurs = 64;

struct MountEngine {
  MountSlot slots[kChildSlots];
  dev_t ours[kMaxOurs];    // st_dev of each (kOpMarkOurs)
  int n_ours = 0;
  uint32_t skip = 0;       // ops spawn/child.cc skips after this one (an optional mount whose source is missing)
  int sync_fd = -1;        // Plan::sync_fd, where kOpRecvTree reads the parent's trees
  char* log = nullptr;     // Progress::fs_log, where a failed fsconfig leaves the kernel's reason
  int fallback = 0;        // MountFallback bits in force: forced by the plan, or ENOSYS seen
  bool fell_back = false;  // the op took its fallback path (cleared by spawn/child.cc RunOp before each op)
};

// async-signal-safe. Runs one op of the range kOpMountFirst..kOpMountLast:
// 0, or -1 with errno set (and fell_back if that was the fallback's errno).
int RunMountOp(const Op& op, MountEngine* engine);

// fs/idmap.cc, the parent's side (any thread, after the child's user
// namespace is mapped): the idmapped detached tree kOpRecvTree `op` asks
// for, through the user namespace `userns_fd`; its fd, or -errno with the
// failed call in *syscall_name. SendTree hands it (or fd -1: an optional
// source found missing) to the child: 0 or -errno.
int MakeIdmappedTree(const Op& op, int userns_fd, const char** syscall_name);
int SendTree(int sock, int fd);
// async-signal-safe. The child's side: the next tree's fd (O_CLOEXEC), or
// -1 with ENOENT for a missing optional source.
int RecvTree(int sock);

}  // namespace spawn
}  // namespace nsjs

// Idmapped binds (`idmap: true`), made as runc and crun make them: the
// kernel idmaps only a detached mount, and only for a caller privileged
// over the filesystem's user namespace (the host's, for a disk) and over
// the user namespace it maps through (the sandbox's). The child has
// neither over a host filesystem, so the parent makes each tree once the
// child's user namespace exists and is mapped: open_tree(OPEN_TREE_CLONE)
// of the source in our mount namespace, mount_setattr(MOUNT_ATTR_IDMAP, the
// child's /proc/<pid>/ns/user) on the detached copy (and read-only with
// it), and sends its fd on the sync socket (SCM_RIGHTS). The child takes
// them in plan order (kOpRecvTree) and attaches each onto its checked
// target like any bind (kOpMoveMount).
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "../fd_pass.h"
#include "mounts.h"

namespace nsjs {
namespace spawn {

int MakeIdmappedTree(const Op& op, int userns_fd, const char** syscall_name) {
  const bool recursive = op.flags & kTreeRecursive;
  *syscall_name = "open_tree";
  const long fd = syscall(SYS_open_tree, AT_FDCWD, op.s[0], kOpenTreeClone | O_CLOEXEC | (recursive ? kAtRecursive : 0));
  if (fd < 0) return -errno;
  MountAttr attr{kAttrIdmap | ((op.flags & kTreeReadonly) ? kAttrRdonly : 0), 0, 0, static_cast<uint64_t>(userns_fd)};
  *syscall_name = "mount_setattr";
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? kAtRecursive : 0), &attr, sizeof attr) < 0) {
    const int err = errno;
    close(static_cast<int>(fd));
    return -err;
  }
  return static_cast<int>(fd);
}

int SendTree(int sock, int fd) {
  const char byte = fd >= 0 ? 't' : 'n';
  return SendWithFd(sock, fd, &byte, 1);
}

// async-signal-safe. The next message of the parent's: a tree's fd, or -1
// with errno ENOENT where the parent found an optional source missing.
int RecvTree(int sock) {
  char byte = 0;
  int fd;
  if (RecvWithFd(sock, 0, &byte, 1, &fd) != 1) _exit(127);  // the parent gave up on us and reports why itself (as kOpWaitParent)
  if (byte != 't' || fd < 0) {
    if (fd >= 0) close(fd);
    errno = ENOENT;
    return -1;
  }
  return fd;
}

}  // namespace spawn
}  // namespace nsjs

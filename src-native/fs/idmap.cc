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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mounts.h"

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

namespace nsjs {
namespace spawn {
namespace {

constexpr unsigned kOpenTreeClone = 1;
constexpr unsigned kAtRecursive = 0x8000;
constexpr uint64_t kAttrRdonly = 0x1, kAttrIdmap = 0x100000;

struct MountAttr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

}  // namespace

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
  char byte = fd >= 0 ? 't' : 'n';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == 1 ? 0 : n < 0 ? -errno : -EIO;
}

// async-signal-safe. The next message of the parent's: a tree's fd, or -1
// with errno ENOENT where the parent found an optional source missing.
int RecvTree(int sock) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(127);  // the parent gave up on us and reports why itself (as kOpWaitParent)
  const cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (byte != 't' || !c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
    errno = ENOENT;
    return -1;
  }
  int fd;
  const unsigned char* data = CMSG_DATA(c);
  unsigned char* out = reinterpret_cast<unsigned char*>(&fd);
  for (size_t i = 0; i < sizeof fd; i++) out[i] = data[i];
  return fd;
}

}  // namespace spawn
}  // namespace nsjs

// One fd over a unix socket (SCM_RIGHTS) with a few bytes beside it: the
// parent's idmapped trees to the child (fs/idmap.cc), the pty master a child
// opened inside its sandbox back to the parent (terminal/), nsjs-oci's
// console master to --console-socket (init/init.cc).
//
// The child calls these between clone and execve, so they allocate nothing
// and call nothing but the socket calls. They are static, one copy in each
// source that includes them: the sanitizer build compiles the child's
// sources without ASan (CMakeLists.txt), and a single shared inline copy
// could be the instrumented one.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

namespace nsjs {

// async-signal-safe. Sends `len` bytes of `data` (at least one: a reader
// cannot tell an empty message from the end) with `fd` attached, or none
// if fd is -1. 0, or -errno (-EIO: sent short).
static inline int SendWithFd(int sock, int fd, const void* data, size_t len) {
  iovec iov{const_cast<void*>(data), len};
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
    unsigned char* out = CMSG_DATA(c);
    const unsigned char* in = reinterpret_cast<const unsigned char*>(&fd);
    for (size_t i = 0; i < sizeof fd; i++) out[i] = in[i];
  }
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(len) ? 0 : n < 0 ? -errno : -EIO;
}

// async-signal-safe. Receives one message into `data` (`len` bytes at most)
// and the one fd it carried, O_CLOEXEC, into *fd: -1 if it carried none.
// The message's length, or -errno. A caller that refuses the message closes
// *fd: the kernel installed it in our table already.
static inline ssize_t RecvWithFd(int sock, int flags, void* data, size_t len, int* fd) {
  iovec iov{data, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  *fd = -1;
  ssize_t n;
  do n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  // One int fits the buffer: more fds were cut (MSG_CTRUNC) and closed by the kernel.
  const cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
    const unsigned char* in = CMSG_DATA(c);
    unsigned char* out = reinterpret_cast<unsigned char*>(fd);
    for (size_t i = 0; i < sizeof *fd; i++) out[i] = in[i];
  }
  return n;
}

}  // namespace nsjs

// Fds over a unix socket (SCM_RIGHTS) with a few bytes beside them: the
// parent's idmapped trees to the child (fs/idmap.cc), the pty master a child
// opened inside its sandbox back to the parent (terminal/), nsjs-oci's
// console master to --console-socket (init/init.cc), a sandbox command's
// plan and fds to the sandbox's gate (sandbox/enter.cc).
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

// The most fds one message carries here: a sandbox command's plan names
// its stdio (64 at most), a few pipes and cgroup files, and the plan itself.
constexpr size_t kMaxPassFds = 96;

// async-signal-safe. Sends `len` bytes of `data` (at least one: a reader
// cannot tell an empty message from the end) with the `nfds` fds of `fds`
// attached (kMaxPassFds at most). 0, or -errno (-EIO: sent short).
static inline int SendWithFds(int sock, const int* fds, size_t nfds, const void* data, size_t len) {
  if (nfds > kMaxPassFds) return -E2BIG;
  iovec iov{const_cast<void*>(data), len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassFds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    unsigned char* out = CMSG_DATA(c);
    const unsigned char* in = reinterpret_cast<const unsigned char*>(fds);
    for (size_t i = 0; i < sizeof(int) * nfds; i++) out[i] = in[i];
  }
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(len) ? 0 : n < 0 ? -errno : -EIO;
}

// async-signal-safe. One fd, or none if fd is -1.
static inline int SendWithFd(int sock, int fd, const void* data, size_t len) {
  return SendWithFds(sock, &fd, fd >= 0 ? 1 : 0, data, len);
}

// async-signal-safe. Receives one message into `data` (`len` bytes at most)
// and the fds it carried, O_CLOEXEC, into fds (`max` at most; kMaxPassFds at
// most), *nfds of them; *cut (if given) says whether it carried more (the
// kernel closed the rest). The message's length, or -errno. A caller that
// refuses the message closes the fds: the kernel installed them in our
// table already.
static inline ssize_t RecvWithFds(int sock, int flags, void* data, size_t len, int* fds, size_t max, size_t* nfds,
                                  bool* cut = nullptr) {
  iovec iov{data, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassFds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * (max < kMaxPassFds ? max : kMaxPassFds));
  *nfds = 0;
  ssize_t n;
  do n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  const cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(0)) {
    const size_t got = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* in = CMSG_DATA(c);
    unsigned char* out = reinterpret_cast<unsigned char*>(fds);
    for (size_t i = 0; i < sizeof(int) * got && i < sizeof(int) * max; i++) out[i] = in[i];
    *nfds = got < max ? got : max;
  }
  if (cut) *cut = (msg.msg_flags & MSG_CTRUNC) != 0;
  return n;
}

// async-signal-safe. One message and the one fd it carried into *fd: -1 if
// it carried none. More fds were cut (MSG_CTRUNC) and closed by the kernel.
static inline ssize_t RecvWithFd(int sock, int flags, void* data, size_t len, int* fd) {
  size_t got;
  *fd = -1;
  return RecvWithFds(sock, flags, data, len, fd, 1, &got);
}

}  // namespace nsjs

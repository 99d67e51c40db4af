// The terminal ops the child runs between clone and execve (async-signal-safe
// only, no allocation: the rule of spawn/child.cc). A pty opened inside the
// sandbox, from its own devpts, so that `tty` names it there: the master
// goes back to the parent over a socketpair (SCM_RIGHTS, runc's
// console-socket way) and the slave becomes fds 0, 1 and 2; then, once
// setsid has made the child a session leader, the slave its controlling
// terminal.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "terminal.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

namespace nsjs {
namespace spawn {
namespace {

// async-signal-safe
int SendFd(int sock, int fd) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == 1 ? 0 : -1;
}

// async-signal-safe. s0 = the ptmx to open, a = the socket, b = columns, flags = rows.
int PtyInside(const Op& op) {
  const int master = open(op.s[0], O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return -1;
  int unlock = 0;
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(op.b);
  ws.ws_row = static_cast<unsigned short>(op.flags);
  int slave = -1;
  int r = ioctl(master, TIOCSPTLCK, &unlock);
  if (r == 0) r = ioctl(master, TIOCSWINSZ, &ws);
  if (r == 0) r = slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (r >= 0) r = SendFd(op.a, master);
  const int saved = errno;
  close(master);
  errno = saved;
  if (r < 0) return -1;
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) return -1;
  if (slave > 2) close(slave);
  return 0;
}

}  // namespace

// async-signal-safe
int RunTerminalOp(const Plan* plan, const Op& op) {
  (void)plan;
  switch (op.kind) {
    case kOpPtyInside:
      return PtyInside(op);
    case kOpCtty:
      return ioctl(0, TIOCSCTTY, 0);
    default:
      errno = EINVAL;
      return -1;
  }
}

}  // namespace spawn
}  // namespace nsjs

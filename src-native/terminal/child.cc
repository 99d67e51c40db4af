// The terminal ops the child runs between clone and execve (async-signal-safe
// only, no allocation: the rule of spawn/child.cc). A pty opened inside the
// sandbox, from its own devpts, so that `tty` names it there: the master
// goes back to the parent over a socketpair (SCM_RIGHTS, runc's
// console-socket way) and the slave becomes fds 0, 1 and 2; then, once
// setsid has made the child a session leader, the slave its controlling
// terminal.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "../fd_pass.h"
#include "terminal.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

namespace nsjs {
namespace spawn {
namespace {

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
  if (r >= 0) {
    const char byte = 0;
    if ((r = SendWithFd(op.a, master, &byte, 1)) < 0) {
      errno = -r;
      r = -1;
    }
  }
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

// The parent's side of terminals (lib/terminal/): a pty opened here for a
// command whose /dev is ours (the slave becomes its stdio), the socketpair
// over which a child that opens its pty inside the sandbox sends the master
// back, receiving that master, TIOCSWINSZ for resize(), and the master's
// reads and writes. Each returns its result or -errno, as every binding does
// (common.h).
//
// The master is read here rather than by a libuv stream: libuv takes
// POLLHUP after a short read for the end (uv__stream_io), but a pty whose
// slave has closed still holds output in its flip buffers, which the next
// read would flush; read that way, the last kilobytes a command wrote before
// exiting were lost. Here the master is read until the kernel says EIO,
// which it does only once nothing is left.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>


#include "../common.h"
#include "../fd_pass.h"
#include "../poll_watch.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

namespace nsjs {
namespace {

int NonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// A one-shot watch on the master: (fd, writable, callback(err)) calls back
// once the fd is readable (or hung up), or writable.
class TtyWatch : public PollWatch<TtyWatch> {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(env, "TtyWatch", {InstanceMethod("start", &TtyWatch::Start), InstanceMethod("close", &TtyWatch::Close)});
  }
  explicit TtyWatch(const Napi::CallbackInfo& info)
      : PollWatch<TtyWatch>(info, Int(info[0]), info[2], "nsjs.terminal"), writable_(info[1].ToBoolean().Value()) {}

  void OnPoll(int status, int /*events*/) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Deliver({Napi::Number::New(env, status)});
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), StartPoll(info.Env(), writable_ ? UV_WRITABLE : UV_READABLE | UV_DISCONNECT));
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }
  bool writable_;
};

// readTty(fd, buffer) → bytes read, or -errno (EAGAIN: nothing yet; EIO: the end).
Napi::Value ReadTty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsBuffer()) return Napi::Number::New(env, -EINVAL);
  auto buf = info[1].As<Napi::Buffer<char>>();
  ssize_t n;
  do n = read(Int(info[0]), buf.Data(), buf.Length());
  while (n < 0 && errno == EINTR);
  return Result(env, n);
}

// writeTty(fd, buffer, offset) → bytes written from offset, or -errno (EAGAIN: full).
Napi::Value WriteTty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsBuffer() || !info[2].IsNumber()) return Napi::Number::New(env, -EINVAL);
  auto buf = info[1].As<Napi::Buffer<char>>();
  const double offset = Num(info[2]);
  if (!(offset >= 0 && offset <= static_cast<double>(buf.Length()))) return Napi::Number::New(env, -EINVAL);
  const size_t at = static_cast<size_t>(offset);
  ssize_t n;
  do n = write(Int(info[0]), buf.Data() + at, buf.Length() - at);
  while (n < 0 && errno == EINTR);
  return Result(env, n);
}

// Sizes come from JS: lib/terminal/options.ts checks them, and so does this.
bool Size(const Napi::Value& cols, const Napi::Value& rows, winsize* ws) {
  if (!cols.IsNumber() || !rows.IsNumber()) return false;
  const int c = Int(cols), r = Int(rows);
  if (c < 1 || c > 0xffff || r < 1 || r > 0xffff) return false;
  *ws = winsize{};
  ws->ws_col = static_cast<unsigned short>(c);
  ws->ws_row = static_cast<unsigned short>(r);
  return true;
}

// openPty(cols, rows) → [master, slave] or -errno. The slave from
// TIOCGPTPEER, never by its path: no lookup another process could race.
Napi::Value OpenPty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  winsize ws;
  if (!Size(info[0], info[1], &ws)) return Napi::Number::New(env, -EINVAL);
  const int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return Result(env, -1);
  int unlock = 0;
  int slave = -1;
  if (NonBlocking(master) < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCSWINSZ, &ws) < 0 ||
      (slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
    const int saved = errno;
    close(master);
    return Napi::Number::New(env, -saved);
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, master));
  out.Set(1u, Napi::Number::New(env, slave));
  return out;
}

// socketpair() → [ours, the child's] or -errno.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) return Result(env, -1);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  return out;
}

// recvFd(sock) → the fd the child sent, or -errno (EAGAIN: none was sent).
Napi::Value RecvFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) return Napi::Number::New(env, -EBADF);
  char byte;
  int fd;
  const ssize_t n = RecvWithFd(Int(info[0]), MSG_DONTWAIT, &byte, 1, &fd);
  if (n < 0) return Napi::Number::New(env, static_cast<double>(n));
  if (n != 1 || fd < 0) {
    if (fd >= 0) close(fd);
    return Napi::Number::New(env, -EPROTO);
  }
  if (NonBlocking(fd) < 0) {
    const int saved = errno;
    close(fd);
    return Napi::Number::New(env, -saved);
  }
  return Napi::Number::New(env, fd);
}

// setWinsize(fd, cols, rows) → 0 or -errno; the kernel sends SIGWINCH to the
// terminal's foreground process group.
Napi::Value SetWinsize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  winsize ws;
  if (!info[0].IsNumber() || !Size(info[1], info[2], &ws)) return Napi::Number::New(env, -EINVAL);
  return Result(env, ioctl(Int(info[0]), TIOCSWINSZ, &ws));
}

}  // namespace

void InitTerminal(Napi::Env env, Napi::Object exports) {
  exports.Set("openPty", Napi::Function::New(env, OpenPty, "openPty"));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  exports.Set("recvFd", Napi::Function::New(env, RecvFd, "recvFd"));
  exports.Set("setWinsize", Napi::Function::New(env, SetWinsize, "setWinsize"));
  exports.Set("readTty", Napi::Function::New(env, ReadTty, "readTty"));
  exports.Set("writeTty", Napi::Function::New(env, WriteTty, "writeTty"));
  exports.Set("TtyWatch", TtyWatch::Class(env));
}

}  // namespace nsjs

// open and close for the fds nsjs makes. In a worker_thread, Node's fs keeps
// a table of the fds fs itself opened: fs.closeSync on any other fd warns
// ("closed but not opened in unmanaged mode"), and a raw close of one of
// fs's would leave the table holding a number the kernel hands out again.
// So fds the addon opens are closed here, and fs closes only its own.
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

namespace nsjs {
namespace {

// Linux releases the fd before close(2) can be interrupted: EINTR means it
// is closed, and a retry could close a number another thread has reused.
Napi::Value Close(const Napi::CallbackInfo& info) {
  const int r = close(Int(info[0]));
  return Result(info.Env(), r < 0 && errno == EINTR ? 0 : r);
}

// O_CLOEXEC always, as libuv does for fs: Node's child_process closes
// nothing in its children, so an fd without it would reach every one.
Napi::Value Open(const Napi::CallbackInfo& info) {
  return Result(info.Env(), open(Str(info[0]).c_str(), Int(info[1]) | O_CLOEXEC));
}

}  // namespace

void InitFd(Napi::Env env, Napi::Object exports) {
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("open", Napi::Function::New(env, Open, "open"));
}

}  // namespace nsjs

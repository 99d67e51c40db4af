// pidfd_open and pidfd_send_signal: a process handle that never names a
// recycled pid.
#include <unistd.h>

#include "../common.h"
#include "pidfd.h"

namespace nsjs {
namespace {

// pidfds are always O_CLOEXEC (the kernel sets it), so flags are passed as given.
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  return Result(info.Env(), syscall(SYS_pidfd_open, Int(info[0]), Int(info[1])));
}

Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  return Result(info.Env(), syscall(SYS_pidfd_send_signal, Int(info[0]), Int(info[1]), nullptr, 0));
}

}  // namespace

void InitPidfd(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
}

}  // namespace nsjs

// unshare, setns and the nsfs ioctls. These act on the calling thread only:
// Node is multi-threaded, so the high-level API never calls them in the Node
// process (see DESIGN.md); they are here for users who know what that means.
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdint>

#include "../common.h"

// The system header lags the kernel: define the nsfs requests we use here.
#define NSJS_NSIO 0xb7
#define NSJS_NS_GET_USERNS _IO(NSJS_NSIO, 0x1)
#define NSJS_NS_GET_PARENT _IO(NSJS_NSIO, 0x2)
#define NSJS_NS_GET_NSTYPE _IO(NSJS_NSIO, 0x3)
#define NSJS_NS_GET_OWNER_UID _IO(NSJS_NSIO, 0x4)
#define NSJS_NS_GET_ID _IOR(NSJS_NSIO, 0xd, uint64_t)  // Linux 6.18

namespace nsjs {
namespace {

Napi::Value Unshare(const Napi::CallbackInfo& info) {
  return Result(info.Env(), unshare(Int(info[0])));
}

Napi::Value Setns(const Napi::CallbackInfo& info) {
  return Result(info.Env(), setns(Int(info[0]), Int(info[1])));
}

// Requests that answer through a pointer (owner uid, id) return the value;
// the others return what ioctl returns (a new O_CLOEXEC fd, or the type).
Napi::Value IoctlNs(const Napi::CallbackInfo& info) {
  const int fd = Int(info[0]);
  const unsigned long request = static_cast<unsigned long>(Num(info[1]));
  if (request == NSJS_NS_GET_OWNER_UID) {
    uid_t uid = 0;
    if (ioctl(fd, request, &uid) < 0) return Result(info.Env(), -1);
    return Napi::Number::New(info.Env(), uid);
  }
  if (request == NSJS_NS_GET_ID) {
    uint64_t id = 0;
    if (ioctl(fd, request, &id) < 0) return Result(info.Env(), -1);
    return Napi::Number::New(info.Env(), static_cast<double>(id));
  }
  return Result(info.Env(), ioctl(fd, request));
}

Napi::Value OpenNs(const Napi::CallbackInfo& info) {
  return Result(info.Env(), open(Str(info[0]).c_str(), O_RDONLY | O_CLOEXEC));
}

}  // namespace

void InitNs(Napi::Env env, Napi::Object exports) {
  exports.Set("unshare", Napi::Function::New(env, Unshare, "unshare"));
  exports.Set("setns", Napi::Function::New(env, Setns, "setns"));
  exports.Set("ioctlNs", Napi::Function::New(env, IoctlNs, "ioctlNs"));
  exports.Set("openNs", Napi::Function::New(env, OpenNs, "openNs"));

}

}  // namespace nsjs

// mount, umount2 and pivot_root. Like ns/ns.cc, they act on the mount namespace
// of the calling thread, which is the Node process's own.
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common.h"

namespace nsjs {
namespace {

Napi::Value Mount(const Napi::CallbackInfo& info) {
  OptStr source(info[0]), fstype(info[2]), data(info[4]);
  const std::string target = Str(info[1]);
  return Result(info.Env(), mount(source.get(), target.c_str(), fstype.get(),
                                  static_cast<unsigned long>(Num(info[3])), data.get()));
}

Napi::Value Umount(const Napi::CallbackInfo& info) {
  return Result(info.Env(), umount2(Str(info[0]).c_str(), Int(info[1])));
}

Napi::Value PivotRoot(const Napi::CallbackInfo& info) {
  const std::string new_root = Str(info[0]), put_old = Str(info[1]);
  return Result(info.Env(), syscall(SYS_pivot_root, new_root.c_str(), put_old.c_str()));
}

}  // namespace

void InitMount(Napi::Env env, Napi::Object exports) {
  exports.Set("mount", Napi::Function::New(env, Mount, "mount"));
  exports.Set("umount", Napi::Function::New(env, Umount, "umount"));
  exports.Set("pivotRoot", Napi::Function::New(env, PivotRoot, "pivotRoot"));

}

}  // namespace nsjs

#include "common.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  nsjs::InitNs(env, exports);
  nsjs::InitMount(env, exports);
  nsjs::InitPidfd(env, exports);
  nsjs::InitFd(env, exports);
  nsjs::InitWait(env, exports);
  nsjs::InitSpawn(env, exports);
  nsjs::InitExe(env, exports);
  nsjs::InitNet(env, exports);
  nsjs::InitProbe(env, exports);
  nsjs::InitPolicy(env, exports);
  nsjs::InitTerminal(env, exports);
  nsjs::InitCgroup(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(nsjs, Init)

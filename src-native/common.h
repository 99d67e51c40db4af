// Shared by every binding file. Native code never throws: a syscall binding
// returns its result (>= 0) or -errno, and lib/core/errors.ts turns that into an
// NsError with the syscall and path the TypeScript caller knows.
#pragma once

#include <napi.h>

#include <cerrno>
#include <string>

namespace nsjs {

inline Napi::Value Result(Napi::Env env, long r) {
  return Napi::Number::New(env, r < 0 ? -errno : static_cast<double>(r));
}

inline std::string Str(const Napi::Value& v) {
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

// null/undefined → nullptr, so mount(2) sees NULL where the caller passed none.
struct OptStr {
  explicit OptStr(const Napi::Value& v) : set(v.IsString()), s(Str(v)) {}
  const char* get() const { return set ? s.c_str() : nullptr; }
  bool set;
  std::string s;
};

inline int Int(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }
inline double Num(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }

void InitNs(Napi::Env env, Napi::Object exports);
void InitMount(Napi::Env env, Napi::Object exports);
void InitPidfd(Napi::Env env, Napi::Object exports);
void InitFd(Napi::Env env, Napi::Object exports);
void InitWait(Napi::Env env, Napi::Object exports);
void InitSpawn(Napi::Env env, Napi::Object exports);
void InitExe(Napi::Env env, Napi::Object exports);
void InitNet(Napi::Env env, Napi::Object exports);
void InitProbe(Napi::Env env, Napi::Object exports);
void InitPolicy(Napi::Env env, Napi::Object exports);
void InitTerminal(Napi::Env env, Napi::Object exports);
void InitCgroup(Napi::Env env, Napi::Object exports);

}  // namespace nsjs

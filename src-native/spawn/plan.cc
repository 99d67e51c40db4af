#include "plan.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <cstring>

namespace nsjs {
namespace spawn {
namespace {

constexpr uintptr_t kNone = ~uintptr_t{0};

// Strings go into the arena first and are turned into pointers once it has
// stopped growing; until then an Op's s[] holds arena offsets.
uintptr_t Append(std::vector<char>* arena, const char* s, size_t n) {
  const uintptr_t off = arena->size();
  arena->insert(arena->end(), s, s + n);
  arena->push_back('\0');
  return off;
}

uintptr_t Append(std::vector<char>* arena, const Napi::Value& v) {
  if (!v.IsString()) return kNone;
  const std::string s = v.As<Napi::String>().Utf8Value();
  return Append(arena, s.data(), s.size());
}

const char* At(const std::vector<char>& arena, uintptr_t off) {
  return off == kNone ? nullptr : arena.data() + off;
}

uint64_t U64(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless = false;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return v.IsNumber() ? static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue()) : 0;
}

int32_t I32(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : 0; }

// lib/ validated the text; a failure here is a bug there.
bool Address(const Napi::Value& text, int family, unsigned char* out) {
  return text.IsString() && inet_pton(family, text.As<Napi::String>().Utf8Value().c_str(), out) == 1;
}

}  // namespace

bool Plan::Parse(const Napi::Object& js, std::string* why) {
  clone_flags = U64(js.Get("cloneFlags"));
  force_clone = js.Get("forceClone").ToBoolean().Value();
  parent_maps = js.Get("parentMaps").ToBoolean().Value();
  die_with_parent = js.Get("dieWithParent").ToBoolean().Value();
  fork_style = js.Get("forkStyle").ToBoolean().Value();
  exec_chain = js.Get("execChain").ToBoolean().Value();
  if (parent_maps) {
    uid_map = js.Get("uidMap").ToString().Utf8Value();
    gid_map = js.Get("gidMap").ToString().Utf8Value();
    if (js.Get("setgroups").IsString()) setgroups = js.Get("setgroups").ToString().Utf8Value();
  }

  const Napi::Value veth_v = js.Get("veth");
  if (veth_v.IsObject()) {
    const Napi::Object v = veth_v.As<Napi::Object>();
    has_veth = true;
    veth.host = v.Get("host").ToString().Utf8Value();
    veth.peer = v.Get("peer").ToString().Utf8Value();
    veth.mtu = v.Get("mtu").IsNumber() ? I32(v.Get("mtu")) : -1;
    const Napi::Array addrs = v.Get("hostAddresses").As<Napi::Array>();
    for (uint32_t i = 0; i < addrs.Length(); i++) {
      const Napi::Object a = addrs.Get(i).As<Napi::Object>();
      Veth::Address addr{I32(a.Get("family")), {}, I32(a.Get("prefix"))};
      if (!Address(a.Get("address"), addr.family, addr.bytes)) {
        *why = "bad veth host address";
        return false;
      }
      veth.host_addresses.push_back(addr);
    }
  }

#ifdef NSJS_FAULT_INJECTION
  const Napi::Value fault = js.Get("fault");
  if (fault.IsObject()) {
    const Napi::Object f = fault.As<Napi::Object>();
    if (f.Get("op").IsNumber()) fault_op = I32(f.Get("op"));
    if (f.Get("parent").IsString()) fault_parent = f.Get("parent").ToString().Utf8Value();
    fault_errno = I32(f.Get("errno"));
  }
#endif

  const Napi::Value ops_v = js.Get("ops");
  if (!ops_v.IsArray()) {
    *why = "plan.ops is not an array";
    return false;
  }
  const Napi::Array js_ops = ops_v.As<Napi::Array>();
  std::vector<std::vector<uintptr_t>> offsets(js_ops.Length());
  ops.resize(js_ops.Length());
  for (uint32_t i = 0; i < js_ops.Length(); i++) {
    const Napi::Object o = js_ops.Get(i).As<Napi::Object>();
    Op& op = ops[i];
    op.kind = I32(o.Get("kind"));
    if (op.kind == kOpFork) second_clone = true;
    op.a = I32(o.Get("a"));
    op.b = I32(o.Get("b"));
    op.flags = U64(o.Get("flags"));
    op.b64 = U64(o.Get("b64"));
    if (o.Has("addr") && !Address(o.Get("addr"), op.a, op.addr)) {
      *why = "bad address in op " + std::to_string(i);
      return false;
    }
    const Napi::Value s = o.Get("s");
    if (s.IsArray()) {
      const Napi::Array arr = s.As<Napi::Array>();
      for (uint32_t j = 0; j < arr.Length() && j < 4; j++) offsets[i].push_back(Append(&arena_, arr.Get(j)));
    }
  }

  const Napi::Array js_stdio = js.Get("stdio").As<Napi::Array>();
  for (uint32_t i = 0; i < js_stdio.Length(); i++) stdio.push_back(I32(js_stdio.Get(i)));
  const Napi::Value groups_v = js.Get("groups");
  if (groups_v.IsArray()) {
    const Napi::Array g = groups_v.As<Napi::Array>();
    for (uint32_t i = 0; i < g.Length(); i++) groups.push_back(static_cast<gid_t>(U64(g.Get(i))));
  }

  auto strings = [&](const char* name, std::vector<uintptr_t>* out) {
    const Napi::Value v = js.Get(name);
    if (!v.IsArray()) return false;
    const Napi::Array arr = v.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) out->push_back(Append(&arena_, arr.Get(i)));
    return true;
  };
  std::vector<uintptr_t> paths, args, env;
  const bool own_env = js.Get("envp").IsUndefined();
  if (!strings("execPaths", &paths) || !strings("argv", &args) || (!own_env && !strings("envp", &env))) {
    *why = "plan.execPaths and plan.argv must be arrays, and plan.envp too when given";
    return false;
  }
  // No envp: ours. Only JS on this (the loop) thread changes environ, so it
  // is stable while we copy it.
  if (own_env) {
    for (char** e = environ; *e; e++) env.push_back(Append(&arena_, *e, strlen(*e)));
  }
  if (js.Get("execFd").IsNumber()) exec_fd = I32(js.Get("execFd"));

  // The arena is complete: resolve offsets to pointers.
  for (size_t i = 0; i < ops.size(); i++)
    for (size_t j = 0; j < offsets[i].size(); j++) ops[i].s[j] = At(arena_, offsets[i][j]);
  for (uintptr_t off : paths) exec_paths.push_back(At(arena_, off));
  for (uintptr_t off : args) argv.push_back(At(arena_, off));
  for (uintptr_t off : env) envp.push_back(At(arena_, off));
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  return true;
}

}  // namespace spawn
}  // namespace nsjs

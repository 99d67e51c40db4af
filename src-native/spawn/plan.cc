#include "plan.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace nsjs {
namespace spawn {
namespace {

int32_t I32(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : 0; }

uint64_t Join(int32_t low, int32_t high) {
  return (uint64_t{static_cast<uint32_t>(high)} << 32) | static_cast<uint32_t>(low);
}

// lib/ validated the text; a failure here is a bug there.
bool Address(const char* text, int family, unsigned char* out) {
  return text && inet_pton(family, text, out) == 1;
}

std::string Text(const Napi::Value& v) { return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string(); }

}  // namespace

bool Plan::ParseExtras(const Napi::Object& x, std::string* why) {
  if (parent_maps) {
    uid_map = Text(x.Get("uidMap"));
    gid_map = Text(x.Get("gidMap"));
    setgroups = Text(x.Get("setgroups"));
    uid_map_helper = Text(x.Get("uidMapHelper"));
    gid_map_helper = Text(x.Get("gidMapHelper"));
    const Napi::Value keep = x.Get("persist");
    if (keep.IsArray()) {
      const Napi::Array a = keep.As<Napi::Array>();
      if (a.Length() % 2 != 0 || a.Length() > 16) {
        *why = "persist: pairs of suffix and file, at most 8";
        return false;
      }
      for (uint32_t i = 0; i < a.Length(); i++) persist.push_back(Text(a.Get(i)));
    }
  }
  if (!policy.Parse(x, why)) return false;
  const Napi::Value cgroup = x.Get("cgroupFd");
  if (cgroup.IsNumber()) cgroup_fd = I32(cgroup);
  const Napi::Value fallback = x.Get("mountFallback");
  if (fallback.IsNumber()) mount_fallback = I32(fallback);
  const Napi::Value veth_v = x.Get("veth");
  if (veth_v.IsObject()) {
    const Napi::Object v = veth_v.As<Napi::Object>();
    has_veth = true;
    veth.host = Text(v.Get("host"));
    veth.peer = Text(v.Get("peer"));
    veth.mtu = v.Get("mtu").IsNumber() ? I32(v.Get("mtu")) : -1;
    if (v.Get("bridge").IsString()) veth.bridge = Text(v.Get("bridge"));
    veth.in_child = v.Get("inChild").IsBoolean() && v.Get("inChild").As<Napi::Boolean>().Value();
    if (v.Get("netnsFd").IsNumber()) {
      // Ours: the caller may close its Namespace before the spawn runs.
      veth.netns_fd = fcntl(I32(v.Get("netnsFd")), F_DUPFD_CLOEXEC, 3);
      if (veth.netns_fd < 0) {
        *why = "bad veth bridge namespace";
        return false;
      }
    }
    const Napi::Array addrs = v.Get("hostAddresses").As<Napi::Array>();
    for (uint32_t i = 0; i < addrs.Length(); i++) {
      const Napi::Object a = addrs.Get(i).As<Napi::Object>();
      Veth::Address addr{I32(a.Get("family")), {}, I32(a.Get("prefix"))};
      if (!Address(Text(a.Get("address")).c_str(), addr.family, addr.bytes)) {
        *why = "bad veth host address";
        return false;
      }
      veth.host_addresses.push_back(addr);
    }
  }
  const Napi::Value proxy = x.Get("proxy");
  if (proxy.IsObject()) {
    has_proxy = true;
    proxy_port = I32(proxy.As<Napi::Object>().Get("port"));
    if (proxy_port < 1 || proxy_port > 65535) {
      *why = "bad proxy port";
      return false;
    }
  }
#ifdef NSJS_FAULT_INJECTION
  const Napi::Value fault = x.Get("fault");
  if (fault.IsObject()) {
    const Napi::Object f = fault.As<Napi::Object>();
    if (f.Get("op").IsNumber()) fault_op = I32(f.Get("op"));
    if (f.Get("parent").IsString()) fault_parent = Text(f.Get("parent"));
    fault_parent_exited = fault_parent == "exit";
    fault_errno = I32(f.Get("errno"));
    fault_signal = I32(f.Get("signal"));
  }
#endif
  return true;
}

// The child indexes its slot table with a and b and reads the strings an
// op needs without looking: every such operand is checked here.
bool Plan::CheckMountOp(const Op& op, std::string* why) const {
  const auto slot = [](int32_t v) { return v >= 0 && v < kChildSlots; };
  const auto slot_or_cwd = [&](int32_t v) { return v == -1 || slot(v); };
  bool ok = slot(op.a) && (op.kind != kOpCloseSlots || op.flags < (uint64_t{1} << kChildSlots));
  switch (op.kind) {
    case kOpOpenAt:
      ok = ok && slot_or_cwd(op.b) && op.s[0];
      break;
    case kOpResolve:
      ok = ok && slot(op.b) && op.s[0] && op.s[0][0] == '/' && op.b64 < 1024 &&
           (op.flags == kResolveNoCreate || (op.s[1] && op.s[2] && (op.flags == kResolveDir ||
            ((op.flags & 0xff) == kResolveLike && slot(static_cast<int32_t>(op.flags >> 8))))));
      break;
    case kOpBuild:
      ok = ok && op.s[0] && op.s[1] && (op.flags == kBuildDir || ((op.flags == kBuildFile || op.flags == kBuildSymlink || op.flags == kBuildDevice) && op.s[2]));
      break;
    case kOpMask:
      ok = ok && slot(op.b);
      break;
    case kOpRecvTree:
      ok = ok && op.s[0] && op.b64 < 1024;
      break;
    case kOpOpenTree:
      ok = ok && slot_or_cwd(op.b) && (op.s[0] || op.b >= 0) && op.b64 < 1024;
      break;
    case kOpFsOpen:
      ok = ok && op.s[0];
      break;
    case kOpFsConfig:
      // FSCONFIG_SET_FLAG 0 (a key), FSCONFIG_SET_STRING 1 (a key and a value), FSCONFIG_SET_FD 5 (a key and a slot), FSCONFIG_CMD_CREATE 6.
      ok = ok && ((op.b == 0 && op.s[0]) || (op.b == 1 && op.s[0] && op.s[1]) || (op.b == 5 && op.s[0] && op.flags < kChildSlots) || op.b == 6);
      break;
    case kOpMoveMount:
      ok = ok && slot(op.b);
      break;
    case kOpMkdirAt:
      ok = ok && op.s[0];
      break;
    case kOpSymlinkAt:
      ok = ok && op.s[0] && op.s[1];
      break;
    default:
      break;
  }
  if (!ok) *why = "a mount op names a slot outside 0.." + std::to_string(kChildSlots - 1) + " or lacks a string";
  return ok;
}

bool Plan::Parse(const Napi::Value& ints_v, const Napi::Value& text_v, const Napi::Value& extras, std::string* why) {
  if (!ints_v.IsTypedArray() || ints_v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !text_v.IsString()) {
    *why = "expected (Int32Array, string, extras)";
    return false;
  }
  const Napi::Int32Array arr = ints_v.As<Napi::Int32Array>();
  const int32_t* in = arr.Data();
  const size_t n_ints = arr.ElementLength();
  if (n_ints < kHeaderInts) {
    *why = "short header";
    return false;
  }
  const int32_t bits = in[kHdrBits];
  const int32_t n_ops = in[kHdrOps], n_stdio = in[kHdrStdio], n_groups = in[kHdrGroups];
  const int32_t n_paths = in[kHdrExecPaths], n_argv = in[kHdrArgv], n_env = in[kHdrEnvp];
  if (n_ops < 0 || n_stdio < 0 || n_groups < 0 || n_paths < 0 || n_argv < 0 || n_env < 0 ||
      n_ints != kHeaderInts + size_t(n_ops) * kOpInts + size_t(n_stdio) + size_t(n_groups)) {
    *why = "lengths do not match the header";
    return false;
  }
  if (n_stdio > kMaxStdio) {
    *why = "more than " + std::to_string(kMaxStdio) + " stdio entries";
    return false;
  }
  clone_flags = static_cast<uint32_t>(in[kHdrCloneFlags]);
  force_clone = bits & kBitForceClone;
  parent_maps = bits & kBitParentMaps;
  die_with_parent = bits & kBitDieWithParent;
  fork_style = bits & kBitForkStyle;
  exec_chain = bits & kBitExecChain;
  const bool own_env = bits & kBitOwnEnv;
  exec_fd = in[kHdrExecFd];
  if (extras.IsObject() && !ParseExtras(extras.As<Napi::Object>(), why)) return false;

  // Every string, NUL-terminated, straight into the arena in one conversion.
  napi_env env = text_v.Env();
  size_t len = 0;
  napi_status status = napi_get_value_string_utf8(env, text_v, nullptr, 0, &len);
  if (status == napi_ok) {
    arena_.resize(len + 1);
    status = napi_get_value_string_utf8(env, text_v, arena_.data(), len + 1, &len);
  }
  if (status != napi_ok) {
    *why = "cannot read the text";
    return false;
  }
  std::vector<size_t> offsets;
  for (size_t start = 0, i = 0; i < len; i++) {
    if (arena_[i] != '\0') continue;
    offsets.push_back(start);
    start = i + 1;
  }
  if (offsets.size() != static_cast<size_t>(in[kHdrStrings])) {
    *why = "the text does not hold the strings the header counts (a NUL inside one?)";
    return false;
  }
  // No envp: ours. Only JS on this (the loop) thread changes environ, so it
  // is stable while we copy it.
  arena_.resize(len);  // napi's terminator: the text's last string has its own NUL
  size_t env_count = own_env ? 0 : n_env;
  if (own_env) {
    for (char** e = environ; *e; e++, env_count++) {
      offsets.push_back(arena_.size());
      arena_.insert(arena_.end(), *e, *e + strlen(*e) + 1);
    }
  }
  // The arena is complete: resolve offsets to pointers.
  size_t next = 0;
  auto take = [&]() { return arena_.data() + offsets[next++]; };
  const int32_t* op_in = in + kHeaderInts;
  ops.resize(n_ops);
  for (int32_t i = 0; i < n_ops; i++, op_in += kOpInts) {
    Op& op = ops[i];
    op.kind = op_in[0];
    if (op.kind == kOpFork) second_clone = true;
    if (op.kind == kOpRecvTree) has_idmap = true;
    op.a = op_in[1];
    if (op.kind == kOpWaitParent && op.a == 1) announces = true;
    op.b = op_in[2];
    op.flags = Join(op_in[3], op_in[4]);
    op.b64 = Join(op_in[5], op_in[6]);
    const int32_t mask = op_in[7];
    const int wanted = __builtin_popcount(mask & 0xf) + ((mask & kOpHasAddr) ? 1 : 0);
    if (next + wanted > offsets.size()) {
      *why = "op " + std::to_string(i) + " wants more strings than the text holds";
      return false;
    }
    for (int j = 0; j < 4; j++)
      if (mask & (1 << j)) op.s[j] = take();
    if ((mask & kOpHasAddr) && !Address(take(), op.a, op.addr)) {
      *why = "bad address in op " + std::to_string(i);
      return false;
    }
    if (op.kind >= kOpMountFirst && op.kind <= kOpMountLast && !CheckMountOp(op, why)) {
      *why = "op " + std::to_string(i) + ": " + *why;
      return false;
    }
  }
  stdio.assign(op_in, op_in + n_stdio);
  for (int32_t i = 0; i < n_groups; i++) groups.push_back(static_cast<gid_t>(static_cast<uint32_t>(op_in[n_stdio + i])));
  if (next + n_paths + n_argv + env_count != offsets.size()) {
    *why = "execPaths, argv and envp do not match the strings left";
    return false;
  }
  for (int32_t i = 0; i < n_paths; i++) exec_paths.push_back(take());
  for (int32_t i = 0; i < n_argv; i++) argv.push_back(take());
  for (size_t i = 0; i < env_count; i++) envp.push_back(take());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  if (!argv.empty() && argv[0] != nullptr) {
    sh_argv.push_back("/bin/sh");
    sh_argv.push_back(nullptr);
    sh_argv.insert(sh_argv.end(), argv.begin() + 1, argv.end());
  }
  return true;
}

}  // namespace spawn
}  // namespace nsjs

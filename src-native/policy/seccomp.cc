// The seccomp BPF compiler (parent side, before clone) and the policy room's
// bindings: compileSeccomp, landlockAbi, seccompActionAvail, seccompFlagsAvail, and PolicyPlan::Parse, which copies
// a compiled filter and a Landlock ruleset into the plan.
//
// A filter is a rule list of this architecture's syscall numbers (lib/policy/
// resolves names with the tables scripts/gen-syscalls.mjs generates), so no
// libseccomp is needed at build or run time. The program it makes, in the
// order the kernel selftests and libseccomp lay it out:
//   ld arch; a foreign architecture (i386 through int 0x80, arm32) → bad_arch
//   ld nr;   on x86_64, the x32 ABI's numbers (bit 30) → x32
//   a binary search over the numbers named (jge, as libseccomp's tree
//   optimisation), consecutive numbers with one action as one range, whose
//   leaves (a few jeq, or jge/jgt for a range) jump to the shared return of
//   a syscall refused whatever its arguments, or to its block, or return
//   the default;
//   per syscall that compares arguments, its rules in order, first match
//   wins: the comparisons (each 64-bit value compared as two 32-bit words,
//   little-endian; a masked compare of one bit, or against 0, as one jset),
//   the last jumping to its action's shared return; a block whose rules
//   all miss returns the default;
//   the default's return and the shared ones, last, where every jump
//   reaches them forward.
// A syscall runs O(log n) instructions, not one jeq per syscall named; that
// matters once per spawn too: attaching a filter, the kernel runs it for
// every syscall number to fill its per-syscall cache (5.11+), which then
// skips the filter for a syscall whose answer depends on no argument.
#include <linux/audit.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>

#include "../common.h"
#include "policy_plan.h"
#include "seccomp.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

namespace nsjs {
namespace policy {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
constexpr bool kHasX32 = true;
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
constexpr bool kHasX32 = false;
#else
#error "seccomp.cc knows x86_64 and aarch64 (lib/policy/syscalls.ts has their tables)"
#endif
constexpr uint32_t kX32Bit = 0x40000000;

// A jump target inside one syscall's block: the next rule, or past the
// comparison (its success), or the instruction after this one.
enum Target : int { kFall = -1 };

struct Ins {
  uint16_t code;
  uint32_t k;
  int jt = kFall, jf = kFall;  // label ids, kFall = 0 offset
};

struct Block {
  std::vector<Ins> ins;
  std::vector<int> labels;  // label id → instruction index
  int Label() {
    labels.push_back(-1);
    return static_cast<int>(labels.size()) - 1;
  }
  void Bind(int label) { labels[label] = static_cast<int>(ins.size()); }
  void Stmt(uint16_t code, uint32_t k) { ins.push_back({code, k}); }
  void Jump(uint16_t op, uint32_t k, int jt, int jf) { ins.push_back({static_cast<uint16_t>(BPF_JMP | op | BPF_K), k, jt, jf}); }
  // An unconditional jump (32-bit offset, resolved into k), for the far ones.
  void Goto(int label) { ins.push_back({static_cast<uint16_t>(BPF_JMP | BPF_JA), 0, label, kFall}); }

  // The program, every label resolved; false where a conditional jump is
  // farther than its 8 bits reach (only a syscall's own rules jump so).
  bool Resolve(std::vector<sock_filter>* out, std::string* why) const {
    for (size_t i = 0; i < ins.size(); i++) {
      const Ins& in = ins[i];
      const auto distance = [&](int label) { return label == kFall ? 0L : labels[label] - static_cast<long>(i) - 1; };
      sock_filter f{in.code, 0, 0, in.k};
      if (in.code == (BPF_JMP | BPF_JA)) {
        f.k = static_cast<uint32_t>(distance(in.jt));
      } else {
        const long t = distance(in.jt), e = distance(in.jf);
        if (t < 0 || t > 255 || e < 0 || e > 255) {
          *why = "a syscall's rules are too long to jump over";
          return false;
        }
        f.jt = static_cast<uint8_t>(t);
        f.jf = static_cast<uint8_t>(e);
      }
      out->push_back(f);
    }
    return true;
  }
};

uint32_t Lo(uint64_t v) { return static_cast<uint32_t>(v); }
uint32_t Hi(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

// One argument comparison; jumps to `fail` when it does not hold and to
// `pass` when it does (kFall: the next instruction). Little-endian: the low
// word of args[i] comes first.
bool EmitCompare(Block* b, const ArgCompare& c, int fail, int pass, std::string* why) {
  if (c.index > 5) {
    *why = "an argument index must be 0 to 5";
    return false;
  }
  const uint32_t lo_off = static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * c.index);
  const uint32_t hi_off = lo_off + 4;
  const int after = pass == kFall ? b->Label() : pass;  // where a high word alone decides that it holds
  const auto ld = [&](uint32_t off) { b->Stmt(BPF_LD | BPF_W | BPF_ABS, off); };
  const uint64_t v = c.value;
  switch (c.op) {
    case kCmpEq:
      ld(hi_off);
      b->Jump(BPF_JEQ, Hi(v), kFall, fail);
      ld(lo_off);
      b->Jump(BPF_JEQ, Lo(v), pass, fail);
      break;
    case kCmpNe:
      ld(hi_off);
      b->Jump(BPF_JEQ, Hi(v), kFall, after);
      ld(lo_off);
      b->Jump(BPF_JEQ, Lo(v), fail, pass);
      break;
    case kCmpMaskedEq: {
      // A mask without high bits compares the low word only, which is all
      // the kernel reads of an int argument (ioctl's request, unshare's
      // flags): garbage above it cannot slip past the rule.
      const uint64_t m = c.mask;
      if (Hi(m) != 0) {
        ld(hi_off);
        b->Stmt(BPF_ALU | BPF_AND | BPF_K, Hi(m));
        b->Jump(BPF_JEQ, Hi(v), kFall, fail);
      } else if (Hi(v) != 0) {
        b->Jump(BPF_JEQ, 0, fail, fail);  // (arg & mask) has no high bits: never equal
      }
      ld(lo_off);
      // One jset where it says the same, as for CLONE_NEWUSER: (a & m) == 0
      // is "no bit of m set", and (a & m) == m is "its bit set" for a single bit.
      const uint32_t lm = Lo(m), lv = Lo(v);
      if (lv == 0 && lm != 0xffffffff) {
        b->Jump(BPF_JSET, lm, fail, pass);
      } else if (lv == lm && lm != 0 && (lm & (lm - 1)) == 0) {
        b->Jump(BPF_JSET, lm, pass, fail);
      } else {
        if (lm != 0xffffffff) b->Stmt(BPF_ALU | BPF_AND | BPF_K, lm);
        b->Jump(BPF_JEQ, lv, pass, fail);
      }
      break;
    }
    case kCmpGt:
    case kCmpGe:
      ld(hi_off);
      b->Jump(BPF_JGT, Hi(v), after, kFall);
      b->Jump(BPF_JEQ, Hi(v), kFall, fail);
      ld(lo_off);
      b->Jump(c.op == kCmpGt ? BPF_JGT : BPF_JGE, Lo(v), pass, fail);
      break;
    case kCmpLt:
    case kCmpLe:
      ld(hi_off);
      b->Jump(BPF_JGE, Hi(v), kFall, after);
      b->Jump(BPF_JGT, Hi(v), fail, kFall);
      ld(lo_off);
      b->Jump(c.op == kCmpLt ? BPF_JGE : BPF_JGT, Lo(v), fail, pass);
      break;
    default:
      *why = "unknown comparison " + std::to_string(c.op);
      return false;
  }
  if (pass == kFall) b->Bind(after);
  return true;
}

// The rules of one syscall, in order, then the default. `rets` (the near
// layout, where the shared returns come after every block and within reach):
// a rule's last comparison jumps straight to its action's shared return,
// and the last rule's failure to the default's, instead of a return each.
bool EmitBlock(Block* b, const std::vector<const Rule*>& rules, uint32_t default_action, std::map<uint32_t, int>* rets, int default_ret, std::string* why) {
  for (size_t i = 0; i < rules.size(); i++) {
    const Rule* r = rules[i];
    if (r->args.empty()) {
      b->Stmt(BPF_RET | BPF_K, r->action);
      return true;  // what follows it can never be reached
    }
    const int next = rets && i + 1 == rules.size() ? default_ret : b->Label();
    int pass = kFall;
    if (rets) {
      auto it = rets->find(r->action);
      if (it == rets->end()) it = rets->emplace(r->action, b->Label()).first;
      pass = it->second;
    }
    for (size_t j = 0; j < r->args.size(); j++)
      if (!EmitCompare(b, r->args[j], next, j + 1 == r->args.size() ? pass : kFall, why)) return false;
    if (pass == kFall) b->Stmt(BPF_RET | BPF_K, r->action);
    if (next != default_ret) b->Bind(next);
  }
  if (!rets) b->Stmt(BPF_RET | BPF_K, default_action);
  return true;
}

// Consecutive syscall numbers [lo, hi] with one target (a syscall's block,
// or the shared return of its action).
struct Run {
  uint32_t lo, hi;
  int target;
};

// The search over runs[lo, hi) (sorted), the accumulator holding nr, which
// is at least `known`: a leaf of up to 3 runs, each one jeq, or a jgt (and a
// jge first where nr may lie below it, which then cannot match any later
// run either), or a split at the middle run. `near`: every target is within
// a conditional jump's 8 bits, so the leaves and splits jump there directly
// (one instruction each); else through an unconditional jump, one number a
// run.
void EmitTree(Block* b, const std::vector<Run>& runs, size_t lo, size_t hi, uint32_t known, int default_ret, bool near) {
  if (hi - lo <= 3) {
    for (size_t i = lo; i < hi; i++) {
      const Run& r = runs[i];
      if (near) {
        const int miss = i + 1 == hi ? default_ret : kFall;
        if (r.lo == r.hi) {
          b->Jump(BPF_JEQ, r.lo, r.target, miss);
          continue;
        }
        if (known < r.lo) b->Jump(BPF_JGE, r.lo, kFall, default_ret);
        b->Jump(BPF_JGT, r.hi, miss, r.target);
        known = r.hi + 1;
        continue;
      }
      const int no = b->Label();
      b->Jump(BPF_JEQ, r.lo, kFall, no);
      b->Goto(r.target);
      b->Bind(no);
    }
    if (!near || hi == lo) b->Goto(default_ret);
    return;
  }
  const size_t mid = lo + (hi - lo) / 2;
  const int right = b->Label();
  if (near) {
    b->Jump(BPF_JGE, runs[mid].lo, right, kFall);
  } else {
    const int below = b->Label();
    b->Jump(BPF_JGE, runs[mid].lo, kFall, below);
    b->Goto(right);
    b->Bind(below);
  }
  EmitTree(b, runs, lo, mid, known, default_ret, near);
  b->Bind(right);
  EmitTree(b, runs, mid, hi, runs[mid].lo, default_ret, near);
}

bool KnownAction(uint32_t a) {
  switch (a & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_KILL_PROCESS:
    case SECCOMP_RET_KILL_THREAD:
    case SECCOMP_RET_TRAP:
    case SECCOMP_RET_LOG:
    case SECCOMP_RET_ALLOW:
      return (a & SECCOMP_RET_DATA) == 0 || (a & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_TRAP;
    case SECCOMP_RET_ERRNO:
      return (a & SECCOMP_RET_DATA) <= 4095;
    default:
      return false;
  }
}

uint64_t BigU64(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless = false;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return v.IsNumber() ? static_cast<uint64_t>(v.As<Napi::Number>().Int64Value()) : 0;
}

uint32_t U32(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : 0; }

// compileSeccomp({ defaultAction, badArch, x32, rules: [{ nr, action, args?: [{ index, op, value, mask? }] }] })
// → a Buffer of sock_filter, or a string saying what is wrong (a bug in lib/,
// or an OCI profile the compiler cannot express).
Napi::Value CompileSeccompJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) return Napi::String::New(env, "expected a filter description");
  const Napi::Object spec = info[0].As<Napi::Object>();
  Filter f;
  f.default_action = U32(spec.Get("defaultAction"));
  f.bad_arch = U32(spec.Get("badArch"));
  f.x32 = U32(spec.Get("x32"));
  const Napi::Value rules_v = spec.Get("rules");
  if (!rules_v.IsArray()) return Napi::String::New(env, "rules must be an array");
  const Napi::Array rules = rules_v.As<Napi::Array>();
  for (uint32_t i = 0; i < rules.Length(); i++) {
    if (!rules.Get(i).IsObject()) return Napi::String::New(env, "a rule must be an object");
    const Napi::Object r = rules.Get(i).As<Napi::Object>();
    Rule rule{U32(r.Get("nr")), U32(r.Get("action")), {}};
    const Napi::Value args_v = r.Get("args");
    if (args_v.IsArray()) {
      const Napi::Array args = args_v.As<Napi::Array>();
      for (uint32_t j = 0; j < args.Length(); j++) {
        if (!args.Get(j).IsObject()) return Napi::String::New(env, "an argument comparison must be an object");
        const Napi::Object a = args.Get(j).As<Napi::Object>();
        rule.args.push_back({U32(a.Get("index")), static_cast<CmpOp>(U32(a.Get("op"))), BigU64(a.Get("value")), BigU64(a.Get("mask"))});
      }
    }
    f.rules.push_back(std::move(rule));
  }
  std::vector<sock_filter> prog;
  std::string why;
  if (!CompileFilter(f, &prog, &why)) return Napi::String::New(env, why);
  return Napi::Buffer<char>::Copy(env, reinterpret_cast<const char*>(prog.data()), prog.size() * sizeof(sock_filter));
}

#ifdef NSJS_FAULT_INJECTION
// Test builds: the most LandlockAbiJs answers (0: Landlock off at boot), set
// by testLandlockAbi, so that the best effort and require: true of an older
// kernel run here; -1: the kernel's own answer.
long g_landlock_abi_cap = -1;

Napi::Value TestLandlockAbiJs(const Napi::CallbackInfo& info) {
  g_landlock_abi_cap = info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : -1;
  return info.Env().Undefined();
}
#endif

// The Landlock ABI this kernel speaks, or -errno (EOPNOTSUPP: built in but
// off at boot; ENOSYS: not built in).
Napi::Value LandlockAbiJs(const Napi::CallbackInfo& info) {
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
#ifdef NSJS_FAULT_INJECTION
  if (g_landlock_abi_cap == 0) {
    errno = EOPNOTSUPP;
    abi = -1;
  } else if (g_landlock_abi_cap > 0 && abi > g_landlock_abi_cap) {
    abi = g_landlock_abi_cap;
  }
#endif
  return Result(info.Env(), abi);
}

// seccomp(SECCOMP_GET_ACTION_AVAIL) for an action (Linux 4.14): 0, or -errno
// (ENOSYS: no seccomp; EOPNOTSUPP: not this action). Loads nothing.
Napi::Value SeccompActionAvailJs(const Napi::CallbackInfo& info) {
  uint32_t action = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
  return Result(info.Env(), syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action));
}

// seccomp(SECCOMP_SET_MODE_FILTER, flags, NULL), libseccomp's probe: the
// kernel checks the flags, then fails to copy the NULL program (EFAULT)
// before it would check no_new_privs or load anything; EINVAL for a flag it
// does not know.
Napi::Value SeccompFlagsAvailJs(const Napi::CallbackInfo& info) {
  const uint32_t flags = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
  return Result(info.Env(), syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, nullptr));
}

// The program for rules grouped by syscall (see CompileFilter), laid out
// header, search, then the jump targets: the blocks of the syscalls whose
// rules compare arguments, the default's return, and one shared return per
// action (of the syscalls refused whatever their arguments, and, in the near
// layout, of the blocks' rules). Fewer instructions is
// less for the kernel to JIT at every attach (seccomp(2) compiles the
// program anew for each process that installs it).
bool Emit(const Filter& f, const std::map<uint32_t, std::vector<const Rule*>>& by_nr, bool near, std::vector<sock_filter>* out, std::string* why) {
  Block b;
  const int native = b.Label(), foreign = b.Label();
  b.Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  b.Jump(BPF_JEQ, kArch, native, foreign);
  b.Bind(foreign);
  b.Stmt(BPF_RET | BPF_K, f.bad_arch);
  b.Bind(native);
  b.Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  if (kHasX32) {
    const int x32 = b.Label(), ours = b.Label();
    b.Jump(BPF_JGE, kX32Bit, x32, ours);
    b.Bind(x32);
    b.Stmt(BPF_RET | BPF_K, f.x32);
    b.Bind(ours);
  }
  const int default_ret = b.Label();
  std::map<uint32_t, int> shared;  // action → its return
  std::vector<Run> runs;
  std::vector<std::pair<int, const std::vector<const Rule*>*>> blocks;
  for (const auto& entry : by_nr) {
    const Rule* first = entry.second.front();
    int target;
    if (first->args.empty()) {
      auto it = shared.find(first->action);
      if (it == shared.end()) it = shared.emplace(first->action, b.Label()).first;
      target = it->second;
    } else {
      target = b.Label();
      blocks.emplace_back(target, &entry.second);
    }
    // by_nr is sorted: a number right after a run with its target extends it (mount..reboot, the io_uring and new mount calls).
    if (near && !runs.empty() && runs.back().hi + 1 == entry.first && runs.back().target == target)
      runs.back().hi = entry.first;
    else
      runs.push_back({entry.first, entry.first, target});
  }
  EmitTree(&b, runs, 0, runs.size(), 0, default_ret, near);
  for (const auto& block : blocks) {
    b.Bind(block.first);
    if (!EmitBlock(&b, *block.second, f.default_action, near ? &shared : nullptr, default_ret, why)) return false;
  }
  b.Bind(default_ret);
  b.Stmt(BPF_RET | BPF_K, f.default_action);
  for (const auto& ret : shared) {
    b.Bind(ret.second);
    b.Stmt(BPF_RET | BPF_K, ret.first);
  }
  out->clear();
  return b.Resolve(out, why);
}

}  // namespace

bool CompileFilter(const Filter& f, std::vector<sock_filter>* out, std::string* why) {
  for (uint32_t a : {f.default_action, f.bad_arch, f.x32}) {
    if (!KnownAction(a)) {
      *why = "unknown action " + std::to_string(a);
      return false;
    }
  }
  // Each syscall's rules together; the order of the rules of one syscall
  // is kept (first match wins).
  std::map<uint32_t, std::vector<const Rule*>> by_nr;
  for (const Rule& r : f.rules) {
    if (!KnownAction(r.action)) {
      *why = "unknown action " + std::to_string(r.action);
      return false;
    }
    by_nr[r.nr].push_back(&r);
  }
  // Direct jumps first; a policy too long for them takes the far layout.
  if (!Emit(f, by_nr, true, out, why) && !Emit(f, by_nr, false, out, why)) return false;
  if (out->size() > kMaxFilterLength) {
    *why = "the filter has " + std::to_string(out->size()) + " instructions, more than the kernel's " + std::to_string(kMaxFilterLength);
    return false;
  }
  return true;
}

namespace {

// lib/policy/landlock.ts NativeLandlock: every count and length checked
// against the buffer's own length. False on a malformed one.
bool ParseLandlock(const Napi::Buffer<uint8_t>& b, Landlock* l) {
  const uint8_t* p = b.Data();
  const size_t n = b.Length();
  size_t at = 0;
  const auto u32 = [&](uint32_t* v) {
    if (n - at < 4) return false;
    memcpy(v, p + at, 4);
    at += 4;
    return true;
  };
  const auto u64 = [&](uint64_t* v) {
    if (n - at < 8) return false;
    memcpy(v, p + at, 8);
    at += 8;
    return true;
  };
  uint32_t attr_size, paths, ports, zero;
  if (!u32(&attr_size) || !u32(&paths) || !u32(&ports) || !u32(&zero) || !u64(&l->handled_fs) || !u64(&l->handled_net) || zero != 0) return false;
  if (attr_size != 8 && attr_size != 16 && attr_size != 24) return false;
  l->attr_size = attr_size;
  // Each path takes at least 12 bytes and each port 16: the counts cannot outgrow the buffer.
  if (paths > n / 12 || ports > n / 16) return false;
  l->paths.reserve(paths);
  for (uint32_t i = 0; i < paths; i++) {
    uint64_t access;
    uint32_t len;
    if (!u64(&access) || !u32(&len) || n - at < len) return false;
    const char* s = reinterpret_cast<const char*>(p + at);
    if (len == 0 || memchr(s, '\0', len) != nullptr) return false;
    l->paths.push_back({std::string(s, len), access});
    at += len;
  }
  l->ports.reserve(ports);
  for (uint32_t i = 0; i < ports; i++) {
    LandlockPort port;
    if (!u64(&port.port) || !u64(&port.access)) return false;
    l->ports.push_back(port);
  }
  return at == n;
}

}  // namespace

bool PolicyPlan::Parse(const Napi::Object& x, std::string* why) {
  const Napi::Value filter = x.Get("seccomp");
  if (filter.IsBuffer()) {
    const Napi::Buffer<char> b = filter.As<Napi::Buffer<char>>();
    if (b.Length() % sizeof(sock_filter) != 0 || b.Length() == 0 || b.Length() / sizeof(sock_filter) > kMaxFilterLength) {
      *why = "a seccomp filter of " + std::to_string(b.Length()) + " bytes";
      return false;
    }
    seccomp.resize(b.Length() / sizeof(sock_filter));
    memcpy(seccomp.data(), b.Data(), b.Length());
  }
  const auto parse = [&](const char* key, Landlock* out) {
    const Napi::Value v = x.Get(key);
    if (!v.IsBuffer() || ParseLandlock(v.As<Napi::Buffer<uint8_t>>(), out)) return true;
    *why = std::string("a malformed Landlock ruleset of ") + std::to_string(v.As<Napi::Buffer<uint8_t>>().Length()) + " bytes";
    return false;
  };
  // `landlockThen`: a sandbox command's own ruleset, a second layer.
  if (!parse("landlock", &landlock) || !parse("landlockThen", &command_landlock)) return false;
  return true;
}

}  // namespace policy

void InitPolicy(Napi::Env env, Napi::Object exports) {
  exports.Set("compileSeccomp", Napi::Function::New(env, policy::CompileSeccompJs));
  exports.Set("landlockAbi", Napi::Function::New(env, policy::LandlockAbiJs));
  exports.Set("seccompActionAvail", Napi::Function::New(env, policy::SeccompActionAvailJs));
  exports.Set("seccompFlagsAvail", Napi::Function::New(env, policy::SeccompFlagsAvailJs));
#ifdef NSJS_FAULT_INJECTION
  exports.Set("testLandlockAbi", Napi::Function::New(env, policy::TestLandlockAbiJs));
#endif
}

}  // namespace nsjs

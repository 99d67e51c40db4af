// What the policy ops of a plan carry beyond an Op: the compiled seccomp
// filter and the Landlock ruleset, laid out before clone (spawn/plan.cc
// hands the plan's extras here) and read by the child (policy/restrict.cc).
#pragma once

#include <linux/filter.h>
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nsjs {
namespace policy {

// The kernel refuses longer programs (BPF_MAXINSNS).
constexpr size_t kMaxFilterLength = 4096;

struct LandlockPath {
  std::string path;
  uint64_t access;  // LANDLOCK_ACCESS_FS_*; file rights only where the path turns out not to be a directory
};

struct LandlockPort {
  uint64_t port;
  uint64_t access;  // LANDLOCK_ACCESS_NET_*
};

struct Landlock {
  // The ruleset's attribute as the ABI in use knows it: 8 bytes (ABI 1-3,
  // fs only), 16 (ABI 4-5, net too), 24 (ABI 6+, scopes).
  size_t attr_size = 0;
  uint64_t handled_fs = 0;
  uint64_t handled_net = 0;
  std::vector<LandlockPath> paths;
  std::vector<LandlockPort> ports;
};

struct PolicyPlan {
  std::vector<sock_filter> seccomp;
  Landlock landlock;
  // A sandbox command's own ruleset (kOpLandlock with a = 1, after the
  // sandbox's): a second layer of the same domain, which the kernel checks
  // as well, so it can only take rights away (lib/sandbox/policy.ts).
  Landlock command_landlock;

  // From the extras of lib/spawn/plan.ts encodePlan (`seccomp`: a Buffer of
  // sock_filter, `landlock`: lib/policy/landlock.ts NativeLandlock, its
  // `then` the command's own); false
  // with *why on a malformed one (a bug in lib/).
  bool Parse(const Napi::Object& extras, std::string* why);
};

}  // namespace policy
}  // namespace nsjs

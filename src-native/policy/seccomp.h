// The seccomp BPF compiler (seccomp.cc): a rule list of this architecture's
// syscall numbers with actions and argument comparisons, as an OCI
// `linux.seccomp` or libseccomp's seccomp_rule_add describes one, made into
// a classic BPF program that checks the architecture first.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nsjs {
namespace policy {

// libseccomp's scmp_compare numbering (SCMP_CMP_NE = 1 … SCMP_CMP_MASKED_EQ = 7),
// which lib/policy/seccomp.ts and an OCI profile's "op" names map to.
enum CmpOp : uint32_t { kCmpNe = 1, kCmpLt = 2, kCmpLe = 3, kCmpEq = 4, kCmpGe = 5, kCmpGt = 6, kCmpMaskedEq = 7 };

struct ArgCompare {
  uint32_t index;  // 0-5
  CmpOp op;
  uint64_t value;
  uint64_t mask;  // kCmpMaskedEq: (arg & mask) == value
};

// A syscall's rule: every comparison holds (AND) → action. The rules of one
// syscall are tried in order; the first that holds decides.
struct Rule {
  uint32_t nr;
  uint32_t action;  // SECCOMP_RET_*, with the errno in the data for SECCOMP_RET_ERRNO
  std::vector<ArgCompare> args;
};

struct Filter {
  uint32_t default_action;
  uint32_t bad_arch;  // a syscall made through another architecture's entry
  uint32_t x32;       // x86_64 only: a syscall of the x32 ABI
  std::vector<Rule> rules;
};

// false with *why when an action, comparison or the program's length is out
// of what the kernel takes.
bool CompileFilter(const Filter& f, std::vector<sock_filter>* out, std::string* why);

}  // namespace policy
}  // namespace nsjs

// The spawn plan: everything the child needs, laid out before clone so the
// child only reads plain structs and one arena of NUL-terminated strings.
// TypeScript builds the op list (each room of lib/ numbers its own ops as
// OpKind does; lib/spawn/plan.ts gathers them); the child walks it in order and
// reports (kind, op index, errno) for the first op that fails.
#pragma once

#include <napi.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../policy/policy_plan.h"

namespace nsjs {
namespace spawn {

enum OpKind : int32_t {
  kOpPdeathsig = 1,    // a = signal; fails with ESRCH if the parent is already gone
  kOpSetns = 2,        // a = fd, b = nstype
  kOpWriteFile = 3,    // s0 = path, s1 = data (uid_map, setgroups, timens_offsets)
  kOpWaitParent = 4,   // block until the parent has written our maps; a = 1: first tell it our user namespace exists (Plan::announces)
  kOpUnshare = 5,      // a = flags; b = 1: only when clone3 was refused (time ns)
  kOpMount = 6,        // s0 source, s1 target, s2 fstype, s3 data, flags (propagation of "/" only: targets go through the mount engine)
  kOpSethostname = 12,   // s0
  kOpSetdomainname = 13, // s0
  kOpChdir = 14,       // s0; without it fchdir(a) (nsenter -w)
  kOpStdio = 15,       // install Plan::stdio as fds 0..n-1
  kOpSetgroups = 16,   // Plan::groups; a = 1: EPERM is no failure (a joined user namespace may deny setgroups); b = 1: no groups
  kOpSetresgid = 17,   // a
  kOpSetresuid = 18,   // a
  kOpPrctl = 19,       // a = option, b = arg
  kOpSetsid = 20,
  kOpCloseFds = 21,    // every fd >= Plan::stdio.size() becomes close-on-exec
  kOpExec = 22,        // execve each of Plan::exec_paths in turn
  kOpSetrlimit = 23,   // a = resource, flags = soft, b64 = hard
  kOpCapabilities = 24, // flags = capability mask to keep, a = cap_last_cap; b = 1: the default drop (skips what cannot be dropped)
  kOpSetnsPidfd = 27,  // a = pidfd, flags = CLONE_NEW* mask; on success skip the b fallback ops that follow
  kOpSetnsPath = 28,   // s0 = /proc/PID/ns/TYPE, b = nstype (fallback before Linux 5.8)
  kOpFork = 29,        // clone again with CLONE_PARENT and flags: the rest runs in the new child, ours
  kOpLinkUp = 30,      // s0 = link name, in our net namespace
  kOpAddAddress = 31,  // s0 = link, a = family, b = prefix length, addr
  kOpDefaultRoute = 32,  // a = family, addr = gateway
  kOpChroot = 47,      // s0: chroot(2) there, after the mounts (unshare -R: the host's mounts stay, no pivot);
                       // without s0: fchdir(a), chroot("."), and b = 1 back to the cwd before (nsenter -r)
  // network.veth made by the child itself (Veth::in_child), from the parent's
  // netlink socket Veth::sock: the pair, host end up and on its bridge; then
  // the host end's addresses.
  kOpVethCreate = 112,
  kOpVethHostAddresses = 113,

  // The mount engine (fs/mounts.cc; lib/fs/plan.ts builds its ops): fds the
  // child opens are kept in slots, and a mount target is resolved once, into
  // a slot, that every later step uses. `a` names the slot an op fills or
  // acts on, `b` the slot it reads (-1 = AT_FDCWD where said); both are
  // checked against kChildSlots in Plan::Parse.
  kOpOpenAt = 48,      // slot a = openat(slot b or -1, s0, OpenAtHow flags, mode b64)
  kOpResolve = 49,     // slot a = s0 resolved inside slot b, never out of it (openat2 RESOLVE_IN_ROOT); flags = ResolveCreate
                       // (missing: made in s1, a directory there, named s2), b64 = ops to skip if it is missing
  kOpOpenTree = 50,    // slot a = open_tree(slot b or -1, s0 or "", OPEN_TREE_CLONE | flags): a detached bind; b64 = ops to skip if s0 is missing
  kOpSetAttr = 51,     // mount_setattr(slot a): flags = MOUNT_ATTR_* to set, b64 = to clear, b = 1 recursive
  kOpFsOpen = 52,      // slot a = fsopen(s0); for the mount(2) fallback s1 = source, s2 = data, flags = MS_*
  kOpFsConfig = 53,    // fsconfig(slot a, b = FSCONFIG_*, s0 = key, s1 = value; FSCONFIG_SET_FD: the fd of slot `flags`)
  kOpFsMount = 54,     // slot a: its fs context becomes fsmount(…, flags = MOUNT_ATTR_*)
  kOpMoveMount = 55,   // move_mount(slot a onto slot b); flags & kMoveKeep: slot a is used afterwards
  kOpMountAt = 56,     // mount(s0, onto slot a, s2 fstype, flags, s3 data)
  kOpMkdirAt = 57,     // mkdirat(slot a, s0, mode b)
  kOpSymlinkAt = 58,   // symlinkat(s0, slot a, s1)
  kOpFchdir = 59,      // fchdir(slot a)
  kOpPivotRoot = 60,   // pivot_root(".", ".") into the cwd, the old root detached
  kOpCloseSlots = 61,  // close every slot in the mask `flags`
  kOpMarkOurs = 62,    // the filesystem of slot a is nsjs's: missing paths are made in it (kOpResolve, kOpBuild)
  kOpBuild = 63,       // make s1 (flags = BuildKind, b64 = mode, s2 = hex content or link text) in the directory s0 inside slot a
  kOpMask = 64,        // over slot a: an empty read-only tmpfs if a directory, else the /dev/null tree of slot b
  kOpRecvTree = 65,    // slot a = the next idmapped tree of s0 the parent sends on the sync socket (fs/idmap.cc);
                       // flags = TreeHow, b64 = ops to skip if the parent found s0 missing
  kOpMountFirst = kOpOpenAt,
  kOpMountLast = kOpRecvTree,

  // policy/restrict.cc; their data is Plan::policy.
  kOpSeccomp = 80,     // load Plan::policy.seccomp (SECCOMP_SET_MODE_FILTER)
  kOpLandlock = 81,    // build Plan::policy.landlock and landlock_restrict_self

  // cgroup/ (lib/cgroup/plan.ts, src-native/cgroup/cgroup.cc): 96-111.
  kOpCgroupJoin = 96,  // write "0" to the v1 tasks / v2 cgroup.procs fd a; b = 1: not when CLONE_INTO_CGROUP placed us (Plan::into_cgroup)
  kOpCgroupFirst = kOpCgroupJoin,
  kOpCgroupLast = 111,

  // Terminals (terminal/child.cc; lib/terminal/plan.ts builds their ops).
  kOpPtyInside = 128,  // s0 = ptmx, a = socket, b = columns, flags = rows: a pty from there, the master sent on the socket, the slave as fds 0-2
  kOpCtty = 129,       // fd 0 becomes the controlling terminal (TIOCSCTTY), after setsid
  // Sandboxes (sandbox/enter.cc): the rest of the plan in an exec'd helper.
  kOpEnter = 130,      // execveat(a = nsjs-init's memfd, --enter b = the plan's memfd, made by the parent); flags kEnterGate: sent to the gate b64 instead
};

// kOpResolve flags: what a missing target becomes (in bits 8-15 the slot whose kind kResolveLike copies).
enum ResolveCreate { kResolveNoCreate = 0, kResolveDir = 1, kResolveLike = 3 };
// kOpBuild flags.
enum BuildKind { kBuildDir = 1, kBuildFile = 2, kBuildSymlink = 3, kBuildDevice = 4 };

// kOpRecvTree flags: how the parent makes the tree.
enum TreeHow { kTreeRecursive = 1, kTreeReadonly = 2, kTreeOptional = 4 };

// kOpOpenAt flags (this architecture's O_* bits are the child's business).
enum OpenAtHow { kOpenDir = 1, kOpenNewFile = 2, kOpenNoFollow = 4 };
// kOpMoveMount flags.
constexpr uint64_t kMoveKeep = 1;

// Plan::mount_fallback (test hook, lib/spawn/spawn.ts testHooks): behave as if the
// kernel refused these with ENOSYS, so that each fallback can be tested here.
enum MountFallback { kNoOpenat2 = 1, kNoSetattr = 2, kNoMountApi = 4 };

// A Report's kind carries this bit when the op failed in its fallback path
// (another syscall than the op's own: lib/core/plan.ts Step.fallback names it).
constexpr int32_t kReportFallback = 1 << 16;

// The encoded plan's Int32Array (lib/spawn/plan.ts encodePlan): a header, then
// kOpInts per op, then the stdio fds, then the groups.
enum PlanHeader {
  kHdrBits, kHdrCloneFlags, kHdrExecFd, kHdrOps, kHdrStdio, kHdrGroups,
  kHdrExecPaths, kHdrArgv, kHdrEnvp, kHdrStrings, kHeaderInts
};
enum PlanBits { kBitForceClone = 1, kBitParentMaps = 2, kBitDieWithParent = 4, kBitForkStyle = 8, kBitExecChain = 16, kBitOwnEnv = 32 };
// Per op: kind, a, b, flags (low, high), b64 (low, high), a mask of which
// s[] are set (bits 0-3) and whether an address follows them (bit 4), in
// the text, in that order.
constexpr int kOpInts = 8;
constexpr int32_t kOpHasAddr = 1 << 4;

// fds the child opens for itself (the mount engine's slots), kept on its
// own stack; lib/fs/plan.ts CHILD_SLOTS mirrors it.
constexpr int kChildSlots = 16;

// The most stdio entries a plan may have: the child keeps one int per entry
// on its stack (InstallStdio). lib/spawn/stdio.ts allows 64, and init: true
// adds two (lib/spawn/command.ts: the error pipe and init's status pipe).
constexpr int kMaxStdio = 64 + 2;

struct Op {
  int32_t kind = 0;
  int32_t a = 0;
  int32_t b = 0;
  uint64_t flags = 0;
  uint64_t b64 = 0;
  const char* s[4] = {nullptr, nullptr, nullptr, nullptr};
  unsigned char addr[16] = {};  // an IPv4 or IPv6 address, network order
};

// A veth pair made once the child exists (by the parent, or by the child
// itself: in_child): `host` in the parent's net namespace, `peer` created
// directly in the child's.
struct Veth {
  std::string host, peer;
  int mtu = -1;
  // network.veth.bridge: the host end is enslaved to `bridge`, in our
  // namespace or in that of `netns_fd` (our dup, closed with the plan).
  std::string bridge;
  int netns_fd = -1;
  // Made by the child (it has no user namespace of its own, so it holds
  // CAP_NET_ADMIN in ours): no sync with us, and so a vfork-style clone
  // instead of a copy of Node's page tables. The parent opens `sock` (in the
  // host end's namespace) and finds `master` (the bridge's index) before
  // the clone.
  bool in_child = false;
  int sock = -1;
  int master = 0;
  Veth() = default;
  Veth(const Veth&) = delete;
  Veth& operator=(const Veth&) = delete;
  ~Veth() {
    if (netns_fd >= 0) close(netns_fd);
    if (sock >= 0) close(sock);
  }
  struct Address {
    int family;
    unsigned char bytes[16];
    int prefix;
  };
  std::vector<Address> host_addresses;
};

// What the child writes on the error pipe: one write, far below PIPE_BUF.
// After kOpFork the first child also announces the second one's pid with
// {kOpFork, pid, 0}.
struct Report {
  int32_t kind;
  int32_t op;
  int32_t err;  // positive errno
};

// Where the child is, in a MAP_SHARED page of the spawning thread's that the
// parent reads once the child is gone (vfork-style, fork-style and second
// clones all write it): the op it is running, and whether it reached
// execve. EOF on the error pipe without a report then tells an exec from a
// death (a signal, a trap) before it.
// The most bytes of a filesystem's own error messages (fs/mounts.cc SaveFsLog) the child keeps for the parent.
constexpr size_t kFsLogSize = 512;

struct Progress {
  volatile int32_t op;    // -1 until the first op
  volatile int32_t exec;  // 1 from just before execve
  // A failed fsconfig's messages from its fs context ("overlayfs: …", as
  // mount(8) prints them), NUL-terminated; read by the parent on failure.
  char fs_log[kFsLogSize];
};

// stdio entry: install the error pipe here, kept open across execve, for an
// exec'd helper (nsjs-init) that reports the command's own execve.
constexpr int kStdioErrPipe = -3;

struct Plan {
  uint64_t clone_flags = 0;
  bool force_clone = false;  // test-only: behave as if clone3 were refused
  bool parent_maps = false;  // the parent writes uid/gid maps (ranges)
  bool die_with_parent = false;
  bool fork_style = false;   // no CLONE_VM: setns into user/time ns refuses a shared mm
  bool second_clone = false; // a kOpFork op: the first child joins, then clones the command
  bool exec_chain = false;   // the exec'd program reports on the error pipe too (init)
  int exec_fd = -1;          // exec this file (execveat) instead of searching exec_paths
  std::string uid_map, gid_map, setgroups;
  // newuidmap/newgidmap to run for that map instead of writing it (ranges an
  // unprivileged caller holds through /etc/subuid); empty: write it.
  std::string uid_map_helper, gid_map_helper;
  // Namespaces to keep: pairs of a /proc/<pid>/ suffix ("ns/net") and the
  // file to bind it on, done by the parent while the child waits.
  std::vector<std::string> persist;
  bool has_veth = false;
  Veth veth;
  policy::PolicyPlan policy;  // the seccomp filter and Landlock ruleset
  // network.egress: the parent makes the proxy's listening socket in the
  // child's net namespace, on 127.0.0.1:proxy_port, before the child goes on.
  bool has_proxy = false;
  int proxy_port = 0;
  bool has_idmap = false;    // kOpRecvTree ops: the parent makes their trees, the sync pipe is a socket
  // A kOpWaitParent with a = 1 (user.owner): the child unshares its user
  // namespace itself and says so on the sync socket before we write its maps.
  bool announces = false;

  int mount_fallback = 0;    // MountFallback bits: test-only, as force_clone
  int cgroup_fd = -1;        // a cgroup v2 directory for CLONE_INTO_CGROUP (lib/cgroup/)
  // kOpEnter (sandbox/enter.cc PrepareEnter): the helper's argv, and the fds
  // it inherits, laid out by the parent before clone.
  std::vector<std::string> enter_args;
  std::vector<const char*> enter_argv;
  std::vector<int> enter_fds;

  std::vector<Op> ops;
  std::vector<int> stdio;  // fd to install at each index; -1 leaves it as inherited, -2 closes it
  std::vector<gid_t> groups;
  std::vector<const char*> exec_paths;
  std::vector<const char*> argv;  // NULL-terminated
  // { "/bin/sh", <script>, argv[1..], NULL } for execvp's ENOEXEC fallback:
  // the child fills in the script's path (its own slot, nobody else reads it).
  mutable std::vector<const char*> sh_argv;
  std::vector<const char*> envp;  // NULL-terminated

#ifdef NSJS_FAULT_INJECTION
  // Test builds only (CMakeLists.txt NSJS_VARIANT): fail op fault_op in the
  // child (with fault_errno, or dying of fault_signal), or the parent step
  // named fault_parent, with fault_errno.
  int fault_op = -1;
  std::string fault_parent;
  int fault_errno = 0;
  int fault_signal = 0;
  bool fault_parent_exited = false;  // fault_parent "exit": kOpPdeathsig sees the parent gone
#endif
  bool FaultParentExited() const {
#ifdef NSJS_FAULT_INJECTION
    return fault_parent_exited;
#else
    return false;
#endif
  }
  bool FaultOp(size_t i) const {
#ifdef NSJS_FAULT_INJECTION
    return static_cast<int>(i) == fault_op;
#else
    (void)i;
    return false;
#endif
  }

  // Filled by the parent just before clone.
  bool via_clone3 = true;
  bool into_cgroup = false;  // the clone that made the child carried CLONE_INTO_CGROUP
  void* stage2_stack = nullptr;  // for kOpFork
  Progress* progress = nullptr;
  int err_fd = -1;
  int sync_fd = -1;
  int parent_pidfd = -1;

  // Copies a plan as lib/spawn/plan.ts encodePlan lays it out (ints, text,
  // extras); returns false with *why on a malformed one (a bug in lib/,
  // never user input: that is validated there).
  bool Parse(const Napi::Value& ints, const Napi::Value& text, const Napi::Value& extras, std::string* why);

 private:
  bool ParseExtras(const Napi::Object& extras, std::string* why);
  bool CheckMountOp(const Op& op, std::string* why) const;
  std::vector<char> arena_;
};

constexpr size_t kStackSize = 256 * 1024;

// The child's entry point: async-signal-safe, allocates nothing, never returns
// on success (execve), _exits 127 after reporting a failure.
int ChildMain(void* plan);

// Runs the plan from op `next` on (nsjs-init --enter, sandbox/enter.cc), as
// the child would have after its op next - 1. async-signal-safe.
[[noreturn]] void ContinuePlan(Plan* plan, size_t next);

// clone3 (falling back to clone) starting fn(arg) on stack; returns the pid,
// or -errno. *via_clone3 tells which was used. With into_cgroup (not null),
// clone3 is asked to start the child in the cgroup v2 directory cgroup_fd
// first, and *into_cgroup tells whether it did. async-signal-safe.
long CloneWithStack(uint64_t flags, void* stack, int* pidfd, int (*fn)(void*), void* arg, bool force_clone,
                    bool* via_clone3, int cgroup_fd = -1, bool* into_cgroup = nullptr);

}  // namespace spawn
}  // namespace nsjs

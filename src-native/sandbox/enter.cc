#include "enter.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "../fd_pass.h"
#include "../raw_syscall.h"

namespace nsjs {
namespace spawn {
namespace {

constexpr uint32_t kMagic = 0x6e73656e;  // "nsen": a plan of this build's nsjs, for this build's nsjs-init

// The plan as bytes: fixed-size fields in host order (parent and helper are
// one build on one machine), each string as a length and its bytes.
class Writer {
 public:
  template <typename T>
  void Put(const T& v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void Str(const char* s) {
    const uint32_t n = s ? static_cast<uint32_t>(strlen(s)) : UINT32_MAX;
    Put(n);
    if (s) out.append(s, n + 1);  // with its NUL, so that the reader can point into its buffer
  }
  void Strs(const std::vector<const char*>& v) {
    Put(static_cast<uint32_t>(v.size()));
    for (const char* s : v) Str(s);
  }
  std::string out;
};

class Reader {
 public:
  Reader(const std::string& in) : in_(in) {}
  template <typename T>
  bool Get(T* v) {
    if (in_.size() - at_ < sizeof *v) return false;
    memcpy(v, in_.data() + at_, sizeof *v);
    at_ += sizeof *v;
    return true;
  }
  // A pointer into `in`, which outlives the plan (the helper keeps it).
  bool Str(const char** s) {
    uint32_t n;
    if (!Get(&n)) return false;
    if (n == UINT32_MAX) return *s = nullptr, true;
    if (in_.size() - at_ < size_t{n} + 1) return false;
    *s = in_.data() + at_;
    at_ += n + 1;  // the NUL Encode put after it
    return true;
  }
  bool Strs(std::vector<const char*>* v) {
    uint32_t n;
    if (!Get(&n) || n > in_.size()) return false;
    v->resize(n);
    for (auto& s : *v)
      if (!Str(&s)) return false;
    return true;
  }
  bool Done() const { return at_ == in_.size(); }

 private:
  const std::string& in_;
  size_t at_ = 0;
};

void EncodeLandlock(const policy::Landlock& l, Writer* w) {
  w->Put(static_cast<uint64_t>(l.attr_size));
  w->Put(l.handled_fs);
  w->Put(l.handled_net);
  w->Put(static_cast<uint32_t>(l.paths.size()));
  for (const auto& path : l.paths) {
    w->Str(path.path.c_str());
    w->Put(path.access);
  }
  w->Put(static_cast<uint32_t>(l.ports.size()));
  for (const auto& port : l.ports) {
    w->Put(port.port);
    w->Put(port.access);
  }
}

bool DecodeLandlock(const std::string& in, Reader* r, policy::Landlock* l) {
  uint64_t attr_size;
  uint32_t n;
  if (!r->Get(&attr_size) || !r->Get(&l->handled_fs) || !r->Get(&l->handled_net) || !r->Get(&n) || n > in.size()) return false;
  l->attr_size = attr_size;
  l->paths.resize(n);
  for (auto& path : l->paths) {
    const char* s;
    if (!r->Str(&s) || !s || !r->Get(&path.access)) return false;
    path.path = s;
  }
  if (!r->Get(&n) || n > in.size()) return false;
  l->ports.resize(n);
  for (auto& port : l->ports)
    if (!r->Get(&port.port) || !r->Get(&port.access)) return false;
  return true;
}

void Encode(const Plan& p, Writer* w) {
  w->Put(kMagic);
  w->Put(p.clone_flags);
  const uint8_t bits[] = {p.force_clone, p.parent_maps, p.die_with_parent, p.fork_style, p.second_clone, p.exec_chain};
  w->Put(bits);
  const int32_t fds[] = {p.exec_fd, p.err_fd, p.sync_fd, p.parent_pidfd, p.mount_fallback};
  w->Put(fds);
  w->Put(static_cast<uint32_t>(p.ops.size()));
  for (const Op& op : p.ops) {
    w->Put(op.kind);
    w->Put(op.a);
    w->Put(op.b);
    w->Put(op.flags);
    w->Put(op.b64);
    for (const char* s : op.s) w->Str(s);
    w->Put(op.addr);
  }
  w->Put(static_cast<uint32_t>(p.stdio.size()));
  for (int fd : p.stdio) w->Put(static_cast<int32_t>(fd));
  w->Put(static_cast<uint32_t>(p.groups.size()));
  for (gid_t g : p.groups) w->Put(static_cast<uint32_t>(g));
  w->Strs(p.exec_paths);
  w->Strs(p.argv);  // NULL-terminated: its last entry is written as none
  w->Strs(p.envp);
  w->Put(static_cast<uint32_t>(p.policy.seccomp.size()));
  for (const sock_filter& f : p.policy.seccomp) w->Put(f);
  EncodeLandlock(p.policy.landlock, w);
  EncodeLandlock(p.policy.command_landlock, w);
}

bool Decode(const std::string& in, Plan* p) {
  Reader r(in);
  uint32_t magic, n;
  uint8_t bits[6];
  int32_t fds[5];
  if (!r.Get(&magic) || magic != kMagic || !r.Get(&p->clone_flags) || !r.Get(&bits) || !r.Get(&fds)) return false;
  p->force_clone = bits[0], p->parent_maps = bits[1], p->die_with_parent = bits[2];
  p->fork_style = bits[3], p->second_clone = bits[4], p->exec_chain = bits[5];
  p->exec_fd = fds[0], p->err_fd = fds[1], p->sync_fd = fds[2], p->parent_pidfd = fds[3], p->mount_fallback = fds[4];
  if (!r.Get(&n) || n > in.size()) return false;
  p->ops.resize(n);
  for (Op& op : p->ops) {
    if (!r.Get(&op.kind) || !r.Get(&op.a) || !r.Get(&op.b) || !r.Get(&op.flags) || !r.Get(&op.b64)) return false;
    for (const char*& s : op.s)
      if (!r.Str(&s)) return false;
    if (!r.Get(&op.addr)) return false;
  }
  if (!r.Get(&n) || n > kMaxStdio) return false;
  p->stdio.resize(n);
  for (int& fd : p->stdio) {
    int32_t v;
    if (!r.Get(&v)) return false;
    fd = v;
  }
  if (!r.Get(&n) || n > in.size()) return false;
  p->groups.resize(n);
  for (gid_t& g : p->groups) {
    uint32_t v;
    if (!r.Get(&v)) return false;
    g = v;
  }
  if (!r.Strs(&p->exec_paths) || !r.Strs(&p->argv) || !r.Strs(&p->envp)) return false;
  if (p->argv.empty() || p->argv.back() || p->envp.empty() || p->envp.back()) return false;
  if (!r.Get(&n) || n > policy::kMaxFilterLength) return false;
  p->policy.seccomp.resize(n);
  for (sock_filter& f : p->policy.seccomp)
    if (!r.Get(&f)) return false;
  if (!DecodeLandlock(in, &r, &p->policy.landlock) || !DecodeLandlock(in, &r, &p->policy.command_landlock)) return false;
  // As Plan::Parse: execvp's ENOEXEC fallback runs the script under /bin/sh.
  if (p->argv[0]) {
    p->sh_argv = {"/bin/sh", nullptr};
    p->sh_argv.insert(p->sh_argv.end(), p->argv.begin() + 1, p->argv.end());
  }
  return r.Done();
}

// The fds the plan names, which the helper must inherit (all ours are close-on-exec).
void PlanFds(const Plan& p, std::vector<int>* fds) {
  for (int fd : {p.exec_fd, p.err_fd, p.sync_fd, p.parent_pidfd})
    if (fd >= 0) fds->push_back(fd);
  for (size_t i = 0; i < p.stdio.size(); i++) {
    if (p.stdio[i] >= 0) fds->push_back(p.stdio[i]);
    if (p.stdio[i] == -1) fds->push_back(static_cast<int>(i));  // inherited: ours if open
  }
  for (const Op& op : p.ops)
    if (op.kind == kOpSetns || op.kind == kOpSetnsPidfd || op.kind == kOpCgroupJoin || op.kind == kOpPtyInside || op.kind == kOpEnter)
      fds->push_back(op.a);
}

}  // namespace

int PrepareEnter(Plan* plan, int min_fd, const char** syscall_name) {
  Op* enter = nullptr;
  bool other = false;  // an op before kOpEnter that EnterChildMain does not run
  for (Op& op : plan->ops) {
    if (op.kind == kOpEnter && !enter) enter = &op;
    else if (!enter && op.kind != kOpCgroupJoin) other = true;
    else if (op.kind == kOpEnter) return *syscall_name = "clone", -EINVAL;
  }
  if (!enter) return 0;
  if (other) return *syscall_name = "clone", -EINVAL;
  *syscall_name = "memfd_create";
  int fd = static_cast<int>(syscall(SYS_memfd_create, "nsjs-plan", MFD_CLOEXEC));
  if (fd >= 0 && fd < min_fd) {
    const int high = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
    close(fd);
    fd = high;
  }
  if (fd < 0) return -errno;
  // The helper's fds: the plan's, and this one, as kOpEnter's b.
  enter->b = fd;
  Writer w;
  Encode(*plan, &w);
  *syscall_name = "write";
  for (size_t at = 0; at < w.out.size();) {
    const ssize_t n = write(fd, w.out.data() + at, w.out.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      close(fd);
      return -err;
    }
    at += static_cast<size_t>(n);
  }
  plan->enter_fds.clear();
  PlanFds(*plan, &plan->enter_fds);
  plan->enter_fds.push_back(fd);
  plan->enter_args = {"nsjs-init", "--enter", std::to_string(fd)};
  plan->enter_argv.clear();
  for (const std::string& s : plan->enter_args) plan->enter_argv.push_back(s.c_str());
  plan->enter_argv.push_back(nullptr);
  return fd;
}

namespace {

// The first child (EnterChildMain) shares Node's memory and, cloned without
// CLONE_VFORK (parent.cc), runs beside the pool thread that cloned it, with
// that thread's TLS: no CLONE_SETTLS, so errno and whatever glibc, ASan or
// UBSan keep per thread are the running thread's own. A glibc call that
// failed here would write that thread's errno while it reads it (its
// poll/read loop tests EINTR and EAGAIN), and read back a value the thread
// may have overwritten. So from clone to the helper's execveat the child
// makes raw system calls only, as glibc's posix_spawn child does
// (INTERNAL_SYSCALL): none touches errno or any TLS. It is built without
// the sanitizers, whose runtime keeps per-thread state (in the sanitize
// test build the std::vector accessors it calls stay instrumented, out of
// line: loads checked against the shadow, nothing per thread unless one
// fails); test/unit/sandbox checks the release build's machine code.
// It reads only the Plan and writes only its own stack (one of the spawning
// thread's ThreadMemory stacks, which that thread never runs on) and the
// Progress page the parent reads once it has gone. The parent neither
// writes the Plan after clone nor returns from Spawn (freeing it, reusing
// the stack) before the child has exec'd or exited: ReadReports waits for
// EOF (the child holds the error pipe's write end across its exec), the
// child's exit, or its report and then Reap; its poll of two fds fails
// only with EINTR (nothing allocated; EINVAL would take an RLIMIT_NOFILE
// below 2). PrepareEnter refuses a plan with anything before kOpEnter but
// the cgroup joins below, so no other op's code ever runs here. Where
// there is no raw syscall (../raw_syscall.h; kEnterBesideParent false) the
// clone is vfork-style.

// async-signal-safe
[[noreturn]] NSJS_RAW_CHILD void RawFail(const Plan* plan, size_t index, long err) {
  const Report r{plan->ops[index].kind, static_cast<int32_t>(index), static_cast<int32_t>(err)};
  // If this write fails the parent sees the child exit 127 without a report.
  Raw(SYS_write, plan->err_fd, reinterpret_cast<long>(&r), sizeof r);
  for (;;) Raw(SYS_exit_group, 127);
}

#ifdef NSJS_FAULT_INJECTION
// async-signal-safe. Test builds: child.cc DieOf's, raw: dies of sig at an
// op, without a core file of Node's memory.
[[noreturn]] NSJS_RAW_CHILD void RawDie(int sig) {
  const uint64_t none[2] = {0, 0};
  Raw(SYS_prlimit64, 0, RLIMIT_CORE, reinterpret_cast<long>(none), 0);
  if (sig == SIGSEGV) {
    volatile uintptr_t unmapped = 8;
    *reinterpret_cast<volatile int*>(unmapped) = 0;
  }
  const uint64_t one = uint64_t{1} << (sig - 1);
  Raw(SYS_rt_sigprocmask, SIG_UNBLOCK, reinterpret_cast<long>(&one), 0, 8);
  Raw(SYS_kill, Raw(SYS_getpid, 0), sig);
  for (;;) Raw(SYS_exit_group, 127);
}
#endif

}  // namespace

// async-signal-safe
NSJS_RAW_CHILD int EnterChildMain(void* arg) {
  const Plan* plan = static_cast<const Plan*>(arg);
  // As ChildMain: every disposition back to default (an ignored SIGPIPE
  // would stay ignored across execve). A kernel sigaction of zeros is
  // SIG_DFL with no flags and an empty mask, whatever the layout.
  const unsigned long dfl[4] = {0, 0, 0, 0};
  for (long sig = 1; sig <= 64; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) Raw(SYS_rt_sigaction, sig, reinterpret_cast<long>(dfl), 0, 8);
  for (size_t i = 0; i < plan->ops.size(); i++) {
    const Op& op = plan->ops[i];
    plan->progress->op = static_cast<int32_t>(i);
#ifdef NSJS_FAULT_INJECTION
    if (plan->FaultOp(i)) {
      if (plan->fault_signal) RawDie(plan->fault_signal);
      RawFail(plan, i, plan->fault_errno);
    }
#endif
    if (op.kind == kOpCgroupJoin) {
      // cgroup/cgroup.cc RunCgroupOp's, raw: placed already by CLONE_INTO_CGROUP, or write our pid.
      if (op.b == 1 && plan->into_cgroup) continue;
      long n;
      do n = Raw(SYS_write, op.a, reinterpret_cast<long>("0"), 1);
      while (n == -EINTR);
      if (n != 1) RawFail(plan, i, n < 0 ? -n : EIO);
      continue;
    }
    if (op.kind != kOpEnter) RawFail(plan, i, EINVAL);  // PrepareEnter let none through
    // Our fd table is our own (no CLONE_FILES): clearing close-on-exec here
    // leaves the parent's fds as they are.
    for (int fd : plan->enter_fds) {
      const long r = Raw(SYS_fcntl, fd, F_SETFD, 0);
      if (r < 0 && r != -EBADF) RawFail(plan, i, -r);
    }
    const char* const none[] = {nullptr};
    // From here the helper reports every failure on the error pipe itself
    // (Plan::exec_chain: the parent reads it until EOF).
    plan->progress->exec = 1;
    const long r = Raw(SYS_execveat, op.a, reinterpret_cast<long>(""), reinterpret_cast<long>(plan->enter_argv.data()),
                       reinterpret_cast<long>(none), AT_EMPTY_PATH);
    plan->progress->exec = 0;
    RawFail(plan, i, -r);
  }
  for (;;) Raw(SYS_exit_group, 127);  // PrepareEnter made sure of a kOpEnter
}

void EnterMain(int plan_fd) {
  static std::string bytes;  // the plan's strings point into it until execve
  static Plan plan;
  char buf[16384];
  ssize_t n;
  while ((n = pread(plan_fd, buf, sizeof buf, static_cast<off_t>(bytes.size()))) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) bytes.append(buf, static_cast<size_t>(n));
  close(plan_fd);
  size_t from = 0;
  if (n == 0 && Decode(bytes, &plan))
    for (size_t i = 0; i < plan.ops.size() && !from; i++)
      if (plan.ops[i].kind == kOpEnter) from = i + 1;
  if (!from || plan.err_fd < 0) {
    static const char msg[] = "nsjs-init: --enter: not a plan of this nsjs\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  // Ours again: the command gets only what kOpStdio installs.
  std::vector<int> fds;
  PlanFds(plan, &fds);
  for (int fd : fds) fcntl(fd, F_SETFD, FD_CLOEXEC);
  // What ContinuePlan needs of the first child's setup: the shared page
  // the command writes its progress to, and a stack for its clone.
  void* page = mmap(nullptr, sizeof(Progress), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  void* stack = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (page == MAP_FAILED || stack == MAP_FAILED) {
    Report r{kOpEnter, static_cast<int32_t>(from - 1), errno};
    (void)!write(plan.err_fd, &r, sizeof r);
    _exit(127);
  }
  plan.progress = static_cast<Progress*>(page);
  plan.progress->op = -1;
  plan.progress->exec = 0;
  plan.stage2_stack = stack;
  ContinuePlan(&plan, from);
}

int GateOf(const Plan& plan) {
  for (const Op& op : plan.ops)
    if (op.kind == kOpEnter) return (op.flags & kEnterGate) ? static_cast<int>(op.b64) : -1;
  return -1;
}

int GateSend(int gate, const Plan& plan) {
  // Each fd travels with the number the plan knows it by. An inherited stdio
  // fd we do not have open stays closed in the command, as after our clone.
  int32_t targets[kMaxPassFds];
  int fds[kMaxPassFds];
  size_t n = 0;
  for (int fd : plan.enter_fds) {
    if (fcntl(fd, F_GETFD) < 0) continue;
    if (n == kMaxPassFds) return -E2BIG;
    targets[n] = fd;
    fds[n++] = fd;
  }
  // PrepareEnter put the plan's memfd last, and it is ours: n >= 1.
  return SendWithFds(gate, fds, n, targets, n * sizeof *targets);
}

namespace {

struct GateStage {
  Plan* plan;
  size_t from;       // the op after kOpFork
  const int* got;    // the fds as received, close-on-exec
  const int32_t* targets;  // the number each has in the plan
  size_t n;
};

// async-signal-safe. The command, cloned by the gate (CLONE_VM, vfork-style:
// the gate waits, and its memory is ours until execve). Its fds become
// exactly those the plan names, at their numbers, close-on-exec as the
// helper of --enter has them; nothing of the gate's stays (its request
// socket least of all: a command holding it could ask for more commands).
int GateChild(void* arg) {
  const GateStage* st = static_cast<const GateStage*>(arg);
  Plan* plan = st->plan;
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  // Failures go to the error pipe wherever it is at that moment: as
  // received, then its copy above the rest (a dup3 below may land on the
  // number it was received at), then its place in the plan.
  int report = -1;
  for (size_t i = 0; i < st->n; i++)
    if (st->targets[i] == plan->err_fd) report = st->got[i];
  const auto fail = [st, &report](int err) {
    const Report r{kOpFork, static_cast<int32_t>(st->from - 1), err};
    (void)!write(report, &r, sizeof r);
    _exit(127);
  };
  // Above every number in play first, so that no dup3 below lands on an fd
  // still to be moved.
  int high = 0;
  for (size_t i = 0; i < st->n; i++) high = std::max({high, st->targets[i] + 1, st->got[i] + 1});
  int moved[kMaxPassFds];
  for (size_t i = 0; i < st->n; i++) {
    if ((moved[i] = fcntl(st->got[i], F_DUPFD_CLOEXEC, high)) < 0) fail(errno);
    if (st->got[i] == report) report = moved[i];
  }
  for (size_t i = 0; i < st->n; i++)
    if (dup3(moved[i], st->targets[i], O_CLOEXEC) < 0) fail(errno);
  report = plan->err_fd;
  // Then every other fd closed: the gaps between the targets, in order.
  int32_t sorted[kMaxPassFds];
  for (size_t i = 0; i < st->n; i++) {
    size_t j = i;
    for (; j > 0 && sorted[j - 1] > st->targets[i]; j--) sorted[j] = sorted[j - 1];
    sorted[j] = st->targets[i];
  }
  unsigned next = 0;
  for (size_t i = 0; i < st->n; i++) {
    const unsigned t = static_cast<unsigned>(sorted[i]);
    if (t > next && syscall(SYS_close_range, next, t - 1, 0U) < 0) fail(errno);
    next = t + 1;
  }
  if (syscall(SYS_close_range, next, ~0U, 0U) < 0) fail(errno);
  ContinuePlan(plan, st->from);
}

// The fork op the gate runs for a command: after the plan's kOpEnter (at
// *enter), its setns and fallbacks (what the gate has done once for all),
// or 0 for a plan of another shape.
size_t GateFork(const Plan& plan, size_t* enter) {
  for (size_t i = 0; i + 1 < plan.ops.size(); i++) {
    if (plan.ops[i].kind != kOpEnter) continue;
    *enter = i;
    const Op& join = plan.ops[i + 1];
    const size_t fork = i + 2 + static_cast<size_t>(join.b);
    if (join.kind != kOpSetnsPidfd || join.b < 0 || fork >= plan.ops.size() || plan.ops[fork].kind != kOpFork) return 0;
    return fork;
  }
  return 0;
}

// One request: the plan's memfd last among the fds, the numbers they have
// in the plan as the message. Nothing is answered to a malformed one: with
// its fds closed the parent reads EOF on the error pipe and says so.
void Serve(const int32_t* targets, size_t ntargets, const int* got, size_t n, void* stack, Progress* page) {
  if (n == 0 || ntargets != n) return;
  std::string bytes;
  char buf[16384];
  ssize_t r;
  while ((r = pread(got[n - 1], buf, sizeof buf, static_cast<off_t>(bytes.size()))) > 0 || (r < 0 && errno == EINTR))
    if (r > 0) bytes.append(buf, static_cast<size_t>(r));
  std::unique_ptr<Plan> plan(new Plan);
  if (r != 0 || !Decode(bytes, plan.get())) return;
  int err = -1;
  for (size_t i = 0; i < n; i++)
    if (targets[i] == plan->err_fd) err = got[i];
  if (err < 0) return;
  size_t enter = 0;
  const size_t fork = GateFork(*plan, &enter);
  Report rep{kOpEnter, static_cast<int32_t>(enter), EINVAL};
  if (fork == 0) {
    (void)!write(err, &rep, sizeof rep);
    return;
  }
  plan->progress = page;
  page->op = -1;
  page->exec = 0;
  GateStage stage{plan.get(), fork + 1, got, targets, n};
  const long pid = CloneWithStack(plan->ops[fork].flags | CLONE_PARENT | CLONE_VM | CLONE_VFORK, stack, nullptr, GateChild,
                                  &stage, plan->force_clone, &plan->via_clone3);
  // As kOpFork's first child: the command's pid (ours is the parent's pid
  // namespace), after its own report if it failed.
  rep = pid < 0 ? Report{kOpFork, static_cast<int32_t>(fork), static_cast<int32_t>(-pid)} : Report{kOpFork, static_cast<int32_t>(pid), 0};
  (void)!write(err, &rep, sizeof rep);
}

}  // namespace

void GateMain(uint64_t mask) {
  // In our parent's process group (a sandbox's commands may keep its
  // terminal): its keyboard signals are not ours to die of; SIGPIPE is an
  // error pipe whose reader went away. The command gets every default back.
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU}) signal(sig, SIG_IGN);
  if (setns(3, static_cast<int>(mask)) < 0) _exit(errno);
  close(3);
  const char ready = 0;
  if (write(1, &ready, 1) != 1) _exit(EIO);
  close(1);
  for (int fd : {0, 2})
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) _exit(errno);
  void* stack = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  void* page = mmap(nullptr, sizeof(Progress), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED || page == MAP_FAILED) _exit(errno);
  for (;;) {
    int32_t targets[kMaxPassFds];
    int got[kMaxPassFds];
    size_t n = 0;
    bool cut = false;
    const ssize_t len = RecvWithFds(0, 0, targets, sizeof targets, got, kMaxPassFds, &n, &cut);
    if (len == 0) _exit(0);  // the sandbox is closing
    if (len < 0) _exit(static_cast<int>(-len));
    if (!cut && len % static_cast<ssize_t>(sizeof *targets) == 0)
      Serve(targets, static_cast<size_t>(len) / sizeof *targets, got, n, stack, static_cast<Progress*>(page));
    for (size_t i = 0; i < n; i++) close(got[i]);
  }
}

}  // namespace spawn
}  // namespace nsjs

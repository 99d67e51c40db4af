// The parent side of a spawn, run on a libuv pool thread (an AsyncWorker) so
// that clone, namespace creation and the wait for exec never stall the loop.
//
// Two shapes of clone:
//  - vfork-style (CLONE_VM|CLONE_VFORK, own stack): no page tables are copied,
//    so the cost does not grow with Node's heap; this thread sleeps until the
//    child has exec'd or exited. Used whenever the child needs no help.
//  - fork-style: when the parent must write uid/gid map ranges (only a process
//    in the parent user namespace may), the child waits on a sync pipe.
//
// PR_SET_PDEATHSIG fires when the *thread* that cloned the child exits. Pool
// threads live as long as the process, so dieWithParent follows Node itself.
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "../common.h"
#include "../fs/mounts.h"
#include "../net/netlink.h"
#include "../net/socket_in.h"
#include "pidfd.h"
#include "plan.h"
#include "../sandbox/enter.h"

namespace nsjs {
namespace spawn {
namespace {

struct Outcome {
  int pid = -1;
  int pidfd = -1;
  int err = 0;            // positive errno, 0 on success
  int op = -1;            // index of the failing op (child failures)
  int kind = 0;           // its kind
  const char* syscall = nullptr;  // parent-side failures
  std::string step;
  std::string path;
  int signal = 0;          // the child died of it before execve, without a report
  int exit_status = -1;    // or _exited so
  int proxy_fd = -1;       // network.egress: the listening socket made in the child's namespace
  std::string fs_log;      // Progress::fs_log of a failed op: the filesystem's own reason
};

// One spawn: Spawn() does the work (on whichever thread), Result() reports
// it to JS (on the loop thread).
// Per spawning thread, mapped once: two stacks, the second for the command
// when a joined pid namespace makes the first child clone again (kOpFork),
// and the shared page the children write their Progress to. Reuse is safe
// because after a vfork-style clone the children are done with them when
// clone returns, and after a fork-style one they have their own copy of the
// stacks and have exec'd or died (dropping the page) before Spawn returns.
// Unmapping per spawn cost ~90 µs (page zapping and TLB shoot-downs).
class ThreadMemory {
 public:
  ~ThreadMemory() {
    if (stacks_ != MAP_FAILED) munmap(stacks_, kStacks);
    if (progress_ != MAP_FAILED) munmap(progress_, sizeof(Progress));
  }
  void* Stacks() {
    if (stacks_ == MAP_FAILED) stacks_ = mmap(nullptr, kStacks, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
#if defined(__SANITIZE_ADDRESS__)
    // ASan builds only (CMakeLists.txt): the children's frames never return
    // (execve, _exit), so the redzones that instrumented code they call
    // (net/netlink.cc, CloneWithStack) put in the shadow of this reused
    // memory outlive them, and the next spawn's frames at the same
    // addresses read as a stack-buffer-underflow. Each spawn starts clean.
    if (stacks_ != MAP_FAILED) ASAN_UNPOISON_MEMORY_REGION(stacks_, kStacks);
#endif
    return stacks_;
  }
  void* ProgressPage() {
    if (progress_ == MAP_FAILED) progress_ = mmap(nullptr, sizeof(Progress), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return progress_;
  }

 private:
  static constexpr size_t kStacks = 2 * kStackSize;
  void* stacks_ = MAP_FAILED;
  void* progress_ = MAP_FAILED;
};

ThreadMemory& ThisThread() {
  thread_local ThreadMemory memory;
  return memory;
}

class Spawner {
 public:
  explicit Spawner(std::unique_ptr<Plan> plan) : plan_(std::move(plan)) {}

  Napi::Object Result(Napi::Env env) const {
    Napi::Object r = Napi::Object::New(env);
    if (out_.err == 0) {
      r.Set("pid", out_.pid);
      r.Set("pidfd", out_.pidfd);
      r.Set("clone3", plan_->via_clone3);
      if (out_.proxy_fd >= 0) r.Set("proxyFd", out_.proxy_fd);
    } else {
      r.Set("errno", -out_.err);
      if (out_.op >= 0) {
        r.Set("op", out_.op);
        r.Set("kind", out_.kind);
        // A parent step made for that op (an idmapped tree): its own call.
        if (out_.syscall) r.Set("syscall", out_.syscall);
        if (!out_.fs_log.empty()) r.Set("fsLog", out_.fs_log);
      } else {
        r.Set("syscall", out_.syscall);
        r.Set("step", out_.step);
        if (!out_.path.empty()) r.Set("path", out_.path);
      }
      if (out_.signal) r.Set("signal", out_.signal);
      if (out_.exit_status >= 0) r.Set("exitStatus", out_.exit_status);
    }
    return r;
  }

 private:
  void ParentFail(int err, const char* sys, std::string step, std::string path = {}) {
    out_.err = err;
    out_.syscall = sys;
    out_.step = std::move(step);
    out_.path = std::move(path);
  }

  // The host end of the sandbox's veth pair, in our net namespace, with the
  // peer created directly in the child's (no move afterwards). Both ends
  // start down; the child brings its own up. On failure nothing is left:
  // the kernel makes both ends or neither, and a later failure deletes them.
  // The host end's netlink socket: in our namespace, or made inside the
  // bridge's (network.veth.bridge with a namespace).
  int VethSocket() const {
    if (plan_->veth.netns_fd < 0) return nl::NlOpen();
    int step;
    return SocketIn(plan_->veth.netns_fd, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, &step);
  }

  void DeleteVeth() {
    const int sock = VethSocket();
    if (sock < 0) return;
    nl::NlDeleteLink(sock, plan_->veth.host.c_str());  // ENODEV: already gone with the namespace
    close(sock);
  }

  std::string MasterStep() const { return "RTM_NEWLINK master " + plan_->veth.bridge + " dev " + plan_->veth.host; }

  // A veth the child makes itself (Veth::in_child): its socket, above the
  // stdio range the child installs, and the bridge's index, found now so
  // that a missing bridge fails before anything exists.
  bool OpenVeth() {
    Veth& v = plan_->veth;
    const int sock = Fault("netlink socket") ? -errno : VethSocket();
    if (sock < 0) {
      ParentFail(-sock, "socket", "netlink socket");
      return false;
    }
    const int n = static_cast<int>(plan_->stdio.size());
    v.sock = sock >= n ? sock : fcntl(sock, F_DUPFD_CLOEXEC, n);
    if (v.sock != sock) close(sock);
    if (v.sock < 0) {
      ParentFail(errno, "fcntl", "netlink socket");
      return false;
    }
    v.master = v.bridge.empty() ? 0 : Fault("RTM_NEWLINK master") ? -errno : nl::NlIfIndex(v.sock, v.bridge.c_str());
    if (v.master < 0) {
      ParentFail(-v.master, "netlink", MasterStep());
      return false;
    }
    return true;
  }

  // Whether a failed child had made its veth (it got past kOpVethCreate).
  bool ChildMadeVeth() const {
    const Plan* p = plan_.get();
    if (!p->has_veth || !p->veth.in_child) return false;
    for (size_t i = 0; i < p->ops.size(); i++)
      if (p->ops[i].kind == kOpVethCreate) return p->progress->op > static_cast<int32_t>(i);
    return false;
  }

  bool MakeVeth(int pid) {
    const Veth& v = plan_->veth;
    const int sock = Fault("netlink socket") ? -errno : VethSocket();
    if (sock < 0) {
      ParentFail(-sock, "socket", "netlink socket");
      return false;
    }
    const std::string master_step = MasterStep();
    // The bridge first: a name that is not there fails before any link exists.
    const int master = v.bridge.empty() ? 0 : nl::NlIfIndex(sock, v.bridge.c_str());
    int r = master < 0 ? master : Fault("RTM_NEWLINK veth") ? -errno : nl::NlCreateVeth(sock, v.host.c_str(), v.peer.c_str(), -1, pid, v.mtu);
    if (r < 0) {
      ParentFail(-r, "netlink", master < 0 ? master_step : "RTM_NEWLINK veth " + v.host);
      close(sock);
      return false;
    }
    // Up, master and addresses in one round trip: request i of the batch is
    // step kinds[i]. A fault stands for the kernel refusing request i after
    // the ones before it ran.
    enum Kind { kUp, kMaster, kAddress };
    std::vector<Kind> kinds{kUp};
    if (master > 0) kinds.push_back(kMaster);
    kinds.resize(kinds.size() + v.host_addresses.size(), kAddress);
    static const char* const kFaults[] = {"RTM_NEWLINK up", "RTM_NEWLINK master", "RTM_NEWADDR"};
    const int index = nl::NlIfIndex(sock, v.host.c_str());
    size_t at = 0;  // the failed request, once r < 0
    r = index;
    if (r >= 0) {
      nl::Batch batch;
      nl::NlBatchInit(&batch, sock);
      int fault = 0;
      for (; at < kinds.size() && !fault; at++) {
        if (Fault(kFaults[kinds[at]])) fault = -errno;
        else if (kinds[at] == kUp) nl::NlBatchSetLink(&batch, index, 1, -1);
        else if (kinds[at] == kMaster) nl::NlBatchSetMaster(&batch, index, master);
        else {
          const Veth::Address& a = v.host_addresses[at - (kinds.size() - v.host_addresses.size())];
          nl::NlBatchAddress(&batch, true, index, a.family, a.bytes, a.prefix);
        }
      }
      int failed;
      r = nl::NlBatchFinish(&batch, &failed);
      if (r < 0) at = static_cast<size_t>(failed);
      else if (fault) r = fault, at--;
    }
    if (r < 0) {
      const Kind kind = kinds[at];
      ParentFail(-r, "netlink", kind == kUp ? "RTM_NEWLINK up " + v.host : kind == kMaster ? master_step : "RTM_NEWADDR dev " + v.host);
      nl::NlDeleteLink(sock, v.host.c_str());
    }
    close(sock);
    veth_made_ = r >= 0;
    return veth_made_;
  }

  // The egress proxy's listener, made inside the child's net namespace
  // (SocketIn through its pidfd, joining its user namespace if it has one)
  // while the child waits: it listens before the command can run, so the
  // command cannot take the port first. IP_FREEBIND: lo may not be up yet.
  bool MakeProxy() {
    int step;
    const int fd = Fault("proxy socket") ? -errno : SocketIn(out_.pidfd, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0, &step);
    if (fd < 0) {
      ParentFail(-fd, step == kSocketInSetns ? "setns" : step == kSocketInClone ? "clone" : "socket", "egress proxy socket");
      return false;
    }
    sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<uint16_t>(plan_->proxy_port));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    const char* sys = "setsockopt";
    bool ok = setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) == 0;
    if (ok) ok = (sys = "bind", bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
    if (ok) ok = (sys = "listen", listen(fd, 511) == 0);
    if (!ok) {
      ParentFail(errno, sys, "egress proxy 127.0.0.1:" + std::to_string(plan_->proxy_port));
      close(fd);
      return false;
    }
    out_.proxy_fd = fd;
    return true;
  }

  // Test builds (NSJS_FAULT_INJECTION): true, with errno set, when the plan
  // asks this parent step to fail. Call sites read `Fault(x) || call() < 0`.
  bool Fault(const std::string& name) const {
#ifdef NSJS_FAULT_INJECTION
    if (plan_->fault_parent == name) {
      errno = plan_->fault_errno;
      return true;
    }
#else
    (void)name;
#endif
    return false;
  }

  long Clone(uint64_t flags, void* stack, int (*fn)(void*)) {
    const long r = Fault("clone") ? -errno : CloneWithStack(flags, stack, &out_.pidfd, fn, plan_.get(), plan_->force_clone,
                                  &plan_->via_clone3, plan_->cgroup_fd, &plan_->into_cgroup);
    if (r < 0) ParentFail(static_cast<int>(-r), plan_->via_clone3 ? "clone3" : "clone", "clone");
    return r;
  }

  // Writes setgroups/uid_map/gid_map of the child's new user namespace.
  // Runs `helper <pid> <inner> <outer> <count>...` (newuidmap, newgidmap:
  // setuid root, they check the ranges against /etc/subuid and write the
  // map) and waits for it. Not in a child of ours: posix_spawn from here.
  bool RunMapHelper(const std::string& helper, int pid, const std::string& map, const char* step) {
    std::vector<std::string> words{helper, std::to_string(pid)};
    size_t i = 0;
    while (i < map.size()) {
      const size_t j = map.find_first_of(" \n", i);
      const size_t end = j == std::string::npos ? map.size() : j;
      if (end > i) words.push_back(map.substr(i, end - i));
      i = end + 1;
    }
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(&w[0]);
    argv.push_back(nullptr);
    char* envp[] = {nullptr};
    pid_t helper_pid;
    const int r = Fault(step) ? EPERM : posix_spawn(&helper_pid, helper.c_str(), nullptr, nullptr, argv.data(), envp);
    if (r != 0) {
      ParentFail(r, "posix_spawn", step, helper);
      return false;
    }
    int status = 0;
    while (waitpid(helper_pid, &status, 0) < 0) {
      if (errno != EINTR) {
        ParentFail(errno, "waitpid", step, helper);
        return false;
      }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      // The helper said why on our stderr; EPERM is what it refuses with.
      ParentFail(EPERM, "execve", step, helper);
      return false;
    }
    return true;
  }

  // The trees of the idmapped binds (fs/idmap.cc), each made here as the
  // child waits in its new, mapped user namespace; a failure names the
  // child's kOpRecvTree op, whose step knows the mount. Sent once the child
  // is let go (SendTrees).
  bool MakeTrees(int pid) {
    int userns = -1;
    for (size_t i = 0; i < plan_->ops.size(); i++) {
      const Op& op = plan_->ops[i];
      if (op.kind != kOpRecvTree) continue;
      const char* sys = "open";
      if (userns < 0) {
        const std::string path = "/proc/" + std::to_string(pid) + "/ns/user";
        userns = Fault("open userns") ? -1 : open(path.c_str(), O_RDONLY | O_CLOEXEC);
      }
      int fd = userns < 0 ? -errno : 0;
      if (fd == 0) fd = Fault("idmap") ? (sys = "open_tree", -errno) : MakeIdmappedTree(op, userns, &sys);
      if (fd == -ENOENT && (op.flags & kTreeOptional)) {
        trees_.push_back(-1);
        continue;
      }
      if (fd < 0) {
        ParentFail(-fd, sys, "");
        out_.op = static_cast<int>(i);
        out_.kind = op.kind;
        break;
      }
      trees_.push_back(fd);
    }
    if (userns >= 0) close(userns);
    return out_.err == 0;
  }

  bool SendTrees(int sock) {
    for (int fd : trees_) {
      const int r = Fault("send tree") ? -errno : SendTree(sock, fd);
      if (r < 0) {
        ParentFail(-r, "sendmsg", "send the idmapped trees");
        return false;
      }
    }
    return true;
  }

  // Binds /proc/<pid>/<suffix> on each file of Plan::persist (unshare's
  // --TYPE=FILE), before the child is let go.
  bool Persist(int pid) {
    for (size_t i = 0; i + 1 < plan_->persist.size(); i += 2) {
      const std::string source = "/proc/" + std::to_string(pid) + "/" + plan_->persist[i];
      const std::string& target = plan_->persist[i + 1];
      if (Fault("persist") || mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) < 0) {
        ParentFail(errno, "mount", "keep " + plan_->persist[i], target);
        return false;
      }
      persisted_ = i + 2;
    }
    return true;
  }

  // The spawn fails as a whole: a later step's failure (a veth, the sync,
  // an op of the child) must not leave its namespaces kept.
  void Unpersist() {
    for (size_t j = 0; j < persisted_; j += 2) umount2(plan_->persist[j + 1].c_str(), MNT_DETACH);
    persisted_ = 0;
  }

  // user.owner: the child has become the owner and made its user namespace
  // once it sends its byte; its EOF, or its exit, means it failed before
  // (its report, in the error pipe, names the step).
  bool Announced(int sock) {
    pollfd fds[2] = {{sock, POLLIN, 0}, {out_.pidfd, POLLIN, 0}};
    char byte;
    for (;;) {
      const int r = Fault("announce") ? -1 : poll(fds, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r > 0 && (fds[0].revents & POLLIN) && read(sock, &byte, 1) == 1) return true;
      ParentFail(r < 0 ? errno : ECHILD, r < 0 ? "poll" : "read", "wait for the owner's user namespace");
      return false;
    }
  }

  bool WriteMaps(int pid) {
    const struct {
      const char* file;
      const std::string& data;
      const char* step;
      const std::string* helper;
    } files[] = {{"setgroups", plan_->setgroups, "write setgroups", nullptr},
                 {"uid_map", plan_->uid_map, "write uid_map", &plan_->uid_map_helper},
                 {"gid_map", plan_->gid_map, "write gid_map", &plan_->gid_map_helper}};
    for (const auto& f : files) {
      if (f.data.empty()) continue;
      if (f.helper && !f.helper->empty()) {
        if (!RunMapHelper(*f.helper, pid, f.data, f.step)) return false;
        continue;
      }
      const std::string path = "/proc/" + std::to_string(pid) + "/" + f.file;
      const int fd = Fault(std::string("open ") + f.file) ? -1 : open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) {
        ParentFail(errno, "open", f.step, path);
        return false;
      }
      const ssize_t n = Fault(f.step) ? -1 : write(fd, f.data.data(), f.data.size());
      const int err = errno;
      close(fd);
      if (n != static_cast<ssize_t>(f.data.size())) {
        ParentFail(n < 0 ? err : EIO, "write", f.step, path);
        return false;
      }
    }
    return true;
  }

  // Reads what the children report until the pipe says exec succeeded: EOF,
  // or, when only strangers hold the write end (another spawn's child that
  // inherited it for a moment), an empty pipe once the child we watch has
  // exec'd (vfork-style: clone has returned) or exited (its pidfd). Returns
  // false on success; true with *failure filled in when a step failed.
  //
  // After a join, the command (cloned vfork-style by the first child) fails
  // before the first child can announce its pid, so its report comes first:
  // read on for the announcement, or the command stays an unreaped zombie.
  bool ReadReports(int fd, bool vforked, int* second_pid, Report* failure) {
    bool failed = false;
    for (;;) {
      bool child_gone = vforked && !plan_->exec_chain;
      if (!child_gone) {
        pollfd fds[2] = {{fd, POLLIN, 0}, {out_.pidfd, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
          if (errno == EINTR) continue;
          return false;
        }
        child_gone = fds[1].revents != 0;
      }
      Report r;
      const ssize_t n = read(fd, &r, sizeof r);
      if (n == static_cast<ssize_t>(sizeof r)) {
        if (r.kind == kOpFork && r.err == 0) {
          *second_pid = r.op;
          if (failed) return true;
          continue;
        }
        *failure = r;
        failed = true;
        if (!plan_->second_clone || *second_pid > 0) return true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN && !child_gone) continue;
      return failed;
    }
  }

  // Dups fd above the stdio range when it sits inside it (only when Node's
  // own 0-2 are closed, or for long stdio arrays); the parent closes the
  // copy right after clone.
  int AboveStdio(int fd) {
    const int n = static_cast<int>(plan_->stdio.size());
    if (fd < 0 || fd >= n) return fd;
    const int high = fcntl(fd, F_DUPFD_CLOEXEC, n);
    if (high >= 0) extra_fds_.push_back(high);
    return high;
  }

  siginfo_t Reap() {
    siginfo_t si{};
    while (waitid(static_cast<idtype_t>(P_PIDFD), out_.pidfd, &si, WEXITED) < 0 && errno == EINTR) {
    }
    close(out_.pidfd);
    out_.pidfd = -1;
    out_.pid = -1;
    return si;
  }

  // No report from a child that never reached execve: it died (a signal, a
  // trap) or _exited on the way. Its status si says how, the op it was at
  // where; before the first op it is the clone's failure.
  void Died(const siginfo_t& si, int op) {
    out_.syscall = nullptr;
    out_.step.clear();
    out_.path.clear();
    if (si.si_code == CLD_EXITED) {
      out_.err = EIO;
      out_.exit_status = si.si_status;
    } else {
      out_.err = EINTR;
      out_.signal = si.si_status;
    }
    if (op >= 0) {
      out_.op = op;
      out_.kind = plan_->ops[op].kind;
    } else {
      out_.syscall = plan_->via_clone3 ? "clone3" : "clone";
      out_.step = "clone";
    }
  }

 public:
  // The spawn succeeded but can never be reported (see SpawnWorker::OnOK).
  void Abandon() {
    if (out_.proxy_fd >= 0) close(out_.proxy_fd);
    if (out_.err != 0 || out_.pidfd < 0) return;
    syscall(SYS_pidfd_send_signal, out_.pidfd, SIGKILL, nullptr, 0);
    Reap();
  }

  void Spawn() {
    Plan* p = plan_.get();
    const bool child_veth = p->has_veth && p->veth.in_child;
    const bool waits = p->parent_maps || (p->has_veth && !child_veth) || p->has_proxy || p->has_idmap;  // the child waits for our steps
    const bool vfork = !waits && !p->fork_style;
    if (child_veth && !OpenVeth()) return;
    int errp[2], syncp[2] = {-1, -1};
    if (Fault("pipe2") || pipe2(errp, O_CLOEXEC | O_NONBLOCK) < 0) return ParentFail(errno, "pipe2", "clone");
    // Idmapped trees travel as SCM_RIGHTS, and an owner's child speaks
    // first: then the sync pipe is a socket.
    if (waits && (Fault("pipe2 sync") || (p->has_idmap || p->announces ? socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, syncp) : pipe2(syncp, O_CLOEXEC)) < 0)) {
      ParentFail(errno, "pipe2", "clone");
      close(errp[0]);
      close(errp[1]);
      return;
    }
    // The child installs stdio over fds 0..n-1; its own fds must sit above.
    p->err_fd = AboveStdio(errp[1]);
    p->sync_fd = AboveStdio(syncp[0]);
    p->exec_fd = AboveStdio(p->exec_fd);
    const char* enter_sys = nullptr;
    const int plan_fd = PrepareEnter(p, static_cast<int>(p->stdio.size()), &enter_sys);
    if (plan_fd > 0) extra_fds_.push_back(plan_fd);
    const int gate = plan_fd > 0 ? GateOf(*p) : -1;
    if (plan_fd < 0) {
      ParentFail(-plan_fd, enter_sys, "sandbox plan");
      close(errp[0]);
      close(errp[1]);
      if (syncp[0] >= 0) close(syncp[0]), close(syncp[1]);
      for (int fd : extra_fds_) close(fd);
      return;
    }
    // A pidfd on ourselves, polled by the child after PR_SET_PDEATHSIG to
    // catch a parent that died before the prctl.
    if (p->die_with_parent) {
      self_pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
      p->parent_pidfd = AboveStdio(self_pidfd_);
    }
    // The child's O_NONBLOCK write end is harmless: a Report never fills a pipe.
    void* stack = Fault("mmap") ? MAP_FAILED : ThisThread().Stacks();
    void* page = stack == MAP_FAILED || Fault("mmap shared") ? MAP_FAILED : ThisThread().ProgressPage();
    long pid = -1;
    if (stack == MAP_FAILED || page == MAP_FAILED) {
      ParentFail(errno, "mmap", "clone");
    } else {
      p->progress = static_cast<Progress*>(page);
      p->progress->op = -1;
      p->progress->exec = 0;
      p->progress->fs_log[0] = '\0';
      p->stage2_stack = static_cast<char*>(stack) + kStackSize;
      // No handler of Node's may run in the child before it resets them.
      sigset_t all, old;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &old);
      // A first child that execs nsjs-init --enter (plan_fd) reports on
      // the pipe until EOF anyway: without CLONE_VFORK we are not woken at
      // its exec only to poll again, a round trip through the run queue
      // that made the whole spawn 1.4x slower under load. It then runs
      // beside us on our memory and TLS: EnterChildMain makes raw system
      // calls only (sandbox/enter.cc says what else that takes).
      const bool beside = plan_fd > 0 && kEnterBesideParent;
      if (gate >= 0) {
        // The sandbox's gate clones the command (sandbox/enter.cc); from
        // here it is as after --enter's exec: the reports, then EOF.
        const int r = Fault("sendmsg gate") ? -errno : GateSend(gate, *p);
        if (r < 0) ParentFail(-r, "sendmsg", "enter the sandbox through its gate");
        p->progress->exec = r == 0;
      } else {
        pid = Clone(p->clone_flags | (!vfork ? 0 : beside ? CLONE_VM : CLONE_VM | CLONE_VFORK), stack, plan_fd > 0 ? EnterChildMain : ChildMain);
      }
      pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    // Only the child may hold the write end now, or EOF would never come.
    close(errp[1]);
    if (syncp[0] >= 0) close(syncp[0]);
    for (int fd : extra_fds_) close(fd);
    if (self_pidfd_ >= 0) close(self_pidfd_);
    const bool gated = gate >= 0 && out_.err == 0;
    if (pid >= 0 || gated) {
      out_.pid = static_cast<int>(pid);
      if (waits) {
        const bool ok = (!p->announces || Announced(syncp[1])) && (!p->parent_maps || (WriteMaps(out_.pid) && Persist(out_.pid))) && (!p->has_veth || MakeVeth(out_.pid)) && (!p->has_proxy || MakeProxy()) && (!p->has_idmap || MakeTrees(out_.pid));
        // One byte lets the child go on; closing without it makes it exit.
        if (ok && (Fault("sync") || write(syncp[1], "", 1) != 1)) ParentFail(errno, "write", "sync");
        else if (ok) SendTrees(syncp[1]);
        for (int fd : trees_) if (fd >= 0) close(fd);
      }
      Report rep{};
      int second = -1;
      if (out_.err != 0) {
        // A child that failed on its own before it waited for us (bringing
        // lo up, say) makes our map, veth or sync step fail too: its report,
        // already in the pipe, is the cause to name, or else its death. A
        // status other than our SIGKILL is its own (a dying process keeps
        // the signal it is dying of).
        syscall(SYS_pidfd_send_signal, out_.pidfd, SIGKILL, nullptr, 0);
        const siginfo_t si = Reap();
        if (veth_made_ || ChildMadeVeth()) DeleteVeth();
        Report early;
        if (read(errp[0], &early, sizeof early) == static_cast<ssize_t>(sizeof early) && early.kind != kOpFork) {
          out_.syscall = nullptr;
          out_.err = early.err;
          out_.op = early.op;
          out_.kind = early.kind;
        } else if (si.si_code == CLD_EXITED || si.si_status != SIGKILL) {
          Died(si, p->progress->op);
        }
      } else {
        // CLONE_VFORK returns once the child has exec'd or exited, unless
        // something between us and the kernel ignores it (qemu-user runs it
        // as a plain fork): then the child is still in its setup, and the
        // pipe is read until EOF as after a fork-style clone.
        pollfd gone{out_.pidfd, POLLIN, 0};
        const bool vforked = vfork && (p->progress->exec || poll(&gone, 1, 0) > 0);
        const bool failed = ReadReports(errp[0], vforked, &second, &rep);
        if (second > 0) {
          // The first child only joined and cloned the command, our child
          // too (CLONE_PARENT); it has exited. Hold the command instead.
          if (!gated) Reap();
          out_.pid = second;
          out_.pidfd = Fault("pidfd_open") ? -1 : static_cast<int>(syscall(SYS_pidfd_open, second, 0));
          if (out_.pidfd < 0) {
            ParentFail(errno, "pidfd_open", "clone");
            kill(second, SIGKILL);
            waitpid(second, nullptr, __WALL);
          }
        }
        if (failed) {
          out_.err = rep.err;
          out_.op = rep.op;
          out_.kind = rep.kind;
          if (out_.pidfd >= 0) Reap();
        } else if (out_.err == 0 && !p->progress->exec) {
          Died(Reap(), p->progress->op);
        } else if (gated && second <= 0) {
          // EOF with no word of a command: the gate is gone (killed, or its
          // sandbox closing), or refused a message it could not read.
          ParentFail(ECONNRESET, "recvmsg", "enter the sandbox through its gate (no answer)");
        }
        // The pair would go with the child's namespace, but only once the
        // kernel's cleanup worker gets to it: leave nothing, now.
        if (out_.err != 0 && (veth_made_ || ChildMadeVeth())) DeleteVeth();
      }
    }
    if (syncp[1] >= 0) close(syncp[1]);
    close(errp[0]);
    if (out_.err != 0) Unpersist();
    // Copied now: the page is this thread's, and its next spawn reuses it.
    if (out_.err != 0 && out_.op >= 0 && p->progress) out_.fs_log.assign(p->progress->fs_log, strnlen(p->progress->fs_log, kFsLogSize - 1));
    if (out_.err != 0 && out_.proxy_fd >= 0) {
      close(out_.proxy_fd);
      out_.proxy_fd = -1;
    }
  }

 private:
  std::unique_ptr<Plan> plan_;
  Outcome out_;
  std::vector<int> extra_fds_;
  int self_pidfd_ = -1;
  std::vector<int> trees_;  // MakeTrees's, in plan order; -1 for an optional source found missing
  bool veth_made_ = false;  // ours to delete if a later step fails
  size_t persisted_ = 0;  // Plan::persist entries bound so far (pairs), ours to undo if a later step fails
};

class SpawnWorker : public Napi::AsyncWorker {
 public:
  SpawnWorker(Napi::Env env, std::unique_ptr<Plan> plan, napi_deferred deferred)
      : Napi::AsyncWorker(env, "nsjs.spawn"), spawner_(std::move(plan)), deferred_(deferred) {}

  void Execute() override { spawner_.Spawn(); }
  // A worker thread being terminated gets here with JS disallowed (Node
  // finishes pending work before its cleanup hooks): the promise can no
  // longer settle and nobody will ever hold the child, so it is killed and
  // reaped rather than left running unowned.
  void OnOK() override {
    if (napi_resolve_deferred(Env(), deferred_, spawner_.Result(Env())) != napi_ok) spawner_.Abandon();
  }

 private:
  Spawner spawner_;
  napi_deferred deferred_;
};

std::unique_ptr<Plan> ParsePlan(const Napi::CallbackInfo& info) {
  auto plan = std::make_unique<Plan>();
  std::string why;
  if (!plan->Parse(info[0], info[1], info[2], &why)) {
    Napi::Error::New(info.Env(), "nsjs internal error: bad spawn plan: " + why).ThrowAsJavaScriptException();
    return nullptr;
  }
  return plan;
}

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  auto plan = ParsePlan(info);
  if (!plan) return info.Env().Undefined();
  napi_deferred deferred;
  napi_value promise;
  if (napi_create_promise(info.Env(), &deferred, &promise) != napi_ok) return info.Env().Undefined();  // its error is pending
  auto* worker = new SpawnWorker(info.Env(), std::move(plan), deferred);
  worker->Queue();
  return Napi::Value(info.Env(), promise);
}

// On the calling thread, for Namespace.create(), which is synchronous like
// the rest of Namespace; its holder process needs no setup worth a worker.
Napi::Value SpawnSync(const Napi::CallbackInfo& info) {
  auto plan = ParsePlan(info);
  if (!plan) return info.Env().Undefined();
  Spawner spawner(std::move(plan));
  spawner.Spawn();
  return spawner.Result(info.Env());
}

// stdio pipes: both ends O_CLOEXEC; the child dup2s its end into place.
// (nonblock) for a pipe whose reader must never wait, such as init's status.
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | (info[0].ToBoolean().Value() ? O_NONBLOCK : 0)) < 0) return Result(info.Env(), -1);
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, fds[0]);
  a.Set(1u, fds[1]);
  return a;
}

}  // namespace
}  // namespace spawn

void InitSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, spawn::Spawn, "spawn"));
  exports.Set("spawnSync", Napi::Function::New(env, spawn::SpawnSync, "spawnSync"));
  exports.Set("pipe", Napi::Function::New(env, spawn::Pipe, "pipe"));
#ifdef NSJS_FAULT_INJECTION
  exports.Set("faultInjection", Napi::Boolean::New(env, true));
#endif
}

}  // namespace nsjs

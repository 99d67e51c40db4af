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
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "../common.h"
#include "plan.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

// clone3 with a child stack needs a trampoline: the child starts on the new
// stack and cannot return into the caller's frame. (rdi/x0 = args, rsi/x1 =
// size, rdx/x2 = fn, rcx/x3 = arg; returns the raw result, -errno on failure.)
extern "C" long nsjs_clone3(void* args, size_t size, int (*fn)(void*), void* arg);
#if defined(__x86_64__)
#define NSJS_HAVE_CLONE3_TRAMPOLINE 1
asm(R"(
  .text
  .globl nsjs_clone3
  .hidden nsjs_clone3
  .type nsjs_clone3,@function
nsjs_clone3:
  mov %rdx, %r8
  mov %rcx, %r9
  mov $435, %eax
  syscall
  test %rax, %rax
  jnz 1f
  xor %ebp, %ebp
  mov %r9, %rdi
  call *%r8
  mov %eax, %edi
  mov $231, %eax
  syscall
  hlt
1:
  ret
  .size nsjs_clone3, .-nsjs_clone3
  .section .note.GNU-stack,"",@progbits
  .text
)");
#elif defined(__aarch64__)
#define NSJS_HAVE_CLONE3_TRAMPOLINE 1
asm(R"(
  .text
  .globl nsjs_clone3
  .hidden nsjs_clone3
  .type nsjs_clone3,%function
nsjs_clone3:
  mov x8, #435
  svc #0
  cbnz x0, 1f
  mov x0, x3
  blr x2
  mov x8, #94
  svc #0
1:
  ret
  .size nsjs_clone3, .-nsjs_clone3
  .section .note.GNU-stack,"",%progbits
  .text
)");
#endif

namespace nsjs {
namespace spawn {
namespace {

constexpr size_t kStackSize = 256 * 1024;

struct Outcome {
  int pid = -1;
  int pidfd = -1;
  int err = 0;            // positive errno, 0 on success
  int op = -1;            // index of the failing op (child failures)
  int kind = 0;           // its kind
  const char* syscall = nullptr;  // parent-side failures
  const char* step = nullptr;
  std::string path;
};

class SpawnWorker : public Napi::AsyncWorker {
 public:
  SpawnWorker(Napi::Env env, std::unique_ptr<Plan> plan)
      : Napi::AsyncWorker(env, "nsjs.spawn"), plan_(std::move(plan)), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { Spawn(); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object r = Napi::Object::New(env);
    if (out_.err == 0) {
      r.Set("pid", out_.pid);
      r.Set("pidfd", out_.pidfd);
    } else {
      r.Set("errno", -out_.err);
      if (out_.op >= 0) {
        r.Set("op", out_.op);
        r.Set("kind", out_.kind);
      } else {
        r.Set("syscall", out_.syscall);
        r.Set("step", out_.step);
        if (!out_.path.empty()) r.Set("path", out_.path);
      }
    }
    deferred_.Resolve(r);
  }

 private:
  void ParentFail(int err, const char* sys, const char* step, std::string path = {}) {
    out_.err = err;
    out_.syscall = sys;
    out_.step = step;
    out_.path = std::move(path);
  }

  long Clone(uint64_t flags, void* stack) {
    Plan* p = plan_.get();
#ifdef NSJS_HAVE_CLONE3_TRAMPOLINE
    if (!p->force_clone) {
      clone_args args;
      memset(&args, 0, sizeof args);
      args.flags = flags | CLONE_PIDFD;
      args.pidfd = reinterpret_cast<uint64_t>(&out_.pidfd);
      args.exit_signal = SIGCHLD;
      args.stack = reinterpret_cast<uint64_t>(stack);
      args.stack_size = kStackSize;
      p->via_clone3 = true;
      const long r = nsjs_clone3(&args, sizeof args, ChildMain, p);
      if (r != -ENOSYS) {
        if (r < 0) ParentFail(static_cast<int>(-r), "clone3", "clone");
        return r;
      }
    }
#endif
    // clone3 refused (Docker's default seccomp profile, kernels before 5.3):
    // clone(2) has no room for CLONE_NEWTIME (its low byte is the exit
    // signal), so the child unshares the time namespace itself, and the
    // pidfd comes from pidfd_open; our unreaped child's pid cannot be reused.
    p->via_clone3 = false;
    const int pid = clone(ChildMain, static_cast<char*>(stack) + kStackSize,
                          static_cast<int>(flags & ~uint64_t{CLONE_NEWTIME}) | SIGCHLD, p);
    if (pid < 0) {
      ParentFail(errno, "clone", "clone");
      return -1;
    }
    out_.pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (out_.pidfd < 0) {
      const int err = errno;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);  // reaps only this pid
      ParentFail(err, "pidfd_open", "clone");
      return -1;
    }
    return pid;
  }

  // Writes setgroups/uid_map/gid_map of the child's new user namespace.
  bool WriteMaps(int pid) {
    const struct {
      const char* file;
      const std::string& data;
      const char* step;
    } files[] = {{"setgroups", plan_->setgroups, "write setgroups"},
                 {"uid_map", plan_->uid_map, "write uid_map"},
                 {"gid_map", plan_->gid_map, "write gid_map"}};
    for (const auto& f : files) {
      if (f.data.empty()) continue;
      const std::string path = "/proc/" + std::to_string(pid) + "/" + f.file;
      const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) {
        ParentFail(errno, "open", f.step, path);
        return false;
      }
      const ssize_t n = write(fd, f.data.data(), f.data.size());
      const int err = errno;
      close(fd);
      if (n != static_cast<ssize_t>(f.data.size())) {
        ParentFail(n < 0 ? err : EIO, "write", f.step, path);
        return false;
      }
    }
    return true;
  }

  // Reads the child's report. EOF (or, after a vfork-style clone, an empty
  // pipe whose write end some concurrent spawn's child briefly inherited)
  // means execve succeeded.
  bool ReadReport(int fd, bool vforked, Report* r) {
    for (;;) {
      if (!vforked) {
        // The pidfd turns readable when the child dies, so a write end held
        // open by another spawn's child cannot keep us here.
        pollfd fds[2] = {{fd, POLLIN, 0}, {out_.pidfd, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
          if (errno == EINTR) continue;
          return false;
        }
      }
      const ssize_t n = read(fd, r, sizeof *r);
      if (n < 0 && errno == EINTR) continue;
      return n == static_cast<ssize_t>(sizeof *r);
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

  void Reap() {
    siginfo_t si;
    while (waitid(static_cast<idtype_t>(P_PIDFD), out_.pidfd, &si, WEXITED) < 0 && errno == EINTR) {
    }
    close(out_.pidfd);
    out_.pidfd = -1;
    out_.pid = -1;
  }

  void Spawn() {
    Plan* p = plan_.get();
    const bool vfork = !p->parent_maps;
    int errp[2], syncp[2] = {-1, -1};
    if (pipe2(errp, O_CLOEXEC | (vfork ? O_NONBLOCK : 0)) < 0) return ParentFail(errno, "pipe2", "clone");
    if (p->parent_maps && pipe2(syncp, O_CLOEXEC) < 0) {
      ParentFail(errno, "pipe2", "clone");
      close(errp[0]);
      close(errp[1]);
      return;
    }
    // The child installs stdio over fds 0..n-1; its own fds must sit above.
    p->err_fd = AboveStdio(errp[1]);
    p->sync_fd = AboveStdio(syncp[0]);
    // A pidfd on ourselves, polled by the child after PR_SET_PDEATHSIG to
    // catch a parent that died before the prctl.
    if (p->die_with_parent) {
      self_pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
      p->parent_pidfd = AboveStdio(self_pidfd_);
    }
    // The child's O_NONBLOCK write end is harmless: a Report never fills a pipe.
    void* stack = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    long pid = -1;
    if (stack == MAP_FAILED) {
      ParentFail(errno, "mmap", "clone");
    } else {
      // No handler of Node's may run in the child before it resets them.
      sigset_t all, old;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &old);
      pid = Clone(p->clone_flags | (vfork ? CLONE_VM | CLONE_VFORK : 0), stack);
      pthread_sigmask(SIG_SETMASK, &old, nullptr);
      // After a vfork-style clone the child has exec'd or exited by now; after
      // a fork-style one it has its own copy of the stack.
      munmap(stack, kStackSize);
    }
    // Only the child may hold the write end now, or EOF would never come.
    close(errp[1]);
    if (syncp[0] >= 0) close(syncp[0]);
    for (int fd : extra_fds_) close(fd);
    if (self_pidfd_ >= 0) close(self_pidfd_);
    if (pid >= 0) {
      out_.pid = static_cast<int>(pid);
      if (p->parent_maps) {
        const bool ok = WriteMaps(out_.pid);
        // One byte lets the child go on; closing without it makes it exit.
        if (ok && write(syncp[1], "", 1) != 1) ParentFail(errno, "write", "sync");
      }
      Report rep{};
      if (out_.err != 0) {
        syscall(SYS_pidfd_send_signal, out_.pidfd, SIGKILL, nullptr, 0);
        Reap();
      } else if (ReadReport(errp[0], vfork, &rep)) {
        out_.err = rep.err;
        out_.op = rep.op;
        out_.kind = rep.kind;
        Reap();
      }
    }
    if (syncp[1] >= 0) close(syncp[1]);
    close(errp[0]);
  }

  std::unique_ptr<Plan> plan_;
  Napi::Promise::Deferred deferred_;
  Outcome out_;
  std::vector<int> extra_fds_;
  int self_pidfd_ = -1;
};

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  auto plan = std::make_unique<Plan>();
  std::string why;
  if (!info[0].IsObject() || !plan->Parse(info[0].As<Napi::Object>(), &why)) {
    Napi::Error::New(info.Env(), "nsjs internal error: bad spawn plan: " + why).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto* worker = new SpawnWorker(info.Env(), std::move(plan));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// stdio pipes: both ends O_CLOEXEC; the child dup2s its end into place.
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return Result(info.Env(), -1);
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, fds[0]);
  a.Set(1u, fds[1]);
  return a;
}

}  // namespace
}  // namespace spawn

void InitSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, spawn::Spawn, "spawn"));
  exports.Set("pipe", Napi::Function::New(env, spawn::Pipe, "pipe"));
}

}  // namespace nsjs

// CloneWithStack (plan.h): the clone both the addon's spawn (parent.cc) and
// nsjs-init --enter (sandbox/enter.cc) start their children with, and the
// first child again for kOpFork (child.cc).
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pidfd.h"
#include "plan.h"

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

// async-signal-safe (it also runs in the first child, for kOpFork).
long CloneWithStack(uint64_t flags, void* stack, int* pidfd, int (*fn)(void*), void* arg, bool force_clone,
                    bool* via_clone3, int cgroup_fd, bool* into_cgroup) {
  if (into_cgroup) *into_cgroup = false;
#ifdef NSJS_HAVE_CLONE3_TRAMPOLINE
  if (!force_clone) {
    clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = flags | (pidfd ? CLONE_PIDFD : 0);
    args.pidfd = reinterpret_cast<uint64_t>(pidfd);
    // With CLONE_PARENT the kernel takes the exit signal from the caller.
    args.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
    args.stack = reinterpret_cast<uint64_t>(stack);
    args.stack_size = kStackSize;
    *via_clone3 = true;
    long r = -ENOSYS;
    bool call = true;
    if (into_cgroup && cgroup_fd >= 0) {
      // Set before the call: the child sees the value the call was made with.
      *into_cgroup = true;
      args.flags |= CLONE_INTO_CGROUP;
      args.cgroup = static_cast<uint64_t>(cgroup_fd);
      r = nsjs_clone3(&args, sizeof args, fn, arg);
      // E2BIG: a kernel before 5.7, whose clone_args ends before .cgroup;
      // then the child's kOpCgroupJoin places it, as after clone(2).
      if (r != -ENOSYS && r != -E2BIG) return r;
      *into_cgroup = false;
      args.flags &= ~static_cast<uint64_t>(CLONE_INTO_CGROUP);
      args.cgroup = 0;
      call = r == -E2BIG;
    }
    if (call) r = nsjs_clone3(&args, sizeof args, fn, arg);
    if (r != -ENOSYS) return r;
  }
#endif
  // clone3 refused (Docker's default seccomp profile, kernels before 5.3):
  // clone(2) has no room for CLONE_NEWTIME (its low byte is the exit
  // signal), so the child unshares the time namespace itself, and the
  // pidfd comes from pidfd_open; our unreaped child's pid cannot be reused.
  *via_clone3 = false;
  const int exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
  const int pid = clone(fn, static_cast<char*>(stack) + kStackSize,
                        static_cast<int>(flags & ~uint64_t{CLONE_NEWTIME}) | exit_signal, arg);
  if (pid < 0) return -errno;
  if (pidfd) {
    *pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (*pidfd < 0) {
      const int err = errno;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, __WALL);  // reaps only this pid
      return -err;
    }
  }
  return pid;
}

}  // namespace spawn
}  // namespace nsjs

// init.cc's PID-1 mode (`ERRFD STATUSFD EXECOP NPATHS PATH... -- ARGV...`)
// and --hold without glibc, on x86-64 and arm64: the whole of nsjs-pid1
// (with pid1.cc), which init: true and --hold run instead of nsjs-init.
//
// Why: a static glibc executable's start-up probes the CPU (init_cpu_features
// and the cache geometry, handle_amd/intel_check_word: a few dozen CPUID
// instructions), and under a hypervisor every CPUID is a VM exit. Measured
// on the 2-core VM of this project (perf stat, 200 runs): `mini e /bin/true`,
// a static glibc program that only execs, takes 1.05 ms of CPU against 0.61
// ms for the same program without libc, 0.43 ms for /bin/true alone; most
// of its profile is handle_amd, update_active and get_common_indices. That
// start-up was most of what `init: true` added to a spawn. Here the entry
// point (linked with -e nsjs_init_entry) looks at argv: the PID-1 mode and
// --hold (Sandbox.create(), Namespace.create(), features()) run below on
// raw system calls; anything else jumps to _start with the registers and
// stack the kernel gave us (pid1.cc's: the usage message).
//
// The code below runs with no TLS and no libc: raw system calls only
// (../raw_syscall.h), no call into libc (not even a memset the compiler
// might emit: nothing here copies or clears an array, and nsjs-pid1 is
// linked -nostdlib), no stack protector (its canary is in TLS).
// test/unit/init/fast.test.ts follows every call from the entry in the
// built binary to check it.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdint>

#include "../raw_syscall.h"

#if defined(NSJS_HAVE_RAW_SYSCALL)

#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define NSJS_NO_LIBC NSJS_RAW_CHILD __attribute__((no_stack_protector))
#endif
#endif
#ifndef NSJS_NO_LIBC
#define NSJS_NO_LIBC NSJS_RAW_CHILD __attribute__((optimize("no-stack-protector")))
#endif

using nsjs::Raw;

namespace {

constexpr int32_t kOpExec = 22;  // OpKind in ../spawn/plan.h
// The command's clone shares our memory (no page tables copied) and, unlike
// a vfork, does not stop us until its execve: we close our end of ERRFD and
// wait for signals at once, so nothing of ours has to be scheduled again
// before nsjs learns that the command started (ERRFD's EOF, at its execve),
// or before it exits. Under load each such wake-up can wait for a CPU for a
// tick (bench init section, the ftrace in the note). Sharing is safe: the
// command's side (nsjs_init_command) runs on command_stack, reads the
// Command, which stays in our frame (nsjs_init_fast never returns), and
// writes only argv[-1] and argv[0] (the /bin/sh fallback), which we never
// read again; neither side has TLS or libc state to share. clone(2), not
// clone3, which the default seccomp policy the command runs under refuses.
// SIGCHLD: its exit signal.
constexpr long kCloneFlags = 0x00000100 /* CLONE_VM */ | SIGCHLD;

struct Command {
  int errfd, op, npaths;
  char** paths;
  char** argv;
  char** envp;
  uint64_t mask;  // the signal mask we were started with, the command's
};

// The command's stack while it shares our memory, until its execve.
alignas(16) char command_stack[16384];

// -1 unless s is a decimal below 2^30 (init.cc's ParseFd).
NSJS_NO_LIBC int Number(const char* s) {
  if (!*s) return -1;
  long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (*s - '0');
    if (v >= 1L << 30) return -1;
  }
  return static_cast<int>(v);
}

NSJS_NO_LIBC bool IsDashDash(const char* s) { return s[0] == '-' && s[1] == '-' && s[2] == 0; }

[[noreturn]] NSJS_NO_LIBC void Exit(long code) {
  for (;;) Raw(SYS_exit_group, code);
}

}  // namespace

// The clone of the command, on command_stack: x = the stack's top, y = the Command.
extern "C" long nsjs_init_clone(char* stack_top, const Command* command);
extern "C" [[noreturn]] void nsjs_init_command(const Command* c);
extern "C" void nsjs_init_fast(long* sp);

// async-signal-safe. init.cc's RunCommand: the dispositions need no reset
// (the spawn child set every one to default before it exec'd us, and the
// PID-1 mode sets none), the mask goes back to what it was. It runs beside
// nsjs_init_fast on the same memory (kCloneFlags).
extern "C" [[noreturn]] NSJS_NO_LIBC void nsjs_init_command(const Command* c) {
  Raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&c->mask), 0, sizeof c->mask);
  bool denied = false;
  long err = ENOENT;
  for (int i = 0; i < c->npaths; i++) {
    const long r = Raw(SYS_execve, reinterpret_cast<long>(c->paths[i]), reinterpret_cast<long>(c->argv), reinterpret_cast<long>(c->envp));
    if (r == -ENOEXEC) {
      // execvp's fallback: a script for /bin/sh. argv[-1] is our "--".
      c->argv[-1] = const_cast<char*>("/bin/sh");
      c->argv[0] = c->paths[i];
      Raw(SYS_execve, reinterpret_cast<long>(c->argv[-1]), reinterpret_cast<long>(c->argv - 1), reinterpret_cast<long>(c->envp));
      err = ENOEXEC;
      break;
    }
    if (r == -EACCES) denied = true;
    else if (r != -ENOENT && r != -ENOTDIR) {
      err = -r;
      break;
    }
  }
  if (err == ENOENT && denied) err = EACCES;
  const int32_t report[3] = {kOpExec, c->op, static_cast<int32_t>(err)};
  Raw(SYS_write, c->errfd, reinterpret_cast<long>(report), sizeof report);
  Exit(127);
}

namespace {

// init.cc's --hold: SIGCHLD ignored (the kernel reaps what is orphaned to
// us), then stdin read until EOF.
[[noreturn]] NSJS_NO_LIBC void Hold() {
  // A kernel sigaction: handler SIG_IGN, then flags, restorer and mask, all 0.
  const unsigned long ignore[4] = {1, 0, 0, 0};
  if (Raw(SYS_rt_sigaction, SIGCHLD, reinterpret_cast<long>(ignore), 0, 8) < 0) Exit(1);
  char buf[64];
  long n;
  while ((n = Raw(SYS_read, 0, reinterpret_cast<long>(buf), sizeof buf)) > 0 || n == -EINTR) {
  }
  Exit(0);
}

}  // namespace

// Returns only when argv is not the PID-1 mode's or --hold's; init.cc's
// main has the same checks and the same loops.
extern "C" NSJS_NO_LIBC void nsjs_init_fast(long* sp) {
  const long argc = sp[0];
  char** argv = reinterpret_cast<char**>(sp + 1);
  if (argc == 2 && argv[1][0] == '-' && argv[1][1] == '-' && argv[1][2] == 'h' && argv[1][3] == 'o' && argv[1][4] == 'l' &&
      argv[1][5] == 'd' && argv[1][6] == 0) {
    Raw(SYS_prctl, PR_SET_NAME, reinterpret_cast<long>("nsjs-init"));
    Hold();
  }
  if (argc < 6 || argv[1][0] < '0' || argv[1][0] > '9') return;
  const int errfd = Number(argv[1]), statusfd = Number(argv[2]), op = Number(argv[3]), npaths = Number(argv[4]);
  if (errfd < 0 || statusfd < 0 || op < 0 || npaths < 1 || 5 + npaths >= argc || !IsDashDash(argv[5 + npaths]) || !argv[6 + npaths])
    return;
  Command c{errfd, op, npaths, argv + 5, argv + 6 + npaths, argv + argc + 1, 0};
  Raw(SYS_prctl, PR_SET_NAME, reinterpret_cast<long>("nsjs-init"));
  // Neither pipe may reach the command; ERRFD reaches it only until execve.
  Raw(SYS_fcntl, errfd, F_SETFD, FD_CLOEXEC);
  Raw(SYS_fcntl, statusfd, F_SETFD, FD_CLOEXEC);
  // Every signal waits in the queue for rt_sigtimedwait; a blocked signal
  // counts as handled, so the kernel delivers it to pid 1 instead of
  // dropping it.
  const uint64_t all = ~uint64_t{0};
  Raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&all), reinterpret_cast<long>(&c.mask), sizeof all);
  const long child = nsjs_init_clone(command_stack + sizeof command_stack, &c);
  if (child < 0) {
    const int32_t report[3] = {kOpExec, op, static_cast<int32_t>(-child)};
    Raw(SYS_write, errfd, reinterpret_cast<long>(report), sizeof report);
    Exit(127);
  }
  Raw(SYS_close, errfd);  // now only the command holds it, until its execve
  for (;;) {
    alignas(8) char info[128];  // siginfo_t; its signal is the result
    const long sig = Raw(SYS_rt_sigtimedwait, reinterpret_cast<long>(&all), reinterpret_cast<long>(info), 0, sizeof all);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      // Forwarded as is; SIGSTOP/SIGKILL cannot reach us from inside anyway.
      Raw(SYS_kill, child, sig);
      continue;
    }
    int status;
    long pid;
    while ((pid = Raw(SYS_wait4, -1, reinterpret_cast<long>(&status), 1 /* WNOHANG */, 0)) > 0) {
      if (pid != child) continue;  // an orphan reparented to us
      Raw(SYS_write, statusfd, reinterpret_cast<long>(&status), sizeof status);
      // When pid 1 exits the kernel kills what is left in the namespace.
      const int termsig = status & 0x7f;
      Exit(termsig == 0 ? (status >> 8) & 0xff : 128 + termsig);
    }
  }
}

// The entry point: the kernel's stack pointer (argc, argv..., envp...) to
// nsjs_init_fast, and if it returns, _start with what the kernel gave it
// (rdx/x0, a static executable's rtld_fini, 0).
// nsjs_init_clone: clone(2) onto a stack of our own, where the child calls
// nsjs_init_command and never returns (a direct call, no function pointer).
#if defined(__x86_64__)
asm(R"(
  .text
  .globl nsjs_init_entry
  .hidden nsjs_init_entry
  .type nsjs_init_entry,@function
nsjs_init_entry:
  mov %rsp, %rbx
  mov %rsp, %rdi
  call nsjs_init_fast
  mov %rbx, %rsp
  xor %ebx, %ebx
  xor %edx, %edx
  jmp _start
  .size nsjs_init_entry, .-nsjs_init_entry

  .globl nsjs_init_clone
  .hidden nsjs_init_clone
  .type nsjs_init_clone,@function
nsjs_init_clone:
  mov %rsi, %r9
  mov %rdi, %rsi
  mov $0x111, %edi
  xor %edx, %edx
  xor %r10d, %r10d
  xor %r8d, %r8d
  mov $56, %eax
  syscall
  test %rax, %rax
  jnz 1f
  xor %ebp, %ebp
  mov %r9, %rdi
  call nsjs_init_command
  hlt
1:
  ret
  .size nsjs_init_clone, .-nsjs_init_clone
  .section .note.GNU-stack,"",@progbits
  .text
)");
#elif defined(__aarch64__)
asm(R"(
  .text
  .globl nsjs_init_entry
  .hidden nsjs_init_entry
  .type nsjs_init_entry,%function
nsjs_init_entry:
  mov x0, sp
  bl nsjs_init_fast
  mov x0, #0
  mov x30, #0
  b _start
  .size nsjs_init_entry, .-nsjs_init_entry

  .globl nsjs_init_clone
  .hidden nsjs_init_clone
  .type nsjs_init_clone,%function
nsjs_init_clone:
  mov x10, x1
  mov x1, x0
  mov x0, #0x111
  mov x2, xzr
  mov x3, xzr
  mov x4, xzr
  mov x8, #220
  svc #0
  cbnz x0, 1f
  mov x0, x10
  bl nsjs_init_command
  brk #0
1:
  ret
  .size nsjs_init_clone, .-nsjs_init_clone
  .section .note.GNU-stack,"",%progbits
  .text
)");
#endif
static_assert(kCloneFlags == 0x111, "nsjs_init_clone's flags");

#endif  // NSJS_HAVE_RAW_SYSCALL

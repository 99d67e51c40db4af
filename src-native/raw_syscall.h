// System calls without libc: no errno, no TLS, no sanitizer runtime. For
// code that runs where glibc's per-thread state is someone else's (the
// first child of a sandbox command, sandbox/enter.cc) or not set up yet
// (nsjs-init's PID-1 start-up, init/fast.cc). Raw returns the kernel's
// result: >= 0, or -errno.
#pragma once

#if !defined(__x86_64__) && !defined(__aarch64__)
#include <unistd.h>

#include <cerrno>
#endif

namespace nsjs {

#define NSJS_RAW_CHILD __attribute__((no_sanitize("address", "undefined")))
#if defined(__x86_64__)
#define NSJS_HAVE_RAW_SYSCALL 1
NSJS_RAW_CHILD __attribute__((always_inline)) inline long Raw(long n, long a, long b = 0, long c = 0, long d = 0, long e = 0) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return r;
}
#elif defined(__aarch64__)
#define NSJS_HAVE_RAW_SYSCALL 1
NSJS_RAW_CHILD __attribute__((always_inline)) inline long Raw(long n, long a, long b = 0, long c = 0, long d = 0, long e = 0) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
}
#else
// Through libc where we have no inline system call: callers that must not
// touch errno (sandbox/enter.cc) are vfork-style there, and nsjs-init keeps
// glibc's start-up.
inline long Raw(long n, long a, long b = 0, long c = 0, long d = 0, long e = 0) {
  const long r = syscall(n, a, b, c, d, e);
  return r < 0 ? -errno : r;
}
#endif

}  // namespace nsjs

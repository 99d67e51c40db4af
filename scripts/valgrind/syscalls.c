// Preloaded into node under valgrind only (scripts/test-valgrind.mjs).
//
// 1. Runs, natively, the few syscalls nsjs needs that valgrind answers ENOSYS
// without trying them (valgrind 3.19, Debian 12's: pidfd_open,
// pidfd_send_signal, mount_setattr; 3.24 still lacks the last two). Without
// it no spawn gets past the clone: nsjs holds every child by a pidfd. And
// execveat, which valgrind 3.19 fails with ENOENT for the sealed memfd copy
// of nsjs-init (an fd with AT_EMPTY_PATH): natively it replaces the child as
// --trace-children=no would, or fails and returns.
//
// nsjs makes these calls through libc's syscall(), which this file
// interposes. VALGRIND_NON_SIMD_CALL runs `native` on the real CPU, outside
// valgrind's emulation, so the kernel sees the call. What memcheck loses:
// it does not check these calls' arguments (ints, and mount_setattr's
// struct mount_attr) and does not learn of the pidfd as an open fd. Every
// other syscall goes to libc's syscall() as usual.
//
// 2. Makes _exit in a forked copy of node (nsjs's child after a failed step,
// the first child after a join; libuv's child after a failed exec) end the
// process at once, natively. valgrind would otherwise run its exit-time leak
// check there: seconds per failed spawn, over a copy of node whose other
// threads are gone, so that what they held is reported lost. Errors the
// child made before (invalid reads, uninitialised syscall arguments) were
// reported as they happened; only that leak check and the child's error
// summary are skipped. The process valgrind started (node itself) exits
// through exit(), not here, and gets its leak check.
//
// 3. Tells valgrind about the stacks nsjs maps for its child (mmap with
// MAP_STACK), so that errors there get a full stack trace: valgrind stops
// unwinding where the stack it knows for the thread ends.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <valgrind/valgrind.h>

#if !defined(__x86_64__)
#error "scripts/valgrind/syscalls.c: x86_64 only (the raw syscall below)"
#endif

enum { kPidfdSendSignal = 424, kPidfdOpen = 434, kMountSetattr = 442, kExecveat = 322, kGetpid = 39, kExitGroup = 231 };

// Runs natively: no libc, no memory valgrind would have to know about.
static long native(long tid, long* a) {
  (void)tid;
  long ret;
  register long r10 __asm__("r10") = a[4];
  register long r8 __asm__("r8") = a[5];
  register long r9 __asm__("r9") = a[6];
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(a[0]), "D"(a[1]), "S"(a[2]), "d"(a[3]), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

long syscall(long n, ...) {
  // As glibc's syscall(): six argument words, whether passed or not.
  long a[7] = {n};
  va_list ap;
  va_start(ap, n);
  for (int i = 1; i < 7; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  if (RUNNING_ON_VALGRIND && (n == kPidfdSendSignal || n == kPidfdOpen || n == kMountSetattr || n == kExecveat)) {
    const long r = (long)VALGRIND_NON_SIMD_CALL1(native, a);
    if (r < 0 && r > -4096) {
      errno = (int)-r;
      return -1;
    }
    return r;
  }
  static long (*real)(long, ...);
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  return real(n, a[1], a[2], a[3], a[4], a[5], a[6]);
}

static long main_pid;

__attribute__((constructor)) static void remember_main_pid(void) {
  long a[7] = {kGetpid};
  main_pid = RUNNING_ON_VALGRIND ? (long)VALGRIND_NON_SIMD_CALL1(native, a) : 0;
}

void _exit(int status) {
  long a[7] = {kGetpid};
  if (RUNNING_ON_VALGRIND && (long)VALGRIND_NON_SIMD_CALL1(native, a) != main_pid) {
    a[0] = kExitGroup;
    a[1] = status;
    VALGRIND_NON_SIMD_CALL1(native, a);
  }
  static void (*real)(int);
  if (!real) real = (void (*)(int))dlsym(RTLD_NEXT, "_exit");
  real(status);
  __builtin_unreachable();
}

// A few at a time: one per spawn in progress.
static struct {
  void* start;
  size_t length;
  unsigned id;
} stacks[64];

void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) {
  static void* (*real)(void*, size_t, int, int, int, off_t);
  if (!real) real = (void* (*)(void*, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
  void* p = real(addr, length, prot, flags, fd, offset);
  if (RUNNING_ON_VALGRIND && p != MAP_FAILED && (flags & MAP_STACK) && (prot & PROT_WRITE)) {
    for (size_t i = 0; i < sizeof stacks / sizeof *stacks; i++) {
      if (__sync_bool_compare_and_swap(&stacks[i].start, NULL, p)) {
        stacks[i].length = length;
        stacks[i].id = VALGRIND_STACK_REGISTER(p, (char*)p + length);
        break;
      }
    }
  }
  return p;
}

int munmap(void* addr, size_t length) {
  static int (*real)(void*, size_t);
  if (!real) real = (int (*)(void*, size_t))dlsym(RTLD_NEXT, "munmap");
  if (RUNNING_ON_VALGRIND && addr) {
    for (size_t i = 0; i < sizeof stacks / sizeof *stacks; i++) {
      if (stacks[i].start == addr && stacks[i].length == length) {
        VALGRIND_STACK_DEREGISTER(stacks[i].id);
        __sync_bool_compare_and_swap(&stacks[i].start, addr, NULL);
        break;
      }
    }
  }
  return real(addr, length);
}

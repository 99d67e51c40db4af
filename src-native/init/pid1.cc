// nsjs-pid1: init/fast.cc alone, as a freestanding static executable of a
// few KiB (no libc: -nostdlib), for init: true's PID 1 and --hold. What the
// kernel maps and faults at its exec is then one page of code and its bss,
// not nsjs-init's 880 KiB of glibc in four segments (fast.cc never touches
// them): measured on this project's VM, a vfork + exec + exit of
// `nsjs-init --hold` 120.6 us against 98.6 us for nsjs-pid1 and 94.8 us for
// a static program that only exits (medians, load 3.5). nsjs-init keeps
// --enter and --park, which need glibc.
//
// fast.cc's entry jumps to _start for any argv that is not the PID-1 mode's
// or --hold's: here that is init.cc's usage message and status 2.
#include <sys/syscall.h>

#include "../raw_syscall.h"

#if defined(NSJS_HAVE_RAW_SYSCALL)
// Reached by a jump from the kernel's entry stack, 16-byte aligned, where a
// called function expects 8 more on x86-64.
#if defined(__x86_64__)
#define NSJS_ENTRY_ALIGN __attribute__((force_align_arg_pointer))
#else
#define NSJS_ENTRY_ALIGN
#endif
extern "C" [[noreturn]] NSJS_RAW_CHILD NSJS_ENTRY_ALIGN void _start() {
  static const char msg[] = "nsjs-init: started by nsjs only (ERRFD STATUSFD EXECOP NPATHS PATH... -- ARGV... | --hold)\n";
  nsjs::Raw(SYS_write, 2, reinterpret_cast<long>(msg), sizeof msg - 1);
  for (;;) nsjs::Raw(SYS_exit_group, 2);
}
#endif

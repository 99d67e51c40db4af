// The pidfd numbers, flags and the PIDFD_GET_INFO struct that the system
// headers may lack: glibc and the uapi headers lag the kernel.
#pragma once

#include <sys/ioctl.h>
#include <sys/syscall.h>

#include <cstdint>

// The same numbers on every architecture (the unified table from 424 on).
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

// PIDFD_GET_INFO (Linux 6.13; PIDFD_INFO_EXIT 6.15): the ioctl and its
// struct (PIDFD_INFO_SIZE_VER0).
struct NsjsPidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
};
static_assert(sizeof(NsjsPidfdInfo) == 64, "PIDFD_INFO_SIZE_VER0");
#define NSJS_PIDFD_GET_INFO _IOWR(0xFF, 11, NsjsPidfdInfo)
#define NSJS_PIDFD_INFO_EXIT (1UL << 3)

// The binaries of ours that a child execs (nsjs-init: PID 1 with init: true,
// the --hold helper of Namespace.create() and features()) run from a sealed
// memfd copy, never from the package's file. A program inside reaches a
// running executable through /proc/<pid>/exe, and once that process has
// dropped its memory (init exiting, before the namespace dies) reopens it
// for writing: the next sandbox, Namespace.create() and features() would run
// its trojan, as root with every capability (runc CVE-2019-5736). Through the
// copy it reaches only a memfd whose seals refuse every write, and the file
// is not reachable at all. As runc's exeseal and crun do; the copy is made
// once per process (worker threads share it, hence the lock) and kept open.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "../common.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#endif
#ifndef F_SEAL_SEAL
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

namespace nsjs {
namespace {

struct Copy {
  std::string path;
  int fd;
};

std::mutex copies_lock;
// Never destroyed: a worker may still look one up while the process exits.
std::vector<Copy>& Copies() {
  static auto* copies = new std::vector<Copy>;
  return *copies;
}

bool KernelAtLeast(int major, int minor) {
  utsname u;
  int ma = 0, mi = 0;
  return uname(&u) == 0 && sscanf(u.release, "%d.%d", &ma, &mi) == 2 && (ma > major || (ma == major && mi >= minor));
}

struct Failure {
  int err = 0;
  const char* syscall = nullptr;
};

// Test builds (NSJS_FAULT_INJECTION): true, with errno set, when `fault`
// (the parent step of NSJS_TEST_FAULT_AT) names this step.
bool Fault(const std::string& fault, const char* step) {
#ifdef NSJS_FAULT_INJECTION
  if (fault == step) {
    errno = EIO;
    return true;
  }
#else
  (void)fault;
  (void)step;
#endif
  return false;
}

int MakeCopy(const std::string& path, const std::string& fault, Failure* failure) {
  int src = -1, fd = -1;
  auto fail = [&](const char* syscall) {
    failure->err = errno;
    failure->syscall = syscall;
    if (src >= 0) close(src);
    if (fd >= 0) close(fd);
    return -1;
  };
  src = Fault(fault, "open nsjs-init") ? -1 : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return fail("open");
  struct stat st;
  if (fstat(src, &st) < 0) return fail("fstat");
  // MFD_EXEC (Linux 6.3) keeps the copy executable where vm.memfd_noexec=1
  // would seal it noexec; older kernels refuse the flag (EINVAL).
  const unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  fd = Fault(fault, "memfd_create") ? -1 : static_cast<int>(syscall(SYS_memfd_create, "nsjs-init", flags | MFD_EXEC));
  if (fd < 0 && errno == EINVAL) fd = static_cast<int>(syscall(SYS_memfd_create, "nsjs-init", flags));
  if (fd < 0) return fail("memfd_create");
  for (off_t done = 0; done < st.st_size;) {
    const ssize_t n = Fault(fault, "sendfile") ? -1 : sendfile(fd, src, &done, static_cast<size_t>(st.st_size - done));
    if (n == 0) errno = EIO;  // the file shrank under us
    if (n <= 0 && errno != EINTR) return fail("sendfile");
  }
  // No write bit: without CAP_DAC_OVERRIDE (or CAP_FOWNER to chmod it back)
  // even the owner's uid cannot open it for writing; the seals hold anyway.
  if (Fault(fault, "fchmod") || fchmod(fd, 0555) < 0) return fail("fchmod");
  // Extra seals where the kernel has them. F_SEAL_FUTURE_WRITE adds nothing
  // to F_SEAL_WRITE, and before 5.5 it made private mappings (an ELF's data
  // segment) refuse writes too (kernel 05d351102dbe): only from 5.5 on.
  // F_SEAL_EXEC (6.3) pins the mode's exec bits.
  if (KernelAtLeast(5, 5)) (void)fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE);
  (void)fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC);
  if (Fault(fault, "F_ADD_SEALS") || fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return fail("fcntl");
  close(src);
  return fd;
}

// sealedCopy(path, fault?): the fd of the sealed copy of path (made on the
// first call), or { errno, syscall }.
Napi::Value SealedCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = Str(info[0]);
  const std::string fault = Str(info[1]);
  std::lock_guard<std::mutex> hold(copies_lock);
  for (const Copy& c : Copies())
    if (c.path == path) return Napi::Number::New(env, c.fd);
  Failure failure;
  const int fd = MakeCopy(path, fault, &failure);
  if (fd < 0) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("errno", -failure.err);
    r.Set("syscall", failure.syscall);
    return r;
  }
  Copies().push_back({path, fd});
  return Napi::Number::New(env, fd);
}

}  // namespace

void InitExe(Napi::Env env, Napi::Object exports) {
  exports.Set("sealedCopy", Napi::Function::New(env, SealedCopy, "sealedCopy"));
}

}  // namespace nsjs

// nsjs-init: the PID 1 that spawnIsolated({ init: true }) runs in a new pid
// namespace, in the spirit of tini. A separate static executable, so the
// namespace's init costs a few hundred KiB instead of a copy of Node.
//
//   nsjs-init ERRFD STATUSFD EXECOP NPATHS PATH... -- ARGV...
//   nsjs-init --hold
//   nsjs-init --park READYFD STARTFD [--console SOCKFD] [--seccomp FILTERFD] [--propagation MSFLAGS] [--ambient MASK] [--drop-caps MASK] -- ARGV...
//   nsjs-init --enter PLANFD
//   nsjs-init --gate MASK
//
// It forks the command (pid 2), forwards every catchable signal it receives
// to it, reaps orphans, and when the command exits writes the command's raw
// wait status to STATUSFD and exits. The kernel drops signals that pid 1 has
// no handler for, and pid 1 cannot die of a signal it sends itself, so the
// status pipe is how nsjs reports { signal: 'SIGTERM' } rather than 128+n.
// A failed execve of the command is reported on ERRFD exactly as the spawn
// child reports its own failures: (kind, op index, errno).
//
// --hold keeps a new namespace alive for Namespace.create() until nsjs has
// opened it, and holds a Sandbox's namespaces until it is closed: it waits
// for EOF on stdin and exits 0. As a sandbox's PID 1 it is the parent of
// every orphan there, which SIGCHLD ignored has the kernel reap.
//
// --enter is a sandbox command's way in (sandbox/enter.cc): exec'd by a
// vfork-style child of Node, it joins the sandbox's namespaces (a user
// namespace wants a single-threaded mm, which a child sharing Node's has
// not) and runs the rest of the spawn plan read from PLANFD.
//
// --gate is the resident way in of a sandbox with a pid namespace
// (sandbox/enter.cc GateMain): it joins the holder's namespaces once and
// clones each command straight into them.
//
// --park is nsjs-oci's container init between `create` and `start`: it finds
// ARGV[0] on the container's PATH (so a missing program fails `create`, as
// the OCI spec and runc have it), writes 0 or that errno as an int to
// READYFD, then blocks reading STARTFD, a pipe whose write end it also holds
// (so no EOF comes while nsjs-oci is not running; `start` writes through
// /proc/<pid>/fd/<write end>), and on the first byte closes every fd above
// stdio but READYFD and execs; READYFD closes at the execv, or gets the
// errno (an int) of the load, the capability drop or the execv that
// failed. With --console it first opens a pty from the container's
// /dev/ptmx, makes the slave its stdio and controlling terminal, and sends
// the master over SOCKFD (connected to the caller's --console-socket) as
// runc does: one SCM_RIGHTS fd, the payload "/dev/ptmx". With --seccomp it
// reads a compiled BPF program (struct sock_filter[], nsjs-oci's
// linux.seccomp) from FILTERFD before parking and loads it after the start
// byte, between closing the fds and execv, so that the runtime makes no
// syscall under the container's profile but the execv itself (runc calls
// getcwd after its load, which runtime-tools' linux_seccomp catches).
// Without no_new_privs the load needs CAP_SYS_ADMIN: as runc, which loads
// the filter before it drops capabilities, nsjs-oci then gives the init
// CAP_SYS_ADMIN (and CAP_SETPCAP, which dropping from the bounding set
// needs) beyond the config's and names them in --drop-caps MASK (bit n is
// capability n): dropped from every set right after the load. Whether the
// load can work is checked before parking, so `create` fails, not `start`.
// --propagation sets MSFLAGS (MS_REC | MS_SHARED, ...: linux.rootfsPropagation)
// on / before parking: after pivot_root, since pivot_root refuses a shared
// new root; with CAP_SYS_ADMIN held the same way if the config drops it.
// --ambient raises MASK's capabilities (those of the permitted set) into the
// inheritable and ambient sets before parking: spawnIsolated leaves the sets
// of a uid-0 command that keeps every capability as they are, and the OCI
// config's ambient set must survive the execv.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "../fd_pass.h"
#include "../sandbox/enter.h"

namespace {

constexpr int32_t kOpExec = 22;  // OpKind in ../spawn/plan.h

struct Report {
  int32_t kind, op, err;
};

int ParseFd(const char* s) {
  char* end = nullptr;
  const long v = strtol(s, &end, 10);
  return (*s && !*end && v >= 0 && v < 1 << 30) ? static_cast<int>(v) : -1;
}

[[noreturn]] void Usage() {
  static const char msg[] = "nsjs-init: started by nsjs only (ERRFD STATUSFD EXECOP NPATHS PATH... -- ARGV...)\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(2);
}

[[noreturn]] void RunCommand(int errfd, int op, char** paths, int npaths, char** argv, const sigset_t& old) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, nullptr);
  sigprocmask(SIG_SETMASK, &old, nullptr);
  bool denied = false;
  int err = ENOENT;
  for (int i = 0; i < npaths; i++) {
    execv(paths[i], argv);
    if (errno == ENOEXEC) {
      // execvp's fallback (as the spawn child's Exec): a file the kernel
      // cannot run is a script for /bin/sh. argv[-1] is our "--", free now.
      argv[-1] = const_cast<char*>("/bin/sh");
      argv[0] = paths[i];
      execv(argv[-1], argv - 1);
      err = ENOEXEC;
      break;
    }
    if (errno == EACCES) denied = true;
    else if (errno != ENOENT && errno != ENOTDIR) {
      err = errno;
      break;
    }
  }
  if (err == ENOENT && denied) err = EACCES;
  Report r{kOpExec, op, err};
  (void)!write(errfd, &r, sizeof r);
  _exit(127);
}

// The PATH search of execvp, done before parking so that `create` can fail.
int Resolve(const char* file, char* out, size_t size) {
  if (strchr(file, '/')) {
    if (strlen(file) >= size) return ENAMETOOLONG;
    strcpy(out, file);
    return access(out, X_OK) == 0 ? 0 : errno;
  }
  const char* path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int err = ENOENT;
  for (const char* p = path;; p++) {
    const char* end = strchrnul(p, ':');
    const size_t len = static_cast<size_t>(end - p);
    if (len + strlen(file) + 2 <= size) {
      memcpy(out, p, len);
      out[len] = '/';
      strcpy(out + len + 1, file);
      if (access(out, X_OK) == 0) return 0;
      if (errno == EACCES) err = EACCES;
    }
    if (!*end) return err;
    p = end;
  }
}

// 0, or the errno of the step that failed.
int Console(int sockfd) {
  const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return errno;
  char name[128];
  int slave = -1;
  if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0 || (slave = open(name, O_RDWR | O_NOCTTY)) < 0 ||
      ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) {
    const int err = errno;
    close(master);
    if (slave > 2) close(slave);
    return err;
  }
  if (slave > 2) close(slave);
  static const char payload[] = "/dev/ptmx";
  const int err = -nsjs::SendWithFd(sockfd, master, payload, sizeof payload - 1);
  close(master);
  close(sockfd);
  return err;
}

// The kernel's BPF_MAXINSNS, one more to see a longer program.
sock_filter filter[BPF_MAXINSNS + 1];
sock_fprog program{};

// 0, or why the filter cannot be loaded: read from fd (then closed), and
// loadable here (no_new_privs, or CAP_SYS_ADMIN in the effective set).
int ReadFilter(int fd) {
  size_t got = 0;
  char* at = reinterpret_cast<char*>(filter);
  for (;;) {
    const ssize_t n = read(fd, at + got, sizeof filter - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) break;
    got += static_cast<size_t>(n);
    if (got == sizeof filter) return E2BIG;
  }
  close(fd);
  if (got == 0 || got % sizeof(sock_filter) != 0) return EINVAL;
  program.len = static_cast<unsigned short>(got / sizeof(sock_filter));
  program.filter = filter;
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) return 0;
  __user_cap_header_struct head{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &head, data) < 0) return errno;
  return (data[CAP_SYS_ADMIN / 32].effective & (1U << (CAP_SYS_ADMIN % 32))) ? 0 : EACCES;
}

// 0, or the errno of the step that failed: the capabilities in mask out of
// the bounding set (CAP_SETPCAP last: the others need it), then out of the
// effective, permitted and inheritable sets (ambient follows permitted).
int DropCaps(uint64_t mask) {
  for (int c = 0; c < 64; c++)
    if (c != CAP_SETPCAP && (mask >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) return errno;
  if ((mask >> CAP_SETPCAP & 1) && prctl(PR_CAPBSET_DROP, CAP_SETPCAP, 0, 0, 0) < 0) return errno;
  __user_cap_header_struct head{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &head, data) < 0) return errno;
  for (int i = 0; i < 2; i++) {
    const uint32_t keep = ~static_cast<uint32_t>(mask >> (32 * i));
    data[i].effective &= keep;
    data[i].permitted &= keep;
    data[i].inheritable &= keep;
  }
  return syscall(SYS_capset, &head, data) < 0 ? errno : 0;
}

// 0, or the errno of the step that failed: mask & permitted raised into
// the inheritable set, then each into the ambient set.
int RaiseAmbient(uint64_t mask) {
  __user_cap_header_struct head{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &head, data) < 0) return errno;
  for (int i = 0; i < 2; i++) data[i].inheritable |= static_cast<uint32_t>(mask >> (32 * i)) & data[i].permitted;
  if (syscall(SYS_capset, &head, data) < 0) return errno;
  for (int c = 0; c < 64; c++)
    if ((data[c / 32].inheritable >> (c % 32) & 1) && (mask >> c & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) return errno;
  return 0;
}

[[noreturn]] void Park(int readyfd, int startfd, int sockfd, int filterfd, unsigned long propagation, uint64_t ambient, uint64_t dropmask, char** argv) {
  static char resolved[4096];
  // What the caller reads: the step (0 the PATH search, 1 the console, 2 the filter, 3 the propagation, 4 the ambient set) and its errno.
  int32_t answer[2] = {0, Resolve(argv[0], resolved, sizeof resolved)};
  if (answer[1] == 0 && propagation && mount(nullptr, "/", nullptr, propagation, nullptr) < 0) answer[0] = 3, answer[1] = errno;
  if (answer[1] == 0 && ambient) answer[0] = 4, answer[1] = RaiseAmbient(ambient);
  if (answer[1] == 0 && filterfd >= 0) answer[0] = 2, answer[1] = ReadFilter(filterfd);
  if (answer[1] == 0 && sockfd >= 0) answer[0] = 1, answer[1] = Console(sockfd);
  (void)!write(readyfd, answer, sizeof answer);
  if (answer[1]) _exit(127);
  char go;
  ssize_t n;
  while ((n = read(startfd, &go, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) _exit(127);
  // The program gets stdio only, as the runtime-spec says; READYFD stays
  // until the execv closes it (FD_CLOEXEC): `start` reads it through
  // /proc/<pid>/fd until that EOF, so that the container is `running` only
  // once its program runs (runc's exec fifo; a signal sent to a pid 1 still
  // in nsjs-init would be lost), or gets the errno of what failed here.
  if (fcntl(readyfd, F_SETFD, FD_CLOEXEC) < 0) _exit(127);
  if (readyfd > 3) syscall(SYS_close_range, 3U, static_cast<unsigned>(readyfd - 1), 0U);
  syscall(SYS_close_range, static_cast<unsigned>(readyfd + 1), ~0U, 0U);
  int32_t err = 0;
  if (program.len && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0U, &program) < 0) {
    err = errno;
    static const char msg[] = "nsjs-init: seccomp: the container's filter could not be loaded\n";
    (void)!write(2, msg, sizeof msg - 1);
  } else if (dropmask && (err = DropCaps(dropmask)) != 0) {
    static const char msg[] = "nsjs-init: the capabilities held for the seccomp filter or the propagation could not be dropped\n";
    (void)!write(2, msg, sizeof msg - 1);
  } else {
    execv(resolved, argv);
    err = errno;
  }
  // A `start` that is gone (or an `exec`, which does not wait) is no reason to die of SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  (void)!write(readyfd, &err, sizeof err);
  _exit(127);
}

}  // namespace

int main(int argc, char** argv) {
  // Exec'd from nsjs's sealed memfd copy, whose name ("memfd:nsjs-init") the
  // kernel gives us as comm: ps and top show the program's own name instead.
  prctl(PR_SET_NAME, "nsjs-init", 0, 0, 0);
  if (argc == 2 && strcmp(argv[1], "--hold") == 0) {
    if (signal(SIGCHLD, SIG_IGN) == SIG_ERR) return 1;
    char buf[64];
    while (read(0, buf, sizeof buf) > 0 || errno == EINTR) {
    }
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "--enter") == 0) {
    const int fd = ParseFd(argv[2]);
    if (fd < 0) Usage();
    nsjs::spawn::EnterMain(fd);
  }
  if (argc == 3 && strcmp(argv[1], "--gate") == 0) {
    char* end = nullptr;
    const unsigned long long mask = strtoull(argv[2], &end, 10);
    if (!*argv[2] || *end || !mask) Usage();
    nsjs::spawn::GateMain(mask);
  }
  if (argc >= 5 && strcmp(argv[1], "--park") == 0) {
    const int readyfd = ParseFd(argv[2]), startfd = ParseFd(argv[3]);
    int sockfd = -1, filterfd = -1, i = 4;
    uint64_t dropmask = 0, ambient = 0;
    unsigned long propagation = 0;
    for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
      const bool drop = strcmp(argv[i], "--drop-caps") == 0 && !dropmask;
      const bool amb = strcmp(argv[i], "--ambient") == 0 && !ambient;
      if (drop || amb || (strcmp(argv[i], "--propagation") == 0 && !propagation)) {
        char* end = nullptr;
        const unsigned long long n = strtoull(argv[i + 1], &end, 10);
        if (!*argv[i + 1] || *end || !n) Usage();
        if (drop) dropmask = n;
        else if (amb) ambient = n;
        else propagation = static_cast<unsigned long>(n);
        continue;
      }
      const int fd = ParseFd(argv[i + 1]);
      if (fd < 0) Usage();
      if (strcmp(argv[i], "--console") == 0 && sockfd < 0) sockfd = fd;
      else if (strcmp(argv[i], "--seccomp") == 0 && filterfd < 0) filterfd = fd;
      else Usage();
    }
    char** command = argv + i + 1;
    if (readyfd < 0 || startfd < 0 || i >= argc || strcmp(argv[i], "--") != 0 || !*command || (dropmask && filterfd < 0 && !propagation)) Usage();
    Park(readyfd, startfd, sockfd, filterfd, propagation, ambient, dropmask, command);
  }
  if (argc < 6) Usage();
  const int errfd = ParseFd(argv[1]), statusfd = ParseFd(argv[2]), op = ParseFd(argv[3]), npaths = ParseFd(argv[4]);
  if (errfd < 0 || statusfd < 0 || op < 0 || npaths < 1 || 5 + npaths >= argc || strcmp(argv[5 + npaths], "--") != 0)
    Usage();
  char** paths = argv + 5;
  char** command = argv + 6 + npaths;
  if (!*command) Usage();
  // Neither pipe may reach the command; ERRFD reaches it only until execve.
  fcntl(errfd, F_SETFD, FD_CLOEXEC);
  fcntl(statusfd, F_SETFD, FD_CLOEXEC);

  // Every signal waits in the queue for sigwaitinfo; a blocked signal counts
  // as handled, so the kernel delivers it to pid 1 instead of dropping it.
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);

  const pid_t child = fork();
  if (child < 0) {
    Report r{kOpExec, op, errno};
    (void)!write(errfd, &r, sizeof r);
    return 127;
  }
  if (child == 0) RunCommand(errfd, op, paths, npaths, command, old);
  close(errfd);  // now only the command holds it, until its execve

  for (;;) {
    siginfo_t si;
    const int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      // Forwarded as is; SIGSTOP/SIGKILL cannot reach us from inside anyway.
      kill(child, sig);
      continue;
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != child) continue;  // an orphan reparented to us
      (void)!write(statusfd, &status, sizeof status);
      // When pid 1 exits the kernel kills what is left in the namespace.
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}

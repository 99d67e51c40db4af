// nsjs-init: the PID 1 that spawnIsolated({ init: true }) runs in a new pid
// namespace, in the spirit of tini. A separate static executable, so the
// namespace's init costs a few hundred KiB instead of a copy of Node.
//
//   nsjs-init ERRFD STATUSFD EXECOP NPATHS PATH... -- ARGV...
//   nsjs-init --hold
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
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

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

// The raw-kernel baseline of the nsjs benchmark: clone3(CLONE_PIDFD | the
// same CLONE_NEW* flags) + execve + waitid(P_PIDFD), as little as the kernel
// allows. Built by bench/run.mjs with `cc -O2`; driven over stdin so that its
// runs interleave with the other contenders in rounds.
//
// Commands, one per line on stdin; each answers one line on stdout:
//   lat  MODE FLAGS EXTRA N   -> N per-iteration times in ns, space-separated
//   tput MODE FLAGS EXTRA N K -> "elapsed_ns" for N spawns with K in flight
//   cpu                       -> "self_us children_us": getrusage CPU so far
//   cg   MODE FLAGS N V2 MEM PIDS -> N pairs "bare cgroup" of per-iteration
//        times in ns, alternated (the order swapped every pair): the spawn
//        alone, and the same with the kernel calls nsjs makes for
//        `cgroup: { memory: { max }, pids: { max } }` on cgroup v1 (or the
//        hybrid layout): a cgroup under each parent directory given (V2 the
//        cgroup2 one, '-' for none), memory.limit_in_bytes and (where there)
//        memory.memsw.limit_in_bytes, pids.max, the child cloned into the v2
//        one (CLONE_INTO_CGROUP) and writing "0" into each v1 tasks file as
//        its first step (then unsharing its cgroup namespace, which
//        CLONE_NEWCGROUP does at clone time without a cgroup), after its exit
//        cgroup.events, cpu.stat, memory.max_usage_in_bytes and
//        memory.oom_control read, and every cgroup removed (lib/cgroup/).
//   init PATH                 -> "ok": the nsjs-init that EXTRA bit 4 execs
//   pol  MODE FLAGS N DETAIL FILTER LANDLOCK -> N pairs "bare policy", the
//        order swapped every pair: the spawn alone (with no_new_privs, as
//        nsjs sets it by default), and the same with the child's policy
//        calls of nsjs's `landlock` + default `seccomp`, last before execve:
//        landlock_create_ruleset, per path an O_PATH open, landlock_add_rule
//        (file rights only on EINVAL) and close, landlock_restrict_self, then
//        seccomp(SECCOMP_SET_MODE_FILTER). FILTER is a file of sock_filter
//        (lib/policy/seccomp.ts checkSeccomp's bytes), LANDLOCK one of
//        lib/policy/landlock.ts NativeLandlock. DETAIL 0: each arm one time,
//        clone to reaped, in ns; DETAIL 1: each arm four figures, the same
//        wall time, clone to zombie (waitid WNOWAIT), the child's CPU
//        (schedstat of the zombie) and this thread's CPU in the reaping
//        waitid (where the kernel releases the filter, release_task).
// MODE: f = fork-style clone3 (no CLONE_VM), v = vfork-style (CLONE_VM |
// CLONE_VFORK, own stack). FLAGS: the CLONE_NEW* bits (hex). EXTRA bits:
// 1 = mount a fresh proc on /proc (needs CLONE_NEWNS); 4 = exec /bin/true
// through the nsjs-init named by `init` in its PID-1 mode (init: true's
// kernel part: an exec of init, its clone and exec of the command, and
// init's exit after it); 8 = set no_new_privs last (pol sets it, and the
// policy calls after it).
// What the child does is what nsjs and unshare(1) do for the same options:
// with CLONE_NEWUSER it writes setgroups "deny" and the one-line maps
// "0 <uid> 1" / "0 <gid> 1" (nsjs user: 'root', unshare -r); with
// CLONE_NEWNS it makes / MS_REC|MS_PRIVATE (nsjs and unshare's default);
// with CLONE_NEWNET it brings lo up over netlink (nsjs's and bwrap's
// default; unshare -n leaves it down).
// On error a line starting with "error" is printed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

extern char** environ;

// clone3 with a child stack: the child starts on the new stack and must not
// return into the caller's frame (same trampoline idea as nsjs).
// rdi = args, rsi = size, rdx = fn, rcx = arg; returns -errno on failure.
long bl_clone3(void* args, size_t size, int (*fn)(void*), void* arg);
#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl bl_clone3\n"
    ".type bl_clone3,@function\n"
    "bl_clone3:\n"
    "  mov %rdx, %r8\n"
    "  mov %rcx, %r9\n"
    "  mov $435, %eax\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jnz 1f\n"
    "  xor %ebp, %ebp\n"
    "  mov %r9, %rdi\n"
    "  call *%r8\n"
    "  mov %eax, %edi\n"
    "  mov $231, %eax\n"
    "  syscall\n"
    "  hlt\n"
    "1:\n"
    "  ret\n"
    ".size bl_clone3, .-bl_clone3\n");
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".globl bl_clone3\n"
    ".type bl_clone3,%function\n"
    "bl_clone3:\n"
    "  mov x8, #435\n"
    "  svc #0\n"
    "  cbnz x0, 1f\n"
    "  mov x0, x3\n"
    "  blr x2\n"
    "  mov x8, #94\n"
    "  svc #0\n"
    "1:\n"
    "  ret\n"
    ".size bl_clone3, .-bl_clone3\n");
#else
#error "bench/baseline.c: x86_64 or aarch64 only"
#endif

#define STACK_SIZE (64 * 1024)

struct job {
  uint64_t flags;
  int extra;
  char uid_map[32];
  char gid_map[32];
  int cgroup_fd;  // for CLONE_INTO_CGROUP, or -1
  int joins[2];   // v1 tasks files the child writes "0" into first, then unshares CLONE_NEWCGROUP
  int njoins;
  char null_fd[16];
};

static int write_file(const char* path, const char* data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = strlen(data);
  ssize_t n = write(fd, data, len);
  close(fd);
  return n == (ssize_t)len ? 0 : -1;
}

// RTM_NEWLINK lo IFF_UP, and the kernel's ack. lo is ifindex 1 in every
// network namespace.
static int lo_up(void) {
  int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) return -1;
  struct {
    struct nlmsghdr nh;
    struct ifinfomsg ifi;
  } req;
  memset(&req, 0, sizeof req);
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = RTM_NEWLINK;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.ifi.ifi_family = AF_UNSPEC;
  req.ifi.ifi_index = 1;
  req.ifi.ifi_change = IFF_UP;
  req.ifi.ifi_flags = IFF_UP;
  struct {
    struct nlmsghdr nh;
    struct nlmsgerr err;
  } ack;
  int ok = send(sock, &req, sizeof req, 0) == (ssize_t)sizeof req && recv(sock, &ack, sizeof ack, 0) >= (ssize_t)sizeof ack &&
           ack.nh.nlmsg_type == NLMSG_ERROR && ack.err.error == 0;
  close(sock);
  return ok ? 0 : -1;
}

static char init_path[4096];

// pol: the Landlock ruleset and seccomp filter, laid out before clone.
#define POL_PATHS 16
static struct {
  int on;  // set in the parent around the policy arm's clone
  uint64_t attr[3];
  uint32_t attr_size, npaths;
  uint64_t access[POL_PATHS];
  char path[POL_PATHS][256];
  struct sock_fprog prog;
} pol;

static int landlock_and_seccomp(void) {
  const int rs = (int)syscall(444 /* landlock_create_ruleset */, pol.attr, (size_t)pol.attr_size, 0);
  if (rs < 0) return -1;
  for (uint32_t i = 0; i < pol.npaths; i++) {
    const int fd = open(pol.path[i], O_PATH | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) continue;
      return -1;
    }
    struct __attribute__((packed)) {
      uint64_t allowed_access;
      int32_t parent_fd;
    } rule = {pol.access[i], fd};
    // EXECUTE, WRITE_FILE, READ_FILE, TRUNCATE, IOCTL_DEV: what a file takes (src-native/policy/restrict.cc).
    const uint64_t file_rights = (1u << 0) | (1u << 1) | (1u << 2) | (1u << 14) | (1u << 15);
    long r = syscall(445 /* landlock_add_rule */, rs, 1, &rule, 0);
    if (r < 0 && errno == EINVAL && (rule.allowed_access & ~file_rights)) {
      rule.allowed_access &= file_rights;
      r = rule.allowed_access ? syscall(445, rs, 1, &rule, 0) : 0;
    }
    close(fd);
    if (r < 0) return -1;
  }
  if (syscall(446 /* landlock_restrict_self */, rs, 0) < 0) return -1;
  close(rs);
  return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &pol.prog);
}

static int child_main(void* arg) {
  const struct job* j = arg;
  for (int i = 0; i < j->njoins; i++)
    if (write(j->joins[i], "0", 1) != 1) _exit(118);
  if (j->njoins > 0 && unshare(CLONE_NEWCGROUP) < 0) _exit(119);
  if (j->flags & CLONE_NEWUSER) {
    if (write_file("/proc/self/setgroups", "deny") < 0) _exit(120);
    if (write_file("/proc/self/uid_map", j->uid_map) < 0) _exit(121);
    if (write_file("/proc/self/gid_map", j->gid_map) < 0) _exit(122);
  }
  if (j->flags & CLONE_NEWNS) {
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) _exit(123);
    if ((j->extra & 1) && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) _exit(124);
    // extra & 2: bench/common.mjs BIND_DIRS, each bound read-only onto itself
    // the classic way (a bind, then a read-only remount, by path).
    static const char* const binds[] = {"/usr", "/etc", "/var", "/tmp"};
    for (unsigned i = 0; (j->extra & 2) && i < sizeof binds / sizeof *binds; i++) {
      if (mount(binds[i], binds[i], NULL, MS_BIND | MS_REC, NULL) < 0) _exit(126);
      if (mount(NULL, binds[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) _exit(126);
    }
  }
  if ((j->flags & CLONE_NEWNET) && lo_up() < 0) _exit(125);
  if (j->extra & 8) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) _exit(116);
    if (pol.on && landlock_and_seccomp() < 0) _exit(117);
  }
  if (j->extra & 4) {
    // ERRFD and STATUSFD: /dev/null, opened without O_CLOEXEC by main.
    char* init[] = {"nsjs-init", (char*)j->null_fd, (char*)j->null_fd, "0", "1", "/bin/true", "--", "/bin/true", NULL};
    execve(init_path, init, environ);
    _exit(127);
  }
  char* argv[] = {"/bin/true", NULL};
  execve("/bin/true", argv, environ);
  _exit(127);
}

static void* stack;

// Starts one child; returns its pidfd or -1 (errno set).
static int start(const struct job* j, int vfork) {
  int pidfd = -1;
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = j->flags | CLONE_PIDFD;
  args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  args.exit_signal = SIGCHLD;
  if (j->cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)j->cgroup_fd;
  }
  if (vfork) {
    args.flags |= CLONE_VM | CLONE_VFORK;
    args.stack = (uint64_t)(uintptr_t)stack;
    args.stack_size = STACK_SIZE;
    long r = bl_clone3(&args, sizeof args, child_main, (void*)j);
    if (r < 0) {
      errno = (int)-r;
      return -1;
    }
    return pidfd;
  }
  long r = syscall(SYS_clone3, &args, sizeof args);
  if (r < 0) return -1;
  if (r == 0) child_main((void*)j);  // does not return
  return pidfd;
}

// Reaps the child behind pidfd; 0 when it exited 0.
static int reap(int pidfd) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0) {
    if (errno != EINTR) {
      close(pidfd);
      return -1;
    }
  }
  close(pidfd);
  if (si.si_code != CLD_EXITED || si.si_status != 0) {
    errno = 0;
    return si.si_status ? si.si_status : -1;
  }
  return 0;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void latency(const struct job* j, int vfork, long n) {
  for (long i = 0; i < n; i++) {
    uint64_t t0 = now_ns();
    int pidfd = start(j, vfork);
    if (pidfd < 0) {
      printf("error clone3: %s\n", strerror(errno));
      return;
    }
    int st = reap(pidfd);
    uint64_t t1 = now_ns();
    if (st != 0) {
      printf("error child exited with status %d\n", st);
      return;
    }
    printf(i ? " %llu" : "%llu", (unsigned long long)(t1 - t0));
  }
  printf("\n");
}

// n spawns, k in flight (fork-style children run concurrently; a vfork-style
// clone returns only after exec, so the parent still overlaps the rest).
static void throughput(const struct job* j, int vfork, long n, int k) {
  struct pollfd* fds = calloc((size_t)k, sizeof *fds);
  long started = 0, done = 0;
  uint64_t t0 = now_ns();
  for (int i = 0; i < k; i++) fds[i].fd = -1;
  for (;;) {
    for (int i = 0; i < k; i++) {
      if (fds[i].fd < 0 && started < n) {
        fds[i].fd = start(j, vfork);
        fds[i].events = POLLIN;
        if (fds[i].fd < 0) {
          printf("error clone3: %s\n", strerror(errno));
          free(fds);
          return;
        }
        started++;
      }
    }
    if (done == n) break;
    if (poll(fds, (nfds_t)k, -1) < 0 && errno != EINTR) break;
    for (int i = 0; i < k; i++) {
      if (fds[i].fd >= 0 && (fds[i].revents & POLLIN)) {
        if (reap(fds[i].fd) != 0) {
          printf("error child failed\n");
          free(fds);
          return;
        }
        fds[i].fd = -1;
        done++;
      }
    }
  }
  printf("%llu\n", (unsigned long long)(now_ns() - t0));
  free(fds);
}

static int seq;

static int open_in(const char* dir, const char* file, int flags) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  return open(p, flags | O_CLOEXEC);
}

static int write_in(const char* dir, const char* file, const char* data, int if_exists) {
  int fd = open_in(dir, file, O_WRONLY);
  if (fd < 0) return if_exists && errno == ENOENT ? 0 : -1;
  ssize_t n = write(fd, data, strlen(data));
  close(fd);
  return n == (ssize_t)strlen(data) ? 0 : -1;
}

static int read_in(const char* dir, const char* file) {
  char buf[4096];
  int fd = open_in(dir, file, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
  }
  close(fd);
  return n < 0 ? -1 : 0;
}

// One spawn with the cgroups of `cg` (see above); its time in ns, or 0 (errno set).
static uint64_t cgroup_spawn(struct job* base, int vfork, const char* v2p, const char* memp, const char* pidsp) {
  char v2[2048], mem[2048], pids[2048];
  int n = ++seq;
  snprintf(v2, sizeof v2, "%s/baseline-%d-%d", v2p, (int)getpid(), n);
  snprintf(mem, sizeof mem, "%s/baseline-%d-%d", memp, (int)getpid(), n);
  snprintf(pids, sizeof pids, "%s/baseline-%d-%d", pidsp, (int)getpid(), n);
  int has_v2 = strcmp(v2p, "-") != 0;
  struct job j = *base;
  j.flags &= ~(uint64_t)CLONE_NEWCGROUP;
  j.njoins = 2;
  int procs = -1, ok = 0, st = -1;
  uint64_t t0 = now_ns();
  if (has_v2 && (mkdir(v2, 0777) < 0 || (j.cgroup_fd = open(v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
                 (procs = open_in(v2, "cgroup.procs", O_WRONLY)) < 0))
    goto out;
  if (mkdir(mem, 0777) < 0) goto out;
  if (write_in(mem, "memory.limit_in_bytes", "268435456", 0) < 0 || write_in(mem, "memory.memsw.limit_in_bytes", "268435456", 1) < 0 ||
      (j.joins[0] = open_in(mem, "tasks", O_WRONLY)) < 0)
    goto out;
  if (mkdir(pids, 0777) < 0) goto out;
  if (write_in(pids, "pids.max", "64", 0) < 0 || (j.joins[1] = open_in(pids, "tasks", O_WRONLY)) < 0) goto out;
  int pidfd = start(&j, vfork);
  if (pidfd < 0) goto out;
  st = reap(pidfd);
  if (has_v2 && (read_in(v2, "cgroup.events") < 0 || read_in(v2, "cpu.stat") < 0)) goto out;
  if (read_in(mem, "memory.max_usage_in_bytes") < 0 || read_in(mem, "memory.oom_control") < 0) goto out;
  ok = st == 0;
out:;
  int saved = errno;
  if (procs >= 0) close(procs);
  if (j.cgroup_fd >= 0) close(j.cgroup_fd);
  for (int i = 0; i < 2; i++)
    if (j.joins[i] >= 0) close(j.joins[i]);
  if ((rmdir(pids) < 0 && errno != ENOENT) || (rmdir(mem) < 0 && errno != ENOENT) || (has_v2 && rmdir(v2) < 0 && errno != ENOENT)) ok = 0;
  uint64_t t1 = now_ns();
  errno = ok ? 0 : st > 0 ? 0 : saved;
  return ok ? t1 - t0 : 0;
}

// The spawn without cgroups, timed; 0 on failure.
static uint64_t plain_spawn(const struct job* j, int vfork) {
  uint64_t t0 = now_ns();
  int pidfd = start(j, vfork);
  if (pidfd < 0 || reap(pidfd) != 0) return 0;
  return now_ns() - t0;
}

static void cgroup_pairs(struct job* j, int vfork, long n, const char* v2, const char* mem, const char* pids) {
  for (long i = 0; i < n; i++) {
    uint64_t bare, cg;
    if (i & 1) {
      cg = cgroup_spawn(j, vfork, v2, mem, pids);
      bare = plain_spawn(j, vfork);
    } else {
      bare = plain_spawn(j, vfork);
      cg = cgroup_spawn(j, vfork, v2, mem, pids);
    }
    if (bare == 0 || cg == 0) {
      printf("error %s spawn: %s\n", bare == 0 ? "plain" : "cgroup", strerror(errno));
      return;
    }
    printf(i ? " %llu %llu" : "%llu %llu", (unsigned long long)bare, (unsigned long long)cg);
  }
  printf("\n");
}

static void* slurp(const char* file, size_t* len) {
  static char buf[1 << 16];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n < 0 || (size_t)n == sizeof buf) return NULL;
  *len = (size_t)n;
  return buf;
}

// Reads lib/policy/landlock.ts NativeLandlock (u32 attrSize, u32 paths,
// u32 ports, u32 0, u64 fs, u64 net, per path u64 access, u32 length, the
// bytes) and the filter; 0 when both are as the C side can use them.
static int load_policy(const char* filter, const char* landlock) {
  static struct sock_filter insns[4096];
  size_t n;
  unsigned char* b = slurp(filter, &n);
  if (!b || n == 0 || n % sizeof *insns || n / sizeof *insns > 4096) return -1;
  memcpy(insns, b, n);
  pol.prog.len = (unsigned short)(n / sizeof *insns);
  pol.prog.filter = insns;
  if (!(b = slurp(landlock, &n)) || n < 32) return -1;
  uint32_t ports;
  memcpy(&pol.attr_size, b, 4);
  memcpy(&pol.npaths, b + 4, 4);
  memcpy(&ports, b + 8, 4);
  memcpy(&pol.attr[0], b + 16, 8);
  memcpy(&pol.attr[1], b + 24, 8);
  if (ports || pol.npaths > POL_PATHS || pol.attr_size > sizeof pol.attr) return -1;
  size_t at = 32;
  for (uint32_t i = 0; i < pol.npaths; i++) {
    uint32_t len;
    if (at + 12 > n) return -1;
    memcpy(&pol.access[i], b + at, 8);
    memcpy(&len, b + at + 8, 4);
    if (len >= sizeof pol.path[i] || at + 12 + len > n) return -1;
    memcpy(pol.path[i], b + at + 12, len);
    pol.path[i][len] = 0;
    at += 12 + len;
  }
  return at == n ? 0 : -1;
}

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// One spawn of the pol pairs: out[0] clone to reaped; with detail also
// out[1] clone to zombie, out[2] the child's CPU, out[3] this thread's CPU
// in the reaping waitid. 0 on success.
static int pol_spawn(const struct job* j, int vfork, int on, int detail, uint64_t* out) {
  pol.on = on;
  const uint64_t t0 = now_ns();
  int pidfd = start(j, vfork);
  pol.on = 0;
  if (pidfd < 0) return -1;
  if (detail) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOWAIT) < 0) return -1;
    out[1] = now_ns() - t0;
    char p[64], buf[128];
    snprintf(p, sizeof p, "/proc/%d/schedstat", (int)si.si_pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    out[2] = strtoull(buf, NULL, 10);
    const uint64_t c0 = thread_cpu_ns();
    if (reap(pidfd) != 0) return -1;
    out[3] = thread_cpu_ns() - c0;
  } else if (reap(pidfd) != 0) {
    return -1;
  }
  out[0] = now_ns() - t0;
  return 0;
}

static void policy_pairs(struct job* j, int vfork, long n, int detail) {
  const int k = detail ? 4 : 1;
  j->extra |= 8;
  for (long i = 0; i < n; i++) {
    uint64_t v[2][4];
    const int first = (int)(i & 1);  // 1: the policy arm first
    if (pol_spawn(j, vfork, first, detail, v[first]) < 0 || pol_spawn(j, vfork, !first, detail, v[!first]) < 0) {
      printf("error policy pair: %s\n", strerror(errno));
      return;
    }
    for (int a = 0; a < 2; a++)
      for (int x = 0; x < k; x++) printf(i || a || x ? " %llu" : "%llu", (unsigned long long)v[a][x]);
  }
  printf("\n");
}

int main(void) {
  stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return 1;
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  const int null_fd = open("/dev/null", O_WRONLY);
  if (null_fd < 0) return 1;
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    char cmd[8], mode;
    unsigned long long flags;
    int extra;
    long n;
    int k = 1;
    if (strncmp(line, "cpu", 3) == 0) {
      struct rusage self, kids;
      getrusage(RUSAGE_SELF, &self);
      getrusage(RUSAGE_CHILDREN, &kids);
#define US(tv) ((long long)(tv).tv_sec * 1000000 + (tv).tv_usec)
      printf("%lld %lld\n", US(self.ru_utime) + US(self.ru_stime), US(kids.ru_utime) + US(kids.ru_stime));
      fflush(stdout);
      continue;
    }
    char v2[1024], mem[1024], pids[1024];
    if (strncmp(line, "cg ", 3) == 0) {
      struct job j;
      memset(&j, 0, sizeof j);
      if (sscanf(line, "cg %c %llx %ld %1023s %1023s %1023s", &mode, &flags, &n, v2, mem, pids) != 6) {
        printf("error bad command\n");
        fflush(stdout);
        continue;
      }
      j.flags = flags;
      j.cgroup_fd = j.joins[0] = j.joins[1] = -1;
      snprintf(j.uid_map, sizeof j.uid_map, "0 %u 1\n", (unsigned)getuid());
      snprintf(j.gid_map, sizeof j.gid_map, "0 %u 1\n", (unsigned)getgid());
      cgroup_pairs(&j, mode == 'v', n, v2, mem, pids);
      fflush(stdout);
      continue;
    }
    if (strncmp(line, "pol ", 4) == 0) {
      struct job j;
      char filter[1024], landlock[1024];
      int detail;
      memset(&j, 0, sizeof j);
      if (sscanf(line, "pol %c %llx %ld %d %1023s %1023s", &mode, &flags, &n, &detail, filter, landlock) != 6) {
        printf("error bad command\n");
      } else if (load_policy(filter, landlock) < 0) {
        printf("error policy files unreadable or malformed\n");
      } else {
        j.flags = flags;
        j.cgroup_fd = -1;
        snprintf(j.uid_map, sizeof j.uid_map, "0 %u 1\n", (unsigned)getuid());
        snprintf(j.gid_map, sizeof j.gid_map, "0 %u 1\n", (unsigned)getgid());
        policy_pairs(&j, mode == 'v', n, detail);
      }
      fflush(stdout);
      continue;
    }
    if (strncmp(line, "init ", 5) == 0) {
      snprintf(init_path, sizeof init_path, "%s", line + 5);
      init_path[strcspn(init_path, "\n")] = 0;
      printf("ok\n");
      fflush(stdout);
      continue;
    }
    int got = sscanf(line, "%7s %c %llx %d %ld %d", cmd, &mode, &flags, &extra, &n, &k);
    if (got < 5) {
      printf("error bad command\n");
      fflush(stdout);
      continue;
    }
    struct job j;
    memset(&j, 0, sizeof j);
    j.flags = flags;
    j.extra = extra;
    j.cgroup_fd = -1;
    snprintf(j.uid_map, sizeof j.uid_map, "0 %u 1\n", (unsigned)getuid());
    snprintf(j.gid_map, sizeof j.gid_map, "0 %u 1\n", (unsigned)getgid());
    snprintf(j.null_fd, sizeof j.null_fd, "%d", null_fd);
    if (strcmp(cmd, "lat") == 0)
      latency(&j, mode == 'v', n);
    else if (strcmp(cmd, "tput") == 0)
      throughput(&j, mode == 'v', n, k < 1 ? 1 : k);
    else
      printf("error unknown command\n");
    fflush(stdout);
  }
  return 0;
}

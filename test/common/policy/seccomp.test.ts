// The seccomp filter (issue 15 item 1) and allowUserNamespaces (item 2,
// issue 23 item 3), attacked for real from inside, as root and as an
// ordinary user: a C probe makes each call with harmless arguments and
// prints what the kernel said; the default profile refuses it with EPERM,
// where `seccomp: false` (or outside) the same call gets the kernel's own
// answer. Each test checks it leaked nothing.
import { runIsolated, type SpawnOptions } from '../../../lib';
import { checkSeccomp, syscallTable } from '../../../lib/policy/seccomp';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { ERRNO_NAME, cProbe } from '../../helpers/probe';
import { root, withUser } from '../../helpers/privilege';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const PROBE = `${ERRNO_NAME}
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
// Makes each call named in argv, printing "name ok" or "name ERRNO".
static long forked(long pid) {
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid((pid_t)pid, NULL, 0);
  return pid < 0 ? -1 : 0;
}
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *c = argv[i];
    long r = -1;
    errno = 0;
    if (!strcmp(c, "keyctl")) r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -2 /* process keyring */, 1);
    else if (!strcmp(c, "add_key")) r = syscall(SYS_add_key, "user", "nsjs-probe", "x", 1, -2);
    else if (!strcmp(c, "request_key")) r = syscall(SYS_request_key, "user", "nsjs-none", NULL, -2);
    else if (!strcmp(c, "bpf")) r = syscall(SYS_bpf, -1, NULL, 0);
    else if (!strcmp(c, "perf_event_open")) r = syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
    else if (!strcmp(c, "userfaultfd")) r = syscall(SYS_userfaultfd, -1);
    else if (!strcmp(c, "open_by_handle_at")) r = syscall(SYS_open_by_handle_at, -1, NULL, 0);
    else if (!strcmp(c, "name_to_handle_at")) r = syscall(SYS_name_to_handle_at, -1, "", NULL, NULL, 0);
    else if (!strcmp(c, "io_uring_setup")) r = syscall(SYS_io_uring_setup, 0, NULL);
    else if (!strcmp(c, "kexec_load")) r = syscall(SYS_kexec_load, 0, 0, NULL, -1);
    else if (!strcmp(c, "init_module")) r = syscall(SYS_init_module, NULL, 0, "");
    else if (!strcmp(c, "delete_module")) r = syscall(SYS_delete_module, "nsjs_none", 0);
    else if (!strcmp(c, "reboot")) r = syscall(SYS_reboot, 0, 0, 0, NULL);
    else if (!strcmp(c, "swapoff")) r = syscall(SYS_swapoff, "/nsjs-none");
    else if (!strcmp(c, "acct")) r = syscall(SYS_acct, "/nsjs-none");
    // 424, 433 and 434 on both architectures: fspick ends the default's range 425..433 (io_uring, the new mount calls), the others lie just outside it.
    else if (!strcmp(c, "fspick")) r = syscall(433, -1, "", 0);
    else if (!strcmp(c, "pidfd_send_signal")) r = syscall(424, -1, 0, NULL, 0);
    else if (!strcmp(c, "pidfd_open")) r = syscall(434, getpid(), 0);
    else if (!strcmp(c, "ptrace")) {
      // A sibling: a child of ours that waits to be attached.
      pid_t p = fork();
      if (p == 0) { pause(); _exit(0); }
      r = ptrace(PTRACE_ATTACH, p, NULL, NULL);
      kill(p, SIGKILL);
      waitpid(p, NULL, 0);
    } else if (!strcmp(c, "unshare-user")) r = unshare(CLONE_NEWUSER);
    else if (!strcmp(c, "clone-user")) r = forked(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
    else if (!strcmp(c, "clone-user-hi")) r = forked(syscall(SYS_clone, (1UL << 32) | CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
    else if (!strcmp(c, "clone")) r = forked(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
    else if (!strcmp(c, "clone3")) {
      struct clone_args a = { .exit_signal = SIGCHLD };
      r = forked(syscall(SYS_clone3, &a, sizeof a));
    } else if (!strcmp(c, "setns-user")) {
      int fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
      r = syscall(SYS_setns, fd, CLONE_NEWUSER);
    } else if (!strcmp(c, "chdir")) r = chdir("/");
    else if (!strcmp(c, "x32")) { printf("x32 calling\\n"); fflush(stdout); r = syscall(0x40000000 | SYS_getpid); }
#ifdef __x86_64__
    else if (!strcmp(c, "int80")) {
      printf("int80 calling\\n"); fflush(stdout);
      long nr = 20; /* i386 getpid */
      __asm__ volatile("int $0x80" : "+a"(nr) : : "memory");
      if (nr < 0) { errno = (int)-nr; r = -1; } else r = nr;
    }
#endif
    else { printf("%s unknown\\n", c); return 2; }
    printf("%s %s\\n", c, r < 0 ? ERR() : "ok");
    fflush(stdout);
  }
  return 0;
}
`;

/**
 * What each call said, by name; `signal` when the probe was killed (SIGSYS
 * is 31: sh reports 159). Through sh, so that the run itself exits 0.
 */
async function probe(calls: string[], options: SpawnOptions = {}): Promise<{ said: Record<string, string>; signal: string | null }> {
  const r = await runIsolated('sh', ['-c', '"$@"; echo "status $?"', 'sh', cProbe('seccomp', PROBE), ...calls], options);
  const lines = r.stdout.trim().split('\n');
  const status = Number(lines.pop()!.split(' ')[1]);
  const said = Object.fromEntries(lines.filter(Boolean).map((l) => l.split(' ') as [string, string]));
  return { said, signal: status === 128 + 31 ? 'SIGSYS' : status > 128 ? `signal ${status - 128}` : null };
}

// Calls whose own answer (without a filter) is never EPERM here, whoever runs them.
const REFUSED_NOT_EPERM = ['keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open', 'userfaultfd', 'name_to_handle_at', 'io_uring_setup', 'ptrace'];
// Calls a capability also stops (EPERM either way): the filter's own errno tells it answered.
const CAPABILITY_GATED = ['open_by_handle_at', 'kexec_load', 'init_module', 'delete_module', 'reboot', 'swapoff', 'acct', 'fspick'];

describe.each<[string, SpawnOptions]>([
  ['no namespaces', {}],
  ['user+pid+mnt', { namespaces: ['user', 'pid', 'mnt'], user: 'root' }],
  ['init: true', { namespaces: withUser(['pid', 'mnt']), ...(withUser([]).length ? { user: 'root' as const } : {}), init: true }],
])('the default profile: %s', (_name, options) => {
  test('refuses keyrings, bpf, perf, userfaultfd, handles, io_uring and ptrace of a sibling with EPERM; seccomp: false gives the kernel\'s answer', async () => {
    const on = await probe(REFUSED_NOT_EPERM, options);
    for (const call of REFUSED_NOT_EPERM) expect([call, on.said[call]]).toEqual([call, 'EPERM']);
    const off = await probe(REFUSED_NOT_EPERM, { ...options, seccomp: false });
    for (const call of REFUSED_NOT_EPERM) expect([call, off.said[call]]).not.toEqual([call, 'EPERM']);
    expect(off.said.keyctl).toBe('ok');
    expect(off.said.ptrace).toBe('ok');
  });

  test('refuses module loading, kexec, reboot, swap and acct in the filter itself (a policy errno shows it answered)', async () => {
    const r = await probe([...CAPABILITY_GATED, 'pidfd_send_signal', 'pidfd_open'], { ...options, seccomp: { errno: 'ENOTRECOVERABLE' } });
    for (const call of CAPABILITY_GATED) expect([call, r.said[call]]).toEqual([call, 'ENOTRECOVERABLE']);
    // The numbers right beside a range the filter folds (seccomp.cc Run) get the kernel's own answer.
    expect([r.said.pidfd_send_signal, r.said.pidfd_open]).toEqual(['EBADF', 'ok']);
    const off = await probe(CAPABILITY_GATED, { ...options, seccomp: false });
    for (const call of CAPABILITY_GATED) expect(off.said[call]).not.toBe('ENOTRECOVERABLE');
  });

  test('no user namespace of its own: clone, unshare and setns with CLONE_NEWUSER are EPERM, clone3 ENOSYS; a plain clone works', async () => {
    const calls = ['clone', 'clone-user', 'clone-user-hi', 'clone3', 'setns-user', 'unshare-user'];
    expect((await probe(calls, options)).said).toEqual({
      clone: 'ok', 'clone-user': 'EPERM', 'clone-user-hi': 'EPERM', clone3: 'ENOSYS', 'setns-user': 'EPERM', 'unshare-user': 'EPERM',
    });
    const allowed = await probe(calls, { ...options, allowUserNamespaces: true });
    expect(allowed.said).toMatchObject({ clone: 'ok', 'clone-user': 'ok', clone3: 'ok', 'setns-user': 'EINVAL', 'unshare-user': 'ok' });
  });

  test('allowUserNamespaces: false holds with seccomp: false (issue 23 item 3)', async () => {
    const r = await probe(['keyctl', 'clone-user', 'clone3', 'unshare-user'], { ...options, seccomp: false });
    expect(r.said).toEqual({ keyctl: 'ok', 'clone-user': 'EPERM', clone3: 'ENOSYS', 'unshare-user': 'EPERM' });
    const nested = await runIsolated('sh', ['-c', 'unshare -U true 2>&1; echo "status $?"'], { ...options, seccomp: false });
    expect(nested.stdout).toBe('unshare: unshare failed: Operation not permitted\nstatus 1\n');
    const allowed = await runIsolated('sh', ['-c', 'unshare -U true 2>&1; echo "status $?"'], { ...options, seccomp: false, allowUserNamespaces: true });
    expect(allowed.stdout).toBe('status 0\n');
  });
});

// x32 and int 0x80 exist only on x86-64: on arm64 these show as skipped, never as passed.
const x86 = process.arch === 'x64' ? describe : describe.skip;
x86('architectures (x86_64)', () => {
  test('an x32 syscall kills the process; without a filter the kernel answers it', async () => {
    const on = await probe(['x32']);
    expect(on.signal).toBe('SIGSYS');
    expect(on.said).toEqual({ x32: 'calling' });
    const off = await probe(['x32'], { seccomp: false, allowUserNamespaces: true });
    expect(off.signal).toBeNull();
    expect(off.said.x32).not.toBe('calling');
  });

  test("i386's int 0x80 kills the process (seccomp: false and allowUserNamespaces: true: no filter, it runs)", async () => {
    const on = await probe(['int80']);
    expect(on.signal).toBe('SIGSYS');
    const off = await probe(['int80'], { seccomp: false, allowUserNamespaces: true });
    expect(off.signal).toBeNull();
    expect(off.said.int80).not.toBe('calling');
  });

  test('with seccomp: false but allowUserNamespaces: false, the userns filter still refuses foreign arches', async () => {
    expect((await probe(['int80'], { seccomp: false })).signal).toBe('SIGSYS');
  });
});

describe('a policy of its own', () => {
  test('deny with its own errno, allow lifts one refusal of the base and keeps the others', async () => {
    const r = await probe(['chdir', 'keyctl', 'bpf'], { seccomp: { allow: ['keyctl'], deny: [{ syscall: 'chdir', errno: 'EHOSTDOWN' }] } });
    expect(r.said).toEqual({ chdir: 'EHOSTDOWN', keyctl: 'ok', bpf: 'EPERM' });
    const n = await probe(['chdir'], { seccomp: { deny: ['chdir'], errno: 38 } });
    expect(n.said).toEqual({ chdir: 'ENOSYS' });
  });

  test('a policy too long for direct jumps (every syscall but what sh and the probe make) answers as a short one does', async () => {
    const needed = new Set(['access', 'arch_prctl', 'brk', 'chdir', 'close', 'execve', 'exit', 'exit_group', 'getegid', 'geteuid', 'getgid', 'getpid', 'getppid',
      'getrandom', 'getuid', 'mmap', 'mprotect', 'munmap', 'newfstatat', 'fstat', 'stat', 'statx', 'openat', 'open', 'pread64', 'prlimit64', 'read', 'rseq',
      'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'set_robust_list', 'set_tid_address', 'vfork', 'fork', 'clone', 'wait4', 'write', 'futex', 'fcntl',
      'dup2', 'dup3', 'ioctl', 'lseek', 'faccessat', 'faccessat2']);
    // Two errnos by the number's parity: consecutive numbers never share a return, so no range folds them (seccomp.cc Run).
    const table = syscallTable()!;
    const errno = (n: string) => (table[n] % 2 ? 'EACCES' : 'EPERM');
    const deny = [...Object.keys(table).filter((n) => !needed.has(n)).map((syscall) => ({ syscall, errno: errno(syscall) })), { syscall: 'chdir', errno: 'EHOSTDOWN' }];
    const seccomp = { deny };
    // The layout whose search jumps through unconditional jumps (seccomp.cc Emit, near = false).
    expect(checkSeccomp(seccomp, false)!.length / 8).toBeGreaterThan(256);
    expect((await probe(['chdir', 'keyctl', 'clone'], { seccomp })).said).toEqual({ chdir: 'EHOSTDOWN', keyctl: errno('keyctl'), clone: 'ok' });
  });

  test("base: 'none' refuses nothing of the default list (but new user namespaces, unless allowed)", async () => {
    expect((await probe(['keyctl', 'bpf', 'unshare-user'], { seccomp: { base: 'none' } })).said).toEqual({ keyctl: 'ok', bpf: 'EINVAL', 'unshare-user': 'EPERM' });
    // allow cannot lift what allowUserNamespaces: false refuses.
    expect((await probe(['unshare-user'], { seccomp: { base: 'none', allow: ['unshare', 'clone3'] } })).said).toEqual({ 'unshare-user': 'EPERM' });
  });

  test('ordinary programs run under the default: sh, coreutils, python3, node, git', async () => {
    const script = 'ls / >/dev/null && cat /proc/self/status >/dev/null && python3 -c "import subprocess; subprocess.run([\'true\'], check=True)" && ' +
      `${process.execPath} -e "require('child_process').execFileSync('true'); require('fs').readFileSync('/proc/self/stat')" && git --version >/dev/null && echo fine`;
    const r = await runIsolated('sh', ['-c', script]);
    expect(r.stdout).toBe('fine\n');
    const seccomp = await runIsolated('sh', ['-c', 'grep ^Seccomp: /proc/self/status']);
    expect(seccomp.stdout).toBe('Seccomp:\t2\n');
  });
});

describe('bad policies throw before anything starts', () => {
  const bad = async (seccomp: unknown, name: string, code = 'ERR_INVALID_ARG_VALUE') => {
    const e = await runIsolated('true', [], { seccomp } as SpawnOptions).then(() => undefined, (err: Error & { code: string }) => err);
    expect(e).toMatchObject({ code });
    expect(e!.message).toContain(name);
  };
  test('an unknown syscall name, in deny or allow', async () => {
    await bad({ deny: ['keyctl', 'nosuchcall'] }, "'options.seccomp.deny[1]'");
    await bad({ deny: [{ syscall: 'nosuchcall' }] }, "'options.seccomp.deny[0].syscall'");
    await bad({ allow: ['nosuchcall'] }, "'options.seccomp.allow[0]'");
  });
  test('a bad errno name or number, base, key or shape', async () => {
    await bad({ errno: 'ENOSUCH' }, "'options.seccomp.errno'");
    await bad({ deny: [{ syscall: 'chdir', errno: 'EBOGUS' }] }, "'options.seccomp.deny[0].errno'");
    await bad({ errno: 0 }, '"options.seccomp.errno"', 'ERR_OUT_OF_RANGE');
    await bad({ base: 'docker' }, "'options.seccomp.base'");
    await bad({ denny: ['chdir'] }, "'options.seccomp.denny'");
    await bad('strict', "'options.seccomp'");
    await bad(true, '"options.seccomp"', 'ERR_INVALID_ARG_TYPE');
  });
  test('a name another architecture has is ignored here', async () => {
    const elsewhere = process.arch === 'x64' ? 'socketcall' : 'iopl';
    expect((await runIsolated('true', [], { seccomp: { deny: [elsewhere] } })).code).toBe(0);
  });
});

describe('noNewPrivileges: false', () => {
  test('the filter is loaded while the capabilities are held (root, or a new user namespace); without them the spawn fails at seccomp with the fix', async () => {
    const inUser = await probe(['keyctl'], { namespaces: ['user'], user: 'root', noNewPrivileges: false });
    expect(inUser.said).toEqual({ keyctl: 'EPERM' });
    if (root) {
      expect((await probe(['keyctl'], { noNewPrivileges: false })).said).toEqual({ keyctl: 'EPERM' });
      return;
    }
    const e = await runIsolated('true', [], { noNewPrivileges: false }).then(() => undefined, (err: Error) => err);
    expect(e).toMatchObject({ code: 'EACCES', step: 'seccomp', syscall: 'seccomp', hint: expect.stringContaining("add 'user' to namespaces") });
    expect((await probe(['keyctl'], { noNewPrivileges: false, seccomp: false, allowUserNamespaces: true })).said).toEqual({ keyctl: 'ok' });
  });
});

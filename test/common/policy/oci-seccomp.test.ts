// An OCI `linux.seccomp` compiled by compileOciSeccomp (the door nsjs-oci
// uses, issue 22) and loaded for real: the spawn path takes the compiled
// filter as the `seccomp` option's, and a probe inside sees each rule's
// action; an allow-list profile (defaultAction SCMP_ACT_ERRNO, as Docker's)
// runs sh.
import { checkOptions } from '../../../lib/spawn/options';
import { spawnChecked } from '../../../lib/spawn/spawn';
import { compileOciSeccomp, type OciSeccomp } from '../../../lib/policy/oci-seccomp';
import { SYSCALLS_ARM64, SYSCALLS_X64 } from '../../../lib/policy/syscalls';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { ERRNO_NAME, cProbe } from '../../helpers/probe';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const PROBE = `${ERRNO_NAME}
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
// argv: pairs of (syscall, arg0): prints what each said.
int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    long r = syscall(atol(argv[i]), strtoul(argv[i + 1], NULL, 0), 0, 0, 0);
    printf("%s\\n", r < 0 ? ERR() : "ok");
  }
  return 0;
}
`;

const table = process.arch === 'arm64' ? SYSCALLS_ARM64 : SYSCALLS_X64;

async function run(spec: OciSeccomp, command: string, args: string[]): Promise<string> {
  const c = checkOptions({ seccomp: false, allowUserNamespaces: true, stdio: 'pipe' });
  c.seccomp = compileOciSeccomp(spec);
  const p = await spawnChecked(command, args, c);
  let out = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  await new Promise((r) => p.stdout!.on('end', r));
  await p.wait();
  for (const stream of [p.stdin, p.stdout, p.stderr]) stream?.destroy();
  return out;
}

test('actions, errnoRet and argument comparisons (SCMP_CMP_MASKED_EQ reads value as the mask), first rule of a syscall first', async () => {
  const spec: OciSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['getpgid'], action: 'SCMP_ACT_ERRNO', errnoRet: 42, args: [{ index: 0, value: 0xf0, valueTwo: 0x10, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['getpgid'], action: 'SCMP_ACT_ERRNO', errnoRet: 7, args: [{ index: 0, value: 1000, op: 'SCMP_CMP_GE' }] },
      { names: ['getsid'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 5, op: 'SCMP_CMP_EQ' }, { index: 0, value: 6, op: 'SCMP_CMP_EQ' }] },
      { names: ['no_such_syscall_anywhere'], action: 'SCMP_ACT_KILL' },
    ],
  };
  const g = table.getpgid, s = table.getsid;
  const out = await run(spec, cProbe('oci-seccomp', PROBE), [g, 0x13, g, 0x20, g, 5000, g, 0, s, 5, s, 6, s, 0].map(String));
  // 0x13 & 0xf0 == 0x10 → 42 (ENOMSG); 0x20 → getpgid's own ESRCH; 5000 >= 1000 → 7 (E2BIG); 0 → ok; getsid 5 or 6 (a repeated index: ORed) → EPERM.
  expect(out.split('\n').filter(Boolean)).toEqual(['ENOMSG', 'ESRCH', 'E2BIG', 'ok', 'EPERM', 'EPERM', 'ok']);
});

test('an allow-list profile (defaultAction SCMP_ACT_ERRNO) runs what it lists and refuses the rest', async () => {
  const allowed = ['execve', 'brk', 'mmap', 'munmap', 'mprotect', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'rseq', 'prlimit64', 'getrandom',
    'openat', 'newfstatat', 'fstat', 'read', 'write', 'close', 'pread64', 'access', 'faccessat', 'faccessat2', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn',
    'getpid', 'getppid', 'getuid', 'geteuid', 'getgid', 'getegid', 'exit_group', 'exit', 'ioctl', 'fcntl', 'lseek', 'uname', 'readlink', 'readlinkat', 'getcwd', 'sysinfo', 'futex'];
  const spec: OciSeccomp = { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, syscalls: [{ names: allowed, action: 'SCMP_ACT_ALLOW' }] };
  // chdir is not listed: the shell's cd fails, its echo works.
  expect(await run(spec, '/bin/sh', ['-c', 'echo in; cd / || echo refused'])).toBe('in\nrefused\n');
});

test('actions nsjs cannot take and unknown comparisons are refused before anything starts', () => {
  expect(() => compileOciSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY' })).toThrow(/SCMP_ACT_NOTIFY is not supported/);
  expect(() => compileOciSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_WAT' }] }] })).toThrow(/SCMP_CMP_WAT/);
  expect(() => compileOciSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] })).toThrow(/argument index/);
});

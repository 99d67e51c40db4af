// init: true's PID 1 and --hold run in nsjs-pid1 (src-native/init/fast.cc
// and pid1.cc), which has no libc at all: no TLS, nothing initialised. So
// it is checked on the machine code of the nsjs-pid1 the suite runs: the
// ELF entry is nsjs_init_entry, which calls nsjs_init_fast and otherwise
// jumps to pid1.cc's _start (the usage message); every reachable
// instruction is in fast.cc's and pid1.cc's own functions (the clone
// trampoline, the command's side and --hold's loop), with no %fs access
// (TLS, the stack protector's canary), no indirect call and no call into
// anything else (it is linked -nostdlib: not even a memset the compiler
// emitted would link). x86-64 only: objdump reads the host's code.
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { pid1Binary } from '../../../lib/core/native';
import { disassemble, reachable, unsafeLines } from '../../helpers/disassemble';

// Skipped elsewhere only: its objdump patterns (%fs:, indirect calls, syscall) are x86-64 machine code; CI runs it.
(process.arch === 'x64' ? test : test.skip)("nsjs-pid1 (init: true's PID 1 and --hold) reaches only its own raw-syscall code: no libc, no TLS", () => {
  const binary = pid1Binary();
  expect(path.basename(binary)).toBe('nsjs-pid1');
  // Freestanding: no interpreter, no TLS, one segment of code and one of bss.
  const segments = execFileSync('readelf', ['-l', '-W', binary], { encoding: 'latin1' });
  expect([...segments.matchAll(/^ {2}([A-Z_]+) +0x/gm)].map((m) => m[1])).toEqual(['LOAD', 'LOAD', 'GNU_STACK']);
  const header = execFileSync('readelf', ['-h', '-s', '-W', binary], { encoding: 'latin1' });
  const entry = /Entry point address:\s+0x([0-9a-f]+)/.exec(header)![1];
  const symbol = new RegExp(`^\\s*\\d+: 0*${entry} .* nsjs_init_entry$`, 'm');
  expect(symbol.test(header)).toBe(true);
  expect(disassemble(binary, 'nsjs_init_entry').targets.sort()).toEqual(['_start', 'nsjs_init_fast']);
  const seen = reachable(binary, ['nsjs_init_fast', '_start']);
  // fast.cc's helpers (Number, IsDashDash, Exit, Hold) are reached where the compiler did not inline them.
  const own = ['_ZN12_GLOBAL__N_16NumberEPKc', '_ZN12_GLOBAL__N_110IsDashDashEPKc', '_ZN12_GLOBAL__N_14ExitEl', '_ZN12_GLOBAL__N_14HoldEv'];
  const names = [...seen.keys()];
  expect(names.filter((n) => !own.includes(n)).sort()).toEqual(['_start', 'nsjs_init_clone', 'nsjs_init_command', 'nsjs_init_fast']);
  expect(unsafeLines(seen)).toEqual([...seen.keys()].map((name) => ({ name, tls: [], indirect: [] })));
  for (const fn of seen.values()) expect(fn.lines.some((l) => l === 'syscall')).toBe(true);
});

test('any argv but the PID-1 mode\'s and --hold\'s gets the usage message and status 2; --hold exits 0 at EOF', () => {
  const run = (args: string[]) => spawnSync(pid1Binary(), args, { encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'] });
  for (const args of [[], ['--park'], ['--enter', '3'], ['1', '2', '3', '1', '/bin/true', '/bin/true'], ['x', '2', '3', '1', '/bin/true', '--', 'true']]) {
    const r = run(args);
    expect([args, r.status, r.stdout, r.stderr]).toEqual([args, 2, '', expect.stringMatching(/^nsjs-init: started by nsjs only \(/)]);
  }
  expect(run(['--hold'])).toMatchObject({ status: 0, stdout: '', stderr: '' });
});

// nsjs-init's PID-1 mode and --hold run from its entry point before glibc's start-up
// (src-native/init/fast.cc): no TLS, no libc initialised. So it is checked
// on the machine code of the nsjs-init the suite runs: the ELF entry is
// nsjs_init_entry, which calls nsjs_init_fast and otherwise jumps to
// glibc's _start; from nsjs_init_fast every reachable instruction is in
// fast.cc's own functions (the clone trampoline, the command's side and
// --hold's loop), with no %fs access (TLS, the stack protector's canary), no indirect call
// and no call into libc (not even a memset the compiler emitted). x86-64
// only: objdump reads the host's code.
import { execFileSync } from 'node:child_process';

import { initBinary } from '../../../lib/core/native';
import { disassemble, reachable, unsafeLines } from '../../helpers/disassemble';

(process.arch === 'x64' ? test : test.skip)("nsjs-init's PID-1 and --hold start-up reaches only its own raw-syscall code: no libc, no TLS", () => {
  const binary = initBinary();
  const header = execFileSync('readelf', ['-h', '-s', '-W', binary], { encoding: 'latin1' });
  const entry = /Entry point address:\s+0x([0-9a-f]+)/.exec(header)![1];
  const symbol = new RegExp(`^\\s*\\d+: 0*${entry} .* nsjs_init_entry$`, 'm');
  expect(symbol.test(header)).toBe(true);
  expect(disassemble(binary, 'nsjs_init_entry').targets.sort()).toEqual(['_start', 'nsjs_init_fast']);
  const seen = reachable(binary, ['nsjs_init_fast']);
  // fast.cc's helpers (Number, IsDashDash, Exit, Hold) are reached where the compiler did not inline them.
  const own = ['_ZN12_GLOBAL__N_16NumberEPKc', '_ZN12_GLOBAL__N_110IsDashDashEPKc', '_ZN12_GLOBAL__N_14ExitEl', '_ZN12_GLOBAL__N_14HoldEv'];
  const names = [...seen.keys()];
  expect(names.filter((n) => !own.includes(n)).sort()).toEqual(['nsjs_init_clone', 'nsjs_init_command', 'nsjs_init_fast']);
  expect(unsafeLines(seen)).toEqual([...seen.keys()].map((name) => ({ name, tls: [], indirect: [] })));
  for (const fn of seen.values()) expect(fn.lines.some((l) => l === 'syscall')).toBe(true);
});

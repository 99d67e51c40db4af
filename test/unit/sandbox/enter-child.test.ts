// The first child of a sandbox command runs beside the pool thread that
// cloned it, on Node's memory and with that thread's TLS (CLONE_VM without
// CLONE_VFORK: src-native/sandbox/enter.cc). What makes that safe is a
// property of the machine code, so it is checked on the machine code: the
// addon the suite loads, disassembled. From EnterChildMain on, every
// instruction the child can reach is its own or RawFail's: no call into
// glibc (whose failing calls write errno), no PLT, no TLS access (%fs), and
// only raw `syscall`s. x86-64 only: objdump reads the host's code.
import * as path from 'node:path';

import { reachable, unsafeLines } from '../../helpers/disassemble';

const ROOT = path.join(__dirname, '../../..');
const ENTRY = '_ZN4nsjs5spawn14EnterChildMainEPv';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const addon: string = require('node-gyp-build').path(ROOT);

(process.arch === 'x64' ? test : test.skip)('the first child of a sandbox command reaches only raw syscalls: no libc, no PLT, no TLS', () => {
  const seen = reachable(addon, [ENTRY]);
  // RawFail (its report and exit) is the one function it calls.
  expect([...seen.keys()].sort()).toEqual([ENTRY, '_ZN4nsjs5spawn12_GLOBAL__N_17RawFailEPKNS0_4PlanEml'].sort());
  expect(unsafeLines(seen)).toEqual([...seen.keys()].map((name) => ({ name, tls: [], indirect: [] })));
  for (const fn of seen.values()) expect(fn.lines.some((l) => l === 'syscall')).toBe(true);
});

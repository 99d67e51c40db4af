// The first child of a sandbox command runs beside the pool thread that
// cloned it, on Node's memory and with that thread's TLS (CLONE_VM without
// CLONE_VFORK: src-native/sandbox/enter.cc). What makes that safe is a
// property of the machine code, so it is checked on the machine code: the
// addon the suite loads, disassembled. From EnterChildMain on, every
// instruction the child can reach is its own or RawFail's: no call into
// glibc (whose failing calls write errno), no PLT, no TLS access (%fs), and
// only raw `syscall`s. x86-64 only: objdump reads the host's code.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '../../..');
const ENTRY = '_ZN4nsjs5spawn14EnterChildMainEPv';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const addon: string = require('node-gyp-build').path(ROOT);

interface Fn {
  lines: string[];
  targets: string[];
}

function disassemble(symbol: string): Fn {
  const out = execFileSync('objdump', ['-d', '--no-show-raw-insn', `--disassemble=${symbol}`, addon], { encoding: 'latin1' });
  const start = out.indexOf(`<${symbol}>:\n`);
  if (start < 0) throw new Error(`${symbol} is not in ${addon} (stripped?)`);
  const body = out.slice(start).split('\n\n')[0].split('\n').slice(1);
  const lines = body.filter((l) => /^\s+[0-9a-f]+:\t/.test(l)).map((l) => l.split('\t').slice(1).join(' ').trim());
  // Every call or jump that names a symbol other than this function itself.
  const targets = lines.flatMap((l) => {
    const m = /^(?:call|jmp|j[a-z]+)\s+[0-9a-f]+ <([^>+]+)(?:\+0x[0-9a-f]+)?>/.exec(l);
    return m && m[1] !== symbol ? [m[1]] : [];
  });
  return { lines, targets };
}

(process.arch === 'x64' ? test : test.skip)('the first child of a sandbox command reaches only raw syscalls: no libc, no PLT, no TLS', () => {
  const seen = new Map<string, Fn>();
  const todo = [ENTRY];
  while (todo.length) {
    const name = todo.pop()!;
    if (seen.has(name)) continue;
    const fn = disassemble(name);
    seen.set(name, fn);
    todo.push(...fn.targets);
  }
  // RawFail (its report and exit) is the one function it calls.
  expect([...seen.keys()].sort()).toEqual([ENTRY, '_ZN4nsjs5spawn12_GLOBAL__N_17RawFailEPKNS0_4PlanEml'].sort());
  for (const [name, fn] of seen) {
    expect({ name, tls: fn.lines.filter((l) => /%fs:/.test(l)) }).toEqual({ name, tls: [] });
    // An indirect call or jump (through a register or memory) could go anywhere.
    expect({ name, indirect: fn.lines.filter((l) => /^(call|jmp)\s+\*/.test(l)) }).toEqual({ name, indirect: [] });
    expect(fn.lines.some((l) => l === 'syscall')).toBe(true);
  }
});

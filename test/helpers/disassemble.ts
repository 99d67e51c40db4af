// One function of a binary as objdump disassembles it, for the tests that
// check a property of the machine code itself (code that runs without
// libc's per-thread state). x86-64 only: objdump reads the host's code.
import { execFileSync } from 'node:child_process';

export interface Fn {
  /** The instructions, without addresses or bytes. */
  lines: string[];
  /** Every function it calls or jumps to by name, other than itself. */
  targets: string[];
}

export function disassemble(binary: string, symbol: string): Fn {
  const out = execFileSync('objdump', ['-d', '--no-show-raw-insn', `--disassemble=${symbol}`, binary], { encoding: 'latin1' });
  const start = out.indexOf(`<${symbol}>:\n`);
  if (start < 0) throw new Error(`${symbol} is not in ${binary} (stripped?)`);
  const body = out.slice(start).split('\n\n')[0].split('\n').slice(1);
  const lines = body.filter((l) => /^\s+[0-9a-f]+:\t/.test(l)).map((l) => l.split('\t').slice(1).join(' ').trim());
  const targets = lines.flatMap((l) => {
    const m = /^(?:call|jmp|j[a-z]+)\s+[0-9a-f]+ <([^>+]+)(?:\+0x[0-9a-f]+)?>/.exec(l);
    return m && m[1] !== symbol ? [m[1]] : [];
  });
  return { lines, targets };
}

/** Every function reachable by name from `entries` (`stop`: names not followed), each disassembled. */
export function reachable(binary: string, entries: string[], stop: string[] = []): Map<string, Fn> {
  const seen = new Map<string, Fn>();
  const todo = [...entries];
  while (todo.length) {
    const name = todo.pop()!;
    if (seen.has(name) || stop.includes(name)) continue;
    const fn = disassemble(binary, name);
    seen.set(name, fn);
    todo.push(...fn.targets);
  }
  return seen;
}

/** The instructions of `fns` that would reach libc's per-thread state or an unknown target: %fs accesses, indirect calls and jumps. */
export function unsafeLines(fns: Map<string, Fn>): { name: string; tls: string[]; indirect: string[] }[] {
  return [...fns].map(([name, fn]) => ({
    name,
    tls: fn.lines.filter((l) => /%fs:/.test(l)),
    // An indirect call or jump (through a register or memory) could go anywhere.
    indirect: fn.lines.filter((l) => /^(call|jmp)\s+\*/.test(l)),
  }));
}

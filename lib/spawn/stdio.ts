// stdio: the `stdio` option, as child_process takes it; the pipes and
// /dev/null opened for it just before clone (openStdio); and the op that
// installs them as the command's fds 0..n-1.
import * as fs from 'node:fs';

import { NsError, check, invalidArgType, invalidArgValue } from '../core/errors';
import { closeFd, native } from '../core/native';
import type { Add } from '../core/plan';
import { integer } from '../core/validate';

/** One entry of `stdio`: a new pipe, our own fd of that number, /dev/null, or an fd of ours. */
export type StdioEntry = 'pipe' | 'inherit' | 'ignore' | number | null | undefined;

/** stdio's op (OpKind in src-native/spawn/plan.h). */
export const StdioOp = {
  Stdio: 15,
} as const;

export function checkStdio(value: unknown): StdioEntry[] {
  if (value === undefined) return ['pipe', 'pipe', 'pipe'];
  if (value === 'pipe' || value === 'inherit' || value === 'ignore') return [value, value, value];
  if (!Array.isArray(value)) throw invalidArgType('options.stdio', "'pipe', 'inherit', 'ignore' or an array", value);
  if (value.length > 64) throw invalidArgValue('options.stdio', value, 'must have at most 64 entries');
  // Array.from visits holes as undefined (the default), where map would skip them and shift the fds that follow.
  const out = Array.from(value, (e: unknown, i): StdioEntry => {
    if (e === 'pipe' || e === 'inherit' || e === 'ignore' || e === null || e === undefined) return e;
    if (typeof e === 'number') return integer(e, `options.stdio[${i}]`);
    throw invalidArgValue(`options.stdio[${i}]`, e, "must be 'pipe', 'inherit', 'ignore', an fd or null");
  });
  while (out.length < 3) out.push(undefined);
  return out;
}

/** stdio as the child installs it: an fd per index, -1 inherit, -2 closed. */
export interface StdioFds {
  child: number[];
}

export interface Stdio {
  child: number[];
  /** Our ends of 'pipe' entries, by index. */
  parent: (number | undefined)[];
  /** Everything to close once the child has exec'd (or failed); all the addon's, closed with closeFd. */
  toClose: number[];
}

export function openStdio(entries: readonly StdioEntry[]): Stdio {
  const s: Stdio = { child: [], parent: [], toClose: [] };
  try {
    entries.forEach((e, i) => {
      if (e === 'pipe' || ((e === undefined || e === null) && i < 3)) {
        const fds = native().pipe();
        if (typeof fds === 'number') throw new NsError({ errno: fds, syscall: 'pipe2' });
        const [r, w] = fds;
        s.child.push(i === 0 ? r : w);
        s.parent.push(i === 0 ? w : r);
        s.toClose.push(i === 0 ? r : w);
      } else if (e === 'ignore' && i < 3) {
        const fd = check(native().open('/dev/null', i === 0 ? fs.constants.O_RDONLY : fs.constants.O_WRONLY), 'open', '/dev/null');
        s.child.push(fd);
        s.parent.push(undefined);
        s.toClose.push(fd);
      } else if (e === 'inherit') {
        s.child.push(-1);
        s.parent.push(undefined);
      } else if (typeof e === 'number') {
        s.child.push(e);
        s.parent.push(undefined);
      } else {
        s.child.push(-2);
        s.parent.push(undefined);
      }
    });
  } catch (err) {
    for (const fd of [...s.toClose, ...s.parent]) if (fd !== undefined) closeFd(fd);
    throw err;
  }
  return s;
}

/** Installs the stdio fds in the child, after the mounts and the working directory. */
export function planStdio(add: Add): void {
  add({ kind: StdioOp.Stdio }, { step: 'stdio', syscall: 'dup2' });
}

// Which fds a sandboxed command holds, as it sees them.
import * as fs from 'node:fs';

import { runIsolated, type SpawnOptions } from '../../lib';

/**
 * sh that prints its open fds (up to `$1`) without opening one to look: `ls`
 * or a glob over /proc/self/fd would list the directory fd it reads through.
 * `[ -h ]` is an lstat, and every word here is a builtin of dash.
 */
export const LIST_FDS = 'i=0; while [ $i -le $1 ]; do [ -h /proc/self/fd/$i ] && printf "%s " $i; i=$((i+1)); done; echo';

/** `$1` for LIST_FDS: a leaked fd keeps its number in the child, so a little past our highest covers it. */
export const listLimit = (): string => String(Math.max(...fs.readdirSync('/proc/self/fd').map(Number)) + 64);

/** LIST_FDS's line as numbers. */
export const fdList = (line: string): number[] => line.trim().split(/\s+/).filter(Boolean).map(Number);

/** The fds `sh` sees under these options, and the lines `first` (more shell) printed before. */
export async function fdsInside(options: SpawnOptions, first = ':'): Promise<{ fds: number[]; out: string[] }> {
  const r = await runIsolated('sh', ['-c', `${first}; ${LIST_FDS}`, 'sh', listLimit()], options);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  const lines = r.stdout.split('\n');
  return { fds: fdList(lines[lines.length - 2]), out: lines.slice(0, -2) };
}

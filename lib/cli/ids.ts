// Numbers, user and group names, and id ranges as util-linux reads them.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

import { UsageError } from './args';

/** strtoul_or_err: a decimal number or the message util-linux prints. */
export function unsignedArg(value: string, what: string, max = 0xfffffffe): number {
  if (!/^[0-9]+$/.test(value) || Number(value) > max) throw new UsageError(`failed to parse ${what}: '${value}'`);
  return Number(value);
}

/** strtos64_or_err. */
export function signedArg(value: string, what: string): number {
  if (!/^[+-]?[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`failed to parse ${what}: '${value}'`);
  return Number(value);
}

/**
 * Entries of an NSS database (passwd, group) as getent(1) prints them, so
 * that names resolve as util-linux's getpwnam does (files, LDAP, systemd
 * users...); the files alone where there is no getent.
 */
function getent(db: 'passwd' | 'group', key?: string): string[][] {
  let text: string;
  try {
    text = execFileSync('getent', key === undefined ? [db] : [db, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (e) {
    // 2: no such entry. Anything else (no getent): the file.
    if ((e as { status?: number }).status === 2) return [];
    try {
      text = fs.readFileSync(`/etc/${db}`, 'utf8');
    } catch {
      return [];
    }
    if (key !== undefined) return text.split('\n').map((l) => l.split(':')).filter((f) => f.length > 2 && (f[0] === key || f[2] === key));
  }
  return text.split('\n').map((l) => l.split(':')).filter((f) => f.length > 2 && /^[0-9]+$/.test(f[2]));
}

function lookup(db: 'passwd' | 'group', name: string): number | undefined {
  const entry = getent(db, name).find((f) => f[0] === name);
  return entry ? Number(entry[2]) : undefined;
}

/** A uid as a number or a user name (NSS, as getpwnam). */
export function userArg(value: string): number {
  if (/^[0-9]+$/.test(value)) return unsignedArg(value, 'uid');
  const uid = lookup('passwd', value);
  if (uid === undefined) throw new UsageError(`failed to parse uid '${value}'`);
  return uid;
}

export function groupArg(value: string): number {
  if (/^[0-9]+$/.test(value)) return unsignedArg(value, 'gid');
  const gid = lookup('group', value);
  if (gid === undefined) throw new UsageError(`failed to parse gid '${value}'`);
  return gid;
}

/** The passwd entry of `uid` (NSS, as getpwuid): its name and login shell. */
export function passwdEntry(uid: number): { name: string; shell: string } | undefined {
  const f = getent('passwd', String(uid)).find((e) => e[2] === String(uid));
  return f ? { name: f[0], shell: f[6] ?? '' } : undefined;
}

/** A user name for a uid, as lsns's USER column; the number where there is none. */
export function userName(uid: number, passwd = readPasswd()): string {
  return passwd.get(uid) ?? String(uid);
}

/** Every user NSS enumerates, by uid (the first name of each). */
export function readPasswd(): Map<number, string> {
  const out = new Map<number, string>();
  for (const f of getent('passwd')) if (!out.has(Number(f[2]))) out.set(Number(f[2]), f[0]);
  return out;
}

export interface Range {
  /** undefined: an `auto` range, from 0 after any single mapping (unshare's inner -1). */
  inner?: number;
  outer: number;
  count: number;
}

/** unshare's get_map_range: `inner:outer:count` (util-linux 2.39+) or `outer,inner,count` (2.38). */
export function rangeArg(value: string, option: string): Range {
  let m = /^([0-9]+):([0-9]+):([0-9]+)$/.exec(value);
  if (m) return { inner: Number(m[1]), outer: Number(m[2]), count: Number(m[3]) };
  m = /^([0-9]+),([0-9]+),([0-9]+)$/.exec(value);
  if (m) return { outer: Number(m[1]), inner: Number(m[2]), count: Number(m[3]) };
  throw new UsageError(`invalid mapping '${value}' for ${option}: use INNER:OUTER:COUNT`);
}

/**
 * unshare's read_subid_range: the first /etc/subuid (subgid) line of `user`
 * (by name or uid); `identity` maps it to itself, else from 0.
 */
export function subidRange(file: string, uid: number, identity: boolean): Range {
  const name = passwdEntry(uid)?.name;
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`could not open '${file}'`);
  }
  for (const line of text.split('\n')) {
    const [who, start, count] = line.split(':');
    if (count === undefined || (who !== name && who !== String(uid))) continue;
    const outer = Number(start);
    return identity ? { outer, inner: outer, count: Number(count) } : { outer, count: Number(count) };
  }
  throw new UsageError(`no line matching user "${name ?? uid}" in ${file}`);
}

/** unshare's --map-users=all: every id of our own uid_map (gid_map), mapped to itself. */
export function kernelRanges(file: string): Range[] {
  return fs
    .readFileSync(file, 'latin1')
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isInteger))
    .map(([start, , count]) => ({ inner: start, outer: start, count }));
}

/**
 * unshare's add_single_map_range: puts the single mapping `outer` → `inner`
 * first and cuts one id out of each range it overlaps, keeping the ranges
 * dense (the topmost id of a range is the one dropped), so that the result is
 * the same uid_map util-linux writes. `inner` undefined: no single mapping.
 */
export function addSingle(ranges: Range[], outer: number, inner: number | undefined): Required<Range>[] {
  if (inner === undefined) return ranges.map((r) => ({ ...r, inner: r.inner ?? 0 }));
  const out: Required<Range>[] = [];
  for (const map of ranges) {
    // An auto range starts at 0 and loses no id (master's 872c84e7c): the
    // single mapping's outer id is ours, outside the subordinate ones; the
    // split below moves it past the single mapping's inner id.
    const m = { ...map, inner: map.inner ?? 0 };
    if (map.inner !== undefined && ((outer >= m.outer && outer <= m.outer + m.count) || (inner >= m.inner && inner <= m.inner + m.count))) m.count--;
    const outerOffset = Math.min(outer > m.outer ? outer - m.outer : 0, m.count);
    const innerOffset = Math.min(inner > m.inner ? inner - m.inner : 0, m.count);
    const lo: Required<Range> = { outer: m.outer, inner: m.inner, count: Math.min(innerOffset, outerOffset) };
    const mid: Required<Range> = { outer: lo.outer + lo.count, inner: lo.inner + lo.count, count: Math.abs(outerOffset - innerOffset) };
    if (mid.outer === outer) mid.outer++;
    if (mid.inner === inner) mid.inner++;
    const hi: Required<Range> = { outer: mid.outer + mid.count, inner: mid.inner + mid.count, count: m.count - lo.count - mid.count };
    if (hi.outer === outer) hi.outer++;
    if (hi.inner === inner) hi.inner++;
    for (const piece of [lo, mid, hi]) if (piece.count > 0) out.push(piece);
  }
  return [{ inner, outer, count: 1 }, ...out];
}

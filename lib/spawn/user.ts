// user: the maps of a new user namespace. `'root'` and `'self'` map our
// own ids, written by the child itself; explicit ranges (UserMapping) are
// written by the parent, which the child waits for. Validated here, planned
// first after any join (every later step needs the capabilities the maps
// make meaningful).
import { invalidArgType, invalidArgValue } from '../core/errors';
import type { NamespaceType } from '../core/nstypes';
import { SharedOp, type Add, type NativePlan } from '../core/plan';
import { integer, knownKeys, needs, plainObject } from '../core/validate';

/** One line of a uid_map or gid_map: `count` ids from `outside` appear as `inside`. */
export interface IdMap {
  /** First id inside the new user namespace. */
  inside: number;
  /** First id outside (in our user namespace). */
  outside: number;
  /** How many ids; more than one (or another id than yours) needs root (CAP_SETUID/CAP_SETGID). */
  count: number;
}

/** Explicit maps for a new user namespace, written by the parent (needs privilege for ranges). */
export interface UserMapping {
  /** Lines of `/proc/<pid>/uid_map` (at most 340). */
  uidMap: IdMap[];
  /** Lines of `/proc/<pid>/gid_map` (at most 340). */
  gidMap: IdMap[];
  /** `'deny'` is required for an unprivileged gid map; default `'deny'` unless the gid map needs privilege anyway. */
  setgroups?: 'allow' | 'deny';
}

/** `user` checked. */
export type CheckedUser = 'root' | 'self' | UserMapping;

function idMaps(value: unknown, name: string): IdMap[] {
  if (!Array.isArray(value)) throw invalidArgType(name, 'an array of { inside, outside, count }', value);
  if (value.length === 0 || value.length > 340) throw invalidArgValue(name, value, 'must have 1 to 340 entries');
  // Array.from, not map: a hole is an entry too (undefined), not one to skip.
  const maps = Array.from(value, (entry: unknown, i) => {
    const m = plainObject(entry, `${name}[${i}]`);
    knownKeys(m, ['inside', 'outside', 'count'], `${name}[${i}]`);
    return {
      inside: integer(m.inside, `${name}[${i}].inside`, 0, 0xfffffffe),
      outside: integer(m.outside, `${name}[${i}].outside`, 0, 0xfffffffe),
      count: integer(m.count, `${name}[${i}].count`, 1, 0xffffffff),
    };
  });
  // The kernel refuses overlapping ranges on either side; say which ones here.
  for (const side of ['inside', 'outside'] as const) {
    const sorted = [...maps].sort((a, b) => a[side] - b[side]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i - 1][side] + sorted[i - 1].count > sorted[i][side])
        throw invalidArgValue(name, value, `has overlapping ${side} ranges`);
    }
  }
  return maps;
}

function user(value: unknown): 'root' | 'self' | UserMapping {
  if (value === 'root' || value === 'self') return value;
  if (typeof value === 'string') throw invalidArgValue('options.user', value, "must be 'root', 'self' or { uidMap, gidMap }");
  const u = plainObject(value, 'options.user');
  knownKeys(u, ['uidMap', 'gidMap', 'setgroups'], 'options.user');
  if (u.setgroups !== undefined && u.setgroups !== 'allow' && u.setgroups !== 'deny')
    throw invalidArgValue('options.user.setgroups', u.setgroups, "must be 'allow' or 'deny'");
  return {
    uidMap: idMaps(u.uidMap, 'options.user.uidMap'),
    gidMap: idMaps(u.gidMap, 'options.user.gidMap'),
    setgroups: u.setgroups as 'allow' | 'deny' | undefined,
  };
}

/** `user`, which needs a new user namespace; `'self'` by default there. */
export function checkUser(o: Readonly<Record<string, unknown>>, namespaces: ReadonlySet<NamespaceType>): CheckedUser | undefined {
  needs(o, 'user', namespaces, 'user');
  if (namespaces.has('user')) return o.user === undefined ? 'self' : user(o.user);
  return undefined;
}

function mapLines(maps: { inside: number; outside: number; count: number }[]): string {
  return maps.map((m) => `${m.inside} ${m.outside} ${m.count}\n`).join('');
}

/** The maps' ops: written by the child, or waited for while the parent writes them. */
export function planUser(user: CheckedUser | undefined, native: NativePlan, add: Add): void {
  if (user === 'root' || user === 'self') {
    const uid = process.geteuid!();
    const gid = process.getegid!();
    const inside = user === 'root' ? [0, 0] : [uid, gid];
    // Written by the child itself: a single line mapping its own ids, which
    // the kernel allows only with setgroups denied.
    for (const [file, data] of [
      ['setgroups', 'deny'],
      ['uid_map', `${inside[0]} ${uid} 1\n`],
      ['gid_map', `${inside[1]} ${gid} 1\n`],
    ]) {
      add({ kind: SharedOp.WriteFile, s: [`/proc/self/${file}`, data] }, { step: `write ${file}`, syscall: 'write', path: `/proc/self/${file}` });
    }
  } else if (user) {
    native.parentMaps = true;
    native.uidMap = mapLines(user.uidMap);
    native.gidMap = mapLines(user.gidMap);
    const setgroups = user.setgroups ?? (process.geteuid!() === 0 ? undefined : 'deny');
    if (setgroups) native.setgroups = setgroups;
    add({ kind: SharedOp.WaitParent }, { step: 'wait for uid/gid maps', syscall: 'read' });
  }
}

/**
 * Whether the new user namespace refuses setgroups (its `setgroups` file
 * says deny), so that the groups we hold cannot be changed there: the
 * command keeps them, as every process in such a namespace does.
 */
export function setgroupsDenied(user: CheckedUser | undefined, native: NativePlan): boolean {
  return user === 'root' || user === 'self' || native.setgroups === 'deny';
}

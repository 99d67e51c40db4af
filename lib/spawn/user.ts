// user: the maps of a new user namespace. `'root'` and `'self'` map our
// own ids, written by the child itself; explicit ranges (UserMapping) and
// `'auto'` are written by the parent, which the child waits for, through
// newuidmap/newgidmap where they are more than an unprivileged caller's own
// id; `'none'` writes nothing. Validated here, planned first after any join
// (every later step needs the capabilities the maps make meaningful).
import * as fs from 'node:fs';
import * as os from 'node:os';

import { invalidArgType, invalidArgValue } from '../core/errors';
import type { NamespaceType } from '../core/nstypes';
import { SharedOp, type Add, type NativePlan } from '../core/plan';
import { integer, knownKeys, needs, plainObject, record } from '../core/validate';
import { NsOp } from '../ns/plan';
import { PolicyOp } from '../policy/plan';

/** One line of a uid_map or gid_map: `count` ids from `outside` appear as `inside`. */
export interface IdMap {
  /** First id inside the new user namespace. */
  inside: number;
  /** First id outside (in our user namespace). */
  outside: number;
  /** How many ids; more than one (or another id than yours) needs root (CAP_SETUID/CAP_SETGID). */
  count: number;
}

/**
 * Explicit maps for a new user namespace, written by the parent. As root
 * any ranges; unprivileged, your own id alone is written directly and
 * anything else goes through newuidmap/newgidmap (Debian's and Fedora's
 * `uidmap`/`shadow-utils`), which allow the ranges /etc/subuid and
 * /etc/subgid give you. The command runs as uid 0 / gid 0 inside when the
 * map covers 0 and `uid`/`gid` are not given; otherwise they must be.
 * What a hostile program inside can do: act as every id of the map on
 * files those ids own outside (through binds), and nothing as ids the map
 * leaves out.
 */
export interface UserMapping {
  /** Lines of `/proc/<pid>/uid_map` (at most 340). Left out: no uid is mapped (every uid shows as the overflow id, 65534). */
  uidMap?: IdMap[];
  /** Lines of `/proc/<pid>/gid_map` (at most 340). Left out: no gid is mapped. */
  gidMap?: IdMap[];
  /** `'deny'` is required for a gid map an unprivileged caller writes itself; default `'deny'` there, else left as the kernel makes it (allow). */
  setgroups?: 'allow' | 'deny';
  /**
   * The namespace's owner (unshare `--owner`): a child that has become
   * `uid`:`gid` (supplementary groups cleared) makes it with unshare(2),
   * with every other new namespace, so they all belong to that user, and we
   * write the maps it could not. The command keeps these ids (shown inside
   * as what the maps make of them, or the overflow id) unless `uid`/`gid`
   * are given. Needs CAP_SETUID and CAP_SETGID (root) for ids not your own.
   * Costs a copy of our page tables (a fork-style clone), as every map the
   * parent writes. What a hostile program inside can do: what that user
   * could do outside, and, as the namespace's creator, hold every
   * capability in it (and in the namespaces it owns) until its exec, or
   * after it where the maps make it root there; from outside, that user's
   * processes (not root only) can setns into it and ptrace it.
   */
  owner?: { uid: number; gid: number };
}

/** `user` checked: `'auto'` is settled into maps from /etc/subuid and /etc/subgid. */
export type CheckedUser = 'root' | 'self' | 'none' | UserMapping;

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

/**
 * The first /etc/subuid (subgid) range of `user` (by name or uid), as
 * newuidmap and unshare --map-auto read it; undefined where there is none.
 */
export function subordinateRange(file: string, name: string, uid: number): { start: number; count: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [who, start, count] = line.split(':');
    if (count !== undefined && (who === name || who === String(uid)) && /^[0-9]+$/.test(start) && /^[0-9]+$/.test(count))
      return { start: Number(start), count: Number(count) };
  }
  return undefined;
}

/** `'auto'`: root to us, 1… to our subordinate ranges (as podman and unshare --map-auto -r). */
function autoMaps(): UserMapping {
  const uid = process.geteuid!();
  const gid = process.getegid!();
  const name = os.userInfo().username;
  const side = (file: string, own: number): IdMap[] => {
    const range = subordinateRange(file, name, uid);
    if (!range) throw invalidArgValue('options.user', 'auto', `needs a range of ${name} in ${file} (see nsjs doctor)`);
    return [{ inside: 0, outside: own, count: 1 }, { inside: 1, outside: range.start, count: range.count }];
  };
  return { uidMap: side('/etc/subuid', uid), gidMap: side('/etc/subgid', gid) };
}

function user(value: unknown): CheckedUser {
  if (value === 'root' || value === 'self' || value === 'none') return value;
  if (value === 'auto') return autoMaps();
  if (typeof value === 'string') throw invalidArgValue('options.user', value, "must be 'root', 'self', 'auto', 'none' or { uidMap?, gidMap?, setgroups? }");
  const u = plainObject(value, 'options.user');
  knownKeys(u, ['uidMap', 'gidMap', 'setgroups', 'owner'], 'options.user');
  if (u.setgroups !== undefined && u.setgroups !== 'allow' && u.setgroups !== 'deny')
    throw invalidArgValue('options.user.setgroups', u.setgroups, "must be 'allow' or 'deny'");
  // Null-prototype: a map or owner left out must not be read from Object.prototype (impliedId, the plan).
  const m: UserMapping = record({});
  if (u.uidMap !== undefined) m.uidMap = idMaps(u.uidMap, 'options.user.uidMap');
  if (u.gidMap !== undefined) m.gidMap = idMaps(u.gidMap, 'options.user.gidMap');
  if (u.setgroups !== undefined) m.setgroups = u.setgroups as 'allow' | 'deny';
  if (u.owner !== undefined) {
    const owner = plainObject(u.owner, 'options.user.owner');
    knownKeys(owner, ['uid', 'gid'], 'options.user.owner');
    m.owner = { uid: integer(owner.uid, 'options.user.owner.uid', 0, 0xfffffffe), gid: integer(owner.gid, 'options.user.owner.gid', 0, 0xfffffffe) };
  }
  return m;
}

/**
 * The uid (gid) the command runs as in a new user namespace with explicit
 * maps, where `uid` (`gid`) is not given: 0 when the map covers it (as
 * unshare -r), else the option is required, so that the command never keeps
 * an id the map does not cover (shown as the overflow id, it would still act
 * as our id on the host's files). A side left unmapped keeps our id.
 */
export function impliedId(user: CheckedUser | undefined, side: 'uid' | 'gid', given: number | undefined): number | undefined {
  // The owner's ids stay, as with unshare --owner.
  if (given !== undefined || user === undefined || typeof user === 'string' || user.owner) return given;
  const map = side === 'uid' ? user.uidMap : user.gidMap;
  if (!map) return undefined;
  if (map.some((m) => m.inside === 0)) return 0;
  throw invalidArgValue(`options.${side}`, undefined, `must be given when options.user.${side}Map does not map ${side} 0`);
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

/** newuidmap or newgidmap, where installed. */
function mapHelper(name: string): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) if (fs.existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  return undefined;
}

/**
 * The maps' ops: written by the child, or waited for while the parent
 * writes them; `byParent`: always by the parent (an idmapped mount, which
 * the parent makes once they are written).
 */
export function planUser(user: CheckedUser | undefined, native: NativePlan, add: Add, byParent = false): void {
  if (user === 'none' && byParent) {
    // No maps to write, but the child waits for the parent all the same.
    native.parentMaps = true;
    add({ kind: SharedOp.WaitParent }, { step: 'wait for the parent', syscall: 'read' });
    return;
  }
  if (user === 'none') return;
  if ((user === 'root' || user === 'self') && byParent) {
    const inside = user === 'root' ? [0, 0] : [process.geteuid!(), process.getegid!()];
    return planUser({ uidMap: [{ inside: inside[0], outside: process.geteuid!(), count: 1 }], gidMap: [{ inside: inside[1], outside: process.getegid!(), count: 1 }], setgroups: 'deny' }, native, add);
  }
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
    const root = process.geteuid!() === 0;
    // Unprivileged, a map that is more than our own id goes through the
    // setuid helper, which checks it against /etc/subuid (subgid).
    const own = (map: IdMap[], id: number) => map.length === 1 && map[0].count === 1 && map[0].outside === id;
    let helped = false;
    for (const [key, map, id, helper] of [
      ['uid', user.uidMap, process.geteuid!(), 'newuidmap'],
      ['gid', user.gidMap, process.getegid!(), 'newgidmap'],
    ] as const) {
      if (!map) continue;
      native[`${key}Map`] = mapLines(map);
      if (root || own(map, id)) continue;
      const path = mapHelper(helper);
      // Without it the kernel refuses the write (EPERM, with its hint).
      if (path) native[`${key}MapHelper`] = path;
      if (key === 'gid') helped = path !== undefined;
    }
    // An unprivileged gid map we write ourselves needs setgroups denied;
    // newgidmap sees to it itself.
    const setgroups = user.setgroups ?? (!root && user.gidMap && !helped ? 'deny' : undefined);
    if (setgroups) native.setgroups = setgroups;
    // a = 1: the owner's child tells us first that its namespace exists.
    add({ kind: SharedOp.WaitParent, a: user.owner ? 1 : 0 }, { step: 'wait for uid/gid maps', syscall: 'read' });
    // Root inside from here on, as runc's nsexec: what the mounts make in
    // the namespace's own filesystems (a tmpfs, /dev) is then owned by a
    // mapped id; as the caller's id, unmapped there, it fails EOVERFLOW.
    // The policy sets the final ids last, as ever.
    const zero = (map?: IdMap[]) => map?.some((m) => m.inside === 0 && m.count > 0) === true;
    if (zero(user.uidMap) && zero(user.gidMap) && !user.owner) {
      add({ kind: PolicyOp.Setresgid, a: 0 }, { step: 'setresgid 0 in the new user namespace', syscall: 'setresgid' });
      add({ kind: PolicyOp.Setresuid, a: 0 }, { step: 'setresuid 0 in the new user namespace', syscall: 'setresuid' });
    }
  }
}

/**
 * Whether the new user namespace refuses setgroups (its `setgroups` file
 * says deny), so that the groups we hold cannot be changed there: the
 * command keeps them, as every process in such a namespace does.
 */
export function setgroupsDenied(user: CheckedUser | undefined, native: NativePlan): boolean {
  // Without a gid map (none written, or left out) the kernel refuses setgroups too.
  if (user === 'none' || (typeof user === 'object' && !user.gidMap)) return true;
  return user === 'root' || user === 'self' || native.setgroups === 'deny';
}

/**
 * `owner`: the child becomes the owner (supplementary groups cleared, as
 * unshare --owner) and unshares the user namespace with every other new
 * one; a new pid namespace then holds the child it clones once its maps are
 * written (the plan's Fork), a new time namespace our exec. The namespaces
 * then belong to the owner, not to us. Planned after the cgroup is joined
 * (our write, as root). Returns the clone flags left (only namespaces'
 * are there): none.
 */
export function planOwner(owner: { uid: number; gid: number }, flags: number, add: Add): number {
  add({ kind: PolicyOp.Setgroups, b: 1 }, { step: 'setgroups (owner)', syscall: 'setgroups' });
  add({ kind: PolicyOp.Setresgid, a: owner.gid }, { step: `setresgid ${owner.gid} (owner)`, syscall: 'setresgid' });
  add({ kind: PolicyOp.Setresuid, a: owner.uid }, { step: `setresuid ${owner.uid} (owner)`, syscall: 'setresuid' });
  add({ kind: NsOp.Unshare, a: flags }, { step: 'unshare as the owner', syscall: 'unshare' });
  return 0;
}

// The policy ops, the last the child runs before execve: resource limits,
// then the credentials (groups, gid, uid), the capabilities kept, no_new_privs
// and setsid, in the order the kernel needs them (a capability is needed to
// change ids, and changing them clears capabilities unless kept).
import * as fs from 'node:fs';

import type { Add } from '../core/plan';
import { RLIMITS as RLIMIT_NAMES, type PolicyChecked } from './options';

/** policy/'s ops (OpKind in src-native/spawn/plan.h). */
export const PolicyOp = {
  Setgroups: 16,
  Setresgid: 17,
  Setresuid: 18,
  Prctl: 19,
  Setsid: 20,
  Setrlimit: 23,
  Capabilities: 24,
  Seccomp: 80,
  Landlock: 81,
} as const;

const PR_SET_KEEPCAPS = 8;
const PR_SET_NO_NEW_PRIVS = 38;

let capLastCap: number | undefined;
function lastCap(): number {
  capLastCap ??= Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'latin1'));
  return capLastCap;
}

/**
 * The capabilities the command keeps, or undefined where nothing is to be
 * done. `capabilities.keep` as given; without it none, unless the command
 * runs in a new or joined user namespace, whose capabilities reach nothing
 * of ours (bubblewrap's rule): real root in our user namespace would keep
 * CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH (open_by_handle_at), CAP_MKNOD and
 * the rest. `byDefault`: the child skips what the caller cannot drop (a
 * process without capabilities has nothing to drop). Every capability kept
 * in our user namespace by a command that stays uid 0 is nothing to do
 * either, so the sets stay exactly as they are (`nsjs run` asks for that,
 * as unshare leaves them); in a user namespace of its own, keep raises them
 * to ambient as ever (unshare --keep-caps).
 */
function capabilityMask(c: PolicyChecked, inUserNs: boolean): { mask: bigint; byDefault: boolean } | undefined {
  const bits = (list: number[]) => list.reduce((m, bit) => m | (1n << BigInt(bit)), 0n);
  // Read only where needed: a /proc/sys masked over must not fail a spawn that asks nothing of capabilities.
  const all = () => (1n << BigInt(lastCap() + 1)) - 1n;
  const drop = bits(c.dropCapabilities ?? []);
  // `drop` without `keep`: from the namespaced set a user namespace keeps; real root keeps nothing to drop from.
  if (!c.keepCapabilities) return !inUserNs ? { mask: 0n, byDefault: true } : drop === 0n ? undefined : { mask: all() & ~drop, byDefault: false };
  const mask = bits(c.keepCapabilities) & ~drop;
  if (!inUserNs && (mask & all()) === all() && (c.uid === undefined || c.uid === 0)) return undefined;
  return { mask, byDefault: false };
}

/** Where the command runs, as far as its credentials go (spawn/ knows: the user namespace it makes or joins). */
export interface PolicyContext {
  /** In a new user namespace. */
  newUserNs: boolean;
  /** A user namespace is joined. */
  joinedUserNs: boolean;
  /** The new user namespace refuses setgroups (see spawn/user.ts setgroupsDenied). */
  setgroupsDenied: boolean;
}

/**
 * The Landlock ruleset, then the seccomp filter: the kernel takes either
 * only under no_new_privs or with CAP_SYS_ADMIN, and the filter comes last
 * so that it judges nothing of ours but execve.
 */
function planRestrictions(c: PolicyChecked, add: Add): void {
  if (c.landlock) add({ kind: PolicyOp.Landlock }, { step: 'landlock', syscall: 'landlock_restrict_self' });
  if (c.landlockThen) add({ kind: PolicyOp.Landlock, a: 1 }, { step: "landlock (the command's own)", syscall: 'landlock_restrict_self' });
  if (c.seccomp) add({ kind: PolicyOp.Seccomp }, { step: 'seccomp', syscall: 'seccomp' });
}

/**
 * policy/'s ops, after the command's stdio and before its fds are closed.
 * Returns what must come right before execve (spawn/command.ts planExec
 * adds it there): the restrictions, under no_new_privs. Without
 * no_new_privs they come first, while the capabilities are still held.
 */
export function planPolicy(c: PolicyChecked, where: PolicyContext, add: Add): (add: Add) => void {
  if (!c.noNewPrivileges) planRestrictions(c, add);
  for (const [resource, soft, hard] of c.rlimits) {
    const name = Object.entries(RLIMIT_NAMES).find(([, v]) => v === resource)?.[0] ?? String(resource);
    const n = (v: number) => (v === -1 ? 0xffffffffffffffffn : BigInt(v));
    add({ kind: PolicyOp.Setrlimit, a: resource, flags: n(soft), b64: n(hard) }, { step: `setrlimit ${name}`, syscall: 'prlimit64' });
  }
  const keep = capabilityMask(c, where.newUserNs || where.joinedUserNs);
  // Across a change away from uid 0 the kernel would clear permitted before
  // the capabilities op could use CAP_SETPCAP to lower the bounding set.
  if (keep && c.uid !== undefined && c.uid !== 0)
    add({ kind: PolicyOp.Prctl, a: PR_SET_KEEPCAPS, b: 1 }, { step: 'prctl PR_SET_KEEPCAPS', syscall: 'prctl' });
  if (c.groups) add({ kind: PolicyOp.Setgroups }, { step: 'setgroups', syscall: 'setgroups' });
  else if ((c.uid !== undefined || c.gid !== undefined) && !where.setgroupsDenied) {
    // A new uid or gid drops ours (root's disk, sudo…), as su, setpriv
    // --init-groups and runc do. A joined user namespace may deny setgroups:
    // then the clear is skipped in the child (a = 1), as nsenter ignores it.
    add({ kind: PolicyOp.Setgroups, a: where.joinedUserNs && !where.newUserNs ? 1 : 0 }, { step: 'setgroups', syscall: 'setgroups' });
  }
  if (c.gid !== undefined) add({ kind: PolicyOp.Setresgid, a: c.gid }, { step: 'setresgid', syscall: 'setresgid' });
  if (c.uid !== undefined) add({ kind: PolicyOp.Setresuid, a: c.uid }, { step: 'setresuid', syscall: 'setresuid' });
  if (keep) add({ kind: PolicyOp.Capabilities, a: lastCap(), b: keep.byDefault ? 1 : 0, flags: keep.mask }, { step: 'capabilities', syscall: 'capset' });
  if (c.noNewPrivileges) add({ kind: PolicyOp.Prctl, a: PR_SET_NO_NEW_PRIVS, b: 1 }, { step: 'prctl PR_SET_NO_NEW_PRIVS', syscall: 'prctl' });
  if (c.newSession) add({ kind: PolicyOp.Setsid }, { step: 'setsid', syscall: 'setsid' });
  return c.noNewPrivileges ? (last) => planRestrictions(c, last) : () => {};
}

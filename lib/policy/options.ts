// policy/: what the command may do once it runs: its credentials (uid,
// gid, groups), the capabilities it keeps, its resource limits,
// no_new_privs and a session of its own. The options and their validation
// live here; plan.ts makes them the last ops before execve (the child's side
// of the capability and credential ops: src-native/policy/caps.cc).
import { invalidArgType, invalidArgValue } from '../core/errors';
import { bool, integer, knownKeys, plainObject } from '../core/validate';

/** @internal The options of {@link SpawnOptions} that policy/ owns. */
export interface PolicySpawnOptions {
  /**
   * uid inside, set just before exec (after mounts, which need the
   * capabilities). Changing `uid` or `gid` clears the supplementary groups
   * unless `groups` is given, as su, `setpriv --init-groups` and runc do:
   * the command would otherwise keep ours (root's `disk`, `sudo`…) and the
   * files and devices they open. Where setgroups is refused — a new user
   * namespace whose `setgroups` is `deny`, as `user: 'root'` and `'self'`
   * write — the groups cannot change: the command keeps ours (shown inside
   * as the overflow gid, 65534) with the access they give to files from
   * outside, as every process there does, and the spawn goes on. In a joined
   * user namespace that denies it, likewise (as nsenter).
   */
  uid?: number;
  /** gid inside, set just before exec; clears the supplementary groups as `uid` does. */
  gid?: number;
  /**
   * Supplementary groups inside, instead of none after a change of `uid` or
   * `gid` (or ours without one); `[]` clears them. Needs setgroups allowed:
   * EPERM in a new user namespace that denies it.
   */
  groups?: number[];
  /**
   * Run the command in a new session (setsid), with no controlling terminal.
   * Default `true`: a hostile program can then neither open our terminal
   * (`/dev/tty` is ENXIO) nor push keystrokes into it with TIOCSTI, which
   * would type commands into the shell that started Node (CVE-2017-5226),
   * nor signal our foreground process group. `false` keeps our session and
   * terminal (`nsjs run` and `nsjs exec` do, as unshare and nsenter): then
   * the program can read and write that terminal and, where the kernel lets
   * a process do it to its own terminal (`dev.tty.legacy_tiocsti`, always
   * before Linux 6.2), inject input with TIOCSTI; a seccomp rule refusing
   * TIOCSTI and TIOCLINUX is the defence for that case. One setsid in the
   * child.
   */
  newSession?: boolean;
  /** PR_SET_NO_NEW_PRIVS: setuid binaries and file capabilities no longer raise privileges. Default `true`. */
  noNewPrivileges?: boolean;
  /**
   * The capabilities the command keeps. Default: none where it runs in our
   * own user namespace (neither `'user'` in `namespaces` nor a user
   * namespace joined), as bubblewrap does, since real root would otherwise
   * keep every capability, and with them a hostile program reaches the host
   * through every namespace: `open_by_handle_at` (CAP_DAC_READ_SEARCH)
   * opens any file of a mounted filesystem by its handle, outside `root`;
   * `mknod` (CAP_MKNOD) makes the host's block devices; CAP_SYS_ADMIN
   * mounts, CAP_SYS_MODULE loads modules. In a new or joined user namespace
   * the command keeps that namespace's set, which reaches only what the
   * namespace owns. An ordinary user has none to drop (and without
   * CAP_SETPCAP the bounding set stays). Cost, as root: a capget, two
   * capset and a prctl per capability (about 40 syscalls) in the child.
   */
  capabilities?: {
    /**
     * Capability names (`'CAP_NET_ADMIN'` or `'net_admin'`) kept in the
     * bounding, permitted, effective, inheritable and ambient sets, so that
     * they survive a change of `uid`; every other one is dropped, and `[]`
     * drops all. A hostile program inside can use all that is kept: keep
     * the fewest. Every capability listed, in our own user namespace for a
     * command that stays uid 0, leaves the sets exactly as they are (`nsjs
     * run` asks that, as unshare leaves them).
     */
    keep?: string[];
  };
  /** setrlimit before exec: `{ nofile: [soft, hard] }`; `Infinity` for unlimited. */
  rlimits?: Partial<Record<RlimitName, [number, number]>>;
}

export const RLIMITS = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7, memlock: 8, as: 9,
  locks: 10, sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
} as const;
/** A resource of setrlimit(2), without the `RLIMIT_` prefix, lower case. */
export type RlimitName = keyof typeof RLIMITS;

/** The capability names, in bit order (include/uapi/linux/capability.h). */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** policy/'s part of the checked options. */
export interface PolicyChecked {
  uid?: number;
  gid?: number;
  groups?: number[];
  newSession: boolean;
  noNewPrivileges: boolean;
  keepCapabilities?: number[];
  rlimits: [number, number, number][];
}

function rlimits(value: unknown): [number, number, number][] {
  const r = plainObject(value, 'options.rlimits');
  const out: [number, number, number][] = [];
  for (const [k, v] of Object.entries(r)) {
    if (v === undefined) continue;
    // Own keys only: 'toString' or 'constructor' are in RLIMITS's prototype chain, not resources.
    if (!Object.hasOwn(RLIMITS, k))
      throw invalidArgValue(`options.rlimits.${k}`, v, `is not a resource (known: ${Object.keys(RLIMITS).join(', ')})`);
    if (!Array.isArray(v) || v.length !== 2) throw invalidArgType(`options.rlimits.${k}`, 'a [soft, hard] pair', v);
    const [soft, hard] = Array.from(v, (n: unknown, i) =>
      n === Infinity ? -1 : integer(n, `options.rlimits.${k}[${i}]`, 0, Number.MAX_SAFE_INTEGER),
    );
    if (hard !== -1 && (soft === -1 || soft > hard)) throw invalidArgValue(`options.rlimits.${k}`, v, 'must have soft <= hard');
    out.push([RLIMITS[k as RlimitName], soft, hard]);
  }
  return out;
}

function capabilities(value: unknown): number[] | undefined {
  const c = plainObject(value, 'options.capabilities');
  knownKeys(c, ['keep'], 'options.capabilities');
  if (c.keep === undefined) return undefined;
  if (!Array.isArray(c.keep)) throw invalidArgType('options.capabilities.keep', 'an array of capability names', c.keep);
  return Array.from(c.keep, (name: unknown, i) => {
    const upper = typeof name === 'string' ? (name.toUpperCase().startsWith('CAP_') ? name.toUpperCase() : `CAP_${name.toUpperCase()}`) : name;
    const bit = (CAPABILITIES as readonly unknown[]).indexOf(upper);
    if (bit < 0) throw invalidArgValue(`options.capabilities.keep[${i}]`, name, "must be a capability name such as 'CAP_NET_ADMIN'");
    return bit;
  });
}

/** `uid`, `gid`, `groups`, `newSession`, `noNewPrivileges`, `capabilities` and `rlimits`. */
export function checkPolicyOptions(o: Readonly<Record<string, unknown>>): PolicyChecked {
  const c: PolicyChecked = {
    newSession: o.newSession === undefined ? true : bool(o.newSession, 'options.newSession'),
    noNewPrivileges: o.noNewPrivileges === undefined ? true : bool(o.noNewPrivileges, 'options.noNewPrivileges'),
    rlimits: o.rlimits === undefined ? [] : rlimits(o.rlimits),
  };
  if (o.uid !== undefined) c.uid = integer(o.uid, 'options.uid', 0, 0xfffffffe);
  if (o.gid !== undefined) c.gid = integer(o.gid, 'options.gid', 0, 0xfffffffe);
  if (o.groups !== undefined) {
    if (!Array.isArray(o.groups)) throw invalidArgType('options.groups', 'an array of gids', o.groups);
    if (o.groups.length > 65536) throw invalidArgValue('options.groups', o.groups, 'must have at most 65536 entries');
    c.groups = Array.from(o.groups, (g: unknown, i) => integer(g, `options.groups[${i}]`, 0, 0xfffffffe));
  }
  if (o.capabilities !== undefined) c.keepCapabilities = capabilities(o.capabilities);
  return c;
}

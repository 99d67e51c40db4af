// policy/: what the command may do once it runs: its credentials (uid,
// gid, groups), the capabilities it keeps, its resource limits,
// no_new_privs and a session of its own. The options and their validation
// live here; plan.ts makes them the last ops before execve (the child's side
// of the capability and credential ops: src-native/policy/caps.cc). The
// kernel's own policy, seccomp (seccomp.ts) and Landlock (landlock.ts), is
// loaded last (src-native/policy/restrict.cc).
import * as fs from 'node:fs';

import { invalidArgType, invalidArgValue } from '../core/errors';
import { bool, integer, knownKeys, plainObject } from '../core/validate';
import { checkLandlock, isLandlockLayers, type LandlockOptions, type NativeLandlock } from './landlock';
import { checkSeccomp, type SeccompPolicy } from './seccomp';

/** The options of {@link SpawnOptions} that policy/ owns (SpawnOptions extends it). */
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
    keep?: CapabilityName[];
    /**
     * Capabilities removed from what would otherwise be kept: from `keep`
     * when given, else from the namespaced set a new or joined user
     * namespace keeps (bwrap `--cap-drop`). Real root in our own user
     * namespace keeps nothing by default, so `drop` alone changes nothing
     * there: use `keep`.
     */
    drop?: CapabilityName[];
  };
  /**
   * The seccomp filter, loaded as the very last step before exec (after
   * no_new_privs; where `noNewPrivileges: false`, before the credentials
   * change, since the kernel loads a filter only under no_new_privs or with
   * CAP_SYS_ADMIN). Default `'default'`: see {@link DEFAULT_SECCOMP_DENY}
   * for what it refuses; `false` loads none (but for the rules of
   * `allowUserNamespaces: false`); a {@link SeccompPolicy} by syscall name.
   * A hostile program inside can make every syscall the filter lets
   * through, with every argument; the filter cannot follow pointers (paths,
   * clone3's flags), and it applies to everything the command runs
   * (`init: true`: nsjs-init too, which needs only what the default allows:
   * a policy that refuses clone, wait4, kill, rt_sig* or execve breaks
   * it). Cost: compiled once per distinct policy (a few µs); one seccomp()
   * per spawn and a few BPF instructions per syscall of the command.
   * Where the kernel loads no filter (without CONFIG_SECCOMP_FILTER, under
   * qemu-user) the default is skipped, and `'default'` or a policy given
   * here fails before anything starts (ENOSYS, step `seccomp`).
   */
  seccomp?: 'default' | false | SeccompPolicy;
  /**
   * Let the command create user namespaces of its own (nested sandboxes,
   * `unshare -U`, rootless podman inside). Default `false`, as bwrap
   * `--disable-userns`: most kernel privilege bugs of recent years are
   * reached from a user namespace, where a process holds every capability
   * over what it owns. It holds whatever `seccomp` says: a filter refuses
   * clone, unshare and setns with CLONE_NEWUSER (EPERM) and clone3 (ENOSYS:
   * its flags are out of a filter's reach; glibc falls back to clone) even
   * with `seccomp: false`.
   */
  allowUserNamespaces?: boolean;
  /** Landlock file and TCP rules (see {@link LandlockOptions}). Default: none. */
  landlock?: LandlockOptions;
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

/** A capability's name (include/uapi/linux/capability.h), or its lower-case short form (`'net_admin'`). */
export type CapabilityName = (typeof CAPABILITIES)[number] | Lowercase<(typeof CAPABILITIES)[number] extends `CAP_${infer S}` ? S : never>;

/** Every capability this kernel has (cap_last_cap), in bit order: a `keep` that leaves root's sets as they are. */
export function allCapabilities(): CapabilityName[] {
  let last = CAPABILITIES.length - 1;
  try {
    last = Math.min(last, Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'latin1')));
  } catch {
    // no /proc: every name we know
  }
  return CAPABILITIES.slice(0, last + 1);
}

/** policy/'s part of the checked options. */
export interface PolicyChecked {
  uid?: number;
  gid?: number;
  groups?: number[];
  newSession: boolean;
  noNewPrivileges: boolean;
  keepCapabilities?: number[];
  dropCapabilities?: number[];
  /** The compiled filter (struct sock_filter[]), or none to load. */
  seccomp?: Buffer;
  landlock?: NativeLandlock;
  /** A sandbox command's own ruleset (landlockLayers), enforced after `landlock`. */
  landlockThen?: NativeLandlock;
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

function capabilityList(list: unknown, name: string): number[] | undefined {
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) throw invalidArgType(name, 'an array of capability names', list);
  return Array.from(list, (cap: unknown, i) => {
    const upper = typeof cap === 'string' ? (cap.toUpperCase().startsWith('CAP_') ? cap.toUpperCase() : `CAP_${cap.toUpperCase()}`) : cap;
    const bit = (CAPABILITIES as readonly unknown[]).indexOf(upper);
    if (bit < 0) throw invalidArgValue(`${name}[${i}]`, cap, "must be a capability name such as 'CAP_NET_ADMIN'");
    return bit;
  });
}

function capabilities(value: unknown): { keep?: number[]; drop?: number[] } {
  const c = plainObject(value, 'options.capabilities');
  knownKeys(c, ['keep', 'drop'], 'options.capabilities');
  return { keep: capabilityList(c.keep, 'options.capabilities.keep'), drop: capabilityList(c.drop, 'options.capabilities.drop') };
}

/** `uid`, `gid`, `groups`, `newSession`, `noNewPrivileges`, `capabilities`, `rlimits`, `seccomp`, `allowUserNamespaces` and `landlock`. */
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
  if (o.capabilities !== undefined) {
    const { keep, drop } = capabilities(o.capabilities);
    if (keep) c.keepCapabilities = keep;
    if (drop) c.dropCapabilities = drop;
  }
  const allowUserNamespaces = o.allowUserNamespaces === undefined ? false : bool(o.allowUserNamespaces, 'options.allowUserNamespaces');
  const filter = checkSeccomp(o.seccomp, allowUserNamespaces);
  if (filter) c.seccomp = filter;
  if (o.landlock !== undefined) {
    const layers = isLandlockLayers(o.landlock) ? o.landlock : undefined;
    const ruleset = checkLandlock(layers ? layers.sandbox : o.landlock);
    if (ruleset) c.landlock = ruleset;
    // Both are undefined, or neither: one kernel, one ABI.
    const then = layers && checkLandlock(layers.command);
    if (then) c.landlockThen = then;
  }
  return c;
}

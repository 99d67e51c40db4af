// The spawn options as users write them, and their validation. Everything
// here runs before anything native: a bad option throws a TypeError or
// RangeError naming it, and nothing has been started.
import { randomBytes } from 'node:crypto';
import { isMainThread } from 'node:worker_threads';

import { isNamespace } from '../core/brand';
import { invalidArgType, invalidArgValue } from '../core/errors';
import type { Namespace } from '../ns/namespace';
import { cidrList, linkName, mtu, type Cidr } from '../net/netaddr';
import { signalName, signalNumber } from '../core/signals';
import { NAMESPACE_TYPES, type NamespaceType } from '../core/nstypes';
import {
  bool,
  integer,
  knownKeys,
  namespaceType,
  noNul,
  ownProperties,
  pathString,
  plainObject,
  record,
  snapshot,
} from '../core/validate';

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

/** A `proc` filesystem for the new pid namespace. Needs `mnt` (and `pid` to show only the sandbox's processes). */
export interface ProcMount {
  /** `'proc'`. */
  type: 'proc';
  /** Where, usually `'/proc'`. Refused where the host's /proc has locked over-mounts (a container): see `features().features.procMount`. */
  target: string;
}
/** A fresh tmpfs. `size` in bytes (or with a k/m/g suffix), `mode` as a number (default 0o755). */
export interface TmpfsMount {
  /** `'tmpfs'`. */
  type: 'tmpfs';
  /** Where: an absolute path inside `root` (see {@link Mount}); it must exist. */
  target: string;
  /** Size limit: bytes, or `'64m'`, `'1g'`, `'50%'` (of RAM); default half of RAM. Pages are charged to the sandbox's memory as they are written. */
  size?: number | string;
  /** Permissions of its root directory; default `0o755`. */
  mode?: number;
}
/** A bind mount of `source` (a path outside) at `target`. */
export interface BindMount {
  /** `'bind'`. */
  type: 'bind';
  /** The path outside, resolved before `root` applies. */
  source: string;
  /** Where it appears: an absolute path inside `root` (see {@link Mount}); it must exist, a directory for a directory, a file for a file. */
  target: string;
  /** Read-only: set on the detached copy of `source` before it is attached (mount_setattr, Linux 5.12+; before, a remount right after attaching, of the top mount only). */
  readonly?: boolean;
  /** Include the mounts below `source` (MS_REC); default `true`. */
  recursive?: boolean;
}
/**
 * A minimal /dev on a tmpfs: null zero full random urandom tty (bound from
 * the host), a new devpts, shm, and the ptmx, fd and std* links, all made
 * inside the new tmpfs through its fd. The tmpfs is `nodev`: a device node
 * the sandbox makes there (real root may mknod) cannot be opened; the bound
 * nodes are mounts of their own and work.
 */
export interface DevMount {
  /** `'dev'`. */
  type: 'dev';
  /** Where, usually `'/dev'`. */
  target: string;
}
/** Any mount(2): `flags` are `MS_*` bits, `data` the filesystem's options string. */
export interface RawMount {
  /** The filesystem type (`'sysfs'`, `'mqueue'`, `'overlay'`…), as mount(2)'s `fstype`. */
  type: string;
  /** mount(2)'s `source`; default the type. */
  source?: string;
  /** Where: an absolute path inside `root` (see {@link Mount}); it must exist. */
  target: string;
  /** `MS_*` bits (see `sys`); default 0. */
  flags?: number;
  /** The filesystem's options string (`'lowerdir=…,upperdir=…'`), parsed by mount(2) as it is; without it (and without `MS_BIND`, `MS_MOVE`, `MS_REMOUNT` or propagation flags) the filesystem is made with fsopen. */
  data?: string;
}
/**
 * One entry of `mounts`. Its target is an absolute path, looked up once,
 * inside `root` (or `/`), as if `root` were `/`: a symbolic link there is
 * followed inside it, never out of it, and a /proc magic link is refused
 * (ELOOP). The mount is then made on that very fd (open_tree, fsopen and
 * move_mount; mount(2) onto /proc/self/fd/N where the kernel lacks them),
 * so a hostile program that can write in the root and renames or swaps its
 * directories while the sandbox is set up can at most move a mount to
 * another place inside the root: it cannot make a read-only bind writable,
 * put a flag on another mount, or mount anything outside. Each costs a few
 * syscalls in the child (microseconds; bench/ prices a read-only bind).
 */
export type Mount = ProcMount | TmpfsMount | BindMount | DevMount | RawMount;

/** One entry of `stdio`: a new pipe, our own fd of that number, /dev/null, or an fd of ours. */
export type StdioEntry = 'pipe' | 'inherit' | 'ignore' | number | null | undefined;

/**
 * A veth pair between the namespace the spawner is in and the sandbox's new
 * net namespace. Addresses are CIDR strings (IPv4 or IPv6; IPv6 without
 * duplicate-address detection, so usable at once). The pair goes away with
 * the sandbox's namespace; a failed spawn leaves no link behind. Needs
 * CAP_NET_ADMIN in our network namespace (root): an unprivileged user cannot
 * add a link to the host.
 */
export interface VethOptions {
  /** Name of the host end; default a unique `nsjs` + 8 hex digits. */
  hostName?: string;
  /** Name of the sandbox end; default `'eth0'`. */
  name?: string;
  /** Address(es) of the host end, e.g. `'169.254.1.1/30'`. */
  hostAddress?: string | string[];
  /** Address(es) of the sandbox end, e.g. `'169.254.1.2/30'`. */
  address?: string | string[];
  /** Add a default route inside via the host end's address of each family that both ends have an address of (at least one). */
  gateway?: boolean;
  /** MTU of both ends. */
  mtu?: number;
}

/**
 * Networking of a new net namespace (needs `'net'` in `namespaces`). Made
 * through rtnetlink in the child and, for the veth's host end, in the
 * spawner: no `ip` process. Costs one netlink round trip per link, address
 * and route; a veth also makes the child wait until the parent has made
 * the pair (a fork-style clone instead of vfork-style).
 */
export interface NetworkOptions {
  /** Bring `lo` up in the new net namespace; default `true`. */
  loopback?: boolean;
  /** A veth pair to the host side. */
  veth?: VethOptions;
}

/** Namespaces of another process to enter, as nsenter(1) `-t PID`. */
export interface JoinTarget {
  /** The process whose namespaces to enter (opened as a pidfd first, so a recycled pid is never entered). */
  pid: number;
  /** Default: every namespace of the target that differs from ours. */
  types?: NamespaceType[];
}

/**
 * Options of {@link spawnIsolated}. Every one is optional. Unprivileged, add
 * `'user'` to `namespaces` and the rest is created inside it; the doc of each
 * option says when it needs root and what it costs beyond a plain spawn.
 */
export interface SpawnOptions {
  /**
   * Namespaces to create: a list of types, or `'all'` for all eight. Without
   * `'user'`, every type needs root (CAP_SYS_ADMIN); with it, an ordinary user
   * may create all of them where the kernel allows unprivileged user
   * namespaces (`nsjs doctor` tells). `time` needs Linux 5.6, `cgroup` 4.6.
   * Cost: `net` is the expensive one (the kernel sets up a network stack:
   * about a millisecond, more under load, and its teardown is deferred); the
   * others add microseconds to the clone.
   */
  namespaces?: NamespaceType[] | 'all';
  /**
   * Existing namespaces to enter before any new one is made (nsenter). A user
   * namespace is entered first, so the rest are entered with its
   * capabilities; joining our own user namespace is skipped. For `{ pid }`,
   * one `setns(pidfd)` enters them all atomically (Linux 5.8+). The command
   * is cloned again after joining (a pid namespace holds only children made
   * after setns), with CLONE_PARENT, so it is still our child.
   */
  join?: Namespace[] | JoinTarget;
  /**
   * Run a minimal PID 1 (nsjs-init, a static executable of a few hundred KiB)
   * that starts the command as pid 2, forwards every signal it gets to it,
   * reaps orphans, and exits with it; `wait()` reports the command's own
   * status. Needs a new `pid` namespace. Without it, the command is pid 1
   * and the kernel drops every signal it has no handler for: a shell as pid
   * 1 ignores SIGTERM. Init runs from a sealed in-memory copy of nsjs-init
   * (made once per process, under a millisecond): a command that reopens
   * `/proc/1/exe` for writing reaches only that copy, whose seals refuse
   * every write.
   */
  init?: boolean;
  /**
   * Maps of a new user namespace. `'root'` maps your uid/gid to 0 (as
   * `unshare -r`), `'self'` to themselves (`unshare -c`; the default when
   * `namespaces` includes `'user'`). Both write `setgroups` `deny`.
   */
  user?: 'root' | 'self' | UserMapping;
  /** For a new net namespace: `lo` (up by default) and an optional veth pair (see {@link VethOptions}). */
  network?: NetworkOptions;
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
  /** Hostname of the new uts namespace (needs `uts`). */
  hostname?: string;
  /** NIS domain name of the new uts namespace (needs `uts`). */
  domainname?: string;
  /** Applied in order in the new mount namespace (needs `mnt`). */
  mounts?: Mount[];
  /**
   * pivot_root into this directory, an absolute path, after `mounts` (needs
   * `mnt`); mount targets are then looked up inside it. It is bound onto
   * itself first and entered through that bind's fd, so its own path is
   * looked up once. A program that can write in it can rename what is in it
   * while the sandbox is set up, but not lead a mount out of it (see
   * {@link Mount}).
   */
  root?: string;
  /** Applied recursively to `/` of the new mount namespace before anything else; default `'private'`, so no mount reaches the host. */
  propagation?: 'private' | 'slave' | 'shared' | 'unchanged';
  /** Working directory of the command (inside `root` when given). */
  cwd?: string;
  /** Environment of the command; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** `argv[0]` of the command; default `command`. */
  argv0?: string;
  /** As `child_process.spawn`: `'pipe'` (default), `'inherit'`, `'ignore'`, or an array of those or fds. */
  stdio?: 'pipe' | 'inherit' | 'ignore' | StdioEntry[];
  /**
   * SIGKILL the command when this Node process dies (PR_SET_PDEATHSIG), set
   * after the last change of credentials (the kernel clears it on each) and
   * checked against a parent that died first. One prctl and one poll in the
   * child. A hostile command can clear it for itself (another prctl) and its
   * children never inherit it; only a pid namespace (with `init`, or the
   * command as its pid 1) takes every process inside down with it.
   */
  dieWithParent?: boolean;
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
  /**
   * Offsets of the clocks in a new time namespace (needs `time`, Linux 5.6).
   * The kernel accepts offsets only before any process enters the namespace,
   * so the child unshares it and forks once more: one extra fork.
   */
  timeOffsets?: {
    /** Added to CLOCK_MONOTONIC inside, in seconds (may be negative). */
    monotonic?: number;
    /** Added to CLOCK_BOOTTIME inside, in seconds (may be negative). */
    boottime?: number;
  };
  /** Kills the command (with `killSignal`) when aborted, as `child_process.spawn`. */
  signal?: AbortSignal;
  /** Kills the command (with `killSignal`) after this many milliseconds. */
  timeout?: number;
  /** Signal for `signal` and `timeout`, a name or its number as `child_process` takes them (not 0, which kills nothing); default `'SIGTERM'`. */
  killSignal?: NodeJS.Signals | number;
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

const OPTION_KEYS = [
  'namespaces', 'join', 'init', 'network', 'user', 'uid', 'gid', 'groups', 'hostname', 'domainname', 'mounts', 'root', 'propagation', 'cwd',
  'env', 'argv0', 'stdio', 'dieWithParent', 'newSession', 'noNewPrivileges', 'capabilities', 'rlimits',
  'timeOffsets', 'signal', 'timeout', 'killSignal',
] as const;

export interface CheckedVeth {
  hostName: string;
  name: string;
  hostAddresses: Cidr[];
  addresses: Cidr[];
  gateway: boolean;
  mtu?: number;
}

function veth(value: unknown): CheckedVeth {
  const v = plainObject(value, 'options.network.veth');
  knownKeys(v, ['hostName', 'name', 'hostAddress', 'address', 'gateway', 'mtu'], 'options.network.veth');
  const checked: CheckedVeth = {
    hostName: v.hostName === undefined ? `nsjs${randomBytes(4).toString('hex')}` : linkName(v.hostName, 'options.network.veth.hostName'),
    name: v.name === undefined ? 'eth0' : linkName(v.name, 'options.network.veth.name'),
    hostAddresses: cidrList(v.hostAddress, 'options.network.veth.hostAddress'),
    addresses: cidrList(v.address, 'options.network.veth.address'),
    gateway: v.gateway === undefined ? false : bool(v.gateway, 'options.network.veth.gateway'),
    mtu: v.mtu === undefined ? undefined : mtu(v.mtu, 'options.network.veth.mtu'),
  };
  // The kernel takes a gateway only on a subnet of the sandbox end, so a family that end has no address of cannot be routed.
  if (checked.gateway && !checked.hostAddresses.some((h) => checked.addresses.some((a) => a.family === h.family)))
    throw invalidArgValue(
      'options.network.veth.gateway',
      true,
      'needs an address of one family (IPv4 or IPv6) on both ends: options.network.veth.hostAddress to route via, and options.network.veth.address to reach it from',
    );
  return checked;
}

/** Options after validation: defaults filled in, namespaces as a set. */
export interface Checked {
  namespaces: Set<NamespaceType>;
  join?: { namespaces: Namespace[] } | { pid: number; types?: NamespaceType[] };
  init: boolean;
  /** Set when a new net namespace is made: whether lo goes up, and the veth. */
  network?: { loopback: boolean; veth?: CheckedVeth };
  user?: 'root' | 'self' | UserMapping;
  uid?: number;
  gid?: number;
  groups?: number[];
  hostname?: string;
  domainname?: string;
  mounts: Mount[];
  root?: string;
  propagation: 'private' | 'slave' | 'shared' | 'unchanged';
  cwd?: string;
  /** Unset: the command gets our environment, copied natively from environ (see env()). */
  env?: [string, string][];
  argv0?: string;
  stdio: StdioEntry[];
  dieWithParent: boolean;
  newSession: boolean;
  noNewPrivileges: boolean;
  keepCapabilities?: number[];
  rlimits: [number, number, number][];
  timeOffsets?: { monotonic: number; boottime: number };
  signal?: AbortSignal;
  timeout?: number;
  killSignal: number;
}

function needs(opts: Record<string, unknown>, key: string, ns: Set<NamespaceType>, type: NamespaceType): void {
  if (opts[key] !== undefined && !ns.has(type))
    throw invalidArgValue(`options.${key}`, opts[key], `needs a new ${type} namespace: add '${type}' to options.namespaces`);
}

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

function size(value: unknown, name: string): number | string {
  if (typeof value === 'number') return integer(value, name, 1, Number.MAX_SAFE_INTEGER);
  if (typeof value === 'string' && /^[1-9][0-9]*[kmgKMG%]?$/.test(value)) return value;
  throw invalidArgValue(name, value, "must be a byte count or a string such as '64m'");
}

/**
 * A mount target or `root`: absolute, since the child looks targets up
 * inside the root (or /) and `root` from no particular directory.
 */
function absolutePath(value: unknown, name: string): string {
  const p = pathString(value, name);
  if (!p.startsWith('/')) throw invalidArgValue(name, p, 'must be an absolute path');
  return p;
}

function mount(value: unknown, i: number): Mount {
  const name = `options.mounts[${i}]`;
  const m = plainObject(value, name);
  if (typeof m.type !== 'string') throw invalidArgType(`${name}.type`, 'of type string', m.type);
  const target = absolutePath(m.target, `${name}.target`);
  switch (m.type) {
    case 'proc':
    case 'dev':
      knownKeys(m, ['type', 'target'], name);
      return { type: m.type, target };
    case 'tmpfs':
      knownKeys(m, ['type', 'target', 'size', 'mode'], name);
      return {
        type: 'tmpfs',
        target,
        size: m.size === undefined ? undefined : size(m.size, `${name}.size`),
        mode: m.mode === undefined ? undefined : integer(m.mode, `${name}.mode`, 0, 0o7777),
      };
    case 'bind':
      knownKeys(m, ['type', 'source', 'target', 'readonly', 'recursive'], name);
      return {
        type: 'bind',
        source: pathString(m.source, `${name}.source`),
        target,
        readonly: m.readonly === undefined ? false : bool(m.readonly, `${name}.readonly`),
        recursive: m.recursive === undefined ? true : bool(m.recursive, `${name}.recursive`),
      };
    default:
      knownKeys(m, ['type', 'source', 'target', 'flags', 'data'], name);
      if (m.type === '') throw invalidArgValue(`${name}.type`, m.type, 'must not be empty');
      return {
        type: noNul(m.type, `${name}.type`),
        source: m.source === undefined ? undefined : noNul(m.source, `${name}.source`),
        target,
        flags: m.flags === undefined ? undefined : integer(m.flags, `${name}.flags`, 0, 0xffffffff),
        data: m.data === undefined ? undefined : noNul(m.data, `${name}.data`),
      };
  }
}

function stdio(value: unknown): StdioEntry[] {
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

/**
 * Whether process.env is Node's own environment object on the main thread,
 * whose setters call setenv: then the addon copies environ for a fraction of
 * what walking process.env costs here. Not so in a worker (its own copy),
 * after `process.env = {...}`, or under a test runner that gives each file a
 * copy (jest): Node's object alone refuses a symbol key, and a copy that
 * takes it gets it removed again at once.
 */
let checkedEnv: object | undefined;
let envIsEnviron = false;
function processEnvIsEnviron(): boolean {
  if (!isMainThread) return false;
  if (process.env !== checkedEnv) {
    const env = process.env as Record<string | symbol, unknown>;
    const probe = Symbol('nsjs');
    try {
      env[probe] = '';
      delete env[probe];
      envIsEnviron = false;
    } catch {
      envIsEnviron = true;
    }
    checkedEnv = process.env;
  }
  return envIsEnviron;
}

function env(value: unknown): [string, string][] | undefined {
  if (value === undefined && processEnvIsEnviron()) return undefined;
  const e = value === undefined ? process.env : plainObject(value, 'options.env');
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(e)) {
    if (v === undefined) continue;
    if (k.includes('=') || k.includes('\0') || k === '')
      throw invalidArgValue('options.env', k, 'has a key that is empty or contains = or a null byte');
    // child_process converts values as a template literal does (a Symbol throws, where String() would describe it); so do we, but refuse null bytes.
    let s: string;
    try {
      s = `${v}`;
    } catch (cause) {
      throw invalidArgValue(`options.env.${k}`, v, 'cannot be converted to a string', { cause });
    }
    if (s.includes('\0')) throw invalidArgValue(`options.env.${k}`, s, 'must be a string without null bytes');
    out.push([k, s]);
  }
  return out;
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

function join(value: unknown): NonNullable<Checked['join']> {
  if (Array.isArray(value)) {
    const seen = new Set<NamespaceType>();
    // Array.from first: forEach would skip a hole, which is no Namespace.
    value.forEach((ns: unknown, i) => {
      // A brand check: a Proxy, a look-alike or Object.create(Namespace.prototype) holds no fd of ours.
      if (!isNamespace(ns)) throw invalidArgType(`options.join[${i}]`, 'an instance of Namespace', ns);
      if (ns.fd < 0) throw invalidArgValue(`options.join[${i}]`, String(ns), 'is closed');
      if (seen.has(ns.type)) throw invalidArgValue(`options.join[${i}]`, String(ns), `is a second ${ns.type} namespace`);
      seen.add(ns.type);
    });
    return record({ namespaces: value as Namespace[] });
  }
  const j = plainObject(value, 'options.join');
  knownKeys(j, ['pid', 'types'], 'options.join');
  const pid = integer(j.pid, 'options.join.pid', 1, 0x3fffffff);
  if (j.types === undefined) return record({ pid });
  if (!Array.isArray(j.types)) throw invalidArgType('options.join.types', 'an array of namespace types', j.types);
  return record({ pid, types: Array.from(j.types, (t: unknown, i) => namespaceType(t, `options.join.types[${i}]`)) });
}

/**
 * Only a signal child_process knows by name, as its killSignal: not 0, with
 * which kill(2) only checks that the process exists, so timeout and signal
 * would never stop the command; nor a real-time signal, which wait() could
 * not name in its status.
 */
function killSignal(value: unknown): number {
  const num = signalNumber(value, 'options.killSignal');
  if (signalName(num) === null)
    throw invalidArgValue('options.killSignal', value, "must be a signal name such as 'SIGTERM' or its number (1 to 31)");
  return num;
}

/** The kernel's copy_pid_ns refuses it (EINVAL); said before anything starts. */
export function newPidInJoinedPid(namespaces: NamespaceType[]): Error {
  return invalidArgValue(
    'options.namespaces',
    namespaces,
    "cannot include 'pid' when options.join enters another pid namespace: the kernel makes a new pid namespace only from a process's own (copy_pid_ns), so nest a second spawn, or join without 'pid'",
  );
}

const abortedGetter = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;

/** A real AbortSignal: its own getter takes it, where Object.create(AbortSignal.prototype) or a look-alike throws. */
function isAbortSignal(value: object): boolean {
  // instanceof first: the getter's throw is costly, and every object of the options is asked.
  if (!(value instanceof AbortSignal)) return false;
  try {
    abortedGetter.call(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * env's values become strings as they are copied, as child_process converts
 * them (a template literal), so that a value's toString runs once and its
 * class's prototype, which the copy would not keep, is used.
 */
function snapshotEnv(value: unknown, name: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of ownProperties(value, name)) {
    if ((typeof v !== 'object' || v === null) && typeof v !== 'function') {
      out[k] = v;
      continue;
    }
    try {
      out[k] = `${v as unknown as string}`;
    } catch (cause) {
      throw invalidArgValue(`${name}.${k}`, v, 'cannot be converted to a string', { cause });
    }
  }
  return Object.freeze(out);
}

const keptAsTheyAre = (v: object) => isNamespace(v) || isAbortSignal(v);
const copiedSpecially = { env: snapshotEnv };

/**
 * @internal The options copied once, before anything is checked (see
 * validate.ts `snapshot`); every later stage reads this copy or what was
 * derived from it.
 */
export function snapshotOptions(options: unknown): unknown {
  return snapshot(options, 'options', keptAsTheyAre, copiedSpecially);
}

/** `copied` (internal): `options` is a null-prototype record of a snapshot's values already (runIsolated's). */
export function checkOptions(options: unknown, copied = false): Checked {
  const o = options === undefined ? record({} as Record<string, unknown>) : plainObject(copied ? options : snapshotOptions(options), 'options');
  knownKeys(o, OPTION_KEYS, 'options');

  let namespaces: Set<NamespaceType>;
  if (o.namespaces === undefined) namespaces = new Set();
  else if (o.namespaces === 'all') namespaces = new Set(NAMESPACE_TYPES);
  else if (Array.isArray(o.namespaces)) namespaces = new Set(Array.from(o.namespaces, (t: unknown, i) => namespaceType(t, `options.namespaces[${i}]`)));
  else throw invalidArgType('options.namespaces', "an array of namespace types or 'all'", o.namespaces);

  needs(o, 'user', namespaces, 'user');
  needs(o, 'hostname', namespaces, 'uts');
  needs(o, 'domainname', namespaces, 'uts');
  needs(o, 'mounts', namespaces, 'mnt');
  needs(o, 'root', namespaces, 'mnt');
  needs(o, 'timeOffsets', namespaces, 'time');
  if (o.propagation !== undefined && o.propagation !== 'unchanged') needs(o, 'propagation', namespaces, 'mnt');

  const c: Checked = record<Checked>({
    namespaces,
    init: o.init === undefined ? false : bool(o.init, 'options.init'),
    mounts: [],
    propagation: 'private',
    env: env(o.env),
    stdio: stdio(o.stdio),
    dieWithParent: o.dieWithParent === undefined ? false : bool(o.dieWithParent, 'options.dieWithParent'),
    newSession: o.newSession === undefined ? true : bool(o.newSession, 'options.newSession'),
    noNewPrivileges: o.noNewPrivileges === undefined ? true : bool(o.noNewPrivileges, 'options.noNewPrivileges'),
    rlimits: o.rlimits === undefined ? [] : rlimits(o.rlimits),
    killSignal: killSignal(o.killSignal === undefined ? 'SIGTERM' : o.killSignal),
  });
  if (namespaces.has('user')) c.user = o.user === undefined ? 'self' : user(o.user);
  if (o.uid !== undefined) c.uid = integer(o.uid, 'options.uid', 0, 0xfffffffe);
  if (o.gid !== undefined) c.gid = integer(o.gid, 'options.gid', 0, 0xfffffffe);
  if (o.groups !== undefined) {
    if (!Array.isArray(o.groups)) throw invalidArgType('options.groups', 'an array of gids', o.groups);
    if (o.groups.length > 65536) throw invalidArgValue('options.groups', o.groups, 'must have at most 65536 entries');
    c.groups = Array.from(o.groups, (g: unknown, i) => integer(g, `options.groups[${i}]`, 0, 0xfffffffe));
  }
  for (const key of ['hostname', 'domainname'] as const) {
    if (o[key] === undefined) continue;
    const s = noNul(o[key], `options.${key}`);
    if (Buffer.byteLength(s) > 64) throw invalidArgValue(`options.${key}`, s, 'must be at most 64 bytes');
    c[key] = s;
  }
  if (o.mounts !== undefined) {
    if (!Array.isArray(o.mounts)) throw invalidArgType('options.mounts', 'an array of mounts', o.mounts);
    c.mounts = Array.from(o.mounts, (m: unknown, i) => mount(m, i));
  }
  if (o.root !== undefined) c.root = absolutePath(o.root, 'options.root');
  if (o.propagation !== undefined) {
    if (!['private', 'slave', 'shared', 'unchanged'].includes(o.propagation as string))
      throw invalidArgValue('options.propagation', o.propagation, "must be 'private', 'slave', 'shared' or 'unchanged'");
    c.propagation = o.propagation as Checked['propagation'];
  }
  if (o.cwd !== undefined) {
    c.cwd = pathString(o.cwd, 'options.cwd');
    // The child changes to it after mounts and pivot_root: relative, it would be relative to wherever the child happens to be.
    if (!c.cwd.startsWith('/')) throw invalidArgValue('options.cwd', c.cwd, 'must be an absolute path (it is the directory inside the sandbox, after root)');
  }
  if (o.argv0 !== undefined) c.argv0 = noNul(o.argv0, 'options.argv0');
  if (o.capabilities !== undefined) c.keepCapabilities = capabilities(o.capabilities);
  if (o.timeOffsets !== undefined) {
    const t = plainObject(o.timeOffsets, 'options.timeOffsets');
    knownKeys(t, ['monotonic', 'boottime'], 'options.timeOffsets');
    const offset = (v: unknown, n: string) => (v === undefined ? 0 : integer(v, n, -(2 ** 40), 2 ** 40));
    c.timeOffsets = { monotonic: offset(t.monotonic, 'options.timeOffsets.monotonic'), boottime: offset(t.boottime, 'options.timeOffsets.boottime') };
  }
  if (o.signal !== undefined) {
    if (!(o.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', o.signal);
    c.signal = o.signal;
  }
  if (o.timeout !== undefined) c.timeout = integer(o.timeout, 'options.timeout', 0, 2 ** 31 - 1);
  if (c.init && !namespaces.has('pid'))
    throw invalidArgValue('options.init', o.init, "needs a new pid namespace: add 'pid' to options.namespaces");
  if (o.join !== undefined) c.join = join(o.join);
  needs(o, 'network', namespaces, 'net');
  if (namespaces.has('net')) {
    const n = o.network === undefined ? record({} as Record<string, unknown>) : plainObject(o.network, 'options.network');
    knownKeys(n, ['loopback', 'veth'], 'options.network');
    c.network = record<NonNullable<Checked['network']>>({ loopback: n.loopback === undefined ? true : bool(n.loopback, 'options.network.loopback') });
    if (n.veth !== undefined) {
      if (c.join) throw invalidArgValue('options.network.veth', n.veth, 'cannot be combined with options.join yet');
      c.network.veth = veth(n.veth);
    }
  }
  // Where the options say so: { pid } without types is settled in spawn, once
  // the target's pid namespace is known to differ from ours.
  const joinsPid = c.join && ('pid' in c.join ? c.join.types?.includes('pid') : c.join.namespaces.some((n) => n.type === 'pid'));
  if (joinsPid && namespaces.has('pid')) throw newPidInJoinedPid([...namespaces]);
  // The parent writes explicit maps to the child it cloned, but after a join
  // the new user namespace belongs to that child's own child.
  if (c.join && c.user && typeof c.user === 'object')
    throw invalidArgValue('options.user', o.user, "cannot be explicit id maps together with options.join; use 'root' or 'self'");
  return c;
}

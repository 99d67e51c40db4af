// `nsjs run`: unshare(1)'s options turned into one spawnIsolated options
// object. Parsing is pure (it reads only our ids, /etc/passwd and
// /etc/sub[ug]id, as unshare does), so every flag is unit-tested without a
// kernel; running it is spawn, persist, wait, and exit as unshare exits.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { CapabilityName, NamespaceType, SpawnOptions } from '../index';
import { UsageError, parseCommandLine, type OptionSpecs } from './args';
import { addSingle, groupArg, kernelRanges, rangeArg, signedArg, subidRange, unsignedArg, userArg, type Range } from './ids';
import { POLICY_HELP, POLICY_OPTIONS, applyPolicy, policyFlag, policyFlags } from './policy';

/** unshare's and nsenter's namespace flags: letter, long name, type. */
export const NAMESPACE_FLAGS: readonly [string, string, NamespaceType][] = [
  ['m', 'mount', 'mnt'],
  ['u', 'uts', 'uts'],
  ['i', 'ipc', 'ipc'],
  ['n', 'net', 'net'],
  ['p', 'pid', 'pid'],
  ['U', 'user', 'user'],
  ['C', 'cgroup', 'cgroup'],
  ['T', 'time', 'time'],
];

export const RUN_OPTIONS: OptionSpecs = {
  // getopt's "muinpCTU" (no values) for the short forms, optional values for the long ones.
  ...Object.fromEntries(NAMESPACE_FLAGS.map(([short, long]) => [long, { short, arg: 'optional' as const, shortIsFlag: true }])),
  fork: { short: 'f', arg: 'none' },
  'kill-child': { arg: 'optional' },
  'mount-proc': { arg: 'optional' },
  'map-user': { arg: 'required' },
  'map-group': { arg: 'required' },
  'map-root-user': { short: 'r', arg: 'none' },
  'map-current-user': { short: 'c', arg: 'none' },
  'map-auto': { arg: 'none' },
  'map-subids': { arg: 'none' },
  'map-users': { arg: 'required' },
  'map-groups': { arg: 'required' },
  setgroups: { arg: 'required' },
  propagation: { arg: 'required' },
  'keep-caps': { arg: 'none' },
  setuid: { short: 'S', arg: 'required' },
  setgid: { short: 'G', arg: 'required' },
  root: { short: 'R', arg: 'required' },
  wd: { short: 'w', arg: 'required' },
  monotonic: { arg: 'required' },
  boottime: { arg: 'required' },
  // nsjs's own
  hostname: { arg: 'required' },
  domainname: { arg: 'required' },
  bind: { arg: 'required' },
  'ro-bind': { arg: 'required' },
  tmpfs: { arg: 'required' },
  dev: { arg: 'required' },
  init: { arg: 'none' },
  veth: { arg: 'required' },
  ...POLICY_OPTIONS,
  help: { short: 'h', arg: 'none' },
  version: { short: 'V', arg: 'none' },
};

export const RUN_HELP = `
Usage:
 nsjs run [options] [--] <program> [<argument>...]

Run a program in new namespaces: unshare(1)'s options, with the same meaning.
nsjs always forks, so <program> is the first process of a new pid namespace.

Options:
 -m, --mount[=<file>]      unshare mounts namespace
 -u, --uts[=<file>]        unshare UTS namespace (hostname etc)
 -i, --ipc[=<file>]        unshare System V IPC namespace
 -n, --net[=<file>]        unshare network namespace
 -p, --pid[=<file>]        unshare pid namespace
 -U, --user[=<file>]       unshare user namespace
 -C, --cgroup[=<file>]     unshare cgroup namespace
 -T, --time[=<file>]       unshare time namespace
                             <file>: keep the namespace by bind-mounting it there;
                             for a mount namespace <file> must not be on a shared mount

 -f, --fork                accepted for unshare compatibility; nsjs always forks
 --kill-child[=<signame>]  kill the program when nsjs dies; nsjs always uses
                             SIGKILL (PR_SET_PDEATHSIG), whatever <signame> says
 --mount-proc[=<dir>]      mount proc filesystem first (implies --mount)
 --propagation slave|shared|private|unchanged
                           modify mount propagation in mount namespace (default private)
 -R, --root <dir>          pivot_root into <dir> (implies --mount; cwd / unless --wd)
 -w, --wd <dir>            change working directory to <dir>

 -S, --setuid <uid>        set uid in entered namespace
 -G, --setgid <gid>        set gid in entered namespace (and drop supplementary groups)
 --map-user <uid>|<name>   map current user to uid (implies --user)
 --map-group <gid>|<name>  map current group to gid (implies --user)
 -r, --map-root-user       map current user to root (implies --user)
 -c, --map-current-user    map current user to itself (implies --user)
 --map-auto                map users and groups from /etc/subuid, /etc/subgid (implies --user)
 --map-subids              map those ids to themselves (implies --user)
 --map-users <inneruid>:<outeruid>:<count>|auto|subids|all
                           map count users from outeruid to inneruid (implies --user)
 --map-groups <innergid>:<outergid>:<count>|auto|subids|all
                           map count groups from outergid to innergid (implies --user)
 --setgroups allow|deny    control the setgroups syscall in user namespaces
 --keep-caps               retain capabilities granted in user namespaces

 --monotonic <offset>      set clock monotonic offset (seconds) in time namespaces
 --boottime <offset>       set clock boottime offset (seconds) in time namespaces

nsjs's own:
 --hostname <name>         hostname in the new UTS namespace (implies --uts)
 --domainname <name>       NIS domain name in the new UTS namespace (implies --uts)
 --bind <src>[:<dst>]      bind-mount <src> at <dst> (implies --mount)
 --ro-bind <src>[:<dst>]   the same, read-only
 --tmpfs <dst>             mount a fresh tmpfs at <dst> (implies --mount)
 --dev <dst>               mount a minimal /dev at <dst> (implies --mount)
 --init                    run a minimal init as pid 1 that reaps orphans (needs --pid)
 --veth <hostaddr>,<addr>  a veth pair to the host with these CIDR addresses (implies --net)
${POLICY_HELP}
 -h, --help                display this help
 -V, --version             display version

Exit status: the program's; a program killed by a signal kills nsjs with the
same signal, as unshare does. 1 when nsjs itself fails, 126/127 when the
program cannot be executed / is not found.
`;

/** What `nsjs run` will do: spawnIsolated(command, args, options), then bind-mount `persist`. */
export interface RunRequest {
  command: string;
  args: string[];
  options: SpawnOptions & Record<string, unknown>;
  /** Namespaces to keep at a file (`--net=FILE`), in unshare's order. */
  persist: [NamespaceType, string][];
  /** Set when --kill-child named a signal other than SIGKILL: nsjs still sends SIGKILL. */
  killChildSignal?: string;
}

/** A request, or `--help` / `--version` (checked with `'help' in parsed`). */
export type Parsed<T> = T | { help: true } | { version: true };

function signalArg(value: string): string {
  const name = /^[0-9]+$/.test(value)
    ? Object.entries(os.constants.signals).find(([, n]) => n === Number(value))?.[0]
    : value.toUpperCase().startsWith('SIG')
      ? value.toUpperCase()
      : `SIG${value.toUpperCase()}`;
  if (!name || !(name in os.constants.signals)) throw new UsageError(`unknown signal: ${value}`);
  return name;
}

function pair(value: string, option: string): { source: string; target: string } {
  const i = value.indexOf(':');
  const source = i < 0 ? value : value.slice(0, i);
  const target = i < 0 ? value : value.slice(i + 1);
  if (!source || !target) throw new UsageError(`invalid argument '${value}' for ${option}: use SRC:DST`);
  return { source, target };
}

/** The capability names in bit order, for --keep-caps (all that this kernel has). */
const CAPABILITY_NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
];

/**
 * unshare and nsenter allow nested namespaces and load no filter; the one
 * rule kept refuses TIOCSTI and TIOCLINUX, since the terminal is kept.
 * Without no_new_privs the kernel loads it only with CAP_SYS_ADMIN: real
 * root, or inside a user namespace; an ordinary user without one gets none.
 */
export function utilLinuxSeccomp(privileged: boolean): Pick<SpawnOptions, 'seccomp' | 'allowUserNamespaces'> {
  return { allowUserNamespaces: true, seccomp: privileged ? { base: 'none' } : false };
}

export function allCapabilities(): CapabilityName[] {
  let last = CAPABILITY_NAMES.length - 1;
  try {
    last = Math.min(last, Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'latin1')));
  } catch {
    // no /proc: every name we know
  }
  return CAPABILITY_NAMES.slice(0, last + 1).map((n) => `CAP_${n}` as CapabilityName);
}

/** `ids` lets tests fix the caller's uid/gid. */
export function parseRun(
  argv: readonly string[],
  ids: { uid: number; gid: number; groups?: number[] } = { uid: process.geteuid!(), gid: process.getegid!() },
): Parsed<RunRequest> {
  const { options: given, operands } = parseCommandLine(argv, RUN_OPTIONS);
  const namespaces = new Set<NamespaceType>();
  const persist: [NamespaceType, string][] = [];
  const mounts: NonNullable<SpawnOptions['mounts']> = [];
  const o: RunRequest['options'] = {};
  let procMount: string | undefined;
  let mapUser: number | undefined;
  let mapGroup: number | undefined;
  const userRanges: Range[] = [];
  const groupRanges: Range[] = [];
  let setgroups: 'allow' | 'deny' | undefined;
  let propagation: SpawnOptions['propagation'];
  let keepCaps = false;
  let uid: number | undefined;
  let gid: number | undefined;
  let root: string | undefined;
  let wd: string | undefined;
  let killChild: string | undefined;
  const offsets: { monotonic?: number; boottime?: number } = {};
  let veth: { hostAddress: string; address: string } | undefined;
  const policy = policyFlags();

  for (const { name, value, as } of given) {
    if (policyFlag(name, value, policy)) continue;
    const ns = NAMESPACE_FLAGS.find(([, long]) => long === name);
    if (ns) {
      namespaces.add(ns[2]);
      if (value !== undefined) {
        if (value === '') throw new UsageError(`option '${as}' needs a file name after '='`);
        // unshare keeps one file per type: the last one given.
        const i = persist.findIndex(([t]) => t === ns[2]);
        if (i >= 0) persist.splice(i, 1);
        persist.push([ns[2], value]);
      }
      continue;
    }
    const v = value as string;
    switch (name) {
      case 'help':
        return { help: true };
      case 'version':
        return { version: true };
      case 'fork':
        break;
      case 'kill-child':
        killChild = value === undefined ? 'SIGKILL' : signalArg(value);
        break;
      case 'mount-proc':
        namespaces.add('mnt');
        procMount = value ?? '/proc';
        break;
      case 'map-user':
        namespaces.add('user');
        mapUser = userArg(v);
        break;
      case 'map-group':
        namespaces.add('user');
        mapGroup = groupArg(v);
        break;
      case 'map-root-user':
        namespaces.add('user');
        mapUser = 0;
        mapGroup = 0;
        break;
      case 'map-current-user':
        namespaces.add('user');
        mapUser = ids.uid;
        mapGroup = ids.gid;
        break;
      case 'map-auto':
      case 'map-subids':
        namespaces.add('user');
        userRanges.push(subidRange('/etc/subuid', ids.uid, name === 'map-subids'));
        groupRanges.push(subidRange('/etc/subgid', ids.uid, name === 'map-subids'));
        break;
      case 'map-users':
      case 'map-groups': {
        namespaces.add('user');
        const users = name === 'map-users';
        const list = users ? userRanges : groupRanges;
        if (v === 'auto' || v === 'subids') list.push(subidRange(users ? '/etc/subuid' : '/etc/subgid', ids.uid, v === 'subids'));
        else if (v === 'all') list.push(...kernelRanges(users ? '/proc/self/uid_map' : '/proc/self/gid_map'));
        else list.push(rangeArg(v, as));
        break;
      }
      case 'setgroups':
        if (v !== 'allow' && v !== 'deny') throw new UsageError(`unsupported --setgroups argument '${v}'`);
        setgroups = v;
        break;
      case 'propagation':
        if (!['slave', 'shared', 'private', 'unchanged'].includes(v)) throw new UsageError(`unsupported propagation mode: ${v}`);
        propagation = v as SpawnOptions['propagation'];
        break;
      case 'keep-caps':
        keepCaps = true;
        break;
      case 'setuid':
        uid = unsignedArg(v, 'uid');
        break;
      case 'setgid':
        gid = unsignedArg(v, 'gid');
        break;
      case 'root':
        root = v;
        break;
      case 'wd':
        wd = v;
        break;
      case 'monotonic':
      case 'boottime':
        offsets[name] = signedArg(v, `${name} offset`);
        break;
      case 'hostname':
      case 'domainname':
        namespaces.add('uts');
        o[name] = v;
        break;
      case 'bind':
      case 'ro-bind':
        namespaces.add('mnt');
        mounts.push({ type: 'bind', ...pair(v, as), ...(name === 'ro-bind' ? { readonly: true } : {}) });
        break;
      case 'tmpfs':
      case 'dev':
        namespaces.add('mnt');
        mounts.push({ type: name, target: v });
        break;
      case 'init':
        o.init = true;
        break;
      case 'veth': {
        const parts = v.split(',');
        if (parts.length !== 2 || !parts[0] || !parts[1]) throw new UsageError(`invalid argument '${v}' for --veth: use HOSTADDR,ADDR (CIDR, e.g. 10.0.0.1/24,10.0.0.2/24)`);
        namespaces.add('net');
        veth = { hostAddress: parts[0], address: parts[1] };
        break;
      }
    }
  }

  if ((offsets.monotonic !== undefined || offsets.boottime !== undefined) && !namespaces.has('time'))
    throw new UsageError('options --monotonic and --boottime require unsharing of a time namespace (-T)');
  if (root !== undefined) namespaces.add('mnt'); // pivot_root needs a mount namespace of our own
  if (operands.length === 0) throw new UsageError('no command given');

  // The order of NAMESPACE_FLAGS, so that equal command lines give equal objects.
  if (namespaces.size) o.namespaces = NAMESPACE_FLAGS.map(([, , t]) => t).filter((t) => namespaces.has(t));
  if (namespaces.has('user')) o.user = userMapping(ids, mapUser, mapGroup, userRanges, groupRanges, setgroups);
  if (procMount !== undefined) mounts.unshift({ type: 'proc', target: procMount });
  if (mounts.length) o.mounts = mounts;
  if (root !== undefined) o.root = root;
  if (propagation !== undefined && (namespaces.has('mnt') || propagation === 'unchanged')) o.propagation = propagation;
  // The API takes only an absolute cwd: a relative --wd is unshare's, from
  // our directory (or from the new root's /, where unshare would chdir
  // relative to a directory left outside it).
  const cwd = wd !== undefined ? path.resolve(root !== undefined ? '/' : process.cwd(), wd) : root !== undefined ? '/' : undefined;
  if (cwd !== undefined) o.cwd = cwd;
  if (uid !== undefined) o.uid = uid;
  if (gid !== undefined) {
    o.gid = gid;
    o.groups = []; // unshare drops the supplementary groups with -G
  } else if (uid !== undefined && !namespaces.has('user')) {
    // and keeps them with -S alone, where the API would clear them.
    o.groups = ids.groups ?? process.getgroups!();
  }
  if (keepCaps && namespaces.has('user')) o.capabilities = { keep: allCapabilities() };
  // unshare leaves real root's capabilities as they are, where the API drops
  // them all: ask to keep them (which, for uid 0, changes nothing). After
  // --setuid to another uid unshare's command has none, as the default gives.
  else if (!namespaces.has('user') && (uid === undefined || uid === 0)) o.capabilities = { keep: allCapabilities() };
  if (offsets.monotonic !== undefined || offsets.boottime !== undefined) o.timeOffsets = offsets;
  if (veth) o.network = { veth };
  if (killChild !== undefined) o.dieWithParent = true;
  // unshare(1) sets no no_new_privs (a setuid program inside works as
  // outside) and keeps the caller's session, so that an interactive shell
  // keeps its terminal.
  o.noNewPrivileges = false;
  o.newSession = false;
  o.stdio = 'inherit';
  Object.assign(o, utilLinuxSeccomp(namespaces.has('user') || ids.uid === 0));
  applyPolicy(o, policy);

  const request: RunRequest = { command: operands[0], args: operands.slice(1), options: o, persist };
  if (killChild !== undefined && killChild !== 'SIGKILL') request.killChildSignal = killChild;
  return request;
}

function userMapping(
  ids: { uid: number; gid: number },
  mapUser: number | undefined,
  mapGroup: number | undefined,
  userRanges: Range[],
  groupRanges: Range[],
  setgroups: 'allow' | 'deny' | undefined,
): SpawnOptions['user'] {
  if (setgroups === 'allow' && mapGroup !== undefined && groupRanges.length === 0)
    throw new UsageError('options --setgroups=allow and --map-group are mutually exclusive');
  if (userRanges.length === 0 && groupRanges.length === 0) {
    if (mapUser === 0 && mapGroup === 0) return 'root';
    if (mapUser === ids.uid && mapGroup === ids.gid) return 'self';
    if (mapUser === undefined && mapGroup === undefined) return 'self';
  }
  // As unshare: the single mapping goes first and is cut out of the ranges.
  // A side with neither maps our own id to itself (the API needs both maps;
  // unshare would leave it unmapped, shown as the overflow id 65534).
  const side = (ranges: Range[], outer: number, inner: number | undefined) => {
    const list = ranges.length ? addSingle(ranges, outer, inner) : [{ inner: inner ?? outer, outer, count: 1 }];
    return list.map((r) => ({ inside: r.inner, outside: r.outer, count: r.count }));
  };
  const user: Exclude<SpawnOptions['user'], string | undefined> = {
    uidMap: side(userRanges, ids.uid, mapUser),
    gidMap: side(groupRanges, ids.gid, mapGroup),
  };
  if (setgroups) user.setgroups = setgroups;
  else if (mapGroup !== undefined && groupRanges.length === 0) user.setgroups = 'deny';
  return user;
}

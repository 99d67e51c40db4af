// `nsjs run`: unshare(1)'s options turned into one spawnIsolated options
// object. Parsing is pure (it reads only our ids, /etc/passwd and
// /etc/sub[ug]id, as unshare does), so every flag is unit-tested without a
// kernel; running it is spawn, persist, wait, and exit as unshare exits.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { SIGRTMAX, SIGRTMIN } from '../core/signals';
import { sys, type NamespaceType, type SpawnOptions, type Terminal, type UserMapping } from '../index';
import { UsageError, parseCommandLine, type OptionSpecs } from './args';
import { addSingle, groupArg, kernelRanges, passwdEntry, rangeArg, signedArg, subidRange, unsignedArg, userArg, type Range } from './ids';
import { allCapabilities } from '../policy/options';
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
  'forward-signals': { arg: 'none' },
  'clear-env': { arg: 'none' },
  'whitelist-env': { arg: 'required' },
  'mount-proc': { arg: 'optional' },
  'mount-binfmt': { arg: 'optional' },
  'load-interp': { short: 'l', arg: 'required' },
  'map-user': { arg: 'required' },
  'map-group': { arg: 'required' },
  'map-root-user': { short: 'r', arg: 'none' },
  'map-current-user': { short: 'c', arg: 'none' },
  'map-auto': { arg: 'none' },
  'map-subids': { arg: 'none' },
  'map-users': { arg: 'required' },
  'map-groups': { arg: 'required' },
  setgroups: { arg: 'required' },
  owner: { arg: 'required' },
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
  // the filesystem builder, bwrap-shaped
  'bind-try': { arg: 'required' },
  'ro-bind-try': { arg: 'required' },
  'bind-idmap': { arg: 'required' },
  'ro-bind-idmap': { arg: 'required' },
  dir: { arg: 'required' },
  file: { arg: 'required' },
  'file-from': { arg: 'required' },
  symlink: { arg: 'required' },
  mask: { arg: 'required' },
  mqueue: { arg: 'required' },
  'overlay-src': { arg: 'required' },
  overlay: { arg: 'required' },
  'tmp-overlay': { arg: 'required' },
  'tmpfs-root': { arg: 'none' },
  'remount-ro': { arg: 'none' },
  memory: { arg: 'required' },
  'memory-high': { arg: 'required' },
  'memory-swap': { arg: 'required' },
  pids: { arg: 'required' },
  cpus: { arg: 'required' },
  'cpu-weight': { arg: 'required' },
  bridge: { arg: 'required' },
  publish: { arg: 'required' },
  'allow-net': { arg: 'required' },
  tty: { short: 't', arg: 'none' },
  help: { short: 'h', arg: 'none' },
  version: { short: 'V', arg: 'none' },
};

export const RUN_HELP = `
Usage:
 nsjs run [options] [--] [<program> [<argument>...]]

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
 --kill-child[=<signame>]  when nsjs dies, kill the program with <signame> (default SIGKILL)
 --forward-signals         forward SIGTERM and SIGINT to the program
 --clear-env               start the program with an empty environment
 --whitelist-env <list>    keep these variables (comma-separated; implies --clear-env)
 --mount-proc[=<dir>]      mount proc filesystem first (implies --mount)
 --mount-binfmt[=<dir>]    mount binfmt filesystem (implies --user and --mount;
                             default /proc/sys/fs/binfmt_misc, with --mount-proc)
 -l, --load-interp <string> register this binfmt_misc entry (:name:type:offset:magic:mask:
                             interpreter:flags) in it (implies --mount-binfmt)
 --propagation slave|shared|private|unchanged
                           modify mount propagation in mount namespace (default private)
 -R, --root <dir>          run the command with root directory set to <dir> (chroot(2);
                             cwd / unless --wd; --mount-proc and nsjs's mounts go inside it)
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
 --owner <uid>:<gid>       set the user namespace owner (implies --user)
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

A filesystem built from nothing (bwrap's flags; each implies --mount):
 --tmpfs-root              the new root is an empty tmpfs that the options below build
 --remount-ro              remount that root read-only once built
 --bind-try <src>[:<dst>]  --bind, skipped when <src> does not exist
 --ro-bind-try <src>[:<dst>]  --ro-bind, skipped when <src> does not exist
 --bind-idmap <src>[:<dst>]  --bind, idmapped through the new user namespace's maps (root; with -U and maps)
 --ro-bind-idmap <src>[:<dst>]  the same, read-only
 --dir <dst>               make a directory (0755)
 --file <dst>:<content>    make a file holding <content> (0644)
 --file-from <dst>:<file>  make a file holding a copy of <file>
 --symlink <to>:<dst>      make a symbolic link at <dst> leading to <to>
 --mask <dst>              hide <dst>: an empty read-only tmpfs, or /dev/null over a file
 --mqueue <dst>            mount a POSIX message queue filesystem (with --ipc)
 --overlay-src <dir>       a lower layer of the next --overlay or --tmp-overlay (top first)
 --overlay <upper>:<work>:<dst>  an overlay of the --overlay-src layers, writes into <upper>
 --tmp-overlay <dst>       the same, writes into a throw-away tmpfs
 Missing mount points are made only where nsjs made the parent (the tmpfs
 root, a --tmpfs, --dev or --dir), never on a disk of the host.
 --memory <size>           a cgroup of its own with this memory limit (bytes, or 64K/64M/64G);
                             past it the kernel OOM-kills (docker, nsjail --cgroup_mem_max)
 --memory-high <size>      where the cgroup starts being throttled and reclaimed
 --memory-swap <size>      swap allowed on top of --memory (default 0)
 --pids <n>                at most <n> processes and threads (nsjail --cgroup_pids_max)
 --cpus <n>                at most <n> CPUs' worth of time (0.5 = half a CPU; docker --cpus)
 --cpu-weight <1-10000>    its share of busy CPUs against other cgroups (default 100)
 --bridge <name>[,<addr>]  a veth pair whose host end joins bridge <name>, the
                             sandbox end with CIDR <addr> (implies --net)
 --publish [<host>:]<hostport>:<port>[/udp]
                           forward our <host>:<hostport> (default 127.0.0.1) to
                             <port> on the sandbox's 127.0.0.1 (implies --net)
 --allow-net <host>:<port> no network but a proxy that reaches only these
                             (repeatable; * for any host or port; implies --net --user)
 -t, --tty                 when stdin is a terminal, give the program a terminal of its
                             own (a new pty and session) wired to ours; else ignored

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
  /** The program as the user named it, for messages, where `command` is the path found for it. */
  name?: string;
  options: SpawnOptions & Record<string, unknown>;
  /** `--publish`: ports of ours forwarded into the sandbox once it runs. */
  publish?: { listen: { host: string; port: number }; to: { host: string; port: number }; protocol: 'tcp' | 'udp' }[];
  /** Namespaces to keep at a file (`--net=FILE`), in unshare's order. */
  persist: [NamespaceType, string][];
  /** --forward-signals: SIGTERM and SIGINT sent to nsjs go to the program. */
  forwardSignals?: boolean;
}

/** A request, or `--help` / `--version` (checked with `'help' in parsed`). */
export type Parsed<T> = T | { help: true } | { version: true };

/** unshare's signame_to_signum: a name, any case, with or without SIG; not a number. */
/** util-linux's signame_to_signum: a name, or RT<n>, RTMIN+<n>, RTMAX-<n> (digits first, the rest ignored, as its strtol). */
function signalArg(value: string): string | number {
  if (/^(SIG)?RT/i.test(value)) {
    const rt = /^(?:SIG)?RT(MIN\+|MAX-)?([0-9]+)/i.exec(value);
    const num = !rt ? -1 : rt[1]?.toUpperCase() === 'MAX-' ? SIGRTMAX - Number(rt[2]) : SIGRTMIN + Number(rt[2]);
    if (num < SIGRTMIN || num > SIGRTMAX) throw new UsageError(`unknown signal: ${value}`);
    return num;
  }
  const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
  if (!(name in os.constants.signals)) throw new UsageError(`unknown signal: ${value}`);
  return name;
}

function pair(value: string, option: string): { source: string; target: string } {
  const i = value.indexOf(':');
  const source = i < 0 ? value : value.slice(0, i);
  const target = i < 0 ? value : value.slice(i + 1);
  if (!source || !target) throw new UsageError(`invalid argument '${value}' for ${option}: use SRC:DST`);
  return { source, target };
}


/**
 * unshare and nsenter allow nested namespaces and load no filter; the one
 * rule kept refuses TIOCSTI and TIOCLINUX, since the terminal is kept.
 * Without no_new_privs the kernel loads it only with CAP_SYS_ADMIN: real
 * root, or inside a user namespace; an ordinary user without one gets none.
 */
export function utilLinuxSeccomp(privileged: boolean): Pick<SpawnOptions, 'seccomp' | 'allowUserNamespaces'> {
  return { allowUserNamespaces: true, seccomp: privileged ? { base: 'none' } : false };
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
  let binfmtDir: string | undefined;
  let interp: string | undefined;
  let mapUser: number | undefined;
  let mapGroup: number | undefined;
  const userRanges: Range[] = [];
  const groupRanges: Range[] = [];
  let setgroups: 'allow' | 'deny' | undefined;
  let owner: { uid: number; gid: number } | undefined;
  let propagation: SpawnOptions['propagation'];
  let keepCaps = false;
  let uid: number | undefined;
  let gid: number | undefined;
  let root: string | undefined;
  let tty = false;
  let wd: string | undefined;
  let killChild: string | number | undefined;
  let forwardSignals = false;
  let env: Record<string, string> | undefined;
  const offsets: { monotonic?: number; boottime?: number } = {};
  let veth: { hostAddress?: string; address?: string; bridge?: string } | undefined;
  const policy = policyFlags();
  let tmpfsRoot: { type: 'tmpfs'; readonly?: boolean } | undefined;
  let remountRo = false;
  let lower: string[] = [];
  const cgroup: { memory?: Record<string, string>; pids?: { max: number }; cpu?: { max?: number; weight?: number } } = {};
  const publish: RunRequest['publish'] = [];
  const allowNet: string[] = [];

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
      case 'forward-signals':
        forwardSignals = true;
        break;
      case 'clear-env':
        env ??= {};
        break;
      case 'whitelist-env':
        // As unshare: read when the option is parsed; unset names are dropped.
        env ??= {};
        for (const key of v.split(',')) if (process.env[key] !== undefined) env[key] = process.env[key]!;
        break;
      case 'kill-child':
        killChild = value === undefined ? 'SIGKILL' : signalArg(value);
        break;
      case 'mount-proc':
        namespaces.add('mnt');
        procMount = value ?? '/proc';
        break;
      case 'mount-binfmt':
      case 'load-interp':
        // binfmt_misc is per user namespace (Linux 6.7); the default place is in proc
        namespaces.add('mnt');
        namespaces.add('user');
        if (name === 'load-interp') interp = v;
        if (name === 'mount-binfmt' && value !== undefined) binfmtDir = value;
        else if (binfmtDir === undefined) {
          procMount ??= '/proc';
          binfmtDir = '/proc/sys/fs/binfmt_misc';
        }
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
      case 'owner': {
        namespaces.add('user');
        const ids = /^([0-9]+):([0-9]+)$/.exec(v);
        if (!ids || Number(ids[1]) > 0xfffffffe || Number(ids[2]) > 0xfffffffe) throw new UsageError('failed to parse owner');
        owner = { uid: Number(ids[1]), gid: Number(ids[2]) };
        break;
      }
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
        root = path.resolve(v);
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
      case 'bind-try':
      case 'ro-bind-try':
        namespaces.add('mnt');
        mounts.push({ type: 'bind', ...pair(v, as), optional: true, ...(name === 'ro-bind-try' ? { readonly: true } : {}) });
        break;
      case 'bind-idmap':
      case 'ro-bind-idmap':
        namespaces.add('mnt');
        mounts.push({ type: 'bind', ...pair(v, as), idmap: true, ...(name === 'ro-bind-idmap' ? { readonly: true } : {}) });
        break;
      case 'dir':
      case 'mask':
      case 'mqueue':
        namespaces.add('mnt');
        mounts.push({ type: name, target: v });
        break;
      case 'file': {
        namespaces.add('mnt');
        const i = v.indexOf(':');
        if (i <= 0) throw new UsageError(`invalid argument '${v}' for ${as}: use DST:CONTENT`);
        mounts.push({ type: 'file', target: v.slice(0, i), content: v.slice(i + 1) });
        break;
      }
      case 'file-from': {
        namespaces.add('mnt');
        const { source: target, target: from } = pair(v, as);
        mounts.push({ type: 'file', target, content: fs.readFileSync(from) });
        break;
      }
      case 'symlink': {
        namespaces.add('mnt');
        const { source: linkTo, target } = pair(v, as);
        mounts.push({ type: 'symlink', target, linkTo });
        break;
      }
      case 'overlay-src':
        lower.push(v);
        break;
      case 'overlay':
      case 'tmp-overlay': {
        namespaces.add('mnt');
        if (lower.length === 0) throw new UsageError(`${as} needs at least one --overlay-src before it`);
        const parts = name === 'overlay' ? v.split(':') : [v];
        if (parts.length !== (name === 'overlay' ? 3 : 1) || parts.some((x) => !x)) throw new UsageError(`invalid argument '${v}' for ${as}: use UPPER:WORK:DST`);
        const target = parts[parts.length - 1];
        mounts.push(name === 'overlay' ? { type: 'overlay', target, lower, upper: parts[0], work: parts[1] } : { type: 'overlay', target, lower });
        lower = [];
        break;
      }
      case 'tmpfs-root':
        namespaces.add('mnt');
        tmpfsRoot = { type: 'tmpfs' };
        break;
      case 'remount-ro':
        remountRo = true;
        break;
      case 'init':
        o.init = true;
        break;
      case 'tty':
        tty = true;
        break;
      case 'veth': {
        const parts = v.split(',');
        if (parts.length !== 2 || !parts[0] || !parts[1]) throw new UsageError(`invalid argument '${v}' for --veth: use HOSTADDR,ADDR (CIDR, e.g. 10.0.0.1/24,10.0.0.2/24)`);
        namespaces.add('net');
        if (veth?.bridge !== undefined) throw new UsageError('options --veth and --bridge are mutually exclusive');
        veth = { hostAddress: parts[0], address: parts[1] };
        break;
      }
      case 'memory':
      case 'memory-high':
      case 'memory-swap':
        cgroup.memory = { ...cgroup.memory, [{ memory: 'max', 'memory-high': 'high', 'memory-swap': 'swapMax' }[name]]: v };
        break;
      case 'pids':
        cgroup.pids = { max: unsignedArg(v, 'pids') };
        break;
      case 'cpus':
      case 'cpu-weight': {
        const n = Number(v);
        if (v === '' || !Number.isFinite(n)) throw new UsageError(`invalid argument '${v}' for --${name}: not a number`);
        cgroup.cpu = { ...cgroup.cpu, [name === 'cpus' ? 'max' : 'weight']: n };
        break;
      }
      case 'bridge': {
        const [bridge, address, ...more] = v.split(',');
        if (!bridge || address === '' || more.length) throw new UsageError(`invalid argument '${v}' for --bridge: use NAME or NAME,ADDR (CIDR, e.g. br0,169.254.1.2/24)`);
        if (veth) throw new UsageError('options --veth and --bridge are mutually exclusive');
        namespaces.add('net');
        veth = { bridge, ...(address !== undefined ? { address } : {}) };
        break;
      }
      case 'publish': {
        const m = /^(?:(\[[0-9a-fA-F:.]+\]|[0-9.]+):)?([0-9]{1,5}):([0-9]{1,5})(?:\/(tcp|udp))?$/.exec(v);
        if (!m || Number(m[2]) > 65535 || Number(m[3]) < 1 || Number(m[3]) > 65535)
          throw new UsageError(`invalid argument '${v}' for --publish: use [HOST:]HOSTPORT:PORT[/udp], e.g. 8080:80`);
        namespaces.add('net');
        const host = m[1] === undefined ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
        publish.push({ listen: { host, port: Number(m[2]) }, to: { host: '127.0.0.1', port: Number(m[3]) }, protocol: m[4] === 'udp' ? 'udp' : 'tcp' });
        break;
      }
      case 'allow-net':
        namespaces.add('net');
        namespaces.add('user');
        allowNet.push(v);
        break;
    }
  }

  if ((offsets.monotonic !== undefined || offsets.boottime !== undefined) && !namespaces.has('time'))
    throw new UsageError('options --monotonic and --boottime require unsharing of a time namespace (-T)');
  if (lower.length) throw new UsageError('--overlay-src needs an --overlay or --tmp-overlay after it');
  if (tmpfsRoot && root !== undefined) throw new UsageError('--tmpfs-root and --root cannot be used together');
  if (remountRo && !tmpfsRoot) throw new UsageError('--remount-ro needs --tmpfs-root');
  if (tmpfsRoot && remountRo) tmpfsRoot.readonly = true;

  // The order of NAMESPACE_FLAGS, so that equal command lines give equal objects.
  if (namespaces.size) o.namespaces = NAMESPACE_FLAGS.map(([, , t]) => t).filter((t) => namespaces.has(t));
  // --allow-net's own user namespace maps the caller (as bwrap's implied
  // one does), unlike -U alone: the program runs as itself behind the proxy.
  if (allowNet.length && mapUser === undefined && mapGroup === undefined && !given.some((g) => g.name === 'user')) {
    mapUser = ids.uid;
    mapGroup = ids.gid;
  }
  // (util-linux binds it from a helper once the pid namespace has its first process)
  if (owner && persist.some(([type]) => type === 'pid')) throw new UsageError('--pid=<file> cannot be used with --owner');
  if (namespaces.has('user')) {
    const m = userMapping(ids, mapUser, mapGroup, userRanges, groupRanges, setgroups, owner);
    o.user = m.user;
    if (uid === undefined && m.uid !== undefined) o.uid = m.uid;
    if (gid === undefined && m.gid !== undefined) o.gid = m.gid;
  }
  // as unshare: proc, then binfmt_misc over it, then the rest
  if (binfmtDir !== undefined) mounts.unshift({ type: 'raw', fstype: 'binfmt_misc', target: binfmtDir, flags: sys.MS_NOSUID | sys.MS_NODEV | sys.MS_NOEXEC });
  if (procMount !== undefined) mounts.unshift({ type: 'proc', target: procMount });
  // unshare mounts proc after its chroot: the mounts are made before ours,
  // so inside the directory that becomes the root.
  if (mounts.length) o.mounts = root === undefined ? mounts : mounts.map((m) => ({ ...m, target: path.join(root!, m.target) }));
  if (root !== undefined) o.chroot = root;
  if (interp !== undefined) o.binfmtRegister = { dir: root === undefined ? binfmtDir! : path.join(root, binfmtDir!), entry: interp };
  if (tmpfsRoot) o.root = tmpfsRoot;
  if (propagation !== undefined && (namespaces.has('mnt') || propagation === 'unchanged')) o.propagation = propagation;
  // The API takes only an absolute cwd: a relative --wd is unshare's, from
  // our directory (or from the new root's /, where unshare would chdir
  // relative to a directory left outside it).
  const newRoot = root !== undefined || tmpfsRoot !== undefined;
  const cwd = wd !== undefined ? path.resolve(newRoot ? '/' : process.cwd(), wd) : newRoot ? '/' : undefined;
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
  // unshare -n leaves lo down; the API brings it up unless told not to.
  if (veth) o.network = { veth };
  else if (namespaces.has('net')) o.network = { loopback: false };
  if (Object.keys(cgroup).length) o.cgroup = cgroup;
  if (allowNet.length) {
    if (veth) throw new UsageError('option --allow-net cannot be combined with --veth or --bridge: the sandbox gets only lo');
    o.network = { egress: { allow: allowNet } };
  }
  // A forward reaches the sandbox's 127.0.0.1: its lo must be up.
  if (publish.length) o.network = { ...(o.network as object), loopback: true };
  if (killChild !== undefined) o.dieWithParent = killChild === 'SIGKILL' ? true : typeof killChild === 'number' ? killChild : (killChild as NodeJS.Signals);
  // unshare(1) sets no no_new_privs (a setuid program inside works as
  // outside) and keeps the caller's session, so that an interactive shell
  // keeps its terminal.
  o.noNewPrivileges = false;
  o.newSession = false;
  o.stdio = 'inherit';
  Object.assign(o, utilLinuxSeccomp(namespaces.has('user') || ids.uid === 0));
  applyPolicy(o, policy);
  // -t: a pty of its own, in a new session (docker run -t); ours is only
  // relayed (attachTerminal), so the program cannot reach it.
  if (tty && process.stdin.isTTY) {
    o.terminal = { cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 };
    o.newSession = true;
  }

  if (env) o.env = env;

  const { argv0, ...program } = command(operands, env ?? process.env, ids.uid);
  if (argv0 !== undefined) o.argv0 = argv0;
  const request: RunRequest = { ...program, options: o, persist };
  if (publish.length) request.publish = publish;
  if (forwardSignals) request.forwardSignals = true;
  return request;
}

/**
 * The program to run, as util-linux's exec_shell and execvp find it: with no
 * operand, a login shell (`$SHELL`, else the passwd entry's, else /bin/sh;
 * argv[0] `-<name>`); a name without a slash is searched in the PATH of the
 * program's environment, or glibc's default /bin:/usr/bin where it has none
 * (--clear-env).
 */
export function command(operands: readonly string[], env: NodeJS.ProcessEnv, uid: number): Pick<RunRequest, 'command' | 'args' | 'name'> & { argv0?: string } {
  if (operands.length === 0) {
    const shell = env.SHELL || passwdEntry(uid)?.shell || '/bin/sh';
    return { command: shell, args: [], argv0: `-${path.basename(shell)}` };
  }
  const [name, ...args] = operands;
  if (env.PATH !== undefined || name.includes('/')) return { command: name, args };
  for (const dir of ['/bin', '/usr/bin']) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return { command: file, args, argv0: name };
    } catch {
      // not here
    }
  }
  // Not found: execve of a path that cannot exist fails with ENOENT, as execvp did.
  return { command: `/bin/${name}`, args, argv0: name, name };
}

/** As unshare: the single mapping goes first and is cut out of the ranges; a side with neither stays unmapped (the overflow id inside). */
function mapsOf(ids: { uid: number; gid: number }, mapUser: number | undefined, mapGroup: number | undefined, userRanges: Range[], groupRanges: Range[]): UserMapping {
  const side = (ranges: Range[], outer: number, inner: number | undefined) => {
    if (ranges.length === 0 && inner === undefined) return undefined;
    const list = ranges.length ? addSingle(ranges, outer, inner) : [{ inner: inner!, outer, count: 1 }];
    return list.map((r) => ({ inside: r.inner, outside: r.outer, count: r.count }));
  };
  const user: UserMapping = {};
  const uidMap = side(userRanges, ids.uid, mapUser);
  const gidMap = side(groupRanges, ids.gid, mapGroup);
  if (uidMap) user.uidMap = uidMap;
  if (gidMap) user.gidMap = gidMap;
  return user;
}

function userMapping(
  ids: { uid: number; gid: number },
  mapUser: number | undefined,
  mapGroup: number | undefined,
  userRanges: Range[],
  groupRanges: Range[],
  setgroups: 'allow' | 'deny' | undefined,
  owner?: { uid: number; gid: number },
): { user: SpawnOptions['user']; uid?: number; gid?: number } {
  // With --owner every map is written from outside (unshare's forked
  // helper): -r and --map-group no longer imply --setgroups=deny, and the
  // program keeps the owner's ids.
  if (owner) {
    const user = { owner, ...mapsOf(ids, mapUser, mapGroup, userRanges, groupRanges) };
    return { user: setgroups ? { ...user, setgroups } : user };
  }
  if (setgroups === 'allow' && mapGroup !== undefined && groupRanges.length === 0)
    throw new UsageError('options --setgroups=allow and --map-group are mutually exclusive');
  if (userRanges.length === 0 && groupRanges.length === 0 && setgroups === undefined) {
    if (mapUser === 0 && mapGroup === 0) return { user: 'root' };
    if (mapUser === ids.uid && mapGroup === ids.gid) return { user: 'self' };
    // -U alone: no map at all, setgroups left allowed
    if (mapUser === undefined && mapGroup === undefined) return { user: 'none' };
  }
  const user = mapsOf(ids, mapUser, mapGroup, userRanges, groupRanges);
  const { uidMap, gidMap } = user;
  if (setgroups) user.setgroups = setgroups;
  else if (mapGroup !== undefined && groupRanges.length === 0) user.setgroups = 'deny';
  // unshare's program keeps our ids: where the map covers them, that is the
  // id they map to (the API would otherwise make it 0, or need one).
  const inner = (map: typeof uidMap, id: number) => map?.find((m) => id >= m.outside && id < m.outside + m.count);
  const r: { user: SpawnOptions['user']; uid?: number; gid?: number } = { user };
  const u = inner(uidMap, ids.uid);
  const g = inner(gidMap, ids.gid);
  if (u && !uidMap!.some((m) => m.inside === 0)) r.uid = u.inside + ids.uid - u.outside;
  if (g && !gidMap!.some((m) => m.inside === 0)) r.gid = g.inside + ids.gid - g.outside;
  return r;
}

/**
 * `-t`: our terminal, raw, relayed to and from the program's own pty until
 * that closes (all its output shown), its size following ours.
 */
export function attachTerminal(t: Terminal): Promise<void> {
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.pipe(t);
  t.pipe(process.stdout, { end: false });
  const resize = () => t.resize(process.stdout.columns || 80, process.stdout.rows || 24);
  process.stdout.on('resize', resize);
  return new Promise((resolve) =>
    t.once('close', () => {
      process.stdout.off('resize', resize);
      stdin.unpipe(t);
      stdin.setRawMode(false);
      stdin.pause();
      resolve();
    }),
  );
}

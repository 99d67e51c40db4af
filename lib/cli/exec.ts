// `nsjs exec`: nsenter(1)'s options turned into spawnIsolated's `join`.
// Parsing is pure; namespace files are opened only when the command runs.
import * as path from 'node:path';

import type { NamespaceType, SpawnOptions } from '../index';
import { UsageError, parseCommandLine, type OptionSpecs } from './args';
import { unsignedArg } from './ids';
import { POLICY_HELP, POLICY_OPTIONS, applyPolicy, policyFlag, policyFlags } from './policy';
import { allCapabilities } from '../policy/options';
import { NAMESPACE_FLAGS, command, utilLinuxSeccomp, type Parsed } from './run';

export const EXEC_OPTIONS: OptionSpecs = {
  all: { short: 'a', arg: 'none' },
  target: { short: 't', arg: 'required' },
  ...Object.fromEntries(NAMESPACE_FLAGS.map(([short, long]) => [long, { short, arg: 'optional' as const }])),
  'net-socket': { short: 'N', arg: 'required' },
  setuid: { short: 'S', arg: 'required' },
  setgid: { short: 'G', arg: 'required' },
  'preserve-credentials': { arg: 'none' },
  'keep-caps': { arg: 'none' },
  'user-parent': { arg: 'none' },
  env: { short: 'e', arg: 'none' },
  'join-cgroup': { short: 'c', arg: 'none' },
  wdns: { short: 'W', arg: 'optional' },
  root: { short: 'r', arg: 'optional' },
  wd: { short: 'w', arg: 'optional' },
  'no-fork': { short: 'F', arg: 'none' },
  ...POLICY_OPTIONS,
  help: { short: 'h', arg: 'none' },
  version: { short: 'V', arg: 'none' },
};

export const EXEC_HELP = `
Usage:
 nsjs exec [options] [--] [<program> [<argument>...]]

Run a program with namespaces of other processes: nsenter(1)'s options, with
the same meaning. nsjs always forks, so a joined pid namespace is the program's.

Options:
 -a, --all              enter all namespaces of the target that differ from ours
 -t, --target <pid>     target process to get namespaces from
 -m, --mount[=<file>]   enter mount namespace
 -u, --uts[=<file>]     enter UTS namespace (hostname etc)
 -i, --ipc[=<file>]     enter System V IPC namespace
 -n, --net[=<file>]     enter network namespace
 -p, --pid[=<file>]     enter pid namespace
 -C, --cgroup[=<file>]  enter cgroup namespace
 -U, --user[=<file>]    enter user namespace (and become uid 0, gid 0 there)
 -T, --time[=<file>]    enter time namespace
 -N, --net-socket <fd>  enter the network namespace of socket <fd> of the target
 -S, --setuid <uid>|follow  set uid in entered namespace ('follow': the target's)
 -G, --setgid <gid>|follow  set gid in entered namespace ('follow': the target's)
     --preserve-credentials
                        do not touch uids or gids
     --keep-caps        keep the capabilities granted in the user namespace
     --user-parent      enter the parent of the target's user namespace
 -e, --env              take the environment of the target process
 -c, --join-cgroup      join the cgroup of the target process (cgroup v2)
 -r, --root[=<dir>]     set the root directory (default: the target's)
 -w, --wd[=<dir>]       set the working directory (default: the target's)
 -W, --wdns=<dir>       set the working directory in the entered namespace
 -F, --no-fork          accepted for nsenter compatibility; nsjs always forks
${POLICY_HELP}
 -h, --help             display this help
 -V, --version          display version

Exit status: the program's, as with nsjs run.
`;

export interface ExecRequest {
  command: string;
  args: string[];
  /** The program as the user named it, for messages. */
  name?: string;
  /** `join` is `{ pid, types? }` when every namespace comes from the target, else a list of files to open. */
  options: Omit<SpawnOptions, 'join'> & Record<string, unknown>;
  join: { pid: number; types?: NamespaceType[] } | { type: NamespaceType; path: string }[];
  /**
   * -r/--root and -w/--wd, as nsenter: directories opened by us before the
   * joins (a path of ours, relative to our cwd, or the target's
   * /proc/<pid>/root and /proc/<pid>/cwd), which the command's child
   * chroots and changes to once inside.
   */
  rootDir?: string;
  wdDir?: string;
  /** --net-socket: the net namespace of this socket of the target, in place of the `net` entry of `join`'s files. */
  netSocket?: { pid: number; fd: number };
  /** --user-parent: the parent of the target's user namespace, in place of the `user` entry of `join`'s files. */
  userParent?: number;
  /** --env: the target's environment, read when the command runs. */
  targetEnv?: number;
  /** --join-cgroup: nsjs moves itself into this process's cgroup (v2) before it starts the command, as nsenter does. */
  joinCgroup?: number;
  /** -S follow / -G follow: the target's ids (the owner of /proc/<pid>), read when the command runs. */
  follow?: { pid: number; uid: boolean; gid: boolean };
}


/** `groups` lets tests fix the caller's supplementary groups. */
export function parseExec(argv: readonly string[], groups?: number[]): Parsed<ExecRequest> {
  const { options: given, operands } = parseCommandLine(argv, EXEC_OPTIONS);
  let target: number | undefined;
  let all = false;
  const types = new Map<NamespaceType, string | undefined>();
  let uid: number | undefined;
  let gid: number | undefined;
  let preserve = false;
  let root: { dir?: string } | undefined;
  let wd: { dir?: string } | undefined;
  let socketFd: number | undefined;
  let keepCaps = false;
  let userParent = false;
  let env = false;
  let joinCgroup = false;
  let wdns: string | undefined;
  const follow = { uid: false, gid: false };
  const policy = policyFlags();
  for (const { name, value, as } of given) {
    if (policyFlag(name, value, policy)) continue;
    const ns = NAMESPACE_FLAGS.find(([, long]) => long === name);
    if (ns) {
      if (value === '') throw new UsageError(`option '${as}' needs a file name after '='`);
      types.set(ns[2], value);
      continue;
    }
    switch (name) {
      case 'help':
        return { help: true };
      case 'version':
        return { version: true };
      case 'all':
        all = true;
        break;
      case 'target':
        target = unsignedArg(value!, 'target PID', 0x3fffffff);
        if (target === 0) throw new UsageError(`failed to parse target PID: '${value}'`);
        break;
      case 'setuid':
        follow.uid = value === 'follow';
        if (!follow.uid) uid = unsignedArg(value!, 'uid');
        break;
      case 'setgid':
        follow.gid = value === 'follow';
        if (!follow.gid) gid = unsignedArg(value!, 'gid');
        break;
      case 'keep-caps':
        keepCaps = true;
        break;
      case 'user-parent':
        userParent = true;
        break;
      case 'env':
        env = true;
        break;
      case 'join-cgroup':
        joinCgroup = true;
        break;
      case 'wdns':
        // master's W:: — the value only attached; without one, nothing
        wdns = value;
        break;
      case 'preserve-credentials':
        preserve = true;
        break;
      case 'root':
        root = { dir: value };
        break;
      case 'wd':
        wd = { dir: value };
        break;
      case 'no-fork':
        break;
      case 'net-socket':
        socketFd = unsignedArg(value!, 'file descriptor', 0x7fffffff);
        break;
    }
  }
  const needTarget = (what: string) => {
    if (target === undefined) throw new UsageError(`${what} requires --target`);
    return target;
  };
  if (all) needTarget('--all');
  for (const [type, file] of types) if (file === undefined) needTarget(`--${NAMESPACE_FLAGS.find(([, , t]) => t === type)![1]}`);
  if (socketFd !== undefined) {
    needTarget('--net-socket');
    types.set('net', '');
  }
  if (userParent) {
    needTarget('--user-parent');
    types.set('user', '');
  }
  if (env) needTarget('--env');
  if (joinCgroup && target === undefined) throw new UsageError('neither filename nor target pid supplied for cgroup');
  if (follow.uid || follow.gid) needTarget(`${follow.uid ? '-S' : '-G'} follow`);
  if (wdns !== undefined && wd) throw new UsageError('mutually exclusive arguments: --wd --wdns');
  if (types.size === 0 && !all) throw new UsageError(target === undefined ? 'neither filename nor target pid supplied for any namespace' : 'no namespace specified');
  // nsenter's open_target_fd: a value, else the target's, else neither
  const targetFile = (what: string, file: string) => {
    if (target === undefined) throw new UsageError(`neither filename nor target pid supplied for ${what}`);
    return `/proc/${target}/${file}`;
  };

  // As nsenter: no no_new_privs, and the caller's session and terminal.
  const o: ExecRequest['options'] = { stdio: 'inherit', noNewPrivileges: false, newSession: false };
  const fromFiles = [...types].some(([, file]) => file !== undefined);
  let join: ExecRequest['join'];
  if (!fromFiles) {
    join = { pid: target! };
    if (!all) join.types = NAMESPACE_FLAGS.map(([, , t]) => t).filter((t) => types.has(t));
  } else {
    const list = all ? NAMESPACE_FLAGS.map(([, , t]) => t) : NAMESPACE_FLAGS.map(([, , t]) => t).filter((t) => types.has(t));
    join = list.map((type) => ({ type, path: types.get(type) ?? `/proc/${target}/ns/${type}` }));
  }
  // nsenter becomes root in an entered user namespace unless told otherwise.
  const entersUser = all || types.has('user');
  if (entersUser && !preserve) {
    uid ??= 0;
    gid ??= 0;
  }
  if (uid !== undefined) o.uid = uid;
  if (gid !== undefined) {
    o.gid = gid;
    // nsenter drops supplementary groups with -G, but ignores a refusal in a
    // user namespace (so does the API's own clear there).
    if (!entersUser) o.groups = [];
  } else if (uid !== undefined && !entersUser) {
    // and keeps them with -S alone, where the API would clear them.
    o.groups = groups ?? process.getgroups!();
  }
  // nsenter leaves the capabilities as they are (all, for root), where the
  // API drops them outside a joined user namespace: ask to keep them, which
  // for uid 0 changes nothing. A command made another uid has none, as there.
  if (uid === undefined || uid === 0 || (keepCaps && entersUser)) o.capabilities = { keep: allCapabilities() };
  Object.assign(o, utilLinuxSeccomp(entersUser || process.getuid!() === 0));
  // The Landlock paths name the joined mount namespace's files (opened after setns).
  applyPolicy(o, policy);
  const { argv0, ...program } = command(operands, process.env, process.getuid!());
  if (argv0 !== undefined) o.argv0 = argv0;
  const request: ExecRequest = { ...program, options: o, join };
  if (socketFd !== undefined) request.netSocket = { pid: target!, fd: socketFd };
  if (userParent) request.userParent = target!;
  if (env) request.targetEnv = target!;
  if (joinCgroup) request.joinCgroup = target!;
  if (follow.uid || follow.gid) request.follow = { pid: target!, ...follow };
  // --wdns: a directory of the entered mount namespace (the API's cwd is set there)
  if (wdns !== undefined) o.cwd = path.posix.resolve('/', wdns);
  if (root) request.rootDir = root.dir ?? targetFile('root', 'root');
  // nsenter opens a relative --wd from its own directory.
  if (wd) request.wdDir = wd.dir ?? targetFile('cwd', 'cwd');
  return request;
}

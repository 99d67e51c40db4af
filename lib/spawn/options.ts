// The spawn options as users write them, read once and checked. SpawnOptions
// is made of the rooms' parts (ns/, fs/, policy/, net/) and spawn's own
// options; checkOptions only dispatches: each room checks its own options
// against the namespaces asked for, and what is here are the rules between
// them. Everything here runs before anything native: a bad option throws a
// TypeError or RangeError naming it, and nothing has been started.
import { Stream } from 'node:stream';

import { checkCgroupOptions, type CgroupChecked, type CgroupSpawnOptions } from '../cgroup/options';
import { isNamespace } from '../core/brand';
import { invalidArgValue } from '../core/errors';
import { knownKeys, plainObject, record, snapshot } from '../core/validate';
import { checkFsOptions, type FsChecked, type FsSpawnOptions } from '../fs/options';
import { checkNetOptions, type NetChecked, type NetSpawnOptions } from '../net/options';
import type { Namespace } from '../ns/namespace';
import { checkNsOptions, type NsChecked, type NsSpawnOptions } from '../ns/options';
import { isLandlockLayers } from '../policy/landlock';
import { checkPolicyOptions, type PolicyChecked, type PolicySpawnOptions } from '../policy/options';
import { checkTerminalOptions, type TerminalChecked, type TerminalSpawnOptions } from '../terminal/options';
import { checkCommandOptions, snapshotEnv, type CommandChecked } from './command';
import { checkJoin, isJoinHolder, newPidInJoinedPid, type CheckedJoin, type JoinTarget } from './join';
import { checkStdio, type StdioEntry } from './stdio';
import { checkUser, impliedId, type CheckedUser, type UserMapping } from './user';

/**
 * Options of {@link spawnIsolated}. Every one is optional. Unprivileged, add
 * `'user'` to `namespaces` and the rest is created inside it; the doc of each
 * option says when it needs root and what it costs beyond a plain spawn.
 * @category Spawning
 */
export interface SpawnOptions extends NsSpawnOptions, FsSpawnOptions, PolicySpawnOptions, NetSpawnOptions, CgroupSpawnOptions, TerminalSpawnOptions {
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
   * Run a minimal PID 1 (nsjs-pid1, a static executable of a few KiB)
   * that starts the command as pid 2, forwards every signal it gets to it,
   * reaps orphans, and exits with it; `wait()` reports the command's own
   * status. Needs a new `pid` namespace. Without it, the command is pid 1
   * and the kernel drops every signal it has no handler for: a shell as pid
   * 1 ignores SIGTERM. Init runs from a sealed in-memory copy of nsjs-pid1
   * (made once per process, under a millisecond): a command that reopens
   * `/proc/1/exe` for writing reaches only that copy, whose seals refuse
   * every write. Cost: one more process (init's exec, its clone of the
   * command, its exit after it); init has no libc, whose start-up probes
   * the CPU (VM exits under a hypervisor), and its exec maps one page of
   * code (bench `init` section).
   */
  init?: boolean;
  /**
   * Maps of a new user namespace. `'root'` maps your uid/gid to 0 (as
   * `unshare -r`), `'self'` to themselves (`unshare -c`; the default when
   * `namespaces` includes `'user'`); both write `setgroups` `deny`.
   * `'auto'` maps 0 to you and 1… to your /etc/subuid and /etc/subgid
   * ranges through newuidmap/newgidmap (unshare `--map-auto -r`, podman);
   * `'none'` writes no map (unshare `-U`: every id shows as the overflow
   * id, setgroups stays allowed, and the command keeps no power over any
   * file of the host it could not touch before). With explicit maps
   * (`UserMapping`) the command runs as uid 0 / gid 0 inside when the map
   * covers 0 and `uid`/`gid` are not given, and they must be given where
   * it does not.
   */
  user?: 'root' | 'self' | 'auto' | 'none' | UserMapping;
  /** Working directory of the command (inside `root` when given): an absolute path, or a `file:` URL as `child_process` takes. */
  cwd?: string | URL;
  /**
   * @internal `nsjs run -R DIR` (unshare's): chroot(2) into this absolute
   * path after the mounts, before `cwd`; no mount namespace needed, nothing
   * unmounted. Needs CAP_SYS_CHROOT. A view, not a wall: a command that
   * keeps CAP_SYS_CHROOT leaves it (chroot into a subdirectory, then `..`),
   * and every mount of the host stays in its mount namespace; `root`
   * (pivot_root) is the boundary.
   */
  chroot?: string;
  /**
   * @internal `nsjs exec -r` (nsenter's): a directory fd of ours, opened
   * before the joins (so a path of our mount namespace, or /proc/<pid>/root):
   * the child, once in the joined namespaces, fchdir(2)s to it and chroot(2)s
   * there, keeping its working directory unless `cwd`/`cwdFd` set one. Needs
   * CAP_SYS_CHROOT where it runs; a view, not a wall, as `chroot`.
   */
  rootFd?: number;
  /**
   * @internal `nsjs exec -w` (nsenter's): a directory fd of ours the child
   * fchdir(2)s to last, after `rootFd` (it may lie outside that root: the
   * command can then walk out of it with `..`, as under nsenter).
   */
  cwdFd?: number;
  /**
   * @internal `nsjs run --load-interp` (unshare's): write `entry` to
   * `<dir>/register` of a binfmt_misc mounted by `mounts`, after the mounts
   * and before `chroot` (so that an `F` interpreter is opened outside it).
   * The registration belongs to the sandbox's user namespace: the command
   * can add, change or remove entries there, never the host's.
   */
  binfmtRegister?: { dir: string; entry: string };
  /** Environment of the command; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** `argv[0]` of the command; default `command`. */
  argv0?: string;
  /** As `child_process.spawn`: `'pipe'` (default), `'inherit'`, `'ignore'`, or an array of those, fds and Streams that have an fd (entry i becomes fd i of the command, up to 64). */
  stdio?: 'pipe' | 'inherit' | 'ignore' | StdioEntry[];
  /**
   * SIGKILL the command when this Node process dies (PR_SET_PDEATHSIG), set
   * after the last change of credentials (the kernel clears it on each) and
   * checked against a parent that died first. One prctl and one poll in the
   * child. A hostile command can clear it for itself (another prctl) and its
   * children never inherit it; only a pid namespace (with `init`, or the
   * command as its pid 1) takes every process inside down with it.
   * A signal name or number instead of `true` sends that signal (unshare
   * --kill-child=SIG), a real-time one by its number (glibc's SIGRTMIN 34
   * to SIGRTMAX 64); the command can catch or ignore any but SIGKILL.
   */
  dieWithParent?: boolean | NodeJS.Signals | number;
  /**
   * Kills the command (with `killSignal`, then SIGKILL after `killTimeout`)
   * when aborted, as `child_process.spawn`; its `ExitStatus` then has
   * `aborted: true`, and `runIsolated` rejects with an `AbortError` whose
   * `cause` is the signal's reason.
   */
  signal?: AbortSignal;
  /**
   * Kills the command (with `killSignal`, then SIGKILL after `killTimeout`)
   * after this many milliseconds (0: never); its `ExitStatus` then has
   * `timedOut: true`.
   */
  timeout?: number;
  /** Signal for `signal` and `timeout`, a name or its number as `child_process` takes them (not 0, which kills nothing); default `'SIGTERM'`. */
  killSignal?: NodeJS.Signals | number;
  /**
   * Milliseconds from `killSignal` (sent for `timeout`, `signal` or
   * runIsolated's `maxBuffer`) to SIGKILL when the command is still alive;
   * default 2000, `0` = never. A command that is PID 1 of its pid namespace
   * without `init` never gets a signal it has no handler for (the kernel
   * drops it: `sleep` as PID 1 ignores SIGTERM), and a hostile command can
   * catch or ignore `killSignal`; SIGKILL it can do nothing about. One timer
   * per kill, nothing else.
   */
  killTimeout?: number;
}

const OPTION_KEYS = [
  'namespaces', 'join', 'init', 'network', 'user', 'uid', 'gid', 'groups', 'hostname', 'domainname', 'mounts', 'root', 'propagation', 'cwd',
  'env', 'argv0', 'stdio', 'dieWithParent', 'newSession', 'noNewPrivileges', 'capabilities', 'rlimits',
  'timeOffsets', 'signal', 'timeout', 'killSignal',
  'seccomp', 'allowUserNamespaces', 'landlock',
  'killTimeout',
  'cgroup',
  'terminal',
  'persist',
  'chroot',
  'binfmtRegister',
  'rootFd',
  'cwdFd',
] as const;

/** Options after validation: defaults filled in, namespaces as a set. */
export interface Checked extends NsChecked, FsChecked, PolicyChecked, NetChecked, CommandChecked, TerminalChecked {
  join?: CheckedJoin;
  user?: CheckedUser;
  stdio: Exclude<StdioEntry, Stream>[];
  cgroup?: CgroupChecked;
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

// A Stream in stdio and a URL cwd are read once, where they are checked.
const keptAsTheyAre = (v: object) => isNamespace(v) || isAbortSignal(v) || isJoinHolder(v) || isLandlockLayers(v) || v instanceof Stream || v instanceof URL;
const copiedSpecially = { env: snapshotEnv };

/**
 * @internal The options copied once, before anything is checked (see
 * core/validate.ts `snapshot`); every later stage reads this copy or what was
 * derived from it.
 */
export function snapshotOptions(options: unknown): unknown {
  return snapshot(options, 'options', keptAsTheyAre, copiedSpecially);
}

/** `copied` (internal): `options` is a null-prototype record of a snapshot's values already (runIsolated's). */
export function checkOptions(options: unknown, copied = false): Checked {
  const o = options === undefined ? record({} as Record<string, unknown>) : plainObject(copied ? options : snapshotOptions(options), 'options');
  knownKeys(o, OPTION_KEYS, 'options');
  const ns = checkNsOptions(o);
  const { namespaces } = ns;
  const user = checkUser(o, namespaces);
  const command = checkCommandOptions(o, namespaces);
  const stdio = checkStdio(o.stdio);
  const policy = checkPolicyOptions(o);
  const fs = checkFsOptions(o, namespaces);
  const join = o.join === undefined ? undefined : checkJoin(o.join);
  const c = record<Checked>({ ...ns, ...command, stdio, ...policy, ...fs, ...checkNetOptions(o, namespaces, join !== undefined), ...checkTerminalOptions(o) });
  if (user !== undefined) c.user = user;
  for (const side of ['uid', 'gid'] as const) {
    const id = impliedId(user, side, c[side]);
    if (id !== undefined) c[side] = id;
  }
  if (join !== undefined) c.join = join;
  const { cgroup } = checkCgroupOptions(o);
  if (cgroup !== undefined) c.cgroup = cgroup;
  // Where the options say so: { pid } without types is settled in spawn, once
  // the target's pid namespace is known to differ from ours.
  const joinsPid = c.join && ('holder' in c.join ? c.join.holder.types.includes('pid') : 'pid' in c.join ? c.join.types?.includes('pid') : c.join.namespaces.some((n) => n.type === 'pid'));
  if (joinsPid && namespaces.has('pid')) throw newPidInJoinedPid([...namespaces]);
  // The parent writes explicit maps to the child it cloned, but after a join
  // the new user namespace belongs to that child's own child.
  if (c.join && c.user && typeof c.user === 'object')
    throw invalidArgValue('options.user', o.user, "cannot be explicit id maps together with options.join; use 'root' or 'self'");
  // After a join the new namespaces are made by the child's own child (the
  // second clone), which the bind of /proc/<child>/ns would not name, and
  // whose wait nothing would end if the bind failed.
  if (c.join && c.persist?.length) throw invalidArgValue('options.persist', o.persist, 'cannot be combined with options.join');
  // An owner's pid namespace is unshared: it has no /proc/<pid>/ns file to
  // bind until its first process, the child's own child, exists.
  if (typeof c.user === 'object' && c.user.owner && c.persist?.some(([type]) => type === 'pid'))
    throw invalidArgValue('options.persist.pid', (o.persist as Record<string, unknown>).pid, 'cannot be kept with options.user.owner');
  return c;
}

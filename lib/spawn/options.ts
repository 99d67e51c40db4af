// The spawn options as users write them, read once and checked. SpawnOptions
// is made of the rooms' parts (ns/, fs/, policy/, net/) and spawn's own
// options; checkOptions only dispatches: each room checks its own options
// against the namespaces asked for, and what is here are the rules between
// them. Everything here runs before anything native: a bad option throws a
// TypeError or RangeError naming it, and nothing has been started.
import { isNamespace } from '../core/brand';
import { invalidArgValue } from '../core/errors';
import { knownKeys, plainObject, record, snapshot } from '../core/validate';
import { checkFsOptions, type FsChecked, type FsSpawnOptions } from '../fs/options';
import { checkNetOptions, type NetChecked, type NetSpawnOptions } from '../net/options';
import type { Namespace } from '../ns/namespace';
import { checkNsOptions, type NsChecked, type NsSpawnOptions } from '../ns/options';
import { checkPolicyOptions, type PolicyChecked, type PolicySpawnOptions } from '../policy/options';
import { checkCommandOptions, snapshotEnv, type CommandChecked } from './command';
import { checkJoin, newPidInJoinedPid, type CheckedJoin, type JoinTarget } from './join';
import { checkStdio, type StdioEntry } from './stdio';
import { checkUser, type CheckedUser, type UserMapping } from './user';

/**
 * Options of {@link spawnIsolated}. Every one is optional. Unprivileged, add
 * `'user'` to `namespaces` and the rest is created inside it; the doc of each
 * option says when it needs root and what it costs beyond a plain spawn.
 */
export interface SpawnOptions extends NsSpawnOptions, FsSpawnOptions, PolicySpawnOptions, NetSpawnOptions {
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
  /** Kills the command (with `killSignal`) when aborted, as `child_process.spawn`. */
  signal?: AbortSignal;
  /** Kills the command (with `killSignal`) after this many milliseconds. */
  timeout?: number;
  /** Signal for `signal` and `timeout`, a name or its number as `child_process` takes them (not 0, which kills nothing); default `'SIGTERM'`. */
  killSignal?: NodeJS.Signals | number;
}

const OPTION_KEYS = [
  'namespaces', 'join', 'init', 'network', 'user', 'uid', 'gid', 'groups', 'hostname', 'domainname', 'mounts', 'root', 'propagation', 'cwd',
  'env', 'argv0', 'stdio', 'dieWithParent', 'newSession', 'noNewPrivileges', 'capabilities', 'rlimits',
  'timeOffsets', 'signal', 'timeout', 'killSignal',
  'seccomp', 'allowUserNamespaces', 'landlock',
] as const;

/** Options after validation: defaults filled in, namespaces as a set. */
export interface Checked extends NsChecked, FsChecked, PolicyChecked, NetChecked, CommandChecked {
  join?: CheckedJoin;
  user?: CheckedUser;
  stdio: StdioEntry[];
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

const keptAsTheyAre = (v: object) => isNamespace(v) || isAbortSignal(v);
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
  const c = record<Checked>({ ...ns, ...command, stdio, ...policy, ...fs, ...checkNetOptions(o, namespaces, join !== undefined) });
  if (user !== undefined) c.user = user;
  if (join !== undefined) c.join = join;
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

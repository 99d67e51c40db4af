// The command itself: how it is found (execCandidates, before clone), what
// it starts with (env, argv0, cwd, init), and what stops it (dieWithParent,
// signal, timeout, killSignal). Validated here; its ops close the plan: the
// working directory, then, after stdio and policy/'s ops, the fds closed,
// the parent-death signal and execve (of nsjs-init first with init).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';

import { invalidArgType, invalidArgValue, unknownSignal } from '../core/errors';
import type { NamespaceType } from '../core/nstypes';
import { SharedOp, type Add, type NativePlan } from '../core/plan';
import { SIGRTMAX, SIGRTMIN, signalName, signalNumber } from '../core/signals';
import { bool, integer, noNul, ownProperties, pathString, plainObject } from '../core/validate';

/** The command's ops (OpKind in src-native/spawn/plan.h). */
export const CommandOp = {
  Pdeathsig: 1,
  Chdir: 14,
  Chroot: 47,
  CloseFds: 21,
  Exec: 22,
} as const;

const SIGKILL = 9;

/** kStdioErrPipe in src-native/spawn/plan.h. */
const STDIO_ERR_PIPE = -3;

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Where execve will look for `command`: itself when it has a slash, else each
 * PATH entry (from the command's env, as child_process does). Without `root`
 * or mounts the host's file system is the child's, so the search is done here
 * and only the hit is passed on; `null` means nothing was found (ENOENT).
 */
export function execCandidates(command: string, env: [string, string][] | undefined, hostVisible: boolean): string[] | null {
  if (command.includes('/')) return [command];
  const PATH = (env ? env.find(([k]) => k === 'PATH')?.[1] : process.env.PATH) ?? DEFAULT_PATH;
  const candidates = PATH.split(':').map((dir) => path.join(dir || '.', command));
  if (!hostVisible) return candidates;
  let denied = false;
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return [c];
    } catch (err) {
      // Not here; next PATH entry. execvp answers EACCES, not ENOENT, when
      // one was there but not for us (or a PATH directory we cannot search).
      if ((err as NodeJS.ErrnoException).code === 'EACCES') denied = true;
    }
  }
  // The child's search then finds the same and says EACCES, as execvp does.
  return denied ? candidates : null;
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

/**
 * Only a signal child_process knows by name, as its killSignal: not 0, with
 * which kill(2) only checks that the process exists, so timeout and signal
 * would never stop the command; nor a real-time signal, which wait() could
 * not name in its status.
 */
function killSignal(value: unknown): number {
  const num = signalNumber(value, 'options.killSignal');
  if (signalName(num) === null) throw unknownSignal(value, 'options.killSignal');
  return num;
}

/** dieWithParent's signal: SIGKILL for `true`, 0 for `false`, or the one named (unshare --kill-child=SIG). */
function deathSignal(value: unknown): number {
  if (typeof value === 'boolean') return value ? SIGKILL : 0;
  if (typeof value !== 'string' && typeof value !== 'number') throw invalidArgType('options.dieWithParent', 'a boolean or a signal name or number', value);
  const num = signalNumber(value, 'options.dieWithParent');
  // The real-time signals have no name; 32 and 33 are glibc's own.
  if (num === 0 || (signalName(num) === null && (num < SIGRTMIN || num > SIGRTMAX))) throw unknownSignal(value, 'options.dieWithParent');
  return num;
}

/**
 * env's values become strings as they are copied, as child_process converts
 * them (a template literal), so that a value's toString runs once and its
 * class's prototype, which the copy would not keep, is used.
 */
export function snapshotEnv(value: unknown, name: string): unknown {
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

/** The command's part of the checked options. */
export interface CommandChecked {
  init: boolean;
  /** @internal unshare -R: chroot(2) into it after the mounts, before cwd. */
  chroot?: string;
  /** @internal nsenter -r / -w: fds of ours to chroot to and chdir to. */
  rootFd?: number;
  cwdFd?: number;
  /** @internal unshare --load-interp: written to `<dir>/register` before the chroot. */
  binfmtRegister?: { dir: string; entry: string };
  cwd?: string;
  /** Unset: the command gets our environment, copied natively from environ (see env()). */
  env?: [string, string][];
  argv0?: string;
  dieWithParent: boolean;
  /** dieWithParent's signal when it is not SIGKILL. */
  deathSignal?: number;
  signal?: AbortSignal;
  timeout?: number;
  killSignal: number;
  killTimeout: number;
}

/** `init`, `env`, `cwd`, `argv0`, `dieWithParent`, `signal`, `timeout`, `killSignal` and `killTimeout`. */
export function checkCommandOptions(o: Readonly<Record<string, unknown>>, namespaces: ReadonlySet<NamespaceType>): CommandChecked {
  const c: CommandChecked = {
    init: o.init === undefined ? false : bool(o.init, 'options.init'),
    env: env(o.env),
    dieWithParent: o.dieWithParent === undefined ? false : deathSignal(o.dieWithParent) !== 0,
    killSignal: killSignal(o.killSignal === undefined ? 'SIGTERM' : o.killSignal),
    killTimeout: o.killTimeout === undefined ? 2000 : integer(o.killTimeout, 'options.killTimeout', 0, 2 ** 31 - 1),
  };
  if (o.cwd !== undefined) {
    // As child_process: a file: URL is its path (another scheme is Node's TypeError ERR_INVALID_URL_SCHEME).
    c.cwd = pathString(o.cwd instanceof URL ? fileURLToPath(o.cwd) : o.cwd, 'options.cwd');
    // The child changes to it after mounts and pivot_root: relative, it would be relative to wherever the child happens to be.
    if (!c.cwd.startsWith('/')) throw invalidArgValue('options.cwd', c.cwd, 'must be an absolute path (it is the directory inside the sandbox, after root)');
  }
  if (o.argv0 !== undefined) c.argv0 = noNul(o.argv0, 'options.argv0');
  if (o.binfmtRegister !== undefined) {
    const b = plainObject(o.binfmtRegister, 'options.binfmtRegister');
    c.binfmtRegister = { dir: pathString(b.dir, 'options.binfmtRegister.dir'), entry: noNul(b.entry, 'options.binfmtRegister.entry') };
  }
  if (o.chroot !== undefined) {
    c.chroot = pathString(o.chroot, 'options.chroot');
    if (!c.chroot.startsWith('/')) throw invalidArgValue('options.chroot', c.chroot, 'must be an absolute path');
  }
  if (o.rootFd !== undefined) c.rootFd = integer(o.rootFd, 'options.rootFd', 0, 2 ** 31 - 1);
  if (o.cwdFd !== undefined) c.cwdFd = integer(o.cwdFd, 'options.cwdFd', 0, 2 ** 31 - 1);
  if (c.dieWithParent && deathSignal(o.dieWithParent) !== SIGKILL) c.deathSignal = deathSignal(o.dieWithParent);
  if (o.signal !== undefined) {
    if (!(o.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', o.signal);
    c.signal = o.signal;
  }
  if (o.timeout !== undefined) c.timeout = integer(o.timeout, 'options.timeout', 0, 2 ** 31 - 1);
  if (c.init && !namespaces.has('pid'))
    throw invalidArgValue('options.init', o.init, "needs a new pid namespace: add 'pid' to options.namespaces");
  return c;
}

/**
 * With init: nsjs-init's name, the fd of its sealed copy to exec (mounts
 * and pivot_root may hide the file), and the write end of its status pipe.
 */
export interface InitContext {
  path: string;
  fd?: number;
  statusFd: number;
}

/** The root (chroot) and working directory, after the mounts and pivot_root. */
export function planCwd(c: CommandChecked, add: Add): void {
  if (c.binfmtRegister !== undefined) {
    const file = `${c.binfmtRegister.dir}/register`;
    add({ kind: SharedOp.WriteFile, s: [file, c.binfmtRegister.entry] }, { step: 'binfmt register', syscall: 'write', path: file });
  }
  if (c.chroot !== undefined) add({ kind: CommandOp.Chroot, s: [c.chroot] }, { step: 'chroot', syscall: 'chroot', path: c.chroot });
  // b = 1: back to the cwd the joins left, as nsenter -r without -w
  if (c.rootFd !== undefined) add({ kind: CommandOp.Chroot, a: c.rootFd, b: c.cwd === undefined && c.cwdFd === undefined ? 1 : 0 }, { step: 'chroot to the root fd', syscall: 'chroot' });
  if (c.cwd !== undefined) add({ kind: CommandOp.Chdir, s: [c.cwd] }, { step: 'chdir', syscall: 'chdir', path: c.cwd });
  if (c.cwdFd !== undefined) add({ kind: CommandOp.Chdir, a: c.cwdFd }, { step: 'chdir to the working directory fd', syscall: 'fchdir' });
}

/** The end of the plan, after policy/'s ops: the fds closed, the parent-death signal, `lastOps` (policy/'s seccomp filter), execve. */
export function planExec(
  c: CommandChecked,
  command: string,
  execPaths: string[],
  init: InitContext | undefined,
  native: NativePlan,
  add: Add,
  lastOps: (add: Add) => void = () => {},
): void {
  add({ kind: CommandOp.CloseFds }, { step: 'close fds', syscall: 'close_range' });
  // Last before execve: the kernel clears the parent-death signal on every
  // change of credentials (setres[ug]id, capabilities), and the child then
  // checks that we had not died already (the signal would never come).
  if (c.dieWithParent) add({ kind: CommandOp.Pdeathsig, a: c.deathSignal ?? SIGKILL }, { step: 'prctl PR_SET_PDEATHSIG', syscall: 'prctl' });
  lastOps(add);
  add({ kind: CommandOp.Exec }, { step: 'execve', syscall: 'execve', path: command });
  if (init) {
    // nsjs-init is exec'd instead and execs the command itself, reporting a
    // failure of that execve as this op on the error pipe, which it gets as
    // fd n (kept across its execve); fd n+1 is its status pipe.
    const n = native.stdio.length;
    native.stdio = [...native.stdio, STDIO_ERR_PIPE, init.statusFd];
    native.execChain = true;
    native.argv = ['nsjs-init', String(n), String(n + 1), String(native.ops.length - 1), String(execPaths.length), ...execPaths, '--', ...native.argv];
    native.execPaths = [init.path];
    native.execFd = init.fd;
  }
}

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import type { Readable, Writable } from 'node:stream';

import { NsError, check, invalidArgType, invalidArgValue } from '../core/errors';
import { explainSpawnFailure } from '../core/explain';
import { closeFd, initExecFd, isInitBinary, native, type NativeSpawnResult } from '../core/native';
import type { EncodedPlan, NativePlan, Step } from '../core/plan';
import { checkOptions, newPidInJoinedPid, snapshotOptions, type Checked, type SpawnOptions } from './options';
import { buildPlan, encodePlan, execCandidates, joinsType, type JoinPlan, type PlanContext } from './plan';
import { NAMESPACE_TYPES, type NamespaceType } from '../core/nstypes';
import { Process, type ExitStatus } from './process';
import { signalName } from '../core/signals';
import { integer, noNul, ownEntries, plainObject, record } from '../core/validate';

const ENOENT = -2;
const EPERM = -1;
const EINVAL = -22;
const ENOSPC = -28;
const EEXIST = -17;
const ENOTDIR = -20;
const ELOOP = -40;
const EXDEV = -18;

/**
 * @internal For the test suite only: `forceClone` behaves as if clone3 were
 * refused (Docker's seccomp, kernels < 5.3). A module flag, not an
 * environment variable: reading process.env costs a call into C++ (~7 µs
 * per spawn in bench/profile.mjs's perf recording).
 */
export const testHooks = {
  forceClone: false,
  /** The mount engine's fallbacks to take as if the kernel lacked the call: 1 openat2, 2 mount_setattr, 4 open_tree/fsopen (src-native/spawn/plan.h MountFallback). */
  mountFallback: 0,
};

/**
 * For the test suite only: NSJS_TEST_FAULT_AT=op:N[:ECODE] fails op N of the
 * plan in the child, op:N:SIGNAME makes the child die of that signal there
 * (no report, as a trap would), parent:STEP[:ECODE] fails a parent step
 * (src-native/spawn/parent.cc, `Fault`), with ECODE (default EIO). Read only
 * when the addon is a test build (NSJS_TEST_ADDON), the only one that
 * honours the field.
 */
function testFault(): NativePlan['fault'] {
  if (!Object.hasOwn(native(), 'faultInjection')) return undefined;
  const spec = process.env.NSJS_TEST_FAULT_AT;
  if (!spec) return undefined;
  const m = /^(op|parent):([^:]+)(?::(E[A-Z0-9]+|SIG[A-Z0-9]+))?$/.exec(spec);
  const code = m?.[3] ?? 'EIO';
  const signal = m?.[1] === 'op' && code.startsWith('SIG') ? (os.constants.signals as Record<string, number>)[code] : undefined;
  const errno = signal ? 0 : (os.constants.errno as Record<string, number>)[code];
  if (!m || (!signal && !errno)) throw new Error(`nsjs: bad NSJS_TEST_FAULT_AT '${spec}' (op:N[:ECODE|:SIGNAME] or parent:STEP[:ECODE])`);
  return record(m[1] === 'op' ? { op: Number(m[2]), errno, signal } : { parent: m[2], errno });
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason }) as Error & { code: string };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}

/** `args` copied once, entry by entry: a hole is refused (map would skip it, and execve would see an argument less than the caller counted). */
function checkArgs(command: unknown, args: unknown): string[] {
  noNul(command, 'command');
  if (command === '') throw invalidArgType('command', 'a non-empty string', command);
  if (args === undefined) return [];
  if (!Array.isArray(args)) throw invalidArgType('args', 'an array of strings', args);
  const hole = (i: number) => {
    throw invalidArgValue(`args[${i}]`, undefined, 'is a hole in the array: every argument must be a string');
  };
  const copy = ownEntries(args, 'args', hole);
  for (let i = 0; i < copy.length; i++) noNul(copy[i], `args[${i}]`);
  return copy as string[];
}

interface Stdio {
  child: number[];
  /** Our ends of 'pipe' entries, by index. */
  parent: (number | undefined)[];
  /** Everything to close once the child has exec'd (or failed); all the addon's, closed with closeFd. */
  toClose: number[];
}

function openStdio(entries: Checked['stdio']): Stdio {
  const s: Stdio = { child: [], parent: [], toClose: [] };
  try {
    entries.forEach((e, i) => {
      if (e === 'pipe' || ((e === undefined || e === null) && i < 3)) {
        const fds = native().pipe();
        if (typeof fds === 'number') throw new NsError({ errno: fds, syscall: 'pipe2' });
        const [r, w] = fds;
        s.child.push(i === 0 ? r : w);
        s.parent.push(i === 0 ? w : r);
        s.toClose.push(i === 0 ? r : w);
      } else if (e === 'ignore' && i < 3) {
        const fd = check(native().open('/dev/null', i === 0 ? fs.constants.O_RDONLY : fs.constants.O_WRONLY), 'open', '/dev/null');
        s.child.push(fd);
        s.parent.push(undefined);
        s.toClose.push(fd);
      } else if (e === 'inherit') {
        s.child.push(-1);
        s.parent.push(undefined);
      } else if (typeof e === 'number') {
        s.child.push(e);
        s.parent.push(undefined);
      } else {
        s.child.push(-2);
        s.parent.push(undefined);
      }
    });
  } catch (err) {
    for (const fd of [...s.toClose, ...s.parent]) if (fd !== undefined) closeFd(fd);
    throw err;
  }
  return s;
}

/** kReportFallback in src-native/spawn/plan.h. */
const REPORT_FALLBACK = 1 << 16;

function hintFor(err: number, step: Step, c: Checked): string | undefined {
  // Causes that features() diagnoses (sysctls, AppArmor, seccomp, a masked /proc) explain themselves the same way here.
  const known = explainSpawnFailure(err, step, c.namespaces);
  if (known) return known;
  const rootless = process.geteuid!() !== 0;
  if (step.syscall === 'clone3' || step.syscall === 'clone') {
    const types = [...c.namespaces].filter((t) => t !== 'user');
    if ((err === EPERM || err === EINVAL) && rootless && !c.namespaces.has('user') && types.length > 0)
      return `creating a ${types.join('+')} namespace needs CAP_SYS_ADMIN; add 'user' to namespaces to run unprivileged`;
    if (err === EPERM && c.namespaces.has('user'))
      return 'unprivileged user namespaces are refused here: check sysctl kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+) or the container\'s seccomp profile';
    if (err === ENOSPC)
      return 'a namespace limit is reached: see /proc/sys/user/max_*_namespaces (user.max_user_namespaces may be 0)';
  }
  if (step.mount) {
    const what = `${step.mount.type} mount at ${step.mount.target}`;
    const inRoot = c.root ? ` inside the root ${c.root}` : '';
    if (step.mount.type === 'proc' && (err === EPERM || err === EINVAL))
      return `the ${what} failed: proc can be mounted only inside a new pid namespace owned by our user namespace (add 'pid'), and not where the host's /proc has locked over-mounts`;
    if (step.resolves && err === ENOENT)
      return `the ${what} failed: its target ${step.mount.target} does not exist${inRoot}, where symbolic links are followed as if it were / (nsjs does not create mount points)`;
    if (step.resolves && err === ENOTDIR) return `the ${what} failed: a component of ${step.mount.target} is not a directory${inRoot}`;
    if (step.resolves && err === ELOOP)
      return `the ${what} failed: its target ${step.mount.target} cannot be looked up${inRoot}: a loop of symbolic links, more than 40 of them, or a /proc magic link (never followed in a mount target)`;
    if (step.resolves && err === EXDEV)
      return `the ${what} failed: its target ${step.mount.target} was moved out of the root while it was looked up (someone else can write in it); nothing was mounted`;
    if (err === EXDEV)
      return `the ${what} failed: its target was moved while it was mounted on (someone else can write in the root), and the mount was not used`;
    if (err === ENOENT) return `the ${what} failed: ${step.path} does not exist`;
    return `the ${what} failed`;
  }
  if (step.step.startsWith('RTM_NEWLINK veth') && err === EPERM)
    return "network.veth adds a link to our own network namespace, which needs CAP_NET_ADMIN there (root); unprivileged, use net.createVeth between namespaces you own";
  if (step.step.startsWith('RTM_NEWLINK veth') && err === EEXIST)
    return 'a link of that name exists already: choose another network.veth.hostName, or leave it out for a unique one';
  // The first of them refused: with uid alone, the implicit clear of the supplementary groups.
  if (['setgroups', 'setresgid', 'setresuid'].includes(step.step) && err === EPERM && rootless && !c.namespaces.has('user'))
    return "changing uid or gid (and so the supplementary groups) needs CAP_SETUID and CAP_SETGID; unprivileged, add 'user' to namespaces and choose ids its maps cover";
  if ((step.step === 'write uid_map' || step.step === 'write gid_map') && err === EPERM && rootless)
    return "mapping id ranges needs CAP_SETUID/CAP_SETGID in our user namespace (run as root); unprivileged, use user: 'root' or 'self', which map your own ids";
  return undefined;
}

function nsInode(file: string): number | undefined {
  try {
    return fs.statSync(file).ino;
  } catch {
    return undefined;
  }
}

/**
 * What `join` enters, with the fds it needs (added to `toClose`). For
 * `{ pid }` without types: every namespace of the target that differs from
 * ours; our own user namespace is never entered (setns would say EINVAL).
 */
function resolveJoin(join: NonNullable<Checked['join']>, toClose: number[]): JoinPlan {
  const differs = (type: NamespaceType, inode: number | undefined) => inode !== undefined && inode !== nsInode(`/proc/self/ns/${type}`);
  if ('namespaces' in join) {
    // Checked when the options were, but a spawn may wait for a slot: closed since then, its fd number may be another file's.
    const closed = join.namespaces.findIndex((ns) => ns.fd < 0);
    if (closed >= 0) throw invalidArgValue(`options.join[${closed}]`, String(join.namespaces[closed]), 'was closed before the spawn started');
    return record({ namespaces: join.namespaces.filter((ns) => ns.type !== 'user' || differs('user', ns.inode)).map((ns) => record({ fd: ns.fd, type: ns.type })) });
  }
  // The pidfd first: the /proc reads below are about the process it holds
  // only if that process is still alive afterwards.
  const pidfd = native().pidfdOpen(join.pid, 0);
  if (pidfd < 0) throw new NsError({ errno: pidfd, syscall: 'pidfd_open', step: `join pid ${join.pid}` });
  toClose.push(pidfd);
  const wanted = join.types ?? NAMESPACE_TYPES;
  const types = wanted.filter((t) => (join.types && t !== 'user') || differs(t, nsInode(`/proc/${join.pid}/ns/${t}`)));
  const alive = native().pidfdSendSignal(pidfd, 0);
  if (alive < 0) throw new NsError({ errno: alive, syscall: 'pidfd_send_signal', step: `join pid ${join.pid}` });
  return record({ pidfd, pid: join.pid, types });
}

interface Prepared {
  plan: ReturnType<typeof buildPlan>;
  encoded: EncodedPlan;
  stdio: Stdio;
  statusFd?: number;
  /** The child's ends and the fds only the child needs: closed once it has exec'd or failed. */
  toClose: number[];
}

/** Everything up to clone: the plan and every fd it names. Closes what it opened if it throws. */
function prepare(command: string, args: string[], c: Checked): Prepared {
  if (c.signal?.aborted) throw abortError(c.signal);
  const toClose: number[] = [];
  let stdio: Stdio | undefined;
  let statusFd: number | undefined;
  try {
    const ctx = record<PlanContext>({ forceClone: testHooks.forceClone });
    if (c.join) ctx.join = resolveJoin(c.join, toClose);
    // Known only now for { pid } without types: whether its pid namespace differs from ours.
    if (joinsType(ctx.join, 'pid') && c.namespaces.has('pid')) throw newPidInJoinedPid([...c.namespaces]);
    const hostVisible = c.root === undefined && c.mounts.length === 0 && !joinsType(ctx.join, 'mnt');
    const execPaths = execCandidates(command, c.env, hostVisible);
    if (!execPaths) throw new NsError({ errno: ENOENT, syscall: `spawn ${command}`, path: command, step: 'execve' });
    const fault = testFault();
    // nsjs-init, as PID 1 or as the --hold helper (Namespace.create(),
    // features()), runs from its sealed copy, whatever mounts hide its file.
    if (isInitBinary(command)) ctx.execFd = initExecFd(fault?.parent);
    stdio = openStdio(c.stdio);
    toClose.push(...stdio.toClose);
    if (c.init) {
      const fd = initExecFd(fault?.parent);
      const fds = native().pipe(true);
      if (typeof fds === 'number') throw new NsError({ errno: fds, syscall: 'pipe2' });
      statusFd = fds[0];
      toClose.push(fds[1]);
      ctx.init = record({ path: 'nsjs-init', fd, statusFd: fds[1] });
    }
    const plan = buildPlan(c, command, args, execPaths, stdio, ctx);
    if (fault) plan.native.fault = fault;
    if (testHooks.mountFallback) plan.native.mountFallback = testHooks.mountFallback;
    return { plan, encoded: encodePlan(plan.native), stdio, statusFd, toClose };
  } catch (err) {
    release({ toClose, stdio, statusFd });
    throw err;
  }
}

/** Closes our ends too: for a spawn that failed. */
function release(p: { toClose: number[]; stdio?: Stdio; statusFd?: number }): void {
  for (const fd of p.toClose) closeFd(fd);
  for (const fd of p.stdio?.parent ?? []) if (fd !== undefined) closeFd(fd);
  if (p.statusFd !== undefined) closeFd(p.statusFd);
}

/** The Process for a spawn result, or the NsError for its failed step. */
function finish(p: Prepared, result: NativeSpawnResult, c: Checked): Process {
  // The addon's object has Object.prototype: only its own keys are its answer.
  if (Object.hasOwn(result, 'errno')) {
    release(p);
    const failed = result as { errno: number; op?: number; kind?: number; step?: string; syscall?: string; path?: string; signal?: number; exitStatus?: number };
    const own = <K extends keyof typeof failed>(key: K) => (Object.hasOwn(failed, key) ? failed[key] : undefined);
    const op = own('op');
    const step: Step =
      op !== undefined ? p.plan.steps[op] : record({ step: failed.step!, syscall: failed.syscall!, path: own('path') });
    // The child's kind carries kReportFallback (plan.h) when another syscall than the op's own failed.
    const syscall = op !== undefined && (own('kind') ?? 0) & REPORT_FALLBACK && step.fallback ? step.fallback : step.syscall;
    const signal = own('signal');
    throw new NsError({
      errno: failed.errno,
      syscall,
      path: step.path,
      step: step.step,
      hint: hintFor(failed.errno, step, c),
      signal: signal === undefined ? undefined : (signalName(signal) ?? undefined),
      exitCode: own('exitStatus'),
    });
  }
  const started = result as Extract<NativeSpawnResult, { pidfd: number }>;
  for (const fd of p.toClose) closeFd(fd);
  const streams = p.stdio.parent.map((fd, i) =>
    fd === undefined ? null : new net.Socket({ fd, readable: i !== 0, writable: i === 0 }),
  );
  const proc = new Process(started.pid, started.pidfd, record({
    child: true,
    ours: false,
    stdin: streams[0] as Writable | null,
    stdout: streams[1] as Readable | null,
    stderr: streams[2] as Readable | null,
    stdio: streams,
    statusFd: p.statusFd,
  }));
  const kill = () => proc.kill(c.killSignal);
  if (c.signal) {
    const signal = c.signal;
    if (signal.aborted) kill();
    else {
      signal.addEventListener('abort', kill, { once: true });
      void proc.wait().then(() => signal.removeEventListener('abort', kill));
    }
  }
  if (c.timeout) {
    const timer = setTimeout(kill, c.timeout);
    timer.unref();
    void proc.wait().then(() => clearTimeout(timer));
  }
  return proc;
}

// Native spawns at once: a clone that makes namespaces keeps a CPU busy in
// the kernel for a millisecond or more, and with as many in flight as the
// libuv pool has threads the loop thread waits for a CPU (bench/RESULTS.md,
// event-loop delay) and fs/dns requests wait for a pool thread. One CPU is
// left to the loop; spawns beyond that queue here, in order.
let spawnLimit = Math.max(1, (os.availableParallelism?.() ?? os.cpus().length) - 1);
let nativeSpawns = 0;
const waiting: (() => void)[] = [];

/** Starts queued spawns while there is room. */
function drainSpawnQueue(): void {
  while (nativeSpawns < spawnLimit && waiting.length > 0) {
    nativeSpawns++;
    waiting.shift()!();
  }
}

async function acquireSpawnSlot(): Promise<void> {
  if (nativeSpawns < spawnLimit && waiting.length === 0) {
    nativeSpawns++;
    return;
  }
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function releaseSpawnSlot(): void {
  nativeSpawns--;
  drainSpawnQueue();
}

/**
 * How many spawns may be in their native part (clone, namespace set-up,
 * exec) at once; later ones queue in order. The default, one less than the
 * CPUs (at least 1), keeps a CPU for the event loop; a higher limit buys
 * spawn throughput with event-loop delay (bench/RESULTS.md). Values above
 * the libuv pool size (`UV_THREADPOOL_SIZE`, 4 by default) only make spawns
 * queue in the pool instead, ahead of `fs` and `dns` work. Returns the
 * previous limit.
 */
export function setSpawnConcurrency(limit: number): number {
  const previous = spawnLimit;
  spawnLimit = integer(limit, 'limit', 1, 1024);
  drainSpawnQueue();
  return previous;
}

/** @internal */
export async function spawnChecked(command: string, args: string[], c: Checked): Promise<Process> {
  await acquireSpawnSlot();
  let p: Prepared;
  let result: NativeSpawnResult;
  try {
    // After the wait: an abort while queued means nothing is started.
    p = prepare(command, args, c);
    try {
      result = await native().spawn(p.encoded.ints, p.encoded.text, p.encoded.extras);
    } catch (err) {
      release(p);
      throw err;
    }
  } finally {
    releaseSpawnSlot();
  }
  return finish(p, result, c);
}

/** @internal The same on the calling thread, for short-lived helpers (Namespace.create). */
export function spawnCheckedSync(command: string, args: string[], c: Checked): Process {
  const p = prepare(command, args, c);
  let result: NativeSpawnResult;
  try {
    result = native().spawnSync(p.encoded.ints, p.encoded.text, p.encoded.extras);
  } catch (err) {
    release(p);
    throw err;
  }
  return finish(p, result, c);
}

/**
 * Starts `command` in new (and/or joined) namespaces. Resolves once it has
 * been exec'd; rejects with an {@link NsError} naming the failed step, and
 * leaves nothing behind. Bad options throw (reject) with
 * `ERR_INVALID_ARG_TYPE`/`ERR_INVALID_ARG_VALUE` before anything starts.
 */
export async function spawnIsolated(command: string, args?: string[], options?: SpawnOptions): Promise<Process> {
  const argv = checkArgs(command, args);
  return spawnChecked(command, argv, checkOptions(options));
}

/** Options of {@link runIsolated}: those of {@link SpawnOptions}, plus input and encoding. */
export interface RunOptions extends Omit<SpawnOptions, 'stdio'> {
  /** Written to the command's stdin, which is then closed. */
  input?: string | Buffer | Uint8Array;
  /** Decoding of stdout and stderr; `'buffer'` gives Buffers. Default `'utf8'`. */
  encoding?: BufferEncoding | 'buffer';
  /** Only `'pipe'` makes sense for stdout/stderr here; stdin may be `'ignore'` or `'inherit'`. */
  stdio?: SpawnOptions['stdio'];
}

/** What {@link runIsolated} resolves: the exit status, the output, the pid. */
export interface RunResult<T extends string | Buffer = string> extends ExitStatus {
  /** Everything the command wrote to stdout. */
  stdout: T;
  /** Everything the command wrote to stderr. */
  stderr: T;
  /** Its pid in our pid namespace. */
  pid: number;
}

/**
 * Like `spawnIsolated` with piped stdio: resolves `{ code, signal, stdout,
 * stderr, pid }` whatever the exit status; rejects only where `spawnIsolated` would.
 */
export async function runIsolated(command: string, args?: string[], options?: RunOptions): Promise<RunResult<string>>;
export async function runIsolated(
  command: string,
  args: string[] | undefined,
  options: RunOptions & { encoding: 'buffer' },
): Promise<RunResult<Buffer>>;
export async function runIsolated(command: string, args?: string[], options: RunOptions = {}): Promise<RunResult<string | Buffer>> {
  // Copied once: input, encoding and the rest are read from the copy, never through Object.prototype.
  const { input, encoding = 'utf8', ...rest } = plainObject(snapshotOptions(options ?? {}), 'options') as RunOptions;
  if (input !== undefined && typeof input !== 'string' && !(input instanceof Uint8Array))
    throw invalidArgType('options.input', 'a string, Buffer or Uint8Array', input);
  if (encoding !== 'buffer' && !Buffer.isEncoding(encoding)) throw invalidArgType('options.encoding', 'a Buffer encoding or "buffer"', encoding);
  const argv = checkArgs(command, args);
  const proc = await spawnChecked(command, argv, checkOptions(record({ stdio: 'pipe', ...rest }), true));
  const collect = (stream: Readable | null) =>
    new Promise<Buffer>((resolve, reject) => {
      if (!stream) return resolve(Buffer.alloc(0));
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('error', reject);
      stream.on('close', () => resolve(Buffer.concat(chunks)));
    });
  const out = collect(proc.stdout);
  const err = collect(proc.stderr);
  if (proc.stdin) {
    // A command that exits without reading its input closes the pipe: EPIPE is not our failure.
    proc.stdin.on('error', () => {});
    proc.stdin.end(input);
  }
  const [status, stdout, stderr] = await Promise.all([proc.wait(), out, err]);
  const decode = (b: Buffer) => (encoding === 'buffer' ? b : b.toString(encoding));
  return { ...status, stdout: decode(stdout), stderr: decode(stderr), pid: proc.pid };
}

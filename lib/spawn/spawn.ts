// spawn/: starting a program in new or joined namespaces. spawnIsolated()
// reads the options once and has each room check its own (options.ts), has
// each room add its ops to one plan (plan.ts), opens what the plan names
// (stdio, join fds, nsjs-init's sealed copy), queues for a native slot, and
// turns the addon's answer into a Process or an NsError naming the failed
// step (hints.ts). The child that walks the plan is src-native/spawn/.
import * as net from 'node:net';
import * as os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { debuglog } from 'node:util';

import { Cgroup } from '../cgroup/cgroup';
import { AbortError, NsError, fromCaller, invalidArgType, invalidArgValue } from '../core/errors';
import { closeFd, initExecFd, isInitBinary, native, pid1Binary, type NativeSpawnResult } from '../core/native';
import type { EncodedPlan, NativePlan, Step } from '../core/plan';
import { signalName } from '../core/signals';
import { integer, noNul, ownEntries, record } from '../core/validate';
import { execCandidates } from './command';
import { startEgress } from '../net/egress';
import { hintFor } from './hints';
import { cgroupPlacement, joinsType, newPidInJoinedPid, resolveJoin, type CgroupDirs } from './join';
import { checkOptions, type Checked, type SpawnOptions } from './options';
import { buildPlan, encodePlan, type PlanContext } from './plan';
import { Process } from './process';
import { openStdio, type Stdio } from './stdio';
import { openTerminal, terminalOf, type OpenedTerminal } from '../terminal/terminal';

/** @internal For nsjs-oci's create (cli/oci/ may import spawn, not join). */
export type { CgroupDirs };

const ENOENT = -2;

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

/** `args` copied once, entry by entry: a hole is refused (map would skip it, and execve would see an argument less than the caller counted). */
export function checkArgs(command: unknown, args: unknown): string[] {
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

// NODE_DEBUG=nsjs: each spawn's plan, step by step, and what became of it
// (`debug.enabled` reads NODE_DEBUG once, on first use).
const debug = debuglog('nsjs');

/**
 * The plan's steps as the child walks them and the outcome of each: ok up
 * to the one that failed (`failedOp`), which gets the error's code, not run
 * after it. A step of ours around the child's (clone, the id maps, the
 * veth) is named only when it failed.
 */
function debugSpawn(p: Prepared, outcome: { pid: number } | { error: NsError; failedOp?: number }): void {
  debug('spawn %s %j: %d steps', p.command, p.args, p.plan.steps.length);
  const failedOp = 'error' in outcome ? (outcome.failedOp ?? -1) : Infinity;
  p.plan.steps.forEach((s, i) => {
    const result = i < failedOp ? 'ok' : i === failedOp ? (outcome as { error: NsError }).error.code : failedOp === -1 ? '-' : 'not run';
    debug('  %d %s (%s%s): %s', i, s.step, s.syscall, Object.hasOwn(s, 'path') && s.path !== undefined ? ` ${s.path}` : '', result);
  });
  if ('pid' in outcome) debug('spawn %s: started, pid %d', p.command, outcome.pid);
  else debug('spawn %s: failed%s: %s', p.command, failedOp === -1 ? ` at ${outcome.error.step ?? outcome.error.syscall}` : '', outcome.error.message);
}

/** kReportFallback in src-native/spawn/plan.h. */
const REPORT_FALLBACK = 1 << 16;

interface Prepared {
  command: string;
  args: string[];
  plan: ReturnType<typeof buildPlan>;
  encoded: EncodedPlan;
  stdio: Stdio;
  statusFd?: number;
  terminal?: OpenedTerminal;
  /** The child's ends and the fds only the child needs: closed once it has exec'd or failed. */
  toClose: number[];
  cgroup?: Cgroup;
}

/** Everything up to clone: the plan and every fd it names. Closes what it opened if it throws. */
function prepare(command: string, args: string[], c: Checked, into?: CgroupDirs): Prepared {
  if (c.signal?.aborted) throw new AbortError(c.signal.reason);
  const toClose: number[] = [];
  let stdio: Stdio | undefined;
  let statusFd: number | undefined;
  let cgroup: Cgroup | undefined;
  let terminal: OpenedTerminal | undefined;
  try {
    const ctx = record<PlanContext>({ forceClone: testHooks.forceClone });
    if (c.join) ctx.join = resolveJoin(c.join, toClose);
    // Known only now for { pid } without types: whether its pid namespace differs from ours.
    if (joinsType(ctx.join, 'pid') && c.namespaces.has('pid')) throw newPidInJoinedPid([...c.namespaces]);
    const hostVisible = c.root === undefined && c.chroot === undefined && c.mounts.length === 0 && !joinsType(ctx.join, 'mnt');
    const execPaths = execCandidates(command, c.env, hostVisible);
    if (!execPaths) throw new NsError({ errno: ENOENT, syscall: `spawn ${command}`, path: command, step: 'execve', spawnargs: args });
    const fault = testFault();
    // nsjs-init, as PID 1 or as the --hold helper (Namespace.create(),
    // features()), runs from its sealed copy, whatever mounts hide its file.
    if (isInitBinary(command)) ctx.execFd = initExecFd(fault?.parent, command);
    if (c.terminal) {
      // Opened inside where the command has a devpts of its own, so that tty names it there.
      const devpts = c.mounts.some((m) => m.type === 'dev' && m.target === '/dev') || (!!c.join && 'holder' in c.join && c.join.holder.devpts);
      terminal = openTerminal(c.terminal, devpts);
      toClose.push(...terminal.childOnly);
      ctx.terminal = terminal.fds;
    }
    stdio = openStdio(terminal ? c.stdio.map((e, i) => (i < 3 ? 'inherit' : e)) : c.stdio);
    toClose.push(...stdio.toClose);
    if (terminal?.slave !== undefined) stdio.child.fill(terminal.slave, 0, 3);
    if (c.init) {
      const fd = initExecFd(fault?.parent, pid1Binary());
      const fds = native().pipe(true);
      if (typeof fds === 'number') throw new NsError({ errno: fds, syscall: 'pipe2' });
      statusFd = fds[0];
      toClose.push(fds[1]);
      ctx.init = record({ path: 'nsjs-init', fd, statusFd: fds[1] });
    }
    // Last: nothing above can fail once the cgroups exist.
    if (c.cgroup) ctx.cgroup = cgroup = Cgroup.create(c.cgroup);
    else if (into) ctx.cgroup = cgroupPlacement(into, toClose, 'tasks');
    const plan = buildPlan(c, command, args, execPaths, stdio, ctx);
    if (fault) plan.native.fault = fault;
    if (testHooks.mountFallback) plan.native.mountFallback = testHooks.mountFallback;
    return { command, args, plan, encoded: encodePlan(plan.native), stdio, statusFd, toClose, cgroup, terminal };
  } catch (err) {
    release({ toClose, stdio, statusFd, cgroup, terminal });
    throw err;
  }
}

/** Closes our ends too, and removes the cgroups: for a spawn that failed (its child, if any, is reaped). */
function release(p: { toClose: number[]; stdio?: Stdio; statusFd?: number; cgroup?: Cgroup; terminal?: OpenedTerminal }): void {
  p.cgroup?.removeNow();
  for (const fd of p.toClose) closeFd(fd);
  if (p.terminal) closeFd(p.terminal.ours);
  for (const fd of p.stdio?.parent ?? []) if (fd !== undefined) closeFd(fd);
  if (p.statusFd !== undefined) closeFd(p.statusFd);
}

/** The Process for a spawn result, or the NsError for its failed step. */
function finish(p: Prepared, result: NativeSpawnResult, c: Checked): Process {
  // The addon's object has Object.prototype: only its own keys are its answer.
  if (Object.hasOwn(result, 'errno')) {
    release(p);
    const failed = result as { errno: number; op?: number; kind?: number; step?: string; syscall?: string; path?: string; signal?: number; exitStatus?: number; fsLog?: string };
    const own = <K extends keyof typeof failed>(key: K) => (Object.hasOwn(failed, key) ? failed[key] : undefined);
    const op = own('op');
    let step: Step =
      op !== undefined ? record(p.plan.steps[op]) : record({ step: failed.step!, syscall: failed.syscall!, path: own('path') });
    // The child's kind carries kReportFallback (plan.h) when another syscall than the op's own failed.
    // With an op, a syscall is the parent's, made for that op (an idmapped tree).
    const parentCall = op !== undefined ? own('syscall') : undefined;
    if (parentCall !== undefined) step.syscall = parentCall;
    const syscall = op !== undefined && (own('kind') ?? 0) & REPORT_FALLBACK && step.fallback ? step.fallback : step.syscall;
    const signal = own('signal');
    // As Node's: the command that did not start is the syscall, and the error has its arguments.
    const exec = step.step === 'execve' && signal === undefined;
    const error = new NsError({
      errno: failed.errno,
      syscall: exec ? `spawn ${p.command}` : syscall,
      path: exec ? p.command : step.path,
      step: step.step,
      hint: hintFor(failed.errno, step, c, own('fsLog')),
      signal: signal === undefined ? undefined : (signalName(signal) ?? undefined),
      exitCode: own('exitStatus'),
      spawnargs: exec ? p.args : undefined,
    });
    if (debug.enabled) debugSpawn(p, { error, failedOp: op });
    throw error;
  }
  const started = result as Extract<NativeSpawnResult, { pidfd: number }>;
  if (debug.enabled) debugSpawn(p, { pid: started.pid });
  for (const fd of p.toClose) closeFd(fd);
  p.cgroup?.releaseFds();
  const streams = p.stdio.parent.map((fd, i) =>
    fd === undefined ? null : new net.Socket({ fd, readable: i !== 0, writable: i === 0 }),
  );
  const proc = Process.fromPidfd(started.pid, started.pidfd, record({
    child: true,
    ours: false,
    stdin: streams[0] as Writable | null,
    stdout: streams[1] as Readable | null,
    stderr: streams[2] as Readable | null,
    stdio: streams,
    statusFd: p.statusFd,
    spawnfile: p.command,
    spawnargs: [c.argv0 ?? p.command, ...p.args],
    cgroup: p.cgroup,
    terminal: p.terminal && terminalOf(p.terminal),
  }));
  if (started.proxyFd !== undefined) {
    const proxy = startEgress(started.proxyFd, c.network!.egress!);
    void proc.wait().then(() => proxy.close());
  }
  if (proc.terminal) void proc.wait().then(() => proc.terminal!.flush());
  if (c.signal) {
    const signal = c.signal;
    const abort = () => proc.terminate(c.killSignal, c.killTimeout, 'aborted');
    if (signal.aborted) abort();
    else {
      signal.addEventListener('abort', abort, { once: true });
      void proc.wait().then(() => signal.removeEventListener('abort', abort));
    }
  }
  if (c.timeout) {
    const timer = setTimeout(() => proc.terminate(c.killSignal, c.killTimeout, 'timedOut'), c.timeout);
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
 * @category Spawning
 */
export function setSpawnConcurrency(limit: number): number {
  const previous = spawnLimit;
  spawnLimit = integer(limit, 'limit', 1, 1024);
  drainSpawnQueue();
  return previous;
}

/** @internal */
export async function spawnChecked(command: string, args: string[], c: Checked, into?: CgroupDirs): Promise<Process> {
  await acquireSpawnSlot();
  let p: Prepared;
  let result: NativeSpawnResult;
  try {
    // After the wait: an abort while queued means nothing is started.
    p = prepare(command, args, c, into);
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
 * `ERR_INVALID_ARG_TYPE`/`ERR_INVALID_ARG_VALUE` (TypeError) or `ERR_OUT_OF_RANGE` (RangeError) before anything starts.
 *
 * @example A shell as root of its own user, pid and mount namespaces, unprivileged
 * ```ts
 * import { spawnIsolated } from 'nsjs';
 *
 * const p = await spawnIsolated('sh', ['-c', 'echo $$; id -u'], {
 *   namespaces: ['user', 'pid', 'mnt'],
 *   user: 'root',
 *   mounts: [{ type: 'proc', target: '/proc' }],
 *   stdio: ['ignore', 'inherit', 'inherit'],
 *   timeout: 10_000,
 * });
 * p.on('exit', (code, signal) => console.log('exited', code ?? signal)); // as ChildProcess
 * await p.wait(); // { code: 0, signal: null }
 * ```
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or
 * `ERR_UNKNOWN_SIGNAL` (as a rejection) for a bad argument or option, before anything starts.
 * @throws {RangeError} `ERR_OUT_OF_RANGE` for a number outside its range.
 * @throws {NsError} for a setup step or the exec that failed (`step` names it;
 * a command that cannot be exec'd is `spawn <cmd> ENOENT` as Node's).
 * @throws {AbortError} `ABORT_ERR` when `signal` was aborted before the start.
 * @category Spawning
 */
export async function spawnIsolated(command: string, args?: string[], options?: SpawnOptions): Promise<Process> {
  let argv: string[];
  let c: Checked;
  try {
    argv = checkArgs(command, args);
    c = checkOptions(options);
  } catch (err) {
    throw fromCaller(err, spawnIsolated);
  }
  return spawnChecked(command, argv, c);
}

/**
 * @internal spawnIsolated() into existing cgroups (nsjs-oci's create:
 * `linux.cgroupsPath`, made and limited beforehand), entered by the child
 * as its first step as options.cgroup's are: CLONE_INTO_CGROUP on v2, "0"
 * into each v1 `tasks` (the child is one thread then). A move by pid from
 * the parent takes cgroup_threadgroup_rwsem for writing, which waits for
 * an RCU grace period after an idle moment: 5-15 ms per create at load
 * 14 here, against 0.2 ms this way. Without options.cgroup.
 */
export async function spawnIntoCgroups(into: CgroupDirs, command: string, args: string[], options: SpawnOptions): Promise<Process> {
  let c: Checked;
  try {
    c = checkOptions(options);
  } catch (err) {
    throw fromCaller(err, spawnIntoCgroups);
  }
  return spawnChecked(command, checkArgs(command, args), c, into);
}

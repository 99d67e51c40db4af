import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import * as fs from 'node:fs';

import type { Cgroup, ResourceUsage } from '../cgroup/cgroup';
import { AbortError, NsError, check, fromCaller } from '../core/errors';
import { closeFd, native, type NativePidfdWatch } from '../core/native';
import type { Terminal } from '../terminal/terminal';
import { Namespace } from '../ns/namespace';
import { signalName, signalNumber } from '../core/signals';
import { namespaceType, pid as pidArg, plainObject } from '../core/validate';

/**
 * As the arguments of `ChildProcess`'s `'exit'` event.
 * @category Processes
 */
export interface ExitStatus {
  /** The exit code, or `null` when a signal ended the process. */
  code: number | null;
  /** The signal that ended the process, or `null` when it exited. */
  signal: NodeJS.Signals | null;
  /** Present when nsjs killed it because `timeout` ran out. */
  timedOut?: true;
  /** Present when nsjs killed it because `signal` was aborted. */
  aborted?: true;
  /** With `cgroup`: present (true) when it died of SIGKILL while its cgroup's OOM-kill count rose. */
  oomKilled?: true;
  /** With `cgroup`: the cgroup's final figures. */
  usage?: ResourceUsage;
}

const CLD_EXITED = 1;
const SIGKILL = 9;
const ECHILD = -10;
const ESRCH = -3;

/** nsjs-owned processes by pid, so that `waitpid(pid)` can defer to them. */
const owned = new Map<number, Process>();

interface Internal {
  stdin?: Writable | null;
  stdout?: Readable | null;
  stderr?: Readable | null;
  stdio?: (Readable | Writable | null)[];
  /** Our child, reaped on exit; otherwise only peeked at (WNOWAIT). */
  child: boolean;
  /** nsjs-init's status pipe: the command's own wait status, written as init exits. */
  statusFd?: number;
  /** Attached to a child of ours that someone else (child_process) reaps. */
  ours?: boolean;
  /** As ChildProcess's: the command, and its argv (argv0 first). */
  spawnfile?: string;
  spawnargs?: string[];
  /** options.cgroup's: emptied and removed before wait() resolves. */
  cgroup?: Cgroup;
  terminal?: Terminal;
}

/**
 * The events of a {@link Process}, as `ChildProcess`'s.
 * @category Processes
 */
export interface ProcessEvents {
  /** It exited: the exit code, or the signal that ended it (the other is `null`). Its stdio may still hold unread output. */
  exit: [code: number | null, signal: NodeJS.Signals | null];
  /** It exited and every stdio stream of ours has closed, as `ChildProcess`'s `'close'`. */
  close: [code: number | null, signal: NodeJS.Signals | null];
}

function noCgroup(what: string): Promise<never> {
  const err = new Error(`${what} needs a process spawned with options.cgroup`) as Error & { code: string };
  err.code = 'ERR_INVALID_STATE';
  return Promise.reject(err);
}

/**
 * A process held by a pidfd: a child made by `spawnIsolated`, or any process
 * through {@link Process.attach}. Signals go through the pidfd, so a recycled
 * pid is never hit; waiting polls the pidfd on the event loop, so no thread
 * blocks and no SIGCHLD handler is involved. An EventEmitter with
 * `ChildProcess`'s `'exit'` and `'close'` events, `exitCode`, `signalCode`,
 * `killed`, `spawnfile` and `spawnargs`, so code written for `ChildProcess`
 * takes it.
 *
 * @example Waiting, killing, disposing
 * ```ts
 * import { Process, spawnIsolated } from 'nsjs';
 *
 * await using p = await spawnIsolated('sleep', ['60'], { namespaces: ['user', 'pid'], init: true, stdio: 'ignore' });
 * setTimeout(() => p.kill('SIGTERM'), 100); // through the pidfd: never a recycled pid
 * const { code, signal } = await p.wait(); // { code: null, signal: 'SIGTERM' }
 * const other = Process.attach(1234); // any process, held by a pidfd
 * ```
 * @category Processes
 */
export class Process extends EventEmitter<ProcessEvents> {
  /** The pid in the caller's pid namespace. */
  readonly pid: number;
  /** The child's stdin when `stdio[0]` was `'pipe'`, else `null`. */
  readonly stdin: Writable | null;
  /** The child's stdout when `stdio[1]` was `'pipe'`, else `null`. */
  readonly stdout: Readable | null;
  /** The child's stderr when `stdio[2]` was `'pipe'`, else `null`. */
  readonly stderr: Readable | null;
  /** Every piped stdio stream by fd number, as `ChildProcess.stdio`. */
  readonly stdio: (Readable | Writable | null)[];
  #exitStatus: ExitStatus | null = null;
  #killed = false;
  /** The command as given to `spawnIsolated` (`''` for {@link Process.attach}), as `ChildProcess.spawnfile`. */
  readonly spawnfile: string;
  /** Its argv, `argv0` first (`[]` for {@link Process.attach}), as `ChildProcess.spawnargs`. */
  readonly spawnargs: readonly string[];
  /** With `terminal`: the pty master, a Duplex with `resize(cols, rows)`; else `null`. */
  readonly terminal: Terminal | null;

  #pidfd: number;
  #watch: NativePidfdWatch | null;
  #done: Promise<ExitStatus>;
  #refed = true;
  /** Why nsjs killed it, for ExitStatus: the first of timeout and abort to fire. */
  #killedFor: 'timedOut' | 'aborted' | undefined;
  #escalation: NodeJS.Timeout | undefined;
  #cgroup: Cgroup | undefined;

  /** @internal For spawn/: a Process for a pidfd it holds. Users get one from `spawnIsolated()` or `Process.attach()`. */
  static fromPidfd(pid: number, pidfd: number, internal: Internal): Process {
    return new Process(pid, pidfd, internal);
  }

  private constructor(pid: number, pidfd: number, internal: Internal) {
    super();
    this.pid = pid;
    this.spawnfile = internal.spawnfile ?? '';
    this.spawnargs = Object.freeze([...(internal.spawnargs ?? [])]);
    this.#pidfd = pidfd;
    this.stdin = internal.stdin ?? null;
    this.stdout = internal.stdout ?? null;
    this.stderr = internal.stderr ?? null;
    this.stdio = internal.stdio ?? [this.stdin, this.stdout, this.stderr];
    // 'close' as ChildProcess emits it: after the exit and each readable
    // stream's close, and after every listener of that close has run.
    let closesNeeded = 1;
    const maybeClose = () => {
      if (--closesNeeded === 0) process.nextTick(() => this.emit('close', this.exitStatus!.code, this.exitStatus!.signal));
    };
    for (const stream of new Set(this.stdio)) {
      if (!stream || !(stream as Readable).readable) continue;
      closesNeeded++;
      stream.once('close', maybeClose);
    }
    this.#cgroup = internal.cgroup;
    this.terminal = internal.terminal ?? null;
    let settle!: (status: ExitStatus) => void;
    let fail!: (err: Error) => void;
    this.#done = new Promise<ExitStatus>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    // Started at once, so a child is reaped even if nobody ever waits.
    const watch = new (native().PidfdWatch)(pidfd, !internal.child, (err, siCode, siStatus, reaped) => {
      this.#watch = null;
      this.#closePidfd();
      if (internal.child) owned.delete(pid);
      const commandStatus = internal.statusFd === undefined ? undefined : readStatus(internal.statusFd);
      if (err < 0 && err !== ECHILD) {
        fail(new NsError({ errno: err, syscall: 'waitid' }));
        return;
      }
      // ECHILD: not our child (no status to tell), or our child already
      // reaped by Node's child_process, which runs on the same loop and may
      // see SIGCHLD first; then the kernel kept its status on the pidfd.
      const status: ExitStatus = commandStatus
        ? commandStatus
        : err === ECHILD && !(reaped && (internal.child || internal.ours))
          ? { code: null, signal: null }
          : siCode === CLD_EXITED
            ? { code: siStatus, signal: null }
            : { code: null, signal: signalName(siStatus) };
      if (this.#killedFor) status[this.#killedFor] = true;
      clearTimeout(this.#escalation);
      this.#exitStatus = status;
      // As ChildProcess: nobody reads the other end any more.
      this.stdin?.destroy();
      const cgroup = internal.cgroup;
      const exited = () => {
        settle(status);
        this.emit('exit', status.code, status.signal);
        maybeClose();
      };
      if (!cgroup) return exited();
      // What it left behind is killed and the cgroup removed before wait() resolves and 'exit' is emitted.
      cgroup.close().then((usage) => {
        status.usage = usage;
        if (status.signal === 'SIGKILL' && usage.oomKills > 0) status.oomKilled = true;
        exited();
      }, fail);
    });
    const started = watch.start();
    if (started < 0) {
      this.#closePidfd();
      throw new NsError({ errno: started, syscall: 'uv_poll_start' });
    }
    this.#watch = watch;
    if (internal.child) owned.set(pid, this);
  }

  /**
   * A process by pid, held through a pidfd from now on. `wait()` resolves on
   * its exit, with its status where it is our child (peeked with `WNOWAIT`,
   * never reaped, so a `child_process` child still gets its `'exit'`), else
   * `{ code: null, signal: null }`.
   */
  static attach(pid: number): Process {
    const target = pidArg(pid, 'pid');
    const pidfd = check(native().pidfdOpen(target, 0), 'pidfd_open');
    // A child of ours cannot be reparented, and its pid not reused before it
    // is reaped, so this read after pidfd_open names the same process.
    return new Process(target, pidfd, { child: false, ours: parentOf(target) === process.pid });
  }

  /** Set once the process has exited (and `wait()` has resolved). */
  get exitStatus(): ExitStatus | null {
    return this.#exitStatus;
  }

  /** Whether a signal was sent to it (by `kill()`, `timeout` or `signal`), as `ChildProcess.killed`. */
  get killed(): boolean {
    return this.#killed;
  }

  /** The exit code once it has exited (`null` before, or after a signal), as `ChildProcess.exitCode`. */
  get exitCode(): number | null {
    return this.exitStatus?.code ?? null;
  }

  /** The signal that ended it (`null` before, or after an exit), as `ChildProcess.signalCode`. */
  get signalCode(): NodeJS.Signals | null {
    return this.exitStatus?.signal ?? null;
  }

  /** Resolves once, on exit; any number of callers get the same status. */
  wait(): Promise<ExitStatus> {
    return this.#done;
  }

  /**
   * Sends `signal` (default `'SIGTERM'`) through the pidfd. `false` once the
   * process has exited, as `ChildProcess.kill()`.
   * @throws {TypeError} `ERR_UNKNOWN_SIGNAL` for a signal Node does not know.
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    let num: number;
    try {
      num = signalNumber(signal, 'signal');
    } catch (err) {
      throw fromCaller(err, Process.prototype.kill);
    }
    if (this.exitStatus || this.#pidfd < 0) return false;
    const r = native().pidfdSendSignal(this.#pidfd, num);
    if (r === ESRCH) return false;
    check(r, 'pidfd_send_signal');
    this.#killed = true;
    // With a cgroup every process in it gets the signal too, daemons included.
    if (num !== 0) this.#cgroup?.signalAll(num);
    return true;
  }

  /**
   * @internal For `timeout`, `signal` and runIsolated's `maxBuffer`:
   * `signal` now, and SIGKILL `killTimeout` ms later if it is still alive
   * (0: never): a PID 1 without a handler for it drops `signal`, and a
   * hostile command can ignore it, but not SIGKILL.
   */
  terminate(signal: number, killTimeout: number, reason?: 'timedOut' | 'aborted'): void {
    if (!this.kill(signal)) return;
    if (reason && !this.#killedFor) this.#killedFor = reason;
    if (killTimeout > 0 && signal !== SIGKILL && !this.#escalation) {
      this.#escalation = setTimeout(() => this.kill(SIGKILL), killTimeout);
      this.#escalation.unref();
    }
  }

  /**
   * With `cgroup`: what its cgroup has used (CPU time, peak memory, tasks,
   * OOM kills); once it has exited, the final figures (`ExitStatus.usage`).
   */
  usage(): Promise<ResourceUsage> {
    const cgroup = this.#cgroup;
    if (!cgroup) return noCgroup('usage()');
    if (this.exitStatus) return this.#done.then((s) => s.usage!);
    return Promise.resolve(cgroup.usage());
  }

  /** With `cgroup`: stops every process in it; resolves once the kernel says they all are. `kill()` thaws first. */
  freeze(): Promise<void> {
    if (!this.#cgroup) return noCgroup('freeze()');
    return this.#cgroup.setFrozen(true);
  }

  /** With `cgroup`: lets the processes of a frozen cgroup run again. */
  thaw(): Promise<void> {
    if (!this.#cgroup) return noCgroup('thaw()');
    return this.#cgroup.setFrozen(false);
  }

  /**
   * The process's namespace of `type`. Throws `ESRCH` once it has exited:
   * the pidfd proves the pid still names this process after `/proc` is read.
   */
  namespace(type: Parameters<typeof Namespace.of>[1]): Namespace {
    namespaceType(type, 'type');
    if (this.exitStatus || this.#pidfd < 0) throw new NsError({ errno: ESRCH, syscall: 'open', path: `/proc/${this.pid}/ns/${type}` });
    const ns = Namespace.of(this.pid, type);
    if (native().pidfdSendSignal(this.#pidfd, 0) === ESRCH) {
      ns.close();
      throw new NsError({ errno: ESRCH, syscall: 'open', path: `/proc/${this.pid}/ns/${type}` });
    }
    return ns;
  }

  /** Keeps the event loop alive until exit (the default), as `ChildProcess.ref()`. */
  ref(): this {
    this.#refed = true;
    this.#watch?.ref();
    for (const s of this.stdio) (s as { ref?: () => void } | null)?.ref?.();
    return this;
  }

  /** Lets the event loop exit while this process still runs, as `ChildProcess.unref()`. */
  unref(): this {
    this.#refed = false;
    this.#watch?.unref();
    for (const s of this.stdio) (s as { unref?: () => void } | null)?.unref?.();
    return this;
  }

  /** Whether this process keeps the event loop alive. */
  get refed(): boolean {
    return this.#refed && this.#watch !== null;
  }

  /** SIGKILL, then wait: `await using p = await spawnIsolated(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill('SIGKILL');
    await this.wait();
  }

  /** SIGKILL without waiting (`using p = ...`); it is still reaped once it has died. */
  [Symbol.dispose](): void {
    this.kill('SIGKILL');
  }

  /** @internal Stops watching and releases the pidfd (an aborted waitpid). */
  detach(): void {
    this.#watch?.close();
    this.#watch = null;
    this.#closePidfd();
  }

  #closePidfd(): void {
    if (this.#pidfd >= 0) closeFd(this.#pidfd);
    this.#pidfd = -1;
  }
}

/**
 * The raw wait status nsjs-init wrote for the command, or undefined when init
 * died before it could (killed from outside): then init's own status stands.
 */
function readStatus(fd: number): ExitStatus | undefined {
  const buf = Buffer.alloc(4);
  let n = 0;
  try {
    n = fs.readSync(fd, buf);
  } catch {
    // EAGAIN: nothing was written
  } finally {
    closeFd(fd);
  }
  if (n !== 4) return undefined;
  const raw = buf.readInt32LE(0);
  const termsig = raw & 0x7f;
  return termsig === 0 ? { code: (raw >> 8) & 0xff, signal: null } : { code: null, signal: signalName(termsig) };
}

/** @internal */
export function ownedProcess(pid: number): Process | undefined {
  return owned.get(pid);
}

/** Options of {@link waitpid}. */
export interface WaitpidOptions {
  /** Aborts the wait (the process is left alone and can be waited for again). */
  signal?: AbortSignal;
}

function parentOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/**
 * Waits for a child of this process that Node's `child_process` does not
 * manage, and reaps it. For a pid an nsjs `Process` owns it is that process's
 * `wait()`. Rejects with `ECHILD` (syscall `waitid`) for a pid that is not our
 * child, as waitpid(2) does.
 * @category Processes
 */
export function waitpid(pid: number, options: WaitpidOptions = {}): Promise<ExitStatus> {
  try {
    pidArg(pid, 'pid');
    plainObject(options, 'options');
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
      throw new TypeError('The "options.signal" argument must be an instance of AbortSignal');
  } catch (err) {
    return Promise.reject(err);
  }
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
  const mine = owned.get(pid);
  let proc: Process;
  if (mine) {
    proc = mine;
  } else {
    if (parentOf(pid) !== process.pid) return Promise.reject(new NsError({ errno: ECHILD, syscall: 'waitid' }));
    try {
      proc = Process.fromPidfd(pid, check(native().pidfdOpen(pid, 0), 'pidfd_open'), { child: true });
    } catch (err) {
      return Promise.reject(err);
    }
  }
  if (!signal) return proc.wait();
  return new Promise<ExitStatus>((resolve, reject) => {
    const onAbort = () => {
      if (!mine) {
        owned.delete(pid);
        proc.detach();
      }
      reject(new AbortError(signal.reason));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    proc.wait().then(
      (status) => {
        signal.removeEventListener('abort', onAbort);
        resolve(status);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

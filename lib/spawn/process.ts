import type { Readable, Writable } from 'node:stream';
import * as fs from 'node:fs';

import { NsError, check } from '../core/errors';
import { closeFd, native, type NativePidfdWatch } from '../core/native';
import type { Terminal } from '../terminal/terminal';
import { Namespace } from '../ns/namespace';
import { signalName, signalNumber } from '../core/signals';
import { namespaceType, pid as pidArg, plainObject } from '../core/validate';

/** As the arguments of `ChildProcess`'s `'exit'` event. */
export interface ExitStatus {
  /** The exit code, or `null` when a signal ended the process. */
  code: number | null;
  /** The signal that ended the process, or `null` when it exited. */
  signal: NodeJS.Signals | null;
}

const CLD_EXITED = 1;
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
  terminal?: Terminal;
}

/**
 * A process held by a pidfd: a child made by `spawnIsolated`, or any process
 * through {@link Process.attach}. Signals go through the pidfd, so a recycled
 * pid is never hit; waiting polls the pidfd on the event loop, so no thread
 * blocks and no SIGCHLD handler is involved.
 */
export class Process {
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
  /** With `terminal`: the pty master, a Duplex with `resize(cols, rows)`; else `null`. */
  readonly terminal: Terminal | null;
  /** Set once the process has exited (and `wait()` has resolved). */
  exitStatus: ExitStatus | null = null;

  #pidfd: number;
  #watch: NativePidfdWatch | null;
  #done: Promise<ExitStatus>;
  #refed = true;

  /** @internal Use `spawnIsolated()` or `Process.attach()`. */
  constructor(pid: number, pidfd: number, internal: Internal) {
    this.pid = pid;
    this.#pidfd = pidfd;
    this.stdin = internal.stdin ?? null;
    this.stdout = internal.stdout ?? null;
    this.stderr = internal.stderr ?? null;
    this.stdio = internal.stdio ?? [this.stdin, this.stdout, this.stderr];
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
      this.exitStatus = status;
      // As ChildProcess: nobody reads the other end any more.
      this.stdin?.destroy();
      settle(status);
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

  /** Resolves once, on exit; any number of callers get the same status. */
  wait(): Promise<ExitStatus> {
    return this.#done;
  }

  /**
   * Sends `signal` (default `'SIGTERM'`) through the pidfd. `false` once the
   * process has exited, as `ChildProcess.kill()`.
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const num = signalNumber(signal, 'signal');
    if (this.exitStatus || this.#pidfd < 0) return false;
    const r = native().pidfdSendSignal(this.#pidfd, num);
    if (r === ESRCH) return false;
    check(r, 'pidfd_send_signal');
    return true;
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

function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason }) as Error & { code: string };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}

/**
 * Waits for a child of this process that Node's `child_process` does not
 * manage, and reaps it. For a pid an nsjs `Process` owns it is that process's
 * `wait()`. Rejects with `ECHILD` (syscall `waitid`) for a pid that is not our
 * child, as waitpid(2) does.
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
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const mine = owned.get(pid);
  let proc: Process;
  if (mine) {
    proc = mine;
  } else {
    if (parentOf(pid) !== process.pid) return Promise.reject(new NsError({ errno: ECHILD, syscall: 'waitid' }));
    try {
      proc = new Process(pid, check(native().pidfdOpen(pid, 0), 'pidfd_open'), { child: true });
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
      reject(abortError(signal));
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

// runIsolated(): spawnIsolated with piped stdio, collecting the output; a
// failed exit rejects with an error shaped as child_process.execFile's.
import type { Readable } from 'node:stream';

import { AbortError, fromCaller, invalidArgType, invalidArgValue, outOfRange } from '../core/errors';
import { plainObject, record } from '../core/validate';
import { checkOptions, snapshotOptions, type SpawnOptions } from './options';
import type { ExitStatus } from './process';
import { checkArgs, spawnChecked } from './spawn';

/**
 * Options of {@link runIsolated}: those of {@link SpawnOptions}, plus input, encoding, maxBuffer and reject.
 * @category Spawning
 */
export interface RunOptions extends Omit<SpawnOptions, 'stdio'> {
  /** Written to the command's stdin, which is then closed. Needs stdin to be a pipe (`stdio[0]` `'pipe'`, the default). */
  input?: string | Buffer | Uint8Array;
  /** Decoding of stdout and stderr; `'buffer'` gives Buffers. Default `'utf8'`. */
  encoding?: BufferEncoding | 'buffer';
  /**
   * Bytes of stdout, and of stderr, kept; past it the command is killed
   * (`killSignal`, then SIGKILL after `killTimeout`) and runIsolated rejects
   * with a `RangeError` `ERR_CHILD_PROCESS_STDIO_MAXBUFFER` carrying the
   * output up to it, whatever `reject` says. Default 1 MiB (1024 * 1024), as
   * `execFile`; `Infinity` keeps everything. A hostile command can write
   * without end: this is what bounds the memory Node spends on it.
   */
  maxBuffer?: number;
  /**
   * Whether a non-zero exit, a signal, a timeout or an abort rejects (the
   * default, as `execFile`) or resolves with the status (`false`).
   */
  reject?: boolean;
  /** Only `'pipe'` makes sense for stdout/stderr here; stdin may be `'ignore'` or `'inherit'`. */
  stdio?: SpawnOptions['stdio'];
}

/**
 * What {@link runIsolated} resolves: the exit status, the output, the pid.
 * @category Spawning
 */
export interface RunResult<T extends string | Buffer = string> extends ExitStatus {
  /** Everything the command wrote to stdout. */
  stdout: T;
  /** Everything the command wrote to stderr. */
  stderr: T;
  /** Its pid in our pid namespace. */
  pid: number;
}

/**
 * How {@link runIsolated} rejects once the command has started, with the
 * fields of `execFile`'s error: `Command failed: <cmd>` for a non-zero exit
 * or a signal, an `AbortError` (`code: 'ABORT_ERR'`, `cause` = the signal's
 * reason) for an abort, a `RangeError` (`code:
 * 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'`) past `maxBuffer`.
 * @category Spawning
 */
export interface RunError<T extends string | Buffer = string> extends Error {
  /** The exit code (`null` after a signal); `'ABORT_ERR'` or `'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'` for those errors. */
  code: number | null | 'ABORT_ERR' | 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER';
  /** The signal that ended it, or `null`. */
  signal: NodeJS.Signals | null;
  /** Whether a signal was sent to it (`timeout`, `signal`, `maxBuffer`, or `kill()`). */
  killed: boolean;
  /** Whether `timeout` ran out (and so nsjs killed it). */
  timedOut: boolean;
  /** Whether `signal` was aborted after the start (and so nsjs killed it). */
  aborted: boolean;
  /** The command and its arguments, joined with spaces, as `execFile`'s `cmd`. */
  cmd: string;
  /** What it wrote to stdout (up to `maxBuffer`). */
  stdout: T;
  /** What it wrote to stderr (up to `maxBuffer`). */
  stderr: T;
  /** Its pid in our pid namespace. */
  pid: number;
}

/** execFile's default. */
const MAX_BUFFER = 1024 * 1024;

function maxBufferOption(value: unknown): number {
  if (value === undefined) return MAX_BUFFER;
  if (typeof value !== 'number') throw invalidArgType('options.maxBuffer', 'of type number', value);
  if (!(value >= 0)) throw outOfRange('options.maxBuffer', 'a positive number', value);
  return value;
}

/** runIsolated's options, read once and checked before anything starts. */
function checkRun(command: string, args: string[] | undefined, options: RunOptions) {
  // Copied once: input, encoding and the rest are read from the copy, never through Object.prototype.
  const { input, encoding = 'utf8', maxBuffer: maxBufferValue, reject: rejectValue, ...rest } = plainObject(snapshotOptions(options ?? {}), 'options') as RunOptions;
  if (input !== undefined && typeof input !== 'string' && !(input instanceof Uint8Array))
    throw invalidArgType('options.input', 'a string, Buffer or Uint8Array', input);
  if (encoding !== 'buffer' && !Buffer.isEncoding(encoding)) throw invalidArgType('options.encoding', 'a Buffer encoding or "buffer"', encoding);
  const maxBuffer = maxBufferOption(maxBufferValue);
  if (rejectValue !== undefined && typeof rejectValue !== 'boolean') throw invalidArgType('options.reject', 'of type boolean', rejectValue);
  const argv = checkArgs(command, args);
  const c = checkOptions(record({ stdio: 'pipe', ...rest }), true);
  // child_process would write it nowhere and say nothing.
  if (input !== undefined && c.stdio[0] !== 'pipe' && c.stdio[0] !== undefined && c.stdio[0] !== null)
    throw invalidArgValue('options.input', input, `needs stdin to be a pipe, but options.stdio[0] is ${JSON.stringify(c.stdio[0])}`);
  return { input, encoding, maxBuffer, reject: rejectValue ?? true, argv, c };
}

/**
 * Runs `command` as `spawnIsolated` does, with piped stdio, and collects its
 * output. Resolves `{ code, signal, stdout, stderr, pid }` (plus `timedOut`
 * or `aborted` when true) on exit 0, or on any exit with `reject: false`;
 * otherwise rejects with a {@link RunError}, as `execFile`. Rejects as
 * `spawnIsolated` does where that would.
 *
 * @example Output and status of a command, and a failure as execFile's
 * ```ts
 * import { runIsolated } from 'nsjs';
 *
 * const { stdout } = await runIsolated('hostname', [], { namespaces: ['user', 'uts'], user: 'root', hostname: 'box' });
 * // stdout === 'box\n'
 * try {
 *   await runIsolated('sh', ['-c', 'echo oops >&2; exit 3'], { timeout: 5000, maxBuffer: 1 << 20 });
 * } catch (err) {
 *   // err.code === 3, err.stderr === 'oops\n', err.cmd === 'sh -c echo oops >&2; exit 3'
 * }
 * const status = await runIsolated('false', [], { reject: false }); // { code: 1, ... }
 * ```
 * @throws {RunError} once started, for a non-zero exit, a signal, a timeout
 * or an abort (unless `reject: false`), and past `maxBuffer` (`RangeError`
 * `ERR_CHILD_PROCESS_STDIO_MAXBUFFER`) in any case.
 * @throws {TypeError} as {@link spawnIsolated}, for a bad argument or option.
 * @throws {NsError} as {@link spawnIsolated}, for a step that failed.
 * @category Spawning
 */
// The Buffer overload first: `encoding: 'buffer'` matches RunOptions too.
export async function runIsolated(
  command: string,
  args: string[] | undefined,
  options: RunOptions & { encoding: 'buffer' },
): Promise<RunResult<Buffer>>;
export async function runIsolated(command: string, args?: string[], options?: RunOptions): Promise<RunResult<string>>;
export async function runIsolated(command: string, args?: string[], options: RunOptions = {}): Promise<RunResult<string | Buffer>> {
  let checked: ReturnType<typeof checkRun>;
  try {
    checked = checkRun(command, args, options);
  } catch (err) {
    throw fromCaller(err, runIsolated);
  }
  const { input, encoding, maxBuffer, reject, argv, c } = checked;
  const proc = await spawnChecked(command, argv, c);
  let overflow: 'stdout' | 'stderr' | undefined;
  const collect = (stream: Readable | null, name: 'stdout' | 'stderr') =>
    new Promise<Buffer>((resolve, reject) => {
      if (!stream) return resolve(Buffer.alloc(0));
      const chunks: Buffer[] = [];
      let length = 0;
      stream.on('data', (d: Buffer) => {
        if (overflow) return;
        if (length + d.length <= maxBuffer) {
          chunks.push(d);
          length += d.length;
          return;
        }
        chunks.push(d.subarray(0, maxBuffer - length));
        overflow = name;
        proc.terminate(c.killSignal, c.killTimeout);
        // Nothing more is read: the command's next write fails (EPIPE) or blocks until the kill.
        proc.stdout?.destroy();
        proc.stderr?.destroy();
      });
      stream.on('error', reject);
      stream.on('close', () => resolve(Buffer.concat(chunks)));
    });
  // With terminal: what the terminal showed, until the last writer is gone.
  const out = collect(proc.terminal ?? proc.stdout, 'stdout');
  const err = collect(proc.stderr, 'stderr');
  if (proc.terminal && input !== undefined) proc.terminal.write(input);
  if (proc.stdin) {
    // A command that exits without reading its input closes the pipe: EPIPE is not our failure.
    proc.stdin.on('error', () => {});
    proc.stdin.end(input);
  }
  const [status, stdout, stderr] = await Promise.all([proc.wait(), out, err]);
  const decode = (b: Buffer) => (encoding === 'buffer' ? b : b.toString(encoding));
  const result: RunResult<string | Buffer> = { ...status, stdout: decode(stdout), stderr: decode(stderr), pid: proc.pid };
  const failed = status.code !== 0 || status.signal !== null || status.aborted || status.timedOut;
  if (!overflow && !(reject && failed)) return result;
  const cmd = argv.length > 0 ? `${command} ${argv.join(' ')}` : command;
  let error: Error & { code?: unknown };
  if (overflow) {
    error = new RangeError(`${overflow} maxBuffer length exceeded`);
    error.code = 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER';
  } else if (status.aborted) {
    error = new AbortError(c.signal?.reason);
  } else {
    error = new Error(`Command failed: ${cmd}\n${result.stderr.toString()}`);
    error.code = status.code;
  }
  throw Object.assign(error, {
    signal: status.signal,
    killed: proc.killed,
    timedOut: status.timedOut === true,
    aborted: status.aborted === true,
    cmd,
    stdout: result.stdout,
    stderr: result.stderr,
    pid: proc.pid,
  });
}

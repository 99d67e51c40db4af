// runIsolated(): spawnIsolated with piped stdio, resolving with the exit
// status and all its output whatever the status (child_process.execFile
// would reject on a non-zero one).
import type { Readable } from 'node:stream';

import { invalidArgType } from '../core/errors';
import { plainObject, record } from '../core/validate';
import { checkOptions, snapshotOptions, type SpawnOptions } from './options';
import type { ExitStatus } from './process';
import { checkArgs, spawnChecked } from './spawn';

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
  // With terminal: what the terminal showed, until the last writer is gone.
  const out = collect(proc.terminal ?? proc.stdout);
  const err = collect(proc.stderr);
  if (proc.terminal && input !== undefined) proc.terminal.write(input);
  if (proc.stdin) {
    // A command that exits without reading its input closes the pipe: EPIPE is not our failure.
    proc.stdin.on('error', () => {});
    proc.stdin.end(input);
  }
  const [status, stdout, stderr] = await Promise.all([proc.wait(), out, err]);
  const decode = (b: Buffer) => (encoding === 'buffer' ? b : b.toString(encoding));
  return { ...status, stdout: decode(stdout), stderr: decode(stderr), pid: proc.pid };
}

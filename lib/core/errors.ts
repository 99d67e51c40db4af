// Native code hands back -errno, the syscall and the step; the message, the
// code and the hint are made here.
import * as os from 'node:os';
import * as util from 'node:util';

/** Where a spawn or setup step failed, beyond Node's SystemError fields. */
export interface NsErrorDetails {
  /** Negative errno, as in Node (`-2` for ENOENT). */
  errno: number;
  /** The failing system call (`'mount'`, `'clone3'`, `'execve'`). */
  syscall: string;
  /** The path the call was about, when there is one. */
  path?: string;
  /** For spawn failures: the setup step (`'mount /proc'`, `'write uid_map'`, `'execve'`). */
  step?: string;
  /** What to do about it, when a common cause is known. */
  hint?: string;
  /** For a setup child that died of a signal before exec, without reporting (`errno` is then EINTR). */
  signal?: NodeJS.Signals;
  /** For a setup child that exited before exec, without reporting (`errno` is then EIO). */
  exitCode?: number;
}

/**
 * A failed system call, shaped like Node's `SystemError`: `code` (`'EPERM'`),
 * negative `errno`, `syscall`, `path`, and for spawn failures `step`.
 */
export class NsError extends Error {
  /** The errno name, as Node's (`'EPERM'`, `'ENOENT'`). */
  readonly code: string;
  /** Negative errno, as in Node (`-1` for EPERM). */
  readonly errno: number;
  /** The failing system call (`'clone3'`, `'mount'`, `'execve'`). */
  readonly syscall: string;
  /** The path the call was about, when there is one. */
  readonly path?: string;
  /** For spawn failures: the setup step that failed (`'mount /proc'`, `'write uid_map'`). */
  readonly step?: string;
  /** What to do about it, when a common cause is known (also in `message`). */
  readonly hint?: string;
  /** The signal that killed the setup child before exec (it could not report the step itself). */
  readonly signal?: NodeJS.Signals;
  /** The status the setup child exited with before exec, without a report. */
  readonly exitCode?: number;

  constructor(given: NsErrorDetails) {
    // Own keys only: an absent path or hint must not come from Object.prototype.
    const details = Object.assign(Object.create(null) as NsErrorDetails, given);
    const code = errnoName(details.errno);
    let [, description] = util.getSystemErrorMap().get(details.errno) ?? [code, 'system error'];
    if (details.signal !== undefined) description = `killed by ${details.signal} before exec`;
    else if (details.exitCode !== undefined) description = `exited with status ${details.exitCode} before exec, without a report`;
    let message = `${code}: ${description}, ${details.syscall}`;
    if (details.path !== undefined) message += ` '${details.path}'`;
    if (details.step !== undefined && details.step !== details.syscall) message += ` (step: ${details.step})`;
    if (details.hint) message += `. ${details.hint}`;
    super(message);
    this.name = 'NsError';
    this.code = code;
    this.errno = details.errno;
    this.syscall = details.syscall;
    if (details.path !== undefined) this.path = details.path;
    if (details.step !== undefined) this.step = details.step;
    if (details.hint) this.hint = details.hint;
    if (details.signal !== undefined) this.signal = details.signal;
    if (details.exitCode !== undefined) this.exitCode = details.exitCode;
  }
}

// libuv's table lacks some errnos the kernel returns here (ENOEXEC, ENOTTY
// on older libuv), so names come from os.constants.errno first.
const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(os.constants.errno)) if (!errnoNames.has(-num)) errnoNames.set(-num, name);

function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? util.getSystemErrorName(errno);
}

/** Turns a native result into its value, or throws the NsError it encodes. */
export function check(result: number, syscall: string, path?: string, hint?: (code: string) => string | undefined): number {
  if (result >= 0) return result;
  const code = errnoName(result);
  throw new NsError({ errno: result, syscall, path, hint: hint?.(code) });
}

export type ArgError = (TypeError | RangeError) & { code: string };

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    // Only a string name: a `constructor` of the caller's making may hold anything (a Symbol would throw here).
    const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return `an instance of ${typeof name === 'string' && name !== '' ? name : 'Object'}`;
  }
  let shown = util.inspect(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

/** Node's ERR_INVALID_ARG_TYPE, naming the argument or option. */
export function invalidArgType(name: string, expected: string, actual: unknown): ArgError {
  const err = new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`) as ArgError;
  err.code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

function shown(value: unknown): string {
  const text = util.inspect(value);
  return text.length > 128 ? `${text.slice(0, 128)}...` : text;
}

/** Node's ERR_INVALID_ARG_VALUE (a TypeError, as Node's), naming the argument or option and why; `cause` for an error of the caller's code that made the value unusable. */
export function invalidArgValue(name: string, value: unknown, reason: string, options?: ErrorOptions): ArgError {
  const err = new TypeError(`The argument '${name}' ${reason}. Received ${shown(value)}`, options) as ArgError;
  err.code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

/** Node's ERR_OUT_OF_RANGE: a number (an id, a pid, a size, a timeout) outside what `name` takes; `range` as Node words it (`'>= 0 && <= 255'`, `'an integer'`). */
export function outOfRange(name: string, range: string, value: unknown): ArgError {
  const err = new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown(value)}`) as ArgError;
  err.code = 'ERR_OUT_OF_RANGE';
  return err;
}

/**
 * Node's ERR_UNKNOWN_SIGNAL (a TypeError), as `child_process` throws it for a
 * signal it does not know; `option` names the option it came from, where it
 * is one (Node's own text names none).
 */
export function unknownSignal(value: unknown, option?: string): ArgError {
  const err = new TypeError(`Unknown signal: ${String(value)}${option ? ` (${option})` : ''}`) as ArgError;
  err.code = 'ERR_UNKNOWN_SIGNAL';
  return err;
}

export function unsupportedPlatform(): Error & { code: string } {
  const err = new Error(
    `nsjs works only on Linux (namespaces are a Linux kernel feature); this is ${process.platform}`,
  ) as Error & { code: string };
  err.code = 'ERR_NSJS_UNSUPPORTED_PLATFORM';
  return err;
}

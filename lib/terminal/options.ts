// terminal/: a pty for the command (`terminal: true | { cols, rows }`), as
// `docker run -t` and node-pty give one: its slave the command's stdio and
// controlling terminal, its master ours (terminal.ts, Process.terminal).
// The option and its validation live here; plan.ts makes its ops, and
// src-native/terminal/ opens it (in the parent, or inside the sandbox from
// its own devpts).
import { invalidArgValue } from '../core/errors';
import { integer, knownKeys, plainObject } from '../core/validate';

/** The options of {@link SpawnOptions} that terminal/ owns (SpawnOptions extends it). */
export interface TerminalSpawnOptions {
  /**
   * A new pty (default 80×24) whose slave is the command's fds 0, 1 and 2
   * and its controlling terminal (setsid, then TIOCSCTTY), so that `sh -i`,
   * `top`, `vim` and REPLs work; `Process.terminal` is the master, a Duplex
   * with `resize(cols, rows)`. Where the command has a `dev` mount at
   * `/dev` (its own devpts, in its own mount namespace or its sandbox's),
   * the pty is opened there, after the mounts, and the master sent back
   * over a socketpair, so `tty` names it inside; elsewhere it is opened
   * from our /dev/ptmx before clone. Cost: a pty pair (and a socketpair)
   * and three syscalls in the child. A hostile program can do with it what
   * a program can do with its own terminal: write anything to the master
   * (escape sequences reach whoever displays the output: filter what you
   * show), change its modes, and fill it until we read; it cannot reach our
   * own terminal or session (the session is always new). Overrides
   * `stdio[0..2]`; `newSession: false` is refused with it.
   */
  terminal?: boolean | { cols?: number; rows?: number };
}

/** The size of the pty, when there is one. */
export interface TerminalSize {
  cols: number;
  rows: number;
}

/** terminal/'s part of the checked options. */
export interface TerminalChecked {
  terminal?: TerminalSize;
}

/** `cols`/`rows` of a terminal: what TIOCSWINSZ holds. */
export function terminalSize(cols: unknown, rows: unknown, name: string): TerminalSize {
  return { cols: integer(cols, `${name}.cols`, 1, 0xffff), rows: integer(rows, `${name}.rows`, 1, 0xffff) };
}

/** `terminal`. */
export function checkTerminalOptions(o: Readonly<Record<string, unknown>>): TerminalChecked {
  const t = o.terminal;
  if (t === undefined || t === false) return {};
  if (o.newSession === false)
    throw invalidArgValue('options.newSession', false, 'cannot be false with options.terminal: the terminal is the controlling terminal of a new session');
  if (t === true) return { terminal: { cols: 80, rows: 24 } };
  const size = plainObject(t, 'options.terminal');
  knownKeys(size, ['cols', 'rows'], 'options.terminal');
  return { terminal: terminalSize(size.cols ?? 80, size.rows ?? 24, 'options.terminal') };
}

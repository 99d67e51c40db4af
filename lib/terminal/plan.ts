// The terminal's ops: the pty opened inside (after the mounts, before the
// policy, as the command's fds 0-2), and, after setsid, the controlling
// terminal. A pty opened by the parent is the command's stdio instead.
import type { Add } from '../core/plan';

/** terminal/'s ops (OpKind in src-native/spawn/plan.h). */
export const TerminalOp = {
  PtyInside: 128,
  Ctty: 129,
} as const;

/** The terminal as spawn opened it before clone (terminal.ts openTerminal). */
export interface TerminalFds {
  /** Opened inside: the child's end of the socketpair the master comes back on. */
  inside?: { socket: number; cols: number; rows: number };
}

/** After the command's stdio: a pty opened inside becomes fds 0-2. */
export function planTerminal(t: TerminalFds, add: Add): void {
  if (t.inside)
    add(
      { kind: TerminalOp.PtyInside, s: ['/dev/ptmx'], a: t.inside.socket, b: t.inside.cols, flags: t.inside.rows },
      { step: 'open the terminal (/dev/ptmx)', syscall: 'open', path: '/dev/ptmx' },
    );
}

/** After setsid (policy/'s last op): the terminal on fd 0 becomes the controlling one. */
export function planCtty(add: Add): void {
  add({ kind: TerminalOp.Ctty }, { step: 'controlling terminal', syscall: 'ioctl TIOCSCTTY' });
}

// The master side of a command's pty: opened before clone (openTerminal),
// or received from the child that opened it inside (receiveMaster), and
// given to the caller as Process.terminal, a Duplex over the master.
import { Duplex } from 'node:stream';

import { NsError } from '../core/errors';
import { closeFd, native } from '../core/native';
import type { TerminalFds } from './plan';
import { terminalSize, type TerminalSize } from './options';

const EAGAIN = -11;
const EIO = -5;
const CHUNK = 65536;

/**
 * The pty master of a command started with `terminal`: read what the
 * terminal shows, write what is typed. It ends (`'end'`, then `'close'`)
 * once the command and everything else holding the slave are gone and all
 * they wrote has been read: read here until the kernel says EIO, which it
 * does only once nothing is left (src-native/terminal/terminal.cc says why
 * not through a libuv stream).
 */
export class Terminal extends Duplex {
  #fd: number;
  #size: TerminalSize;
  #reading: { close(): void } | null = null;
  #writing: { close(): void } | null = null;

  /** @internal */
  constructor(fd: number, size: TerminalSize) {
    // Not half-open: at the end of the output nothing reads input either.
    super({ allowHalfOpen: false });
    this.#fd = fd;
    this.#size = size;
  }

  /** Columns, as last set. */
  get cols(): number {
    return this.#size.cols;
  }

  /** Rows, as last set. */
  get rows(): number {
    return this.#size.rows;
  }

  /** TIOCSWINSZ: the new size, and SIGWINCH to the terminal's foreground process group. */
  resize(cols: number, rows: number): void {
    const size = terminalSize(cols, rows, 'size');
    if (this.#fd < 0) return;
    const r = native().setWinsize(this.#fd, size.cols, size.rows);
    if (r < 0) throw new NsError({ errno: r, syscall: 'ioctl TIOCSWINSZ' });
    this.#size = size;
  }

  #watch(writable: boolean, then: (err: number) => void): { close(): void } | null {
    const w = new (native().TtyWatch)(this.#fd, writable, then);
    const r = w.start();
    if (r < 0) {
      this.destroy(new NsError({ errno: r, syscall: 'uv_poll_start' }));
      return null;
    }
    return w;
  }

  /** @internal */
  override _read(): void {
    if (this.#reading || this.#fd < 0) return;
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const n = native().readTty(this.#fd, buf);
      if (n === EAGAIN) {
        this.#reading = this.#watch(false, (err) => {
          this.#reading = null;
          if (err < 0) this.destroy(new NsError({ errno: err, syscall: 'read' }));
          else this._read();
        });
        return;
      }
      if (n === EIO || n === 0) {
        this.push(null);
        return;
      }
      if (n < 0) {
        this.destroy(new NsError({ errno: n, syscall: 'read' }));
        return;
      }
      if (!this.push(n === CHUNK ? buf : Buffer.from(buf.subarray(0, n)))) return;
    }
  }

  /** @internal */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    const from = (offset: number): void => {
      while (offset < chunk.length) {
        if (this.#fd < 0) return callback(new NsError({ errno: EIO, syscall: 'write' }));
        const n = native().writeTty(this.#fd, chunk, offset);
        if (n === EAGAIN) {
          this.#writing = this.#watch(true, (err) => {
            this.#writing = null;
            if (err < 0) callback(new NsError({ errno: err, syscall: 'write' }));
            else from(offset);
          });
          return;
        }
        if (n < 0) return callback(new NsError({ errno: n, syscall: 'write' }));
        offset += n;
      }
      callback();
    };
    from(0);
  }

  /** @internal */
  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#reading?.close();
    this.#writing?.close();
    this.#reading = this.#writing = null;
    if (this.#fd >= 0) closeFd(this.#fd);
    this.#fd = -1;
    callback(err);
  }

  /**
   * @internal Once the command has exited: a terminal nobody reads is read
   * (and what it held dropped) until its end, so that it closes, as
   * child_process does with unread stdio at exit (flushStdio).
   */
  flush(): void {
    if (this.readableFlowing === null && this.listenerCount('readable') === 0) this.resume();
  }
}

/** What spawn opened for a terminal: the child's fds (plan.ts) and ours. */
export interface OpenedTerminal {
  fds: TerminalFds;
  size: TerminalSize;
  /** The slave, as the command's stdio (opened here), or undefined when opened inside. */
  slave?: number;
  /** The master (opened here), or our end of the socketpair it comes back on. */
  ours: number;
  /** The fds the child alone needs, closed once it has exec'd or failed. */
  childOnly: number[];
}

/** Before clone: a pty pair here, or the socketpair for one opened inside the sandbox. */
export function openTerminal(size: TerminalSize, inside: boolean): OpenedTerminal {
  if (inside) {
    const fds = native().socketPair();
    if (typeof fds === 'number') throw new NsError({ errno: fds, syscall: 'socketpair' });
    return { fds: { inside: { socket: fds[1], ...size } }, size, ours: fds[0], childOnly: [fds[1]] };
  }
  const fds = native().openPty(size.cols, size.rows);
  if (typeof fds === 'number') throw new NsError({ errno: fds, syscall: 'open', path: '/dev/ptmx' });
  return { fds: {}, size, slave: fds[1], ours: fds[0], childOnly: [fds[1]] };
}

/** After exec: the master as a Terminal (received from the child when it opened it inside). */
export function terminalOf(t: OpenedTerminal): Terminal {
  let master = t.ours;
  if (t.fds.inside) {
    master = native().recvFd(t.ours);
    closeFd(t.ours);
    if (master < 0) throw new NsError({ errno: master, syscall: 'recvmsg', step: 'receive the terminal' });
  }
  return new Terminal(master, t.size);
}

// TCP sockets made inside a net namespace and used from Node in ours: a
// server listening there (listen), a connection made from there (connect).
import * as net from 'node:net';

import { NsError, invalidArgType } from '../core/errors';
import { closeFd, native } from '../core/native';
import { bool, integer } from '../core/validate';
import type { Namespace } from '../ns/namespace';
import { ipAddress, port as portArg } from './netaddr';
import { family, netns, options, socketError, socketIn } from './netns';

const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const EINPROGRESS = -115;
const ETIMEDOUT = -110;

/** Options of {@link listen}. */
export interface ListenOptions {
  /** An IP address of `ns` to listen on; default `'0.0.0.0'`. Host names are not resolved. */
  host?: string;
  /** Default 0: a free port, read it from `server.address()`. */
  port?: number;
  /** Default 511, as Node's. */
  backlog?: number;
  /** For an IPv6 `host`: refuse IPv4-mapped connections. Default false. */
  ipv6Only?: boolean;
}

/**
 * A TCP server listening inside `ns`, served by Node in ours: the socket is
 * created in `ns`, bound and listening there, then handed to
 * `net.createServer().listen({ fd })`. Resolves once Node listens.
 */
export async function listen(ns: Namespace, options_?: ListenOptions, connectionListener?: (socket: net.Socket) => void): Promise<net.Server> {
  netns(ns, 'ns');
  const opts = options(options_, 'options', ['host', 'port', 'backlog', 'ipv6Only']);
  const host = opts.host === undefined ? { family: 4 as const, address: '0.0.0.0' } : ipAddress(opts.host, 'options.host');
  const port = opts.port === undefined ? 0 : portArg(opts.port, 'options.port');
  const backlog = opts.backlog === undefined ? 511 : integer(opts.backlog, 'options.backlog', 0);
  const ipv6Only = opts.ipv6Only === undefined ? false : bool(opts.ipv6Only, 'options.ipv6Only');
  if (connectionListener !== undefined && typeof connectionListener !== 'function')
    throw invalidArgType('connectionListener', 'of type function', connectionListener);
  const where = `${host.family === 6 ? `[${host.address}]` : host.address}:${port} in ${ns}`;
  const fd = socketIn(ns, family(host.family), SOCK_STREAM, 0, `listen ${where}`);
  const r = native().bindListen(fd, family(host.family), host.address, port, backlog, ipv6Only);
  if (r !== 0) {
    closeFd(fd);
    throw socketError(r, ns, `listen ${where}`);
  }
  // From here Node owns the fd: server.close() (or a failed listen) closes it.
  const server = net.createServer(connectionListener);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd, backlog }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The IP address to connect to, as seen from inside `ns`. */
  host: string;
  /** The TCP port. */
  port: number;
  /** Give up after this many milliseconds (`ETIMEDOUT`). */
  timeout?: number;
  /** Aborts the connect (`AbortError`). */
  signal?: AbortSignal;
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason }) as Error & { code: string };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}

/**
 * A TCP connection made from inside `ns`, used from Node in ours: the
 * socket is created in `ns`, connected without blocking (the wait is a poll
 * on Node's loop), and handed to `new net.Socket({ fd })` once connected.
 * Rejects with the connect error (`ECONNREFUSED`, `ENETUNREACH`…).
 */
export async function connect(ns: Namespace, options_: ConnectOptions): Promise<net.Socket> {
  netns(ns, 'ns');
  if (options_ === undefined) throw invalidArgType('options', 'of type object', options_);
  const opts = options(options_, 'options', ['host', 'port', 'timeout', 'signal']);
  const host = ipAddress(opts.host, 'options.host');
  const port = portArg(opts.port, 'options.port', 1);
  const timeout = opts.timeout === undefined ? undefined : integer(opts.timeout, 'options.timeout', 1);
  const signal = opts.signal as AbortSignal | undefined;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  if (signal?.aborted) throw abortError(signal);
  const step = `connect ${host.family === 6 ? `[${host.address}]` : host.address}:${port} in ${ns}`;
  const fd = socketIn(ns, family(host.family), SOCK_STREAM | SOCK_NONBLOCK, 0, step);
  const r = native().connectStart(fd, family(host.family), host.address, port);
  if (r === 0) return new net.Socket({ fd });
  if (r !== EINPROGRESS) {
    closeFd(fd);
    throw new NsError({ errno: r, syscall: 'connect', step });
  }
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const giveUp = (err: Error) => {
      done();
      watch.close();
      closeFd(fd);
      reject(err);
    };
    const onAbort = () => giveUp(abortError(signal!));
    const watch = new (native().ConnectWatch)(fd, (err) => {
      done();
      if (err === 0) return resolve(new net.Socket({ fd }));
      closeFd(fd);
      reject(new NsError({ errno: err, syscall: 'connect', step }));
    });
    const started = watch.start();
    if (started < 0) {
      closeFd(fd);
      return reject(new NsError({ errno: started, syscall: 'epoll_ctl', step }));
    }
    if (timeout !== undefined) timer = setTimeout(() => giveUp(new NsError({ errno: ETIMEDOUT, syscall: 'connect', step })), timeout);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

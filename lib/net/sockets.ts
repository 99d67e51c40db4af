// Sockets made inside a net namespace and used from Node in ours: a TCP or
// abstract-Unix server listening there (listen), a connection made from
// there (connect), a UDP socket bound there (createSocket).
import type * as dgram from 'node:dgram';
import * as net from 'node:net';

import { AbortError, NsError, invalidArgType, invalidArgValue } from '../core/errors';
import { closeFd, native } from '../core/native';
import { bool, integer } from '../core/validate';
import type { Namespace } from '../ns/namespace';
import { ipAddress, port as portArg } from './netaddr';
import { family, netns, options as ownOptions, socketError, socketIn } from './netns';

const SOCK_STREAM = 1;
/** node:dgram on first use: every spawn loads this file (through the egress proxy's splice), few make a UDP socket. */
const udp = (): typeof dgram => require('node:dgram');
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
  /**
   * Instead of `host`/`port`: a Unix socket with this abstract name (no
   * leading NUL or `@`; 1-107 bytes), which belongs to `ns` as ports do. A
   * Unix socket with a path belongs to a filesystem, not to a net
   * namespace: use Node's own `net.Server#listen(path)` for that.
   */
  path?: string;
}

/**
 * A TCP server listening inside `ns`, served by Node in ours: the socket is
 * created in `ns`, bound and listening there, then handed to
 * `net.createServer().listen({ fd })`. Resolves once Node listens.
 * @example A server in a sandbox's network namespace, served by this process
 * ```ts
 * import { Namespace, net } from 'nsjs';
 *
 * using ns = await Namespace.create(['user', 'net']);
 * const server = await net.listen(ns, { host: '127.0.0.1', port: 8080 }, (s) => s.end('hi\n'));
 * // a program spawned with join: { namespaces: [ns] } reaches it at 127.0.0.1:8080
 * server.close();
 * ```
 */
export async function listen(ns: Namespace, options?: ListenOptions, connectionListener?: (socket: net.Socket) => void): Promise<net.Server> {
  netns(ns, 'ns');
  const opts = ownOptions(options, 'options', ['host', 'port', 'backlog', 'ipv6Only', 'path']);
  const unix = opts.path === undefined ? undefined : abstractName(opts.path, 'options.path', opts, ['host', 'port', 'ipv6Only']);
  const host = opts.host === undefined ? { family: 4 as const, address: '0.0.0.0' } : ipAddress(opts.host, 'options.host');
  const port = opts.port === undefined ? 0 : portArg(opts.port, 'options.port');
  const backlog = opts.backlog === undefined ? 511 : integer(opts.backlog, 'options.backlog', 0);
  const ipv6Only = opts.ipv6Only === undefined ? false : bool(opts.ipv6Only, 'options.ipv6Only');
  if (connectionListener !== undefined && typeof connectionListener !== 'function')
    throw invalidArgType('connectionListener', 'of type function', connectionListener);
  const where = unix !== undefined ? `@${unix} in ${ns}` : `${host.family === 6 ? `[${host.address}]` : host.address}:${port} in ${ns}`;
  const domain = unix !== undefined ? AF_UNIX : family(host.family);
  const fd = socketIn(ns, domain, SOCK_STREAM, 0, `listen ${where}`);
  const r = native().bindListen(fd, domain, unix ?? host.address, port, backlog, ipv6Only);
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

const AF_UNIX = 1;
const SOCK_DGRAM = 2;

/** An abstract Unix socket name: 1-107 bytes, not combined with the IP options `others`. */
function abstractName(value: unknown, name: string, opts: Record<string, unknown>, others: string[]): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (value.length === 0 || Buffer.byteLength(value) > 107 || value.includes('\0'))
    throw invalidArgValue(name, value, 'must be an abstract socket name of 1 to 107 bytes, without null bytes');
  for (const o of others) if (opts[o] !== undefined) throw invalidArgValue(name, value, `cannot be combined with options.${o}`);
  return value;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The IP address to connect to, as seen from inside `ns`. */
  host?: string;
  /** The TCP port. */
  port?: number;
  /** Instead of `host`/`port`: the abstract Unix socket name to connect to (see {@link ListenOptions.path}). */
  path?: string;
  /** Give up after this many milliseconds (`ETIMEDOUT`). */
  timeout?: number;
  /** Aborts the connect (`AbortError`). */
  signal?: AbortSignal;
}

/**
 * A TCP connection made from inside `ns`, used from Node in ours: the
 * socket is created in `ns`, connected without blocking (the wait is a poll
 * on Node's loop), and handed to `new net.Socket({ fd })` once connected.
 * Rejects with the connect error (`ECONNREFUSED`, `ENETUNREACH`…).
 * @example
 * ```ts
 * import { net } from 'nsjs';
 *
 * const socket = await net.connect(proc.namespace('net'), { host: '127.0.0.1', port: 80, timeout: 1000 });
 * socket.end('GET / HTTP/1.0\r\n\r\n');
 * ```
 */
export async function connect(ns: Namespace, options: ConnectOptions): Promise<net.Socket> {
  netns(ns, 'ns');
  if (options === undefined) throw invalidArgType('options', 'of type object', options);
  const opts = ownOptions(options, 'options', ['host', 'port', 'timeout', 'signal', 'path']);
  const unix = opts.path === undefined ? undefined : abstractName(opts.path, 'options.path', opts, ['host', 'port']);
  const host = unix !== undefined ? { family: 0 as const, address: unix } : ipAddress(opts.host, 'options.host');
  const port = unix !== undefined ? 0 : portArg(opts.port, 'options.port', 1);
  const timeout = opts.timeout === undefined ? undefined : integer(opts.timeout, 'options.timeout', 1);
  const signal = opts.signal as AbortSignal | undefined;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  if (signal?.aborted) throw new AbortError(signal.reason);
  const step = `connect ${host.family === 0 ? `@${host.address}` : host.family === 6 ? `[${host.address}]:${port}` : `${host.address}:${port}`} in ${ns}`;
  const domain = host.family === 0 ? AF_UNIX : family(host.family);
  const fd = socketIn(ns, domain, SOCK_STREAM | SOCK_NONBLOCK, 0, step);
  const r = native().connectStart(fd, domain, host.address, port);
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
    const onAbort = () => giveUp(new AbortError(signal!.reason));
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

/** Options of {@link createSocket}. */
export interface SocketOptions {
  /** `'udp4'` or `'udp6'`, as `dgram.createSocket`'s. */
  type: 'udp4' | 'udp6';
  /** An IP address of `ns` to bind to; default any (`0.0.0.0` or `::`). */
  address?: string;
  /** Default 0: a free port, read it from `socket.address()`. */
  port?: number;
}

/**
 * A UDP socket made inside `ns`, bound there, used from Node in ours as a
 * `dgram.Socket`: `send()` addresses are those of `ns`'s network, and it
 * receives what is sent to its address there.
 */
export async function createSocket(ns: Namespace, options: SocketOptions): Promise<dgram.Socket> {
  netns(ns, 'ns');
  if (options === undefined) throw invalidArgType('options', 'of type object', options);
  const opts = ownOptions(options, 'options', ['type', 'address', 'port']);
  if (opts.type !== 'udp4' && opts.type !== 'udp6') throw invalidArgValue('options.type', opts.type, "must be 'udp4' or 'udp6'");
  const fam = opts.type === 'udp4' ? 4 : 6;
  const host = opts.address === undefined ? { family: fam, address: fam === 4 ? '0.0.0.0' : '::' } : ipAddress(opts.address, 'options.address');
  if (host.family !== fam) throw invalidArgValue('options.address', opts.address, `must be an IPv${fam} address for ${opts.type}`);
  const port = opts.port === undefined ? 0 : portArg(opts.port, 'options.port');
  const where = `udp ${fam === 6 ? `[${host.address}]` : host.address}:${port} in ${ns}`;
  const fd = socketIn(ns, family(fam), SOCK_DGRAM, 0, where);
  const r = native().bindListen(fd, family(fam), host.address, port, -1, false);
  if (r !== 0) {
    closeFd(fd);
    throw socketError(r, ns, where);
  }
  const socket = udp().createSocket(opts.type);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ fd }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

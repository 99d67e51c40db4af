// network.egress: a sandbox whose only link is lo, and a proxy listening on
// its 127.0.0.1 (the socket made there by the spawn's parent,
// src-native/spawn/parent.cc) but served by Node in our namespace, where it
// connects only to the allowed host:port patterns. One port speaks both
// HTTP (CONNECT and absolute-URI requests) and SOCKS5 (CONNECT), told apart
// by the first byte, as sandbox-runtime's two proxies do on two ports.
import type * as dns from 'node:dns';
import type * as http from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import * as net from 'node:net';

import { invalidArgType, invalidArgValue } from '../core/errors';
import { plainObject, knownKeys, ownEntries } from '../core/validate';
import { splice } from './forward';

/** The proxy's port on the sandbox's own 127.0.0.1 (squid's): the namespace is new, so nothing else holds it. */
export const EGRESS_PORT = 3128;
/** Connections the sandbox may have open through the proxy at once: each costs us two fds. */
const MAX_CONNECTIONS = 512;
/** A client that has not said where to within this long is dropped. */
const HANDSHAKE_MS = 30_000;
// node:http and node:dns when a proxy starts: every spawn loads this file
// (its option checks), few use egress, and the two cost a few ms of start-up
// (nsjs-oci's create, bench --sections oci).
const httpModule = (): typeof http => require('node:http');
const dnsModule = (): typeof dns => require('node:dns');

/** One allowed or refused connection, as `onConnection` gets it. */
export interface EgressConnection {
  /** Whether the proxy connected it. */
  allowed: boolean;
  /** How the sandbox asked: an HTTP `CONNECT`, a plain HTTP request, or SOCKS5 `CONNECT`. */
  protocol: 'connect' | 'http' | 'socks5';
  /** The host as the sandbox named it (a name, or an IP literal without brackets). */
  host: string;
  port: number;
  /** The address Node connected to (after resolving a name in our namespace); absent when refused before. */
  address?: string;
  /** Why it was refused or failed: `'not allowed'`, or the error's code (`'ENOTFOUND'`, `'ECONNREFUSED'`…). */
  reason?: string;
}

type HostPattern = { kind: 'any' } | { kind: 'name'; name: string } | { kind: 'suffix'; suffix: string } | { kind: 'ip'; address: string };
interface Pattern {
  host: HostPattern;
  port: number | '*';
}

/** Checked network.egress. */
export interface CheckedEgress {
  allow: Pattern[];
  onConnection?: (c: EgressConnection) => void;
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** A DNS name as a proxy may resolve it: labels of letters, digits, '-' and '_', and not a number getaddrinfo would read as an address (`127.1`, `0x7f000001`). */
function hostName(text: string): string | undefined {
  const name = text.toLowerCase().replace(/\.$/, '');
  if (name.length === 0 || name.length > 253) return undefined;
  const labels = name.split('.');
  if (!labels.every((l) => LABEL.test(l))) return undefined;
  if (/^(0x[0-9a-f]*|[0-9]+)$/.test(labels[labels.length - 1])) return undefined;
  return name;
}

/** The canonical text of an IP literal (IPv6 compressed and lower case), or undefined. */
function canonicalIp(text: string): string | undefined {
  if (isIPv4(text)) return text;
  if (isIPv6(text) && !text.includes('%')) return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  return undefined;
}

function pattern(value: unknown, name: string): Pattern {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  const bad = (why: string) => invalidArgValue(name, value, why);
  const m = /^(\[[^\]]*\]|[^:[\]]+):([0-9]+|\*)$/.exec(value);
  if (!m) throw bad("must be 'host:port' (port a number or '*', an IPv6 host in brackets)");
  const [, h, p] = m;
  let port: Pattern['port'] = '*';
  if (p !== '*') {
    port = Number(p);
    if (!(port >= 1 && port <= 65535)) throw bad('must have a port from 1 to 65535, or *');
  }
  let host: HostPattern;
  if (h === '*') host = { kind: 'any' };
  else if (h.startsWith('[')) {
    const ip = canonicalIp(h.slice(1, -1));
    if (!ip || !ip.includes(':')) throw bad('must have a valid IPv6 address inside the brackets');
    host = { kind: 'ip', address: ip };
  } else if (isIPv4(h)) host = { kind: 'ip', address: h };
  else if (h.startsWith('*.')) {
    const suffix = hostName(h.slice(2));
    if (!suffix) throw bad("must have a DNS name after '*.'");
    host = { kind: 'suffix', suffix };
  } else {
    const n = hostName(h);
    if (!n) throw bad('must have a DNS name, *.suffix, an IPv4 address, [IPv6] or * as its host');
    host = { kind: 'name', name: n };
  }
  return { host, port };
}

/** Checks `options.network.egress`. */
export function checkEgress(value: unknown): CheckedEgress {
  const e = plainObject(value, 'options.network.egress');
  knownKeys(e, ['allow', 'onConnection'], 'options.network.egress');
  if (!Array.isArray(e.allow)) throw invalidArgType('options.network.egress.allow', 'an instance of Array', e.allow);
  const allow = ownEntries(e.allow, 'options.network.egress.allow', () => undefined).map((v, i) => pattern(v, `options.network.egress.allow[${i}]`));
  if (e.onConnection !== undefined && typeof e.onConnection !== 'function')
    throw invalidArgType('options.network.egress.onConnection', 'of type function', e.onConnection);
  return { allow, ...(e.onConnection ? { onConnection: e.onConnection as CheckedEgress['onConnection'] } : {}) };
}

/** The environment that points a command's HTTP and SOCKS clients at the proxy. */
export function egressEnv(): [string, string][] {
  const http_ = `http://127.0.0.1:${EGRESS_PORT}`;
  const socks = `socks5h://127.0.0.1:${EGRESS_PORT}`;
  return [
    ['HTTP_PROXY', http_],
    ['HTTPS_PROXY', http_],
    ['http_proxy', http_],
    ['https_proxy', http_],
    ['ALL_PROXY', socks],
    ['all_proxy', socks],
  ];
}

/** Whether the sandbox may reach `host` (a canonical IP literal or a checked name) on `port`. */
function allowed(allow: Pattern[], host: { ip: string } | { name: string }, port: number): boolean {
  return allow.some((p) => {
    if (p.port !== '*' && p.port !== port) return false;
    const h = p.host;
    if (h.kind === 'any') return true;
    if ('ip' in host) return h.kind === 'ip' && h.address === host.ip;
    if (h.kind === 'name') return h.name === host.name;
    return h.kind === 'suffix' && host.name.endsWith(`.${h.suffix}`);
  });
}

interface Target {
  host: string;
  port: number;
}

/**
 * Decides and connects: refused unless a pattern allows the host as named;
 * a name is resolved here, once, and the connection made to that address
 * (never resolved again), so what was checked is what is reached.
 */
function open(egress: CheckedEgress, protocol: EgressConnection['protocol'], t: Target, done: (err: string | undefined, socket?: net.Socket) => void): void {
  const report = (c: Omit<EgressConnection, 'protocol' | 'host' | 'port'>) => egress.onConnection?.({ protocol, host: t.host, port: t.port, ...c });
  const ip = canonicalIp(t.host);
  const name = ip === undefined ? hostName(t.host) : undefined;
  if (!(t.port >= 1 && t.port <= 65535) || (ip === undefined && name === undefined) || !allowed(egress.allow, ip !== undefined ? { ip } : { name: name! }, t.port)) {
    report({ allowed: false, reason: 'not allowed' });
    return done('not allowed');
  }
  const connectTo = (address: string) => {
    const socket = net.connect({ host: address, port: t.port });
    const fail = (err: NodeJS.ErrnoException) => {
      socket.destroy();
      report({ allowed: false, address, reason: err.code ?? err.message });
      done(err.code ?? 'ECONNREFUSED');
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.off('error', fail);
      report({ allowed: true, address });
      done(undefined, socket);
    });
  };
  if (ip !== undefined) return connectTo(ip);
  dnsModule().lookup(name!, (err, address) => {
    if (err) {
      report({ allowed: false, reason: err.code ?? 'ENOTFOUND' });
      return done(err.code ?? 'ENOTFOUND');
    }
    connectTo(address);
  });
}

/** The target of `CONNECT host:port` or of an absolute `http://` URI. */
function authority(text: string, defaultPort?: number): Target | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/]+)(?::([0-9]{1,5}))?$/.exec(text);
  if (!m || (m[2] === undefined && defaultPort === undefined)) return undefined;
  return { host: m[1].startsWith('[') ? m[1].slice(1, -1) : m[1], port: m[2] === undefined ? defaultPort! : Number(m[2]) };
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

function refuse(res: http.ServerResponse, status: number, why: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
  res.end(`nsjs egress: ${why}\n`);
}

function httpProxy(egress: CheckedEgress, sockets: Set<net.Socket>): http.Server {
  const server = httpModule().createServer({ headersTimeout: HANDSHAKE_MS, requestTimeout: 0 });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const t = authority(req.url ?? '');
    if (!t) {
      client.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    open(egress, 'connect', t, (err, upstream) => {
      if (client.destroyed) return void upstream?.destroy();
      if (!upstream) {
        const status = err === 'not allowed' ? '403 Forbidden' : '502 Bad Gateway';
        client.end(`HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nnsjs egress: ${t.host}:${t.port} ${err}\n`);
        return;
      }
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      splice(client, upstream);
    });
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '');
    } catch {
      // an origin-form request ('/path'): this is a proxy, not a server
    }
    const t = url?.protocol === 'http:' ? authority(url.host, 80) : undefined;
    if (!url || !t) return refuse(res, 400, 'a proxy request needs an absolute http:// URI (use CONNECT for https)');
    open(egress, 'http', t, (err, upstream) => {
      if (!upstream) return refuse(res, err === 'not allowed' ? 403 : 502, `${t.host}:${t.port} ${err}`);
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.includes(k) && v !== undefined) headers[k] = v;
      // The host that was allowed is the one named, whatever Host the client sent.
      headers.host = url!.host;
      headers.connection = 'close';
      const forwarded = httpModule().request({ createConnection: () => upstream, method: req.method, path: `${url!.pathname}${url!.search}`, headers, setHost: false });
      forwarded.on('response', (answer) => {
        const back: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(answer.headers)) if (!HOP_BY_HOP.includes(k) && v !== undefined) back[k] = v;
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, back);
        answer.pipe(res);
      });
      forwarded.on('error', () => (res.headersSent ? res.destroy() : refuse(res, 502, `${t.host}:${t.port} connection failed`)));
      req.pipe(forwarded);
    });
  });
  server.on('clientError', (_err, socket: net.Socket) => socket.destroy());
  return server;
}

const SOCKS_REPLY = { ok: 0, failure: 1, notAllowed: 2, hostUnreachable: 4, refused: 5, command: 7, addressType: 8 } as const;

function socksReply(socket: net.Socket, code: number): void {
  // BND.ADDR 0.0.0.0:0: the client has no use for our side's address.
  socket.write(Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]));
}

/** A SOCKS5 exchange (RFC 1928, no authentication): greeting, then one CONNECT request. */
function socks5(egress: CheckedEgress, client: net.Socket, sockets: Set<net.Socket>): void {
  let buf = Buffer.alloc(0);
  let stage: 'greeting' | 'request' = 'greeting';
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (buf.length > 600) return void client.destroy();
    if (stage === 'greeting') {
      if (buf.length < 2 || buf.length < 2 + buf[1]) return;
      const methods = buf.subarray(2, 2 + buf[1]);
      buf = buf.subarray(2 + buf[1]);
      if (!methods.includes(0)) {
        client.end(Buffer.from([5, 0xff]));
        return;
      }
      client.write(Buffer.from([5, 0]));
      stage = 'request';
    }
    if (buf.length < 5) return;
    const [ver, cmd, , atyp] = buf;
    const addrLen = atyp === 1 ? 4 : atyp === 4 ? 16 : atyp === 3 ? 1 + buf[4] : -1;
    if (ver !== 5 || addrLen < 0) {
      socksReply(client, SOCKS_REPLY.addressType);
      return void client.end();
    }
    if (buf.length < 4 + addrLen + 2) return;
    client.off('data', onData);
    client.pause();
    client.setTimeout(0);
    const raw = buf.subarray(4, 4 + addrLen);
    const host = atyp === 1 ? [...raw].join('.') : atyp === 4 ? canonicalIp(raw.toString('hex').replace(/(.{4})(?!$)/g, '$1:')) ?? '' : raw.subarray(1).toString('latin1');
    const port = buf.readUInt16BE(4 + addrLen);
    const rest = buf.subarray(4 + addrLen + 2);
    if (cmd !== 1) {
      socksReply(client, SOCKS_REPLY.command);
      return void client.end();
    }
    open(egress, 'socks5', { host, port }, (err, upstream) => {
      if (client.destroyed) return void upstream?.destroy();
      if (!upstream) {
        socksReply(client, err === 'not allowed' ? SOCKS_REPLY.notAllowed : err === 'ECONNREFUSED' ? SOCKS_REPLY.refused : err === 'ENOTFOUND' || err === 'EHOSTUNREACH' ? SOCKS_REPLY.hostUnreachable : SOCKS_REPLY.failure);
        return void client.end();
      }
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      socksReply(client, SOCKS_REPLY.ok);
      if (rest.length > 0) upstream.write(rest);
      splice(client, upstream);
      client.resume();
    });
  };
  client.on('data', onData);
}

/** A running egress proxy; `close()` ends it and every connection through it. */
export interface EgressProxy {
  close(): void;
}

/**
 * Serves the listening socket `fd` (made inside the sandbox): each
 * connection is SOCKS5 if its first byte is 5, HTTP otherwise.
 */
export function startEgress(fd: number, egress: CheckedEgress): EgressProxy {
  const sockets = new Set<net.Socket>();
  const httpServer = httpProxy(egress, sockets);
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => {});
    client.setTimeout(HANDSHAKE_MS, () => client.destroy());
    client.once('data', (first: Buffer) => {
      client.pause();
      client.unshift(first);
      if (first[0] === 5) {
        socks5(egress, client, sockets);
        client.resume();
      } else {
        client.setTimeout(0);
        httpServer.emit('connection', client);
        client.resume();
      }
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.on('error', () => {});
  server.listen({ fd });
  return {
    close() {
      server.close();
      httpServer.close();
      for (const s of sockets) s.destroy();
    },
  };
}

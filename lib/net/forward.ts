// Ports of ours forwarded into a net namespace, in userspace (as
// docker-proxy and rootlesskit's builtin port driver do, without their
// extra process): Node listens in our namespace and, per connection or UDP
// peer, makes a socket inside the target namespace (socketIn) and splices
// the two. Rootless: needs only what net.connect needs (a namespace we can
// enter), never a link or a NAT rule of ours.
import type * as dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';

import { invalidArgType, invalidArgValue } from '../core/errors';
import { closeFd } from '../core/native';
import { Namespace } from '../ns/namespace';
import { ipAddress, port as portArg } from './netaddr';
import { family, netns, options as ownOptions, socketIn } from './netns';
import { connect } from './sockets';

const SOCK_DGRAM = 2;
/** node:dgram, loaded by the first UDP forward: every spawn loads this file (the egress proxy's splice) and almost none forwards UDP. */
const udp = (): typeof dgram => require('node:dgram');
/** A UDP peer silent this long loses its socket inside (docker-proxy waits 90 s; a DNS or QUIC exchange needs far less). */
const UDP_IDLE_MS = 60_000;
/** The most UDP peers served at once: each holds a socket (an fd) inside, so a flood of source ports must not exhaust ours. */
const UDP_MAX_PEERS = 1024;

/** Options of {@link forward}. */
export interface ForwardOptions {
  /** Where we listen, in our namespace: `host` default `'127.0.0.1'` (an IP literal), `port` 0 picks a free one. */
  listen: { host?: string; port: number };
  /** The address inside the target namespace that each connection is forwarded to. */
  to: { host: string; port: number };
  /** `'tcp'` (the default) or `'udp'`. */
  protocol?: 'tcp' | 'udp';
}

/** A running forward; see {@link forward}. */
export interface Forwarder {
  /** The listening address, as `net.Server#address()` gives it. */
  address(): AddressInfo;
  /** Stops listening and closes every forwarded connection; resolves once all are closed. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function endpoint(value: unknown, name: string, hostDefault: string | undefined, minPort: number) {
  if (value === undefined) throw invalidArgType(name, 'of type object', value);
  const o = ownOptions(value, name, ['host', 'port']);
  const host = o.host === undefined && hostDefault !== undefined ? ipAddress(hostDefault, `${name}.host`) : ipAddress(o.host, `${name}.host`);
  return { ...host, port: portArg(o.port, `${name}.port`, minPort) };
}

/**
 * Forwards `listen` (a port of ours) to `to` inside `ns`: TCP with many
 * connections at once, half-close passed through (each direction ends on
 * its own) and a failed or reset connection inside passed on as a reset;
 * or UDP, each peer of ours getting its own socket inside, so replies go
 * back to the peer that asked. Rootless, no extra process, no slirp.
 *
 * Cost: one clone (socketIn, tens of microseconds) per TCP connection or UDP
 * peer, and a copy through Node of every byte. A program inside sees every
 * forwarded connection come from an address of its own namespace (the
 * socket is made there), not from the real client; it can answer as it
 * likes, but reaches nothing of ours through the forward except the
 * connections we accepted.
 * @example Port 8080 of ours to port 80 on a sandbox's 127.0.0.1
 * ```ts
 * import { net } from 'nsjs';
 *
 * const fwd = await net.forward(proc.namespace('net'), { listen: { port: 8080 }, to: { host: '127.0.0.1', port: 80 } });
 * console.log(fwd.address()); // { address: '127.0.0.1', family: 'IPv4', port: 8080 }
 * await fwd.close();
 * ```
 */
export async function forward(ns: Namespace, options: ForwardOptions): Promise<Forwarder> {
  netns(ns, 'ns');
  if (options === undefined) throw invalidArgType('options', 'of type object', options);
  const opts = ownOptions(options, 'options', ['listen', 'to', 'protocol']);
  const listen = endpoint(opts.listen, 'options.listen', '127.0.0.1', 0);
  const to = endpoint(opts.to, 'options.to', undefined, 1);
  const protocol = opts.protocol === undefined ? 'tcp' : opts.protocol;
  if (protocol !== 'tcp' && protocol !== 'udp') throw invalidArgValue('options.protocol', protocol, "must be 'tcp' or 'udp'");
  // Our own handle: the caller may close theirs while we still forward.
  const target = Namespace.open(`/proc/self/fd/${ns.fd}`, 'net');
  try {
    return await (protocol === 'tcp' ? forwardTcp(target, listen, to) : forwardUdp(target, listen, to));
  } catch (err) {
    target.close();
    throw err;
  }
}

type Endpoint = ReturnType<typeof endpoint>;

/**
 * @internal Two connected sockets, both ways: pipe ends the other side's
 * writing when one side ends, so a half-close goes through; an error or
 * reset on one side resets the other. (The egress proxy's splice too.)
 */
export function splice(a: net.Socket, b: net.Socket): void {
  a.allowHalfOpen = true;
  b.allowHalfOpen = true;
  for (const [from, into] of [[a, b], [b, a]] as const) {
    from.pipe(into);
    from.on('error', () => {});
    from.once('close', (hadError) => hadError && !into.destroyed && into.resetAndDestroy());
  }
}

function forwarder(address: () => AddressInfo, close: () => Promise<void>): Forwarder {
  let closing: Promise<void> | undefined;
  const once = () => (closing ??= close());
  return { address, close: once, [Symbol.asyncDispose]: once };
}

async function forwardTcp(ns: Namespace, listen: Endpoint, to: Endpoint): Promise<Forwarder> {
  const open = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (outside) => {
    open.add(outside);
    outside.once('close', () => open.delete(outside));
    outside.on('error', () => {}); // a reset before the inside connects: nothing to pass on
    connect(ns, { host: to.address, port: to.port }).then(
      (inside) => {
        if (outside.destroyed) return void inside.destroy();
        open.add(inside);
        inside.once('close', () => open.delete(inside));
        splice(outside, inside);
        outside.resume();
      },
      () => outside.resetAndDestroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: listen.address, port: listen.port, ipv6Only: listen.family === 6 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return forwarder(
    () => server.address() as AddressInfo,
    async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) s.destroy();
      await closed;
      ns.close();
    },
  );
}

async function bindUdp(socket: dgram.Socket, how: dgram.BindOptions): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(how, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

async function forwardUdp(ns: Namespace, listen: Endpoint, to: Endpoint): Promise<Forwarder> {
  const type = listen.family === 6 ? 'udp6' : 'udp4';
  const outside = udp().createSocket({ type, ipv6Only: listen.family === 6 });
  interface Peer {
    inside: dgram.Socket;
    timer: NodeJS.Timeout;
  }
  const peers = new Map<string, Peer>();
  const drop = (key: string) => {
    const p = peers.get(key);
    if (!p) return;
    peers.delete(key);
    clearTimeout(p.timer);
    p.inside.close();
  };
  const peerFor = (rinfo: dgram.RemoteInfo): Peer | undefined => {
    const key = `${rinfo.address}|${rinfo.port}`;
    let p = peers.get(key);
    if (p) {
      p.timer.refresh();
      return p;
    }
    if (peers.size >= UDP_MAX_PEERS) return undefined;
    const fd = socketIn(ns, family(to.family), SOCK_DGRAM, 0, `udp socket in ${ns}`);
    let inside: dgram.Socket;
    try {
      inside = udp().createSocket(to.family === 6 ? 'udp6' : 'udp4');
      inside.bind({ fd });
    } catch (err) {
      closeFd(fd);
      throw err;
    }
    inside.on('error', () => drop(key));
    inside.on('message', (msg, from) => {
      // Only the forward's own destination answers for it.
      if (from.address !== to.address || from.port !== to.port) return;
      p!.timer.refresh();
      outside.send(msg, rinfo.port, rinfo.address);
    });
    p = { inside, timer: setTimeout(() => drop(key), UDP_IDLE_MS) };
    p.timer.unref();
    peers.set(key, p);
    return p;
  };
  outside.on('message', (msg, rinfo) => {
    let p: Peer | undefined;
    try {
      p = peerFor(rinfo);
    } catch {
      return; // no socket inside (EMFILE, the namespace gone): the datagram is lost, as UDP may
    }
    p?.inside.send(msg, to.port, to.address);
  });
  outside.on('error', () => {});
  await bindUdp(outside, { address: listen.address, port: listen.port });
  return forwarder(
    () => outside.address(),
    async () => {
      for (const key of [...peers.keys()]) drop(key);
      await new Promise<void>((resolve) => outside.close(() => resolve()));
      ns.close();
    },
  );
}

/**
 * Networking for net namespaces that already exist — links, addresses,
 * routes, veth pairs between two namespaces — and sockets made inside a
 * namespace but used from Node in ours.
 *
 * Everything goes through rtnetlink from C++, with no `ip` process. A socket
 * stays in the namespace it was created in for its whole life, so nsjs makes
 * it there (a short vfork-style child joins the namespace, calls `socket()`
 * and exits; the fd is already in our table) and Node's own threads never
 * change namespace.
 *
 * Permissions: changing a namespace's links needs `CAP_NET_ADMIN` over the
 * user namespace that owns it, and reaching into it needs `CAP_SYS_ADMIN`
 * there. An ordinary user has both for net namespaces created inside a user
 * namespace it owns (`unshare -U -r -n`, or `spawnIsolated` with `user` and
 * `net`), and neither for the machine's own.
 * @module
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';

import { NsError, invalidArgType, invalidArgValue } from '../core/errors';
import { Namespace } from '../ns/namespace';
import { closeFd, native, type NativeSocketError } from '../core/native';
import { cidrList, cidr as cidrArg, ipAddress, linkName, mtu as mtuArg, port as portArg, type Cidr } from './netaddr';
import { bool, integer, knownKeys, plainObject } from '../core/validate';

const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const SOCK_STREAM = 1;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const NETLINK_ROUTE = 0;
const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;
const EBADF = -9;
const EINPROGRESS = -115;
const ETIMEDOUT = -110;

const family = (f: 4 | 6) => (f === 4 ? AF_INET : AF_INET6);

/** A link as `links()` reports it. */
export interface Link {
  /** The interface index, unique in its namespace. */
  index: number;
  /** The interface name (`'lo'`, `'veth0'`). */
  name: string;
  /** Administratively up (`IFF_UP`). */
  up: boolean;
  /** Carrier present (`IFF_LOWER_UP`): for a veth, both ends are up. */
  lowerUp: boolean;
  /** Its MTU in bytes. */
  mtu: number;
  /** The link kind (`'veth'`, `'bridge'`…); absent for `lo` and physical links. */
  kind?: string;
  /** The raw `IFF_*` flags. */
  flags: number;
}

/** An address as `addresses()` reports it. */
export interface Address {
  /** The link's name. */
  link: string;
  /** The link's interface index. */
  index: number;
  /** IPv4 or IPv6. */
  family: 4 | 6;
  /** The address, without prefix. */
  address: string;
  /** The prefix length (`24` for a /24). */
  prefixLength: number;
  /** `address/prefixLength`. */
  cidr: string;
}

// --- arguments ---------------------------------------------------------------

function netns(value: unknown, name: string): Namespace {
  if (!(value instanceof Namespace)) throw invalidArgType(name, 'an instance of Namespace', value);
  if (value.type !== 'net') throw invalidArgValue(name, value.toString(), `must be a net namespace, not ${value.type}`);
  if (value.fd < 0) throw new NsError({ errno: EBADF, syscall: 'setns', hint: `the Namespace passed as "${name}" was closed` });
  return value;
}

function options(value: unknown, name: string, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  const obj = plainObject(value, name);
  knownKeys(obj, known, name);
  return obj;
}

/** `nsjs` and 8 random hex digits: 12 bytes, inside the kernel's 15. */
function defaultLinkName(): string {
  return `nsjs${randomBytes(4).toString('hex')}`;
}

// --- errors ------------------------------------------------------------------

function netlinkHint(errno: number, ns: Namespace, link?: string): string | undefined {
  switch (errno) {
    case -1: // EPERM
      return (
        `changing links in ${ns} needs CAP_NET_ADMIN over the user namespace that owns it; ` +
        'as an ordinary user, use a net namespace created inside a user namespace you own ' +
        "(spawnIsolated with namespaces ['user', 'net'], or unshare -U -r -n)"
      );
    case -19: // ENODEV
      return link !== undefined ? `there is no link named '${link}' in ${ns}` : undefined;
    case -17: // EEXIST
      return link !== undefined ? `'${link}' already exists in ${ns}` : undefined;
    default:
      return undefined;
  }
}

function netlinkCheck(r: number, step: string, ns: Namespace, link?: string): void {
  if (r < 0) throw new NsError({ errno: r, syscall: 'netlink', step, hint: netlinkHint(r, ns, link) });
}

function socketError(e: NativeSocketError, ns: Namespace, step: string): NsError {
  let hint: string | undefined;
  if (e.syscall === 'setns' && e.errno === -1)
    hint =
      `entering ${ns} needs CAP_SYS_ADMIN over the user namespace that owns it; an ordinary user can ` +
      'reach only net namespaces created inside a user namespace it owns';
  return new NsError({ errno: e.errno, syscall: e.syscall, step, hint });
}

/** A socket of ours whose network is `ns`'s. */
function socketIn(ns: Namespace, domain: number, type: number, protocol: number, step: string): number {
  const r = native().socketIn(ns.fd, domain, type, protocol);
  if (typeof r !== 'number') throw socketError(r, ns, step);
  if (r < 0) throw socketError({ errno: r, syscall: 'socket' }, ns, step);
  return r;
}

/** Runs `fn` with a NETLINK_ROUTE socket in `ns`, closed afterwards. */
function withNetlink<T>(ns: Namespace, fn: (sock: number) => T): T {
  const sock = socketIn(ns, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, `netlink socket in ${ns}`);
  try {
    return fn(sock);
  } finally {
    closeFd(sock);
  }
}

// --- links -------------------------------------------------------------------

function setLink(ns: Namespace, name: string, up: -1 | 0 | 1, mtu: number, what: string): void {
  withNetlink(ns, (sock) => netlinkCheck(native().nlSetLink(sock, name, up, mtu), `RTM_NEWLINK ${what} ${name}`, ns, name));
}

/** Brings link `name` of `ns` up (`ip link set NAME up`). */
export function linkUp(ns: Namespace, name: string): void {
  setLink(netns(ns, 'ns'), linkName(name, 'name'), 1, -1, 'up');
}

/** Takes link `name` of `ns` down. */
export function linkDown(ns: Namespace, name: string): void {
  setLink(netns(ns, 'ns'), linkName(name, 'name'), 0, -1, 'down');
}

/** Sets the MTU of link `name` (68-65535). */
export function setMtu(ns: Namespace, name: string, mtu: number): void {
  setLink(netns(ns, 'ns'), linkName(name, 'name'), -1, mtuArg(mtu, 'mtu'), `mtu ${mtu}`);
}

/** Deletes link `name`; for a veth, its peer (in whatever namespace) goes too. */
export function deleteLink(ns: Namespace, name: string): void {
  netns(ns, 'ns');
  linkName(name, 'name');
  withNetlink(ns, (sock) => netlinkCheck(native().nlDeleteLink(sock, name), `RTM_DELLINK ${name}`, ns, name));
}

function dumpLinks(sock: number, ns: Namespace): Link[] {
  const r = native().nlLinks(sock);
  if (typeof r === 'number') {
    netlinkCheck(r, 'RTM_GETLINK', ns);
    return [];
  }
  return r.map((l) => ({
    index: l.index,
    name: l.name,
    up: (l.flags & IFF_UP) !== 0,
    lowerUp: (l.flags & IFF_LOWER_UP) !== 0,
    mtu: l.mtu,
    ...(l.kind !== undefined ? { kind: l.kind } : {}),
    flags: l.flags,
  }));
}

/**
 * The links of `ns`, by index (an RTM_GETLINK dump). Unlike
 * `/sys/class/net`, this is the namespace's own view, whoever mounted sysfs.
 */
export function links(ns: Namespace): Link[] {
  netns(ns, 'ns');
  return withNetlink(ns, (sock) => dumpLinks(sock, ns));
}

/** The addresses of `ns` (an RTM_GETADDR dump), IPv4 first. */
export function addresses(ns: Namespace): Address[] {
  netns(ns, 'ns');
  return withNetlink(ns, (sock) => {
    const byIndex = new Map(dumpLinks(sock, ns).map((l) => [l.index, l.name]));
    const r = native().nlAddresses(sock);
    if (typeof r === 'number') {
      netlinkCheck(r, 'RTM_GETADDR', ns);
      return [];
    }
    return r.map((a) => ({
      link: byIndex.get(a.index) ?? '',
      index: a.index,
      family: a.family,
      address: a.address,
      prefixLength: a.prefixLength,
      cidr: `${a.address}/${a.prefixLength}`,
    }));
  });
}

// --- addresses and routes ------------------------------------------------------

function address(sock: number, ns: Namespace, add: boolean, name: string, c: Cidr): void {
  const r = native().nlAddress(sock, add, name, family(c.family), c.address, c.prefixLength);
  const step = `${add ? 'RTM_NEWADDR' : 'RTM_DELADDR'} ${c.address}/${c.prefixLength} dev ${name}`;
  if (r === -17) throw new NsError({ errno: r, syscall: 'netlink', step, hint: `${c.address}/${c.prefixLength} is already on ${name} in ${ns}` });
  netlinkCheck(r, step, ns, name);
}

/**
 * Adds an address (`'169.254.1.1/30'`, `'2001:db8::1/64'`) to link `name`.
 * IPv6 addresses skip duplicate-address detection, so they work at once.
 */
export function addAddress(ns: Namespace, name: string, cidr: string): void {
  netns(ns, 'ns');
  linkName(name, 'name');
  const c = cidrArg(cidr, 'cidr');
  withNetlink(ns, (sock) => address(sock, ns, true, name, c));
}

/** Removes an address from link `name`. */
export function deleteAddress(ns: Namespace, name: string, cidr: string): void {
  netns(ns, 'ns');
  linkName(name, 'name');
  const c = cidrArg(cidr, 'cidr');
  withNetlink(ns, (sock) => address(sock, ns, false, name, c));
}

/** A route in the main table: to `'default'` or a CIDR, via a gateway and/or out of a link. */
export interface Route {
  /** `'default'` (the default) or a destination CIDR such as `'169.254.2.0/24'`. */
  to?: string;
  /** The gateway's address. */
  via?: string;
  /** The outgoing link's name. */
  dev?: string;
}

interface CheckedRoute {
  family: 4 | 6;
  dst: Cidr | null;
  via: string | null;
  dev: string | null;
  text: string;
}

function route(value: unknown): CheckedRoute {
  const r = options(value, 'route', ['to', 'via', 'dev']);
  if (value === undefined) throw invalidArgType('route', 'of type object', value);
  const to = r.to ?? 'default';
  const dst = to === 'default' ? null : cidrArg(to, 'route.to');
  const via = r.via === undefined ? null : ipAddress(r.via, 'route.via');
  const dev = r.dev === undefined ? null : linkName(r.dev, 'route.dev');
  if (!via && !dev) throw invalidArgValue('route', value, "needs 'via' (a gateway) or 'dev' (a link)");
  if (dst && via && dst.family !== via.family)
    throw invalidArgValue('route.via', r.via, `must be an IPv${dst.family} address like route.to`);
  const fam = dst?.family ?? via?.family;
  if (!fam) throw invalidArgValue('route', value, "needs 'to' (a CIDR) or 'via' to tell IPv4 from IPv6");
  const text = [dst ? `${dst.address}/${dst.prefixLength}` : 'default', via && `via ${via.address}`, dev && `dev ${dev}`]
    .filter(Boolean)
    .join(' ');
  return { family: fam, dst, via: via?.address ?? null, dev, text };
}

function changeRoute(ns: Namespace, add: boolean, r: CheckedRoute): void {
  withNetlink(ns, (sock) => {
    const res = native().nlRoute(sock, add, family(r.family), r.dst?.address ?? null, r.dst?.prefixLength ?? 0, r.via, r.dev);
    netlinkCheck(res, `${add ? 'RTM_NEWROUTE' : 'RTM_DELROUTE'} ${r.text}`, ns, r.dev ?? undefined);
  });
}

/** Adds a route (`{ to: 'default', via: '169.254.1.1' }`). */
export function addRoute(ns: Namespace, route_: Route): void {
  netns(ns, 'ns');
  changeRoute(ns, true, route(route_));
}

/** Deletes a route given as to `addRoute`. */
export function deleteRoute(ns: Namespace, route_: Route): void {
  netns(ns, 'ns');
  changeRoute(ns, false, route(route_));
}

// --- veth pairs ------------------------------------------------------------------

/** One end of a veth pair. */
export interface VethEnd {
  /** The net namespace this end lives in. */
  namespace: Namespace;
  /** Its name; default `nsjs` and 8 random hex digits. */
  name?: string;
  /** CIDR address(es) for this end, IPv4 and/or IPv6. */
  address?: string | string[];
}

/** Options of {@link createVeth}. */
export interface CreateVethOptions {
  /** MTU of both ends (68-65535); the kernel's default (1500) otherwise. */
  mtu?: number;
}

function vethEnd(value: unknown, name: string) {
  const end = options(value, name, ['namespace', 'name', 'address']);
  if (value === undefined) throw invalidArgType(name, 'of type object', value);
  return {
    ns: netns(end.namespace, `${name}.namespace`),
    name: end.name === undefined ? defaultLinkName() : linkName(end.name, `${name}.name`),
    addresses: cidrList(end.address, `${name}.address`),
  };
}

/**
 * Creates a veth pair between two net namespaces (or within one): end `a`
 * in `a.namespace`, its peer created directly in `b.namespace`; both ends up
 * and addressed. Returns the two names. One kernel request creates both
 * ends or neither; if a later step fails the pair is deleted again, so a
 * failed call leaves no link behind.
 */
export function createVeth(a: VethEnd, b: VethEnd, options_?: CreateVethOptions): {
  /** The name of end `a`. */
  a: string;
  /** The name of end `b`. */
  b: string;
} {
  const A = vethEnd(a, 'a');
  const B = vethEnd(b, 'b');
  const opts = options(options_, 'options', ['mtu']);
  const mtu = opts.mtu === undefined ? -1 : mtuArg(opts.mtu, 'options.mtu');
  if (A.name === B.name && A.ns.equals(B.ns)) throw invalidArgValue('b.name', B.name, 'must differ from a.name in the same namespace');
  withNetlink(A.ns, (sockA) => {
    const step = `RTM_NEWLINK veth ${A.name}`;
    const r = native().nlCreateVeth(sockA, A.name, B.name, B.ns.fd, -1, mtu);
    if (r === -17)
      throw new NsError({ errno: r, syscall: 'netlink', step, hint: `'${A.name}' already exists in ${A.ns}, or '${B.name}' in ${B.ns}` });
    netlinkCheck(r, step, A.ns);
    try {
      const configure = (sockB: number) => {
        netlinkCheck(native().nlSetLink(sockA, A.name, 1, -1), `RTM_NEWLINK up ${A.name}`, A.ns, A.name);
        netlinkCheck(native().nlSetLink(sockB, B.name, 1, -1), `RTM_NEWLINK up ${B.name}`, B.ns, B.name);
        for (const c of A.addresses) address(sockA, A.ns, true, A.name, c);
        for (const c of B.addresses) address(sockB, B.ns, true, B.name, c);
      };
      if (A.ns.equals(B.ns)) configure(sockA);
      else withNetlink(B.ns, configure);
    } catch (err) {
      native().nlDeleteLink(sockA, A.name); // takes the peer with it
      throw err;
    }
  });
  return { a: A.name, b: B.name };
}

// --- sockets across namespaces -------------------------------------------------------

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

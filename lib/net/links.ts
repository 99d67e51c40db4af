// Links, addresses and routes of a net namespace that exists, each one
// rtnetlink request on a NETLINK_ROUTE socket made inside it (ip link, ip
// address, ip route).
import { NsError, invalidArgType, invalidArgValue } from '../core/errors';
import { native } from '../core/native';
import type { Namespace } from '../ns/namespace';
import { cidr as cidrArg, ipAddress, linkName, mtu as mtuArg, type Cidr } from './netaddr';
import { family, netlinkCheck, netns, options, withNetlink } from './netns';

const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;

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
 * @example
 * ```ts
 * import { Namespace, net } from 'nsjs';
 *
 * using ns = Namespace.of(process.pid, 'net');
 * for (const l of net.links(ns)) console.log(l.index, l.name, l.mtu);
 * ```
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

export function address(sock: number, ns: Namespace, add: boolean, name: string, c: Cidr): void {
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

function checkRoute(value: unknown): CheckedRoute {
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
export function addRoute(ns: Namespace, route: Route): void {
  netns(ns, 'ns');
  changeRoute(ns, true, checkRoute(route));
}

/** Deletes a route given as to `addRoute`. */
export function deleteRoute(ns: Namespace, route: Route): void {
  netns(ns, 'ns');
  changeRoute(ns, false, checkRoute(route));
}

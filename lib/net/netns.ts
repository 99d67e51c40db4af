// The net namespace every function of the public `net` module acts in: its
// argument check, a socket made inside it (socketIn: a short vfork-style
// child joins the namespace and calls socket(); Node's threads never move),
// the NETLINK_ROUTE socket the link functions use, and their errors.
import type * as crypto from 'node:crypto';

import { NsError, invalidArgType, invalidArgValue } from '../core/errors';
import { closeFd, native, type NativeSocketError } from '../core/native';
import { knownKeys, plainObject } from '../core/validate';
import { Namespace } from '../ns/namespace';

const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const NETLINK_ROUTE = 0;
const EBADF = -9;

export const family = (f: 4 | 6) => (f === 4 ? AF_INET : AF_INET6);

export function netns(value: unknown, name: string): Namespace {
  if (!(value instanceof Namespace)) throw invalidArgType(name, 'an instance of Namespace', value);
  if (value.type !== 'net') throw invalidArgValue(name, value.toString(), `must be a net namespace, not ${value.type}`);
  if (value.fd < 0) throw new NsError({ errno: EBADF, syscall: 'setns', hint: `the Namespace passed as "${name}" was closed` });
  return value;
}

export function options(value: unknown, name: string, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  const obj = plainObject(value, name);
  knownKeys(obj, known, name);
  return obj;
}

/** `nsjs` and 8 random hex digits: 12 bytes, inside the kernel's 15. */
export function defaultLinkName(): string {
  // node:crypto on first use: every spawn loads this file, few name a link.
  return `nsjs${(require('node:crypto') as typeof crypto).randomBytes(4).toString('hex')}`;
}

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

export function netlinkCheck(r: number, step: string, ns: Namespace, link?: string): void {
  if (r < 0) throw new NsError({ errno: r, syscall: 'netlink', step, hint: netlinkHint(r, ns, link) });
}

export function socketError(e: NativeSocketError, ns: Namespace, step: string): NsError {
  let hint: string | undefined;
  if (e.syscall === 'setns' && e.errno === -1)
    hint =
      `entering ${ns} needs CAP_SYS_ADMIN over the user namespace that owns it; an ordinary user can ` +
      'reach only net namespaces created inside a user namespace it owns';
  return new NsError({ errno: e.errno, syscall: e.syscall, step, hint });
}

/** A socket of ours whose network is `ns`'s. */
export function socketIn(ns: Namespace, domain: number, type: number, protocol: number, step: string): number {
  const r = native().socketIn(ns.fd, domain, type, protocol);
  if (typeof r !== 'number') throw socketError(r, ns, step);
  if (r < 0) throw socketError({ errno: r, syscall: 'socket' }, ns, step);
  return r;
}

/** Runs `fn` with a NETLINK_ROUTE socket in `ns`, closed afterwards. */
export function withNetlink<T>(ns: Namespace, fn: (sock: number) => T): T {
  const sock = socketIn(ns, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, `netlink socket in ${ns}`);
  try {
    return fn(sock);
  } finally {
    closeFd(sock);
  }
}

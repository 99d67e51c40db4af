// Checks for network arguments, shared by the public net module and the
// `network` option of a spawn: link names as the kernel accepts them, CIDR addresses, IP
// literals, ports. Each throws ERR_INVALID_ARG_* naming the argument, before
// any syscall.
import { isIP } from 'node:net';

import { invalidArgType, invalidArgValue } from '../core/errors';
import { integer } from '../core/validate';

/** The kernel's limit on a link name, without its NUL (IFNAMSIZ - 1). */
export const MAX_LINK_NAME = 15;

/** A link name the kernel would accept (dev_valid_name): 1-15 bytes, no '/', ':' or whitespace, not '.' or '..'. */
export function linkName(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (value.length === 0) throw invalidArgValue(name, value, 'must not be empty');
  if (Buffer.byteLength(value) > MAX_LINK_NAME)
    throw invalidArgValue(name, value, `must be at most ${MAX_LINK_NAME} bytes (the kernel's IFNAMSIZ)`);
  if (value === '.' || value === '..') throw invalidArgValue(name, value, "must not be '.' or '..'");
  if (/[/:\s\0]/.test(value)) throw invalidArgValue(name, value, "must not contain '/', ':', whitespace or null bytes");
  return value;
}

export interface Cidr {
  family: 4 | 6;
  address: string;
  prefixLength: number;
}

/**
 * The family of an IP literal, or 0. isIP also takes an IPv6 zone index
 * ('fe80::1%eth0'), which the addon's inet_pton refuses; and a link name
 * would have to be looked up in the target namespace, not ours.
 */
function ipFamily(address: string, value: unknown, name: string): number {
  if (address.includes('%')) throw invalidArgValue(name, value, "must not have an IPv6 zone index ('%eth0'): no scope id is passed to the kernel, so use an address that needs none");
  return isIP(address);
}

/** `'169.254.1.1/30'` or `'2001:db8::1/64'`; the prefix length is required. */
export function cidr(value: unknown, name: string): Cidr {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  const slash = value.lastIndexOf('/');
  const address = slash < 0 ? value : value.slice(0, slash);
  const family = ipFamily(address, value, name);
  if (slash < 0 || family === 0)
    throw invalidArgValue(name, value, "must be an address with a prefix length, like '169.254.1.1/30' or '2001:db8::1/64'");
  const prefix = value.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max)
    throw invalidArgValue(name, value, `must have a prefix length from 0 to ${max}`);
  return { family: family as 4 | 6, address, prefixLength: Number(prefix) };
}

/** One CIDR or an array of them. */
export function cidrList(value: unknown, name: string): Cidr[] {
  if (value === undefined) return [];
  // Array.from, not map: a hole is checked (and refused) as undefined, not skipped.
  if (Array.isArray(value)) return Array.from(value, (v: unknown, i) => cidr(v, `${name}[${i}]`));
  return [cidr(value, name)];
}

/**
 * An IP literal. Host names are refused rather than resolved: resolving
 * would ask our namespace's resolver about another namespace's network.
 */
export function ipAddress(value: unknown, name: string): { family: 4 | 6; address: string } {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  const family = ipFamily(value, value, name);
  if (family === 0) throw invalidArgValue(name, value, "must be an IPv4 or IPv6 address (host names are not resolved)");
  return { family: family as 4 | 6, address: value };
}

export function port(value: unknown, name: string, min = 0): number {
  return integer(value, name, min, 65535);
}

/** A veth or other link MTU: 68 (the IPv4 minimum) to 65535. */
export function mtu(value: unknown, name: string): number {
  return integer(value, name, 68, 65535);
}

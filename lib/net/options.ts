// The network of a spawn's new net namespace: the `network` option (lo, a
// veth pair to the host), its validation here, its ops in plan.ts. The
// veth's host end is made by the parent (src-native/spawn/parent.cc), the
// rest by the child over rtnetlink (src-native/net/netlink.cc).
import { randomBytes } from 'node:crypto';

import { invalidArgValue } from '../core/errors';
import type { NamespaceType } from '../core/nstypes';
import { bool, knownKeys, needs, plainObject, record } from '../core/validate';
import { cidrList, linkName, mtu, type Cidr } from './netaddr';

/**
 * A veth pair between the namespace the spawner is in and the sandbox's new
 * net namespace. Addresses are CIDR strings (IPv4 or IPv6; IPv6 without
 * duplicate-address detection, so usable at once). The pair goes away with
 * the sandbox's namespace; a failed spawn leaves no link behind. Needs
 * CAP_NET_ADMIN in our network namespace (root): an unprivileged user cannot
 * add a link to the host.
 */
export interface VethOptions {
  /** Name of the host end; default a unique `nsjs` + 8 hex digits. */
  hostName?: string;
  /** Name of the sandbox end; default `'eth0'`. */
  name?: string;
  /** Address(es) of the host end, e.g. `'169.254.1.1/30'`. */
  hostAddress?: string | string[];
  /** Address(es) of the sandbox end, e.g. `'169.254.1.2/30'`. */
  address?: string | string[];
  /** Add a default route inside via the host end's address of each family that both ends have an address of (at least one). */
  gateway?: boolean;
  /** MTU of both ends. */
  mtu?: number;
}

/**
 * Networking of a new net namespace (needs `'net'` in `namespaces`). Made
 * through rtnetlink in the child and, for the veth's host end, in the
 * spawner: no `ip` process. Costs one netlink round trip per link, address
 * and route; a veth also makes the child wait until the parent has made
 * the pair (a fork-style clone instead of vfork-style).
 */
export interface NetworkOptions {
  /** Bring `lo` up in the new net namespace; default `true`. */
  loopback?: boolean;
  /** A veth pair to the host side. */
  veth?: VethOptions;
}

/** @internal The options of {@link SpawnOptions} that net/ owns. */
export interface NetSpawnOptions {
  /** For a new net namespace: `lo` (up by default) and an optional veth pair (see {@link VethOptions}). */
  network?: NetworkOptions;
}

export interface CheckedVeth {
  hostName: string;
  name: string;
  hostAddresses: Cidr[];
  addresses: Cidr[];
  gateway: boolean;
  mtu?: number;
}

function veth(value: unknown): CheckedVeth {
  const v = plainObject(value, 'options.network.veth');
  knownKeys(v, ['hostName', 'name', 'hostAddress', 'address', 'gateway', 'mtu'], 'options.network.veth');
  const checked: CheckedVeth = {
    hostName: v.hostName === undefined ? `nsjs${randomBytes(4).toString('hex')}` : linkName(v.hostName, 'options.network.veth.hostName'),
    name: v.name === undefined ? 'eth0' : linkName(v.name, 'options.network.veth.name'),
    hostAddresses: cidrList(v.hostAddress, 'options.network.veth.hostAddress'),
    addresses: cidrList(v.address, 'options.network.veth.address'),
    gateway: v.gateway === undefined ? false : bool(v.gateway, 'options.network.veth.gateway'),
    mtu: v.mtu === undefined ? undefined : mtu(v.mtu, 'options.network.veth.mtu'),
  };
  // The kernel takes a gateway only on a subnet of the sandbox end, so a family that end has no address of cannot be routed.
  if (checked.gateway && !checked.hostAddresses.some((h) => checked.addresses.some((a) => a.family === h.family)))
    throw invalidArgValue(
      'options.network.veth.gateway',
      true,
      'needs an address of one family (IPv4 or IPv6) on both ends: options.network.veth.hostAddress to route via, and options.network.veth.address to reach it from',
    );
  return checked;
}

/** net/'s part of the checked options. */
export interface NetChecked {
  /** Set when a new net namespace is made: whether lo goes up, and the veth. */
  network?: { loopback: boolean; veth?: CheckedVeth };
}

/** `network`, which needs a new net namespace; `joins`: the spawn enters namespaces first (options.join), which a veth cannot follow yet. */
export function checkNetOptions(o: Readonly<Record<string, unknown>>, namespaces: ReadonlySet<NamespaceType>, joins: boolean): NetChecked {
  needs(o, 'network', namespaces, 'net');
  if (!namespaces.has('net')) return {};
  const n = o.network === undefined ? record({} as Record<string, unknown>) : plainObject(o.network, 'options.network');
  knownKeys(n, ['loopback', 'veth'], 'options.network');
  const network = record<NonNullable<NetChecked['network']>>({ loopback: n.loopback === undefined ? true : bool(n.loopback, 'options.network.loopback') });
  if (n.veth !== undefined) {
    if (joins) throw invalidArgValue('options.network.veth', n.veth, 'cannot be combined with options.join yet');
    network.veth = veth(n.veth);
  }
  return { network };
}

// The network of a spawn's new net namespace: the `network` option (lo, a
// veth pair to the host), its validation here, its ops in plan.ts. The
// veth's host end is made by the child through a socket of the parent's
// where the child has no user namespace of its own, by the parent
// (src-native/spawn/parent.cc) otherwise; the rest by the child over
// rtnetlink (src-native/net/netlink.cc).
import { invalidArgValue } from '../core/errors';
import type { NamespaceType } from '../core/nstypes';
import { bool, knownKeys, needs, plainObject, record } from '../core/validate';
import type { Namespace } from '../ns/namespace';
import { cidrList, linkName, mtu, type Cidr } from './netaddr';
import { checkEgress, type CheckedEgress, type EgressConnection } from './egress';
import { defaultLinkName, netns } from './netns';

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
  /**
   * Enslave the host end to this bridge (see `net.createBridge`), in our
   * namespace (a name) or in `namespace` (which then holds the host end):
   * many sandboxes on one LAN. The sandboxes reach each other and the
   * bridge's own addresses, nothing else unless that namespace routes; a
   * program inside can send any frame onto the LAN (ARP or address spoofing
   * of its neighbours), as on any shared Ethernet. With a namespace, this
   * works rootless too: a bridge in a user+net namespace of ours, and
   * sandboxes with user namespaces of their own (a rootless LAN). Costs no
   * more netlink round trips where the child makes the pair (enslaved in
   * the same request), one more otherwise. Refuses `hostAddress`; `gateway`
   * routes via the bridge's addresses.
   */
  bridge?: string | { namespace: Namespace; name: string };
}

/**
 * Networking of a new net namespace (needs `'net'` in `namespaces`). Made
 * through rtnetlink, no `ip` process. Costs one netlink round trip per
 * sandbox-side link, address and route. A veth costs one request for the
 * pair (host end up, and on its bridge, at once) and one for all the host
 * end's addresses; the kernel's registration of the two devices (sysfs,
 * sysctl, IPv6) is most of it, about 0.3 ms (bench/RESULTS.md, "veth").
 * Without a user namespace of its own the child makes the pair itself
 * through a netlink socket of ours it holds until execve (it has
 * CAP_NET_ADMIN in our namespace anyway); with one, the parent makes it
 * while the child waits, a fork-style clone instead of vfork-style (a copy
 * of Node's page tables: about 1 ms more, growing with Node's heap).
 */
export interface NetworkOptions {
  /** Bring `lo` up in the new net namespace; default `true`. */
  loopback?: boolean;
  /** A veth pair to the host side. */
  veth?: VethOptions;
  /**
   * No network but an egress proxy: the sandbox keeps only `lo`, and on its
   * 127.0.0.1:3128 a proxy (HTTP `CONNECT` and absolute-URI requests, and
   * SOCKS5 `CONNECT`, on the same port) whose connections Node makes in our
   * namespace, only to `allow`'s `host:port` patterns: a DNS name,
   * `*.suffix` (its subdomains), an IPv4 literal, a bracketed IPv6 literal
   * or `*`; the port a number or `*`. Names are resolved by Node here, once
   * per connection, and the connection goes to that address; a host the
   * sandbox names as a number that is not a plain IP literal (`127.1`) is
   * refused. The command's env gets `HTTP_PROXY`, `HTTPS_PROXY` (http://)
   * and `ALL_PROXY` (socks5h://), upper and lower case, over `env`'s.
   * Refused: HTTP 403, SOCKS5 reply 2, and nothing leaves.
   *
   * Needs `'user'` in `namespaces`: a process with CAP_SYS_ADMIN or
   * CAP_NET_ADMIN in our own user namespace could join our network or
   * move a link into its own. Inside its user namespace a hostile program
   * may hold every capability and still reach only `lo`: raw sockets,
   * routes, addresses and new links all stay in its namespace. What it can
   * do: reach the allowed destinations (and, through an allowed name, any
   * address that name's DNS answers with), hold up to 512 proxied
   * connections at once, and use any Unix socket of the filesystem it can
   * see (hide them with a mount namespace and `root`/`mounts`).
   * Costs one socket made in the sandbox's namespace at spawn (the child
   * waits for it) and a copy through Node of every proxied byte.
   */
  egress?: {
    allow: string[];
    /** Called for every connection the sandbox asks for, allowed or refused (see {@link EgressConnection}). */
    onConnection?: (connection: EgressConnection) => void;
  };
}

/** The options of {@link SpawnOptions} that net/ owns (SpawnOptions extends it). */
export interface NetSpawnOptions {
  /** For a new net namespace: `lo` (up by default) and an optional veth pair (see {@link VethOptions}). */
  network?: NetworkOptions;
}

export interface CheckedVeth {
  /** The bridge the host end joins, and the namespace it is in (undefined: ours). */
  bridge?: { name: string; namespace?: Namespace };
  hostName: string;
  name: string;
  hostAddresses: Cidr[];
  addresses: Cidr[];
  gateway: boolean;
  mtu?: number;
}

function veth(value: unknown): CheckedVeth {
  const v = plainObject(value, 'options.network.veth');
  knownKeys(v, ['hostName', 'name', 'hostAddress', 'address', 'gateway', 'mtu', 'bridge'], 'options.network.veth');
  const checked: CheckedVeth = {
    hostName: v.hostName === undefined ? defaultLinkName() : linkName(v.hostName, 'options.network.veth.hostName'),
    name: v.name === undefined ? 'eth0' : linkName(v.name, 'options.network.veth.name'),
    hostAddresses: cidrList(v.hostAddress, 'options.network.veth.hostAddress'),
    addresses: cidrList(v.address, 'options.network.veth.address'),
    gateway: v.gateway === undefined ? false : bool(v.gateway, 'options.network.veth.gateway'),
    mtu: v.mtu === undefined ? undefined : mtu(v.mtu, 'options.network.veth.mtu'),
  };
  if (v.bridge !== undefined) {
    checked.bridge = bridge(v.bridge);
    if (checked.hostAddresses.length > 0)
      throw invalidArgValue('options.network.veth.hostAddress', v.hostAddress, 'cannot be combined with options.network.veth.bridge: the bridge carries the address');
    // Which families the bridge can route is known only once it is looked up (planNetwork).
    return checked;
  }
  // The kernel takes a gateway only on a subnet of the sandbox end, so a family that end has no address of cannot be routed.
  if (checked.gateway && !checked.hostAddresses.some((h) => checked.addresses.some((a) => a.family === h.family)))
    throw invalidArgValue(
      'options.network.veth.gateway',
      true,
      'needs an address of one family (IPv4 or IPv6) on both ends: options.network.veth.hostAddress to route via, and options.network.veth.address to reach it from',
    );
  return checked;
}

function bridge(value: unknown): NonNullable<CheckedVeth['bridge']> {
  if (typeof value === 'string') return { name: linkName(value, 'options.network.veth.bridge') };
  const b = plainObject(value, 'options.network.veth.bridge');
  knownKeys(b, ['namespace', 'name'], 'options.network.veth.bridge');
  return { name: linkName(b.name, 'options.network.veth.bridge.name'), namespace: netns(b.namespace, 'options.network.veth.bridge.namespace') };
}

/** net/'s part of the checked options. */
export interface NetChecked {
  /** Set when a new net namespace is made: whether lo goes up, and the veth. */
  network?: { loopback: boolean; veth?: CheckedVeth; egress?: CheckedEgress };
}

/** `network`, which needs a new net namespace; `joins`: the spawn enters namespaces first (options.join), which a veth cannot follow yet. */
export function checkNetOptions(o: Readonly<Record<string, unknown>>, namespaces: ReadonlySet<NamespaceType>, joins: boolean): NetChecked {
  needs(o, 'network', namespaces, 'net');
  if (!namespaces.has('net')) return {};
  const n = o.network === undefined ? record({} as Record<string, unknown>) : plainObject(o.network, 'options.network');
  knownKeys(n, ['loopback', 'veth', 'egress'], 'options.network');
  const network = record<NonNullable<NetChecked['network']>>({ loopback: n.loopback === undefined ? true : bool(n.loopback, 'options.network.loopback') });
  if (n.veth !== undefined) {
    if (joins) throw invalidArgValue('options.network.veth', n.veth, 'cannot be combined with options.join yet');
    network.veth = veth(n.veth);
  }
  if (n.egress !== undefined) {
    network.egress = checkEgress(n.egress);
    const refuse = (why: string) => invalidArgValue('options.network.egress', n.egress, why);
    if (network.veth) throw refuse('cannot be combined with options.network.veth: the sandbox gets only lo');
    if (!network.loopback) throw refuse('needs lo: cannot be combined with options.network.loopback false');
    if (joins) throw refuse('cannot be combined with options.join');
    if (!namespaces.has('user'))
      throw refuse("needs 'user' in options.namespaces: with CAP_SYS_ADMIN or CAP_NET_ADMIN in our user namespace the command could join our network or move a link into its own");
  }
  return { network };
}

// Bridges (brctl addbr / ip link add type bridge) and links moved between
// namespaces (ip link set dev X netns Y), each on a netlink socket made
// inside the namespace acted in.
import { invalidArgType } from '../core/errors';
import { native } from '../core/native';
import type { Namespace } from '../ns/namespace';
import { address } from './links';
import { cidrList, linkName } from './netaddr';
import { netlinkCheck, netns, options as ownOptions, withNetlink } from './netns';

/** Options of {@link createBridge}. */
export interface CreateBridgeOptions {
  /** The bridge's name (1-15 bytes). */
  name: string;
  /** CIDR address(es) of the bridge itself (the LAN's gateway, if any), IPv4 and/or IPv6. */
  address?: string | string[];
}

/**
 * Creates a bridge in `ns`, already up, with its addresses: the LAN that
 * veth ends join (`network.veth.bridge`, or `bridge` of a {@link VethEnd}).
 * Needs CAP_NET_ADMIN over `ns`'s user namespace: root, or a namespace made
 * inside a user namespace of ours (a rootless LAN). A failure after the
 * bridge exists deletes it again. Remove it with `deleteLink`; its ports
 * stay, freed from it.
 * @example A LAN of sandboxes, rootless: a bridge in a holder namespace
 * ```ts
 * import { Namespace, net, spawnIsolated } from 'nsjs';
 *
 * using lan = await Namespace.create(['user', 'net']);
 * net.createBridge(lan, { name: 'br0', address: ['169.254.1.1/24'] });
 * const p = await spawnIsolated('sleep', ['60'], {
 *   namespaces: ['user', 'net'],
 *   network: { veth: { bridge: { namespace: lan, name: 'br0' }, address: '169.254.1.2/24' } },
 * });
 * ```
 */
export function createBridge(ns: Namespace, options: CreateBridgeOptions): void {
  netns(ns, 'ns');
  if (options === undefined) throw invalidArgType('options', 'of type object', options);
  const opts = ownOptions(options, 'options', ['name', 'address']);
  const name = linkName(opts.name, 'options.name');
  const addrs = cidrList(opts.address, 'options.address');
  withNetlink(ns, (sock) => {
    netlinkCheck(native().nlCreateBridge(sock, name), `RTM_NEWLINK bridge ${name}`, ns, name);
    try {
      for (const c of addrs) address(sock, ns, true, name, c);
    } catch (err) {
      native().nlDeleteLink(sock, name);
      throw err;
    }
  });
}

/**
 * Moves link `name` of `ns` into `target` (`ip link set NAME netns`): an
 * existing interface handed to a sandbox. The kernel drops its addresses
 * and takes it down on the way. Needs CAP_NET_ADMIN over both namespaces'
 * user namespaces; a program inside `target` with CAP_NET_ADMIN there can
 * then do anything with the link, including moving it on to a namespace
 * it administers.
 */
export function moveLink(ns: Namespace, name: string, target: Namespace): void {
  netns(ns, 'ns');
  linkName(name, 'name');
  netns(target, 'target');
  withNetlink(ns, (sock) => netlinkCheck(native().nlMoveLink(sock, name, target.fd), `RTM_NEWLINK ${name} netns ${target}`, ns, name));
}

/** Enslaves `link` to `bridge` on an open netlink socket of `ns`. */
export function setMaster(sock: number, ns: Namespace, link: string, bridge: string): void {
  netlinkCheck(native().nlSetMaster(sock, link, bridge), `RTM_NEWLINK master ${bridge} dev ${link}`, ns, bridge);
}

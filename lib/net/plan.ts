// The ops of the `network` option: lo up in the new net namespace, and the
// sandbox end of a veth pair, addressed and routed (src-native/net/netlink.cc
// in the child).
import { SharedOp, type Add, type NativePlan } from '../core/plan';
import { invalidArgValue } from '../core/errors';
import { Namespace } from '../ns/namespace';
import { EGRESS_PORT, egressEnv } from './egress';
import { addresses } from './links';
import type { CheckedVeth, NetChecked } from './options';

/** net/'s ops (OpKind in src-native/spawn/plan.h). */
export const NetOp = {
  LinkUp: 30,
  AddAddress: 31,
  DefaultRoute: 32,
  VethCreate: 112,
  VethHostAddresses: 113,
} as const;

/**
 * lo up, and the sandbox end of the veth: the pair is made once we exist
 * (the host end in the caller's namespace, ours created directly in ours),
 * then ours is brought up with its addresses and routes. `inChild` (no user
 * namespace of our own, so we hold CAP_NET_ADMIN in the caller's): we make
 * the pair ourselves through a netlink socket the parent opened, the host
 * end up and on its bridge in the same request and its addresses in one
 * more, and the parent need not wait for us (a vfork-style clone, no copy of
 * Node's page tables: most of what a veth cost). Otherwise the parent makes
 * it while we wait.
 */
export function planNetwork(network: NonNullable<NetChecked['network']>, native: NativePlan, add: Add, inChild: boolean): void {
  if (network.loopback) add({ kind: NetOp.LinkUp, s: ['lo'] }, { step: 'RTM_NEWLINK up lo', syscall: 'netlink' });
  if (network.egress) {
    native.proxy = { port: EGRESS_PORT };
    // The command's env is the caller's (or ours) with the proxy's over it.
    const proxyEnv = egressEnv();
    const keys = new Set(proxyEnv.map(([k]) => k));
    const base = native.envp ?? Object.entries(process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    native.envp = [...base.filter((e) => !keys.has(e.slice(0, e.indexOf('=')))), ...proxyEnv.map(([k, v]) => `${k}=${v}`)];
    if (!native.parentMaps) add({ kind: SharedOp.WaitParent }, { step: 'wait for the egress proxy', syscall: 'read' });
  }
  const v = network.veth;
  if (!v) return;
  native.veth = {
    host: v.hostName,
    peer: v.name,
    mtu: v.mtu,
    hostAddresses: v.hostAddresses.map((a) => ({ family: FAMILY[a.family], address: a.address, prefix: a.prefixLength })),
    ...(v.bridge ? { bridge: v.bridge.name, ...(v.bridge.namespace ? { netnsFd: v.bridge.namespace.fd } : {}) } : {}),
    inChild,
  };
  // With a bridge, the gateways are its addresses.
  const vias = v.bridge ? bridgeAddresses(v.bridge) : v.hostAddresses;
  if (inChild) {
    add({ kind: NetOp.VethCreate }, { step: `RTM_NEWLINK veth ${v.hostName}`, syscall: 'netlink' });
    if (v.hostAddresses.length > 0) add({ kind: NetOp.VethHostAddresses }, { step: `RTM_NEWADDR dev ${v.hostName}`, syscall: 'netlink' });
  } else if (!native.parentMaps) add({ kind: SharedOp.WaitParent }, { step: `wait for veth ${v.hostName}`, syscall: 'read' });
  add({ kind: NetOp.LinkUp, s: [v.name] }, { step: `RTM_NEWLINK up ${v.name}`, syscall: 'netlink' });
  for (const a of v.addresses) {
    add(
      { kind: NetOp.AddAddress, s: [v.name], a: FAMILY[a.family], b: a.prefixLength, addr: a.address },
      { step: `RTM_NEWADDR ${a.address}/${a.prefixLength} dev ${v.name}`, syscall: 'netlink' },
    );
  }
  if (v.gateway) {
    if (!vias.some((h) => v.addresses.some((a) => a.family === h.family)))
      throw invalidArgValue('options.network.veth.gateway', true, `needs an address of one family on bridge '${v.bridge?.name}' and in options.network.veth.address`);
    for (const family of [4, 6] as const) {
      const via = vias.find((a) => a.family === family);
      // Without an address of its family here the gateway is unreachable (EHOSTUNREACH); checkOptions made sure one family has both.
      if (via && v.addresses.some((a) => a.family === family)) add({ kind: NetOp.DefaultRoute, a: FAMILY[family], addr: via.address }, { step: `RTM_NEWROUTE default via ${via.address}`, syscall: 'netlink' });
    }
  }
}

const FAMILY = { 4: 2, 6: 10 } as const; // AF_INET, AF_INET6

function bridgeAddresses(b: NonNullable<CheckedVeth['bridge']>): { family: 4 | 6; address: string }[] {
  const ns = b.namespace ?? Namespace.current('net');
  try {
    return addresses(ns).filter((a) => a.link === b.name && !(a.family === 6 && a.address.startsWith('fe80:')));
  } finally {
    if (ns !== b.namespace) ns.close();
  }
}

// The ops of the `network` option: lo up in the new net namespace, and the
// sandbox end of a veth pair, addressed and routed (src-native/net/netlink.cc
// in the child).
import { SharedOp, type Add, type NativePlan } from '../core/plan';
import type { NetChecked } from './options';

/** net/'s ops (OpKind in src-native/spawn/plan.h). */
export const NetOp = {
  LinkUp: 30,
  AddAddress: 31,
  DefaultRoute: 32,
} as const;

/**
 * lo up, and the sandbox end of the veth: the parent makes the pair once we
 * exist (its end in its namespace, ours created directly in ours), so we
 * wait for it, then bring ours up with its addresses and routes.
 */
export function planNetwork(network: NonNullable<NetChecked['network']>, native: NativePlan, add: Add): void {
  if (network.loopback) add({ kind: NetOp.LinkUp, s: ['lo'] }, { step: 'RTM_NEWLINK up lo', syscall: 'netlink' });
  const v = network.veth;
  if (!v) return;
  native.veth = {
    host: v.hostName,
    peer: v.name,
    mtu: v.mtu,
    hostAddresses: v.hostAddresses.map((a) => ({ family: FAMILY[a.family], address: a.address, prefix: a.prefixLength })),
  };
  if (!native.parentMaps) add({ kind: SharedOp.WaitParent }, { step: `wait for veth ${v.hostName}`, syscall: 'read' });
  add({ kind: NetOp.LinkUp, s: [v.name] }, { step: `RTM_NEWLINK up ${v.name}`, syscall: 'netlink' });
  for (const a of v.addresses) {
    add(
      { kind: NetOp.AddAddress, s: [v.name], a: FAMILY[a.family], b: a.prefixLength, addr: a.address },
      { step: `RTM_NEWADDR ${a.address}/${a.prefixLength} dev ${v.name}`, syscall: 'netlink' },
    );
  }
  if (v.gateway) {
    for (const family of [4, 6] as const) {
      const via = v.hostAddresses.find((a) => a.family === family);
      // Without an address of its family here the gateway is unreachable (EHOSTUNREACH); checkOptions made sure one family has both.
      if (via && v.addresses.some((a) => a.family === family)) add({ kind: NetOp.DefaultRoute, a: FAMILY[family], addr: via.address }, { step: `RTM_NEWROUTE default via ${via.address}`, syscall: 'netlink' });
    }
  }
}

const FAMILY = { 4: 2, 6: 10 } as const; // AF_INET, AF_INET6

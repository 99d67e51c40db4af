// Veth pairs between two net namespaces that exist (or within one): one
// kernel request makes both ends, and a failure after it deletes the pair.
import { NsError, invalidArgType, invalidArgValue } from '../core/errors';
import { native } from '../core/native';
import type { Namespace } from '../ns/namespace';
import { setMaster } from './bridge';
import { address } from './links';
import { cidrList, linkName, mtu as mtuArg } from './netaddr';
import { defaultLinkName, netlinkCheck, netns, options as ownOptions, withNetlink } from './netns';

/** One end of a veth pair. */
export interface VethEnd {
  /** The net namespace this end lives in. */
  namespace: Namespace;
  /** Its name; default `nsjs` and 8 random hex digits. */
  name?: string;
  /** CIDR address(es) for this end, IPv4 and/or IPv6. */
  address?: string | string[];
  /** A bridge of `namespace` (see `createBridge`) this end is enslaved to: how a rootless LAN joins its sandboxes. */
  bridge?: string;
}

/** Options of {@link createVeth}. */
export interface CreateVethOptions {
  /** MTU of both ends (68-65535); the kernel's default (1500) otherwise. */
  mtu?: number;
}

function vethEnd(value: unknown, name: string) {
  const end = ownOptions(value, name, ['namespace', 'name', 'address', 'bridge']);
  if (value === undefined) throw invalidArgType(name, 'of type object', value);
  return {
    ns: netns(end.namespace, `${name}.namespace`),
    name: end.name === undefined ? defaultLinkName() : linkName(end.name, `${name}.name`),
    addresses: cidrList(end.address, `${name}.address`),
    bridge: end.bridge === undefined ? undefined : linkName(end.bridge, `${name}.bridge`),
  };
}

/**
 * Creates a veth pair between two net namespaces (or within one): end `a`
 * in `a.namespace`, its peer created directly in `b.namespace`; both ends up
 * and addressed. Returns the two names. One kernel request creates both
 * ends or neither; if a later step fails the pair is deleted again, so a
 * failed call leaves no link behind.
 * @example A link between two network namespaces of ours, rootless
 * ```ts
 * import { Namespace, net } from 'nsjs';
 *
 * using a = await Namespace.create(['user', 'net']);
 * using b = await Namespace.create('net', { parent: a });
 * net.createVeth({ namespace: a, name: 'va', address: '169.254.1.1/30' }, { namespace: b, name: 'vb', address: '169.254.1.2/30' });
 * console.log(net.links(b).map((l) => l.name)); // [ 'lo', 'vb' ]
 * ```
 */
export function createVeth(a: VethEnd, b: VethEnd, options?: CreateVethOptions): {
  /** The name of end `a`. */
  a: string;
  /** The name of end `b`. */
  b: string;
} {
  const A = vethEnd(a, 'a');
  const B = vethEnd(b, 'b');
  const opts = ownOptions(options, 'options', ['mtu']);
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
        if (A.bridge !== undefined) setMaster(sockA, A.ns, A.name, A.bridge);
        if (B.bridge !== undefined) setMaster(sockB, B.ns, B.name, B.bridge);
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

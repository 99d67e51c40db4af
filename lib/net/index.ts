// net/: networking. The public `net` module (this file) works on net
// namespaces that exist: links, addresses and routes (links.ts), veth pairs
// (veth.ts) and sockets (sockets.ts), each through a socket made inside the
// namespace (netns.ts). The `network` option of a spawn is options.ts and
// plan.ts; the argument checks both use, netaddr.ts.
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
export type { Address, Link, Route } from './links';
export { linkUp, linkDown, setMtu, deleteLink, links, addresses, addAddress, deleteAddress, addRoute, deleteRoute } from './links';
export type { CreateVethOptions, VethEnd } from './veth';
export { createVeth } from './veth';
export type { ConnectOptions, ListenOptions } from './sockets';
export { listen, connect } from './sockets';

// Networking helpers against the real kernel, as root. Every link lives in
// net namespaces the test made itself (held by `unshare -n sleep`), and the
// only addresses are loopback, 169.254.0.0/16 and 2001:db8::/32.
import * as nodeNet from 'node:net';
import { once } from 'node:events';

import { Namespace, NsError, net } from '../../../lib';
import { AbortError } from '../../../lib/core/errors';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { netnsFixture, type NetnsFixture } from '../../helpers/netns';

let before: Snapshot;
let A: NetnsFixture;
let B: NetnsFixture;

beforeEach(async () => {
  before = snapshot();
  A = await netnsFixture();
  B = await netnsFixture();
});

afterEach(async () => {
  await A.dispose();
  await B.dispose();
  await expectNoLeaks(before);
});

const names = (ns: Namespace) => net.links(ns).map((l) => l.name).sort();

/** Connects from inside `ns`, then sends a message each way and checks it arrives. */
async function roundTrip(server: nodeNet.Server, ns: Namespace, host: string): Promise<{ local?: string; remotePort?: number }> {
  const { port } = server.address() as nodeNet.AddressInfo;
  // Listen before connecting: the server may accept before connect() resolves.
  const connection = once(server, 'connection');
  const client = await net.connect(ns, { host, port });
  const accepted = (await connection)[0] as nodeNet.Socket;
  const seen = { local: client.localAddress, remotePort: client.remotePort };
  client.write('ping from client');
  expect(String((await once(accepted, 'data'))[0])).toBe('ping from client');
  accepted.write('pong from server');
  expect(String((await once(client, 'data'))[0])).toBe('pong from server');
  client.destroy();
  accepted.destroy();
  await once(accepted, 'close');
  return seen;
}

async function closeServer(server: nodeNet.Server): Promise<void> {
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}

describe('createVeth between two namespaces', () => {
  test('both ends exist, are up and addressed (ip as oracle), IPv4 and IPv6', () => {
    const r = net.createVeth(
      { namespace: A.ns, name: 'va', address: ['169.254.1.1/30', '2001:db8:1::1/64'] },
      { namespace: B.ns, name: 'vb', address: ['169.254.1.2/30', '2001:db8:1::2/64'] },
      { mtu: 1400 },
    );
    expect(r).toEqual({ a: 'va', b: 'vb' });
    for (const [fx, name, v4, v6] of [
      [A, 'va', '169.254.1.1', '2001:db8:1::1'],
      [B, 'vb', '169.254.1.2', '2001:db8:1::2'],
    ] as const) {
      const link = net.links(fx.ns).find((l) => l.name === name)!;
      expect(link).toMatchObject({ kind: 'veth', up: true, mtu: 1400 });
      const oracle = fx.ip('addr', 'show', 'dev', name)[0];
      expect(oracle.mtu).toBe(1400);
      expect(oracle.flags).toContain('UP');
      const addrs = oracle.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
      expect(addrs).toEqual(expect.arrayContaining([`${v4}/30`, `${v6}/64`]));
      // IFA_F_NODAD: not tentative, usable at once.
      expect(oracle.addr_info.find((a: any) => a.local === v6).tentative).toBeUndefined();
      expect(net.addresses(fx.ns).filter((a) => a.link === name).map((a) => a.cidr)).toEqual(
        expect.arrayContaining([`${v4}/30`, `${v6}/64`]),
      );
    }
    // Only the namespaces the test made have a new link.
    expect(names(A.ns)).toEqual(['lo', 'va']);
    expect(names(B.ns)).toEqual(['lo', 'vb']);
  });

  test('default names are nsjs + hex and fit IFNAMSIZ', () => {
    const r = net.createVeth({ namespace: A.ns }, { namespace: B.ns });
    expect(r.a).toMatch(/^nsjs[0-9a-f]{8}$/);
    expect(r.b).toMatch(/^nsjs[0-9a-f]{8}$/);
    expect(names(A.ns)).toContain(r.a);
    expect(names(B.ns)).toContain(r.b);
  });

  test('TCP over the veth, IPv4: listen inside A, connect from inside B, bytes both ways', async () => {
    net.createVeth(
      { namespace: A.ns, name: 'va', address: '169.254.1.1/30' },
      { namespace: B.ns, name: 'vb', address: '169.254.1.2/30' },
    );
    const server = await net.listen(A.ns, { host: '169.254.1.1', port: 0 });
    const { port } = server.address() as nodeNet.AddressInfo;
    expect(port).toBeGreaterThan(0);
    expect(await roundTrip(server, B.ns, '169.254.1.1')).toEqual({ local: '169.254.1.2', remotePort: port });
    await closeServer(server);
  });

  test('TCP over the veth, IPv6', async () => {
    net.createVeth(
      { namespace: A.ns, name: 'va', address: '2001:db8:1::1/64' },
      { namespace: B.ns, name: 'vb', address: '2001:db8:1::2/64' },
    );
    const server = await net.listen(A.ns, { host: '2001:db8:1::1' });
    expect((server.address() as nodeNet.AddressInfo).family).toBe('IPv6');
    expect((await roundTrip(server, B.ns, '2001:db8:1::1')).local).toBe('2001:db8:1::2');
    await closeServer(server);
  });

  test('the sockets really are inside the namespace: our own 127.0.0.1 does not reach them', async () => {
    net.linkUp(A.ns, 'lo');
    const server = await net.listen(A.ns, { host: '127.0.0.1' });
    const { port } = server.address() as nodeNet.AddressInfo;
    await roundTrip(server, A.ns, '127.0.0.1');
    // The same port from B (no listener there) is refused: each namespace has its own 127.0.0.1.
    net.linkUp(B.ns, 'lo');
    await expect(net.connect(B.ns, { host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
    await closeServer(server);
  });

  test('a default route inside B via A (ip route as oracle), then deleted', () => {
    net.createVeth(
      { namespace: A.ns, name: 'va', address: ['169.254.1.1/30', '2001:db8:1::1/64'] },
      { namespace: B.ns, name: 'vb', address: ['169.254.1.2/30', '2001:db8:1::2/64'] },
    );
    net.addRoute(B.ns, { to: 'default', via: '169.254.1.1' });
    net.addRoute(B.ns, { via: '2001:db8:1::1' });
    net.addRoute(B.ns, { to: '169.254.7.0/24', dev: 'vb' });
    expect(B.ip('route', 'show', 'default')).toEqual([expect.objectContaining({ dst: 'default', gateway: '169.254.1.1', dev: 'vb' })]);
    expect(B.ip('-6', 'route', 'show', 'default')).toEqual([expect.objectContaining({ dst: 'default', gateway: '2001:db8:1::1', dev: 'vb' })]);
    expect(B.ip('route', 'show', '169.254.7.0/24')).toEqual([expect.objectContaining({ dev: 'vb', scope: 'link' })]);
    expect(() => net.addRoute(B.ns, { to: 'default', via: '169.254.1.1' })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    net.deleteRoute(B.ns, { to: 'default', via: '169.254.1.1' });
    net.deleteRoute(B.ns, { to: '169.254.7.0/24', dev: 'vb' });
    expect(B.ip('route', 'show', 'default')).toEqual([]);
    expect(B.ip('route', 'show', '169.254.7.0/24')).toEqual([]);
  });

  test('setMtu, linkDown, deleteAddress, deleteLink', () => {
    net.createVeth({ namespace: A.ns, name: 'va', address: '169.254.1.1/30' }, { namespace: B.ns, name: 'vb' });
    net.setMtu(A.ns, 'va', 1280);
    expect(A.ip('link', 'show', 'va')[0].mtu).toBe(1280);
    net.linkDown(A.ns, 'va');
    expect(net.links(A.ns).find((l) => l.name === 'va')!.up).toBe(false);
    // With one end down the other has no carrier.
    expect(net.links(B.ns).find((l) => l.name === 'vb')!.lowerUp).toBe(false);
    net.deleteAddress(A.ns, 'va', '169.254.1.1/30');
    expect(A.ip('addr', 'show', 'dev', 'va')[0].addr_info).toEqual([]);
    net.deleteLink(B.ns, 'vb'); // takes its peer in A with it
    expect(names(A.ns)).toEqual(['lo']);
    expect(names(B.ns)).toEqual(['lo']);
  });

  test('the pair goes away when a namespace dies', async () => {
    net.createVeth({ namespace: A.ns, name: 'va' }, { namespace: B.ns, name: 'vb' });
    await B.dispose();
    // Namespace teardown runs in a kernel worker, shortly after the last process exits.
    for (let i = 0; i < 200 && names(A.ns).includes('va'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(names(A.ns)).toEqual(['lo']);
    B = await netnsFixture(); // afterEach disposes it
  });
});

describe('errors', () => {
  test('EEXIST for a taken name, in either namespace, leaves no half pair', () => {
    net.createVeth({ namespace: A.ns, name: 'va' }, { namespace: B.ns, name: 'vb' });
    const beforeA = names(A.ns);
    const beforeB = names(B.ns);
    let err: NsError | undefined;
    try {
      net.createVeth({ namespace: A.ns, name: 'va2' }, { namespace: B.ns, name: 'vb' });
    } catch (e) {
      err = e as NsError;
    }
    expect(err).toBeInstanceOf(NsError);
    expect(err).toMatchObject({ code: 'EEXIST', errno: -17, syscall: 'netlink', step: 'RTM_NEWLINK veth va2' });
    expect(err!.message).toMatch(/EEXIST.*RTM_NEWLINK veth va2.*'vb'/);
    expect(() => net.createVeth({ namespace: A.ns, name: 'va' }, { namespace: B.ns, name: 'vb2' })).toThrow(
      expect.objectContaining({ code: 'EEXIST', step: 'RTM_NEWLINK veth va' }),
    );
    expect(names(A.ns)).toEqual(beforeA);
    expect(names(B.ns)).toEqual(beforeB);
  });

  test('a failure after the pair exists (duplicate address) deletes the pair again', () => {
    expect(() =>
      net.createVeth(
        { namespace: A.ns, name: 'va', address: '169.254.1.1/30' },
        { namespace: B.ns, name: 'vb', address: ['169.254.1.2/30', '169.254.1.2/30'] },
      ),
    ).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'netlink', step: 'RTM_NEWADDR 169.254.1.2/30 dev vb' }));
    expect(names(A.ns)).toEqual(['lo']);
    expect(names(B.ns)).toEqual(['lo']);
  });

  test('ENODEV for a missing link', () => {
    expect(() => net.linkUp(A.ns, 'nosuch0')).toThrow(
      expect.objectContaining({ code: 'ENODEV', syscall: 'netlink', step: 'RTM_NEWLINK up nosuch0' }),
    );
    expect(() => net.addAddress(A.ns, 'nosuch0', '169.254.1.1/30')).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    expect(() => net.deleteLink(A.ns, 'nosuch0')).toThrow(expect.objectContaining({ code: 'ENODEV', step: 'RTM_DELLINK nosuch0' }));
  });

  test('connect: refused, and a timeout that closes its socket', async () => {
    net.createVeth(
      { namespace: A.ns, name: 'va', address: '169.254.1.1/24' },
      { namespace: B.ns, name: 'vb', address: '169.254.1.2/24' },
    );
    await expect(net.connect(B.ns, { host: '169.254.1.1', port: 9 })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
      syscall: 'connect',
      step: expect.stringContaining('connect 169.254.1.1:9 in net:['),
    });
    // 169.254.1.77 is on the link but nobody answers ARP: only the timeout ends it.
    await expect(net.connect(B.ns, { host: '169.254.1.77', port: 80, timeout: 100 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    const ac = new AbortController();
    const p = net.connect(B.ns, { host: '169.254.1.77', port: 80, signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: ac.signal.reason });
    // Node's AbortError (core/errors.ts), for a signal aborted before the call too.
    await expect(net.connect(B.ns, { host: '169.254.1.77', port: 80, signal: AbortSignal.abort('stop') })).rejects.toMatchObject({
      constructor: AbortError,
      code: 'ABORT_ERR',
      cause: 'stop',
    });
  });

  test('listen: EADDRINUSE for a port taken in that namespace (and only there)', async () => {
    net.linkUp(A.ns, 'lo');
    net.linkUp(B.ns, 'lo');
    const first = await net.listen(A.ns, { host: '127.0.0.1' });
    const { port } = first.address() as nodeNet.AddressInfo;
    await expect(net.listen(A.ns, { host: '127.0.0.1', port })).rejects.toMatchObject({
      code: 'EADDRINUSE',
      syscall: 'bind',
      step: `listen 127.0.0.1:${port} in ${A.ns}`,
    });
    const other = await net.listen(B.ns, { host: '127.0.0.1', port }); // B has its own port space
    await closeServer(other);
    await closeServer(first);
  });

  test('bad arguments throw ERR_INVALID_ARG_* or ERR_OUT_OF_RANGE before any syscall', async () => {
    const uts = Namespace.current('uts');
    try {
      const bad: [() => unknown, string, RegExp][] = [
        [() => net.linkUp(A.ns, 'a-name-way-too-long'), 'ERR_INVALID_ARG_VALUE', /"?name'? .*at most 15 bytes/],
        [() => net.linkUp(A.ns, 'a/b'), 'ERR_INVALID_ARG_VALUE', /'name'/],
        [() => net.linkUp(A.ns, 'a b'), 'ERR_INVALID_ARG_VALUE', /'name'/],
        [() => net.linkUp(A.ns, ''), 'ERR_INVALID_ARG_VALUE', /'name'/],
        [() => net.linkUp(A.ns, 5 as any), 'ERR_INVALID_ARG_TYPE', /"name"/],
        [() => net.linkUp(uts, 'lo'), 'ERR_INVALID_ARG_VALUE', /'ns' must be a net namespace, not uts/],
        [() => net.linkUp({} as any, 'lo'), 'ERR_INVALID_ARG_TYPE', /"ns" argument must be an instance of Namespace/],
        [() => net.addAddress(A.ns, 'lo', '169.254.1.1'), 'ERR_INVALID_ARG_VALUE', /'cidr'.*prefix length/],
        [() => net.addAddress(A.ns, 'lo', '169.254.1.1/33'), 'ERR_INVALID_ARG_VALUE', /'cidr'.*0 to 32/],
        [() => net.addAddress(A.ns, 'lo', '2001:db8::1/129'), 'ERR_INVALID_ARG_VALUE', /0 to 128/],
        [() => net.addAddress(A.ns, 'lo', '300.1.1.1/24'), 'ERR_INVALID_ARG_VALUE', /'cidr'/],
        [() => net.setMtu(A.ns, 'lo', 20), 'ERR_OUT_OF_RANGE', /"mtu"/],
        [() => net.addRoute(A.ns, { to: 'default' }), 'ERR_INVALID_ARG_VALUE', /'via'.*'dev'/],
        [() => net.addRoute(A.ns, { to: '169.254.0.0/16', via: '2001:db8::1' }), 'ERR_INVALID_ARG_VALUE', /route\.via/],
        [() => net.addRoute(A.ns, { via: 'gateway.example' }), 'ERR_INVALID_ARG_VALUE', /route\.via/],
        [() => net.createVeth({ namespace: A.ns, name: 'x'.repeat(16) }, { namespace: B.ns }), 'ERR_INVALID_ARG_VALUE', /'a\.name'/],
        [() => net.createVeth({ namespace: A.ns }, { namespace: uts }), 'ERR_INVALID_ARG_VALUE', /'b\.namespace'/],
        [() => net.createVeth({ namespace: A.ns, address: '10.0.0.1/8x' }, { namespace: B.ns }), 'ERR_INVALID_ARG_VALUE', /'a\.address'/],
        [() => net.createVeth({ namespace: A.ns, name: 'v' }, { namespace: A.ns, name: 'v' }), 'ERR_INVALID_ARG_VALUE', /'b\.name'/],
        [() => net.createVeth({ namespace: A.ns, nmae: 'v' } as any, { namespace: B.ns }), 'ERR_INVALID_ARG_VALUE', /'a\.nmae' is not a known option/],
        [() => net.createVeth({ namespace: A.ns }, { namespace: B.ns }, { mtu: 70000 }), 'ERR_OUT_OF_RANGE', /"options\.mtu"/],
      ];
      for (const [fn, code, message] of bad) {
        let err: any;
        try {
          fn();
        } catch (e) {
          err = e;
        }
        expect({ code: err?.code, message: err?.message }).toEqual({ code, message: expect.stringMatching(message) });
      }
      await expect(net.connect(A.ns, { host: 'localhost', port: 80 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      await expect(net.connect(A.ns, { host: '127.0.0.1', port: 0 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      await expect(net.listen(A.ns, { port: 70000 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      await expect(net.listen(uts, {})).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      // Nothing was created by any of them.
      expect(names(A.ns)).toEqual(['lo']);
      expect(names(B.ns)).toEqual(['lo']);
    } finally {
      uts.close();
    }
  });

  test('a closed Namespace fails with EBADF, not a stray fd', () => {
    const ns = Namespace.of(A.pid, 'net');
    ns.close();
    expect(() => net.links(ns)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});

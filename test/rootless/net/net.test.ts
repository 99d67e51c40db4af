// Networking helpers as an ordinary user: a net namespace created inside a
// user namespace we own (`unshare -U -r -n sleep`) is ours to configure and
// to open sockets in; the machine's own namespace is not.
import * as nodeNet from 'node:net';
import { once } from 'node:events';

import { Namespace, NsError, net } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { netnsFixture, type NetnsFixture } from '../../helpers/netns';

let before: Snapshot;
let X: NetnsFixture;

beforeAll(() => {
  if (process.getuid!() === 0) throw new Error('rootless tests must run as an ordinary user (CI: uid 65534)');
});

beforeEach(async () => {
  before = snapshot();
  X = await netnsFixture(['-U', '-r', '-n']);
});

afterEach(async () => {
  await X.dispose();
  await expectNoLeaks(before);
});

const names = (ns: Namespace) => net.links(ns).map((l) => l.name).sort();

test('linkUp(lo), then a server and a client made inside the namespace talk over its 127.0.0.1', async () => {
  expect(net.links(X.ns)).toEqual([expect.objectContaining({ name: 'lo', up: false })]);
  net.linkUp(X.ns, 'lo');
  expect(net.links(X.ns)).toEqual([expect.objectContaining({ name: 'lo', up: true })]);
  expect(X.ip('link', 'show', 'lo')[0].flags).toContain('UP'); // oracle
  const server = await net.listen(X.ns, { host: '127.0.0.1' });
  const { port } = server.address() as nodeNet.AddressInfo;
  const connection = once(server, 'connection');
  const client = await net.connect(X.ns, { host: '127.0.0.1', port });
  const accepted = (await connection)[0] as nodeNet.Socket;
  client.write('hello from inside');
  expect(String((await once(accepted, 'data'))[0])).toBe('hello from inside');
  accepted.write('hello back');
  expect(String((await once(client, 'data'))[0])).toBe('hello back');
  client.destroy();
  accepted.destroy();
  await once(accepted, 'close');
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('a veth pair inside a namespace we own, addressed, IPv4 and IPv6', () => {
  const r = net.createVeth(
    { namespace: X.ns, name: 'v0', address: ['169.254.3.1/30', '2001:db8:3::1/64'] },
    { namespace: X.ns, name: 'v1', address: ['169.254.3.2/30', '2001:db8:3::2/64'] },
  );
  expect(r).toEqual({ a: 'v0', b: 'v1' });
  expect(names(X.ns)).toEqual(['lo', 'v0', 'v1']);
  expect(net.addresses(X.ns).filter((a) => a.link === 'v1').map((a) => a.cidr)).toEqual(
    expect.arrayContaining(['169.254.3.2/30', '2001:db8:3::2/64']),
  );
  net.deleteLink(X.ns, 'v0');
  expect(names(X.ns)).toEqual(['lo']);
});

test('EPERM, with what to do, for a link in the machine\'s own namespace', () => {
  const host = Namespace.current('net');
  try {
    const hostLinks = names(host); // reading is allowed
    let err: NsError | undefined;
    try {
      net.createVeth({ namespace: host, name: 'nsjsrootless0' }, { namespace: X.ns, name: 'v1' });
    } catch (e) {
      err = e as NsError;
    }
    expect(err).toBeInstanceOf(NsError);
    expect(err).toMatchObject({ code: 'EPERM', syscall: 'netlink', step: 'RTM_NEWLINK veth nsjsrootless0' });
    expect(err!.message).toMatch(/CAP_NET_ADMIN over the user namespace that owns it/);
    expect(err!.message).toMatch(/user namespace you own/);
    expect(() => net.linkUp(host, 'lo')).toThrow(expect.objectContaining({ code: 'EPERM', step: 'RTM_NEWLINK up lo' }));
    expect(names(host)).toEqual(hostLinks);
    expect(names(X.ns)).toEqual(['lo']);
  } finally {
    host.close();
  }
});

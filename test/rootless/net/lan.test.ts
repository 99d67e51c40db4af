// A rootless LAN: a holder user+net namespace of ours with a bridge, and
// three sandbox net namespaces inside the same user namespace joined to it
// by veth pairs (net.createVeth with `bridge`). Addresses: 169.254.0.0/16
// and 2001:db8::/32 only.
import { once } from 'node:events';
import type * as nodeNet from 'node:net';

import { net, spawnIsolated, type Namespace, type Process } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { netnsFixture, type NetnsFixture } from '../../helpers/netns';

let before: Snapshot;
beforeAll(() => {
  if (process.getuid!() === 0) throw new Error('rootless tests must run as an ordinary user (CI: uid 65534)');
});
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

async function talk(server: Namespace, client: Namespace, host: string): Promise<void> {
  const srv = await net.listen(server, { host: host.includes(':') ? '::' : '0.0.0.0' }, (s) => s.end(`hello from ${host}`));
  try {
    const socket = await net.connect(client, { host, port: (srv.address() as nodeNet.AddressInfo).port, timeout: 5000 });
    let text = '';
    socket.on('data', (d) => (text += d));
    await once(socket, 'end');
    socket.destroy();
    expect(text).toBe(`hello from ${host}`);
  } finally {
    await new Promise((r) => srv.close(r));
  }
}

test('three sandboxes on a bridge in a user+net namespace of ours reach each other over TCP, IPv4 and IPv6', async () => {
  const holder = await netnsFixture(['-U', '-r', '-n']);
  const sandboxes: NetnsFixture[] = [];
  try {
    net.createBridge(holder.ns, { name: 'lan0', address: ['169.254.60.1/24', '2001:db8:60::1/64'] });
    for (let i = 0; i < 3; i++) {
      const s = await netnsFixture(['-n'], holder.pid);
      sandboxes.push(s);
      net.createVeth({ namespace: holder.ns, name: `port${i}`, bridge: 'lan0' }, { namespace: s.ns, name: 'eth0', address: [`169.254.60.${10 + i}/24`, `2001:db8:60::${10 + i}/64`] });
    }
    expect(holder.ip('link', 'show', 'master', 'lan0').map((l: { ifname: string }) => l.ifname).sort()).toEqual(['port0', 'port1', 'port2']);
    for (const [s, c] of [[0, 1], [1, 2], [2, 0]]) {
      await talk(sandboxes[s].ns, sandboxes[c].ns, `169.254.60.${10 + s}`);
      await talk(sandboxes[s].ns, sandboxes[c].ns, `2001:db8:60::${10 + s}`);
    }
    // The bridge's own address is on the LAN too.
    await talk(holder.ns, sandboxes[0].ns, '169.254.60.1');
    net.deleteLink(holder.ns, 'lan0');
    expect(net.links(holder.ns).map((l) => l.name).sort()).toEqual(['lo', 'port0', 'port1', 'port2']);
  } finally {
    for (const s of sandboxes) await s.dispose();
    await holder.dispose();
  }
});

test('spawnIsolated with veth.bridge { namespace }: sandboxes with user namespaces of their own join the holder bridge', async () => {
  const holder = await netnsFixture(['-U', '-r', '-n']);
  const procs: Process[] = [];
  try {
    net.createBridge(holder.ns, { name: 'lan0', address: '169.254.61.1/24' });
    for (let i = 0; i < 2; i++)
      procs.push(
        await spawnIsolated('sleep', ['30'], {
          namespaces: ['user', 'net'],
          stdio: 'ignore',
          network: { veth: { hostName: `h${i}`, bridge: { namespace: holder.ns, name: 'lan0' }, address: [`169.254.61.${10 + i}/24`, `2001:db8:61::${10 + i}/64`], gateway: true } },
        }),
      );
    expect(holder.ip('link', 'show', 'master', 'lan0').map((l: { ifname: string }) => l.ifname).sort()).toEqual(['h0', 'h1']);
    using a = procs[0].namespace('net');
    using b = procs[1].namespace('net');
    await talk(a, b, '169.254.61.10');
    await talk(b, a, '2001:db8:61::11');
    await talk(holder.ns, a, '169.254.61.1');
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    for (const p of procs) await p.wait();
    await holder.dispose();
  }
});

test('a bridge that does not exist: ENODEV, and the veth pair is deleted again', async () => {
  const holder = await netnsFixture(['-U', '-r', '-n']);
  const s = await netnsFixture(['-n'], holder.pid);
  try {
    expect(() => net.createVeth({ namespace: holder.ns, name: 'port0', bridge: 'nosuch' }, { namespace: s.ns })).toThrow(
      expect.objectContaining({ code: 'ENODEV', step: 'RTM_NEWLINK master nosuch dev port0' }),
    );
    expect(net.links(holder.ns).map((l) => l.name)).toEqual(['lo']);
    expect(net.links(s.ns).map((l) => l.name)).toEqual(['lo']);
  } finally {
    await s.dispose();
    await holder.dispose();
  }
});

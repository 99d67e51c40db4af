// network.egress with a fake "outside": a net namespace of the test's own
// behind a veth from ours (169.254.70.0/24, 2001:db8:70::/64), with servers
// on allowed and refused ports and addresses. The proxy, in our namespace,
// reaches the outside; the sandbox reaches only what the allow list names.
import * as path from 'node:path';
import type * as nodeNet from 'node:net';

import { Namespace, net, runIsolated, type EgressConnection } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { netnsFixture, type NetnsFixture } from '../../helpers/netns';

let before: Snapshot;
let outside: NetnsFixture;
const hits: string[] = [];
const servers: nodeNet.Server[] = [];

async function serve(host: string): Promise<number> {
  const s = await net.listen(outside.ns, { host, ipv6Only: host.includes(':') }, (socket) => {
    socket.once('data', (d) => {
      hits.push(`${host} ${String(d).split('\r\n')[0]}`);
      socket.end('HTTP/1.0 200 OK\r\n\r\nfrom outside');
    });
  });
  servers.push(s);
  return (s.address() as nodeNet.AddressInfo).port;
}

beforeEach(async () => {
  before = snapshot();
  outside = await netnsFixture(['-n']);
  using here = Namespace.current('net');
  net.createVeth({ namespace: here, name: 'nsjsout0', address: ['169.254.70.1/24', '2001:db8:70::1/64'] }, { namespace: outside.ns, name: 'eth0', address: ['169.254.70.2/24', '2001:db8:70::2/64'] });
  hits.length = 0;
});
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  await outside.dispose(); // takes the pair with it
  for (let i = 0; i < 100 && before.links.length !== snapshot().links.length; i++) await new Promise((r) => setTimeout(r, 20));
  await expectNoLeaks(before);
});

const client = path.join(__dirname, '../../helpers/egress-client.js');

test('only the allowed outside addresses and ports are reached, IPv4 and IPv6, and the sandbox cannot go there directly', async () => {
  const allowed4 = await serve('169.254.70.2');
  const refused4 = await serve('169.254.70.2');
  const allowed6 = await serve('2001:db8:70::2');
  const seen: EgressConnection[] = [];
  const tasks = [
    { kind: 'connect', target: `169.254.70.2:${allowed4}` },
    { kind: 'socks', host: '2001:db8:70::2', port: allowed6 },
    { kind: 'connect', target: `[2001:db8:70:0::2]:${allowed6}` },
    { kind: 'connect', target: `169.254.70.2:${refused4}` },
    { kind: 'socks', host: '169.254.70.2', port: refused4 },
    { kind: 'socks', host: '2001:db8:70::2', port: allowed4 },
    { kind: 'direct', host: '169.254.70.2', port: allowed4 },
    { kind: 'direct', host: '2001:db8:70::2', port: allowed6 },
  ];
  const r = await runIsolated(process.execPath, [client, JSON.stringify(tasks)], {
    namespaces: ['user', 'net'],
    network: { egress: { allow: [`169.254.70.2:${allowed4}`, `[2001:db8:70::2]:${allowed6}`], onConnection: (c) => seen.push(c) } },
  });
  expect(JSON.parse(r.stdout)).toEqual([
    { status: 200, body: 'from outside' },
    { reply: 0, body: 'from outside' },
    { status: 200, body: 'from outside' },
    expect.objectContaining({ status: 403 }),
    { reply: 2 },
    { reply: 2 },
    { error: 'ENETUNREACH' },
    { error: 'ENETUNREACH' },
  ]);
  expect(hits.sort()).toEqual(['169.254.70.2 GET / HTTP/1.0', '2001:db8:70::2 GET / HTTP/1.0', '2001:db8:70::2 GET / HTTP/1.0']);
  expect(seen.map((c) => [c.protocol, c.host, c.allowed])).toEqual([
    ['connect', '169.254.70.2', true],
    ['socks5', '2001:db8:70::2', true],
    ['connect', '2001:db8:70:0::2', true],
    ['connect', '169.254.70.2', false],
    ['socks5', '169.254.70.2', false],
    ['socks5', '2001:db8:70::2', false],
  ]);
});

test('an allowed destination that refuses: 502 for HTTP, SOCKS5 reply 5, reported with its code', async () => {
  const seen: EgressConnection[] = [];
  const r = await runIsolated(process.execPath, [client, JSON.stringify([{ kind: 'connect', target: '169.254.70.2:9' }, { kind: 'socks', host: '169.254.70.2', port: 9 }])], {
    namespaces: ['user', 'net'],
    network: { egress: { allow: ['169.254.70.2:*'], onConnection: (c) => seen.push(c) } },
  });
  expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ status: 502 }), { reply: 5 }]);
  expect(seen).toEqual([
    { protocol: 'connect', host: '169.254.70.2', port: 9, allowed: false, address: '169.254.70.2', reason: 'ECONNREFUSED' },
    { protocol: 'socks5', host: '169.254.70.2', port: 9, allowed: false, address: '169.254.70.2', reason: 'ECONNREFUSED' },
  ]);
});

// network.egress against a hostile program: root in its user namespace with
// every capability of it (nsjs has no seccomp filter yet to help), trying every way out but
// the proxy. Our servers are on our own loopback (root: the throw-away
// namespace npm test runs in); nothing may reach them but what the proxy
// allowed. The root-only twin with a fake "outside" namespace behind a veth
// is test/root/net/egress-outside.test.ts.
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { runIsolated } from '../../../lib';
import { expectNoLeaks, links, snapshot, type Snapshot } from '../../helpers/leaks';
import { netnsFixture } from '../../helpers/netns';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

test('a root program inside with all its capabilities: no link out, no setns, its own routes lead nowhere; only the proxy, only where allowed', async () => {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end('reached');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  // Another user+net namespace of ours (a rootless LAN's holder, say): no way into it either.
  const sibling = await netnsFixture(['-U', '-r', '-n']);
  // Each attempt prints NAME=exit status; the tries that must fail go to /dev/null.
  const attack = `
    try() { name=$1; shift; "$@" >/dev/null 2>&1; echo "$name=$?"; }
    grep CapEff /proc/self/status | tr -d '\t'
    try veth-into-ours ip link add evil0 type veth peer name evil1 netns ${process.pid}
    try veth-into-sibling ip link add evil2 type veth peer name evil3 netns ${sibling.pid}
    try setns-sibling nsenter -t ${sibling.pid} -U -n true
    try veth-here ip link add evil0 type veth peer name evil1
    try move-into-ours ip link set evil1 netns ${process.pid}
    try setns-ours nsenter -t ${process.pid} -n true
    try setns-init nsenter -t 1 -n true
    try own-address ip addr add 169.254.90.2/24 dev evil0
    ip link set evil0 up; ip link set evil1 up
    try own-route ip route add default dev evil0
    try own-route6 ip -6 route add default dev lo
    try direct curl -s -m 2 --noproxy '*' http://127.0.0.1:${port}/direct
    try direct6 curl -s -m 2 --noproxy '*' 'http://[::1]:${port}/direct6'
    try unshare-user unshare -U -r -n true
    try dns curl -s -m 2 --noproxy '*' --dns-servers 169.254.90.1 http://example.invalid/
    try proxied curl -s -m 5 http://127.0.0.1:${port}/proxied
    try refused curl -s -m 5 -f http://127.0.0.1:${port + (port < 65535 ? 1 : -1)}/refused
    cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | tr '\\n' ,
  `;
  try {
    const r = await runIsolated('sh', ['-c', attack], {
      namespaces: ['user', 'net'],
      user: 'root',
      network: { egress: { allow: [`127.0.0.1:${port}`] } },
    });
    const lines = r.stdout.trim().split('\n');
    const status = Object.fromEntries(lines.filter((l) => /^[a-z0-9-]+=\d+$/.test(l)).map((l) => l.split('=')));
    // The worst case: CAP_NET_ADMIN, CAP_NET_RAW and CAP_SYS_ADMIN (bits 12, 13, 21) in its user namespace.
    const capEff = BigInt(`0x${lines.find((l) => l.startsWith('CapEff:'))!.slice(7)}`);
    for (const bit of [12n, 13n, 21n]) expect((capEff >> bit) & 1n).toBe(1n);
    expect(status).toMatchObject({
      'veth-into-ours': '2', // RTNETLINK: Operation not permitted
      'veth-into-sibling': '2',
      'setns-sibling': '1',
      'veth-here': '0', // a pair of its own, both ends inside: allowed, harmless
      'move-into-ours': '2',
      'setns-ours': '1',
      'setns-init': '1',
      'own-address': '0',
      'own-route': '0',
      direct: '7', // curl: could not connect (its own 127.0.0.1)
      direct6: '7',
      proxied: '0',
      refused: '22', // curl -f: HTTP 403
    });
    // The route it added leads only into its own pair: a DNS server of its choosing is not reached.
    expect(Number(status.dns)).not.toBe(0);
    // Its only links: lo and the pair it made (any raw socket can only send on these).
    expect(lines[lines.length - 1]).toMatch(/^lo,evil1,evil0,$|^lo,evil0,evil1,$/);
    expect(hits).toEqual(['GET /proxied']);
    expect(links()).toEqual(before.links);
    expect(sibling.ip('-br', 'link').map((l: { ifname: string }) => l.ifname)).toEqual(['lo']);
  } finally {
    await sibling.dispose();
    await new Promise((r) => server.close(r));
  }
});

// spawnIsolated's network option: a veth pair between our namespace and the
// sandbox's, made through rtnetlink. Root: adding a link to our namespace
// needs CAP_NET_ADMIN here. Addresses: 169.254.0.0/16 and 2001:db8::/32 only.
import { spawnSync } from 'node:child_process';
import * as netmod from 'node:net';

import { net, spawnIsolated, type Process } from '../../../lib';
import { expectNoLeaks, links, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const ipJson = (args: string[], pid?: number) => {
  const cmd = pid ? ['nsenter', '-t', String(pid), '-n', 'ip', '-j', ...args] : ['ip', '-j', ...args];
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
};

async function gone(proc: Process, host: string) {
  proc.kill('SIGKILL');
  await proc.wait();
  // The pair goes with the sandbox's namespace, in the kernel's cleanup worker.
  for (let i = 0; i < 100 && links().includes(host); i++) await new Promise((r) => setTimeout(r, 20));
  expect(links()).not.toContain(host);
}

test('a veth pair with IPv4 and IPv6 addresses, routes and mtu, seen by ip on both sides', async () => {
  const host = `nsjsv${process.pid % 100000}`;
  const p = await spawnIsolated('sleep', ['30'], {
    namespaces: ['net', 'user'],
    user: 'root',
    stdio: 'ignore',
    network: { veth: { hostName: host, hostAddress: ['169.254.40.1/30', '2001:db8:40::1/64'], address: ['169.254.40.2/30', '2001:db8:40::2/64'], gateway: true, mtu: 1400 } },
  });
  try {
    // The kernel's linkwatch marks a veth UP once both ends are up, but only
    // on its next run, up to a second later: wait for it, both sides.
    const operstates = () => [ipJson(['link', 'show', host])[0].operstate, ipJson(['link', 'show', 'eth0'], p.pid)[0].operstate];
    for (let i = 0; i < 40 && operstates().some((s) => s !== 'UP'); i++) await new Promise((r) => setTimeout(r, 50));
    const [hostLink] = ipJson(['link', 'show', host]);
    expect(hostLink).toMatchObject({ ifname: host, mtu: 1400, operstate: 'UP' });
    const hostAddrs = (ipJson(['addr', 'show', host])[0].addr_info as { local: string }[]).map((a) => a.local);
    expect(hostAddrs).toEqual(expect.arrayContaining(['169.254.40.1', '2001:db8:40::1']));
    const inside = ipJson(['addr'], p.pid);
    expect(inside.map((l) => l.ifname).sort()).toEqual(['eth0', 'lo']);
    const eth0 = inside.find((l) => l.ifname === 'eth0')!;
    expect(eth0).toMatchObject({ mtu: 1400, operstate: 'UP' });
    expect((eth0.addr_info as { local: string }[]).map((a) => a.local)).toEqual(expect.arrayContaining(['169.254.40.2', '2001:db8:40::2']));
    expect(ipJson(['route', 'show', 'default'], p.pid)).toEqual([expect.objectContaining({ dst: 'default', gateway: '169.254.40.1', dev: 'eth0' })]);
    expect(ipJson(['-6', 'route', 'show', 'default'], p.pid)).toEqual([expect.objectContaining({ dst: 'default', gateway: '2001:db8:40::1', dev: 'eth0' })]);
  } finally {
    await gone(p, host);
  }
});

// Found by the options fuzz: gateway: true also routed the host end's other family, which the sandbox end could not reach (EHOSTUNREACH at spawn).
test.each([
  ['IPv4', '169.254.43.2/30', '169.254.43.1', 'IPv6'],
  ['IPv6', '2001:db8:43::2/64', '2001:db8:43::1', 'IPv4'],
])('gateway with a dual-stack host end and an %s-only sandbox end: a default route of that family only', async (family, address, via, other) => {
  const host = `nsjsg${process.pid % 100000}`;
  const p = await spawnIsolated('sleep', ['30'], {
    namespaces: ['net'],
    stdio: 'ignore',
    network: { veth: { hostName: host, hostAddress: ['169.254.43.1/30', '2001:db8:43::1/64'], address, gateway: true } },
  });
  try {
    const defaults = (f: string) => ipJson([f === 'IPv6' ? '-6' : '-4', 'route', 'show', 'default'], p.pid);
    expect(defaults(family)).toEqual([expect.objectContaining({ dst: 'default', gateway: via, dev: 'eth0' })]);
    expect(defaults(other)).toEqual([]);
  } finally {
    await gone(p, host);
  }
});

test('TCP across the pair, both families, from a socket made inside the sandbox', async () => {
  const p = await spawnIsolated('sleep', ['30'], {
    namespaces: ['net'],
    stdio: 'ignore',
    network: { veth: { hostAddress: ['169.254.41.1/30', '2001:db8:41::1/64'], address: ['169.254.41.2/30', '2001:db8:41::2/64'] } },
  });
  const host = links().find((l) => !before.links.includes(l))!;
  expect(host).toMatch(/^nsjs[0-9a-f]{8}$/);
  const server = netmod.createServer((s) => s.end('hello from the host'));
  try {
    for (const address of ['169.254.41.1', '2001:db8:41::1']) {
      await new Promise<void>((r) => server.listen(0, address, r));
      const { port } = server.address() as netmod.AddressInfo;
      using ns = p.namespace('net');
      const socket = await net.connect(ns, { host: address, port });
      const text = await new Promise<string>((resolve) => {
        let data = '';
        socket.on('data', (d) => (data += d)).on('end', () => resolve(data));
      });
      socket.destroy();
      expect(text).toBe('hello from the host');
      await new Promise((r) => server.close(r));
    }
  } finally {
    await gone(p, host);
  }
});

test('a taken host name is EEXIST naming the operation, and nothing is left', async () => {
  const taken = `nsjsx${process.pid % 100000}`;
  expect(spawnSync('ip', ['link', 'add', taken, 'type', 'veth', 'peer', 'name', `${taken}p`]).status).toBe(0);
  try {
    const err = await spawnIsolated('true', [], { namespaces: ['net'], network: { veth: { hostName: taken } } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EEXIST', syscall: 'netlink', step: `RTM_NEWLINK veth ${taken}`, hint: expect.stringMatching(/hostName/) });
    // Not ours: the failed spawn must not delete it.
    expect(links()).toContain(taken);
  } finally {
    spawnSync('ip', ['link', 'del', taken]);
  }
});

test('a step failing after the pair exists leaves no link behind', async () => {
  const host = `nsjsf${process.pid % 100000}`;
  await expect(
    spawnIsolated('true', [], {
      namespaces: ['net', 'mnt'],
      mounts: [{ type: 'tmpfs', target: '/nsjs/no/such' }],
      network: { veth: { hostName: host, hostAddress: '169.254.42.1/30', address: '169.254.42.2/30' } },
    }),
  ).rejects.toMatchObject({ code: 'ENOENT', step: 'mount /nsjs/no/such' });
  expect(links()).not.toContain(host);
});

test('bad network options are refused before anything starts', async () => {
  const cases: [object, RegExp][] = [
    [{ network: { veth: {} } }, /options\.network.*'net'/],
    [{ namespaces: ['net'], network: { veth: { address: '169.254.1.2' } } }, /options\.network\.veth\.address/],
    [{ namespaces: ['net'], network: { veth: { hostName: 'x'.repeat(16) } } }, /options\.network\.veth\.hostName/],
    [{ namespaces: ['net'], network: { veth: { gateway: true } } }, /options\.network\.veth\.gateway/],
    [{ namespaces: ['net'], network: { lo: true } }, /options\.network\.lo/],
  ];
  for (const [options, message] of cases)
    await expect(spawnIsolated('true', [], options)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(message) });
  await expect(spawnIsolated('true', [], { namespaces: ['net'], network: { veth: { mtu: 10 } } })).rejects.toMatchObject({
    name: 'RangeError',
    code: 'ERR_OUT_OF_RANGE',
    message: expect.stringMatching(/"options\.network\.veth\.mtu"/),
  });
});

// network.egress: a sandbox with only lo and a proxy on its 127.0.0.1 that
// reaches, in our namespace, only the allowed host:port patterns. The
// servers are ours, on our own loopback (root: the throw-away namespace npm
// test runs in); the client inside uses only its environment.
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

import { net, runIsolated, spawnIsolated, type EgressConnection } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
const servers: { server: http.Server; port: number; hits: string[] }[] = [];

async function server(name: string) {
  const hits: string[] = [];
  const s = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url} host=${req.headers.host}`);
    res.end(`hello from ${name}`);
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const entry = { server: s, port: (s.address() as AddressInfo).port, hits };
  servers.push(entry);
  return entry;
}

beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  for (const { server: s } of servers.splice(0)) await new Promise((r) => s.close(r));
  await expectNoLeaks(before);
});

const client = path.join(__dirname, '../../helpers/egress-client.js');

async function inside(allow: string[], tasks: object[], extra: object = {}) {
  const seen: EgressConnection[] = [];
  const r = await runIsolated(process.execPath, [client, JSON.stringify(tasks)], {
    namespaces: ['user', 'net'],
    network: { egress: { allow, onConnection: (c) => seen.push(c) } },
    ...extra,
  });
  return { results: JSON.parse(r.stdout) as Record<string, unknown>[], seen };
}

test('allowed: CONNECT, an absolute-URI request and SOCKS5 reach our server, each reported', async () => {
  const ok = await server('allowed');
  const { results, seen } = await inside(
    [`127.0.0.1:${ok.port}`],
    [
      { kind: 'connect', target: `127.0.0.1:${ok.port}` },
      { kind: 'http', url: `http://127.0.0.1:${ok.port}/path?q=1` },
      { kind: 'socks', host: '127.0.0.1', port: ok.port },
    ],
  );
  expect(results).toEqual([
    { status: 200, body: 'hello from allowed' },
    { status: 200, body: 'hello from allowed' },
    { reply: 0, body: 'hello from allowed' },
  ]);
  // The Host the client sent is replaced by the host that was allowed.
  expect(ok.hits).toEqual(['GET / host=undefined', `GET /path?q=1 host=127.0.0.1:${ok.port}`, 'GET / host=undefined']);
  expect(seen).toEqual(
    (['connect', 'http', 'socks5'] as const).map((protocol) => ({ protocol, host: '127.0.0.1', port: ok.port, allowed: true, address: '127.0.0.1' })),
  );
});

test('refused: 403 for HTTP, SOCKS5 reply 2, and the server sees nothing', async () => {
  const ok = await server('allowed');
  const no = await server('refused');
  const { results, seen } = await inside(
    [`127.0.0.1:${ok.port}`, 'example.invalid:*'],
    [
      { kind: 'connect', target: `127.0.0.1:${no.port}` },
      { kind: 'http', url: `http://127.0.0.1:${no.port}/` },
      { kind: 'socks', host: '127.0.0.1', port: no.port },
      // Numbers getaddrinfo would read as 127.0.0.1, and the same address in IPv6 form.
      { kind: 'connect', target: `127.1:${ok.port}` },
      { kind: 'connect', target: `2130706433:${ok.port}` },
      { kind: 'socks', host: '::ffff:127.0.0.1', port: ok.port },
      { kind: 'http', url: `http://localhost:${ok.port}/` },
    ],
  );
  expect(results.slice(0, 3)).toEqual([
    { status: 403, body: expect.stringMatching(/not allowed/) },
    { status: 403, body: expect.stringMatching(/not allowed/) },
    { reply: 2 },
  ]);
  expect(results.slice(3)).toEqual([expect.objectContaining({ status: 403 }), expect.objectContaining({ status: 403 }), { reply: 2 }, expect.objectContaining({ status: 403 })]);
  expect(no.hits).toEqual([]);
  expect(ok.hits).toEqual([]);
  expect(seen.map((c) => c.allowed)).toEqual(Array(7).fill(false));
  expect(seen[0]).toEqual({ protocol: 'connect', host: '127.0.0.1', port: no.port, allowed: false, reason: 'not allowed' });
});

test('a direct connection from inside reaches nothing, and the only link is lo', async () => {
  const ok = await server('allowed');
  const { results, seen } = await inside(
    [`127.0.0.1:${ok.port}`],
    [
      { kind: 'direct', host: '127.0.0.1', port: ok.port },
      { kind: 'direct', host: '::1', port: ok.port },
      { kind: 'direct', host: '169.254.80.1', port: 80 },
      { kind: 'direct', host: '2001:db8:80::1', port: 80 },
    ],
  );
  expect(results).toEqual([{ error: 'ECONNREFUSED' }, { error: 'ECONNREFUSED' }, { error: 'ENETUNREACH' }, { error: 'ENETUNREACH' }]);
  expect(ok.hits).toEqual([]);
  expect(seen).toEqual([]);
  const r = await runIsolated('cat', ['/proc/net/dev'], { namespaces: ['user', 'net'], network: { egress: { allow: ['*:*'] } } });
  expect(r.stdout.split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0].trim())).toEqual(['lo']);
});

test('the proxy variables are set over env, upper and lower case', async () => {
  const r = await runIsolated('env', [], { namespaces: ['user', 'net'], env: { HTTP_PROXY: 'http://elsewhere:1', KEEP: 'me' }, network: { egress: { allow: [] } } });
  const env = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  expect(env).toEqual({
    KEEP: 'me',
    HTTP_PROXY: 'http://127.0.0.1:3128',
    HTTPS_PROXY: 'http://127.0.0.1:3128',
    http_proxy: 'http://127.0.0.1:3128',
    https_proxy: 'http://127.0.0.1:3128',
    ALL_PROXY: 'socks5h://127.0.0.1:3128',
    all_proxy: 'socks5h://127.0.0.1:3128',
  });
});

test('the proxy ends with the command: no fd of it is left', async () => {
  const ok = await server('allowed');
  const p = await spawnIsolated('sleep', ['30'], { namespaces: ['user', 'net'], stdio: 'ignore', network: { egress: { allow: [`127.0.0.1:${ok.port}`] } } });
  p.kill('SIGKILL');
  await p.wait();
  // The leak check in afterEach sees no fd of the proxy's (its listener was ours).
});

test('bad egress options are refused before anything starts', async () => {
  const base = { namespaces: ['user', 'net'] as const };
  const cases: [object, string, RegExp][] = [
    [{ ...base, network: { egress: { allow: ['example.com'] } } }, 'ERR_INVALID_ARG_VALUE', /allow\[0\].*host:port/],
    [{ ...base, network: { egress: { allow: ['example.com:70000'] } } }, 'ERR_INVALID_ARG_VALUE', /allow\[0\].*port/],
    [{ ...base, network: { egress: { allow: ['[::1:443'] } } }, 'ERR_INVALID_ARG_VALUE', /allow\[0\]/],
    [{ ...base, network: { egress: { allow: ['[1.2.3.4]:443'] } } }, 'ERR_INVALID_ARG_VALUE', /IPv6/],
    [{ ...base, network: { egress: { allow: ['127.1:443'] } } }, 'ERR_INVALID_ARG_VALUE', /allow\[0\]/],
    [{ ...base, network: { egress: { allow: [42] } } }, 'ERR_INVALID_ARG_TYPE', /allow\[0\]/],
    [{ ...base, network: { egress: { allow: 'x:1' } } }, 'ERR_INVALID_ARG_TYPE', /allow/],
    [{ ...base, network: { egress: { allow: [], onConnection: 1 } } }, 'ERR_INVALID_ARG_TYPE', /onConnection/],
    [{ ...base, network: { egress: { allow: [] }, loopback: false } }, 'ERR_INVALID_ARG_VALUE', /lo/],
    [{ ...base, network: { egress: { allow: [] }, veth: {} } }, 'ERR_INVALID_ARG_VALUE', /veth/],
    [{ namespaces: ['net'], network: { egress: { allow: [] } } }, 'ERR_INVALID_ARG_VALUE', /'user'/],
  ];
  for (const [options, code, message] of cases)
    await expect(spawnIsolated('true', [], options)).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
});

test('names: resolved by Node here, matched as named; *.suffix matches only below it', async () => {
  // A server on both families: 'localhost' resolves to 127.0.0.1 or ::1 depending on the resolver.
  const hitsBoth: string[] = [];
  const s = http.createServer((req, res) => {
    hitsBoth.push(`${req.headers.host}`);
    res.end('hello from localhost');
  });
  s.listen(0, '::');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  try {
    const { results, seen } = await inside(
      [`LOCALHOST.:${port}`],
      [
        { kind: 'http', url: `http://localhost:${port}/` },
        { kind: 'socks', host: 'localhost', port },
        { kind: 'connect', target: `localhost:${port + (port < 65535 ? 1 : -1)}` },
      ],
    );
    expect(results).toEqual([{ status: 200, body: 'hello from localhost' }, { reply: 0, body: 'hello from localhost' }, expect.objectContaining({ status: 403 })]);
    expect(hitsBoth[0]).toBe(`localhost:${port}`);
    expect(seen.slice(0, 2)).toEqual([
      { protocol: 'http', host: 'localhost', port, allowed: true, address: expect.stringMatching(/^(127\.0\.0\.1|::1)$/) },
      { protocol: 'socks5', host: 'localhost', port, allowed: true, address: expect.stringMatching(/^(127\.0\.0\.1|::1)$/) },
    ]);
    const suffix = await inside([`*.localhost:${port}`], [{ kind: 'socks', host: 'localhost', port }]);
    expect(suffix.results).toEqual([{ reply: 2 }]);
  } finally {
    await new Promise((r) => s.close(r));
  }
});

test('malformed requests get an answer or a close, never a connection: origin-form, bad authority, SOCKS BIND, bad address type, oversize', async () => {
  const ok = await server('allowed');
  const seen: EgressConnection[] = [];
  const p = await spawnIsolated('sleep', ['30'], { namespaces: ['user', 'net'], stdio: 'ignore', network: { egress: { allow: ['*:*'], onConnection: (c) => seen.push(c) } } });
  using ns = p.namespace('net');
  const exchange = async (bytes: Buffer | string) => {
    const c = await net.connect(ns, { host: '127.0.0.1', port: 3128 });
    let got = Buffer.alloc(0);
    c.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    c.on('error', () => {});
    c.end(bytes);
    await once(c, 'close');
    return got;
  };
  try {
    expect(String(await exchange('GET / HTTP/1.1\r\nhost: x\r\n\r\n'))).toMatch(/^HTTP\/1\.1 400 .*absolute http:\/\/ URI/s);
    expect(String(await exchange(`CONNECT 127.0.0.1:${ok.port}@elsewhere HTTP/1.1\r\n\r\n`))).toMatch(/^HTTP\/1\.1 400/);
    expect(String(await exchange(`GET ftp://127.0.0.1:${ok.port}/ HTTP/1.1\r\n\r\n`))).toMatch(/^HTTP\/1\.1 400/);
    const bind = Buffer.from([5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, ok.port >> 8, ok.port & 255]);
    expect([...(await exchange(bind))]).toEqual([5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect([...(await exchange(Buffer.from([5, 1, 0, 5, 1, 0, 9, 1, 2])))]).toEqual([5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect([...(await exchange(Buffer.from([5, 1, 2])))]).toEqual([5, 0xff]); // no method we speak
    expect((await exchange(Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0, 3, 255]), Buffer.alloc(700, 0x61)]))).length).toBeLessThanOrEqual(2);
    expect(ok.hits).toEqual([]);
    expect(seen).toEqual([]);
  } finally {
    p.kill('SIGKILL');
    await p.wait();
  }
});

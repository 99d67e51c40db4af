// nsjs run's network flags end to end (node bin/nsjs.js): --allow-net (the
// egress proxy) and --publish (a port of ours forwarded in). Root and an
// ordinary user; only our loopback and the sandbox's.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';

import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const bin = path.join(__dirname, '..', '..', '..', 'bin', 'nsjs.js');
const client = path.join(__dirname, '..', '..', 'helpers', 'egress-client.js');

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

async function nsjs(args: string[], whileRunning?: (out: { text: string }) => Promise<void>) {
  const child = spawn(process.execPath, [bin, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { text: '', err: '' };
  child.stdout.on('data', (d) => (out.text += d));
  child.stderr.on('data', (d) => (out.err += d));
  const exited = once(child, 'exit');
  if (whileRunning) await whileRunning(out);
  const [code] = await exited;
  return { code: code as number, stdout: out.text, stderr: out.err };
}

test('--allow-net: the command reaches the allowed server through the proxy, and nothing else', async () => {
  const server = http.createServer((_req, res) => res.end('hello'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  try {
    const tasks = [{ kind: 'connect', target: `127.0.0.1:${port}` }, { kind: 'socks', host: '127.0.0.1', port: port === 65535 ? 1 : port + 1 }];
    const r = await nsjs(['--allow-net', `127.0.0.1:${port}`, '--', process.execPath, client, JSON.stringify(tasks)]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toEqual([{ status: 200, body: 'hello' }, { reply: 2 }]);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('--publish: a port of ours reaches a server inside the sandbox', async () => {
  // A free port of ours: taken and released (another process could take it between; unlikely here).
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const hostPort = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const inside = "require('net').createServer((s)=>{s.end('from inside');s.on('close',()=>process.exit(0))}).listen(8080,'127.0.0.1',()=>console.log('ready'))";
  const r = await nsjs(['-U', '-r', '-n', '--publish', `${hostPort}:8080`, '--', process.execPath, '-e', inside], async (out) => {
    for (let i = 0; i < 500 && !out.text.includes('ready'); i++) await new Promise((res) => setTimeout(res, 10));
    // The forward starts just after the command: retry while it is not there yet.
    for (let i = 0; ; i++) {
      const c = net.connect(hostPort, '127.0.0.1');
      const [what] = await Promise.race([once(c, 'data'), once(c, 'error')]);
      c.destroy();
      if (!(what instanceof Error)) {
        expect(String(what)).toBe('from inside');
        break;
      }
      if (i > 100) throw what;
      await new Promise((res) => setTimeout(res, 20));
    }
  });
  expect(r).toMatchObject({ code: 0, stderr: '' });
});

// net.forward: a port of ours forwarded to a server inside a net namespace
// the test made (root: unshare -n; rootless: unshare -U -r -n). Only
// loopback addresses: ours (127.0.0.1) and the namespace's own.
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as nodeNet from 'node:net';

import { net } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { netnsFixture, type NetnsFixture } from '../../helpers/netns';

let before: Snapshot;
let X: NetnsFixture;
const rootless = process.getuid!() !== 0;

beforeEach(async () => {
  before = snapshot();
  X = await netnsFixture(rootless ? ['-U', '-r', '-n'] : ['-n']);
  net.linkUp(X.ns, 'lo');
});
afterEach(async () => {
  await X.dispose();
  await expectNoLeaks(before);
});

const closeServer = (s: nodeNet.Server) => new Promise((r) => s.close(r));

function collect(socket: nodeNet.Socket): Promise<string> {
  let text = '';
  socket.on('data', (d) => (text += d));
  return once(socket, 'end').then(() => text);
}

test('TCP: many connections at once reach the server inside, each with its own echo', async () => {
  // An echo server made inside: it says where it is, then echoes until the client ends.
  const server = await net.listen(X.ns, { host: '127.0.0.1' }, (s) => {
    s.write(`inside ${s.localAddress}\n`);
    s.pipe(s);
  });
  const fwd = await net.forward(X.ns, { listen: { port: 0 }, to: { host: '127.0.0.1', port: (server.address() as nodeNet.AddressInfo).port } });
  try {
    const { address, port, family } = fwd.address();
    expect({ address, family }).toEqual({ address: '127.0.0.1', family: 'IPv4' });
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const c = nodeNet.connect(port, '127.0.0.1');
        const text = collect(c);
        c.end(`message ${i}\n`.repeat(1000));
        return text;
      }),
    );
    results.forEach((text, i) => expect(text).toBe(`inside 127.0.0.1\n${`message ${i}\n`.repeat(1000)}`));
  } finally {
    await fwd.close();
    await closeServer(server);
  }
});

test('TCP: a half-close goes through both ways, in order', async () => {
  const server = await net.listen(X.ns, { host: '127.0.0.1' });
  const fwd = await net.forward(X.ns, { listen: { host: '127.0.0.1', port: 0 }, to: { host: '127.0.0.1', port: (server.address() as nodeNet.AddressInfo).port } });
  try {
    const accepted = once(server, 'connection');
    const c = nodeNet.connect({ port: fwd.address().port, host: '127.0.0.1', allowHalfOpen: true });
    const inside = (await accepted)[0] as nodeNet.Socket;
    inside.allowHalfOpen = true;
    const seenInside = collect(inside);
    c.end('request, then my end');
    // The server sees the client's end before it has answered...
    expect(await seenInside).toBe('request, then my end');
    // ...and can still answer on its own half, which the client reads to its end.
    const reply = collect(c);
    inside.end('the answer after your end');
    expect(await reply).toBe('the answer after your end');
  } finally {
    await fwd.close();
    await closeServer(server);
  }
});

test('TCP: nothing listening inside is a reset for the client; close() closes the open connections and stops listening', async () => {
  const fwd = await net.forward(X.ns, { listen: { port: 0 }, to: { host: '127.0.0.1', port: 9 } });
  const c = nodeNet.connect(fwd.address().port, '127.0.0.1');
  const [err] = await once(c, 'error');
  expect(err).toMatchObject({ code: 'ECONNRESET' });
  const server = await net.listen(X.ns, { host: '127.0.0.1' }, (s) => s.write('hello'));
  const fwd2 = await net.forward(X.ns, { listen: { port: 0 }, to: { host: '127.0.0.1', port: (server.address() as nodeNet.AddressInfo).port } });
  const port2 = fwd2.address().port;
  const c2 = nodeNet.connect(port2, '127.0.0.1');
  c2.on('error', () => {});
  await once(c2, 'data');
  await fwd2.close();
  await once(c2, 'close');
  // A closed forward listens no more.
  const c3 = nodeNet.connect(port2, '127.0.0.1');
  expect((await once(c3, 'error'))[0]).toMatchObject({ code: 'ECONNREFUSED' });
  await fwd.close();
  await fwd.close(); // twice is fine
  await closeServer(server);
});

test('UDP: datagrams reach a server inside, and each peer gets its own replies', async () => {
  // A UDP echo server inside, run by node under nsenter (net.listen is TCP only).
  const enter = ['-t', String(X.pid), ...(rootless ? ['-U', '--preserve-credentials'] : []), '-n'];
  const script = "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(Buffer.concat([Buffer.from('echo '),m]),r.port,r.address));s.bind(5353,'127.0.0.1',()=>console.log('ready'))";
  const echo = spawn('nsenter', [...enter, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await once(echo.stdout!, 'data');
    await using fwd = await net.forward(X.ns, { listen: { port: 0 }, to: { host: '127.0.0.1', port: 5353 }, protocol: 'udp' });
    const { port } = fwd.address();
    const clients = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
    try {
      for (const [i, c] of clients.entries()) {
        c.send(`from client ${i}`, port, '127.0.0.1');
        const [msg] = await once(c, 'message');
        expect(String(msg)).toBe(`echo from client ${i}`);
      }
    } finally {
      for (const c of clients) c.close();
    }
  } finally {
    echo.kill('SIGKILL');
    await once(echo, 'exit');
  }
});

test('bad options are refused before anything listens', async () => {
  await expect(net.forward(X.ns, undefined as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await expect(net.forward(X.ns, { listen: { port: 0 }, to: { host: 'localhost', port: 80 } })).rejects.toMatchObject({
    code: 'ERR_INVALID_ARG_VALUE',
    message: expect.stringMatching(/options\.to\.host/),
  });
  await expect(net.forward(X.ns, { listen: { port: 0 }, to: { host: '127.0.0.1', port: 0 } })).rejects.toMatchObject({
    code: 'ERR_OUT_OF_RANGE',
    message: expect.stringMatching(/options\.to\.port/),
  });
  await expect(net.forward(X.ns, { listen: { port: 70000 }, to: { host: '127.0.0.1', port: 1 } })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  await expect(net.forward(X.ns, { listen: { port: 0 }, to: { host: '127.0.0.1', port: 1 }, protocol: 'sctp' as never })).rejects.toMatchObject({
    code: 'ERR_INVALID_ARG_VALUE',
    message: expect.stringMatching(/options\.protocol/),
  });
  await expect(net.forward({} as never, { listen: { port: 0 }, to: { host: '127.0.0.1', port: 1 } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
});

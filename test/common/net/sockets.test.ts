// UDP and abstract Unix sockets made inside a net namespace the test made
// (root: unshare -n; rootless: unshare -U -r -n), used from Node in ours.
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as nodeNet from 'node:net';

import { net } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { netnsFixture, type NetnsFixture } from '../../helpers/netns';

let before: Snapshot;
let X: NetnsFixture;
const rootless = process.getuid!() !== 0;
const name = `nsjs-test-${process.pid}`;

beforeEach(async () => {
  before = snapshot();
  X = await netnsFixture(rootless ? ['-U', '-r', '-n'] : ['-n']);
  net.linkUp(X.ns, 'lo');
});
afterEach(async () => {
  await X.dispose();
  await expectNoLeaks(before);
});

test('an abstract Unix socket inside: reached from inside, not from our namespace', async () => {
  const server = await net.listen(X.ns, { path: name }, (s) => s.end('hello over unix'));
  try {
    const c = await net.connect(X.ns, { path: name });
    let text = '';
    c.on('data', (d) => (text += d));
    await once(c, 'end');
    c.destroy();
    expect(text).toBe('hello over unix');
    // The same name in our namespace is another socket: nothing listens there.
    const ours = nodeNet.connect(`\0${name}`);
    expect((await once(ours, 'error'))[0]).toMatchObject({ code: 'ECONNREFUSED' });
    await expect(net.connect(X.ns, { path: `${name}-none` })).rejects.toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect', step: `connect @${name}-none in ${X.ns}` });
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('UDP sockets inside exchange datagrams over its 127.0.0.1; ours do not reach them', async () => {
  const a = await net.createSocket(X.ns, { type: 'udp4', address: '127.0.0.1' });
  const b = await net.createSocket(X.ns, { type: 'udp4' });
  try {
    const { port } = a.address();
    b.send('ping', port, '127.0.0.1');
    const [msg, rinfo] = await once(a, 'message');
    expect(String(msg)).toBe('ping');
    a.send('pong', rinfo.port, rinfo.address);
    expect(String((await once(b, 'message'))[0])).toBe('pong');
    // A datagram of ours to the same 127.0.0.1:port goes to our own lo: a's next one is b's marker, sent after it.
    const ours = dgram.createSocket('udp4');
    await new Promise<void>((r) => ours.send('from our namespace', port, '127.0.0.1', () => r()));
    ours.close();
    b.send('marker', port, '127.0.0.1');
    expect(String((await once(a, 'message'))[0])).toBe('marker');
    // v6 as well.
    const c = await net.createSocket(X.ns, { type: 'udp6', address: '::1' });
    try {
      const d = await net.createSocket(X.ns, { type: 'udp6' });
      d.send('six', c.address().port, '::1');
      expect(String((await once(c, 'message'))[0])).toBe('six');
      d.close();
    } finally {
      c.close();
    }
  } finally {
    a.close();
    b.close();
  }
});

test('bad socket options are refused', async () => {
  await expect(net.listen(X.ns, { path: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.path/) });
  await expect(net.listen(X.ns, { path: 'x', port: 1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.port/) });
  await expect(net.connect(X.ns, { path: 'x'.repeat(108) })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  await expect(net.createSocket(X.ns, { type: 'udp5' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.type/) });
  await expect(net.createSocket(X.ns, { type: 'udp4', address: '::1' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/IPv4/) });
  await expect(net.createSocket(X.ns, { type: 'udp4', address: '169.254.99.1' })).rejects.toMatchObject({ code: 'EADDRNOTAVAIL', syscall: 'bind' });
});

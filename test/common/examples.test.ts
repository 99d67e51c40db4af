// The README's examples, run as users run them (`node examples/x.mjs`, which
// imports 'nsjs' by the package's own name, so the built dist/ is what runs),
// as root and as an ordinary user, so that they never rot. The "container"
// that join-container.mjs enters is an unshare(1) fixture.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { expectNoLeaks, links, snapshot, type Snapshot } from '../helpers/leaks';

const root = path.join(__dirname, '..', '..');
const example = (name: string, ...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'examples', name), ...args], { encoding: 'utf8', timeout: 20000, cwd: root });

let before: Snapshot;
beforeAll(() => {
  if (!fs.existsSync(path.join(root, 'dist', 'esm', 'index.mjs'))) throw new Error('dist/esm/index.mjs is missing: run `npm run build:ts` first');
});
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

test('every example has a test here', () => {
  const tested = ['rootless-sandbox.mjs', 'join-container.mjs', 'veth-pair.mjs', 'init-signals.mjs', 'list-namespaces.mjs'];
  expect(fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.mjs')).sort()).toEqual(tested.sort());
});

test('rootless-sandbox.mjs: root inside, its own hostname, sh is pid 1 of a fresh /proc, a private /tmp', () => {
  const r = example('rootless-sandbox.mjs');
  expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: 'uid 0 on sandbox, pid 1; pid 1 is sh\n', stderr: '' });
  expect(fs.existsSync('/tmp/scratch')).toBe(false);
});

test('join-container.mjs: enters the namespaces of an unshare(1) "container" by pid', async () => {
  const container = spawn('unshare', ['-r', '-u', 'sh', '-c', 'hostname container && echo ready && exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await once(container.stdout!, 'data');
    const r = example('join-container.mjs', String(container.pid), 'sh', '-c', 'echo "$(hostname) uid $(id -u)"');
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: 'container uid 0\n', stderr: '' });
    // Without a command it runs hostname; without a pid it says how to use it.
    expect(example('join-container.mjs', String(container.pid)).stdout).toBe('container\n');
    expect(example('join-container.mjs')).toMatchObject({ status: 1, stderr: expect.stringMatching(/usage: node join-container\.mjs PID/) });
  } finally {
    container.kill('SIGKILL');
    // 'close', not 'exit': its stdout pipe (a socket) is released only then.
    await once(container, 'close');
  }
});

test('veth-pair.mjs: a TCP hello across a veth between two namespaces, no link left on the host', () => {
  const hostLinks = links();
  const r = example('veth-pair.mjs');
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.stdout).toMatch(/^net:\[\d+\] received: hello from net:\[\d+\]\n$/);
  const [, b, a] = /^net:\[(\d+)\] received: hello from net:\[(\d+)\]/.exec(r.stdout)!;
  expect(a).not.toBe(b);
  expect(links()).toEqual(hostLinks);
});

test('init-signals.mjs: SIGTERM reaches sh through nsjs-init (pid 1); the status is sh\'s own', () => {
  const r = example('init-signals.mjs');
  expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
    status: 0,
    stdout: "pid 2, child 3\nexit: { code: null, signal: 'SIGTERM' }\n",
    stderr: '',
  });
});

test('list-namespaces.mjs: the namespaces in /proc, ours among them', () => {
  const r = example('list-namespaces.mjs');
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  const lines = r.stdout.trimEnd().split('\n');
  const ourNet = fs.readlinkSync('/proc/self/ns/net');
  expect(lines.at(-1)).toMatch(new RegExp(`^this process is in ${ourNet.replace(/[[\]]/g, '\\$&')}, shared with \\d+ other processes$`));
  for (const type of ['mnt', 'net', 'pid', 'user', 'uts']) {
    const inode = /\[(\d+)\]/.exec(fs.readlinkSync(`/proc/self/ns/${type}`))![1];
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${type} +${inode} +\\d+ processes, first \\d+ \\(`)));
  }
});

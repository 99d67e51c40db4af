// A command's own Landlock in a sandbox (issue 21: a narrower policy per
// command, never a wider one): a second ruleset enforced after the
// sandbox's, attacked from inside as root and as an ordinary user. Rules
// asking for what the sandbox's do not give are refused before anything
// starts; what a rule's path turns out to name gains nothing either.
import { Sandbox } from '../../../lib';
import { landlockAbi } from '../../../lib/policy/landlock';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

// What sh and coreutils need to start, and /proc for /proc/self/root.
const SYSTEM = ['/usr', '/lib', '/lib64', '/bin', '/etc', '/proc'];
// The sandbox writes only in /tmp/w; /tmp/other, a mount of its own, it may only read.
const box = () =>
  Sandbox.create({
    namespaces: ['user', 'mnt'],
    user: 'root',
    mounts: [
      { type: 'tmpfs', target: '/tmp' },
      { type: 'tmpfs', target: '/tmp/w' },
      { type: 'tmpfs', target: '/tmp/other' },
    ],
    landlock: { read: [...SYSTEM, '/tmp'], write: ['/tmp/w'], connect: [443] },
  });

// Every way of changing /tmp/w from a shell, each saying whether it got through.
const ATTACK = [
  'echo b > /tmp/w/b',
  'echo b >> /tmp/w/a',
  'true > /tmp/w/a',
  'touch /tmp/w/c',
  'mkdir /tmp/w/d',
  'ln -s a /tmp/w/e',
  'ln /tmp/w/a /tmp/w/f',
  'mv /tmp/w/a /tmp/w/g',
  'rm /tmp/w/a',
  'mkfifo /tmp/w/h',
  'echo b > /proc/self/root/tmp/w/i',
]
  .map((c) => `${c} 2>&- && echo through || echo refused`)
  .join('; ');

// A kernel without Landlock enforces neither ruleset: shown as skipped there, never as passed.
const withLandlock = landlockAbi() >= 1 ? test : test.skip;

withLandlock('a command given a read-only subset cannot write where the sandbox can, in any way', async () => {
  await using sb = await box();
  expect((await sb.run('sh', ['-c', 'echo a > /tmp/w/a && echo wrote'])).stdout).toBe('wrote\n');
  const r = await sb.run('sh', ['-c', ATTACK], { landlock: { read: [...SYSTEM, '/tmp'] } });
  expect(r.stdout).toBe('refused\n'.repeat(11));
  // Nothing changed, and the next command has the sandbox's rules again.
  expect((await sb.run('sh', ['-c', 'ls -A /tmp/w; cat /tmp/w/a; echo c > /tmp/w/c && echo wrote'])).stdout).toBe('a\na\nwrote\n');
});

withLandlock("the command's rules stack on the sandbox's: a path that a symlink turns elsewhere gains no right there", async () => {
  await using sb = await box();
  // A hostile earlier command leaves a link in the tree it may write to.
  expect((await sb.run('sh', ['-c', 'ln -s /tmp/other /tmp/w/link && echo linked'])).stdout).toBe('linked\n');
  // The rule names /tmp/w/link, inside the sandbox's writable tree as written, and is accepted;
  // the kernel opens it as /tmp/other, which only the sandbox's ruleset keeps read-only.
  const script = 'for f in /tmp/other/x /tmp/w/link/y /tmp/w/z; do echo x > $f 2>&- && echo through || echo refused; done; ls -A /tmp/other';
  const r = await sb.run('sh', ['-c', script], { landlock: { read: [...SYSTEM, '/tmp'], write: ['/tmp/w/link'] } });
  expect(r).toMatchObject({ code: 0, stdout: 'refused\nrefused\nrefused\n' });
});

withLandlock.each([
  ['write where the sandbox only reads', { write: ['/tmp/other'] }, /options\.landlock\.write\[0\]' would widen.*writeFile/],
  ['read outside its trees', { read: ['/tmp', '/home'] }, /options\.landlock\.read\[1\]' would widen.*readFile/],
  ['a path that climbs out of a writable tree', { write: ['/tmp/w/../other'] }, /options\.landlock\.write\[0\]' would widen/],
  ['execute outside its trees', { read: SYSTEM, execute: ['/bin', '/root'] }, /options\.landlock\.execute\[1\]' would widen.*execute/],
  ['a port it may not connect to', { read: SYSTEM, connect: [443, 80] }, /options\.landlock\.connect\[1\]' would widen/],
  ['no ruleset', false, /options\.landlock' would widen/],
])('refused before anything starts: %s', async (_, landlock, message) => {
  await using sb = await box();
  const cmd = { landlock } as Record<string, unknown>;
  for (const call of [() => sb.spawn('true', [], cmd), () => sb.run('true', [], cmd)])
    await expect(call()).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', name: 'TypeError', message: expect.stringMatching(message) });
  // Within the sandbox's (bind is left to it): accepted and enforced.
  const ok = await sb.run('sh', ['-c', 'echo x > /tmp/w/x && echo through || echo refused'], { landlock: { read: SYSTEM, write: ['/tmp/w/'], execute: ['/usr', '/bin'], connect: [443], bind: [8080] } });
  expect(ok.stdout).toBe('through\n');
});

withLandlock('a sandbox without Landlock: the command\'s ruleset is its only one, and holds', async () => {
  await using sb = await Sandbox.create({ namespaces: ['user', 'mnt'], user: 'root', mounts: [{ type: 'tmpfs', target: '/tmp' }] });
  const r = await sb.run('sh', ['-c', 'echo x > /tmp/x 2>&- && echo through || echo refused; head -c1 /bin/sh | wc -c || echo refused'], { landlock: { read: SYSTEM } });
  expect(r.stdout).toBe('refused\n1\n');
  expect((await sb.run('sh', ['-c', 'echo x > /tmp/x && echo through'])).stdout).toBe('through\n');
});

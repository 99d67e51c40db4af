// Sandbox credentials as real root, without a user namespace: ids outside
// our own hold in every command, and the real-root default drops every
// capability of each of them (issue 21).
import { Sandbox } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

test('uid/gid/groups hold in every command', async () => {
  await using sb = await Sandbox.create({ namespaces: ['uts', 'pid'], uid: 65534, gid: 65534, groups: [] });
  for (let i = 0; i < 2; i++) expect((await sb.run('id')).stdout).toBe('uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n');
  // Another uid is wider without CAP_SETUID (none is kept by default as real root).
  await expect(sb.run('id', [], { uid: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.uid' would widen/) });
});

test('real root keeps no capability in any command unless the sandbox keeps it; another uid is narrower with CAP_SETUID', async () => {
  await using sb = await Sandbox.create({ namespaces: ['uts', 'pid'] });
  expect((await sb.run('grep', ['CapEff', '/proc/self/status'])).stdout).toBe('CapEff:\t0000000000000000\n');
  await using su = await Sandbox.create({ namespaces: ['uts', 'pid'], capabilities: { keep: ['CAP_SETUID', 'CAP_SETGID'] } });
  expect((await su.run('id', ['-u'], { uid: 65534, gid: 65534, groups: [] })).stdout).toBe('65534\n');
});

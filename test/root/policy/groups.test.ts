// A change of uid or gid clears the supplementary groups unless `groups`
// says which (issue 13, item 5; as su, setpriv --init-groups and runc):
// before, a command made uid 1000 by a spawner in groups disk, sudo and
// users kept all three. The spawner here is a child Node process run by
// `setpriv --groups=6,27,100`, so the groups are real and ours are untouched.
// Where setgroups is refused (a user namespace with setgroups deny, new or
// joined) the groups stay and the spawn still succeeds.
import { spawnSync } from 'node:child_process';

import type { SpawnOptions } from '../../../lib';
import { joinFixture } from '../../helpers/join';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { withLib } from '../../helpers/node';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

/** The uid, gid and supplementary groups (as /proc shows them, one per group) of `sh` spawned with `options` by a Node process in groups 6, 27 and 100. */
function idsUnderGroups(options: SpawnOptions): string {
  const body = `nsjs.runIsolated('sh', ['-c', 'echo $(id -u) $(id -g) / $(grep ^Groups: /proc/self/status | cut -f2)'], ${JSON.stringify(options)})
    .then((r) => process.stdout.write(r.code === 0 ? r.stdout : 'exit ' + r.code + ': ' + r.stderr), (e) => process.stdout.write('error ' + e.message))`;
  const r = spawnSync('setpriv', ['--groups=6,27,100', process.execPath, '-e', withLib(body)], { encoding: 'utf8', timeout: 20000 });
  expect(r.stderr).toBe('');
  return r.stdout.trim();
}

test('the spawner really is in groups 6, 27 and 100, and a command without a new uid or gid keeps them', () => {
  expect(idsUnderGroups({})).toBe('0 0 / 6 27 100');
});

test('{ uid: 1000, gid: 1000 }: only group 1000', () => {
  expect(idsUnderGroups({ uid: 1000, gid: 1000 })).toBe('1000 1000 /');
});

test('{ uid: 1000 } alone: the gid stays, the groups go', () => {
  expect(idsUnderGroups({ uid: 1000 })).toBe('1000 0 /');
});

test('{ gid: 1000 } alone: the groups go too', () => {
  expect(idsUnderGroups({ gid: 1000 })).toBe('0 1000 /');
});

test('groups: [5] is honoured', () => {
  expect(idsUnderGroups({ uid: 1000, gid: 1000, groups: [5] })).toBe('1000 1000 / 5');
});

test('a new user namespace that allows setgroups clears them as well', () => {
  const all = [{ inside: 0, outside: 0, count: 65536 }];
  expect(idsUnderGroups({ namespaces: ['user'], user: { uidMap: all, gidMap: all, setgroups: 'allow' }, uid: 1000, gid: 1000 })).toBe('1000 1000 /');
});

test("a new user namespace with setgroups deny: the groups cannot change, so they stay (unmapped: 65534) and the spawn succeeds", () => {
  expect(idsUnderGroups({ namespaces: ['user'], user: 'root', uid: 0, gid: 0 })).toBe('0 0 / 65534 65534 65534');
});

test('a joined user namespace that denies setgroups: the same, as nsenter', async () => {
  const fixture = await joinFixture();
  try {
    expect(idsUnderGroups({ join: { pid: fixture.target, types: ['user'] }, uid: 0, gid: 0 })).toBe('0 0 / 65534 65534 65534');
  } finally {
    await fixture.dispose();
  }
});

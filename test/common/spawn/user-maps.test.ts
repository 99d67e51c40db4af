// Issue 23 items 1 and 2: which ids a new user namespace gives the command.
// 'none' writes no map (unshare -U), either map may be left out (unshare
// --map-user alone), and explicit maps run the command as 0 inside when they
// cover 0, else uid/gid must be given. As root and as an ordinary user, each
// compared with what util-linux's unshare gives for the same maps.
import { spawnSync } from 'node:child_process';

import { runIsolated } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const PROBE = 'echo "$(id -u) $(id -g) [$(tr -s " " < /proc/self/uid_map | tr "\\n" "|")] [$(tr -s " " < /proc/self/gid_map | tr "\\n" "|")] $(cat /proc/self/setgroups)"';
const uid = process.getuid!();
const gid = process.getgid!();
const unshare = (...args: string[]) => spawnSync('unshare', [...args, 'sh', '-c', PROBE], { encoding: 'utf8' }).stdout;

test("user: 'none': no map, every id the overflow id, setgroups allowed, as unshare -U", async () => {
  const r = await runIsolated('sh', ['-c', PROBE], { namespaces: ['user'], user: 'none' });
  expect(r).toMatchObject({ code: 0, stdout: '65534 65534 [] [] allow\n' });
  expect(r.stdout).toBe(unshare('-U'));
});

test('uidMap alone: gid stays unmapped and setgroups allowed, as unshare --map-user=0', async () => {
  const r = await runIsolated('sh', ['-c', PROBE], { namespaces: ['user'], user: { uidMap: [{ inside: 0, outside: uid, count: 1 }] } });
  expect(r).toMatchObject({ code: 0, stdout: `0 65534 [ 0 ${uid} 1|] [] allow\n` });
  expect(r.stdout).toBe(unshare('--map-user=0'));
});

test('gidMap alone: uid stays unmapped; setgroups deny where we write it ourselves, as unshare --map-group=0', async () => {
  const r = await runIsolated('sh', ['-c', PROBE], { namespaces: ['user'], user: { gidMap: [{ inside: 0, outside: gid, count: 1 }], setgroups: 'deny' } });
  expect(r).toMatchObject({ code: 0, stdout: `65534 0 [] [ 0 ${gid} 1|] deny\n` });
  expect(r.stdout).toBe(unshare('--map-group=0'));
});

test('explicit maps that cover 0: the command is uid 0 / gid 0 inside without uid/gid, as unshare -r', async () => {
  const user = { uidMap: [{ inside: 0, outside: uid, count: 1 }], gidMap: [{ inside: 0, outside: gid, count: 1 }] };
  const r = await runIsolated('sh', ['-c', 'id -u; id -g'], { namespaces: ['user'], user });
  expect(r).toMatchObject({ code: 0, stdout: '0\n0\n' });
});

test('explicit maps that do not cover 0: uid and gid must be given (ERR_INVALID_ARG_VALUE), and then are used', async () => {
  const user = { uidMap: [{ inside: 1000, outside: uid, count: 1 }], gidMap: [{ inside: 1000, outside: gid, count: 1 }] };
  await expect(runIsolated('true', [], { namespaces: ['user'], user })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.uid'") });
  await expect(runIsolated('true', [], { namespaces: ['user'], user, uid: 1000 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.gid'") });
  const r = await runIsolated('sh', ['-c', 'id -u; id -g'], { namespaces: ['user'], user, uid: 1000, gid: 1000 });
  expect(r).toMatchObject({ code: 0, stdout: '1000\n1000\n' });
});

test("user: 'self' keeps our ids, 'root' makes them 0", async () => {
  expect((await runIsolated('sh', ['-c', 'id -u'], { namespaces: ['user'], user: 'self' })).stdout).toBe(`${uid}\n`);
  expect((await runIsolated('sh', ['-c', 'id -u'], { namespaces: ['user'], user: 'root' })).stdout).toBe('0\n');
});

test("user: 'auto' without a /etc/subuid range of ours is ERR_INVALID_ARG_VALUE, before anything runs", async () => {
  const name = require('node:os').userInfo().username as string;
  let text = '';
  try {
    text = require('node:fs').readFileSync('/etc/subuid', 'utf8');
  } catch {
    // none at all
  }
  if (text.split('\n').some((l) => l.startsWith(`${name}:`) || l.startsWith(`${uid}:`))) return; // this host gives us one: test/root/spawn/user-maps.test.ts
  await expect(runIsolated('true', [], { namespaces: ['user'], user: 'auto' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('/etc/subuid') });
});

test("bad values name what the option takes", async () => {
  await expect(runIsolated('true', [], { namespaces: ['user'], user: 'nobody' as never })).rejects.toMatchObject({
    code: 'ERR_INVALID_ARG_VALUE',
    message: expect.stringContaining("'root', 'self', 'auto', 'none'"),
  });
});

test('user.owner: validated before anything runs, naming the key; a pid namespace cannot be kept with it', async () => {
  const spawnWith = (user: unknown, more: object = {}) => runIsolated('true', [], { namespaces: ['user', 'pid'], user: user as never, ...more });
  await expect(spawnWith({ owner: 1000 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('options.user.owner') });
  await expect(spawnWith({ owner: { uid: -1, gid: 0 } })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.user.owner.uid') });
  await expect(spawnWith({ owner: { uid: 0, gid: 0.5 } })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.user.owner.gid') });
  await expect(spawnWith({ owner: { uid: 0, gid: 0, groups: [] } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.user.owner') });
  await expect(spawnWith({ owner: { uid, gid } }, { persist: { pid: '/nonexistent' } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.persist.pid') });
});

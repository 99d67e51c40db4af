// As an ordinary user: unshare --owner clears its supplementary groups
// before it becomes the owner (util-linux master, restated), which only
// root may: "setgroups failed: Operation not permitted", status 1, even
// for our own ids. nsjs's child fails at that step before it has made its
// user namespace, and the parent, waiting for it to say it has, reports
// the child's failure, not its own.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { NsError, runIsolated } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const bin = path.join(__dirname, '..', '..', '..', 'bin', 'nsjs.js');
const uid = process.getuid!();
const gid = process.getgid!();

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

test('the API: EPERM at the owner\'s setgroups, reported from the child, nothing left', async () => {
  const e = await runIsolated('true', [], { namespaces: ['user', 'net'], user: { owner: { uid, gid }, uidMap: [{ inside: 0, outside: uid, count: 1 }] } }).catch((err: unknown) => err);
  expect(e).toBeInstanceOf(NsError);
  expect(e).toMatchObject({ code: 'EPERM', syscall: 'setgroups', step: 'setgroups (owner)' });
});

test('nsjs run --owner: status 1, unshare\'s words on stderr', () => {
  const r = spawnSync(process.execPath, [bin, 'run', `--owner=${uid}:${gid}`, 'echo', 'ran'], { encoding: 'utf8', timeout: 20000 });
  expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 1, stdout: '', stderr: 'nsjs: setgroups failed: Operation not permitted\n' });
});

// Landlock built in but off at boot (issue 15 items 3 and 6), simulated by
// the test build (testLandlockAbi(0): landlock_create_ruleset's EOPNOTSUPP):
// features() says so with the fix, `require: true` fails before anything
// starts, and without it the rules are left out (best effort).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { features, runIsolated } from '../../../lib';
import { native } from '../../../lib/core/native';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

// Before landlockAbi()'s first call, which caches the answer.
native().testLandlockAbi!(0);

let before: Snapshot;
let dir: string;
beforeEach(() => {
  before = snapshot();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-landlock-off-'));
});
afterEach(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await expectNoLeaks(before);
});

test('features() reports Landlock off at boot with its fix; require: true refuses, naming it; without require the rules are left out', async () => {
  expect(native().faultInjection).toBe(true);
  expect((await features()).features.landlock).toMatchObject({ ok: false, abi: 0, code: 'EOPNOTSUPP', fix: 'add landlock to the lsm= boot parameter' });
  const landlock = { read: ['/usr', '/lib', '/lib64', '/bin', '/etc'], write: [path.join(dir, 'rw')] };
  const refused = await runIsolated('sh', ['-c', `touch ${dir}/started`], { landlock: { ...landlock, require: true } }).then(() => undefined, (e: unknown) => e);
  expect(refused).toMatchObject({ code: 'ENOTSUP', syscall: 'landlock_create_ruleset', message: expect.stringContaining('this kernel has no Landlock') });
  expect(fs.readdirSync(dir)).toEqual([]);
  expect((await runIsolated('sh', ['-c', `echo b > ${dir}/outside && echo wrote`], { landlock })).stdout).toBe('wrote\n');
});

// options.cgroup as an ordinary user without a delegated cgroup (CI: uid
// 65534; here the v1 controllers are root's and so is the cgroup2 root):
// the spawn fails with EACCES and says what to delegate, rather than run the
// command without its limits, and nothing is started or left behind.
import { NsError, spawnIsolated } from '../../../lib';
import { children, expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeAll(() => {
  if (process.getuid!() === 0) throw new Error('rootless tests must run as an ordinary user (CI: uid 65534)');
});
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

test.each([
  ['a memory limit', { memory: { max: '32M' } }],
  ['a pids limit', { pids: { max: 8 } }],
  ['no limit (kill and freeze only)', {}],
])('%s without a delegated cgroup: EACCES with the fix, nothing run', async (_, cgroup) => {
  const err = await spawnIsolated('sh', ['-c', 'echo ran'], { namespaces: ['user'], cgroup }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NsError);
  expect(err).toMatchObject({ code: 'EACCES', syscall: 'mkdir' });
  expect((err as NsError).step).toMatch(/^make cgroup \/sys\/fs\/cgroup\//);
  expect((err as NsError).message).toMatch(/Delegate=yes/);
  expect(children()).toEqual([]);
});

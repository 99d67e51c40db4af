// NODE_DEBUG=nsjs (util.debuglog): each spawn's plan, step by step, and what
// became of each step; nothing without it. Seen on a real Node process's
// stderr, as a user sees it.
import { spawnSync } from 'node:child_process';

import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { packageCopy, type PackageCopy } from '../../helpers/package';

let pkg: PackageCopy;
let before: Snapshot;
beforeAll(() => {
  pkg = packageCopy();
});
afterAll(() => pkg.dispose());
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const SCRIPT = (index: string) => `
  const nsjs = require(${JSON.stringify(index)});
  const userns = process.getuid() === 0 ? [] : ['user'];
  (async () => {
    await nsjs.runIsolated('true', [], { namespaces: [...userns, 'mnt'], mounts: [{ type: 'tmpfs', target: '/tmp' }] });
    await nsjs.spawnIsolated('true', [], { namespaces: [...userns, 'mnt'], mounts: [{ type: 'tmpfs', target: '/nsjs/no/such' }] }).catch(() => {});
  })();
`;

const run = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, ['-e', SCRIPT(pkg.index)], { encoding: 'utf8', env: { ...process.env, ...env } });

test('NODE_DEBUG=nsjs logs every step, ok up to the one that failed, its code, and not run after', () => {
  const r = run({ NODE_DEBUG: 'nsjs' });
  expect(r.status).toBe(0);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('NSJS '));
  const [ok, failed] = [lines.findIndex((l) => / spawn true \[\]: \d+ steps$/.test(l)), lines.findLastIndex((l) => / spawn true \[\]: \d+ steps$/.test(l))];
  expect(failed).toBeGreaterThan(ok);
  const first = lines.slice(ok + 1, failed);
  expect(first.at(-1)).toMatch(/: spawn true: started, pid \d+$/);
  expect(first.slice(0, -1).every((l) => /^NSJS \d+: {3}\d+ .*: ok$/.test(l))).toBe(true);
  expect(first).toEqual(expect.arrayContaining([expect.stringMatching(/ mount \/tmp \(\w+ \/tmp\): ok$/), expect.stringMatching(/ execve \(execve true\): ok$/)]));
  const second = lines.slice(failed + 1);
  const results = second.slice(0, -1).map((l) => l.slice(l.lastIndexOf(': ') + 2));
  const at = results.indexOf('ENOENT');
  expect(second[at]).toMatch(/ mount \/nsjs\/no\/such \(openat2 \/nsjs\/no\/such\): ENOENT$/);
  expect([...new Set(results.slice(0, at))]).toEqual(['ok']);
  expect([...new Set(results.slice(at + 1))]).toEqual(['not run']);
  expect(second.at(-1)).toMatch(/: spawn true: failed: ENOENT: .*step: mount \/nsjs\/no\/such/);
});

test('without NODE_DEBUG (or with another section) nothing is printed', () => {
  for (const env of [{ NODE_DEBUG: '' }, { NODE_DEBUG: 'net,http' }]) {
    const r = run(env);
    expect({ status: r.status, stderr: r.stderr.split('\n').filter((l) => l.includes('NSJS')) }).toEqual({ status: 0, stderr: [] });
  }
});

// As root: explicit maps no longer leave the command host uid 0 (issue 23
// item 1), and 'auto' / ranged maps of an unprivileged caller go through
// newuidmap/newgidmap with its /etc/subuid ranges (a private /etc/subuid is
// bind-mounted for the test; the test runs in a private mount namespace).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { runIsolated } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

test('a map of 0 → 100000 without uid: the command is uid 0 inside, 100000 outside, and cannot write a root-owned directory', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-userns-'));
  fs.chmodSync(dir, 0o755);
  try {
    const user = { uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: 100000, count: 65536 }] };
    const r = await runIsolated('sh', ['-c', `id -u; grep ^Uid: /proc/self/status | tr -s '\\t' ' '; touch ${dir}/x 2>/dev/null && echo wrote || echo refused`], { namespaces: ['user'], user });
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout.split('\n')[0]).toBe('0');
    expect(r.stdout.split('\n')[2]).toBe('refused');
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const newuidmap = ['/usr/bin/newuidmap', '/bin/newuidmap'].find((p) => fs.existsSync(p));
// Needs Debian's setuid newuidmap/newgidmap (uidmap, installed by .ci/run); without them these show as skipped.
(newuidmap ? describe : describe.skip)('unprivileged ranges through newuidmap/newgidmap (uid 65534, subuid 200000:65536)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-subid-'));
  const root = path.join(__dirname, '..', '..', '..');
  beforeAll(() => {
    fs.chmodSync(dir, 0o755);
    for (const f of ['subuid', 'subgid']) {
      fs.writeFileSync(path.join(dir, f), 'nobody:200000:65536\n', { mode: 0o644 });
      fs.writeFileSync(path.join(dir, `${f}.target`), '');
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  /** `script` in node as uid 65534, with our /etc/subuid and /etc/subgid in a mount namespace of its own. */
  const asNobody = (script: string) => {
    const bind = ['subuid', 'subgid'].map((f) => `mount --bind ${dir}/${f} /etc/${f}`).join(' && ');
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${bind} && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$0" -e "$1"`, process.execPath, script], {
      encoding: 'utf8',
      cwd: root,
      timeout: 20000,
    });
    return r;
  };
  const PROBE = `require('./dist/cjs').runIsolated('sh', ['-c', 'echo "$(id -u) $(id -g) [$(tr -s " " < /proc/self/uid_map | tr "\\\\n" "|")] [$(tr -s " " < /proc/self/gid_map | tr "\\\\n" "|")] $(cat /proc/self/setgroups)"'], OPTIONS).then((r) => process.stdout.write(r.stdout + r.stderr), (e) => process.stdout.write(e.code + ' ' + e.message))`;
  test("user: 'auto': root to us, 1… to our ranges, as unshare --map-auto -r (util-linux master)", () => {
    const r = asNobody(PROBE.replace('OPTIONS', "{ namespaces: ['user'], user: 'auto' }"));
    expect(r.stdout).toBe('0 0 [ 0 65534 1| 1 200000 65536|] [ 0 65534 1| 1 200000 65536|] allow\n');
  });
  test('a ranged map of ours through the helpers, as unshare --map-auto', () => {
    const m = '[{ inside: 0, outside: 200000, count: 65536 }]';
    const r = asNobody(PROBE.replace('OPTIONS', `{ namespaces: ['user'], user: { uidMap: ${m}, gidMap: ${m} } }`));
    expect(r.stdout).toBe('0 0 [ 0 200000 65536|] [ 0 200000 65536|] allow\n');
    const theirs = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount --bind ${dir}/subuid /etc/subuid && mount --bind ${dir}/subgid /etc/subgid && exec setpriv --reuid=65534 --regid=65534 --clear-groups unshare --map-users=0,200000,65536 --map-groups=0,200000,65536 cat /proc/self/uid_map`], { encoding: 'utf8' });
    if (theirs.status === 0) expect(theirs.stdout.trim().split(/\s+/)).toEqual(['0', '200000', '65536']);
  });
  test('a range that is not ours: newuidmap refuses, the spawn fails with EPERM and nothing runs', () => {
    const m = '[{ inside: 0, outside: 300000, count: 10 }]';
    const r = asNobody(PROBE.replace('OPTIONS', `{ namespaces: ['user'], user: { uidMap: ${m}, gidMap: ${m} } }`));
    expect(r.stdout).toMatch(/^EPERM /);
  });
});

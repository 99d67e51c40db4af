// idmap: true (issue 16): the parent idmaps a clone of the source through
// the sandbox's user namespace and hands it to the child, which attaches it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NsError, runIsolated, spawnIsolated } from '../../../lib';
import { expectNoLeaks, snapshot } from '../../helpers/leaks';

const ranged = { uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: 100000, count: 65536 }] };
const env = { PATH: '/usr/bin:/bin' };

function hostDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-idmap-'));
  fs.writeFileSync(path.join(dir, 'f'), 'x');
  return dir;
}

test('a directory of host uid 0 under a map 0 → 100000: owned by 0 and writable inside with idmap, nobody without', async () => {
  const before = snapshot();
  const dir = hostDir();
  try {
    const script = `stat -c %u:%g /srv /srv/f; echo y > /srv/new && echo wrote; id -u`;
    const mapped = await runIsolated('sh', ['-c', script], { namespaces: ['user', 'mnt'], user: ranged, env, mounts: [{ type: 'bind', source: dir, target: '/srv', idmap: true }] });
    expect(mapped.stdout).toBe('0:0\n0:0\nwrote\n0\n');
    // Written as uid 0 inside, stored as the host's uid 0.
    expect(fs.statSync(path.join(dir, 'new'))).toMatchObject({ uid: 0, gid: 0 });
    fs.rmSync(path.join(dir, 'new'));
    const plain = await runIsolated('sh', ['-c', `stat -c %u:%g /srv; echo y > /srv/new 2>/dev/null && echo wrote; true`], { namespaces: ['user', 'mnt'], user: ranged, env, mounts: [{ type: 'bind', source: dir, target: '/srv' }] });
    expect(plain.stdout).toBe('65534:65534\n');
    expect(fs.readdirSync(dir)).toEqual(['f']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await expectNoLeaks(before);
});

test('hostile, uid 0 inside: a readonly idmapped bind takes no write, not even as the owner', async () => {
  const before = snapshot();
  const dir = hostDir();
  try {
    const script = `echo y > /srv/f 2>/dev/null && echo wrote; touch /srv/new 2>/dev/null && echo made; chmod 4755 /srv/f 2>/dev/null && echo chmod; stat -c %u /srv/f`;
    const out = await runIsolated('sh', ['-c', script], { namespaces: ['user', 'mnt'], user: ranged, env, mounts: [{ type: 'bind', source: dir, target: '/srv', idmap: true, readonly: true }] });
    expect(out.stdout).toBe('0\n');
    expect(fs.readdirSync(dir)).toEqual(['f']);
    expect(fs.readFileSync(path.join(dir, 'f'), 'utf8')).toBe('x');
    expect(fs.statSync(path.join(dir, 'f')).mode & 0o7777).toBe(0o644);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await expectNoLeaks(before);
});

test('a filesystem that cannot be idmapped (proc): EINVAL at mount_setattr with a hint, nothing started, nothing left', async () => {
  const before = snapshot();
  const err = (await spawnIsolated('true', [], { namespaces: ['user', 'mnt', 'pid'], user: ranged, mounts: [{ type: 'bind', source: '/proc', target: '/mnt', idmap: true, recursive: false }] }).catch((e: unknown) => e)) as NsError;
  expect(err).toBeInstanceOf(NsError);
  expect(err).toMatchObject({ code: 'EINVAL', syscall: 'mount_setattr', step: 'mount /mnt: idmap /proc', path: '/proc', hint: expect.stringMatching(/filesystem of \/proc .*cannot be idmapped.*nothing was started/) });
  await expectNoLeaks(before);
});

test('optional: a missing source is skipped; a present one idmapped beside it', async () => {
  const before = snapshot();
  const dir = hostDir();
  try {
    // The skipped one sends the child an empty message: the next tree still lands on its own target.
    const out = await runIsolated('sh', ['-c', 'stat -c %u /srv/f; ls /media | wc -l'], {
      namespaces: ['user', 'mnt'],
      user: ranged,
      env,
      mounts: [
        { type: 'bind', source: path.join(dir, 'missing'), target: '/media', idmap: true, optional: true },
        { type: 'bind', source: dir, target: '/srv', idmap: true },
      ],
    });
    expect(out.stdout).toBe(`0\n${fs.readdirSync('/media').length}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await expectNoLeaks(before);
});

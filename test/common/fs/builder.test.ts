// The filesystem builder (issue 16, 23.4): a root from nothing, dir, file,
// symlink, mask, overlay, optional binds, a /dev with working ptys, and the
// rule that nsjs makes a missing path only on a filesystem it mounted in
// this spawn, never on a disk of the host. As root and as an ordinary user;
// each test checks it leaked nothing and changed nothing of the host's.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NsError, runIsolated, spawnIsolated, type Mount, type SpawnOptions } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { root, withUser } from '../../helpers/privilege';
import { rootfs, usrReadonly } from '../../helpers/rootfs';
import { testHooks } from '../../../lib/spawn/spawn';

let before: Snapshot;
let dir: string;
let topLevel: string[];
beforeEach(() => {
  before = snapshot();
  topLevel = fs.readdirSync('/').sort();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-builder-'));
  fs.chmodSync(dir, 0o755);
});
afterEach(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  expect(fs.readdirSync('/').sort()).toEqual(topLevel); // no mount point made on the host's /
  await expectNoLeaks(before);
});

const ENV = { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' };
/** Unprivileged, user: 'root' (unshare -r): uid 0 inside, so that what it makes is owned by 0 as with real root. */
const sandbox = { namespaces: withUser(['mnt', 'pid']), env: ENV, ...(root ? {} : { user: 'root' as const }) };
const tmpfsRoot = { type: 'tmpfs' } as const;

/** The host's /bin, /lib… as a root from nothing needs them: their symlinks where the host has /usr merged, else read-only binds that may be missing. */
function hostTop(): Mount[] {
  const out: Mount[] = [usrReadonly];
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const p = `/${name}`;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) out.push({ type: 'symlink', target: p, linkTo: fs.readlinkSync(p) });
    else out.push({ type: 'bind', source: p, target: p, readonly: true, optional: true });
  }
  return out;
}

/** Every path under `top` with its type and mode, to compare before and after. */
function listing(top: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      const full = path.join(p, e.name);
      out.push(`${path.relative(top, full)} ${fs.lstatSync(full).mode.toString(8)}`);
      if (e.isDirectory()) walk(full);
    }
  };
  walk(top);
  return out.sort();
}

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('it did not fail'); }, (e: unknown) => e as NsError);

test("a root from nothing (bwrap's one-liner): read-only binds, symlinks, a tmpfs, dirs, a file, proc and dev; python3 runs", async () => {
  const hostEtc = fs.readdirSync('/etc').sort();
  const out = await runIsolated(
    'sh',
    ['-c', 'cat /etc/motd.nsjs; stat -c "%a %u" /etc/motd.nsjs /work /work/a/b /tmp; readlink /lib; ls /; python3 -c "print(6*7)"; touch /usr/x 2>&1 | grep -c Read-only'],
    {
      ...sandbox,
      root: tmpfsRoot,
      mounts: [
        ...hostTop(),
        { type: 'tmpfs', target: '/tmp', mode: 0o1777 },
        { type: 'dir', target: '/work/a/b', mode: 0o700 },
        { type: 'dir', target: '/var/empty' },
        { type: 'file', target: '/etc/motd.nsjs', content: 'hello from nothing\n', mode: 0o640 },
        { type: 'proc', target: '/proc' },
        { type: 'dev', target: '/dev' },
      ],
    },
  );
  const lines = out.stdout.trim().split('\n');
  expect(lines.slice(0, 5)).toEqual(['hello from nothing', '640 0', '755 0', '700 0', '1777 0']);
  expect(lines[5]).toBe(fs.lstatSync('/lib').isSymbolicLink() ? fs.readlinkSync('/lib') : '');
  expect(lines).toEqual(expect.arrayContaining(['dev', 'etc', 'proc', 'tmp', 'usr', 'var', 'work', '42', '1']));
  expect(lines).not.toContain('home');
  expect(fs.readdirSync('/etc').sort()).toEqual(hostEtc);
  // Nothing of the old root is left: only what mounts made is mounted.
  const info = await runIsolated('cat', ['/proc/self/mountinfo'], { ...sandbox, root: tmpfsRoot, mounts: [...hostTop(), { type: 'proc', target: '/proc' }, { type: 'dev', target: '/dev' }] });
  const points = new Set(info.stdout.trim().split('\n').map((l) => l.split(' ')[4]));
  const usrBelow = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((p) => p?.startsWith('/usr/'));
  const dev = ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm'].map((n) => `/dev/${n}`);
  const binds = hostTop().filter((m) => m.type === 'bind' && fs.existsSync((m as { source: string }).source)).map((m) => m.target);
  expect([...points].sort()).toEqual([...new Set(['/', ...binds, ...usrBelow, '/proc', '/dev', ...dev])].sort());
});

test('root.readonly: / is read-only once built, the mounts on it keep their own flags', async () => {
  const out = await runIsolated('sh', ['-c', 'touch /x 2>/dev/null && echo rw-root || echo ro-root; touch /tmp/x && echo rw-tmp'], {
    ...sandbox,
    root: { type: 'tmpfs', readonly: true, size: '1m', mode: 0o755 },
    mounts: [...hostTop(), { type: 'tmpfs', target: '/tmp' }],
  });
  expect(out.stdout).toBe('ro-root\nrw-tmp\n');
});

test('dir and file modes are exact whatever the umask; a file holds a Buffer with NULs as it is', async () => {
  const umask = process.umask(0o777);
  try {
    const out = await runIsolated('sh', ['-c', 'stat -c %a /d /d/f /s; od -An -tx1 /d/f | tr -d " \\n"'], {
      ...sandbox,
      root: tmpfsRoot,
      mounts: [
        ...hostTop(),
        { type: 'dir', target: '/d', mode: 0o777 },
        { type: 'file', target: '/d/f', content: Buffer.from([0, 1, 255, 0, 10]), mode: 0o666 },
        { type: 'dir', target: '/s', mode: 0o1777 },
      ],
    });
    expect(out.stdout).toBe('777\n666\n1777\n0001ff000a');
  } finally {
    process.umask(umask);
  }
});

test('device: mknod with the exact mode and owner whatever the umask (real root); in a user namespace the kernel refuses it (EPERM)', async () => {
  const mounts: Mount[] = [...hostTop(), { type: 'tmpfs', target: '/d' }, { type: 'device', target: '/d/n', kind: 'c', major: 1, minor: 3, mode: 0o640, uid: 0, gid: 0 }, { type: 'device', target: '/d/f', kind: 'p', mode: 0o707 }];
  const old = process.umask(0o077);
  try {
    const run = runIsolated('stat', ['-c', '%F %t:%T %a %u', '/d/n', '/d/f'], { ...sandbox, root: tmpfsRoot, mounts });
    if (!root) {
      await expect(run).rejects.toMatchObject({ code: 'EPERM', syscall: 'mknodat' });
      return;
    }
    expect((await run).stdout).toBe('character special file 1:3 640 0\nfifo 0:0 707 0\n');
  } finally {
    process.umask(old);
  }
});

test('on a disk of the host nothing is made: a missing target is ENOENT, a builder there is refused, and the host directory is unchanged', async () => {
  const r = rootfs(dir, ['usr', 'etc']);
  const host = path.join(dir, 'host');
  fs.mkdirSync(host);
  fs.symlinkSync(host, path.join(r, 'out')); // leads out of the root, as the host sees it
  const hostBefore = listing(host);
  const rootBefore = listing(r);
  const tries: [Mount, string, RegExp][] = [
    [{ type: 'tmpfs', target: '/new/x' }, 'ENOENT', /its target \/new\/x does not exist inside the root .*only where it made the parent/],
    [{ type: 'dir', target: '/etc/new' }, 'EROFS', /its parent is on a disk of the host/],
    [{ type: 'file', target: '/etc/new', content: 'x' }, 'EROFS', /its parent is on a disk of the host/],
    [{ type: 'symlink', target: '/etc/new', linkTo: '/x' }, 'EROFS', /its parent is on a disk of the host/],
    [{ type: 'dir', target: '/new/a/b' }, 'ENOENT', /its parent does not exist/],
    [{ type: 'bind', source: '/usr', target: '/out/usr' }, 'ENOENT', /does not exist inside the root/],
    [{ type: 'dir', target: '/out/d' }, 'ENOENT', /its parent does not exist/],
  ];
  for (const [m, code, hint] of tries) {
    const err = await failure(spawnIsolated('true', [], { ...sandbox, root: r, mounts: [usrReadonly, m] }));
    expect(err).toBeInstanceOf(NsError);
    expect({ target: m.target, code: err.code, hint: err.hint }).toEqual({ target: m.target, code, hint: expect.stringMatching(hint) });
  }
  expect(listing(host)).toEqual(hostBefore);
  expect(listing(r)).toEqual(rootBefore);
  // Below a tmpfs of the same mounts, the same paths are made.
  const out = await runIsolated('sh', ['-c', 'ls -d /etc/t/a/b /etc/t/f /etc/t/m'], {
    ...sandbox,
    root: r,
    mounts: [usrReadonly, { type: 'tmpfs', target: '/etc' }, { type: 'dir', target: '/etc/t/a/b' }, { type: 'file', target: '/etc/t/f', content: '' }, { type: 'tmpfs', target: '/etc/t/m' }],
  });
  expect(out.stdout).toBe('/etc/t/a/b\n/etc/t/f\n/etc/t/m\n');
  expect(listing(r)).toEqual(rootBefore);
});

test("a symlink on nsjs's tmpfs that leads into a bind of the host does not make the host's directory nsjs's", async () => {
  // The bind is writable, so only nsjs's own rule keeps it unchanged.
  const host = path.join(dir, 'host');
  fs.mkdirSync(host, { mode: 0o777 });
  fs.chmodSync(host, 0o777);
  const hostBefore = listing(host);
  const base: Mount[] = [...hostTop(), { type: 'bind', source: host, target: '/h' }, { type: 'symlink', target: '/l', linkTo: '/h' }];
  const tries: [Mount, string][] = [
    [{ type: 'dir', target: '/l/new' }, 'EROFS'],
    [{ type: 'file', target: '/l/new', content: 'x' }, 'EROFS'],
    [{ type: 'tmpfs', target: '/l/sub' }, 'ENOENT'],
    [{ type: 'dir', target: '/h/a/b' }, 'ENOENT'],
  ];
  for (const [m, code] of tries) {
    const err = await failure(spawnIsolated('true', [], { ...sandbox, root: tmpfsRoot, mounts: [...base, m] }));
    expect({ target: m.target, code: err.code }).toEqual({ target: m.target, code });
  }
  expect(listing(host)).toEqual(hostBefore);
});

test('a file over an existing directory, and a dir over a file of the host, say so', async () => {
  const dirErr = await failure(spawnIsolated('true', [], { ...sandbox, root: tmpfsRoot, mounts: [{ type: 'dir', target: '/d' }, { type: 'file', target: '/d', content: 'x' }] }));
  expect(dirErr).toMatchObject({ code: 'EISDIR', step: 'file /d', hint: expect.stringMatching(/is an existing directory/) });
  const hostFile = path.join(dir, 'f');
  fs.writeFileSync(hostFile, 'host');
  const bound = await failure(
    spawnIsolated('true', [], { ...sandbox, root: tmpfsRoot, mounts: [{ type: 'bind', source: hostFile, target: '/f' }, { type: 'file', target: '/f', content: 'x' }] }),
  );
  expect(bound).toMatchObject({ code: 'EEXIST', hint: expect.stringMatching(/not a file nsjs made/) });
  expect(fs.readFileSync(hostFile, 'utf8')).toBe('host');
});

test('overlay with an upper: writes land in upper, lower[0] is the top layer, the lowers never change', async () => {
  const [low1, low2, upper, work] = ['low1', 'low2', 'upper', 'work'].map((n) => path.join(dir, n));
  for (const d of [low1, low2, upper, work]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(low1, 'a'), 'top');
  fs.writeFileSync(path.join(low2, 'a'), 'bottom');
  fs.writeFileSync(path.join(low2, 'b'), 'b');
  if (!root) for (const d of [upper, work]) fs.chmodSync(d, 0o777);
  const lowers = [listing(low1), listing(low2)];
  const out = await runIsolated('sh', ['-c', 'cat /o/a /o/b; echo new > /o/c; echo changed > /o/b; rm /o/a; ls /o'], {
    ...sandbox,
    root: tmpfsRoot,
    mounts: [...hostTop(), { type: 'overlay', target: '/o', lower: [low1, low2], upper, work }],
  });
  expect(out.stdout).toBe('topbb\nc\n');
  expect([listing(low1), listing(low2)]).toEqual(lowers);
  expect(fs.readFileSync(path.join(upper, 'c'), 'utf8')).toBe('new\n');
  expect(fs.readFileSync(path.join(upper, 'b'), 'utf8')).toBe('changed\n');
  fs.chmodSync(path.join(work, 'work'), 0o700); // overlayfs makes it 000, which an ordinary user cannot remove
});

test('overlay without an upper: writes go to a throw-away tmpfs and vanish; the lower never changes', async () => {
  const low = path.join(dir, 'low');
  fs.mkdirSync(low);
  fs.writeFileSync(path.join(low, 'a'), 'a');
  const lower = listing(low);
  const script = 'echo x > /o/new && rm /o/a && ls /o';
  const options: SpawnOptions = { ...sandbox, root: tmpfsRoot, mounts: [...hostTop(), { type: 'overlay', target: '/o', lower: [low] }] };
  expect((await runIsolated('sh', ['-c', script], options)).stdout).toBe('new\n');
  expect((await runIsolated('ls', ['/o'], options)).stdout).toBe('a\n');
  expect(listing(low)).toEqual(lower);
});

test('an overlay failure names the layer that is missing', async () => {
  const missing = path.join(dir, 'nope');
  const err = await failure(spawnIsolated('true', [], { ...sandbox, mounts: [{ type: 'overlay', target: '/mnt', lower: ['/usr', missing] }] }));
  expect(err).toMatchObject({ code: 'ENOENT', path: missing, hint: expect.stringMatching(new RegExp(`its lowerdir ${missing} does not exist`)) });
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, '');
  const notDir = await failure(spawnIsolated('true', [], { ...sandbox, mounts: [{ type: 'overlay', target: '/mnt', lower: ['/usr'], upper: file, work: dir }] }));
  expect(notDir).toMatchObject({ code: 'ENOTDIR', hint: expect.stringMatching(/its upperdir .* is not a directory/) });
});

test('mask: an empty read-only tmpfs over a directory, /dev/null over a file, a missing path skipped', async () => {
  const secret = path.join(dir, 'secret');
  fs.mkdirSync(path.join(secret, 'd'), { recursive: true });
  fs.writeFileSync(path.join(secret, 'd', 'key'), 'k');
  fs.writeFileSync(path.join(secret, 'f'), 'password');
  const script = 'ls -A /s/d | wc -l; cat /s/f | wc -c; touch /s/d/x 2>/dev/null || echo ro; echo w > /s/f; cat /s/other';
  const out = await runIsolated('sh', ['-c', script], {
    ...sandbox,
    root: tmpfsRoot,
    mounts: [
      ...hostTop(),
      { type: 'bind', source: secret, target: '/s' },
      { type: 'file', target: '/s/other', content: 'seen\n' },
      { type: 'mask', target: '/s/d' },
      { type: 'mask', target: '/s/f' },
      { type: 'mask', target: '/s/missing/x' },
    ],
  }).catch((e: unknown) => e as NsError);
  // /s is a bind of the host's: a file cannot be made in it.
  expect(out).toMatchObject({ code: 'EROFS' });
  const masked = await runIsolated('sh', ['-c', script.replace('; cat /s/other', '')], {
    ...sandbox,
    root: tmpfsRoot,
    mounts: [...hostTop(), { type: 'bind', source: secret, target: '/s' }, { type: 'mask', target: '/s/d' }, { type: 'mask', target: '/s/f' }, { type: 'mask', target: '/s/missing/x' }],
  });
  expect(masked.stdout).toBe('0\n0\nro\n');
  expect(fs.readFileSync(path.join(secret, 'f'), 'utf8')).toBe('password');
  expect(fs.readdirSync(path.join(secret, 'd'))).toEqual(['key']);
});

test('optional binds are skipped when their source is missing; a required one says so', async () => {
  const missing = path.join(dir, 'nope');
  const out = await runIsolated('sh', ['-c', 'ls /; ls /there'], {
    ...sandbox,
    root: tmpfsRoot,
    mounts: [
      ...hostTop(),
      { type: 'bind', source: missing, target: '/gone', optional: true },
      { type: 'bind', source: missing, target: '/gone-ro', optional: true, readonly: true },
      { type: 'bind', source: dir, target: '/there', optional: true },
    ],
  });
  expect(out.stdout.split('\n')).not.toContain('gone');
  expect(out.stdout.split('\n')).not.toContain('gone-ro');
  expect(out.stdout).toMatch(/^there$/m);
  const err = await failure(spawnIsolated('true', [], { ...sandbox, root: tmpfsRoot, mounts: [{ type: 'bind', source: missing, target: '/gone' }] }));
  expect(err).toMatchObject({ code: 'ENOENT', syscall: 'open_tree', hint: expect.stringMatching(/optional: true skips/) });
});

test('dev: a program inside opens a pty of its own devpts (os.openpty, script), and sees no other', async () => {
  const py = 'import os; m, s = os.openpty(); print(os.ttyname(s)); print(sorted(os.listdir("/dev/pts")))';
  const out = await runIsolated('sh', ['-c', `python3 -c '${py}'; script -qc tty /dev/null < /dev/null | tr -d '\\r'; readlink /dev/ptmx /dev/fd`], {
    ...sandbox,
    namespaces: withUser(['mnt', 'pid', 'ipc']),
    root: tmpfsRoot,
    mounts: [...hostTop(), { type: 'proc', target: '/proc' }, { type: 'dev', target: '/dev' }, { type: 'mqueue', target: '/dev/mqueue' }],
  });
  expect(out.stdout).toBe("/dev/pts/0\n['0', 'ptmx']\n/dev/pts/0\npts/ptmx\n/proc/self/fd\n");
});

test('hostile: with no capabilities kept it cannot remount a read-only bind or / read-write, unmask, or write through them', async () => {
  const data = path.join(dir, 'data');
  fs.mkdirSync(data, { mode: 0o777 });
  fs.chmodSync(data, 0o777);
  fs.writeFileSync(path.join(data, 'f'), 'x');
  const script = `
    for how in "-o remount,bind,rw /data" "-o remount,rw /data" "-o remount,bind,rw /" "--bind /data /data"; do mount $how 2>/dev/null && echo "mounted $how"; done
    umount /data/f 2>/dev/null && echo unmasked; umount -l /data 2>/dev/null && echo unmounted
    echo y > /data/new 2>/dev/null && echo wrote; touch /x 2>/dev/null && echo wrote-root; cat /data/f | wc -c`;
  const out = await runIsolated('sh', ['-c', script], {
    ...sandbox,
    capabilities: { keep: [] },
    root: { type: 'tmpfs', readonly: true },
    mounts: [...hostTop(), { type: 'bind', source: data, target: '/data', readonly: true }, { type: 'mask', target: '/data/f' }],
  });
  expect(out.stdout.trim()).toBe('0');
  expect(fs.readdirSync(data)).toEqual(['f']);
  expect(fs.readFileSync(path.join(data, 'f'), 'utf8')).toBe('x');
});

describe.each([
  ['no openat2 (a walk by hand)', 1],
  ['no mount_setattr (a remount)', 2],
])('on the engine fallback %s', (_name, fallback) => {
  afterEach(() => {
    testHooks.mountFallback = 0;
  });
  test('a root from nothing with dirs, a file, a mask and paths made below a tmpfs', async () => {
    testHooks.mountFallback = fallback;
    const out = await runIsolated('sh', ['-c', 'ls /; cat /etc/f; stat -c %a /d /t/x/y; ls /usr/share | wc -l; touch /x 2>/dev/null || echo ro'], {
      ...sandbox,
      root: { type: 'tmpfs', readonly: true },
      mounts: [...hostTop(), { type: 'file', target: '/etc/f', content: 'f\n' }, { type: 'dir', target: '/d', mode: 0o700 }, { type: 'mask', target: '/usr/share' }, { type: 'tmpfs', target: '/t' }, { type: 'dir', target: '/t/x/y' }],
    });
    expect(out.stdout).toMatch(/^bin\n(.*\n)*d\netc\n(.*\n)*t\nusr\nf\n700\n755\n0\nro\n$/);
  });
});

test('without the mount API (mount(2) only) a tmpfs root is refused and says why', async () => {
  testHooks.mountFallback = 7;
  try {
    const err = await failure(spawnIsolated('true', [], { ...sandbox, root: tmpfsRoot }));
    expect(err).toMatchObject({ code: 'EXDEV', step: 'mount the tmpfs root', hint: expect.stringMatching(/needs the kernel's mount API/) });
  } finally {
    testHooks.mountFallback = 0;
  }
});

test("many tmpfs mounts: only those with later targets below them count against the child's table of 64", async () => {
  const stacked: Mount[] = Array.from({ length: 100 }, () => ({ type: 'tmpfs', target: '/t' }));
  const out = await runIsolated('ls', ['/t'], { ...sandbox, root: tmpfsRoot, mounts: [...hostTop(), ...stacked, { type: 'dir', target: '/t/d' }] });
  expect(out.stdout).toBe('d\n');
  const nested: Mount[] = Array.from({ length: 65 }, (_, i) => ({ type: 'tmpfs', target: `/n${'/n'.repeat(i)}` }));
  const err = await failure(spawnIsolated('true', [], { ...sandbox, root: tmpfsRoot, mounts: [...nested, { type: 'dir', target: `/n${'/n'.repeat(65)}` }] }));
  expect(err).toMatchObject({ code: 'ENOSPC', hint: expect.stringMatching(/more than 64 tmpfs or dev mounts/) });
});

describe('validation', () => {
  test('relative targets, a missing source, a type that is not one and root: tmpfs with a shared / are refused before anything starts', async () => {
    const bad: [unknown, string, RegExp][] = [
      [{ mounts: [{ type: 'dir', target: 'rel' }] }, 'ERR_INVALID_ARG_VALUE', /mounts\[0\]\.target.*absolute/],
      [{ mounts: [{ type: 'symlink', target: '/', linkTo: 'x' }] }, 'ERR_INVALID_ARG_VALUE', /below \//],
      [{ mounts: [{ type: 'bind', target: '/x' }] }, 'ERR_INVALID_ARG_TYPE', /mounts\[0\]\.source/],
      [{ mounts: [{ type: 'file', target: '/x' }] }, 'ERR_INVALID_ARG_TYPE', /mounts\[0\]\.content/],
      [{ mounts: [{ type: 'overlay', target: '/x', lower: [] }] }, 'ERR_INVALID_ARG_VALUE', /lower/],
      [{ mounts: [{ type: 'overlay', target: '/x', lower: ['/usr'], upper: '/tmp' }] }, 'ERR_INVALID_ARG_VALUE', /upper and work together/],
      [{ mounts: [{ type: 'raw', target: '/x' }] }, 'ERR_INVALID_ARG_TYPE', /fstype/],
      [{ root: { type: 'tmpfs' }, propagation: 'shared' }, 'ERR_INVALID_ARG_VALUE', /propagation.*'private' or 'slave'/],
      [{ root: { type: 'ext4' } }, 'ERR_INVALID_ARG_VALUE', /root\.type/],
      [{ mounts: [{ type: 'file', target: '/x', content: Buffer.alloc((16 << 20) + 1) }] }, 'ERR_OUT_OF_RANGE', /content/],
      [{ namespaces: ['mnt', 'pid'], user: undefined, mounts: [{ type: 'bind', source: '/usr', target: '/x', idmap: true }] }, 'ERR_INVALID_ARG_VALUE', /idmap.*needs a new user namespace/],
      [{ mounts: [{ type: 'device', target: '/x', kind: 'x' }] }, 'ERR_INVALID_ARG_VALUE', /mounts\[0\]\.kind/],
      [{ mounts: [{ type: 'device', target: '/x', kind: 'c', minor: 1 }] }, 'ERR_INVALID_ARG_TYPE', /mounts\[0\]\.major/],
      [{ mounts: [{ type: 'device', target: '/x', kind: 'b', major: 4096, minor: 0 }] }, 'ERR_OUT_OF_RANGE', /mounts\[0\]\.major/],
    ];
    for (const [options, code, message] of bad) {
      const err = (await spawnIsolated('true', [], { ...sandbox, ...(options as SpawnOptions) }).catch((e: unknown) => e)) as Error & { code: string };
      expect({ options, code: err.code, message: err.message }).toEqual({ options, code, message: expect.stringMatching(message) });
    }
  });

  test('the earlier raw form works with one deprecation warning', async () => {
    const { resetLegacyRawWarning } = await import('../../../lib/fs/options');
    resetLegacyRawWarning();
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      for (let i = 0; i < 2; i++) {
        const out = await runIsolated('stat', ['-f', '-c', '%T', '/mnt'], { ...sandbox, mounts: [{ type: 'ramfs', target: '/mnt' } as unknown as Mount] });
        expect(out.stdout).toBe('ramfs\n');
      }
      expect(warn.mock.calls).toEqual([[expect.stringMatching(/type: 'raw', fstype: 'ramfs'/), { type: 'DeprecationWarning', code: 'NSJS_DEP_RAW_MOUNT' }]]);
    } finally {
      warn.mockRestore();
    }
  });
});

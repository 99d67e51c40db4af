// As root: nsenter options util-linux gained after 2.38 (-e, --user-parent,
// -S/-G follow, --keep-caps) restated from util-linux master's behaviour, and
// -W/--wdns against Debian's nsenter 2.38, which has it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const bin = path.join(__dirname, '..', '..', '..', 'bin', 'nsjs.js');
const exec = (args: string[], env: NodeJS.ProcessEnv = process.env) => {
  const r = spawnSync(process.execPath, [bin, 'exec', ...args], { encoding: 'utf8', env, timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

let before: Snapshot;
let target: ChildProcess | undefined;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  if (target && target.exitCode === null && target.signalCode === null) {
    target.kill('SIGKILL');
    await once(target, 'exit');
  }
  target = undefined;
  await expectNoLeaks(before);
});

/** `argv` running, and the pid of its last process once `ready` says its setup is done. */
async function start(argv: string[], ready: (pid: number) => boolean): Promise<number> {
  target = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  const leaf = () => {
    let pid = target!.pid!;
    for (;;) {
      const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      if (!kids) return pid;
      pid = Number(kids.split(' ')[0]);
    }
  };
  for (let i = 0; i < 200; i++) {
    try {
      if (ready(leaf())) return leaf();
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('target never got ready');
}
const inode = (pid: number, type: string) => fs.statSync(`/proc/${pid}/ns/${type}`).ino;
const ours = (type: string) => fs.statSync(`/proc/self/ns/${type}`).ino;

test('-e: the target\'s environment, not ours', async () => {
  const pid = await start(['env', '-i', 'FOO=target', 'unshare', '-u', 'sleep', '30'], (p) => inode(p, 'uts') !== ours('uts') && fs.readFileSync(`/proc/${p}/comm`, 'utf8') === 'sleep\n');
  expect(exec(['-t', String(pid), '-u', '-e', 'sh', '-c', 'echo "$FOO"'], { ...process.env, FOO: 'mine' })).toEqual({ status: 0, stdout: 'target\n', stderr: '' });
});

test('-W/--wdns DIR: a directory of the entered mount namespace, as nsenter 2.38', async () => {
  const pid = await start(['unshare', '-m', 'sh', '-c', 'mount -t tmpfs none /mnt && mkdir /mnt/only-inside && exec sleep 30'], (p) => fs.readFileSync(`/proc/${p}/comm`, 'utf8') === 'sleep\n');
  const mine = exec(['-t', String(pid), '-m', '--wdns=/mnt/only-inside', 'pwd']);
  expect(mine).toEqual({ status: 0, stdout: '/mnt/only-inside\n', stderr: '' });
  expect(spawnSync('nsenter', ['-t', String(pid), '-m', '--wdns=/mnt/only-inside', 'pwd'], { encoding: 'utf8' }).stdout).toBe(mine.stdout);
  expect(exec(['-t', String(pid), '-m', '-w/', '--wdns=/tmp', 'pwd'])).toMatchObject({ status: 1, stderr: 'nsjs: mutually exclusive arguments: --wd --wdns\n' });
});

test('--user-parent: the parent of the target\'s user namespace', async () => {
  const pid = await start(['unshare', '-U', '-r', 'sh', '-c', 'exec unshare -U -r sleep 30'], (p) => fs.readFileSync(`/proc/${p}/comm`, 'utf8') === 'sleep\n' && fs.readFileSync(`/proc/${p}/uid_map`, 'utf8').trim() !== '');
  // neither the sleep's own user namespace nor ours: the one between
  const r = exec(['-t', String(pid), '--user-parent', '--preserve-credentials', 'readlink', '/proc/self/ns/user']);
  expect(r.status).toBe(0);
  expect(r.stdout).not.toBe(`user:[${inode(pid, 'user')}]\n`);
  expect(r.stdout).not.toBe(`user:[${ours('user')}]\n`);
  expect(r.stdout).toMatch(/^user:\[\d+\]\n$/);
});

test('-S follow / -G follow: the target\'s ids', async () => {
  const pid = await start(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '30'], (p) => fs.statSync(`/proc/${p}`).uid === 65534 && fs.readFileSync(`/proc/${p}/comm`, 'utf8') === 'sleep\n');
  expect(exec(['-t', String(pid), '-u', '-S', 'follow', '-G', 'follow', 'sh', '-c', 'id -u; id -g'])).toEqual({ status: 0, stdout: '65534\n65534\n', stderr: '' });
});

test('--keep-caps: the user namespace\'s capabilities stay, ambient too', async () => {
  const pid = await start(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', '-U', '--map-user=1', '-u', 'sleep', '30'], (p) => fs.readFileSync(`/proc/${p}/comm`, 'utf8') === 'sleep\n' && fs.readFileSync(`/proc/${p}/uid_map`, 'utf8').trim() !== '');
  const probe = ['sh', '-c', "grep CapAmb /proc/self/status | tr -s '\\t' ' '"];
  const last = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  const all = ((1n << BigInt(last + 1)) - 1n).toString(16).padStart(16, '0');
  const args = ['-t', String(pid), '-U', '-u', '--preserve-credentials'];
  const withCaps = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bin, 'exec', ...args, '--keep-caps', ...probe], { encoding: 'utf8' });
  expect(withCaps.stdout).toBe(`CapAmb: ${all}\n`);
});

// util-linux 2.40+ (Debian's 2.38 lacks it), restated: nsenter -c reads the
// first line of /proc/<target>/cgroup, and only where /sys/fs/cgroup is a
// cgroup2 mount writes its own pid to that path's cgroup.procs there, so
// that the program starts in it. This host is hybrid (the first line is
// name=systemd's), so the script makes a cgroup of the same name in
// name=systemd and in cgroup2, mounts cgroup2 on /sys/fs/cgroup in a mount
// namespace of its own, and removes both cgroups again.
describe('-c/--join-cgroup (util-linux 2.40+, restated)', () => {
  const inCgroup = (probe: string) =>
    spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `
      G=nsjs-join-cgroup-$$; mkdir /sys/fs/cgroup/systemd/$G /sys/fs/cgroup/unified/$G
      sleep 30 & P=$!
      echo $P > /sys/fs/cgroup/systemd/$G/cgroup.procs; echo $P > /sys/fs/cgroup/unified/$G/cgroup.procs
      mount -t cgroup2 none /sys/fs/cgroup
      ${probe}
      echo "rc $?"; kill $P; wait; umount /sys/fs/cgroup
      rmdir /sys/fs/cgroup/systemd/$G; [ ! -d /sys/fs/cgroup/unified/$G ] || rmdir /sys/fs/cgroup/unified/$G`], { encoding: 'utf8', env: { ...process.env, E: `${process.execPath} ${bin} exec` }, timeout: 20000 });
  const hybrid = fs.existsSync('/sys/fs/cgroup/systemd/cgroup.procs') && fs.existsSync('/sys/fs/cgroup/unified/cgroup.procs');
  test('the program starts in the target\'s cgroup; nothing on stderr', () => {
    if (!hybrid) return console.warn('skipped: needs the hybrid layout (name=systemd and cgroup2 at /sys/fs/cgroup/unified) this script builds on');
    const r = inCgroup('$E -t $P -c -u sh -c "grep ^0:: /proc/self/cgroup"');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^0::\/nsjs-join-cgroup-\d+\nrc 0\n$/);
  });
  test('the target\'s cgroup missing under /sys/fs/cgroup: failed to open cgroup.procs, status 1', () => {
    if (!hybrid) return console.warn('skipped: needs the hybrid layout');
    // (its name=systemd cgroup stays: the first line; the cgroup2 one is gone)
    const r = inCgroup('echo $P > /sys/fs/cgroup/cgroup.procs; rmdir /sys/fs/cgroup/$G; $E -t $P -c -u true');
    expect(r.stdout).toBe('rc 1\n');
    expect(r.stderr).toBe('nsjs: failed to open cgroup.procs: No such file or directory\n');
  });
  test('not cgroup2 at /sys/fs/cgroup: refused before anything runs, as nsenter', () => {
    const cgroup2 = fs.statfsSync('/sys/fs/cgroup').type === 0x63677270;
    const r = exec(['-t', String(process.pid), '-c', '-u', 'echo', 'ran']);
    if (cgroup2) return expect(r.status).toBe(0);
    expect(r).toEqual({ status: 1, stdout: '', stderr: 'nsjs: --join-cgroup is only supported in cgroup v2\n' });
  });
  test('needs a target', () => {
    expect(exec(['--uts=/proc/self/ns/uts', '-c', 'true']).stderr).toBe('nsjs: neither filename nor target pid supplied for cgroup\n');
  });
});

// -r/--root and -w/--wd, beside Debian's nsenter 2.38: the directories are
// opened before the joins (paths of ours, relative to our cwd; without a
// value the target's /proc/<pid>/root and cwd), then the child chroots to
// the root and changes to the wd; with -r alone it keeps the cwd it had.
describe('-r/--root and -w/--wd, as nsenter 2.38', () => {
  let dir: string;
  beforeEach(() => {
    // A root of ours only: busybox in a tmpfs that the target's mount namespace never sees.
    dir = fs.mkdtempSync('/tmp/nsjs-root-');
  });
  afterEach(() => {
    // lazily: a target chrooted in it may still run (the outer afterEach kills it)
    spawnSync('umount', ['-l', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const fill = () => {
    expect(spawnSync('mount', ['-t', 'tmpfs', 'none', dir]).status).toBe(0);
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.copyFileSync('/bin/busybox', path.join(dir, 'bin', 'busybox'));
    fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
    fs.writeFileSync(path.join(dir, 'only-ours'), '');
  };
  const both = (args: string[], cwd?: string) => {
    const mine = spawnSync(process.execPath, [bin, 'exec', ...args], { encoding: 'utf8', cwd, timeout: 20000 });
    const theirs = spawnSync('nsenter', args, { encoding: 'utf8', cwd, timeout: 20000 });
    expect({ status: mine.status, stdout: mine.stdout, stderr: mine.stderr }).toEqual({ status: theirs.status, stdout: theirs.stdout, stderr: theirs.stderr.replace(/^nsenter:/gm, 'nsjs:') });
    return { status: mine.status, stdout: mine.stdout, stderr: mine.stderr };
  };

  test('-r DIR -w DIR with -m: our DIR, unseen in the target\'s mount namespace, becomes the root and cwd', async () => {
    const pid = await start(['unshare', '-m', 'sleep', '30'], (p) => inode(p, 'mnt') !== ours('mnt') && fs.readFileSync(`/proc/${p}/comm`, 'utf8') === 'sleep\n');
    fill();
    expect(both(['-t', String(pid), '-m', `--root=${dir}`, `--wd=${dir}`, '/bin/busybox', 'sh', '-c', 'ls /; pwd'])).toEqual({ status: 0, stdout: 'bin\nonly-ours\nsub\n/\n', stderr: '' });
  });

  test('-r alone keeps the cwd (inside the new root here); -w DIR relative to ours, opened before the joins', async () => {
    const pid = await start(['unshare', '-u', 'sleep', '30'], (p) => inode(p, 'uts') !== ours('uts') && fs.readFileSync(`/proc/${p}/comm`, 'utf8') === 'sleep\n');
    fill();
    expect(both(['-t', String(pid), '-u', `--root=${dir}`, '/bin/busybox', 'pwd'], path.join(dir, 'sub'))).toEqual({ status: 0, stdout: '/sub\n', stderr: '' });
    expect(both(['-t', String(pid), '-u', `-r${dir}`, '-wsub', '/bin/busybox', 'pwd'], dir)).toEqual({ status: 0, stdout: '/sub\n', stderr: '' });
  });

  test('-r and -w without a value: the target\'s root and cwd', async () => {
    fill();
    const pid = await start(['unshare', '-u', 'chroot', dir, '/bin/busybox', 'sh', '-c', 'cd /sub && exec /bin/busybox sleep 30'], (p) => fs.readlinkSync(`/proc/${p}/cwd`) === path.join(dir, 'sub'));
    expect(both(['-t', String(pid), '-u', '-r', '-w', '/bin/busybox', 'sh', '-c', 'pwd; ls /'])).toEqual({ status: 0, stdout: '/sub\nbin\nonly-ours\nsub\n', stderr: '' });
  });

  test('a root that cannot be opened or is no directory: nsenter\'s words, status 1', async () => {
    const pid = await start(['unshare', '-u', 'sleep', '30'], (p) => inode(p, 'uts') !== ours('uts') && fs.readFileSync(`/proc/${p}/comm`, 'utf8') === 'sleep\n');
    expect(both(['-t', String(pid), '-u', '--root=/nonexistent', 'true'])).toMatchObject({ status: 1, stdout: '' });
    expect(both(['-t', String(pid), '-u', '--root=/etc/hostname', 'true'])).toMatchObject({ status: 1, stdout: '' });
    expect(both(['-t', String(pid), '-u', '--wd=/etc/hostname', 'true'])).toMatchObject({ status: 1, stdout: '' });
    expect(both(['--uts=/proc/self/ns/uts', '-r', 'true'])).toMatchObject({ status: 1, stdout: '' });
  });
});

// PID 1, time offsets and joining namespaces: as root and as an ordinary
// user (Namespace.create() is test/common/ns/create.test.ts). Each test
// checks for leaks.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Namespace, runIsolated, spawnIsolated } from '../../../lib';
import { initBinary } from '../../../lib/core/native';
import { joinFixture, type JoinFixture } from '../../helpers/join';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { withUser } from '../../helpers/privilege';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

describe('init: a minimal PID 1', () => {
  test('without init a shell as pid 1 ignores SIGTERM; with init the command gets it', async () => {
    const bare = await spawnIsolated('sh', ['-c', 'sleep 30'], { namespaces: withUser(['pid']), stdio: 'ignore' });
    await sleep(100);
    expect(bare.kill('SIGTERM')).toBe(true);
    await sleep(300);
    expect(bare.exitStatus).toBeNull(); // the kernel dropped it: pid 1 has no handler
    bare.kill('SIGKILL');
    expect(await bare.wait()).toEqual({ code: null, signal: 'SIGKILL' });

    const p = await spawnIsolated('sh', ['-c', 'sleep 30'], { namespaces: withUser(['pid']), init: true, stdio: 'ignore' });
    await sleep(100);
    p.kill('SIGTERM');
    expect(await p.wait()).toEqual({ code: null, signal: 'SIGTERM' });
  });

  test('the command is pid 2 and its handler sees forwarded signals', async () => {
    const p = await spawnIsolated('sh', ['-c', 'trap "echo got-usr1; exit 9" USR1; echo $$; while :; do sleep 0.05; done'], {
      namespaces: withUser(['pid']),
      init: true,
    });
    const out: string[] = [];
    p.stdout!.on('data', (d: Buffer) => out.push(String(d)));
    // Listen before the exit: the stream may close before wait() resolves.
    const closed = new Promise((r) => p.stdout!.once('close', r));
    while (!out.join('').includes('\n')) await sleep(20);
    p.kill('SIGUSR1');
    expect(await p.wait()).toEqual({ code: 9, signal: null });
    await closed;
    expect(out.join('')).toBe('2\ngot-usr1\n');
  });

  test("the command's own exit code and signal, never 128+n", async () => {
    expect(await runIsolated('sh', ['-c', 'exit 9'], { namespaces: withUser(['pid']), init: true })).toMatchObject({ code: 9, signal: null });
    expect(await runIsolated('sh', ['-c', 'kill -KILL $$'], { namespaces: withUser(['pid']), init: true })).toMatchObject({ code: null, signal: 'SIGKILL' });
  });

  test('orphans are reaped: no zombie in the namespace', async () => {
    // (sleep 0.1 &) orphans the sleep to pid 1, which must reap it.
    const r = await runIsolated('sh', ['-c', '(sleep 0.1 &); sleep 0.5; grep -l "^State:.*Z" /proc/[0-9]*/status | wc -l'], {
      namespaces: withUser(['pid', 'mnt']),
      mounts: [{ type: 'proc', target: '/proc' }],
      init: true,
    });
    expect(r).toMatchObject({ code: 0, stdout: '0\n' });
  });

  test('init runs when mounts hide its file: executed from its sealed copy, made before clone', async () => {
    const hidden = path.dirname(initBinary());
    const r = await runIsolated('sh', ['-c', `echo $$; ls -A ${hidden} | wc -l`], {
      namespaces: withUser(['pid', 'mnt']),
      init: true,
      mounts: [{ type: 'tmpfs', target: hidden }],
    });
    expect(r).toMatchObject({ code: 0, stdout: '2\n0\n' });
  });

  test('init is small: under 1 MiB resident', async () => {
    const p = await spawnIsolated('sleep', ['30'], { namespaces: withUser(['pid']), init: true, stdio: 'ignore' });
    try {
      const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'latin1'))![1]);
      expect(fs.readlinkSync(`/proc/${p.pid}/exe`)).toBe('/memfd:nsjs-init (deleted)');
      expect(rss).toBeLessThan(1024);
    } finally {
      p.kill('SIGKILL');
      await p.wait();
    }
  });

  test("a command that cannot be exec'd by init rejects like any other, leaving nothing", async () => {
    await expect(
      spawnIsolated('/no/such/command', [], { namespaces: withUser(['pid']), init: true }),
    ).rejects.toMatchObject({ code: 'ENOENT', step: 'execve', path: '/no/such/command' });
  });

  test('init without pid is refused before anything starts', async () => {
    await expect(spawnIsolated('true', [], { init: true })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/options\.init/) });
  });
});

test('time offsets: monotonic and boottime, seen in timens_offsets and /proc/uptime', async () => {
  const r = await runIsolated('sh', ['-c', 'cat /proc/self/timens_offsets; cut -d" " -f1 /proc/uptime'], {
    namespaces: withUser(['time']),
    timeOffsets: { monotonic: -60, boottime: 7 * 86400 },
  });
  const [mono, boot, uptime] = r.stdout.trim().split('\n');
  expect(mono.split(/\s+/)).toEqual(['monotonic', '-60', '0']);
  expect(boot.split(/\s+/)).toEqual(['boottime', '604800', '0']);
  expect(Number(uptime) - os.uptime()).toBeGreaterThan(7 * 86400 - 60);
});

describe('join', () => {
  let fixture: JoinFixture;
  let target: number;
  beforeEach(async () => {
    fixture = await joinFixture('hostname target');
    target = fixture.target;
  });
  afterEach(async () => {
    await fixture.dispose();
  });

  const probe = 'id -u; hostname; for t in user uts net ipc pid; do readlink /proc/self/ns/$t; done';

  test('by pid: the same namespaces as nsenter -t PID shows for those that differ', async () => {
    const ours = await runIsolated('sh', ['-c', probe], { join: { pid: target } });
    // Not -a: unprivileged, nsenter -a also re-enters our own cgroup
    // namespace (EPERM), and without --preserve-credentials it calls
    // setgroups, which the target's map denies.
    const flags = ['-U', '-p', '-u', '-n', '-i', '--preserve-credentials'];
    const theirs = spawnSync('nsenter', ['-t', String(target), ...flags, 'sh', '-c', probe], { encoding: 'utf8' });
    expect(theirs.status).toBe(0);
    expect(ours).toMatchObject({ code: 0, stdout: theirs.stdout });
    expect(ours.stdout.split('\n').slice(0, 2)).toEqual(['0', 'target']);
  });

  test('by Namespace objects, user first whatever the order given', async () => {
    const nss = (['uts', 'net', 'user'] as const).map((t) => Namespace.of(target, t));
    try {
      const r = await runIsolated('sh', ['-c', 'id -u; hostname; readlink /proc/self/ns/net'], { join: nss });
      expect(r).toMatchObject({ code: 0, stdout: `0\ntarget\n${fs.readlinkSync(`/proc/${target}/ns/net`)}\n` });
    } finally {
      for (const ns of nss) ns.close();
    }
  });

  test('the joined pid namespace holds the command, and it is still our child', async () => {
    const p = await spawnIsolated('sh', ['-c', 'echo $$; exec sleep 30'], { join: { pid: target, types: ['user', 'pid'] } });
    try {
      const line = await new Promise<string>((r) => p.stdout!.once('data', (d: Buffer) => r(String(d))));
      expect(Number(line)).toBeGreaterThan(1); // a pid inside the target's pid namespace
      expect(fs.readlinkSync(`/proc/${p.pid}/ns/pid`)).toBe(fs.readlinkSync(`/proc/${target}/ns/pid`));
      expect(Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'latin1'))![1])).toBe(process.pid);
    } finally {
      p.kill('SIGKILL');
      expect(await p.wait()).toEqual({ code: null, signal: 'SIGKILL' });
    }
  });

  test('new namespaces are made inside the joined ones', async () => {
    const r = await runIsolated('sh', ['-c', 'hostname; id -u'], { join: { pid: target }, namespaces: ['uts'], hostname: 'nested' });
    expect(r).toMatchObject({ code: 0, stdout: 'nested\n0\n' });
    const userOf = (pid: number | string) => fs.readlinkSync(`/proc/${pid}/ns/user`);
    const inner = await spawnIsolated('sleep', ['30'], { join: { pid: target }, namespaces: ['uts'], stdio: 'ignore' });
    try {
      using uts = inner.namespace('uts');
      using owner = uts.owner();
      expect(String(owner)).toBe(userOf(target));
    } finally {
      inner.kill('SIGKILL');
      await inner.wait();
    }
  });

  test('joining our own user namespace is skipped, not an error', async () => {
    const own = Namespace.current('user');
    try {
      expect(await runIsolated('id', ['-u'], { join: [own] })).toMatchObject({ code: 0, stdout: `${process.getuid!()}\n` });
    } finally {
      own.close();
    }
  });

  test('a pid that is gone is ESRCH; a file that is not a namespace is ENOTTY', async () => {
    const gone = spawnSync('true').pid!;
    await expect(spawnIsolated('true', [], { join: { pid: gone } })).rejects.toMatchObject({ code: 'ESRCH' });
    expect(() => Namespace.open('/etc/hostname')).toThrow(expect.objectContaining({ code: 'ENOTTY', path: '/etc/hostname' }));
    await expect(spawnIsolated('true', [], { join: ['/proc/self/ns/net'] as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  test('a new pid namespace inside a joined one is refused before anything starts; with our own pid namespace it is made', async () => {
    await expect(spawnIsolated('true', [], { join: { pid: target }, namespaces: ['pid'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
      message: expect.stringMatching(/options\.namespaces.*'pid'.*options\.join/),
    });
    // Without 'pid' in the joined types the new one is made from ours.
    const r = await runIsolated('sh', ['-c', 'echo $$; hostname'], { join: { pid: target, types: ['user', 'uts'] }, namespaces: ['pid'] });
    expect(r).toMatchObject({ code: 0, stdout: '1\ntarget\n' });
  });
});

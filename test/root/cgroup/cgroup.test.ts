// options.cgroup as root, on whatever layout this machine has (here the
// hybrid one: limits through v1, kill and freeze through a controller-less
// cgroup2). Every limit is shown to bite for real, and every test checks
// that no cgroup (and nothing else) is left behind.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { runIsolated, spawnIsolated, type Process } from '../../../lib';
import { testHooks } from '../../../lib/spawn/spawn';
import { cgroups, expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NOBODY = 65534;

/** The command's cgroup in each hierarchy, from its /proc/PID/cgroup, as directories under /sys/fs/cgroup. */
function dirsOf(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'latin1').trim().split('\n')) {
    const [, ctrl, p] = line.split(':');
    const mount = ctrl === '' ? '/sys/fs/cgroup/unified' : `/sys/fs/cgroup/${ctrl.replace(/^name=/, '')}`;
    out.set(ctrl === '' ? 'v2' : ctrl, path.join(mount, p));
  }
  return out;
}

/** Collects a stream's text. */
function text(stream: NodeJS.ReadableStream | null): Promise<string> {
  const chunks: Buffer[] = [];
  stream!.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve) => stream!.on('end', () => resolve(Buffer.concat(chunks).toString())));
}

test('memory.max 32M: a 200 MB allocation is OOM-killed, and the status says so', async () => {
  // dd fills one 200 MB buffer: every page is touched, so it is charged.
  const p = await spawnIsolated('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1'], { stdio: 'ignore', cgroup: { memory: { max: '32M' } } });
  const s = await p.wait();
  expect(s).toMatchObject({ code: null, signal: 'SIGKILL', oomKilled: true });
  expect(s.usage!.oomKills).toBeGreaterThanOrEqual(1);
  expect(s.usage!.memoryPeak).toBeGreaterThan(16 << 20);
  expect(s.usage!.memoryPeak).toBeLessThanOrEqual(32 << 20);
  // The same allocation without the limit succeeds (the test can fail).
  const free = await spawnIsolated('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1'], { stdio: 'ignore', cgroup: {} });
  const fs2 = await free.wait();
  expect(fs2.code).toBe(0);
  expect(fs2.oomKilled).toBeUndefined();
  expect(fs2.usage!.memoryPeak).toBeGreaterThan(190 << 20);
});

test('pids.max 8: a shell cannot fork its 20 background jobs, and the rest is killed at the end', async () => {
  // It reads its limit itself: under load it may have failed and exited before we look.
  const script = `cat /sys/fs/cgroup/pids$(sed -n 's/^[0-9]*:pids://p' /proc/self/cgroup)/pids.max >&3; for i in $(seq 20); do sleep 30 & echo $! >&3; done; wait`;
  const p = await spawnIsolated('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], cgroup: { pids: { max: 8 } } });
  const out = text(p.stdio[3] as NodeJS.ReadableStream);
  const err = text(p.stderr);
  const started = Date.now();
  const s = await p.wait();
  // dash gives up at the first fork that fails; its 7 sleeps are killed with the cgroup.
  expect(await err).toMatch(/fork/i);
  expect(s.code).not.toBe(0);
  const [max, ...jobs] = (await out).trim().split('\n');
  expect(max).toBe('8');
  // 8 tasks: the shell and 7 sleeps.
  expect(jobs.length).toBe(7);
  for (const pid of jobs) expect(alive(Number(pid))).toBe(false);
  expect(Date.now() - started).toBeLessThan(20_000);
});

test('cpu.max 0.2: a busy loop gets a fifth of a CPU, and cpu.stat counts the throttling', async () => {
  const p = await spawnIsolated('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore', cgroup: { cpu: { max: 0.2, weight: 50 } } });
  const cpu = dirsOf(p.pid).get('cpu')!;
  const v2 = fs.existsSync(`${cpu}/cpu.max`);
  if (v2) expect(fs.readFileSync(`${cpu}/cpu.max`, 'latin1').trim()).toBe('20000 100000');
  else {
    expect(fs.readFileSync(`${cpu}/cpu.cfs_quota_us`, 'latin1').trim()).toBe('20000');
    expect(fs.readFileSync(`${cpu}/cpu.shares`, 'latin1').trim()).toBe(String(2 + Math.floor((49 * 262142) / 9999)));
  }
  const start = await p.usage();
  const t0 = process.hrtime.bigint();
  await sleep(1000);
  const end = await p.usage();
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const used = end.cpuUserUs + end.cpuSystemUs - start.cpuUserUs - start.cpuSystemUs;
  expect(used).toBeGreaterThan(0);
  // 20% of the wall time, with room for a period's rounding.
  expect(used / wallUs).toBeLessThan(0.3);
  const throttled = /^nr_throttled ([0-9]+)$/m.exec(fs.readFileSync(`${cpu}/cpu.stat`, 'latin1'));
  expect(Number(throttled![1])).toBeGreaterThan(3);
  p.kill('SIGKILL');
  await p.wait();
});

test('usage(): positive figures while it runs; the cgroups exist then and are gone once wait() resolves', async () => {
  const p = await spawnIsolated('sh', ['-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 30'], { stdio: 'ignore', cgroup: { memory: { max: '64M' } } });
  const dirs = [...dirsOf(p.pid).entries()].filter(([k]) => ['v2', 'memory', 'pids'].includes(k)).map(([, d]) => d);
  expect(dirs.length).toBeGreaterThanOrEqual(2);
  for (const d of dirs) expect(path.basename(d)).toMatch(new RegExp(`^nsjs-${process.pid}-`));
  expect(cgroups().length).toBe(before.cgroups.length + dirs.length);
  await sleep(300);
  const u = await p.usage();
  expect(u.cpuUserUs + u.cpuSystemUs).toBeGreaterThan(0);
  expect(u.memoryPeak).toBeGreaterThan(0);
  expect(u.pids).toBe(2);
  expect(u.oomKills).toBe(0);
  p.kill('SIGKILL');
  const s = await p.wait();
  for (const d of dirs) expect(fs.existsSync(d)).toBe(false);
  expect(await p.usage()).toEqual(s.usage);
  expect(s.oomKilled).toBeUndefined();
});

test('freeze() stops a counting loop, thaw() lets it go on', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-freeze-'));
  const file = path.join(dir, 'n');
  const p = await spawnIsolated('sh', ['-c', `i=0; while :; do i=$((i+1)); echo $i > ${file}.t; mv ${file}.t ${file}; done`], { stdio: 'ignore', cgroup: {} });
  const count = () => Number(fs.readFileSync(file, 'latin1'));
  try {
    while (!fs.existsSync(file)) await sleep(10);
    await p.freeze();
    const frozen = count();
    await sleep(300);
    expect(count()).toBe(frozen);
    await p.thaw();
    await sleep(300);
    expect(count()).toBeGreaterThan(frozen);
    // kill() thaws first: a frozen process still dies of SIGTERM.
    await p.freeze();
    p.kill('SIGTERM');
    expect((await p.wait()).signal).toBe('SIGTERM');
  } finally {
    p.kill('SIGKILL');
    await p.wait();
    fs.rmSync(dir, { recursive: true });
  }
});

/** A shell that starts a setsid'd daemon (its own session and process group), prints its pid and sleeps. */
async function withDaemon(cgroup: object | undefined): Promise<{ p: Process; daemon: number }> {
  const p = await spawnIsolated('sh', ['-c', 'setsid sh -c "sleep 60" > /dev/null 2>&1 & echo $!; exec sleep 60'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    ...(cgroup ? { cgroup } : {}),
  });
  let line = '';
  p.stdout!.on('data', (d: Buffer) => (line += d.toString()));
  while (!line.includes('\n')) await sleep(10);
  return { p, daemon: Number(line.trim()) };
}

const alive = (pid: number) => {
  try {
    return !fs.readFileSync(`/proc/${pid}/stat`, 'latin1').includes(') Z');
  } catch {
    return false;
  }
};

test('kill() reaches a setsid-daemonized grandchild (and without a cgroup it would not)', async () => {
  const { p, daemon } = await withDaemon({});
  await sleep(100);
  expect(alive(daemon)).toBe(true);
  p.kill('SIGKILL');
  await p.wait();
  expect(alive(daemon)).toBe(false);
  // The control: the same without a cgroup leaves the daemon running.
  const plain = await withDaemon(undefined);
  await sleep(100);
  plain.p.kill('SIGKILL');
  await plain.p.wait();
  expect(alive(plain.daemon)).toBe(true);
  process.kill(plain.daemon, 'SIGKILL');
});

test('a daemon left behind by a command that exits on its own dies before wait() resolves', async () => {
  const p = await spawnIsolated('sh', ['-c', 'setsid sleep 60 > /dev/null 2>&1 & echo $!'], { stdio: ['ignore', 'pipe', 'ignore'], cgroup: { pids: { max: 16 } } });
  const out = text(p.stdout);
  const s = await p.wait();
  expect(s.code).toBe(0);
  expect(alive(Number((await out).trim()))).toBe(false);
});

describe.each([false, true])('placement (clone(2) instead of clone3: %s)', (forceClone) => {
  beforeEach(() => {
    testHooks.forceClone = forceClone;
  });
  afterEach(() => {
    testHooks.forceClone = false;
  });

  test('in its cgroup of every hierarchy used before it runs, from a new user and pid namespace too', async () => {
    const r = await runIsolated('sh', ['-c', 'cat /proc/self/cgroup; dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo dd=$?'], {
      namespaces: ['user', 'pid', 'mnt'],
      user: 'root',
      cgroup: { memory: { max: '32M' }, pids: { max: 16 } },
    });
    const mine = new RegExp(`/nsjs-${process.pid}-[0-9]+$`);
    const lines = new Map(r.stdout.trim().split('\n').filter((l) => /^[0-9]+:/.test(l)).map((l) => [l.split(':')[1], l.split(':')[2]]));
    for (const ctrl of ['', 'memory', 'pids']) expect(lines.get(ctrl)).toMatch(mine);
    expect(r.stdout).toMatch(/dd=137/);
  });

  test("with a new cgroup namespace it sees its own cgroup as / everywhere, and as another uid cannot leave it", async () => {
    const r = await runIsolated('sh', ['-c', 'cat /proc/self/cgroup; echo $$ > /sys/fs/cgroup/unified/cgroup.procs && echo escaped; cat /proc/self/cgroup'], {
      namespaces: ['cgroup'],
      uid: NOBODY,
      gid: NOBODY,
      cgroup: { memory: { max: '32M' } },
    });
    const views = r.stdout.trim().split('\n');
    for (const l of views.filter((v) => /^[0-9]+:(|memory|pids):/.test(v))) expect(l).toMatch(/:\/$/);
    expect(r.stdout).not.toMatch(/escaped/);
    expect(r.stderr).toMatch(/Permission denied/);
  });
});

describe('a hostile command cannot loosen its limits', () => {
  // dd after the attack: still OOM-killed means the attack changed nothing.
  const attackThenAllocate = (attack: string) => `${attack}; dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo dd=$?`;
  const own = `$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)`;

  test('as another uid: writing itself into the root cgroup or raising its own limit is refused', async () => {
    const r = await runIsolated(
      'sh',
      ['-c', attackThenAllocate(`echo $$ > /sys/fs/cgroup/memory/cgroup.procs; echo $$ > /sys/fs/cgroup/unified/cgroup.procs; echo -1 > /sys/fs/cgroup/memory${own}/memory.limit_in_bytes; cat /proc/self/cgroup`)],
      { uid: NOBODY, gid: NOBODY, cgroup: { memory: { max: '32M' } } },
    );
    expect(r.stderr).toMatch(/Permission denied/);
    expect(r.stdout).toMatch(new RegExp(`memory:.*/nsjs-${process.pid}-`));
    expect(r.stdout).toMatch(/dd=137/);
  });

  test('as another uid: a sub-cgroup cannot be made (v1) and one made for it would not raise the limit', async () => {
    const r = await runIsolated('sh', ['-c', attackThenAllocate(`mkdir /sys/fs/cgroup/memory${own}/escape && echo made`)], {
      uid: NOBODY,
      gid: NOBODY,
      cgroup: { memory: { max: '32M' } },
    });
    expect(r.stdout).not.toMatch(/made/);
    expect(r.stdout).toMatch(/dd=137/);
  });

  test('as root without capabilities: a sub-cgroup with no limit of its own is still under the parent limit', async () => {
    const r = await runIsolated(
      'sh',
      ['-c', attackThenAllocate(`d=/sys/fs/cgroup/memory${own}/escape; mkdir $d && echo -1 > $d/memory.limit_in_bytes && echo $$ > $d/cgroup.procs && echo moved`)],
      { cgroup: { memory: { max: '32M' } } },
    );
    expect(r.stdout).toMatch(/moved/);
    expect(r.stdout).toMatch(/dd=137/);
  });
});

test('options.cgroup.parent: the cgroups are made below it in each hierarchy; a missing parent is ENOENT, nothing left (also when it is missing in one hierarchy only)', async () => {
  const name = `nsjs-parent-${process.pid}`;
  const made = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids'].map((h) => path.join(h, name));
  for (const d of made) fs.mkdirSync(d);
  try {
    const r = await runIsolated('cat', ['/proc/self/cgroup'], { cgroup: { parent: `/${name}/`, memory: { max: '64M' } } });
    for (const ctrl of ['', 'memory', 'pids']) expect(r.stdout).toMatch(new RegExp(`^[0-9]+:${ctrl}:/${name}/nsjs-${process.pid}-[0-9]+$`, 'm'));
    const err = await spawnIsolated('true', [], { cgroup: { parent: `${name}/no-such` } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENOENT', syscall: 'mkdir' });
    for (const d of made) expect(fs.readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
    // Made (and opened) in the cgroup2 parent, then refused in memory's: the
    // cgroup made is removed and its fds closed (the leak check's fds).
    fs.rmdirSync(made[1]);
    const half = await spawnIsolated('true', [], { cgroup: { parent: `/${name}/`, memory: { max: '64M' } } }).catch((e: unknown) => e);
    expect(half).toMatchObject({ code: 'ENOENT', syscall: 'mkdir', path: expect.stringMatching(new RegExp(`^${made[1]}/nsjs-${process.pid}-[0-9]+$`)) });
    for (const d of [made[0], made[2]]) expect(fs.readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
  } finally {
    for (const d of made) if (fs.existsSync(d)) fs.rmdirSync(d);
  }
});

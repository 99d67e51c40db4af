// A cgroup v1-only host, emulated here by hiding the cgroup2 hierarchy from
// nsjs's layout (lib/cgroup/layout.ts): freeze and thaw then go through the
// v1 freezer, usage's CPU times through cpuacct, and the kill of the whole
// tree through freeze, SIGKILL to each task, thaw. Nothing left behind.
import * as fs from 'node:fs';

import { spawnIsolated } from '../../../lib';
import { layout, type Hierarchy } from '../../../lib/cgroup/layout';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
let v2: Hierarchy | undefined;
beforeAll(() => {
  v2 = layout().v2;
  layout().v2 = undefined;
});
afterAll(() => {
  layout().v2 = v2;
});
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    return !fs.readFileSync(`/proc/${pid}/stat`, 'latin1').includes(') Z');
  } catch {
    return false;
  }
};

test('v1 only: in the freezer, cpuacct, memory and pids cgroups, and none in cgroup2', async () => {
  const p = await spawnIsolated('sh', ['-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; cat /proc/self/cgroup'], { stdio: ['ignore', 'pipe', 'ignore'], cgroup: { memory: { max: '64M' } } });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const s = await p.wait();
  const mine = new RegExp(`/nsjs-${process.pid}-[0-9]+$`);
  const lines = new Map(out.trim().split('\n').map((l) => [l.split(':')[1], l.split(':')[2]]));
  for (const ctrl of ['freezer', 'cpuacct', 'memory', 'pids']) expect(lines.get(ctrl)).toMatch(mine);
  expect(lines.get('')).toBe('/');
  expect(s.usage!.cpuUserUs + s.usage!.cpuSystemUs).toBeGreaterThan(0);
  expect(s.usage!.memoryPeak).toBeGreaterThan(0);
});

test('v1 only: freeze() and thaw() through the freezer; kill() reaches a setsid daemon through freeze, kill, thaw', async () => {
  const p = await spawnIsolated('sh', ['-c', 'setsid sh -c "while :; do :; done" > /dev/null 2>&1 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'], cgroup: {} });
  let line = '';
  p.stdout!.on('data', (d: Buffer) => (line += d.toString()));
  while (!line.includes('\n')) await sleep(10);
  const daemon = Number(line.trim());
  const cpu = () => fs.readFileSync(`/proc/${daemon}/stat`, 'latin1').slice(fs.readFileSync(`/proc/${daemon}/stat`, 'latin1').lastIndexOf(')') + 2).split(' ')[11];
  await p.freeze();
  const frozen = cpu();
  await sleep(300);
  expect(cpu()).toBe(frozen);
  await p.thaw();
  await sleep(300);
  expect(Number(cpu())).toBeGreaterThan(Number(frozen));
  p.kill('SIGKILL');
  await p.wait();
  expect(alive(daemon)).toBe(false);
});

test('v1 only: a daemon that forks without end is frozen, killed and gone before wait() resolves', async () => {
  const p = await spawnIsolated('sh', ['-c', 'setsid sh -c "while :; do (sleep 1 &) ; done" > /dev/null 2>&1 & sleep 0.3'], { stdio: 'ignore', cgroup: { pids: { max: 64 } } });
  const s = await p.wait();
  expect(s.code).toBe(0);
  // The leak check (afterEach) finds no cgroup: they could not be removed with a task left.
});

// A sandbox's cgroup (issue 21 item 3): every command enters it before it
// joins, so usage(), freeze() and thaw() on the sandbox reach the commands
// too, and a pids limit counts them. Root: cgroups are written here.
import * as fs from 'node:fs';

import { Sandbox } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cgroupOf = (pid: number) => fs.readFileSync(`/proc/${pid}/cgroup`, 'latin1');

test("every command is in the sandbox's cgroups; usage, freeze and thaw reach it", async () => {
  await using sb = await Sandbox.create({
    namespaces: 'all',
    user: 'root',
    mounts: [
      { type: 'proc', target: '/proc' },
      { type: 'tmpfs', target: '/tmp' },
    ],
    cgroup: { pids: { max: 64 } },
  });
  const counter = await sb.spawn('sh', ['-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n; done'], { stdio: 'ignore' });
  expect(cgroupOf(counter.pid)).toBe(cgroupOf(sb.pid));
  expect(cgroupOf(counter.pid)).not.toBe(cgroupOf(process.pid));
  expect((await sb.usage()).pids).toBeGreaterThanOrEqual(2);
  // Read from outside: a command started while frozen would be frozen too.
  const read = () => fs.readFileSync(`/proc/${counter.pid}/root/tmp/n`, 'latin1');
  // Its first count written (the spawn resolves at its exec, before it).
  for (let i = 0; i < 500 && !fs.existsSync(`/proc/${counter.pid}/root/tmp/n`); i++) await sleep(10);
  await sb.freeze();
  const a = read();
  await sleep(100);
  expect(read()).toBe(a);
  await sb.thaw();
  let b = a;
  for (let i = 0; i < 100 && b === a; i++) {
    await sleep(20);
    b = read();
  }
  expect(b).not.toBe(a);
  counter.kill('SIGKILL');
  await counter.wait();
});

test('a pids limit counts the commands of the sandbox', async () => {
  await using sb = await Sandbox.create({ namespaces: 'all', user: 'root', mounts: [{ type: 'proc', target: '/proc' }], cgroup: { pids: { max: 4 } } });
  // The holder, the gate (the sandbox's way in, in its cgroups for its
  // life) and two sleeps are four tasks; a third command is one too many.
  const sleeps = [await sb.spawn('sleep', ['100'], { stdio: 'ignore' }), await sb.spawn('sleep', ['100'], { stdio: 'ignore' })];
  expect((await sb.usage()).pids).toBe(4);
  await expect(sb.run('true')).rejects.toMatchObject({ code: 'EAGAIN', syscall: 'clone3' });
  for (const p of sleeps) p.kill('SIGKILL');
  await Promise.all(sleeps.map((p) => p.wait()));
});

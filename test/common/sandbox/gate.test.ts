// The gate (src-native/sandbox/enter.cc GateMain): a sandbox with a pid
// namespace clones its commands from one process of ours that has joined
// every namespace of the holder but the pid namespace. What a hostile
// command inside tries against it: finding it, signalling it, holding one
// of its fds. As root and as an ordinary user; nothing leaks.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

import { Sandbox, type NsError, type Process } from '../../../lib';
import { children, expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const place = () => Sandbox.create({ namespaces: 'all', user: 'root', mounts: [{ type: 'proc', target: '/proc' }] });

/** Our children that are a sandbox's gate (nsjs-init --gate). */
function gates(): number[] {
  return children()
    .filter((k) => k.comm === 'nsjs-init' && fs.readFileSync(`/proc/${k.pid}/cmdline`, 'latin1').split('\0')[1] === '--gate')
    .map((k) => k.pid);
}

function state(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

async function output(p: Process): Promise<string> {
  let out = '';
  for await (const chunk of p.stdout!) out += chunk;
  await p.wait();
  return out;
}

test('nothing inside sees the gate or reaches it with kill(-1); commands go on starting', async () => {
  await using sb = await place();
  const [gate] = gates();
  expect(gate).toBeGreaterThan(0);
  // Root of the sandbox's user namespace, in its pid namespace: every
  // process there but pid 1 and the shell itself gets the SIGKILL.
  const r = await sb.run('sh', ['-c', 'grep -l -e "-[-]gate" /proc/[0-9]*/cmdline; set -- /proc/[0-9]*; echo $#; kill -KILL -1; echo alive']);
  // The holder and the shell (its glob runs in it): no third process, none of them the gate.
  expect(r).toMatchObject({ code: 0, stdout: '2\nalive\n' });
  expect(state(gate)).toBe('S');
  expect(await sb.run('sh', ['-c', 'echo $$'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\n$/) });
});

test("an inherited fd we do not have is closed in the command, never one of the gate's", async () => {
  await using sb = await place();
  // Every fd number up to TOP open here (open() takes the lowest free),
  // then a gap below TOP: the spawn's own fds (pipes, /dev/null, the plan's
  // memfd) take its lowest numbers, and HOLE, its highest, stays closed.
  // In the gate the fds it receives (one for each that the plan names)
  // fill the lowest numbers, HOLE among them.
  const TOP = 50;
  const HOLE = TOP - 1;
  const opened: number[] = [];
  for (let fd = -1; fd < TOP; ) opened.push((fd = fs.openSync('/dev/null', 'r')));
  try {
    for (const fd of opened) if (fd >= TOP - 12 && fd < TOP) fs.closeSync(fd);
    const stdio = Array.from({ length: TOP }, (_, i) => (i === 1 ? 'pipe' : i < 3 ? 'ignore' : 'inherit')) as ('pipe' | 'ignore' | 'inherit')[];
    for (let i = 0; i < 3; i++) {
      const p = await sb.spawn('sh', ['-c', `readlink /proc/self/fd/${HOLE} || echo closed`], { stdio });
      expect(await output(p)).toBe('closed\n');
    }
  } finally {
    for (const fd of opened) if (fd < TOP - 12 || fd >= TOP) fs.closeSync(fd);
  }
});

test('a gate that is gone fails a command with a clear error, and close() leaves nothing', async () => {
  const sb = await place();
  const [gate] = gates();
  process.kill(gate, 'SIGKILL');
  // Its Process reaps it; until then it is a zombie, its socket closed either way.
  for (let i = 0; i < 500 && state(gate) !== undefined && state(gate) !== 'Z'; i++) await new Promise((r) => setTimeout(r, 2));
  const err = (await sb.run('true').catch((e: NsError) => e)) as NsError;
  expect(err).toMatchObject({ code: 'EPIPE', syscall: 'sendmsg', step: 'enter the sandbox through its gate' });
  await sb.close();
  expect(gates()).toEqual([]);
});

test('a command whose fds the gate cannot place fails as the clone after the join, and the next one starts', async () => {
  await using sb = await place();
  const [gate] = gates();
  // The gate places each fd at the number it has here: above its own fd
  // limit, which we lower, that fails (EINVAL) before the command runs.
  const high = fs.openSync('/dev/null', 'r');
  const soft = execFileSync('prlimit', [`--pid=${gate}`, '--nofile', '--output=SOFT', '--noheadings'], { encoding: 'latin1' }).trim();
  try {
    execFileSync('prlimit', [`--pid=${gate}`, `--nofile=${high}:`]);
    const stdio = Array.from({ length: 4 }, (_, i) => (i === 3 ? high : 'ignore')) as ('ignore' | number)[];
    const err = (await sb.spawn('true', [], { stdio }).catch((e: NsError) => e)) as NsError;
    expect(err).toMatchObject({ code: 'EINVAL', step: 'clone after join' });
  } finally {
    fs.closeSync(high);
    execFileSync('prlimit', [`--pid=${gate}`, `--nofile=${soft}:`]);
  }
  expect(await sb.run('true')).toMatchObject({ code: 0 });
});

// As root: unshare --owner (util-linux 2.43, master's 926b207ca; Debian's
// 2.38 lacks it), restated. unshare clears its groups, becomes uid:gid and
// only then unshares every namespace asked for, so that all of them belong
// to that user; a helper forked before, still root, writes the maps the
// owner could not (-r and --map-group then imply no --setgroups=deny), and
// the program keeps the owner's ids: the overflow id where the maps leave
// them out.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

import { Namespace } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const bin = path.join(__dirname, '..', '..', '..', 'bin', 'nsjs.js');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, 'run', ...args], { encoding: 'utf8', timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const PROBE = 'echo "$(id -u) $(id -g) [$(tr -s " " < /proc/self/uid_map | tr "\\n" "|")] [$(tr -s " " < /proc/self/gid_map | tr "\\n" "|")] $(cat /proc/self/setgroups) $(grep CapEff /proc/self/status | cut -f2)"';

let before: Snapshot;
let dir: string;
beforeEach(() => {
  before = snapshot();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-owner-'));
});
afterEach(async () => {
  spawnSync('umount', [path.join(dir, 'user')]);
  fs.rmSync(dir, { recursive: true, force: true });
  await expectNoLeaks(before);
});

test('-r with --owner: maps 0 to our uid 0, setgroups left allowed, the program the overflow id without capabilities', () => {
  expect(run('--owner', '1000:1000', '-r', 'sh', '-c', PROBE)).toEqual({ status: 0, stdout: '65534 65534 [ 0 0 1|] [ 0 0 1|] allow 0000000000000000\n', stderr: '' });
  // no map at all: the program is the overflow id, setgroups as the kernel makes it
  expect(run('--owner', '1000:1000', 'sh', '-c', PROBE)).toEqual({ status: 0, stdout: '65534 65534 [] [] allow 0000000000000000\n', stderr: '' });
});

test('every namespace belongs to the owner, who can enter it; the maps cover the owner; the namespace kept on a file', async () => {
  fs.writeFileSync(path.join(dir, 'user'), '');
  const child = spawn(process.execPath, [bin, 'run', '--owner', '1000:1000', '--map-users=0:1000:1', '--map-groups=0:1000:1', '-fpmuinCT', '--mount-proc', `--user=${path.join(dir, 'user')}`, 'sh', '-c', 'echo "$(id -u) $(id -g) $$ $(cat /proc/self/setgroups)"; exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let pid = 0;
  try {
    const [line] = await readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next().then((r) => [r.value as string]);
    // root inside (the owner's uid is mapped to 0), pid 1, setgroups untouched
    expect(line).toBe('0 0 1 allow');
    // the sleep: a child (cloned into its pid namespace with CLONE_PARENT) of the thread of nsjs's that spawned it
    const tasks = fs.readdirSync(`/proc/${child.pid}/task`);
    pid = Number(tasks.map((t) => fs.readFileSync(`/proc/${child.pid}/task/${t}/children`, 'utf8').trim()).find((k) => k !== ''));
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\t1000\t1000\t1000\t1000$/m);
    expect(status).toMatch(/^Gid:\t1000\t1000\t1000\t1000$/m);
    expect(status).toMatch(/^Groups:\s*$/m);
    const user = Namespace.of(pid, 'user');
    try {
      const ours = Namespace.of(process.pid, 'user');
      expect(user.equals(ours)).toBe(false);
      ours.close();
      expect(user.ownerUid()).toBe(1000);
      for (const type of ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'uts'] as const) {
        const ns = Namespace.of(pid, type);
        const owner = ns.owner();
        expect([type, owner.equals(user)]).toEqual([type, true]);
        owner.close();
        ns.close();
      }
      const kept = Namespace.open(path.join(dir, 'user'));
      expect(kept.equals(user)).toBe(true);
      kept.close();
    } finally {
      user.close();
    }
    // uid 1000, unprivileged outside, holds CAP_SYS_ADMIN over its namespaces
    const enter = spawnSync('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', 'nsenter', '-t', String(pid), '-U', '-n', '--preserve-credentials', 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' });
    expect(enter.stderr).toBe('');
    expect(enter.stdout).toBe(`${fs.readlinkSync(`/proc/${pid}/ns/net`)}\n`);
  } finally {
    // the sleep first: nsjs then exits with its status (no --kill-child here)
    if (pid > 0) process.kill(pid, 'SIGKILL');
    else child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    child.stdout!.destroy();
  }
});

test('bad --owner, and --pid=FILE with it: a usage error, status 1, nothing run', () => {
  expect(run('--owner', '1000', 'true')).toEqual({ status: 1, stdout: '', stderr: 'nsjs: failed to parse owner\n' });
  expect(run('--owner', '1000:x', 'true')).toEqual({ status: 1, stdout: '', stderr: 'nsjs: failed to parse owner\n' });
  fs.writeFileSync(path.join(dir, 'pid'), '');
  expect(run('--owner', '1000:1000', '-fp', `--pid=${path.join(dir, 'pid')}`, 'true')).toEqual({ status: 1, stdout: '', stderr: 'nsjs: --pid=<file> cannot be used with --owner\n' });
});

test('the API: user.owner keeps the owner\'s ids unless uid/gid are given', async () => {
  const { runIsolated } = await import('../../../lib');
  const probe = ['-c', 'echo "$(id -u) $(id -g) $(grep -c . /proc/self/uid_map)"; grep ^Uid /proc/self/status | cut -f2'];
  const user = { owner: { uid: 1000, gid: 1000 }, uidMap: [{ inside: 0, outside: 0, count: 1 }, { inside: 1, outside: 1000, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 1 }, { inside: 1, outside: 1000, count: 1 }] };
  // uid 1000 outside is 1 inside: not the 0 the map also covers
  expect(await runIsolated('sh', probe, { namespaces: ['user', 'mnt'], user })).toMatchObject({ code: 0, stdout: '1 1 2\n1\n' });
  expect(await runIsolated('sh', probe, { namespaces: ['user', 'mnt'], user, uid: 0, gid: 0 })).toMatchObject({ code: 0, stdout: '0 0 2\n0\n' });
});

// As root: nsjs-oci's native front (build/Release/nsjs-oci,
// src-native/oci/front.cc) answers start, state, kill and delete as
// bin/nsjs-oci.js (lib/cli/oci/light.ts) does: the same stdout byte for
// byte, the same status, the same error line on stderr and in --log. The
// calls it serves itself are made with no `node` on PATH, so one that went
// to Node instead would fail: the comparisons cannot pass by deferring. The
// calls it must hand to Node (create, hooks, a signal it does not know,
// --version) are checked to reach it.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const top = path.join(__dirname, '..', '..', '..');
const js = path.join(top, 'bin', 'nsjs-oci.js');
const front = path.join(top, 'build', 'Release', 'nsjs-oci');
// No node here: only a call the front serves itself can succeed.
const NO_NODE = { PATH: '/nonexistent' };
// bin/nsjs-oci.js is `#!/usr/bin/env node`: the node running this test comes
// first (under npm run test:sanitize, the copy that loads libasan first).
const WITH_NODE = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };

let before: Snapshot;
let dir: string;
let root: string;
let bundle: string;
let cgparent: string;

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** One call through `entry`, its output through files (a parked init keeps the stdio create gave it). */
function call(entry: 'js' | 'front' | 'front+node', args: string[]): Result {
  const out = path.join(dir, 'stdout');
  const err = path.join(dir, 'stderr');
  const fds = [fs.openSync(out, 'w'), fs.openSync(err, 'w')];
  let status: number | null;
  try {
    const [file, argv, env] =
      entry === 'js' ? [process.execPath, [js], process.env] : [front, [], entry === 'front' ? NO_NODE : WITH_NODE];
    status = spawnSync(file, [...argv, '--root', root, ...args], { stdio: ['ignore', ...fds], env, timeout: 20000 }).status;
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
  return { status, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8') };
}

/** The same call through both entries, which must agree; the front's result. */
function same(args: string[]): Result {
  const a = call('js', args);
  const b = call('front', args);
  expect(b).toEqual(a);
  return b;
}

function create(id: string, args: string[], extra: Record<string, unknown> = {}): void {
  const config = {
    ociVersion: '1.1.0',
    root: { path: 'rootfs' },
    process: { args, cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
    ],
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }], cgroupsPath: `${cgparent}/${id}` },
    ...extra,
  };
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
  expect(call('front+node', ['create', '--bundle', bundle, id])).toEqual({ status: 0, stdout: '', stderr: '' });
}

function status(id: string): string {
  return (JSON.parse(call('front', ['state', id]).stdout) as { status: string }).status;
}

function waitFor(id: string, want: string): void {
  for (let i = 0; i < 200 && status(id) !== want; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  expect(status(id)).toBe(want);
}

/** This run's cgroup parent in every hierarchy (relative cgroupsPath: under our own cgroup). */
function cgroupParents(): string[] {
  const out: string[] = [];
  for (const l of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^[0-9]+:([^:]*):(.*)$/.exec(l);
    if (!m) continue;
    const d = path.join('/sys/fs/cgroup', m[1] === '' ? 'unified' : m[1].replace(/^name=/, ''), m[2], cgparent);
    if (fs.existsSync(d)) out.push(d);
  }
  return out;
}

beforeEach(() => {
  before = snapshot();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-oci-front-'));
  fs.chmodSync(dir, 0o755);
  root = path.join(dir, 'state');
  bundle = path.join(dir, 'bundle');
  cgparent = `nsjs-oci-front-${process.pid}-${path.basename(dir)}`;
  for (const d of ['bin', 'proc', 'tmp', 'dev']) fs.mkdirSync(path.join(bundle, 'rootfs', d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(bundle, 'rootfs', 'bin', 'busybox'));
  fs.chmodSync(path.join(bundle, 'rootfs', 'bin', 'busybox'), 0o755);
  for (const a of ['sh', 'sleep', 'touch']) fs.symlinkSync('busybox', path.join(bundle, 'rootfs', 'bin', a));
});

afterEach(async () => {
  for (const id of fs.existsSync(root) ? fs.readdirSync(root) : []) expect(call('front', ['delete', '--force', id]).status).toBe(0);
  for (const d of cgroupParents()) {
    expect(fs.readdirSync(d).filter((f) => fs.statSync(path.join(d, f)).isDirectory())).toEqual([]);
    fs.rmdirSync(d);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  await expectNoLeaks(before);
});

describe('nsjs-oci native front', () => {
  test('state, start, kill and delete: the same output as bin/nsjs-oci.js in every status, served without Node', () => {
    // Keys V8 orders first (integer-like), quotes, escapes and non-ASCII: state prints them as JSON.stringify does.
    const annotations = { zeta: 'a "quoted" \\ value\n', '10': 'ten', '2': 'two', 'org.example/ü': 'ünïcode ✓' };
    create('f1', ['sh', '-c', "trap 'touch /tmp/usr1' USR1; sleep 100 & wait; wait"], { annotations });
    const created = same(['state', 'f1']);
    expect(JSON.parse(created.stdout)).toMatchObject({ id: 'f1', status: 'created', annotations, owner: '' });
    expect(created.stdout.endsWith('}')).toBe(true);
    expect(call('front', ['start', 'f1'])).toEqual({ status: 0, stdout: '', stderr: '' });
    waitFor('f1', 'running');
    same(['state', 'f1']);
    same(['start', 'f1']);
    expect(call('front', ['delete', 'f1'])).toMatchObject({ status: 1, stderr: 'nsjs-oci: cannot delete container f1 that is not stopped: running\n' });
    same(['delete', 'f1']);
    const touched = path.join(bundle, 'rootfs', 'tmp', 'usr1');
    expect(call('front', ['kill', 'f1', 'usr1'])).toEqual({ status: 0, stdout: '', stderr: '' });
    for (let i = 0; i < 200 && !fs.existsSync(touched); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    expect(fs.existsSync(touched)).toBe(true);
    // pause is Node's; a paused container's state and its SIGKILL (which thaws) are the front's.
    expect(call('front+node', ['pause', 'f1']).status).toBe(0);
    expect(JSON.parse(same(['state', 'f1']).stdout)).toMatchObject({ status: 'paused' });
    expect(call('front', ['kill', '--all', 'f1', '9'])).toEqual({ status: 0, stdout: '', stderr: '' });
    waitFor('f1', 'stopped');
    expect(JSON.parse(same(['state', 'f1']).stdout)).toMatchObject({ status: 'stopped', pid: 0 });
    same(['kill', 'f1', 'KILL']);
    same(['start', 'f1']);
    const made = cgroupParents().map((d) => path.join(d, 'f1'));
    expect(made.length).toBeGreaterThan(0);
    expect(call('front', ['delete', 'f1'])).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(fs.existsSync(path.join(root, 'f1'))).toBe(false);
    for (const d of made) expect(fs.existsSync(d)).toBe(false);
    same(['state', 'f1']);
    same(['delete', 'f1']);
    same(['delete', '--force', 'f1']);
  });

  test('delete of a created container kills the parked init; errors in --log as JSON, as Node writes them', () => {
    create('f2', ['sleep', '100']);
    const { pid } = JSON.parse(call('front', ['state', 'f2']).stdout) as { pid: number };
    expect(call('front', ['delete', 'f2'])).toEqual({ status: 0, stdout: '', stderr: '' });
    const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
    expect(stat === '' || /\) [ZX] /.test(stat)).toBe(true);
    for (const format of ['json', 'text']) {
      const logs = ['js', 'front'].map((e) => path.join(dir, `${e}.${format}.log`));
      const [a, b] = (['js', 'front'] as const).map((e, i) => call(e, ['--log', logs[i], '--log-format', format, 'kill', 'f2', 'KILL']));
      expect(b).toEqual(a);
      const [la, lb] = logs.map((l) => fs.readFileSync(l, 'utf8').replace(/time"?[=:]"[0-9T:.Z-]+"/, 'TIME'));
      expect(lb).toBe(la);
    }
    const line = JSON.parse(fs.readFileSync(path.join(dir, 'front.json.log'), 'utf8')) as { level: string; msg: string; time: string };
    expect(line).toMatchObject({ level: 'error', msg: 'container f2 does not exist' });
    expect(Math.abs(Date.parse(line.time) - Date.now())).toBeLessThan(60000);
  });

  // runtime-tools' killsig: a signal sent right after `start` is the program's to handle; a pid 1 still in nsjs-init would drop it.
  test('start returns once the program has replaced the init (a stopped init holds it back), or fails with the errno of its execv', async () => {
    const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
    for (const entry of ['js', 'front'] as const) {
      const id = `x${entry}`;
      create(id, ['sleep', '100']);
      const { pid } = JSON.parse(call('front', ['state', id]).stdout) as { pid: number };
      process.kill(pid, 'SIGSTOP');
      while (!/\) T /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))) await pause();
      const [file, argv, env] = entry === 'js' ? [process.execPath, [js], process.env] : [front, [], NO_NODE];
      const start = spawn(file, [...argv, '--root', root, 'start', id], { stdio: 'ignore', env });
      const exited = new Promise<number | null>((resolve) => start.on('exit', resolve));
      // It has written the start byte and waits for the execv's EOF (or, wrongly, has returned already); anon_pipe_read since 6.16.
      const wchan = () => (start.exitCode === null ? fs.readFileSync(`/proc/${start.pid}/wchan`, 'utf8') : '');
      for (let i = 0; start.exitCode === null && !/pipe_read$/.test(wchan()) && i < 2000; i++) await pause();
      expect([start.exitCode, fs.readFileSync(`/proc/${pid}/comm`, 'utf8')]).toEqual([null, 'nsjs-init\n']);
      process.kill(pid, 'SIGCONT');
      expect(await exited).toBe(0);
      expect(fs.readFileSync(`/proc/${pid}/comm`, 'utf8')).toBe('sleep\n');
    }
    // xjs made the cgroup parent that xfront is in too: its delete leaves that one (runc leaves every parent).
    const ok = { status: 0, stdout: '', stderr: '' };
    expect(call('js', ['delete', '--force', 'xjs'])).toEqual(ok);
    expect(call('front', ['delete', '--force', 'xfront'])).toEqual(ok);
    for (const d of cgroupParents()) fs.rmdirSync(d);
    // The program is gone between create (which found it) and start.
    const failed = (['js', 'front'] as const).map((entry) => {
      fs.symlinkSync('busybox', path.join(bundle, 'rootfs', 'bin', 'prog'));
      create(`y${entry}`, ['/bin/prog']);
      fs.unlinkSync(path.join(bundle, 'rootfs', 'bin', 'prog'));
      return call(entry, ['start', `y${entry}`]);
    });
    expect(failed[0]).toEqual({ status: 1, stdout: '', stderr: "nsjs-oci: start: the container's program could not be run: ENOENT\n" });
    expect(failed[1]).toEqual(failed[0]);
    for (const id of ['yjs', 'yfront']) waitFor(id, 'stopped');
    expect(call('front', ['delete', 'yjs'])).toEqual(ok);
    expect(cgroupParents().length).toBeGreaterThan(0);
  });

  test('what the front hands to Node: create, hooks, a signal or option it does not know, --version', () => {
    const hook = path.join(dir, 'poststart');
    create('f3', ['sleep', '100'], { hooks: { poststart: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${hook}`] }] } });
    // Without node, start fails: it has a hook to run, which is Node's.
    expect(call('front', ['start', 'f3']).status).not.toBe(0);
    expect(status('f3')).toBe('created');
    expect(call('front+node', ['start', 'f3'])).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(JSON.parse(fs.readFileSync(hook, 'utf8'))).toMatchObject({ id: 'f3', status: 'running' });
    for (const args of [['kill', 'f3', 'NOSUCH'], ['kill', 'f3', '65'], ['state', '--bogus', 'f3'], ['state', '../x'], ['--version']])
      expect(call('front', args).status).not.toBe(0);
    const unknown = call('front+node', ['kill', 'f3', 'NOSUCH']);
    expect(unknown).toEqual(call('js', ['kill', 'f3', 'NOSUCH']));
    expect(unknown).toMatchObject({ status: 1, stderr: expect.stringContaining('unknown signal NOSUCH') });
    expect(call('front+node', ['--version']).stdout).toMatch(/^runc version /);
  });
});

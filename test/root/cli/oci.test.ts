// As root: nsjs-oci's state machine (create, start, state, kill, delete,
// pause/resume, exec) and its refusals, driven through bin/nsjs-oci.js as
// containerd and runtime-tools drive it, on a busybox rootfs made here.
// runtime-tools' own assertions, restated: the pid file has no newline, a
// created container has not run its program, state's JSON and its status
// words, the error texts containerd matches, delete --force of an unknown id
// succeeds, a failed create leaves nothing behind.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { CAPABILITIES, Namespace, runIsolated } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const bin = path.join(__dirname, '..', '..', '..', 'bin', 'nsjs-oci.js');
const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'sleep', 'echo', 'cat', 'true', 'touch', 'id', 'readlink', 'hostname', 'mkdir', 'stat'];

let before: Snapshot;
let dir: string;
let root: string;
let bundle: string;
let ids: string[];

/**
 * One runtime call, its output through files: a created container's init
 * keeps the stdio it was given (as the runtime-spec says), so pipes would
 * not see EOF before the container stops.
 */
function oci(...args: string[]) {
  const out = path.join(dir, 'stdout');
  const err = path.join(dir, 'stderr');
  const fds = [fs.openSync(out, 'w'), fs.openSync(err, 'w')];
  let status: number | null;
  try {
    status = spawnSync(process.execPath, [bin, '--root', root, ...args], { stdio: ['ignore', ...fds], timeout: 20000 }).status;
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
  return { status, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8') };
}

function state(id: string): { status: string; pid: number; id: string; bundle: string; annotations?: Record<string, string> } {
  const r = oci('state', id);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as ReturnType<typeof state>;
}

function waitFor(id: string, want: string): void {
  for (let i = 0; i < 40 && state(id).status !== want; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
  expect(state(id).status).toBe(want);
}

function config(args: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ociVersion: '1.1.0',
    root: { path: 'rootfs' },
    hostname: 'oci-test',
    process: { args, cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }],
      cgroupsPath: `nsjs-oci-test-${process.pid}/${path.basename(dir)}`,
    },
    ...extra,
  };
}

function writeConfig(c: Record<string, unknown>): void {
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(c));
}

function create(id: string, args: string[], extra?: Record<string, unknown>, ...opts: string[]) {
  writeConfig(config(args, extra));
  ids.push(id);
  return oci('create', '--bundle', bundle, ...opts, id);
}

/** This run's cgroup parent in every hierarchy where the runtime made it (relative cgroupsPath: under our own cgroup). */
function cgroupDirs(): string[] {
  const own = new Map<string, string>();
  for (const l of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^[0-9]+:([^:]*):(.*)$/.exec(l);
    if (m) own.set(m[1] === '' ? 'unified' : m[1].replace(/^name=/, ''), m[2]);
  }
  const out: string[] = [];
  for (const [h, p] of own) {
    const d = path.join('/sys/fs/cgroup', h, p, `nsjs-oci-test-${process.pid}`);
    if (fs.existsSync(d)) out.push(d);
  }
  return out;
}

beforeEach(() => {
  before = snapshot();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-oci-'));
  fs.chmodSync(dir, 0o755);
  root = path.join(dir, 'state');
  bundle = path.join(dir, 'bundle');
  const rootfs = path.join(bundle, 'rootfs');
  for (const d of ['bin', 'proc', 'tmp', 'dev']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
  ids = [];
});

afterEach(async () => {
  for (const id of ids) expect(oci('delete', '--force', id).status).toBe(0);
  expect(fs.existsSync(root) ? fs.readdirSync(root) : []).toEqual([]);
  // The runtime removes the cgroup it made; the per-run parent is ours.
  for (const d of cgroupDirs().sort((a, b) => b.length - a.length)) {
    expect(fs.readdirSync(d).filter((f) => fs.statSync(path.join(d, f)).isDirectory())).toEqual([]);
    fs.rmdirSync(d);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  await expectNoLeaks(before);
});

/** The mount points under `under` in a mountinfo. */
function mountsUnder(mountinfo: string, under: string): string[] {
  return mountinfo.split('\n').map((l) => l.split(' ')[4]).filter((m) => m !== undefined && (m === under || m.startsWith(`${under}/`)));
}

describe('nsjs-oci without a mount namespace of its own', () => {
  const front = path.join(__dirname, '..', '..', '..', 'build', 'Release', 'nsjs-oci');
  const NS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts'];

  // runtime-tools' linux_ns_itype: with no namespace in the config, each is the runtime's (ours).
  test('none in the config: every namespace is ours, the mounts are made under the rootfs here, the init is chrooted, delete (through the native front) unmounts them', () => {
    const rootfs = path.join(bundle, 'rootfs');
    const out = path.join(rootfs, 'tmp', 'out');
    const r = create('itype', ['sh', '-c', 'ls /dev > /tmp/out; readlink /proc/self/root >> /tmp/out'], { hostname: undefined, linux: { cgroupsPath: (config([]).linux as { cgroupsPath: string }).cgroupsPath } });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const { pid } = state('itype');
    for (const t of NS) expect(fs.readlinkSync(`/proc/${pid}/ns/${t}`)).toBe(fs.readlinkSync(`/proc/self/ns/${t}`));
    expect(fs.readlinkSync(`/proc/${pid}/root`)).toBe(rootfs);
    expect(mountsUnder(fs.readFileSync('/proc/self/mountinfo', 'utf8'), rootfs)).toEqual([`${rootfs}/proc`, `${rootfs}/dev`, ...['null', 'zero', 'full', 'random', 'urandom', 'tty'].map((d) => `${rootfs}/dev/${d}`)]);
    expect(oci('start', 'itype').status).toBe(0);
    waitFor('itype', 'stopped');
    // The default devices and links are in the config's /dev; the root is the rootfs, seen as /.
    expect(fs.readFileSync(out, 'utf8').split('\n')).toEqual(expect.arrayContaining(['null', 'tty', 'fd', 'ptmx', '/']));
    const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
    expect(spawnSync(front, ['--root', root, 'delete', 'itype'], { env, encoding: 'utf8' })).toMatchObject({ status: 0, stderr: '' });
    expect(mountsUnder(fs.readFileSync('/proc/self/mountinfo', 'utf8'), rootfs)).toEqual([]);
    // runc's rule: masked and readonly paths need a mount namespace of the container's own.
    const c = config(['true'], { hostname: undefined });
    (c.linux as Record<string, unknown>).namespaces = [{ type: 'pid' }];
    (c.linux as Record<string, unknown>).maskedPaths = ['/proc/kcore'];
    writeConfig(c);
    expect(oci('create', '--bundle', bundle, 'itype2')).toMatchObject({ status: 1, stderr: expect.stringContaining('linux.maskedPaths: unable to restrict sys entries without a private mount namespace') });
    // What only a mount namespace of its own can do (pivot_root's root, its propagation, nodes made in it): refused, not ignored.
    delete (c.linux as Record<string, unknown>).maskedPaths;
    for (const [k, v] of [['rootfsPropagation', 'shared'], ['devices', [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }]]] as const) {
      writeConfig({ ...c, linux: { ...(c.linux as object), [k]: v } });
      expect(oci('create', '--bundle', bundle, 'itype2')).toMatchObject({ status: 1, stderr: expect.stringContaining(`linux.${k}: needs a mount namespace of the container's own`) });
    }
    writeConfig({ ...c, root: { path: 'rootfs', readonly: true } });
    expect(oci('create', '--bundle', bundle, 'itype2')).toMatchObject({ status: 1, stderr: expect.stringContaining("root.readonly: needs a mount namespace of the container's own") });
    expect(mountsUnder(fs.readFileSync('/proc/self/mountinfo', 'utf8'), rootfs)).toEqual([]);
  });

  // runtime-tools' linux_ns_path: mnt and uts joined by path (and runc's hostname in a joined uts namespace).
  test('mnt and uts joined by path: the init is in both, the mounts are made there and not here, the hostname is set there; delete unmounts them there', async () => {
    const rootfs = path.join(bundle, 'rootfs');
    const mnt = Namespace.create('mnt');
    const uts = Namespace.create('uts');
    try {
      const at = (n: Namespace) => `/proc/${process.pid}/fd/${n.fd}`;
      const c = config(['true']);
      (c.linux as Record<string, unknown>).namespaces = [{ type: 'pid' }, { type: 'mount', path: at(mnt) }, { type: 'uts', path: at(uts) }];
      writeConfig(c);
      ids.push('joined');
      expect(oci('create', '--bundle', bundle, 'joined')).toMatchObject({ status: 0, stderr: '' });
      const { pid } = state('joined');
      expect(fs.readlinkSync(`/proc/${pid}/ns/mnt`)).toBe(`mnt:[${fs.fstatSync(mnt.fd).ino}]`);
      expect(fs.readlinkSync(`/proc/${pid}/ns/uts`)).toBe(`uts:[${fs.fstatSync(uts.fd).ino}]`);
      const inside = async (cmd: string, n: Namespace) => (await runIsolated('/bin/sh', ['-c', cmd], { join: [n] })).stdout;
      expect(mountsUnder(await inside('cat /proc/self/mountinfo', mnt), rootfs)).toEqual(expect.arrayContaining([`${rootfs}/proc`, `${rootfs}/dev`, `${rootfs}/dev/null`]));
      expect(mountsUnder(fs.readFileSync('/proc/self/mountinfo', 'utf8'), rootfs)).toEqual([]);
      expect(await inside('hostname', uts)).toBe('oci-test\n');
      // An exec'd process joins the same namespaces and the init's root, not the namespace's.
      const proc = path.join(dir, 'process.json');
      fs.writeFileSync(proc, JSON.stringify({ args: ['sh', '-c', 'ls /; readlink /proc/self/ns/mnt'], cwd: '/', env: ['PATH=/bin'] }));
      expect(oci('exec', '--process', proc, 'joined')).toMatchObject({ status: 0, stdout: `bin\ndev\nproc\ntmp\nmnt:[${fs.fstatSync(mnt.fd).ino}]\n` });
      expect(os.hostname()).not.toBe('oci-test');
      expect(oci('delete', '--force', 'joined')).toMatchObject({ status: 0, stderr: '' });
      expect(mountsUnder(await inside('cat /proc/self/mountinfo', mnt), rootfs)).toEqual([]);
    } finally {
      mnt.close();
      uts.close();
    }
  });
});

describe('nsjs-oci lifecycle', () => {
  test('create parks the init before its program; start runs it; stopped reports pid 0; delete removes state and cgroup', () => {
    const out = path.join(bundle, 'rootfs', 'tmp', 'out');
    const pidFile = path.join(dir, 'init.pid');
    const r = create('c1', ['sh', '-c', 'echo "ran as $$ on $(hostname)" > /tmp/out'], undefined, '--pid-file', pidFile);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const s = state('c1');
    expect(s).toMatchObject({ id: 'c1', status: 'created', bundle });
    // No trailing newline: containerd and runtime-tools parse it with Atoi.
    expect(fs.readFileSync(pidFile, 'utf8')).toBe(String(s.pid));
    expect(fs.existsSync(`/proc/${s.pid}`)).toBe(true);
    // Parked: already in its cgroup in every hierarchy (v1 and v2: what containerd reads after create), not yet run.
    const cg = fs.readFileSync(`/proc/${s.pid}/cgroup`, 'utf8').trim().split('\n');
    expect(cg.filter((l) => !l.endsWith(`/nsjs-oci-test-${process.pid}/${path.basename(dir)}`))).toEqual([]);
    expect(fs.existsSync(out)).toBe(false);
    expect(state('c1')).toEqual(s);
    expect(oci('start', 'c1')).toMatchObject({ status: 0, stderr: '' });
    waitFor('c1', 'stopped');
    expect(fs.readFileSync(out, 'utf8')).toBe('ran as 1 on oci-test\n');
    expect(state('c1').pid).toBe(0);
    expect(oci('start', 'c1')).toMatchObject({ status: 1, stderr: expect.stringContaining('container not running') });
    expect(oci('kill', 'c1', 'KILL')).toMatchObject({ status: 1, stderr: expect.stringContaining('container not running') });
    expect(oci('delete', 'c1')).toMatchObject({ status: 0, stderr: '' });
    expect(fs.existsSync(path.join(root, 'c1'))).toBe(false);
    expect(cgroupDirs().flatMap((d) => fs.readdirSync(d).filter((f) => fs.statSync(path.join(d, f)).isDirectory()))).toEqual([]);
    expect(oci('state', 'c1')).toMatchObject({ status: 1, stderr: expect.stringContaining('container c1 does not exist') });
  });

  test('a cgroup namespace of its own is made once the init is in its cgroup: it sees that cgroup as / in every hierarchy', () => {
    const out = path.join(bundle, 'rootfs', 'tmp', 'out');
    const ns = [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'cgroup' }];
    expect(create('cgns', ['sh', '-c', 'cat /proc/self/cgroup > /tmp/out'], { linux: { ...(config([]).linux as object), namespaces: ns } })).toMatchObject({ status: 0, stderr: '' });
    expect(oci('start', 'cgns').status).toBe(0);
    waitFor('cgns', 'stopped');
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => !l.endsWith(':/'))).toEqual([]);
    expect(oci('delete', 'cgns').status).toBe(0);
  });

  test('a code cache V8 refuses (another Node, an older build) is ignored, and the create replaces it with its own', () => {
    const warm = path.join(path.dirname(bin), '..', 'dist', 'nsjs-oci.js.warm');
    const junk = Buffer.from('not a V8 code cache');
    fs.writeFileSync(warm, junk);
    expect(create('warm', ['true'])).toMatchObject({ status: 0, stderr: '' });
    expect(state('warm').status).toBe('created');
    const made = fs.readFileSync(warm);
    expect(made.length).toBeGreaterThan(junk.length);
    expect(made.subarray(0, junk.length).equals(junk)).toBe(false);
    expect(oci('delete', '--force', 'warm').status).toBe(0);
  });

  test('ids: a second create with the same id fails and changes nothing; unknown ids; delete --force of an unknown id succeeds', () => {
    expect(create('dup', ['true']).status).toBe(0);
    const s = state('dup');
    expect(create('dup', ['true'])).toMatchObject({ status: 1, stderr: expect.stringContaining('container with given ID already exists') });
    expect(state('dup')).toEqual(s);
    expect(oci('create', '--bundle', bundle)).toMatchObject({ status: 1 });
    expect(oci('start', 'nope')).toMatchObject({ status: 1, stderr: expect.stringContaining('does not exist') });
    expect(oci('kill', 'nope', 'KILL')).toMatchObject({ status: 1, stderr: expect.stringContaining('does not exist') });
    expect(oci('delete', 'nope')).toMatchObject({ status: 1, stderr: expect.stringContaining('does not exist') });
    expect(oci('delete', '--force', 'nope')).toMatchObject({ status: 0, stderr: '' });
    expect(oci('state', '../x')).toMatchObject({ status: 1, stderr: expect.stringContaining('invalid container id') });
  });

  test('kill with names, numbers and --all; delete of a running container needs --force; pause and resume', () => {
    expect(create('k', ['sh', '-c', "trap 'touch /tmp/usr1' USR1; sleep 100 & sleep 100 & wait; wait"]).status).toBe(0);
    expect(oci('start', 'k').status).toBe(0);
    waitFor('k', 'running');
    const { pid } = state('k');
    const touched = path.join(bundle, 'rootfs', 'tmp', 'usr1');
    expect(oci('kill', 'k', 'USR1').status).toBe(0);
    for (let i = 0; i < 200 && !fs.existsSync(touched); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    expect(fs.existsSync(touched)).toBe(true);
    expect(oci('kill', 'k', 'NOSUCH')).toMatchObject({ status: 1, stderr: expect.stringContaining('unknown signal') });
    expect(oci('pause', 'k').status).toBe(0);
    expect(state('k').status).toBe('paused');
    expect(oci('resume', 'k').status).toBe(0);
    expect(state('k').status).toBe('running');
    const ps = oci('ps', '--format', 'json', 'k');
    const pids = JSON.parse(ps.stdout) as number[];
    expect(pids).toContain(pid);
    expect(pids.length).toBeGreaterThanOrEqual(3);
    expect(oci('delete', 'k')).toMatchObject({ status: 1, stderr: expect.stringContaining('that is not stopped: running') });
    expect(state('k').status).toBe('running');
    // --all reaches the sleeps too; the signal by number, as containerd sends it.
    expect(oci('kill', '--all', 'k', '9').status).toBe(0);
    waitFor('k', 'stopped');
    for (const p of pids) expect(fs.existsSync(`/proc/${p}/stat`) && !/\) [ZX] /.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8'))).toBe(false);
    expect(oci('delete', 'k').status).toBe(0);
  });

  test('delete of a created container kills the parked init (as runc, which containerd relies on)', () => {
    expect(create('parked', ['true']).status).toBe(0);
    const { pid } = state('parked');
    expect(oci('delete', 'parked')).toMatchObject({ status: 0, stderr: '' });
    const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
    expect(stat === '' || /\) [ZX] /.test(stat)).toBe(true);
  });

  test('exec joins the init\'s namespaces and cgroup; its exit status comes through', () => {
    expect(create('e', ['sleep', '100']).status).toBe(0);
    expect(oci('start', 'e').status).toBe(0);
    const { pid } = state('e');
    const proc = path.join(dir, 'process.json');
    fs.writeFileSync(proc, JSON.stringify({ args: ['sh', '-c', 'readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; hostname; exit 3'], cwd: '/', env: ['PATH=/bin'] }));
    const r = oci('exec', '--process', proc, 'e');
    expect(r.status).toBe(3);
    expect(r.stdout).toBe(`${fs.readlinkSync(`/proc/${pid}/ns/pid`)}\n${fs.readlinkSync(`/proc/${pid}/ns/mnt`)}\noci-test\n`);
    expect(oci('delete', '--force', 'e').status).toBe(0);
  });
});

describe('nsjs-oci linux.seccomp: loaded by the parked init just before its execv, for exec\'d processes too', () => {
  const withSeccomp = (seccomp: unknown, proc: Record<string, unknown>, args: string[]) => {
    const c = config(args);
    Object.assign(c.process as Record<string, unknown>, proc);
    (c.linux as Record<string, unknown>).seccomp = seccomp;
    return c;
  };
  const status = (pid: number) => fs.readFileSync(`/proc/${pid}/status`, 'utf8');

  test('mkdir denied with errnoRet EPERM: mkdir fails inside, other calls work; an exec\'d process is under the same filter, ours is not stacked', () => {
    const deny = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    writeConfig(withSeccomp(deny, { noNewPrivileges: true }, ['sh', '-c', 'mkdir /tmp/d 2> /tmp/err; echo $? > /tmp/rc; touch /tmp/ok; sleep 100']));
    ids.push('s1');
    expect(oci('create', '--bundle', bundle, 's1')).toMatchObject({ status: 0, stderr: '' });
    const { pid } = state('s1');
    // Parked: no filter yet (the runtime's own calls are not under it).
    expect(status(pid)).toMatch(/^Seccomp:\t0$/m);
    expect(oci('start', 's1')).toMatchObject({ status: 0, stderr: '' });
    const tmp = path.join(bundle, 'rootfs', 'tmp');
    for (let i = 0; i < 400 && !fs.existsSync(path.join(tmp, 'ok')); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    expect(fs.readFileSync(path.join(tmp, 'rc'), 'utf8')).toBe('1\n');
    expect(fs.readFileSync(path.join(tmp, 'err'), 'utf8')).toContain('Operation not permitted');
    expect(fs.existsSync(path.join(tmp, 'd'))).toBe(false);
    // One filter: the profile's, not nsjs's default on top of it.
    expect(status(pid)).toMatch(/^Seccomp:\t2$/m);
    expect(status(pid)).toMatch(/^Seccomp_filters:\t1$/m);
    expect(status(pid)).toMatch(/^NoNewPrivs:\t1$/m);
    const proc = path.join(dir, 'process.json');
    fs.writeFileSync(proc, JSON.stringify({ args: ['sh', '-c', 'grep -E "^Seccomp(_filters)?:" /proc/self/status; mkdir /tmp/e'], cwd: '/', env: ['PATH=/bin'], noNewPrivileges: true }));
    const r = oci('exec', '--process', proc, 's1');
    expect(r.stdout).toBe('Seccomp:\t2\nSeccomp_filters:\t1\n');
    expect(r.stderr).toContain('Operation not permitted');
    expect(r.status).toBe(1);
    expect(fs.existsSync(path.join(tmp, 'e'))).toBe(false);
    expect(oci('delete', '--force', 's1').status).toBe(0);
  });

  test('without no_new_privs and without capabilities (runtime-tools\' default): loaded, then CAP_SYS_ADMIN and CAP_SETPCAP held for the load are gone from every set', () => {
    const deny = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    writeConfig(withSeccomp(deny, {}, ['sh', '-c', 'mkdir /tmp/d 2> /tmp/err; grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status > /tmp/st; sleep 100']));
    ids.push('s3');
    expect(oci('create', '--bundle', bundle, 's3')).toMatchObject({ status: 0, stderr: '' });
    const { pid } = state('s3');
    // Parked: holding exactly the two it will drop.
    expect(status(pid)).toMatch(/^CapBnd:	0000000000200100$/m);
    expect(oci('start', 's3')).toMatchObject({ status: 0, stderr: '' });
    const st = path.join(bundle, 'rootfs', 'tmp', 'st');
    for (let i = 0; i < 400 && !(fs.existsSync(st) && fs.readFileSync(st, 'utf8').includes('Seccomp')); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    const zero = '0000000000000000';
    expect(fs.readFileSync(st, 'utf8')).toBe(`CapInh:\t${zero}\nCapPrm:\t${zero}\nCapEff:\t${zero}\nCapBnd:\t${zero}\nCapAmb:\t${zero}\nNoNewPrivs:\t0\nSeccomp:\t2\n`);
    expect(fs.readFileSync(path.join(bundle, 'rootfs', 'tmp', 'err'), 'utf8')).toContain('Operation not permitted');
    const proc = path.join(dir, 'process.json');
    fs.writeFileSync(proc, JSON.stringify({ args: ['sh', '-c', 'grep -E "^(CapBnd|CapEff|Seccomp):" /proc/self/status; mkdir /tmp/e'], cwd: '/', env: ['PATH=/bin'] }));
    const r = oci('exec', '--process', proc, 's3');
    expect(r.stdout).toBe(`CapEff:\t${zero}\nCapBnd:\t${zero}\nSeccomp:\t2\n`);
    expect(r.stderr).toContain('Operation not permitted');
    expect(oci('delete', '--force', 's3').status).toBe(0);
  });

  test('defaultAction SCMP_ACT_ERRNO with an allow-list busybox sh runs under; without no_new_privs through CAP_SYS_ADMIN', () => {
    const allow = [
      'execve', 'brk', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'rseq', 'prlimit64', 'getrlimit', 'mmap', 'munmap', 'mprotect', 'madvise',
      'getpid', 'getppid', 'gettid', 'getuid', 'geteuid', 'getgid', 'getegid', 'getpgrp', 'setpgid', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn',
      'ioctl', 'fcntl', 'dup', 'dup2', 'dup3', 'open', 'openat', 'read', 'write', 'writev', 'close', 'lseek', 'stat', 'fstat', 'lstat', 'newfstatat',
      'statx', 'access', 'faccessat', 'faccessat2', 'readlink', 'getcwd', 'uname', 'exit', 'exit_group', 'wait4', 'futex', 'getrandom', 'sysinfo',
      'clone', 'fork', 'vfork', 'pipe', 'pipe2', 'chdir',
    ];
    const caps = ['CAP_SYS_ADMIN'];
    const profile = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: allow, action: 'SCMP_ACT_ALLOW' }] };
    writeConfig(withSeccomp(profile, { capabilities: { bounding: caps, effective: caps, permitted: caps } }, ['sh', '-c', 'echo hi > /tmp/out; mkdir /tmp/d 2> /dev/null || echo refused >> /tmp/out']));
    ids.push('s2');
    expect(oci('create', '--bundle', bundle, 's2')).toMatchObject({ status: 0, stderr: '' });
    expect(oci('start', 's2')).toMatchObject({ status: 0, stderr: '' });
    waitFor('s2', 'stopped');
    expect(fs.readFileSync(path.join(bundle, 'rootfs', 'tmp', 'out'), 'utf8')).toBe('hi\nrefused\n');
    expect(fs.existsSync(path.join(bundle, 'rootfs', 'tmp', 'd'))).toBe(false);
  });
});

/** runtime-tools' default mounts (util.GetDefaultGenerator), in its order. */
const DEFAULT_MOUNTS = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
];

/** Runs `script` in a container of config `c`, to its end; returns what it wrote to /tmp/out. */
function runInside(id: string, c: Record<string, unknown>, script: string): string {
  (c.process as Record<string, unknown>).args = ['sh', '-c', `{ ${script}; } > /tmp/out 2>&1`];
  writeConfig(c);
  ids.push(id);
  expect(oci('create', '--bundle', bundle, id)).toMatchObject({ status: 0, stderr: '' });
  expect(oci('start', id)).toMatchObject({ status: 0, stderr: '' });
  waitFor(id, 'stopped');
  return fs.readFileSync(path.join(bundle, 'rootfs', 'tmp', 'out'), 'utf8');
}

describe('nsjs-oci config fields, checked from inside as runtime-tools\' runtimetest checks them', () => {
  test('the default mounts appear in /proc/self/mountinfo in config order with their type and source (/dev/shm from "shm", /dev/mqueue inside the /dev tmpfs); the default devices and /dev links', () => {
    const c = config([], { mounts: DEFAULT_MOUNTS });
    const devices = ['null 1:3', 'zero 1:5', 'full 1:7', 'random 1:8', 'urandom 1:9', 'tty 5:0', 'ptmx 5:2'];
    const links = ['fd', 'stdin', 'stdout', 'stderr', 'ptmx'];
    const out = runInside('m1', c, `cat /proc/self/mountinfo; echo --; stat -L -c '%n %F %t:%T' ${devices.map((d) => `/dev/${d.split(' ')[0]}`).join(' ')}; echo --; for l in ${links.join(' ')}; do readlink /dev/$l; done`);
    const [mountinfo, stats, targets] = out.split('--\n');
    // mountinfo: id parent major:minor root mountpoint options... - fstype source superoptions
    const mounts = mountinfo.trim().split('\n').map((l) => {
      const [left, right] = l.split(' - ');
      const [fstype, source] = right.split(' ');
      return { at: left.split(' ')[4], fstype, source };
    });
    let last = -1;
    for (const m of DEFAULT_MOUNTS) {
      const i = mounts.findIndex((x, j) => j > last && x.at === m.destination);
      expect({ m: m.destination, found: i > last }).toEqual({ m: m.destination, found: true });
      expect(mounts[i]).toEqual({ at: m.destination, fstype: m.type, source: m.source });
      last = i;
    }
    // stat prints major:minor in hex.
    expect(stats.trim().split('\n')).toEqual(devices.map((d) => {
      const [name, mm] = d.split(' ');
      const [ma, mi] = mm.split(':').map((n) => Number(n).toString(16));
      return `/dev/${name} character special file ${ma}:${mi}`;
    }));
    expect(targets).toBe('/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\npts/ptmx\n');
  });

  test('in a new user namespace (0 -> 100000): the default mounts are made as root inside (no EOVERFLOW), the maps are the config\'s', () => {
    const c = config([], { mounts: DEFAULT_MOUNTS });
    const linux = c.linux as Record<string, unknown>;
    (linux.namespaces as unknown[]).push({ type: 'user' });
    linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 2000 }];
    linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 3000 }];
    fs.chmodSync(path.join(bundle, 'rootfs', 'tmp'), 0o1777);
    const out = runInside('u1', c, 'id -u; stat -c %u:%g /dev /dev/shm; cat /proc/self/uid_map /proc/self/gid_map');
    expect(out.replace(/ +/g, ' ')).toBe('0\n0:0\n0:0\n 0 100000 2000\n 0 100000 3000\n');
  });

  test('linux.resources.devices: runc\'s default rules after the config\'s, so a deny-all config still has working /dev/null and /dev/zero (busybox sh opens /dev/null for a background job)', () => {
    const c = config([], { mounts: DEFAULT_MOUNTS });
    (c.linux as Record<string, unknown>).resources = { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' }, { allow: true, type: 'b', major: 8, minor: 20, access: 'rw' }] };
    const out = runInside('d1', c, "sleep 0 & wait $!; echo x > /dev/null && echo null-ok; head -c 1 /dev/zero > /dev/null && echo zero-ok");
    expect(out).toBe('null-ok\nzero-ok\n');
  });

  // runtime-tools' linux_cgroups_memory reads kernelTCP back from the v1 memory cgroup (runc 1.1 ignores it; the kernel does not).
  test('linux.resources.memory.kernelTCP: the container\'s v1 memory.kmem.tcp.limit_in_bytes', () => {
    const line = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^[0-9]+:memory:/.test(l));
    if (line === undefined) throw new Error('this test needs the v1 memory controller (every nsjs CI host has it)');
    const c = config(['true']);
    (c.linux as Record<string, unknown>).resources = { memory: { limit: 50593792, kernelTCP: 50593792, kernel: 50593792 } };
    writeConfig(c);
    ids.push('kt');
    expect(oci('create', '--bundle', bundle, 'kt')).toMatchObject({ status: 0, stderr: '' });
    const own = fs.readFileSync(`/proc/${state('kt').pid}/cgroup`, 'utf8').split('\n').find((l) => /^[0-9]+:memory:/.test(l))!.split(':')[2];
    const dir = path.join('/sys/fs/cgroup/memory', own);
    expect(['memory.limit_in_bytes', 'memory.kmem.tcp.limit_in_bytes'].map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))).toEqual(['50593792\n', '50593792\n']);
  });

  test('linux.maskedPaths: a directory, a directory inside it, a file; missing paths skipped; nothing readable', () => {
    const r = path.join(bundle, 'rootfs');
    fs.mkdirSync(path.join(r, 'masked-dir', 'masked-subdir'), { recursive: true });
    fs.writeFileSync(path.join(r, 'masked-dir', 'masked-subdir', 'f'), 'secret');
    fs.writeFileSync(path.join(r, 'masked-file'), 'secret');
    const c = config([], { mounts: DEFAULT_MOUNTS });
    (c.linux as Record<string, unknown>).maskedPaths = ['/masked-dir', '/masked-dir/masked-subdir', '/masked-file', '/no-such-path'];
    const out = runInside('mp', c, 'cat /masked-file; echo "[$(ls -A /masked-dir)]"; cat /masked-dir/masked-subdir/f 2>&1 | grep -c secret');
    expect(out).toBe('[]\n0\n');
  });

  test('linux.sysctl: written in the container\'s own namespaces before it runs, even under a read-only /proc/sys; ours unchanged; a key of the host\'s refused', () => {
    const ours = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const want = ours.trim() === '1' ? '0' : '1';
    const c = config([], { mounts: DEFAULT_MOUNTS });
    Object.assign(c.linux as Record<string, unknown>, { sysctl: { 'net.ipv4.ip_forward': want, 'kernel.shmmni': '1234' }, readonlyPaths: ['/proc/sys'] });
    const out = runInside('sc', c, 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; echo 1 > /proc/sys/kernel/shmmni || echo ro');
    expect(out).toMatch(new RegExp(`^${want}\\n1234\\n.*\\nro\\n$`));
    expect(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(ours);
    Object.assign(c.linux as Record<string, unknown>, { sysctl: { 'vm.swappiness': '10' } });
    writeConfig(c);
    const r = oci('create', '--bundle', bundle, 'sc2');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('linux.sysctl.vm.swappiness: is not namespaced: it would change the host');
  });

  test('process.capabilities: every capability the host has in all five sets for uid 0 (spawn leaves such sets alone): inheritable and ambient raised too', () => {
    const have = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`);
    const names = CAPABILITIES.filter((_, i) => (have >> BigInt(i)) & 1n);
    const c = config([], { mounts: DEFAULT_MOUNTS });
    (c.process as Record<string, unknown>).capabilities = { bounding: names, effective: names, permitted: names, inheritable: names, ambient: names };
    const out = runInside('caps', c, 'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb):" /proc/self/status');
    const hex = have.toString(16).padStart(16, '0');
    expect(out).toBe(['Inh', 'Prm', 'Eff', 'Bnd', 'Amb'].map((k) => `Cap${k}:\t${hex}\n`).join(''));
  });

  test('linux.devices: made with their exact mode whatever the umask, their owner, type and numbers; one works (/dev is not nodev unless the config says so)', () => {
    const c = config([], { mounts: DEFAULT_MOUNTS });
    (c.linux as Record<string, unknown>).devices = [
      { path: '/dev/test1', type: 'c', major: 10, minor: 666, fileMode: 0o660, uid: 0, gid: 0 },
      { path: '/dev/test2', type: 'b', major: 8, minor: 666, fileMode: 0o604, uid: 7, gid: 8 },
      { path: '/dev/test3', type: 'p', fileMode: 0o777 },
      { path: '/dev/sub/mynull', type: 'u', major: 1, minor: 3, fileMode: 0o666 },
    ];
    const old = process.umask(0o077);
    let out: string;
    try {
      out = runInside('dv', c, "stat -c '%n %F %t:%T %a %u:%g' /dev/test1 /dev/test2 /dev/test3 /dev/sub/mynull; echo x > /dev/sub/mynull && echo usable");
    } finally {
      process.umask(old);
    }
    expect(out).toBe([
      '/dev/test1 character special file a:29a 660 0:0', '/dev/test2 block special file 8:29a 604 7:8', '/dev/test3 fifo 0:0 777 0:0',
      '/dev/sub/mynull character special file 1:3 666 0:0', 'usable', '',
    ].join('\n'));
  });

  test.each([['shared', /^shared:[0-9]+$/], ['unbindable', /^unbindable$/], ['private', /^$/]])('linux.rootfsPropagation %s: set on / after pivot_root, with CAP_SYS_ADMIN held for it and gone before the program runs', (rp, want) => {
    const c = config([], { mounts: DEFAULT_MOUNTS });
    (c.linux as Record<string, unknown>).rootfsPropagation = rp;
    const out = runInside(`rp-${rp}`, c, "grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo; grep CapBnd /proc/self/status");
    const [line, bnd] = out.trim().split('\n');
    // mountinfo: id parent dev root mountpoint options [optional fields...] - type source superoptions
    expect(line.split(' - ')[0].split(' ').slice(6).join(' ')).toMatch(want);
    expect(bnd).toBe('CapBnd:\t0000000000000000');
  });
});

describe('nsjs-oci refuses what it cannot do, in one line, and leaves nothing behind', () => {
  const refused = (id: string, stderr: string) => {
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(fs.existsSync(path.join(root, id))).toBe(false);
    return lines[0];
  };

  test('a bundle without config.json, or with one that is not JSON', () => {
    let r = oci('create', '--bundle', bundle, 'b1');
    expect(r.status).toBe(1);
    expect(refused('b1', r.stderr)).toMatch(/cannot read .*config\.json: ENOENT/);
    fs.writeFileSync(path.join(bundle, 'config.json'), '{ "ociVersion": ');
    r = oci('create', '--bundle', bundle, 'b1');
    expect(r.status).toBe(1);
    expect(refused('b1', r.stderr)).toContain('config.json: not JSON');
  });

  test('a bad ociVersion, a program not on PATH, a sysctl without its namespace, a seccomp profile nsjs cannot load', () => {
    let r = create('b2', ['true'], { ociVersion: 'invalid' });
    expect(refused('b2', r.stderr)).toContain('ociVersion: invalid is not a 1.x runtime-spec version');
    r = create('b2', ['no-such-program']);
    expect(r.status).toBe(1);
    expect(refused('b2', r.stderr)).toContain('exec: "no-such-program": executable file not found in $PATH');
    const c = config(['true']);
    (c.linux as Record<string, unknown>).seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_BOGUS' }] };
    writeConfig(c);
    r = oci('create', '--bundle', bundle, 'b2');
    expect(r.status).toBe(1);
    expect(refused('b2', r.stderr)).toContain('config.json: linux.seccomp: seccomp action SCMP_ACT_BOGUS is not supported');
    (c.linux as Record<string, unknown>).seccomp = { defaultAction: 'SCMP_ACT_NOTIFY' };
    writeConfig(c);
    r = oci('create', '--bundle', bundle, 'b2');
    expect(refused('b2', r.stderr)).toContain('linux.seccomp: seccomp action SCMP_ACT_NOTIFY is not supported');
    delete (c.linux as Record<string, unknown>).seccomp;
    (c.linux as Record<string, unknown>).sysctl = { 'kernel.hostname': 'x' };
    (c.linux as Record<string, unknown>).namespaces = [{ type: 'pid' }, { type: 'mount' }];
    writeConfig(c);
    r = oci('create', '--bundle', bundle, 'b2');
    expect(refused('b2', r.stderr)).toContain('config.json: linux.sysctl.kernel.hostname: needs a new uts namespace');
    // A namespace path of the wrong type (runtime-tools' linux_ns_path_type).
    delete (c.linux as Record<string, unknown>).sysctl;
    (c.linux as Record<string, unknown>).namespaces = [{ type: 'pid' }, { type: 'mount' }, { type: 'network', path: '/proc/self/ns/uts' }];
    writeConfig(c);
    r = oci('create', '--bundle', bundle, 'b2');
    expect(refused('b2', r.stderr)).toContain('linux.namespaces[2].path');
  });

  test('unknown top-level properties are warned about in --log, not fatal; errors go to --log as JSON', () => {
    const log = path.join(dir, 'log.json');
    writeConfig({ ...config(['true']), 'org.example.unknown': true });
    ids.push('w');
    let r = oci('--log', log, '--log-format', 'json', 'create', '--bundle', bundle, 'w');
    expect(r.status).toBe(0);
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warning', msg: 'config.json: unknown property org.example.unknown ignored' }));
    r = oci('--log', log, '--log-format', 'json', 'kill', 'nope', 'KILL');
    expect(r.status).toBe(1);
    const last = JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').pop()!) as { level: string; msg: string; time: string };
    expect(last).toMatchObject({ level: 'error', msg: 'container nope does not exist' });
    expect(Number.isNaN(Date.parse(last.time))).toBe(false);
  });
});

// features() and `nsjs doctor` against oracles that do not share its code:
// util-linux's unshare for namespace creation (as root and as uid 65534),
// the kernel version for syscalls (this suite runs without a seccomp
// filter: checked first), stat -f for cgroup v2. Then a forced restriction:
// a sandbox that sets user.max_user_namespaces=0 in its own user namespace,
// where doctor and a spawn hint must name that sysctl and its fix.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { features, runIsolated, type FeatureReport, type NamespaceType } from '../../../lib/index';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const root = path.join(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'nsjs.js');
const isRoot = process.geteuid!() === 0;
const TYPES: NamespaceType[] = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'];
const FLAG: Record<NamespaceType, string> = { cgroup: '-C', ipc: '-i', mnt: '-m', net: '-n', pid: '-pf', time: '-T', user: '-U', uts: '-u' };

const ok = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 10000 }).status === 0;
const asNobody = (cmd: string, args: string[]) =>
  isRoot ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', cmd, ...args]] as const : [cmd, args] as const;
const kernelAtLeast = (since: string) => {
  const [a, b] = os.release().split(/[.-]/).map(Number);
  const [x, y] = since.split('.').map(Number);
  return a > x || (a === x && b >= y);
};

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

beforeAll(() => {
  if (!fs.existsSync(path.join(root, 'dist', 'cjs', 'features', 'features.js'))) throw new Error('dist/cjs/features/features.js is missing: run `npm run build:ts` first');
});

describe('features() reports this machine', () => {
  let report: FeatureReport;
  beforeAll(async () => {
    report = await features();
  });

  test('this suite runs without a seccomp filter (the syscall oracle below assumes it)', () => {
    expect(report.seccomp).toBe(/^Seccomp:\s*0/m.test(fs.readFileSync('/proc/self/status', 'latin1')) ? 'disabled' : 'filter');
    expect(report.seccomp).toBe('disabled');
    expect(report).toMatchObject({ kernel: os.release(), uid: process.geteuid!(), node: process.version });
  });

  test.each(TYPES)('%s namespace: as unshare(1) finds it, as root and unprivileged', (type) => {
    const flags = type === 'user' ? ['-U'] : ['-U', FLAG[type]];
    const [cmd, args] = asNobody('unshare', [...flags, 'true']);
    const unprivileged = ok(cmd, [...args]);
    expect({ type, unprivileged: report.namespaces[type].unprivileged.ok }).toEqual({ type, unprivileged });
    if (isRoot) expect({ type, root: report.namespaces[type].root.ok }).toEqual({ type, root: ok('unshare', [FLAG[type], 'true']) });
    else expect(report.namespaces[type].root).toMatchObject({ ok: null, reason: expect.stringMatching(/not root/) });
    for (const c of [report.namespaces[type].root, report.namespaces[type].unprivileged])
      if (c.ok === false) expect(c.reason).toEqual(expect.any(String));
  });

  test('syscalls: yes exactly where the kernel has them (no seccomp here)', () => {
    const f = report.features;
    for (const name of ['clone3', 'clonePidfd', 'pidfdOpen', 'setnsPidfd', 'closeRange', 'mountSetattr', 'pidfdInfoExit', 'timeNamespaces', 'nsIoctls', 'nsGetId'] as const)
      expect({ name, ok: f[name].ok }).toEqual({ name, ok: kernelAtLeast(f[name].since) });
    expect(f).toMatchObject({ clone3: { since: '5.3' }, setnsPidfd: { since: '5.8' }, nsGetId: { since: '6.18' }, pidfdInfoExit: { since: '6.15' } });
  });

  test('a new /proc: as unshare --mount-proc finds it', () => {
    const [cmd, args] = asNobody('unshare', ['-Urpf', '--mount-proc', 'true']);
    expect(report.features.procMount.ok).toBe(isRoot ? ok('unshare', ['-pf', '--mount-proc', 'true']) : ok(cmd, [...args]));
  });

  test('cgroup v2 delegation: no on a v1 or hybrid layout, else as mkdir in our cgroup finds it', () => {
    const fstype = spawnSync('stat', ['-f', '-c', '%T', '/sys/fs/cgroup'], { encoding: 'utf8' }).stdout.trim();
    const c = report.features.cgroupDelegation;
    if (fstype !== 'cgroup2fs') {
      expect(c).toMatchObject({ ok: false, reason: expect.stringMatching(/cgroup v1|hybrid/), fix: expect.stringMatching(/unified_cgroup_hierarchy/) });
      return;
    }
    const own = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'latin1'))![1];
    const probe = path.join('/sys/fs/cgroup', own, `oracle-${process.pid}`);
    const can = ok('mkdir', [probe]);
    if (can) fs.rmdirSync(probe);
    expect(c.ok).toBe(can);
  });

  test('seccomp filters: as the kernel lists its actions (/proc/sys/kernel/seccomp/actions_avail)', () => {
    const actions = fs.readFileSync('/proc/sys/kernel/seccomp/actions_avail', 'latin1').split(/\s+/);
    expect(report.features.seccompFilter.ok).toBe(['x64', 'arm64'].includes(process.arch) && actions.includes('kill_process'));
  });

  test('seccomp filter flags: each as python3 finds it (seccomp(SET_MODE_FILTER, flag, NULL) is EFAULT for a flag the kernel knows, EINVAL else)', () => {
    const nr = process.arch === 'arm64' ? 277 : 317;
    const py = (bits: number) =>
      spawnSync('python3', ['-c', `import ctypes; l = ctypes.CDLL(None, use_errno=True); l.syscall(${nr}, 1, ${bits}, None); print(ctypes.get_errno())`], { encoding: 'utf8' }).stdout.trim();
    const bits = { tsync: 1, log: 2, specAllow: 4, newListener: 8, tsyncEsrch: 16, waitKillableRecv: 32 | 8 };
    expect(report.features.seccompFilter.flags).toEqual(Object.fromEntries(Object.entries(bits).map(([k, b]) => [k, py(b) === '14'])));
    // A flag no kernel has yet: the oracle's way of saying no.
    expect(py(1 << 30)).toBe('22');
  });

  test('Landlock: the ABI python3 gets from landlock_create_ruleset(NULL, 0, VERSION)', () => {
    const abi = Number(
      spawnSync('python3', ['-c', 'import ctypes; print(max(0, ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1)))'], { encoding: 'utf8' }).stdout.trim(),
    );
    expect(report.features.landlock).toMatchObject({ ok: abi > 0, abi });
  });

  test('cgroup limits: yes where a cgroup with a memory limit can be made (a real spawn), else no with the fix', async () => {
    const c = report.features.cgroupLimits;
    const spawned = await runIsolated('true', [], { namespaces: isRoot ? [] : ['user'], cgroup: { memory: { max: '64M' }, pids: { max: 8 }, cpu: { max: 1 } } }).then(
      () => true,
      () => false,
    );
    expect(c.ok).toBe(spawned);
    expect(c.reason).toMatch(/memory: v[12] .*pids: v[12] .*cpu: v[12] /);
    if (!spawned) expect(c.fix).toMatch(/root|Delegate/);
  });
});

describe('nsjs doctor', () => {
  const doctor = (...args: string[]) => spawnSync(process.execPath, [bin, 'doctor', ...args], { encoding: 'utf8', timeout: 30000 });

  test('--json is features(), the table shows the same answers', () => {
    const json = doctor('--json');
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout) as FeatureReport;
    const text = doctor();
    expect({ status: text.status, stderr: text.stderr }).toEqual({ status: 0, stderr: '' });
    const word = (c: { ok: boolean | null; code?: string }) => (c.ok === true ? 'yes' : c.ok === null ? '-' : c.code ? `no (${c.code})` : 'no');
    for (const type of TYPES) {
      const row = text.stdout.split('\n').find((l) => l.startsWith(`${type} `));
      expect(row?.split(/\s{2,}/)).toEqual([type, word(report.namespaces[type].root), word(report.namespaces[type].unprivileged)]);
    }
    expect(text.stdout).toMatch(/^clone3 +5\.3 +(yes|no)/m);
    if (report.features.seccompFilter.ok) {
      const flags = Object.entries(report.features.seccompFilter.flags).filter(([, v]) => v).map(([k]) => k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase());
      expect(text.stdout).toMatch(new RegExp(`^seccomp filters .* yes \\(flags: ${flags.join(' ') || 'none'}\\)$`, 'm'));
    }
    // Every "no" has its why; every no with a known fix prints it.
    for (const c of Object.values(report.features)) if (c.ok === false) expect(text.stdout).toContain(`why: ${c.reason}`);
  });

  test('newuidmap/newgidmap and our subordinate ranges, against stat(1) and the files themselves', () => {
    const report = JSON.parse(doctor('--json').stdout) as { idMaps: { helpers: { name: string; path: string | null; setuid: boolean }[]; ranges: { file: string; start: number; count: number }[]; user: string } };
    const text = doctor().stdout;
    for (const h of report.idMaps.helpers) {
      const found = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((d) => `${d}/${h.name}`).find((f) => fs.existsSync(f)) ?? null;
      expect(h.path).toBe(found);
      if (found) expect(h.setuid).toBe(spawnSync('stat', ['-c', '%u %A', found], { encoding: 'utf8' }).stdout.trim().match(/^0 ...s/) !== null);
      expect(text).toMatch(new RegExp(`^${h.name} +${h.path ?? '-'} +${h.path === null ? 'no \\(not installed\\)' : h.setuid ? 'yes' : 'no'}`, 'm'));
    }
    for (const file of ['/etc/subuid', '/etc/subgid']) {
      const line = (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '').split('\n').find((l) => l.startsWith(`${report.idMaps.user}:`) || l.startsWith(`${process.getuid!()}:`));
      const range = report.idMaps.ranges.find((r) => r.file === file);
      expect(range ? `${report.idMaps.user}:${range.start}:${range.count}` : undefined).toBe(line?.replace(/^[^:]*/, report.idMaps.user));
      expect(text).toContain(`${file} of ${report.idMaps.user}`);
    }
  });

  test('bad arguments: a usage line and status 1', () => {
    const r = doctor('--bogus');
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: "nsjs: unrecognized option '--bogus'\nTry 'nsjs doctor --help' for more information.\n" });
    expect(doctor('--help').stdout).toMatch(/^Usage:\n nsjs doctor/);
    // Something to ask about is a namespace type or a feature; without --strict nothing is.
    expect(doctor('--strict', 'netns')).toMatchObject({ status: 1, stderr: expect.stringMatching(/^nsjs: unknown namespace type or feature 'netns'/) });
    expect(doctor('user')).toMatchObject({ status: 1, stderr: expect.stringMatching(/^nsjs: unexpected argument 'user'/) });
  });
});

describe('a forced restriction: user.max_user_namespaces=0 in our own user namespace', () => {
  // A sandbox mapping us to root in a new user namespace (a container, in
  // small) sets the sysctl there and runs the probe: nested user namespaces
  // are refused, and the report and a spawn's hint name the sysctl and the fix.
  const sandbox = (script: string) =>
    runIsolated('sh', ['-c', `echo 0 > /proc/sys/user/max_user_namespaces && ${script}`, 'sh', process.execPath, bin, path.join(root, 'dist', 'cjs', 'index.js')], {
      namespaces: ['user'],
      user: 'root',
      // The sysctl is the restriction under test: no filter of ours on top.
      seccomp: false,
      allowUserNamespaces: true,
    });

  test('doctor --strict: status 2 naming what was asked for and does not work, 0 when it all works', async () => {
    const r = await sandbox('"$1" "$2" doctor --strict uts user clone3 >/dev/null; echo "status $?"; "$1" "$2" doctor --strict uts clone3 >/dev/null; echo "status $?"');
    expect({ stdout: r.stdout, stderr: r.stderr }).toEqual({ stdout: 'status 2\nstatus 0\n', stderr: 'nsjs doctor: does not work here: user namespace\n' });
  });

  test('doctor --json: user namespaces refused with ENOSPC, the sysctl as the reason and the fix', async () => {
    const r = await sandbox('exec "$1" "$2" doctor --json');
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const report = JSON.parse(r.stdout) as FeatureReport;
    expect(report).toMatchObject({ uid: 0, initialUserNamespace: false, sysctls: { 'user.max_user_namespaces': '0' } });
    expect(report.namespaces.user.root).toMatchObject({
      ok: false,
      code: 'ENOSPC',
      reason: expect.stringMatching(/user\.max_user_namespaces is 0/),
      fix: expect.stringMatching(/sysctl -w user\.max_user_namespaces=/),
    });
    // Root of the sandbox still creates the other types, which need no new user namespace.
    expect(report.namespaces.uts.root.ok).toBe(true);
    expect(report.namespaces.user.unprivileged).toMatchObject({ ok: null, reason: expect.stringMatching(/65534 is not mapped/) });
  });

  test('doctor prints the fix', async () => {
    const r = await sandbox('exec "$1" "$2" doctor');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^user +no \(ENOSPC\)/m);
    expect(r.stdout).toMatch(/- user namespace as root: no \(ENOSPC\)\n {2}why: user\.max_user_namespaces is 0 .*\n {2}fix: .*sysctl -w user\.max_user_namespaces=15000/);
  });

  test('a spawn refused for that reason says the same in its hint', async () => {
    const r = await sandbox(
      `exec "$1" -e "require(process.argv[1]).spawnIsolated('true', [], { namespaces: ['user'] }).then(() => console.log('spawned'), (e) => console.log(JSON.stringify({ code: e.code, hint: e.hint })))" "$3"`,
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ code: 'ENOSPC', hint: expect.stringMatching(/^user\.max_user_namespaces is 0 .*; fix: .*sysctl -w user\.max_user_namespaces=15000/) });
  });
});

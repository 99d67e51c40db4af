// features/: features() (this file) and what it reports (report.ts): what
// works for this process on this kernel, each item tried for real (a spawn in
// new namespaces, a syscall in a forked child), never guessed from the kernel
// version; and for every "no", the reason and the fix. The explanations live
// in one table (core/explain.ts CAUSES) that spawn errors reuse for their
// hints, so `nsjs doctor` and a failed spawnIsolated say the same thing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { limitsReport } from '../cgroup/layout';
import { NsError } from '../core/errors';
import { CAUSES, SINCE, errnoCode, namespaceCause, procOvermounts, readProc, seccompMode, sysctl } from '../core/explain';
import { native, pid1Binary } from '../core/native';
import { NAMESPACE_TYPES, type NamespaceType } from '../core/nstypes';
import { Namespace } from '../ns/namespace';
import { landlockCheck, seccompCheck } from '../policy/probe';
import { runIsolated } from '../spawn/run';
import { spawnIsolated } from '../spawn/spawn';
import type { FeatureCheck, FeatureReport, KernelFeatures, NamespaceSupport } from './report';

const SYSCTLS = [
  'user/max_user_namespaces', 'user/max_mnt_namespaces', 'user/max_pid_namespaces', 'user/max_net_namespaces',
  'user/max_ipc_namespaces', 'user/max_uts_namespaces', 'user/max_cgroup_namespaces', 'user/max_time_namespaces',
  'kernel/unprivileged_userns_clone', 'kernel/apparmor_restrict_unprivileged_userns',
];

function inInitialUserNamespace(): boolean {
  return /^\s*0\s+0\s+4294967295\s*$/.test(readProc('/proc/self/uid_map') ?? '');
}

/** Whether `uid` has a mapping in our user namespace. */
function uidMapped(uid: number): boolean {
  const map = readProc('/proc/self/uid_map') ?? '';
  return map.split('\n').some((line) => {
    const [inside, , count] = line.trim().split(/\s+/).map(Number);
    return uid >= inside && uid < inside + count;
  });
}

function container(): string | undefined {
  const env = readProc('/proc/1/environ');
  const fromEnv = env ? /(?:^|\0)container=([^\0]+)/.exec(env)?.[1] : undefined;
  if (fromEnv) return fromEnv;
  if (fs.existsSync('/.dockerenv')) return 'docker';
  if (fs.existsSync('/run/.containerenv')) return 'podman';
  const cgroup = readProc('/proc/1/cgroup') ?? '';
  for (const name of ['docker', 'kubepods', 'lxc', 'containerd']) if (cgroup.includes(name)) return name;
  return undefined;
}

function refusal(err: unknown, types: readonly NamespaceType[], since: string): FeatureCheck {
  if (!(err instanceof NsError)) return { ok: null, since, reason: `the probe itself failed: ${err instanceof Error ? err.message : String(err)}` };
  const cause = namespaceCause(err.errno, types);
  return {
    ok: false,
    since,
    code: err.code,
    reason: cause?.reason ?? `${err.syscall}${err.step && err.step !== err.syscall ? ` (step: ${err.step})` : ''} failed with ${err.code}${err.hint ? `: ${err.hint}` : ''}`,
    ...(cause ? { fix: cause.fix } : {}),
  };
}

// --- probes ---------------------------------------------------------------

// A throwaway command for namespace probes: nsjs-init --hold with stdin on
// /dev/null exits 0 at once. Static, shipped with the addon, no PATH needed.
async function tryNamespaces(namespaces: NamespaceType[], extra: Record<string, unknown> = {}): Promise<void> {
  const proc = await spawnIsolated(pid1Binary(), ['--hold'], { namespaces, stdio: 'ignore', env: {}, ...extra });
  const status = await proc.wait();
  if (status.code !== 0) throw new Error(`the probe exited with ${status.signal ?? status.code}`);
}

/** Each namespace type as this process (unprivileged: inside a new user namespace). */
async function probeNamespacesHere(): Promise<Record<NamespaceType, FeatureCheck>> {
  const privileged = process.geteuid!() === 0;
  const out = {} as Record<NamespaceType, FeatureCheck>;
  for (const type of NAMESPACE_TYPES) {
    const types: NamespaceType[] = privileged || type === 'user' ? [type] : ['user', type];
    const since = SINCE[type];
    try {
      await tryNamespaces(types);
      out[type] = { ok: true, since };
    } catch (err) {
      out[type] = refusal(err, types, since);
    }
  }
  return out;
}

function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'binding.gyp'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`nsjs: cannot find the package root from ${__dirname}`);
    dir = up;
  }
  return dir;
}

const NOBODY = 65534;

/** As root: the unprivileged column, from a child running this module as uid 65534. */
async function probeNamespacesAsNobody(): Promise<Record<NamespaceType, FeatureCheck>> {
  const all = (check: FeatureCheck) => Object.fromEntries(NAMESPACE_TYPES.map((t) => [t, { ...check, since: SINCE[t] }])) as Record<NamespaceType, FeatureCheck>;
  if (!uidMapped(NOBODY)) return all({ ok: null, since: '', ...CAUSES.setuidUnmapped });
  const script = path.join(packageRoot(), 'dist', 'cjs', 'features', 'features.js');
  if (!fs.existsSync(script)) return all({ ok: null, since: '', reason: `${script} is missing (run npm run build:ts), so the unprivileged probe cannot run as uid ${NOBODY}` });
  try {
    const r = await runIsolated(process.execPath, [script, '--probe-namespaces'], {
      uid: NOBODY, gid: NOBODY, groups: [], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 30000, cwd: '/', reject: false,
      // It probes the kernel for that user, not our filter, which would refuse its namespaces.
      seccomp: false, allowUserNamespaces: true,
    });
    if (r.code === 0) return JSON.parse(r.stdout) as Record<NamespaceType, FeatureCheck>;
    const line = r.stderr.split('\n').find((l) => /Error|EACCES|denied/.test(l)) ?? r.stderr.split('\n')[0];
    return all({ ok: null, since: '', reason: `the probe as uid ${NOBODY} failed (${r.signal ?? `exit ${r.code}`}: ${line.trim()}); nsjs's files must be readable by that user`, fix: 'run nsjs doctor as an ordinary user' });
  } catch (err) {
    return all({ ok: null, since: '', reason: `could not start the probe as uid ${NOBODY}: ${(err as Error).message}` });
  }
}

interface NativeProbe {
  clone3: number;
  clonePidfd: number;
  fork: number;
  pidfdInfoExit: number;
  pidfdOpen?: number;
  setnsPidfd?: number;
  closeRange?: number;
  mountSetattr?: number;
}

function syscallChecks(): Pick<KernelFeatures, 'clone3' | 'clonePidfd' | 'pidfdOpen' | 'setnsPidfd' | 'closeRange' | 'mountSetattr' | 'pidfdInfoExit'> {
  const probe = (native() as unknown as { probeSyscalls?: () => NativeProbe }).probeSyscalls;
  const checks = {
    clone3: { since: '5.3', fallback: 'clone, then pidfd_open for the pidfd (a time namespace then costs an extra fork)' },
    clonePidfd: { since: '5.2', fallback: 'pidfd_open right after clone (our own unreaped child cannot be recycled meanwhile)' },
    pidfdOpen: { since: '5.3', fallback: 'none: Process.attach, waitpid and join: { pid } fail' },
    setnsPidfd: { since: '5.8', fallback: 'one setns per /proc/PID/ns file (not atomic: the target may exit in between)' },
    closeRange: { since: '5.11', fallback: 'the child marks fds close-on-exec one by one' },
    mountSetattr: { since: '5.12', fallback: 'read-only binds by a remount (MS_REMOUNT|MS_BIND|MS_RDONLY)' },
    pidfdInfoExit: { since: '6.15', fallback: 'wait() on a process another waiter reaped reports { code: null, signal: null }' },
  } as const;
  type Name = keyof typeof checks;
  const result = (name: Name, errno: number | undefined): FeatureCheck => {
    const { since, fallback } = checks[name];
    if (errno === undefined) return { ok: null, since, reason: 'the probe child did not report' };
    if (errno === 0) return { ok: true, since };
    const code = errnoCode(errno);
    const refused: FeatureCheck = { ok: false, since, code, fallback };
    if (name === 'clone3' && code === 'ENOSYS') return { ...refused, ...CAUSES.clone3Refused };
    if (code === 'ENOSYS') return { ...refused, reason: `the kernel (or a seccomp filter) does not know the syscall (ENOSYS): it needs Linux ${since}`, fix: `Linux ${since} or later, and a seccomp profile that allows it` };
    if (code === 'EPERM' && seccompMode() === 'filter') return { ...refused, ...CAUSES.seccomp };
    if (code === 'EINVAL' || code === 'ENOTTY' || code === 'EOPNOTSUPP' || code === 'ENOTSUP')
      return { ...refused, reason: `the kernel refuses it (${code}): it needs Linux ${since}`, fix: `Linux ${since} or later` };
    return { ...refused, reason: `refused with ${code}` };
  };
  if (!probe) {
    const stale = { ok: null, reason: 'the loaded addon has no probeSyscalls (a prebuild older than nsjs\'s sources)', fix: 'rebuild the addon: npm run build:native' };
    return Object.fromEntries(Object.entries(checks).map(([k, v]) => [k, { ...stale, since: v.since }])) as ReturnType<typeof syscallChecks>;
  }
  const r = probe();
  return {
    clone3: result('clone3', r.clone3),
    clonePidfd: result('clonePidfd', r.clonePidfd),
    pidfdOpen: result('pidfdOpen', r.pidfdOpen),
    setnsPidfd: result('setnsPidfd', r.setnsPidfd),
    closeRange: result('closeRange', r.closeRange),
    mountSetattr: result('mountSetattr', r.mountSetattr),
    pidfdInfoExit: result('pidfdInfoExit', r.pidfdInfoExit),
  };
}

/** The user namespace to probe in: unprivileged, a new one; as root, none when the kernel refuses it. */
function sandboxTypes(privileged: boolean, userOk: boolean, ...types: NamespaceType[]): NamespaceType[] {
  return !privileged || userOk ? ['user', ...types] : types;
}

async function timeCheck(privileged: boolean, userOk: boolean): Promise<FeatureCheck> {
  const since = '5.6';
  const types = sandboxTypes(privileged, userOk, 'time');
  let proc;
  try {
    proc = await spawnIsolated(pid1Binary(), ['--hold'], { namespaces: types, timeOffsets: { monotonic: 86400 }, stdio: ['pipe', 'ignore', 'ignore'], env: {} });
  } catch (err) {
    return refusal(err, types, since);
  }
  try {
    const offsets = readProc(`/proc/${proc.pid}/timens_offsets`) ?? '';
    return /monotonic\s+86400\s/.test(`${offsets}\n`) ? { ok: true, since } : { ok: false, since, reason: `the offset was not applied (timens_offsets: ${JSON.stringify(offsets)})` };
  } finally {
    proc.stdin!.destroy();
    await proc.wait();
  }
}

async function nsIoctlChecks(privileged: boolean, userOk: boolean): Promise<Pick<KernelFeatures, 'nsIoctls' | 'nsGetId'>> {
  const since = '4.11';
  let proc;
  const types = sandboxTypes(privileged, userOk, 'pid');
  try {
    proc = await spawnIsolated(pid1Binary(), ['--hold'], { namespaces: types, stdio: ['pipe', 'ignore', 'ignore'], env: {} });
  } catch {
    proc = undefined; // then our own namespaces answer the ioctls
  }
  const opened: { close(): void }[] = [];
  const open = <T extends { close(): void }>(ns: T): T => (opened.push(ns), ns);
  try {
    const pidNs = open(proc ? Namespace.of(proc.pid, 'pid') : Namespace.current('pid'));
    const userNs = open(proc && types.includes('user') ? Namespace.of(proc.pid, 'user') : Namespace.current('user'));
    let nsIoctls: FeatureCheck;
    try {
      // NS_GET_NSTYPE ran in Namespace.of/open; NS_GET_USERNS, NS_GET_OWNER_UID:
      open(pidNs.owner());
      userNs.ownerUid();
      // NS_GET_PARENT: of a new pid namespace it is ours; at the top of our scope EPERM is the answer.
      if (proc) open(pidNs.parent());
      nsIoctls = { ok: true, since };
    } catch (err) {
      const e = err as NsError;
      nsIoctls = { ok: false, since, code: e.code, reason: `${e.message}`, fix: 'Linux 4.11 or later', fallback: 'Namespace.open, owner(), parent() and ownerUid() fail' };
    }
    let nsGetId: FeatureCheck;
    try {
      pidNs.id();
      nsGetId = { ok: true, since: '6.18' };
    } catch (err) {
      const e = err as NsError;
      nsGetId = { ok: false, since: '6.18', code: e.code, reason: e.code === 'ENOTTY' ? 'the kernel does not know NS_GET_ID (ENOTTY): it needs Linux 6.18' : e.message, fix: 'Linux 6.18 or later', fallback: 'Namespace.id() throws; inode and device still identify a namespace' };
    }
    return { nsIoctls, nsGetId };
  } finally {
    for (const ns of opened) ns.close();
    if (proc) {
      proc.stdin!.destroy();
      await proc.wait();
    }
  }
}

async function procCheck(privileged: boolean, userOk: boolean): Promise<FeatureCheck> {
  const types = sandboxTypes(privileged, userOk, 'mnt', 'pid');
  try {
    await tryNamespaces(types, { mounts: [{ type: 'proc', target: '/proc' }] });
    return { ok: true, since: '3.8' };
  } catch (err) {
    if (err instanceof NsError && err.step?.includes('proc') && procOvermounts().length > 0)
      return { ok: false, since: '3.8', code: err.code, ...CAUSES.procLocked, fallback: 'nsjs run --mount-proc and { type: "proc" } mounts fail' };
    return { ...refusal(err, types, '3.8'), fallback: 'nsjs run --mount-proc and { type: "proc" } mounts fail' };
  }
}

function cgroupCheck(): FeatureCheck {
  const since = '4.5';
  const mount = (readProc('/proc/self/mountinfo') ?? '').split('\n').find((l) => l.split(' ')[4] === '/sys/fs/cgroup');
  const fstype = mount?.split(' - ')[1]?.split(' ')[0];
  const hybrid = (readProc('/proc/self/mountinfo') ?? '').split('\n').find((l) => l.split(' - ')[1]?.startsWith('cgroup2 '))?.split(' ')[4];
  if (fstype !== 'cgroup2')
    return {
      ok: false, since,
      reason: !mount
        ? 'no cgroup filesystem is mounted at /sys/fs/cgroup'
        : hybrid
          ? `cgroup v1 controllers with cgroup2 at ${hybrid} (the hybrid layout): no controller can be delegated through cgroup v2`
          : `/sys/fs/cgroup is ${fstype} (cgroup v1), not the unified cgroup v2 hierarchy`,
      fix: 'boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2), or mount -t cgroup2 none /sys/fs/cgroup',
    };
  const own = /^0::(.*)$/m.exec(readProc('/proc/self/cgroup') ?? '')?.[1];
  if (own === undefined) return { ok: false, since, reason: 'this process is in no cgroup v2 group (/proc/self/cgroup has no 0:: line)', fix: 'boot with the unified cgroup v2 hierarchy' };
  const dir = path.join('/sys/fs/cgroup', own);
  const controllers = readProc(path.join(dir, 'cgroup.controllers')) ?? '';
  const probe = path.join(dir, `nsjs-probe-${process.pid}`);
  try {
    fs.mkdirSync(probe);
    fs.rmdirSync(probe);
    return { ok: true, since, reason: `our cgroup ${own} accepts sub-cgroups; controllers: ${controllers || 'none'}` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const rootless = process.geteuid!() !== 0;
    return {
      ok: false, since, code,
      reason: code === 'EROFS'
        ? 'the cgroup filesystem is mounted read-only here (a container\'s default)'
        : `our cgroup ${own} is not delegated to uid ${process.geteuid!()} (${code} creating a sub-cgroup)`,
      fix: rootless
        ? 'start the program in a delegated scope: systemd-run --user --scope -p Delegate=yes <command>'
        : code === 'EROFS' ? 'run the container with --cgroupns=private and a writable cgroup mount (--privileged, or -v /sys/fs/cgroup:/sys/fs/cgroup:rw)' : 'run as root on the host, or in a delegated cgroup (systemd Delegate=yes)',
    };
  }
}

/**
 * What works for this process on this kernel, each item probed for real in a
 * short-lived child: every namespace type as root and unprivileged (as root,
 * the unprivileged case runs in a child as uid 65534, which needs nsjs's
 * built files readable by that user), `clone3`, `CLONE_PIDFD`, `pidfd_open`,
 * `setns` with a pidfd, time namespace offsets, the `NS_GET_*` ioctls,
 * `close_range`, `mount_setattr`, `PIDFD_INFO_EXIT`, a new `/proc`, and cgroup
 * v2 delegation. Each "no" carries the reason and the fix (the sysctl, the
 * AppArmor profile, the container flag). `nsjs doctor` prints it.
 *
 * Costs about 20 short spawns and, as root, one Node child: a few hundred
 * milliseconds. It never rejects for a missing feature, only reports it.
 */
export async function features(): Promise<FeatureReport> {
  const privileged = process.geteuid!() === 0;
  const here = await probeNamespacesHere();
  const namespaces = {} as Record<NamespaceType, NamespaceSupport>;
  const notRoot: FeatureCheck = { ok: null, since: '', reason: 'not probed: this process is not root' };
  const other = privileged ? await probeNamespacesAsNobody() : undefined;
  for (const type of NAMESPACE_TYPES) {
    namespaces[type] = privileged
      ? { root: here[type], unprivileged: other![type] }
      : { root: { ...notRoot, since: SINCE[type] }, unprivileged: here[type] };
  }
  const userOk = here.user.ok === true;
  const report: FeatureReport = {
    kernel: os.release(),
    arch: os.arch(),
    node: process.version,
    uid: process.geteuid!(),
    initialUserNamespace: inInitialUserNamespace(),
    seccomp: seccompMode(),
    sysctls: Object.fromEntries(SYSCTLS.map((s) => [s.replace('/', '.'), sysctl(s)])),
    namespaces,
    features: {
      ...syscallChecks(),
      timeNamespaces: await timeCheck(privileged, userOk),
      ...(await nsIoctlChecks(privileged, userOk)),
      procMount: await procCheck(privileged, userOk),
      cgroupDelegation: cgroupCheck(),
      seccompFilter: seccompCheck(),
      landlock: landlockCheck(),
      cgroupLimits: { since: '2.6.24', ...limitsReport() },
    } as KernelFeatures,
  };
  const where = container();
  if (where) report.container = where;
  return report;
}

// `node dist/cjs/features/features.js --probe-namespaces`: the unprivileged half of
// features() as root, run as uid 65534. Prints JSON, exits 0.
if (require.main === module && process.argv[2] === '--probe-namespaces') {
  probeNamespacesHere().then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

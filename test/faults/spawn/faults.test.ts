// Fault injection at every step (issue 8): with the test build of the addon
// (build-variants/, NSJS_TEST_ADDON), NSJS_TEST_FAULT_AT makes op N of the
// plan fail in the child (or the child die there of SIGSEGV, issue 13), or a
// named step fail in the parent. For plans that
// use every feature, each N must reject with an NsError naming exactly that
// step, and leave nothing: no child (zombie or running), no fd, no mount in
// our namespace, no network link, no namespace kept by `persist` (a bind
// mount of ours, on files this test made: a clean run keeps them, a failed
// one none).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Namespace, NsError, net, spawnIsolated, type SpawnOptions } from '../../../lib';
import { Cgroup } from '../../../lib/cgroup/cgroup';
import { native } from '../../../lib/core/native';
import { checkOptions } from '../../../lib/spawn/options';
import type { Step } from '../../../lib/core/plan';
import type { JoinPlan } from '../../../lib/spawn/join';
import { buildPlan } from '../../../lib/spawn/plan';
import { testHooks } from '../../../lib/spawn/spawn';
import { NAMESPACE_TYPES } from '../../../lib/core/nstypes';
import { joinFixture, type JoinFixture } from '../../helpers/join';
import { children, newFds, snapshot, type Snapshot } from '../../helpers/leaks';
import { packageCopy } from '../../helpers/package';
import { rootfs } from '../../helpers/rootfs';

const root = process.getuid!() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let fixture: JoinFixture | undefined;
let target = 0;

/** A rootfs skeleton: /usr is bound in, the rest are mount points. Made by the first test that needs it. */
function faultsRootfs(): string {
  const r = path.join(dir, 'root');
  return fs.existsSync(r) ? r : rootfs(dir, ['usr', 'proc', 'dev', 'scratch', 'mq', 'raw']);
}

beforeAll(async () => {
  expect(native().faultInjection).toBe(true); // the fault build, never the release one
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-faults-'));
  // A join target as nsenter's usual one, owned by a user namespace of ours.
  fixture = await joinFixture();
  target = fixture.target;
});

afterAll(async () => {
  await fixture?.dispose();
  delete process.env.NSJS_TEST_FAULT_AT;
  fs.rmSync(dir, { recursive: true, force: true });
});

/** expectNoLeaks, but the join fixture is a child we keep on purpose; and it returns the problems rather than throwing inside the loop. */
async function leaks(before: Snapshot): Promise<object | undefined> {
  const ours = () => children().filter((k) => k.pid !== fixture?.pid);
  // A veth of a clean run goes with the sandbox's net namespace, in the
  // kernel's cleanup worker: a moment after the exit.
  const newLinks = () => snapshot().links.filter((l) => !before.links.includes(l));
  let kids = ours();
  for (let i = 0; i < 100 && (kids.length > 0 || newLinks().length > 0); i++) {
    await sleep(20);
    kids = ours();
  }
  const after = snapshot();
  const fds = newFds(before, after);
  const mounts = after.mounts.filter((m) => !before.mounts.includes(m));
  const links = newLinks();
  const cgroups = after.cgroups.filter((g) => !before.cgroups.includes(g));
  const found = { fds, kids, mounts, links, cgroups };
  return Object.values(found).some((v) => v.length > 0) ? found : undefined;
}

/** A file of ours for options.persist, made again after the last clean run took it away. */
function keepAt(type: string): string {
  const file = path.join(dir, `keep-${type}`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, '');
  return file;
}

/** After a clean run: each file of options.persist holds its namespace (an nsfs mount), then no longer (Namespace.unpersist). */
function unkeep(options: SpawnOptions, failures: string[]): void {
  const persist = Object.entries((options as { persist?: Record<string, string> }).persist ?? {});
  const mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' '));
  for (const [type, file] of persist) {
    const mount = mountinfo.find((f) => f[4] === file);
    if (mount?.[mount.indexOf('-') + 1] !== 'nsfs') failures.push(`clean run: options.persist.${type} did not keep the namespace at ${file}`);
    else Namespace.unpersist(file);
  }
}

/** The steps lib/spawn/plan.ts makes for these options, as spawnIsolated will (join resolved as lib/spawn/join.ts resolveJoin does). */
function stepsOf(command: string, args: string[], options: SpawnOptions): Step[] {
  const c = checkOptions(options);
  let join: JoinPlan | undefined;
  if (c.join && 'pid' in c.join) {
    const ns = (pid: number | string, t: string) => fs.readlinkSync(`/proc/${pid}/ns/${t}`);
    const { pid, types } = c.join;
    const differs = (t: string) => ns(pid, t) !== ns('self', t);
    join = { pidfd: -1, pid, types: (types ?? NAMESPACE_TYPES).filter((t) => (types && t !== 'user') || differs(t)) };
  }
  const stdio = { child: c.stdio.map(() => -1) };
  const init = c.init ? { path: 'nsjs-init', statusFd: -1 } : undefined;
  const cgroup = c.cgroup ? Cgroup.create(c.cgroup) : undefined;
  try {
    return buildPlan(c, command, args, [command], stdio, { forceClone: false, join, init, cgroup }).steps;
  } finally {
    cgroup?.removeNow();
  }
}

interface Walk {
  steps: number;
  failures: string[];
}

/** Fails each op of the plan in turn, then runs it clean; collects every mismatch and leak. */
async function walk(command: string, args: string[], options: () => SpawnOptions, parentSteps: [string, string, string][] = []): Promise<Walk> {
  const steps = stepsOf(command, args, options());
  const failures: string[] = [];
  const attempt = async (fault: string | undefined, expected: { step: string; syscall: string } | undefined, code: string, signal?: string) => {
    const before = snapshot();
    if (fault) process.env.NSJS_TEST_FAULT_AT = fault;
    else delete process.env.NSJS_TEST_FAULT_AT;
    try {
      const o = options();
      const p = await spawnIsolated(command, args, o);
      const status = await p.wait();
      for (const s of p.stdio) s?.destroy();
      if (expected) failures.push(`${fault}: spawned (exit ${JSON.stringify(status)}) instead of failing at ${expected.step}`);
      else if (status.code !== 0) failures.push(`clean run: exit ${JSON.stringify(status)}`);
      else unkeep(o, failures);
    } catch (err) {
      const e = err as NsError;
      if (!expected) failures.push(`clean run: ${e.message}`);
      else if (!(e instanceof NsError) || e.step !== expected.step || e.syscall !== expected.syscall || e.code !== code || e.signal !== signal)
        failures.push(`${fault}: expected ${code}${signal ? ` (${signal})` : ''} at ${expected.step} (${expected.syscall}), got ${e.constructor.name} ${e.code} at ${e.step} (${e.syscall}): ${e.message}`);
    } finally {
      delete process.env.NSJS_TEST_FAULT_AT;
    }
    const leaked = await leaks(before);
    if (leaked) failures.push(`${fault ?? 'clean run'}: leaked ${JSON.stringify(leaked)}`);
  };
  // A different errno each time, so a report can't be a leftover of the last one.
  const codes = ['EIO', 'EPERM', 'EINVAL', 'ENOMEM', 'EACCES', 'EBUSY'];
  // A command that could not be exec'd is named as Node names it (syscall 'spawn <cmd>').
  const reported = (s: Step) => (s.step === 'execve' ? { ...s, syscall: `spawn ${command}` } : s);
  for (let n = 0; n < steps.length; n++) await attempt(`op:${n}:${codes[n % codes.length]}`, reported(steps[n]), codes[n % codes.length]);
  // A child that dies at an op without reporting (a trap) is a setup failure
  // there too, never a spawn that seemed to succeed.
  for (let n = 0; n < steps.length; n++) await attempt(`op:${n}:SIGSEGV`, steps[n], 'EINTR', 'SIGSEGV');
  for (const [name, step, syscall] of parentSteps) await attempt(`parent:${name}:EIO`, { step, syscall }, 'EIO');
  await attempt(undefined, undefined, '');
  return { steps: steps.length, failures };
}

// The parent's own steps, for every plan: [fault name, step, syscall].
const PARENT_ALWAYS: [string, string, string][] = [
  ['pipe2', 'clone', 'pipe2'],
  ['mmap', 'clone', 'mmap'],
  ['mmap shared', 'clone', 'mmap'],
  ['clone', 'clone', 'clone3'],
];
const PARENT_MAPS: [string, string, string][] = [
  ['pipe2 sync', 'clone', 'pipe2'],
  ['open setgroups', 'write setgroups', 'open'],
  ['write setgroups', 'write setgroups', 'write'],
  ['open uid_map', 'write uid_map', 'open'],
  ['write uid_map', 'write uid_map', 'write'],
  ['open gid_map', 'write gid_map', 'open'],
  ['write gid_map', 'write gid_map', 'write'],
  ['sync', 'sync', 'write'],
];

/** Every feature at once: all namespaces, id maps, mounts of every kind, pivot_root, uts names, cwd, stdio, rlimits, caps, ids, init. */
const ranges = [
  { inside: 0, outside: 0, count: 1 },
  { inside: 1, outside: 200001, count: 65535 },
];

function everything(): SpawnOptions {
  const extra = fs.openSync('/dev/null', 'r');
  // The spawn dups it; closed again right away (the leak check counts fds).
  setImmediate(() => fs.closeSync(extra));
  return {
    namespaces: 'all',
    user: root
      ? // Our own ids are mapped too: until the final setresuid the setup
        // runs as them, and a file it creates as an unmapped id (the dev
        // mount's nodes) is EOVERFLOW (see issue 8's report).
        { uidMap: ranges, gidMap: ranges, setgroups: 'allow' }
      : 'root',
    hostname: 'faults',
    domainname: 'faults.test',
    timeOffsets: { monotonic: 100, boottime: 200 },
    mounts: [
      { type: 'bind', source: '/usr', target: '/usr', readonly: true },
      { type: 'proc', target: '/proc' },
      { type: 'dev', target: '/dev' },
      { type: 'tmpfs', target: '/scratch', size: '1m', mode: 0o1777 },
      { type: 'mqueue', target: '/mq' },
      { type: 'ramfs', target: '/raw', data: 'mode=755' },
    ],
    root: path.join(dir, 'root'),
    cwd: '/scratch',
    env: { PATH: '/usr/bin:/bin' },
    stdio: ['pipe', 'pipe', 'pipe', extra],
    rlimits: { nofile: [64, 64], core: [0, 0] },
    capabilities: { keep: ['CAP_NET_BIND_SERVICE'] },
    // The Landlock ruleset and (by default) the seccomp filter, the last two steps before execve.
    landlock: { read: ['/usr', '/proc'], write: ['/scratch', '/dev'] },
    ...(root ? { uid: 1000, gid: 1000, groups: [1000] } : { uid: 0, gid: 0 }),
    dieWithParent: true,
    newSession: true,
    init: true,
    // Binding a namespace on a file needs CAP_SYS_ADMIN in our mount namespace.
    ...(root ? { persist: { net: keepAt('net'), uts: keepAt('uts') } } : {}),
    // A veth needs CAP_NET_ADMIN in our own net namespace.
    ...(root ? { network: { veth: { hostName: VETH, hostAddress: '169.254.9.1/30', address: ['169.254.9.2/30', '2001:db8:9::2/64'], gateway: true } } } : {}),
  };
}

const VETH = 'nsjsfault0';
// The parent makes the pair once the child exists; a failure after it (the
// sync write in PARENT_MAPS) must delete it again.
const PARENT_VETH: [string, string, string][] = [
  ['netlink socket', 'netlink socket', 'socket'],
  ['RTM_NEWLINK veth', `RTM_NEWLINK veth ${VETH}`, 'netlink'],
  ['RTM_NEWLINK up', `RTM_NEWLINK up ${VETH}`, 'netlink'],
  ['RTM_NEWADDR', `RTM_NEWADDR dev ${VETH}`, 'netlink'],
];

test('every step of a plan with every feature fails as itself and leaves nothing', async () => {
  faultsRootfs();
  const r = await walk('sh', ['-c', 'exit 0'], everything, [...PARENT_ALWAYS, ...(root ? [...PARENT_MAPS, ['persist', 'keep ns/net', 'mount'] as [string, string, string], ...PARENT_VETH] : [])]);
  expect(r.failures).toEqual([]);
  expect(r.steps).toBeGreaterThan(40);
}, 120000);

// network.egress: the parent's proxy socket, made in the child's namespace
// while it waits (rootless too), and veths made by the child itself (no user
// namespace: the parent only opens their socket and finds the bridge), one
// with host addresses and one whose host end joins a bridge.
test('every step of an egress plan, and of veths the child makes, fails as itself and leaves nothing', async () => {
  const egress = (): SpawnOptions => ({ namespaces: ['user', 'net'], network: { egress: { allow: ['127.0.0.1:*'] } } });
  const r = await walk('true', [], egress, [...PARENT_ALWAYS, ['proxy socket', 'egress proxy socket', 'socket']]);
  expect(r.failures).toEqual([]);
  if (!root) return;
  const plain = (): SpawnOptions => ({ namespaces: ['net'], network: { veth: { hostName: VETH, hostAddress: ['169.254.9.1/30', '2001:db8:9::1/64'], address: '169.254.9.2/30', gateway: true } } });
  const p = await walk('true', [], plain, [PARENT_VETH[0]]);
  expect(p.failures).toEqual([]);
  using here = Namespace.current('net');
  net.createBridge(here, { name: 'nsjsfaultbr' });
  try {
    const bridged = (): SpawnOptions => ({ namespaces: ['net'], network: { veth: { hostName: VETH, bridge: 'nsjsfaultbr', address: '169.254.9.2/24' } } });
    const b = await walk('true', [], bridged, [PARENT_VETH[0], ['RTM_NEWLINK master', `RTM_NEWLINK master nsjsfaultbr dev ${VETH}`, 'netlink']]);
    expect(b.failures).toEqual([]);
  } finally {
    net.deleteLink(here, 'nsjsfaultbr');
  }
}, 120000);

// idmap: true (root): the parent opens the child's user namespace, makes
// the idmapped tree and sends it; each step cut off names the bind. Skipped
// as uid 65534: idmapping a host filesystem needs root over it, so the walk
// would stop at open_tree's EPERM (test/rootless/fs/idmap.test.ts asserts
// that refusal).
(root ? test : test.skip)('every step of an idmapped bind, the parent\'s too, fails as itself and leaves nothing', async () => {
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-faults-idmap-'));
  try {
    const step = `mount /srv: idmap ${src}`;
    const idmapped = (): SpawnOptions => ({
      namespaces: ['user', 'mnt'],
      user: { uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: 100000, count: 65536 }] },
      mounts: [{ type: 'bind', source: src, target: '/srv', idmap: true }],
    });
    const parent: [string, string, string][] = [
      ...PARENT_MAPS.filter(([n]) => !n.endsWith('setgroups')),
      ['open userns', step, 'open'],
      ['idmap', step, 'open_tree'],
      ['send tree', 'send the idmapped trees', 'sendmsg'],
    ];
    const r = await walk('true', [], idmapped, [...PARENT_ALWAYS, ...parent]);
    expect(r.failures).toEqual([]);
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
}, 120000);

// The mount engine's fallbacks (src-native/fs/mounts.cc), as where the
// kernel lacks mount_setattr, or the whole mount API and openat2: every op
// they hold state across (a remount left for after the attach, an O_PATH
// source, a mount looked up again) cut off in turn.
test.each([
  ['no mount_setattr', 2],
  ['mount(2) only', 7],
])('every step of the mount engine with %s fails as itself and leaves nothing', async (_name, fallback) => {
  faultsRootfs();
  testHooks.mountFallback = fallback;
  try {
    const r = await walk('sh', ['-c', 'exit 0'], () => ({
      namespaces: root ? ['mnt', 'pid'] : ['user', 'mnt', 'pid'],
      mounts: [
        { type: 'bind', source: '/usr', target: '/usr', readonly: true },
        { type: 'proc', target: '/proc' },
        { type: 'dev', target: '/dev' },
        { type: 'tmpfs', target: '/scratch', size: '1m' },
        { type: 'ramfs', target: '/raw', data: 'mode=755' },
      ],
      root: path.join(dir, 'root'),
      env: { PATH: '/usr/bin:/bin' },
    }), PARENT_ALWAYS);
    expect(r.failures).toEqual([]);
    expect(r.steps).toBeGreaterThan(80);
  } finally {
    testHooks.mountFallback = 0;
  }
}, 120000);

test('every step of a join (setns by pidfd, the per-type fallback, the second clone) fails as itself and leaves nothing', async () => {
  const r = await walk(
    'sh',
    ['-c', 'exit 0'],
    // Not the pid namespace: a new one cannot be made right after setns
    // into another (copy_pid_ns says EINVAL), and nsjs refuses it up front.
    () => ({ join: { pid: target, types: ['user', 'uts', 'net', 'ipc'] }, namespaces: ['pid', 'uts', 'mnt'], hostname: 'joined', init: true, mounts: [{ type: 'tmpfs', target: dir }] }),
    [...PARENT_ALWAYS, ['pidfd_open', 'clone', 'pidfd_open']],
  );
  expect(r.failures).toEqual([]);
}, 60000);

// user.owner (root only: unprivileged, the owner's setgroups fails first,
// test/rootless/cli/owner.test.ts): the child unshares every namespace as
// the owner and announces it before the parent writes the maps; the pid
// namespace's process is a second clone. Each step, the parent's wait for
// the announcement too, fails as itself.
(root ? test : test.skip)('every step of an owner\'s plan (user.owner) fails as itself and leaves nothing', async () => {
  const map = [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 0, count: 1 }];
  const r = await walk(
    'sh',
    ['-c', 'exit 0'],
    () => ({ namespaces: ['user', 'pid', 'mnt', 'uts', 'net', 'ipc', 'time'], user: { owner: { uid: 1000, gid: 1000 }, uidMap: map, gidMap: map, setgroups: 'deny' }, timeOffsets: { monotonic: 5, boottime: 0 }, mounts: [{ type: 'proc', target: '/proc' }], hostname: 'owned' }),
    [...PARENT_ALWAYS, ...PARENT_MAPS, ['announce', "wait for the owner's user namespace", 'poll'], ['pidfd_open', 'clone', 'pidfd_open']],
  );
  expect(r.failures).toEqual([]);
}, 60000);

// Root only: unprivileged, no cgroup can be made here (test/rootless/cgroup).
(root ? test : test.skip)('every step of a plan with a cgroup (its placement ops first, a new cgroup namespace after) fails as itself and leaves no cgroup', async () => {
  const r = await walk('sh', ['-c', 'exit 0'], () => ({ namespaces: ['user', 'pid', 'mnt', 'cgroup'], user: 'root', cgroup: { memory: { max: '64M' }, pids: { max: 16 }, cpu: { max: 1 } } }), PARENT_ALWAYS);
  expect(r.failures).toEqual([]);
  expect(r.steps).toBeGreaterThan(4);
}, 60000);

// Without a user or time namespace the first clone is vfork-style: a failing
// command reports before the first child announces it, and must still be
// reaped. Root only: unprivileged, the target's other namespaces can be
// entered only through its user namespace, so there is no such plan to test.
if (root) test('every step of a vfork-style join (no user namespace entered) fails as itself and leaves nothing', async () => {
  const r = await walk(
    'sh',
    ['-c', 'exit 0'],
    () => ({ join: { pid: target, types: ['uts', 'net', 'ipc', 'pid'] }, namespaces: ['mnt'], mounts: [{ type: 'tmpfs', target: dir }] }),
    [...PARENT_ALWAYS, ['pidfd_open', 'clone', 'pidfd_open']],
  );
  expect(r.failures).toEqual([]);
}, 60000);

test("dieWithParent's re-check: a parent gone before PR_SET_PDEATHSIG fails the spawn there (ESRCH) and leaves nothing", async () => {
  if (!fs.existsSync(path.join(dir, 'root'))) faultsRootfs();
  // parent:exit makes the child's poll of our pidfd say we have exited.
  for (const options of [{ dieWithParent: true }, { dieWithParent: true, namespaces: ['user', 'pid'], user: 'root', init: true, uid: 0, gid: 0 } as SpawnOptions, everything()]) {
    const before = snapshot();
    process.env.NSJS_TEST_FAULT_AT = 'parent:exit';
    try {
      await expect(spawnIsolated('sh', ['-c', 'exit 0'], options)).rejects.toMatchObject({ code: 'ESRCH', step: 'prctl PR_SET_PDEATHSIG', syscall: 'prctl' });
    } finally {
      delete process.env.NSJS_TEST_FAULT_AT;
    }
    expect(await leaks(before)).toBeUndefined();
  }
});

test('every step of the sealed copy of nsjs-init fails as itself, leaves no fd, and the next spawn makes the copy', async () => {
  // The copy is made once per process: each fault needs a fresh one.
  const pkg = packageCopy();
  const steps = [
    ['open nsjs-init', 'open'],
    ['memfd_create', 'memfd_create'],
    ['sendfile', 'sendfile'],
    ['fchmod', 'fchmod'],
    ['F_ADD_SEALS', 'fcntl'],
  ];
  const script = `
    const nsjs = require(${JSON.stringify(pkg.index)});
    const fs = require('node:fs');
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const options = { namespaces: ${JSON.stringify(root ? ['pid'] : ['user', 'pid'])}, init: true, stdio: 'ignore' };
    (async () => {
      process.env.NSJS_TEST_FAULT_AT = 'parent:' + process.argv[1];
      const before = fds();
      let failure;
      try {
        await nsjs.spawnIsolated('true', [], options);
      } catch (e) {
        failure = { code: e.code, step: e.step, syscall: e.syscall, path: e.path, leftFds: fds() - before };
      }
      delete process.env.NSJS_TEST_FAULT_AT;
      const status = await (await nsjs.spawnIsolated('true', [], options)).wait();
      console.log(JSON.stringify({ failure, status }));
    })();
  `;
  try {
    for (const [fault, syscall] of steps) {
      // jest's process.env (NSJS_TEST_ADDON, from setup.js) is its own: pass it on.
      const out = execFileSync(process.execPath, ['-e', script, fault], { encoding: 'utf8', env: { ...process.env } });
      expect({ fault, ...JSON.parse(out) }).toEqual({
        fault,
        failure: { code: 'EIO', step: 'copy nsjs-init', syscall, path: pkg.init, leftFds: 0 },
        status: { code: 0, signal: null },
      });
    }
  } finally {
    pkg.dispose();
  }
});

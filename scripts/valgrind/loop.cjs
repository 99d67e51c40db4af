// The spawn loop `npm run test:valgrind` runs under memcheck (see
// scripts/test-valgrind.mjs): every kind of spawn the addon makes, over and
// over, each checked for its result so that a loop of silent failures cannot
// pass. Loads the package from dist/ with the test build of the addon
// (NSJS_TEST_ADDON=test: fault injection, so the parent's error paths run
// too). NSJS_VALGRIND_SPAWNS sets the total (default 200).
//
// As root it adds what only root can: id ranges (the parent writes the maps,
// a fork-style clone) and a parent step failing after the clone (kill, reap).
// Nothing here touches the host: no veth, no mount outside a new mount
// namespace.
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const { runIsolated, spawnIsolated, Namespace, NsError } = require(path.join(root, 'dist', 'cjs', 'index.js'));
const { native } = require(path.join(root, 'dist', 'cjs', 'core', 'native.js'));

const total = Number(process.env.NSJS_VALGRIND_SPAWNS ?? 200);
const isRoot = process.getuid() === 0;
// The commands get none of our environment: LD_PRELOAD names the valgrind shim.
const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

async function rejects(promise, code, step) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof NsError, `expected an NsError, got ${err}`);
    assert.equal(err.code, code, `${step}: ${err.message}`);
    if (step) assert.equal(err.step, step, err.message);
    return;
  }
  assert.fail(`expected ${code} at ${step}`);
}

async function withFault(spec, fn) {
  process.env.NSJS_TEST_FAULT_AT = spec;
  try {
    await fn();
  } finally {
    delete process.env.NSJS_TEST_FAULT_AT;
  }
}

let holder; // a process to join: its user, pid and uts namespaces

const kinds = [
  ['plain true', async () => {
    const p = await spawnIsolated('true', [], { env, stdio: 'ignore' });
    assert.deepEqual(await p.wait(), { code: 0, signal: null });
  }],
  ['user+pid+mnt, proc and tmpfs mounts', async () => {
    const r = await runIsolated('sh', ['-c', 'echo $$; test -d /proc/1 && mountpoint -q /tmp'], {
      env, namespaces: ['user', 'pid', 'mnt'], user: 'root',
      mounts: [{ type: 'proc', target: '/proc' }, { type: 'tmpfs', target: '/tmp' }],
    });
    assert.deepEqual([r.code, r.stdout], [0, '1\n']);
  }],
  ['runIsolated with pipes', async () => {
    const input = 'x'.repeat(5000);
    const r = await runIsolated('sh', ['-c', 'cat; echo err >&2; hostname'], { env, input, namespaces: ['user', 'uts'], user: 'root', hostname: 'vg' });
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${input}vg\n`, 'err\n']);
  }],
  ['a missing command (exec fails in the child)', () => rejects(runIsolated('/nonexistent/command', [], { env }), 'ENOENT')],
  ['a failing mount (the child fails mid-plan)', () =>
    rejects(runIsolated('true', [], { env, namespaces: ['user', 'mnt'], user: 'root', mounts: [{ type: 'tmpfs', target: '/nonexistent/target' }] }), 'ENOENT')],
  ['net namespace with lo up (netlink in the child)', async () => {
    const r = await runIsolated('cat', ['/sys/class/net/lo/flags'], { env, namespaces: ['user', 'net', 'mnt'], user: 'root', mounts: [{ type: 'sysfs', target: '/sys' }] });
    assert.deepEqual([r.code, r.stdout], [0, '0x9\n']); // IFF_UP | IFF_LOOPBACK
  }],
  ['join a process by pid (clone again after setns)', async () => {
    const r = await runIsolated('hostname', [], { env, join: { pid: holder.pid } });
    assert.deepEqual([r.code, r.stdout], [0, 'holder\n']);
  }],
  ['rlimits, capabilities, setsid, dieWithParent', async () => {
    // Not nofile: valgrind keeps fds of its own above the client's limit and refuses a new hard one (EPERM).
    const r = await runIsolated('sh', ['-c', 'ulimit -c'], {
      env, namespaces: ['user'], user: 'root', rlimits: { core: [0, 0] }, capabilities: { keep: [] }, newSession: true, dieWithParent: true,
    });
    assert.deepEqual([r.code, r.stdout], [0, '0\n']);
  }],
  ['kill through the pidfd', async () => {
    const p = await spawnIsolated('sleep', ['30'], { env, stdio: 'ignore' });
    assert.equal(p.kill('SIGKILL'), true);
    assert.deepEqual(await p.wait(), { code: null, signal: 'SIGKILL' });
  }],
  ['a child op failing (fault injection)', () => withFault('op:0', () => rejects(runIsolated('true', [], { env, namespaces: ['user'], user: 'root' }), 'EIO'))],
  ['a parent step failing before the clone (fault injection)', () =>
    withFault('parent:pipe2', () => rejects(runIsolated('true', [], { env }), 'EIO', 'clone'))],
  ['Namespace.create (the synchronous spawn)', async () => {
    const ns = Namespace.create('uts');
    ns.close();
  }],
];
if (isRoot) {
  const ranges = { uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: 100000, count: 65536 }] };
  kinds.push(
    ['id ranges (the parent writes the maps, fork-style)', async () => {
      const r = await runIsolated('sh', ['-c', 'cat /proc/self/uid_map'], { env, namespaces: ['user', 'mnt'], user: ranges });
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^\s*0\s+100000\s+65536\s*$/);
    }],
    ['a parent step failing after the clone (kill, reap)', () =>
      withFault('parent:write uid_map', () => rejects(runIsolated('true', [], { env, namespaces: ['user'], user: ranges }), 'EIO', 'write uid_map'))],
  );
}

(async () => {
  assert.equal(native().faultInjection, true, 'the test build of the addon (NSJS_TEST_ADDON=test)');
  holder = await spawnIsolated('sleep', ['3600'], { env, stdio: 'ignore', namespaces: ['user', 'pid', 'uts'], user: 'root', hostname: 'holder' });
  const counts = new Map();
  const started = Date.now();
  try {
    for (let i = 0; i < total; i++) {
      const [name, run] = kinds[i % kinds.length];
      try {
        await run();
      } catch (err) {
        err.message = `spawn ${i} (${name}): ${err.message}`;
        throw err;
      }
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  } finally {
    holder.kill('SIGKILL');
    await holder.wait();
  }
  for (const [name, n] of counts) console.log(`${String(n).padStart(4)}  ${name}`);
  console.log(`valgrind loop: ${total} spawns in ${((Date.now() - started) / 1000).toFixed(1)} s`);
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

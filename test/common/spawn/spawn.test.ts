// spawnIsolated seen from inside each namespace, as root and as an ordinary
// user. Every test checks that it left no fd, child, mount or link behind.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NsError, runIsolated, setSpawnConcurrency, spawnIsolated, waitpid } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { withLib } from '../../helpers/node';
import { withUser } from '../../helpers/privilege';
import { native } from '../../../lib/core/native';
import { testHooks } from '../../../lib/spawn/spawn';
import { encodePlan, Op } from '../../../lib/spawn/plan';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

/** A shell script's status and output, whatever the status. */
function sh(script: string, options: object = {}) {
  return runIsolated('sh', ['-c', script], { reject: false, ...options });
}

describe('one behaviour per namespace, seen from inside', () => {
  test('pid: the command is pid 1', async () => {
    expect(await sh('echo $$', { namespaces: withUser(['pid']) })).toMatchObject({ code: 0, stdout: '1\n' });
  });

  test("user: 'root' maps our uid to 0, 'self' to itself", async () => {
    const uid = process.getuid!();
    const r = await sh('id -u; id -g; cat /proc/self/uid_map /proc/self/setgroups', { namespaces: ['user'], user: 'root' });
    expect(r.stdout.split(/\s+/).filter(Boolean)).toEqual(['0', '0', '0', String(uid), '1', 'deny']);
    const s = await sh('id -u', { namespaces: ['user'], user: 'self' });
    expect(s.stdout).toBe(`${uid}\n`);
  });

  test('uts: hostname and domainname', async () => {
    const r = await sh('hostname; cat /proc/sys/kernel/domainname', {
      namespaces: withUser(['uts']),
      hostname: 'box',
      domainname: 'example.test',
    });
    expect(r.stdout).toBe('box\nexample.test\n');
    expect(os.hostname()).not.toBe('box');
  });

  test('ipc: a message queue made inside is invisible outside', async () => {
    const outside = () => fs.readFileSync('/proc/sysvipc/msg', 'latin1').split('\n').length;
    const count = outside();
    const r = await sh('ipcmk -Q >/dev/null && tail -n +2 /proc/sysvipc/msg | wc -l', { namespaces: withUser(['ipc']) });
    expect(r.stdout.trim()).toBe('1');
    expect(outside()).toBe(count);
  });

  test('net: only lo, and it is up by default in a new net namespace', async () => {
    // /sys/class/net would show the namespace that mounted sysfs: ask rtnetlink (ip) instead.
    const script = 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; ip -o link show lo | grep -o "<[^>]*>"';
    const up = await sh(script, { namespaces: withUser(['net']) });
    expect(up).toMatchObject({ code: 0, stdout: 'lo\n<LOOPBACK,UP,LOWER_UP>\n' });
    const down = await sh(script, { namespaces: withUser(['net']), network: { loopback: false } });
    expect(down).toMatchObject({ code: 0, stdout: 'lo\n<LOOPBACK>\n' });
  });

  test('cgroup: the cgroup v2 path inside is the root', async () => {
    const r = await sh('grep "^0::" /proc/self/cgroup', { namespaces: withUser(['cgroup']) });
    expect(r.stdout).toBe('0::/\n');
  });

  test('mnt: a tmpfs mounted inside is invisible outside', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-mnt-'));
    try {
      const r = await sh(`echo hello > ${dir}/file && cat ${dir}/file`, {
        namespaces: withUser(['mnt']),
        mounts: [{ type: 'tmpfs', target: dir, size: '1m' }],
      });
      expect(r).toMatchObject({ code: 0, stdout: 'hello\n' });
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmdirSync(dir);
    }
  });

  test('mnt: a read-only bind mount refuses writes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-ro-'));
    try {
      const r = await sh(`echo no > ${dir}/x`, {
        namespaces: withUser(['mnt']),
        mounts: [{ type: 'bind', source: dir, target: dir, readonly: true }],
      });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Read-only file system/);
      expect(fs.existsSync(`${dir}/x`)).toBe(false);
    } finally {
      fs.rmdirSync(dir);
    }
  });

  test('pid+mnt: a fresh /proc shows only the sandbox', async () => {
    const r = await sh('ls /proc | grep -c "^[0-9]"', {
      namespaces: withUser(['pid', 'mnt']),
      mounts: [{ type: 'proc', target: '/proc' }],
    });
    // sh, and the ls and grep of its pipeline
    expect(Number(r.stdout)).toBeLessThanOrEqual(3);
  });

  test('time: boottime offset shows in /proc/uptime', async () => {
    const r = await runIsolated('cat', ['/proc/uptime'], { namespaces: withUser(['time']), timeOffsets: { boottime: 86400 * 365 } });
    const inside = Number(r.stdout.split(' ')[0]);
    expect(inside - os.uptime()).toBeGreaterThan(86400 * 365 - 60);
  });

  test('a minimal /dev with working null and a private devpts', async () => {
    const r = await sh('ls /dev | tr "\\n" " "; echo x > /dev/null && head -c 4 /dev/zero | wc -c; test -c /dev/pts/ptmx && echo pts', {
      namespaces: withUser(['mnt']),
      mounts: [{ type: 'dev', target: '/dev' }],
    });
    expect(r.stdout).toBe('fd full null ptmx pts random shm stderr stdin stdout tty urandom zero 4\npts\n');
  });

  test("all namespaces at once with user: 'root'", async () => {
    const r = await sh('echo $$; id -u; hostname', { namespaces: 'all', user: 'root', hostname: 'sandbox' });
    expect(r).toMatchObject({ code: 0, stdout: '1\n0\nsandbox\n' });
  });

  test('uid and gid in a user namespace that denies setgroups: our groups cannot be cleared there, and the spawn goes on', async () => {
    const ours = fs.readFileSync('/proc/self/status', 'latin1').match(/^Groups:\t(.*)$/m)![1].trim().split(' ').filter(Boolean).length;
    const r = await sh('id -u; id -g; grep ^Groups: /proc/self/status | cut -f2', { namespaces: ['user'], user: 'root', uid: 0, gid: 0 });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const [uid, gid, groups] = r.stdout.split('\n');
    expect([uid, gid]).toEqual(['0', '0']);
    expect(groups.trim().split(' ').filter(Boolean).length).toBe(ours);
  });
});

describe('process basics, as child_process', () => {
  test('env, cwd, argv0 and stdin/stdout/stderr', async () => {
    const r = await sh('pwd; echo "$FOO"; cat; echo err >&2', { env: { FOO: 'bar', PATH: process.env.PATH }, cwd: '/usr', input: 'in\n' });
    expect(r).toMatchObject({ code: 0, stdout: '/usr\nbar\nin\n', stderr: 'err\n' });
  });

  test('env defaults to process.env', async () => {
    process.env.NSJS_TEST_MARKER = 'present';
    try {
      expect((await sh('echo $NSJS_TEST_MARKER')).stdout).toBe('present\n');
    } finally {
      delete process.env.NSJS_TEST_MARKER;
    }
  });

  test('env defaults to process.env outside jest too: environ copied natively, a replaced process.env, a worker\'s own', () => {
    // jest gives each file a copy of process.env; Node's own object is environ.
    const script = `
      const { runIsolated } = require(${JSON.stringify(path.join(__dirname, '..', '..', '..', 'dist', 'cjs', 'index.js'))});
      const { Worker, isMainThread } = require('node:worker_threads');
      const echo = () => runIsolated('sh', ['-c', 'echo "$A-$B"']).then((r) => r.stdout.trim());
      (async () => {
        if (!isMainThread) {
          process.env.B = 'worker';
          require('node:worker_threads').parentPort.postMessage(await echo());
          return;
        }
        process.env.A = 'set';
        delete process.env.B;
        const out = [await echo()];
        process.env = { ...process.env, B: 'replaced' };
        out.push(await echo());
        const w = new Worker(__filename);
        out.push(await new Promise((r) => w.once('message', r)));
        console.log(out.join(' '));
      })();`;
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-env-')), 'env.js');
    fs.writeFileSync(file, script);
    try {
      const r = child_process.spawnSync(process.execPath, [file], { encoding: 'utf8', env: { PATH: process.env.PATH, B: 'inherited' } });
      expect(r).toMatchObject({ status: 0, stdout: 'set- set-replaced set-worker\n', stderr: '' });
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true });
    }
  });

  test("in a worker_thread, nsjs closes its own fds itself: no 'closed but not opened in unmanaged mode' warning", () => {
    // A worker's fs tracks the fds fs opened: fs.closeSync on one the addon
    // made warns, and a native close of one fs made leaves a stale entry,
    // which fs reports as "opened in unmanaged mode twice" once it gets that
    // number again (the opens at the end). The paths below close addon fds:
    // stdio pipes and /dev/null, init's binary and status pipe, pidfds, nsfs
    // fds, a netlink socket, a failed spawn's release, and sys.close.
    const worker = withLib(`
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.name + ': ' + w.message));
      (async () => {
        const namespaces = ${JSON.stringify(withUser(['pid', 'net']))};
        const r = await nsjs.runIsolated('sh', ['-c', 'cat; echo err >&2'], { namespaces, init: true, input: 'in' });
        const p = await nsjs.spawnIsolated('sleep', ['30'], { namespaces, init: true, stdio: 'ignore' });
        nsjs.Namespace.of(p.pid, 'net').close();
        const ns = p.namespace('net');
        const links = nsjs.net.links(ns).map((l) => l.name);
        ns.close();
        let wrongType;
        try { nsjs.Namespace.open('/proc/self/ns/net', 'uts'); } catch (e) { wrongType = e.code; }
        const listed = (await nsjs.Namespace.list()).length > 0;
        const attached = nsjs.Process.attach(p.pid);
        nsjs.sys.close(nsjs.sys.pidfdOpen(p.pid));
        p.kill('SIGKILL');
        const statuses = await Promise.all([p.wait(), attached.wait()]);
        let missing;
        await nsjs.spawnIsolated('/no/such/command', [], { namespaces, init: true, stdio: ['pipe', 'ignore', 'pipe'] }).catch((e) => (missing = e.code));
        const fs = require('node:fs');
        for (const fd of Array.from({ length: 16 }, () => fs.openSync('/dev/null', 'r'))) fs.closeSync(fd);
        // The warning event is emitted on a later tick than the close.
        await new Promise((resolve) => setImmediate(resolve));
        require('node:worker_threads').parentPort.postMessage({ r: [r.code, r.stdout, r.stderr], links, wrongType, listed, statuses, missing, warnings });
      })();
    `);
    const script = `
      const w = new (require('node:worker_threads').Worker)(${JSON.stringify(worker)}, { eval: true });
      w.once('message', (m) => console.log(JSON.stringify(m)));
    `;
    const r = child_process.spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      r: [0, 'in', 'err\n'],
      links: ['lo'],
      wrongType: 'EINVAL',
      listed: true,
      statuses: [{ code: null, signal: 'SIGKILL' }, { code: null, signal: 'SIGKILL' }],
      missing: 'ENOENT',
      warnings: [],
    });
  });

  test('exit codes and signals match child_process', async () => {
    for (const script of ['exit 0', 'exit 3', 'exit 255', 'kill -TERM $$', 'kill -KILL $$', 'kill -SEGV $$']) {
      const ours = await sh(script);
      const theirs = child_process.spawnSync('sh', ['-c', script]);
      expect({ code: ours.code, signal: ours.signal }).toEqual({ code: theirs.status, signal: theirs.signal });
    }
  });

  test('stdio ignore, inherit and an fd', async () => {
    const file = path.join(os.tmpdir(), `nsjs-fd-${process.pid}`);
    const fd = fs.openSync(file, 'w');
    try {
      const p = await spawnIsolated('sh', ['-c', 'echo to-fd'], { stdio: ['ignore', fd, 'inherit'] });
      expect(p.stdin).toBeNull();
      expect(p.stdout).toBeNull();
      expect(await p.wait()).toEqual({ code: 0, signal: null });
      expect(fs.readFileSync(file, 'utf8')).toBe('to-fd\n');
    } finally {
      fs.closeSync(fd);
      fs.unlinkSync(file);
    }
  });

  test('the command sees only fds 0, 1 and 2', async () => {
    const r = await runIsolated('ls', ['/proc/self/fd']);
    // ls's own directory fd is the fourth entry
    expect(r.stdout.split('\n').filter(Boolean).map(Number).sort()).toEqual([0, 1, 2, 3]);
  });

  test('kill via the pidfd, false after exit; exitStatus; wait shared by callers', async () => {
    const p = await spawnIsolated('sleep', ['30'], { stdio: 'ignore' });
    expect(p.exitStatus).toBeNull();
    expect(p.kill()).toBe(true);
    const [a, b] = await Promise.all([p.wait(), p.wait()]);
    expect(a).toEqual({ code: null, signal: 'SIGTERM' });
    expect(b).toBe(a);
    expect(p.exitStatus).toBe(a);
    expect(p.kill('SIGKILL')).toBe(false);
  });

  test('waitpid of an nsjs child is its wait()', async () => {
    const p = await spawnIsolated('sh', ['-c', 'exit 4'], { stdio: 'ignore' });
    expect(await waitpid(p.pid)).toEqual({ code: 4, signal: null });
  });

  test('namespace(type) of a running child, ESRCH after exit', async () => {
    const p = await spawnIsolated('sleep', ['30'], { namespaces: withUser(['uts']), stdio: 'ignore' });
    const ns = p.namespace('uts');
    try {
      expect(ns.toString()).toBe(fs.readlinkSync(`/proc/${p.pid}/ns/uts`));
      expect(ns.toString()).not.toBe(fs.readlinkSync('/proc/self/ns/uts'));
    } finally {
      ns.close();
    }
    p.kill('SIGKILL');
    await p.wait();
    expect(() => p.namespace('uts')).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  test('Symbol.asyncDispose kills and waits', async () => {
    const p = await spawnIsolated('sleep', ['30'], { stdio: 'ignore' });
    await p[Symbol.asyncDispose]();
    expect(p.exitStatus).toEqual({ code: null, signal: 'SIGKILL' });
  });

  test('unref() lets Node exit while the child runs', () => {
    const lib = path.resolve(__dirname, '../../../dist/cjs/index.js');
    const script = `require(${JSON.stringify(lib)}).spawnIsolated('sleep', ['30'], { stdio: 'ignore', dieWithParent: true }).then((p) => { p.unref(); console.log(p.pid); });`;
    const r = child_process.spawnSync(process.execPath, ['-e', script], { timeout: 10000, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const pid = Number(r.stdout);
    // dieWithParent: the orphan was killed when that Node exited.
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      alive = fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
      if (alive) child_process.spawnSync('sleep', ['0.02']);
    }
    expect(alive).toBe(false);
  });
});

describe('abort and timeout', () => {
  test('timeout kills with killSignal', async () => {
    const p = await spawnIsolated('sleep', ['30'], { stdio: 'ignore', timeout: 50, killSignal: 'SIGKILL' });
    expect(await p.wait()).toEqual({ code: null, signal: 'SIGKILL', timedOut: true });
  });

  test('an AbortSignal kills the command', async () => {
    const ac = new AbortController();
    const p = await spawnIsolated('sleep', ['30'], { stdio: 'ignore', signal: ac.signal });
    ac.abort();
    expect(await p.wait()).toEqual({ code: null, signal: 'SIGTERM', aborted: true });
  });

  test('an already aborted signal starts nothing', async () => {
    await expect(spawnIsolated('true', [], { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
  });
});

describe('failures are NsErrors naming the step, and leave nothing behind', () => {
  test('a missing command is ENOENT like spawn ENOENT', async () => {
    // A PATH every user can search: where one entry cannot be searched, the answer is EACCES (as execvp's; results.test.ts).
    const err = await spawnIsolated('nsjs-no-such-command', [], { env: { PATH: '/usr/bin:/bin' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NsError);
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'spawn nsjs-no-such-command', path: 'nsjs-no-such-command' });
    await expect(spawnIsolated('/no/such/file', [], { namespaces: withUser(['pid']) })).rejects.toMatchObject({
      code: 'ENOENT', syscall: 'spawn /no/such/file', step: 'execve', path: '/no/such/file',
    });
  });

  test('a file without execute permission is EACCES; one the kernel cannot run is ENOEXEC where no /bin/sh can run it', async () => {
    const file = path.join(os.tmpdir(), `nsjs-noexec-${process.pid}`);
    fs.writeFileSync(file, '\x7fELF garbage', { mode: 0o644 });
    try {
      await expect(spawnIsolated(file)).rejects.toMatchObject({ code: 'EACCES', step: 'execve', path: file, syscall: `spawn ${file}`, message: `spawn ${file} EACCES` });
      fs.chmodSync(file, 0o755);
      // A root with the file and no /bin/sh: execvp's fallback to the shell finds none.
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-nosh-'));
      try {
        const options = { namespaces: withUser(['mnt']), root, mounts: [{ type: 'bind' as const, source: file, target: '/x' }] };
        fs.writeFileSync(path.join(root, 'x'), '');
        await expect(spawnIsolated('/x', [], options)).rejects.toMatchObject({ code: 'ENOEXEC', errno: -8, step: 'execve', syscall: 'spawn /x' });
      } finally {
        fs.rmSync(root, { recursive: true });
      }
    } finally {
      fs.unlinkSync(file);
    }
  });

  test("with init, nsjs-init's own exec of the command fails the same way, and runs a script without #! under /bin/sh", async () => {
    // The PID-1 mode's exec runs before glibc's start-up (src-native/init/fast.cc): its own PATH walk and errors.
    const init = { namespaces: withUser(['pid']), init: true };
    const file = path.join(os.tmpdir(), `nsjs-init-exec-${process.pid}`);
    fs.writeFileSync(file, 'echo "script $0 $1"; exit 3\n', { mode: 0o644 });
    try {
      await expect(spawnIsolated(file, [], init)).rejects.toMatchObject({ code: 'EACCES', step: 'execve', syscall: `spawn ${file}`, path: file });
      await expect(spawnIsolated('nsjs-no-such-command', [], { ...init, env: { PATH: `/nsjs/none:${os.tmpdir()}` } })).rejects.toMatchObject({ code: 'ENOENT', step: 'execve' });
      fs.chmodSync(file, 0o755);
      const r = await runIsolated(path.basename(file), ['arg'], { ...init, env: { PATH: `/nsjs/none:${os.tmpdir()}` }, reject: false });
      expect(r).toMatchObject({ code: 3, signal: null, stdout: `script ${file} arg\n` });
    } finally {
      fs.unlinkSync(file);
    }
  });

  test('a failing mount names the mount and its path', async () => {
    const err = (await spawnIsolated('true', [], {
      namespaces: withUser(['mnt']),
      mounts: [{ type: 'tmpfs', target: '/nsjs/no/such/dir' }],
    }).catch((e: unknown) => e)) as NsError;
    expect(err).toMatchObject({ code: 'ENOENT', syscall: 'openat2', path: '/nsjs/no/such/dir', step: 'mount /nsjs/no/such/dir' });
    expect(err.message).toMatch(/tmpfs mount at \/nsjs\/no\/such\/dir failed: its target \/nsjs\/no\/such\/dir does not exist/);
  });

  test('a new uid without the privilege for it: EPERM at the first credential step, with a hint (root: it works)', async () => {
    if (process.getuid!() === 0) {
      expect(await sh('id -u; grep ^Groups: /proc/self/status | wc -w', { uid: 1 })).toMatchObject({ code: 0, stdout: '1\n1\n' });
    } else {
      await expect(spawnIsolated('true', [], { uid: 1 })).rejects.toMatchObject({ code: 'EPERM', step: 'setgroups', hint: expect.stringMatching(/CAP_SETUID.*add 'user'/) });
    }
  });

  test('a bad cwd fails at chdir', async () => {
    await expect(spawnIsolated('true', [], { cwd: '/nsjs/no/such/dir' })).rejects.toMatchObject({ code: 'ENOENT', syscall: 'chdir', step: 'chdir' });
  });

  test('a bad stdio fd fails at stdio', async () => {
    await expect(spawnIsolated('true', [], { stdio: ['pipe', 9999, 'pipe'] })).rejects.toMatchObject({ code: 'EBADF', step: 'stdio' });
  });

  test('the same failures through the clone(2) fallback', async () => {
    testHooks.forceClone = true;
    try {
      await expect(spawnIsolated('/no/such/file', [], { namespaces: withUser(['mnt']) })).rejects.toMatchObject({ code: 'ENOENT', step: 'execve' });
    } finally {
      testHooks.forceClone = false;
    }
  });
});

test('the addon refuses a plan whose strings do not match its header, and starts nothing', () => {
  const e = encodePlan({
    cloneFlags: 0, forceClone: false, parentMaps: false, dieWithParent: false, forkStyle: false, execChain: false,
    ops: [{ kind: Op.Exec }], stdio: [], groups: [], execPaths: ['/bin/true'], argv: ['true'],
  });
  // A NUL inside a string (lib/ validates that away) would shift every string after it.
  expect(() => native().spawnSync(e.ints, e.text.replace('true', 'tr\0ue'), undefined)).toThrow(/bad spawn plan: the text does not hold/);
  expect(() => native().spawn(e.ints.subarray(0, 5), e.text, undefined)).toThrow(/bad spawn plan: short header/);
});

test('the addon refuses more stdio entries than the child can hold, and starts nothing', () => {
  const plan = (over: object) =>
    encodePlan({
      cloneFlags: 0, forceClone: false, parentMaps: false, dieWithParent: false, forkStyle: false, execChain: false,
      ops: [{ kind: Op.Exec }], stdio: [], groups: [], execPaths: ['/bin/true'], argv: ['true'], ...over,
    });
  // The child keeps one int per stdio entry on its stack: 64 of the user's and init's two.
  const long = plan({ stdio: Array(67).fill(-1) });
  expect(() => native().spawnSync(long.ints, long.text, undefined)).toThrow(/bad spawn plan: more than 66 stdio entries/);
});

test("stdio at its limit with init's two entries on top: every fd in place, init's own not passed on", async () => {
  // 64 entries, the most checkOptions takes; init: true makes them 66 in the child (moved[] is that long).
  const stdio = ['ignore', 'pipe', 'pipe', ...Array(60).fill('ignore'), 'pipe'];
  const script = 'readlink /proc/self/fd/63; for n in 3 62 64 65 66; do [ -e /proc/self/fd/$n ] && echo open $n; done; true';
  const r = await runIsolated('sh', ['-c', script], { stdio, namespaces: withUser(['pid']), init: true });
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/^pipe:\[\d+\]\n$/);
  await expect(spawnIsolated('true', [], { stdio: [...stdio, 'ignore'] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
});

describe('a child that dies before exec without a report', () => {
  /** Children of ours that have not exec'd yet: their executable is still Node. */
  function setupChildren(): number[] {
    const pids: number[] = [];
    for (const tid of fs.readdirSync('/proc/self/task')) {
      let kids: string;
      try {
        kids = fs.readFileSync(`/proc/self/task/${tid}/children`, 'latin1');
      } catch {
        continue;  // the thread is gone
      }
      for (const pid of kids.split(' ').filter(Boolean)) {
        try {
          if (fs.readlinkSync(`/proc/${pid}/exe`) === process.execPath) pids.push(Number(pid));
        } catch {
          // exec'd or gone meanwhile
        }
      }
    }
    return pids;
  }

  test('killed from outside during its setup: an NsError naming SIGKILL and the step, not a spawn', async () => {
    // Enough stacked tmpfs mounts that the setup lasts a few milliseconds,
    // while this thread (the spawn runs on the pool) looks for the child.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-kill-'));
    const mounts = Array.from({ length: 300 }, () => ({ type: 'tmpfs' as const, target: dir }));
    const deadline = Date.now() + 5000;
    let hit: NsError | undefined;
    try {
      while (!hit && Date.now() < deadline) {
        const pending = spawnIsolated('true', [], { namespaces: withUser(['mnt']), mounts, stdio: 'ignore' });
        await new Promise(setImmediate);  // the native spawn is queued after an await in spawnIsolated
        for (const until = Date.now() + 20; Date.now() < until; ) {
          const pids = setupChildren();
          for (const pid of pids) process.kill(pid, 'SIGKILL');
          if (pids.length > 0) break;
        }
        try {
          // Killed too late (after exec) it is the command that died: try again.
          await (await pending).wait();
        } catch (err) {
          hit = err as NsError;
        }
      }
    } finally {
      fs.rmdirSync(dir);
    }
    expect(hit).toBeInstanceOf(NsError);
    expect(hit).toMatchObject({ code: 'EINTR', signal: 'SIGKILL', errno: -os.constants.errno.EINTR });
    expect(hit!.step).toEqual(expect.any(String));
    expect(hit!.message).toMatch(/^EINTR: killed by SIGKILL before exec, /);
  }, 20_000);
});

describe('clone(2) fallback when clone3 is refused', () => {
  /** Runs work with clone3 refused or not; says, per spawn that started, whether it went through clone3. */
  async function viaClone3(forceClone: boolean, work: () => Promise<void>): Promise<boolean[]> {
    const addon = native();
    const real = addon.spawn;
    const seen: boolean[] = [];
    addon.spawn = (...a: Parameters<typeof real>) =>
      real.apply(addon, a).then((r) => {
        if (r.errno === undefined) seen.push(r.clone3);
        return r;
      });
    testHooks.forceClone = forceClone;
    try {
      await work();
    } finally {
      testHooks.forceClone = false;
      addon.spawn = real;
    }
    return seen;
  }

  test('all namespaces, the time namespace unshared in the child', async () => {
    const seen = await viaClone3(true, async () => {
      const r = await sh('echo $$; id -u; readlink /proc/self/ns/time', { namespaces: 'all', user: 'root' });
      expect(r.code).toBe(0);
      const [pid, uid, timeNs] = r.stdout.trim().split('\n');
      expect([pid, uid]).toEqual(['1', '0']);
      expect(timeNs).not.toBe(fs.readlinkSync('/proc/self/ns/time'));
    });
    expect(seen).toEqual([false]);
    const control = await viaClone3(false, async () => void (await sh('true', { namespaces: 'all', user: 'root' })));
    expect(control).toEqual([true]);
  });

  test('kill and wait work on the pidfd from pidfd_open', async () => {
    const seen = await viaClone3(true, async () => {
      const p = await spawnIsolated('sleep', ['30'], { namespaces: withUser(['pid']), stdio: 'ignore' });
      expect(p.kill('SIGKILL')).toBe(true);
      expect(await p.wait()).toEqual({ code: null, signal: 'SIGKILL' });
    });
    expect(seen).toEqual([false]);
  });
});

describe('setSpawnConcurrency', () => {
  /** The most native spawns in flight at once while `n` spawnIsolated calls run, with the limit set by `during` once they are queued. */
  async function peak(n: number, during?: () => void): Promise<number> {
    const addon = native();
    const real = addon.spawn;
    let now = 0;
    let most = 0;
    // A wrapper that counts, around the real native spawn: nothing is mocked.
    addon.spawn = (...a: Parameters<typeof real>) => {
      most = Math.max(most, ++now);
      return real.apply(addon, a).finally(() => now--);
    };
    try {
      const started = Array.from({ length: n }, () => spawnIsolated('true', [], { namespaces: withUser(['pid', 'uts']), stdio: 'ignore' }));
      during?.();
      const procs = await Promise.all(started);
      for (const p of procs) expect(await p.wait()).toEqual({ code: 0, signal: null });
    } finally {
      addon.spawn = real;
    }
    return most;
  }

  test('limits the native spawns in flight; raising it starts queued ones; it returns the previous limit', async () => {
    const initial = setSpawnConcurrency(1);
    try {
      expect(initial).toBe(Math.max(1, os.availableParallelism() - 1));
      expect(await peak(6)).toBe(1);
      expect(setSpawnConcurrency(3)).toBe(1);
      expect(await peak(6)).toBe(3);
      setSpawnConcurrency(1);
      // Queued behind a limit of 1, then released by the raise.
      expect(await peak(6, () => setSpawnConcurrency(4))).toBe(4);
    } finally {
      setSpawnConcurrency(initial);
    }
  });

  test('refuses anything but an integer from 1 to 1024, naming the argument', () => {
    for (const bad of [0, 1025, 1.5, -1, NaN]) expect(() => setSpawnConcurrency(bad)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/"limit"/) }));
    expect(() => setSpawnConcurrency('2' as unknown as number)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

test('64 concurrent children leave the thread pool free', async () => {
  const procs = await Promise.all(
    Array.from({ length: 64 }, () => spawnIsolated('sleep', ['1'], { namespaces: withUser(['pid']), stdio: 'ignore' })),
  );
  let exited = 0;
  const waits = procs.map((p) => p.wait().then((s) => (exited++, s)));
  // fs.readFile runs on the libuv pool: it must not queue behind 64 waits.
  await Promise.all(Array.from({ length: 16 }, () => fs.promises.readFile('/proc/self/status')));
  expect(exited).toBe(0);
  for (const s of await Promise.all(waits)) expect(s).toEqual({ code: 0, signal: null });
});

// Sandbox: one place, many commands, the policy applied to each of them
// again (issue 21). As root and as an ordinary user; each test checks that
// nothing leaked once the sandbox is closed.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

import { Sandbox, spawnIsolated } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { root, withUser } from '../../helpers/privilege';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

/** The issue's sandbox: every namespace, no capability, 32 fds. */
const locked = () =>
  Sandbox.create({
    namespaces: 'all',
    user: 'root',
    hostname: 'box',
    mounts: [{ type: 'proc', target: '/proc' }],
    capabilities: { keep: [] },
    rlimits: { nofile: [32, 32] },
  });

const CAPS = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | tr -d '\\t' | tr '\\n' ' '";

describe('the policy holds in every command', () => {
  test("a shell in a sandbox made with capabilities: { keep: [] } and nofile [32, 32] gets no more (the issue's attack)", async () => {
    await using sb = await locked();
    for (let i = 0; i < 3; i++) {
      const r = await sb.run('sh', ['-c', `hostname; ulimit -n; ulimit -Hn; ${CAPS}; ulimit -n 64 2>/dev/null && echo raised || echo refused`]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe(
        'box\n32\n32\nCapInh:0000000000000000 CapPrm:0000000000000000 CapEff:0000000000000000 CapBnd:0000000000000000 CapAmb:0000000000000000 refused\n',
      );
    }
    // Joining alone, as before Sandbox, keeps what we hold: the reason for it.
    const joined = await spawnIsolated('sh', ['-c', 'ulimit -n; grep CapEff /proc/self/status'], { join: { pid: sb.pid }, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    joined.stdout!.on('data', (d: Buffer) => (out += String(d)));
    await joined.wait();
    await new Promise((r) => (joined.stdout!.closed ? r(null) : joined.stdout!.once('close', r)));
    expect(out.split('\n')[0]).not.toBe('32');
  });

  test('every command is in every namespace of the holder, which is PID 1 there', async () => {
    await using sb = await locked();
    const types = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const;
    const want = types.map((t) => `${t}:${fs.statSync(`/proc/${sb.pid}/ns/${t}`).ino}`).join(' ');
    const script = `for t in ${types.join(' ')}; do printf '%s:%s ' $t $(stat -L -c %i /proc/self/ns/$t); done; echo; cat /proc/1/comm`;
    const r = await sb.run('sh', ['-c', script]);
    expect(r.stdout).toBe(`${want} \nnsjs-init\n`);
    const net = sb.namespace('net');
    expect(net.inode).toBe(fs.statSync(`/proc/${sb.pid}/ns/net`).ino);
    net.close();
  });

  test('a command entered through nsjs-init --enter holds only its stdio: no plan memfd, pidfd or pipe of ours', async () => {
    await using sb = await locked();
    // ls's own directory fd is 3; the plan's memfd, the holder's pidfd and
    // the report pipe went through the helper's exec and must stop there.
    const r = await sb.run('ls', ['/proc/self/fd']);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['0', '1', '2', '3']);
  });

  test('files written by one command are seen by the next; 20 commands keep one init', async () => {
    await using sb = await Sandbox.create({ namespaces: withUser(['pid', 'mnt']), mounts: [{ type: 'tmpfs', target: '/tmp' }, { type: 'proc', target: '/proc' }] });
    const pids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await sb.run('sh', ['-c', `echo ${i} >> /tmp/log; wc -l < /tmp/log; cat /proc/1/stat | cut -d' ' -f1-2`]);
      expect(r.stdout.split('\n')[0]).toBe(String(i + 1));
      pids.add(r.stdout.split('\n')[1]);
    }
    expect([...pids]).toEqual(['1 (nsjs-init)']);
    // The tmpfs is the sandbox's, not ours.
    expect(fs.existsSync('/tmp/log') && fs.readFileSync('/tmp/log', 'latin1').startsWith('0\n1\n')).toBe(false);
  });

  test("the command's own status, cwd and env; stdio as spawnIsolated", async () => {
    await using sb = await locked();
    // As runIsolated: a failed exit rejects with execFile's fields, unless reject: false.
    await expect(sb.run('sh', ['-c', 'exit 7'])).rejects.toMatchObject({ code: 7, signal: null, killed: false });
    expect(await sb.run('sh', ['-c', 'exit 7'], { reject: false })).toMatchObject({ code: 7, signal: null });
    expect(await sb.run('sh', ['-c', 'pwd; echo $X'], { cwd: '/proc/self', env: { X: 'y', PATH: '/bin:/usr/bin' } })).toMatchObject({ stdout: expect.stringMatching(/^\/proc\/\d+\ny\n$/) });
    const p = await sb.spawn('sh', ['-c', 'kill -TERM $$; sleep 5'], { stdio: 'ignore' });
    expect(await p.wait()).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await sb.run('cat', [], { input: 'in' })).toMatchObject({ stdout: 'in' });
  });
});

describe('a narrower policy per command, never a wider one', () => {
  test('fewer capabilities and lower limits apply', async () => {
    await using sb = await Sandbox.create({ namespaces: ['user', 'uts'], user: 'root', capabilities: { keep: ['CAP_SYS_ADMIN', 'CAP_CHOWN'] }, rlimits: { nofile: [64, 64] } });
    const all = await sb.run('sh', ['-c', 'ulimit -n; grep CapEff /proc/self/status']);
    expect(all.stdout).toBe('64\nCapEff:\t0000000000200001\n');
    const narrow = await sb.run('sh', ['-c', 'ulimit -n; grep CapEff /proc/self/status'], { capabilities: { keep: ['CAP_CHOWN'] }, rlimits: { nofile: [16, 16], nproc: [100, 100] } });
    expect(narrow.stdout).toBe('16\nCapEff:\t0000000000000001\n');
    // The next command has the sandbox's again.
    expect((await sb.run('sh', ['-c', 'ulimit -n'])).stdout).toBe('64\n');
  });

  test("a command's seccomp refusals are added to the sandbox's, which stay", async () => {
    await using sb = await Sandbox.create({
      namespaces: ['user', 'mnt', 'uts'],
      user: 'root',
      mounts: [{ type: 'tmpfs', target: '/tmp' }],
      seccomp: { deny: ['fchownat'] },
    });
    const script = 'mkdir /tmp/d 2>/dev/null && echo made || echo refused; chown 0 /tmp 2>/dev/null && echo chowned || echo refused; rmdir /tmp/d 2>/dev/null; true';
    expect((await sb.run('sh', ['-c', script])).stdout).toBe('made\nrefused\n');
    expect((await sb.run('sh', ['-c', script], { seccomp: { deny: ['mkdir', 'mkdirat'], errno: 'EACCES' } })).stdout).toBe('refused\nrefused\n');
    expect((await sb.run('sh', ['-c', script])).stdout).toBe('made\nrefused\n');
  });

  test.each([
    ['a capability the sandbox does not keep', { capabilities: { keep: ['CAP_CHOWN', 'CAP_NET_ADMIN'] } }, /options\.capabilities\.keep\[1\]' would widen/],
    ['a higher hard limit', { rlimits: { core: [0, 1] } }, /options\.rlimits\.core' would widen/],
    // Ours is finite: the kernel's nr_open bounds it.
    ['a limit above ours where the sandbox sets none', { rlimits: { nofile: [Infinity, Infinity] } }, /options\.rlimits\.nofile' would widen/],
    ['no_new_privs off', { noNewPrivileges: false }, /options\.noNewPrivileges' would widen/],
    ['our session', { newSession: false }, /options\.newSession' would widen/],
    ['another uid without CAP_SETUID', { uid: 1 }, /options\.uid' would widen/],
    ['a seccomp allow list', { seccomp: { allow: ['ptrace'] } }, /options\.seccomp\.allow' would widen/],
    ['no seccomp filter', { seccomp: false }, /options\.seccomp' would widen/],
    ['a place option', { hostname: 'other' }, /options\.hostname' is the sandbox's own/],
    ['a join', { join: { pid: 1 } }, /options\.join' is the sandbox's own/],
    ['an unknown option', { nosuch: 1 }, /options\.nosuch' is not an option of a command/],
  ])('refused before anything starts: %s', async (_, options, message) => {
    await using sb = await Sandbox.create({ namespaces: ['user', 'uts'], user: 'root', capabilities: { keep: ['CAP_CHOWN'] }, rlimits: { core: [0, 0] } });
    const cmd = { ...options } as Record<string, unknown>;
    for (const call of [() => sb.spawn('true', [], cmd), () => sb.run('true', [], cmd)])
      await expect(call()).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', name: 'TypeError', message: expect.stringMatching(message) });
  });

  test("Sandbox.create refuses a command's options and a sandbox without a namespace", async () => {
    for (const [options, message] of [
      [{ namespaces: withUser(['uts']), cwd: '/' }, /options\.cwd' is an option of each command/],
      [{ namespaces: withUser(['pid']), init: true }, /options\.init' is not a Sandbox option/],
      [{ namespaces: [] }, /options\.namespaces' must name at least one namespace/],
      [{ namespaces: ['nosuch'] }, /options\.namespaces/],
    ] as const)
      await expect(Sandbox.create(options as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(message) });
  });
});

describe('close()', () => {
  test('kills everything inside, waits, and leaves nothing; later commands are refused', async () => {
    const sb = await locked();
    const p = await sb.spawn('sh', ['-c', '(setsid sleep 100 &); sleep 100'], { stdio: 'ignore' });
    await sleep(100);
    const holder = sb.pid;
    await Promise.all([sb.close(), sb.close()]);
    expect(p.exitStatus).toEqual({ code: null, signal: 'SIGKILL' });
    expect(fs.existsSync(`/proc/${holder}`)).toBe(false);
    await expect(sb.run('true')).rejects.toMatchObject({ code: 'ESRCH' });
  });

  test('without a pid namespace, what a command left running is found by its namespaces and killed', async () => {
    const sb = await Sandbox.create({ namespaces: ['user', 'uts', 'ipc'], user: 'root' });
    const r = await sb.run('sh', ['-c', '(setsid sleep 100 >/dev/null 2>&1 &); echo started'], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(r.stdout).toBe('started\n');
    const ipc = fs.statSync(`/proc/${sb.pid}/ns/ipc`).ino;
    const inside = () =>
      fs.readdirSync('/proc').filter((n) => {
        try {
          return /^\d+$/.test(n) && fs.statSync(`/proc/${n}/ns/ipc`).ino === ipc;
        } catch {
          return false;
        }
      });
    expect(inside().length).toBe(2); // the holder and the sleep
    await sb.close();
    for (let i = 0; i < 50 && inside().length > 0; i++) await sleep(20);
    expect(inside()).toEqual([]);
  });

  // Namespace inode numbers come from one allocator for every type, lowest
  // free first, and a number is free again once nothing holds its
  // namespace: without a pid namespace, close() finds leftovers by the
  // mnt namespace's number, so it holds that namespace until it has ended.
  // Here, once the holder is dead and before close() scans again (it runs
  // only when we yield), fresh mnt namespaces are made until one would have
  // taken the number; none may, and none may be killed.
  test("without a pid namespace, a namespace made while close() runs never takes the sandbox's inode number, and is not killed", async () => {
    const ours = fs.statSync('/proc/self/ns/mnt').ino;
    const mntOf = (pid: number) => {
      try {
        return fs.statSync(`/proc/${pid}/ns/mnt`).ino;
      } catch {
        return undefined; // gone, or a zombie
      }
    };
    /** Busy, as we must not yield to close(): true once `done`, false after 5 s. */
    const spin = (done: () => boolean) => {
      for (const end = Date.now() + 5000; Date.now() < end; ) if (done()) return true;
      return false;
    };
    // Unprivileged, a user namespace of a helper's to make each fresh mnt namespace in (one number each).
    const userns = root ? undefined : spawn('unshare', ['-U', '-r', 'sleep', '60'], { stdio: 'ignore' });
    const fresh: { child: ChildProcess; exit: Promise<NodeJS.Signals | null> }[] = [];
    const taken: number[] = [];
    try {
      if (userns) expect(spin(() => fs.readlinkSync(`/proc/${userns.pid}/ns/user`) !== fs.readlinkSync('/proc/self/ns/user'))).toBe(true);
      const enter = userns ? ['nsenter', '-t', String(userns.pid), '-U', '--preserve-credentials'] : [];
      for (const end = Date.now() + 2000; Date.now() < end && taken.length === 0; ) {
        const sb = await Sandbox.create({ namespaces: withUser(['mnt']), ...(root ? {} : { user: 'root' as const }) });
        const holder = sb.pid;
        const ino = mntOf(holder);
        const closing = sb.close();
        expect(spin(() => mntOf(holder) !== ino)).toBe(true);
        for (let i = 0; i < 4 && taken.length === 0; i++) {
          const argv = [...enter, 'unshare', '-m', 'sleep', '60'];
          const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
          fresh.push({ child, exit: new Promise((r) => child.once('exit', (_code, signal) => r(signal))) });
          let got: number | undefined;
          expect(spin(() => (got = mntOf(child.pid!)) !== undefined && got !== ours)).toBe(true);
          if (got === ino) taken.push(got);
        }
        await closing;
      }
    } finally {
      for (const f of fresh) f.child.kill('SIGTERM');
      userns?.kill('SIGKILL');
    }
    const signals = await Promise.all(fresh.map((f) => f.exit));
    expect({ taken, killed: signals.filter((s) => s !== 'SIGTERM') }).toEqual({ taken: [], killed: [] });
    if (userns && userns.exitCode === null && userns.signalCode === null) await new Promise((r) => userns.once('exit', r));
  });

  test('a spawn under way when close() is called is killed too', async () => {
    const sb = await locked();
    // Settled while close() runs: the handler is attached first. It keeps the
    // process, not its status, which is read once close() has resolved (a
    // spawn that won the race is still being killed when it resolves).
    const settled = sb.spawn('sleep', ['100'], { stdio: 'ignore' }).then(
      (p) => p,
      (err: NodeJS.ErrnoException) => err.code,
    );
    await sb.close();
    const settledTo = await settled;
    const outcome = typeof settledTo === 'string' ? settledTo : settledTo?.exitStatus;
    expect(outcome === 'ESRCH' || outcome === 'ENOMEM' || (outcome as { signal?: string } | null)?.signal === 'SIGKILL').toBe(true);
  });
});

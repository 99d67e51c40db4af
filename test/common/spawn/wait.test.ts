// Process.attach() and waitpid() against real processes, as root and as an
// ordinary user: pidfds, a uv_poll on the loop, waitid(P_PIDFD).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NsError, Process, waitpid, type ExitStatus } from '../../../lib/index';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { ROOT, withLib } from '../../helpers/node';

/** Resolves with the arguments of the child's 'exit' event. */
function exitOf(child: ChildProcess): Promise<ExitStatus> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function ppidOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

let before: Snapshot;
/** Children to kill and wait for even when an assertion fails. */
let spawned: ChildProcess[];
function track(child: ChildProcess): ChildProcess {
  spawned.push(child);
  return child;
}

beforeEach(() => {
  spawned = [];
  before = snapshot();
});

afterEach(async () => {
  await Promise.all(
    spawned.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = exitOf(c);
      c.kill('SIGKILL');
      await exited;
    }),
  );
  await expectNoLeaks(before);
});

describe('Process.attach', () => {
  test('a child_process child: wait() has its real status, and child_process still gets its exit', async () => {
    // Many at once: Node's SIGCHLD handler often reaps before our pidfd poll
    // runs; the status must come out right either way.
    const runs = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const child = track(spawn('sh', ['-c', i % 2 ? 'sleep 0.1; exit 3' : 'exit 3'], { stdio: 'ignore' }));
        const exited = exitOf(child);
        const proc = Process.attach(child.pid!);
        expect(proc.pid).toBe(child.pid);
        const status = await proc.wait();
        expect(proc.exitStatus).toEqual(status);
        return { status, exit: await exited };
      }),
    );
    for (const { status, exit } of runs) {
      expect(status).toEqual({ code: 3, signal: null });
      expect(exit).toEqual({ code: 3, signal: null });
    }
  });

  test('killed by SIGTERM: { code: null, signal: SIGTERM }, same as the exit event', async () => {
    const child = track(spawn('sleep', ['30'], { stdio: 'ignore' }));
    const exited = exitOf(child);
    const proc = Process.attach(child.pid!);
    const waits = [proc.wait(), proc.wait()];
    child.kill('SIGTERM');
    for (const status of await Promise.all(waits)) expect(status).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  test('kill() signals through the pidfd: true while it runs, false after exit', async () => {
    const child = track(spawn('sleep', ['30'], { stdio: 'ignore' }));
    const exited = exitOf(child);
    const proc = Process.attach(child.pid!);
    expect(proc.exitStatus).toBeNull();
    expect(proc.kill('SIGKILL')).toBe(true);
    expect(await proc.wait()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(proc.kill()).toBe(false);
    expect(proc.kill(0)).toBe(false);
  });

  test('not our child: wait() resolves { code: null, signal: null } when it exits', async () => {
    // sh's background sleep is sh's child, not ours.
    const sh = track(spawn('sh', ['-c', 'sleep 0.3 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    const exited = exitOf(sh);
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      sh.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      sh.once('error', reject);
    });
    const grandchild = Number(line);
    expect(ppidOf(grandchild)).toBe(sh.pid);
    const proc = Process.attach(grandchild);
    expect(await proc.wait()).toEqual({ code: null, signal: null });
    expect(await exited).toEqual({ code: 0, signal: null });
  });

  test('a pid that does not exist: ESRCH from pidfd_open', () => {
    const err = thrown(() => Process.attach(0x3fffffff));
    expect(err).toBeInstanceOf(NsError);
    expect(err).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'pidfd_open' });
  });

  test('bad arguments: TypeError/RangeError before any syscall', () => {
    for (const pid of ['1', null, undefined, {}])
      expect(thrown(() => Process.attach(pid as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    for (const pid of [0, -1, 1.5, NaN, 2 ** 31])
      expect(thrown(() => Process.attach(pid))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  });

  test('64 concurrent waits hold no libuv thread: fs.readFile still completes while all are pending', async () => {
    // Each child blocks reading its stdin until we close it, so "still
    // pending" is certain, not a matter of timing.
    const children = Array.from({ length: 64 }, () =>
      track(spawn('head', ['-c', '1'], { stdio: ['pipe', 'ignore', 'ignore'] })),
    );
    const exits = children.map(exitOf);
    let settled = 0;
    const waits = children.map((c) =>
      Process.attach(c.pid!)
        .wait()
        .finally(() => settled++),
    );
    // More reads than the pool has threads (4 unless UV_THREADPOOL_SIZE says
    // otherwise): a wait parked in the pool would starve them until the exits.
    const files = ['/proc/self/status', '/proc/self/stat', '/proc/version', path.join(ROOT, 'package.json')];
    const reads = await Promise.all(Array.from({ length: 32 }, (_, i) => fs.promises.readFile(files[i % files.length])));
    for (const r of reads) expect(r.length).toBeGreaterThan(0);
    expect(settled).toBe(0);
    for (const c of children) expect(c.exitCode).toBeNull();

    for (const c of children) c.stdin!.end();
    for (const status of await Promise.all(waits)) expect(status).toEqual({ code: 0, signal: null });
    for (const status of await Promise.all(exits)) expect(status).toEqual({ code: 0, signal: null });
  });

  describe('ref and unref, in a separate Node process', () => {
    const script = (target: number, unref: boolean) =>
      withLib(`
        const p = nsjs.Process.attach(${target});
        ${unref ? 'p.unref();' : ''}
        console.log('attached', p.refed);
        p.wait().then((s) => console.log('waited', JSON.stringify(s)));
      `);

    async function runNode(target: number, unref: boolean, onAttached: () => void) {
      const node = track(spawn(process.execPath, ['-e', script(target, unref)], { stdio: ['ignore', 'pipe', 'pipe'] }));
      const exited = exitOf(node);
      let out = '';
      let err = '';
      node.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      node.stdout!.on('data', (d: Buffer) => {
        const was = out.includes('attached');
        out += d.toString();
        if (!was && out.includes('attached')) onAttached();
      });
      const status = await exited;
      return { status, out, err };
    }

    test('unref(): a pending wait does not keep the process alive', async () => {
      const target = track(spawn('sleep', ['30'], { stdio: 'ignore' }));
      const r = await runNode(target.pid!, true, () => undefined);
      expect(r.err).toBe('');
      expect(r.status).toEqual({ code: 0, signal: null });
      expect(r.out).toBe('attached false\n');
      // It exited on its own while the process it waited for still runs.
      expect(target.exitCode).toBeNull();
      expect(target.signalCode).toBeNull();
    });

    test('by default a pending wait keeps the process alive until the exit', async () => {
      const target = track(spawn('sleep', ['30'], { stdio: 'ignore' }));
      const r = await runNode(target.pid!, false, () => target.kill('SIGTERM'));
      expect(r.err).toBe('');
      expect(r.status).toEqual({ code: 0, signal: null });
      // Not its child: no status, but it was still there to see the exit.
      expect(r.out).toBe('attached true\nwaited {"code":null,"signal":null}\n');
    });
  });
});

describe('waitpid', () => {
  test('a process that is not our child: ECHILD from waitid', async () => {
    for (const pid of [1, process.ppid]) {
      const err = await rejection(waitpid(pid));
      expect(err).toBeInstanceOf(NsError);
      expect(err).toMatchObject({ code: 'ECHILD', errno: -10, syscall: 'waitid' });
    }
  });

  test('an already aborted signal: AbortError, before anything else', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    const err = await rejection(waitpid(1, { signal: ac.signal }));
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(err.cause).toBe(ac.signal.reason);
  });

  test('bad arguments reject with TypeError/RangeError', async () => {
    for (const pid of ['1', null, undefined])
      expect(await rejection(waitpid(pid as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    for (const pid of [0, -1, 1.5])
      expect(await rejection(waitpid(pid))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(await rejection(waitpid(1, null as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(await rejection(waitpid(1, 'x' as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(await rejection(waitpid(1, { signal: 5 as never }))).toBeInstanceOf(TypeError);
  });
});

// runIsolated's results and errors side by side with what
// child_process.execFile gives for the same command (issue 17, items 1-4):
// a failed exit rejects with code, signal, killed, cmd, stdout and stderr;
// maxBuffer kills; an abort is an AbortError with its cause; a timeout says
// timedOut and escalates to SIGKILL where killSignal is dropped (PID 1).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';

import { NsError, Process, runIsolated, spawnIsolated } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { packageCopy, type PackageCopy } from '../../helpers/package';
import { withUser } from '../../helpers/privilege';

const execFileP = promisify(execFile);

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

/** What a promise rejects with (failing the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Record<string, unknown> & Error> {
  try {
    await p;
  } catch (err) {
    return err as Record<string, unknown> & Error;
  }
  throw new Error('resolved, expected a rejection');
}

/** The fields execFile's error has, from an error of either. */
const execFields = (e: Record<string, unknown>) => ({
  constructor: e.constructor.name,
  name: e.name,
  message: e.message,
  code: e.code,
  killed: e.killed,
  signal: e.signal,
  cmd: e.cmd,
  stdout: e.stdout,
  stderr: e.stderr,
});

describe('a failed exit rejects as execFile does', () => {
  test('a non-zero exit: the same message, code, signal, killed, cmd, stdout and stderr', async () => {
    const args = ['-c', 'echo out; echo err >&2; exit 3'];
    const theirs = await rejection(execFileP('sh', args));
    const ours = await rejection(runIsolated('sh', args, { namespaces: withUser(['uts']) }));
    expect(execFields(ours)).toEqual(execFields(theirs));
    expect(ours).toMatchObject({ code: 3, signal: null, killed: false, timedOut: false, aborted: false, stdout: 'out\n', stderr: 'err\n' });
    expect(typeof ours.pid).toBe('number');
  });

  test('a signal: code null, the signal, killed false (nobody here sent it)', async () => {
    const args = ['-c', 'kill -KILL $$'];
    const theirs = await rejection(execFileP('sh', args));
    const ours = await rejection(runIsolated('sh', args));
    expect(execFields(ours)).toEqual(execFields(theirs));
  });

  test('reject: false resolves with the status whatever it is; exit 0 resolves without the flags', async () => {
    expect(await runIsolated('sh', ['-c', 'echo x; exit 3'], { reject: false })).toEqual({ code: 3, signal: null, stdout: 'x\n', stderr: '', pid: expect.any(Number) });
    const ok = await runIsolated('true', []);
    expect(ok).toEqual({ code: 0, signal: null, stdout: '', stderr: '', pid: expect.any(Number) });
    expect(await runIsolated('sleep', ['10'], { timeout: 50, reject: false })).toMatchObject({ code: null, signal: 'SIGTERM', timedOut: true });
  });

  test('reject and maxBuffer are checked before anything starts', async () => {
    await expect(runIsolated('true', [], { reject: 1 as unknown as boolean })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('options.reject') });
    await expect(runIsolated('true', [], { maxBuffer: -1 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.maxBuffer') });
    await expect(runIsolated('true', [], { maxBuffer: NaN })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(runIsolated('true', [], { maxBuffer: '1' as unknown as number })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(runIsolated('true', [], { killTimeout: -1 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.killTimeout') });
  });
});

describe('maxBuffer', () => {
  test("past it the command is killed and the error is execFile's, with the output up to it", async () => {
    const args = ['-c', 'head -c 3000000 /dev/zero; sleep 10'];
    const theirs = await rejection(execFileP('sh', args, { encoding: 'buffer' }));
    const ours = await rejection(runIsolated('sh', args, { encoding: 'buffer' }));
    expect(ours).toBeInstanceOf(RangeError);
    for (const e of [ours, theirs]) {
      expect(e).toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', message: 'stdout maxBuffer length exceeded', cmd: `sh ${args.join(' ')}` });
      expect((e.stdout as Buffer).length).toBe(1024 * 1024);
    }
    // The sleep never ran its course: the command was killed.
    expect(ours).toMatchObject({ killed: true, signal: 'SIGTERM' });
  });

  test('per stream, in bytes; stderr too; exactly maxBuffer is fine; Infinity keeps everything', async () => {
    expect((await runIsolated('head', ['-c', '1000', '/dev/zero'], { maxBuffer: 1000 })).stdout.length).toBe(1000);
    const e = await rejection(runIsolated('sh', ['-c', 'head -c 1001 /dev/zero >&2'], { maxBuffer: 1000 }));
    expect(e).toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', message: 'stderr maxBuffer length exceeded' });
    expect((e.stderr as string).length).toBe(1000);
    expect((await runIsolated('head', ['-c', '3000000', '/dev/zero'], { maxBuffer: Infinity, encoding: 'buffer' })).stdout.length).toBe(3000000);
  });

  test('reject: false does not hide it', async () => {
    await expect(runIsolated('head', ['-c', '10', '/dev/zero'], { maxBuffer: 5, reject: false })).rejects.toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' });
  });

  test('a PID 1 that ignores killSignal is killed all the same, after killTimeout', async () => {
    const e = await rejection(runIsolated('sh', ['-c', 'head -c 100 /dev/zero; exec sleep 30'], { namespaces: withUser(['pid']), maxBuffer: 10, killTimeout: 100 }));
    expect(e).toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', signal: 'SIGKILL', killed: true });
  });
});

describe('abort and timeout after the start', () => {
  test('an abort rejects with an AbortError whose cause is the reason, as execFile', async () => {
    const reason = new Error('enough');
    const theirsAc = new AbortController();
    const oursAc = new AbortController();
    const theirsP = rejection(execFileP('sleep', ['10'], { signal: theirsAc.signal }));
    const oursP = rejection(runIsolated('sleep', ['10'], { signal: oursAc.signal }));
    setTimeout(() => {
      theirsAc.abort(reason);
      oursAc.abort(reason);
    }, 100);
    const [theirs, ours] = await Promise.all([theirsP, oursP]);
    for (const e of [theirs, ours]) {
      expect(e.constructor.name).toBe('AbortError');
      expect(e).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', message: 'The operation was aborted', cause: reason, cmd: 'sleep 10', stdout: '', stderr: '' });
    }
    expect(ours).toMatchObject({ aborted: true, timedOut: false, killed: true, signal: 'SIGTERM' });
  });

  test('an abort before the start rejects with the AbortError and starts nothing', async () => {
    const ac = new AbortController();
    const reason = new Error('early');
    ac.abort(reason);
    await expect(runIsolated('true', [], { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: reason });
  });

  test('a timeout: the error of execFile, plus timedOut; ExitStatus says timedOut', async () => {
    const theirs = await rejection(execFileP('sleep', ['10'], { timeout: 100 }));
    const ours = await rejection(runIsolated('sleep', ['10'], { timeout: 100 }));
    expect(execFields(ours)).toEqual(execFields(theirs));
    expect(ours).toMatchObject({ timedOut: true, aborted: false, killed: true, code: null, signal: 'SIGTERM' });
    const p = await spawnIsolated('sleep', ['10'], { timeout: 50, stdio: 'ignore' });
    expect(await p.wait()).toEqual({ code: null, signal: 'SIGTERM', timedOut: true });
    expect(p.killed).toBe(true);
  });

  test('spawnIsolated: an abort says aborted in ExitStatus', async () => {
    const ac = new AbortController();
    const p = await spawnIsolated('sleep', ['10'], { signal: ac.signal, stdio: 'ignore' });
    ac.abort();
    expect(await p.wait()).toEqual({ code: null, signal: 'SIGTERM', aborted: true });
  });

  test('a timeout on PID 1 without init escalates to SIGKILL after killTimeout', async () => {
    // sleep as PID 1 has no handler for SIGTERM: the kernel drops it.
    const e = await rejection(runIsolated('sleep', ['30'], { namespaces: withUser(['pid']), timeout: 100, killTimeout: 100 }));
    expect(e).toMatchObject({ timedOut: true, killed: true, code: null, signal: 'SIGKILL' });
  });

  test('the default killTimeout is 2 s, and 0 never escalates', async () => {
    const started = Date.now();
    const p = await spawnIsolated('sleep', ['30'], { namespaces: withUser(['pid']), timeout: 50, stdio: 'ignore' });
    expect(await p.wait()).toEqual({ code: null, signal: 'SIGKILL', timedOut: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);

    const never = await spawnIsolated('sleep', ['30'], { namespaces: withUser(['pid']), timeout: 50, killTimeout: 0, stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 400));
    expect(never.exitStatus).toBeNull();
    never.kill('SIGKILL');
    expect(await never.wait()).toEqual({ code: null, signal: 'SIGKILL', timedOut: true });
  });

  test('a command that handles killSignal and exits is not killed again', async () => {
    const e = await rejection(runIsolated('sh', ['-c', 'trap "exit 7" TERM; while :; do sleep 0.05; done'], { timeout: 100, killTimeout: 100 }));
    expect(e).toMatchObject({ timedOut: true, code: 7, signal: null });
  });
});

describe('input', () => {
  test('with a stdin that is not a pipe it is refused before anything starts, not dropped', async () => {
    await expect(runIsolated('cat', [], { input: 'x', stdio: ['ignore', 'pipe', 'pipe'] })).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: expect.stringContaining('options.input'),
    });
    expect(await runIsolated('cat', [], { input: 'x', stdio: ['pipe', 'pipe', 'pipe'] })).toMatchObject({ stdout: 'x' });
  });
});

describe('spawn failures and scripts as child_process.spawn', () => {
  /** Node's spawn error for the same command, from the 'error' event. */
  const nodeSpawnError = (command: string, args: string[]) =>
    new Promise<Record<string, unknown> & Error>((resolve) => spawn(command, args, { stdio: 'ignore' }).on('error', (e) => resolve(e as Record<string, unknown> & Error)));
  const spawnFields = (e: Record<string, unknown>) => ({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, spawnargs: e.spawnargs });

  test.each([['nsjs-no-such-cmd-xyz'], ['/no/such']])('%s: spawn <cmd> ENOENT, with path and spawnargs, keeping step', async (command) => {
    const theirs = await nodeSpawnError(command, ['a', 'b']);
    for (const options of [{}, { namespaces: withUser(['pid']) }, { namespaces: withUser(['pid']), init: true }]) {
      const ours = await rejection(spawnIsolated(command, ['a', 'b'], options));
      expect(ours).toBeInstanceOf(NsError);
      expect(spawnFields(ours)).toEqual(spawnFields(theirs));
      expect(ours).toMatchObject({ step: 'execve' });
    }
    // runIsolated rejects with the same error.
    expect(spawnFields(await rejection(runIsolated(command, ['a', 'b'])))).toEqual(spawnFields(theirs));
  });

  test('a PATH directory we cannot search makes it EACCES, as execvp (root searches it: ENOENT)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-path-'));
    fs.chmodSync(dir, 0o000);
    try {
      const env = { PATH: `${dir}:/usr/bin:/bin` };
      const theirs = await new Promise<Record<string, unknown> & Error>((resolve) =>
        spawn('nsjs-no-such-cmd-xyz', [], { stdio: 'ignore', env }).on('error', (e) => resolve(e as Record<string, unknown> & Error)),
      );
      expect(theirs.code).toBe(process.getuid!() === 0 ? 'ENOENT' : 'EACCES');
      expect(spawnFields(await rejection(spawnIsolated('nsjs-no-such-cmd-xyz', [], { env })))).toEqual(spawnFields(theirs));
    } finally {
      fs.rmdirSync(dir);
    }
  });

  test('a script without a #! line runs under /bin/sh, its path as $0, as execvp does (with init too)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-script-'));
    const script = path.join(dir, 'script');
    fs.writeFileSync(script, 'echo "$0 $*"; exit 4\n', { mode: 0o755 });
    try {
      const theirs = await rejection(execFileP(script, ['a', 'b']));
      expect(theirs).toMatchObject({ code: 4, stdout: `${script} a b\n` });
      for (const options of [{}, { namespaces: withUser(['pid']), init: true }]) {
        const ours = await rejection(runIsolated(script, ['a', 'b'], options));
        expect(execFields(ours)).toEqual(execFields(theirs));
      }
      // Found on PATH, as spawn finds it.
      const env = { PATH: `${dir}:/usr/bin:/bin` };
      expect(await runIsolated('script', ['c'], { env, reject: false })).toMatchObject({ code: 4, stdout: `${script} c\n` });
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});

describe('Process as ChildProcess', () => {
  /** The events and fields of a process, in the order they came. */
  async function observe(proc: EventEmitter & { stdout: Readable | null; exitCode: number | null; signalCode: string | null; killed: boolean; spawnfile: string; spawnargs: readonly string[] }) {
    const seen: unknown[] = [];
    proc.stdout?.on('data', (d: Buffer) => seen.push(['data', String(d)]));
    proc.stdout?.on('close', () => seen.push(['stdout close']));
    proc.on('exit', (code, signal) => seen.push(['exit', code, signal, proc.exitCode, proc.signalCode]));
    await new Promise<void>((resolve) =>
      proc.on('close', (code, signal) => {
        seen.push(['close', code, signal]);
        resolve();
      }),
    );
    // Whether stdout closes before or after the exit is a race in both (and
    // Node emits 'close' within the stream's own close); 'close' follows 'exit'.
    const order = seen.map((e) => (e as string[])[0]);
    expect(order.indexOf('close')).toBeGreaterThan(order.indexOf('exit'));
    return { seen: seen.filter((e) => !['data', 'stdout close'].includes((e as string[])[0])), closed: order.includes('stdout close'), out: seen.filter((e) => (e as string[])[0] === 'data').map((e) => (e as string[])[1]).join(''), killed: proc.killed, spawnfile: proc.spawnfile, spawnargs: [...proc.spawnargs] };
  }

  test.each([
    ['exit 3', ['-c', 'echo hi; exit 3']],
    ['a signal', ['-c', 'echo hi; kill -TERM $$']],
    ['output after the exit (a background writer holds stdout)', ['-c', '(sleep 0.2; echo late) & echo early']],
  ])("%s: 'exit', then 'close' once stdout has closed, with exitCode, signalCode, spawnfile, spawnargs", async (_what, args) => {
    const theirs = await observe(spawn('sh', args, { stdio: ['ignore', 'pipe', 'ignore'] }));
    const ours = await observe(await spawnIsolated('sh', args, { stdio: ['ignore', 'pipe', 'ignore'] }));
    expect(ours).toEqual(theirs);
  });

  test('killed, exitCode and signalCode after kill(); spawnargs with argv0; events.once works', async () => {
    const theirs = spawn('sleep', ['10'], { stdio: 'ignore', argv0: 'zz' });
    const ours = await spawnIsolated('sleep', ['10'], { stdio: 'ignore', argv0: 'zz' });
    for (const p of [theirs, ours]) {
      expect({ killed: p.killed, exitCode: p.exitCode, signalCode: p.signalCode }).toEqual({ killed: false, exitCode: null, signalCode: null });
      const exited = once(p, 'exit');
      p.kill();
      expect(p.killed).toBe(true);
      expect(await exited).toEqual([null, 'SIGTERM']);
      expect({ exitCode: p.exitCode, signalCode: p.signalCode }).toEqual({ exitCode: null, signalCode: 'SIGTERM' });
    }
    expect([ours.spawnfile, ours.spawnargs]).toEqual([theirs.spawnfile, theirs.spawnargs]);
  });

  test('using: Symbol.dispose kills it (SIGKILL) without waiting; it is still reaped', async () => {
    let held: Process;
    {
      const p = await spawnIsolated('sleep', ['10'], { stdio: 'ignore' });
      held = p;
      p[Symbol.dispose]();
    }
    expect(await held.wait()).toEqual({ code: null, signal: 'SIGKILL' });
  });

  test('stdio takes a Stream that has an fd, as child_process does; one without is refused', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-stream-'));
    try {
      const file = fs.createWriteStream(path.join(dir, 'out'));
      await once(file, 'open');
      const p = await spawnIsolated('sh', ['-c', 'echo to-stream'], { stdio: ['ignore', file, 'ignore'] });
      await p.wait();
      // 'close', not end()'s callback ('finish'): the fd is closed after it.
      file.end();
      await once(file, 'close');
      expect(fs.readFileSync(path.join(dir, 'out'), 'utf8')).toBe('to-stream\n');
      // A socket: our end of a pipe of child_process's.
      const cat = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
      const q = await spawnIsolated('sh', ['-c', 'echo via-socket'], { stdio: ['ignore', cat.stdin!, 'ignore'] });
      await q.wait();
      cat.stdin!.end();
      let got = '';
      for await (const d of cat.stdout!) got += String(d);
      expect(got).toBe('via-socket\n');
      await once(cat, 'close');
      const unopened = fs.createWriteStream(path.join(dir, 'later'));
      await expect(spawnIsolated('true', [], { stdio: ['ignore', unopened, 'ignore'] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.stdio[1]') });
      await once(unopened, 'open');
      unopened.end();
      await once(unopened, 'close');
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  test('cwd takes a file: URL as child_process does; another scheme is refused before anything starts', async () => {
    const url = new URL('file:///tmp');
    const theirs = await execFileP('pwd', [], { cwd: url });
    expect(await runIsolated('pwd', [], { cwd: url })).toMatchObject({ stdout: theirs.stdout });
    await expect(runIsolated('pwd', [], { cwd: new URL('http://example.com/') })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_URL_SCHEME' });
  });
});

describe('uncaught errors as Node prints its own', () => {
  let pkg: PackageCopy;
  beforeAll(() => {
    pkg = packageCopy();
  });
  afterAll(() => pkg.dispose());

  /** What Node prints for `body` left uncaught, from a script file of the user's. */
  const uncaught = (body: string) => {
    const file = path.join(pkg.dir, 'user-script.js');
    fs.writeFileSync(file, `const nsjs = require(${JSON.stringify(pkg.index)});\nfunction userCode() {\n  ${body}\n}\nuserCode();\n`);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    const lines = r.stderr.split('\n');
    return { status: r.status, header: lines.find((l) => /^\w*Error/.test(l)), top: lines.find((l) => l.startsWith('    at ')), stderr: r.stderr, file };
  };

  test.each([
    ["spawnIsolated('true', ['a\\0b'])", 'TypeError [ERR_INVALID_ARG_VALUE]: '],
    ["runIsolated('true', [], { timeout: -1 })", 'RangeError [ERR_OUT_OF_RANGE]: '],
    ["runIsolated('true', [], { maxBuffer: 'x' })", 'TypeError [ERR_INVALID_ARG_TYPE]: '],
  ])('%s: the [ERR_…] tag, and the caller on top', (call, header) => {
    const r = uncaught(`return nsjs.${call};`);
    expect(r.status).toBe(1);
    expect(r.header).toMatch(new RegExp(`^${header.replace(/[[\]]/g, '\\$&')}`));
    expect(r.top).toMatch(/^ {4}at userCode \(.*user-script\.js:3:/);
    // No frame of nsjs's anywhere in what is printed.
    expect(r.stderr).not.toMatch(/[/\\](spawn|core)[/\\]\w+\.js/);
  });

  // The source line above the message is where `throw` ran (V8's choice), nsjs's as Node's own errors show Node's.
  test("kill('SIGBOGUS'), thrown synchronously: the tag, the caller on top", () => {
    const r = uncaught("const p = nsjs.Process.attach(process.pid);\n  p.kill('SIGBOGUS');");
    expect(r.header).toBe('TypeError [ERR_UNKNOWN_SIGNAL]: Unknown signal: SIGBOGUS');
    expect(r.top).toMatch(/^ {4}at userCode \(.*user-script\.js:4:/);
  });
});

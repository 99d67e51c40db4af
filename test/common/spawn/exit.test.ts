// Node ends cleanly with nsjs handles open (issue 13): a process exit or a
// worker's end tears the environment down while a pidfd watch, a connect
// watch or a spawn may still fire. Each case runs in many fresh Node
// processes (the crash was a race: a few % of runs died of SIGSEGV or
// SIGABRT), and every one must exit 0, with no signal and nothing on stderr.
import { spawn } from 'node:child_process';

import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { packageCopy, type PackageCopy } from '../../helpers/package';

let pkg: PackageCopy;
let before: Snapshot;

beforeAll(() => {
  pkg = packageCopy();
});

afterAll(() => pkg.dispose());

beforeEach(() => {
  before = snapshot();
});

afterEach(async () => {
  await expectNoLeaks(before);
});

/** How each of `runs` Node processes running `body` ended, a few at a time; only the runs that did not exit 0 cleanly. */
async function badExits(body: string, runs: number): Promise<string[]> {
  const script = `const nsjs = require(${JSON.stringify(pkg.index)});\n${body}`;
  const one = (i: number) =>
    new Promise<string | undefined>((resolve) => {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code, signal) => resolve(code === 0 && !signal && stderr === '' ? undefined : `run ${i}: ${signal ?? `exit ${code}`} ${stderr.slice(0, 300)}`));
    });
  const bad: string[] = [];
  const AT_ONCE = 4;
  for (let i = 0; i < runs; i += AT_ONCE) {
    for (const r of await Promise.all(Array.from({ length: Math.min(AT_ONCE, runs - i) }, (_, j) => one(i + j)))) if (r) bad.push(r);
  }
  return bad;
}

/** `body` in a worker thread; the main thread exits once the worker has. */
const inWorker = (body: string, main = '') => `
  const { Worker } = require('node:worker_threads');
  const w = new Worker(${JSON.stringify(`const nsjs = require(${JSON.stringify(pkg.index)});\n${body}`)}, { eval: true });
  ${main}
`;

const UNREF_KILL = `
  (async () => {
    const p = await nsjs.spawnIsolated('sleep', ['5'], { stdio: 'ignore' });
    p.unref();
    setTimeout(() => p.kill('SIGKILL'), 10);
  })();
`;

test('an unref()d process killed as Node exits: no callback into the torn-down environment', async () => {
  expect(await badExits(UNREF_KILL, 100)).toEqual([]);
}, 120_000);

describe('in a worker thread', () => {
  test('an unref()d process killed as the worker ends', async () => {
    expect(await badExits(inWorker(UNREF_KILL), 25)).toEqual([]);
  }, 120_000);

  test('process.exit() in a worker with a process still watched', async () => {
    const body = `
      nsjs.spawnIsolated('sleep', ['5'], { stdio: 'ignore' }).then((p) => setTimeout(() => { p.kill('SIGKILL'); process.exit(0); }, 10));
    `;
    expect(await badExits(inWorker(body), 25)).toEqual([]);
  }, 120_000);

  test('process.exit() in a worker with a net.connect pending inside a namespace', async () => {
    // A route over lo to addresses nobody has: the SYN loops back and is
    // dropped, so the connect stays pending until the worker goes.
    const body = `
      const ns = nsjs.Namespace.create('net');
      nsjs.net.linkUp(ns, 'lo');
      nsjs.net.addAddress(ns, 'lo', '169.254.78.1/32');
      nsjs.net.addRoute(ns, { to: '169.254.79.0/24', dev: 'lo' });
      nsjs.net.connect(ns, { host: '169.254.79.2', port: 9 }).then(() => process.exit(3), () => process.exit(4));
      setTimeout(() => process.exit(0), 10);
    `;
    expect(await badExits(inWorker(body, "w.on('exit', (code) => { process.exitCode = code; });"), 25)).toEqual([]);
  }, 120_000);

  test('a worker terminated while its spawns are in flight', async () => {
    // Resolved once the spawns are queued; terminate() lands while some are
    // on the pool, others already watched.
    const body = `
      const { parentPort } = require('node:worker_threads');
      for (let i = 0; i < 8; i++) nsjs.spawnIsolated('true', [], { stdio: 'ignore', namespaces: ['user', 'mnt', 'pid'] }).catch(() => {});
      parentPort.postMessage('queued');
    `;
    const main = "w.on('message', () => setTimeout(() => w.terminate(), Math.random() * 6));";
    expect(await badExits(inWorker(body, main), 25)).toEqual([]);
  }, 120_000);
});

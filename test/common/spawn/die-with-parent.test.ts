// dieWithParent against a real SIGKILL of the Node process that spawned the
// sandbox (issue 13): the kernel clears PR_SET_PDEATHSIG on every change of
// credentials, so it must be set after the last one (uid, gid, explicit id
// maps, init's exec), and a parent that died before the prctl must still
// take the sandbox with it. The Node processes run a copy of the package.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Process } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { packageCopy, type PackageCopy } from '../../helpers/package';

const root = process.getuid!() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** A Node process with `args`; `line()` resolves with each line it prints, undefined at the end. */
function node(args: string[]): { child: ChildProcess; line: () => Promise<string | undefined> } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let buffered = '';
  let ended = false;
  let wake: (() => void) | undefined;
  child.stdout!.on('data', (d) => {
    buffered += d;
    wake?.();
  });
  child.stdout!.on('end', () => {
    ended = true;
    wake?.();
  });
  child.stderr!.resume();
  const line = async (): Promise<string | undefined> => {
    for (;;) {
      const nl = buffered.indexOf('\n');
      if (nl >= 0) {
        const l = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        return l;
      }
      if (ended) return undefined;
      await new Promise<void>((r) => (wake = r));
    }
  };
  return { child, line };
}

const exited = (child: ChildProcess) => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));

/** Whether the process held by `p` exits within `ms`; if not, it is killed. */
async function diesWithin(p: Process, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const died = await Promise.race([p.wait().then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  if (!died) {
    p.kill('SIGKILL');
    await p.wait();
  }
  return died;
}

/** Spawns `sleep 30` with `options` from a Node process, SIGKILLs that process, and says whether the sandbox died with it. */
async function survivesKill(options: object): Promise<boolean> {
  const script = `
    const nsjs = require(${JSON.stringify(pkg.index)});
    nsjs.spawnIsolated('sleep', ['30'], { stdio: 'ignore', dieWithParent: true, ...${JSON.stringify(options)} })
      .then((p) => console.log(p.pid), (e) => { console.log('error ' + e.message); });
  `;
  const { child, line } = node(['-e', script]);
  const pid = await line();
  expect(pid).toMatch(/^\d+$/);
  const sandbox = Process.attach(Number(pid));
  child.kill('SIGKILL');
  await exited(child);
  return !(await diesWithin(sandbox, 3000));
}

const ranges = [{ inside: 0, outside: 100000, count: 65536 }];
const cases: [string, object][] = root
  ? [
      ['uid and gid', { uid: 65534, gid: 65534 }],
      ['init with uid and gid', { namespaces: ['pid'], init: true, uid: 65534, gid: 65534 }],
      ['explicit id maps with uid and gid inside', { namespaces: ['user', 'pid'], user: { uidMap: ranges, gidMap: ranges }, uid: 0, gid: 0 }],
      ['no capabilities, uid and groups', { capabilities: { keep: [] }, uid: 65534, gid: 65534, groups: [65534] }],
    ]
  : [
      ["user: 'root' with uid and gid", { namespaces: ['user'], user: 'root', uid: 0, gid: 0 }],
      ["init in user: 'root'", { namespaces: ['user', 'pid'], user: 'root', init: true, capabilities: { keep: [] } }],
    ];

describe.each(cases)('the sandbox dies with a SIGKILLed Node: %s', (_name, options) => {
  test('killed', async () => {
    expect(await survivesKill(options)).toBe(false);
  });
});

test("the CLI's --kill-child with ids set", async () => {
  const args = root ? ['run', '--kill-child', '-S', '65534', '-G', '65534', '--', 'sleep', '30'] : ['run', '-r', '--kill-child', '-S', '0', '--', 'sleep', '30'];
  const { child } = node([pkg.cli, ...args]);
  // The sandbox is the CLI's child: wait for it to have exec'd sleep.
  let pid: number | undefined;
  for (let i = 0; i < 200 && pid === undefined; i++) {
    await sleep(10);
    for (const tid of fs.existsSync(`/proc/${child.pid}/task`) ? fs.readdirSync(`/proc/${child.pid}/task`) : []) {
      const kids = fs.readFileSync(`/proc/${child.pid}/task/${tid}/children`, 'latin1').split(' ').filter(Boolean);
      pid ??= kids.map(Number).find((k) => fs.readFileSync(`/proc/${k}/comm`, 'latin1') === 'sleep\n');
    }
  }
  expect(pid).toEqual(expect.any(Number));
  const sandbox = Process.attach(pid!);
  child.kill('SIGKILL');
  await exited(child);
  expect(await diesWithin(sandbox, 3000)).toBe(true);
});

test('a Node process killed while the child is still in its setup (before the prctl) takes the sandbox too', async () => {
  // Stacked tmpfs mounts make the setup last milliseconds; Node is killed as
  // soon as the spawn is on its way. Every sleep carries a marker argument,
  // so a survivor is found by its command line.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-pdeath-'));
  const marker = `31.${process.pid}${Date.now() % 100000}`;
  const options = { namespaces: root ? ['mnt'] : ['user', 'mnt'], mounts: Array.from({ length: 300 }, () => ({ type: 'tmpfs', target: dir })), stdio: 'ignore', dieWithParent: true };
  const script = `
    const nsjs = require(${JSON.stringify(pkg.index)});
    const pending = nsjs.spawnIsolated('sleep', [${JSON.stringify(marker)}], ${JSON.stringify(options)});
    setImmediate(() => console.log('cloning'));
    pending.then((p) => console.log(p.pid));
  `;
  const survivors = () =>
    fs.readdirSync('/proc').filter((p) => {
      try {
        return /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/cmdline`, 'latin1') === `sleep\0${marker}\0`;
      } catch {
        return false;
      }
    });
  let early = 0;
  const deadline = Date.now() + 6000;
  try {
    while (early < 5 && Date.now() < deadline) {
      const { child, line } = node(['-e', script]);
      expect(await line()).toBe('cloning');
      child.kill('SIGKILL');
      await exited(child);
      // Killed before the spawn had returned: the child was mid-setup (or not yet cloned).
      if ((await line()) === undefined) early++;
      await sleep(50);
      expect(survivors()).toEqual([]);
    }
    expect(early).toBeGreaterThan(0);
  } finally {
    for (const pid of survivors()) process.kill(Number(pid), 'SIGKILL');
    fs.rmdirSync(dir);
  }
}, 30_000);

// nsjs-init cannot be overwritten from inside (issue 13, runc CVE-2019-5736):
// a command in an init: true sandbox opens /proc/1/exe with O_PATH and two
// forked loopers keep reopening /proc/self/fd/N for writing; when the command
// exits, init drops its memory a moment before the namespace dies, and an
// executable of the host's would be writable then. nsjs-init runs from a
// sealed memfd copy instead. The sandboxes run from a copy of the package,
// so a failure overwrites the copy's nsjs-init, never the checkout's.
import { execFileSync, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { runIsolated, spawnIsolated } from '../../../lib';
import { initBinary } from '../../../lib/core/native';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { packageCopy, type PackageCopy } from '../../helpers/package';
import { root } from '../../helpers/privilege';
import { rootfs, usrReadonly } from '../../helpers/rootfs';

// Prints o for each open for writing that succeeded, then W for a write
// that went through.
const ATTACK = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
  int fd = open("/proc/1/exe", O_PATH);
  if (fd < 0) { perror("open /proc/1/exe"); return 2; }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  for (int k = 0; k < 2; k++) {
    if (fork() == 0) {
      for (;;) {
        int w = open(path, O_WRONLY);
        if (w < 0) continue;
        (void)!write(1, "o", 1);
        if (write(w, "\\177TROJAN", 7) == 7) (void)!write(1, "W", 1);
        close(w);
      }
    }
  }
  usleep(300);
  return 0;
}
`;

// What the command finds at /proc/1/exe: its seals (F_GET_SEALS, -1 for a file that has none).
const SEALS = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
int main(void) {
  int fd = open("/proc/1/exe", O_RDONLY);
  if (fd < 0) { perror("open /proc/1/exe"); return 2; }
  printf("%d\\n", fcntl(fd, F_GET_SEALS));
  return 0;
}
`;

let pkg: PackageCopy;
let dir: string;
let rootDir: string;
let before: Snapshot;

function compile(source: string, out: string): void {
  fs.writeFileSync(`${out}.c`, source);
  execFileSync(process.env.CC ?? 'cc', ['-O2', '-o', out, `${out}.c`]);
}

beforeAll(() => {
  pkg = packageCopy();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-init-attack-'));
  // The programs sit in a rootfs that shows neither the package nor its copy.
  rootDir = rootfs(dir, ['usr', 'proc']);
  compile(ATTACK, path.join(rootDir, 'attack'));
  compile(SEALS, path.join(rootDir, 'seals'));
});

afterAll(() => {
  pkg.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  before = snapshot();
});

afterEach(async () => {
  await expectNoLeaks(before);
});

const proc = { type: 'proc', target: '/proc' } as const;

interface Attack {
  runs: number;
  opens: number;
  writes: number;
  changed: boolean;
}

/** Runs the attack in sandboxes with `options` from a Node process of the copy until its nsjs-init changes, for up to `ms`. */
function attack(options: object, command: string, ms: number): Promise<Attack> {
  const script = `
    const nsjs = require(${JSON.stringify(pkg.index)});
    const fs = require('node:fs');
    const original = fs.readFileSync(${JSON.stringify(pkg.init)});
    (async () => {
      const r = { runs: 0, opens: 0, writes: 0, changed: false };
      for (const deadline = Date.now() + ${ms}; Date.now() < deadline && !r.changed; r.runs++) {
        const { stdout, stderr } = await nsjs.runIsolated(${JSON.stringify(command)}, [], ${JSON.stringify(options)});
        if (stderr) throw new Error(stderr);
        for (const c of stdout) r[c === 'W' ? 'writes' : 'opens']++;
        r.changed = !fs.readFileSync(${JSON.stringify(pkg.init)}).equals(original);
      }
      console.log(JSON.stringify(r));
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`the attack loop exited ${code}`))));
  });
}

const hash = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

const cases: [string, object, string][] = [
  ...(root
    ? ([
        ['as root, capabilities dropped, the package hidden by root', { namespaces: ['pid', 'mnt'], init: true, capabilities: { keep: [] }, root: '<root>', mounts: [usrReadonly, proc] }, '/attack'],
        ["as root in a user namespace (user: 'root')", { namespaces: ['user', 'pid', 'mnt'], user: 'root', init: true, mounts: [proc] }, '<root>/attack'],
      ] as [string, object, string][])
    : ([["as uid 65534 with user: 'root', on its own copy of the package", { namespaces: ['user', 'pid', 'mnt'], user: 'root', init: true, mounts: [proc] }, '<root>/attack']] as [string, object, string][])),
];

describe.each(cases)('/proc/1/exe reopened for writing in a loop: %s', (_name, options, command) => {
  test('no write lands: the copy of nsjs-init never changes', async () => {
    const fill = (v: unknown) => JSON.parse(JSON.stringify(v).replaceAll('<root>', rootDir));
    const original = hash(pkg.init);
    const r = await attack(fill(options), fill(command), 4000);
    expect(hash(pkg.init)).toBe(original);
    expect(r).toMatchObject({ changed: false, writes: 0 });
    // Without CAP_DAC_OVERRIDE the copy's mode (0555) refuses the open too.
    // Root of a user namespace overrides it once init has exited (before,
    // ETXTBSY): then the seals refuse the write (EPERM).
    if ('capabilities' in options) expect(r.opens).toBe(0);
    expect(r.runs).toBeGreaterThan(20);
  }, 30_000);
});

describe('every exec of nsjs-init runs the sealed copy', () => {
  const SEALED = 0x1 | 0x2 | 0x4 | 0x8; // F_SEAL_SEAL | SHRINK | GROW | WRITE

  test('init: true, whatever the mounts hide', async () => {
    const r = await runIsolated(path.join(rootDir, 'seals'), [], { namespaces: root ? ['pid', 'mnt'] : ['user', 'pid', 'mnt'], init: true, mounts: [proc] });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(Number(r.stdout) & SEALED).toBe(SEALED);
    const p = await spawnIsolated('sleep', ['30'], { namespaces: root ? ['pid'] : ['user', 'pid'], init: true, stdio: 'ignore' });
    try {
      expect(fs.readlinkSync(`/proc/${p.pid}/exe`)).toBe('/memfd:nsjs-init (deleted)');
    } finally {
      p.kill('SIGKILL');
      await p.wait();
    }
  });

  test("nsjs-init as the command (the --hold helper of Namespace.create() and features())", async () => {
    const p = await spawnIsolated(initBinary(), ['--hold'], { namespaces: root ? ['mnt'] : ['user', 'mnt'], stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      expect(fs.readlinkSync(`/proc/${p.pid}/exe`)).toBe('/memfd:nsjs-init (deleted)');
    } finally {
      p.stdin!.destroy();
      expect(await p.wait()).toEqual({ code: 0, signal: null });
    }
  });
});

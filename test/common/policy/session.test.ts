// The sandbox cannot reach the caller's terminal (issue 13, item 2;
// CVE-2017-5226): by default the command runs in a new session, so it has no
// controlling terminal to open as /dev/tty, and TIOCSTI on the terminal's
// own path is refused (only the session owning a terminal may push input
// into it). The attack runs for real: a Node process whose controlling
// terminal is a pty of script(1) spawns a probe that tries to type
// "echo PWNED" into that terminal; the Node process then reads what reached
// its terminal's input. With newSession: false (what `nsjs run` keeps, as
// unshare) the same probe gets through wherever the kernel allows TIOCSTI.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { runIsolated, type SpawnOptions } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { withLib } from '../../helpers/node';
import { ERRNO_NAME, cProbe } from '../../helpers/probe';
import { root } from '../../helpers/privilege';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

const TIOCSTI = `${ERRNO_NAME}
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
// Types argv[2] into the terminal at argv[1], one byte per TIOCSTI (with
// NSJS_HI set, the request has bit 32 set too, which the kernel ignores).
int main(int argc, char **argv) {
  if (argc != 3) return 2;
  int fd = open(argv[1], O_RDWR | O_NOCTTY);
  if (fd < 0) { printf("open %s\\n", ERR()); return 0; }
  for (char *p = argv[2]; *p; p++)
    if (syscall(SYS_ioctl, fd, (getenv("NSJS_HI") ? 1UL << 32 : 0) | TIOCSTI, p) < 0) { printf("TIOCSTI %s\\n", ERR()); return 0; }
  printf("TIOCSTI ok\\n");
  return 0;
}
`;

/** Whether the kernel lets a process push input into its own controlling terminal (Linux 6.2+ can refuse it). */
const legacyTiocsti = () => {
  try {
    return fs.readFileSync('/proc/sys/dev/tty/legacy_tiocsti', 'latin1').trim() !== '0';
  } catch {
    return true; // before Linux 6.2: always
  }
};

/** Runs the probe twice (on /dev/tty, on the pty's own path) from a Node process whose terminal is a pty. */
function attack(options: SpawnOptions, highBits = false): { viaDevTty: string; viaPath: string; injected: string } {
  const probe = cProbe('tiocsti', TIOCSTI);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-tty-'));
  try {
    const script = path.join(dir, 'victim.js');
    fs.writeFileSync(
      script,
      withLib(`
        const fs = require('fs');
        (async () => {
          const options = ${JSON.stringify(options)};
          if (${highBits}) options.env = { ...process.env, NSJS_HI: '1' };
          const tty = fs.readlinkSync('/proc/self/fd/0');
          const viaDevTty = (await nsjs.runIsolated(${JSON.stringify(probe)}, ['/dev/tty', 'echo PWNED-1\\n'], options)).stdout.trim();
          const viaPath = (await nsjs.runIsolated(${JSON.stringify(probe)}, [tty, 'echo PWNED-2\\n'], options)).stdout.trim();
          // Whatever was typed into our terminal is a line waiting in its input
          // queue (after the EOF that script(1) sends for its empty stdin, which reads as 0 bytes).
          const fd = fs.openSync('/dev/tty', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
          let injected = '';
          try { for (let i = 0; i < 16; i++) { const b = Buffer.alloc(256); const n = fs.readSync(fd, b); injected += b.toString('latin1', 0, n); } } catch (e) { if (e.code !== 'EAGAIN') throw e; }
          console.log('RESULT ' + JSON.stringify({ viaDevTty, viaPath, injected }));
        })().catch((e) => { console.log('RESULT ' + JSON.stringify({ error: String(e.stack) })); });
      `),
    );
    const r = spawnSync('script', ['-qec', `${process.execPath} ${script}`, '/dev/null'], { encoding: 'utf8', input: '', timeout: 20000 });
    const line = r.stdout.split(/\r?\n/).find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`no result from the terminal's owner: ${r.stdout} ${r.stderr} ${r.error}`);
    const result = JSON.parse(line.slice(7));
    if (result.error) throw new Error(result.error);
    return result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const sandboxes: [string, SpawnOptions][] = [
  ['no namespaces', {}],
  ['user+mnt+pid with a dev mount (its /dev/tty bound from the host)', { namespaces: ['user', 'mnt', 'pid'], user: 'root', mounts: [{ type: 'dev', target: '/dev' }] }],
  ...(root ? ([['mnt+pid as real root', { namespaces: ['mnt', 'pid'] }]] as [string, SpawnOptions][]) : []),
];

describe.each(sandboxes)('TIOCSTI into the caller\'s terminal: %s', (_name, options) => {
  test('by default the command has no terminal to type into, and nothing is typed', () => {
    const r = attack(options);
    expect(r.viaDevTty).toBe('open ENXIO');
    expect(r.viaPath).toMatch(/^(open ENOENT|TIOCSTI EPERM)$/);
    expect(r.injected).toBe('');
  });

  test('with newSession: false the default seccomp filter refuses TIOCSTI (and an ioctl request with high bits set)', () => {
    const r = attack({ ...options, newSession: false });
    expect(r.viaDevTty).toBe('TIOCSTI EPERM');
    expect(r.injected).toBe('');
    const hi = attack({ ...options, newSession: false, seccomp: { base: 'none' } }, true);
    expect(hi.viaDevTty).toBe('TIOCSTI EPERM');
    expect(hi.injected).toBe('');
  });

  test("with newSession: false and seccomp: false the same command types into it (where the kernel allows TIOCSTI)", () => {
    const r = attack({ ...options, newSession: false, seccomp: false });
    if (legacyTiocsti()) {
      expect(r.viaDevTty).toBe('TIOCSTI ok');
      expect(r.injected).toContain('echo PWNED-1');
    } else {
      expect(r.viaDevTty).toMatch(/^TIOCSTI E/);
      expect(r.injected).toBe('');
    }
  });
});

test('the command is the leader of its own session by default, and in ours with newSession: false', async () => {
  const lead = await runIsolated('sh', ['-c', `s=$(cut -d" " -f6 /proc/$$/stat); [ "$s" = "$$" ] && echo leader || echo "in $s"`]);
  expect(lead.stdout).toBe('leader\n');
  const ours = String(fs.readFileSync('/proc/self/stat', 'latin1').split(') ')[1].split(' ')[3]);
  const kept = await runIsolated('sh', ['-c', 'cut -d" " -f6 /proc/$$/stat'], { newSession: false });
  expect(kept.stdout.trim()).toBe(ours);
});

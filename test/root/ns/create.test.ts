// Namespaces that outlive every process: persisted with bind mounts, seen by
// iproute2, joined, and removed again. Root only (the bind mount needs it).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Namespace, runIsolated, type NsError } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { cProbe } from '../../helpers/probe';

const NETNS_DIR = '/run/netns';
const isMountPoint = (dir: string) =>
  fs.readFileSync('/proc/self/mountinfo', 'latin1').split('\n').some((l) => l.split(' ')[4] === dir);

let before: Snapshot;
let netnsDir: { existed: boolean; mounted: boolean };
beforeEach(() => {
  before = snapshot();
  netnsDir = { existed: fs.existsSync(NETNS_DIR), mounted: isMountPoint(NETNS_DIR) };
});
afterEach(async () => {
  // A net namespace created by name makes /run/netns a shared bind mount of
  // itself, as `ip netns add` does, and leaves it so by design: on a machine
  // where it was not one yet, that self-bind is this test's to undo.
  if (!netnsDir.mounted && isMountPoint(NETNS_DIR)) {
    expect(spawnSync('umount', [NETNS_DIR]).status).toBe(0);
    if (!netnsDir.existed) fs.rmdirSync(NETNS_DIR);
  }
  await expectNoLeaks(before);
});

const ipNetns = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;

test('net { name }: ip netns lists it and ip netns exec enters it; unpersist removes mount and file', async () => {
  const name = `nsjs-test-${process.pid}`;
  const ns = Namespace.create('net', { name });
  const file = `/run/netns/${name}`;
  try {
    expect(ipNetns()).toMatch(new RegExp(`^${name}\\b`, 'm'));
    const viaIp = spawnSync('ip', ['netns', 'exec', name, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' });
    expect(viaIp.stdout.trim()).toBe(String(ns));
    const reopened = Namespace.open(file, 'net');
    expect(reopened.equals(ns)).toBe(true);
    reopened.close();
    expect((await runIsolated('readlink', ['/proc/self/ns/net'], { join: [ns] })).stdout.trim()).toBe(String(ns));
    // /run/netns is a shared mount of itself, as iproute2 makes it
    expect(fs.readFileSync('/proc/self/mountinfo', 'latin1')).toMatch(/ \/run\/netns rw[^\n]* shared:\d+/);
  } finally {
    ns.close();
  }
  // The mount keeps it alive with no fd and no process.
  using held = Namespace.open(file);
  expect(held.toString()).toMatch(/^net:/);
  Namespace.unpersist(file);
  expect(fs.existsSync(file)).toBe(false);
  expect(ipNetns()).not.toMatch(new RegExp(`^${name}\\b`, 'm'));
  expect(fs.readFileSync('/proc/self/mountinfo', 'latin1')).not.toContain(file);
});

test('create on an existing name is EEXIST and changes nothing', () => {
  const name = `nsjs-dup-${process.pid}`;
  const first = Namespace.create('net', { name });
  try {
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'latin1');
    expect(() => Namespace.create('net', { name })).toThrow(expect.objectContaining({ code: 'EEXIST', path: `/run/netns/${name}` }));
    expect(fs.readFileSync('/proc/self/mountinfo', 'latin1')).toBe(mounts);
    using reopened = Namespace.open(`/run/netns/${name}`);
    expect(reopened.equals(first)).toBe(true);
  } finally {
    first.close();
    Namespace.unpersist(`/run/netns/${name}`);
  }
});

test('persistAt for every type, with ip netns-style round trips', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-persist-'));
  try {
    for (const type of ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const) {
      const file = path.join(dir, type);
      const ns = Namespace.create(type, { persistAt: file });
      const opened = Namespace.open(file, type);
      expect(opened.equals(ns)).toBe(true);
      opened.close();
      ns.close();
      Namespace.unpersist(file);
      expect(fs.existsSync(file)).toBe(false);
    }
  } finally {
    fs.rmdirSync(dir);
  }
});

// A symlink at the persist target (issue 13, item 10): the bind went where it
// pointed. It is refused (ELOOP), and the file opened is the file mounted on,
// so swapping a link in while persist runs cannot redirect it either.
describe('persist never follows a symbolic link at its target', () => {
  let dir: string;
  let victim: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-persist-link-'));
    victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'not a namespace\n');
  });
  afterEach(() => {
    for (const f of [victim, path.join(dir, 'a'), path.join(dir, 'b')]) spawnSync('umount', ['-l', f], { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const mountedOn = (file: string) => fs.readFileSync('/proc/self/mountinfo', 'latin1').includes(` ${file} `);

  test.each([
    ['persist(link)', (link: string) => {
      using ns = Namespace.current('uts');
      ns.persist(link);
    }],
    ['Namespace.create({ persistAt: link })', (link: string) => Namespace.create('uts', { persistAt: link }).close()],
    ['a dangling link', (link: string) => {
      using ns = Namespace.current('uts');
      ns.persist(link);
    }],
    ['a dangling link, exclusive', (link: string) => {
      using ns = Namespace.current('uts');
      ns.persist(link, true);
    }],
  ])('%s: ELOOP, and nothing is mounted where it points', (name, persist) => {
    const link = path.join(dir, 'a');
    fs.symlinkSync(name.includes('dangling') ? path.join(dir, 'nowhere') : victim, link);
    let err: unknown;
    try {
      persist(link);
    } catch (e) {
      err = e;
    }
    if (name.includes('exclusive')) {
      // An existing path is refused before anything is opened.
      expect(err).toMatchObject({ code: 'EEXIST' });
    } else {
      expect(err).toMatchObject({ name: 'NsError', code: 'ELOOP', syscall: 'open', path: link, message: expect.stringMatching(/symbolic link/) });
    }
    expect(mountedOn(victim)).toBe(false);
    expect(mountedOn(link)).toBe(false);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
  });

  test('a link swapped in and out of the target while persisting never gets the mount (looped, 3 s at most)', () => {
    const SWAP = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
// Exchanges DIR/a and DIR/b until killed.
int main(int argc, char **argv) {
  int dir = open(argv[1], O_PATH | O_DIRECTORY);
  if (dir < 0) return 1;
  for (;;) renameat2(dir, "a", dir, "b", RENAME_EXCHANGE);
}
`;
    const a = path.join(dir, 'a');
    fs.writeFileSync(a, '');
    fs.symlinkSync(victim, path.join(dir, 'b'));
    const racer = spawn(cProbe('swap', SWAP), [dir], { stdio: 'ignore' });
    const ns = Namespace.current('uts');
    const outcomes = { mounted: 0, refused: 0 };
    try {
      const end = Date.now() + 3000;
      for (let i = 0; i < 300 && Date.now() < end; i++) {
        try {
          ns.persist(a);
          outcomes.mounted++;
          // Mounted on the regular file persist opened, which the racer may have
          // renamed to b just before (a mount point is not renamed again). Undone
          // with the racer stopped, which would swap the names between umount and unlink.
          racer.kill('SIGSTOP');
          const b = path.join(dir, 'b');
          Namespace.unpersist(fs.lstatSync(a).isSymbolicLink() ? b : a);
          for (const f of [a, b]) fs.rmSync(f, { force: true });
          fs.writeFileSync(a, '');
          fs.symlinkSync(victim, b);
          racer.kill('SIGCONT');
        } catch (e) {
          if ((e as NsError).code !== 'ELOOP') throw e;
          outcomes.refused++;
        }
        expect(mountedOn(victim)).toBe(false);
      }
    } finally {
      racer.kill('SIGKILL');
      ns.close();
    }
    // Both cases were met: the race ran.
    expect(outcomes.refused).toBeGreaterThan(0);
    expect(outcomes.mounted + outcomes.refused).toBeGreaterThan(10);
  });
});

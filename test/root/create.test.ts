// Namespaces that outlive every process: persisted with bind mounts, seen by
// iproute2, joined, and removed again. Root only (the bind mount needs it).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Namespace, runIsolated } from '../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../helpers/leaks';

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
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

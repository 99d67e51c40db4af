// As root: `nsjs ls` restating util-linux's tests/ts/lsns (filedesc,
// netns-from-sock, netnsid, netnsid-for-persistent-namespaces, nsfs) and
// nsenter/enter-via-socket, with Debian's lsns 2.38 as the oracle where it
// has the behaviour (NETNSID, every NSFS mount). Namespaces are made and held
// by this test process itself (an fd, a socket, a bind mount), so the lister
// finds them among our fds and mounts.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { closeFd, native } from '../../../lib/core/native';
import { Namespace } from '../../../lib';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const bin = path.join(__dirname, '..', '..', '..', 'bin', 'nsjs.js');
const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20000, cwd: os.tmpdir() });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const ls = (...args: string[]) => run(process.execPath, [bin, 'ls', ...args]);
const lsns = (...args: string[]) => run('lsns', args);
const ip = (...args: string[]) => expect(run('ip', args)).toMatchObject({ status: 0 });

let before: Snapshot;
beforeEach(() => {
  before = snapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
});

test('a net namespace held only by an open fd: net 0 root (lsns/filedesc)', () => {
  const ns = Namespace.create('net');
  try {
    expect(ls('--noheadings', '--raw', '--output', 'TYPE,NPROCS,USER', '-Q', `NS == ${ns.inode}`)).toEqual({ status: 0, stdout: 'net 0 root\n', stderr: '' });
    const list = run(process.execPath, ['-e', `require(${JSON.stringify(path.join(__dirname, '..', '..', '..'))}).Namespace.list().then((l) => console.log(JSON.stringify(l.find((n) => n.inode === ${ns.inode}))))`]);
    // (a separate process: it finds ours through /proc/<our pid>/fd)
    expect(JSON.parse(list.stdout)).toMatchObject({ type: 'net', inode: ns.inode, nprocs: 0, pids: [], uid: 0, nsfs: [] });
    expect(JSON.parse(list.stdout).pid).toBeUndefined();
  } finally {
    ns.close();
  }
});

test('a net namespace held only by a socket: found through SIOCGSKNS, each column as lsns/netns-from-sock expects', () => {
  const ns = Namespace.create('net');
  const inode = ns.inode;
  const sock = native().socketIn(ns.fd, 1 /* AF_UNIX */, 1 /* SOCK_STREAM */, 0);
  ns.close();
  if (typeof sock !== 'number') throw new Error(`socketIn: ${sock.errno}`);
  try {
    const expected: Record<string, string> = { COMMAND: '', NPROCS: '0', NS: String(inode), PID: '', TYPE: 'net', USER: 'root' };
    for (const [col, value] of Object.entries(expected))
      expect([col, ls('--noheadings', '--raw', '--output', col, '--filter', `NS == ${inode}`)]).toEqual([col, { status: 0, stdout: `${value}\n`, stderr: '' }]);
    // nsenter/enter-via-socket: nsjs exec -t <us> -N <socket> enters that namespace
    expect(run(process.execPath, [bin, 'exec', '--target', String(process.pid), '--net-socket', String(sock), 'readlink', '/proc/self/ns/net'])).toEqual({ status: 0, stdout: `net:[${inode}]\n`, stderr: '' });
  } finally {
    closeFd(sock);
  }
});

describe('named net namespaces (ip netns)', () => {
  const name = `nsjs-lsns-${process.pid}`;
  const extra = path.join(os.tmpdir(), `nsjs-lsns-bind-${process.pid}`);
  // ip netns add makes /run/netns a mount point the first time
  const hadRunNetns = () => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === '/run/netns');
  let had = false;
  beforeEach(() => {
    had = hadRunNetns();
  });
  afterEach(() => {
    spawnSync('ip', ['link', 'del', 'nsjs-lsns-a']);
    spawnSync('umount', [extra]);
    fs.rmSync(extra, { force: true });
    spawnSync('ip', ['netns', 'del', name]);
    if (!had && hadRunNetns()) spawnSync('umount', ['/run/netns']);
  });

  test('held only by its mounts: NETNSID as a string filter, TYPE, NSFS (lsns/netnsid-for-persistent-namespaces), -P', () => {
    ip('netns', 'add', name);
    ip('netns', 'set', name, String(process.pid % 100000));
    const id = String(process.pid % 100000);
    for (const [col, value] of [['NETNSID', id], ['TYPE', 'net'], ['NSFS', `/run/netns/${name}`]])
      expect(ls('--raw', '--noheadings', '--filter', `NETNSID == '${id}'`, '--output', col)).toEqual({ status: 0, stdout: `${value}\n`, stderr: '' });
    expect(ls('-P', '-n', '-r', '-o', 'TYPE,NPROCS,NSFS').stdout).toContain(`net 0 /run/netns/${name}\n`);
  });

  test('with a process in it: NETNSID equals ip-link\'s link-netnsid, and every nsfs mount in NSFS, as lsns 2.38 (lsns/netnsid, lsns/nsfs)', async () => {
    ip('netns', 'add', name);
    fs.writeFileSync(extra, '');
    expect(run('mount', ['--bind', `/run/netns/${name}`, extra]).status).toBe(0);
    ip('link', 'add', 'nsjs-lsns-a', 'type', 'veth', 'peer', 'name', 'nsjs-lsns-b');
    ip('link', 'set', 'nsjs-lsns-b', 'netns', name);
    // as the ts test: ip-link's link-netnsid, or (where ip names the netns instead) ip netns list-id
    const linkId = (/link-netnsid (\d+)/.exec(run('ip', ['-o', 'link', 'show', 'dev', 'nsjs-lsns-a']).stdout) ??
      new RegExp(`nsid (\\d+) \\(iproute2 netns name: ${name}\\)`).exec(run('ip', ['netns', 'list-id']).stdout))![1];
    // a process in it, listed from here (the id is the one our namespace gives it)
    const holder = spawn('ip', ['netns', 'exec', name, 'sleep', '30'], { stdio: 'ignore' });
    try {
      const netns = fs.statSync(`/run/netns/${name}`).ino;
      for (let i = 0; i < 100 && fs.statSync(`/proc/${holder.pid}/ns/net`).ino !== netns; i++) await new Promise((r) => setTimeout(r, 10));
      const args = ['-n', '-o', 'NETNSID,NSFS', '--nowrap', '-t', 'net', '-p', String(holder.pid)];
      // 2.38 counts the hidden header in NETNSID's width, util-linux 2.40+ (and nsjs) not
      const theirs = lsns(...args).stdout.replace(/^ +/gm, '');
      const mine = ls(...args).stdout;
      expect(mine).toBe(theirs);
      expect(mine.trim().split(/\s+/)).toEqual([linkId, `/run/netns/${name},${extra}`]);
      const lines = ls('-n', '-o', 'NSFS', '-t', 'net', '-p', String(holder.pid)).stdout.split('\n');
      expect(lines.map((l) => l.trim()).filter(Boolean)).toEqual([`/run/netns/${name}`, extra]);
    } finally {
      holder.kill('SIGKILL');
      await once(holder, 'exit');
    }
  });
});

test('the positional <namespace>: one row per process in it (lsns/ioctl_ns reads NS,PNS,ONS through it)', async () => {
  const { spawnIsolated } = await import('../../../lib');
  const p = await spawnIsolated('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { namespaces: ['uts'], stdio: 'ignore' });
  try {
    const uts = fs.statSync(`/proc/${p.pid}/ns/uts`).ino;
    let rows = '';
    for (let i = 0; i < 10 && rows.split('\n').length < 4; i++) {
      rows = ls('-n', '-r', '-o', 'NS,PID', String(uts)).stdout;
      await new Promise((r) => setTimeout(r, 20));
    }
    const lines = rows.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(`${uts} ${p.pid}`);
    expect(ls('999999999')).toEqual({ status: 1, stdout: '', stderr: 'nsjs: not found namespace: 999999999\n' });
    expect(ls('-n', '-r', '-o', 'NS,TYPE', String(uts)).stdout).toBe(lsns('-n', '-r', '-o', 'NS,TYPE', String(uts)).stdout);
  } finally {
    p.kill('SIGKILL');
    await p.wait();
  }
});

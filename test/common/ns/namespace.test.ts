// Namespace against the real kernel, as root and as an ordinary user (CI:
// uid 65534). Where the kernel really treats the two differently, the test
// branches on the uid and asserts what each one must see.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Namespace, NsError, sys, type NamespaceType } from '../../../lib/index';
import { expectNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';

const TYPES: NamespaceType[] = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'];
const isRoot = process.getuid!() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls `fn`, expecting it to throw; returns what it threw. */
function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function expectNsError(err: unknown, code: string, syscall: string): void {
  expect(err).toBeInstanceOf(NsError);
  expect(err).toMatchObject({ name: 'NsError', code, syscall, errno: -(os.constants.errno as Record<string, number>)[code] });
}

function expectArgError(fn: () => unknown, ctor: typeof TypeError | typeof RangeError, code: string, name: string): void {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(ctor);
  expect(err.code).toBe(code);
  expect(err.message).toContain(name);
}

function ppidOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * `unshare -U -p -u --fork --kill-child sleep 30`: unshare itself enters the
 * new user and uts namespaces, its forked child (pid 1 of the new pid
 * namespace) execs sleep.
 */
interface Fixture {
  unshare: ChildProcess;
  exited: Promise<unknown>;
  /** The inner sleep, in our pid namespace's numbering. */
  inner: number;
}

async function startFixture(): Promise<Fixture> {
  const unshare = spawn('unshare', ['-U', '-p', '-u', '--fork', '--kill-child', 'sleep', '30'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => unshare.once('exit', (code, signal) => resolve({ code, signal })));
  const ourPid = fs.readlinkSync('/proc/self/ns/pid');
  for (let i = 0; i < 500; i++) {
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        if (ppidOf(Number(name)) !== unshare.pid) continue;
        // Forked into the new pid namespace and exec'd sleep: stable from here on.
        if (fs.readlinkSync(`/proc/${name}/ns/pid`) === ourPid) continue;
        if (fs.readFileSync(`/proc/${name}/comm`, 'latin1').trim() !== 'sleep') continue;
        return { unshare, exited, inner: Number(name) };
      } catch {
        // raced with its exec or exit; look again
      }
    }
    if (unshare.exitCode !== null || unshare.signalCode !== null) break;
    await sleep(10);
  }
  unshare.kill('SIGKILL');
  await exited;
  throw new Error('unshare -U -p -u --fork sleep 30 did not start its inner process');
}

async function stopFixture(f: Fixture): Promise<void> {
  try {
    process.kill(f.inner, 'SIGKILL');
  } catch {
    // already gone
  }
  f.unshare.kill('SIGKILL');
  await f.exited;
}

/** Root only: a `sleep` running as uid 65534, our child. */
async function startOtherUser(): Promise<{ pid: number; stop: () => Promise<void> }> {
  const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '30'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  for (let i = 0; i < 500; i++) {
    try {
      if (fs.readFileSync(`/proc/${child.pid}/comm`, 'latin1').trim() === 'sleep') return { pid: child.pid!, stop };
    } catch {
      // not started yet
    }
    await sleep(10);
  }
  await stop();
  throw new Error('setpriv ... sleep 30 did not start');
}

let before: Snapshot;
let opened: Namespace[];
/** Tracks a Namespace so that it is closed even when an assertion fails. */
function track<T extends Namespace>(ns: T): T {
  opened.push(ns);
  return ns;
}

beforeEach(() => {
  opened = [];
  before = snapshot();
});

afterEach(async () => {
  for (const ns of opened) ns.close();
  await expectNoLeaks(before);
});

describe('Namespace.current, of, open: identity', () => {
  test.each(TYPES)('current(%s): type, inode, device and toString match /proc/self/ns', (type) => {
    const ns = track(Namespace.current(type));
    const st = fs.statSync(`/proc/self/ns/${type}`);
    expect(ns.type).toBe(type);
    expect(ns.inode).toBe(st.ino);
    expect(ns.device).toBe(st.dev);
    expect(ns.toString()).toBe(fs.readlinkSync(`/proc/self/ns/${type}`));
    expect(String(ns)).toBe(`${type}:[${st.ino}]`);
    expect(ns.fd).toBeGreaterThanOrEqual(0);
    expect(fs.readlinkSync(`/proc/self/fd/${ns.fd}`)).toBe(ns.toString());
  });

  test('of(our pid) and open(path) equal current(); different types are not equal', () => {
    const net = track(Namespace.current('net'));
    expect(net.equals(track(Namespace.of(process.pid, 'net')))).toBe(true);
    expect(net.equals(track(Namespace.open('/proc/self/ns/net')))).toBe(true);
    expect(net.equals(track(Namespace.open(`/proc/${process.pid}/ns/net`, 'net')))).toBe(true);
    expect(net.equals(track(Namespace.current('uts')))).toBe(false);
    expect(net.equals({} as Namespace)).toBe(false);
  });

  test('open() without a type reads it with NS_GET_NSTYPE', () => {
    for (const type of TYPES) expect(track(Namespace.open(`/proc/self/ns/${type}`)).type).toBe(type);
  });

  test("of() another user's process: allowed to root, EACCES for an ordinary user", async () => {
    if (isRoot) {
      // Root may inspect an unprivileged process (its capabilities are a
      // subset of ours). Not pid 1: this machine's init may hold
      // capabilities we lack, and then even root gets EACCES.
      const other = await startOtherUser();
      try {
        const ns = track(Namespace.of(other.pid, 'net'));
        expect(ns.inode).toBe(fs.statSync(`/proc/${other.pid}/ns/net`).ino);
        expect(ns.equals(track(Namespace.current('net')))).toBe(true);
      } finally {
        await other.stop();
      }
    } else {
      // /proc/1 belongs to root: ptrace_may_access() refuses its ns links.
      expect(fs.statSync('/proc/1').uid).toBe(0);
      const err = thrown(() => Namespace.of(1, 'net'));
      expectNsError(err, 'EACCES', 'open');
      expect(err.path).toBe('/proc/1/ns/net');
    }
  });

  test('id(): NS_GET_ID is the same for the same namespace, distinct for distinct ones', () => {
    const ids = TYPES.map((t) => track(Namespace.current(t)).id());
    for (const id of ids) expect(Number.isSafeInteger(id) && id > 0).toBe(true);
    expect(new Set(ids).size).toBe(TYPES.length);
    expect(track(Namespace.open('/proc/self/ns/net')).id()).toBe(ids[TYPES.indexOf('net')]);
  });
});

describe('Namespace errors provoked for real', () => {
  test('open() of a file that is not a namespace: ENOTTY, saying so, and no fd left open', () => {
    const err = thrown(() => Namespace.open('/etc/hostname'));
    expectNsError(err, 'ENOTTY', 'ioctl');
    expect(err.path).toBe('/etc/hostname');
    expect(err.message).toMatch(/not a namespace/);
  });

  test('open() of a missing path: ENOENT naming it', () => {
    const missing = path.join(os.tmpdir(), `nsjs-no-such-${process.pid}`, 'net');
    const err = thrown(() => Namespace.open(missing));
    expectNsError(err, 'ENOENT', 'open');
    expect(err.path).toBe(missing);
  });

  test('open() with a type that does not match: EINVAL naming both', () => {
    const err = thrown(() => Namespace.open('/proc/self/ns/net', 'uts'));
    expectNsError(err, 'EINVAL', 'open');
    expect(err.message).toMatch(/net namespace, not uts/);
  });

  test('of() a pid that does not exist: ENOENT', () => {
    // pid_max is at most 2^22; this pid cannot exist.
    expectNsError(thrown(() => Namespace.of(0x3fffffff, 'net')), 'ENOENT', 'open');
  });

  test('parent() of our pid and user namespaces: EPERM (top of our scope)', () => {
    for (const type of ['pid', 'user'] as const) {
      const err = thrown(() => track(Namespace.current(type)).parent());
      expectNsError(err, 'EPERM', 'ioctl');
      expect(err.message).toMatch(/top of our scope/);
    }
  });

  test('parent() of a uts namespace: EINVAL, pid and user only', () => {
    const err = thrown(() => track(Namespace.current('uts')).parent());
    expectNsError(err, 'EINVAL', 'ioctl');
    expect(err.message).toMatch(/only for pid and user/);
  });

  test('ownerUid() of a non-user namespace: EINVAL; of ours: a uid', () => {
    for (const type of TYPES.filter((t) => t !== 'user'))
      expectNsError(thrown(() => track(Namespace.current(type)).ownerUid()), 'EINVAL', 'ioctl');
    expect(Number.isInteger(track(Namespace.current('user')).ownerUid())).toBe(true);
  });

  test('owner(): our namespaces are owned by our user namespace, which has no owner in scope', () => {
    const user = track(Namespace.current('user'));
    for (const type of TYPES.filter((t) => t !== 'user'))
      expect(track(track(Namespace.current(type)).owner()).equals(user)).toBe(true);
    expectNsError(thrown(() => user.owner()), 'EPERM', 'ioctl');
  });

  test('fromFd(): takes over an nsfs fd; a regular file is ENOTTY and stays the caller\'s', () => {
    const fd = fs.openSync('/proc/self/ns/uts', 'r');
    const ns = track(Namespace.fromFd(fd));
    expect(ns.type).toBe('uts');
    expect(ns.fd).toBe(fd);
    expect(ns.equals(track(Namespace.current('uts')))).toBe(true);
    ns.close();
    expect(() => fs.fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));

    const file = fs.openSync('/etc/hostname', 'r');
    try {
      const err = thrown(() => Namespace.fromFd(file));
      expectNsError(err, 'ENOTTY', 'ioctl');
      expect(err.message).toMatch(/not a namespace/);
      expect(fs.fstatSync(file).isFile()).toBe(true);
    } finally {
      fs.closeSync(file);
    }
  });

  test('bad arguments throw TypeError/RangeError naming the argument, before any syscall', () => {
    const T = 'ERR_INVALID_ARG_TYPE';
    const V = 'ERR_INVALID_ARG_VALUE';
    const R = 'ERR_OUT_OF_RANGE';
    expectArgError(() => Namespace.current(1 as never), TypeError, T, 'type');
    expectArgError(() => Namespace.current('foo' as never), TypeError, V, 'type');
    expectArgError(() => Namespace.current(undefined as never), TypeError, T, 'type');
    expectArgError(() => Namespace.of('1' as never, 'net'), TypeError, T, 'pid');
    // A pid of 0 or -1 would name ourselves or nothing in /proc; 1.5 is no pid.
    for (const pid of [0, -1, 1.5, NaN, 2 ** 40]) expectArgError(() => Namespace.of(pid, 'net'), RangeError, R, 'pid');
    expectArgError(() => Namespace.of(process.pid, 'foo' as never), TypeError, V, 'type');
    expectArgError(() => Namespace.open(42 as never), TypeError, T, 'path');
    expectArgError(() => Namespace.open(''), TypeError, V, 'path');
    // Had this reached open(2), C would have seen "/etc/hostname" and ENOTTY.
    expectArgError(() => Namespace.open('/etc/hostname\0/x'), TypeError, V, 'path');
    expectArgError(() => Namespace.open('/proc/self/ns/net', 'foo' as never), TypeError, V, 'type');
    expectArgError(() => Namespace.open('/proc/self/ns/net', 7 as never), TypeError, T, 'type');
    expectArgError(() => Namespace.fromFd('3' as never), TypeError, T, 'fd');
    expectArgError(() => Namespace.fromFd(-1), RangeError, R, 'fd');
    const ns = track(Namespace.current('uts'));
    expectArgError(() => ns.persist(5 as never), TypeError, T, 'path');
    expectArgError(() => ns.persist('/tmp/x\0y'), TypeError, V, 'path');
    expectArgError(() => Namespace.unpersist(null as never), TypeError, T, 'path');
  });
});

describe('close and dispose', () => {
  test('close(): fd released, methods that need it throw EBADF, a second close is fine', () => {
    const ns = Namespace.current('user');
    const { fd, inode } = ns;
    ns.close();
    expect(ns.fd).toBe(-1);
    let target: string | undefined;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // closed and not reused
    }
    expect(target).not.toBe(`user:[${inode}]`);
    for (const call of [() => ns.parent(), () => ns.owner(), () => ns.ownerUid(), () => ns.id(), () => ns.persist('/nonexistent/x')]) {
      const err = thrown(call);
      expectNsError(err, 'EBADF', 'ioctl');
      expect(err.message).toMatch(/closed/);
    }
    expect(() => ns.close()).not.toThrow();
    // Identity survives the fd.
    expect(ns.toString()).toBe(`user:[${inode}]`);
    expect(ns.equals(track(Namespace.current('user')))).toBe(true);
  });

  test('sys.close releases an fd sys made, and says EBADF for one that is not open', () => {
    const fd = sys.ioctlNs(track(Namespace.current('net')).fd, sys.NS_GET_USERNS);
    expect(fs.readlinkSync(`/proc/self/fd/${fd}`)).toMatch(/^user:\[/);
    sys.close(fd);
    expect(() => fs.readlinkSync(`/proc/self/fd/${fd}`)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expectNsError(thrown(() => sys.close(fd)), 'EBADF', 'close');
    expect(() => sys.close(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  test('`using` closes the fd at the end of the block', () => {
    let fd: number;
    let name: string;
    {
      using ns = Namespace.current('net');
      fd = ns.fd;
      name = ns.toString();
      expect(fs.readlinkSync(`/proc/self/fd/${fd}`)).toBe(name);
    }
    let target: string | undefined;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // closed
    }
    expect(target).not.toBe(name);
  });
});

describe('namespaces made by a child (unshare -U -p -u --fork)', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    if (f) await stopFixture(f);
    f = undefined;
  });

  test('parent, owner and ownerUid relations', async () => {
    f = await startFixture();
    const ourPid = track(Namespace.current('pid'));
    const ourUser = track(Namespace.current('user'));
    const pid = track(Namespace.of(f.inner, 'pid'));
    const user = track(Namespace.of(f.inner, 'user'));
    const uts = track(Namespace.of(f.inner, 'uts'));
    expect(pid.equals(ourPid)).toBe(false);
    expect(user.equals(ourUser)).toBe(false);
    expect(uts.equals(track(Namespace.current('uts')))).toBe(false);
    // unshare itself entered the new user and uts namespaces, not the pid one.
    expect(track(Namespace.of(f.unshare.pid!, 'user')).equals(user)).toBe(true);
    expect(track(Namespace.of(f.unshare.pid!, 'pid')).equals(ourPid)).toBe(true);

    expect(track(pid.parent()).equals(ourPid)).toBe(true);
    expect(track(user.parent()).equals(ourUser)).toBe(true);
    expect(track(user.owner()).equals(ourUser)).toBe(true);
    expect(track(uts.owner()).equals(user)).toBe(true);
    expect(track(pid.owner()).equals(user)).toBe(true);
    // Namespaces the child did not make are still ours.
    expect(track(track(Namespace.of(f.inner, 'net')).owner()).equals(ourUser)).toBe(true);
    expect(user.ownerUid()).toBe(process.getuid!());
    expectNsError(thrown(() => uts.parent()), 'EINVAL', 'ioctl');
    expectNsError(thrown(() => uts.ownerUid()), 'EINVAL', 'ioctl');

    expect(pid.id()).not.toBe(ourPid.id());
    expect(uts.id()).toBe(track(Namespace.of(f.unshare.pid!, 'uts')).id());
  });

  if (isRoot) {
    test('persist -> open -> unpersist round trip; the namespace outlives its processes', async () => {
      f = await startFixture();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-persist-'));
      const file = path.join(dir, 'uts');
      try {
        const uts = track(Namespace.of(f.inner, 'uts'));
        uts.persist(file);
        expect(fs.readFileSync('/proc/self/mountinfo', 'latin1')).toContain(` ${file} `);
        await stopFixture(f);
        f = undefined;
        const again = track(Namespace.open(file, 'uts'));
        expect(again.equals(uts)).toBe(true);
        expect(again.toString()).toBe(uts.toString());
        Namespace.unpersist(file);
        expect(fs.existsSync(file)).toBe(false);
        expect(fs.readFileSync('/proc/self/mountinfo', 'latin1')).not.toContain(` ${file} `);
        // Nothing is mounted there any more: umount2 says EINVAL (or ENOENT: no file).
        expectNsError(thrown(() => Namespace.unpersist(file)), 'ENOENT', 'umount2');
      } finally {
        try {
          execFileSync('umount', ['-l', file], { stdio: 'ignore' });
        } catch {
          // not mounted: the expected case
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  } else {
    test('persist as an ordinary user: EPERM, and no file left behind', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsjs-persist-'));
      const file = path.join(dir, 'net');
      try {
        const err = thrown(() => track(Namespace.current('net')).persist(file));
        expectNsError(err, 'EPERM', 'mount');
        expect(err.path).toBe(file);
        expect(fs.readdirSync(dir)).toEqual([]);
        expectNsError(thrown(() => Namespace.unpersist(file)), 'ENOENT', 'umount2');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('Namespace.list() against lsns -J', () => {
  interface Lsns {
    ns: number;
    type: string;
    nprocs: number;
    pid: number;
    ppid: number;
    command: string;
    uid: number;
    pns: number;
    ons: number;
  }
  // With the PPID column lsns nests a namespace whose first process is a
  // child of another's under it ("children"): flatten the tree.
  const flatten = (list: (Lsns & { children?: Lsns[] })[]): Lsns[] =>
    list.flatMap(({ children, ...l }) => [l, ...flatten(children ?? [])]);
  const lsns = (): Lsns[] =>
    flatten(
      JSON.parse(execFileSync('lsns', ['-J', '-o', 'NS,TYPE,NPROCS,PID,PPID,COMMAND,UID,PNS,ONS'], { encoding: 'utf8' }))
        .namespaces,
    );

  let f: Fixture | undefined;
  afterEach(async () => {
    if (f) await stopFixture(f);
    f = undefined;
  });

  test('same namespaces, types, relations; same counts and details for a fixture', async () => {
    f = await startFixture();
    const mine = await Namespace.list();
    const theirs = lsns();
    const byInode = new Map(mine.map((i) => [i.inode, i]));

    // Well formed, and sorted by inode as lsns sorts.
    expect(mine.map((i) => i.inode)).toEqual([...mine.map((i) => i.inode)].sort((a, b) => a - b));
    for (const info of mine) {
      expect(info.nprocs).toBe(info.pids.length);
      expect(info.pids).toEqual([...info.pids].sort((a, b) => a - b));
      expect(info.pid).toBe(info.pids[0]);
      expect(TYPES).toContain(info.type);
    }

    // Processes come and go between the two scans; namespaces seen by both
    // must agree on type and relations (a property of the namespace).
    let common = 0;
    for (const l of theirs) {
      const m = byInode.get(l.ns);
      if (!m) continue;
      common++;
      expect({ ns: l.ns, type: m.type }).toEqual({ ns: l.ns, type: l.type });
      // list() leaves a relation out when every process it saw in the
      // namespace is gone before it asks (one that joined after its scan
      // keeps the namespace alive for lsns): that is its documented answer.
      const someAlive = m.pids.some((p) => fs.existsSync(`/proc/${p}`));
      if (l.pns && (m.parent !== undefined || someAlive)) expect({ ns: l.ns, parent: m.parent }).toEqual({ ns: l.ns, parent: l.pns });
      if (l.ons && (m.owner !== undefined || someAlive)) expect({ ns: l.ns, owner: m.owner }).toEqual({ ns: l.ns, owner: l.ons });
    }
    // Ours and the fixture's are stable across both scans.
    const stable = [
      ...TYPES.map((t) => fs.statSync(`/proc/self/ns/${t}`).ino),
      ...(['user', 'pid', 'uts'] as const).map((t) => fs.statSync(`/proc/${f!.inner}/ns/${t}`).ino),
    ];
    for (const ino of stable) {
      expect(byInode.has(ino)).toBe(true);
      expect(theirs.some((l) => l.ns === ino)).toBe(true);
    }
    expect(common).toBeGreaterThanOrEqual(new Set(stable).size);

    // The fixture's namespaces hold only its processes: every detail matches.
    for (const type of ['user', 'pid', 'uts'] as const) {
      const ino = fs.statSync(`/proc/${f.inner}/ns/${type}`).ino;
      const m = byInode.get(ino)!;
      const l = theirs.find((x) => x.ns === ino)!;
      expect({ type: m.type, nprocs: m.nprocs, pid: m.pid, ppid: m.ppid, command: m.command, uid: m.uid }).toEqual({
        type: l.type,
        nprocs: l.nprocs,
        pid: l.pid,
        ppid: l.ppid,
        command: l.command,
        uid: l.uid,
      });
      expect(m.parent).toBe(l.pns || undefined);
      expect(m.owner).toBe(l.ons || undefined);
    }
    const ourUser = fs.statSync('/proc/self/ns/user').ino;
    const ourPid = fs.statSync('/proc/self/ns/pid').ino;
    const user = byInode.get(fs.statSync(`/proc/${f.inner}/ns/user`).ino)!;
    const pid = byInode.get(fs.statSync(`/proc/${f.inner}/ns/pid`).ino)!;
    const uts = byInode.get(fs.statSync(`/proc/${f.inner}/ns/uts`).ino)!;
    expect(user).toMatchObject({ nprocs: 2, pids: [f.unshare.pid, f.inner].sort((a, b) => a! - b!), parent: ourUser, owner: ourUser });
    expect(uts).toMatchObject({ nprocs: 2, owner: user.inode });
    expect(uts.parent).toBeUndefined();
    expect(pid).toMatchObject({ nprocs: 1, pids: [f.inner], pid: f.inner, ppid: f.unshare.pid, command: 'sleep 30', parent: ourPid, owner: user.inode });
    expect(pid.uid).toBe(process.getuid!());
    expect(user.command).toBe('unshare -U -p -u --fork --kill-child sleep 30');
  });

  test('lists what we may inspect: root sees other users\' processes, an ordinary user only its own', async () => {
    const ourNet = fs.statSync('/proc/self/ns/net').ino;
    if (isRoot) {
      const other = await startOtherUser();
      try {
        const net = (await Namespace.list()).find((i) => i.inode === ourNet)!;
        expect(net.pids).toEqual(expect.arrayContaining([process.pid, other.pid]));
      } finally {
        await other.stop();
      }
    } else {
      const mine = await Namespace.list();
      expect(mine.find((i) => i.inode === ourNet)?.pids).toContain(process.pid);
      const uid = process.getuid!();
      for (const pid of new Set(mine.flatMap((i) => i.pids))) {
        let owner: number;
        try {
          owner = fs.statSync(`/proc/${pid}`).uid;
        } catch {
          continue; // exited since
        }
        expect({ pid, owner }).toEqual({ pid, owner: uid });
      }
      expect(mine.some((i) => i.pids.includes(1))).toBe(false);
    }
  });

  test('tolerates processes that exit during the scan', async () => {
    const kids: Promise<unknown>[] = [];
    const scans: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      const c = spawn('true', { stdio: 'ignore' });
      kids.push(new Promise((r) => c.once('exit', r)));
      scans.push(Namespace.list());
    }
    const results = await Promise.all(scans);
    await Promise.all(kids);
    for (const r of results) expect((r as unknown[]).length).toBeGreaterThan(0);
  });
});

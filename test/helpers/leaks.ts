// What a test must not leave behind: fds, children (zombies or running),
// mounts in our namespace, network links, cgroups. Take a snapshot before,
// compare after.
import * as fs from 'node:fs';

export interface Snapshot {
  fds: Map<string, string>;
  mounts: string[];
  links: string[];
  cgroups: string[];
}

function fdTable(): Map<string, string> {
  const out = new Map<string, string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      out.set(fd, fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the directory handle readdir used, closed already
    }
  }
  return out;
}

/** Children of this process, with their state ('Z' for a zombie). */
export function children(): { pid: number; state: string; comm: string }[] {
  const out: { pid: number; state: string; comm: string }[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(close + 2).split(' ');
    if (Number(ppid) === process.pid) out.push({ pid: Number(name), state, comm: stat.slice(stat.indexOf('(') + 1, close) });
  }
  return out;
}

export function links(): string[] {
  return fs
    .readFileSync('/proc/net/dev', 'latin1')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0].trim())
    .filter(Boolean)
    .sort();
}

function mounts(): string[] {
  // Mount ids change nothing for leak purposes; compare mount point and source.
  return fs
    .readFileSync('/proc/self/mountinfo', 'latin1')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ').slice(4, 5).concat(l.split(' - ')[1] ?? '').join(' '))
    .sort();
}

/**
 * The cgroups nsjs made for this process (lib/cgroup/cgroup.ts names them
 * nsjs-PID-N), in every mounted hierarchy, v1 and v2, at any depth.
 */
export function cgroups(): string[] {
  const prefix = `nsjs-${process.pid}-`;
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (e.name.startsWith(prefix)) out.push(`${dir}/${e.name}`);
      if (depth < 8) walk(`${dir}/${e.name}`, depth + 1);
    }
  };
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'latin1').split('\n')) {
    const fstype = line.split(' - ')[1]?.split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') walk(line.split(' ')[4], 0);
  }
  return out.sort();
}

export function snapshot(): Snapshot {
  return { fds: fdTable(), mounts: mounts(), links: links(), cgroups: cgroups() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The sealed copies of nsjs-init and nsjs-pid1 (lib/core/native.ts initExecFd): each made on first use, then open for the life of the process. */
const SEALED_INIT = '/memfd:nsjs-init (deleted)';

/** The fds of `after` that `before` did not have, less the sealed copies when this is where they were made. */
export function newFds(before: Snapshot, after: Snapshot): [string, string][] {
  const extra = [...after.fds].filter(([fd, target]) => before.fds.get(fd) !== target);
  const copies = (s: Snapshot) => [...s.fds.values()].filter((t) => t === SEALED_INIT).length;
  if (copies(after) > copies(before) && copies(after) <= 2) return extra.filter(([, target]) => target !== SEALED_INIT);
  return extra;
}

/**
 * Fails the test if anything leaked since `before`. Children get a moment to
 * be reaped, since a wait() resolves on the loop turn after exit.
 */
export async function expectNoLeaks(before: Snapshot): Promise<void> {
  let kids = children();
  for (let i = 0; i < 50 && kids.length > 0; i++) {
    await sleep(20);
    kids = children();
  }
  const after = snapshot();
  const extraFds = newFds(before, after);
  expect({ fds: extraFds, children: kids }).toEqual({ fds: [], children: [] });
  expect(after.mounts).toEqual(before.mounts);
  expect(after.links).toEqual(before.links);
  expect(after.cgroups).toEqual(before.cgroups);
}

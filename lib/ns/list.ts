// Namespace.list(): every namespace of every process in /proc, the way
// lsns(8) from util-linux collects them (sys-utils/lsns.c, read_process):
// one entry per process (thread-group leaders, the numeric entries of /proc),
// its namespaces by the inode of /proc/<pid>/ns/<type>, grouped by inode.
// Processes that vanish mid-scan (ENOENT, ESRCH) or that we may not inspect
// (EACCES, EPERM: another user's process for an unprivileged caller) are
// skipped, as lsns skips them, so nprocs counts only what we can see.
import * as fs from 'node:fs';

import * as C from '../core/constants';
import { closeFd, native } from '../core/native';
import { NAMESPACE_TYPES, type NamespaceType } from '../core/nstypes';

/** What `Namespace.list()` reports per namespace, as lsns does. */
export interface NamespaceInfo {
  /** The namespace type. */
  type: NamespaceType;
  /** The namespace id, as in `net:[4026531840]`. */
  inode: number;
  /** How many processes are in it. */
  nprocs: number;
  /** Those processes' pids, ascending. */
  pids: number[];
  /** The lowest of them, whose details follow. */
  pid: number;
  /** `pid`'s parent, when readable. */
  ppid?: number;
  /** Owner of `/proc/<pid>` (its effective uid; 0 if not dumpable), as lsns's UID column. */
  uid: number;
  /** `pid`'s command line (or name, for kernel threads). */
  command: string;
  /** The parent namespace's inode (pid and user only), where the kernel tells. */
  parent?: number;
  /** The owning user namespace's inode, where the kernel tells. */
  owner?: number;
}

/** Errors that mean "this process is gone or not ours to look at": skip it. */
const SKIP = new Set(['ENOENT', 'ESRCH', 'EACCES', 'EPERM']);

function skippable(err: unknown): boolean {
  return SKIP.has((err as NodeJS.ErrnoException).code ?? '');
}

interface Proc {
  pid: number;
  ppid: number;
  uid: number;
  /** Inode of each namespace we could stat. */
  ns: Partial<Record<NamespaceType, number>>;
}

/** lsns's proc_get_command: at most BUFSIZ (8192) bytes, NULs to spaces, last byte dropped. */
async function readCommand(pid: number): Promise<string> {
  for (const name of ['cmdline', 'comm']) {
    let buf: Buffer;
    try {
      buf = await readUpTo(`/proc/${pid}/${name}`, 8192);
    } catch (err) {
      if (skippable(err)) continue;
      throw err;
    }
    if (buf.length === 0) continue; // kernel thread or zombie: no cmdline
    for (let i = 0; i < buf.length; i++) if (buf[i] === 0) buf[i] = 0x20;
    return buf.subarray(0, buf.length - 1).toString('utf8');
  }
  return '';
}

async function readUpTo(file: string, max: number): Promise<Buffer> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(max);
    let len = 0;
    while (len < max) {
      const { bytesRead } = await handle.read(buf, len, max - len, null);
      if (bytesRead === 0) break;
      len += bytesRead;
    }
    return buf.subarray(0, len);
  } finally {
    await handle.close();
  }
}

async function readProcess(pid: number): Promise<Proc | undefined> {
  let uid: number;
  let ppid: number;
  try {
    // lsns takes the owner of /proc/<pid> (the effective uid, or root for a
    // non-dumpable process), not the real uid from status.
    uid = (await fs.promises.stat(`/proc/${pid}`)).uid;
    const stat = await fs.promises.readFile(`/proc/${pid}/stat`, 'latin1');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch (err) {
    if (skippable(err)) return undefined;
    throw err;
  }
  const ns: Proc['ns'] = {};
  await Promise.all(
    NAMESPACE_TYPES.map(async (type) => {
      try {
        ns[type] = (await fs.promises.stat(`/proc/${pid}/ns/${type}`)).ino;
      } catch (err) {
        if (!skippable(err)) throw err;
      }
    }),
  );
  return { pid, ppid, uid, ns };
}

/**
 * Inode of the namespace that `request` (NS_GET_PARENT or NS_GET_USERNS)
 * leads to from namespace `inode`, reached through one of `pids`; undefined
 * where the kernel will not tell (EPERM at the top of our scope, EINVAL for
 * a parent of a type other than pid and user) or every process has gone.
 */
function related(type: NamespaceType, inode: number, pids: number[], request: number): number | undefined {
  const n = native();
  for (const pid of pids) {
    const fd = n.openNs(`/proc/${pid}/ns/${type}`);
    if (fd < 0) continue; // gone, or no longer ours to open: try the next one
    try {
      // The process may have moved to another namespace since the scan.
      if (fs.fstatSync(fd).ino !== inode) continue;
      const rel = n.ioctlNs(fd, request);
      if (rel < 0) return undefined;
      try {
        return fs.fstatSync(rel).ino;
      } finally {
        closeFd(rel);
      }
    } finally {
      closeFd(fd);
    }
  }
  return undefined;
}

/** Every namespace visible in /proc, sorted by inode as lsns sorts them. */
export async function listNamespaces(): Promise<NamespaceInfo[]> {
  const pids = (await fs.promises.readdir('/proc'))
    .filter((name) => /^[1-9]\d*$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  // In batches, so that a host with thousands of processes does not queue
  // tens of thousands of reads on the libuv pool at once.
  const procs: Proc[] = [];
  for (let i = 0; i < pids.length; i += 64) {
    for (const p of await Promise.all(pids.slice(i, i + 64).map(readProcess))) if (p) procs.push(p);
  }
  const byPid = new Map(procs.map((p) => [p.pid, p]));

  // lsns keys namespaces by inode alone; so do we (type is the first seen).
  const found = new Map<number, { type: NamespaceType; pids: number[] }>();
  for (const proc of procs) {
    for (const type of NAMESPACE_TYPES) {
      const inode = proc.ns[type];
      if (inode === undefined) continue;
      let entry = found.get(inode);
      if (!entry) found.set(inode, (entry = { type, pids: [] }));
      entry.pids.push(proc.pid);
    }
  }

  const inodes = [...found.keys()].sort((a, b) => a - b);
  const commands = new Map<number, Promise<string>>();
  const commandOf = (pid: number) => {
    let c = commands.get(pid);
    if (!c) commands.set(pid, (c = readCommand(pid)));
    return c;
  };
  return Promise.all(
    inodes.map(async (inode): Promise<NamespaceInfo> => {
      const { type, pids: members } = found.get(inode)!;
      const lowest = byPid.get(members[0])!;
      const info: NamespaceInfo = {
        type,
        inode,
        nprocs: members.length,
        pids: members,
        pid: lowest.pid,
        ppid: lowest.ppid,
        uid: lowest.uid,
        command: await commandOf(lowest.pid),
      };
      if (type === 'pid' || type === 'user') {
        const parent = related(type, inode, members, C.NS_GET_PARENT);
        if (parent !== undefined) info.parent = parent;
      }
      const owner = related(type, inode, members, C.NS_GET_USERNS);
      if (owner !== undefined) info.owner = owner;
      return info;
    }),
  );
}

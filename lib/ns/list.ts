// Namespace.list(): every namespace of every process in /proc, the way
// lsns(8) from util-linux collects them (sys-utils/lsns.c, read_process):
// one entry per process (thread-group leaders, the numeric entries of /proc),
// its namespaces by the inode of /proc/<pid>/ns/<type>, grouped by inode.
// Then, as lsns 2.41, those that only something else holds: an open fd of a
// process (read_opened_namespaces), a socket's net namespace (SIOCGSKNS
// through pidfd_getfd) and an nsfs bind mount of ours
// (read_persistent_namespaces), each with the owner and parent namespaces
// it leads to; they have no process (nprocs 0).
// Processes that vanish mid-scan (ENOENT, ESRCH) or that we may not inspect
// (EACCES, EPERM: another user's process for an unprivileged caller) are
// skipped, as lsns skips them, so nprocs counts only what we can see.
import * as fs from 'node:fs';

import * as C from '../core/constants';
import { closeFd, native } from '../core/native';
import { NAMESPACE_FLAGS, NAMESPACE_TYPES, type NamespaceType } from '../core/nstypes';

/** What `Namespace.list()` reports per namespace, as lsns does. */
export interface NamespaceInfo {
  /** The namespace type. */
  type: NamespaceType;
  /** The namespace id, as in `net:[4026531840]`. */
  inode: number;
  /** How many processes are in it: 0 for one held only by an fd, a socket or a bind mount. */
  nprocs: number;
  /** Those processes' pids, ascending. */
  pids: number[];
  /** The lowest of them, whose details follow; absent when no process is in it. */
  pid?: number;
  /** `pid`'s parent, when readable. */
  ppid?: number;
  /**
   * Owner of `/proc/<pid>` (its effective uid; 0 if not dumpable), as lsns's
   * UID column. Without a process: `NS_GET_OWNER_UID`, which only a user
   * namespace answers (0 for the other types, as lsns shows them).
   */
  uid: number;
  /** `pid`'s command line (or name, for kernel threads); absent without a process. */
  command?: string;
  /** The parent namespace's inode (pid and user only), where the kernel tells. */
  parent?: number;
  /** The owning user namespace's inode, where the kernel tells. */
  owner?: number;
  /** Every nsfs mount of it in our mount namespace (`/run/netns/blue` for `ip netns add blue`), in mount order. */
  nsfs: string[];
  /** net only: the id our net namespace gives it (`ip link`'s link-netnsid), -1 for none assigned; absent where the kernel would not tell. */
  netnsid?: number;
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

/** The inode that `request` (NS_GET_PARENT, NS_GET_USERNS) leads to from `fd`, and an fd of it to close; undefined where the kernel will not tell. */
function relatedFd(fd: number, request: number): { inode: number; fd: number } | undefined {
  const rel = native().ioctlNs(fd, request);
  if (rel < 0) return undefined;
  return { inode: fs.fstatSync(rel).ino, fd: rel };
}

/** nsfs mount points by namespace inode, from our mountinfo, in mount order, without repeats. */
export function nsfsMounts(): Map<number, string[]> {
  const out = new Map<number, string[]>();
  let text = '';
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post?.startsWith('nsfs ')) continue;
    const f = pre.split(' ');
    const m = /\[(\d+)\]$/.exec(f[3]);
    if (!m) continue;
    const target = f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const list = out.get(Number(m[1])) ?? [];
    if (!list.includes(target)) list.push(target);
    out.set(Number(m[1]), list);
  }
  return out;
}

const TYPE_OF_FLAG = new Map(NAMESPACE_TYPES.map((t) => [NAMESPACE_FLAGS[t], t]));

/** A namespace nothing of ours is in, found through an fd of it. */
interface Held {
  type: NamespaceType;
  uid: number;
  parent?: number;
  owner?: number;
  netnsid?: number;
}

/**
 * lsns's add_namespace_for_nsfd: the namespace behind `fd` (taken over:
 * closed here), and recursively the owner and parent namespaces it leads to,
 * each added to `held` unless already known.
 */
function addHeld(fd: number, known: (inode: number) => boolean, held: Map<number, Held>): void {
  try {
    const inode = fs.fstatSync(fd).ino;
    if (known(inode) || held.has(inode)) return;
    const n = native();
    const type = TYPE_OF_FLAG.get(n.ioctlNs(fd, C.NS_GET_NSTYPE));
    if (!type) return;
    const uid = type === 'user' ? n.ioctlNs(fd, C.NS_GET_OWNER_UID) : 0;
    const entry: Held = { type, uid: uid >= 0 ? uid : 0 };
    if (type === 'net') {
      const id = n.netnsId(fd);
      if (typeof id === 'number') entry.netnsid = id;
    }
    held.set(inode, entry);
    for (const [request, key] of [[C.NS_GET_USERNS, 'owner'], [C.NS_GET_PARENT, 'parent']] as const) {
      if (key === 'parent' && type !== 'pid' && type !== 'user') continue;
      const rel = relatedFd(fd, request);
      if (!rel) continue;
      entry[key] = rel.inode;
      addHeld(rel.fd, known, held);
    }
  } finally {
    closeFd(fd);
  }
}

/** The nsfs device (st_dev of every namespace file), to tell namespace fds among a process's fds. */
function nsfsDevice(): number | undefined {
  for (const type of NAMESPACE_TYPES) {
    try {
      return fs.statSync(`/proc/self/ns/${type}`).dev;
    } catch {
      // this kernel lacks the type: the next
    }
  }
  return undefined;
}

/** The fds of `pid` that are namespaces (nsfs) or sockets, as lsns's read_opened_namespaces looks at them. */
async function heldFds(pid: number, nsdev: number | undefined): Promise<{ fd: number; socket: boolean; inode: number }[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(`/proc/${pid}/fd`);
  } catch (err) {
    if (skippable(err)) return [];
    throw err;
  }
  const out: { fd: number; socket: boolean; inode: number }[] = [];
  await Promise.all(
    names.map(async (name) => {
      try {
        const st = await fs.promises.stat(`/proc/${pid}/fd/${name}`);
        if (st.dev === nsdev) out.push({ fd: Number(name), socket: false, inode: st.ino });
        else if (st.isSocket()) out.push({ fd: Number(name), socket: true, inode: st.ino });
      } catch (err) {
        if (!skippable(err)) throw err;
      }
    }),
  );
  return out;
}

/** The net namespace's id (RTM_GETNSID) through /proc/<pid>/ns/net of one of `pids`. */
function netnsIdOf(inode: number, pids: number[]): number | undefined {
  const n = native();
  for (const pid of pids) {
    const fd = n.openNs(`/proc/${pid}/ns/net`);
    if (fd < 0) continue;
    try {
      if (fs.fstatSync(fd).ino !== inode) continue;
      const id = n.netnsId(fd);
      return typeof id === 'number' ? id : undefined;
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

  // Namespaces held by an fd, a socket or a mount and by no process.
  const n = native();
  const nsdev = nsfsDevice();
  const held = new Map<number, Held>();
  const known = (inode: number) => found.has(inode);
  const mounts = nsfsMounts();
  for (let i = 0; i < procs.length; i += 64) {
    const batch = procs.slice(i, i + 64);
    const fds = await Promise.all(batch.map((p) => heldFds(p.pid, nsdev)));
    batch.forEach((p, j) => {
      for (const { fd, socket, inode } of fds[j]) {
        if (!socket && (known(inode) || held.has(inode))) continue;
        // A socket's namespace is known only once we have a copy of it.
        const nsfd = socket ? n.socketNs(p.pid, fd) : n.openNs(`/proc/${p.pid}/fd/${fd}`);
        if (nsfd >= 0) addHeld(nsfd, known, held);
      }
    });
  }
  for (const [inode, targets] of mounts) {
    if (known(inode) || held.has(inode)) continue;
    for (const target of targets) {
      const fd = n.openNs(target);
      if (fd < 0) continue;
      addHeld(fd, known, held);
      break;
    }
  }

  const inodes = [...found.keys(), ...held.keys()].sort((a, b) => a - b);
  const commands = new Map<number, Promise<string>>();
  const commandOf = (pid: number) => {
    let c = commands.get(pid);
    if (!c) commands.set(pid, (c = readCommand(pid)));
    return c;
  };
  return Promise.all(
    inodes.map(async (inode): Promise<NamespaceInfo> => {
      const h = held.get(inode);
      if (h) {
        const { type, ...rest } = h;
        return { type, inode, nprocs: 0, pids: [], ...rest, nsfs: mounts.get(inode) ?? [] };
      }
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
        nsfs: mounts.get(inode) ?? [],
      };
      if (type === 'net') {
        const id = netnsIdOf(inode, members);
        if (id !== undefined) info.netnsid = id;
      }
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

// join: entering existing namespaces before any new one is made, as
// nsenter: by Namespace handles or by a process's pid. Validated here,
// resolved into fds just before clone (resolveJoin), and planned as setns
// ops in a first child that clones the command again.
import * as fs from 'node:fs';

import { isNamespace } from '../core/brand';
import { NsError, invalidArgType, invalidArgValue } from '../core/errors';
import { initExecFd, native } from '../core/native';
import { NAMESPACE_FLAGS, NAMESPACE_TYPES, type NamespaceType } from '../core/nstypes';
import type { Add, NativePlan } from '../core/plan';
import { planCgroup } from '../cgroup/plan';
import { integer, knownKeys, namespaceType, plainObject, record } from '../core/validate';
import type { Namespace } from '../ns/namespace';

/** Namespaces of another process to enter, as nsenter(1) `-t PID`. */
export interface JoinTarget {
  /** The process whose namespaces to enter (opened as a pidfd first, so a recycled pid is never entered). */
  pid: number;
  /** Default: every namespace of the target that differs from ours. */
  types?: NamespaceType[];
}

/** Existing cgroup directories to enter: the v2 one (CLONE_INTO_CGROUP) and one per v1 hierarchy. */
export interface CgroupDirs {
  readonly v2?: string;
  readonly v1: readonly string[];
}

/**
 * Not exported from the package: what a Sandbox joins (sandbox/): its holder's namespaces, through
 * a pidfd the sandbox owns and keeps open until its last spawn has settled,
 * so that a holder that died is ESRCH, never a recycled pid. Made only by
 * joinHolder(); the options snapshot keeps it as it is.
 */
export interface JoinHolder {
  readonly pid: number;
  readonly types: readonly NamespaceType[];
  /** The sandbox has a devpts of its own (a `dev` mount at /dev): a terminal is opened there. */
  readonly devpts: boolean;
  /** The holder's pidfd, or -1 once the sandbox is closed. */
  pidfd(): number;
  /** With options.cgroup: the sandbox's cgroup directories, entered by each command before it joins. */
  readonly cgroups?: CgroupDirs;
  /**
   * Our end of the sandbox's gate (src-native/sandbox/enter.cc GateMain),
   * or -1: without a pid namespace, once closed, or where it could not
   * start. Through it the command is cloned straight into the sandbox,
   * whose cgroups the gate is in already.
   */
  gate(): number;
}

const holders = new WeakSet<object>();

/** @internal */
export function joinHolder(holder: JoinHolder): JoinHolder {
  const h = Object.freeze(record({ ...holder }));
  holders.add(h);
  return h;
}

/** @internal Whether `value` was made by joinHolder(). */
export function isJoinHolder(value: unknown): value is JoinHolder {
  return typeof value === 'object' && value !== null && holders.has(value);
}

/** `join` checked: the Namespaces to enter, or a pid (and types), or a sandbox's holder. */
export type CheckedJoin = { namespaces: Namespace[] } | { pid: number; types?: NamespaceType[] } | { holder: JoinHolder };

/** join's ops (OpKind in src-native/spawn/plan.h). */
export const JoinOp = {
  Setns: 2,
  SetnsPidfd: 27,
  SetnsPath: 28,
  Fork: 29,
  /** sandbox/'s (src-native/sandbox/enter.cc): the rest of the plan in nsjs-init --enter, or in the gate. */
  Enter: 130,
} as const;

/** JoinOp.Enter's flags: through the gate whose socket is b64 (kEnterGate in enter.h). */
const ENTER_GATE = 1;

export function checkJoin(value: unknown): CheckedJoin {
  if (isJoinHolder(value)) return record({ holder: value });
  if (Array.isArray(value)) {
    const seen = new Set<NamespaceType>();
    // Array.from first: forEach would skip a hole, which is no Namespace.
    value.forEach((ns: unknown, i) => {
      // A brand check: a Proxy, a look-alike or Object.create(Namespace.prototype) holds no fd of ours.
      if (!isNamespace(ns)) throw invalidArgType(`options.join[${i}]`, 'an instance of Namespace', ns);
      if (ns.fd < 0) throw invalidArgValue(`options.join[${i}]`, String(ns), 'is closed');
      if (seen.has(ns.type)) throw invalidArgValue(`options.join[${i}]`, String(ns), `is a second ${ns.type} namespace`);
      seen.add(ns.type);
    });
    return record({ namespaces: value as Namespace[] });
  }
  const j = plainObject(value, 'options.join');
  knownKeys(j, ['pid', 'types'], 'options.join');
  const pid = integer(j.pid, 'options.join.pid', 1, 0x3fffffff);
  if (j.types === undefined) return record({ pid });
  if (!Array.isArray(j.types)) throw invalidArgType('options.join.types', 'an array of namespace types', j.types);
  return record({ pid, types: Array.from(j.types, (t: unknown, i) => namespaceType(t, `options.join.types[${i}]`)) });
}

/** The kernel's copy_pid_ns refuses it (EINVAL); said before anything starts. */
export function newPidInJoinedPid(namespaces: NamespaceType[]): Error {
  return invalidArgValue(
    'options.namespaces',
    namespaces,
    "cannot include 'pid' when options.join enters another pid namespace: the kernel makes a new pid namespace only from a process's own (copy_pid_ns), so nest a second spawn, or join without 'pid'",
  );
}

/** nsenter's order, with user first (its capabilities let us enter the rest) and mnt last (path fallbacks resolve before it). */
const JOIN_ORDER: NamespaceType[] = ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'time', 'mnt'];

/** What to join, resolved before clone (resolveJoin opens the fds). */
export type JoinPlan =
  | { namespaces: { fd: number; type: NamespaceType }[] }
  | { pidfd: number; pid: number; types: NamespaceType[]; enterFd?: number; gateFd?: number; cgroup?: Placement };

/** A sandbox's cgroups as planCgroup takes them: fds opened for one command. */
interface Placement {
  dirFd: number | undefined;
  groups: { version: 'v1' | 'v2'; dir: string; controllers: string[] }[];
  joins: { fd: number; ifNotInto: boolean }[];
}

const O_WRONLY = 1;
const O_DIRECTORY = 0o200000;

/**
 * Opens what one command needs to enter existing cgroups (fds added to
 * `toClose`). v1 `tasks` moves only the writing thread, without the
 * rwsem cgroup.procs takes (spawn.ts spawnIntoCgroups): for a writer that
 * is one thread.
 */
export function cgroupPlacement(cgroups: CgroupDirs, toClose: number[], v1File: 'cgroup.procs' | 'tasks' = 'cgroup.procs'): Placement {
  const open = (file: string, flags: number) => {
    const fd = native().open(file, flags);
    if (fd < 0) throw new NsError({ errno: fd, syscall: 'open', path: file, step: 'enter the sandbox cgroup' });
    toClose.push(fd);
    return fd;
  };
  const p: Placement = record({ dirFd: undefined, groups: [], joins: [] });
  if (cgroups.v2) {
    p.dirFd = open(cgroups.v2, O_DIRECTORY);
    p.groups.push(record({ version: 'v2' as const, dir: cgroups.v2, controllers: [] }));
    p.joins.push(record({ fd: open(`${cgroups.v2}/cgroup.procs`, O_WRONLY), ifNotInto: true }));
  }
  for (const dir of cgroups.v1) {
    p.groups.push(record({ version: 'v1' as const, dir, controllers: [] }));
    p.joins.push(record({ fd: open(`${dir}/${v1File}`, O_WRONLY), ifNotInto: false }));
  }
  return p;
}

function nsInode(file: string): number | undefined {
  try {
    return fs.statSync(file).ino;
  } catch {
    return undefined;
  }
}

/**
 * What `join` enters, with the fds it needs (added to `toClose`). For
 * `{ pid }` without types: every namespace of the target that differs from
 * ours; our own user namespace is never entered (setns would say EINVAL).
 */
export function resolveJoin(join: CheckedJoin, toClose: number[]): JoinPlan {
  const differs = (type: NamespaceType, inode: number | undefined) => inode !== undefined && inode !== nsInode(`/proc/self/ns/${type}`);
  if ('namespaces' in join) {
    // Checked when the options were, but a spawn may wait for a slot: closed since then, its fd number may be another file's.
    const closed = join.namespaces.findIndex((ns) => ns.fd < 0);
    if (closed >= 0) throw invalidArgValue(`options.join[${closed}]`, String(join.namespaces[closed]), 'was closed before the spawn started');
    return record({ namespaces: join.namespaces.filter((ns) => ns.type !== 'user' || differs('user', ns.inode)).map((ns) => record({ fd: ns.fd, type: ns.type })) });
  }
  if ('holder' in join) {
    const pidfd = join.holder.pidfd();
    if (pidfd < 0) throw new NsError({ errno: -3, syscall: 'setns', step: `join sandbox ${join.holder.pid}` });
    const types = [...join.holder.types];
    const gate = join.holder.gate();
    if (gate >= 0) return record({ pidfd, pid: join.holder.pid, types, enterFd: initExecFd(), gateFd: gate });
    // A sandbox's user or time namespace is entered by nsjs-init --enter (planJoin).
    const enterFd = types.includes('user') || types.includes('time') ? initExecFd() : undefined;
    const cgroup = join.holder.cgroups ? cgroupPlacement(join.holder.cgroups, toClose) : undefined;
    return record({ pidfd, pid: join.holder.pid, types, enterFd, cgroup });
  }
  // The pidfd first: the /proc reads below are about the process it holds
  // only if that process is still alive afterwards.
  const pidfd = native().pidfdOpen(join.pid, 0);
  if (pidfd < 0) throw new NsError({ errno: pidfd, syscall: 'pidfd_open', step: `join pid ${join.pid}` });
  toClose.push(pidfd);
  const wanted = join.types ?? NAMESPACE_TYPES;
  const types = wanted.filter((t) => (join.types && t !== 'user') || differs(t, nsInode(`/proc/${join.pid}/ns/${t}`)));
  const alive = native().pidfdSendSignal(pidfd, 0);
  if (alive < 0) throw new NsError({ errno: alive, syscall: 'pidfd_send_signal', step: `join pid ${join.pid}` });
  return record({ pidfd, pid: join.pid, types });
}

export function joinsType(join: JoinPlan | undefined, type: NamespaceType): boolean {
  if (!join) return false;
  return 'namespaces' in join ? join.namespaces.some((n) => n.type === type) : join.types.includes(type);
}

// Joined namespaces are entered by a first child that then clones the
// command with the new namespaces (CLONE_PARENT keeps it our child): new
// ones must be made from inside the joined ones, and a joined pid
// namespace holds only children made after setns. setns into a user or
// time namespace also refuses a process that shares Node's memory
// (current_is_single_threaded), so only then is that first clone
// fork-style, copying Node's page tables; other joins stay vfork-style.
//
// A sandbox's commands (JoinHolder) skip that copy: the first child stays
// vfork-style and execs nsjs-init --enter from its sealed memfd, a
// single-threaded process of its own that walks the rest of this plan (the
// setns, the clone, the whole policy) as the first child would have, and
// reports on the same pipe (execChain). Its exec and a clone from a small
// mm cost less than copying Node's page tables (bench --sections sandbox).
export function planJoin(join: JoinPlan, native: NativePlan, add: Add): void {
  // A sandbox's cgroup first, as a command's own: nothing runs outside it.
  if ('cgroup' in join && join.cgroup) planCgroup(join.cgroup, native, add);
  if ('gateFd' in join && join.gateFd !== undefined && join.enterFd !== undefined) {
    // The gate does the setns and the clone below once for all (it reports as --enter does).
    native.execChain = true;
    add({ kind: JoinOp.Enter, a: join.enterFd, flags: ENTER_GATE, b64: join.gateFd }, { step: "enter the sandbox through its gate", syscall: 'sendmsg' });
  } else if ('enterFd' in join && join.enterFd !== undefined) {
    native.execChain = true;
    add({ kind: JoinOp.Enter, a: join.enterFd }, { step: 'exec nsjs-init --enter', syscall: 'execveat' });
  } else {
    native.forkStyle = joinsType(join, 'user') || joinsType(join, 'time');
  }
  planSetns(join, add);
  add({ kind: JoinOp.Fork }, { step: 'clone after join', syscall: 'clone3' });
}

function planSetns(join: JoinPlan, add: Add): void {
  const order = (a: NamespaceType, b: NamespaceType) => JOIN_ORDER.indexOf(a) - JOIN_ORDER.indexOf(b);
  if ('namespaces' in join) {
    for (const ns of [...join.namespaces].sort((a, b) => order(a.type, b.type)))
      add({ kind: JoinOp.Setns, a: ns.fd, b: NAMESPACE_FLAGS[ns.type] }, { step: `setns ${ns.type}`, syscall: 'setns' });
    return;
  }
  const types = [...join.types].sort(order);
  const mask = types.reduce((m, t) => m | NAMESPACE_FLAGS[t], 0);
  add({ kind: JoinOp.SetnsPidfd, a: join.pidfd, flags: mask, b: types.length }, { step: `setns pid ${join.pid} (${types.join(',')})`, syscall: 'setns' });
  for (const t of types) {
    const file = `/proc/${join.pid}/ns/${t}`;
    add({ kind: JoinOp.SetnsPath, s: [file], b: NAMESPACE_FLAGS[t] }, { step: `setns ${t}`, syscall: 'setns', path: file });
  }
}

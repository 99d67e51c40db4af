// Options → the plan the native child walks. Pure apart from reading PATH and
// two /proc values, so it can be tested without spawning. Each op carries the
// step name, syscall and path that an NsError reports if the child fails there.
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as C from '../core/constants';
import { NAMESPACE_FLAGS, type NamespaceType } from '../core/nstypes';
import { record } from '../core/validate';
import { MountOp, planMounts } from '../fs/plan';
import { SharedOp, type Add, type EncodedPlan, type NativeOp, type NativePlan, type Step } from '../core/plan';
import { RLIMITS as RLIMIT_NAMES, type Checked } from './options';

/** Mirrors OpKind in src-native/spawn/plan.h. */
export const Op = {
  Pdeathsig: 1,
  Setns: 2,
  ...SharedOp,
  Unshare: 5,
  Mount: 6,
  Sethostname: 12,
  Setdomainname: 13,
  Chdir: 14,
  Stdio: 15,
  Setgroups: 16,
  Setresgid: 17,
  Setresuid: 18,
  Prctl: 19,
  Setsid: 20,
  CloseFds: 21,
  Exec: 22,
  Setrlimit: 23,
  Capabilities: 24,
  SetnsPidfd: 27,
  SetnsPath: 28,
  Fork: 29,
  LinkUp: 30,
  AddAddress: 31,
  DefaultRoute: 32,
  ...MountOp,
} as const;

/** nsenter's order, with user first (its capabilities let us enter the rest) and mnt last (path fallbacks resolve before it). */
const JOIN_ORDER: NamespaceType[] = ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'time', 'mnt'];

/** What to join, resolved before clone (lib/spawn.ts opens the fds). */
export type JoinPlan =
  | { namespaces: { fd: number; type: NamespaceType }[] }
  | { pidfd: number; pid: number; types: NamespaceType[] };

/** Inputs of buildPlan that come from outside the options. */
export interface PlanContext {
  forceClone: boolean;
  join?: JoinPlan;
  /** Exec this fd (a sealed copy of a binary of ours) instead of searching the exec paths. */
  execFd?: number;
  /**
   * With init: nsjs-init's name, the fd of its sealed copy to exec (mounts
   * and pivot_root may hide the file), and the write end of its status pipe.
   */
  init?: { path: string; fd?: number; statusFd: number };
}

const PR_SET_KEEPCAPS = 8;
const PR_SET_NO_NEW_PRIVS = 38;
const SIGKILL = 9;

export interface Plan {
  native: NativePlan;
  steps: Step[];
}

/** stdio as the child installs it: an fd per index, -1 inherit, -2 closed. */
export interface StdioFds {
  child: number[];
}

let capLastCap: number | undefined;
function lastCap(): number {
  capLastCap ??= Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'latin1'));
  return capLastCap;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Where execve will look for `command`: itself when it has a slash, else each
 * PATH entry (from the command's env, as child_process does). Without `root`
 * or mounts the host's file system is the child's, so the search is done here
 * and only the hit is passed on; `null` means nothing was found.
 */
export function execCandidates(command: string, env: [string, string][] | undefined, hostVisible: boolean): string[] | null {
  if (command.includes('/')) return [command];
  const PATH = (env ? env.find(([k]) => k === 'PATH')?.[1] : process.env.PATH) ?? DEFAULT_PATH;
  const candidates = PATH.split(':').map((dir) => path.join(dir || '.', command));
  if (!hostVisible) return candidates;
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return [c];
    } catch {
      // not here; next PATH entry
    }
  }
  return null;
}

function mapLines(maps: { inside: number; outside: number; count: number }[]): string {
  return maps.map((m) => `${m.inside} ${m.outside} ${m.count}\n`).join('');
}

export function buildPlan(
  c: Checked,
  command: string,
  args: string[],
  execPaths: string[],
  stdio: StdioFds,
  ctx: PlanContext,
): Plan {
  const ops: NativeOp[] = [];
  const steps: Step[] = [];
  // Null-prototype records: encodePlan and the error path read keys an op or
  // step may lack, which must not come from Object.prototype.
  const add = (op: NativeOp, step: Step) => {
    ops.push(record(op));
    steps.push(record(step));
  };
  const ns = c.namespaces;
  let cloneFlags = 0;
  for (const type of ns) cloneFlags |= NAMESPACE_FLAGS[type];

  const native = record<NativePlan>({
    cloneFlags: 0,
    forceClone: ctx.forceClone,
    parentMaps: false,
    dieWithParent: c.dieWithParent,
    forkStyle: false,
    execChain: false,
    ops,
    stdio: stdio.child,
    groups: c.groups ?? [],
    execPaths,
    argv: [c.argv0 ?? command, ...args],
    envp: c.env?.map(([k, v]) => `${k}=${v}`),
    execFd: ctx.execFd,
  });

  // Joined namespaces are entered by a first child that then clones the
  // command with the new namespaces (CLONE_PARENT keeps it our child): new
  // ones must be made from inside the joined ones, and a joined pid
  // namespace holds only children made after setns. setns into a user or
  // time namespace also refuses a process that shares Node's memory
  // (current_is_single_threaded), so only then is that first clone
  // fork-style, copying Node's page tables; other joins stay vfork-style.
  if (ctx.join) {
    native.forkStyle = joinsType(ctx.join, 'user') || joinsType(ctx.join, 'time');
    planJoin(ctx.join, add);
    add({ kind: Op.Fork }, { step: 'clone after join', syscall: 'clone3' });
  }

  // A new user namespace comes first and its maps right after: every other
  // step needs the capabilities the maps make meaningful.
  if (c.user === 'root' || c.user === 'self') {
    const uid = process.geteuid!();
    const gid = process.getegid!();
    const inside = c.user === 'root' ? [0, 0] : [uid, gid];
    // Written by the child itself: a single line mapping its own ids, which
    // the kernel allows only with setgroups denied.
    for (const [file, data] of [
      ['setgroups', 'deny'],
      ['uid_map', `${inside[0]} ${uid} 1\n`],
      ['gid_map', `${inside[1]} ${gid} 1\n`],
    ]) {
      add({ kind: Op.WriteFile, s: [`/proc/self/${file}`, data] }, { step: `write ${file}`, syscall: 'write', path: `/proc/self/${file}` });
    }
  } else if (c.user) {
    native.parentMaps = true;
    native.uidMap = mapLines(c.user.uidMap);
    native.gidMap = mapLines(c.user.gidMap);
    const setgroups = c.user.setgroups ?? (process.geteuid!() === 0 ? undefined : 'deny');
    if (setgroups) native.setgroups = setgroups;
    add({ kind: Op.WaitParent }, { step: 'wait for uid/gid maps', syscall: 'read' });
  }

  if (c.network) planNetwork(c.network, native, add);

  if (ns.has('time')) {
    if (c.timeOffsets) {
      // Offsets can be written only before any process has entered the
      // namespace: unshare it (we stay outside; our exec enters it) and write.
      cloneFlags &= ~C.CLONE_NEWTIME;
      add({ kind: Op.Unshare, a: C.CLONE_NEWTIME }, { step: 'unshare time', syscall: 'unshare' });
      const { monotonic, boottime } = c.timeOffsets;
      add(
        { kind: Op.WriteFile, s: ['/proc/self/timens_offsets', `monotonic ${monotonic} 0\nboottime ${boottime} 0\n`] },
        { step: 'write timens_offsets', syscall: 'write', path: '/proc/self/timens_offsets' },
      );
    } else {
      add({ kind: Op.Unshare, a: C.CLONE_NEWTIME, b: 1 }, { step: 'unshare time', syscall: 'unshare' });
    }
  }
  // Known only now that the time namespace has been settled.
  if (ctx.join) ops.find((o) => o.kind === Op.Fork)!.flags = cloneFlags;
  else native.cloneFlags = cloneFlags;

  if (ns.has('mnt')) {
    if (c.propagation !== 'unchanged') {
      const flag = { private: C.MS_PRIVATE, slave: C.MS_SLAVE, shared: C.MS_SHARED }[c.propagation];
      add({ kind: Op.Mount, s: [null, '/', null, null], flags: C.MS_REC | flag }, { step: `propagation ${c.propagation}`, syscall: 'mount', path: '/' });
    }
    planMounts(c.mounts, c.root, add);
  }
  if (c.hostname !== undefined) add({ kind: Op.Sethostname, s: [c.hostname] }, { step: 'sethostname', syscall: 'sethostname' });
  if (c.domainname !== undefined) add({ kind: Op.Setdomainname, s: [c.domainname] }, { step: 'setdomainname', syscall: 'setdomainname' });
  if (c.cwd !== undefined) add({ kind: Op.Chdir, s: [c.cwd] }, { step: 'chdir', syscall: 'chdir', path: c.cwd });
  add({ kind: Op.Stdio }, { step: 'stdio', syscall: 'dup2' });
  for (const [resource, soft, hard] of c.rlimits) {
    const name = Object.entries(RLIMIT_NAMES).find(([, v]) => v === resource)?.[0] ?? String(resource);
    const n = (v: number) => (v === -1 ? 0xffffffffffffffffn : BigInt(v));
    add({ kind: Op.Setrlimit, a: resource, flags: n(soft), b64: n(hard) }, { step: `setrlimit ${name}`, syscall: 'prlimit64' });
  }
  const keep = capabilityMask(c, ns.has('user') || joinsType(ctx.join, 'user'));
  // Across a change away from uid 0 the kernel would clear permitted before
  // the capabilities op could use CAP_SETPCAP to lower the bounding set.
  if (keep && c.uid !== undefined && c.uid !== 0)
    add({ kind: Op.Prctl, a: PR_SET_KEEPCAPS, b: 1 }, { step: 'prctl PR_SET_KEEPCAPS', syscall: 'prctl' });
  if (c.groups) add({ kind: Op.Setgroups }, { step: 'setgroups', syscall: 'setgroups' });
  else if ((c.uid !== undefined || c.gid !== undefined) && !setgroupsDenied(c, native)) {
    // A new uid or gid drops ours (root's disk, sudo…), as su, setpriv
    // --init-groups and runc do. A joined user namespace may deny setgroups:
    // then the clear is skipped in the child (a = 1), as nsenter ignores it.
    add({ kind: Op.Setgroups, a: joinsType(ctx.join, 'user') && !ns.has('user') ? 1 : 0 }, { step: 'setgroups', syscall: 'setgroups' });
  }
  if (c.gid !== undefined) add({ kind: Op.Setresgid, a: c.gid }, { step: 'setresgid', syscall: 'setresgid' });
  if (c.uid !== undefined) add({ kind: Op.Setresuid, a: c.uid }, { step: 'setresuid', syscall: 'setresuid' });
  if (keep) add({ kind: Op.Capabilities, a: lastCap(), b: keep.byDefault ? 1 : 0, flags: keep.mask }, { step: 'capabilities', syscall: 'capset' });
  if (c.noNewPrivileges) add({ kind: Op.Prctl, a: PR_SET_NO_NEW_PRIVS, b: 1 }, { step: 'prctl PR_SET_NO_NEW_PRIVS', syscall: 'prctl' });
  if (c.newSession) add({ kind: Op.Setsid }, { step: 'setsid', syscall: 'setsid' });
  add({ kind: Op.CloseFds }, { step: 'close fds', syscall: 'close_range' });
  // Last before execve: the kernel clears the parent-death signal on every
  // change of credentials (setres[ug]id, capabilities), and the child then
  // checks that we had not died already (the signal would never come).
  if (c.dieWithParent) add({ kind: Op.Pdeathsig, a: SIGKILL }, { step: 'prctl PR_SET_PDEATHSIG', syscall: 'prctl' });
  add({ kind: Op.Exec }, { step: 'execve', syscall: 'execve', path: command });
  if (ctx.init) {
    // nsjs-init is exec'd instead and execs the command itself, reporting a
    // failure of that execve as this op on the error pipe, which it gets as
    // fd n (kept across its execve); fd n+1 is its status pipe.
    const n = native.stdio.length;
    native.stdio = [...native.stdio, STDIO_ERR_PIPE, ctx.init.statusFd];
    native.execChain = true;
    native.argv = ['nsjs-init', String(n), String(n + 1), String(ops.length - 1), String(execPaths.length), ...execPaths, '--', ...native.argv];
    native.execPaths = [ctx.init.path];
    native.execFd = ctx.init.fd;
  }
  assertAllowed(ops, ns);
  return { native, steps };
}

/**
 * The capabilities the command keeps, or undefined where nothing is to be
 * done. `capabilities.keep` as given; without it none, unless the command
 * runs in a new or joined user namespace, whose capabilities reach nothing
 * of ours (bubblewrap's rule): real root in our user namespace would keep
 * CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH (open_by_handle_at), CAP_MKNOD and
 * the rest. `byDefault`: the child skips what the caller cannot drop (a
 * process without capabilities has nothing to drop). Every capability kept
 * in our user namespace by a command that stays uid 0 is nothing to do
 * either, so the sets stay exactly as they are (`nsjs run` asks for that,
 * as unshare leaves them); in a user namespace of its own, keep raises them
 * to ambient as ever (unshare --keep-caps).
 */
function capabilityMask(c: Checked, inUserNs: boolean): { mask: bigint; byDefault: boolean } | undefined {
  if (!c.keepCapabilities) return inUserNs ? undefined : { mask: 0n, byDefault: true };
  const mask = c.keepCapabilities.reduce((m, bit) => m | (1n << BigInt(bit)), 0n);
  const all = (1n << BigInt(lastCap() + 1)) - 1n;
  if (!inUserNs && (mask & all) === all && (c.uid === undefined || c.uid === 0)) return undefined;
  return { mask, byDefault: false };
}

/**
 * Whether the new user namespace refuses setgroups (its `setgroups` file
 * says deny), so that the groups we hold cannot be changed there: the
 * command keeps them, as every process in such a namespace does.
 */
function setgroupsDenied(c: Checked, native: NativePlan): boolean {
  return c.user === 'root' || c.user === 'self' || native.setgroups === 'deny';
}

/** Ops that act on a namespace of one type, which the plan may hold only when it makes a new one of that type. */
const NAMESPACED_OPS: readonly [NamespaceType, readonly number[]][] = [
  ['uts', [Op.Sethostname, Op.Setdomainname]],
  ['mnt', [Op.Mount, ...Object.values(MountOp)]],
  ['net', [Op.LinkUp, Op.AddAddress, Op.DefaultRoute]],
];

/**
 * The last line of defence against an option that slipped past its
 * namespace check (issue 13: a getter answered `needs()` one way and the plan
 * another, and sethostname renamed the caller's host): a bug, never a user
 * error, so a plain Error before anything starts.
 */
function assertAllowed(ops: NativeOp[], ns: Set<NamespaceType>): void {
  for (const [type, kinds] of NAMESPACED_OPS) {
    if (ns.has(type)) continue;
    const op = ops.find((o) => kinds.includes(o.kind));
    if (op) throw new Error(`nsjs bug: the plan holds op ${op.kind} without a new ${type} namespace`);
  }
}

/** Mirrors the header layout and bits in src-native/spawn/plan.h (kHeader…). */
const HEADER = 10;
const BIT = { forceClone: 1, parentMaps: 2, dieWithParent: 4, forkStyle: 8, execChain: 16, ownEnv: 32 } as const;
const OP_INTS = 8;
const HAS_ADDR = 1 << 4;

const TWO_32 = 2 ** 32;
function lo(v: number | bigint | undefined): number {
  if (typeof v === 'bigint') return Number(BigInt.asIntN(32, v));
  return (v ?? 0) | 0;
}
function hi(v: number | bigint | undefined): number {
  if (typeof v === 'bigint') return Number(BigInt.asIntN(32, v >> 32n));
  return Math.floor((v ?? 0) / TWO_32) | 0;
}

export function encodePlan(n: NativePlan): EncodedPlan {
  const strings: string[] = [];
  const ints = new Int32Array(HEADER + n.ops.length * OP_INTS + n.stdio.length + n.groups.length);
  const ownEnv = n.envp === undefined;
  ints[0] =
    (n.forceClone ? BIT.forceClone : 0) |
    (n.parentMaps ? BIT.parentMaps : 0) |
    (n.dieWithParent ? BIT.dieWithParent : 0) |
    (n.forkStyle ? BIT.forkStyle : 0) |
    (n.execChain ? BIT.execChain : 0) |
    (ownEnv ? BIT.ownEnv : 0);
  ints[1] = n.cloneFlags;
  ints[2] = n.execFd ?? -1;
  ints[3] = n.ops.length;
  ints[4] = n.stdio.length;
  ints[5] = n.groups.length;
  ints[6] = n.execPaths.length;
  ints[7] = n.argv.length;
  ints[8] = n.envp?.length ?? 0;
  let i = HEADER;
  for (const op of n.ops) {
    let mask = 0;
    const s = op.s ?? [];
    for (let j = 0; j < s.length && j < 4; j++) {
      const v = s[j];
      if (v === null || v === undefined) continue;
      mask |= 1 << j;
      strings.push(v);
    }
    if (op.addr !== undefined) {
      mask |= HAS_ADDR;
      strings.push(op.addr);
    }
    ints[i++] = op.kind;
    ints[i++] = op.a ?? 0;
    ints[i++] = op.b ?? 0;
    ints[i++] = lo(op.flags);
    ints[i++] = hi(op.flags);
    ints[i++] = lo(op.b64);
    ints[i++] = hi(op.b64);
    ints[i++] = mask;
  }
  for (const fd of n.stdio) ints[i++] = fd;
  for (const g of n.groups) ints[i++] = g | 0;
  // Loops, not push(...list): a spread passes every entry as an argument, and 200,000 of them overflow the stack.
  for (const list of [n.execPaths, n.argv, n.envp ?? []]) for (const str of list) strings.push(str);
  ints[9] = strings.length;
  const plan = record<EncodedPlan>({ ints, text: strings.length > 0 ? strings.join('\0') + '\0' : '' });
  if (n.parentMaps || n.veth || n.fault || n.mountFallback)
    plan.extras = record({ uidMap: n.uidMap, gidMap: n.gidMap, setgroups: n.setgroups, veth: n.veth, fault: n.fault, mountFallback: n.mountFallback });
  return plan;
}

/**
 * lo up, and the sandbox end of the veth: the parent makes the pair once we
 * exist (its end in its namespace, ours created directly in ours), so we
 * wait for it, then bring ours up with its addresses and routes.
 */
function planNetwork(network: NonNullable<Checked['network']>, native: NativePlan, add: Add): void {
  if (network.loopback) add({ kind: Op.LinkUp, s: ['lo'] }, { step: 'RTM_NEWLINK up lo', syscall: 'netlink' });
  const v = network.veth;
  if (!v) return;
  native.veth = {
    host: v.hostName,
    peer: v.name,
    mtu: v.mtu,
    hostAddresses: v.hostAddresses.map((a) => ({ family: FAMILY[a.family], address: a.address, prefix: a.prefixLength })),
  };
  if (!native.parentMaps) add({ kind: Op.WaitParent }, { step: `wait for veth ${v.hostName}`, syscall: 'read' });
  add({ kind: Op.LinkUp, s: [v.name] }, { step: `RTM_NEWLINK up ${v.name}`, syscall: 'netlink' });
  for (const a of v.addresses) {
    add(
      { kind: Op.AddAddress, s: [v.name], a: FAMILY[a.family], b: a.prefixLength, addr: a.address },
      { step: `RTM_NEWADDR ${a.address}/${a.prefixLength} dev ${v.name}`, syscall: 'netlink' },
    );
  }
  if (v.gateway) {
    for (const family of [4, 6] as const) {
      const via = v.hostAddresses.find((a) => a.family === family);
      // Without an address of its family here the gateway is unreachable (EHOSTUNREACH); checkOptions made sure one family has both.
      if (via && v.addresses.some((a) => a.family === family)) add({ kind: Op.DefaultRoute, a: FAMILY[family], addr: via.address }, { step: `RTM_NEWROUTE default via ${via.address}`, syscall: 'netlink' });
    }
  }
}

const FAMILY = { 4: 2, 6: 10 } as const; // AF_INET, AF_INET6

/** kStdioErrPipe in src-native/spawn/plan.h. */
const STDIO_ERR_PIPE = -3;

export function joinsType(join: JoinPlan | undefined, type: NamespaceType): boolean {
  if (!join) return false;
  return 'namespaces' in join ? join.namespaces.some((n) => n.type === type) : join.types.includes(type);
}

function planJoin(join: JoinPlan, add: Add): void {
  const order = (a: NamespaceType, b: NamespaceType) => JOIN_ORDER.indexOf(a) - JOIN_ORDER.indexOf(b);
  if ('namespaces' in join) {
    for (const ns of [...join.namespaces].sort((a, b) => order(a.type, b.type)))
      add({ kind: Op.Setns, a: ns.fd, b: NAMESPACE_FLAGS[ns.type] }, { step: `setns ${ns.type}`, syscall: 'setns' });
    return;
  }
  const types = [...join.types].sort(order);
  const mask = types.reduce((m, t) => m | NAMESPACE_FLAGS[t], 0);
  add({ kind: Op.SetnsPidfd, a: join.pidfd, flags: mask, b: types.length }, { step: `setns pid ${join.pid} (${types.join(',')})`, syscall: 'setns' });
  for (const t of types) {
    const file = `/proc/${join.pid}/ns/${t}`;
    add({ kind: Op.SetnsPath, s: [file], b: NAMESPACE_FLAGS[t] }, { step: `setns ${t}`, syscall: 'setns', path: file });
  }
}

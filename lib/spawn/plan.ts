// Options → the plan the native child walks. Pure apart from reading PATH and
// two /proc values, so it can be tested without spawning. Each op carries the
// step name, syscall and path that an NsError reports if the child fails there.
// buildPlan only dispatches: each room adds its own ops, here put in the order
// the child must run them.
import type { Cgroup } from '../cgroup/cgroup';
import { CgroupOp, planCgroup } from '../cgroup/plan';
import { CLONE_NEWCGROUP } from '../core/constants';
import type { NamespaceType } from '../core/nstypes';
import { SharedOp, type EncodedPlan, type NativeOp, type NativePlan, type Step } from '../core/plan';
import { record } from '../core/validate';
import { FsOp, planFs } from '../fs/plan';
import { NetOp, planNetwork } from '../net/plan';
import { NsOp, namespaceFlags, planPersist, planTime, planUts } from '../ns/plan';
import { PolicyOp, planPolicy } from '../policy/plan';
import { CommandOp, planCwd, planExec, type InitContext } from './command';
import { JoinOp, joinsType, planJoin, type JoinPlan } from './join';
import type { Checked } from './options';
import { StdioOp, planStdio, type StdioFds } from './stdio';
import { TerminalOp, planCtty, planTerminal, type TerminalFds } from '../terminal/plan';
import { planOwner, planUser, setgroupsDenied } from './user';

/** Every op kind, each room's own: mirrors OpKind in src-native/spawn/plan.h. */
export const Op = {
  ...SharedOp,
  ...NsOp,
  ...FsOp,
  ...PolicyOp,
  ...NetOp,
  ...JoinOp,
  ...CommandOp,
  ...StdioOp,
  ...CgroupOp,
  ...TerminalOp,
} as const;

/** Inputs of buildPlan that come from outside the options. */
export interface PlanContext {
  forceClone: boolean;
  join?: JoinPlan;
  /** Exec this fd (a sealed copy of a binary of ours) instead of searching the exec paths. */
  execFd?: number;
  /** With init (see InitContext). */
  init?: InitContext;
  /** With options.cgroup: the cgroups made for the command (cgroup/cgroup.ts); or existing ones to enter (spawnIntoCgroups). */
  cgroup?: Pick<Cgroup, 'dirFd' | 'groups' | 'joins'>;
  /** With terminal (see TerminalFds). */
  terminal?: TerminalFds;
}

export interface Plan {
  native: NativePlan;
  steps: Step[];
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
  // encodePlan and the error path read keys an op or step may lack, which
  // must not come from Object.prototype: they read own keys only (encodePlan
  // here, spawn.ts through record()), so ops and steps are kept as made. A
  // null-prototype copy of each (record()) cost a fifth of the planning of a
  // root from nothing (132 ops): V8 keeps those in dictionary mode.
  const add = (op: NativeOp, step: Step) => {
    ops.push(op);
    steps.push(step);
  };
  const ns = c.namespaces;
  let cloneFlags = namespaceFlags(c);

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
    seccomp: c.seccomp,
    landlock: c.landlock,
    landlockThen: c.landlockThen,
  });

  // Before anything else, so that nothing the child starts runs outside it.
  if (ctx.cgroup) planCgroup(ctx.cgroup, native, add);
  const owner = typeof c.user === 'object' ? c.user.owner : undefined;
  if (owner) cloneFlags = planOwner(owner, cloneFlags, add);
  // A new cgroup namespace made once the child is in its cgroups, so that
  // it sees its own cgroup as / in every hierarchy (v1 too, and on v2
  // without CLONE_INTO_CGROUP), not the caller's.
  if (ctx.cgroup && cloneFlags & CLONE_NEWCGROUP && !ctx.join) {
    cloneFlags &= ~CLONE_NEWCGROUP;
    add({ kind: NsOp.Unshare, a: CLONE_NEWCGROUP }, { step: 'unshare cgroup', syscall: 'unshare' });
  }
  if (ctx.join) planJoin(ctx.join, native, add);
  // A new user namespace comes first and its maps right after: every other
  // step needs the capabilities the maps make meaningful.
  planUser(c.user, native, add, c.mounts.some((m) => m.type === 'bind' && m.idmap));
  planPersist(c, native, add);
  if (c.network) planNetwork(c.network, native, add, !ns.has('user') && !ctx.join);
  cloneFlags = planTime(c, cloneFlags, add, owner !== undefined);
  // The owner's pid namespace (unshared) holds only the children it makes.
  if (owner && ns.has('pid')) add({ kind: JoinOp.Fork }, { step: 'clone into the pid namespace', syscall: 'clone3' });
  // Known only now that the time namespace has been settled.
  if (ctx.join) ops.find((o) => o.kind === Op.Fork)!.flags = cloneFlags;
  else native.cloneFlags = cloneFlags;
  if (ns.has('mnt')) planFs(c, add);
  planUts(c, add);
  planCwd(c, add);
  planStdio(add);
  if (ctx.terminal) planTerminal(ctx.terminal, add);
  const lastOps = planPolicy(c, { newUserNs: ns.has('user'), joinedUserNs: joinsType(ctx.join, 'user'), setgroupsDenied: setgroupsDenied(c.user, native) }, add);
  if (c.terminal) planCtty(add);
  planExec(c, command, execPaths, ctx.init, native, add, lastOps);
  assertAllowed(ops, ns);
  return { native, steps };
}

/** Ops that act on a namespace of one type, which the plan may hold only when it makes a new one of that type. */
const NAMESPACED_OPS: readonly [NamespaceType, readonly number[]][] = [
  ['uts', [NsOp.Sethostname, NsOp.Setdomainname]],
  ['mnt', Object.values(FsOp)],
  ['net', Object.values(NetOp)],
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

/** o[key] if o has it itself, else undefined (never Object.prototype's). */
function own<K extends keyof NativeOp>(o: NativeOp, key: K): NativeOp[K] | undefined {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

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
    const s = own(op, 's') ?? [];
    for (let j = 0; j < s.length && j < 4; j++) {
      const v = s[j];
      if (v === null || v === undefined) continue;
      mask |= 1 << j;
      strings.push(v);
    }
    const addr = own(op, 'addr');
    if (addr !== undefined) {
      mask |= HAS_ADDR;
      strings.push(addr);
    }
    const flags = own(op, 'flags');
    const b64 = own(op, 'b64');
    ints[i++] = op.kind;
    ints[i++] = own(op, 'a') ?? 0;
    ints[i++] = own(op, 'b') ?? 0;
    ints[i++] = lo(flags);
    ints[i++] = hi(flags);
    ints[i++] = lo(b64);
    ints[i++] = hi(b64);
    ints[i++] = mask;
  }
  for (const fd of n.stdio) ints[i++] = fd;
  for (const g of n.groups) ints[i++] = g | 0;
  // Loops, not push(...list): a spread passes every entry as an argument, and 200,000 of them overflow the stack.
  for (const list of [n.execPaths, n.argv, n.envp ?? []]) for (const str of list) strings.push(str);
  ints[9] = strings.length;
  const plan = record<EncodedPlan>({ ints, text: strings.length > 0 ? strings.join('\0') + '\0' : '' });
  if (n.parentMaps || n.veth || n.proxy || n.fault || n.mountFallback || n.seccomp || n.landlock || n.cgroupFd !== undefined)
    plan.extras = record({ uidMap: n.uidMap, gidMap: n.gidMap, setgroups: n.setgroups, uidMapHelper: n.uidMapHelper, gidMapHelper: n.gidMapHelper, persist: n.persist, veth: n.veth, proxy: n.proxy, fault: n.fault, mountFallback: n.mountFallback, seccomp: n.seccomp, landlock: n.landlock, landlockThen: n.landlockThen, cgroupFd: n.cgroupFd });
  return plan;
}

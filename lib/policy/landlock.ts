// The landlock option: which files the command may read, write and execute,
// and which TCP ports it may connect to and bind, as a Landlock ruleset the
// child builds after the mounts and pivot_root (so the paths name the
// sandbox's files) and enforces on itself just before exec
// (src-native/policy/restrict.cc). The rights asked for are those of the ABI
// the kernel speaks: best effort below what a rule needs, unless `require`.
import * as path from 'node:path';

import { NsError, invalidArgType, invalidArgValue } from '../core/errors';
import { native } from '../core/native';
import { bool, integer, knownKeys, pathString, plainObject, record } from '../core/validate';

/**
 * Landlock rules, paths as the sandbox sees them (after `root`). With
 * `landlock` set, the file system outside `read` ∪ `write` is denied:
 * `read` = read files, list directories and execute; `write` = that plus
 * create, remove, rename, link, truncate, write and device ioctls;
 * `execute`, when given, narrows execution to those paths. A path listed
 * that does not exist is skipped. `connect` / `bind` restrict TCP to those
 * ports, only when given (Landlock ABI 4, Linux 6.7). `require: true`
 * fails the spawn when the kernel's ABI lacks what a rule needs (ABI 1,
 * Linux 5.13, for any rule; 2 to rename or link across directories; 3 to
 * truncate; 4 for ports; 5 for device ioctls), where by default what the
 * kernel cannot enforce is left out. Cost: a ruleset, an open and a rule
 * per path in the child. A hostile program inside keeps every fd it was
 * given (Landlock checks opens, not fds already open) and whatever the
 * listed trees hold, including a path into `/proc` that leads back out
 * through another process's root or cwd: list the fewest.
 */
export interface LandlockOptions {
  /** Trees the command may read, list and (unless `execute` is given) execute from. */
  read?: string[];
  /** Trees it may also create, remove, rename, link, truncate and write in. */
  write?: string[];
  /** When given, the only trees it may execute from. */
  execute?: string[];
  /** When given, the only TCP ports it may connect to (ABI 4). */
  connect?: number[];
  /** When given, the only TCP ports it may bind (ABI 4). */
  bind?: number[];
  /** Fail the spawn where the kernel's ABI lacks a right the rules need, instead of leaving it out. */
  require?: boolean;
}

// LANDLOCK_ACCESS_FS_* and the ABI that brought each.
const FS = {
  execute: [1n << 0n, 1],
  writeFile: [1n << 1n, 1],
  readFile: [1n << 2n, 1],
  readDir: [1n << 3n, 1],
  removeDir: [1n << 4n, 1],
  removeFile: [1n << 5n, 1],
  makeChar: [1n << 6n, 1],
  makeDir: [1n << 7n, 1],
  makeReg: [1n << 8n, 1],
  makeSock: [1n << 9n, 1],
  makeFifo: [1n << 10n, 1],
  makeBlock: [1n << 11n, 1],
  makeSym: [1n << 12n, 1],
  refer: [1n << 13n, 2],
  truncate: [1n << 14n, 3],
  ioctlDev: [1n << 15n, 5],
} as const;
const NET_BIND_TCP = 1n << 0n;
const NET_CONNECT_TCP = 1n << 1n;
const NET_ABI = 4;

type Right = keyof typeof FS;
const READ: Right[] = ['readFile', 'readDir'];
const WRITE: Right[] = ['writeFile', 'removeDir', 'removeFile', 'makeChar', 'makeDir', 'makeReg', 'makeSock', 'makeFifo', 'makeBlock', 'makeSym', 'refer', 'truncate', 'ioctlDev'];

/** Not exported from the package: the ruleset as the child builds it (src-native/policy/policy_plan.h Landlock). */
export interface NativeLandlock {
  attrSize: number;
  fs: bigint;
  net: bigint;
  paths: { path: string; access: bigint }[];
  ports: { port: bigint; access: bigint }[];
  /** A sandbox command's own ruleset, enforced after this one as a second layer (landlockLayers). */
  then?: Omit<NativeLandlock, 'then'>;
}

/**
 * Not exported from the package: a sandbox command's `landlock`
 * (sandbox/policy.ts), the sandbox's rules and the command's own, each
 * enforced as a ruleset of its own, the command's last. The kernel checks
 * an access against every layer of the domain, so the second can only take
 * rights away, whatever its paths turn out to name. Made only by
 * landlockLayers(); the options snapshot keeps it as it is.
 */
export interface LandlockLayers {
  readonly sandbox: unknown;
  readonly command: unknown;
}

const layered = new WeakSet<object>();

/** @internal */
export function landlockLayers(sandbox: unknown, command: unknown): LandlockLayers {
  const l = Object.freeze(record({ sandbox, command }));
  layered.add(l);
  return l;
}

/** @internal Whether `value` was made by landlockLayers(). */
export function isLandlockLayers(value: unknown): value is LandlockLayers {
  return typeof value === 'object' && value !== null && layered.has(value);
}

let abi: number | undefined;

/** @internal The Landlock ABI of this kernel, 0 where it has none (cached: it cannot change under us). */
export function landlockAbi(): number {
  abi ??= Math.max(0, native().landlockAbi());
  return abi;
}

function paths(value: unknown, name: string): string[] {
  if (!Array.isArray(value)) throw invalidArgType(name, 'an array of paths', value);
  return Array.from(value, (v: unknown, i) => {
    const p = pathString(v, `${name}[${i}]`);
    if (!p.startsWith('/')) throw invalidArgValue(`${name}[${i}]`, p, 'must be an absolute path (inside the sandbox, after root)');
    return p;
  });
}

function ports(value: unknown, name: string): number[] {
  if (!Array.isArray(value)) throw invalidArgType(name, 'an array of ports', value);
  return Array.from(value, (v: unknown, i) => integer(v, `${name}[${i}]`, 0, 65535));
}

/**
 * @internal The ruleset for the option `landlock` on this kernel, or
 * undefined where there is nothing to enforce (no Landlock, best effort).
 */
export function checkLandlock(value: unknown): NativeLandlock | undefined {
  if (isLandlockLayers(value)) {
    const first = checkLandlock(value.sandbox);
    const then = checkLandlock(value.command);
    // Both are undefined, or neither: one kernel, one ABI.
    return first && then ? { ...first, then } : first;
  }
  const o = plainObject(value, 'options.landlock');
  knownKeys(o, ['read', 'write', 'execute', 'connect', 'bind', 'require'], 'options.landlock');
  const read = o.read === undefined ? [] : paths(o.read, 'options.landlock.read');
  const write = o.write === undefined ? [] : paths(o.write, 'options.landlock.write');
  const execute = o.execute === undefined ? undefined : paths(o.execute, 'options.landlock.execute');
  const connect = o.connect === undefined ? undefined : ports(o.connect, 'options.landlock.connect');
  const bind = o.bind === undefined ? undefined : ports(o.bind, 'options.landlock.bind');
  const require = o.require === undefined ? false : bool(o.require, 'options.landlock.require');

  const have = landlockAbi();
  const needed = Math.max(1, connect || bind ? NET_ABI : 1, write.length > 0 ? Math.max(...WRITE.map((r) => FS[r][1])) : 1);
  if (require && have < needed) {
    const raw = native().landlockAbi();
    throw new NsError({
      errno: have === 0 ? (raw < 0 ? raw : -95) : -95,
      syscall: 'landlock_create_ruleset',
      step: 'landlock',
      hint: have === 0
        ? `options.landlock.require needs Landlock ABI ${needed}, and this kernel has no Landlock (CONFIG_SECURITY_LANDLOCK, and 'landlock' in the lsm= boot parameter)`
        : `options.landlock.require needs Landlock ABI ${needed} (${connect || bind ? 'TCP ports need ABI 4, Linux 6.7' : 'every write right'}), and this kernel has ABI ${have}`,
    });
  }
  if (have === 0) return undefined;
  const mask = (rights: Right[]) => rights.reduce((m, r) => (FS[r][1] <= have ? m | FS[r][0] : m), 0n);
  const exec = mask(['execute']);
  const fsHandled = mask(Object.keys(FS) as Right[]);
  // Without `execute`, read and write paths may be executed from.
  const readAccess = mask(READ) | (execute ? 0n : exec);
  const writeAccess = readAccess | mask(WRITE);
  const rules = [
    ...read.map((path) => ({ path, access: readAccess })),
    ...write.map((path) => ({ path, access: writeAccess })),
    ...(execute ?? []).map((path) => ({ path, access: exec })),
  ];
  const netOk = have >= NET_ABI;
  const net = netOk ? (connect ? NET_CONNECT_TCP : 0n) | (bind ? NET_BIND_TCP : 0n) : 0n;
  const portRules = netOk
    ? [...(connect ?? []).map((p) => ({ port: BigInt(p), access: NET_CONNECT_TCP })), ...(bind ?? []).map((p) => ({ port: BigInt(p), access: NET_BIND_TCP }))]
    : [];
  return { attrSize: net !== 0n ? 16 : 8, fs: fsHandled, net, paths: rules, ports: portRules };
}

const under = (p: string, tree: string) => p === tree || p.startsWith(tree === '/' ? '/' : `${tree}/`);
const normal = (p: string) => {
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
};
const rightNames = (bits: bigint) => (Object.keys(FS) as Right[]).filter((r) => (bits & FS[r][0]) !== 0n).join(', ');

/**
 * @internal What of a sandbox command's `landlock` (`value`, checked as
 * `command`) asks for a right the sandbox's ruleset gives nowhere there:
 * [option, value, why], or undefined. A path gets the rights of every rule
 * of the sandbox's on it or a tree above it, compared as written
 * (normalized): a symlink or `..` that leads elsewhere is the second
 * layer's business, which still cannot widen anything. The execute right
 * that read and write paths carry without `execute` is not asked for.
 */
export function landlockBeyond(value: unknown, command: NativeLandlock, sandbox: NativeLandlock): [string, unknown, string] | undefined {
  const o = value as Record<string, string[] | number[] | undefined>;
  const names = (['read', 'write', 'execute'] as const).flatMap((k) => (o[k] ?? []).map((v, i) => [`options.landlock.${k}[${i}]`, v, k] as const));
  const implied = o.execute === undefined ? FS.execute[0] : 0n;
  for (const [i, rule] of command.paths.entries()) {
    const [name, v, kind] = names[i];
    const p = normal(rule.path);
    const given = sandbox.paths.reduce((m, s) => (under(p, normal(s.path)) ? m | s.access : m), 0n);
    const missing = (kind === 'execute' ? rule.access : rule.access & ~implied) & ~given;
    if (missing !== 0n) return [name, v, `the sandbox's landlock gives no ${rightNames(missing)} there`];
  }
  for (const [key, bit] of [['connect', NET_CONNECT_TCP], ['bind', NET_BIND_TCP]] as const) {
    if ((sandbox.net & bit) === 0n) continue;
    const allowed = new Set(sandbox.ports.filter((s) => s.access === bit).map((s) => s.port));
    const i = (o[key] ?? []).findIndex((port) => !allowed.has(BigInt(port)));
    if (i >= 0) return [`options.landlock.${key}[${i}]`, o[key]![i], `the sandbox's landlock allows no ${key} to that port`];
  }
  return undefined;
}

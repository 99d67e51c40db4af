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

// LANDLOCK_ACCESS_FS_* and the ABI that brought each. Every right and mask
// here fits 32 bits: plain numbers, not BigInt (a spawn builds a ruleset).
const FS = {
  execute: [1 << 0, 1],
  writeFile: [1 << 1, 1],
  readFile: [1 << 2, 1],
  readDir: [1 << 3, 1],
  removeDir: [1 << 4, 1],
  removeFile: [1 << 5, 1],
  makeChar: [1 << 6, 1],
  makeDir: [1 << 7, 1],
  makeReg: [1 << 8, 1],
  makeSock: [1 << 9, 1],
  makeFifo: [1 << 10, 1],
  makeBlock: [1 << 11, 1],
  makeSym: [1 << 12, 1],
  refer: [1 << 13, 2],
  truncate: [1 << 14, 3],
  ioctlDev: [1 << 15, 5],
} as const;
const NET_BIND_TCP = 1 << 0;
const NET_CONNECT_TCP = 1 << 1;
const NET_ABI = 4;

type Right = keyof typeof FS;
const READ: Right[] = ['readFile', 'readDir'];
const WRITE: Right[] = ['writeFile', 'removeDir', 'removeFile', 'makeChar', 'makeDir', 'makeReg', 'makeSock', 'makeFifo', 'makeBlock', 'makeSym', 'refer', 'truncate', 'ioctlDev'];

/**
 * Not exported from the package: the ruleset as the child builds it
 * (src-native/policy/policy_plan.h Landlock), in one buffer that
 * PolicyPlan::Parse reads with a single property lookup (a field per
 * N-API call cost the spawning thread tens of µs): little-endian, as on
 * both architectures nsjs builds for,
 *   u32 attrSize, u32 paths, u32 ports, u32 0, u64 fs, u64 net,
 *   per path: u64 access, u32 byte length, the bytes (no NUL),
 *   per port: u64 port, u64 access.
 */
export type NativeLandlock = Buffer;

/** The handled rights and the rights of each kind of rule, for one ABI (they depend on nothing else). */
interface Masks {
  handled: number;
  exec: number;
  read: number;
  write: number;
}
let masks: Masks | undefined;
function masksFor(have: number): Masks {
  if (masks === undefined) {
    const mask = (rights: Right[]) => rights.reduce((m, r) => (FS[r][1] <= have ? m | FS[r][0] : m), 0);
    masks = { handled: mask(Object.keys(FS) as Right[]), exec: mask(['execute']), read: mask(READ), write: mask(WRITE) };
  }
  return masks;
}

function encode(attrSize: number, fs: number, net: number, rules: { path: string; access: number }[], portRules: { port: number; access: number }[]): Buffer {
  let size = 32 + 16 * portRules.length;
  for (const r of rules) size += 12 + Buffer.byteLength(r.path);
  const b = Buffer.alloc(size);
  b.writeUInt32LE(attrSize, 0);
  b.writeUInt32LE(rules.length, 4);
  b.writeUInt32LE(portRules.length, 8);
  b.writeUInt32LE(fs, 16);
  b.writeUInt32LE(net, 24);
  let at = 32;
  for (const r of rules) {
    b.writeUInt32LE(r.access, at);
    const n = b.write(r.path, at + 12);
    b.writeUInt32LE(n, at + 8);
    at += 12 + n;
  }
  for (const p of portRules) {
    b.writeUInt32LE(p.port, at);
    b.writeUInt32LE(p.access, at + 8);
    at += 16;
  }
  return b;
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
  const o = plainObject(value, 'options.landlock');
  knownKeys(o, KEYS, 'options.landlock');
  const seen = seenBefore(o);
  if (seen) return seen.ruleset;
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
  const ruleset = have === 0 ? undefined : encodedFor(have, read, write, execute, connect, bind);
  recent.unshift({ lists: KEYS.map((k) => o[k]), ruleset });
  if (recent.length > RECENT) recent.pop();
  return ruleset;
}

const KEYS = ['read', 'write', 'execute', 'connect', 'bind', 'require'] as const;

/**
 * The last rules checked, as the options snapshots held them (frozen arrays
 * of checked strings and numbers, or a boolean), and what they gave: a spawn
 * that repeats a policy compares its lists element by element and is done.
 * Checking them again, the JSON key and its lookup cost the spawning thread
 * ~20 µs of cold code per spawn. Equal elements passed the same checks, and
 * the ABI they were checked against cannot change. A few entries: a
 * sandbox command checks its sandbox's rules and its own at every spawn.
 */
const recent: { lists: unknown[]; ruleset: NativeLandlock | undefined }[] = [];
const RECENT = 4;

function sameList(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function seenBefore(o: Record<string, unknown>): (typeof recent)[number] | undefined {
  next: for (const r of recent) {
    for (let i = 0; i < KEYS.length; i++) if (!sameList(o[KEYS[i]], r.lists[i])) continue next;
    return r;
  }
  return undefined;
}

/** The same rules, checked again, are encoded once, by their checked lists (strings and numbers only: their JSON names them exactly); C++ only reads them. */
const encoded = new Map<string, NativeLandlock>();
function encodedFor(have: number, read: string[], write: string[], execute: string[] | undefined, connect: number[] | undefined, bind: number[] | undefined): NativeLandlock {
  const key = JSON.stringify([read, write, execute ?? null, connect ?? null, bind ?? null]);
  let ruleset = encoded.get(key);
  if (ruleset === undefined) {
    ruleset = build(have, read, write, execute, connect, bind);
    if (encoded.size < 1024) encoded.set(key, ruleset);
  }
  return ruleset;
}

function build(have: number, read: string[], write: string[], execute: string[] | undefined, connect: number[] | undefined, bind: number[] | undefined): NativeLandlock {
  const m = masksFor(have);
  // Without `execute`, read and write paths may be executed from.
  const readAccess = m.read | (execute ? 0 : m.exec);
  const writeAccess = readAccess | m.write;
  const rules = [
    ...read.map((path) => ({ path, access: readAccess })),
    ...write.map((path) => ({ path, access: writeAccess })),
    ...(execute ?? []).map((path) => ({ path, access: m.exec })),
  ];
  const netOk = have >= NET_ABI;
  const net = netOk ? (connect ? NET_CONNECT_TCP : 0) | (bind ? NET_BIND_TCP : 0) : 0;
  const portRules = netOk
    ? [...(connect ?? []).map((port) => ({ port, access: NET_CONNECT_TCP })), ...(bind ?? []).map((port) => ({ port, access: NET_BIND_TCP }))]
    : [];
  return encode(net !== 0 ? 16 : 8, m.handled, net, rules, portRules);
}

const under = (p: string, tree: string) => p === tree || p.startsWith(tree === '/' ? '/' : `${tree}/`);
const normal = (p: string) => {
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
};
const rightNames = (bits: number) => (Object.keys(FS) as Right[]).filter((r) => (bits & FS[r][0]) !== 0).join(', ');

/** encode()'s buffer read back (only to compare a command's rules with its sandbox's). */
function decode(b: NativeLandlock) {
  const paths: { path: string; access: number }[] = [];
  const ports: { port: number; access: number }[] = [];
  let at = 32;
  for (let i = b.readUInt32LE(4); i > 0; i--) {
    const n = b.readUInt32LE(at + 8);
    paths.push({ access: b.readUInt32LE(at), path: b.toString('utf8', at + 12, at + 12 + n) });
    at += 12 + n;
  }
  for (let i = b.readUInt32LE(8); i > 0; i--, at += 16) ports.push({ port: b.readUInt32LE(at), access: b.readUInt32LE(at + 8) });
  return { net: b.readUInt32LE(24), paths, ports };
}

/**
 * @internal What of a sandbox command's `landlock` (`value`, checked as
 * `command`) asks for a right the sandbox's ruleset gives nowhere there:
 * [option, value, why], or undefined. A path gets the rights of every rule
 * of the sandbox's on it or a tree above it, compared as written
 * (normalized): a symlink or `..` that leads elsewhere is the second
 * layer's business, which still cannot widen anything. The execute right
 * that read and write paths carry without `execute` is not asked for.
 */
export function landlockBeyond(value: unknown, commandRuleset: NativeLandlock, sandboxRuleset: NativeLandlock): [string, unknown, string] | undefined {
  const o = value as Record<string, string[] | number[] | undefined>;
  const [command, sandbox] = [decode(commandRuleset), decode(sandboxRuleset)];
  const names = (['read', 'write', 'execute'] as const).flatMap((k) => (o[k] ?? []).map((v, i) => [`options.landlock.${k}[${i}]`, v, k] as const));
  const implied = o.execute === undefined ? FS.execute[0] : 0;
  for (const [i, rule] of command.paths.entries()) {
    const [name, v, kind] = names[i];
    const p = normal(rule.path);
    const given = sandbox.paths.reduce((m, s) => (under(p, normal(s.path)) ? m | s.access : m), 0);
    const missing = (kind === 'execute' ? rule.access : rule.access & ~implied) & ~given;
    if (missing !== 0) return [name, v, `the sandbox's landlock gives no ${rightNames(missing)} there`];
  }
  for (const [key, bit] of [['connect', NET_CONNECT_TCP], ['bind', NET_BIND_TCP]] as const) {
    if ((sandbox.net & bit) === 0) continue;
    const allowed = new Set(sandbox.ports.filter((s) => s.access === bit).map((s) => s.port));
    const i = (o[key] ?? []).findIndex((port) => !allowed.has(Number(port)));
    if (i >= 0) return [`options.landlock.${key}[${i}]`, o[key]![i], `the sandbox's landlock allows no ${key} to that port`];
  }
  return undefined;
}

// The seccomp option: a policy by syscall name, resolved with this
// architecture's table (syscalls.ts, generated from the kernel's headers) and
// compiled by the addon (src-native/policy/seccomp.cc) once per distinct
// policy. compileSeccomp is also the door for an OCI profile (linux.seccomp):
// rules with actions and argument comparisons, as libseccomp takes them.
import { NsError, invalidArgType, invalidArgValue } from '../core/errors';
import { native } from '../core/native';
import { integer, knownKeys, plainObject } from '../core/validate';
import { ERRNOS, SYSCALLS_ARM64, SYSCALLS_ELSEWHERE, SYSCALLS_X64 } from './syscalls';

/**
 * A seccomp policy by syscall name. `base` (default `'default'`) is the
 * profile to start from (see {@link DEFAULT_SECCOMP_DENY}); `'none'` refuses
 * nothing but TIOCSTI/TIOCLINUX. `allow` takes names out of the base's
 * refusals (`'ioctl'` lifts the TIOCSTI rule); `deny` adds refusals, each
 * with `errno` or its own; `errno` (a name such as `'EPERM'` or a number,
 * default `'EPERM'`) is what a refused call returns. A name that exists on
 * another architecture but not this one is ignored; a name that exists on
 * none is refused before anything starts. `allow` never lifts what
 * `allowUserNamespaces: false` refuses.
 */
export interface SeccompPolicy {
  /** The profile to start from: `'default'` ({@link DEFAULT_SECCOMP_DENY}, the default) or `'none'` (only the TIOCSTI/TIOCLINUX rule). */
  base?: 'default' | 'none';
  /** Syscall names taken out of the base's refusals (`'ioctl'` lifts the TIOCSTI rule). A hostile program inside can make them. */
  allow?: string[];
  /** Syscall names refused as well, each with `errno` or its own. */
  deny?: (
    | string
    | {
        /** The syscall's name. */
        syscall: string;
        /** What it returns instead (a name such as `'EACCES'` or a number, 1-4095); default the policy's `errno`. */
        errno?: string | number;
      }
  )[];
  /** What a refused call returns: an errno name (`'EPERM'`, the default) or its number (1-4095). */
  errno?: string | number;
}

/**
 * What the default profile refuses with EPERM, in the spirit of Docker's:
 * the kernel's keyrings (keyctl, add_key, request_key), bpf,
 * perf_event_open, userfaultfd, kexec_load, kexec_file_load, module loading
 * (init_module, finit_module, delete_module), open_by_handle_at and
 * name_to_handle_at (the "shocker" escape), iopl, ioperm, swapon, swapoff,
 * reboot, acct, lookup_dcookie, ptrace, process_vm_readv and
 * process_vm_writev (another process's memory, where a uid alone lets it),
 * io_uring_setup, io_uring_enter and io_uring_register (a large and
 * often-broken attack surface that ordinary programs fall back from), the
 * mount calls (mount, umount, umount2, mount_setattr, move_mount, open_tree,
 * fsopen, fsconfig, fsmount, fspick, pivot_root: in a new user namespace the
 * command holds CAP_SYS_ADMIN over its own mounts, and without this a hostile
 * one remounts a read-only bind read-write or unmounts a mask, as Docker's
 * profile refuses them without CAP_SYS_ADMIN; allow them by name for a
 * command that must mount), and `ioctl` TIOCSTI and TIOCLINUX (typing into a
 * terminal, even with `newSession: false`). Beside it, unless `allowUserNamespaces`, new user
 * namespaces are refused: clone, unshare and setns with CLONE_NEWUSER, and
 * clone3 with ENOSYS (its flags are in memory a filter cannot read; glibc
 * then falls back to clone). A syscall of another architecture (i386's
 * `int 0x80`, arm32) or of the x32 ABI kills the process.
 */
export const DEFAULT_SECCOMP_DENY: readonly string[] = Object.freeze([
  'keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open', 'userfaultfd', 'kexec_load', 'kexec_file_load',
  'init_module', 'finit_module', 'delete_module', 'open_by_handle_at', 'name_to_handle_at', 'iopl', 'ioperm',
  'swapon', 'swapoff', 'reboot', 'acct', 'lookup_dcookie', 'ptrace', 'process_vm_readv', 'process_vm_writev',
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  'mount', 'umount', 'umount2', 'mount_setattr', 'move_mount', 'open_tree', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'pivot_root',
]);

/** @internal A seccomp action (SCMP_ACT_* of libseccomp and OCI). */
export type SeccompAction =
  | { kind: 'allow' | 'kill-thread' | 'kill-process' | 'log' }
  | { kind: 'errno'; errno: number }
  | { kind: 'trap'; data?: number };

/** @internal An argument comparison, as SCMP_CMP_* (`maskedEq`: `(arg & mask) === value`). */
export interface SeccompArg {
  index: number;
  op: 'ne' | 'lt' | 'le' | 'eq' | 'ge' | 'gt' | 'maskedEq';
  value: bigint;
  mask?: bigint;
}

/** @internal One rule: a syscall by number (this architecture's) and, when every comparison holds, its action. */
export interface SeccompRule {
  nr: number;
  action: SeccompAction;
  args?: SeccompArg[];
}

/** @internal The filter: the rules of each syscall are tried in order, the first that holds decides; else `defaultAction`. */
export interface SeccompFilter {
  defaultAction: SeccompAction;
  rules: SeccompRule[];
}

const OPS = { ne: 1, lt: 2, le: 3, eq: 4, ge: 5, gt: 6, maskedEq: 7 } as const;

function actionValue(a: SeccompAction): number {
  switch (a.kind) {
    case 'kill-process':
      return 0x80000000;
    case 'kill-thread':
      return 0;
    case 'trap':
      return 0x00030000 | ((a.data ?? 0) & 0xffff);
    case 'errno':
      return 0x00050000 | (a.errno & 0xffff);
    case 'log':
      return 0x7ffc0000;
    case 'allow':
      return 0x7fff0000;
  }
}

/**
 * @internal This architecture's syscall numbers by name, or undefined where
 * nsjs has no table (then no filter can be built: features() says so).
 */
export function syscallTable(): Readonly<Record<string, number>> | undefined {
  return process.arch === 'x64' ? SYSCALLS_X64 : process.arch === 'arm64' ? SYSCALLS_ARM64 : undefined;
}

/**
 * @internal A syscall's number here, `null` for a name another architecture
 * has (a policy may name it; it is ignored here), `undefined` for a name no
 * architecture has.
 */
export function syscallNumber(name: string): number | null | undefined {
  const here = syscallTable();
  if (here && Object.hasOwn(here, name)) return here[name];
  if (Object.hasOwn(SYSCALLS_X64, name) || Object.hasOwn(SYSCALLS_ARM64, name) || SYSCALLS_ELSEWHERE.includes(name)) return null;
  return undefined;
}

/**
 * @internal The BPF program of `filter` (an array of struct sock_filter), for
 * this architecture: any other architecture and the x32 ABI kill the
 * process. Throws an Error where the addon cannot express the filter (too
 * long, a bad action): a bug of the caller's, or an OCI profile to refuse.
 */
export function compileSeccomp(filter: SeccompFilter): Buffer {
  const kill = actionValue({ kind: 'kill-process' });
  const r = native().compileSeccomp({
    defaultAction: actionValue(filter.defaultAction),
    badArch: kill,
    x32: kill,
    rules: filter.rules.map((rule) => ({
      nr: rule.nr,
      action: actionValue(rule.action),
      args: (rule.args ?? []).map((a) => ({ index: a.index, op: OPS[a.op], value: a.value, mask: a.mask ?? 0n })),
    })),
  });
  if (typeof r === 'string') throw new Error(`nsjs: cannot compile the seccomp filter: ${r}`);
  return r;
}

const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000n;
const TIOCSTI = 0x5412n;
const TIOCLINUX = 0x541cn;

function errnoValue(value: unknown, name: string): number {
  if (typeof value === 'number') return integer(value, name, 1, 4095);
  if (typeof value !== 'string') throw invalidArgType(name, 'an errno name or number', value);
  if (!Object.hasOwn(ERRNOS, value)) throw invalidArgValue(name, value, "must be an errno name such as 'EPERM'");
  return ERRNOS[value];
}

function syscallName(v: unknown, name: string): string {
  if (typeof v !== 'string') throw invalidArgType(name, 'of type string', v);
  if (syscallNumber(v) === undefined) throw invalidArgValue(name, v, 'is not a syscall of any architecture nsjs knows');
  return v;
}

function names(value: unknown, name: string): string[] {
  if (!Array.isArray(value)) throw invalidArgType(name, 'an array of syscall names', value);
  return Array.from(value, (v: unknown, i) => syscallName(v, `${name}[${i}]`));
}

/** A refusal by name: its rule here, or none where this architecture lacks the syscall. */
function refuse(syscall: string, errno: number, args?: SeccompArg[]): SeccompRule[] {
  const nr = syscallNumber(syscall);
  return typeof nr === 'number' ? [{ nr, action: { kind: 'errno', errno }, ...(args ? { args } : {}) }] : [];
}

/** The rules that keep the sandbox from making user namespaces (allowUserNamespaces: false). */
function noUserNamespaces(): SeccompRule[] {
  const newUser = (index: number): SeccompArg[] => [{ index, op: 'maskedEq', mask: CLONE_NEWUSER, value: CLONE_NEWUSER }];
  return [...refuse('clone', EPERM, newUser(0)), ...refuse('unshare', EPERM, newUser(0)), ...refuse('setns', EPERM, newUser(1)), ...refuse('clone3', ENOSYS)];
}

// The request is an unsigned int for the kernel: only the low word is compared (seccomp.cc kCmpMaskedEq).
const ttyRules = (errno: number) => [TIOCSTI, TIOCLINUX].flatMap((req) => refuse('ioctl', errno, [{ index: 1, op: 'maskedEq', mask: 0xffffffffn, value: req }]));

const cache = new Map<string, Buffer>();

/**
 * @internal The compiled filter for the options `seccomp` and
 * `allowUserNamespaces`, or undefined when there is nothing to filter.
 * Validates `seccomp` (names, errnos) first; compiled once per distinct
 * policy.
 */
export function checkSeccomp(value: unknown, allowUserNamespaces: boolean): Buffer | undefined {
  const filter = lookup(value, allowUserNamespaces);
  if (!filter || filterAvailable()) return filter;
  // No seccomp here (a kernel without CONFIG_SECCOMP_FILTER, or qemu-user,
  // which does not emulate it): the default, and the user-namespace rule
  // alone, are best effort, as Docker's; a profile asked for by name fails
  // before anything starts. features() and nsjs doctor say which it is.
  if (value === undefined || value === false) return undefined;
  throw new NsError({
    errno: -38,
    syscall: 'seccomp',
    step: 'seccomp',
    hint: "this kernel (or emulator) loads no seccomp filter with SECCOMP_RET_KILL_PROCESS (Linux 4.14, CONFIG_SECCOMP_FILTER): leave options.seccomp out for the default's best effort, or set it to false",
  });
}

let available: boolean | undefined;
/** Whether the kernel takes our filters (SECCOMP_GET_ACTION_AVAIL, asked once; it loads nothing). */
function filterAvailable(): boolean {
  available ??= native().seccompActionAvail(0x80000000) === 0;
  return available;
}

function lookup(value: unknown, allowUserNamespaces: boolean): Buffer | undefined {
  // The default and `false` by index: no key to build on every spawn.
  if (value === undefined || value === 'default' || value === false) {
    const i = (value === false ? 2 : 0) + (allowUserNamespaces ? 1 : 0);
    if (byName[i] === undefined) byName[i] = resolve(value, allowUserNamespaces) ?? null;
    return byName[i] ?? undefined;
  }
  // Per spawn the policy is looked up by what was written (a snapshot: plain
  // data), so that a policy costs a Map lookup, not a rule list each time.
  let written: string | undefined;
  try {
    written = JSON.stringify([value, allowUserNamespaces]);
  } catch {
    written = undefined; // not plain data: checked below, where it throws
  }
  if (written !== undefined && byWritten.has(written)) return byWritten.get(written) ?? undefined;
  const filter = resolve(value, allowUserNamespaces);
  if (written !== undefined && byWritten.size < 1024) byWritten.set(written, filter ?? null);
  return filter;
}

const byWritten = new Map<string, Buffer | null>();
/** 'default' and false, without and with allowUserNamespaces (null: no filter). */
const byName: (Buffer | null | undefined)[] = [undefined, undefined, undefined, undefined];

function resolve(value: unknown, allowUserNamespaces: boolean): Buffer | undefined {
  let rules: SeccompRule[] = allowUserNamespaces ? [] : noUserNamespaces();
  if (value === false) {
    // nothing more
  } else if (value === undefined || value === 'default') {
    rules = [...rules, ...DEFAULT_SECCOMP_DENY.flatMap((n) => refuse(n, EPERM)), ...ttyRules(EPERM)];
  } else if (typeof value === 'string') {
    throw invalidArgValue('options.seccomp', value, "must be 'default', false or a policy object");
  } else {
    const p = plainObject(value, 'options.seccomp');
    knownKeys(p, ['base', 'allow', 'deny', 'errno'], 'options.seccomp');
    const base = p.base ?? 'default';
    if (base !== 'default' && base !== 'none') throw invalidArgValue('options.seccomp.base', base, "must be 'default' or 'none'");
    const errno = p.errno === undefined ? EPERM : errnoValue(p.errno, 'options.seccomp.errno');
    const allow = new Set(p.allow === undefined ? [] : names(p.allow, 'options.seccomp.allow'));
    if (p.deny !== undefined && !Array.isArray(p.deny)) throw invalidArgType('options.seccomp.deny', 'an array', p.deny);
    const deny = Array.from((p.deny ?? []) as unknown[], (d: unknown, i): SeccompRule[] => {
      const name = `options.seccomp.deny[${i}]`;
      if (typeof d === 'string') return refuse(syscallName(d, name), errno);
      const e = plainObject(d, name);
      knownKeys(e, ['syscall', 'errno'], name);
      const syscall = syscallName(e.syscall, `${name}.syscall`);
      return refuse(syscall, e.errno === undefined ? errno : errnoValue(e.errno, `${name}.errno`));
    }).flat();
    const baseRules = [...(base === 'default' ? DEFAULT_SECCOMP_DENY.filter((n) => !allow.has(n)).flatMap((n) => refuse(n, errno)) : []), ...(allow.has('ioctl') ? [] : ttyRules(errno))];
    rules = [...rules, ...deny, ...baseRules];
  }
  if (rules.length === 0) return undefined;
  if (!syscallTable()) return undefined;
  const key = JSON.stringify(rules, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  let filter = cache.get(key);
  if (!filter) {
    filter = compileSeccomp({ defaultAction: { kind: 'allow' }, rules });
    cache.set(key, filter);
  }
  return filter;
}

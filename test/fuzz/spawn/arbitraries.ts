// The arbitraries of the options fuzz (options.fuzz.test.ts): option objects
// for spawnIsolated biased toward the near-valid — each known key present
// with probability 1/8, its value mostly valid, else almost right (out by
// one, fractional, NaN, -0, a string or bigint for a number, a hole in an
// array, an unknown key), else garbage; half of the objects repaired to
// carry the namespaces their options need. Kept apart from the test so that
// a failure can be replayed outside jest (fc.sample with the same seed).
import fc from 'fast-check';

import type { Namespace } from '../../../lib';
import { NAMESPACE_TYPES, type NamespaceType } from '../../../lib/core/nstypes';

const root = process.getuid!() === 0;

/** What a throwing getter or Proxy trap throws: the caller's own error, the `cause` of the ERR_INVALID_ARG_VALUE naming the option. */
export class GetterError extends Error {}

/**
 * How an object was twisted into something other than plain data (issue 13,
 * items 8, 9): kept on it under a symbol, which no options reader sees.
 * `plain` is the same options as plain data, which must be checked the same
 * way; `calls` counts a getter's calls (at most one per checkOptions).
 */
export interface Twist {
  kind: 'getter' | 'flip' | 'proxy' | 'nestedProxy' | 'throwingProxy';
  key: string;
  plain?: Record<string, unknown>;
  calls: number;
}
export const TWIST = Symbol('twist');

/** What a flipping getter answers after its first call: values that would take a sandbox apart, had they been read. */
export const HOSTILE: Record<string, unknown> = {
  namespaces: 'all', join: { pid: 1 }, init: true, network: { veth: { hostAddress: '169.254.99.1/30' } }, user: 'root', uid: 0, gid: 0, groups: [0],
  hostname: 'pwned', domainname: 'pwned', mounts: [{ type: 'tmpfs', target: '/' }], root: '/tmp', propagation: 'shared', cwd: 'relative',
  env: { PWNED: '1' }, argv0: 'pwned', stdio: 'inherit', dieWithParent: 'yes', newSession: false, noNewPrivileges: false,
  capabilities: { keep: ['CAP_SYS_ADMIN'] }, rlimits: { nofile: [1, 1] }, timeOffsets: { monotonic: 1 }, signal: {}, timeout: 1, killSignal: 0,
  seccomp: false, allowUserNamespaces: true, landlock: { read: ['/'], write: ['/'] }, killTimeout: 0, cgroup: { parent: '' }, terminal: true,
  persist: { net: '/run/netns/pwned' }, chroot: '/', binfmtRegister: { dir: '/proc/sys/fs/binfmt_misc', entry: ':pwned:M::MZ::/tmp/pwned:' }, rootFd: 0, cwdFd: 0,
};
/** Keys put on Object.prototype by the fuzz: every option, the nested ones, and what the plan reads internally. */
export const POLLUTABLE: Record<string, unknown> = {
  ...HOSTILE, recursive: false, readonly: true, loopback: false, veth: { hostName: 'pwn0' }, keep: ['CAP_SYS_ADMIN'], types: ['user'], pid: 1,
  setgroups: 'allow', uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 1 }], size: '1k', mode: 0o777,
  source: '/', flags: 32, data: 'x', execFd: 0, fault: { op: 0, errno: 5 }, s: ['/'], a: 1, b: 1, b64: 1, addr: '127.0.0.1', errno: -1, op: 0,
  owner: { uid: 0, gid: 0 }, drop: [], base: 'none', allow: ['keyctl'], deny: [], read: ['/'], write: ['/'], execute: ['/'], connect: [1], bind: [1],
  require: true, memory: { max: 'max' }, pids: { max: 'max' }, cpu: { weight: 1 }, parent: '', max: 'max', high: 'max', swapMax: 'max', weight: 1,
  cols: 1, rows: 1, dir: '/', entry: ':pwned:M::MZ::/tmp/pwned:', net: '/run/netns/pwned', uts: '/tmp/pwned', cgroupFd: 0, landlockThen: {}, proxy: {},
};

// ---- arbitraries -------------------------------------------------------

const { constantFrom: oneOf, constant } = fc;
type Arb = fc.Arbitrary<unknown>;
/** Valid values, near-valid ones, and garbage, weighted toward the first. */
const mix = (valid: Arb, near: Arb, garbageWeight = 1): Arb =>
  fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: near, weight: 3 }, { arbitrary: garbage(), weight: garbageWeight });

/** Values of the wrong type everywhere: the edges of JavaScript. */
function garbage(): Arb {
  return fc.oneof(
    oneOf(null, NaN, -0, 0, 1, -1, 1.5, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 53, Number.MAX_VALUE, '', 'x', '\0', true, false, 0n, -1n, 2n ** 64n),
    constant([]),
    constant({}),
    fc.constant(null).map(() => Symbol('fuzz')),
    fc.constant(null).map(() => () => 0),
    fc.constant(null).map(() => Object.create(null) as object),
    fc.constant(null).map(() => new Date(0)),
    fc.constant(null).map(() => new Map([['a', 1]])),
    fc.constant(null).map(() => new Uint8Array(2)),
    fc.constant(null).map(() => ({ constructor: { name: 5 } })),
    fc.constant(null).map(() => ({ constructor: { name: Symbol('name') } })),
    fc.string({ maxLength: 8 }),
    fc.integer(),
    fc.double(),
  );
}

const int = (min: number, max: number) => fc.integer({ min, max });
/** Numbers that are almost right: out by one, fractional, NaN, -0, huge, as strings or bigints. */
const nearInt = (min: number, max: number): Arb =>
  fc.oneof(
    oneOf(min - 1, max + 1, min + 0.5, NaN, -0, Infinity, -Infinity, 2 ** 53, -(2 ** 53)),
    int(min, Math.min(max, 2 ** 31)).map((n) => String(n)),
    int(min, Math.min(max, 2 ** 31)).map((n) => BigInt(n)),
  );
/** An array, sometimes with a hole in it (a sparse array is an array too). */
const arrayOf = (item: Arb, maxLength: number): Arb =>
  fc.oneof(
    { arbitrary: fc.array(item, { maxLength }), weight: 5 },
    { arbitrary: fc.array(item, { minLength: 1, maxLength }).map((a) => { const b = [...a]; delete b[0]; return b; }), weight: 1 },
  );
const withUnknownKey = (obj: Arb): Arb =>
  fc.tuple(obj, oneOf('extra', 'Type', 'targt', 'readOnly', '__proto__', 'constructor')).map(([o, k]) => {
    const copy = { ...(o as object) } as Record<string, unknown>;
    Object.defineProperty(copy, k, { value: 1, enumerable: true, configurable: true, writable: true });
    return copy;
  });

const nsType: Arb = mix(oneOf(...NAMESPACE_TYPES), oneOf('NET', 'network', '', 'mount', 'uts ', 'all'));
const namespaces: Arb = mix(fc.oneof(fc.subarray([...NAMESPACE_TYPES]), constant('all')), fc.oneof(arrayOf(nsType, 4), oneOf('net', 'ALL', 'user')));

/** A few paths: real ones (safe to mount over in a private mount namespace), missing ones, relative ones. */
const somePath: Arb = mix(oneOf('/tmp', '/mnt', '/proc', '/dev', '/', '/nsjs/no/such', '/etc/hostname', '/tmp/../tmp'), oneOf('', 'tmp', 'test', './mnt', '/t\0', 'a'.repeat(5000)));

export const SAFE_RAW_FLAGS = [0, 1 /* MS_RDONLY */, 2 /* MS_NOSUID */, 4 /* MS_NODEV */, 8 /* MS_NOEXEC */, 1024 /* MS_NOATIME */, 14];
const rawMount: Arb = fc.record(
  {
    type: mix(oneOf('tmpfs', 'mqueue', 'sysfs', 'nosuchfs', 'devpts'), oneOf('', 'a\0b')),
    source: mix(oneOf('none', 'tmpfs'), oneOf('x\0')),
    target: somePath,
    flags: mix(oneOf(...SAFE_RAW_FLAGS), fc.oneof(nearInt(0, 0xffffffff), fc.nat())),
    data: mix(oneOf('size=1m', 'mode=700', 'nosuchoption', ''), oneOf('a\0b')),
  },
  { requiredKeys: ['type', 'target'] },
);
const mount: Arb = fc.oneof(
  fc.record({ type: constant('proc'), target: somePath }),
  fc.record({ type: constant('dev'), target: somePath }),
  fc.record(
    { type: constant('tmpfs'), target: somePath, size: mix(fc.oneof(oneOf('1m', '64k', '1G', '50%', 4096)), oneOf('0', '1.5m', 'lots', 0, -1, 1.5, '1mb')), mode: mix(int(0, 0o7777), nearInt(0, 0o7777)) },
    { requiredKeys: ['type', 'target'] },
  ),
  fc.record(
    { type: constant('bind'), source: somePath, target: somePath, readonly: mix(fc.boolean(), oneOf('true', 1)), recursive: mix(fc.boolean(), oneOf(0, 'no')) },
    { requiredKeys: ['type', 'target'] },
  ),
  rawMount,
  withUnknownKey(fc.record({ type: oneOf('proc', 'tmpfs', 'bind', 'dev'), target: somePath })),
  garbage(),
);

/** Link-local and documentation addresses only: the sandbox's network rules. */
const cidr: Arb = mix(
  fc.oneof(
    fc.tuple(int(1, 254), int(0, 255), int(24, 30)).map(([a, b, p]) => `169.254.${a}.${b}/${p}`),
    fc.tuple(int(0, 0xffff), int(1, 0xfffe), int(64, 127)).map(([a, b, p]) => `2001:db8:${a.toString(16)}::${b.toString(16)}/${p}`),
  ),
  oneOf('169.254.1.1', '169.254.1.1/33', '169.254.1.1/-1', '169.254.1.1/08', '169.254.300.1/30', '2001:db8::1/129', 'fe80::1%lo/64', 'fe80::1%1/64', '::ffff:169.254.1.1/120', 'localhost/8', '/24', '169.254.1.1/ 30'),
);
const linkName: Arb = mix(oneOf('nsjsfz0', 'nsjsfz1', 'nsjsfz2', 'eth0', 'lo', 'x'.repeat(15), 'ünï'), oneOf('', '.', '..', 'a/b', 'a:b', 'a b', 'x'.repeat(16), 'a\0', 'ü'.repeat(8)));
const veth: Arb = fc.oneof(
  fc.record(
    { hostName: linkName, name: linkName, hostAddress: fc.oneof(cidr, arrayOf(cidr, 2)), address: fc.oneof(cidr, arrayOf(cidr, 2)), gateway: mix(fc.boolean(), oneOf('yes')), mtu: mix(int(68, 65535), nearInt(68, 65535)) },
    { requiredKeys: [] },
  ),
  withUnknownKey(fc.record({ address: cidr }, { requiredKeys: [] })),
  garbage(),
);
const network: Arb = mix(
  fc.record({ loopback: mix(fc.boolean(), oneOf('false', 0)), veth }, { requiredKeys: [] }),
  withUnknownKey(constant({})),
);

const idMap = (own: number): Arb =>
  fc.oneof(
    { arbitrary: fc.record({ inside: mix(oneOf(0, own, 1000), nearInt(0, 0xfffffffe)), outside: mix(oneOf(own, 0, 100000), nearInt(0, 0xfffffffe)), count: mix(oneOf(1, 1, 65536), nearInt(1, 0xffffffff)) }), weight: 5 },
    { arbitrary: withUnknownKey(fc.record({ inside: constant(0), outside: constant(own), count: constant(1) })), weight: 1 },
    { arbitrary: garbage(), weight: 1 },
  );
const user: Arb = mix(
  fc.oneof(
    oneOf('root', 'self', 'none', 'auto'),
    fc.record(
      {
        uidMap: arrayOf(idMap(process.getuid!()), 3),
        gidMap: arrayOf(idMap(process.getgid!()), 3),
        setgroups: mix(oneOf('allow', 'deny'), oneOf('Deny', true)),
        // unshare --owner: the child becomes these ids before it makes the namespace
        owner: mix(
          fc.record({ uid: mix(oneOf(0, 1000, 65534, process.getuid!()), nearInt(0, 0xfffffffe)), gid: mix(oneOf(0, 1000, 65534, process.getgid!()), nearInt(0, 0xfffffffe)) }),
          fc.oneof(withUnknownKey(constant({ uid: 1000, gid: 1000 })), constant({ uid: 1000 }), constant({ gid: 1000 })),
        ),
      },
      // either map may be left out (issue 23 item 2)
      { requiredKeys: [] },
    ),
  ),
  oneOf('admin', 'ROOT', '', 'nobody'),
);

/** Join our own namespaces (a no-op or EPERM) or a pid that cannot exist: never another process's. */
let joinable: Namespace[] = [];
let closedNs: Namespace | undefined;
/** Namespaces the join arbitrary hands out: ours (open), and one closed. */
export function setJoinable(open: Namespace[], closed: Namespace): void {
  joinable = open;
  closedNs = closed;
}
const join: Arb = mix(
  fc.oneof(
    fc.record({ pid: constant(process.pid), types: fc.subarray([...NAMESPACE_TYPES]) }, { requiredKeys: ['pid'] }),
    fc.record({ pid: constant(0x3fffffff) }),
    fc.constant(null).map(() => []),
    fc.nat(3).map((n) => joinable.slice(0, n)),
  ),
  fc.oneof(
    fc.record({ pid: nearInt(1, 0x3fffffff) }),
    fc.record({ pid: constant(process.pid), types: arrayOf(nsType, 3) }),
    fc.constant(null).map(() => [closedNs]),
    fc.constant(null).map(() => [joinable[0], joinable[0]]),
    constant(['net']),
    withUnknownKey(fc.record({ pid: constant(process.pid) })),
  ),
);

const stdioEntry: Arb = mix(oneOf('pipe', 'inherit', 'ignore', null, undefined, 0, 1, 2), oneOf('ipc', 'overlapped', 'piped', -1, 1.5, 9999, 2 ** 31, '1', 1n));
const stdio: Arb = mix(fc.oneof(oneOf('pipe', 'inherit', 'ignore'), arrayOf(stdioEntry, 5)), fc.oneof(oneOf('piped', 'ipc', ''), constant(new Array(65).fill('ignore'))));

const env: Arb = mix(
  fc.oneof(
    constant({ PATH: '/usr/bin:/bin' }),
    fc.dictionary(oneOf('PATH', 'HOME', 'A', 'LANG'), oneOf('/usr/bin:/bin', '/nsjs/no/such', 'x', ''), { maxKeys: 3 }),
    constant({ PATH: '/usr/bin:/bin', NUM: 5, BOOL: true, NULL: null }),
  ),
  fc.oneof(
    constant({ 'A=B': 'x' }),
    constant({ '': 'x' }),
    constant({ A: 'x\0y' }),
    constant({ 'A\0': 'x' }),
    fc.constant(null).map(() => ({ A: Symbol('s') })),
    fc.constant(null).map(() => ({ A: { toString: () => 'via toString' } })),
    // Values that cannot be converted: no toString at all, or the caller's own failing. Refused naming options.env.A, the error as its cause.
    fc.constant(null).map(() => ({ A: Object.create(null) as object })),
    fc.constant(null).map(() => ({
      A: {
        toString() {
          throw new Error('toString of options.env.A');
        },
      },
    })),
  ),
);

const cap: Arb = mix(oneOf('CAP_NET_ADMIN', 'net_raw', 'CAP_SYS_ADMIN', 'cap_chown', 'CAP_CHECKPOINT_RESTORE'), oneOf('CAP_FLY', 'CAP_', '', 'NET_ADMIN ', 'toString', '__proto__'));
const capabilities: Arb = mix(fc.record({ keep: arrayOf(cap, 3), drop: arrayOf(cap, 3) }, { requiredKeys: [] }), withUnknownKey(fc.record({ keep: constant([]) })));

const RLIMIT_OK: [string, Arb][] = [
  ['nofile', fc.oneof(int(64, 1024).map((n) => [n, n]), constant([64, 4096]), constant([2 ** 40, 2 ** 40]))],
  ['core', oneOf([0, 0], [0, Infinity], [Infinity, Infinity])],
  ['nproc', oneOf([4096, 4096], [Infinity, Infinity])],
  ['cpu', oneOf([60, Infinity], [3600, 3600])],
  ['fsize', oneOf([2 ** 30, Infinity])],
];
const rlimitPair = (ok: Arb): Arb => mix(ok, oneOf([1], [1, 2, 3], [10, 5], [Infinity, 5], [NaN, 1], [-1, 5], [1.5, 2], ['1', 2], [1n, 2n], 'x', [-0, 0]));
const rlimits: Arb = fc.oneof(
  fc.record(Object.fromEntries(RLIMIT_OK.map(([k, ok]) => [k, rlimitPair(ok)])), { requiredKeys: [] }),
  fc.tuple(oneOf('files', 'NOFILE', 'toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf'), rlimitPair(constant([1, 1]))).map(([k, v]) => {
    const o: Record<string, unknown> = {};
    Object.defineProperty(o, k, { value: v, enumerable: true, configurable: true, writable: true });
    return o;
  }),
  garbage(),
);

const timeOffsets: Arb = mix(
  fc.record({ monotonic: mix(oneOf(0, 86400, -1, 1e6), nearInt(-(2 ** 40), 2 ** 40)), boottime: mix(oneOf(0, 3600, -1), nearInt(-(2 ** 40), 2 ** 40)) }, { requiredKeys: [] }),
  withUnknownKey(constant({ realtime: 1 })),
);
const signal: Arb = mix(
  fc.oneof(fc.constant(null).map(() => new AbortController().signal), fc.constant(null).map(() => AbortSignal.abort())),
  fc.oneof(constant({ aborted: false }), fc.constant(null).map(() => new AbortController())),
);
const killSignal: Arb = mix(oneOf('SIGTERM', 'SIGKILL', 'SIGINT', 'SIGUSR1', 'SIGHUP', 9, 15), oneOf('SIGFOO', 'sigterm', 'TERM', 'toString', '__proto__', 0, 34, 64, 65, -1, 1.5, 2 ** 32, 15n, '', '0'));
const bool: Arb = mix(fc.boolean(), oneOf('true', 1, 0, 'false'));
const id: Arb = mix(oneOf(0, process.getuid!(), 1000, 65534), nearInt(0, 0xfffffffe));
const hostname: Arb = mix(
  fc.oneof(oneOf('box', 'fuzz-host', 'x'.repeat(64), 'ü'.repeat(32)), fc.string({ maxLength: 20 })),
  oneOf('x'.repeat(65), 'ü'.repeat(33), 'a\0b', '😀'.repeat(17)),
);

/** Syscalls `true` never makes: refusing them cannot stop it. */
const syscallName: Arb = mix(oneOf('keyctl', 'ptrace', 'mount', 'bpf', 'acct', 'reboot', 'swapon', 'userfaultfd'), oneOf('nosuchcall', '', 'KEYCTL', 'keyctl ', 'toString', 'x\0'));
const errno: Arb = mix(oneOf('EPERM', 'ENOSYS', 'EACCES', 1, 38), oneOf('EFOO', 'eperm', 0, -1, 4096, 1.5, 1n, ''));
const seccomp: Arb = mix(
  fc.oneof(
    oneOf('default', false),
    fc.record(
      { base: mix(oneOf('default', 'none'), oneOf('Default', 'all', '')), allow: arrayOf(syscallName, 3), deny: arrayOf(fc.oneof(syscallName, fc.record({ syscall: syscallName, errno }, { requiredKeys: ['syscall'] })), 3), errno },
      { requiredKeys: [] },
    ),
  ),
  fc.oneof(oneOf(true, 'none', 'strict'), withUnknownKey(constant({ base: 'none' }))),
);
/** Ports for Landlock's TCP rules. */
const port: Arb = mix(oneOf(0, 80, 8080, 65535), nearInt(0, 65535));
const landlock: Arb = mix(
  fc.record({ read: arrayOf(fc.oneof(oneOf('/usr', '/'), somePath), 3), write: arrayOf(somePath, 2), execute: arrayOf(somePath, 2), connect: arrayOf(port, 2), bind: arrayOf(port, 2), require: bool }, { requiredKeys: [] }),
  withUnknownKey(constant({ read: ['/'] })),
);
const cgroupSize: Arb = mix(oneOf('32M', '64M', 'max', 2 ** 26, '1G'), oneOf('1k', 1, '32m', '32MB', -1, 1.5, '', 'unlimited', 2n ** 64n));
const cgroup: Arb = mix(
  fc.record(
    {
      memory: mix(fc.record({ max: cgroupSize, high: cgroupSize, swapMax: mix(oneOf('0', 0, 'max', '16M'), oneOf('-1', 'none')) }, { requiredKeys: [] }), withUnknownKey(constant({ max: '64M' }))),
      // at least 4: init and the command are two processes
      pids: mix(fc.record({ max: mix(oneOf(4, 16, 'max'), fc.oneof(nearInt(1, 2 ** 31), oneOf(0, 'MAX'))) }), withUnknownKey(constant({ max: 16 }))),
      cpu: mix(fc.record({ max: mix(oneOf(0.5, 1, 2, 4096), oneOf(0, 0.001, 4097, NaN, '1', -1)), weight: mix(int(1, 10000), nearInt(1, 10000)) }, { requiredKeys: [] }), withUnknownKey(constant({ weight: 100 }))),
      // no such parent: a refusal of the kernel's, never a cgroup made elsewhere
      parent: mix(oneOf('nsjs-fuzz/no/such', '/nsjs-fuzz-no-such/'), oneOf('..', 'a/../b', './x', 'a\0b', '/.')),
    },
    { requiredKeys: [] },
  ),
  withUnknownKey(constant({})),
);
const terminal: Arb = mix(
  fc.oneof(fc.boolean(), fc.record({ cols: mix(int(1, 0xffff), nearInt(1, 0xffff)), rows: mix(int(1, 0xffff), nearInt(1, 0xffff)) }, { requiredKeys: [] })),
  fc.oneof(oneOf('yes', 1, { cols: 0 }, { rows: 65536 }), withUnknownKey(constant({ cols: 80 }))),
);
/** Where a kept namespace would go: files that do not exist (spawned), or the host's (validated only, see safeToSpawn). */
const persistKey = oneOf(...NAMESPACE_TYPES, 'NET', 'mount', '');
const persist: Arb = mix(
  fc.dictionary(persistKey, mix(oneOf('/nsjs/no/such/ns', '/tmp/nsjs-fuzz-no-such'), oneOf('relative', '', 'a\0')), { maxKeys: 3 }),
  fc.oneof(withUnknownKey(constant({ net: '/nsjs/no/such/ns' })), fc.dictionary(persistKey, somePath, { maxKeys: 2 })),
);
/** A directory fd of ours (of /), for rootFd and cwdFd. */
let dirFd = -1;
export function setDirFd(fd: number): void {
  dirFd = fd;
}
/** An fd of ours: one of /, std ones (no directory: ENOTDIR), one not open, the edges. */
const fd: Arb = mix(fc.oneof(fc.constant(null).map(() => dirFd), oneOf(0, 1, 2, 9999, 2 ** 31 - 1)), nearInt(0, 2 ** 31 - 1));
const binfmtRegister: Arb = mix(
  fc.record({ dir: somePath, entry: mix(oneOf(':fuzz:M::\\x7fFUZZ::/bin/true:', ':fuzz:E::fz::/bin/true:', ''), oneOf('a\0b')) }, { requiredKeys: [] }),
  withUnknownKey(constant({ dir: '/nsjs/no/such', entry: ':x:E::x::/bin/true:' })),
);


const FIELDS: Record<string, Arb> = {
  namespaces,
  join,
  init: bool,
  network,
  user,
  uid: id,
  gid: id,
  groups: mix(arrayOf(id, 3), fc.oneof(oneOf(0, 'wheel'), fc.constant(null).map(() => new Array(65537).fill(0)))),
  hostname,
  domainname: hostname,
  mounts: mix(arrayOf(mount, 3), oneOf({ type: 'proc', target: '/proc' }, '/proc')),
  root: somePath,
  propagation: mix(oneOf('private', 'slave', 'shared', 'unchanged'), oneOf('rshared', 'PRIVATE', '', 'rprivate')),
  cwd: somePath,
  env,
  argv0: mix(oneOf('fuzz', '', 'true'), oneOf('a\0b')),
  stdio,
  dieWithParent: bool,
  newSession: bool,
  noNewPrivileges: bool,
  capabilities,
  rlimits,
  timeOffsets,
  signal,
  timeout: mix(oneOf(0, 1, 5, 1000, 2 ** 31 - 1), nearInt(0, 2 ** 31 - 1)),
  killSignal,
  seccomp,
  allowUserNamespaces: bool,
  landlock,
  killTimeout: mix(oneOf(0, 1, 2000, 2 ** 31 - 1), nearInt(0, 2 ** 31 - 1)),
  cgroup,
  terminal,
  persist,
  chroot: somePath,
  binfmtRegister,
  rootFd: fd,
  cwdFd: fd,
};

/** Which namespace an option needs (the rooms' `needs()` checks), for the repair step. */
const NEEDS: Record<string, NamespaceType> = {
  user: 'user', hostname: 'uts', domainname: 'uts', mounts: 'mnt', root: 'mnt', timeOffsets: 'time', network: 'net', init: 'pid', propagation: 'mnt',
};

const ABSENT = Symbol('absent');
/** Misspelt and near-miss option names. */
const oneOfKeys = ['namespace', 'hostnmae', 'stdin', 'mount', 'uid ', 'timeOut', 'Env'];
/** Each known key present with probability 1/12 (about three per object), so that valid combinations are common. */
const fields = fc.record(
  Object.fromEntries(Object.entries(FIELDS).map(([k, arb]) => [k, fc.oneof({ arbitrary: constant(ABSENT), weight: 11 }, { arbitrary: arb, weight: 1 })])),
);

/**
 * Half of the objects are repaired toward validity: the namespaces their
 * options need are added (and 'user' where we are unprivileged), as a user
 * would after reading the error. The other half keep their conflicts (init
 * without pid, timeOffsets without time, uid without a user namespace as
 * rootless…).
 */
export const options: Arb = fc
  .tuple(
    fields,
    fc.boolean(),
    fc.oneof(
      { arbitrary: constant('none'), weight: 24 },
      { arbitrary: oneOf('unknownKey', 'symbolKey', 'notObject'), weight: 3 },
      { arbitrary: oneOf('getter', 'flip', 'proxy', 'nestedProxy', 'throwingProxy'), weight: 5 },
    ),
    garbage(),
    oneOf(...Object.keys(FIELDS)),
  )
  .map(([f, repair, twist, junk, key]) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(f)) if (v !== ABSENT) o[k] = v;
    if (repair && (o.namespaces === undefined || Array.isArray(o.namespaces))) {
      const ns = new Set<unknown>((o.namespaces as unknown[] | undefined) ?? []);
      for (const [k, type] of Object.entries(NEEDS)) if (o[k] !== undefined && o[k] !== false) ns.add(type);
      // persist keeps namespaces of these types
      if (typeof o.persist === 'object' && o.persist !== null) for (const t of Object.keys(o.persist)) if ((NAMESPACE_TYPES as readonly string[]).includes(t)) ns.add(t);
      if (!root && (ns.size > 0 || o.uid !== undefined || o.gid !== undefined || o.groups !== undefined)) ns.add('user');
      if (ns.size > 0) o.namespaces = [...ns];
    }
    switch (twist) {
      case 'unknownKey':
        o[oneOfKeys[Object.keys(o).length % oneOfKeys.length]] = junk;
        return o;
      case 'symbolKey':
        // Symbol keys are not options: ignored, as Object.keys ignores them.
        Object.defineProperty(o, Symbol('fuzz'), { value: junk, enumerable: true });
        return o;
      case 'getter': {
        const t: Twist = { kind: 'getter', key, calls: 0 };
        Object.defineProperty(o, key, {
          enumerable: true,
          get() {
            t.calls++;
            throw new GetterError(`getter of ${key}`);
          },
        });
        return Object.defineProperty(o, TWIST, { value: t });
      }
      case 'flip': {
        // The generated value to the first read, a hostile one to every later read.
        const t: Twist = { kind: 'flip', key, plain: { ...o }, calls: 0 };
        const first = o[key];
        Object.defineProperty(o, key, {
          enumerable: true,
          get: () => (t.calls++ === 0 ? first : HOSTILE[key]),
        });
        return Object.defineProperty(o, TWIST, { value: t });
      }
      case 'proxy':
        return new Proxy(Object.defineProperty(o, TWIST, { value: { kind: 'proxy', key, plain: o, calls: 0 } satisfies Twist }), {});
      case 'nestedProxy': {
        const plain = { ...o };
        // Plain data only: a Proxy of an AbortSignal or a Namespace is refused by design (it is copied, not trusted).
        const v = o[key];
        const proto = typeof v === 'object' && v !== null ? Object.getPrototypeOf(v) : undefined;
        if (proto === Object.prototype || proto === Array.prototype) o[key] = new Proxy(v as object, {});
        return Object.defineProperty(o, TWIST, { value: { kind: 'nestedProxy', key, plain, calls: 0 } satisfies Twist });
      }
      case 'throwingProxy': {
        const t: Twist = { kind: 'throwingProxy', key, calls: 0 };
        const trap = () => {
          t.calls++;
          throw new GetterError(`trap of ${key}`);
        };
        // Every trap but get (so that the fuzz can still read TWIST): asked for its keys, it throws.
        return new Proxy(Object.defineProperty(o, TWIST, { value: t }), { ownKeys: trap, getOwnPropertyDescriptor: trap });
      }
      case 'notObject':
        return junk;
      default:
        return o;
    }
  });

/** Options whose spawn could touch the host outside a sandbox: validated, never spawned. */
export function safeToSpawn(o: Record<string, unknown>): boolean {
  const mounts = Array.isArray(o.mounts) ? (o.mounts as unknown[]) : [];
  if ((mounts.length > 0 || o.root !== undefined) && o.propagation !== undefined && o.propagation !== 'private' && o.propagation !== 'slave') return false;
  for (const m of mounts) {
    if (m === undefined) continue; // a hole: checkOptions must refuse it or cope
    const r = m as { type?: unknown; flags?: unknown };
    if (!['proc', 'dev', 'tmpfs', 'bind', 'mqueue', 'sysfs', 'nosuchfs', 'devpts'].includes(r.type as string)) return false;
    if (r.flags !== undefined && !SAFE_RAW_FLAGS.includes(r.flags as number)) return false;
  }
  // A binfmt_misc registration is written where `dir` says; a kept namespace is bound on a file of ours.
  if (o.binfmtRegister !== undefined) return false;
  if (typeof o.persist === 'object' && o.persist !== null && !Object.values(o.persist).every((f) => f === '/nsjs/no/such/ns' || f === '/tmp/nsjs-fuzz-no-such')) return false;
  const j = o.join as { pid?: unknown } | undefined;
  if (j && !Array.isArray(j) && j.pid !== process.pid && j.pid !== 0x3fffffff) return false;
  const v = (o.network as { veth?: { address?: unknown; hostAddress?: unknown } } | undefined)?.veth;
  if (v) {
    const addrs = [v.address, v.hostAddress].flat().filter((a) => a !== undefined) as string[];
    if (!addrs.every((a) => /^169\.254\./.test(a) || /^2001:db8:/.test(a))) return false;
  }
  return true;
}

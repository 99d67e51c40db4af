// core/: what every room speaks, importing nothing of ours: the errors
// (errors.ts: NsError and Node's argument errors), the argument checks and
// the options snapshot (validate.ts), the kernel's constants and namespace
// types (constants.ts, nstypes.ts), signals, the plan's vocabulary
// (plan.ts), the explanations of the kernel's refusals (explain.ts), the
// Namespace brand (brand.ts), the raw `sys` module, and this file, the
// binding's only importer.
//
// The raw binding, typed privately. This is the only module that loads it;
// everything else imports from here. Every syscall binding returns its result
// (>= 0) or -errno: native code reports, errors.ts explains.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NsError, check, unsupportedPlatform } from './errors';
import type { EncodedPlan } from './plan';

export interface NativePidfdWatch {
  /** 0, or -errno when the poll could not start. */
  start(): number;
  ref(): void;
  unref(): void;
  close(): void;
}

/** Set on a failure when the child died before execve without a report: the signal that killed it, or its exit status. */
interface NativeDeath {
  signal?: number;
  exitStatus?: number;
}

export type NativeSpawnResult =
  | { pid: number; pidfd: number; /** false: clone3 was refused, clone(2) used */ clone3: boolean; /** network.egress's listener */ proxyFd?: number; errno?: undefined }
  | ({ errno: number; op: number; kind: number; syscall?: undefined } & NativeDeath)
  | ({ errno: number; syscall: string; step: string; path?: string; op?: undefined } & NativeDeath);

export interface NativeLink {
  index: number;
  name: string;
  flags: number;
  mtu: number;
  kind?: string;
}

export interface NativeAddress {
  index: number;
  family: 4 | 6;
  prefixLength: number;
  address: string;
}

/** A failed socket step: which syscall, and its -errno. */
export interface NativeSocketError {
  errno: number;
  syscall: string;
}

export interface NativeConnectWatch {
  /** 0, or -errno when the poll could not start. */
  start(): number;
  close(): void;
}

export interface Native {
  unshare(flags: number): number;
  setns(fd: number, nstype: number): number;
  ioctlNs(fd: number, request: number): number;
  openNs(path: string): number;
  /** The net namespace of socket `fd` of process `pid` (pidfd_getfd + SIOCGSKNS): an fd to close, or -errno. */
  socketNs(pid: number, fd: number): number;
  /** The id our net namespace gives net namespace `nsfd` (RTM_GETNSID): -1 for none assigned. */
  netnsId(nsfd: number): number | { errno: number };
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number;
  umount(target: string, flags: number): number;
  pivotRoot(newRoot: string, putOld: string): number;
  pidfdOpen(pid: number, flags: number): number;
  pidfdSendSignal(pidfd: number, signal: number): number;
  pipe(nonblock?: boolean): [number, number] | number;
  /** open(2) with O_CLOEXEC added (no O_CREAT: there is no mode): the fd, or -errno. Closed with `close`. */
  open(path: string, flags: number): number;
  /** close(2) of an fd the addon made; EINTR counts as closed. 0 or -errno. */
  close(fd: number): number;
  /**
   * The fd of a sealed memfd copy of `path` (made on the first call for that
   * path, once per process, never closed), or where making it failed. A
   * test build fails the step `fault` names.
   */
  sealedCopy(path: string, fault?: string): number | NativeSocketError;
  /**
   * The BPF program (struct sock_filter[]) of a seccomp rule list of this
   * architecture's numbers, actions as SECCOMP_RET_* values, comparisons as
   * SCMP_CMP_* numbers (src-native/policy/seccomp.h); or why it cannot be.
   */
  compileSeccomp(spec: {
    defaultAction: number;
    badArch: number;
    x32: number;
    rules: { nr: number; action: number; args: { index: number; op: number; value: bigint; mask: bigint }[] }[];
  }): Buffer | string;
  /** landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION): the ABI, or -errno. */
  landlockAbi(): number;
  /** seccomp(SECCOMP_GET_ACTION_AVAIL, action): 0, or -errno. */
  seccompActionAvail(action: number): number;
  /** seccomp(SECCOMP_SET_MODE_FILTER, flags, NULL): -EFAULT where the kernel knows the flags (it loads nothing), -EINVAL where not. */
  seccompFlagsAvail(flags: number): number;
  /** Present (true) only in a test build that honours `NativePlan.fault`. */
  faultInjection?: boolean;
  /** Test builds only: landlockAbi() answers at most `abi` from now on (0: Landlock off at boot, -1: the kernel's answer). */
  testLandlockAbi?(abi: number): void;
  /** The plan as spawn/plan.ts encodePlan lays it out. */
  spawn(ints: Int32Array, text: string, extras: EncodedPlan['extras']): Promise<NativeSpawnResult>;
  spawnSync(ints: Int32Array, text: string, extras: EncodedPlan['extras']): NativeSpawnResult;
  // Networking (src-native/net/net.cc, netlink.cc). Netlink calls take a
  // NETLINK_ROUTE socket fd and return 0 or the kernel's -errno.
  socketIn(nsfd: number, domain: number, type: number, protocol: number): number | NativeSocketError;
  nlOpen(): number;
  nlSetLink(sock: number, name: string, up: -1 | 0 | 1, mtu: number): number;
  nlAddress(sock: number, add: boolean, name: string, family: number, address: string, prefixLength: number): number;
  nlRoute(sock: number, add: boolean, family: number, dst: string | null, dstLen: number, gateway: string | null, dev: string | null): number;
  nlCreateVeth(sock: number, name: string, peer: string, peerNsFd: number, peerPid: number, mtu: number): number;
  nlDeleteLink(sock: number, name: string): number;
  nlCreateBridge(sock: number, name: string): number;
  nlSetMaster(sock: number, name: string, bridge: string | null): number;
  nlMoveLink(sock: number, name: string, targetNsFd: number): number;
  nlLinks(sock: number): NativeLink[] | number;
  nlAddresses(sock: number): NativeAddress[] | number;
  bindListen(fd: number, family: number, host: string, port: number, backlog: number, ipv6Only: boolean): 0 | NativeSocketError;
  connectStart(fd: number, family: number, host: string, port: number): number;
  ConnectWatch: new (fd: number, callback: (err: number) => void) => NativeConnectWatch;
  // Terminals (src-native/terminal/terminal.cc).
  openPty(cols: number, rows: number): [number, number] | number;
  socketPair(): [number, number] | number;
  recvFd(sock: number): number;
  setWinsize(fd: number, cols: number, rows: number): number;
  readTty(fd: number, buffer: Buffer): number;
  writeTty(fd: number, buffer: Buffer, offset: number): number;
  /** Calls back once (0 or -errno) when the fd is readable (or hung up), or writable. */
  TtyWatch: new (fd: number, writable: boolean, callback: (err: number) => void) => { start(): number; close(): void };
  /**
   * A cgroup's files (src-native/cgroup/files.cc): flat (kind, path, data)
   * triples run in order; per op 0, an fd or a text, or the first that
   * failed, with the results before it (the fds this call opened closed
   * again); -EINVAL for a bad list.
   */
  cgroupFiles(ops: (number | string)[]): (number | string)[] | { index: number; errno: number; syscall: string; results: (number | string)[] } | number;
  PidfdWatch: new (
    pidfd: number,
    peek: boolean,
    /** `reaped`: ECHILD, but the status came from the pidfd (PIDFD_INFO_EXIT) after another waiter reaped it. */
    callback: (err: number, siCode: number, siStatus: number, reaped?: boolean) => void,
  ) => NativePidfdWatch;
}

let loaded: Native | undefined;
let root: string | undefined;

// dist/cjs/core/native.js and lib/core/native.ts (under ts-jest) sit at different
// depths below the package root: find it by its binding.gyp.
function packageRoot(): string {
  if (root) return root;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'binding.gyp'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('nsjs: cannot find the package root from ' + __dirname);
    dir = up;
  }
  root = dir;
  return dir;
}

/** The addon, loaded on first use so that `import 'nsjs'` works everywhere. */
export function native(): Native {
  if (loaded) return loaded;
  if (process.platform !== 'linux') throw unsupportedPlatform();
  const variant = testVariant();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded = (variant ? require(path.join(variant, 'nsjs.node')) : require('node-gyp-build')(packageRoot())) as Native;
  return loaded;
}

/**
 * For the test suite only: NSJS_TEST_ADDON=test|sanitize loads a test build
 * from build-variants/ (fault injection, sanitizers; see CMakeLists.txt)
 * instead of the release addon. A missing variant is an error, never a
 * silent fallback to the release build.
 */
function testVariant(): string | undefined {
  const name = process.env.NSJS_TEST_ADDON;
  if (!name) return undefined;
  if (name !== 'test' && name !== 'sanitize') throw new Error(`nsjs: NSJS_TEST_ADDON must be 'test' or 'sanitize', not '${name}'`);
  const dir = path.join(packageRoot(), 'build-variants', name);
  if (!fs.existsSync(path.join(dir, 'nsjs.node'))) throw new Error(`nsjs: NSJS_TEST_ADDON=${name} but ${dir}/nsjs.node is missing: npm run build:${name}`);
  return dir;
}

/**
 * Closes an fd the addon made (pipe, open, pidfd, nsfs fd, socket). Never
 * fs.closeSync for those: in a worker_thread, fs tracks the fds it opened
 * itself and warns on any other; nor this for an fd fs opened, which would
 * leave fs's table holding a number the kernel gives out again.
 */
export function closeFd(fd: number): void {
  check(native().close(fd), 'close');
}

/** A static executable of ours built beside the addon (or shipped beside the prebuild), or undefined. */
function helperBinary(name: string): string | undefined {
  const dir = packageRoot();
  const variant = testVariant();
  const candidates = [
    ...(variant ? [path.join(variant, name)] : []),
    path.join(dir, 'build', 'Release', name),
    path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, name),
  ];
  return candidates.find((c) => fs.existsSync(c));
}

let initPath: string | undefined;
let pid1Path: string | undefined;

/** The nsjs-init executable built beside the addon (or shipped beside the prebuild). */
export function initBinary(): string {
  if (initPath) return initPath;
  const found = helperBinary('nsjs-init');
  if (!found) throw new Error(`nsjs: nsjs-init is missing (beside ${packageRoot()}'s addon or prebuild); rebuild with npm run build:native`);
  initPath = found;
  return found;
}

/**
 * What runs init: true's PID 1 and --hold: nsjs-pid1, a libc-free executable
 * of a few KiB (src-native/init/pid1.cc), where it is built (x86-64, arm64),
 * otherwise nsjs-init, which has the same modes.
 */
export function pid1Binary(): string {
  pid1Path ??= helperBinary('nsjs-pid1') ?? initBinary();
  return pid1Path;
}

/** Whether `command` is nsjs-init or nsjs-pid1 (as returned by initBinary() or pid1Binary(), which its callers have asked for). */
export function isInitBinary(command: string): boolean {
  return command === initPath || command === pid1Path;
}

/**
 * What every exec of nsjs-init (or of `file`, nsjs-pid1) runs (execveat on
 * this fd): a sealed memfd copy, so that a sandbox reopening `/proc/1/exe`
 * for writing reaches no file of ours (src-native/spawn/exe.cc). Made on
 * first use, once per process and file (worker threads share it: the addon
 * keeps it), and kept open. `fault`: a test build's parent step to fail.
 */
const execFds = new Map<string, number>();

export function initExecFd(fault?: string, file: string = initBinary()): number {
  const known = execFds.get(file);
  if (known !== undefined) return known;
  const r = native().sealedCopy(file, fault);
  if (typeof r !== 'number') {
    const hint =
      r.syscall === 'memfd_create' && r.errno === -13
        ? 'vm.memfd_noexec=2 forbids executable memfds, which init: true, Namespace.create() and features() run nsjs-init from'
        : undefined;
    throw new NsError({ errno: r.errno, syscall: r.syscall, path: file, step: 'copy nsjs-init', hint });
  }
  execFds.set(file, r);
  return r;
}

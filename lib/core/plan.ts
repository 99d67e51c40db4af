// The plan's vocabulary, spoken by every room that adds to a spawn: an op as
// the addon reads it (NativeOp), the plan around the ops (NativePlan) and its
// encoding for the addon (EncodedPlan), the step an NsError names when the
// child fails at an op (Step), and how a room adds the two (Add). Each room
// owns the numbers of its own ops, mirroring OpKind in
// src-native/spawn/plan.h; the ones several rooms use are here.

/** Ops several rooms add (OpKind in src-native/spawn/plan.h). */
export const SharedOp = {
  WriteFile: 3,
  WaitParent: 4,
} as const;

export interface NativeOp {
  kind: number;
  /** An IP address (family in `a`), turned into bytes before clone. */
  addr?: string;
  a?: number;
  b?: number;
  flags?: number | bigint;
  b64?: number | bigint;
  s?: (string | null)[];
}

export interface NativePlan {
  cloneFlags: number;
  forceClone: boolean;
  parentMaps: boolean;
  dieWithParent: boolean;
  forkStyle: boolean;
  execChain: boolean;
  /** Made by the parent once the child exists; the child waits for it. */
  /** network.egress: the parent makes the proxy's listener in the child's namespace. */
  proxy?: { port: number };
  veth?: { host: string; peer: string; mtu?: number; hostAddresses: { family: number; address: string; prefix: number }[]; bridge?: string; netnsFd?: number; inChild: boolean };
  uidMap?: string;
  gidMap?: string;
  setgroups?: string;
  /** The seccomp filter the child loads (policy/seccomp.ts compileSeccomp). */
  seccomp?: Buffer;
  /** The Landlock ruleset the child builds, encoded (policy/landlock.ts NativeLandlock). */
  landlock?: Buffer;
  /** A sandbox command's own Landlock ruleset, encoded as `landlock`: a second layer enforced after it. */
  landlockThen?: Buffer;
  /** A cgroup v2 directory the child is cloned into (CLONE_INTO_CGROUP; cgroup/plan.ts). */
  cgroupFd?: number;
  /** ns/plan.ts planPersist: pairs of /proc/<pid>/ suffix and file, bound by the parent while the child waits. */
  persist?: string[];
  /** newuidmap / newgidmap to run for that map instead of writing it. */
  uidMapHelper?: string;
  gidMapHelper?: string;
  /** Test-only, as forceClone: the mount engine's fallbacks to take as if the kernel lacked the call (plan.h MountFallback bits). */
  mountFallback?: number;
  /** Test builds only (build-variants/): fail child op `op` (with errno, or dying of `signal`), or the parent step `parent`, with errno. */
  fault?: { op?: number; parent?: string; errno: number; signal?: number };
  ops: NativeOp[];
  stdio: number[];
  groups: number[];
  execPaths: string[];
  argv: string[];
  /** Absent: a copy of our environ, made on the calling thread. */
  envp?: string[];
  /** Exec this file (an fd of ours, opened before clone) instead of searching execPaths: nsjs-init, which a mount or pivot_root may hide. */
  execFd?: number;
}

export interface Step {
  step: string;
  syscall: string;
  path?: string;
  /** The mount as the user wrote it, for messages. */
  mount?: { readonly type: string; readonly target: string };
  /** The syscall of the op's fallback path (fs/plan.ts), named when the child failed there. */
  fallback?: string;
  /** The op looks the mount's target up inside the root (the hints tell a missing or escaping target). */
  resolves?: boolean;
}

/** How a room adds an op to the plan, with the step an error names if the child fails there. */
export type Add = (op: NativeOp, step: Step) => void;

/**
 * The plan as the addon reads it (Plan::Parse in src-native/spawn/plan.cc):
 * the numbers in one Int32Array, every string in one NUL-separated string,
 * and the rare parts (id map ranges, veth, a test fault) in an object. One
 * typed array and one string conversion, where reading the plan object field
 * by field cost a napi call per field (~50 µs per spawn, bench/RESULTS.md).
 * Strings cannot hold a NUL (validate.ts noNul); the addon checks the
 * count all the same.
 */
export interface EncodedPlan {
  ints: Int32Array;
  text: string;
  extras?: Pick<NativePlan, 'uidMap' | 'gidMap' | 'setgroups' | 'uidMapHelper' | 'gidMapHelper' | 'persist' | 'veth' | 'proxy' | 'fault' | 'mountFallback' | 'seccomp' | 'landlock' | 'cgroupFd'>;
}

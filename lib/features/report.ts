// What features() reports: for each namespace type and each kernel feature
// nsjs uses, whether it works here, and for every "no" the reason and the fix.
import type { NamespaceType } from '../core/nstypes';
import type { SeccompFlags } from '../policy/probe';

/** The result of one probe. */
export interface FeatureCheck {
  /** `true`: works here; `false`: refused here; `null`: not probed (`reason` says why). */
  ok: boolean | null;
  /** The Linux version that introduced it (the kernel may still lack it: a config option, a seccomp filter, an LSM). */
  since: string;
  /** The error code of the refusal (`'EPERM'`, `'ENOSPC'`, `'ENOSYS'`), when there was one. */
  code?: string;
  /** Why it does not work here, or why it was not probed. */
  reason?: string;
  /** What to change so that it works. */
  fix?: string;
  /** What nsjs does without it (a fallback, or what fails). */
  fallback?: string;
}

/** Whether a namespace type can be created, as root and as an ordinary user. */
export interface NamespaceSupport {
  /**
   * Created by a process with CAP_SYS_ADMIN over its user namespace (root). `null` when
   * this process is not root: then only the unprivileged case is probed.
   */
  root: FeatureCheck;
  /**
   * Created by an ordinary user, inside a new user namespace (`namespaces: ['user', type]`).
   * As root this is probed in a child running as uid 65534.
   */
  unprivileged: FeatureCheck;
}

/** The kernel features nsjs uses besides namespace creation. */
export interface KernelFeatures {
  /** `clone3(2)` (Linux 5.3): one syscall for the new namespaces and the pidfd. */
  clone3: FeatureCheck;
  /** `CLONE_PIDFD` (Linux 5.2): the pidfd comes with the child, no window for pid reuse. */
  clonePidfd: FeatureCheck;
  /** `pidfd_open(2)` (Linux 5.3): `Process.attach`, `join: { pid }`, waits without SIGCHLD. */
  pidfdOpen: FeatureCheck;
  /** `setns(2)` with a pidfd (Linux 5.8): `join: { pid }` enters all namespaces at once. */
  setnsPidfd: FeatureCheck;
  /** Time namespace offsets (Linux 5.6): `timeOffsets`. */
  timeNamespaces: FeatureCheck;
  /** `NS_GET_USERNS`, `NS_GET_PARENT` (Linux 4.9), `NS_GET_NSTYPE`, `NS_GET_OWNER_UID` (4.11): `Namespace.owner/parent/ownerUid/open`. */
  nsIoctls: FeatureCheck;
  /** `NS_GET_ID` (Linux 6.18): `Namespace.id()`. */
  nsGetId: FeatureCheck;
  /** `close_range(2)` with `CLOSE_RANGE_CLOEXEC` (Linux 5.11): the child marks every other fd close-on-exec in one call. */
  closeRange: FeatureCheck;
  /** `mount_setattr(2)` (Linux 5.12): read-only bind mounts without a remount. */
  mountSetattr: FeatureCheck;
  /** `PIDFD_INFO_EXIT` (Linux 6.15): the exit status of a process someone else reaped. */
  pidfdInfoExit: FeatureCheck;
  /** A new `/proc` in a new pid namespace (`mounts: [{ type: 'proc', target: '/proc' }]`, `nsjs run --mount-proc`). */
  procMount: FeatureCheck;
  /** cgroup v2 mounted at /sys/fs/cgroup with our cgroup delegated to us (we may create sub-cgroups). */
  cgroupDelegation: FeatureCheck;
  /**
   * A seccomp filter can be loaded (Linux 4.14, x64 or arm64): the `seccomp`
   * option, and `allowUserNamespaces: false`, which a filter rule holds (so
   * this also says whether the sandbox's own user namespaces can be refused).
   * `flags`: the SECCOMP_FILTER_FLAG_* the kernel knows.
   */
  seccompFilter: FeatureCheck & {
    /** Each filter flag of seccomp(2): whether this kernel knows it (probed without loading a filter). */
    flags: SeccompFlags;
  };
  /** Landlock (Linux 5.13) and its ABI (`abi`, 0 for none; TCP ports need 4): the `landlock` option. */
  landlock: FeatureCheck & {
    /** The Landlock ABI version, 0 for none. */
    abi: number;
  };
  /** options.cgroup: where the memory, pids and cpu controllers come from (v2 or v1, per controller) and whether we may make cgroups there. */
  cgroupLimits: FeatureCheck;
}

/** What {@link features} found. */
export interface FeatureReport {
  /** `os.release()`. */
  kernel: string;
  /** `os.arch()`. */
  arch: string;
  /** `process.version`. */
  node: string;
  /** Effective uid of this process. */
  uid: number;
  /** Whether this process is in the initial user namespace (false inside a container with a user namespace, or a sandbox). */
  initialUserNamespace: boolean;
  /** This process's seccomp mode (`/proc/self/status`): a `'filter'` is usually a container's profile. */
  seccomp: 'disabled' | 'strict' | 'filter' | 'unknown';
  /** The container runtime this seems to run in (`'docker'`, `'podman'`, `'lxc'`…), when one is recognized. */
  container?: string;
  /** The sysctls that restrict namespaces, as read here (`null`: this kernel has no such file). */
  sysctls: Record<string, string | null>;
  /** Each namespace type, as root and unprivileged. */
  namespaces: Record<NamespaceType, NamespaceSupport>;
  /** Syscalls and kernel features. */
  features: KernelFeatures;
}

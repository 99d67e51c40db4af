// Why the kernel refuses: the known causes (CAUSES, each a reason and a fix)
// and how to tell them from an errno and what failed. features() reports
// them for every "no", and spawn errors give them as their hints, so `nsjs
// doctor` and a failed spawnIsolated say the same thing. Reads /proc and the
// sysctls that restrict namespaces; spawns nothing.
import * as fs from 'node:fs';

import { NsError } from './errors';
import type { NamespaceType } from './nstypes';

/** A known cause of a refusal: what it is and what to change. */
export interface Explanation {
  /** Why the kernel refuses. */
  reason: string;
  /** What to change. */
  fix: string;
}

export const SINCE: Record<NamespaceType, string> = {
  cgroup: '4.6', ipc: '2.6.19', mnt: '2.4.19', net: '2.6.29', pid: '2.6.24', time: '5.6', user: '3.8', uts: '2.6.19',
};
const CONFIG: Record<NamespaceType, string> = {
  cgroup: 'CGROUPS', ipc: 'IPC_NS', mnt: '', net: 'NET_NS', pid: 'PID_NS', time: 'TIME_NS', user: 'USER_NS', uts: 'UTS_NS',
};
const MAX_SYSCTL: Record<NamespaceType, string> = {
  cgroup: 'cgroup', ipc: 'ipc', mnt: 'mnt', net: 'net', pid: 'pid', time: 'time', user: 'user', uts: 'uts',
};

const APPARMOR_PROFILE =
  "cat > /etc/apparmor.d/nsjs-node <<'EOF'\nabi <abi/4.0>,\ninclude <tunables/global>\nprofile nsjs-node /usr/bin/node flags=(unconfined) {\n  userns,\n}\nEOF\napparmor_parser -r /etc/apparmor.d/nsjs-node";

/**
 * The known causes, shared by features() and spawnIsolated's error hints.
 * @internal
 */
export const CAUSES = {
  maxUserNamespaces: {
    reason: 'user.max_user_namespaces is 0 in this user namespace, so the kernel refuses every new user namespace (ENOSPC)',
    fix: 'as root in the user namespace that set it (the host, or the container or sandbox this runs in): sysctl -w user.max_user_namespaces=15000 (keep it in /etc/sysctl.d/ to survive a reboot)',
  },
  userNamespaceLimit: {
    reason: 'the limit of user namespaces (user.max_user_namespaces) is reached for this user or one of the user namespaces above us',
    fix: 'raise it: sysctl -w user.max_user_namespaces=15000 (in the user namespace that owns the limit), or end the processes holding namespaces',
  },
  unprivilegedUsernsClone: {
    reason: 'kernel.unprivileged_userns_clone is 0 (a Debian/Arch kernel patch): only root may create user namespaces',
    fix: 'sysctl -w kernel.unprivileged_userns_clone=1 (keep it in /etc/sysctl.d/)',
  },
  apparmorUserns: {
    reason:
      'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10+): the new user namespace is created but gets no capabilities, so writing its uid_map, mounting or creating the other namespaces fails',
    fix: `allow user namespaces to node with an AppArmor profile (as root): ${APPARMOR_PROFILE}; or, for the whole system, sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`,
  },
  seccomp: {
    reason: "a seccomp filter refuses the namespace syscalls (a container's default profile: Docker and podman allow unshare/clone with namespace flags only with CAP_SYS_ADMIN)",
    fix: 'run the container with --security-opt seccomp=unconfined (or a profile that allows clone, clone3, unshare, setns and mount), or --privileged',
  },
  noCapSysAdmin: {
    reason: "this process has no CAP_SYS_ADMIN (a container's default capability set): as root it may create namespaces only inside a new user namespace",
    fix: "add 'user' to namespaces (the others are then created inside it), or run the container with --cap-add SYS_ADMIN or --privileged",
  },
  needsUserNamespace: {
    reason: 'creating this namespace needs CAP_SYS_ADMIN; an ordinary user has it only inside a user namespace of its own',
    fix: "add 'user' to namespaces (nsjs run -U / -r)",
  },
  nesting: {
    reason: 'user namespaces are nested 32 deep already, the kernel maximum (EUSERS)',
    fix: 'create the namespace from a less deeply nested process',
  },
  procLocked: {
    reason:
      "a new proc cannot be mounted here: this /proc has files or directories mounted over (a container masks /proc/kcore, /proc/sys…), and the kernel refuses a fresh proc that would reveal them to a user namespace",
    fix: "run the container with --security-opt systempaths=unconfined (podman: --security-opt unmask=ALL), or bind-mount the existing /proc instead ({ type: 'bind', source: '/proc', target: '/proc' })",
  },
  clone3Refused: {
    reason: 'clone3 is refused (ENOSYS: a kernel before 5.3, or a seccomp profile that predates clone3, such as Docker before 20.10)',
    fix: 'none needed (nsjs falls back to clone); to get clone3, update the container runtime and libseccomp, or --security-opt seccomp=unconfined',
  },
  setuidUnmapped: {
    reason: 'uid 65534 is not mapped in this user namespace, so there is no ordinary user to probe as',
    fix: 'run nsjs doctor as an ordinary user to see what it may do',
  },
} satisfies Record<string, Explanation>;

/** @internal */
export type Cause = keyof typeof CAUSES;

function kernelConfig(type: NamespaceType): Explanation {
  const option = CONFIG[type] ? `CONFIG_${CONFIG[type]}${type === 'cgroup' ? '' : '=y'}` : 'its config option';
  return {
    reason: `this kernel has no ${type} namespaces (/proc/self/ns/${type} is missing: ${option} is off, or the kernel predates Linux ${SINCE[type]})`,
    fix: `a kernel with ${option}${type === 'cgroup' ? ' and CONFIG_CGROUP_NS=y' : ''}`,
  };
}

function maxNamespaces(type: NamespaceType): Explanation {
  return {
    reason: `user.max_${MAX_SYSCTL[type]}_namespaces is 0 in this user namespace, so the kernel refuses every new ${type} namespace (ENOSPC)`,
    fix: `as root in the user namespace that set it: sysctl -w user.max_${MAX_SYSCTL[type]}_namespaces=15000`,
  };
}

export function readProc(file: string): string | null {
  try {
    return fs.readFileSync(file, 'latin1').trim();
  } catch {
    return null;
  }
}

export function sysctl(name: string): string | null {
  return readProc(`/proc/sys/${name}`);
}

export function seccompMode(): 'disabled' | 'strict' | 'filter' | 'unknown' {
  const m = /^Seccomp:\s*(\d)/m.exec(readProc('/proc/self/status') ?? '');
  return m ? (['disabled', 'strict', 'filter'] as const)[Number(m[1])] ?? 'unknown' : 'unknown';
}

function hasCapSysAdmin(): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)/m.exec(readProc('/proc/self/status') ?? '');
  return m ? (BigInt(`0x${m[1]}`) & (1n << 21n)) !== 0n : false;
}

/** Mount points over files or directories of /proc, which make a new proc mount "too revealing". */
export function procOvermounts(): string[] {
  return (readProc('/proc/self/mountinfo') ?? '')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m !== undefined && m.startsWith('/proc/') && m !== '/proc/sys/fs/binfmt_misc');
}

/** The specific environmental cause of a failure to create `types` (negative errno), when one is recognized. */
export function namespaceCause(errno: number, types: readonly NamespaceType[]): Explanation | undefined {
  const code = errnoCode(errno);
  const privileged = process.geteuid!() === 0 && hasCapSysAdmin();
  const missing = types.find((t) => !fs.existsSync(`/proc/self/ns/${t}`));
  if (missing && (code === 'EINVAL' || code === 'ENOSYS')) return kernelConfig(missing);
  if (code === 'ENOSPC') {
    if (types.includes('user') && sysctl('user/max_user_namespaces') === '0') return CAUSES.maxUserNamespaces;
    const zero = types.find((t) => sysctl(`user/max_${MAX_SYSCTL[t]}_namespaces`) === '0');
    if (zero) return maxNamespaces(zero);
    if (types.includes('user')) return CAUSES.userNamespaceLimit;
    return undefined;
  }
  if (code === 'EUSERS') return CAUSES.nesting;
  if (code === 'EPERM' || code === 'EACCES') {
    if (types.includes('user') && process.geteuid!() !== 0) {
      if (sysctl('kernel/unprivileged_userns_clone') === '0') return CAUSES.unprivilegedUsernsClone;
      if (sysctl('kernel/apparmor_restrict_unprivileged_userns') === '1') return CAUSES.apparmorUserns;
    }
    if (!types.includes('user') && !privileged) return process.geteuid!() === 0 ? CAUSES.noCapSysAdmin : CAUSES.needsUserNamespace;
    if (seccompMode() === 'filter') return CAUSES.seccomp;
  }
  return undefined;
}

export function errnoCode(errno: number): string {
  return new NsError({ errno, syscall: '' }).code;
}

/**
 * The explanation for a failed spawn step, when its cause is one that
 * features() diagnoses: "reason; fix: …". `undefined` otherwise.
 * @internal
 */
export function explainSpawnFailure(errno: number, step: { syscall: string; step: string; mount?: { type: string } }, namespaces: Iterable<NamespaceType>): string | undefined {
  const types = [...namespaces];
  const code = errnoCode(errno);
  let cause: Explanation | undefined;
  if (step.syscall === 'clone3' || step.syscall === 'clone' || step.syscall === 'unshare') cause = namespaceCause(errno, types);
  else if ((step.step === 'write uid_map' || step.step === 'write gid_map' || step.step === 'write setgroups') && (code === 'EPERM' || code === 'EACCES')) {
    if (process.geteuid!() !== 0 && sysctl('kernel/apparmor_restrict_unprivileged_userns') === '1') cause = CAUSES.apparmorUserns;
  } else if (step.mount?.type === 'proc' && (code === 'EPERM' || code === 'EINVAL') && procOvermounts().length > 0) cause = CAUSES.procLocked;
  return cause && `${cause.reason}; fix: ${cause.fix}`;
}


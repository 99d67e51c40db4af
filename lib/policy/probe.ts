// What features() and `nsjs doctor` say of the kernel's policy mechanisms:
// whether a seccomp filter can be loaded here (this architecture's table,
// the kernel's SECCOMP_RET_KILL_PROCESS), and with it whether the sandbox's
// own user namespaces can be refused; the Landlock ABI. Asked without
// loading anything into this process.
import { native } from '../core/native';
import { landlockAbi } from './landlock';
import { syscallTable } from './seccomp';

/** @internal FeatureCheck's shape (features/report.ts), which policy/ may not import. */
export interface PolicyCheck {
  ok: boolean;
  since: string;
  code?: string;
  reason?: string;
  fix?: string;
  fallback?: string;
}

const KILL_PROCESS = 0x80000000;
const EFAULT = -14;

/** The filter flags of seccomp(2) (SECCOMP_FILTER_FLAG_*) the kernel knows, each probed without loading anything. */
export interface SeccompFlags {
  /** TSYNC (3.17): the filter on every thread at once. */
  tsync: boolean;
  /** LOG (4.14): log the actions taken, but allow. */
  log: boolean;
  /** SPEC_ALLOW (4.17): no forced speculation mitigation (SSBD) on attach; nsjs does not set it. */
  specAllow: boolean;
  /** NEW_LISTENER (5.0): a user-notification fd. */
  newListener: boolean;
  /** TSYNC_ESRCH (5.7). */
  tsyncEsrch: boolean;
  /** WAIT_KILLABLE_RECV (5.19). */
  waitKillableRecv: boolean;
}

const FLAGS: [keyof SeccompFlags, number][] = [
  ['tsync', 1],
  ['log', 2],
  ['specAllow', 4],
  ['newListener', 8],
  ['tsyncEsrch', 16],
  // Only with NEW_LISTENER, which the kernel checks first.
  ['waitKillableRecv', 32 | 8],
];

function seccompFlags(): SeccompFlags {
  return Object.fromEntries(FLAGS.map(([name, bits]) => [name, native().seccompFlagsAvail(bits) === EFAULT])) as unknown as SeccompFlags;
}

/** @internal The `seccomp` option (and allowUserNamespaces: false, which a filter holds), with the filter flags the kernel knows. */
export function seccompCheck(): PolicyCheck & { flags: SeccompFlags } {
  const since = '4.14';
  const flags = seccompFlags();
  if (!syscallTable())
    return { ok: false, since, flags, reason: `nsjs has no syscall table for ${process.arch} (x64 and arm64 only)`, fallback: 'no filter: seccomp and allowUserNamespaces: false do nothing here' };
  const r = native().seccompActionAvail(KILL_PROCESS);
  if (r === 0) return { ok: true, since, flags };
  return {
    ok: false,
    flags,
    since,
    code: r === -38 ? 'ENOSYS' : r === -95 ? 'EOPNOTSUPP' : String(r),
    reason: r === -38 ? 'the kernel has no seccomp filters (CONFIG_SECCOMP_FILTER)' : 'the kernel lacks SECCOMP_RET_KILL_PROCESS (Linux 4.14)',
    fix: 'Linux 4.14 or later with CONFIG_SECCOMP_FILTER',
    fallback: 'none: a spawn with a filter fails at its seccomp step',
  };
}

/** @internal The `landlock` option, with the ABI the kernel speaks. */
export function landlockCheck(): PolicyCheck & { abi: number } {
  const abi = landlockAbi();
  if (abi > 0) return { ok: true, since: '5.13', abi, ...(abi < 4 ? { reason: `ABI ${abi}: connect and bind need ABI 4 (Linux 6.7)` } : {}) };
  const raw = native().landlockAbi();
  return {
    ok: false,
    since: '5.13',
    abi: 0,
    code: raw === -95 ? 'EOPNOTSUPP' : 'ENOSYS',
    reason: raw === -95 ? 'Landlock is built in but not enabled at boot' : 'the kernel has no Landlock (CONFIG_SECURITY_LANDLOCK)',
    fix: raw === -95 ? "add landlock to the lsm= boot parameter" : 'Linux 5.13 or later with CONFIG_SECURITY_LANDLOCK',
    fallback: 'landlock rules are left out (require: true fails instead)',
  };
}

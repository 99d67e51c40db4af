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

/** @internal The `seccomp` option (and allowUserNamespaces: false, which a filter holds). */
export function seccompCheck(): PolicyCheck {
  const since = '4.14';
  if (!syscallTable())
    return { ok: false, since, reason: `nsjs has no syscall table for ${process.arch} (x64 and arm64 only)`, fallback: 'no filter: seccomp and allowUserNamespaces: false do nothing here' };
  const r = native().seccompActionAvail(KILL_PROCESS);
  if (r === 0) return { ok: true, since };
  return {
    ok: false,
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

// An OCI runtime spec's `linux.seccomp` as a filter of ours, for nsjs-oci
// (issue 22): the same compiler as the `seccomp` option
// (src-native/policy/seccomp.cc), so no libseccomp. Semantics as runc's
// (libcontainer/seccomp/patchbpf and seccomp_linux.go): names unknown here
// are skipped, `errnoRet` defaults to EPERM, comparisons on one argument
// index are ANDed unless an index repeats, where each comparison becomes a
// rule of its own (ORed), and SCMP_CMP_MASKED_EQ reads `value` as the mask
// and `valueTwo` as the value.
import { compileSeccomp, syscallNumber, type SeccompAction, type SeccompArg, type SeccompRule } from './seccomp';

/** @internal `linux.seccomp` of the OCI runtime spec (config-linux.md). */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: {
    names: string[];
    action: string;
    errnoRet?: number;
    args?: { index: number; value: number | bigint; valueTwo?: number | bigint; op: string }[];
  }[];
}

const OPS: Record<string, SeccompArg['op']> = {
  SCMP_CMP_NE: 'ne',
  SCMP_CMP_LT: 'lt',
  SCMP_CMP_LE: 'le',
  SCMP_CMP_EQ: 'eq',
  SCMP_CMP_GE: 'ge',
  SCMP_CMP_GT: 'gt',
  SCMP_CMP_MASKED_EQ: 'maskedEq',
};

/** This architecture's SCMP_ARCH_* name. */
export const OCI_NATIVE_ARCH = process.arch === 'arm64' ? 'SCMP_ARCH_AARCH64' : 'SCMP_ARCH_X86_64';

function action(name: string, errnoRet: number | undefined): SeccompAction {
  switch (name) {
    case 'SCMP_ACT_ALLOW':
      return { kind: 'allow' };
    case 'SCMP_ACT_ERRNO':
      return { kind: 'errno', errno: errnoRet ?? 1 };
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return { kind: 'kill-thread' };
    case 'SCMP_ACT_KILL_PROCESS':
      return { kind: 'kill-process' };
    case 'SCMP_ACT_TRAP':
      return { kind: 'trap' };
    case 'SCMP_ACT_LOG':
      return { kind: 'log' };
    default:
      // SCMP_ACT_TRACE and SCMP_ACT_NOTIFY need a tracer or a listener fd, which nsjs does not provide.
      throw new Error(`nsjs: seccomp action ${name} is not supported`);
  }
}

const big = (v: number | bigint | undefined) => BigInt(v ?? 0);

/**
 * @internal The BPF program of an OCI profile for this architecture. Other
 * architectures listed in `architectures` (SCMP_ARCH_X86, SCMP_ARCH_X32…)
 * are not given their own rules: their syscalls kill the process. Throws an
 * Error for an action nsjs cannot take or a profile the compiler cannot
 * express (the runtime reports it before creating the container).
 */
export function compileOciSeccomp(spec: OciSeccomp): Buffer {
  const rules: SeccompRule[] = [];
  for (const entry of spec.syscalls ?? []) {
    const act = action(entry.action, entry.errnoRet);
    const args = (entry.args ?? []).map((a): SeccompArg => {
      const op = OPS[a.op];
      if (!op) throw new Error(`nsjs: seccomp comparison ${a.op} is not known`);
      return op === 'maskedEq' ? { index: a.index, op, mask: big(a.value), value: big(a.valueTwo) } : { index: a.index, op, value: big(a.value) };
    });
    const indexes = args.map((a) => a.index);
    const repeats = new Set(indexes).size !== indexes.length;
    const conditions = args.length === 0 ? [[]] : repeats ? args.map((a) => [a]) : [args];
    for (const name of entry.names) {
      const nr = syscallNumber(name);
      if (typeof nr !== 'number') continue;
      for (const c of conditions) rules.push({ nr, action: act, ...(c.length ? { args: c } : {}) });
    }
  }
  return compileSeccomp({ defaultAction: action(spec.defaultAction, spec.defaultErrnoRet), rules });
}

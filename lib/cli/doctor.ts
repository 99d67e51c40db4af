// `nsjs doctor`: features() as a table a person reads, or its JSON. Every
// "no" is followed by its reason and its fix. util-linux has no counterpart;
// the layout follows ls's (left-aligned columns, two spaces between).
import type { FeatureCheck, FeatureReport, KernelFeatures, NamespaceType } from '../index';
import { UsageError, parseCommandLine, type OptionSpecs } from './args';

export const DOCTOR_OPTIONS: OptionSpecs = {
  json: { short: 'J', arg: 'none' },
  help: { short: 'h', arg: 'none' },
  version: { short: 'V', arg: 'none' },
};

export const DOCTOR_HELP = `
Usage:
 nsjs doctor [options]

Probe what works for this user on this kernel: each namespace type as root and
unprivileged, clone3, pidfds, setns with a pidfd, time namespaces, the NS_GET_*
ioctls, close_range, mount_setattr, a new /proc and cgroup v2 delegation. Each
is tried for real in a short-lived child; every "no" comes with its reason and
its fix (the sysctl, the AppArmor profile, the container flag). As root, the
unprivileged column is probed as uid 65534.

Options:
 -J, --json             use JSON output format (features() of the API)

 -h, --help             display this help
 -V, --version          display version

Exit status is 0 when the probes ran, whatever they found; 1 when nsjs doctor
itself failed.
`;

export type DoctorRequest = { json: boolean } | { help: true } | { version: true };

export function parseDoctor(argv: string[]): DoctorRequest {
  const { options, operands } = parseCommandLine(argv, DOCTOR_OPTIONS);
  if (options.some((o) => o.name === 'help')) return { help: true };
  if (options.some((o) => o.name === 'version')) return { version: true };
  if (operands.length > 0) throw new UsageError(`unexpected argument '${operands[0]}'`);
  return { json: options.some((o) => o.name === 'json') };
}

/** The rows of the kernel-feature table, in the order a reader meets them. */
const FEATURE_NAMES: [keyof KernelFeatures, string][] = [
  ['clone3', 'clone3'],
  ['clonePidfd', 'CLONE_PIDFD'],
  ['pidfdOpen', 'pidfd_open'],
  ['setnsPidfd', 'setns with a pidfd'],
  ['timeNamespaces', 'time namespace offsets'],
  ['nsIoctls', 'NS_GET_USERNS/PARENT/NSTYPE/OWNER_UID'],
  ['nsGetId', 'NS_GET_ID'],
  ['closeRange', 'close_range CLOEXEC'],
  ['mountSetattr', 'mount_setattr'],
  ['pidfdInfoExit', 'PIDFD_INFO_EXIT'],
  ['procMount', 'a new /proc'],
  ['cgroupDelegation', 'cgroup v2 delegation'],
  ['seccompFilter', 'seccomp filters (and blocking user namespaces)'],
  ['landlock', 'Landlock'],
];

function word(c: FeatureCheck): string {
  if (c.ok === true) return 'yes';
  if (c.ok === null) return '-';
  return c.code ? `no (${c.code})` : 'no';
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

export function renderDoctor(r: FeatureReport): string {
  const who = r.uid === 0 ? 'root' : `uid ${r.uid}`;
  const lines: string[] = [];
  lines.push(
    `Linux ${r.kernel} ${r.arch}, node ${r.node}, ${who} (${r.initialUserNamespace ? 'initial' : 'nested'} user namespace), seccomp ${r.seccomp}${r.container ? `, container: ${r.container}` : ''}`,
    '',
  );
  const types = Object.keys(r.namespaces) as NamespaceType[];
  lines.push(table([['NAMESPACE', 'ROOT', 'UNPRIVILEGED'], ...types.map((t) => [t, word(r.namespaces[t].root), word(r.namespaces[t].unprivileged)])]));
  lines.push(table([['FEATURE', 'SINCE', 'WORKS'], ...FEATURE_NAMES.map(([k, name]) => [name, r.features[k].since, k === 'landlock' && r.features.landlock.ok ? `yes (ABI ${r.features.landlock.abi})` : word(r.features[k])])]));

  // Problems, each once: one cause often explains several rows.
  const problems = new Map<string, { what: string[]; check: FeatureCheck }>();
  const add = (what: string, c: FeatureCheck) => {
    if (c.ok === true || (c.ok === null && !c.fix && /not root/.test(c.reason ?? ''))) return;
    const key = `${c.ok}|${c.reason}|${c.fix}`;
    const entry = problems.get(key);
    if (entry) entry.what.push(what);
    else problems.set(key, { what: [what], check: c });
  };
  for (const t of types) {
    add(`${t} namespace as root`, r.namespaces[t].root);
    add(`${t} namespace unprivileged`, r.namespaces[t].unprivileged);
  }
  for (const [k, name] of FEATURE_NAMES) add(name, r.features[k]);
  if (problems.size === 0) {
    lines.push('Everything nsjs uses works here.\n');
  } else {
    lines.push('Problems:');
    for (const { what, check } of problems.values()) {
      lines.push(`- ${what.join(', ')}: ${check.ok === null ? 'not probed' : word(check)}`);
      if (check.reason) lines.push(`  why: ${check.reason}`);
      if (check.fix) lines.push(`  fix: ${check.fix.replace(/\n/g, '\n       ')}`);
      if (check.fallback) lines.push(`  without it: ${check.fallback}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

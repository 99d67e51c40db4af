// `nsjs doctor`: features() as a table a person reads, or its JSON. Every
// "no" is followed by its reason and its fix. util-linux has no counterpart;
// the layout follows ls's (left-aligned columns, two spaces between).
import * as fs from 'node:fs';
import * as os from 'node:os';

import type { FeatureCheck, FeatureReport, KernelFeatures, NamespaceType, SeccompFlags } from '../index';
import { subordinateRange } from '../spawn/user';
import { UsageError, parseCommandLine, type OptionSpecs } from './args';

export const DOCTOR_OPTIONS: OptionSpecs = {
  json: { short: 'J', arg: 'none' },
  strict: { arg: 'none' },
  help: { short: 'h', arg: 'none' },
  version: { short: 'V', arg: 'none' },
};

export const DOCTOR_HELP = `
Usage:
 nsjs doctor [options]
 nsjs doctor --strict [options] [what...]

Probe what works for this user on this kernel: each namespace type as root and
unprivileged, clone3, pidfds, setns with a pidfd, time namespaces, the NS_GET_*
ioctls, close_range, mount_setattr, a new /proc and cgroup v2 delegation. Each
is tried for real in a short-lived child; every "no" comes with its reason and
its fix (the sysctl, the AppArmor profile, the container flag). As root, the
unprivileged column is probed as uid 65534.

Options:
 -J, --json             use JSON output format (features() of the API)
     --strict           exit 2 when something asked about does not work
                          here: each WHAT is a namespace type (user, net,
                          ...; for this user: the ROOT column as root, else
                          UNPRIVILEGED) or a feature of features() (clone3,
                          pidfdOpen, setnsPidfd, ...); without WHAT, all of
                          them, for this user

 -h, --help             display this help
 -V, --version          display version

Exit status is 0 when the probes ran, whatever they found (with --strict:
when everything asked about works); 1 when nsjs doctor itself failed; 2 with
--strict when something asked about does not work, or was not probed.
`;

export type DoctorRequest = { json: boolean; strict?: string[] } | { help: true } | { version: true };

const NAMESPACE_NAMES: readonly NamespaceType[] = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'];

export function parseDoctor(argv: string[]): DoctorRequest {
  const { options, operands } = parseCommandLine(argv, DOCTOR_OPTIONS);
  if (options.some((o) => o.name === 'help')) return { help: true };
  if (options.some((o) => o.name === 'version')) return { version: true };
  const json = options.some((o) => o.name === 'json');
  if (!options.some((o) => o.name === 'strict')) {
    if (operands.length > 0) throw new UsageError(`unexpected argument '${operands[0]}'`);
    return { json };
  }
  const known = [...NAMESPACE_NAMES, ...FEATURE_NAMES.map(([k]) => k)] as string[];
  const unknown = operands.find((w) => !known.includes(w));
  if (unknown !== undefined) throw new UsageError(`unknown namespace type or feature '${unknown}' (one of ${known.join(', ')})`);
  return { json, strict: operands };
}

/**
 * For --strict: what of `asked` (every namespace type and feature when
 * empty) does not work for this user, as names; a check that was not
 * probed counts, since nothing says it works.
 */
export function strictFailures(r: FeatureReport, asked: readonly string[]): string[] {
  const all = asked.length === 0;
  const failed: string[] = [];
  for (const t of Object.keys(r.namespaces) as NamespaceType[]) {
    const c = r.uid === 0 ? r.namespaces[t].root : r.namespaces[t].unprivileged;
    if ((all || asked.includes(t)) && c.ok !== true) failed.push(`${t} namespace`);
  }
  for (const [k, name] of FEATURE_NAMES) if ((all || asked.includes(k)) && r.features[k].ok !== true) failed.push(name);
  return failed;
}

/** The rows of the kernel-feature table, in the order a reader meets them. */
// As the kernel's SECCOMP_FILTER_FLAG_* names them.
const SECCOMP_FLAG_NAMES: Record<keyof SeccompFlags, string> = {
  tsync: 'TSYNC',
  log: 'LOG',
  specAllow: 'SPEC_ALLOW',
  newListener: 'NEW_LISTENER',
  tsyncEsrch: 'TSYNC_ESRCH',
  waitKillableRecv: 'WAIT_KILLABLE_RECV',
};

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
  ['cgroupLimits', 'cgroup limits (memory, pids, cpu)'],
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

/** newuidmap/newgidmap and our /etc/subuid, /etc/subgid ranges: what user: 'auto' and ranged maps need unprivileged. */
export interface IdMapReport {
  helpers: { name: 'newuidmap' | 'newgidmap'; path: string | null; setuid: boolean }[];
  ranges: { file: '/etc/subuid' | '/etc/subgid'; start: number; count: number } [];
  user: string;
}

export function idMapReport(uid = process.geteuid!(), user = os.userInfo().username): IdMapReport {
  const helpers = (['newuidmap', 'newgidmap'] as const).map((name) => {
    for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
      try {
        const st = fs.statSync(`${dir}/${name}`);
        // setuid root, as it must be to write another process's map
        return { name, path: `${dir}/${name}`, setuid: st.uid === 0 && (st.mode & 0o4000) !== 0 };
      } catch {
        // not here
      }
    }
    return { name, path: null, setuid: false };
  });
  const ranges: IdMapReport['ranges'] = [];
  for (const file of ['/etc/subuid', '/etc/subgid'] as const) {
    const range = subordinateRange(file, user, uid);
    if (range) ranges.push({ file, ...range });
  }
  return { helpers, ranges, user };
}

function renderIdMaps(m: IdMapReport): string {
  const rows = [['ID MAPS', 'WHERE', 'WORKS']];
  for (const h of m.helpers) rows.push([h.name, h.path ?? '-', h.path === null ? 'no (not installed)' : h.setuid ? 'yes (setuid root)' : 'no (not setuid root)']);
  for (const file of ['/etc/subuid', '/etc/subgid'] as const) {
    const r = m.ranges.find((x) => x.file === file);
    rows.push([`${file} of ${m.user}`, r ? `${r.start}:${r.count}` : '-', r ? 'yes' : 'no (no range)']);
  }
  const lines = [table(rows)];
  const missing = m.helpers.filter((h) => !h.path || !h.setuid).map((h) => h.name);
  if (missing.length) lines.push(`Unprivileged ranged maps and user: 'auto' need ${missing.join(' and ')}, setuid root: install the uidmap package (Debian, Ubuntu) or shadow-utils (Fedora).\n`);
  if (m.ranges.length < 2) lines.push(`user: 'auto' needs ranges of ${m.user} in /etc/subuid and /etc/subgid: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${m.user}\n`);
  return lines.join('\n');
}

export function renderDoctor(r: FeatureReport, idMaps: IdMapReport = idMapReport()): string {
  const who = r.uid === 0 ? 'root' : `uid ${r.uid}`;
  const lines: string[] = [];
  lines.push(
    `Linux ${r.kernel} ${r.arch}, node ${r.node}, ${who} (${r.initialUserNamespace ? 'initial' : 'nested'} user namespace), seccomp ${r.seccomp}${r.container ? `, container: ${r.container}` : ''}`,
    '',
  );
  const types = Object.keys(r.namespaces) as NamespaceType[];
  lines.push(table([['NAMESPACE', 'ROOT', 'UNPRIVILEGED'], ...types.map((t) => [t, word(r.namespaces[t].root), word(r.namespaces[t].unprivileged)])]));
  const works = (k: keyof KernelFeatures): string => {
    if (k === 'landlock' && r.features.landlock.ok) return `yes (ABI ${r.features.landlock.abi})`;
    if (k === 'seccompFilter' && r.features.seccompFilter.ok) {
      const known = Object.entries(r.features.seccompFilter.flags).filter(([, v]) => v).map(([f]) => SECCOMP_FLAG_NAMES[f as keyof SeccompFlags]);
      return `yes (flags: ${known.join(' ') || 'none'})`;
    }
    return word(r.features[k]);
  };
  lines.push(table([['FEATURE', 'SINCE', 'WORKS'], ...FEATURE_NAMES.map(([k, name]) => [name, r.features[k].since, works(k)])]));
  lines.push(renderIdMaps(idMaps));

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

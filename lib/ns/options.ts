// The namespaces a spawn creates and what they start with: the
// `namespaces` option, which every other room's options are checked against,
// and the uts names and clock offsets of the new ones (validated here, made
// ops in plan.ts).
import { invalidArgType, invalidArgValue } from '../core/errors';
import { NAMESPACE_TYPES, type NamespaceType } from '../core/nstypes';
import { integer, knownKeys, namespaceType, needs, noNul, plainObject } from '../core/validate';

/** The options of {@link SpawnOptions} that ns/ owns (SpawnOptions extends it). */
export interface NsSpawnOptions {
  /**
   * Namespaces to create: a list of types, or `'all'` for all eight. Without
   * `'user'`, every type needs root (CAP_SYS_ADMIN); with it, an ordinary user
   * may create all of them where the kernel allows unprivileged user
   * namespaces (`nsjs doctor` tells). `time` needs Linux 5.6, `cgroup` 4.6.
   * Cost: `net` is the expensive one (the kernel sets up a network stack:
   * about a millisecond, more under load, and its teardown is deferred); the
   * others add microseconds to the clone.
   */
  namespaces?: NamespaceType[] | 'all';
  /** Hostname of the new uts namespace (needs `uts`). */
  hostname?: string;
  /** NIS domain name of the new uts namespace (needs `uts`). */
  domainname?: string;
  /**
   * Offsets of the clocks in a new time namespace (needs `time`, Linux 5.6).
   * The kernel accepts offsets only before any process enters the namespace,
   * so the child unshares it and forks once more: one extra fork.
   */
  timeOffsets?: {
    /** Added to CLOCK_MONOTONIC inside, in seconds (may be negative). */
    monotonic?: number;
    /** Added to CLOCK_BOOTTIME inside, in seconds (may be negative). */
    boottime?: number;
  };
  /**
   * @internal `nsjs run --TYPE=FILE`: bind-mount each new namespace at its
   * file (which must exist) before the command runs, while the child waits
   * for the parent, so that a command that exits at once cannot take its
   * namespaces with it first. Needs root (CAP_SYS_ADMIN) for the mounts; the
   * command inside cannot reach the files. A mount namespace cannot be kept
   * on a mount that propagates into it (EINVAL).
   */
  persist?: Partial<Record<NamespaceType, string>>;
}

/** ns/'s part of the checked options: the namespaces as a set. */
export interface NsChecked {
  namespaces: Set<NamespaceType>;
  hostname?: string;
  domainname?: string;
  timeOffsets?: { monotonic: number; boottime: number };
  /** `persist`, in the order of NAMESPACE_TYPES. */
  persist?: [NamespaceType, string][];
}

/** `namespaces`, `hostname`, `domainname` and `timeOffsets` (the last three each need their new namespace). */
export function checkNsOptions(o: Readonly<Record<string, unknown>>): NsChecked {
  let namespaces: Set<NamespaceType>;
  if (o.namespaces === undefined) namespaces = new Set();
  else if (o.namespaces === 'all') namespaces = new Set(NAMESPACE_TYPES);
  else if (Array.isArray(o.namespaces)) namespaces = new Set(Array.from(o.namespaces, (t: unknown, i) => namespaceType(t, `options.namespaces[${i}]`)));
  else throw invalidArgType('options.namespaces', "an array of namespace types or 'all'", o.namespaces);
  needs(o, 'hostname', namespaces, 'uts');
  needs(o, 'domainname', namespaces, 'uts');
  needs(o, 'timeOffsets', namespaces, 'time');
  const c: NsChecked = { namespaces };
  if (o.persist !== undefined) {
    const p = plainObject(o.persist, 'options.persist');
    knownKeys(p, NAMESPACE_TYPES, 'options.persist');
    c.persist = [];
    for (const type of NAMESPACE_TYPES) {
      if (p[type] === undefined) continue;
      if (!namespaces.has(type)) throw invalidArgValue(`options.persist.${type}`, p[type], `needs '${type}' in options.namespaces`);
      const file = noNul(p[type], `options.persist.${type}`);
      if (!file.startsWith('/')) throw invalidArgValue(`options.persist.${type}`, file, 'must be an absolute path');
      c.persist.push([type, file]);
    }
  }
  for (const key of ['hostname', 'domainname'] as const) {
    if (o[key] === undefined) continue;
    const s = noNul(o[key], `options.${key}`);
    if (Buffer.byteLength(s) > 64) throw invalidArgValue(`options.${key}`, s, 'must be at most 64 bytes');
    c[key] = s;
  }
  if (o.timeOffsets !== undefined) {
    const t = plainObject(o.timeOffsets, 'options.timeOffsets');
    knownKeys(t, ['monotonic', 'boottime'], 'options.timeOffsets');
    const offset = (v: unknown, n: string) => (v === undefined ? 0 : integer(v, n, -(2 ** 40), 2 ** 40));
    c.timeOffsets = { monotonic: offset(t.monotonic, 'options.timeOffsets.monotonic'), boottime: offset(t.boottime, 'options.timeOffsets.boottime') };
  }
  return c;
}

// cgroup/: resource limits and accounting through a cgroup of the command's
// own (issue 19). The option and its validation live here; layout.ts finds
// the hierarchies (cgroup v2, v1 per controller, the hybrid of both),
// cgroup.ts makes, limits, reads, freezes, kills and removes the cgroups,
// plan.ts adds the child's placement op (src-native/cgroup/cgroup.cc).
import { invalidArgType, invalidArgValue, outOfRange } from '../core/errors';
import { integer, knownKeys, noNul, plainObject, record } from '../core/validate';

/** A size in bytes, or a string with a K, M, G or T suffix (powers of 1024: `'32M'`), or `'max'` for no limit. */
export type CgroupSize = number | string;

/** Limits of the command's cgroup (see {@link CgroupSpawnOptions.cgroup}). */
export interface CgroupOptions {
  /**
   * `max`: the most memory the cgroup's processes may use (v2 `memory.max`,
   * v1 `memory.limit_in_bytes`); past it the kernel reclaims, then OOM-kills
   * one of them, which `ExitStatus.oomKilled` tells. `high`: where the
   * kernel starts throttling and reclaiming (v2 `memory.high`; v1 has no
   * such limit and gets `memory.soft_limit_in_bytes`, a reclaim target
   * under pressure only). `swapMax`: swap on top of `max` (v2
   * `memory.swap.max`, v1 `memory.memsw.limit_in_bytes` = `max` +
   * `swapMax`); default 0 with `max`, so that `max` bounds what the command
   * can hold and a limit is not turned into swapping.
   */
  memory?: { max?: CgroupSize; high?: CgroupSize; swapMax?: CgroupSize };
  /** `max`: the most processes and threads at once (`pids.max`); a fork past it fails with EAGAIN. */
  pids?: { max: number | 'max' };
  /**
   * `max`: CPUs' worth of time per period (`0.5` = half a CPU, `2` = two),
   * as v2 `cpu.max` / v1 `cpu.cfs_quota_us` over a 100 ms period: the
   * cgroup is throttled for the rest of each period once it has used its
   * quota. `weight`: its share against its siblings when the CPUs are busy,
   * 1–10000 (v2 `cpu.weight`, default 100; v1 `cpu.shares` = 2 +
   * (weight − 1) × 262142 / 9999, as runc maps it).
   */
  cpu?: { max?: number; weight?: number };
  /**
   * The cgroup under which the command's is made, relative to the root of
   * each hierarchy (`'nsjs'` = `/sys/fs/cgroup/nsjs` on v2); it must exist.
   * Default: the caller's own cgroup (from `/proc/self/cgroup`).
   */
  parent?: string;
}

/** The options of {@link SpawnOptions} that cgroup/ owns. */
export interface CgroupSpawnOptions {
  /**
   * A fresh cgroup for the command, made and limited before it runs and
   * removed once it has exited and whatever is left in it is killed: its
   * children, even a daemon that left the process group and the pid
   * namespace, cannot outlive it. On cgroup v2 the command is started in it
   * by `clone3(CLONE_INTO_CGROUP)`; on cgroup v1 (as root) and where clone3
   * is refused, the child moves itself in as its first step, before it runs
   * anything else. This machine's layout (v1 controllers beside a cgroup2
   * without any) is handled per controller: limits on v1, `freeze()` and a
   * `kill()` of the whole tree on v2. Unprivileged, the caller's cgroup must
   * be delegated to it (on v2: a writable `cgroup.procs` and
   * `cgroup.subtree_control`, e.g. under `systemd-run --user --scope -p
   * Delegate=yes`); otherwise the spawn fails with EACCES and says so,
   * rather than run without the limit.
   *
   * Cost: a directory and a few file writes per controller (v1), or one
   * directory and its limits (v2), and an rmdir each after exit: a few
   * tenths of a millisecond per spawn for memory + pids on a hybrid layout,
   * most of it the kernel's mkdir and rmdir (`npm run bench -- --sections
   * cgroup`).
   *
   * What a hostile program inside can do with it: nothing to loosen the
   * limits while it runs as a uid other than host root — the cgroup's files
   * are root's (or the delegating user's) and the kernel refuses it a move
   * out of the cgroup; with a new `cgroup` namespace too, it sees its own
   * cgroup as `/`. Sub-cgroups it might make count against its cgroup's
   * limits (the hierarchy is charged as a whole). A program that runs as
   * host uid 0 (root without a user namespace, or a user namespace that maps
   * 0 to 0) and can see a writable `/sys/fs/cgroup` is the owner of those
   * files: on v1 it can write itself out of its cgroup, and limits with it,
   * so run it as another uid (`uid`, or a user namespace mapped to an
   * unprivileged uid) or hide `/sys/fs/cgroup` from it (`mounts`, `root`).
   */
  cgroup?: CgroupOptions;
}

/** A limit in bytes, or 'max'. */
export type Limit = number | 'max';

/** Not exported from the package: options.cgroup after validation. */
export interface CgroupChecked {
  memory?: { max?: Limit; high?: Limit; swapMax?: Limit };
  pids?: { max: Limit };
  /** Quota in µs per PERIOD_US, weight 1–10000. */
  cpu?: { quotaUs?: number; weight?: number };
  /** Relative to each hierarchy's root, without leading or trailing slashes. */
  parent?: string;
}

/** cpu.max's period (the kernel's default for cpu.cfs_period_us). */
export const PERIOD_US = 100_000;

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
const MAX_BYTES = Number.MAX_SAFE_INTEGER;

/** @internal A size option: bytes, '64M', or 'max'. */
export function size(value: unknown, name: string): Limit {
  if (value === 'max') return 'max';
  if (typeof value === 'number') return integer(value, name, 0, MAX_BYTES);
  if (typeof value !== 'string') throw invalidArgType(name, "of type number or string ('64M', 'max')", value);
  const m = /^([0-9]+)([KMGT]?)$/i.exec(value);
  if (!m) throw invalidArgValue(name, value, "must be a number of bytes, with an optional K, M, G or T suffix ('64M'), or 'max'");
  const bytes = Number(m[1]) * UNITS[m[2].toUpperCase()];
  if (bytes > MAX_BYTES) throw outOfRange(name, `<= ${MAX_BYTES} bytes`, value);
  return bytes;
}

function object(value: unknown, name: string, keys: readonly string[]): Record<string, unknown> {
  const o = plainObject(value, name);
  knownKeys(o, keys, name);
  return o;
}

/** @internal Checks `options.cgroup`. */
export function checkCgroupOptions(o: Readonly<Record<string, unknown>>): { cgroup?: CgroupChecked } {
  // Null-prototype: a caller that destructures it must not find Object.prototype.cgroup.
  if (o.cgroup === undefined) return record({});
  const g = object(o.cgroup, 'options.cgroup', ['memory', 'pids', 'cpu', 'parent']);
  const c = record<CgroupChecked>({});
  if (g.memory !== undefined) {
    const m = object(g.memory, 'options.cgroup.memory', ['max', 'high', 'swapMax']);
    const memory = record<NonNullable<CgroupChecked['memory']>>({});
    for (const key of ['max', 'high', 'swapMax'] as const)
      if (m[key] !== undefined) memory[key] = size(m[key], `options.cgroup.memory.${key}`);
    // Below a page the kernel takes it as a page; below a few hundred KiB the
    // command cannot even be exec'd, which would read as a strange failure.
    for (const key of ['max', 'high'] as const) {
      const v = memory[key];
      if (typeof v === 'number' && v < 1 << 20) throw outOfRange(`options.cgroup.memory.${key}`, ">= 1048576 (1M) or 'max'", m[key]);
    }
    c.memory = memory;
  }
  if (g.pids !== undefined) {
    const p = object(g.pids, 'options.cgroup.pids', ['max']);
    c.pids = record({ max: p.max === 'max' ? ('max' as const) : integer(p.max, 'options.cgroup.pids.max', 1) });
  }
  if (g.cpu !== undefined) {
    const p = object(g.cpu, 'options.cgroup.cpu', ['max', 'weight']);
    const cpu = record<NonNullable<CgroupChecked['cpu']>>({});
    if (p.max !== undefined) {
      if (typeof p.max !== 'number') throw invalidArgType('options.cgroup.cpu.max', 'of type number', p.max);
      // The kernel takes a quota of 1 ms or more (cpu.cfs_quota_us).
      if (!(p.max >= 0.01 && p.max <= 4096)) throw outOfRange('options.cgroup.cpu.max', '>= 0.01 && <= 4096 (CPUs)', p.max);
      cpu.quotaUs = Math.round(p.max * PERIOD_US);
    }
    if (p.weight !== undefined) cpu.weight = integer(p.weight, 'options.cgroup.cpu.weight', 1, 10000);
    c.cpu = cpu;
  }
  if (g.parent !== undefined) {
    // One slash between parts: the cgroups' paths are made by joining strings (cgroup.ts).
    const parent = noNul(g.parent, 'options.cgroup.parent').replace(/\/{2,}/g, '/').replace(/^\/|\/$/g, '');
    if (parent.split('/').some((part) => part === '..' || part === '.'))
      throw invalidArgValue('options.cgroup.parent', g.parent, "must be a cgroup path without '.' or '..' parts");
    c.parent = parent;
  }
  return { cgroup: c };
}

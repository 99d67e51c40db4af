// cli/oci/: the container's cgroup, written to cgroupfs by the runtime
// itself: a directory per mounted hierarchy (v1 controllers and the v2
// tree), the parked init moved in before its program runs, the limits of
// linux.resources that config.ts accepts, freezer for pause/resume, the
// member pids for `kill --all` and `ps`, and removal of the directories it
// made (only those: a parent that existed stays, as runtime-tools'
// delete_only_create_resources asks). A seam: when the cgroup room
// (issue 19) lands, this file becomes a call into it.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { CgroupDirs } from '../../spawn/spawn';
import type { Resources } from './config';
import { OciError } from './errors';

/** One hierarchy: where it is mounted, its controllers ('' for v2). */
interface Hierarchy {
  mount: string;
  controllers: string[];
  /** The runtime's own cgroup in it, from /proc/self/cgroup. */
  own: string;
  v2: boolean;
}

function hierarchies(): Hierarchy[] {
  const own = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^[0-9]+:([^:]*):(.*)$/.exec(line);
    if (m) own.set(m[1], m[2]);
  }
  const out: Hierarchy[] = [];
  const seen = new Set<string>();
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const [fstype, , super_] = post.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const fields = pre.split(' ');
    const root = fields[3];
    const mnt = fields[4].replace(/\\040/g, ' ');
    const controllers = fstype === 'cgroup2' ? [] : super_.split(',').filter((o) => !['rw', 'ro', 'relatime', 'nosuid', 'nodev', 'noexec', 'xattr', 'clone_children', 'cpuset_v2_mode'].includes(o) && !o.startsWith('name=') && !o.startsWith('release_agent'));
    const named = fstype === 'cgroup' ? super_.split(',').find((o) => o.startsWith('name=')) : undefined;
    const key = fstype === 'cgroup2' ? '' : named ?? controllers.join(',');
    if (seen.has(key) || root !== '/') continue;
    seen.add(key);
    const ownPath = own.get(key);
    if (ownPath === undefined) continue;
    out.push({ mount: mnt, controllers, own: ownPath, v2: fstype === 'cgroup2' });
  }
  return out;
}

/** The directories of a container's cgroup and the ones the runtime made. */
export interface CgroupState {
  dirs: string[];
  made: string[];
}

/**
 * `cgroupsPath` per hierarchy: absolute from each hierarchy's root, relative
 * under the runtime's own cgroup (as runc), and systemd's `slice:prefix:name`
 * as the cgroupfs path systemd would have made.
 */
function resolvePaths(cgroupsPath: string, systemd: boolean): ((h: Hierarchy) => string) {
  let p = cgroupsPath;
  if (systemd || /^[^/:]*:[^/:]*:[^/:]*$/.test(p)) {
    const m = /^([^:]*):([^:]*):([^:]*)$/.exec(p);
    if (!m) throw new OciError(`config.json: linux.cgroupsPath: ${p} is not slice:prefix:name (--systemd-cgroup)`);
    const slice = m[1] || 'system.slice';
    const parts = slice.replace(/\.slice$/, '').split('-');
    const slices = parts.map((_, i) => `${parts.slice(0, i + 1).join('-')}.slice`);
    p = `/${slices.join('/')}/${m[2] ? `${m[2]}-` : ''}${m[3]}.scope`;
  }
  if (p.split('/').includes('..')) throw new OciError(`config.json: linux.cgroupsPath: ${p} must not contain ..`);
  return (h) => path.join(h.mount, p.startsWith('/') ? p : path.join(h.own, p));
}

function write(dir: string, file: string, value: string | number): void {
  try {
    fs.writeFileSync(path.join(dir, file), String(value));
  } catch (e) {
    throw new OciError(`cannot set ${path.join(dir, file)} to ${value}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Makes the cgroup (parents too) and applies the limits, before the init
 * exists: the spawn's child enters it as its first step
 * (spawnIntoCgroups), so that no move by pid waits for the kernel's grace
 * period. On failure removes what it made.
 */
export function createCgroup(id: string, cgroupsPath: string | undefined, systemd: boolean, r: Resources): { state: CgroupState; enter: CgroupDirs } {
  const state: CgroupState = { dirs: [], made: [] };
  const enter: { v2?: string; v1: string[] } = { v1: [] };
  const where = resolvePaths(cgroupsPath ?? id, systemd);
  try {
    for (const h of hierarchies()) {
      const dir = where(h);
      if (h.v2) enter.v2 = dir;
      else enter.v1.push(dir);
      const missing: string[] = [];
      for (let d = dir; d !== h.mount && !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
      for (const d of missing) {
        fs.mkdirSync(d);
        state.made.push(d);
      }
      state.dirs.push(dir);
      if (h.controllers.includes('cpuset')) {
        // A new v1 cpuset is empty: it must get its parent's before a task can join.
        for (const d of missing)
          for (const f of ['cpuset.cpus', 'cpuset.mems'])
            if (fs.readFileSync(path.join(d, f), 'utf8').trim() === '') write(d, f, fs.readFileSync(path.join(path.dirname(d), f), 'utf8').trim());
        if (r.cpusetCpus !== undefined) write(dir, 'cpuset.cpus', r.cpusetCpus);
        if (r.cpusetMems !== undefined) write(dir, 'cpuset.mems', r.cpusetMems);
      }
      if (h.controllers.includes('pids') && r.pidsLimit !== undefined) write(dir, 'pids.max', r.pidsLimit > 0 ? r.pidsLimit : 'max');
      if (h.controllers.includes('cpu')) {
        if (r.cpuShares !== undefined) write(dir, 'cpu.shares', r.cpuShares);
        if (r.cpuPeriod !== undefined) write(dir, 'cpu.cfs_period_us', r.cpuPeriod);
        if (r.cpuQuota !== undefined) write(dir, 'cpu.cfs_quota_us', r.cpuQuota);
      }
      if (h.controllers.includes('memory')) {
        if (r.memoryLimit !== undefined) write(dir, 'memory.limit_in_bytes', r.memoryLimit);
        if (r.memoryReservation !== undefined) write(dir, 'memory.soft_limit_in_bytes', r.memoryReservation);
        if (r.memorySwap !== undefined) write(dir, 'memory.memsw.limit_in_bytes', r.memorySwap);
        if (r.memorySwappiness !== undefined) write(dir, 'memory.swappiness', r.memorySwappiness);
        // runc 1.1 ignores it with `kernel`; the kernel still takes it (runtime-tools' linux_cgroups_memory reads it back).
        if (r.memoryKernelTCP !== undefined) write(dir, 'memory.kmem.tcp.limit_in_bytes', r.memoryKernelTCP);
        if (r.disableOOMKiller) write(dir, 'memory.oom_control', 1);
      }
      if (h.controllers.includes('devices') && r.devices.length > 0)
        // The rules in config order, each its own write, as the kernel takes them.
        for (const [allow, rule] of r.devices) write(dir, allow ? 'devices.allow' : 'devices.deny', rule);
    }
    return { state, enter };
  } catch (e) {
    removeCgroup(state);
    throw e instanceof OciError ? e : new OciError(`cgroup: ${(e as Error).message}`);
  }
}

/** Every pid in the container's cgroup (the first hierarchy that has the file). */
export function cgroupPids(state: CgroupState): number[] {
  for (const dir of state.dirs) {
    try {
      return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      // a hierarchy removed under us: try the next
    }
  }
  return [];
}

function freezerDir(state: CgroupState): string | undefined {
  return state.dirs.find((d) => fs.existsSync(path.join(d, 'freezer.state')));
}

export function frozen(state: CgroupState): boolean {
  const d = freezerDir(state);
  if (!d) return false;
  try {
    return fs.readFileSync(path.join(d, 'freezer.state'), 'utf8').trim() !== 'THAWED';
  } catch {
    return false;
  }
}

/** Freezes or thaws, and waits until the kernel says it is done. */
export function freeze(state: CgroupState, on: boolean): void {
  const d = freezerDir(state);
  if (!d) throw new OciError('pause and resume need the freezer controller, which is not mounted here');
  write(d, 'freezer.state', on ? 'FROZEN' : 'THAWED');
  const want = on ? 'FROZEN' : 'THAWED';
  for (let i = 0; i < 1000; i++) {
    if (fs.readFileSync(path.join(d, 'freezer.state'), 'utf8').trim() === want) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
  }
  throw new OciError(`the freezer did not reach ${want}`);
}

/**
 * Removes the directories the runtime made, deepest first; the container's
 * own, when busy, is retried for a second (exiting tasks). A parent it made
 * that is busy holds another container's cgroup (containerd puts them all
 * under one): it stays, as runc leaves every parent.
 */
export function removeCgroup(state: CgroupState): void {
  for (const d of [...state.made].sort((a, b) => b.length - a.length)) {
    for (let i = 0; ; i++) {
      try {
        fs.rmdirSync(d);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || (code === 'EBUSY' && !state.dirs.includes(d))) break;
        if (code !== 'EBUSY' || i >= 100) throw new OciError(`cannot remove the cgroup ${d}: ${code}`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
  }
}

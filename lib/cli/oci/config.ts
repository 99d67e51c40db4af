// cli/oci/: a bundle's config.json read once and turned into what create
// needs: spawnIsolated's options (through the public API only), the cgroup,
// the hooks and what the runtime does itself to the parked init (oom score).
// Every field nsjs cannot honour yet is refused with one line naming it
// (OciError), never ignored, except the few the runtime-spec lets a runtime
// skip, which are warned about (see `warnings`).
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as sys from '../../core/constants';
import type { NamespaceType } from '../../core/nstypes';
import type { DeviceMount, Mount, TmpfsMount } from '../../fs/options';
import { Namespace } from '../../ns/namespace';
import type { CapabilityName } from '../../policy/options';
import type { SpawnOptions } from '../../spawn/options';
import { compileOciSeccomp, type OciSeccomp } from '../../policy/oci-seccomp';
import { OciError } from './errors';

/** What the spec's hooks are: run on the host, State JSON on stdin. */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Hooks {
  prestart: Hook[];
  createRuntime: Hook[];
  poststart: Hook[];
  poststop: Hook[];
}

/** The resources nsjs-oci writes to cgroupfs itself (until the cgroup room owns this). */
export interface Resources {
  pidsLimit?: number;
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  memoryLimit?: number;
  memoryReservation?: number;
  memorySwap?: number;
  memorySwappiness?: number;
  /** linux.resources.memory.kernelTCP: v1's memory.kmem.tcp.limit_in_bytes (cgroup v2 has no such limit). */
  memoryKernelTCP?: number;
  disableOOMKiller?: boolean;
  /** v1 devices rules in order: [allow, 'c 1:3 rwm']. */
  devices: [boolean, string][];
}

export interface Bundle {
  bundle: string;
  rootfs: string;
  ociVersion: string;
  annotations: Record<string, string>;
  command: string;
  args: string[];
  options: SpawnOptions;
  /** Host-side work before spawn: mount points and the cwd made inside the rootfs. */
  makeDirs: string[];
  makeFiles: string[];
  umask?: number;
  oomScoreAdj?: number;
  /** process.terminal: the init's stdio is a new pty whose master goes to --console-socket. */
  terminal: boolean;
  cgroupsPath?: string;
  /** linux.seccomp compiled: loaded by the parked init just before its execv, and by every exec'd process's. */
  seccomp?: Buffer;
  resources: Resources;
  hooks: Hooks;
  /** process.capabilities.ambient (see ProcessPart). */
  ambient?: string[];
  /** linux.rootfsPropagation as MS_* flags, set on / by the parked init. */
  propagation?: number;
  /** linux.sysctl: [path under /proc/sys, value], each of a namespace of the container's own. */
  sysctl: [string, string][];
  /** Namespaces joined by path: closed once spawned. */
  joined: Namespace[];
  /**
   * Without a mount namespace of its own (none, or one joined by `ns`):
   * the mounts nsjs-oci makes itself there before spawning (outside.ts);
   * the init chroots into the rootfs. `makeDirs` are then made there too.
   */
  outside?: { ns?: string; mounts: Mount[] };
  warnings: string[];
}

type Json = Record<string, unknown>;

const refuse = (field: string, why: string): never => {
  throw new OciError(`config.json: ${field}: ${why}`);
};

function obj(v: unknown, field: string): Json {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) refuse(field, 'must be an object');
  return v as Json;
}
function arr(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) refuse(field, 'must be an array');
  return v as unknown[];
}
function str(v: unknown, field: string): string {
  if (typeof v !== 'string') refuse(field, 'must be a string');
  return v as string;
}
function num(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) refuse(field, 'must be an integer');
  return v as number;
}
function strings(v: unknown, field: string): string[] {
  return arr(v, field).map((s, i) => str(s, `${field}[${i}]`));
}

const NS_TYPES: Record<string, NamespaceType> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time',
};

/** mount(8)'s flag words, as runc's parseMountOptions knows them: [set, clear]. */
const MOUNT_FLAGS: Record<string, [number, number]> = {
  ro: [sys.MS_RDONLY, 0], rw: [0, sys.MS_RDONLY], nosuid: [sys.MS_NOSUID, 0], suid: [0, sys.MS_NOSUID],
  nodev: [sys.MS_NODEV, 0], dev: [0, sys.MS_NODEV], noexec: [sys.MS_NOEXEC, 0], exec: [0, sys.MS_NOEXEC],
  sync: [sys.MS_SYNCHRONOUS, 0], async: [0, sys.MS_SYNCHRONOUS], dirsync: [sys.MS_DIRSYNC, 0],
  mand: [sys.MS_MANDLOCK, 0], nomand: [0, sys.MS_MANDLOCK], noatime: [sys.MS_NOATIME, 0], atime: [0, sys.MS_NOATIME],
  nodiratime: [sys.MS_NODIRATIME, 0], diratime: [0, sys.MS_NODIRATIME], relatime: [sys.MS_RELATIME, 0],
  norelatime: [0, sys.MS_RELATIME], strictatime: [sys.MS_STRICTATIME, 0], nostrictatime: [0, sys.MS_STRICTATIME],
  silent: [sys.MS_SILENT, 0], loud: [0, sys.MS_SILENT], defaults: [0, 0],
};
const PROPAGATION: Record<string, number> = {
  shared: sys.MS_SHARED, rshared: sys.MS_SHARED | sys.MS_REC, private: sys.MS_PRIVATE, rprivate: sys.MS_PRIVATE | sys.MS_REC,
  slave: sys.MS_SLAVE, rslave: sys.MS_SLAVE | sys.MS_REC, unbindable: sys.MS_UNBINDABLE, runbindable: sys.MS_UNBINDABLE | sys.MS_REC,
};
/** The spec's default devices, bound from the host's /dev as runc does in a user namespace (a bind works in any). */
const DEFAULT_DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
/** The devices cgroup rules of runc's AllowedDevices. */
const DEFAULT_DEVICE_RULES = ['c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 136:* rwm'];
/** The spec's /dev links (runtime-linux.md), and runc's /dev/core. */
const DEV_LINKS: [string, string][] = [
  ['/dev/fd', '/proc/self/fd'], ['/dev/stdin', '/proc/self/fd/0'], ['/dev/stdout', '/proc/self/fd/1'], ['/dev/stderr', '/proc/self/fd/2'],
  ['/dev/ptmx', 'pts/ptmx'], ['/dev/core', '/proc/kcore'],
];

/**
 * `unsafe` inside `root` as the container would see it: symbolic links
 * followed inside root, never out of it, `..` stopped at root (as runc's
 * securejoin). What does not exist yet is appended as it is.
 */
export function secureJoin(root: string, unsafe: string): string {
  const rest = unsafe.split('/').filter((c) => c && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (rest.length > 0) {
    const c = rest.shift()!;
    if (c === '..') {
      done.pop();
      continue;
    }
    const candidate = path.join(root, ...done, c);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      return path.join(root, ...done, c, ...rest);
    }
    if (!st.isSymbolicLink()) {
      done.push(c);
      continue;
    }
    if (++links > 255) throw new OciError(`${unsafe}: too many levels of symbolic links in the rootfs`);
    const to = fs.readlinkSync(candidate);
    if (to.startsWith('/')) done.length = 0;
    rest.unshift(...to.split('/').filter((x) => x && x !== '.'));
  }
  return path.join(root, ...done);
}

function hooks(h: unknown): Hooks {
  const out: Hooks = { prestart: [], createRuntime: [], poststart: [], poststop: [] };
  if (h === undefined) return out;
  const o = obj(h, 'hooks');
  for (const [k, v] of Object.entries(o)) {
    if (k === 'createContainer' || k === 'startContainer')
      refuse(`hooks.${k}`, 'hooks run inside the container are not supported by nsjs-oci yet');
    if (!(k in out)) refuse(`hooks.${k}`, 'is not a hook of the runtime-spec');
    out[k as keyof Hooks] = arr(v, `hooks.${k}`).map((e, i) => {
      const f = `hooks.${k}[${i}]`;
      const x = obj(e, f);
      const hook: Hook = { path: str(x.path, `${f}.path`) };
      if (!path.isAbsolute(hook.path)) refuse(`${f}.path`, 'must be absolute');
      if (x.args !== undefined) hook.args = strings(x.args, `${f}.args`);
      if (x.env !== undefined) hook.env = strings(x.env, `${f}.env`);
      if (x.timeout !== undefined) {
        hook.timeout = num(x.timeout, `${f}.timeout`);
        if (hook.timeout <= 0) refuse(`${f}.timeout`, 'must be greater than zero');
      }
      return hook;
    });
  }
  return out;
}

function capabilities(p: Json, uid: number, field: string): CapabilityName[] | undefined {
  if (p.capabilities === undefined) return [];
  const c = obj(p.capabilities, `${field}.capabilities`);
  const sets: Record<string, string[]> = {};
  for (const k of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'])
    sets[k] = c[k] === undefined ? [] : strings(c[k], `${field}.capabilities.${k}`);
  for (const k of Object.keys(c))
    if (!(k in sets)) refuse(`${field}.capabilities.${k}`, 'is not a capability set');
  // spawn keeps one list in all five sets. That is exact when the sets are
  // equal, and for uid 0 also when inheritable/ambient are empty (root's
  // permitted set comes from the bounding set at exec). Anything else would
  // give the process more than asked: refused until policy/ takes five sets.
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
  const base = sets.bounding;
  const exact = ['effective', 'permitted', 'inheritable', 'ambient'].every((k) => same(sets[k], base));
  const rootOk = uid === 0 && same(sets.effective, base) && same(sets.permitted, base) &&
    (sets.inheritable.length === 0 || same(sets.inheritable, base)) && (sets.ambient.length === 0 || same(sets.ambient, base));
  if (!exact && !rootOk)
    refuse(`${field}.capabilities`, 'sets that differ (other than empty inheritable/ambient for uid 0) are not supported by nsjs-oci yet');
  return base as CapabilityName[];
}

function rlimits(p: Json, field: string): SpawnOptions['rlimits'] {
  if (p.rlimits === undefined) return undefined;
  const out: Record<string, [number, number]> = {};
  const known = ['cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'nproc', 'nofile', 'memlock', 'as', 'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'rttime'];
  arr(p.rlimits, `${field}.rlimits`).forEach((r, i) => {
    const f = `${field}.rlimits[${i}]`;
    const o = obj(r, f);
    const type = str(o.type, `${f}.type`);
    const name = type.replace(/^RLIMIT_/, '').toLowerCase();
    if (!type.startsWith('RLIMIT_') || !known.includes(name)) refuse(`${f}.type`, `${type} is not a resource limit`);
    if (name in out) refuse(`${f}.type`, `${type} is given twice`);
    const limit = (v: unknown, k: string) => {
      const n = num(v, `${f}.${k}`);
      // 2^64-1 (RLIM_INFINITY) does not survive JSON.parse exactly.
      return n >= 2 ** 63 ? Infinity : n;
    };
    out[name] = [limit(o.soft, 'soft'), limit(o.hard, 'hard')];
  });
  return out as SpawnOptions['rlimits'];
}

function resources(r: unknown, warnings: string[]): Resources {
  const out: Resources = { devices: [] };
  if (r === undefined) return out;
  const o = obj(r, 'linux.resources');
  for (const [k, v] of Object.entries(o)) {
    if (v === null || v === undefined) continue;
    const f = `linux.resources.${k}`;
    switch (k) {
      case 'devices':
        arr(v, f).forEach((d, i) => {
          const x = obj(d, `${f}[${i}]`);
          const type = x.type === undefined ? 'a' : str(x.type, `${f}[${i}].type`);
          if (!['a', 'b', 'c'].includes(type)) refuse(`${f}[${i}].type`, 'must be a, b or c');
          const n = (m: unknown, key: string) => (m === undefined || m === null || m === -1 ? '*' : String(num(m, `${f}[${i}].${key}`)));
          const access = x.access === undefined ? 'rwm' : str(x.access, `${f}[${i}].access`);
          if (!/^[rwm]+$/.test(access)) refuse(`${f}[${i}].access`, 'must be made of r, w and m');
          const rule = type === 'a' ? 'a' : `${type} ${n(x.major, 'major')}:${n(x.minor, 'minor')} ${access}`;
          out.devices.push([x.allow === true, rule]);
        });
        break;
      case 'pids': {
        const p = obj(v, f);
        out.pidsLimit = num(p.limit, `${f}.limit`);
        break;
      }
      case 'cpu': {
        const c = obj(v, f);
        for (const [ck, cv] of Object.entries(c)) {
          if (cv === undefined || cv === null) continue;
          const cf = `${f}.${ck}`;
          if (ck === 'shares') out.cpuShares = num(cv, cf);
          else if (ck === 'quota') out.cpuQuota = num(cv, cf);
          else if (ck === 'period') out.cpuPeriod = num(cv, cf);
          else if (ck === 'cpus') out.cpusetCpus = str(cv, cf);
          else if (ck === 'mems') out.cpusetMems = str(cv, cf);
          else refuse(cf, 'is not supported by nsjs-oci yet');
        }
        break;
      }
      case 'memory': {
        const m = obj(v, f);
        for (const [mk, mv] of Object.entries(m)) {
          if (mv === undefined || mv === null) continue;
          const mf = `${f}.${mk}`;
          if (mk === 'limit') out.memoryLimit = num(mv, mf);
          else if (mk === 'reservation') out.memoryReservation = num(mv, mf);
          else if (mk === 'swap') out.memorySwap = num(mv, mf);
          else if (mk === 'swappiness') out.memorySwappiness = num(mv, mf);
          else if (mk === 'disableOOMKiller') out.disableOOMKiller = mv === true;
          else if (mk === 'kernelTCP') out.memoryKernelTCP = num(mv, mf);
          // Written, memory.kmem.limit_in_bytes reads back unlimited (kernels since 6.x accept the write and ignore it).
          else if (mk === 'kernel') warnings.push(`${mf}: ignored (the kernel no longer limits kernel memory; runc ignores it too)`);
          else refuse(mf, 'is not supported by nsjs-oci yet');
        }
        break;
      }
      default:
        refuse(f, 'is not supported by nsjs-oci yet (the cgroup room, issue 19)');
    }
  }
  return out;
}

/**
 * One OCI mount as spawn's mounts: a bind (plus a remount for its flags and
 * a propagation change), or a raw mount(2) with the option words turned
 * into flags and the rest as data. A plain tmpfs (source `tmpfs`, only
 * size and mode) is spawn's tmpfs, which makes the mount points of later
 * mounts inside it (/dev/pts, /dev/shm, /dev/mqueue under /dev); its
 * flags are then exactly the config's, by a remount. `ours` collects those
 * tmpfs targets: nothing is made on the rootfs below them.
 */
function mount(m: Json, i: number, b: { bundle: string; rootfs: string }, out: Mount[], made: Bundle, ours: string[]): void {
  const f = `mounts[${i}]`;
  const target = str(m.destination, `${f}.destination`);
  if (!path.isAbsolute(target)) refuse(`${f}.destination`, 'must be absolute');
  const type = m.type === undefined ? '' : str(m.type, `${f}.type`);
  const options = m.options === undefined ? [] : strings(m.options, `${f}.options`);
  let source = m.source === undefined ? undefined : str(m.source, `${f}.source`);
  let set = 0;
  let propagation = 0;
  let bind = type === 'bind';
  let recursive = false;
  const data: string[] = [];
  for (const o of options) {
    if (o === 'bind' || o === 'rbind') {
      bind = true;
      recursive ||= o === 'rbind';
    } else if (o in MOUNT_FLAGS) {
      set = (set | MOUNT_FLAGS[o][0]) & ~MOUNT_FLAGS[o][1];
    } else if (o in PROPAGATION) propagation |= PROPAGATION[o];
    else if (o === 'tmpcopyup' || o.startsWith('idmap') || o.startsWith('ridmap')) refuse(`${f}.options`, `${o} is not supported by nsjs-oci yet`);
    else data.push(o);
  }
  const norm = path.posix.normalize(target);
  const inOurs = ours.some((t) => norm.startsWith(t === '/' ? '/' : `${t}/`));
  if (type === 'cgroup' || type === 'cgroup2') {
    made.warnings.push(`${f}: the ${type} mount at ${norm} skipped: cgroupfs views are not supported by nsjs-oci yet (issue 19)`);
    return;
  }
  if (bind) {
    if (source === undefined) refuse(`${f}.source`, 'a bind mount needs a source');
    source = path.resolve(b.bundle, source!);
    let st: fs.Stats;
    try {
      st = fs.statSync(source);
    } catch (e) {
      return refuse(`${f}.source`, `${source}: ${(e as Error).message}`);
    }
    if (!inOurs) (st.isDirectory() ? made.makeDirs : made.makeFiles).push(norm);
    out.push({ type: 'bind', source, target: norm, recursive, readonly: false });
    const flags = set & (sys.MS_RDONLY | sys.MS_NOSUID | sys.MS_NODEV | sys.MS_NOEXEC | sys.MS_NOATIME | sys.MS_NODIRATIME | sys.MS_RELATIME | sys.MS_STRICTATIME);
    if (flags) out.push({ type: 'raw', fstype: 'none', source: 'none', target: norm, flags: sys.MS_BIND | sys.MS_REMOUNT | flags });
  } else {
    if (type === '') refuse(`${f}.type`, 'must be given for a mount that is not a bind');
    if (!inOurs) made.makeDirs.push(norm);
    const t: TmpfsMount = { type: 'tmpfs', target: norm };
    const plain = type === 'tmpfs' && (source === undefined || source === 'tmpfs') && data.every((d) => {
      const [k, v] = d.split('=', 2);
      if (k === 'size' && v !== undefined && /^[1-9][0-9]*[kmgKMG%]?$/.test(v)) t.size = /^[0-9]+$/.test(v) ? Number(v) : v;
      else if (k === 'mode' && v !== undefined && /^[0-7]+$/.test(v)) t.mode = parseInt(v, 8);
      else return false;
      return true;
    });
    if (type === 'proc') {
      // spawn's proc is always nosuid,nodev,noexec: at least what configs ask.
      out.push({ type: 'proc', target: norm });
    } else if (plain) {
      ours.push(norm);
      out.push(t);
      // spawn's tmpfs is nosuid,nodev: /dev must not be nodev for the
      // config's devices, so the flags become the config's, by a remount.
      if (set !== (sys.MS_NOSUID | sys.MS_NODEV)) out.push({ type: 'raw', fstype: 'none', source: 'none', target: norm, flags: sys.MS_REMOUNT | set });
    } else {
      out.push({ type: 'raw', fstype: type, source: source ?? type, target: norm, flags: set, data: data.join(',') || undefined });
    }
  }
  if (propagation) out.push({ type: 'raw', fstype: 'none', source: 'none', target: norm, flags: propagation });
}

/** A readonly or masked path: refused if it is relative or a symbolic link (runtime-tools asks both). */
function checkedPath(p: unknown, field: string, rootfs: string, hostMounts: Map<string, string>): string | undefined {
  const s = str(p, field);
  if (!path.isAbsolute(s)) refuse(field, `${s} must be absolute`);
  const norm = path.posix.normalize(s);
  // Under the container's /proc or /sys, look at ours: the rootfs has only the mount point.
  let onHost = path.join(rootfs, norm);
  for (const [dest, host] of hostMounts) if (norm.startsWith(`${dest}/`)) onHost = path.join(host, norm.slice(dest.length));
  let st: fs.Stats;
  try {
    st = fs.lstatSync(onHost);
  } catch {
    return undefined; // the spec: a path that does not exist is skipped
  }
  if (st.isSymbolicLink()) refuse(field, `${s} is a symbolic link`);
  return norm;
}

/** A spec.Process (config.json's `process`, or exec's --process file) as spawn's options. */
export interface ProcessPart {
  args: string[];
  options: SpawnOptions;
  terminal: boolean;
  umask?: number;
  oomScoreAdj?: number;
  /** The container's linux.seccomp compiled, which the parked init loads just before its execv. */
  seccomp?: Buffer;
  /** process.capabilities.ambient, which the parked init raises itself (see nsjs-init --ambient). */
  ambient?: string[];
}

export function processOf(value: unknown, field: string): ProcessPart {
  const p = obj(value, field);
  for (const k of ['apparmorProfile', 'selinuxLabel', 'ioPriority', 'scheduler', 'execCPUAffinity', 'consoleSize'])
    if (p[k] !== undefined && k !== 'consoleSize') refuse(`${field}.${k}`, 'is not supported by nsjs-oci');
  const args = strings(p.args, `${field}.args`);
  if (args.length === 0) refuse(`${field}.args`, 'must not be empty');
  const env: Record<string, string> = {};
  for (const e of p.env === undefined ? [] : strings(p.env, `${field}.env`)) {
    const eq = e.indexOf('=');
    if (eq <= 0) refuse(`${field}.env`, `${e} is not NAME=value`);
    env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  const cwd = str(p.cwd, `${field}.cwd`);
  if (!path.isAbsolute(cwd)) refuse(`${field}.cwd`, 'must be absolute');
  const user = p.user === undefined ? {} : obj(p.user, `${field}.user`);
  const uid = user.uid === undefined ? 0 : num(user.uid, `${field}.user.uid`);
  const gid = user.gid === undefined ? 0 : num(user.gid, `${field}.user.gid`);
  const groups = user.additionalGids === undefined ? [] : arr(user.additionalGids, `${field}.user.additionalGids`).map((g, i) => num(g, `${field}.user.additionalGids[${i}]`));
  if (user.username !== undefined) refuse(`${field}.user.username`, 'is for Windows');
  // seccomp: false and allowUserNamespaces: true: the config's linux.seccomp
  // is the container's whole policy (loaded by the parked init), so nsjs's
  // default filter is not stacked on it.
  const options: SpawnOptions = { stdio: 'inherit', env, cwd, uid, gid, groups, noNewPrivileges: p.noNewPrivileges === true, newSession: true, seccomp: false, allowUserNamespaces: true };
  const keep = capabilities(p, uid, field);
  // Names as the config gives them: spawnIsolated refuses one it does not know.
  if (keep) options.capabilities = { keep: keep as CapabilityName[] };
  const rl = rlimits(p, field);
  if (rl) options.rlimits = rl;
  const out: ProcessPart = { args, options, terminal: p.terminal === true };
  // Checked by capabilities(); ambient needs them inheritable too (the kernel's rule).
  const sets = (p.capabilities ?? {}) as { ambient?: string[]; inheritable?: string[] };
  if (sets.ambient?.length && sets.inheritable?.length) out.ambient = sets.ambient;
  if (user.umask !== undefined) out.umask = num(user.umask, `${field}.user.umask`);
  if (p.oomScoreAdj !== undefined) out.oomScoreAdj = num(p.oomScoreAdj, `${field}.oomScoreAdj`);
  return out;
}

/** Reads `<bundle>/config.json` once and translates it; throws OciError naming the field it cannot honour. */
export function loadBundle(bundleArg: string): Bundle {
  const bundle = path.resolve(bundleArg);
  let text: string;
  try {
    text = fs.readFileSync(path.join(bundle, 'config.json'), 'utf8');
  } catch (e) {
    throw new OciError(`cannot read ${path.join(bundle, 'config.json')}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new OciError(`config.json: not JSON: ${(e as Error).message}`);
  }
  const c = obj(parsed, 'config.json');
  const warnings: string[] = [];
  const ociVersion = str(c.ociVersion, 'ociVersion');
  if (!/^1\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$/.test(ociVersion)) refuse('ociVersion', `${ociVersion} is not a 1.x runtime-spec version`);
  const known = ['ociVersion', 'root', 'mounts', 'process', 'hostname', 'domainname', 'hooks', 'annotations', 'linux'];
  for (const k of Object.keys(c)) if (!known.includes(k)) warnings.push(`config.json: unknown property ${k} ignored`);
  const root = obj(c.root, 'root');
  const rootfs = path.resolve(bundle, str(root.path, 'root.path'));
  if (!fs.existsSync(rootfs)) refuse('root.path', `${rootfs} does not exist`);
  if (c.process === undefined) refuse('process', 'must be given for create');
  const proc = processOf(c.process, 'process');

  const linux = c.linux === undefined ? {} : obj(c.linux, 'linux');
  const namespaces = new Set<NamespaceType>();
  const joined: Namespace[] = [];
  let joinedMnt: string | undefined;
  const made: Bundle = {
    bundle, rootfs, ociVersion, annotations: {}, command: '', args: [], options: {}, terminal: false, makeDirs: [], makeFiles: [], resources: { devices: [] }, sysctl: [],
    hooks: hooks(c.hooks), joined, warnings,
  };
  try {
    if (linux.namespaces !== undefined)
      arr(linux.namespaces, 'linux.namespaces').forEach((n, i) => {
        const f = `linux.namespaces[${i}]`;
        const o = obj(n, f);
        const type = NS_TYPES[str(o.type, `${f}.type`)];
        if (!type) refuse(`${f}.type`, `${String(o.type)} is not a namespace type`);
        if (namespaces.has(type) || joined.some((j) => j.type === type)) refuse(`${f}.type`, `${String(o.type)} is given twice`);
        if (o.path === undefined || o.path === '') namespaces.add(type);
        else {
          const file = str(o.path, `${f}.path`);
          try {
            joined.push(Namespace.open(file, type));
          } catch (e) {
            refuse(`${f}.path`, (e as Error).message);
          }
          if (type === 'mnt') joinedMnt = path.resolve(file);
        }
      });
    const ownMnt = namespaces.has('mnt');
    if (!ownMnt) {
      // runc's rules for a container in a mount namespace it shares.
      for (const k of ['maskedPaths', 'readonlyPaths'])
        if (Array.isArray(linux[k]) && (linux[k] as unknown[]).length > 0) refuse(`linux.${k}`, 'unable to restrict sys entries without a private mount namespace');
      for (const k of ['rootfsPropagation', 'devices']) if (linux[k] !== undefined) refuse(`linux.${k}`, 'needs a mount namespace of the container\'s own');
      if (root.readonly === true) refuse('root.readonly', 'needs a mount namespace of the container\'s own');
    }
    if (linux.seccomp !== undefined) made.seccomp = ociSeccomp(linux.seccomp);
    for (const k of ['intelRdt', 'personality', 'mountLabel'].filter((k) => linux[k] !== undefined)) refuse(`linux.${k}`, 'is not supported by nsjs-oci yet');
    if (linux.sysctl !== undefined) made.sysctl = sysctls(linux.sysctl, (t) => namespaces.has(t));
    const options: SpawnOptions = { namespaces: [...namespaces], ...proc.options };
    if (joined.length > 0) options.join = joined;
    const map = (v: unknown, field: string) =>
      arr(v, field).map((m, i) => {
        const o = obj(m, `${field}[${i}]`);
        return { inside: num(o.containerID, `${field}[${i}].containerID`), outside: num(o.hostID, `${field}[${i}].hostID`), count: num(o.size, `${field}[${i}].size`) };
      });
    if (linux.uidMappings !== undefined || linux.gidMappings !== undefined) {
      if (!namespaces.has('user')) refuse('linux.uidMappings', 'needs a new user namespace');
      if (linux.uidMappings === undefined || linux.gidMappings === undefined) refuse('linux.uidMappings', 'needs gidMappings too');
      options.user = { uidMap: map(linux.uidMappings, 'linux.uidMappings'), gidMap: map(linux.gidMappings, 'linux.gidMappings') };
    } else if (namespaces.has('user')) refuse('linux.uidMappings', 'a new user namespace needs uidMappings and gidMappings');
    for (const k of ['hostname', 'domainname'] as const) {
      if (c[k] === undefined || c[k] === '') continue;
      const name = str(c[k], k);
      // In a uts namespace joined by path runc sets them there too: written
      // as the sysctl kernel.<k> by a process in that namespace (writeSysctls).
      if (joined.some((j) => j.type === 'uts')) made.sysctl.push([`kernel/${k}`, name]);
      else if (!namespaces.has('uts')) refuse(k, 'needs a new uts namespace or one joined by path');
      else options[k] = name;
    }
    const rp = linux.rootfsPropagation === undefined ? undefined : str(linux.rootfsPropagation, 'linux.rootfsPropagation');
    if (rp !== undefined) {
      // On / after pivot_root (nsjs-init --propagation), recursively as
      // runc: before it, a shared root makes pivot_root fail and an
      // unbindable one the root's own bind. spawn's own propagation of /
      // before the mounts stays private, but for slave, which lets the
      // host's mount events in from the start.
      const flag = ({ shared: sys.MS_SHARED, slave: sys.MS_SLAVE, private: sys.MS_PRIVATE, unbindable: sys.MS_UNBINDABLE } as Record<string, number>)[rp.replace(/^r/, '')];
      if (flag === undefined) refuse('linux.rootfsPropagation', `${rp} is not a propagation type`);
      made.propagation = flag | sys.MS_REC;
      if (flag === sys.MS_SLAVE) options.propagation = 'slave';
    }
    const mounts: Mount[] = [];
    const ours: string[] = [];
    const hostMounts = new Map<string, string>();
    if (c.mounts !== undefined)
      arr(c.mounts, 'mounts').forEach((m, i) => {
        const o = obj(m, `mounts[${i}]`);
        if (o.type === 'proc') hostMounts.set(path.posix.normalize(String(o.destination)), '/proc');
        if (o.type === 'sysfs') hostMounts.set(path.posix.normalize(String(o.destination)), '/sys');
        mount(o, i, { bundle, rootfs }, mounts, made, ours);
      });
    // The default devices and links, after every mount as runc makes them,
    // where /dev is a tmpfs of the config (nothing is made on the rootfs).
    const devices = linux.devices === undefined ? [] : devicesOf(linux.devices, namespaces.has('user'));
    if (ours.includes('/dev')) {
      for (const name of DEFAULT_DEVICES)
        if (!devices.some((d) => d.target === `/dev/${name}`)) mounts.push({ type: 'bind', source: `/dev/${name}`, target: `/dev/${name}`, recursive: false, readonly: false });
      for (const [at, to] of DEV_LINKS) if (!devices.some((d) => d.target === at)) mounts.push({ type: 'symlink', target: at, linkTo: to });
    }
    mounts.push(...devices);
    // After every mount, so that none can undo them (runc's order).
    if (linux.readonlyPaths !== undefined)
      arr(linux.readonlyPaths, 'linux.readonlyPaths').forEach((r, i) => {
        const p2 = checkedPath(r, `linux.readonlyPaths[${i}]`, rootfs, hostMounts);
        if (p2) {
          mounts.push({ type: 'bind', source: path.join(rootfs, p2), target: p2, recursive: true, readonly: false });
          mounts.push({ type: 'raw', fstype: 'none', source: 'none', target: p2, flags: sys.MS_BIND | sys.MS_REMOUNT | sys.MS_RDONLY | sys.MS_NOSUID | sys.MS_NODEV | sys.MS_NOEXEC });
        }
      });
    if (linux.maskedPaths !== undefined)
      arr(linux.maskedPaths, 'linux.maskedPaths').forEach((r, i) => {
        const p2 = checkedPath(r, `linux.maskedPaths[${i}]`, rootfs, hostMounts);
        if (p2) mounts.push({ type: 'mask', target: p2 });
      });
    // The root is a bind of root.path onto itself: remounting its top mount
    // read-only leaves the mounts on it as they are (runc's order: last).
    if (root.readonly === true) mounts.push({ type: 'raw', fstype: 'none', source: 'none', target: '/', flags: sys.MS_BIND | sys.MS_REMOUNT | sys.MS_RDONLY });
    if (ownMnt) {
      options.mounts = mounts;
      options.root = rootfs;
    } else {
      made.outside = { mounts };
      if (joinedMnt !== undefined) made.outside.ns = joinedMnt;
      options.chroot = rootfs;
    }
    made.makeDirs.push(proc.options.cwd as string); // processOf's cwd is a path
    if (c.annotations !== undefined)
      for (const [k, v] of Object.entries(obj(c.annotations, 'annotations'))) made.annotations[k] = str(v, `annotations.${k}`);
    made.args = proc.args;
    made.options = options;
    made.terminal = proc.terminal;
    if (proc.umask !== undefined) made.umask = proc.umask;
    if (proc.ambient !== undefined) made.ambient = proc.ambient;
    if (proc.oomScoreAdj !== undefined) made.oomScoreAdj = proc.oomScoreAdj;
    if (linux.cgroupsPath !== undefined) made.cgroupsPath = str(linux.cgroupsPath, 'linux.cgroupsPath');
    made.resources = resources(linux.resources, warnings);
    // After the config's own rules (runtime-tools reads them back first, in
    // order): what every container needs, as runc allows it (mknod of any
    // node; the default devices, /dev/console and the ptys).
    if (made.resources.devices.length > 0) for (const rule of DEFAULT_DEVICE_RULES) made.resources.devices.push([true, rule]);
    return made;
  } catch (e) {
    for (const j of joined) j.close();
    throw e;
  }
}

/**
 * linux.devices: each made with mknod, its mode exact and its owner as
 * given; in a user namespace, where mknod is refused, the host's node at
 * the same path bound instead (runc's way, with the host's mode and owner).
 */
function devicesOf(value: unknown, userns: boolean): Mount[] {
  return arr(value, 'linux.devices').map((d, i) => {
    const f = `linux.devices[${i}]`;
    const o = obj(d, f);
    const target = path.posix.normalize(str(o.path, `${f}.path`));
    if (!path.isAbsolute(target)) refuse(`${f}.path`, 'must be absolute');
    const type = str(o.type, `${f}.type`);
    if (!['c', 'u', 'b', 'p'].includes(type)) refuse(`${f}.type`, `${type} is not c, u, b or p`);
    if (userns) return { type: 'bind', source: target, target, recursive: false, readonly: false };
    const dev: DeviceMount = { type: 'device', target, kind: type === 'u' ? 'c' : (type as 'c' | 'b' | 'p') };
    if (type !== 'p') {
      dev.major = num(o.major, `${f}.major`);
      dev.minor = num(o.minor, `${f}.minor`);
    }
    if (o.fileMode !== undefined && o.fileMode !== null) dev.mode = num(o.fileMode, `${f}.fileMode`) & 0o7777;
    if (o.uid !== undefined && o.uid !== null) dev.uid = num(o.uid, `${f}.uid`);
    if (o.gid !== undefined && o.gid !== null) dev.gid = num(o.gid, `${f}.gid`);
    return dev;
  });
}

/**
 * linux.sysctl, as runc validates it: only the keys a namespace of the
 * container's holds (net.* of its network namespace, the System V IPC and
 * mqueue keys of its ipc namespace, the names of its uts namespace), since
 * they are written through the host's /proc/sys by a process in those
 * namespaces: any other key would be the host's.
 */
function sysctls(value: unknown, has: (t: NamespaceType) => boolean): [string, string][] {
  const IPC = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];
  return Object.entries(obj(value, 'linux.sysctl')).map(([k, v]) => {
    const f = `linux.sysctl.${k}`;
    const val = str(v, f);
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/.test(k)) refuse(f, 'is not a sysctl name');
    const ns: NamespaceType | undefined = k.startsWith('net.') ? 'net' : IPC.includes(k) || k.startsWith('fs.mqueue.') ? 'ipc' : k === 'kernel.hostname' || k === 'kernel.domainname' ? 'uts' : undefined;
    if (!ns) refuse(f, 'is not namespaced: it would change the host');
    if (!has(ns!)) refuse(f, `needs a new ${ns} namespace`);
    if (val.includes('\n')) refuse(f, 'must be one line');
    return [k.replace(/\./g, '/'), val];
  });
}

/** linux.seccomp as the BPF program nsjs-init loads; anything it cannot express is refused here, before anything runs. */
function ociSeccomp(value: unknown): Buffer {
  const o = obj(value, 'linux.seccomp');
  str(o.defaultAction, 'linux.seccomp.defaultAction');
  if (o.listenerPath !== undefined) refuse('linux.seccomp.listenerPath', 'is not supported by nsjs-oci');
  try {
    return compileOciSeccomp(o as unknown as OciSeccomp);
  } catch (e) {
    return refuse('linux.seccomp', (e as Error).message.replace(/^nsjs: /, ''));
  }
}

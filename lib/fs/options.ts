// fs/: the sandbox's file system. The `mounts`, `root` and `propagation`
// options and their validation live here; plan.ts turns them into the ops
// of the child's mount engine (src-native/fs/mounts.cc), which resolves every
// target once inside the new root and mounts on that very fd.
import { invalidArgType, invalidArgValue, outOfRange } from '../core/errors';
import type { NamespaceType } from '../core/nstypes';
import { bool, integer, knownKeys, needs, noNul, pathString, plainObject } from '../core/validate';

/** A `proc` filesystem for the new pid namespace. Needs `mnt` (and `pid` to show only the sandbox's processes). */
export interface ProcMount {
  /** `'proc'`. */
  type: 'proc';
  /** Where, usually `'/proc'`. Refused where the host's /proc has locked over-mounts (a container): see `features().features.procMount`. */
  target: string;
}
/**
 * A fresh tmpfs. Everything under it was made by nsjs, so missing mount
 * points of later `mounts` below it are created (see {@link Mount}). A
 * hostile program inside can fill it up to `size` (charged to its memory).
 */
export interface TmpfsMount {
  /** `'tmpfs'`. */
  type: 'tmpfs';
  /** Where: an absolute path inside `root` (see {@link Mount}). */
  target: string;
  /** Size limit: bytes, or `'64m'`, `'1g'`, `'50%'` (of RAM); default half of RAM. Pages are charged to the sandbox's memory as they are written. */
  size?: number | string;
  /** Permissions of its root directory; default `0o755`. */
  mode?: number;
}
/**
 * A bind mount of `source` (a path outside) at `target`. A hostile program
 * inside can write through it unless `readonly`, and can see everything
 * below `source`. `readonly` holds against a program without CAP_SYS_ADMIN
 * over the sandbox's mount namespace: real root without a user namespace
 * drops it by default; but in a new user namespace the command keeps that
 * namespace's capabilities by default, and with them it can remount the
 * bind read-write (the mount is its namespace's own, not locked): give
 * `capabilities: { keep: [] }` (or a list without CAP_SYS_ADMIN) there. The
 * same holds for `mask` and a `readonly` tmpfs root.
 */
export interface BindMount {
  /** `'bind'`. */
  type: 'bind';
  /** The path outside, resolved before `root` applies, once (the mount is made from that very lookup). */
  source: string;
  /** Where it appears: an absolute path inside `root` (see {@link Mount}); a directory for a directory, a file for a file (created so where nsjs made its parent). */
  target: string;
  /** Read-only: set on the detached copy of `source` before it is attached (mount_setattr, Linux 5.12+; before, a remount right after attaching, of the top mount only). */
  readonly?: boolean;
  /** Include the mounts below `source` (MS_REC); default `true`. Unprivileged, the kernel refuses `false` where `source` has mounts below it (they are locked to it). */
  recursive?: boolean;
  /** Skip this mount when `source` does not exist (bwrap `--bind-try`); default `false`. */
  optional?: boolean;
  /**
   * An idmapped mount through the sandbox's user namespace (crun, runc,
   * OCI 1.2): through it a file stored with uid (gid) `n` is owned by `n`
   * inside, for every `n` the namespace's maps cover inside, and what the
   * sandbox writes as `n` is stored as `n`; through a plain bind the same
   * file shows as whatever host id `n` is inside (with a map 0 → 100000,
   * host uid 0 is `nobody`).
   * Needs a new user namespace (its maps are then written by the parent)
   * and root: the kernel idmaps only a mount whose filesystem's user
   * namespace we are privileged over (the host's, for a disk), and only on
   * a filesystem that supports it (ext4, xfs, btrfs, tmpfs, overlayfs…);
   * elsewhere the spawn fails at that step, nothing started. The tree is
   * made by the parent (open_tree and mount_setattr, as the child's
   * namespace exists) from `source` looked up in the caller's mount
   * namespace, and attached by the child like any bind.
   *
   * What a hostile program inside can do with it: act on every file under
   * `source` as the host ids its own map to through the mount — as uid 0
   * inside, as the host's root: read, change and delete anything there,
   * and (unless `readonly`) create files owned by host root, setuid-root
   * programs included, that run as root for anyone who runs them from a
   * path outside this mount. Give it `readonly: true` unless the sandbox is
   * meant to own the directory, and never idmap a writable directory that
   * others on the host run programs from.
   */
  idmap?: boolean;
}
/**
 * A minimal /dev on a tmpfs: null zero full random urandom tty (bound from
 * the host), a new devpts instance (`newinstance,ptmxmode=0666`) whose
 * `ptmx` `/dev/ptmx` links to, so that a program inside can open a pty of
 * its own, shm, and the fd and std* links, all made inside the new tmpfs
 * through its fd. The tmpfs is `nodev`: a device node the sandbox makes
 * there (real root may mknod) cannot be opened; the bound nodes are mounts
 * of their own and work. A hostile program inside sees no pty but its own.
 */
export interface DevMount {
  /** `'dev'`. */
  type: 'dev';
  /** Where, usually `'/dev'`. */
  target: string;
}
/**
 * An overlay of directories of the host (bwrap `--overlay`, `--tmp-overlay`).
 * Writes go to `upper` (with `work`, an empty directory on the same
 * filesystem), or without them to a throw-away tmpfs that vanishes with the
 * sandbox. A hostile program inside can write into `upper` whatever it likes
 * (it is its), never into a lower layer.
 */
export interface OverlayMount {
  /** `'overlay'`. */
  type: 'overlay';
  /** Where: an absolute path inside `root` (see {@link Mount}). */
  target: string;
  /** Directories outside, each looked up once; `lower[0]` is the top layer. */
  lower: string[];
  /** Where writes go, a directory outside; with `work`. */
  upper?: string;
  /** overlayfs's work directory: empty, on the filesystem of `upper`. */
  work?: string;
}
/** A POSIX message queue filesystem (of the sandbox's ipc namespace when it has one). */
export interface MqueueMount {
  /** `'mqueue'`. */
  type: 'mqueue';
  /** Where, usually `'/dev/mqueue'`. */
  target: string;
}
/** A sysfs (of the sandbox's net namespace: needs `net` unprivileged). Read-only for an unprivileged sandbox. */
export interface SysfsMount {
  /** `'sysfs'`. */
  type: 'sysfs';
  /** Where, usually `'/sys'`. */
  target: string;
}
/**
 * A directory, created (with its missing parents) where nsjs made the
 * parent; an existing one there gets `mode`. A directory of the host is
 * never created or changed: there it is an error.
 */
export interface DirMount {
  /** `'dir'`. */
  type: 'dir';
  /** The directory: an absolute path inside `root`. */
  target: string;
  /** Exact permissions (no umask); default `0o755`. */
  mode?: number;
}
/** A regular file with `content`, created where nsjs made the parent (bwrap `--file`); never on a disk of the host. */
export interface FileMount {
  /** `'file'`. */
  type: 'file';
  /** The file: an absolute path inside `root`. An existing directory there is an error. */
  target: string;
  /** Its bytes (a string is written as UTF-8); at most 16 MiB. */
  content: string | Buffer;
  /** Exact permissions (no umask); default `0o644`. */
  mode?: number;
}
/** A symbolic link, created where nsjs made the parent (bwrap `--symlink`). */
export interface SymlinkMount {
  /** `'symlink'`. */
  type: 'symlink';
  /** The link itself: an absolute path inside `root`. */
  target: string;
  /** What it points to, as the sandbox sees it (relative or absolute). */
  linkTo: string;
}
/**
 * A device node or FIFO (OCI `linux.devices`), made with mknod where nsjs
 * made the parent, its mode exact (no umask) and owned by `uid`/`gid` (ids
 * of the sandbox, default the creator's). Needs CAP_MKNOD of the host: a
 * user namespace cannot make one (EPERM; bind the host's node instead).
 * nsjs's tmpfs and dev are `nodev`, so a node on them cannot be opened
 * until that tmpfs is remounted without it (a raw `MS_REMOUNT`). A hostile
 * program inside that can open the node can do whatever its driver allows
 * (a disk: read and write it raw); the devices cgroup limits that.
 */
export interface DeviceMount {
  /** `'device'`. */
  type: 'device';
  /** The node: an absolute path inside `root`. */
  target: string;
  /** `'c'` character, `'b'` block, `'p'` FIFO. */
  kind: 'c' | 'b' | 'p';
  /** Major and minor numbers; needed for `'c'` and `'b'`. */
  major?: number;
  minor?: number;
  /** Exact permissions (no umask); default `0o666`. */
  mode?: number;
  /** Owner; default the creator's. */
  uid?: number;
  gid?: number;
}
/**
 * Hides a path (OCI `maskedPaths`): an empty read-only tmpfs over a
 * directory, the host's `/dev/null` over anything else. A missing path is
 * skipped. A hostile program inside with CAP_SYS_ADMIN in the sandbox's
 * user namespace (kept there by default) can unmount it: see
 * {@link BindMount} `readonly` for how to hold it.
 */
export interface MaskMount {
  /** `'mask'`. */
  type: 'mask';
  /** What to hide: an absolute path inside `root`. */
  target: string;
}
/** Any mount(2): `flags` are `MS_*` bits, `data` the filesystem's options string. */
export interface RawMount {
  /** `'raw'`. */
  type: 'raw';
  /** The filesystem type (`'sysfs'`, `'cgroup2'`, `'fuse'`…), as mount(2)'s `fstype`. */
  fstype: string;
  /** mount(2)'s `source`; default the `fstype`. */
  source?: string;
  /** Where: an absolute path inside `root` (see {@link Mount}). */
  target: string;
  /** `MS_*` bits (see `sys`); default 0. */
  flags?: number;
  /** The filesystem's options string, parsed by mount(2) as it is; without it (and without `MS_BIND`, `MS_MOVE`, `MS_REMOUNT` or propagation flags) the filesystem is made with fsopen. */
  data?: string;
}
/**
 * One entry of `mounts`. Its target is an absolute path, looked up once,
 * inside `root` (or `/`), as if `root` were `/`: a symbolic link there is
 * followed inside it, never out of it, and a /proc magic link is refused
 * (ELOOP). The mount is then made on that very fd (open_tree, fsopen and
 * move_mount; mount(2) onto /proc/self/fd/N where the kernel lacks them),
 * so a hostile program that can write in the root and renames or swaps its
 * directories while the sandbox is set up can at most move a mount to
 * another place inside the root: it cannot make a read-only bind writable,
 * put a flag on another mount, or mount anything outside.
 *
 * A missing target (and its missing parents) is created only where nsjs
 * made the parent: a tmpfs `root`, a `tmpfs` (or `dev`) or `dir` of the same
 * `mounts` (checked in the child, on the directory's own filesystem, so a
 * symbolic link to a bind of the host does not count). On a disk of the
 * host nothing is ever created: a missing target there is `ENOENT`. Each
 * costs a few syscalls in the child (microseconds; bench/ prices them).
 *
 * The earlier raw form `{ type: <fstype>, … }` still works, with a one-time
 * deprecation warning; write `{ type: 'raw', fstype }`.
 */
export type Mount =
  | ProcMount
  | TmpfsMount
  | BindMount
  | DevMount
  | OverlayMount
  | MqueueMount
  | SysfsMount
  | DirMount
  | FileMount
  | SymlinkMount
  | DeviceMount
  | MaskMount
  | RawMount;

/** `root: { type: 'tmpfs' }`: a fresh tmpfs that `mounts` build from nothing. */
export interface TmpfsRoot {
  /** `'tmpfs'`. */
  type: 'tmpfs';
  /** Size limit, as {@link TmpfsMount.size}. */
  size?: number | string;
  /** Permissions of `/`; default `0o755`. */
  mode?: number;
  /** Remount `/` read-only once `mounts` have built it (bwrap `--remount-ro /`); the mounts on it keep their own flags. Default `false`. */
  readonly?: boolean;
}

/** The options of {@link SpawnOptions} that fs/ owns (SpawnOptions extends it). */
export interface FsSpawnOptions {
  /** Applied in order in the new mount namespace (needs `mnt`). */
  mounts?: Mount[];
  /**
   * The new root (needs `mnt`), entered with pivot_root after `mounts`,
   * whose targets are then looked up inside it.
   *
   * A string: an absolute path of the host. It is bound onto itself first
   * and entered through that bind's fd, so its own path is looked up once.
   * A program that can write in it can rename what is in it while the
   * sandbox is set up, but not lead a mount out of it (see {@link Mount});
   * nsjs creates nothing in it (only below a `tmpfs` or `dir` of `mounts`).
   *
   * `{ type: 'tmpfs' }`: a fresh tmpfs, which `mounts` build from nothing
   * (bubblewrap's way): no mount point is ever made on a disk of the host.
   * It adds nothing by itself. Needs `propagation` `'private'` or `'slave'`
   * (it is mounted over our `/` until pivot_root).
   */
  root?: string | TmpfsRoot;
  /** Applied recursively to `/` of the new mount namespace before anything else; default `'private'`, so no mount reaches the host. */
  propagation?: 'private' | 'slave' | 'shared' | 'unchanged';
}

/** fs/'s part of the checked options. */
export interface FsChecked {
  mounts: Mount[];
  root?: string | TmpfsRoot;
  propagation: 'private' | 'slave' | 'shared' | 'unchanged';
}

function size(value: unknown, name: string): number | string {
  if (typeof value === 'number') return integer(value, name, 1, Number.MAX_SAFE_INTEGER);
  if (typeof value === 'string' && /^[1-9][0-9]*[kmgKMG%]?$/.test(value)) return value;
  throw invalidArgValue(name, value, "must be a byte count or a string such as '64m'");
}

/**
 * A mount target or `root`: absolute, since the child looks targets up
 * inside the root (or /) and `root` from no particular directory.
 */
function absolutePath(value: unknown, name: string): string {
  const p = pathString(value, name);
  if (!p.startsWith('/')) throw invalidArgValue(name, p, 'must be an absolute path');
  return p;
}

/** A builder's or a mount's target below `/`: `/` itself cannot be made, masked or linked. */
function belowRoot(value: unknown, name: string): string {
  const p = absolutePath(value, name);
  if (/^\/+$/.test(p)) throw invalidArgValue(name, p, 'must name something below /');
  return p;
}

const optionalMode = (v: unknown, name: string) => (v === undefined ? undefined : integer(v, name, 0, 0o7777));
const optionalBool = (v: unknown, name: string, dflt: boolean) => (v === undefined ? dflt : bool(v, name));

/** The most bytes a `file` holds: they travel in the plan, hex-encoded. */
export const MAX_FILE_CONTENT = 16 << 20;

/** Mount types that the raw form named before `type: 'raw'`: said once per process. */
let warnedRaw = false;
function warnLegacyRaw(type: string): void {
  if (warnedRaw) return;
  warnedRaw = true;
  process.emitWarning(
    `options.mounts: { type: '${type}', … } as a raw mount(2) is deprecated; write { type: 'raw', fstype: '${type}', … }`,
    { type: 'DeprecationWarning', code: 'NSJS_DEP_RAW_MOUNT' },
  );
}
/** @internal For tests: say the deprecation again. */
export function resetLegacyRawWarning(): void {
  warnedRaw = false;
}

function raw(m: Record<string, unknown>, name: string, target: string, fstype: string): RawMount {
  return {
    type: 'raw',
    fstype,
    source: m.source === undefined ? undefined : noNul(m.source, `${name}.source`),
    target,
    flags: m.flags === undefined ? undefined : integer(m.flags, `${name}.flags`, 0, 0xffffffff),
    data: m.data === undefined ? undefined : noNul(m.data, `${name}.data`),
  };
}

function lowerDirs(value: unknown, name: string): string[] {
  if (!Array.isArray(value)) throw invalidArgType(name, 'an array of paths', value);
  if (value.length === 0) throw invalidArgValue(name, value, 'must name at least one directory');
  if (value.length > 500) throw invalidArgValue(name, `an array of ${value.length} entries`, 'must have at most 500 layers (overlayfs)');
  return Array.from(value, (v: unknown, i) => pathString(v, `${name}[${i}]`));
}

const RAW_KEYS = ['type', 'source', 'target', 'flags', 'data'];

function mount(value: unknown, i: number): Mount {
  const name = `options.mounts[${i}]`;
  const m = plainObject(value, name);
  if (typeof m.type !== 'string') throw invalidArgType(`${name}.type`, 'of type string', m.type);
  const type = m.type;
  // The earlier raw forms of these types ({ type: 'overlay', data }, …) say so by their raw keys.
  const legacy = (['overlay', 'mqueue', 'sysfs'].includes(type) && (m.data !== undefined || m.flags !== undefined || m.source !== undefined)) ||
    !['proc', 'dev', 'tmpfs', 'bind', 'overlay', 'mqueue', 'sysfs', 'dir', 'file', 'symlink', 'device', 'mask', 'raw'].includes(type);
  if (legacy) {
    knownKeys(m, RAW_KEYS, name);
    if (type === '') throw invalidArgValue(`${name}.type`, type, 'must not be empty');
    const target = absolutePath(m.target, `${name}.target`);
    warnLegacyRaw(type);
    return raw(m, name, target, noNul(type, `${name}.type`));
  }
  switch (type) {
    case 'proc':
    case 'dev':
    case 'mqueue':
    case 'sysfs':
      knownKeys(m, ['type', 'target'], name);
      return { type, target: absolutePath(m.target, `${name}.target`) };
    case 'tmpfs':
      knownKeys(m, ['type', 'target', 'size', 'mode'], name);
      return {
        type: 'tmpfs',
        target: absolutePath(m.target, `${name}.target`),
        size: m.size === undefined ? undefined : size(m.size, `${name}.size`),
        mode: optionalMode(m.mode, `${name}.mode`),
      };
    case 'bind':
      knownKeys(m, ['type', 'source', 'target', 'readonly', 'recursive', 'optional', 'idmap'], name);
      return {
        type: 'bind',
        source: pathString(m.source, `${name}.source`),
        target: absolutePath(m.target, `${name}.target`),
        readonly: optionalBool(m.readonly, `${name}.readonly`, false),
        recursive: optionalBool(m.recursive, `${name}.recursive`, true),
        optional: optionalBool(m.optional, `${name}.optional`, false),
        idmap: optionalBool(m.idmap, `${name}.idmap`, false),
      };
    case 'overlay': {
      knownKeys(m, ['type', 'target', 'lower', 'upper', 'work'], name);
      const o: OverlayMount = { type: 'overlay', target: absolutePath(m.target, `${name}.target`), lower: lowerDirs(m.lower, `${name}.lower`) };
      if ((m.upper === undefined) !== (m.work === undefined))
        throw invalidArgValue(`${name}.${m.upper === undefined ? 'work' : 'upper'}`, m.upper ?? m.work, 'needs upper and work together (without both, writes go to a throw-away tmpfs)');
      if (m.upper !== undefined) {
        o.upper = pathString(m.upper, `${name}.upper`);
        o.work = pathString(m.work, `${name}.work`);
      }
      return o;
    }
    case 'dir':
      knownKeys(m, ['type', 'target', 'mode'], name);
      return { type: 'dir', target: belowRoot(m.target, `${name}.target`), mode: optionalMode(m.mode, `${name}.mode`) };
    case 'file': {
      knownKeys(m, ['type', 'target', 'content', 'mode'], name);
      const target = belowRoot(m.target, `${name}.target`);
      const content = m.content;
      if (typeof content !== 'string' && !Buffer.isBuffer(content))
        throw invalidArgType(`${name}.content`, 'of type string or an instance of Buffer', content);
      const length = typeof content === 'string' ? Buffer.byteLength(content) : content.length;
      if (length > MAX_FILE_CONTENT) throw outOfRange(`${name}.content`, `at most ${MAX_FILE_CONTENT} bytes`, length);
      return { type: 'file', target, content, mode: optionalMode(m.mode, `${name}.mode`) };
    }
    case 'symlink':
      knownKeys(m, ['type', 'target', 'linkTo'], name);
      return { type: 'symlink', target: belowRoot(m.target, `${name}.target`), linkTo: pathString(m.linkTo, `${name}.linkTo`) };
    case 'device': {
      knownKeys(m, ['type', 'target', 'kind', 'major', 'minor', 'mode', 'uid', 'gid'], name);
      if (m.kind !== 'c' && m.kind !== 'b' && m.kind !== 'p') throw invalidArgValue(`${name}.kind`, m.kind, "must be 'c', 'b' or 'p'");
      const d: DeviceMount = { type: 'device', target: belowRoot(m.target, `${name}.target`), kind: m.kind, mode: optionalMode(m.mode, `${name}.mode`) };
      if (m.kind !== 'p' || m.major !== undefined) d.major = integer(m.major, `${name}.major`, 0, 0xfff);
      if (m.kind !== 'p' || m.minor !== undefined) d.minor = integer(m.minor, `${name}.minor`, 0, 0xfffff);
      if (m.uid !== undefined) d.uid = integer(m.uid, `${name}.uid`, 0, 0xfffffffe);
      if (m.gid !== undefined) d.gid = integer(m.gid, `${name}.gid`, 0, 0xfffffffe);
      return d;
    }
    case 'mask':
      knownKeys(m, ['type', 'target'], name);
      return { type: 'mask', target: belowRoot(m.target, `${name}.target`) };
    default: {
      knownKeys(m, ['type', 'fstype', 'source', 'target', 'flags', 'data'], name);
      const fstype = noNul(m.fstype, `${name}.fstype`);
      if (fstype === '') throw invalidArgValue(`${name}.fstype`, fstype, 'must not be empty');
      return raw(m, name, absolutePath(m.target, `${name}.target`), fstype);
    }
  }
}

function root(value: unknown): string | TmpfsRoot {
  if (typeof value === 'string') return absolutePath(value, 'options.root');
  if (typeof value !== 'object' || value === null) throw invalidArgType('options.root', "of type string or { type: 'tmpfs' }", value);
  const r = plainObject(value, 'options.root');
  knownKeys(r, ['type', 'size', 'mode', 'readonly'], 'options.root');
  if (r.type !== 'tmpfs') throw invalidArgValue('options.root.type', r.type, "must be 'tmpfs'");
  return {
    type: 'tmpfs',
    size: r.size === undefined ? undefined : size(r.size, 'options.root.size'),
    mode: optionalMode(r.mode, 'options.root.mode'),
    readonly: optionalBool(r.readonly, 'options.root.readonly', false),
  };
}

/** `mounts`, `root` and `propagation`, each of which needs a new mount namespace. */
export function checkFsOptions(o: Readonly<Record<string, unknown>>, namespaces: ReadonlySet<NamespaceType>): FsChecked {
  needs(o, 'mounts', namespaces, 'mnt');
  needs(o, 'root', namespaces, 'mnt');
  if (o.propagation !== undefined && o.propagation !== 'unchanged') needs(o, 'propagation', namespaces, 'mnt');
  const c: FsChecked = { mounts: [], propagation: 'private' };
  if (o.mounts !== undefined) {
    if (!Array.isArray(o.mounts)) throw invalidArgType('options.mounts', 'an array of mounts', o.mounts);
    c.mounts = Array.from(o.mounts, (m: unknown, i) => mount(m, i));
  }
  if (o.root !== undefined) c.root = root(o.root);
  if (o.propagation !== undefined) {
    if (!['private', 'slave', 'shared', 'unchanged'].includes(o.propagation as string))
      throw invalidArgValue('options.propagation', o.propagation, "must be 'private', 'slave', 'shared' or 'unchanged'");
    c.propagation = o.propagation as FsChecked['propagation'];
  }
  // The tmpfs root is mounted over our "/" until pivot_root: on a shared "/" it would reach the host's.
  if (typeof c.root === 'object' && (c.propagation === 'shared' || c.propagation === 'unchanged'))
    throw invalidArgValue('options.propagation', c.propagation, "must be 'private' or 'slave' with root: { type: 'tmpfs' } (it would reach the host's /)");
  const idmapped = c.mounts.findIndex((m) => m.type === 'bind' && m.idmap);
  if (idmapped >= 0 && !namespaces.has('user'))
    throw invalidArgValue(`options.mounts[${idmapped}].idmap`, true, "needs a new user namespace: add 'user' to options.namespaces");
  return c;
}

// fs/: the sandbox's file system. The `mounts`, `root` and `propagation`
// options and their validation live here; plan.ts turns them into the ops
// of the child's mount engine (src-native/fs/mounts.cc), which resolves every
// target once inside the new root and mounts on that very fd.
import { invalidArgType, invalidArgValue } from '../core/errors';
import type { NamespaceType } from '../core/nstypes';
import { bool, integer, knownKeys, needs, noNul, pathString, plainObject } from '../core/validate';

/** A `proc` filesystem for the new pid namespace. Needs `mnt` (and `pid` to show only the sandbox's processes). */
export interface ProcMount {
  /** `'proc'`. */
  type: 'proc';
  /** Where, usually `'/proc'`. Refused where the host's /proc has locked over-mounts (a container): see `features().features.procMount`. */
  target: string;
}
/** A fresh tmpfs. `size` in bytes (or with a k/m/g suffix), `mode` as a number (default 0o755). */
export interface TmpfsMount {
  /** `'tmpfs'`. */
  type: 'tmpfs';
  /** Where: an absolute path inside `root` (see {@link Mount}); it must exist. */
  target: string;
  /** Size limit: bytes, or `'64m'`, `'1g'`, `'50%'` (of RAM); default half of RAM. Pages are charged to the sandbox's memory as they are written. */
  size?: number | string;
  /** Permissions of its root directory; default `0o755`. */
  mode?: number;
}
/** A bind mount of `source` (a path outside) at `target`. */
export interface BindMount {
  /** `'bind'`. */
  type: 'bind';
  /** The path outside, resolved before `root` applies. */
  source: string;
  /** Where it appears: an absolute path inside `root` (see {@link Mount}); it must exist, a directory for a directory, a file for a file. */
  target: string;
  /** Read-only: set on the detached copy of `source` before it is attached (mount_setattr, Linux 5.12+; before, a remount right after attaching, of the top mount only). */
  readonly?: boolean;
  /** Include the mounts below `source` (MS_REC); default `true`. */
  recursive?: boolean;
}
/**
 * A minimal /dev on a tmpfs: null zero full random urandom tty (bound from
 * the host), a new devpts, shm, and the ptmx, fd and std* links, all made
 * inside the new tmpfs through its fd. The tmpfs is `nodev`: a device node
 * the sandbox makes there (real root may mknod) cannot be opened; the bound
 * nodes are mounts of their own and work.
 */
export interface DevMount {
  /** `'dev'`. */
  type: 'dev';
  /** Where, usually `'/dev'`. */
  target: string;
}
/** Any mount(2): `flags` are `MS_*` bits, `data` the filesystem's options string. */
export interface RawMount {
  /** The filesystem type (`'sysfs'`, `'mqueue'`, `'overlay'`…), as mount(2)'s `fstype`. */
  type: string;
  /** mount(2)'s `source`; default the type. */
  source?: string;
  /** Where: an absolute path inside `root` (see {@link Mount}); it must exist. */
  target: string;
  /** `MS_*` bits (see `sys`); default 0. */
  flags?: number;
  /** The filesystem's options string (`'lowerdir=…,upperdir=…'`), parsed by mount(2) as it is; without it (and without `MS_BIND`, `MS_MOVE`, `MS_REMOUNT` or propagation flags) the filesystem is made with fsopen. */
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
 * put a flag on another mount, or mount anything outside. Each costs a few
 * syscalls in the child (microseconds; bench/ prices a read-only bind).
 */
export type Mount = ProcMount | TmpfsMount | BindMount | DevMount | RawMount;

/** @internal The options of {@link SpawnOptions} that fs/ owns. */
export interface FsSpawnOptions {
  /** Applied in order in the new mount namespace (needs `mnt`). */
  mounts?: Mount[];
  /**
   * pivot_root into this directory, an absolute path, after `mounts` (needs
   * `mnt`); mount targets are then looked up inside it. It is bound onto
   * itself first and entered through that bind's fd, so its own path is
   * looked up once. A program that can write in it can rename what is in it
   * while the sandbox is set up, but not lead a mount out of it (see
   * {@link Mount}).
   */
  root?: string;
  /** Applied recursively to `/` of the new mount namespace before anything else; default `'private'`, so no mount reaches the host. */
  propagation?: 'private' | 'slave' | 'shared' | 'unchanged';
}

/** fs/'s part of the checked options. */
export interface FsChecked {
  mounts: Mount[];
  root?: string;
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

function mount(value: unknown, i: number): Mount {
  const name = `options.mounts[${i}]`;
  const m = plainObject(value, name);
  if (typeof m.type !== 'string') throw invalidArgType(`${name}.type`, 'of type string', m.type);
  const target = absolutePath(m.target, `${name}.target`);
  switch (m.type) {
    case 'proc':
    case 'dev':
      knownKeys(m, ['type', 'target'], name);
      return { type: m.type, target };
    case 'tmpfs':
      knownKeys(m, ['type', 'target', 'size', 'mode'], name);
      return {
        type: 'tmpfs',
        target,
        size: m.size === undefined ? undefined : size(m.size, `${name}.size`),
        mode: m.mode === undefined ? undefined : integer(m.mode, `${name}.mode`, 0, 0o7777),
      };
    case 'bind':
      knownKeys(m, ['type', 'source', 'target', 'readonly', 'recursive'], name);
      return {
        type: 'bind',
        source: pathString(m.source, `${name}.source`),
        target,
        readonly: m.readonly === undefined ? false : bool(m.readonly, `${name}.readonly`),
        recursive: m.recursive === undefined ? true : bool(m.recursive, `${name}.recursive`),
      };
    default:
      knownKeys(m, ['type', 'source', 'target', 'flags', 'data'], name);
      if (m.type === '') throw invalidArgValue(`${name}.type`, m.type, 'must not be empty');
      return {
        type: noNul(m.type, `${name}.type`),
        source: m.source === undefined ? undefined : noNul(m.source, `${name}.source`),
        target,
        flags: m.flags === undefined ? undefined : integer(m.flags, `${name}.flags`, 0, 0xffffffff),
        data: m.data === undefined ? undefined : noNul(m.data, `${name}.data`),
      };
  }
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
  if (o.root !== undefined) c.root = absolutePath(o.root, 'options.root');
  if (o.propagation !== undefined) {
    if (!['private', 'slave', 'shared', 'unchanged'].includes(o.propagation as string))
      throw invalidArgValue('options.propagation', o.propagation, "must be 'private', 'slave', 'shared' or 'unchanged'");
    c.propagation = o.propagation as FsChecked['propagation'];
  }
  return c;
}

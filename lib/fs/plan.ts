// `mounts` and `root` → the ops of the child's mount engine
// (src-native/fs/mounts.cc, whose header says why it works this way).
// The child keeps fds in numbered slots; the ops here name them. Every mount
// target is resolved once, inside the new root (or "/"), into a slot, and
// every later step of that mount works on the fd in it:
//   bind      open_tree(source) → mount_setattr on the detached copy → move_mount onto the target
//   bind with idmap
//             the same, open_tree and mount_setattr (MOUNT_ATTR_IDMAP) done by the parent once the
//             child's user namespace is mapped, the tree sent on the sync socket (src-native/fs/idmap.cc)
//   proc, tmpfs, devpts, raw without data
//             fsopen → fsconfig → fsmount (attributes in place) → move_mount onto the target
//   raw with data or with MS_BIND/MS_MOVE/MS_REMOUNT/propagation flags
//             mount(2) onto /proc/self/fd/N of the target (mount(2)'s own option parsing, exactly)
//   dev       a tmpfs as above, then its contents relative to that tmpfs's fd
//   overlay   each layer opened once and handed to fsconfig as that fd (FSCONFIG_SET_FD), the
//             throw-away upper a detached tmpfs; then fsmount → move_mount as above
//   dir, file, symlink, mask
//             made by the child relative to the fd of their parent, looked up inside the root
//   root      a string: bound onto itself first (every target is resolved in that bind);
//             a tmpfs: mounted over our "/" until pivot_root; pivot_root through fchdir to it
// A missing target or parent is made only on a filesystem nsjs mounted in
// this spawn (kOpMarkOurs records it; the child checks each parent's st_dev).
import { constants as fsConstants } from 'node:fs';
import * as path from 'node:path';

import * as C from '../core/constants';
import type { Add, NativeOp, Step } from '../core/plan';
import type { DeviceMount, DirMount, FileMount, FsChecked, MaskMount, Mount, OverlayMount, RawMount, SymlinkMount, TmpfsRoot } from './options';

/** The mount engine's op kinds (src-native/spawn/plan.h kOpOpenAt…kOpCloseSlots). */
export const MountOp = {
  OpenAt: 48,
  Resolve: 49,
  OpenTree: 50,
  SetAttr: 51,
  FsOpen: 52,
  FsConfig: 53,
  FsMount: 54,
  MoveMount: 55,
  MountAt: 56,
  MkdirAt: 57,
  SymlinkAt: 58,
  Fchdir: 59,
  PivotRoot: 60,
  CloseSlots: 61,
  MarkOurs: 62,
  Build: 63,
  Mask: 64,
  RecvTree: 65,
} as const;

/** fs/'s ops: mount(2) as it is, for the propagation of "/" (kOpMount), then the mount engine's. */
export const FsOp = {
  Mount: 6,
  ...MountOp,
} as const;

/** kChildSlots in src-native/spawn/plan.h: how many fds the child's engine holds at once. */
export const CHILD_SLOTS = 16;

/** kOpOpenAt's `flags` (plan.h OpenAtHow): the engine maps them to this architecture's O_* bits. */
const OPEN_DIR = 1;
const OPEN_NEW_FILE = 2;
const OPEN_NOFOLLOW = 4;
/** kMoveKeep: the moved mount's slot is used afterwards (the mount(2) fallback looks it up again). */
const MOVE_KEEP = 1;
const AT_RECURSIVE = 0x8000;
/** kOpRecvTree's flags (plan.h TreeHow). */
const TREE = { recursive: 1, readonly: 2, optional: 4 } as const;
/** kOpResolve's flags (plan.h ResolveCreate): what to make of a missing target where nsjs made its parent; the slot to copy the kind of in bits 8-15. */
const CREATE_DIR = 1;
const CREATE_LIKE = 3;
/** kOpBuild's flags (plan.h BuildKind). */
const BUILD = { dir: 1, file: 2, symlink: 3, device: 4 } as const;
/** b64 of an op that may skip the rest of its mount on ENOENT: replaced by the count once the mount's ops are known. */
const SKIP_REST = -1;
const FSCONFIG_SET_FLAG = 0;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_SET_FD = 5;
const FSCONFIG_CMD_CREATE = 6;
const ATTR = { rdonly: 0x1, nosuid: 0x2, nodev: 0x4, noexec: 0x8, noatime: 0x10, strictatime: 0x20, nodiratime: 0x80, nosymfollow: 0x200000 };

/** mount(2) flags with a mount attribute of the same meaning (fsmount's attr_flags). */
const MS_TO_ATTR: [number, number][] = [
  [C.MS_RDONLY, ATTR.rdonly],
  [C.MS_NOSUID, ATTR.nosuid],
  [C.MS_NODEV, ATTR.nodev],
  [C.MS_NOEXEC, ATTR.noexec],
  [C.MS_NOATIME, ATTR.noatime],
  [C.MS_NODIRATIME, ATTR.nodiratime],
  [C.MS_STRICTATIME, ATTR.strictatime],
  [C.MS_NOSYMFOLLOW, ATTR.nosymfollow],
  [C.MS_RELATIME, 0], // MOUNT_ATTR_RELATIME is 0, the default
];
/** mount(2) flags that are superblock options, set through fsconfig as mount(2) does (fs/fs_context.c). */
const MS_TO_SB_FLAG: [number, string][] = [
  [C.MS_RDONLY, 'ro'],
  [C.MS_SYNCHRONOUS, 'sync'],
  [C.MS_MANDLOCK, 'mand'],
  [C.MS_DIRSYNC, 'dirsync'],
  [C.MS_LAZYTIME, 'lazytime'],
];
const FSOPEN_FLAGS = [...MS_TO_ATTR, ...MS_TO_SB_FLAG].reduce((m, [f]) => m | f, C.MS_SILENT);

/** The device nodes a `dev` mount binds from the host. */
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'] as const;
const DEV_LINKS = [['pts/ptmx', 'ptmx'], ['/proc/self/fd', 'fd'], ['/proc/self/fd/0', 'stdin'], ['/proc/self/fd/1', 'stdout'], ['/proc/self/fd/2', 'stderr']] as const;
/** The filesystems inside /dev: name, type, options, mount(2) flags. */
const DEV_MOUNTS: [string, string, [string, string | null][], number][] = [
  // Not nodev: /dev/ptmx leads to this instance's ptmx, a device node (bwrap mounts it so too).
  ['pts', 'devpts', [['newinstance', null], ['ptmxmode', '0666'], ['mode', '620']], C.MS_NOSUID | C.MS_NOEXEC],
  ['shm', 'tmpfs', [['mode', '1777']], C.MS_NOSUID | C.MS_NODEV],
];

function tmpfsOptions(size: number | string | undefined, mode: number | undefined): [string, string][] {
  const options: [string, string][] = [['mode', (mode ?? 0o755).toString(8)]];
  if (size !== undefined) options.push(['size', String(size)]);
  return options;
}

/** Whose ops these are, for the steps an error names: a user's mount, pivot_root, or the open of "/". */
interface Where {
  step: string;
  path: string;
  mount?: Mount;
}

const BUILDERS = new Set(['dir', 'file', 'symlink', 'device']);

/** A target as the child makes it: the normalized path, its parent and its last component. */
function split(target: string): { full: string; parent: string; leaf: string } {
  // Most targets are normal already ("/usr/lib"): then no normalize (a tenth of planning a root from nothing).
  if (target.length > 1 && !NOT_NORMAL.test(target)) {
    const slash = target.lastIndexOf('/');
    return { full: target, parent: slash === 0 ? '/' : target.slice(0, slash), leaf: target.slice(slash + 1) };
  }
  const full = path.posix.normalize(target).replace(/(.)\/+$/, '$1');
  return { full, parent: path.posix.dirname(full), leaf: path.posix.basename(full) };
}
/** A target path.posix.normalize would change, or with a trailing slash. */
const NOT_NORMAL = /\/\/|\/\.\.?(\/|$)|\/$/;

/**
 * Builds the engine's ops for one spawn, handing out slots and taking them
 * back. It runs on the loop thread for every spawn with mounts: steps are
 * made with one shape and no spreads (bench/: a spread that overrides a
 * property made this ~10× slower). A mount's ops are held until it is
 * planned whole, so that an optional one knows how many to skip.
 */
class MountPlanner {
  private used = 0;
  /** The slot every target is resolved in: the root's own bind, the tmpfs root, or "/". */
  private top = -1;
  private readonly held: [NativeOp, Step][] = [];

  constructor(
    private readonly add: Add,
    private readonly root: string | TmpfsRoot | undefined,
  ) {}

  private take(): number {
    for (let i = 0; i < CHILD_SLOTS; i++) {
      if (this.used & (1 << i)) continue;
      this.used |= 1 << i;
      return i;
    }
    throw new Error(`nsjs: a mount needs more than ${CHILD_SLOTS} fds in the child at once (a bug in lib/fs/plan.ts)`);
  }

  private op(op: NativeOp, w: Where, syscall: string, fallback?: string, path = w.path, step = w.step, resolves = false): void {
    this.held.push([op, { step, syscall, path, mount: w.mount, fallback, resolves }]);
  }

  /** Hands the held ops on; an op that skips on ENOENT skips to the mount's last op (its CloseSlots). */
  private flush(): void {
    const n = this.held.length;
    for (let i = 0; i < n; i++) {
      const [op, step] = this.held[i];
      if (op.b64 === SKIP_REST) op.b64 = n - i - 2;
      this.add(op, step);
    }
    this.held.length = 0;
  }

  private close(w: Where, a: number, b = -1, c = -1): void {
    let mask = 1 << a;
    if (b >= 0) mask |= 1 << b;
    if (c >= 0) mask |= 1 << c;
    this.used &= ~mask;
    this.op({ kind: MountOp.CloseSlots, flags: mask }, w, 'close');
  }

  /** The root bound onto itself (so that it is a mount, for pivot_root), a tmpfs over "/", or "/" where there is no root. */
  begin(): void {
    if (!this.root) {
      this.top = this.take();
      this.op({ kind: MountOp.OpenAt, a: this.top, b: -1, s: ['/'], flags: OPEN_DIR }, SLASH, 'openat');
    } else if (typeof this.root === 'object') {
      const w: Where = { step: 'mount the tmpfs root', path: '/' };
      const slash = this.take();
      this.op({ kind: MountOp.OpenAt, a: slash, b: -1, s: ['/'], flags: OPEN_DIR }, w, 'openat');
      this.top = this.newFs(slash, w, 'tmpfs', tmpfsOptions(this.root.size, this.root.mode), C.MS_NOSUID | C.MS_NODEV, true);
      this.close(w, slash);
      this.op({ kind: MountOp.MarkOurs, a: this.top }, w, 'fstat');
    } else {
      const w: Where = { step: 'pivot_root', path: this.root };
      this.top = this.take();
      const dir = this.take();
      this.op({ kind: MountOp.OpenAt, a: dir, b: -1, s: [this.root], flags: OPEN_DIR }, w, 'openat');
      this.op({ kind: MountOp.OpenTree, a: this.top, b: dir, flags: AT_RECURSIVE }, w, 'open_tree', 'openat');
      this.op({ kind: MountOp.MoveMount, a: this.top, b: dir, flags: MOVE_KEEP }, w, 'move_mount', 'mount');
      this.close(w, dir);
    }
    this.flush();
  }

  /** pivot_root into the root's bind or tmpfs, through its fd. */
  end(): void {
    if (this.root) {
      const w: Where = { step: 'pivot_root', path: typeof this.root === 'string' ? this.root : '/' };
      if (typeof this.root === 'object' && this.root.readonly) {
        // A bind remount through the fd: every kernel, and only this mount (those on it keep their flags).
        const ro: Where = { step: 'remount / read-only', path: '/' };
        this.op({ kind: MountOp.MountAt, a: this.top, s: [null, null, null, null], flags: C.MS_BIND | C.MS_REMOUNT | C.MS_RDONLY | C.MS_NOSUID | C.MS_NODEV }, ro, 'mount');
      }
      this.op({ kind: MountOp.Fchdir, a: this.top }, w, 'fchdir');
      this.op({ kind: MountOp.PivotRoot }, w, 'pivot_root');
      this.close(w, this.top);
    } else {
      this.close(SLASH, this.top);
    }
    this.flush();
    if (this.used !== 0) throw new Error('nsjs: lib/fs/plan.ts left a slot open');
  }

  /** Resolves `m.target` into `slot`, making it (a directory, or what slot `like` holds) where nsjs made its parent. */
  private resolve(w: Where, slot: number, target: string, create: number, like = -1, optional = false): void {
    const t = split(target);
    const flags = create === CREATE_LIKE ? CREATE_LIKE | (like << 8) : create;
    const s = create ? [target, t.parent, t.leaf] : [target];
    this.op({ kind: MountOp.Resolve, a: slot, b: this.top, s, flags, b64: optional ? SKIP_REST : 0 }, w, 'openat2', 'openat', w.path, w.step, true);
  }

  /**
   * `below`: a later entry's target lies below this one's. Only then is a
   * tmpfs or dev recorded as nsjs's (kOpMarkOurs, a table of kMaxOurs in
   * the child): a path led into it by a symlink alone is then not made
   * (ENOENT), the safe way round.
   */
  mount(m: Mount, below = false): void {
    const w: Where = { step: `mount ${m.target}`, path: typeof this.root === 'string' ? path.join(this.root, m.target) : m.target, mount: m };
    switch (m.type) {
      case 'dir':
      case 'file':
      case 'symlink':
      case 'device':
        this.build(m, w);
        return this.flush();
      case 'mask':
        this.mask(m, w);
        return this.flush();
      case 'overlay':
        this.overlay(m, w);
        return this.flush();
      default:
        break;
    }
    const target = this.take();
    // Sources first, in our mount namespace as it is, before this target is
    // covered: a bind's source, /dev's nodes (a tmpfs at /dev hides them).
    let source = -1;
    if (m.type === 'bind' && m.idmap) {
      source = this.take();
      const flags = (m.recursive === false ? 0 : TREE.recursive) | (m.readonly ? TREE.readonly : 0) | (m.optional ? TREE.optional : 0);
      this.op({ kind: MountOp.RecvTree, a: source, s: [m.source], flags, b64: m.optional ? SKIP_REST : 0 }, w, 'recvmsg', undefined, m.source, `${w.step}: idmap ${m.source}`);
    } else if (m.type === 'bind') {
      source = this.take();
      const op: NativeOp = { kind: MountOp.OpenTree, a: source, b: -1, s: [m.source], flags: m.recursive === false ? 0 : AT_RECURSIVE, b64: m.optional ? SKIP_REST : 0 };
      this.op(op, w, 'open_tree', 'openat', m.source);
    } else if (m.type === 'dev') {
      source = this.take();
      this.op({ kind: MountOp.OpenAt, a: source, b: -1, s: ['/dev'], flags: OPEN_DIR }, w, 'openat', undefined, '/dev');
    }
    if (m.type === 'bind') this.resolve(w, target, m.target, CREATE_LIKE, source);
    else this.resolve(w, target, m.target, CREATE_DIR);
    switch (m.type) {
      case 'bind': {
        if (m.readonly && !m.idmap) this.op({ kind: MountOp.SetAttr, a: source, flags: ATTR.rdonly, b: m.recursive === false ? 0 : 1 }, w, 'mount_setattr');
        this.op({ kind: MountOp.MoveMount, a: source, b: target }, w, 'move_mount', 'mount');
        this.close(w, source, target);
        break;
      }
      case 'proc':
        this.close(w, target, this.newFs(target, w, 'proc', [], C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC));
        break;
      case 'mqueue':
      case 'sysfs':
        this.close(w, target, this.newFs(target, w, m.type, [], C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC));
        break;
      case 'tmpfs': {
        const fs = this.newFs(target, w, 'tmpfs', tmpfsOptions(m.size, m.mode), C.MS_NOSUID | C.MS_NODEV, below);
        if (below) this.op({ kind: MountOp.MarkOurs, a: fs }, w, 'fstat');
        this.close(w, target, fs);
        break;
      }
      case 'dev':
        this.dev(m, w, target, source, below);
        break;
      default:
        this.raw(m, w, target);
    }
    this.flush();
  }

  /** `dir`, `file`, `symlink`: made by the child in their parent (made too where nsjs made its own). */
  private build(m: DirMount | FileMount | SymlinkMount | DeviceMount, w: Where): void {
    const t = split(m.target);
    const step = `${m.type} ${m.target}`;
    const op: NativeOp = { kind: MountOp.Build, a: this.top, s: [t.parent, t.leaf], flags: BUILD[m.type] };
    if (m.type === 'dir') op.b64 = m.mode ?? 0o755;
    else if (m.type === 'file') {
      op.b64 = m.mode ?? 0o644;
      op.s!.push((typeof m.content === 'string' ? Buffer.from(m.content) : m.content).toString('hex'));
    } else if (m.type === 'device') {
      op.b64 = { c: fsConstants.S_IFCHR, b: fsConstants.S_IFBLK, p: fsConstants.S_IFIFO }[m.kind] | (m.mode ?? 0o666);
      const id = (n: number | undefined) => String(n ?? 0xffffffff);
      op.s!.push(`${m.major ?? 0} ${m.minor ?? 0} ${id(m.uid)} ${id(m.gid)}`);
    } else op.s!.push(m.linkTo);
    const syscall = m.type === 'dir' ? 'mkdirat' : m.type === 'file' ? 'openat' : m.type === 'device' ? 'mknodat' : 'symlinkat';
    this.op(op, w, syscall, undefined, w.path, step, true);
  }

  /** An empty read-only tmpfs over a directory, /dev/null over anything else; nothing where it does not exist. */
  private mask(m: MaskMount, w: Where): void {
    const devnull = this.take();
    const target = this.take();
    this.op({ kind: MountOp.OpenTree, a: devnull, b: -1, s: ['/dev/null'], flags: 0 }, w, 'open_tree', 'openat', '/dev/null');
    this.resolve(w, target, m.target, 0, -1, true);
    this.op({ kind: MountOp.Mask, a: target, b: devnull }, w, 'move_mount', 'mount');
    this.close(w, devnull, target);
  }

  /** Each layer opened once and handed over as its fd; no upper: a detached tmpfs holds upper and work. */
  private overlay(m: OverlayMount, w: Where): void {
    const fs = this.take();
    this.op({ kind: MountOp.FsOpen, a: fs, s: ['overlay', 'overlay', null], flags: 0 }, w, 'fsopen');
    this.op({ kind: MountOp.FsConfig, a: fs, b: FSCONFIG_SET_STRING, s: ['source', 'overlay'] }, w, 'fsconfig', undefined, w.path, `${w.step}: source`);
    const layer = (dir: number, key: string, where: string, at = -1, name = where) => {
      const lw: Where = { step: `${w.step}: ${key.replace('+', '')} ${where}`, path: where, mount: m };
      const flags = at === -1 ? OPEN_DIR : OPEN_DIR | OPEN_NOFOLLOW;
      this.op({ kind: MountOp.OpenAt, a: dir, b: at, s: [name], flags }, lw, 'openat');
      this.op({ kind: MountOp.FsConfig, a: fs, b: FSCONFIG_SET_FD, s: [key], flags: dir }, lw, 'fsconfig');
    };
    const one = (key: string, where: string, at = -1, name = where) => {
      const dir = this.take();
      layer(dir, key, where, at, name);
      this.close(w, dir);
    };
    for (const lower of m.lower) one('lowerdir+', lower);
    let tmp = -1;
    if (m.upper !== undefined && m.work !== undefined) {
      one('upperdir', m.upper);
      one('workdir', m.work);
    } else {
      const tw: Where = { step: `${w.step}: its throw-away upper`, path: w.path, mount: m };
      tmp = this.newFs(-1, tw, 'tmpfs', [['mode', '755']], C.MS_NOSUID | C.MS_NODEV);
      for (const [key, name] of [['upperdir', 'upper'], ['workdir', 'work']]) {
        this.op({ kind: MountOp.MkdirAt, a: tmp, s: [name], b: 0o755 }, tw, 'mkdirat');
        one(key, `(tmpfs)/${name}`, tmp, name);
      }
    }
    this.op({ kind: MountOp.FsConfig, a: fs, b: FSCONFIG_CMD_CREATE }, w, 'fsconfig', undefined, w.path, `${w.step}: create`);
    // Closing a detached mount's last fd unmounts it: the throw-away upper lives until the overlay holds it.
    if (tmp >= 0) this.close(w, tmp);
    this.op({ kind: MountOp.FsMount, a: fs, flags: ATTR.nosuid | ATTR.nodev }, w, 'fsmount');
    const target = this.take();
    this.resolve(w, target, m.target, CREATE_DIR);
    this.op({ kind: MountOp.MoveMount, a: fs, b: target }, w, 'move_mount', 'mount');
    this.close(w, fs, target);
  }

  /**
   * fsopen, fsconfig each option, fsmount with the attributes, move_mount
   * onto `onto` (-1: left detached); returns the new mount's slot. The
   * fsopen op also carries mount(2)'s arguments, for the engine's fallback.
   */
  private newFs(onto: number, w: Where, fstype: string, options: [string, string | null][], msFlags: number, keep = false, source = fstype): number {
    const fs = this.take();
    let data = '';
    for (const [k, v] of options) data += `${data ? ',' : ''}${v === null ? k : `${k}=${v}`}`;
    this.op({ kind: MountOp.FsOpen, a: fs, s: [fstype, source, data || null], flags: msFlags }, w, 'fsopen');
    this.op({ kind: MountOp.FsConfig, a: fs, b: FSCONFIG_SET_STRING, s: ['source', source] }, w, 'fsconfig', undefined, w.path, `${w.step}: source`);
    for (const [key, value] of options) {
      const op = { kind: MountOp.FsConfig, a: fs, b: value === null ? FSCONFIG_SET_FLAG : FSCONFIG_SET_STRING, s: [key, value] };
      this.op(op, w, 'fsconfig', undefined, w.path, `${w.step}: ${key}`);
    }
    let attrs = 0;
    for (const [ms, attr] of MS_TO_ATTR) if (msFlags & ms) attrs |= attr;
    for (const [ms, name] of MS_TO_SB_FLAG)
      if (msFlags & ms) this.op({ kind: MountOp.FsConfig, a: fs, b: FSCONFIG_SET_FLAG, s: [name] }, w, 'fsconfig', undefined, w.path, `${w.step}: ${name}`);
    this.op({ kind: MountOp.FsConfig, a: fs, b: FSCONFIG_CMD_CREATE }, w, 'fsconfig');
    this.op({ kind: MountOp.FsMount, a: fs, flags: attrs }, w, 'fsmount');
    if (onto >= 0) this.op({ kind: MountOp.MoveMount, a: fs, b: onto, flags: keep ? MOVE_KEEP : 0 }, w, 'move_mount', 'mount');
    return fs;
  }

  private raw(r: RawMount, w: Where, target: number): void {
    const flags = r.flags ?? 0;
    // mount(2)'s data is parsed by each filesystem its own way (escaped
    // commas for overlay, ",," in smb3 passwords), so data is handed to
    // mount(2) as it is, as are the flags that are not a new filesystem's.
    if (r.data !== undefined || (flags & ~FSOPEN_FLAGS) !== 0) {
      this.op({ kind: MountOp.MountAt, a: target, s: [r.source ?? r.fstype, null, r.fstype, r.data ?? null], flags }, w, 'mount');
      this.close(w, target);
      return;
    }
    this.close(w, target, this.newFs(target, w, r.fstype, [], flags, false, r.source ?? r.fstype));
  }

  /**
   * As bubblewrap's --dev: a tmpfs (nodev: only the nodes bound here work,
   * each its own mount) with the harmless devices bound from the host
   * (mknod is refused in a user namespace), a private devpts, a shm tmpfs
   * and the usual links, all made relative to the new tmpfs's fd. nsjs made
   * it, so mount points below it are made too (a later /dev/mqueue).
   */
  private dev(m: Mount, w: Where, target: number, hostDev: number, below: boolean): void {
    const devfs = this.newFs(target, w, 'tmpfs', [['mode', '755']], C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC, true);
    this.close(w, target);
    if (below) this.op({ kind: MountOp.MarkOurs, a: devfs }, w, 'fstat');
    const under = m.target.endsWith('/') ? m.target.slice(0, -1) : m.target;
    for (const name of DEVICES) {
      const node: Where = { step: `mount ${under}/${name}`, path: `${under}/${name}`, mount: m };
      const tree = this.take();
      const file = this.take();
      this.op({ kind: MountOp.OpenTree, a: tree, b: hostDev, s: [name] }, node, 'open_tree', 'openat', `/dev/${name}`);
      this.op({ kind: MountOp.OpenAt, a: file, b: devfs, s: [name], flags: OPEN_NEW_FILE, b64: 0o644 }, node, 'openat');
      this.op({ kind: MountOp.MoveMount, a: tree, b: file }, node, 'move_mount', 'mount');
      this.close(node, tree, file);
    }
    this.close(w, hostDev);
    for (const [name, fstype, options, flags] of DEV_MOUNTS) {
      const sub: Where = { step: `mount ${under}/${name}`, path: `${under}/${name}`, mount: m };
      const dir = this.take();
      this.op({ kind: MountOp.MkdirAt, a: devfs, s: [name], b: 0o755 }, sub, 'mkdirat');
      this.op({ kind: MountOp.OpenAt, a: dir, b: devfs, s: [name], flags: OPEN_DIR | OPEN_NOFOLLOW }, sub, 'openat');
      this.close(sub, dir, this.newFs(dir, sub, fstype, options, flags));
    }
    for (const [to, name] of DEV_LINKS)
      this.op({ kind: MountOp.SymlinkAt, a: devfs, s: [to, name] }, w, 'symlinkat', undefined, `${under}/${name}`, `symlink ${under}/${name}`);
    this.close(w, devfs);
  }
}

const SLASH: Where = { step: 'open /', path: '/' };

/** A raw entry that changes the mount already at its target (MS_REMOUNT, propagation) instead of making one. */
function changesOnly(m: Mount): boolean {
  if (m.type !== 'raw') return false;
  const flags = m.flags ?? 0;
  return (flags & C.MS_REMOUNT) !== 0 || ((flags & (C.MS_SHARED | C.MS_SLAVE | C.MS_PRIVATE | C.MS_UNBINDABLE)) !== 0 && (flags & C.MS_BIND) === 0);
}

/** The mount engine's ops for `mounts` and `root` (in a new mount namespace, after its propagation is set). */
export function planMounts(mounts: readonly Mount[], root: string | TmpfsRoot | undefined, add: Add): void {
  if (!root && mounts.length === 0) return;
  const planner = new MountPlanner(add, root);
  planner.begin();
  const targets = mounts.map((m) => split(m.target).full);
  const below = (i: number) => {
    const prefix = targets[i] === '/' ? '/' : `${targets[i]}/`;
    for (let j = i + 1; j < targets.length; j++) {
      if (targets[j].startsWith(prefix) && targets[j] !== '/') return true;
      // A later mount at the same place covers this one: what follows lands
      // on that. A remount or a propagation change is no new mount.
      if (targets[j] === targets[i] && !BUILDERS.has(mounts[j].type) && !changesOnly(mounts[j])) return false;
    }
    return false;
  };
  for (let i = 0; i < mounts.length; i++) planner.mount(mounts[i], (mounts[i].type === 'tmpfs' || mounts[i].type === 'dev') && below(i));
  planner.end();
}

/** The propagation of "/", then `mounts` and `root`: fs/'s ops, in a new mount namespace. */
export function planFs(c: FsChecked, add: Add): void {
  if (c.propagation !== 'unchanged') {
    const flag = { private: C.MS_PRIVATE, slave: C.MS_SLAVE, shared: C.MS_SHARED }[c.propagation];
    add({ kind: FsOp.Mount, s: [null, '/', null, null], flags: C.MS_REC | flag }, { step: `propagation ${c.propagation}`, syscall: 'mount', path: '/' });
  }
  planMounts(c.mounts, c.root, add);
}

// `mounts` and `root` → the ops of the child's mount engine
// (src-native/fs/mounts.cc, whose header says why it works this way).
// The child keeps fds in numbered slots; the ops here name them. Every mount
// target is resolved once, inside the new root (or "/"), into a slot, and
// every later step of that mount works on the fd in it:
//   bind      open_tree(source) → mount_setattr on the detached copy → move_mount onto the target
//   proc, tmpfs, devpts, raw without data
//             fsopen → fsconfig → fsmount (attributes in place) → move_mount onto the target
//   raw with data or with MS_BIND/MS_MOVE/MS_REMOUNT/propagation flags
//             mount(2) onto /proc/self/fd/N of the target (mount(2)'s own option parsing, exactly)
//   dev       a tmpfs as above, then its contents relative to that tmpfs's fd
//   root      bound onto itself first (every target is resolved in that bind), pivot_root through fchdir to it
import * as path from 'node:path';

import * as C from '../core/constants';
import type { Add, NativeOp } from '../core/plan';
import type { FsChecked, Mount } from './options';

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
const FSCONFIG_SET_FLAG = 0;
const FSCONFIG_SET_STRING = 1;
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
  // Not nodev: a devpts holds only its ptys, which nodev would make unopenable (EACCES), as bubblewrap and runc mount it.
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

/**
 * Builds the engine's ops for one spawn, handing out slots and taking them
 * back. It runs on the loop thread for every spawn with mounts: steps are
 * made with one shape and no spreads (bench/: a spread that overrides a
 * property made this ~10× slower).
 */
class MountPlanner {
  private used = 0;
  /** The slot every target is resolved in: the root's own bind, or "/". */
  private top = -1;

  constructor(
    private readonly add: Add,
    private readonly root: string | undefined,
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
    this.add(op, { step, syscall, path, mount: w.mount, fallback, resolves });
  }

  private close(w: Where, a: number, b = -1, c = -1): void {
    let mask = 1 << a;
    if (b >= 0) mask |= 1 << b;
    if (c >= 0) mask |= 1 << c;
    this.used &= ~mask;
    this.op({ kind: MountOp.CloseSlots, flags: mask }, w, 'close');
  }

  /** The root bound onto itself (so that it is a mount, for pivot_root), or "/" where there is no root. */
  begin(): void {
    this.top = this.take();
    if (!this.root) {
      this.op({ kind: MountOp.OpenAt, a: this.top, b: -1, s: ['/'], flags: OPEN_DIR }, SLASH, 'openat');
      return;
    }
    const w: Where = { step: 'pivot_root', path: this.root };
    const dir = this.take();
    this.op({ kind: MountOp.OpenAt, a: dir, b: -1, s: [this.root], flags: OPEN_DIR }, w, 'openat');
    this.op({ kind: MountOp.OpenTree, a: this.top, b: dir, flags: AT_RECURSIVE }, w, 'open_tree', 'openat');
    this.op({ kind: MountOp.MoveMount, a: this.top, b: dir, flags: MOVE_KEEP }, w, 'move_mount', 'mount');
    this.close(w, dir);
  }

  /** pivot_root into the root's bind, through its fd. */
  end(): void {
    if (this.root) {
      const w: Where = { step: 'pivot_root', path: this.root };
      this.op({ kind: MountOp.Fchdir, a: this.top }, w, 'fchdir');
      this.op({ kind: MountOp.PivotRoot }, w, 'pivot_root');
      this.close(w, this.top);
    } else {
      this.close(SLASH, this.top);
    }
    if (this.used !== 0) throw new Error('nsjs: lib/fs/plan.ts left a slot open');
  }

  mount(m: Mount): void {
    const w: Where = { step: `mount ${m.target}`, path: this.root ? path.join(this.root, m.target) : m.target, mount: m };
    const target = this.take();
    // Sources first, in our mount namespace as it is, before this target is
    // covered: a bind's source, /dev's nodes (a tmpfs at /dev hides them).
    let source = -1;
    if (m.type === 'bind') {
      const b = m as Extract<Mount, { type: 'bind' }>;
      source = this.take();
      this.op({ kind: MountOp.OpenTree, a: source, b: -1, s: [b.source], flags: b.recursive === false ? 0 : AT_RECURSIVE }, w, 'open_tree', 'openat', b.source);
    } else if (m.type === 'dev') {
      source = this.take();
      this.op({ kind: MountOp.OpenAt, a: source, b: -1, s: ['/dev'], flags: OPEN_DIR }, w, 'openat', undefined, '/dev');
    }
    this.op({ kind: MountOp.Resolve, a: target, b: this.top, s: [m.target] }, w, 'openat2', 'openat', w.path, w.step, true);
    switch (m.type) {
      case 'bind': {
        const b = m as Extract<Mount, { type: 'bind' }>;
        if (b.readonly) this.op({ kind: MountOp.SetAttr, a: source, flags: ATTR.rdonly, b: b.recursive === false ? 0 : 1 }, w, 'mount_setattr');
        this.op({ kind: MountOp.MoveMount, a: source, b: target }, w, 'move_mount', 'mount');
        this.close(w, source, target);
        return;
      }
      case 'proc':
        this.close(w, target, this.newFs(target, w, 'proc', [], C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC));
        return;
      case 'tmpfs': {
        const t = m as Extract<Mount, { type: 'tmpfs' }>;
        this.close(w, target, this.newFs(target, w, 'tmpfs', tmpfsOptions(t.size, t.mode), C.MS_NOSUID | C.MS_NODEV));
        return;
      }
      case 'dev':
        this.dev(m, w, target, source);
        return;
      default:
        this.raw(m as Extract<Mount, { flags?: number }>, w, target);
    }
  }

  /**
   * fsopen, fsconfig each option, fsmount with the attributes, move_mount
   * onto `onto`; returns the new mount's slot. The fsopen op also carries
   * mount(2)'s arguments, for the engine's fallback.
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
    this.op({ kind: MountOp.MoveMount, a: fs, b: onto, flags: keep ? MOVE_KEEP : 0 }, w, 'move_mount', 'mount');
    return fs;
  }

  private raw(r: Extract<Mount, { flags?: number }>, w: Where, target: number): void {
    const flags = r.flags ?? 0;
    // mount(2)'s data is parsed by each filesystem its own way (escaped
    // commas for overlay, ",," in smb3 passwords), so data is handed to
    // mount(2) as it is, as are the flags that are not a new filesystem's.
    if (r.data !== undefined || (flags & ~FSOPEN_FLAGS) !== 0) {
      this.op({ kind: MountOp.MountAt, a: target, s: [r.source ?? r.type, null, r.type, r.data ?? null], flags }, w, 'mount');
      this.close(w, target);
      return;
    }
    this.close(w, target, this.newFs(target, w, r.type, [], flags, false, r.source ?? r.type));
  }

  /**
   * As bubblewrap's --dev: a tmpfs (nodev: only the nodes bound here work,
   * each its own mount) with the harmless devices bound from the host
   * (mknod is refused in a user namespace), a private devpts, a shm tmpfs
   * and the usual links, all made relative to the new tmpfs's fd.
   */
  private dev(m: Mount, w: Where, target: number, hostDev: number): void {
    const devfs = this.newFs(target, w, 'tmpfs', [['mode', '755']], C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC, true);
    this.close(w, target);
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

/** The mount engine's ops for `mounts` and `root` (in a new mount namespace, after its propagation is set). */
export function planMounts(mounts: readonly Mount[], root: string | undefined, add: Add): void {
  if (!root && mounts.length === 0) return;
  const planner = new MountPlanner(add, root);
  planner.begin();
  for (const m of mounts) planner.mount(m);
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

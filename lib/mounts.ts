// `mounts` and `root` → the ops of the child's mount engine
// (src-native/spawn/mounts.cc, whose header says why it works this way).
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

import * as C from './constants';
import type { NativeOp } from './native';
import type { Mount } from './options';
import type { Step } from './plan';

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

type Add = (op: NativeOp, step: Step) => void;

function attrsOf(flags: number): number {
  return MS_TO_ATTR.reduce((a, [ms, attr]) => (flags & ms ? a | attr : a), 0);
}

function tmpfsOptions(size: number | string | undefined, mode: number | undefined): [string, string][] {
  const options: [string, string][] = [['mode', (mode ?? 0o755).toString(8)]];
  if (size !== undefined) options.push(['size', String(size)]);
  return options;
}

/** Builds the engine's ops for one spawn, handing out slots and taking them back. */
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
    throw new Error(`nsjs: a mount needs more than ${CHILD_SLOTS} fds in the child at once (a bug in lib/mounts.ts)`);
  }

  private close(step: Step, ...slots: number[]): void {
    const mask = slots.reduce((m, s) => m | (1 << s), 0);
    this.used &= ~mask;
    this.add({ kind: MountOp.CloseSlots, flags: mask }, { ...step, syscall: 'close' });
  }

  /** The root bound onto itself (so that it is a mount, for pivot_root), or "/" where there is no root. */
  begin(): void {
    this.top = this.take();
    if (!this.root) {
      this.add({ kind: MountOp.OpenAt, a: this.top, b: -1, s: ['/'], flags: OPEN_DIR }, { step: 'open /', syscall: 'openat', path: '/' });
      return;
    }
    const step: Step = { step: 'pivot_root', syscall: 'openat', path: this.root };
    const dir = this.take();
    this.add({ kind: MountOp.OpenAt, a: dir, b: -1, s: [this.root], flags: OPEN_DIR }, step);
    this.add({ kind: MountOp.OpenTree, a: this.top, b: dir, flags: AT_RECURSIVE }, { ...step, syscall: 'open_tree', fallback: 'openat' });
    this.add({ kind: MountOp.MoveMount, a: this.top, b: dir, flags: MOVE_KEEP }, { ...step, syscall: 'move_mount', fallback: 'mount' });
    this.close(step, dir);
  }

  /** pivot_root into the root's bind, through its fd. */
  end(): void {
    if (this.root) {
      const step: Step = { step: 'pivot_root', syscall: 'fchdir', path: this.root };
      this.add({ kind: MountOp.Fchdir, a: this.top }, step);
      this.add({ kind: MountOp.PivotRoot }, { ...step, syscall: 'pivot_root' });
      this.close(step, this.top);
    } else {
      this.close({ step: 'open /', syscall: 'close', path: '/' }, this.top);
    }
    if (this.used !== 0) throw new Error('nsjs: lib/mounts.ts left a slot open');
  }

  mount(m: Mount): void {
    const step: Step = { step: `mount ${m.target}`, syscall: 'openat2', path: this.root ? path.join(this.root, m.target) : m.target, mount: m };
    const target = this.take();
    // Sources first, in our mount namespace as it is, before this target is
    // covered: a bind's source, /dev's nodes (a tmpfs at /dev hides them).
    let source = -1;
    if (m.type === 'bind') {
      const b = m as Extract<Mount, { type: 'bind' }>;
      source = this.take();
      this.add(
        { kind: MountOp.OpenTree, a: source, b: -1, s: [b.source], flags: b.recursive === false ? 0 : AT_RECURSIVE },
        { ...step, syscall: 'open_tree', fallback: 'openat', path: b.source },
      );
    } else if (m.type === 'dev') {
      source = this.take();
      this.add({ kind: MountOp.OpenAt, a: source, b: -1, s: ['/dev'], flags: OPEN_DIR }, { ...step, syscall: 'openat', path: '/dev' });
    }
    this.add({ kind: MountOp.Resolve, a: target, b: this.top, s: [m.target] }, { ...step, fallback: 'openat', resolves: true });
    switch (m.type) {
      case 'bind': {
        const b = m as Extract<Mount, { type: 'bind' }>;
        if (b.readonly)
          this.add({ kind: MountOp.SetAttr, a: source, flags: ATTR.rdonly, b: b.recursive === false ? 0 : 1 }, { ...step, syscall: 'mount_setattr' });
        this.add({ kind: MountOp.MoveMount, a: source, b: target }, { ...step, syscall: 'move_mount', fallback: 'mount' });
        this.close(step, source, target);
        return;
      }
      case 'proc':
        this.close(step, target, this.newFs(target, step, 'proc', 'proc', [], C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC));
        return;
      case 'tmpfs': {
        const t = m as Extract<Mount, { type: 'tmpfs' }>;
        this.close(step, target, this.newFs(target, step, 'tmpfs', 'tmpfs', tmpfsOptions(t.size, t.mode), C.MS_NOSUID | C.MS_NODEV));
        return;
      }
      case 'dev':
        this.dev(m, step, target, source);
        return;
      default:
        this.raw(m as Extract<Mount, { flags?: number }>, step, target);
    }
  }

  /**
   * fsopen, fsconfig each option, fsmount with the attributes, move_mount
   * onto `onto`; returns the new mount's slot. The fsopen op also carries
   * mount(2)'s arguments, for the engine's fallback.
   */
  private newFs(onto: number, step: Step, fstype: string, source: string, options: [string, string | null][], msFlags: number, keep = false): number {
    const fs = this.take();
    const data = options.map(([k, v]) => (v === null ? k : `${k}=${v}`)).join(',');
    this.add({ kind: MountOp.FsOpen, a: fs, s: [fstype, source, data || null], flags: msFlags }, { ...step, syscall: 'fsopen' });
    const sbFlags = MS_TO_SB_FLAG.filter(([ms]) => msFlags & ms).map(([, name]): [string, null] => [name, null]);
    for (const [key, value] of [['source', source] as [string, string], ...options, ...sbFlags]) {
      this.add(
        { kind: MountOp.FsConfig, a: fs, b: value === null ? FSCONFIG_SET_FLAG : FSCONFIG_SET_STRING, s: [key, value] },
        { ...step, step: `${step.step}: ${key}`, syscall: 'fsconfig' },
      );
    }
    this.add({ kind: MountOp.FsConfig, a: fs, b: FSCONFIG_CMD_CREATE }, { ...step, syscall: 'fsconfig' });
    this.add({ kind: MountOp.FsMount, a: fs, flags: attrsOf(msFlags) }, { ...step, syscall: 'fsmount' });
    this.add({ kind: MountOp.MoveMount, a: fs, b: onto, flags: keep ? MOVE_KEEP : 0 }, { ...step, syscall: 'move_mount', fallback: 'mount' });
    return fs;
  }

  private raw(r: Extract<Mount, { flags?: number }>, step: Step, target: number): void {
    const flags = r.flags ?? 0;
    // mount(2)'s data is parsed by each filesystem its own way (escaped
    // commas for overlay, ",," in smb3 passwords), so data is handed to
    // mount(2) as it is, as are the flags that are not a new filesystem's.
    if (r.data !== undefined || (flags & ~FSOPEN_FLAGS) !== 0) {
      this.add({ kind: MountOp.MountAt, a: target, s: [r.source ?? r.type, null, r.type, r.data ?? null], flags }, { ...step, syscall: 'mount' });
      this.close(step, target);
      return;
    }
    this.close(step, target, this.newFs(target, step, r.type, r.source ?? r.type, [], flags));
  }

  /**
   * As bubblewrap's --dev: a tmpfs (nodev: only the nodes bound here work,
   * each its own mount) with the harmless devices bound from the host
   * (mknod is refused in a user namespace), a private devpts, a shm tmpfs
   * and the usual links, all made relative to the new tmpfs's fd.
   */
  private dev(m: Mount, step: Step, target: number, hostDev: number): void {
    const devfs = this.newFs(target, step, 'tmpfs', 'tmpfs', [['mode', '755']], C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC, true);
    this.close(step, target);
    for (const name of DEVICES) {
      const node: Step = { ...step, step: `mount ${path.join(m.target, name)}`, path: path.join(m.target, name) };
      const tree = this.take();
      const file = this.take();
      this.add({ kind: MountOp.OpenTree, a: tree, b: hostDev, s: [name] }, { ...node, syscall: 'open_tree', fallback: 'openat', path: `/dev/${name}` });
      this.add({ kind: MountOp.OpenAt, a: file, b: devfs, s: [name], flags: OPEN_NEW_FILE, b64: 0o644 }, { ...node, syscall: 'openat' });
      this.add({ kind: MountOp.MoveMount, a: tree, b: file }, { ...node, syscall: 'move_mount', fallback: 'mount' });
      this.close(node, tree, file);
    }
    this.close(step, hostDev);
    const inside = (name: string, fstype: string, options: [string, string | null][], flags: number) => {
      const sub: Step = { ...step, step: `mount ${path.join(m.target, name)}`, path: path.join(m.target, name) };
      const dir = this.take();
      this.add({ kind: MountOp.MkdirAt, a: devfs, s: [name], b: 0o755 }, { ...sub, syscall: 'mkdirat' });
      this.add({ kind: MountOp.OpenAt, a: dir, b: devfs, s: [name], flags: OPEN_DIR | OPEN_NOFOLLOW }, { ...sub, syscall: 'openat' });
      this.close(sub, dir, this.newFs(dir, sub, fstype, fstype, options, flags));
    };
    inside('pts', 'devpts', [['newinstance', null], ['ptmxmode', '0666'], ['mode', '620']], C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC);
    inside('shm', 'tmpfs', [['mode', '1777']], C.MS_NOSUID | C.MS_NODEV);
    for (const [to, name] of DEV_LINKS) {
      const link = path.join(m.target, name);
      this.add({ kind: MountOp.SymlinkAt, a: devfs, s: [to, name] }, { ...step, step: `symlink ${link}`, syscall: 'symlinkat', path: link });
    }
    this.close(step, devfs);
  }
}

/** The mount engine's ops for `mounts` and `root` (in a new mount namespace, after its propagation is set). */
export function planMounts(mounts: readonly Mount[], root: string | undefined, add: Add): void {
  if (!root && mounts.length === 0) return;
  const planner = new MountPlanner(add, root);
  planner.begin();
  for (const m of mounts) planner.mount(m);
  planner.end();
}

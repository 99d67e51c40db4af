// What to do about a failed step of a mount or a builder: the hint its
// NsError carries (spawn/hints.ts asks here for every step with a mount).
import type { Step } from '../core/plan';
import type { FsChecked } from './options';

const EPERM = -1;
const ENOENT = -2;
const EEXIST = -17;
const EXDEV = -18;
const ENOTDIR = -20;
const EISDIR = -21;
const EINVAL = -22;
const EROFS = -30;
const ELOOP = -40;

const WHERE_MADE = 'nsjs makes a missing path only where it made the parent (a tmpfs root, a tmpfs, dev or dir of mounts), never on a disk of the host';

/** The hint for a step of `root: { type: 'tmpfs' }`, which names no mount. */
export function tmpfsRootHint(err: number, step: Step): string | undefined {
  if (step.step !== 'mount the tmpfs root') return undefined;
  // Without fsmount's fd, the tmpfs mounted over our / cannot be looked up again (a lookup of / stays below it).
  if (err === EXDEV) return 'a tmpfs root needs the kernel\'s mount API (fsopen and move_mount, Linux 5.2+), which is missing or refused here';
  return 'mounting the tmpfs root failed';
}

/** The hint for a mount's step that failed with -errno `err`. */
export function mountHint(err: number, step: Step & { mount: NonNullable<Step['mount']> }, c: Pick<FsChecked, 'root' | 'mounts'>, rootless: boolean, fsLog?: string): string {
  const hint = hintOf(err, step, c, rootless, fsLog !== undefined);
  // The filesystem's own words, as mount(8) prints them: they name the layer and the rule.
  return fsLog === undefined ? hint : `${hint}; the kernel says: ${fsLog}`;
}

function hintOf(err: number, step: Step & { mount: NonNullable<Step['mount']> }, c: Pick<FsChecked, 'root' | 'mounts'>, rootless: boolean, logged: boolean): string {
  const m = step.mount;
  const builder = m.type === 'dir' || m.type === 'file' || m.type === 'symlink';
  const what = builder ? `${m.type} ${m.target}` : `${m.type} mount at ${m.target}`;
  const inRoot = typeof c.root === 'string' ? ` inside the root ${c.root}` : typeof c.root === 'object' ? ' inside the tmpfs root' : '';
  if (m.type === 'proc' && (err === EPERM || err === EINVAL))
    return `the ${what} failed: proc can be mounted only inside a new pid namespace owned by our user namespace (add 'pid'), and not where the host's /proc has locked over-mounts`;
  if ((m.type === 'mqueue' || m.type === 'sysfs') && err === EPERM)
    return `the ${what} failed: ${m.type} can be mounted only for a new ${m.type === 'mqueue' ? 'ipc' : 'net'} namespace owned by our user namespace (add '${m.type === 'mqueue' ? 'ipc' : 'net'}')`;
  if (step.syscall === 'fstat' && err === -28 /* ENOSPC */)
    return `the ${what} failed: more than 64 tmpfs or dev mounts of mounts have later targets below them, which is all nsjs records as its own in one spawn`;
  if (builder && err === EROFS) return `the ${what} failed: its parent is on a disk of the host (or a bind of one)${inRoot}; ${WHERE_MADE}`;
  if (builder && err === EISDIR) return `the ${what} failed: ${m.target} is an existing directory${inRoot}`;
  if (builder && err === EEXIST)
    return m.type === 'symlink'
      ? `the ${what} failed: ${m.target} exists already${inRoot}`
      : `the ${what} failed: ${m.target} exists${inRoot} and is not a ${m.type === 'dir' ? 'directory' : 'file'} nsjs made (a mount of the host's, or another kind of file): nsjs changes nothing of the host's`;
  if (step.resolves && err === ENOENT)
    return `the ${what} failed: ${builder ? 'its parent' : `its target ${m.target}`} does not exist${inRoot}, where symbolic links are followed as if it were /; ${WHERE_MADE}`;
  if (step.resolves && err === ENOTDIR) return `the ${what} failed: a component of ${m.target} is not a directory${inRoot}`;
  if (step.resolves && err === ELOOP)
    return `the ${what} failed: ${m.target} cannot be looked up${inRoot}: a loop of symbolic links, more than 40 of them, or a /proc magic link (never followed in a mount target)`;
  if (step.resolves && err === EXDEV)
    return `the ${what} failed: its target ${m.target} was moved out of the root while it was looked up (someone else can write in it); nothing was mounted`;
  if (err === EXDEV) return `the ${what} failed: its target was moved while it was mounted on (someone else can write in the root), and the mount was not used`;
  if (m.type === 'overlay') {
    const layer = /: (lowerdir|upperdir|workdir) (.*)$/.exec(step.step);
    if (layer && err === ENOENT) return `the ${what} failed: its ${layer[1]} ${layer[2]} does not exist`;
    if (layer && err === ENOTDIR) return `the ${what} failed: its ${layer[1]} ${layer[2]} is not a directory`;
    if (layer && step.syscall === 'fsconfig' && err === EINVAL)
      return `the ${what} failed: overlayfs refused its ${layer[1]} ${layer[2]} (on a filesystem it cannot stack, or this kernel cannot take a layer as an fd: Linux 6.13+)`;
    if (step.step.endsWith(': create') && err === EINVAL)
      return `the ${what} failed: overlayfs refused the layers${logged ? '' : ' (the kernel log says why)'}: upper and work must be on one filesystem that supports overlay's xattrs, work empty, and no layer inside another`;
    if (step.syscall === 'fsconfig' && err === -38 /* ENOSYS */) return `the ${what} failed: overlays need the kernel's mount API (fsopen, Linux 5.2+)`;
  }
  if (m.type === 'bind' && / idmap /.test(step.step)) {
    const why = rootless
      ? 'as an ordinary user the kernel refuses it: only a process privileged over the user namespace of the source\'s filesystem (the host\'s, for a disk) may idmap it, so it needs root'
      : err === EINVAL
        ? `the filesystem of ${step.path} (or of a mount below it, unless recursive: false) cannot be idmapped: ext4, xfs, btrfs, tmpfs and overlayfs can; proc, sysfs, NFS and FUSE cannot`
        : err === ENOENT
          ? `its source ${step.path} does not exist (optional: true skips a bind whose source is missing)`
          : `the kernel refused to idmap ${step.path} through the sandbox's user namespace`;
    return `the ${what} with idmap failed at ${step.syscall}: ${why}; nothing was started`;
  }
  if (m.type === 'bind' && step.syscall === 'open_tree' && err === ENOENT)
    return `the ${what} failed: its source ${step.path} does not exist (optional: true skips a bind whose source is missing)`;
  if (m.type === 'bind' && rootless && err === EINVAL && step.syscall === 'open_tree')
    return `the ${what} failed: unprivileged, the kernel refuses a recursive: false bind of ${step.path}, which has mounts below it (they are locked to it); bind it with recursive: true`;
  if (err === ENOENT) return `the ${what} failed: ${step.path} does not exist`;
  return `the ${what} failed`;
}

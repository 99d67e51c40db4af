// cli/oci/: the mounts of a container that has no mount namespace of its
// own — none in linux.namespaces (it inherits the caller's) or one joined by
// path. spawn makes mounts only in a new mount namespace, and pivot_root in
// a shared one would move the root of every process there, so nsjs-oci
// makes the config's mounts itself, under the rootfs, in that namespace,
// and the init only chroots into the rootfs (spawn's chroot), as runc does
// then. Unlike runc, which leaves them, delete unmounts them again.
//
// A view, not a wall: what a hostile program inside can do is what it could
// do in that mount namespace. It shares every mount there (seen through the
// chroot), a process that keeps CAP_SYS_CHROOT (runtime-tools' default set
// does) leaves the chroot (chroot into a subdirectory, then `..`), and with
// CAP_SYS_ADMIN it mounts and unmounts there, for everyone in it. A mount
// namespace of the container's own, with pivot_root, is the boundary.
//
// A joined namespace is entered by the calling thread alone: unshare
// (CLONE_FS) gives it an fs_struct of its own (setns refuses a mount
// namespace to a thread that shares one), then setns there and back. Only
// synchronous calls run meanwhile; libuv's threads stay where they were.
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as sys from '../../core/sys';
import type { Mount } from '../../fs/options';
import { secureJoin } from './config';
import { OciError } from './errors';

/** CLONE_FS, include/uapi/linux/sched.h (sys's constants have only the namespace flags). */
const CLONE_FS = 0x200;

/** What create made and delete removes: in `ns` (a path, or the caller's own when absent), whose inode was `ino`. */
export interface Outside {
  ns?: string;
  ino: number;
  /** The host paths of the mounts made, in order. */
  targets: string[];
}

/** The inode of the mount namespace at `file` (the caller's own by default). */
export function mntIno(file = '/proc/thread-self/ns/mnt'): number {
  return fs.statSync(file).ino;
}

/** Runs `fn` with the calling thread in the mount namespace `o` names; refuses one that is not the namespace recorded. */
function inNamespace<T>(o: Pick<Outside, 'ns' | 'ino'>, fn: () => T): T {
  if (o.ns === undefined) {
    if (mntIno() !== o.ino) throw new OciError('the container\'s mounts are in the mount namespace of the create that made them, not this one');
    return fn();
  }
  const target = fs.openSync(o.ns, 'r');
  const back = fs.openSync('/proc/thread-self/ns/mnt', 'r');
  const cwd = process.cwd();
  try {
    if (fs.fstatSync(target).ino !== o.ino) throw new OciError(`${o.ns} is no longer the mount namespace the container joined`);
    sys.unshare(CLONE_FS);
    sys.setns(target, sys.CLONE_NEWNS);
    try {
      return fn();
    } finally {
      sys.setns(back, sys.CLONE_NEWNS);
      process.chdir(cwd);
    }
  } finally {
    fs.closeSync(target);
    fs.closeSync(back);
  }
}

/** MS_* bits that change a mount rather than make one. */
const CHANGE = sys.MS_REMOUNT | sys.MS_SHARED | sys.MS_SLAVE | sys.MS_PRIVATE | sys.MS_UNBINDABLE;

function makeOne(m: Mount, rootfs: string, made: string[]): void {
  const at = secureJoin(rootfs, m.target);
  const dir = (p: string) => fs.mkdirSync(p, { recursive: true, mode: 0o755 });
  switch (m.type) {
    case 'bind': {
      if (fs.statSync(m.source).isDirectory()) dir(at);
      else {
        dir(path.dirname(at));
        fs.closeSync(fs.openSync(at, fs.constants.O_CREAT | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW, 0o644));
      }
      sys.mount(m.source, at, null, sys.MS_BIND | (m.recursive === false ? 0 : sys.MS_REC));
      made.push(at);
      if (m.readonly) sys.mount('none', at, null, sys.MS_BIND | sys.MS_REMOUNT | sys.MS_RDONLY);
      return;
    }
    case 'tmpfs': {
      dir(at);
      const data = [m.size === undefined ? '' : `size=${m.size}`, m.mode === undefined ? '' : `mode=${m.mode.toString(8)}`].filter(Boolean).join(',');
      sys.mount('tmpfs', at, 'tmpfs', sys.MS_NOSUID | sys.MS_NODEV, data || null);
      made.push(at);
      return;
    }
    case 'proc':
      dir(at);
      sys.mount('proc', at, 'proc', sys.MS_NOSUID | sys.MS_NODEV | sys.MS_NOEXEC);
      made.push(at);
      return;
    case 'raw': {
      const flags = m.flags ?? 0;
      if (!(flags & CHANGE)) dir(at);
      sys.mount(m.source ?? m.fstype, at, m.fstype, flags, m.data ?? null);
      if (!(flags & CHANGE)) made.push(at);
      return;
    }
    case 'symlink':
      dir(path.dirname(at));
      if (!fs.existsSync(at)) fs.symlinkSync(m.linkTo, at);
      return;
    default:
      throw new OciError(`a ${m.type} mount needs a mount namespace of the container's own`);
  }
}

/** Unmounts `targets` in reverse order; one already gone is no error. */
function unmountAll(targets: string[]): void {
  for (const t of [...targets].reverse()) {
    try {
      sys.umount(t, sys.MNT_DETACH);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOENT') throw e;
    }
  }
}

/**
 * Makes `dirs` and `mounts` under `rootfs` in the mount namespace `ns` (a
 * path, or the caller's own). A failure unmounts what was made and throws
 * (an NsError naming the mount(2) that failed, as an OciError).
 */
export function mountOutside(ns: string | undefined, rootfs: string, dirs: string[], mounts: Mount[]): Outside {
  const o: Outside = { ino: ns === undefined ? mntIno() : fs.statSync(ns).ino, targets: [] };
  if (ns !== undefined) o.ns = ns;
  inNamespace(o, () => {
    try {
      for (const d of dirs) fs.mkdirSync(secureJoin(rootfs, d), { recursive: true, mode: 0o755 });
      for (const m of mounts) makeOne(m, rootfs, o.targets);
    } catch (e) {
      unmountAll(o.targets);
      throw e instanceof OciError ? e : new OciError(`mounts: ${(e as Error).message}`);
    }
  });
  return o;
}

/** delete's half: the mounts create made, unmounted where they are. */
export function unmountOutside(o: Outside): void {
  inNamespace(o, () => unmountAll(o.targets));
}

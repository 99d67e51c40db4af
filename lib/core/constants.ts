// Kernel ABI constants (include/uapi/linux/{sched,mount,nsfs}.h). Defined here
// rather than read from the addon so that they import on any platform.

/** `CLONE_NEWTIME`: a new (or, for setns, this type of) namespace; include/uapi/linux/sched.h. */
export const CLONE_NEWTIME = 0x00000080;
/** `CLONE_NEWNS`: a new (or, for setns, this type of) namespace; include/uapi/linux/sched.h. */
export const CLONE_NEWNS = 0x00020000;
/** `CLONE_NEWCGROUP`: a new (or, for setns, this type of) namespace; include/uapi/linux/sched.h. */
export const CLONE_NEWCGROUP = 0x02000000;
/** `CLONE_NEWUTS`: a new (or, for setns, this type of) namespace; include/uapi/linux/sched.h. */
export const CLONE_NEWUTS = 0x04000000;
/** `CLONE_NEWIPC`: a new (or, for setns, this type of) namespace; include/uapi/linux/sched.h. */
export const CLONE_NEWIPC = 0x08000000;
/** `CLONE_NEWUSER`: a new (or, for setns, this type of) namespace; include/uapi/linux/sched.h. */
export const CLONE_NEWUSER = 0x10000000;
/** `CLONE_NEWPID`: a new (or, for setns, this type of) namespace; include/uapi/linux/sched.h. */
export const CLONE_NEWPID = 0x20000000;
/** `CLONE_NEWNET`: a new (or, for setns, this type of) namespace; include/uapi/linux/sched.h. */
export const CLONE_NEWNET = 0x40000000;

/** `MS_RDONLY`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_RDONLY = 1;
/** `MS_NOSUID`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_NOSUID = 2;
/** `MS_NODEV`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_NODEV = 4;
/** `MS_NOEXEC`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_NOEXEC = 8;
/** `MS_SYNCHRONOUS`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_SYNCHRONOUS = 16;
/** `MS_REMOUNT`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_REMOUNT = 32;
/** `MS_MANDLOCK`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_MANDLOCK = 64;
/** `MS_DIRSYNC`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_DIRSYNC = 128;
/** `MS_NOSYMFOLLOW`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_NOSYMFOLLOW = 256;
/** `MS_NOATIME`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_NOATIME = 1024;
/** `MS_NODIRATIME`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_NODIRATIME = 2048;
/** `MS_BIND`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_BIND = 4096;
/** `MS_MOVE`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_MOVE = 8192;
/** `MS_REC`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_REC = 16384;
/** `MS_SILENT`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_SILENT = 32768;
/** `MS_UNBINDABLE`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_UNBINDABLE = 1 << 17;
/** `MS_PRIVATE`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_PRIVATE = 1 << 18;
/** `MS_SLAVE`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_SLAVE = 1 << 19;
/** `MS_SHARED`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_SHARED = 1 << 20;
/** `MS_RELATIME`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_RELATIME = 1 << 21;
/** `MS_STRICTATIME`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_STRICTATIME = 1 << 24;
/** `MS_LAZYTIME`, a mount(2) flag (include/uapi/linux/mount.h). */
export const MS_LAZYTIME = 1 << 25;

/** `MNT_FORCE`, a umount2(2) flag. */
export const MNT_FORCE = 1;
/** `MNT_DETACH`, a umount2(2) flag. */
export const MNT_DETACH = 2;
/** `MNT_EXPIRE`, a umount2(2) flag. */
export const MNT_EXPIRE = 4;
/** `UMOUNT_NOFOLLOW`, a umount2(2) flag. */
export const UMOUNT_NOFOLLOW = 8;

const NSIO = 0xb7;
/** `NS_GET_USERNS`, an ioctl on nsfs files (include/uapi/linux/nsfs.h; Linux 4.9/4.11). */
export const NS_GET_USERNS = (NSIO << 8) | 0x1;
/** `NS_GET_PARENT`, an ioctl on nsfs files (include/uapi/linux/nsfs.h; Linux 4.9/4.11). */
export const NS_GET_PARENT = (NSIO << 8) | 0x2;
/** `NS_GET_NSTYPE`, an ioctl on nsfs files (include/uapi/linux/nsfs.h; Linux 4.9/4.11). */
export const NS_GET_NSTYPE = (NSIO << 8) | 0x3;
/** `NS_GET_OWNER_UID`, an ioctl on nsfs files (include/uapi/linux/nsfs.h; Linux 4.9/4.11). */
export const NS_GET_OWNER_UID = (NSIO << 8) | 0x4;
/** `_IOR(NSIO, 0xd, __u64)`, Linux 6.18+. */
export const NS_GET_ID = ((2 << 30) >>> 0) + (8 << 16) + (NSIO << 8) + 0xd;

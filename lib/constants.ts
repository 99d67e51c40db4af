// Kernel ABI constants (include/uapi/linux/{sched,mount,nsfs}.h). Defined here
// rather than read from the addon so that they import on any platform.

export const CLONE_NEWTIME = 0x00000080;
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;

export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_SYNCHRONOUS = 16;
export const MS_REMOUNT = 32;
export const MS_MANDLOCK = 64;
export const MS_DIRSYNC = 128;
export const MS_NOSYMFOLLOW = 256;
export const MS_NOATIME = 1024;
export const MS_NODIRATIME = 2048;
export const MS_BIND = 4096;
export const MS_MOVE = 8192;
export const MS_REC = 16384;
export const MS_SILENT = 32768;
export const MS_UNBINDABLE = 1 << 17;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MS_SHARED = 1 << 20;
export const MS_RELATIME = 1 << 21;
export const MS_STRICTATIME = 1 << 24;
export const MS_LAZYTIME = 1 << 25;

export const MNT_FORCE = 1;
export const MNT_DETACH = 2;
export const MNT_EXPIRE = 4;
export const UMOUNT_NOFOLLOW = 8;

const NSIO = 0xb7;
export const NS_GET_USERNS = (NSIO << 8) | 0x1;
export const NS_GET_PARENT = (NSIO << 8) | 0x2;
export const NS_GET_NSTYPE = (NSIO << 8) | 0x3;
export const NS_GET_OWNER_UID = (NSIO << 8) | 0x4;
/** `_IOR(NSIO, 0xd, __u64)`, Linux 6.18+. */
export const NS_GET_ID = ((2 << 30) >>> 0) + (8 << 16) + (NSIO << 8) + 0xd;

// The mount engine: the part of the child that makes the sandbox's mounts,
// under spawn/child.cc's rule (a copy of a multi-threaded process between clone
// and execve: async-signal-safe calls only, no allocation, no C++ library).
//
// A hostile program may already run with write access to the new root (an
// earlier sandbox on the same rootfs, a process of the user's) and rename or
// swap its directories while we mount: runc CVE-2021-30465. So no target is
// looked up by path twice. kOpResolve looks it up once, inside the root and
// never out of it, into a slot, and every later step works on that fd:
//   - binds: open_tree(OPEN_TREE_CLONE) makes a detached copy of the source,
//     mount_setattr sets read-only etc. on it while it is detached, and
//     move_mount attaches it onto the checked fd, flags already in place;
//   - new filesystems: fsopen/fsconfig/fsmount, then move_mount likewise;
//   - /dev's contents are made relative to the fd of its new tmpfs;
//   - pivot_root goes through fchdir to the fd of the root's own bind.
// Fallbacks, each taken on ENOSYS (an old kernel, or a seccomp filter that
// hides the call) and forced by Plan::mount_fallback in tests:
//   - no openat2 (before 5.6): WalkInRoot, the same resolution by hand;
//   - no mount_setattr (before 5.12): the flags are set by a remount through
//     the attached tree's own fd (exact, but of its top mount only);
//   - no open_tree/fsopen (before 5.2): mount(2) onto /proc/self/fd/N of the
//     checked fd, as runc does; where a later step needs the new mount
//     itself, it is looked up again and accepted only if it is what was just
//     mounted (Reopen).
#include "mounts.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

// The same numbers on every architecture (the unified table from 424 on);
// open_tree's and mount_setattr's are in mounts.h.
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

namespace nsjs {
namespace spawn {
namespace {

// Our own names for the uapi constants (as mounts.h's): glibc 2.36's
// <sys/mount.h> declares some of them as enumerators, older ones not at all.
constexpr unsigned kMoveMountFEmptyPath = 0x4;
constexpr unsigned kMoveMountTEmptyPath = 0x40;
constexpr unsigned kFsopenCloexec = 1;
constexpr unsigned kFsmountCloexec = 1;
constexpr int32_t kFsconfigSetFd = 5;
constexpr uint64_t kAttrNosuid = 0x2, kAttrNodev = 0x4, kAttrNoexec = 0x8;
constexpr uint64_t kResolveNoMagiclinks = 0x02, kResolveInRoot = 0x10;
constexpr int kMaxSymlinks = 40;  // the kernel's MAXSYMLINKS
constexpr long kProcSuperMagic = 0x9fa0;
constexpr int kEagainTries = 8;

struct OpenHow {
  uint64_t flags, mode, resolve;
};

// async-signal-safe. kOpOpenAt's OpenAtHow as open(2) flags; `again`: to
// look up what the op opened, once more.
int OpenFlags(uint64_t how, bool again) {
  int flags = O_CLOEXEC;
  if (how & kOpenDir) flags |= O_PATH | O_DIRECTORY;
  if (how & (kOpenNewFile | kOpenNoFollow)) flags |= O_NOFOLLOW;
  if (again) flags |= O_PATH;
  else if (how & kOpenNewFile) flags |= O_CREAT | O_EXCL | O_RDONLY;
  return flags;
}

// async-signal-safe
int Fail(int err) {
  errno = err;
  return -1;
}

// async-signal-safe
void CloseKeepErrno(int fd) {
  const int saved = errno;
  close(fd);
  errno = saved;
}

// async-signal-safe: "/proc/self/fd/<fd>", for mount(2) onto or from an fd.
void FdPath(int fd, char (&buf)[32]) {
  const char prefix[] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  do digits[n++] = static_cast<char>('0' + fd % 10);
  while ((fd /= 10) > 0 && n < 11);
  size_t i = 0;
  for (; prefix[i]; i++) buf[i] = prefix[i];
  while (n > 0) buf[i++] = digits[--n];
  buf[i] = '\0';
}

// async-signal-safe
size_t Length(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

// async-signal-safe: memmove.
void Move(char* dst, const char* src, size_t n) {
  if (dst < src)
    for (size_t i = 0; i < n; i++) dst[i] = src[i];
  else
    for (size_t i = n; i-- > 0;) dst[i] = src[i];
}

// async-signal-safe. Opens each component of `done` (a/b/c, real
// directories walked earlier) from root again: how WalkInRoot goes up.
int Rewalk(int root, const char* done, size_t len) {
  int cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
  char name[NAME_MAX + 1];
  for (size_t i = 0; cur >= 0 && i < len;) {
    size_t n = 0;
    while (i < len && done[i] != '/') name[n++] = done[i++];
    name[n] = '\0';
    i++;  // the '/'
    const int next = openat(cur, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    CloseKeepErrno(cur);
    cur = next;
  }
  return cur;
}

// async-signal-safe. openat2(root, path, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)
// by hand, for kernels before 5.6: one component at a time with O_NOFOLLOW;
// a symlink is read and its text resolved in its place, an absolute one from
// root; ".." never opens "..", which a concurrent rename could take above
// root, but walks the real directories so far from root again (never above
// it). A symlink of /proc is refused (ELOOP), as openat2 refuses its magic
// links (whose text is not where they lead).
int WalkInRoot(int root, const char* path) {
  char rest[2 * PATH_MAX];  // what is left to resolve
  char done[PATH_MAX];      // the directories walked so far, from root: "a/b"
  char link[PATH_MAX];
  size_t rest_len = Length(path);
  if (rest_len >= sizeof rest) return Fail(ENAMETOOLONG);
  for (size_t i = 0; i <= rest_len; i++) rest[i] = path[i];
  size_t done_len = 0;
  int links = 0;
  int cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
  if (cur < 0) return -1;
  size_t pos = 0;
  while (true) {
    while (rest[pos] == '/') pos++;
    if (rest[pos] == '\0') return cur;
    char name[NAME_MAX + 1];
    size_t n = 0;
    while (rest[pos] != '\0' && rest[pos] != '/') {
      if (n == NAME_MAX) {
        close(cur);
        return Fail(ENAMETOOLONG);
      }
      name[n++] = rest[pos++];
    }
    name[n] = '\0';
    if (n == 1 && name[0] == '.') continue;
    if (n == 2 && name[0] == '.' && name[1] == '.') {
      while (done_len > 0 && done[done_len - 1] != '/') done_len--;
      if (done_len > 0) done_len--;  // its '/'
      close(cur);
      cur = Rewalk(root, done, done_len);
      if (cur < 0) return -1;
      continue;
    }
    const int next = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      CloseKeepErrno(cur);
      return -1;
    }
    struct stat st;
    if (fstat(next, &st) < 0) {
      CloseKeepErrno(next);
      CloseKeepErrno(cur);
      return -1;
    }
    if (S_ISLNK(st.st_mode)) {
      // Not one of /proc's: their text is not where they lead (magic links).
      struct statfs sf;
      const bool proc = fstatfs(next, &sf) == 0 && sf.f_type == kProcSuperMagic;
      const ssize_t len = ++links > kMaxSymlinks || proc ? -1 : readlinkat(next, "", link, sizeof link);
      const int err = links > kMaxSymlinks || proc ? ELOOP : errno;
      close(next);
      const size_t left = rest_len - pos;
      if (len <= 0 || static_cast<size_t>(len) == sizeof link || len + 1 + left >= sizeof rest) {
        close(cur);
        return Fail(len < 0 ? err : len == 0 ? ENOENT : ENAMETOOLONG);  // an empty link leads nowhere
      }
      // rest = link "/" what followed the link
      Move(rest + len + 1, rest + pos, left + 1);
      for (ssize_t i = 0; i < len; i++) rest[i] = link[i];
      rest[len] = '/';
      rest_len = len + 1 + left;
      pos = 0;
      if (link[0] == '/') {
        close(cur);
        cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
        if (cur < 0) return -1;
        done_len = 0;
      }
      continue;
    }
    close(cur);
    cur = next;
    if (rest[pos] == '/' && !S_ISDIR(st.st_mode)) {
      close(cur);
      return Fail(ENOTDIR);
    }
    if (done_len + (done_len > 0) + n >= sizeof done) {
      close(cur);
      return Fail(ENAMETOOLONG);
    }
    if (done_len > 0) done[done_len++] = '/';
    for (size_t i = 0; i < n; i++) done[done_len++] = name[i];
  }
}

// async-signal-safe. The one lookup of a target: inside root, following
// symlinks only as if root were "/", refusing /proc magic links.
int ResolveInRoot(int root, const char* path, MountEngine* e) {
  if (!(e->fallback & kNoOpenat2)) {
    OpenHow how{O_PATH | O_CLOEXEC, 0, kResolveInRoot | kResolveNoMagiclinks};
    // EAGAIN: a rename or mount somewhere on the system while ".." was
    // walked; the kernel cannot tell it did not take us out. Try again, and
    // after a few, walk by hand, which such a rename cannot mislead.
    for (int i = 0; i < kEagainTries; i++) {
      const long fd = syscall(SYS_openat2, root, path, &how, sizeof how);
      if (fd >= 0) return static_cast<int>(fd);
      if (errno == ENOSYS) e->fallback |= kNoOpenat2;
      if (errno != EAGAIN) break;
    }
    if (errno != EAGAIN && errno != ENOSYS) return -1;
  }
  e->fell_back = true;
  return WalkInRoot(root, path);
}

// async-signal-safe. The fd in a slot, AT_FDCWD for -1 where allowed; EBADF
// for a slot that holds none (lib/fs/plan.ts got its slots wrong).
int FdOf(const MountEngine* e, int32_t slot, bool cwd_ok = false) {
  if (slot == -1 && cwd_ok) return AT_FDCWD;
  if (slot < 0 || slot >= kChildSlots || e->slots[slot].kind != kSlotFd) return Fail(EBADF);
  return e->slots[slot].fd;
}

// async-signal-safe. A directory with nothing in it but "." and "..".
bool IsEmptyDir(int fd) {
  const int dir = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return false;
  alignas(8) char buf[512];
  const long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
  close(dir);
  int entries = 0;
  for (long off = 0; off < n; entries++) off += *reinterpret_cast<unsigned short*>(buf + off + 16);  // d_reclen
  return n >= 0 && entries <= 2;
}

// The kernel's struct statx up to stx_mnt_id (include/uapi/linux/stat.h).
struct Statx {
  uint32_t mask, blksize;
  uint64_t attributes;
  uint32_t nlink, uid, gid;
  uint16_t mode, pad0;
  uint64_t ino, size, blocks, attributes_mask;
  uint64_t times[8];
  uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
  uint64_t mnt_id;
  uint64_t spare[14];
};
constexpr unsigned kStatxMntId = 0x1000;
constexpr uint64_t kStatxAttrMountRoot = 0x2000;

// async-signal-safe. Whether fd (looked up again after mount(2)) is what was
// just mounted onto `below` from `from`: for a bind the source's inode, for a
// new filesystem another device than below and, if a directory, still empty;
// and where statx tells (5.8), a mount root other than below's mount.
bool IsMountedOn(int fd, int below, const MountSlot& from) {
  struct stat st, under;
  if (fstat(fd, &st) < 0 || fstat(below, &under) < 0) return false;
  if (from.kind == kSlotLegacyBind) {
    struct stat source;
    if (fstat(from.fd, &source) < 0 || st.st_dev != source.st_dev || st.st_ino != source.st_ino) return false;
  } else if (st.st_dev == under.st_dev || (S_ISDIR(st.st_mode) && !IsEmptyDir(fd))) {
    return false;
  }
#ifdef SYS_statx
  Statx now{}, old{};
  if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, kStatxMntId, &now) == 0 &&
      syscall(SYS_statx, below, "", AT_EMPTY_PATH, kStatxMntId, &old) == 0 && (now.mask & old.mask & kStatxMntId)) {
    if (now.mnt_id == old.mnt_id) return false;
    if ((now.attributes_mask & kStatxAttrMountRoot) && !(now.attributes & kStatxAttrMountRoot)) return false;
  }
#endif
  return true;
}

// async-signal-safe. The fallback's answer to "which fd is the mount I just
// made on `to`": `to` looked up again as its slot was made, checked.
int Reopen(MountEngine* e, const MountSlot& to, const MountSlot& from) {
  const Op& how = *to.made_by;
  int fd;
  if (how.kind == kOpResolve) {
    const int root = FdOf(e, how.b);
    fd = root < 0 ? -1 : ResolveInRoot(root, how.s[0], e);
  } else if (how.kind == kOpOpenAt) {
    const int dir = FdOf(e, how.b, true);
    fd = dir == -1 ? -1 : openat(dir, how.s[0], OpenFlags(how.flags, true));
  } else {
    return Fail(EINVAL);
  }
  if (fd < 0) return -1;
  if (!IsMountedOn(fd, to.fd, from)) {
    close(fd);
    return Fail(EXDEV);
  }
  return fd;
}

// async-signal-safe. Sets MOUNT_ATTR_* bits on the mount fd is the root of,
// without mount_setattr. A bind remount must repeat the flags the kernel
// locked on it (a mount from a more privileged namespace keeps nosuid,
// nodev…) or it is refused, hence the statfs.
int Remount(int fd, uint64_t attrs) {
  struct statfs st;
  if (fstatfs(fd, &st) < 0) return -1;
  unsigned long flags = st.f_flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
  if (attrs & kAttrRdonly) flags |= MS_RDONLY;
  if (attrs & kAttrNosuid) flags |= MS_NOSUID;
  if (attrs & kAttrNodev) flags |= MS_NODEV;
  if (attrs & kAttrNoexec) flags |= MS_NOEXEC;
  char path[32];
  FdPath(fd, path);
  return mount(nullptr, path, nullptr, MS_BIND | MS_REMOUNT | flags, nullptr);
}

// async-signal-safe
int MoveMount(const Op& op, MountEngine* e) {
  MountSlot& from = e->slots[op.a];
  const int onto_fd = FdOf(e, op.b);
  if (onto_fd < 0 || from.kind == kSlotEmpty) return Fail(EBADF);
  if (from.kind == kSlotFd) {
    if (syscall(SYS_move_mount, from.fd, "", onto_fd, "", kMoveMountFEmptyPath | kMoveMountTEmptyPath) < 0) return -1;
    if (!from.pending) return 0;
    // No mount_setattr: the tree's fd is the attached mount now, so a
    // remount through it acts on exactly that mount.
    e->fell_back = true;
    const uint64_t attrs = from.pending;
    from.pending = 0;
    return Remount(from.fd, attrs);
  }
  e->fell_back = true;
  char onto[32];
  FdPath(onto_fd, onto);
  int r;
  if (from.kind == kSlotLegacyBind) {
    char source[32];
    FdPath(from.fd, source);
    r = mount(source, onto, nullptr, MS_BIND | ((from.made_by->flags & kAtRecursive) ? MS_REC : 0), nullptr);
  } else {
    const Op& fs = *from.made_by;
    r = mount(fs.s[1], onto, fs.s[0], fs.flags, fs.s[2]);
  }
  if (r < 0) return -1;
  if (!(op.flags & kMoveKeep) && !from.pending) return 0;
  const int fd = Reopen(e, e->slots[op.b], from);
  if (fd < 0) return -1;
  if (from.fd >= 0) close(from.fd);
  from.fd = fd;
  from.kind = kSlotFd;
  const uint64_t attrs = from.pending;
  from.pending = 0;
  return attrs ? Remount(fd, attrs) : 0;
}

// async-signal-safe. Why the filesystem refused, in its own words: the
// messages a failed fsconfig left in the fs context's log ("e overlayfs:
// workdir and upperdir must reside under the same mount"), read from its fd
// as mount(8) does, errors and warnings only, into Progress::fs_log for the
// parent. errno is kept.
void SaveFsLog(int fd, MountEngine* e) {
  if (!e->log) return;
  const int saved = errno;
  size_t used = 0;
  char msg[256];
  for (int i = 0; i < 8; i++) {
    const ssize_t n = read(fd, msg, sizeof msg);
    if (n <= 2) break;  // ENODATA: no more
    if ((msg[0] != 'e' && msg[0] != 'w') || msg[1] != ' ') continue;
    if (used > 0 && used + 2 < kFsLogSize) {
      e->log[used++] = ';';
      e->log[used++] = ' ';
    }
    for (ssize_t j = 2; j < n && used + 1 < kFsLogSize; j++)
      if (msg[j] != '\n') e->log[used++] = msg[j];
  }
  e->log[used] = '\0';
  errno = saved;
}

// async-signal-safe. An optional mount whose source or target is missing:
// spawn/child.cc skips its ops up to its last, the CloseSlots of its slots.
int Skip(const Op& op, MountEngine* e) {
  e->skip = static_cast<uint32_t>(op.b64);
  return 0;
}

// async-signal-safe
int Fill(MountSlot* slot, int fd, MountSlotKind kind, const Op& op) {
  if (fd < 0 && kind == kSlotFd) return -1;
  *slot = MountSlot{fd, kind, &op, 0};
  return 0;
}

// async-signal-safe. Whether fd lies on a filesystem this spawn mounted
// (kOpMarkOurs): the only places a missing path is made. By st_dev, so a
// bind of the host's (even of its tmpfs) or a symlink leading to one never
// counts.
bool Ours(const MountEngine* e, int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return false;
  for (int i = 0; i < e->n_ours; i++)
    if (e->ours[i] == st.st_dev) return true;
  return false;
}

// async-signal-safe. The directory `path` inside root, each missing
// component made (0755) where its parent is ours, else ENOENT. Every
// prefix is looked up inside root like a target, and a name is made with
// mkdirat in the directory that lookup gave, which never follows a link.
int MakeDirs(int root, const char* path, MountEngine* e) {
  int cur = ResolveInRoot(root, path, e);
  if (cur >= 0 || errno != ENOENT) return cur;
  char prefix[PATH_MAX];
  const size_t len = Length(path);
  if (len >= sizeof prefix) return Fail(ENAMETOOLONG);
  cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
  size_t i = 0;
  while (cur >= 0) {
    while (path[i] == '/') i++;
    if (path[i] == '\0') return cur;
    const size_t start = i;
    while (path[i] != '\0' && path[i] != '/') i++;
    for (size_t j = 0; j < i; j++) prefix[j] = path[j];
    prefix[i] = '\0';
    int next = ResolveInRoot(root, prefix, e);
    if (next < 0 && errno == ENOENT) {
      char name[NAME_MAX + 1];
      if (i - start > NAME_MAX) {
        close(cur);
        return Fail(ENAMETOOLONG);
      }
      for (size_t j = start; j < i; j++) name[j - start] = path[j];
      name[i - start] = '\0';
      if (!Ours(e, cur)) {
        close(cur);
        return Fail(ENOENT);
      }
      if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST) {
        CloseKeepErrno(cur);
        return -1;
      }
      next = ResolveInRoot(root, prefix, e);
    }
    CloseKeepErrno(cur);
    cur = next;
  }
  return -1;
}

// async-signal-safe. kOpResolve of a missing target: its parent made (where
// ours), then the target itself, a directory or an empty file; EEXIST is
// someone else's or our own earlier making, and the lookup that follows
// decides.
int MakeTarget(int root, const Op& op, MountEngine* e) {
  bool dir = op.flags == kResolveDir;
  if ((op.flags & 0xff) == kResolveLike) {
    const MountSlot& like = e->slots[op.flags >> 8];
    struct stat st;
    if (like.fd < 0 || fstat(like.fd, &st) < 0) return Fail(EBADF);
    dir = S_ISDIR(st.st_mode);
  }
  const int parent = MakeDirs(root, op.s[1], e);
  if (parent < 0) return -1;
  int r;
  if (!Ours(e, parent)) r = Fail(ENOENT);
  else if (dir) r = mkdirat(parent, op.s[2], 0755);
  else {
    r = openat(parent, op.s[2], O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (r >= 0) close(r);
  }
  CloseKeepErrno(parent);
  return r < 0 && errno != EEXIST ? -1 : 0;
}

// async-signal-safe
int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// async-signal-safe. Writes the bytes `hex` spells (lib/fs/plan.ts encodes them so: a Buffer may hold NULs).
int WriteHex(int fd, const char* hex) {
  char buf[4096];
  size_t i = 0;
  while (hex[i] != '\0') {
    size_t n = 0;
    for (; n < sizeof buf && hex[i] != '\0'; n++, i += 2) {
      const int hi = HexDigit(hex[i]), lo = hex[i + 1] ? HexDigit(hex[i + 1]) : -1;
      if (hi < 0 || lo < 0) return Fail(EINVAL);
      buf[n] = static_cast<char>(hi << 4 | lo);
    }
    for (size_t off = 0; off < n;) {
      const ssize_t w = write(fd, buf + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return w < 0 ? -1 : Fail(EIO);
      off += static_cast<size_t>(w);
    }
  }
  return 0;
}

// async-signal-safe. The next decimal number of `*p` (spaces skipped), or false.
bool NextNumber(const char** p, uint64_t* out) {
  while (**p == ' ') (*p)++;
  if (**p < '0' || **p > '9') return false;
  uint64_t n = 0;
  for (; **p >= '0' && **p <= '9'; (*p)++) {
    if (n > (~uint64_t{0} - 9) / 10) return false;
    n = n * 10 + static_cast<uint64_t>(**p - '0');
  }
  *out = n;
  return true;
}

// async-signal-safe. A device node or FIFO (b64: its type and mode bits;
// s2: "major minor uid gid", 4294967295 to leave an id as it is) with its
// mode exact whatever the umask, owned as asked. mknodat never follows a
// link and fails on anything already there.
int MakeNode(int parent, const Op& op) {
  uint64_t major, minor, uid, gid;
  const char* p = op.s[2];
  if (!NextNumber(&p, &major) || !NextNumber(&p, &minor) || !NextNumber(&p, &uid) || !NextNumber(&p, &gid) || *p || major > 0xfff || minor > 0xfffff ||
      uid > 0xffffffff || gid > 0xffffffff)
    return Fail(EINVAL);
  const mode_t mode = static_cast<mode_t>(op.b64);
  if (mknodat(parent, op.s[1], (mode & S_IFMT) | 0600, makedev(major, minor)) < 0) return -1;
  if (fchownat(parent, op.s[1], static_cast<uid_t>(uid), static_cast<gid_t>(gid), AT_SYMLINK_NOFOLLOW) < 0) return -1;
  return fchmodat(parent, op.s[1], mode & 07777, 0);
}

// async-signal-safe. kOpBuild in its parent, which is ours: a directory (an
// existing one of ours gets the mode), a file (an existing one of ours is
// rewritten), a symlink. Modes are exact: fchmod after creating, whatever
// the umask. What exists there and is not ours (a bind of the host's on
// our tmpfs) is EEXIST, never changed.
int BuildIn(int parent, const Op& op, MountEngine* e) {
  const mode_t mode = static_cast<mode_t>(op.b64 & 07777);
  if (op.flags == kBuildSymlink) return symlinkat(op.s[2], parent, op.s[1]);
  if (op.flags == kBuildDevice) return MakeNode(parent, op);
  int fd;
  if (op.flags == kBuildDir) {
    if (mkdirat(parent, op.s[1], 0700) < 0 && errno != EEXIST) return -1;
    fd = openat(parent, op.s[1], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  } else {
    fd = openat(parent, op.s[1], O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  }
  if (fd < 0) return -1;
  struct stat st;
  int r = fstat(fd, &st);
  if (r == 0 && (!Ours(e, fd) || (op.flags == kBuildFile && !S_ISREG(st.st_mode)))) r = Fail(EEXIST);
  if (r == 0 && op.flags == kBuildFile) {
    r = ftruncate(fd, 0);
    if (r == 0) r = WriteHex(fd, op.s[2]);
  }
  if (r == 0) r = fchmod(fd, mode);
  CloseKeepErrno(fd);
  return r;
}

// async-signal-safe. kOpMask: an empty read-only tmpfs over a directory,
// the /dev/null tree of slot b over anything else.
int Mask(const Op& op, MountEngine* e) {
  const int target = FdOf(e, op.a);
  if (target < 0) return -1;
  struct stat st;
  if (fstat(target, &st) < 0) return -1;
  if (!S_ISDIR(st.st_mode)) {
    Op move{};
    move.kind = kOpMoveMount;
    move.a = op.b;
    move.b = op.a;
    return MoveMount(move, e);
  }
  constexpr unsigned long kMaskFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (!(e->fallback & kNoMountApi)) {
    const long fs = syscall(SYS_fsopen, "tmpfs", kFsopenCloexec);
    if (fs >= 0) {
      long m = syscall(SYS_fsconfig, fs, 1 /* FSCONFIG_SET_STRING */, "source", "tmpfs", 0);
      if (m == 0) m = syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, nullptr, nullptr, 0);
      if (m == 0) m = syscall(SYS_fsmount, fs, kFsmountCloexec, kAttrRdonly | kAttrNosuid | kAttrNodev | kAttrNoexec);
      CloseKeepErrno(static_cast<int>(fs));
      if (m < 0) return -1;
      const long r = syscall(SYS_move_mount, m, "", target, "", kMoveMountFEmptyPath | kMoveMountTEmptyPath);
      CloseKeepErrno(static_cast<int>(m));
      return r < 0 ? -1 : 0;
    }
    if (errno != ENOSYS) return -1;
    e->fallback |= kNoMountApi;
  }
  e->fell_back = true;
  char onto[32];
  FdPath(target, onto);
  return mount("tmpfs", onto, "tmpfs", kMaskFlags, nullptr);
}

}  // namespace

// async-signal-safe
int RunMountOp(const Op& op, MountEngine* e) {
  MountSlot& slot = e->slots[op.a];  // Plan::CheckMountOp: 0 <= a < kChildSlots
  const bool fills = op.kind == kOpOpenAt || op.kind == kOpResolve || op.kind == kOpOpenTree || op.kind == kOpFsOpen || op.kind == kOpRecvTree;
  if (fills && slot.kind != kSlotEmpty) return Fail(EBADF);
  switch (op.kind) {
    case kOpOpenAt: {
      const int dir = FdOf(e, op.b, true);
      if (dir == -1) return -1;
      return Fill(&slot, openat(dir, op.s[0], OpenFlags(op.flags, false), static_cast<mode_t>(op.b64)), kSlotFd, op);
    }
    case kOpResolve: {
      const int root = FdOf(e, op.b);
      if (root < 0) return -1;
      int fd = ResolveInRoot(root, op.s[0], e);
      if (fd < 0 && errno == ENOENT && op.flags != kResolveNoCreate) {
        if (MakeTarget(root, op, e) < 0) return -1;
        fd = ResolveInRoot(root, op.s[0], e);
      }
      if (fd < 0 && errno == ENOENT && op.b64) return Skip(op, e);
      return Fill(&slot, fd, kSlotFd, op);
    }
    case kOpOpenTree: {
      const int dir = FdOf(e, op.b, true);
      if (dir == -1) return -1;
      const char* path = op.s[0] ? op.s[0] : "";
      const unsigned empty = op.s[0] ? 0 : AT_EMPTY_PATH;
      if (!(e->fallback & kNoMountApi)) {
        const long fd = syscall(SYS_open_tree, dir, path, kOpenTreeClone | O_CLOEXEC | empty | (op.flags & kAtRecursive));
        if (fd < 0 && errno == ENOENT && op.b64) return Skip(op, e);
        if (fd >= 0 || errno != ENOSYS) return Fill(&slot, static_cast<int>(fd), kSlotFd, op);
        e->fallback |= kNoMountApi;
      }
      // No open_tree: an O_PATH fd of the source, for kOpMoveMount's mount(2).
      e->fell_back = true;
      const int fd = empty ? fcntl(dir, F_DUPFD_CLOEXEC, 0) : openat(dir, path, O_PATH | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT && op.b64) return Skip(op, e);
      if (fd < 0) return -1;
      return Fill(&slot, fd, kSlotLegacyBind, op);
    }
    case kOpSetAttr: {
      if (slot.kind == kSlotEmpty) return Fail(EBADF);
      if (slot.kind == kSlotFd && !(e->fallback & kNoSetattr)) {
        MountAttr attr{op.flags, op.b64, 0, 0};
        if (syscall(SYS_mount_setattr, slot.fd, "", AT_EMPTY_PATH | (op.b ? kAtRecursive : 0), &attr, sizeof attr) == 0) return 0;
        if (errno != ENOSYS) return -1;
        e->fallback |= kNoSetattr;
      }
      // Left for a remount once attached (kOpMoveMount): of the top mount
      // only, as before mount_setattr, and only what a remount can set.
      e->fell_back = true;
      if (op.b64 != 0 || (op.flags & ~(kAttrRdonly | kAttrNosuid | kAttrNodev | kAttrNoexec))) return Fail(ENOSYS);
      slot.pending |= op.flags;
      return 0;
    }
    case kOpFsOpen:
      if (!(e->fallback & kNoMountApi)) {
        const long fd = syscall(SYS_fsopen, op.s[0], kFsopenCloexec);
        if (fd >= 0 || errno != ENOSYS) return Fill(&slot, static_cast<int>(fd), kSlotFd, op);
        e->fallback |= kNoMountApi;
      }
      // No fsopen: this op holds mount(2)'s arguments; kOpMoveMount mounts.
      return Fill(&slot, -1, kSlotLegacyFs, op);
    case kOpFsConfig: {
      // An fd (an overlay's layer) has no mount(2) form: that needs the mount API.
      if (slot.kind == kSlotLegacyFs) return op.b == kFsconfigSetFd ? Fail(ENOSYS) : 0;  // else in kOpFsOpen's data already
      if (FdOf(e, op.a) < 0) return -1;
      const int aux = op.b == kFsconfigSetFd ? FdOf(e, static_cast<int32_t>(op.flags)) : 0;
      if (aux < 0) return -1;
      if (syscall(SYS_fsconfig, slot.fd, op.b, op.s[0], op.b == kFsconfigSetFd ? nullptr : op.s[1], aux) == 0) return 0;
      SaveFsLog(slot.fd, e);
      return -1;
    }
    case kOpFsMount: {
      if (slot.kind == kSlotLegacyFs) return 0;  // kOpFsOpen's MS_* flags say the same
      if (FdOf(e, op.a) < 0) return -1;
      const long fd = syscall(SYS_fsmount, slot.fd, kFsmountCloexec, op.flags);
      if (fd < 0) return -1;
      close(slot.fd);
      slot.fd = static_cast<int>(fd);
      return 0;
    }
    case kOpMoveMount:
      return MoveMount(op, e);
    case kOpMountAt: {
      const int fd = FdOf(e, op.a);
      if (fd < 0) return -1;
      char onto[32];
      FdPath(fd, onto);
      return mount(op.s[0], onto, op.s[2], op.flags, op.s[3]);
    }
    case kOpMkdirAt: {
      const int fd = FdOf(e, op.a);
      return fd < 0 ? -1 : mkdirat(fd, op.s[0], static_cast<mode_t>(op.b));
    }
    case kOpSymlinkAt: {
      const int fd = FdOf(e, op.a);
      return fd < 0 ? -1 : symlinkat(op.s[0], fd, op.s[1]);
    }
    case kOpFchdir: {
      const int fd = FdOf(e, op.a);
      return fd < 0 ? -1 : fchdir(fd);
    }
    case kOpPivotRoot:
      // pivot_root(".", ".") stacks the old root on the new one, so one
      // lazy unmount of "." removes it without a put_old directory.
      if (syscall(SYS_pivot_root, ".", ".") < 0) return -1;
      if (umount2(".", MNT_DETACH) < 0) return -1;
      return chdir("/");
    case kOpMarkOurs: {
      struct stat st;
      if (FdOf(e, op.a) < 0 || fstat(slot.fd, &st) < 0) return -1;
      if (e->n_ours == kMaxOurs) return Fail(ENOSPC);
      e->ours[e->n_ours++] = st.st_dev;
      return 0;
    }
    case kOpBuild: {
      const int root = FdOf(e, op.a);
      if (root < 0) return -1;
      const int parent = MakeDirs(root, op.s[0], e);
      if (parent < 0) return -1;
      const int r = Ours(e, parent) ? BuildIn(parent, op, e) : Fail(EROFS);
      CloseKeepErrno(parent);
      return r;
    }
    case kOpMask:
      return Mask(op, e);
    case kOpRecvTree: {
      const int fd = RecvTree(e->sync_fd);
      if (fd < 0 && errno == ENOENT && op.b64) return Skip(op, e);
      return Fill(&slot, fd, kSlotFd, op);
    }
    case kOpCloseSlots:
      for (int i = 0; i < kChildSlots; i++) {
        if (!(op.flags & (uint64_t{1} << i))) continue;
        if (e->slots[i].fd >= 0) close(e->slots[i].fd);
        e->slots[i] = MountSlot{};
      }
      return 0;
    default:
      return Fail(EINVAL);
  }
}

}  // namespace spawn
}  // namespace nsjs

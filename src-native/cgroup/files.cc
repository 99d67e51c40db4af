// cgroup/: a command's cgroup files in one call from lib/cgroup/cgroup.ts.
// Making a cgroup (mkdir, its limits, the fds the child joins through) and
// removing it after the command (its final figures, rmdir) are a dozen or
// more small kernfs calls each; through node:fs each also cost a uv_fs_t
// and a JS call (an Error built and thrown on failure): the lot took about
// half as long again as the same calls in C (making: 0.25 against 0.16 ms,
// removing: 0.19 against 0.12 ms). Here they run in order on the calling
// thread, stopping at the first that fails. Which files and what goes into them stays in the
// TypeScript; this only runs the list. The final reads name their files
// relative to the cgroup's directory, opened once (kDir): each absolute path
// walked again through /sys/fs/cgroup/<controller>/<the caller's cgroup>/
// cost a few µs more per file (making a cgroup opens too few of its files for
// the extra open to pay).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "../common.h"

namespace nsjs {
namespace {

// The kinds of lib/cgroup/cgroup.ts's FileOp.
enum Kind {
  kMkdir = 0,          // mkdir(path, 0777)
  kWrite = 1,          // open(path, O_WRONLY), write data, close
  kWriteIfExists = 2,  // the same; an absent file (ENOENT at open) is skipped
  kOpen = 3,           // open(path, flags = data): the fd, which the caller closes
  kRead = 4,           // the file's text
  kExpectLine = 5,     // the file has a line that is data exactly, else EBUSY
  kRmdir = 6,          // rmdir(path)
  kDir = 7,            // open(path, O_PATH | O_DIRECTORY): where the relative paths after it are
};

struct Failure {
  int err;
  const char* syscall;
};

// A cgroup file's text is one record (one seq_show): the kernel builds it
// whole and a read that returns less than the buffer has all of it (the
// read to EOF after it was one more system call each).
bool ReadText(int dir, const char* path, std::string* out, Failure* f) {
  const int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *f = {errno, "open"};
    return false;
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *f = {errno, "read"};
      close(fd);
      return false;
    }
    out->append(buf, static_cast<size_t>(n));
    if (static_cast<size_t>(n) < sizeof buf) break;
  }
  close(fd);
  return true;
}

// 1 = written, 0 = skipped (absent and allowed to be), -1 = failed.
int WriteText(int dir, const char* path, const std::string& data, bool if_exists, Failure* f) {
  const int fd = openat(dir, path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    if (if_exists && errno == ENOENT) return 0;
    *f = {errno, "open"};
    return -1;
  }
  ssize_t n;
  do n = write(fd, data.data(), data.size());
  while (n < 0 && errno == EINTR);
  // A kernfs file takes a write of less than a page whole, or refuses it.
  if (n != static_cast<ssize_t>(data.size())) *f = {n < 0 ? errno : EIO, "write"};
  close(fd);
  return n == static_cast<ssize_t>(data.size()) ? 1 : -1;
}

bool HasLine(const std::string& text, const std::string& line) {
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    if (text.compare(at, end - at, line) == 0) return true;
    at = end + 1;
  }
  return false;
}

// cgroupFiles(ops): ops is a flat array of (kind, path, data) triples. The
// result is one entry per op (0; an fd for kOpen; the text for kRead), or,
// where one failed, { index, errno (negative), syscall, results } (those
// before it) with every fd this call opened closed again (what it made
// stays: the caller removes it). A relative path is in the last kDir's
// directory (none before the first kDir: never the process's cwd), whose fd
// is closed before the call returns.
// A malformed list is -EINVAL before anything runs.
Napi::Value CgroupFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) return Napi::Number::New(env, -EINVAL);
  const Napi::Array ops = info[0].As<Napi::Array>();
  const uint32_t len = ops.Length();
  if (len % 3 != 0 || len > 3 * 256) return Napi::Number::New(env, -EINVAL);
  struct Op {
    int kind;
    std::string path;
    std::string data;
    int flags;
  };
  std::vector<Op> list;
  list.reserve(len / 3);
  bool in_dir = false;
  for (uint32_t i = 0; i < len; i += 3) {
    const Napi::Value k = ops[i], p = ops[i + 1], d = ops[i + 2];
    if (!k.IsNumber() || !p.IsString()) return Napi::Number::New(env, -EINVAL);
    Op op{Int(k), Str(p), std::string(), 0};
    if (op.kind < kMkdir || op.kind > kDir || op.path.empty() || op.path.size() >= 4096 || std::memchr(op.path.data(), 0, op.path.size()) ||
        (op.path[0] != '/' && !in_dir))
      return Napi::Number::New(env, -EINVAL);
    if (op.kind == kDir) in_dir = true;
    if (op.kind == kOpen) {
      if (!d.IsNumber()) return Napi::Number::New(env, -EINVAL);
      op.flags = Int(d);
    } else if (op.kind == kWrite || op.kind == kWriteIfExists || op.kind == kExpectLine) {
      if (!d.IsString()) return Napi::Number::New(env, -EINVAL);
      op.data = Str(d);
      if (op.data.size() >= 4096 || (op.kind == kExpectLine && op.data.empty())) return Napi::Number::New(env, -EINVAL);
    }
    list.push_back(std::move(op));
  }
  Napi::Array out = Napi::Array::New(env, list.size());
  std::vector<int> fds;
  int dir = -1;
  for (uint32_t i = 0; i < list.size(); i++) {
    const Op& op = list[i];
    const char* path = op.path.c_str();
    Failure f{0, nullptr};
    bool ok = true;
    switch (op.kind) {
      case kDir:
        if (dir >= 0) close(dir);
        dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ok = dir >= 0;
        if (!ok) f = {errno, "open"};
        out[i] = Napi::Number::New(env, 0);
        break;
      case kMkdir:
        ok = mkdirat(dir, path, 0777) == 0;
        if (!ok) f = {errno, "mkdir"};
        out[i] = Napi::Number::New(env, 0);
        break;
      case kWrite:
      case kWriteIfExists:
        ok = WriteText(dir, path, op.data, op.kind == kWriteIfExists, &f) >= 0;
        out[i] = Napi::Number::New(env, 0);
        break;
      case kOpen: {
        const int fd = openat(dir, path, op.flags | O_CLOEXEC);
        ok = fd >= 0;
        if (ok) fds.push_back(fd);
        else f = {errno, "open"};
        out[i] = Napi::Number::New(env, fd);
        break;
      }
      case kRead:
      case kExpectLine: {
        std::string text;
        ok = ReadText(dir, path, &text, &f);
        if (ok && op.kind == kExpectLine && !HasLine(text, op.data)) {
          ok = false;
          f = {EBUSY, "read"};
        }
        if (op.kind == kRead) out[i] = Napi::String::New(env, text);
        else out[i] = Napi::Number::New(env, 0);
        break;
      }
      case kRmdir:
        ok = unlinkat(dir, path, AT_REMOVEDIR) == 0;
        if (!ok) f = {errno, "rmdir"};
        out[i] = Napi::Number::New(env, 0);
        break;
    }
    if (!ok) {
      for (const int fd : fds) close(fd);
      if (dir >= 0) close(dir);
      Napi::Object failed = Napi::Object::New(env);
      failed.Set("index", Napi::Number::New(env, i));
      failed.Set("errno", Napi::Number::New(env, -f.err));
      failed.Set("syscall", Napi::String::New(env, f.syscall));
      failed.Set("results", out);
      return failed;
    }
  }
  if (dir >= 0) close(dir);
  return out;
}

}  // namespace

void InitCgroup(Napi::Env env, Napi::Object exports) {
  exports.Set("cgroupFiles", Napi::Function::New(env, CgroupFiles, "cgroupFiles"));
}

}  // namespace nsjs

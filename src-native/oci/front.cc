// nsjs-oci, the native front of the OCI runtime (issue 22, "Speed"): the
// executable containerd's shim is pointed at. A `ctr run --rm` calls the
// runtime four times (create, start, delete, delete --force) and the three
// after create only read `<root>/<id>/state.json`, look at /proc and
// cgroupfs and write a byte or a signal. Node's start-up alone costs each of
// them more than runc's whole call, so this front serves `start`, `state`,
// `kill` and `delete` itself, in a few hundred microseconds, and execs
// bin/nsjs-oci.js (Node, lib/cli/oci/) for everything else: `create`,
// `exec`, the other commands, and any call it does not fully understand:
// an option it does not know, an id or signal it would have to refuse,
// hooks to run (poststart, poststop), a state file that is not the shape
// create writes. Node then gives the answer, error texts included, so the
// two entries cannot disagree on anything but speed. What it does is
// lib/cli/oci/light.ts and state.ts, statement for statement: keep them in
// step (test/root/cli/oci-front.test.ts compares the two).
//
// It runs as the caller (root, under the shim), reads only the state
// directory nsjs-oci's create made (0700 root) and the init's /proc and
// cgroup files; nothing in it comes from the container but the pids it
// signals, which are checked the way light.ts checks them (the init's start
// time against the one create saved).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

// The parked init's write end of its start pipe and of its ready pipe (light.ts START_W, READY_W).
constexpr int kStartW = 4;
constexpr int kReadyW = 5;

// ------------------------------------------------------------------ JSON
// state.json as create's JSON.stringify wrote it. Leaves keep their text:
// JSON.stringify is canonical, so `state` prints them again byte for byte.
struct Json {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  std::string raw;  // a leaf's token; a string's with its quotes and escapes
  std::vector<std::pair<std::string, Json>> members;  // keys as raw tokens
  std::vector<Json> items;

  // The last member named `key` (JSON.parse keeps the last of duplicates).
  const Json* Get(const char* key) const {
    if (kind != kObject) return nullptr;
    const std::string want = std::string("\"") + key + "\"";
    const Json* found = nullptr;
    for (const auto& m : members)
      if (m.first == want) found = &m.second;
    return found;
  }
};

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}
  bool Parse(Json* out) {
    if (!Value(out, 0)) return false;
    Space();
    return i_ == s_.size();
  }

 private:
  void Space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) i_++;
  }
  bool Literal(const char* word, Json::Kind kind, Json* out) {
    const size_t n = strlen(word);
    if (s_.compare(i_, n, word) != 0) return false;
    out->kind = kind;
    out->raw = word;
    i_ += n;
    return true;
  }
  static bool Hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
  bool String(std::string* raw) {
    const size_t start = i_++;
    while (i_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c < 0x20) return false;
      if (c == '"') {
        *raw = s_.substr(start, ++i_ - start);
        return true;
      }
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        const char e = s_[i_];
        if (e == 'u') {
          for (int k = 1; k <= 4; k++)
            if (i_ + k >= s_.size() || !Hex(s_[i_ + k])) return false;
          i_ += 4;
        } else if (!strchr("\"\\/bfnrt", e)) {
          return false;
        }
      }
      i_++;
    }
    return false;
  }
  bool Digits() {
    const size_t from = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') i_++;
    return i_ > from;
  }
  bool Number(Json* out) {
    const size_t start = i_;
    if (s_[i_] == '-') i_++;
    if (i_ < s_.size() && s_[i_] == '0') i_++;
    else if (!Digits()) return false;
    if (i_ < s_.size() && s_[i_] == '.' && (++i_, !Digits())) return false;
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      i_++;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) i_++;
      if (!Digits()) return false;
    }
    out->kind = Json::kNumber;
    out->raw = s_.substr(start, i_ - start);
    return true;
  }
  bool Value(Json* out, int depth) {
    if (depth > 64) return false;
    Space();
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '"') {
      out->kind = Json::kString;
      return String(&out->raw);
    }
    if (c == '{' || c == '[') {
      const bool object = c == '{';
      out->kind = object ? Json::kObject : Json::kArray;
      i_++;
      Space();
      if (i_ < s_.size() && s_[i_] == (object ? '}' : ']')) {
        i_++;
        return true;
      }
      for (;;) {
        if (object) {
          std::string key;
          Space();
          if (i_ >= s_.size() || s_[i_] != '"' || !String(&key)) return false;
          Space();
          if (i_ >= s_.size() || s_[i_++] != ':') return false;
          out->members.emplace_back(std::move(key), Json());
          if (!Value(&out->members.back().second, depth + 1)) return false;
        } else {
          out->items.emplace_back();
          if (!Value(&out->items.back(), depth + 1)) return false;
        }
        Space();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == ',') {
          i_++;
          continue;
        }
        if (s_[i_++] != (object ? '}' : ']')) return false;
        return true;
      }
    }
    if (c == 't') return Literal("true", Json::kBool, out);
    if (c == 'f') return Literal("false", Json::kBool, out);
    if (c == 'n') return Literal("null", Json::kNull, out);
    if (c == '-' || (c >= '0' && c <= '9')) return Number(out);
    return false;
  }

  const std::string& s_;
  size_t i_ = 0;
};

// A string leaf's value. \uXXXX escapes are left to Node (false): a path
// with one is rare, and Node's decoding of lone surrogates is its own.
bool Decode(const Json* j, std::string* out) {
  if (!j || j->kind != Json::kString) return false;
  out->clear();
  for (size_t i = 1; i + 1 < j->raw.size(); i++) {
    char c = j->raw[i];
    if (c == '\\') {
      c = j->raw[++i];
      if (c == 'u') return false;
      c = c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
    }
    out->push_back(c);
  }
  return true;
}

bool Strings(const Json* j, std::vector<std::string>* out) {
  if (!j || j->kind != Json::kArray) return false;
  for (const auto& item : j->items) {
    out->emplace_back();
    if (!Decode(&item, &out->back())) return false;
  }
  return true;
}

// JSON.stringify(value, null, 2) of a parsed value, at `indent`.
void Pretty(const Json& j, const std::string& indent, std::string* out) {
  const bool object = j.kind == Json::kObject;
  if (!object && j.kind != Json::kArray) {
    *out += j.raw;
    return;
  }
  const size_t n = object ? j.members.size() : j.items.size();
  if (n == 0) {
    *out += object ? "{}" : "[]";
    return;
  }
  const std::string inner = indent + "  ";
  *out += object ? "{\n" : "[\n";
  for (size_t k = 0; k < n; k++) {
    *out += inner;
    if (object) *out += j.members[k].first + ": ";
    Pretty(object ? j.members[k].second : j.items[k], inner, out);
    *out += k + 1 < n ? ",\n" : "\n";
  }
  *out += indent + (object ? "}" : "]");
}

// JSON.stringify of a string (the log's msg).
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\b') out += "\\b";
    else if (c == '\f') out += "\\f";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += ch;
  }
  return out + "\"";
}

// ------------------------------------------------------------------ files
bool ReadFile(const std::string& path, std::string* out, int* err = nullptr) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (err) *err = errno;
    return false;
  }
  out->clear();
  char buf[8192];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0 && err) *err = errno;
      close(fd);
      return n == 0;
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string Trim(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t a = s.find_first_not_of(ws);
  return a == std::string::npos ? "" : s.substr(a, s.find_last_not_of(ws) - a + 1);
}

void Sleep(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// What Node's error `code` says (light.ts quotes it); the errnos cgroupfs and execve give.
std::string ErrnoName(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EIO: return "EIO";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENOEXEC: return "ENOEXEC";
    case E2BIG: return "E2BIG";
    case ENOMEM: return "ENOMEM";
    case ETXTBSY: return "ETXTBSY";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    default: return "errno " + std::to_string(e);
  }
}

// fs.rmSync(path, { recursive: true, force: true }): the state directory holds files only.
int RemoveTree(int at, const char* name) {
  if (unlinkat(at, name, 0) == 0 || errno == ENOENT) return 0;
  if (errno != EISDIR) return errno;
  const int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : errno;
  DIR* d = fdopendir(fd);
  if (!d) {
    const int e = errno;
    close(fd);
    return e;
  }
  int err = 0;
  while (dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if ((err = RemoveTree(dirfd(d), e->d_name)) != 0) break;
  }
  closedir(d);
  if (err) return err;
  return unlinkat(at, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : errno;
}

// ------------------------------------------------------------------ the runtime
constexpr int kDefer = -1;  // a call for bin/nsjs-oci.js

struct Globals {
  std::string root = "/run/nsjs-oci";
  std::string log;
  bool json = false;
};
Globals g;

// path.resolve(p): absolute and normalised.
std::string Resolve(const std::string& p) {
  std::string in = p;
  if (in.empty() || in[0] != '/') {
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return "";
    in = std::string(cwd) + "/" + in;
  }
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= in.size()) {
    const size_t j = std::min(in.find('/', i), in.size());
    const std::string part = in.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& part : parts) out += "/" + part;
  return out.empty() ? "/" : out;
}

// light.ts's Logger.error: one line on stderr and, with --log, one in the log.
int Fail(const std::string& msg) {
  if (!g.log.empty()) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    tm t{};
    gmtime_r(&now.tv_sec, &t);
    char time[96];
    snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
             t.tm_sec, now.tv_nsec / 1000000);
    const std::string line = g.json ? "{\"level\":\"error\",\"msg\":" + Quote(msg) + ",\"time\":\"" + time + "\"}\n"
                                    : std::string("time=\"") + time + "\" level=error msg=" + Quote(msg) + "\n";
    const int fd = open(g.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd >= 0) {
      (void)!write(fd, line.data(), line.size());
      close(fd);
    }
  }
  const std::string line = "nsjs-oci: " + msg + "\n";
  (void)!write(2, line.data(), line.size());
  return 1;
}

// state.ts's checkId.
bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 1024 || !isalnum(static_cast<unsigned char>(id[0]))) return false;
  for (const char c : id)
    if (!isalnum(static_cast<unsigned char>(c)) && !strchr("_+.-", c)) return false;
  return true;
}

std::string StateDir(const std::string& id) { return (g.root == "/" ? "" : g.root) + "/" + id; }

// state.ts's Saved, the part the commands here read.
struct Saved {
  Json doc;
  std::string id;
  long pid = 0;
  std::string starttime;
  std::vector<std::string> dirs, made;
  bool hooks = false;  // poststart or poststop hooks, which Node runs
};

enum class Load { kOk, kMissing, kDefer };

Load LoadState(const std::string& id, Saved* s, bool* poststart, bool* poststop) {
  std::string text;
  if (!ReadFile(StateDir(id) + "/state.json", &text)) return Load::kMissing;
  if (!Parser(text).Parse(&s->doc) || s->doc.kind != Json::kObject) return Load::kDefer;
  s->id = id;
  const Json* pid = s->doc.Get("pid");
  const Json* cgroup = s->doc.Get("cgroup");
  const Json* hooks = s->doc.Get("hooks");
  const Json* annotations = s->doc.Get("annotations");
  if (!pid || pid->kind != Json::kNumber || pid->raw.size() > 9 || pid->raw.find_first_not_of("0123456789") != std::string::npos) return Load::kDefer;
  s->pid = strtol(pid->raw.c_str(), nullptr, 10);
  if (!Decode(s->doc.Get("starttime"), &s->starttime) || !cgroup || !Strings(cgroup->Get("dirs"), &s->dirs) ||
      !Strings(cgroup->Get("made"), &s->made) || !annotations || annotations->kind != Json::kObject || !hooks)
    return Load::kDefer;
  const Json* start = hooks->Get("poststart");
  const Json* stop = hooks->Get("poststop");
  if (!start || start->kind != Json::kArray || !stop || stop->kind != Json::kArray) return Load::kDefer;
  *poststart = !start->items.empty();
  // Mounts made outside a mount namespace of the container's own (outside.ts): Node unmounts them.
  *poststop = !stop->items.empty() || s->doc.Get("outside") != nullptr;
  return Load::kOk;
}

// Fields 3 (state) and 22 (starttime) of /proc/<pid>/stat.
bool ProcStat(long pid, std::string* state, std::string* start) {
  std::string text;
  if (!ReadFile("/proc/" + std::to_string(pid) + "/stat", &text)) return false;
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 > text.size()) return false;
  std::vector<std::string> f;
  size_t i = paren + 2;
  while (f.size() < 20) {
    const size_t j = text.find(' ', i);
    f.push_back(text.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  if (f.size() < 20) return false;
  *state = f[0];
  *start = f[19];
  return true;
}

// The init create started (its start time), not yet dead; a zombie counts as stopped.
bool Alive(const Saved& s) {
  std::string state, start;
  return s.pid > 0 && ProcStat(s.pid, &state, &start) && start == s.starttime && state != "Z" && state != "X";
}

std::string FreezerDir(const Saved& s) {
  for (const auto& d : s.dirs)
    if (Exists(d + "/freezer.state")) return d;
  return "";
}

bool Frozen(const Saved& s) {
  const std::string d = FreezerDir(s);
  std::string text;
  return !d.empty() && ReadFile(d + "/freezer.state", &text) && Trim(text) != "THAWED";
}

std::string Status(const Saved& s) {
  if (!Alive(s)) return "stopped";
  if (Frozen(s)) return "paused";
  return Exists(StateDir(s.id) + "/parked") ? "created" : "running";
}

// Writes `value` into a cgroup file; "" or the error text cgroup.ts gives.
std::string WriteCgroup(const std::string& file, const std::string& value) {
  const int fd = open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0) {
    if (write(fd, value.data(), value.size()) < 0) err = errno;
    close(fd);
  }
  return err ? "cannot set " + file + " to " + value + ": " + ErrnoName(err) : "";
}

// cgroup.ts's freeze(state, false).
std::string Thaw(const Saved& s) {
  const std::string d = FreezerDir(s);
  if (d.empty()) return "pause and resume need the freezer controller, which is not mounted here";
  const std::string err = WriteCgroup(d + "/freezer.state", "THAWED");
  if (!err.empty()) return err;
  std::string text;
  for (int i = 0; i < 1000; i++) {
    if (ReadFile(d + "/freezer.state", &text) && Trim(text) == "THAWED") return "";
    Sleep(1);
  }
  return "the freezer did not reach THAWED";
}

std::vector<long> CgroupPids(const Saved& s) {
  std::vector<long> pids;
  std::string text;
  for (const auto& d : s.dirs) {
    if (!ReadFile(d + "/cgroup.procs", &text)) continue;
    for (size_t i = 0; i < text.size();) {
      const size_t j = std::min(text.find('\n', i), text.size());
      if (j > i) pids.push_back(strtol(text.substr(i, j - i).c_str(), nullptr, 10));
      i = j + 1;
    }
    break;
  }
  return pids;
}

// The signal names os.constants.signals has on Linux.
int SignalNumber(const std::string& name) {
  static const std::pair<const char*, int> kSignals[] = {
      {"SIGHUP", SIGHUP},   {"SIGINT", SIGINT},     {"SIGQUIT", SIGQUIT},     {"SIGILL", SIGILL},     {"SIGTRAP", SIGTRAP},
      {"SIGABRT", SIGABRT}, {"SIGIOT", SIGIOT},     {"SIGBUS", SIGBUS},       {"SIGFPE", SIGFPE},     {"SIGKILL", SIGKILL},
      {"SIGUSR1", SIGUSR1}, {"SIGSEGV", SIGSEGV},   {"SIGUSR2", SIGUSR2},     {"SIGPIPE", SIGPIPE},   {"SIGALRM", SIGALRM},
      {"SIGTERM", SIGTERM}, {"SIGCHLD", SIGCHLD},   {"SIGSTKFLT", SIGSTKFLT}, {"SIGCONT", SIGCONT},   {"SIGSTOP", SIGSTOP},
      {"SIGTSTP", SIGTSTP}, {"SIGTTIN", SIGTTIN},   {"SIGTTOU", SIGTTOU},     {"SIGURG", SIGURG},     {"SIGXCPU", SIGXCPU},
      {"SIGXFSZ", SIGXFSZ}, {"SIGVTALRM", SIGVTALRM}, {"SIGPROF", SIGPROF},   {"SIGWINCH", SIGWINCH}, {"SIGIO", SIGIO},
      {"SIGPOLL", SIGPOLL}, {"SIGPWR", SIGPWR},     {"SIGSYS", SIGSYS},
  };
  for (const auto& s : kSignals)
    if (name == s.first) return s.second;
  return 0;
}

// light.ts's parseSignal; 0 when Node must answer (it gives the error).
int ParseSignal(const std::string& sig) {
  if (!sig.empty() && sig.size() <= 3 && sig.find_first_not_of("0123456789") == std::string::npos) {
    const int n = atoi(sig.c_str());
    return n >= 1 && n <= 64 ? n : 0;
  }
  std::string name;
  for (const char c : sig) name.push_back(static_cast<char>(toupper(static_cast<unsigned char>(c))));
  return SignalNumber(name.compare(0, 3, "SIG") == 0 ? name : "SIG" + name);
}

// light.ts's parseOptions with flags only: false when it would fail or take
// a value (Node then answers). The first positional ends the options.
bool ParseArgs(const std::vector<std::string>& argv, const std::vector<std::string>& flags, std::vector<std::string>* set,
               std::vector<std::string>* rest) {
  for (size_t i = 0; i < argv.size(); i++) {
    const std::string& a = argv[i];
    if (a == "--") {
      rest->insert(rest->end(), argv.begin() + static_cast<long>(i) + 1, argv.end());
      return true;
    }
    if (a[0] != '-' || a == "-" || !rest->empty()) {
      rest->push_back(a);
      continue;
    }
    const std::string name = a.substr(a[1] == '-' ? 2 : 1);
    if (std::find(flags.begin(), flags.end(), name) == flags.end()) return false;
    set->push_back(name);
  }
  return true;
}

bool Has(const std::vector<std::string>& set, const char* a, const char* b) {
  return std::find(set.begin(), set.end(), a) != set.end() || std::find(set.begin(), set.end(), b) != set.end();
}

// light.ts's ociState, printed as JSON.stringify(…, null, 2) prints it.
int State(const Saved& s) {
  const std::string st = Status(s);
  std::string out = "{\n";
  const auto field = [&](const char* key, const std::string& value) { out += std::string("  \"") + key + "\": " + value + ",\n"; };
  const auto copy = [&](const char* key) {
    if (const Json* v = s.doc.Get(key)) {
      field(key, "");
      out.resize(out.size() - 2);
      Pretty(*v, "  ", &out);
      out += ",\n";
    }
  };
  copy("ociVersion");
  copy("id");
  field("pid", st == "stopped" ? "0" : s.doc.Get("pid")->raw);
  field("status", "\"" + st + "\"");
  copy("bundle");
  copy("rootfs");
  copy("created");
  field("owner", "\"\"");
  if (!s.doc.Get("annotations")->members.empty()) copy("annotations");
  out.resize(out.size() - 2);
  out += "\n}";
  for (size_t done = 0; done < out.size();) {
    const ssize_t n = write(1, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(std::string("state: write: ") + strerror(errno));
    done += static_cast<size_t>(n);
  }
  return 0;
}

int Start(const Saved& s) {
  const std::string st = Status(s);
  if (st != "created") return Fail(st == "stopped" ? "container not running" : "cannot start a container that is " + st);
  const std::string fds = "/proc/" + std::to_string(s.pid) + "/fd/";
  const int fd = open((fds + std::to_string(kStartW)).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  // A reader of the init's ready pipe (an anonymous pipe: the open never waits for a writer).
  const int ready = fd < 0 ? -1 : open((fds + std::to_string(kReadyW)).c_str(), O_RDONLY | O_CLOEXEC);
  // Checked after the opens: the fds we hold are the parked init's pipes, not a recycled pid's.
  if (ready < 0 || !Alive(s)) {
    if (fd >= 0) close(fd);
    if (ready >= 0) close(ready);
    return Fail("container not running");
  }
  const ssize_t n = write(fd, "1", 1);
  const int err = errno;
  close(fd);
  if (n != 1) {
    close(ready);
    return Fail(std::string("start: write to the parked init: ") + strerror(err));
  }
  // EOF once the init's execv has closed its end, or the errno of what failed before it.
  int32_t failed = 0;
  size_t got = 0;
  for (;;) {
    const ssize_t r = read(ready, reinterpret_cast<char*>(&failed) + got, sizeof failed - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
    if (got == sizeof failed) break;
  }
  close(ready);
  if (unlink((StateDir(s.id) + "/parked").c_str()) != 0 && errno != ENOENT)
    return Fail("start: cannot remove " + StateDir(s.id) + "/parked: " + strerror(errno));
  if (got == sizeof failed) return Fail("start: the container's program could not be run: " + ErrnoName(failed));
  return 0;
}

int Kill(const Saved& s, bool all, int sig) {
  const std::string st = Status(s);
  if (all) {
    for (const long pid : CgroupPids(s)) kill(static_cast<pid_t>(pid), sig);  // one that exited meanwhile is no error
  } else {
    if (st == "stopped") return Fail("container not running");
    if (kill(static_cast<pid_t>(s.pid), sig) != 0) return Fail(std::string("kill ") + std::to_string(s.pid) + ": " + ErrnoName(errno));
  }
  if (st == "paused" && sig == SIGKILL) {
    const std::string err = Thaw(s);
    if (!err.empty()) return Fail(err);
  }
  return 0;
}

int Delete(const Saved& s, bool force) {
  const std::string st = Status(s);
  // created without --force is deleted, as runc does and containerd's task delete expects.
  if ((st == "running" || st == "paused") && !force) return Fail("cannot delete container " + s.id + " that is not stopped: " + st);
  if (st == "paused") {
    const std::string err = Thaw(s);
    if (!err.empty()) return Fail(err);
  }
  // SIGKILL to everything in the container and a wait for the init to be gone.
  for (int i = 0;; i++) {
    std::vector<long> pids = CgroupPids(s);
    if (Alive(s) && std::find(pids.begin(), pids.end(), s.pid) == pids.end()) pids.push_back(s.pid);
    if (pids.empty()) break;
    if (i == 500) return Fail("container " + s.id + ": its processes did not die after SIGKILL");
    for (const long pid : pids) kill(static_cast<pid_t>(pid), SIGKILL);
    Sleep(10);
  }
  // The cgroups create made, deepest first (cgroup.ts's removeCgroup): the
  // container's own, when busy, retried for a second (exiting tasks); a
  // busy parent holds another container's cgroup and stays.
  std::vector<std::string> made = s.made;
  std::stable_sort(made.begin(), made.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& d : made) {
    const bool own = std::find(s.dirs.begin(), s.dirs.end(), d) != s.dirs.end();
    for (int i = 0; rmdir(d.c_str()) != 0 && errno != ENOENT && (own || errno != EBUSY); i++) {
      if (errno != EBUSY || i >= 100) return Fail("cannot remove the cgroup " + d + ": " + ErrnoName(errno));
      Sleep(10);
    }
  }
  const int err = RemoveTree(AT_FDCWD, StateDir(s.id).c_str());
  if (err) return Fail("delete: cannot remove " + StateDir(s.id) + ": " + strerror(err));
  return 0;
}

// One command; kDefer when bin/nsjs-oci.js must answer it.
int Run(const std::string& cmd, const std::vector<std::string>& argv) {
  std::vector<std::string> flags, rest;
  if (cmd == "kill") {
    if (!ParseArgs(argv, {"all", "a"}, &flags, &rest) || rest.empty() || rest.size() > 2) return kDefer;
  } else if (cmd == "delete") {
    if (!ParseArgs(argv, {"force", "f"}, &flags, &rest) || rest.size() != 1) return kDefer;
  } else if (cmd == "start" || cmd == "state") {
    if (!ParseArgs(argv, {}, &flags, &rest) || rest.size() != 1) return kDefer;
  } else {
    return kDefer;
  }
  const std::string& id = rest[0];
  if (!ValidId(id)) return kDefer;
  const int sig = cmd == "kill" ? ParseSignal(rest.size() > 1 ? rest[1] : "SIGTERM") : 0;
  if (cmd == "kill" && sig == 0) return kDefer;
  Saved s;
  bool poststart = false, poststop = false;
  switch (LoadState(id, &s, &poststart, &poststop)) {
    case Load::kDefer:
      return kDefer;
    case Load::kMissing:
      if (cmd != "delete") return Fail("container " + id + " does not exist");
      // A state dir create left half made (no state.json) goes too.
      if (const int err = RemoveTree(AT_FDCWD, StateDir(id).c_str())) return Fail("delete: cannot remove " + StateDir(id) + ": " + strerror(err));
      return Has(flags, "force", "f") ? 0 : Fail("container " + id + " does not exist");
    case Load::kOk:
      break;
  }
  if (cmd == "state") return State(s);
  if (cmd == "start") return poststart ? kDefer : Start(s);
  if (cmd == "kill") return Kill(s, Has(flags, "all", "a"), sig);
  return poststop ? kDefer : Delete(s, Has(flags, "force", "f"));
}

// light.ts's parseGlobals; false when Node must answer (--version, --help, an unknown option).
bool ParseGlobals(int argc, char** argv, int* i) {
  for (*i = 1; *i < argc && argv[*i][0] == '-'; ++*i) {
    const std::string a = argv[*i];
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    std::string value;
    const bool takes = name == "--root" || name == "--log" || name == "--log-format" || name == "--criu" || name == "--rootless";
    if (takes) {
      if (eq != std::string::npos) value = a.substr(eq + 1);
      else if (*i + 1 < argc) value = argv[++*i];
      else return false;
    }
    if (name == "--root") {
      g.root = Resolve(value);
      if (g.root.empty()) return false;
    } else if (name == "--log") {
      g.log = value;
    } else if (name == "--log-format") {
      if (value != "text" && value != "json") return false;
      g.json = value == "json";
    } else if (!takes && name != "--systemd-cgroup" && name != "--debug") {
      return false;
    }
  }
  return true;
}

// bin/nsjs-oci.js, two directories above this executable
// (build/Release/, prebuilds/linux-<arch>/, build-variants/<variant>/).
[[noreturn]] void ExecNode(char** argv) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string js;
  if (n > 0) {
    self[n] = '\0';
    js = self;
    for (int up = 0; up < 3; up++) js = js.substr(0, js.rfind('/'));
    js += "/bin/nsjs-oci.js";
    argv[0] = const_cast<char*>(js.c_str());
    // Node parses the certificates of NODE_EXTRA_CA_CERTS at start-up, and
    // nsjs-oci makes no TLS connection: `node -e 0` takes 80 ms of CPU
    // with Debian's 144 roots there, 34 ms without (perf stat), more than
    // runc's whole create. Hooks and the container get the config's
    // environment, never ours.
    unsetenv("NODE_EXTRA_CA_CERTS");
    // Its `#!/usr/bin/env node` line by hand: the node env's execvp would
    // find, one exec (and env's locale set-up) fewer.
    std::vector<char*> node_argv{const_cast<char*>("node"), argv[0]};
    for (int i = 1; argv[i] != nullptr; i++) node_argv.push_back(argv[i]);
    node_argv.push_back(nullptr);
    execvp("node", node_argv.data());
    execv(js.c_str(), argv);
  }
  Fail("cannot run " + (js.empty() ? std::string("bin/nsjs-oci.js") : js) + ": " + strerror(errno));
  _exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  int i = 0;
  if (!ParseGlobals(argc, argv, &i) || i >= argc) ExecNode(argv);
  const int r = Run(argv[i], std::vector<std::string>(argv + i + 1, argv + argc));
  if (r == kDefer) ExecNode(argv);
  return r;
}

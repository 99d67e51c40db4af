// Networking bindings for the Node process: sockets made inside another net
// namespace, the rtnetlink operations of netlink.cc on such a socket, and the
// small socket steps (bind+listen, a non-blocking connect and a wait for it)
// that let lib/net/ hand those sockets to Node's `net` module. Node's own
// threads never change namespace: a socket belongs to the namespace it was
// created in for its whole life, whoever uses it.
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "../common.h"
#include "netlink.h"
#include "socket_in.h"
#include "../poll_watch.h"

#define NSJS_NS_GET_USERNS _IO(0xb7, 0x1)

namespace nsjs {
namespace {

// ---------------------------------------------------------------------------
// socketIn: a socket created inside the net namespace of an nsfs fd.
//
// How: a vfork-style clone (CLONE_VM | CLONE_VFORK | CLONE_FILES). The child
// shares our fd table, so the socket it makes is in our table the moment
// socket() returns; it setns()es, calls socket(), stores the result in our
// memory and _exits, while this thread sleeps in clone. Against the other
// design (a helper that sends the fd back over a unix socket with SCM_RIGHTS)
// this needs no socketpair, no message and no second copy of the fd to close,
// copies no page tables, and costs one short clone (tens of microseconds).
// The child's setns moves only the child: it shares memory and files with
// us, not the fs_struct, thread group or namespaces.
//
// Rootless: joining a net namespace needs CAP_SYS_ADMIN over its owning user
// namespace *and* over our own. An ordinary user has the first for a user
// namespace it created, never the second, so on EPERM the child first joins
// the owning user namespace (where it then holds every capability) and tries
// again. setns(CLONE_NEWUSER) demands a single-threaded caller that shares no
// fs_struct: this child (no CLONE_THREAD, no CLONE_FS) is one.
//
// Not clone3 (spawn/clone.cc's trampoline): we need neither a pidfd nor
// CLONE_NEWTIME, and glibc's clone(2) already runs fn on the given stack.
// ---------------------------------------------------------------------------

struct SocketInArgs {
  int nsfd;
  int userns_fd;  // the net namespace's owner, or -1
  int domain, type, protocol;
  int result;       // the fd, or -errno; written by the child
  int failed_step;  // 0 setns, 1 socket
};

constexpr int kStepSetns = kSocketInSetns;
constexpr int kStepSocket = kSocketInSocket;
constexpr int kStepClone = kSocketInClone;

// async-signal-safe. Runs in a child that shares our memory and fd table.
// Every signal stays blocked for its whole life (the parent blocked them all
// before clone), so none of Node's handlers can run here; dispositions go back
// to default as well because a synchronous fault is delivered even when
// blocked, and V8's SIGSEGV handler must not run on our shared memory.
int SocketInChild(void* arg) {
  auto* a = static_cast<SocketInArgs*>(arg);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  if (setns(a->nsfd, CLONE_NEWNET) < 0) {
    const int err = errno;
    // A pidfd has no NS_GET_USERNS, but joins the process's user and net
    // namespaces in one call (the kernel enters the user namespace first).
    const bool joined = err == EPERM && (a->userns_fd >= 0 ? setns(a->userns_fd, CLONE_NEWUSER) == 0 && setns(a->nsfd, CLONE_NEWNET) == 0
                                                          : setns(a->nsfd, CLONE_NEWUSER | CLONE_NEWNET) == 0);
    if (!joined) {
      a->result = -err;
      a->failed_step = kStepSetns;
      _exit(0);
    }
  }
  const int fd = socket(a->domain, a->type | SOCK_CLOEXEC, a->protocol);
  a->result = fd < 0 ? -errno : fd;
  a->failed_step = kStepSocket;
  _exit(0);
}

bool SameNetns(int nsfd) {
  struct stat ours, theirs;
  if (stat("/proc/thread-self/ns/net", &ours) < 0 || fstat(nsfd, &theirs) < 0) return false;
  return ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
}

}  // namespace

int SocketIn(int nsfd, int domain, int type, int protocol, int* step) {
  *step = kStepSocket;
  // Our own namespace needs no clone, and a rootless setns into it would
  // fail for want of CAP_SYS_ADMIN over the initial user namespace.
  if (SameNetns(nsfd)) {
    const int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    return fd < 0 ? -errno : fd;
  }
  SocketInArgs a{nsfd, -1, domain, type, protocol, -EIO, kStepSetns};
  a.userns_fd = ioctl(nsfd, NSJS_NS_GET_USERNS);  // O_CLOEXEC; -1 outside our scope
  // The child runs only a few hundred bytes deep; its stack is a part of this
  // frame that nothing else uses while this thread sleeps in clone.
  alignas(16) char stack[32 * 1024];
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  // Exit signal 0: no SIGCHLD reaches Node (libuv's handler would look for
  // its own children); __WALL below reaps this one by pid.
  const int pid = clone(SocketInChild, stack + sizeof stack, CLONE_VM | CLONE_VFORK | CLONE_FILES, &a);
  const int clone_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    if (a.userns_fd >= 0) close(a.userns_fd);
    *step = kStepClone;
    return -clone_err;
  }
  while (waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
  }
  if (a.userns_fd >= 0) close(a.userns_fd);
  *step = a.failed_step;
  return a.result;
}

namespace {

Napi::Value SocketInBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int step = kStepSocket;
  const int r = SocketIn(Int(info[0]), Int(info[1]), Int(info[2]), Int(info[3]), &step);
  if (r >= 0) return Napi::Number::New(env, r);
  Napi::Object o = Napi::Object::New(env);
  o.Set("errno", r);
  o.Set("syscall", step == kStepSetns ? "setns" : step == kStepClone ? "clone" : "socket");
  return o;
}

// ---------------------------------------------------------------------------
// rtnetlink on a socket fd (ours or from socketIn).
// ---------------------------------------------------------------------------

// inet_pton for the family; false if the text is not an address of it.
bool Parse(int family, const std::string& text, unsigned char out[16]) {
  return inet_pton(family, text.c_str(), out) == 1;
}

Napi::Value NlOpenBinding(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), nl::NlOpen());
}

// (sock, name, up: -1|0|1, mtu: -1|n)
Napi::Value NlSetLinkBinding(const Napi::CallbackInfo& info) {
  const std::string name = Str(info[1]);
  return Napi::Number::New(info.Env(), nl::NlSetLink(Int(info[0]), 0, name.c_str(), Int(info[2]), Int(info[3])));
}

// (sock, add, name, family, address, prefixlen)
Napi::Value NlAddressBinding(const Napi::CallbackInfo& info) {
  const int sock = Int(info[0]);
  const bool add = info[1].ToBoolean().Value();
  const std::string name = Str(info[2]);
  const int family = Int(info[3]);
  unsigned char addr[16];
  if (!Parse(family, Str(info[4]), addr)) return Napi::Number::New(info.Env(), -EINVAL);
  const int index = nl::NlIfIndex(sock, name.c_str());
  if (index < 0) return Napi::Number::New(info.Env(), index);
  return Napi::Number::New(info.Env(), nl::NlAddress(sock, add, index, family, addr, Int(info[5])));
}

// (sock, add, family, dst | null, dstLen, gateway | null, dev | null)
Napi::Value NlRouteBinding(const Napi::CallbackInfo& info) {
  const int sock = Int(info[0]);
  const bool add = info[1].ToBoolean().Value();
  const int family = Int(info[2]);
  unsigned char dst[16], gw[16];
  const bool has_dst = info[3].IsString();
  const bool has_gw = info[5].IsString();
  if ((has_dst && !Parse(family, Str(info[3]), dst)) || (has_gw && !Parse(family, Str(info[5]), gw)))
    return Napi::Number::New(info.Env(), -EINVAL);
  int oif = 0;
  if (info[6].IsString()) {
    oif = nl::NlIfIndex(sock, Str(info[6]).c_str());
    if (oif < 0) return Napi::Number::New(info.Env(), oif);
  }
  return Napi::Number::New(info.Env(), nl::NlRoute(sock, add, family, has_dst ? dst : nullptr, Int(info[4]),
                                                    has_gw ? gw : nullptr, oif));
}

// (sock, name, peer, peerNsFd, peerPid, mtu)
Napi::Value NlCreateVethBinding(const Napi::CallbackInfo& info) {
  const std::string name = Str(info[1]), peer = Str(info[2]);
  return Napi::Number::New(info.Env(), nl::NlCreateVeth(Int(info[0]), name.c_str(), peer.c_str(), Int(info[3]),
                                                         Int(info[4]), Int(info[5])));
}

Napi::Value NlCreateBridgeBinding(const Napi::CallbackInfo& info) {
  const std::string name = Str(info[1]);
  return Napi::Number::New(info.Env(), nl::NlCreateBridge(Int(info[0]), name.c_str()));
}

// (sock, name, bridge | null): null frees the link from its bridge.
Napi::Value NlSetMasterBinding(const Napi::CallbackInfo& info) {
  const int sock = Int(info[0]);
  const int index = nl::NlIfIndex(sock, Str(info[1]).c_str());
  if (index < 0) return Napi::Number::New(info.Env(), index);
  int master = 0;
  if (info[2].IsString()) {
    master = nl::NlIfIndex(sock, Str(info[2]).c_str());
    if (master < 0) return Napi::Number::New(info.Env(), master);
  }
  return Napi::Number::New(info.Env(), nl::NlSetMaster(sock, index, master));
}

// (sock, name, targetNsFd)
Napi::Value NlMoveLinkBinding(const Napi::CallbackInfo& info) {
  const std::string name = Str(info[1]);
  return Napi::Number::New(info.Env(), nl::NlMoveLink(Int(info[0]), name.c_str(), Int(info[2])));
}

Napi::Value NlDeleteLinkBinding(const Napi::CallbackInfo& info) {
  const std::string name = Str(info[1]);
  return Napi::Number::New(info.Env(), nl::NlDeleteLink(Int(info[0]), name.c_str()));
}

struct LinkInfo {
  int index;
  unsigned flags;
  int mtu;
  std::string name, kind;
};

int CollectLink(const nlmsghdr* h, void* ctx) {
  if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return 0;
  const auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
  LinkInfo link{ifi->ifi_index, ifi->ifi_flags, 0, {}, {}};
  int len = static_cast<int>(IFLA_PAYLOAD(h));
  for (auto* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFLA_IFNAME) link.name = static_cast<const char*>(RTA_DATA(a));
    else if (a->rta_type == IFLA_MTU && RTA_PAYLOAD(a) >= 4) memcpy(&link.mtu, RTA_DATA(a), 4);
    else if (a->rta_type == IFLA_LINKINFO) {
      int inner = static_cast<int>(RTA_PAYLOAD(a));
      for (auto* b = static_cast<rtattr*>(RTA_DATA(a)); RTA_OK(b, inner); b = RTA_NEXT(b, inner))
        if (b->rta_type == IFLA_INFO_KIND) link.kind = static_cast<const char*>(RTA_DATA(b));
    }
  }
  static_cast<std::vector<LinkInfo>*>(ctx)->push_back(std::move(link));
  return 0;
}

// (sock) → [{ index, name, flags, mtu, kind? }] or -errno
Napi::Value NlLinksBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<LinkInfo> links;
  const int r = nl::NlDump(Int(info[0]), RTM_GETLINK, AF_UNSPEC, CollectLink, &links);
  if (r < 0) return Napi::Number::New(env, r);
  Napi::Array out = Napi::Array::New(env, links.size());
  for (size_t i = 0; i < links.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", links[i].index);
    o.Set("name", links[i].name);
    o.Set("flags", links[i].flags);
    o.Set("mtu", links[i].mtu);
    if (!links[i].kind.empty()) o.Set("kind", links[i].kind);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

struct AddrInfo {
  int index, family, prefixlen;
  std::string address;
};

int CollectAddr(const nlmsghdr* h, void* ctx) {
  if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return 0;
  const auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
  const void* local = nullptr;
  const void* address = nullptr;
  int len = static_cast<int>(IFA_PAYLOAD(h));
  for (auto* a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFA_LOCAL) local = RTA_DATA(a);
    else if (a->rta_type == IFA_ADDRESS) address = RTA_DATA(a);
  }
  // On a point-to-point link IFA_ADDRESS is the peer's; IFA_LOCAL is ours.
  const void* ours = local ? local : address;
  char text[INET6_ADDRSTRLEN];
  if (!ours || !inet_ntop(ifa->ifa_family, ours, text, sizeof text)) return 0;
  static_cast<std::vector<AddrInfo>*>(ctx)->push_back(
      {static_cast<int>(ifa->ifa_index), ifa->ifa_family, ifa->ifa_prefixlen, text});
  return 0;
}

// (sock) → [{ index, family, prefixLength, address }] or -errno
Napi::Value NlAddressesBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<AddrInfo> addrs;
  const int r = nl::NlDump(Int(info[0]), RTM_GETADDR, AF_UNSPEC, CollectAddr, &addrs);
  if (r < 0) return Napi::Number::New(env, r);
  Napi::Array out = Napi::Array::New(env, addrs.size());
  for (size_t i = 0; i < addrs.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", addrs[i].index);
    o.Set("family", addrs[i].family == AF_INET6 ? 6 : 4);
    o.Set("prefixLength", addrs[i].prefixlen);
    o.Set("address", addrs[i].address);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Sockets handed to Node. bind/listen/connect act in the socket's namespace,
// so they run here, on Node's thread, without any setns.
// ---------------------------------------------------------------------------

bool SockAddr(int family, const std::string& host, int port, sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_UNIX) {
    // An abstract name (the namespace's own, unlike a path): a NUL, then
    // the name's bytes, its length passed rather than NUL-terminated.
    auto* sun = reinterpret_cast<sockaddr_un*>(ss);
    sun->sun_family = AF_UNIX;
    if (host.empty() || host.size() > sizeof sun->sun_path - 1) return false;
    memcpy(sun->sun_path + 1, host.data(), host.size());
    *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + host.size());
    return true;
  }
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *sin;
    return inet_pton(AF_INET, host.c_str(), &sin->sin_addr) == 1;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(static_cast<uint16_t>(port));
  *len = sizeof *sin6;
  return inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) == 1;
}

// (fd, family, host, port, backlog, ipv6Only) → 0 or { errno, syscall };
// backlog -1: bind only (a datagram socket). AF_UNIX: host is an abstract name.
Napi::Value BindListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = Int(info[0]), family = Int(info[1]);
  sockaddr_storage ss;
  socklen_t len;
  auto fail = [&](const char* syscall) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("errno", -errno);
    o.Set("syscall", syscall);
    return o;
  };
  if (!SockAddr(family, Str(info[2]), Int(info[3]), &ss, &len)) {
    errno = EINVAL;
    return fail("bind");
  }
  // As Node's own listen does (uv_tcp_bind): a restarted server may rebind
  // while old connections sit in TIME_WAIT.
  const int one = 1;
  if (family != AF_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) return fail("setsockopt");
  if (family == AF_INET6) {
    const int v6only = info[5].ToBoolean().Value() ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0) return fail("setsockopt");
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) return fail("bind");
  if (Int(info[4]) >= 0 && listen(fd, Int(info[4])) < 0) return fail("listen");
  return Napi::Number::New(env, 0);
}

// (fd, family, host, port) → 0 (connected), -EINPROGRESS (wait for
// writable), or -errno. The fd is non-blocking, so this never waits.
Napi::Value ConnectStart(const Napi::CallbackInfo& info) {
  sockaddr_storage ss;
  socklen_t len;
  if (!SockAddr(Int(info[1]), Str(info[2]), Int(info[3]), &ss, &len)) return Napi::Number::New(info.Env(), -EINVAL);
  int r;
  do r = connect(Int(info[0]), reinterpret_cast<sockaddr*>(&ss), len);
  while (r < 0 && errno == EINTR);
  return Result(info.Env(), r);
}

// Waits on the loop (uv_poll, no thread parked) for a connecting socket to
// turn writable, then reports SO_ERROR: callback(0) once connected, or
// callback(-errno). The poll is stopped (and its epoll registration dropped)
// before the callback runs, so Node may take the fd over inside it.
class ConnectWatch : public PollWatch<ConnectWatch> {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(env, "ConnectWatch",
                       {InstanceMethod("start", &ConnectWatch::Start), InstanceMethod("close", &ConnectWatch::Close)});
  }

  // (fd, callback(err))
  explicit ConnectWatch(const Napi::CallbackInfo& info) : PollWatch<ConnectWatch>(info, Int(info[0]), info[1], "nsjs.connect") {}

  void OnPoll(int status, int /*events*/) {
    // A failed connect raises POLLERR, which libuv reports as status
    // UV_EBADF: the socket's own SO_ERROR says what really happened.
    int so_error = 0;
    socklen_t len = sizeof so_error;
    int err = getsockopt(fd(), SOL_SOCKET, SO_ERROR, &so_error, &len) < 0 ? -errno : -so_error;
    if (err == 0 && status < 0) err = status;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Deliver({Napi::Number::New(env, err)});
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), StartPoll(info.Env(), UV_WRITABLE)); }

  // Stops waiting without a callback (timeout, abort); the caller closes the fd.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }
};

}  // namespace

void InitNet(Napi::Env env, Napi::Object exports) {
  exports.Set("socketIn", Napi::Function::New(env, SocketInBinding, "socketIn"));
  exports.Set("nlOpen", Napi::Function::New(env, NlOpenBinding, "nlOpen"));
  exports.Set("nlSetLink", Napi::Function::New(env, NlSetLinkBinding, "nlSetLink"));
  exports.Set("nlAddress", Napi::Function::New(env, NlAddressBinding, "nlAddress"));
  exports.Set("nlRoute", Napi::Function::New(env, NlRouteBinding, "nlRoute"));
  exports.Set("nlCreateVeth", Napi::Function::New(env, NlCreateVethBinding, "nlCreateVeth"));
  exports.Set("nlDeleteLink", Napi::Function::New(env, NlDeleteLinkBinding, "nlDeleteLink"));
  exports.Set("nlCreateBridge", Napi::Function::New(env, NlCreateBridgeBinding, "nlCreateBridge"));
  exports.Set("nlSetMaster", Napi::Function::New(env, NlSetMasterBinding, "nlSetMaster"));
  exports.Set("nlMoveLink", Napi::Function::New(env, NlMoveLinkBinding, "nlMoveLink"));
  exports.Set("nlLinks", Napi::Function::New(env, NlLinksBinding, "nlLinks"));
  exports.Set("nlAddresses", Napi::Function::New(env, NlAddressesBinding, "nlAddresses"));
  exports.Set("bindListen", Napi::Function::New(env, BindListen, "bindListen"));
  exports.Set("connectStart", Napi::Function::New(env, ConnectStart, "connectStart"));
  exports.Set("ConnectWatch", ConnectWatch::Class(env));
}

}  // namespace nsjs

// unshare, setns and the nsfs ioctls. These act on the calling thread only:
// Node is multi-threaded, so the high-level API never calls them in the Node
// process (see DESIGN.md); they are here for users who know what that means.
#include <errno.h>
#include <fcntl.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "../common.h"

// The system header lags the kernel: define the nsfs requests we use here.
#define NSJS_NSIO 0xb7
#define NSJS_NS_GET_USERNS _IO(NSJS_NSIO, 0x1)
#define NSJS_NS_GET_PARENT _IO(NSJS_NSIO, 0x2)
#define NSJS_NS_GET_NSTYPE _IO(NSJS_NSIO, 0x3)
#define NSJS_NS_GET_OWNER_UID _IO(NSJS_NSIO, 0x4)
#define NSJS_NS_GET_ID _IOR(NSJS_NSIO, 0xd, uint64_t)  // Linux 6.18

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#define NSJS_SIOCGSKNS 0x894C  // <linux/sockios.h>, Linux 4.9

namespace nsjs {
namespace {

Napi::Value Unshare(const Napi::CallbackInfo& info) {
  return Result(info.Env(), unshare(Int(info[0])));
}

Napi::Value Setns(const Napi::CallbackInfo& info) {
  return Result(info.Env(), setns(Int(info[0]), Int(info[1])));
}

// Requests that answer through a pointer (owner uid, id) return the value;
// the others return what ioctl returns (a new O_CLOEXEC fd, or the type).
Napi::Value IoctlNs(const Napi::CallbackInfo& info) {
  const int fd = Int(info[0]);
  const unsigned long request = static_cast<unsigned long>(Num(info[1]));
  if (request == NSJS_NS_GET_OWNER_UID) {
    uid_t uid = 0;
    if (ioctl(fd, request, &uid) < 0) return Result(info.Env(), -1);
    return Napi::Number::New(info.Env(), uid);
  }
  if (request == NSJS_NS_GET_ID) {
    uint64_t id = 0;
    if (ioctl(fd, request, &id) < 0) return Result(info.Env(), -1);
    return Napi::Number::New(info.Env(), static_cast<double>(id));
  }
  return Result(info.Env(), ioctl(fd, request));
}

Napi::Value OpenNs(const Napi::CallbackInfo& info) {
  return Result(info.Env(), open(Str(info[0]).c_str(), O_RDONLY | O_CLOEXEC));
}

// The net namespace of socket `fd` of process `pid` (lsns's
// add_namespace_from_sock): a copy of the socket through pidfd_getfd (needs
// ptrace rights over it), then SIOCGSKNS. Returns an O_CLOEXEC fd of the
// namespace or -errno; every fd of its own is closed.
Napi::Value SocketNs(const Napi::CallbackInfo& info) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, Int(info[0]), 0));
  if (pidfd < 0) return Result(info.Env(), -1);
  const int sock = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, Int(info[1]), 0));
  int err = errno;
  close(pidfd);
  if (sock < 0) {
    errno = err;
    return Result(info.Env(), -1);
  }
  const int ns = ioctl(sock, NSJS_SIOCGSKNS);
  err = errno;
  close(sock);
  errno = err;
  return Result(info.Env(), ns);
}

// The id our net namespace gives the net namespace `nsfd` (RTM_GETNSID with
// NETNSA_FD): >= 0, -1 when none is assigned (NETNSA_NSID_NOT_ASSIGNED), or
// { errno } when the kernel would not tell. One short-lived NETLINK_ROUTE
// socket per call.
Napi::Value NetnsId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto failed = [&env](int e) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("errno", -e);
    return o;
  };
  const int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) return failed(errno);
  struct {
    nlmsghdr h;
    rtgenmsg g;
    char pad[3];
    rtattr a;
    uint32_t fd;
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETNSID;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.h.nlmsg_seq = 1;
  req.g.rtgen_family = AF_UNSPEC;
  req.a.rta_type = NETNSA_FD;
  req.a.rta_len = RTA_LENGTH(sizeof(uint32_t));
  req.fd = static_cast<uint32_t>(Int(info[0]));
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(sock, &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    const int e = errno;
    close(sock);
    return failed(e);
  }
  alignas(nlmsghdr) char buf[4096];
  ssize_t n;
  do n = recv(sock, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  const int e = errno;
  close(sock);
  if (n < 0) return failed(e);
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n)); h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
      return failed(err->error ? -err->error : EPROTO);
    }
    if (h->nlmsg_type != RTM_NEWNSID) continue;
    int len = static_cast<int>(h->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof(rtgenmsg)));
    for (auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(rtgenmsg)));
         RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      if (a->rta_type == NETNSA_NSID && RTA_PAYLOAD(a) >= sizeof(int32_t)) {
        int32_t id;
        memcpy(&id, RTA_DATA(a), sizeof id);
        return Napi::Number::New(env, id);
      }
    }
  }
  return failed(EPROTO);
}

}  // namespace

void InitNs(Napi::Env env, Napi::Object exports) {
  exports.Set("unshare", Napi::Function::New(env, Unshare, "unshare"));
  exports.Set("setns", Napi::Function::New(env, Setns, "setns"));
  exports.Set("ioctlNs", Napi::Function::New(env, IoctlNs, "ioctlNs"));
  exports.Set("openNs", Napi::Function::New(env, OpenNs, "openNs"));
  exports.Set("socketNs", Napi::Function::New(env, SocketNs, "socketNs"));
  exports.Set("netnsId", Napi::Function::New(env, NetnsId, "netnsId"));

}

}  // namespace nsjs

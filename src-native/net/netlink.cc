// The rtnetlink message layer. Rule for this file, as for spawn/child.cc:
// async-signal-safe only — the spawn child calls these between clone and
// execve, in a copy of a multi-threaded process. Messages are built in stack
// buffers, sent with sendto and answered with recvfrom; nothing allocates and
// no errno escapes: every function returns >= 0 or -errno.
//
// The message shapes follow iproute2 (ip/iplink.c, ip/link_veth.c,
// ip/ipaddress.c, ip/iproute.c): a fixed header, then attributes, nested ones
// closed by patching their length once their content is known.
#include "netlink.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace nsjs {
namespace nl {
namespace {

// Room for the largest request we build (a veth pair with names, mtu and a
// peer namespace is under 200 bytes).
constexpr size_t kRequestSize = 512;
// Acks echo the request; a dump answer is at most 32 KiB per datagram with
// the receive sizes we use (as iproute2 assumes).
constexpr size_t kReplySize = 32768;

struct Request {
  alignas(NLMSG_ALIGNTO) unsigned char buf[kRequestSize];
  bool overflow;
  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf); }
};

// async-signal-safe. Sequence numbers only pair an ack with its request, but
// the spawn child shares memory with Node's threads, hence the atomic. The
// first of `n` consecutive ones (a batch's).
uint32_t NextSeq(uint32_t n = 1) {
  static uint32_t seq = 0;
  return __atomic_add_fetch(&seq, n, __ATOMIC_RELAXED) - n + 1;
}

// async-signal-safe
size_t Len(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

// async-signal-safe. Starts a message with `fixed` bytes of family header.
void Begin(Request* r, uint16_t type, uint16_t flags, size_t fixed) {
  memset(r->buf, 0, sizeof r->buf);
  r->overflow = false;
  nlmsghdr* h = r->hdr();
  h->nlmsg_len = NLMSG_LENGTH(fixed);
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

// async-signal-safe
void* Fixed(Request* r) { return NLMSG_DATA(r->hdr()); }

// async-signal-safe. Appends an attribute; an overflow is remembered and
// reported by Talk as EMSGSIZE rather than checked at each call.
rtattr* Put(Request* r, uint16_t type, const void* data, size_t len) {
  nlmsghdr* h = r->hdr();
  const size_t at = NLMSG_ALIGN(h->nlmsg_len);
  if (at + RTA_SPACE(len) > sizeof r->buf) {
    r->overflow = true;
    return nullptr;
  }
  auto* a = reinterpret_cast<rtattr*>(r->buf + at);
  a->rta_type = type;
  a->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
  if (data && len) memcpy(RTA_DATA(a), data, len);  // a Nest has neither
  h->nlmsg_len = static_cast<uint32_t>(at + RTA_ALIGN(a->rta_len));
  return a;
}

// async-signal-safe
void PutStr(Request* r, uint16_t type, const char* s) { Put(r, type, s, Len(s) + 1); }

// async-signal-safe
void PutU32(Request* r, uint16_t type, uint32_t v) { Put(r, type, &v, sizeof v); }

// async-signal-safe. A nest's length covers everything appended until End.
rtattr* Nest(Request* r, uint16_t type) { return Put(r, type, nullptr, 0); }

// async-signal-safe
void End(Request* r, rtattr* nest) {
  if (nest) nest->rta_len = static_cast<uint16_t>(r->buf + r->hdr()->nlmsg_len - reinterpret_cast<unsigned char*>(nest));
}

// async-signal-safe. Raw bytes inside a nest (VETH_INFO_PEER starts with a
// bare ifinfomsg, not an attribute).
void* Raw(Request* r, size_t len) {
  nlmsghdr* h = r->hdr();
  const size_t at = NLMSG_ALIGN(h->nlmsg_len);
  if (at + NLMSG_ALIGN(len) > sizeof r->buf) {
    r->overflow = true;
    return nullptr;
  }
  h->nlmsg_len = static_cast<uint32_t>(at + NLMSG_ALIGN(len));
  return r->buf + at;
}

// async-signal-safe
int Send(int sock, nlmsghdr* h) {
  sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    const ssize_t n = sendto(sock, h, h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n >= 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

// async-signal-safe. One datagram from the kernel (nl_pid 0): another process
// can address our port, and its messages must not pass for the answer.
ssize_t Receive(int sock, unsigned char* buf, size_t len) {
  for (;;) {
    sockaddr_nl from;
    socklen_t fromlen = sizeof from;
    const ssize_t n = recvfrom(sock, buf, len, MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &fromlen);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (static_cast<size_t>(n) > len) return -EMSGSIZE;
    if (from.nl_pid != 0) continue;
    return n;
  }
}

// async-signal-safe. NLMSG_OK, without its __u32 <= int comparison (clang's
// -Wsign-compare): `left` is known positive once the first test passes, so it
// compares unsigned. NLMSG_NEXT can take `left` a few bytes below zero (the
// last message's padding), which the first test then stops.
bool MessageOk(const nlmsghdr* h, int left) {
  return left >= static_cast<int>(sizeof(nlmsghdr)) && h->nlmsg_len >= sizeof(nlmsghdr) &&
         h->nlmsg_len <= static_cast<unsigned>(left);
}

// async-signal-safe. Waits for the acks of the `count` requests numbered
// from `seq`: 0, or the first failure's -errno and its position in *failed.
// Every ack is read, so none is left to pass for a later request's.
int Acks(int sock, uint32_t seq, int count, int* failed) {
  alignas(NLMSG_ALIGNTO) unsigned char buf[4096];  // an ack echoes a request of < 512 bytes
  int acked = 0;
  int error = 0;
  while (acked < count) {
    const ssize_t got = Receive(sock, buf, sizeof buf);
    if (got < 0) return static_cast<int>(got);
    int left = static_cast<int>(got);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); MessageOk(h, left); h = NLMSG_NEXT(h, left)) {
      const uint32_t at = h->nlmsg_seq - seq;
      if (at >= static_cast<uint32_t>(count) || h->nlmsg_type != NLMSG_ERROR) continue;  // a late answer to an earlier, abandoned request
      acked++;
      const int e = h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr)) ? -EBADMSG : static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
      // The kernel runs them in order, so the first failure is acked first.
      if (e < 0 && error == 0) {
        error = e;
        *failed = static_cast<int>(at);
      }
    }
  }
  return error;
}

// async-signal-safe. Sends the request and waits for its ack: 0 or the
// kernel's -errno.
int Talk(int sock, Request* r) {
  if (r->overflow) return -EMSGSIZE;
  nlmsghdr* req = r->hdr();
  req->nlmsg_seq = NextSeq();
  int err = Send(sock, req);
  if (err < 0) return err;
  int failed;
  return Acks(sock, req->nlmsg_seq, 1, &failed);
}

// async-signal-safe. A link name must fit IFNAMSIZ with its NUL; the
// TypeScript side refuses longer ones before we get here.
bool NameOk(const char* name) {
  if (!name || !name[0]) return false;
  return Len(name) <= static_cast<size_t>(kMaxIfName);
}

// async-signal-safe
size_t AddrLen(int family) { return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0; }

// async-signal-safe. One tx and one rx queue, asked for at creation. Left
// out, veth allocates a queue of each per possible CPU, registers them, then
// cuts the real count back to one (veth_init_queues), and that cut waits for
// an expedited RCU grace period: 0.3-0.4 ms of the pair's ~0.6 ms here
// (bench/RESULTS.md, "veth"). One queue is what the cut leaves anyway, so
// the link behaves the same; only XDP's multi-queue mode wants more.
void PutQueues(Request* r) {
  PutU32(r, IFLA_NUM_TX_QUEUES, 1);
  PutU32(r, IFLA_NUM_RX_QUEUES, 1);
}

// async-signal-safe. The requests the NlBatch* calls share with the
// one-shot ones: each fills `r` or returns -EINVAL.
int BuildSetLink(Request* r, int ifindex, const char* ifname, int up, int mtu) {
  if (ifindex <= 0 && !NameOk(ifname)) return -EINVAL;
  Begin(r, RTM_NEWLINK, 0, sizeof(ifinfomsg));
  auto* ifi = static_cast<ifinfomsg*>(Fixed(r));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex > 0 ? ifindex : 0;
  if (up >= 0) {
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = up ? IFF_UP : 0;
  }
  if (ifindex <= 0) PutStr(r, IFLA_IFNAME, ifname);
  if (mtu >= 0) PutU32(r, IFLA_MTU, static_cast<uint32_t>(mtu));
  return 0;
}

// async-signal-safe
int BuildAddress(Request* r, bool add, int ifindex, int family, const void* addr, int prefixlen) {
  const size_t alen = AddrLen(family);
  if (!alen || ifindex <= 0 || prefixlen < 0 || prefixlen > static_cast<int>(alen * 8)) return -EINVAL;
  Begin(r, add ? RTM_NEWADDR : RTM_DELADDR, add ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof(ifaddrmsg));
  auto* ifa = static_cast<ifaddrmsg*>(Fixed(r));
  ifa->ifa_family = static_cast<uint8_t>(family);
  ifa->ifa_prefixlen = static_cast<uint8_t>(prefixlen);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  // Duplicate-address detection would keep a new IPv6 address "tentative"
  // (unusable for bind/connect) for about a second after a link comes up.
  if (family == AF_INET6) {
    ifa->ifa_flags = IFA_F_NODAD;
    PutU32(r, IFA_FLAGS, IFA_F_NODAD);
  }
  Put(r, IFA_LOCAL, addr, alen);
  Put(r, IFA_ADDRESS, addr, alen);
  return 0;
}

// async-signal-safe
int BuildSetMaster(Request* r, int ifindex, int master) {
  if (ifindex <= 0 || master < 0) return -EINVAL;
  Begin(r, RTM_NEWLINK, 0, sizeof(ifinfomsg));
  auto* ifi = static_cast<ifinfomsg*>(Fixed(r));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  PutU32(r, IFLA_MASTER, static_cast<uint32_t>(master));
  return 0;
}

// async-signal-safe. Sends the batch's requests in one datagram, numbered
// consecutively, and waits for their acks.
void Flush(Batch* b) {
  if (b->count == 0) return;
  const uint32_t seq = NextSeq(static_cast<uint32_t>(b->count));
  unsigned at = 0;
  for (int i = 0; i < b->count; i++) {
    auto* h = reinterpret_cast<nlmsghdr*>(b->buf + at);
    h->nlmsg_seq = seq + static_cast<uint32_t>(i);
    at += NLMSG_ALIGN(h->nlmsg_len);
  }
  sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  int err = 0;
  int failed = 0;
  for (;;) {
    if (sendto(b->sock, b->buf, b->len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0) {
      err = Acks(b->sock, seq, b->count, &failed);
      break;
    }
    if (errno != EINTR) {
      err = -errno;
      break;
    }
  }
  if (err < 0) {
    b->error = err;
    b->failed = b->added - b->count + failed;
  }
  b->count = 0;
  b->len = 0;
}

// async-signal-safe. Adds a built request (`built` is its builder's result),
// sending the batch first if it does not fit. Nothing more is sent after a
// failure.
void Append(Batch* b, Request* r, int built) {
  const int at = b->added++;
  if (b->error < 0) return;
  if (built == 0 && r->overflow) built = -EMSGSIZE;
  if (built < 0) {
    b->error = built;
    b->failed = at;
    return;
  }
  const unsigned size = NLMSG_ALIGN(r->hdr()->nlmsg_len);
  if (b->len + size > sizeof b->buf) Flush(b);
  if (b->error < 0) return;
  memcpy(b->buf + b->len, r->buf, size);
  b->len += size;
  b->count++;
}

}  // namespace

// async-signal-safe
int NlOpen() {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  return fd < 0 ? -errno : fd;
}

// async-signal-safe. The ioctl goes to the socket's own namespace (sock_net),
// which is why it is asked of the netlink socket and not of a fresh one.
int NlIfIndex(int sock, const char* ifname) {
  if (!NameOk(ifname)) return -EINVAL;
  ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, Len(ifname));
  if (ioctl(sock, SIOCGIFINDEX, &ifr) < 0) return -errno;
  return ifr.ifr_ifindex;
}

// async-signal-safe
int NlLinkUp(int sock, const char* ifname) { return NlSetLink(sock, 0, ifname, 1, -1); }

// async-signal-safe
int NlSetLink(int sock, int ifindex, const char* ifname, int up, int mtu) {
  Request r;
  const int built = BuildSetLink(&r, ifindex, ifname, up, mtu);
  return built < 0 ? built : Talk(sock, &r);
}

// async-signal-safe
int NlAddress(int sock, bool add, int ifindex, int family, const void* addr, int prefixlen) {
  Request r;
  const int built = BuildAddress(&r, add, ifindex, family, addr, prefixlen);
  return built < 0 ? built : Talk(sock, &r);
}

// async-signal-safe
int NlAddAddress(int sock, const char* ifname, int family, const void* addr, int prefixlen) {
  const int index = NlIfIndex(sock, ifname);
  if (index < 0) return index;
  return NlAddress(sock, true, index, family, addr, prefixlen);
}

// async-signal-safe
int NlRoute(int sock, bool add, int family, const void* dst, int dst_len, const void* gateway, int oif) {
  const size_t alen = AddrLen(family);
  if (!alen || dst_len < 0 || dst_len > static_cast<int>(alen * 8) || (dst_len > 0 && !dst)) return -EINVAL;
  Request r;
  Begin(&r, add ? RTM_NEWROUTE : RTM_DELROUTE, add ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof(rtmsg));
  auto* rt = static_cast<rtmsg*>(Fixed(&r));
  rt->rtm_family = static_cast<uint8_t>(family);
  rt->rtm_dst_len = static_cast<uint8_t>(dst_len);
  rt->rtm_table = RT_TABLE_MAIN;
  if (add) {
    rt->rtm_protocol = RTPROT_BOOT;
    rt->rtm_type = RTN_UNICAST;
    // Without a gateway the destination is on the link itself.
    rt->rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  } else {
    rt->rtm_scope = RT_SCOPE_NOWHERE;  // matches any scope, as `ip route del` does
  }
  if (dst_len > 0) Put(&r, RTA_DST, dst, alen);
  if (gateway) Put(&r, RTA_GATEWAY, gateway, alen);
  if (oif > 0) PutU32(&r, RTA_OIF, static_cast<uint32_t>(oif));
  return Talk(sock, &r);
}

// async-signal-safe
int NlAddDefaultRoute(int sock, int family, const void* gateway) {
  if (!gateway) return -EINVAL;
  return NlRoute(sock, true, family, nullptr, 0, gateway, 0);
}

// async-signal-safe
int NlCreateVeth(int sock, const char* name, const char* peer, int peer_netns_fd, int peer_pid, int mtu, bool up, int master) {
  if (!NameOk(name) || !NameOk(peer) || master < 0) return -EINVAL;
  Request r;
  Begin(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(ifinfomsg));
  auto* ifi = static_cast<ifinfomsg*>(Fixed(&r));
  ifi->ifi_family = AF_UNSPEC;
  // The kernel applies these to `name` once both ends are registered and
  // paired (rtnl_configure_link after veth_newlink), undoing all on failure.
  if (up) {
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = IFF_UP;
  }
  PutStr(&r, IFLA_IFNAME, name);
  if (master > 0) PutU32(&r, IFLA_MASTER, static_cast<uint32_t>(master));
  if (mtu >= 0) PutU32(&r, IFLA_MTU, static_cast<uint32_t>(mtu));
  PutQueues(&r);
  rtattr* info = Nest(&r, IFLA_LINKINFO);
  PutStr(&r, IFLA_INFO_KIND, "veth");
  rtattr* data = Nest(&r, IFLA_INFO_DATA);
  rtattr* peer_nest = Nest(&r, VETH_INFO_PEER);
  auto* peer_ifi = static_cast<ifinfomsg*>(Raw(&r, sizeof(ifinfomsg)));
  if (peer_ifi) peer_ifi->ifi_family = AF_UNSPEC;
  PutStr(&r, IFLA_IFNAME, peer);
  if (mtu >= 0) PutU32(&r, IFLA_MTU, static_cast<uint32_t>(mtu));
  PutQueues(&r);
  // Made in its namespace at once: moving it afterwards costs a second
  // RTM_NEWLINK and (on this kernel) about 20 ms of device re-registration.
  if (peer_netns_fd >= 0) PutU32(&r, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  else if (peer_pid > 0) PutU32(&r, IFLA_NET_NS_PID, static_cast<uint32_t>(peer_pid));
  End(&r, peer_nest);
  End(&r, data);
  End(&r, info);
  return Talk(sock, &r);
}

// async-signal-safe. Up in the same message: a bridge, unlike a veth end,
// can open before anything is enslaved to it.
int NlCreateBridge(int sock, const char* name) {
  if (!NameOk(name)) return -EINVAL;
  Request r;
  Begin(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(ifinfomsg));
  auto* ifi = static_cast<ifinfomsg*>(Fixed(&r));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_change = IFF_UP;
  ifi->ifi_flags = IFF_UP;
  PutStr(&r, IFLA_IFNAME, name);
  rtattr* info = Nest(&r, IFLA_LINKINFO);
  PutStr(&r, IFLA_INFO_KIND, "bridge");
  End(&r, info);
  return Talk(sock, &r);
}

// async-signal-safe
int NlSetMaster(int sock, int ifindex, int master) {
  Request r;
  const int built = BuildSetMaster(&r, ifindex, master);
  return built < 0 ? built : Talk(sock, &r);
}

// async-signal-safe
void NlBatchInit(Batch* b, int sock) {
  b->sock = sock;
  b->added = 0;
  b->count = 0;
  b->error = 0;
  b->failed = -1;
  b->len = 0;
}

// async-signal-safe
void NlBatchSetLink(Batch* b, int ifindex, int up, int mtu) {
  Request r;
  Append(b, &r, ifindex > 0 ? BuildSetLink(&r, ifindex, nullptr, up, mtu) : -EINVAL);
}

// async-signal-safe
void NlBatchSetMaster(Batch* b, int ifindex, int master) {
  Request r;
  Append(b, &r, BuildSetMaster(&r, ifindex, master));
}

// async-signal-safe
void NlBatchAddress(Batch* b, bool add, int ifindex, int family, const void* addr, int prefixlen) {
  Request r;
  Append(b, &r, BuildAddress(&r, add, ifindex, family, addr, prefixlen));
}

// async-signal-safe
int NlBatchFinish(Batch* b, int* failed) {
  Flush(b);
  if (failed) *failed = b->failed;
  return b->error;
}

// async-signal-safe
int NlMoveLink(int sock, const char* ifname, int netns_fd) {
  if (!NameOk(ifname) || netns_fd < 0) return -EINVAL;
  Request r;
  Begin(&r, RTM_NEWLINK, 0, sizeof(ifinfomsg));
  static_cast<ifinfomsg*>(Fixed(&r))->ifi_family = AF_UNSPEC;
  PutStr(&r, IFLA_IFNAME, ifname);
  PutU32(&r, IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
  return Talk(sock, &r);
}

// async-signal-safe
int NlDeleteLink(int sock, const char* ifname) {
  if (!NameOk(ifname)) return -EINVAL;
  Request r;
  Begin(&r, RTM_DELLINK, 0, sizeof(ifinfomsg));
  static_cast<ifinfomsg*>(Fixed(&r))->ifi_family = AF_UNSPEC;
  PutStr(&r, IFLA_IFNAME, ifname);
  return Talk(sock, &r);
}

// async-signal-safe
int NlDump(int sock, int type, int family, int (*each)(const nlmsghdr* msg, void* ctx), void* ctx) {
  size_t fixed;
  switch (type) {
    case RTM_GETLINK: fixed = sizeof(ifinfomsg); break;
    case RTM_GETADDR: fixed = sizeof(ifaddrmsg); break;
    case RTM_GETROUTE: fixed = sizeof(rtmsg); break;
    default: return -EINVAL;
  }
  Request r;
  Begin(&r, static_cast<uint16_t>(type), NLM_F_DUMP, fixed);
  r.hdr()->nlmsg_flags &= ~NLM_F_ACK;  // a dump ends with NLMSG_DONE
  // Every family header starts with its family byte.
  *static_cast<uint8_t*>(Fixed(&r)) = static_cast<uint8_t>(family);
  nlmsghdr* req = r.hdr();
  req->nlmsg_seq = NextSeq();
  int err = Send(sock, req);
  if (err < 0) return err;
  alignas(NLMSG_ALIGNTO) unsigned char buf[kReplySize];
  int result = 0;
  for (;;) {
    const ssize_t got = Receive(sock, buf, sizeof buf);
    if (got < 0) return static_cast<int>(got);
    int left = static_cast<int>(got);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); MessageOk(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != req->nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) {
        // A dump that failed half-way says so in NLMSG_DONE's payload.
        const bool has = h->nlmsg_len >= NLMSG_LENGTH(sizeof(int));
        const int done = has ? *static_cast<const int*>(NLMSG_DATA(h)) : 0;
        return done < 0 ? done : result;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return -EBADMSG;
        return static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
      }
      if (result >= 0) {
        const int r2 = each(h, ctx);
        if (r2 < 0) result = r2;
      }
    }
  }
}

}  // namespace nl
}  // namespace nsjs

// rtnetlink from C++, with no external program: links up/down, mtu, veth
// pairs, addresses and routes, each one request and one acknowledgement on a
// NETLINK_ROUTE socket. A netlink socket acts in the net namespace it was
// created in, whatever namespace the sending thread is in, so a socket made
// inside another namespace (SocketIn in net.cc) configures that namespace
// while Node's threads stay where they are.
//
// Every function here is async-signal-safe: stack buffers only, raw
// socket/sendto/recvfrom/ioctl, no allocation, no C++ library. The spawn
// child may call them between clone and execve. Each returns >= 0 on success
// or -errno (a netlink NLMSG_ERROR becomes the kernel's -errno).
#pragma once

#include <linux/netlink.h>

namespace nsjs {
namespace nl {

// The largest link name the kernel accepts, without the NUL (IFNAMSIZ - 1).
constexpr int kMaxIfName = 15;

// async-signal-safe. A NETLINK_ROUTE socket (SOCK_CLOEXEC) in the calling
// thread's net namespace, or -errno.
int NlOpen();

// async-signal-safe. The index of link `ifname` in the socket's namespace
// (ioctl SIOCGIFINDEX on the netlink socket itself), or -ENODEV.
int NlIfIndex(int sock, const char* ifname);

// async-signal-safe. Brings `ifname` up.
int NlLinkUp(int sock, const char* ifname);

// async-signal-safe. Changes a link found by `ifindex` (> 0) or else by
// `ifname`: up = 1 up, 0 down, -1 unchanged; mtu -1 unchanged.
int NlSetLink(int sock, int ifindex, const char* ifname, int up, int mtu);

// async-signal-safe. Adds `addr/prefixlen` (family AF_INET or AF_INET6,
// addr 4 or 16 bytes, network order) to `ifname`. IPv6 addresses are added
// with IFA_F_NODAD, so they are usable at once instead of after DAD.
int NlAddAddress(int sock, const char* ifname, int family, const void* addr, int prefixlen);

// async-signal-safe. Adds (add = true) or deletes an address on link `ifindex`.
int NlAddress(int sock, bool add, int ifindex, int family, const void* addr, int prefixlen);

// async-signal-safe. Adds a default route via `gateway` (4 or 16 bytes).
int NlAddDefaultRoute(int sock, int family, const void* gateway);

// async-signal-safe. Adds or deletes a route in the main table: to `dst`/
// `dst_len` (dst_len 0 and dst nullptr: default), via `gateway` (nullptr:
// none, a link route) and/or out of link `oif` (0: any).
int NlRoute(int sock, bool add, int family, const void* dst, int dst_len, const void* gateway, int oif);

// async-signal-safe. Creates the veth pair `name` (in the socket's namespace)
// and `peer`, the peer created directly in the namespace of `peer_netns_fd`
// (an nsfs fd) or else of `peer_pid` (or, with both -1, beside `name`).
// mtu -1 keeps the default. `up`: `name` is up at once (the peer cannot be:
// it opens before it is paired, and veth_open refuses that with ENOTCONN);
// `master` > 0: `name` is enslaved to that bridge at once. One message: the
// kernel creates both ends, up and enslaved, or nothing, so a clash (EEXIST)
// or a refused master leaves nothing behind.
int NlCreateVeth(int sock, const char* name, const char* peer, int peer_netns_fd, int peer_pid, int mtu, bool up = false, int master = 0);

// async-signal-safe. Creates bridge `name`, already up, with no port.
int NlCreateBridge(int sock, const char* name);

// async-signal-safe. Enslaves link `ifindex` to the bridge `master` (an
// ifindex of the same namespace), or frees it with master 0.
int NlSetMaster(int sock, int ifindex, int master);

// async-signal-safe. Moves link `ifname` into the namespace of the nsfs fd
// `netns_fd` (its addresses and routes are dropped, as the kernel does).
int NlMoveLink(int sock, const char* ifname, int netns_fd);

// Requests sent to the kernel several to a datagram: it runs them in order
// and acks each, so a link's up, master and addresses cost one round trip
// instead of one each. Fill it with the NlBatch* calls, then NlBatchFinish.
// A full batch is sent (and its acks awaited) on its own when the next
// request does not fit. After a failure the rest of that datagram still ran
// (the kernel does not stop), later requests are not sent; the caller
// deletes the link it was configuring, so nothing half-made is left.
struct Batch {
  int sock;
  int added;     // requests given so far
  int count;     // of those, still in buf
  int error;     // the first failure's -errno, 0 so far
  int failed;    // its position among the requests given, -1 if none
  unsigned len;  // bytes of buf in use
  alignas(NLMSG_ALIGNTO) unsigned char buf[2048];
};

// async-signal-safe. An empty batch for `sock`.
void NlBatchInit(Batch* b, int sock);

// async-signal-safe. NlSetLink's change of link `ifindex` (> 0), batched.
void NlBatchSetLink(Batch* b, int ifindex, int up, int mtu);

// async-signal-safe. NlSetMaster, batched.
void NlBatchSetMaster(Batch* b, int ifindex, int master);

// async-signal-safe. NlAddress, batched.
void NlBatchAddress(Batch* b, bool add, int ifindex, int family, const void* addr, int prefixlen);

// async-signal-safe. Sends what is left and waits for every ack: 0, or the
// first failure's -errno with *failed (if not null) its position.
int NlBatchFinish(Batch* b, int* failed);

// async-signal-safe. Deletes link `ifname` (for a veth, both ends go).
int NlDeleteLink(int sock, const char* ifname);

// async-signal-safe. Runs a dump request (RTM_GETLINK, RTM_GETADDR...) for
// `family` and calls `each` for every answer until NLMSG_DONE; a negative
// return from `each` stops the dump with that result (the rest of the answer
// is drained so the socket stays usable).
int NlDump(int sock, int type, int family, int (*each)(const nlmsghdr* msg, void* ctx), void* ctx);

}  // namespace nl
}  // namespace nsjs

// A socket created inside another net namespace (net.cc): the Node thread's
// `net.listen`/`net.connect`, and the spawn parent's sockets made in a
// sandbox's namespace (a veth's netlink socket, the egress proxy's listener).
#pragma once

namespace nsjs {

// Steps SocketIn reports a failure at.
constexpr int kSocketInSetns = 0;
constexpr int kSocketInSocket = 1;
constexpr int kSocketInClone = 2;

// The fd (O_CLOEXEC) of socket(domain, type, protocol) made in the net
// namespace of `nsfd` (an nsfs fd, or a pidfd: that process's namespace), or
// -errno with *step set. Safe from any thread; never moves the caller.
int SocketIn(int nsfd, int domain, int type, int protocol, int* step);

}  // namespace nsjs

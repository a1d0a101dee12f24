#include "core/net.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

namespace replideploy::core {

bool IsNonPublicAddress(const std::string& ip) {
  in6_addr v6{};
  in_addr v4{};
  std::uint32_t a = 0;
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    a = ntohl(v4.s_addr);
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
    const unsigned char* b = v6.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      a = (std::uint32_t{b[12]} << 24) | (std::uint32_t{b[13]} << 16) |
          (std::uint32_t{b[14]} << 8) | b[15];
    } else {
      if (IN6_IS_ADDR_LOOPBACK(&v6) || IN6_IS_ADDR_UNSPECIFIED(&v6) || IN6_IS_ADDR_LINKLOCAL(&v6) ||
          IN6_IS_ADDR_MULTICAST(&v6) || IN6_IS_ADDR_SITELOCAL(&v6)) {
        return true;
      }
      return (b[0] & 0xfe) == 0xfc;  // unique local fc00::/7
    }
  } else {
    return true;  // not an address at all: refuse
  }
  auto in = [a](std::uint32_t net, int bits) {
    return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits));
  };
  return in(0x00000000, 8) || in(0x0a000000, 8) || in(0x7f000000, 8) || in(0xa9fe0000, 16) ||
         in(0xac100000, 12) || in(0xc0a80000, 16) || in(0x64400000, 10) || in(0xc0000000, 24) ||
         in(0xe0000000, 4) || in(0xf0000000, 4);
}

Result<std::string> ResolvePublicAddress(const std::string& host, const std::string& port,
                                         bool allow_private) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    return Unprocessable("unresolvable_host", "cannot resolve " + host);
  }
  std::string chosen;
  bool refused = false;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr =
        ai->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    inet_ntop(ai->ai_family, addr, text, sizeof text);
    if (!allow_private && IsNonPublicAddress(text)) refused = true;
    if (chosen.empty()) chosen = text;
  }
  freeaddrinfo(found);
  if (refused || chosen.empty()) {
    return Unprocessable("non_public_host", host + " resolves to a non-public address");
  }
  return chosen;
}

}  // namespace replideploy::core

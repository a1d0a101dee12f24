#include "core/net.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace replideploy::core {

namespace {

int MaxPrefix(IpFamily family) { return family == IpFamily::kV4 ? 32 : 128; }

bool HostBitsClear(const Cidr& cidr) {
  const int total_bits = MaxPrefix(cidr.family);
  for (int bit = cidr.prefix_length; bit < total_bits; ++bit) {
    if (cidr.bytes[static_cast<std::size_t>(bit / 8)] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

Cidr MaskCidrImpl(Cidr cidr) {
  const int total_bits = MaxPrefix(cidr.family);
  for (int bit = cidr.prefix_length; bit < total_bits; ++bit) {
    cidr.bytes[static_cast<std::size_t>(bit / 8)] &=
        static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
  }
  return cidr;
}

}  // namespace

Result<Cidr> ParseCidr(std::string_view text) {
  constexpr std::string_view kExpected =
      "expected an IPv4 or IPv6 address with an optional prefix length, such as 10.0.0.0/8, "
      "192.0.2.7 or fc00::/7";
  if (text.empty() || text.size() > 64) {
    return Unprocessable("invalid_cidr", "not an IP network: " + std::string(kExpected));
  }
  const auto bad = [&](std::string_view why) {
    return Unprocessable("invalid_cidr",
                         "\"" + std::string(text) + "\" is not an IP network: " + std::string(why));
  };
  const std::size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  Cidr cidr;
  if (inet_pton(AF_INET, address.c_str(), cidr.bytes.data()) == 1) {
    cidr.family = IpFamily::kV4;
  } else if (inet_pton(AF_INET6, address.c_str(), cidr.bytes.data()) == 1) {
    cidr.family = IpFamily::kV6;
  } else {
    return bad(kExpected);
  }
  const int max_prefix = MaxPrefix(cidr.family);
  cidr.prefix_length = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    int prefix = -1;
    const bool all_digits =
        !digits.empty() && digits.size() <= 3 &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (all_digits) std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (prefix < 0 || prefix > max_prefix) {
      return bad("the prefix length must be a number from 0 to " + std::to_string(max_prefix));
    }
    cidr.prefix_length = prefix;
  }
  if (!HostBitsClear(cidr)) {
    return bad("it has bits set past its /" + std::to_string(cidr.prefix_length) +
               " prefix (did you mean " + FormatCidr(MaskCidr(cidr)) + "?)");
  }
  return cidr;
}

std::string FormatCidr(const Cidr& cidr) {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(cidr.family == IpFamily::kV4 ? AF_INET : AF_INET6, cidr.bytes.data(), buffer,
            sizeof buffer);
  return std::string(buffer) + "/" + std::to_string(cidr.prefix_length);
}

Cidr MaskCidr(Cidr cidr) { return MaskCidrImpl(cidr); }

bool IsSingleAddress(const Cidr& cidr) { return cidr.prefix_length == MaxPrefix(cidr.family); }

std::optional<Cidr> ParseIpAddress(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  const std::string literal(text);
  Cidr address;
  if (inet_pton(AF_INET, literal.c_str(), address.bytes.data()) == 1) {
    address.family = IpFamily::kV4;
    address.prefix_length = 32;
    return address;
  }
  if (inet_pton(AF_INET6, literal.c_str(), address.bytes.data()) != 1) return std::nullopt;
  address.family = IpFamily::kV6;
  address.prefix_length = 128;
  constexpr std::array<std::uint8_t, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped.begin(), kMapped.end(), address.bytes.begin())) {
    Cidr v4;
    v4.family = IpFamily::kV4;
    v4.prefix_length = 32;
    std::copy_n(address.bytes.begin() + 12, 4, v4.bytes.begin());
    return v4;
  }
  return address;
}

bool CidrContains(const Cidr& network, const Cidr& address) {
  if (network.family != address.family) return false;
  Cidr masked = address;
  masked.prefix_length = network.prefix_length;
  return MaskCidrImpl(masked).bytes == MaskCidrImpl(network).bytes;
}

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

// Address vetting for outbound connections to user-chosen hosts (proxy rules, git URLs): a
// host is resolved once, every address is checked, and the caller connects to the checked one.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::core {

enum class IpFamily { kV4, kV6 };

// An IPv4 or IPv6 network: address bytes in network order (IPv4 uses the first 4) and a prefix
// length (0-32 or 0-128). Bits past the prefix are zero in what ParseCidr returns.
struct Cidr {
  IpFamily family = IpFamily::kV4;
  std::array<std::uint8_t, 16> bytes{};
  int prefix_length = 32;

  bool operator==(const Cidr&) const = default;
};

// "10.0.0.0/8", "192.0.2.7" (= /32), "fc00::/7", "::1" (= /128). kUnprocessable with a message
// naming the text for anything else, including bits set past the prefix ("10.0.0.1/8").
Result<Cidr> ParseCidr(std::string_view text);
// "10.0.0.0/8", "192.0.2.7/32", "fc00::/7": always with the prefix length; ParseCidr reads it.
std::string FormatCidr(const Cidr& cidr);
// The network with the bits past its prefix cleared.
Cidr MaskCidr(Cidr cidr);
// True for a /32 (IPv4) or /128 (IPv6).
bool IsSingleAddress(const Cidr& cidr);
// An IP literal (no brackets, no port) as a single-address Cidr; nullopt for anything else.
// IPv4-mapped IPv6 ("::ffff:192.0.2.7") reads as the IPv4 address.
std::optional<Cidr> ParseIpAddress(std::string_view text);
// True when `address` (a single address) lies in `network`; families must match.
bool CidrContains(const Cidr& network, const Cidr& address);

// True for addresses user-chosen targets may not reach by default: loopback, private (RFC 1918,
// fc00::/7), link-local, CGNAT, unspecified, multicast, and IPv4-mapped forms of these. Also
// true for anything that is not an IP literal.
bool IsNonPublicAddress(const std::string& ip_literal);

// Resolves `host` (a name or an IP literal; IPv6 without brackets) and returns one of its
// addresses as a literal. kUnprocessable when it does not resolve or, unless `allow_private`,
// when any of its addresses is non-public (a name that also resolves privately is refused).
Result<std::string> ResolvePublicAddress(const std::string& host, const std::string& port,
                                         bool allow_private);

}  // namespace replideploy::core

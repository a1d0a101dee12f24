// Address vetting for outbound connections to user-chosen hosts (proxy rules, git URLs): a
// host is resolved once, every address is checked, and the caller connects to the checked one.
#pragma once

#include <string>

#include "core/result.hpp"

namespace replideploy::core {

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

// Which address a request came from when reverse proxies stand in front of the server. Pure
// functions over a Request: no I/O. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/net.hpp"
#include "core/result.hpp"
#include "http/message.hpp"

namespace replideploy::http {

// "10.0.0.0/8, 192.0.2.7, ::1" -> networks; kBadRequest naming the bad entry and `setting`.
Result<std::vector<core::Cidr>> ParseCidrList(std::string_view list, std::string_view setting);

// The client's address. When the socket peer lies in `trusted_proxies`, the forwarding chain is
// read from right to left, skipping addresses of trusted proxies, and the first other address is
// the client's: X-Forwarded-For (every such header, in order), or, when there is none,
// Forwarded's `for=` parameters (RFC 7239). When the hop to the left of the last trusted one is
// not an IP address ("unknown", an obfuscated name, garbage), the last trusted hop is returned:
// nothing a client wrote is ever taken for its address. When the peer is not trusted (or no
// proxy is), the headers are ignored and the peer is returned. Addresses come back in one
// canonical text form ("192.0.2.7", "2001:db8::1"; IPv4-mapped IPv6 as IPv4).
std::string ClientAddress(const Request& request, const std::vector<core::Cidr>& trusted_proxies);

}  // namespace replideploy::http

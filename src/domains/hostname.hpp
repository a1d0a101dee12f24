// Custom domain names: what a user may add, and the apex/www pairing. Pure functions over
// strings; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::domains {

// Lower-cases `name`, drops one trailing dot, and checks it is a host name a site may be
// served at: LDH labels of 1-63 characters (not starting or ending with '-'; punycode "xn--"
// labels as they are), at most 253 characters, at least two labels, not an IP address, and
// neither `base_domain` nor a name under it. kUnprocessable "invalid_domain" otherwise, with a
// message for the client.
Result<std::string> NormalizeDomainName(std::string_view name, std::string_view base_domain);

// True for a registrable-looking apex: exactly two labels ("example.com"). Without the public
// suffix list, "example.co.uk" counts as a subdomain (docs/domains.md says so).
bool IsApexDomain(std::string_view name);

// The other member of an apex/www pair: "www.example.com" for "example.com" and back; nullopt
// for other names.
std::optional<std::string> PairedDomainName(std::string_view name);

}  // namespace replideploy::domains

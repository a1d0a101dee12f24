// What DNS records a custom domain needs, and whether DNS has them (docs/domains.md).
//
// A subdomain needs a CNAME to the site's own host, "<site>.<base-domain>"; an apex (see
// IsApexDomain) needs A records (and AAAA, when the operator serves IPv6) to the edge's
// addresses. The check follows CNAME chains (at most kMaxDnsQueries lookups, loops detected)
// and reports, per record, what it found and what it expected. Thread-safe; blocks on DNS.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "domains/dns_resolver.hpp"

namespace replideploy::domains {

inline constexpr int kMaxDnsQueries = 8;

// Where a domain should point.
struct DnsTarget {
  std::string name;               // the custom domain
  std::string site_host;          // "<site>.<base-domain>"
  std::vector<std::string> ipv4;  // the edge's addresses (--edge-ipv4)
  std::vector<std::string> ipv6;  // (--edge-ipv6), as NormalizeIpAddress writes them
};

// One record to create at the user's DNS provider.
struct DnsInstruction {
  std::string name;
  std::string type;  // "CNAME", "A", "AAAA", "TXT"
  std::string value;
};

// The records `target.name` needs (empty for an apex when no edge address is configured).
std::vector<DnsInstruction> DnsInstructions(const DnsTarget& target);

struct DnsRecordCheck {
  std::string name;
  std::string type;
  std::vector<std::string> expected;
  std::vector<std::string> found;  // CNAME: the chain's names, in order; A/AAAA: addresses
  bool ok = false;
  std::string note;  // why not ok (or how it is ok), for people
};

struct DnsReport {
  bool ok = false;
  std::string reason;  // the first problem, for people ("" when ok)
  std::vector<DnsRecordCheck> records;
};

DnsReport CheckDomainDns(DnsResolver& resolver, const DnsTarget& target);

// {"ok":..,"reason":..,"checked_at":..,"records":[{"name","type","expected","found","ok","note"}]}
std::string DnsReportJson(const DnsReport& report, std::int64_t checked_at_millis);

// "_replideploy-challenge.<name>": where the ownership token goes.
std::string OwnershipRecordName(std::string_view name);
// True when a TXT record at OwnershipRecordName(name) holds `token` exactly. kUnavailable when
// DNS did not answer.
Result<bool> HasOwnershipRecord(DnsResolver& resolver, std::string_view name,
                                std::string_view token);

// An IPv4 or IPv6 address in its canonical text (inet_ntop); kBadRequest otherwise.
Result<std::string> NormalizeIpAddress(std::string_view address);

}  // namespace replideploy::domains

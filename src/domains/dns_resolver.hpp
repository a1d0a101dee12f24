// DNS lookups through a resolver: the system's (resolv.conf) or one given as "IP[:PORT]"
// (--dns-resolver). Built on ldns. Answers are input from the outside world: nothing here
// asserts on them.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace replideploy::domains {

enum class DnsType { kA, kAaaa, kCname, kTxt };
std::string_view DnsTypeName(DnsType type);  // "A", "AAAA", "CNAME", "TXT"

// One record of an answer section. Names are lower-case without the trailing dot; `data` is
// an address for A/AAAA (as inet_ntop writes it), the target name for CNAME, the joined
// character-strings for TXT.
struct DnsRecord {
  std::string owner;
  DnsType type = DnsType::kA;
  std::string data;
};

struct DnsAnswer {
  bool nxdomain = false;  // the name does not exist
  std::vector<DnsRecord> records;
};

// Thread-safe.
class DnsResolver {
 public:
  virtual ~DnsResolver() = default;
  // The answer section for `name` (no trailing dot needed). kUnavailable when no usable answer
  // came (timeout, SERVFAIL, REFUSED, a malformed packet).
  virtual Result<DnsAnswer> Query(std::string_view name, DnsType type) = 0;
};

// `server` "" uses /etc/resolv.conf; otherwise "IPv4[:PORT]" or "[IPv6][:PORT]" (port 53 by
// default). kBadRequest for a malformed server. Each query waits at most `timeout` per try
// (two tries).
Result<std::unique_ptr<DnsResolver>> MakeDnsResolver(const std::string& server,
                                                     std::chrono::milliseconds timeout);

}  // namespace replideploy::domains

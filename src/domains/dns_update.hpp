// DNS-01 by RFC 2136 dynamic updates signed with TSIG (RFC 8945, HMAC-SHA256), over libldns:
// BIND, Knot and PowerDNS accept them. The updater adds and deletes single TXT records at
// `_acme-challenge.<name>` in one configured zone on one server, and asks that server (the
// authoritative one) whether it answers them yet.
//
// Blocking (UDP round trips with a timeout). Thread-safe: every call makes its own resolver.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "domains/acme_challenges.hpp"

namespace replideploy::domains {

struct DnsUpdateOptions {
  std::string server_ip;  // an IPv4 or IPv6 literal
  std::uint16_t port = 53;
  std::string zone;  // "example.com" (no trailing dot needed)
  std::string tsig_name;
  std::string tsig_algorithm = "hmac-sha256";
  std::string tsig_secret_base64;
  int ttl = 60;
  std::chrono::milliseconds timeout{5000};  // per DNS message
  // Present() waits until the server answers the new record, polling this often, this long.
  std::chrono::milliseconds poll_interval{200};
  std::chrono::milliseconds propagation_timeout{60'000};
};

// From the command line: server "127.0.0.1:5353" (or "[::1]:53", or an address alone: port 53),
// zone "example.com", tsig "name:hmac-sha256:base64secret". kBadRequest with the reason.
Result<DnsUpdateOptions> ParseDnsUpdateOptions(std::string_view server, std::string_view zone,
                                               std::string_view tsig);

class DnsUpdater {
 public:
  explicit DnsUpdater(DnsUpdateOptions options) : options_(std::move(options)) {}
  // `fqdn` must be inside the zone (kUnprocessable otherwise). kUnavailable when the server
  // cannot be reached or refuses (its RCODE in the message, e.g. NOTAUTH for a bad key).
  Status AddTxt(const std::string& fqdn, const std::string& value);
  Status RemoveTxt(const std::string& fqdn, const std::string& value);
  // Whether the server answers `value` among the TXT records at `fqdn`.
  Result<bool> ServerHasTxt(const std::string& fqdn, const std::string& value);
  const DnsUpdateOptions& options() const { return options_; }

 private:
  Status Update(const std::string& fqdn, const std::string& value, bool add);
  DnsUpdateOptions options_;
};

// The DNS-01 solver: the TXT record base64url(SHA-256(key authorization)) at
// _acme-challenge.<name>, present once the authoritative server answers it.
class Dns01Solver final : public ChallengeSolver {
 public:
  explicit Dns01Solver(DnsUpdateOptions options) : updater_(std::move(options)) {}
  std::string_view type() const override { return kDns01; }
  Status Present(const std::string& name, const std::string& token,
                 const std::string& key_authorization) override;
  void CleanUp(const std::string& name, const std::string& token,
               const std::string& key_authorization) override;

 private:
  DnsUpdater updater_;
};

}  // namespace replideploy::domains

// On-demand TLS (docs/tls.md, "On-demand certificates"): a handshake whose SNI name no loaded
// certificate covers asks for one, and the certs role issues it when the name is allowed.
//
// Two halves that meet in the database (tls_on_demand, migration 0022), so that an edge
// process and the process running the certs role need not be the same:
// - OnDemandTlsRequests (the HTTPS listener's side): Note() is called from the handshake on
//   an I/O thread; it only queues the name in memory (bounded, each name at most once per
//   cooldown), and a thread of its own writes the queued names to the table.
// - OnDemandTlsIssuer (the certs role's side): takes the waiting names and decides. A name is
//   allowed when it is a custom domain of a site (its DNS is checked now, and the certs role's
//   usual pass issues once the check passes), a `<site>.<base-domain>` host of an existing site
//   (HTTP-01), or when the operator's ask-URL answers 2xx to `?domain=<name>` (HTTP-01).
//   Anything else is refused with a log line. At most `per_hour` certificates are asked of the
//   CA on demand per rolling hour; the certificate service's own back-off after failures holds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "domains/certificate_service.hpp"
#include "roles/services.hpp"

namespace replideploy::roles {

class OnDemandTlsRequests {
 public:
  static constexpr std::size_t kMaxQueued = 256;
  static constexpr std::size_t kMaxRemembered = 4096;
  static constexpr std::size_t kMaxPerMinute = 120;  // names written to the table

  // `cooldown`: how long a noted name is not noted again by this process.
  OnDemandTlsRequests(db::Database& db, const core::Clock& clock,
                      std::chrono::milliseconds cooldown = std::chrono::minutes(10));
  ~OnDemandTlsRequests();  // stops the writer (names still queued are dropped)
  OnDemandTlsRequests(const OnDemandTlsRequests&) = delete;
  OnDemandTlsRequests& operator=(const OnDemandTlsRequests&) = delete;

  // From the handshake: never blocks on I/O. Names that are not DNS names are ignored.
  void Note(std::string_view name);
  // Names written to the table so far (tests wait on it).
  std::size_t WrittenForTest();

 private:
  void Run(const std::stop_token& stop);

  db::Database& db_;
  const core::Clock& clock_;
  const std::chrono::milliseconds cooldown_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::deque<std::string> queue_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> noted_;
  std::size_t written_ = 0;
  std::jthread thread_;
};

struct OnDemandTlsOptions {
  std::string base_domain = "localhost";
  // GET <ask_url>?domain=<name> (or &domain= when it has a query); 2xx allows. "" asks no one.
  std::string ask_url;
  int per_hour = 20;
};

class OnDemandTlsIssuer {
 public:
  enum class Decision { kCustomDomain, kSiteHost, kAsked, kRefused };

  // `service` and `services` must outlive the issuer.
  OnDemandTlsIssuer(Services& services, domains::CertificateService& service,
                    OnDemandTlsOptions options);

  // Takes up to `limit` waiting names and acts on each. Returns how many certificates were
  // issued here (custom domains are issued by the certs role's pass over domains).
  Result<int> RunOnce(int limit = 100);
  // What RunOnce() would decide for `name` now (does not ask the CA; asks the ask-URL).
  Decision Decide(const std::string& name);

 private:
  bool TakeBudget();

  Services& services_;
  domains::CertificateService& service_;
  OnDemandTlsOptions options_;
  std::deque<std::chrono::steady_clock::time_point> attempts_;  // within the last hour
};

}  // namespace replideploy::roles

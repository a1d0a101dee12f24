// The `certs` role of DESIGN.md: issues and renews certificates from an ACME CA in a
// background thread (domains/certificate_service.hpp), answering HTTP-01 through the database
// (every edge process serves /.well-known/acme-challenge/ from acme_challenges).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "domains/acme_challenges.hpp"
#include "domains/certificate_service.hpp"
#include "domains/dns_providers.hpp"
#include "domains/dns_update.hpp"
#include "edge/edge.hpp"
#include "http/tls.hpp"
#include "roles/on_demand_tls.hpp"
#include "roles/options.hpp"
#include "roles/services.hpp"

namespace replideploy::roles {

// The TLS listener's certificates from the database: every active certificate that the certs
// role (of any process) has issued. Thread-safe; Load() blocks on the database.
class DatabaseCertificateSource : public http::CertificateSource {
 public:
  // `key`: the 32 bytes the private keys are encrypted with (CertificateSettings::key).
  DatabaseCertificateSource(db::Database& db, const core::Clock& clock, const std::string& key);
  Result<std::vector<http::CertificateEntry>> Load() override;

 private:
  domains::CertificateService service_;
};

// Several sources as one (files first, then the database). A failing source fails the load,
// so that the certificates served before stay.
class CombinedCertificateSource : public http::CertificateSource {
 public:
  explicit CombinedCertificateSource(std::vector<http::CertificateSource*> sources)
      : sources_(std::move(sources)) {}
  Result<std::vector<http::CertificateEntry>> Load() override;

 private:
  std::vector<http::CertificateSource*> sources_;
};

// What the edge answers at /.well-known/acme-challenge/<token>: the database's challenges.
edge::AcmeChallengeLookup DatabaseChallengeLookup(Services& services);

class CertsRole {
 public:
  // Fails (kBadRequest) on bad DNS update settings. Starts the renewal thread.
  static Result<std::unique_ptr<CertsRole>> Start(Services& services,
                                                  const PlatformOptions& options);
  ~CertsRole();  // stops the thread (an issuance in progress is finished first)
  CertsRole(const CertsRole&) = delete;
  CertsRole& operator=(const CertsRole&) = delete;

  domains::CertificateService& service() { return *service_; }

  // Starts the next pass now rather than after issue_interval (a domain changed state, e.g. its
  // DNS check passed). Thread-safe, never blocks.
  void Wake();

  // One pass over custom domains (the thread does this every issue_interval): each dns_ok
  // domain becomes issuing, gets a certificate by HTTP-01 (with its apex/www pair when that is
  // dns_ok too), then active, or failed with the reason and the next attempt's time; failed
  // domains are tried again once their back-off has come. Returns how many certificates were
  // issued.
  Result<int> IssueForDomains();

 private:
  explicit CertsRole(Services& services) : services_(services) {}
  // Issues for `names`, setting every name's domain state; true when issued.
  bool IssueDomainNames(const std::vector<std::string>& names);
  void Run(const std::stop_token& stop);
  // Waits for issue_interval or a Wake(); false once stopped.
  bool WaitForNextPass(const std::stop_token& stop);

  std::unique_ptr<domains::Http01Responder> http01_;
  std::unique_ptr<domains::ChallengeSolver> dns01_;  // RFC 2136 or a DNS host's API
  std::unique_ptr<domains::CertificateService> service_;
  std::unique_ptr<domains::Renewer> renewer_;
  std::unique_ptr<OnDemandTlsIssuer> on_demand_;  // with CertificateSettings::on_demand
  Services& services_;
  std::chrono::milliseconds interval_{};
  std::chrono::milliseconds issue_interval_{};
  std::function<void()> on_changed_;
  std::mutex wake_mu_;
  std::condition_variable_any wake_cv_;
  bool woken_ = false;
  std::jthread thread_;
};

}  // namespace replideploy::roles

// The `certs` role of DESIGN.md: issues and renews certificates from an ACME CA in a
// background thread (domains/certificate_service.hpp), answering HTTP-01 through the database
// (every edge process serves /.well-known/acme-challenge/ from acme_challenges).
#pragma once

#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "domains/acme_challenges.hpp"
#include "domains/certificate_service.hpp"
#include "domains/dns_update.hpp"
#include "edge/edge.hpp"
#include "roles/options.hpp"
#include "roles/services.hpp"

namespace replideploy::roles {

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

 private:
  CertsRole() = default;
  void Run(const std::stop_token& stop);

  std::unique_ptr<domains::Http01Responder> http01_;
  std::unique_ptr<domains::Dns01Solver> dns01_;
  std::unique_ptr<domains::CertificateService> service_;
  std::unique_ptr<domains::Renewer> renewer_;
  std::chrono::milliseconds interval_{};
  std::jthread thread_;
};

}  // namespace replideploy::roles

#include "roles/certs_role.hpp"

#include <spdlog/spdlog.h>

#include "core/clock.hpp"

namespace replideploy::roles {

edge::AcmeChallengeLookup DatabaseChallengeLookup(Services& services) {
  auto responder = std::make_shared<domains::Http01Responder>(&services.db, services.clock);
  return [responder](std::string_view token) { return responder->Lookup(token); };
}

Result<std::unique_ptr<CertsRole>> CertsRole::Start(Services& services,
                                                    const PlatformOptions& options) {
  const CertificateSettings& s = options.certificates;
  std::unique_ptr<CertsRole> role(new CertsRole());
  role->http01_ = std::make_unique<domains::Http01Responder>(&services.db, services.clock);
  std::map<std::string, domains::ChallengeSolver*> solvers{
      {std::string(domains::kHttp01), role->http01_.get()}};
  if (!s.dns_update_server.empty()) {
    RD_TRY(auto dns, domains::ParseDnsUpdateOptions(s.dns_update_server, s.dns_update_zone,
                                                    s.dns_update_tsig));
    role->dns01_ = std::make_unique<domains::Dns01Solver>(std::move(dns));
    solvers[std::string(domains::kDns01)] = role->dns01_.get();
  }
  domains::CertificateServiceOptions o;
  o.acme.directory_url = s.acme_directory;
  o.acme.ca_bundle = s.acme_ca_bundle;
  o.contact_email = s.acme_email;
  o.key = s.key.empty() ? std::string(32, '\3') : s.key;
  role->service_ = std::make_unique<domains::CertificateService>(services.db, services.clock,
                                                                 std::move(o), solvers);
  std::vector<domains::Renewer::Wanted> wanted;
  if (s.base_domain_wildcard) {
    if (!role->dns01_) {
      return MakeError(ErrorCode::kBadRequest,
                       "--acme-base-wildcard needs --dns-update-server, -zone and -tsig");
    }
    wanted.push_back(domains::BaseDomainWildcard(options.base_domain));
  }
  role->renewer_ = std::make_unique<domains::Renewer>(*role->service_, std::move(wanted));
  role->interval_ = s.renew_interval;
  role->thread_ = std::jthread([r = role.get()](const std::stop_token& stop) { r->Run(stop); });
  return role;
}

CertsRole::~CertsRole() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void CertsRole::Run(const std::stop_token& stop) {
  do {
    auto report = renewer_->RunOnce();
    if (!report.ok()) {
      spdlog::error("certs: {}", report.error().message);
    } else if (report->issued + report->failed > 0) {
      spdlog::info("certs: {} issued, {} failed, {} busy", report->issued, report->failed,
                   report->busy);
    }
  } while (core::SleepUnlessStopped(stop, interval_));
}

}  // namespace replideploy::roles

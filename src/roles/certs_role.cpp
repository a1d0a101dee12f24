#include "roles/certs_role.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <set>

#include "core/clock.hpp"

namespace replideploy::roles {

namespace {

domains::CertificateServiceOptions SourceOptions(const std::string& key) {
  domains::CertificateServiceOptions o;
  o.key = key.empty() ? std::string(32, '\3') : key;
  return o;
}

}  // namespace

DatabaseCertificateSource::DatabaseCertificateSource(db::Database& db, const core::Clock& clock,
                                                     const std::string& key)
    : service_(db, clock, SourceOptions(key), {}) {}

Result<std::vector<http::CertificateEntry>> DatabaseCertificateSource::Load() {
  RD_TRY(auto active, service_.ActiveCertificates());
  std::vector<http::CertificateEntry> out;
  out.reserve(active.size());
  for (auto& c : active) {
    out.push_back({std::move(c.names), std::move(c.chain_pem), std::move(c.key_pem)});
  }
  return out;
}

Result<std::vector<http::CertificateEntry>> CombinedCertificateSource::Load() {
  std::vector<http::CertificateEntry> out;
  for (http::CertificateSource* source : sources_) {
    RD_TRY(auto entries, source->Load());
    for (auto& e : entries) out.push_back(std::move(e));
  }
  return out;
}

edge::AcmeChallengeLookup DatabaseChallengeLookup(Services& services) {
  auto responder = std::make_shared<domains::Http01Responder>(&services.db, services.clock);
  return [responder](std::string_view token) { return responder->Lookup(token); };
}

Result<std::unique_ptr<CertsRole>> CertsRole::Start(Services& services,
                                                    const PlatformOptions& options) {
  const CertificateSettings& s = options.certificates;
  std::unique_ptr<CertsRole> role(new CertsRole(services));
  role->http01_ = std::make_unique<domains::Http01Responder>(&services.db, services.clock);
  std::map<std::string, domains::ChallengeSolver*> solvers{
      {std::string(domains::kHttp01), role->http01_.get()}};
  if (!s.dns_provider.empty() && s.dns_provider != "rfc2136") {
    domains::DnsProviderOptions p;
    p.provider = s.dns_provider;
    p.api_url = s.dns_provider_url;
    p.acme_dns_accounts_file = s.acme_dns_accounts;
    p.cloudflare_api_token = s.cloudflare_api_token;
    p.route53_hosted_zone_id = s.route53_hosted_zone_id;
    domains::DnsProviderOptionsFromEnvironment(p);
    // The services' resolver outlives this role: shared without ownership.
    std::shared_ptr<domains::DnsResolver> resolver(std::shared_ptr<void>(),
                                                   services.dns_resolver.get());
    RD_TRY(role->dns01_, domains::MakeDnsProviderSolver(std::move(p), std::move(resolver)));
    solvers[std::string(domains::kDns01)] = role->dns01_.get();
  } else if (!s.dns_update_server.empty()) {
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
      return MakeError(
          ErrorCode::kBadRequest,
          "--acme-base-wildcard needs DNS-01: --dns-update-server, -zone and -tsig, or "
          "--dns-provider");
    }
    wanted.push_back(domains::BaseDomainWildcard(options.base_domain));
  }
  role->renewer_ = std::make_unique<domains::Renewer>(*role->service_, std::move(wanted));
  if (s.on_demand) {
    role->on_demand_ = std::make_unique<OnDemandTlsIssuer>(
        services, *role->service_,
        OnDemandTlsOptions{options.base_domain, s.on_demand_ask, s.on_demand_per_hour});
  }
  role->interval_ = s.renew_interval;
  role->issue_interval_ = s.issue_interval.count() > 0 ? s.issue_interval : s.renew_interval;
  role->on_changed_ = s.on_changed;
  role->thread_ = std::jthread([r = role.get()](const std::stop_token& stop) { r->Run(stop); });
  return role;
}

CertsRole::~CertsRole() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

bool CertsRole::IssueDomainNames(const std::vector<std::string>& names) {
  auto set_all = [&](domains::DomainState state, const std::string& reason) {
    for (const auto& name : names) {
      const Status set = services_.domains.SetCertificateState(name, state, reason);
      if (!set.ok()) spdlog::warn("certs: domain {}: {}", name, set.error().message);
    }
  };
  auto failed_reason = [&](const std::string& message) {
    std::string reason = message;
    auto record = service_->Find(names);
    if (record.ok() && *record && (*record)->next_attempt_at > 0) {
      reason += "; next attempt at " + core::FormatIso8601((*record)->next_attempt_at);
    }
    return reason;
  };
  set_all(domains::DomainState::kIssuing, "");
  auto outcome = service_->Issue(names, std::string(domains::kHttp01));
  if (!outcome.ok()) {
    spdlog::warn("certs: {}: {}", fmt::join(names, ", "), outcome.error().message);
    set_all(domains::DomainState::kFailed, failed_reason(outcome.error().message));
    return false;
  }
  if (outcome->record.state != "active") {
    set_all(domains::DomainState::kFailed, failed_reason(outcome->record.last_error));
    return false;
  }
  // The listener loads the certificate before the domain says active.
  if (outcome->issued && on_changed_) on_changed_();
  set_all(domains::DomainState::kActive,
          "certificate valid until " + core::FormatIso8601(outcome->record.not_after));
  if (outcome->issued) {
    spdlog::info("certs: issued for {}", fmt::join(names, ", "));
  }
  return true;
}

Result<int> CertsRole::IssueForDomains() {
  RD_TRY(auto ready, services_.domains.DomainsReadyForCertificate());
  std::set<std::string> dns_ok;
  for (const auto& d : ready) dns_ok.insert(d.name);
  std::set<std::string> done;
  int issued = 0;
  for (const auto& d : ready) {
    if (done.contains(d.name)) continue;
    std::vector<std::string> names{d.name};
    // An apex/www pair shares one certificate when both names are ready.
    if (!d.pair_name.empty() && dns_ok.contains(d.pair_name)) names.push_back(d.pair_name);
    done.insert(names.begin(), names.end());
    if (IssueDomainNames(names)) ++issued;
  }
  // Failed domains, again once the certificate's back-off has come (the domains service has no
  // listing by state: read-only here).
  RD_TRY(db::Rows failed,
         services_.db.Exec("SELECT name, pair_name FROM domains WHERE state = 'failed' "
                           "ORDER BY updated_at, name"));
  std::set<std::string> failed_names;
  for (const auto& r : failed.rows) failed_names.insert(r.Text(0));
  for (const auto& r : failed.rows) {
    const std::string name = r.Text(0);
    if (done.contains(name)) continue;
    std::vector<std::string> names{name};
    const std::string pair = r.Text(1);
    if (!pair.empty() && failed_names.contains(pair)) names.push_back(pair);
    done.insert(names.begin(), names.end());
    RD_TRY(auto record, service_->Find(names));
    if (record && record->state == "failed" &&
        record->next_attempt_at > services_.clock.NowMillis()) {
      continue;
    }
    if (IssueDomainNames(names)) ++issued;
  }
  return issued;
}

void CertsRole::Run(const std::stop_token& stop) {
  auto next_renewal = std::chrono::steady_clock::now();
  do {
    bool changed = false;  // issuances for domains have called on_changed_ already
    if (on_demand_) {
      auto issued = on_demand_->RunOnce();
      if (!issued.ok()) spdlog::error("certs: on-demand: {}", issued.error().message);
      changed = issued.ok() && *issued > 0;
    }
    auto issued = IssueForDomains();
    if (!issued.ok()) spdlog::error("certs: domains: {}", issued.error().message);
    if (std::chrono::steady_clock::now() >= next_renewal) {
      next_renewal = std::chrono::steady_clock::now() + interval_;
      auto report = renewer_->RunOnce();
      if (!report.ok()) {
        spdlog::error("certs: {}", report.error().message);
      } else if (report->issued + report->failed > 0) {
        spdlog::info("certs: {} issued, {} failed, {} busy", report->issued, report->failed,
                     report->busy);
        changed = changed || report->issued > 0;
      }
    }
    if (changed && on_changed_) on_changed_();
  } while (WaitForNextPass(stop));
}

void CertsRole::Wake() {
  {
    std::lock_guard lock(wake_mu_);
    woken_ = true;
  }
  wake_cv_.notify_one();
}

bool CertsRole::WaitForNextPass(const std::stop_token& stop) {
  std::unique_lock lock(wake_mu_);
  // A pass changes domains' states itself (issuing, active, failed), which wakes it again: one
  // more pass then finds nothing due and the loop waits for the interval.
  wake_cv_.wait_for(lock, stop, issue_interval_, [this] { return woken_; });
  woken_ = false;
  return !stop.stop_requested();
}

}  // namespace replideploy::roles

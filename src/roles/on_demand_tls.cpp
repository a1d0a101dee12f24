#include "roles/on_demand_tls.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include "domains/domains.hpp"
#include "edge/host_route.hpp"
#include "http/client.hpp"

namespace replideploy::roles {

OnDemandTlsRequests::OnDemandTlsRequests(db::Database& db, const core::Clock& clock,
                                         std::chrono::milliseconds cooldown)
    : db_(db), clock_(clock), cooldown_(cooldown) {
  thread_ = std::jthread([this](const std::stop_token& stop) { Run(stop); });
}

OnDemandTlsRequests::~OnDemandTlsRequests() {
  thread_.request_stop();
  wake_.notify_all();
}

void OnDemandTlsRequests::Note(std::string_view name) {
  // Only names a certificate can hold; an IP address or junk in the SNI is not one.
  if (name.empty() || name.size() > 253 || name.find('.') == std::string_view::npos) return;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    const std::string key(name);
    if (const auto it = noted_.find(key); it != noted_.end() && now - it->second < cooldown_) {
      return;
    }
    if (queue_.size() >= kMaxQueued) return;
    if (noted_.size() >= kMaxRemembered) {
      // Forget the expired ones; if all are recent, forget all (the table dedupes anyway).
      std::erase_if(noted_, [&](const auto& e) { return now - e.second >= cooldown_; });
      if (noted_.size() >= kMaxRemembered) noted_.clear();
    }
    noted_[key] = now;
    queue_.push_back(key);
  }
  wake_.notify_one();
}

std::size_t OnDemandTlsRequests::WrittenForTest() {
  std::lock_guard lock(mu_);
  return written_;
}

void OnDemandTlsRequests::Run(const std::stop_token& stop) {
  std::unique_lock lock(mu_);
  // Names written in the current minute: random SNI names from a scanner must not grow the
  // table faster than the certs role decides (it takes up to 100 a pass).
  auto minute = std::chrono::steady_clock::now();
  std::size_t in_minute = 0;
  while (!stop.stop_requested()) {
    wake_.wait(lock, stop, [&] { return !queue_.empty(); });
    if (stop.stop_requested()) return;
    if (std::chrono::steady_clock::now() - minute >= std::chrono::minutes(1)) {
      minute = std::chrono::steady_clock::now();
      in_minute = 0;
    }
    if (in_minute >= kMaxPerMinute) {
      // Over the rate: wait for the next minute (Note() drops names while the queue is full).
      wake_.wait_until(lock, stop, minute + std::chrono::minutes(1), [] { return false; });
      continue;
    }
    ++in_minute;
    std::string name = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    auto normalized = domains::NormalizeCertificateNames({name});
    if (normalized.ok() && normalized->size() == 1 && !normalized->front().starts_with("*.")) {
      auto inserted = db_.Exec(
          "INSERT INTO tls_on_demand (name, requested_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
          {normalized->front(), clock_.NowMillis()});
      if (!inserted.ok()) {
        spdlog::warn("on-demand TLS: cannot note {}: {}", name, inserted.error().message);
      }
    }
    lock.lock();
    ++written_;
  }
}

OnDemandTlsIssuer::OnDemandTlsIssuer(Services& services, domains::CertificateService& service,
                                     OnDemandTlsOptions options)
    : services_(services), service_(service), options_(std::move(options)) {}

bool OnDemandTlsIssuer::TakeBudget() {
  const auto now = std::chrono::steady_clock::now();
  while (!attempts_.empty() && now - attempts_.front() >= std::chrono::hours(1)) {
    attempts_.pop_front();
  }
  if (static_cast<int>(attempts_.size()) >= options_.per_hour) return false;
  attempts_.push_back(now);
  return true;
}

OnDemandTlsIssuer::Decision OnDemandTlsIssuer::Decide(const std::string& name) {
  if (services_.domains.FindHost(name).ok()) return Decision::kCustomDomain;
  if (auto route = edge::ParseHostRoute(name, options_.base_domain)) {
    if (services_.sites.EdgeSiteByName(route->site_name).ok()) return Decision::kSiteHost;
    return Decision::kRefused;  // under the base domain, a site that does not exist
  }
  if (options_.ask_url.empty()) return Decision::kRefused;
  http::ClientRequest ask;
  ask.url = options_.ask_url +
            (options_.ask_url.find('?') == std::string::npos ? "?domain=" : "&domain=") + name;
  ask.timeout = std::chrono::seconds(5);
  ask.max_response_bytes = 64 * 1024;
  auto answer = http::Fetch(ask);
  if (!answer.ok()) {
    spdlog::warn("on-demand TLS: the ask-URL did not answer for {}: {}", name,
                 answer.error().message);
    return Decision::kRefused;
  }
  return answer->status >= 200 && answer->status < 300 ? Decision::kAsked : Decision::kRefused;
}

Result<int> OnDemandTlsIssuer::RunOnce(int limit) {
  RD_TRY(db::Rows waiting,
         services_.db.Exec("SELECT name FROM tls_on_demand ORDER BY requested_at, name LIMIT ?",
                           {std::int64_t{limit}}));
  int issued = 0;
  for (const auto& row : waiting.rows) {
    const std::string name = row.Text(0);
    // Whoever deletes the row decides (several processes may run the certs role).
    RD_TRY(db::Rows taken, services_.db.Exec("DELETE FROM tls_on_demand WHERE name = ?", {name}));
    if (taken.affected == 0) continue;
    switch (Decide(name)) {
      case Decision::kCustomDomain: {
        // Its DNS is checked now rather than at its back-off; a pass makes it dns_ok, and the
        // certs role's pass over domains issues it (with its apex/www pair).
        auto host = services_.domains.FindHost(name);
        if (!host.ok()) break;
        auto domain = services_.domains.Get(host->site_id, name);
        if (domain.ok() && domain->state == domains::DomainState::kPendingDns) {
          auto checked = services_.domains.Check(host->site_id, name);
          spdlog::info("on-demand TLS: {} is a custom domain; DNS checked: {}", name,
                       checked.ok() ? std::string(domains::DomainStateName(checked->state))
                                    : checked.error().message);
        }
        break;
      }
      case Decision::kSiteHost:
      case Decision::kAsked: {
        auto existing = service_.Find({name});
        if (existing.ok() && existing->has_value() && (*existing)->state == "active") break;
        if (!TakeBudget()) {
          spdlog::warn(
              "on-demand TLS: {} allowed, but {} certificates were asked for in the last "
              "hour (the limit); it is asked again at its next handshake",
              name, options_.per_hour);
          break;
        }
        auto outcome = service_.Issue({name}, "http-01");
        if (!outcome.ok()) {
          spdlog::warn("on-demand TLS: {}: {}", name, outcome.error().message);
        } else if (outcome->issued) {
          spdlog::info("on-demand TLS: issued for {}", name);
          ++issued;
        } else if (outcome->record.state == "failed") {
          // Not asked of the CA: the back-off of an earlier failure has not passed.
          attempts_.pop_back();
        }
        break;
      }
      case Decision::kRefused:
        spdlog::info(
            "on-demand TLS: no certificate for {} (not a domain of a site, and not "
            "allowed by the ask-URL)",
            name);
        break;
    }
  }
  return issued;
}

}  // namespace replideploy::roles

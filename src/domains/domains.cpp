#include "domains/domains.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "db/change_events.hpp"
#include "domains/hostname.hpp"

namespace replideploy::domains {

namespace {

constexpr std::string_view kSelectDomain =
    "SELECT id, site_id, account_id, name, is_primary, pair_name, redirect_to, state, "
    "state_reason, dns_report, check_attempts, next_check_at, verified_at, txt_token, created_at, "
    "updated_at FROM domains ";

// A claim on a due check, so that two processes do not check one domain at once.
constexpr std::int64_t kCheckLeaseMillis = 60'000;

Domain DomainFromRow(const db::Row& r) {
  Domain d;
  d.id = r.Text(0);
  d.site_id = r.Text(1);
  d.account_id = r.Text(2);
  d.name = r.Text(3);
  d.primary = r.Bool(4);
  d.pair_name = r.Text(5);
  d.redirect_to = r.Text(6);
  d.state =
      ParseDomainState(r.Text(7)).ok() ? *ParseDomainState(r.Text(7)) : DomainState::kPendingDns;
  d.state_reason = r.Text(8);
  d.dns_report = r.Text(9);
  d.check_attempts = r.Int(10);
  if (!r.IsNull(11)) d.next_check_at = r.Int(11);
  if (!r.IsNull(12)) d.verified_at = r.Int(12);
  d.txt_token = r.Text(13);
  d.created_at = r.Int(14);
  d.updated_at = r.Int(15);
  return d;
}

Error DomainExists(std::string_view name, bool this_site) {
  return MakeError(ErrorCode::kConflict, "domain_exists",
                   std::string(name) + (this_site ? " is already a domain of this site"
                                                  : " is a domain of another of your sites; "
                                                    "remove it there first"));
}

db::Value ToValue(const std::optional<std::int64_t>& v) {
  if (!v) return nullptr;
  return *v;
}

}  // namespace

std::string_view DomainStateName(DomainState state) {
  switch (state) {
    case DomainState::kPendingDns:
      return "pending_dns";
    case DomainState::kDnsOk:
      return "dns_ok";
    case DomainState::kIssuing:
      return "issuing";
    case DomainState::kActive:
      return "active";
    case DomainState::kFailed:
      return "failed";
  }
  return "pending_dns";
}

Result<DomainState> ParseDomainState(std::string_view name) {
  for (DomainState s : {DomainState::kPendingDns, DomainState::kDnsOk, DomainState::kIssuing,
                        DomainState::kActive, DomainState::kFailed}) {
    if (DomainStateName(s) == name) return s;
  }
  return Unprocessable("invalid_state",
                       "state must be pending_dns, dns_ok, issuing, active or failed");
}

Result<std::vector<std::string>> ParseAddressList(std::string_view list, bool ipv6,
                                                  std::string_view option) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t end = list.find(',', pos);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(pos, end - pos);
    pos = end + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    auto address = NormalizeIpAddress(item);
    const bool is_v6 = address.ok() && address->find(':') != std::string::npos;
    if (!address.ok() || is_v6 != ipv6) {
      return MakeError(ErrorCode::kBadRequest, std::string(option) + ": '" + std::string(item) +
                                                   "' is not an " + (ipv6 ? "IPv6" : "IPv4") +
                                                   " address");
    }
    if (std::find(out.begin(), out.end(), *address) == out.end()) out.push_back(*address);
  }
  return out;
}

DomainService::DomainService(db::Database& db, const core::Clock& clock, DnsResolver& resolver,
                             DomainOptions options)
    : db_(db), clock_(clock), resolver_(resolver), options_(std::move(options)) {}

void DomainService::Changed() {
  // Other processes' edges hear it through the database (PostgreSQL), this one's directly.
  const Status sent = db::NotifyChange(db_, {db::ChangeKind::kDomain, ""});
  if (!sent.ok()) spdlog::warn("domains: change event not sent: {}", sent.error().message);
  if (on_change_) on_change_();
}

std::string DomainService::OwnershipToken(std::string_view account_id, std::string_view name) {
  const std::string digest = core::Sha256("replideploy domain ownership v1\n" +
                                          std::string(account_id) + "\n" + std::string(name));
  return "rd-" + core::HexEncode(digest).substr(0, 40);
}

DnsTarget DomainService::TargetFor(std::string_view name, std::string_view site_name) const {
  return DnsTarget{std::string(name), std::string(site_name) + "." + options_.base_domain,
                   options_.edge_ipv4, options_.edge_ipv6};
}

std::vector<DnsInstruction> DomainService::Instructions(const Domain& domain,
                                                        std::string_view site_name) const {
  return DnsInstructions(TargetFor(domain.name, site_name));
}

std::int64_t DomainService::NextCheckDelay(std::int64_t attempts) const {
  std::int64_t delay = options_.recheck_first.count();
  const std::int64_t cap = options_.recheck_max.count();
  for (std::int64_t i = 1; i < attempts && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

Result<std::optional<Domain>> DomainService::FindByName(std::string_view name) {
  RD_TRY(db::Rows rows,
         db_.Exec(std::string(kSelectDomain) + "WHERE name = ?", {std::string(name)}));
  if (rows.empty()) return std::optional<Domain>();
  return std::optional<Domain>(DomainFromRow(rows.rows.front()));
}

Status DomainService::Insert(db::Session& s, const SiteRef& site, const std::string& name,
                             bool primary, const std::string& pair_name,
                             const std::string& redirect_to) {
  const std::int64_t now = clock_.NowMillis();
  auto inserted = s.Exec(
      "INSERT INTO domains (id, site_id, account_id, name, is_primary, pair_name, redirect_to, "
      "state, next_check_at, txt_token, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending_dns', ?, ?, ?, ?)",
      {core::NewUuid(), site.id, site.account_id, name, std::int64_t{primary}, pair_name,
       redirect_to, now, OwnershipToken(site.account_id, name), now, now});
  if (!inserted.ok()) {
    if (inserted.error().code == ErrorCode::kConflict) return DomainExists(name, false);
    return std::move(inserted).error();
  }
  return {};
}

Result<Domain> DomainService::Add(const SiteRef& site, std::string_view raw_name) {
  RD_TRY(std::string name, NormalizeDomainName(raw_name, options_.base_domain));
  RD_TRY(std::optional<Domain> existing, FindByName(name));
  bool take_over = false;
  if (existing) {
    if (existing->site_id == site.id) return DomainExists(name, true);
    if (existing->account_id == site.account_id) return DomainExists(name, false);
    const std::string token = OwnershipToken(site.account_id, name);
    auto proven = HasOwnershipRecord(resolver_, name, token);
    if (!proven.ok() || !*proven) {
      std::string message =
          name +
          " is used by another account. To prove that you control it, create a TXT "
          "record " +
          OwnershipRecordName(name) + " with the value \"" + token + "\", then add it again.";
      if (!proven.ok()) message += " (DNS could not be asked: " + proven.error().message + ")";
      return MakeError(ErrorCode::kConflict, "domain_taken", std::move(message));
    }
    take_over = true;
  }
  RD_TRY(db::Rows counted, db_.Exec("SELECT COUNT(*) FROM domains WHERE site_id = ?", {site.id}));
  if (counted.rows.front().Int(0) >= options_.max_domains_per_site) {
    return Unprocessable(
        "too_many_domains",
        "a site may have at most " + std::to_string(options_.max_domains_per_site) + " domains");
  }
  const std::optional<std::string> pair = PairedDomainName(name);
  std::optional<Domain> pair_row;
  if (pair) {
    RD_TRY(pair_row, FindByName(*pair));
  }
  Status done = db_.Transaction([&](db::Session& s) -> Status {
    if (take_over) {
      spdlog::info("domains: {} taken over from account {} by account {} (TXT record)", name,
                   existing->account_id, site.account_id);
      RD_TRY_STATUS(s.Exec("DELETE FROM domains WHERE id = ?", {existing->id}));
      RD_TRY_STATUS(s.Exec(
          "UPDATE domains SET pair_name = '', redirect_to = '' WHERE site_id = ? AND pair_name = ?",
          {existing->site_id, name}));
      if (existing->primary) {
        // The old site keeps a primary if it has another name.
        RD_TRY_STATUS(s.Exec(
            "UPDATE domains SET is_primary = 1 WHERE id = (SELECT id FROM domains WHERE site_id "
            "= ? ORDER BY created_at, name LIMIT 1)",
            {existing->site_id}));
      }
    }
    RD_TRY(db::Rows primaries,
           s.Exec("SELECT 1 FROM domains WHERE site_id = ? AND is_primary = 1", {site.id}));
    const bool pair_free = pair && !pair_row;
    const bool pair_here = pair && pair_row && pair_row->site_id == site.id;
    // Next to an existing pair member, the new name redirects to it (what serves stays).
    const std::string redirect = pair_here ? *pair : "";
    RD_TRY_STATUS(
        Insert(s, site, name, primaries.empty(), pair_free || pair_here ? *pair : "", redirect));
    if (pair_free) RD_TRY_STATUS(Insert(s, site, *pair, false, name, name));
    if (pair_here) {
      RD_TRY_STATUS(s.Exec("UPDATE domains SET pair_name = ?, redirect_to = '' WHERE id = ?",
                           {name, pair_row->id}));
    }
    return {};
  });
  RD_TRY_STATUS(done);
  Changed();
  RD_TRY(std::optional<Domain> added, FindByName(name));
  if (!added) return MakeError(ErrorCode::kInternal, "added domain vanished");
  return std::move(*added);
}

Result<std::vector<Domain>> DomainService::List(std::string_view site_id) {
  RD_TRY(db::Rows rows,
         db_.Exec(std::string(kSelectDomain) + "WHERE site_id = ? ORDER BY is_primary DESC, name",
                  {std::string(site_id)}));
  std::vector<Domain> out;
  out.reserve(rows.rows.size());
  for (const auto& r : rows.rows) out.push_back(DomainFromRow(r));
  return out;
}

Result<Domain> DomainService::Get(std::string_view site_id, std::string_view name) {
  // Looked up as given and normalised, so "WWW.Example.com." finds www.example.com.
  auto normalized = NormalizeDomainName(name, "");
  const std::string key = normalized.ok() ? *normalized : std::string(name);
  RD_TRY(db::Rows rows, db_.Exec(std::string(kSelectDomain) + "WHERE site_id = ? AND name = ?",
                                 {std::string(site_id), key}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "domain not found on this site");
  return DomainFromRow(rows.rows.front());
}

Status DomainService::Delete(std::string_view site_id, std::string_view name) {
  return DeleteDomain(site_id, name, /*promote=*/true);
}

Status DomainService::DeleteDomain(std::string_view site_id, std::string_view name, bool promote) {
  RD_TRY(Domain d, Get(site_id, name));
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(s.Exec("DELETE FROM domains WHERE id = ?", {d.id}));
    if (!d.pair_name.empty()) {
      RD_TRY_STATUS(s.Exec(
          "UPDATE domains SET pair_name = '', redirect_to = '' WHERE site_id = ? AND name = ?",
          {d.site_id, d.pair_name}));
    }
    if (d.primary && promote) {
      // The pair first, else the oldest other name.
      RD_TRY(db::Rows next,
             s.Exec("SELECT id FROM domains WHERE site_id = ? ORDER BY CASE WHEN name = ? THEN 0 "
                    "ELSE 1 END, created_at, name LIMIT 1",
                    {d.site_id, d.pair_name}));
      if (!next.empty()) {
        RD_TRY_STATUS(s.Exec("UPDATE domains SET is_primary = 1, redirect_to = '' WHERE id = ?",
                             {next.rows.front().Text(0)}));
      }
    }
    return {};
  }));
  Changed();
  return {};
}

Result<Domain> DomainService::SetPrimary(std::string_view site_id, std::string_view name) {
  RD_TRY(Domain d, Get(site_id, name));
  const std::int64_t now = clock_.NowMillis();
  RD_TRY_STATUS(db_.Transaction([&](db::Session& s) -> Status {
    RD_TRY_STATUS(
        s.Exec("UPDATE domains SET is_primary = 0, updated_at = ? WHERE site_id = ? AND "
               "is_primary = 1",
               {now, d.site_id}));
    RD_TRY_STATUS(
        s.Exec("UPDATE domains SET is_primary = 1, redirect_to = '', updated_at = ? WHERE id = ?",
               {now, d.id}));
    if (!d.pair_name.empty()) {
      RD_TRY_STATUS(s.Exec(
          "UPDATE domains SET redirect_to = ?, updated_at = ? WHERE site_id = ? AND name = ?",
          {d.name, now, d.site_id, d.pair_name}));
    }
    return {};
  }));
  Changed();
  return Get(site_id, d.name);
}

Result<DomainService::SiteDomains> DomainService::ForSite(std::string_view site_id) {
  RD_TRY(std::vector<Domain> all, List(site_id));
  SiteDomains out;
  for (const Domain& d : all) {
    if (d.primary) {
      out.custom_domain = d.name;
    } else if (d.redirect_to.empty()) {
      out.domain_aliases.push_back(d.name);
    }
  }
  return out;
}

Status DomainService::SetNetlifyDomains(const SiteRef& site,
                                        const std::optional<std::string>& custom_domain,
                                        bool custom_domain_given,
                                        const std::optional<std::vector<std::string>>& aliases) {
  // Every name is checked before anything changes.
  std::optional<std::string> primary;
  if (custom_domain_given && custom_domain && !custom_domain->empty()) {
    RD_TRY(primary, NormalizeDomainName(*custom_domain, options_.base_domain));
  }
  std::vector<std::string> wanted;
  if (aliases) {
    for (const auto& a : *aliases) {
      RD_TRY(std::string n, NormalizeDomainName(a, options_.base_domain));
      wanted.push_back(std::move(n));
    }
  }
  auto ensure = [&](const std::string& name) -> Status {
    auto there = Get(site.id, name);
    if (there.ok()) return {};
    if (there.error().code != ErrorCode::kNotFound) return std::move(there).error();
    RD_TRY_STATUS(Add(site, name));
    return {};
  };
  if (custom_domain_given) {
    if (primary) {
      RD_TRY_STATUS(ensure(*primary));
      RD_TRY_STATUS(SetPrimary(site.id, *primary));
    } else {
      RD_TRY(SiteDomains current, ForSite(site.id));
      if (current.custom_domain) {
        RD_TRY(Domain old, Get(site.id, *current.custom_domain));
        // The pair member that only redirected to it goes with it.
        std::optional<std::string> follower;
        if (!old.pair_name.empty()) {
          auto pair = Get(site.id, old.pair_name);
          if (pair.ok() && pair->redirect_to == old.name) follower = pair->name;
        }
        if (follower) RD_TRY_STATUS(DeleteDomain(site.id, *follower, false));
        RD_TRY_STATUS(DeleteDomain(site.id, old.name, false));
      }
    }
  }
  if (aliases) {
    for (const auto& name : wanted) RD_TRY_STATUS(ensure(name));
    RD_TRY(std::vector<Domain> all, List(site.id));
    const std::set<std::string> keep(wanted.begin(), wanted.end());
    for (const Domain& d : all) {
      if (d.primary || !d.redirect_to.empty() || keep.contains(d.name)) continue;
      RD_TRY_STATUS(Delete(site.id, d.name));
    }
  }
  return {};
}

Result<Domain> DomainService::CheckDomain(const Domain& domain, const std::string& site_name) {
  const DnsReport report = CheckDomainDns(resolver_, TargetFor(domain.name, site_name));
  const std::int64_t now = clock_.NowMillis();
  DomainState state = domain.state;
  std::string reason = domain.state_reason;
  std::int64_t attempts = domain.check_attempts;
  std::optional<std::int64_t> next_check;
  std::optional<std::int64_t> verified = domain.verified_at;
  const bool dns_states = state == DomainState::kPendingDns || state == DomainState::kDnsOk;
  if (report.ok) {
    attempts = 0;
    if (!verified) verified = now;
    if (dns_states) {
      state = DomainState::kDnsOk;
      reason.clear();
    }
  } else {
    ++attempts;
    if (dns_states) {
      state = DomainState::kPendingDns;
      reason = report.reason;
      next_check = now + NextCheckDelay(attempts);
    }
  }
  RD_TRY_STATUS(db_.Exec(
      "UPDATE domains SET state = ?, state_reason = ?, dns_report = ?, check_attempts = ?, "
      "next_check_at = ?, verified_at = ?, updated_at = ? WHERE id = ?",
      {std::string(DomainStateName(state)), reason, DnsReportJson(report, now), attempts,
       ToValue(next_check), ToValue(verified), now, domain.id}));
  if (state != domain.state) Changed();
  return Get(domain.site_id, domain.name);
}

Result<Domain> DomainService::Check(std::string_view site_id, std::string_view name) {
  RD_TRY(Domain d, Get(site_id, name));
  RD_TRY(db::Rows site, db_.Exec("SELECT name FROM sites WHERE id = ?", {d.site_id}));
  if (site.empty()) return MakeError(ErrorCode::kNotFound, "site not found");
  return CheckDomain(d, site.rows.front().Text(0));
}

Result<int> DomainService::CheckDue(int limit) {
  const std::int64_t now = clock_.NowMillis();
  RD_TRY(db::Rows due,
         db_.Exec("SELECT id, next_check_at FROM domains WHERE state = 'pending_dns' AND "
                  "next_check_at IS NOT NULL AND next_check_at <= ? ORDER BY next_check_at "
                  "LIMIT ?",
                  {now, std::int64_t{limit}}));
  int checked = 0;
  for (const db::Row& row : due.rows) {
    RD_TRY(db::Rows claimed,
           db_.Exec("UPDATE domains SET next_check_at = ? WHERE id = ? AND next_check_at = ?",
                    {now + kCheckLeaseMillis, row.Text(0), row.Int(1)}));
    if (claimed.affected != 1) continue;  // another process has it
    RD_TRY(db::Rows rows, db_.Exec(std::string(kSelectDomain) + "WHERE id = ?", {row.Text(0)}));
    if (rows.empty()) continue;
    const Domain d = DomainFromRow(rows.rows.front());
    RD_TRY(db::Rows site, db_.Exec("SELECT name FROM sites WHERE id = ?", {d.site_id}));
    if (site.empty()) continue;
    auto result = CheckDomain(d, site.rows.front().Text(0));
    if (!result.ok()) {
      spdlog::warn("domains: check of {} failed: {}", d.name, result.error().message);
      continue;
    }
    ++checked;
  }
  return checked;
}

Result<DomainHost> DomainService::FindHost(std::string_view host) {
  RD_TRY(db::Rows rows, db_.Exec("SELECT d.site_id, s.name, d.redirect_to FROM domains d JOIN "
                                 "sites s ON s.id = d.site_id WHERE d.name = ?",
                                 {std::string(host)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "no site at this host");
  const db::Row& r = rows.rows.front();
  return DomainHost{r.Text(0), r.Text(1), r.Text(2)};
}

Result<std::vector<Domain>> DomainService::DomainsReadyForCertificate() {
  RD_TRY(db::Rows rows,
         db_.Exec(std::string(kSelectDomain) + "WHERE state = 'dns_ok' ORDER BY updated_at, name"));
  std::vector<Domain> out;
  for (const auto& r : rows.rows) out.push_back(DomainFromRow(r));
  return out;
}

Status DomainService::SetCertificateState(std::string_view name, DomainState state,
                                          std::string_view reason) {
  if (state == DomainState::kPendingDns || state == DomainState::kDnsOk) {
    return Unprocessable("invalid_state", "the DNS check sets pending_dns and dns_ok");
  }
  RD_TRY(db::Rows updated,
         db_.Exec("UPDATE domains SET state = ?, state_reason = ?, next_check_at = NULL, "
                  "updated_at = ? WHERE name = ?",
                  {std::string(DomainStateName(state)), std::string(reason), clock_.NowMillis(),
                   std::string(name)}));
  if (updated.affected == 0) return MakeError(ErrorCode::kNotFound, "domain not found");
  Changed();
  return {};
}

}  // namespace replideploy::domains

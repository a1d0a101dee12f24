#include "domains/certificate_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <random>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "core/metrics.hpp"
#include "db/change_events.hpp"
#include "domains/acme_issuance.hpp"

namespace replideploy::domains {
namespace json = boost::json;
namespace {

constexpr const char* kColumns =
    "id, names, challenge, state, not_before, not_after, renew_at, last_error, attempts, "
    "next_attempt_at";

bool IsHostname(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  char prev = '.';
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0);
      if (!ok || ++label > 63) return false;
    }
    prev = c;
  }
  return label > 0 && prev != '-' && name.find('.') != std::string_view::npos;
}

std::string NamesJson(const std::vector<std::string>& names) {
  json::array a;
  for (const auto& n : names) a.emplace_back(n);
  return json::serialize(a);
}

std::vector<std::string> NamesFromJson(const std::string& text) {
  std::vector<std::string> names;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return names;
  for (const auto& n : v.as_array()) {
    if (n.is_string()) names.emplace_back(n.as_string());
  }
  return names;
}

CertificateRecord RecordFrom(const db::Row& r) {
  CertificateRecord c;
  c.id = r.Text(0);
  c.names = NamesFromJson(r.Text(1));
  c.challenge = r.Text(2);
  c.state = r.Text(3);
  c.not_before = r.Int(4);
  c.not_after = r.Int(5);
  c.renew_at = r.Int(6);
  c.last_error = r.Text(7);
  c.attempts = r.Int(8);
  c.next_attempt_at = r.Int(9);
  return c;
}

// Whether an existing row needs no work now.
bool Settled(const CertificateRecord& c, std::int64_t now) {
  if (c.state == "active") return c.renew_at > now || c.next_attempt_at > now;
  if (c.state == "failed") return c.next_attempt_at > now;
  return false;
}

// The edges of every process load their certificates again (db/change_events.hpp).
void NotifyCertificatesChanged(db::Database& db) {
  const Status sent = db::NotifyChange(db, {db::ChangeKind::kCertificate, ""});
  if (!sent.ok()) spdlog::warn("acme: change event not sent: {}", sent.error().message);
}

}  // namespace

Result<std::vector<std::string>> NormalizeCertificateNames(const std::vector<std::string>& names) {
  if (names.empty() || names.size() > 100) {
    return Unprocessable("invalid_name", "a certificate names 1 to 100 DNS names");
  }
  std::vector<std::string> out;
  for (std::string name : names) {
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!name.empty() && name.back() == '.') name.pop_back();
    const std::string_view host =
        name.rfind("*.", 0) == 0 ? std::string_view(name).substr(2) : std::string_view(name);
    if (!IsHostname(host)) {
      return Unprocessable("invalid_name", "not a DNS name: " + name.substr(0, 255));
    }
    out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

CertificateService::CertificateService(db::Database& db, const core::Clock& clock,
                                       CertificateServiceOptions options,
                                       std::map<std::string, ChallengeSolver*> solvers)
    : db_(db), clock_(clock), options_(std::move(options)), solvers_(std::move(solvers)) {
  if (options_.holder.empty()) options_.holder = core::NewHexId();
}

Result<std::unique_ptr<AcmeClient>> CertificateService::OpenAccount() {
  const std::string& dir = options_.acme.directory_url;
  const std::string& contact = options_.contact_email;
  constexpr const char* kSelect =
      "SELECT key_encrypted, account_url FROM acme_accounts WHERE directory_url = ? AND "
      "contact = ?";
  RD_TRY(auto rows, db_.Exec(kSelect, {dir, contact}));
  if (!rows.empty()) {
    RD_TRY(std::string pem, core::Decrypt(options_.key, rows.rows[0].Text(0)));
    RD_TRY(AcmeKey key, AcmeKey::FromPem(pem));
    auto client = std::make_unique<AcmeClient>(options_.acme, std::move(key));
    client->SetAccountUrl(rows.rows[0].Text(1));
    return client;
  }
  RD_TRY(AcmeKey key, AcmeKey::GenerateP256());
  auto client = std::make_unique<AcmeClient>(options_.acme, key);
  std::vector<std::string> emails;
  if (!contact.empty()) emails.push_back(contact);
  RD_TRY(std::string url, client->Register(emails));
  const std::int64_t now = clock_.NowMillis();
  RD_TRY(auto inserted,
         db_.Exec("INSERT INTO acme_accounts (directory_url, contact, key_encrypted, "
                  "account_url, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT (directory_url, contact) DO NOTHING",
                  {dir, contact, core::Encrypt(options_.key, key.ToPem()), url, now, now}));
  if (inserted.affected == 0) return OpenAccount();  // another process registered first
  spdlog::info("acme: registered account {}", url);
  return client;
}

Result<bool> CertificateService::TakeLease(const std::vector<std::string>& names) {
  const std::int64_t now = clock_.NowMillis();
  bool taken = true;
  const Status done = db_.Transaction([&](db::Session& s) -> Status {
    for (const auto& name : names) {
      RD_TRY(auto stale,
             s.Exec("DELETE FROM acme_leases WHERE name = ? AND expires_at < ?", {name, now}));
      (void)stale;
      RD_TRY(auto rows, s.Exec("INSERT INTO acme_leases (name, holder, expires_at) VALUES "
                               "(?, ?, ?) ON CONFLICT (name) DO NOTHING",
                               {name, options_.holder, now + options_.lease_ttl.count()}));
      if (rows.affected == 0) {
        taken = false;
        return MakeError(ErrorCode::kConflict, "lease held");  // rolls back the others
      }
    }
    return {};
  });
  if (!taken) return false;
  if (!done.ok()) return done.error();
  return true;
}

void CertificateService::ReleaseLease(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    auto done =
        db_.Exec("DELETE FROM acme_leases WHERE name = ? AND holder = ?", {name, options_.holder});
    if (!done.ok()) spdlog::warn("acme: releasing lease {}: {}", name, done.error().message);
  }
}

std::int64_t CertificateService::RetryDelay(std::int64_t attempts, int retry_after_seconds) const {
  const int shift = static_cast<int>(std::clamp<std::int64_t>(attempts - 1, 0, 30));
  const std::int64_t d =
      std::min<std::int64_t>(options_.retry_max.count(), options_.retry_base.count() << shift);
  std::mt19937_64 rng(std::random_device{}());
  std::int64_t delay = std::uniform_int_distribution<std::int64_t>(d / 2, d)(rng);
  return std::max<std::int64_t>(delay, std::int64_t{retry_after_seconds} * 1000);
}

Status CertificateService::RecordFailure(const CertificateRecord& before, const Error& error) {
  const std::int64_t now = clock_.NowMillis();
  const std::int64_t attempts = before.attempts + 1;
  const std::int64_t next = now + RetryDelay(attempts, error.retry_after_seconds);
  // A certificate that still serves stays active while its renewal is retried.
  const bool still_valid = before.state == "active" && before.not_after > now;
  const std::string message =
      (error.detail_code.empty() ? "" : error.detail_code + ": ") + error.message;
  spdlog::warn("acme: issuing {} failed (attempt {}): {}", NamesJson(before.names), attempts,
               message);
  RD_TRY(auto rows, db_.Exec("UPDATE certificates SET state = ?, last_error = ?, attempts = ?, "
                             "next_attempt_at = ?, updated_at = ? WHERE id = ?",
                             {std::string(still_valid ? "active" : "failed"),
                              message.substr(0, 2000), attempts, next, now, before.id}));
  (void)rows;
  return {};
}

Result<std::optional<CertificateRecord>> CertificateService::Find(
    const std::vector<std::string>& names) {
  RD_TRY(auto normal, NormalizeCertificateNames(names));
  RD_TRY(auto rows,
         db_.Exec(std::string("SELECT ") + kColumns + " FROM certificates WHERE names = ?",
                  {NamesJson(normal)}));
  if (rows.empty()) return std::optional<CertificateRecord>();
  return std::optional<CertificateRecord>(RecordFrom(rows.rows[0]));
}

namespace {

// replideploy_certificate_issuances_total{challenge, outcome}: ACME orders run to their end.
void CountIssuance(const std::string& challenge, std::string_view outcome) {
  core::metrics::Default()
      .GetCounter("replideploy_certificate_issuances_total",
                  "Certificate issuances and renewals from the ACME CA by challenge and outcome "
                  "(issued, failed).",
                  {{"challenge", challenge}, {"outcome", std::string(outcome)}})
      .Add();
}

}  // namespace

Result<IssueOutcome> CertificateService::Issue(const std::vector<std::string>& names_in,
                                               const std::string& challenge, bool force) {
  RD_TRY(auto names, NormalizeCertificateNames(names_in));
  auto solver = solvers_.find(challenge);
  if (solver == solvers_.end() || solver->second == nullptr) {
    return Unprocessable("invalid_challenge", "no " + challenge + " challenge is configured");
  }
  const bool wildcard = std::any_of(names.begin(), names.end(),
                                    [](const std::string& n) { return n.rfind("*.", 0) == 0; });
  if (wildcard && challenge != kDns01) {
    return Unprocessable("invalid_challenge", "wildcard names need the dns-01 challenge");
  }
  RD_TRY(auto existing, Find(names));
  if (existing && !force && Settled(*existing, clock_.NowMillis())) {
    return IssueOutcome{*existing, false};
  }
  RD_TRY(bool leased, TakeLease(names));
  if (!leased) {
    return MakeError(ErrorCode::kConflict, "issuance_in_progress",
                     "a certificate for these names is being issued");
  }
  struct LeaseGuard {
    CertificateService* self;
    const std::vector<std::string>& names;
    ~LeaseGuard() { self->ReleaseLease(names); }
  } guard{this, names};

  // Under the lease: another process may have finished the same work meanwhile.
  RD_TRY(existing, Find(names));
  const std::int64_t now = clock_.NowMillis();
  if (existing && !force && Settled(*existing, now)) return IssueOutcome{*existing, false};
  if (!existing) {
    RD_TRY(auto inserted,
           db_.Exec("INSERT INTO certificates (id, names, challenge, state, created_at, "
                    "updated_at) VALUES (?, ?, ?, 'issuing', ?, ?) ON CONFLICT (names) DO NOTHING",
                    {core::NewUuid(), NamesJson(names), challenge, now, now}));
    (void)inserted;
  } else {
    RD_TRY(auto updated,
           db_.Exec("UPDATE certificates SET challenge = ?, state = CASE WHEN state = 'active' "
                    "THEN 'active' ELSE 'issuing' END, updated_at = ? WHERE id = ?",
                    {challenge, now, existing->id}));
    (void)updated;
  }
  RD_TRY(existing, Find(names));
  if (!existing) return MakeError(ErrorCode::kInternal, "the certificate row vanished");
  const CertificateRecord before = *existing;

  // With "acme: issued" (acme_issuance.cpp), the span of the CA's work: bench/acme/run.sh.
  spdlog::info("acme: issuing {} by {}", NamesJson(names), challenge);
  auto issued = [&]() -> Result<IssuedCertificate> {
    RD_TRY(auto client, OpenAccount());
    return IssueCertificate(*client, names, *solver->second);
  }();
  if (!issued.ok()) {
    CountIssuance(challenge, "failed");
    RD_TRY_STATUS(RecordFailure(before, issued.error()));
    return std::move(issued).error();
  }
  CountIssuance(challenge, "issued");
  const std::int64_t lifetime = issued->not_after_ms - issued->not_before_ms;
  const std::int64_t renew_at = issued->not_before_ms + lifetime * 2 / 3;
  const std::int64_t done_at = clock_.NowMillis();
  RD_TRY(auto updated,
         db_.Exec("UPDATE certificates SET state = 'active', chain_pem = ?, key_encrypted = ?, "
                  "not_before = ?, not_after = ?, renew_at = ?, last_error = '', attempts = 0, "
                  "next_attempt_at = 0, updated_at = ? WHERE id = ?",
                  {issued->chain_pem, core::Encrypt(options_.key, issued->key_pem),
                   issued->not_before_ms, issued->not_after_ms, renew_at, done_at, before.id}));
  (void)updated;
  NotifyCertificatesChanged(db_);
  RD_TRY(existing, Find(names));
  if (!existing) return MakeError(ErrorCode::kInternal, "the certificate row vanished");
  return IssueOutcome{*existing, true};
}

Result<std::vector<CertificateRecord>> CertificateService::DueForRenewal() {
  const std::int64_t now = clock_.NowMillis();
  RD_TRY(auto rows, db_.Exec(std::string("SELECT ") + kColumns +
                                 " FROM certificates WHERE next_attempt_at <= ? AND "
                                 "((state = 'active' AND renew_at <= ?) OR state = 'failed') "
                                 "ORDER BY renew_at, id",
                             {now, now}));
  std::vector<CertificateRecord> out;
  for (const auto& r : rows.rows) out.push_back(RecordFrom(r));
  return out;
}

Result<std::vector<ActiveCertificate>> CertificateService::ActiveCertificates() {
  RD_TRY(auto rows, db_.Exec("SELECT names, chain_pem, key_encrypted, not_after FROM "
                             "certificates WHERE state = 'active' AND not_after > ? ORDER BY id",
                             {clock_.NowMillis()}));
  std::vector<ActiveCertificate> out;
  for (const auto& r : rows.rows) {
    auto key = core::Decrypt(options_.key, r.Text(2));
    if (!key.ok()) {
      spdlog::error("acme: a certificate key does not decrypt with the server key; skipped");
      continue;
    }
    out.push_back({NamesFromJson(r.Text(0)), r.Text(1), std::move(key).value(), r.Int(3)});
  }
  return out;
}

Result<std::int64_t> CertificateService::ExpireOld() {
  const std::int64_t now = clock_.NowMillis();
  RD_TRY(auto rows, db_.Exec("UPDATE certificates SET state = 'expired', updated_at = ? WHERE "
                             "state = 'active' AND not_after <= ?",
                             {now, now}));
  if (rows.affected > 0) NotifyCertificatesChanged(db_);
  return rows.affected;
}

Status CertificateService::RolloverAccountKey() {
  RD_TRY(auto client, OpenAccount());
  RD_TRY(AcmeKey new_key, AcmeKey::GenerateP256());
  RD_TRY_STATUS(client->RolloverKey(new_key));
  auto stored = db_.Exec(
      "UPDATE acme_accounts SET key_encrypted = ?, updated_at = ? WHERE directory_url = ? AND "
      "contact = ?",
      {core::Encrypt(options_.key, new_key.ToPem()), clock_.NowMillis(),
       options_.acme.directory_url, options_.contact_email});
  if (!stored.ok()) {
    // The CA already knows only the new key: say so loudly, with what is needed to recover.
    spdlog::critical("acme: the CA accepted a new account key but storing it failed: {}",
                     stored.error().message);
    return std::move(stored).error();
  }
  spdlog::info("acme: rolled over the key of account {}", client->account_url());
  return {};
}

Result<Renewer::Report> Renewer::RunOnce() {
  Report report;
  RD_TRY(auto expired, service_.ExpireOld());
  (void)expired;
  auto count = [&](const Result<IssueOutcome>& r) {
    if (r.ok()) {
      report.issued += r->issued ? 1 : 0;
    } else if (r.error().code == ErrorCode::kConflict) {
      ++report.busy;
    } else {
      ++report.failed;
    }
  };
  for (const auto& wanted : ensure_) count(service_.Issue(wanted.names, wanted.challenge));
  RD_TRY(auto due, service_.DueForRenewal());
  for (const auto& c : due) count(service_.Issue(c.names, c.challenge));
  return report;
}

Renewer::Wanted BaseDomainWildcard(const std::string& base_domain) {
  return {{"*." + base_domain, base_domain}, std::string(kDns01)};
}

}  // namespace replideploy::domains

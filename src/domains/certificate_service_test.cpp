// CertificateService and Renewer against the real Pebble and Knot, on SQLite and PostgreSQL.
#include "domains/certificate_service.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>

#include "core/crypto.hpp"
#include "core/metrics.hpp"
#include "db/testing.hpp"
#include "domains/acme_testing.hpp"
#include "domains/dns_update.hpp"

namespace replideploy::domains {
namespace {

using db::testing::TestDatabase;

// Answers HTTP-01 through `inner`, or wrongly while `fail` is set; can hold Present() until
// released, to keep an issuance (and its lease) in progress.
class ControlledSolver final : public ChallengeSolver {
 public:
  explicit ControlledSolver(Http01Responder& inner) : inner_(inner) {}
  std::string_view type() const override { return kHttp01; }
  Status Present(const std::string& name, const std::string& token,
                 const std::string& key_authorization) override {
    {
      std::unique_lock lock(mu_);
      presenting_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !hold_; });
    }
    return inner_.Present(name, token, fail_ ? token + ".wrong" : key_authorization);
  }
  void CleanUp(const std::string& name, const std::string& token,
               const std::string& key_authorization) override {
    inner_.CleanUp(name, token, key_authorization);
  }
  void Hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
    presenting_ = false;
  }
  void WaitUntilPresenting() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return presenting_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }
  std::atomic<bool> fail_{false};

 private:
  Http01Responder& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  bool presenting_ = false;
};

class Certificates : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    RD_SKIP_IF_UNAVAILABLE(tdb_);
    ASSERT_TRUE(knot_.ok()) << knot_.error();
  }
  void StartPebble(testing::PebbleSettings settings = {}) {
    pebble_.emplace(responder_.port(), knot_.port(), settings);
    ASSERT_TRUE(pebble_->ok()) << pebble_->error();
    auto dns = ParseDnsUpdateOptions("127.0.0.1:" + std::to_string(knot_.port()), testing::kZone,
                                     knot_.tsig_spec());
    ASSERT_TRUE(dns.ok());
    dns->poll_interval = std::chrono::milliseconds(20);
    dns01_.emplace(*dns);
  }
  CertificateServiceOptions Options() const {
    CertificateServiceOptions o;
    o.acme.directory_url = pebble_->directory_url();
    o.acme.ca_bundle = pebble_->ca_bundle();
    o.acme.poll_interval = std::chrono::milliseconds(50);
    o.acme.backoff_base = std::chrono::milliseconds(10);
    o.contact_email = "ops@acme.test";
    o.key = std::string(32, 'k');
    return o;
  }
  std::unique_ptr<CertificateService> NewService(db::Database& database) {
    return std::make_unique<CertificateService>(
        database, clock_, Options(),
        std::map<std::string, ChallengeSolver*>{{"http-01", &solver_}, {"dns-01", &*dns01_}});
  }

  TestDatabase tdb_{GetParam()};
  core::ManualClock clock_{core::SystemClock().NowMillis()};
  testing::Knot knot_;
  Http01Responder http01_{tdb_.Available() ? &tdb_.db() : nullptr, clock_};
  ControlledSolver solver_{http01_};
  testing::HttpResponder responder_{
      [this](const std::string& token) { return http01_.Lookup(token); }};
  std::optional<testing::Pebble> pebble_;
  std::optional<Dns01Solver> dns01_;
};

// This process's count of ACME orders run to their end (core/metrics.hpp).
std::uint64_t Issuances(const std::string& outcome) {
  return core::metrics::Default()
      .GetCounter("replideploy_certificate_issuances_total", "",
                  {{"challenge", "http-01"}, {"outcome", outcome}})
      .Value();
}

TEST_P(Certificates, IssuesStoresTheKeyEncryptedAndServesIt) {
  StartPebble();
  auto service = NewService(tdb_.db());
  const std::uint64_t issued_before = Issuances("issued");
  auto outcome = service->Issue({"WWW.acme.test.", "acme.test"}, "http-01");
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_TRUE(outcome->issued);
  EXPECT_EQ(Issuances("issued"), issued_before + 1);
  const auto& c = outcome->record;
  EXPECT_EQ(c.state, "active");
  EXPECT_EQ(c.names, (std::vector<std::string>{"acme.test", "www.acme.test"}));
  EXPECT_EQ(c.renew_at, c.not_before + (c.not_after - c.not_before) * 2 / 3);
  EXPECT_EQ(c.attempts, 0);
  auto stored = tdb_.db().Exec("SELECT key_encrypted, chain_pem FROM certificates");
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->rows.size(), 1u);
  EXPECT_EQ(stored->rows[0].Text(0).find("PRIVATE KEY"), std::string::npos);
  auto active = service->ActiveCertificates();
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_NE((*active)[0].key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(testing::VerifyChain((*active)[0].chain_pem, pebble_->RootPem()), "");
  // The key is the certificate's.
  testing::TempDir dir;
  testing::WriteFile(dir.path() + "/c.pem", (*active)[0].chain_pem);
  testing::WriteFile(dir.path() + "/k.pem", (*active)[0].key_pem);
  EXPECT_EQ(testing::Run({"openssl", "x509", "-in", dir.path() + "/c.pem", "-noout", "-pubkey"}),
            testing::Run({"openssl", "pkey", "-in", dir.path() + "/k.pem", "-pubout"}));
  // Asked again: the same certificate, no new issuance.
  auto again = service->Issue({"acme.test", "www.acme.test"}, "http-01");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->issued);
  EXPECT_EQ(Issuances("issued"), issued_before + 1) << "nothing new was ordered";
  // The challenge tokens are gone from the database.
  auto tokens = tdb_.db().Exec("SELECT COUNT(*) FROM acme_challenges");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(tokens->rows[0].Int(0), 0);
  // An account was stored, its key encrypted.
  auto accounts = tdb_.db().Exec("SELECT key_encrypted FROM acme_accounts");
  ASSERT_TRUE(accounts.ok());
  ASSERT_EQ(accounts->rows.size(), 1u);
  EXPECT_EQ(accounts->rows[0].Text(0).find("PRIVATE"), std::string::npos);
}

TEST_P(Certificates, BadInputIsRefusedBeforeAnyWork) {
  StartPebble();
  auto service = NewService(tdb_.db());
  auto bad = service->Issue({"not a name"}, "http-01");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().detail_code, "invalid_name");
  auto wildcard = service->Issue({"*.acme.test"}, "http-01");
  ASSERT_FALSE(wildcard.ok());
  EXPECT_EQ(wildcard.error().detail_code, "invalid_challenge");
  auto unknown = service->Issue({"x.acme.test"}, "tls-alpn-01");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().detail_code, "invalid_challenge");
  EXPECT_FALSE(service->Issue({}, "http-01").ok());
  auto rows = tdb_.db().Exec("SELECT COUNT(*) FROM certificates");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->rows[0].Int(0), 0);
}

TEST_P(Certificates, AShortLivedCertificateIsRenewedAtTwoThirdsOfItsLife) {
  testing::PebbleSettings settings;
  settings.validity_seconds = 3600;
  StartPebble(settings);
  auto service = NewService(tdb_.db());
  auto first = service->Issue({"renew.acme.test"}, "http-01");
  ASSERT_TRUE(first.ok()) << first.error().message;
  const auto& c = first->record;
  EXPECT_LE(c.not_after - c.not_before, 3600 * 1000 + 1000);  // Pebble took the short validity
  auto first_active = service->ActiveCertificates();
  ASSERT_TRUE(first_active.ok());
  ASSERT_EQ(first_active->size(), 1u);
  auto first_leaf = ReadLeafValidity((*first_active)[0].chain_pem);
  ASSERT_TRUE(first_leaf.ok());
  Renewer renewer(*service);
  auto report = renewer.RunOnce();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->issued, 0);  // not due yet
  clock_.Advance(c.renew_at - clock_.NowMillis() + 1);
  auto due = service->DueForRenewal();
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  report = renewer.RunOnce();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->issued, 1);
  EXPECT_EQ(report->failed, 0);
  auto renewed = service->Find({"renew.acme.test"});
  ASSERT_TRUE(renewed.ok() && renewed->has_value());
  EXPECT_EQ((*renewed)->id, c.id);
  EXPECT_EQ((*renewed)->state, "active");
  EXPECT_GE((*renewed)->not_before, c.not_before);
  auto active = service->ActiveCertificates();
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  // A new certificate: its serial differs from the first.
  auto renewed_leaf = ReadLeafValidity((*active)[0].chain_pem);
  ASSERT_TRUE(renewed_leaf.ok());
  EXPECT_NE(renewed_leaf->serial_hex, first_leaf->serial_hex);
  // Past not_after without renewal, a certificate is expired and no longer served.
  clock_.Advance((*renewed)->not_after - clock_.NowMillis() + (*renewed)->not_after);
  auto expired = service->ExpireOld();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 1);
  active = service->ActiveCertificates();
  ASSERT_TRUE(active.ok());
  EXPECT_TRUE(active->empty());
}

TEST_P(Certificates, AFailedChallengeIsRecordedAndRetriedAfterTheBackOff) {
  StartPebble();
  auto service = NewService(tdb_.db());
  solver_.fail_ = true;
  const std::int64_t before = clock_.NowMillis();
  const std::uint64_t failed_before = Issuances("failed");
  auto failed = service->Issue({"fail.acme.test"}, "http-01");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(Issuances("failed"), failed_before + 1);
  EXPECT_EQ(failed.error().detail_code, "acme_challenge_failed");
  auto row = service->Find({"fail.acme.test"});
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->state, "failed");
  EXPECT_EQ((*row)->attempts, 1);
  EXPECT_NE((*row)->last_error.find("acme_challenge_failed"), std::string::npos);
  // Back-off with jitter: between half and all of the base delay.
  EXPECT_GE((*row)->next_attempt_at, before + 5 * 60 * 1000 / 2);
  EXPECT_LE((*row)->next_attempt_at, before + 5 * 60 * 1000);
  Renewer renewer(*service);
  auto due = service->DueForRenewal();
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(due->empty());  // not before next_attempt_at
  // Asking again before then returns the failed record without trying.
  auto early = service->Issue({"fail.acme.test"}, "http-01");
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(early->issued);
  EXPECT_EQ(Issuances("failed"), failed_before + 1) << "not tried again before the back-off";
  EXPECT_EQ(early->record.state, "failed");
  // A second failure doubles the back-off.
  clock_.Advance((*row)->next_attempt_at - clock_.NowMillis());
  auto report = renewer.RunOnce();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->failed, 1);
  row = service->Find({"fail.acme.test"});
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->attempts, 2);
  EXPECT_GE((*row)->next_attempt_at, clock_.NowMillis() + 5 * 60 * 1000);
  // Fixed, the retry succeeds.
  solver_.fail_ = false;
  clock_.Advance((*row)->next_attempt_at - clock_.NowMillis());
  report = renewer.RunOnce();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->issued, 1);
  row = service->Find({"fail.acme.test"});
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->state, "active");
  EXPECT_EQ((*row)->attempts, 0);
  EXPECT_EQ((*row)->last_error, "");
}

TEST_P(Certificates, TwoServicesOnTwoConnectionsRaceForOneNameAndOneIssues) {
  StartPebble();
  auto second_db = db::Open(tdb_.url());
  ASSERT_TRUE(second_db.ok()) << second_db.error().message;
  auto a = NewService(tdb_.db());
  auto b = NewService(**second_db);
  solver_.Hold();
  auto first =
      std::async(std::launch::async, [&] { return a->Issue({"race.acme.test"}, "http-01"); });
  solver_.WaitUntilPresenting();  // A holds the lease and is mid-issuance
  auto busy = b->Issue({"race.acme.test"}, "http-01");
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, ErrorCode::kConflict);
  EXPECT_EQ(busy.error().detail_code, "issuance_in_progress");
  solver_.Release();
  auto won = first.get();
  ASSERT_TRUE(won.ok()) << won.error().message;
  EXPECT_TRUE(won->issued);
  // Once A is done, B finds A's certificate instead of issuing another.
  auto later = b->Issue({"race.acme.test"}, "http-01");
  ASSERT_TRUE(later.ok()) << later.error().message;
  EXPECT_FALSE(later->issued);
  EXPECT_EQ(later->record.id, won->record.id);
  auto leases = tdb_.db().Exec("SELECT COUNT(*) FROM acme_leases");
  ASSERT_TRUE(leases.ok());
  EXPECT_EQ(leases->rows[0].Int(0), 0);
}

TEST_P(Certificates, ALapsedLeaseOfACrashedHolderDoesNotBlock) {
  StartPebble();
  ASSERT_TRUE(
      tdb_.db()
          .Exec("INSERT INTO acme_leases (name, holder, expires_at) VALUES (?, ?, ?)",
                {std::string("crash.acme.test"), std::string("gone"), clock_.NowMillis() - 1})
          .ok());
  auto service = NewService(tdb_.db());
  auto outcome = service->Issue({"crash.acme.test"}, "http-01");
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_TRUE(outcome->issued);
}

TEST_P(Certificates, TheBaseDomainWildcardIsIssuedByDns01) {
  StartPebble();
  auto service = NewService(tdb_.db());
  Renewer renewer(*service, {BaseDomainWildcard(testing::kZone)});
  auto report = renewer.RunOnce();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->issued, 1);
  EXPECT_EQ(report->failed, 0) << pebble_->log();
  auto row = service->Find({"*.acme.test", "acme.test"});
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->state, "active");
  EXPECT_EQ((*row)->challenge, "dns-01");
  report = renewer.RunOnce();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->issued, 0);  // there already
}

TEST_P(Certificates, AccountKeyRolloverIsStoredAndUsedAfterwards) {
  StartPebble();
  auto service = NewService(tdb_.db());
  ASSERT_TRUE(service->Issue({"one.acme.test"}, "http-01").ok());
  auto before = tdb_.db().Exec("SELECT key_encrypted, account_url FROM acme_accounts");
  ASSERT_TRUE(before.ok());
  auto rolled = service->RolloverAccountKey();
  ASSERT_TRUE(rolled.ok()) << rolled.error().message;
  auto after = tdb_.db().Exec("SELECT key_encrypted, account_url FROM acme_accounts");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->rows.size(), 1u);
  EXPECT_NE(after->rows[0].Text(0), before->rows[0].Text(0));
  EXPECT_EQ(after->rows[0].Text(1), before->rows[0].Text(1));
  // A fresh service (another process) signs with the stored new key for the same account.
  auto other = NewService(tdb_.db());
  auto outcome = other->Issue({"two.acme.test"}, "http-01");
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_TRUE(outcome->issued);
}

TEST(CertificateNames, AreNormalizedAndValidated) {
  auto names = NormalizeCertificateNames({"B.example.com.", "a.example.com", "a.example.com"});
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"a.example.com", "b.example.com"}));
  EXPECT_TRUE(NormalizeCertificateNames({"*.example.com"}).ok());
  EXPECT_FALSE(NormalizeCertificateNames({"*.*.example.com"}).ok());
  EXPECT_FALSE(NormalizeCertificateNames({"-a.example.com"}).ok());
  EXPECT_FALSE(NormalizeCertificateNames({"localhost"}).ok());
  EXPECT_FALSE(NormalizeCertificateNames({"a..example.com"}).ok());
  EXPECT_FALSE(NormalizeCertificateNames({std::string(300, 'a') + ".com"}).ok());
  EXPECT_FALSE(NormalizeCertificateNames(std::vector<std::string>(101, "a.example.com")).ok());
}

INSTANTIATE_TEST_SUITE_P(Engines, Certificates, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::domains

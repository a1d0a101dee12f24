// The certificate store and its issuer (the `certs` role of DESIGN.md; docs/certificates.md).
//
// Certificates live in the database (certificates, migration 0014) with their private keys
// encrypted at rest with the server key (core::Encrypt), so that every edge process serves
// them. One row per set of names. Issue() takes a lease per name (acme_leases) so that one
// issuance per name runs at a time across processes; a second caller gets kConflict
// ("issuance_in_progress") at once. A certificate is due for renewal at two thirds of its
// lifetime; a failed attempt records last_error and next_attempt_at (exponential back-off with
// jitter, or the CA's Retry-After when it is rate limiting). The ACME account (ECDSA P-256, key
// encrypted) is made on first use and kept in acme_accounts.
//
// Blocking (database, HTTP, DNS): call from a worker thread. Thread-safe: each call opens its
// own ACME client from the stored account.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "domains/acme_challenges.hpp"
#include "domains/acme_client.hpp"

namespace replideploy::domains {

struct CertificateServiceOptions {
  AcmeClientOptions acme;     // directory_url, ca_bundle, retries, polling
  std::string contact_email;  // the account's contact; "" registers without one
  std::string key;            // 32 bytes: encrypts private keys at rest
  std::string holder;         // this process in acme_leases; "" = a random id
  std::chrono::milliseconds lease_ttl{15 * 60 * 1000};
  // Back-off after failures: attempt n waits uniformly in [d/2, d], d = min(max, base * 2^(n-1)).
  std::chrono::milliseconds retry_base{5 * 60 * 1000};
  std::chrono::milliseconds retry_max{24 * 60 * 60 * 1000};
};

struct CertificateRecord {
  std::string id;
  std::vector<std::string> names;  // sorted
  std::string challenge;           // "http-01" or "dns-01"
  std::string state;               // issuing | active | failed | expired
  std::int64_t not_before = 0;     // Unix ms
  std::int64_t not_after = 0;
  std::int64_t renew_at = 0;
  std::string last_error;
  std::int64_t attempts = 0;
  std::int64_t next_attempt_at = 0;
};

struct ActiveCertificate {
  std::vector<std::string> names;
  std::string chain_pem;
  std::string key_pem;
  std::int64_t not_after = 0;
};

struct IssueOutcome {
  CertificateRecord record;
  bool issued = false;  // false: an active, not yet due certificate was already there
};

// Lowercases, drops a trailing dot, sorts and de-duplicates. kUnprocessable ("invalid_name")
// for anything that is not a DNS name or a "*." wildcard of one, or for 0 or > 100 names.
Result<std::vector<std::string>> NormalizeCertificateNames(const std::vector<std::string>& names);

class CertificateService {
 public:
  // `solvers`: by challenge type ("http-01", "dns-01"); not owned, must outlive the service.
  CertificateService(db::Database& db, const core::Clock& clock, CertificateServiceOptions options,
                     std::map<std::string, ChallengeSolver*> solvers);

  // Issues (or renews) the certificate for `names` by `challenge`. Returns the existing one
  // (issued = false) when it is active and not due, or failed and not yet to be retried, unless
  // `force`. kConflict ("issuance_in_progress") while another issuance holds a lease on one of
  // the names. An ACME failure is recorded on the row (state failed, or still active while the
  // old certificate is valid) and returned.
  Result<IssueOutcome> Issue(const std::vector<std::string>& names, const std::string& challenge,
                             bool force = false);
  Result<std::optional<CertificateRecord>> Find(const std::vector<std::string>& names);
  // Active past renew_at, or failed, whose next_attempt_at has come.
  Result<std::vector<CertificateRecord>> DueForRenewal();
  // Every active, unexpired certificate with its key decrypted, for the TLS listener.
  Result<std::vector<ActiveCertificate>> ActiveCertificates();
  // Active certificates past not_after become expired. Returns how many.
  Result<std::int64_t> ExpireOld();
  // A new account key (RFC 8555 7.3.5), stored encrypted once the CA has accepted it.
  Status RolloverAccountKey();

 private:
  Result<std::unique_ptr<AcmeClient>> OpenAccount();
  Result<bool> TakeLease(const std::vector<std::string>& names);
  void ReleaseLease(const std::vector<std::string>& names);
  Status RecordFailure(const CertificateRecord& before, const Error& error);
  std::int64_t RetryDelay(std::int64_t attempts, int retry_after_seconds) const;

  db::Database& db_;
  const core::Clock& clock_;
  CertificateServiceOptions options_;
  std::map<std::string, ChallengeSolver*> solvers_;
};

// Renews what is due; the roles call RunOnce() periodically. `ensure` names certificates that
// must exist (the base domain's wildcard, by dns-01): they are issued when missing.
class Renewer {
 public:
  struct Wanted {
    std::vector<std::string> names;
    std::string challenge;
  };
  struct Report {
    int issued = 0;
    int failed = 0;
    int busy = 0;
  };
  explicit Renewer(CertificateService& service, std::vector<Wanted> ensure = {})
      : service_(service), ensure_(std::move(ensure)) {}
  // Errors only when the database fails; ACME failures are counted (and on their rows).
  Result<Report> RunOnce();

 private:
  CertificateService& service_;
  std::vector<Wanted> ensure_;
};

// "*.<base-domain>" and "<base-domain>" by dns-01: the base domain's wildcard certificate.
Renewer::Wanted BaseDomainWildcard(const std::string& base_domain);

}  // namespace replideploy::domains

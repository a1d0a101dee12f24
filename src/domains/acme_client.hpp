// An ACME client (RFC 8555) over libcurl, no ACME library: the directory, nonces (HEAD
// newNonce, then each response's Replay-Nonce), ES256 JWS with the account's JWK (newAccount,
// key change) or its kid (everything else), POST-as-GET, accounts, orders, authorizations,
// challenges, finalization and the certificate chain, and account key rollover (7.3.5).
//
// Failures are values. A problem document (RFC 7807) becomes an Error whose detail_code is
// "acme_<type>" (the part after urn:ietf:params:acme:error:) and whose message carries the
// CA's detail. `badNonce` is retried at once with the nonce that came with it; 5xx answers and
// network errors are retried with exponential back-off and full jitter; `rateLimited` (and a
// 429) is returned as kRateLimited with retry_after_seconds from Retry-After, for the caller to
// schedule its next attempt.
//
// Blocking: every call does HTTP. One AcmeClient is used by one thread at a time (it holds the
// nonce and the account); make one per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "domains/acme_crypto.hpp"

namespace replideploy::domains {

struct AcmeClientOptions {
  std::string directory_url;  // "https://acme-v02.api.letsencrypt.org/directory"
  std::string ca_bundle;      // PEM file trusted for the CA's own TLS; "" = the system's
  // Attempts per request on 5xx / network errors; the wait before attempt n (n >= 2) is
  // uniformly random in [0, min(backoff_max, backoff_base * 2^(n-2))].
  int max_attempts = 5;
  // badNonce answers retried per request (each with the nonce that came with the rejection).
  int max_bad_nonce_retries = 10;
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{30'000};
  // Polling of authorizations and orders: Retry-After when the CA sends it, else poll_first,
  // doubling per poll up to poll_interval (a CA that validates at once is seen at once; a slow
  // one is asked once a second).
  std::chrono::milliseconds poll_first{200};
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds poll_timeout{180'000};
  std::chrono::seconds request_timeout{30};
  // The waits between attempts and polls (a seam for tests).
  std::function<void(std::chrono::milliseconds)> sleep;
};

// The wait before the next poll of an authorization or order after `polls` earlier ones: the
// CA's Retry-After (seconds, at most poll_timeout) when it sent one, else poll_first doubled per
// poll, at most poll_interval.
std::chrono::milliseconds AcmePollDelay(const AcmeClientOptions& options,
                                        std::optional<int> retry_after_seconds, int polls);

struct AcmeChallenge {
  std::string type;  // "http-01", "dns-01", ...
  std::string url;
  std::string token;
  std::string status;
};

struct AcmeAuthorization {
  std::string url;
  std::string identifier;  // the DNS name, without "*."
  bool wildcard = false;
  std::string status;  // pending, valid, invalid, ...
  std::vector<AcmeChallenge> challenges;
  std::string error;  // the failed challenge's problem, when invalid
};

struct AcmeOrder {
  std::string url;
  std::string status;  // pending, ready, processing, valid, invalid
  std::vector<std::string> authorizations;
  std::string finalize;
  std::string certificate;
  std::string error;
};

class AcmeClient {
 public:
  AcmeClient(AcmeClientOptions options, AcmeKey account_key);
  ~AcmeClient();
  AcmeClient(const AcmeClient&) = delete;
  AcmeClient& operator=(const AcmeClient&) = delete;

  // Fetches the directory (once; later calls return at once).
  Status LoadDirectory();
  // newAccount with termsOfServiceAgreed; an account that exists for this key is found again.
  // Sets and returns the account URL (the kid).
  Result<std::string> Register(const std::vector<std::string>& contact_emails);
  // An account registered earlier (skips Register).
  void SetAccountUrl(std::string url) { account_url_ = std::move(url); }
  const std::string& account_url() const { return account_url_; }
  const AcmeKey& account_key() const { return key_; }

  Result<AcmeOrder> NewOrder(const std::vector<std::string>& names);
  Result<AcmeOrder> GetOrder(const std::string& url);
  Result<AcmeAuthorization> GetAuthorization(const std::string& url);
  // Tells the CA the challenge is ready to be validated.
  Status RespondToChallenge(const std::string& url);
  // Polls until the authorization is no longer pending; kUnprocessable ("acme_challenge_failed")
  // when it ends invalid.
  Result<AcmeAuthorization> WaitForAuthorization(const std::string& url);
  // Sends the CSR (DER) and polls until the order is valid.
  Result<AcmeOrder> Finalize(const AcmeOrder& order, const std::string& csr_der);
  // The PEM chain (leaf first).
  Result<std::string> DownloadCertificate(const std::string& url);
  // Replaces the account key (RFC 8555 7.3.5); on success the client signs with `new_key`.
  Status RolloverKey(AcmeKey new_key);

  // Requests sent (all attempts), and badNonce rejections seen, for tests and metrics.
  int requests_sent() const { return requests_sent_; }
  int bad_nonces_seen() const { return bad_nonces_; }

  struct Reply {
    long status = 0;
    std::map<std::string, std::string> headers;  // names lowercased
    std::string body;
  };

 private:
  Result<Reply> Post(const std::string& url, const std::string& payload, bool with_jwk);
  Result<Reply> PostAsGet(const std::string& url) { return Post(url, "", false); }
  Result<Reply> Transfer(const std::string& method, const std::string& url,
                         const std::string& body);
  Result<Reply> TransferWithRetries(const std::string& method, const std::string& url,
                                    const std::string& body);
  Result<std::string> TakeNonce();
  void Sleep(std::chrono::milliseconds d) const;
  std::chrono::milliseconds Backoff(int attempt);
  std::chrono::milliseconds PollDelay(const Reply& reply, int polls) const;

  AcmeClientOptions options_;
  AcmeKey key_;
  std::string account_url_;
  std::map<std::string, std::string> directory_;
  std::string nonce_;
  int requests_sent_ = 0;
  int bad_nonces_ = 0;
  std::uint64_t rng_state_;
  void* curl_ = nullptr;
};

// Parses Retry-After (seconds, or an HTTP date relative to now); 0 when absent or unreadable.
int ParseRetryAfterSeconds(const std::string& value, std::int64_t now_unix_seconds);

}  // namespace replideploy::domains

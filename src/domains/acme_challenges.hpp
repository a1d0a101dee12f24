// ACME challenge responders. A ChallengeSolver makes one challenge answerable (Present) and
// takes it away again (CleanUp); the issuance flow (acme_issuance.hpp) calls them.
//
// HTTP-01: Http01Responder keeps token -> key authorization in memory and in the database
// (acme_challenges), so that every edge process answers
// /.well-known/acme-challenge/<token>, whichever process runs the issuance. The edge gets a
// lookup callback from roles/ (the edge never sees db/).
// DNS-01: dns_update.hpp (RFC 2136 with TSIG).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::domains {

inline constexpr std::string_view kHttp01 = "http-01";
inline constexpr std::string_view kDns01 = "dns-01";

class ChallengeSolver {
 public:
  virtual ~ChallengeSolver() = default;
  virtual std::string_view type() const = 0;
  // `name` is the identifier without "*."; `key_authorization` is token.thumbprint. Returns when
  // the CA can validate (for DNS-01: once the authoritative server answers the record).
  virtual Status Present(const std::string& name, const std::string& token,
                         const std::string& key_authorization) = 0;
  // Best effort; failures are logged.
  virtual void CleanUp(const std::string& name, const std::string& token,
                       const std::string& key_authorization) = 0;
};

// Thread-safe.
class Http01Responder final : public ChallengeSolver {
 public:
  // `db` may be null (memory only: one process). Tokens expire after `ttl`.
  Http01Responder(db::Database* db, const core::Clock& clock, std::int64_t ttl_millis = 3'600'000);

  std::string_view type() const override { return kHttp01; }
  Status Present(const std::string& name, const std::string& token,
                 const std::string& key_authorization) override;
  void CleanUp(const std::string& name, const std::string& token,
               const std::string& key_authorization) override;

  // The key authorization to answer for `token`: this process's first, then the database's
  // (unexpired). nullopt for an unknown token or one that is not base64url.
  std::optional<std::string> Lookup(std::string_view token);

 private:
  db::Database* db_;
  const core::Clock& clock_;
  std::int64_t ttl_millis_;
  std::mutex mu_;
  std::map<std::string, std::string, std::less<>> tokens_;
};

// True when `token` is a plausible ACME token (base64url, 1..128 characters).
bool IsAcmeToken(std::string_view token);

}  // namespace replideploy::domains

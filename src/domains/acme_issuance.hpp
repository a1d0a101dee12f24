// One certificate from an ACME CA: new order, every authorization through a ChallengeSolver,
// a new ECDSA P-256 certificate key, finalization with a CSR naming every name, the chain.
// Blocking (HTTP, DNS); the client and the solver are used from the calling thread only.
#pragma once

#include <string>
#include <vector>

#include "core/result.hpp"
#include "domains/acme_challenges.hpp"
#include "domains/acme_client.hpp"

namespace replideploy::domains {

struct IssuedCertificate {
  std::string chain_pem;  // leaf first
  std::string key_pem;    // PKCS#8
  std::int64_t not_before_ms = 0;
  std::int64_t not_after_ms = 0;
  std::string serial_hex;
};

// `names` are DNS names ("*.example.com" for a wildcard; that needs a dns-01 solver). Challenges
// presented are cleaned up whatever the outcome. Errors are the client's (acme_* detail codes)
// or the solver's.
Result<IssuedCertificate> IssueCertificate(AcmeClient& client,
                                           const std::vector<std::string>& names,
                                           ChallengeSolver& solver);

}  // namespace replideploy::domains

#include "domains/acme_issuance.hpp"

#include <spdlog/spdlog.h>

namespace replideploy::domains {
namespace {

Status Authorize(AcmeClient& client, const std::string& url, ChallengeSolver& solver) {
  RD_TRY(AcmeAuthorization authz, client.GetAuthorization(url));
  if (authz.status == "valid") return {};
  if (authz.status != "pending") {
    return MakeError(ErrorCode::kUnprocessable, "acme_challenge_failed",
                     "the ACME authorization of " + authz.identifier + " is " + authz.status);
  }
  const AcmeChallenge* challenge = nullptr;
  for (const auto& c : authz.challenges) {
    if (c.type == solver.type()) challenge = &c;
  }
  if (challenge == nullptr) {
    return MakeError(
        ErrorCode::kUnprocessable, "acme_no_challenge",
        "the CA offers no " + std::string(solver.type()) + " challenge for " + authz.identifier);
  }
  const std::string key_authorization = KeyAuthorization(challenge->token, client.account_key());
  Status presented = solver.Present(authz.identifier, challenge->token, key_authorization);
  Status result = presented;
  if (presented.ok()) {
    result = client.RespondToChallenge(challenge->url);
    if (result.ok()) {
      auto done = client.WaitForAuthorization(url);
      if (!done.ok()) result = std::move(done).error();
    }
  }
  solver.CleanUp(authz.identifier, challenge->token, key_authorization);
  return result;
}

}  // namespace

Result<IssuedCertificate> IssueCertificate(AcmeClient& client,
                                           const std::vector<std::string>& names,
                                           ChallengeSolver& solver) {
  RD_TRY(AcmeOrder order, client.NewOrder(names));
  for (const auto& url : order.authorizations) RD_TRY_STATUS(Authorize(client, url, solver));
  RD_TRY(AcmeKey cert_key, AcmeKey::GenerateP256());
  RD_TRY(std::string csr, MakeCsrDer(cert_key, names));
  RD_TRY(AcmeOrder done, client.Finalize(order, csr));
  if (done.certificate.empty()) {
    return MakeError(ErrorCode::kUnavailable, "the valid ACME order names no certificate");
  }
  RD_TRY(std::string chain, client.DownloadCertificate(done.certificate));
  RD_TRY(CertificateValidity validity, ReadLeafValidity(chain));
  spdlog::info("acme: issued {} names, serial {}", names.size(), validity.serial_hex);
  return IssuedCertificate{std::move(chain), cert_key.ToPem(), validity.not_before_ms,
                           validity.not_after_ms, validity.serial_hex};
}

}  // namespace replideploy::domains

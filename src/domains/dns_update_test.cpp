// RFC 2136 + TSIG against a real Knot.
#include "domains/dns_update.hpp"

#include <gtest/gtest.h>

#include "domains/acme_testing.hpp"

namespace replideploy::domains {
namespace {

TEST(DnsUpdateOptions, ParsesTheCommandLineForms) {
  auto o = ParseDnsUpdateOptions("127.0.0.1:5353", "Example.COM.",
                                 "acme-key:hmac-sha256:" + std::string(24, 'A'));
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->server_ip, "127.0.0.1");
  EXPECT_EQ(o->port, 5353);
  EXPECT_EQ(o->zone, "example.com");
  EXPECT_EQ(o->tsig_name, "acme-key");
  auto v6 = ParseDnsUpdateOptions("[::1]:53", "z", "k:hmac-sha256:" + std::string(24, 'A'));
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(v6->server_ip, "::1");
  auto bare = ParseDnsUpdateOptions("10.0.0.1", "z", "k:hmac-sha256:" + std::string(24, 'A'));
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->port, 53);
  const std::string good_tsig = "k:hmac-sha256:" + std::string(24, 'A');
  EXPECT_FALSE(ParseDnsUpdateOptions("dns.example:53", "z", good_tsig).ok());
  EXPECT_FALSE(ParseDnsUpdateOptions("127.0.0.1:99999", "z", good_tsig).ok());
  EXPECT_FALSE(ParseDnsUpdateOptions("127.0.0.1:53", "bad zone", good_tsig).ok());
  EXPECT_FALSE(
      ParseDnsUpdateOptions("127.0.0.1:53", "z", "k:hmac-md5:AAAAAAAAAAAAAAAAAAAAAAAA").ok());
  EXPECT_FALSE(ParseDnsUpdateOptions("127.0.0.1:53", "z", "k:hmac-sha256:short").ok());
  EXPECT_FALSE(ParseDnsUpdateOptions("127.0.0.1:53", "z", "nocolons").ok());
}

class DnsUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(knot_.ok()) << knot_.error(); }
  DnsUpdateOptions Options(const std::string& tsig) const {
    auto o =
        ParseDnsUpdateOptions("127.0.0.1:" + std::to_string(knot_.port()), testing::kZone, tsig);
    EXPECT_TRUE(o.ok()) << o.error().message;
    return *o;
  }
  testing::Knot knot_;
};

TEST_F(DnsUpdateTest, AddsAndRemovesATxtRecordSignedWithTsig) {
  DnsUpdater updater(Options(knot_.tsig_spec()));
  const std::string name = "_acme-challenge.www.acme.test";
  auto added = updater.AddTxt(name, "value-one");
  ASSERT_TRUE(added.ok()) << added.error().message;
  added = updater.AddTxt(name, "value-two");
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_NE(knot_.Txt(name).find("value-one"), std::string::npos);
  auto has = updater.ServerHasTxt(name, "value-two");
  ASSERT_TRUE(has.ok());
  EXPECT_TRUE(*has);
  auto removed = updater.RemoveTxt(name, "value-one");
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(knot_.Txt(name).find("value-one"), std::string::npos);
  EXPECT_NE(knot_.Txt(name).find("value-two"), std::string::npos);
  has = updater.ServerHasTxt(name, "value-one");
  ASSERT_TRUE(has.ok());
  EXPECT_FALSE(*has);
}

TEST_F(DnsUpdateTest, AWrongKeyIsRefusedAndChangesNothing) {
  const std::string wrong =
      std::string(testing::kTsigName) + ":hmac-sha256:" + core::Base64Encode(core::RandomBytes(32));
  DnsUpdater updater(Options(wrong));
  auto added = updater.AddTxt("_acme-challenge.x.acme.test", "forged");
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().code, ErrorCode::kUnavailable) << added.error().message;
  EXPECT_EQ(knot_.Txt("_acme-challenge.x.acme.test").find("forged"), std::string::npos);
}

TEST_F(DnsUpdateTest, NamesOutsideTheZoneAreRefusedBeforeSending) {
  DnsUpdater updater(Options(knot_.tsig_spec()));
  auto added = updater.AddTxt("_acme-challenge.example.org", "v");
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().detail_code, "dns_outside_zone");
  EXPECT_FALSE(updater.AddTxt("_acme-challenge.notacme.test", "v").ok());
  EXPECT_FALSE(updater.AddTxt("_acme-challenge.x.acme.test", "bad\" value").ok());
}

}  // namespace
}  // namespace replideploy::domains

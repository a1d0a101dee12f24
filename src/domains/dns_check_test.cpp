// The DNS check against a real authoritative server (Knot) on loopback.
#include "domains/dns_check.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "domains/knot_testing.hpp"

namespace replideploy::domains {
namespace {

using testing::KnotServer;

// The zones every test here reads. The platform's base domain is rd.test; the site is my-site.
std::map<std::string, std::string> Zones() {
  return {
      {"example.com",
       "www IN CNAME my-site.rd.test.\n"
       "shop IN CNAME other.example.net.\n"
       "chain IN CNAME hop1.example.net.\n"
       "loop1 IN CNAME loop2\n"
       "loop2 IN CNAME loop1\n"
       "flat IN A 203.0.113.10\n"
       "wronga IN A 198.51.100.7\n"
       "_replideploy-challenge.taken IN TXT \"rd-right\"\n"
       "_replideploy-challenge.split IN TXT \"rd-\" \"right\"\n"},
      {"example.net",
       "hop1 IN CNAME hop2\n"
       "hop2 IN CNAME my-site.rd.test.\n"},
      {"good-apex.test", "@ IN A 203.0.113.10\n@ IN AAAA 2001:db8::10\n"},
      {"wrong-apex.test", "@ IN A 198.51.100.7\n"},
      {"stray-v6.test", "@ IN A 203.0.113.10\n@ IN AAAA 2001:db8::99\n"},
      {"cname-apex.test", "www IN CNAME @\n"},
  };
}

class DnsCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    RD_KNOT_OR_SKIP(knot_, Zones());
    resolver_ = MakeDnsResolver(knot_->address(), std::chrono::milliseconds(1000)).value();
  }
  DnsReport Check(const std::string& name, std::vector<std::string> ipv4 = {"203.0.113.10"},
                  std::vector<std::string> ipv6 = {"2001:db8::10"}) {
    return CheckDomainDns(*resolver_, DnsTarget{name, "my-site.rd.test", ipv4, ipv6});
  }

  std::unique_ptr<KnotServer> knot_;
  std::unique_ptr<DnsResolver> resolver_;
};

TEST_F(DnsCheck, ResolverAnswersWithRecords) {
  auto a = resolver_->Query("www.example.com", DnsType::kA);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_FALSE(a->records.empty());
  EXPECT_EQ(a->records.front().type, DnsType::kCname);
  EXPECT_EQ(a->records.front().data, "my-site.rd.test");
  auto missing = resolver_->Query("nothere.example.com", DnsType::kA);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->nxdomain);
}

TEST_F(DnsCheck, CnameToTheSiteIsRight) {
  DnsReport r = Check("www.example.com");
  EXPECT_TRUE(r.ok) << r.reason;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].type, "CNAME");
  EXPECT_EQ(r.records[0].found, std::vector<std::string>{"my-site.rd.test"});
  EXPECT_EQ(r.records[0].expected, std::vector<std::string>{"my-site.rd.test"});
}

TEST_F(DnsCheck, CnameElsewhereSaysWhatItFound) {
  DnsReport r = Check("shop.example.com");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "shop.example.com has CNAME other.example.net, expected my-site.rd.test");
  EXPECT_EQ(r.records[0].found, std::vector<std::string>{"other.example.net"});
}

TEST_F(DnsCheck, CnameChainAcrossZonesIsFollowed) {
  DnsReport r = Check("chain.example.com");
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.records[0].found,
            (std::vector<std::string>{"hop1.example.net", "hop2.example.net", "my-site.rd.test"}));
  EXPECT_NE(r.records[0].note.find("chain"), std::string::npos);
}

TEST_F(DnsCheck, CnameLoopIsReportedNotFollowedForever) {
  DnsReport r = Check("loop1.example.com");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("CNAME loop"), std::string::npos) << r.reason;
}

TEST_F(DnsCheck, NxdomainSaysTheNameDoesNotExist) {
  DnsReport r = Check("nothere.example.com");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("NXDOMAIN"), std::string::npos) << r.reason;
}

TEST_F(DnsCheck, SubdomainWithAddressesAtTheEdgeIsAFlattenedCname) {
  EXPECT_TRUE(Check("flat.example.com").ok);
  DnsReport wrong = Check("wronga.example.com");
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.reason,
            "wronga.example.com has A 198.51.100.7, expected a CNAME to my-site.rd.test");
}

TEST_F(DnsCheck, ApexNeedsTheEdgeAddresses) {
  DnsReport good = Check("good-apex.test");
  EXPECT_TRUE(good.ok) << good.reason;
  ASSERT_EQ(good.records.size(), 2u);
  EXPECT_EQ(good.records[0].type, "A");
  EXPECT_EQ(good.records[1].type, "AAAA");

  DnsReport wrong = Check("wrong-apex.test");
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.reason, "wrong-apex.test has A 198.51.100.7, expected A 203.0.113.10");
  EXPECT_TRUE(wrong.records[1].ok);  // no AAAA at all is fine beside right A records

  DnsReport stray = Check("stray-v6.test");
  EXPECT_FALSE(stray.ok);
  EXPECT_EQ(stray.reason, "stray-v6.test has AAAA 2001:db8::99, expected AAAA 2001:db8::10");

  DnsReport no_v6 = Check("good-apex.test", {"203.0.113.10"}, {});
  EXPECT_FALSE(no_v6.ok);
  EXPECT_NE(no_v6.reason.find("serves no IPv6"), std::string::npos) << no_v6.reason;

  DnsReport unconfigured = Check("good-apex.test", {}, {});
  EXPECT_FALSE(unconfigured.ok);
  EXPECT_NE(unconfigured.reason.find("--edge-ipv4"), std::string::npos);
}

TEST_F(DnsCheck, ApexMissingRecords) {
  DnsReport r = Check("cname-apex.test");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "cname-apex.test has no A record, expected A 203.0.113.10");
}

TEST_F(DnsCheck, OwnershipTxtRecord) {
  EXPECT_TRUE(*HasOwnershipRecord(*resolver_, "taken.example.com", "rd-right"));
  EXPECT_TRUE(*HasOwnershipRecord(*resolver_, "split.example.com", "rd-right"));
  EXPECT_FALSE(*HasOwnershipRecord(*resolver_, "taken.example.com", "rd-wrong"));
  EXPECT_FALSE(*HasOwnershipRecord(*resolver_, "www.example.com", "rd-right"));
}

TEST_F(DnsCheck, UnansweredLookupsAreErrorsNotCrashes) {
  // Knot refuses names outside its zones.
  DnsReport r = Check("www.elsewhere.org");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("DNS lookup of www.elsewhere.org failed"), std::string::npos) << r.reason;
  EXPECT_FALSE(HasOwnershipRecord(*resolver_, "elsewhere.org", "x").ok());
}

TEST(DnsReportJson, CarriesEveryRecord) {
  DnsReport r;
  r.reason = "why";
  r.records.push_back({"www.example.com", "CNAME", {"a.rd.test"}, {"b"}, false, "note"});
  auto v = boost::json::parse(DnsReportJson(r, 42));
  EXPECT_EQ(v.at("ok").as_bool(), false);
  EXPECT_EQ(v.at("checked_at").as_int64(), 42);
  EXPECT_EQ(v.at("records").at(0).at("found").at(0).as_string(), "b");
}

TEST(DnsInstructions, CnameForSubdomainsAddressesForApexes) {
  auto sub = DnsInstructions({"www.example.com", "my-site.rd.test", {"203.0.113.10"}, {}});
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].type, "CNAME");
  EXPECT_EQ(sub[0].value, "my-site.rd.test");
  auto apex =
      DnsInstructions({"example.com", "my-site.rd.test", {"203.0.113.10"}, {"2001:db8::10"}});
  ASSERT_EQ(apex.size(), 2u);
  EXPECT_EQ(apex[0].type, "A");
  EXPECT_EQ(apex[1].type, "AAAA");
}

TEST(DnsResolverConfig, ParsesServers) {
  EXPECT_TRUE(MakeDnsResolver("127.0.0.1:5353", std::chrono::seconds(1)).ok());
  EXPECT_TRUE(MakeDnsResolver("127.0.0.1", std::chrono::seconds(1)).ok());
  EXPECT_TRUE(MakeDnsResolver("[::1]:5353", std::chrono::seconds(1)).ok());
  EXPECT_TRUE(MakeDnsResolver("::1", std::chrono::seconds(1)).ok());
  EXPECT_TRUE(MakeDnsResolver("", std::chrono::seconds(1)).ok());
  for (const char* bad : {"localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:99999", "[::1",
                          "[::1]x", "1.2.3:53"}) {
    EXPECT_FALSE(MakeDnsResolver(bad, std::chrono::seconds(1)).ok()) << bad;
  }
}

}  // namespace
}  // namespace replideploy::domains

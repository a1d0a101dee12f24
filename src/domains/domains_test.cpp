// DomainService's rules on SQLite and PostgreSQL, with DNS answered by a real Knot on loopback.
#include "domains/domains.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "auth/users.hpp"
#include "db/testing.hpp"
#include "deploys/sites.hpp"
#include "domains/knot_testing.hpp"

namespace replideploy::domains {
namespace {

using db::testing::TestDatabase;

class Domains : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    users_ = std::make_unique<auth::UserService>(
        tdb_->db(), clock_,
        auth::UserServiceOptions{std::string(32, 'k'), 3600, core::PasswordCost::Minimum()});
    sites_ = std::make_unique<deploys::SiteService>(tdb_->db(), clock_);
    alice_ = users_->Register("alice@example.com", "password123").value();
    bob_ = users_->Register("bob@example.com", "password123").value();
    blog_ = SiteOf(alice_, "blog");
    shop_ = SiteOf(alice_, "shop");
    bobs_ = SiteOf(bob_, "bobs");
    // Bob proves control of taken.example.com; nobody of pending.example.com.
    const std::string zone =
        "www IN CNAME blog.rd.test.\n"
        "shop IN CNAME elsewhere.example.net.\n"
        "_replideploy-challenge.taken IN TXT \"" +
        DomainService::OwnershipToken(bob_.account_id, "taken.example.com") + "\"\n";
    RD_KNOT_OR_SKIP(knot_, (std::map<std::string, std::string>{
                               {"example.com", zone}, {"apex.test", "@ IN A 203.0.113.10\n"}}));
    resolver_ = MakeDnsResolver(knot_->address(), std::chrono::milliseconds(1000)).value();
    DomainOptions options;
    options.base_domain = "rd.test";
    options.edge_ipv4 = {"203.0.113.10"};
    options.max_domains_per_site = 6;
    domains_ = std::make_unique<DomainService>(tdb_->db(), clock_, *resolver_, options);
    domains_->SetChangeListener([this] { ++changes_; });
  }
  SiteRef SiteOf(const auth::User& u, const std::string& name) {
    auto site = sites_->Create(u.id, u.account_id, name, {}).value();
    return SiteRef{site.id, site.account_id, site.name};
  }
  Domain Must(const Result<Domain>& d) {
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    return d.ok() ? *d : Domain{};
  }

  core::ManualClock clock_{1'800'000'000'000};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<auth::UserService> users_;
  std::unique_ptr<deploys::SiteService> sites_;
  std::unique_ptr<testing::KnotServer> knot_;
  std::unique_ptr<DnsResolver> resolver_;
  std::unique_ptr<DomainService> domains_;
  auth::User alice_, bob_;
  SiteRef blog_, shop_, bobs_;
  int changes_ = 0;
};

TEST_P(Domains, AddValidatesAndNormalises) {
  Domain d = Must(domains_->Add(blog_, "Blog.Example.COM."));
  EXPECT_EQ(d.name, "blog.example.com");
  EXPECT_EQ(d.state, DomainState::kPendingDns);
  EXPECT_TRUE(d.primary);  // the site's first domain
  EXPECT_TRUE(d.pair_name.empty());
  EXPECT_EQ(d.txt_token, DomainService::OwnershipToken(alice_.account_id, "blog.example.com"));
  EXPECT_GT(changes_, 0);
  for (const char* bad : {"", "localhost", "1.2.3.4", "x.rd.test", "a..b", "-x.example.com"}) {
    auto r = domains_->Add(blog_, bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().detail_code, "invalid_domain") << bad;
  }
  EXPECT_EQ(domains_->List(blog_.id)->size(), 1u);
}

TEST_P(Domains, OneSitePerNameWithinAnAccount) {
  Must(domains_->Add(blog_, "blog.example.com"));
  auto again = domains_->Add(blog_, "BLOG.example.com");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(again.error().detail_code, "domain_exists");
  auto other_site = domains_->Add(shop_, "blog.example.com");
  ASSERT_FALSE(other_site.ok());
  EXPECT_EQ(other_site.error().detail_code, "domain_exists");
}

TEST_P(Domains, AnotherAccountsNameNeedsTheTxtRecord) {
  // Alice holds both; Bob has the TXT record for taken.example.com only.
  Must(domains_->Add(blog_, "pending.example.com"));
  Must(domains_->Add(blog_, "taken.example.com"));
  auto refused = domains_->Add(bobs_, "pending.example.com");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_EQ(refused.error().detail_code, "domain_taken");
  const std::string token = DomainService::OwnershipToken(bob_.account_id, "pending.example.com");
  EXPECT_NE(refused.error().message.find("_replideploy-challenge.pending.example.com"),
            std::string::npos);
  EXPECT_NE(refused.error().message.find(token), std::string::npos);
  EXPECT_TRUE(domains_->Get(blog_.id, "pending.example.com").ok());  // nothing changed

  Domain taken = Must(domains_->Add(bobs_, "taken.example.com"));
  EXPECT_EQ(taken.site_id, bobs_.id);
  EXPECT_EQ(domains_->Get(blog_.id, "taken.example.com").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(domains_->FindHost("taken.example.com")->site_name, "bobs");
  // Alice's site kept a primary.
  EXPECT_EQ(domains_->ForSite(blog_.id)->custom_domain, "pending.example.com");
}

TEST_P(Domains, VerifiedNameOfAnotherAccountToo) {
  Must(domains_->Add(blog_, "www.example.com"));
  Domain checked = Must(domains_->Check(blog_.id, "www.example.com"));
  ASSERT_EQ(checked.state, DomainState::kDnsOk) << checked.state_reason;
  auto refused = domains_->Add(bobs_, "www.example.com");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().detail_code, "domain_taken");
}

TEST_P(Domains, ApexAndWwwArePaired) {
  Domain apex = Must(domains_->Add(blog_, "apex.test"));
  EXPECT_TRUE(apex.primary);
  EXPECT_EQ(apex.pair_name, "www.apex.test");
  Domain www = Must(domains_->Get(blog_.id, "www.apex.test"));
  EXPECT_FALSE(www.primary);
  EXPECT_EQ(www.redirect_to, "apex.test");
  EXPECT_EQ(domains_->FindHost("www.apex.test")->redirect_to, "apex.test");
  EXPECT_EQ(domains_->FindHost("apex.test")->redirect_to, "");
  auto site = domains_->ForSite(blog_.id).value();
  EXPECT_EQ(site.custom_domain, "apex.test");
  EXPECT_TRUE(site.domain_aliases.empty());

  // The user picks www: the apex now redirects to it.
  Domain primary = Must(domains_->SetPrimary(blog_.id, "WWW.apex.test"));
  EXPECT_TRUE(primary.primary);
  EXPECT_EQ(primary.redirect_to, "");
  EXPECT_EQ(domains_->Get(blog_.id, "apex.test")->redirect_to, "www.apex.test");
  EXPECT_FALSE(domains_->Get(blog_.id, "apex.test")->primary);
  EXPECT_EQ(domains_->ForSite(blog_.id)->custom_domain, "www.apex.test");
}

TEST_P(Domains, PairIsNotTakenFromSomeoneElse) {
  Must(domains_->Add(bobs_, "www.pair.test"));  // and pair.test with it
  ASSERT_TRUE(domains_->Delete(bobs_.id, "pair.test").ok());
  Domain apex = Must(domains_->Add(blog_, "pair.test"));
  EXPECT_TRUE(apex.pair_name.empty());
  EXPECT_EQ(domains_->FindHost("www.pair.test")->site_id, bobs_.id);
}

TEST_P(Domains, AddingTheOtherHalfLaterLinksThePair) {
  Must(domains_->Add(blog_, "blog.example.com"));  // primary
  Domain apex = Must(domains_->Add(blog_, "later.test"));
  Domain www = Must(domains_->Get(blog_.id, "www.later.test"));
  EXPECT_EQ(www.redirect_to, "later.test");
  ASSERT_TRUE(domains_->Delete(blog_.id, "www.later.test").ok());
  EXPECT_TRUE(domains_->Get(blog_.id, "later.test")->pair_name.empty());
  Must(domains_->Add(blog_, "www.later.test"));
  EXPECT_EQ(domains_->Get(blog_.id, "www.later.test")->redirect_to, "later.test");
  EXPECT_EQ(domains_->Get(blog_.id, "later.test")->pair_name, "www.later.test");
  EXPECT_EQ(domains_->Get(blog_.id, "later.test")->redirect_to, "");
  auto site = domains_->ForSite(blog_.id).value();
  EXPECT_EQ(site.custom_domain, "blog.example.com");
  EXPECT_EQ(site.domain_aliases, std::vector<std::string>{"later.test"});
  EXPECT_FALSE(apex.primary);
}

TEST_P(Domains, DeletePassesThePrimaryOn) {
  Must(domains_->Add(blog_, "apex.test"));
  Must(domains_->Add(blog_, "blog.example.com"));
  ASSERT_TRUE(domains_->Delete(blog_.id, "apex.test").ok());
  Domain www = Must(domains_->Get(blog_.id, "www.apex.test"));
  EXPECT_TRUE(www.primary);
  EXPECT_EQ(www.redirect_to, "");
  EXPECT_TRUE(www.pair_name.empty());
  EXPECT_EQ(domains_->FindHost("apex.test").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(domains_->Delete(blog_.id, "apex.test").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(domains_->Delete(shop_.id, "www.apex.test").error().code, ErrorCode::kNotFound);
}

TEST_P(Domains, TooManyDomains) {
  for (int i = 0; i < 6; ++i) Must(domains_->Add(blog_, "d" + std::to_string(i) + ".example.org"));
  auto r = domains_->Add(blog_, "d9.example.org");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().detail_code, "too_many_domains");
}

TEST_P(Domains, CheckMovesPendingToDnsOkOrBacksOff) {
  Must(domains_->Add(blog_, "www.example.com"));
  Must(domains_->Add(blog_, "shop.example.com"));
  Domain ok = Must(domains_->Check(blog_.id, "www.example.com"));
  EXPECT_EQ(ok.state, DomainState::kDnsOk);
  EXPECT_EQ(ok.verified_at, clock_.NowMillis());
  EXPECT_FALSE(ok.next_check_at.has_value());
  auto report = boost::json::parse(ok.dns_report);
  EXPECT_TRUE(report.at("ok").as_bool());

  Domain bad = Must(domains_->Check(blog_.id, "shop.example.com"));
  EXPECT_EQ(bad.state, DomainState::kPendingDns);
  EXPECT_EQ(bad.state_reason,
            "shop.example.com has CNAME elsewhere.example.net, expected blog.rd.test");
  EXPECT_EQ(bad.check_attempts, 1);
  EXPECT_EQ(bad.next_check_at, clock_.NowMillis() + 30'000);
  bad = Must(domains_->Check(blog_.id, "shop.example.com"));
  EXPECT_EQ(bad.check_attempts, 2);
  EXPECT_EQ(bad.next_check_at, clock_.NowMillis() + 60'000);

  auto ready = domains_->DomainsReadyForCertificate().value();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].name, "www.example.com");
}

TEST_P(Domains, BackgroundChecksRunWhenDue) {
  Must(domains_->Add(blog_, "shop.example.com"));  // due at once
  EXPECT_EQ(*domains_->CheckDue(10), 1);
  EXPECT_EQ(*domains_->CheckDue(10), 0);  // backed off
  clock_.Advance(29'999);
  EXPECT_EQ(*domains_->CheckDue(10), 0);
  clock_.Advance(1);
  EXPECT_EQ(*domains_->CheckDue(10), 1);
  EXPECT_EQ(domains_->Get(blog_.id, "shop.example.com")->check_attempts, 2);
}

TEST_P(Domains, CertificateStates) {
  Must(domains_->Add(blog_, "www.example.com"));
  Must(domains_->Check(blog_.id, "www.example.com"));
  ASSERT_TRUE(domains_->SetCertificateState("www.example.com", DomainState::kIssuing, "").ok());
  EXPECT_TRUE(domains_->DomainsReadyForCertificate()->empty());
  ASSERT_TRUE(
      domains_->SetCertificateState("www.example.com", DomainState::kFailed, "CA said no").ok());
  Domain d = Must(domains_->Get(blog_.id, "www.example.com"));
  EXPECT_EQ(d.state, DomainState::kFailed);
  EXPECT_EQ(d.state_reason, "CA said no");
  // A DNS check does not undo the certificate work's state.
  EXPECT_EQ(Must(domains_->Check(blog_.id, "www.example.com")).state, DomainState::kFailed);
  EXPECT_EQ(domains_->SetCertificateState("www.example.com", DomainState::kDnsOk, "").error().code,
            ErrorCode::kUnprocessable);
  EXPECT_EQ(
      domains_->SetCertificateState("nope.example.com", DomainState::kActive, "").error().code,
      ErrorCode::kNotFound);
}

TEST_P(Domains, NetlifyFields) {
  ASSERT_TRUE(domains_
                  ->SetNetlifyDomains(blog_, std::string("apex.test"), true,
                                      std::vector<std::string>{"blog.example.com"})
                  .ok());
  auto site = domains_->ForSite(blog_.id).value();
  EXPECT_EQ(site.custom_domain, "apex.test");
  EXPECT_EQ(site.domain_aliases, std::vector<std::string>{"blog.example.com"});
  EXPECT_EQ(domains_->FindHost("www.apex.test")->redirect_to, "apex.test");
  // A bad alias changes nothing.
  EXPECT_FALSE(domains_
                   ->SetNetlifyDomains(blog_, std::nullopt, false,
                                       std::vector<std::string>{"ok.example.org", "bad..name"})
                   .ok());
  EXPECT_FALSE(domains_->Get(blog_.id, "ok.example.org").ok());
  ASSERT_TRUE(
      domains_->SetNetlifyDomains(blog_, std::nullopt, true, std::vector<std::string>{}).ok());
  site = domains_->ForSite(blog_.id).value();
  EXPECT_FALSE(site.custom_domain.has_value());
  EXPECT_TRUE(site.domain_aliases.empty());
  EXPECT_TRUE(domains_->List(blog_.id)->empty());
}

TEST_P(Domains, InstructionsAndAddressLists) {
  Domain sub = Must(domains_->Add(blog_, "blog.example.com"));
  auto i = domains_->Instructions(sub, "blog");
  ASSERT_EQ(i.size(), 1u);
  EXPECT_EQ(i[0].value, "blog.rd.test");
  auto v4 = ParseAddressList(" 203.0.113.1,203.0.113.2 ,", false, "edge-ipv4");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->size(), 2u);
  EXPECT_EQ(*ParseAddressList("2001:DB8:0::1", true, "edge-ipv6"),
            std::vector<std::string>{"2001:db8::1"});
  EXPECT_FALSE(ParseAddressList("2001:db8::1", false, "edge-ipv4").ok());
  EXPECT_FALSE(ParseAddressList("example.com", false, "edge-ipv4").ok());
}

INSTANTIATE_TEST_SUITE_P(Engines, Domains, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::domains

// DNS-01 through the acme-dns, Cloudflare and Route 53 APIs: full issuances by the real Pebble,
// which resolves through a real Knot. The APIs are fakes (tests/dns-providers/fake.js: the
// real services are not reachable from here) that speak their wire formats, check the token or
// the SigV4 signature, and apply what they accept to Knot by RFC 2136.
#include "domains/dns_providers.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/clock.hpp"
#include "domains/acme_client.hpp"
#include "domains/acme_crypto.hpp"
#include "domains/acme_issuance.hpp"
#include "domains/acme_testing.hpp"

namespace replideploy::domains {
namespace {

using testing::Knot;
using testing::Pebble;

constexpr const char* kCloudflareToken = "cf-token-for-tests";
constexpr const char* kCloudflareZone = "023e105f4ecef8ad9ca31a8372d0c353";
constexpr const char* kAwsKey = "AKIDEXAMPLE";
constexpr const char* kAwsSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

class DnsProvidersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    knot_.emplace();
    ASSERT_TRUE(knot_->ok()) << knot_->error();
    pebble_.emplace(responder_.port(), knot_->port());
    ASSERT_TRUE(pebble_->ok()) << pebble_->error();
    const std::string d = dir_.path();
    // The acme-dns account's name lives under auth.acme.test; dele.acme.test delegates to it.
    testing::WriteFile(d + "/fake.json", R"({
      "knot": {"port": )" + std::to_string(knot_->port()) +
                                             R"(, "zone": "acme.test", "tsig": ")" +
                                             knot_->tsig_spec() + R"("},
      "acmeDns": {"domain": "auth.acme.test",
                  "accounts": {"user-1": {"password": "pass-1", "subdomain": "d420c923"}}},
      "cloudflare": {"token": ")" + std::string(kCloudflareToken) +
                                             R"(", "zones": {"acme.test": ")" + kCloudflareZone +
                                             R"("}},
      "route53": {"secrets": {")" + std::string(kAwsKey) +
                                             R"(": ")" + kAwsSecret + R"("},
                  "zones": {"acme.test": "Z0ACMETEST", "other.test": "Z0OTHER"},
                  "insyncAfterReads": 2}
    })");
    fake_.emplace(
        std::vector<std::string>{"node", REPLIDEPLOY_SOURCE_DIR "/tests/dns-providers/fake.js",
                                 d + "/fake.json", d + "/port.json"},
        std::vector<std::string>{}, d + "/fake.log");
    ASSERT_TRUE(core::testing::WaitUntil([&] { return std::filesystem::exists(d + "/port.json"); }))
        << testing::ReadFile(d + "/fake.log");
    const std::string port = testing::ReadFile(d + "/port.json");
    fake_url_ =
        "http://127.0.0.1:" + port.substr(port.find(':') + 1, port.find('}') - port.find(':') - 1);
    auto resolver = MakeDnsResolver("127.0.0.1:" + std::to_string(knot_->port()),
                                    std::chrono::milliseconds(2000));
    ASSERT_TRUE(resolver.ok()) << resolver.error().message;
    resolver_ = std::move(resolver).value();
  }

  DnsProviderOptions Options(const std::string& provider) const {
    DnsProviderOptions o;
    o.provider = provider;
    o.poll_interval = std::chrono::milliseconds(20);
    o.propagation_timeout = std::chrono::milliseconds(20'000);
    if (provider == "acme-dns") {
      o.api_url = fake_url_;
      o.acme_dns_accounts_file = dir_.path() + "/accounts.json";
      testing::WriteFile(o.acme_dns_accounts_file, R"({"dele.acme.test": {
        "username": "user-1", "password": "pass-1", "subdomain": "d420c923",
        "fulldomain": "d420c923.auth.acme.test", "allowfrom": []}})");
    } else if (provider == "cloudflare") {
      o.api_url = fake_url_ + "/client/v4";
      o.cloudflare_api_token = kCloudflareToken;
    } else if (provider == "route53") {
      o.api_url = fake_url_;
      o.aws = {kAwsKey, kAwsSecret, ""};
    }
    return o;
  }

  std::unique_ptr<ChallengeSolver> Solver(DnsProviderOptions o) {
    auto solver = MakeDnsProviderSolver(std::move(o), resolver_);
    EXPECT_TRUE(solver.ok()) << solver.error().message;
    return solver.ok() ? std::move(solver).value() : nullptr;
  }

  std::unique_ptr<AcmeClient> NewRegisteredClient() {
    AcmeClientOptions o;
    o.directory_url = pebble_->directory_url();
    o.ca_bundle = pebble_->ca_bundle();
    o.poll_interval = std::chrono::milliseconds(50);
    o.backoff_base = std::chrono::milliseconds(10);
    o.max_bad_nonce_retries = 40;  // as in acme_client_test.cpp
    auto key = AcmeKey::GenerateP256();
    EXPECT_TRUE(key.ok());
    auto client = std::make_unique<AcmeClient>(o, std::move(key).value());
    auto url = client->Register({"ops@acme.test"});
    EXPECT_TRUE(url.ok()) << url.error().message;
    return client;
  }

  // Issues `names` through `solver` and checks the chain and its names.
  void ExpectIssued(const std::vector<std::string>& names, ChallengeSolver& solver) {
    auto client = NewRegisteredClient();
    auto issued = IssueCertificate(*client, names, solver);
    ASSERT_TRUE(issued.ok()) << issued.error().message << "\n"
                             << pebble_->log() << "\n"
                             << testing::ReadFile(dir_.path() + "/fake.log");
    EXPECT_EQ(testing::VerifyChain(issued->chain_pem, pebble_->RootPem()), "");
    testing::WriteFile(dir_.path() + "/c.pem", issued->chain_pem);
    const std::string text = testing::Run(
        {"openssl", "x509", "-in", dir_.path() + "/c.pem", "-noout", "-ext", "subjectAltName"});
    for (const auto& n : names) EXPECT_NE(text.find("DNS:" + n), std::string::npos) << text;
  }

  void Knsupdate(const std::string& update) const {
    testing::TempDir d;
    testing::WriteFile(d.path() + "/u",
                       "server 127.0.0.1 " + std::to_string(knot_->port()) +
                           "\nzone acme.test.\nkey hmac-sha256:" + testing::kTsigName + " " +
                           knot_->tsig_secret() + "\n" + update + "\nsend\nquit\n");
    std::string err;
    testing::Run({"knsupdate", d.path() + "/u"}, &err);
    ASSERT_EQ(err, "");
  }

  core::SystemClock clock_;
  Http01Responder http01_{nullptr, clock_};
  testing::HttpResponder responder_{
      [this](const std::string& token) { return http01_.Lookup(token); }};
  testing::TempDir dir_;
  std::optional<Knot> knot_;
  std::optional<Pebble> pebble_;
  std::optional<testing::BackgroundProcess> fake_;
  std::string fake_url_;
  std::shared_ptr<DnsResolver> resolver_;
};

TEST_F(DnsProvidersTest, AcmeDnsIssuesAWildcardAndItsApexThroughTheCnameDelegation) {
  Knsupdate("update add _acme-challenge.dele.acme.test. 60 CNAME d420c923.auth.acme.test.");
  auto solver = Solver(Options("acme-dns"));
  ASSERT_TRUE(solver);
  ExpectIssued({"*.dele.acme.test", "dele.acme.test"}, *solver);
  // The values went to the account's own name, through the API.
  EXPECT_NE(knot_->Txt("d420c923.auth.acme.test"), "");
  const std::string seen = testing::Run({"curl", "-s", fake_url_ + "/_fake/requests"});
  EXPECT_NE(seen.find(R"({"api":"acme-dns","method":"POST","url":"/update"})"), std::string::npos)
      << seen;
}

TEST_F(DnsProvidersTest, AcmeDnsWithoutAnAccountForTheNameSaysSo) {
  auto solver = Solver(Options("acme-dns"));
  ASSERT_TRUE(solver);
  const Status s = solver->Present("nope.acme.test", "t", "t.thumb");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("no acme-dns account for nope.acme.test"), std::string::npos)
      << s.error().message;
}

TEST_F(DnsProvidersTest, AcmeDnsRefusesAWrongKey) {
  DnsProviderOptions o = Options("acme-dns");
  testing::WriteFile(o.acme_dns_accounts_file, R"({"dele.acme.test": {
    "username": "user-1", "password": "wrong", "subdomain": "d420c923"}})");
  auto solver = Solver(o);
  ASSERT_TRUE(solver);
  const Status s =
      solver->Present("dele.acme.test", "t", "t.XYZ_thumbprint_of_at_least_forty_characters");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().detail_code, "dns_provider_error");
  EXPECT_NE(s.error().message.find("HTTP 401"), std::string::npos) << s.error().message;
}

TEST_F(DnsProvidersTest, CloudflareIssuesAWildcardAndItsApexAndDeletesTheRecords) {
  auto solver = Solver(Options("cloudflare"));
  ASSERT_TRUE(solver);
  ExpectIssued({"*.cf.acme.test", "cf.acme.test"}, *solver);
  EXPECT_EQ(knot_->Txt("_acme-challenge.cf.acme.test"), "");
  const std::string seen = testing::Run({"curl", "-s", fake_url_ + "/_fake/requests"});
  // The zone was looked up from the name (cf.acme.test is not a zone; acme.test is).
  EXPECT_NE(seen.find("/client/v4/zones?name=cf.acme.test"), std::string::npos) << seen;
  EXPECT_NE(seen.find("/client/v4/zones?name=acme.test"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"("method":"DELETE")"), std::string::npos) << seen;
}

TEST_F(DnsProvidersTest, CloudflareRefusesAWrongTokenWithItsOwnMessage) {
  DnsProviderOptions o = Options("cloudflare");
  o.cloudflare_api_token = "not-the-token";
  auto solver = Solver(o);
  ASSERT_TRUE(solver);
  const Status s = solver->Present("cf.acme.test", "t", "t.thumb");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("Authentication error"), std::string::npos) << s.error().message;
}

TEST_F(DnsProvidersTest, Route53IssuesAWildcardAndItsApexSignedAndWaitsForInsync) {
  auto solver = Solver(Options("route53"));
  ASSERT_TRUE(solver);
  ExpectIssued({"*.r53.acme.test", "r53.acme.test"}, *solver);
  EXPECT_EQ(knot_->Txt("_acme-challenge.r53.acme.test"), "");
  const std::string seen = testing::Run({"curl", "-s", fake_url_ + "/_fake/requests"});
  EXPECT_NE(seen.find("/2013-04-01/hostedzone/Z0ACMETEST/rrset/"), std::string::npos) << seen;
  EXPECT_NE(seen.find("/2013-04-01/change/C"), std::string::npos) << seen;  // INSYNC polled
  // A hosted zone the lookup returned after the name (other.test) was not taken for it.
  EXPECT_EQ(seen.find("Z0OTHER/rrset"), std::string::npos) << seen;
}

TEST_F(DnsProvidersTest, Route53KeepsBothValuesOfANameAndRemovesThemOneByOne) {
  auto solver = Solver(Options("route53"));
  ASSERT_TRUE(solver);
  const std::string ka = "token-a.thumbprint", kb = "token-b.thumbprint";
  ASSERT_TRUE(solver->Present("both.acme.test", "a", ka).ok());
  ASSERT_TRUE(solver->Present("both.acme.test", "b", kb).ok());
  const std::string both = knot_->Txt("_acme-challenge.both.acme.test");
  EXPECT_NE(both.find(Dns01TxtValue(ka)), std::string::npos) << both;
  EXPECT_NE(both.find(Dns01TxtValue(kb)), std::string::npos) << both;
  solver->CleanUp("both.acme.test", "a", ka);
  const std::string one = knot_->Txt("_acme-challenge.both.acme.test");
  EXPECT_EQ(one.find(Dns01TxtValue(ka)), std::string::npos) << one;
  EXPECT_NE(one.find(Dns01TxtValue(kb)), std::string::npos) << one;
  solver->CleanUp("both.acme.test", "b", kb);
  EXPECT_EQ(knot_->Txt("_acme-challenge.both.acme.test"), "");
}

TEST_F(DnsProvidersTest, Route53WithAWrongSecretGetsSignatureDoesNotMatch) {
  DnsProviderOptions o = Options("route53");
  o.aws.secret_access_key = "not-the-secret";
  o.route53_hosted_zone_id = "Z0ACMETEST";
  auto solver = Solver(o);
  ASSERT_TRUE(solver);
  const Status s = solver->Present("r53.acme.test", "t", "t.thumb");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("HTTP 403 SignatureDoesNotMatch"), std::string::npos)
      << s.error().message;
}

TEST(DnsProviderOptions, WhatIsMissingIsNamed) {
  auto resolver = MakeDnsResolver("127.0.0.1:53", std::chrono::milliseconds(100));
  ASSERT_TRUE(resolver.ok());
  std::shared_ptr<DnsResolver> r = std::move(resolver).value();
  auto check = [&](DnsProviderOptions o, const std::string& expected) {
    auto made = MakeDnsProviderSolver(std::move(o), r);
    ASSERT_FALSE(made.ok()) << expected;
    EXPECT_EQ(made.error().code, ErrorCode::kBadRequest);
    EXPECT_NE(made.error().message.find(expected), std::string::npos) << made.error().message;
  };
  DnsProviderOptions o;
  o.provider = "godaddy";
  check(o, "rfc2136, acme-dns, cloudflare or route53");
  o.provider = "cloudflare";
  check(o, "needs an API token");
  o.provider = "route53";
  check(o, "AWS_ACCESS_KEY_ID");
  o.provider = "acme-dns";
  check(o, "--dns-provider-url");
  o.api_url = "http://127.0.0.1:1";
  check(o, "--acme-dns-accounts");
  testing::TempDir d;
  o.acme_dns_accounts_file = d.path() + "/a.json";
  testing::WriteFile(o.acme_dns_accounts_file, "[1,2]");
  check(o, "is not a JSON object");
  testing::WriteFile(o.acme_dns_accounts_file, R"({"a.test": {"username": "u"}})");
  check(o, "needs username, password and subdomain");
}

}  // namespace
}  // namespace replideploy::domains

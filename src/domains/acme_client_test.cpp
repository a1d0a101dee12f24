// AcmeClient and the issuance flow against the real Pebble, resolving through a real Knot.
#include "domains/acme_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <vector>

#include "core/clock.hpp"
#include "domains/acme_issuance.hpp"
#include "domains/acme_testing.hpp"
#include "domains/dns_update.hpp"

namespace replideploy::domains {
namespace {

using testing::HttpResponder;
using testing::Knot;
using testing::Pebble;
using testing::PebbleSettings;

class AcmeClientTest : public ::testing::Test {
 protected:
  void Start(PebbleSettings settings = {}) {
    knot_.emplace();
    ASSERT_TRUE(knot_->ok()) << knot_->error();
    pebble_.emplace(responder_.port(), knot_->port(), settings);
    ASSERT_TRUE(pebble_->ok()) << pebble_->error();
  }

  AcmeClientOptions Options() const {
    AcmeClientOptions o;
    o.directory_url = pebble_->directory_url();
    o.ca_bundle = pebble_->ca_bundle();
    o.poll_interval = std::chrono::milliseconds(50);
    o.backoff_base = std::chrono::milliseconds(10);
    // Pebble rejecting half the nonces fails one request 11 times in a row (the default
    // allowance) once in ~2000; an issuance makes 10-20 of them, polls included, so the default
    // failed that test about once in a hundred runs. A real CA rejects a nonce rarely.
    o.max_bad_nonce_retries = 40;
    return o;
  }

  std::unique_ptr<AcmeClient> NewRegisteredClient() {
    auto key = AcmeKey::GenerateP256();
    EXPECT_TRUE(key.ok());
    auto client = std::make_unique<AcmeClient>(Options(), std::move(key).value());
    auto url = client->Register({"ops@acme.test"});
    EXPECT_TRUE(url.ok()) << url.error().message;
    return client;
  }

  core::SystemClock clock_;
  Http01Responder http01_{nullptr, clock_};
  HttpResponder responder_{[this](const std::string& token) { return http01_.Lookup(token); }};
  std::optional<Knot> knot_;
  std::optional<Pebble> pebble_;
};

TEST_F(AcmeClientTest, IssuesByHttp01AndTheChainVerifiesAgainstPebblesRoot) {
  Start();
  auto client = NewRegisteredClient();
  auto issued = IssueCertificate(*client, {"www.acme.test", "acme.test"}, http01_);
  ASSERT_TRUE(issued.ok()) << issued.error().message << "\n" << pebble_->log();
  EXPECT_GT(responder_.requests(), 0);
  EXPECT_LT(issued->not_before_ms, issued->not_after_ms);
  const std::string root = pebble_->RootPem();
  ASSERT_NE(root.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ(testing::VerifyChain(issued->chain_pem, root), "");
  // The key is the certificate's: openssl sees the SANs and the key matches.
  testing::TempDir dir;
  testing::WriteFile(dir.path() + "/c.pem", issued->chain_pem);
  const std::string text = testing::Run(
      {"openssl", "x509", "-in", dir.path() + "/c.pem", "-noout", "-ext", "subjectAltName"});
  EXPECT_NE(text.find("DNS:www.acme.test"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:acme.test"), std::string::npos) << text;
  auto key = AcmeKey::FromPem(issued->key_pem);
  ASSERT_TRUE(key.ok());
  // A wrong trust anchor is refused (the check can fail).
  EXPECT_NE(testing::VerifyChain(issued->chain_pem, issued->chain_pem), "");
}

TEST_F(AcmeClientTest, BadNoncesAreRetriedWithTheFreshNonce) {
  PebbleSettings settings;
  settings.nonce_reject_percent = 50;
  Start(settings);
  auto client = NewRegisteredClient();
  auto issued = IssueCertificate(*client, {"nonce.acme.test"}, http01_);
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  // With half the nonces rejected, a dozen signed requests see some rejections.
  EXPECT_GT(client->bad_nonces_seen(), 0);
}

TEST_F(AcmeClientTest, AFailedChallengeIsAnErrorNamingIt) {
  Start();
  auto client = NewRegisteredClient();
  // A responder that answers with the wrong key authorization.
  class WrongAnswer final : public ChallengeSolver {
   public:
    explicit WrongAnswer(Http01Responder& r) : r_(r) {}
    std::string_view type() const override { return kHttp01; }
    Status Present(const std::string& name, const std::string& token, const std::string&) override {
      return r_.Present(name, token, token + ".wrong");
    }
    void CleanUp(const std::string& name, const std::string& token,
                 const std::string& ka) override {
      r_.CleanUp(name, token, ka);
    }
    Http01Responder& r_;
  } wrong(http01_);
  auto issued = IssueCertificate(*client, {"wrong.acme.test"}, wrong);
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().detail_code, "acme_challenge_failed") << issued.error().message;
  EXPECT_EQ(http01_.Lookup("anything"), std::nullopt);
}

TEST_F(AcmeClientTest, KeyRolloverKeepsTheAccount) {
  Start();
  auto client = NewRegisteredClient();
  const std::string account = client->account_url();
  auto new_key = AcmeKey::GenerateP256();
  ASSERT_TRUE(new_key.ok());
  const std::string new_jwk = new_key->JwkJson();
  auto rolled = client->RolloverKey(*new_key);
  ASSERT_TRUE(rolled.ok()) << rolled.error().message;
  EXPECT_EQ(client->account_key().JwkJson(), new_jwk);
  // The new key signs for the same account: registering again finds it.
  AcmeClient again(Options(), *new_key);
  auto url = again.Register({});
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(*url, account);
  auto issued = IssueCertificate(*client, {"rolled.acme.test"}, http01_);
  EXPECT_TRUE(issued.ok()) << issued.error().message;
}

TEST_F(AcmeClientTest, ProblemDocumentsBecomeErrors) {
  Start();
  auto client = NewRegisteredClient();
  auto order = client->NewOrder({"not a name!"});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.error().detail_code.rfind("acme_", 0), 0u) << order.error().detail_code;
  EXPECT_NE(order.error().message.find("ACME error (HTTP 4"), std::string::npos)
      << order.error().message;
}

TEST_F(AcmeClientTest, IssuesAWildcardAndItsApexByDns01WithTsigAgainstKnot) {
  Start();
  auto options = ParseDnsUpdateOptions("127.0.0.1:" + std::to_string(knot_->port()), testing::kZone,
                                       knot_->tsig_spec());
  ASSERT_TRUE(options.ok()) << options.error().message;
  options->poll_interval = std::chrono::milliseconds(20);
  Dns01Solver dns01(*options);
  auto client = NewRegisteredClient();
  const int http_requests = responder_.requests();
  auto issued = IssueCertificate(*client, {"*.acme.test", "acme.test"}, dns01);
  ASSERT_TRUE(issued.ok()) << issued.error().message << "\n" << pebble_->log();
  EXPECT_EQ(responder_.requests(), http_requests);  // no HTTP-01 was used
  EXPECT_EQ(testing::VerifyChain(issued->chain_pem, pebble_->RootPem()), "");
  testing::TempDir dir;
  testing::WriteFile(dir.path() + "/c.pem", issued->chain_pem);
  const std::string text = testing::Run(
      {"openssl", "x509", "-in", dir.path() + "/c.pem", "-noout", "-ext", "subjectAltName"});
  EXPECT_NE(text.find("DNS:*.acme.test"), std::string::npos) << text;
  // The challenge records are gone again.
  EXPECT_EQ(knot_->Txt("_acme-challenge.acme.test"), "");
}

TEST_F(AcmeClientTest, AWildcardByHttp01IsRefused) {
  Start();
  auto client = NewRegisteredClient();
  auto issued = IssueCertificate(*client, {"*.acme.test"}, http01_);
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().detail_code, "acme_no_challenge") << issued.error().message;
}

TEST(AcmePolling, FirstPollSoonThenDoublingUpToTheIntervalAndRetryAfterWins) {
  using std::chrono::milliseconds;
  AcmeClientOptions o;  // 200 ms first, 1 s at most
  std::vector<long> delays;
  for (int polls = 0; polls < 5; ++polls) {
    delays.push_back(static_cast<long>(AcmePollDelay(o, std::nullopt, polls).count()));
  }
  EXPECT_EQ(delays, (std::vector<long>{200, 400, 800, 1000, 1000}));
  EXPECT_EQ(AcmePollDelay(o, 3, 0), milliseconds(3000)) << "the CA's Retry-After";
  EXPECT_EQ(AcmePollDelay(o, 0, 0), milliseconds(200)) << "a useless Retry-After is ignored";
  EXPECT_EQ(AcmePollDelay(o, 100000, 0), o.poll_timeout);
  o.poll_first = milliseconds(50);
  o.poll_interval = milliseconds(50);  // the tests' settings: a flat 50 ms
  EXPECT_EQ(AcmePollDelay(o, std::nullopt, 0), milliseconds(50));
  EXPECT_EQ(AcmePollDelay(o, std::nullopt, 9), milliseconds(50));
}

TEST(AcmeClientNetwork, AnUnreachableServerIsUnavailableAfterRetries) {
  AcmeClientOptions o;
  o.directory_url = "https://127.0.0.1:" + std::to_string(testing::FreePort()) + "/dir";
  o.max_attempts = 3;
  int sleeps = 0;
  o.sleep = [&](std::chrono::milliseconds) { ++sleeps; };
  auto key = AcmeKey::GenerateP256();
  ASSERT_TRUE(key.ok());
  AcmeClient client(o, *key);
  auto dir = client.LoadDirectory();
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(client.requests_sent(), 3);
  EXPECT_EQ(sleeps, 2);
}

// A scripted ACME server over plain HTTP: the first two answers to the directory and to
// newAccount are 5xx, then a rateLimited problem for newOrder.
TEST(AcmeClientFaults, ServerErrorsAreRetriedAndRateLimitsReturnedWithRetryAfter) {
  std::atomic<int> directory_calls{0};
  std::atomic<int> account_calls{0};
  std::string base;
  testing::RawHttpServer server([&](const std::string& request) -> std::string {
    const std::string nonce =
        "Replay-Nonce: n" + std::to_string(directory_calls + account_calls) + "\r\n";
    if (request.rfind("GET /dir ", 0) == 0) {
      if (++directory_calls <= 2) return testing::RawHttpServer::Response(503, "busy");
      return testing::RawHttpServer::Response(
          200, R"({"newNonce":")" + base + R"(/nonce","newAccount":")" + base +
                   R"(/account","newOrder":")" + base + R"(/order"})");
    }
    if (request.rfind("HEAD /nonce ", 0) == 0)
      return testing::RawHttpServer::Response(200, "", nonce);
    if (request.rfind("POST /account ", 0) == 0) {
      if (++account_calls <= 2) {
        return testing::RawHttpServer::Response(
            500, R"({"type":"urn:ietf:params:acme:error:serverInternal","detail":"oops"})", nonce);
      }
      return testing::RawHttpServer::Response(201, R"({"status":"valid"})",
                                              nonce + "Location: " + base + "/acct/1\r\n");
    }
    if (request.rfind("POST /order ", 0) == 0) {
      return testing::RawHttpServer::Response(
          429, R"({"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many"})",
          nonce + "Retry-After: 3600\r\n");
    }
    return testing::RawHttpServer::Response(404, "");
  });
  base = "http://127.0.0.1:" + std::to_string(server.port());
  AcmeClientOptions o;
  o.directory_url = base + "/dir";
  int sleeps = 0;
  o.sleep = [&](std::chrono::milliseconds) { ++sleeps; };
  auto key = AcmeKey::GenerateP256();
  ASSERT_TRUE(key.ok());
  AcmeClient client(o, *key);
  auto account = client.Register({"ops@example.org"});
  ASSERT_TRUE(account.ok()) << account.error().message;
  EXPECT_EQ(*account, base + "/acct/1");
  EXPECT_EQ(directory_calls, 3);
  EXPECT_EQ(account_calls, 3);
  EXPECT_EQ(sleeps, 4);  // two back-offs each
  auto order = client.NewOrder({"www.example.org"});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(order.error().detail_code, "acme_rateLimited");
  EXPECT_EQ(order.error().retry_after_seconds, 3600);
  EXPECT_NE(order.error().message.find("too many"), std::string::npos);
}

TEST(AcmeRetryAfter, SecondsAndDates) {
  EXPECT_EQ(ParseRetryAfterSeconds("120", 0), 120);
  EXPECT_EQ(ParseRetryAfterSeconds("", 0), 0);
  EXPECT_EQ(ParseRetryAfterSeconds("soon", 0), 0);
  EXPECT_EQ(ParseRetryAfterSeconds("Thu, 01 Jan 1970 00:01:40 GMT", 40), 60);
}

}  // namespace
}  // namespace replideploy::domains

// The certs role end to end: Pebble validates HTTP-01 by asking the platform's edge (over
// HTTP, Host = the name), which answers from the database; Knot resolves the names.
#include <gtest/gtest.h>

#include "db/testing.hpp"
#include "domains/acme_testing.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "roles/roles.hpp"
#include "store/testing.hpp"

namespace replideploy::roles {
namespace {

class CertsRoleTest : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    core::InitCrypto();
    RD_SKIP_IF_UNAVAILABLE(tdb_);
    ASSERT_TRUE(knot_.ok()) << knot_.error();
    blobs_ = store::LocalBlobStore::Open(dir_.path()).value();
    http::ServerOptions server_options;
    server_options.port = 0;
    server_ = std::make_unique<http::Server>(
        server_options, [this](const http::Request& head) { return resolver_(head); });
    ASSERT_TRUE(server_->Listen().ok());
    pebble_.emplace(server_->port(), knot_.port());
    ASSERT_TRUE(pebble_->ok()) << pebble_->error();
    PlatformOptions options;
    options.users.jwt_key = std::string(32, 'j');
    options.base_domain = domains::testing::kZone;
    options.certificates.acme_directory = pebble_->directory_url();
    options.certificates.acme_ca_bundle = pebble_->ca_bundle();
    options.certificates.acme_email = "ops@acme.test";
    options.certificates.key = std::string(32, 'c');
    platform_ = std::make_unique<Platform>(tdb_.db(), *blobs_, clock_, options);
    resolver_ = platform_->Resolver();
    server_->Start();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  http::ClientResponse Get(const std::string& path, const std::string& host) {
    http::ClientRequest request;
    request.method = "GET";
    request.url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    request.headers.Set("Host", host);
    auto response = http::Fetch(request);
    EXPECT_TRUE(response.ok());
    return response.ok() ? *response : http::ClientResponse{};
  }

  db::testing::TestDatabase tdb_{GetParam()};
  core::ManualClock clock_{core::SystemClock().NowMillis()};
  store::testing::ScopedTempDir dir_;
  std::unique_ptr<store::LocalBlobStore> blobs_;
  domains::testing::Knot knot_;
  std::optional<domains::testing::Pebble> pebble_;
  http::Resolver resolver_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<Platform> platform_;
};

TEST_P(CertsRoleTest, TheEdgeAnswersChallengesFromTheDatabaseBeforeAnySite) {
  ASSERT_TRUE(tdb_.db()
                  .Exec("INSERT INTO acme_challenges (token, key_authorization, name, expires_at) "
                        "VALUES ('tok-1', 'tok-1.thumb', 'www.example.org', ?)",
                        {clock_.NowMillis() + 60'000})
                  .ok());
  auto found = Get("/.well-known/acme-challenge/tok-1", "www.example.org");
  EXPECT_EQ(found.status, 200);
  EXPECT_EQ(found.body, "tok-1.thumb");
  EXPECT_EQ(Get("/.well-known/acme-challenge/tok-2", "www.example.org").status, 404);
  EXPECT_EQ(Get("/.well-known/acme-challenge/..%2f", "www.example.org").status, 404);
  // Expired challenges are not answered.
  clock_.Advance(120'000);
  EXPECT_EQ(Get("/.well-known/acme-challenge/tok-1", "www.example.org").status, 404);
}

TEST_P(CertsRoleTest, IssuesThroughTheEdge) {
  ASSERT_NE(platform_->certs(), nullptr);
  auto outcome = platform_->certs()->service().Issue({"www.acme.test"}, "http-01");
  ASSERT_TRUE(outcome.ok()) << outcome.error().message << "\n" << pebble_->log();
  EXPECT_TRUE(outcome->issued);
  auto active = platform_->certs()->service().ActiveCertificates();
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ(domains::testing::VerifyChain((*active)[0].chain_pem, pebble_->RootPem()), "");
}

INSTANTIATE_TEST_SUITE_P(Engines, CertsRoleTest, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::roles

#include "deploys/env_vars.hpp"

#include <gtest/gtest.h>

#include "auth/users.hpp"
#include "db/testing.hpp"

namespace replideploy::deploys {
namespace {

using db::testing::TestDatabase;

class EnvVars : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    users_ = std::make_unique<auth::UserService>(
        tdb_->db(), clock_,
        auth::UserServiceOptions{std::string(32, 'k'), 3600, core::PasswordCost::Minimum()});
    sites_ = std::make_unique<SiteService>(tdb_->db(), clock_);
    env_ = std::make_unique<EnvVarService>(tdb_->db(), clock_, *sites_, std::string(32, 'e'));
    alice_ = users_->Register("alice@example.com", "password123").value();
    bob_ = users_->Register("bob@example.com", "password123").value();
    site_ = sites_->Create(alice_.id, alice_.account_id, "site", {}).value();
  }
  core::ManualClock clock_{1'800'000'000'000};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<auth::UserService> users_;
  std::unique_ptr<SiteService> sites_;
  std::unique_ptr<EnvVarService> env_;
  auth::User alice_, bob_;
  Site site_;
};

TEST_P(EnvVars, StoredEncryptedAndMergedPerContext) {
  ASSERT_TRUE(env_->Set(alice_.id, "site", "API_KEY", "super-secret-1").ok());
  ASSERT_TRUE(env_->Set(alice_.id, "site", "API_KEY", "prod-secret-2", "production").ok());
  ASSERT_TRUE(env_->Set(alice_.id, "site", "MODE", "x'; DROP TABLE env_vars; --").ok());
  auto raw = tdb_->db().Exec("SELECT value_encrypted FROM env_vars");
  ASSERT_TRUE(raw.ok());
  for (const auto& r : raw->rows) {
    EXPECT_EQ(r.Text(0).find("secret"), std::string::npos) << "values are encrypted at rest";
  }
  auto prod = env_->ForBuild(site_.id, "production");
  ASSERT_TRUE(prod.ok());
  EXPECT_EQ(prod->at("API_KEY"), "prod-secret-2");
  EXPECT_EQ(prod->at("MODE"), "x'; DROP TABLE env_vars; --");
  EXPECT_EQ(env_->ForBuild(site_.id, "branch-deploy")->at("API_KEY"), "super-secret-1");
  auto list = env_->List(alice_.id, "site");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 3u);
  ASSERT_TRUE(env_->Set(alice_.id, "site", "API_KEY", "rotated").ok());
  EXPECT_EQ(env_->ForBuild(site_.id, "deploy-preview")->at("API_KEY"), "rotated");
}

TEST_P(EnvVars, ValidationAndAccess) {
  EXPECT_EQ(env_->Set(alice_.id, "site", "1BAD", "v").error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(env_->Set(alice_.id, "site", "A-B", "v").error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(env_->Set(alice_.id, "site", "OK", "v", "staging").error().code,
            ErrorCode::kUnprocessable);
  ASSERT_TRUE(env_->Set(alice_.id, "site", "OK", "v").ok());
  EXPECT_EQ(env_->List(bob_.id, "site").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(env_->Set(bob_.id, "site", "OK", "stolen").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(env_->Delete(bob_.id, "site", "OK").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(env_->Delete(alice_.id, "site", "OK").ok());
  EXPECT_EQ(env_->Delete(alice_.id, "site", "OK").error().code, ErrorCode::kNotFound);
}

TEST_P(EnvVars, CreateAllIsAllOrNone) {
  ASSERT_TRUE(env_->Set(alice_.id, "site", "TAKEN", "old").ok());
  auto refused = env_->CreateAll(alice_.id, "site", {{"FRESH", "all", "1"}, {"TAKEN", "all", "2"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  auto invalid = env_->CreateAll(alice_.id, "site", {{"FRESH", "all", "1"}, {"X", "staging", "2"}});
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().code, ErrorCode::kUnprocessable);
  ASSERT_EQ(env_->List(alice_.id, "site")->size(), 1u) << "nothing of a refused create is stored";

  ASSERT_TRUE(
      env_->CreateAll(alice_.id, "site",
                      {{"FRESH", "all", "1"}, {"FRESH", "production", "p"}, {"DEV", "dev", "d"}})
          .ok());
  EXPECT_EQ(env_->ForBuild(site_.id, "production")->at("FRESH"), "p");
  EXPECT_FALSE(env_->ForBuild(site_.id, "production")->contains("DEV"))
      << "dev values are for netlify-cli's local development, not for builds";
  EXPECT_EQ(env_->CreateAll(bob_.id, "site", {{"B", "all", "1"}}).error().code,
            ErrorCode::kNotFound);
}

TEST_P(EnvVars, ReplaceAndDeleteValue) {
  ASSERT_TRUE(env_->Set(alice_.id, "site", "K", "all-value").ok());
  ASSERT_TRUE(env_->Set(alice_.id, "site", "K", "prod-value", "production").ok());
  ASSERT_TRUE(env_->Replace(alice_.id, "site", "K", {{"K", "deploy-preview", "preview"}}).ok());
  auto list = env_->List(alice_.id, "site");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().context, "deploy-preview");
  EXPECT_EQ(list->front().value, "preview");
  EXPECT_EQ(env_->Replace(alice_.id, "site", "K", {}).error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(env_->Replace(alice_.id, "site", "K", {{"K", "nope", "v"}}).error().code,
            ErrorCode::kUnprocessable);
  EXPECT_EQ(env_->List(alice_.id, "site")->size(), 1u);

  EXPECT_EQ(env_->DeleteValue(alice_.id, "site", "K", "production").error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(env_->DeleteValue(bob_.id, "site", "K", "deploy-preview").error().code,
            ErrorCode::kNotFound);
  EXPECT_TRUE(env_->DeleteValue(alice_.id, "site", "K", "deploy-preview").ok());
  EXPECT_TRUE(env_->List(alice_.id, "site")->empty());
}

TEST(MaskSecrets, ReplacesEveryOccurrence) {
  EXPECT_EQ(MaskSecrets("token=abcd1234 again abcd1234", {"abcd1234"}), "token=**** again ****");
  EXPECT_EQ(MaskSecrets("short x", {"x"}), "short x") << "too short to mask meaningfully";
  EXPECT_EQ(MaskSecrets("no secrets", {}), "no secrets");
}

INSTANTIATE_TEST_SUITE_P(Engines, EnvVars, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::deploys

#include "deploys/sites.hpp"

#include <gtest/gtest.h>

#include "auth/users.hpp"
#include "db/testing.hpp"

namespace replideploy::deploys {
namespace {

using db::testing::TestDatabase;

class Sites : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    users_ = std::make_unique<auth::UserService>(
        tdb_->db(), clock_,
        auth::UserServiceOptions{std::string(32, 'k'), 3600, core::PasswordCost::Minimum()});
    sites_ = std::make_unique<SiteService>(tdb_->db(), clock_);
    alice_ = users_->Register("alice@example.com", "password123").value();
    bob_ = users_->Register("bob@example.com", "password123").value();
  }
  Result<Site> CreateFor(const auth::User& u, std::optional<std::string> name,
                         BuildSettings settings = {}) {
    return sites_->Create(u.id, u.account_id, std::move(name), settings);
  }

  core::ManualClock clock_{1'800'000'000'000};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<auth::UserService> users_;
  std::unique_ptr<SiteService> sites_;
  auth::User alice_, bob_;
};

TEST_P(Sites, CreateWithNameAndSettings) {
  auto site =
      CreateFor(alice_, "My-Blog", {"npm run build", "dist", "", "https://x/y.git", "main", ""});
  ASSERT_TRUE(site.ok()) << site.error().message;
  EXPECT_EQ(site->name, "my-blog");
  EXPECT_EQ(site->account_slug, "alice");
  EXPECT_EQ(site->build_settings.cmd, "npm run build");
  EXPECT_EQ(site->build_settings.repo_branch, "main");
  EXPECT_FALSE(site->published_deploy_id.has_value());
  EXPECT_EQ(site->created_at, clock_.NowMillis());
}

TEST_P(Sites, RandomNameWhenAbsent) {
  auto a = CreateFor(alice_, std::nullopt);
  auto b = CreateFor(alice_, std::nullopt);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->name, b->name);
  EXPECT_TRUE(NormalizeSiteName(a->name).ok()) << a->name;
}

TEST_P(Sites, NamesMustBeDnsLabelsAndUnique) {
  for (const std::string& bad :
       std::vector<std::string>{"", "-a", "a-", "a.b", "a_b", "a--b", std::string(64, 'a'), "é"}) {
    auto r = CreateFor(alice_, bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable) << bad;
  }
  ASSERT_TRUE(CreateFor(alice_, "taken").ok());
  auto again = CreateFor(bob_, "TAKEN");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(again.error().detail_code, "name_taken");
}

TEST_P(Sites, GetByIdOrName) {
  auto site = CreateFor(alice_, "docs");
  ASSERT_TRUE(site.ok());
  EXPECT_EQ(sites_->Get(alice_.id, site->id)->name, "docs");
  EXPECT_EQ(sites_->Get(alice_.id, "docs")->id, site->id);
  EXPECT_EQ(sites_->Get(alice_.id, "nope").error().code, ErrorCode::kNotFound);
}

TEST_P(Sites, OtherUsersSitesLookMissing) {
  auto site = CreateFor(alice_, "private");
  ASSERT_TRUE(site.ok());
  auto get = sites_->Get(bob_.id, site->id);
  auto missing = sites_->Get(bob_.id, "does-not-exist");
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.error().code, missing.error().code);
  EXPECT_EQ(get.error().message, missing.error().message);
  SitePatch rename;
  rename.name = "stolen";
  EXPECT_EQ(sites_->Update(bob_.id, site->id, rename).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(sites_->Delete(bob_.id, "private").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(sites_->List(bob_.id)->empty());
  EXPECT_EQ(sites_->Get(alice_.id, site->id)->name, "private");
  // Bob cannot create a site in Alice's account either.
  EXPECT_EQ(sites_->Create(bob_.id, alice_.account_id, "x", {}).error().code, ErrorCode::kNotFound);
}

TEST_P(Sites, ListNewestFirstWithFilter) {
  ASSERT_TRUE(CreateFor(alice_, "alpha").ok());
  clock_.Advance(10);
  ASSERT_TRUE(CreateFor(alice_, "beta").ok());
  clock_.Advance(10);
  ASSERT_TRUE(CreateFor(alice_, "alphabet").ok());
  ASSERT_TRUE(CreateFor(bob_, "alpha-bob").ok());
  auto all = sites_->List(alice_.id);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].name, "alphabet");
  EXPECT_EQ((*all)[2].name, "alpha");
  auto filtered = sites_->List(alice_.id, "alpha");
  ASSERT_EQ(filtered->size(), 2u);
  // '%' and '_' are literal in the filter.
  EXPECT_TRUE(sites_->List(alice_.id, "%")->empty());
  EXPECT_TRUE(sites_->List(alice_.id, "_")->empty());
}

TEST_P(Sites, UpdateChangesOnlyGivenFields) {
  auto site = CreateFor(alice_, "app", {"make", "out", "", "", "main", ""});
  ASSERT_TRUE(site.ok());
  clock_.Advance(1000);
  SitePatch patch;
  patch.dir = "public";
  patch.name = "app2";
  auto updated = sites_->Update(alice_.id, "app", patch);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->name, "app2");
  EXPECT_EQ(updated->build_settings.dir, "public");
  EXPECT_EQ(updated->build_settings.cmd, "make");
  EXPECT_EQ(updated->updated_at, site->created_at + 1000);
  auto reread = sites_->Get(alice_.id, site->id);
  EXPECT_EQ(reread->build_settings.dir, "public");
  EXPECT_EQ(reread->name, "app2");
}

TEST_P(Sites, RenameToTakenNameFailsAndChangesNothing) {
  ASSERT_TRUE(CreateFor(alice_, "one").ok());
  ASSERT_TRUE(CreateFor(bob_, "two").ok());
  SitePatch patch;
  patch.name = "two";
  patch.cmd = "changed";
  auto r = sites_->Update(alice_.id, "one", patch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().detail_code, "name_taken");
  EXPECT_EQ(sites_->Get(alice_.id, "one")->build_settings.cmd, "");
}

TEST_P(Sites, DeleteRemoves) {
  auto site = CreateFor(alice_, "gone");
  ASSERT_TRUE(site.ok());
  ASSERT_TRUE(sites_->Delete(alice_.id, site->id).ok());
  EXPECT_EQ(sites_->Get(alice_.id, site->id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(sites_->Delete(alice_.id, site->id).error().code, ErrorCode::kNotFound);
  // The name is free again.
  EXPECT_TRUE(CreateFor(bob_, "gone").ok());
}

TEST_P(Sites, SqlMetacharactersStoredVerbatim) {
  const std::string nasty = "'; DROP TABLE sites; -- \"?\" $1 \\ %_ \xe2\x9c\x93";
  auto site = CreateFor(alice_, "meta", {nasty, nasty, nasty, nasty, nasty, nasty});
  ASSERT_TRUE(site.ok()) << site.error().message;
  auto reread = sites_->Get(alice_.id, "meta");
  ASSERT_TRUE(reread.ok());
  EXPECT_EQ(reread->build_settings.cmd, nasty);
  EXPECT_EQ(reread->build_settings.functions_dir, nasty);
  EXPECT_EQ(sites_->Get(alice_.id, nasty).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(sites_->List(alice_.id, nasty)->empty());
}

INSTANTIATE_TEST_SUITE_P(Engines, Sites, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::deploys

// Test support for DeployService tests: a fresh database per engine, a local store, two users
// (alice owns "site", bob owns nothing) and a helper that takes a deploy to ready.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/users.hpp"
#include "core/crypto.hpp"
#include "db/testing.hpp"
#include "deploys/deploys.hpp"
#include "store/testing.hpp"

namespace replideploy::deploys {

inline std::string Sha1ForTest(std::string_view s) { return core::HexEncode(core::Sha1(s)); }

class DeployServiceTest : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<db::testing::TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    blobs_ = store::LocalBlobStore::Open(dir_.path() + "/store").value();
    users_ = std::make_unique<auth::UserService>(
        tdb_->db(), clock_,
        auth::UserServiceOptions{std::string(32, 'k'), 3600, core::PasswordCost::Minimum()});
    sites_ = std::make_unique<SiteService>(tdb_->db(), clock_);
    deploys_ = std::make_unique<DeployService>(tdb_->db(), *blobs_, clock_, *sites_);
    deploys_->AddPublishListener([this](const std::string& id) { published_.push_back(id); });
    alice_ = users_->Register("alice@example.com", "password123").value();
    bob_ = users_->Register("bob@example.com", "password123").value();
    site_ = sites_->Create(alice_.id, alice_.account_id, "site", {}).value();
  }

  // Creates a deploy of `files` (path -> content), uploads what is required, processes it.
  Deploy DeployFiles(const std::map<std::string, std::string>& files, bool draft = false,
                     const std::string& branch = "") {
    NewDeploy spec;
    spec.draft = draft;
    spec.branch = branch;
    Deploy d = deploys_->Create(alice_.id, "site", spec).value();
    std::map<std::string, std::string> digests;
    for (const auto& [path, content] : files) digests[path] = Sha1ForTest(content);
    d = deploys_->SetFiles(alice_.id, d.id, digests, {}).value();
    for (const auto& [path, content] : files) {
      if (std::find(d.required.begin(), d.required.end(), Sha1ForTest(content)) == d.required.end())
        continue;
      auto up = deploys_->UploadFile(alice_.id, d.id, path, content);
      EXPECT_TRUE(up.ok()) << up.error().message;
    }
    EXPECT_TRUE(deploys_->ProcessPending().ok());
    clock_.Advance(1000);
    return deploys_->Get(alice_.id, d.id).value();
  }
  std::optional<std::string> Live() { return sites_->Get(alice_.id, "site")->published_deploy_id; }

  store::testing::ScopedTempDir dir_;
  core::ManualClock clock_{1'800'000'000'000};
  std::unique_ptr<db::testing::TestDatabase> tdb_;
  std::unique_ptr<store::LocalBlobStore> blobs_;
  std::unique_ptr<auth::UserService> users_;
  std::unique_ptr<SiteService> sites_;
  std::unique_ptr<DeployService> deploys_;
  std::vector<std::string> published_;
  auth::User alice_, bob_;
  Site site_;
};

}  // namespace replideploy::deploys

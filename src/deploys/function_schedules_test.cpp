// The scheduler of scheduled functions on both engines: which functions run, the once-per-slot
// claim under a race of two schedulers on separate connections, and the loop driven by a
// manual clock.
#include "deploys/function_schedules.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <thread>

#include "auth/users.hpp"
#include "core/crypto.hpp"
#include "db/testing.hpp"
#include "deploys/deploys.hpp"
#include "store/testing.hpp"

namespace replideploy::deploys {
namespace {

using db::testing::TestDatabase;

std::string Sha1(std::string_view s) { return core::HexEncode(core::Sha1(s)); }

// A whole hour (2027-01-15T08:00:00Z), called 10:00 below.
constexpr std::int64_t kTen = 1'800'000'000 - 1'800'000'000 % 3600;

class FunctionSchedules : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    blobs_ = store::LocalBlobStore::Open(dir_.path() + "/store").value();
    users_ = std::make_unique<auth::UserService>(
        tdb_->db(), clock_,
        auth::UserServiceOptions{std::string(32, 'k'), 3600, core::PasswordCost::Minimum()});
    sites_ = std::make_unique<SiteService>(tdb_->db(), clock_);
    deploys_ = std::make_unique<DeployService>(tdb_->db(), *blobs_, clock_, *sites_);
    alice_ = users_->Register("alice@example.com", "password123").value();
    site_ = sites_->Create(alice_.id, alice_.account_id, "site", {}).value();
  }

  // A deploy of one file and `functions` (name -> functions_config JSON), processed.
  Deploy DeployFunctions(const std::map<std::string, std::string>& functions, bool draft = false,
                         const std::string& branch = "") {
    NewDeploy spec;
    spec.draft = draft;
    spec.branch = branch;
    Deploy d = deploys_->Create(alice_.id, "site", spec).value();
    std::map<std::string, std::string> digests, configs;
    for (const auto& [name, config] : functions) {
      digests[name] = core::HexEncode(core::Sha256("zip of " + name));
      configs[name] = config;
    }
    auto set = deploys_->SetFiles(alice_.id, d.id, {{"index.html", Sha1("i")}}, digests, configs);
    EXPECT_TRUE(set.ok()) << set.error().message;
    for (const auto& [name, config] : functions) {
      const auto& required = set.ok() ? set->required_functions : std::vector<std::string>{};
      if (std::find(required.begin(), required.end(), digests[name]) == required.end()) continue;
      auto up = deploys_->UploadFunction(alice_.id, d.id, name, "zip of " + name, "js");
      EXPECT_TRUE(up.ok()) << up.error().message;
    }
    (void)deploys_->UploadFile(alice_.id, d.id, "index.html", "i");
    EXPECT_TRUE(deploys_->ProcessPending().ok());
    clock_.Advance(1000);
    return deploys_->Get(alice_.id, d.id).value();
  }

  store::testing::ScopedTempDir dir_;
  core::ManualClock clock_{kTen * 1000};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<store::LocalBlobStore> blobs_;
  std::unique_ptr<auth::UserService> users_;
  std::unique_ptr<SiteService> sites_;
  std::unique_ptr<DeployService> deploys_;
  auth::User alice_;
  Site site_;
};

TEST_P(FunctionSchedules, OnlyThePublishedProductionDeploysScheduledFunctionsRun) {
  Deploy prod = DeployFunctions({{"tick", R"({"schedule": "@hourly"})"},
                                 {"plain", R"({})"},
                                 {"routed", R"({"routes": [{"pattern": "/r"}]})"}});
  ASSERT_TRUE(prod.published);
  // A branch deploy and a draft of the same site: ready, not published.
  Deploy branch = DeployFunctions({{"tick", R"({"schedule": "* * * * *"})"}}, false, "feature");
  EXPECT_EQ(branch.context, "branch-deploy");
  Deploy draft = DeployFunctions({{"drafty", R"({"schedule": "* * * * *"})"}}, true);
  // A production deploy that is not published: the site is locked to `prod`.
  ASSERT_TRUE(deploys_->Lock(alice_.id, prod.id).ok());
  Deploy unpublished = DeployFunctions({{"later", R"({"schedule": "* * * * *"})"}});
  EXPECT_EQ(unpublished.state, kStateReady);
  EXPECT_FALSE(unpublished.published);

  std::vector<ScheduledRun> runs;
  FunctionScheduler scheduler(tdb_->db(), clock_,
                              [&](const ScheduledRun& run) { runs.push_back(run); });
  auto listed = scheduler.List();
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().function_name, "tick");
  EXPECT_EQ(listed->front().deploy_id, prod.id);
  EXPECT_EQ(listed->front().schedule, "@hourly");
  EXPECT_EQ(listed->front().site_name, "site");

  // 10:00 .. 13:30 passed at once: the latest slot runs (13:00), once.
  EXPECT_EQ(*scheduler.RunDue(kTen, kTen + 3 * 3600 + 1800), 1);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].slot, kTen + 3 * 3600);
  EXPECT_EQ(runs[0].next_run, kTen + 4 * 3600);
  EXPECT_EQ(runs[0].function.function_name, "tick");
  EXPECT_EQ(*scheduler.RunDue(kTen, kTen + 3 * 3600 + 1800), 0) << "13:00 was claimed already";
  EXPECT_EQ(*scheduler.RunDue(kTen + 3 * 3600 + 1800, kTen + 3 * 3600 + 3599), 0) << "no slot";

  // Publishing another deploy switches what runs: what the production address serves.
  ASSERT_TRUE(deploys_->Restore(alice_.id, "site", branch.id).ok());
  listed = scheduler.List();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().deploy_id, branch.id);
  ASSERT_TRUE(deploys_->Restore(alice_.id, "site", unpublished.id).ok());
  listed = scheduler.List();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().function_name, "later");
  (void)draft;
}

TEST_P(FunctionSchedules, TwoSchedulersRacingRunEachSlotOnce) {
  DeployFunctions({{"a", R"({"schedule": "* * * * *"})"}, {"b", R"({"schedule": "*/2 * * * *"})"}});
  // Two processes: separate connections to the same database.
  auto second_db = db::Open(tdb_->url());
  ASSERT_TRUE(second_db.ok()) << second_db.error().message;
  std::mutex mu;
  std::map<std::pair<std::string, std::int64_t>, int> ran;
  auto record = [&](const ScheduledRun& run) {
    std::lock_guard lock(mu);
    ++ran[{run.function.function_name, run.slot}];
  };
  FunctionScheduler one(tdb_->db(), clock_, record);
  FunctionScheduler two(**second_db, clock_, record);
  constexpr int kMinutes = 12;
  for (int m = 1; m <= kMinutes; ++m) {
    const std::int64_t slot = kTen + m * 60;
    std::latch start(2);
    int handed_one = -1, handed_two = -1;
    std::jthread t1([&] {
      start.arrive_and_wait();
      auto r = one.RunDue(slot - 60, slot);
      handed_one = r.ok() ? *r : -100;
    });
    std::jthread t2([&] {
      start.arrive_and_wait();
      auto r = two.RunDue(slot - 60, slot);
      handed_two = r.ok() ? *r : -100;
    });
    t1.join();
    t2.join();
    EXPECT_EQ(handed_one + handed_two, m % 2 == 0 ? 2 : 1) << "minute " << m;
  }
  std::lock_guard lock(mu);
  EXPECT_EQ(ran.size(), static_cast<std::size_t>(kMinutes + kMinutes / 2));
  for (const auto& [key, count] : ran) {
    EXPECT_EQ(count, 1) << key.first << " at " << key.second;
    EXPECT_TRUE(key.first == "a" || key.second % 120 == 0);
  }
  auto rows = tdb_->db().Exec("SELECT COUNT(*) FROM function_schedule_runs");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->rows.front().Int(0), kMinutes + kMinutes / 2);
}

TEST_P(FunctionSchedules, TheLoopRunsAtTheSlotOfItsClock) {
  DeployFunctions({{"tick", R"({"schedule": "*/5 * * * *"})"}});
  // 10:04:59.900 by the scheduler's clock.
  clock_.Advance(kTen * 1000 + 299'900 - clock_.NowMillis());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ScheduledRun> runs;
  FunctionScheduler scheduler(tdb_->db(), clock_, [&](const ScheduledRun& run) {
    std::lock_guard lock(mu);
    runs.push_back(run);
    cv.notify_all();
  });
  scheduler.Start();
  // Time reaches the slot: the loop (told to look again) runs it.
  clock_.Advance(100);
  scheduler.Wake();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return !runs.empty(); }));
    EXPECT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].slot, kTen + 300);
    EXPECT_EQ(runs[0].next_run, kTen + 600);
  }
  // Woken again within the same slot: nothing more runs.
  scheduler.Wake();
  clock_.Advance(300'000);  // 10:10:00
  scheduler.Wake();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return runs.size() >= 2; }));
    EXPECT_EQ(runs[1].slot, kTen + 600);
  }
  scheduler.Stop();
  EXPECT_EQ(runs.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Engines, FunctionSchedules, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::deploys

#include "deploys/analytics.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "auth/users.hpp"
#include "db/testing.hpp"
#include "deploys/sites.hpp"
#include "deploys/traffic_counters.hpp"

namespace replideploy::deploys {
namespace {

using db::testing::TestDatabase;

constexpr std::int64_t kStart = 1'800'000'000'000;  // a whole minute (ms)

class Analytics : public ::testing::TestWithParam<db::Engine> {
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
    site_ = sites_->Create(alice_.id, alice_.account_id, "site", {}).value();
    other_ = sites_->Create(alice_.id, alice_.account_id, "other", {}).value();
    analytics_ = std::make_unique<AnalyticsService>(tdb_->db(), clock_, Options());
  }
  static AnalyticsOptions Options() {
    AnalyticsOptions o;
    o.top_paths = 2;
    return o;
  }
  // site_'s rows of site_traffic_paths of `period` and `kind`, "path=count" ordered by path.
  std::vector<std::string> PathRows(std::int64_t period, const std::string& kind) {
    auto rows = tdb_->db().Exec(
        "SELECT path, requests FROM site_traffic_paths WHERE site_id = ? AND period_seconds = ? "
        "AND kind = ? ORDER BY path",
        {site_.id, period, kind});
    std::vector<std::string> out;
    for (const auto& row : rows->rows) out.push_back(row.Text(0) + "=" + row.Text(1));
    return out;
  }
  std::int64_t Count(const std::string& sql) { return tdb_->db().Exec(sql)->rows.at(0).Int(0); }

  core::ManualClock clock_{kStart};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<auth::UserService> users_;
  std::unique_ptr<SiteService> sites_;
  std::unique_ptr<AnalyticsService> analytics_;
  auth::User alice_;
  Site site_, other_;
};

TEST_P(Analytics, CountersFlushedAreReadBackPerSite) {
  TrafficCounters counters(clock_, /*top_paths=*/2);
  SiteTraffic& site = counters.ForSite(site_.id);
  EXPECT_EQ(&site, &counters.ForSite(site_.id));
  // From several threads (several shards): 4 x (3 "/", 2 "/a", 1 "/b" 404, 1 "/c" 500).
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&site] {
      for (int i = 0; i < 3; ++i) site.Record("/", 200, 100);
      site.Record("/a", 200, 10);
      site.Record("/a", 304, 0);
      site.Record("/b", 404, 5);
      site.Record("/c", 500, 1);
    });
  }
  for (auto& t : threads) t.join();
  counters.ForSite(other_.id).Record("/elsewhere", 301, 7);

  std::vector<TrafficMinute> taken = counters.Take();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_TRUE(counters.Take().empty()) << "counters start again from zero";
  ASSERT_TRUE(analytics_->AddTraffic(taken).ok());
  // Top 2 paths kept, the rest is "other" (path "").
  EXPECT_EQ(PathRows(60, "path"), (std::vector<std::string>{"=8", "/=12", "/a=8"}));
  EXPECT_EQ(PathRows(60, "404"), (std::vector<std::string>{"/b=4"}));

  clock_.Advance(30'000);
  auto got = analytics_->ForSite(site_.id, AnalyticsRange::kHour);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->bucket_seconds, 60);
  ASSERT_EQ(got->points.size(), 60u);
  EXPECT_EQ(got->points.back().start, kStart / 1000);
  EXPECT_EQ(got->points.back().requests, 28u);
  EXPECT_EQ(got->totals.requests, 28u);
  EXPECT_EQ(got->totals.bytes, 4u * (300 + 10 + 5 + 1));
  EXPECT_EQ(got->totals.status, (std::array<std::uint64_t, 5>{0, 16, 4, 4, 4}));
  ASSERT_EQ(got->top_paths.size(), 2u);
  EXPECT_EQ(got->top_paths[0], (PathCount{"/", 12}));
  EXPECT_EQ(got->top_paths[1], (PathCount{"/a", 8}));
  EXPECT_EQ(got->other_paths, 8u);
  ASSERT_EQ(got->top_not_found.size(), 1u);
  EXPECT_EQ(got->top_not_found[0], (PathCount{"/b", 4}));

  auto other = analytics_->ForSite(other_.id, AnalyticsRange::kDay);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->points.size(), 24u);
  EXPECT_EQ(other->totals.requests, 1u);
  EXPECT_EQ(other->totals.status[2], 1u);

  // An hour later the minute is out of the hour's range, still in the day's.
  clock_.Advance(3600'000);
  EXPECT_EQ(analytics_->ForSite(site_.id, AnalyticsRange::kHour)->totals.requests, 0u);
  EXPECT_EQ(analytics_->ForSite(site_.id, AnalyticsRange::kDay)->totals.requests, 28u);
}

TEST_P(Analytics, OldMinutesRollUpIntoHoursAndHoursIntoDays) {
  // Three minutes of one hour, each with other top paths.
  const std::int64_t hour = kStart / 1000 / 3600 * 3600;
  std::vector<TrafficMinute> minutes;
  for (int i = 0; i < 3; ++i) {
    TrafficMinute m{site_.id, hour + 60 * i, 10, 1000, {0, 9, 0, 1, 0}};
    m.paths = {{"/p" + std::to_string(i), 6}, {"/common", 4}};
    m.not_found = {{"/missing", 1}};
    minutes.push_back(m);
  }
  ASSERT_TRUE(analytics_->AddTraffic(minutes).ok());
  ASSERT_TRUE(analytics_->RollUp().ok());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM site_traffic WHERE period_seconds = 60"), 3)
      << "recent minutes stay";

  clock_.Advance(49LL * 3600 * 1000);
  ASSERT_TRUE(analytics_->RollUp().ok());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM site_traffic WHERE period_seconds = 60"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM site_traffic_paths WHERE period_seconds = 60"), 0);
  EXPECT_EQ(Count("SELECT requests FROM site_traffic WHERE period_seconds = 3600"), 30);
  EXPECT_EQ(Count("SELECT status_4xx FROM site_traffic WHERE period_seconds = 3600"), 3);
  // Capped again at top_paths (2): /common (12) and /p0 (6, first by name); /p1, /p2 are other.
  EXPECT_EQ(PathRows(3600, "path"), (std::vector<std::string>{"=12", "/common=12", "/p0=6"}));
  EXPECT_EQ(PathRows(3600, "404"), (std::vector<std::string>{"/missing=3"}));
  auto week = analytics_->ForSite(site_.id, AnalyticsRange::kWeek);
  ASSERT_TRUE(week.ok());
  EXPECT_EQ(week->totals.requests, 30u);
  EXPECT_EQ(week->totals.bytes, 3000u);
  ASSERT_FALSE(week->top_paths.empty());
  EXPECT_EQ(week->top_paths[0], (PathCount{"/common", 12}));

  // Rolling up again changes nothing.
  ASSERT_TRUE(analytics_->RollUp().ok());
  EXPECT_EQ(Count("SELECT requests FROM site_traffic WHERE period_seconds = 3600"), 30);

  clock_.Advance(30LL * 24 * 3600 * 1000);
  ASSERT_TRUE(analytics_->RollUp().ok());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM site_traffic WHERE period_seconds = 3600"), 0);
  EXPECT_EQ(Count("SELECT requests FROM site_traffic WHERE period_seconds = 86400"), 30);
  EXPECT_EQ(Count("SELECT period_start FROM site_traffic WHERE period_seconds = 86400"),
            hour / 86400 * 86400);

  clock_.Advance(400LL * 24 * 3600 * 1000);
  ASSERT_TRUE(analytics_->RollUp().ok());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM site_traffic"), 0) << "older than the retention";
  EXPECT_EQ(Count("SELECT COUNT(*) FROM site_traffic_paths"), 0);
}

TEST_P(Analytics, TwoProcessesFlushingTheSameMinuteAddUp) {
  // Two connections of their own, as two edge processes have, flushing at once.
  constexpr int kFlushes = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int p = 0; p < 2; ++p) {
    threads.emplace_back([&, p] {
      auto db = db::Open(tdb_->url());
      if (!db.ok()) {
        ++failures;
        return;
      }
      AnalyticsService service(**db, clock_, Options());
      for (int i = 0; i < kFlushes; ++i) {
        TrafficMinute m{site_.id, kStart / 1000, 3, 30, {0, 2, 0, 1, 0}};
        m.paths = {{"/", 2}, {"/p" + std::to_string(p), 1}};
        m.not_found = {{"/gone", 1}};
        TrafficMinute o{other_.id, kStart / 1000, 1, 1, {0, 1, 0, 0, 0}};
        o.paths = {{"/", 1}};
        if (!service.AddTraffic({m, o}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = analytics_->ForSite(site_.id, AnalyticsRange::kHour);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->totals.requests, 2u * kFlushes * 3);
  EXPECT_EQ(got->totals.status[3], 2u * kFlushes);
  ASSERT_FALSE(got->top_paths.empty());
  EXPECT_EQ(got->top_paths[0], (PathCount{"/", 2u * kFlushes * 2}));
  EXPECT_EQ(got->top_not_found.at(0), (PathCount{"/gone", 2u * kFlushes}));
  EXPECT_EQ(analytics_->ForSite(other_.id, AnalyticsRange::kHour)->totals.requests, 2u * kFlushes);
}

TEST_P(Analytics, BuildsAndDeletedSites) {
  ASSERT_TRUE(analytics_->RecordBuild(site_.id, "d1", "succeeded", 12'000).ok());
  clock_.Advance(60'000);
  ASSERT_TRUE(analytics_->RecordBuild(site_.id, "d2", "failed", 3'000).ok());
  auto got = analytics_->ForSite(site_.id, AnalyticsRange::kHour);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->builds.size(), 2u);
  EXPECT_EQ(got->builds[0].deploy_id, "d1");
  EXPECT_EQ(got->builds[0].outcome, "succeeded");
  EXPECT_EQ(got->builds[0].duration_ms, 12'000);
  EXPECT_EQ(got->builds[1].outcome, "failed");
  EXPECT_EQ(got->builds[1].finished_at, kStart + 60'000);
  EXPECT_TRUE(analytics_->ForSite(other_.id, AnalyticsRange::kHour)->builds.empty());

  TrafficMinute m{other_.id, kStart / 1000, 1, 1, {0, 1, 0, 0, 0}};
  m.paths = {{"/", 1}};
  ASSERT_TRUE(analytics_->AddTraffic({m}).ok());
  ASSERT_TRUE(sites_->Delete(alice_.id, "other").ok());
  ASSERT_TRUE(analytics_->RollUp().ok());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM site_traffic"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM site_traffic_paths"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM site_builds"), 2) << "the live site's builds stay";
}

TEST(AnalyticsRange, Parse) {
  EXPECT_EQ(ParseAnalyticsRange("week").value(), AnalyticsRange::kWeek);
  EXPECT_EQ(ParseAnalyticsRange("month").error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(AnalyticsRangeName(AnalyticsRange::kDay), "day");
}

INSTANTIATE_TEST_SUITE_P(Engines, Analytics, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::deploys

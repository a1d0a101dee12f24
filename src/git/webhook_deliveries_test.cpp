#include "git/webhook_deliveries.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "db/testing.hpp"

namespace replideploy::git {
namespace {

using db::testing::TestDatabase;

constexpr std::int64_t kDayMillis = 24LL * 60 * 60 * 1000;
constexpr std::string_view kDelivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

class WebhookDeliveriesTest : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    deliveries_ = std::make_unique<WebhookDeliveries>(tdb_->db(), clock_);
  }

  std::int64_t Count() {
    auto rows = tdb_->db().Exec("SELECT COUNT(*) FROM webhook_deliveries");
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows.ok() ? rows->rows.at(0).Int(0) : -1;
  }

  core::ManualClock clock_{1'800'000'000'000};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<WebhookDeliveries> deliveries_;
};

TEST_P(WebhookDeliveriesTest, FirstDeliveryIsNewRedeliveryIsNot) {
  Result<bool> first = deliveries_->RecordDelivery(kDelivery, "site-a");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(*first);
  for (int i = 0; i < 3; ++i) {
    Result<bool> again = deliveries_->RecordDelivery(kDelivery, "site-a");
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_FALSE(*again);
  }
  EXPECT_TRUE(*deliveries_->RecordDelivery("72d3162e-cc78-11e3-81ab-4c9367dc0959", "site-a"));
  EXPECT_EQ(Count(), 2);
}

TEST_P(WebhookDeliveriesTest, SameIdForAnotherSiteIsSeparate) {
  EXPECT_TRUE(*deliveries_->RecordDelivery(kDelivery, "site-a"));
  EXPECT_TRUE(*deliveries_->RecordDelivery(kDelivery, "site-b"));
  EXPECT_FALSE(*deliveries_->RecordDelivery(kDelivery, "site-b"));
}

TEST_P(WebhookDeliveriesTest, BadIdsAreRefused) {
  for (std::string id : {std::string(), std::string(kMaxDeliveryIdLength + 1, 'a'),
                         std::string("a\nb"), std::string("a\0b", 3)}) {
    Result<bool> recorded = deliveries_->RecordDelivery(id, "site-a");
    ASSERT_FALSE(recorded.ok());
    EXPECT_EQ(recorded.error().code, ErrorCode::kBadRequest);
  }
  Result<bool> no_site = deliveries_->RecordDelivery(kDelivery, "");
  ASSERT_FALSE(no_site.ok());
  EXPECT_EQ(no_site.error().code, ErrorCode::kBadRequest);
  EXPECT_TRUE(*deliveries_->RecordDelivery(std::string(kMaxDeliveryIdLength, 'a'), "site-a"));
  EXPECT_EQ(Count(), 1);
}

TEST_P(WebhookDeliveriesTest, ConcurrentRedeliveriesRecordOnce) {
  constexpr int kThreads = 6;
  std::atomic<int> fresh{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        Result<bool> r = deliveries_->RecordDelivery("delivery-" + std::to_string(i), "site-a");
        if (!r.ok()) {
          ++failed;
        } else if (*r) {
          ++fresh;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(fresh.load(), 10);
  EXPECT_EQ(Count(), 10);
}

TEST_P(WebhookDeliveriesTest, DuplicateInsideTransactionDoesNotDoomIt) {
  ASSERT_TRUE(*deliveries_->RecordDelivery(kDelivery, "site-a"));
  Status status = tdb_->db().Transaction([&](db::Session& session) -> Status {
    RD_TRY(bool fresh,
           WebhookDeliveries::RecordDelivery(session, clock_.NowMillis(), kDelivery, "site-a"));
    if (fresh) return MakeError(ErrorCode::kInternal, "duplicate not detected");
    RD_TRY(bool other,
           WebhookDeliveries::RecordDelivery(session, clock_.NowMillis(), "next", "site-a"));
    if (!other) return MakeError(ErrorCode::kInternal, "new delivery not recorded");
    return {};
  });
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(Count(), 2);
}

TEST_P(WebhookDeliveriesTest, RolledBackDeliveryCanBeRedelivered) {
  Status status = tdb_->db().Transaction([&](db::Session& session) -> Status {
    RD_TRY(bool fresh,
           WebhookDeliveries::RecordDelivery(session, clock_.NowMillis(), kDelivery, "site-a"));
    EXPECT_TRUE(fresh);
    return MakeError(ErrorCode::kUnavailable, "creating the deploy failed");
  });
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(*deliveries_->RecordDelivery(kDelivery, "site-a"));
}

TEST_P(WebhookDeliveriesTest, PruneRemovesOnlyOldDeliveries) {
  ASSERT_TRUE(*deliveries_->RecordDelivery("old", "site-a"));
  clock_.Advance(2 * kDayMillis);
  ASSERT_TRUE(*deliveries_->RecordDelivery("recent", "site-a"));
  clock_.Advance(6 * kDayMillis);  // "old" is 8 days old, "recent" 6

  Result<std::int64_t> pruned = deliveries_->PruneOlderThan(7);
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(Count(), 1);
  EXPECT_TRUE(*deliveries_->RecordDelivery("old", "site-a")) << "pruned id is new again";
  EXPECT_FALSE(*deliveries_->RecordDelivery("recent", "site-a"));

  EXPECT_EQ(*deliveries_->PruneOlderThan(7), 0);
  Result<std::int64_t> negative = deliveries_->PruneOlderThan(-1);
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().code, ErrorCode::kBadRequest);
}

INSTANTIATE_TEST_SUITE_P(Engines, WebhookDeliveriesTest,
                         ::testing::ValuesIn(db::testing::Engines()), db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::git

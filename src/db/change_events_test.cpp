#include "db/change_events.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "db/testing.hpp"

namespace replideploy::db {
namespace {

using testing::EngineParamName;
using testing::Engines;
using testing::TestDatabase;

TEST(ChangeEvents, PayloadRoundTrips) {
  for (ChangeKind kind : {ChangeKind::kPublish, ChangeKind::kLock, ChangeKind::kSite,
                          ChangeKind::kDomain, ChangeKind::kCertificate}) {
    const auto parsed = ParseChangeEvent(ChangeEventPayload({kind, "site-1"}));
    ASSERT_TRUE(parsed.has_value()) << ChangeKindName(kind);
    EXPECT_EQ(parsed->kind, kind);
    EXPECT_EQ(parsed->site_id, "site-1");
  }
  EXPECT_EQ(ChangeEventPayload({ChangeKind::kCertificate, ""}), R"({"kind":"certificate"})");
  const auto no_site = ParseChangeEvent(R"({"kind":"certificate"})");
  ASSERT_TRUE(no_site.has_value());
  EXPECT_EQ(no_site->site_id, "");
}

TEST(ChangeEvents, AnythingElseIsNoEvent) {
  for (std::string_view payload : {"", "publish", "[]", "{}", R"({"kind":"teleport"})",
                                   R"({"kind":1})", R"({"kind":"site","site_id":7})"}) {
    EXPECT_FALSE(ParseChangeEvent(payload).has_value()) << payload;
  }
}

// What a subscription delivered, waited on without sleeping.
class Heard {
 public:
  NotificationHandler Handler() {
    return {[this](const std::string& payload) {
              std::lock_guard lock(mu_);
              payloads_.push_back(payload);
              cv_.notify_all();
            },
            [this] {
              std::lock_guard lock(mu_);
              ++listening_;
              cv_.notify_all();
            }};
  }
  bool WaitListening(int times) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return listening_ >= times; });
  }
  // The payloads heard once `last` arrived (false when it never did).
  bool WaitFor(const std::string& last, std::vector<std::string>& heard) {
    std::unique_lock lock(mu_);
    const bool arrived = cv_.wait_for(lock, std::chrono::seconds(30), [&] {
      return !payloads_.empty() && payloads_.back() == last;
    });
    heard = payloads_;
    return arrived;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> payloads_;
  int listening_ = 0;
};

class ChangeEventsDbTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
  }
  std::unique_ptr<TestDatabase> tdb_;
};

TEST_P(ChangeEventsDbTest, CommittedNotificationsArriveRolledBackOnesDoNot) {
  Database& db = tdb_->db();
  Heard heard;
  auto subscription = db.Listen(std::string(kChangesChannel), heard.Handler());
  if (GetParam() == Engine::kSqlite) {
    // No other process can change an embedded database: nothing to listen to, nothing sent.
    EXPECT_EQ(subscription, nullptr);
    EXPECT_TRUE(NotifyChange(db, {ChangeKind::kSite, "s"}).ok());
    return;
  }
  ASSERT_NE(subscription, nullptr);
  ASSERT_TRUE(heard.WaitListening(1));
  const Status rolled_back = db.Transaction([](Session& s) -> Status {
    RD_TRY_STATUS(NotifyChange(s, {ChangeKind::kPublish, "rolled-back"}));
    return MakeError(ErrorCode::kConflict, "changed my mind");
  });
  EXPECT_FALSE(rolled_back.ok());
  ASSERT_TRUE(db.Transaction([](Session& s) {
                  return NotifyChange(s, {ChangeKind::kPublish, "committed"});
                }).ok());
  ASSERT_TRUE(NotifyChange(db, {ChangeKind::kDomain, ""}).ok());
  std::vector<std::string> payloads;
  ASSERT_TRUE(heard.WaitFor(ChangeEventPayload({ChangeKind::kDomain, ""}), payloads));
  EXPECT_EQ(payloads,
            (std::vector<std::string>{ChangeEventPayload({ChangeKind::kPublish, "committed"}),
                                      ChangeEventPayload({ChangeKind::kDomain, ""})}));
}

TEST_P(ChangeEventsDbTest, SubscriptionReconnectsWhenItsConnectionIsKilled) {
  if (GetParam() == Engine::kSqlite) GTEST_SKIP() << "no subscriptions on SQLite";
  Database& db = tdb_->db();
  Heard heard;
  auto subscription = db.Listen(std::string(kChangesChannel), heard.Handler());
  ASSERT_TRUE(heard.WaitListening(1));
  // The server ends the listening backend, as a restart or a network cut would.
  auto killed = db.Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE query LIKE 'LISTEN %' AND datname = current_database() "
      "AND pid <> pg_backend_pid()");
  ASSERT_TRUE(killed.ok()) << killed.error().message;
  ASSERT_GE(killed->rows.size(), 1u);
  ASSERT_TRUE(heard.WaitListening(2));
  ASSERT_TRUE(NotifyChange(db, {ChangeKind::kSite, "after"}).ok());
  std::vector<std::string> payloads;
  EXPECT_TRUE(heard.WaitFor(ChangeEventPayload({ChangeKind::kSite, "after"}), payloads));
}

INSTANTIATE_TEST_SUITE_P(Engines, ChangeEventsDbTest, ::testing::ValuesIn(Engines()),
                         EngineParamName);

}  // namespace
}  // namespace replideploy::db

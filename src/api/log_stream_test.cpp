// The live log hub with in-memory WebSockets: several viewers, a slow viewer that must not
// hold anyone up, and the end of a build.
#include "api/log_stream.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>

#include "core/clock.hpp"
#include "core/testing.hpp"
#include "db/testing.hpp"
#include "deploys/sites.hpp"
#include "store/blob_store.hpp"
#include "store/testing.hpp"

namespace replideploy::api {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Records what the hub sends; can pretend to be a viewer whose connection is backed up.
class MemorySocket final : public http::WebSocket {
 public:
  void SendText(std::string message) override {
    std::lock_guard lock(mu_);
    if (closed_) return;
    messages_.push_back(std::move(message));
  }
  void Close(std::uint16_t code, std::string) override {
    std::lock_guard lock(mu_);
    closed_ = true;
    close_code_ = code;
  }
  bool IsOpen() const override {
    std::lock_guard lock(mu_);
    return !closed_;
  }
  std::size_t QueuedBytes() const override { return backed_up_ ? std::size_t{8} << 20 : 0; }

  void SetBackedUp(bool v) { backed_up_ = v; }
  std::vector<std::string> Lines() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& m : messages_) {
      json::value v = json::parse(m);
      if (v.at("type") != "lines") continue;
      for (const auto& l : v.at("lines").as_array()) out.emplace_back(l.at("line").as_string());
    }
    return out;
  }
  // The states the hub announced, in order.
  std::vector<std::string> States() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& m : messages_) {
      json::value v = json::parse(m);
      if (v.at("type") == "state") out.emplace_back(v.at("state").as_string());
    }
    return out;
  }
  std::string LastType() const {
    std::lock_guard lock(mu_);
    return messages_.empty() ? ""
                             : std::string(json::parse(messages_.back()).at("type").as_string());
  }
  int close_code() const {
    std::lock_guard lock(mu_);
    return close_code_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> messages_;
  bool closed_ = false;
  int close_code_ = 0;
  std::atomic<bool> backed_up_{false};
};

class LogStream : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<db::testing::TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    auto& db = tdb_->db();
    ASSERT_TRUE(db.Exec("INSERT INTO users (id, email, password_hash, created_at, updated_at) "
                        "VALUES ('u', 'u@x', 'x', 0, 0)")
                    .ok());
    ASSERT_TRUE(db.Exec("INSERT INTO accounts (id, slug, name, owner_user_id, created_at) VALUES "
                        "('a', 'a', 'a', 'u', 0)")
                    .ok());
    ASSERT_TRUE(db.Exec("INSERT INTO sites (id, account_id, name, created_at, updated_at) VALUES "
                        "('s', 'a', 'site', 0, 0)")
                    .ok());
    ASSERT_TRUE(db.Exec("INSERT INTO deploys (id, site_id, state, context, created_at, "
                        "updated_at) VALUES ('d', 's', 'building', 'production', 0, 0)")
                    .ok());
    ASSERT_TRUE(db.Exec("INSERT INTO build_jobs (id, deploy_id, site_id, state, created_at, "
                        "updated_at) VALUES ('j', 'd', 's', 'running', 0, 0)")
                    .ok());
    blobs_ = store::LocalBlobStore::Open(dir_.path()).value();
    sites_ = std::make_unique<deploys::SiteService>(db, clock_);
    deploys_ = std::make_unique<deploys::DeployService>(db, *blobs_, clock_, *sites_);
    queue_ = std::make_unique<builder::BuildQueue>(db, clock_);
    logs_ = std::make_unique<builder::BuildLogStore>(db);
    hub_ = std::make_unique<LogStreamHub>(*logs_, *deploys_, *queue_, 20ms);
  }
  void AddLine(int seq, const std::string& text) {
    ASSERT_TRUE(tdb_->db()
                    .Exec("INSERT INTO build_logs (deploy_id, seq, ts, stream, line) VALUES "
                          "('d', ?, 0, 'stdout', ?)",
                          {std::int64_t{seq}, text})
                    .ok());
    hub_->Notify("d");
  }
  static bool WaitFor(const std::function<bool()>& done) { return core::testing::WaitUntil(done); }

  std::unique_ptr<db::testing::TestDatabase> tdb_;
  store::testing::ScopedTempDir dir_;
  core::SystemClock clock_;
  std::unique_ptr<store::BlobStore> blobs_;
  std::unique_ptr<deploys::SiteService> sites_;
  std::unique_ptr<deploys::DeployService> deploys_;
  std::unique_ptr<builder::BuildQueue> queue_;
  std::unique_ptr<builder::BuildLogStore> logs_;
  std::unique_ptr<LogStreamHub> hub_;
};

TEST_P(LogStream, ViewersGetOldThenNewLinesAndASlowOneHoldsNobodyUp) {
  AddLine(0, "first");
  auto fast = std::make_shared<MemorySocket>();
  auto slow = std::make_shared<MemorySocket>();
  slow->SetBackedUp(true);
  hub_->Add("d", fast);
  hub_->Add("d", slow);
  ASSERT_TRUE(WaitFor([&] { return fast->Lines().size() == 1; }));
  AddLine(1, "second");
  ASSERT_TRUE(WaitFor([&] { return fast->Lines().size() == 2; }));
  EXPECT_EQ(fast->Lines(), (std::vector<std::string>{"first", "second"}));
  // The backed-up viewer got nothing meanwhile, and the other was served regardless.
  EXPECT_TRUE(slow->Lines().empty());
  // Caught up: it gets everything, in order, without gaps.
  slow->SetBackedUp(false);
  ASSERT_TRUE(WaitFor([&] { return slow->Lines().size() == 2; }));
  EXPECT_EQ(slow->Lines(), fast->Lines());
  EXPECT_EQ(hub_->ViewerCount(), 2u);
}

TEST_P(LogStream, EndsOnlyWhenTheDeployIsFinalAndTheJobIsDone) {
  auto viewer = std::make_shared<MemorySocket>();
  hub_->Add("d", viewer);
  AddLine(0, "building");
  // The hub sends a round's lines before it reads the deploy's state: wait for the state too,
  // or the update below can land in between and "building" is never announced.
  ASSERT_TRUE(WaitFor([&] { return viewer->Lines().size() == 1 && viewer->States().size() == 1; }));
  // Ready, but the worker's job is still writing its last lines: keep following. The hub
  // announces the state and decides in the same round; a line stored after the announcement
  // goes out in a later round, which a viewer ended in that round never gets.
  ASSERT_TRUE(tdb_->db().Exec("UPDATE deploys SET state = 'ready' WHERE id = 'd'").ok());
  hub_->Notify("d");
  ASSERT_TRUE(WaitFor([&] { return viewer->States().size() == 2; }))
      << "last message " << viewer->LastType() << ", states " << viewer->States().size()
      << ", open " << viewer->IsOpen() << ", close code " << viewer->close_code();
  EXPECT_EQ(viewer->States(), (std::vector<std::string>{"building", "ready"}));
  AddLine(1, "Deploy is live");
  ASSERT_TRUE(WaitFor([&] { return viewer->Lines().size() == 2 || !viewer->IsOpen(); }));
  EXPECT_TRUE(viewer->IsOpen()) << "ended while the job was still running";
  ASSERT_TRUE(tdb_->db().Exec("UPDATE build_jobs SET state = 'done' WHERE id = 'j'").ok());
  hub_->Notify("d");
  ASSERT_TRUE(WaitFor([&] { return !viewer->IsOpen(); }));
  EXPECT_EQ(viewer->Lines(), (std::vector<std::string>{"building", "Deploy is live"}));
  EXPECT_EQ(viewer->LastType(), "end");
  EXPECT_EQ(viewer->close_code(), 1000);
  EXPECT_TRUE(WaitFor([&] { return hub_->ViewerCount() == 0; }));
}

TEST_P(LogStream, ManyLinesArriveInBatchesAndAGoneViewerIsDropped) {
  for (int i = 0; i < 1234; ++i) AddLine(i, "line " + std::to_string(i));
  auto viewer = std::make_shared<MemorySocket>();
  auto gone = std::make_shared<MemorySocket>();
  gone->Close(1001, "");
  hub_->Add("d", viewer);
  hub_->Add("d", gone);
  ASSERT_TRUE(WaitFor([&] { return viewer->Lines().size() == 1234; }));
  EXPECT_EQ(viewer->Lines().back(), "line 1233");
  EXPECT_TRUE(WaitFor([&] { return hub_->ViewerCount() == 1; }));
}

TEST_P(LogStream, ShutdownLetsGoOfEveryViewer) {
  auto viewer = std::make_shared<MemorySocket>();
  hub_->Add("d", viewer);
  AddLine(0, "x");
  ASSERT_TRUE(WaitFor([&] { return viewer->Lines().size() == 1; }));
  hub_->Shutdown();
  EXPECT_EQ(viewer->close_code(), 1001);
  EXPECT_EQ(hub_->ViewerCount(), 0u);
  auto late = std::make_shared<MemorySocket>();
  hub_->Add("d", late);
  EXPECT_EQ(late->close_code(), 1001) << "a viewer arriving after shutdown is turned away";
  hub_->Shutdown();  // idempotent
}

INSTANTIATE_TEST_SUITE_P(Engines, LogStream, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::api

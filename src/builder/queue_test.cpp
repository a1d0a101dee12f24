#include "builder/queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "builder/build_logs.hpp"
#include "db/testing.hpp"

namespace replideploy::builder {
namespace {

using db::testing::TestDatabase;

class Queue : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    db::Database& db = tdb_->db();
    ASSERT_TRUE(db.Exec("INSERT INTO users (id, email, password_hash, created_at, updated_at) "
                        "VALUES ('u', 'u@example.com', 'x', 0, 0)")
                    .ok());
    ASSERT_TRUE(db.Exec("INSERT INTO accounts (id, slug, name, owner_user_id, created_at) "
                        "VALUES ('a', 'a', 'a', 'u', 0)")
                    .ok());
    ASSERT_TRUE(db.Exec("INSERT INTO sites (id, account_id, name, created_at, updated_at) "
                        "VALUES ('s', 'a', 'site', 0, 0)")
                    .ok());
    queue_ = std::make_unique<BuildQueue>(db, clock_, QueueOptions{10'000, 2});
  }
  std::string NewDeploy() {
    const std::string id = "d" + std::to_string(next_deploy_++);
    EXPECT_TRUE(tdb_->db()
                    .Exec("INSERT INTO deploys (id, site_id, state, context, created_at, "
                          "updated_at) VALUES (?, 's', 'queued', 'production', 0, 0)",
                          {id})
                    .ok());
    return id;
  }
  BuildJob Enqueue(const std::string& branch, std::vector<std::string>* superseded = nullptr) {
    auto job = queue_->Enqueue(NewDeploy(), "s", branch, std::string(40, 'a'), superseded);
    EXPECT_TRUE(job.ok()) << job.error().message;
    clock_.Advance(1);
    return job.ok() ? *job : BuildJob{};
  }

  core::ManualClock clock_{1'000'000};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<BuildQueue> queue_;
  int next_deploy_ = 0;
};

TEST_P(Queue, ClaimsOldestFirstAndCompletes) {
  BuildJob a = Enqueue("main");
  BuildJob b = Enqueue("feature");
  auto first = queue_->Claim("w1");
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->id, a.id);
  EXPECT_EQ((*first)->attempts, 1);
  auto second = queue_->Claim("w2");
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->id, b.id);
  EXPECT_FALSE(queue_->Claim("w3")->has_value());
  EXPECT_FALSE(*queue_->Complete(a.id, "w2")) << "only the holder completes";
  EXPECT_TRUE(*queue_->Complete(a.id, "w1"));
  EXPECT_EQ(queue_->Get(a.id)->state, kJobDone);
  EXPECT_TRUE(*queue_->Fail(b.id, "w2", "npm exited with 1"));
  EXPECT_EQ(queue_->Get(b.id)->last_error, "npm exited with 1");
}

TEST_P(Queue, ExpiredLeaseIsRetriedThenFails) {
  BuildJob job = Enqueue("main");
  ASSERT_TRUE(queue_->Claim("w1")->has_value());
  clock_.Advance(5'000);
  EXPECT_TRUE(*queue_->Heartbeat(job.id, "w1"));
  clock_.Advance(5'000);
  EXPECT_FALSE(queue_->Claim("w2")->has_value()) << "the heartbeat renewed the lease";
  clock_.Advance(10'001);
  auto retry = queue_->Claim("w2");
  ASSERT_TRUE(retry.ok() && retry->has_value());
  EXPECT_EQ((*retry)->attempts, 2);
  EXPECT_FALSE(*queue_->Heartbeat(job.id, "w1")) << "the dead worker lost its lease";
  EXPECT_FALSE(*queue_->Complete(job.id, "w1"));
  clock_.Advance(10'001);
  std::vector<BuildJob> failed;
  EXPECT_FALSE(queue_->Claim("w3", &failed)->has_value());
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed.front().id, job.id);
  BuildJob after = *queue_->Get(job.id);
  EXPECT_EQ(after.state, kJobFailed);
  EXPECT_NE(after.last_error.find("stopped answering 2 times"), std::string::npos);
}

TEST_P(Queue, NewerPushSupersedesQueuedJobsOfTheBranch) {
  BuildJob old1 = Enqueue("main");
  BuildJob other = Enqueue("feature");
  std::vector<std::string> superseded;
  BuildJob newest = Enqueue("main", &superseded);
  EXPECT_EQ(superseded, std::vector<std::string>{old1.id});
  EXPECT_EQ(queue_->Get(old1.id)->state, kJobCanceled);
  EXPECT_EQ(queue_->Get(other.id)->state, kJobQueued);
  auto next = queue_->Claim("w");
  EXPECT_EQ((*next)->id, other.id);
  EXPECT_EQ((*queue_->Claim("w"))->id, newest.id);
}

TEST_P(Queue, CancelStopsQueuedAndRunningJobs) {
  BuildJob job = Enqueue("main");
  EXPECT_TRUE(*queue_->Cancel(job.id));
  EXPECT_FALSE(queue_->Claim("w")->has_value());
  EXPECT_FALSE(*queue_->Cancel(job.id));
  BuildJob running = Enqueue("main");
  ASSERT_TRUE(queue_->Claim("w")->has_value());
  EXPECT_TRUE(*queue_->Cancel(running.id));
  EXPECT_FALSE(*queue_->Heartbeat(running.id, "w")) << "the worker learns it must stop";
  BuildJob by_deploy = Enqueue("main");
  ASSERT_TRUE(queue_->Claim("w")->has_value());
  ASSERT_TRUE(queue_->CancelForDeploy(by_deploy.deploy_id).ok());
  EXPECT_EQ(queue_->Get(by_deploy.id)->state, kJobCanceled);
}

TEST_P(Queue, ConcurrentWorkersNeverShareAJob) {
  constexpr int kJobs = 40;
  for (int i = 0; i < kJobs; ++i) Enqueue("b" + std::to_string(i));
  std::mutex mu;
  std::multiset<std::string> claimed;
  std::atomic<int> errors{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      for (;;) {
        auto job = queue_->Claim("w" + std::to_string(w));
        if (!job.ok()) {
          if (++errors > 100) return;
          continue;
        }
        if (!job->has_value()) return;
        std::lock_guard lock(mu);
        claimed.insert((*job)->id);
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(),
            static_cast<std::size_t>(kJobs));
}

// A second attempt (the first one's worker died) writes after the first attempt's lines;
// numbered from 0 again, its first batch would collide with them and be lost.
TEST_P(Queue, ARetriedBuildsLogFollowsTheEarlierAttempts) {
  const std::string deploy = NewDeploy();
  BuildLogStore store(tdb_->db());
  {
    BuildLogWriter first(store, deploy, nullptr);
    first.Info("attempt 1 starts");
    first.Info("attempt 1 output");
  }  // flushed; its worker "dies" here
  {
    BuildLogWriter second(store, deploy, nullptr);
    second.Info("attempt 2 starts");
    second.Info("attempt 2 output");
  }
  auto lines = store.Read(deploy);
  ASSERT_TRUE(lines.ok()) << lines.error().message;
  std::vector<std::string> text;
  for (const auto& l : *lines) text.push_back(std::to_string(l.seq) + " " + l.line);
  EXPECT_EQ(text, (std::vector<std::string>{"0 attempt 1 starts", "1 attempt 1 output",
                                            "2 attempt 2 starts", "3 attempt 2 output"}));
}

INSTANTIATE_TEST_SUITE_P(Engines, Queue, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::builder

// Function logs and call statistics in the database, on SQLite and PostgreSQL: numbering per
// function across writers, the bounds (lines kept, retention), the queue's drop marker, and
// statistics from several processes' counters adding up.
#include "deploys/function_logs.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "core/testing.hpp"
#include "db/testing.hpp"
#include "deploys/function_stats.hpp"

namespace replideploy::deploys {
namespace {

using db::testing::TestDatabase;

constexpr std::int64_t kStart = 1'800'000'000'000;  // a whole minute (ms)

FunctionLogLine Line(std::string text, std::string function = "hello", std::string deploy = "d1") {
  return {"s1",  std::move(deploy), std::move(function), 0, kStart, "stdout",
          "req", std::move(text)};
}

class FunctionLogs : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    FunctionLogOptions o;
    o.lines_kept = 5;
    o.retention = std::chrono::hours(1);
    store_ = std::make_unique<FunctionLogStore>(tdb_->db(), clock_, o);
  }
  std::vector<std::string> Texts(const std::vector<FunctionLogLine>& lines) {
    std::vector<std::string> out;
    for (const auto& l : lines) out.push_back(std::to_string(l.seq) + ":" + l.line);
    return out;
  }

  core::ManualClock clock_{kStart};
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<FunctionLogStore> store_;
};

TEST_P(FunctionLogs, LinesAreNumberedPerFunctionAndTheOldestPastTheBoundGo) {
  std::vector<FunctionLogLine> batch = {Line("a"), Line("b"), Line("x", "other"), Line("c")};
  ASSERT_TRUE(store_->Append(batch).ok());
  EXPECT_EQ(batch[3].seq, 2);
  EXPECT_EQ(batch[2].seq, 0);
  EXPECT_EQ(Texts(store_->Read("d1", "hello", 0, 100).value()),
            (std::vector<std::string>{"0:a", "1:b", "2:c"}));
  EXPECT_EQ(Texts(store_->Read("d1", "other", 0, 100).value()), (std::vector<std::string>{"0:x"}));
  EXPECT_TRUE(store_->Read("d2", "hello", 0, 100)->empty());

  std::vector<FunctionLogLine> more = {Line("d"), Line("e"), Line("f"), Line("g")};
  ASSERT_TRUE(store_->Append(more).ok());
  // Five kept: 2..6.
  EXPECT_EQ(Texts(store_->Read("d1", "hello", 0, 100).value()),
            (std::vector<std::string>{"2:c", "3:d", "4:e", "5:f", "6:g"}));
  EXPECT_EQ(Texts(store_->Read("d1", "hello", 5, 100).value()),
            (std::vector<std::string>{"5:f", "6:g"}));
  EXPECT_EQ(Texts(store_->Tail("d1", "hello", 2).value()),
            (std::vector<std::string>{"5:f", "6:g"}));
  EXPECT_EQ(Texts(store_->Read("d1", "hello", 3, 2).value()),
            (std::vector<std::string>{"3:d", "4:e"}));

  // Older than the retention: gone.
  clock_.Advance(2 * 3'600'000);
  std::vector<FunctionLogLine> fresh = {Line("new", "other")};
  fresh[0].ts = clock_.NowMillis();
  ASSERT_TRUE(store_->Append(fresh).ok());
  ASSERT_TRUE(store_->Prune().ok());
  EXPECT_TRUE(store_->Read("d1", "hello", 0, 100)->empty());
  EXPECT_EQ(Texts(store_->Read("d1", "other", 0, 100).value()),
            (std::vector<std::string>{"1:new"}));
}

TEST_P(FunctionLogs, ConcurrentWritersNeverReuseANumber) {
  // Two "processes" (two stores on one database) append batches at once.
  FunctionLogStore second(tdb_->db(), clock_, {100000, std::chrono::hours(1)});
  FunctionLogStore first(tdb_->db(), clock_, {100000, std::chrono::hours(1)});
  auto writer = [](FunctionLogStore& store, const std::string& who) {
    for (int i = 0; i < 20; ++i) {
      std::vector<FunctionLogLine> batch = {Line(who), Line(who)};
      for (int attempt = 0; attempt < 50; ++attempt) {
        if (store.Append(batch).ok()) break;  // SQLite's busy timeout may still say locked
      }
    }
  };
  std::thread a(writer, std::ref(first), "a");
  std::thread b(writer, std::ref(second), "b");
  a.join();
  b.join();
  auto lines = first.Read("d1", "hello", 0, 1000).value();
  ASSERT_EQ(lines.size(), 80u);
  for (std::size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i].seq, static_cast<int>(i));
}

TEST_P(FunctionLogs, QueueStoresInBatchesAndCountsWhatAFullQueueDrops) {
  std::vector<std::pair<std::string, std::string>> stored;
  std::mutex mu;
  FunctionLogQueue::Options o;
  o.capacity = 3;
  o.flush_interval = std::chrono::hours(1);  // only Flush() stores here
  FunctionLogStore store(tdb_->db(), clock_, {100, std::chrono::hours(1)});
  FunctionLogQueue queue(store, clock_, o, [&](const auto& keys) {
    std::lock_guard lock(mu);
    stored.insert(stored.end(), keys.begin(), keys.end());
  });
  for (int i = 0; i < 5; ++i) queue.Push(Line("line " + std::to_string(i)));
  queue.Push(Line("other fn", "other"));
  EXPECT_EQ(queue.DroppedCount(), 3u);
  queue.Flush();
  EXPECT_EQ(Texts(store.Read("d1", "hello", 0, 100).value()),
            (std::vector<std::string>{"0:line 0", "1:line 1", "2:line 2",
                                      "3:2 lines dropped (the log queue was full)"}));
  EXPECT_EQ(Texts(store.Read("d1", "other", 0, 100).value()),
            (std::vector<std::string>{"0:1 lines dropped (the log queue was full)"}));
  EXPECT_EQ(store.Read("d1", "other", 0, 100)->at(0).stream, "platform");
  std::lock_guard lock(mu);
  EXPECT_EQ(stored.size(), 2u);
}

TEST_P(FunctionLogs, QueueThreadStoresWithoutAFlushCall) {
  FunctionLogQueue::Options o;
  o.flush_interval = std::chrono::milliseconds(20);
  FunctionLogQueue queue(*store_, clock_, o);
  queue.Push(Line("by the thread"));
  EXPECT_TRUE(core::testing::WaitUntil(
      [&] { return store_->Read("d1", "hello", 0, 10).value().size() == 1; }));
}

TEST_P(FunctionLogs, StatsOfSeveralProcessesAddUpWithPercentilesFromTheHistogram) {
  FunctionStatsService stats(tdb_->db(), clock_);
  FunctionCounters edge_a(clock_), edge_b(clock_);
  for (int i = 0; i < 98; ++i) edge_a.Record("s1", "d1", "hello", 200, 3);  // bucket <= 5
  edge_b.Record("s1", "d1", "hello", 502, 40);                              // <= 50
  edge_b.Record("s1", "d1", "hello", 504, 10000);                           // <= 10000
  edge_b.Record("s1", "d1", "bye", 200, 0);
  edge_b.Record("s1", "d2", "hello", 500, 1);  // another deploy
  ASSERT_TRUE(stats.Add(edge_a.Take()).ok());
  ASSERT_TRUE(stats.Add(edge_b.Take()).ok());
  EXPECT_TRUE(edge_a.Take().empty());
  // The next minute, the same function again.
  clock_.Advance(60'000);
  edge_a.Record("s1", "d1", "hello", 200, 3);
  edge_a.Record("s1", "d1", "hello", 200, 3);
  ASSERT_TRUE(stats.Add(edge_a.Take()).ok());

  auto got = stats.ForDeploy("d1", std::chrono::hours(1)).value();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got["hello"].invocations, 102u);
  EXPECT_EQ(got["hello"].errors, 2u);
  EXPECT_EQ(got["hello"].p50_ms, 5);
  EXPECT_EQ(got["hello"].p99_ms, 50);
  EXPECT_EQ(got["bye"].invocations, 1u);
  EXPECT_EQ(got["bye"].p50_ms, 1);
  EXPECT_EQ(stats.ForDeploy("d2", std::chrono::hours(1)).value()["hello"].errors, 1u);

  // An hour later the first minute is out of the window; 48 hours later the rows are gone.
  clock_.Advance(3'600'000 - 60'000);
  got = stats.ForDeploy("d1", std::chrono::hours(1)).value();
  EXPECT_EQ(got["hello"].invocations, 2u);
  clock_.Advance(48 * 3'600'000);
  ASSERT_TRUE(stats.Prune().ok());
  EXPECT_EQ(tdb_->db().Exec("SELECT COUNT(*) FROM function_stats")->rows.at(0).Int(0), 0);
}

TEST(FunctionStats, BucketsAndQuantiles) {
  EXPECT_EQ(FunctionDurationBucket(0), 0u);
  EXPECT_EQ(FunctionDurationBucket(1), 0u);
  EXPECT_EQ(FunctionDurationBucket(2), 1u);
  EXPECT_EQ(FunctionDurationBucket(3), 2u);
  EXPECT_EQ(FunctionDurationBucket(10'000'000), kFunctionDurationBuckets - 1);
  std::array<std::uint64_t, kFunctionDurationBuckets> h{};
  EXPECT_EQ(HistogramQuantileMs(h, 0.5), 0);
  h[3] = 1;
  h[kFunctionDurationBuckets - 1] = 1;
  EXPECT_EQ(HistogramQuantileMs(h, 0.5), 10);
  EXPECT_EQ(HistogramQuantileMs(h, 0.99), kFunctionDurationBoundsMs.back());
}

INSTANTIATE_TEST_SUITE_P(Engines, FunctionLogs, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::deploys

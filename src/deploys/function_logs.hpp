// Function logs: the lines a function's processes printed (stdout, stderr, and the platform's
// own lines about a call: a timeout, a crash, a 502), kept per (deploy, function) in the
// function_logs table (this file is its one owner). The edge that runs functions pushes lines
// into a FunctionLogQueue, which stores them in batches from a thread of its own; the API and
// its live stream read them back with FunctionLogStore. See docs/functions.md, "Logs".
//
// Lines are numbered per (deploy, function) from 0 (`seq`), in the order their batches commit,
// so a reader that asks for seq >= n after having read up to n - 1 misses nothing, even with
// several processes writing. Storage is bounded: the last lines_kept lines per function, and
// nothing older than `retention`.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::deploys {

struct FunctionLogLine {
  std::string site_id;
  std::string deploy_id;
  std::string function_name;
  std::int64_t seq = 0;    // set when stored
  std::int64_t ts = 0;     // Unix milliseconds
  std::string stream;      // "stdout", "stderr", "platform"
  std::string request_id;  // the call it belongs to, when known; may be empty
  std::string line;        // secrets already masked
};

struct FunctionLogOptions {
  std::int64_t lines_kept = 1000;                           // per (deploy, function)
  std::chrono::milliseconds retention{7 * 24 * 3'600'000};  // older lines are deleted
};

// Thread-safe; every call blocks on the database.
class FunctionLogStore {
 public:
  FunctionLogStore(db::Database& db, const core::Clock& clock, FunctionLogOptions options = {})
      : db_(db), clock_(clock), options_(options) {}

  // Stores `lines` (any mix of functions; each function's lines in their order) in one
  // transaction, numbering them after the lines already stored for their function, and deletes
  // each function's lines past lines_kept. Sets `seq` of each line.
  Status Append(std::vector<FunctionLogLine>& lines);
  // Lines of (deploy, function) with seq >= from_seq, oldest first, at most `limit`.
  Result<std::vector<FunctionLogLine>> Read(std::string_view deploy_id,
                                            std::string_view function_name, std::int64_t from_seq,
                                            int limit);
  // The last `limit` lines of (deploy, function), oldest first.
  Result<std::vector<FunctionLogLine>> Tail(std::string_view deploy_id,
                                            std::string_view function_name, int limit);
  // Deletes lines (and numbering heads) older than the retention.
  Status Prune();

 private:
  db::Database& db_;
  const core::Clock& clock_;
  const FunctionLogOptions options_;
};

// Lines on their way to the store, so that a call never waits for the database: Push() only
// appends to a bounded in-memory queue; a thread stores what is queued every flush_interval (at
// once when a batch is full). When the queue is full, lines are dropped and counted, and a line
// "N lines dropped" (stream "platform") is stored for each function that lost some. Thread-safe.
class FunctionLogQueue {
 public:
  struct Options {
    std::size_t capacity = 10'000;  // lines waiting, all functions together
    std::size_t batch = 500;        // lines per transaction
    std::chrono::milliseconds flush_interval{250};
  };
  // `on_stored` (optional) is called from the queue's thread after a batch is stored, with the
  // (deploy, function) pairs that got lines: live viewers in this process look at once.
  using StoredCallback =
      std::function<void(const std::vector<std::pair<std::string, std::string>>&)>;

  FunctionLogQueue(FunctionLogStore& store, const core::Clock& clock, Options options,
                   StoredCallback on_stored = {});
  // Stores what is queued, then stops the thread.
  ~FunctionLogQueue();
  FunctionLogQueue(const FunctionLogQueue&) = delete;
  FunctionLogQueue& operator=(const FunctionLogQueue&) = delete;

  // Never blocks on the database.
  void Push(FunctionLogLine line);
  // Stores everything pushed before the call (blocks until it is stored or failed).
  void Flush();
  std::uint64_t DroppedCount() const;

 private:
  using Key = std::pair<std::string, std::string>;  // deploy, function
  void Loop(const std::stop_token& stop);

  FunctionLogStore& store_;
  const core::Clock& clock_;
  const Options options_;
  StoredCallback on_stored_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::vector<FunctionLogLine> queued_;
  struct Dropped {
    std::string site_id;
    std::uint64_t count = 0;
  };
  std::map<Key, Dropped> dropped_;  // since the last flush
  std::uint64_t dropped_total_ = 0;
  std::mutex flush_mu_;  // one flush at a time: batches reach the table in order
  std::jthread thread_;  // last: started once the rest is built
};

}  // namespace replideploy::deploys

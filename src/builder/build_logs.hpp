// Build logs: the lines a build printed, kept per deploy in the build_logs table (this file is
// its one owner). The worker appends through a BuildLogWriter, which batches lines and masks
// secrets; the API and the live log stream read them back.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::builder {

struct LogLine {
  std::int64_t seq = 0;  // 0, 1, 2, ... per deploy
  std::int64_t ts = 0;   // Unix milliseconds
  std::string stream;    // "stdout", "stderr", "info"
  std::string line;
};

class BuildLogStore {
 public:
  explicit BuildLogStore(db::Database& db) : db_(db) {}

  Status Append(std::string_view deploy_id, const std::vector<LogLine>& lines);
  // Lines from `from_seq` on, in order; at most `limit` (0: all).
  Result<std::vector<LogLine>> Read(std::string_view deploy_id, std::int64_t from_seq = 0,
                                    int limit = 0);
  // Whether any line from `from_seq` on is stored.
  Result<bool> HasLinesFrom(std::string_view deploy_id, std::int64_t from_seq);
  // The seq after the deploy's last stored line (0 when it has none).
  Result<std::int64_t> NextSeq(std::string_view deploy_id);

 private:
  db::Database& db_;
};

// A deploy's output lines on their way to the store, in batches: every 50 lines, and whenever
// Flush() is called (the worker does a few times a second), so viewers see lines live. Secrets
// set with SetSecrets are masked before a line is kept. Thread-safe.
class BuildLogWriter {
 public:
  // Numbering goes on after the lines already stored for the deploy: a build attempt after
  // one whose worker died appends its lines instead of colliding with the earlier ones.
  BuildLogWriter(BuildLogStore& store, std::string deploy_id,
                 std::function<void(const std::string&)> on_log);
  ~BuildLogWriter() { Flush(); }
  BuildLogWriter(const BuildLogWriter&) = delete;
  BuildLogWriter& operator=(const BuildLogWriter&) = delete;

  void SetSecrets(std::vector<std::string> secrets);
  void Line(std::string_view stream, std::int64_t ts, std::string_view text);
  // A line of the platform's own ("info"), stamped now.
  void Info(std::string_view text);
  void Flush();

 private:
  BuildLogStore& store_;
  std::string deploy_id_;
  std::function<void(const std::string&)> on_log_;
  std::mutex mu_;
  std::mutex flush_mu_;
  std::int64_t next_seq_ = 0;
  std::vector<LogLine> pending_;
  std::vector<std::string> secrets_;
};

}  // namespace replideploy::builder

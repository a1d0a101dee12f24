// Function call statistics: how many calls each (deploy, function) had, how many answered 5xx
// (the platform's own 502 and 504 included) and how long they took, per minute.
//
// FunctionCounters count in memory (no database: the edge calls Record after each call); a
// thread of the edge role takes the counts (Take) and hands them to FunctionStatsService::Add,
// which adds them to the function_stats table (this file is its one owner). Durations go into
// a fixed histogram (kFunctionDurationBoundsMs), so every process's counts add up and
// percentiles are read from the summed histogram: a percentile is the upper bound of the bucket
// it falls in. Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace replideploy::deploys {

// Bucket i holds calls of at most kFunctionDurationBoundsMs[i] ms; one more bucket the rest.
inline constexpr std::array<std::int64_t, 16> kFunctionDurationBoundsMs = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 900000};
inline constexpr std::size_t kFunctionDurationBuckets = kFunctionDurationBoundsMs.size() + 1;

// One function's calls in one minute.
struct FunctionCallMinute {
  std::string site_id;
  std::string deploy_id;
  std::string function_name;
  std::int64_t minute_start = 0;  // Unix seconds, a multiple of 60
  std::array<std::uint64_t, kFunctionDurationBuckets> calls{};
  std::array<std::uint64_t, kFunctionDurationBuckets> errors{};  // 5xx answers
};

class FunctionCounters {
 public:
  explicit FunctionCounters(const core::Clock& clock) : clock_(clock) {}
  FunctionCounters(const FunctionCounters&) = delete;
  FunctionCounters& operator=(const FunctionCounters&) = delete;

  // Counts one call that ended now with `status` after `duration_ms`.
  void Record(std::string_view site_id, std::string_view deploy_id, std::string_view function_name,
              int status, std::int64_t duration_ms);
  // Everything counted since the last Take; the counters start again from zero.
  std::vector<FunctionCallMinute> Take();

 private:
  using Key = std::tuple<std::string, std::string, std::string, std::int64_t>;
  const core::Clock& clock_;
  std::mutex mu_;
  std::map<Key, FunctionCallMinute> counts_;
};

// A function's calls over a period.
struct FunctionCallStats {
  std::uint64_t invocations = 0;
  std::uint64_t errors = 0;
  std::int64_t p50_ms = 0;  // 0 without calls
  std::int64_t p99_ms = 0;
};

// The bucket of a call that took `duration_ms`.
std::size_t FunctionDurationBucket(std::int64_t duration_ms);
// The `q` quantile (0 < q <= 1) of a histogram, as its bucket's upper bound; 0 when empty.
std::int64_t HistogramQuantileMs(const std::array<std::uint64_t, kFunctionDurationBuckets>& counts,
                                 double q);

class FunctionStatsService {
 public:
  static constexpr std::chrono::hours kKept{48};

  FunctionStatsService(db::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}

  // Adds `minutes` to what the database holds, in one transaction.
  Status Add(const std::vector<FunctionCallMinute>& minutes);
  // Per function name, the deploy's calls in the minutes that started within `window` before
  // now (the current minute included). Functions without calls are absent.
  Result<std::map<std::string, FunctionCallStats>> ForDeploy(std::string_view deploy_id,
                                                             std::chrono::seconds window);
  // Deletes minutes older than kKept.
  Status Prune();

 private:
  db::Database& db_;
  const core::Clock& clock_;
};

}  // namespace replideploy::deploys

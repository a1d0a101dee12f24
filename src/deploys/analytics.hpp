// Site analytics in the database: the edges' traffic per site and minute (added by each
// process, see traffic_counters.hpp), rolled up into hours and days as it ages, and the builds
// workers finished. Read per site over the last hour, day or week for the dashboard.
//
// Every process of a scaled setup adds its own counts: AddTraffic upserts with addition, so two
// edges flushing the same minute add up. RollUp may run in several processes at once: on
// PostgreSQL it takes a transaction-scoped advisory lock, on SQLite transactions are serial.
// Access to a site is checked by the caller (SiteService::Get). Thread-safe; every call blocks.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "deploys/traffic_counters.hpp"

namespace replideploy::deploys {

struct AnalyticsOptions {
  std::size_t top_paths = 20;              // paths (and 404s) kept per site and period
  std::chrono::hours minutes_kept{48};     // then rolled up into hours
  std::chrono::hours hours_kept{30 * 24};  // then rolled up into days
  std::chrono::hours days_kept{400 * 24};  // then deleted (builds too)
};

enum class AnalyticsRange { kHour, kDay, kWeek };
// "hour", "day", "week"; kBadRequest otherwise.
Result<AnalyticsRange> ParseAnalyticsRange(std::string_view text);
std::string_view AnalyticsRangeName(AnalyticsRange range);

struct TrafficPoint {
  std::int64_t start = 0;  // Unix seconds
  std::uint64_t requests = 0;
  std::uint64_t bytes = 0;
  std::array<std::uint64_t, 5> status{};  // 1xx .. 5xx
};

struct BuildPoint {
  std::string deploy_id;
  std::string outcome;           // "succeeded" or "failed"
  std::int64_t finished_at = 0;  // Unix milliseconds
  std::int64_t duration_ms = 0;
};

struct SiteAnalytics {
  AnalyticsRange range = AnalyticsRange::kHour;
  std::int64_t bucket_seconds = 60;
  std::int64_t from = 0;             // the first bucket's start (Unix seconds)
  std::int64_t to = 0;               // the end of the last bucket
  std::vector<TrafficPoint> points;  // one per bucket, oldest first, zeros included
  TrafficPoint totals;               // start = from
  std::vector<PathCount> top_paths;  // most first (at most 10)
  std::uint64_t other_paths = 0;     // the other requests
  std::vector<PathCount> top_not_found;
  std::uint64_t other_not_found = 0;
  std::vector<BuildPoint> builds;  // finished in the range, oldest first
};

class AnalyticsService {
 public:
  static constexpr std::size_t kTopPathsShown = 10;

  AnalyticsService(db::Database& db, const core::Clock& clock, AnalyticsOptions options = {})
      : db_(db), clock_(clock), options_(options) {}

  // Adds the counts of `minutes` to what the database holds, in one transaction.
  Status AddTraffic(const std::vector<TrafficMinute>& minutes);
  // A build of `deploy_id` ended now after `duration_ms`; outcome "succeeded" or "failed".
  Status RecordBuild(std::string_view site_id, std::string_view deploy_id, std::string_view outcome,
                     std::int64_t duration_ms);
  // Rolls minutes older than minutes_kept into hours, hours older than hours_kept into days
  // (keeping top_paths paths per site and period, the rest as other), deletes days and builds
  // older than days_kept and the rows of deleted sites.
  Status RollUp();
  // The site's traffic and builds over `range`, ending now. The site is not checked.
  Result<SiteAnalytics> ForSite(std::string_view site_id, AnalyticsRange range);

 private:
  Status RollUpPeriod(db::Session& s, std::int64_t from_seconds, std::int64_t to_seconds,
                      std::int64_t cutoff);

  db::Database& db_;
  const core::Clock& clock_;
  const AnalyticsOptions options_;
};

}  // namespace replideploy::deploys

// What one process's edge served, counted in memory per site and minute until it is flushed
// into the database (deploys/analytics.hpp). No database here: the edge counts, a thread of the
// edge role takes the counts (Take) and hands them to AnalyticsService::AddTraffic.
//
// The hot path: a site's handle (SiteTraffic) is made once, when the edge reads the site, and
// kept in its cache; Record() then locks one of kShards shards, the one of the calling thread
// (threads are spread over shards round-robin), so that the edge's threads do not contend on
// one lock, and touches one small map entry. Distinct paths kept per site and minute in a shard
// are bounded (kMaxPathsPerShard); further new paths count as "other" at once.
//
// Thread-safe. Handles stay valid as long as their TrafficCounters.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"

namespace replideploy::deploys {

// A path and how many requests it had.
using PathCount = std::pair<std::string, std::uint64_t>;

// One site's traffic in one minute, as taken from the counters.
struct TrafficMinute {
  std::string site_id;
  std::int64_t minute_start = 0;  // Unix seconds, a multiple of 60
  std::uint64_t requests = 0;
  std::uint64_t bytes = 0;                // response bodies as sent (0 for HEAD)
  std::array<std::uint64_t, 5> status{};  // 1xx .. 5xx
  std::vector<PathCount> paths;           // the most requested, most first (at most top_paths)
  std::uint64_t other_paths = 0;          // requests to the paths left out
  std::vector<PathCount> not_found;       // the same for 404 answers
  std::uint64_t other_not_found = 0;
};

class TrafficCounters;

// One site's counters; made by TrafficCounters::ForSite.
class SiteTraffic {
 public:
  // Counts one answer: `path` without the query, `status` its HTTP status, `bytes` its body.
  void Record(std::string_view path, int status, std::uint64_t bytes);
  const std::string& site_id() const { return site_id_; }

 private:
  friend class TrafficCounters;
  SiteTraffic(TrafficCounters& owner, std::string site_id)
      : owner_(owner), site_id_(std::move(site_id)) {}
  TrafficCounters& owner_;
  const std::string site_id_;
};

class TrafficCounters {
 public:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kMaxPathsPerShard = 500;
  static constexpr std::size_t kMaxPathLength = 512;  // longer paths are cut to this

  // `top_paths`: paths (and 404 paths) kept per site and minute by Take(); the rest is "other".
  explicit TrafficCounters(const core::Clock& clock, std::size_t top_paths = 20);
  TrafficCounters(const TrafficCounters&) = delete;
  TrafficCounters& operator=(const TrafficCounters&) = delete;

  // The handle of `site_id`, made on first use (takes a lock: call when a site is read, not
  // per request). Sites are never forgotten; a process sees as many as the platform has.
  SiteTraffic& ForSite(std::string_view site_id);

  // Everything counted since the last Take, per site and minute (ordered by site, then minute),
  // and the counters start again from zero. Paths are cut to the top_paths most requested.
  std::vector<TrafficMinute> Take();

 private:
  friend class SiteTraffic;
  struct Counts {
    std::uint64_t requests = 0;
    std::uint64_t bytes = 0;
    std::array<std::uint64_t, 5> status{};
    std::map<std::string, std::uint64_t, std::less<>> paths;
    std::uint64_t other_paths = 0;
    std::map<std::string, std::uint64_t, std::less<>> not_found;
    std::uint64_t other_not_found = 0;
  };
  using Key = std::pair<const SiteTraffic*, std::int64_t>;  // site, minute start
  struct alignas(64) Shard {
    std::mutex mu;
    std::map<Key, Counts> counts;
  };
  void Record(const SiteTraffic& site, std::string_view path, int status, std::uint64_t bytes);

  const core::Clock& clock_;
  const std::size_t top_paths_;
  std::array<Shard, kShards> shards_;
  std::mutex sites_mu_;
  std::map<std::string, std::unique_ptr<SiteTraffic>, std::less<>> sites_;
};

}  // namespace replideploy::deploys

#include "deploys/traffic_counters.hpp"

#include <algorithm>
#include <atomic>

namespace replideploy::deploys {

namespace {

// This thread's shard: threads take shards in turn, so a handful of I/O and handler threads
// rarely share one.
std::size_t ThisThreadShard() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t shard = next.fetch_add(1) % TrafficCounters::kShards;
  return shard;
}

int StatusClass(int status) {
  if (status < 100 || status > 599) return 4;
  return status / 100 - 1;
}

void CountPath(std::map<std::string, std::uint64_t, std::less<>>& paths, std::uint64_t& other,
               std::string_view path) {
  if (path.size() > TrafficCounters::kMaxPathLength)
    path = path.substr(0, TrafficCounters::kMaxPathLength);
  if (auto it = paths.find(path); it != paths.end()) {
    ++it->second;
  } else if (paths.size() < TrafficCounters::kMaxPathsPerShard) {
    paths.emplace(std::string(path), 1);
  } else {
    ++other;
  }
}

void AddPaths(std::map<std::string, std::uint64_t, std::less<>>& into,
              std::map<std::string, std::uint64_t, std::less<>>& from) {
  for (auto& [path, n] : from) into[path] += n;
}

// The `top` most requested of `paths` (most first, then by path), the rest added to `other`.
std::vector<PathCount> Top(const std::map<std::string, std::uint64_t, std::less<>>& paths,
                           std::size_t top, std::uint64_t& other) {
  std::vector<PathCount> all(paths.begin(), paths.end());
  std::sort(all.begin(), all.end(), [](const PathCount& a, const PathCount& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  for (std::size_t i = top; i < all.size(); ++i) other += all[i].second;
  if (all.size() > top) all.resize(top);
  return all;
}

}  // namespace

void SiteTraffic::Record(std::string_view path, int status, std::uint64_t bytes) {
  owner_.Record(*this, path, status, bytes);
}

TrafficCounters::TrafficCounters(const core::Clock& clock, std::size_t top_paths)
    : clock_(clock), top_paths_(top_paths) {}

SiteTraffic& TrafficCounters::ForSite(std::string_view site_id) {
  std::lock_guard lock(sites_mu_);
  auto it = sites_.find(site_id);
  if (it == sites_.end()) {
    it = sites_
             .emplace(std::string(site_id),
                      std::unique_ptr<SiteTraffic>(new SiteTraffic(*this, std::string(site_id))))
             .first;
  }
  return *it->second;
}

void TrafficCounters::Record(const SiteTraffic& site, std::string_view path, int status,
                             std::uint64_t bytes) {
  const std::int64_t minute = clock_.NowMillis() / 60'000 * 60;
  Shard& shard = shards_[ThisThreadShard()];
  std::lock_guard lock(shard.mu);
  Counts& c = shard.counts[Key{&site, minute}];
  ++c.requests;
  c.bytes += bytes;
  ++c.status[StatusClass(status)];
  CountPath(c.paths, c.other_paths, path);
  if (status == 404) CountPath(c.not_found, c.other_not_found, path);
}

std::vector<TrafficMinute> TrafficCounters::Take() {
  std::map<std::pair<std::string, std::int64_t>, Counts> merged;
  for (Shard& shard : shards_) {
    std::map<Key, Counts> taken;
    {
      std::lock_guard lock(shard.mu);
      taken.swap(shard.counts);
    }
    for (auto& [key, c] : taken) {
      Counts& m = merged[{key.first->site_id(), key.second}];
      m.requests += c.requests;
      m.bytes += c.bytes;
      for (std::size_t i = 0; i < c.status.size(); ++i) m.status[i] += c.status[i];
      AddPaths(m.paths, c.paths);
      m.other_paths += c.other_paths;
      AddPaths(m.not_found, c.not_found);
      m.other_not_found += c.other_not_found;
    }
  }
  std::vector<TrafficMinute> out;
  out.reserve(merged.size());
  for (auto& [key, c] : merged) {
    TrafficMinute minute{key.first, key.second, c.requests, c.bytes, c.status};
    minute.other_paths = c.other_paths;
    minute.paths = Top(c.paths, top_paths_, minute.other_paths);
    minute.other_not_found = c.other_not_found;
    minute.not_found = Top(c.not_found, top_paths_, minute.other_not_found);
    out.push_back(std::move(minute));
  }
  return out;
}

}  // namespace replideploy::deploys

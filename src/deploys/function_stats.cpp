#include "deploys/function_stats.hpp"

#include <algorithm>
#include <cmath>

namespace replideploy::deploys {

namespace {

std::int64_t AsInt(std::uint64_t n) { return static_cast<std::int64_t>(n); }
std::uint64_t AsCount(std::int64_t n) { return n < 0 ? 0 : static_cast<std::uint64_t>(n); }

}  // namespace

std::size_t FunctionDurationBucket(std::int64_t duration_ms) {
  const auto it = std::lower_bound(kFunctionDurationBoundsMs.begin(),
                                   kFunctionDurationBoundsMs.end(), duration_ms);
  return static_cast<std::size_t>(it - kFunctionDurationBoundsMs.begin());
}

std::int64_t HistogramQuantileMs(const std::array<std::uint64_t, kFunctionDurationBuckets>& counts,
                                 double q) {
  std::uint64_t total = 0;
  for (auto c : counts) total += c;
  if (total == 0) return 0;
  // The rank of the call at quantile q, 1-based (nearest-rank method).
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= rank) {
      return kFunctionDurationBoundsMs[std::min(i, kFunctionDurationBoundsMs.size() - 1)];
    }
  }
  return kFunctionDurationBoundsMs.back();
}

void FunctionCounters::Record(std::string_view site_id, std::string_view deploy_id,
                              std::string_view function_name, int status,
                              std::int64_t duration_ms) {
  const std::int64_t minute = clock_.NowMillis() / 60'000 * 60;
  const std::size_t bucket = FunctionDurationBucket(duration_ms);
  std::lock_guard lock(mu_);
  Key key{std::string(site_id), std::string(deploy_id), std::string(function_name), minute};
  auto [it, added] = counts_.try_emplace(std::move(key));
  FunctionCallMinute& m = it->second;
  if (added) {
    m.site_id = std::get<0>(it->first);
    m.deploy_id = std::get<1>(it->first);
    m.function_name = std::get<2>(it->first);
    m.minute_start = minute;
  }
  ++m.calls[bucket];
  if (status >= 500) ++m.errors[bucket];
}

std::vector<FunctionCallMinute> FunctionCounters::Take() {
  std::map<Key, FunctionCallMinute> taken;
  {
    std::lock_guard lock(mu_);
    taken.swap(counts_);
  }
  std::vector<FunctionCallMinute> out;
  out.reserve(taken.size());
  for (auto& [key, m] : taken) out.push_back(std::move(m));
  return out;
}

Status FunctionStatsService::Add(const std::vector<FunctionCallMinute>& minutes) {
  if (minutes.empty()) return {};
  return db_.Transaction([&](db::Session& s) -> Status {
    for (const FunctionCallMinute& m : minutes) {
      for (std::size_t b = 0; b < kFunctionDurationBuckets; ++b) {
        if (m.calls[b] == 0 && m.errors[b] == 0) continue;
        RD_TRY_STATUS(s.Exec(
            "INSERT INTO function_stats (site_id, deploy_id, function_name, minute_start, bucket, "
            "calls, errors) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (deploy_id, function_name, minute_start, bucket) DO UPDATE SET "
            "calls = function_stats.calls + excluded.calls, "
            "errors = function_stats.errors + excluded.errors",
            {m.site_id, m.deploy_id, m.function_name, m.minute_start, static_cast<std::int64_t>(b),
             AsInt(m.calls[b]), AsInt(m.errors[b])}));
      }
    }
    return {};
  });
}

Result<std::map<std::string, FunctionCallStats>> FunctionStatsService::ForDeploy(
    std::string_view deploy_id, std::chrono::seconds window) {
  const std::int64_t now = clock_.NowMillis() / 1000;
  const std::int64_t from = now / 60 * 60 - (window.count() / 60 - 1) * 60;
  RD_TRY(db::Rows rows,
         db_.Exec("SELECT function_name, bucket, SUM(calls), SUM(errors) FROM function_stats "
                  "WHERE deploy_id = ? AND minute_start >= ? GROUP BY function_name, bucket",
                  {std::string(deploy_id), from}));
  std::map<std::string, std::array<std::uint64_t, kFunctionDurationBuckets>> histograms;
  std::map<std::string, FunctionCallStats> out;
  for (const auto& r : rows.rows) {
    const std::int64_t bucket = r.Int(1);
    if (bucket < 0 || bucket >= static_cast<std::int64_t>(kFunctionDurationBuckets)) continue;
    histograms[r.Text(0)][static_cast<std::size_t>(bucket)] += AsCount(r.Int(2));
    FunctionCallStats& stats = out[r.Text(0)];
    stats.invocations += AsCount(r.Int(2));
    stats.errors += AsCount(r.Int(3));
  }
  for (auto& [name, stats] : out) {
    stats.p50_ms = HistogramQuantileMs(histograms[name], 0.5);
    stats.p99_ms = HistogramQuantileMs(histograms[name], 0.99);
  }
  return out;
}

Status FunctionStatsService::Prune() {
  const std::int64_t cutoff =
      clock_.NowMillis() / 1000 - std::chrono::duration_cast<std::chrono::seconds>(kKept).count();
  RD_TRY_STATUS(db_.Exec("DELETE FROM function_stats WHERE minute_start < ?", {cutoff}));
  return {};
}

}  // namespace replideploy::deploys

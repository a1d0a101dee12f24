#include "deploys/analytics.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include "core/ids.hpp"

namespace replideploy::deploys {

namespace {

constexpr std::int64_t kMinute = 60;
constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 86400;
// Serialises roll-ups of every process on PostgreSQL (pg_advisory_xact_lock's key).
constexpr std::int64_t kRollUpLockKey = 7'200'180'018;

constexpr std::string_view kPathKind = "path";
constexpr std::string_view kNotFoundKind = "404";

std::int64_t AsInt(std::uint64_t n) { return static_cast<std::int64_t>(n); }
std::uint64_t AsCount(std::int64_t n) { return n < 0 ? 0 : static_cast<std::uint64_t>(n); }

Status UpsertTraffic(db::Session& s, const std::string& site_id, std::int64_t period,
                     std::int64_t start, std::uint64_t requests, std::uint64_t bytes,
                     const std::array<std::uint64_t, 5>& status) {
  RD_TRY_STATUS(
      s.Exec("INSERT INTO site_traffic (site_id, period_seconds, period_start, requests, bytes, "
             "status_1xx, status_2xx, status_3xx, status_4xx, status_5xx) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
             "ON CONFLICT (site_id, period_seconds, period_start) DO UPDATE SET "
             "requests = site_traffic.requests + excluded.requests, "
             "bytes = site_traffic.bytes + excluded.bytes, "
             "status_1xx = site_traffic.status_1xx + excluded.status_1xx, "
             "status_2xx = site_traffic.status_2xx + excluded.status_2xx, "
             "status_3xx = site_traffic.status_3xx + excluded.status_3xx, "
             "status_4xx = site_traffic.status_4xx + excluded.status_4xx, "
             "status_5xx = site_traffic.status_5xx + excluded.status_5xx",
             {site_id, period, start, AsInt(requests), AsInt(bytes), AsInt(status[0]),
              AsInt(status[1]), AsInt(status[2]), AsInt(status[3]), AsInt(status[4])}));
  return {};
}

// A row of site_traffic_paths: (site, start, kind, path) and its count.
using PathKey = std::tuple<std::string, std::int64_t, std::string, std::string>;

Status UpsertPath(db::Session& s, std::int64_t period, const PathKey& key, std::uint64_t n) {
  const auto& [site_id, start, kind, path] = key;
  RD_TRY_STATUS(
      s.Exec("INSERT INTO site_traffic_paths (site_id, period_seconds, period_start, kind, path, "
             "requests) VALUES (?, ?, ?, ?, ?, ?) "
             "ON CONFLICT (site_id, period_seconds, period_start, kind, path) DO UPDATE SET "
             "requests = site_traffic_paths.requests + excluded.requests",
             {site_id, period, start, kind, path, AsInt(n)}));
  return {};
}

// Upserts in key order, the same in every process, so that two concurrent flushes on
// PostgreSQL wait for each other's row locks in one order and never deadlock.
Status UpsertPaths(db::Session& s, std::int64_t period,
                   const std::map<PathKey, std::uint64_t>& rows) {
  for (const auto& [key, n] : rows) {
    if (n > 0) RD_TRY_STATUS(UpsertPath(s, period, key, n));
  }
  return {};
}

// Keeps the `top` most requested real paths of each (site, start, kind); the others, and the
// "other" rows already there (path ""), become one "" row.
std::map<PathKey, std::uint64_t> CapPaths(const std::map<PathKey, std::uint64_t>& rows,
                                          std::size_t top) {
  std::map<std::tuple<std::string, std::int64_t, std::string>, std::vector<PathCount>> groups;
  for (const auto& [key, n] : rows) {
    const auto& [site_id, start, kind, path] = key;
    groups[{site_id, start, kind}].emplace_back(path, n);
  }
  std::map<PathKey, std::uint64_t> out;
  for (auto& [group, paths] : groups) {
    const auto& [site_id, start, kind] = group;
    std::uint64_t other = 0;
    std::vector<PathCount> real;
    for (auto& p : paths) {
      if (p.first.empty()) {
        other += p.second;
      } else {
        real.push_back(std::move(p));
      }
    }
    std::sort(real.begin(), real.end(), [](const PathCount& a, const PathCount& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    for (std::size_t i = 0; i < real.size(); ++i) {
      if (i < top) {
        out[{site_id, start, kind, real[i].first}] += real[i].second;
      } else {
        other += real[i].second;
      }
    }
    if (other > 0) out[{site_id, start, kind, ""}] += other;
  }
  return out;
}

std::array<std::uint64_t, 5> StatusCells(const db::Row& row, std::size_t first) {
  std::array<std::uint64_t, 5> status{};
  for (std::size_t i = 0; i < status.size(); ++i) status[i] = AsCount(row.Int(first + i));
  return status;
}

constexpr std::string_view kSums =
    "SUM(requests), SUM(bytes), SUM(status_1xx), SUM(status_2xx), SUM(status_3xx), "
    "SUM(status_4xx), SUM(status_5xx)";

}  // namespace

Result<AnalyticsRange> ParseAnalyticsRange(std::string_view text) {
  if (text == "hour") return AnalyticsRange::kHour;
  if (text == "day") return AnalyticsRange::kDay;
  if (text == "week") return AnalyticsRange::kWeek;
  return MakeError(ErrorCode::kBadRequest, "range must be hour, day or week");
}

std::string_view AnalyticsRangeName(AnalyticsRange range) {
  switch (range) {
    case AnalyticsRange::kHour:
      return "hour";
    case AnalyticsRange::kDay:
      return "day";
    case AnalyticsRange::kWeek:
      return "week";
  }
  return "hour";
}

Status AnalyticsService::AddTraffic(const std::vector<TrafficMinute>& minutes) {
  if (minutes.empty()) return {};
  std::vector<const TrafficMinute*> ordered;
  std::map<PathKey, std::uint64_t> paths;
  for (const TrafficMinute& m : minutes) {
    ordered.push_back(&m);
    for (const auto& [path, n] : m.paths) {
      paths[{m.site_id, m.minute_start, std::string(kPathKind), path}] += n;
    }
    if (m.other_paths > 0)
      paths[{m.site_id, m.minute_start, std::string(kPathKind), ""}] += m.other_paths;
    for (const auto& [path, n] : m.not_found) {
      paths[{m.site_id, m.minute_start, std::string(kNotFoundKind), path}] += n;
    }
    if (m.other_not_found > 0) {
      paths[{m.site_id, m.minute_start, std::string(kNotFoundKind), ""}] += m.other_not_found;
    }
  }
  std::sort(ordered.begin(), ordered.end(), [](const TrafficMinute* a, const TrafficMinute* b) {
    return std::tie(a->site_id, a->minute_start) < std::tie(b->site_id, b->minute_start);
  });
  return db_.Transaction([&](db::Session& s) -> Status {
    for (const TrafficMinute* m : ordered) {
      RD_TRY_STATUS(
          UpsertTraffic(s, m->site_id, kMinute, m->minute_start, m->requests, m->bytes, m->status));
    }
    return UpsertPaths(s, kMinute, paths);
  });
}

Status AnalyticsService::RecordBuild(std::string_view site_id, std::string_view deploy_id,
                                     std::string_view outcome, std::int64_t duration_ms) {
  RD_TRY_STATUS(db_.Exec(
      "INSERT INTO site_builds (id, site_id, deploy_id, outcome, finished_at, duration_ms) "
      "VALUES (?, ?, ?, ?, ?, ?)",
      {core::NewHexId(), std::string(site_id), std::string(deploy_id), std::string(outcome),
       clock_.NowMillis(), duration_ms}));
  return {};
}

Status AnalyticsService::RollUpPeriod(db::Session& s, std::int64_t from_seconds,
                                      std::int64_t to_seconds, std::int64_t cutoff) {
  const std::string from = std::to_string(from_seconds);
  const std::string to = std::to_string(to_seconds);
  RD_TRY(db::Rows totals,
         s.Exec("SELECT site_id, period_start - period_start % " + to + ", " + std::string(kSums) +
                    " FROM site_traffic WHERE period_seconds = " + from +
                    " AND period_start < ? GROUP BY 1, 2 ORDER BY 1, 2",
                {cutoff}));
  RD_TRY(db::Rows paths,
         s.Exec("SELECT site_id, period_start - period_start % " + to +
                    ", kind, path, SUM(requests) FROM site_traffic_paths WHERE period_seconds = " +
                    from + " AND period_start < ? GROUP BY 1, 2, 3, 4",
                {cutoff}));
  for (const db::Row& row : totals.rows) {
    RD_TRY_STATUS(UpsertTraffic(s, row.Text(0), to_seconds, row.Int(1), AsCount(row.Int(2)),
                                AsCount(row.Int(3)), StatusCells(row, 4)));
  }
  std::map<PathKey, std::uint64_t> rolled;
  for (const db::Row& row : paths.rows) {
    rolled[{row.Text(0), row.Int(1), row.Text(2), row.Text(3)}] += AsCount(row.Int(4));
  }
  RD_TRY_STATUS(UpsertPaths(s, to_seconds, CapPaths(rolled, options_.top_paths)));
  RD_TRY_STATUS(
      s.Exec("DELETE FROM site_traffic WHERE period_seconds = " + from + " AND period_start < ?",
             {cutoff}));
  RD_TRY_STATUS(s.Exec(
      "DELETE FROM site_traffic_paths WHERE period_seconds = " + from + " AND period_start < ?",
      {cutoff}));
  return {};
}

Status AnalyticsService::RollUp() {
  const std::int64_t now = clock_.NowMillis() / 1000;
  const auto seconds = [](std::chrono::hours h) {
    return std::chrono::duration_cast<std::chrono::seconds>(h).count();
  };
  // Cut at whole hours (days) so that each hour (day) is rolled up at once.
  const std::int64_t minutes_cutoff = (now - seconds(options_.minutes_kept)) / kHour * kHour;
  const std::int64_t hours_cutoff = (now - seconds(options_.hours_kept)) / kDay * kDay;
  const std::int64_t days_cutoff = now - seconds(options_.days_kept);
  const bool postgres = db_.engine() == db::Engine::kPostgres;
  return db_.Transaction([&](db::Session& s) -> Status {
    if (postgres) {
      RD_TRY_STATUS(s.Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kRollUpLockKey) + ")"));
    }
    RD_TRY_STATUS(RollUpPeriod(s, kMinute, kHour, minutes_cutoff));
    RD_TRY_STATUS(RollUpPeriod(s, kHour, kDay, hours_cutoff));
    RD_TRY_STATUS(s.Exec("DELETE FROM site_traffic WHERE period_start < ?", {days_cutoff}));
    RD_TRY_STATUS(s.Exec("DELETE FROM site_traffic_paths WHERE period_start < ?", {days_cutoff}));
    RD_TRY_STATUS(s.Exec("DELETE FROM site_builds WHERE finished_at < ?", {days_cutoff * 1000}));
    for (const char* table : {"site_traffic", "site_traffic_paths", "site_builds"}) {
      RD_TRY_STATUS(s.Exec(std::string("DELETE FROM ") + table +
                           " WHERE NOT EXISTS (SELECT 1 FROM "
                           "sites WHERE sites.id = " +
                           table + ".site_id)"));
    }
    return {};
  });
}

Result<SiteAnalytics> AnalyticsService::ForSite(std::string_view site_id, AnalyticsRange range) {
  SiteAnalytics out;
  out.range = range;
  std::int64_t buckets = 60;
  out.bucket_seconds = kMinute;
  if (range == AnalyticsRange::kDay) {
    out.bucket_seconds = kHour;
    buckets = 24;
  } else if (range == AnalyticsRange::kWeek) {
    out.bucket_seconds = kHour;
    buckets = 7 * 24;
  }
  const std::int64_t now = clock_.NowMillis() / 1000;
  const std::int64_t last = now / out.bucket_seconds * out.bucket_seconds;
  out.from = last - (buckets - 1) * out.bucket_seconds;
  out.to = last + out.bucket_seconds;
  const std::string bucket = std::to_string(out.bucket_seconds);
  const std::string site(site_id);

  RD_TRY(db::Rows rows,
         db_.Exec("SELECT period_start - period_start % " + bucket + ", " + std::string(kSums) +
                      " FROM site_traffic WHERE site_id = ? AND period_seconds <= " + bucket +
                      " AND period_start >= ? AND period_start < ? GROUP BY 1",
                  {site, out.from, out.to}));
  out.points.resize(static_cast<std::size_t>(buckets));
  for (std::int64_t i = 0; i < buckets; ++i)
    out.points[i].start = out.from + i * out.bucket_seconds;
  out.totals.start = out.from;
  for (const db::Row& row : rows.rows) {
    const std::int64_t i = (row.Int(0) - out.from) / out.bucket_seconds;
    if (i < 0 || i >= buckets) continue;
    TrafficPoint& p = out.points[i];
    p.requests = AsCount(row.Int(1));
    p.bytes = AsCount(row.Int(2));
    p.status = StatusCells(row, 3);
    out.totals.requests += p.requests;
    out.totals.bytes += p.bytes;
    for (std::size_t k = 0; k < p.status.size(); ++k) out.totals.status[k] += p.status[k];
  }

  for (const auto& [kind, top, other] :
       {std::tuple{kPathKind, &out.top_paths, &out.other_paths},
        std::tuple{kNotFoundKind, &out.top_not_found, &out.other_not_found}}) {
    RD_TRY(db::Rows listed,
           db_.Exec("SELECT path, SUM(requests) FROM site_traffic_paths WHERE site_id = ? AND "
                    "kind = ? AND period_start >= ? AND period_start < ? AND path <> '' "
                    "GROUP BY path ORDER BY 2 DESC, path LIMIT " +
                        std::to_string(kTopPathsShown),
                    {site, std::string(kind), out.from, out.to}));
    RD_TRY(db::Rows all, db_.Exec("SELECT SUM(requests) FROM site_traffic_paths WHERE site_id = ? "
                                  "AND kind = ? AND period_start >= ? AND period_start < ?",
                                  {site, std::string(kind), out.from, out.to}));
    std::uint64_t shown = 0;
    for (const db::Row& row : listed.rows) {
      top->emplace_back(row.Text(0), AsCount(row.Int(1)));
      shown += AsCount(row.Int(1));
    }
    const std::uint64_t total = all.empty() ? 0 : AsCount(all.rows[0].Int(0));
    *other = total > shown ? total - shown : 0;
  }

  RD_TRY(db::Rows builds,
         db_.Exec("SELECT deploy_id, outcome, finished_at, duration_ms FROM site_builds WHERE "
                  "site_id = ? AND finished_at >= ? ORDER BY finished_at, id LIMIT 1000",
                  {site, out.from * 1000}));
  for (const db::Row& row : builds.rows) {
    out.builds.push_back(BuildPoint{row.Text(0), row.Text(1), row.Int(2), row.Int(3)});
  }
  return out;
}

}  // namespace replideploy::deploys

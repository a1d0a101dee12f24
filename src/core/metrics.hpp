// Process metrics in the Prometheus text exposition format (version 0.0.4), written by hand.
//
// A series (Counter, Gauge, Histogram) is made once, at set-up, through a Registry (a mutex
// there), and then updated from any thread with relaxed atomics only: no lock and no lookup on
// the hot path. Series live as long as their registry; the process's registry (Default()) is
// never destroyed, so a reference to one of its series stays valid for the whole process.
//
// Names used by RepliDeploy are listed in docs/operations.md ("Metrics").
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace replideploy::core::metrics {

// Label name -> value, in the order given (rendered in that order).
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into buckets of fixed upper bounds (ascending; +Inf is implied). One
// Observe() is two relaxed atomic adds (its bucket and the sum); the cumulative counts and the
// total are computed when read.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

// Bounds for request latencies in seconds (1 ms to 10 s).
std::vector<double> LatencyBuckets();
// Bounds for build durations in seconds (5 s to 1 h).
std::vector<double> BuildDurationBuckets();

// Writes a label value escaped as the format wants (\\, \", \n).
std::string EscapeLabelValue(std::string_view value);
// A number as the format wants it: integers without a fraction, +Inf, -Inf, NaN.
std::string FormatValue(double value);

// A set of metric families. Thread-safe. Asking twice for the same name and labels returns the
// same series; asking for a name already registered with another type or help text is a
// programming error (std::logic_error).
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                          const Labels& labels = {});

  // A gauge read at every scrape (a queue's depth from the database). `read` runs on the
  // scraping thread, without the lock series are made under (a slow read holds up other
  // scrapes, never a counter); nullopt leaves the series out of that scrape. Returns an id for
  // RemoveCallback(), which waits for a scrape in progress: once it returns, `read` is not
  // called again and whatever it refers to may go away.
  std::uint64_t AddCallbackGauge(std::string_view name, std::string_view help, const Labels& labels,
                                 std::function<std::optional<double>()> read);
  void RemoveCallback(std::uint64_t id);

  // The exposition text of every family, sorted by name, series in the order they were made.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::uint64_t callback_id = 0;
    std::function<std::optional<double>()> read;
  };
  struct Family {
    std::string help;
    Type type = Type::kCounter;
    std::vector<std::unique_ptr<Series>> series;
  };
  Series& FindOrAdd(std::string_view name, std::string_view help, Type type, const Labels& labels,
                    bool& added);

  // Lock order: callbacks_mu_, then mu_. callbacks_mu_ is held while callbacks are read.
  mutable std::mutex callbacks_mu_;
  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  std::uint64_t next_callback_id_ = 1;
};

// The process's registry; also holds process_start_time_seconds.
Registry& Default();

// HTTP requests of one role (api, edge), by status class with their latency:
// replideploy_http_request_duration_seconds{role, code} (code "1xx".."5xx"); its _count is the
// number of requests. Record() is two relaxed atomic adds.
class RequestMetrics {
 public:
  RequestMetrics(Registry& registry, std::string_view role);
  void Record(int status, double seconds);

 private:
  std::array<Histogram*, 5> by_class_{};
};
// The process's series for `role`, made on first use (call at set-up, not per request).
RequestMetrics& RoleRequests(std::string_view role);

// The edge's requests of one site by status class: replideploy_edge_site_requests_total{site,
// code}. The number of sites with a series of their own is bounded (kMaxSites); later sites
// share the series of site "_other".
class SiteRequests {
 public:
  SiteRequests(Registry& registry, std::string_view site);
  void Count(int status);

 private:
  std::array<Counter*, 5> by_class_{};
};
inline constexpr std::size_t kMaxSites = 500;
// The process's counters for `site` (or "_other" once kMaxSites sites have one). Takes a lock:
// call when a site is first seen, and keep the reference.
SiteRequests& SiteRequestsFor(std::string_view site);

// 0 for 1xx .. 4 for 5xx (anything out of range counts as 5xx).
int StatusClassIndex(int status);

}  // namespace replideploy::core::metrics
